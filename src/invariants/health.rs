//! `health.http`: each declared endpoint answered what the check file expects, in time.
//!
//! Judged from [`HttpFacts`] alone. Messages say what happened the way an operator would
//! say it on the phone ("refused: nothing listens on 127.0.0.1:3000", "503 Service
//! Unavailable: db down"); the remediation is where to look next: the unit's journal when
//! the endpoint belongs to a unit, otherwise the same request with curl, verbosely.

use std::time::Duration;

use serde_json::Value;

use crate::config::HealthSpec;
use crate::facts::http::BODY_CAP;
use crate::facts::{HttpAnswer, HttpFacts, HttpOutcome};
use crate::invariants::fix;
use crate::verdict::{CheckId, Finding, Subject};

/// How much of a body's first line a message quotes.
const QUOTE_CHARS: usize = 120;

/// `health.http` for one endpoint.
pub(crate) fn http(facts: &HttpFacts) -> Finding {
    let spec = &facts.spec;
    let subject = Subject::Http(spec.url.clone());
    let finding = match &facts.outcome {
        HttpOutcome::Answered(answer) => answered(spec, answer, &subject),
        HttpOutcome::Refused { address } => {
            unreachable(spec, &subject, format!("refused: nothing listens on {address}"))
        }
        HttpOutcome::TimedOut { after_ms } => unreachable(
            spec,
            &subject,
            format!("timed out after {}", humantime::format_duration(Duration::from_millis(*after_ms))),
        ),
        HttpOutcome::Tls { untrusted: true, .. } => Finding::violated(
            CheckId::HealthHttp,
            &subject,
            "TLS certificate not trusted (self-signed or from an unknown CA); set insecure = true for this endpoint if that is expected",
            curl(spec),
        ),
        HttpOutcome::Tls { reason, .. } => unreachable(spec, &subject, format!("TLS handshake failed: {reason}")),
        HttpOutcome::Dns { host, reason } => Finding::violated(
            CheckId::HealthHttp,
            &subject,
            format!("DNS failure: {host} does not resolve ({reason})"),
            format!("getent hosts {}", shell_word(host)),
        ),
        HttpOutcome::Other { reason } => unreachable(spec, &subject, format!("request failed: {reason}")),
    };
    evidence(finding, facts)
}

/// A response: the status first, then the body and JSON expectations.
fn answered(spec: &HealthSpec, answer: &HttpAnswer, subject: &Subject) -> Finding {
    let check = CheckId::HealthHttp;
    let status = status_text(answer.status);
    if !status_expected(spec, answer.status) {
        let expected =
            if spec.status.is_empty() { String::new() } else { format!(" (expected {})", expected_statuses(spec)) };
        if (300..400).contains(&answer.status) && !spec.follow_redirects {
            let target = answer
                .location
                .as_deref()
                .map_or_else(|| "without a Location header".to_owned(), |location| format!("to {location}"));
            return Finding::violated(
                check,
                subject,
                format!("{} redirect {target} (redirects are not followed){expected}", answer.status),
                curl(spec),
            );
        }
        let body = match first_line(&answer.body_head) {
            Some(line) => format!(": {line}"),
            None => " (empty body)".to_owned(),
        };
        return unreachable(spec, subject, format!("{status}{body}{expected}"));
    }
    let read = if answer.body_truncated {
        format!(" (only the first {} KiB were read)", BODY_CAP / 1024)
    } else {
        String::new()
    };
    if let Some(needle) = &spec.body_contains
        && !answer.body_head.contains(needle.as_str())
    {
        return Finding::violated(
            check,
            subject,
            format!("{status}, but the body does not contain {needle:?}{read}"),
            curl(spec),
        );
    }
    if !spec.json.is_empty() {
        let document: Value = match serde_json::from_str(&answer.body_head) {
            Ok(document) => document,
            Err(err) => {
                return Finding::violated(
                    check,
                    subject,
                    format!("{status}, but the body is not JSON ({err}){read}"),
                    curl(spec),
                );
            }
        };
        let mismatches: Vec<String> = spec
            .json
            .iter()
            .filter_map(|(path, expected)| match field(&document, path) {
                Some(found) if found == expected => None,
                Some(found) => Some(format!("JSON field {path} is {found}, expected {expected}")),
                None => Some(format!("JSON field {path} is missing, expected {expected}")),
            })
            .collect();
        if !mismatches.is_empty() {
            return Finding::violated(check, subject, format!("{status}, but {}", mismatches.join("; ")), curl(spec));
        }
    }
    Finding::pass(check, subject, format!("{status} in {} ms", answer.elapsed_ms))
}

