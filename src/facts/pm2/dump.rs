//! `dump.pm2` and `dump.pm2.bak`: the apps `pm2 save` wrote and `pm2 resurrect` starts.
//!
//! The file is the JSON array PM2 writes with `JSON.stringify`; it is parsed as JSON,
//! never evaluated. Each app is PM2's whole process environment flattened: its
//! settings, and the entire environment of the shell that ran `pm2 save` (in `env` and
//! again at the top level). Only the settings bootproof judges are kept, and of the
//! environment only the variable *names*, so a facts file never carries a secret.
//! Values are skipped while parsing and never held in memory.
//!
//! Tolerant of missing fields (they vary by PM2 version), strict about the structure:
//! an array of objects, each with a string `name`, and known fields of the right type.

use std::fmt;
use std::io::Read;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::super::files::{self, os_message};
use super::super::model::{DumpFacts, Fact, SavedApp};
use super::super::states::Pm2Status;

/// The largest dump read. A real dump is a few KiB per app; 64 MiB is far beyond any
/// real one and still parses in well under a second.
pub(crate) const DUMP_MAX: u64 = 64 << 20;

/// Why a dump could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DumpError {
    /// Opening or reading failed (permission, I/O).
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The dump file.
        path: String,
        /// The OS's words.
        reason: String,
    },
    /// Larger than [`DUMP_MAX`]: not read at all.
    #[error("{path} is {size} bytes, more than the {limit} bytes bootproof reads of a dump")]
    TooLarge {
        /// The dump file.
        path: String,
        /// Its size (or the bytes read before stopping, if it grew).
        size: u64,
        /// [`DUMP_MAX`].
        limit: u64,
    },
    /// The file is empty: `pm2 save` never writes that (it writes `[]` at least).
    #[error("{path} is empty (pm2 save writes at least [])")]
    Empty {
        /// The dump file.
        path: String,
    },
    /// Parsing failed; the reason says whether it is truncated, not JSON, or not a dump.
    #[error("{path}: {reason}")]
    Parse {
        /// The dump file.
        path: String,
        /// See [`parse_reason`].
        reason: String,
    },
}

/// Reads a dump file: its stat, and its apps or why they cannot be read. A file that
/// does not exist holds no apps.
pub(crate) fn read_dump(path: &str) -> DumpFacts {
    let file = files::stat_file(path);
    let apps = match &file.stat {
        Fact::Ok(None) => Fact::Ok(Vec::new()),
        _ => Fact::from_result(read_apps(path, DUMP_MAX)),
    };
    DumpFacts { file, apps }
}

