//! Fact gathering: reads the host, never judges it.
//!
//! `systemd` talks to the manager over D-Bus, `procfs` reads /proc, `files`
//! stats files and resolves accounts, `node` recognises node commands, `http` probes health endpoints. All of it
//! ends in one [`Facts`] value.

pub(crate) mod files;
pub(crate) mod gather;
pub(crate) mod http;
pub(crate) mod model;
pub(crate) mod node;
pub(crate) mod pm2;
pub(crate) mod procfs;
pub(crate) mod sockets;
pub(crate) mod systemd;

pub(crate) use model::*;
