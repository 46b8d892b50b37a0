//! The process facts of a run, from its one /proc scan ([`ProcessTable`]): every node
//! process and TCP listener with its parents and cgroup ([`scan_facts`]), the users with
//! lingering, the user units that hold those processes as their files say, and which
//! system units have a node process in their cgroup ([`node_units`]), for discovery.

use std::collections::BTreeMap;
use std::path::Path;

use super::cgroup::CgroupPlace;
use super::files::{self, os_message};
use super::model::{Ancestor, Fact, NodeRunning, ProcessScan, ScannedProcess, UserUnitFacts};
use super::pm2::daemon;
use super::procfs::{self, ProcessTable, Row};

/// How far up a process's parents are followed (a real chain is a handful long).
const ANCESTORS_MAX: usize = 64;

/// An ancestor's command line is kept this long.
const TITLE_MAX: usize = 200;

/// Where systemd keeps the users whose manager it starts at boot.
const LINGER_DIR: &str = "/var/lib/systemd/linger";

/// A node process in a system service's cgroup.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NodeInUnit {
    /// The first node process (lowest pid).
    pub(crate) node: NodeRunning,
    /// One of its node processes is a PM2 God Daemon: the unit supervises a PM2 home.
    pub(crate) pm2_daemon: bool,
}

/// The system service units whose cgroup holds a node process, by unit name.
pub(crate) fn node_units(table: &ProcessTable) -> BTreeMap<String, NodeInUnit> {
    let mut units: BTreeMap<String, NodeInUnit> = BTreeMap::new();
    for row in table.rows().filter(|row| row.runtime().is_some()) {
        let Some(CgroupPlace::SystemService(unit)) = table.cgroup(row.pid).as_deref().map(CgroupPlace::parse) else {
            continue;
        };
        let is_daemon = daemon::title_of_row(row).is_some();
        let entry = units.entry(unit).or_insert_with(|| NodeInUnit {
            node: NodeRunning {
                pid: row.pid,
                exe: row.exe.ok().cloned().unwrap_or_default(),
                cmdline: row.cmdline.clone(),
            },
            pm2_daemon: false,
        });
        entry.pm2_daemon |= is_daemon;
    }
    units
}

/// Every node process and TCP listener, with what surrounds it (see [`ProcessScan`]).
pub(crate) fn scan_facts(table: &ProcessTable) -> ProcessScan {
    let mut processes = Vec::new();
    let mut unreadable = table.unreadable().cloned();
    let own_depth = procfs::own_nspid_depth();
    for row in table.rows() {
        let runtime = row.runtime();
        if runtime.is_none() && !table.listens(row.pid) {
            continue;
        }
        let (process, depth) = match table.process_with_namespace(row.pid) {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(err) => {
                let entry = unreadable.get_or_insert_with(|| (0, format!("/proc/{}: {}", row.pid, os_message(&err))));
                entry.0 += 1;
                continue;
            }
        };
        let ancestors = ancestors(table, row);
        let place = process.cgroup.as_deref().map(CgroupPlace::parse);
        let under_pm2 = daemon::title_of_row(row).is_some()
            || ancestors.iter().any(|a| table.row(a.pid).and_then(daemon::title_of_row).is_some());
        // The processes whose remediation sketches a unit: outside system services,
        // containers and PM2. Nobody else's cwd or environment is read.
        let in_child_pid_namespace = depth.zip(own_depth).is_some_and(|(theirs, ours)| theirs > ours);
        let sketched = !under_pm2
            && !in_child_pid_namespace
            && !matches!(place, Some(CgroupPlace::SystemService(_) | CgroupPlace::Container { .. }));
        let (cwd, env_names) =
            if sketched { (Some(procfs::cwd(row.pid)), Some(procfs::env_names(row.pid))) } else { (None, None) };
        processes.push(ScannedProcess {
            process,
            ppid: row.ppid,
            runtime: runtime.map(str::to_owned),
            ancestors,
            in_child_pid_namespace,
            cwd,
            env_names,
        });
    }
    let user_units = user_units(&processes);
    ProcessScan {
        processes,
        unattributed: table.unattributed().cloned(),
        unreadable: unreadable.map(|(count, first)| format!("{count} process(es) could not be read, first {first}")),
        lingering: lingering(Path::new(LINGER_DIR)),
        user_units,
    }
}

