//! The files `timer install` writes, rendered purely from what was asked: the timer, the
//! hardened oneshot service that runs `check`, and the environment file that carries the
//! webhook and heartbeat URLs (secrets: never in `ExecStart`, where `systemctl show` and
//! `ps` would show them to every user).
//!
//! The service is sandboxed as far as a check allows. It must read other users' PM2 homes
//! and `/proc/PID/exe` of their processes (`CAP_DAC_READ_SEARCH`, `CAP_DAC_OVERRIDE` for
//! their `rpc.sock`, `CAP_SYS_PTRACE`; no `ProtectProc=invisible`, which would hide the PM2
//! daemon, no `ProcSubset=pid`: the boot id and host name are in /proc/sys), talk to the
//! system bus (AF_UNIX) and to webhooks (AF_INET, AF_INET6); everything else is taken
//! away. Outputs the service writes (reports for other tools to read) are a list, each
//! with the flags it adds and the directory it may write to.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::alert::SecretUrl;

/// The service unit.
pub(crate) const SERVICE: &str = "bootproof-check.service";
/// The timer unit.
pub(crate) const TIMER: &str = "bootproof.timer";
/// Where unit files go.
pub(crate) const UNIT_DIR: &str = "/etc/systemd/system";
/// The environment file the service reads its secrets from.
pub(crate) const ENV_FILE: &str = "/etc/bootproof/alert.env";
/// The variable `check --webhook` reads (space-separated URLs).
pub(crate) const WEBHOOK_VAR: &str = "BOOTPROOF_WEBHOOK";
/// The variable `check --ping` reads.
pub(crate) const PING_VAR: &str = "BOOTPROOF_PING";
/// Where the service keeps its state (`StateDirectory=bootproof`): always writable to it.
pub(crate) const STATE_DIR: &str = "/var/lib/bootproof";
/// node_exporter's textfile collector directory on Debian (package prometheus-node-exporter).
pub(crate) const DEFAULT_TEXTFILE_DIR: &str = "/var/lib/prometheus/node-exporter";
/// The Prometheus textfile's name in that directory.
pub(crate) const TEXTFILE: &str = "bootproof.prom";
/// Where a package puts bootproof, and so what its units run.
pub(crate) const PACKAGED_BINARY: &str = "/usr/bin/bootproof";
/// The longest fixed random delay a timer adds.
const MAX_RANDOM_DELAY: Duration = Duration::from_secs(300);

/// What the timer's service does, as asked.
#[derive(Clone, Debug)]
pub(crate) struct TimerSpec {
    /// The bootproof binary the service runs (absolute).
    pub(crate) binary: PathBuf,
    /// `OnBootSec=`.
    pub(crate) after_boot: Duration,
    /// `OnUnitActiveSec=`.
    pub(crate) every: Duration,
    /// `--config FILE` (absolute), when given.
    pub(crate) config: Option<PathBuf>,
    /// Alerting flags that are not secret (`--webhook-format slack`, `--alert-after 2`).
    pub(crate) alert_flags: Vec<String>,
    /// The webhook URLs.
    pub(crate) webhooks: Vec<SecretUrl>,
    /// The heartbeat URL.
    pub(crate) ping: Option<SecretUrl>,
    /// Reports the service writes besides its journal output.
    pub(crate) outputs: Vec<ServiceOutput>,
    /// Who writes the units: `timer install`, or a package that ships them.
    pub(crate) origin: Origin,
}

/// Who writes the unit files, which their first comment says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `bootproof timer install`, into /etc/systemd/system.
    Install,
    /// The Debian package, into /usr/lib/systemd/system, installed but not enabled.
    Package,
}

/// A report the service writes for other tools (a status page, a metrics file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServiceOutput {
    /// The `check` flags that write it.
    pub(crate) flags: Vec<String>,
    /// The file it is.
    pub(crate) file: PathBuf,
    /// The directory it is written in (`ReadWritePaths=`: the rest of the system is
    /// read-only to the service).
    pub(crate) directory: PathBuf,
}

impl ServiceOutput {
    /// The report in `format` (a `--format` value), written to `file` (absolute) by
    /// `check --write FORMAT=FILE` in the same run as everything else.
    pub(crate) fn report(format: &str, file: &Path) -> ServiceOutput {
        ServiceOutput {
            flags: vec!["--write".to_owned(), format!("{format}={}", file.display())],
            file: file.to_path_buf(),
            directory: file.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
        }
    }

    /// The Prometheus textfile `DIR/bootproof.prom`.
    pub(crate) fn textfile(dir: &Path) -> ServiceOutput {
        ServiceOutput::report("prometheus", &dir.join(TEXTFILE))
    }
}

