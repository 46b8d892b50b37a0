//! bootproof's PM2 facts against a REAL PM2 daemon on this host (the version ci/install
//! pins into target/npm), each test in its own PM2_HOME under a temp dir. The test
//! setup drives the pm2 CLI; bootproof itself only reads files, /proc and rpc.sock.
//! No systemd needed: `facts --without-systemd` gathers PM2 homes alone.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{TempDir, assert_exit, ports, repo, run_here};

/// The pm2 CLI ci/install puts into target/npm.
fn pm2_bin() -> PathBuf {
    let bin = repo().join("target/npm/node_modules/.bin/pm2");
    assert!(bin.exists(), "pm2 is not installed at {}: run ci/install", bin.display());
    bin
}

/// A PM2_HOME of this test's own, with the real daemon killed (and any app it left
/// behind) when dropped — also when the test panics.
struct Pm2 {
    /// Holds `home/` (PM2_HOME) and `user/` (HOME); removed after the daemon is gone.
    dir: TempDir,
}

impl Pm2 {
    fn new(tag: &str) -> Pm2 {
        let dir = TempDir::new(tag);
        std::fs::create_dir_all(dir.path().join("home")).expect("PM2_HOME");
        std::fs::create_dir_all(dir.path().join("user")).expect("HOME");
        Pm2 { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn home_str(&self) -> String {
        self.home().to_string_lossy().into_owned()
    }

    /// Runs the pm2 CLI on this home in a minimal environment (`pm2 save` stores the
    /// caller's whole environment in the dump) plus `env`.
    fn pm2(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(pm2_bin());
        command
            .args(args)
            .current_dir(repo().join("tests/lab/my-app"))
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.dir.path().join("user"))
            .env("PM2_HOME", self.home());
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("pm2 runs")
    }

    #[track_caller]
    fn pm2_ok(&self, args: &[&str], env: &[(&str, &str)]) {
        let out = self.pm2(args, env);
        assert!(
            out.status.success(),
            "pm2 {args:?} failed\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// bootproof's facts, and this home's entry in them.
    fn facts(&self) -> (Value, Value) {
        let home = self.home_str();
        let out = run_here(&["facts", "--no-state", "--without-systemd", "--pm2-home", &home], &[]);
        assert_exit(&out, 0);
        let facts: Value = serde_json::from_slice(&out.stdout).expect("facts are JSON");
        let entry = facts["pm2"]
            .as_array()
            .and_then(|homes| homes.iter().find(|h| h["home"] == home.as_str()))
            .cloned()
            .unwrap_or_else(|| panic!("home {home} not in facts: {}", facts["pm2"]));
        (facts, entry)
    }

    /// Pids in `pids/*.pid`: app processes that may outlive a killed daemon.
    fn app_pids(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir(self.home().join("pids")) else { return Vec::new() };
        entries.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok()).collect()
    }
}

impl Drop for Pm2 {
    fn drop(&mut self) {
        let orphans = self.app_pids();
        // Only if this test made a daemon: `pm2 kill` would otherwise start one to kill.
        if self.home().join("pm2.pid").exists() || self.home().join("rpc.sock").exists() {
            let _ = self.pm2(&["kill"], &[]);
        }
        for pid in orphans {
            // SAFETY: kill has no memory preconditions; these pids are this test's apps.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The apps the daemon reported over rpc.sock, or a panic saying what came instead.
fn rpc_apps(home: &Value) -> &Vec<Value> {
    let rpc = &home["daemon"]["rpc"]["ok"];
    assert_eq!(rpc["outcome"], "apps", "rpc answer: {}", home["daemon"]["rpc"]);
    rpc["apps"].as_array().expect("apps list")
}

/// Polls bootproof until `count` apps are online with a pid (PM2 starts them asynchronously).
fn wait_online(pm2: &Pm2, count: usize) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (facts, home) = pm2.facts();
        let online = home["daemon"]["rpc"]["ok"]["apps"]
            .as_array()
            .map_or(0, |apps| apps.iter().filter(|a| a["status"] == "online" && a["pid"].as_u64() > Some(0)).count());
        if online == count {
            return (facts, home);
        }
        assert!(Instant::now() < deadline, "{count} apps never came online: {}", home["daemon"]);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// GET / on a loopback port, the body.
fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut body = String::new();
            let _ = stream.read_to_string(&mut body);
            return body;
        }
        assert!(Instant::now() < deadline, "nothing answers on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A home's files and their bytes, to prove a run changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).expect("read home").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.clone());
                all.push((path, Vec::new()));
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                all.push((path, bytes));
            }
        }
    }
    all.sort();
    all
}

#[test]
fn pm2_native_live_daemon_answers_over_rpc_sock() {
    // A long PM2_HOME: the daemon's title is cut to the length of its original argv, so
    // the home must be found in full some other way (this failed in CI, where the temp
    // path happened to be one character too long). Not longer: rpc.sock must still fit
    // the 108 bytes of a Unix socket path.
    let pm2 = Pm2::new("pm2-live-long-home-to-outgrow-the-title");
    let port = ports(3);
    let (web_port, api_port) = (port.to_string(), (port + 1).to_string());
    pm2.pm2_ok(&["start", "server.js", "--name", "web", "--", &web_port], &[("GREETING", "hello-web")]);
    pm2.pm2_ok(
        &["start", "server.js", "--name", "api", "-i", "2", "--max-memory-restart", "200M", "--", &api_port],
        &[("GREETING", "hello-api"), ("API_TOKEN", "secret-value-never-in-facts")],
    );
    assert!(http_get(port).contains("hello-web"));
    assert!(http_get(port + 1).contains("hello-api"));

    let (_, home) = wait_online(&pm2, 3);
    let daemon = &home["daemon"];
    assert_eq!(daemon["version"], "7.0.4");
    let daemon_pid = daemon["process"]["pid"].as_u64().expect("daemon process found");
    let title = daemon["process"]["cmdline"][0].as_str().unwrap_or_default();
    assert!(!title.ends_with(')'), "the title must be cut for this test to prove anything: {title}");
    assert_eq!(daemon["pid_file"]["ok"].as_u64(), Some(daemon_pid), "pm2.pid is the titled daemon");
    assert!(
        home["found_by"]
            .as_array()
            .expect("found_by")
            .iter()
            .any(|how| how == format!("daemon pid {daemon_pid}").as_str()),
        "found_by {} lacks daemon pid {daemon_pid}; daemon: {daemon:#}",
        home["found_by"]
    );
    assert!(home["found_by"].as_array().expect("found_by").iter().any(|how| how == "check file"));
    assert_eq!(home["owner"]["uid"].as_u64(), Some(u64::from(unsafe { libc::geteuid() })));

    let apps = rpc_apps(&home);
    let names: Vec<&str> = apps.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["web", "api", "api"]);
    for app in apps {
        assert_eq!(app["process"]["pid"], app["pid"], "/proc facts attached: {app}");
        assert!(app["process"]["exe"]["ok"].as_str().is_some_and(|exe| exe.ends_with("node")));
        assert!(app["script"].as_str().is_some_and(|s| s.ends_with("tests/lab/my-app/server.js")));
        assert!(app["memory"].as_u64() > Some(0));
    }
    assert_eq!(apps[0]["exec_mode"], "fork_mode");
    assert_eq!(apps[1]["exec_mode"], "cluster_mode");
    assert_eq!(apps[1]["max_memory_restart"].as_u64(), Some(200 << 20));
    assert_eq!(daemon["fallback_apps"], Value::Array(Vec::new()), "the socket answered: no fallback");
    // No dump yet: no file, no apps.
    assert_eq!(home["dump"]["apps"]["ok"], Value::Array(Vec::new()));
    assert_eq!(home["dump"]["file"]["stat"]["ok"], Value::Null);

