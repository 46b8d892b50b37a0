//! `--webhook`, `--ping` and `timer print` on this host, without a lab: secrets never shown,
//! bad URLs refused without repeating them, and the heartbeat of a host that could not be
//! checked at all (no system bus here) going to `URL/fail`, received by a real HTTP server.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::{assert_exit, repo, run_here};

const SLACK: &str = "https://hooks.slack.com/services/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";

#[track_caller]
fn assert_no_secret(output: &std::process::Output) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains("SECRET"), "a secret was printed:\n{text}");
    }
}

#[test]
fn timer_print_shows_the_units_and_no_secret() {
    let out = run_here(
        &[
            "timer",
            "print",
            "--every",
            "10min",
            "--webhook",
            SLACK,
            "--webhook-format",
            "slack",
            "--ping",
            "https://hc-ping.com/SECRET",
        ],
        &[],
    );
    assert_exit(&out, 0);
    assert_no_secret(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "OnBootSec=2min",
        "OnUnitActiveSec=10min",
        "WantedBy=timers.target",
        "Type=oneshot",
        "--webhook-format slack --alert-after 1",
        "EnvironmentFile=/etc/bootproof/alert.env",
        "BOOTPROOF_WEBHOOK=\"https://hooks.slack.com/…\"",
        "BOOTPROOF_PING=\"https://hc-ping.com/…\"",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
}

#[test]
fn secrets_from_the_environment_are_neither_shown_nor_in_help() {
    let out = run_here(&["timer", "print"], &[("BOOTPROOF_WEBHOOK", SLACK)]);
    assert_exit(&out, 0);
    assert_no_secret(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("BOOTPROOF_WEBHOOK=\"https://hooks.slack.com/…\""));
    let help = run_here(&["check", "--help"], &[("BOOTPROOF_WEBHOOK", SLACK), ("BOOTPROOF_PING", SLACK)]);
    assert_exit(&help, 0);
    assert_no_secret(&help);
}

#[test]
fn a_bad_webhook_or_heartbeat_url_is_a_usage_error_that_does_not_repeat_it() {
    for args in [
        &["check", "--webhook", "hooks.slack.com/services/SECRET"][..],
        &["check", "--webhook", "https://example.com/ok", "--webhook", "ftp://example.com/SECRET"],
        &["check", "--ping", "hc-ping.com/SECRET"],
        &["timer", "print", "--webhook", "SECRET"],
    ] {
        let out = run_here(args, &[]);
        assert_exit(&out, 2);
        assert_no_secret(&out);
    }
    let out = run_here(&["check", "--webhook", "https://example.com/ok", "--webhook", "ftp://example.com/SECRET"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("webhook URL #2"), "says which one");
}

#[test]
fn alert_flags_need_a_webhook() {
    let out = run_here(&["check", "--alert-after", "2"], &[]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--webhook"));
    let zero = run_here(&["check", "--webhook", "https://example.com/x", "--alert-after", "0"], &[]);
    assert_exit(&zero, 2);
}

#[test]
fn a_facts_file_sends_nothing_and_says_so() {
    let facts = repo().join("tests/facts/pm2-fixed.json");
    let facts = facts.to_str().expect("utf-8");
    let out = run_here(&["check", "--facts", facts], &[("BOOTPROOF_WEBHOOK", "http://127.0.0.1:9/SECRET")]);
    assert_exit(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no alert or heartbeat is sent"));
    assert_no_secret(&out);
}

/// A real HTTP server on a loopback port the kernel picks: answers 200 to each request and
/// sends its request line down the channel.
fn receiver() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (sent, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let _ = reader.read_line(&mut line);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK");
            if sent.send(line.trim().to_owned()).is_err() {
                return;
            }
        }
    });
    (port, received)
}

// A host that cannot be checked pings `/fail`: tests/lab_no_bus.rs, on a real systemd.

#[test]
fn a_broken_check_file_pings_fail_too() {
    let (port, requests) = receiver();
    let dir = crate::harness::TempDir::new("pingconfig");
    let config = dir.path().join("bootproof.toml");
    std::fs::write(&config, "[[unit]]\nnmae = \"x.service\"\n").expect("write");
    let ping = format!("http://127.0.0.1:{port}/ping/SECRET");
    let out = run_here(&["check", "--config", config.to_str().expect("utf-8"), "--ping", &ping], &[]);
    assert_exit(&out, 2);
    let got = requests.recv_timeout(Duration::from_secs(10)).expect("the heartbeat arrived");
    assert_eq!(got, "GET /ping/SECRET/fail HTTP/1.1");
}

/// A directory outside /tmp (private to the timer's service, so refused as a place for
/// its reports), removed on drop.
struct ReportDir(std::path::PathBuf);

impl ReportDir {
    fn new(tag: &str) -> ReportDir {
        let dir = repo().join("target").join(format!("test-reports-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("report dir");
        ReportDir(dir)
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn timer_print_writes_every_report_from_one_check() {
    let dir = ReportDir::new("timer");
    let html = dir.0.join("status.html");
    let json = dir.0.join("status.json");
    let (html, json, textfile) =
        (html.to_str().expect("utf-8"), json.to_str().expect("utf-8"), dir.0.to_str().expect("utf-8"));
    let out = run_here(&["timer", "print", "--html", html, "--json", json, "--textfile-dir", textfile], &[]);
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    let exec: Vec<&str> = text.lines().filter(|l| l.starts_with("ExecStart=")).collect();
    assert_eq!(exec.len(), 1, "one check writes them all:\n{text}");
    for write in [
        format!("--write html={html}"),
        format!("--write json={json}"),
        format!("--write prometheus={textfile}/bootproof.prom"),
    ] {
        assert!(exec[0].contains(&write), "no {write:?} in {}", exec[0]);
    }
    let paths: Vec<&str> = text.lines().filter(|l| l.starts_with("ReadWritePaths=")).collect();
    assert_eq!(paths, [format!("ReadWritePaths=-{textfile}")], "one directory, once:\n{text}");

    let none = run_here(&["timer", "print", "--no-textfile"], &[]);
    assert_exit(&none, 0);
    assert!(!String::from_utf8_lossy(&none.stdout).contains("--write"), "{}", String::from_utf8_lossy(&none.stdout));
    // A report nothing would see, or whose directory is not there: print shows the units
    // and warns; install refuses before it changes anything (or asks for root). A binary
    // in /tmp (a clone there) is refused by install first, for its own reason.
    let binary_hidden = crate::harness::bootproof_bin().starts_with("/tmp");
    for (flag, value, said) in [
        ("--html", "/tmp/status.html", "/tmp is private to the service"),
        ("--json", "/nonexistent-bootproof/status.json", "/nonexistent-bootproof is not a directory on this host"),
        ("--textfile-dir", "/nonexistent-bootproof", "/nonexistent-bootproof is not a directory on this host"),
    ] {
        let print = run_here(&["timer", "print", flag, value], &[]);
        assert_exit(&print, 0);
        let stderr = String::from_utf8_lossy(&print.stderr);
        assert!(
            stderr.contains(&format!("warning: {flag} {value}")) && stderr.contains(said),
            "{flag} {value}: {stderr}"
        );
        let install = run_here(&["timer", "install", flag, value], &[]);
        assert_exit(&install, 2);
        let stderr = String::from_utf8_lossy(&install.stderr);
        assert!(binary_hidden || stderr.contains(said), "install {flag} {value}: {stderr}");
    }
}

#[test]
fn check_writes_other_formats_from_the_same_check() {
    let dir = ReportDir::new("write");
    let facts = repo().join("tests/facts/template-defects.json");
    let facts = facts.to_str().expect("utf-8");
    let prom = dir.0.join("bootproof.prom");
    let html = dir.0.join("status.html");
    let write_prom = format!("prometheus={}", prom.display());
    let write_html = format!("html={}", html.display());
    let out =
        run_here(&["check", "--facts", facts, "--format", "json", "--write", &write_prom, "--write", &write_html], &[]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the JSON report on stdout");
    let textfile = std::fs::read_to_string(&prom).expect("the textfile");
    let failed = report["summary"]["fail"].as_u64().expect("summary.fail");
    assert!(
        textfile.contains(&format!("bootproof_results{{status=\"fail\"}} {failed}\n")),
        "the same check:\n{textfile}"
    );
    assert!(std::fs::read_to_string(&html).expect("the page").starts_with("<!doctype html>"));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&prom).expect("stat").permissions().mode() & 0o777, 0o644);

    // A file that cannot be written: the others are, and the run says which one failed (exit 2).
    std::fs::remove_file(&prom).expect("rm");
    let out = run_here(
        &["check", "--facts", facts, "--write", "json=/nonexistent-bootproof/status.json", "--write", &write_prom],
        &[],
    );
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed to write /nonexistent-bootproof/status.json"));
    assert!(prom.exists(), "the other file is written");
    let bad = run_here(&["check", "--facts", facts, "--write", "pdf=x.pdf"], &[]);
    assert_exit(&bad, 2);
}

/// A bootproof in /tmp is one the sandboxed service cannot see (PrivateTmp=): `install`
/// refuses, saying why, before it changes anything; `print` shows the units and warns.
#[test]
fn a_binary_the_service_cannot_see_is_refused_by_install_and_warned_of_by_print() {
    let dir = std::path::PathBuf::from(format!("/tmp/bootproof-test-{}-private", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory in /tmp");
    let binary = dir.join("bootproof");
    std::fs::copy(crate::harness::bootproof_bin(), &binary).expect("copy the binary into /tmp");
    // Text file busy: a process another test thread forks while the copy is open holds
    // it open for writing until it execs; that passes in a moment.
    let run = |args: &[&str]| {
        for _ in 0..50 {
            match std::process::Command::new(&binary).args(args).output() {
                Err(err) if err.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => return other.expect("bootproof runs"),
            }
        }
        panic!("{} stayed busy for 5 s", binary.display());
    };
    let install = run(&["timer", "install"]);
    let print = run(&["timer", "print"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_exit(&install, 2);
    assert!(String::from_utf8_lossy(&install.stderr).contains("/tmp is private to it"), "{install:?}");
    assert_exit(&print, 0);
    assert!(String::from_utf8_lossy(&print.stderr).contains("warning: the service could not run"), "{print:?}");
    assert!(String::from_utf8_lossy(&print.stdout).contains("[Timer]"), "{print:?}");
}