/// The rendered files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnitFiles {
    /// `bootproof-check.service`.
    pub(crate) service: String,
    /// `bootproof.timer`.
    pub(crate) timer: String,
    /// The environment file, when there are secrets to put in it.
    pub(crate) env: Option<EnvFile>,
}

/// The alert environment file.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EnvFile {
    /// What is written (secrets included).
    pub(crate) text: String,
    /// The same with every URL masked, for `timer print`.
    pub(crate) masked: String,
    /// What it holds, in words (`1 webhook and the heartbeat`).
    pub(crate) holds: String,
}

impl std::fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvFile").field("masked", &self.masked).finish_non_exhaustive()
    }
}

/// Renders the files for `spec`.
pub(crate) fn render(spec: &TimerSpec) -> UnitFiles {
    let env = env_file(spec);
    UnitFiles { service: service(spec, env.is_some()), timer: timer(spec), env }
}

/// What `timer print` shows: each file under a comment naming its path, secrets masked.
pub(crate) fn show(files: &UnitFiles) -> String {
    let mut out = format!("# {UNIT_DIR}/{TIMER}\n{}\n# {UNIT_DIR}/{SERVICE}\n{}", files.timer, files.service);
    if let Some(env) = &files.env {
        let _ = write!(
            out,
            "\n# {ENV_FILE} (mode 0600; the URLs are secrets and are shown here only as scheme and host)\n{}",
            env.masked
        );
    }
    out
}

/// The first comment of each unit: who wrote it, and how it goes away.
fn written_by(origin: Origin) -> &'static str {
    match origin {
        Origin::Install => "# Written by `bootproof timer install`; `bootproof timer remove` removes it.\n",
        Origin::Package => {
            "\
# Shipped by the bootproof package, installed but not enabled: `sudo systemctl enable --now
# bootproof.timer` starts it. `sudo bootproof timer install --webhook …` writes its own in
# /etc/systemd/system, with alerts, which takes precedence over this one.
"
        }
    }
}

fn timer(spec: &TimerSpec) -> String {
    let every = span(spec.every);
    let after_boot = span(spec.after_boot);
    let delay = span((spec.every / 5).min(MAX_RANDOM_DELAY));
    format!(
        "\
{written_by}[Unit]
Description=bootproof: check {after_boot} after every boot, then every {every}
Documentation=man:bootproof(1)

[Timer]
OnBootSec={after_boot}
OnUnitActiveSec={every}
AccuracySec=1s
# A fixed delay per host (from its machine id), so a fleet does not check all at once.
RandomizedDelaySec={delay}
FixedRandomDelay=yes
Unit={SERVICE}

[Install]
WantedBy=timers.target
",
        written_by = written_by(spec.origin)
    )
}

fn service(spec: &TimerSpec, has_env: bool) -> String {
    let mut argv: Vec<String> = vec![spec.binary.display().to_string(), "check".into()];
    if let Some(config) = &spec.config {
        argv.push("--config".into());
        argv.push(config.display().to_string());
    }
    argv.extend(spec.alert_flags.iter().cloned());
    for output in &spec.outputs {
        argv.extend(output.flags.iter().cloned());
    }
    let exec: Vec<String> = argv.iter().map(|arg| exec_quote(arg)).collect();
    let mut out = format!(
        "\
{}[Unit]
Description=bootproof: will the Node.js services come back after a reboot, and did they?
Documentation=man:bootproof(1)

[Service]
Type=oneshot
ExecStart={}
",
        written_by(spec.origin),
        exec.join(" ")
    );
    if has_env {
        let _ = writeln!(out, "EnvironmentFile={ENV_FILE}");
    }
    out.push_str(
        "\
# A check that finds a failure did its job (exit 1): only 2 (a broken check file) and 3
# (could not check) fail the unit.
SuccessExitStatus=1
TimeoutStartSec=2min
StateDirectory=bootproof
",
    );
    let state_dir = Path::new(STATE_DIR);
    if spec.outputs.iter().any(|output| output.directory.starts_with(state_dir)) {
        out.push_str(
            "\
# A status file in it is for nginx to read: others may pass through the directory (0711)
# to the files named, not list it; the state file stays 0600.
StateDirectoryMode=0711
",
        );
    } else {
        out.push_str("StateDirectoryMode=0700\n");
    }
    out.push_str("UMask=0077\n");
    let mut directories: Vec<&Path> = Vec::new();
    for output in &spec.outputs {
        let directory = output.directory.as_path();
        if !directory.starts_with(state_dir) && !directories.contains(&directory) {
            directories.push(directory);
        }
    }
    if !directories.is_empty() {
        out.push_str(
            "\
# Where the reports go: the rest of the system is read-only to the service. `-`: a
# directory that is not there does not stop the check; writing the file there then fails
# the run (exit 2), after the check and its alerts, and the journal says why.
",
        );
    }
    for directory in directories {
        let _ = writeln!(out, "ReadWritePaths={}", exec_quote(&format!("-{}", directory.display())));
    }
    out.push_str(
        "\
# Hardening: root, but only to read what a check reads (other users' PM2 homes and
# rpc.sock, /proc of their processes); everything else is read-only or gone.
CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE CAP_SYS_PTRACE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateIPC=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
",
    );
    out
}

