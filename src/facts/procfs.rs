//! procfs (placeholder until written).
