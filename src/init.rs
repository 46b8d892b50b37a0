//! `bootproof init`: a check file written from what the live host runs now — PM2 homes
//! with their apps and instance counts, node units with template instance ranges, and,
//! commented out for the operator to choose, the TCP ports each service listens on as
//! health endpoints; and for each process no unit or PM2 home starts, the unit that
//! would (the command that writes it, and the `[[unit]]` to expect once it does).
//! Pure: facts, their judgement and listening ports in, TOML text out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::facts::sockets::{Listening, ServicePorts as Ports, pm2_app_key};
use crate::facts::{ActiveState, Fact, Facts, Pm2Status, RpcAnswer, UnitFacts, UnitFileState};
use crate::invariants::processes;
use crate::verdict::{CheckId, Judgement};

/// Whether a unit is meant to run: active now, or enabled for boot.
fn meant_to_run(unit: &UnitFacts) -> bool {
    unit.properties
        .ok()
        .is_some_and(|p| p.active_state == ActiveState::Active || p.unit_file_state == UnitFileState::Enabled)
}

/// A TOML basic string (quoted, with `"`, `\\` and control characters escaped).
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` fit for a `#` comment line: a newline (or any control character) in a name from
/// the host would end the comment and make the rest of the name a line of the check file.
fn comment(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        text.to_owned()
    } else {
        quoted(text)
    }
}

/// Instances grouped into `{A..B}` runs when they are consecutive numbers; every other
/// instance stands alone.
fn instance_patterns(template: &str, instances: &[String]) -> Vec<(String, Vec<String>)> {
    let (prefix, suffix) = template.split_once("@.").map_or((template, "service"), |(p, s)| (p, s));
    let mut numbers: Vec<u64> = instances.iter().filter_map(|i| i.parse().ok()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let numeric = numbers.len() == instances.len() && instances.iter().all(|i| !i.starts_with('0') || i == "0");
    if !numeric || numbers.len() < 2 {
        return instances.iter().map(|i| (format!("{prefix}@{i}.{suffix}"), vec![i.clone()])).collect();
    }
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for n in numbers {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => runs.push((n, n)),
        }
    }
    runs.into_iter()
        .map(|(a, b)| {
            let members = (a..=b).map(|n| n.to_string()).collect();
            if a == b {
                (format!("{prefix}@{a}.{suffix}"), members)
            } else {
                (format!("{prefix}@{{{a}..{b}}}.{suffix}"), members)
            }
        })
        .collect()
}

/// One comment line per listening socket, as a suggested probe.
fn suggestions(out: &mut String, ports: &[Listening]) {
    for socket in ports {
        let _ = writeln!(
            out,
            "# [[health]] url = \"http://{}:{}/\"   # listens on {}:{}",
            socket.loopback_host(),
            socket.port,
            socket.address,
            socket.port
        );
    }
}

