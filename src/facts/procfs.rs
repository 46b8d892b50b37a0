//! Processes and host identity from /proc and the cgroup filesystem.
//!
//! [`ProcessTable::scan`] is the one pass over /proc a run makes: every userspace
//! process's `stat`, `cmdline` and `exe`, read once, with the TCP sockets each listens on
//! (see `sockets`). Everything else that needs a process — a unit's cgroup members, the
//! PM2 daemons and their apps, the process classification — looks it up there; `status`
//! (the uid) and `cgroup` are read only for the processes that are reported, `cwd` and
//! `environ` (names only) only for the few whose remediation sketches a unit.
//!
//! Processes come and go while we read: one that vanishes between listing and
//! reading is skipped, not reported as an error.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::files::{self, os_message};
use super::model::{Fact, Listening, ProcessFacts, UnattributedSockets};
use super::sockets;

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
        humantime::format_rfc3339_seconds(self.started(start_ticks)).to_string()
    }

    /// The wall-clock time of a start time in clock ticks after boot.
    pub(crate) fn started(&self, start_ticks: u64) -> SystemTime {
        let millis = start_ticks.saturating_mul(1000) / self.ticks_per_second;
        UNIX_EPOCH + Duration::from_secs(self.btime) + Duration::from_millis(millis)
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

/// How many PID namespaces the `NSpid:` line of /proc/PID/status lists the process in.
pub(crate) fn parse_nspid_depth(status: &str) -> Option<usize> {
    status.lines().find_map(|line| line.strip_prefix("NSpid:")).map(|ids| ids.split_whitespace().count())
}

/// How many PID namespaces deep this process (bootproof) is.
pub(crate) fn own_nspid_depth() -> Option<usize> {
    std::fs::read_to_string("/proc/self/status").ok().as_deref().and_then(parse_nspid_depth)
}

/// Field 22 (starttime) of /proc/PID/stat. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_stat_starttime(stat: &str) -> Option<u64> {
    parse_stat(stat).and_then(|stat| stat.start_ticks)
}

/// What the table keeps of /proc/PID/stat.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stat {
    /// Field 2, the command name (`comm`), without its parentheses.
    comm: String,
    /// Field 4.
    ppid: u32,
    /// Field 9 has `PF_KTHREAD`: a kernel thread, never a service.
    kernel_thread: bool,
    /// Field 22.
    start_ticks: Option<u64>,
}

/// The kernel's flag for its own threads (include/linux/sched.h).
const PF_KTHREAD: u64 = 0x0020_0000;

/// Parses /proc/PID/stat: the command name sits between the first `(` and the last `)`
/// (it may hold both), the numeric fields follow.
fn parse_stat(stat: &str) -> Option<Stat> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    // After `)` come fields 3, 4, …: field N is the (N-3)th of them.
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let ppid = fields.get(4 - 3)?.parse().ok()?;
    let flags: u64 = fields.get(9 - 3).and_then(|f| f.parse().ok()).unwrap_or(0);
    let start_ticks = fields.get(22 - 3).and_then(|f| f.parse().ok());
    Some(Stat { comm, ppid, kernel_thread: flags & PF_KTHREAD != 0, start_ticks })
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

/// Reads at most `max` bytes of a file.
fn read_bounded(path: &str, max: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads a /proc file of one process into `buf`, in as few calls as the kernel allows: a
/// /proc file is generated whole on the first read, so a read that does not fill the
/// buffer has it all (no second read for the end of file, no size lookup first). At
/// most `max` bytes. This is the scan's inner loop: on a host of thousands of
/// processes, each saved call is thousands of calls.
fn read_proc_file(path: &str, buf: &mut Vec<u8>, max: usize) -> io::Result<()> {
    buf.clear();
    let mut file = std::fs::File::open(path)?;
    let mut chunk = 4096.min(max);
    loop {
        let start = buf.len();
        buf.resize(start + chunk, 0);
        let n = file.read(&mut buf[start..])?;
        buf.truncate(start + n);
        if n < chunk || buf.len() >= max {
            return Ok(());
        }
        chunk = (chunk * 2).min(max - buf.len());
    }
}

/// A command line longer than this is cut: enough for any real one, bounded for a hostile one.
const CMDLINE_MAX: u64 = 32 * 1024;

/// An environment larger than this is read only this far (ARG_MAX-sized ones exist).
const ENVIRON_MAX: u64 = 2 * 1024 * 1024;

/// One userspace process as the scan read it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    /// Process id.
    pub(crate) pid: u32,
    /// Parent's pid (0: outside this PID namespace).
    pub(crate) ppid: u32,
    /// `comm`.
    pub(crate) comm: String,
    /// `/proc/PID/cmdline`, split on NUL (a process title for PM2 and tmux).
    pub(crate) cmdline: Vec<String>,
    /// Target of `/proc/PID/exe`.
    pub(crate) exe: Fact<String>,
    /// Start time in clock ticks after boot.
    start_ticks: Option<u64>,
}

