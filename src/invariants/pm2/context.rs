//! What every PM2 invariant needs to know about a home, worked out once: its unit, the
//! live apps, the saved apps, who owns it, and the pm2 command an operator pastes.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{CheckConfig, ExpectedPm2};
use crate::facts::{
    ActiveState, Fact, LiveApp, LoadState, Pm2Home, Pm2Status, ProcessFacts, RpcAnswer, SavedApp, UnitFacts,
};
use crate::invariants::fix;
use crate::invariants::process::{Labelled, Running};

/// One PM2 home, prepared for judging.
pub(super) struct Context<'a> {
    pub(super) home: &'a Pm2Home,
    /// The unit that resurrects this home at boot: a loaded one first.
    pub(super) unit: Option<&'a UnitFacts>,
    /// Apps the live daemon runs (modules left out), when it could be asked.
    pub(super) live: Option<Vec<&'a LiveApp>>,
    /// The daemon's process, when one runs.
    pub(super) daemon: Option<&'a ProcessFacts>,
    /// The apps saved in dump.pm2 (modules left out), when it parsed.
    pub(super) saved: Option<Vec<&'a SavedApp>>,
    /// The account PM2 runs as here.
    pub(super) owner: String,
    /// The owner's home directory (`--hp` of `pm2 startup`).
    pub(super) owner_home: String,
    /// The pm2 command to paste.
    pub(super) pm2: String,
    /// The check file's expectations for this home.
    pub(super) expected: Option<&'a ExpectedPm2>,
    /// `[thresholds] dump_max_age`, in milliseconds.
    pub(super) dump_max_age_ms: Option<u64>,
    /// When the facts were gathered, ms since the epoch.
    pub(super) now_ms: u64,
    /// Apps dump.pm2 lists as stopped only because the daemon was killed (at a shutdown)
    /// just after they exited, before it could start them again: PM2 was running them.
    pub(super) stopped_by_kill: BTreeSet<&'a str>,
}

