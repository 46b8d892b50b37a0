//! The unit invariants of a node service: will systemd be able to start it at boot —
//! does its account exist (`unit.user`), do its binaries and the node they rely on
//! (`unit.exec`), do its EnvironmentFiles (`unit.env-files`) — and will it be kept up:
//! `unit.restart-policy`, `unit.start-limit`, `unit.memory-limit`.
//!
//! The three boot-critical ones judge what the next boot starts: when the unit's files
//! changed on disk without a daemon-reload, that is what the files say (see
//! [`next_boot`]), not the configuration systemd has loaded.

use std::borrow::Cow;
use std::time::Duration;

use crate::facts::{
    Account, ExecCommand, ExecVia, Fact, FileFacts, FileKind, FileStat, HostFacts, OnDiskUnit, RestartPolicy,
    ServiceFacts, UnitFacts, UnitProperties,
};
use crate::invariants::supervisor::{self, edit_target, properties_unreadable};
use crate::invariants::{fix, process, processes};
use crate::verdict::{CheckId, Finding, Subject};

/// The invariants judged on a unit's service properties.
const SERVICE_CHECKS: [CheckId; 6] = [
    CheckId::UnitUser,
    CheckId::UnitExec,
    CheckId::UnitRestartPolicy,
    CheckId::UnitStartLimit,
    CheckId::UnitMemoryLimit,
    CheckId::UnitEnvFiles,
];

/// Every invariant of a node service unit: supervisor, unit and process.
pub(crate) fn judge(unit: &UnitFacts, host: &HostFacts) -> Vec<Finding> {
    let subject = Subject::Unit(unit.name.clone());
    let mut findings = vec![
        supervisor::registered(unit, &subject),
        supervisor::enabled(unit, host, &subject),
        supervisor::active(unit, &subject),
    ];
    let service = match &unit.service {
        Fact::Ok(service) => service,
        Fact::Error(reason) => {
            let checks = SERVICE_CHECKS.into_iter().chain([
                CheckId::ProcessNotRoot,
                CheckId::ProcessNodeRuntime,
                CheckId::ProcessDevSupervisor,
            ]);
            findings.extend(
                checks.map(|check| Finding::error(check, &subject, format!("service properties unreadable: {reason}"))),
            );
            return findings;
        }
    };
    findings.extend(startable(unit, service, &subject, true));
    findings.push(restart_policy(unit, service, &subject));
    findings.push(match &unit.properties {
        Fact::Ok(props) => start_limit(unit, props, service, &subject),
        Fact::Error(reason) => properties_unreadable(CheckId::UnitStartLimit, &subject, reason),
    });
    findings.push(memory_limit(&subject, &MemoryBounds::of_unit(service), memory_drop_in(unit), ""));
    findings.extend(process::judge_unit(unit, service, &subject));
    findings.push(processes::unit_dev_supervisor(unit, &subject));
    findings
}

/// `unit.user`, `unit.exec` and, with `env_files`, `unit.env-files`: can systemd start
/// the unit at the next boot. Judged on what that boot starts (see [`next_boot`]), and
/// saying so when that is the files on disk rather than what runs now.
pub(crate) fn startable(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject, env_files: bool) -> Vec<Finding> {
    match next_boot(unit, service) {
        Ok(boot) => {
            let on_disk = matches!(boot, Cow::Owned(_));
            let mut judged = vec![user(unit, &boot, subject), exec(unit, &boot, subject)];
            if env_files {
                judged.push(self::env_files(unit, &boot, subject));
            }
            judged.into_iter().map(|f| if on_disk { as_on_disk(f) } else { f }).collect()
        }
        Err(reason) => {
            let reason =
                format!("the unit's files changed on disk (daemon-reload pending) and cannot be read: {reason}");
            let checks = [CheckId::UnitUser, CheckId::UnitExec, CheckId::UnitEnvFiles];
            checks[..if env_files { 3 } else { 2 }]
                .iter()
                .map(|check| Finding::error(*check, subject, reason.clone()))
                .collect()
        }
    }
}

