//! The one place that wires a command: facts (gathered or loaded) → invariants → report → output.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::future::join;

use crate::alert::state;
use crate::cli::{CheckArgs, Cli, Command, FactsArgs, Format, InitArgs, PlanArgs, PlanFormat};
use crate::config::HealthSpec;
use crate::config::{self, CheckConfig};
use crate::exit;
use crate::facts::{BootRecord, FACTS_SCHEMA, Fact, Facts};
use crate::invariants::{self, CheckId};
use crate::report::{self, Finding, HostSummary, Report};
use crate::wait;

/// Why a command could not finish; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// Bad input from the operator: a facts file, an output path.
    #[error("{0:#}")]
    Usage(anyhow::Error),
    /// The host could not be checked: no bus, no permission.
    #[error("{0:#}")]
    CannotCheck(anyhow::Error),
    /// Writing the output failed (a closed pipe is handled by `main`).
    #[error("failed to write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl AppError {
    /// The documented exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_) => exit::USAGE,
            AppError::CannotCheck(_) => exit::CANNOT_CHECK,
            AppError::Output(_) => exit::USAGE,
        }
    }
}

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> Result<ExitCode, AppError> {
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Plan(args) => plan(&args),
        Command::Init(args) => init(&args),
        Command::Facts(args) => facts(&args),
        Command::Explain { id } => {
            let text = match id {
                Some(id) => report::explain::entry(id),
                None => report::explain::catalogue(),
            };
            write_stdout(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "bootproof", &mut out);
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(args: &CheckArgs) -> Result<ExitCode, AppError> {
    let live = args.facts.is_none();
    // Read before anything is gathered: a broken check file is reported at once, bus or not.
    // A facts file is another host's (or another time's): this host's default check file
    // does not apply to it, only one named with --config.
    let mut config = check_config(args.config.as_deref(), live)?;
    config.health.extend(testing_health_specs(args));
    let remember = live && !args.no_state;
    let (facts, findings) = match &args.facts {
        Some(path) => {
            let facts = load_facts(path)?;
            let findings = judge(&facts, &config, args);
            (facts, findings)
        }
        None => live_check(args, &config)?,
    };
    if remember && let Some(record) = state::record(&facts) {
        // The check's verdict does not depend on being able to remember it.
        if let Err(err) = state::save(&args.state, record) {
            eprintln!("bootproof: note: {err}");
        }
    }
    let report = Report::new(host_summary(&facts), findings);
    let text = match args.format {
        Format::Human => report::human::render(&report),
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report, args.strict)
            .context("failed to render the JUnit report")
            .map_err(AppError::Usage)?,
    };
    emit(&text, args.output.as_deref(), args.format == Format::Human)?;
    Ok(exit::for_status(report.summary.status, args.strict))
}

/// `bootproof plan`: the boot chain, judged by the same invariants as `check`. Exits like
/// `check` does, so a CI gate can run either.
fn plan(args: &PlanArgs) -> Result<ExitCode, AppError> {
    let config = check_config(args.config.as_deref(), args.facts.is_none())?;
    let facts = match &args.facts {
        Some(path) => load_facts(path)?,
        // The chain needs no health probes.
        None => gather_facts(&Wanted { health: &[], ..Wanted::of(&config, &[]) }, false)?,
    };
    // Severity overrides change what fails, not what comes back: plan judges the raw findings.
    let findings = invariants::evaluate(&facts, &config);
    let plan = report::plan::build(&facts, &findings);
    let text = match args.format {
        PlanFormat::Human => report::plan::render(&plan),
        PlanFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&plan).context("failed to serialise the plan").map_err(AppError::Usage)?;
            text.push('\n');
            text
        }
    };
    emit(&text, args.output.as_deref(), args.format == PlanFormat::Human)?;
    let lost = plan.units.iter().any(|u| !u.verdict.comes_back)
        || plan.pm2.iter().any(|h| !h.daemon.comes_back || h.apps.iter().any(|a| !a.verdict.comes_back));
    Ok(ExitCode::from(if lost { exit::FAILED } else { exit::OK }))
}

