//! Command-line behaviour that needs no lab: errors, exit codes, offline facts files.

use crate::harness::{TempDir, assert_exit, repo, run_here};

/// Whether this host is an app container by the files bootproof reads (this project's CI
/// host is: /.dockerenv, and a PID 1 of its own). `facts::container` is unit-tested on
/// captured inputs; this only tells which of the two behaviours below this host must show.
fn app_container_here() -> bool {
    let marked = std::path::Path::new("/.dockerenv").exists() || std::path::Path::new("/run/.containerenv").exists();
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    marked && pid1.trim() != "systemd"
}

/// Without a reachable system bus, a host exits 3 with one sentence; inside an app
/// container there is no systemd to reach, and bootproof says where it is instead. (A
/// systemd container without a bus exits 3 too: tests/lab_processes.rs.)
#[test]
fn no_system_bus_exits_3_with_one_clear_sentence_unless_in_an_app_container() {
    let out = run_here(
        &["check", "--no-state"],
        &[("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bootproof-test/system_bus_socket")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if app_container_here() {
        assert!(out.status.code().is_some_and(|code| code == 0 || code == 1), "{stdout}\n{stderr}");
        let host = stdout.lines().find(|l| l.contains(" host ")).unwrap_or_default();
        assert!(host.contains("inside a") && host.contains("container"), "says it once: {stdout}");
        assert!(!stdout.contains("system_bus_socket"), "no bus was asked for: {stdout}");
        return;
    }
    assert_exit(&out, 3);
    assert!(stderr.contains("/nonexistent/bootproof-test/system_bus_socket"), "names the socket: {stderr}");
    assert!(stderr.contains("PID 1"), "says what PID 1 is: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    assert!(out.stdout.is_empty(), "no half report on stdout");
}

#[test]
fn malformed_facts_file_exits_2_naming_file_line_and_column() {
    let dir = TempDir::new("facts");
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\"schema\": \"bootproof/facts/v1\",\n  \"host\": [}\n").expect("write");
    let out = run_here(&["check", "--facts", path.to_str().expect("utf-8")], &[]);
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.json"), "names the file: {stderr}");
    assert!(stderr.contains("line 2 column"), "names line and column: {stderr}");
}

#[test]
fn facts_file_of_another_schema_exits_2() {
    let dir = TempDir::new("schema");
    let path = dir.path().join("future.json");
    let mut facts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/facts/template-all-good.json")).expect("fixture"),
    )
    .expect("fixture parses");
    facts["schema"] = "bootproof/facts/v9".into();
    std::fs::write(&path, facts.to_string()).expect("write");
    let out = run_here(&["check", "--facts", path.to_str().expect("utf-8")], &[]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bootproof/facts/v9"));
}

#[test]
fn missing_facts_file_exits_2() {
    let out = run_here(&["check", "--facts", "/nonexistent/facts.json"], &[]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/facts.json"));
}

#[test]
fn unknown_invariant_id_exits_2() {
    let out = run_here(&["check", "--skip", "unit.restart"], &[]);
    assert_exit(&out, 2);
}

#[test]
fn captured_good_host_passes_and_bad_host_fails() {
    let good = repo().join("tests/facts/template-all-good.json");
    let out = run_here(&["check", "--facts", good.to_str().expect("utf-8"), "--format", "json"], &[]);
    assert_exit(&out, 0);
    let bad = repo().join("tests/facts/template-defects.json");
    let out = run_here(&["check", "--facts", bad.to_str().expect("utf-8")], &[]);
    assert_exit(&out, 1);
}

#[test]
fn report_to_file_has_no_colour_and_stdout_stays_empty() {
    let dir = TempDir::new("out");
    let path = dir.path().join("report.txt");
    let facts = repo().join("tests/facts/template-defects.json");
    let out = run_here(
        &["check", "--facts", facts.to_str().expect("utf-8"), "-o", path.to_str().expect("utf-8")],
        &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")],
    );
    assert_exit(&out, 1);
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(&path).expect("report written");
    assert!(!text.contains('\u{1b}'), "no escape codes in a file");
    assert!(text.contains("✘"), "the report is there: {text}");
}

#[test]
fn broken_pipe_is_not_an_error() {
    use std::process::{Command, Stdio};
    let facts = repo().join("tests/facts/template-defects.json");
    let mut child = Command::new(crate::harness::bootproof_bin())
        .args(["check", "--facts", facts.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(out.stderr.is_empty(), "nothing on stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "the verdict still decides the exit code");
}

/// Runs `check` on the captured defects host with `toml` as the check file.
fn check_with_config(toml: &str, extra: &[&str]) -> (std::process::Output, TempDir) {
    let dir = TempDir::new("config");
    let path = dir.path().join("bootproof.toml");
    std::fs::write(&path, toml).expect("write");
    let facts = repo().join("tests/facts/template-defects.json");
    let mut args = vec!["check", "--config", path.to_str().expect("utf-8"), "--facts", facts.to_str().expect("utf-8")];
    args.extend(extra);
    (run_here(&args, &[]), dir)
}

#[test]
fn broken_check_file_exits_2_naming_file_key_line_and_column() {
    // (what is wrong, the file, what stderr must say, where)
    let cases = [
        ("syntax error", "[[unit]]\nname = \"api.service\nhealth = 1\n", "invalid TOML", "bootproof.toml:2:"),
        (
            "unknown key",
            "[[unit]]\nname = \"my-app@{3000..3003}.service\"\nhelth = \"http://127.0.0.1:{i}/health\"\n",
            "unknown key \"helth\" in [[unit]]",
            "bootproof.toml:3:1; expected one of: name, health",
        ),
        (
            "wrong type",
            "[[health]]\nurl = \"http://127.0.0.1:8080/healthz\"\nstatus = \"200\"\n",
            "wrong type for key \"status\" in [[health]]",
            "bootproof.toml:3:10",
        ),
        (
            "bad duration",
            "[[health]]\nurl = \"http://127.0.0.1:8080/healthz\"\ntimeout = \"2 fortnights\"\n",
            "bad duration \"2 fortnights\" for key \"timeout\" in [[health]]",
            "bootproof.toml:3:11",
        ),
        (
            "descending range",
            "[[unit]]\nname = \"my-app@{3003..3000}.service\"\n",
            "the range counts down; write {3000..3003}",
            "bootproof.toml:2:16",
        ),
        (
            "range of letters",
            "[[unit]]\nname = \"my-app@{a..b}.service\"\n",
            "{a..b} is not a range of whole numbers",
            "bootproof.toml:2:16",
        ),
        (
            "range too large",
            "[[unit]]\nname = \"my-app@{1..2000}.service\"\n",
            "2000 instances, more than the 1000",
            "bootproof.toml:2:16",
        ),
        (
            "unknown invariant id",
            "[severity]\n\"process.not-rot\" = \"warn\"\n",
            "unknown invariant id \"process.not-rot\" in [severity]",
            "bootproof.toml:2:1",
        ),
        (
            "bad severity",
            "[severity]\n\"process.not-root\" = \"ignore\"\n",
            "bad severity \"ignore\" for \"process.not-root\" in [severity]",
            "bootproof.toml:2:22; expected one of: fail, warn, off",
        ),
    ];
    for (kind, toml, message, place) in cases {
        let (out, _dir) = check_with_config(toml, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{kind}: exit code; stderr: {stderr}");
        assert!(stderr.contains(message), "{kind}: message {message:?} in {stderr}");
        assert!(stderr.contains(place), "{kind}: place {place:?} in {stderr}");
        assert!(stderr.starts_with("bootproof: "), "{kind}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{kind}: one line: {stderr}");
        assert!(out.stdout.is_empty(), "{kind}: no report on stdout");
    }
}

#[test]
fn missing_check_file_given_with_config_exits_2() {
    let facts = repo().join("tests/facts/template-defects.json");
    let out =
        run_here(&["check", "--config", "/nonexistent/bootproof.toml", "--facts", facts.to_str().expect("utf-8")], &[]);
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to read the check file /nonexistent/bootproof.toml"), "{stderr}");
}

#[test]
fn severity_overrides_change_the_exit_code() {
    // Every invariant that fails on the defects host, turned off or down to a warning.
    let lenient = r#"
[severity]
"host.state" = "off"
"supervisor.enabled" = "warn"
"supervisor.active" = "warn"
"unit.user" = "warn"
"unit.exec" = "warn"
"unit.restart-policy" = "warn"
"unit.instances" = "off"
"unit.env-files" = "off"
"#;
    let (out, _dir) = check_with_config(lenient, &["--format", "json"]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let results = report["results"].as_array().expect("results");
    assert!(results.iter().all(|r| r["check"] != "unit.env-files"), "off drops the invariant");
    let user = results.iter().find(|r| r["check"] == "unit.user" && r["status"] == "warn").expect("unit.user warns");
    assert_eq!(user["evidence"]["severity"], "warn (set by the check file)");
    let (out, _dir) = check_with_config(lenient, &["--strict"]);
    assert_exit(&out, 1);
    let (out, _dir) = check_with_config(&lenient.replace("\"unit.env-files\" = \"off\"\n", ""), &[]);
    assert_exit(&out, 1);
}

#[test]
fn an_expected_unit_the_host_does_not_have_fails_the_check() {
    let dir = TempDir::new("expected");
    let path = dir.path().join("bootproof.toml");
    std::fs::write(&path, "[[unit]]\nname = \"payments.service\"\n").expect("write");
    let good = repo().join("tests/facts/template-all-good.json");
    let out =
        run_here(&["check", "--config", path.to_str().expect("utf-8"), "--facts", good.to_str().expect("utf-8")], &[]);
    assert_exit(&out, 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("unit:payments.service"), "{stdout}");
    assert!(stdout.contains("expected by the check file but systemd has no such unit"), "{stdout}");
}