/// The service as the next boot starts it: what systemd has loaded, or — when the unit's
/// files changed on disk since (daemon-reload pending) — that with the settings the files
/// now say. `Err` when those files could not be read.
pub(crate) fn next_boot<'a>(unit: &UnitFacts, service: &'a ServiceFacts) -> Result<Cow<'a, ServiceFacts>, String> {
    match &unit.on_disk {
        None => Ok(Cow::Borrowed(service)),
        Some(Fact::Error(reason)) => Err(reason.clone()),
        Some(Fact::Ok(disk)) => Ok(Cow::Owned(with_disk_settings(service, disk))),
    }
}

/// `service` with the settings of its files on disk put in.
fn with_disk_settings(service: &ServiceFacts, disk: &OnDiskUnit) -> ServiceFacts {
    ServiceFacts {
        user: disk.user.clone(),
        dynamic_user: disk.dynamic_user,
        account: disk.account.clone(),
        exec_start: disk.exec_start.clone(),
        environment: disk.environment.clone(),
        environment_files: disk.environment_files.clone(),
        ..service.clone()
    }
}

/// A finding judged on the unit's files on disk, saying so.
fn as_on_disk(mut finding: Finding) -> Finding {
    finding.message = format!(
        "{} — as the unit file on disk says: it changed since systemd loaded it (daemon-reload pending), so what runs now is not what the next boot runs",
        finding.message
    );
    finding.evidence("judged", "the unit's files on disk (daemon-reload pending)")
}

/// `1min`, `2s`, `100ms`: systemd's way of writing durations.
pub(crate) fn human_usec(usec: u64) -> String {
    humantime::format_duration(Duration::from_micros(usec)).to_string()
}

pub(crate) fn user(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitUser;
    let name = service.user.as_str();
    let finding = if service.dynamic_user {
        Finding::pass(check, subject, "DynamicUser=yes: systemd makes up the account at start")
    } else {
        match &service.account {
            Fact::Ok(Some(account)) if name.is_empty() => {
                Finding::pass(check, subject, format!("no User=: runs as {} (uid {})", account.name, account.uid))
            }
            Fact::Ok(Some(account)) => {
                Finding::pass(check, subject, format!("User={name} exists (uid {})", account.uid))
            }
            Fact::Ok(None) if name == "undefined" => Finding::violated(
                check,
                subject,
                "User=undefined: the unit was generated without $USER set (pm2 startup does this); systemd will refuse to start it (217/USER)",
                format!(
                    "set User= in {} to the account that owns the app, then sudo systemctl daemon-reload",
                    edit_target(unit)
                ),
            ),
            Fact::Ok(None) => Finding::violated(
                check,
                subject,
                format!("User={name} names no account on this host: systemd will refuse to start the unit (217/USER)"),
                create_account(name),
            ),
            Fact::Error(reason) => Finding::error(check, subject, format!("could not look up User={name}: {reason}")),
        }
    };
    finding.evidence("user", name).evidence("dynamic_user", service.dynamic_user)
}

/// The command that creates the account `User=` names; a numeric `User=` is a uid, so the
/// account gets that uid and a name made from it.
fn create_account(user: &str) -> String {
    if !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()) {
        format!("sudo useradd --system --uid {user} --no-create-home --shell /usr/sbin/nologin app{user}")
    } else {
        format!("sudo useradd --system --no-create-home --shell /usr/sbin/nologin {}", fix::quote(user))
    }
}

/// Whether `account` may execute a file with this stat (root: any execute bit).
fn executable_by(stat: &FileStat, account: Option<&Account>) -> bool {
    if stat.kind != FileKind::File {
        return false;
    }
    let bits = match account {
        Some(a) if a.uid == 0 => 0o111,
        Some(a) if a.uid == stat.uid => 0o100,
        Some(a) if a.gid == stat.gid => 0o010,
        Some(_) => 0o001,
        None => 0o111,
    };
    stat.mode & bits != 0
}

/// Why `file` cannot be executed, or `None` when it can; `Err` when it could not be read.
fn exec_problem(file: &FileFacts, account: Option<&Account>) -> Result<Option<String>, String> {
    match &file.stat {
        Fact::Error(reason) => Err(format!("could not read {}: {reason}", file.path)),
        Fact::Ok(None) => Ok(Some(format!("{} does not exist", file.path))),
        Fact::Ok(Some(stat)) if stat.kind != FileKind::File => {
            Ok(Some(format!("{} is a {}, not a program", file.path, stat.kind)))
        }
        Fact::Ok(Some(stat)) if !executable_by(stat, account) => {
            let who = account.map_or("anyone".to_owned(), |a| a.name.clone());
            Ok(Some(format!("{} is not executable by {who} (mode {:o})", file.path, stat.mode)))
        }
        Fact::Ok(Some(_)) => Ok(None),
    }
}

