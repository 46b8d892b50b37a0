//! Invariants of a PM2 home (subject `pm2:<PM2_HOME>`): is the daemon registered with
//! systemd, enabled, and owned by it rather than by a shell (`supervisor`); does
//! `dump.pm2` hold every running app so that `pm2 resurrect` brings them back, and is it
//! private (`dump`); did the apps come back, is any crash looping, are logs and memory
//! bounded (`apps`); and the risks the incident report named, root and node under ~/.nvm,
//! judged by the same process invariants as a unit. `home` runs them all and predicts
//! which apps come back; `context` works out once what they all need.

mod apps;
mod context;
mod dump;
mod home;
#[cfg(test)]
mod incident_tests;
mod supervisor;

pub(crate) use home::judge;
