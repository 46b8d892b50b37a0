//! Invariants of a PM2 home (subject `pm2:<PM2_HOME>`): is the daemon registered with
//! systemd, enabled, and owned by it rather than by a shell; does `dump.pm2` hold every
//! running app so that `pm2 resurrect` brings them back; did it; is anything crash
//! looping; and the risks the incident report named (root, node under ~/.nvm).

use std::collections::BTreeMap;

use crate::config::{CheckConfig, ExpectedPm2};
use crate::facts::{Fact, HostFacts, LiveApp, Pm2Home, ProcessFacts, RpcAnswer, SavedApp, UnitFacts};
use crate::invariants::{CheckId, process, unit};
use crate::report::{Finding, Subject};

/// Restarts at or above this, with the current process up for less than
/// [`CRASH_LOOP_UPTIME_MS`], is a crash loop.
const CRASH_LOOP_RESTARTS: u64 = 5;
/// Uptime under which climbing restarts count as a loop.
const CRASH_LOOP_UPTIME_MS: u64 = 60_000;
/// Environment variable names that usually carry secrets.
const SECRET_HINTS: &[&str] = &["PASS", "SECRET", "TOKEN", "KEY", "PRIVATE", "CREDENTIAL", "DATABASE_URL", "AUTH"];

/// Every PM2 invariant for `home`; `now_ms` is when the facts were gathered.
pub(crate) fn judge(home: &Pm2Home, host: &HostFacts, config: &CheckConfig, now_ms: u64) -> Vec<Finding> {
    let subject = Subject::Pm2(home.home.clone());
    let ctx = Context::new(home, config);
    let mut findings = vec![registered(&ctx, &subject)];
    match ctx.unit {
        Some(unit) => {
            findings.push(unit::enabled(unit, host, &subject));
            match &unit.service {
                Fact::Ok(service) => {
                    findings.push(unit::user(unit, service, &subject));
                    findings.push(unit::exec(unit, service, &subject));
                }
                Fact::Error(reason) => {
                    for check in [CheckId::UnitUser, CheckId::UnitExec] {
                        findings.push(Finding::error(
                            check,
                            &subject,
                            format!("service properties unreadable: {reason}"),
                        ));
                    }
                }
            }
        }
        None => {
            for check in [CheckId::SupervisorEnabled, CheckId::UnitUser, CheckId::UnitExec] {
                findings.push(Finding::skip(
                    check,
                    &subject,
                    "no unit starts PM2 for this home (see supervisor.registered)",
                ));
            }
        }
    }
    findings.push(active(&ctx, &subject));
    findings.push(dump(&ctx, &subject, now_ms));
    findings.push(dump_fresh(&ctx, &subject));
    findings.push(resurrected(&ctx, &subject));
    findings.push(crash_loop(&ctx, &subject, now_ms));
    findings.push(log_rotation(&ctx, &subject));
    findings.push(dump_secrets(&ctx, &subject));
    findings.push(memory_limit(&ctx, &subject));
    findings.push(not_root(&ctx, &subject));
    findings.push(node_runtime(&ctx, &subject));
    findings
}

/// What every PM2 invariant needs to know about a home, worked out once.
struct Context<'a> {
    home: &'a Pm2Home,
    /// The unit that resurrects this home at boot: a loaded one first.
    unit: Option<&'a UnitFacts>,
    /// Apps the live daemon runs (modules left out), when it could be asked.
    live: Option<Vec<&'a LiveApp>>,
    /// The daemon's pid, from its process or `pm2.pid` when that process runs.
    daemon: Option<&'a ProcessFacts>,
    /// The apps saved in dump.pm2 (modules left out), when it parsed.
    saved: Option<Vec<&'a SavedApp>>,
    /// The account PM2 runs as here.
    owner: String,
    /// The owner's home directory (`--hp` of `pm2 startup`).
    owner_home: String,
    /// The pm2 command to paste.
    pm2: String,
    /// The check file's expectations for this home.
    expected: Option<&'a ExpectedPm2>,
}

impl<'a> Context<'a> {
    fn new(home: &'a Pm2Home, config: &'a CheckConfig) -> Self {
        let unit = home.units.iter().find(|u| u.load_state == "loaded").or_else(|| home.units.first());
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
        let expected = config.pm2.iter().find(|e| e.home.trim_end_matches('/') == home.home.trim_end_matches('/'));
        Context { home, unit, live, daemon: home.daemon.process.as_ref(), saved, owner, owner_home, pm2, expected }
    }

