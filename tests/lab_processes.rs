//! Every node process accounted for, in one machine and one real reboot: servers started
//! by hand — in a `systemd-run --scope`, with `nohup` from a login session (left to PID
//! 1), under nodemon, in a tmux session — each named before the reboot with its port and
//! gone after it; a server under an enabled unit, one under a registered PM2 and a
//! lingering user service, each passing and back after it; and units that run node
//! without naming it — a shell wrapper found through env or run as start.sh, `bash -c`,
//! `npm start`, each once enabled and once only started, and a launcher bootproof cannot
//! read — judged, saying how node was found, with verdicts the reboot bears out. The
//! remediation of one hand-started server is pasted as it is and must put it under
//! systemd for good.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    MACHINE_BOOTPROOF, Machine, assert_exit, assert_process_predictions_held, finding, lab_required, ports, prediction,
};

/// The app every server runs: needs GREETING, listens on the port it is given.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// The lab has no sudo package; remediations say `sudo …`. Root's shell stands in for it,
/// with the environment sudo's env_reset leaves.
const SUDO: &str = r#"#!/bin/bash
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root "$@"
"#;

/// A wrapper an installer puts on PATH: `ExecStart=/usr/bin/env start-api PORT`.
const START_API: &str =
    "#!/bin/sh\n# start-api: installed by the vendor's package\nset -e\ncd /opt/my-app\nexec node server.js \"$1\"\n";

/// A start.sh beside the app.
const START_SH: &str = "#!/bin/bash\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\nexport NODE_ENV=production\nexec node server.js \"$@\"\n";

/// The package `npm start` runs.
const PACKAGE_JSON: &str = r#"{ "name": "npm-app", "private": true, "scripts": { "start": "node server.js $PORT" } }"#;

/// Runs `script` in a login session of `user` (`runuser -l` opens one with logind, as
/// an ssh login does), from a file so nothing needs quoting twice.
fn login(machine: &Machine, user: &str, name: &str, script: &str) {
    let file = format!("/opt/lab/{name}.sh");
    machine.write(&file, &format!("set -eu\n{script}\n"), 0o755);
    machine.sh(&format!("runuser -l {user} -c 'bash {file}'"));
}

/// A node unit in /etc/systemd/system.
fn unit(machine: &Machine, name: &str, service: &str, enabled: bool) {
    let install = if enabled { "\n[Install]\nWantedBy=multi-user.target\n" } else { "" };
    machine.write(
        &format!("/etc/systemd/system/{name}"),
        &format!("[Unit]\nDescription={name}\n\n[Service]\nEnvironment=GREETING=hello\n{service}\nRestart=on-failure\n{install}"),
        0o644,
    );
}

/// The process subject of `report` whose key holds `needle`.
#[track_caller]
fn process_subject(report: &Value, needle: &str) -> String {
    report["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["subject"].as_str())
        .find(|s| s.starts_with("process:") && s.contains(needle))
        .unwrap_or_else(|| panic!("no process subject with {needle:?} in\n{report:#}"))
        .to_owned()
}

/// Asserts a finding's status and words.
#[track_caller]
fn assert_says<'a>(report: &'a Value, subject: &str, check: &str, status: &str, words: &[&str]) -> &'a Value {
    let found = finding(report, subject, check);
    assert_eq!(found["status"], status, "{check} on {subject}: {found:#}");
    let message = found["message"].as_str().unwrap_or("");
    for word in words {
        assert!(message.contains(word), "{check} on {subject} lacks {word:?}: {found:#}");
    }
    found
}

