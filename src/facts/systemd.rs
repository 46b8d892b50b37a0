//! systemd (placeholder until written).
