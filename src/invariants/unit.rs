//! Invariants of one node service unit: is it registered, enabled for boot, running,
//! and configured so that systemd can start it and keep it up.

use std::time::Duration;

use crate::facts::{Account, ExecCommand, FileFacts, FileStat, HostFacts, ServiceFacts, StartCondition, UnitFacts};
use crate::invariants::{CheckId, fix};
use crate::report::{Finding, Subject};

/// Every unit invariant for `unit`.
pub(crate) fn judge(unit: &UnitFacts, host: &HostFacts) -> Vec<Finding> {
    let subject = Subject::Unit(unit.name.clone());
    let mut findings = vec![registered(unit, &subject), enabled(unit, host, &subject), active(unit, &subject)];
    match &unit.service {
        crate::facts::Fact::Ok(service) => {
            findings.push(user(unit, service, &subject));
            findings.push(exec(unit, service, &subject));
            findings.push(restart_policy(unit, service, &subject));
            findings.push(start_limit(unit, service, &subject));
            findings.push(memory_limit(unit, service, &subject));
            findings.push(env_files(unit, service, &subject));
        }
        crate::facts::Fact::Error(reason) => {
            for check in [
                CheckId::UnitUser,
                CheckId::UnitExec,
                CheckId::UnitRestartPolicy,
                CheckId::UnitStartLimit,
                CheckId::UnitMemoryLimit,
                CheckId::UnitEnvFiles,
            ] {
                findings.push(Finding::error(check, &subject, format!("service properties unreadable: {reason}")));
            }
        }
    }
    findings
}

/// The unit to edit for a fix: the template for an instance (so every instance gets it).
fn edit_target(unit: &UnitFacts) -> &str {
    unit.template.as_deref().unwrap_or(&unit.name)
}

/// `1min`, `2s`, `100ms`: systemd's way of writing durations.
pub(crate) fn human_usec(usec: u64) -> String {
    humantime::format_duration(Duration::from_micros(usec)).to_string()
}

pub(crate) fn registered(unit: &UnitFacts, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorRegistered;
    let name = unit.name.as_str();
    let finding = match (unit.load_state.as_str(), &unit.fragment_path) {
        // The next boot loads the file as it is on disk: it matters whether it is still there.
        ("loaded", Some(path)) if unit.need_daemon_reload => match unit.fragment_file.as_ref().map(|f| &f.stat) {
            Some(crate::facts::Fact::Ok(Some(_))) => Finding::pass(
                check,
                subject,
                format!(
                    "loaded from {path}, which changed on disk since (daemon-reload pending); the next boot loads it as it is now"
                ),
            ),
            Some(crate::facts::Fact::Ok(None)) => Finding::violated(
                check,
                subject,
                format!("{path} was removed after systemd loaded it: the next boot has no unit file to start"),
                format!(
                    "restore {path}, or if the removal was meant: sudo systemctl disable {name} && sudo systemctl daemon-reload"
                ),
            ),
            Some(crate::facts::Fact::Error(reason)) => Finding::error(
                check,
                subject,
                format!("{path} changed on disk since systemd loaded it and cannot be read: {reason}"),
            ),
            None => Finding::violated(
                check,
                subject,
                format!("{path} changed on disk since systemd loaded it: what runs now is not what the next boot runs"),
                "sudo systemctl daemon-reload",
            ),
        },
        ("loaded", Some(path)) => Finding::pass(check, subject, format!("loaded from {path}")),
        ("loaded", None) => Finding::violated(
            check,
            subject,
            "loaded without a unit file (transient or generated at run time): it does not exist after a reboot",
            format!(
                "write /etc/systemd/system/{name}, then sudo systemctl daemon-reload && sudo systemctl enable {name}"
            ),
        ),
        ("masked", _) => {
            Finding::violated(check, subject, "masked: systemd refuses to start it", fix::systemctl("unmask", &[name]))
        }
        ("not-found", _) => Finding::violated(
            check,
            subject,
            "no unit file: systemd has nothing to start at boot",
            format!("write /etc/systemd/system/{name}, then sudo systemctl daemon-reload"),
        ),
        (state, path) => {
            let why = unit.load_error.as_deref().unwrap_or("no reason given");
            let file = path.as_deref().unwrap_or("the unit file");
            Finding::violated(
                check,
                subject,
                format!("systemd could not load the unit ({state}): {why}"),
                format!("fix {file} (see: sudo systemd-analyze verify {file}), then sudo systemctl daemon-reload"),
            )
        }
    };
    finding
        .evidence("load_state", &unit.load_state)
        .evidence("fragment_path", &unit.fragment_path)
        .evidence("need_daemon_reload", unit.need_daemon_reload)
}

