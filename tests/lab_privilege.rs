//! Least privilege: bootproof run as an unprivileged user on a real host, held to what
//! root sees there. What the user may read, bootproof judges as root does; what needs
//! more — another user's `/proc/PID/exe`, a home directory closed to others, a 0600
//! `dump.pm2`, another user's `rpc.sock` — becomes an `error` that names the missing
//! privilege. Never a pass or a failure root would not give (a false pass or a false
//! fail), and never a subject left out.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{MACHINE_BOOTPROOF, Machine, lab_required, ports};

/// The app every service runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// PATH of a login shell, where `npm install -g` puts pm2.
const LOGIN_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Runs `script` as `user` in a login-like environment.
fn as_user(machine: &Machine, user: &str, script: &str) -> String {
    let home = if user == "root" { "/root".to_owned() } else { format!("/home/{user}") };
    let quoted = script.replace('\'', r"'\''");
    machine.sh(&format!(
        "cd /; runuser -u {user} -- env -i HOME={home} USER={user} LOGNAME={user} PATH={LOGIN_PATH} \
         bash -euo pipefail -c '{quoted}'"
    ))
}

/// `check --format json --no-state` as `user` (through setpriv, with no capability
/// kept): exit code and report.
fn check_as(machine: &Machine, user: &str) -> (i32, Value) {
    let out = machine.exec(&[
        "setpriv",
        &format!("--reuid={user}"),
        &format!("--regid={user}"),
        "--init-groups",
        "--inh-caps=-all",
        "--",
        "/usr/bin/env",
        "-i",
        "NO_COLOR=1",
        &format!("HOME=/home/{user}"),
        "PATH=/usr/bin:/bin",
        MACHINE_BOOTPROOF,
        "check",
        "--format",
        "json",
        "--no-state",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report as {user} ({e})\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// `(subject, check) → (status, message)` of a report.
fn results(report: &Value) -> BTreeMap<(String, String), (String, String)> {
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            ((text(&r["subject"]), text(&r["check"])), (text(&r["status"]), text(&r["message"])))
        })
        .collect()
}

/// `subject → comes_back, blocked_by.status` of a report.
fn predictions(report: &Value) -> BTreeMap<String, (bool, String)> {
    report["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["subject"].as_str().unwrap_or_default().to_owned(),
                (p["comes_back"] == true, p["blocked_by"]["status"].as_str().unwrap_or_default().to_owned()),
            )
        })
        .collect()
}

#[test]
fn lab_privilege_an_unprivileged_user_gets_roots_verdicts_or_errors_naming_root() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("lesspriv");
    let base = ports(2);
    machine.install_pm2();
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    // A service user's node unit: its /proc/PID/exe is closed to other users.
    machine.write(
        "/etc/systemd/system/api.service",
        &format!(
            "[Unit]\nDescription=API\n\n[Service]\nUser=nodeuser\nEnvironment=GREETING=hello\n\
             ExecStart=/usr/bin/node /opt/my-app/server.js {base}\nRestart=on-failure\nMemoryMax=300M\n\n\
             [Install]\nWantedBy=multi-user.target\n"
        ),
        0o644,
    );
    machine.sh("useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser
         useradd --create-home --shell /bin/bash deploy
         useradd --create-home --shell /bin/bash alice
         systemctl daemon-reload && systemctl enable --now api.service");
    // PM2 under deploy, registered and saved as the incident's fix says, its dump 0600 and
    // its home closed to other users.
    as_user(
        &machine,
        "deploy",
        &format!(
            "cd /opt/my-app && GREETING=hi pm2 start server.js --name worker --max-memory-restart 300M -- {} >/dev/null
             pm2 save >/dev/null",
            base + 1
        ),
    );
    as_user(&machine, "root", "pm2 startup systemd -u deploy --hp /home/deploy >/dev/null");
    as_user(&machine, "deploy", "pm2 kill >/dev/null && chmod 600 /home/deploy/.pm2/dump.pm2*");
    machine.sh("chmod 750 /home/deploy && systemctl start pm2-deploy.service");
    for port in [base, base + 1] {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(20));
    }

    let (root_code, as_root) = check_as(&machine, "root");
    let (_, as_alice) = check_as(&machine, "alice");
    let root_results = results(&as_root);
    let alice_results = results(&as_alice);
    let mut wrong = Vec::new();
    for (key, (root_status, _)) in &root_results {
        match alice_results.get(key) {
            None => wrong.push(format!("{key:?}: root judges it ({root_status}), alice's report leaves it out")),
            Some((status, _)) if status == root_status => {}
            Some((status, message)) if status == "error" => {
                if !message.contains("needs root") {
                    wrong.push(format!("{key:?}: an error that does not name the privilege it lacks: {message}"));
                }
            }
            Some((status, message)) => {
                wrong.push(format!("{key:?}: root says {root_status}, alice's run says {status}: {message}"))
            }
        }
    }
    for (subject, (root_back, _)) in predictions(&as_root) {
        match predictions(&as_alice).get(&subject) {
            None => wrong.push(format!("{subject}: no prediction in alice's report")),
            Some((back, _)) if *back == root_back => {}
            Some((_, blocked)) if blocked == "error" => {}
            Some((back, blocked)) => {
                wrong.push(format!("{subject}: comes back {back} ({blocked}), root says {root_back}"))
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "alice's verdicts against root's:\n{}\n--- root\n{as_root:#}\n--- alice\n{as_alice:#}",
        wrong.join("\n")
    );
    // The run is worth something: root sees all of it pass (exit 0), and alice's run did
    // hit what only root may read — the other users' processes and deploy's PM2 home.
    assert_eq!(root_code, 0, "{as_root:#}");
    let errors: Vec<&(String, String)> =
        alice_results.iter().filter(|(_, (status, _))| status == "error").map(|(key, _)| key).collect();
    assert!(errors.iter().any(|(subject, _)| subject == "unit:api.service"), "{errors:?}");
    assert!(errors.iter().any(|(subject, _)| subject == "pm2:/home/deploy/.pm2"), "{errors:?}");
}
