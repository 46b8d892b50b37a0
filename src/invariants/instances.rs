//! `unit.instances`: a template unit judged as a whole, from its instances' predictions.

use crate::config::ExpectedUnit;
use crate::facts::{ActiveState, Facts, TemplateFacts};
use crate::invariants::expected::expected_instances;
use crate::invariants::fix;
use crate::invariants::host::gone;
use crate::verdict::{CheckId, Finding, Status, Subject, SubjectPrediction};

/// `unit.instances`: every known instance of a template comes back at boot and runs now,
/// judged from the instances' own predictions so "comes back" means the same everywhere.
/// Instances the check file expects and systemd does not know (nothing enables or runs
/// them) count as not coming back.
pub(crate) fn instances(
    template: &TemplateFacts,
    facts: &Facts,
    expected: &[ExpectedUnit],
    findings: &[Finding],
    predictions: &[SubjectPrediction],
) -> Finding {
    let check = CheckId::UnitInstances;
    let subject = Subject::Unit(template.name.clone());
    let units: Vec<_> = facts.units.iter().filter(|u| u.template.as_deref() == Some(template.name.as_str())).collect();
    let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
    let prefix = template.name.trim_end_matches(".service");
    let gone: Vec<&str> = gone(facts).filter(|name| name.starts_with(prefix)).collect();
    let absent: Vec<&str> = expected_instances(expected, &template.name)
        .filter(|name| !names.contains(name) && !gone.contains(name))
        .collect();
    if units.is_empty() && gone.is_empty() && absent.is_empty() {
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
    let mut unknown = Vec::new();
    let mut down = Vec::new();
    for unit in &units {
        let subject = Subject::Unit(unit.name.clone());
        let prediction = predictions.iter().find(|p| p.subject == subject).map(|p| &p.prediction);
        let blocker = prediction.and_then(|p| p.blocked_by.as_ref());
        if prediction.is_none() || blocker.is_some_and(|b| b.status == Status::Error) {
            unknown.push(unit.name.as_str());
        } else if blocker.is_some() {
            lost.push(unit.name.as_str());
        } else if unit.properties.ok().is_none_or(|p| p.active_state != ActiveState::Active) {
            down.push(unit.name.as_str());
        }
    }
    let finding = if lost.is_empty() && down.is_empty() && gone.is_empty() && absent.is_empty() {
        if unknown.is_empty() {
            Finding::pass(
                check,
                &subject,
                format!("all {} instances come back after a reboot and are active", units.len()),
            )
        } else {
            // Not knowing whether an instance comes back is not knowing the template does.
            Finding::error(
                check,
                &subject,
                format!(
                    "{} of {} instances could not be judged ({}); see their own findings",
                    unknown.len(),
                    units.len(),
                    unknown.join(", ")
                ),
            )
        }
    } else {
        let mut parts = Vec::new();
        if !lost.is_empty() {
            parts.push(format!("{} will not come back after a reboot ({})", lost.len(), lost.join(", ")));
        }
        if !unknown.is_empty() {
            parts.push(format!("{} could not be judged ({})", unknown.len(), unknown.join(", ")));
        }
        if !down.is_empty() {
            parts.push(format!("{} not running now ({})", down.len(), down.join(", ")));
        }
        if !gone.is_empty() {
            parts.push(format!("{} did not come back after the reboot ({})", gone.len(), gone.join(", ")));
        }
        if !absent.is_empty() {
            parts.push(format!(
                "{} expected by the check file, neither enabled nor running ({})",
                absent.len(),
                absent.join(", ")
            ));
        }
        // Enabling fixes the instances that are only not enabled or not running; the others
        // carry their own findings (a missing account, binary or file) to fix first.
        let not_enabled = |name: &&str| {
            findings.iter().any(|f| {
                f.subject == Subject::Unit((*name).to_owned())
                    && f.check == CheckId::SupervisorEnabled
                    && f.status != Status::Pass
            })
        };
        let mut enable: Vec<&str> = lost.iter().copied().filter(not_enabled).collect();
        enable.extend(&down);
        enable.extend(&gone);
        enable.extend(&absent);
        let others: Vec<&str> = lost.iter().copied().filter(|name| !not_enabled(name)).collect();
        let remediation = match (enable.is_empty(), others.is_empty()) {
            (false, true) => fix::systemctl("enable --now", &enable),
            // Names in the prose are quoted too: pasted after a `;`, a raw `$(…)` would run.
            (true, _) => format!("fix the findings of {} (listed under each unit)", fix::quote_all(&others)),
            (false, false) => {
                format!(
                    "{}; and fix the findings of {}",
                    fix::systemctl("enable --now", &enable),
                    fix::quote_all(&others)
                )
            }
        };
        Finding::violated(
            check,
            &subject,
            format!(
                "{} of {} instances: {}",
                lost.len() + down.len() + gone.len() + absent.len(),
                units.len() + gone.len() + absent.len(),
                parts.join("; ")
            ),
            remediation,
        )
    };
    finding
        .evidence("instances", names)
        .evidence("not_at_boot", lost)
        .evidence("not_judged", unknown)
        .evidence("not_running", down)
        .evidence("gone_since_last_boot", gone)
        .evidence("expected_not_known", absent)
}
