//! One alerting run, end to end: take the alerting lock, read what the last alerting run
//! remembered, decide what changed (`track`), render this run's message in the webhooks'
//! format, deliver it after the outbox, and remember what is left. Every problem is a note
//! for stderr; none changes the verdict or the exit code.

use std::path::Path;

use super::deliver::{Bounds, client};
use super::message::Message;
use super::outbox::{Webhook, deliver};
use super::secret::SecretUrl;
use super::track::{Policy, Run, track};
use super::{json, slack};
use crate::report::Report;
use crate::state;
use crate::verdict::CheckId;

/// How webhooks want their payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Shaped like Alertmanager's webhook payload (version 4).
    Json,
    /// Slack's `{"text": …}`.
    Slack,
}

impl Format {
    /// Its name on the command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }

    /// Renders `message` in this format (JSON text).
    pub(crate) fn render(self, message: &Message) -> String {
        match self {
            Format::Json => json::render(message),
            Format::Slack => slack::render(message),
        }
    }
}

/// Where alerts go and when.
#[derive(Clone, Debug)]
pub(crate) struct Alerting {
    /// The webhooks (secrets).
    pub(crate) webhooks: Vec<SecretUrl>,
    /// Their payload format.
    pub(crate) format: Format,
    /// When to fire, remind and resolve.
    pub(crate) policy: Policy,
}

/// Alerts on what changed since the last alerting run; returns notes for stderr.
/// `now` is when the report's facts were gathered: every alert of the run is stamped with it.
pub(crate) async fn notify(
    state_path: &Path,
    report: &Report,
    checks_run: &[CheckId],
    now: &str,
    alerting: &Alerting,
) -> Vec<String> {
    let mut notes = Vec::new();
    let _lock = match state::lock_alerting(state_path) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return vec![
                "another check is sending alerts right now; this run leaves the changes to the next".to_owned(),
            ];
        }
        Err(err) => return vec![format!("cannot alert: {err}")],
    };
    let previous = match state::alert_memory(state_path) {
        Ok(memory) => memory,
        Err(err @ state::StateError::Corrupt { .. }) => {
            notes.push(err.to_string());
            None
        }
        // Not knowing what was sent, sending everything again every run would be noise:
        // say so and send nothing.
        Err(err) => return vec![format!("cannot alert: {err}")],
    };
    let run = Run { report, checks_run, now };
    let (mut memory, alerts) = track(previous.as_ref(), &run, &alerting.policy);
    let host = report.host.hostname.clone().unwrap_or_else(|| "unknown host".to_owned());
    let message = Message { host, alerts };
    let body = (!message.alerts.is_empty()).then(|| alerting.format.render(&message));
    let outbox = std::mem::take(&mut memory.outbox);
    let webhooks: Vec<Webhook<'_>> =
        alerting.webhooks.iter().map(|url| Webhook { url, format: alerting.format.as_str() }).collect();
    if body.is_some() || !outbox.is_empty() {
        let bounds = Bounds::RUN;
        match client(&bounds) {
            Ok(client) => {
                let delivery = deliver(&client, &webhooks, body.as_deref(), outbox, now, &bounds).await;
                memory.outbox = delivery.outbox;
                notes.extend(delivery.notes);
            }
            Err(err) => {
                notes.push(format!(
                    "cannot set up the HTTP client: {}; the message waits in the outbox",
                    err.without_url()
                ));
                memory.outbox = outbox;
                if let Some(body) = body {
                    memory.outbox.extend(webhooks.iter().map(|webhook| state::OutboxMessage {
                        webhook: webhook.fingerprint(),
                        queued_at: now.to_owned(),
                        body: body.clone(),
                    }));
                }
            }
        }
    }
    if let Err(err) = state::save_alert_memory(state_path, memory) {
        notes.push(format!("{err}: the next run may send this run's alerts again"));
    }
    notes
}
