//! The check file's severity overrides, applied once to the evaluated findings before the
//! report is built: `off` drops an invariant's findings, `warn` turns its failures into
//! warnings, `fail` its warnings into failures.

use std::collections::BTreeMap;

use crate::config::SeverityOverride;
use crate::verdict::{CheckId, Finding, Status};

/// Applies `overrides` to `findings`. Passes, skips and errors keep their status: an
/// override changes what a violation costs, not whether the facts could be read.
pub(crate) fn apply(findings: Vec<Finding>, overrides: &BTreeMap<CheckId, SeverityOverride>) -> Vec<Finding> {
    if overrides.is_empty() {
        return findings;
    }
    findings
        .into_iter()
        .filter_map(|mut finding| {
            let status = match (overrides.get(&finding.check), finding.status) {
                (Some(SeverityOverride::Off), _) => return None,
                (Some(SeverityOverride::Warn), Status::Fail) => Status::Warn,
                (Some(SeverityOverride::Fail), Status::Warn) => Status::Fail,
                _ => return Some(finding),
            };
            finding.status = status;
            // Say why the status is not the catalogue's, in the evidence every format shows.
            Some(finding.evidence("severity", format!("{status} (set by the check file)")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{defects, on_unit};

    fn overridden(pairs: &[(CheckId, SeverityOverride)]) -> Vec<Finding> {
        apply(evaluate(&defects(), &CheckConfig::default()).findings, &pairs.iter().copied().collect())
    }

    #[test]
    fn off_drops_every_finding_of_the_invariant() {
        let findings = overridden(&[(CheckId::UnitEnvFiles, SeverityOverride::Off)]);
        assert!(findings.iter().all(|f| f.check != CheckId::UnitEnvFiles));
        assert!(findings.iter().any(|f| f.check == CheckId::UnitExec), "others stay");
    }

    #[test]
    fn warn_turns_failures_into_warnings() {
        let before = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_eq!(on_unit(&before, "api@39408.service", "unit.user").status, Status::Fail);
        let findings = overridden(&[(CheckId::UnitUser, SeverityOverride::Warn)]);
        let f = on_unit(&findings, "api@39408.service", "unit.user");
        assert_eq!(f.status, Status::Warn);
        assert_eq!(f.evidence.get("severity"), Some(&serde_json::json!("warn (set by the check file)")));
        let passing = on_unit(&findings, "my-app@39400.service", "unit.user");
        assert_eq!(passing.status, Status::Pass, "a pass stays a pass");
        assert!(!passing.evidence.contains_key("severity"));
    }

    #[test]
    fn fail_turns_warnings_into_failures() {
        let before = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_eq!(on_unit(&before, "legacy.service", "process.not-root").status, Status::Warn);
        let findings = overridden(&[(CheckId::ProcessNotRoot, SeverityOverride::Fail)]);
        assert_eq!(on_unit(&findings, "legacy.service", "process.not-root").status, Status::Fail);
    }

    #[test]
    fn no_overrides_change_nothing() {
        let before = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_eq!(apply(before.clone(), &BTreeMap::new()), before);
    }
}