/// Problems of one ExecStart command: its binary, then the runtime it relies on.
fn command_problems(command: &ExecCommand, account: Option<&Account>) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    if let Some(problem) = exec_problem(&command.binary, account)? {
        problems.push(problem);
    }
    if let Some(runtime) = &command.runtime {
        match (&runtime.resolved, runtime.via.as_str()) {
            (None, _) => problems.push(format!(
                "{} is not on PATH={}",
                runtime.program,
                runtime.search_path.as_deref().unwrap_or("(unset)")
            )),
            (Some(file), _) if file.path == command.binary.path => {}
            (Some(file), via) => {
                if let Some(problem) = exec_problem(file, account)? {
                    problems.push(format!("{problem} (the {} it runs through {via})", runtime.program));
                }
            }
        }
    }
    Ok(problems)
}

pub(crate) fn exec(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitExec;
    let account = service.account.ok().and_then(Option::as_ref);
    let mut problems = Vec::new();
    for command in &service.exec_start {
        match command_problems(command, account) {
            Ok(found) => problems.extend(found),
            Err(reason) => return Finding::error(check, subject, reason),
        }
    }
    // A pre-step that cannot run fails the start, unless written with `-`.
    let mut pre_problems = Vec::new();
    for command in service.exec_start_pre.iter().filter(|c| !c.ignore_failure) {
        match command_problems(command, account) {
            Ok(found) => pre_problems.extend(found.into_iter().map(|p| format!("ExecStartPre: {p}"))),
            Err(reason) => return Finding::error(check, subject, reason),
        }
    }
    let commands: Vec<String> = service.exec_start.iter().map(|c| c.argv.join(" ")).collect();
    let runtimes: Vec<&str> = service
        .exec_start
        .iter()
        .filter_map(|c| c.runtime.as_ref()?.resolved.as_ref().map(|f| f.path.as_str()))
        .collect();
    let finding = if service.exec_start.is_empty() {
        Finding::violated(
            check,
            subject,
            "no ExecStart: nothing to run",
            format!("add ExecStart= to {}", edit_target(unit)),
        )
    } else if !problems.is_empty() {
        problems.extend(pre_problems);
        Finding::violated(
            check,
            subject,
            format!("{}: the unit will fail to start (203/EXEC)", problems.join("; ")),
            format!(
                "point ExecStart at an installed node (e.g. /usr/bin/node): sudo systemctl edit --full {}",
                edit_target(unit)
            ),
        )
    } else if !pre_problems.is_empty() {
        Finding::violated(
            check,
            subject,
            format!("{}: the unit will fail to start (203/EXEC)", pre_problems.join("; ")),
            format!(
                "install the missing program, or mark the step optional (ExecStartPre=-…): sudo systemctl edit --full {}",
                edit_target(unit)
            ),
        )
    } else {
        Finding::pass(
            check,
            subject,
            format!(
                "{} exists and is executable{}",
                service.exec_start[0].binary.path,
                how_node_is_found(unit, service)
            ),
        )
    };
    let through: Vec<&str> = service.exec_start.iter().filter_map(|c| c.runtime.as_ref()?.through.as_deref()).collect();
    let finding = finding.evidence("exec_start", commands).evidence("runtime", runtimes);
    let finding = if through.is_empty() { finding } else { finding.evidence("node_found_through", through) };
    let finding = match &unit.node_running {
        Some(running) => finding.evidence("node_running", format!("pid {} {}", running.pid, running.exe)),
        None => finding,
    };
    if service.exec_start_pre.is_empty() {
        finding
    } else {
        let pre: Vec<String> = service
            .exec_start_pre
            .iter()
            .map(|c| format!("{}{}", if c.ignore_failure { "-" } else { "" }, c.argv.join(" ")))
            .collect();
        finding.evidence("exec_start_pre", pre)
    }
}

