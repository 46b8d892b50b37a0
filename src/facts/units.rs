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
    StopCommand, UnitFacts, UnitProperties,
};
use super::node::{self, ExecKind, Locate, RuntimeUse};
use super::procfs::{self, ProcessTable};
use super::states::ExecVia as Via;
use super::states::LoadState;
use super::systemd::{ConditionLine, ExecLine, ServiceReply, SystemdError, UnitReply};
use super::unit_file::{self, Specifiers, UnitDirs, split_instance};

/// A script bootproof reads for what it execs is read this far (start.sh is short).
const SCRIPT_TEXT_MAX: u64 = 64 * 1024;

/// How many wrappers deep a command is followed (env → start.sh → npm → node is three).
const FOLLOW_DEPTH: usize = 4;

/// A `through` text (a wrapper's exec line, an `sh -c` string) is cut to this many characters.
const THROUGH_MAX: usize = 200;

/// What scripts say, read once per run: a script's `#!` line, and a shell script's text
/// (only for scripts whose `#!` names a shell, or that a shell is given to run).
#[derive(Default)]
pub(crate) struct Scripts {
    /// path → its `#!` line.
    shebang_lines: HashMap<String, Option<String>>,
    /// path → its text, for shell scripts.
    texts: HashMap<String, Option<String>>,
    /// (program, PATH) → where PATH finds it: shell scripts name the same commands over
    /// and over, each a stat per PATH directory.
    on_path: HashMap<(String, String), Option<String>>,
}

/// `text` cut to [`THROUGH_MAX`] characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(THROUGH_MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

impl Scripts {
    /// The `#!` line of `path`, when it is a readable script. Only absolute paths
    /// are read: a relative one is relative to the service, not to us.
    fn line(&mut self, path: &str) -> Option<String> {
        if !path.starts_with('/') {
            return None;
        }
        self.shebang_lines.entry(path.to_owned()).or_insert_with(|| files::read_shebang(path).ok().flatten()).clone()
    }

    /// The text of a shell script at an absolute path, bounded.
    fn text(&mut self, path: &str) -> Option<String> {
        if !path.starts_with('/') {
            return None;
        }
        self.texts
            .entry(path.to_owned())
            .or_insert_with(|| files::read_text_bounded(path, SCRIPT_TEXT_MAX).ok())
            .clone()
    }

    /// The runtime a command uses: node itself, through env, a `#!` line, a shell
    /// wrapper's exec line, an `sh -c` string, or npm/yarn/pnpm — saying which. Bare
    /// names are found on `search_path` (what env and a shell would search).
    pub(crate) fn runtime_of(&mut self, path: &str, argv: &[String], search_path: &str) -> Option<RuntimeUse> {
        self.follow(path, argv, search_path, 0, None)
    }

    /// One step of [`Scripts::runtime_of`]; `through` is how the outermost wrapper was
    /// found, which the result reports.
    fn follow(
        &mut self,
        path: &str,
        argv: &[String],
        search_path: &str,
        depth: usize,
        through: Option<(Via, String)>,
    ) -> Option<RuntimeUse> {
        if depth > FOLLOW_DEPTH {
            return None;
        }
        let found = match node::classify_exec(path, argv) {
            ExecKind::Runtime(runtime) => runtime,
            ExecKind::Pm2Cli | ExecKind::Other => return None,
            ExecKind::Script(script) => match node::classify_shebang(&script, &self.line(&script)?) {
                ExecKind::Runtime(runtime) => runtime,
                ExecKind::ShellScript(script) => return self.follow_script(&script, search_path, depth, through),
                _ => return None,
            },
            ExecKind::ShellScript(script) => return self.follow_script(&script, search_path, depth, through),
            ExecKind::ShellCommand(command) => {
                let through =
                    through.or_else(|| Some((Via::Shell, cut(&format!("{} -c {command}", node::basename(path))))));
                return self.follow_text(&command, search_path, depth, through, None);
            }
            ExecKind::PackageManager(manager) => {
                let at =
                    if manager.contains('/') { Some(manager.clone()) } else { self.on_path(&manager, search_path) };
                // npm's own `#!` says which node it needs; without a readable npm, the
                // node its `#!/usr/bin/env node` would find.
                let runtime = at
                    .and_then(|at| match node::classify_shebang(&at, &self.line(&at)?) {
                        ExecKind::Runtime(runtime) => Some(runtime),
                        _ => None,
                    })
                    .unwrap_or(RuntimeUse {
                        program: "node",
                        via: Via::Env,
                        locate: Locate::OnPath("node".to_owned()),
                        through: None,
                    });
                let through = through.or_else(|| Some((Via::PackageManager, cut(&argv.join(" ")))));
                return Some(with_through(runtime, through));
            }
            ExecKind::OnPath(name) => {
                let found = self.on_path(&name, search_path)?;
                // What env runs: the program and the arguments after it.
                let rest =
                    node::env_program(argv.get(1..).unwrap_or_default()).map(|(_, rest)| rest).unwrap_or_default();
                let mut program_argv = vec![found.clone()];
                program_argv.extend(rest);
                return self.follow(&found, &program_argv, search_path, depth + 1, through);
            }
        };
        Some(with_through(found, through))
    }

