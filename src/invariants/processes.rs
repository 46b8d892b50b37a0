//! The processes no unit or PM2 home bootproof judges accounts for: every node process
//! and TCP listener is classified by what will bring it back after a reboot
//! (`process.supervised`), and a development supervisor running a service is flagged
//! (`process.dev-supervisor`).
//!
//! A process in the cgroup of a judged unit, or under a PM2 daemon, is that subject's:
//! its unit or home is judged (and predicted) on its own. A TCP listener of any other
//! system service (sshd, nginx, a database) is systemd's by construction and left to its
//! unit. Everything else becomes a subject `process:COMMAND (in CWD)`: one per process
//! tree (a node cluster's workers, nodemon's child and the shell between them belong to
//! the process that started them), keyed by what stays the same when it is started again.
//! What keeps it — in order: an app container's runtime, a container runtime on this
//! host, a tmux or screen server (never survives), a user's own systemd (survives with
//! lingering and the unit enabled), a login session, a scope, or nothing at all.

use std::collections::{BTreeMap, BTreeSet};

use crate::facts::cgroup::CgroupPlace;
use crate::facts::container::AppContainer;
use crate::facts::node::{dev_supervisor, runtime_named, runtime_script, split_words};
use crate::facts::{
    Ancestor, Fact, Facts, Listening, ProcessScan, RpcAnswer, ScannedProcess, SeenProcess, UnitFacts, UserUnitFacts,
};
use crate::invariants::fix::{self, Sketch};
use crate::verdict::{CheckId, Finding, Prediction, Status, Subject, SubjectPrediction};

/// A command line in a subject key is cut to this many characters.
const KEY_COMMAND_MAX: usize = 160;

/// Environment variables a shell, a login, a terminal multiplexer or a parent node sets:
/// not the app's configuration, so a sketched unit does not carry them over (a copied
/// `NODE_CHANNEL_FD` would make node look for an IPC channel that is not there).
const SESSION_VARIABLES: [&str; 34] = [
    "NODE_UNIQUE_ID",
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "_",
    "TERM",
    "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION",
    "COLORTERM",
    "MAIL",
    "LANG",
    "LANGUAGE",
    "DBUS_SESSION_BUS_ADDRESS",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "TMUX",
    "TMUX_PANE",
    "STY",
    "WINDOW",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "SYSTEMD_EXEC_PID",
    "MANAGERPID",
    "NOTIFY_SOCKET",
    "LS_COLORS",
    "LESSOPEN",
    "LESSCLOSE",
    "MOTD_SHOWN",
    "HOSTNAME",
];

/// Prefixes of such variables.
const SESSION_PREFIXES: [&str; 8] = ["LC_", "XDG_", "SSH_", "SUDO_", "HIST", "NVM_", "NODE_CHANNEL_", "PM2_"];

/// One process tree outside every judged unit and PM2 home.
struct Group<'a> {
    /// The process that started the rest (the one a reboot loses first).
    top: &'a ScannedProcess,
    /// Every process of the tree, `top` first, then by pid.
    members: Vec<&'a ScannedProcess>,
}

impl Group<'_> {
    /// Every socket the tree listens on.
    fn ports(&self) -> Vec<&Listening> {
        let set: BTreeSet<&Listening> = self.members.iter().flat_map(|p| p.process.listening.iter()).collect();
        set.into_iter().collect()
    }

    /// The pids of the tree.
    fn pids(&self) -> Vec<u32> {
        self.members.iter().map(|p| p.process.pid).collect()
    }

    /// The process that serves: the top, unless that is a development supervisor or a
    /// package manager's title (`npm start`), then the first node process below it that
    /// is neither.
    fn server(&self) -> &ScannedProcess {
        let plain = |p: &&&ScannedProcess| dev_supervisor(&p.process.cmdline).is_none() && !is_title(p);
        self.members.iter().find(plain).or_else(|| self.members.first()).copied().unwrap_or(self.top)
    }
}

/// Whether a node process's command line is a title it set itself (`npm start`): one
/// argument with spaces in it, not a path to node.
fn is_title(process: &ScannedProcess) -> bool {
    matches!(process.process.cmdline.as_slice(), [only] if only.contains(' ') && runtime_named(only).is_none())
}

/// What keeps a process tree, or does not.
enum Keeper<'a> {
    /// Inside an app container, started by its PID 1: the container runtime.
    ContainerPid1 {
        /// The container.
        container: &'a AppContainer,
    },
    /// Inside an app container, started from outside it (`docker exec`).
    ContainerExec {
        /// The container.
        container: &'a AppContainer,
    },
    /// In a container runtime's cgroup on this host.
    ContainerRuntime {
        /// `docker`, `podman`, …
        runtime: &'static str,
        /// The container.
        id: String,
    },
    /// In a PID namespace of its own below this host's (a container bootproof's cgroup
    /// names do not tell).
    ChildNamespace,
    /// In a system service's cgroup that bootproof did not judge.
    UnjudgedUnit(String),
    /// Under a tmux or screen server.
    Multiplexer {
        /// `tmux` or `screen`.
        name: &'static str,
        /// The server.
        server: &'a Ancestor,
    },
    /// A service of a user's own systemd.
    UserService {
        /// The user.
        uid: u32,
        /// The unit.
        unit: String,
    },
    /// A scope of a user's own systemd.
    UserScope {
        /// The user.
        uid: u32,
        /// The scope.
        unit: String,
    },
    /// A login session.
    Session {
        /// Its id.
        id: String,
    },
    /// A scope of the system manager.
    SystemScope(String),
    /// No unit at all.
    Nothing,
}

