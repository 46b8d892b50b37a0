//! json renderer (placeholder until written).
