//! The Debian package in the reboot lab: `dpkg -i` of the .deb ci/package built, on a
//! machine set up as the systemd article's team runs it (`my-app@.service`, four
//! instances, one of them disabled). The timer's units are installed and not enabled;
//! enabled, the service writes the Prometheus textfile into Debian's node_exporter
//! directory, promtool accepts it, and a real node_exporter (Debian's, running as its own
//! user) serves it. The man page and the completions are where Debian looks for them.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::harness::{Machine, lab_required, ports, repo};

/// The app every instance runs, and its template unit (as in `lab_units`).
const SERVER_JS: &str = include_str!("lab/my-app/server.js");
const TEMPLATE: &str = include_str!("lab/my-app/my-app@.service");

/// The textfile the packaged service writes.
const TEXTFILE: &str = "/var/lib/prometheus/node-exporter/bootproof.prom";

/// The .deb to install: `BOOTPROOF_DEB` (ci/test builds it first and sets it), else the one
/// ci/package builds now, so the test never installs a package left from another commit.
fn package() -> PathBuf {
    if let Some(deb) = std::env::var_os("BOOTPROOF_DEB") {
        return PathBuf::from(deb);
    }
    let out = Command::new(repo().join("ci/package")).output().expect("ci/package runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ci/package failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    repo().join(stdout.lines().last().expect("ci/package prints the package's path"))
}

/// The series of a textfile: its lines that are neither comments nor empty.
fn series(textfile: &str) -> Vec<&str> {
    textfile.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
}

#[test]
fn lab_package_installs_the_timer_disabled_and_enabled_it_writes_the_textfile() {
    if !lab_required() {
        return;
    }
    let deb = package();
    let bytes = std::fs::read(&deb).unwrap_or_else(|e| panic!("{}: {e}", deb.display()));
    eprintln!("package {}: {} bytes", deb.display(), bytes.len());
    let machine = Machine::up("package");
    // The harness copies the test build to /usr/local/bin, first on PATH: the package's
    // /usr/bin/bootproof is what this machine must run.
    machine.sh(&format!("rm -f {}", crate::harness::MACHINE_BOOTPROOF));
    std::fs::create_dir_all(format!("{}/srv", machine.root())).expect("/srv in the machine");
    std::fs::write(format!("{}/srv/bootproof.deb", machine.root()), &bytes).expect("copy the package in");

    // The template-unit host: four instances, the third disabled (it runs until the reboot).
    let base = ports(4);
    let instances: Vec<String> = (base..base + 4).map(|port| format!("my-app@{port}.service")).collect();
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/etc/systemd/system/my-app@.service", TEMPLATE, 0o644);
    for port in base..base + 4 {
        machine.write(&format!("/etc/my-app/{port}.env"), "GREETING=hello\n", 0o640);
    }
    machine.sh(&format!(
        "useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser && chgrp nodeuser /etc/my-app/*.env
         systemctl daemon-reload && systemctl enable --now {} && systemctl disable {}",
        instances.join(" "),
        instances[2]
    ));
    for port in base..base + 4 {
        machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(15));
    }

    machine.sh("dpkg -i /srv/bootproof.deb");
    assert_eq!(machine.sh("command -v bootproof").trim(), "/usr/bin/bootproof");
    // Installed, not enabled, not running: alerts need the operator's webhook first.
    let state = machine.sh(
        "systemctl is-enabled bootproof.timer bootproof-check.service || true; systemctl is-active bootproof.timer || true",
    );
    assert_eq!(state.split_whitespace().collect::<Vec<_>>(), ["disabled", "static", "inactive"], "{state}");
    assert_eq!(
        // (/lib is /usr/lib on a merged-/usr Debian; systemd may name either.)
        machine
            .sh("for u in bootproof.timer bootproof-check.service; do readlink -f \"$(systemctl show -P FragmentPath $u)\"; done")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["/usr/lib/systemd/system/bootproof.timer", "/usr/lib/systemd/system/bootproof-check.service"]
    );
    // The units are what `timer print --package-units` renders, with no secret in them.
    let service = machine.sh("cat /usr/lib/systemd/system/bootproof-check.service");
    assert!(
        service.contains(&format!("ExecStart=/usr/bin/bootproof check --write prometheus={TEXTFILE}\n")),
        "{service}"
    );
    assert!(!service.contains("EnvironmentFile"), "{service}");
    // The man page and the completions, where man and the shells look.
    let man = machine.sh("zcat /usr/share/man/man1/bootproof.1.gz");
    assert!(man.lines().any(|l| l.starts_with(".TH bootproof 1 ")), "not a man page:\n{man:.300}");
    assert!(man.contains("timer"), "{man:.300}");
    for (path, says) in [
        ("/usr/share/bash-completion/completions/bootproof", "complete -F _bootproof"),
        ("/usr/share/zsh/vendor-completions/_bootproof", "#compdef bootproof"),
        ("/usr/share/fish/vendor_completions.d/bootproof.fish", "complete -c bootproof"),
    ] {
        let text = machine.sh(&format!("cat {path}"));
        assert!(text.contains(says), "{path} lacks {says:?}");
    }
    machine.sh("test -s /usr/share/bootproof/checks/systemd-templates-nginx.toml && \
         test -s /usr/share/doc/bootproof/bootproof.rules.yml && test -s /usr/share/doc/bootproof/bootproof.yml");

    // The packaged service keeps the sandbox `timer install`'s has.
    let security = machine.sh("systemd-analyze security --no-pager bootproof-check.service 2>&1");
    let exposure: f64 = security
        .lines()
        .find_map(|line| line.split("Overall exposure level for bootproof-check.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|figure| figure.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    eprintln!("systemd-analyze security of the packaged bootproof-check.service: {exposure}");
    assert!(exposure <= 3.0, "{security}");

    // Enabled, as an operator does. Its first run is 2min after boot (plus up to a minute
    // of per-host delay): rather than wait for it, the test starts the service the timer
    // starts, the same unit, at once (a oneshot: `systemctl start` returns when it is done).
    machine.sh("rm -f /var/lib/prometheus/node-exporter/bootproof.prom && systemctl enable --now bootproof.timer");
    assert_eq!(machine.sh("systemctl is-enabled bootproof.timer").trim(), "enabled");
    assert_eq!(machine.sh("systemctl is-active bootproof.timer").trim(), "active");
    machine.sh("systemctl start bootproof-check.service");
    machine.wait_for(&format!("test -s {TEXTFILE}"), Duration::from_secs(30));
    let status = machine.sh("systemctl show -P ExecMainStatus bootproof-check.service");
    assert_eq!(status.trim(), "1", "a check that found the disabled instance (exit 1)");
    let textfile = machine.sh(&format!("cat {TEXTFILE}"));
    assert_eq!(machine.sh(&format!("stat -c %a {TEXTFILE}")).trim(), "644", "readable by node_exporter");
    assert!(textfile.lines().any(|l| l == "bootproof_up 1"), "{textfile}");
    for (i, unit) in instances.iter().enumerate() {
        let expected = format!("bootproof_comes_back{{subject=\"unit:{unit}\"}} {}", if i == 2 { 0 } else { 1 });
        assert!(textfile.lines().any(|l| l == expected), "no {expected:?} in\n{textfile}");
    }
    let all = series(&textfile);
    let comes_back = all.iter().filter(|s| s.starts_with("bootproof_comes_back{")).count();
    let checks = all.iter().filter(|s| s.starts_with("bootproof_check{")).count();
    eprintln!(
        "the textfile of the template-unit host (4 instances, 1 disabled) holds {} series: {checks} bootproof_check, \
         {comes_back} bootproof_comes_back, {} bytes",
        all.len(),
        textfile.len()
    );

    // promtool (Debian's prometheus package, on this host from ci/install) accepts it.
    crate::fleet::assert_promtool_accepts(textfile.as_bytes());

    // A real node_exporter, as user prometheus, collects it from Debian's directory.
    machine.sh("systemctl start prometheus-node-exporter.service");
    machine.wait_for("exec 3<>/dev/tcp/127.0.0.1/9100", Duration::from_secs(20));
    let metrics = machine.sh("curl -sf http://127.0.0.1:9100/metrics");
    assert!(metrics.lines().any(|l| l == "bootproof_up 1"), "node_exporter does not serve the textfile");
    assert!(metrics.lines().any(|l| l == "node_textfile_scrape_error 0"), "node_exporter could not read it");
}
