//! The saved side of a PM2 home: `dump.pm2` exists and parses (`pm2.dump`), holds every
//! app as it runs now and is not older than the check file allows (`pm2.dump-fresh`), and
//! does not hand the environment values it carries to every user (`pm2.dump-secrets`).

use std::collections::BTreeSet;

use super::context::{Context, human_age, online_counts, saved_counts, saved_online};
use crate::facts::node::{ExecKind, classify_exec};
use crate::facts::pm2::discover::runs_pm2_resurrect;
use crate::facts::{Fact, LiveApp, Pm2Home, SavedApp, StopCommand};
use crate::invariants::fix;
use crate::verdict::{CheckId, Finding, Subject};

/// Environment variable names that usually carry secrets.
const SECRET_HINTS: &[&str] = &["PASS", "SECRET", "TOKEN", "KEY", "PRIVATE", "CREDENTIAL", "DATABASE_URL", "AUTH"];

/// How long ago `dump.pm2` was written, when its stat could be read.
fn dump_age_ms(ctx: &Context) -> Option<u64> {
    let stat = ctx.home.dump.file.stat.ok()?.as_ref()?;
    let mtime_ms = u64::try_from(stat.mtime).ok()?.saturating_mul(1000);
    Some(ctx.now_ms.saturating_sub(mtime_ms))
}

pub(super) fn dump(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2Dump;
    let path = ctx.home.dump.file.path.as_str();
    let running = ctx.live.as_ref().map_or(0, |apps| apps.len());
    let save = ctx.as_owner("save");
    let finding = match (&ctx.home.dump.file.stat, &ctx.home.dump.apps) {
        (Fact::Error(reason), _) => Finding::error(check, subject, format!("could not read {path}: {reason}")),
        (Fact::Ok(None), _) if running > 0 => Finding::violated(
            check,
            subject,
            format!("no {path}: pm2 resurrect has nothing to bring back, and {running} app process(es) run now"),
            save,
        ),
        (Fact::Ok(None), _) => Finding::skip(check, subject, "no dump.pm2, and no app runs"),
        (Fact::Ok(Some(_)), Fact::Error(reason)) => {
            let backup_ok = ctx.home.dump_backup.apps.ok().is_some_and(|apps| !apps.is_empty());
            let remediation = if backup_ok {
                format!(
                    "restore the previous save: sudo cp -p {} {path}; or save what runs now: {save}",
                    ctx.home.dump_backup.file.path
                )
            } else {
                save
            };
            Finding::violated(
                check,
                subject,
                format!("{path} cannot be used ({reason}): pm2 resurrect will bring nothing back"),
                remediation,
            )
        }
        (Fact::Ok(Some(_)), Fact::Ok(apps)) if apps.is_empty() && running > 0 => Finding::violated(
            check,
            subject,
            format!("{path} is empty while {running} app process(es) run: pm2 resurrect will bring none back"),
            save,
        ),
        (Fact::Ok(Some(_)), Fact::Ok(apps)) => {
            let age = dump_age_ms(ctx).map(|ms| format!(", saved {} ago", human_age(ms))).unwrap_or_default();
            let holds = format!("{path} holds {} app(s){age}", apps.len());
            match (shutdown_saves_stopped(ctx), ctx.unit) {
                (Some(how), Some(unit)) if apps.iter().any(saved_online) => Finding::warn(
                    check,
                    subject,
                    format!("{holds}, but {} {how}", unit.name),
                    stop_with_pm2_kill(ctx, &unit.name),
                ),
                _ => Finding::pass(check, subject, holds),
            }
        }
    };
    finding.evidence("path", path).evidence("running_processes", running)
}

/// How the unit that resurrects this home at boot makes PM2 save its apps as stopped
/// at a shutdown, when it does. PM2 writes dump.pm2 as a signal kills it (see
/// facts::pm2::log): after `pm2 kill` or `pm2 delete` there is nothing left to write,
/// after `pm2 stop` every app is written stopped, and when systemd signals the daemon and
/// its apps at once, an app whose exit reaches PM2 first is. `pm2 resurrect` leaves a
/// stopped app stopped. A stop command that is not the pm2 CLI is not judged.
fn shutdown_saves_stopped(ctx: &Context) -> Option<&'static str> {
    let service = ctx.unit?.service.ok()?;
    if !service.exec_start.iter().any(|c| runs_pm2_resurrect(&c.path, &c.argv)) {
        return None;
    }
    let stops = service.exec_stop.as_ref()?;
    let pm2_action = |c: &StopCommand| {
        let args = c.argv.get(1..).unwrap_or_default();
        let pm2 = classify_exec(&c.path, &c.argv) == ExecKind::Pm2Cli;
        pm2.then(|| args.iter().find_map(|a| ["kill", "delete", "del", "stop"].into_iter().find(|w| a == w))).flatten()
    };
    let actions: Vec<Option<&str>> = stops.iter().map(pm2_action).collect();
    if actions.iter().any(|a| matches!(a, Some("kill" | "delete" | "del"))) {
        None
    } else if actions.contains(&Some("stop")) {
        Some(
            "stops PM2 with ExecStop=pm2 stop: every app is then stopped when systemd signals the daemon, \
             which saves them all as stopped into dump.pm2 — and pm2 resurrect leaves them stopped at the next boot",
        )
    } else if stops.is_empty() && service.kill_mode.as_deref() == Some("control-group") {
        Some(
            "has no ExecStop=pm2 kill and KillMode=control-group: at a shutdown systemd signals PM2 and its apps at \
             once, and an app whose exit reaches PM2 first is saved into dump.pm2 as stopped — pm2 resurrect then \
             leaves it stopped (PM2 issue #6036)",
        )
    } else {
        None
    }
}

