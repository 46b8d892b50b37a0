//! Change-only alerting, decided purely: from what the last alerting run remembered and
//! this run's report, the alerts to send and what to remember next.
//!
//! Keyed by invariant and subject. An alert **fires** when a key has been bad (`fail` or
//! `error`, and `warn` with `--alert-on warn`) for `--alert-after` consecutive runs; its
//! start is the first of them. It **resolves** when the key is well again (or its subject
//! is no longer checked at all), and only if it fired. With `--remind`, a firing alert is
//! sent again that often. When the boot changed since the last alerting run, one reboot
//! alert tells what came back; if something did not, it stays open and resolves once
//! everything runs again. Nothing else is ever sent: an unchanged run says nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::message::{Alert, AlertAbout, AlertSeverity, AlertStatus, RebootDetails};
use super::reboot::{Services, services};
use crate::report::Report;
use crate::state::{AlertMemory, FiredAlert, RebootAlert, TrackedAlert};
use crate::verdict::{CheckId, Finding, Status};

/// When to alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Fire only after this many consecutive bad runs (at least 1).
    pub(crate) alert_after: u32,
    /// Send a firing alert again after this long, while it fires.
    pub(crate) remind: Option<Duration>,
    /// Warnings alert too.
    pub(crate) on_warn: bool,
}

impl Policy {
    /// Whether `status` is one alerts are about.
    fn is_bad(&self, status: Status) -> bool {
        match status {
            Status::Fail | Status::Error => true,
            Status::Warn => self.on_warn,
            Status::Pass | Status::Skip => false,
        }
    }
}

/// What one run checked, for alerting.
pub(crate) struct Run<'a> {
    /// The report, as printed.
    pub(crate) report: &'a Report,
    /// The invariants this run ran (`--only`/`--skip`, and `off` in the check file, leave
    /// some out): a key of an invariant that did not run is left as it is.
    pub(crate) checks_run: &'a [CheckId],
    /// When it ran (the facts' time, RFC 3339 UTC).
    pub(crate) now: &'a str,
}

/// The alerts of this run and what to remember. The outbox is carried over as it was:
/// delivering is the caller's.
pub(crate) fn track(previous: Option<&AlertMemory>, run: &Run<'_>, policy: &Policy) -> (AlertMemory, Vec<Alert>) {
    let mut remembered: BTreeMap<(String, String), TrackedAlert> = previous
        .into_iter()
        .flat_map(|memory| memory.tracked.iter().cloned())
        .map(|t| ((t.check.clone(), t.subject.clone()), t))
        .collect();
    let mut tracked = Vec::new();
    let mut firing = Vec::new();
    let mut resolved = Vec::new();
    for (key, finding) in worst_per_key(&run.report.results) {
        let before = remembered.remove(&key);
        if policy.is_bad(finding.status) {
            let mut t = before.unwrap_or_else(|| TrackedAlert {
                check: key.0.clone(),
                subject: key.1.clone(),
                status: finding.status,
                since: run.now.to_owned(),
                runs: 0,
                message: String::new(),
                fired: None,
            });
            t.runs = t.runs.saturating_add(1);
            t.status = finding.status;
            t.message.clone_from(&finding.message);
            match t.fired.take() {
                None if t.runs >= policy.alert_after => {
                    let severity = severity_of(finding.status);
                    firing.push(fire(&t, finding, severity, false));
                    t.fired = Some(FiredAlert {
                        at: run.now.to_owned(),
                        last_sent: run.now.to_owned(),
                        severity: severity.as_str().to_owned(),
                    });
                }
                Some(mut fired) if reminder_due(policy.remind, &fired.last_sent, run.now) => {
                    firing.push(fire(&t, finding, AlertSeverity::parse(&fired.severity), true));
                    fired.last_sent = run.now.to_owned();
                    t.fired = Some(fired);
                }
                fired => t.fired = fired,
            }
            tracked.push(t);
        } else if let Some(t) = before
            && let Some(fired) = &t.fired
        {
            resolved.push(resolve(&t, fired, summary(&finding.subject.to_string(), &finding.message), run.now));
        }
    }
    // Keys this run said nothing about: their subject is gone (a unit removed), or their
    // invariant did not run. Gone: resolved, if it fired. Not run: kept as they are.
    let reported: BTreeSet<String> = run.report.results.iter().map(|f| f.subject.to_string()).collect();
    for t in remembered.into_values() {
        let check: Option<CheckId> = t.check.parse().ok();
        let gone = match check {
            Some(check) => run.checks_run.contains(&check) && !reported.contains(&t.subject),
            // An invariant this version does not know (the state of a newer one) never
            // runs again: what it said is over.
            None => true,
        };
        if !gone {
            tracked.push(t);
        } else if let Some(fired) = &t.fired {
            let text = format!("no longer checked (it was: {})", t.message);
            resolved.push(resolve(&t, fired, summary(&t.subject, &text), run.now));
        }
    }
    tracked.sort_by(|a, b| (&a.subject, &a.check).cmp(&(&b.subject, &b.check)));

    let (reboot, reboot_alert) = reboot(previous, run);
    let boot_id = run.report.host.boot_id.clone().or_else(|| previous.and_then(|m| m.boot_id.clone()));
    let outbox = previous.map(|m| m.outbox.clone()).unwrap_or_default();
    let alerts = reboot_alert.into_iter().chain(firing).chain(resolved).collect();
    (AlertMemory { boot_id, tracked, reboot, outbox }, alerts)
}

