//! The PM2 invariants over facts real PM2 produced in the lab (`ci/capture-facts pm2`):
//! the incident's host and the same host after its fix. Kept apart from `pm2.rs` so the
//! verdicts an operator sees on these two hosts are pinned whatever the code beside them
//! does.

use crate::config::{self, CheckConfig};
use crate::facts::{Fact, Pm2Status, RpcAnswer};
use crate::invariants::fixtures::{assert_finding, on_pm2, pm2_fixed, pm2_incident};
use crate::invariants::{evaluate, severity};
use crate::verdict::Status;

const HOME: &str = "/root/.pm2";

#[test]
fn incident_host_is_not_registered_and_says_how_to_register() {
    let findings = evaluate(&pm2_incident(), &CheckConfig::default()).findings;
    let registered = on_pm2(&findings, HOME, "supervisor.registered");
    assert_finding(registered, Status::Fail, "no systemd unit starts PM2 for /root/.pm2");
    let fix = registered.remediation.as_deref().unwrap_or_default();
    assert!(fix.contains("pm2 startup systemd -u root --hp /root"), "remediation: {fix}");
}

#[test]
fn incident_daemon_was_started_from_a_shell() {
    let findings = evaluate(&pm2_incident(), &CheckConfig::default()).findings;
    let active = on_pm2(&findings, HOME, "supervisor.active");
    assert_finding(active, Status::Fail, "started from a shell");
    // The handover: register, save, and let systemd start the daemon it owns.
    let fix = active.remediation.as_deref().unwrap_or_default();
    assert!(fix.contains("pm2 startup systemd -u root --hp /root"), "remediation: {fix}");
    assert!(fix.ends_with("sudo systemctl start pm2-root.service"), "remediation: {fix}");
}

#[test]
fn incident_dump_was_saved() {
    // `pm2 save` was run: the dump is not what fails here, the missing unit is.
    let findings = evaluate(&pm2_incident(), &CheckConfig::default()).findings;
    assert_finding(on_pm2(&findings, HOME, "pm2.dump"), Status::Pass, "holds 1 app(s)");
    assert_eq!(on_pm2(&findings, HOME, "pm2.dump-fresh").status, Status::Pass);
    // Nothing resurrects this home, so whether it did is not a question yet.
    assert_eq!(on_pm2(&findings, HOME, "pm2.resurrected").status, Status::Skip);
}

#[test]
fn incident_after_the_reboot_names_the_app_that_stayed_down() {
    // The same host after the reboot: the dump is still there, no daemon runs.
    let mut facts = pm2_incident();
    let home = &mut facts.pm2[0];
    home.daemon.process = None;
    home.daemon.rpc =
        crate::facts::Fact::Ok(crate::facts::RpcAnswer::NotRunning { reason: "connection refused".into() });
    let findings = evaluate(&facts, &CheckConfig::default()).findings;
    let resurrected = on_pm2(&findings, HOME, "pm2.resurrected");
    assert_finding(resurrected, Status::Fail, "saved online but down: api");
    assert!(resurrected.remediation.as_deref().is_some_and(|r| r.ends_with("pm2 resurrect")), "{resurrected:#?}");
}

#[test]
fn fixed_host_is_registered_enabled_and_owned_by_systemd() {
    let findings = evaluate(&pm2_fixed(), &CheckConfig::default()).findings;
    assert_finding(
        on_pm2(&findings, HOME, "supervisor.registered"),
        Status::Pass,
        "/etc/systemd/system/pm2-root.service",
    );
    assert_finding(on_pm2(&findings, HOME, "supervisor.enabled"), Status::Pass, "enabled");
    assert_finding(on_pm2(&findings, HOME, "supervisor.active"), Status::Pass, "pm2-root.service owns the PM2 daemon");
    assert_finding(on_pm2(&findings, HOME, "pm2.resurrected"), Status::Pass, "api");
}

#[test]
fn fixed_host_still_runs_as_root() {
    // The incident report's remaining risk: fixed, but everything runs as root.
    let findings = evaluate(&pm2_fixed(), &CheckConfig::default()).findings;
    let root = on_pm2(&findings, HOME, "process.not-root");
    assert_finding(root, Status::Warn, "runs as root");
    assert!(
        root.remediation.as_deref().unwrap_or_default().contains("pm2 startup systemd -u deploy --hp /home/deploy")
    );
    assert!(!findings.iter().any(|f| f.status == Status::Fail), "{findings:#?}");
}

#[test]
fn fork_root_check_file_holds_the_fixed_host_and_fails_the_incident() {
    let text = include_str!("../../../checks/pm2-fork-root.toml");
    let config = config::load::parse(text, "checks/pm2-fork-root.toml").expect("the ready check file parses");
    let judged = |facts| severity::apply(evaluate(&facts, &config).findings, &config.severity);
    let fixed = judged(pm2_fixed());
    assert!(!fixed.iter().any(|f| f.status == Status::Fail), "{fixed:#?}");
    assert_eq!(on_pm2(&fixed, HOME, "process.not-root").status, Status::Warn, "the file accepts root with a warning");
    let incident = judged(pm2_incident());
    assert_eq!(on_pm2(&incident, HOME, "supervisor.registered").status, Status::Fail);
}

