//! The Nagios plugin format (`check --format nagios`), for Nagios, Icinga, Sensu and
//! everything that runs plugins: one status line, `BOOTPROOF OK|WARNING|CRITICAL|UNKNOWN -
//! <what is wrong, or that all services come back> | perfdata`, then one line per finding
//! that did not pass. The exit code follows the plugin API (see `exit::code_for_plugin`).

use std::fmt::Write as _;
use std::time::Duration;

use super::Report;
use super::text::is_hidden_or_reordering;
use crate::verdict::Status;

/// The plugin state word for the overall status: UNKNOWN only when bootproof could not
/// check (something it needed could not be read).
pub(crate) fn state_word(status: Status) -> &'static str {
    match status {
        Status::Pass | Status::Skip => "OK",
        Status::Warn => "WARNING",
        Status::Fail => "CRITICAL",
        Status::Error => "UNKNOWN",
    }
}

/// Renders `report` as plugin output; `duration` is how long the check took.
pub(crate) fn render(report: &Report, duration: Duration) -> String {
    let summary = &report.summary;
    let lost: Vec<String> = report
        .subjects
        .iter()
        .filter(|p| !p.all_come_back())
        .map(|p| {
            let apps: Vec<&str> = p.apps.iter().filter(|a| !a.prediction.comes_back).map(|a| a.name.as_str()).collect();
            if p.prediction.comes_back && !apps.is_empty() {
                format!("{} ({})", p.subject, apps.join(", "))
            } else {
                p.subject.to_string()
            }
        })
        .collect();
    let total = report.subjects.len();
    let what = if !lost.is_empty() {
        format!("{} of {total} services do not come back after a reboot: {}", lost.len(), lost.join(", "))
    } else {
        let first_problem = report.results.iter().find(|f| f.status.needs_attention());
        match (summary.status, first_problem) {
            (Status::Pass | Status::Skip, _) | (_, None) => format!("{} after a reboot", all_come_back(total)),
            (_, Some(f)) => format!("{}; {} {}: {}", all_come_back(total), f.subject, f.check, f.message),
        }
    };
    let mut out = format!(
        "BOOTPROOF {} - {} | pass={} warn={} fail={} error={} duration={:.3}s\n",
        state_word(summary.status),
        text(&what),
        summary.pass,
        summary.warn,
        summary.fail,
        summary.error,
        duration.as_secs_f64()
    );
    for finding in report.results.iter().filter(|f| f.status.needs_attention()) {
        let mut line = format!(
            "{} {} {}: {}",
            finding.status.as_str().to_uppercase(),
            finding.subject,
            finding.check,
            finding.message
        );
        // A `|` would start performance data; a fix with one (`… | sudo tee`) cannot be
        // shown without changing it, so it is left to `bootproof check`.
        match &finding.remediation {
            Some(fix) if !fix.contains('|') => {
                let _ = write!(line, " (fix: {fix})");
            }
            Some(_) => line.push_str(" (fix: see bootproof check)"),
            None => {}
        }
        out.push_str(&text(&line));
        out.push('\n');
    }
    out
}

/// `all 4 services come back`, `the 1 service comes back`.
fn all_come_back(total: usize) -> String {
    if total == 1 { "the 1 service comes back".to_owned() } else { format!("all {total} services come back") }
}

/// The plugin output for a host that could not be checked at all.
pub(crate) fn render_not_checked(reason: &str) -> String {
    format!("BOOTPROOF UNKNOWN - could not check: {}\n", text(reason))
}

/// Text safe in one line of plugin output: `|` starts the performance data, so it
/// becomes `/`; control characters (a newline in a message) become spaces; characters
/// that reorder or hide text on a console (a right-to-left override in a name) are
/// shown as escapes.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '|' {
            out.push('/');
        } else if c.is_control() {
            out.push(' ');
        } else if is_hidden_or_reordering(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::captured;

    #[test]
    fn defects_host_plugin_output_snapshot() {
        insta::assert_snapshot!(render(&captured::defects(), Duration::from_millis(31)));
    }

    #[test]
    fn the_first_line_is_the_plugin_status_line() {
        let good = render(&captured::all_good(), Duration::from_millis(12));
        assert_eq!(
            good.lines().next(),
            Some(
                "BOOTPROOF OK - all 4 services come back after a reboot | pass=50 warn=0 fail=0 error=0 duration=0.012s"
            )
        );
        assert_eq!(good.lines().count(), 1);
        let incident = render(&captured::pm2_incident(), Duration::from_millis(12));
        assert!(
            incident
                .starts_with("BOOTPROOF CRITICAL - 1 of 1 services do not come back after a reboot: pm2:/root/.pm2 |"),
            "{incident}"
        );
    }

    #[test]
    fn pipes_and_newlines_from_the_host_cannot_break_the_format() {
        let mut report = captured::all_good();
        report.results[0].status = Status::Fail;
        report.results[0].message = "a | b\nc".into();
        report.summary.status = Status::Fail;
        let out = render(&report, Duration::ZERO);
        assert_eq!(out.matches('|').count(), 1, "{out}");
        assert!(out.contains("a / b c"), "{out}");
    }
}
