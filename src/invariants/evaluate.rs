//! Runs every invariant over one `Facts` value.

use crate::facts::Facts;
use crate::invariants::{BOOT_CRITICAL, health, host, process, unit};
use crate::report::{Finding, Status, Subject};

/// Judges `facts`: the host, every node service unit, every node template, every
/// health endpoint.
pub(crate) fn evaluate(facts: &Facts) -> Vec<Finding> {
    let mut findings = vec![host::state(&facts.host)];
    for unit in &facts.units {
        findings.extend(unit::judge(unit, &facts.host));
        findings.extend(process::judge(unit));
    }
    findings.extend(host::gone_since_last_boot(facts));
    let template_findings: Vec<Finding> =
        facts.templates.iter().map(|template| host::instances(template, facts, &findings)).collect();
    findings.extend(template_findings);
    findings.extend(facts.http.iter().map(health::http));
    findings
}

/// Whether `subject` will be running after the next boot, as the findings predict: no
/// boot-critical invariant failed, warned or could not be checked for it.
pub(crate) fn comes_back(findings: &[Finding], subject: &Subject) -> bool {
    findings
        .iter()
        .filter(|f| &f.subject == subject && BOOT_CRITICAL.contains(&f.check))
        .all(|f| matches!(f.status, Status::Pass | Status::Skip))
}
