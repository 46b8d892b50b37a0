//! Invariants: pure functions that judge [`Facts`](crate::facts::Facts) against the check
//! file's expectations and return findings. No I/O here: everything an invariant needs is
//! in the facts and the resolved [`CheckConfig`](crate::config::CheckConfig).

pub(crate) mod catalogue;
pub(crate) mod evaluate;
pub(crate) mod expected;
pub(crate) mod explain;
pub(crate) mod finding;
pub(crate) mod fix;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod health;
pub(crate) mod host;
pub(crate) mod pm2;
#[cfg(test)]
mod pm2_tests;
pub(crate) mod process;
pub(crate) mod severity;
pub(crate) mod unit;

pub(crate) use catalogue::*;
pub(crate) use evaluate::evaluate;
