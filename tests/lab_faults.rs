//! Faults on a real systemd: the system bus failing for one unit, a unit whose
//! properties are missing, and a full disk under the state file.
//!
//! The bus faults go through `tests/lab/dbus-fault-proxy.py`, a proxy that forwards every
//! call to the machine's real system bus (real systemd answers) except those on one unit's
//! object path, which it answers itself: with an AccessDenied error, or with no properties
//! at all. bootproof is pointed at it with `DBUS_SYSTEM_BUS_ADDRESS`, as an operator's
//! environment would.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{MACHINE_BOOTPROOF, Machine, finding, lab_required, ports, prediction, statuses};

/// The app every unit runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// The fault-injecting D-Bus proxy.
const PROXY: &str = include_str!("lab/dbus-fault-proxy.py");

/// An enabled, running node unit on `port`.
fn node_unit(machine: &Machine, name: &str, port: u16) {
    machine.write(
        &format!("/etc/systemd/system/{name}"),
        &format!(
            "[Unit]\nDescription={name}\n\n[Service]\nEnvironment=GREETING=hello\n\
             ExecStart=/usr/bin/node /opt/my-app/server.js {port}\nRestart=on-failure\n\n\
             [Install]\nWantedBy=multi-user.target\n"
        ),
        0o644,
    );
}

/// Starts the proxy as a transient unit of the machine, listening on `socket`.
fn start_proxy(machine: &Machine, socket: &str, mode: &str, unit: &str) {
    machine.sh(&format!(
        "systemd-run --quiet --unit fault-proxy-{mode} /usr/bin/python3 /opt/dbus-fault-proxy.py {socket} {mode} {unit}"
    ));
    machine.wait_for(&format!("test -S {socket}"), Duration::from_secs(10));
}

/// `check --format json --no-state` through the proxy on `socket`: exit code, report, time.
fn check_through(machine: &Machine, socket: &str) -> (i32, Value, Duration) {
    let address = format!("DBUS_SYSTEM_BUS_ADDRESS=unix:path={socket}");
    let started = Instant::now();
    let out = machine.exec(&[
        "/usr/bin/env",
        "NO_COLOR=1",
        &address,
        MACHINE_BOOTPROOF,
        "check",
        "--format",
        "json",
        "--no-state",
    ]);
    let took = started.elapsed();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e})\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report, took)
}

/// Holds a report made while the bus failed for `hidden`: that unit gets `error` findings
/// with `reason` and is not predicted to come back (it could not be told); `fine` is
/// judged as usual and comes back.
#[track_caller]
fn assert_only_hidden_spoiled(report: &Value, hidden: &str, fine: &str, reason: &str) {
    let hidden_subject = format!("unit:{hidden}");
    let registered = finding(report, &hidden_subject, "supervisor.registered");
    assert_eq!(registered["status"], "error", "{registered:#}");
    assert!(registered["message"].as_str().is_some_and(|m| m.contains(reason)), "{registered:#}");
    let hidden_statuses = statuses(report, &hidden_subject);
    assert!(!hidden_statuses.values().any(|s| s == "pass"), "nothing passes on an unread unit: {hidden_statuses:?}");
    let predicted = prediction(report, &hidden_subject).unwrap_or_else(|| panic!("no prediction for {hidden}"));
    assert_eq!(predicted["comes_back"], false, "{predicted:#}");
    assert_eq!(predicted["blocked_by"]["status"], "error", "{predicted:#}");

    let fine_subject = format!("unit:{fine}");
    let fine_statuses = statuses(report, &fine_subject);
    for check in ["supervisor.registered", "supervisor.enabled", "supervisor.active", "unit.exec"] {
        assert_eq!(fine_statuses.get(check).map(String::as_str), Some("pass"), "{fine}: {fine_statuses:?}");
    }
    assert_eq!(prediction(report, &fine_subject).map(|p| &p["comes_back"]), Some(&Value::Bool(true)));
}

#[test]
fn lab_faults_the_bus_failing_for_one_unit_spoils_that_unit_only() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("busfault");
    let base = ports(2);
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/opt/dbus-fault-proxy.py", PROXY, 0o755);
    node_unit(&machine, "fine-app.service", base);
    node_unit(&machine, "hidden-app.service", base + 1);
    machine.sh("systemctl daemon-reload && systemctl enable --now fine-app.service hidden-app.service");
    for port in [base, base + 1] {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(15));
    }
    // Through the proxy with no fault, the report is the one the real bus gives.
    start_proxy(&machine, "/run/pass.sock", "pass", "none.service");
    let (code, report, _) = check_through(&machine, "/run/pass.sock");
    assert_eq!(statuses(&report, "unit:hidden-app.service").get("supervisor.active").map(String::as_str), Some("pass"));
    assert!(code == 0 || code == 1, "{code}: {report:#}");

    // Every call on hidden-app's object is refused.
    start_proxy(&machine, "/run/deny.sock", "error", "hidden-app.service");
    let (code, report, took) = check_through(&machine, "/run/deny.sock");
    assert_only_hidden_spoiled(&report, "hidden-app.service", "fine-app.service", "AccessDenied");
    assert_eq!(code, 3, "a unit that could not be read: could not check (exit 3)\n{report:#}");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // hidden-app's object answers GetAll with no properties at all.
    start_proxy(&machine, "/run/empty.sock", "empty", "hidden-app.service");
    let (code, report, took) = check_through(&machine, "/run/empty.sock");
    assert_only_hidden_spoiled(&report, "hidden-app.service", "fine-app.service", "missing");
    assert_eq!(code, 3, "{report:#}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn lab_faults_a_full_disk_under_the_state_file_keeps_the_last_one_and_the_verdict() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("statedisk");
    let port = ports(1);
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    node_unit(&machine, "api.service", port);
    machine.sh("systemctl daemon-reload && systemctl enable --now api.service");
    machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(15));
    // The state directory on a disk of its own, 64 KiB.
    machine.sh("mkdir -p /var/lib/bootproof && mount -t tmpfs -o size=64k tmpfs /var/lib/bootproof");
    let (first, _) = machine.check_json(&[]);
    let state_before = machine.sh("cat /var/lib/bootproof/state.json");
    assert!(state_before.contains("api.service"), "the first check recorded the unit:\n{state_before}");
    // Fill the disk, then stop the unit so that this check would record something new.
    machine.sh("dd if=/dev/zero of=/var/lib/bootproof/filler bs=4k 2>/dev/null || true
                systemctl stop api.service");
    let started = Instant::now();
    let out = machine.bootproof(&["check", "--format", "json"]);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is printed all the same");
    // The verdict does not depend on remembering it: api.service stopped fails, exit 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{report:#}");
    assert_eq!(finding(&report, "unit:api.service", "supervisor.active")["status"], "fail");
    assert!(stderr.contains("failed to record this check") && stderr.contains("No space left"), "{stderr}");
    assert_eq!(machine.sh("cat /var/lib/bootproof/state.json"), state_before, "the last state file is intact");
    // No temporary file left: the filler, the state file and the lock that serialises its
    // writers (an empty file, made when the disk still had room).
    assert_eq!(
        machine.sh("ls -A /var/lib/bootproof").split_whitespace().collect::<Vec<_>>(),
        ["filler", "state.json", "state.json.lock"]
    );
    assert_eq!(first, 0);
}