/// Renders the check file for `facts` (judged as `judgement`).
pub(crate) fn render(facts: &Facts, judgement: &Judgement, ports: &Ports) -> String {
    let host = comment(facts.host.hostname.ok().map_or("this host", String::as_str));
    let mut out = format!(
        "# bootproof check file, written by `bootproof init` on {host} at {}.\n\
         # It declares what runs now as what must come back after every reboot. Review it:\n\
         # remove what should not be there, and choose health endpoints among the suggested\n\
         # ones (the ports each service listens on now). Every option: README, \"The check file\".\n",
        comment(&facts.gathered_at)
    );

    for home in &facts.pm2 {
        let mut apps: BTreeMap<&str, u32> = BTreeMap::new();
        if let Fact::Ok(RpcAnswer::Apps { apps: live }) = &home.daemon.rpc {
            for app in live.iter().filter(|a| !a.is_module && a.status == Pm2Status::Online) {
                *apps.entry(app.name.as_str()).or_insert(0) += 1;
            }
        }
        if !home.home.starts_with('/') {
            // A relative PM2_HOME (a unit's `Environment=PM2_HOME=.pm2`) is relative to a
            // working directory a check file cannot name: say so instead of writing an
            // entry bootproof itself would refuse.
            let _ = writeln!(
                out,
                "\n# PM2 home {} is a relative path: name it absolute in a [[pm2]] entry to keep it",
                comment(&home.home)
            );
            continue;
        }
        let _ = writeln!(out, "\n[[pm2]]\nhome = {}", quoted(&home.home));
        let list: Vec<String> = apps.iter().map(|(name, n)| format!("{} = {n}", key(name))).collect();
        let _ = writeln!(out, "apps = {{ {} }}   # online instances now", list.join(", "));
        if apps.is_empty() {
            let _ = writeln!(out, "# no app is online in this home now");
        }
        for name in apps.keys() {
            if let Some(sockets) = ports.get(&pm2_app_key(&home.home, name)) {
                let _ = writeln!(out, "# {}:", comment(name));
                suggestions(&mut out, sockets);
            }
        }
    }

    let mut written_templates: Vec<&str> = Vec::new();
    // A unit is declared once: a facts file may list a name twice, or a plain unit under a
    // name a template's instance range already covers, and a check file with one unit
    // declared twice is refused.
    let instance_names: std::collections::HashSet<&str> =
        facts.units.iter().filter(|u| u.template.is_some() && meant_to_run(u)).map(|u| u.name.as_str()).collect();
    let mut written_units: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for unit in &facts.units {
        // Only what is meant to run: active now, or enabled for boot.
        if !meant_to_run(unit) {
            continue;
        }
        match &unit.template {
            Some(template) if !written_templates.contains(&template.as_str()) => {
                written_templates.push(template);
                let instances: Vec<String> = facts
                    .units
                    .iter()
                    .filter(|u| u.template.as_deref() == Some(template) && meant_to_run(u))
                    .filter_map(|u| u.instance.clone())
                    .collect::<std::collections::BTreeSet<String>>()
                    .into_iter()
                    .collect();
                for (pattern, members) in instance_patterns(template, &instances) {
                    let _ = writeln!(out, "\n[[unit]]\nname = {}", quoted(&pattern));
                    let member_ports: Vec<(String, Vec<Listening>)> = members
                        .iter()
                        .map(|i| {
                            let name = template.replace("@.", &format!("@{i}."));
                            (i.clone(), ports.get(&name).cloned().unwrap_or_default())
                        })
                        .collect();
                    // When every instance listens on its own instance number, `{i}` says it once.
                    let by_instance =
                        member_ports.iter().all(|(i, sockets)| sockets.iter().any(|s| s.port.to_string() == *i));
                    if by_instance && pattern.contains('{') {
                        let host = member_ports
                            .first()
                            .and_then(|(i, s)| s.iter().find(|s| s.port.to_string() == *i))
                            .map_or("127.0.0.1", Listening::loopback_host);
                        let _ = writeln!(
                            out,
                            "# health = \"http://{host}:{{i}}/\"   # each instance listens on its instance number"
                        );
                    } else {
                        for (i, sockets) in &member_ports {
                            if !sockets.is_empty() {
                                let _ = writeln!(out, "# instance {}:", comment(i));
                                suggestions(&mut out, sockets);
                            }
                        }
                    }
                }
            }
            Some(_) => {}
            None if instance_names.contains(unit.name.as_str()) || !written_units.insert(&unit.name) => {}
            None => {
                let _ = writeln!(out, "\n[[unit]]\nname = {}", quoted(&unit.name));
                if let Some(sockets) = ports.get(&unit.name) {
                    suggestions(&mut out, sockets);
                }
            }
        }
    }

    unsupervised(&mut out, facts, judgement);

    out.push_str(
        "\n[severity]\n\
         # Each invariant fails or warns by default (`bootproof explain`); override here:\n\
         # \"process.not-root\" = \"fail\"\n\
         # \"pm2.log-rotation\" = \"off\"\n",
    );
    out
}