fn env_file(spec: &TimerSpec) -> Option<EnvFile> {
    if spec.webhooks.is_empty() && spec.ping.is_none() {
        return None;
    }
    let header = "\
# Written by `bootproof timer install`: the webhook and heartbeat URLs bootproof-check.service
# passes to `bootproof check`. They are secrets (a Slack webhook's path is its token): this
# file stays mode 0600, and the URLs are never in the unit, where every user can read them.
";
    let mut text = header.to_owned();
    let mut masked = header.to_owned();
    let mut holds = Vec::new();
    if !spec.webhooks.is_empty() {
        let all: Vec<&str> = spec.webhooks.iter().map(SecretUrl::expose).collect();
        let shown: Vec<String> = spec.webhooks.iter().map(ToString::to_string).collect();
        let _ = writeln!(text, "{WEBHOOK_VAR}={}", env_quote(&all.join(" ")));
        let _ = writeln!(masked, "{WEBHOOK_VAR}={}", env_quote(&shown.join(" ")));
        holds.push(match spec.webhooks.len() {
            1 => "1 webhook".to_owned(),
            n => format!("{n} webhooks"),
        });
    }
    if let Some(ping) = &spec.ping {
        let _ = writeln!(text, "{PING_VAR}={}", env_quote(ping.expose()));
        let _ = writeln!(masked, "{PING_VAR}={}", env_quote(&ping.to_string()));
        holds.push("the heartbeat".to_owned());
    }
    Some(EnvFile { text, masked, holds: holds.join(" and ") })
}

/// A duration as systemd writes a time span: `2min`, `90s`, `1h`, `500ms`.
pub(crate) fn span(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    match secs {
        0 => "0".to_owned(),
        s if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        s if s.is_multiple_of(60) => format!("{}min", s / 60),
        s => format!("{s}s"),
    }
}

/// One `ExecStart=` word: as it is when it has nothing systemd reads specially, else in
/// double quotes with `\` and `"` escaped; `%` (specifiers) and `$` (variables) doubled
/// either way.
fn exec_quote(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty() && escaped.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,%$".contains(c));
    if plain { escaped } else { format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\"")) }
}