/// A violation whose next step is the service's own account of itself: its journal when
/// the endpoint belongs to a unit, the request itself otherwise.
fn unreachable(spec: &HealthSpec, subject: &Subject, message: String) -> Finding {
    let remediation = match &spec.unit {
        Some(unit) => fix::journal(unit),
        None => curl(spec),
    };
    Finding::violated(CheckId::HealthHttp, subject, message, remediation)
}

/// The fact values the verdict rests on.
fn evidence(finding: Finding, facts: &HttpFacts) -> Finding {
    let spec = &facts.spec;
    let finding = finding
        .evidence("url", &spec.url)
        .evidence("expected_status", expected_statuses(spec))
        .evidence("timeout", humantime::format_duration(spec.timeout).to_string());
    match &facts.outcome {
        HttpOutcome::Answered(answer) => finding
            .evidence("status", answer.status)
            .evidence("elapsed_ms", answer.elapsed_ms)
            .evidence("location", &answer.location)
            .evidence("body_truncated", answer.body_truncated),
        HttpOutcome::Refused { .. } => finding.evidence("outcome", "refused"),
        HttpOutcome::TimedOut { after_ms } => finding.evidence("outcome", "timed-out").evidence("after_ms", after_ms),
        HttpOutcome::Tls { reason, .. } => finding.evidence("outcome", "tls").evidence("reason", reason),
        HttpOutcome::Dns { reason, .. } => finding.evidence("outcome", "dns").evidence("reason", reason),
        HttpOutcome::Other { reason } => finding.evidence("outcome", "other").evidence("reason", reason),
    }
}

/// Whether the check file accepts this status: any 2xx unless it lists codes.
fn status_expected(spec: &HealthSpec, status: u16) -> bool {
    if spec.status.is_empty() { (200..300).contains(&status) } else { spec.status.contains(&status) }
}

