//! Invariants: pure functions that judge [`Facts`](crate::facts::Facts) and return findings.
//! No I/O here: everything an invariant needs is in the facts.

pub(crate) mod catalogue;
pub(crate) mod evaluate;
pub(crate) mod finding;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod fix;
pub(crate) mod health;
pub(crate) mod host;
pub(crate) mod process;
pub(crate) mod unit;

pub(crate) use catalogue::*;
pub(crate) use evaluate::evaluate;
