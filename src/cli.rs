//! The command line, as clap parses it. Nothing here runs anything: `app` resolves it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::verdict::CheckId;

/// Will your Node.js services come back after a reboot, and did they?
///
/// bootproof reads systemd (over D-Bus) and /proc, judges named invariants, and says what
/// will not survive the next reboot, or what did not come back from the last one, with the
/// command that fixes it. It changes nothing on the host, but for its own timer when asked
/// (`bootproof timer install|remove`).
#[derive(Debug, Parser)]
#[command(name = "bootproof", version, after_help = crate::exit::HELP, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check the host now and report every invariant.
    #[command(after_help = crate::exit::HELP)]
    Check(CheckArgs),
    /// Draw the boot chain: what starts each service at boot, and what will not come back.
    #[command(after_help = crate::exit::HELP)]
    Plan(PlanArgs),
    /// Write a check file from what this host runs now (PM2 apps, node units and
    /// instance ranges, and the ports they listen on as suggested health endpoints).
    Init(InitArgs),
    /// Print the gathered facts as JSON (input for `check --facts`).
    Facts(FactsArgs),
    /// Check from a systemd timer, after every boot and every few minutes, with alerts:
    /// `print` shows the units, `install` writes and starts them, `remove` undoes it. The
    /// only changes bootproof ever makes to the host.
    #[command(after_help = TIMER_HELP)]
    Timer {
        /// What to do with the timer.
        #[command(subcommand)]
        action: TimerAction,
    },
    /// Explain an invariant: why it exists, what it reads and how to fix it; without an id,
    /// list them all.
    Explain {
        /// Invariant id, e.g. supervisor.enabled.
        id: Option<CheckId>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    Man,
}

/// Output formats of `check`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Grouped by subject with ✔/✘/! marks and fixes; colour on a terminal only.
    Human,
    /// The versioned JSON contract (schema bootproof/report/v1).
    Json,
    /// JUnit XML: one testsuite per subject, one testcase per invariant.
    Junit,
    /// A self-contained HTML status page: the verdict, the boot chain, what to fix first.
    Html,
    /// The Prometheus text format, for node_exporter's textfile collector.
    Prometheus,
    /// The Nagios plugin format (Nagios, Icinga, Sensu); exit codes follow the plugin API:
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Nagios,
}

/// One `--write FORMAT=FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WriteArg {
    /// The report's format.
    pub(crate) format: Format,
    /// Where it goes.
    pub(crate) file: PathBuf,
}

fn parse_write(text: &str) -> Result<WriteArg, String> {
    let (format, file) =
        text.split_once('=').ok_or_else(|| "write FORMAT=FILE, e.g. html=/var/lib/bootproof/status.html".to_owned())?;
    let format = Format::from_str(format, true).map_err(|_| {
        let known: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value())
            .map(|v| v.get_name().to_owned())
            .collect();
        format!("unknown format {format:?} (one of {})", known.join(", "))
    })?;
    if file.is_empty() {
        return Err("no FILE after FORMAT=".to_owned());
    }
    Ok(WriteArg { format, file: PathBuf::from(file) })
}

/// Payload formats of `--webhook`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WebhookFormat {
    /// Shaped like Prometheus Alertmanager's webhook payload (version 4).
    Json,
    /// Slack's incoming webhooks: {"text": …}.
    Slack,
}

/// What alerts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlertOn {
    /// Failures, and what could not be checked (fail, error).
    Fail,
    /// Warnings too.
    Warn,
}

/// A URL that carries a secret (a Slack webhook's token, a heartbeat's id), as given on
/// the command line or in the environment: never shown, not even by `Debug`. `app`
/// validates it (and its errors do not repeat it either).
#[derive(Clone)]
pub(crate) struct SecretArg(pub(crate) String);

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretArg(…)")
    }
}

fn secret_arg(text: &str) -> Result<SecretArg, String> {
    Ok(SecretArg(text.to_owned()))
}

