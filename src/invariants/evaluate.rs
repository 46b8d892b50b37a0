//! Runs every invariant over one `Facts` value, and predicts, once, which units, PM2
//! homes, PM2 apps and processes outside both come back after the next boot.

use crate::config::CheckConfig;
use crate::facts::Facts;
use crate::invariants::{expected, health, host, instances, pm2, processes, unit};
use crate::verdict::{Blocker, Finding, Judgement, Prediction, Subject, SubjectPrediction};

/// Judges `facts` against what discovery found and what the check file expects: the host,
/// every node service unit, every PM2 home, every template, every expected unit, every
/// health endpoint. Severity overrides are not applied here (see
/// [`super::severity::apply`]): "comes back" is judged on the findings as the invariants
/// wrote them.
pub(crate) fn evaluate(facts: &Facts, config: &CheckConfig) -> Judgement {
    let mut findings = vec![host::state(&facts.host)];
    let mut predictions: Vec<SubjectPrediction> = Vec::new();
    for unit in &facts.units {
        let subject = Subject::Unit(unit.name.clone());
        let judged = unit::judge(unit, &facts.host);
        let prediction = Prediction::from_findings(&judged, &subject);
        predictions.push(SubjectPrediction { subject, prediction, apps: Vec::new() });
        findings.extend(judged);
    }
    let now_ms = gathered_at_ms(facts);
    for home in &facts.pm2 {
        let (judged, prediction) = pm2::judge(home, &facts.host, config, now_ms);
        findings.extend(judged);
        predictions.push(prediction);
    }
    // Units known only by name: what did not come back after the reboot, what discovery
    // could not read, what the check file expects and systemd does not have.
    for gone in host::gone_since_last_boot(facts) {
        if gone.subject != Subject::Host {
            predictions.push(SubjectPrediction {
                subject: gone.subject.clone(),
                prediction: Prediction::lost(Blocker::of(&gone)),
                apps: Vec::new(),
            });
        }
        findings.push(gone);
    }
    let named_only: Vec<Finding> =
        host::unreadable_units(facts).into_iter().chain(expected::missing_units(facts, config)).collect();
    for finding in &named_only {
        let known = predictions.iter().any(|p| p.subject == finding.subject);
        if !known && !finding.subject.is_template() {
            let prediction = Prediction::from_findings(&named_only, &finding.subject);
            predictions.push(SubjectPrediction { subject: finding.subject.clone(), prediction, apps: Vec::new() });
        }
    }
    findings.extend(named_only);
    let template_findings: Vec<Finding> = facts
        .templates
        .iter()
        .map(|template| instances::instances(template, facts, &config.units, &findings, &predictions))
        .collect();
    findings.extend(template_findings);
    let judged = processes::judge(facts);
    findings.extend(judged.findings);
    predictions.extend(judged.predictions);
    findings.extend(facts.http.iter().map(health::http));
    predictions.sort_by(|a, b| a.subject.cmp(&b.subject));
    Judgement { findings, predictions }
}

/// When the facts were gathered, in ms since the epoch (0 when the file says nothing usable).
fn gathered_at_ms(facts: &Facts) -> u64 {
    humantime::parse_rfc3339(&facts.gathered_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
