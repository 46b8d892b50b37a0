//! The words systemd and PM2 use for states, as typed values.
//!
//! Each enum names the values bootproof judges and keeps any other as `Other(text)`, so
//! a facts file round-trips exactly and a value a newer systemd or PM2 invents is shown
//! as it is instead of being misjudged. In JSON each is the plain word (`"loaded"`),
//! exactly what systemd and PM2 say.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a state enum whose variants are spelt as `text` on the wire.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this bootproof does not know, kept as written.
            Other(String),
        }

        impl $name {
            /// The word as systemd (or PM2) writes it.
            pub(crate) fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(text) => text,
                }
            }

            /// The value for a word; an unknown word is kept in `Other`.
            pub(crate) fn parse(text: &str) -> Self {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok($name::parse(&text))
            }
        }
    };
}

words! {
    /// A unit's `LoadState`.
    LoadState {
        /// The unit file was read and parsed.
        Loaded = "loaded",
        /// No unit file of that name.
        NotFound = "not-found",
        /// The file has a setting systemd cannot use.
        BadSetting = "bad-setting",
        /// Loading failed (`LoadError` says why).
        Error = "error",
        /// Merged into another unit (an alias).
        Merged = "merged",
        /// Not loaded yet.
        Stub = "stub",
        /// Masked: linked to /dev/null.
        Masked = "masked",
    }
}

words! {
    /// A unit file's `UnitFileState`: how (and whether) it is enabled.
    UnitFileState {
        /// Enabled, with links in /etc: survives reboots.
        Enabled = "enabled",
        /// Enabled with links in /run: gone at the next reboot.
        EnabledRuntime = "enabled-runtime",
        /// The unit file is linked into the unit path.
        Linked = "linked",
        /// Linked from /run: gone at the next reboot.
        LinkedRuntime = "linked-runtime",
        /// An alias of another unit.
        Alias = "alias",
        /// Masked in /etc.
        Masked = "masked",
        /// Masked in /run.
        MaskedRuntime = "masked-runtime",
        /// No `[Install]` section: only started when something pulls it in.
        Static = "static",
        /// Has an `[Install]` section, not enabled.
        Disabled = "disabled",
        /// Enabled through `Also=` or an alias of another unit.
        Indirect = "indirect",
        /// Made by a generator at boot.
        Generated = "generated",
        /// Made at run time (`systemd-run`): no file at all.
        Transient = "transient",
        /// The file could not be read for its state.
        Bad = "bad",
        /// systemd reports no state (the unit has no file).
        Empty = "",
    }
}

words! {
    /// A unit's `ActiveState`.
    ActiveState {
        /// Started and running (or done, for a oneshot that remains).
        Active = "active",
        /// Reloading its configuration.
        Reloading = "reloading",
        /// Not running.
        Inactive = "inactive",
        /// Stopped by a failure.
        Failed = "failed",
        /// Starting.
        Activating = "activating",
        /// Stopping.
        Deactivating = "deactivating",
        /// Being cleaned or otherwise maintained.
        Maintenance = "maintenance",
        /// Refreshing its mounts.
        Refreshing = "refreshing",
    }
}

words! {
    /// A service's `SubState`.
    SubState {
        /// Not running.
        Dead = "dead",
        /// Skipped: a start condition did not hold.
        Condition = "condition",
        /// Running ExecStartPre.
        StartPre = "start-pre",
        /// Starting.
        Start = "start",
        /// Running ExecStartPost.
        StartPost = "start-post",
        /// Its main process runs.
        Running = "running",
        /// Done (a oneshot that remains active).
        Exited = "exited",
        /// Reloading.
        Reload = "reload",
        /// Stopping.
        Stop = "stop",
        /// Stopped by a failure.
        Failed = "failed",
        /// Waiting to be restarted after it exited.
        AutoRestart = "auto-restart",
        /// Cleaning up.
        Cleaning = "cleaning",
    }
}

words! {
    /// The manager's `SystemState`.
    SystemState {
        /// Early boot.
        Initializing = "initializing",
        /// Starting units.
        Starting = "starting",
        /// Up, nothing failed.
        Running = "running",
        /// Up, with failed units.
        Degraded = "degraded",
        /// In rescue or emergency mode.
        Maintenance = "maintenance",
        /// Shutting down.
        Stopping = "stopping",
        /// The manager is not running.
        Offline = "offline",
        /// The manager cannot tell.
        Unknown = "unknown",
    }
}

words! {
    /// A service's `Restart=` policy.
    RestartPolicy {
        /// Never restarted.
        No = "no",
        /// Restarted after a clean exit only.
        OnSuccess = "on-success",
        /// Restarted after an unclean exit, a signal, a timeout or a watchdog.
        OnFailure = "on-failure",
        /// Restarted after a signal, a timeout or a watchdog, not after an exit code.
        OnAbnormal = "on-abnormal",
        /// Restarted after a watchdog timeout only.
        OnWatchdog = "on-watchdog",
        /// Restarted after an uncaught signal only.
        OnAbort = "on-abort",
        /// Always restarted.
        Always = "always",
    }
}

words! {
    /// What a path is, after following links.
    FileKind {
        /// A regular file.
        File = "file",
        /// A directory.
        Directory = "directory",
        /// Anything else: a socket, a device, a pipe.
        Special = "other",
    }
}

words! {
    /// A PM2 process's `pm2_env.status`.
    Pm2Status {
        /// Running.
        Online = "online",
        /// Being stopped.
        Stopping = "stopping",
        /// Stopped on purpose.
        Stopped = "stopped",
        /// Being started.
        Launching = "launching",
        /// PM2 gave up on it after too many unstable restarts.
        Errored = "errored",
        /// Ran once to completion (`autorestart: false`).
        OneLaunchStatus = "one-launch-status",
        /// Crashed, waiting for its restart delay.
        WaitingRestart = "waiting restart",
    }
}

words! {
    /// How a command reaches its JavaScript runtime.
    ExecVia {
        /// The command's binary is the runtime.
        Direct = "direct",
        /// Through `/usr/bin/env` and PATH.
        Env = "env",
        /// Through a script's `#!` line.
        Shebang = "shebang",
        /// Through a shell script (`start.sh`, a wrapper found through env) whose exec line
        /// runs it.
        Wrapper = "wrapper",
        /// Through a shell's `-c` command string (`bash -c "cd /srv/app && node server.js"`).
        Shell = "shell",
        /// Through npm, yarn or pnpm (`npm start`): they run on node and run the
        /// package's script.
        PackageManager = "package-manager",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_words_round_trip() {
        for text in ["loaded", "not-found", "bad-setting", "error", "masked", "something-new"] {
            let state: LoadState = serde_json::from_value(serde_json::json!(text)).expect("a word");
            assert_eq!(serde_json::to_value(&state).expect("serialises"), serde_json::json!(text));
        }
        assert_eq!(LoadState::parse("error"), LoadState::Error, "systemd's own error state, not a sentinel");
        assert_eq!(UnitFileState::parse(""), UnitFileState::Empty);
        assert_eq!(Pm2Status::parse("waiting restart"), Pm2Status::WaitingRestart);
        assert_eq!(SystemState::parse("degraded").to_string(), "degraded");
        assert_eq!(RestartPolicy::parse("on-weekdays"), RestartPolicy::Other("on-weekdays".into()));
    }
}
