//! The status of one finding.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The verdict of one invariant on one subject.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    /// The invariant holds.
    Pass,
    /// It does not hold, at warning severity.
    Warn,
    /// It does not hold, at failure severity.
    Fail,
    /// It does not apply to this subject.
    Skip,
    /// The facts it needs could not be gathered.
    Error,
}

impl Status {
    /// The word used in every output format.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }

    /// Whether an operator needs to look at it: a warning, a failure, or something that
    /// could not be checked.
    pub(crate) fn needs_attention(self) -> bool {
        match self {
            Status::Warn | Status::Fail | Status::Error => true,
            Status::Pass | Status::Skip => false,
        }
    }

    /// Whether, on a boot-critical invariant, it means the subject does not come back: a
    /// failure, or not knowing (an unreadable fact is never taken to be fine).
    pub(crate) fn blocks_boot(self) -> bool {
        match self {
            Status::Fail | Status::Error => true,
            Status::Pass | Status::Warn | Status::Skip => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
