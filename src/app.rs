//! The one place that wires a command: facts (gathered or loaded) → invariants → report → output.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::alert::{self, SecretUrl};
use crate::cli::{
    AlertArgs, AlertOn, CheckArgs, Cli, Command, FactsArgs, Format, InitArgs, PlanArgs, PlanFormat, TimerAction,
    TimerArgs, TimerPrintArgs, WebhookFormat, WriteArg,
};
use crate::config::{self, CheckConfig, HealthSpec, SeverityOverride};
use crate::exit;
use crate::facts::gather::Needs;
use crate::facts::{BootRecord, Fact, Facts};
use crate::invariants;
use crate::progress::Progress;
use crate::report::{self, HostSummary, Report};
use crate::state;
use crate::timer;
use crate::timings;
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
    /// `timer install|remove` could not change the host: no bus, no permission.
    #[error("{0:#}")]
    CannotChange(anyhow::Error),
    /// Writing the output failed (a closed pipe is handled by `main`).
    #[error("failed to write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl AppError {
    /// The documented exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_) => exit::USAGE,
            AppError::CannotCheck(_) | AppError::CannotChange(_) => exit::CANNOT_CHECK,
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
        Command::Timer { action } => timer(&action),
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

/// `bootproof check`: judges the host (or a facts file), reports, alerts on what changed,
/// and sends the heartbeat, which goes out whatever happened before it: a check that could
/// not run, or whose check file is broken, pings `URL/fail`.
fn check(args: &CheckArgs) -> Result<ExitCode, AppError> {
    let mut setup = alert_setup(&args.alerts)?;
    // Alerts and the heartbeat speak of this host now, and alerts need the state file. The
    // URLs may come from the environment, set for every check of this shell: say why
    // nothing is sent rather than refusing to judge a facts file.
    if args.facts.is_some() && (setup.alerting.is_some() || setup.ping.is_some()) {
        eprintln!("bootproof: note: --facts judges a facts file: no alert or heartbeat is sent");
        setup = AlertSetup { alerting: None, ping: None };
    } else if args.no_state && setup.alerting.take().is_some() {
        eprintln!("bootproof: note: --no-state: no alerts (what changed is known from the state file)");
    }
    let started = Instant::now();
    let outcome = match checked(args, started, setup.alerting.as_ref()) {
        // A host that cannot be checked at all still gets its monitoring output: a
        // textfile saying bootproof_up 0, a plugin line saying UNKNOWN.
        // The files of `--write` in these formats too, so the timer's textfile says it.
        Err(AppError::CannotCheck(err)) => {
            let why = format!("{err:#}");
            if let Some(text) = not_checked(args.format, &why, started) {
                emit(&text, args.output.as_deref(), false)?;
            }
            let written: Vec<(&WriteArg, String)> = args
                .writes
                .iter()
                .filter_map(|write| Some((write, not_checked(write.format, &why, started)?)))
                .collect();
            let failed = write_reports(written.iter().map(|(write, text)| (*write, text.as_str())));
            if !failed.is_empty() {
                eprintln!("bootproof: {}", failed.join("; "));
            }
            Err(AppError::CannotCheck(err))
        }
        other => other,
    };
    if let Some(ping) = &setup.ping {
        let passed = matches!(outcome, Ok(Checked { passed: true, .. }));
        let note = runtime().map(|rt| rt.block_on(alert::heartbeat::ping(ping, passed, &alert::deliver::Bounds::RUN)));
        match note {
            Ok(None) => {}
            Ok(Some(note)) => eprintln!("bootproof: note: {note}"),
            Err(err) => eprintln!("bootproof: note: heartbeat {ping}: {err}"),
        }
    }
    if args.timings {
        eprint!("{}", timings::render());
    }
    outcome.map(|checked| ExitCode::from(checked.code))
}

/// What a monitoring format says of a host that could not be checked at all (a textfile
/// with `bootproof_up 0`, a plugin line saying UNKNOWN); `None` for the other formats,
/// which have no verdict to give.
fn not_checked(format: Format, why: &str, started: Instant) -> Option<String> {
    match format {
        Format::Nagios => Some(report::nagios::render_not_checked(why)),
        Format::Prometheus => Some(report::prometheus::render_not_checked(
            crate::facts::procfs::hostname().ok().map(String::as_str),
            &run_figures(started, false),
        )),
        Format::Human | Format::Json | Format::Junit | Format::Html => None,
    }
}