/// Reads and parses a dump, refusing one larger than `limit` bytes without reading it.
pub(crate) fn read_apps(path: &str, limit: u64) -> Result<Vec<SavedApp>, DumpError> {
    let read_error = |err: std::io::Error| DumpError::Read { path: path.to_owned(), reason: os_message(&err) };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > limit {
        return Err(DumpError::TooLarge { path: path.to_owned(), size, limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow between fstat and read: `take` keeps the bound anyway.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(DumpError::TooLarge { path: path.to_owned(), size: bytes.len() as u64, limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DumpError::Empty { path: path.to_owned() });
    }
    parse_apps(&bytes).map_err(|err| DumpError::Parse { path: path.to_owned(), reason: parse_reason(&err) })
}

/// The apps in a dump's bytes, read as PM2 reads them (`JSON.parse` of the file decoded as
/// UTF-8): a byte sequence that is not UTF-8 becomes U+FFFD, and so does a lone UTF-16
/// surrogate (`"\ud800"`, which `JSON.stringify` writes for a JavaScript string holding
/// one). serde_json rejects both; rejecting the whole dump for one odd app name would
/// predict that nothing comes back when `pm2 resurrect` brings every app back.
pub(crate) fn parse_apps(bytes: &[u8]) -> Result<Vec<SavedApp>, serde_json::Error> {
    let text = String::from_utf8_lossy(bytes);
    let text = without_lone_surrogates(&text);
    let dump: Dump = serde_json::from_str(&text)?;
    Ok(dump.0)
}

/// `text` with every `\uXXXX` escape of a UTF-16 surrogate that is not half of a pair
/// replaced by `\ufffd`. Escapes are read in order, so `\\ud800` (an escaped backslash,
/// then text) is left alone.
fn without_lone_surrogates(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("\\u") {
        return std::borrow::Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let surrogate_at = |at: usize| -> Option<u16> {
        let hex = bytes.get(at..at + 6)?;
        if hex[0] != b'\\' || hex[1] != b'u' {
            return None;
        }
        let unit = u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()?;
        (0xD800..=0xDFFF).contains(&unit).then_some(unit)
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            at += 1;
            continue;
        }
        match surrogate_at(at) {
            // A high surrogate followed by a low one: a pair, one character.
            Some(0xD800..=0xDBFF) if surrogate_at(at + 6).is_some_and(|low| low >= 0xDC00) => at += 12,
            Some(_) => {
                out.push_str(&text[copied..at]);
                out.push_str("\\ufffd");
                at += 6;
                copied = at;
            }
            // Any other escape: skip it whole, so its second character is not read as the
            // start of another.
            None => at += 2,
        }
    }
    out.push_str(&text[copied..]);
    std::borrow::Cow::Owned(out)
}

/// A parse error in the operator's terms.
fn parse_reason(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {} column {}", err.line(), err.column());
    match err.classify() {
        Category::Eof => format!("truncated: the JSON ends early, at {at}"),
        Category::Syntax => format!("not JSON: {err}"),
        Category::Data => format!("not a PM2 dump: {err}"),
        Category::Io => format!("cannot read: {err}"),
    }
}

/// The top level of a dump: an array of apps.
struct Dump(Vec<SavedApp>);

impl<'de> serde::Deserialize<'de> for Dump {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DumpVisitor)
    }
}

/// Visits the top-level array; anything else is not a dump.
struct DumpVisitor;

impl<'de> Visitor<'de> for DumpVisitor {
    type Value = Dump;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of PM2 apps")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dump, A::Error> {
        let mut apps = Vec::new();
        while let Some(app) = seq.next_element::<RawApp>()? {
            apps.push(
                app.into_saved().map_err(|problem| de::Error::custom(format!("app {} ({problem})", apps.len() + 1)))?,
            );
        }
        Ok(Dump(apps))
    }
}

/// The fields of one app bootproof keeps, as found.
#[derive(Default)]
struct RawApp {
    /// Settings by name, as JSON values (small scalars).
    fields: Vec<(&'static str, Value)>,
    /// Environment variable names at the top level.
    env_keys: Vec<String>,
    /// The variable names of the (last) `env` object.
    env_object: Vec<String>,
}

/// The settings kept from each app.
const KEPT: [&str; 7] =
    ["name", "status", "exec_mode", "instances", "pm_exec_path", "exec_interpreter", "max_memory_restart"];

impl RawApp {
    /// The field's value, `None` when absent or `null`.
    fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().rev().find(|(key, _)| *key == name).map(|(_, value)| value).filter(|value| !value.is_null())
    }

    /// A string field; a value of another type is an error.
    fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(wrong_type(name, other, "a string")),
        }
    }

    /// Checks types and normalises into the model.
    fn into_saved(mut self) -> Result<SavedApp, String> {
        let name = match self.get("name") {
            Some(Value::String(name)) => name.clone(),
            Some(other) => return Err(wrong_type("name", other, "a string")),
            None => return Err("no \"name\"".to_owned()),
        };
        let in_app = |problem: String| format!("{name:?}: {problem}");
        let instances = self.get("instances").map(instances).transpose().map_err(in_app)?;
        let max_memory_restart = self
            .get("max_memory_restart")
            .map(|value| memory_bytes("max_memory_restart", value))
            .transpose()
            .map_err(in_app)?;
        let is_module = self
            .get("pmx_module")
            .map(|value| is_module("pmx_module", value))
            .transpose()
            .map_err(in_app)?
            .unwrap_or(false);
        self.env_keys.append(&mut self.env_object);
        self.env_keys.sort();
        self.env_keys.dedup();
        Ok(SavedApp {
            status: self.string("status").map_err(in_app)?.map(|status| Pm2Status::parse(&status)),
            exec_mode: self.string("exec_mode").map_err(in_app)?,
            instances,
            script: self.string("pm_exec_path").map_err(in_app)?,
            interpreter: self.string("exec_interpreter").map_err(in_app)?,
            max_memory_restart,
            is_module,
            env_keys: self.env_keys,
            name,
        })
    }
}

/// "`field` is a number, expected a string".
fn wrong_type(field: &str, value: &Value, expected: &str) -> String {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("\"{field}\" is {found}, expected {expected}")
}