/// A process's parents, nearest first, up to PID 1 (or a parent outside this PID
/// namespace, or one that exited).
fn ancestors(table: &ProcessTable, row: &Row) -> Vec<Ancestor> {
    let mut chain = Vec::new();
    let mut pid = row.ppid;
    while pid > 1 && chain.len() < ANCESTORS_MAX {
        let Some(parent) = table.row(pid) else { break };
        chain.push(Ancestor {
            pid,
            ppid: parent.ppid,
            comm: parent.comm.clone(),
            exe: parent.exe.ok().cloned(),
            title: parent.title(TITLE_MAX),
            cgroup: table.cgroup(pid),
        });
        pid = parent.ppid;
    }
    chain
}

/// The users in the linger directory: their managers start at boot.
fn lingering(dir: &Path) -> Fact<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut users: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
            users.sort();
            Fact::Ok(users)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Fact::Ok(Vec::new()),
        Err(err) => Fact::Error(format!("cannot read {}: {}", dir.display(), os_message(&err))),
    }
}

/// The user unit directories that survive a reboot, in systemd's order (systemd.unit(5)),
/// `~` standing for the user's home.
const USER_UNIT_DIRS: [&str; 8] = [
    "~/.config/systemd/user",
    "/etc/systemd/user",
    "/etc/xdg/systemd/user",
    "~/.local/share/systemd/user",
    "/usr/local/share/systemd/user",
    "/usr/share/systemd/user",
    "/usr/local/lib/systemd/user",
    "/usr/lib/systemd/user",
];

/// Where `systemctl --user enable` (and `--global enable`) put their links.
const USER_ENABLE_DIRS: [&str; 2] = ["~/.config/systemd/user", "/etc/systemd/user"];

/// The user services holding scanned processes, as their files on disk say.
fn user_units(processes: &[ScannedProcess]) -> Vec<UserUnitFacts> {
    let mut seen: BTreeMap<(u32, String), ()> = BTreeMap::new();
    for process in processes {
        if let Some(CgroupPlace::UserUnit { uid, unit }) = process.process.cgroup.as_deref().map(CgroupPlace::parse)
            && unit.ends_with(".service")
        {
            seen.insert((uid, unit), ());
        }
    }
    seen.into_keys().map(|(uid, unit)| user_unit(uid, unit)).collect()
}

/// One user service: its unit file and the targets that want it.
fn user_unit(uid: u32, unit: String) -> UserUnitFacts {
    let account = match files::lookup_user(&uid.to_string()) {
        Ok(Some(account)) => account,
        Ok(None) => {
            return UserUnitFacts {
                uid,
                user: None,
                unit,
                file: None,
                wanted_by: Vec::new(),
                readable: Fact::Error(format!("uid {uid} has no account: its home is unknown")),
            };
        }
        Err(err) => {
            return UserUnitFacts {
                uid,
                user: None,
                unit,
                file: None,
                wanted_by: Vec::new(),
                readable: Fact::Error(format!("cannot look up uid {uid}: {}", os_message(&err))),
            };
        }
    };
    let expand = |dir: &str| dir.replacen('~', account.home.trim_end_matches('/'), 1);
    // An instance's file is its template's.
    let template = super::unit_file::split_instance(&unit).map(|(template, _)| template);
    let file = USER_UNIT_DIRS.iter().map(|dir| expand(dir)).find_map(|dir| {
        [Some(unit.as_str()), template.as_deref()]
            .into_iter()
            .flatten()
            .map(|name| format!("{dir}/{name}"))
            .find(|path| Path::new(path).exists())
    });
    let mut wanted_by = Vec::new();
    let mut readable = Fact::Ok(());
    for dir in USER_ENABLE_DIRS.iter().map(|dir| expand(dir)) {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                readable = Fact::Error(format!("cannot read {dir}: {}", os_message(&err)));
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(target) = name.strip_suffix(".wants").or_else(|| name.strip_suffix(".requires")) else {
                continue;
            };
            if entry.path().join(&unit).symlink_metadata().is_ok() && !wanted_by.iter().any(|t| t == target) {
                wanted_by.push(target.to_owned());
            }
        }
    }
    wanted_by.sort();
    UserUnitFacts { uid, user: Some(account.name), unit, file, wanted_by, readable }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_linger_directory_means_nobody_lingers() {
        assert_eq!(lingering(Path::new("/nonexistent/linger")), Fact::Ok(Vec::new()));
    }

    #[test]
    fn this_test_process_is_not_scanned_unless_it_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let scan = scan_facts(&ProcessTable::scan());
        let me = scan.processes.iter().find(|p| p.process.pid == std::process::id()).expect("a listener is scanned");
        assert!(me.process.listening.iter().any(|l| l.port == port), "{me:#?}");
        assert_eq!(me.runtime, None);
        assert!(me.ancestors.iter().all(|a| a.pid > 1));
    }
}
