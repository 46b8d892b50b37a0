//! The human report: what an operator reads on a terminal right after a reboot.
//!
//! It leads with what is wrong. One header line for the host; then, for every subject
//! with a warning, failure or error, a heading saying whether it comes back after a
//! reboot and every one of its findings (a mark, the check id, the message, and a `fix:`
//! line under everything that did not pass); then one line per subject whose findings
//! all pass (`✔ unit:my-app@3000.service  comes back · 11 checks pass`); and last the
//! summary, so it is what stays on screen. `--verbose` shows every finding of every
//! subject. Styling is embedded as ANSI escapes; the caller strips them (`anstream`) when
//! stdout is not a terminal or NO_COLOR is set, so this module stays a pure function of
//! the report.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::group::{SubjectGroup, by_subject};
use super::text::{printable, printable_name};
use super::{HostSummary, Report, Summary};
use crate::verdict::{Finding, Status, SubjectPrediction};

/// Indent of a finding line under its subject heading.
const FINDING_INDENT: &str = "  ";
/// Indent of a `fix:` line: under the check id, clear of the mark.
const FIX_INDENT: &str = "    ";
/// The label that introduces a remediation.
const FIX_LABEL: &str = "fix: ";
/// The widest subject name the one-line list aligns to.
const NAME_WIDTH_MAX: usize = 60;
/// How many characters of the boot id the header shows; enough to tell boots apart.
const BOOT_ID_CHARS: usize = 8;

/// Subject headings.
const HEADING: Style = Style::new().bold();
/// Labels and other secondary text.
const DIM: Style = Style::new().dimmed();

/// Renders `report` for a terminal, with ANSI styling embedded: subjects that need
/// attention in full, the others one line each, or, with `verbose`, every finding.
pub(crate) fn render(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    header(&mut out, &report.host);
    let id_width = report.results.iter().map(|f| f.check.as_str().len()).max().unwrap_or(0);
    let groups = by_subject(&report.results);
    let (attention, fine): (Vec<&SubjectGroup>, Vec<&SubjectGroup>) =
        groups.iter().partition(|group| verbose || group.findings.iter().any(|f| f.status.needs_attention()));
    for group in &attention {
        let prediction = report.prediction(group.subject);
        let _ = writeln!(out, "\n{}", subject_heading(group, prediction));
        for finding in &group.findings {
            finding_lines(&mut out, finding, id_width);
        }
    }
    if !fine.is_empty() {
        out.push('\n');
        // A very long name (from the host) pads no other line: past this width, lines are not aligned.
        let width = fine
            .iter()
            .map(|g| printable_name(&g.subject.to_string()).chars().count())
            .max()
            .unwrap_or(0)
            .min(NAME_WIDTH_MAX);
        for group in &fine {
            one_line(&mut out, group, report.prediction(group.subject), width);
        }
    }
    if report.results.is_empty() {
        let _ = writeln!(out, "\n{DIM}no checks ran{DIM:#}");
    }
    out.push('\n');
    lost_line(&mut out, report);
    summary_line(&mut out, &report.summary);
    out
}

/// The heading of a subject shown in full: its name, and for a unit or PM2 home whether it
/// comes back after a reboot.
fn subject_heading(group: &SubjectGroup, prediction: Option<&SubjectPrediction>) -> String {
    let subject = printable_name(&group.subject.to_string()).into_owned();
    match prediction.map(fate) {
        Some(fate) => format!("{HEADING}{subject}{HEADING:#}  {fate}"),
        None => format!("{HEADING}{subject}{HEADING:#}"),
    }
}

/// `✔ comes back`, `✘ does not come back (supervisor.enabled)`, or for a PM2 home whose
/// apps do not all come back, which of them do not.
fn fate(prediction: &SubjectPrediction) -> String {
    let (ok, _) = mark(Status::Pass);
    let (bad, bad_style) = mark(Status::Fail);
    let ok_style = mark(Status::Pass).1;
    if let Some(blocker) = &prediction.prediction.blocked_by {
        return format!("{bad_style}{bad} does not come back{bad_style:#} {DIM}({}){DIM:#}", blocker.check);
    }
    let lost: Vec<String> = prediction
        .apps
        .iter()
        .filter(|app| !app.prediction.comes_back)
        .map(|app| {
            let why = app.prediction.blocked_by.as_ref().map_or("", |b| b.message.as_str());
            format!("{} ({})", printable_name(&app.name), printable_name(why))
        })
        .collect();
    if lost.is_empty() {
        format!("{ok_style}{ok} comes back{ok_style:#}")
    } else {
        format!(
            "{bad_style}{bad} {} of {} apps do not come back:{bad_style:#} {}",
            lost.len(),
            prediction.apps.len(),
            lost.join(", ")
        )
    }
}

