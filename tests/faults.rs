//! Injected faults on this host, no lab needed: real Unix sockets, files and a small
//! tmpfs, each fault with the documented exit code and a bounded time.
//!
//! - `rpc.sock` that accepts and then stalls mid-frame, announces a 4 GB frame, or closes
//!   after half a frame: an answer the report can show (`no-answer`, or an error with the
//!   reason), never a hang and never 4 GB of memory;
//! - `dump.pm2` replaced, and rewritten in place, while bootproof reads it: every run
//!   sees one whole version or says the file is truncated, never a panic;
//! - a full disk under `-o`: exit 2 naming the file, the previous report intact, nothing
//!   half-written beside it.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{TempDir, assert_exit, bootproof_bin, repo, run_here};

/// How long bootproof waits for a daemon (`RPC_TIMEOUT` in src/facts/pm2/rpc.rs).
const RPC_TIMEOUT: Duration = Duration::from_secs(2);

/// A PM2 home whose `rpc.sock` is served by `serve` (one connection after another) on a
/// thread of this test.
fn home_with_socket(tag: &str, serve: fn(std::os::unix::net::UnixStream)) -> TempDir {
    let dir = TempDir::new(tag);
    let listener = UnixListener::bind(dir.path().join("rpc.sock")).expect("bind rpc.sock");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    dir
}

/// Reads the request bootproof sends (one amp message) so the reply comes after it.
fn read_request(stream: &mut std::os::unix::net::UnixStream) {
    let mut request = [0u8; 512];
    let _ = stream.read(&mut request);
}

/// `bootproof facts` for one PM2 home, without systemd: its exit, this home's daemon
/// facts, and how long it took.
fn pm2_facts(home: &Path) -> (i32, Value, Duration) {
    let started = Instant::now();
    let out = run_here(&["facts", "--no-state", "--without-systemd", "--pm2-home", home.to_str().expect("utf-8")], &[]);
    let took = started.elapsed();
    assert_exit(&out, 0);
    let facts: Value = serde_json::from_slice(&out.stdout).expect("facts are JSON");
    let entry = facts["pm2"]
        .as_array()
        .and_then(|homes| homes.iter().find(|h| h["home"] == home.to_str().expect("utf-8")))
        .cloned()
        .unwrap_or_else(|| panic!("home not in facts: {facts:#}"));
    (out.status.code().unwrap_or(-1), entry, took)
}

/// `check --facts` on the facts of one home with the fault: the exit code and the
/// findings about the home.
/// Judges the facts as a VM's whose systemd could not be asked: the machine the tests run
/// on may itself be an app container (`/.dockerenv`), where the invariants of PM2's unit
/// are skipped for that reason, and these tests are about what the daemon's socket says.
fn as_on_a_vm(path: &Path) {
    let text = std::fs::read_to_string(path).expect("the facts file");
    let mut facts: Value = serde_json::from_str(&text).expect("a facts file");
    if let Some(host) = facts["host"].as_object_mut() {
        host.remove("container");
    }
    std::fs::write(path, serde_json::to_string(&facts).expect("json")).expect("write the facts file");
}

