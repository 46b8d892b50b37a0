//! Gathers this host's facts into one [`Facts`]: connects to systemd, discovers the units
//! worth judging (`discover`), reads them (`units`), works out what pulls each in at boot
//! (`boot_chain`), and gathers the PM2 homes (`pm2`) meanwhile.
//!
//! All D-Bus calls go over one connection and are issued concurrently per step; local
//! reads (stat, /proc, NSS) follow once the replies are in. Only a host that cannot be
//! checked at all (no system bus, no systemd on it, no unit list) aborts; anything about
//! one unit that cannot be read becomes a [`Fact::Error`] or an [`UnreadableUnit`].

use std::collections::HashMap;
use std::time::SystemTime;

use futures_util::future::{join, join_all};

use super::boot_chain::{boot_chains, boot_targets};
use super::container;
use super::discover::{self, DiscoverError, UnitKind};
use super::files;
use super::model::{ContainerFacts, FACTS_SCHEMA, Fact, Facts, HostFacts, TemplateFacts, UnitFacts, UnreadableUnit};
use super::pm2;
use super::processes::{self, NodeInUnit};
use super::procfs::{self, ProcessTable};
use super::states::SystemState;
use super::systemd::{ExecLine, Systemd, SystemdError};
use super::units::{LocalReader, usec_to_rfc3339};
use crate::timings::{span, timed};

/// What a run gathers, derived from the invariants it judges (see `invariants::needs`):
/// what no enabled invariant reads is not asked for at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The services: units (discovery, properties, boot chains, local reads), PM2 homes
    /// (files and `rpc.sock`), the /proc scan, and the boot targets. Without them only
    /// the host's state is asked.
    pub(crate) services: bool,
    /// The check file's health endpoints.
    pub(crate) probes: bool,
}

impl Needs {
    /// Everything: `facts`, `plan`, `init`, and a check judging every invariant.
    pub(crate) const ALL: Needs = Needs { services: true, probes: true };
}

