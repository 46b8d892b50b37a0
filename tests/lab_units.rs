//! Reboot-lab scenarios for systemd template units, as the systemd article sets them up:
//! `my-app@.service` with Restart=, RestartSec=, StartLimitIntervalSec=60s,
//! StartLimitBurst=3, MemoryMax=1G, a service user, an EnvironmentFile and a
//! WorkingDirectory, four instances on their own ports. Each scenario breaks one thing,
//! asks bootproof before a real reboot, reboots, asks again, and holds every pre-reboot
//! prediction to what the reboot actually did.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Machine, finding, lab_required, ports, statuses};

/// The app every instance runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// The template unit, as the systemd article writes it.
const TEMPLATE: &str = include_str!("lab/my-app/my-app@.service");

/// A lab machine with `my-app@.service` and four instances on fresh ports, all enabled
/// and running.
struct Fleet {
    machine: Machine,
    ports: Vec<u16>,
}

impl Fleet {
    fn up(tag: &str) -> Fleet {
        let machine = Machine::up(tag);
        let base = ports(4);
        let ports: Vec<u16> = (base..base + 4).collect();
        machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
        machine.write("/etc/systemd/system/my-app@.service", TEMPLATE, 0o644);
        for port in &ports {
            machine.write(&format!("/etc/my-app/{port}.env"), "GREETING=hello\n", 0o640);
        }
        machine.sh(
            "useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser && chgrp nodeuser /etc/my-app/*.env",
        );
        machine.sh(&format!("systemctl daemon-reload && systemctl enable --now {}", fleet_units(&ports).join(" ")));
        let fleet = Fleet { machine, ports };
        for i in 0..4 {
            fleet.wait_listening(i);
        }
        fleet
    }

    fn unit(&self, i: usize) -> String {
        format!("my-app@{}.service", self.ports[i])
    }

    fn subject(&self, i: usize) -> String {
        format!("unit:{}", self.unit(i))
    }

    fn wait_listening(&self, i: usize) {
        self.machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{}", self.ports[i]), Duration::from_secs(15));
    }

    /// Checks, reboots, checks again; asserts the predictions held. Returns both reports.
    fn check_reboot_check(&self) -> (Value, Value) {
        let (_, before) = self.machine.check_json(&[]);
        self.machine.reboot();
        // Node units are Type=simple: active as soon as started; give crashing ones time to fail.
        self.machine.wait_for("! systemctl list-jobs --no-legend | grep -q .", Duration::from_secs(30));
        let (_, after) = self.machine.check_json(&[]);
        self.machine.assert_predictions_held(&before, &after);
        (before, after)
    }
}

fn fleet_units(ports: &[u16]) -> Vec<String> {
    ports.iter().map(|p| format!("my-app@{p}.service")).collect()
}

#[track_caller]
fn assert_status(report: &Value, subject: &str, check: &str, expected: &str) {
    let found = finding(report, subject, check);
    assert_eq!(found["status"], expected, "{check} on {subject}: {found:#}");
}

#[test]
fn lab_template_all_good_passes_before_and_after_reboot() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("good");
    let (code, before) = fleet.machine.check_json(&[]);
    assert_eq!(before["summary"]["fail"], 0, "no failure on a good host:\n{before:#}");
    assert_eq!(code, 0);
    for i in 0..4 {
        for (check, status) in statuses(&before, &fleet.subject(i)) {
            assert_eq!(status, "pass", "{check} on {}:\n{before:#}", fleet.subject(i));
        }
    }
    assert_status(&before, "unit:my-app@.service", "unit.instances", "pass");
    let (_, after) = fleet.check_reboot_check();
    assert_eq!(after["summary"]["fail"], 0, "all back after the reboot:\n{after:#}");
    assert_ne!(before["host"]["boot_id"], after["host"]["boot_id"]);
    for i in 0..4 {
        fleet.wait_listening(i);
    }
}

