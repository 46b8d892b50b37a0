//! Findings grouped by subject, for the renderers that draw one section per subject.
//!
//! `Report::new` already sorts results by subject, but a report read back from JSON or
//! built by hand may not be sorted; grouping by first appearance keeps every subject in
//! one section either way, in report order.

use crate::verdict::{Finding, Subject};

/// One subject and its findings, in report order.
pub(crate) struct SubjectGroup<'a> {
    /// What the findings are about.
    pub(crate) subject: &'a Subject,
    /// Its findings, in the order the report lists them.
    pub(crate) findings: Vec<&'a Finding>,
}

/// Groups `findings` by subject, subjects in order of first appearance.
pub(crate) fn by_subject(findings: &[Finding]) -> Vec<SubjectGroup<'_>> {
    let mut groups: Vec<SubjectGroup<'_>> = Vec::new();
    for finding in findings {
        match groups.iter_mut().find(|group| *group.subject == finding.subject) {
            Some(group) => group.findings.push(finding),
            None => groups.push(SubjectGroup { subject: &finding.subject, findings: vec![finding] }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{CheckId, Status};

    fn finding(subject: Subject, check: CheckId) -> Finding {
        Finding {
            check,
            subject,
            status: Status::Pass,
            message: String::new(),
            remediation: None,
            evidence: serde_json::Map::new(),
        }
    }

    #[test]
    fn unsorted_findings_still_get_one_group_per_subject() {
        let app = Subject::Unit("my-app@3000.service".to_owned());
        let findings = vec![
            finding(app.clone(), CheckId::UnitExec),
            finding(Subject::Host, CheckId::HostState),
            finding(app.clone(), CheckId::UnitUser),
        ];
        let groups = by_subject(&findings);
        let shape: Vec<(&Subject, Vec<CheckId>)> =
            groups.iter().map(|g| (g.subject, g.findings.iter().map(|f| f.check).collect())).collect();
        assert_eq!(
            shape,
            vec![(&app, vec![CheckId::UnitExec, CheckId::UnitUser]), (&Subject::Host, vec![CheckId::HostState])]
        );
    }
}
