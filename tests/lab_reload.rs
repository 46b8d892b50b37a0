//! Units edited on disk without a `daemon-reload` (issue 7, item 7), held to a real
//! reboot. systemd keeps running what it loaded, but the next boot loads the files as they
//! are now: an edit that breaks the unit must be predicted lost, an edit that mends a
//! broken one predicted back, and the finding must say that what runs differs from what
//! will boot.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Machine, finding, lab_required, ports, prediction};

/// The app every unit runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// The systemd article's template unit.
const TEMPLATE: &str = include_str!("lab/my-app/my-app@.service");

/// A plain node unit on `port` running as `user`, with `exec` as its node.
fn node_unit(port: u16, user: &str, exec: &str) -> String {
    format!(
        "[Unit]\nDescription=node on {port}\n\n[Service]\nUser={user}\nEnvironment=GREETING=hello\n\
         ExecStart={exec} /opt/my-app/server.js {port}\n\n[Install]\nWantedBy=multi-user.target\n"
    )
}

#[track_caller]
fn assert_lost_by(report: &Value, unit: &str, check: &str, says: &str) {
    let subject = format!("unit:{unit}");
    let predicted = prediction(report, &subject).unwrap_or_else(|| panic!("no prediction for {subject}:\n{report:#}"));
    assert_eq!(predicted["comes_back"], false, "{subject} should not come back:\n{predicted:#}");
    assert_eq!(predicted["blocked_by"]["check"], check, "{subject}:\n{predicted:#}");
    let found = finding(report, &subject, check);
    let message = found["message"].as_str().unwrap_or("");
    assert!(message.contains(says), "{check} on {subject} should say {says:?}:\n{found:#}");
    assert!(message.contains("daemon-reload pending"), "{check} on {subject} should say why:\n{found:#}");
}

#[test]
fn lab_edits_without_daemon_reload_are_judged_as_the_next_boot_loads_them() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("reload");
    let base = ports(6);
    let port = |i: u16| base + i;
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/etc/systemd/system/my-app@.service", TEMPLATE, 0o644);
    for i in [0, 1] {
        machine.write(&format!("/etc/my-app/{}.env", port(i)), "GREETING=hello\n", 0o640);
    }
    machine.write("/etc/systemd/system/useredit-app.service", &node_unit(port(2), "nodeuser", "/usr/bin/node"), 0o644);
    machine.write(
        "/etc/systemd/system/mended-app.service",
        &node_unit(port(3), "nodeuser", "/opt/nope/bin/node"),
        0o644,
    );
    machine.write("/etc/systemd/system/steady-app.service", &node_unit(port(4), "nodeuser", "/usr/bin/node"), 0o644);
    let (a, b) = (format!("my-app@{}.service", port(0)), format!("my-app@{}.service", port(1)));
    machine.sh(&format!(
        "useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser && chgrp nodeuser /etc/my-app/*.env
         systemctl daemon-reload
         systemctl enable --now {a} {b} useredit-app.service steady-app.service
         systemctl enable mended-app.service; systemctl start mended-app.service || true"
    ));
    for i in [0, 1, 2, 4] {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{}", port(i)), Duration::from_secs(15));
    }
    // The edits, none followed by a daemon-reload:
    // an instance's drop-in points ExecStart at a node that is not installed;
    machine.write(
        &format!("/etc/systemd/system/{a}.d/node.conf"),
        "[Service]\nExecStart=\nExecStart=/opt/node-v99/bin/node /opt/my-app/server.js %i\n",
        0o644,
    );
    // another instance's drop-in adds an EnvironmentFile, per instance, that is not there;
    machine.write(
        &format!("/etc/systemd/system/{b}.d/extra.conf"),
        "[Service]\nEnvironmentFile=/etc/my-app/%i-extra.env\n",
        0o644,
    );
    // a unit is moved to an account that does not exist;
    machine.sh("sed -i 's/^User=nodeuser/User=ghostuser/' /etc/systemd/system/useredit-app.service");
    // and a unit that failed to start gets its node path mended.
    machine.sh("sed -i 's#/opt/nope/bin/node#/usr/bin/node#' /etc/systemd/system/mended-app.service");

    let (_, before) = machine.check_json(&[]);
    assert_lost_by(&before, &a, "unit.exec", "/opt/node-v99/bin/node does not exist");
    assert_lost_by(&before, &b, "unit.env-files", &format!("/etc/my-app/{}-extra.env does not exist", port(1)));
    assert_lost_by(&before, "useredit-app.service", "unit.user", "User=ghostuser");
    // What runs now still works: the difference is what the next boot starts.
    for unit in [&a, &b, "useredit-app.service"] {
        let active = finding(&before, &format!("unit:{unit}"), "supervisor.active");
        assert_eq!(active["status"], "warn", "{unit} runs the old configuration:\n{active:#}");
    }
    let mended = prediction(&before, "unit:mended-app.service").expect("mended-app is predicted");
    assert_eq!(mended["comes_back"], true, "the file on disk is fine now:\n{mended:#}");
    assert_eq!(finding(&before, "unit:mended-app.service", "unit.exec")["status"], "pass");
    assert_eq!(prediction(&before, "unit:steady-app.service").expect("steady-app")["comes_back"], true);

    machine.reboot();
    machine.wait_for("! systemctl list-jobs --no-legend | grep -q .", Duration::from_secs(30));
    let (_, after) = machine.check_json(&[]);
    machine.assert_predictions_held(&before, &after);
    for i in [3, 4] {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{}", port(i)), Duration::from_secs(15));
    }
}
