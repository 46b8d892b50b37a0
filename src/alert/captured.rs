//! Messages of captured hosts, for the payload snapshot tests and README: what bootproof
//! really sends when real hosts (captured from real systemd and PM2 in the lab) change,
//! judged by the real invariants and tracked by the real `track`.

use super::message::Message;
use super::track::{Policy, Run, track};
use crate::report::{Report, captured};
use crate::state::AlertMemory;
use crate::verdict::CheckId;

/// The alerting defaults: fire at the first bad run, no reminders, failures only.
const DEFAULTS: Policy = Policy { alert_after: 1, remind: None, on_warn: false };

/// The message of the last of `reports`, checked one after the other, each at the time its
/// facts were gathered.
fn last_message(reports: &[(Report, &str)]) -> Message {
    let mut memory: Option<AlertMemory> = None;
    let mut alerts = Vec::new();
    for (report, now) in reports {
        let (next, said) = track(memory.as_ref(), &Run { report, checks_run: CheckId::ALL, now }, &DEFAULTS);
        memory = Some(next);
        alerts = said;
    }
    let host = reports.last().and_then(|(r, _)| r.host.hostname.clone()).unwrap_or_default();
    Message { host, alerts }
}

/// The first alerting run on the incident's host: PM2 from a root shell, never registered.
pub(crate) fn incident() -> Message {
    last_message(&[(captured::pm2_incident(), "2026-12-01T14:10:42Z")])
}

/// The incident's host fixed and rebooted: the reboot message, and what resolved.
pub(crate) fn incident_fixed() -> Message {
    last_message(&[(captured::pm2_incident(), "2026-12-01T14:10:42Z"), (captured::pm2_fixed(), "2026-12-01T14:10:51Z")])
}

/// A healthy template host rebooted into the defects host: the reboot message naming what
/// did not come back, and every new failure.
pub(crate) fn rebooted_into_defects() -> Message {
    last_message(&[(captured::all_good(), "2026-12-01T14:14:30Z"), (captured::defects(), "2026-12-01T14:14:38Z")])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{json, slack};

    #[test]
    fn readme_shows_what_bootproof_sends() {
        let readme = include_str!("../../README.md");
        for (what, text) in [
            ("the Slack message on the incident host", slack::text(&incident())),
            ("the Slack message after the fix and a reboot", slack::text(&incident_fixed())),
            ("the Slack message after a reboot into the defects host", slack::text(&rebooted_into_defects())),
            ("the JSON payload on the incident host", json::pretty(&incident())),
        ] {
            assert!(readme.contains(&format!("\n{text}\n```")), "README does not show {what} as it is sent:\n{text}");
        }
    }
}