/// ` (runtime /usr/bin/node, through /opt/app/start.sh: exec node server.js)`: which node
/// the unit runs and how bootproof found it, for a unit whose ExecStart does not name it.
fn how_node_is_found(unit: &UnitFacts, service: &ServiceFacts) -> String {
    let found = service.exec_start.iter().find_map(|command| {
        let runtime = command.runtime.as_ref()?;
        let path = runtime.resolved.as_ref().map_or(runtime.program.as_str(), |f| f.path.as_str());
        Some(match (&runtime.through, &runtime.via) {
            (Some(through), ExecVia::Wrapper) => format!(" (runtime {path}, on the wrapper's exec line: {through})"),
            (Some(through), ExecVia::Shell) => format!(" (runtime {path}, started by the shell: {through})"),
            (Some(through), ExecVia::PackageManager) => {
                format!(" (runtime {path}, which {through} runs on and runs the package's script with)")
            }
            _ => format!(" (runtime {path})"),
        })
    });
    match (found, &unit.node_running) {
        (Some(found), _) => found,
        (None, Some(running)) => format!(
            " (ExecStart does not show node; node runs in its cgroup: pid {} {} {})",
            running.pid,
            running.exe,
            running.cmdline.join(" ")
        ),
        (None, None) => String::new(),
    }
}

fn restart_policy(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitRestartPolicy;
    let restart = &service.restart;
    let after = human_usec(service.restart_usec);
    let remediation = fix::drop_in(edit_target(unit), "restart", "Service", &["Restart=on-failure", "RestartSec=2s"]);
    let finding = match restart {
        RestartPolicy::Always | RestartPolicy::OnFailure => {
            Finding::pass(check, subject, format!("Restart={restart} (after {after})"))
        }
        RestartPolicy::No => Finding::violated(
            check,
            subject,
            "Restart=no: when node crashes, nothing restarts it until the next reboot",
            remediation,
        ),
        // A thrown exception makes node exit with status 1; these policies ignore exit codes.
        RestartPolicy::OnSuccess | RestartPolicy::OnAbnormal | RestartPolicy::OnAbort | RestartPolicy::OnWatchdog => {
            Finding::violated(
                check,
                subject,
                format!(
                    "Restart={restart}: a crash that exits with an error code (an uncaught exception in node) is not restarted"
                ),
                remediation,
            )
        }
        RestartPolicy::Other(other) => {
            Finding::violated(check, subject, format!("Restart={other}: unknown policy"), remediation)
        }
    };
    finding.evidence("restart", restart).evidence("restart_usec", service.restart_usec)
}

fn start_limit(unit: &UnitFacts, props: &UnitProperties, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitStartLimit;
    let burst = props.start_limit_burst;
    let interval = props.start_limit_interval_usec;
    let remediation =
        fix::drop_in(edit_target(unit), "start-limit", "Unit", &["StartLimitIntervalSec=60s", "StartLimitBurst=3"]);
    let finding = if service.restart == RestartPolicy::No {
        Finding::skip(check, subject, "Restart=no: systemd never restarts it, so there is no restart loop to bound")
    } else if interval == 0 || burst == 0 {
        Finding::violated(
            check,
            subject,
            "start rate limiting is off (StartLimitIntervalSec=0): a crashing app is restarted forever",
            remediation,
        )
    } else if u64::from(burst).saturating_mul(service.restart_usec) >= interval {
        Finding::violated(
            check,
            subject,
            format!(
                "the limit never trips: {burst} starts take at least {} with RestartSec={}, longer than StartLimitIntervalSec={}; a crash loop runs forever",
                human_usec(u64::from(burst).saturating_mul(service.restart_usec)),
                human_usec(service.restart_usec),
                human_usec(interval)
            ),
            remediation,
        )
    } else {
        Finding::pass(
            check,
            subject,
            format!("a crash loop stops after {burst} starts within {}", human_usec(interval)),
        )
    };
    finding
        .evidence("start_limit_burst", burst)
        .evidence("start_limit_interval_usec", interval)
        .evidence("restart_usec", service.restart_usec)
}

/// How the memory of what a supervisor runs is bounded, for `unit.memory-limit`.
pub(crate) struct MemoryBounds<'a> {
    /// The unit's `MemoryMax=`/`MemoryHigh=`, as systemd writes them; empty when unset
    /// (or no unit).
    pub(crate) unit_limits: Vec<String>,
    /// For a PM2 home: the apps without `max_memory_restart`. `None` for a plain unit.
    pub(crate) apps_without_limit: Option<Vec<&'a str>>,
}

