//! The status page (`check --format html`) as a browser sees it: rendered in a lab
//! machine for a host with failures (the incident's PM2 started from a shell, a disabled
//! template instance, an app with a hostile name) and for the same host fixed, served by
//! the machine's nginx with the snippet in contrib/nginx, opened in headless Chromium
//! inside the machine (Debian's, installed on the host by ci/install), screenshotted, and
//! judged on the DOM Chromium built, on Chromium's own log of every network request, and
//! on nginx's access log.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Machine, lab_required, ports, repo};

/// The app every service runs.
const SERVER_JS: &str = include_str!("lab/my-app/server.js");
/// The systemd article's template unit.
const TEMPLATE: &str = include_str!("lab/my-app/my-app@.service");
/// A PM2 app name no page should ever turn into markup.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// Debian's Chromium, which ci/install installs (and machines see through their overlay).
fn assert_chromium_installed() {
    assert!(Path::new("/usr/bin/chromium").exists(), "chromium is not installed: run ci/install");
}

/// What Chromium made of a page.
struct Rendered {
    /// The DOM after parsing, serialised (`--dump-dom`).
    dom: String,
    /// Every request the page itself started (its initiator is the page's origin), from
    /// Chromium's network log. Chromium's own background requests are not the page's.
    page_requests: Vec<String>,
}

/// Opens `url` in headless Chromium inside the machine (the host's Chromium, which the
/// machine sees; the page's server is on the machine's own network): the DOM, a
/// screenshot copied to `screenshot`, and the requests the page made.
fn open_in_chromium(machine: &Machine, url: &str, screenshot: &Path) -> Rendered {
    let run = |extra: &[String], tag: &str| {
        let dir = format!("/srv/chromium/{tag}");
        machine.sh(&format!("rm -rf {dir} && mkdir -p {dir}"));
        let mut argv: Vec<String> = [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ]
        .map(str::to_owned)
        .to_vec();
        argv.push(format!("--user-data-dir={dir}/profile"));
        argv.push(format!("--log-net-log={dir}/netlog.json"));
        argv.extend(extra.iter().cloned());
        argv.push(url.to_owned());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = machine.exec(&argv);
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        let netlog = PathBuf::from(format!("{}{dir}/netlog.json", machine.root()));
        (String::from_utf8_lossy(&out.stdout).into_owned(), page_requests(&netlog, url), dir)
    };
    let (dom, mut requests, _) = run(&["--dump-dom".to_owned()], "dom");
    let shot = ["--window-size=1100,1500".to_owned(), "--screenshot=/srv/chromium/shot/page.png".to_owned()];
    let (_, more, dir) = run(&shot, "shot");
    requests.extend(more);
    let taken = PathBuf::from(format!("{}{dir}/page.png", machine.root()));
    std::fs::copy(&taken, screenshot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", taken.display()));
    Rendered { dom, page_requests: requests }
}

/// The requests in a Chromium network log whose initiator is the origin of `url`.
fn page_requests(netlog: &Path, url: &str) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).unwrap_or_else(|e| panic!("read {}: {e}", netlog.display()));
    // Chromium may stop before closing the JSON; close it as it would.
    let log: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("the network log is JSON");
    let origin = url.split('/').take(3).collect::<Vec<_>>().join("/");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().expect("event type known");
    let mut made = Vec::new();
    let mut navigated = false;
    for event in log["events"].as_array().into_iter().flatten() {
        if event["type"].as_u64() != Some(start_job) {
            continue;
        }
        let params = &event["params"];
        let requested = params["url"].as_str().unwrap_or("").to_owned();
        if requested == url {
            navigated = true;
        }
        if params["initiator"].as_str() == Some(origin.as_str()) {
            made.push(requested);
        }
    }
    assert!(navigated, "the network log does not show the page being loaded: {netlog:?}");
    made
}

/// The nginx snippet that serves the page, as README shows it.
const NGINX_SNIPPET: &str = include_str!("../contrib/nginx/bootproof-status.conf");

/// Writes the status page and the JSON status file where the snippet serves them, as the
/// timer does; returns the exit code of the check.
fn write_status(machine: &Machine) -> i32 {
    let out = machine.bootproof(&["check", "--format", "html", "-o", "/var/lib/bootproof/status.html"]);
    machine.bootproof(&["check", "--format", "json", "--no-state", "-o", "/var/lib/bootproof/status.json"]);
    out.status.code().unwrap_or(-1)
}

/// The requests nginx served since the last call (its access log, emptied).
fn served(machine: &Machine) -> Vec<String> {
    let log = machine.sh("cat /var/log/nginx/bootproof.log; : > /var/log/nginx/bootproof.log");
    log.lines().map(str::to_owned).collect()
}

