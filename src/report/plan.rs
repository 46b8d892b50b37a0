//! `bootproof plan`: the boot chain of this host as a tree — systemd, each unit that
//! starts node (or PM2), and for PM2 the dump and every app — with whether each comes
//! back after a reboot and, for every broken link, its fix; then the processes no unit
//! or PM2 home starts, each on the chain that ends with it (a login session, a tmux
//! server: nothing from boot leads there). Built from the same prediction `check`
//! reports, so plan and check can never disagree.
//!
//! By default the instances of a template that all come back, enabled and active, share
//! one line; `--verbose` draws every unit on its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::text::printable_name;
use crate::facts::{Fact, Facts, LoadState, Pm2Home, UnitFacts};
use crate::invariants::processes::{self, ProcessChain};
use crate::verdict::{CheckId, Judgement, Prediction, Subject};

/// Version tag of `plan --format json`.
pub(crate) const PLAN_SCHEMA: &str = "bootproof/plan/v1";

/// The whole boot chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Plan {
    /// Always [`PLAN_SCHEMA`].
    pub(crate) schema: &'static str,
    /// The target systemd boots into.
    pub(crate) default_target: Option<String>,
    /// Node service units, and units known only by name (expected, gone, unreadable).
    pub(crate) units: Vec<PlanUnit>,
    /// PM2 homes.
    pub(crate) pm2: Vec<PlanPm2>,
    /// Processes no unit or PM2 home accounts for.
    pub(crate) processes: Vec<PlanProcess>,
}

/// A process outside every unit and PM2 home, on the chain that started it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct PlanProcess {
    /// The subject key (`process:` without the prefix).
    pub(crate) process: String,
    /// What started it: `login session c2`, `tmux server (pid 94)`,
    /// `systemd ─► user@1001.service ─► greeter.service`.
    pub(crate) origin: String,
    /// Its processes.
    pub(crate) pids: Vec<u32>,
    /// Who it runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// The TCP ports it listens on.
    pub(crate) ports: Vec<u16>,
    /// Whether it comes back; `None` when that is not bootproof's to tell (a container's
    /// restart policy decides), with `note` saying so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) verdict: Option<Verdict>,
    /// Why there is no verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// A link that is or is not intact, with the reason and fix when broken.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Verdict {
    /// Whether it comes back after a reboot.
    pub(crate) comes_back: bool,
    /// Why not, in the operator's words (the deciding finding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// The command that fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

impl Verdict {
    fn of(prediction: &Prediction) -> Verdict {
        match &prediction.blocked_by {
            None => Verdict { comes_back: true, reason: None, fix: None },
            Some(blocker) => {
                Verdict { comes_back: false, reason: Some(blocker.message.clone()), fix: blocker.fix.clone() }
            }
        }
    }

    /// A subject without a prediction (never the case for one `evaluate` judged).
    fn unknown() -> Verdict {
        Verdict { comes_back: false, reason: Some("not judged".to_owned()), fix: None }
    }
}

/// A unit in the chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct PlanUnit {
    /// Unit name.
    pub(crate) name: String,
    /// Template, for an instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) template: Option<String>,
    /// `UnitFileState`; `unknown` when it could not be read, `not loaded` when systemd
    /// does not know the unit.
    pub(crate) unit_file_state: String,
    /// `ActiveState`, likewise.
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

/// A unit as the plan shows it, `subject`'s prediction giving the verdict.
fn plan_unit(unit: &UnitFacts, judgement: &Judgement, subject: &Subject) -> PlanUnit {
    let (unit_file_state, active_state) = match &unit.properties {
        Fact::Ok(props) => (props.unit_file_state.to_string(), props.active_state.to_string()),
        Fact::Error(_) => ("unknown".to_owned(), "unknown".to_owned()),
    };
    PlanUnit {
        name: unit.name.clone(),
        template: unit.template.clone(),
        unit_file_state,
        active_state,
        boot_chain: unit.boot_chain.ok().cloned().unwrap_or_default(),
        verdict: judgement.prediction(subject).map_or_else(Verdict::unknown, |p| Verdict::of(&p.prediction)),
    }
}

