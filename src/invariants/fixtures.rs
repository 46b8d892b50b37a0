//! Facts captured from real systemd in the reboot lab (`ci/capture-facts`), for the
//! invariants' unit tests. Never hand-edited: regenerate them instead.

use crate::facts::{Fact, Facts, ServiceFacts, UnitFacts, UnitProperties};
use crate::verdict::{Finding, Status, Subject};

/// `my-app@.service` with four instances (ports 39400–39403), all enabled and running.
pub(crate) fn all_good() -> Facts {
    parse(include_str!("../../tests/facts/template-all-good.json"))
}

/// The same host with one defect per instance: 39401 disabled, 39402 enabled only at
/// runtime, 39403's EnvironmentFile removed; `api@39408` with a missing account,
/// Restart=no and a removed node; `legacy.service` as root on an nvm node through
/// `env`, with no start limit and a world-readable EnvironmentFile.
pub(crate) fn defects() -> Facts {
    parse(include_str!("../../tests/facts/template-defects.json"))
}

/// The incident's host: an API started with PM2 from a root shell and saved with `pm2
/// save`, but never registered with `pm2 startup` (no unit; the daemon belongs to no one).
pub(crate) fn pm2_incident() -> Facts {
    parse(include_str!("../../tests/facts/pm2-incident.json"))
}

/// The same host after the incident's fix: `pm2 startup systemd -u root --hp /root`,
/// `pm2 save`, `pm2 kill && systemctl start pm2-root` (the unit owns the daemon).
pub(crate) fn pm2_fixed() -> Facts {
    parse(include_str!("../../tests/facts/pm2-fixed.json"))
}

/// Node servers started by hand on a lab machine: with nohup from a login session, in
/// tmux, in a `systemd-run --scope`, under nodemon; a lingering user service; and units
/// running node directly and through a wrapper found by env.
pub(crate) fn processes() -> Facts {
    parse(include_str!("../../tests/facts/processes.json"))
}

/// The finding of `check` on `pm2:HOME`, panicking with the list when absent.
#[track_caller]
pub(crate) fn on_pm2<'a>(findings: &'a [Finding], home: &str, check: &str) -> &'a Finding {
    let subject = Subject::Pm2(home.to_owned());
    findings
        .iter()
        .find(|f| f.subject == subject && f.check.as_str() == check)
        .unwrap_or_else(|| panic!("no {check} finding for pm2:{home} among {findings:#?}"))
}

/// A captured facts file, read as `check --facts` reads it (v1 files are migrated).
fn parse(text: &str) -> Facts {
    crate::facts::saved::parse(text).expect("a captured facts file parses")
}

/// A captured unit's manager-side properties, to change one for a test.
#[track_caller]
pub(crate) fn props_mut(unit: &mut UnitFacts) -> &mut UnitProperties {
    match &mut unit.properties {
        Fact::Ok(props) => props,
        Fact::Error(reason) => panic!("captured unit {} has no properties: {reason}", unit.name),
    }
}

/// A captured unit's service properties, to change one for a test.
#[track_caller]
pub(crate) fn service_mut(unit: &mut UnitFacts) -> &mut ServiceFacts {
    match &mut unit.service {
        Fact::Ok(service) => service,
        Fact::Error(reason) => panic!("captured unit {} has no service properties: {reason}", unit.name),
    }
}

/// The finding of `check` on `unit:NAME`, panicking with the list when absent.
#[track_caller]
pub(crate) fn on_unit<'a>(findings: &'a [Finding], unit: &str, check: &str) -> &'a Finding {
    let subject = Subject::Unit(unit.to_owned());
    findings
        .iter()
        .find(|f| f.subject == subject && f.check.as_str() == check)
        .unwrap_or_else(|| panic!("no {check} finding for {unit} among {findings:#?}"))
}

/// Asserts status and that the message mentions `needle`.
#[track_caller]
pub(crate) fn assert_finding(finding: &Finding, status: Status, needle: &str) {
    assert_eq!(finding.status, status, "{finding:#?}");
    assert!(finding.message.contains(needle), "message lacks {needle:?}: {finding:#?}");
}