/// A drop-in that makes the unit stop PM2 with `pm2 kill` (what `pm2 startup` writes):
/// the apps are deleted first, so the daemon has nothing to save as it exits.
fn stop_with_pm2_kill(ctx: &Context, unit: &str) -> String {
    let dir = format!("/etc/systemd/system/{unit}.d");
    format!(
        "sudo mkdir -p {dir} && printf '[Service]\\nExecStop=\\nExecStop=%s kill\\n' {} | sudo tee {file} >/dev/null && sudo systemctl daemon-reload",
        fix::quote(&ctx.pm2),
        dir = fix::quote(&dir),
        file = fix::quote(&format!("{dir}/pm2-kill.conf")),
    )
}

/// One way an app running now differs from what `dump.pm2` holds of it.
pub(super) struct Difference<'a> {
    /// The app.
    pub(super) app: &'a str,
    /// How, for messages: `worker (not in dump.pm2)`, `api (4 running, 2 saved)`.
    pub(super) text: String,
}

/// What running now and saved differ in.
pub(super) struct Comparison<'a> {
    /// Apps online now and not saved at all.
    pub(super) missing: Vec<Difference<'a>>,
    /// Apps saved otherwise than they run: fewer instances, another script or exec mode,
    /// or saved stopped.
    pub(super) changed: Vec<Difference<'a>>,
    /// Apps saved that do not run now.
    pub(super) stale: Vec<&'a str>,
}

