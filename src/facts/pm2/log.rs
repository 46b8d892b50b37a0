//! What `pm2.log` tells of the last time the daemon was killed by a signal.
//!
//! A PM2 daemon that gets SIGTERM writes dump.pm2 before it exits ("pm2 has been killed
//! by signal, dumping process list before exit..."). At a shutdown, systemd signals the
//! daemon and its apps at once unless `ExecStop=pm2 kill` stopped them first (a daemon
//! started from a shell, a hand-written unit): when an app's exit reaches the daemon
//! first, PM2 marks it `stopped` and writes that into the dump, and `pm2 resurrect`
//! leaves a `stopped` app stopped (PM2 issue #6036). The dump alone cannot tell that
//! from `pm2 stop`; the log can.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};

use super::super::files::os_message;
use super::super::model::{DaemonKill, Fact};

/// How much of the end of `pm2.log` is read: it is not rotated by default and grows for
/// the life of the host, while the last kill is in its last lines.
pub(crate) const LOG_TAIL_MAX: u64 = 1 << 20;

/// The last kill `HOME/pm2.log` records; `Ok(None)` when there is no log or no kill in
/// its tail.
pub(crate) fn read_last_kill(path: &str) -> Fact<Option<DaemonKill>> {
    match read_tail(path, LOG_TAIL_MAX) {
        Ok(Some(text)) => Fact::Ok(last_kill(&text)),
        Ok(None) => Fact::Ok(None),
        Err(err) => Fact::Error(format!("could not read {path}: {}", os_message(&err))),
    }
}

/// The last `max` bytes of a file, from its first whole line; `None` when it does not exist.
fn read_tail(path: &str, max: u64) -> std::io::Result<Option<String>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let size = file.metadata()?.len();
    let start = size.saturating_sub(max);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let whole = match (start, text.find('\n')) {
        (0, _) => &text[..],
        (_, Some(newline)) => &text[newline + 1..],
        (_, None) => "",
    };
    Ok(Some(whole.to_owned()))
}

/// The last kill in a log's text, with the apps it caught down.
pub(crate) fn last_kill(text: &str) -> Option<DaemonKill> {
    let mut last: Option<DaemonKill> = None;
    // Within the current daemon's life: apps asked to stop, apps down after an exit
    // nobody asked for, and whether the daemon is already going down.
    let mut asked: BTreeSet<String> = BTreeSet::new();
    let mut down: BTreeSet<String> = BTreeSet::new();
    let mut dying = false;
    for line in text.lines() {
        // An app's own name cannot pass for the daemon's lines.
        let daemon_line = !line.contains("App [");
        if daemon_line && line.contains("New PM2 Daemon started") {
            if let Some(kill) = &mut last {
                kill.daemons_after += 1;
            }
            (asked, down, dying) = (BTreeSet::new(), BTreeSet::new(), false);
        } else if daemon_line && line.contains("pm2 has been killed by signal") {
            last = Some(DaemonKill { apps_down: down.iter().cloned().collect(), daemons_after: 0 });
            dying = true;
        } else if dying {
            // What the daemon does as it exits (deleting, stopping) is its own doing.
        } else if let Some(event) = app_event(line) {
            match event {
                AppEvent::Online(name) => {
                    asked.remove(name);
                    down.remove(name);
                }
                AppEvent::StopAsked(name) => {
                    asked.insert(name.to_owned());
                }
                AppEvent::Exited { name, signal } => {
                    // PM2 writes SIGINT when the process exited without a signal.
                    if !asked.remove(name) && signal != "SIGINT" {
                        down.insert(name.to_owned());
                    }
                }
            }
        }
    }
    last
}

/// One line about an app, as PM2 7 (`App [web:0] online`) and PM2 2
/// (`App name:web id:0 online`) write it.
#[derive(Debug, PartialEq)]
enum AppEvent<'a> {
    /// Online again. Not "starting": until the new process runs, PM2's list keeps the
    /// exited one, and a dump written then says stopped.
    Online(&'a str),
    StopAsked(&'a str),
    Exited {
        name: &'a str,
        signal: &'a str,
    },
}

fn app_event(line: &str) -> Option<AppEvent<'_>> {
    if let Some(rest) = after(line, "Stopping app:") {
        return Some(AppEvent::StopAsked(before_last(rest, " id:")?));
    }
    if let Some(rest) = after(line, "App name:") {
        return rest.ends_with(" online").then(|| before_last(rest, " id:")).flatten().map(AppEvent::Online);
    }
    let rest = after(line, "App [")?;
    if let Some((inner, signal)) = rest.rsplit_once("exited with code [") {
        let signal = signal.split_once("via signal [")?.1.split(']').next()?;
        // `web:0] ` (PM2 7) or `web] with id [0] and pid [42], ` (PM2 2).
        let inner = inner.trim_end().trim_end_matches(',');
        let name = match inner.split_once("] with id [") {
            Some((name, _)) => name,
            None => app_name(inner.strip_suffix(']')?)?,
        };
        return Some(AppEvent::Exited { name, signal });
    }
    app_name(rest.strip_suffix("] online")?).map(AppEvent::Online)
}

