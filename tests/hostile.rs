//! Hostile names: a unit, a PM2 home and a PM2 app whose names carry terminal escapes,
//! newlines, XML-special characters, quotes, shell syntax and a very long string, judged
//! from captured facts with those names swapped in, and every output read back: the human
//! report and the plan reach the terminal with no raw control character and no line a name
//! began, the JSON keeps each name exactly, the JUnit file is valid XML (parsed back by a
//! real XML parser), and every remediation built from a name, pasted into bash, runs that
//! command on that name and nothing else.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::{TempDir, assert_exit, repo, run_here};

/// A name no operator would choose and any host can hold (systemd escapes most of this; a
/// facts file or another tool need not): quotes, a `;`, a command substitution and
/// backticks — each of which, if a pasted command ever ran it, would create a marker file
/// in `markers` —, an ESC sequence that clears the screen, a newline that starts a line of
/// its own, XML specials, a right-to-left override and a long tail.
fn hostile(kind: &str, markers: &Path) -> String {
    let m = markers.display();
    format!(
        "{kind}'; : >{m}/semicolon #$(: >{m}/substitution)`: >{m}/backticks`\u{1b}[2J\n✔ unit:fine.service  comes back\r<x a=\"&amp;\">]]>\u{202e}{}",
        "long".repeat(500)
    )
}

/// The captured facts file `name` with every occurrence of the JSON string `from`
/// replaced by `to`, written into `dir`.
fn facts_with(dir: &TempDir, name: &str, swaps: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(repo().join("tests/facts").join(name)).expect("captured facts");
    for (from, to) in swaps {
        let quoted_from = serde_json::to_string(from).expect("json");
        assert!(text.contains(&quoted_from), "{name} has no {quoted_from}");
        text = text.replace(&quoted_from, &serde_json::to_string(to).expect("json"));
    }
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write facts");
    path.to_string_lossy().into_owned()
}

/// Asserts `text` is safe on a terminal: no control character but newlines, no
/// bidirectional override, and no line that starts with what a name carried.
#[track_caller]
pub(crate) fn assert_terminal_safe(text: &str, what: &str) {
    let bad: Vec<String> = text
        .chars()
        .filter(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c))
        .map(|c| format!("{c:?}"))
        .collect();
    assert!(bad.is_empty(), "{what}: raw characters {bad:?} in\n{text}");
    assert!(!text.lines().any(|line| line.starts_with("✔ unit:fine.service")), "{what}: a name began a line:\n{text}");
}

/// The words bash makes of `command` when it is pasted into a shell: `sudo` is a function
/// that prints its arguments (NUL-separated) instead of running them, and PATH is empty,
/// so nothing but bash's builtins can run — the prose around a command (`after fixing:`)
/// fails harmlessly, and only what a name smuggled in could create a marker file.
fn bash_words(command: &str) -> Vec<String> {
    let script = format!("sudo() {{ printf '%s\\0' \"$@\"; }}; {command}");
    let out = Command::new("/bin/bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .env_clear()
        .env("PATH", "/nonexistent")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("bash runs");
    String::from_utf8_lossy(&out.stdout).split_terminator('\0').map(str::to_owned).collect()
}

/// Every `remediation` in a JSON report.
pub(crate) fn remediations(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["remediation"].as_str().map(str::to_owned))
        .collect()
}