    /// `pm2 CMD` run as the home's owner with its PM2_HOME, pasteable from a sudo-capable shell.
    fn as_owner(&self, command: &str) -> String {
        let env = format!("env PM2_HOME={} {} {command}", self.home.home, self.pm2);
        if self.owner == "root" { format!("sudo {env}") } else { format!("sudo -u {} {env}", self.owner) }
    }

    /// The `pm2 startup` line PM2 itself prints, for this home's owner.
    fn startup(&self) -> String {
        format!(
            "sudo env PATH=$PATH:{} {} startup systemd -u {} --hp {}",
            self.node_dir(),
            self.pm2,
            self.owner,
            self.owner_home
        )
    }

    /// The directory of the node the daemon runs (what `pm2 startup` pins in PATH).
    fn node_dir(&self) -> String {
        self.daemon
            .and_then(|p| p.exe.ok())
            .and_then(|exe| exe.rsplit_once('/').map(|(dir, _)| dir.to_owned()))
            .unwrap_or_else(|| "/usr/bin".to_owned())
    }

    /// The unit `pm2 startup` writes for this owner.
    fn unit_name(&self) -> String {
        self.unit.map_or_else(|| format!("pm2-{}.service", self.owner), |u| u.name.clone())
    }

    /// Whether a reboot could lose anything here: no app runs (per the daemon, or the pid
    /// files when it cannot be asked), none is saved, and the check file expects none. Such
    /// a home is what `pm2 startup` or `pm2 ls` leave behind in root's home; it needs no
    /// supervisor.
    fn nothing_to_supervise(&self) -> bool {
        let none_runs = match &self.live {
            Some(apps) => apps.is_empty(),
            None => self.home.daemon.fallback_apps.iter().all(|app| app.process.is_none()),
        };
        none_runs && self.saved.as_ref().is_some_and(Vec::is_empty) && self.expected.is_none_or(|e| e.apps.is_empty())
    }

    /// Whether systemd owns the running daemon: it is the unit's main process or in its cgroup.
    fn daemon_owned_by_unit(&self) -> Option<bool> {
        let daemon = self.daemon?;
        let unit = self.unit?;
        let service = unit.service.ok()?;
        let in_cgroup = daemon.cgroup.as_deref().is_some_and(|cg| {
            !service.control_group.is_empty()
                && (cg == service.control_group || cg.starts_with(&format!("{}/", service.control_group)))
        });
        Some(unit.active_state == "active" && (service.main_pid == daemon.pid || in_cgroup))
    }
}

/// Online instances per app name.
fn online_counts<'a>(apps: &[&'a LiveApp]) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for app in apps {
        let entry = counts.entry(app.name.as_str()).or_insert(0);
        if app.status == "online" {
            *entry += 1;
        }
    }
    counts
}

fn registered(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorRegistered;
    let units: Vec<&str> = ctx.home.units.iter().map(|u| u.name.as_str()).collect();
    let finding = match ctx.unit {
        Some(unit) => return unit::registered(unit, subject).evidence("units", units),
        None if ctx.nothing_to_supervise() => Finding::skip(
            check,
            subject,
            format!("no app runs or is saved in {}: a reboot loses nothing here", ctx.home.home),
        ),
        None => Finding::violated(
            check,
            subject,
            format!(
                "no systemd unit starts PM2 for {}: after a reboot nothing runs pm2 resurrect, and every app stays down",
                ctx.home.home
            ),
            ctx.startup(),
        ),
    };
    finding.evidence("units", units)
}

