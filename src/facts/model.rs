//! The `Facts` value: everything bootproof gathered about the host, as plain data.
//!
//! Nothing here judges. A fact that could not be read is carried as
//! [`Fact::Error`] with its reason, so the invariant that needs it can report
//! `error` instead of guessing. The whole value round-trips through JSON
//! (`bootproof facts` / `bootproof check --facts FILE`).

use serde::{Deserialize, Serialize};

use crate::config::HealthSpec;

use super::states::{
    ActiveState, ExecVia, FileKind, LoadState, Pm2Status, RestartPolicy, SubState, SystemState, UnitFileState,
};

/// Version tag of the facts file format; bumped on any incompatible change.
///
/// v2: a unit's manager-side properties are one `properties` fact (v1 had them flat, and
/// a unit whose properties could not be read was written with sentinel values); a
/// template's `unit_file_state` is a fact; `unreadable` lists units that could not be
/// told about; `on_disk` carries a unit's files when a daemon-reload is pending. v1 files
/// are still read (see `super::legacy`).
pub(crate) const FACTS_SCHEMA: &str = "bootproof/facts/v2";

/// A gathered value, or the reason it could not be gathered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Fact<T> {
    /// The value as read from the host.
    Ok(T),
    /// Why it could not be read (permission, missing socket, …).
    Error(String),
}

impl<T> Fact<T> {
    /// The value, if it was read.
    pub(crate) fn ok(&self) -> Option<&T> {
        match self {
            Fact::Ok(value) => Some(value),
            Fact::Error(_) => None,
        }
    }

    /// Why it could not be read, if it could not.
    pub(crate) fn error(&self) -> Option<&str> {
        match self {
            Fact::Ok(_) => None,
            Fact::Error(reason) => Some(reason),
        }
    }

    /// Builds a fact from a result, keeping the error's full chain as the reason.
    pub(crate) fn from_result<E: std::fmt::Display>(result: Result<T, E>) -> Self {
        match result {
            Ok(value) => Fact::Ok(value),
            Err(err) => Fact::Error(err.to_string()),
        }
    }
}

/// Everything gathered in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Facts {
    /// Always [`FACTS_SCHEMA`].
    pub(crate) schema: String,
    /// When gathering finished (RFC 3339, UTC).
    pub(crate) gathered_at: String,
    /// Host-wide facts: identity, boot, systemd state.
    pub(crate) host: HostFacts,
    /// Node services: units whose ExecStart runs node, nodejs or bun, and their instances.
    pub(crate) units: Vec<UnitFacts>,
    /// Template units (`my-app@.service`) that run node, with the instances systemd knows of.
    pub(crate) templates: Vec<TemplateFacts>,
    /// What the last check of an earlier boot saw (from bootproof's state file), so that
    /// units that did not come back can be named even when systemd no longer knows them.
    #[serde(default = "no_previous_boot")]
    pub(crate) previous_boot: Fact<Option<BootRecord>>,
    /// PM2 homes (PM2_HOME directories) found on the host, with their daemons and dumps.
    #[serde(default)]
    pub(crate) pm2: Vec<Pm2Home>,
    /// Units discovery could not tell about (whether they run node, what they are), and
    /// why: each is judged as an `error`, never silently left out.
    #[serde(default)]
    pub(crate) unreadable: Vec<UnreadableUnit>,
    /// HTTP health endpoints probed (from the check file), in the order they were declared.
    #[serde(default)]
    pub(crate) http: Vec<HttpFacts>,
    /// Every node process and every TCP listener on the host, from one pass over /proc,
    /// with what surrounds each (cgroup, parents, lingering, user units). `None` in a
    /// facts file written before bootproof scanned processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) processes: Option<Fact<ProcessScan>>,
}

fn no_previous_boot() -> Fact<Option<BootRecord>> {
    Fact::Ok(None)
}

/// A unit discovery could not read enough of to judge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UnreadableUnit {
    /// Unit name.
    pub(crate) name: String,
    /// What could not be read, and why.
    pub(crate) reason: String,
}

/// One check's view of the node units, as the state file keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct BootRecord {
    /// The boot it was taken in.
    pub(crate) boot_id: String,
    /// When, RFC 3339 UTC.
    pub(crate) checked_at: String,
    /// Every node unit it saw.
    pub(crate) units: Vec<SeenUnit>,
    /// Every process it saw outside units and PM2 homes (see `process.supervised`).
    #[serde(default)]
    pub(crate) processes: Vec<SeenProcess>,
}

