//! The ready check files in `checks/` against lab hosts built the way each file's comments
//! describe: real PM2 (fork mode as root; cluster mode under `deploy`), real systemd
//! template units behind a real nginx. Each file, loaded as written (only the ports, which
//! must be unique on the network the lab machines share, are rewritten), passes on its
//! host; then one thing it is there to catch breaks, and it fails on that finding.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Machine, finding, lab_required, ports, repo};

/// The app PM2 and the template units run.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");

/// The template unit, as the systemd article writes it.
const TEMPLATE: &str = include_str!("lab/my-app/my-app@.service");

/// PATH of a root login shell: sbin included, where `pm2 startup` finds systemctl.
const LOGIN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the installed check file goes: `check` reads it without `--config`.
const CHECK_FILE: &str = "/etc/bootproof/bootproof.toml";

/// `checks/NAME` as it is in the repository.
fn check_file(name: &str) -> String {
    std::fs::read_to_string(repo().join("checks").join(name)).unwrap_or_else(|e| panic!("read checks/{name}: {e}"))
}

/// Replaces `from` with `to` in a check file, and fails when `from` is not there: a check
/// file that changed shape must break this test, not be tested with ports nobody uses.
#[track_caller]
fn rewrite(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the check file no longer contains {from:?}; update this test:\n{text}");
    text.replace(from, to)
}

/// Copies a host path into the machine (recursively, modes kept).
/// Installs PM2 where `npm install -g pm2` puts it, and the npm cache `ci/install` filled
/// with pm2-logrotate, so `pm2 install pm2-logrotate` runs offline.
fn install_pm2(machine: &Machine) {
    assert!(
        repo().join("target/npm-cache").is_dir(),
        "the pm2-logrotate npm cache is not in target/npm-cache: run ci/install"
    );
    machine.install_pm2();
    machine.write("/opt/api/server.js", SERVER_JS, 0o644);
}

/// Runs `script` in a login-like shell of `user` (HOME, USER, PATH set; nothing else of
/// this test's environment), with npm pointed at the offline cache.
#[track_caller]
fn as_user(machine: &Machine, user: &str, script: &str) -> String {
    let home = if user == "root" { "/root".to_owned() } else { format!("/home/{user}") };
    let env = format!(
        "env -i HOME={home} USER={user} LOGNAME={user} SHELL=/bin/bash PATH={LOGIN_PATH} \
         npm_config_cache=/srv/npm-cache npm_config_offline=true npm_config_update_notifier=false"
    );
    let quoted = script.replace('\'', r"'\''");
    machine.sh(&format!("cd /; runuser -u {user} -- {env} bash -euo pipefail -c '{quoted}'"))
}

#[track_caller]
fn wait_listening(machine: &Machine, port: u16) {
    machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(20));
}

/// Non-pass findings as `(check, subject, status)`, skips left out.
fn complaints(report: &Value) -> Vec<(String, String, String)> {
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] != "pass" && r["status"] != "skip")
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap_or("").to_owned();
            (text("check"), text("subject"), text("status"))
        })
        .collect()
}

/// Asserts `check` passed (exit 0) and complained about nothing but `allowed`
/// (`(check, subject, status)`): the warnings the check file's comments accept.
#[track_caller]
fn assert_passes(code: i32, report: &Value, allowed: &[(&str, &str, &str)]) {
    let unexpected: Vec<_> = complaints(report)
        .into_iter()
        .filter(|(c, s, st)| !allowed.iter().any(|(ac, as_, ast)| c == ac && s == as_ && st == ast))
        .collect();
    assert!(unexpected.is_empty(), "findings the check file does not accept: {unexpected:?}\n{report:#}");
    assert_eq!(code, 0, "{report:#}");
}

#[track_caller]
fn assert_finding(report: &Value, subject: &str, check: &str, status: &str, needle: &str) {
    let found = finding(report, subject, check);
    assert_eq!(found["status"], status, "{check} on {subject}: {found:#}");
    assert!(
        found["message"].as_str().unwrap_or("").contains(needle),
        "{check} on {subject} lacks {needle:?}: {found:#}"
    );
}

