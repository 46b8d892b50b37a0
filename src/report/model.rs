//! The `Report`: what every renderer draws and what the exit code is computed from.

use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::verdict::{Finding, Judgement, Status, SubjectPrediction};

/// Version tag of the JSON report; bumped on any incompatible change.
pub(crate) const REPORT_SCHEMA: &str = "bootproof/report/v1";

/// Who was checked: the host line of every report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HostSummary {
    /// Host name, if it could be read.
    pub(crate) hostname: Option<String>,
    /// This boot's id.
    pub(crate) boot_id: Option<String>,
    /// When this boot's userspace started.
    pub(crate) booted_at: Option<String>,
    /// systemd's `SystemState`.
    pub(crate) system_state: Option<String>,
    /// When the facts were gathered (RFC 3339 UTC): when this check ran. Added within v1.
    #[serde(default)]
    pub(crate) checked_at: Option<String>,
}

impl HostSummary {
    /// The host line of the facts a report was judged from.
    pub(crate) fn of(facts: &Facts) -> HostSummary {
        HostSummary {
            hostname: facts.host.hostname.ok().cloned(),
            boot_id: facts.host.boot_id.ok().cloned(),
            booted_at: facts.host.booted_at.ok().cloned(),
            system_state: facts.host.system_state.ok().map(ToString::to_string),
            checked_at: Some(facts.gathered_at.clone()),
        }
    }
}

/// Counts per status and the overall verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// `fail` if anything failed, else `error` if anything could not be checked, else `warn`
    /// if anything warned, else `pass`.
    pub(crate) status: Status,
    /// Findings that passed.
    pub(crate) pass: usize,
    /// Findings that warned.
    pub(crate) warn: usize,
    /// Findings that failed.
    pub(crate) fail: usize,
    /// Findings that did not apply.
    pub(crate) skip: usize,
    /// Findings that could not be checked.
    pub(crate) error: usize,
}

impl Summary {
    /// Counts `findings` and derives the overall status.
    pub(crate) fn of(findings: &[Finding]) -> Self {
        let count = |status| findings.iter().filter(|f| f.status == status).count();
        let (pass, warn, fail, skip, error) =
            (count(Status::Pass), count(Status::Warn), count(Status::Fail), count(Status::Skip), count(Status::Error));
        let status = if fail > 0 {
            Status::Fail
        } else if error > 0 {
            Status::Error
        } else if warn > 0 {
            Status::Warn
        } else {
            Status::Pass
        };
        Summary { status, pass, warn, fail, skip, error }
    }
}

/// The result of one `bootproof check`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub(crate) schema: String,
    /// The host checked.
    pub(crate) host: HostSummary,
    /// Counts and overall verdict.
    pub(crate) summary: Summary,
    /// Every finding, grouped by subject in a stable order.
    pub(crate) results: Vec<Finding>,
    /// Whether each unit and PM2 home (and each PM2 app) comes back after the next boot,
    /// and what keeps it from it. Added to v1 after its first release; absent in reports
    /// of earlier versions.
    #[serde(default)]
    pub(crate) subjects: Vec<SubjectPrediction>,
}

impl Report {
    /// Builds a report, ordering results by subject (host first) and then by invariant.
    pub(crate) fn new(host: HostSummary, judgement: Judgement) -> Self {
        let Judgement { findings: mut results, predictions: subjects } = judgement;
        results.sort_by(|a, b| (&a.subject, a.check).cmp(&(&b.subject, b.check)));
        let summary = Summary::of(&results);
        Report { schema: REPORT_SCHEMA.to_owned(), host, summary, results, subjects }
    }

    /// The prediction for `subject`, when it is a unit or PM2 home that was judged.
    pub(crate) fn prediction(&self, subject: &crate::verdict::Subject) -> Option<&SubjectPrediction> {
        self.subjects.iter().find(|p| &p.subject == subject)
    }
}
