//! Is this host itself a container, and what is its PID 1? Read from the files container
//! runtimes leave (`/.dockerenv`, `/run/.containerenv`), the `container=` variable systemd
//! and the runtimes set in PID 1's environment, and PID 1 itself.
//!
//! A container whose PID 1 is systemd (a systemd-nspawn machine, an LXC system container)
//! is a host for bootproof: its systemd starts its services at its boot, as on a VM, and
//! is asked like one. Only a container whose PID 1 is something else (node, pm2-runtime,
//! tini, a shell) is an *app container*: no systemd to ask, and the container runtime,
//! not an init system, restarts what runs there ([`ContainerFacts::app_container`]).

use std::io::{self, Read};
use std::path::Path;

use super::files::os_message;
use super::model::{ContainerFacts, Fact, InitProcess};
use super::node::basename;

/// Bound on PID 1's environment read.
const ENVIRON_MAX: u64 = 1 << 20;

/// Reads the container facts of the filesystem and /proc under `root` (`/` on a live
/// host; a captured tree in tests).
pub(crate) fn read(root: &Path) -> ContainerFacts {
    let proc1 = root.join("proc/1");
    ContainerFacts {
        dockerenv: root.join(".dockerenv").exists(),
        containerenv: root.join("run/.containerenv").exists(),
        container_env: container_env(&proc1.join("environ")),
        pid1: init_process(&proc1),
    }
}

/// The value of `container=` in PID 1's environment; nothing else of it is kept.
fn container_env(path: &Path) -> Fact<Option<String>> {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|file| file.take(ENVIRON_MAX).read_to_end(&mut bytes));
    match read {
        Ok(_) => Fact::Ok(
            bytes
                .split(|b| *b == 0)
                .find_map(|entry| entry.strip_prefix(b"container="))
                .map(|value| String::from_utf8_lossy(value).into_owned()),
        ),
        Err(err) => Fact::Error(format!("cannot read {}: {}", path.display(), os_message(&err))),
    }
}

