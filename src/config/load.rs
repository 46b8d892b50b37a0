//! Reads a check file (TOML) into the resolved [`CheckConfig`].
//!
//! The file is parsed into toml's spanned tree and walked by hand rather than through
//! serde, so that every error — unknown key, wrong type, bad duration, bad range, unknown
//! invariant id — names the file, the key, the line and the column in the operator's
//! words, and lists what was expected.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::model::{CheckConfig, ExpectedPm2, ExpectedUnit, HealthSpec, SeverityOverride, Thresholds};
use crate::config::template::{self, INSTANCE_PLACEHOLDER};
use crate::verdict::CheckId;

/// Where bootproof looks for a check file when `--config` is not given.
pub(crate) const DEFAULT_PATH: &str = "/etc/bootproof/bootproof.toml";

/// A health probe's timeout unless the check file says otherwise.
pub(crate) const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a check file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file could not be read (missing, no permission, not UTF-8).
    #[error("failed to read the check file {path}")]
    Read {
        /// The path as given.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but says something bootproof cannot use.
    #[error("{problem} at {file}:{line}:{column}{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    Invalid {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong, naming the key: `unknown key "helth" in [[unit]]`.
        problem: String,
        /// What would be right: `expected one of: name, health`.
        hint: Option<String>,
    },
}

/// Loads the check file at `path`, or at [`DEFAULT_PATH`] when `None`. A missing default
/// file means no check file (discovery alone); a missing file that was asked for is an error.
pub(crate) fn load(path: Option<&Path>) -> Result<CheckConfig, ConfigError> {
    let (path, asked_for) = match path {
        Some(path) => (path, true),
        None => (Path::new(DEFAULT_PATH), false),
    };
    let text = match read_bounded(path) {
        Ok(text) => text,
        Err(err) if !asked_for && err.kind() == std::io::ErrorKind::NotFound => return Ok(CheckConfig::default()),
        Err(source) => return Err(ConfigError::Read { path: path.display().to_string(), source }),
    };
    parse(&text, &path.display().to_string())
}

/// The largest check file read: a hand-written one is a few KiB; a thousand units with
/// health probes are well under this.
const CHECK_FILE_MAX: u64 = 4 << 20;

/// The file's text, refusing one larger than [`CHECK_FILE_MAX`] (`--config /dev/zero`
/// must not hang) or not UTF-8.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(CHECK_FILE_MAX + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > CHECK_FILE_MAX {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {CHECK_FILE_MAX} bytes, too large for a check file"),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text: {err}")))
}

/// Parses check-file text; `file` names it in errors and becomes [`CheckConfig::source`].
pub(crate) fn parse(text: &str, file: &str) -> Result<CheckConfig, ConfigError> {
    let doc = Doc { text, file };
    let root = DeTable::parse(text).map_err(|err| {
        let span = err.span().unwrap_or(0..0);
        doc.error(span, "invalid TOML".to_owned(), Some(err.message().trim().to_owned()))
    })?;
    doc.resolve(root.get_ref())
}

/// The text being read and its name, for errors.
struct Doc<'a> {
    text: &'a str,
    file: &'a str,
}

type Value<'i> = Spanned<DeValue<'i>>;

/// Keys of each section, in the order the README documents them.
const TOP_KEYS: &[&str] = &["pm2", "unit", "health", "thresholds", "severity"];
const PM2_KEYS: &[&str] = &["home", "apps"];
const UNIT_KEYS: &[&str] = &["name", "health"];
const HEALTH_KEYS: &[&str] =
    &["url", "status", "timeout", "body_contains", "json", "insecure", "host", "follow_redirects"];
const THRESHOLD_KEYS: &[&str] = &["dump_max_age"];

