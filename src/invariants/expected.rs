//! What the check file expects and discovery did not find: a unit systemd has no file
//! for, an instance of a template that nothing enables, a template that is not installed.
//! Units that discovery did find are judged by their own invariants; template instances
//! also count in `unit.instances` (see [`super::host::instances`]).

use crate::config::{CheckConfig, ExpectedUnit};
use crate::facts::Facts;
use crate::invariants::fix;
use crate::verdict::{CheckId, Finding, Subject};

/// What systemd says of a unit it does not know.
pub(crate) const NO_SUCH_UNIT: &str = "expected by the check file but systemd has no such unit";

/// Findings for every expected unit that is not among the gathered units.
pub(crate) fn missing_units(facts: &Facts, config: &CheckConfig) -> Vec<Finding> {
    let source = config.source.as_deref().unwrap_or("the check file");
    let mut findings: Vec<Finding> = absent(facts, &config.units)
        .map(|expected| {
            let subject = Subject::Unit(expected.name.clone());
            let name = expected.name.as_str();
            let finding = match expected.template.as_deref() {
                // The template is installed: the instance exists as soon as something
                // enables or starts it, and nothing does.
                Some(template) if template_known(facts, template) => Finding::violated(
                    CheckId::SupervisorEnabled,
                    &subject,
                    format!(
                        "expected by the check file, and neither enabled nor running: nothing starts {name} at boot"
                    ),
                    fix::systemctl("enable --now", &[name]),
                ),
                Some(template) => Finding::violated(
                    CheckId::SupervisorRegistered,
                    &subject,
                    format!("{NO_SUCH_UNIT} (its template {template} is not installed)"),
                    format!(
                        "write /etc/systemd/system/{template}, then sudo systemctl daemon-reload && {}",
                        fix::systemctl("enable --now", &[name])
                    ),
                ),
                None => Finding::violated(
                    CheckId::SupervisorRegistered,
                    &subject,
                    NO_SUCH_UNIT,
                    format!(
                        "write /etc/systemd/system/{name}, then sudo systemctl daemon-reload && {}",
                        fix::systemctl("enable --now", &[name])
                    ),
                ),
            };
            finding.evidence("expected_by", source).evidence("template", &expected.template)
        })
        .collect();
    findings.extend(missing_templates(facts, config, source));
    findings
}

/// `unit.instances` for each expected template systemd does not have at all (a template
/// it has is judged by [`super::host::instances`], expected instances included).
fn missing_templates(facts: &Facts, config: &CheckConfig, source: &str) -> Vec<Finding> {
    let mut templates: Vec<&str> = config.units.iter().filter_map(|u| u.template.as_deref()).collect();
    templates.sort_unstable();
    templates.dedup();
    templates
        .into_iter()
        .filter(|template| !template_known(facts, template))
        .map(|template| {
            let instances: Vec<&str> = expected_instances(&config.units, template).collect();
            Finding::violated(
                CheckId::UnitInstances,
                &Subject::Unit(template.to_owned()),
                format!(
                    "{NO_SUCH_UNIT}: none of the {} expected instances can start ({})",
                    instances.len(),
                    instances.join(", ")
                ),
                format!(
                    "write /etc/systemd/system/{template}, then sudo systemctl daemon-reload && {}",
                    fix::systemctl("enable --now", &instances)
                ),
            )
            .evidence("expected_by", source)
            .evidence("instances", &instances)
        })
        .collect()
}

/// The expected instances of `template`, in check-file order.
pub(crate) fn expected_instances<'a>(expected: &'a [ExpectedUnit], template: &'a str) -> impl Iterator<Item = &'a str> {
    expected.iter().filter(move |u| u.template.as_deref() == Some(template)).map(|u| u.name.as_str())
}

/// Expected units that are not among the gathered ones (node services, and the units
/// that start a PM2 home), nor among those discovery could not read (each of which has
/// its own `error`).
fn absent<'a>(facts: &'a Facts, expected: &'a [ExpectedUnit]) -> impl Iterator<Item = &'a ExpectedUnit> {
    let known = facts.units.iter().chain(facts.pm2.iter().flat_map(|home| &home.units));
    expected
        .iter()
        .filter(move |e| !known.clone().any(|u| u.name == e.name) && !facts.unreadable.iter().any(|u| u.name == e.name))
}

/// Whether systemd has the template's file (discovery found it).
fn template_known(facts: &Facts, template: &str) -> bool {
    facts.templates.iter().any(|t| t.name == template)
}

#[cfg(test)]
mod tests {
    use crate::config::{CheckConfig, ExpectedUnit};
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, assert_finding, on_unit};
    use crate::verdict::Status;

    fn expecting(units: &[(&str, Option<&str>)]) -> CheckConfig {
        CheckConfig {
            source: Some("bootproof.toml".into()),
            units: units
                .iter()
                .map(|(name, template)| ExpectedUnit { name: (*name).into(), template: template.map(Into::into) })
                .collect(),
            ..CheckConfig::default()
        }
    }

    #[test]
    fn an_expected_unit_systemd_does_not_have_fails() {
        let findings = evaluate(&all_good(), &expecting(&[("payments.service", None)])).findings;
        let f = on_unit(&findings, "payments.service", "supervisor.registered");
        assert_finding(f, Status::Fail, "expected by the check file but systemd has no such unit");
        assert_eq!(f.evidence.get("expected_by"), Some(&serde_json::json!("bootproof.toml")));
    }

    #[test]
    fn expected_units_that_exist_add_nothing() {
        let config = expecting(&[("my-app@39400.service", Some("my-app@.service"))]);
        assert_eq!(evaluate(&all_good(), &config).findings, evaluate(&all_good(), &CheckConfig::default()).findings);
    }

    #[test]
    fn an_expected_instance_nothing_enables_counts_in_unit_instances() {
        let config = expecting(&[
            ("my-app@39400.service", Some("my-app@.service")),
            ("my-app@39404.service", Some("my-app@.service")),
        ]);
        let findings = evaluate(&all_good(), &config).findings;
        let f = on_unit(&findings, "my-app@39404.service", "supervisor.enabled");
        assert_finding(f, Status::Fail, "neither enabled nor running");
        let instances = on_unit(&findings, "my-app@.service", "unit.instances");
        assert_finding(instances, Status::Fail, "1 of 5 instances");
        assert_finding(instances, Status::Fail, "my-app@39404.service");
        assert_eq!(instances.remediation.as_deref(), Some("sudo systemctl enable --now my-app@39404.service"));
    }

    #[test]
    fn an_expected_template_that_is_not_installed_fails_as_a_whole() {
        let config = expecting(&[("web@1.service", Some("web@.service")), ("web@2.service", Some("web@.service"))]);
        let findings = evaluate(&all_good(), &config).findings;
        assert_finding(on_unit(&findings, "web@1.service", "supervisor.registered"), Status::Fail, "no such unit");
        let f = on_unit(&findings, "web@.service", "unit.instances");
        assert_finding(f, Status::Fail, "none of the 2 expected instances can start (web@1.service, web@2.service)");
    }
}
