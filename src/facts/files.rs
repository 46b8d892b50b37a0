//! files (placeholder until written).
