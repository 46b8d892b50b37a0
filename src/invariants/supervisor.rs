//! The supervisor invariants of a unit — a node service, or the unit that starts a PM2
//! home: does systemd have a file for it (`supervisor.registered`), does the boot start
//! it (`supervisor.enabled`), and does it run now under systemd (`supervisor.active`).
//!
//! Each takes the subject to report on, so a PM2 home is judged by its unit's verdicts.

use crate::facts::{
    ActiveState, Fact, FileKind, HostFacts, LoadState, StartCondition, SubState, UnitFacts, UnitFileState,
    UnitProperties,
};
use crate::invariants::fix;
use crate::verdict::{CheckId, Finding, Subject};
use std::borrow::Cow;

/// The unit to edit for a fix: the template for an instance (so every instance gets it).
pub(crate) fn edit_target(unit: &UnitFacts) -> &str {
    unit.template.as_deref().unwrap_or(&unit.name)
}

/// The error finding for an invariant that needs the unit's properties when systemd
/// would not give them.
pub(crate) fn properties_unreadable(check: CheckId, subject: &Subject, reason: &str) -> Finding {
    Finding::error(check, subject, format!("systemd's properties of the unit could not be read: {reason}"))
}

/// `supervisor.registered`: systemd has a unit file for it, and the next boot will too.
pub(crate) fn registered(unit: &UnitFacts, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorRegistered;
    let props = match &unit.properties {
        Fact::Ok(props) => props,
        Fact::Error(reason) => return properties_unreadable(check, subject, reason),
    };
    let name = unit.name.as_str();
    let finding = match (&props.load_state, &props.fragment_path) {
        // The next boot loads the file as it is on disk: it matters whether it is still there.
        (LoadState::Loaded, Some(path)) if props.need_daemon_reload => {
            match props.fragment_file.as_ref().map(|f| &f.stat) {
                Some(Fact::Ok(Some(_))) => Finding::pass(
                    check,
                    subject,
                    format!(
                        "loaded from {path}, which changed on disk since (daemon-reload pending); the next boot loads it as it is now"
                    ),
                ),
                Some(Fact::Ok(None)) => Finding::violated(
                    check,
                    subject,
                    format!("{path} was removed after systemd loaded it: the next boot has no unit file to start"),
                    format!(
                        "restore {path}, or if the removal was meant: sudo systemctl disable {name} && sudo systemctl daemon-reload"
                    ),
                ),
                Some(Fact::Error(reason)) => Finding::error(
                    check,
                    subject,
                    format!("{path} changed on disk since systemd loaded it and cannot be read: {reason}"),
                ),
                None => Finding::violated(
                    check,
                    subject,
                    format!(
                        "{path} changed on disk since systemd loaded it: what runs now is not what the next boot runs"
                    ),
                    "sudo systemctl daemon-reload",
                ),
            }
        }
        (LoadState::Loaded, Some(path)) => Finding::pass(check, subject, format!("loaded from {path}")),
        (LoadState::Loaded, None) => Finding::violated(
            check,
            subject,
            "loaded without a unit file (transient or generated at run time): it does not exist after a reboot",
            format!(
                "write /etc/systemd/system/{name}, then sudo systemctl daemon-reload && sudo systemctl enable {name}"
            ),
        ),
        (LoadState::Masked, _) => {
            Finding::violated(check, subject, "masked: systemd refuses to start it", fix::systemctl("unmask", &[name]))
        }
        (LoadState::NotFound, _) => Finding::violated(
            check,
            subject,
            "no unit file: systemd has nothing to start at boot",
            format!("write /etc/systemd/system/{}, then sudo systemctl daemon-reload", fix::quote(name)),
        ),
        (
            state @ (LoadState::BadSetting
            | LoadState::Error
            | LoadState::Merged
            | LoadState::Stub
            | LoadState::Other(_)),
            path,
        ) => {
            let why = props.load_error.as_deref().unwrap_or("no reason given");
            let file = path.as_deref().unwrap_or("the unit file");
            Finding::violated(
                check,
                subject,
                format!("systemd could not load the unit ({state}): {why}"),
                format!(
                    "fix {} (see: sudo systemd-analyze verify {}), then sudo systemctl daemon-reload",
                    fix::quote(file),
                    fix::quote(file)
                ),
            )
        }
    };
    finding
        .evidence("load_state", &props.load_state)
        .evidence("fragment_path", &props.fragment_path)
        .evidence("need_daemon_reload", props.need_daemon_reload)
}

