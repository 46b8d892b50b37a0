//! Facts files (`bootproof facts -o FILE`, `check --facts FILE`): reading one back, of
//! this schema or of the previous one.
//!
//! A v1 file (`bootproof/facts/v1`) is migrated as JSON before it is parsed: its flat
//! unit properties move under `properties`, and the sentinel values v1 wrote for what
//! could not be read (`load_state: "error"` with "cannot read unit properties: …", a
//! template's `unit_file_state: "error: …"`) become the errors they stood for.

use serde_json::{Map, Value};

use super::model::{FACTS_SCHEMA, Facts};

/// The previous schema, still read.
pub(crate) const FACTS_SCHEMA_V1: &str = "bootproof/facts/v1";

/// What v1 wrote into `load_error` for a unit whose properties could not be read.
const V1_UNREADABLE: &str = "cannot read unit properties: ";

/// The unit fields v1 kept flat and v2 keeps under `properties`.
const V1_PROPERTY_FIELDS: &[&str] = &[
    "load_state",
    "load_error",
    "fragment_path",
    "fragment_file",
    "drop_in_paths",
    "need_daemon_reload",
    "unit_file_state",
    "wanted_by",
    "required_by",
    "conditions",
    "active_state",
    "sub_state",
    "active_since",
    "start_limit_burst",
    "start_limit_interval_usec",
];

/// Why a facts file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FactsFileError {
    /// Not JSON, or not facts (the serde message names line and column).
    #[error("it is not valid: {0}")]
    Invalid(#[from] serde_json::Error),
    /// Facts of a schema this bootproof does not read.
    #[error("it has schema {found:?}; this bootproof reads {FACTS_SCHEMA:?} and {FACTS_SCHEMA_V1:?}")]
    Schema {
        /// The schema the file names.
        found: String,
    },
}

/// The largest facts file read: a host with thousands of units and apps writes a few MiB.
const FACTS_FILE_MAX: u64 = 256 << 20;

/// A facts file's text, refusing one larger than [`FACTS_FILE_MAX`] (`--facts /dev/zero`
/// must not hang) or not UTF-8.
pub(crate) fn read(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(FACTS_FILE_MAX + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > FACTS_FILE_MAX {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {FACTS_FILE_MAX} bytes, too large for a facts file"),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text: {err}")))
}

/// Parses facts-file text, migrating a v1 file.
pub(crate) fn parse(text: &str) -> Result<Facts, FactsFileError> {
    let mut value: Value = serde_json::from_str(text)?;
    match value.get("schema").and_then(Value::as_str) {
        Some(FACTS_SCHEMA) => {}
        Some(FACTS_SCHEMA_V1) => migrate_v1(&mut value),
        other => return Err(FactsFileError::Schema { found: other.unwrap_or("(none)").to_owned() }),
    }
    Ok(serde_json::from_value(value)?)
}

/// Rewrites a v1 facts value into the v2 shape, in place.
fn migrate_v1(facts: &mut Value) {
    facts["schema"] = Value::from(FACTS_SCHEMA);
    if let Some(units) = facts.get_mut("units").and_then(Value::as_array_mut) {
        units.iter_mut().for_each(migrate_unit);
    }
    if let Some(homes) = facts.get_mut("pm2").and_then(Value::as_array_mut) {
        for home in homes {
            if let Some(units) = home.get_mut("units").and_then(Value::as_array_mut) {
                units.iter_mut().for_each(migrate_unit);
            }
        }
    }
    if let Some(templates) = facts.get_mut("templates").and_then(Value::as_array_mut) {
        for template in templates {
            if let Some(state) = template.get_mut("unit_file_state") {
                *state = match state.as_str() {
                    Some(text) => match text.strip_prefix("error: ") {
                        Some(reason) => fact_error(reason),
                        None => fact_ok(Value::from(text)),
                    },
                    None => fact_error("not in this facts file"),
                };
            }
        }
    }
}