impl Keeper<'_> {
    /// One word for the evidence.
    fn word(&self) -> &'static str {
        match self {
            Keeper::ContainerPid1 { .. } => "container pid 1",
            Keeper::ContainerExec { .. } => "container exec",
            Keeper::ContainerRuntime { .. } | Keeper::ChildNamespace => "container runtime",
            Keeper::UnjudgedUnit(_) => "system unit",
            Keeper::Multiplexer { name: "tmux", .. } => "tmux",
            Keeper::Multiplexer { .. } => "screen",
            Keeper::UserService { .. } => "user service",
            Keeper::UserScope { .. } => "user scope",
            Keeper::Session { .. } => "login session",
            Keeper::SystemScope(_) => "scope",
            Keeper::Nothing => "nothing",
        }
    }
}

/// What judging the processes produced.
pub(crate) struct Judged {
    /// `process.supervised` and `process.dev-supervisor` findings.
    pub(crate) findings: Vec<Finding>,
    /// One prediction per process subject whose fate bootproof can tell.
    pub(crate) predictions: Vec<SubjectPrediction>,
}

/// Judges every process outside judged units and PM2 homes, and the processes the last
/// check before this boot saw that do not run now.
pub(crate) fn judge(facts: &Facts) -> Judged {
    let check = CheckId::ProcessSupervised;
    let scan = match &facts.processes {
        None => {
            let reason = "this facts file holds no process scan (written before bootproof classified processes)";
            return Judged { findings: vec![Finding::skip(check, &Subject::Host, reason)], predictions: Vec::new() };
        }
        Some(Fact::Error(reason)) => {
            let message = format!("could not scan the processes: {reason}");
            return Judged { findings: vec![Finding::error(check, &Subject::Host, message)], predictions: Vec::new() };
        }
        Some(Fact::Ok(scan)) => scan,
    };
    let mut findings = Vec::new();
    if let Some(unreadable) = &scan.unreadable {
        findings.push(Finding::error(
            check,
            &Subject::Host,
            format!("{unreadable}: whether they run node, and what brings them back, is not known"),
        ));
    }
    if let Some(unattributed) = &scan.unattributed {
        let sockets: Vec<String> = unattributed.sockets.iter().map(|s| format!("{}:{}", s.address, s.port)).collect();
        let what = if sockets.is_empty() { "the listening TCP sockets".to_owned() } else { sockets.join(", ") };
        findings.push(Finding::error(
            check,
            &Subject::Host,
            format!("could not tell which processes listen on {what} ({}); run bootproof as root", unattributed.reason),
        ));
    }
    let container = facts.host.container.as_ref().and_then(|c| c.app_container());
    let groups = groups(facts, scan);
    let names = unit_names(&groups, facts);
    let mut predictions = Vec::new();
    let mut keys = BTreeSet::new();
    for (group, key, name) in groups.iter().zip(subject_keys(&groups)).zip(names).map(|((g, k), n)| (g, k, n)) {
        let subject = Subject::Process(key.clone());
        keys.insert(key);
        let keeper = keeper(group, container.as_ref());
        let finding = supervised(group, &keeper, scan, &subject, &name);
        if finding.status != Status::Skip {
            let prediction = Prediction::from_findings(std::slice::from_ref(&finding), &subject);
            predictions.push(SubjectPrediction { subject: subject.clone(), prediction, apps: Vec::new() });
        }
        findings.push(finding);
        findings.push(dev_supervised(group, &subject, &name));
    }
    for gone in gone_since_last_boot(facts, scan, &keys) {
        let prediction = Prediction::from_findings(std::slice::from_ref(&gone), &gone.subject);
        predictions.push(SubjectPrediction { subject: gone.subject.clone(), prediction, apps: Vec::new() });
        findings.push(gone);
    }
    Judged { findings, predictions }
}

/// A process subject as `plan` and `init` draw it: where it hangs (the chain that should
/// start it at boot, or what started it instead) and the unit a fix would write.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProcessChain {
    /// The subject.
    pub(crate) subject: Subject,
    /// What started it, as a chain: `login session c2`, `tmux server (pid 94)`,
    /// `systemd ─► user@1001.service ─► greeter.service`.
    pub(crate) origin: String,
    /// Its processes.
    pub(crate) pids: Vec<u32>,
    /// Who it runs as.
    pub(crate) user: Option<String>,
    /// The sockets it listens on.
    pub(crate) ports: Vec<Listening>,
    /// The unit the fix would write, without `.service`.
    pub(crate) unit_name: String,
}

/// Every running process subject, with its chain.
pub(crate) fn chains(facts: &Facts) -> Vec<ProcessChain> {
    let Some(Fact::Ok(scan)) = &facts.processes else { return Vec::new() };
    let container = facts.host.container.as_ref().and_then(|c| c.app_container());
    let groups = groups(facts, scan);
    let names = unit_names(&groups, facts);
    groups
        .iter()
        .zip(subject_keys(&groups))
        .zip(names)
        .map(|((group, key), unit_name)| ProcessChain {
            subject: Subject::Process(key),
            origin: origin(group, &keeper(group, container.as_ref())),
            pids: group.pids(),
            user: group.top.process.user.clone(),
            ports: group.ports().into_iter().cloned().collect(),
            unit_name,
        })
        .collect()
}

