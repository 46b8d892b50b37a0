//! `bootproof plan`: the boot chain of this host as a tree — systemd, each unit that
//! starts node (or PM2), and for PM2 the dump and every app — with whether each comes
//! back after a reboot and, for every broken link, its fix. Built from the same findings
//! `check` reports, so plan and check can never disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::facts::{Fact, Facts, Pm2Home, RpcAnswer};
use crate::invariants::CheckId;
use crate::report::{Finding, Status, Subject};

/// Version tag of `plan --format json`.
pub(crate) const PLAN_SCHEMA: &str = "bootproof/plan/v1";

/// The whole boot chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Plan {
    /// Always [`PLAN_SCHEMA`].
    pub(crate) schema: &'static str,
    /// The target systemd boots into.
    pub(crate) default_target: Option<String>,
    /// Node service units, templates grouped with their instances.
    pub(crate) units: Vec<PlanUnit>,
    /// PM2 homes.
    pub(crate) pm2: Vec<PlanPm2>,
}

/// A link that is or is not intact, with the reason and fix when broken.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Verdict {
    /// Whether it comes back after a reboot.
    pub(crate) comes_back: bool,
    /// Why not, in the operator's words (the first failing finding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// The command that fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

/// A unit in the chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct PlanUnit {
    /// Unit name.
    pub(crate) name: String,
    /// Template, for an instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) template: Option<String>,
    /// `UnitFileState`.
    pub(crate) unit_file_state: String,
    /// `ActiveState`.
    pub(crate) active_state: String,
    /// The chain that pulls it in at boot, target first.
    pub(crate) boot_chain: Vec<String>,
    /// Whether it comes back.
    pub(crate) verdict: Verdict,
}

/// A PM2 home in the chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct PlanPm2 {
    /// PM2_HOME.
    pub(crate) home: String,
    /// The unit that runs `pm2 resurrect`, with its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) unit: Option<PlanUnit>,
    /// Whether the daemon itself comes back (unit registered, enabled, startable).
    pub(crate) daemon: Verdict,
    /// `dump.pm2` and how old it is.
    pub(crate) dump: String,
    /// Every app running now or saved.
    pub(crate) apps: Vec<PlanApp>,
}

/// One PM2 app.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct PlanApp {
    /// App name.
    pub(crate) name: String,
    /// Online processes now.
    pub(crate) online: usize,
    /// Processes saved in dump.pm2.
    pub(crate) saved: usize,
    /// Whether it comes back.
    pub(crate) verdict: Verdict,
}

use crate::invariants::evaluate::boot_blocker as blocker;

fn verdict_of(blocker: Option<&Finding>) -> Verdict {
    match blocker {
        None => Verdict { comes_back: true, reason: None, fix: None },
        Some(f) => Verdict { comes_back: false, reason: Some(f.message.clone()), fix: f.remediation.clone() },
    }
}

fn plan_unit(unit: &crate::facts::UnitFacts, findings: &[Finding], subject: &Subject) -> PlanUnit {
    PlanUnit {
        name: unit.name.clone(),
        template: unit.template.clone(),
        unit_file_state: unit.unit_file_state.clone(),
        active_state: unit.active_state.clone(),
        boot_chain: unit.boot_chain.ok().cloned().unwrap_or_default(),
        verdict: verdict_of(blocker(findings, subject)),
    }
}

/// Builds the plan from the facts and the findings `check` would report.
pub(crate) fn build(facts: &Facts, findings: &[Finding]) -> Plan {
    let units = facts.units.iter().map(|unit| plan_unit(unit, findings, &Subject::Unit(unit.name.clone()))).collect();
    let pm2 = facts.pm2.iter().map(|home| plan_pm2(home, findings)).collect();
    Plan { schema: PLAN_SCHEMA, default_target: facts.host.default_target.ok().cloned(), units, pm2 }
}