    pm2.pm2_ok(&["save"], &[]);
    let (facts, home) = pm2.facts();
    let saved = home["dump"]["apps"]["ok"].as_array().expect("dump parsed");
    let names: Vec<&str> = saved.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["web", "api", "api"]);
    assert!(saved[1]["env_keys"].as_array().expect("env keys").iter().any(|k| k == "API_TOKEN"));
    assert!(home["dump"]["file"]["stat"]["ok"]["mtime"].as_i64() > Some(0));
    let text = facts.to_string();
    assert!(!text.contains("secret-value-never-in-facts"), "an environment value leaked into the facts");
}

#[test]
fn pm2_native_killed_daemon_leaves_stale_files_and_dead_apps_in_pid_files() {
    let pm2 = Pm2::new("pm2-killed");
    let port = ports(1);
    pm2.pm2_ok(&["start", "server.js", "--name", "web", "--", &port.to_string()], &[("GREETING", "hi")]);
    let (_, home) = wait_online(&pm2, 1);
    let daemon_pid = home["daemon"]["process"]["pid"].as_i64().expect("daemon runs") as i32;
    let app_pid = rpc_apps(&home)[0]["pid"].as_u64().expect("app pid");
    // A daemon that dies without cleaning up (OOM killer, kill -9): rpc.sock and pm2.pid stay.
    // SAFETY: kill has no memory preconditions; the pid is this test's daemon.
    assert_eq!(unsafe { libc::kill(daemon_pid, libc::SIGKILL) }, 0);
    // Real PM2 7: the apps exit too, when their IPC channel to the daemon closes.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{daemon_pid}")).exists() || Path::new(&format!("/proc/{app_pid}")).exists() {
        assert!(Instant::now() < deadline, "daemon {daemon_pid} or app {app_pid} did not die");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(pm2.home().join("rpc.sock").exists(), "a killed daemon leaves its socket");

    let before = snapshot(&pm2.home());
    let (facts, home) = pm2.facts();
    assert_eq!(snapshot(&pm2.home()), before, "bootproof changed the PM2_HOME");
    let daemon = &home["daemon"];
    assert_eq!(daemon["rpc"]["ok"]["outcome"], "not-running", "{}", daemon["rpc"]);
    assert_eq!(daemon["rpc"]["ok"]["reason"], "connection refused");
    assert_eq!(daemon["pid_file"]["ok"].as_i64(), Some(i64::from(daemon_pid)), "the dead pid is still written");
    assert_eq!(daemon["process"], Value::Null, "no daemon process runs");
    let fallback = daemon["fallback_apps"].as_array().expect("fallback apps");
    assert_eq!(fallback.len(), 1, "{fallback:?}");
    assert_eq!(fallback[0]["name"], "web");
    assert_eq!(fallback[0]["pid"].as_u64(), Some(app_pid));
    assert_eq!(fallback[0]["process"], Value::Null, "the app died with its daemon");
    // bootproof started no daemon (any pm2 CLI call would have).
    let daemons =
        facts["pm2"].as_array().expect("homes").iter().filter(|h| h["home"] == pm2.home_str().as_str()).count();
    assert_eq!(daemons, 1);
    assert!(!Path::new(&format!("/proc/{daemon_pid}")).exists());
    assert!(
        !std::fs::read_dir("/proc").expect("proc").flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&format!("God Daemon ({})", pm2.home_str())))
        }),
        "a daemon was started for this home"
    );
}