/// One finding per invariant and subject, in report order: the worst, should an invariant
/// ever say more than one thing of one subject.
fn worst_per_key(findings: &[Finding]) -> Vec<((String, String), &Finding)> {
    let rank = |status: Status| match status {
        Status::Fail => 4,
        Status::Error => 3,
        Status::Warn => 2,
        Status::Pass => 1,
        Status::Skip => 0,
    };
    let mut keys: Vec<((String, String), &Finding)> = Vec::new();
    for finding in findings {
        let key = (finding.check.as_str().to_owned(), finding.subject.to_string());
        match keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, kept)) if rank(finding.status) > rank(kept.status) => *kept = finding,
            Some(_) => {}
            None => keys.push((key, finding)),
        }
    }
    keys
}

fn severity_of(status: Status) -> AlertSeverity {
    match status {
        Status::Warn => AlertSeverity::Warning,
        Status::Fail | Status::Error | Status::Pass | Status::Skip => AlertSeverity::Critical,
    }
}

/// `unit:my-app@3001.service: disabled: nothing starts it at boot`.
fn summary(subject: &str, message: &str) -> String {
    format!("{subject}: {message}")
}

fn fire(t: &TrackedAlert, finding: &Finding, severity: AlertSeverity, reminder: bool) -> Alert {
    Alert {
        status: AlertStatus::Firing,
        about: AlertAbout::Check { check: t.check.clone(), subject: t.subject.clone() },
        severity,
        starts_at: t.since.clone(),
        ends_at: None,
        summary: summary(&t.subject, &finding.message),
        remediation: finding.remediation.clone(),
        reminder,
        reboot: None,
    }
}

fn resolve(t: &TrackedAlert, fired: &FiredAlert, summary: String, now: &str) -> Alert {
    Alert {
        status: AlertStatus::Resolved,
        about: AlertAbout::Check { check: t.check.clone(), subject: t.subject.clone() },
        severity: AlertSeverity::parse(&fired.severity),
        starts_at: t.since.clone(),
        ends_at: Some(now.to_owned()),
        summary,
        remediation: None,
        reminder: false,
        reboot: None,
    }
}

