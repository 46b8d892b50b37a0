//! The `Report`: what every renderer draws and what the exit code is computed from.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::invariants::CheckId;

/// Version tag of the JSON report; bumped on any incompatible change.
pub(crate) const REPORT_SCHEMA: &str = "bootproof/report/v1";

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
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about: `host`, `unit:NAME`, `pm2:HOME`, `http:URL`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Subject {
    /// The host as a whole.
    Host,
    /// A systemd unit.
    Unit(String),
    /// A PM2 home (PM2_HOME).
    Pm2(String),
    /// An HTTP health endpoint.
    Http(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Host => f.write_str("host"),
            Subject::Unit(name) => write!(f, "unit:{name}"),
            Subject::Pm2(home) => write!(f, "pm2:{home}"),
            Subject::Http(url) => write!(f, "http:{url}"),
        }
    }
}

impl std::str::FromStr for Subject {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "host" {
            return Ok(Subject::Host);
        }
        match s.split_once(':') {
            Some(("unit", name)) => Ok(Subject::Unit(name.to_owned())),
            Some(("pm2", home)) => Ok(Subject::Pm2(home.to_owned())),
            Some(("http", url)) => Ok(Subject::Http(url.to_owned())),
            _ => Err(format!("unknown subject {s:?}: expected host, unit:NAME, pm2:HOME or http:URL")),
        }
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

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
}

impl Report {
    /// Builds a report, ordering results by subject (host first) and then by invariant.
    pub(crate) fn new(host: HostSummary, mut results: Vec<Finding>) -> Self {
        results.sort_by(|a, b| (&a.subject, a.check).cmp(&(&b.subject, b.check)));
        let summary = Summary::of(&results);
        Report { schema: REPORT_SCHEMA.to_owned(), host, summary, results }
    }
}
