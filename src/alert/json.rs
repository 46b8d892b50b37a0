//! The `json` webhook payload: shaped like Prometheus Alertmanager's webhook payload
//! (version 4), so the receivers people already run for Alertmanager accept it.
//!
//! ```text
//! version "4", groupKey, truncatedAlerts, status (firing when any alert fires),
//! receiver "bootproof", groupLabels {host}, commonLabels, commonAnnotations, externalURL,
//! alerts[]: status, labels {alertname, check, subject, host, severity}, annotations
//! {summary, remediation, description}, startsAt, endsAt, generatorURL, fingerprint
//! ```
//!
//! A firing alert's `endsAt` is `0001-01-01T00:00:00Z`, as Alertmanager writes it; the
//! fingerprint is Alertmanager's own (FNV-1a over the sorted labels), so a receiver that
//! matches a resolution to its firing alert by fingerprint or by labels finds it. A
//! reboot alert's `check` is `reboot`; its `description` lists what did not come back.

use std::collections::BTreeMap;

use serde::Serialize;

use super::hash::fnv1a64;
use super::message::{Alert, AlertAbout, AlertStatus, Message};

/// What Alertmanager writes as the end of an alert that has not ended.
const NOT_ENDED: &str = "0001-01-01T00:00:00Z";

/// The payload, field for field as Alertmanager documents it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    version: &'static str,
    group_key: String,
    truncated_alerts: usize,
    status: &'static str,
    receiver: &'static str,
    group_labels: BTreeMap<String, String>,
    common_labels: BTreeMap<String, String>,
    common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL")]
    external_url: String,
    alerts: Vec<PayloadAlert>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadAlert {
    status: &'static str,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: String,
    fingerprint: String,
}

/// Renders `message` as the Alertmanager-shaped payload (JSON text, fields in the order
/// Alertmanager documents them).
pub(crate) fn render(message: &Message) -> String {
    // Plain strings and maps of strings: serialising cannot fail.
    serde_json::to_string(&payload(message)).unwrap_or_default()
}

/// The payload pretty-printed, fields in the order they are sent: what README shows.
#[cfg(test)]
pub(crate) fn pretty(message: &Message) -> String {
    serde_json::to_string_pretty(&payload(message)).unwrap_or_default()
}

fn payload(message: &Message) -> Payload {
    let alerts: Vec<PayloadAlert> = message.alerts.iter().map(|alert| payload_alert(alert, &message.host)).collect();
    let status = if message.count(AlertStatus::Firing) > 0 { "firing" } else { "resolved" };
    let group_labels = BTreeMap::from([("host".to_owned(), message.host.clone())]);
    Payload {
        version: "4",
        group_key: format!("{{}}:{{host={:?}}}", message.host),
        truncated_alerts: 0,
        status,
        receiver: "bootproof",
        common_labels: common(alerts.iter().map(|a| &a.labels)),
        common_annotations: common(alerts.iter().map(|a| &a.annotations)),
        group_labels,
        external_url: String::new(),
        alerts,
    }
}

fn payload_alert(alert: &Alert, host: &str) -> PayloadAlert {
    let mut labels = BTreeMap::from([
        ("alertname".to_owned(), alert.about.alertname()),
        ("host".to_owned(), host.to_owned()),
        ("severity".to_owned(), alert.severity.as_str().to_owned()),
    ]);
    match &alert.about {
        AlertAbout::Check { check, subject } => {
            labels.insert("check".to_owned(), check.clone());
            labels.insert("subject".to_owned(), subject.clone());
        }
        // Not an invariant: a label every alert has, so a receiver's template that reads
        // it never meets a missing one.
        AlertAbout::Reboot => {
            labels.insert("check".to_owned(), "reboot".to_owned());
            labels.insert("subject".to_owned(), "host".to_owned());
        }
    }
    let mut annotations = BTreeMap::from([("summary".to_owned(), alert.summary.clone())]);
    if let Some(fix) = &alert.remediation {
        annotations.insert("remediation".to_owned(), fix.clone());
    }
    if let Some(description) = description(alert) {
        annotations.insert("description".to_owned(), description);
    }
    PayloadAlert {
        status: alert.status.as_str(),
        fingerprint: fingerprint(&labels),
        labels,
        annotations,
        starts_at: alert.starts_at.clone(),
        ends_at: alert.ends_at.clone().unwrap_or_else(|| NOT_ENDED.to_owned()),
        generator_url: String::new(),
    }
}