impl Row {
    /// The JavaScript runtime this process runs, by its binary or `argv[0]`.
    pub(crate) fn runtime(&self) -> Option<&'static str> {
        let by_exe = self.exe.ok().and_then(|exe| super::node::runtime_named(exe.trim_end_matches(" (deleted)")));
        by_exe.or_else(|| self.cmdline.first().and_then(|arg0| super::node::runtime_named(arg0)))
    }

    /// The command line joined with spaces, cut to `max` characters.
    pub(crate) fn title(&self, max: usize) -> String {
        let joined = self.cmdline.join(" ");
        match joined.char_indices().nth(max) {
            Some((cut, _)) => format!("{}…", &joined[..cut]),
            None => joined,
        }
    }
}

/// The one pass over /proc of a run (see the module documentation).
pub(crate) struct ProcessTable {
    /// Turns start ticks into wall-clock time.
    clock: Option<BootClock>,
    /// Every userspace process, by pid.
    rows: BTreeMap<u32, Row>,
    /// The TCP sockets each process listens on.
    listening: HashMap<u32, Vec<Listening>>,
    /// Sockets no process could be found for, and why.
    unattributed: Option<UnattributedSockets>,
    /// Processes that could not be read (other than vanished): how many, and the first reason.
    unreadable: Option<(usize, String)>,
    /// uid → login name, one NSS lookup per uid.
    user_names: RefCell<HashMap<u32, Option<String>>>,
    /// pid → cgroup path, each read once.
    cgroups: RefCell<HashMap<u32, Option<String>>>,
}

