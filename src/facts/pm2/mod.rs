//! PM2 facts: the homes on this host, what `pm2 save` left in them, and what the live
//! daemon says — read from files, /proc and the daemon's own socket, never through
//! the pm2 CLI and never writing into a PM2_HOME.
//!
//! `discover` finds the homes, `home` gathers each one, `dump` parses dump files,
//! `daemon` reads pid files, /proc and modules, `log` reads the last kill from pm2.log, `rpc` asks the daemon over `rpc.sock`
//! with the framing in `amp`.

pub(crate) mod amp;
pub(crate) mod daemon;
pub(crate) mod discover;
pub(crate) mod dump;
pub(crate) mod home;
pub(crate) mod log;
pub(crate) mod rpc;