/// Why a fact was not gathered: no invariant this run judges reads it.
pub(crate) const NOT_NEEDED: &str = "not gathered: no invariant this run judges needs it";

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
    #[error(transparent)]
    Discover(#[from] DiscoverError),
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
/// when nothing else points at them, and the units it names (`[[unit]]`) whatever they
/// run. With no check file both lists are empty: zero configuration is discovery alone.
///
/// Inside an app container (a container whose PID 1 is not systemd: see
/// `facts::container`) there is no systemd to ask: what needs none is gathered, and the
/// facts say where they were gathered.
///
/// Without `needs.services` only the host's state is asked: no unit, PM2 home or process
/// is read, and the facts say so (empty lists, the process scan an error fact).
pub(crate) async fn gather_with(
    extra_pm2_homes: &[String],
    expected_units: &[String],
    needs: Needs,
) -> Result<Facts, GatherError> {
    let container = container::read(std::path::Path::new("/"));
    if let Some(app) = container.app_container() {
        let reason = format!("not asked: {}", app.describe(&container));
        return Ok(gather_without_systemd(extra_pm2_homes, &reason, needs).await);
    }
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
    let system_state =
        timed("dbus: SystemState", systemd.system_state()).await.map_err(|err| GatherError::NoSystemd {
            address,
            reason: match &err {
                SystemdError::Call { source, .. } => bus_reason(source),
                other => other.to_string(),
            },
            pid1: procfs::pid1_name(),
        })?;
    if !needs.services {
        let mut host = timed("dbus: host", host_facts(&systemd, system_state, false)).await;
        host.container = Some(container);
        return Ok(Facts {
            schema: FACTS_SCHEMA.to_owned(),
            gathered_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            host,
            units: Vec::new(),
            templates: Vec::new(),
            previous_boot: Fact::Ok(None),
            pm2: Vec::new(),
            unreadable: Vec::new(),
            http: Vec::new(),
            processes: Some(Fact::Error(NOT_NEEDED.to_owned())),
        });
    }
    // The run's one pass over /proc, which discovery, the units and PM2 all read: on a
    // thread of its own (it is blocking reads and parsing), while discovery's first D-Bus
    // calls and the host's are in flight on this one.
    let scan = tokio::task::spawn_blocking(|| {
        let _span = span("/proc scan (own thread)");
        ProcessTable::scan()
    });
    let after_scan = async {
        let listing = timed("dbus: list units", discover::list(&systemd)).await;
        // The unit files are read on another thread while the ExecStarts are asked for.
        let (found, table) = match listing {
            Ok(listing) => {
                let ((exec_starts, file_scan), table) = join(
                    join(
                        timed("dbus: ExecStart of every loaded service", discover::exec_starts(&systemd, &listing)),
                        discover::UnitFileScan::read_aside(&listing),
                    ),
                    scanned(scan),
                )
                .await;
                (Ok((listing, exec_starts, file_scan)), table)
            }
            Err(err) => (Err(err), scanned(scan).await),
        };
        let node_units = processes::node_units(&table);
        // PM2 homes found without systemd are gathered (their daemons asked) meanwhile.
        let (services, (pm2_homes, daemons)) = join(
            timed("units (discovery, properties, local reads)", async {
                services(&systemd, found?, expected_units, &table, &node_units).await
            }),
            timed("pm2: homes and daemons (rpc.sock)", pm2::home::gather_local(extra_pm2_homes, &table)),
        )
        .await;
        (table, services, pm2_homes, daemons)
    };
    let (mut host, (table, services, pm2_homes, daemons)) =
        join(timed("dbus: host", host_facts(&systemd, system_state, true)), after_scan).await;
    host.container = Some(container);
    let Services { mut units, templates, mut pm2_units, unreadable, pulled_in_from } = services?;
    let split = units.len();
    units.append(&mut pm2_units);
    let chains = timed("dbus: boot chains", boot_chains(&systemd, &units, &host.boot_targets, pulled_in_from)).await;
    for (unit, chain) in units.iter_mut().zip(chains) {
        unit.boot_chain = chain;
    }
    let pm2_units = units.split_off(split);
    let pm2 = timed("pm2: homes of units", pm2::home::with_units(pm2_homes, &daemons, pm2_units, &table)).await;
    let scan = {
        let _span = span("processes outside units");
        processes::scan_facts(&table)
    };
    Ok(Facts {
        schema: FACTS_SCHEMA.to_owned(),
        gathered_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        host,
        units,
        templates,
        // Filled in by the caller from the state file it was pointed at.
        previous_boot: Fact::Ok(None),
        pm2,
        unreadable,
        // Probed alongside, by the caller that knows the check file's endpoints.
        http: Vec::new(),
        processes: Some(Fact::Ok(scan)),
    })
}

/// What discovery's first steps found: the listing, the loaded services' ExecStart, the
/// unit files on disk.
type Found = (discover::Listing, Vec<Result<Vec<ExecLine>, SystemdError>>, discover::UnitFileScan);

/// The process table from the scanning thread (scanned here, should that thread fail).
async fn scanned(scan: tokio::task::JoinHandle<ProcessTable>) -> ProcessTable {
    scan.await.unwrap_or_else(|_| ProcessTable::scan())
}

/// The units discovery found, read.
struct Services {
    /// Node services (and units the check file names).
    units: Vec<UnitFacts>,
    /// Node templates.
    templates: Vec<TemplateFacts>,
    /// PM2 supervisor units, gathered like the node services.
    pm2_units: Vec<UnitFacts>,
    /// Units that could not be told about.
    unreadable: Vec<UnreadableUnit>,
    /// What pulls in each unit read, from its properties: the boot chains' first step.
    pulled_in_from: HashMap<String, Vec<String>>,
}

/// Discovers the units worth judging and reads them: both property sets of every unit
/// in one concurrent round, then the local reads.
async fn services(
    systemd: &Systemd,
    (listing, exec_starts, file_scan): Found,
    expected_units: &[String],
    table: &ProcessTable,
    node_units: &std::collections::BTreeMap<String, NodeInUnit>,
) -> Result<Services, DiscoverError> {
    let (discovery, mut scripts) = timed(
        "dbus: discovery (templates, units to load)",
        discover::discover(systemd, listing, exec_starts, file_scan, expected_units, node_units),
    )
    .await?;
    let replies = timed(
        "dbus: unit properties (GetAll)",
        join_all(discovery.candidates.iter().map(|candidate| systemd.service_unit(&candidate.path))),
    )
    .await;
    let kept: Vec<_> = discovery
        .candidates
        .iter()
        .zip(replies)
        .filter(|(candidate, (unit, service))| candidate.still_wanted(unit, service, &mut scripts))
        .collect();
    let _span = span("units: local reads (files, NSS, /proc)");
    let mut reader = LocalReader::new(&mut scripts, &discovery.unit_path, table);
    let mut units = Vec::new();
    let mut pm2_units = Vec::new();
    let mut pulled_in_from = HashMap::new();
    for (candidate, (unit, service)) in kept {
        if let Ok(reply) = &unit {
            pulled_in_from.insert(candidate.name.clone(), reply.pulled_in_from.clone());
        }
        let mut facts = reader.unit_facts(&candidate.name, unit, service);
        facts.node_running = candidate.node_running.clone();
        match candidate.kind {
            UnitKind::Node => units.push(facts),
            UnitKind::Pm2 => pm2_units.push(facts),
        }
    }
    units.sort_by(|a, b| a.name.cmp(&b.name));
    pm2_units.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Services { units, templates: discovery.templates, pm2_units, unreadable: discovery.unreadable, pulled_in_from })
}