/// dump.pm2 as real PM2 7.0.4 wrote it when it was killed just after its app `web` had
/// exited on SIGTERM — what a shutdown that signals PM2 and its apps together leaves
/// when the app's exit reaches the daemon first — and the pm2.log it wrote then.
fn killed_after_web_exited(facts: &mut crate::facts::Facts) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pm2/log");
    let home = &mut facts.pm2[0];
    let saved = crate::facts::pm2::dump::read_apps(&format!("{dir}/dump-written-by-the-kill.pm2"), 1 << 20)
        .expect("the captured dump parses");
    assert!(saved.iter().any(|app| app.name == "web" && app.status == Some(Pm2Status::Stopped)), "{saved:#?}");
    home.dump.apps = Fact::Ok(saved);
    home.last_kill = crate::facts::pm2::log::read_last_kill(&format!("{dir}/killed-after-web-exited.log"));
}

fn not_running(facts: &mut crate::facts::Facts) {
    let home = &mut facts.pm2[0];
    home.daemon.process = None;
    home.daemon.rpc = Fact::Ok(RpcAnswer::NotRunning { reason: "connection refused".into() });
}

#[test]
fn an_app_the_shutdown_left_stopped_in_the_dump_is_named_as_down() {
    // The incident after a reboot whose shutdown reached web before PM2: the dump says
    // stopped, but PM2 was running web — it is down, and resurrect alone would not start it.
    let mut facts = pm2_incident();
    killed_after_web_exited(&mut facts);
    not_running(&mut facts);
    let findings = evaluate(&facts, &CheckConfig::default()).findings;
    let resurrected = on_pm2(&findings, HOME, "pm2.resurrected");
    assert_finding(resurrected, Status::Fail, "saved online but down: web");
    assert!(resurrected.message.contains("pm2 resurrect leaves a stopped app stopped"), "{resurrected:#?}");
    let fix = resurrected.remediation.as_deref().unwrap_or_default();
    assert!(fix.contains("pm2 resurrect; ") && fix.contains("pm2 restart web; ") && fix.ends_with("pm2 save"), "{fix}");
}

#[test]
fn a_stopped_app_is_the_kills_doing_only_when_the_log_says_so_and_the_dump_is_the_kills() {
    // Without the log, `stopped` is what `pm2 stop` + `pm2 save` leave: nothing to bring back.
    let mut facts = pm2_incident();
    killed_after_web_exited(&mut facts);
    not_running(&mut facts);
    facts.pm2[0].last_kill = Fact::Ok(None);
    let findings = evaluate(&facts, &CheckConfig::default()).findings;
    assert_eq!(on_pm2(&findings, HOME, "pm2.resurrected").status, Status::Skip);
    // A daemon ran after the kill: it may have saved the dump since, stopped on purpose.
    let mut facts = pm2_incident();
    killed_after_web_exited(&mut facts);
    not_running(&mut facts);
    if let Fact::Ok(Some(kill)) = &mut facts.pm2[0].last_kill {
        kill.daemons_after = 1;
    }
    let findings = evaluate(&facts, &CheckConfig::default()).findings;
    assert_eq!(on_pm2(&findings, HOME, "pm2.resurrected").status, Status::Skip);
}

#[test]
fn a_unit_that_resurrected_an_app_the_shutdown_saved_stopped_has_not_brought_it_back() {
    // pm2-root.service resurrected the dump the kill wrote at the last shutdown: PM2 runs
    // web as stopped, and "every app saved online is online" would be a false pass.
    let mut facts = pm2_fixed();
    killed_after_web_exited(&mut facts);
    let booted = humantime::parse_rfc3339_weak(facts.host.booted_at.ok().expect("booted_at")).expect("RFC 3339");
    let booted_s = booted.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64;
    let home = &mut facts.pm2[0];
    if let Fact::Ok(Some(stat)) = &mut home.dump.file.stat {
        stat.mtime = booted_s - 5;
    }
    if let Fact::Ok(Some(kill)) = &mut home.last_kill {
        kill.daemons_after = 1;
    }
    if let Fact::Ok(RpcAnswer::Apps { apps }) = &mut home.daemon.rpc {
        for app in apps.iter_mut() {
            (app.name, app.status, app.pid, app.process) = ("web".into(), Pm2Status::Stopped, 0, None);
        }
    }
    let findings = evaluate(&facts, &CheckConfig::default()).findings;
    let resurrected = on_pm2(&findings, HOME, "pm2.resurrected");
    assert_finding(resurrected, Status::Fail, "saved online but not online now: web (0 of 1 online)");
    assert!(resurrected.remediation.as_deref().is_some_and(|r| r.contains("pm2 restart web")), "{resurrected:#?}");
    // Saved after this boot began: the daemon that runs now wrote it, stopped on purpose.
    if let Fact::Ok(Some(stat)) = &mut facts.pm2[0].dump.file.stat {
        stat.mtime = booted_s + 60;
    }
    let findings = evaluate(&facts, &CheckConfig::default()).findings;
    assert_ne!(on_pm2(&findings, HOME, "pm2.resurrected").status, Status::Fail);
}