/// `instances`: a number in most versions, a string (`"4"`, `"max"`) in some. `max`
/// becomes 0, which is what PM2 itself stores for "one per CPU".
pub(crate) fn instances(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|f| f as i64))
            .ok_or_else(|| format!("\"instances\" is {number}, not a count")),
        Value::String(text) if text.trim().eq_ignore_ascii_case("max") => Ok(0),
        Value::String(text) => {
            text.trim().parse().map_err(|_| format!("\"instances\" is {text:?}, not a count or \"max\""))
        }
        other => Err(wrong_type("instances", other, "a number or a string")),
    }
}

/// A memory size as PM2 takes it: bytes as a number, or a string with an optional
/// K, M or G suffix (powers of 1024, as PM2 converts them).
pub(crate) fn memory_bytes(field: &str, value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| format!("\"{field}\" is {number}, not a size")),
        Value::String(text) => parse_size(text).ok_or_else(|| format!("\"{field}\" is {text:?}, not a size like 200M")),
        other => Err(wrong_type(field, other, "a number or a string")),
    }
}

/// `"200M"` → 209715200; `"512"` → 512.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (at, c) if c.is_ascii_alphabetic() => (&text[..at], c.to_ascii_uppercase()),
        _ => (text, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return None,
    };
    let number: f64 = digits.trim().parse().ok()?;
    (number >= 0.0).then(|| (number * f64::from(1u32 << shift)) as u64)
}

/// `pmx_module`: `true` for a module; some versions store the module's name instead.
pub(crate) fn is_module(field: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) => Ok(!text.is_empty() && text != "false"),
        other => Err(wrong_type(field, other, "a boolean")),
    }
}

/// Whether a top-level key is an environment variable PM2 flattened into the app:
/// environment names are upper case by convention, PM2's own settings lower case.
fn looks_like_env_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl<'de> serde::Deserialize<'de> for RawApp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AppVisitor)
    }
}

/// Visits one app object, keeping the settings in [`KEPT`] and environment names.
struct AppVisitor;

impl<'de> Visitor<'de> for AppVisitor {
    type Value = RawApp;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a PM2 app (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawApp, A::Error> {
        let mut app = RawApp::default();
        while let Some(key) = map.next_key::<String>()? {
            if let Some(kept) = KEPT.iter().find(|kept| **kept == key) {
                app.fields.push((kept, map.next_value::<Value>()?));
            } else if key == "pmx_module" {
                app.fields.push(("pmx_module", map.next_value::<Value>()?));
            } else if key == "env" {
                // A key given twice is read as JSON.parse reads it, which PM2 uses: the last
                // one counts, for `env` as for every setting.
                let EnvNames(names) = map.next_value()?;
                app.env_object = names;
            } else {
                // The value is skipped unread, whatever it holds.
                map.next_value::<IgnoredAny>()?;
                if looks_like_env_name(&key) {
                    app.env_keys.push(key);
                }
            }
        }
        Ok(app)
    }
}

/// The names in an app's `env` object whose values are plain values: PM2 also keeps
/// per-app sections there (`"api": {}`), which are not variables.
struct EnvNames(Vec<String>);

impl<'de> serde::Deserialize<'de> for EnvNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnvVisitor)
    }
}

/// Visits `env`: an object, or null.
struct EnvVisitor;

impl<'de> Visitor<'de> for EnvVisitor {
    type Value = EnvNames;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"env\" as an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<EnvNames, E> {
        Ok(EnvNames(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvNames, A::Error> {
        let mut names = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if map.next_value::<Shape>()? == Shape::Plain {
                names.push(key);
            }
        }
        Ok(EnvNames(names))
    }
}

/// Whether a value is plain (string, number, boolean, null) or nested; read without
/// keeping any of it.
#[derive(PartialEq, Eq)]
enum Shape {
    /// A string, number, boolean or null.
    Plain,
    /// An object or an array.
    Nested,
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapeVisitor)
    }
}

