//! Issue 7's wrong verdicts, each reproduced as the review found it: `check --facts` on a
//! captured facts file (real systemd, real PM2, in the lab) with one fact made unreadable
//! or changed the way a host changes it. Each failed against the build the review tried
//! (`BOOTPROOF_BIN` runs them against another build); the files have since been recaptured
//! in the v2 shape (`properties` a fact of its own), which the mutations follow.

use serde_json::Value;

use crate::harness::{TempDir, repo, run_here};

/// A captured facts file from tests/facts, as JSON to mutate.
fn captured(name: &str) -> Value {
    let path = repo().join("tests/facts").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("a captured facts file is JSON")
}

/// Runs `check --facts` on `facts` (with `args` added) and returns the exit code and the
/// JSON report.
fn check(facts: &Value, args: &[&str]) -> (i32, Value) {
    let dir = TempDir::new("wrong-verdicts");
    let path = dir.path().join("facts.json");
    std::fs::write(&path, facts.to_string()).expect("write the facts file");
    let mut argv = vec!["check", "--format", "json", "--facts", path.to_str().expect("utf-8")];
    argv.extend_from_slice(args);
    let out = run_here(&argv, &[]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The finding of `check` on `subject`.
#[track_caller]
fn finding<'a>(report: &'a Value, subject: &str, check: &str) -> &'a Value {
    crate::harness::finding(report, subject, check)
}

/// 1. A PM2 home whose unit pins node under ~/.nvm in PATH while no daemon runs (the
///    incident's host after a reboot): the fix must be a command that can be pasted, not
///    `/usr/bins/usr/binu/usr/bind…`.
#[test]
fn issue7_1_nvm_in_the_pm2_units_path_with_no_daemon_gets_a_pasteable_fix() {
    let mut facts = captured("pm2-fixed.json");
    let home = &mut facts["pm2"][0];
    home["daemon"]["process"] = Value::Null;
    home["daemon"]["rpc"] = serde_json::json!({"ok": {"outcome": "not-running", "reason": "no socket file"}});
    let env = home["units"][0]["service"]["ok"]["environment"].as_array_mut().expect("environment");
    env.retain(|a| !a.as_str().unwrap_or("").starts_with("PATH="));
    env.push("PATH=/root/.nvm/versions/node/v20.11.1/bin:/usr/local/bin:/usr/bin".into());
    let (_, report) = check(&facts, &[]);
    let found = finding(&report, "pm2:/root/.pm2", "process.node-runtime");
    assert_eq!(found["status"], "warn", "{found:#}");
    let fix = found["remediation"].as_str().unwrap_or("");
    assert!(
        fix.ends_with("then: sudo env PATH=$PATH:/usr/bin /usr/local/bin/pm2 startup systemd -u root --hp /root"),
        "{fix}"
    );
    assert!(!fix.contains("/usr/bins"), "{fix}");
}

/// 2. `host.state` degraded with the failed-unit list unreadable must say so, and why.
#[test]
fn issue7_2_degraded_with_an_unreadable_failed_list_says_the_list_could_not_be_read() {
    let mut facts = captured("template-all-good.json");
    facts["host"]["system_state"] = serde_json::json!({"ok": "degraded"});
    facts["host"]["failed_units"] = serde_json::json!({"error": "ListUnitsFiltered failed: Access denied"});
    let (_, report) = check(&facts, &[]);
    let found = finding(&report, "host", "host.state");
    let message = found["message"].as_str().unwrap_or("");
    assert!(message.contains("could not be listed") && message.contains("Access denied"), "{found:#}");
    assert!(!message.contains("0 failed unit(s)"), "{found:#}");
}

