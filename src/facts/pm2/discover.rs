//! Which PM2 homes (PM2_HOME directories) exist on this host, and how each was found:
//! running God Daemons (their title names the home), PM2 run in the foreground
//! (pm2-runtime: its environment names it), `/root/.pm2` and `/home/*/.pm2`,
//! homes the caller names (the check file), and the supervisor units `pm2 startup`
//! writes (their `Environment=PM2_HOME=`, else the unit user's home + `/.pm2`).

use super::super::model::{Fact, UnitFacts};
use super::super::procfs::ProcessTable;
use super::daemon::{self, RunningDaemon};

/// A home to gather, with every way it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FoundHome {
    /// The PM2_HOME as first found.
    pub(crate) home: String,
    /// `daemon pid 123`, `home directory`, `check file`, `unit pm2-root.service`.
    pub(crate) found_by: Vec<String>,
}

/// The homes found so far, one entry per directory however it was spelt.
#[derive(Debug, Default)]
pub(crate) struct Homes {
    /// (comparison key, home) in the order found.
    found: Vec<(String, FoundHome)>,
}

impl Homes {
    /// Records a home and how it was found; a home already known gets the new way added.
    pub(crate) fn add(&mut self, home: &str, how: String) {
        let key = home_key(home);
        if let Some((_, found)) = self.found.iter_mut().find(|(k, _)| *k == key) {
            if !found.found_by.contains(&how) {
                found.found_by.push(how);
            }
            return;
        }
        self.found.push((key, FoundHome { home: trim_home(home), found_by: vec![how] }));
    }

    /// The homes, in the order found.
    pub(crate) fn into_vec(self) -> Vec<FoundHome> {
        self.found.into_iter().map(|(_, found)| found).collect()
    }
}

/// `/root/.pm2/` → `/root/.pm2`.
fn trim_home(home: &str) -> String {
    match home.trim_end_matches('/') {
        "" => "/".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// What makes two spellings of a home the same directory: its canonical path when it
/// exists (a daemon started through a symlinked path titles itself with that path).
pub(crate) fn home_key(home: &str) -> String {
    std::fs::canonicalize(home).map(|path| path.to_string_lossy().into_owned()).unwrap_or_else(|_| trim_home(home))
}

/// Homes found without systemd: running daemons, the usual home directories, and the
/// caller's. Running daemons are returned too, so their facts need no second scan.
pub(crate) fn local_homes(extra: &[String], table: &ProcessTable) -> (Vec<FoundHome>, Vec<RunningDaemon>) {
    let daemons = daemon::running_daemons(table);
    let mut homes = Homes::default();
    for daemon in &daemons {
        if let Some(home) = &daemon.home {
            homes.add(home, format!("daemon pid {}", daemon.pid));
        }
    }
    for (pid, home) in daemon::foreground_pm2(table) {
        homes.add(&home, format!("pm2-runtime pid {pid}"));
    }
    for home in user_home_dirs() {
        homes.add(&home, "home directory".to_owned());
    }
    for home in extra {
        homes.add(home, "check file".to_owned());
    }
    (homes.into_vec(), daemons)
}

/// `/root/.pm2` and `/home/*/.pm2`, those that are directories — and those that cannot
/// be looked at (a run that is not root, and a home closed to it): whether a PM2 home is
/// there cannot be told then, and leaving it out would be a silent pass on it (the
/// gathered home's facts say why it could not be read).
fn user_home_dirs() -> Vec<String> {
    let mut candidates = vec!["/root/.pm2".to_owned()];
    if let Ok(entries) = std::fs::read_dir("/home") {
        let mut users: Vec<String> =
            entries.flatten().map(|entry| entry.path().join(".pm2").to_string_lossy().into_owned()).collect();
        users.sort();
        candidates.extend(users);
    }
    candidates.retain(|path| match std::fs::metadata(path) {
        Ok(meta) => meta.is_dir(),
        Err(err) => err.kind() == std::io::ErrorKind::PermissionDenied,
    });
    candidates
}

/// The PM2_HOME a supervisor unit serves: its last `Environment=PM2_HOME=`, else
/// `.pm2` in its user's home (what pm2 itself defaults to). `None` when neither is
/// known (no PM2_HOME and a `User=` that names no account).
pub(crate) fn unit_home(unit: &UnitFacts) -> Option<String> {
    let service = unit.service.ok()?;
    if let Some(home) = service
        .environment
        .iter()
        .rev()
        .find_map(|assignment| assignment.strip_prefix("PM2_HOME="))
        .filter(|home| !home.is_empty())
    {
        return Some(trim_home(home));
    }
    match &service.account {
        Fact::Ok(Some(account)) if !account.home.is_empty() => {
            Some(format!("{}/.pm2", account.home.trim_end_matches('/')))
        }
        _ => None,
    }
}

/// Whether a unit is a PM2 supervisor by name: `pm2-<user>.service`, as `pm2 startup`
/// names it.
pub(crate) fn is_pm2_unit_name(name: &str) -> bool {
    name.strip_prefix("pm2-")
        .and_then(|rest| rest.strip_suffix(".service"))
        .is_some_and(|user| !user.is_empty() && !user.contains('@'))
}

/// Whether a command line runs `pm2 resurrect` (directly, through node, or through env).
pub(crate) fn runs_pm2_resurrect(path: &str, argv: &[String]) -> bool {
    use super::super::node::{ExecKind, classify_exec};
    classify_exec(path, argv) == ExecKind::Pm2Cli && argv.iter().any(|arg| arg == "resurrect")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_home_however_spelt() {
        let mut homes = Homes::default();
        homes.add("/nonexistent/u/.pm2/", "daemon pid 7".into());
        homes.add("/nonexistent/u/.pm2", "check file".into());
        homes.add("/nonexistent/v/.pm2", "check file".into());
        let found = homes.into_vec();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].home, "/nonexistent/u/.pm2");
        assert_eq!(found[0].found_by, ["daemon pid 7", "check file"]);
    }

    #[test]
    fn unit_names_and_commands() {
        assert!(is_pm2_unit_name("pm2-root.service"));
        assert!(is_pm2_unit_name("pm2-deploy.service"));
        assert!(!is_pm2_unit_name("pm2-.service"));
        assert!(!is_pm2_unit_name("pm2-x@.service"));
        assert!(!is_pm2_unit_name("my-pm2-root.service"));
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert!(runs_pm2_resurrect(
            "/usr/lib/node_modules/pm2/bin/pm2",
            &argv(&["/usr/lib/node_modules/pm2/bin/pm2", "resurrect"])
        ));
        assert!(runs_pm2_resurrect("/usr/bin/node", &argv(&["node", "/usr/local/bin/pm2", "resurrect"])));
        assert!(runs_pm2_resurrect("/usr/bin/env", &argv(&["env", "pm2", "resurrect"])));
        assert!(!runs_pm2_resurrect("/usr/bin/pm2", &argv(&["pm2", "kill"])));
        assert!(!runs_pm2_resurrect("/usr/bin/node", &argv(&["node", "resurrect.js"])));
    }
}
