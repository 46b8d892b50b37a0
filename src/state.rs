//! The state file: bootproof's own memory between runs.
//!
//! - What the last check of each boot saw, so that the first check after a reboot can say
//!   what did not come back. A unit that disappeared leaves no trace in systemd after a
//!   reboot; only bootproof's own memory of it can name it.
//! - With `--webhook`, the alerting memory: per invariant and subject that is not well,
//!   its status, since when, for how many consecutive runs, and whether its alert went out;
//!   the boot the last alerting run was in; and the outbox of messages no webhook has
//!   accepted yet. Only a run that alerts reads or writes it, so a `check` run by hand
//!   never swallows a change the timer should have told about.
//!
//! Written atomically (see `atomic`), mode 0600, under an exclusive lock
//! (`state.json.lock`) held only while the file is read and written again, so a check run
//! by hand and the timer's check never lose each other's part. A state file that cannot be
//! parsed is moved aside, never silently overwritten.
//!
//! The alerting memory was added within `bootproof/state/v1` (an optional `alerts`), and
//! `current` may now be absent (a file holding only alerting memory): every v1 file reads
//! as before.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::facts::{ActiveState, BootRecord, Facts, SeenUnit};
use crate::verdict::Status;

/// Version tag of the state file.
const STATE_SCHEMA: &str = "bootproof/state/v1";

/// The largest state file read: a record is a few dozen bytes per unit, so this is
/// hundreds of thousands of units.
const STATE_MAX: u64 = 16 << 20;

/// Where `check` keeps its state unless told otherwise.
pub(crate) const DEFAULT_STATE_FILE: &str = "/var/lib/bootproof/state.json";

/// The state file's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Always [`STATE_SCHEMA`].
    schema: String,
    /// The latest check, in the boot it ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<BootRecord>,
    /// The last check of an earlier boot, if there was one.
    #[serde(default)]
    previous_boot: Option<BootRecord>,
    /// What alerting runs remember (absent until a check ran with `--webhook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alerts: Option<AlertMemory>,
}

impl State {
    /// The last check of an earlier boot than `boot_id`: the latest one when it ran in
    /// another boot, else the one remembered from before.
    pub(crate) fn before(self, boot_id: Option<&str>) -> Option<BootRecord> {
        match self.current {
            Some(current) if boot_id.is_some_and(|id| id != current.boot_id) => Some(current),
            _ => self.previous_boot,
        }
    }

    fn empty() -> State {
        State { schema: STATE_SCHEMA.to_owned(), current: None, previous_boot: None, alerts: None }
    }
}

/// What alerting runs remember between runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AlertMemory {
    /// The boot the last alerting run was in: when it changed, a reboot message goes out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) boot_id: Option<String>,
    /// Every invariant and subject that was not well at the last alerting run.
    #[serde(default)]
    pub(crate) tracked: Vec<TrackedAlert>,
    /// The last reboot's message, while something it named as not back is still not back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reboot: Option<RebootAlert>,
    /// Messages a webhook has not accepted yet, oldest first (bounded).
    #[serde(default)]
    pub(crate) outbox: Vec<OutboxMessage>,
}

/// One invariant on one subject that is not well.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrackedAlert {
    /// The invariant id (kept as written: an id this version does not know is still read).
    pub(crate) check: String,
    /// The subject, as reports write it (`unit:NAME`, `pm2:HOME`, …).
    pub(crate) subject: String,
    /// Its status at the last run: `fail`, `error`, or `warn` when warnings alert.
    pub(crate) status: Status,
    /// When the first run of this bad stretch saw it (RFC 3339, UTC).
    pub(crate) since: String,
    /// Consecutive runs it has been bad for.
    pub(crate) runs: u32,
    /// The finding's message at the last run.
    pub(crate) message: String,
    /// The firing alert, once it went out (delivered or queued in the outbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fired: Option<FiredAlert>,
}

/// A firing alert that went out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FiredAlert {
    /// When it was first sent.
    pub(crate) at: String,
    /// When it was last sent (first time or reminder).
    pub(crate) last_sent: String,
    /// The severity label it went out with; its resolution carries the same labels.
    pub(crate) severity: String,
}