/// Moves one v1 unit's flat properties under `properties`.
fn migrate_unit(unit: &mut Value) {
    let Some(object) = unit.as_object_mut() else { return };
    let mut properties = Map::new();
    for field in V1_PROPERTY_FIELDS {
        if let Some(value) = object.remove(*field) {
            properties.insert((*field).to_owned(), value);
        }
    }
    let unreadable = properties.get("load_state").and_then(Value::as_str) == Some("error")
        && properties.get("load_error").and_then(Value::as_str).is_some_and(|e| e.starts_with(V1_UNREADABLE));
    let migrated = if unreadable {
        let reason = properties.get("load_error").and_then(Value::as_str).unwrap_or(V1_UNREADABLE);
        fact_error(reason.strip_prefix(V1_UNREADABLE).unwrap_or(reason))
    } else {
        fact_ok(Value::Object(properties))
    };
    object.insert("properties".to_owned(), migrated);
}

fn fact_ok(value: Value) -> Value {
    let mut object = Map::new();
    object.insert("ok".to_owned(), value);
    Value::Object(object)
}

fn fact_error(reason: &str) -> Value {
    let mut object = Map::new();
    object.insert("error".to_owned(), Value::from(reason));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Fact, LoadState};

    #[test]
    fn v1_units_keep_their_properties_and_their_unreadable_ones_become_errors() {
        let text = r#"{
          "schema": "bootproof/facts/v1", "gathered_at": "2026-11-21T06:00:00Z",
          "host": {"hostname": {"ok": "web-1"}, "boot_id": {"ok": "b"}, "booted_at": {"ok": "t"},
                   "system_state": {"ok": "running"}, "failed_units": {"ok": []},
                   "default_target": {"ok": "multi-user.target"}, "boot_targets": {"ok": ["multi-user.target"]}},
          "units": [
            {"name": "a.service", "template": null, "instance": null, "load_state": "error",
             "load_error": "cannot read unit properties: access denied", "fragment_path": null, "fragment_file": null,
             "drop_in_paths": [], "need_daemon_reload": false, "unit_file_state": "", "wanted_by": [], "required_by": [],
             "boot_chain": {"ok": []}, "conditions": [], "active_state": "", "sub_state": "", "active_since": null,
             "start_limit_burst": 0, "start_limit_interval_usec": 0, "service": {"error": "access denied"}},
            {"name": "b.service", "template": null, "instance": null, "load_state": "error",
             "load_error": "Unit b.service has a bad unit file setting.", "fragment_path": "/etc/systemd/system/b.service",
             "fragment_file": null, "drop_in_paths": [], "need_daemon_reload": false, "unit_file_state": "disabled",
             "wanted_by": [], "required_by": [], "boot_chain": {"ok": []}, "conditions": [], "active_state": "inactive",
             "sub_state": "dead", "active_since": null, "start_limit_burst": 5, "start_limit_interval_usec": 10000000,
             "service": {"error": "x"}}
          ],
          "templates": [{"name": "t@.service", "fragment_path": null, "unit_file_state": "error: no reply", "instances": []}]
        }"#;
        let facts = parse(text).expect("a v1 file is read");
        assert_eq!(facts.units[0].properties, Fact::Error("access denied".into()));
        let Fact::Ok(b) = &facts.units[1].properties else { panic!("b's properties were read") };
        assert_eq!(b.load_state, LoadState::Error, "systemd's own error state stays what it is");
        assert_eq!(facts.templates[0].unit_file_state, Fact::Error("no reply".into()));
    }

    #[test]
    fn every_captured_v1_file_is_read() {
        for text in [
            include_str!("../../tests/facts/template-all-good.json"),
            include_str!("../../tests/facts/template-defects.json"),
            include_str!("../../tests/facts/pm2-incident.json"),
            include_str!("../../tests/facts/pm2-fixed.json"),
        ] {
            let facts = parse(text).expect("a captured facts file parses");
            assert!(
                facts.units.iter().chain(facts.pm2.iter().flat_map(|h| &h.units)).all(|u| u.properties.ok().is_some())
            );
        }
    }

    #[test]
    fn other_schemas_are_refused_by_name() {
        let err = parse(r#"{"schema": "bootproof/facts/v9"}"#).expect_err("v9 is not read");
        assert!(err.to_string().contains("bootproof/facts/v9"), "{err}");
    }
}
