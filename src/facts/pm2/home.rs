//! Gathers one PM2 home's facts — directory and owner, dumps, daemon, modules — and
//! all homes at once: the daemons are asked concurrently, so a silent one costs the
//! run one timeout, not one per home.

use std::path::Path;

use futures_util::future::join_all;

use super::super::files;
use super::super::model::{DaemonFacts, Fact, FileFacts, Pm2Home, RpcAnswer, UnitFacts};
use super::super::node::runs_pm2_in_foreground;
use super::super::procfs::ProcessTable;
use super::daemon::{self, RunningDaemon};
use super::discover::{self, FoundHome, Homes};
use super::dump;
use super::log;
use super::rpc::{self, RPC_TIMEOUT};

/// Finds the homes that need no systemd to be found (see [`discover::local_homes`])
/// and gathers them.
pub(crate) async fn gather_local(extra_homes: &[String], table: &ProcessTable) -> (Vec<Pm2Home>, Vec<RunningDaemon>) {
    let (found, daemons) = discover::local_homes(extra_homes, table);
    let homes = join_all(found.into_iter().map(|found| gather_home(found, &daemons, table))).await;
    (homes, daemons)
}

/// Attaches the supervisor units to the homes they serve, gathering the homes only
/// units pointed at, and returns all homes sorted by path. A unit whose home cannot be
/// told (no PM2_HOME and a User= without an account) is left out.
pub(crate) async fn with_units(
    mut homes: Vec<Pm2Home>,
    daemons: &[RunningDaemon],
    units: Vec<UnitFacts>,
    table: &ProcessTable,
) -> Vec<Pm2Home> {
    let mut unit_homes: Vec<(String, UnitFacts)> =
        units.into_iter().filter_map(|unit| Some((discover::unit_home(&unit)?, unit))).collect();
    let mut missing = Homes::default();
    for (home, unit) in &unit_homes {
        let key = discover::home_key(home);
        if !homes.iter().any(|known| discover::home_key(&known.home) == key) {
            missing.add(home, format!("unit {}", unit.name));
        }
    }
    let more = join_all(missing.into_vec().into_iter().map(|found| gather_home(found, daemons, table))).await;
    homes.extend(more);
    for home in &mut homes {
        let key = discover::home_key(&home.home);
        let (mine, rest): (Vec<_>, Vec<_>) =
            unit_homes.into_iter().partition(|(unit_home, _)| discover::home_key(unit_home) == key);
        unit_homes = rest;
        for (_, unit) in mine {
            let how = format!("unit {}", unit.name);
            if !home.found_by.contains(&how) {
                home.found_by.push(how);
            }
            home.units.push(unit);
        }
        home.units.sort_by(|a, b| a.name.cmp(&b.name));
    }
    homes.sort_by(|a, b| a.home.cmp(&b.home));
    homes
}

/// Everything about one home.
pub(crate) async fn gather_home(found: FoundHome, daemons: &[RunningDaemon], table: &ProcessTable) -> Pm2Home {
    let home = Path::new(&found.home);
    // Ask first: the socket wait overlaps the other homes' (see `gather_local`).
    let rpc =
        crate::timings::timed("pm2: rpc.sock getMonitorData", rpc::monitor_data(&home.join("rpc.sock"), RPC_TIMEOUT))
            .await;
    let dir = files::stat_file(&found.home);
    let ancestors = ancestors(home);
    let owner = dir
        .stat
        .ok()
        .and_then(Option::as_ref)
        .and_then(|stat| files::lookup_user(&stat.uid.to_string()).ok().flatten());
    let daemon = daemon_facts(home, daemons, rpc, table);
    let pm2_cli = daemon::pm2_cli(daemon.process.as_ref());
    let last_kill = log::read_last_kill(&home.join("pm2.log").to_string_lossy());
    Pm2Home {
        dump: dump::read_dump(&home.join("dump.pm2").to_string_lossy()),
        dump_backup: dump::read_dump(&home.join("dump.pm2.bak").to_string_lossy()),
        modules: daemon::modules(home),
        home: found.home,
        found_by: found.found_by,
        dir,
        ancestors,
        owner,
        units: Vec::new(),
        daemon,
        pm2_cli,
        last_kill,
    }
}

/// The directories above `home`, outermost first, of its canonical path when it exists.
fn ancestors(home: &Path) -> Vec<FileFacts> {
    let real = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
    let mut above: Vec<FileFacts> =
        real.ancestors().skip(1).map(|dir| files::stat_file(&dir.to_string_lossy())).collect();
    above.reverse();
    above
}

/// The daemon: its pid file, its process (the God Daemon titled with this home, else
/// the pid file's process when that is a God Daemon), and its apps.
fn daemon_facts(home: &Path, daemons: &[RunningDaemon], rpc: Fact<RpcAnswer>, table: &ProcessTable) -> DaemonFacts {
    let pid_file = daemon::read_pid_file(&home.join("pm2.pid"));
    let key = discover::home_key(&home.to_string_lossy());
    let titled =
        daemons.iter().find(|daemon| daemon.home.as_deref().is_some_and(|titled| discover::home_key(titled) == key));
    let (pid, version) = match (titled, &pid_file) {
        (Some(daemon), _) => (Some(daemon.pid), Some(daemon.version.clone())),
        // A pid file whose process is a God Daemon of no other home.
        (None, Fact::Ok(Some(pid))) => match daemon::daemon_title(table, *pid) {
            Some((version, None)) => (Some(*pid), Some(version)),
            Some((version, Some(titled))) if discover::home_key(&titled) == key => (Some(*pid), Some(version)),
            // pm2-runtime keeps its daemon in its own process, untitled (a container's PID 1).
            None if table.row(*pid).is_some_and(|row| runs_pm2_in_foreground(&row.cmdline)) => (Some(*pid), None),
            _ => (None, None),
        },
        _ => (None, None),
    };
    let process = pid.and_then(|pid| table.process_if_readable(pid));
    let (rpc, fallback_apps) = match rpc {
        Fact::Ok(RpcAnswer::Apps { mut apps }) => {
            for app in &mut apps {
                app.process = table.process_if_readable(app.pid);
            }
            (Fact::Ok(RpcAnswer::Apps { apps }), Vec::new())
        }
        // The daemon could not be asked: what its pid files and /proc still show.
        other => (other, daemon::fallback_apps(home, table)),
    };
    DaemonFacts { pid_file, process, version, rpc, fallback_apps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_run_from_the_root_down_to_the_parent() {
        let found: Vec<String> = ancestors(Path::new("/nonexistent/u/.pm2")).into_iter().map(|dir| dir.path).collect();
        assert_eq!(found, ["/", "/nonexistent", "/nonexistent/u"]);
    }
}
