//! The check file: what must be true beyond what discovery finds.

pub(crate) mod model;

pub(crate) use model::*;
