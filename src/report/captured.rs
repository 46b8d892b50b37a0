//! Reports of captured facts, for the renderers' snapshot tests: what bootproof really
//! prints for hosts real systemd and real PM2 produced in the lab (`ci/capture-facts`),
//! judged by the real invariants — never a hand-written sample of what it might print.

use crate::config::CheckConfig;
use crate::facts::Facts;
use crate::invariants::evaluate;
use crate::invariants::fixtures;
use crate::report::{HostSummary, Report};

/// The report `check` prints for `facts` with no check file.
pub(crate) fn report_of(facts: &Facts) -> Report {
    Report::new(HostSummary::of(facts), evaluate(facts, &CheckConfig::default()))
}

/// Four `my-app@` instances, each with one defect, and two more broken units.
pub(crate) fn defects() -> Report {
    report_of(&fixtures::defects())
}

/// Four `my-app@` instances, all well.
pub(crate) fn all_good() -> Report {
    report_of(&fixtures::all_good())
}

/// The incident's host: PM2 from a root shell, never registered.
pub(crate) fn pm2_incident() -> Report {
    report_of(&fixtures::pm2_incident())
}

/// The same host after the incident's fix.
pub(crate) fn pm2_fixed() -> Report {
    report_of(&fixtures::pm2_fixed())
}

/// Node servers started by hand, a lingering user service, and units (one behind a wrapper).
pub(crate) fn processes() -> Report {
    report_of(&fixtures::processes())
}