/// The chain that starts a group, or what started it instead.
fn origin(group: &Group, keeper: &Keeper) -> String {
    let orphan = if group.top.ppid == 1 { " ─► left to PID 1" } else { "" };
    match keeper {
        Keeper::ContainerPid1 { container } => format!("{} container ─► PID 1", container.runtime),
        Keeper::ContainerExec { container } => format!("{} exec, from outside the container", container.runtime),
        Keeper::ContainerRuntime { runtime, id } => {
            format!("{runtime} container {}", id.chars().take(12).collect::<String>())
        }
        Keeper::ChildNamespace => "a container (its own PID namespace)".to_owned(),
        Keeper::UnjudgedUnit(unit) => format!("systemd ─► {unit}"),
        Keeper::Multiplexer { name, server } => format!("{name} server (pid {})", server.pid),
        Keeper::UserService { uid, unit } => format!("systemd ─► user@{uid}.service ─► {unit}"),
        Keeper::UserScope { uid, unit } => format!("user@{uid}.service ─► {unit}"),
        Keeper::Session { id } => format!("login session {id}{orphan}"),
        Keeper::SystemScope(scope) => format!("scope {scope}{orphan}"),
        Keeper::Nothing if group.top.ppid == 1 => "PID 1 (orphan)".to_owned(),
        Keeper::Nothing => group
            .top
            .ancestors
            .first()
            .map_or_else(|| format!("pid {}", group.top.ppid), |a| format!("{} (pid {})", a.comm, a.pid)),
    }
}

/// What the state file keeps of this check's process subjects: those whose fate is
/// bootproof's to tell (a container's processes are its restart policy's).
pub(crate) fn seen(facts: &Facts) -> Vec<SeenProcess> {
    let Some(Fact::Ok(scan)) = &facts.processes else { return Vec::new() };
    let container = facts.host.container.as_ref().and_then(|c| c.app_container());
    let groups = groups(facts, scan);
    groups
        .iter()
        .zip(subject_keys(&groups))
        .filter(|(group, _)| {
            !matches!(
                keeper(group, container.as_ref()),
                Keeper::ContainerPid1 { .. } | Keeper::ContainerRuntime { .. } | Keeper::ChildNamespace
            )
        })
        .map(|(group, key)| SeenProcess {
            key,
            command: group.top.process.cmdline.join(" "),
            user: group.top.process.user.clone(),
            ports: group.ports().iter().map(|s| s.port).collect::<BTreeSet<_>>().into_iter().collect(),
        })
        .collect()
}

/// The pids PM2 accounts for: each home's daemon and its apps.
fn pm2_pids(facts: &Facts) -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    for home in &facts.pm2 {
        pids.extend(home.daemon.process.as_ref().map(|p| p.pid));
        if let Fact::Ok(RpcAnswer::Apps { apps }) = &home.daemon.rpc {
            pids.extend(apps.iter().filter(|a| a.pid > 0).map(|a| a.pid));
        }
        pids.extend(home.daemon.fallback_apps.iter().map(|a| a.pid));
    }
    pids
}

/// The units bootproof judges on their own subjects.
fn judged_units(facts: &Facts) -> BTreeSet<&str> {
    facts.units.iter().chain(facts.pm2.iter().flat_map(|h| h.units.iter())).map(|u| u.name.as_str()).collect()
}

/// Where a process sits.
fn place(process: &ScannedProcess) -> CgroupPlace {
    CgroupPlace::parse(process.process.cgroup.as_deref().unwrap_or(""))
}

/// Whether a process is judged on another subject (a unit's, a PM2 home's), or left to
/// the system service that runs it.
fn accounted_for(process: &ScannedProcess, units: &BTreeSet<&str>, pm2: &BTreeSet<u32>) -> bool {
    if pm2.contains(&process.process.pid) || process.ancestors.iter().any(|a| pm2.contains(&a.pid)) {
        return true;
    }
    match place(process) {
        CgroupPlace::SystemService(unit) => units.contains(unit.as_str()) || process.runtime.is_none(),
        _ => false,
    }
}

/// The process trees outside judged units and PM2, in pid order of their tops.
fn groups<'a>(facts: &Facts, scan: &'a ProcessScan) -> Vec<Group<'a>> {
    let units = judged_units(facts);
    let pm2 = pm2_pids(facts);
    let reported: BTreeMap<u32, &ScannedProcess> =
        scan.processes.iter().filter(|p| !accounted_for(p, &units, &pm2)).map(|p| (p.process.pid, p)).collect();
    let mut trees: BTreeMap<u32, Vec<&ScannedProcess>> = BTreeMap::new();
    for process in reported.values() {
        // The farthest reported parent reached without leaving the process's cgroup.
        let mut top = process.process.pid;
        for ancestor in &process.ancestors {
            if ancestor.cgroup != process.process.cgroup {
                break;
            }
            if reported.contains_key(&ancestor.pid) {
                top = ancestor.pid;
            }
        }
        trees.entry(top).or_default().push(process);
    }
    trees
        .into_iter()
        .filter_map(|(top, mut members)| {
            let top = *reported.get(&top)?;
            members.sort_by_key(|p| (p.process.pid != top.process.pid, p.process.pid));
            Some(Group { top, members })
        })
        .collect()
}

/// Each group's subject key: its command line (cut) and working directory; groups that
/// would share one get their pid added.
fn subject_keys(groups: &[Group]) -> Vec<String> {
    let base: Vec<String> = groups
        .iter()
        .map(|group| {
            let command = group.top.process.cmdline.join(" ");
            let command = match command.char_indices().nth(KEY_COMMAND_MAX) {
                Some((at, _)) => format!("{}…", &command[..at]),
                None => command,
            };
            match group.top.cwd.as_ref().and_then(Fact::ok) {
                Some(cwd) => format!("{command} (in {cwd})"),
                None => command,
            }
        })
        .collect();
    base.iter()
        .zip(groups)
        .map(|(key, group)| {
            if base.iter().filter(|other| *other == key).count() > 1 {
                format!("{key} pid {}", group.top.process.pid)
            } else {
                key.clone()
            }
        })
        .collect()
}

/// Names too general to name a unit after (`/srv/api/src/index.js` is the api's).
const GENERIC_NAMES: [&str; 12] =
    ["src", "dist", "build", "lib", "bin", "app", "server", "index", "main", "srv", "opt", "home"];

