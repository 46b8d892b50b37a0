//! Processes and host identity from /proc and the cgroup filesystem.
//!
//! Processes come and go while we read: one that vanishes between listing and
//! reading is skipped, not reported as an error.

use std::io;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use super::files::os_message;
use super::model::{Fact, ProcessFacts};

/// Where systemd's cgroup tree can be mounted, in order of preference: the unified
/// hierarchy (cgroup v2), the unified part of a hybrid setup (Ubuntu 20.04, and
/// this project's lab), and the legacy `name=systemd` hierarchy (cgroup v1 only).
const CGROUP_ROOTS: [&str; 3] = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"];

/// The mount holding systemd's cgroup tree: the first of [`CGROUP_ROOTS`] that is
/// a cgroup2 root (`cgroup.controllers`), else the legacy `name=systemd` one.
fn cgroup_root() -> &'static str {
    CGROUP_ROOTS
        .iter()
        .copied()
        .find(|root| Path::new(root).join("cgroup.controllers").exists())
        .unwrap_or(CGROUP_ROOTS[2])
}

/// What turns a process's start time (clock ticks since boot) into wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BootClock {
    /// `btime` from /proc/stat: boot time, seconds since the epoch.
    pub(crate) btime: u64,
    /// `sysconf(_SC_CLK_TCK)`: clock ticks per second.
    pub(crate) ticks_per_second: u64,
}

impl BootClock {
    /// Reads btime and the clock tick rate; `None` when either is unavailable.
    pub(crate) fn read() -> Option<BootClock> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let btime = parse_btime(&stat)?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks_per_second = u64::try_from(ticks).ok().filter(|t| *t > 0)?;
        Some(BootClock { btime, ticks_per_second })
    }

    /// RFC 3339 UTC time of a start time in clock ticks after boot.
    pub(crate) fn started_at(&self, start_ticks: u64) -> String {
        let millis = start_ticks.saturating_mul(1000) / self.ticks_per_second;
        let at = UNIX_EPOCH + Duration::from_secs(self.btime) + Duration::from_millis(millis);
        humantime::format_rfc3339_seconds(at).to_string()
    }
}

/// The `btime` line of /proc/stat.
pub(crate) fn parse_btime(stat: &str) -> Option<u64> {
    stat.lines().find_map(|line| line.strip_prefix("btime ")).and_then(|value| value.trim().parse().ok())
}

/// The real uid from /proc/PID/status (`Uid:` real, effective, saved, fs).
pub(crate) fn parse_status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

/// Field 22 (starttime) of /proc/PID/stat. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_stat_starttime(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After `)` come fields 3, 4, …; field 22 is the 20th of them.
    after_comm.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// The unified-hierarchy path from /proc/PID/cgroup (the `0::` line), or on a
/// cgroup-v1-only host the `name=systemd` line, which holds the same unit path.
pub(crate) fn parse_cgroup(text: &str) -> Option<String> {
    let line_for = |prefix: &str| {
        text.lines().find_map(|line| {
            let (_, rest) = line.split_once(':')?;
            rest.strip_prefix(prefix).map(str::to_owned)
        })
    };
    text.lines().find_map(|line| line.strip_prefix("0::")).map(str::to_owned).or_else(|| line_for("name=systemd:"))
}

/// /proc/PID/cmdline split on NUL. Trailing NULs are dropped, not read as empty
/// arguments: a process that sets its title (PM2's daemon and apps do) overwrites argv
/// in place and leaves the rest of the area as NUL padding.
pub(crate) fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |last| last + 1);
    let bytes = &bytes[..end];
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes.split(|b| *b == 0).map(|arg| String::from_utf8_lossy(arg).into_owned()).collect()
}

/// Whether an error means the process (or its /proc entry) is gone.
fn is_gone(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ESRCH)
}

