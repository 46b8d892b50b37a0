//! The fuzz targets: one function per kind of input bootproof reads but did not write,
//! each feeding arbitrary bytes to the real parsers (and what runs on what they return),
//! asserting only what must hold for any input: no panic, no hang, and the few
//! invariants named below. `fuzz/` runs them under libFuzzer (it includes this crate's
//! modules as they are); the unit test at the end replays every committed corpus input
//! through the same functions, so `ci/test` keeps what fuzzing found fixed.
//!
//! Compiled into tests only: the shipped binary does not carry it.

use crate::facts::pm2::{amp, daemon, dump, log, rpc};
use crate::facts::sockets::{self, Listening, ServicePorts};
use crate::facts::{node, procfs, unit_file};
use crate::report::{self, HostSummary, Report};

/// A fuzz target: any bytes in, a panic only when something that must hold does not.
pub(crate) type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory under `fuzz/corpus/`.
pub(crate) const TARGETS: &[(&str, Target)] = &[
    ("dump_pm2", dump_pm2),
    ("amp_reply", amp_reply),
    ("check_file", check_file),
    ("state_file", state_file),
    ("facts_file", facts_file),
    ("proc_lines", proc_lines),
    ("unit_file", unit_file),
    ("pm2_log", pm2_log),
];

/// `dump.pm2`: any bytes are a list of apps or a parse error with a reason, and of the
/// environment only names are kept: every kept name is a key of the app (or of its `env`).
pub(crate) fn dump_pm2(data: &[u8]) {
    let Ok(apps) = dump::parse_apps(data) else { return };
    // The same text as a plain JSON value, to see which keys the file really has.
    let Ok(serde_json::Value::Array(raw)) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    for (app, raw) in apps.iter().zip(&raw) {
        let is_key = |name: &str| raw.get(name).is_some() || raw.get("env").and_then(|env| env.get(name)).is_some();
        assert!(app.env_keys.iter().all(|key| is_key(key)), "a kept name is not a key: {app:?}");
    }
}

/// `pm2.log` (as read: invalid UTF-8 replaced): the last kill names only apps the text
/// names, and counts no more daemons after it than the text has start lines.
pub(crate) fn pm2_log(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Some(kill) = log::last_kill(&text) else { return };
    for name in &kill.apps_down {
        assert!(text.contains(&format!("[{name}")), "{name:?} is not an app of the log");
    }
    let starts = text.lines().filter(|line| line.contains("New PM2 Daemon started")).count();
    assert!(kill.daemons_after as usize <= starts, "{} daemons after, {starts} start lines", kill.daemons_after);
}

/// rpc.sock replies: the amp decoder fed the bytes in the pieces the first byte chooses
/// (as a socket may deliver them), then each message read as a getMonitorData reply.
pub(crate) fn amp_reply(data: &[u8]) {
    let Some((&split, bytes)) = data.split_first() else { return };
    let piece = usize::from(split).max(1);
    // A limit a few times the seeds' size, so that "too large" is reached too.
    let mut decoder = amp::Decoder::new(64 << 10);
    for chunk in bytes.chunks(piece) {
        decoder.push(chunk);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    let _ = rpc::apps_of_reply(&message);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// The check file: TOML in, a resolved check file or an error with a line and column.
pub(crate) fn check_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match crate::config::load::parse(text, "fuzz.toml") {
        Ok(config) => {
            // Ranges stay bounded, whatever the file says.
            assert!(config.units.len() <= 100_000, "{} units", config.units.len());
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}

/// The state file: read as `check` reads it at the start of a run.
pub(crate) fn state_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(state) = crate::state::parse(text) {
        let _ = state.clone().before(Some("another boot"));
        let _ = state.before(None);
    }
}

/// A facts file, and everything `check --facts` does with one: judged, rendered in every
/// format, drawn as a plan, and written back as a check file by `init`, which must parse.
pub(crate) fn facts_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(facts) = crate::facts::saved::parse(text) else { return };
    let judgement = crate::invariants::evaluate(&facts, &crate::config::CheckConfig::default());
    let plan = report::plan::build(&facts, &judgement);
    let _ = report::plan::render(&plan, true);
    let _ = serde_json::to_string(&plan);
    let report = Report::new(HostSummary::of(&facts), judgement);
    for verbose in [false, true] {
        let _ = report::human::render(&report, verbose);
    }
    let _ = report::json::render(&report);
    let _ = report::junit::render(&report, true);
    // Every service listening somewhere, so that init writes its suggestions too.
    let mut ports = ServicePorts::new();
    for unit in &facts.units {
        ports.insert(unit.name.clone(), vec![Listening { address: "0.0.0.0".into(), port: 3000 }]);
    }
    for home in &facts.pm2 {
        if let crate::facts::Fact::Ok(crate::facts::RpcAnswer::Apps { apps }) = &home.daemon.rpc {
            for app in apps {
                ports.insert(
                    sockets::pm2_app_key(&home.home, &app.name),
                    vec![Listening { address: "::".into(), port: 8080 }],
                );
            }
        }
    }
    let judgement = crate::invariants::evaluate(&facts, &crate::config::CheckConfig::default());
    let written = crate::init::render(&facts, &judgement, &ports);
    match crate::config::load::parse(&written, "init.toml") {
        Ok(config) => {
            // What init wrote, judged against the facts it was written from.
            let _ = crate::invariants::evaluate(&facts, &config);
        }
        Err(err) => panic!("init wrote a check file that does not parse: {err}\n{written}"),
    }
}

/// /proc lines and PM2's files beside them: every parser over the same bytes.
pub(crate) fn proc_lines(data: &[u8]) {
    let _ = procfs::parse_cmdline(data);
    let _ = daemon::title_of(&procfs::parse_cmdline(data));
    let _ = daemon::home_in_environ(data);
    let _ = daemon::parse_pid(data);
    let text = String::from_utf8_lossy(data);
    let _ = procfs::parse_btime(&text);
    let _ = procfs::parse_status_uid(&text);
    let _ = procfs::parse_nspid_depth(&text);
    let _ = procfs::parse_stat_starttime(&text);
    let _ = procfs::parse_cgroup(&text);
    let _ = sockets::parse_table(&text, false);
    let _ = sockets::parse_table(&text, true);
    let _ = daemon::parse_title(&text);
    let _ = daemon::parse_pid_file_name(&text);
    let _ = crate::facts::files::shebang_line(data);
}

/// Unit-file text: the settings of a fragment and a drop-in, the specifiers in them
/// expanded for an instance, each ExecStart (and the text as a `#!` line) classified.
pub(crate) fn unit_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line names the unit (an instance, a template, anything), the rest is the file.
    let (name, body) = text.split_once('\n').unwrap_or((text, ""));
    let (fragment, dropin) = body.split_once("\n\n").unwrap_or((body, ""));
    let settings = unit_file::settings([fragment, dropin]);
    let _ = unit_file::split_instance(name);
    let mut specifiers = unit_file::Specifiers::of(name);
    specifiers.user = settings.user.clone();
    specifiers.uid = Some(1000);
    specifiers.home = Some("/home/deploy".into());
    for line in &settings.exec_start {
        let argv: Vec<String> = line.argv.iter().map(|arg| specifiers.expand(arg)).collect();
        let _ = node::classify_exec(&specifiers.expand(&line.path), &argv);
    }
    for (path, _) in &settings.environment_files {
        let _ = specifiers.expand(path);
    }
    let words = node::split_words(fragment);
    if let Some((program, args)) = words.split_first() {
        let _ = node::classify_exec(program, args);
    }
    let _ = node::env_program(&words);
    let _ = node::classify_shebang(name, fragment);
}

