//! Invariants of the host and of template units as a whole.

use crate::config::ExpectedUnit;
use crate::facts::{Fact, Facts, HostFacts, TemplateFacts};
use crate::invariants::evaluate::comes_back;
use crate::invariants::expected::expected_instances;
use crate::invariants::{CheckId, fix};
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

/// Units that were running at the last check before this boot and that systemd does not
/// even know now: nothing started them. Only bootproof's state file remembers them.
pub(crate) fn gone_since_last_boot(facts: &Facts) -> Vec<Finding> {
    let check = CheckId::SupervisorActive;
    let previous = match &facts.previous_boot {
        Fact::Ok(Some(previous)) => previous,
        Fact::Ok(None) => return Vec::new(),
        Fact::Error(reason) => {
            return vec![Finding::error(
                check,
                &Subject::Host,
                format!("cannot tell what ran before this boot: {reason}"),
            )];
        }
    };
    gone(facts)
        .map(|name| {
            Finding::violated(
                check,
                &Subject::Unit(name.to_owned()),
                format!(
                    "was running at the last check before this boot ({}), and is not loaded now: nothing started it",
                    previous.checked_at
                ),
                fix::systemctl("enable --now", &[name]),
            )
            .evidence("previous_boot_id", &previous.boot_id)
            .evidence("previous_check", &previous.checked_at)
        })
        .collect()
}

/// Names of units active at the last check of the previous boot and unknown now.
fn gone(facts: &Facts) -> impl Iterator<Item = &str> {
    let previous = facts.previous_boot.ok().and_then(Option::as_ref);
    previous
        .into_iter()
        .flat_map(|p| &p.units)
        .filter(|seen| seen.active && !facts.units.iter().any(|u| u.name == seen.name))
        .map(|seen| seen.name.as_str())
}

/// `unit.instances`: every known instance of a template comes back at boot and runs now,
/// judged from the instances' own findings so "comes back" means the same everywhere.
/// Instances the check file expects and systemd does not know (nothing enables or runs
/// them) count as not coming back.
pub(crate) fn instances(
    template: &TemplateFacts,
    facts: &Facts,
    expected: &[ExpectedUnit],
    findings: &[Finding],
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
    let mut down = Vec::new();
    for unit in &units {
        if !comes_back(findings, &Subject::Unit(unit.name.clone())) {
            lost.push(unit.name.as_str());
        } else if unit.active_state != "active" {
            down.push(unit.name.as_str());
        }
    }
    let finding = if lost.is_empty() && down.is_empty() && gone.is_empty() && absent.is_empty() {
        Finding::pass(check, &subject, format!("all {} instances come back after a reboot and are active", units.len()))
    } else {
        let mut parts = Vec::new();
        if !lost.is_empty() {
            parts.push(format!("{} will not come back after a reboot ({})", lost.len(), lost.join(", ")));
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
                    && f.status != crate::report::Status::Pass
            })
        };
        let mut enable: Vec<&str> = lost.iter().copied().filter(not_enabled).collect();
        enable.extend(&down);
        enable.extend(&gone);
        enable.extend(&absent);
        let others: Vec<&str> = lost.iter().copied().filter(|name| !not_enabled(name)).collect();
        let remediation = match (enable.is_empty(), others.is_empty()) {
            (false, true) => fix::systemctl("enable --now", &enable),
            (true, _) => format!("fix the findings of {} (listed under each unit)", others.join(", ")),
            (false, false) => {
                format!("{}; and fix the findings of {}", fix::systemctl("enable --now", &enable), others.join(", "))
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
        .evidence("not_running", down)
        .evidence("gone_since_last_boot", gone)
        .evidence("expected_not_known", absent)
}

#[cfg(test)]
mod tests {
    use crate::config::CheckConfig;
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, assert_finding, defects, on_unit};
    use crate::report::{Status, Subject};

    #[test]
    fn a_failed_unit_degrades_the_host() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let host = findings.iter().find(|f| f.subject == Subject::Host).expect("host finding");
        assert_finding(host, Status::Fail, "api@39408.service");
        let good = evaluate(&all_good(), &CheckConfig::default());
        assert_finding(
            good.iter().find(|f| f.subject == Subject::Host).expect("host finding"),
            Status::Pass,
            "running",
        );
    }

    /// The all-good host after a reboot that lost instance 39402, which the last check of
    /// the previous boot saw running.
    fn after_losing_39402() -> crate::facts::Facts {
        let mut facts = all_good();
        let seen: Vec<_> =
            facts.units.iter().map(|u| crate::facts::SeenUnit { name: u.name.clone(), active: true }).collect();
        facts.units.retain(|u| u.name != "my-app@39402.service");
        facts.previous_boot = crate::facts::Fact::Ok(Some(crate::facts::BootRecord {
            boot_id: "previous-boot".into(),
            checked_at: "2026-11-21T06:00:00Z".into(),
            units: seen,
        }));
        facts
    }

    #[test]
    fn a_unit_gone_since_the_last_boot_is_named() {
        let findings = evaluate(&after_losing_39402(), &CheckConfig::default());
        let f = on_unit(&findings, "my-app@39402.service", "supervisor.active");
        assert_finding(f, Status::Fail, "was running at the last check before this boot (2026-11-21T06:00:00Z)");
        assert_eq!(f.remediation.as_deref(), Some("sudo systemctl enable --now my-app@39402.service"));
        let instances = on_unit(&findings, "my-app@.service", "unit.instances");
        assert_finding(instances, Status::Fail, "1 did not come back after the reboot (my-app@39402.service)");
        assert_finding(instances, Status::Fail, "1 of 4 instances");
    }

    #[test]
    fn an_unreadable_state_file_is_an_error_not_a_pass() {
        let mut facts = all_good();
        facts.previous_boot = crate::facts::Fact::Error("permission denied".into());
        let findings = evaluate(&facts, &CheckConfig::default());
        assert!(findings.iter().any(|f| f.subject == Subject::Host
            && f.status == Status::Error
            && f.message.contains("permission denied")));
    }

    #[test]
    fn instances_that_will_not_come_back_are_named() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "my-app@.service", "unit.instances");
        assert_finding(f, Status::Fail, "3 of 4 instances");
        for lost in ["my-app@39401.service", "my-app@39402.service", "my-app@39403.service"] {
            assert!(f.message.contains(lost), "{f:#?}");
        }
        assert!(!f.message.contains("my-app@39400.service"));
        assert_eq!(
            f.remediation.as_deref(),
            Some(
                "sudo systemctl enable --now my-app@39401.service my-app@39402.service; and fix the findings of my-app@39403.service"
            )
        );
    }
}