/// Builds the plan from the facts and their judgement.
pub(crate) fn build(facts: &Facts, judgement: &Judgement) -> Plan {
    let mut units: Vec<PlanUnit> =
        facts.units.iter().map(|unit| plan_unit(unit, judgement, &Subject::Unit(unit.name.clone()))).collect();
    // Units known only by name: expected and missing, gone since the last boot, unreadable.
    for prediction in &judgement.predictions {
        let Subject::Unit(name) = &prediction.subject else { continue };
        if facts.units.iter().any(|u| &u.name == name) {
            continue;
        }
        units.push(PlanUnit {
            name: name.clone(),
            template: crate::facts::unit_file::split_instance(name).map(|(template, _)| template),
            unit_file_state: "not loaded".to_owned(),
            active_state: "-".to_owned(),
            boot_chain: Vec::new(),
            verdict: Verdict::of(&prediction.prediction),
        });
    }
    units.sort_by(|a, b| a.name.cmp(&b.name));
    let pm2 = facts.pm2.iter().map(|home| plan_pm2(home, judgement)).collect();
    let mut processes: Vec<PlanProcess> =
        processes::chains(facts).into_iter().map(|chain| plan_process(chain, judgement)).collect();
    // Processes the last check before this boot saw that run nowhere now.
    for prediction in &judgement.predictions {
        let Subject::Process(key) = &prediction.subject else { continue };
        if processes.iter().any(|p| &p.process == key) {
            continue;
        }
        processes.push(PlanProcess {
            process: key.clone(),
            origin: "gone since the last boot".to_owned(),
            pids: Vec::new(),
            user: None,
            ports: Vec::new(),
            verdict: Some(Verdict::of(&prediction.prediction)),
            note: None,
        });
    }
    Plan { schema: PLAN_SCHEMA, default_target: facts.host.default_target.ok().cloned(), units, pm2, processes }
}

fn plan_process(chain: ProcessChain, judgement: &Judgement) -> PlanProcess {
    let prediction = judgement.prediction(&chain.subject);
    let note = match prediction {
        Some(_) => None,
        None => judgement
            .findings
            .iter()
            .find(|f| f.subject == chain.subject && f.check == CheckId::ProcessSupervised)
            .map(|f| f.message.clone()),
    };
    let key = match chain.subject {
        Subject::Process(key) => key,
        other => other.to_string(),
    };
    let mut ports: Vec<u16> = chain.ports.iter().map(|s| s.port).collect();
    ports.dedup();
    PlanProcess {
        process: key,
        origin: chain.origin,
        pids: chain.pids,
        user: chain.user,
        ports,
        verdict: prediction.map(|p| Verdict::of(&p.prediction)),
        note,
    }
}

fn plan_pm2(home: &Pm2Home, judgement: &Judgement) -> PlanPm2 {
    let subject = Subject::Pm2(home.home.clone());
    let loaded = |u: &&UnitFacts| u.properties.ok().is_some_and(|p| p.load_state == LoadState::Loaded);
    let unit = home.units.iter().find(loaded).or_else(|| home.units.first());
    let prediction = judgement.prediction(&subject);
    let dump = judgement
        .findings
        .iter()
        .find(|f| f.subject == subject && f.check == CheckId::Pm2Dump)
        .map_or_else(|| "dump.pm2".to_owned(), |f| f.message.clone());
    let apps = prediction
        .map(|p| {
            p.apps
                .iter()
                .map(|app| PlanApp {
                    name: app.name.clone(),
                    online: app.online,
                    saved: app.saved,
                    verdict: Verdict::of(&app.prediction),
                })
                .collect()
        })
        .unwrap_or_default();
    PlanPm2 {
        home: home.home.clone(),
        unit: unit.map(|u| plan_unit(u, judgement, &subject)),
        daemon: prediction.map_or_else(Verdict::unknown, |p| Verdict::of(&p.prediction)),
        dump,
        apps,
    }
}

const OK: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
const BAD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red))).bold();
const DIM: Style = Style::new().dimmed();

fn mark(verdict: &Verdict) -> String {
    if verdict.comes_back {
        format!("{OK}✔ comes back{OK:#}")
    } else {
        format!("{BAD}✘{BAD:#} {}", printable_name(verdict.reason.as_deref().unwrap_or("does not come back")))
    }
}

/// The fix under a broken link, indented past the tree line `continuation`.
fn fix_line(out: &mut String, continuation: &str, verdict: &Verdict) {
    if let (false, Some(fix)) = (verdict.comes_back, verdict.fix.as_deref()) {
        let mut lines = fix.lines();
        let _ =
            writeln!(out, "  {continuation}   {DIM}fix:{DIM:#} {}", printable_name(lines.next().unwrap_or_default()));
        for line in lines {
            let _ = writeln!(out, "  {continuation}        {}", printable_name(line));
        }
    }
}

