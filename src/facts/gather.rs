//! Discover the node services on this host and gather their facts into one [`Facts`].
//!
//! Discovery needs no configuration: every loaded `*.service` whose `ExecStart=`
//! runs node/nodejs/bun (see [`super::node`]), every unloaded unit file whose
//! `ExecStart=` line does (loaded with `LoadUnit` only then, so a host with
//! hundreds of unit files is not made to load them all), and every template
//! (`name@.service`) whose file does, with the instances the manager knows of.
//!
//! All D-Bus calls go over one connection and are issued concurrently per step;
//! local reads (stat, /proc, NSS) follow once the replies are in. Only a host we
//! cannot check at all (no system bus, no systemd on it, no unit list) aborts;
//! anything about one unit that cannot be read becomes a [`Fact::Error`].

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::{join, join_all};
use zbus::wire::OwnedObjectPath;

use super::files::{self, SYSTEMD_DEFAULT_PATH};
use super::model::{
    Account, EnvironmentFile, ExecCommand, FACTS_SCHEMA, Fact, Facts, HostFacts, ProcessFacts, RuntimeFacts,
    ServiceFacts, StartCondition, TemplateFacts, UnitFacts,
};
use super::node::{self, ExecKind, Locate, RuntimeUse};
use super::pm2::{
    self,
    discover::{is_pm2_unit_name, runs_pm2_resurrect},
};
use super::procfs::{self, BootClock};
use super::systemd::{ConditionLine, ExecLine, ServiceProperties, Systemd, SystemdError, UnitProperties};

/// zbus's system bus address when `DBUS_SYSTEM_BUS_ADDRESS` is not set.
const DEFAULT_SYSTEM_BUS: &str = "unix:path=/var/run/dbus/system_bus_socket";

/// Why the host could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatherError {
    /// The system bus cannot be reached (no socket, refused, no permission).
    #[error("{}", no_bus_sentence(
        "cannot reach the system bus at",
        .address,
        .reason,
        .pid1.as_deref(),
        "the D-Bus daemon (dbus.service) may not be running",
    ))]
    NoSystemBus {
        /// The bus address tried.
        address: String,
        /// Why the connection failed, in the OS's words.
        reason: String,
        /// The command name of PID 1, when readable.
        pid1: Option<String>,
    },
    /// The bus answers but the systemd manager on it does not.
    #[error("{}", no_bus_sentence(
        "systemd does not answer on the bus at",
        .address,
        .reason,
        .pid1.as_deref(),
        "this may not be the system bus (check DBUS_SYSTEM_BUS_ADDRESS)",
    ))]
    NoSystemd {
        /// The bus address used.
        address: String,
        /// What the bus said.
        reason: String,
        /// The command name of PID 1, when readable.
        pid1: Option<String>,
    },
    /// systemd answered but would not list its units, so nothing can be discovered.
    #[error("cannot list {what} from systemd")]
    Discover {
        /// What was being listed.
        what: &'static str,
        /// The failed call.
        #[source]
        source: SystemdError,
    },
}

/// One sentence for "systemd cannot be asked": what failed, why, and what PID 1 suggests.
/// `if_systemd` is the likelier cause when PID 1 is systemd after all.
fn no_bus_sentence(what: &str, address: &str, reason: &str, pid1: Option<&str>, if_systemd: &str) -> String {
    match pid1 {
        Some("systemd") => {
            format!("{what} {address} ({reason}); systemd is PID 1, so {if_systemd}")
        }
        Some(pid1) => {
            format!("{what} {address} ({reason}); systemd does not seem to be PID 1 on this host (PID 1 is \"{pid1}\")")
        }
        None => format!("{what} {address} ({reason})"),
    }
}

/// A zbus error's reason in plain words: an I/O error without std's `(os error N)`
/// (the address is said separately).
fn bus_reason(err: &zbus::Error) -> String {
    match err {
        zbus::Error::Connection(io, _) | zbus::Error::InputOutput(io) => files::os_message(io),
        other => other.to_string(),
    }
}

