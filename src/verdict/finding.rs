//! One finding: an invariant judged on a subject, with its message, fix and evidence, and
//! the constructors that keep every invariant's findings uniform.

use serde::{Deserialize, Serialize};

use super::{CheckId, Status, Subject};

/// One result line: an invariant judged on a subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Finding {
    /// The invariant's stable id.
    pub(crate) check: CheckId,
    /// What it judged.
    pub(crate) subject: Subject,
    /// The verdict.
    pub(crate) status: Status,
    /// One line in the operator's terms.
    pub(crate) message: String,
    /// The exact command (or edit) that fixes it; absent on a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) remediation: Option<String>,
    /// The fact values the verdict rests on.
    #[serde(default)]
    pub(crate) evidence: serde_json::Map<String, serde_json::Value>,
}

impl Finding {
    fn new(check: CheckId, subject: &Subject, status: Status, message: String) -> Self {
        Finding {
            check,
            subject: subject.clone(),
            status,
            message,
            remediation: None,
            evidence: serde_json::Map::new(),
        }
    }

    /// The invariant holds.
    pub(crate) fn pass(check: CheckId, subject: &Subject, message: impl Into<String>) -> Self {
        Self::new(check, subject, Status::Pass, message.into())
    }

    /// The invariant does not hold; the status is the invariant's default severity.
    pub(crate) fn violated(
        check: CheckId,
        subject: &Subject,
        message: impl Into<String>,
        remediation: impl Into<String>,
    ) -> Self {
        let status = check.default_severity().status();
        Self::new(check, subject, status, message.into()).fix(remediation)
    }

    /// A lesser violation that is a warning whatever the invariant's default severity.
    pub(crate) fn warn(
        check: CheckId,
        subject: &Subject,
        message: impl Into<String>,
        remediation: impl Into<String>,
    ) -> Self {
        Self::new(check, subject, Status::Warn, message.into()).fix(remediation)
    }

    /// The invariant does not apply to this subject.
    pub(crate) fn skip(check: CheckId, subject: &Subject, reason: impl Into<String>) -> Self {
        Self::new(check, subject, Status::Skip, reason.into())
    }

    /// The facts the invariant needs could not be gathered.
    pub(crate) fn error(check: CheckId, subject: &Subject, reason: impl Into<String>) -> Self {
        Self::new(check, subject, Status::Error, reason.into())
    }

    /// Sets the remediation.
    pub(crate) fn fix(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }

    /// Records a fact value the verdict rests on.
    pub(crate) fn evidence(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.evidence.insert(key.to_owned(), value);
        self
    }

    /// Whether this finding keeps its subject from coming back after a reboot: a
    /// boot-critical invariant that failed or could not be checked.
    pub(crate) fn blocks_boot(&self) -> bool {
        self.check.is_boot_critical() && self.status.blocks_boot()
    }
}
