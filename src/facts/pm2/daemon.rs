//! The PM2 daemon as the host shows it without asking it: its `pm2.pid`, the running
//! "God Daemon" processes and their titles (from the run's one /proc scan), `pids/*.pid`
//! for the apps, the installed modules, and the pm2 CLI an operator would use for a home.

use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::super::files::{self, os_message};
use super::super::model::{Fact, FallbackApp, ProcessFacts};
use super::super::procfs::{ProcessTable, Row};

/// A pid file is a number; anything longer is not one.
const PID_FILE_MAX: u64 = 64;

/// More pid files than this in one home is not a real PM2 home; stop there.
const PID_FILES_MAX: usize = 10_000;

/// A running God Daemon found in /proc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunningDaemon {
    /// Its pid.
    pub(crate) pid: u32,
    /// The PM2 version from the title.
    pub(crate) version: String,
    /// The PM2_HOME from the title; `None` for very old titles without it.
    pub(crate) home: Option<String>,
}

/// Bound on a daemon's environment read (ARG_MAX-sized environments exist).
const ENVIRON_MAX: u64 = 2 * 1024 * 1024;

/// Parses a process title: `PM2 v7.0.4: God Daemon (/root/.pm2)`. A title cut short
/// (no closing parenthesis) gives no home: a prefix of a path is not a path.
pub(crate) fn parse_title(title: &str) -> Option<(String, Option<String>)> {
    let rest = title.trim().strip_prefix("PM2 v")?;
    let (version, rest) = rest.split_once(": God Daemon")?;
    let rest = rest.trim();
    let home = rest.strip_prefix('(').and_then(|inner| inner.strip_suffix(')')).map(str::to_owned);
    Some((version.to_owned(), home))
}

/// The PM2_HOME a daemon runs with, from its environment: `PM2_HOME`, else `HOME` +
/// `/.pm2` (PM2's default). Only those two variables are looked at; nothing else in the
/// environment (which may hold secrets) is kept.
fn home_from_environ(path: &Path) -> Option<String> {
    home_in_environ(&read_bounded(path, ENVIRON_MAX).ok()?)
}

