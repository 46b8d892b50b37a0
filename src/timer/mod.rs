//! `bootproof timer`: check after every boot and every few minutes, unattended.
//!
//! `units` renders the timer, the hardened service and the alert environment file (pure);
//! `install` writes and removes them and asks systemd (over D-Bus, `manager`) to reload,
//! enable, start, stop and disable: the only changes bootproof ever makes to a host.

pub(crate) mod install;
pub(crate) mod manager;
pub(crate) mod units;