impl<'a> Context<'a> {
    /// `booted_at_s`: when this boot started, seconds since the epoch.
    pub(super) fn new(home: &'a Pm2Home, config: &'a CheckConfig, now_ms: u64, booted_at_s: Option<i64>) -> Self {
        let loaded = |u: &&UnitFacts| u.properties.ok().is_some_and(|p| p.load_state == LoadState::Loaded);
        let unit = home.units.iter().find(loaded).or_else(|| home.units.first());
        let live = match &home.daemon.rpc {
            Fact::Ok(RpcAnswer::Apps { apps }) => Some(apps.iter().filter(|a| !a.is_module).collect()),
            _ => None,
        };
        let saved = home.dump.apps.ok().map(|apps| apps.iter().filter(|a| !a.is_module).collect());
        let owner = home.owner.as_ref().map_or_else(|| "root".to_owned(), |a| a.name.clone());
        let owner_home = home.owner.as_ref().map_or_else(
            || home.home.trim_end_matches('/').trim_end_matches(".pm2").trim_end_matches('/').to_owned(),
            |a| a.home.clone(),
        );
        // Else the pm2 the unit runs (`pm2 startup` writes its real path into ExecStart).
        let pm2 = home
            .pm2_cli
            .clone()
            .or_else(|| {
                let service = unit?.service.ok()?;
                service
                    .exec_start
                    .iter()
                    .map(|e| e.path.as_str())
                    .find(|p| p.rsplit('/').next() == Some("pm2"))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "pm2".to_owned());
        let stopped_by_kill = stopped_by_kill(home, saved.as_deref(), booted_at_s);
        let expected = config.pm2.iter().find(|e| e.home.trim_end_matches('/') == home.home.trim_end_matches('/'));
        Context {
            home,
            unit,
            live,
            daemon: home.daemon.process.as_ref(),
            saved,
            owner,
            owner_home,
            pm2,
            expected,
            dump_max_age_ms: config.thresholds.dump_max_age.map(|secs| secs.saturating_mul(1000)),
            now_ms,
            stopped_by_kill,
        }
    }

    /// `pm2 CMD` run as the home's owner with its PM2_HOME, pasteable from a sudo-capable shell.
    pub(super) fn as_owner(&self, command: &str) -> String {
        let env = format!("env PM2_HOME={} {} {command}", fix::quote(&self.home.home), fix::quote(&self.pm2));
        if self.owner == "root" { format!("sudo {env}") } else { format!("sudo -u {} {env}", fix::quote(&self.owner)) }
    }

    /// The `pm2 startup` line PM2 itself prints, for this home's owner, with the node of
    /// `node_dir` on PATH (see [`Context::node_dir`]).
    pub(super) fn startup_with(&self, node_dir: &str) -> String {
        format!(
            "sudo env PATH=$PATH:{} {} startup systemd -u {} --hp {}",
            fix::quote(node_dir),
            fix::quote(&self.pm2),
            fix::quote(&self.owner),
            fix::quote(&self.owner_home)
        )
    }

    /// The `pm2 startup` line for the node the daemon runs now.
    pub(super) fn startup(&self) -> String {
        self.startup_with(&self.node_dir())
    }

    /// The directory of the node the daemon runs (what `pm2 startup` pins in PATH);
    /// `/usr/bin` when no daemon runs or its binary cannot be seen.
    pub(super) fn node_dir(&self) -> String {
        self.daemon
            .and_then(|p| p.exe.ok())
            .and_then(|exe| exe.rsplit_once('/').map(|(dir, _)| dir.to_owned()))
            .unwrap_or_else(|| "/usr/bin".to_owned())
    }

    /// The unit `pm2 startup` writes for this owner.
    pub(super) fn unit_name(&self) -> String {
        self.unit.map_or_else(|| format!("pm2-{}.service", self.owner), |u| u.name.clone())
    }

    /// Whether a reboot could lose anything here: no app runs (per the daemon, or the pid
    /// files when it cannot be asked), none is saved, and the check file expects none. Such
    /// a home is what `pm2 startup` or `pm2 ls` leave behind in root's home; it needs no
    /// supervisor.
    pub(super) fn nothing_to_supervise(&self) -> bool {
        let none_runs = match &self.live {
            Some(apps) => apps.is_empty(),
            // Something listens on rpc.sock but did not say what it runs: unknown, not none.
            None if self.daemon_unreadable().is_some() => false,
            None => self.home.daemon.fallback_apps.iter().all(|app| app.process.is_none()),
        };
        none_runs && self.saved.as_ref().is_some_and(Vec::is_empty) && self.expected.is_none_or(|e| e.apps.is_empty())
    }

    /// Why what this home runs cannot be told, when that is so: something listens on its
    /// `rpc.sock` (so a daemon is there) but did not answer, or answered what bootproof
    /// cannot read, no pid file shows a running app, and nothing is saved in dump.pm2.
    /// Taking that for "nothing runs" would be a silent pass.
    pub(super) fn unknown_whether_anything_runs(&self) -> Option<String> {
        let reason = self.daemon_unreadable()?;
        let pid_files_show_apps = self.home.daemon.fallback_apps.iter().any(|app| app.process.is_some());
        let saved_some = self.saved.as_ref().is_some_and(|saved| !saved.is_empty());
        (!pid_files_show_apps && !saved_some).then(|| {
            format!(
                "a PM2 daemon listens on {}/rpc.sock but what it runs could not be read ({reason}), and nothing is saved in dump.pm2",
                self.home.home
            )
        })
    }

    /// Why dump.pm2 could not be read, when it could not.
    pub(super) fn dump_unreadable(&self) -> Option<&str> {
        match &self.home.dump.apps {
            Fact::Error(reason) => Some(reason),
            Fact::Ok(_) => None,
        }
    }

    /// Why the daemon that listens on rpc.sock could not be asked, when it could not (as
    /// opposed to no daemon running, which leaves nothing to ask).
    pub(super) fn daemon_unreadable(&self) -> Option<String> {
        match &self.home.daemon.rpc {
            Fact::Ok(RpcAnswer::NoAnswer { waited_ms }) => Some(format!("no answer in {waited_ms} ms")),
            Fact::Error(reason) => Some(reason.clone()),
            Fact::Ok(RpcAnswer::Apps { .. } | RpcAnswer::NotRunning { .. }) => None,
        }
    }

    /// Whether systemd owns the running daemon: the unit is active and the daemon is its
    /// main process or in its cgroup. `None` when there is no daemon or no unit, or the
    /// unit could not be read.
    pub(super) fn daemon_owned_by_unit(&self) -> Option<bool> {
        let daemon = self.daemon?;
        let unit = self.unit?;
        let service = unit.service.ok()?;
        let active = unit.properties.ok()?.active_state == ActiveState::Active;
        let in_cgroup = daemon.cgroup.as_deref().is_some_and(|cg| {
            !service.control_group.is_empty()
                && (cg == service.control_group || cg.starts_with(&format!("{}/", service.control_group)))
        });
        Some(active && (service.main_pid == daemon.pid || in_cgroup))
    }

    /// The daemon and every app process, labelled for messages: from the live daemon, or
    /// from `pids/*.pid` when it could not be asked.
    pub(super) fn running(&self) -> Running<'a> {
        let mut all: Vec<Labelled<'a>> = self
            .daemon
            .map(|p| Labelled { label: format!("the PM2 daemon (pid {})", p.pid), process: p })
            .into_iter()
            .collect();
        let app =
            |name: &str, p: &'a ProcessFacts| Labelled { label: format!("app {name} (pid {})", p.pid), process: p };
        match &self.live {
            Some(live) => all.extend(live.iter().filter_map(|a| a.process.as_ref().map(|p| app(&a.name, p)))),
            None => all.extend(
                self.home.daemon.fallback_apps.iter().filter_map(|a| a.process.as_ref().map(|p| app(&a.name, p))),
            ),
        }
        Ok(all)
    }
}