/// PID 1 as its /proc directory shows it.
fn init_process(proc1: &Path) -> Fact<InitProcess> {
    let comm = match std::fs::read_to_string(proc1.join("comm")) {
        Ok(text) => text.trim().to_owned(),
        Err(err) => return Fact::Error(format!("cannot read {}: {}", proc1.join("comm").display(), os_message(&err))),
    };
    let exe = match std::fs::read_link(proc1.join("exe")) {
        Ok(target) => Fact::Ok(target.to_string_lossy().into_owned()),
        Err(err) => Fact::Error(format!("cannot read {}: {}", proc1.join("exe").display(), os_message(&err))),
    };
    let cmdline = read_small(&proc1.join("cmdline"))
        .map(|bytes| {
            bytes
                .split(|b| *b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let cgroup = std::fs::read_to_string(proc1.join("cgroup"))
        .ok()
        .and_then(|text| text.lines().find_map(|line| line.strip_prefix("0::")).map(str::to_owned));
    Fact::Ok(InitProcess { comm, exe, cmdline, cgroup })
}

/// Reads a small /proc file whole (bounded).
fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(64 * 1024).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Cgroup path fragments of PID 1 that only a container has (without a cgroup namespace,
/// a container's PID 1 sees the host's path to its own cgroup).
const CONTAINER_CGROUPS: [&str; 6] = ["/docker", "docker-", "/kubepods", "libpod-", "/lxc", "lxc.payload"];

impl InitProcess {
    /// Whether PID 1 is systemd (whatever path booted it: `/sbin/init` is systemd on
    /// Debian, and systemd names itself `systemd`).
    pub(crate) fn is_systemd(&self) -> bool {
        self.comm == "systemd"
            || self.exe.ok().is_some_and(|exe| basename(exe.trim_end_matches(" (deleted)")) == "systemd")
    }

    /// What PID 1 runs, in a few words: its program (`/process_api`), or for a runtime
    /// the program and its script (`node server.js`, `node /usr/local/bin/pm2-runtime`).
    pub(crate) fn program(&self) -> String {
        match self.cmdline.as_slice() {
            [] => self.comm.clone(),
            [program, script, ..] if super::node::runtime_named(program).is_some() => format!("{program} {script}"),
            [program, ..] => program.clone(),
        }
    }

    /// PID 1's command line as one line.
    pub(crate) fn title(&self) -> String {
        if self.cmdline.is_empty() { self.comm.clone() } else { self.cmdline.join(" ") }
    }
}

impl ContainerFacts {
    /// What says this is a container, in the operator's words; empty on a plain host.
    pub(crate) fn markers(&self) -> Vec<String> {
        let mut markers = Vec::new();
        if self.dockerenv {
            markers.push("/.dockerenv".to_owned());
        }
        if self.containerenv {
            markers.push("/run/.containerenv".to_owned());
        }
        if let Fact::Ok(Some(value)) = &self.container_env {
            markers.push(format!("container={value} in PID 1's environment"));
        }
        if let Some(cgroup) = self.pid1.ok().and_then(|pid1| pid1.cgroup.as_deref())
            && CONTAINER_CGROUPS.iter().any(|fragment| cgroup.contains(fragment))
        {
            markers.push(format!("PID 1's cgroup {cgroup}"));
        }
        markers
    }

    /// The runtime the markers name: `docker`, `podman`, or `container=`'s value.
    pub(crate) fn runtime(&self) -> String {
        match &self.container_env {
            Fact::Ok(Some(value)) if !value.is_empty() => value.clone(),
            _ if self.containerenv => "podman".to_owned(),
            _ if self.dockerenv => "docker".to_owned(),
            _ => "container".to_owned(),
        }
    }

    /// When this is an app container — container markers, and a PID 1 that is not
    /// systemd — PID 1; `None` on a host, a VM, or a container systemd boots (see the
    /// module documentation). A PID 1 that cannot be read is not taken to be systemd.
    pub(crate) fn app_container(&self) -> Option<AppContainer> {
        if self.markers().is_empty() {
            return None;
        }
        match &self.pid1 {
            Fact::Ok(pid1) if pid1.is_systemd() => None,
            Fact::Ok(pid1) => Some(AppContainer { runtime: self.runtime(), pid1: Some(pid1.clone()) }),
            Fact::Error(_) => Some(AppContainer { runtime: self.runtime(), pid1: None }),
        }
    }
}

/// An app container: the runtime it says it is, and its PID 1 when readable.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AppContainer {
    /// `docker`, `podman`, …
    pub(crate) runtime: String,
    /// PID 1.
    pub(crate) pid1: Option<InitProcess>,
}

impl AppContainer {
    /// One sentence: `inside a docker container (/.dockerenv; PID 1 is node server.js, not an init system)`.
    pub(crate) fn describe(&self, facts: &ContainerFacts) -> String {
        let pid1 = self
            .pid1
            .as_ref()
            .map_or_else(|| "PID 1 could not be read".to_owned(), |p| format!("PID 1 is {}, not systemd", p.program()));
        format!("inside a {} container ({}; {pid1})", self.runtime, facts.markers().join(", "))
    }

    /// Whether PM2 is PID 1: `pm2-runtime`, `pm2-docker`, `pm2 … --no-daemon`, or a God
    /// Daemon title.
    pub(crate) fn pm2_is_pid1(&self) -> bool {
        self.pid1.as_ref().is_some_and(|pid1| super::node::runs_pm2_in_foreground(&pid1.cmdline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured tree under tests/containers/.
    fn captured(name: &str) -> ContainerFacts {
        read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/containers").join(name))
    }

    #[test]
    fn a_lab_machine_is_a_host_though_it_is_a_container() {
        // systemd-nspawn sets container=systemd-nspawn, and the machine's root is an
        // overlay of a host that has /.dockerenv: markers, but PID 1 is systemd.
        let facts = captured("lab-nspawn");
        assert!(!facts.markers().is_empty(), "{facts:?}");
        assert_eq!(facts.container_env, Fact::Ok(Some("systemd-nspawn".into())));
        assert_eq!(facts.app_container(), None);
    }

    #[test]
    fn a_vm_whose_init_is_not_systemd_is_an_app_container_when_it_says_docker() {
        // This project's CI host: /.dockerenv, a PID 1 of its own, an environ root cannot read.
        let facts = captured("ci-host");
        let app = facts.app_container().expect("an app container");
        assert_eq!(app.runtime, "docker");
        assert!(app.describe(&facts).contains("PID 1 is /process_api, not systemd)"), "{}", app.describe(&facts));
        assert!(!app.pm2_is_pid1());
    }

    #[test]
    fn pm2_runtime_as_pid1_is_flagged() {
        // pm2-runtime started as PID 1 of a new PID namespace, as `CMD ["pm2-runtime", …]` does.
        let facts = captured("docker-pm2-runtime");
        let app = facts.app_container().expect("an app container");
        assert!(app.pm2_is_pid1(), "{facts:?}");
        assert!(captured("docker-node").app_container().is_some_and(|app| !app.pm2_is_pid1()));
    }

    #[test]
    fn podman_says_so_in_two_places() {
        let facts = captured("podman-node");
        assert_eq!(facts.runtime(), "podman");
        assert!(facts.markers().iter().any(|m| m == "/run/.containerenv"), "{:?}", facts.markers());
    }

    #[test]
    fn a_plain_host_has_no_markers() {
        let facts = captured("plain-host");
        assert!(facts.markers().is_empty());
        assert_eq!(facts.app_container(), None);
        // Facts files keep the container facts; one written before them reads as a host.
        let text = serde_json::to_string(&facts).expect("serialises");
        assert_eq!(serde_json::from_str::<ContainerFacts>(&text).expect("parses"), facts);
    }
}