/// The hidden `--health URL` testing aid: one `[[health]]` entry with its defaults per URL,
/// so a test can probe an endpoint without writing a check file.
fn testing_health_specs(args: &CheckArgs) -> Vec<HealthSpec> {
    args.health_urls
        .iter()
        .map(|url| HealthSpec { insecure: args.health_insecure, ..HealthSpec::new(url.clone()) })
        .collect()
}

/// Judges facts: the invariants, then the check file's severity overrides, then
/// `--only`/`--skip`.
fn judge(facts: &Facts, config: &CheckConfig, args: &CheckArgs) -> Vec<Finding> {
    let findings = invariants::severity::apply(invariants::evaluate(facts, config), &config.severity);
    select(findings, &args.only, &args.skip)
}

/// Gathers and judges this host once, or, with `--wait`, until nothing time-sensitive is
/// pending or the deadline has passed. Everything is gathered again each round: it takes
/// tens of milliseconds, and a report built from one round's facts is consistent (an
/// endpoint that answered early may have gone down since).
fn live_check(args: &CheckArgs, config: &CheckConfig) -> Result<(Facts, Vec<Finding>), AppError> {
    let runtime = runtime()?;
    let round = || -> Result<(Facts, Vec<Finding>), AppError> {
        let mut facts = runtime
            .block_on(gather_all(&Wanted::of(config, &args.pm2_homes), false))
            .map_err(|err| AppError::CannotCheck(err.into()))?;
        if !args.no_state {
            facts.previous_boot = remembered(&args.state, &facts);
        }
        let findings = judge(&facts, config, args);
        Ok((facts, findings))
    };
    let Some(wait) = args.wait else { return round() };
    let started = Instant::now();
    let deadline = started + wait;
    let mut progress = Progress::new(wait);
    let mut backoff = wait::Backoff::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (facts, findings) = match round() {
            Ok(checked) => checked,
            // Early in a boot the system bus may not be up yet: that is worth waiting for too.
            Err(AppError::CannotCheck(err)) if !left.is_zero() => {
                progress.cannot_check_yet(&format!("{err:#}"), left);
                std::thread::sleep(backoff.pause(left));
                continue;
            }
            Err(err) => {
                progress.clear();
                return Err(err);
            }
        };
        let pending = wait::pending(&facts, &findings);
        let left = deadline.saturating_duration_since(Instant::now());
        if pending.is_empty() || left.is_zero() {
            progress.done(pending.len(), started.elapsed());
            return Ok((facts, findings));
        }
        let pause = backoff.pause(left);
        progress.pause(&pending, deadline, pause);
    }
}

/// What `--wait` shows on stderr. On a terminal: one line redrawn in place, counting
/// down. Otherwise (a log, a pipe): a line only when what is pending changes.
struct Progress {
    terminal: bool,
    wait: Duration,
    /// What the last plain line said was pending, so an unchanged state is not repeated.
    last: Option<Vec<String>>,
}

impl Progress {
    /// How often the terminal line is redrawn while pausing.
    const REDRAW: Duration = Duration::from_millis(250);

    fn new(wait: Duration) -> Self {
        Progress { terminal: std::io::stderr().is_terminal(), wait, last: None }
    }

    /// Shows what is pending and sleeps `pause`, redrawing the countdown on a terminal.
    fn pause(&mut self, pending: &[&Finding], deadline: Instant, pause: Duration) {
        let until = Instant::now() + pause;
        if !self.terminal {
            let keys = wait::keys(pending);
            if self.last.as_ref() != Some(&keys) {
                eprintln!(
                    "bootproof: waiting up to {} for {}: {}",
                    wait::whole_seconds(self.wait),
                    pending.len(),
                    keys.join(", ")
                );
                self.last = Some(keys);
            }
            std::thread::sleep(pause);
            return;
        }
        loop {
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            self.draw(&wait::progress_line(pending, left, terminal_width()));
            if now >= until {
                return;
            }
            std::thread::sleep(until.saturating_duration_since(now).min(Self::REDRAW));
        }
    }

    /// Says the host cannot be checked yet (once per reason off a terminal).
    fn cannot_check_yet(&mut self, reason: &str, left: Duration) {
        let line = format!("cannot check yet ({} left): {reason}", wait::whole_seconds(left));
        if self.terminal {
            self.draw(&line);
        } else if self.last.as_ref().and_then(|last| last.first()) != Some(&reason.to_owned()) {
            eprintln!("bootproof: {line}");
            self.last = Some(vec![reason.to_owned()]);
        }
    }