/// A reboot message that named services not back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RebootAlert {
    /// When the boot began (the alert's start).
    pub(crate) booted_at: String,
    /// When the message went out.
    pub(crate) sent: String,
}

/// A message no webhook has accepted yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutboxMessage {
    /// Which webhook it is for: a fingerprint of its URL and format, never the URL (a
    /// secret).
    pub(crate) webhook: String,
    /// When the run that made it ran.
    pub(crate) queued_at: String,
    /// The payload, as it is posted: JSON text, kept in the file as JSON (not as a string
    /// of it) and byte for byte.
    #[serde(with = "raw_json")]
    pub(crate) body: String,
}

/// A JSON text stored as the JSON it is.
mod raw_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub(crate) fn serialize<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(text.to_owned()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Ok(Box::<RawValue>::deserialize(deserializer)?.get().to_owned())
    }
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
    Ok(load(path)?.and_then(|state| state.before(boot_id)))
}

/// What the last alerting run remembered (`None`: no alerting run yet, or no file).
pub(crate) fn alert_memory(path: &Path) -> Result<Option<AlertMemory>, StateError> {
    Ok(load(path)?.and_then(|state| state.alerts))
}

fn load(path: &Path) -> Result<Option<State>, StateError> {
    let bytes = match read_bounded(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Read { path: path.to_owned(), source }),
    };
    let text = if bytes.len() as u64 > STATE_MAX {
        Err(format!("larger than the {STATE_MAX} bytes bootproof ever writes"))
    } else {
        String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
    };
    match text.and_then(|text| parse(&text)) {
        Ok(state) => Ok(Some(state)),
        Err(reason) => {
            let moved_to = path.with_extension("json.corrupt");
            std::fs::rename(path, &moved_to).map_err(|source| StateError::Write { path: path.to_owned(), source })?;
            Err(StateError::Corrupt { path: path.to_owned(), reason, moved_to })
        }
    }
}