/// 3. A unit whose properties could not be read was written with the sentinel
///    `load_state: "error"` and empty states, and failed three invariants with wrong fixes
///    (exit 1). It is `error` findings with the reason, exit 3 when nothing else failed.
#[test]
fn issue7_3_a_unit_whose_properties_could_not_be_read_is_an_error_not_three_failures() {
    let mut facts = captured("template-all-good.json");
    let unit = &mut facts["units"][0];
    let name = unit["name"].as_str().expect("name").to_owned();
    unit["properties"] = serde_json::json!({"error": "cannot read unit properties: GetAll failed: Access denied"});
    unit["service"] = serde_json::json!({"error": "GetAll failed: Access denied"});
    let (code, report) = check(&facts, &[]);
    let subject = format!("unit:{name}");
    for check in ["supervisor.registered", "supervisor.enabled", "supervisor.active"] {
        let found = finding(&report, &subject, check);
        assert_eq!(found["status"], "error", "{found:#}");
        assert!(found["message"].as_str().unwrap_or("").contains("Access denied"), "{found:#}");
    }
    assert_eq!(report["summary"]["fail"], 0, "{report:#}");
    assert_eq!(code, 3, "could not check, nothing failed");
}

/// 4. A unit's processes that could not be read, or a node binary that could not be
///    seen, passed `process.node-runtime` for units (the PM2 copy said `error`).
#[test]
fn issue7_4_unseen_processes_and_binaries_are_errors_for_units_too() {
    let mut facts = captured("template-all-good.json");
    facts["units"][0]["service"]["ok"]["processes"] =
        serde_json::json!({"error": "cannot read /sys/fs/cgroup/system.slice/x/cgroup.procs: Permission denied"});
    for process in facts["units"][1]["service"]["ok"]["processes"]["ok"].as_array_mut().expect("processes") {
        process["exe"] = serde_json::json!({"error": "cannot read /proc/4242/exe: Permission denied"});
    }
    let first = format!("unit:{}", facts["units"][0]["name"].as_str().expect("name"));
    let second = format!("unit:{}", facts["units"][1]["name"].as_str().expect("name"));
    let (_, report) = check(&facts, &[]);
    for (subject, check) in
        [(&first, "process.not-root"), (&first, "process.node-runtime"), (&second, "process.node-runtime")]
    {
        let found = finding(&report, subject, check);
        assert_eq!(found["status"], "error", "{check} on {subject}: {found:#}");
        assert!(found["message"].as_str().unwrap_or("").contains("Permission denied"), "{found:#}");
    }
}

/// 5. What discovery could not read — an ExecStart, a unit file, a unit `LoadUnit`
///    refused — was silently taken to be "not node" or dropped. Each is an `error` for the
///    subject.
#[test]
fn issue7_5_units_discovery_could_not_read_are_visible_errors() {
    let mut facts = captured("template-all-good.json");
    facts["unreadable"] = serde_json::json!([
        {"name": "api.service", "reason": "cannot read its ExecStart to tell whether it runs node: Access denied"},
        {"name": "worker.service", "reason": "cannot read its unit file /etc/systemd/system/worker.service: Permission denied"}
    ]);
    let (code, report) = check(&facts, &[]);
    for (subject, why) in [("unit:api.service", "ExecStart"), ("unit:worker.service", "unit file")] {
        let found = finding(&report, subject, "supervisor.registered");
        assert_eq!(found["status"], "error", "{found:#}");
        assert!(found["message"].as_str().unwrap_or("").contains(why), "{found:#}");
    }
    assert_eq!(code, 3);
}

/// 6. `[thresholds] dump_max_age` was parsed, documented and set in checks/*.toml, and
///    read by no invariant: an option that does nothing.
#[test]
fn issue7_6_a_dump_older_than_dump_max_age_warns_naming_its_age() {
    let mut facts = captured("pm2-fixed.json");
    let gathered = humantime::parse_rfc3339(facts["gathered_at"].as_str().expect("gathered_at")).expect("a time");
    let mtime = (gathered - std::time::Duration::from_secs(45 * 86_400))
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    facts["pm2"][0]["dump"]["file"]["stat"]["ok"]["mtime"] = mtime.into();
    let dir = TempDir::new("dump-max-age");
    let config = dir.path().join("bootproof.toml");
    std::fs::write(&config, "[thresholds]\ndump_max_age = \"30d\"\n").expect("write the check file");
    let (_, report) = check(&facts, &["--config", config.to_str().expect("utf-8")]);
    let found = finding(&report, "pm2:/root/.pm2", "pm2.dump-fresh");
    assert_eq!(found["status"], "warn", "{found:#}");
    let message = found["message"].as_str().unwrap_or("");
    assert!(message.contains("45d") && message.contains("30d"), "{found:#}");
}
