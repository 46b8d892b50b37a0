//! node (placeholder until written).
