//! Unattended alerting: change-only alerts to webhooks and a heartbeat.
//!
//! `track` decides, purely, what changed since the last alerting run (firing, resolved,
//! reminders, the reboot message) from the report and the state file's alerting memory;
//! `reboot` counts the services that came back; `message` is the model every payload
//! renders, `json` (shaped like Alertmanager's webhook payload) and `slack` render it.
//! I/O: `deliver` sends one request within bounds, `outbox` delivers a run's message
//! after the undelivered ones, `heartbeat` pings, `notify` runs it all for one check.
//! `secret` keeps webhook and heartbeat URLs from ever being printed.

#[cfg(test)]
pub(crate) mod captured;
pub(crate) mod deliver;
pub(crate) mod hash;
pub(crate) mod heartbeat;
pub(crate) mod json;
pub(crate) mod message;
pub(crate) mod notify;
pub(crate) mod outbox;
pub(crate) mod reboot;
pub(crate) mod secret;
pub(crate) mod slack;
pub(crate) mod track;

pub(crate) use notify::{Alerting, Format, notify};
pub(crate) use secret::SecretUrl;
pub(crate) use track::Policy;