    /// Where `search_path` finds `program` (see [`files::find_on_path`]), looked up once per run.
    fn on_path(&mut self, program: &str, search_path: &str) -> Option<String> {
        self.on_path
            .entry((program.to_owned(), search_path.to_owned()))
            .or_insert_with(|| files::find_on_path(program, search_path, files::is_executable_file))
            .clone()
    }

    /// A shell script: the node its exec line (or, without one, a command) starts.
    fn follow_script(
        &mut self,
        script: &str,
        search_path: &str,
        depth: usize,
        through: Option<(Via, String)>,
    ) -> Option<RuntimeUse> {
        let text = self.text(script)?;
        self.follow_text(&text, search_path, depth, through, Some(script))
    }

    /// Shell text (a script's, or an `sh -c` string): the first of its candidate commands
    /// (see [`node::shell_candidates`]) that runs node. `script` names the script the text
    /// is from, for the `through` text.
    fn follow_text(
        &mut self,
        text: &str,
        search_path: &str,
        depth: usize,
        through: Option<(Via, String)>,
        script: Option<&str>,
    ) -> Option<RuntimeUse> {
        for words in node::shell_candidates(text) {
            let through = through
                .clone()
                .or_else(|| script.map(|script| (Via::Wrapper, cut(&format!("{script}: {}", words.join(" "))))));
            if let Some(found) = self.follow_words(&words, search_path, depth + 1, through) {
                return Some(found);
            }
        }
        None
    }

    /// A command of shell text: its program may be a bare name the shell finds on PATH.
    fn follow_words(
        &mut self,
        words: &[String],
        search_path: &str,
        depth: usize,
        through: Option<(Via, String)>,
    ) -> Option<RuntimeUse> {
        let program = words.first()?;
        // `$NODE`, `$(which node)`: what the shell would expand is not known here.
        if program.contains('$') || program.contains('`') {
            return None;
        }
        if program.contains('/') {
            return self.follow(program, words, search_path, depth, through);
        }
        if let Some(runtime) = node::runtime_named(program) {
            let found =
                RuntimeUse { program: runtime, via: Via::Env, locate: Locate::OnPath(program.clone()), through: None };
            return Some(with_through(found, through));
        }
        if node::is_package_manager(program) || node::is_shell(program) {
            return self.follow(program, words, search_path, depth, through);
        }
        let found = self.on_path(program, search_path)?;
        let mut argv = words.to_vec();
        argv[0] = found.clone();
        self.follow(&found, &argv, search_path, depth + 1, through)
    }

    /// Whether any of the commands runs node (with systemd's default search path: what a
    /// service without its own PATH= gets).
    pub(crate) fn runs_node(&mut self, commands: &[ExecLine]) -> bool {
        commands.iter().any(|line| self.runtime_of(&line.path, &line.argv, SYSTEMD_DEFAULT_PATH).is_some())
    }

    /// Whether a unit file's own `ExecStart=` lines run node.
    pub(crate) fn file_runs_node(&mut self, text: &str) -> bool {
        self.runs_node(&unit_file::settings([text]).exec_start)
    }
}

/// A runtime found through a wrapper says so: its `via` and `through` become the wrapper's.
fn with_through(mut runtime: RuntimeUse, through: Option<(Via, String)>) -> RuntimeUse {
    if let Some((via, text)) = through {
        runtime.via = via;
        runtime.through = Some(text);
    }
    runtime
}

/// Local reads for gathered units: files, /proc and accounts, with per-run caches.
pub(crate) struct LocalReader<'a> {
    /// The run's /proc scan.
    table: &'a ProcessTable,
    /// `#!` lines read so far.
    scripts: &'a mut Scripts,
    /// The unit file search path's entries, for finding a unit's files on disk.
    unit_dirs: UnitDirs,
}