/// `2xx`, `200`, `200 or 204`.
fn expected_statuses(spec: &HealthSpec) -> String {
    match spec.status.as_slice() {
        [] => "2xx".to_owned(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// `503 Service Unavailable`; the bare number for a code without a standard name.
fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason()) {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// The first non-blank line of a body, trimmed and shortened for a one-line message.
fn first_line(body: &str) -> Option<String> {
    let line = body.lines().map(str::trim).find(|line| !line.is_empty())?;
    let mut quoted: String = line.chars().take(QUOTE_CHARS).collect();
    if line.chars().count() > QUOTE_CHARS {
        quoted.push('…');
    }
    Some(quoted)
}

/// The value at a dotted path (`checks.db`, `items.0.name`); numbers index arrays.
fn field<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(document, |value, key| match value {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// The same request, verbosely, as the operator can paste it.
fn curl(spec: &HealthSpec) -> String {
    let mut command = String::from("curl -sv");
    if spec.insecure {
        command.push_str(" -k");
    }
    if spec.follow_redirects {
        command.push_str(" -L");
    }
    if let Some(host) = &spec.host {
        command.push_str(&format!(" -H {}", shell_word(&format!("Host: {host}"))));
    }
    command.push_str(&format!(" --max-time {} {}", spec.timeout.as_secs_f64().ceil().max(1.0), shell_word(&spec.url)));
    command
}

/// `text` as one shell word: quoted only when it needs to be.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain { text.to_owned() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::verdict::Status;

    pub(crate) fn spec(url: &str) -> HealthSpec {
        HealthSpec {
            url: url.to_owned(),
            status: Vec::new(),
            body_contains: None,
            json: BTreeMap::new(),
            timeout: Duration::from_secs(2),
            insecure: false,
            host: None,
            follow_redirects: false,
            unit: None,
        }
    }

    fn answer(status: u16, body: &str) -> HttpOutcome {
        HttpOutcome::Answered(HttpAnswer {
            status,
            elapsed_ms: 7,
            location: None,
            content_type: None,
            body_head: body.to_owned(),
            body_truncated: false,
        })
    }

    fn judge(spec: HealthSpec, outcome: HttpOutcome) -> Finding {
        http(&HttpFacts { spec, outcome })
    }

    #[test]
    fn refused_names_the_address_and_the_units_journal() {
        let mut s = spec("http://127.0.0.1:3000/health");
        s.unit = Some("my-app@3000.service".into());
        let f = judge(s, HttpOutcome::Refused { address: "127.0.0.1:3000".into() });
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.subject.to_string(), "http:http://127.0.0.1:3000/health");
        assert_eq!(f.message, "refused: nothing listens on 127.0.0.1:3000");
        assert_eq!(f.remediation.as_deref(), Some("sudo journalctl -b -u my-app@3000.service -n 50 --no-pager"));
    }

    #[test]
    fn timeout_is_said_in_seconds_and_curl_reproduces_it() {
        let f = judge(spec("http://127.0.0.1:3000/health"), HttpOutcome::TimedOut { after_ms: 2000 });
        assert_eq!(f.message, "timed out after 2s");
        assert_eq!(f.remediation.as_deref(), Some("curl -sv --max-time 2 http://127.0.0.1:3000/health"));
    }

    #[test]
    fn an_error_status_quotes_the_first_line_of_the_body() {
        let f = judge(spec("http://127.0.0.1:3000/health"), answer(503, "\n  db down: connect ECONNREFUSED\n  at x\n"));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.message, "503 Service Unavailable: db down: connect ECONNREFUSED");
        let empty = judge(spec("http://127.0.0.1:3000/"), answer(500, ""));
        assert_eq!(empty.message, "500 Internal Server Error (empty body)");
    }

    #[test]
    fn a_listed_status_is_required_exactly() {
        let mut s = spec("http://127.0.0.1:3000/health");
        s.status = vec![200];
        let f = judge(s.clone(), answer(204, ""));
        assert_eq!(f.message, "204 No Content (empty body) (expected 200)");
        s.status = vec![200, 204, 503];
        assert_eq!(judge(s.clone(), answer(503, "draining")).status, Status::Pass);
        assert_eq!(expected_statuses(&s), "200, 204 or 503");
    }

    #[test]
    fn a_redirect_is_reported_with_its_target_not_followed() {
        let outcome = HttpOutcome::Answered(HttpAnswer {
            location: Some("/login".into()),
            ..match answer(302, "") {
                HttpOutcome::Answered(a) => a,
                _ => unreachable!(),
            }
        });
        let f = judge(spec("http://127.0.0.1:3000/health"), outcome);
        assert_eq!(f.message, "302 redirect to /login (redirects are not followed)");
        assert_eq!(f.evidence["location"], "/login");
    }

    #[test]
    fn self_signed_says_how_to_accept_it() {
        let f = judge(
            spec("https://127.0.0.1:3443/health"),
            HttpOutcome::Tls { untrusted: true, reason: "invalid peer certificate: UnknownIssuer".into() },
        );
        assert!(f.message.starts_with("TLS certificate not trusted"), "{f:#?}");
        assert!(f.message.contains("set insecure = true"), "{f:#?}");
        assert_eq!(f.evidence["reason"], "invalid peer certificate: UnknownIssuer");
    }

    #[test]
    fn dns_failure_names_the_host() {
        let f = judge(
            spec("http://api.internal:8080/health"),
            HttpOutcome::Dns {
                host: "api.internal".into(),
                reason: "failed to lookup address information: Name or service not known".into(),
            },
        );
        assert!(f.message.starts_with("DNS failure: api.internal does not resolve"), "{f:#?}");
        assert_eq!(f.remediation.as_deref(), Some("getent hosts api.internal"));
    }

    #[test]
    fn body_and_json_mismatches_name_the_field_and_both_values() {
        let mut s = spec("http://127.0.0.1:3000/health");
        s.body_contains = Some("ready".into());
        let f = judge(s.clone(), answer(200, "starting"));
        assert_eq!(f.message, "200 OK, but the body does not contain \"ready\"");

        let mut s = spec("http://127.0.0.1:3000/health");
        s.json.insert("status".into(), Value::from("ok"));
        s.json.insert("checks.db".into(), Value::from("up"));
        s.json.insert("checks.cache".into(), Value::from("up"));
        let body = r#"{"status":"ok","checks":{"db":"down"}}"#;
        let f = judge(s.clone(), answer(200, body));
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "200 OK, but JSON field checks.cache is missing, expected \"up\"; JSON field checks.db is \"down\", expected \"up\""
        );
        let good = r#"{"status":"ok","checks":{"db":"up","cache":"up"}}"#;
        assert_eq!(judge(s.clone(), answer(200, good)).status, Status::Pass);
        let f = judge(s, answer(200, "<html>"));
        assert!(f.message.starts_with("200 OK, but the body is not JSON"), "{f:#?}");
    }

    #[test]
    fn dotted_paths_index_arrays() {
        let doc: Value = serde_json::from_str(r#"{"items":[{"name":"a"},{"name":"b"}]}"#).expect("test JSON");
        assert_eq!(field(&doc, "items.1.name"), Some(&Value::from("b")));
        assert_eq!(field(&doc, "items.x"), None);
    }

    #[test]
    fn a_pass_says_how_fast() {
        let f = judge(spec("http://127.0.0.1:3000/health"), answer(200, "ok"));
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.message, "200 OK in 7 ms");
        assert_eq!(f.remediation, None);
    }

    #[test]
    fn curl_carries_the_probes_options_quoted() {
        let mut s = spec("https://127.0.0.1:3443/health?full=1&v=2");
        s.insecure = true;
        s.host = Some("api.example.com".into());
        s.timeout = Duration::from_millis(1500);
        assert_eq!(
            curl(&s),
            "curl -sv -k -H 'Host: api.example.com' --max-time 2 'https://127.0.0.1:3443/health?full=1&v=2'"
        );
    }

    #[test]
    fn human_report_of_health_findings_snapshot() {
        use crate::report::{HostSummary, Report, human};
        let mut unit_spec = spec("http://127.0.0.1:3000/health");
        unit_spec.unit = Some("my-app@3000.service".into());
        let redirect = HttpOutcome::Answered(HttpAnswer {
            status: 302,
            elapsed_ms: 3,
            location: Some("/login".into()),
            content_type: None,
            body_head: String::new(),
            body_truncated: false,
        });
        let findings = vec![
            judge(unit_spec, HttpOutcome::Refused { address: "127.0.0.1:3000".into() }),
            judge(spec("http://127.0.0.1:3001/health"), HttpOutcome::TimedOut { after_ms: 2000 }),
            judge(spec("http://127.0.0.1:3002/health"), answer(503, "draining: shutting down\n")),
            judge(spec("http://127.0.0.1:3003/health"), redirect),
            judge(
                spec("https://127.0.0.1:3443/health"),
                HttpOutcome::Tls { untrusted: true, reason: "invalid peer certificate: UnknownIssuer".into() },
            ),
            judge(spec("http://127.0.0.1:8080/healthz"), answer(200, "ok")),
        ];
        let host = HostSummary {
            hostname: Some("web-1".into()),
            boot_id: Some("3f9c2a1e0000".into()),
            booted_at: Some("2026-11-21T06:00:00Z".into()),
            system_state: Some("running".into()),
            checked_at: None,
        };
        let judgement = crate::verdict::Judgement { findings, predictions: Vec::new() };
        let text = human::render(&Report::new(host, judgement), true);
        insta::assert_snapshot!(anstream::adapter::strip_str(&text).to_string());
    }
}
