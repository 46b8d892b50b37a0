//! The process invariants, one implementation for node units and PM2 homes alike: does
//! the service run as root (`process.not-root`), and does it rely on a node that a
//! per-user version manager can pull out from under it (`process.node-runtime`).
//!
//! A process bootproof cannot see (`/proc/PID/exe` unreadable, the unit's processes
//! unreadable) is never taken to be fine: with nothing else found, that is an `error`.

use crate::facts::{Fact, ProcessFacts, ServiceFacts, UnitFacts};
use crate::invariants::{fix, supervisor::edit_target};
use crate::verdict::{CheckId, Finding, Subject};

/// Path fragments of per-user node version managers: nvm, fnm, volta, asdf and n.
const VERSION_MANAGER_DIRS: &[(&str, &str)] = &[
    ("/.nvm/", "nvm"),
    ("/.fnm/", "fnm"),
    ("/.local/share/fnm/", "fnm"),
    ("/fnm_multishells/", "fnm"),
    ("/.volta/", "volta"),
    ("/.asdf/", "asdf"),
    ("/n/versions/node/", "n"),
];

/// The version manager a path belongs to, if any.
pub(crate) fn version_manager(path: &str) -> Option<&'static str> {
    VERSION_MANAGER_DIRS
        .iter()
        .find(|(fragment, _)| path.contains(fragment) || path.ends_with(fragment.trim_end_matches('/')))
        .map(|(_, manager)| *manager)
}

/// A process a subject runs, with how messages name it.
pub(crate) struct Labelled<'a> {
    /// `pid 4242 (node /opt/my-app/server.js)`, `the PM2 daemon (pid 12)`, `app api (pid 13)`.
    pub(crate) label: String,
    /// The process.
    pub(crate) process: &'a ProcessFacts,
}

/// The processes a subject runs now, or why they could not be read.
pub(crate) type Running<'a> = Result<Vec<Labelled<'a>>, String>;