#[test]
fn lab_checks_pm2_fork_root() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("ckfork");
    let port = ports(1);
    let url = format!("http://127.0.0.1:{port}/health");
    let text = rewrite(&check_file("pm2-fork-root.toml"), "http://127.0.0.1:3000/health", &url);
    install_pm2(&machine);
    // The host as the file's comments describe it after the incident's fix: the API in
    // fork mode as root with a memory bound and log rotation, registered with pm2 startup,
    // saved, and the daemon handed over to systemd.
    as_user(
        &machine,
        "root",
        &format!(
            "cd /opt/api
             GREETING=ok pm2 start server.js --name api --max-memory-restart 300M -- {port} >/dev/null
             pm2 install pm2-logrotate@3.0.0 >/dev/null
             pm2 startup systemd -u root --hp /root >/dev/null
             pm2 save >/dev/null
             pm2 kill >/dev/null && systemctl start pm2-root"
        ),
    );
    // pm2 save leaves dump.pm2 at 0644, but under /root (0700) no other user reaches it:
    // pm2.dump-secrets must not warn here.
    wait_listening(&machine, port);
    machine.write(CHECK_FILE, &text, 0o644);
    let (code, report) = machine.check_json(&[]);
    assert_passes(code, &report, &[("process.not-root", "pm2:/root/.pm2", "warn")]);
    assert_finding(&report, "pm2:/root/.pm2", "pm2.resurrected", "pass", "api");
    assert_finding(&report, &format!("http:{url}"), "health.http", "pass", "200");

    // An app deleted from PM2 (and not saved): the file's apps = { api = 1 } catches it.
    as_user(&machine, "root", "pm2 delete api >/dev/null");
    let (code, report) = machine.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    assert_finding(&report, "pm2:/root/.pm2", "pm2.resurrected", "fail", "api (0 of 1 online)");
    assert_eq!(finding(&report, &format!("http:{url}"), "health.http")["status"], "fail");
}

#[test]
fn lab_checks_pm2_cluster_deploy() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("ckcluster");
    let port = ports(1);
    let url = format!("http://127.0.0.1:{port}/health");
    let text = rewrite(&check_file("pm2-cluster-deploy.toml"), "http://127.0.0.1:3000/health", &url);
    install_pm2(&machine);
    machine.sh("useradd --create-home --shell /bin/bash deploy");
    // As the file's comments describe: cluster mode with two workers under deploy, with
    // max_memory_restart (the file fails without it) and log rotation; pm2 startup for
    // deploy, run as root; saved; the daemon handed over to pm2-deploy.service.
    as_user(
        &machine,
        "deploy",
        &format!(
            "cd /opt/api
             GREETING='{{\"status\":\"ok\"}}' pm2 start server.js --name api -i 2 --max-memory-restart 300M -- {port} >/dev/null
             pm2 install pm2-logrotate@3.0.0 >/dev/null
             pm2 save >/dev/null"
        ),
    );
    as_user(&machine, "root", "pm2 startup systemd -u deploy --hp /home/deploy >/dev/null");
    // /home/deploy is 0755: the saved environment is readable by every user until the
    // dump is 0600 (pm2.dump-secrets' own remediation, part of setting this host up).
    as_user(&machine, "deploy", "pm2 save >/dev/null && pm2 kill >/dev/null && chmod 600 /home/deploy/.pm2/dump.pm2*");
    machine.sh("systemctl start pm2-deploy");
    wait_listening(&machine, port);
    machine.wait_for(
        "runuser -u deploy -- env HOME=/home/deploy /usr/local/bin/pm2 jlist | grep -o '\"status\":\"online\"' | wc -l | grep -qx 3",
        Duration::from_secs(20),
    );
    machine.write(CHECK_FILE, &text, 0o644);
    let (code, report) = machine.check_json(&[]);
    // pm2 startup, run as root, left an empty /root/.pm2: nothing runs or is saved there,
    // so it is no PM2 that fails to come back.
    assert_passes(code, &report, &[]);
    let home = "pm2:/home/deploy/.pm2";
    assert_finding(&report, home, "supervisor.active", "pass", "pm2-deploy.service owns the PM2 daemon");
    assert_finding(&report, home, "process.not-root", "pass", "deploy");
    assert_finding(&report, &format!("http:{url}"), "health.http", "pass", "200");

    // One of the two workers stopped: the endpoint still answers (the other worker
    // serves it), but the file's apps = { api = 2 } does not hold.
    as_user(&machine, "deploy", "pm2 stop $(pm2 id api | grep -o '[0-9]\\+' | tail -n 1) >/dev/null");
    let (code, report) = machine.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    assert_finding(&report, home, "pm2.resurrected", "fail", "api (1 of 2 online)");
    assert_finding(&report, &format!("http:{url}"), "health.http", "pass", "200");
}

