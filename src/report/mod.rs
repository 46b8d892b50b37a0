//! The report model and its renderers. Renderers are pure: `&Report` in, text out
//! (`explain` renders the invariant catalogue the same way, `plan` the boot chain).

#[cfg(test)]
pub(crate) mod captured;
pub(crate) mod explain;
pub(crate) mod group;
pub(crate) mod html;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod model;
pub(crate) mod nagios;
pub(crate) mod plan;
pub(crate) mod prometheus;

pub(crate) use model::*;