    /// The final word before the report: how long it took, or what is still pending.
    fn done(&mut self, still_pending: usize, waited: Duration) {
        self.clear();
        if self.last.is_none() && still_pending == 0 {
            // Nothing was ever pending: nothing to say.
            return;
        }
        let waited = wait::whole_seconds(waited);
        if still_pending == 0 {
            eprintln!("bootproof: everything waited for came up after {waited}");
        } else {
            eprintln!("bootproof: gave up after {waited}: {still_pending} still not up");
        }
    }

    fn draw(&mut self, line: &str) {
        // Carriage return and erase-line: the next draw replaces this one.
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.last.get_or_insert_with(Vec::new);
    }

    fn clear(&self) {
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// The terminal's width in columns (stderr's), or 80 when it cannot be asked.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own; on failure it
    // writes nothing and returns -1.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 { usize::from(size.ws_col) } else { 80 }
}

/// `bootproof init`: a check file from what runs now. Never replaces a file unless told.
fn init(args: &InitArgs) -> Result<ExitCode, AppError> {
    if let Some(path) = &args.output
        && path.exists()
        && !args.force
    {
        return Err(AppError::Usage(anyhow::anyhow!(
            "{} exists; pass --force to replace it, or review it and edit it by hand",
            path.display()
        )));
    }
    // What runs now, whatever a check file already says.
    let facts = gather_facts(&Wanted::of(&CheckConfig::default(), &[]), false)?;
    let mut ports = config::init::Ports::new();
    for unit in &facts.units {
        if let Some(processes) = unit.service.ok().and_then(|s| s.processes.ok()) {
            let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
            ports.insert(unit.name.clone(), crate::facts::sockets::listening(&pids));
        }
    }
    for home in &facts.pm2 {
        if let Fact::Ok(crate::facts::RpcAnswer::Apps { apps }) = &home.daemon.rpc {
            let mut pids: std::collections::BTreeMap<&str, Vec<u32>> = std::collections::BTreeMap::new();
            for app in apps.iter().filter(|a| a.pid > 0) {
                pids.entry(app.name.as_str()).or_default().push(app.pid);
            }
            for (name, pids) in pids {
                ports.insert(config::init::pm2_app_key(&home.home, name), crate::facts::sockets::listening(&pids));
            }
        }
    }
    let text = config::init::render(&facts, &ports);
    if let Some(path) = &args.output
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))
            .map_err(AppError::Usage)?;
    }
    emit(&text, args.output.as_deref(), false)?;
    Ok(ExitCode::SUCCESS)
}

/// The last check of an earlier boot, from the state file. A corrupt file is moved aside
/// (and said so); one that cannot be read becomes an error fact the report shows.
fn remembered(path: &Path, facts: &Facts) -> Fact<Option<BootRecord>> {
    match state::previous_boot(path, facts.host.boot_id.ok().map(String::as_str)) {
        Ok(previous) => Fact::Ok(previous),
        Err(err @ state::StateError::Corrupt { .. }) => {
            eprintln!("bootproof: note: {err}");
            Fact::Ok(None)
        }
        Err(err) => Fact::Error(err.to_string()),
    }
}

fn facts(args: &FactsArgs) -> Result<ExitCode, AppError> {
    // Read (and so validated) before gathering, like `check` does: its PM2 homes are
    // looked in besides the discovered ones.
    let config = check_config(args.config.as_deref(), true)?;
    let mut facts = gather_facts(&Wanted::of(&config, &args.pm2_homes), args.without_systemd)?;
    if !args.no_state {
        facts.previous_boot = remembered(&args.state, &facts);
    }
    let mut text =
        serde_json::to_string_pretty(&facts).context("failed to serialise the facts").map_err(AppError::Usage)?;
    text.push('\n');
    emit(&text, args.output.as_deref(), false)?;
    Ok(ExitCode::SUCCESS)
}

