//! `health.http` and `check --wait` against real endpoints, from a real systemd machine.
//!
//! bootproof needs systemd to check at all (no bus is exit 3), so it runs inside a lab
//! machine, and so do the misbehaving endpoints (`tests/lab/http/server.js`), on the
//! machine's own loopback. Until check files are loaded, endpoints are
//! given with the hidden `--health URL` testing aid. The tests take turns on one
//! machine at a time: others' lab tests need the slots too.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Machine, TempDir, finding, lab_required, ports, repo};

/// Held by each test for the life of its machine, so these tests use one slot at a time.
static ONE_MACHINE: Mutex<()> = Mutex::new(());

/// The endpoints' script, as the machine gets it.
const SERVER_JS: &str = include_str!("lab/http/server.js");

/// A `server.js` process inside a machine (run through `ci/lab exec`); stopped when
/// dropped, and in any case when the machine powers off.
struct Server(Child);

impl Server {
    /// Starts `server.js MODE PORT ARGS…` in `machine` and, unless it binds late on
    /// purpose, waits until it listens.
    fn start(machine: &Machine, mode: &str, port: u16, args: &[&str]) -> Server {
        machine.write("/opt/http/server.js", SERVER_JS, 0o644);
        let mut child = Command::new(repo().join("ci/lab"))
            .args(["exec", machine.name(), "/usr/bin/node", "/opt/http/server.js", mode])
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs in the machine");
        if mode != "slow-bind" {
            let stdout = child.stdout.take().expect("piped stdout");
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).expect("server output");
            assert_eq!(line.trim(), "listening", "server.js {mode} {port} did not start");
        }
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/health")
}

/// `check --format json --only health.http` inside the machine with `args`; the exit
/// code, the report, stderr and how long it took as seen from here.
fn check(machine: &Machine, args: &[&str]) -> (i32, Value, String, Duration) {
    let mut argv = vec!["check", "--format", "json", "--only", "health.http", "--no-state"];
    argv.extend_from_slice(args);
    let started = Instant::now();
    let out: Output = machine.bootproof(&argv);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("no JSON report ({e})\n--- stdout\n{}\n--- stderr\n{stderr}", String::from_utf8_lossy(&out.stdout))
    });
    (out.status.code().unwrap_or(-1), report, stderr, took)
}

fn message(finding: &Value) -> &str {
    finding["message"].as_str().unwrap_or("")
}

#[test]
fn lab_health_slow_binder_passes_with_wait_and_fails_without() {
    if !lab_required() {
        return;
    }
    let _turn = ONE_MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let machine = Machine::up("slowbind");
    let port = ports(2);

    let _early = Server::start(&machine, "slow-bind", port, &[]);
    let (code, report, _, _) = check(&machine, &["--health", &url(port)]);
    assert_eq!(code, 1, "{report:#}");
    let f = finding(&report, &format!("http:{}", url(port)), "health.http");
    assert_eq!(f["status"], "fail");
    assert_eq!(message(f), format!("refused: nothing listens on 127.0.0.1:{port}"));
    assert_eq!(f["remediation"], format!("curl -sv --max-time 2 {}", url(port)));

    let late = port + 1;
    let _late = Server::start(&machine, "slow-bind", late, &[]);
    let (code, report, stderr, took) = check(&machine, &["--wait", "20s", "--health", &url(late)]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let f = finding(&report, &format!("http:{}", url(late)), "health.http");
    assert_eq!(f["status"], "pass", "{f:#}");
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(15), "took {took:?}");
    // Not a terminal: one line when it starts waiting, one when done; no spinner.
    assert!(stderr.contains("waiting up to 20s for 1: health.http"), "{stderr}");
    assert!(stderr.contains("everything waited for came up after"), "{stderr}");
    assert!(!stderr.contains('\r'), "no redraws off a terminal: {stderr:?}");
    assert!(stderr.lines().count() <= 3, "{stderr}");
}

#[test]
fn lab_health_misbehaving_endpoints_in_one_run() {
    if !lab_required() {
        return;
    }
    let _turn = ONE_MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let machine = Machine::up("endpoints");
    let base = ports(5);
    let [hang, ok, error, redirect, big] = [base, base + 1, base + 2, base + 3, base + 4];
    let _servers = [
        Server::start(&machine, "hang", hang, &[]),
        Server::start(&machine, "ok", ok, &[]),
        Server::start(&machine, "error", error, &[]),
        Server::start(&machine, "redirect-loop", redirect, &[]),
        Server::start(&machine, "big", big, &[]),
    ];
    let mut args = Vec::new();
    let urls: Vec<String> = [hang, ok, error, redirect, big].iter().map(|&p| url(p)).collect();
    for u in &urls {
        args.extend(["--health", u.as_str()]);
    }
    let (code, report, stderr, took) = check(&machine, &args);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let of = |port: u16| finding(&report, &format!("http:{}", url(port)), "health.http");

    // The silent endpoint costs its timeout (2 s) and no more; the others finish meanwhile.
    assert!(took < Duration::from_secs(3), "the run took {took:?}");
    assert_eq!(of(hang)["status"], "fail");
    assert_eq!(message(of(hang)), "timed out after 2s");

    assert_eq!(of(ok)["status"], "pass", "{:#}", of(ok));

    assert_eq!(of(error)["status"], "fail");
    assert_eq!(
        message(of(error)),
        "500 Internal Server Error: database unreachable: connect ECONNREFUSED 127.0.0.1:5432"
    );

    assert_eq!(of(redirect)["status"], "fail");
    assert_eq!(message(of(redirect)), "302 redirect to /a (redirects are not followed)");
    assert_eq!(of(redirect)["evidence"]["location"], "/a");

    // 10 MB offered, 64 KiB read, quickly.
    assert_eq!(of(big)["status"], "pass", "{:#}", of(big));
    assert_eq!(of(big)["evidence"]["body_truncated"], true);
    assert!(of(big)["evidence"]["elapsed_ms"].as_u64().is_some_and(|ms| ms < 1000), "{:#}", of(big));

    let elapsed: Vec<u64> =
        [ok, error, redirect, big].iter().filter_map(|&p| of(p)["evidence"]["elapsed_ms"].as_u64()).collect();
    eprintln!(
        "5 endpoints probed concurrently in {took:?} (one of them times out after 2s); \
         answered in {elapsed:?} ms, sequential sum at least {} ms",
        2000 + elapsed.iter().sum::<u64>()
    );
}

#[test]
fn lab_health_self_signed_tls_needs_insecure() {
    if !lab_required() {
        return;
    }
    let dir = TempDir::new("tls");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));

    let _turn = ONE_MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let machine = Machine::up("tls");
    let port = ports(1);
    machine.write("/opt/http/cert.pem", &std::fs::read_to_string(&cert).expect("cert"), 0o644);
    machine.write("/opt/http/key.pem", &std::fs::read_to_string(&key).expect("key"), 0o600);
    let _server = Server::start(&machine, "tls", port, &["/opt/http/cert.pem", "/opt/http/key.pem"]);
    let https = format!("https://127.0.0.1:{port}/health");
    let subject = format!("http:{https}");

    let (code, report, _, _) = check(&machine, &["--health", &https]);
    assert_eq!(code, 1, "{report:#}");
    let f = finding(&report, &subject, "health.http");
    assert!(message(f).starts_with("TLS certificate not trusted"), "{f:#}");
    assert!(message(f).contains("set insecure = true"), "{f:#}");

    let (code, report, _, _) = check(&machine, &["--health", &https, "--health-insecure"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(finding(&report, &subject, "health.http")["status"], "pass");
}