/// Compares the apps online now with the apps saved: the one comparison both
/// `pm2.dump-fresh` and the per-app prediction read.
pub(super) fn compare<'a>(live: &[&'a LiveApp], saved: &[&'a SavedApp]) -> Comparison<'a> {
    let running = online_counts(live);
    let saved_count = saved_counts(saved);
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    for (&name, &count) in &running {
        if count == 0 {
            continue;
        }
        let entries: Vec<&&SavedApp> = saved.iter().filter(|s| s.name == name).collect();
        let Some(entry) = entries.first() else {
            missing.push(Difference { app: name, text: format!("{name} (not in dump.pm2)") });
            continue;
        };
        let kept = saved_count.get(name).copied().unwrap_or(0);
        if kept != count {
            changed.push(Difference { app: name, text: format!("{name} ({count} running, {kept} saved)") });
        }
        if !entries.iter().any(|e| saved_online(e)) {
            changed.push(Difference { app: name, text: format!("{name} (online now, saved stopped)") });
        }
        if let Some(app) = live.iter().find(|a| a.name == name) {
            if app.script.is_some() && entry.script.is_some() && app.script != entry.script {
                changed.push(Difference {
                    app: name,
                    text: format!(
                        "{name} (runs {}, saved {})",
                        app.script.as_deref().unwrap_or("?"),
                        entry.script.as_deref().unwrap_or("?")
                    ),
                });
            }
            if app.exec_mode.is_some() && entry.exec_mode.is_some() && app.exec_mode != entry.exec_mode {
                changed.push(Difference {
                    app: name,
                    text: format!(
                        "{name} ({} now, {} saved)",
                        app.exec_mode.as_deref().unwrap_or("?"),
                        entry.exec_mode.as_deref().unwrap_or("?")
                    ),
                });
            }
        }
    }
    let stale: Vec<&str> = saved
        .iter()
        .filter(|s| running.get(s.name.as_str()).is_none_or(|n| *n == 0))
        .map(|s| s.name.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Comparison { missing, changed, stale }
}

/// `pm2.dump-fresh`: every app running now is saved as it runs (name, instance count,
/// script, exec mode); apps saved that no longer run are reported; and with
/// `[thresholds] dump_max_age`, a dump saved longer ago than that is a warning even when
/// it matches: deploys since may have changed what this comparison cannot see.
pub(super) fn dump_fresh(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2DumpFresh;
    let age = dump_age_ms(ctx);
    let too_old = match (age, ctx.dump_max_age_ms) {
        (Some(age), Some(max)) if age > max => Some(format!(
            "dump.pm2 was saved {} ago, longer ago than dump_max_age ({}): deploys since then may have changed what this comparison cannot see (environment, arguments)",
            human_age(age),
            human_age(max)
        )),
        _ => None,
    };
    let save = ctx.as_owner("save");
    let (Some(live), Some(saved)) = (&ctx.live, &ctx.saved) else {
        if let (Some(old), Some(_)) = (&too_old, &ctx.saved) {
            return Finding::warn(check, subject, old.clone(), format!("when what runs is what should run: {save}"))
                .evidence("age_ms", age)
                .evidence("dump_max_age_ms", ctx.dump_max_age_ms);
        }
        if let Some(reason) = ctx.dump_unreadable() {
            return Finding::error(check, subject, format!("what pm2 resurrect would start cannot be told: {reason}"));
        }
        if let Some(reason) = ctx.daemon_unreadable() {
            return Finding::error(check, subject, format!("what runs cannot be told: {reason}"));
        }
        return Finding::skip(check, subject, "needs both the live app list and a readable dump.pm2");
    };
    let Comparison { missing, changed, stale } = compare(live, saved);
    let also_old = too_old.as_deref().map(|old| format!("; {old}")).unwrap_or_default();
    let finding = if !missing.is_empty() || !changed.is_empty() {
        let parts: Vec<&str> = missing.iter().chain(&changed).map(|d| d.text.as_str()).collect();
        Finding::violated(
            check,
            subject,
            format!(
                "dump.pm2 is stale: after a reboot these would not come back as they run now: {}{also_old}",
                parts.join(", ")
            ),
            save,
        )
    } else if !stale.is_empty() && ctx.unit.is_none() {
        Finding::warn(
            check,
            subject,
            format!(
                "dump.pm2 holds {} that no longer run(s): pm2 resurrect would start it again at boot{also_old}",
                stale.join(", ")
            ),
            format!("if it was removed on purpose: {save}"),
        )
    } else if let Some(old) = too_old {
        Finding::warn(check, subject, old, format!("when what runs is what should run: {save}"))
    } else {
        let age = match (age, ctx.dump_max_age_ms) {
            (Some(age), Some(max)) => {
                format!("; saved {} ago, within dump_max_age ({})", human_age(age), human_age(max))
            }
            // Without a threshold the age is pm2.dump's to show.
            _ => String::new(),
        };
        Finding::pass(check, subject, format!("every running app is saved ({} app(s)){age}", online_counts(live).len()))
    };
    let texts = |differences: &[Difference]| differences.iter().map(|d| d.text.clone()).collect::<Vec<_>>();
    finding
        .evidence("missing", texts(&missing))
        .evidence("changed", texts(&changed))
        .evidence("saved_not_running", stale)
        .evidence("age_ms", age)
        .evidence("dump_max_age_ms", ctx.dump_max_age_ms)
}

pub(super) fn dump_secrets(ctx: &Context, subject: &Subject) -> Finding {
    let check = CheckId::Pm2DumpSecrets;
    let Some(saved) = &ctx.saved else {
        let reason = ctx.dump_unreadable().unwrap_or("dump.pm2 could not be read");
        return Finding::error(check, subject, format!("whether it carries secrets cannot be told: {reason}"));
    };
    let keys: std::collections::BTreeSet<&str> =
        saved.iter().flat_map(|a| a.env_keys.iter().map(String::as_str)).collect();
    if keys.is_empty() {
        return Finding::pass(check, subject, "dump.pm2 carries no environment values");
    }
    let closed_at = closed_to_others(ctx.home);
    let readable: Vec<(&str, u32)> = [&ctx.home.dump.file, &ctx.home.dump_backup.file]
        .into_iter()
        .filter_map(|f| f.stat.ok().and_then(Option::as_ref).map(|s| (f.path.as_str(), s.mode)))
        .filter(|(_, mode)| closed_at.is_none() && mode & 0o004 != 0)
        .collect();
    let secret_like: Vec<&str> =
        keys.iter().copied().filter(|k| SECRET_HINTS.iter().any(|h| k.to_ascii_uppercase().contains(h))).collect();
    let finding = if readable.is_empty() {
        let why = closed_at.map(|dir| format!(" ({dir} is closed to other users)")).unwrap_or_default();
        Finding::pass(
            check,
            subject,
            format!("dump.pm2 carries {} environment value(s) and only its owner can read it{why}", keys.len()),
        )
    } else {
        let files: Vec<String> = readable.iter().map(|(p, m)| format!("{p} (mode {m:o})")).collect();
        let named =
            if secret_like.is_empty() { String::new() } else { format!(", among them {}", secret_like.join(", ")) };
        Finding::violated(
            check,
            subject,
            format!("{} environment value(s){named} are readable by every user in {}", keys.len(), files.join(", ")),
            format!("sudo chmod 600 {}", fix::quote_all(&readable.iter().map(|(p, _)| *p).collect::<Vec<_>>())),
        )
    };
    finding.evidence("env_keys", keys.len()).evidence("secret_like", secret_like)
}

/// The first directory on the way to the home's files (its ancestors, then the home)
/// that other users cannot pass (no `o+x`); `None` when they reach the files. A directory
/// that could not be read counts as open: the finding must not hide a readable secret.
fn closed_to_others(home: &Pm2Home) -> Option<&str> {
    home.ancestors
        .iter()
        .chain(std::iter::once(&home.dir))
        .find(|dir| dir.stat.ok().and_then(Option::as_ref).is_some_and(|s| s.mode & 0o001 == 0))
        .map(|dir| dir.path.as_str())
}
