//! Constructors that keep every invariant's findings uniform.

use serde::Serialize;

use crate::invariants::CheckId;
use crate::report::{Finding, Status, Subject};

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
}