/// The PM2_HOME in the bytes of a /proc/PID/environ (see [`home_from_environ`]).
pub(crate) fn home_in_environ(environ: &[u8]) -> Option<String> {
    let value = |key: &[u8]| {
        environ
            .split(|b| *b == 0)
            .find_map(|entry| entry.strip_prefix(key))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    value(b"PM2_HOME=")
        .filter(|home| !home.is_empty())
        .or_else(|| value(b"HOME=").map(|home| format!("{}/.pm2", home.trim_end_matches('/'))))
}

/// The title in a cmdline: PM2 sets `process.title`, which overwrites argv in place,
/// so /proc shows the title followed by NUL padding (split off by the scan; a title with
/// spaces may still come in pieces, which are joined back).
pub(crate) fn title_of(cmdline: &[String]) -> String {
    cmdline.join(" ")
}

/// The daemon version and home a scanned process's title names, when it is a God Daemon.
pub(crate) fn title_of_row(row: &Row) -> Option<(String, Option<String>)> {
    parse_title(&title_of(&row.cmdline))
}

/// Reads at most `max` bytes of a file.
fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Every running God Daemon: the scanned processes whose title parses.
pub(crate) fn running_daemons(table: &ProcessTable) -> Vec<RunningDaemon> {
    table
        .rows()
        .filter_map(|row| {
            let (version, home) = title_of_row(row)?;
            // The title is written over the process's original argv and cut to its length:
            // a long PM2_HOME loses its end. The daemon's environment names it in full.
            let home = home.or_else(|| home_from_environ(Path::new(&format!("/proc/{}/environ", row.pid))));
            Some(RunningDaemon { pid: row.pid, version, home })
        })
        .collect()
}

/// PM2 run in the foreground (pm2-runtime, `pm2 --no-daemon`: a container's PID 1)
/// without a God Daemon title: its pid and the PM2_HOME its environment names.
pub(crate) fn foreground_pm2(table: &ProcessTable) -> Vec<(u32, String)> {
    table
        .rows()
        .filter(|row| title_of_row(row).is_none() && super::super::node::runs_pm2_in_foreground(&row.cmdline))
        .filter_map(|row| Some((row.pid, home_from_environ(Path::new(&format!("/proc/{}/environ", row.pid)))?)))
        .collect()
}

/// The daemon title of a running process, when it is a God Daemon.
pub(crate) fn daemon_title(table: &ProcessTable, pid: u32) -> Option<(String, Option<String>)> {
    table.row(pid).and_then(title_of_row)
}

/// Reads a pid file: `Ok(None)` when it does not exist, an error when it is
/// unreadable or holds something other than a pid.
pub(crate) fn read_pid_file(path: &Path) -> Fact<Option<u32>> {
    match read_bounded(path, PID_FILE_MAX) {
        Ok(bytes) => match parse_pid(&bytes) {
            Some(pid) => Fact::Ok(Some(pid)),
            None => {
                Fact::Error(format!("{} holds {:?}, not a pid", path.display(), String::from_utf8_lossy(&bytes).trim()))
            }
        },
        Err(err) if err.kind() == io::ErrorKind::NotFound => Fact::Ok(None),
        Err(err) => Fact::Error(format!("cannot read {}: {}", path.display(), os_message(&err))),
    }
}

/// The pid a pid file holds: a positive number, surrounding whitespace allowed.
pub(crate) fn parse_pid(bytes: &[u8]) -> Option<u32> {
    std::str::from_utf8(bytes).ok()?.trim().parse::<u32>().ok().filter(|pid| *pid > 0)
}

/// The apps PM2 wrote pid files for (`pids/<name>-<pm_id>.pid`), with their processes.
pub(crate) fn fallback_apps(home: &Path, table: &ProcessTable) -> Vec<FallbackApp> {
    let Ok(entries) = std::fs::read_dir(home.join("pids")) else {
        return Vec::new();
    };
    let mut apps: Vec<FallbackApp> = entries
        .flatten()
        .take(PID_FILES_MAX)
        .filter_map(|entry| {
            let file_name = entry.file_name().into_string().ok()?;
            let (name, pm_id) = parse_pid_file_name(&file_name)?;
            let Fact::Ok(Some(pid)) = read_pid_file(&entry.path()) else {
                return None;
            };
            let written = entry.metadata().and_then(|meta| meta.modified()).ok();
            let process = table.process_if_readable(pid).filter(|_| !started_after(table.started(pid), written));
            Some(FallbackApp { name, pm_id, pid, process })
        })
        .collect();
    apps.sort_by_key(|app| app.pm_id);
    apps
}

/// Whether the process now at a pid file's pid started after the file was written: then it
/// is not the app PM2 wrote it for, but another process given the same pid since — after a
/// reboot, the pid files of the boot before are still there, and their pids are reused. PM2
/// starts an app, then writes its pid file. (A second of slack for coarse clocks; unknown
/// times keep the process.)
fn started_after(started: Option<SystemTime>, written: Option<SystemTime>) -> bool {
    match (started, written) {
        (Some(started), Some(written)) => started > written + Duration::from_secs(1),
        _ => false,
    }
}

/// `api-worker-3.pid` → (`api-worker`, 3): app names may hold `-`, the id is last.
pub(crate) fn parse_pid_file_name(file_name: &str) -> Option<(String, i64)> {
    let stem = file_name.strip_suffix(".pid")?;
    let (name, id) = stem.rsplit_once('-')?;
    Some((name.to_owned(), id.parse().ok()?))
}

/// Installed modules: the keys of `module_conf.json` (settings PM2 keeps per module)
/// and the entries of `modules/` (where `pm2 install` puts them), deduplicated.
pub(crate) fn modules(home: &Path) -> Fact<Vec<String>> {
    let mut names = Vec::new();
    let conf = home.join("module_conf.json");
    match read_bounded(&conf, 1 << 20) {
        Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(map)) => names.extend(map.keys().cloned()),
            Ok(_) => {
                return Fact::Error(format!("{} is not a JSON object", conf.display()));
            }
            Err(err) => return Fact::Error(format!("{} is not JSON: {err}", conf.display())),
        },
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => {
            return Fact::Error(format!("cannot read {}: {}", conf.display(), os_message(&err)));
        }
    }
    let dir = home.join("modules");
    match std::fs::read_dir(&dir) {
        Ok(entries) => names.extend(entries.flatten().filter_map(|entry| entry.file_name().into_string().ok())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => {
            return Fact::Error(format!("cannot read {}: {}", dir.display(), os_message(&err)));
        }
    }
    names.sort();
    names.dedup();
    Fact::Ok(names)
}

/// Where a system-wide pm2 usually is, when none is next to the daemon's node.
const PM2_CLI_PLACES: [&str; 2] = ["/usr/local/bin/pm2", "/usr/bin/pm2"];

