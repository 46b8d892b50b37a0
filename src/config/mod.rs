//! The check file: what must be true beyond what discovery finds.

pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod template;

pub(crate) use load::load;
pub(crate) use model::*;