#[test]
fn lab_instance_not_enabled_is_predicted_lost() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("disabled");
    fleet.machine.sh(&format!("systemctl disable {}", fleet.unit(1)));
    let (before, after) = fleet.check_reboot_check();
    let enabled = finding(&before, &fleet.subject(1), "supervisor.enabled");
    assert_eq!(enabled["status"], "fail");
    assert!(enabled["message"].as_str().unwrap_or("").contains("disabled"), "{enabled:#}");
    assert_eq!(enabled["remediation"], format!("sudo systemctl enable {}", fleet.unit(1)));
    assert_status(&before, "unit:my-app@.service", "unit.instances", "fail");
    assert_status(&before, &fleet.subject(0), "supervisor.enabled", "pass");
    assert_ne!(statuses(&after, &fleet.subject(1)).get("supervisor.active").map(String::as_str), Some("pass"));
}

#[test]
fn lab_instance_enabled_runtime_is_predicted_lost() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("runtime");
    fleet.machine.sh(&format!("systemctl disable {u} && systemctl enable --runtime {u}", u = fleet.unit(2)));
    let (before, after) = fleet.check_reboot_check();
    let enabled = finding(&before, &fleet.subject(2), "supervisor.enabled");
    assert_eq!(enabled["status"], "fail");
    assert!(enabled["message"].as_str().unwrap_or("").contains("enabled only until the next reboot"), "{enabled:#}");
    assert_status(&before, &fleet.subject(2), "supervisor.active", "pass");
    // After the reboot systemd has forgotten the instance; bootproof's state file has not.
    let gone = finding(&after, &fleet.subject(2), "supervisor.active");
    assert_eq!(gone["status"], "fail", "{gone:#}");
    assert!(
        gone["message"].as_str().unwrap_or("").contains("was running at the last check before this boot"),
        "{gone:#}"
    );
    let instances = finding(&after, "unit:my-app@.service", "unit.instances");
    assert_eq!(instances["status"], "fail", "the template says an instance did not come back: {instances:#}");
}

#[test]
fn lab_missing_environment_file_is_predicted_lost() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("envfile");
    fleet.machine.sh(&format!("rm /etc/my-app/{}.env", fleet.ports[3]));
    let (before, after) = fleet.check_reboot_check();
    let env = finding(&before, &fleet.subject(3), "unit.env-files");
    assert_eq!(env["status"], "fail", "{env:#}");
    assert!(env["message"].as_str().unwrap_or("").contains(&format!("/etc/my-app/{}.env", fleet.ports[3])));
    // Running until the reboot: the file was there when it started.
    assert_status(&before, &fleet.subject(3), "supervisor.active", "pass");
    // After the reboot systemd tries, waits RestartSec, tries again: crashing, then failed.
    assert_status(&after, &fleet.subject(3), "supervisor.active", "fail");
}

#[test]
fn lab_user_naming_a_missing_account_is_predicted_lost() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("user");
    let unit = fleet.unit(1);
    fleet.machine.write(&format!("/etc/systemd/system/{unit}.d/user.conf"), "[Service]\nUser=ghostuser\n", 0o644);
    fleet.machine.sh("systemctl daemon-reload");
    let (before, after) = fleet.check_reboot_check();
    let user = finding(&before, &fleet.subject(1), "unit.user");
    assert_eq!(user["status"], "fail", "{user:#}");
    assert!(user["message"].as_str().unwrap_or("").contains("ghostuser"));
    assert_status(&after, &fleet.subject(1), "supervisor.active", "fail");
}

#[test]
fn lab_node_binary_gone_is_predicted_lost() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("nodegone");
    let unit = fleet.unit(0);
    fleet.machine.sh("mkdir -p /opt/node-v20/bin && cp /usr/bin/node /opt/node-v20/bin/node");
    fleet.machine.write(
        &format!("/etc/systemd/system/{unit}.d/node.conf"),
        &format!("[Service]\nExecStart=\nExecStart=/opt/node-v20/bin/node /opt/my-app/server.js {}\n", fleet.ports[0]),
        0o644,
    );
    fleet.machine.sh(&format!("systemctl daemon-reload && systemctl restart {unit}"));
    fleet.wait_listening(0);
    // An upgrade removes the old node while the app keeps running from memory.
    fleet.machine.sh("rm -r /opt/node-v20");
    let (before, after) = fleet.check_reboot_check();
    let exec = finding(&before, &fleet.subject(0), "unit.exec");
    assert_eq!(exec["status"], "fail", "{exec:#}");
    assert!(exec["message"].as_str().unwrap_or("").contains("/opt/node-v20/bin/node does not exist"), "{exec:#}");
    assert_status(&before, &fleet.subject(0), "supervisor.active", "pass");
    assert_status(&after, &fleet.subject(0), "supervisor.active", "fail");
}

