//! The `slack` webhook payload: `{"text": …}`, what Slack's incoming webhooks take. One paragraph per alert: what, on which
//! subject, since when, and the fix as code; a reboot names each service that did not
//! come back with its fix, and the verdict.
//!
//! Slack's markup is escaped (`&`, `<`, `>`), so a unit name or message from the host is
//! shown as written and never becomes a link or a mention.

use std::fmt::Write as _;

use super::message::{Alert, AlertAbout, AlertStatus, Message};

/// At most this many alerts are written out; the rest are counted (Slack cuts long texts).
const MAX_ALERTS: usize = 25;

/// Renders `message` as a Slack incoming-webhook payload (JSON text).
pub(crate) fn render(message: &Message) -> String {
    serde_json::json!({ "text": text(message) }).to_string()
}

/// The message text, in Slack's markup.
pub(crate) fn text(message: &Message) -> String {
    let firing = message.count(AlertStatus::Firing);
    let resolved = message.count(AlertStatus::Resolved);
    let mut out = format!("*bootproof on {}*: {firing} firing, {resolved} resolved", escape(&message.host));
    for alert in message.alerts.iter().take(MAX_ALERTS) {
        out.push_str("\n\n");
        paragraph(&mut out, alert);
    }
    if message.alerts.len() > MAX_ALERTS {
        let _ = write!(out, "\n\n… and {} more", message.alerts.len() - MAX_ALERTS);
    }
    out
}

fn paragraph(out: &mut String, alert: &Alert) {
    let mark = match alert.status {
        AlertStatus::Firing => "✘",
        AlertStatus::Resolved => "✔",
    };
    match &alert.about {
        AlertAbout::Reboot => {
            let _ = write!(out, "{mark} *{}*", escape(&alert.summary));
            if let Some(reboot) = &alert.reboot {
                for service in &reboot.not_back {
                    let _ = write!(out, "\n• {}: {}", escape(&service.name), escape(&service.why));
                    for fix in &service.fixes {
                        let _ = write!(out, "\n   fix: {}", code(fix));
                    }
                }
                let v = &reboot.verdict;
                let _ = write!(
                    out,
                    "\nverdict: {}: {} failed, {} warnings, {} passed, {} skipped, {} errors",
                    v.status, v.fail, v.warn, v.pass, v.skip, v.error
                );
            }
        }
        AlertAbout::Check { check, .. } => {
            let word = match (alert.status, alert.reminder) {
                (AlertStatus::Firing, false) => "FIRING",
                (AlertStatus::Firing, true) => "STILL FIRING",
                (AlertStatus::Resolved, _) => "RESOLVED",
            };
            let _ = write!(out, "{mark} *{word}* `{}` since {}", escape(check), escape(&alert.starts_at));
            let _ = write!(out, "\n{}", escape(&alert.summary));
            if let Some(fix) = &alert.remediation {
                let _ = write!(out, "\nfix: {}", code(fix));
            }
        }
    }
}

/// Escapes Slack's control characters in text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A command as inline code (a backtick in it would end the code: shown as a quote).
fn code(command: &str) -> String {
    format!("`{}`", escape(command).replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::captured;

    #[test]
    fn firing_on_the_incident_host() {
        insta::assert_snapshot!(text(&captured::incident()));
    }

    #[test]
    fn the_incident_host_fixed_and_rebooted() {
        insta::assert_snapshot!(text(&captured::incident_fixed()));
    }

    #[test]
    fn a_reboot_that_left_services_down() {
        insta::assert_snapshot!(text(&captured::rebooted_into_defects()));
    }

    #[test]
    fn the_payload_is_the_text() {
        let message = captured::incident();
        let payload: serde_json::Value = serde_json::from_str(&render(&message)).expect("JSON");
        assert_eq!(payload, serde_json::json!({ "text": text(&message) }));
    }

    #[test]
    fn host_text_never_becomes_markup() {
        assert_eq!(escape("<!channel> & <http://x|y>"), "&lt;!channel&gt; &amp; &lt;http://x|y&gt;");
        assert_eq!(code("echo `id`"), "`echo 'id'`");
    }
}