/// Discovers the node services and PM2 homes and gathers everything bootproof judges,
/// with PM2 homes the caller names (the check file's `[[pm2]] home`s) gathered even
/// when nothing else points at them. With no check file both lists are empty: zero
/// configuration is discovery alone.
///
/// `expected_units` (the check file's `[[unit]]` names) are gathered whatever they run:
/// an operator who lists `nginx.service` wants it judged, and a listed unit that does
/// not exist is judged as such (LoadState=not-found) rather than left out.
pub(crate) async fn gather_with(extra_pm2_homes: &[String], expected_units: &[String]) -> Result<Facts, GatherError> {
    let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|_| DEFAULT_SYSTEM_BUS.to_owned());
    let systemd = Systemd::connect().await.map_err(|err| GatherError::NoSystemBus {
        // zbus names the address it tried; prefer that over our guess of its default.
        address: match &err {
            zbus::Error::Connection(_, tried) => tried.to_string(),
            _ => address.clone(),
        },
        reason: bus_reason(&err),
        pid1: procfs::pid1_name(),
    })?;
    // The first call doubles as the probe: a bus without systemd on it fails here.
    let system_state = systemd.system_state().await.map_err(|err| GatherError::NoSystemd {
        address,
        reason: match &err {
            SystemdError::Call { source, .. } => bus_reason(source),
            other => other.to_string(),
        },
        pid1: procfs::pid1_name(),
    })?;
    // PM2 homes found without systemd are gathered (their daemons asked) meanwhile.
    let ((host, services), (pm2_homes, daemons)) = join(
        join(host_facts(&systemd, system_state), discover_and_gather(&systemd, expected_units)),
        pm2::home::gather_local(extra_pm2_homes),
    )
    .await;
    let Discovered { mut units, templates, mut pm2_units } = services?;
    let split = units.len();
    units.append(&mut pm2_units);
    let chains = boot_chains(&systemd, &units, &host.boot_targets).await;
    for (unit, chain) in units.iter_mut().zip(chains) {
        unit.boot_chain = chain;
    }
    let pm2_units = units.split_off(split);
    let pm2 = pm2::home::with_units(pm2_homes, &daemons, pm2_units).await;
    Ok(Facts {
        schema: FACTS_SCHEMA.to_owned(),
        gathered_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        host,
        units,
        templates,
        // Filled in by the caller from the state file it was pointed at.
        previous_boot: Fact::Ok(None),
        pm2,
        // Probed alongside, by the caller that knows the check file's endpoints.
        http: Vec::new(),
    })
}

/// Only what needs no systemd: host identity from /proc and the PM2 homes found without
/// units. For hosts (and tests) where systemd cannot be asked; everything systemd
/// would have said is an error fact saying so.
pub(crate) async fn gather_without_systemd(extra_pm2_homes: &[String]) -> Facts {
    fn not_asked<T>() -> Fact<T> {
        Fact::Error("not gathered: systemd was not asked".to_owned())
    }
    let (pm2_homes, daemons) = pm2::home::gather_local(extra_pm2_homes).await;
    Facts {
        schema: FACTS_SCHEMA.to_owned(),
        gathered_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        host: HostFacts {
            hostname: procfs::hostname(),
            boot_id: procfs::boot_id(),
            booted_at: not_asked(),
            system_state: not_asked(),
            failed_units: not_asked(),
            default_target: not_asked(),
            boot_targets: not_asked(),
        },
        units: Vec::new(),
        templates: Vec::new(),
        previous_boot: Fact::Ok(None),
        pm2: pm2::home::with_units(pm2_homes, &daemons, Vec::new()).await,
        http: Vec::new(),
    }
}

/// RFC 3339 UTC for a systemd timestamp (µs since the epoch); `None` for 0 (never).
fn usec_to_rfc3339(usec: u64) -> Option<String> {
    (usec != 0).then(|| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_micros(usec)).to_string())
}

/// Host identity, boot and manager state; each part independently fallible.
async fn host_facts(systemd: &Systemd, system_state: String) -> HostFacts {
    let booted_at = async {
        match systemd.userspace_timestamp().await {
            Ok(usec) => usec_to_rfc3339(usec)
                .map_or_else(|| Fact::Error("systemd reports no userspace start time".to_owned()), Fact::Ok),
            Err(err) => Fact::Error(err.to_string()),
        }
    };
    let targets = async {
        match systemd.default_target().await {
            Ok(default) => {
                let reachable = Fact::from_result(boot_targets(systemd, &default).await);
                (Fact::Ok(default), reachable)
            }
            Err(err) => (Fact::Error(err.to_string()), Fact::Error(format!("no default target: {err}"))),
        }
    };
    let failed = async { Fact::from_result(systemd.failed_units().await) };
    let (booted_at, ((default_target, boot_targets), failed_units)) = join(booted_at, join(targets, failed)).await;
    HostFacts {
        hostname: procfs::hostname(),
        boot_id: procfs::boot_id(),
        booted_at,
        system_state: Fact::Ok(system_state),
        failed_units,
        default_target,
        boot_targets,
    }
}