/// Whether the unit is wanted or required by a target that the default target pulls in.
/// `None` when the boot targets could not be read.
fn wanted_at_boot<'a>(props: &'a UnitProperties, host: &HostFacts) -> Option<Vec<&'a str>> {
    let boot_targets = host.boot_targets.ok()?;
    Some(
        props
            .wanted_by
            .iter()
            .chain(&props.required_by)
            .filter(|by| boot_targets.iter().any(|t| t == *by))
            .map(String::as_str)
            .collect(),
    )
}

/// How the default target pulls the unit in at boot: `Ok(Some(chain))` from a boot target
/// down to the unit's direct wanter, `Ok(None)` when nothing does, `Err` when it cannot be told.
fn pulled_in_at_boot(
    unit: &UnitFacts,
    props: &UnitProperties,
    host: &HostFacts,
    default_target: &str,
) -> Result<Option<Vec<String>>, String> {
    match &unit.boot_chain {
        Fact::Ok(chain) if chain.is_empty() => Ok(None),
        Fact::Ok(chain) => Ok(Some(chain.clone())),
        // The walk failed somewhere; a boot target wanting the unit directly still settles it.
        Fact::Error(reason) => match wanted_at_boot(props, host) {
            Some(by) if !by.is_empty() => Ok(Some(vec![by[0].to_owned()])),
            Some(_) => Err(format!("what pulls it in at boot could not be read: {reason}")),
            None => Err(format!("the targets {default_target} pulls in at boot could not be read")),
        },
    }
}

/// What a path condition says now: `Some(holds)`, or `None` when bootproof cannot tell.
fn condition_holds(condition: &StartCondition) -> Option<bool> {
    let stat = condition.file.as_ref()?.stat.ok()?;
    let test = condition.kind.strip_prefix("Condition").or_else(|| condition.kind.strip_prefix("Assert"))?;
    let result = match (test, stat) {
        ("PathExists", stat) => stat.is_some(),
        ("PathIsDirectory", stat) => stat.as_ref().is_some_and(|s| s.kind == FileKind::Directory),
        ("FileNotEmpty", stat) => stat.as_ref().is_some_and(|s| s.kind == FileKind::File && s.size > 0),
        ("FileIsExecutable", stat) => stat.as_ref().is_some_and(|s| s.kind == FileKind::File && s.mode & 0o111 != 0),
        _ => return None,
    };
    Some(result != condition.negate)
}

/// The condition as written in the unit: `ConditionPathExists=!/etc/x`.
fn written(condition: &StartCondition) -> String {
    let trigger = if condition.trigger { "|" } else { "" };
    let negate = if condition.negate { "!" } else { "" };
    format!("{}={trigger}{negate}{}", condition.kind, condition.parameter)
}

/// The conditions that will stop systemd from starting the unit at boot, judged on the
/// files as they are now: every plain one must hold, and one of the `|` ones if any.
/// Conditions bootproof cannot evaluate are taken to hold.
fn failing_conditions(props: &UnitProperties) -> Vec<&StartCondition> {
    let mut failing: Vec<&StartCondition> =
        props.conditions.iter().filter(|c| !c.trigger && condition_holds(c) == Some(false)).collect();
    for prefix in ["Condition", "Assert"] {
        let triggers: Vec<&StartCondition> =
            props.conditions.iter().filter(|c| c.trigger && c.kind.starts_with(prefix)).collect();
        if !triggers.is_empty() && triggers.iter().all(|c| condition_holds(c) == Some(false)) {
            failing.extend(triggers);
        }
    }
    failing
}

