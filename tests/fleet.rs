//! The fleet outputs held to the engines that read them: the Prometheus textfile to
//! promtool (Debian's `prometheus` package, installed by ci/install), the shipped alert
//! rules to `promtool check rules` and their unit tests, the Nagios plugin format to the
//! plugin API's exit codes. Real output: bootproof run on facts captured from real hosts,
//! and on this host where the system bus cannot be reached.

use std::process::{Command, Stdio};

use crate::harness::{assert_exit, repo, run_here};

/// Debian's promtool.
fn promtool() -> Command {
    assert!(
        std::path::Path::new("/usr/bin/promtool").exists(),
        "promtool is not installed (Debian's prometheus package): run ci/install"
    );
    Command::new("/usr/bin/promtool")
}

/// `promtool check metrics` on `text`, asserting it is accepted.
#[track_caller]
pub(crate) fn assert_promtool_accepts(text: &[u8]) {
    let mut child = promtool()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text).expect("feed promtool");
    }
    let out = child.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success(),
        "promtool check metrics refused the textfile:\n{}{}\n--- textfile\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(text)
    );
}

const CAPTURED: [&str; 4] = ["template-all-good.json", "template-defects.json", "pm2-incident.json", "pm2-fixed.json"];

#[test]
fn promtool_accepts_the_textfile_of_every_captured_host() {
    for name in CAPTURED {
        let facts = repo().join("tests/facts").join(name);
        let out = run_here(&["check", "--facts", facts.to_str().expect("utf-8"), "--format", "prometheus"], &[]);
        assert!(out.stdout.starts_with(b"# HELP bootproof_check "), "{name}: {}", String::from_utf8_lossy(&out.stdout));
        assert_promtool_accepts(&out.stdout);
    }
}

#[test]
fn the_shipped_alert_rules_check_and_pass_their_tests() {
    let rules = repo().join("contrib/prometheus");
    for args in [&["check", "rules", "bootproof.rules.yml"][..], &["test", "rules", "bootproof.rules.test.yml"][..]] {
        let out = promtool().args(args).current_dir(&rules).output().expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn nagios_format_exits_as_the_plugin_api_says() {
    for (name, code, state) in [
        ("template-all-good.json", 0, "BOOTPROOF OK - "),
        ("pm2-fixed.json", 1, "BOOTPROOF WARNING - "),
        ("template-defects.json", 2, "BOOTPROOF CRITICAL - "),
    ] {
        let facts = repo().join("tests/facts").join(name);
        let out = run_here(&["check", "--facts", facts.to_str().expect("utf-8"), "--format", "nagios"], &[]);
        assert_exit(&out, code);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with(state), "{name}: {text}");
        let first = text.lines().next().unwrap_or("");
        assert_eq!(first.matches('|').count(), 1, "one perfdata separator: {first}");
        assert!(first.contains(" | pass=") && first.contains(" duration="), "{first}");
    }
    // UNKNOWN when the host could not be checked: tests/lab_no_bus.rs, on a real systemd.
}