#[test]
fn lab_html_status_page_in_a_real_browser() {
    if !lab_required() {
        return;
    }
    assert_chromium_installed();
    let machine = Machine::up("html");
    let base = ports(5);
    let web = base + 4;
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write("/etc/systemd/system/my-app@.service", TEMPLATE, 0o644);
    let (first, second) = (format!("my-app@{base}.service"), format!("my-app@{}.service", base + 1));
    for port in [base, base + 1] {
        machine.write(&format!("/etc/my-app/{port}.env"), "GREETING=hello\n", 0o640);
    }
    machine.write("/etc/nginx/snippets/bootproof-status.conf", NGINX_SNIPPET, 0o644);
    machine.write(
        "/etc/nginx/sites-enabled/status",
        &format!(
            "server {{\n  listen 127.0.0.1:{web};\n  access_log /var/log/nginx/bootproof.log;\n  \
             include /etc/nginx/snippets/bootproof-status.conf;\n}}\n"
        ),
        0o644,
    );
    machine.sh(&format!(
        "useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser && chgrp nodeuser /etc/my-app/*.env
         rm -f /etc/nginx/sites-enabled/default && nginx -t 2>/dev/null && systemctl enable --now nginx 2>/dev/null
         systemctl daemon-reload && systemctl enable --now {first} {second} && systemctl disable {second}"
    ));
    machine.install_pm2();
    // The incident: PM2 started from a root shell and saved, never registered.
    let pm2 = "export HOME=/root USER=root PATH=/usr/local/bin:/usr/bin:/bin; cd /opt/my-app";
    machine.sh(&format!(
        "{pm2}
         GREETING=hi pm2 start server.js --name api -- {} >/dev/null
         GREETING=hi pm2 start server.js --name '{HOSTILE}' -- {} >/dev/null
         pm2 save >/dev/null",
        base + 2,
        base + 3
    ));
    let shots = repo().join("target/status-page");
    std::fs::create_dir_all(&shots).expect("a directory for the screenshots");
    let url = format!("http://127.0.0.1:{web}/bootproof/status.html");

    assert_eq!(write_status(&machine), 1, "the incident fails the check");
    // What nginx gives out, and what it does not: the state file beside the page.
    let headers = machine.sh(&format!(
        "exec 3<>/dev/tcp/127.0.0.1/{web}; printf 'GET /bootproof/status.html HTTP/1.0\\r\\n\\r\\n' >&3; sed -n '1,/^\\r$/p' <&3"
    ));
    assert!(headers.starts_with("HTTP/1.1 200"), "{headers}");
    assert!(headers.contains("Content-Security-Policy: default-src 'none'"), "{headers}");
    let state = machine.sh(&format!(
        "exec 3<>/dev/tcp/127.0.0.1/{web}; printf 'GET /bootproof/state.json HTTP/1.0\\r\\n\\r\\n' >&3; head -n 1 <&3"
    ));
    assert!(state.starts_with("HTTP/1.1 404"), "the state file is not for the web: {state}");
    served(&machine);

    let failing = open_in_chromium(&machine, &url, &shots.join("failing.png"));
    for needed in [
        "does not come back",
        second.as_str(),
        &format!("sudo systemctl enable {second}"),
        "pm2 startup systemd -u root --hp /root",
        "&lt;img src=x onerror=alert(1)&gt;",
    ] {
        assert!(failing.dom.contains(needed), "the page lacks {needed:?}:\n{}", failing.dom);
    }
    assert!(!failing.dom.contains("<img"), "a hostile app name became markup:\n{}", failing.dom);
    assert!(failing.page_requests.is_empty(), "the page made requests: {:?}", failing.page_requests);
    let requests = served(&machine);
    assert!(
        requests.len() == 2 && requests.iter().all(|r| r.contains("\"GET /bootproof/status.html ")),
        "nginx served more than the page, twice: {requests:#?}"
    );

    // The incident's fix, and the instance enabled again: nothing is lost any more.
    machine.sh(&format!(
        "{pm2}
         pm2 startup systemd -u root --hp /root >/dev/null && pm2 save >/dev/null && pm2 kill >/dev/null
         systemctl start pm2-root && systemctl enable {second}"
    ));
    machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{}", base + 2), Duration::from_secs(20));
    assert_eq!(write_status(&machine), 0, "the fixed host passes (warnings only)");
    let healthy = open_in_chromium(&machine, &url, &shots.join("healthy.png"));
    assert!(healthy.dom.contains("services come back after a reboot"), "{}", healthy.dom);
    assert!(!healthy.dom.contains("does not come back"), "{}", healthy.dom);
    assert!(healthy.page_requests.is_empty(), "the page made requests: {:?}", healthy.page_requests);
    let status: Value = serde_json::from_str(&machine.sh("cat /var/lib/bootproof/status.json")).expect("JSON status");
    assert_eq!(status["subjects"].as_array().map(Vec::len), Some(3), "{status:#}");
}