/// Whether the unit is wanted or required by a target that the default target pulls in.
/// `None` when the boot targets could not be read.
fn wanted_at_boot<'a>(unit: &'a UnitFacts, host: &HostFacts) -> Option<Vec<&'a str>> {
    let boot_targets = host.boot_targets.ok()?;
    Some(
        unit.wanted_by
            .iter()
            .chain(&unit.required_by)
            .filter(|by| boot_targets.iter().any(|t| t == *by))
            .map(String::as_str)
            .collect(),
    )
}

/// How the default target pulls the unit in at boot: `Ok(Some(chain))` from a boot target
/// down to the unit's direct wanter, `Ok(None)` when nothing does, `Err` when it cannot be told.
fn pulled_in_at_boot(unit: &UnitFacts, host: &HostFacts, default_target: &str) -> Result<Option<Vec<String>>, String> {
    match &unit.boot_chain {
        crate::facts::Fact::Ok(chain) if chain.is_empty() => Ok(None),
        crate::facts::Fact::Ok(chain) => Ok(Some(chain.clone())),
        // The walk failed somewhere; a boot target wanting the unit directly still settles it.
        crate::facts::Fact::Error(reason) => match wanted_at_boot(unit, host) {
            Some(by) if !by.is_empty() => Ok(Some(vec![by[0].to_owned()])),
            Some(_) => Err(format!("what pulls it in at boot could not be read: {reason}")),
            None => Err(format!("the targets {default_target} pulls in at boot could not be read")),
        },
    }
}

/// What a path condition says now: `Some(holds)`, or `None` when bootproof cannot tell.
fn condition_holds(condition: &StartCondition) -> Option<bool> {
    let stat = condition.file.as_ref()?.stat.ok()?;
    let test = condition.kind.strip_prefix("Condition").or_else(|| condition.kind.strip_prefix("Assert"))?;
    let result = match (test, stat) {
        ("PathExists", stat) => stat.is_some(),
        ("PathIsDirectory", stat) => stat.as_ref().is_some_and(|s| s.kind == "directory"),
        ("FileNotEmpty", stat) => stat.as_ref().is_some_and(|s| s.kind == "file" && s.size > 0),
        ("FileIsExecutable", stat) => stat.as_ref().is_some_and(|s| s.kind == "file" && s.mode & 0o111 != 0),
        _ => return None,
    };
    Some(result != condition.negate)
}

/// The condition as written in the unit: `ConditionPathExists=!/etc/x`.
fn written(condition: &StartCondition) -> String {
    let trigger = if condition.trigger { "|" } else { "" };
    let negate = if condition.negate { "!" } else { "" };
    format!("{}={trigger}{negate}{}", condition.kind, condition.parameter)
}

/// The conditions that will stop systemd from starting the unit at boot, judged on the
/// files as they are now: every plain one must hold, and one of the `|` ones if any.
/// Conditions bootproof cannot evaluate are taken to hold.
fn failing_conditions(unit: &UnitFacts) -> Vec<&StartCondition> {
    let mut failing: Vec<&StartCondition> =
        unit.conditions.iter().filter(|c| !c.trigger && condition_holds(c) == Some(false)).collect();
    for prefix in ["Condition", "Assert"] {
        let triggers: Vec<&StartCondition> =
            unit.conditions.iter().filter(|c| c.trigger && c.kind.starts_with(prefix)).collect();
        if !triggers.is_empty() && triggers.iter().all(|c| condition_holds(c) == Some(false)) {
            failing.extend(triggers);
        }
    }
    failing
}