/// Whether a firing alert last sent at `last_sent` is due again at `now`. A time that
/// cannot be read (a hand-edited state file) makes it due: better once too often than a
/// reminder never sent.
fn reminder_due(remind: Option<Duration>, last_sent: &str, now: &str) -> bool {
    let Some(every) = remind else { return false };
    match (humantime::parse_rfc3339_weak(last_sent), humantime::parse_rfc3339_weak(now)) {
        (Ok(last), Ok(now)) => now.duration_since(last).is_ok_and(|passed| passed >= every),
        _ => true,
    }
}

/// The reboot alert of this run, and the open reboot alert to remember.
fn reboot(previous: Option<&AlertMemory>, run: &Run<'_>) -> (Option<RebootAlert>, Option<Alert>) {
    let host = &run.report.host;
    let host_name = host.hostname.as_deref().unwrap_or("the host");
    let booted_at = host.booted_at.clone().unwrap_or_else(|| run.now.to_owned());
    let before = previous.and_then(|m| m.boot_id.as_deref());
    let rebooted = matches!((before, host.boot_id.as_deref()), (Some(before), Some(now)) if before != now);
    let open = previous.and_then(|m| m.reboot.clone());
    if rebooted {
        let services = services(run.report);
        let all_back = services.not_back.is_empty();
        let alert = Alert {
            status: if all_back { AlertStatus::Resolved } else { AlertStatus::Firing },
            about: AlertAbout::Reboot,
            severity: if all_back { AlertSeverity::Info } else { AlertSeverity::Critical },
            starts_at: booted_at.clone(),
            ends_at: all_back.then(|| run.now.to_owned()),
            summary: format!(
                "{host_name} rebooted at {booted_at}: {} of {} services came back",
                services.back(),
                services.total
            ),
            remediation: None,
            reminder: false,
            reboot: Some(details(services, run.report)),
        };
        let open = (!all_back).then(|| RebootAlert { booted_at, sent: run.now.to_owned() });
        return (open, Some(alert));
    }
    let Some(open) = open else { return (None, None) };
    let services = services(run.report);
    if !services.not_back.is_empty() {
        return (Some(open), None);
    }
    let alert = Alert {
        status: AlertStatus::Resolved,
        about: AlertAbout::Reboot,
        severity: AlertSeverity::Critical,
        starts_at: open.booted_at.clone(),
        ends_at: Some(run.now.to_owned()),
        summary: format!(
            "{host_name}: all {} services are running again since the reboot at {}",
            services.total, open.booted_at
        ),
        remediation: None,
        reminder: false,
        reboot: Some(details(services, run.report)),
    };
    (None, Some(alert))
}

