//! Which units are worth gathering: every loaded `*.service` whose `ExecStart=` runs
//! node/nodejs/bun (see [`super::node`]) or starts a PM2 home, every unloaded or masked
//! unit file whose `ExecStart=` line does (loaded with `LoadUnit` only then, so a host
//! with hundreds of unit files is not made to load them all), every template
//! (`name@.service`) whose file does, with the instances the manager knows of, and every
//! unit the check file names.
//!
//! What cannot be told — an `ExecStart` systemd will not give, a unit file that cannot
//! be read, a unit `LoadUnit` refuses — is recorded as an [`UnreadableUnit`], never
//! silently taken to be "not node".

use std::collections::{BTreeMap, HashSet};

use futures_util::future::{join, join_all};
use zbus::wire::OwnedObjectPath;

use super::files;
use super::model::{Fact, NodeRunning, TemplateFacts, UnreadableUnit};
use super::pm2::discover::{is_pm2_unit_name, runs_pm2_resurrect};
use super::processes::NodeInUnit;
use super::states::LoadState;
use super::systemd::{ExecLine, ListedUnit, ServiceReply, Systemd, SystemdError, UnitReply};
use super::unit_file::{self, split_instance};
use super::units::Scripts;

/// systemd answered but would not list what discovery starts from.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {what} from systemd")]
pub(crate) struct DiscoverError {
    /// What was being listed.
    what: &'static str,
    /// The failed call.
    #[source]
    source: SystemdError,
}

/// A unit to gather, as discovery found it.
pub(crate) struct Candidate {
    /// Unit name.
    pub(crate) name: String,
    /// Its object, from `ListUnitsByPatterns` or `LoadUnit` (never built from the name).
    pub(crate) path: OwnedObjectPath,
    /// Found by reading its file rather than from systemd's parsed ExecStart: keep it
    /// even when it fails to load, drop it when the loaded unit turns out not to be
    /// what its file suggested (see [`Candidate::still_wanted`]).
    from_file_text: bool,
    /// A node service or a PM2 supervisor.
    pub(crate) kind: UnitKind,
    /// Found only because a node process runs in its cgroup: that process.
    pub(crate) node_running: Option<NodeRunning>,
}

/// What discovery is looking for in a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnitKind {
    /// A service whose ExecStart runs node/nodejs/bun (or one the check file names).
    Node,
    /// A PM2 supervisor: `pm2-<user>.service`, or any unit running `pm2 resurrect`.
    /// Not a node service (see `node`): it starts the daemon and exits.
    Pm2,
}