/// Writes each `--write` report (atomically, readable by other users); the failures, each
/// naming its file. One that fails does not stop the others.
fn write_reports<'a>(reports: impl Iterator<Item = (&'a WriteArg, &'a str)>) -> Vec<String> {
    let mut failed = Vec::new();
    for (write, text) in reports {
        let plain = anstream::adapter::strip_str(text).to_string();
        if let Err(err) = crate::atomic::write_for_readers(&write.file, plain.as_bytes()) {
            failed.push(format!("failed to write {}: {err}", write.file.display()));
        }
    }
    failed
}

/// The run's own figures for the Prometheus textfile.
fn run_figures(started: Instant, up: bool) -> report::prometheus::Run<'static> {
    let finished_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    report::prometheus::Run { finished_at, duration: started.elapsed(), up, version: env!("CARGO_PKG_VERSION") }
}

/// How a check ended: its exit code, and whether it passed (for the heartbeat: a pass, or
/// warnings without `--strict`, whatever the output format's own codes).
struct Checked {
    code: u8,
    passed: bool,
}

/// `check`, up to the output, the alerts and the exit code.
fn checked(args: &CheckArgs, started: Instant, alerting: Option<&alert::Alerting>) -> Result<Checked, AppError> {
    let live = args.facts.is_none();
    // Read before anything is gathered: a broken check file is reported at once, bus or not.
    // A facts file is another host's (or another time's): this host's default check file
    // does not apply to it, only one named with --config.
    let mut config = {
        let _span = timings::span("check file");
        check_config(args.config.as_deref(), live)?
    };
    config.health.extend(testing_health_specs(args));
    // Only what the invariants judged read is gathered; a facts file holds everything.
    let needs = if live { invariants::needs::needs(&checks_run(&config, args)) } else { Needs::ALL };
    // A record without the units would make the next boot's check think they all vanished.
    let remember = live && !args.no_state && needs.services;
    let (facts, judgement) = match &args.facts {
        Some(path) => {
            let facts = load_facts(path)?;
            let judgement = judge(&facts, &config, args, needs);
            (facts, judgement)
        }
        None => live_check(args, &config, needs)?,
    };
    let state_span = timings::span("state file");
    if remember && let Some(mut record) = state::record(&facts) {
        // The processes no unit starts: after a reboot only this record can name them.
        record.processes = invariants::processes::seen(&facts);
        // The check's verdict does not depend on being able to remember it.
        if let Err(err) = state::save(&args.state, record) {
            eprintln!("bootproof: note: {err}");
        }
    }
    drop(state_span);
    let render_span = timings::span("rendering");
    // The status page draws the boot chain too, from the same judgement (cheap: pure).
    let plan = report::plan::build(&facts, &judgement);
    let report = Report::new(HostSummary::of(&facts), judgement);
    let render = |format| render_check(format, &report, &plan, args, started);
    let text = render(args.format)?;
    drop(render_span);
    {
        let _span = timings::span("output");
        emit(&text, args.output.as_deref(), args.format == Format::Human)?;
    }
    // The other files of this one check (the timer's status page, JSON and textfile): one
    // gathering, one verdict, one alert, however many files.
    let mut extra = Vec::new();
    for write in &args.writes {
        extra.push((write, render(write.format)?));
    }
    let failed_writes = write_reports(extra.iter().map(|(write, text)| (*write, text.as_str())));
    // After the report is out: delivery may take seconds, and never changes the exit code.
    if let Some(alerting) = alerting {
        let checks_run = checks_run(&config, args);
        match runtime() {
            Ok(rt) => {
                for note in rt.block_on(alert::notify(&args.state, &report, &checks_run, &facts.gathered_at, alerting))
                {
                    eprintln!("bootproof: note: {note}");
                }
            }
            Err(err) => eprintln!("bootproof: note: cannot alert: {err}"),
        }
    }
    if !failed_writes.is_empty() {
        return Err(AppError::Usage(anyhow::anyhow!("{}", failed_writes.join("; "))));
    }
    let code = exit::code_for_status(report.summary.status, args.strict);
    Ok(Checked {
        code: match args.format {
            Format::Nagios => exit::code_for_plugin(report.summary.status),
            _ => code,
        },
        passed: code == exit::OK,
    })
}

