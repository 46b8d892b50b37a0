//! A host whose systemd cannot be asked — the system bus unreachable — in a real systemd
//! machine: bootproof could not check it (exit 3), and says so in every channel an
//! unattended run has. Nagios gets UNKNOWN, the Prometheus textfile is still written with
//! `bootproof_up 0`, and the heartbeat pings `/fail`.
//!
//! These run in a lab machine, not on the machine the tests run on: that one may itself be
//! an app container (`/.dockerenv`, PID 1 not systemd), where bootproof does not ask
//! systemd at all and says that instead.

use std::time::Duration;

use crate::fleet::assert_promtool_accepts;
use crate::harness::{MACHINE_BOOTPROOF, Machine, lab_required};

/// A bus address where no bus listens.
const NO_BUS: &str = "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bootproof-test/system_bus_socket";

/// A heartbeat receiver inside the machine: records each request line in /run/receiver.log.
const RECEIVER: &str = r#"
import http.server
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open("/run/receiver.log", "a") as log:
            log.write(self.requestline + "\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"OK")
    do_POST = do_GET
http.server.HTTPServer(("127.0.0.1", 8099), Receiver).serve_forever()
"#;

#[test]
fn lab_no_bus_is_unknown_to_nagios_up_0_in_the_textfile_and_a_fail_ping() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("nobus");
    let run = |args: &[&str]| {
        let mut argv = vec!["/usr/bin/env", "NO_COLOR=1", NO_BUS, MACHINE_BOOTPROOF];
        argv.extend_from_slice(args);
        machine.exec(&argv)
    };

    let out = run(&["check", "--format", "nagios"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("BOOTPROOF UNKNOWN - could not check: "), "{text}");

    machine.sh("mkdir -p /var/lib/prometheus/node-exporter");
    let out = run(&["check", "--format", "prometheus", "-o", "/var/lib/prometheus/node-exporter/bootproof.prom"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let textfile = machine.sh("cat /var/lib/prometheus/node-exporter/bootproof.prom");
    assert!(textfile.contains("\nbootproof_up 0\n"), "{textfile}");
    assert_promtool_accepts(textfile.as_bytes());
    assert_eq!(
        machine.sh("ls -A /var/lib/prometheus/node-exporter").split_whitespace().collect::<Vec<_>>(),
        ["bootproof.prom"],
        "only the textfile, no temporary file"
    );
    // The timer's way, `--write` beside the journal's human report: the textfile says so
    // too; the status page, which has no verdict to show, is not written.
    machine.sh("mkdir -p /srv/nobus");
    let out =
        run(&["check", "--write", "prometheus=/srv/nobus/bootproof.prom", "--write", "html=/srv/nobus/status.html"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let textfile = machine.sh("cat /srv/nobus/bootproof.prom");
    assert!(textfile.contains("\nbootproof_up 0\n"), "{textfile}");
    assert_eq!(machine.sh("ls -A /srv/nobus").trim(), "bootproof.prom");

    machine.write("/opt/receiver.py", RECEIVER, 0o644);
    machine.sh("systemd-run --unit=receiver /usr/bin/python3 /opt/receiver.py");
    machine.wait_for("exec 3<>/dev/tcp/127.0.0.1/8099", Duration::from_secs(15));
    let out = run(&["check", "--ping", "http://127.0.0.1:8099/ping/SECRET"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!said.contains("SECRET"), "the heartbeat URL is a secret:\n{said}");
    assert_eq!(machine.sh("cat /run/receiver.log"), "GET /ping/SECRET/fail HTTP/1.1\n");
}
