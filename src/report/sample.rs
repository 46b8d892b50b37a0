//! Sample reports for the renderers' snapshot tests: one host after a reboot with the
//! usual mix of trouble, and one where everything came back.
//!
//! The values are what a real `my-app@3000..3003` template-unit deployment produces, so a
//! snapshot reads like the output an operator would see.

use serde_json::{Value, json};

use super::{Finding, HostSummary, Report, Status, Subject};
use crate::invariants::CheckId;

/// The host every sample report was taken on.
fn web_1(system_state: &str) -> HostSummary {
    HostSummary {
        hostname: Some("web-1".to_owned()),
        boot_id: Some("3f9c2a1e-7b4d-4e0a-9c51-2d8e6f1a0b77".to_owned()),
        booted_at: Some("2025-03-14T03:02:11Z".to_owned()),
        system_state: Some(system_state.to_owned()),
    }
}

/// One finding; `evidence` must be a JSON object.
fn finding(
    subject: &Subject,
    check: CheckId,
    status: Status,
    message: &str,
    remediation: Option<&str>,
    evidence: Value,
) -> Finding {
    let Value::Object(evidence) = evidence else {
        panic!("sample evidence for {check} must be a JSON object");
    };
    Finding {
        check,
        subject: subject.clone(),
        status,
        message: message.to_owned(),
        remediation: remediation.map(str::to_owned),
        evidence,
    }
}

/// A passing finding.
fn pass(subject: &Subject, check: CheckId, message: &str, evidence: Value) -> Finding {
    finding(subject, check, Status::Pass, message, None, evidence)
}

/// The unit subject of instance `port`.
fn instance(port: u16) -> Subject {
    Subject::Unit(format!("my-app@{port}.service"))
}

/// `host.state` passing on a running system.
fn host_running() -> Finding {
    pass(
        &Subject::Host,
        CheckId::HostState,
        "system is running, no failed units",
        json!({ "system_state": "running", "n_failed_units": 0 }),
    )
}

/// Every invariant a healthy node instance passes, with its evidence. Findings listed in
/// `except` are left out so a caller can put a failing one in their place.
fn healthy_instance(port: u16, except: &[CheckId]) -> Vec<Finding> {
    let unit = instance(port);
    let name = format!("my-app@{port}.service");
    let pid = 1000 + u32::from(port % 100) * 17;
    let all = vec![
        pass(
            &unit,
            CheckId::SupervisorRegistered,
            "unit file loaded from /etc/systemd/system/my-app@.service",
            json!({ "load_state": "loaded", "fragment_path": "/etc/systemd/system/my-app@.service", "need_daemon_reload": false }),
        ),
        pass(
            &unit,
            CheckId::SupervisorEnabled,
            "enabled, wanted by multi-user.target",
            json!({ "unit_file_state": "enabled", "wanted_by": ["multi-user.target"] }),
        ),
        pass(
            &unit,
            CheckId::SupervisorActive,
            &format!("active (running), main pid {pid}"),
            json!({ "active_state": "active", "sub_state": "running", "main_pid": pid }),
        ),
        pass(&unit, CheckId::UnitUser, "runs as nodeuser (uid 1001)", json!({ "user": "nodeuser", "uid": 1001 })),
        pass(
            &unit,
            CheckId::UnitExec,
            "/usr/bin/node exists and is executable",
            json!({ "exec_start": ["/usr/bin/node", "/srv/my-app/server.js"] }),
        ),
        pass(&unit, CheckId::UnitRestartPolicy, "Restart=on-failure", json!({ "restart": "on-failure" })),
        pass(
            &unit,
            CheckId::UnitStartLimit,
            "at most 5 starts in 60s",
            json!({ "start_limit_burst": 5, "start_limit_interval_usec": 60_000_000 }),
        ),
        pass(&unit, CheckId::UnitMemoryLimit, "MemoryMax=512M", json!({ "memory_max": 536_870_912 })),
        pass(
            &unit,
            CheckId::UnitEnvFiles,
            &format!("/etc/my-app/{port}.env exists, mode 0640"),
            json!({ "environment_files": [format!("/etc/my-app/{port}.env")], "mode": "0640" }),
        ),
        pass(&unit, CheckId::ProcessNotRoot, "runs as uid 1001", json!({ "pid": pid, "uid": 1001 })),
        pass(
            &unit,
            CheckId::ProcessNodeRuntime,
            "node is /usr/bin/node",
            json!({ "pid": pid, "exe": "/usr/bin/node", "unit": name }),
        ),
    ];
    all.into_iter().filter(|f| !except.contains(&f.check)).collect()
}

