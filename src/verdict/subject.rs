//! What a finding is about.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a finding is about: `host`, `unit:NAME`, `pm2:HOME`, `process:KEY`, `http:URL`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Subject {
    /// The host as a whole.
    Host,
    /// A systemd unit.
    Unit(String),
    /// A PM2 home (PM2_HOME).
    Pm2(String),
    /// A process no unit or PM2 home bootproof judges accounts for, keyed by what stays
    /// the same when it is started again — its command line and working directory
    /// (`node server.js 3000 (in /srv/api)`), never its pid — so the state file and
    /// alerts keyed by check and subject follow it across restarts.
    Process(String),
    /// An HTTP health endpoint.
    Http(String),
}

impl Subject {
    /// Whether this is a template unit (`my-app@.service`): judged as a whole by
    /// `unit.instances`, never started itself.
    pub(crate) fn is_template(&self) -> bool {
        matches!(self, Subject::Unit(name) if name.contains("@."))
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Host => f.write_str("host"),
            Subject::Unit(name) => write!(f, "unit:{name}"),
            Subject::Pm2(home) => write!(f, "pm2:{home}"),
            Subject::Process(key) => write!(f, "process:{key}"),
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
            Some(("process", key)) => Ok(Subject::Process(key.to_owned())),
            Some(("http", url)) => Ok(Subject::Http(url.to_owned())),
            _ => Err(format!("unknown subject {s:?}: expected host, unit:NAME, pm2:HOME, process:KEY or http:URL")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_through_text() {
        for text in [
            "host",
            "unit:my-app@3000.service",
            "pm2:/root/.pm2",
            "process:node server.js 3000 (in /srv/api)",
            "http:http://127.0.0.1:3000/health",
        ] {
            let subject: Subject = text.parse().expect("a subject");
            assert_eq!(subject.to_string(), text);
        }
        assert!("nginx".parse::<Subject>().is_err());
        assert!(Subject::Unit("my-app@.service".into()).is_template());
        assert!(!Subject::Unit("my-app@3000.service".into()).is_template());
    }
}