/// For each process nothing brings back after a reboot: what it is, the command that puts
/// it under a unit, and that unit as an entry to keep once it runs.
fn unsupervised(out: &mut String, facts: &Facts, judgement: &Judgement) {
    for chain in processes::chains(facts) {
        let Some(finding) = judgement
            .findings
            .iter()
            .find(|f| f.subject == chain.subject && f.check == CheckId::ProcessSupervised && f.status.blocks_boot())
        else {
            continue;
        };
        let _ = writeln!(out, "\n# Not back after a reboot: {} (process.supervised)", chain.subject);
        for line in finding.message.lines() {
            let _ = writeln!(out, "#   {line}");
        }
        if let Some(fix) = &finding.remediation {
            let _ = writeln!(out, "# Put it under systemd (review it, then run it):");
            for line in fix.lines() {
                let _ = writeln!(out, "#   {line}");
            }
        }
        let _ = writeln!(
            out,
            "# and, once it runs, expect it here:\n# [[unit]]\n# name = {}",
            quoted(&format!("{}.service", chain.unit_name))
        );
        for socket in &chain.ports {
            let _ = writeln!(out, "# [[health]] url = \"http://{}:{}/\"", socket.loopback_host(), socket.port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::fixtures::{all_good, defects, pm2_incident};

    /// Found by fuzzing (facts_file): a PM2 home with a relative path, which a unit's
    /// `Environment=PM2_HOME=` can give, was written as a `[[pm2]]` entry that `check`
    /// then refused (exit 2): init wrote a check file bootproof cannot read.
    #[test]
    fn a_relative_pm2_home_is_not_written_as_an_entry_bootproof_would_refuse() {
        let mut facts = pm2_incident();
        facts.pm2[0].home = "-root/.pm2".to_owned();
        let judgement = crate::invariants::evaluate(&facts, &crate::config::CheckConfig::default());
        let text = render(&facts, &judgement, &Ports::new());
        crate::config::load::parse(&text, "init.toml").expect("init writes a check file bootproof reads");
        assert!(text.contains("# PM2 home -root/.pm2 is a relative path"), "{text}");
    }

    /// Found by fuzzing (facts_file): a facts file listing a unit twice, or a plain unit
    /// under a name an instance range covers, made init declare it twice, which `check`
    /// refuses.
    #[test]
    fn a_unit_listed_twice_is_declared_once() {
        let mut facts = defects();
        let twice = facts.units.iter().find(|u| u.template.is_none()).cloned().expect("a plain unit");
        facts.units.push(twice);
        let mut instance = facts.units.iter().find(|u| u.template.is_some()).cloned().expect("an instance");
        facts.units.push(instance.clone());
        instance.template = None;
        facts.units.push(instance);
        let judgement = crate::invariants::evaluate(&facts, &crate::config::CheckConfig::default());
        let text = render(&facts, &judgement, &Ports::new());
        crate::config::load::parse(&text, "init.toml").expect("init writes a check file bootproof reads");
    }

    /// A newline in an app name ended init's comment naming it, and the rest of the name
    /// became a line of the check file.
    #[test]
    fn a_newline_in_an_app_name_stays_inside_its_comment() {
        let mut facts = pm2_incident();
        let crate::facts::Fact::Ok(crate::facts::RpcAnswer::Apps { apps }) = &mut facts.pm2[0].daemon.rpc else {
            panic!("the incident's daemon answered")
        };
        apps[0].name = "api\n[severity]\n\"pm2.dump\" = \"off\"".to_owned();
        let name = apps[0].name.clone();
        let mut ports = Ports::new();
        ports.insert(pm2_app_key(&facts.pm2[0].home, &name), vec![Listening { address: "0.0.0.0".into(), port: 3000 }]);
        let judgement = crate::invariants::evaluate(&facts, &crate::config::CheckConfig::default());
        let text = render(&facts, &judgement, &ports);
        let config = crate::config::load::parse(&text, "init.toml").expect("valid");
        assert!(config.severity.is_empty(), "the name injected a [severity] table:\n{text}");
    }

    #[test]
    fn strings_are_escaped_for_toml() {
        assert_eq!(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }

    #[test]
    fn consecutive_instances_become_a_range() {
        let got = instance_patterns(
            "my-app@.service",
            &["3001".into(), "3000".into(), "3003".into(), "3002".into(), "4000".into()],
        );
        assert_eq!(got[0].0, "my-app@{3000..3003}.service");
        assert_eq!(got[1].0, "my-app@4000.service");
        let named = instance_patterns("tenant@.service", &["alice".into(), "bob".into()]);
        assert_eq!(
            named.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["tenant@alice.service", "tenant@bob.service"]
        );
    }

    #[test]
    fn the_written_file_loads_and_expects_what_runs() {
        let facts = all_good();
        let mut ports = Ports::new();
        for unit in &facts.units {
            let port = unit.instance.as_deref().and_then(|i| i.parse().ok()).expect("numeric instance");
            ports.insert(unit.name.clone(), vec![Listening { address: "127.0.0.1".into(), port }]);
        }
        let judgement = crate::invariants::evaluate(&facts, &crate::config::CheckConfig::default());
        let text = render(&facts, &judgement, &ports);
        assert!(text.contains("name = \"my-app@{39400..39403}.service\""), "{text}");
        assert!(text.contains("# health = \"http://127.0.0.1:{i}/\""), "{text}");
        let config = crate::config::load::parse(&text, "init.toml").expect("init writes a valid check file");
        let names: Vec<&str> = config.units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            names,
            ["my-app@39400.service", "my-app@39401.service", "my-app@39402.service", "my-app@39403.service"]
        );
        // On the host it was written from, the check file adds no failure.
        let findings = crate::invariants::evaluate(&facts, &config).findings;
        assert!(findings.iter().all(|f| f.status != crate::verdict::Status::Fail), "{findings:#?}");
    }

    #[test]
    fn units_meant_to_run_are_kept_and_others_left_out() {
        let facts = defects();
        let judgement = crate::invariants::evaluate(&facts, &crate::config::CheckConfig::default());
        let text = render(&facts, &judgement, &Ports::new());
        let config = crate::config::load::parse(&text, "init.toml").expect("valid");
        let names: Vec<&str> = config.units.iter().map(|u| u.name.as_str()).collect();
        // Enabled or active; the disabled-but-running 39401 is running, so it is expected too.
        assert!(names.contains(&"legacy.service"), "{names:?}");
        assert!(names.contains(&"my-app@39401.service"), "{names:?}");
    }
}