/// `web:0` → `web`: the name before the last `:ID`.
fn app_name(inner: &str) -> Option<&str> {
    let (name, id) = inner.rsplit_once(':')?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(name)
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|at| &line[at + marker.len()..])
}

fn before_last<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.rsplit_once(marker).map(|(head, _)| head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pm2.log real PM2 7.0.4 wrote in the lab (see tests/pm2/log).
    fn captured(name: &str) -> String {
        let path = format!("{}/tests/pm2/log/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    #[test]
    fn an_app_whose_exit_reached_the_daemon_before_its_kill_is_down_in_that_kill() {
        let kill = last_kill(&captured("killed-after-web-exited.log")).expect("the log records a kill");
        assert_eq!(kill, DaemonKill { apps_down: vec!["web".to_owned()], daemons_after: 0 });
    }

    #[test]
    fn an_app_being_restarted_when_the_daemon_was_killed_is_down() {
        // "starting in -fork mode-" came before the kill, "online" after it: the dump the
        // kill wrote says stopped (seen once in twelve tries of the lab's race).
        let kill = last_kill(&captured("killed-while-web-restarted.log")).expect("the log records a kill");
        assert_eq!(kill.apps_down, ["web"]);
    }

    #[test]
    fn an_app_still_running_when_the_daemon_was_killed_is_not_down() {
        let kill = last_kill(&captured("killed-before-web-exited.log")).expect("the log records a kill");
        assert_eq!(kill.apps_down, Vec::<String>::new());
    }

    #[test]
    fn an_app_stopped_with_pm2_stop_is_not_down() {
        let kill = last_kill(&captured("killed-after-pm2-stop.log")).expect("the log records a kill");
        assert_eq!(kill.apps_down, Vec::<String>::new());
    }

    #[test]
    fn daemons_started_after_the_kill_are_counted_and_start_afresh() {
        let mut text = captured("killed-after-web-exited.log");
        text.push_str(&captured("killed-before-web-exited.log").replace("pm2 has been killed", "(no kill)"));
        let kill = last_kill(&text).expect("the first daemon's kill");
        assert_eq!(kill, DaemonKill { apps_down: vec!["web".to_owned()], daemons_after: 1 });
    }

    #[test]
    fn a_log_without_a_kill_records_none() {
        assert_eq!(last_kill("2026-12-01T18:16:26: PM2 log: App [web:0] online\n"), None);
        assert_eq!(last_kill(""), None);
    }

    #[test]
    fn pm2_2_lines_are_read_too() {
        // As PM2 2.x wrote them (quoted in PM2 issue #2827).
        let text = "\
2017-04-10 19:30:20: Starting execution sequence in -fork mode- for app name:zal.su id:1
2017-04-10 19:30:20: App name:zal.su id:1 online
2017-04-10 19:30:25: App [zal.su] with id [1] and pid [11334], exited with code [0] via signal [SIGTERM]
2017-04-10 19:30:25: pm2 has been killed by signal, dumping process list before exit...
2017-04-10 19:30:26: Deleting process 1
";
        assert_eq!(last_kill(text).expect("a kill").apps_down, ["zal.su"]);
    }

    #[test]
    fn names_with_colons_brackets_and_spaces_keep_them() {
        let text = "\
x: PM2 log: App [a:b] c:7] online
x: PM2 log: App [a:b] c:7] exited with code [0] via signal [SIGTERM]
x: PM2 log: pm2 has been killed by signal, dumping process list before exit...
";
        assert_eq!(last_kill(text).expect("a kill").apps_down, ["a:b] c"]);
    }

    #[test]
    fn a_natural_exit_is_not_claimed_for_the_kill() {
        let text = "\
x: PM2 log: App [web:0] exited with code [1] via signal [SIGINT]
x: PM2 log: pm2 has been killed by signal, dumping process list before exit...
";
        assert_eq!(last_kill(text).expect("a kill").apps_down, Vec::<String>::new());
    }

    #[test]
    fn the_tail_of_a_long_log_starts_at_a_whole_line() {
        let dir = std::env::temp_dir().join(format!("bootproof-log-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pm2.log");
        std::fs::write(&path, "first line that is cut\nsecond\nthird\n").unwrap();
        let tail = read_tail(&path.to_string_lossy(), 12).unwrap().unwrap();
        assert_eq!(tail, "third\n");
        assert_eq!(read_tail(&dir.join("missing").to_string_lossy(), 12).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