/// The default target and every target it pulls in through `Wants`/`Requires`,
/// breadth-first, one concurrent round of calls per level.
async fn boot_targets(systemd: &Systemd, default_target: &str) -> Result<Vec<String>, SystemdError> {
    let mut seen: HashSet<String> = HashSet::from([default_target.to_owned()]);
    let mut order = vec![default_target.to_owned()];
    let mut level = vec![default_target.to_owned()];
    while !level.is_empty() {
        let pulled = join_all(level.iter().map(|target| systemd.pulled_in_by(target))).await;
        let mut next = Vec::new();
        for names in pulled {
            for name in names? {
                if name.ends_with(".target") && seen.insert(name.clone()) {
                    next.push(name);
                }
            }
        }
        // systemd lists dependencies in hash order; sort so two runs compare equal.
        next.sort();
        order.extend(next.iter().cloned());
        level = next;
    }
    Ok(order)
}

/// How far up `boot_chains` walks from a node unit before giving up: deeper chains of
/// services wanting services are not something operators build.
const BOOT_CHAIN_DEPTH: usize = 8;

/// For each unit, the chain by which a boot target pulls it in (see
/// `UnitFacts::boot_chain`): walks up the units that want, require, uphold or bind
/// each one, breadth-first, one concurrent round of calls per level for all units at
/// once, at most [`BOOT_CHAIN_DEPTH`] levels.
async fn boot_chains(
    systemd: &Systemd,
    units: &[UnitFacts],
    boot_targets: &Fact<Vec<String>>,
) -> Vec<Fact<Vec<String>>> {
    let boot_targets: HashSet<&str> = match boot_targets {
        Fact::Ok(targets) => targets.iter().map(String::as_str).collect(),
        Fact::Error(reason) => {
            let reason = format!("the boot targets could not be read: {reason}");
            return units.iter().map(|_| Fact::Error(reason.clone())).collect();
        }
    };
    // name → the units that pull it in; fetched level by level for every unit at once.
    let mut pulled_from: HashMap<String, Result<Vec<String>, String>> = HashMap::new();
    let mut level: Vec<String> = units.iter().map(|unit| unit.name.clone()).collect();
    for _ in 0..BOOT_CHAIN_DEPTH {
        level.retain(|name| !boot_targets.contains(name.as_str()) && !pulled_from.contains_key(name));
        level.sort();
        level.dedup();
        if level.is_empty() {
            break;
        }
        let replies = join_all(level.iter().map(|name| systemd.pulled_in_from(name))).await;
        let mut next = Vec::new();
        for (name, reply) in level.drain(..).zip(replies) {
            let reply = reply.map_err(|err| err.to_string());
            if let Ok(from) = &reply {
                next.extend(from.iter().cloned());
            }
            pulled_from.insert(name, reply);
        }
        level = next;
    }
    units.iter().map(|unit| chain_to(&unit.name, &pulled_from, &boot_targets)).collect()
}

/// The shortest chain from a boot target down to (not including) `unit` through
/// `pulled_from`, as [`boot_chains`] describes it; empty when there is none. An error
/// only when no chain was found and some link on the way could not be read.
fn chain_to(
    unit: &str,
    pulled_from: &HashMap<String, Result<Vec<String>, String>>,
    boot_targets: &HashSet<&str>,
) -> Fact<Vec<String>> {
    // Breadth-first upwards; `below[x]` is the unit x pulls in on the way to `unit`.
    let mut below: HashMap<&str, &str> = HashMap::new();
    let mut level = vec![unit];
    let mut unreadable = None;
    while !level.is_empty() {
        let mut next = Vec::new();
        for name in level {
            let from = match pulled_from.get(name) {
                Some(Ok(from)) => from,
                Some(Err(reason)) => {
                    unreadable.get_or_insert_with(|| format!("cannot read what pulls in {name}: {reason}"));
                    continue;
                }
                // Beyond the depth walked.
                None => continue,
            };
            for wanter in from {
                if wanter == unit || below.contains_key(wanter.as_str()) {
                    continue;
                }
                below.insert(wanter, name);
                if boot_targets.contains(wanter.as_str()) {
                    let mut chain = vec![wanter.clone()];
                    let mut at = name;
                    while at != unit {
                        chain.push(at.to_owned());
                        at = below.get(at).copied().unwrap_or(unit);
                    }
                    return Fact::Ok(chain);
                }
                next.push(wanter.as_str());
            }
        }
        level = next;
    }
    match unreadable {
        Some(reason) => Fact::Error(reason),
        None => Fact::Ok(Vec::new()),
    }
}

