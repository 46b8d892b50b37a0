//! Delivering a run's message to every webhook, after what earlier runs could not
//! deliver: per webhook, oldest first, one POST per message, stopping at the first that
//! fails for now (the rest wait for the next run, in order, so a receiver never gets a
//! resolution before its firing). Webhooks are served concurrently, all within the run's
//! budget. The outbox is bounded: per webhook the newest [`MAX_PER_WEBHOOK`] messages are
//! kept.

use std::time::Instant;

use futures_util::future::join_all;
use reqwest::Client;
use reqwest::header::CONTENT_TYPE;

use super::deliver::{Bounds, Outcome, send};
use super::secret::SecretUrl;
use crate::state::OutboxMessage;

/// How many undelivered messages are kept per webhook.
pub(crate) const MAX_PER_WEBHOOK: usize = 50;

/// A webhook: where, and the salt of its outbox fingerprint (its payload format).
pub(crate) struct Webhook<'a> {
    /// Its URL.
    pub(crate) url: &'a SecretUrl,
    /// Its payload format's name (`json`, `slack`).
    pub(crate) format: &'static str,
}

impl Webhook<'_> {
    /// How the outbox names this webhook.
    pub(crate) fn fingerprint(&self) -> String {
        self.url.fingerprint(self.format)
    }
}

/// What delivery left: the outbox for the next run and what to tell the operator.
pub(crate) struct Delivery {
    /// Messages still undelivered, oldest first.
    pub(crate) outbox: Vec<OutboxMessage>,
    /// One line per problem (never a URL beyond scheme and host).
    pub(crate) notes: Vec<String>,
}

/// Delivers `outbox` and then `body` (this run's message, when it has one) to every webhook.
pub(crate) async fn deliver(
    client: &Client,
    webhooks: &[Webhook<'_>],
    body: Option<&str>,
    outbox: Vec<OutboxMessage>,
    now: &str,
    bounds: &Bounds,
) -> Delivery {
    let deadline = Instant::now() + bounds.budget;
    let mut notes = Vec::new();
    let fingerprints: Vec<String> = webhooks.iter().map(Webhook::fingerprint).collect();
    let orphans = outbox.iter().filter(|m| !fingerprints.contains(&m.webhook)).count();
    if orphans > 0 {
        notes.push(format!("dropped {orphans} undelivered message(s) for a webhook no longer configured"));
    }
    let queues = webhooks.iter().zip(&fingerprints).map(|(webhook, fingerprint)| {
        let mut queue: Vec<OutboxMessage> = outbox.iter().filter(|m| &m.webhook == fingerprint).cloned().collect();
        if let Some(body) = body {
            queue.push(OutboxMessage {
                webhook: fingerprint.clone(),
                queued_at: now.to_owned(),
                body: body.to_owned(),
            });
        }
        serve(client, webhook, queue, now, bounds, deadline)
    });
    let mut kept = Vec::new();
    for (left, mut said) in join_all(queues).await {
        kept.extend(left);
        notes.append(&mut said);
    }
    // Oldest first across webhooks too (RFC 3339 UTC times sort as text).
    kept.sort_by(|a, b| a.queued_at.cmp(&b.queued_at));
    Delivery { outbox: kept, notes }
}

/// Posts `queue` to one webhook in order; returns what is left and the notes.
async fn serve(
    client: &Client,
    webhook: &Webhook<'_>,
    queue: Vec<OutboxMessage>,
    now: &str,
    bounds: &Bounds,
    deadline: Instant,
) -> (Vec<OutboxMessage>, Vec<String>) {
    let mut notes = Vec::new();
    let mut late = 0;
    let mut queue = queue.into_iter();
    while let Some(message) = queue.next() {
        let body = message.body.clone();
        let request =
            || client.post(webhook.url.url().clone()).header(CONTENT_TYPE, "application/json").body(body.clone());
        match send(request, bounds, deadline).await {
            Outcome::Delivered { .. } if message.queued_at != now => late += 1,
            Outcome::Delivered { .. } => {}
            Outcome::Refused { reason } => notes.push(format!(
                "webhook {}: {reason}: dropped the message (the answer will not change on retry)",
                webhook.url
            )),
            Outcome::Failed { reason } => {
                let mut left: Vec<OutboxMessage> = std::iter::once(message).chain(queue).collect();
                let dropped = left.len().saturating_sub(MAX_PER_WEBHOOK);
                left.drain(..dropped);
                let mut note = format!(
                    "webhook {}: {reason}: kept {} message(s) in the outbox for the next run",
                    webhook.url,
                    left.len()
                );
                if dropped > 0 {
                    note.push_str(&format!(" (dropped the oldest {dropped}: the outbox keeps {MAX_PER_WEBHOOK})"));
                }
                if late > 0 {
                    note.push_str(&format!("; delivered {late} from earlier runs first"));
                }
                notes.push(note);
                return (left, notes);
            }
        }
    }
    if late > 0 {
        notes.push(format!("webhook {}: delivered {late} message(s) an earlier run could not", webhook.url));
    }
    (Vec::new(), notes)
}