/// The pm2 CLI for remediations: next to the node binary the daemon runs (npm puts
/// global bins beside node, nvm's included), else the usual system places.
pub(crate) fn pm2_cli(daemon: Option<&ProcessFacts>) -> Option<String> {
    let beside_node = daemon
        .and_then(|process| process.exe.ok())
        .and_then(|exe| Path::new(exe.trim_end_matches(" (deleted)")).parent().map(|dir| dir.join("pm2")))
        .map(|path| path.to_string_lossy().into_owned());
    beside_node
        .into_iter()
        .chain(PM2_CLI_PLACES.iter().map(|place| (*place).to_owned()))
        .find(|path| files::is_executable_file(Path::new(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(
            parse_title("PM2 v7.0.4: God Daemon (/root/.pm2)"),
            Some(("7.0.4".into(), Some("/root/.pm2".into())))
        );
        assert_eq!(
            parse_title("PM2 v5.3.0: God Daemon (/home/a b/.pm2)"),
            Some(("5.3.0".into(), Some("/home/a b/.pm2".into())))
        );
        assert_eq!(parse_title("PM2 v0.14.7: God Daemon"), Some(("0.14.7".into(), None)));
        assert_eq!(parse_title("node /usr/bin/pm2 resurrect"), None);
        // Cut to the length of the original argv: the version is there, the home is not.
        assert_eq!(parse_title("PM2 v7.0.4: God Daemon (/tmp/very-long-pm2-ho"), Some(("7.0.4".to_owned(), None)));
        assert_eq!(
            title_of(&["PM2 v7.0.4: God Daemon (/tmp/a".to_owned(), "b)".to_owned()]),
            "PM2 v7.0.4: God Daemon (/tmp/a b)"
        );
    }

    #[test]
    fn pid_file_names() {
        assert_eq!(parse_pid_file_name("api-worker-3.pid"), Some(("api-worker".into(), 3)));
        assert_eq!(parse_pid_file_name("web-0.pid"), Some(("web".into(), 0)));
        assert_eq!(parse_pid_file_name("web.pid"), None);
        assert_eq!(parse_pid_file_name("web-x.pid"), None);
    }

    #[test]
    fn pid_files() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("bootproof-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("good"), "30163")?;
        std::fs::write(dir.join("bad"), "hello")?;
        let good = read_pid_file(&dir.join("good"));
        let bad = read_pid_file(&dir.join("bad"));
        let missing = read_pid_file(&dir.join("missing"));
        std::fs::remove_dir_all(&dir)?;
        assert_eq!(good, Fact::Ok(Some(30163)));
        assert!(matches!(bad, Fact::Error(reason) if reason.contains("not a pid")));
        assert_eq!(missing, Fact::Ok(None));
        Ok(())
    }

    /// After a reboot the pid files of the boot before remain, and their pids are given to
    /// other processes: one that started after its pid file was written is not the app.
    #[test]
    fn a_pid_file_from_before_its_process_started_names_no_app() -> io::Result<()> {
        let home = std::env::temp_dir().join(format!("bootproof-stale-pids-{}", std::process::id()));
        std::fs::create_dir_all(home.join("pids"))?;
        let me = std::process::id().to_string();
        std::fs::write(home.join("pids/fresh-0.pid"), &me)?;
        std::fs::write(home.join("pids/stale-1.pid"), &me)?;
        let an_hour_before_this_test = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(home.join("pids/stale-1.pid"))?
            .set_modified(an_hour_before_this_test)?;
        let apps = fallback_apps(&home, &ProcessTable::scan());
        std::fs::remove_dir_all(&home)?;
        let running: Vec<(&str, bool)> = apps.iter().map(|a| (a.name.as_str(), a.process.is_some())).collect();
        assert_eq!(running, [("fresh", true), ("stale", false)]);
        assert!(!started_after(None, Some(an_hour_before_this_test)), "an unknown start keeps the process");
        Ok(())
    }

    #[test]
    fn modules_from_conf_and_dir() -> io::Result<()> {
        let home = std::env::temp_dir().join(format!("bootproof-modules-{}", std::process::id()));
        std::fs::create_dir_all(home.join("modules/pm2-logrotate"))?;
        std::fs::write(
            home.join("module_conf.json"),
            r#"{"pm2-logrotate": {"max_size": "10M"}, "pm2-server-monit": {}}"#,
        )?;
        let found = modules(&home);
        std::fs::write(home.join("module_conf.json"), "[")?;
        let broken = modules(&home);
        std::fs::remove_dir_all(&home)?;
        assert_eq!(found, Fact::Ok(vec!["pm2-logrotate".into(), "pm2-server-monit".into()]));
        assert!(matches!(broken, Fact::Error(_)));
        Ok(())
    }
}