fn plan_pm2(home: &Pm2Home, findings: &[Finding]) -> PlanPm2 {
    let subject = Subject::Pm2(home.home.clone());
    let unit = home.units.iter().find(|u| u.load_state == "loaded").or_else(|| home.units.first());
    let daemon = verdict_of(blocker(findings, &subject));
    let dump_finding = findings.iter().find(|f| f.subject == subject && f.check == CheckId::Pm2Dump);
    let dump = dump_finding.map_or_else(|| "dump.pm2".to_owned(), |f| f.message.clone());
    let dump_ok = dump_finding.is_none_or(|f| matches!(f.status, Status::Pass | Status::Skip));
    let mut online: BTreeMap<String, usize> = BTreeMap::new();
    if let Fact::Ok(RpcAnswer::Apps { apps }) = &home.daemon.rpc {
        for app in apps.iter().filter(|a| !a.is_module) {
            *online.entry(app.name.clone()).or_insert(0) += usize::from(app.status == "online");
        }
    }
    let mut saved: BTreeMap<String, usize> = BTreeMap::new();
    if let Fact::Ok(apps) = &home.dump.apps {
        for app in apps.iter().filter(|a| !a.is_module) {
            let n = app.instances.filter(|n| *n > 0).map_or(1, |n| n as usize);
            let entry = saved.entry(app.name.clone()).or_insert(0);
            *entry = (*entry + 1).max(n);
        }
    }
    let save = findings
        .iter()
        .find(|f| f.subject == subject && f.check == CheckId::Pm2DumpFresh)
        .and_then(|f| f.remediation.clone());
    let names: std::collections::BTreeSet<&String> = online.keys().chain(saved.keys()).collect();
    let apps = names
        .into_iter()
        .map(|name| {
            let now = online.get(name).copied().unwrap_or(0);
            let kept = saved.get(name).copied().unwrap_or(0);
            let verdict = if !daemon.comes_back {
                Verdict { comes_back: false, reason: Some("PM2 itself does not come back".into()), fix: None }
            } else if !dump_ok || kept == 0 {
                Verdict { comes_back: false, reason: Some("not in dump.pm2".into()), fix: save.clone() }
            } else if kept < now {
                Verdict { comes_back: false, reason: Some(format!("{now} running, {kept} saved")), fix: save.clone() }
            } else {
                Verdict { comes_back: true, reason: None, fix: None }
            };
            PlanApp { name: name.clone(), online: now, saved: kept, verdict }
        })
        .collect();
    PlanPm2 { home: home.home.clone(), unit: unit.map(|u| plan_unit(u, findings, &subject)), daemon, dump, apps }
}

const OK: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
const BAD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red))).bold();
const DIM: Style = Style::new().dimmed();

fn mark(verdict: &Verdict) -> String {
    if verdict.comes_back {
        format!("{OK}✔ comes back{OK:#}")
    } else {
        format!("{BAD}✘{BAD:#} {}", verdict.reason.as_deref().unwrap_or("does not come back"))
    }
}

/// The fix under a broken link, indented past the tree line `continuation`.
fn fix_line(out: &mut String, continuation: &str, verdict: &Verdict) {
    if let (false, Some(fix)) = (verdict.comes_back, verdict.fix.as_deref()) {
        let _ = writeln!(out, "  {continuation}   {DIM}fix:{DIM:#} {fix}");
    }
}

