//! The running side of a PM2 home: did the apps saved online come back
//! (`pm2.resurrected`), is any restarting in a loop (`pm2.crash-loop`), and are its logs
//! bounded (`pm2.log-rotation`).

use std::collections::{BTreeMap, BTreeSet};

use super::context::{Context, human_age, online_counts, saved_online};
use crate::facts::{Fact, LiveApp, Pm2Status, RpcAnswer};
use crate::invariants::fix;
use crate::verdict::{CheckId, Finding, Subject};

/// Restarts at or above this, with the current process up for less than
/// [`CRASH_LOOP_UPTIME_MS`], is a crash loop.
const CRASH_LOOP_RESTARTS: u64 = 5;
/// Uptime under which climbing restarts count as a loop.
const CRASH_LOOP_UPTIME_MS: u64 = 60_000;

pub(super) fn resurrected(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2Resurrected;
    let Some(saved) = &ctx.saved else {
        // Not "does not apply": what was saved, and so what should be back, is unknown.
        let reason = ctx.dump_unreadable().unwrap_or("dump.pm2 could not be read");
        return Finding::error(check, subject, format!("which apps should be back cannot be told: {reason}"));
    };
    let Some(unit) = ctx.unit else {
        // The incident after the reboot: apps saved online, no daemon, nothing to start it.
        // Name what is down; while a daemon from a shell still runs, nothing is lost yet.
        let mut down: BTreeSet<&str> = saved.iter().filter(|a| saved_online(a)).map(|a| a.name.as_str()).collect();
        down.extend(&ctx.stopped_by_kill);
        if ctx.daemon.is_none() && ctx.live.is_none() && !down.is_empty() {
            let names: Vec<&str> = down.into_iter().collect();
            return with_kill_evidence(
                ctx,
                Finding::violated(
                    check,
                    subject,
                    format!(
                        "saved online but down: {}{} — no unit runs pm2 resurrect at boot (see supervisor.registered)",
                        names.join(", "),
                        stopped_by_kill_clause(ctx, &names),
                    ),
                    bring_back(ctx, ctx.as_owner("resurrect"), &names),
                )
                .evidence("saved_online", &names),
            );
        }
        return Finding::skip(check, subject, "no unit resurrects this home at boot (see supervisor.registered)");
    };
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    for app in saved.iter().filter(|a| saved_online(a) || ctx.stopped_by_kill.contains(a.name.as_str())) {
        *expected.entry(app.name.as_str()).or_insert(0) += 1;
    }
    if let Some(declared) = ctx.expected {
        for (name, count) in &declared.apps {
            expected.insert(name.as_str(), *count as usize);
        }
    }
    let names: Vec<&str> = expected.keys().copied().collect();
    let finding = match (&ctx.live, &ctx.home.daemon.rpc) {
        (_, Fact::Ok(RpcAnswer::NoAnswer { waited_ms })) => Finding::error(
            check,
            subject,
            format!("the PM2 daemon accepted on rpc.sock but did not answer within {waited_ms} ms"),
        ),
        (None, _) if expected.is_empty() => Finding::skip(check, subject, "nothing was saved online"),
        (None, _) => Finding::violated(
            check,
            subject,
            format!(
                "PM2 is not running: none of the apps saved online ({}) is up{}",
                names.join(", "),
                stopped_by_kill_clause(ctx, &names)
            ),
            bring_back(
                ctx,
                format!("{}; then: {}", fix::systemctl("restart", &[&unit.name]), fix::journal(&unit.name)),
                &names,
            ),
        ),
        (Some(live), _) => {
            let online = online_counts(live);
            // The apps short of what was saved, with how many run of how many.
            let short: Vec<(&str, usize, usize)> = expected
                .iter()
                .map(|(name, want)| (*name, online.get(name).copied().unwrap_or(0), *want))
                .filter(|(_, have, want)| have < want)
                .collect();
            if short.is_empty() {
                Finding::pass(check, subject, format!("every app saved online is online ({})", names.join(", ")))
            } else {
                let down: Vec<String> =
                    short.iter().map(|(name, have, want)| format!("{name} ({have} of {want} online)")).collect();
                let down_names: Vec<&str> = short.iter().map(|(name, _, _)| *name).collect();
                Finding::violated(
                    check,
                    subject,
                    format!(
                        "saved online but not online now: {}{}",
                        down.join(", "),
                        stopped_by_kill_clause(ctx, &down_names)
                    ),
                    bring_back(ctx, ctx.as_owner("resurrect"), &down_names),
                )
            }
        }
    };
    with_kill_evidence(ctx, finding.evidence("expected_online", &expected))
}

/// Of `names`, those dump.pm2 lists as stopped only because the daemon was killed just
/// after they exited (see [`Context::stopped_by_kill`](super::context::Context)).
fn caught_by_kill<'a>(ctx: &Context, names: &[&'a str]) -> Vec<&'a str> {
    names.iter().copied().filter(|name| ctx.stopped_by_kill.contains(name)).collect()
}