/// One line for a subject whose findings all pass (or do not apply).
fn one_line(out: &mut String, group: &SubjectGroup, prediction: Option<&SubjectPrediction>, width: usize) {
    let (mark, style) = mark(Status::Pass);
    let subject = printable_name(&group.subject.to_string()).into_owned();
    let pass = group.findings.iter().filter(|f| f.status == Status::Pass).count();
    let skip = group.findings.iter().filter(|f| f.status == Status::Skip).count();
    let mut counts = format!("{pass} {}", if pass == 1 { "check passes" } else { "checks pass" });
    if skip > 0 {
        let _ = write!(counts, ", {skip} skipped");
    }
    let back = match prediction {
        Some(prediction) if prediction.all_come_back() && !prediction.apps.is_empty() => {
            format!("comes back, with {} app(s) · ", prediction.apps.len())
        }
        Some(_) => "comes back · ".to_owned(),
        // The host, a template, an endpoint: one finding, whose message says it best.
        None if group.findings.len() == 1 => format!("{} · ", printable_name(&group.findings[0].message)),
        None => String::new(),
    };
    let _ = writeln!(out, "{FINDING_INDENT}{style}{mark}{style:#} {subject:<width$}  {back}{DIM}{counts}{DIM:#}");
}

/// `does not come back after a reboot: unit:a, pm2:/root/.pm2 (worker)`, when anything
/// does not; nothing otherwise.
fn lost_line(out: &mut String, report: &Report) {
    let lost: Vec<String> = report
        .subjects
        .iter()
        .filter(|p| !p.all_come_back())
        .map(|p| {
            let apps: Vec<&str> = p.apps.iter().filter(|a| !a.prediction.comes_back).map(|a| a.name.as_str()).collect();
            if p.prediction.comes_back && !apps.is_empty() {
                printable_name(&format!("{} ({})", p.subject, apps.join(", "))).into_owned()
            } else {
                printable_name(&p.subject.to_string()).into_owned()
            }
        })
        .collect();
    if !lost.is_empty() {
        let (_, style) = mark(Status::Fail);
        let _ = writeln!(out, "{style}does not come back after a reboot:{style:#} {}", lost.join(", "));
    }
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
    let known = |value: &Option<String>| printable_name(value.as_deref().unwrap_or("unknown")).into_owned();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::captured;

    /// The output as a terminal without colour, or a pipe, shows it.
    fn plain(report: &Report, verbose: bool) -> String {
        anstream::adapter::strip_str(&render(report, verbose)).to_string()
    }

    #[test]
    fn defects_host_leads_with_what_is_wrong() {
        let text = plain(&captured::defects(), false);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn defects_host_verbose_shows_every_invariant() {
        insta::assert_snapshot!(plain(&captured::defects(), true));
    }

    #[test]
    fn good_host_fits_a_screen() {
        let text = plain(&captured::all_good(), false);
        assert!(text.lines().count() < 15, "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn hand_started_servers_snapshot() {
        insta::assert_snapshot!(plain(&captured::processes(), false));
    }

    #[test]
    fn incident_host_snapshot() {
        insta::assert_snapshot!(plain(&captured::pm2_incident(), false));
    }

    #[test]
    fn defects_host_styled_snapshot() {
        // The escapes made visible, so the snapshot shows which text carries which style.
        let styled = render(&captured::defects(), false).replace('\x1b', "␛");
        insta::assert_snapshot!(styled);
    }

    #[test]
    fn problems_come_before_passing_subjects_and_the_summary_is_last() {
        let text = plain(&captured::defects(), false);
        let failing = text.find("unit:my-app@39401.service  ✘ does not come back").expect("a failing subject in full");
        let passing = text.find("✔ unit:my-app@39400.service").expect("a passing subject on one line");
        assert!(failing < passing, "{text}");
        assert!(text.trim_end().lines().last().is_some_and(|l| l.starts_with("fail: ")), "{text}");
        assert!(text.contains("does not come back after a reboot: unit:api@39408.service"), "{text}");
    }

    #[test]
    fn marks_are_coloured_by_status() {
        let text = render(&captured::defects(), false);
        assert!(text.contains("\x1b[1m\x1b[31m✘"), "fail mark is bold red:\n{text}");
        assert!(text.contains("\x1b[32m✔"), "pass mark is green:\n{text}");
    }

    #[test]
    fn every_line_of_a_multi_line_message_is_indented() {
        let mut report = captured::all_good();
        report.results[0].status = Status::Fail;
        report.results[0].message = "first line\nsecond line".to_owned();
        report.results[0].remediation = Some("step one\nstep two".to_owned());
        let text = plain(&report, false);
        assert!(text.contains("first line\n                            second line\n"), "{text}");
        assert!(text.contains("    fix: step one\n         step two\n"), "{text}");
    }

    #[test]
    fn unknown_host_fields_say_so() {
        let mut report = captured::all_good();
        report.host =
            HostSummary { hostname: None, boot_id: None, booted_at: None, system_state: None, checked_at: None };
        let first = plain(&report, false).lines().next().map(str::to_owned);
        assert_eq!(first.as_deref(), Some("unknown  boot unknown  booted unknown  system unknown"));
    }

    #[test]
    fn control_characters_from_the_host_are_escaped() {
        let mut report = captured::all_good();
        report.results[0].message = "state \x1b[2Jcleared".to_owned();
        report.results[0].status = Status::Warn;
        let text = render(&report, false);
        assert!(!text.contains("\x1b[2J"), "{text}");
        assert!(text.contains("state \\u{1b}[2Jcleared"), "{text}");
    }

    #[test]
    fn an_empty_report_says_nothing_ran() {
        let judgement = crate::verdict::Judgement { findings: Vec::new(), predictions: Vec::new() };
        let report = Report::new(captured::all_good().host, judgement);
        assert!(plain(&report, false).contains("no checks ran"));
    }
}
