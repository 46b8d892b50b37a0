//! Runs every invariant over one `Facts` value.

use crate::facts::Facts;
use crate::invariants::{host, process, unit};
use crate::report::Finding;

/// Judges `facts`: the host, every node service unit, every node template.
pub(crate) fn evaluate(facts: &Facts) -> Vec<Finding> {
    let mut findings = vec![host::state(&facts.host)];
    for unit in &facts.units {
        findings.extend(unit::judge(unit, &facts.host));
        findings.extend(process::judge(unit));
    }
    for template in &facts.templates {
        findings.push(host::instances(template, facts));
    }
    findings
}