#[test]
fn lab_checks_systemd_templates_nginx() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("cknginx");
    let base = ports(5);
    let instances: Vec<u16> = (base..base + 4).collect();
    let front = base + 4;
    let mut text = check_file("systemd-templates-nginx.toml");
    text = rewrite(
        &text,
        "my-app@{3000..3003}.service",
        &format!("my-app@{{{}..{}}}.service", instances[0], instances[3]),
    );
    let front_url = format!("http://127.0.0.1:{front}/health");
    text = rewrite(&text, "url = \"http://127.0.0.1/health\"", &format!("url = \"{front_url}\""));
    // The units as the file describes them: the template with its limits, the service
    // user, one EnvironmentFile per instance readable by that user only.
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/etc/systemd/system/my-app@.service", TEMPLATE, 0o644);
    for port in &instances {
        machine.write(&format!("/etc/my-app/{port}.env"), "GREETING=ok\n", 0o640);
    }
    let units: Vec<String> = instances.iter().map(|p| format!("my-app@{p}.service")).collect();
    machine.sh(&format!(
        "useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser && chgrp nodeuser /etc/my-app/*.env
         systemctl daemon-reload && systemctl enable --now {}",
        units.join(" ")
    ));
    // nginx in front: app.example.com proxied to the instances; any other name is refused.
    let upstream: String = instances.iter().map(|p| format!("    server 127.0.0.1:{p};\n")).collect();
    machine.write(
        "/etc/nginx/sites-available/my-app",
        &format!(
            "upstream my_app {{\n{upstream}}}\n\
             server {{\n    listen 127.0.0.1:{front} default_server;\n    return 404;\n}}\n\
             server {{\n    listen 127.0.0.1:{front};\n    server_name app.example.com;\n    \
             location / {{ proxy_pass http://my_app; }}\n}}\n"
        ),
        0o644,
    );
    machine.sh("rm -f /etc/nginx/sites-enabled/default
         ln -s /etc/nginx/sites-available/my-app /etc/nginx/sites-enabled/my-app
         nginx -t 2>/dev/null && systemctl enable --now nginx 2>/dev/null");
    for port in instances.iter().chain([&front]) {
        wait_listening(&machine, *port);
    }
    machine.write(CHECK_FILE, &text, 0o644);
    let (code, report) = machine.check_json(&[]);
    assert_passes(code, &report, &[]);
    let front_subject = format!("http:{front_url}");
    assert_finding(&report, &front_subject, "health.http", "pass", "200");
    assert_finding(&report, "unit:my-app@.service", "unit.instances", "pass", "");

    // nginx stopped: every instance is up and answers, users get nothing.
    machine.sh("systemctl stop nginx");
    let (code, report) = machine.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    assert_finding(&report, &front_subject, "health.http", "fail", "refused");
    let failed: Vec<_> = complaints(&report).into_iter().filter(|(_, _, status)| status == "fail").collect();
    assert_eq!(failed, [("health.http".to_owned(), front_subject.clone(), "fail".to_owned())], "{report:#}");

    // nginx back, one instance stopped: nginx routes around it, the file does not.
    machine.sh(&format!("systemctl start nginx && systemctl stop {}", units[1]));
    wait_listening(&machine, front);
    let (code, report) = machine.check_json(&[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(finding(&report, &format!("unit:{}", units[1]), "supervisor.active")["status"], "fail");
    assert_eq!(
        finding(&report, &format!("http:http://127.0.0.1:{}/health", instances[1]), "health.http")["status"],
        "fail"
    );
    assert_finding(&report, &front_subject, "health.http", "pass", "200");
}
