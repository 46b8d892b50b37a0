//! What bootproof remembers between runs: the state file.

pub(crate) mod state;