/// Whether something accepts on a loopback port inside the machine.
fn answers(machine: &Machine, port: u16) -> bool {
    machine.exec(&["/bin/bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]).status.success()
}

fn wait_answers(machine: &Machine, port: u16) {
    machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(30));
}

#[test]
fn lab_processes_outside_units_and_node_behind_wrappers() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("procs");
    let base = ports(16);
    let port = |i: u16| base + i;
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/usr/local/bin/sudo", SUDO, 0o755);
    machine.install_pm2();
    machine.install_nodemon();
    machine.sh("useradd --create-home --shell /bin/bash deploy");

    // Started by hand. 0: systemd-run --scope, as a login-like wrapper runs a command.
    machine.write(
        "/opt/lab/scope.sh",
        // Two lines: `cd … && node … &` would leave a subshell holding this command's output.
        &format!("cd /opt/my-app\nGREETING=hello nohup node server.js {} >/dev/null 2>&1 &\n", port(0)),
        0o755,
    );
    machine.sh(
        "env -i HOME=/root USER=root LOGNAME=root PATH=/usr/local/bin:/usr/bin:/bin systemd-run --scope --quiet /bin/bash /opt/lab/scope.sh",
    );
    // 1: nohup from deploy's login session, left to PID 1 when the shell exits.
    let nohup = |port: u16| format!("cd /opt/my-app\nGREETING=hello nohup node server.js {port} >/dev/null 2>&1 &");
    login(&machine, "deploy", "nohup", &nohup(port(1)));
    // 2: nodemon, left running from development.
    login(
        &machine,
        "deploy",
        "nodemon",
        &format!("cd /opt/my-app\nGREETING=hello nohup nodemon server.js {} >/dev/null 2>&1 &", port(2)),
    );
    // 3: a tmux session.
    login(
        &machine,
        "deploy",
        "tmux",
        &format!("tmux new-session -d -s api 'cd /opt/my-app && GREETING=hello node server.js {}'", port(3)),
    );
    // 4: another nohup; its remediation is pasted before the reboot.
    login(&machine, "deploy", "fixme", &nohup(port(4)));

    // Supervised. 5: an enabled unit. 6: PM2, registered with pm2 startup and saved.
    unit(&machine, "api.service", &format!("ExecStart=/usr/bin/node /opt/my-app/server.js {}", port(5)), true);
    machine.write(
        "/opt/lab/pm2.sh",
        &format!(
            "set -eu\ncd /opt/my-app\nGREETING=hello pm2 start server.js --name web -- {} >/dev/null\n\
             pm2 startup systemd -u root --hp /root >/dev/null\npm2 save >/dev/null\npm2 kill >/dev/null\n\
             systemctl start pm2-root\n",
            port(6)
        ),
        0o755,
    );
    machine.sh("env -i HOME=/root USER=root LOGNAME=root PATH=/usr/local/bin:/usr/bin:/bin bash /opt/lab/pm2.sh");
    // 7: deploy's own systemd, lingering, with an enabled user service.
    machine.write(
        "/home/deploy/.config/systemd/user/greeter.service",
        &format!(
            "[Unit]\nDescription=Greeter\n\n[Service]\nEnvironment=GREETING=hello\n\
             ExecStart=/usr/bin/node /opt/my-app/server.js {}\nRestart=on-failure\n\n[Install]\nWantedBy=default.target\n",
            port(7)
        ),
        0o644,
    );
    machine.sh("chown -R deploy: /home/deploy/.config && loginctl enable-linger deploy");
    login(
        &machine,
        "deploy",
        "greeter",
        "systemctl --user daemon-reload\nsystemctl --user enable --now greeter.service",
    );

    // Node behind a wrapper: each way once enabled, once only started.
    machine.write("/usr/local/bin/start-api", START_API, 0o755);
    machine.write("/opt/my-app/start.sh", START_SH, 0o755);
    machine.write("/opt/npm-app/server.js", SERVER_JS, 0o644);
    machine.write("/opt/npm-app/package.json", PACKAGE_JSON, 0o644);
    unit(&machine, "wrapped-api.service", &format!("ExecStart=/usr/bin/env start-api {}", port(8)), true);
    unit(&machine, "wrapped-started.service", &format!("ExecStart=/opt/my-app/start.sh {}", port(9)), false);
    let bash_c = |port: u16| format!("ExecStart=/bin/bash -c 'cd /opt/my-app && exec node server.js {port}'");
    unit(&machine, "bashc-api.service", &bash_c(port(10)), true);
    unit(&machine, "bashc-started.service", &bash_c(port(11)), false);
    let npm = |port: u16| {
        format!(
            "WorkingDirectory=/opt/npm-app\nEnvironment=PORT={port} NPM_CONFIG_UPDATE_NOTIFIER=false HOME=/root\nExecStart=/usr/bin/npm start"
        )
    };
    unit(&machine, "npm-api.service", &npm(port(12)), true);
    unit(&machine, "npm-started.service", &npm(port(13)), false);
    // A launcher bootproof cannot read: only the node running in its cgroup shows it.
    unit(
        &machine,
        "launcher-api.service",
        &format!(
            "ExecStart=/usr/bin/python3 -c \"import os, sys; os.execvp('node', ['node', '/opt/my-app/server.js', sys.argv[1]])\" {}",
            port(14)
        ),
        true,
    );
    // nodemon in a unit's ExecStart: it comes back, and is still no production supervisor.
    unit(
        &machine,
        "nodemon-api.service",
        &format!("WorkingDirectory=/opt/my-app\nExecStart=/usr/local/bin/nodemon server.js {}", port(15)),
        true,
    );
    machine.sh(
        "systemctl daemon-reload
         systemctl enable --now api.service wrapped-api.service bashc-api.service npm-api.service launcher-api.service nodemon-api.service
         systemctl start wrapped-started.service bashc-started.service npm-started.service",
    );
    for i in 0..16 {
        wait_answers(&machine, port(i));
    }

    let (code, first) = machine.check_json(&[]);
    assert_eq!(code, 1, "{first:#}");
    // Each hand-started server is named with its port, says what started it, and is lost.
    let by_hand = [
        (0, "transient scope run-"),
        (1, "login session"),
        (2, "login session"),
        (3, "tmux session"),
        (4, "login session"),
    ];
    for (i, how) in by_hand {
        let subject = process_subject(&first, &format!("server.js {}", port(i)));
        let listening = format!("127.0.0.1:{}", port(i));
        let f = assert_says(&first, &subject, "process.supervised", "fail", &[how, &listening]);
        let fix = f["remediation"].as_str().unwrap_or("");
        assert!(fix.starts_with("printf '%s\\n' '[Unit]'"), "{f:#}");
        assert!(fix.contains(&format!("'ExecStart=/usr/bin/node server.js {}'", port(i))), "{f:#}");
        assert!(fix.contains(" WorkingDirectory=/opt/my-app "), "{f:#}");
        assert_eq!(prediction(&first, &subject).map(|p| p["comes_back"].clone()), Some(Value::Bool(false)));
    }
    let orphan = process_subject(&first, &format!("node server.js {} (in /opt/my-app)", port(1)));
    assert_says(&first, &orphan, "process.supervised", "fail", &["left to PID 1", "deploy"]);
    let nodemon = process_subject(&first, &format!("nodemon server.js {}", port(2)));
    assert_says(&first, &nodemon, "process.dev-supervisor", "warn", &["nodemon", "never after a reboot"]);
    let tmux = process_subject(&first, &format!("server.js {}", port(3)));
    assert!(!tmux.contains("tmux"), "the subject is the server, not tmux: {tmux}");
    // The lingering user service passes.
    let greeter = process_subject(&first, &format!("server.js {}", port(7)));
    assert_says(&first, &greeter, "process.supervised", "pass", &["greeter.service", "lingers", "default"]);
    // Units that do not name node are node units, saying how node was found.
    for (unit, words) in [
        ("wrapped-api.service", vec!["wrapper's exec line", "start-api: node server.js"]),
        ("wrapped-started.service", vec!["wrapper's exec line", "/opt/my-app/start.sh: node server.js"]),
        ("bashc-api.service", vec!["started by the shell", "bash -c"]),
        ("npm-api.service", vec!["npm start"]),
        ("launcher-api.service", vec!["node runs in its cgroup"]),
    ] {
        assert_says(&first, &format!("unit:{unit}"), "unit.exec", "pass", &words);
    }
    assert_says(&first, "unit:nodemon-api.service", "process.dev-supervisor", "warn", &["nodemon"]);
    assert_says(&first, "unit:wrapped-started.service", "supervisor.enabled", "fail", &["static"]);

    // The fix of server 4, pasted as it is: it becomes a unit, enabled and running.
    let fixme = process_subject(&first, &format!("server.js {}", port(4)));
    let fix = finding(&first, &fixme, "process.supervised")["remediation"].as_str().unwrap_or("").to_owned();
    machine.sh(&fix);
    let fixed = format!("my-app-{}.service", port(4));
    machine.sh(&format!("systemctl is-enabled {fixed} && systemctl is-active {fixed}"));
    wait_answers(&machine, port(4));

    let (code, before) = machine.check_json(&[]);
    assert_eq!(code, 1, "{before:#}");
    assert_eq!(prediction(&before, &format!("unit:{fixed}")).map(|p| p["comes_back"].clone()), Some(Value::Bool(true)));
    assert!(
        !before["subjects"].as_array().into_iter().flatten().any(|s| s["subject"] == fixme.as_str()),
        "the fixed server is its unit's now:\n{before:#}"
    );
    // plan draws each chain that ends with a process; init offers a unit for each.
    let plan = machine.bootproof(&["plan"]);
    assert_exit(&plan, 1);
    let plan = String::from_utf8_lossy(&plan.stdout);
    for words in
        ["not started by systemd at boot", "login session", "tmux server (pid", "scope run-", "─► greeter.service"]
    {
        assert!(plan.contains(words), "plan lacks {words:?}:\n{plan}");
    }
    let init = machine.bootproof(&["init"]);
    assert_exit(&init, 0);
    let init = String::from_utf8_lossy(&init.stdout);
    assert_eq!(init.matches("# Not back after a reboot: process:").count(), 4, "{init}");
    assert!(init.contains(&format!("# name = \"my-app-{}.service\"", port(0))), "{init}");

    machine.reboot();
    machine.wait_for("! systemctl list-jobs --no-legend | grep -q .", Duration::from_secs(30));
    for i in [4, 5, 6, 7, 8, 10, 12, 14, 15] {
        wait_answers(&machine, port(i));
    }
    let (_, after) = machine.check_json(&[]);
    machine.assert_predictions_held(&before, &after);
    let out = machine.bootproof(&["facts", "--no-state"]);
    assert_exit(&out, 0);
    let after_facts: Value = serde_json::from_slice(&out.stdout).expect("facts are JSON");
    machine
        .assert_pm2_predictions_held(&before, &after_facts, |app| (app == "web").then(|| answers(&machine, port(6))));
    let (back, lost) = assert_process_predictions_held(&before, &after);
    assert_eq!(back, vec![greeter], "{before:#}");
    assert_eq!(lost.len(), 4, "{lost:?}");
    for i in [0, 1, 2, 3, 9, 11, 13] {
        assert!(!answers(&machine, port(i)), "port {} should be down after the reboot", port(i));
    }
    // After the reboot, the lost servers are named from the state file, with their ports.
    for subject in &lost {
        let f = assert_says(&after, subject, "process.supervised", "fail", &["ran at the last check before this boot"]);
        assert_eq!(f["evidence"]["running"], false, "{f:#}");
    }
    // The units only started are found while stopped, from their ExecStart alone.
    for unit in ["wrapped-started.service", "bashc-started.service", "npm-started.service"] {
        assert_says(&after, &format!("unit:{unit}"), "supervisor.active", "fail", &["inactive"]);
    }

    // A systemd container is a host: host invariants judged, and no bus is exit 3.
    assert_eq!(after_facts["host"]["container"]["container_env"]["ok"], "systemd-nspawn", "{after_facts:#}");
    // (A base unit of the host's OS may fail in a machine after its reboot: judged all the same.)
    let state = finding(&after, "host", "host.state");
    assert!(state["status"] != "skip" && state["evidence"]["system_state"].is_string(), "{state:#}");
    let no_bus = machine.exec(&[
        "/usr/bin/env",
        "NO_COLOR=1",
        "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/system_bus_socket",
        MACHINE_BOOTPROOF,
        "check",
    ]);
    assert_exit(&no_bus, 3);
    let stderr = String::from_utf8_lossy(&no_bus.stderr);
    assert!(stderr.contains("systemd is PID 1"), "{stderr}");
}
