//! Test harness: the bootproof binary as a command with exit-code assertions, and
//! [`Machine`], a real systemd machine from `ci/lab` that always powers off on drop.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The bootproof binary under test: the one cargo built, or `BOOTPROOF_BIN` when set (to
/// hold another build — an installed package, an older commit — to the same tests).
pub fn bootproof_bin() -> PathBuf {
    std::env::var_os("BOOTPROOF_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_bootproof")), PathBuf::from)
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Asserts an exit code, printing both output streams on mismatch.
#[track_caller]
pub fn assert_exit(output: &Output, expected: i32) {
    let code = output.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        expected,
        "exit code {code}, expected {expected}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs bootproof on this host with `args` (and `env` overrides).
pub fn run_here(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(bootproof_bin());
    command.args(args).env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("bootproof runs")
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("bootproof-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why the lab cannot run here, if it cannot.
fn lab_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the lab needs root".into());
    }
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join("systemd-nspawn").is_file()))
        .unwrap_or(false);
    if !found {
        return Some(
            "systemd-nspawn is not installed (apt-get install -y systemd-container; ci/test does this)".into(),
        );
    }
    None
}

/// Decides whether a lab test may run. Lab tests never skip silently: without the lab
/// they fail, unless a developer explicitly sets BOOTPROOF_SKIP_LAB=1 outside CI.
/// Returns `false` (and says so loudly) only in that explicit opt-out.
pub fn lab_required() -> bool {
    let Some(reason) = lab_unavailable() else { return true };
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let opted_out = std::env::var("BOOTPROOF_SKIP_LAB").is_ok_and(|v| v == "1");
    if opted_out && !in_ci {
        eprintln!("LAB TEST NOT RUN (BOOTPROOF_SKIP_LAB=1): {reason}");
        return false;
    }
    panic!("the reboot lab cannot run: {reason}");
}

/// At most this many machines at once on this host (two cores), whichever test process
/// boots them: two `cargo test` runs side by side share the limit.
const MAX_MACHINES: usize = 2;

/// Where the harness keeps its locks: the lab's own state directory (see `ci/lab`).
fn lock_dir(kind: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("BOOTPROOF_LAB_DIR").unwrap_or_else(|| "/run/bootproof-lab".into()))
        .join(".locks")
        .join(kind);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Takes an exclusive `flock` on `path` without waiting; the lock lasts as long as the file.
fn try_lock(path: &Path) -> Option<File> {
    let file = File::options().create(true).truncate(false).write(true).open(path).ok()?;
    // SAFETY: flock on a descriptor we own; it has no memory effects.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    locked.then_some(file)
}