/// `supervisor.enabled`: something the default target pulls in at boot starts the unit,
/// and its start conditions will hold.
pub(crate) fn enabled(unit: &UnitFacts, host: &HostFacts, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorEnabled;
    let props = match &unit.properties {
        Fact::Ok(props) => props,
        Fact::Error(reason) => return properties_unreadable(check, subject, reason),
    };
    let name = unit.name.as_str();
    let state = &props.unit_file_state;
    let default_target = host.default_target.ok().map_or("default.target", String::as_str);
    let enable = fix::systemctl("enable", &[name]);
    let finding = match state {
        // Whatever its own state, a unit another pulled-in unit wants starts at boot.
        UnitFileState::Enabled
        | UnitFileState::Static
        | UnitFileState::Generated
        | UnitFileState::Indirect
        | UnitFileState::Alias
        | UnitFileState::Disabled
        | UnitFileState::Linked => match pulled_in_at_boot(unit, props, host, default_target) {
            Err(reason) => Finding::error(check, subject, format!("{state}, but {reason}")),
            Ok(Some(chain)) => {
                let failing = failing_conditions(props);
                if let Some(first) = failing.first() {
                    let what = if first.kind.starts_with("Assert") {
                        "systemd will fail the unit at boot"
                    } else {
                        "systemd will skip the unit at boot"
                    };
                    let all: Vec<String> = failing.iter().map(|c| written(c)).collect();
                    Finding::violated(
                        check,
                        subject,
                        format!("{state} and pulled in at boot, but {} does not hold now: {what}", all.join(", ")),
                        format!(
                            "if it should run, make {} hold (or drop the condition: sudo systemctl edit --full {})",
                            first.parameter,
                            edit_target(unit)
                        ),
                    )
                } else {
                    Finding::pass(
                        check,
                        subject,
                        format!("{state}; pulled in at boot by {} → {name}", chain.join(" → ")),
                    )
                }
            }
            Ok(None) => match state {
                UnitFileState::Enabled => {
                    // A target nothing loads (a custom maintenance.target) is not loaded
                    // either, so its wants do not show in WantedBy.
                    let message = if props.wanted_by.is_empty() {
                        format!(
                            "enabled, but for a target {default_target} does not pull in at boot (no loaded unit wants it)"
                        )
                    } else {
                        format!(
                            "enabled, but wanted by {}, which {default_target} does not pull in at boot",
                            props.wanted_by.join(", ")
                        )
                    };
                    Finding::violated(
                        check,
                        subject,
                        message,
                        format!(
                            "set WantedBy=multi-user.target in the [Install] section of {}, then sudo systemctl reenable {name}",
                            edit_target(unit)
                        ),
                    )
                }
                UnitFileState::Static => Finding::violated(
                    check,
                    subject,
                    "static: the unit has no [Install] section and nothing pulls it in at boot",
                    format!("add [Install] WantedBy=multi-user.target to {}, then {enable}", edit_target(unit)),
                ),
                UnitFileState::Disabled => {
                    Finding::violated(check, subject, "disabled: nothing starts it at boot", enable)
                }
                UnitFileState::Linked => {
                    Finding::violated(check, subject, "linked but not enabled: nothing starts it at boot", enable)
                }
                other => Finding::violated(check, subject, format!("{other}: nothing pulls it in at boot"), enable),
            },
        },
        UnitFileState::EnabledRuntime => Finding::violated(
            check,
            subject,
            "enabled only until the next reboot (enabled-runtime: the link lives in /run)",
            enable,
        ),
        UnitFileState::LinkedRuntime => Finding::violated(
            check,
            subject,
            "linked only until the next reboot (linked-runtime: the unit file itself is linked from /run)",
            format!(
                "sudo cp {} /etc/systemd/system/ && sudo systemctl daemon-reload && {enable}",
                props.fragment_path.as_deref().map_or(Cow::Borrowed("the unit file"), fix::quote)
            ),
        ),
        UnitFileState::Masked | UnitFileState::MaskedRuntime => Finding::violated(
            check,
            subject,
            format!("{state}: systemd refuses to start it"),
            format!("{} && {enable}", fix::systemctl("unmask", &[name])),
        ),
        UnitFileState::Transient => Finding::violated(
            check,
            subject,
            "transient (made with systemd-run): it does not exist after a reboot",
            format!(
                "write a unit file /etc/systemd/system/{} with [Install] WantedBy=multi-user.target, then {enable}",
                fix::quote(name)
            ),
        ),
        UnitFileState::Empty => {
            Finding::violated(check, subject, "no unit file state: systemd does not know how to enable it", enable)
        }
        UnitFileState::Bad | UnitFileState::Other(_) => {
            Finding::violated(check, subject, format!("{state}: not enabled for boot"), enable)
        }
    };
    let finding = finding
        .evidence("unit_file_state", state)
        .evidence("wanted_by", &props.wanted_by)
        .evidence("required_by", &props.required_by)
        .evidence("boot_chain", unit.boot_chain.ok())
        .evidence("default_target", host.default_target.ok());
    if props.conditions.is_empty() {
        finding
    } else {
        finding.evidence("conditions", props.conditions.iter().map(written).collect::<Vec<_>>())
    }
}