/// Only what needs no systemd: host identity from /proc, the PM2 homes found without
/// units, and the processes. For app containers (and tests) where systemd cannot be
/// asked; everything systemd would have said is an error fact saying `why`.
pub(crate) async fn gather_without_systemd(extra_pm2_homes: &[String], why: &str, needs: Needs) -> Facts {
    fn not_asked<T>(why: &str) -> Fact<T> {
        Fact::Error(why.to_owned())
    }
    let (pm2, processes) = if needs.services {
        let table = ProcessTable::scan();
        let (pm2_homes, daemons) = pm2::home::gather_local(extra_pm2_homes, &table).await;
        let pm2 = pm2::home::with_units(pm2_homes, &daemons, Vec::new(), &table).await;
        (pm2, Fact::Ok(processes::scan_facts(&table)))
    } else {
        (Vec::new(), Fact::Error(NOT_NEEDED.to_owned()))
    };
    Facts {
        schema: FACTS_SCHEMA.to_owned(),
        gathered_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        host: HostFacts {
            hostname: procfs::hostname(),
            boot_id: procfs::boot_id(),
            booted_at: not_asked(why),
            system_state: not_asked(why),
            failed_units: not_asked(why),
            default_target: not_asked(why),
            boot_targets: not_asked(why),
            container: Some(container::read(std::path::Path::new("/"))),
        },
        units: Vec::new(),
        templates: Vec::new(),
        previous_boot: Fact::Ok(None),
        pm2,
        unreadable: Vec::new(),
        http: Vec::new(),
        processes: Some(processes),
    }
}

/// Host identity, boot and manager state; each part independently fallible. The boot
/// targets (a walk of the default target's dependencies) only `with_boot_targets`: only
/// the units' invariants read them.
async fn host_facts(systemd: &Systemd, system_state: SystemState, with_boot_targets: bool) -> HostFacts {
    let booted_at = async {
        match systemd.userspace_timestamp().await {
            Ok(usec) => usec_to_rfc3339(usec)
                .map_or_else(|| Fact::Error("systemd reports no userspace start time".to_owned()), Fact::Ok),
            Err(err) => Fact::Error(err.to_string()),
        }
    };
    let targets = async {
        if !with_boot_targets {
            return (Fact::Error(NOT_NEEDED.to_owned()), Fact::Error(NOT_NEEDED.to_owned()));
        }
        match systemd.default_target().await {
            Ok(default) => {
                let reachable =
                    Fact::from_result(timed("dbus: boot targets walk", boot_targets(systemd, &default)).await);
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
        // Read before systemd was asked (see `gather_with`).
        container: None::<ContainerFacts>,
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
}
