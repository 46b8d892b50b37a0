//! The heartbeat (`--ping URL`): the alert no checker on the host can send is that the host
//! never came back. After every run bootproof GETs `URL` when the check passed (exit 0),
//! `URL/fail` when it did not (a failure, or the host could not be checked); a dead-man's
//! switch service (healthchecks.io and the like) alerts when the pings stop. Same bounds
//! as webhooks; a ping that could not be sent is not kept (a late heartbeat means nothing).

use std::time::Instant;

use super::deliver::{Bounds, Outcome, client, send};
use super::secret::SecretUrl;

/// Pings `url` (or `url/fail` unless `passed`); returns a note when it did not go through.
pub(crate) async fn ping(url: &SecretUrl, passed: bool, bounds: &Bounds) -> Option<String> {
    let target = if passed { url.clone() } else { url.fail() };
    let client = match client(bounds) {
        Ok(client) => client,
        Err(err) => return Some(format!("heartbeat {url}: cannot set up the HTTP client: {}", err.without_url())),
    };
    let deadline = Instant::now() + bounds.budget;
    match send(|| client.get(target.url().clone()), bounds, deadline).await {
        Outcome::Delivered { .. } => None,
        Outcome::Refused { reason } | Outcome::Failed { reason } => Some(format!("heartbeat {url}: {reason}")),
    }
}