/// Reads one process. `Ok(None)` when it vanished while being read.
/// `user_name` resolves the uid to a login name (the caller caches lookups).
pub(crate) fn read_process(
    pid: u32,
    clock: Option<BootClock>,
    user_name: &mut impl FnMut(u32) -> Option<String>,
) -> io::Result<Option<ProcessFacts>> {
    let dir = format!("/proc/{pid}");
    let status = match std::fs::read_to_string(format!("{dir}/status")) {
        Ok(text) => text,
        Err(err) if is_gone(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(uid) = parse_status_uid(&status) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{dir}/status has no Uid line")));
    };
    let exe = match std::fs::read_link(format!("{dir}/exe")) {
        Ok(target) => Fact::Ok(target.to_string_lossy().into_owned()),
        Err(err) if is_gone(&err) => return Ok(None),
        // Another user's process without CAP_SYS_PTRACE: say so, keep the rest.
        Err(err) => Fact::Error(format!("cannot read {dir}/exe: {}", os_message(&err))),
    };
    let cmdline = match std::fs::read(format!("{dir}/cmdline")) {
        Ok(bytes) => parse_cmdline(&bytes),
        Err(err) if is_gone(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let started_at = match std::fs::read_to_string(format!("{dir}/stat")) {
        Ok(stat) => clock.zip(parse_stat_starttime(&stat)).map(|(clock, ticks)| clock.started_at(ticks)),
        Err(err) if is_gone(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let cgroup = match std::fs::read_to_string(format!("{dir}/cgroup")) {
        Ok(text) => parse_cgroup(&text),
        Err(err) if is_gone(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(Some(ProcessFacts { pid, uid, user: user_name(uid), exe, cmdline, started_at, cgroup }))
}

/// The pids in a unit's cgroup (`ControlGroup`), its child cgroups included
/// (a unit with `Delegate=` may move its processes below its own cgroup).
/// Empty when the unit has no cgroup (not running) or the cgroup is gone.
pub(crate) fn cgroup_pids(control_group: &str) -> io::Result<Vec<u32>> {
    if control_group.is_empty() {
        return Ok(Vec::new());
    }
    let mut pids = Vec::new();
    collect_cgroup_pids(&Path::new(cgroup_root()).join(control_group.trim_start_matches('/')), &mut pids)?;
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// Adds the pids of one cgroup directory and its children.
fn collect_cgroup_pids(dir: &Path, pids: &mut Vec<u32>) -> io::Result<()> {
    let procs = match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(text) => text,
        // The unit stopped between the D-Bus call and now.
        Err(err) if err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ENODEV) => {
            return Ok(());
        }
        Err(err) => {
            return Err(io::Error::new(
                err.kind(),
                format!("cannot read {}: {}", dir.join("cgroup.procs").display(), os_message(&err)),
            ));
        }
    };
    pids.extend(procs.lines().filter_map(|line| line.trim().parse::<u32>().ok()));
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            collect_cgroup_pids(&entry.path(), pids)?;
        }
    }
    Ok(())
}

/// Reads a one-line /proc file, trimmed.
fn read_line(path: &str) -> Fact<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Fact::Ok(text.trim().to_owned()),
        Err(err) => Fact::Error(format!("cannot read {path}: {}", os_message(&err))),
    }
}

/// The host name (`/proc/sys/kernel/hostname`).
pub(crate) fn hostname() -> Fact<String> {
    read_line("/proc/sys/kernel/hostname")
}

/// The boot id (`/proc/sys/kernel/random/boot_id`), new on every boot, as PID 1 sees it.
///
/// Read through `/proc/1/root` first: a container's boot id is a file its manager mounts
/// over that path (systemd-nspawn does), and a sandboxed service (`ProtectKernelTunables=`,
/// `ProtectControlGroups=`: the timer's service) gets a /proc of its own without it, where
/// the host kernel's boot id shows instead: a reboot of the container would go unseen.
/// Reading PID 1's view needs root; without it the process's own view is the answer.
pub(crate) fn boot_id() -> Fact<String> {
    match read_line("/proc/1/root/proc/sys/kernel/random/boot_id") {
        Fact::Ok(id) if !id.is_empty() => Fact::Ok(id),
        _ => read_line("/proc/sys/kernel/random/boot_id"),
    }
}

/// The command name of PID 1 (`/proc/1/comm`), to explain a missing systemd.
pub(crate) fn pid1_name() -> Option<String> {
    std::fs::read_to_string("/proc/1/comm").ok().map(|name| name.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttime_survives_odd_command_names() {
        let stat = "4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 11 0 123456 1000 50 18446744073709551615";
        assert_eq!(parse_stat_starttime(stat), Some(123456));
        assert_eq!(parse_stat_starttime("garbage"), None);
    }

    #[test]
    fn status_uid_is_the_real_uid() {
        let status = "Name:\tnode\nUmask:\t0022\nUid:\t1001\t1001\t1001\t1001\nGid:\t1001\t1001\t1001\t1001\n";
        assert_eq!(parse_status_uid(status), Some(1001));
        assert_eq!(parse_status_uid("Name:\tx\n"), None);
    }

    #[test]
    fn cgroup_line() {
        assert_eq!(
            parse_cgroup("0::/system.slice/system-my\\x2dapp.slice/my-app@39101.service\n"),
            Some("/system.slice/system-my\\x2dapp.slice/my-app@39101.service".into())
        );
        assert_eq!(parse_cgroup("12:cpu:/x\n"), None);
        assert_eq!(
            parse_cgroup("2:cpu:/\n1:name=systemd:/system.slice/a.service\n"),
            Some("/system.slice/a.service".into())
        );
    }

    #[test]
    fn cmdline_split() {
        assert_eq!(parse_cmdline(b"/usr/bin/node\0/opt/a b.js\0"), vec!["/usr/bin/node", "/opt/a b.js"]);
        assert!(parse_cmdline(b"").is_empty());
        assert_eq!(parse_cmdline(b"node /srv/api/server.js\0\0\0\0"), vec!["node /srv/api/server.js"]);
    }

    #[test]
    fn btime_and_started_at() {
        assert_eq!(parse_btime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"), Some(1_700_000_000));
        let clock = BootClock { btime: 1_700_000_000, ticks_per_second: 100 };
        assert_eq!(clock.started_at(250), "2023-11-14T22:13:22Z");
    }

    #[test]
    fn empty_cgroup_has_no_pids() {
        assert_eq!(cgroup_pids("").ok(), Some(Vec::new()));
        assert_eq!(cgroup_pids("/no/such/unit.service").ok(), Some(Vec::new()));
    }

    #[test]
    fn own_process_reads() {
        let mut names = |_uid: u32| None;
        let me = read_process(std::process::id(), BootClock::read(), &mut names).ok().flatten();
        assert!(me.is_some_and(|p| !p.cmdline.is_empty()));
        assert_eq!(read_process(u32::MAX - 1, None, &mut names).ok(), Some(None));
    }
}