/// Holds every output of one facts file with hostile names to the rules above: `names` are
/// kept exactly in the JSON, and `in_fix` are each one word of some remediation.
fn check_outputs(facts: &str, names: &[&str], in_fix: &[&str], markers: &Path) {
    let out = run_here(&["check", "--facts", facts], &[]);
    assert_exit(&out, 1);
    assert_terminal_safe(&String::from_utf8_lossy(&out.stdout), "check");
    let out = run_here(&["check", "--facts", facts, "-v"], &[]);
    assert_terminal_safe(&String::from_utf8_lossy(&out.stdout), "check -v");
    let out = run_here(&["plan", "--facts", facts, "-v"], &[]);
    assert_terminal_safe(&String::from_utf8_lossy(&out.stdout), "plan");

    let out = run_here(&["check", "--facts", facts, "--format", "json"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("the JSON report parses");
    let text = report.to_string();
    for name in names {
        assert!(text.contains(&serde_json::to_string(name).expect("json")[1..]), "JSON keeps {name:?} exactly");
    }
    // Pasted into bash, each remediation that names a hostile name runs with it as one
    // word; nothing else runs (the `;`, the `$(…)` and the backticks are data).
    let fixes = remediations(&report);
    for name in in_fix {
        let using = fixes.iter().filter(|fix| bash_words(fix).iter().any(|word| word == name)).count();
        assert!(using > 0, "no remediation names {name:?} as one word:\n{fixes:#?}");
    }
    let made: Vec<String> = std::fs::read_dir(markers)
        .expect("marker dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(made.is_empty(), "pasting a remediation ran what a name carried: {made:?}\n{fixes:#?}");

    // The Prometheus textfile: promtool reads it, and each name is one label value.
    let out = run_here(&["check", "--facts", facts, "--format", "prometheus"], &[]);
    let mut promtool = Command::new("/usr/bin/promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (ci/install installs Debian's prometheus package)");
    promtool.stdin.take().expect("stdin").write_all(&out.stdout).expect("feed promtool");
    let checked = promtool.wait_with_output().expect("promtool finishes");
    assert!(checked.status.success(), "promtool refused the textfile: {}", String::from_utf8_lossy(&checked.stderr));
    let textfile = String::from_utf8_lossy(&out.stdout);
    assert!(
        textfile.lines().all(|line| line.starts_with('#') || line.starts_with("bootproof_")),
        "a name began a line:\n{textfile}"
    );

    // Nagios: one status line, and no `|` from a name starting performance data early.
    let out = run_here(&["check", "--facts", facts, "--format", "nagios"], &[]);
    let plugin = String::from_utf8_lossy(&out.stdout);
    let status_line = plugin.lines().next().unwrap_or_default();
    assert_eq!(status_line.matches('|').count(), 1, "{status_line}");
    assert_terminal_safe(&plugin, "nagios");
    assert!(plugin.lines().skip(1).all(|l| !l.contains('|')), "{plugin}");

    // HTML: no tag or attribute a name carried.
    let out = run_here(&["check", "--facts", facts, "--format", "html"], &[]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(!page.contains("<x a="), "a name's markup reached the page");
    assert!(!page.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')), "raw control characters in the page");

    let dir = TempDir::new("junit");
    let xml_path = dir.path().join("report.xml");
    let out = run_here(&["check", "--facts", facts, "--format", "junit", "-o", xml_path.to_str().expect("utf-8")], &[]);
    assert_exit(&out, 1);
    // A real XML parser (expat, through Python's standard library) reads the file back.
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); \
             print('\\n'.join(s.getAttribute('name') for s in d.getElementsByTagName('testsuite')))",
            xml_path.to_str().expect("utf-8"),
        ])
        .output()
        .expect("python3 runs");
    assert!(parsed.status.success(), "the JUnit file is not valid XML: {}", String::from_utf8_lossy(&parsed.stderr));
    let suites = String::from_utf8_lossy(&parsed.stdout);
    assert!(suites.contains("#$(: >"), "suite names survive the XML round trip:\n{suites}");
}

#[test]
fn hostile_unit_names_are_escaped_in_every_output_and_quoted_in_every_fix() {
    let dir = TempDir::new("hostile-units");
    let markers = TempDir::new("hostile-units-markers");
    let unit = format!("{}.service", hostile("my-app@39401", markers.path()));
    let facts = facts_with(&dir, "template-defects.json", &[("my-app@39401.service", &unit)]);
    check_outputs(&facts, &[&unit], &[&unit], markers.path());
}

#[test]
fn hostile_pm2_names_are_escaped_in_every_output_and_quoted_in_every_fix() {
    let dir = TempDir::new("hostile-pm2");
    let markers = TempDir::new("hostile-pm2-markers");
    let app = hostile("api", markers.path());
    let home = format!("/root/{}", hostile(".pm2", markers.path()));
    let text = std::fs::read_to_string(repo().join("tests/facts/pm2-incident.json")).expect("captured facts");
    // The home's path appears in several fields (home, dump paths, the directory's path);
    // each is swapped, so the facts stay consistent.
    let text = text.replace("/root/.pm2", serde_json::to_string(&home).expect("json").trim_matches('"'));
    let text = text.replace("\"name\": \"api\"", &format!("\"name\": {}", serde_json::to_string(&app).expect("json")));
    // The home's owner's home directory, which `pm2 startup --hp` names.
    let owner_home = format!("/home/{}", hostile("deploy", markers.path()));
    assert!(text.contains("\"home\": \"/root\""), "the owner's home is in the facts");
    let text = text
        .replace("\"home\": \"/root\"", &format!("\"home\": {}", serde_json::to_string(&owner_home).expect("json")));
    let path = dir.path().join("pm2.json");
    std::fs::write(&path, text).expect("write");
    check_outputs(path.to_str().expect("utf-8"), &[&home, &app], &[&owner_home], markers.path());
}
