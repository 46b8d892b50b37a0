//! Invariants of the host and of template units as a whole.

use crate::facts::{Fact, Facts, HostFacts, TemplateFacts};
use crate::invariants::{CheckId, fix, unit};
use crate::report::{Finding, Subject};

/// `host.state`: systemd is running, not degraded.
pub(crate) fn state(host: &HostFacts) -> Finding {
    let check = CheckId::HostState;
    let subject = Subject::Host;
    let failed = host.failed_units.ok().cloned().unwrap_or_default();
    let finding = match &host.system_state {
        Fact::Error(reason) => Finding::error(check, &subject, format!("could not read systemd's state: {reason}")),
        Fact::Ok(state) if state == "running" && failed.is_empty() => Finding::pass(check, &subject, "running"),
        Fact::Ok(state) if state == "running" || state == "degraded" => {
            let first = failed.first().map_or("UNIT", String::as_str);
            Finding::violated(
                check,
                &subject,
                format!("{state}: {} failed unit(s): {}", failed.len(), failed.join(", ")),
                format!("{}; after fixing: sudo systemctl reset-failed", fix::journal(first)),
            )
        }
        Fact::Ok(state) if state == "starting" || state == "initializing" => Finding::warn(
            check,
            &subject,
            format!("{state}: the boot has not finished"),
            "run again when the boot is done, or with --wait",
        ),
        Fact::Ok(state) => Finding::violated(
            check,
            &subject,
            format!("{state}: the system is not in normal operation"),
            "sudo systemctl is-system-running --wait; sudo systemctl list-units --state=failed",
        ),
    };
    finding.evidence("system_state", host.system_state.ok()).evidence("failed_units", failed)
}

/// `unit.instances`: every known instance of a template comes back at boot and runs now.
pub(crate) fn instances(template: &TemplateFacts, facts: &Facts) -> Finding {
    let check = CheckId::UnitInstances;
    let subject = Subject::Unit(template.name.clone());
    let units: Vec<_> = facts.units.iter().filter(|u| u.template.as_deref() == Some(template.name.as_str())).collect();
    let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
    if units.is_empty() {
        let example = template.name.replace("@.", "@INSTANCE.");
        return Finding::violated(
            check,
            &subject,
            format!("no instance of {} is enabled or running: nothing of it starts at boot", template.name),
            fix::systemctl("enable --now", &[&example]),
        )
        .evidence("instances", names);
    }
    let mut lost = Vec::new();
    let mut down = Vec::new();
    for unit in &units {
        if !unit::starts_at_boot(unit, &facts.host) {
            lost.push(unit.name.as_str());
        } else if unit.active_state != "active" {
            down.push(unit.name.as_str());
        }
    }
    let finding = if lost.is_empty() && down.is_empty() {
        Finding::pass(check, &subject, format!("all {} instances start at boot and are active", units.len()))
    } else {
        let mut parts = Vec::new();
        if !lost.is_empty() {
            parts.push(format!("{} will not start at boot ({})", lost.len(), lost.join(", ")));
        }
        if !down.is_empty() {
            parts.push(format!("{} not running now ({})", down.len(), down.join(", ")));
        }
        let mut targets = lost.clone();
        targets.extend(&down);
        Finding::violated(
            check,
            &subject,
            format!("{} of {} instances: {}", lost.len() + down.len(), units.len(), parts.join("; ")),
            fix::systemctl("enable --now", &targets),
        )
    };
    finding.evidence("instances", names).evidence("not_at_boot", lost).evidence("not_running", down)
}