/// A unit to gather, as discovery found it.
struct Candidate {
    /// Unit name.
    name: String,
    /// Its object, from `ListUnitsByPatterns` or `LoadUnit` (never built from the name).
    path: OwnedObjectPath,
    /// Found by reading its file rather than from systemd's parsed ExecStart: keep it
    /// even when it fails to load, drop it when the loaded unit turns out not to be
    /// what its file suggested.
    from_file_text: bool,
    /// A node service or a PM2 supervisor.
    kind: UnitKind,
}

/// What discovery is looking for in a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnitKind {
    /// A service whose ExecStart runs node/nodejs/bun.
    Node,
    /// A PM2 supervisor: `pm2-<user>.service`, or any unit running `pm2 resurrect`.
    /// Not a node service (see `node`): it starts the daemon and exits.
    Pm2,
}

/// What discovery found.
struct Discovered {
    /// Node services.
    units: Vec<UnitFacts>,
    /// Node templates.
    templates: Vec<TemplateFacts>,
    /// PM2 supervisor units, gathered like the node services.
    pm2_units: Vec<UnitFacts>,
}

/// Which kind of unit the commands make this, if any. Node wins: a `pm2-*` unit that
/// runs `pm2-runtime` or node directly is a node service.
fn unit_kind(name: &str, runs_node: bool, commands: &[(String, Vec<String>)]) -> Option<UnitKind> {
    if runs_node {
        return Some(UnitKind::Node);
    }
    if is_pm2_unit_name(name) || commands.iter().any(|(path, argv)| runs_pm2_resurrect(path, argv)) {
        return Some(UnitKind::Pm2);
    }
    None
}

/// The (path, argv) pairs of parsed ExecStart lines.
fn command_pairs(lines: &[ExecLine]) -> Vec<(String, Vec<String>)> {
    lines.iter().map(|line| (line.path.clone(), line.argv.clone())).collect()
}

/// The (path, argv) pairs of a unit file's own ExecStart lines.
fn file_command_pairs(text: &str) -> Vec<(String, Vec<String>)> {
    node::unit_file_exec_starts(text).into_iter().filter_map(|argv| Some((argv.first()?.clone(), argv))).collect()
}

/// Reads scripts' `#!` lines once per run.
#[derive(Default)]
struct Shebangs(HashMap<String, Option<String>>);

impl Shebangs {
    /// The `#!` line of `path`, when it is a readable script. Only absolute paths
    /// are read: a relative one is relative to the service, not to us.
    fn line(&mut self, path: &str) -> Option<String> {
        if !path.starts_with('/') {
            return None;
        }
        self.0.entry(path.to_owned()).or_insert_with(|| files::read_shebang(path).ok().flatten()).clone()
    }

    /// The runtime a command uses, following a script's `#!` line.
    fn runtime_of(&mut self, path: &str, argv: &[String]) -> Option<RuntimeUse> {
        match node::classify_exec(path, argv) {
            ExecKind::Runtime(runtime) => Some(runtime),
            ExecKind::Script(script) => match node::classify_shebang(&script, &self.line(&script)?) {
                ExecKind::Runtime(runtime) => Some(runtime),
                _ => None,
            },
            ExecKind::Pm2Cli | ExecKind::Other => None,
        }
    }

    /// Whether any of the commands runs node.
    fn runs_node(&mut self, commands: &[ExecLine]) -> bool {
        commands.iter().any(|line| self.runtime_of(&line.path, &line.argv).is_some())
    }

    /// Whether a unit file's own `ExecStart=` lines run node.
    fn file_runs_node(&mut self, text: &str) -> bool {
        node::unit_file_exec_starts(text)
            .iter()
            .any(|argv| argv.first().is_some_and(|path| self.runtime_of(path, argv).is_some()))
    }
}

