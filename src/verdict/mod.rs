//! The judging vocabulary every other layer speaks: invariant ids and their catalogue,
//! statuses, subjects, findings, and the "comes back after a reboot" prediction.
//!
//! A leaf: nothing here imports the rest of the crate, so `invariants` (which produces
//! findings), `report` (which renders them) and `app` (which turns them into an exit
//! code) all depend on it and never on each other's internals.

mod check;
mod finding;
mod prediction;
mod status;
mod subject;

pub(crate) use check::{CheckId, Severity};
pub(crate) use finding::Finding;
pub(crate) use prediction::{AppPrediction, Blocker, Judgement, Prediction, SubjectPrediction};
pub(crate) use status::Status;
pub(crate) use subject::Subject;