/// A value for an `EnvironmentFile=`: in double quotes, with `\`, `"`, `$` and `` ` ``
/// escaped by a backslash, which systemd's parser removes.
fn env_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The absolute form of `path` (a check file named relative to where `install` ran).
pub(crate) fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    std::path::absolute(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TimerSpec {
        TimerSpec {
            binary: PathBuf::from("/usr/local/bin/bootproof"),
            after_boot: Duration::from_secs(120),
            every: Duration::from_secs(300),
            config: None,
            alert_flags: Vec::new(),
            webhooks: Vec::new(),
            ping: None,
            outputs: Vec::new(),
            origin: Origin::Install,
        }
    }

    const SLACK: &str = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/cccccccccccccccccccccccc";
    const PING: &str = "https://hc-ping.com/5b1b8e2e-9d0a-4a3c-8a31-7c1d6f0e2a11";

    /// The README's command, on a host with node_exporter's textfile directory.
    fn with_alerts() -> TimerSpec {
        TimerSpec {
            config: Some(PathBuf::from("/etc/bootproof/bootproof.toml")),
            outputs: vec![
                ServiceOutput::report("html", Path::new("/var/lib/bootproof/status.html")),
                ServiceOutput::textfile(Path::new(DEFAULT_TEXTFILE_DIR)),
            ],
            alert_flags: ["--webhook-format", "slack", "--alert-after", "2"].map(String::from).to_vec(),
            webhooks: vec![SecretUrl::parse(SLACK).expect("url")],
            ping: Some(SecretUrl::parse(PING).expect("url")),
            ..spec()
        }
    }

    #[test]
    fn timer_print_of_the_unattended_setup() {
        insta::assert_snapshot!(show(&render(&with_alerts())));
    }

    #[test]
    fn readme_shows_what_timer_print_prints() {
        let text = show(&render(&with_alerts()));
        assert!(include_str!("../../README.md").contains(&format!("```\n{text}```")), "README should show:\n{text}");
    }

    #[test]
    fn secrets_go_only_into_the_environment_file() {
        let files = render(&with_alerts());
        for shown in [&files.service, &files.timer, &show(&files)] {
            assert!(!shown.contains("cccccccc") && !shown.contains("5b1b8e2e"), "{shown}");
        }
        let env = files.env.expect("an environment file");
        assert!(env.text.contains(&format!("{WEBHOOK_VAR}=\"{SLACK}\"")), "{}", env.text);
        assert!(env.text.contains(&format!("{PING_VAR}=\"{PING}\"")));
        assert_eq!(env.holds, "1 webhook and the heartbeat");
        assert!(files.service.contains("EnvironmentFile=/etc/bootproof/alert.env"));
        assert!(render(&spec()).env.is_none(), "no secrets, no file");
        assert!(!render(&spec()).service.contains("EnvironmentFile"));
    }

    #[test]
    fn intervals_are_systemd_time_spans() {
        assert_eq!(span(Duration::from_secs(120)), "2min");
        assert_eq!(span(Duration::from_secs(90)), "90s");
        assert_eq!(span(Duration::from_secs(7200)), "2h");
        assert_eq!(span(Duration::from_millis(1500)), "1500ms");
        assert_eq!(span(Duration::ZERO), "0");
        let timer =
            render(&TimerSpec { after_boot: Duration::from_secs(3), every: Duration::from_secs(5), ..spec() }).timer;
        assert!(timer.contains("OnBootSec=3s\nOnUnitActiveSec=5s\n"), "{timer}");
        assert!(timer.contains("RandomizedDelaySec=1s\n"), "{timer}");
        let daily = render(&TimerSpec { every: Duration::from_secs(86_400), ..spec() }).timer;
        assert!(daily.contains("RandomizedDelaySec=5min\n"), "capped: {daily}");
    }

    #[test]
    fn words_systemd_reads_specially_are_quoted() {
        assert_eq!(exec_quote("/usr/bin/bootproof"), "/usr/bin/bootproof");
        assert_eq!(exec_quote("/etc/boot proof/x.toml"), "\"/etc/boot proof/x.toml\"");
        assert_eq!(exec_quote("/etc/50%/$HOME"), "/etc/50%%/$$HOME");
        assert_eq!(exec_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(env_quote("https://x/?a=1&b=$c`d\"e\\"), "\"https://x/?a=1&b=\\$c\\`d\\\"e\\\\\"");
    }

    #[test]
    fn outputs_are_written_by_the_one_check_and_may_write_their_directory() {
        let outputs = vec![
            ServiceOutput::report("json", Path::new("/var/www/status/status.json")),
            ServiceOutput::report("html", Path::new("/var/www/status/index.html")),
            ServiceOutput::textfile(Path::new(DEFAULT_TEXTFILE_DIR)),
        ];
        let service = render(&TimerSpec { outputs, ..spec() }).service;
        let exec: Vec<&str> = service.lines().filter(|l| l.starts_with("ExecStart=")).collect();
        assert_eq!(
            exec,
            ["ExecStart=/usr/local/bin/bootproof check --write json=/var/www/status/status.json \
              --write html=/var/www/status/index.html \
              --write prometheus=/var/lib/prometheus/node-exporter/bootproof.prom"],
            "one run writes them all: one gathering, one alert"
        );
        let paths: Vec<&str> = service.lines().filter(|l| l.starts_with("ReadWritePaths=")).collect();
        assert_eq!(paths, ["ReadWritePaths=-/var/www/status", "ReadWritePaths=-/var/lib/prometheus/node-exporter"]);
        assert!(service.contains("StateDirectoryMode=0700\n"), "{service}");
    }

    #[test]
    fn a_status_file_in_the_state_directory_opens_it_to_passing_readers() {
        let outputs = vec![ServiceOutput::report("html", Path::new("/var/lib/bootproof/status.html"))];
        let service = render(&TimerSpec { outputs, ..spec() }).service;
        assert!(service.contains("StateDirectoryMode=0711\n"), "{service}");
        assert!(!service.contains("ReadWritePaths="), "the state directory is writable already: {service}");
        assert!(render(&spec()).service.contains("StateDirectoryMode=0700\n"));
    }

    #[test]
    fn packaged_units_say_they_are_not_enabled() {
        let packaged = render(&TimerSpec { origin: Origin::Package, ..spec() });
        for unit in [&packaged.service, &packaged.timer] {
            assert!(unit.starts_with("# Shipped by the bootproof package, installed but not enabled"), "{unit}");
            assert!(!unit.contains("timer remove"), "{unit}");
        }
    }
}
