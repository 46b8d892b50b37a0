//! `timer install` and `timer remove`: the only changes bootproof makes to a host. Each
//! says exactly what it changed, as it changes it: files written (only when their content
//! differs), links made or removed by systemd, the reload, the start or stop. A step that
//! fails stops there, after everything done so far was said.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::manager::{Manager, ManagerError};
use super::units::{ENV_FILE, SERVICE, TIMER, UNIT_DIR, UnitFiles};

/// Why a change could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TimerError {
    /// No system bus.
    #[error("cannot reach the system bus: {0}")]
    Bus(#[source] zbus::Error),
    /// A manager call failed.
    #[error(transparent)]
    Manager(#[from] ManagerError),
    /// A file could not be written or removed.
    #[error("failed to {action} {path}: {source}")]
    File {
        /// `write`, `remove`, …
        action: &'static str,
        /// Which file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What was done, and the error that stopped it, if one did.
pub(crate) struct Applied {
    /// Every change, in order, in words.
    pub(crate) changes: Vec<String>,
    /// Why it stopped before the end.
    pub(crate) error: Option<TimerError>,
}

/// Writes the files, reloads systemd when a unit changed, enables and starts the timer.
pub(crate) async fn install(files: &UnitFiles, summary: &str) -> Applied {
    let mut changes = Vec::new();
    let error = install_steps(files, summary, &mut changes).await.err();
    Applied { changes, error }
}

async fn install_steps(files: &UnitFiles, summary: &str, changes: &mut Vec<String>) -> Result<(), TimerError> {
    // The bus first: without it nothing would be enabled, so nothing is written either.
    let manager = Manager::connect().await.map_err(TimerError::Bus)?;
    let service = format!("{UNIT_DIR}/{SERVICE}");
    let timer = format!("{UNIT_DIR}/{TIMER}");
    match &files.env {
        Some(env) => {
            let dir = Path::new(ENV_FILE).parent().unwrap_or(Path::new("/"));
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|source| file_error("create", dir, source))?;
                changes.push(format!("created {}", dir.display()));
            }
            if let Some(change) = write(Path::new(ENV_FILE), &env.text, 0o600)? {
                changes.push(format!("{change} {ENV_FILE} (mode 0600: {})", env.holds));
            }
        }
        None => {
            if remove(Path::new(ENV_FILE))? {
                changes.push(format!("removed {ENV_FILE} (no webhook or heartbeat any more)"));
            }
        }
    }
    let mut units_changed = false;
    for (path, text) in [(&service, &files.service), (&timer, &files.timer)] {
        if let Some(change) = write(Path::new(path), text, 0o644)? {
            changes.push(format!("{change} {path}"));
            units_changed = true;
        }
    }
    if units_changed {
        manager.reload().await?;
        changes.push("reloaded systemd (daemon-reload)".to_owned());
    }
    for change in manager.enable(&[TIMER]).await? {
        changes.push(format!("enabled {TIMER}: {change}"));
    }
    if manager.active_state(TIMER).await?.as_deref() != Some("active") {
        manager.start(TIMER).await?;
        changes.push(format!("started {TIMER}: {summary}"));
    }
    Ok(())
}

/// Stops and disables the timer, removes the files, reloads systemd. The state file
/// (bootproof's memory) is kept.
pub(crate) async fn remove_all() -> Applied {
    let mut changes = Vec::new();
    let error = remove_steps(&mut changes).await.err();
    Applied { changes, error }
}

async fn remove_steps(changes: &mut Vec<String>) -> Result<(), TimerError> {
    let manager = Manager::connect().await.map_err(TimerError::Bus)?;
    for unit in [TIMER, SERVICE] {
        if matches!(manager.active_state(unit).await?.as_deref(), Some("active" | "activating" | "reloading")) {
            manager.stop(unit).await?;
            changes.push(format!("stopped {unit}"));
        }
    }
    let timer = format!("{UNIT_DIR}/{TIMER}");
    if Path::new(&timer).exists() {
        for change in manager.disable(&[TIMER]).await? {
            changes.push(format!("disabled {TIMER}: {change}"));
        }
    }
    let mut units_removed = false;
    for path in [timer, format!("{UNIT_DIR}/{SERVICE}")] {
        if remove(Path::new(&path))? {
            changes.push(format!("removed {path}"));
            units_removed = true;
        }
    }
    if remove(Path::new(ENV_FILE))? {
        changes.push(format!("removed {ENV_FILE}"));
        // `install` made the directory for it; a check file in it keeps it.
        if let Some(dir) = Path::new(ENV_FILE).parent()
            && std::fs::remove_dir(dir).is_ok()
        {
            changes.push(format!("removed {} (empty)", dir.display()));
        }
    }
    if units_removed {
        manager.reload().await?;
        changes.push("reloaded systemd (daemon-reload)".to_owned());
    }
    Ok(())
}

fn file_error(action: &'static str, path: &Path, source: std::io::Error) -> TimerError {
    TimerError::File { action, path: path.display().to_string(), source }
}

/// Writes `text` to `path` with `mode` (through a temporary file renamed over it) unless it
/// already holds exactly that; returns `wrote` or `replaced`, or `None` when unchanged. A
/// file that holds the text with another mode gets its mode set.
fn write(path: &Path, text: &str, mode: u32) -> Result<Option<&'static str>, TimerError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(existing) => Some(existing),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(file_error("read", path, source)),
    };
    if existing.as_deref() == Some(text) {
        let current = std::fs::metadata(path).map_err(|source| file_error("stat", path, source))?.permissions().mode();
        if current & 0o7777 == mode {
            return Ok(None);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|source| file_error("set the mode of", path, source))?;
        return Ok(Some("set the mode of"));
    }
    crate::atomic::write(path, text.as_bytes(), mode)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(|source| file_error("write", path, source))?;
    Ok(Some(if existing.is_some() { "replaced" } else { "wrote" }))
}

/// Removes `path`; `false` when there was nothing to remove.
fn remove(path: &Path) -> Result<bool, TimerError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(file_error("remove", path, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_only_when_they_change() {
        let dir = std::env::temp_dir().join(format!("bootproof-timer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("alert.env");
        assert_eq!(write(&path, "A=1\n", 0o600).expect("new"), Some("wrote"));
        assert_eq!(std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777, 0o600);
        assert_eq!(write(&path, "A=1\n", 0o600).expect("same"), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(write(&path, "A=1\n", 0o600).expect("mode"), Some("set the mode of"));
        assert_eq!(write(&path, "A=2\n", 0o600).expect("changed"), Some("replaced"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "A=2\n");
        assert!(remove(&path).expect("remove"));
        assert!(!remove(&path).expect("gone already"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
