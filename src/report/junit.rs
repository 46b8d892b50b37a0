//! The JUnit report: how a CI pipeline (`bootproof check --format junit -o report.xml`)
//! shows each invariant as a test, with the fix in the failure text.
//!
//! One testsuite per subject, one testcase per finding. The XML is written by the
//! `junit-report` crate; this module decides the mapping, pins every timestamp to the
//! boot time (never "now", so the same report always renders the same bytes) and puts
//! one element per line so the file can be read and diffed by a person.

use junit_report::{Duration, OffsetDateTime, TestCase, TestCaseBuilder, TestSuite};

use super::Report;
use super::group::by_subject;
use crate::verdict::{Finding, Status};

/// Why the JUnit XML could not be produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JunitError {
    /// The XML writer failed.
    #[error("write the JUnit XML: {0}")]
    Write(#[source] junit_report::Error),
    /// The writer produced bytes that are not UTF-8 (it is given only UTF-8).
    #[error("produce UTF-8 JUnit XML")]
    NotUtf8(#[from] std::string::FromUtf8Error),
}

/// Renders `report` as JUnit XML. With `strict`, warnings are failures, as they are for
/// the exit code.
pub(crate) fn render(report: &Report, strict: bool) -> Result<String, JunitError> {
    let timestamp = suite_timestamp(report.host.booted_at.as_deref());
    let hostname = report.host.hostname.as_deref().map(xml_text);

    let mut junit = junit_report::Report::new();
    for group in by_subject(&report.results) {
        let name = xml_text(&group.subject.to_string());
        let mut suite = TestSuite::new(&name);
        suite.set_timestamp(timestamp);
        if let Some(hostname) = &hostname {
            suite.hostname.clone_from(hostname);
        }
        suite.add_testcases(group.findings.into_iter().map(|finding| testcase(finding, &name, strict)));
        junit.add_testsuite(suite);
    }

    let mut xml = Vec::new();
    junit.write_xml(&mut xml).map_err(JunitError::Write)?;
    let mut text = one_element_per_line(&String::from_utf8(xml)?);
    text.push('\n');
    Ok(text)
}

/// Every suite's timestamp: the boot time when it is RFC 3339 UTC (as facts record it),
/// else the UNIX epoch. Never the current time, which would make every run differ.
fn suite_timestamp(booted_at: Option<&str>) -> OffsetDateTime {
    booted_at
        .and_then(|text| humantime::parse_rfc3339(text).ok())
        .map_or(OffsetDateTime::UNIX_EPOCH, OffsetDateTime::from)
}

/// The testcase for one finding; `classname` is its subject.
fn testcase(finding: &Finding, classname: &str, strict: bool) -> TestCase {
    let name = finding.check.as_str();
    let message = xml_text(&finding.message);
    let mut case = match finding.status {
        Status::Pass => TestCaseBuilder::success(name, Duration::ZERO),
        Status::Fail => failure(finding, &message, details(finding, None)),
        Status::Warn if strict => {
            failure(finding, &message, details(finding, Some("warning (a failure under --strict)")))
        }
        Status::Warn => {
            let mut case = TestCaseBuilder::success(name, Duration::ZERO);
            case.set_system_out(&details(finding, Some("warning")));
            case
        }
        Status::Error => {
            let mut case = TestCaseBuilder::error(name, Duration::ZERO, name, &message);
            case.set_trace(&details(finding, Some("error")));
            case
        }
        Status::Skip => TestCaseBuilder::skipped_with_cause(name, name, &message),
    };
    case.set_classname(classname);
    case.build()
}

/// A failed testcase whose text carries the fix and the evidence.
fn failure(finding: &Finding, message: &str, text: String) -> TestCaseBuilder {
    let name = finding.check.as_str();
    let mut case = TestCaseBuilder::failure(name, Duration::ZERO, name, message);
    case.set_trace(&text);
    case
}

/// The text CI shows under a finding: an optional `label: ` before the message, the fix,
/// then the evidence one value per line.
fn details(finding: &Finding, label: Option<&str>) -> String {
    let mut text = match label {
        Some(label) => format!("{label}: {}", finding.message),
        None => finding.message.clone(),
    };
    if let Some(fix) = &finding.remediation {
        text.push_str("\nfix: ");
        text.push_str(&fix.replace('\n', "\n     "));
    }
    if !finding.evidence.is_empty() {
        text.push_str("\nevidence:");
        for (key, value) in &finding.evidence {
            text.push_str(&format!("\n  {key}: {value}"));
        }
    }
    cdata_text(&xml_text(&text))
}

/// `text` with the characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) written
/// as `\u{…}` escapes: they can come from the host (a process name, an error message) and
/// would make the whole file unparseable.
fn xml_text(text: &str) -> String {
    let forbidden = |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}');
    text.chars().map(|c| if forbidden(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// `text` safe inside one CDATA section: the crate writes it verbatim between
/// `<![CDATA[` and `]]>`, so an embedded `]]>` is split across two sections.
fn cdata_text(text: &str) -> String {
    text.replace("]]>", "]]]]><![CDATA[>")
}

/// The crate writes the whole document on one line; this puts each element on its own
/// line, indented by depth. It only adds whitespace between two tags, never next to a
/// CDATA section, so no text content changes (the crate writes text only as CDATA, and
/// escapes `<` and `>` inside attribute values).
fn one_element_per_line(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len() + xml.len() / 8);
    let mut depth = 0usize;
    let mut rest = xml;
    let mut after_tag = false;
    while !rest.is_empty() {
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").map_or(rest.len(), |i| "<![CDATA[".len() + i + "]]>".len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            after_tag = false;
        } else if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = &rest[..end];
            let closing = tag.starts_with("</");
            if closing {
                depth = depth.saturating_sub(1);
            }
            if after_tag {
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
            }
            out.push_str(tag);
            if !closing && !tag.starts_with("<?") && !tag.ends_with("/>") {
                depth += 1;
            }
            rest = &rest[end..];
            after_tag = true;
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            after_tag = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::captured;
    use crate::verdict::Status;

    fn render_ok(report: &Report, strict: bool) -> String {
        render(report, strict).expect("a report renders as JUnit")
    }

    #[test]
    fn defects_report_snapshot() {
        insta::assert_snapshot!(render_ok(&captured::defects(), false));
    }

    #[test]
    fn defects_report_strict_snapshot() {
        insta::assert_snapshot!(render_ok(&captured::defects(), true));
    }

    #[test]
    fn suites_are_stamped_with_the_boot_time() {
        let report = captured::defects();
        let booted_at = report.host.booted_at.clone().expect("the captured host has a boot time");
        let subjects = crate::report::group::by_subject(&report.results).len();
        let xml = render_ok(&report, false);
        assert_eq!(xml.matches(&format!("timestamp=\"{booted_at}\"")).count(), subjects, "{xml}");
    }

    #[test]
    fn an_unknown_or_unparsable_boot_time_stamps_the_epoch() {
        assert_eq!(suite_timestamp(None), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(suite_timestamp(Some("after lunch")), OffsetDateTime::UNIX_EPOCH);
        let mut report = captured::all_good();
        report.host.booted_at = None;
        assert!(render_ok(&report, false).contains("timestamp=\"1970-01-01T00:00:00Z\""));
    }

    #[test]
    fn warnings_fail_only_when_strict() {
        let report = captured::defects();
        let relaxed = render_ok(&report, false);
        let strict = render_ok(&report, true);
        assert!(report.summary.warn > 0 && report.summary.fail > 0);
        assert_eq!(relaxed.matches("<failure ").count(), report.summary.fail);
        assert_eq!(strict.matches("<failure ").count(), report.summary.fail + report.summary.warn);
        assert!(relaxed.contains("<system-out><![CDATA[warning: "), "{relaxed}");
    }

    #[test]
    fn cdata_terminators_in_host_text_are_split() {
        let mut report = captured::defects();
        let failing =
            report.results.iter_mut().find(|f| f.status == Status::Fail).expect("the defects host has a failure");
        failing.message = "odd ]]> text".to_owned();
        let xml = render_ok(&report, false);
        assert!(xml.contains("odd ]]]]><![CDATA[> text"), "{xml}");
    }

    #[test]
    fn control_characters_are_escaped_everywhere() {
        let mut report = captured::defects();
        report.host.hostname = Some("web\u{0}1".to_owned());
        let failing =
            report.results.iter_mut().find(|f| f.status == Status::Fail).expect("the defects host has a failure");
        failing.message = "bell\u{7}".to_owned();
        let xml = render_ok(&report, false);
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{7}'), "{xml}");
        assert!(xml.contains("hostname=\"web\\u{0}1\""), "{xml}");
    }

    #[test]
    fn layout_only_adds_whitespace_between_tags() {
        let one_line = "<?xml version=\"1.0\"?><a><b x=\"1\"/><c><![CDATA[x\n<d>]]></c></a>";
        assert_eq!(
            one_element_per_line(one_line),
            "<?xml version=\"1.0\"?>\n<a>\n  <b x=\"1\"/>\n  <c><![CDATA[x\n<d>]]></c>\n</a>"
        );
    }
}
