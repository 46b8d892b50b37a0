//! The unattended setup in the reboot lab: `bootproof timer install` on real systemd, the
//! timer running checks by itself (every 3 s here), a real webhook and heartbeat receiver
//! (`tests/lab/receiver/receiver.js`, an enabled unit of the machine recording every
//! request), and a real reboot.
//!
//! One machine goes through the whole life of an install, step by step, as an operator's
//! host would: quiet while nothing changes; one firing message when an instance is
//! disabled and one resolved when it is enabled again; a receiver that hangs (the run ends
//! within its bound, with the exit code it has without webhooks) and then answers (the
//! message arrives from the outbox); a receiver that is down and comes back; `--alert-after
//! 2`; a reboot after which the timer checks by itself and one message says what came back
//! and what did not; and `timer remove`, which leaves no unit behind. The heartbeat goes to
//! `URL` while the check passes and to `URL/fail` while it fails, all along.
//!
//! Each run of the service ends with its heartbeat, after its webhook POSTs: the receiver's
//! log, cut at each heartbeat, is the list of runs and what each of them sent.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Machine, lab_required, ports};

/// The app every instance runs, and its template unit (as in `lab_units`).
const SERVER_JS: &str = include_str!("lab/my-app/server.js");
const TEMPLATE: &str = include_str!("lab/my-app/my-app@.service");
/// The receiver and its unit.
const RECEIVER_JS: &str = include_str!("lab/receiver/receiver.js");
const RECEIVER_UNIT: &str = include_str!("lab/receiver/receiver.service");

/// The webhook's path and query: a token, like a Slack URL's, and characters systemd's
/// environment-file parser treats specially, to prove they arrive as written.
const HOOK_PATH: &str = "/hook/T0SECRET/B0SECRET/tokentokentoken?sig=a$b&x=1";
/// The heartbeat's path: its id is a secret too.
const PING_PATH: &str = "/ping/5b1b8e2e-SECRET";

/// One request the receiver recorded.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    url: String,
    /// How the receiver answered it (`ok`, `hang`, …).
    mode: String,
    body: String,
}

impl Request {
    fn is_ping(&self) -> bool {
        self.method == "GET" && self.url.starts_with(PING_PATH)
    }

    fn is_post(&self) -> bool {
        self.method == "POST"
    }

    fn answered(&self) -> bool {
        self.mode == "ok"
    }

    fn payload(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("the POST body is not JSON ({e}): {}", self.body))
    }
}

/// The machine: two `my-app@` instances, the receiver, and the timer.
struct Lab {
    machine: Machine,
    port: u16,
    apps: [u16; 2],
}