/// The name a unit sketched for the group would have: after the directory of the script
/// it runs (or the script), unique among the groups (a port, or a number, added).
fn unit_names(groups: &[Group], facts: &Facts) -> Vec<String> {
    let base: Vec<String> = groups.iter().map(|group| base_name(group.server())).collect();
    let taken: BTreeSet<&str> = facts.units.iter().map(|u| u.name.trim_end_matches(".service")).collect();
    let mut names: Vec<String> = Vec::new();
    for (group, name) in groups.iter().zip(&base) {
        let shared = base.iter().filter(|other| *other == name).count() > 1 || taken.contains(name.as_str());
        let mut candidate = match group.ports().first() {
            Some(port) if shared => format!("{name}-{}", port.port),
            _ => name.clone(),
        };
        let mut n = 2;
        while names.contains(&candidate) || taken.contains(candidate.as_str()) {
            candidate = format!("{name}-{n}");
            n += 1;
        }
        names.push(candidate);
    }
    names
}

/// `my-app` for `node /opt/my-app/server.js` (or `node server.js` in /opt/my-app).
fn base_name(process: &ScannedProcess) -> String {
    let args = process.process.cmdline.get(1..).unwrap_or_default();
    let cwd = process.cwd.as_ref().and_then(Fact::ok).map_or("/", String::as_str);
    let script = runtime_script(args).map(|script| {
        if script.starts_with('/') { script.to_owned() } else { format!("{}/{script}", cwd.trim_end_matches('/')) }
    });
    let path = script.unwrap_or_else(|| format!("{}/x", cwd.trim_end_matches('/')));
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != "." && *p != "..").collect();
    let stem = parts.pop().map(|file| file.split('.').next().unwrap_or(file).to_owned());
    let chosen = parts.iter().rev().find(|p| !GENERIC_NAMES.contains(p)).map(|p| (*p).to_owned()).or(stem);
    let name: String = chosen
        .unwrap_or_default()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-').chars().take(40).collect::<String>();
    if name.is_empty() || GENERIC_NAMES.contains(&name.as_str()) { "node-app".to_owned() } else { name }
}

/// What keeps the group (see the module documentation for the order).
fn keeper<'a>(group: &Group<'a>, container: Option<&'a AppContainer>) -> Keeper<'a> {
    let top = group.top;
    // A container's own processes, whatever this host is.
    if top.in_child_pid_namespace {
        return match place(top) {
            CgroupPlace::Container { runtime, id } => Keeper::ContainerRuntime { runtime, id },
            _ => Keeper::ChildNamespace,
        };
    }
    if let Some(container) = container {
        // A parent outside this PID namespace: `docker exec`, `kubectl exec`.
        let outermost = top.ancestors.last().map_or(top.ppid, |a| a.ppid);
        return if top.process.pid == 1 || outermost == 1 {
            Keeper::ContainerPid1 { container }
        } else {
            Keeper::ContainerExec { container }
        };
    }
    let place = place(top);
    if let CgroupPlace::Container { runtime, id } = place {
        return Keeper::ContainerRuntime { runtime, id };
    }
    if let Some(server) = top.ancestors.iter().find(|a| is_multiplexer(a, "tmux")) {
        return Keeper::Multiplexer { name: "tmux", server };
    }
    if let Some(server) = top.ancestors.iter().find(|a| is_multiplexer(a, "screen")) {
        return Keeper::Multiplexer { name: "screen", server };
    }
    match place {
        CgroupPlace::SystemService(unit) => Keeper::UnjudgedUnit(unit),
        CgroupPlace::UserUnit { uid, unit } if unit.ends_with(".service") => Keeper::UserService { uid, unit },
        CgroupPlace::UserUnit { uid, unit } => Keeper::UserScope { uid, unit },
        CgroupPlace::Session { id, .. } => Keeper::Session { id },
        CgroupPlace::SystemScope(scope) => Keeper::SystemScope(scope),
        CgroupPlace::UserManager { .. }
        | CgroupPlace::Init
        | CgroupPlace::Root
        | CgroupPlace::Outside
        | CgroupPlace::Other(_)
        | CgroupPlace::Container { .. } => Keeper::Nothing,
    }
}

/// Whether a parent is a tmux server (`tmux: server`) or a screen session (`SCREEN`).
fn is_multiplexer(ancestor: &Ancestor, name: &str) -> bool {
    let exe = ancestor.exe.as_deref().map(|e| e.rsplit('/').next().unwrap_or(e));
    match name {
        "tmux" => ancestor.comm.starts_with("tmux") || exe == Some("tmux"),
        _ => ancestor.title.starts_with("SCREEN") || (ancestor.comm == "screen" && exe == Some("screen")),
    }
}

/// `pid 81 (deploy), listening on 127.0.0.1:18001`.
fn label(group: &Group) -> String {
    let top = &group.top.process;
    let user = top.user.clone().unwrap_or_else(|| format!("uid {}", top.uid));
    let more = group.members.len() - 1;
    let tree = if more > 0 { format!(" and {more} process(es) it started") } else { String::new() };
    let ports = group.ports();
    let listening = if ports.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = ports.iter().map(|s| format!("{}:{}", s.address, s.port)).collect();
        format!(", listening on {}", list.join(", "))
    };
    format!("pid {} ({user}){tree}{listening}", top.pid)
}