fn active(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorActive;
    let unit_name = ctx.unit_name();
    let handover = format!("{} && {} && sudo systemctl start {unit_name}", ctx.as_owner("save"), ctx.as_owner("kill"));
    let daemon_pid = ctx.daemon.map(|p| p.pid);
    let finding = match (ctx.daemon, ctx.unit) {
        (_, None) if ctx.nothing_to_supervise() => {
            Finding::skip(check, subject, "no app runs or is saved here, and no unit starts PM2 for this home")
        }
        (None, Some(unit)) => Finding::violated(
            check,
            subject,
            format!("PM2 is not running: {unit_name} is {} ({})", unit.active_state, unit.sub_state),
            format!("sudo systemctl start {unit_name}"),
        ),
        (None, None) => Finding::violated(
            check,
            subject,
            "PM2 is not running, and no unit would start it",
            format!("{}; then sudo systemctl start {unit_name}", ctx.startup()),
        ),
        (Some(daemon), None) => Finding::violated(
            check,
            subject,
            format!("the PM2 daemon (pid {}) was started from a shell: no systemd unit owns it", daemon.pid),
            format!("{} && {handover}", ctx.startup()),
        ),
        (Some(daemon), Some(unit)) => match ctx.daemon_owned_by_unit() {
            Some(true) => {
                Finding::pass(check, subject, format!("{unit_name} owns the PM2 daemon (pid {})", daemon.pid))
            }
            _ if unit.active_state != "active" => Finding::violated(
                check,
                subject,
                format!(
                    "the PM2 daemon (pid {}) was started from a shell; {unit_name} is {} ({})",
                    daemon.pid, unit.active_state, unit.sub_state
                ),
                handover,
            ),
            _ => Finding::violated(
                check,
                subject,
                format!(
                    "{unit_name} is active, but the PM2 daemon (pid {}) is not its process: it was started from a shell",
                    daemon.pid
                ),
                handover,
            ),
        },
    };
    finding
        .evidence("daemon_pid", daemon_pid)
        .evidence("unit", ctx.unit.map(|u| u.name.as_str()))
        .evidence("main_pid", ctx.unit.and_then(|u| u.service.ok()).map(|s| s.main_pid))
}