/// A process outside every unit and PM2 home, as one check saw it: what a reboot may lose
/// without systemd ever having known it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeenProcess {
    /// Its subject key (`process:` without the prefix): command line and working directory.
    pub(crate) key: String,
    /// Its command line, joined: what it is known by when started again elsewhere.
    pub(crate) command: String,
    /// Who it ran as.
    pub(crate) user: Option<String>,
    /// The TCP ports it listened on.
    #[serde(default)]
    pub(crate) ports: Vec<u16>,
}

/// A unit as one check saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeenUnit {
    /// Unit name.
    pub(crate) name: String,
    /// Whether it was active.
    pub(crate) active: bool,
}

/// Identity and state of the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HostFacts {
    /// `/proc/sys/kernel/hostname`.
    pub(crate) hostname: Fact<String>,
    /// `/proc/sys/kernel/random/boot_id`: changes on every boot.
    pub(crate) boot_id: Fact<String>,
    /// When userspace (systemd) started on this boot, RFC 3339 UTC.
    pub(crate) booted_at: Fact<String>,
    /// systemd's `SystemState`: `running`, `degraded`, `starting`, …
    pub(crate) system_state: Fact<SystemState>,
    /// Units in the `failed` state.
    pub(crate) failed_units: Fact<Vec<String>>,
    /// systemd's default target (`multi-user.target`, `graphical.target`).
    pub(crate) default_target: Fact<String>,
    /// Every target the default target pulls in at boot (through Wants/Requires), itself included.
    pub(crate) boot_targets: Fact<Vec<String>>,
    /// Whether this host is itself a container, and what its PID 1 is. `None` in a facts
    /// file written before bootproof looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) container: Option<ContainerFacts>,
}

/// What tells a container from a host: the files container runtimes leave, PID 1's
/// `container=` variable, and PID 1 itself (see `facts::container`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContainerFacts {
    /// `/.dockerenv` exists (Docker creates it in every container).
    pub(crate) dockerenv: bool,
    /// `/run/.containerenv` exists (Podman creates it).
    pub(crate) containerenv: bool,
    /// The value of `container=` in PID 1's environment, systemd's convention for telling
    /// a container (`docker`, `podman`, `lxc`, `systemd-nspawn`, …); `Ok(None)` when PID 1
    /// has no such variable. The only variable of that environment bootproof reads.
    pub(crate) container_env: Fact<Option<String>>,
    /// PID 1 as /proc shows it.
    pub(crate) pid1: Fact<InitProcess>,
}

/// PID 1: the process a container runtime (or the kernel) started first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct InitProcess {
    /// `/proc/1/comm`.
    pub(crate) comm: String,
    /// Target of `/proc/1/exe`.
    pub(crate) exe: Fact<String>,
    /// `/proc/1/cmdline`, split on NUL.
    pub(crate) cmdline: Vec<String>,
    /// Its cgroup path (`/proc/1/cgroup`).
    pub(crate) cgroup: Option<String>,
}

/// One service unit that runs a node program (or starts a PM2 home, or that the check
/// file names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct UnitFacts {
    /// Full unit name: `my-app@3000.service`.
    pub(crate) name: String,
    /// For a template instance, the template's name: `my-app@.service`.
    pub(crate) template: Option<String>,
    /// For a template instance, the instance string: `3000`.
    pub(crate) instance: Option<String>,
    /// How discovery knew it runs node, when not from its `ExecStart=` alone (which each
    /// command's [`RuntimeFacts`] tells): a node process runs in its cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) node_running: Option<NodeRunning>,
    /// What the manager says of the unit (`org.freedesktop.systemd1.Unit`).
    pub(crate) properties: Fact<UnitProperties>,
    /// How the default target pulls this unit in at boot: the units from a boot target
    /// down to the one that wants this unit (`multi-user.target`, `frontdoor.service`),
    /// following `WantedBy`/`RequiredBy`/`UpheldBy`/`BoundBy` through services too.
    /// Empty when no such chain was found.
    #[serde(default = "chain_not_gathered")]
    pub(crate) boot_chain: Fact<Vec<String>>,
    /// The service side of the unit.
    pub(crate) service: Fact<ServiceFacts>,
    /// When the unit's files changed on disk since systemd loaded them — systemd says so
    /// (`NeedDaemonReload`), or other files are there than the ones it loaded (a new
    /// drop-in directory, which systemd does not notice before a daemon-reload): what those
    /// files say, which is what the next boot runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) on_disk: Option<Fact<OnDiskUnit>>,
}