#[test]
fn lab_restart_no_fails_the_policy_but_still_comes_back() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("restartno");
    let unit = fleet.unit(2);
    fleet.machine.write(&format!("/etc/systemd/system/{unit}.d/restart.conf"), "[Service]\nRestart=no\n", 0o644);
    fleet.machine.sh("systemctl daemon-reload");
    let (before, after) = fleet.check_reboot_check();
    let restart = finding(&before, &fleet.subject(2), "unit.restart-policy");
    assert_eq!(restart["status"], "fail", "{restart:#}");
    assert!(restart["remediation"].as_str().unwrap_or("").contains("Restart=on-failure"));
    assert_status(&before, &fleet.subject(2), "unit.start-limit", "skip");
    // Restart=no does not stop a unit from starting at boot: bootproof must not say it does.
    assert_status(&after, &fleet.subject(2), "supervisor.active", "pass");
    fleet.wait_listening(2);
}

#[test]
fn lab_world_readable_environment_file_warns_but_comes_back() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("envmode");
    fleet.machine.sh(&format!("chmod 644 /etc/my-app/{}.env", fleet.ports[1]));
    let (before, after) = fleet.check_reboot_check();
    let env = finding(&before, &fleet.subject(1), "unit.env-files");
    assert_eq!(env["status"], "warn", "{env:#}");
    assert!(env["message"].as_str().unwrap_or("").contains("readable by every user"), "{env:#}");
    assert_eq!(env["remediation"], format!("sudo chmod o-rwx /etc/my-app/{}.env", fleet.ports[1]));
    // A risk, not a unit that stays down: the prediction says it comes back, and it does.
    assert_status(&after, &fleet.subject(1), "supervisor.active", "pass");
}

#[test]
fn lab_init_then_check_passes_on_a_healthy_host() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("init");
    let out = fleet.machine.bootproof(&["init", "-o", "/etc/bootproof/bootproof.toml"]);
    crate::harness::assert_exit(&out, 0);
    let written = fleet.machine.sh("cat /etc/bootproof/bootproof.toml");
    let range = format!("name = \"my-app@{{{}..{}}}.service\"", fleet.ports[0], fleet.ports[3]);
    assert!(written.contains(&range), "init writes the instance range:\n{written}");
    assert!(
        written.contains("# health = \"http://127.0.0.1:{i}/\""),
        "and suggests the ports they listen on:\n{written}"
    );
    // Never replaces a check file an operator may have edited.
    let again = fleet.machine.bootproof(&["init", "-o", "/etc/bootproof/bootproof.toml"]);
    crate::harness::assert_exit(&again, 2);
    // The default check file is read by check; on the host it describes, it passes.
    let (code, report) = fleet.machine.check_json(&[]);
    assert_eq!(report["summary"]["fail"], 0, "{report:#}");
    assert_eq!(code, 0);
    // Take the suggestion: the endpoints answer, and a stopped instance is now a failure.
    fleet.machine.sh("sed -i 's|^# health = |health = |' /etc/bootproof/bootproof.toml");
    let (code, report) = fleet.machine.check_json(&[]);
    assert_eq!(code, 0, "{report:#}");
    let probes = report["results"].as_array().into_iter().flatten().filter(|r| r["check"] == "health.http").count();
    assert_eq!(probes, 4, "one probe per instance:\n{report:#}");
    fleet.machine.sh(&format!("systemctl stop {}", fleet.unit(3)));
    let (code, report) = fleet.machine.check_json(&[]);
    assert_eq!(code, 1);
    let url = format!("http:http://127.0.0.1:{}/", fleet.ports[3]);
    assert_status(&report, &url, "health.http", "fail");
}

