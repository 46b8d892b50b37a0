//! What `bootproof explain ID` says of each invariant beyond its catalogue line: why it
//! exists (the incident or article it comes from), what it reads, and how to fix it. Kept
//! as data beside the catalogue so a new id cannot ship without its explanation.

use crate::verdict::CheckId;

/// The long form of one catalogue entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Explanation {
    /// Why the invariant exists: what went wrong without it.
    pub(crate) why: &'static str,
    /// The facts it judges: D-Bus properties, files, /proc entries, the PM2 socket.
    pub(crate) reads: &'static [&'static str],
    /// The command shapes that fix a violation (`UNIT`, `USER`, … stand for the names the
    /// finding gives).
    pub(crate) fix: &'static [&'static str],
}

/// The explanation of `id`.
pub(crate) fn explanation(id: CheckId) -> Explanation {
    match id {
        CheckId::SupervisorRegistered => Explanation {
            why: "The incident this tool comes from: PM2 had been started by hand in a shell and was never \
                  registered with systemd. After routine OS patching rebooted the server nothing started PM2, \
                  the API was down for 18 minutes and `pm2 ls` showed an empty list. A service is only \
                  started at boot when systemd has a unit file for it; a unit loaded from a file that was \
                  since changed or removed (daemon-reload pending) boots as the file is now, not as it runs now.",
            reads: &[
                "LoadState, LoadError, FragmentPath, NeedDaemonReload (org.freedesktop.systemd1.Unit, over D-Bus)",
                "the unit file at FragmentPath (stat): does the next boot still find it",
                "the check file's [[unit]] names: an expected unit systemd does not have fails here",
            ],
            fix: &[
                "pm2 startup systemd -u USER --hp HOME   # prints the sudo command that writes pm2-USER.service",
                "write /etc/systemd/system/UNIT, then: sudo systemctl daemon-reload && sudo systemctl enable --now UNIT",
                "sudo systemctl daemon-reload            # a unit file changed on disk",
                "sudo systemctl unmask UNIT              # a masked unit",
            ],
        },
        CheckId::SupervisorEnabled => Explanation {
            why: "Step 1 of the incident's fix: `pm2 startup` writes the unit and enables it. A unit that \
                  is only started never comes back after a reboot. Only `enabled` is permanent: \
                  `enabled-runtime` and `linked-runtime` live in /run and vanish at reboot (`systemctl enable \
                  --runtime` looks fine until then), `disabled` and `masked` do not start, and `static` or \
                  `indirect` start only if something else pulls them in. Enabled also means wanted by a target \
                  the default target reaches: WantedBy=graphical.target on a multi-user server starts nothing.",
            reads: &[
                "UnitFileState, WantedBy, RequiredBy (org.freedesktop.systemd1.Unit)",
                "the default target and every target it pulls in (Wants/Requires, breadth-first)",
                "the chain that pulls the unit in at boot, its Condition…=/Assert…= paths and ExecStartPre steps",
            ],
            fix: &[
                "sudo systemctl enable UNIT",
                "sudo systemctl enable my-app@3002.service   # one instance of a template",
                "set WantedBy=multi-user.target in [Install], then: sudo systemctl reenable UNIT",
            ],
        },
        CheckId::SupervisorActive => Explanation {
            why: "Step 3 of the incident's fix: the unit showed `inactive (dead)` while a PM2 daemon started \
                  from a shell kept the apps running, so everything looked fine until the reboot. The unit \
                  must be active and own the process: its MainPID (or its cgroup) is the service. After a \
                  reboot, a unit that ran at the last check and that systemd no longer knows is named from \
                  bootproof's state file.",
            reads: &[
                "ActiveState, SubState, ActiveEnterTimestamp, MainPID, NRestarts, ControlGroup (over D-Bus)",
                "/proc/PID/cgroup of the service's processes",
                "the state file (--state, /var/lib/bootproof/state.json): the last check of the previous boot",
            ],
            fix: &[
                "sudo systemctl start UNIT",
                "sudo journalctl -b -u UNIT -n 50 --no-pager   # why it stopped or failed",
                "pm2 kill && sudo systemctl start pm2-USER      # hand a shell-started PM2 daemon to systemd",
            ],
        },
        CheckId::UnitUser => Explanation {
            why: "PM2 behaviour: `pm2 startup` run without $USER set writes `User=undefined` into the unit, \
                  and the unit fails at boot with status 217/USER. Any User= that names no account does the \
                  same, and only at the next start.",
            reads: &[
                "User=, Group=, DynamicUser= (org.freedesktop.systemd1.Service)",
                "the account, through the system's user database (NSS: getpwnam)",
            ],
            fix: &[
                "sudo useradd --system --no-create-home --shell /usr/sbin/nologin USER",
                "or point User= at an existing account: sudo systemctl edit UNIT",
            ],
        },
        CheckId::UnitExec => Explanation {
            why: "\"Using NVM for Node\" breakage: a unit whose ExecStart points into ~/.nvm (or at a node \
                  found through /usr/bin/env and a PATH that includes it) stops starting the day that node \
                  version is removed or the home directory is not readable by the service user. systemd \
                  only finds out at the next start, typically the next boot.",
            reads: &[
                "ExecStart= and ExecStartPre= (path, argv) (org.freedesktop.systemd1.Service)",
                "each binary and the node it relies on: directly, through env and the unit's PATH, or a script's #!",
                "stat of each: exists, is a file, executable by the service user",
            ],
            fix: &[
                "install node system-wide (distribution or NodeSource package), then point ExecStart at /usr/bin/node: sudo systemctl edit --full UNIT",
            ],
        },
        CheckId::UnitRestartPolicy => Explanation {
            why: "From the systemd article: without Restart= a crashed node process stays down until someone \
                  notices. `on-abnormal` and `on-watchdog` ignore node's exit code 1 on an uncaught exception, \
                  so only `on-failure` or `always` bring the service back.",
            reads: &["Restart=, RestartUSec (org.freedesktop.systemd1.Service)"],
            fix: &[
                "sudo mkdir -p /etc/systemd/system/UNIT.d && printf '[Service]\\nRestart=on-failure\\nRestartSec=2s\\n' | sudo tee /etc/systemd/system/UNIT.d/restart.conf >/dev/null && sudo systemctl daemon-reload",
            ],
        },
        CheckId::UnitStartLimit => Explanation {
            why: "\"Controlled, finite restart\": a service that crashes at start must run into a limit \
                  instead of restarting forever and hiding the crash. The limit is off when \
                  StartLimitIntervalSec=0, and can never trip when burst × RestartSec is longer than the \
                  interval.",
            reads: &["StartLimitBurst, StartLimitIntervalUSec (Unit), RestartUSec (Service)"],
            fix: &[
                "sudo mkdir -p /etc/systemd/system/UNIT.d && printf '[Unit]\\nStartLimitIntervalSec=60\\nStartLimitBurst=3\\n' | sudo tee /etc/systemd/system/UNIT.d/start-limit.conf >/dev/null && sudo systemctl daemon-reload",
            ],
        },
        CheckId::UnitMemoryLimit => Explanation {
            why: "From the PM2 article: a leaking node process grows until the kernel's OOM killer picks a \
                  victim, not necessarily the leaking one. A bound (MemoryMax=/MemoryHigh= for a unit, \
                  max_memory_restart for a PM2 app) restarts the leaking service alone.",
            reads: &["MemoryMax, MemoryHigh (org.freedesktop.systemd1.Service)", "max_memory_restart of each PM2 app"],
            fix: &[
                "sudo mkdir -p /etc/systemd/system/UNIT.d && printf '[Service]\\nMemoryMax=1G\\n' | sudo tee /etc/systemd/system/UNIT.d/memory.conf >/dev/null && sudo systemctl daemon-reload",
                "pm2 start app.js --max-memory-restart 1G && pm2 save",
            ],
        },
        CheckId::UnitEnvFiles => Explanation {
            why: "From the systemd article: settings and secrets go into an EnvironmentFile. A required one \
                  that is missing fails the unit at start (after the next reboot, if it was removed while \
                  the service ran); one readable by every user leaks the secrets.",
            reads: &[
                "EnvironmentFiles (path, optional `-`) (org.freedesktop.systemd1.Service)",
                "stat of each file: exists, owner, mode",
            ],
            fix: &[
                "restore the file, or mark it optional: EnvironmentFile=-/etc/my-app/3000.env",
                "sudo chmod o-rwx FILE",
            ],
        },
        CheckId::UnitInstances => Explanation {
            why: "From the systemd article: teams that left PM2 run template units (`my-app@3000` … \
                  `my-app@3003`), one per port. Each instance is enabled on its own; one forgotten instance \
                  means a quarter of the capacity is gone after the reboot, and nothing says so.",
            reads: &[
                "the template's instances systemd knows (loaded units and enablement links)",
                "each instance's own findings: the boot-critical ones decide whether it comes back",
                "the check file's [[unit]] ranges: expected instances that nothing enables",
            ],
            fix: &["sudo systemctl enable --now my-app@3000.service my-app@3001.service …"],
        },
        CheckId::Pm2Dump => Explanation {
            why: "`pm2 resurrect` (what pm2-USER.service runs at boot) starts exactly the apps in dump.pm2. \
                  Without `pm2 save` there is no dump, and PM2 comes back after a reboot with an empty list, \
                  as in the incident. PM2 also rewrites the dump as a signal kills it: a unit that stops it \
                  without `ExecStop=pm2 kill` (systemd signals the daemon and its apps at once) or with \
                  `ExecStop=pm2 stop` can leave apps saved as stopped, which resurrect does not start (warn).",
            reads: &[
                "PM2_HOME/dump.pm2 (JSON array; stat and content)",
                "the live daemon's app list over PM2_HOME/rpc.sock",
                "ExecStop= and KillMode= of the unit that resurrects the home",
            ],
            fix: &[
                "pm2 save   # as the user PM2 runs as, with its PM2_HOME",
                "ExecStop=PM2 kill   # in a drop-in of the unit, as pm2 startup writes it",
            ],
        },
        CheckId::Pm2DumpFresh => Explanation {
            why: "\"The dump is stale\": an app started or scaled after the last `pm2 save` is not in \
                  dump.pm2 and does not come back at boot; an app deleted since comes back uninvited.",
            reads: &[
                "PM2_HOME/dump.pm2: name, instances, script, exec mode of each app",
                "the live daemon's apps over PM2_HOME/rpc.sock (getMonitorData), never the pm2 command",
                "the check file: [thresholds] dump_max_age and the expected apps of [[pm2]]",
            ],
            fix: &["pm2 save"],
        },
        CheckId::Pm2Resurrected => Explanation {
            why: "Post-reboot validation: after a boot, every app the dump saved as online must be online \
                  again; an app that fails at start after `pm2 resurrect` is otherwise only visible in `pm2 ls`. \
                  `pm2 resurrect` starts every saved app but a stopped one. A shutdown that signals PM2 and its \
                  apps together (no `ExecStop=pm2 kill` ran first) can reach an app first: PM2 then writes it \
                  into dump.pm2 as stopped as it dies, and resurrect leaves it stopped (PM2 issue #6036). \
                  pm2.log tells that apart from `pm2 stop`, and such an app counts as saved online.",
            reads: &[
                "PM2_HOME/dump.pm2",
                "the live daemon's apps over rpc.sock",
                "the last 1 MiB of PM2_HOME/pm2.log: the apps the daemon's last kill found exited",
                "the boot time",
            ],
            fix: &["pm2 logs APP --lines 50   # why it did not start", "pm2 restart APP && pm2 save"],
        },
        CheckId::Pm2CrashLoop => Explanation {
            why: "\"↺ climbs while uptime stays low\": PM2 restarts a crashing app forever, so it looks online \
                  in every snapshot. The restart count rising across checks while uptime stays short is the \
                  crash loop (NRestarts likewise for units).",
            reads: &[
                "restart_time, unstable_restarts, pm_uptime of each app over rpc.sock",
                "the state file, across runs",
            ],
            fix: &["pm2 logs APP --lines 100", "pm2 describe APP"],
        },
        CheckId::Pm2LogRotation => Explanation {
            why: "PM2 writes every app's output to ~/.pm2/logs without bound: \"fills the disk\", and a full \
                  disk stops far more than the app.",
            reads: &["PM2_HOME/module_conf.json and PM2_HOME/modules (pm2-logrotate installed)"],
            fix: &["pm2 install pm2-logrotate"],
        },
        CheckId::Pm2DumpSecrets => Explanation {
            why: "`pm2 save` stores each app's environment in dump.pm2, including whatever the shell that \
                  started it exported (tokens, database URLs). A dump other users can read leaks them.",
            reads: &[
                "stat of PM2_HOME/dump.pm2 and dump.pm2.bak",
                "the names (never the values) of the saved environment variables",
            ],
            fix: &["chmod 600 PM2_HOME/dump.pm2 PM2_HOME/dump.pm2.bak"],
        },
        CheckId::ProcessNotRoot => Explanation {
            why: "The incident report's \"Running as Root\" risk: the PM2 daemon and every app it started ran \
                  as root, so any hole in the app was a hole in the host.",
            reads: &[
                "the uid of each process in the unit's cgroup (/proc/PID/status)",
                "User= when the unit is stopped",
                "the uid of the PM2 daemon and its apps",
            ],
            fix: &[
                "run the service as a service user: sudo useradd --system --no-create-home --shell /usr/sbin/nologin nodeapp, then User=nodeapp (sudo systemctl edit UNIT)",
                "for PM2: pm2 startup systemd -u deploy --hp /home/deploy, and start the apps as deploy",
            ],
        },
        CheckId::ProcessNodeRuntime => Explanation {
            why: "The incident report's \"Using NVM for Node\" risk: a node under a per-user version manager \
                  (~/.nvm, fnm, volta, asdf, n) changes or disappears with `nvm use`/`nvm uninstall`, and \
                  the service breaks at its next start.",
            reads: &["/proc/PID/exe of the running node", "ExecStart= and the unit's PATH (Environment=)"],
            fix: &[
                "install node system-wide (distribution or NodeSource package) and point ExecStart and PATH at /usr/bin: sudo systemctl edit --full UNIT",
            ],
        },
        CheckId::ProcessSupervised => Explanation {
            why: "The incident's root cause, in general: a process nobody's init system supervised. PM2 \
                  started from a shell was one; `node index.js` in a tmux or screen session, `nohup npm \
                  start &`, `systemd-run --scope`, a user service without lingering are others, and each is \
                  gone after the next reboot (or logout) while everything looks fine until then. Every \
                  running node, nodejs or bun process and every TCP listener is classified by what will \
                  bring it back: a system unit (judged on its own subject), a PM2 home (likewise), a \
                  container runtime, a user's own systemd with lingering and the unit enabled — or \
                  nothing: a login session, a scope, a tmux or screen server, an orphan reparented to PID \
                  1. Such a process is subject `process:COMMAND (in CWD)`, keyed by what stays the same \
                  when it is started again, never by its pid. Inside an app container (PID 1 not systemd), \
                  the container runtime restarts PID 1 and what it started; PM2 as PID 1 is flagged: the \
                  runtime then watches PM2, which stays up while the app crash-loops behind it.",
            reads: &[
                "one pass over /proc: stat, cmdline, exe of every process; status and cgroup of the node processes and listeners and their parents",
                "/proc/net/tcp and tcp6 (LISTEN rows), matched to /proc/PID/fd socket links",
                "/proc/PID/cwd and the names (never the values) of /proc/PID/environ, for the unit sketch",
                "/var/lib/systemd/linger; a user unit's file and TARGET.wants/ links in ~/.config/systemd/user and /etc/systemd/user",
                "/.dockerenv, /run/.containerenv, container= in PID 1's environment, PID 1's comm, exe, cmdline and cgroup",
                "the state file: the processes the last check before this boot saw",
            ],
            fix: &[
                "printf '%s\\n' '[Unit]' … '[Service]' 'User=USER' 'WorkingDirectory=CWD' 'ExecStart=NODE ARGS' 'Restart=on-failure' … | sudo tee /etc/systemd/system/NAME.service >/dev/null && sudo systemctl daemon-reload && sudo kill PID && sudo systemctl enable --now NAME.service",
                "# the finding's own fix writes that unit from the process's command line, directory, user and environment names, copying the values from /proc/PID/environ into /etc/NAME.env (mode 0600) as it is pasted: bootproof never reads them",
                "cd CWD && pm2 start SCRIPT --name NAME -- ARGS && pm2 save   # or under PM2, registered with pm2 startup",
                "sudo loginctl enable-linger USER   # a user service that should survive a reboot",
                "sudo -u USER XDG_RUNTIME_DIR=/run/user/UID systemctl --user enable UNIT",
            ],
        },
        CheckId::ProcessDevSupervisor => Explanation {
            why: "From the resiliency article: nodemon, node-supervisor, forever and `node --watch` restart \
                  node when a file changes or it crashes — never after a reboot — and are development \
                  tools: they watch the source tree, restart on any write, and keep no restart budget. \
                  Left running in production (in a tmux session, or even in a unit's ExecStart), they \
                  hide crash loops and turn a deploy's file copy into a restart storm. Let systemd \
                  (Restart=on-failure, StartLimitBurst) or PM2 supervise node directly.",
            reads: &[
                "the command lines of the unit's processes (/proc/PID/cmdline), or its ExecStart when stopped",
                "the command lines of a process started outside any unit, and of its parents",
            ],
            fix: &[
                "ExecStart=/usr/bin/node server.js with Restart=on-failure in the unit: sudo systemctl edit --full UNIT",
                "pm2 start server.js --name NAME && pm2 save   # or under PM2, without --watch",
            ],
        },
        CheckId::HealthHttp => Explanation {
            why: "A unit can be active and the app still not serve: health checks failed after the reboot \
                  while systemd said all was well. The endpoint must answer the expected status in time.",
            reads: &[
                "the check file's [[health]] and [[unit]] health URLs: an HTTP request each, with its timeout, no proxy for loopback",
            ],
            fix: &["sudo journalctl -b -u UNIT -n 50 --no-pager   # why the app does not answer", "curl -sv URL"],
        },
        CheckId::HostState => Explanation {
            why: "Reboot validation: `systemctl is-system-running` says `degraded` when any unit failed, which \
                  is the first thing to look at after a patching reboot.",
            reads: &["SystemState, the units in the failed state (org.freedesktop.systemd1.Manager)"],
            fix: &[
                "sudo systemctl list-units --state=failed",
                "sudo journalctl -b -u UNIT -n 50 --no-pager; after fixing: sudo systemctl reset-failed",
            ],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_is_explained() {
        for &id in CheckId::ALL {
            let e = explanation(id);
            assert!(!e.why.is_empty() && !e.reads.is_empty() && !e.fix.is_empty(), "{id}");
        }
    }
}
