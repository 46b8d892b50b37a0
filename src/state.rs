//! The state file: what the last check of each boot saw, so that the first check after a
//! reboot can say what did not come back. A unit that disappeared leaves no trace in
//! systemd after a reboot; only bootproof's own memory of it can name it.
//!
//! Written atomically (temporary file, then rename) and only by `check` on a live host.
//! A state file that cannot be parsed is moved aside, never silently overwritten.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::facts::{ActiveState, BootRecord, Facts, SeenUnit};

/// Version tag of the state file.
const STATE_SCHEMA: &str = "bootproof/state/v1";

/// Where `check` keeps its state unless told otherwise.
pub(crate) const DEFAULT_STATE_FILE: &str = "/var/lib/bootproof/state.json";

/// The state file's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    /// Always [`STATE_SCHEMA`].
    schema: String,
    /// The latest check, in the boot it ran in.
    current: BootRecord,
    /// The last check of an earlier boot, if there was one.
    #[serde(default)]
    previous_boot: Option<BootRecord>,
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// Reading failed (other than the file not existing).
    #[error("failed to read the state file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The content is not a state file; it was moved to `moved_to`.
    #[error("state file {path} is not valid ({reason}); moved it to {moved_to} and started afresh")]
    Corrupt { path: PathBuf, reason: String, moved_to: PathBuf },
    /// Writing failed.
    #[error("failed to record this check in {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The last check of an earlier boot than `boot_id`, as the state file at `path` holds it.
pub(crate) fn previous_boot(path: &Path, boot_id: Option<&str>) -> Result<Option<BootRecord>, StateError> {
    let Some(state) = load(path)? else { return Ok(None) };
    if boot_id.is_some_and(|id| id != state.current.boot_id) {
        Ok(Some(state.current))
    } else {
        Ok(state.previous_boot)
    }
}

fn load(path: &Path) -> Result<Option<State>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Read { path: path.to_owned(), source }),
    };
    let parsed = serde_json::from_str::<State>(&text).map_err(|err| err.to_string()).and_then(|state| {
        if state.schema == STATE_SCHEMA {
            Ok(state)
        } else {
            Err(format!("schema {:?}, expected {STATE_SCHEMA:?}", state.schema))
        }
    });
    match parsed {
        Ok(state) => Ok(Some(state)),
        Err(reason) => {
            let moved_to = path.with_extension("json.corrupt");
            std::fs::rename(path, &moved_to).map_err(|source| StateError::Write { path: path.to_owned(), source })?;
            Err(StateError::Corrupt { path: path.to_owned(), reason, moved_to })
        }
    }
}

/// What this check saw, as a record for the state file.
pub(crate) fn record(facts: &Facts) -> Option<BootRecord> {
    let boot_id = facts.host.boot_id.ok()?.clone();
    // A unit whose state could not be read is not remembered: it was not seen running.
    let units = facts
        .units
        .iter()
        .filter_map(|unit| {
            let properties = unit.properties.ok()?;
            Some(SeenUnit { name: unit.name.clone(), active: properties.active_state == ActiveState::Active })
        })
        .collect();
    // Filled in by the caller, which knows the judged process subjects.
    Some(BootRecord { boot_id, checked_at: facts.gathered_at.clone(), units, processes: Vec::new() })
}

/// Records `current` in the state file: replaces the record of the same boot, and moves
/// the record of an earlier boot to `previous_boot`.
pub(crate) fn save(path: &Path, current: BootRecord) -> Result<(), StateError> {
    let write_error = |source| StateError::Write { path: path.to_owned(), source };
    // A corrupt file was already moved aside by `previous_boot`; start from nothing then.
    let old = load(path).ok().flatten();
    let previous_boot = match old {
        Some(old) if old.current.boot_id != current.boot_id => Some(old.current),
        Some(old) => old.previous_boot,
        None => None,
    };
    let state = State { schema: STATE_SCHEMA.to_owned(), current, previous_boot };
    let mut text = serde_json::to_string_pretty(&state).map_err(|e| write_error(std::io::Error::other(e)))?;
    text.push('\n');
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let temporary = path.with_extension(format!("json.tmp.{}", std::process::id()));
    std::fs::write(&temporary, text).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        write_error(source)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(boot: &str, units: &[(&str, bool)]) -> BootRecord {
        BootRecord {
            boot_id: boot.into(),
            checked_at: "2026-11-21T06:00:00Z".into(),
            units: units.iter().map(|(name, active)| SeenUnit { name: (*name).into(), active: *active }).collect(),
            processes: Vec::new(),
        }
    }

    fn temp_path(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bootproof-state-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("sub/state.json")
    }

    #[test]
    fn the_last_check_of_the_previous_boot_survives_later_checks() {
        let path = temp_path("boots");
        assert_eq!(previous_boot(&path, Some("a")).expect("no file is fine"), None);
        save(&path, record("a", &[("x.service", true), ("y.service", true)])).expect("save");
        assert_eq!(previous_boot(&path, Some("a")).expect("read"), None, "same boot: nothing earlier");
        let before = previous_boot(&path, Some("b")).expect("read").expect("boot a is earlier");
        assert_eq!(before.boot_id, "a");
        save(&path, record("b", &[("x.service", true)])).expect("save");
        save(&path, record("b", &[("x.service", true)])).expect("save again in the same boot");
        let still = previous_boot(&path, Some("b")).expect("read").expect("boot a is still remembered");
        assert_eq!(still.units.len(), 2);
        let _ = std::fs::remove_dir_all(path.parent().and_then(Path::parent).expect("dir"));
    }

    #[test]
    fn a_corrupt_state_file_is_moved_aside_not_lost() {
        let path = temp_path("corrupt");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, "{ not json").expect("write");
        let err = previous_boot(&path, Some("a")).expect_err("corrupt is reported");
        assert!(err.to_string().contains("moved it to"), "{err}");
        let moved = path.with_extension("json.corrupt");
        assert_eq!(std::fs::read_to_string(moved).expect("kept"), "{ not json");
        assert_eq!(previous_boot(&path, Some("a")).expect("fresh start"), None);
        let _ = std::fs::remove_dir_all(path.parent().and_then(Path::parent).expect("dir"));
    }
}
