//! Facts captured from real systemd in the reboot lab (`ci/capture-facts`), for the
//! invariants' unit tests. Never hand-edited: regenerate them instead.

use crate::facts::Facts;
use crate::report::{Finding, Status, Subject};

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

fn parse(text: &str) -> Facts {
    serde_json::from_str(text).expect("a captured facts file parses")
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