impl Doc<'_> {
    /// An error at `span`, with line and column computed from the text.
    fn error(&self, span: Range<usize>, problem: String, hint: Option<String>) -> ConfigError {
        let (line, column) = line_column(self.text, span.start);
        ConfigError::Invalid { file: self.file.to_owned(), line, column, problem, hint }
    }

    fn resolve(&self, root: &DeTable<'_>) -> Result<CheckConfig, ConfigError> {
        self.known_keys(root, "the check file", TOP_KEYS)?;
        let mut config = CheckConfig { source: Some(self.file.to_owned()), ..CheckConfig::default() };
        if let Some(value) = root.get("pm2") {
            for table in self.array_of_tables(value, "pm2")? {
                config.pm2.push(self.pm2(table)?);
            }
        }
        if let Some(value) = root.get("unit") {
            for table in self.array_of_tables(value, "unit")? {
                let (units, health) = self.unit(table, &config.units)?;
                config.units.extend(units);
                config.health.extend(health);
            }
        }
        if let Some(value) = root.get("health") {
            for table in self.array_of_tables(value, "health")? {
                config.health.push(self.health(table)?);
            }
        }
        if let Some(value) = root.get("thresholds") {
            config.thresholds = self.thresholds(self.table(value, "thresholds", "the check file")?)?;
        }
        if let Some(value) = root.get("severity") {
            config.severity = self.severity(self.table(value, "severity", "the check file")?)?;
        }
        Ok(config)
    }

    /// Fails on the first key (in file order) that `allowed` does not list.
    fn known_keys(&self, table: &DeTable<'_>, section: &str, allowed: &[&str]) -> Result<(), ConfigError> {
        let mut keys: Vec<_> = table.keys().collect();
        keys.sort_by_key(|k| k.span().start);
        match keys.into_iter().find(|k| !allowed.contains(&k.get_ref().as_ref())) {
            Some(key) => Err(self.error(
                key.span(),
                format!("unknown key {:?} in {section}", key.get_ref()),
                Some(format!("expected one of: {}", allowed.join(", "))),
            )),
            None => Ok(()),
        }
    }

    /// `[[name]]`: an array of tables, each checked for unknown keys by its reader.
    fn array_of_tables<'v, 'i>(
        &self,
        value: &'v Value<'i>,
        name: &str,
    ) -> Result<Vec<Spanned<&'v DeTable<'i>>>, ConfigError> {
        let wrong = || self.wrong_type(value, name, "the check file", &format!("a list of tables, written [[{name}]]"));
        let array = value.get_ref().as_array().ok_or_else(wrong)?;
        array
            .iter()
            .map(|item| item.get_ref().as_table().map(|t| Spanned::new(item.span(), t)).ok_or_else(wrong))
            .collect()
    }

    /// `[name]` (or an inline table) under `section`.
    fn table<'v, 'i>(&self, value: &'v Value<'i>, key: &str, section: &str) -> Result<&'v DeTable<'i>, ConfigError> {
        value.get_ref().as_table().ok_or_else(|| self.wrong_type(value, key, section, "a table"))
    }

    fn wrong_type(&self, value: &Value<'_>, key: &str, section: &str, expected: &str) -> ConfigError {
        self.error(
            value.span(),
            format!("wrong type for key {key:?} in {section}"),
            Some(format!("expected {expected}, found {}", type_name(value.get_ref()))),
        )
    }

    /// A key every table of the section must have.
    fn required<'v, 'i>(
        &self,
        table: &Spanned<&'v DeTable<'i>>,
        key: &str,
        section: &str,
    ) -> Result<&'v Value<'i>, ConfigError> {
        table
            .get_ref()
            .get(key)
            .ok_or_else(|| self.error(table.span(), format!("missing key {key:?} in {section}"), None))
    }

    fn string<'v>(&self, value: &'v Value<'_>, key: &str, section: &str) -> Result<&'v str, ConfigError> {
        value.get_ref().as_str().ok_or_else(|| self.wrong_type(value, key, section, "a string"))
    }

    fn non_empty_string(&self, value: &Value<'_>, key: &str, section: &str) -> Result<String, ConfigError> {
        let text = self.string(value, key, section)?;
        if text.trim().is_empty() {
            return Err(self.error(value.span(), format!("empty value for key {key:?} in {section}"), None));
        }
        Ok(text.to_owned())
    }

    fn bool(&self, value: &Value<'_>, key: &str, section: &str) -> Result<bool, ConfigError> {
        value.get_ref().as_bool().ok_or_else(|| self.wrong_type(value, key, section, "true or false"))
    }

    /// An integer in `range`.
    fn integer(&self, value: &Value<'_>, key: &str, section: &str, range: Range<i64>) -> Result<i64, ConfigError> {
        let expected = format!("a whole number from {} to {}", range.start, range.end - 1);
        let integer = value.get_ref().as_integer().ok_or_else(|| self.wrong_type(value, key, section, &expected))?;
        match i64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(self.error(
                value.span(),
                format!("value {integer} out of range for key {key:?} in {section}"),
                Some(format!("expected {expected}")),
            )),
        }
    }

    /// A humantime duration string: `2s`, `500ms`, `30d`.
    fn duration(&self, value: &Value<'_>, key: &str, section: &str) -> Result<Duration, ConfigError> {
        const EXPECTED: &str = "a number and a unit, such as \"2s\", \"500ms\", \"5m\" or \"30d\"";
        let text = value
            .get_ref()
            .as_str()
            .ok_or_else(|| self.wrong_type(value, key, section, &format!("a duration string: {EXPECTED}")))?;
        match humantime::parse_duration(text) {
            Ok(duration) if !duration.is_zero() => Ok(duration),
            Ok(_) => Err(self.error(
                value.span(),
                format!("bad duration {text:?} for key {key:?} in {section}"),
                Some("it must be longer than zero".to_owned()),
            )),
            Err(err) => Err(self.error(
                value.span(),
                format!("bad duration {text:?} for key {key:?} in {section}"),
                Some(format!("expected {EXPECTED} ({err})")),
            )),
        }
    }

    /// An `http://` or `https://` URL.
    fn url(&self, value: &Value<'_>, key: &str, section: &str) -> Result<String, ConfigError> {
        let url = self.non_empty_string(value, key, section)?;
        let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(url),
            _ => Err(self.error(
                value.span(),
                format!("bad URL {url:?} for key {key:?} in {section}"),
                Some("expected http://HOST[:PORT]/PATH or https://…".to_owned()),
            )),
        }
    }

    fn pm2(&self, table: Spanned<&DeTable<'_>>) -> Result<ExpectedPm2, ConfigError> {
        const SECTION: &str = "[[pm2]]";
        self.known_keys(table.get_ref(), SECTION, PM2_KEYS)?;
        let home_value = self.required(&table, "home", SECTION)?;
        let home = self.non_empty_string(home_value, "home", SECTION)?;
        if !home.starts_with('/') {
            return Err(self.error(
                home_value.span(),
                format!("relative path {home:?} for key \"home\" in {SECTION}"),
                Some("expected the absolute PM2_HOME, e.g. /home/deploy/.pm2".to_owned()),
            ));
        }
        let mut apps = BTreeMap::new();
        if let Some(value) = table.get_ref().get("apps") {
            let section = format!("{SECTION} apps");
            for (name, count) in self.table(value, "apps", SECTION)?.iter() {
                let instances = self.integer(count, name.get_ref(), &section, 1..100_001)?;
                apps.insert(name.get_ref().to_string(), u32::try_from(instances).unwrap_or(u32::MAX));
            }
        }
        Ok(ExpectedPm2 { home, apps })
    }

    /// One `[[unit]]`: its expanded instances, and a health probe per instance when it
    /// declares `health`.
    fn unit(
        &self,
        table: Spanned<&DeTable<'_>>,
        earlier: &[ExpectedUnit],
    ) -> Result<(Vec<ExpectedUnit>, Vec<HealthSpec>), ConfigError> {
        const SECTION: &str = "[[unit]]";
        self.known_keys(table.get_ref(), SECTION, UNIT_KEYS)?;
        let name_value = self.required(&table, "name", SECTION)?;
        let pattern = self.non_empty_string(name_value, "name", SECTION)?;
        let instances = template::expand_unit_name(&pattern).map_err(|at| {
            let span = self.inside_string(name_value, &pattern, at.offset);
            self.error(
                span,
                format!("bad instance range in {pattern:?} for key \"name\" in {SECTION}"),
                Some(at.error.to_string()),
            )
        })?;
        if let Some(twice) = instances.iter().find(|u| earlier.iter().any(|e| e.name == u.name)) {
            return Err(self.error(
                name_value.span(),
                format!("unit {:?} declared twice in {SECTION}", twice.name),
                Some("declare each unit once".to_owned()),
            ));
        }
        let mut health = Vec::new();
        if let Some(value) = table.get_ref().get("health") {
            let url = self.url(value, "health", SECTION)?;
            for unit in &instances {
                let url = match (&unit.instance, url.contains(INSTANCE_PLACEHOLDER)) {
                    (Some(instance), _) => template::instance_url(&url, instance),
                    (None, false) => url.clone(),
                    (None, true) => {
                        return Err(self.error(
                            value.span(),
                            format!("{INSTANCE_PLACEHOLDER} in key \"health\" of {SECTION} {pattern:?}, which has no instance"),
                            Some("use {i} with a template range: name = \"my-app@{3000..3003}.service\"".to_owned()),
                        ));
                    }
                };
                health.push(HealthSpec { unit: Some(unit.name.clone()), ..HealthSpec::new(url) });
            }
        }
        let units = instances.into_iter().map(|u| ExpectedUnit { name: u.name, template: u.template }).collect();
        Ok((units, health))
    }

    fn health(&self, table: Spanned<&DeTable<'_>>) -> Result<HealthSpec, ConfigError> {
        const SECTION: &str = "[[health]]";
        let fields = table.get_ref();
        self.known_keys(fields, SECTION, HEALTH_KEYS)?;
        let mut spec = HealthSpec::new(self.url(self.required(&table, "url", SECTION)?, "url", SECTION)?);
        if let Some(value) = fields.get("status") {
            spec.status = match value.get_ref() {
                DeValue::Array(codes) => codes
                    .iter()
                    .map(|code| self.integer(code, "status", SECTION, 100..600).map(|c| c as u16))
                    .collect::<Result<_, _>>()?,
                _ => vec![self.integer(value, "status", SECTION, 100..600)? as u16],
            };
        }
        if let Some(value) = fields.get("timeout") {
            spec.timeout = self.duration(value, "timeout", SECTION)?;
        }
        if let Some(value) = fields.get("body_contains") {
            spec.body_contains = Some(self.non_empty_string(value, "body_contains", SECTION)?);
        }
        if let Some(value) = fields.get("json") {
            for (path, expected) in self.table(value, "json", SECTION)?.iter() {
                spec.json.insert(path.get_ref().to_string(), to_json(expected.get_ref()));
            }
        }
        if let Some(value) = fields.get("insecure") {
            spec.insecure = self.bool(value, "insecure", SECTION)?;
        }
        if let Some(value) = fields.get("host") {
            spec.host = Some(self.non_empty_string(value, "host", SECTION)?);
        }
        if let Some(value) = fields.get("follow_redirects") {
            spec.follow_redirects = self.bool(value, "follow_redirects", SECTION)?;
        }
        Ok(spec)
    }

    fn thresholds(&self, table: &DeTable<'_>) -> Result<Thresholds, ConfigError> {
        const SECTION: &str = "[thresholds]";
        self.known_keys(table, SECTION, THRESHOLD_KEYS)?;
        let mut thresholds = Thresholds::default();
        if let Some(value) = table.get("dump_max_age") {
            thresholds.dump_max_age = Some(self.duration(value, "dump_max_age", SECTION)?.as_secs());
        }
        Ok(thresholds)
    }

    fn severity(&self, table: &DeTable<'_>) -> Result<BTreeMap<CheckId, SeverityOverride>, ConfigError> {
        const SECTION: &str = "[severity]";
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut overrides = BTreeMap::new();
        for (key, value) in entries {
            let id: CheckId = key.get_ref().parse().map_err(|_| {
                self.error(
                    key.span(),
                    format!("unknown invariant id {:?} in {SECTION}", key.get_ref()),
                    Some("run `bootproof explain` for the list of ids".to_owned()),
                )
            })?;
            let text = self.string(value, key.get_ref(), SECTION)?;
            let severity = match text {
                "fail" => SeverityOverride::Fail,
                "warn" => SeverityOverride::Warn,
                "off" => SeverityOverride::Off,
                other => {
                    return Err(self.error(
                        value.span(),
                        format!("bad severity {other:?} for {:?} in {SECTION}", key.get_ref()),
                        Some("expected one of: fail, warn, off".to_owned()),
                    ));
                }
            };
            overrides.insert(id, severity);
        }
        Ok(overrides)
    }

    /// The span of byte `offset` inside a string value, when the value is written without
    /// escapes (so source and value line up); else the whole value.
    fn inside_string(&self, value: &Value<'_>, content: &str, offset: usize) -> Range<usize> {
        let span = value.span();
        let written = self.text.get(span.clone()).unwrap_or_default();
        let quoted = written.len() == content.len() + 2 && written.get(1..written.len() - 1) == Some(content);
        if quoted { span.start + 1 + offset..span.end } else { span }
    }
}