/// The report of a check in `format`.
fn render_check(
    format: Format,
    report: &Report,
    plan: &report::plan::Plan,
    args: &CheckArgs,
    started: Instant,
) -> Result<String, AppError> {
    Ok(match format {
        Format::Human => report::human::render(report, args.verbose),
        Format::Html => report::html::render(report, plan),
        Format::Json => report::json::render(report),
        Format::Junit => report::junit::render(report, args.strict)
            .context("failed to render the JUnit report")
            .map_err(AppError::Usage)?,
        Format::Prometheus => {
            let up = exit::code_for_status(report.summary.status, args.strict) != exit::CANNOT_CHECK;
            report::prometheus::render(report, &run_figures(started, up))
        }
        Format::Nagios => report::nagios::render(report, started.elapsed()),
    })
}

/// The invariants this run judged: `--only`/`--skip` and the check file's `off` leave some
/// out, and an alert of one left out is neither resolved nor fired.
fn checks_run(config: &CheckConfig, args: &CheckArgs) -> Vec<CheckId> {
    CheckId::ALL
        .iter()
        .copied()
        .filter(|id| args.only.is_empty() || args.only.contains(id))
        .filter(|id| !args.skip.contains(id))
        .filter(|id| config.severity.get(id) != Some(&SeverityOverride::Off))
        .collect()
}

/// The alerting flags, resolved: webhook and heartbeat URLs validated (their errors never
/// repeat them: they are secrets).
struct AlertSetup {
    alerting: Option<alert::Alerting>,
    ping: Option<SecretUrl>,
}

fn alert_setup(args: &AlertArgs) -> Result<AlertSetup, AppError> {
    let mut webhooks: Vec<SecretUrl> = Vec::new();
    for (n, raw) in args.webhooks.iter().filter(|raw| !raw.0.trim().is_empty()).enumerate() {
        let url = SecretUrl::parse(&raw.0).map_err(|why| {
            AppError::Usage(anyhow::anyhow!("webhook URL #{} (--webhook or BOOTPROOF_WEBHOOK): {why}", n + 1))
        })?;
        if !webhooks.contains(&url) {
            webhooks.push(url);
        }
    }
    let ping = match args.ping.as_ref().filter(|raw| !raw.0.trim().is_empty()) {
        Some(raw) => Some(
            SecretUrl::parse(&raw.0)
                .map_err(|why| AppError::Usage(anyhow::anyhow!("heartbeat URL (--ping or BOOTPROOF_PING): {why}")))?,
        ),
        None => None,
    };
    let format = match args.webhook_format {
        WebhookFormat::Json => alert::Format::Json,
        WebhookFormat::Slack => alert::Format::Slack,
    };
    let policy =
        alert::Policy { alert_after: args.alert_after, remind: args.remind, on_warn: args.alert_on == AlertOn::Warn };
    let alerting = (!webhooks.is_empty()).then_some(alert::Alerting { webhooks, format, policy });
    Ok(AlertSetup { alerting, ping })
}

/// `bootproof timer print|install|remove`.
fn timer(action: &TimerAction) -> Result<ExitCode, AppError> {
    match action {
        TimerAction::Print(TimerPrintArgs { timer: args, package_units: None }) => {
            let (files, _, problems) = timer_files(args, timer::units::Origin::Install)?;
            // What install would write, shown even so; install refuses.
            let hidden = hidden_from_the_service(&installed_binary()?);
            for why in hidden.iter().chain(&problems) {
                eprintln!("bootproof: warning: {why}");
            }
            write_stdout(timer::units::show(&files).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        TimerAction::Print(TimerPrintArgs { timer: args, package_units: Some(dir) }) => package_units(args, dir),
        TimerAction::Install(args) => {
            if let Some(why) = hidden_from_the_service(&installed_binary()?) {
                return Err(AppError::Usage(anyhow::anyhow!(why)));
            }
            let (files, summary, problems) = timer_files(args, timer::units::Origin::Install)?;
            if !problems.is_empty() {
                return Err(AppError::Usage(anyhow::anyhow!("{}", problems.join("; "))));
            }
            must_be_root("timer install")?;
            let applied = runtime()?.block_on(timer::install::install(&files, &summary));
            applied_changes(applied, "bootproof's timer is installed as asked and active: nothing to change")
        }
        TimerAction::Remove => {
            must_be_root("timer remove")?;
            let applied = runtime()?.block_on(timer::install::remove_all());
            let removed_something = !applied.changes.is_empty();
            let code = applied_changes(applied, "bootproof's timer is not installed: nothing to remove")?;
            let state = Path::new(state::DEFAULT_STATE_FILE);
            if removed_something && state.exists() {
                write_stdout(
                    format!(
                        "kept {}: bootproof's memory of earlier checks (remove it by hand if it should go too)\n",
                        state.display()
                    )
                    .as_bytes(),
                )?;
            }
            Ok(code)
        }
    }
}

/// Prints what a timer command changed, one line each; then the error that stopped it.
fn applied_changes(applied: timer::install::Applied, unchanged: &str) -> Result<ExitCode, AppError> {
    let mut text: String = applied.changes.iter().map(|change| format!("{change}\n")).collect();
    if applied.changes.is_empty() && applied.error.is_none() {
        text = format!("{unchanged}\n");
    }
    write_stdout(text.as_bytes())?;
    match applied.error {
        None => Ok(ExitCode::SUCCESS),
        Some(err) => Err(AppError::CannotChange(anyhow::Error::new(err))),
    }
}

/// `timer install|remove` change the host: only root may (and a half-done install as
/// another user helps nobody).
fn must_be_root(what: &str) -> Result<(), AppError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(());
    }
    Err(AppError::CannotChange(anyhow::anyhow!(
        "{what} changes the host's systemd units: run it as root (sudo bootproof {what})"
    )))
}