/// The systemd command that puts the group under a unit, and the PM2 alternative.
fn put_under_systemd(group: &Group, name: &str) -> String {
    let server = group.server();
    let process = &server.process;
    let cmdline = &process.cmdline;
    // node's own binary, as /proc/PID/exe says; a title (`npm start`) split back into words.
    let exec: Vec<String> = match cmdline.first() {
        Some(arg0) if runtime_named(arg0).is_some() => {
            let exe = process.exe.ok().cloned().unwrap_or_else(|| arg0.clone());
            std::iter::once(exe.trim_end_matches(" (deleted)").to_owned()).chain(cmdline[1..].iter().cloned()).collect()
        }
        Some(_) if is_title(server) => split_words(&cmdline[0]),
        _ => cmdline.clone(),
    };
    let user = process.user.as_deref().filter(|u| *u != "root");
    let cwd = server.cwd.as_ref().and_then(Fact::ok).map(String::as_str);
    let env: Vec<String> = server
        .env_names
        .as_ref()
        .and_then(Fact::ok)
        .map(|names| names.iter().filter(|n| !is_session_variable(n)).cloned().collect())
        .unwrap_or_default();
    let description = format!("{} (unit sketched by bootproof from the running process)", cmdline.join(" "));
    let pids = group.pids();
    let sketch = Sketch {
        name,
        description: &description,
        user,
        cwd,
        exec: &exec,
        env_names: &env,
        env_pid: process.pid,
        replaces: &pids,
    };
    let Some(unit) = fix::unit_from_process(&sketch) else {
        return format!(
            "its command line or directory holds control characters: write /etc/systemd/system/{name}.service by hand (ExecStart, WorkingDirectory, User, Restart=on-failure, WantedBy=multi-user.target), then sudo systemctl enable --now {name}.service"
        );
    };
    match pm2_alternative(server, name) {
        Some(pm2) => {
            format!("{unit}\n# or with PM2 (registered with pm2 startup), as {}: {pm2}", user.unwrap_or("root"))
        }
        None => unit,
    }
}

/// `cd DIR && pm2 start SCRIPT --name NAME -- ARGS && pm2 save`, for a node process.
fn pm2_alternative(server: &ScannedProcess, name: &str) -> Option<String> {
    let cmdline = &server.process.cmdline;
    runtime_named(cmdline.first()?)?;
    let args = &cmdline[1..];
    let script = runtime_script(args)?;
    let at = args.iter().position(|a| a == script)?;
    let rest: Vec<String> = args[at + 1..].iter().map(|a| fix::shell_quote(a)).collect();
    let cwd = server.cwd.as_ref().and_then(Fact::ok)?;
    let after = if rest.is_empty() { String::new() } else { format!(" -- {}", rest.join(" ")) };
    Some(format!(
        "cd {} && pm2 start {} --name {name}{after} && pm2 save",
        fix::shell_quote(cwd),
        fix::shell_quote(script)
    ))
}

