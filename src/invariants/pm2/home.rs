//! Judges one PM2 home: every invariant, and the prediction for the home (does its unit
//! start PM2 at boot) and for each app (does `pm2 resurrect` bring it back as it runs).

use std::collections::BTreeSet;

use super::context::{Context, online_counts, saved_counts};
use super::{apps, dump, supervisor};
use crate::config::CheckConfig;
use crate::facts::container::AppContainer;
use crate::facts::{ContainerFacts, Fact, HostFacts, Pm2Home};
use crate::invariants::supervisor as unit_supervisor;
use crate::invariants::unit::{self, MemoryBounds};
use crate::invariants::{fix, process};
use crate::verdict::{AppPrediction, Blocker, CheckId, Finding, Prediction, Status, Subject, SubjectPrediction};

/// Every PM2 invariant for `home`, and its prediction; `now_ms` is when the facts were
/// gathered.
pub(crate) fn judge(
    home: &Pm2Home,
    host: &HostFacts,
    config: &CheckConfig,
    now_ms: u64,
) -> (Vec<Finding>, SubjectPrediction) {
    let subject = Subject::Pm2(home.home.clone());
    let ctx = Context::new(home, config, now_ms, booted_at_s(host));
    let mut findings = match host.container.as_ref().and_then(|c| Some((c, c.app_container()?))) {
        Some((container, app)) => in_container(home, container, &app, &subject),
        None => supervised_by_systemd(&ctx, host, &subject),
    };
    let in_container = host.container.as_ref().and_then(ContainerFacts::app_container);
    match &in_container {
        // The container's command starts the apps at every start of the container;
        // dump.pm2 is read by pm2 resurrect alone, which no boot runs here.
        Some(_) => {
            let reason = "inside a container, its command starts PM2's apps at each start; dump.pm2 is read only by pm2 resurrect, which nothing runs here";
            for check in [CheckId::Pm2Dump, CheckId::Pm2DumpFresh, CheckId::Pm2Resurrected] {
                findings.push(Finding::skip(check, &subject, reason));
            }
        }
        None => {
            findings.push(dump::dump(&ctx, &subject));
            findings.push(dump::dump_fresh(&ctx, &subject));
            findings.push(apps::resurrected(&ctx, &subject));
        }
    }
    findings.push(apps::crash_loop(&ctx, &subject));
    findings.push(apps::log_rotation(&ctx, &subject));
    findings.push(dump::dump_secrets(&ctx, &subject));
    findings.push(memory_limit(&ctx, &subject));
    let running = ctx.running();
    findings.push(not_root(&ctx, &subject, &running));
    findings.push(node_runtime(&ctx, &subject, &running));
    let prediction = Prediction::from_findings(&findings, &subject);
    let apps = app_predictions(&ctx, &findings, &subject, &prediction);
    (findings, SubjectPrediction { subject, prediction, apps })
}

/// When this boot started, seconds since the epoch, when the facts say.
fn booted_at_s(host: &HostFacts) -> Option<i64> {
    let at = humantime::parse_rfc3339_weak(host.booted_at.ok()?).ok()?;
    i64::try_from(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs()).ok()
}