/// Discovers node services, templates and PM2 supervisor units, then gathers each
/// unit's facts.
async fn discover_and_gather(systemd: &Systemd, expected_units: &[String]) -> Result<Discovered, GatherError> {
    let (listed, unit_path) = join(systemd.list_units(&["*.service"]), systemd.unit_path()).await;
    let listed = listed.map_err(|source| GatherError::Discover { what: "service units", source })?;
    let unit_path = unit_path.map_err(|source| GatherError::Discover { what: "the unit file search path", source })?;
    let mut shebangs = Shebangs::default();

    // Loaded services: systemd has parsed their ExecStart, ask for just that.
    let loaded: Vec<_> = listed.iter().filter(|unit| unit.load_state == "loaded").collect();
    let exec_starts = join_all(loaded.iter().map(|unit| systemd.exec_start(&unit.path))).await;
    let mut candidates: Vec<Candidate> = Vec::new();
    for (unit, exec_start) in loaded.iter().zip(exec_starts) {
        // A service whose ExecStart cannot be read cannot be told to run node; a
        // `pm2-<user>` unit is still a PM2 supervisor by its name.
        let (runs_node, commands) = match exec_start {
            Ok(lines) => (shebangs.runs_node(&lines), command_pairs(&lines)),
            Err(_) => (false, Vec::new()),
        };
        if let Some(kind) = unit_kind(&unit.name, runs_node, &commands) {
            candidates.push(Candidate {
                name: unit.name.clone(),
                path: unit.path.clone(),
                from_file_text: false,
                kind,
            });
        }
    }

    // Unit files systemd has not loaded (or failed to load), and templates: read the text.
    let loaded_names: HashSet<&str> = loaded.iter().map(|unit| unit.name.as_str()).collect();
    let mut template_files = Vec::new();
    let mut to_load: Vec<(String, UnitKind)> = Vec::new();
    for file in files::unit_files(&unit_path, ".service") {
        let is_template = file.name.ends_with("@.service");
        if !is_template && loaded_names.contains(file.name.as_str()) {
            continue;
        }
        let Ok(text) = files::read_unit_text(&file.path) else {
            continue;
        };
        let runs_node = shebangs.file_runs_node(&text);
        if is_template {
            if runs_node {
                template_files.push(file);
            }
            continue;
        }
        if let Some(kind) = unit_kind(&file.name, runs_node, &file_command_pairs(&text)) {
            to_load.push((file.name, kind));
        }
    }
    // Masked units: what they would run is in the file the mask hides. Loading them
    // (LoadState=masked) lets the invariants say so instead of leaving them out.
    for file in files::masked_unit_files(&unit_path, ".service") {
        if file.name.ends_with("@.service") || to_load.iter().any(|(name, _)| *name == file.name) {
            continue;
        }
        let Ok(text) = files::read_unit_text(&file.path) else {
            continue;
        };
        let runs_node = shebangs.file_runs_node(&text);
        if let Some(kind) = unit_kind(&file.name, runs_node, &file_command_pairs(&text)) {
            to_load.push((file.name, kind));
        }
    }
    let template_states = join_all(template_files.iter().map(|file| systemd.unit_file_state(&file.name))).await;
    let mut templates: Vec<TemplateFacts> = template_files
        .into_iter()
        .zip(template_states)
        .map(|(file, state)| TemplateFacts {
            instances: template_instances(&file.name, listed.iter().map(|unit| unit.name.as_str())),
            // The model keeps this as a plain string; a failed lookup says why in it.
            unit_file_state: state.unwrap_or_else(|err| format!("error: {err}")),
            fragment_path: Some(file.path),
            name: file.name,
        })
        .collect();
    let loaded_now = join_all(to_load.iter().map(|(name, _)| systemd.load_unit(name))).await;
    for ((name, kind), path) in to_load.into_iter().zip(loaded_now) {
        // LoadUnit only fails for an invalid name or a refused call; nothing to gather then.
        if let Ok(path) = path {
            candidates.push(Candidate { name, path, from_file_text: true, kind });
        }
    }

    // Units the check file expects, whatever they run (not already found above).
    let expected: Vec<&String> =
        expected_units.iter().filter(|name| !candidates.iter().any(|c| &c.name == *name)).collect();
    let expected_paths = join_all(expected.iter().map(|name| systemd.load_unit(name))).await;
    for (name, path) in expected.into_iter().zip(expected_paths) {
        if let Ok(path) = path {
            candidates.push(Candidate { name: name.clone(), path, from_file_text: false, kind: UnitKind::Node });
        }
    }

    let mut seen_paths = HashSet::new();
    candidates.retain(|candidate| seen_paths.insert(candidate.path.clone()));
    let properties = join_all(candidates.iter().map(|candidate| systemd.service_unit(&candidate.path))).await;

    let mut local = LocalReader::new();
    let mut units = Vec::new();
    let mut pm2_units = Vec::new();
    for (candidate, (unit, service)) in candidates.iter().zip(properties) {
        if candidate.from_file_text {
            let loaded_ok = unit.as_ref().is_ok_and(|unit| unit.load_state == "loaded");
            let (runs_node, commands) = match &service {
                Ok(service) => (shebangs.runs_node(&service.exec_start), command_pairs(&service.exec_start)),
                Err(_) => (false, Vec::new()),
            };
            // The text looked like node (or pm2) but systemd's parse says otherwise (a
            // drop-in replaced ExecStart, say): not what the file suggested after all.
            if loaded_ok && unit_kind(&candidate.name, runs_node, &commands) != Some(candidate.kind) {
                continue;
            }
        }
        let facts = local.unit_facts(&candidate.name, unit, service, &mut shebangs);
        match candidate.kind {
            UnitKind::Node => units.push(facts),
            UnitKind::Pm2 => pm2_units.push(facts),
        }
    }
    units.sort_by(|a, b| a.name.cmp(&b.name));
    pm2_units.sort_by(|a, b| a.name.cmp(&b.name));
    templates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Discovered { units, templates, pm2_units })
}

