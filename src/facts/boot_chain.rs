//! What pulls each unit in at boot: the targets the default target reaches, and for each
//! unit the chain of units (targets and services) from one of those targets down to it.
//!
//! Every step is one concurrent round of D-Bus calls for all units at once.

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;

use super::model::{Fact, UnitFacts};
use super::systemd::{Systemd, SystemdError};

/// The default target and every target it pulls in through `Wants`/`Requires`,
/// breadth-first, one concurrent round of calls per level.
pub(crate) async fn boot_targets(systemd: &Systemd, default_target: &str) -> Result<Vec<String>, SystemdError> {
    let mut seen: HashSet<String> = HashSet::from([default_target.to_owned()]);
    let mut order = vec![default_target.to_owned()];
    let mut level = vec![default_target.to_owned()];
    while !level.is_empty() {
        let pulled = join_all(level.iter().map(|target| systemd.pulled_in_by(target))).await;
        let mut next = Vec::new();
        for names in pulled {
            for name in names? {
                if name.ends_with(".target") && seen.insert(name.clone()) {
                    next.push(name);
                }
            }
        }
        // systemd lists dependencies in hash order; sort so two runs compare equal.
        next.sort();
        order.extend(next.iter().cloned());
        level = next;
    }
    Ok(order)
}

/// How far up `boot_chains` walks from a node unit before giving up: deeper chains of
/// services wanting services are not something operators build.
const BOOT_CHAIN_DEPTH: usize = 8;

/// For each unit, the chain by which a boot target pulls it in (see
/// `UnitFacts::boot_chain`): walks up the units that want, require, uphold or bind
/// each one, breadth-first, one concurrent round of calls per level for all units at
/// once, at most [`BOOT_CHAIN_DEPTH`] levels. `known` is what pulls in the units whose
/// properties were read already (`UnitReply::pulled_in_from`): their first level costs
/// no call.
pub(crate) async fn boot_chains(
    systemd: &Systemd,
    units: &[UnitFacts],
    boot_targets: &Fact<Vec<String>>,
    known: HashMap<String, Vec<String>>,
) -> Vec<Fact<Vec<String>>> {
    let boot_targets: HashSet<&str> = match boot_targets {
        Fact::Ok(targets) => targets.iter().map(String::as_str).collect(),
        Fact::Error(reason) => {
            let reason = format!("the boot targets could not be read: {reason}");
            return units.iter().map(|_| Fact::Error(reason.clone())).collect();
        }
    };
    // name → the units that pull it in; fetched level by level for every unit at once.
    let mut pulled_from: HashMap<String, Result<Vec<String>, String>> =
        known.into_iter().map(|(name, from)| (name, Ok(from))).collect();
    // The first level: what the known units' properties named, and the other units.
    let mut level: Vec<String> = units
        .iter()
        .flat_map(|unit| match pulled_from.get(&unit.name) {
            Some(Ok(from)) => from.clone(),
            _ => vec![unit.name.clone()],
        })
        .collect();
    for _ in 1..BOOT_CHAIN_DEPTH {
        level.retain(|name| !boot_targets.contains(name.as_str()) && !pulled_from.contains_key(name));
        level.sort();
        level.dedup();
        if level.is_empty() {
            break;
        }
        let replies = join_all(level.iter().map(|name| systemd.pulled_in_from(name))).await;
        let mut next = Vec::new();
        for (name, reply) in level.drain(..).zip(replies) {
            let reply = reply.map_err(|err| err.to_string());
            if let Ok(from) = &reply {
                next.extend(from.iter().cloned());
            }
            pulled_from.insert(name, reply);
        }
        level = next;
    }
    units.iter().map(|unit| chain_to(&unit.name, &pulled_from, &boot_targets)).collect()
}

/// The shortest chain from a boot target down to (not including) `unit` through
/// `pulled_from`, as [`boot_chains`] describes it; empty when there is none. An error
/// only when no chain was found and some link on the way could not be read.
fn chain_to(
    unit: &str,
    pulled_from: &HashMap<String, Result<Vec<String>, String>>,
    boot_targets: &HashSet<&str>,
) -> Fact<Vec<String>> {
    // Breadth-first upwards; `below[x]` is the unit x pulls in on the way to `unit`.
    let mut below: HashMap<&str, &str> = HashMap::new();
    let mut level = vec![unit];
    let mut unreadable = None;
    while !level.is_empty() {
        let mut next = Vec::new();
        for name in level {
            let from = match pulled_from.get(name) {
                Some(Ok(from)) => from,
                Some(Err(reason)) => {
                    unreadable.get_or_insert_with(|| format!("cannot read what pulls in {name}: {reason}"));
                    continue;
                }
                // Beyond the depth walked.
                None => continue,
            };
            for wanter in from {
                if wanter == unit || below.contains_key(wanter.as_str()) {
                    continue;
                }
                below.insert(wanter, name);
                if boot_targets.contains(wanter.as_str()) {
                    let mut chain = vec![wanter.clone()];
                    let mut at = name;
                    while at != unit {
                        chain.push(at.to_owned());
                        at = below.get(at).copied().unwrap_or(unit);
                    }
                    return Fact::Ok(chain);
                }
                next.push(wanter.as_str());
            }
        }
        level = next;
    }
    match unreadable {
        Some(reason) => Fact::Error(reason),
        None => Fact::Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_chains_go_through_services() {
        let pulled_from: HashMap<String, Result<Vec<String>, String>> = HashMap::from([
            ("sidecar.service".to_owned(), Ok(vec!["frontdoor.service".to_owned()])),
            ("frontdoor.service".to_owned(), Ok(vec!["multi-user.target".to_owned()])),
            ("manual.service".to_owned(), Ok(Vec::new())),
            ("hidden.service".to_owned(), Ok(vec!["locked.service".to_owned()])),
            ("locked.service".to_owned(), Err("access denied".to_owned())),
        ]);
        let targets = HashSet::from(["graphical.target", "multi-user.target"]);
        assert_eq!(
            chain_to("sidecar.service", &pulled_from, &targets),
            Fact::Ok(vec!["multi-user.target".to_owned(), "frontdoor.service".to_owned()])
        );
        assert_eq!(chain_to("manual.service", &pulled_from, &targets), Fact::Ok(Vec::new()));
        assert!(matches!(
            chain_to("hidden.service", &pulled_from, &targets),
            Fact::Error(reason) if reason.contains("locked.service")
        ));
    }
}