/// The supervisor invariants of a home on a host: its unit registered, enabled and
/// startable, and owning the running daemon.
fn supervised_by_systemd(ctx: &Context, host: &HostFacts, subject: &Subject) -> Vec<Finding> {
    let mut findings = vec![supervisor::registered(ctx, subject)];
    match ctx.unit {
        Some(unit) => {
            findings.push(unit_supervisor::enabled(unit, host, subject));
            match &unit.service {
                Fact::Ok(service) => findings.extend(unit::startable(unit, service, subject, false)),
                Fact::Error(reason) => {
                    for check in [CheckId::UnitUser, CheckId::UnitExec] {
                        findings.push(Finding::error(
                            check,
                            subject,
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
                    subject,
                    "no unit starts PM2 for this home (see supervisor.registered)",
                ));
            }
        }
    }
    findings.push(supervisor::active(ctx, subject));
    findings
}

/// A home inside an app container: no systemd unit to judge (the container runtime
/// starts PM2), and PM2 as the container's PID 1 flagged — the runtime then watches PM2,
/// which stays up while an app crash-loops behind it.
fn in_container(home: &Pm2Home, container: &ContainerFacts, app: &AppContainer, subject: &Subject) -> Vec<Finding> {
    let reason = format!("{}: the container runtime starts PM2, not a systemd unit", app.describe(container));
    let mut findings: Vec<Finding> = [
        CheckId::SupervisorRegistered,
        CheckId::SupervisorEnabled,
        CheckId::UnitUser,
        CheckId::UnitExec,
        CheckId::SupervisorActive,
    ]
    .into_iter()
    .map(|check| Finding::skip(check, subject, reason.clone()))
    .collect();
    let check = CheckId::ProcessSupervised;
    let daemon_is_pid1 =
        home.daemon.process.as_ref().is_some_and(|p| p.pid == 1) || matches!(home.daemon.pid_file, Fact::Ok(Some(1)));
    let pid1 = app.pid1.as_ref().map_or_else(|| "PID 1".to_owned(), |p| p.title());
    findings.push(if app.pm2_is_pid1() && daemon_is_pid1 {
        Finding::warn(
            check,
            subject,
            format!(
                "PM2 is PID 1 of this {} container ({pid1}): the container runtime watches PM2, not the app, and PM2 stays up while an app crash-loops behind it, so the container is never restarted and looks healthy",
                app.runtime
            ),
            "run node itself as the container's command (CMD [\"node\", \"server.js\"]) with a restart policy (docker run --restart unless-stopped, compose restart:), or give the container a HEALTHCHECK that probes the app",
        )
        .evidence("pid1", pid1)
    } else {
        Finding::pass(check, subject, format!("PM2 is not the container's PID 1 ({pid1})")).evidence("pid1", pid1)
    });
    findings
}

/// `unit.memory-limit` of a home: its unit's cgroup limit, else every app's
/// `max_memory_restart`.
fn memory_limit(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::UnitMemoryLimit;
    let apps: Vec<(&str, Option<u64>)> = match (&ctx.live, &ctx.saved) {
        (Some(live), _) => live.iter().map(|a| (a.name.as_str(), a.max_memory_restart)).collect(),
        (None, Some(saved)) => saved.iter().map(|a| (a.name.as_str(), a.max_memory_restart)).collect(),
        (None, None) => {
            let reason = ctx.dump_unreadable().unwrap_or("dump.pm2 could not be read");
            return Finding::error(check, subject, format!("no app list: no daemon answered, and {reason}"));
        }
    };
    let unbounded: Vec<&str> = apps
        .iter()
        .filter(|(_, limit)| limit.is_none_or(|l| l == 0))
        .map(|(name, _)| *name)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (unit_limits, unit_fix) = match ctx.unit {
        None => (Vec::new(), String::new()),
        Some(unit) => match &unit.service {
            Fact::Ok(service) => (MemoryBounds::of_unit(service).unit_limits, unit::memory_drop_in(unit)),
            // Whether the unit bounds the apps matters only for apps without their own limit.
            Fact::Error(_) if unbounded.is_empty() => (Vec::new(), String::new()),
            Fact::Error(reason) => {
                return Finding::error(
                    check,
                    subject,
                    format!("the PM2 unit's memory limits could not be read: {reason}"),
                );
            }
        },
    };
    let app_fix = match unbounded.first() {
        Some(first) => format!(
            "{} && {}  # or max_memory_restart in the ecosystem file; size it to the app",
            ctx.as_owner(&format!("restart {} --max-memory-restart 1G", fix::quote(first))),
            ctx.as_owner("save")
        ),
        None => String::new(),
    };
    let bounds = MemoryBounds { unit_limits, apps_without_limit: Some(unbounded) };
    unit::memory_limit(subject, &bounds, unit_fix, &app_fix)
}

/// `process.not-root` of a home: the daemon and its apps.
fn not_root(ctx: &Context, subject: &Subject, running: &process::Running) -> Finding {
    // A service account of the operator's choosing: `deploy` is the name PM2's own docs use.
    // In this order: the root daemon's apps hold the ports the moved apps will need.
    let move_to_service_user = format!(
        "sudo useradd --create-home --shell /bin/bash deploy && sudo systemctl disable --now {}; then, as deploy, start the apps and pm2 save; then: sudo env PATH=$PATH:{} {} startup systemd -u deploy --hp /home/deploy",
        ctx.unit_name(),
        ctx.node_dir(),
        ctx.pm2
    );
    let nothing_runs = running.as_ref().is_ok_and(Vec::is_empty);
    let when_started = match ctx.unit.map(|u| &u.service) {
        Some(Fact::Ok(service)) => Some(service),
        Some(Fact::Error(reason)) if nothing_runs => {
            return Finding::error(
                CheckId::ProcessNotRoot,
                subject,
                format!("nothing runs now, and who {} would run PM2 as could not be read: {reason}", ctx.unit_name()),
            );
        }
        _ => None,
    };
    process::not_root(subject, running, when_started, move_to_service_user)
}

/// `process.node-runtime` of a home: the node of the daemon and its apps, and the PM2
/// unit's ExecStart and PATH.
fn node_runtime(ctx: &Context, subject: &Subject, running: &process::Running) -> Finding {
    let remediation = format!(
        "install node system-wide (distribution or NodeSource package), reinstall pm2 with it, then: {}",
        ctx.startup_with("/usr/bin")
    );
    let unit_name = ctx.unit_name();
    let unit = ctx.unit.map(|u| {
        let settings = match &u.service {
            Fact::Ok(service) => Ok(service),
            Fact::Error(reason) => Err(reason.as_str()),
        };
        (unit_name.as_str(), settings)
    });
    process::node_runtime(subject, running, unit, "PM2 at the next boot", remediation)
}

/// Whether each app running or saved in the home comes back after the next boot as it
/// runs now: PM2 itself must come back, `dump.pm2` must be usable, and the app must be
/// saved as it runs (see [`dump::compare`]).
fn app_predictions(ctx: &Context, findings: &[Finding], subject: &Subject, home: &Prediction) -> Vec<AppPrediction> {
    let online = ctx.live.as_deref().map(online_counts).unwrap_or_default();
    let saved = ctx.saved.as_deref().map(saved_counts).unwrap_or_default();
    let comparison = match (&ctx.live, &ctx.saved) {
        (Some(live), Some(saved)) => Some(dump::compare(live, saved)),
        _ => None,
    };
    let dump_blocker =
        findings.iter().find(|f| &f.subject == subject && f.check == CheckId::Pm2Dump && f.status.blocks_boot());
    let looping: BTreeSet<&str> = apps::looping(ctx).into_iter().map(|(_, app)| app.name.as_str()).collect();
    let save = ctx.as_owner("save");
    let names: BTreeSet<&str> = online.keys().chain(saved.keys()).copied().collect();
    names
        .into_iter()
        .map(|name| {
            let now = online.get(name).copied().unwrap_or(0);
            let kept = saved.get(name).copied().unwrap_or(0);
            let differs = comparison.as_ref().and_then(|c| c.missing.iter().chain(&c.changed).find(|d| d.app == name));
            let prediction = if let Some(blocker) = &home.blocked_by {
                Prediction::lost(Blocker {
                    message: format!("PM2 itself does not come back: {}", blocker.message),
                    ..blocker.clone()
                })
            } else if let Some(dump) = dump_blocker {
                Prediction::lost(Blocker::of(dump))
            } else if kept == 0 {
                Prediction::lost(Blocker {
                    check: CheckId::Pm2DumpFresh,
                    status: Status::Fail,
                    message: "not in dump.pm2".to_owned(),
                    fix: Some(save.clone()),
                })
            } else if let Some(difference) = differs {
                Prediction::lost(Blocker {
                    check: CheckId::Pm2DumpFresh,
                    status: Status::Fail,
                    message: format!("saved otherwise than it runs: {}", difference.text),
                    fix: Some(save.clone()),
                })
            } else {
                Prediction::back()
            };
            AppPrediction {
                name: name.to_owned(),
                online: now,
                saved: kept,
                crash_looping: looping.contains(name),
                prediction,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExpectedPm2;
    use crate::facts::{
        DaemonFacts, DumpFacts, FileFacts, FileKind, FileStat, Pm2Status, ProcessFacts, RpcAnswer, SavedApp,
    };
    use crate::invariants::fixtures::{self, assert_finding, on_pm2, service_mut};
    use crate::verdict::Status;

    fn dir(path: &str, mode: u32) -> FileFacts {
        let stat = FileStat { kind: FileKind::Directory, mode, uid: 0, gid: 0, size: 0, mtime: 0 };
        FileFacts { path: path.into(), stat: Fact::Ok(Some(stat)) }
    }

    fn dump(path: &str, mode: u32, apps: Vec<SavedApp>) -> DumpFacts {
        let stat = FileStat { kind: FileKind::File, mode, uid: 0, gid: 0, size: 10, mtime: 0 };
        DumpFacts { file: FileFacts { path: path.into(), stat: Fact::Ok(Some(stat)) }, apps: Fact::Ok(apps) }
    }

    fn saved(name: &str) -> SavedApp {
        SavedApp {
            name: name.into(),
            status: Some(Pm2Status::Online),
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
            last_kill: Fact::Ok(None),
            home: path,
        }
    }

    fn check(home: &Pm2Home, id: CheckId) -> Finding {
        let host = fixtures::all_good().host;
        judge(home, &host, &CheckConfig::default(), 0).0.into_iter().find(|f| f.check == id).expect("judged")
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
            judge(&empty, &host, &config, 0).0.into_iter().find(|f| f.check == CheckId::SupervisorRegistered);
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
            listening: Vec::new(),
        });
        let found = check(&home, CheckId::ProcessNodeRuntime);
        assert_eq!(found.status, Status::Error, "{found:#?}");
        assert!(found.message.contains("Permission denied"), "{found:#?}");
    }

    #[test]
    fn remediations_name_the_pm2_the_unit_runs_when_none_is_on_the_usual_paths() {
        let mut lost = home(("/root", 0o700), vec![saved("web")]);
        let mut unit = fixtures::all_good().units.remove(0);
        service_mut(&mut unit).exec_start[0].path = "/opt/pm2/node_modules/pm2/bin/pm2".into();
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

    /// Issue 7, wrong verdict 1: the incident's host after a reboot, its PM2 unit pinning
    /// node under ~/.nvm in PATH and no daemon running (so no /proc/PID/exe to read). The
    /// remediation used to be garbage (`str::replace` with an empty pattern).
    #[test]
    fn node_under_nvm_in_the_unit_path_with_no_daemon_gets_a_pasteable_fix() {
        let mut facts = fixtures::pm2_fixed();
        let home = &mut facts.pm2[0];
        home.daemon.process = None;
        home.daemon.rpc = Fact::Ok(RpcAnswer::NotRunning { reason: "no socket file".into() });
        let nvm = "/root/.nvm/versions/node/v20.11.1/bin";
        let service = service_mut(&mut home.units[0]);
        service.environment.retain(|a| !a.starts_with("PATH="));
        service.environment.push(format!("PATH={nvm}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"));
        let findings = crate::invariants::evaluate(&facts, &CheckConfig::default()).findings;
        let found = on_pm2(&findings, "/root/.pm2", "process.node-runtime");
        assert_finding(found, Status::Warn, &format!("pm2-root.service's PATH holds {nvm}"));
        assert_eq!(
            found.remediation.as_deref(),
            Some(
                "install node system-wide (distribution or NodeSource package), reinstall pm2 with it, then: \
                 sudo env PATH=$PATH:/usr/bin /usr/local/bin/pm2 startup systemd -u root --hp /root"
            )
        );
    }

    /// Issue 7, wrong verdict 6: `[thresholds] dump_max_age` was parsed and documented but
    /// read by nothing.
    #[test]
    fn a_dump_older_than_dump_max_age_warns_and_a_younger_one_shows_its_age() {
        let mut facts = fixtures::pm2_fixed();
        let gathered = humantime::parse_rfc3339(&facts.gathered_at).expect("captured time");
        let forty_days_ago = gathered - std::time::Duration::from_secs(40 * 86_400);
        let mtime = forty_days_ago.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
        if let Fact::Ok(Some(stat)) = &mut facts.pm2[0].dump.file.stat {
            stat.mtime = i64::try_from(mtime).expect("fits");
        }
        let mut config = CheckConfig::default();
        config.thresholds.dump_max_age = Some(30 * 86_400);
        let findings = crate::invariants::evaluate(&facts, &config).findings;
        let fresh = on_pm2(&findings, "/root/.pm2", "pm2.dump-fresh");
        assert_finding(fresh, Status::Warn, "saved 40d ago, longer ago than dump_max_age (30d)");
        config.thresholds.dump_max_age = Some(60 * 86_400);
        let findings = crate::invariants::evaluate(&facts, &config).findings;
        assert_finding(
            on_pm2(&findings, "/root/.pm2", "pm2.dump-fresh"),
            Status::Pass,
            "saved 40d ago, within dump_max_age (60d)",
        );
        let findings = crate::invariants::evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_pm2(&findings, "/root/.pm2", "pm2.dump-fresh"), Status::Pass, "every running app is saved");
    }

    #[test]
    fn apps_are_predicted_from_the_home_and_the_dump() {
        let (_, fixed) = judge(&fixtures::pm2_fixed().pm2[0], &fixtures::pm2_fixed().host, &CheckConfig::default(), 0);
        assert!(fixed.prediction.comes_back);
        assert!(fixed.apps.iter().all(|app| app.prediction.comes_back), "{fixed:#?}");
        let incident = fixtures::pm2_incident();
        let (_, lost) = judge(&incident.pm2[0], &incident.host, &CheckConfig::default(), 0);
        assert_eq!(lost.prediction.blocked_by.as_ref().map(|b| b.check), Some(CheckId::SupervisorRegistered));
        let api = &lost.apps[0];
        assert!(!api.prediction.comes_back);
        assert!(
            api.prediction.blocked_by.as_ref().is_some_and(|b| b.message.starts_with("PM2 itself does not come back"))
        );
    }
}
