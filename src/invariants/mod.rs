//! Invariants: pure functions that judge [`Facts`](crate::facts::Facts) against the check
//! file's expectations and return findings, with the "comes back" prediction made once
//! from them (see [`evaluate`]). No I/O here: everything an invariant needs is in the
//! facts and the resolved [`CheckConfig`](crate::config::CheckConfig).
//!
//! One file per family: `supervisor` (registered, enabled, active), `unit` (user, exec,
//! env files, restart policy, start limit, memory limit), `process` (not root, node
//! runtime; shared by units and PM2), `processes` (every node process and listener no
//! unit or PM2 home accounts for: supervised, dev supervisors), `pm2`, `instances`,
//! `host` (and the app-container case), `expected`, `health`; `needs` says which facts
//! the invariants a run judges read.

pub(crate) mod evaluate;
pub(crate) mod expected;
pub(crate) mod explain;
pub(crate) mod fix;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod health;
pub(crate) mod host;
pub(crate) mod instances;
pub(crate) mod needs;
pub(crate) mod pm2;
pub(crate) mod process;
pub(crate) mod processes;
pub(crate) mod severity;
pub(crate) mod supervisor;
pub(crate) mod unit;

pub(crate) use evaluate::evaluate;