/// The instances of a template among unit names: `my-app@.service` → `my-app@3000.service`, …
fn template_instances<'a>(template: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let Some(prefix) = template.strip_suffix(".service").and_then(|t| t.strip_suffix('@')) else {
        return Vec::new();
    };
    let mut instances: Vec<String> = names
        .filter(|name| {
            split_instance(name)
                .is_some_and(|(template_name, _)| template_name.strip_suffix("@.service") == Some(prefix))
        })
        .map(str::to_owned)
        .collect();
    instances.sort();
    instances.dedup();
    instances
}

/// Splits an instance name: `my-app@3000.service` → (`my-app@.service`, `3000`).
/// `None` for a plain unit or the template itself.
fn split_instance(name: &str) -> Option<(String, String)> {
    let (prefix, rest) = name.split_once('@')?;
    let (instance, suffix) = rest.rsplit_once('.')?;
    if instance.is_empty() {
        return None;
    }
    Some((format!("{prefix}@.{suffix}"), instance.to_owned()))
}

/// The PATH a service's `env` searches: its last `Environment=PATH=…`, else systemd's default.
fn unit_search_path(environment: &[String]) -> String {
    environment
        .iter()
        .rev()
        .find_map(|assignment| assignment.strip_prefix("PATH="))
        .unwrap_or(SYSTEMD_DEFAULT_PATH)
        .to_owned()
}

/// Local reads for gathered units: files, /proc and accounts, with per-run caches.
struct LocalReader {
    /// Turns process start ticks into wall-clock time.
    clock: Option<BootClock>,
    /// uid → login name, so each uid costs one NSS lookup.
    user_names: HashMap<u32, Option<String>>,
}

impl LocalReader {
    /// A reader with empty caches.
    fn new() -> LocalReader {
        LocalReader { clock: BootClock::read(), user_names: HashMap::new() }
    }

    /// Builds one unit's facts from its properties and what they point at.
    fn unit_facts(
        &mut self,
        name: &str,
        unit: Result<UnitProperties, SystemdError>,
        service: Result<ServiceProperties, SystemdError>,
        shebangs: &mut Shebangs,
    ) -> UnitFacts {
        let (template, instance) = split_instance(name).map_or((None, None), |(t, i)| (Some(t), Some(i)));
        let service = match service {
            Ok(service) => Fact::Ok(self.service_facts(service, shebangs)),
            Err(err) => Fact::Error(err.to_string()),
        };
        match unit {
            Ok(unit) => UnitFacts {
                name: name.to_owned(),
                template,
                instance,
                load_state: unit.load_state,
                load_error: unit.load_error,
                fragment_file: unit.fragment_path.as_deref().map(files::stat_file),
                fragment_path: unit.fragment_path,
                drop_in_paths: unit.drop_in_paths,
                need_daemon_reload: unit.need_daemon_reload,
                unit_file_state: unit.unit_file_state,
                wanted_by: unit.wanted_by,
                required_by: unit.required_by,
                // Filled in once every unit is known (see `boot_chains`).
                boot_chain: Fact::Ok(Vec::new()),
                conditions: unit.conditions.iter().map(start_condition).collect(),
                active_state: unit.active_state,
                sub_state: unit.sub_state,
                active_since: usec_to_rfc3339(unit.active_enter_usec),
                start_limit_burst: unit.start_limit_burst,
                start_limit_interval_usec: unit.start_limit_interval_usec,
                service,
            },
            // The model keeps unit properties as plain values; a unit whose properties
            // cannot be read says so through load_state "error" and the reason.
            Err(err) => UnitFacts {
                name: name.to_owned(),
                template,
                instance,
                load_state: "error".to_owned(),
                load_error: Some(format!("cannot read unit properties: {err}")),
                fragment_path: None,
                fragment_file: None,
                drop_in_paths: Vec::new(),
                need_daemon_reload: false,
                unit_file_state: String::new(),
                wanted_by: Vec::new(),
                required_by: Vec::new(),
                boot_chain: Fact::Ok(Vec::new()),
                conditions: Vec::new(),
                active_state: String::new(),
                sub_state: String::new(),
                active_since: None,
                start_limit_burst: 0,
                start_limit_interval_usec: 0,
                service,
            },
        }
    }