/// Alerting flags, on `check` and, for the service it installs, on `timer`.
#[derive(Debug, clap::Args)]
pub(crate) struct AlertArgs {
    /// Post alerts to URL (repeatable) when something changes: an invariant of a subject
    /// starts failing (firing) or passes again (resolved), and once after every reboot,
    /// with what came back. One POST per run; nothing while nothing changes (the state
    /// file remembers what was sent, and keeps what could not be delivered for the next
    /// run). Also read from BOOTPROOF_WEBHOOK (space-separated), which is how `timer
    /// install` passes them: a webhook URL is a secret, never printed beyond its scheme
    /// and host. A webhook that fails never changes the verdict or the exit code.
    #[arg(
        long = "webhook",
        value_name = "URL",
        env = "BOOTPROOF_WEBHOOK",
        hide_env_values = true,
        value_delimiter = ' ',
        value_parser = secret_arg
    )]
    pub(crate) webhooks: Vec<SecretArg>,
    /// The webhooks' payload.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = WebhookFormat::Json, requires = "webhooks")]
    pub(crate) webhook_format: WebhookFormat,
    /// Fire only after N consecutive bad runs (a unit restarting once is not an incident);
    /// the alert starts at the first of them.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..),
        requires = "webhooks"
    )]
    pub(crate) alert_after: u32,
    /// Send a still-firing alert again this often (e.g. 4h) [default: never].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "webhooks")]
    pub(crate) remind: Option<Duration>,
    /// What alerts: failures and errors, or warnings too.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = AlertOn::Fail, requires = "webhooks")]
    pub(crate) alert_on: AlertOn,
    /// Heartbeat: after every run, GET URL when the check passed (exit 0), URL/fail when
    /// it did not, as healthchecks.io and similar dead-man's switches expect; they alert
    /// when the pings stop, as they do when the host never came back. Also read from
    /// BOOTPROOF_PING; a secret like a webhook.
    #[arg(long, value_name = "URL", env = "BOOTPROOF_PING", hide_env_values = true, value_parser = secret_arg)]
    pub(crate) ping: Option<SecretArg>,
}

/// Flags of `check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The check file: expected PM2 apps, units and instance ranges, health endpoints,
    /// thresholds, severity overrides [default: /etc/bootproof/bootproof.toml when it
    /// exists; with --facts, none unless given].
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Also write the report in FORMAT to FILE, from the same check (repeatable): e.g.
    /// `--write prometheus=/var/lib/prometheus/node-exporter/bootproof.prom --write
    /// html=/var/lib/bootproof/status.html`. FORMAT is one of --format's. Each file is
    /// written atomically, like -o, and a new one is readable by other users (mode 0644:
    /// node_exporter and nginx read them as their own users). A file that cannot be
    /// written is an error (exit 2) once the report, the others and the alerts are out.
    #[arg(long = "write", value_name = "FORMAT=FILE", value_parser = parse_write)]
    pub(crate) writes: Vec<WriteArg>,
    /// Run only these invariants (repeat or comma-separate).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub(crate) only: Vec<CheckId>,
    /// Do not run these invariants (repeat or comma-separate).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub(crate) skip: Vec<CheckId>,
    /// Treat warnings as failures (exit 1).
    #[arg(long)]
    pub(crate) strict: bool,
    /// Show every invariant of every subject; by default a subject whose invariants all
    /// pass takes one line (human format only).
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Print to stderr where this run's time went: each phase (check file, D-Bus, /proc,
    /// PM2, HTTP client, probes, judging, rendering) with when it started and how long it
    /// took, and the D-Bus calls, round trips and bytes. The report is unchanged.
    #[arg(long)]
    pub(crate) timings: bool,
    /// Judge a facts file (from `bootproof facts`) instead of this host (the state file is
    /// neither read nor written, and no alert or heartbeat is sent).
    #[arg(long, value_name = "FILE")]
    pub(crate) facts: Option<PathBuf>,
    /// bootproof's memory of the last check of each boot: after a reboot, units that ran
    /// before and are gone now are named from it.
    #[arg(long, value_name = "FILE", default_value = crate::state::DEFAULT_STATE_FILE)]
    pub(crate) state: PathBuf,
    /// Neither read nor write the state file (no alerts then: they need it).
    #[arg(long, conflicts_with = "state")]
    pub(crate) no_state: bool,
    /// Also gather this PM2 home (PM2_HOME directory), like a `[[pm2]] home` in the check
    /// file. A testing aid, hidden: the check file is the interface.
    #[arg(long = "pm2-home", value_name = "DIR", hide = true)]
    pub(crate) pm2_homes: Vec<String>,
    /// After a reboot, services come up late: check again (backing off up to 5 s) until
    /// health endpoints answer, units are active, PM2 apps are resurrected and systemd has
    /// finished starting, or until DURATION (e.g. 90s, 2m) has passed; then report.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "facts")]
    pub(crate) wait: Option<Duration>,
    /// Probe URL with the defaults of a `[[health]]` entry (any 2xx within 2 s). A testing
    /// aid, hidden: the check file is the interface.
    #[arg(long = "health", value_name = "URL", hide = true, conflicts_with = "facts")]
    pub(crate) health_urls: Vec<String>,
    /// Testing aid: the `--health` URLs accept untrusted TLS certificates (`insecure = true`).
    #[arg(long, hide = true, requires = "health_urls")]
    pub(crate) health_insecure: bool,
    /// Alerting.
    #[command(flatten, next_help_heading = "Alerts")]
    pub(crate) alerts: AlertArgs,
}