/// A node process found in a unit's cgroup: how a unit whose `ExecStart=` does not show
/// node (a wrapper bootproof cannot follow, a launcher binary) is known to run it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct NodeRunning {
    /// The node process.
    pub(crate) pid: u32,
    /// Its binary (`/proc/PID/exe`).
    pub(crate) exe: String,
    /// Its command line.
    pub(crate) cmdline: Vec<String>,
}

/// The manager-side properties of a unit, and what they point at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct UnitProperties {
    /// `LoadState`: `loaded`, `not-found`, `bad-setting`, `error`, `masked`.
    pub(crate) load_state: LoadState,
    /// `LoadError`'s message when loading failed.
    pub(crate) load_error: Option<String>,
    /// `FragmentPath`: the unit file systemd loaded.
    pub(crate) fragment_path: Option<String>,
    /// What is at `fragment_path` now: the file the next boot loads (it may have
    /// changed or gone since systemd loaded it).
    #[serde(default)]
    pub(crate) fragment_file: Option<FileFacts>,
    /// Drop-ins applied on top of the fragment.
    pub(crate) drop_in_paths: Vec<String>,
    /// `NeedDaemonReload`: the file changed on disk since systemd loaded it.
    pub(crate) need_daemon_reload: bool,
    /// `UnitFileState`: `enabled`, `enabled-runtime`, `disabled`, `static`, …
    pub(crate) unit_file_state: UnitFileState,
    /// `WantedBy`: units that want this one (targets, for an enabled service).
    pub(crate) wanted_by: Vec<String>,
    /// `RequiredBy`: units that require this one.
    pub(crate) required_by: Vec<String>,
    /// `Condition…=` and `Assert…=` settings, with what their paths point at.
    #[serde(default)]
    pub(crate) conditions: Vec<StartCondition>,
    /// `ActiveState`: `active`, `inactive`, `failed`, `activating`, …
    pub(crate) active_state: ActiveState,
    /// `SubState`: `running`, `dead`, `auto-restart`, …
    pub(crate) sub_state: SubState,
    /// `ActiveEnterTimestamp`, RFC 3339 UTC; absent when never active on this boot.
    pub(crate) active_since: Option<String>,
    /// `StartLimitBurst`.
    pub(crate) start_limit_burst: u32,
    /// `StartLimitIntervalUSec`, microseconds; 0 disables rate limiting.
    pub(crate) start_limit_interval_usec: u64,
}

/// What a unit's files on disk say, read because they changed since systemd loaded them:
/// the settings the boot-critical invariants judge, as the next boot will see them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OnDiskUnit {
    /// The files read, in the order systemd applies them: the unit file, then drop-ins.
    pub(crate) files: Vec<String>,
    /// `User=` (empty: root), specifiers expanded.
    pub(crate) user: String,
    /// `DynamicUser=`.
    pub(crate) dynamic_user: bool,
    /// The account `User=` names (see [`ServiceFacts::account`]).
    pub(crate) account: Fact<Option<Account>>,
    /// `ExecStart=` commands, specifiers expanded, with what their binaries point at.
    pub(crate) exec_start: Vec<ExecCommand>,
    /// `Environment=` assignments.
    pub(crate) environment: Vec<String>,
    /// `EnvironmentFile=` entries, specifiers expanded.
    pub(crate) environment_files: Vec<EnvironmentFile>,
    /// `[Install] WantedBy=`.
    pub(crate) wanted_by: Vec<String>,
    /// `[Install] RequiredBy=`.
    pub(crate) required_by: Vec<String>,
}

/// What a facts file written before `boot_chain` existed says of it.
fn chain_not_gathered() -> Fact<Vec<String>> {
    Fact::Error("not in this facts file (written by an older bootproof)".to_owned())
}

