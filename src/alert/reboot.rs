//! After a boot: which services came back. "host X rebooted at T: 7 of 7 services came
//! back" is the confirmation a patching checklist wants, and what did not come back, with
//! the fix, is what it wants next.
//!
//! A service is each unit the check judged (node units, PM2 units, units the check file
//! names, units that ran before the boot and are gone now) and each PM2 app. A unit came
//! back when `supervisor.active` holds for it (or only warns: it runs, an older version);
//! a PM2 app when as many of its processes are online as were saved, and it is not
//! crashing in a loop. Read from the post-reboot check's own findings and predictions,
//! never re-derived from facts.

use super::message::NotBack;
use crate::report::Report;
use crate::verdict::{CheckId, Finding, Status, Subject, SubjectPrediction};

/// The services a check judged, and those of them not running.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Services {
    /// How many services were judged.
    pub(crate) total: usize,
    /// Those not running, in report order.
    pub(crate) not_back: Vec<NotBack>,
}

impl Services {
    /// How many are running.
    pub(crate) fn back(&self) -> usize {
        self.total - self.not_back.len()
    }
}

/// Which services of `report` are running.
pub(crate) fn services(report: &Report) -> Services {
    let mut total = 0;
    let mut not_back = Vec::new();
    for prediction in &report.subjects {
        let active = finding(report, &prediction.subject, CheckId::SupervisorActive);
        match &prediction.subject {
            Subject::Pm2(home) if !prediction.apps.is_empty() => {
                for app in &prediction.apps {
                    total += 1;
                    if app.online > 0 && app.online >= app.saved && !app.crash_looping {
                        continue;
                    }
                    let why = if app.crash_looping {
                        format!("{} of {} saved process(es) online, restarting in a loop", app.online, app.saved)
                    } else {
                        format!("{} of {} saved process(es) online", app.online, app.saved)
                    };
                    let resurrect = finding(report, &prediction.subject, CheckId::Pm2Resurrected);
                    let fixes = fixes(prediction, [active, resurrect].into_iter().flatten());
                    not_back.push(NotBack { name: format!("pm2:{home} {}", app.name), why, fixes });
                }
            }
            subject => {
                // A unit whose activity was not judged (left out with --only/--skip) is not
                // counted: nothing said whether it runs.
                let Some(active) = active else { continue };
                total += 1;
                if matches!(active.status, Status::Pass | Status::Warn) {
                    continue;
                }
                not_back.push(NotBack {
                    name: subject.to_string(),
                    why: active.message.clone(),
                    fixes: fixes(prediction, std::iter::once(active)),
                });
            }
        }
    }
    Services { total, not_back }
}

/// The finding of `check` on `subject`.
fn finding<'r>(report: &'r Report, subject: &Subject, check: CheckId) -> Option<&'r Finding> {
    report.results.iter().find(|f| &f.subject == subject && f.check == check)
}

/// What fixes a service that is not back: what keeps it from coming back at boot first
/// (the prediction's blocker: without it, it will be gone again after the next reboot),
/// then what starts it now; each command once.
fn fixes<'f>(prediction: &SubjectPrediction, findings: impl Iterator<Item = &'f Finding>) -> Vec<String> {
    let blocker = prediction.prediction.blocked_by.as_ref().and_then(|b| b.fix.clone());
    let mut fixes: Vec<String> = Vec::new();
    for fix in
        blocker.into_iter().chain(findings.filter(|f| f.status != Status::Pass).filter_map(|f| f.remediation.clone()))
    {
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    }
    fixes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::captured;

    #[test]
    fn a_good_host_has_every_service_back() {
        let services = services(&captured::all_good());
        assert_eq!((services.back(), services.total), (4, 4));
    }

    #[test]
    fn the_defects_host_names_what_is_not_running_with_its_fix() {
        let services = services(&captured::defects());
        let names: Vec<&str> = services.not_back.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(services.total, 6, "{services:#?}");
        assert!(names.contains(&"unit:api@39408.service"), "{names:?}");
        let api = services.not_back.iter().find(|n| n.name == "unit:api@39408.service").expect("api");
        assert!(!api.fixes.is_empty(), "{api:?}");
    }

    #[test]
    fn pm2_apps_count_one_by_one() {
        let incident = services(&captured::pm2_incident());
        let fixed = services(&captured::pm2_fixed());
        assert_eq!(fixed.total, 1);
        assert_eq!(fixed.back(), 1, "{fixed:#?}");
        // The incident's host before its reboot: the app still runs from the shell.
        assert_eq!(incident.back(), 1, "{incident:#?}");
    }
}
