//! The one place that wires a command: facts (gathered or loaded) → invariants → report → output.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{CheckArgs, Cli, Command, FactsArgs, Format, PlanArgs, PlanFormat};
use crate::alert::state;
use crate::config::{self, CheckConfig};
use crate::facts::{BootRecord, FACTS_SCHEMA, Fact, Facts};
use crate::invariants::{self, CheckId};
use crate::report::{self, Finding, HostSummary, Report};
use crate::exit;

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
    let config = check_config(args.config.as_deref(), live)?;
    let remember = live && !args.no_state;
    let facts = match &args.facts {
        Some(path) => load_facts(path)?,
        None => {
            let mut facts = gather_facts(&pm2_homes(&config, &args.pm2_homes), false)?;
            if remember {
                facts.previous_boot = remembered(&args.state, &facts);
            }
            facts
        }
    };
    let findings = invariants::severity::apply(invariants::evaluate(&facts, &config), &config.severity);
    let findings = select(findings, &args.only, &args.skip);
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
        None => gather_facts(&pm2_homes(&config, &[]), false)?,
    };
    // Severity overrides change what fails, not what comes back: plan judges the raw findings.
    let findings = invariants::evaluate(&facts, &config);
    let plan = report::plan::build(&facts, &findings);
    let text = match args.format {
        PlanFormat::Human => report::plan::render(&plan),
        PlanFormat::Json => {
            let mut text = serde_json::to_string_pretty(&plan).context("failed to serialise the plan").map_err(AppError::Usage)?;
            text.push('\n');
            text
        }
    };
    emit(&text, args.output.as_deref(), args.format == PlanFormat::Human)?;
    let lost = plan.units.iter().any(|u| !u.verdict.comes_back)
        || plan.pm2.iter().any(|h| !h.daemon.comes_back || h.apps.iter().any(|a| !a.verdict.comes_back));
    Ok(ExitCode::from(if lost { exit::FAILED } else { exit::OK }))
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
    let homes = pm2_homes(&config, &args.pm2_homes);
    let mut facts = gather_facts(&homes, args.without_systemd)?;
    if !args.no_state {
        facts.previous_boot = remembered(&args.state, &facts);
    }
    let mut text = serde_json::to_string_pretty(&facts).context("failed to serialise the facts").map_err(AppError::Usage)?;
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

/// PM2 homes to look in besides the discovered ones: the check file's, then the flag's.
fn pm2_homes(config: &CheckConfig, extra: &[String]) -> Vec<String> {
    let mut homes: Vec<String> = config.pm2.iter().map(|p| p.home.clone()).collect();
    homes.extend(extra.iter().cloned());
    homes
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

/// Gathers the host's facts, with extra PM2 homes; `without_systemd` leaves out all
/// systemd asks (see `gather_without_systemd`).
fn gather_facts(pm2_homes: &[String], without_systemd: bool) -> Result<Facts, AppError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
        .map_err(AppError::CannotCheck)?;
    if without_systemd {
        return Ok(runtime.block_on(crate::facts::gather::gather_without_systemd(pm2_homes)));
    }
    runtime
        .block_on(crate::facts::gather::gather_with(pm2_homes))
        .map_err(|err| AppError::CannotCheck(err.into()))
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
