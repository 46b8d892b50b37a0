//! human renderer (placeholder until written).