impl MemoryBounds<'_> {
    /// A unit's own limits.
    pub(crate) fn of_unit(service: &ServiceFacts) -> MemoryBounds<'static> {
        MemoryBounds {
            unit_limits: [("MemoryMax", service.memory_max), ("MemoryHigh", service.memory_high)]
                .into_iter()
                .filter_map(|(key, value)| value.map(|bytes| format!("{key}={}", human_bytes(bytes))))
                .collect(),
            apps_without_limit: None,
        }
    }
}

/// `unit.memory-limit`: the unit's cgroup limit bounds everything in it; without one, a
/// PM2 home is bounded when every app has `max_memory_restart` (`app_fix` sets it).
pub(crate) fn memory_limit(subject: &Subject, bounds: &MemoryBounds, unit_fix: String, app_fix: &str) -> Finding {
    let check = CheckId::UnitMemoryLimit;
    let finding = match &bounds.apps_without_limit {
        _ if !bounds.unit_limits.is_empty() => Finding::pass(check, subject, bounds.unit_limits.join(", ")),
        Some(apps) if apps.is_empty() => Finding::pass(check, subject, "every app has max_memory_restart"),
        Some(apps) => Finding::violated(
            check,
            subject,
            format!("no max_memory_restart for {}: a leaking app can take the whole host's memory", apps.join(", ")),
            app_fix,
        ),
        None => Finding::violated(
            check,
            subject,
            "no MemoryMax or MemoryHigh: a leaking node process can take the whole host's memory",
            format!("{unit_fix}  # size it to the app"),
        ),
    };
    finding.evidence("unit_limits", &bounds.unit_limits).evidence("apps_without_limit", &bounds.apps_without_limit)
}

/// The drop-in that sets `MemoryMax=` on a unit.
pub(crate) fn memory_drop_in(unit: &UnitFacts) -> String {
    fix::drop_in(edit_target(unit), "memory", "Service", &["MemoryMax=1G"])
}

/// `1G`, `512M`, `1536K`: the largest unit that divides the value exactly, as systemd writes it.
fn human_bytes(bytes: u64) -> String {
    for (suffix, size) in [("T", 1u64 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{suffix}", bytes / size);
        }
    }
    bytes.to_string()
}