/// A machine slot, held while the machine runs (released when the file is dropped, also
/// when the test process dies).
fn take_slot() -> File {
    let dir = lock_dir("machines").expect("the lab's lock directory can be made (the lab needs root)");
    loop {
        for slot in 0..MAX_MACHINES {
            if let Some(lock) = try_lock(&dir.join(format!("{slot}.lock"))) {
                return lock;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How many loopback ports one test process may use.
const PORT_BLOCK: u16 = 220;

/// This process's block of loopback ports: the first block no other running test process
/// holds (a lock held for the life of the process), so that concurrent runs on one host
/// never share a port. All below 32768: the kernel hands out ports from there up
/// (ip_local_port_range) to outgoing connections, and a listener cannot bind a port some
/// connection holds (seen in CI: an instance that never came up).
fn port_block() -> u16 {
    static BLOCK: OnceLock<(Option<File>, u16)> = OnceLock::new();
    let (_, base) = BLOCK.get_or_init(|| {
        let blocks = (32768 - 10000) / PORT_BLOCK;
        if let Some(dir) = lock_dir("ports") {
            for block in 0..blocks {
                if let Some(lock) = try_lock(&dir.join(format!("{block}.lock"))) {
                    return (Some(lock), 10000 + block * PORT_BLOCK);
                }
            }
        }
        // No lock directory (not root): spread by pid, as well as can be done without one.
        (None, 10000 + (std::process::id() % u32::from(blocks)) as u16 * PORT_BLOCK)
    });
    *base
}

/// A block of loopback ports no other test uses. Each lab machine has a network of its
/// own (`ci/lab`), but the tests on this host (PM2 daemons, health servers) share the
/// host's, and unique ports keep a scenario's output unambiguous.
pub fn ports(count: u16) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = NEXT.fetch_add(count, Ordering::SeqCst);
    assert!(offset + count <= PORT_BLOCK, "the tests use more than {PORT_BLOCK} ports: widen the block");
    port_block() + offset
}

/// Notes in `BOOTPROOF_LAB_RECORD` (when set) that the running test booted a machine, so
/// that `ci/test` counts as lab scenarios only the tests that really ran one.
fn record_boot(machine: &str) {
    let Some(path) = std::env::var_os("BOOTPROOF_LAB_RECORD") else { return };
    let test = std::thread::current().name().unwrap_or("unknown").to_owned();
    let line = format!("{test} {machine}\n");
    let appended = File::options().create(true).append(true).open(&path).and_then(|mut f| {
        use std::io::Write as _;
        f.write_all(line.as_bytes())
    });
    if let Err(err) = appended {
        panic!("cannot record the boot in {}: {err}", PathBuf::from(path).display());
    }
}

/// Where the harness installs bootproof inside a machine.
pub const MACHINE_BOOTPROOF: &str = "/usr/local/bin/bootproof";

/// A running lab machine; powered off when dropped, also when the test panics.
pub struct Machine {
    name: String,
    /// The machine slot it holds (see [`take_slot`]).
    _slot: File,
}

fn lab(args: &[&str]) -> Output {
    Command::new(repo().join("ci/lab")).args(args).output().expect("ci/lab runs")
}

impl Machine {
    /// Boots a fresh machine and waits until systemd is running.
    pub fn up(tag: &str) -> Machine {
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let slot = take_slot();
        let name = format!("bp{}-{tag}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let machine = Machine { name, _slot: slot };
        let out = lab(&["up", &machine.name]);
        assert!(out.status.success(), "ci/lab up failed: {}", String::from_utf8_lossy(&out.stderr));
        record_boot(&machine.name);
        // A scenario starts from a clean boot. A base unit of the host's OS that failed
        // while this machine booted (seen once: systemd-sysusers, under heavy load) is not
        // the scenario's doing: say so loudly, with its journal, and clear it.
        let failed = machine.exec(&["systemctl", "list-units", "--state=failed", "--no-legend", "--plain"]);
        let failed = String::from_utf8_lossy(&failed.stdout).into_owned();
        if !failed.trim().is_empty() {
            let journal = machine.exec(&["journalctl", "-b", "-p", "err", "--no-pager", "-n", "30"]);
            eprintln!(
                "machine {}: units failed during boot, cleared before the scenario:\n{failed}{}",
                machine.name,
                String::from_utf8_lossy(&journal.stdout)
            );
            machine.exec(&["systemctl", "reset-failed"]);
        }
        // Copy the binary in: the overlay may keep showing an older build of a file that
        // changed on the host after the machine booted.
        let binary = std::fs::read(bootproof_bin()).expect("the built bootproof");
        machine.write(MACHINE_BOOTPROOF, "", 0o755);
        std::fs::write(format!("{}{MACHINE_BOOTPROOF}", machine.root()), binary)
            .expect("copy bootproof into the machine");
        machine
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the machine.
    pub fn exec(&self, argv: &[&str]) -> Output {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend_from_slice(argv);
        lab(&args)
    }

    /// Runs a bash script inside the machine and asserts it succeeded; returns stdout.
    #[track_caller]
    pub fn sh(&self, script: &str) -> String {
        let out = self.exec(&["/bin/bash", "-euo", "pipefail", "-c", script]);
        assert!(
            out.status.success(),
            "in machine {}: script failed ({:?})\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Where the machine's root filesystem is seen from the host (changes on reboot).
    pub fn root(&self) -> String {
        String::from_utf8_lossy(&lab(&["root", &self.name]).stdout).trim().to_owned()
    }

    /// The PID of the machine's init as the host sees it (changes on reboot).
    pub fn leader(&self) -> u32 {
        let root = self.root();
        root.strip_prefix("/proc/")
            .and_then(|rest| rest.strip_suffix("/root"))
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("the machine's root is not /proc/PID/root: {root}"))
    }

    /// Writes a file inside the machine (parents created), with `mode`.
    pub fn write(&self, path: &str, contents: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let root = self.root();
        let target = PathBuf::from(format!("{root}{path}"));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("parent directory in the machine");
        }
        std::fs::write(&target, contents).unwrap_or_else(|e| panic!("write {path} in machine: {e}"));
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).expect("chmod in machine");
    }

    /// Installs the pm2 that ci/install put in target/npm where `npm install -g pm2` puts
    /// it (`ci/lab pm2`), with the offline npm cache at /srv/npm-cache.
    pub fn install_pm2(&self) {
        let out = lab(&["pm2", &self.name]);
        assert!(out.status.success(), "ci/lab pm2 failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Installs the nodemon that ci/install put in target/nodemon where `npm install -g
    /// nodemon` puts it (`ci/lab nodemon`).
    pub fn install_nodemon(&self) {
        let out = lab(&["nodemon", &self.name]);
        assert!(out.status.success(), "ci/lab nodemon failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs bootproof inside the machine.
    pub fn bootproof(&self, args: &[&str]) -> Output {
        let mut argv = vec!["/usr/bin/env", "NO_COLOR=1", MACHINE_BOOTPROOF];
        argv.extend_from_slice(args);
        self.exec(&argv)
    }

    /// Runs `bootproof check --format json` inside the machine and parses the report.
    pub fn check_json(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["check", "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.bootproof(&args);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "bootproof did not print JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }

    /// The machine's current boot id.
    pub fn boot_id(&self) -> String {
        self.sh("cat /proc/sys/kernel/random/boot_id").trim().to_owned()
    }

    /// Reboots the machine for real and waits until systemd is running again.
    pub fn reboot(&self) {
        let before = self.boot_id();
        let out = lab(&["reboot", &self.name]);
        assert!(out.status.success(), "ci/lab reboot failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_ne!(self.boot_id(), before, "the machine did not really reboot");
    }

    /// Waits until `script` succeeds inside the machine, or panics after `timeout`.
    #[track_caller]
    pub fn wait_for(&self, script: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.exec(&["/bin/bash", "-c", script]).status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "in machine {}: timed out waiting for: {script}", self.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let out = lab(&["down", &self.name]);
        if !out.status.success() {
            eprintln!("ci/lab down {} failed: {}", self.name, String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// The findings of `report` for one subject, as `check → status`.
pub fn statuses(report: &Value, subject: &str) -> std::collections::BTreeMap<String, String> {
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["subject"] == subject)
        .map(|r| (r["check"].as_str().unwrap_or("").to_owned(), r["status"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// The finding of `check` on `subject`.
#[track_caller]
pub fn finding<'a>(report: &'a Value, subject: &str, check: &str) -> &'a Value {
    report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["subject"] == subject && r["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding for {subject} in\n{report:#}"))
}

/// The prediction bootproof reported for `subject` (`subjects[]` of the JSON report):
/// `comes_back`, `blocked_by`, and for a PM2 home its `apps`.
pub fn prediction<'a>(report: &'a Value, subject: &str) -> Option<&'a Value> {
    report["subjects"].as_array().into_iter().flatten().find(|p| p["subject"] == subject)
}

impl Machine {
    /// [`assert_predictions_held`], and when a prediction did not hold, the journal of each
    /// unit it got wrong, for this boot and the one before, so a failure explains itself.
    #[track_caller]
    pub fn assert_predictions_held(&self, before: &Value, after: &Value) {
        let wrong = wrong_predictions(before, after);
        if wrong.is_empty() {
            return;
        }
        let journals: Vec<String> = wrong.iter().map(|(unit, _)| self.journals(&[unit.as_str()])).collect();
        panic!(
            "predictions that did not hold:\n{}\n--- journals\n{}\n--- before\n{before:#}\n--- after\n{after:#}",
            wrong.iter().map(|(_, why)| why.as_str()).collect::<Vec<_>>().join("\n"),
            journals.join("\n")
        );
    }

    /// `journalctl -u` of `units` for this boot and the previous one (when the machine keeps
    /// a journal across boots), for a failure message.
    pub fn journals(&self, units: &[&str]) -> String {
        let mut out = String::new();
        for unit in units {
            for boot in ["0", "-1"] {
                let got = self.exec(&[
                    "journalctl",
                    "--no-pager",
                    "-o",
                    "short-monotonic",
                    "-n",
                    "40",
                    "-b",
                    boot,
                    "-u",
                    unit,
                ]);
                out.push_str(&format!(
                    "journalctl -b {boot} -u {unit}:\n{}{}\n",
                    String::from_utf8_lossy(&got.stdout),
                    String::from_utf8_lossy(&got.stderr)
                ));
            }
        }
        out
    }
}

/// The units whose pre-reboot prediction did not hold after the reboot, each with what was
/// predicted and what happened.
fn wrong_predictions(before: &Value, after: &Value) -> Vec<(String, String)> {
    let predicted: std::collections::BTreeMap<&str, bool> = before["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["subject"].as_str()?, p["comes_back"].as_bool()?)))
        .filter(|(subject, _)| subject.starts_with("unit:"))
        .collect();
    assert!(!predicted.is_empty(), "bootproof predicted no unit before the reboot:\n{before:#}");
    let mut wrong = Vec::new();
    for (subject, up) in &predicted {
        let active = statuses(after, subject).get("supervisor.active").is_some_and(|s| s == "pass");
        if active != *up {
            let unit = subject.trim_start_matches("unit:").to_owned();
            wrong.push((
                unit,
                format!(
                    "{subject}: predicted {}, after the reboot {}",
                    if *up { "up" } else { "down" },
                    if active { "up" } else { "down" }
                ),
            ));
        }
    }
    wrong
}

/// What a pre-reboot check predicted for every process outside units and PM2 homes
/// (`subjects[]` with a `process:` subject), held to the check after the reboot: a process
/// came back when that check finds it running (its `process.supervised` finding says
/// `running: true`); one that did not is named there from the state file (`running:
/// false`). Returns the subjects predicted back and lost, for the caller's own asserts.
#[track_caller]
pub fn assert_process_predictions_held(before: &Value, after: &Value) -> (Vec<String>, Vec<String>) {
    let predicted: Vec<(&str, bool)> = before["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["subject"].as_str()?, p["comes_back"].as_bool()?)))
        .filter(|(subject, _)| subject.starts_with("process:"))
        .collect();
    assert!(!predicted.is_empty(), "bootproof predicted no process before the reboot:\n{before:#}");
    let mut wrong = Vec::new();
    let (mut back, mut lost) = (Vec::new(), Vec::new());
    for (subject, up) in predicted {
        let found = after["results"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["subject"] == subject && r["check"] == "process.supervised");
        let running = found.is_some_and(|f| f["evidence"]["running"] == true);
        if running != up {
            wrong.push(format!(
                "{subject}: predicted {}, after the reboot {}: {found:#?}",
                if up { "back" } else { "lost" },
                if running { "running" } else { "not running" }
            ));
        }
        if !up && found.is_none() {
            wrong.push(format!("{subject}: lost, but the check after the reboot does not name it"));
        }
        if up { back.push(subject.to_owned()) } else { lost.push(subject.to_owned()) }
    }
    assert!(
        wrong.is_empty(),
        "process predictions that did not hold:\n{}\n--- before\n{before:#}\n--- after\n{after:#}",
        wrong.join("\n")
    );
    (back, lost)
}

/// Online processes per app name in one home's live daemon, from `bootproof facts`
/// (`pm2[].daemon.rpc.ok.apps`); empty when no daemon answered.
pub fn pm2_online(facts: &Value, home: &str) -> std::collections::BTreeMap<String, usize> {
    let mut online = std::collections::BTreeMap::new();
    let apps = facts["pm2"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["home"] == home)
        .flat_map(|h| h["daemon"]["rpc"]["ok"]["apps"].as_array().into_iter().flatten());
    for app in apps {
        if app["is_module"] == true {
            continue;
        }
        let count = online.entry(app["name"].as_str().unwrap_or("").to_owned()).or_insert(0);
        if app["status"] == "online" {
            *count += 1;
        }
    }
    online.retain(|_, n| *n > 0);
    online
}

/// What a pre-reboot check predicts for every app running in a PM2 home, as the report's
/// `subjects[].apps` says: `(home, app)` → the online instance count before the reboot,
/// and whether they come back as they run. Apps in a crash loop are left out: online only
/// between two crashes, they do not run, so a reboot says nothing of the prediction.
pub fn pm2_predictions(before: &Value) -> std::collections::BTreeMap<(String, String), (usize, bool)> {
    let mut predicted = std::collections::BTreeMap::new();
    for home in before["subjects"].as_array().into_iter().flatten() {
        let Some(path) = home["subject"].as_str().and_then(|s| s.strip_prefix("pm2:")) else { continue };
        for app in home["apps"].as_array().into_iter().flatten() {
            let online = app["online"].as_u64().unwrap_or(0) as usize;
            if online == 0 || app["crash_looping"] == true {
                continue;
            }
            let up = app["comes_back"] == true;
            predicted.insert((path.to_owned(), app["name"].as_str().unwrap_or("").to_owned()), (online, up));
        }
    }
    predicted
}

impl Machine {
    /// Holds a pre-reboot PM2 prediction to what the reboot did: every app that ran before
    /// is online again with as many instances exactly when predicted (from the live daemon
    /// in `after_facts`), and `answers(app)` — an HTTP probe of the app's port from inside
    /// the machine, `None` for an app without one — agrees with the daemon. On a miss, the
    /// journal of the PM2 units says what happened at boot.
    #[track_caller]
    pub fn assert_pm2_predictions_held(
        &self,
        before: &Value,
        after_facts: &Value,
        answers: impl Fn(&str) -> Option<bool>,
    ) {
        let predicted = pm2_predictions(before);
        assert!(!predicted.is_empty(), "no PM2 app ran before the reboot:\n{before:#}");
        let mut wrong = Vec::new();
        for ((home, app), (count, up)) in &predicted {
            let online = pm2_online(after_facts, home).get(app).copied().unwrap_or(0);
            let back = online == *count;
            if back != *up {
                wrong.push(format!(
                    "{home} {app}: predicted {}, after the reboot {online} of {count} online",
                    if *up { "back" } else { "not back" }
                ));
            }
            if let Some(port_answers) = answers(app)
                && port_answers != (online > 0)
            {
                wrong.push(format!(
                    "{home} {app}: the daemon says {online} online, but its port {}",
                    if port_answers { "answers" } else { "is refused" }
                ));
            }
        }
        if wrong.is_empty() {
            return;
        }
        panic!(
            "PM2 predictions that did not hold:\n{}\n--- journals\n{}\n--- before\n{before:#}\n--- after\n{after_facts:#}",
            wrong.join("\n"),
            self.journals(&["pm2-*"])
        );
    }
}
