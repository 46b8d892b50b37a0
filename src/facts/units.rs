//! One unit's facts, from systemd's replies and what they point at on this host: the
//! binaries its commands run (and the node they rely on), its EnvironmentFiles, its
//! account, the processes in its cgroup, its start conditions, and — when its files
//! changed since systemd loaded them — what those files say the next boot runs.
//!
//! Local reads only (stat, /proc, NSS, unit files); the D-Bus calls are made by
//! `gather`, all at once, before any of this runs.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use super::files::{self, SYSTEMD_DEFAULT_PATH};
use super::model::{
    Account, EnvironmentFile, ExecCommand, Fact, OnDiskUnit, ProcessFacts, RuntimeFacts, ServiceFacts, StartCondition,
    UnitFacts, UnitProperties,
};
use super::node::{self, ExecKind, Locate, RuntimeUse};
use super::procfs::{self, BootClock};
use super::states::LoadState;
use super::systemd::{ConditionLine, ExecLine, ServiceReply, SystemdError, UnitReply};
use super::unit_file::{self, Specifiers, UnitDirs, split_instance};

/// Reads scripts' `#!` lines once per run.
#[derive(Default)]
pub(crate) struct Shebangs(HashMap<String, Option<String>>);

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
    pub(crate) fn runs_node(&mut self, commands: &[ExecLine]) -> bool {
        commands.iter().any(|line| self.runtime_of(&line.path, &line.argv).is_some())
    }

    /// Whether a unit file's own `ExecStart=` lines run node.
    pub(crate) fn file_runs_node(&mut self, text: &str) -> bool {
        self.runs_node(&unit_file::settings([text]).exec_start)
    }
}

/// Local reads for gathered units: files, /proc and accounts, with per-run caches.
pub(crate) struct LocalReader<'a> {
    /// Turns process start ticks into wall-clock time.
    clock: Option<BootClock>,
    /// uid → login name, so each uid costs one NSS lookup.
    user_names: HashMap<u32, Option<String>>,
    /// `#!` lines read so far.
    shebangs: &'a mut Shebangs,
    /// The unit file search path's entries, for finding a unit's files on disk.
    unit_dirs: UnitDirs,
}