pub(crate) fn enabled(unit: &UnitFacts, host: &HostFacts, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorEnabled;
    let name = unit.name.as_str();
    let state = unit.unit_file_state.as_str();
    let default_target = host.default_target.ok().map_or("default.target", String::as_str);
    let enable = fix::systemctl("enable", &[name]);
    let finding = match state {
        // Whatever its own state, a unit another pulled-in unit wants starts at boot.
        "enabled" | "static" | "generated" | "indirect" | "alias" | "disabled" | "linked" => {
            match pulled_in_at_boot(unit, host, default_target) {
                Err(reason) => Finding::error(check, subject, format!("{state}, but {reason}")),
                Ok(Some(chain)) => {
                    let failing = failing_conditions(unit);
                    if let Some(first) = failing.first() {
                        let what = if first.kind.starts_with("Assert") {
                            "systemd will fail the unit at boot"
                        } else {
                            "systemd will skip the unit at boot"
                        };
                        let all: Vec<String> = failing.iter().map(|c| written(c)).collect();
                        Finding::violated(
                            check,
                            subject,
                            format!("{state} and pulled in at boot, but {} does not hold now: {what}", all.join(", ")),
                            format!(
                                "if it should run, make {} hold (or drop the condition: sudo systemctl edit --full {})",
                                first.parameter,
                                edit_target(unit)
                            ),
                        )
                    } else {
                        Finding::pass(
                            check,
                            subject,
                            format!("{state}; pulled in at boot by {} → {name}", chain.join(" → ")),
                        )
                    }
                }
                Ok(None) if state == "enabled" => {
                    // A target nothing loads (a custom maintenance.target) is not loaded
                    // either, so its wants do not show in WantedBy.
                    let message = if unit.wanted_by.is_empty() {
                        format!(
                            "enabled, but for a target {default_target} does not pull in at boot (no loaded unit wants it)"
                        )
                    } else {
                        format!(
                            "enabled, but wanted by {}, which {default_target} does not pull in at boot",
                            unit.wanted_by.join(", ")
                        )
                    };
                    Finding::violated(
                        check,
                        subject,
                        message,
                        format!(
                            "set WantedBy=multi-user.target in the [Install] section of {}, then sudo systemctl reenable {name}",
                            edit_target(unit)
                        ),
                    )
                }
                Ok(None) if state == "static" => Finding::violated(
                    check,
                    subject,
                    "static: the unit has no [Install] section and nothing pulls it in at boot",
                    format!("add [Install] WantedBy=multi-user.target to {}, then {enable}", edit_target(unit)),
                ),
                Ok(None) if state == "disabled" => {
                    Finding::violated(check, subject, "disabled: nothing starts it at boot", enable)
                }
                Ok(None) if state == "linked" => {
                    Finding::violated(check, subject, "linked but not enabled: nothing starts it at boot", enable)
                }
                Ok(None) => Finding::violated(check, subject, format!("{state}: nothing pulls it in at boot"), enable),
            }
        }
        "enabled-runtime" => Finding::violated(
            check,
            subject,
            "enabled only until the next reboot (enabled-runtime: the link lives in /run)",
            enable,
        ),
        "linked-runtime" => Finding::violated(
            check,
            subject,
            "linked only until the next reboot (linked-runtime: the unit file itself is linked from /run)",
            format!(
                "sudo cp {} /etc/systemd/system/ && sudo systemctl daemon-reload && {enable}",
                unit.fragment_path.as_deref().unwrap_or("the unit file")
            ),
        ),
        "masked" | "masked-runtime" => Finding::violated(
            check,
            subject,
            format!("{state}: systemd refuses to start it"),
            format!("sudo systemctl unmask {name} && {enable}"),
        ),
        "transient" => Finding::violated(
            check,
            subject,
            "transient (made with systemd-run): it does not exist after a reboot",
            format!(
                "write a unit file /etc/systemd/system/{name} with [Install] WantedBy=multi-user.target, then {enable}"
            ),
        ),
        "" => Finding::violated(check, subject, "no unit file state: systemd does not know how to enable it", enable),
        other => Finding::violated(check, subject, format!("{other}: not enabled for boot"), enable),
    };
    let finding = finding
        .evidence("unit_file_state", state)
        .evidence("wanted_by", &unit.wanted_by)
        .evidence("required_by", &unit.required_by)
        .evidence("boot_chain", unit.boot_chain.ok())
        .evidence("default_target", host.default_target.ok());
    if unit.conditions.is_empty() {
        finding
    } else {
        finding.evidence("conditions", unit.conditions.iter().map(written).collect::<Vec<_>>())
    }
}

