//! The JSON report: the versioned contract (`bootproof/report/v1`) that Ansible, scripts
//! and other hosts read.
//!
//! The shape is the serde form of [`Report`]; this renderer only fixes the layout (pretty,
//! one trailing newline) so a file written with `-o` diffs cleanly.

use super::Report;

/// Renders `report` as pretty-printed JSON with a trailing newline.
pub(crate) fn render(report: &Report) -> String {
    // Serialising a `Report` cannot fail: every map key is a string and every value is
    // plain data, so the error branch is unreachable rather than a host-dependent failure.
    let mut text = serde_json::to_string_pretty(report).expect("a Report always serialises to JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::REPORT_SCHEMA;
    use crate::report::sample::{all_pass_report, sample_report};

    #[test]
    fn output_parses_back_into_the_same_report() {
        for report in [sample_report(), all_pass_report()] {
            let text = render(&report);
            let parsed: Report = serde_json::from_str(&text).expect("the JSON report parses back");
            assert_eq!(parsed, report);
        }
    }

    #[test]
    fn top_level_fields_come_in_contract_order() {
        let text = render(&sample_report());
        let top_level: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("  \""))
            .filter_map(|rest| rest.split_once('"').map(|(key, _)| key))
            .collect();
        assert_eq!(top_level, ["schema", "host", "summary", "results"]);
        assert!(text.starts_with(&format!("{{\n  \"schema\": \"{REPORT_SCHEMA}\",\n")), "{text}");
    }

    #[test]
    fn ends_with_exactly_one_newline() {
        let text = render(&all_pass_report());
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    }

    #[test]
    fn sample_report_snapshot() {
        insta::assert_snapshot!(render(&sample_report()));
    }

    #[test]
    fn all_pass_report_snapshot() {
        insta::assert_snapshot!(render(&all_pass_report()));
    }
}