/// One `Condition…=` or `Assert…=` setting of a unit. systemd skips the unit (a condition)
/// or fails it (an assertion) when it does not hold at start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct StartCondition {
    /// The setting: `ConditionPathExists`, `AssertFileNotEmpty`, …
    pub(crate) kind: String,
    /// Written with `|`: a triggering condition (one of them holding is enough).
    pub(crate) trigger: bool,
    /// Written with `!`: holds when the test is false.
    pub(crate) negate: bool,
    /// The value as written (a path for the path conditions).
    pub(crate) parameter: String,
    /// For path conditions, what is at the path now.
    pub(crate) file: Option<FileFacts>,
}

/// Properties of the `org.freedesktop.systemd1.Service` interface, and what they point at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ServiceFacts {
    /// `User=`; empty means root.
    pub(crate) user: String,
    /// `Group=`.
    pub(crate) group: String,
    /// `DynamicUser=`: systemd makes up the account at start.
    pub(crate) dynamic_user: bool,
    /// The account `User=` names (root when `User=` is empty); `None` inside when it does not exist.
    pub(crate) account: Fact<Option<Account>>,
    /// `ExecStart=` commands with what their binaries point at.
    pub(crate) exec_start: Vec<ExecCommand>,
    /// `ExecStartPre=` commands: run before ExecStart, the unit fails when one fails
    /// (unless it ignores failure).
    #[serde(default)]
    pub(crate) exec_start_pre: Vec<ExecCommand>,
    /// `Environment=` assignments, `NAME=value`.
    pub(crate) environment: Vec<String>,
    /// `EnvironmentFile=` entries.
    pub(crate) environment_files: Vec<EnvironmentFile>,
    /// `WorkingDirectory=`.
    pub(crate) working_directory: String,
    /// `Restart=`: `no`, `on-failure`, `always`, …
    pub(crate) restart: RestartPolicy,
    /// `RestartUSec`, microseconds between a stop and the restart.
    pub(crate) restart_usec: u64,
    /// `MemoryMax=` in bytes; `None` when unlimited.
    pub(crate) memory_max: Option<u64>,
    /// `MemoryHigh=` in bytes; `None` when unlimited.
    pub(crate) memory_high: Option<u64>,
    /// `MainPID`; 0 when not running.
    pub(crate) main_pid: u32,
    /// `NRestarts`: automatic restarts since the unit was last started by hand or at boot.
    pub(crate) n_restarts: u32,
    /// `ControlGroup`: the unit's cgroup path.
    pub(crate) control_group: String,
    /// `StandardOutput`: `journal`, `file:/path`, `append:/path`, …
    pub(crate) standard_output: String,
    /// `StandardError`.
    pub(crate) standard_error: String,
    /// `ExecStop=` commands as systemd parsed them (no binary looked up); `None` in facts
    /// files written before bootproof read them.
    #[serde(default)]
    pub(crate) exec_stop: Option<Vec<StopCommand>>,
    /// `KillMode=`: `control-group` (every process of the unit gets the stop signal at
    /// once), `mixed`, `process`, `none`; `None` in facts files written before.
    #[serde(default)]
    pub(crate) kill_mode: Option<String>,
    /// The processes in the unit's cgroup.
    pub(crate) processes: Fact<Vec<ProcessFacts>>,
}

/// A user account as the system's user database (NSS) resolves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Account {
    /// Login name.
    pub(crate) name: String,
    /// Numeric user id.
    pub(crate) uid: u32,
    /// Primary group id.
    pub(crate) gid: u32,
    /// Home directory.
    pub(crate) home: String,
}

/// One `ExecStart=` command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExecCommand {
    /// The binary systemd executes.
    pub(crate) path: String,
    /// Its argument vector, `argv[0]` included.
    pub(crate) argv: Vec<String>,
    /// Written with `-`: systemd ignores its failure.
    #[serde(default)]
    pub(crate) ignore_failure: bool,
    /// What is at `path`; for a bare name (`node`), what systemd's search path finds.
    pub(crate) binary: FileFacts,
    /// The JavaScript runtime this command relies on (node itself, what `env` finds on
    /// PATH, or a script's `#!` interpreter); `None` when it runs no node/nodejs/bun we can see.
    pub(crate) runtime: Option<RuntimeFacts>,
}