    /// Builds the service side: commands, files, account and processes.
    fn service_facts(&mut self, service: ServiceProperties, shebangs: &mut Shebangs) -> ServiceFacts {
        let search_path = unit_search_path(&service.environment);
        let commands = |lines: &[ExecLine], shebangs: &mut Shebangs| -> Vec<ExecCommand> {
            lines.iter().map(|line| exec_command(line, &search_path, shebangs)).collect()
        };
        let exec_start = commands(&service.exec_start, shebangs);
        let exec_start_pre = commands(&service.exec_start_pre, shebangs);
        let environment_files = service
            .environment_files
            .iter()
            .map(|(path, optional)| EnvironmentFile {
                path: path.clone(),
                optional: *optional,
                // Globs and specifiers are stat'ed as written: what is there under that name.
                file: files::stat_file(path),
            })
            .collect();
        ServiceFacts {
            account: account_fact(&service.user),
            processes: self.processes(&service.control_group),
            user: service.user,
            group: service.group,
            dynamic_user: service.dynamic_user,
            exec_start,
            exec_start_pre,
            environment: service.environment,
            environment_files,
            working_directory: service.working_directory,
            restart: service.restart,
            restart_usec: service.restart_usec,
            memory_max: service.memory_max,
            memory_high: service.memory_high,
            main_pid: service.main_pid,
            n_restarts: service.n_restarts,
            control_group: service.control_group,
            standard_output: service.standard_output,
            standard_error: service.standard_error,
        }
    }

    /// The processes in a unit's cgroup; processes that exit meanwhile are skipped.
    fn processes(&mut self, control_group: &str) -> Fact<Vec<ProcessFacts>> {
        let pids = match procfs::cgroup_pids(control_group) {
            Ok(pids) => pids,
            Err(err) => return Fact::Error(err.to_string()),
        };
        let clock = self.clock;
        let user_names = &mut self.user_names;
        let mut resolve = |uid: u32| user_names.entry(uid).or_insert_with(|| files::user_name(uid)).clone();
        let mut processes = Vec::new();
        for pid in pids {
            match procfs::read_process(pid, clock, &mut resolve) {
                Ok(Some(process)) => processes.push(process),
                Ok(None) => {}
                Err(err) => {
                    return Fact::Error(format!("cannot read process {pid}: {}", files::os_message(&err)));
                }
            }
        }
        Fact::Ok(processes)
    }
}

/// One command with what its binary and runtime are. A bare name (`ExecStart=node app.js`)
/// is what systemd finds on its own search path when it starts the unit (not the unit's
/// `Environment=PATH`); the runtime is then judged at the path found.
fn exec_command(line: &ExecLine, search_path: &str, shebangs: &mut Shebangs) -> ExecCommand {
    let binary_path = if line.path.contains('/') {
        line.path.clone()
    } else {
        files::find_on_path(&line.path, SYSTEMD_DEFAULT_PATH, files::is_executable_file)
            .unwrap_or_else(|| line.path.clone())
    };
    ExecCommand {
        path: line.path.clone(),
        argv: line.argv.clone(),
        ignore_failure: line.ignore_failure,
        binary: files::stat_file(&binary_path),
        runtime: shebangs.runtime_of(&binary_path, &line.argv).map(|runtime| runtime_facts(&runtime, search_path)),
    }
}

/// The path conditions bootproof can tell the outcome of from a `stat`.
const PATH_CONDITIONS: [&str; 4] = ["PathExists", "PathIsDirectory", "FileNotEmpty", "FileIsExecutable"];

