//! junit renderer (placeholder until written).