fn active(unit: &UnitFacts, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorActive;
    let name = unit.name.as_str();
    let main_pid = unit.service.ok().map_or(0, |s| s.main_pid);
    let n_restarts = unit.service.ok().map_or(0, |s| s.n_restarts);
    let since = unit.active_since.as_deref().map(|t| format!(" since {t}")).unwrap_or_default();
    let finding = match (unit.active_state.as_str(), unit.sub_state.as_str()) {
        ("active", sub) if main_pid > 0 && unit.need_daemon_reload => Finding::warn(
            check,
            subject,
            format!(
                "active ({sub}){since}, main pid {main_pid}, but from an older version of {}: the file changed on disk without a daemon-reload",
                unit.fragment_path.as_deref().unwrap_or("its unit file")
            ),
            format!("sudo systemctl daemon-reload && sudo systemctl restart {name}"),
        ),
        ("active", sub) if main_pid > 0 => {
            Finding::pass(check, subject, format!("active ({sub}){since}, main pid {main_pid}"))
        }
        ("active", sub) => Finding::violated(
            check,
            subject,
            format!("active ({sub}) but no main process: the node process is not running under systemd"),
            format!("{}; then sudo systemctl restart {name}", fix::journal(name)),
        ),
        ("activating", "auto-restart") => Finding::violated(
            check,
            subject,
            format!("crashing: waiting to restart after {n_restarts} automatic restarts"),
            fix::journal(name),
        ),
        ("activating", sub) => Finding::violated(
            check,
            subject,
            format!("still starting ({sub})"),
            format!("wait, or check: {}", fix::journal(name)),
        ),
        ("failed", sub) => Finding::violated(
            check,
            subject,
            format!("failed ({sub}): systemd gave up on it"),
            format!("{}; after fixing: sudo systemctl restart {name}", fix::journal(name)),
        ),
        (state, sub) => Finding::violated(
            check,
            subject,
            format!("{state} ({sub}): not running now"),
            fix::systemctl("start", &[name]),
        ),
    };
    finding
        .evidence("active_state", &unit.active_state)
        .evidence("sub_state", &unit.sub_state)
        .evidence("main_pid", main_pid)
        .evidence("n_restarts", n_restarts)
}