/// What discovery found.
pub(crate) struct Discovery {
    /// The units to gather, each once.
    pub(crate) candidates: Vec<Candidate>,
    /// Node templates, with their instances and enablement.
    pub(crate) templates: Vec<TemplateFacts>,
    /// Units that could not be told about.
    pub(crate) unreadable: Vec<UnreadableUnit>,
    /// The manager's unit file search path (`UnitPath`), highest priority first.
    pub(crate) unit_path: Vec<String>,
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

/// The (path, argv) pairs of a unit file's own ExecStart lines. Used to decide whether
/// an unloaded unit file is worth loading; systemd's own parse is what counts after.
fn file_command_pairs(text: &str) -> Vec<(String, Vec<String>)> {
    command_pairs(&unit_file::settings([text]).exec_start)
}

impl Candidate {
    /// Whether a candidate found from its file's text is still what the file suggested,
    /// now that systemd has loaded it: a drop-in may have replaced ExecStart. One that
    /// did not load, or whose properties could not be read, is kept (and judged so).
    pub(crate) fn still_wanted(
        &self,
        unit: &Result<UnitReply, SystemdError>,
        service: &Result<ServiceReply, SystemdError>,
        scripts: &mut Scripts,
    ) -> bool {
        if !self.from_file_text {
            return true;
        }
        let loaded = unit.as_ref().is_ok_and(|unit| unit.load_state == LoadState::Loaded);
        let Ok(service) = service else { return true };
        !loaded
            || unit_kind(&self.name, scripts.runs_node(&service.exec_start), &command_pairs(&service.exec_start))
                == Some(self.kind)
    }
}

/// What discovery asks systemd first: the service units and the unit file search path.
/// Asked apart from the rest of discovery so that the unit files can be read (see
/// [`UnitFileScan::read`]) on another thread while the rest is in flight.
pub(crate) struct Listing {
    listed: Vec<ListedUnit>,
    unit_path: Vec<String>,
}

impl Listing {
    /// The names of the services systemd has loaded.
    fn loaded_names(&self) -> HashSet<String> {
        self.listed.iter().filter(|unit| unit.load_state == LoadState::Loaded).map(|unit| unit.name.clone()).collect()
    }
}

/// Lists the service units and the unit file search path, together.
pub(crate) async fn list(systemd: &Systemd) -> Result<Listing, DiscoverError> {
    let (listed, unit_path) = join(systemd.list_units(&["*.service"]), systemd.unit_path()).await;
    let listed = listed.map_err(|source| DiscoverError { what: "service units", source })?;
    let unit_path = unit_path.map_err(|source| DiscoverError { what: "the unit file search path", source })?;
    Ok(Listing { listed, unit_path })
}

/// The parsed `ExecStart` of every loaded service, asked all at once, in the order of
/// the loaded ones in the listing.
pub(crate) async fn exec_starts(systemd: &Systemd, listing: &Listing) -> Vec<Result<Vec<ExecLine>, SystemdError>> {
    join_all(
        listing
            .listed
            .iter()
            .filter(|unit| unit.load_state == LoadState::Loaded)
            .map(|unit| systemd.exec_start(&unit.path)),
    )
    .await
}

/// What the unit files systemd has not loaded say, read from disk with no call to
/// systemd: blocking reads, made on a thread of their own while D-Bus calls and the
/// /proc scan run.
pub(crate) struct UnitFileScan {
    /// Template files whose ExecStart runs node.
    template_files: Vec<files::UnitFile>,
    /// Unloaded (or masked) unit files worth loading, and what they would be.
    to_load: Vec<(String, UnitKind)>,
    /// Files that could not be read.
    unreadable: Vec<UnreadableUnit>,
    /// The scripts read on the way, for the rest of the run to reuse.
    scripts: Scripts,
}

impl UnitFileScan {
    /// Reads the unit files in `unit_path` that are not among `loaded`, the templates,
    /// and the files masks hide.
    pub(crate) fn read(unit_path: &[String], loaded: &HashSet<String>, mut scripts: Scripts) -> UnitFileScan {
        let _span = crate::timings::span("discovery: unit files not loaded, read (own thread)");
        let mut unreadable = Vec::new();
        let mut template_files = Vec::new();
        let mut to_load: Vec<(String, UnitKind)> = Vec::new();
        for file in files::unit_files(unit_path, ".service") {
            let is_template = file.name.ends_with("@.service");
            if !is_template && loaded.contains(file.name.as_str()) {
                continue;
            }
            let text = match files::read_unit_text(&file.path) {
                Ok(text) => text,
                Err(err) => {
                    unreadable.push(unreadable_file(&file, &err));
                    continue;
                }
            };
            let runs_node = scripts.file_runs_node(&text);
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
        for file in files::masked_unit_files(unit_path, ".service") {
            if file.name.ends_with("@.service") || to_load.iter().any(|(name, _)| *name == file.name) {
                continue;
            }
            let text = match files::read_unit_text(&file.path) {
                Ok(text) => text,
                Err(err) => {
                    unreadable.push(unreadable_file(&file, &err));
                    continue;
                }
            };
            let runs_node = scripts.file_runs_node(&text);
            if let Some(kind) = unit_kind(&file.name, runs_node, &file_command_pairs(&text)) {
                to_load.push((file.name, kind));
            }
        }
        UnitFileScan { template_files, to_load, unreadable, scripts }
    }

    /// Reads them on a blocking thread (inline, should that thread fail).
    pub(crate) async fn read_aside(listing: &Listing) -> UnitFileScan {
        let (unit_path, loaded) = (listing.unit_path.clone(), listing.loaded_names());
        let aside = {
            let (unit_path, loaded) = (unit_path.clone(), loaded.clone());
            tokio::task::spawn_blocking(move || UnitFileScan::read(&unit_path, &loaded, Scripts::default()))
        };
        match aside.await {
            Ok(scan) => scan,
            Err(_) => UnitFileScan::read(&unit_path, &loaded, Scripts::default()),
        }
    }
}

/// Finds the units to gather (see the module documentation) from what [`list`] asked. `expected_units` are the
/// check file's `[[unit]]` names: gathered whatever they run, so that an operator who
/// lists `nginx.service` has it judged, and a listed unit that does not exist is judged
/// as such (LoadState=not-found) rather than left out.
///
/// `listing`, `exec_starts` and `file_scan` are what [`list`], [`exec_starts`] and
/// [`UnitFileScan::read`] found; `scripts` comes back with everything read so far.
pub(crate) async fn discover(
    systemd: &Systemd,
    listing: Listing,
    exec_starts: Vec<Result<Vec<ExecLine>, SystemdError>>,
    file_scan: UnitFileScan,
    expected_units: &[String],
    node_units: &BTreeMap<String, NodeInUnit>,
) -> Result<(Discovery, Scripts), DiscoverError> {
    let Listing { listed, unit_path } = listing;
    let UnitFileScan { template_files, to_load, unreadable: unreadable_files, mut scripts } = file_scan;
    let scripts = &mut scripts;
    let mut unreadable = Vec::new();
    let loaded: Vec<_> = listed.iter().filter(|unit| unit.load_state == LoadState::Loaded).collect();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (unit, exec_start) in loaded.iter().zip(exec_starts) {
        let (runs_node, commands) = match exec_start {
            Ok(lines) => (scripts.runs_node(&lines), command_pairs(&lines)),
            // A `pm2-<user>` unit is still a PM2 supervisor by its name (and its own
            // properties are read below); any other cannot be told to run node or not.
            Err(_) if is_pm2_unit_name(&unit.name) => (false, Vec::new()),
            Err(err) => {
                unreadable.push(UnreadableUnit {
                    name: unit.name.clone(),
                    reason: format!("cannot read its ExecStart to tell whether it runs node: {err}"),
                });
                continue;
            }
        };
        if let Some(kind) = unit_kind(&unit.name, runs_node, &commands) {
            candidates.push(Candidate {
                name: unit.name.clone(),
                path: unit.path.clone(),
                from_file_text: false,
                kind,
                node_running: None,
            });
        }
    }

    // Units whose ExecStart does not show node (a launcher, a wrapper bootproof cannot
    // follow) while a node process runs in their cgroup: node services all the same, or
    // PM2's supervisor when that process is a God Daemon.
    for unit in &loaded {
        let Some(running) = node_units.get(&unit.name) else { continue };
        if candidates.iter().any(|c| c.name == unit.name) {
            continue;
        }
        let kind = if running.pm2_daemon || is_pm2_unit_name(&unit.name) { UnitKind::Pm2 } else { UnitKind::Node };
        // Its ExecStart may not have been readable; its properties are read in full below.
        unreadable.retain(|u: &UnreadableUnit| u.name != unit.name);
        candidates.push(Candidate {
            name: unit.name.clone(),
            path: unit.path.clone(),
            from_file_text: false,
            kind,
            node_running: (kind == UnitKind::Node).then(|| running.node.clone()),
        });
    }

    unreadable.extend(unreadable_files);
    let template_states = join_all(template_files.iter().map(|file| systemd.unit_file_state(&file.name))).await;
    let mut templates: Vec<TemplateFacts> = template_files
        .into_iter()
        .zip(template_states)
        .map(|(file, state)| TemplateFacts {
            instances: template_instances(&file.name, listed.iter().map(|unit| unit.name.as_str())),
            unit_file_state: Fact::from_result(state),
            fragment_path: Some(file.path),
            name: file.name,
        })
        .collect();
    templates.sort_by(|a, b| a.name.cmp(&b.name));

    // Units the check file expects, whatever they run (not already found above).
    let expected: Vec<(String, UnitKind)> = expected_units
        .iter()
        .filter(|name| !candidates.iter().any(|c| &c.name == *name) && !to_load.iter().any(|(n, _)| n == *name))
        .map(|name| (name.clone(), UnitKind::Node))
        .collect();
    let loads: Vec<(String, UnitKind, bool)> = to_load
        .into_iter()
        .map(|(name, kind)| (name, kind, true))
        .chain(expected.into_iter().map(|(name, kind)| (name, kind, false)))
        .collect();
    let loaded_now = join_all(loads.iter().map(|(name, _, _)| systemd.load_unit(name))).await;
    for ((name, kind, from_file_text), path) in loads.into_iter().zip(loaded_now) {
        match path {
            Ok(path) => candidates.push(Candidate { name, path, from_file_text, kind, node_running: None }),
            // LoadUnit fails for an invalid name or a refused call: nothing to gather,
            // and nothing that may be taken to be fine.
            Err(err) => unreadable.push(UnreadableUnit { name, reason: format!("systemd would not load it: {err}") }),
        }
    }

    let mut seen_paths = HashSet::new();
    candidates.retain(|candidate| seen_paths.insert(candidate.path.clone()));
    unreadable.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((Discovery { candidates, templates, unreadable, unit_path }, std::mem::take(scripts)))
}

/// A unit file discovery could not read.
fn unreadable_file(file: &files::UnitFile, err: &std::io::Error) -> UnreadableUnit {
    UnreadableUnit {
        name: file.name.clone(),
        reason: format!("cannot read its unit file {}: {}", file.path, files::os_message(err)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_of_a_template() {
        let names = ["my-app@3001.service", "my-app@3000.service", "my-app-worker@1.service", "my-app.service"];
        assert_eq!(
            template_instances("my-app@.service", names.into_iter()),
            vec!["my-app@3000.service", "my-app@3001.service"]
        );
    }
}
