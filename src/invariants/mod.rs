//! Invariants: pure functions that judge [`Facts`](crate::facts::Facts) and return findings.

pub(crate) mod catalogue;

pub(crate) use catalogue::*;