pub(crate) fn user(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitUser;
    let name = service.user.as_str();
    let finding = if service.dynamic_user {
        Finding::pass(check, subject, "DynamicUser=yes: systemd makes up the account at start")
    } else {
        match &service.account {
            crate::facts::Fact::Ok(Some(account)) if name.is_empty() => {
                Finding::pass(check, subject, format!("no User=: runs as {} (uid {})", account.name, account.uid))
            }
            crate::facts::Fact::Ok(Some(account)) => {
                Finding::pass(check, subject, format!("User={name} exists (uid {})", account.uid))
            }
            crate::facts::Fact::Ok(None) if name == "undefined" => Finding::violated(
                check,
                subject,
                "User=undefined: the unit was generated without $USER set (pm2 startup does this); systemd will refuse to start it (217/USER)",
                format!(
                    "set User= in {} to the account that owns the app, then sudo systemctl daemon-reload",
                    edit_target(unit)
                ),
            ),
            crate::facts::Fact::Ok(None) => Finding::violated(
                check,
                subject,
                format!("User={name} names no account on this host: systemd will refuse to start the unit (217/USER)"),
                create_account(name),
            ),
            crate::facts::Fact::Error(reason) => {
                Finding::error(check, subject, format!("could not look up User={name}: {reason}"))
            }
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
        format!("sudo useradd --system --no-create-home --shell /usr/sbin/nologin {user}")
    }
}

/// Whether `account` may execute a file with this stat (root: any execute bit).
fn executable_by(stat: &FileStat, account: Option<&Account>) -> bool {
    if stat.kind != "file" {
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
        crate::facts::Fact::Error(reason) => Err(format!("could not read {}: {reason}", file.path)),
        crate::facts::Fact::Ok(None) => Ok(Some(format!("{} does not exist", file.path))),
        crate::facts::Fact::Ok(Some(stat)) if stat.kind != "file" => {
            Ok(Some(format!("{} is a {}, not a program", file.path, stat.kind)))
        }
        crate::facts::Fact::Ok(Some(stat)) if !executable_by(stat, account) => {
            let who = account.map_or("anyone".to_owned(), |a| a.name.clone());
            Ok(Some(format!("{} is not executable by {who} (mode {:o})", file.path, stat.mode)))
        }
        crate::facts::Fact::Ok(Some(_)) => Ok(None),
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
        let runtime = runtimes.first().map(|r| format!(" (runtime {r})")).unwrap_or_default();
        Finding::pass(
            check,
            subject,
            format!("{} exists and is executable{runtime}", service.exec_start[0].binary.path),
        )
    };
    let finding = finding.evidence("exec_start", commands).evidence("runtime", runtimes);
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

fn restart_policy(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitRestartPolicy;
    let restart = service.restart.as_str();
    let after = human_usec(service.restart_usec);
    let remediation = fix::drop_in(edit_target(unit), "restart", "Service", &["Restart=on-failure", "RestartSec=2s"]);
    let finding = match restart {
        "always" | "on-failure" => Finding::pass(check, subject, format!("Restart={restart} (after {after})")),
        "no" => Finding::violated(
            check,
            subject,
            "Restart=no: when node crashes, nothing restarts it until the next reboot",
            remediation,
        ),
        // A thrown exception makes node exit with status 1; these policies ignore exit codes.
        "on-success" | "on-abnormal" | "on-abort" | "on-watchdog" => Finding::violated(
            check,
            subject,
            format!(
                "Restart={restart}: a crash that exits with an error code (an uncaught exception in node) is not restarted"
            ),
            remediation,
        ),
        other => Finding::violated(check, subject, format!("Restart={other}: unknown policy"), remediation),
    };
    finding.evidence("restart", restart).evidence("restart_usec", service.restart_usec)
}

fn start_limit(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitStartLimit;
    let burst = unit.start_limit_burst;
    let interval = unit.start_limit_interval_usec;
    let remediation =
        fix::drop_in(edit_target(unit), "start-limit", "Unit", &["StartLimitIntervalSec=60s", "StartLimitBurst=3"]);
    let finding = if service.restart == "no" {
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

fn memory_limit(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::UnitMemoryLimit;
    let limits: Vec<String> = [("MemoryMax", service.memory_max), ("MemoryHigh", service.memory_high)]
        .into_iter()
        .filter_map(|(key, value)| value.map(|bytes| format!("{key}={}", human_bytes(bytes))))
        .collect();
    let finding = if limits.is_empty() {
        Finding::violated(
            check,
            subject,
            "no MemoryMax or MemoryHigh: a leaking node process can take the whole host's memory",
            format!(
                "{}  # size it to the app",
                fix::drop_in(edit_target(unit), "memory", "Service", &["MemoryMax=1G"])
            ),
        )
    } else {
        Finding::pass(check, subject, limits.join(", "))
    };
    finding.evidence("memory_max", service.memory_max).evidence("memory_high", service.memory_high)
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

fn env_files(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
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
            crate::facts::Fact::Error(reason) => {
                return Finding::error(check, subject, format!("could not read {}: {reason}", file.path));
            }
            crate::facts::Fact::Ok(None) if file.optional => {}
            crate::facts::Fact::Ok(None) => missing.push(file.path.as_str()),
            crate::facts::Fact::Ok(Some(stat)) if stat.mode & 0o004 != 0 => {
                exposed.push((file.path.as_str(), stat.mode))
            }
            crate::facts::Fact::Ok(Some(_)) => {}
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
            format!("sudo chmod o-rwx {path}"),
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
    use crate::invariants::fixtures::{all_good, assert_finding, defects, on_unit};
    use crate::report::Status;

    #[test]
    fn a_good_template_host_passes_every_unit_invariant() {
        let findings = evaluate(&all_good(), &CheckConfig::default());
        let units: Vec<_> = findings.iter().filter(|f| matches!(f.subject, Subject::Unit(_))).collect();
        assert_eq!(units.len(), 4 * 11 + 1, "eleven invariants per instance plus the template");
        for finding in units {
            assert_eq!(finding.status, Status::Pass, "{finding:#?}");
            assert!(finding.remediation.is_none());
        }
    }

    #[test]
    fn registered_names_the_unit_file() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "my-app@39400.service", "supervisor.registered");
        assert_finding(f, Status::Pass, "/etc/systemd/system/my-app@.service");
    }

    #[test]
    fn a_disabled_instance_is_not_enabled_for_boot() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "my-app@39401.service", "supervisor.enabled");
        assert_finding(f, Status::Fail, "disabled: nothing starts it at boot");
        assert_eq!(f.remediation.as_deref(), Some("sudo systemctl enable my-app@39401.service"));
    }

    #[test]
    fn a_runtime_enabled_instance_is_lost_at_reboot() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "my-app@39402.service", "supervisor.enabled");
        assert_finding(f, Status::Fail, "enabled only until the next reboot");
        assert_eq!(f.remediation.as_deref(), Some("sudo systemctl enable my-app@39402.service"));
    }

    #[test]
    fn an_enabled_instance_is_wanted_by_a_boot_target() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "my-app@39400.service", "supervisor.enabled");
        assert_finding(f, Status::Pass, "multi-user.target");
    }

    #[test]
    fn a_failed_unit_is_not_active() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        assert_finding(on_unit(&findings, "api@39408.service", "supervisor.active"), Status::Fail, "failed");
        assert_finding(
            on_unit(&findings, "my-app@39401.service", "supervisor.active"),
            Status::Pass,
            "active (running)",
        );
    }

    #[test]
    fn a_missing_account_fails_unit_user() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "api@39408.service", "unit.user");
        assert_finding(f, Status::Fail, "User=ghostuser names no account");
        assert!(f.remediation.as_deref().is_some_and(|r| r.contains("useradd") && r.contains("ghostuser")));
        assert_finding(on_unit(&findings, "legacy.service", "unit.user"), Status::Pass, "root");
    }

    #[test]
    fn a_removed_node_fails_unit_exec_and_env_resolution_passes() {
        let findings = evaluate(&defects(), &CheckConfig::default());
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
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "api@39408.service", "unit.restart-policy");
        assert_finding(f, Status::Fail, "Restart=no");
        assert!(
            f.remediation.as_deref().is_some_and(|r| r.contains("api@.service.d") && r.contains("Restart=on-failure"))
        );
        assert_eq!(on_unit(&findings, "api@39408.service", "unit.start-limit").status, Status::Skip);
    }

    #[test]
    fn start_limit_off_warns_and_the_article_setting_passes() {
        let findings = evaluate(&defects(), &CheckConfig::default());
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
        unit.start_limit_burst = 5;
        unit.start_limit_interval_usec = 10_000_000;
        if let crate::facts::Fact::Ok(service) = &mut unit.service {
            service.restart_usec = 5_000_000;
        }
        let name = unit.name.clone();
        let findings = evaluate(&facts, &CheckConfig::default());
        assert_finding(on_unit(&findings, &name, "unit.start-limit"), Status::Warn, "the limit never trips");
    }

    #[test]
    fn memory_limits_are_read_from_memory_max() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        assert_finding(on_unit(&findings, "my-app@39400.service", "unit.memory-limit"), Status::Pass, "MemoryMax=1G");
        assert_finding(on_unit(&findings, "legacy.service", "unit.memory-limit"), Status::Warn, "no MemoryMax");
    }

    #[test]
    fn env_files_missing_fail_and_world_readable_warn() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "my-app@39403.service", "unit.env-files");
        assert_finding(f, Status::Fail, "/etc/my-app/39403.env does not exist");
        assert!(f.remediation.as_deref().is_some_and(|r| r.contains("EnvironmentFile=-/etc/my-app/39403.env")));
        assert_finding(on_unit(&findings, "legacy.service", "unit.env-files"), Status::Warn, "readable by every user");
        assert_eq!(on_unit(&findings, "api@39408.service", "unit.env-files").status, Status::Skip);
    }

    #[test]
    fn unreadable_service_properties_are_errors_not_passes() {
        let mut facts = all_good();
        facts.units[0].service = crate::facts::Fact::Error("access denied".into());
        let name = facts.units[0].name.clone();
        let findings = evaluate(&facts, &CheckConfig::default());
        for check in ["unit.user", "unit.exec", "unit.env-files", "process.not-root"] {
            assert_finding(on_unit(&findings, &name, check), Status::Error, "access denied");
        }
    }

    #[test]
    fn execute_permission_follows_owner_group_other() {
        let stat = FileStat { kind: "file".into(), mode: 0o750, uid: 0, gid: 50, size: 1, mtime: 0 };
        let account = |uid, gid| Account { name: "a".into(), uid, gid, home: "/".into() };
        assert!(executable_by(&stat, Some(&account(0, 0))));
        assert!(executable_by(&stat, Some(&account(1000, 50))));
        assert!(!executable_by(&stat, Some(&account(1000, 1000))));
    }

    #[test]
    fn a_static_unit_another_service_wants_at_boot_is_enabled_for_boot() {
        let mut facts = all_good();
        let unit = &mut facts.units[0];
        unit.unit_file_state = "static".into();
        unit.wanted_by = vec!["frontdoor.service".into()];
        unit.boot_chain = crate::facts::Fact::Ok(vec!["multi-user.target".into(), "frontdoor.service".into()]);
        let name = unit.name.clone();
        let findings = evaluate(&facts, &CheckConfig::default());
        assert_finding(
            on_unit(&findings, &name, "supervisor.enabled"),
            Status::Pass,
            &format!("pulled in at boot by multi-user.target → frontdoor.service → {name}"),
        );
    }

    #[test]
    fn an_unreadable_chain_is_an_error_unless_a_boot_target_wants_the_unit() {
        let mut facts = all_good();
        facts.units[0].boot_chain = crate::facts::Fact::Error("access denied".into());
        facts.units[1].boot_chain = crate::facts::Fact::Error("access denied".into());
        facts.units[1].wanted_by = vec!["frontdoor.service".into()];
        let (first, second) = (facts.units[0].name.clone(), facts.units[1].name.clone());
        let findings = evaluate(&facts, &CheckConfig::default());
        assert_finding(on_unit(&findings, &first, "supervisor.enabled"), Status::Pass, "multi-user.target");
        assert_finding(on_unit(&findings, &second, "supervisor.enabled"), Status::Error, "access denied");
    }

    #[test]
    fn a_false_path_condition_means_skipped_at_boot() {
        let mut facts = all_good();
        let condition = |negate, present: bool| StartCondition {
            kind: "ConditionPathExists".into(),
            trigger: false,
            negate,
            parameter: "/etc/my-app/enabled".into(),
            file: Some(FileFacts {
                path: "/etc/my-app/enabled".into(),
                stat: crate::facts::Fact::Ok(present.then(|| FileStat {
                    kind: "file".into(),
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    size: 0,
                    mtime: 0,
                })),
            }),
        };
        facts.units[0].conditions = vec![condition(false, false)];
        facts.units[1].conditions = vec![condition(true, false)];
        let (first, second) = (facts.units[0].name.clone(), facts.units[1].name.clone());
        let findings = evaluate(&facts, &CheckConfig::default());
        let f = on_unit(&findings, &first, "supervisor.enabled");
        assert_finding(
            f,
            Status::Fail,
            "ConditionPathExists=/etc/my-app/enabled does not hold now: systemd will skip the unit at boot",
        );
        assert!(f.remediation.as_deref().is_some_and(|r| r.contains("/etc/my-app/enabled")));
        assert_eq!(on_unit(&findings, &second, "supervisor.enabled").status, Status::Pass);
    }

    #[test]
    fn a_pending_reload_of_a_file_still_on_disk_comes_back_but_warns() {
        let mut facts = all_good();
        facts.units[0].need_daemon_reload = true;
        let name = facts.units[0].name.clone();
        let findings = evaluate(&facts, &CheckConfig::default());
        assert_finding(on_unit(&findings, &name, "supervisor.registered"), Status::Pass, "daemon-reload pending");
        let f = on_unit(&findings, &name, "supervisor.active");
        assert_finding(f, Status::Warn, "changed on disk without a daemon-reload");
        facts.units[0].fragment_file = facts.units[0]
            .fragment_path
            .as_deref()
            .map(|path| FileFacts { path: path.into(), stat: crate::facts::Fact::Ok(None) });
        let findings = evaluate(&facts, &CheckConfig::default());
        assert_finding(on_unit(&findings, &name, "supervisor.registered"), Status::Fail, "was removed");
    }

    #[test]
    fn a_missing_exec_start_pre_fails_unless_ignored() {
        let mut facts = all_good();
        let missing = |ignore_failure| ExecCommand {
            path: "/opt/migrate/bin/migrate".into(),
            argv: vec!["/opt/migrate/bin/migrate".into()],
            ignore_failure,
            binary: FileFacts { path: "/opt/migrate/bin/migrate".into(), stat: crate::facts::Fact::Ok(None) },
            runtime: None,
        };
        for (unit, ignore) in facts.units.iter_mut().zip([false, true]) {
            if let crate::facts::Fact::Ok(service) = &mut unit.service {
                service.exec_start_pre = vec![missing(ignore)];
            }
        }
        let (first, second) = (facts.units[0].name.clone(), facts.units[1].name.clone());
        let findings = evaluate(&facts, &CheckConfig::default());
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
}