/// The check file named with `--config`, else the default one when `use_default` (a
/// missing default file is no check file). Any error in it is a usage error (exit 2).
fn check_config(path: Option<&Path>, use_default: bool) -> Result<CheckConfig, AppError> {
    if path.is_none() && !use_default {
        return Ok(CheckConfig::default());
    }
    config::load(path).map_err(|err| AppError::Usage(err.into()))
}

/// What to gather beyond discovery: the check file's PM2 homes (and the hidden flag's),
/// its units, and its health endpoints.
struct Wanted<'a> {
    pm2_homes: Vec<String>,
    units: Vec<String>,
    health: &'a [HealthSpec],
}

impl<'a> Wanted<'a> {
    fn of(config: &'a CheckConfig, extra_homes: &[String]) -> Self {
        let mut pm2_homes: Vec<String> = config.pm2.iter().map(|p| p.home.clone()).collect();
        pm2_homes.extend(extra_homes.iter().cloned());
        Wanted { pm2_homes, units: config.units.iter().map(|u| u.name.clone()).collect(), health: &config.health }
    }
}

/// Keeps the findings `--only`/`--skip` ask for.
fn select(findings: Vec<Finding>, only: &[CheckId], skip: &[CheckId]) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| only.is_empty() || only.contains(&f.check))
        .filter(|f| !skip.contains(&f.check))
        .collect()
}

fn host_summary(facts: &Facts) -> HostSummary {
    HostSummary {
        hostname: facts.host.hostname.ok().cloned(),
        boot_id: facts.host.boot_id.ok().cloned(),
        booted_at: facts.host.booted_at.ok().cloned(),
        system_state: facts.host.system_state.ok().cloned(),
    }
}

/// Gathers the host's facts, with extra PM2 homes and the check file's health probes;
/// `without_systemd` leaves out all systemd asks (see `gather_without_systemd`).
fn gather_facts(wanted: &Wanted, without_systemd: bool) -> Result<Facts, AppError> {
    runtime()?.block_on(gather_all(wanted, without_systemd)).map_err(|err| AppError::CannotCheck(err.into()))
}

fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
        .map_err(AppError::CannotCheck)
}

/// systemd, /proc, PM2 and the health endpoints, all at once: the probes do not wait for D-Bus.
async fn gather_all(wanted: &Wanted<'_>, without_systemd: bool) -> Result<Facts, crate::facts::gather::GatherError> {
    let facts = async {
        if without_systemd {
            Ok(crate::facts::gather::gather_without_systemd(&wanted.pm2_homes).await)
        } else {
            crate::facts::gather::gather_with(&wanted.pm2_homes, &wanted.units).await
        }
    };
    let (facts, http) = join(facts, crate::facts::http::probe_all(wanted.health)).await;
    let mut facts = facts?;
    facts.http = http;
    Ok(facts)
}

/// Reads a facts file; anything wrong with it is a usage error naming the file and the place.
pub(crate) fn load_facts(path: &Path) -> Result<Facts, AppError> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the facts file {}", path.display()))
        .map_err(AppError::Usage)?;
    let facts: Facts = serde_json::from_str(&text)
        .with_context(|| format!("facts file {} is not valid", path.display()))
        .map_err(AppError::Usage)?;
    if facts.schema != FACTS_SCHEMA {
        return Err(AppError::Usage(anyhow::anyhow!(
            "facts file {} has schema {:?}; this bootproof reads {FACTS_SCHEMA:?}",
            path.display(),
            facts.schema
        )));
    }
    Ok(facts)
}

/// Writes `text` to the file or to stdout. Human output keeps its colour only on a terminal
/// (and not under NO_COLOR); a file never gets escape codes. A reader that went away
/// (`bootproof check | head`) is not an error: the verdict still decides the exit code.
fn emit(text: &str, output: Option<&Path>, styled: bool) -> Result<(), AppError> {
    match write_to(text, output, styled) {
        Err(AppError::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn write_to(text: &str, output: Option<&Path>, styled: bool) -> Result<(), AppError> {
    match output {
        Some(path) => {
            let plain = anstream::adapter::strip_str(text).to_string();
            std::fs::write(path, plain)
                .with_context(|| format!("failed to write {}", path.display()))
                .map_err(AppError::Usage)
        }
        None if styled => {
            let mut out = anstream::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
        None => write_stdout(text.as_bytes()),
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), AppError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
