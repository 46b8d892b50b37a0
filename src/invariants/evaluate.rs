//! Runs every invariant over one `Facts` value.

use crate::config::CheckConfig;
use crate::facts::Facts;
use crate::invariants::{BOOT_CRITICAL, expected, health, host, pm2, process, unit};
use crate::report::{Finding, Status, Subject};

/// Judges `facts` against what discovery found and what the check file expects: the host,
/// every node service unit, every node template, every expected unit, every health endpoint. Severity overrides
/// are not applied here (see [`super::severity::apply`]): "comes back" is judged on the
/// findings as the invariants wrote them.
pub(crate) fn evaluate(facts: &Facts, config: &CheckConfig) -> Vec<Finding> {
    let mut findings = vec![host::state(&facts.host)];
    for unit in &facts.units {
        findings.extend(unit::judge(unit, &facts.host));
        findings.extend(process::judge(unit));
    }
    let now_ms = humantime::parse_rfc3339(&facts.gathered_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    for home in &facts.pm2 {
        findings.extend(pm2::judge(home, &facts.host, config, now_ms));
    }
    findings.extend(host::gone_since_last_boot(facts));
    findings.extend(expected::missing_units(facts, config));
    let template_findings: Vec<Finding> =
        facts.templates.iter().map(|template| host::instances(template, facts, &config.units, &findings)).collect();
    findings.extend(template_findings);
    findings.extend(facts.http.iter().map(health::http));
    findings
}

/// Whether `subject` will be running after the next boot, as the findings predict: no
/// boot-critical invariant failed or could not be checked for it. A warning on one (a
/// world-readable EnvironmentFile) is a risk, not a unit that stays down. Judged on the
/// findings as the invariants wrote them, before check-file severity overrides.
pub(crate) fn comes_back(findings: &[Finding], subject: &Subject) -> bool {
    boot_blocker(findings, subject).is_none()
}

/// The first boot-critical finding of `subject` that keeps it from coming back.
pub(crate) fn boot_blocker<'a>(findings: &'a [Finding], subject: &Subject) -> Option<&'a Finding> {
    findings
        .iter()
        .filter(|f| &f.subject == subject && BOOT_CRITICAL.contains(&f.check))
        .find(|f| matches!(f.status, Status::Fail | Status::Error))
}
