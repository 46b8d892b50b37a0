//! The Prometheus textfile (`check --format prometheus`), for node_exporter's textfile
//! collector: how a fleet sees bootproof through the Prometheus it already runs.
//!
//! The families and their labels are a contract (README lists them):
//! `bootproof_check{check,subject,status}` (one series per result), `bootproof_comes_back`
//! (the prediction, per unit, PM2 home and PM2 app — the series no other exporter has),
//! `bootproof_results{status}`, `bootproof_up`, `bootproof_last_run_timestamp_seconds`,
//! `bootproof_run_duration_seconds`, `bootproof_boot_time_seconds`, `bootproof_info`.
//! HELP and TYPE for every family; label values escaped per the exposition format; no
//! sample timestamps (the textfile collector rejects them). Pure: the run's own figures
//! (when, how long, whether the host could be checked) are handed in.

use std::fmt::Write as _;
use std::time::Duration;

use super::Report;
use crate::verdict::Status;

/// What the renderer needs to know of the run itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Run<'a> {
    /// When the check finished, seconds since the epoch.
    pub(crate) finished_at: f64,
    /// How long it took.
    pub(crate) duration: Duration,
    /// Whether the host could be checked (the exit code is not "could not check").
    pub(crate) up: bool,
    /// bootproof's version.
    pub(crate) version: &'a str,
}

/// The textfile for a checked host.
pub(crate) fn render(report: &Report, run: &Run) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "bootproof_check",
        "gauge",
        "1 for each invariant judged on each subject, labelled with its status.",
    );
    for finding in &report.results {
        let _ = writeln!(
            out,
            "bootproof_check{{check=\"{}\",subject=\"{}\",status=\"{}\"}} 1",
            label(finding.check.as_str()),
            label(&finding.subject.to_string()),
            finding.status
        );
    }
    family(
        &mut out,
        "bootproof_comes_back",
        "gauge",
        "1 when the unit, PM2 home, PM2 app (app label) or process outside both will be running after the next boot, 0 when it will not.",
    );
    for prediction in &report.subjects {
        let subject = label(&prediction.subject.to_string());
        let _ = writeln!(
            out,
            "bootproof_comes_back{{subject=\"{subject}\"}} {}",
            u8::from(prediction.prediction.comes_back)
        );
        for app in &prediction.apps {
            let _ = writeln!(
                out,
                "bootproof_comes_back{{subject=\"{subject}\",app=\"{}\"}} {}",
                label(&app.name),
                u8::from(app.prediction.comes_back)
            );
        }
    }
    family(&mut out, "bootproof_results", "gauge", "Results of the last check by status.");
    let summary = &report.summary;
    for (status, count) in [
        (Status::Pass, summary.pass),
        (Status::Warn, summary.warn),
        (Status::Fail, summary.fail),
        (Status::Skip, summary.skip),
        (Status::Error, summary.error),
    ] {
        let _ = writeln!(out, "bootproof_results{{status=\"{status}\"}} {count}");
    }
    let booted_at = report
        .host
        .booted_at
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs()));
    if let Some(booted_at) = booted_at {
        family(
            &mut out,
            "bootproof_boot_time_seconds",
            "gauge",
            "When this boot's userspace started, seconds since the epoch.",
        );
        let _ = writeln!(out, "bootproof_boot_time_seconds {booted_at}");
    }
    run_families(&mut out, report.host.hostname.as_deref(), run);
    out
}

/// The textfile for a host that could not be checked at all (no system bus, no
/// systemd): `bootproof_up 0`, so the failure is seen, not just a file gone stale.
pub(crate) fn render_not_checked(hostname: Option<&str>, run: &Run) -> String {
    let mut out = String::new();
    run_families(&mut out, hostname, run);
    out
}

/// The families every textfile has: up, last run, duration, info.
fn run_families(out: &mut String, hostname: Option<&str>, run: &Run) {
    family(out, "bootproof_up", "gauge", "1 when the host could be checked, 0 when it could not.");
    let _ = writeln!(out, "bootproof_up {}", u8::from(run.up));
    family(
        out,
        "bootproof_last_run_timestamp_seconds",
        "gauge",
        "When the last check finished, seconds since the epoch.",
    );
    let _ = writeln!(out, "bootproof_last_run_timestamp_seconds {:.3}", run.finished_at);
    family(out, "bootproof_run_duration_seconds", "gauge", "How long the last check took.");
    let _ = writeln!(out, "bootproof_run_duration_seconds {:.6}", run.duration.as_secs_f64());
    family(out, "bootproof_info", "gauge", "1, labelled with bootproof's version and the host it checked.");
    let _ = writeln!(
        out,
        "bootproof_info{{version=\"{}\",host=\"{}\"}} 1",
        label(run.version),
        label(hostname.unwrap_or("unknown"))
    );
}

/// The HELP and TYPE lines of a family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the exposition format wants it: `\`, `"` and newline escaped.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::captured;

    const RUN: Run<'static> =
        Run { finished_at: 1_764_590_400.0, duration: Duration::from_millis(28), up: true, version: "0.1.0" };

    #[test]
    fn defects_host_textfile_snapshot() {
        insta::assert_snapshot!(render(&captured::defects(), &RUN));
    }

    #[test]
    fn every_unit_and_app_has_a_comes_back_series() {
        let text = render(&captured::pm2_incident(), &RUN);
        assert!(text.contains("bootproof_comes_back{subject=\"pm2:/root/.pm2\"} 0\n"), "{text}");
        assert!(text.contains("bootproof_comes_back{subject=\"pm2:/root/.pm2\",app=\"api\"} 0\n"), "{text}");
        let good = render(&captured::all_good(), &RUN);
        let back: Vec<&str> = good.lines().filter(|l| l.starts_with("bootproof_comes_back{")).collect();
        assert_eq!(back.len(), 4, "{good}");
        assert!(back.iter().all(|l| l.ends_with("} 1")), "{good}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut report = captured::all_good();
        report.results[0].subject = crate::verdict::Subject::Unit("evil\"} 1\nbootproof_up 0 #.service".into());
        let text = render(&report, &RUN);
        assert!(text.contains("subject=\"unit:evil\\\"} 1\\nbootproof_up 0 #.service\""), "{text}");
        assert_eq!(text.matches("\nbootproof_up ").count(), 1, "an injected series: {text}");
    }

    #[test]
    fn every_family_has_help_and_type_and_no_sample_has_a_timestamp() {
        let text = render(&captured::defects(), &RUN);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            assert!(text.contains(&format!("# HELP {name} ")), "{name} has no HELP");
            assert!(text.contains(&format!("# TYPE {name} gauge")), "{name} has no TYPE");
            let value_part =
                line.rsplit_once("} ").map_or_else(|| line.split_once(' ').map_or("", |(_, v)| v), |(_, v)| v);
            assert!(!value_part.contains(' '), "a sample with a timestamp: {line}");
        }
    }

    #[test]
    fn a_host_that_could_not_be_checked_says_so() {
        let text = render_not_checked(Some("web-1"), &Run { up: false, ..RUN });
        assert!(text.contains("bootproof_up 0\n"), "{text}");
        assert!(text.contains("bootproof_info{version=\"0.1.0\",host=\"web-1\"} 1"), "{text}");
    }
}