fn judged(home: &Path, tag: &str) -> (i32, Vec<Value>) {
    let dir = TempDir::new(tag);
    let path = dir.path().join("facts.json");
    let out = run_here(
        &[
            "facts",
            "--no-state",
            "--without-systemd",
            "--pm2-home",
            home.to_str().expect("utf-8"),
            "-o",
            path.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_exit(&out, 0);
    as_on_a_vm(&path);
    let out = run_here(&["check", "--facts", path.to_str().expect("utf-8"), "--format", "json"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let subject = format!("pm2:{}", home.display());
    let findings = report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["subject"] == subject.as_str())
        .cloned()
        .collect();
    (out.status.code().unwrap_or(-1), findings)
}

/// The home's supervisor findings are errors that give `reason`, not skips or passes.
#[track_caller]
fn assert_unknown(findings: &[Value], reason: &str) {
    for check in ["supervisor.registered", "supervisor.active"] {
        let finding = findings.iter().find(|f| f["check"] == check).unwrap_or_else(|| panic!("no {check}"));
        assert_eq!(finding["status"], "error", "{finding:#}");
        assert!(finding["message"].as_str().is_some_and(|m| m.contains(reason)), "{finding:#}");
    }
}

#[test]
fn rpc_sock_that_stalls_mid_frame_is_no_answer_within_the_timeout() {
    let home = home_with_socket("rpc-stall", |mut stream| {
        read_request(&mut stream);
        // A header and half a length, then nothing, with the connection held open.
        let _ = stream.write_all(&[0x12, 0, 0]);
        std::thread::sleep(Duration::from_secs(30));
    });
    let (_, entry, took) = pm2_facts(home.path());
    assert_eq!(entry["daemon"]["rpc"]["ok"]["outcome"], "no-answer", "{entry:#}");
    assert!(took < RPC_TIMEOUT + Duration::from_secs(2), "took {took:?}");
    // What the daemon runs cannot be told: an error naming why, never "a reboot loses
    // nothing here" (what this said before: a silent pass), and exit 3.
    let (code, findings) = judged(home.path(), "rpc-stall-judged");
    assert_unknown(&findings, "no answer in");
    assert_eq!(code, 3, "{findings:#?}");
}

#[test]
fn rpc_sock_announcing_a_4_gb_frame_is_refused_at_once() {
    let home = home_with_socket("rpc-huge", |mut stream| {
        read_request(&mut stream);
        // Two arguments, the first claiming 4 GiB - 1 bytes; then a trickle of bytes that
        // would take forever to reach it.
        let _ = stream.write_all(&[0x12, 0xff, 0xff, 0xff, 0xff]);
        for _ in 0..30 {
            if stream.write_all(&[b'j'; 1024]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (_, entry, took) = pm2_facts(home.path());
    let error = entry["daemon"]["rpc"]["error"].as_str().unwrap_or_else(|| panic!("an error fact: {entry:#}"));
    assert!(error.contains("larger than"), "{error}");
    assert!(took < Duration::from_secs(1), "refused from the length alone, took {took:?}");
    let (code, findings) = judged(home.path(), "rpc-huge-judged");
    assert_unknown(&findings, "larger than");
    assert_eq!(code, 3, "{findings:#?}");
}

#[test]
fn rpc_sock_that_closes_after_half_a_frame_is_an_error_with_the_reason() {
    let home = home_with_socket("rpc-close", |mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(&[0x12, 0, 0, 0, 40, b'j', b':', b'{']);
        // Dropped: closed mid-frame.
    });
    let (_, entry, took) = pm2_facts(home.path());
    let error = entry["daemon"]["rpc"]["error"].as_str().unwrap_or_else(|| panic!("an error fact: {entry:#}"));
    assert!(error.contains("closed the connection"), "{error}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let (code, findings) = judged(home.path(), "rpc-close-judged");
    assert_unknown(&findings, "closed the connection");
    assert_eq!(code, 3, "{findings:#?}");
}

/// Two versions of a real dump: the captured one, and one with an app more, so a run
/// that read one whole version can be told from one that read half of either.
fn dump_versions() -> (Vec<u8>, Vec<u8>) {
    let one = std::fs::read(repo().join("tests/pm2/dump.pm2")).expect("captured dump");
    let mut apps: Vec<Value> = serde_json::from_slice(&one).expect("captured dump parses");
    let mut extra = apps[0].clone();
    extra["name"] = "added-app".into();
    apps.push(extra);
    (one, serde_json::to_vec_pretty(&apps).expect("json"))
}

/// The app names of the two versions.
fn version_names() -> [Vec<String>; 2] {
    let (one, two) = dump_versions();
    let names = |bytes: &[u8]| -> Vec<String> {
        let apps: Vec<Value> = serde_json::from_slice(bytes).expect("json");
        apps.iter().map(|a| a["name"].as_str().unwrap_or_default().to_owned()).collect()
    };
    [names(&one), names(&two)]
}

/// What one run saw of the dump: the app names, or the error reason.
fn dump_seen(home: &Path) -> Result<Vec<String>, String> {
    let (_, entry, took) = pm2_facts(home);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    match (&entry["dump"]["apps"]["ok"], &entry["dump"]["apps"]["error"]) {
        (Value::Array(apps), _) => Ok(apps.iter().map(|a| a["name"].as_str().unwrap_or_default().to_owned()).collect()),
        (_, Value::String(reason)) => Err(reason.clone()),
        _ => panic!("neither apps nor an error: {entry:#}"),
    }
}

#[test]
fn dump_pm2_replaced_while_being_read_is_seen_whole() {
    // `pm2 save` writes a new file and renames it over dump.pm2: a reader sees the old
    // file or the new one, whole.
    let home = TempDir::new("dump-replaced");
    let (one, two) = dump_versions();
    let dump = home.path().join("dump.pm2");
    std::fs::write(&dump, &one).expect("dump");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, dir, dump) = (stop.clone(), home.path().to_owned(), dump.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let next = dir.join(format!(".dump.{n}"));
                std::fs::write(&next, if n.is_multiple_of(2) { &two } else { &one }).expect("write");
                std::fs::rename(&next, &dump).expect("rename");
                n += 1;
            }
            n
        })
    };
    let mut seen = Vec::new();
    for _ in 0..15 {
        seen.push(dump_seen(home.path()));
    }
    stop.store(true, Ordering::Relaxed);
    let replaced = writer.join().expect("writer");
    assert!(replaced > 15, "the dump was replaced only {replaced} times");
    for run in &seen {
        let names = run.as_ref().unwrap_or_else(|reason| panic!("a renamed file is read whole, got: {reason}"));
        assert!(version_names().contains(names), "{names:?} is neither version");
    }
}

#[test]
fn dump_pm2_rewritten_in_place_while_being_read_is_whole_or_said_to_be_truncated() {
    // A writer that truncates and rewrites the file itself (an editor, a careless script):
    // a reader can see a prefix. bootproof must read one whole version or say it is cut
    // short — never a panic, never apps from a half file.
    let home = TempDir::new("dump-rewritten");
    let (one, two) = dump_versions();
    let dump = home.path().join("dump.pm2");
    std::fs::write(&dump, &one).expect("dump");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, dump) = (stop.clone(), dump.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let bytes = if n.is_multiple_of(2) { &two } else { &one };
                let mut file = std::fs::File::create(&dump).expect("truncate");
                for chunk in bytes.chunks(512) {
                    file.write_all(chunk).expect("write");
                }
                n += 1;
            }
        })
    };
    let mut outcomes = Vec::new();
    for _ in 0..15 {
        outcomes.push(dump_seen(home.path()));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    for run in &outcomes {
        match run {
            Ok(names) => assert!(version_names().contains(names), "{names:?} is neither version"),
            Err(reason) => assert!(
                reason.contains("truncated") || reason.contains("is empty") || reason.contains("not JSON"),
                "a half-written dump is said to be so: {reason}"
            ),
        }
    }
}

