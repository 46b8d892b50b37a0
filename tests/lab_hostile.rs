//! Hostile names on a real host: a PM2 app named with quotes, a `;`, a command
//! substitution, backticks, XML specials, an ESC sequence and a newline (PM2 takes any
//! name), and a unit whose name systemd escaped (`\x27`, `\x3b`, … — backslashes a shell
//! would eat). bootproof's outputs are held to what `tests/hostile.rs` holds captured
//! facts to, and then the remediations it printed are pasted, for real, into a shell on
//! the machine: each fixes what it names — the unit is enabled, the app restarted with a
//! memory limit — and nothing the names carried runs.

use std::time::Duration;

use crate::harness::{Machine, finding, lab_required, ports};
use crate::hostile::{assert_terminal_safe, remediations};

/// The app every service runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// The lab has no sudo package; this stands in for it (see the script).
const SUDO: &str = include_str!("lab/sudo");

/// The app's name. Each payload, if a pasted command ever ran it, creates a marker file
/// in the directory the command is pasted in.
const APP: &str = "w'; : >semicolon #$(: >substitution)`: >backticks`<x a=\"&amp;\">]]>\u{1b}[2J\n✔ unit:fine.service";

/// What systemd-escape makes of `x'; $(: >unit)`, as a unit name.
const UNIT: &str = r"x\x27\x3b\x20\x24\x28:\x20\x3eunit\x29.service";

#[test]
fn lab_hostile_names_from_real_pm2_and_systemd_are_escaped_and_their_fixes_paste_safely() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("hostile");
    let base = ports(2);
    machine.install_pm2();
    machine.write("/usr/local/bin/sudo", SUDO, 0o755);
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/srv/app-name", APP, 0o644);
    machine.write(
        &format!("/etc/systemd/system/{UNIT}"),
        &format!(
            "[Unit]\nDescription=escaped name\n\n[Service]\nEnvironment=GREETING=hello\n\
             ExecStart=/usr/bin/node /opt/my-app/server.js {base}\nRestart=on-failure\nMemoryMax=300M\n\n\
             [Install]\nWantedBy=multi-user.target\n"
        ),
        0o644,
    );
    machine.sh(&format!(
        "mkdir -p /srv/markers
         systemctl daemon-reload && systemctl start \"$(printf '%s' '{UNIT}')\"
         cd /opt/my-app
         export HOME=/root PATH=/usr/local/bin:/usr/bin:/bin
         GREETING=hi pm2 start server.js --name \"$(cat /srv/app-name)\" -- {} >/dev/null
         pm2 save >/dev/null && pm2 startup systemd -u root --hp /root >/dev/null && pm2 kill >/dev/null
         systemctl start pm2-root.service",
        base + 1
    ));
    for port in [base, base + 1] {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(20));
    }
    let names = machine.sh("HOME=/root pm2 jlist");
    assert!(names.contains("w'; : >semicolon"), "PM2 kept the name as given: {names}");

    // Every output, as the terminal or the CI job gets it.
    for args in [&["check"][..], &["check", "-v"], &["plan", "-v"]] {
        let out = machine.bootproof(args);
        assert_terminal_safe(&String::from_utf8_lossy(&out.stdout), &format!("{args:?}"));
    }
    let (_, report) = machine.check_json(&[]);
    let text = report.to_string();
    assert!(text.contains(&serde_json::to_string(APP).expect("json")), "the JSON keeps the app's name exactly");
    machine.bootproof(&["check", "--format", "junit", "-o", "/srv/report.xml"]);
    let parsed = machine.exec(&[
        "python3",
        "-c",
        "import sys, xml.dom.minidom as m; d = m.parse('/srv/report.xml'); \
         print('\\n'.join(s.getAttribute('name') for s in d.getElementsByTagName('testsuite')))",
    ]);
    assert!(parsed.status.success(), "the JUnit file is not XML: {}", String::from_utf8_lossy(&parsed.stderr));
    assert!(String::from_utf8_lossy(&parsed.stdout).contains(UNIT), "the unit's suite survives XML");

    // The fixes, pasted as printed into root's shell in an empty directory.
    let enable = finding(&report, &format!("unit:{UNIT}"), "supervisor.enabled");
    assert_eq!(enable["status"], "fail", "{enable:#}");
    let memory = finding(&report, "pm2:/root/.pm2", "unit.memory-limit");
    assert_eq!(memory["status"], "warn", "{memory:#}");
    let fixes: Vec<&str> = [enable, memory].iter().map(|f| f["remediation"].as_str().expect("a remediation")).collect();
    for fix in &fixes {
        machine.write("/srv/fix.sh", &format!("{fix}\n"), 0o644);
        let out = machine.exec(&[
            "/bin/bash",
            "-c",
            "cd /srv/markers && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root bash /srv/fix.sh",
        ]);
        assert!(
            out.status.success(),
            "{fix}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let markers = machine.sh("ls -A /srv/markers");
    assert!(markers.trim().is_empty(), "pasting ran what a name carried: {markers}\n{fixes:#?}");
    machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{}", base + 1), Duration::from_secs(20));
    let (_, after) = machine.check_json(&[]);
    assert_eq!(finding(&after, &format!("unit:{UNIT}"), "supervisor.enabled")["status"], "pass", "{after:#}");
    assert_eq!(finding(&after, "pm2:/root/.pm2", "unit.memory-limit")["status"], "pass", "{after:#}");
    let all: Vec<String> = remediations(&after);
    assert!(all.iter().all(|fix| !fix.chars().any(char::is_control)), "{all:#?}");
}