impl Lab {
    fn up() -> Lab {
        let machine = Machine::up("unattended");
        let port = free_port();
        let apps = [free_port(), free_port()];
        machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
        machine.write("/etc/systemd/system/my-app@.service", TEMPLATE, 0o644);
        for app in apps {
            machine.write(&format!("/etc/my-app/{app}.env"), "GREETING=hello\n", 0o640);
        }
        machine.write("/opt/receiver/receiver.js", RECEIVER_JS, 0o644);
        machine.write(
            "/etc/systemd/system/receiver.service",
            &RECEIVER_UNIT.replace("@PORT@", &port.to_string()),
            0o644,
        );
        machine.sh(
            "useradd --system --no-create-home --shell /usr/sbin/nologin nodeuser && chgrp nodeuser /etc/my-app/*.env
             useradd --system --no-create-home --shell /usr/sbin/nologin receiver
             install -d -o receiver -g receiver /srv/receiver",
        );
        machine.sh(&format!(
            "systemctl daemon-reload && systemctl enable --now receiver.service my-app@{}.service my-app@{}.service",
            apps[0], apps[1]
        ));
        let lab = Lab { machine, port, apps };
        for port in [lab.port, apps[0], apps[1]] {
            lab.machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(15));
        }
        lab
    }

    fn unit(&self, i: usize) -> String {
        format!("my-app@{}.service", self.apps[i])
    }

    fn subject(&self, i: usize) -> String {
        format!("unit:{}", self.unit(i))
    }

    fn webhook(&self) -> String {
        format!("http://127.0.0.1:{}{HOOK_PATH}", self.port)
    }

    fn ping(&self) -> String {
        format!("http://127.0.0.1:{}{PING_PATH}", self.port)
    }

    /// `bootproof timer install`, checking 3 s after boot and then `every`, with `extra`
    /// flags; its output.
    #[track_caller]
    fn install(&self, every: &str, extra: &[&str]) -> String {
        let webhook = self.webhook();
        let ping = self.ping();
        let mut args =
            vec!["timer", "install", "--after-boot", "3s", "--every", every, "--webhook", &webhook, "--ping", &ping];
        args.extend_from_slice(extra);
        let out = self.machine.bootproof(&args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "timer install failed ({:?})\n{stdout}\n{stderr}", out.status.code());
        assert_no_secret(&stdout);
        assert_no_secret(&stderr);
        stdout
    }

    /// Every request the receiver recorded so far, in order.
    fn requests(&self) -> Vec<Request> {
        let log = self.machine.sh("cat /srv/receiver/requests.jsonl 2>/dev/null || true");
        log.lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("receiver log line ({e}): {line}"));
                let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
                Request { method: text("method"), url: text("url"), mode: text("mode"), body: text("body") }
            })
            .collect()
    }

    /// Waits until `pings` more heartbeats came after the first `seen` requests; returns the
    /// requests after `seen`.
    #[track_caller]
    fn wait_runs(&self, seen: usize, pings: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        loop {
            let new: Vec<Request> = self.requests().into_iter().skip(seen).collect();
            if new.iter().filter(|r| r.is_ping()).count() >= pings {
                return new;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {pings} runs; the receiver got\n{new:#?}\n{}",
                self.journal()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits for the first POST the receiver answered after `seen`, then for `then` more
    /// runs (heartbeats after it); returns the requests after `seen`.
    #[track_caller]
    fn wait_post_then_runs(&self, seen: usize, then: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let new: Vec<Request> = self.requests().into_iter().skip(seen).collect();
            if let Some(at) = new.iter().position(|r| r.is_post() && r.answered()) {
                let after = new[at..].iter().filter(|r| r.is_ping()).count();
                if after > then {
                    return new;
                }
            }
            assert!(Instant::now() < deadline, "no POST arrived; the receiver got\n{new:#?}\n{}", self.journal());
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until a POST after `seen` carried `check` on `subject` with `status`.
    #[track_caller]
    fn wait_for_alert(&self, seen: usize, check: &str, subject: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let new: Vec<Request> = self.requests().into_iter().skip(seen).collect();
            if delivered(&new).iter().any(|p| alert(p, check, subject).is_some_and(|x| x["status"] == status)) {
                return;
            }
            assert!(Instant::now() < deadline, "no {status} {check} on {subject}:\n{new:#?}\n{}", self.journal());
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Starts the service by hand and waits for it (a oneshot: `systemctl start` returns
    /// when the check is done); how long it ran, and its exit status.
    #[track_caller]
    fn run_by_hand(&self) -> (Duration, i64) {
        self.machine.sh("systemctl start bootproof-check.service");
        let show = self.machine.sh("systemctl show bootproof-check.service -P ExecMainStartTimestampMonotonic; \
             systemctl show bootproof-check.service -P ExecMainExitTimestampMonotonic; \
             systemctl show bootproof-check.service -P ExecMainStatus");
        let fields: Vec<i64> = show.lines().filter_map(|l| l.trim().parse().ok()).collect();
        let [start, end, status] = fields[..] else { panic!("systemctl show: {show}") };
        (Duration::from_micros(u64::try_from(end - start).unwrap_or(0)), status)
    }

    fn set_mode(&self, mode: &str) {
        self.machine.write("/srv/receiver/mode", &format!("{mode}\n"), 0o644);
    }

    fn journal(&self) -> String {
        self.machine.journals(&["bootproof-check.service", "receiver.service"])
    }
}

/// A port of this process's block (`ports`) that nothing on the host listens on: a
/// process that does not take its ports from the harness may hold one (seen: a node
/// server of another run on the first port of the first block).
fn free_port() -> u16 {
    loop {
        let port = ports(1);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
        eprintln!("port {port} is taken on this host by something outside the harness; taking the next");
    }
}

#[track_caller]
fn assert_no_secret(text: &str) {
    assert!(!text.contains("SECRET") && !text.contains("tokentoken"), "a secret was shown:\n{text}");
}

/// The answered POSTs among `requests`, as payloads.
fn delivered(requests: &[Request]) -> Vec<Value> {
    requests.iter().filter(|r| r.is_post() && r.answered()).map(Request::payload).collect()
}

/// The alert of `payload` about `check` on `subject`.
fn alert<'a>(payload: &'a Value, check: &str, subject: &str) -> Option<&'a Value> {
    payload["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["check"] == check && a["labels"]["subject"] == subject)
}

/// The reboot alerts of `payload`.
fn reboots(payload: &Value) -> Vec<&Value> {
    payload["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["labels"]["alertname"] == "BootproofHostRebooted")
        .collect()
}

/// Every heartbeat of `requests` went to `URL/fail` (`failing`) or to `URL`.
#[track_caller]
fn assert_heartbeats(requests: &[Request], failing: bool) {
    let expected = if failing { format!("{PING_PATH}/fail") } else { PING_PATH.to_owned() };
    for ping in requests.iter().filter(|r| r.is_ping()) {
        assert_eq!(
            ping.url,
            expected,
            "heartbeat of a {} check:\n{requests:#?}",
            if failing { "failing" } else { "passing" }
        );
    }
}

/// The Alertmanager webhook (version 4) shape every `json` payload has.
#[track_caller]
fn assert_alertmanager_shape(payload: &Value) {
    assert_eq!(payload["version"], "4", "{payload:#}");
    assert_eq!(payload["receiver"], "bootproof");
    assert!(matches!(payload["status"].as_str(), Some("firing" | "resolved")), "{payload:#}");
    assert!(payload["groupLabels"]["host"].is_string());
    for a in payload["alerts"].as_array().expect("alerts[]") {
        for label in ["alertname", "check", "subject", "host", "severity"] {
            assert!(a["labels"][label].is_string(), "label {label}: {a:#}");
        }
        assert!(a["annotations"]["summary"].is_string(), "{a:#}");
        assert!(a["startsAt"].is_string() && a["endsAt"].is_string() && a["fingerprint"].is_string(), "{a:#}");
    }
}

#[test]
fn lab_unattended_timer_alerts_on_changes_and_after_a_reboot() {
    if !lab_required() {
        return;
    }
    let lab = Lab::up();
    // From the machine's boot (a slot may have been waited for before it).
    let started = Instant::now();
    let (a, b) = (lab.subject(0), lab.subject(1));

    // Install: the files, the reload, the link, the start, and no secret anywhere a user sees.
    let out = lab.install("3s", &[]);
    for change in [
        "created /etc/bootproof",
        "wrote /etc/bootproof/alert.env (mode 0600: 1 webhook and the heartbeat)",
        "wrote /etc/systemd/system/bootproof-check.service",
        "wrote /etc/systemd/system/bootproof.timer",
        "reloaded systemd (daemon-reload)",
        "enabled bootproof.timer: created symlink /etc/systemd/system/timers.target.wants/bootproof.timer",
        "started bootproof.timer",
    ] {
        assert!(out.contains(change), "install did not say {change:?}:\n{out}");
    }
    let shown = lab.machine.sh(
        "systemctl show bootproof-check.service bootproof.timer; systemctl cat bootproof-check.service bootproof.timer; \
         ps -eo args",
    );
    assert_no_secret(&shown);
    assert_eq!(lab.machine.sh("stat -c %a /etc/bootproof/alert.env").trim(), "600");
    assert_eq!(lab.install("3s", &[]).trim(), "bootproof's timer is installed as asked and active: nothing to change");

    // Unchanged: two runs of the timer's own, no message, heartbeats to URL.
    let quiet = lab.wait_runs(0, 2, Duration::from_secs(30));
    assert!(delivered(&quiet).is_empty(), "nothing changed, nothing sent:\n{quiet:#?}");
    assert_heartbeats(&quiet, false);

    // An instance disabled: one firing message naming it; then nothing while it stays so,
    // and heartbeats to URL/fail.
    let seen = lab.requests().len();
    lab.machine.sh(&format!("systemctl disable {}", lab.unit(0)));
    let broken = lab.wait_post_then_runs(seen, 2);
    let posts = delivered(&broken);
    assert_eq!(posts.len(), 1, "one message for the change:\n{broken:#?}");
    let fired = &posts[0];
    assert_alertmanager_shape(fired);
    assert_eq!(fired["status"], "firing");
    let enabled = alert(fired, "supervisor.enabled", &a).unwrap_or_else(|| panic!("no alert for {a}:\n{fired:#}"));
    assert_eq!(enabled["status"], "firing");
    assert_eq!(enabled["labels"]["alertname"], "BootproofSupervisorEnabled");
    assert_eq!(enabled["annotations"]["remediation"], format!("sudo systemctl enable {}", lab.unit(0)));
    assert!(enabled["annotations"]["summary"].as_str().unwrap_or_default().contains("disabled"), "{enabled:#}");
    // The instance's own alert, and its template's (unit.instances), which names it: nothing else.
    let alerts = fired["alerts"].as_array().map(Vec::as_slice).unwrap_or_default();
    assert_eq!(alerts.len(), 2, "{fired:#}");
    let template = alert(fired, "unit.instances", "unit:my-app@.service").expect("the template's alert");
    assert!(template["annotations"]["summary"].as_str().unwrap_or_default().contains(&lab.unit(0)), "{template:#}");
    assert_heartbeats(&from_first_post(&broken), true);

    // Enabled again: one resolved message, for what fired, with the labels it fired with.
    let seen = lab.requests().len();
    lab.machine.sh(&format!("systemctl enable {}", lab.unit(0)));
    let fixed = lab.wait_post_then_runs(seen, 2);
    let posts = delivered(&fixed);
    assert_eq!(posts.len(), 1, "one message for the fix:\n{fixed:#?}");
    let resolved = &posts[0];
    assert_alertmanager_shape(resolved);
    assert_eq!(resolved["status"], "resolved");
    let back = alert(resolved, "supervisor.enabled", &a).expect("resolved alert");
    assert_eq!(back["status"], "resolved");
    assert_eq!(back["labels"], enabled["labels"]);
    assert_eq!(back["fingerprint"], enabled["fingerprint"]);
    assert_eq!(back["startsAt"], enabled["startsAt"]);
    assert_eq!(resolved["alerts"].as_array().map(Vec::len), Some(2), "{resolved:#}");
    assert_heartbeats(&from_first_post(&fixed), false);

    // Runs by hand from here (`systemctl start bootproof-check.service`, the service the
    // timer starts), so each can be timed and told apart.
    let out = lab.install("1h", &[]);
    assert!(out.contains("replaced /etc/systemd/system/bootproof.timer"), "{out}");

    // A receiver that never answers: the run ends within its bound (5 s per attempt, three
    // attempts, for the webhook and then for the heartbeat), with the exit code a check has
    // without webhooks; the message waits in the outbox.
    lab.set_mode("hang");
    lab.machine.sh(&format!("systemctl disable {}", lab.unit(0)));
    let seen = lab.requests().len();
    let (took, status) = lab.run_by_hand();
    eprintln!("a run with a receiver that never answers took {:.1} s", took.as_secs_f64());
    assert!(took >= Duration::from_secs(15) && took < Duration::from_secs(45), "{took:?}\n{}", lab.journal());
    let (direct, _) = lab.machine.check_json(&["--no-state"]);
    assert_eq!((status, direct), (1, 1), "a failure, as without webhooks");
    let hung: Vec<Request> = lab.requests().into_iter().skip(seen).collect();
    assert_eq!(hung.iter().filter(|r| r.is_post() && r.mode == "hang").count(), 3, "{hung:#?}");
    assert_eq!(hung.iter().filter(|r| r.is_ping() && r.mode == "hang").count(), 3, "{hung:#?}");
    let journal = lab.journal();
    assert!(
        journal.contains("no answer within 5s (3 attempts): kept 1 message(s) in the outbox for the next run"),
        "{journal}"
    );
    assert_no_secret(&journal);

    // It answers again: the next run delivers the message from the outbox.
    lab.set_mode("ok");
    let seen = lab.requests().len();
    lab.run_by_hand();
    let late: Vec<Request> = lab.requests().into_iter().skip(seen).collect();
    let posts = delivered(&late);
    assert_eq!(posts.len(), 1, "the outbox's message, once:\n{late:#?}");
    assert_eq!(alert(&posts[0], "supervisor.enabled", &a).map(|x| x["status"].clone()), Some("firing".into()));
    assert!(lab.journal().contains("delivered 1 message(s) an earlier run could not"));

    // Down (its unit stopped: connections refused) while the instance is enabled again: the
    // resolution, and the receiver's own outage, are delivered once it is back, in order.
    lab.machine.sh(&format!("systemctl stop receiver.service && systemctl enable {}", lab.unit(0)));
    lab.run_by_hand();
    assert!(
        lab.journal().contains("(os error 111) (3 attempts): kept 1 message(s) in the outbox"),
        "{}",
        lab.journal()
    );
    lab.machine.sh("systemctl start receiver.service");
    lab.machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{}", lab.port), Duration::from_secs(15));
    let seen = lab.requests().len();
    lab.run_by_hand();
    let returned: Vec<Request> = lab.requests().into_iter().skip(seen).collect();
    let posts = delivered(&returned);
    assert_eq!(posts.len(), 2, "the outbox's message, then this run's:\n{returned:#?}");
    let status_of =
        |payload: &Value, check: &str, subject: &str| alert(payload, check, subject).map(|x| x["status"].clone());
    assert_eq!(status_of(&posts[0], "supervisor.enabled", &a), Some("resolved".into()), "{:#}", posts[0]);
    assert_eq!(status_of(&posts[0], "supervisor.active", "unit:receiver.service"), Some("firing".into()));
    assert_eq!(status_of(&posts[1], "supervisor.active", "unit:receiver.service"), Some("resolved".into()));

    // --alert-after 2, the timer every 3 s again: one bad run says nothing, the second fires.
    let out = lab.install("3s", &["--alert-after", "2"]);
    assert!(out.contains("replaced /etc/systemd/system/bootproof-check.service"), "{out}");
    // Two runs: the first may have started before the reload.
    lab.wait_runs(lab.requests().len(), 2, Duration::from_secs(20));
    let seen = lab.requests().len();
    lab.machine.sh(&format!("systemctl disable {}", lab.unit(0)));
    let slow = lab.wait_post_then_runs(seen, 0);
    let runs = cut_into_runs(&slow);
    let first_bad =
        runs.iter().position(|run| run.last().is_some_and(|p| p.url.ends_with("/fail"))).expect("a failing run");
    assert!(runs[first_bad].iter().all(|r| !r.is_post()), "no alert after one bad run:\n{slow:#?}");
    assert!(runs[first_bad + 1].iter().any(|r| r.is_post()), "one after two:\n{slow:#?}");
    let posts = delivered(&slow);
    assert_eq!(posts.len(), 1, "{slow:#?}");
    assert_eq!(status_of(&posts[0], "supervisor.enabled", &a), Some("firing".into()));

    // Before a reboot: the first instance fixed, the second enabled only until the reboot.
    let seen = lab.requests().len();
    lab.machine.sh(&format!(
        "systemctl enable {a} && systemctl disable {b} && systemctl enable --runtime {b}",
        a = lab.unit(0),
        b = lab.unit(1)
    ));
    lab.wait_for_alert(seen, "supervisor.enabled", &b, "firing");

    // The reboot: the timer checks after the boot by itself, and one message tells what came
    // back and what did not (the instance enabled only until the reboot), with its fix.
    let seen = lab.requests().len();
    lab.machine.reboot();
    let after = lab.wait_post_then_runs(seen, 2);
    let posts = delivered(&after);
    let notices: Vec<&Value> = posts.iter().flat_map(reboots).collect();
    assert_eq!(notices.len(), 1, "one reboot message:\n{posts:#?}");
    let notice = notices[0];
    assert_eq!(notice["status"], "firing", "something did not come back: {notice:#}");
    let summary = notice["annotations"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains(" rebooted at ") && summary.ends_with(": 2 of 3 services came back"), "{summary}");
    let description = notice["annotations"]["description"].as_str().unwrap_or_default();
    assert!(
        description.contains(&format!("not back: {b}: was running at the last check before this boot")),
        "{description}"
    );
    assert!(description.contains(&format!("sudo systemctl enable --now {}", lab.unit(1))), "{description}");
    let runs_this_boot = lab.machine.sh(
        "journalctl -b 0 -u bootproof-check.service --no-pager -o cat | grep -c '^Starting bootproof-check' || true",
    );
    assert!(
        runs_this_boot.trim().parse::<u32>().unwrap_or(0) >= 3,
        "the timer ran the checks after the boot: {runs_this_boot}"
    );

    // The instance enabled for good: what fired resolves, and the reboot's message too.
    let seen = lab.requests().len();
    lab.machine.sh(&format!("systemctl enable --now {}", lab.unit(1)));
    let healed = lab.wait_post_then_runs(seen, 1);
    let posts = delivered(&healed);
    assert_eq!(posts.len(), 1, "{healed:#?}");
    let reboot_back = reboots(&posts[0]);
    assert_eq!(reboot_back.len(), 1, "{:#}", posts[0]);
    assert_eq!(reboot_back[0]["status"], "resolved");
    assert_eq!(reboot_back[0]["fingerprint"], notice["fingerprint"]);
    assert_eq!(status_of(&posts[0], "supervisor.enabled", &b), Some("resolved".into()), "{:#}", posts[0]);
    assert_eq!(status_of(&posts[0], "supervisor.active", &b), Some("resolved".into()), "{:#}", posts[0]);
    assert_heartbeats(&from_first_post(&healed), false);

    // timer remove: nothing of it is left, and it says what it removed.
    let out = lab.machine.bootproof(&["timer", "remove"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}\n{}", String::from_utf8_lossy(&out.stderr));
    for change in [
        "stopped bootproof.timer",
        "disabled bootproof.timer: removed symlink /etc/systemd/system/timers.target.wants/bootproof.timer",
        "removed /etc/systemd/system/bootproof.timer",
        "removed /etc/systemd/system/bootproof-check.service",
        "removed /etc/bootproof/alert.env",
        "removed /etc/bootproof (empty)",
        "reloaded systemd (daemon-reload)",
        "kept /var/lib/bootproof/state.json",
    ] {
        assert!(said.contains(change), "remove did not say {change:?}:\n{said}");
    }
    let left = lab.machine.sh(
        "{ systemctl list-unit-files --no-legend 'bootproof*'; systemctl list-units --all --no-legend 'bootproof*'; \
           ls -d /etc/bootproof /etc/systemd/system/bootproof* /etc/systemd/system/*/bootproof*; } 2>/dev/null || true",
    );
    assert_eq!(left.trim(), "", "left behind after timer remove:\n{left}");
    let again = lab.machine.bootproof(&["timer", "remove"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "bootproof's timer is not installed: nothing to remove");
    eprintln!("lab_unattended took {:.0} s", started.elapsed().as_secs_f64());
}

/// The requests from the first answered POST on.
fn from_first_post(requests: &[Request]) -> Vec<Request> {
    requests.iter().skip_while(|r| !(r.is_post() && r.answered())).cloned().collect()
}

/// `requests` cut after each heartbeat: one entry per run, its POSTs and its heartbeat.
fn cut_into_runs(requests: &[Request]) -> Vec<Vec<&Request>> {
    let mut runs = vec![Vec::new()];
    for request in requests {
        runs.last_mut().expect("one run at least").push(request);
        if request.is_ping() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

/// The highest `systemd-analyze security` exposure the service may have.
const MAX_EXPOSURE: f64 = 3.0;

/// The service's sandbox, measured and held: `systemd-analyze security` rates it at most
/// 3.0, and inside it bootproof sees what it sees outside: another user's PM2 home (0700)
/// and rpc.sock, and /proc of that user's processes. Every finding of the service's check
/// equals the direct check's.
#[test]
fn lab_unattended_service_is_hardened_and_sees_what_a_check_sees() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("hardened");
    let port = free_port();
    machine.install_pm2();
    machine.write("/opt/my-app/server.js", SERVER_JS, 0o644);
    machine.write(
        "/opt/lab/deploy.sh",
        &format!(
            "set -euo pipefail\ncd /opt/my-app\nGREETING=hi pm2 start server.js --name api --max-memory-restart 200M -- {port} >/dev/null\npm2 save >/dev/null\n"
        ),
        0o755,
    );
    let as_deploy = |script: &str| {
        machine.sh(&format!(
            "/usr/sbin/runuser -u deploy -- env -i HOME=/home/deploy USER=deploy LOGNAME=deploy PATH=/usr/local/bin:/usr/bin:/bin /bin/bash -c '{script}'"
        ))
    };
    machine.sh("useradd --create-home --shell /bin/bash deploy && chmod 700 /home/deploy");
    as_deploy("/bin/bash /opt/lab/deploy.sh");
    machine.sh("env HOME=/root USER=root PATH=/usr/local/bin:/usr/bin:/bin pm2 startup systemd -u deploy --hp /home/deploy >/dev/null");
    as_deploy("pm2 kill >/dev/null");
    machine.sh("systemctl start pm2-deploy.service");
    machine.wait_for(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"), Duration::from_secs(20));

    let out = machine.bootproof(&["timer", "install", "--after-boot", "1h", "--every", "1h"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let security = machine.sh("systemd-analyze security --no-pager bootproof-check.service 2>&1");
    let figure = security
        .lines()
        .find_map(|line| line.split("Overall exposure level for bootproof-check.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"))
        .to_owned();
    let exposure: f64 = figure.parse().unwrap_or_else(|e| panic!("exposure {figure:?}: {e}"));
    eprintln!("systemd-analyze security bootproof-check.service: exposure {figure}");
    assert!(exposure <= MAX_EXPOSURE, "exposure {exposure} is above {MAX_EXPOSURE}:\n{security}");
    let readme = std::fs::read_to_string(crate::harness::repo().join("README.md")).expect("README");
    assert!(
        readme.contains(&format!("rates it **{figure} OK**")),
        "README should give the measured exposure, {figure}"
    );
    assert!(!security.contains("✗ ProtectSystem="), "{security}");

    // The service exactly as installed, but writing its report as JSON where it may write.
    machine.write(
        "/etc/systemd/system/bootproof-check.service.d/report.conf",
        "[Service]\nExecStart=\nExecStart=/usr/local/bin/bootproof check --format json -o /var/lib/bootproof/report.json\n",
        0o644,
    );
    machine.sh("systemctl daemon-reload && systemctl start bootproof-check.service");
    let sandboxed: Value =
        serde_json::from_str(&machine.sh("cat /var/lib/bootproof/report.json")).expect("the service's report");
    let (_, direct) = machine.check_json(&["--no-state"]);
    // The machine's boot, not the host kernel's (a container's boot id is a file mounted
    // over /proc's, which the service's own /proc does not have).
    // (`checked_at` is when each ran, a second or so apart.)
    let host = |report: &Value| {
        let mut host = report["host"].clone();
        host.as_object_mut().map(|h| h.remove("checked_at"));
        host
    };
    assert_eq!(host(&sandboxed), host(&direct), "the sandbox sees another host");
    let verdicts = |report: &Value| -> Vec<(String, String, String)> {
        report["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let text = |key: &str| r[key].as_str().unwrap_or_default().to_owned();
                (text("subject"), text("check"), text("status"))
            })
            .collect()
    };
    assert_eq!(verdicts(&sandboxed), verdicts(&direct), "the sandbox hides something:\n{sandboxed:#}");
    let deploy = "pm2:/home/deploy/.pm2";
    for check in ["supervisor.active", "pm2.dump", "pm2.resurrected", "process.node-runtime"] {
        let status = crate::harness::finding(&sandboxed, deploy, check)["status"].clone();
        assert_eq!(status, "pass", "{check} on {deploy} in the sandbox:\n{sandboxed:#}");
    }
    assert_eq!(sandboxed["summary"]["error"], 0, "{sandboxed:#}");
    machine.sh("rm -r /etc/systemd/system/bootproof-check.service.d && systemctl daemon-reload");
    let removed = machine.bootproof(&["timer", "remove"]);
    assert!(removed.status.success());
}