/// Reads at most one byte more than [`STATE_MAX`], so an oversized file is told apart
/// without reading all of it (and a device that never ends does not hang the check).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(STATE_MAX + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The state file's text as a [`State`], or why it is not one.
pub(crate) fn parse(text: &str) -> Result<State, String> {
    let state = serde_json::from_str::<State>(text).map_err(|err| err.to_string())?;
    if state.schema == STATE_SCHEMA {
        Ok(state)
    } else {
        Err(format!("schema {:?}, expected {STATE_SCHEMA:?}", state.schema))
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
/// the record of an earlier boot to `previous_boot`. The alerting memory is kept as it is.
pub(crate) fn save(path: &Path, current: BootRecord) -> Result<(), StateError> {
    update(path, |state| {
        if let Some(old) = state.current.take()
            && old.boot_id != current.boot_id
        {
            state.previous_boot = Some(old);
        }
        state.current = Some(current);
    })
}

/// Replaces the alerting memory, keeping the boot records as they are now in the file
/// (a check run by hand may have written one since this run read it).
pub(crate) fn save_alert_memory(path: &Path, memory: AlertMemory) -> Result<(), StateError> {
    update(path, |state| state.alerts = Some(memory))
}

/// Reads the file, lets `change` change it, and writes it back, atomically, under the
/// state lock.
fn update(path: &Path, change: impl FnOnce(&mut State)) -> Result<(), StateError> {
    let write_error = |source| StateError::Write { path: path.to_owned(), source };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let _lock = lock(&path.with_extension("json.lock"), true).map_err(write_error)?;
    // A corrupt file was already moved aside by the read that found it; start from
    // nothing then (and if this read is the one that finds it, it moves it aside now).
    let mut state = load(path).ok().flatten().unwrap_or_else(State::empty);
    state.schema = STATE_SCHEMA.to_owned();
    change(&mut state);
    let mut text = serde_json::to_string_pretty(&state).map_err(|e| write_error(std::io::Error::other(e)))?;
    text.push('\n');
    crate::atomic::write(path, text.as_bytes(), 0o600).map_err(write_error)
}

/// The alerting lock: held by a run from reading the alerting memory until it wrote it
/// back, so two alerting runs at once (the timer's, and one by hand) do not both send the
/// same change. Released when dropped.
pub(crate) struct AlertingLock {
    _file: File,
}

/// Takes the alerting lock of the state file at `path` without waiting: `Ok(None)` when
/// another run holds it.
pub(crate) fn lock_alerting(path: &Path) -> Result<Option<AlertingLock>, StateError> {
    let write_error = |source| StateError::Write { path: path.to_owned(), source };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    match lock(&path.with_extension("json.alerting.lock"), false) {
        Ok(file) => Ok(Some(AlertingLock { _file: file })),
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(err) => Err(write_error(err)),
    }
}

/// An exclusive `flock` on `path` (created 0600 if missing), waiting for it when `wait`;
/// the lock lasts as long as the returned file.
fn lock(path: &Path, wait: bool) -> std::io::Result<File> {
    let file = File::options().create(true).truncate(false).write(true).mode(0o600).open(path)?;
    let operation = if wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
    loop {
        // SAFETY: flock on a descriptor this function owns; it has no memory effects.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(file);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
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

    fn remove(path: &Path) {
        let _ = std::fs::remove_dir_all(path.parent().and_then(Path::parent).expect("dir"));
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
        remove(&path);
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
        remove(&path);
    }

    fn memory(boot: &str) -> AlertMemory {
        AlertMemory {
            boot_id: Some(boot.into()),
            tracked: vec![TrackedAlert {
                check: "supervisor.enabled".into(),
                subject: "unit:my-app@3001.service".into(),
                status: Status::Fail,
                since: "2026-11-21T06:00:00Z".into(),
                runs: 2,
                message: "disabled: nothing starts it at boot".into(),
                fired: None,
            }],
            reboot: None,
            outbox: vec![OutboxMessage {
                webhook: "0123456789abcdef".into(),
                queued_at: "2026-11-21T06:00:00Z".into(),
                body: r#"{"text":"hello"}"#.into(),
            }],
        }
    }

    #[test]
    fn boot_records_and_alerting_memory_keep_each_other() {
        let path = temp_path("alerts");
        assert_eq!(alert_memory(&path).expect("no file is fine"), None);
        save_alert_memory(&path, memory("a")).expect("save alerts into a new file");
        save(&path, record("a", &[("x.service", true)])).expect("a check by hand");
        assert_eq!(alert_memory(&path).expect("read"), Some(memory("a")), "a check by hand keeps the alerts");
        save_alert_memory(&path, memory("b")).expect("an alerting run");
        save(&path, record("b", &[])).expect("the next boot's check");
        assert_eq!(previous_boot(&path, Some("b")).expect("read").map(|r| r.boot_id), Some("a".into()));
        assert_eq!(alert_memory(&path).expect("read").and_then(|m| m.boot_id), Some("b".into()));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only root reads bootproof's memory (the outbox holds host details)");
        remove(&path);
    }

    #[test]
    fn a_state_file_written_before_alerting_existed_still_reads() {
        let path = temp_path("v1");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        let old = r#"{
  "schema": "bootproof/state/v1",
  "current": { "boot_id": "b", "checked_at": "2026-11-21T06:25:29Z", "units": [ { "name": "x.service", "active": true } ] },
  "previous_boot": null
}"#;
        std::fs::write(&path, old).expect("write");
        assert_eq!(alert_memory(&path).expect("reads"), None);
        assert_eq!(previous_boot(&path, Some("c")).expect("reads").map(|r| r.units.len()), Some(1));
        save_alert_memory(&path, memory("c")).expect("adds alerts");
        assert_eq!(previous_boot(&path, Some("c")).expect("reads").map(|r| r.boot_id), Some("b".into()));
        remove(&path);
    }

    #[test]
    fn only_one_run_alerts_at_a_time() {
        let path = temp_path("lock");
        let first = lock_alerting(&path).expect("lock").expect("free");
        assert!(lock_alerting(&path).expect("lock").is_none(), "held by the first");
        drop(first);
        assert!(lock_alerting(&path).expect("lock").is_some(), "free again");
        remove(&path);
    }
}
