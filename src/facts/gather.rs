//! gather (placeholder until written).