/// Whether an environment variable is a shell's or a session's, not the app's.
fn is_session_variable(name: &str) -> bool {
    SESSION_VARIABLES.contains(&name) || SESSION_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// `process.supervised` of one group.
fn supervised(group: &Group, keeper: &Keeper, scan: &ProcessScan, subject: &Subject, name: &str) -> Finding {
    let check = CheckId::ProcessSupervised;
    let who = label(group);
    let top = &group.top.process;
    let user = top.user.clone().unwrap_or_else(|| format!("uid {}", top.uid));
    let sketch = || put_under_systemd(group, name);
    let lost = |why: String| Finding::violated(check, subject, format!("{who}: {why}"), sketch());
    let finding = match keeper {
        Keeper::ContainerPid1 { container } => {
            let pid1 =
                container.pid1.as_ref().map_or_else(|| "PID 1".to_owned(), |p| format!("PID 1 ({})", p.program()));
            Finding::skip(
                check,
                subject,
                format!(
                    "{who}: inside a {} container, started by {pid1}: the container runtime restarts the container by its restart policy, which bootproof cannot see from inside",
                    container.runtime
                ),
            )
        }
        Keeper::ContainerExec { container } => Finding::violated(
            check,
            subject,
            format!(
                "{who}: started inside this {} container from outside it (docker exec: its parent is outside the container's PID namespace): nothing restarts it, and a restart of the container loses it",
                container.runtime
            ),
            "make it part of the container's command (CMD), or run it in a container of its own with a restart policy",
        ),
        Keeper::ContainerRuntime { runtime, id } => {
            let short: String = id.chars().take(12).collect();
            let how = if *runtime == "docker" {
                format!(" (see: docker inspect --format '{{{{.HostConfig.RestartPolicy.Name}}}}' {short})")
            } else {
                String::new()
            };
            Finding::skip(
                check,
                subject,
                format!(
                    "{who}: in {runtime} container {short}: the container's restart policy decides whether it comes back{how}"
                ),
            )
        }
        Keeper::ChildNamespace => Finding::skip(
            check,
            subject,
            format!(
                "{who}: runs in a container of its own (a PID namespace below this host's): what that container runs at its start, and its runtime's restart policy, decide whether it comes back"
            ),
        ),
        Keeper::UnjudgedUnit(unit) => Finding::error(
            check,
            subject,
            format!("{who}: runs in {unit}, which bootproof could not judge (see the units it could not read)"),
        ),
        Keeper::Multiplexer { name: multiplexer, server } => lost(format!(
            "runs in a {multiplexer} session (server pid {}): {multiplexer} does not survive a reboot, and starts nothing again when it is started",
            server.pid
        )),
        Keeper::UserService { uid, unit } => {
            return user_service(group, scan, subject, *uid, unit, &who)
                .evidence("keeper", keeper.word())
                .evidence("unit", unit);
        }
        Keeper::UserScope { uid, unit } => lost(format!(
            "runs in {unit}, a scope of {user}'s own systemd (user@{uid}.service): a scope is never started again, after a reboot or otherwise"
        )),
        Keeper::Session { id } => {
            let orphan = if group.top.ppid == 1 {
                ", and was left to PID 1 when the shell that started it exited (nohup, &)"
            } else {
                ""
            };
            lost(format!(
                "started by hand in login session {id} of {user}{orphan}: nothing starts it again after a reboot (and logind may end it at logout)"
            ))
        }
        Keeper::SystemScope(scope) => lost(format!(
            "runs in the transient scope {scope} (systemd-run --scope): systemd never starts a scope, so nothing brings it back after a reboot"
        )),
        Keeper::Nothing if group.top.ppid == 1 => {
            lost("an orphan left to PID 1, in no unit: nothing starts it again after a reboot".to_owned())
        }
        Keeper::Nothing => {
            let parent = group
                .top
                .ancestors
                .first()
                .map_or_else(|| format!("pid {}", group.top.ppid), |a| format!("{} (pid {})", a.comm, a.pid));
            lost(format!("started by {parent}, in no unit: nothing starts it again after a reboot"))
        }
    };
    evidence(finding, group, keeper.word())
}

/// The evidence every `process.supervised` finding of a running group carries.
fn evidence(finding: Finding, group: &Group, keeper: &str) -> Finding {
    let top = &group.top.process;
    finding
        .evidence("running", true)
        .evidence("keeper", keeper)
        .evidence("pids", group.pids())
        .evidence("user", top.user.as_deref())
        .evidence("cmdline", &top.cmdline)
        .evidence("cwd", group.top.cwd.as_ref().and_then(Fact::ok))
        .evidence("ports", group.ports().iter().map(|s| s.port).collect::<BTreeSet<_>>())
        .evidence("cgroup", top.cgroup.as_deref())
        .evidence("parents", group.top.ancestors.iter().map(|a| format!("{} {}", a.pid, a.title)).collect::<Vec<_>>())
}

/// A service of a user's own systemd: it comes back when that manager starts at boot
/// (lingering) and the unit is enabled in it.
fn user_service(group: &Group, scan: &ProcessScan, subject: &Subject, uid: u32, unit: &str, who: &str) -> Finding {
    let check = CheckId::ProcessSupervised;
    let facts: Option<&UserUnitFacts> = scan.user_units.iter().find(|u| u.uid == uid && u.unit == unit);
    let user = facts.and_then(|f| f.user.clone()).or_else(|| group.top.process.user.clone());
    let as_user = |command: &str| match &user {
        Some(name) => format!("sudo -u {name} XDG_RUNTIME_DIR=/run/user/{uid} systemctl --user {command}"),
        None => format!("systemctl --user {command}   # as uid {uid}"),
    };
    let name = user.clone().unwrap_or_else(|| format!("uid {uid}"));
    let manager = format!("{name}'s own systemd (user@{uid}.service)");
    let lingering = match &scan.lingering {
        Fact::Ok(users) => user.as_ref().is_some_and(|u| users.contains(u)),
        Fact::Error(reason) => {
            return evidence(
                Finding::error(
                    check,
                    subject,
                    format!("{who}: {unit} of {manager}; whether it lingers could not be read: {reason}"),
                ),
                group,
                "user service",
            );
        }
    };
    let Some(facts) = facts else {
        return evidence(
            Finding::error(check, subject, format!("{who}: {unit} of {manager}: its unit files were not read")),
            group,
            "user service",
        );
    };
    let linger = format!("sudo loginctl enable-linger {name}");
    let enable = as_user(&format!("enable {unit}"));
    let finding = match (&facts.readable, lingering, &facts.file, facts.wanted_by.is_empty()) {
        (Fact::Error(reason), _, _, _) => Finding::error(
            check,
            subject,
            format!("{who}: {unit} of {manager}: its unit files could not be read: {reason}"),
        ),
        (_, _, None, _) => Finding::violated(
            check,
            subject,
            format!(
                "{who}: {unit} of {manager} has no unit file that survives a reboot (made with systemd-run --user, or only under /run): nothing starts it again"
            ),
            put_under_systemd(group, &unit.trim_end_matches(".service").replace('@', "-")),
        ),
        (_, false, Some(_), empty) => Finding::violated(
            check,
            subject,
            format!(
                "{who}: {unit} of {manager}, which starts only when {name} logs in: {name} does not linger (loginctl enable-linger), so after a reboot it stays down until someone logs in"
            ),
            if empty { format!("{linger} && {enable}") } else { linger },
        ),
        (_, true, Some(_), true) => Finding::violated(
            check,
            subject,
            format!(
                "{who}: {unit} of {manager} (lingering): the manager starts at boot, but {unit} is not enabled in it, so it stays down"
            ),
            enable,
        ),
        (_, true, Some(file), false) => Finding::pass(
            check,
            subject,
            format!(
                "{who}: {unit} of {manager}: {name} lingers, so the manager starts at boot, and {unit} ({file}) is enabled for {}",
                facts.wanted_by.join(", ")
            ),
        ),
    };
    evidence(finding, group, "user service")
        .evidence("lingering", lingering)
        .evidence("wanted_by", &facts.wanted_by)
        .evidence("unit_file", facts.file.as_deref())
}

/// `process.dev-supervisor` of a process group.
fn dev_supervised(group: &Group, subject: &Subject, name: &str) -> Finding {
    let check = CheckId::ProcessDevSupervisor;
    let found = group.members.iter().find_map(|p| Some((dev_supervisor(&p.process.cmdline)?, p)));
    match found {
        Some((tool, process)) => Finding::warn(
            check,
            subject,
            format!("{} (pid {}) runs it: {}", tool, process.process.pid, dev_supervisor_risk(tool)),
            put_under_systemd(group, name),
        )
        .evidence("supervisor", tool)
        .evidence("pid", process.process.pid),
        None => Finding::pass(check, subject, "no development supervisor runs it"),
    }
}

/// Why a development supervisor is no production supervisor.
pub(crate) fn dev_supervisor_risk(tool: &str) -> String {
    format!(
        "{tool} restarts node when files change or it crashes, never after a reboot, and is made for development (it watches the source tree and keeps no restart budget): let systemd (Restart=on-failure) or PM2 run node directly"
    )
}

/// `process.dev-supervisor` of a node unit: its running processes, or — stopped — what
/// its ExecStart runs (a wrapper's exec line included).
pub(crate) fn unit_dev_supervisor(unit: &UnitFacts, subject: &Subject) -> Finding {
    let check = CheckId::ProcessDevSupervisor;
    let Fact::Ok(service) = &unit.service else {
        return Finding::error(check, subject, "service properties unreadable");
    };
    let edit = unit.template.as_deref().unwrap_or(&unit.name);
    let fix = format!(
        "run node itself in ExecStart (e.g. ExecStart=/usr/bin/node server.js, Restart=on-failure): sudo systemctl edit --full {edit}"
    );
    let running = match &service.processes {
        Fact::Ok(processes) => processes.iter().find_map(|p| Some((dev_supervisor(&p.cmdline)?, p.pid))),
        Fact::Error(reason) => {
            return Finding::error(check, subject, format!("could not read its processes: {reason}"));
        }
    };
    if let Some((tool, pid)) = running {
        return Finding::warn(
            check,
            subject,
            format!("{tool} (pid {pid}) runs in the unit: {}", dev_supervisor_risk(tool)),
            fix,
        )
        .evidence("supervisor", tool)
        .evidence("pid", pid);
    }
    let in_exec_start = service.exec_start.iter().find_map(|command| {
        let through = command
            .runtime
            .as_ref()
            .and_then(|r| r.through.as_deref())
            .map(|text| split_words(text.split_once(": ").map_or(text, |(_, line)| line)));
        dev_supervisor(&command.argv).or_else(|| through.as_deref().and_then(dev_supervisor))
    });
    match in_exec_start {
        Some(tool) => {
            Finding::warn(check, subject, format!("its ExecStart runs {tool}: {}", dev_supervisor_risk(tool)), fix)
                .evidence("supervisor", tool)
        }
        None => Finding::pass(check, subject, "no development supervisor runs it"),
    }
}

/// The processes the last check before this boot saw outside units and PM2 that run
/// nowhere now: nothing started them again. A process counts as back when one with the
/// same command line runs (under whatever keeps it now), or when something listens on
/// every port it listened on.
fn gone_since_last_boot(facts: &Facts, scan: &ProcessScan, running_keys: &BTreeSet<String>) -> Vec<Finding> {
    let Fact::Ok(Some(previous)) = &facts.previous_boot else { return Vec::new() };
    let commands: BTreeSet<String> = scan.processes.iter().map(|p| p.process.cmdline.join(" ")).collect();
    let listening: BTreeSet<u16> =
        scan.processes.iter().flat_map(|p| p.process.listening.iter().map(|s| s.port)).collect();
    previous
        .processes
        .iter()
        .filter(|seen| !running_keys.contains(&seen.key))
        .filter(|seen| !commands.contains(&seen.command))
        .filter(|seen| seen.ports.is_empty() || !seen.ports.iter().all(|port| listening.contains(port)))
        .map(|seen| {
            let ports = if seen.ports.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = seen.ports.iter().map(|p| format!(":{p}")).collect();
                format!(", listening on {}", list.join(" "))
            };
            let user = seen.user.as_deref().map(|u| format!(" as {u}")).unwrap_or_default();
            Finding::violated(
                CheckId::ProcessSupervised,
                &Subject::Process(seen.key.clone()),
                format!(
                    "ran at the last check before this boot ({}){user}{ports}, and does not run now: nothing started it again",
                    previous.checked_at
                ),
                "start it again, then put it under systemd or PM2: the fix a check gives while it runs writes its unit",
            )
            .evidence("running", false)
            .evidence("ports", &seen.ports)
            .evidence("checked_at", &previous.checked_at)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::facts::{BootRecord, ProcessScan, container};
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, assert_finding, processes, service_mut};

    fn scan_mut(facts: &mut Facts) -> &mut ProcessScan {
        match &mut facts.processes {
            Some(Fact::Ok(scan)) => scan,
            other => panic!("the captured facts have a process scan: {other:?}"),
        }
    }

    /// The `process.supervised` finding of the process subject whose key holds `needle`.
    #[track_caller]
    fn supervised<'a>(findings: &'a [Finding], needle: &str) -> &'a Finding {
        findings
            .iter()
            .find(|f| {
                f.check == CheckId::ProcessSupervised && matches!(&f.subject, Subject::Process(k) if k.contains(needle))
            })
            .unwrap_or_else(|| panic!("no process.supervised for {needle:?} among {findings:#?}"))
    }

    #[test]
    fn hand_started_servers_are_lost_and_say_what_started_them() {
        let judgement = evaluate(&processes(), &CheckConfig::default());
        let f = &judgement.findings;
        assert_finding(
            supervised(f, "server.js 39430"),
            Status::Fail,
            "login session c1 of deploy, and was left to PID 1",
        );
        assert_finding(supervised(f, "server.js 39431"), Status::Fail, "runs in a tmux session (server pid");
        assert_finding(supervised(f, "server.js 39432"), Status::Fail, "transient scope run-");
        assert_finding(supervised(f, "nodemon server.js 39433"), Status::Fail, "and 1 process(es) it started");
        assert_finding(supervised(f, "server.js 39434"), Status::Pass, "deploy lingers");
        let lost: Vec<String> = judgement
            .predictions
            .iter()
            .filter(|p| matches!(p.subject, Subject::Process(_)) && !p.prediction.comes_back)
            .map(|p| p.subject.to_string())
            .collect();
        assert_eq!(lost.len(), 4, "{lost:?}");
        // The units' node processes are the units': no process subject of their own.
        assert!(
            !f.iter().any(|f| matches!(&f.subject, Subject::Process(k) if k.contains("39435") || k.contains("39436")))
        );
        // A sketch carries the app's variables, never the session's or a parent node's.
        let nodemon = supervised(f, "nodemon server.js 39433").remediation.as_deref().unwrap_or_default();
        assert!(nodemon.contains("grep -E '^(GREETING)='"), "{nodemon}");
        assert!(nodemon.contains("'ExecStart=/usr/bin/node server.js 39433'"), "the server, not nodemon: {nodemon}");
        assert!(nodemon.contains("sudo systemctl enable --now my-app-39433.service"), "{nodemon}");
    }

    #[test]
    fn a_user_service_without_lingering_stays_down_until_a_login() {
        let mut facts = processes();
        scan_mut(&mut facts).lingering = Fact::Ok(Vec::new());
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        let f = supervised(&findings, "server.js 39434");
        assert_finding(f, Status::Fail, "deploy does not linger");
        assert_eq!(f.remediation.as_deref(), Some("sudo loginctl enable-linger deploy"));
        scan_mut(&mut facts).lingering = Fact::Error("cannot read /var/lib/systemd/linger: Permission denied".into());
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(supervised(&findings, "server.js 39434"), Status::Error, "Permission denied");
    }

    #[test]
    fn after_a_reboot_the_state_file_names_what_did_not_come_back() {
        let before = processes();
        let seen = seen(&before);
        assert_eq!(seen.len(), 5, "{seen:#?}");
        // The next boot: only the lingering user service runs again.
        let mut after = processes();
        scan_mut(&mut after).processes.retain(|p| p.process.listening.iter().any(|s| s.port == 39434));
        after.previous_boot = Fact::Ok(Some(BootRecord {
            boot_id: "previous".into(),
            checked_at: "2026-12-01T14:00:00Z".into(),
            units: Vec::new(),
            processes: seen,
        }));
        let judgement = evaluate(&after, &CheckConfig::default());
        let gone: Vec<&Finding> = judgement
            .findings
            .iter()
            .filter(|f| {
                f.check == CheckId::ProcessSupervised && f.evidence.get("running") == Some(&serde_json::json!(false))
            })
            .collect();
        assert_eq!(gone.len(), 4, "{gone:#?}");
        assert!(
            gone.iter()
                .all(|f| f.status == Status::Fail && f.message.contains("ran at the last check before this boot"))
        );
        assert!(gone.iter().all(|f| judgement.prediction(&f.subject).is_some_and(|p| !p.prediction.comes_back)));
        assert!(gone.iter().any(|f| f.message.contains(":39431")), "named with their ports");
    }

    #[test]
    fn a_facts_file_without_a_process_scan_says_so() {
        let mut facts = all_good();
        facts.processes = None;
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        let f = findings.iter().find(|f| f.check == CheckId::ProcessSupervised).expect("a finding");
        assert_eq!((f.status, &f.subject), (Status::Skip, &Subject::Host));
    }

    #[test]
    fn what_cannot_be_read_is_an_error_not_a_pass() {
        let mut facts = processes();
        let scan = scan_mut(&mut facts);
        scan.unreadable = Some("3 process(es) could not be read, first /proc/77: Permission denied".into());
        scan.unattributed = Some(crate::facts::UnattributedSockets {
            sockets: vec![Listening { address: "0.0.0.0".into(), port: 8080 }],
            reason: "cannot read /proc/77/fd: Permission denied".into(),
        });
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        let host: Vec<&Finding> =
            findings.iter().filter(|f| f.subject == Subject::Host && f.check == CheckId::ProcessSupervised).collect();
        assert_eq!(host.len(), 2, "{host:#?}");
        assert!(host.iter().all(|f| f.status == Status::Error));
        assert!(host.iter().any(|f| f.message.contains("0.0.0.0:8080") && f.message.contains("run bootproof as root")));
    }

    #[test]
    fn inside_an_app_container_the_runtime_decides() {
        let mut facts = processes();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/containers/docker-node");
        facts.host.container = Some(container::read(&root));
        assert!(seen(&facts).is_empty(), "a container's processes are not remembered: nothing predicts them");
        let judgement = evaluate(&facts, &CheckConfig::default());
        let host = judgement.findings.iter().find(|f| f.check == CheckId::HostState).expect("host.state");
        assert_finding(
            host,
            Status::Skip,
            "inside a docker container (/.dockerenv; PID 1 is node server.js, not systemd)",
        );
        let findings = &judgement.findings;
        // The servers descend from PID 1 there: the container's restart policy decides.
        assert_finding(supervised(findings, "server.js 39430"), Status::Skip, "restart policy");
        assert!(judgement.predictions.iter().all(|p| !matches!(p.subject, Subject::Process(_))));
    }

    #[test]
    fn a_development_supervisor_in_a_stopped_units_exec_start_warns() {
        let mut facts = all_good();
        let service = service_mut(&mut facts.units[0]);
        service.processes = Fact::Ok(Vec::new());
        service.exec_start[0].argv = vec!["/usr/local/bin/nodemon".into(), "server.js".into()];
        let name = facts.units[0].name.clone();
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        let f = findings
            .iter()
            .find(|f| f.check == CheckId::ProcessDevSupervisor && f.subject == Subject::Unit(name.clone()))
            .expect("a finding");
        assert_finding(f, Status::Warn, "its ExecStart runs nodemon");
    }

    #[test]
    fn unit_names_come_from_the_script_and_stay_unique() {
        let facts = processes();
        let Some(Fact::Ok(scan)) = &facts.processes else { panic!("scanned") };
        let groups = groups(&facts, scan);
        let names = unit_names(&groups, &facts);
        assert!(
            names.iter().all(|n| n.starts_with("my-app") && n != "my-app"),
            "shared, so each gets its port: {names:?}"
        );
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }
}
