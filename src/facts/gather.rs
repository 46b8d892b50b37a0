//! Placeholder with the agreed signature, until the gathering layer lands.

use crate::facts::Facts;

/// Why facts could not be gathered at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatherError {
    /// Not written yet.
    #[error("gathering is not implemented yet")]
    NotYet,
}

/// Gathers every fact of this host.
pub(crate) async fn gather() -> Result<Facts, GatherError> {
    Err(GatherError::NotYet)
}