/// The saved apps whose `stopped` is the last kill's doing, not an operator's: the kill
/// caught them down and wrote the dump that is on disk now — no daemon ran since, or the
/// dump is older than this boot (so nothing saved it after the daemon that resurrected it).
fn stopped_by_kill<'a>(home: &Pm2Home, saved: Option<&[&'a SavedApp]>, booted_at_s: Option<i64>) -> BTreeSet<&'a str> {
    let (Fact::Ok(Some(kill)), Some(saved)) = (&home.last_kill, saved) else { return BTreeSet::new() };
    let dump_mtime = home.dump.file.stat.ok().and_then(Option::as_ref).map(|stat| stat.mtime);
    let dump_is_the_kills = match home.daemon.process {
        None => kill.daemons_after == 0,
        Some(_) => matches!((dump_mtime, booted_at_s), (Some(written), Some(booted)) if written < booted),
    };
    if !dump_is_the_kills {
        return BTreeSet::new();
    }
    saved
        .iter()
        .filter(|app| app.status == Some(Pm2Status::Stopped) && kill.apps_down.contains(&app.name))
        .map(|app| app.name.as_str())
        .collect()
}

/// Online instances per app name.
pub(super) fn online_counts<'a>(apps: &[&'a LiveApp]) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for app in apps {
        let entry = counts.entry(app.name.as_str()).or_insert(0);
        if app.status == Pm2Status::Online {
            *entry += 1;
        }
    }
    counts
}

/// Processes saved per app name: one entry per process, or a cluster app's `instances`
/// when that is more.
pub(super) fn saved_counts<'a>(apps: &[&'a SavedApp]) -> BTreeMap<&'a str, usize> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for app in apps {
        let entries = counts.entry(app.name.as_str()).or_insert(0);
        *entries += 1;
    }
    for app in apps {
        let declared = app.instances.filter(|n| *n > 0).and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
        if let Some(count) = counts.get_mut(app.name.as_str()) {
            *count = (*count).max(declared);
        }
    }
    counts
}

/// Whether `pm2 resurrect` starts a saved app again: PM2 starts every saved app but a
/// `stopped` one (God.prepare), an `errored` or `waiting restart` one included.
pub(super) fn saved_online(app: &SavedApp) -> bool {
    app.status.as_ref() != Some(&Pm2Status::Stopped)
}

/// `3m`, `2h`, `5d`: an age in its largest whole unit.
pub(super) fn human_age(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_written_in_their_largest_unit() {
        assert_eq!(human_age(59_000), "59s");
        assert_eq!(human_age(180_000), "3m");
        assert_eq!(human_age(7_200_000), "2h");
        assert_eq!(human_age(3 * 86_400_000), "3d");
    }
}
