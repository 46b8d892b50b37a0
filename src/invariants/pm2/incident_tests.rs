//! The PM2 invariants over facts real PM2 produced in the lab (`ci/capture-facts pm2`):
//! the incident's host and the same host after its fix. Kept apart from `pm2.rs` so the
//! verdicts an operator sees on these two hosts are pinned whatever the code beside them
//! does.

use crate::config::{self, CheckConfig};
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