/// A command systemd runs to stop a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StopCommand {
    /// The binary systemd executes.
    pub(crate) path: String,
    /// Its argument vector, `argv[0]` included.
    pub(crate) argv: Vec<String>,
}

/// The JavaScript runtime a command depends on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RuntimeFacts {
    /// `node`, `nodejs` or `bun`.
    pub(crate) program: String,
    /// How it is reached: `direct`, `env` (through `/usr/bin/env` and PATH), `shebang`,
    /// `wrapper` (a shell script's exec line), `shell` (`sh -c`) or `package-manager`
    /// (`npm start`, `yarn start`).
    pub(crate) via: ExecVia,
    /// For a wrapper, `sh -c` or a package manager: what was read to find node
    /// (`/opt/app/start.sh: exec node server.js`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) through: Option<String>,
    /// The PATH searched when the runtime is found through `env`.
    pub(crate) search_path: Option<String>,
    /// The file found; `None` when nothing on the search path matched.
    pub(crate) resolved: Option<FileFacts>,
}

/// A file on the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileFacts {
    /// Absolute path as given.
    pub(crate) path: String,
    /// `stat` after following links; `Ok(None)` when nothing is there.
    pub(crate) stat: Fact<Option<FileStat>>,
}

/// What `stat(2)` says of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileStat {
    /// `file`, `directory` or `other`.
    pub(crate) kind: FileKind,
    /// Permission bits (`0o640` → 416).
    pub(crate) mode: u32,
    /// Owner uid.
    pub(crate) uid: u32,
    /// Owner gid.
    pub(crate) gid: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Last modification, seconds since the epoch.
    pub(crate) mtime: i64,
}

/// One `EnvironmentFile=` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EnvironmentFile {
    /// The file (or glob) as written in the unit.
    pub(crate) path: String,
    /// Written with a leading `-`: a missing file is ignored.
    pub(crate) optional: bool,
    /// What is there.
    pub(crate) file: FileFacts,
}

/// A running process, as /proc shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProcessFacts {
    /// Process id.
    pub(crate) pid: u32,
    /// Real uid.
    pub(crate) uid: u32,
    /// Login name for the uid, when it resolves.
    pub(crate) user: Option<String>,
    /// Target of `/proc/PID/exe` (the binary actually running).
    pub(crate) exe: Fact<String>,
    /// `/proc/PID/cmdline`, split on NUL.
    pub(crate) cmdline: Vec<String>,
    /// Start time, RFC 3339 UTC.
    pub(crate) started_at: Option<String>,
    /// The cgroup path from `/proc/PID/cgroup` (unified hierarchy).
    pub(crate) cgroup: Option<String>,
    /// The TCP sockets it listens on (`/proc/net/tcp{,6}` matched through `/proc/PID/fd`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) listening: Vec<Listening>,
}

/// A listening TCP socket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Listening {
    /// The local address as text: `127.0.0.1`, `0.0.0.0`, `::`, `::1`.
    pub(crate) address: String,
    /// The port.
    pub(crate) port: u16,
}

impl Listening {
    /// A URL host that reaches this socket from the host itself.
    pub(crate) fn loopback_host(&self) -> &str {
        match self.address.as_str() {
            "0.0.0.0" => "127.0.0.1",
            "::" => "[::1]",
            "::1" => "[::1]",
            other if other.contains(':') => "[::1]",
            other => other,
        }
    }
}

/// Every node process and TCP listener on the host, found in one pass over /proc.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProcessScan {
    /// Each process that runs node, nodejs or bun (by `/proc/PID/exe` or `argv[0]`), or
    /// holds a listening TCP socket; kernel threads never.
    pub(crate) processes: Vec<ScannedProcess>,
    /// Listening sockets no process could be found for because some `/proc/PID/fd` could
    /// not be read (bootproof not run as root), with the first reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unattributed: Option<UnattributedSockets>,
    /// Processes that could not be read (other than those that exited meanwhile): how
    /// many, and the first reason. Whether they run node is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unreadable: Option<String>,
    /// Users whose manager systemd starts at boot (`loginctl enable-linger`): the entries
    /// of `/var/lib/systemd/linger`.
    pub(crate) lingering: Fact<Vec<String>>,
    /// The user units (of a user's own systemd) that hold a scanned process, as their
    /// files on disk say.
    #[serde(default)]
    pub(crate) user_units: Vec<UserUnitFacts>,
}

