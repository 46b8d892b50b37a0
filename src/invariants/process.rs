//! Invariants of the processes a service runs: not as root, and not on a node that a
//! per-user version manager can pull out from under it.

use crate::facts::{Fact, ServiceFacts, UnitFacts};
use crate::invariants::{CheckId, fix};
use crate::report::{Finding, Subject};

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

/// Both process invariants for `unit`.
pub(crate) fn judge(unit: &UnitFacts) -> Vec<Finding> {
    let subject = Subject::Unit(unit.name.clone());
    match &unit.service {
        Fact::Ok(service) => vec![not_root(unit, service, &subject), node_runtime(unit, service, &subject)],
        Fact::Error(reason) => [CheckId::ProcessNotRoot, CheckId::ProcessNodeRuntime]
            .into_iter()
            .map(|check| Finding::error(check, &subject, format!("service properties unreadable: {reason}")))
            .collect(),
    }
}

fn not_root(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::ProcessNotRoot;
    let edit = unit.template.as_deref().unwrap_or(&unit.name);
    let remediation = format!(
        "sudo useradd --system --no-create-home --shell /usr/sbin/nologin nodeapp && {}",
        fix::drop_in(edit, "user", "Service", &["User=nodeapp"])
    );
    let processes = match &service.processes {
        Fact::Ok(processes) => processes.as_slice(),
        Fact::Error(reason) => {
            return Finding::error(check, subject, format!("could not read the unit's processes: {reason}"));
        }
    };
    let finding = if let Some(root) = processes.iter().find(|p| p.uid == 0) {
        let command = root.cmdline.join(" ");
        Finding::violated(check, subject, format!("runs as root (pid {}: {command})", root.pid), remediation)
            .evidence("pid", root.pid)
    } else if let Some(first) = processes.first() {
        let who = first.user.clone().unwrap_or_else(|| format!("uid {}", first.uid));
        Finding::pass(check, subject, format!("runs as {who}"))
    } else if service.dynamic_user {
        Finding::pass(check, subject, "will run as a dynamic user")
    } else {
        match service.account.ok().and_then(Option::as_ref) {
            Some(account) if account.uid == 0 => Finding::violated(
                check,
                subject,
                format!(
                    "will run as root when started ({})",
                    if service.user.is_empty() { "no User=" } else { "User=root" }
                ),
                remediation,
            ),
            Some(account) => Finding::pass(check, subject, format!("will run as {} when started", account.name)),
            None => Finding::skip(check, subject, "not running, and User= names no account (see unit.user)"),
        }
    };
    finding.evidence("user", &service.user).evidence("uids", processes.iter().map(|p| p.uid).collect::<Vec<_>>())
}

fn node_runtime(unit: &UnitFacts, service: &ServiceFacts, subject: &Subject) -> Finding {
    let check = CheckId::ProcessNodeRuntime;
    let edit = unit.template.as_deref().unwrap_or(&unit.name);
    let mut places: Vec<(String, &'static str, String)> = Vec::new();
    if let Fact::Ok(processes) = &service.processes {
        for process in processes {
            if let Fact::Ok(exe) = &process.exe
                && let Some(manager) = version_manager(exe)
            {
                places.push((format!("pid {} runs {exe}", process.pid), manager, exe.clone()));
            }
        }
    }
    for command in &service.exec_start {
        if let Some(manager) = version_manager(&command.path) {
            places.push((format!("ExecStart runs {}", command.path), manager, command.path.clone()));
        }
        if let Some(resolved) = command.runtime.as_ref().and_then(|r| r.resolved.as_ref())
            && let Some(manager) = version_manager(&resolved.path)
        {
            places.push((format!("ExecStart finds node at {}", resolved.path), manager, resolved.path.clone()));
        }
    }
    for assignment in &service.environment {
        if let Some(path) = assignment.strip_prefix("PATH=") {
            for dir in path.split(':') {
                if let Some(manager) = version_manager(&format!("{dir}/")) {
                    places.push((format!("the unit's PATH holds {dir}"), manager, dir.to_owned()));
                }
            }
        }
    }
    let running: Vec<String> = match &service.processes {
        Fact::Ok(processes) => processes.iter().filter_map(|p| p.exe.ok().cloned()).collect(),
        Fact::Error(_) => Vec::new(),
    };
    let finding = match places.first() {
        Some((what, manager, _)) => Finding::violated(
            check,
            subject,
            format!(
                "{what}, a per-user {manager} install: upgrading or removing that node version breaks the unit at its next start"
            ),
            format!(
                "install node system-wide (distribution or NodeSource package) and point ExecStart and PATH at /usr/bin: sudo systemctl edit --full {edit}"
            ),
        ),
        None => {
            let node = running.first().cloned().or_else(|| {
                service.exec_start.iter().find_map(|c| c.runtime.as_ref()?.resolved.as_ref().map(|f| f.path.clone()))
            });
            match node {
                Some(node) => {
                    Finding::pass(check, subject, format!("node is {node}, outside any per-user version manager"))
                }
                None => Finding::pass(
                    check,
                    subject,
                    "no per-user version manager in ExecStart, PATH or the running processes",
                ),
            }
        }
    };
    finding
        .evidence("places", places.iter().map(|(_, _, path)| path.as_str()).collect::<Vec<_>>())
        .evidence("running", running)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{assert_finding, defects, on_unit};
    use crate::report::Status;

    #[test]
    fn a_root_process_warns_and_a_service_user_passes() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        assert_finding(on_unit(&findings, "legacy.service", "process.not-root"), Status::Warn, "runs as root");
        assert_finding(on_unit(&findings, "my-app@39400.service", "process.not-root"), Status::Pass, "nodeuser");
    }

    #[test]
    fn node_from_nvm_warns_naming_the_binary() {
        let findings = evaluate(&defects(), &CheckConfig::default());
        let f = on_unit(&findings, "legacy.service", "process.node-runtime");
        assert_finding(f, Status::Warn, "/root/.nvm/versions/node/v20.11.1/bin/node");
        assert_finding(
            on_unit(&findings, "my-app@39400.service", "process.node-runtime"),
            Status::Pass,
            "/usr/bin/node",
        );
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
