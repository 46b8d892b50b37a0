//! The "comes back" prediction: whether each unit, PM2 home and PM2 app will be running
//! after the next boot, and the finding that decided it when it will not.
//!
//! Computed once, by `invariants::evaluate`, from the findings as the invariants wrote
//! them (before check-file severity overrides: an override changes what a violation
//! costs, not whether systemd starts the service). `plan`, `unit.instances`, the JSON
//! report and the reboot lab all read this one verdict.

use serde::{Deserialize, Serialize};

use super::{CheckId, Finding, Status, Subject};

/// What keeps a subject from coming back: the deciding finding, in short.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Blocker {
    /// The invariant that decided it.
    pub(crate) check: CheckId,
    /// Its status: `fail`, or `error` when what decides could not be read (then it is
    /// not known to come back, which is not the same as known not to).
    pub(crate) status: Status,
    /// Why, in the operator's words.
    pub(crate) message: String,
    /// The command that fixes it, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

impl Blocker {
    /// The blocker a finding makes.
    pub(crate) fn of(finding: &Finding) -> Blocker {
        Blocker {
            check: finding.check,
            status: finding.status,
            message: finding.message.clone(),
            fix: finding.remediation.clone(),
        }
    }
}

/// Whether something will be running after the next boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Prediction {
    /// It will be running after the next boot.
    pub(crate) comes_back: bool,
    /// Why not, when it will not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) blocked_by: Option<Blocker>,
}

impl Prediction {
    /// Nothing keeps it from coming back.
    pub(crate) fn back() -> Prediction {
        Prediction { comes_back: true, blocked_by: None }
    }

    /// It does not come back, because of `blocker`.
    pub(crate) fn lost(blocker: Blocker) -> Prediction {
        Prediction { comes_back: false, blocked_by: Some(blocker) }
    }

    /// The prediction the findings make for `subject`: lost at its first finding that
    /// blocks the boot (see [`Finding::blocks_boot`]), back otherwise.
    pub(crate) fn from_findings(findings: &[Finding], subject: &Subject) -> Prediction {
        findings
            .iter()
            .find(|f| &f.subject == subject && f.blocks_boot())
            .map_or_else(Prediction::back, |f| Prediction::lost(Blocker::of(f)))
    }
}

/// One PM2 app of a home: what runs now, what is saved, and whether `pm2 resurrect`
/// brings it back as it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppPrediction {
    /// App name.
    pub(crate) name: String,
    /// Processes online now.
    pub(crate) online: usize,
    /// Processes saved in dump.pm2.
    pub(crate) saved: usize,
    /// It keeps restarting (`pm2.crash-loop`): online only between two crashes, so what
    /// a reboot does to it says nothing about the prediction.
    #[serde(default)]
    pub(crate) crash_looping: bool,
    /// Whether it comes back.
    #[serde(flatten)]
    pub(crate) prediction: Prediction,
}

/// The prediction for one unit or PM2 home.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubjectPrediction {
    /// The unit or PM2 home.
    pub(crate) subject: Subject,
    /// Whether it comes back.
    #[serde(flatten)]
    pub(crate) prediction: Prediction,
    /// For a PM2 home, each app running or saved in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) apps: Vec<AppPrediction>,
}

impl SubjectPrediction {
    /// Whether the subject and, for a PM2 home, every app in it come back.
    pub(crate) fn all_come_back(&self) -> bool {
        self.prediction.comes_back && self.apps.iter().all(|app| app.prediction.comes_back)
    }
}

/// What judging one host produced: every finding, and the prediction for every unit and
/// PM2 home, in subject order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Judgement {
    /// Every finding, as the invariants wrote them.
    pub(crate) findings: Vec<Finding>,
    /// One prediction per unit and PM2 home judged (templates excepted: `unit.instances`
    /// speaks for them).
    pub(crate) predictions: Vec<SubjectPrediction>,
}

impl Judgement {
    /// The prediction for `subject`, when it is a unit or PM2 home that was judged.
    pub(crate) fn prediction(&self, subject: &Subject) -> Option<&SubjectPrediction> {
        self.predictions.iter().find(|p| &p.subject == subject)
    }

    /// Whether every unit, PM2 home and PM2 app comes back after the next boot.
    pub(crate) fn everything_comes_back(&self) -> bool {
        self.predictions.iter().all(SubjectPrediction::all_come_back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_blocking_finding_decides() {
        let unit = Subject::Unit("my-app@3000.service".into());
        let findings = vec![
            Finding::pass(CheckId::SupervisorRegistered, &unit, "loaded"),
            Finding::violated(CheckId::SupervisorActive, &unit, "inactive (dead)", "sudo systemctl start x"),
            Finding::warn(CheckId::UnitEnvFiles, &unit, "world-readable", "chmod"),
            Finding::error(CheckId::UnitUser, &unit, "cannot look up the account"),
            Finding::violated(CheckId::UnitExec, &unit, "no node", "install node"),
        ];
        let prediction = Prediction::from_findings(&findings, &unit);
        assert!(!prediction.comes_back);
        assert_eq!(
            prediction.blocked_by.map(|b| b.check),
            Some(CheckId::UnitUser),
            "an error blocks: unknown is not fine"
        );
        let only_risks = &findings[..3];
        assert_eq!(Prediction::from_findings(only_risks, &unit), Prediction::back(), "not active now and a warning");
    }
}
