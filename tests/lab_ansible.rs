//! The shipped Ansible playbook (contrib/ansible/bootproof.yml), run by real Ansible (from
//! PyPI, installed by ci/install into target/ansible) against a fleet of two lab machines
//! through community.docker's nsenter connection (each task runs in the machine's mount,
//! PID and network namespaces, as on a host of its own): it copies bootproof, checks each host,
//! prints the failing findings with their fix, and fails the play for the host where a
//! unit will not come back — and only for that one.

use std::process::Command;
use std::time::Duration;

use crate::harness::{Machine, TempDir, bootproof_bin, lab_required, ports, repo};

/// The app every unit runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");
/// The systemd article's template unit.
const TEMPLATE: &str = include_str!("lab/my-app/my-app@.service");

/// A machine with two instances of my-app@.service running and enabled.
fn host(tag: &str, base: u16) -> Machine {
    let machine = Machine::up(tag);
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/etc/systemd/system/my-app@.service", TEMPLATE, 0o644);
    for port in [base, base + 1] {
        machine.write(&format!("/etc/my-app/{port}.env"), "GREETING=hello\n", 0o640);
    }
    machine.sh(&format!(
        "useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser && chgrp nodeuser /etc/my-app/*.env
         systemctl daemon-reload && systemctl enable --now my-app@{base}.service my-app@{}.service",
        base + 1
    ));
    for port in [base, base + 1] {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(15));
    }
    machine
}

#[test]
fn lab_ansible_playbook_fails_only_the_host_that_will_not_come_back() {
    if !lab_required() {
        return;
    }
    let playbook = repo().join("contrib/ansible/bootproof.yml");
    let ansible = repo().join("target/ansible/bin/ansible-playbook");
    assert!(ansible.exists(), "ansible is not installed in target/ansible: run ci/install");
    let base = ports(4);
    let good = host("ansgood", base);
    let bad = host("ansbad", base + 2);
    let lost = format!("my-app@{}.service", base + 3);
    bad.sh(&format!("systemctl disable {lost}"));

    let dir = TempDir::new("ansible");
    let inventory = dir.path().join("inventory.ini");
    let entry = |name: &str, machine: &Machine| {
        format!(
            "{name} ansible_connection=community.docker.nsenter ansible_nsenter_pid={} ansible_python_interpreter=/usr/bin/python3 ansible_become=false\n",
            machine.leader()
        )
    };
    std::fs::write(&inventory, format!("[fleet]\n{}{}", entry("good", &good), entry("bad", &bad))).expect("inventory");
    let out = Command::new(&ansible)
        .arg("-i")
        .arg(&inventory)
        .arg(&playbook)
        .arg("-e")
        .arg(format!("bootproof_binary={}", bootproof_bin().display()))
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", dir.path().join("ansible-tmp"))
        .env("ANSIBLE_COLLECTIONS_PATH", repo().join("target/ansible/nonexistent"))
        .output()
        .expect("ansible-playbook runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let recap = stdout.rsplit_once("PLAY RECAP").map_or("", |(_, recap)| recap);
    let line = |host: &str| recap.lines().find(|l| l.starts_with(host)).unwrap_or("").to_owned();
    assert_eq!(out.status.code(), Some(2), "the play fails for one host:\n{stdout}\n{stderr}");
    assert!(line("good").contains("failed=0") && line("good").contains("unreachable=0"), "{stdout}\n{stderr}");
    assert!(line("bad").contains("failed=1"), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("1 will not come back after a reboot: unit:{lost}")), "{stdout}");
    assert!(stdout.contains(&format!("fix: sudo systemctl enable {lost}")), "the fix is printed:\n{stdout}");
    // The binary the playbook copied is the one that judged.
    assert!(good.exec(&["test", "-x", "/usr/local/bin/bootproof"]).status.success());
}