/// Listening sockets whose process could not be told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct UnattributedSockets {
    /// The sockets.
    pub(crate) sockets: Vec<Listening>,
    /// Why: the first `/proc/PID/fd` that could not be read.
    pub(crate) reason: String,
}

/// One process of the scan, with what it runs in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScannedProcess {
    /// The process.
    #[serde(flatten)]
    pub(crate) process: ProcessFacts,
    /// Its parent's pid (0: started from outside this PID namespace, as `docker exec` does).
    pub(crate) ppid: u32,
    /// The JavaScript runtime it runs (`node`, `nodejs`, `bun`); `None` for a listener
    /// that runs something else.
    pub(crate) runtime: Option<String>,
    /// Its parents, nearest first, up to (not including) PID 1.
    pub(crate) ancestors: Vec<Ancestor>,
    /// It runs in a PID namespace below bootproof's own: inside a container of its own
    /// (its `NSpid:` lists more namespaces than bootproof's).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) in_child_pid_namespace: bool,
    /// Its working directory; read only for processes outside system services and PM2,
    /// the ones whose remediation sketches a unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cwd: Option<Fact<String>>,
    /// The names (never the values) of its environment variables, read like `cwd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) env_names: Option<Fact<Vec<String>>>,
}

/// A parent of a scanned process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ancestor {
    /// Process id.
    pub(crate) pid: u32,
    /// Its parent's pid (0: outside this PID namespace).
    pub(crate) ppid: u32,
    /// `/proc/PID/comm`: `bash`, `tmux: server`, `sshd`.
    pub(crate) comm: String,
    /// Target of `/proc/PID/exe`, when readable.
    pub(crate) exe: Option<String>,
    /// Its command line (or process title), joined with spaces, cut to 200 characters.
    pub(crate) title: String,
    /// Its cgroup path.
    pub(crate) cgroup: Option<String>,
}

/// A unit of a user's own systemd (`user@UID.service`) that holds a scanned process,
/// as its files on disk say: what that manager starts when it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct UserUnitFacts {
    /// The user's uid.
    pub(crate) uid: u32,
    /// The user's login name, when it resolves.
    pub(crate) user: Option<String>,
    /// The unit: `greeter.service`.
    pub(crate) unit: String,
    /// Its unit file in a directory that survives a reboot (`~/.config/systemd/user`,
    /// `/etc/systemd/user`, …); `None` when there is none (made by `systemd-run --user`,
    /// or only under /run).
    pub(crate) file: Option<String>,
    /// The targets it is enabled for: each `TARGET.wants/` (in `~/.config/systemd/user`
    /// or `/etc/systemd/user`) holding a link named after the unit.
    pub(crate) wanted_by: Vec<String>,
    /// Whether its home could be read to tell (`Err`: why not).
    pub(crate) readable: Fact<()>,
}

/// A template unit (`my-app@.service`) that runs node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TemplateFacts {
    /// `my-app@.service`.
    pub(crate) name: String,
    /// The template's unit file.
    pub(crate) fragment_path: Option<String>,
    /// The template file's `UnitFileState` as systemd reports it.
    pub(crate) unit_file_state: Fact<UnitFileState>,
    /// Instances systemd has loaded or has enabled links for: `my-app@3000.service`, …
    pub(crate) instances: Vec<String>,
}