/// What a reminder or a reboot says beyond its summary.
fn description(alert: &Alert) -> Option<String> {
    if alert.reminder {
        return Some(format!("still failing since {}", alert.starts_at));
    }
    let reboot = alert.reboot.as_ref()?;
    let mut lines: Vec<String> = reboot
        .not_back
        .iter()
        .map(|service| {
            let fixes =
                if service.fixes.is_empty() { String::new() } else { format!(" (fix: {})", service.fixes.join("; ")) };
            format!("not back: {}: {}{fixes}", service.name, service.why)
        })
        .collect();
    let v = &reboot.verdict;
    lines.push(format!(
        "verdict: {}: {} failed, {} warnings, {} passed, {} skipped, {} errors",
        v.status, v.fail, v.warn, v.pass, v.skip, v.error
    ));
    Some(lines.join("\n"))
}

/// The key/value pairs every map has in common.
fn common<'a>(mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else { return BTreeMap::new() };
    let mut shared = first.clone();
    for map in maps {
        shared.retain(|key, value| map.get(key) == Some(value));
    }
    shared
}

/// Alertmanager's fingerprint of a label set: FNV-1a over each name and value in name
/// order, each followed by the byte 0xff, as 16 hex digits.
fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut bytes = Vec::new();
    for (name, value) in labels {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0xff);
    }
    format!("{:016x}", fnv1a64(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::captured;

    #[test]
    fn firing_on_the_incident_host() {
        insta::assert_snapshot!(pretty(&captured::incident()));
    }

    #[test]
    fn the_incident_host_fixed_and_rebooted() {
        insta::assert_snapshot!(pretty(&captured::incident_fixed()));
    }

    #[test]
    fn a_reboot_that_left_services_down() {
        insta::assert_snapshot!(pretty(&captured::rebooted_into_defects()));
    }

    #[test]
    fn resolutions_carry_the_labels_and_fingerprint_they_fired_with() {
        let parse = |text: String| serde_json::from_str::<serde_json::Value>(&text).expect("JSON");
        let fired = parse(render(&captured::incident()));
        let resolved = parse(render(&captured::incident_fixed()));
        let find = |payload: &serde_json::Value, check: &str| {
            payload["alerts"]
                .as_array()
                .and_then(|alerts| alerts.iter().find(|a| a["labels"]["check"] == check).cloned())
                .unwrap_or_else(|| panic!("no {check} alert in {payload:#}"))
        };
        let (before, after) = (find(&fired, "supervisor.registered"), find(&resolved, "supervisor.registered"));
        assert_eq!(before["status"], "firing");
        assert_eq!(after["status"], "resolved");
        assert_eq!(before["labels"], after["labels"]);
        assert_eq!(before["fingerprint"], after["fingerprint"]);
        assert_eq!(before["startsAt"], after["startsAt"]);
        assert_eq!(before["endsAt"], NOT_ENDED);
        assert_eq!(after["endsAt"], "2026-12-01T14:10:51Z");
    }

    #[test]
    fn fingerprints_are_alertmanagers() {
        // Prometheus' model.LabelSet{"alertname": "Test"}.Fingerprint() is computed the same
        // way; check it against the hash written out by hand.
        let labels = BTreeMap::from([("alertname".to_owned(), "Test".to_owned())]);
        let mut expected = b"alertname".to_vec();
        expected.push(0xff);
        expected.extend_from_slice(b"Test");
        expected.push(0xff);
        assert_eq!(fingerprint(&labels), format!("{:016x}", fnv1a64(&expected)));
        let empty = BTreeMap::new();
        assert_eq!(fingerprint(&empty), "cbf29ce484222325");
    }

    #[test]
    fn common_keeps_only_what_all_share() {
        let a = BTreeMap::from([("host".to_owned(), "vm".to_owned()), ("check".to_owned(), "x".to_owned())]);
        let b = BTreeMap::from([("host".to_owned(), "vm".to_owned()), ("check".to_owned(), "y".to_owned())]);
        assert_eq!(common([&a, &b].into_iter()), BTreeMap::from([("host".to_owned(), "vm".to_owned())]));
        assert_eq!(common([&a].into_iter()), a);
    }
}
