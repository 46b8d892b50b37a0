//! The check file, resolved: what the operator declared beyond discovery. Loading and
//! validation (with key, line and column in every error) live beside this in `load.rs`,
//! template ranges in `template.rs`; everything downstream sees only these types.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::verdict::CheckId;

/// Everything a check file declares, with templates expanded and durations parsed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CheckConfig {
    /// Where it was loaded from; `None` when no check file was used.
    pub(crate) source: Option<String>,
    /// Expected PM2 homes and their apps.
    pub(crate) pm2: Vec<ExpectedPm2>,
    /// Expected units; a template range is expanded to one entry per instance.
    pub(crate) units: Vec<ExpectedUnit>,
    /// Health endpoints to probe (from `[[health]]` and from `[[unit]] health = …`).
    pub(crate) health: Vec<HealthSpec>,
    /// Thresholds.
    pub(crate) thresholds: Thresholds,
    /// Severity overrides per invariant.
    pub(crate) severity: BTreeMap<CheckId, SeverityOverride>,
}

/// A PM2 home and the apps that must be online in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExpectedPm2 {
    /// PM2_HOME, e.g. `/home/deploy/.pm2`.
    pub(crate) home: String,
    /// App name → expected online instances.
    pub(crate) apps: BTreeMap<String, u32>,
}

/// A unit that must exist, come back at boot and run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExpectedUnit {
    /// Full unit name: `my-app@3000.service`.
    pub(crate) name: String,
    /// For an instance of a template (from a range or named singly), the template:
    /// `my-app@.service`.
    pub(crate) template: Option<String>,
}

/// One HTTP health probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HealthSpec {
    /// The URL, templates expanded.
    pub(crate) url: String,
    /// Accepted status codes; empty means any 2xx.
    pub(crate) status: Vec<u16>,
    /// The body must contain this text.
    pub(crate) body_contains: Option<String>,
    /// JSON field equality: dotted path (`status`, `checks.db`) → expected JSON value.
    pub(crate) json: BTreeMap<String, serde_json::Value>,
    /// Give up after this long (default 2 s).
    #[serde(with = "humantime_serde_compat")]
    pub(crate) timeout: Duration,
    /// Accept TLS certificates that are not trusted (self-signed).
    pub(crate) insecure: bool,
    /// Send this Host header.
    pub(crate) host: Option<String>,
    /// Follow redirects (default: no; a 3xx is reported as it is).
    pub(crate) follow_redirects: bool,
    /// The unit this endpoint belongs to, when declared under `[[unit]]`.
    pub(crate) unit: Option<String>,
}

/// Thresholds, each with the default an operator would expect.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Thresholds {
    /// A dump older than this many seconds is reported by `pm2.dump-fresh` even when it
    /// matches (written `dump_max_age = "30d"`).
    pub(crate) dump_max_age: Option<u64>,
}

/// What the check file says an invariant's violations become.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SeverityOverride {
    /// A violation fails.
    Fail,
    /// A violation warns.
    Warn,
    /// The invariant is not run.
    Off,
}

/// Durations as humantime text in JSON (`"2s"`), so a resolved config prints readably.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}
