//! An app container, for real, without a container engine: `unshare` gives pm2-runtime a
//! PID namespace of its own (it is PID 1 there, as `CMD ["pm2-runtime", "server.js"]`
//! makes it), a private mount namespace lays out /usr/local as an image has it and
//! creates `/run/.containerenv` as Podman does, and bootproof runs inside both namespaces
//! (`nsenter`). It must say once that it is inside a container, skip what only a host
//! has, find the PM2 home from PID 1's environment, and flag PM2 as PID 1.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{TempDir, assert_exit, bootproof_bin, finding, lab_required, ports, repo};

/// Lays the image out, then becomes pm2-runtime as PID 1: `$1` node_modules holding pm2,
/// `$2` the app's directory, `$3` its port.
const CONTAINER_INIT: &str = r#"set -e
mount -t tmpfs tmpfs /run && : >/run/.containerenv
mount -t tmpfs tmpfs /usr/local/lib && mkdir /usr/local/lib/node_modules
mount --bind "$1" /usr/local/lib/node_modules
mount -t tmpfs tmpfs /usr/local/bin && ln -s ../lib/node_modules/pm2/bin/pm2-runtime /usr/local/bin/pm2-runtime
cd "$2"
exec /usr/bin/node /usr/local/bin/pm2-runtime server.js -- "$3"
"#;

/// The container, killed (its PID 1, and so everything in it) when dropped.
struct Container {
    unshare: Child,
}

impl Drop for Container {
    fn drop(&mut self) {
        // SAFETY: kill on the process group this test made for the container.
        unsafe { libc::kill(-(self.unshare.id() as i32), libc::SIGKILL) };
        let _ = self.unshare.wait();
    }
}

/// The host pid of the PID 1 of a namespace whose command line holds `needle`.
fn namespace_init(needle: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
        let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        (nspid.split_whitespace().count() == 2 && nspid.trim_end().ends_with("\t1") && cmdline.contains(needle))
            .then_some(pid)
    })
}

#[test]
fn pm2_runtime_as_pid1_of_an_app_container_is_flagged() {
    // unshare needs root, as the lab does.
    if !lab_required() {
        return;
    }
    let dir = TempDir::new("app-container");
    let home = dir.path().join("pm2-home");
    let port = ports(1);
    let node_modules = repo().join("target/npm/node_modules");
    assert!(node_modules.join("pm2/bin/pm2-runtime").exists(), "pm2 is not in target/npm: run ci/install");
    let log = std::fs::File::create(dir.path().join("container.log")).expect("log");
    let unshare = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            CONTAINER_INIT,
            "sh",
        ])
        .arg(&node_modules)
        .arg(repo().join("tests/lab/my-app"))
        .arg(port.to_string())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/root")
        .env("PM2_HOME", &home)
        .env("GREETING", "hello")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("unshare runs");
    let _container = Container { unshare };
    let deadline = Instant::now() + Duration::from_secs(20);
    let init = loop {
        let answering = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if let Some(pid) = namespace_init(&format!("pm2-runtime server.js -- {port}")).filter(|_| answering) {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "pm2-runtime did not come up:\n{}",
            std::fs::read_to_string(dir.path().join("container.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    let out = Command::new("nsenter")
        .args(["-t", &init.to_string(), "-p", "-m", "--"])
        .arg(bootproof_bin())
        .args(["check", "--format", "json", "--no-state"])
        .env("NO_COLOR", "1")
        .output()
        .expect("nsenter runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // Warnings only: PM2 as PID 1, and the home's own risks (root, no log rotation).
    assert_exit(&out, 0);
    let host = finding(&report, "host", "host.state");
    assert_eq!(host["status"], "skip", "{host:#}");
    let says = host["message"].as_str().unwrap_or("");
    assert!(
        says.contains("inside a podman container (/.dockerenv, /run/.containerenv")
            || says.contains("inside a podman container (/run/.containerenv"),
        "{says}"
    );
    assert!(says.contains("PID 1 is /usr/bin/node /usr/local/bin/pm2-runtime, not systemd"), "{says}");
    let subject = format!("pm2:{}", home.display());
    let pid1 = finding(&report, &subject, "process.supervised");
    assert_eq!(pid1["status"], "warn", "{pid1:#}");
    assert!(pid1["message"].as_str().unwrap_or("").contains("PM2 is PID 1 of this podman container"), "{pid1:#}");
    for check in ["supervisor.registered", "supervisor.active", "pm2.dump"] {
        let f = finding(&report, &subject, check);
        assert_eq!(f["status"], "skip", "{f:#}");
    }
    // PM2's app and PM2 itself are the home's: no process subject of their own.
    let processes: Vec<&Value> = report["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["subject"].as_str().is_some_and(|s| s.starts_with("process:")))
        .collect();
    assert!(processes.is_empty(), "{processes:#?}");
}