impl ProcessTable {
    /// Reads every userspace process and the listening sockets. Kernel threads cost one
    /// read of their `stat`; every other process a `stat`, a `cmdline` and a `readlink`.
    pub(crate) fn scan() -> ProcessTable {
        let mut rows = BTreeMap::new();
        let mut unreadable: Option<(usize, String)> = None;
        let mut note = |pid: u32, err: &io::Error| {
            let entry = unreadable.get_or_insert_with(|| (0, format!("/proc/{pid}: {}", os_message(err))));
            entry.0 += 1;
        };
        let mut buf = Vec::with_capacity(4096);
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
                    continue;
                };
                match read_row(pid, &mut buf) {
                    Ok(Some(row)) => {
                        rows.insert(pid, row);
                    }
                    Ok(None) => {}
                    Err(err) => note(pid, &err),
                }
            }
        }
        let (listening, unattributed) = match sockets::listening_sockets() {
            Ok(sockets) => sockets::attribute(&sockets, rows.keys().copied()),
            Err(reason) => (
                HashMap::new(),
                Some(UnattributedSockets { sockets: Vec::new(), reason: format!("cannot list TCP sockets: {reason}") }),
            ),
        };
        ProcessTable {
            clock: BootClock::read(),
            rows,
            listening,
            unattributed,
            unreadable,
            user_names: RefCell::new(HashMap::new()),
            cgroups: RefCell::new(HashMap::new()),
        }
    }

    /// Every process the scan read, by pid.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    /// When `pid` started, when the scan could tell.
    pub(crate) fn started(&self, pid: u32) -> Option<SystemTime> {
        let ticks = self.rows.get(&pid)?.start_ticks?;
        Some(self.clock?.started(ticks))
    }

    /// One process of the scan.
    pub(crate) fn row(&self, pid: u32) -> Option<&Row> {
        self.rows.get(&pid)
    }

    /// The sockets `pid` listens on.
    pub(crate) fn listening(&self, pid: u32) -> &[Listening] {
        self.listening.get(&pid).map_or(&[], Vec::as_slice)
    }

    /// Whether `pid` listens on any TCP socket.
    pub(crate) fn listens(&self, pid: u32) -> bool {
        self.listening.contains_key(&pid)
    }

    /// Sockets no process could be found for, and why.
    pub(crate) fn unattributed(&self) -> Option<&UnattributedSockets> {
        self.unattributed.as_ref()
    }

    /// How many processes could not be read, and the first reason.
    pub(crate) fn unreadable(&self) -> Option<&(usize, String)> {
        self.unreadable.as_ref()
    }

    /// The cgroup path of `pid`, read once.
    pub(crate) fn cgroup(&self, pid: u32) -> Option<String> {
        if let Some(known) = self.cgroups.borrow().get(&pid) {
            return known.clone();
        }
        let read = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok().and_then(|text| parse_cgroup(&text));
        self.cgroups.borrow_mut().insert(pid, read.clone());
        read
    }

    /// The login name of a uid, looked up once.
    pub(crate) fn user_name(&self, uid: u32) -> Option<String> {
        if let Some(known) = self.user_names.borrow().get(&uid) {
            return known.clone();
        }
        let name = files::user_name(uid);
        self.user_names.borrow_mut().insert(uid, name.clone());
        name
    }

    /// The process as the facts carry it: the scan's row with its uid and cgroup read now,
    /// or — for a process started after the scan (a PM2 app that restarted) — read whole.
    /// `Ok(None)` when it does not run.
    pub(crate) fn process(&self, pid: u32) -> io::Result<Option<ProcessFacts>> {
        self.process_with_namespace(pid).map(|found| found.map(|(process, _)| process))
    }

    /// [`ProcessTable::process`], with how many PID namespaces deep the process is
    /// (`NSpid:` of its status; 1 on a host, more inside a container), when the kernel says.
    pub(crate) fn process_with_namespace(&self, pid: u32) -> io::Result<Option<(ProcessFacts, Option<usize>)>> {
        if pid == 0 {
            return Ok(None);
        }
        let Some(row) = self.rows.get(&pid) else {
            let mut resolve = |uid: u32| self.user_name(uid);
            return read_process(pid, self.clock, &mut resolve).map(|found| {
                found.map(|mut process| {
                    process.listening = self.listening(pid).to_vec();
                    (process, None)
                })
            });
        };
        let status = match std::fs::read_to_string(format!("/proc/{pid}/status")) {
            Ok(text) => text,
            Err(err) if is_gone(&err) => return Ok(None),
            Err(err) => return Err(err),
        };
        let Some(uid) = parse_status_uid(&status) else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("/proc/{pid}/status has no Uid line")));
        };
        let process = ProcessFacts {
            pid,
            uid,
            user: self.user_name(uid),
            exe: row.exe.clone(),
            cmdline: row.cmdline.clone(),
            started_at: self.clock.zip(row.start_ticks).map(|(clock, ticks)| clock.started_at(ticks)),
            cgroup: self.cgroup(pid),
            listening: self.listening(pid).to_vec(),
        };
        Ok(Some((process, parse_nspid_depth(&status))))
    }

    /// A process the facts may do without when it cannot be read: `None` then too.
    pub(crate) fn process_if_readable(&self, pid: u32) -> Option<ProcessFacts> {
        self.process(pid).ok().flatten()
    }
}