/// One line of the unit tree: a unit, or the instances of a template that share one.
enum Row<'a> {
    /// A unit on its own.
    Unit(&'a PlanUnit),
    /// Instances of `template` that all come back, enabled and active.
    Instances { template: &'a str, instances: Vec<&'a str> },
}

/// The unit rows: with `verbose` one per unit; otherwise the instances of a template that
/// all come back, enabled and active, folded into one.
fn rows(units: &[PlanUnit], verbose: bool) -> Vec<Row<'_>> {
    let healthy = |u: &PlanUnit| u.verdict.comes_back && u.unit_file_state == "enabled" && u.active_state == "active";
    let mut fold: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    if !verbose {
        for unit in units.iter().filter(|u| healthy(u)) {
            if let Some(template) = &unit.template {
                let instance =
                    unit.name.split_once('@').and_then(|(_, rest)| rest.rsplit_once('.')).map_or("", |(i, _)| i);
                fold.entry(template).or_default().push(instance);
            }
        }
        fold.retain(|_, instances| instances.len() > 1);
    }
    let mut rows = Vec::new();
    let mut drawn: Vec<&str> = Vec::new();
    for unit in units {
        match unit.template.as_deref().filter(|t| healthy(unit) && fold.contains_key(t)) {
            Some(template) if drawn.contains(&template) => {}
            Some(template) => {
                drawn.push(template);
                rows.push(Row::Instances { template, instances: fold[template].clone() });
            }
            None => rows.push(Row::Unit(unit)),
        }
    }
    rows
}