/// `timer print --package-units DIR` (hidden, for ci/package): the two units as the
/// package ships them, rendered by the same code as `timer install`'s, written into DIR.
fn package_units(args: &TimerArgs, dir: &Path) -> Result<ExitCode, AppError> {
    if !args.alerts.webhooks.is_empty() || args.alerts.ping.is_some() {
        return Err(AppError::Usage(anyhow::anyhow!(
            "a package ships no webhook or heartbeat URL: they are the operator's secrets (`timer install` takes them)"
        )));
    }
    let (files, _, problems) = timer_files(args, timer::units::Origin::Package)?;
    if !problems.is_empty() {
        return Err(AppError::Usage(anyhow::anyhow!("{}", problems.join("; "))));
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("failed to create {}", dir.display()))
        .map_err(AppError::Usage)?;
    let mut said = String::new();
    for (name, text) in [(timer::units::TIMER, &files.timer), (timer::units::SERVICE, &files.service)] {
        let path = dir.join(name);
        crate::atomic::write(&path, text.as_bytes(), 0o644)
            .with_context(|| format!("failed to write {}", path.display()))
            .map_err(AppError::Usage)?;
        said.push_str(&format!("wrote {}\n", path.display()));
    }
    write_stdout(said.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The files `timer print|install` write for `args` (or a package ships), and what the
/// timer will do in words.
fn timer_files(
    args: &TimerArgs,
    origin: timer::units::Origin,
) -> Result<(timer::units::UnitFiles, String, Vec<String>), AppError> {
    let usage = |err: anyhow::Error| AppError::Usage(err);
    let binary = match origin {
        timer::units::Origin::Package => std::path::PathBuf::from(timer::units::PACKAGED_BINARY),
        timer::units::Origin::Install => installed_binary()?,
    };
    let (outputs, problems) = timer_outputs(args, origin)?;
    let config = match &args.config {
        Some(path) => {
            let path = timer::units::absolute(path)
                .with_context(|| format!("cannot make {} absolute", path.display()))
                .map_err(usage)?;
            // Broken now, broken in every run of the service: say so now.
            check_config(Some(&path), true)?;
            Some(path)
        }
        None => None,
    };
    if args.every < std::time::Duration::from_secs(1) {
        return Err(usage(anyhow::anyhow!("--every must be at least 1s")));
    }
    let setup = alert_setup(&args.alerts)?;
    let mut alert_flags = Vec::new();
    let (webhooks, ping) = (setup.alerting.as_ref().map(|a| a.webhooks.clone()).unwrap_or_default(), setup.ping);
    if let Some(alerting) = &setup.alerting {
        alert_flags.extend(["--webhook-format".to_owned(), alerting.format.as_str().to_owned()]);
        alert_flags.extend(["--alert-after".to_owned(), alerting.policy.alert_after.to_string()]);
        if let Some(remind) = alerting.policy.remind {
            alert_flags.extend(["--remind".to_owned(), timer::units::span(remind)]);
        }
        if alerting.policy.on_warn {
            alert_flags.extend(["--alert-on".to_owned(), "warn".to_owned()]);
        }
    }
    let spec = timer::units::TimerSpec {
        binary,
        after_boot: args.after_boot,
        every: args.every,
        config,
        alert_flags,
        webhooks,
        ping,
        outputs,
        origin,
    };
    let mut summary = format!(
        "the first check runs {} after boot (at once when the boot was longer ago), then every {}",
        timer::units::span(args.after_boot),
        timer::units::span(args.every)
    );
    let files: Vec<String> = spec.outputs.iter().map(|output| output.file.display().to_string()).collect();
    if !files.is_empty() {
        summary.push_str(&format!("; each writes {}", files.join(", ")));
    }
    Ok((timer::units::render(&spec), summary, problems))
}

/// What the sandboxed service has a private copy of: nothing it finds or writes there is
/// what the host has.
const PRIVATE_TO_THE_SERVICE: [&str; 3] = ["/tmp", "/var/tmp", "/dev/shm"];

/// The bootproof binary the installed service runs: this one.
fn installed_binary() -> Result<std::path::PathBuf, AppError> {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot tell where this bootproof binary is, for the service to run it")
        .map_err(AppError::Usage)
}

/// Why the service could not run `binary`, when it could not: it sits where the sandbox
/// gives the service a directory of its own.
fn hidden_from_the_service(binary: &Path) -> Option<String> {
    let private = PRIVATE_TO_THE_SERVICE.into_iter().find(|private| binary.starts_with(private))?;
    Some(format!(
        "the service could not run {}: {private} is private to it (PrivateTmp=, PrivateDevices=); \
         install bootproof first (e.g. to /usr/local/bin) and run that one",
        binary.display()
    ))
}

/// The reports the timer's check writes besides its journal: `--html`, `--json`, and the
/// Prometheus textfile; and what is wrong with them, which `install` refuses and `print`
/// warns of: a file where the sandbox gives the service a directory of its own, or (on
/// this host) in a directory that does not exist (the service may write in it, not make
/// it). The default textfile directory is used only when it exists, and said so when it
/// does not. A package's units take the default as it is: the directory is the target
/// host's.
fn timer_outputs(
    args: &TimerArgs,
    origin: timer::units::Origin,
) -> Result<(Vec<timer::units::ServiceOutput>, Vec<String>), AppError> {
    use timer::units::{DEFAULT_TEXTFILE_DIR, ServiceOutput};
    let on_this_host = origin == timer::units::Origin::Install;
    let mut problems = Vec::new();
    let mut absolute = |path: &Path, flag: &str| {
        let path = timer::units::absolute(path)
            .with_context(|| format!("cannot make {flag} {} absolute", path.display()))
            .map_err(AppError::Usage)?;
        let dir = if flag == "--textfile-dir" { Some(path.as_path()) } else { path.parent() };
        if let Some(private) = PRIVATE_TO_THE_SERVICE.iter().find(|private| path.starts_with(private)) {
            problems.push(format!(
                "{flag} {}: {private} is private to the service (PrivateTmp=, PrivateDevices=): \
                 nothing else would ever see the file",
                path.display()
            ));
        } else if on_this_host && let Some(dir) = dir.filter(|dir| !dir.is_dir()) {
            problems.push(format!(
                "{flag} {}: {} is not a directory on this host: create it first (the service may write in it, \
                 not create it)",
                path.display(),
                dir.display()
            ));
        }
        Ok::<_, AppError>(path)
    };
    let mut outputs = Vec::new();
    if let Some(html) = &args.html {
        outputs.push(ServiceOutput::report("html", &absolute(html, "--html")?));
    }
    if let Some(json) = &args.json {
        outputs.push(ServiceOutput::report("json", &absolute(json, "--json")?));
    }
    match &args.textfile_dir {
        _ if args.no_textfile => {}
        Some(dir) => outputs.push(ServiceOutput::textfile(&absolute(dir, "--textfile-dir")?)),
        None if !on_this_host || Path::new(DEFAULT_TEXTFILE_DIR).is_dir() => {
            outputs.push(ServiceOutput::textfile(Path::new(DEFAULT_TEXTFILE_DIR)));
        }
        None => eprintln!(
            "bootproof: note: no Prometheus textfile: {DEFAULT_TEXTFILE_DIR} (node_exporter's textfile collector \
             on Debian) is not on this host; --textfile-dir DIR names another"
        ),
    }
    Ok((outputs, problems))
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
/// either: they change what is reported and what it costs, not what comes back) — unless
/// they left out every invariant about the services: then none was gathered (see
/// `invariants::needs`), and the report predicts nothing rather than from nothing.
fn judge(facts: &Facts, config: &CheckConfig, args: &CheckArgs, needs: Needs) -> Judgement {
    let _span = timings::span("judging");
    let Judgement { findings, mut predictions } = invariants::evaluate(facts, config);
    if !needs.services {
        predictions.clear();
    }
    let findings = invariants::severity::apply(findings, &config.severity);
    Judgement { findings: select(findings, &args.only, &args.skip), predictions }
}

/// Gathers and judges this host once, or, with `--wait`, until nothing time-sensitive is
/// pending or the deadline has passed. Everything is gathered again each round: it takes
/// tens of milliseconds, and a report built from one round's facts is consistent (an
/// endpoint that answered early may have gone down since).
fn live_check(args: &CheckArgs, config: &CheckConfig, needs: Needs) -> Result<(Facts, Judgement), AppError> {
    let runtime = runtime()?;
    let wanted = Wanted { needs, ..Wanted::of(config, &args.pm2_homes) };
    let round = || -> Result<(Facts, Judgement), AppError> {
        let mut facts =
            runtime.block_on(gather_all(&wanted, false)).map_err(|err| AppError::CannotCheck(err.into()))?;
        // The units that ran before the boot are compared with the units now: only when
        // the units were gathered.
        if !args.no_state && needs.services {
            facts.previous_boot = remembered(&args.state, &facts);
        }
        let judgement = judge(&facts, config, args, needs);
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
    /// Which facts at all (see `invariants::needs`).
    needs: Needs,
    pm2_homes: Vec<String>,
    units: Vec<String>,
    health: &'a [HealthSpec],
}

impl<'a> Wanted<'a> {
    fn of(config: &'a CheckConfig, extra_homes: &[String]) -> Self {
        let mut pm2_homes: Vec<String> = config.pm2.iter().map(|p| p.home.clone()).collect();
        pm2_homes.extend(extra_homes.iter().cloned());
        Wanted {
            needs: Needs::ALL,
            pm2_homes,
            units: config.units.iter().map(|u| u.name.clone()).collect(),
            health: &config.health,
        }
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
    let _span = timings::span("async runtime start");
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
            Ok(crate::facts::gather::gather_without_systemd(
                &wanted.pm2_homes,
                "not gathered: systemd was not asked",
                wanted.needs,
            )
            .await)
        } else {
            crate::facts::gather::gather_with(&wanted.pm2_homes, &wanted.units, wanted.needs).await
        }
    };
    let health = if wanted.needs.probes { wanted.health } else { &[] };
    if health.is_empty() {
        return facts.await;
    }
    // The probes run on a thread (and runtime) of their own: setting up dozens of requests
    // and reading their answers is CPU the D-Bus replies would otherwise queue behind, and
    // the other core is there. They start at once and share nothing with the rest.
    let specs = health.to_vec();
    let probing = std::thread::Builder::new().name("probes".to_owned()).spawn(move || match runtime() {
        Ok(runtime) => runtime.block_on(crate::facts::http::probe_all(&specs)),
        Err(err) => not_probed(&specs, &format!("{err:#}")),
    });
    let mut facts = facts.await?;
    facts.http = match probing {
        Ok(probing) => probing.join().unwrap_or_else(|_| not_probed(health, "the probing thread failed")),
        Err(err) => not_probed(health, &format!("cannot start the probing thread: {err}")),
    };
    Ok(facts)
}

/// Every endpoint as not probed, and why: an error for each, never a pass.
fn not_probed(specs: &[HealthSpec], why: &str) -> Vec<crate::facts::HttpFacts> {
    specs
        .iter()
        .map(|spec| crate::facts::HttpFacts {
            spec: spec.clone(),
            outcome: crate::facts::HttpOutcome::Other { reason: format!("not probed: {why}") },
        })
        .collect()
}

/// Reads a facts file (this schema or v1); anything wrong with it is a usage error
/// naming the file and the place.
pub(crate) fn load_facts(path: &Path) -> Result<Facts, AppError> {
    let text = crate::facts::saved::read(path)
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
            // All of it or none of it: a CI job, a timer or an operator reading the file
            // must never find half a report, nor lose the last one to a full disk.
            crate::atomic::write(path, plain.as_bytes(), 0o644)
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
