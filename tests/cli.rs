//! Command-line behaviour that needs no lab: errors, exit codes, offline facts files.

use crate::harness::{TempDir, assert_exit, repo, run_here};

#[test]
fn no_system_bus_exits_3_with_one_clear_sentence() {
    let out = run_here(
        &["check"],
        &[("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bootproof-test/system_bus_socket")],
    );
    assert_exit(&out, 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
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
    let mut facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("tests/facts/template-all-good.json")).expect("fixture"))
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