/// Runs `script` with `sh` in a mount namespace of its own, where it may mount a tmpfs
/// that disappears with it (also when the test fails).
fn in_own_mounts(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-euc", script])
        .env("BOOTPROOF", bootproof_bin())
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare runs")
}

#[test]
fn a_full_disk_under_o_leaves_the_previous_report_whole_and_nothing_beside_it() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("mounting a small tmpfs needs root, as the lab does");
    }
    let work = TempDir::new("full-disk");
    let facts = repo().join("tests/facts/template-defects.json");
    let disk = work.path().join("disk");
    std::fs::create_dir_all(&disk).expect("mount point");
    // A 64 KiB disk holding the previous report, then filled to the last byte.
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs {disk}
         \"$BOOTPROOF\" check --facts {facts} --format json -o {disk}/report.json || true
         cp {disk}/report.json {work}/previous.json
         dd if=/dev/zero of={disk}/filler bs=4k 2>/dev/null || true
         code=0
         \"$BOOTPROOF\" check --facts {facts} --format junit -o {disk}/report.json 2>{work}/stderr || code=$?
         echo \"exit $code\"
         cmp {disk}/report.json {work}/previous.json && echo intact
         ls -A {disk}",
        disk = disk.display(),
        facts = facts.display(),
        work = work.path().display()
    );
    let started = Instant::now();
    let out = in_own_mounts(&script);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = std::fs::read_to_string(work.path().join("stderr")).unwrap_or_default();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("exit 2"), "a report that cannot be written is exit 2:\n{stdout}\n{stderr}");
    assert!(stderr.contains("report.json") && stderr.contains("No space left"), "names the file and why: {stderr}");
    assert!(stdout.contains("intact"), "the previous report is as it was:\n{stdout}");
    let left: Vec<&str> = stdout.lines().skip_while(|l| *l != "intact").skip(1).collect();
    assert_eq!(left, ["filler", "report.json"], "nothing half-written is left beside it:\n{stdout}");
}