#[test]
fn pm2_resurrect_starts_every_saved_app_but_a_stopped_one() {
    // God.prepare: only `stopped` is registered without starting; an app saved errored or
    // waiting for its restart delay is started again, so it is expected back.
    for status in [Pm2Status::Errored, Pm2Status::WaitingRestart, Pm2Status::Launching] {
        let mut facts = pm2_incident();
        not_running(&mut facts);
        if let Fact::Ok(apps) = &mut facts.pm2[0].dump.apps {
            apps[0].status = Some(status.clone());
        }
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_pm2(&findings, HOME, "pm2.resurrected"), Status::Fail, "saved online but down: api");
    }
}

/// The fixed host with its unit's ExecStop= and KillMode= set to `stops` and `kill_mode`.
fn fixed_host_stopping_with(stops: &[&[&str]], kill_mode: &str) -> crate::facts::Facts {
    let mut facts = pm2_fixed();
    let service = crate::invariants::fixtures::service_mut(&mut facts.pm2[0].units[0]);
    service.exec_stop = Some(
        stops
            .iter()
            .map(|argv| crate::facts::StopCommand {
                path: argv[0].to_owned(),
                argv: argv.iter().map(|a| (*a).to_owned()).collect(),
            })
            .collect(),
    );
    service.kill_mode = Some(kill_mode.to_owned());
    facts
}

const PM2: &str = "/usr/local/lib/node_modules/pm2/bin/pm2";

#[test]
fn a_unit_that_stops_pm2_with_pm2_kill_keeps_the_dump_as_saved() {
    // What `pm2 startup` writes: the apps are deleted first, the daemon has nothing to save.
    for stop in [&[PM2, "kill"][..], &[PM2, "delete", "all"], &["/usr/bin/node", PM2, "kill"]] {
        let findings = evaluate(&fixed_host_stopping_with(&[stop], "control-group"), &CheckConfig::default()).findings;
        assert_eq!(on_pm2(&findings, HOME, "pm2.dump").status, Status::Pass, "{stop:?}");
    }
    // Only the daemon gets SIGTERM, and it saves the apps as they run.
    for kill_mode in ["mixed", "process"] {
        let findings = evaluate(&fixed_host_stopping_with(&[], kill_mode), &CheckConfig::default()).findings;
        assert_eq!(on_pm2(&findings, HOME, "pm2.dump").status, Status::Pass, "{kill_mode}");
    }
    // A stop script bootproof cannot read, and facts from before ExecStop was read: not judged.
    let findings =
        evaluate(&fixed_host_stopping_with(&[&["/opt/api/stop.sh"]], "control-group"), &CheckConfig::default())
            .findings;
    assert_eq!(on_pm2(&findings, HOME, "pm2.dump").status, Status::Pass);
    let findings = evaluate(&pm2_fixed(), &CheckConfig::default()).findings;
    assert_eq!(on_pm2(&findings, HOME, "pm2.dump").status, Status::Pass);
}

#[test]
fn a_unit_that_signals_pm2_and_its_apps_together_is_a_named_risk_to_the_dump() {
    let findings = evaluate(&fixed_host_stopping_with(&[], "control-group"), &CheckConfig::default()).findings;
    let dump = on_pm2(&findings, HOME, "pm2.dump");
    assert_finding(dump, Status::Warn, "pm2-root.service has no ExecStop=pm2 kill and KillMode=control-group");
    assert!(dump.message.contains("PM2 issue #6036"), "{dump:#?}");
    let fix = dump.remediation.as_deref().unwrap_or_default();
    assert!(fix.contains("/etc/systemd/system/pm2-root.service.d/pm2-kill.conf"), "{fix}");
    // The pm2 next to the daemon's node, as every other remediation of this home names it.
    assert!(fix.contains("ExecStop=\\nExecStop=%s kill\\n' /usr/local/bin/pm2 |"), "{fix}");
    assert!(fix.ends_with("sudo systemctl daemon-reload"), "{fix}");
    // pm2 stop first is worse: every app is saved stopped.
    let findings =
        evaluate(&fixed_host_stopping_with(&[&[PM2, "stop", "all"]], "control-group"), &CheckConfig::default())
            .findings;
    assert_finding(on_pm2(&findings, HOME, "pm2.dump"), Status::Warn, "stops PM2 with ExecStop=pm2 stop");
}