/// Renders the plan as a tree, with ANSI styling (stripped by the caller off a terminal).
pub(crate) fn render(plan: &Plan, verbose: bool) -> String {
    let mut out = String::new();
    let target = plan.default_target.as_deref().unwrap_or("default.target");
    if plan.units.is_empty() && plan.pm2.is_empty() && plan.processes.is_empty() {
        let _ = writeln!(out, "systemd ─► {target}: no node service and no PM2 home found");
        return out;
    }
    if !plan.units.is_empty() {
        let _ = writeln!(out, "systemd ─► {target}");
        let rows = rows(&plan.units, verbose);
        let count = rows.len();
        for (i, row) in rows.iter().enumerate() {
            let (branch, continuation) = if i + 1 == count { ("└─", " ") } else { ("├─", "│") };
            match row {
                Row::Unit(unit) => {
                    let _ = writeln!(
                        out,
                        "  {branch} {} ({}, {})  {}",
                        printable_name(&unit.name),
                        printable_name(&unit.unit_file_state.to_string()),
                        printable_name(&unit.active_state.to_string()),
                        mark(&unit.verdict)
                    );
                    fix_line(&mut out, continuation, &unit.verdict);
                }
                Row::Instances { template, instances } => {
                    let _ = writeln!(
                        out,
                        "  {branch} {} ×{} ({}) (enabled, active)  {OK}✔ all come back{OK:#}",
                        printable_name(template),
                        instances.len(),
                        printable_name(&instances.join(", "))
                    );
                }
            }
        }
    }
    for home in &plan.pm2 {
        let unit = home.unit.as_ref().map_or_else(
            || "no pm2 unit".to_owned(),
            |u| format!("{} ({}, {})", u.name, u.unit_file_state, u.active_state),
        );
        let _ =
            writeln!(out, "systemd ─► {} ─► pm2 resurrect ─► {}", printable_name(&unit), printable_name(&home.dump));
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
            // The home's own line already says why PM2 does not come back.
            let verdict = if !home.daemon.comes_back {
                Verdict { comes_back: false, reason: Some("PM2 itself does not come back".to_owned()), fix: None }
            } else {
                app.verdict.clone()
            };
            let _ = writeln!(out, "  {branch} {}{times}  {state}  {}", printable_name(&app.name), mark(&verdict));
            fix_line(&mut out, continuation, &verdict);
        }
    }
    if !plan.processes.is_empty() {
        let _ = writeln!(out, "not started by systemd at boot: processes outside any unit or PM2 home");
        let count = plan.processes.len();
        for (i, process) in plan.processes.iter().enumerate() {
            let (branch, continuation) = if i + 1 == count { ("└─", " ") } else { ("├─", "│") };
            let user = process.user.as_deref().map(|u| format!("  {u}")).unwrap_or_default();
            let ports: Vec<String> = process.ports.iter().map(|p| format!(":{p}")).collect();
            let ports = if ports.is_empty() { String::new() } else { format!("  {}", ports.join(" ")) };
            let fate = match (&process.verdict, &process.note) {
                (Some(verdict), _) => mark(verdict),
                (None, note) => format!("{DIM}- {}{DIM:#}", note.as_deref().unwrap_or("not predicted")),
            };
            let _ = writeln!(out, "  {branch} {} ─► {}{user}{ports}  {fate}", process.origin, process.process);
            if let Some(verdict) = &process.verdict {
                fix_line(&mut out, continuation, verdict);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, defects, pm2_fixed, pm2_incident, processes};

    fn plan_of(facts: &Facts) -> Plan {
        build(facts, &evaluate(facts, &CheckConfig::default()))
    }

    fn plain(plan: &Plan, verbose: bool) -> String {
        anstream::adapter::strip_str(&render(plan, verbose)).to_string()
    }

    #[test]
    fn plan_of_the_defects_host() {
        let facts = defects();
        let plan = plan_of(&facts);
        let lost: Vec<&str> = plan.units.iter().filter(|u| !u.verdict.comes_back).map(|u| u.name.as_str()).collect();
        assert_eq!(lost, ["api@39408.service", "my-app@39401.service", "my-app@39402.service", "my-app@39403.service"]);
        assert!(!evaluate(&facts, &CheckConfig::default()).everything_comes_back());
        insta::assert_snapshot!(plain(&plan, false));
    }

    #[test]
    fn plan_of_the_incident_host() {
        let plan = plan_of(&pm2_incident());
        let home = &plan.pm2[0];
        assert!(home.unit.is_none(), "no unit starts PM2 on the incident host");
        assert!(!home.daemon.comes_back);
        assert!(home.daemon.fix.as_deref().is_some_and(|fix| fix.contains("pm2 startup systemd -u root --hp /root")));
        assert_eq!(home.apps.len(), 1);
        assert!(!home.apps[0].verdict.comes_back, "api is saved, but nothing resurrects it");
        insta::assert_snapshot!(plain(&plan, false));
    }

    #[test]
    fn plan_of_the_fixed_host() {
        let facts = pm2_fixed();
        let plan = plan_of(&facts);
        let home = &plan.pm2[0];
        assert!(home.daemon.comes_back);
        assert!(home.apps.iter().all(|app| app.verdict.comes_back));
        assert!(evaluate(&facts, &CheckConfig::default()).everything_comes_back());
        insta::assert_snapshot!(plain(&plan, false));
    }

    #[test]
    fn plan_of_hand_started_servers() {
        let facts = processes();
        let plan = plan_of(&facts);
        let origins: Vec<&str> = plan.processes.iter().map(|p| p.origin.as_str()).collect();
        assert!(origins.iter().any(|o| o.starts_with("login session") && o.ends_with("left to PID 1")), "{origins:?}");
        assert!(origins.iter().any(|o| o.starts_with("tmux server (pid")), "{origins:?}");
        assert!(origins.iter().any(|o| o.starts_with("scope run-")), "{origins:?}");
        assert!(origins.iter().any(|o| o.ends_with("─► greeter.service")), "{origins:?}");
        let back: Vec<bool> = plan.processes.iter().filter_map(|p| p.verdict.as_ref().map(|v| v.comes_back)).collect();
        assert_eq!(back.iter().filter(|b| **b).count(), 1, "only the lingering user service comes back");
        assert!(!evaluate(&facts, &CheckConfig::default()).everything_comes_back());
        insta::assert_snapshot!(plain(&plan, false));
    }

    #[test]
    fn a_good_host_folds_its_instances_into_one_line() {
        let plan = plan_of(&all_good());
        assert!(plan.units.iter().all(|u| u.verdict.comes_back));
        let folded = plain(&plan, false);
        insta::assert_snapshot!(folded);
        assert_eq!(folded.lines().count(), 2, "{folded}");
        let verbose = plain(&plan, true);
        assert_eq!(verbose.lines().count(), 1 + plan.units.len(), "{verbose}");
        let json = serde_json::to_value(&plan).expect("plan serialises");
        assert_eq!(json["schema"], PLAN_SCHEMA);
        assert_eq!(json["units"][0]["verdict"]["comes_back"], true);
        assert!(json["units"][0]["verdict"].get("fix").is_none());
    }
}