/// Why an app PM2 was running is `stopped` in the dump, when the kill is why.
fn stopped_by_kill_clause(ctx: &Context, names: &[&str]) -> String {
    let caught = caught_by_kill(ctx, names);
    if caught.is_empty() {
        return String::new();
    }
    format!(
        " ({} exited just before the PM2 daemon was killed, at a shutdown that did not run pm2 kill first; \
         PM2 wrote it into dump.pm2 as stopped, and pm2 resurrect leaves a stopped app stopped — see pm2.log)",
        caught.join(", ")
    )
}

/// `first`, then for each app the kill left stopped a `pm2 restart` (resurrect does not
/// start it) and a `pm2 save` so that the dump says online again.
fn bring_back(ctx: &Context, first: String, names: &[&str]) -> String {
    let caught = caught_by_kill(ctx, names);
    if caught.is_empty() {
        return first;
    }
    let restarts: Vec<String> =
        caught.iter().map(|name| ctx.as_owner(&format!("restart {}", fix::quote(name)))).collect();
    format!("{first}; {}; {}", restarts.join("; "), ctx.as_owner("save"))
}

fn with_kill_evidence(ctx: &Context, finding: Finding) -> Finding {
    if ctx.stopped_by_kill.is_empty() {
        return finding;
    }
    finding.evidence("stopped_by_kill", &ctx.stopped_by_kill)
}

/// The app processes restarting in a loop, each with what shows it.
pub(super) fn looping<'a>(ctx: &Context<'a>) -> Vec<(String, &'a LiveApp)> {
    let Some(live) = &ctx.live else { return Vec::new() };
    live.iter()
        .filter_map(|app| {
            let uptime = app.started_at_ms.map(|t| ctx.now_ms.saturating_sub(t));
            let up = uptime.map(|ms| format!(", up {}", human_age(ms))).unwrap_or_default();
            let low_uptime = uptime.is_none_or(|ms| ms < CRASH_LOOP_UPTIME_MS);
            if app.status == Pm2Status::Errored {
                Some((format!("{} errored after {} restarts", app.name, app.restart_time), *app))
            } else if app.unstable_restarts > 0 {
                Some((format!("{} had {} unstable restarts{up}", app.name, app.unstable_restarts), *app))
            } else if (app.restart_time >= CRASH_LOOP_RESTARTS && low_uptime)
                || (app.status == Pm2Status::WaitingRestart && app.restart_time > 0)
            {
                Some((format!("{} restarted {} times{up}", app.name, app.restart_time), *app))
            } else {
                None
            }
        })
        .collect()
}

/// `pm2.crash-loop`: no app keeps restarting while its uptime stays low.
pub(super) fn crash_loop(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2CrashLoop;
    let Some(live) = &ctx.live else {
        return match ctx.daemon_unreadable() {
            Some(reason) => Finding::error(check, subject, format!("the daemon could not be asked: {reason}")),
            None => Finding::skip(check, subject, "the live app list is not available: no daemon runs"),
        };
    };
    let looping = looping(ctx);
    match looping.first() {
        None => Finding::pass(check, subject, format!("no app is restarting in a loop ({} process(es))", live.len())),
        Some((_, app)) => Finding::violated(
            check,
            subject,
            format!("↺ climbs while uptime stays low: {}", looping.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>().join("; ")),
            ctx.as_owner(&format!("logs {} --lines 50 --nostream", fix::quote(&app.name))),
        )
        .evidence(
            "apps",
            looping
                .iter()
                .map(|(_, a)| serde_json::json!({"name": a.name, "status": a.status, "restart_time": a.restart_time, "unstable_restarts": a.unstable_restarts}))
                .collect::<Vec<_>>(),
        ),
    }
}

pub(super) fn log_rotation(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2LogRotation;
    if ctx.nothing_to_supervise() && ctx.unit.is_none() {
        // What `pm2 startup` run as root for another user leaves behind: no app writes logs here.
        return Finding::skip(
            check,
            subject,
            format!("no app runs or is saved in {}: no logs grow here", ctx.home.home),
        );
    }
    match &ctx.home.modules {
        Fact::Error(reason) => {
            Finding::error(check, subject, format!("could not read the installed PM2 modules: {reason}"))
        }
        Fact::Ok(modules) if modules.iter().any(|m| m == "pm2-logrotate") => {
            Finding::pass(check, subject, "pm2-logrotate is installed")
        }
        Fact::Ok(modules) => Finding::violated(
            check,
            subject,
            format!("pm2-logrotate is not installed: {}/logs grows until the disk is full", ctx.home.home),
            ctx.as_owner("install pm2-logrotate"),
        )
        .evidence("modules", modules),
    }
}
