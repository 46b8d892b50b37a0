//! The human report: what an operator reads on a terminal right after a reboot.
//!
//! One header line for the host, one section per subject, one line per finding with a
//! mark, the check id and the message, a `fix:` line under everything that did not pass,
//! and a summary line last so it is what stays on screen. Styling is embedded as ANSI
//! escapes; the caller strips them (`anstream`) when stdout is not a terminal or NO_COLOR
//! is set, so this module stays a pure function of the report.

use std::borrow::Cow;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::group::by_subject;
use super::{Finding, HostSummary, Report, Status, Summary};

/// Indent of a finding line under its subject heading.
const FINDING_INDENT: &str = "  ";
/// Indent of a `fix:` line: under the check id, clear of the mark.
const FIX_INDENT: &str = "    ";
/// The label that introduces a remediation.
const FIX_LABEL: &str = "fix: ";
/// How many characters of the boot id the header shows; enough to tell boots apart.
const BOOT_ID_CHARS: usize = 8;

/// Subject headings.
const HEADING: Style = Style::new().bold();
/// Labels and other secondary text.
const DIM: Style = Style::new().dimmed();

/// Renders `report` for a terminal, with ANSI styling embedded.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, &report.host);

    let id_width = report.results.iter().map(|f| f.check.as_str().len()).max().unwrap_or(0);
    for group in by_subject(&report.results) {
        let subject = printable(&group.subject.to_string()).into_owned();
        let _ = writeln!(out, "\n{HEADING}{subject}{HEADING:#}");
        for finding in group.findings {
            finding_lines(&mut out, finding, id_width);
        }
    }
    if report.results.is_empty() {
        let _ = writeln!(out, "\n{DIM}no checks ran{DIM:#}");
    }

    out.push('\n');
    summary_line(&mut out, &report.summary);
    out
}

/// The mark that starts a finding line, and the style it is drawn in.
fn mark(status: Status) -> (&'static str, Style) {
    let colour = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
    match status {
        Status::Pass => ("✔", colour(AnsiColor::Green)),
        Status::Fail => ("✘", colour(AnsiColor::Red).bold()),
        Status::Warn => ("!", colour(AnsiColor::Yellow).bold()),
        Status::Skip => ("-", DIM),
        Status::Error => ("?", colour(AnsiColor::Magenta).bold()),
    }
}

/// `web-1  boot 3f9c2a1e  booted 2025-03-14T03:02:11Z  system running`
fn header(out: &mut String, host: &HostSummary) {
    let known = |value: &Option<String>| printable(value.as_deref().unwrap_or("unknown")).into_owned();
    let boot_id: String = known(&host.boot_id).chars().take(BOOT_ID_CHARS).collect();
    let _ = writeln!(
        out,
        "{HEADING}{}{HEADING:#}  {DIM}boot{DIM:#} {boot_id}  {DIM}booted{DIM:#} {}  {DIM}system{DIM:#} {}",
        known(&host.hostname),
        known(&host.booted_at),
        known(&host.system_state),
    );
}

/// One finding: the mark, the padded check id and the message, then its fix if it did
/// not pass. Continuation lines of a multi-line message or fix are indented to align.
fn finding_lines(out: &mut String, finding: &Finding, id_width: usize) {
    let (mark, style) = mark(finding.status);
    let id = finding.check.as_str();
    let message_indent = " ".repeat(FINDING_INDENT.len() + 2 + id_width + 2);
    let message = indent_continuations(&printable(&finding.message), &message_indent);
    let _ = writeln!(out, "{FINDING_INDENT}{style}{mark}{style:#} {id:<id_width$}  {message}");

    if finding.status == Status::Pass {
        return;
    }
    if let Some(fix) = &finding.remediation {
        let fix_indent = " ".repeat(FIX_INDENT.len() + FIX_LABEL.len());
        let fix = indent_continuations(&printable(fix), &fix_indent);
        let _ = writeln!(out, "{FIX_INDENT}{DIM}{FIX_LABEL}{DIM:#}{fix}");
    }
}

/// `fail: 3 failed, 1 warning, 34 passed, 1 skipped, 1 error`
fn summary_line(out: &mut String, summary: &Summary) {
    let (_, style) = mark(summary.status);
    let counts = [
        (summary.fail, "failed", "failed"),
        (summary.warn, "warning", "warnings"),
        (summary.pass, "passed", "passed"),
        (summary.skip, "skipped", "skipped"),
        (summary.error, "error", "errors"),
    ]
    .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
    .join(", ");
    let _ = writeln!(out, "{style}{}:{style:#} {counts}", summary.status);
}

/// Indents every line after the first by `indent`, so wrapped text stays in its column.
fn indent_continuations(text: &str, indent: &str) -> String {
    text.trim_end_matches('\n').replace('\n', &format!("\n{indent}"))
}

/// `text` with control characters (other than newlines) shown as escapes, so a unit name
/// or an error message read from the host cannot move the cursor or restyle the terminal.
fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if c.is_control() && c != '\n' { c.escape_default().to_string() } else { c.to_string() })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{all_pass_report, sample_report};

    /// The output as a terminal without colour, or a pipe, shows it.
    fn plain(report: &Report) -> String {
        anstream::adapter::strip_str(&render(report)).to_string()
    }

    #[test]
    fn sample_report_snapshot() {
        insta::assert_snapshot!(plain(&sample_report()));
    }

    #[test]
    fn all_pass_report_snapshot() {
        insta::assert_snapshot!(plain(&all_pass_report()));
    }

    #[test]
    fn sample_report_styled_snapshot() {
        // The escapes made visible, so the snapshot shows which text carries which style.
        let styled = render(&sample_report()).replace('\x1b', "␛");
        insta::assert_snapshot!(styled);
    }

    #[test]
    fn marks_are_coloured_by_status() {
        let text = render(&sample_report());
        assert!(text.contains("\x1b[1m\x1b[31m✘"), "fail mark is bold red:\n{text}");
        assert!(text.contains("\x1b[32m✔"), "pass mark is green:\n{text}");
    }

    #[test]
    fn every_line_of_a_multi_line_fix_is_indented() {
        let text = plain(&sample_report());
        assert!(
            text.contains(
                "    fix: sudo install -m 0640 -o root -g nodeuser /dev/null /etc/my-app/3002.env\n         sudoedit /etc/my-app/3002.env\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn unknown_host_fields_say_so() {
        let mut report = all_pass_report();
        report.host = HostSummary { hostname: None, boot_id: None, booted_at: None, system_state: None };
        let first = plain(&report).lines().next().map(str::to_owned);
        assert_eq!(first.as_deref(), Some("unknown  boot unknown  booted unknown  system unknown"));
    }

    #[test]
    fn control_characters_from_the_host_are_escaped() {
        let mut report = all_pass_report();
        report.results[0].message = "state \x1b[2Jcleared".to_owned();
        let text = render(&report);
        assert!(!text.contains("\x1b[2J"), "{text}");
        assert!(text.contains("state \\u{1b}[2Jcleared"), "{text}");
    }

    #[test]
    fn an_empty_report_says_nothing_ran() {
        let report = Report::new(all_pass_report().host, Vec::new());
        assert!(plain(&report).contains("no checks ran"));
    }
}
