//! The one place that wires a command: facts (gathered or loaded) → invariants → report → output.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use futures_util::future::join;

use crate::cli::{CheckArgs, Cli, Command, FactsArgs, Format, InitArgs, PlanArgs, PlanFormat};
use crate::config::{self, CheckConfig, HealthSpec};
use crate::exit;
use crate::facts::{BootRecord, Fact, Facts};
use crate::invariants;
use crate::progress::Progress;
use crate::report::{self, HostSummary, Report};
use crate::state;
use crate::verdict::{CheckId, Finding, Judgement};
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
    let started = Instant::now();
    match checked(args, started) {
        // A host that cannot be checked at all still gets its monitoring output: a
        // textfile saying bootproof_up 0, a plugin line saying UNKNOWN.
        Err(AppError::CannotCheck(err)) if matches!(args.format, Format::Prometheus | Format::Nagios) => {
            let text = match args.format {
                Format::Nagios => report::nagios::render_not_checked(&format!("{err:#}")),
                _ => report::prometheus::render_not_checked(
                    crate::facts::procfs::hostname().ok().map(String::as_str),
                    &run_figures(started, false),
                ),
            };
            emit(&text, args.output.as_deref(), false)?;
            Err(AppError::CannotCheck(err))
        }
        other => other,
    }
}

/// The run's own figures for the Prometheus textfile.
fn run_figures(started: Instant, up: bool) -> report::prometheus::Run<'static> {
    let finished_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    report::prometheus::Run { finished_at, duration: started.elapsed(), up, version: env!("CARGO_PKG_VERSION") }
}

/// `check`, up to the output and the exit code.
fn checked(args: &CheckArgs, started: Instant) -> Result<ExitCode, AppError> {
    let live = args.facts.is_none();
    // Read before anything is gathered: a broken check file is reported at once, bus or not.
    // A facts file is another host's (or another time's): this host's default check file
    // does not apply to it, only one named with --config.
    let mut config = check_config(args.config.as_deref(), live)?;
    config.health.extend(testing_health_specs(args));
    let remember = live && !args.no_state;
    let (facts, judgement) = match &args.facts {
        Some(path) => {
            let facts = load_facts(path)?;
            let judgement = judge(&facts, &config, args);
            (facts, judgement)
        }
        None => live_check(args, &config)?,
    };
    if remember && let Some(mut record) = state::record(&facts) {
        // The processes no unit starts: after a reboot only this record can name them.
        record.processes = invariants::processes::seen(&facts);
        // The check's verdict does not depend on being able to remember it.
        if let Err(err) = state::save(&args.state, record) {
            eprintln!("bootproof: note: {err}");
        }
    }
    // The status page draws the boot chain too, from the same judgement (cheap: pure).
    let plan = report::plan::build(&facts, &judgement);
    let report = Report::new(HostSummary::of(&facts), judgement);
    let text = match args.format {
        Format::Human => report::human::render(&report, args.verbose),
        Format::Html => report::html::render(&report, &plan),
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report, args.strict)
            .context("failed to render the JUnit report")
            .map_err(AppError::Usage)?,
        Format::Prometheus => {
            let up = exit::code_for_status(report.summary.status, args.strict) != exit::CANNOT_CHECK;
            report::prometheus::render(&report, &run_figures(started, up))
        }
        Format::Nagios => report::nagios::render(&report, started.elapsed()),
    };
    emit(&text, args.output.as_deref(), args.format == Format::Human)?;
    Ok(match args.format {
        Format::Nagios => exit::for_plugin(report.summary.status),
        _ => exit::for_status(report.summary.status, args.strict),
    })
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
    // Severity overrides change what fails, not what comes back: plan reads the prediction.
    let judgement = invariants::evaluate(&facts, &config);
    let plan = report::plan::build(&facts, &judgement);
    let text = match args.format {
        PlanFormat::Human => report::plan::render(&plan, args.verbose),
        PlanFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&plan).context("failed to serialise the plan").map_err(AppError::Usage)?;
            text.push('\n');
            text
        }
    };
    emit(&text, args.output.as_deref(), args.format == PlanFormat::Human)?;
    Ok(exit::for_plan(judgement.everything_comes_back()))
}

/// The hidden `--health URL` testing aid: one `[[health]]` entry with its defaults per URL,
/// so a test can probe an endpoint without writing a check file.
fn testing_health_specs(args: &CheckArgs) -> Vec<HealthSpec> {
    args.health_urls
        .iter()
        .map(|url| HealthSpec { insecure: args.health_insecure, ..HealthSpec::new(url.clone()) })
        .collect()
}

/// Judges facts: the invariants and the prediction, then the check file's severity
/// overrides and `--only`/`--skip` on the findings (the prediction is judged before
/// either: they change what is reported and what it costs, not what comes back).
fn judge(facts: &Facts, config: &CheckConfig, args: &CheckArgs) -> Judgement {
    let Judgement { findings, predictions } = invariants::evaluate(facts, config);
    let findings = invariants::severity::apply(findings, &config.severity);
    Judgement { findings: select(findings, &args.only, &args.skip), predictions }
}

/// Gathers and judges this host once, or, with `--wait`, until nothing time-sensitive is
/// pending or the deadline has passed. Everything is gathered again each round: it takes
/// tens of milliseconds, and a report built from one round's facts is consistent (an
/// endpoint that answered early may have gone down since).
fn live_check(args: &CheckArgs, config: &CheckConfig) -> Result<(Facts, Judgement), AppError> {
    let runtime = runtime()?;
    let round = || -> Result<(Facts, Judgement), AppError> {
        let mut facts = runtime
            .block_on(gather_all(&Wanted::of(config, &args.pm2_homes), false))
            .map_err(|err| AppError::CannotCheck(err.into()))?;
        if !args.no_state {
            facts.previous_boot = remembered(&args.state, &facts);
        }
        let judgement = judge(&facts, config, args);
        Ok((facts, judgement))
    };
    let Some(wait) = args.wait else { return round() };
    let started = Instant::now();
    let deadline = started + wait;
    let mut progress = Progress::new(wait);
    let mut backoff = wait::Backoff::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (facts, judgement) = match round() {
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
        let pending = wait::pending(&facts, &judgement.findings);
        let left = deadline.saturating_duration_since(Instant::now());
        if pending.is_empty() || left.is_zero() {
            progress.done(pending.len(), started.elapsed());
            return Ok((facts, judgement));
        }
        let pause = backoff.pause(left);
        progress.pause(&pending, deadline, pause);
    }
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
    let judgement = invariants::evaluate(&facts, &CheckConfig::default());
    let text = crate::init::render(&facts, &judgement, &crate::facts::sockets::service_ports(&facts));
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
            Ok(crate::facts::gather::gather_without_systemd(&wanted.pm2_homes, "not gathered: systemd was not asked")
                .await)
        } else {
            crate::facts::gather::gather_with(&wanted.pm2_homes, &wanted.units).await
        }
    };
    let (facts, http) = join(facts, crate::facts::http::probe_all(wanted.health)).await;
    let mut facts = facts?;
    facts.http = http;
    Ok(facts)
}

/// Reads a facts file (this schema or v1); anything wrong with it is a usage error
/// naming the file and the place.
pub(crate) fn load_facts(path: &Path) -> Result<Facts, AppError> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the facts file {}", path.display()))
        .map_err(AppError::Usage)?;
    crate::facts::saved::parse(&text)
        .with_context(|| format!("facts file {} cannot be used", path.display()))
        .map_err(AppError::Usage)
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