/// One PM2 home (a PM2_HOME directory): its supervisor units, saved dump and live daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pm2Home {
    /// The PM2_HOME directory, e.g. `/root/.pm2`.
    pub(crate) home: String,
    /// How it was found: `unit pm2-root.service`, `daemon pid 123`, `home directory`, `check file`.
    pub(crate) found_by: Vec<String>,
    /// The directory itself; its owner is the account PM2 runs as.
    pub(crate) dir: FileFacts,
    /// The directories above the home, from `/` down to its parent (of its canonical path):
    /// other users reach a file in the home only through the execute bits of all of them
    /// (`/root` is 0700, so `/root/.pm2/dump.pm2` at 0644 is still private).
    #[serde(default)]
    pub(crate) ancestors: Vec<FileFacts>,
    /// The account owning the directory, when it resolves.
    pub(crate) owner: Option<Account>,
    /// Units whose `Environment=PM2_HOME=` is this home, or that run `pm2 resurrect` for
    /// it (`pm2-<user>.service` written by `pm2 startup`).
    pub(crate) units: Vec<UnitFacts>,
    /// `dump.pm2`: what `pm2 resurrect` brings back at boot.
    pub(crate) dump: DumpFacts,
    /// `dump.pm2.bak`: the previous dump `pm2 save` keeps.
    pub(crate) dump_backup: DumpFacts,
    /// The live daemon, if any.
    pub(crate) daemon: DaemonFacts,
    /// Installed PM2 modules (`pm2-logrotate`, …) from `module_conf.json` and `modules/`.
    pub(crate) modules: Fact<Vec<String>>,
    /// The pm2 command line tool an operator would run for this home (for remediations):
    /// found next to the daemon's node, or in /usr/local/bin, /usr/bin.
    pub(crate) pm2_cli: Option<String>,
    /// What `pm2.log` says of the last time the daemon was killed by a signal (absent
    /// from facts files written before bootproof read it).
    #[serde(default = "no_kill_read")]
    pub(crate) last_kill: Fact<Option<DaemonKill>>,
}

fn no_kill_read() -> Fact<Option<DaemonKill>> {
    Fact::Ok(None)
}

/// The last kill of a PM2 daemon by a signal, as its `pm2.log` records it: how a
/// shutdown ends a daemon that no `ExecStop=pm2 kill` stopped first. The daemon writes
/// dump.pm2 as it goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DaemonKill {
    /// Apps that had exited on a signal nobody asked PM2 for, and were not started again,
    /// when the daemon was killed: the dump it wrote lists them as `stopped`, and
    /// `pm2 resurrect` leaves them stopped.
    pub(crate) apps_down: Vec<String>,
    /// Daemons started for this home after that kill.
    pub(crate) daemons_after: u32,
}

/// A saved dump file (`dump.pm2` or `dump.pm2.bak`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct DumpFacts {
    /// Absolute path.
    pub(crate) file: FileFacts,
    /// The apps it holds, or why it could not be parsed (truncated, not JSON, not an array,
    /// too large, …). Empty when the file does not exist.
    pub(crate) apps: Fact<Vec<SavedApp>>,
}

/// One app as `pm2 save` wrote it. Fields vary by PM2 version: all optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedApp {
    /// `name`.
    pub(crate) name: String,
    /// `status` when saved: `online`, `stopped`, `errored`, …
    pub(crate) status: Option<Pm2Status>,
    /// `exec_mode`: `fork_mode` or `cluster_mode`.
    pub(crate) exec_mode: Option<String>,
    /// `instances` as saved (a number; `max`/`-1` normalised to what PM2 stored).
    pub(crate) instances: Option<i64>,
    /// `pm_exec_path`: the script.
    pub(crate) script: Option<String>,
    /// `exec_interpreter`: `node`, a path, `none`, …
    pub(crate) interpreter: Option<String>,
    /// `max_memory_restart` in bytes.
    pub(crate) max_memory_restart: Option<u64>,
    /// `pmx_module`: a PM2 module rather than an app.
    pub(crate) is_module: bool,
    /// Names (never values) of the environment variables saved with the app.
    pub(crate) env_keys: Vec<String>,
}

/// The PM2 daemon ("God Daemon") of a home.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct DaemonFacts {
    /// `pm2.pid`: the pid the daemon wrote; `Ok(None)` when the file does not exist.
    pub(crate) pid_file: Fact<Option<u32>>,
    /// The running daemon process (`PM2 vX: God Daemon (<home>)`), if one runs.
    pub(crate) process: Option<ProcessFacts>,
    /// The daemon's version from its process title, e.g. `7.0.4`.
    pub(crate) version: Option<String>,
    /// What the daemon answered on `rpc.sock` to `getMonitorData`.
    pub(crate) rpc: Fact<RpcAnswer>,
    /// Apps as /proc shows them when the socket could not be used: from `pids/*.pid`.
    pub(crate) fallback_apps: Vec<FallbackApp>,
}

