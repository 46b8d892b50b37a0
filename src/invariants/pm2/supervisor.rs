//! Is PM2 itself supervised: a unit runs `pm2 resurrect` for the home
//! (`supervisor.registered`, judged by the unit's own verdict when there is one), and
//! systemd — not a shell — owns the running daemon (`supervisor.active`).

use super::context::Context;
use crate::facts::{ActiveState, Fact};
use crate::invariants::fix;
use crate::invariants::supervisor;
use crate::verdict::{CheckId, Finding, Subject};

/// `supervisor.registered` of a home.
pub(super) fn registered(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorRegistered;
    let units: Vec<&str> = ctx.home.units.iter().map(|u| u.name.as_str()).collect();
    let finding = match ctx.unit {
        Some(unit) => return supervisor::registered(unit, subject).evidence("units", units),
        None if let Some(reason) = ctx.unknown_whether_anything_runs() => {
            Finding::error(check, subject, format!("{reason}: whether a reboot loses anything cannot be told"))
        }
        None if ctx.nothing_to_supervise() => Finding::skip(
            check,
            subject,
            format!("no app runs or is saved in {}: a reboot loses nothing here", ctx.home.home),
        ),
        None => Finding::violated(
            check,
            subject,
            format!(
                "no systemd unit starts PM2 for {}: after a reboot nothing runs pm2 resurrect, and every app stays down",
                ctx.home.home
            ),
            ctx.startup(),
        ),
    };
    finding.evidence("units", units)
}

/// `supervisor.active` of a home: the daemon runs, and its unit owns it.
pub(super) fn active(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::SupervisorActive;
    let unit_name = ctx.unit_name();
    let handover =
        format!("{} && {} && {}", ctx.as_owner("save"), ctx.as_owner("kill"), fix::systemctl("start", &[&unit_name]));
    let finding = match ctx.unit {
        None if let Some(reason) = ctx.unknown_whether_anything_runs() => Finding::error(check, subject, reason),
        None if ctx.nothing_to_supervise() => {
            Finding::skip(check, subject, "no app runs or is saved here, and no unit starts PM2 for this home")
        }
        None => match ctx.daemon {
            None => Finding::violated(
                check,
                subject,
                "PM2 is not running, and no unit would start it",
                format!("{}; then {}", ctx.startup(), fix::systemctl("start", &[&unit_name])),
            ),
            Some(daemon) => Finding::violated(
                check,
                subject,
                format!("the PM2 daemon (pid {}) was started from a shell: no systemd unit owns it", daemon.pid),
                format!("{} && {handover}", ctx.startup()),
            ),
        },
        Some(unit) => match &unit.properties {
            Fact::Error(reason) => supervisor::properties_unreadable(check, subject, reason),
            Fact::Ok(props) => {
                let (state, sub) = (&props.active_state, &props.sub_state);
                match ctx.daemon {
                    None => Finding::violated(
                        check,
                        subject,
                        format!("PM2 is not running: {unit_name} is {state} ({sub})"),
                        fix::systemctl("start", &[&unit_name]),
                    ),
                    Some(daemon) => match (ctx.daemon_owned_by_unit(), &unit.service) {
                        (Some(true), _) => Finding::pass(
                            check,
                            subject,
                            format!("{unit_name} owns the PM2 daemon (pid {})", daemon.pid),
                        ),
                        (_, Fact::Error(reason)) => Finding::error(
                            check,
                            subject,
                            format!(
                                "the PM2 daemon (pid {}) runs, but whether {unit_name} owns it could not be told: {reason}",
                                daemon.pid
                            ),
                        ),
                        _ if *state != ActiveState::Active => Finding::violated(
                            check,
                            subject,
                            format!(
                                "the PM2 daemon (pid {}) was started from a shell; {unit_name} is {state} ({sub})",
                                daemon.pid
                            ),
                            handover,
                        ),
                        _ => Finding::violated(
                            check,
                            subject,
                            format!(
                                "{unit_name} is active, but the PM2 daemon (pid {}) is not its process: it was started from a shell",
                                daemon.pid
                            ),
                            handover,
                        ),
                    },
                }
            }
        },
    };
    finding
        .evidence("daemon_pid", ctx.daemon.map(|p| p.pid))
        .evidence("unit", ctx.unit.map(|u| u.name.as_str()))
        .evidence("main_pid", ctx.unit.and_then(|u| u.service.ok()).map(|service| service.main_pid))
}