/// `3m`, `2h`, `5d`: an age in its largest whole unit.
fn human_age(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

fn dump_age_ms(ctx: &Context, now_ms: u64) -> Option<u64> {
    let stat = ctx.home.dump.file.stat.ok()?.as_ref()?;
    let mtime_ms = u64::try_from(stat.mtime).ok()?.saturating_mul(1000);
    Some(now_ms.saturating_sub(mtime_ms))
}

fn dump(ctx: &Context, subject: &Subject, now_ms: u64) -> Finding {
    let check = CheckId::Pm2Dump;
    let path = ctx.home.dump.file.path.as_str();
    let running = ctx.live.as_ref().map_or(0, |apps| apps.len());
    let save = ctx.as_owner("save");
    let finding = match (&ctx.home.dump.file.stat, &ctx.home.dump.apps) {
        (Fact::Error(reason), _) => Finding::error(check, subject, format!("could not read {path}: {reason}")),
        (Fact::Ok(None), _) if running > 0 => Finding::violated(
            check,
            subject,
            format!("no {path}: pm2 resurrect has nothing to bring back, and {running} app process(es) run now"),
            save,
        ),
        (Fact::Ok(None), _) => Finding::skip(check, subject, "no dump.pm2, and no app runs"),
        (Fact::Ok(Some(_)), Fact::Error(reason)) => {
            let backup_ok = ctx.home.dump_backup.apps.ok().is_some_and(|apps| !apps.is_empty());
            let remediation = if backup_ok {
                format!(
                    "restore the previous save: sudo cp -p {} {path}; or save what runs now: {save}",
                    ctx.home.dump_backup.file.path
                )
            } else {
                save
            };
            Finding::violated(
                check,
                subject,
                format!("{path} cannot be used ({reason}): pm2 resurrect will bring nothing back"),
                remediation,
            )
        }
        (Fact::Ok(Some(_)), Fact::Ok(apps)) if apps.is_empty() && running > 0 => Finding::violated(
            check,
            subject,
            format!("{path} is empty while {running} app process(es) run: pm2 resurrect will bring none back"),
            save,
        ),
        (Fact::Ok(Some(_)), Fact::Ok(apps)) => {
            let age = dump_age_ms(ctx, now_ms).map(|ms| format!(", saved {} ago", human_age(ms))).unwrap_or_default();
            Finding::pass(check, subject, format!("{path} holds {} app(s){age}", apps.len()))
        }
    };
    finding.evidence("path", path).evidence("running_processes", running)
}

fn dump_fresh(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2DumpFresh;
    let (Some(live), Some(saved)) = (&ctx.live, &ctx.saved) else {
        return Finding::skip(check, subject, "needs both the live app list and a readable dump.pm2");
    };
    let running = online_counts(live);
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    for (name, count) in &running {
        if *count == 0 {
            continue;
        }
        let Some(entry) = saved.iter().find(|s| s.name == *name) else {
            missing.push(format!("{name} (not in dump.pm2)"));
            continue;
        };
        let app = live.iter().find(|a| a.name == *name);
        let saved_instances = saved.iter().filter(|s| s.name == *name).count();
        // PM2 saves one entry per process; a cluster app's `instances` is also recorded.
        let saved_count =
            entry.instances.filter(|n| *n > 0).map_or(saved_instances, |n| n as usize).max(saved_instances);
        if saved_count != *count {
            changed.push(format!("{name} ({count} running, {saved_count} saved)"));
        }
        if let Some(app) = app {
            if app.script.is_some() && entry.script.is_some() && app.script != entry.script {
                changed.push(format!(
                    "{name} (runs {}, saved {})",
                    app.script.as_deref().unwrap_or("?"),
                    entry.script.as_deref().unwrap_or("?")
                ));
            }
            if app.exec_mode.is_some() && entry.exec_mode.is_some() && app.exec_mode != entry.exec_mode {
                changed.push(format!(
                    "{name} ({} now, {} saved)",
                    app.exec_mode.as_deref().unwrap_or("?"),
                    entry.exec_mode.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    let stale: Vec<&str> = saved
        .iter()
        .filter(|s| running.get(s.name.as_str()).is_none_or(|n| *n == 0))
        .map(|s| s.name.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let save = ctx.as_owner("save");
    let finding = if !missing.is_empty() || !changed.is_empty() {
        let mut parts = missing.clone();
        parts.extend(changed.iter().cloned());
        Finding::violated(
            check,
            subject,
            format!(
                "dump.pm2 is stale: after a reboot these would not come back as they run now: {}",
                parts.join(", ")
            ),
            save,
        )
    } else if !stale.is_empty() && ctx.unit.is_none() {
        Finding::warn(
            check,
            subject,
            format!(
                "dump.pm2 holds {} that no longer run(s): pm2 resurrect would start it again at boot",
                stale.join(", ")
            ),
            format!("if it was removed on purpose: {save}"),
        )
    } else {
        Finding::pass(check, subject, format!("every running app is saved ({} app(s))", running.len()))
    };
    finding.evidence("missing", missing).evidence("changed", changed).evidence("saved_not_running", stale)
}

fn resurrected(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2Resurrected;
    let Some(saved) = &ctx.saved else {
        return Finding::skip(check, subject, "dump.pm2 could not be read (see pm2.dump)");
    };
    let Some(unit) = ctx.unit else {
        // The incident after the reboot: apps saved online, no daemon, nothing to start it.
        // Name what is down; while a daemon from a shell still runs, nothing is lost yet.
        let saved_online: std::collections::BTreeSet<&str> = saved
            .iter()
            .filter(|a| a.status.as_deref().is_none_or(|s| s == "online"))
            .map(|a| a.name.as_str())
            .collect();
        if ctx.daemon.is_none() && ctx.live.is_none() && !saved_online.is_empty() {
            let names: Vec<&str> = saved_online.into_iter().collect();
            return Finding::violated(
                check,
                subject,
                format!(
                    "saved online but down: {} — no unit runs pm2 resurrect at boot (see supervisor.registered)",
                    names.join(", ")
                ),
                ctx.as_owner("resurrect"),
            )
            .evidence("saved_online", names);
        }
        return Finding::skip(check, subject, "no unit resurrects this home at boot (see supervisor.registered)");
    };
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    for app in saved.iter().filter(|a| a.status.as_deref().is_none_or(|s| s == "online")) {
        *expected.entry(app.name.as_str()).or_insert(0) += 1;
    }
    if let Some(declared) = ctx.expected {
        for (name, count) in &declared.apps {
            expected.insert(name.as_str(), *count as usize);
        }
    }
    let names: Vec<&str> = expected.keys().copied().collect();
    let finding = match (&ctx.live, &ctx.home.daemon.rpc) {
        (_, Fact::Ok(RpcAnswer::NoAnswer { waited_ms })) => Finding::error(
            check,
            subject,
            format!("the PM2 daemon accepted on rpc.sock but did not answer within {waited_ms} ms"),
        ),
        (None, _) if expected.is_empty() => Finding::skip(check, subject, "nothing was saved online"),
        (None, _) => Finding::violated(
            check,
            subject,
            format!("PM2 is not running: none of the apps saved online ({}) is up", names.join(", ")),
            format!("sudo systemctl restart {}; then: {}", unit.name, crate::invariants::fix::journal(&unit.name)),
        ),
        (Some(live), _) => {
            let online = online_counts(live);
            let down: Vec<String> = expected
                .iter()
                .filter_map(|(name, want)| {
                    let have = online.get(name).copied().unwrap_or(0);
                    (have < *want).then(|| format!("{name} ({have} of {want} online)"))
                })
                .collect();
            if down.is_empty() {
                Finding::pass(check, subject, format!("every app saved online is online ({})", names.join(", ")))
            } else {
                Finding::violated(
                    check,
                    subject,
                    format!("saved online but not online now: {}", down.join(", ")),
                    ctx.as_owner("resurrect"),
                )
            }
        }
    };
    finding.evidence("expected_online", &expected)
}

fn crash_loop(ctx: &Context, subject: &Subject, now_ms: u64) -> Finding {
    let check = CheckId::Pm2CrashLoop;
    let Some(live) = &ctx.live else {
        return Finding::skip(check, subject, "the live app list is not available");
    };
    let looping: Vec<(String, &LiveApp)> = live
        .iter()
        .filter_map(|app| {
            let uptime = app.started_at_ms.map(|t| now_ms.saturating_sub(t));
            let up = uptime.map(|ms| format!(", up {}", human_age(ms))).unwrap_or_default();
            let low_uptime = uptime.is_none_or(|ms| ms < CRASH_LOOP_UPTIME_MS);
            if app.status == "errored" {
                Some((format!("{} errored after {} restarts", app.name, app.restart_time), *app))
            } else if app.unstable_restarts > 0 {
                Some((format!("{} had {} unstable restarts{up}", app.name, app.unstable_restarts), *app))
            } else if (app.restart_time >= CRASH_LOOP_RESTARTS && low_uptime)
                || (app.status == "waiting restart" && app.restart_time > 0)
            {
                Some((format!("{} restarted {} times{up}", app.name, app.restart_time), *app))
            } else {
                None
            }
        })
        .collect();
    match looping.first() {
        None => Finding::pass(check, subject, format!("no app is restarting in a loop ({} process(es))", live.len())),
        Some((_, app)) => Finding::violated(
            check,
            subject,
            format!("↺ climbs while uptime stays low: {}", looping.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>().join("; ")),
            ctx.as_owner(&format!("logs {} --lines 50 --nostream", app.name)),
        )
        .evidence(
            "apps",
            looping
                .iter()
                .map(|(_, a)| serde_json::json!({"name": a.name, "status": a.status, "restart_time": a.restart_time, "unstable_restarts": a.unstable_restarts}))
                .collect::<Vec<_>>(),
        ),
    }
}

fn log_rotation(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2LogRotation;
    if ctx.nothing_to_supervise() && ctx.unit.is_none() {
        // What `pm2 startup` run as root for another user leaves behind: no app writes logs here.
        return Finding::skip(
            check,
            subject,
            format!("no app runs or is saved in {}: no logs grow here", ctx.home.home),
        );
    }
    match &ctx.home.modules {
        Fact::Error(reason) => {
            Finding::error(check, subject, format!("could not read the installed PM2 modules: {reason}"))
        }
        Fact::Ok(modules) if modules.iter().any(|m| m == "pm2-logrotate") => {
            Finding::pass(check, subject, "pm2-logrotate is installed")
        }
        Fact::Ok(modules) => Finding::violated(
            check,
            subject,
            format!("pm2-logrotate is not installed: {}/logs grows until the disk is full", ctx.home.home),
            ctx.as_owner("install pm2-logrotate"),
        )
        .evidence("modules", modules),
    }
}

fn dump_secrets(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2DumpSecrets;
    let Some(saved) = &ctx.saved else {
        return Finding::skip(check, subject, "dump.pm2 could not be read");
    };
    let keys: std::collections::BTreeSet<&str> =
        saved.iter().flat_map(|a| a.env_keys.iter().map(String::as_str)).collect();
    if keys.is_empty() {
        return Finding::pass(check, subject, "dump.pm2 carries no environment values");
    }
    let closed_at = closed_to_others(ctx.home);
    let readable: Vec<(&str, u32)> = [&ctx.home.dump.file, &ctx.home.dump_backup.file]
        .into_iter()
        .filter_map(|f| f.stat.ok().and_then(Option::as_ref).map(|s| (f.path.as_str(), s.mode)))
        .filter(|(_, mode)| closed_at.is_none() && mode & 0o004 != 0)
        .collect();
    let secret_like: Vec<&str> =
        keys.iter().copied().filter(|k| SECRET_HINTS.iter().any(|h| k.to_ascii_uppercase().contains(h))).collect();
    let finding = if readable.is_empty() {
        let why = closed_at.map(|dir| format!(" ({dir} is closed to other users)")).unwrap_or_default();
        Finding::pass(
            check,
            subject,
            format!("dump.pm2 carries {} environment value(s) and only its owner can read it{why}", keys.len()),
        )
    } else {
        let files: Vec<String> = readable.iter().map(|(p, m)| format!("{p} (mode {m:o})")).collect();
        let named =
            if secret_like.is_empty() { String::new() } else { format!(", among them {}", secret_like.join(", ")) };
        Finding::violated(
            check,
            subject,
            format!("{} environment value(s){named} are readable by every user in {}", keys.len(), files.join(", ")),
            format!("sudo chmod 600 {}", readable.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(" ")),
        )
    };
    finding.evidence("env_keys", keys.len()).evidence("secret_like", secret_like)
}

/// The first directory on the way to the home's files (its ancestors, then the home)
/// that other users cannot pass (no `o+x`); `None` when they reach the files. A directory
/// that could not be read counts as open: the finding must not hide a readable secret.
fn closed_to_others(home: &Pm2Home) -> Option<&str> {
    home.ancestors
        .iter()
        .chain(std::iter::once(&home.dir))
        .find(|dir| dir.stat.ok().and_then(Option::as_ref).is_some_and(|s| s.mode & 0o001 == 0))
        .map(|dir| dir.path.as_str())
}

fn memory_limit(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::UnitMemoryLimit;
    let unit_limit =
        ctx.unit.and_then(|u| u.service.ok()).is_some_and(|s| s.memory_max.is_some() || s.memory_high.is_some());
    let apps: Vec<(&str, Option<u64>)> = match (&ctx.live, &ctx.saved) {
        (Some(live), _) => live.iter().map(|a| (a.name.as_str(), a.max_memory_restart)).collect(),
        (None, Some(saved)) => saved.iter().map(|a| (a.name.as_str(), a.max_memory_restart)).collect(),
        (None, None) => {
            return Finding::skip(check, subject, "no app list: neither the daemon nor dump.pm2 could be read");
        }
    };
    let unbounded: Vec<&str> = apps
        .iter()
        .filter(|(_, limit)| limit.is_none_or(|l| l == 0))
        .map(|(name, _)| *name)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let finding = if unbounded.is_empty() || unit_limit {
        let how = if unit_limit { "the PM2 unit has MemoryMax/MemoryHigh" } else { "every app has max_memory_restart" };
        Finding::pass(check, subject, how)
    } else {
        Finding::violated(
            check,
            subject,
            format!(
                "no max_memory_restart for {}: a leaking app can take the whole host's memory",
                unbounded.join(", ")
            ),
            format!(
                "{} && {}  # or max_memory_restart in the ecosystem file; size it to the app",
                ctx.as_owner(&format!("restart {} --max-memory-restart 1G", unbounded[0])),
                ctx.as_owner("save")
            ),
        )
    };
    finding.evidence("apps_without_limit", unbounded)
}

/// The daemon and every app process, with a label for messages.
fn processes<'a>(ctx: &'a Context) -> Vec<(String, &'a ProcessFacts)> {
    let mut all: Vec<(String, &ProcessFacts)> =
        ctx.daemon.map(|p| ("the PM2 daemon".to_owned(), p)).into_iter().collect();
    if let Some(live) = &ctx.live {
        all.extend(live.iter().filter_map(|a| a.process.as_ref().map(|p| (format!("app {}", a.name), p))));
    } else {
        all.extend(
            ctx.home
                .daemon
                .fallback_apps
                .iter()
                .filter_map(|a| a.process.as_ref().map(|p| (format!("app {}", a.name), p))),
        );
    }
    all
}

fn not_root(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::ProcessNotRoot;
    // A service account of the operator's choosing: `deploy` is the name PM2's own docs use.
    // In this order: the root daemon's apps hold the ports the moved apps will need.
    let move_to_service_user = format!(
        "sudo useradd --create-home --shell /bin/bash deploy && sudo systemctl disable --now {}; then, as deploy, start the apps and pm2 save; then: sudo env PATH=$PATH:{} {} startup systemd -u deploy --hp /home/deploy",
        ctx.unit_name(),
        ctx.node_dir(),
        ctx.pm2
    );
    let all = processes(ctx);
    let root: Vec<&str> = all.iter().filter(|(_, p)| p.uid == 0).map(|(label, _)| label.as_str()).collect();
    let finding = if all.is_empty() {
        match ctx.unit.and_then(|u| u.service.ok()) {
            Some(service) if service.user.is_empty() || service.user == "root" => Finding::violated(
                check,
                subject,
                format!("{} will run PM2 and its apps as root", ctx.unit_name()),
                move_to_service_user,
            ),
            _ => Finding::skip(check, subject, "nothing runs now"),
        }
    } else if root.is_empty() {
        Finding::pass(check, subject, format!("PM2 and its apps run as {}", ctx.owner))
    } else {
        Finding::violated(check, subject, format!("runs as root: {}", root.join(", ")), move_to_service_user)
    };
    finding.evidence("root_processes", root)
}

fn node_runtime(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::ProcessNodeRuntime;
    let mut places: Vec<(String, &'static str)> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for (label, process) in processes(ctx) {
        match &process.exe {
            Fact::Ok(exe) => {
                if let Some(manager) = process::version_manager(exe) {
                    places.push((format!("{label} runs {exe}"), manager));
                }
            }
            Fact::Error(reason) => unreadable.push(format!("{label} (pid {}): {reason}", process.pid)),
        }
    }
    if let Some(service) = ctx.unit.and_then(|u| u.service.ok()) {
        for assignment in &service.environment {
            if let Some(path) = assignment.strip_prefix("PATH=") {
                for dir in path.split(':') {
                    if let Some(manager) = process::version_manager(&format!("{dir}/")) {
                        places.push((format!("{}'s PATH holds {dir}", ctx.unit_name()), manager));
                    }
                }
            }
        }
    }
    let finding = match places.first() {
        // Not knowing which node runs is not knowing it is safe.
        None if !unreadable.is_empty() => {
            Finding::error(check, subject, format!("could not see which node runs: {}", unreadable.join("; ")))
        }
        None => Finding::pass(check, subject, "node is outside any per-user version manager"),
        Some((_, manager)) => Finding::violated(
            check,
            subject,
            format!(
                "{}: a per-user {manager} install; upgrading or removing that node version breaks PM2 at the next boot",
                places.iter().map(|(what, _)| what.as_str()).collect::<Vec<_>>().join("; ")
            ),
            format!(
                "install node system-wide (distribution or NodeSource package), reinstall pm2 with it, then: {}",
                ctx.startup().replace(
                    &ctx.daemon
                        .and_then(|p| p.exe.ok())
                        .and_then(|e| e.rsplit_once('/').map(|(d, _)| d.to_owned()))
                        .unwrap_or_default(),
                    "/usr/bin"
                )
            ),
        ),
    };
    finding.evidence("places", places.iter().map(|(what, _)| what.as_str()).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{DaemonFacts, DumpFacts, FileFacts, FileStat};
    use crate::invariants::fixtures;
    use crate::report::Status;

    fn dir(path: &str, mode: u32) -> FileFacts {
        let stat = FileStat { kind: "directory".into(), mode, uid: 0, gid: 0, size: 0, mtime: 0 };
        FileFacts { path: path.into(), stat: Fact::Ok(Some(stat)) }
    }

    fn dump(path: &str, mode: u32, apps: Vec<SavedApp>) -> DumpFacts {
        let stat = FileStat { kind: "file".into(), mode, uid: 0, gid: 0, size: 10, mtime: 0 };
        DumpFacts { file: FileFacts { path: path.into(), stat: Fact::Ok(Some(stat)) }, apps: Fact::Ok(apps) }
    }

    fn saved(name: &str) -> SavedApp {
        SavedApp {
            name: name.into(),
            status: Some("online".into()),
            exec_mode: Some("fork_mode".into()),
            instances: Some(1),
            script: None,
            interpreter: None,
            max_memory_restart: None,
            is_module: false,
            env_keys: vec!["API_TOKEN".into(), "PATH".into()],
        }
    }

    /// A home `/X/.pm2` with no unit and no daemon, its dump at 0644 holding `apps`.
    fn home(user_home: (&str, u32), apps: Vec<SavedApp>) -> Pm2Home {
        let path = format!("{}/.pm2", user_home.0);
        Pm2Home {
            found_by: vec!["home directory".into()],
            dir: dir(&path, 0o755),
            ancestors: vec![dir("/", 0o755), dir(user_home.0, user_home.1)],
            owner: None,
            units: Vec::new(),
            dump: dump(&format!("{path}/dump.pm2"), 0o644, apps),
            dump_backup: DumpFacts {
                file: FileFacts { path: format!("{path}/dump.pm2.bak"), stat: Fact::Ok(None) },
                apps: Fact::Ok(Vec::new()),
            },
            daemon: DaemonFacts {
                pid_file: Fact::Ok(None),
                process: None,
                version: None,
                rpc: Fact::Ok(RpcAnswer::NotRunning { reason: "no socket file".into() }),
                fallback_apps: Vec::new(),
            },
            modules: Fact::Ok(Vec::new()),
            pm2_cli: None,
            home: path,
        }
    }

    fn check(home: &Pm2Home, id: CheckId) -> Finding {
        let host = fixtures::all_good().host;
        judge(home, &host, &CheckConfig::default(), 0).into_iter().find(|f| f.check == id).expect("judged")
    }

    #[test]
    fn a_dump_behind_a_closed_home_directory_is_private() {
        // /root is 0700: nobody else reaches /root/.pm2/dump.pm2, whatever its own mode.
        let root = home(("/root", 0o700), vec![saved("web")]);
        let found = check(&root, CheckId::Pm2DumpSecrets);
        assert_eq!(found.status, Status::Pass, "{found:#?}");
        assert!(found.message.contains("/root is closed to other users"), "{found:#?}");
        // /home/deploy at 0755: every user can read the dump and its API_TOKEN.
        let open = home(("/home/deploy", 0o755), vec![saved("web")]);
        let found = check(&open, CheckId::Pm2DumpSecrets);
        assert_eq!(found.status, Status::Warn, "{found:#?}");
        assert!(found.message.contains("API_TOKEN"), "{found:#?}");
        // A facts file from before ancestors were gathered: judged on the home alone.
        let mut old = home(("/root", 0o700), vec![saved("web")]);
        old.ancestors.clear();
        assert_eq!(check(&old, CheckId::Pm2DumpSecrets).status, Status::Warn);
    }

    #[test]
    fn a_home_with_nothing_saved_or_running_needs_no_supervisor() {
        // What `pm2 startup` run as root leaves in /root/.pm2 for a deploy user's PM2.
        let empty = home(("/root", 0o700), Vec::new());
        assert_eq!(check(&empty, CheckId::SupervisorRegistered).status, Status::Skip);
        assert_eq!(check(&empty, CheckId::SupervisorActive).status, Status::Skip);
        assert_eq!(check(&empty, CheckId::Pm2LogRotation).status, Status::Skip);
        // The incident after the reboot: saved apps, nothing starts PM2.
        let lost = home(("/root", 0o700), vec![saved("web")]);
        assert_eq!(check(&lost, CheckId::SupervisorRegistered).status, Status::Fail);
        assert_eq!(check(&lost, CheckId::SupervisorActive).status, Status::Fail);
        // The check file expects apps here: an empty home is then a loss, not a leftover.
        let mut config = CheckConfig::default();
        config.pm2.push(ExpectedPm2 { home: "/root/.pm2".into(), apps: [("web".to_owned(), 1)].into() });
        let host = fixtures::all_good().host;
        let registered =
            judge(&empty, &host, &config, 0).into_iter().find(|f| f.check == CheckId::SupervisorRegistered);
        assert_eq!(registered.map(|f| f.status), Some(Status::Fail));
    }

    #[test]
    fn a_node_binary_that_cannot_be_seen_is_not_a_pass() {
        // bootproof run unprivileged: /proc/PID/exe of another user's daemon is unreadable.
        let mut home = home(("/home/deploy", 0o755), vec![saved("web")]);
        home.daemon.process = Some(ProcessFacts {
            pid: 42,
            uid: 1000,
            user: Some("deploy".into()),
            exe: Fact::Error("cannot read /proc/42/exe: Permission denied".into()),
            cmdline: vec!["PM2 v7.0.4: God Daemon (/home/deploy/.pm2)".into()],
            started_at: None,
            cgroup: None,
        });
        let found = check(&home, CheckId::ProcessNodeRuntime);
        assert_eq!(found.status, Status::Error, "{found:#?}");
        assert!(found.message.contains("Permission denied"), "{found:#?}");
    }

    #[test]
    fn remediations_name_the_pm2_the_unit_runs_when_none_is_on_the_usual_paths() {
        let mut lost = home(("/root", 0o700), vec![saved("web")]);
        let mut unit = fixtures::all_good().units.remove(0);
        let Fact::Ok(service) = &mut unit.service else { panic!("fixture unit has service facts") };
        service.exec_start[0].path = "/opt/pm2/node_modules/pm2/bin/pm2".into();
        lost.units.push(unit);
        let found = check(&lost, CheckId::Pm2LogRotation);
        assert!(
            found
                .remediation
                .as_deref()
                .is_some_and(|r| r.contains("/opt/pm2/node_modules/pm2/bin/pm2 install pm2-logrotate")),
            "{found:#?}"
        );
    }

    #[test]
    fn ages_are_written_in_their_largest_unit() {
        assert_eq!(human_age(59_000), "59s");
        assert_eq!(human_age(180_000), "3m");
        assert_eq!(human_age(7_200_000), "2h");
        assert_eq!(human_age(3 * 86_400_000), "3d");
    }
}