/// The outcome of asking the daemon over `rpc.sock`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub(crate) enum RpcAnswer {
    /// No socket file, or nothing listening on it: no daemon runs.
    NotRunning {
        /// `no socket file` or `connection refused`.
        reason: String,
    },
    /// The socket accepted but did not answer in time.
    NoAnswer {
        /// How long bootproof waited, in milliseconds.
        waited_ms: u64,
    },
    /// The daemon answered with its process list.
    Apps {
        /// One entry per process (cluster instances are separate entries).
        apps: Vec<LiveApp>,
    },
}

/// One process as the live daemon reports it (`pm2 jlist` shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LiveApp {
    /// `name`.
    pub(crate) name: String,
    /// `pm_id`.
    pub(crate) pm_id: i64,
    /// `pid`; 0 when not running.
    pub(crate) pid: u32,
    /// `pm2_env.status`: `online`, `stopped`, `errored`, `launching`, `waiting restart`, …
    pub(crate) status: Pm2Status,
    /// `pm2_env.restart_time`: restarts since the app was started.
    pub(crate) restart_time: u64,
    /// `pm2_env.unstable_restarts`: restarts that happened before `min_uptime`.
    pub(crate) unstable_restarts: u64,
    /// `pm2_env.pm_uptime`: when the current process started, ms since the epoch.
    pub(crate) started_at_ms: Option<u64>,
    /// `pm2_env.exec_mode`.
    pub(crate) exec_mode: Option<String>,
    /// `pm2_env.pm_exec_path`.
    pub(crate) script: Option<String>,
    /// `pm2_env.max_memory_restart` in bytes.
    pub(crate) max_memory_restart: Option<u64>,
    /// `pm2_env.node_version`.
    pub(crate) node_version: Option<String>,
    /// `pm2_env.pmx_module`: a PM2 module rather than an app.
    pub(crate) is_module: bool,
    /// `monit.memory` in bytes.
    pub(crate) memory: Option<u64>,
    /// The process as /proc shows it (uid, exe, …), when it runs.
    pub(crate) process: Option<ProcessFacts>,
}

/// An app process found through `pids/<name>-<id>.pid` when the daemon could not be asked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FallbackApp {
    /// App name from the pid file's name.
    pub(crate) name: String,
    /// pm_id from the pid file's name.
    pub(crate) pm_id: i64,
    /// The pid written in the file.
    pub(crate) pid: u32,
    /// The process, if it still runs.
    pub(crate) process: Option<ProcessFacts>,
}

/// One HTTP health endpoint: what was asked and what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HttpFacts {
    /// The probe as the check file declared it.
    pub(crate) spec: HealthSpec,
    /// What the endpoint did.
    pub(crate) outcome: HttpOutcome,
}

/// What happened when an endpoint was probed. Only [`HttpOutcome::Answered`] got as far
/// as an HTTP response; the others say where it stopped, in terms an operator can act on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub(crate) enum HttpOutcome {
    /// The server sent a response.
    Answered(HttpAnswer),
    /// The connection was refused: nothing listens on that address.
    Refused {
        /// `host:port` that refused.
        address: String,
    },
    /// No complete response (headers and the capped body) within the timeout.
    TimedOut {
        /// How long bootproof waited, in milliseconds.
        after_ms: u64,
    },
    /// The TLS handshake failed.
    Tls {
        /// The certificate is not trusted (unknown issuer, self-signed): the one TLS
        /// failure `insecure = true` is for.
        untrusted: bool,
        /// What the TLS library said.
        reason: String,
    },
    /// The host name did not resolve.
    Dns {
        /// The host name.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// Anything else: a malformed URL, a connection reset, too many redirects, …
    Other {
        /// What went wrong, with its cause chain.
        reason: String,
    },
}

/// An HTTP response as far as bootproof read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HttpAnswer {
    /// The status code.
    pub(crate) status: u16,
    /// From sending the request to the end of the (capped) body, in milliseconds.
    pub(crate) elapsed_ms: u64,
    /// The `Location` header of a redirect.
    pub(crate) location: Option<String>,
    /// The `Content-Type` header.
    pub(crate) content_type: Option<String>,
    /// The start of the body (at most the read cap, 64 KiB), as text; invalid UTF-8 is
    /// replaced, so a binary body still shows what it was.
    pub(crate) body_head: String,
    /// The body went on past the cap and was not read further.
    pub(crate) body_truncated: bool,
}