/// What `timer` does.
#[derive(Debug, Subcommand)]
pub(crate) enum TimerAction {
    /// Print the units `install` would write, and the alert environment file with its
    /// secrets masked.
    Print(TimerPrintArgs),
    /// Write /etc/systemd/system/bootproof-check.service and bootproof.timer (and the
    /// webhook and heartbeat URLs into /etc/bootproof/alert.env, mode 0600), reload
    /// systemd, enable and start the timer; prints every change it made. Needs root.
    Install(TimerArgs),
    /// Stop and disable the timer, remove what `install` wrote, reload systemd; prints
    /// every change. The state file is kept.
    Remove,
}

/// Flags of `timer print` and `timer install`.
#[derive(Debug, clap::Args)]
pub(crate) struct TimerArgs {
    /// The first check after a boot runs this long after it (OnBootSec=).
    #[arg(long, value_name = "DURATION", default_value = "2min", value_parser = parse_duration)]
    pub(crate) after_boot: Duration,
    /// Then a check runs this often (OnUnitActiveSec=); each host adds a fixed random
    /// delay of up to a fifth of it (at most 5min), so a fleet does not check at once.
    #[arg(long, value_name = "DURATION", default_value = "5min", value_parser = parse_duration)]
    pub(crate) every: Duration,
    /// The check file the service reads [default: /etc/bootproof/bootproof.toml when it
    /// exists at the time of a check].
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Keep a status page current: every check also writes `--format html` to FILE (e.g.
    /// /var/lib/bootproof/status.html, which contrib/nginx/bootproof-status.conf serves).
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// Keep a JSON status file current: every check also writes `--format json`
    /// (bootproof/report/v1) to FILE (e.g. /var/lib/bootproof/status.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// node_exporter's textfile collector directory: every check also writes the
    /// Prometheus textfile DIR/bootproof.prom [default: /var/lib/prometheus/node-exporter,
    /// Debian's, when it exists].
    #[arg(long, value_name = "DIR")]
    pub(crate) textfile_dir: Option<PathBuf>,
    /// Write no Prometheus textfile.
    #[arg(long, conflicts_with = "textfile_dir")]
    pub(crate) no_textfile: bool,
    /// Alerting, as on `check`: the service runs `check` with these.
    #[command(flatten, next_help_heading = "Alerts")]
    pub(crate) alerts: AlertArgs,
}

/// Flags of `timer print`.
#[derive(Debug, clap::Args)]
pub(crate) struct TimerPrintArgs {
    /// As for `install`.
    #[command(flatten)]
    pub(crate) timer: TimerArgs,
    /// For packagers: write the two units as a package ships them into DIR instead of
    /// printing them (ExecStart=/usr/bin/bootproof, the Prometheus textfile in its default
    /// directory, no alerts: those need the operator's webhook). Hidden: ci/package runs it.
    #[arg(long, value_name = "DIR", hide = true)]
    pub(crate) package_units: Option<PathBuf>,
}

/// What `timer --help` adds.
const TIMER_HELP: &str = "\
Unattended setup, in one command:
  sudo bootproof timer install --webhook https://hooks.slack.com/services/… --webhook-format slack \\
       --ping https://hc-ping.com/… --html /var/lib/bootproof/status.html

Every check of the timer's service writes, in the same run, the Prometheus textfile
(/var/lib/prometheus/node-exporter/bootproof.prom when that directory exists; --textfile-dir,
--no-textfile) and the --html and --json files, each atomically (`check --write FORMAT=FILE`).

Exit codes:
  0  done (or nothing to change)
  2  usage error (a bad URL, duration or check file)
  3  could not change the host (no system bus, not root); what was changed is printed";

/// Output formats of `plan`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    /// The chain as a tree, with a fix under every broken link.
    Human,
    /// The same as data (schema bootproof/plan/v1).
    Json,
}