fn details(services: Services, report: &Report) -> RebootDetails {
    RebootDetails { total: services.total, not_back: services.not_back, verdict: report.summary.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::captured;

    const POLICY: Policy = Policy { alert_after: 1, remind: None, on_warn: false };

    /// Runs `track` over `reports` one after the other, `now` advancing a minute per run;
    /// returns the alerts of each run and the memory after the last.
    fn runs(reports: &[Report], policy: &Policy) -> (Vec<Vec<Alert>>, AlertMemory) {
        let mut memory: Option<AlertMemory> = None;
        let mut all = Vec::new();
        for (i, report) in reports.iter().enumerate() {
            let now = format!("2026-11-21T07:{:02}:00Z", i);
            let run = Run { report, checks_run: CheckId::ALL, now: &now };
            let (next, alerts) = track(memory.as_ref(), &run, policy);
            memory = Some(next);
            all.push(alerts);
        }
        (all, memory.expect("at least one run"))
    }

    fn keys(alerts: &[Alert], status: AlertStatus) -> Vec<String> {
        alerts
            .iter()
            .filter(|a| a.status == status)
            .map(|a| match &a.about {
                AlertAbout::Check { check, subject } => format!("{check} {subject}"),
                AlertAbout::Reboot => "reboot".into(),
            })
            .collect()
    }

    /// The defects host, judged again in the same boot as the good one (no reboot).
    fn defects_same_boot() -> Report {
        let mut report = captured::defects();
        report.host = captured::all_good().host;
        report
    }

    #[test]
    fn an_unchanged_good_host_says_nothing() {
        let (alerts, memory) = runs(&[captured::all_good(), captured::all_good()], &POLICY);
        assert!(alerts.iter().all(Vec::is_empty), "{alerts:#?}");
        assert!(memory.tracked.is_empty());
    }

    #[test]
    fn a_failure_fires_once_and_resolves_once() {
        let (alerts, memory) =
            runs(&[captured::all_good(), defects_same_boot(), defects_same_boot(), captured::all_good()], &POLICY);
        let fired = keys(&alerts[1], AlertStatus::Firing);
        assert!(fired.contains(&"supervisor.enabled unit:my-app@39401.service".to_owned()), "{fired:#?}");
        assert!(fired.contains(&"host.state host".to_owned()), "{fired:#?}");
        assert_eq!(fired.len(), 10, "one per failing finding: {fired:#?}");
        assert!(keys(&alerts[1], AlertStatus::Resolved).is_empty());
        assert!(alerts[2].is_empty(), "unchanged: nothing: {:#?}", alerts[2]);
        let resolved = keys(&alerts[3], AlertStatus::Resolved);
        assert_eq!(resolved.len(), 10, "{resolved:#?}");
        assert!(keys(&alerts[3], AlertStatus::Firing).is_empty());
        assert!(memory.tracked.is_empty());
        let enabled = alerts[3]
            .iter()
            .find(|a| {
                a.about
                    == AlertAbout::Check {
                        check: "supervisor.enabled".into(),
                        subject: "unit:my-app@39401.service".into(),
                    }
            })
            .expect("resolved");
        assert_eq!(enabled.starts_at, "2026-11-21T07:01:00Z", "starts at the first bad run");
        assert_eq!(enabled.ends_at.as_deref(), Some("2026-11-21T07:03:00Z"));
        assert_eq!(enabled.severity, AlertSeverity::Critical, "the firing alert's labels");
    }

    #[test]
    fn alert_after_waits_for_consecutive_bad_runs_and_keeps_the_first() {
        let policy = Policy { alert_after: 2, ..POLICY };
        let (alerts, _) = runs(
            &[
                captured::all_good(),
                defects_same_boot(),
                captured::all_good(),
                defects_same_boot(),
                defects_same_boot(),
            ],
            &policy,
        );
        assert!(alerts[1].is_empty(), "one bad run: nothing");
        assert!(alerts[2].is_empty(), "well again before it fired: no resolution either");
        assert!(alerts[3].is_empty(), "the count starts again");
        let fired: Vec<&Alert> = alerts[4].iter().filter(|a| a.status == AlertStatus::Firing).collect();
        assert_eq!(fired.len(), 10);
        assert!(fired.iter().all(|a| a.starts_at == "2026-11-21T07:03:00Z"), "since the first of the two");
    }

    #[test]
    fn warnings_alert_only_when_asked() {
        let warn = Policy { on_warn: true, ..POLICY };
        let (quiet, _) = runs(&[captured::all_good(), defects_same_boot()], &POLICY);
        let (loud, _) = runs(&[captured::all_good(), defects_same_boot()], &warn);
        assert_eq!(loud[1].len(), quiet[1].len() + 6, "six warnings");
        assert!(loud[1].iter().any(|a| a.severity == AlertSeverity::Warning));
        assert!(quiet[1].iter().all(|a| a.severity == AlertSeverity::Critical));
    }

    #[test]
    fn reminders_repeat_a_firing_alert() {
        let policy = Policy { remind: Some(Duration::from_secs(120)), ..POLICY };
        let (alerts, _) =
            runs(&[defects_same_boot(), defects_same_boot(), defects_same_boot(), defects_same_boot()], &policy);
        assert_eq!(alerts[0].len(), 10);
        assert!(alerts[1].is_empty(), "a minute later: not yet");
        assert_eq!(alerts[2].len(), 10, "two minutes later: again");
        assert!(alerts[2].iter().all(|a| a.reminder && a.starts_at == "2026-11-21T07:00:00Z"));
        assert!(alerts[3].is_empty());
    }

    #[test]
    fn a_reboot_sends_one_message_with_what_came_back() {
        // The good host's boot, then the defects host's (another boot id): a reboot.
        let (alerts, memory) = runs(&[captured::all_good(), captured::defects(), captured::defects()], &POLICY);
        let reboot = &alerts[1][0];
        assert_eq!(reboot.about, AlertAbout::Reboot);
        assert_eq!(reboot.status, AlertStatus::Firing, "something did not come back");
        assert!(reboot.summary.starts_with("vm rebooted at 2026-12-01T14:14:32Z: "), "{}", reboot.summary);
        let details = reboot.reboot.as_ref().expect("details");
        assert!(!details.not_back.is_empty());
        assert_eq!(alerts[1].iter().filter(|a| a.about == AlertAbout::Reboot).count(), 1);
        assert!(alerts[2].is_empty(), "once per boot");
        assert!(memory.reboot.is_some(), "open until everything is back");
    }

    #[test]
    fn a_reboot_that_brought_everything_back_is_one_resolved_message() {
        let (alerts, memory) = runs(&[captured::defects(), captured::all_good()], &POLICY);
        let reboot = alerts[1].iter().find(|a| a.about == AlertAbout::Reboot).expect("a reboot message");
        assert_eq!(reboot.status, AlertStatus::Resolved);
        assert_eq!(reboot.severity, AlertSeverity::Info);
        assert_eq!(reboot.summary, "vm rebooted at 2026-12-01T14:14:27Z: 4 of 4 services came back");
        assert!(memory.reboot.is_none());
    }

    #[test]
    fn an_open_reboot_alert_resolves_when_everything_runs() {
        let mut good_later = captured::all_good();
        good_later.host = captured::defects().host;
        let (alerts, memory) = runs(&[captured::all_good(), captured::defects(), good_later], &POLICY);
        let resolved = alerts[2].iter().find(|a| a.about == AlertAbout::Reboot).expect("the reboot resolves");
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(resolved.severity, AlertSeverity::Critical, "the labels it fired with");
        assert_eq!(resolved.starts_at, "2026-12-01T14:14:32Z");
        assert!(memory.reboot.is_none());
    }

    #[test]
    fn a_subject_no_longer_checked_resolves_but_a_check_not_run_does_not() {
        let mut gone = captured::all_good();
        gone.host = captured::defects().host;
        gone.results.retain(|f| f.subject.to_string() != "unit:my-app@39401.service");
        let defects = captured::defects();
        let (memory, _) =
            track(None, &Run { report: &defects, checks_run: CheckId::ALL, now: "2026-11-21T07:00:00Z" }, &POLICY);
        let (_, alerts) = track(
            Some(&memory),
            &Run { report: &gone, checks_run: CheckId::ALL, now: "2026-11-21T07:01:00Z" },
            &POLICY,
        );
        let resolved = alerts
            .iter()
            .find(|a| {
                a.about
                    == AlertAbout::Check {
                        check: "supervisor.enabled".into(),
                        subject: "unit:my-app@39401.service".into(),
                    }
            })
            .expect("resolved");
        assert!(resolved.summary.contains("no longer checked (it was: disabled"), "{}", resolved.summary);
        let only = [CheckId::HostState];
        let (kept, alerts) =
            track(Some(&memory), &Run { report: &gone, checks_run: &only, now: "2026-11-21T07:01:00Z" }, &POLICY);
        assert!(alerts.iter().all(|a| a.about
            != AlertAbout::Check { check: "supervisor.enabled".into(), subject: "unit:my-app@39401.service".into() }));
        assert!(
            kept.tracked.iter().any(|t| t.check == "supervisor.enabled"
                && t.subject == "unit:my-app@39401.service"
                && t.fired.is_some())
        );
    }
}