/// Renders the plan as a tree, with ANSI styling (stripped by the caller off a terminal).
pub(crate) fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let target = plan.default_target.as_deref().unwrap_or("default.target");
    if plan.units.is_empty() && plan.pm2.is_empty() {
        let _ = writeln!(out, "systemd ─► {target}: no node service and no PM2 home found");
        return out;
    }
    if !plan.units.is_empty() {
        let _ = writeln!(out, "systemd ─► {target}");
        let count = plan.units.len();
        for (i, unit) in plan.units.iter().enumerate() {
            let (branch, continuation) = if i + 1 == count { ("└─", " ") } else { ("├─", "│") };
            let _ = writeln!(
                out,
                "  {branch} {} ({}, {})  {}",
                unit.name,
                unit.unit_file_state,
                unit.active_state,
                mark(&unit.verdict)
            );
            fix_line(&mut out, continuation, &unit.verdict);
        }
    }
    for home in &plan.pm2 {
        let unit = home.unit.as_ref().map_or_else(
            || "no pm2 unit".to_owned(),
            |u| format!("{} ({}, {})", u.name, u.unit_file_state, u.active_state),
        );
        let _ = writeln!(out, "systemd ─► {unit} ─► pm2 resurrect ─► {}", home.dump);
        if !home.daemon.comes_back {
            let _ = writeln!(out, "  {}", mark(&home.daemon));
            fix_line(&mut out, "", &home.daemon);
        }
        let count = home.apps.len();
        if count == 0 {
            let _ = writeln!(out, "  └─ {DIM}no app running or saved{DIM:#}");
        }
        for (i, app) in home.apps.iter().enumerate() {
            let (branch, continuation) = if i + 1 == count { ("└─", " ") } else { ("├─", "│") };
            let times = if app.online > 1 || app.saved > 1 {
                format!(" ×{}", app.online.max(app.saved))
            } else {
                String::new()
            };
            let state = if app.online > 0 { "online" } else { "down" };
            let _ = writeln!(out, "  {branch} {}{times}  {state}  {}", app.name, mark(&app.verdict));
            fix_line(&mut out, continuation, &app.verdict);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, defects, pm2_fixed, pm2_incident};

    #[test]
    fn plan_of_the_defects_host() {
        let facts = defects();
        let plan = build(&facts, &evaluate(&facts, &crate::config::CheckConfig::default()));
        let lost: Vec<&str> = plan.units.iter().filter(|u| !u.verdict.comes_back).map(|u| u.name.as_str()).collect();
        assert_eq!(lost, ["api@39408.service", "my-app@39401.service", "my-app@39402.service", "my-app@39403.service"]);
        insta::assert_snapshot!(anstream::adapter::strip_str(&render(&plan)).to_string());
    }

    #[test]
    fn plan_of_the_incident_host() {
        let facts = pm2_incident();
        let plan = build(&facts, &evaluate(&facts, &crate::config::CheckConfig::default()));
        let home = &plan.pm2[0];
        assert!(home.unit.is_none(), "no unit starts PM2 on the incident host");
        assert!(!home.daemon.comes_back);
        assert!(home.daemon.fix.as_deref().is_some_and(|fix| fix.contains("pm2 startup systemd -u root --hp /root")));
        assert_eq!(home.apps.len(), 1);
        assert!(!home.apps[0].verdict.comes_back, "api is saved, but nothing resurrects it");
        insta::assert_snapshot!(anstream::adapter::strip_str(&render(&plan)).to_string());
    }

    #[test]
    fn plan_of_the_fixed_host() {
        let facts = pm2_fixed();
        let plan = build(&facts, &evaluate(&facts, &crate::config::CheckConfig::default()));
        let home = &plan.pm2[0];
        assert!(home.daemon.comes_back);
        assert!(home.apps.iter().all(|app| app.verdict.comes_back));
        insta::assert_snapshot!(anstream::adapter::strip_str(&render(&plan)).to_string());
    }

    #[test]
    fn plan_of_a_good_host_says_everything_comes_back() {
        let facts = all_good();
        let plan = build(&facts, &evaluate(&facts, &crate::config::CheckConfig::default()));
        assert!(plan.units.iter().all(|u| u.verdict.comes_back));
        let json = serde_json::to_value(&plan).expect("plan serialises");
        assert_eq!(json["schema"], PLAN_SCHEMA);
        assert_eq!(json["units"][0]["verdict"]["comes_back"], true);
        assert!(json["units"][0]["verdict"].get("fix").is_none());
    }
}
