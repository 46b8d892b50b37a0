//! One run's message: the alerts that changed, in the words every payload format renders.
//!
//! Shaped after Alertmanager's alerts (status, labels, annotations, start and end), so the
//! JSON payload is a plain rendering of it and the Slack text another.

use crate::report::Summary;

/// Firing or resolved, as Alertmanager says it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AlertStatus {
    /// Something entered a bad state (or is still in it: a reminder).
    Firing,
    /// Something that fired is well again.
    Resolved,
}

impl AlertStatus {
    /// The word payloads use.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// The `severity` label.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AlertSeverity {
    /// A failure, or something that could not be checked (not known to be fine).
    Critical,
    /// A warning (only with `--alert-on warn`).
    Warning,
    /// For information: a reboot after which everything came back.
    Info,
}

impl AlertSeverity {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Critical => "critical",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Info => "info",
        }
    }

    /// Reads a label value back from the state file; an unknown one is taken as critical.
    pub(crate) fn parse(text: &str) -> AlertSeverity {
        match text {
            "warning" => AlertSeverity::Warning,
            "info" => AlertSeverity::Info,
            _ => AlertSeverity::Critical,
        }
    }
}

/// What an alert is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AlertAbout {
    /// One invariant on one subject: the `check` and `subject` labels.
    Check {
        /// The invariant id, as the state file keeps it.
        check: String,
        /// The subject, as reports write it.
        subject: String,
    },
    /// The host rebooted: what came back.
    Reboot,
}

impl AlertAbout {
    /// The `alertname` label: `BootproofSupervisorEnabled` for `supervisor.enabled`, one
    /// name per invariant so receivers can route on it; `BootproofHostRebooted`.
    pub(crate) fn alertname(&self) -> String {
        match self {
            AlertAbout::Check { check, .. } => {
                let mut name = String::from("Bootproof");
                for word in check.split(['.', '-', '_']).filter(|w| !w.is_empty()) {
                    let mut chars = word.chars();
                    if let Some(first) = chars.next() {
                        name.extend(first.to_uppercase());
                        name.push_str(chars.as_str());
                    }
                }
                name
            }
            AlertAbout::Reboot => "BootproofHostRebooted".to_owned(),
        }
    }
}

/// One alert of a message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Alert {
    /// Firing or resolved.
    pub(crate) status: AlertStatus,
    /// What it is about.
    pub(crate) about: AlertAbout,
    /// The `severity` label (a resolution carries the firing alert's).
    pub(crate) severity: AlertSeverity,
    /// When the bad stretch began (the first bad run, or the boot).
    pub(crate) starts_at: String,
    /// When it ended, for a resolved alert.
    pub(crate) ends_at: Option<String>,
    /// One line: the subject and what is wrong (or well again).
    pub(crate) summary: String,
    /// The command that fixes it, for a firing alert that has one.
    pub(crate) remediation: Option<String>,
    /// A firing alert sent again by `--remind`.
    pub(crate) reminder: bool,
    /// For a reboot: what came back.
    pub(crate) reboot: Option<RebootDetails>,
}

/// What a reboot message tells beyond its summary.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RebootDetails {
    /// Services judged after the boot.
    pub(crate) total: usize,
    /// Those that are not running, each with why and the fix.
    pub(crate) not_back: Vec<NotBack>,
    /// The post-reboot verdict.
    pub(crate) verdict: Summary,
}

/// A service that did not come back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NotBack {
    /// `unit:NAME`, or `pm2:HOME APP` for a PM2 app.
    pub(crate) name: String,
    /// Why, in the operator's words.
    pub(crate) why: String,
    /// The commands that bring it back (and keep it coming back), first things first.
    pub(crate) fixes: Vec<String>,
}

/// Everything one run has to say to a webhook.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Message {
    /// The host's name (the `host` label).
    pub(crate) host: String,
    /// The alerts, reboot first, then firing, then resolved.
    pub(crate) alerts: Vec<Alert>,
}

impl Message {
    /// How many alerts have `status`.
    pub(crate) fn count(&self, status: AlertStatus) -> usize {
        self.alerts.iter().filter(|a| a.status == status).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::CheckId;

    #[test]
    fn alertnames_follow_the_invariant_ids() {
        let name = |check: &str| AlertAbout::Check { check: check.into(), subject: "host".into() }.alertname();
        assert_eq!(name("supervisor.enabled"), "BootproofSupervisorEnabled");
        assert_eq!(name("pm2.dump-fresh"), "BootproofPm2DumpFresh");
        assert_eq!(name("unit.env-files"), "BootproofUnitEnvFiles");
        assert_eq!(AlertAbout::Reboot.alertname(), "BootproofHostRebooted");
        for id in CheckId::ALL {
            let about = AlertAbout::Check { check: id.as_str().into(), subject: "host".into() };
            assert!(about.alertname().chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
    }
}