#[test]
fn pm2_native_dead_pid_file_and_no_socket_is_not_running() {
    let pm2 = Pm2::new("pm2-dead");
    // A pid that does not run: pid_max is far below this on any Linux.
    std::fs::write(pm2.home().join("pm2.pid"), "4194300\n").expect("pm2.pid");
    let before = snapshot(&pm2.home());
    let (_, home) = pm2.facts();
    assert_eq!(snapshot(&pm2.home()), before, "bootproof changed the PM2_HOME");
    let daemon = &home["daemon"];
    assert_eq!(daemon["pid_file"]["ok"].as_u64(), Some(4_194_300));
    assert_eq!(daemon["process"], Value::Null);
    assert_eq!(daemon["rpc"]["ok"]["outcome"], "not-running");
    assert_eq!(daemon["rpc"]["ok"]["reason"], "no socket file");
    assert!(!pm2.home().join("rpc.sock").exists(), "no daemon was started");
}

#[test]
fn pm2_native_socket_without_listener_is_not_running() {
    let pm2 = Pm2::new("pm2-stale");
    drop(UnixListener::bind(pm2.home().join("rpc.sock")).expect("bind"));
    let (_, home) = pm2.facts();
    assert_eq!(home["daemon"]["rpc"]["ok"]["outcome"], "not-running", "{}", home["daemon"]["rpc"]);
    assert_eq!(home["daemon"]["rpc"]["ok"]["reason"], "connection refused");
}

#[test]
fn pm2_native_socket_that_never_answers_is_no_answer_in_bounded_time() {
    let pm2 = Pm2::new("pm2-silent");
    let listener = UnixListener::bind(pm2.home().join("rpc.sock")).expect("bind");
    // Accept and hold the connection open without a word, like a wedged daemon.
    let holder = std::thread::spawn(move || {
        listener.accept().map(|(stream, _)| {
            std::thread::sleep(Duration::from_secs(4));
            drop(stream);
        })
    });
    let started = Instant::now();
    let (_, home) = pm2.facts();
    let took = started.elapsed();
    let rpc = &home["daemon"]["rpc"]["ok"];
    assert_eq!(rpc["outcome"], "no-answer", "{}", home["daemon"]["rpc"]);
    assert!(rpc["waited_ms"].as_u64().is_some_and(|ms| (2000..2500).contains(&ms)), "{rpc}");
    assert!(took < Duration::from_millis(3500), "bootproof took {took:?}");
    let _ = holder.join();
}