impl HealthSpec {
    /// A probe of `url` with the defaults: any 2xx within 2 s, no redirects followed.
    pub(crate) fn new(url: String) -> Self {
        HealthSpec {
            url,
            status: Vec::new(),
            body_contains: None,
            json: BTreeMap::new(),
            timeout: DEFAULT_HEALTH_TIMEOUT,
            insecure: false,
            host: None,
            follow_redirects: false,
            unit: None,
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A TOML type in the words of the TOML spec, with an article.
fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A TOML value as the JSON value a health body is compared with.
fn to_json(value: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        DeValue::String(text) => Json::String(text.to_string()),
        DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix()).map_or(Json::Null, Json::from),
        DeValue::Float(f) => f.as_str().parse::<f64>().map_or(Json::Null, Json::from),
        DeValue::Boolean(b) => Json::Bool(*b),
        DeValue::Datetime(d) => Json::String(d.to_string()),
        DeValue::Array(items) => Json::Array(items.iter().map(|i| to_json(i.get_ref())).collect()),
        DeValue::Table(table) => {
            Json::Object(table.iter().map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref()))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "bootproof.toml";

    /// The full example of the README: every option once.
    const EXAMPLE: &str = r#"
[[pm2]]
home = "/home/deploy/.pm2"
apps = { api = 4, worker = 1 }

[[unit]]
name = "my-app@{3000..3003}.service"
health = "http://127.0.0.1:{i}/health"

[[unit]]
name = "legacy"

[[health]]
url = "http://127.0.0.1:8080/healthz"
status = [200, 204]
timeout = "500ms"
body_contains = "ok"
json = { "status" = "ok", "checks.db" = true }
insecure = true
host = "api.example.com"
follow_redirects = true

[thresholds]
dump_max_age = "30d"

[severity]
"process.not-root" = "warn"
"pm2.log-rotation" = "off"
"unit.memory-limit" = "fail"
"#;

    fn error(text: &str) -> (String, usize, usize) {
        match parse(text, FILE).expect_err("the check file is rejected") {
            err @ ConfigError::Invalid { line, column, .. } => (err.to_string(), line, column),
            other => panic!("not an Invalid error: {other:?}"),
        }
    }

    /// Asserts the message, and that it names the file with the same line and column.
    #[track_caller]
    fn assert_error(text: &str, message: &str, line: usize, column: usize) {
        let (got, got_line, got_column) = error(text);
        assert_eq!(got, message);
        assert_eq!((got_line, got_column), (line, column), "{got}");
        assert!(got.contains(&format!("{FILE}:{line}:{column}")), "{got}");
    }

    #[test]
    fn the_full_example_resolves() {
        let config = parse(EXAMPLE, FILE).expect("the example loads");
        assert_eq!(config.source.as_deref(), Some(FILE));
        assert_eq!(
            config.pm2,
            [ExpectedPm2 {
                home: "/home/deploy/.pm2".into(),
                apps: BTreeMap::from([("api".into(), 4), ("worker".into(), 1)]),
            }]
        );
        let units: Vec<_> = config.units.iter().map(|u| (u.name.as_str(), u.template.as_deref())).collect();
        assert_eq!(
            units,
            [
                ("my-app@3000.service", Some("my-app@.service")),
                ("my-app@3001.service", Some("my-app@.service")),
                ("my-app@3002.service", Some("my-app@.service")),
                ("my-app@3003.service", Some("my-app@.service")),
                ("legacy.service", None),
            ]
        );
        assert_eq!(config.health.len(), 5);
        let last = &config.health[4];
        assert_eq!(last.url, "http://127.0.0.1:8080/healthz");
        assert_eq!(last.status, [200, 204]);
        assert_eq!(last.timeout, Duration::from_millis(500));
        assert_eq!(last.body_contains.as_deref(), Some("ok"));
        assert_eq!(last.json.get("status"), Some(&serde_json::json!("ok")));
        assert_eq!(last.json.get("checks.db"), Some(&serde_json::json!(true)));
        assert!(last.insecure && last.follow_redirects);
        assert_eq!(last.host.as_deref(), Some("api.example.com"));
        assert_eq!(last.unit, None);
        assert_eq!(config.thresholds.dump_max_age, Some(30 * 24 * 3600));
        assert_eq!(config.severity.get(&CheckId::ProcessNotRoot), Some(&SeverityOverride::Warn));
        assert_eq!(config.severity.get(&CheckId::Pm2LogRotation), Some(&SeverityOverride::Off));
        assert_eq!(config.severity.get(&CheckId::UnitMemoryLimit), Some(&SeverityOverride::Fail));
    }

    #[test]
    fn unit_health_is_one_probe_per_instance_with_the_defaults() {
        let config = parse(EXAMPLE, FILE).expect("the example loads");
        let probe = &config.health[1];
        assert_eq!(probe.url, "http://127.0.0.1:3001/health");
        assert_eq!(probe.unit.as_deref(), Some("my-app@3001.service"));
        assert_eq!(probe.status, Vec::<u16>::new());
        assert_eq!(probe.timeout, Duration::from_secs(2));
        assert!(!probe.insecure && !probe.follow_redirects);
    }

    #[test]
    fn an_empty_file_is_no_expectations() {
        let config = parse("# nothing yet\n", FILE).expect("loads");
        assert_eq!(config, CheckConfig { source: Some(FILE.into()), ..CheckConfig::default() });
    }

    #[test]
    fn a_syntax_error_names_line_and_column() {
        let (message, line, column) = error("[[unit]]\nname = \"api.service\nhealth = 1\n");
        assert!(message.starts_with(&format!("invalid TOML at {FILE}:2:")), "{message}");
        assert_eq!(line, 2, "{message}");
        assert!(column > 1, "{message}");
    }

    #[test]
    fn an_unknown_key_is_named_with_what_was_expected() {
        assert_error(
            "[[unit]]\nname = \"my-app@{3000..3003}.service\"\nhelth = \"http://127.0.0.1:{i}/health\"\n",
            "unknown key \"helth\" in [[unit]] at bootproof.toml:3:1; expected one of: name, health",
            3,
            1,
        );
        assert_error(
            "[thresholds]\ndump_max_age = \"30d\"\n\n[helth]\nurl = \"x\"\n",
            "unknown key \"helth\" in the check file at bootproof.toml:4:2; expected one of: pm2, unit, health, thresholds, severity",
            4,
            2,
        );
        assert_error(
            "[[health]]\nurl = \"http://127.0.0.1/\"\n  timout = \"2s\"\n",
            "unknown key \"timout\" in [[health]] at bootproof.toml:3:3; expected one of: url, status, timeout, body_contains, json, insecure, host, follow_redirects",
            3,
            3,
        );
    }

    #[test]
    fn a_wrong_type_names_the_key_and_both_types() {
        assert_error(
            "[[health]]\nurl = \"http://127.0.0.1/\"\ntimeout = 2\n",
            "wrong type for key \"timeout\" in [[health]] at bootproof.toml:3:11; expected a duration string: a number and a unit, such as \"2s\", \"500ms\", \"5m\" or \"30d\", found an integer",
            3,
            11,
        );
        assert_error(
            "[[pm2]]\nhome = \"/root/.pm2\"\napps = { api = \"4\" }\n",
            "wrong type for key \"api\" in [[pm2]] apps at bootproof.toml:3:16; expected a whole number from 1 to 100000, found a string",
            3,
            16,
        );
        assert_error(
            "[unit]\nname = \"api\"\n",
            "wrong type for key \"unit\" in the check file at bootproof.toml:1:1; expected a list of tables, written [[unit]], found a table",
            1,
            1,
        );
        assert_error(
            "[[health]]\nurl = \"http://127.0.0.1/\"\ninsecure = \"yes\"\n",
            "wrong type for key \"insecure\" in [[health]] at bootproof.toml:3:12; expected true or false, found a string",
            3,
            12,
        );
    }

    #[test]
    fn a_bad_duration_says_what_a_duration_looks_like() {
        assert_error(
            "[thresholds]\ndump_max_age = \"30 days please\"\n",
            "bad duration \"30 days please\" for key \"dump_max_age\" in [thresholds] at bootproof.toml:2:16; expected a number and a unit, such as \"2s\", \"500ms\", \"5m\" or \"30d\" (expected number at 8)",
            2,
            16,
        );
        let (message, _, _) = error("[[health]]\nurl = \"http://127.0.0.1/\"\ntimeout = \"0s\"\n");
        assert!(message.ends_with("it must be longer than zero"), "{message}");
    }

    #[test]
    fn bad_ranges_point_at_the_range() {
        assert_error(
            "[[unit]]\nname = \"my-app@{3003..3000}.service\"\n",
            "bad instance range in \"my-app@{3003..3000}.service\" for key \"name\" in [[unit]] at bootproof.toml:2:16; the range counts down; write {3000..3003}",
            2,
            16,
        );
        assert_error(
            "[[unit]]\nname = \"my-app@{a..b}.service\"\n",
            "bad instance range in \"my-app@{a..b}.service\" for key \"name\" in [[unit]] at bootproof.toml:2:16; {a..b} is not a range of whole numbers; write {FIRST..LAST}, e.g. {3000..3003}",
            2,
            16,
        );
        assert_error(
            "[[unit]]\nname = \"w@{1..5000}.service\"\n",
            "bad instance range in \"w@{1..5000}.service\" for key \"name\" in [[unit]] at bootproof.toml:2:11; the range stands for 5000 instances, more than the 1000 bootproof expands",
            2,
            11,
        );
    }

    #[test]
    fn an_unknown_invariant_id_in_severity_is_named() {
        assert_error(
            "[severity]\n\"process.not-root\" = \"warn\"\n\"pm2.log-rotate\" = \"off\"\n",
            "unknown invariant id \"pm2.log-rotate\" in [severity] at bootproof.toml:3:1; run `bootproof explain` for the list of ids",
            3,
            1,
        );
    }

    #[test]
    fn a_bad_severity_lists_the_three_values() {
        assert_error(
            "[severity]\n\"process.not-root\" = \"warning\"\n",
            "bad severity \"warning\" for \"process.not-root\" in [severity] at bootproof.toml:2:22; expected one of: fail, warn, off",
            2,
            22,
        );
    }

    #[test]
    fn missing_and_malformed_values_are_named() {
        assert_error(
            "[[unit]]\nhealth = \"http://x/\"\n",
            "missing key \"name\" in [[unit]] at bootproof.toml:1:1",
            1,
            1,
        );
        assert_error(
            "[[pm2]]\nhome = \".pm2\"\n",
            "relative path \".pm2\" for key \"home\" in [[pm2]] at bootproof.toml:2:8; expected the absolute PM2_HOME, e.g. /home/deploy/.pm2",
            2,
            8,
        );
        assert_error(
            "[[health]]\nurl = \"127.0.0.1:8080\"\n",
            "bad URL \"127.0.0.1:8080\" for key \"url\" in [[health]] at bootproof.toml:2:7; expected http://HOST[:PORT]/PATH or https://…",
            2,
            7,
        );
        assert_error(
            "[[health]]\nurl = \"http://x/\"\nstatus = [200, 99]\n",
            "value 99 out of range for key \"status\" in [[health]] at bootproof.toml:3:16; expected a whole number from 100 to 599",
            3,
            16,
        );
        assert_error(
            "[[unit]]\nname = \"api\"\nhealth = \"http://127.0.0.1:{i}/\"\n",
            "{i} in key \"health\" of [[unit]] \"api\", which has no instance at bootproof.toml:3:10; use {i} with a template range: name = \"my-app@{3000..3003}.service\"",
            3,
            10,
        );
        assert_error(
            "[[unit]]\nname = \"my-app@{1..3}\"\n[[unit]]\nname = \"my-app@2.service\"\n",
            "unit \"my-app@2.service\" declared twice in [[unit]] at bootproof.toml:4:8; declare each unit once",
            4,
            8,
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_column("é = 1\nab", 7), (2, 1));
        assert_eq!(line_column("\"é\" = 1", 5), (1, 5));
    }

    #[test]
    fn a_missing_file_is_an_error_only_when_asked_for() {
        let err = load(Some(Path::new("/nonexistent/bootproof.toml"))).expect_err("asked for, so required");
        assert_eq!(err.to_string(), "failed to read the check file /nonexistent/bootproof.toml");
    }
}

/// The ready check files in `checks/` load, and say what their comments say.
#[cfg(test)]
mod ready_check_files {
    use super::*;

    fn load_ready(name: &str, text: &str) -> CheckConfig {
        parse(text, name).unwrap_or_else(|err| panic!("checks/{name} does not load: {err}"))
    }

    #[test]
    fn pm2_fork_root() {
        let config = load_ready("pm2-fork-root.toml", include_str!("../../checks/pm2-fork-root.toml"));
        assert_eq!(config.pm2[0].home, "/root/.pm2");
        assert_eq!(config.pm2[0].apps.get("api"), Some(&1));
        assert_eq!(config.units[0].name, "pm2-root.service");
        assert_eq!(config.health.len(), 1);
        assert_eq!(config.severity.get(&CheckId::ProcessNotRoot), Some(&SeverityOverride::Warn));
        assert_eq!(config.thresholds.dump_max_age, Some(30 * 86_400));
    }

    #[test]
    fn pm2_cluster_deploy() {
        let config = load_ready("pm2-cluster-deploy.toml", include_str!("../../checks/pm2-cluster-deploy.toml"));
        assert_eq!(config.pm2[0].home, "/home/deploy/.pm2");
        assert_eq!(config.pm2[0].apps.get("api"), Some(&2));
        assert_eq!(config.units[0].name, "pm2-deploy.service");
        assert_eq!(config.health[0].json.get("status"), Some(&serde_json::json!("ok")));
    }

    #[test]
    fn systemd_templates_nginx() {
        let config =
            load_ready("systemd-templates-nginx.toml", include_str!("../../checks/systemd-templates-nginx.toml"));
        assert_eq!(config.units.len(), 4);
        assert!(config.units.iter().all(|u| u.template.as_deref() == Some("my-app@.service")));
        let urls: Vec<_> = config.health.iter().map(|h| h.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:3000/health",
                "http://127.0.0.1:3001/health",
                "http://127.0.0.1:3002/health",
                "http://127.0.0.1:3003/health",
                "http://127.0.0.1/health",
            ]
        );
        assert_eq!(config.health[4].host.as_deref(), Some("app.example.com"));
        assert_eq!(config.health[3].unit.as_deref(), Some("my-app@3003.service"));
    }
}