/// A host after a reboot: one instance lost its enablement, one its env file, one could
/// not be fully inspected, and one passes everything.
pub(crate) fn sample_report() -> Report {
    let template = Subject::Unit("my-app@.service".to_owned());
    let mut results = vec![host_running()];

    results.push(finding(
        &template,
        CheckId::UnitInstances,
        Status::Fail,
        "3 of 4 instances will start at boot: my-app@3001.service is not enabled",
        Some("sudo systemctl enable my-app@3001.service"),
        json!({ "expected": ["3000", "3001", "3002", "3003"], "not_enabled": ["my-app@3001.service"] }),
    ));

    results.extend(healthy_instance(3000, &[]));

    results.extend(healthy_instance(3001, &[CheckId::SupervisorEnabled]));
    results.push(finding(
        &instance(3001),
        CheckId::SupervisorEnabled,
        Status::Fail,
        "enabled only until the next reboot (enabled-runtime: the link lives in /run)",
        Some("sudo systemctl enable my-app@3001.service"),
        json!({ "unit_file_state": "enabled-runtime", "wanted_by": ["multi-user.target"] }),
    ));

    results.extend(healthy_instance(3002, &[CheckId::UnitEnvFiles, CheckId::ProcessNodeRuntime]));
    results.push(finding(
        &instance(3002),
        CheckId::UnitEnvFiles,
        Status::Fail,
        "EnvironmentFile /etc/my-app/3002.env is missing: the unit will fail to start at boot",
        Some(
            "sudo install -m 0640 -o root -g nodeuser /dev/null /etc/my-app/3002.env\n\
             sudoedit /etc/my-app/3002.env",
        ),
        json!({ "environment_file": "/etc/my-app/3002.env", "optional": false, "exists": false }),
    ));
    results.push(finding(
        &instance(3002),
        CheckId::ProcessNodeRuntime,
        Status::Warn,
        "node runs from /home/nodeuser/.nvm/versions/node/v20.11.1/bin/node, which breaks when nvm changes",
        Some("install node system-wide (distro or NodeSource package) and set ExecStart=/usr/bin/node …"),
        json!({ "pid": 1034, "exe": "/home/nodeuser/.nvm/versions/node/v20.11.1/bin/node", "manager": "nvm" }),
    ));

    let unit_3003 = instance(3003);
    results.extend(healthy_instance(3003, &[]).into_iter().filter(|f| {
        [CheckId::SupervisorRegistered, CheckId::SupervisorEnabled, CheckId::SupervisorActive].contains(&f.check)
    }));
    results.push(finding(
        &unit_3003,
        CheckId::ProcessNotRoot,
        Status::Error,
        "could not read /proc/1051/status: permission denied",
        Some("run bootproof as root: sudo bootproof check"),
        json!({ "pid": 1051, "error": "permission denied (os error 13)" }),
    ));
    results.push(finding(
        &unit_3003,
        CheckId::ProcessNodeRuntime,
        Status::Skip,
        "ExecStart runs bun, not node",
        None,
        json!({ "exec_start": ["/usr/local/bin/bun", "run", "/srv/my-app/server.ts"] }),
    ));

    Report::new(web_1("running"), results)
}

/// The same host once everything came back: every finding passes.
pub(crate) fn all_pass_report() -> Report {
    let mut results = vec![host_running()];
    results.extend(healthy_instance(3000, &[]));
    results.extend(healthy_instance(3001, &[]));
    Report::new(web_1("running"), results)
}