pub(crate) fn env_files(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitEnvFiles;
    let files: Vec<&str> = service.environment_files.iter().map(|f| f.path.as_str()).collect();
    if service.environment_files.is_empty() {
        return Finding::skip(check, subject, "no EnvironmentFile");
    }
    let group = if service.group.is_empty() { service.user.as_str() } else { service.group.as_str() };
    let group = if group.is_empty() { "root" } else { group };
    let mut missing = Vec::new();
    let mut exposed = Vec::new();
    for file in &service.environment_files {
        match &file.file.stat {
            Fact::Error(reason) => {
                return Finding::error(check, subject, format!("could not read {}: {reason}", file.path));
            }
            Fact::Ok(None) if file.optional => {}
            Fact::Ok(None) => missing.push(file.path.as_str()),
            Fact::Ok(Some(stat)) if stat.mode & 0o004 != 0 => exposed.push((file.path.as_str(), stat.mode)),
            Fact::Ok(Some(_)) => {}
        }
    }
    let finding = if !missing.is_empty() {
        let first = missing[0];
        Finding::violated(
            check,
            subject,
            format!("EnvironmentFile {} does not exist: systemd will refuse to start the unit", missing.join(", ")),
            format!(
                "restore {first} (sudo install -m 0640 -o root -g {group} /dev/null {first}, then fill in the app's settings), or mark it optional in {}: EnvironmentFile=-{first}",
                edit_target(unit)
            ),
        )
    } else if let Some((path, mode)) = exposed.first() {
        Finding::warn(
            check,
            subject,
            format!(
                "EnvironmentFile {path} is readable by every user on the host (mode {mode:o}); it usually holds secrets"
            ),
            format!("sudo chmod o-rwx {}", fix::quote(path)),
        )
    } else {
        Finding::pass(check, subject, format!("{} present and not world-readable", files.join(", ")))
    };
    finding.evidence("environment_files", files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, assert_finding, defects, on_unit, props_mut, service_mut};
    use crate::verdict::Status;

    #[test]
    fn a_good_template_host_passes_every_unit_invariant() {
        let findings = evaluate(&all_good(), &CheckConfig::default()).findings;
        let units: Vec<_> = findings.iter().filter(|f| matches!(f.subject, Subject::Unit(_))).collect();
        assert_eq!(units.len(), 4 * 12 + 1, "twelve invariants per instance plus the template");
        for finding in units {
            assert_eq!(finding.status, Status::Pass, "{finding:#?}");
            assert!(finding.remediation.is_none());
        }
    }

    #[test]
    fn a_missing_account_fails_unit_user() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "api@39408.service", "unit.user");
        assert_finding(f, Status::Fail, "User=ghostuser names no account");
        assert!(f.remediation.as_deref().is_some_and(|r| r.contains("useradd") && r.contains("ghostuser")));
        assert_finding(on_unit(&findings, "legacy.service", "unit.user"), Status::Pass, "root");
    }

    #[test]
    fn a_removed_node_fails_unit_exec_and_env_resolution_passes() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_finding(
            on_unit(&findings, "api@39408.service", "unit.exec"),
            Status::Fail,
            "/opt/node-v20/bin/node does not exist",
        );
        assert_finding(
            on_unit(&findings, "legacy.service", "unit.exec"),
            Status::Pass,
            "/root/.nvm/versions/node/v20.11.1/bin/node",
        );
    }

    #[test]
    fn restart_no_fails_the_policy_and_skips_the_start_limit() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "api@39408.service", "unit.restart-policy");
        assert_finding(f, Status::Fail, "Restart=no");
        assert!(
            f.remediation.as_deref().is_some_and(|r| r.contains("api@.service.d") && r.contains("Restart=on-failure"))
        );
        assert_eq!(on_unit(&findings, "api@39408.service", "unit.start-limit").status, Status::Skip);
    }

    #[test]
    fn start_limit_off_warns_and_the_article_setting_passes() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_finding(
            on_unit(&findings, "legacy.service", "unit.start-limit"),
            Status::Warn,
            "StartLimitIntervalSec=0",
        );
        assert_finding(
            on_unit(&findings, "my-app@39400.service", "unit.start-limit"),
            Status::Pass,
            "3 starts within 1m",
        );
    }

    #[test]
    fn a_limit_that_can_never_trip_warns() {
        let mut facts = all_good();
        let unit = &mut facts.units[0];
        props_mut(unit).start_limit_burst = 5;
        props_mut(unit).start_limit_interval_usec = 10_000_000;
        service_mut(unit).restart_usec = 5_000_000;
        let name = unit.name.clone();
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, &name, "unit.start-limit"), Status::Warn, "the limit never trips");
    }

    #[test]
    fn memory_limits_are_read_from_memory_max() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, "my-app@39400.service", "unit.memory-limit"), Status::Pass, "MemoryMax=1G");
        assert_finding(on_unit(&findings, "legacy.service", "unit.memory-limit"), Status::Warn, "no MemoryMax");
    }

    #[test]
    fn env_files_missing_fail_and_world_readable_warn() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "my-app@39403.service", "unit.env-files");
        assert_finding(f, Status::Fail, "/etc/my-app/39403.env does not exist");
        assert!(f.remediation.as_deref().is_some_and(|r| r.contains("EnvironmentFile=-/etc/my-app/39403.env")));
        assert_finding(on_unit(&findings, "legacy.service", "unit.env-files"), Status::Warn, "readable by every user");
        assert_eq!(on_unit(&findings, "api@39408.service", "unit.env-files").status, Status::Skip);
    }

    #[test]
    fn unreadable_service_properties_are_errors_not_passes() {
        let mut facts = all_good();
        facts.units[0].service = Fact::Error("access denied".into());
        let name = facts.units[0].name.clone();
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        for check in ["unit.user", "unit.exec", "unit.env-files", "process.not-root"] {
            assert_finding(on_unit(&findings, &name, check), Status::Error, "access denied");
        }
    }

    #[test]
    fn execute_permission_follows_owner_group_other() {
        let stat = FileStat { kind: FileKind::File, mode: 0o750, uid: 0, gid: 50, size: 1, mtime: 0 };
        let account = |uid, gid| Account { name: "a".into(), uid, gid, home: "/".into() };
        assert!(executable_by(&stat, Some(&account(0, 0))));
        assert!(executable_by(&stat, Some(&account(1000, 50))));
        assert!(!executable_by(&stat, Some(&account(1000, 1000))));
    }

    #[test]
    fn a_missing_exec_start_pre_fails_unless_ignored() {
        let mut facts = all_good();
        let missing = |ignore_failure| ExecCommand {
            path: "/opt/migrate/bin/migrate".into(),
            argv: vec!["/opt/migrate/bin/migrate".into()],
            ignore_failure,
            binary: FileFacts { path: "/opt/migrate/bin/migrate".into(), stat: Fact::Ok(None) },
            runtime: None,
        };
        for (unit, ignore) in facts.units.iter_mut().zip([false, true]) {
            service_mut(unit).exec_start_pre = vec![missing(ignore)];
        }
        let (first, second) = (facts.units[0].name.clone(), facts.units[1].name.clone());
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(
            on_unit(&findings, &first, "unit.exec"),
            Status::Fail,
            "ExecStartPre: /opt/migrate/bin/migrate does not exist",
        );
        assert_eq!(on_unit(&findings, &second, "unit.exec").status, Status::Pass);
    }

    #[test]
    fn a_numeric_user_gets_an_account_with_that_uid() {
        assert_eq!(
            create_account("4242"),
            "sudo useradd --system --uid 4242 --no-create-home --shell /usr/sbin/nologin app4242"
        );
        assert!(create_account("nodeuser").ends_with(" nodeuser"));
    }

    #[test]
    fn bytes_are_written_as_systemd_writes_them() {
        assert_eq!(human_bytes(1 << 30), "1G");
        assert_eq!(human_bytes(1536 << 10), "1536K");
        assert_eq!(human_bytes(1000), "1000");
    }

    /// Issue 7, item 7: a unit edited on disk without a daemon-reload. What runs is the
    /// loaded, older configuration; what the next boot runs is the file. An edit that
    /// breaks the unit must be judged on the file, and say so.
    #[test]
    fn a_pending_reload_is_judged_on_the_unit_file_on_disk() {
        use crate::facts::{ExecVia, OnDiskUnit, RuntimeFacts};
        let mut facts = all_good();
        let unit = &mut facts.units[0];
        props_mut(unit).need_daemon_reload = true;
        let loaded = service_mut(unit).clone();
        let missing_node = FileFacts { path: "/opt/node-v22/bin/node".into(), stat: Fact::Ok(None) };
        let mut command = loaded.exec_start[0].clone();
        command.path = missing_node.path.clone();
        command.argv[0] = missing_node.path.clone();
        command.binary = missing_node.clone();
        command.runtime = Some(RuntimeFacts {
            program: "node".into(),
            via: ExecVia::Direct,
            through: None,
            search_path: None,
            resolved: Some(missing_node),
        });
        unit.on_disk = Some(Fact::Ok(OnDiskUnit {
            files: vec!["/etc/systemd/system/my-app@.service".into()],
            user: "ghostuser".into(),
            dynamic_user: false,
            account: Fact::Ok(None),
            exec_start: vec![command],
            environment: loaded.environment.clone(),
            environment_files: loaded.environment_files.clone(),
            wanted_by: vec!["multi-user.target".into()],
            required_by: Vec::new(),
        }));
        let name = unit.name.clone();
        let judgement = evaluate(&facts, &CheckConfig::default());
        let exec = on_unit(&judgement.findings, &name, "unit.exec");
        assert_finding(exec, Status::Fail, "/opt/node-v22/bin/node does not exist");
        assert_finding(exec, Status::Fail, "daemon-reload pending");
        assert_finding(on_unit(&judgement.findings, &name, "unit.user"), Status::Fail, "User=ghostuser");
        assert_finding(
            on_unit(&judgement.findings, &name, "supervisor.active"),
            Status::Warn,
            "without a daemon-reload",
        );
        let prediction = judgement.prediction(&Subject::Unit(name.clone())).expect("predicted");
        assert!(!prediction.prediction.comes_back, "the next boot starts the broken file");
        // Files that cannot be read: not a pass on the loaded configuration either.
        facts.units[0].on_disk =
            Some(Fact::Error("cannot read /etc/systemd/system/my-app@.service: Permission denied".into()));
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, &name, "unit.exec"), Status::Error, "Permission denied");
    }
}