/// Flags of `plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub(crate) format: PlanFormat,
    /// Write the plan to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Draw the plan of a facts file (from `bootproof facts`) instead of this host.
    #[arg(long, value_name = "FILE")]
    pub(crate) facts: Option<PathBuf>,
    /// The check file (default /etc/bootproof/bootproof.toml when it exists; with
    /// --facts, only a file named here is read).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Draw every unit on its own line; by default the instances of a template that all
    /// come back share one.
    #[arg(short, long)]
    pub(crate) verbose: bool,
}

/// A humantime duration (`2m`, `90s`, `1m 30s`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|err| format!("{err} (write e.g. 90s or 2m)"))
}

/// Flags of `init`.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// Write the check file to FILE (e.g. /etc/bootproof/bootproof.toml) instead of
    /// standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Replace FILE when it exists.
    #[arg(long, requires = "output")]
    pub(crate) force: bool,
}

/// Flags of `facts`.
#[derive(Debug, clap::Args)]
pub(crate) struct FactsArgs {
    /// The check file whose PM2 homes are gathered besides the discovered ones
    /// [default: /etc/bootproof/bootproof.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Write the facts to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// The state file whose record of the previous boot goes into the facts (read only).
    #[arg(long, value_name = "FILE", default_value = crate::state::DEFAULT_STATE_FILE)]
    pub(crate) state: PathBuf,
    /// Leave the previous boot out.
    #[arg(long, conflicts_with = "state")]
    pub(crate) no_state: bool,
    /// Also gather this PM2 home (PM2_HOME directory); hidden, as on `check`.
    #[arg(long = "pm2-home", value_name = "DIR", hide = true)]
    pub(crate) pm2_homes: Vec<String>,
    /// Gather only what needs no systemd (PM2 homes, host identity): for tests on hosts
    /// without systemd.
    #[arg(long, hide = true)]
    pub(crate) without_systemd: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unknown_invariant_ids_are_usage_errors() {
        let err = Cli::try_parse_from(["bootproof", "check", "--only", "supervisor.enable"])
            .expect_err("a misspelt id is rejected");
        assert_eq!(err.exit_code(), i32::from(crate::exit::USAGE));
    }

    #[test]
    fn wait_takes_a_humantime_duration() {
        let cli = Cli::try_parse_from(["bootproof", "check", "--wait", "2m"]).expect("2m parses");
        let Command::Check(args) = cli.command else { panic!("check") };
        assert_eq!(args.wait, Some(Duration::from_secs(120)));
        let err =
            Cli::try_parse_from(["bootproof", "check", "--wait", "2 minutes please"]).expect_err("not a duration");
        assert_eq!(err.exit_code(), i32::from(crate::exit::USAGE));
        Cli::try_parse_from(["bootproof", "check", "--wait", "1m", "--facts", "f.json"])
            .expect_err("a facts file does not change while waiting");
    }
}