impl<'a> LocalReader<'a> {
    /// A reader with empty caches.
    pub(crate) fn new(scripts: &'a mut Scripts, unit_path: &[String], table: &'a ProcessTable) -> LocalReader<'a> {
        LocalReader { table, scripts, unit_dirs: UnitDirs::read(unit_path) }
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
            // Set by the caller when only a running node process showed it is one.
            node_running: None,
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
                exec_command(&line, &search_path, self.scripts)
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
        let scripts = &mut *self.scripts;
        let mut commands = |lines: &[ExecLine]| -> Vec<ExecCommand> {
            lines.iter().map(|line| exec_command(line, &search_path, scripts)).collect()
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
            exec_stop: Some(
                service.exec_stop.into_iter().map(|line| StopCommand { path: line.path, argv: line.argv }).collect(),
            ),
            kill_mode: Some(service.kill_mode),
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
        let mut processes = Vec::new();
        for pid in pids {
            match self.table.process(pid) {
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
fn exec_command(line: &ExecLine, search_path: &str, scripts: &mut Scripts) -> ExecCommand {
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
        runtime: scripts
            .runtime_of(&binary_path, &line.argv, search_path)
            .map(|runtime| runtime_facts(&runtime, search_path)),
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
            through: runtime.through.clone(),
            search_path: None,
            resolved: Some(files::stat_file(path)),
        },
        Locate::OnPath(name) => RuntimeFacts {
            program: runtime.program.to_owned(),
            via: runtime.via.clone(),
            through: runtime.through.clone(),
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
    fn node_behind_a_wrapper_is_found_and_says_how() -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("bootproof-wrappers-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin"))?;
        let write = |name: &str, text: &str| -> std::io::Result<String> {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            Ok(path.to_string_lossy().into_owned())
        };
        let start = write("start.sh", "#!/bin/sh\nset -e\ncd /srv/api\nexec node server.js \"$@\"\n")?;
        write(
            "bin/start-api",
            "#!/usr/bin/env bash\n# installed by the vendor\nexec /usr/bin/node /srv/api/server.js\n",
        )?;
        let python = write("python.sh", "#!/bin/sh\nnode migrate.js\nexec python3 app.py\n")?;
        let bin = dir.join("bin").to_string_lossy().into_owned();
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        let mut scripts = Scripts::default();
        let via_start = scripts.runtime_of(&start, &argv(&[&start]), "/usr/bin");
        let via_env = scripts.runtime_of("/usr/bin/env", &argv(&["/usr/bin/env", "start-api"]), &bin);
        let via_bash =
            scripts.runtime_of("/bin/bash", &argv(&["/bin/bash", "-c", "cd /srv/api && exec node server.js"]), &bin);
        let via_npm = scripts.runtime_of("/nonexistent/bin/npm", &argv(&["npm", "start"]), &bin);
        let not_node = scripts.runtime_of(&python, &argv(&[&python]), "/usr/bin");
        std::fs::remove_dir_all(&dir)?;

        let found = via_start.expect("start.sh execs node");
        assert_eq!((found.via, found.locate), (Via::Wrapper, Locate::OnPath("node".into())));
        assert_eq!(found.through.as_deref(), Some(format!("{start}: node server.js $@").as_str()));
        let found = via_env.expect("the wrapper env finds on PATH execs node");
        assert_eq!((found.via, found.locate), (Via::Wrapper, Locate::At("/usr/bin/node".into())));
        assert!(found.through.is_some_and(|t| t.ends_with("bin/start-api: /usr/bin/node /srv/api/server.js")));
        let found = via_bash.expect("bash -c runs node");
        assert_eq!(found.via, Via::Shell);
        assert_eq!(found.through.as_deref(), Some("bash -c cd /srv/api && exec node server.js"));
        let found = via_npm.expect("npm runs on node, installed or not");
        assert_eq!((found.via, found.through.as_deref()), (Via::PackageManager, Some("npm start")));
        assert_eq!(not_node, None, "the exec line decides, not a node step before it");
        Ok(())
    }

    #[test]
    fn timestamps() {
        assert_eq!(usec_to_rfc3339(0), None);
        assert_eq!(usec_to_rfc3339(1_700_000_000_500_000).as_deref(), Some("2023-11-14T22:13:20Z"));
    }
}