/// Both process invariants for a node unit.
pub(crate) fn judge_unit(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Vec<Finding> {
    let running: Running = match &service.processes {
        Fact::Ok(processes) => Ok(processes
            .iter()
            .map(|p| Labelled { label: format!("pid {} ({})", p.pid, p.cmdline.join(" ")), process: p })
            .collect()),
        Fact::Error(reason) => Err(reason.clone()),
    };
    let edit = edit_target(unit);
    let not_root_fix = format!(
        "sudo useradd --system --no-create-home --shell /usr/sbin/nologin nodeapp && {}",
        fix::drop_in(edit, "user", "Service", &["User=nodeapp"])
    );
    let runtime_fix = format!(
        "install node system-wide (distribution or NodeSource package) and point ExecStart and PATH at /usr/bin: sudo systemctl edit --full {edit}"
    );
    vec![
        not_root(subject, &running, Some(service), not_root_fix),
        node_runtime(subject, &running, Some((&unit.name, Ok(service))), "the unit at its next start", runtime_fix),
    ]
}

/// `process.not-root`: nothing the subject runs runs as root; when nothing runs now, the
/// unit that starts it (`when_started`) does not make it root.
pub(crate) fn not_root(
    subject: &Subject,
    running: &Running,
    when_started: Option<&ServiceFacts>,
    remediation: String,
) -> Finding {
    let check = CheckId::ProcessNotRoot;
    let processes = match running {
        Ok(processes) => processes,
        Err(reason) => return Finding::error(check, subject, format!("could not read its processes: {reason}")),
    };
    let root: Vec<&Labelled> = processes.iter().filter(|p| p.process.uid == 0).collect();
    let finding = if !root.is_empty() {
        let labels: Vec<&str> = root.iter().map(|p| p.label.as_str()).collect();
        Finding::violated(check, subject, format!("runs as root: {}", labels.join(", ")), remediation)
            .evidence("pid", root[0].process.pid)
    } else if !processes.is_empty() {
        let mut users: Vec<String> = processes
            .iter()
            .map(|p| p.process.user.clone().unwrap_or_else(|| format!("uid {}", p.process.uid)))
            .collect();
        users.dedup();
        Finding::pass(check, subject, format!("runs as {}", users.join(", ")))
    } else {
        match when_started {
            None => Finding::skip(check, subject, "nothing runs now, and no unit says who it would run as"),
            Some(service) if service.dynamic_user => Finding::pass(check, subject, "will run as a dynamic user"),
            Some(service) => match &service.account {
                Fact::Ok(Some(account)) if account.uid == 0 => Finding::violated(
                    check,
                    subject,
                    format!(
                        "will run as root when started ({})",
                        if service.user.is_empty() { "no User=".to_owned() } else { format!("User={}", service.user) }
                    ),
                    remediation,
                ),
                Fact::Ok(Some(account)) => {
                    Finding::pass(check, subject, format!("will run as {} when started", account.name))
                }
                Fact::Ok(None) => {
                    Finding::skip(check, subject, "not running, and User= names no account (see unit.user)")
                }
                Fact::Error(reason) => Finding::error(
                    check,
                    subject,
                    format!("not running, and who User={} is could not be looked up: {reason}", service.user),
                ),
            },
        }
    };
    finding
        .evidence("user", when_started.map(|s| s.user.as_str()))
        .evidence("uids", processes.iter().map(|p| p.process.uid).collect::<Vec<_>>())
}

/// `process.node-runtime`: neither the running node (`/proc/PID/exe`), nor the unit's
/// ExecStart binary, the node it finds, or its `PATH=` is under a per-user version
/// manager. `unit` is the unit that starts the subject, with its name for messages and
/// its service settings (or why they could not be read); `breaks` says what an upgrade
/// of that node breaks.
pub(crate) fn node_runtime(
    subject: &Subject,
    running: &Running,
    unit: Option<(&str, Result<&ServiceFacts, &str>)>,
    breaks: &str,
    remediation: String,
) -> Finding {
    let check = CheckId::ProcessNodeRuntime;
    let mut places: Vec<(String, &'static str, String)> = Vec::new();
    let mut unseen: Vec<String> = Vec::new();
    let mut node: Option<String> = None;
    match running {
        Ok(processes) => {
            for Labelled { label, process } in processes {
                match &process.exe {
                    Fact::Ok(exe) => {
                        node.get_or_insert_with(|| exe.clone());
                        if let Some(manager) = version_manager(exe) {
                            places.push((format!("{label} runs {exe}"), manager, exe.clone()));
                        }
                    }
                    Fact::Error(reason) => unseen.push(format!("{label}: {reason}")),
                }
            }
        }
        Err(reason) => unseen.push(format!("its processes could not be read: {reason}")),
    }
    if let Some((name, Err(reason))) = unit {
        unseen.push(format!("{name}'s settings could not be read: {reason}"));
    }
    if let Some((name, Ok(service))) = unit {
        for command in &service.exec_start {
            if let Some(manager) = version_manager(&command.path) {
                places.push((format!("{name}'s ExecStart runs {}", command.path), manager, command.path.clone()));
            }
            if let Some(resolved) = command.runtime.as_ref().and_then(|r| r.resolved.as_ref()) {
                node.get_or_insert_with(|| resolved.path.clone());
                if let Some(manager) = version_manager(&resolved.path) {
                    places.push((
                        format!("{name}'s ExecStart finds node at {}", resolved.path),
                        manager,
                        resolved.path.clone(),
                    ));
                }
            }
        }
        for assignment in &service.environment {
            if let Some(path) = assignment.strip_prefix("PATH=") {
                for dir in path.split(':') {
                    if let Some(manager) = version_manager(&format!("{dir}/")) {
                        places.push((format!("{name}'s PATH holds {dir}"), manager, dir.to_owned()));
                    }
                }
            }
        }
    }
    let finding = match places.first() {
        Some((_, manager, _)) => Finding::violated(
            check,
            subject,
            format!(
                "{}: a per-user {manager} install; upgrading or removing that node version breaks {breaks}",
                places.iter().map(|(what, _, _)| what.as_str()).collect::<Vec<_>>().join("; ")
            ),
            remediation,
        ),
        // Not knowing which node runs is not knowing it is safe.
        None if !unseen.is_empty() => {
            Finding::error(check, subject, format!("could not see which node runs: {}", unseen.join("; ")))
        }
        None => match &node {
            Some(node) => {
                Finding::pass(check, subject, format!("node is {node}, outside any per-user version manager"))
            }
            None => {
                Finding::pass(check, subject, "no per-user version manager in ExecStart, PATH or the running processes")
            }
        },
    };
    finding.evidence("places", places.iter().map(|(_, _, path)| path.as_str()).collect::<Vec<_>>()).evidence(
        "running",
        running
            .as_ref()
            .map(|processes| processes.iter().filter_map(|p| p.process.exe.ok().cloned()).collect::<Vec<_>>())
            .ok(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, assert_finding, defects, on_unit, service_mut};
    use crate::verdict::Status;

    #[test]
    fn a_root_process_warns_and_a_service_user_passes() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, "legacy.service", "process.not-root"), Status::Warn, "runs as root");
        assert_finding(on_unit(&findings, "my-app@39400.service", "process.not-root"), Status::Pass, "nodeuser");
    }

    #[test]
    fn node_from_nvm_warns_naming_the_binary() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "legacy.service", "process.node-runtime");
        assert_finding(f, Status::Warn, "/root/.nvm/versions/node/v20.11.1/bin/node");
        assert_finding(
            on_unit(&findings, "my-app@39400.service", "process.node-runtime"),
            Status::Pass,
            "/usr/bin/node",
        );
    }

    /// Issue 7, wrong verdict 4: a unit's processes that could not be read, or a node
    /// binary that could not be seen, used to pass `process.node-runtime` (the PM2 copy of
    /// the check already said `error`). One implementation now, and `error` for both.
    #[test]
    fn unseen_processes_are_errors_not_passes() {
        let mut facts = all_good();
        service_mut(&mut facts.units[0]).processes =
            Fact::Error("cannot read /sys/fs/cgroup/…: Permission denied".into());
        if let Fact::Ok(processes) = &mut service_mut(&mut facts.units[1]).processes {
            for process in processes {
                process.exe = Fact::Error("cannot read /proc/4242/exe: Permission denied".into());
            }
        }
        let (first, second) = (facts.units[0].name.clone(), facts.units[1].name.clone());
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, &first, "process.not-root"), Status::Error, "Permission denied");
        assert_finding(on_unit(&findings, &first, "process.node-runtime"), Status::Error, "Permission denied");
        assert_finding(on_unit(&findings, &second, "process.node-runtime"), Status::Error, "/proc/4242/exe");
        assert_finding(on_unit(&findings, &second, "process.not-root"), Status::Pass, "nodeuser");
    }

    #[test]
    fn version_managers_are_recognised_by_path() {
        assert_eq!(version_manager("/home/deploy/.nvm/versions/node/v20.11.1/bin/node"), Some("nvm"));
        assert_eq!(version_manager("/root/.volta/bin/node"), Some("volta"));
        assert_eq!(version_manager("/home/a/.local/share/fnm/node-versions/v20/installation/bin/node"), Some("fnm"));
        assert_eq!(version_manager("/usr/local/n/versions/node/20.1.0/bin/node"), Some("n"));
        assert_eq!(version_manager("/home/a/.asdf/installs/nodejs/20/bin/node"), Some("asdf"));
        assert_eq!(version_manager("/usr/bin/node"), None);
        assert_eq!(version_manager("/usr/local/bin/node"), None);
    }
}
