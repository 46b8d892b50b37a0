//! Fact gathering: reads the host, never judges it.
//!
//! `gather` wires it: `systemd` talks to the manager over D-Bus, `discover` finds the
//! units worth gathering, `units` reads each one (and `unit_file` its files when they
//! changed on disk), `boot_chain` works out what pulls each in at boot, `procfs` makes
//! the run's one pass over /proc (`sockets` matching listening ports to it, `cgroup`
//! reading where a process sits, `processes` the node processes and listeners found),
//! `container` tells whether the host is itself a container, `files` stats files and
//! resolves accounts, `node` recognises node commands, `pm2` reads PM2 homes natively,
//! `http` probes health endpoints. All of it ends in one [`Facts`] value; `saved` reads
//! one back.

pub(crate) mod boot_chain;
pub(crate) mod cgroup;
pub(crate) mod container;
pub(crate) mod discover;
pub(crate) mod files;
pub(crate) mod gather;
pub(crate) mod http;
pub(crate) mod model;
pub(crate) mod node;
pub(crate) mod pm2;
pub(crate) mod processes;
pub(crate) mod procfs;
pub(crate) mod saved;
pub(crate) mod sockets;
pub(crate) mod states;
pub(crate) mod systemd;
pub(crate) mod unit_file;
pub(crate) mod units;

pub(crate) use model::*;
pub(crate) use states::*;