/// Classifies a value, skipping its contents.
struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Plain)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Plain)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Plain)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Plain)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Plain)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Plain)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Nested)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Shape::Nested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn fixture(name: &str) -> String {
        format!("{}/tests/pm2/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn temp_file(tag: &str, bytes: &[u8]) -> std::io::Result<String> {
        let path = std::env::temp_dir().join(format!("bootproof-dump-{}-{tag}.pm2", std::process::id()));
        std::fs::write(&path, bytes)?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// Found by fuzzing (dump_pm2): with `env` given twice, the names of both objects were
    /// kept, where PM2 (JSON.parse) keeps only the last.
    #[test]
    fn a_second_env_object_replaces_the_first_as_in_pm2() {
        let dump = br#"[{"name":"api","env":{"OLD_TOKEN":"x"},"env":{"NEW_TOKEN":"y"}}]"#;
        let apps = parse_apps(dump).expect("parses");
        assert_eq!(apps[0].env_keys, ["NEW_TOKEN"]);
    }

    #[test]
    fn an_app_name_with_a_lone_surrogate_does_not_lose_the_whole_dump() {
        // JSON.stringify writes a JavaScript string holding half a surrogate pair this way;
        // PM2 reads it back and resurrects the app.
        let dump =
            br#"[{"name":"api\ud800x","status":"online"},{"name":"pair \ud83d\ude00 \\ud800","status":"online"}]"#;
        let apps = parse_apps(dump).expect("PM2 reads this dump, so does bootproof");
        assert_eq!(apps[0].name, "api\u{fffd}x");
        assert_eq!(apps[1].name, "pair \u{1f600} \\ud800", "a real pair and an escaped backslash are kept");
    }

    #[test]
    fn a_dump_with_bytes_that_are_not_utf8_is_read_as_pm2_reads_it() {
        let dump = b"[{\"name\":\"api-\xff\xfe\",\"status\":\"online\"}]";
        let apps = parse_apps(dump).expect("node decodes the file with U+FFFD, and resurrects");
        assert_eq!(apps[0].name, "api-\u{fffd}\u{fffd}");
    }

    fn reason(bytes: &[u8], tag: &str) -> String {
        let Ok(path) = temp_file(tag, bytes) else {
            return "cannot write the temp file".into();
        };
        let result = read_apps(&path, DUMP_MAX);
        let _ = std::fs::remove_file(&path);
        match result {
            Ok(apps) => format!("parsed {} apps", apps.len()),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn real_pm2_7_dump() -> Result<(), DumpError> {
        let apps = read_apps(&fixture("dump.pm2"), DUMP_MAX)?;
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        // A cluster app is saved once per instance, without `instances`.
        assert_eq!(names, ["web", "api", "api", "worker"]);
        let web = &apps[0];
        assert_eq!(web.status, Some(Pm2Status::Online));
        assert_eq!(web.exec_mode.as_deref(), Some("fork_mode"));
        assert_eq!(web.instances, None);
        assert_eq!(web.script.as_deref(), Some("/tmp/bootproof-pm2-fixture/app/server.js"));
        assert_eq!(web.interpreter.as_deref(), Some("node"));
        assert!(!web.is_module);
        let api = &apps[1];
        assert_eq!(api.exec_mode.as_deref(), Some("cluster_mode"));
        assert_eq!(api.max_memory_restart, Some(200 << 20));
        let worker = &apps[3];
        for name in ["API_TOKEN", "DATABASE_URL", "GREETING", "HOME", "NODE_APP_INSTANCE"] {
            assert!(worker.env_keys.iter().any(|k| k == name), "{name} in {:?}", worker.env_keys);
        }
        assert!(!worker.env_keys.iter().any(|k| k == "worker"), "per-app section is no variable");
        // Names only: no value of the fixture's environment survives into the facts.
        let facts = serde_json::to_string(&apps).unwrap_or_default();
        assert!(!facts.contains("not-a-real-secret") && !facts.contains("fixture-token"));
        assert!(!facts.is_empty());
        Ok(())
    }

    #[test]
    fn real_backup_dump() -> Result<(), DumpError> {
        let apps = read_apps(&fixture("dump.pm2.bak"), DUMP_MAX)?;
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].name, "web");
        Ok(())
    }

    #[test]
    fn missing_file_holds_no_apps_and_stat_is_kept() {
        let facts = read_dump("/nonexistent/bootproof/dump.pm2");
        assert_eq!(facts.apps, Fact::Ok(Vec::new()));
        assert_eq!(facts.file.stat, Fact::Ok(None));
        let real = read_dump(&fixture("dump.pm2"));
        assert!(matches!(real.file.stat, Fact::Ok(Some(ref stat)) if stat.mtime > 0 && stat.mode != 0));
    }

    #[test]
    fn empty_array_is_an_empty_list() {
        assert_eq!(reason(b"[]\n", "empty-array"), "parsed 0 apps");
    }

    #[test]
    fn truncated_dump() -> std::io::Result<()> {
        let whole = std::fs::read(fixture("dump.pm2"))?;
        let text = reason(&whole[..whole.len() / 2], "truncated");
        assert!(text.contains("truncated"), "{text}");
        Ok(())
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "is empty"),
            (b"module.exports = [{name: 'x'}]", "not JSON"),
            (b"{\"name\": \"api\"}", "not a PM2 dump"),
            (b"[\"api\"]", "a PM2 app"),
            (b"[{\"status\": \"online\"}]", "app 1 (no \"name\")"),
            (b"[{\"name\": 7}]", "\"name\" is a number"),
            (b"[{\"name\": \"a\"}, {\"name\": \"b\", \"exec_mode\": 1}]", "app 2 (\"b\": \"exec_mode\" is a number"),
            (b"[{\"name\": \"a\", \"env\": \"PATH=/bin\"}]", "\"env\" as an object"),
            (b"[{\"name\": \"a\", \"instances\": \"lots\"}]", "not a count"),
        ];
        for (n, (bytes, expected)) in cases.iter().enumerate() {
            let text = reason(bytes, &format!("bad-{n}"));
            assert!(text.contains(expected), "{:?} → {text}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn fields_that_vary_by_version_are_normalised() -> Result<(), serde_json::Error> {
        let apps = parse_apps(
            br#"[{"name": "a", "instances": "max", "max_memory_restart": "1G", "pmx_module": "true", "env": null},
                 {"name": "b", "instances": 4, "max_memory_restart": 1048576.0, "status": null},
                 {"name": "c", "instances": "-1", "max_memory_restart": "512K"}]"#,
        )?;
        assert_eq!(apps[0].instances, Some(0));
        assert_eq!(apps[0].max_memory_restart, Some(1 << 30));
        assert!(apps[0].is_module);
        assert_eq!(apps[1].instances, Some(4));
        assert_eq!(apps[1].max_memory_restart, Some(1 << 20));
        assert_eq!(apps[1].status, None);
        assert_eq!(apps[2].instances, Some(-1));
        assert_eq!(apps[2].max_memory_restart, Some(512 << 10));
        Ok(())
    }

    #[test]
    fn oversized_dump_is_refused_without_reading_it() -> std::io::Result<()> {
        // Sparse: 65 MiB long, no data written, so reading it would show in the time.
        let path = temp_file("sparse", b"")?;
        std::fs::OpenOptions::new().write(true).open(&path)?.set_len(DUMP_MAX + (1 << 20))?;
        let started = Instant::now();
        let result = read_apps(&path, DUMP_MAX);
        std::fs::remove_file(&path)?;
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(matches!(result, Err(DumpError::TooLarge { .. })), "{result:?}");
        Ok(())
    }

    #[test]
    fn fifty_megabytes_is_bounded_and_fast() -> std::io::Result<()> {
        // 50 MB of apps each carrying a large environment, as a long-lived host's
        // `pm2 save` might; below the limit it parses, above (a smaller limit) it is
        // refused. Values are skipped, not kept, so this stays fast even unoptimised.
        let value = "x".repeat(1000);
        let app = format!(
            "{{\"name\":\"app\",\"status\":\"online\",\"env\":{{{}}}}}",
            (0..50).map(|i| format!("\"VAR_{i}\":\"{value}\"")).collect::<Vec<_>>().join(",")
        );
        let count = 50_000_000 / app.len();
        let mut text = String::with_capacity(50_000_100);
        text.push('[');
        text.push_str(&vec![app.as_str(); count].join(","));
        text.push(']');
        let path = temp_file("fifty", text.as_bytes())?;
        let started = Instant::now();
        let parsed = read_apps(&path, DUMP_MAX);
        let parse_time = started.elapsed();
        let refused = read_apps(&path, 10 << 20);
        let truncated = {
            std::fs::write(&path, &text.as_bytes()[..text.len() - 10])?;
            read_apps(&path, DUMP_MAX)
        };
        std::fs::remove_file(&path)?;
        assert!(matches!(&parsed, Ok(apps) if apps.len() == count && apps[0].env_keys.len() == 50));
        assert!(parse_time < Duration::from_secs(5), "{parse_time:?}");
        assert!(matches!(refused, Err(DumpError::TooLarge { .. })));
        assert!(matches!(&truncated, Err(err) if err.to_string().contains("truncated")), "{truncated:?}");
        Ok(())
    }
}