impl<'a> LocalReader<'a> {
    /// A reader with empty caches.
    pub(crate) fn new(shebangs: &'a mut Shebangs, unit_path: &[String]) -> LocalReader<'a> {
        LocalReader {
            clock: BootClock::read(),
            user_names: HashMap::new(),
            shebangs,
            unit_dirs: UnitDirs::read(unit_path),
        }
    }

    /// Builds one unit's facts from its properties and what they point at.
    pub(crate) fn unit_facts(
        &mut self,
        name: &str,
        unit: Result<UnitReply, SystemdError>,
        service: Result<ServiceReply, SystemdError>,
    ) -> UnitFacts {
        let (template, instance) = split_instance(name).map_or((None, None), |(t, i)| (Some(t), Some(i)));
        let service = match service {
            Ok(service) => Fact::Ok(self.service_facts(service)),
            Err(err) => Fact::Error(err.to_string()),
        };
        let on_disk = match &unit {
            Ok(unit) if unit.load_state == LoadState::Loaded => {
                let files = self.unit_dirs.files_for(name);
                let loaded: Vec<&str> =
                    unit.fragment_path.iter().chain(&unit.drop_in_paths).map(String::as_str).collect();
                let changed = unit.need_daemon_reload || unit_file::other_files(&files, &loaded);
                (changed && !files.is_empty()).then(|| self.on_disk(files, name))
            }
            _ => None,
        };
        let properties = match unit {
            Ok(unit) => Fact::Ok(UnitProperties {
                load_state: unit.load_state,
                load_error: unit.load_error,
                fragment_file: unit.fragment_path.as_deref().map(files::stat_file),
                fragment_path: unit.fragment_path,
                drop_in_paths: unit.drop_in_paths,
                need_daemon_reload: unit.need_daemon_reload,
                unit_file_state: unit.unit_file_state,
                wanted_by: unit.wanted_by,
                required_by: unit.required_by,
                conditions: unit.conditions.iter().map(start_condition).collect(),
                active_state: unit.active_state,
                sub_state: unit.sub_state,
                active_since: usec_to_rfc3339(unit.active_enter_usec),
                start_limit_burst: unit.start_limit_burst,
                start_limit_interval_usec: unit.start_limit_interval_usec,
            }),
            Err(err) => Fact::Error(err.to_string()),
        };
        UnitFacts {
            name: name.to_owned(),
            template,
            instance,
            properties,
            // Filled in once every unit is known (see `boot_chain::boot_chains`).
            boot_chain: Fact::Ok(Vec::new()),
            service,
            on_disk,
        }
    }

    /// What the unit's files on disk (`paths`, in the order systemd applies them) say;
    /// see [`OnDiskUnit`].
    fn on_disk(&mut self, paths: Vec<String>, name: &str) -> Fact<OnDiskUnit> {
        let mut texts = Vec::new();
        for path in &paths {
            match files::read_unit_text(path) {
                Ok(text) => texts.push(text),
                Err(err) => return Fact::Error(format!("cannot read {path}: {}", files::os_message(&err))),
            }
        }
        let settings = unit_file::settings(texts.iter().map(String::as_str));
        let mut specs = Specifiers::of(name);
        let user = settings.user.as_deref().map(|user| specs.expand(user)).unwrap_or_default();
        let account = account_fact(&user);
        if let Fact::Ok(Some(account)) = &account {
            specs.user = Some(account.name.clone());
            specs.uid = Some(account.uid);
            specs.home = Some(account.home.clone());
        }
        let environment: Vec<String> = settings.environment.iter().map(|a| specs.expand(a)).collect();
        let search_path = unit_search_path(&environment);
        let exec_start = settings
            .exec_start
            .iter()
            .map(|line| {
                let line = ExecLine {
                    path: specs.expand(&line.path),
                    argv: line.argv.iter().map(|word| specs.expand(word)).collect(),
                    ignore_failure: line.ignore_failure,
                };
                exec_command(&line, &search_path, self.shebangs)
            })
            .collect();
        let environment_files = settings
            .environment_files
            .iter()
            .map(|(path, optional)| {
                let path = specs.expand(path);
                EnvironmentFile { file: files::stat_file(&path), path, optional: *optional }
            })
            .collect();
        Fact::Ok(OnDiskUnit {
            files: paths,
            user,
            dynamic_user: settings.dynamic_user,
            account,
            exec_start,
            environment,
            environment_files,
            wanted_by: settings.wanted_by,
            required_by: settings.required_by,
        })
    }

    /// Builds the service side: commands, files, account and processes.
    fn service_facts(&mut self, service: ServiceReply) -> ServiceFacts {
        let search_path = unit_search_path(&service.environment);
        let shebangs = &mut *self.shebangs;
        let mut commands = |lines: &[ExecLine]| -> Vec<ExecCommand> {
            lines.iter().map(|line| exec_command(line, &search_path, shebangs)).collect()
        };
        let exec_start = commands(&service.exec_start);
        let exec_start_pre = commands(&service.exec_start_pre);
        let environment_files = service
            .environment_files
            .iter()
            .map(|(path, optional)| EnvironmentFile {
                path: path.clone(),
                optional: *optional,
                // systemd has expanded the specifiers; a glob is stat'ed as written.
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

    /// The processes in a unit's cgroup; processes that exit meanwhile are skipped, one
    /// that cannot be read makes the whole list unknown (a partial list could hide the
    /// one running as root).
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

/// RFC 3339 UTC for a systemd timestamp (µs since the epoch); `None` for 0 (never).
pub(crate) fn usec_to_rfc3339(usec: u64) -> Option<String> {
    (usec != 0).then(|| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_micros(usec)).to_string())
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
            via: runtime.via.clone(),
            search_path: None,
            resolved: Some(files::stat_file(path)),
        },
        Locate::OnPath(name) => RuntimeFacts {
            program: runtime.program.to_owned(),
            via: runtime.via.clone(),
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
    fn search_path_from_environment() {
        assert_eq!(unit_search_path(&[]), SYSTEMD_DEFAULT_PATH);
        let env =
            vec!["PATH=/a".to_owned(), "NODE_ENV=production".to_owned(), "PATH=/home/u/.nvm/bin:/usr/bin".to_owned()];
        assert_eq!(unit_search_path(&env), "/home/u/.nvm/bin:/usr/bin");
    }

    #[test]
    fn timestamps() {
        assert_eq!(usec_to_rfc3339(0), None);
        assert_eq!(usec_to_rfc3339(1_700_000_000_500_000).as_deref(), Some("2023-11-14T22:13:20Z"));
    }
}