/// A condition as gathered: path conditions get what is at their path.
fn start_condition(line: &ConditionLine) -> StartCondition {
    let test = line.kind.strip_prefix("Condition").or_else(|| line.kind.strip_prefix("Assert")).unwrap_or_default();
    StartCondition {
        kind: line.kind.clone(),
        trigger: line.trigger,
        negate: line.negate,
        parameter: line.parameter.clone(),
        file: PATH_CONDITIONS.contains(&test).then(|| files::stat_file(&line.parameter)),
    }
}

/// The account `User=` names (empty → root).
fn account_fact(user: &str) -> Fact<Option<Account>> {
    match files::lookup_user(user) {
        Ok(account) => Fact::Ok(account),
        Err(err) => Fact::Error(format!("cannot look up user {user:?}: {}", files::os_message(&err))),
    }
}

/// Where a command's runtime is on this host.
fn runtime_facts(runtime: &RuntimeUse, search_path: &str) -> RuntimeFacts {
    match &runtime.locate {
        Locate::At(path) => RuntimeFacts {
            program: runtime.program.to_owned(),
            via: runtime.via.as_str().to_owned(),
            search_path: None,
            resolved: Some(files::stat_file(path)),
        },
        Locate::OnPath(name) => RuntimeFacts {
            program: runtime.program.to_owned(),
            via: runtime.via.as_str().to_owned(),
            search_path: Some(search_path.to_owned()),
            resolved: files::find_on_path(name, search_path, files::is_executable_file)
                .map(|path| files::stat_file(&path)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bus_sentence_is_one_sentence() {
        let err = GatherError::NoSystemBus {
            address: "unix:path=/run/dbus/system_bus_socket".into(),
            reason: "No such file or directory".into(),
            pid1: Some("process_api".into()),
        };
        assert_eq!(
            err.to_string(),
            "cannot reach the system bus at unix:path=/run/dbus/system_bus_socket (No such file or directory); \
             systemd does not seem to be PID 1 on this host (PID 1 is \"process_api\")"
        );
    }

    #[test]
    fn instance_names_split() {
        assert_eq!(split_instance("my-app@3000.service"), Some(("my-app@.service".into(), "3000".into())));
        assert_eq!(split_instance("my-app@.service"), None);
        assert_eq!(split_instance("sshd.service"), None);
    }

    #[test]
    fn instances_of_a_template() {
        let names = ["my-app@3001.service", "my-app@3000.service", "my-app-worker@1.service", "my-app.service"];
        assert_eq!(
            template_instances("my-app@.service", names.into_iter()),
            vec!["my-app@3000.service", "my-app@3001.service"]
        );
    }

    #[test]
    fn search_path_from_environment() {
        assert_eq!(unit_search_path(&[]), SYSTEMD_DEFAULT_PATH);
        let env =
            vec!["PATH=/a".to_owned(), "NODE_ENV=production".to_owned(), "PATH=/home/u/.nvm/bin:/usr/bin".to_owned()];
        assert_eq!(unit_search_path(&env), "/home/u/.nvm/bin:/usr/bin");
    }

    #[test]
    fn boot_chains_go_through_services() {
        let pulled_from: HashMap<String, Result<Vec<String>, String>> = HashMap::from([
            ("sidecar.service".to_owned(), Ok(vec!["frontdoor.service".to_owned()])),
            ("frontdoor.service".to_owned(), Ok(vec!["multi-user.target".to_owned()])),
            ("manual.service".to_owned(), Ok(Vec::new())),
            ("hidden.service".to_owned(), Ok(vec!["locked.service".to_owned()])),
            ("locked.service".to_owned(), Err("access denied".to_owned())),
        ]);
        let targets = HashSet::from(["graphical.target", "multi-user.target"]);
        assert_eq!(
            chain_to("sidecar.service", &pulled_from, &targets),
            Fact::Ok(vec!["multi-user.target".to_owned(), "frontdoor.service".to_owned()])
        );
        assert_eq!(chain_to("manual.service", &pulled_from, &targets), Fact::Ok(Vec::new()));
        assert!(matches!(
            chain_to("hidden.service", &pulled_from, &targets),
            Fact::Error(reason) if reason.contains("locked.service")
        ));
    }

    #[test]
    fn timestamps() {
        assert_eq!(usec_to_rfc3339(0), None);
        assert_eq!(usec_to_rfc3339(1_700_000_000_500_000).as_deref(), Some("2023-11-14T22:13:20Z"));
    }
}
