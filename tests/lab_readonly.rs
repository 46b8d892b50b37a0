//! Read-only, proven: on a real host with node units, a template, and two PM2 homes (one
//! registered and running, one from a shell with a daemon and a dump), every file under
//! `/etc`, every PM2 home and `/run/systemd` — content, mode, owner, size, time of last
//! change, link target — is the same after full `check`, `plan`, `facts` and `init` runs
//! as before them. The files bootproof was told to write (its report, state, facts and
//! check file, all under /srv/out) are the only ones it writes.

use std::time::Duration;

use crate::harness::{Machine, lab_required, ports};

/// The app every service runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// Every file and directory under the trees bootproof must not change, one line each:
/// path, type, mode, owner, size, modification and change time, link target, and the
/// SHA-256 of a regular file's content.
const LISTING: &str = r#"set -euo pipefail
for tree in /etc /root/.pm2 /home/deploy/.pm2 /run/systemd; do
  find "$tree" -xdev -printf '%p %y %m %U:%G %s %T@ %C@ %l\n'
  find "$tree" -xdev -type f -print0 | xargs -0 -r sha256sum
done | sort
"#;

fn listing(machine: &Machine) -> String {
    machine.sh(LISTING)
}

/// The lines that differ between two listings.
fn changed(before: &str, after: &str) -> Vec<String> {
    let old: std::collections::BTreeSet<&str> = before.lines().collect();
    let new: std::collections::BTreeSet<&str> = after.lines().collect();
    old.symmetric_difference(&new).map(|line| (*line).to_owned()).collect()
}

#[test]
fn lab_readonly_check_plan_facts_and_init_change_nothing_they_were_not_told_to_write() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("readonly");
    let base = ports(4);
    machine.install_pm2();
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write(
        "/etc/systemd/system/my-app@.service",
        "[Unit]\nDescription=my-app %i\n\n[Service]\nEnvironment=GREETING=hello\n\
         ExecStart=/usr/bin/node /opt/my-app/server.js %i\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n",
        0o644,
    );
    machine.sh(&format!(
        "systemctl daemon-reload && systemctl enable --now my-app@{base}.service my-app@{}.service
         useradd --create-home --shell /bin/bash deploy
         cd /opt/my-app
         # root's PM2 from a shell, saved: the incident's host
         env HOME=/root GREETING=hi pm2 start server.js --name api -- {} >/dev/null
         env HOME=/root pm2 save >/dev/null
         # deploy's PM2, registered and running under systemd
         runuser -u deploy -- env HOME=/home/deploy PATH=/usr/local/bin:/usr/bin:/bin GREETING=hi pm2 start server.js --name web -- {} >/dev/null
         runuser -u deploy -- env HOME=/home/deploy PATH=/usr/local/bin:/usr/bin:/bin pm2 save >/dev/null
         env HOME=/root PATH=/usr/local/bin:/usr/bin:/bin pm2 startup systemd -u deploy --hp /home/deploy >/dev/null
         runuser -u deploy -- env HOME=/home/deploy PATH=/usr/local/bin:/usr/bin:/bin pm2 kill >/dev/null
         systemctl start pm2-deploy.service
         mkdir -p /srv/out",
        base + 1,
        base + 2,
        base + 3
    ));
    for port in base..base + 4 {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(20));
    }
    // The host settles (nothing left to start), and the listing is stable without
    // bootproof: what changes by itself would otherwise be blamed on it.
    machine.wait_for("! systemctl list-jobs --no-legend | grep -q .", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    let before = listing(&machine);
    let daemons_before = machine.sh("pgrep -a -f 'God [D]aemon' | sed 's/^[0-9]* //' | sort");
    assert_eq!(daemons_before.lines().count(), 2, "{daemons_before}");
    std::thread::sleep(Duration::from_secs(2));
    let idle = changed(&before, &listing(&machine));
    assert!(idle.is_empty(), "the trees change without bootproof:\n{}", idle.join("\n"));

    for args in [
        &["check", "--state", "/srv/out/state.json", "-o", "/srv/out/report.txt"][..],
        &["check", "--state", "/srv/out/state.json", "--format", "json", "-o", "/srv/out/report.json", "-v"],
        &["check", "--state", "/srv/out/state.json", "--format", "junit", "-o", "/srv/out/report.xml"],
        &["plan", "-v", "-o", "/srv/out/plan.txt"],
        &["plan", "--format", "json", "-o", "/srv/out/plan.json"],
        &["facts", "--state", "/srv/out/state.json", "-o", "/srv/out/facts.json"],
        &["init", "-o", "/srv/out/bootproof.toml"],
        &["check", "--state", "/srv/out/state.json", "--config", "/srv/out/bootproof.toml", "--wait", "2s"],
    ] {
        let started = std::time::Instant::now();
        let out = machine.bootproof(args);
        eprintln!("bootproof {args:?}: {:?}", started.elapsed());
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "bootproof {args:?}: {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let after = listing(&machine);
    let diff = changed(&before, &after);
    assert!(diff.is_empty(), "bootproof changed files it was not told to write:\n{}", diff.join("\n"));
    // It wrote what it was told to, and it is whole.
    let written = machine.sh("ls /srv/out");
    for file in [
        "bootproof.toml",
        "facts.json",
        "plan.json",
        "plan.txt",
        "report.json",
        "report.txt",
        "report.xml",
        "state.json",
    ] {
        assert!(written.lines().any(|l| l == file), "{file} not written: {written}");
    }
    // (The brackets keep the pattern from matching the shell that runs pgrep.)
    let daemons = machine.sh("pgrep -a -f 'God [D]aemon' | sed 's/^[0-9]* //' | sort");
    assert_eq!(daemons, daemons_before, "bootproof started or stopped a PM2 daemon");
}