#[test]
fn lab_check_file_units_are_judged_whatever_they_run() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("expected");
    let port = ports(1);
    // Not a node service: discovery alone would not look at it; the check file asks for it.
    fleet.machine.write(
        "/etc/systemd/system/static-site.service",
        &format!(
            "[Unit]\nDescription=static files\n[Service]\nExecStart=/usr/bin/python3 -m http.server {port} --bind 127.0.0.1\n\
             Restart=on-failure\n[Install]\nWantedBy=multi-user.target\n"
        ),
        0o644,
    );
    fleet.machine.sh("systemctl daemon-reload && systemctl enable --now static-site.service");
    fleet.machine.write(
        "/etc/bootproof/bootproof.toml",
        &format!(
            "[[unit]]\nname = \"my-app@{{{}..{}}}.service\"\n\n[[unit]]\nname = \"static-site.service\"\n\n[[unit]]\nname = \"ghost.service\"\n",
            fleet.ports[0],
            fleet.ports[3] + 1
        ),
        0o644,
    );
    let (code, report) = fleet.machine.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    assert_status(&report, "unit:static-site.service", "supervisor.enabled", "pass");
    assert_status(&report, "unit:static-site.service", "supervisor.active", "pass");
    let ghost = finding(&report, "unit:ghost.service", "supervisor.registered");
    assert_eq!(ghost["status"], "fail", "{ghost:#}");
    // The range names a fifth instance that nothing ever enabled or started.
    let fifth = format!("unit:my-app@{}.service", fleet.ports[3] + 1);
    assert_status(&report, &fifth, "supervisor.enabled", "fail");
    assert_status(&report, "unit:my-app@.service", "unit.instances", "fail");
}

/// Issue 10: `--only host.state` gathers what host.state reads and nothing else — no
/// unit file, no PM2 home, no process's command line, no health endpoint — and so
/// predicts nothing and leaves the state file alone. Held to the syscalls it makes
/// (strace), beside a full check of the same host that does read all of them.
#[test]
fn lab_issue10_only_host_state_reads_no_service() {
    if !lab_required() {
        return;
    }
    let fleet = Fleet::up("only-host-state");
    fleet.machine.sh("mkdir -p /opt/pm2-home && echo '[]' > /opt/pm2-home/dump.pm2");
    let url = format!("http://127.0.0.1:{}/health", fleet.ports[0]);
    let traced = |only: &[&str], state: &str| -> String {
        let mut args = vec![
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=openat,connect",
            "-o",
            "/opt/strace.txt",
            "/usr/bin/env",
            "NO_COLOR=1",
            crate::harness::MACHINE_BOOTPROOF,
            "check",
            "--format",
            "json",
            "--state",
            state,
            "--pm2-home",
            "/opt/pm2-home",
            "--health",
            &url,
        ];
        args.extend_from_slice(only);
        let out = fleet.machine.exec(&args);
        assert!(out.status.code().is_some(), "bootproof ran under strace");
        fleet.machine.sh("cat /opt/strace.txt")
    };
    let port = format!("htons({})", fleet.ports[0]);
    let main_pid = fleet.machine.sh(&format!("systemctl show -p MainPID --value {}", fleet.unit(0)));
    let process = format!("/proc/{}/", main_pid.trim());
    let reads = ["/opt/pm2-home", process.as_str(), "/etc/systemd/system/my-app@.service", port.as_str()];
    let full = traced(&[], "/opt/full-state.json");
    for read in reads {
        assert!(full.contains(read), "a full check reads {read}:\n{full}");
    }
    let only = traced(&["--only", "host.state"], "/opt/only-state.json");
    for read in reads {
        assert!(!only.contains(read), "--only host.state reads {read}:\n{only}");
    }
    let (code, report) = fleet.machine.check_json(&["--only", "host.state", "--state", "/opt/only-state.json"]);
    assert_eq!(code, 0, "{report:#}");
    let results = report["results"].as_array().map_or(0, Vec::len);
    assert_eq!(results, 1, "the host.state finding alone:\n{report:#}");
    assert_eq!(report["subjects"], serde_json::json!([]), "nothing predicted from nothing:\n{report:#}");
    fleet.machine.sh("test -e /opt/full-state.json && test ! -e /opt/only-state.json");
}