/// One row of the scan; `Ok(None)` for a kernel thread or a process that vanished.
/// `buf` is the scan's one read buffer.
fn read_row(pid: u32, buf: &mut Vec<u8>) -> io::Result<Option<Row>> {
    let dir = format!("/proc/{pid}");
    match read_proc_file(&format!("{dir}/stat"), buf, 4096) {
        Ok(()) => {}
        Err(err) if is_gone(&err) => return Ok(None),
        Err(err) => return Err(err),
    }
    let Some(stat) = parse_stat(&String::from_utf8_lossy(buf)) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{dir}/stat cannot be parsed")));
    };
    // kthreadd (pid 2) and its children.
    if stat.kernel_thread || pid == 2 || stat.ppid == 2 {
        return Ok(None);
    }
    let cmdline = match read_proc_file(&format!("{dir}/cmdline"), buf, CMDLINE_MAX as usize) {
        Ok(()) => parse_cmdline(buf),
        Err(err) if is_gone(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let exe = match std::fs::read_link(format!("{dir}/exe")) {
        Ok(target) => Fact::Ok(target.to_string_lossy().into_owned()),
        Err(err) if is_gone(&err) => return Ok(None),
        // A zombie has no exe; another user's process without CAP_SYS_PTRACE hides it.
        Err(err) => Fact::Error(format!("cannot read {dir}/exe: {}", os_message(&err))),
    };
    Ok(Some(Row { pid, ppid: stat.ppid, comm: stat.comm, cmdline, exe, start_ticks: stat.start_ticks }))
}

/// The working directory of a process (`/proc/PID/cwd`).
pub(crate) fn cwd(pid: u32) -> Fact<String> {
    match std::fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(target) => Fact::Ok(target.to_string_lossy().into_owned()),
        Err(err) => Fact::Error(format!("cannot read /proc/{pid}/cwd: {}", os_message(&err))),
    }
}

/// The names of a process's environment variables (`/proc/PID/environ`), sorted. The
/// values are dropped as they are read: they may hold secrets.
pub(crate) fn env_names(pid: u32) -> Fact<Vec<String>> {
    match read_bounded(&format!("/proc/{pid}/environ"), ENVIRON_MAX) {
        Ok(bytes) => Fact::Ok(parse_env_names(&bytes)),
        Err(err) => Fact::Error(format!("cannot read /proc/{pid}/environ: {}", os_message(&err))),
    }
}

/// The names in a NUL-separated environment block, without their values.
fn parse_env_names(bytes: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = bytes
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let end = entry.iter().position(|b| *b == b'=')?;
            (end > 0).then(|| String::from_utf8_lossy(&entry[..end]).into_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
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
    Ok(Some(ProcessFacts { pid, uid, user: user_name(uid), exe, cmdline, started_at, cgroup, listening: Vec::new() }))
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
    fn stat_fields_of_a_process_and_a_kernel_thread() {
        let node = "4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 11 0 123456 1000 50";
        assert_eq!(
            parse_stat(node),
            Some(Stat { comm: "node (worker) x".into(), ppid: 1, kernel_thread: false, start_ticks: Some(123456) })
        );
        let kthread = "17 (ksoftirqd/1) S 2 0 0 0 -1 69238848 0 0 0 0 0 0 0 0 20 0 1 0 12 0 0";
        assert!(parse_stat(kthread).is_some_and(|stat| stat.kernel_thread && stat.ppid == 2));
    }

    #[test]
    fn pid_namespace_depth() {
        assert_eq!(parse_nspid_depth("Name:\tnode\nNSpid:\t653\t1\nUid:\t0\t0\t0\t0\n"), Some(2));
        assert_eq!(parse_nspid_depth("NSpid:\t4242\n"), Some(1));
        assert_eq!(parse_nspid_depth("Name:\tx\n"), None);
        assert!(own_nspid_depth().is_some());
    }

    #[test]
    fn environment_names_keep_no_value() {
        let names = parse_env_names(b"PATH=/usr/bin\0SECRET=hunter2\0=odd\0NOEQUALS\0GREETING=a=b\0\0");
        assert_eq!(names, ["GREETING", "PATH", "SECRET"]);
    }

    #[test]
    fn the_scan_finds_this_process_and_reads_it_like_a_fresh_read() {
        let table = ProcessTable::scan();
        let me = std::process::id();
        let row = table.row(me).expect("this test process is in the scan");
        assert!(!row.cmdline.is_empty());
        let scanned = table.process(me).ok().flatten().expect("readable");
        let mut names = |uid: u32| files::user_name(uid);
        let fresh = read_process(me, BootClock::read(), &mut names).ok().flatten().expect("readable");
        assert_eq!((scanned.uid, &scanned.exe, &scanned.cgroup), (fresh.uid, &fresh.exe, &fresh.cgroup));
        assert!(table.rows().all(|row| row.pid != 2), "no kernel thread");
    }

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
