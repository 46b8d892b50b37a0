//! The invariant catalogue: stable ids, default severities, what each one is for, and
//! which of them decide whether a subject comes back after a reboot.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Status;

/// How bad a violated invariant is unless the check file says otherwise.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    /// A violation fails the check (exit 1).
    Fail,
    /// A violation is reported but passes (unless `--strict`).
    Warn,
}

impl Severity {
    /// The status a violation at this severity gets.
    pub(crate) fn status(self) -> Status {
        match self {
            Severity::Fail => Status::Fail,
            Severity::Warn => Status::Warn,
        }
    }
}

macro_rules! catalogue {
    ($( $variant:ident = $id:literal, $severity:ident, $summary:literal; )*) => {
        /// A stable invariant id (`supervisor.enabled`, …). Never renamed once released.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub(crate) enum CheckId {
            $(
                #[doc = $summary]
                #[serde(rename = $id)]
                $variant,
            )*
        }

        impl CheckId {
            /// Every id, in catalogue order.
            pub(crate) const ALL: &'static [CheckId] = &[$(CheckId::$variant),*];

            /// The id as written in reports, check files and `--only`.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $(CheckId::$variant => $id,)* }
            }

            /// The severity of a violation unless overridden.
            pub(crate) fn default_severity(self) -> Severity {
                match self { $(CheckId::$variant => Severity::$severity,)* }
            }

            /// What holds when the invariant passes, in one line.
            pub(crate) fn summary(self) -> &'static str {
                match self { $(CheckId::$variant => $summary,)* }
            }
        }
    };
}

catalogue! {
    SupervisorRegistered = "supervisor.registered", Fail,
        "the service has a loaded unit file, with no pending daemon-reload";
    SupervisorEnabled = "supervisor.enabled", Fail,
        "the unit is enabled permanently and wanted by a target the default target pulls in at boot";
    SupervisorActive = "supervisor.active", Fail,
        "the unit is active and systemd owns the running process";
    UnitUser = "unit.user", Fail,
        "User= names an account that exists";
    UnitExec = "unit.exec", Fail,
        "every ExecStart binary and the node it relies on exist and are executable";
    UnitRestartPolicy = "unit.restart-policy", Fail,
        "Restart= brings the service back when it crashes";
    UnitStartLimit = "unit.start-limit", Warn,
        "a crash loop runs into a finite restart budget (StartLimitBurst within StartLimitIntervalSec)";
    UnitMemoryLimit = "unit.memory-limit", Warn,
        "memory is bounded (MemoryMax/MemoryHigh, or PM2 max_memory_restart)";
    UnitEnvFiles = "unit.env-files", Fail,
        "every required EnvironmentFile exists and is not readable by every user";
    UnitInstances = "unit.instances", Fail,
        "every instance of a template unit is enabled and active";
    Pm2Dump = "pm2.dump", Fail,
        "dump.pm2 exists, parses, and is not empty while apps run";
    Pm2DumpFresh = "pm2.dump-fresh", Fail,
        "every running PM2 app is saved in dump.pm2";
    Pm2Resurrected = "pm2.resurrected", Fail,
        "after a boot, every app saved as online is online again";
    Pm2CrashLoop = "pm2.crash-loop", Fail,
        "no app keeps restarting while its uptime stays low";
    Pm2LogRotation = "pm2.log-rotation", Warn,
        "PM2 logs are rotated or otherwise bounded";
    Pm2DumpSecrets = "pm2.dump-secrets", Warn,
        "a dump carrying environment values is not readable by other users";
    ProcessNotRoot = "process.not-root", Warn,
        "the service does not run as root";
    ProcessNodeRuntime = "process.node-runtime", Warn,
        "node is not run from a per-user version manager (~/.nvm, fnm, volta, asdf, n)";
    ProcessSupervised = "process.supervised", Fail,
        "every node process and TCP listener runs under something that brings it back after a reboot";
    ProcessDevSupervisor = "process.dev-supervisor", Warn,
        "no development supervisor (nodemon, node-supervisor, forever, node --watch) runs the service";
    HealthHttp = "health.http", Fail,
        "the health endpoint answers the expected status in time";
    HostState = "host.state", Fail,
        "systemd reports the system running, with no failed units";
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CheckId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckId::ALL
            .iter()
            .copied()
            .find(|id| id.as_str() == s)
            .ok_or_else(|| format!("unknown invariant id {s:?} (see `bootproof explain` for the list)"))
    }
}

impl CheckId {
    /// Whether a `fail` or `error` of this invariant means the subject will not be running
    /// after the next boot: systemd has no file to start, nothing starts it at boot, or it
    /// cannot start (no account, no binary, no EnvironmentFile), or — for a process no
    /// unit accounts for — nothing at all starts it again (`process.supervised`). The one
    /// list every "comes back" verdict is read from (see [`super::prediction`]).
    pub(crate) fn is_boot_critical(self) -> bool {
        match self {
            CheckId::SupervisorRegistered
            | CheckId::SupervisorEnabled
            | CheckId::UnitUser
            | CheckId::UnitExec
            | CheckId::UnitEnvFiles
            | CheckId::ProcessSupervised => true,
            CheckId::SupervisorActive
            | CheckId::UnitRestartPolicy
            | CheckId::UnitStartLimit
            | CheckId::UnitMemoryLimit
            | CheckId::UnitInstances
            | CheckId::Pm2Dump
            | CheckId::Pm2DumpFresh
            | CheckId::Pm2Resurrected
            | CheckId::Pm2CrashLoop
            | CheckId::Pm2LogRotation
            | CheckId::Pm2DumpSecrets
            | CheckId::ProcessNotRoot
            | CheckId::ProcessNodeRuntime
            | CheckId::ProcessDevSupervisor
            | CheckId::HealthHttp
            | CheckId::HostState => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        for &id in CheckId::ALL {
            assert_eq!(id.as_str().parse::<CheckId>(), Ok(id));
            let json = serde_json::to_string(&id).expect("an id serialises");
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
    }

    #[test]
    fn unknown_id_is_named_in_the_error() {
        let err = "supervisor.enable".parse::<CheckId>().expect_err("a typo is not an id");
        assert!(err.contains("supervisor.enable"), "{err}");
    }
}