/// `supervisor.active` of a node unit: it runs now, under systemd, as its file says.
pub(crate) fn active(unit: &UnitFacts, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorActive;
    let props = match &unit.properties {
        Fact::Ok(props) => props,
        Fact::Error(reason) => return properties_unreadable(check, subject, reason),
    };
    let name = unit.name.as_str();
    let since = props.active_since.as_deref().map(|t| format!(" since {t}")).unwrap_or_default();
    let service = unit.service.ok();
    let main_pid = service.map(|s| s.main_pid);
    let n_restarts = service.map(|s| s.n_restarts);
    let (state, sub) = (&props.active_state, &props.sub_state);
    let finding = match (state, main_pid) {
        (ActiveState::Active, None) => Finding::error(
            check,
            subject,
            format!(
                "active ({sub}){since}, but its main process could not be read: {}",
                unit.service.error().unwrap_or("no service properties")
            ),
        ),
        (ActiveState::Active, Some(pid)) if pid > 0 && (props.need_daemon_reload || unit.on_disk.is_some()) => {
            Finding::warn(
                check,
                subject,
                format!(
                    "active ({sub}){since}, main pid {pid}, but from an older version of {}: its files changed on disk without a daemon-reload",
                    props.fragment_path.as_deref().unwrap_or("its unit file")
                ),
                format!("sudo systemctl daemon-reload && {}", fix::systemctl("restart", &[name])),
            )
        }
        (ActiveState::Active, Some(pid)) if pid > 0 => {
            Finding::pass(check, subject, format!("active ({sub}){since}, main pid {pid}"))
        }
        (ActiveState::Active, Some(_)) => Finding::violated(
            check,
            subject,
            format!("active ({sub}) but no main process: the node process is not running under systemd"),
            format!("{}; then {}", fix::journal(name), fix::systemctl("restart", &[name])),
        ),
        (ActiveState::Activating, _) if *sub == SubState::AutoRestart => Finding::violated(
            check,
            subject,
            match n_restarts {
                Some(n) => format!("crashing: waiting to restart after {n} automatic restarts"),
                None => "crashing: waiting to restart".to_owned(),
            },
            fix::journal(name),
        ),
        (ActiveState::Activating, _) => Finding::violated(
            check,
            subject,
            format!("still starting ({sub})"),
            format!("wait, or check: {}", fix::journal(name)),
        ),
        (ActiveState::Failed, _) => Finding::violated(
            check,
            subject,
            format!("failed ({sub}): systemd gave up on it"),
            format!("{}; after fixing: {}", fix::journal(name), fix::systemctl("restart", &[name])),
        ),
        (
            ActiveState::Inactive
            | ActiveState::Reloading
            | ActiveState::Deactivating
            | ActiveState::Maintenance
            | ActiveState::Refreshing
            | ActiveState::Other(_),
            _,
        ) => Finding::violated(
            check,
            subject,
            format!("{state} ({sub}): not running now"),
            fix::systemctl("start", &[name]),
        ),
    };
    finding
        .evidence("active_state", state)
        .evidence("sub_state", sub)
        .evidence("main_pid", main_pid)
        .evidence("n_restarts", n_restarts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckConfig;
    use crate::facts::{FileFacts, FileStat};
    use crate::invariants::evaluate;
    use crate::invariants::fixtures::{all_good, assert_finding, defects, on_unit, props_mut};
    use crate::verdict::Status;

    #[test]
    fn registered_names_the_unit_file() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "my-app@39400.service", "supervisor.registered");
        assert_finding(f, Status::Pass, "/etc/systemd/system/my-app@.service");
    }

    #[test]
    fn a_disabled_instance_is_not_enabled_for_boot() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "my-app@39401.service", "supervisor.enabled");
        assert_finding(f, Status::Fail, "disabled: nothing starts it at boot");
        assert_eq!(f.remediation.as_deref(), Some("sudo systemctl enable my-app@39401.service"));
    }

    #[test]
    fn a_runtime_enabled_instance_is_lost_at_reboot() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "my-app@39402.service", "supervisor.enabled");
        assert_finding(f, Status::Fail, "enabled only until the next reboot");
        assert_eq!(f.remediation.as_deref(), Some("sudo systemctl enable my-app@39402.service"));
    }

    #[test]
    fn an_enabled_instance_is_wanted_by_a_boot_target() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        let f = on_unit(&findings, "my-app@39400.service", "supervisor.enabled");
        assert_finding(f, Status::Pass, "multi-user.target");
    }

    #[test]
    fn a_failed_unit_is_not_active() {
        let findings = evaluate(&defects(), &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, "api@39408.service", "supervisor.active"), Status::Fail, "failed");
        assert_finding(
            on_unit(&findings, "my-app@39401.service", "supervisor.active"),
            Status::Pass,
            "active (running)",
        );
    }

    #[test]
    fn a_static_unit_another_service_wants_at_boot_is_enabled_for_boot() {
        let mut facts = all_good();
        let unit = &mut facts.units[0];
        unit.boot_chain = Fact::Ok(vec!["multi-user.target".into(), "frontdoor.service".into()]);
        let props = props_mut(unit);
        props.unit_file_state = UnitFileState::Static;
        props.wanted_by = vec!["frontdoor.service".into()];
        let name = unit.name.clone();
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(
            on_unit(&findings, &name, "supervisor.enabled"),
            Status::Pass,
            &format!("pulled in at boot by multi-user.target → frontdoor.service → {name}"),
        );
    }

    #[test]
    fn an_unreadable_chain_is_an_error_unless_a_boot_target_wants_the_unit() {
        let mut facts = all_good();
        facts.units[0].boot_chain = Fact::Error("access denied".into());
        facts.units[1].boot_chain = Fact::Error("access denied".into());
        props_mut(&mut facts.units[1]).wanted_by = vec!["frontdoor.service".into()];
        let (first, second) = (facts.units[0].name.clone(), facts.units[1].name.clone());
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, &first, "supervisor.enabled"), Status::Pass, "multi-user.target");
        assert_finding(on_unit(&findings, &second, "supervisor.enabled"), Status::Error, "access denied");
    }

    #[test]
    fn a_false_path_condition_means_skipped_at_boot() {
        let mut facts = all_good();
        let condition = |negate, present: bool| StartCondition {
            kind: "ConditionPathExists".into(),
            trigger: false,
            negate,
            parameter: "/etc/my-app/enabled".into(),
            file: Some(FileFacts {
                path: "/etc/my-app/enabled".into(),
                stat: Fact::Ok(present.then_some(FileStat {
                    kind: FileKind::File,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    size: 0,
                    mtime: 0,
                })),
            }),
        };
        props_mut(&mut facts.units[0]).conditions = vec![condition(false, false)];
        props_mut(&mut facts.units[1]).conditions = vec![condition(true, false)];
        let (first, second) = (facts.units[0].name.clone(), facts.units[1].name.clone());
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        let f = on_unit(&findings, &first, "supervisor.enabled");
        assert_finding(
            f,
            Status::Fail,
            "ConditionPathExists=/etc/my-app/enabled does not hold now: systemd will skip the unit at boot",
        );
        assert!(f.remediation.as_deref().is_some_and(|r| r.contains("/etc/my-app/enabled")));
        assert_eq!(on_unit(&findings, &second, "supervisor.enabled").status, Status::Pass);
    }

    #[test]
    fn a_pending_reload_of_a_file_still_on_disk_comes_back_but_warns() {
        let mut facts = all_good();
        props_mut(&mut facts.units[0]).need_daemon_reload = true;
        let name = facts.units[0].name.clone();
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, &name, "supervisor.registered"), Status::Pass, "daemon-reload pending");
        let f = on_unit(&findings, &name, "supervisor.active");
        assert_finding(f, Status::Warn, "changed on disk without a daemon-reload");
        let props = props_mut(&mut facts.units[0]);
        props.fragment_file =
            props.fragment_path.as_deref().map(|path| FileFacts { path: path.into(), stat: Fact::Ok(None) });
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, &name, "supervisor.registered"), Status::Fail, "was removed");
    }

    /// Issue 7, wrong verdict 3: a unit whose properties could not be read used to be
    /// written as `load_state: "error"` with empty states, which failed three invariants
    /// with wrong fixes. Now every invariant that needs them is an error with the reason.
    #[test]
    fn unreadable_unit_properties_are_errors_with_the_reason_not_failures() {
        let mut facts = all_good();
        facts.units[0].properties =
            Fact::Error("GetAll on /org/freedesktop/systemd1/unit/x failed: Access denied".into());
        let name = facts.units[0].name.clone();
        let judgement = evaluate(&facts, &CheckConfig::default());
        for check in ["supervisor.registered", "supervisor.enabled", "supervisor.active", "unit.start-limit"] {
            assert_finding(on_unit(&judgement.findings, &name, check), Status::Error, "Access denied");
        }
        let prediction = judgement.prediction(&Subject::Unit(name)).expect("predicted");
        assert!(!prediction.prediction.comes_back, "not knowing is not coming back");
        let report = crate::report::Report::new(crate::report::HostSummary::of(&facts), judgement);
        assert_eq!(report.summary.status, Status::Error, "exit 3 when nothing else failed");
    }

    /// An active unit whose service side could not be read: its main process is unknown,
    /// not 0 ("no main process" was a false failure).
    #[test]
    fn an_active_unit_with_unreadable_service_properties_is_an_error() {
        let mut facts = all_good();
        facts.units[0].service = Fact::Error("access denied".into());
        let name = facts.units[0].name.clone();
        let findings = evaluate(&facts, &CheckConfig::default()).findings;
        assert_finding(on_unit(&findings, &name, "supervisor.active"), Status::Error, "access denied");
    }
}
