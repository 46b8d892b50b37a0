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
    use crate::report::captured;

    #[test]
    fn output_parses_back_into_the_same_report() {
        for report in [captured::defects(), captured::all_good(), captured::pm2_incident(), captured::pm2_fixed()] {
            let text = render(&report);
            let parsed: Report = serde_json::from_str(&text).expect("the JSON report parses back");
            assert_eq!(parsed, report);
        }
    }

    #[test]
    fn top_level_fields_come_in_contract_order() {
        let text = render(&captured::defects());
        let top_level: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("  \""))
            .filter_map(|rest| rest.split_once('"').map(|(key, _)| key))
            .collect();
        assert_eq!(top_level, ["schema", "host", "summary", "results", "subjects"]);
        assert!(text.starts_with(&format!("{{\n  \"schema\": \"{REPORT_SCHEMA}\",\n")), "{text}");
    }

    #[test]
    fn ends_with_exactly_one_newline() {
        let text = render(&captured::all_good());
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    }

    #[test]
    fn defects_report_snapshot() {
        insta::assert_snapshot!(render(&captured::defects()));
    }

    #[test]
    fn fixed_pm2_host_report_snapshot() {
        insta::assert_snapshot!(render(&captured::pm2_fixed()));
    }

    #[test]
    fn every_unit_and_pm2_home_says_whether_it_comes_back() {
        let report: serde_json::Value = serde_json::from_str(&render(&captured::defects())).expect("JSON");
        let lost: Vec<&str> = report["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["comes_back"] == false)
            .filter_map(|s| s["subject"].as_str())
            .collect();
        assert_eq!(
            lost,
            [
                "unit:api@39408.service",
                "unit:my-app@39401.service",
                "unit:my-app@39402.service",
                "unit:my-app@39403.service"
            ]
        );
        let incident: serde_json::Value = serde_json::from_str(&render(&captured::pm2_incident())).expect("JSON");
        let home = &incident["subjects"][0];
        assert_eq!(home["subject"], "pm2:/root/.pm2");
        assert_eq!(home["comes_back"], false);
        assert_eq!(home["blocked_by"]["check"], "supervisor.registered");
        assert_eq!(home["apps"][0]["name"], "api");
        assert_eq!(home["apps"][0]["comes_back"], false);
    }
}