#[cfg(test)]
mod tests {
    //! Replays the committed corpus, the seeds and every input fuzzing found crashing,
    //! kept as a regression, through the targets, each within a time bound.

    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use super::TARGETS;

    /// One input may take this long at most (they take microseconds to milliseconds;
    /// this leaves room for a debug build on a loaded machine).
    const PER_INPUT: Duration = Duration::from_secs(2);

    fn corpus_dir(target: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
    }

    /// Every input kept for a target: the minimised corpus, the real inputs it grew from
    /// (`fuzz/seeds`), and each input that once crashed or hung a target (`fuzz/regressions`).
    fn inputs(target: &str) -> Vec<PathBuf> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut paths: Vec<PathBuf> = ["corpus", "seeds", "regressions"]
            .iter()
            .filter_map(|kind| std::fs::read_dir(root.join(kind).join(target)).ok())
            .flat_map(|entries| entries.flatten().map(|e| e.path()))
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn the_fuzz_crate_compiles_bootproofs_modules_with_bootproofs_dependencies() {
        // fuzz/ builds ../src under its own manifest, outside ci/test: a dependency declared
        // differently there (a feature left out) breaks ci/fuzz while ci/test stays green, as
        // serde_json without `raw_value` once did.
        let dependencies = |path: &str| {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let manifest: toml::Table = toml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            manifest["dependencies"].as_table().cloned().expect("a [dependencies] table")
        };
        let (bootproof, fuzz) = (dependencies("Cargo.toml"), dependencies("fuzz/Cargo.toml"));
        for (name, spec) in &fuzz {
            if let Some(wanted) = bootproof.get(name) {
                assert_eq!(spec, wanted, "fuzz/Cargo.toml declares {name} unlike Cargo.toml");
            }
        }
    }

    #[test]
    fn every_target_has_a_corpus() {
        for (target, _) in TARGETS {
            let count = std::fs::read_dir(corpus_dir(target)).map(|entries| entries.count()).unwrap_or(0);
            assert!(count > 0, "fuzz/corpus/{target} is empty or missing");
        }
    }

    #[test]
    fn the_fuzz_corpus_replays_without_a_panic_in_bounded_time() {
        let mut replayed = 0;
        let mut slow = Vec::new();
        for (target, run) in TARGETS {
            for path in inputs(target) {
                let data = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
                let started = Instant::now();
                let outcome = std::panic::catch_unwind(|| run(&data));
                let took = started.elapsed();
                assert!(outcome.is_ok(), "{target}: {} panics (see the message above)", path.display());
                if took > PER_INPUT {
                    slow.push(format!("{target}: {} took {took:?}", path.display()));
                }
                replayed += 1;
            }
        }
        assert!(slow.is_empty(), "inputs slower than {PER_INPUT:?}:\n{}", slow.join("\n"));
        assert!(replayed > 0, "no corpus input was replayed");
    }
}
