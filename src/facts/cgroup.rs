//! Where a cgroup path puts a process in systemd's tree: a system service, a login
//! session, a unit of a user's own manager, a scope, a container runtime, PID 1's own, or
//! nowhere. Plain reading of the path systemd laid out (see systemd.special(7) and the
//! cgroup drivers of Docker, Podman, containerd and LXC); what that means for a reboot is
//! judged in `invariants::processes`.

/// The place of a cgroup path in the unit tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CgroupPlace {
    /// A system service unit: `/system.slice/…/NAME.service[/…]`.
    SystemService(String),
    /// A scope of the system manager that is not a login session (`systemd-run --scope`
    /// makes `run-r….scope`).
    SystemScope(String),
    /// A login session: `/user.slice/user-UID.slice/session-ID.scope`.
    Session {
        /// The session's user, from `user-UID.slice`.
        uid: Option<u32>,
        /// The session id (`3`, `c2`).
        id: String,
    },
    /// A unit of a user's own systemd: `/user.slice/user-UID.slice/user@UID.service/…/NAME`.
    UserUnit {
        /// The user.
        uid: u32,
        /// The unit: `greeter.service`, `app-….scope`.
        unit: String,
    },
    /// The user manager's own processes (`user@UID.service/init.scope`).
    UserManager {
        /// The user.
        uid: u32,
    },
    /// A container runtime's cgroup.
    Container {
        /// `docker`, `podman`, `containerd`, `cri-o`, `kubernetes`, `lxc`, `machine`.
        runtime: &'static str,
        /// The container's id or name.
        id: String,
    },
    /// PID 1's own cgroup (`/init.scope`).
    Init,
    /// The root cgroup: no unit holds it.
    Root,
    /// Outside this cgroup namespace (`/..`): a process entered into this container from
    /// the outside (`nsenter`), or seen from inside a container.
    Outside,
    /// Anything else.
    Other(String),
}

/// Container runtimes' scope and directory names: (prefix of a component, runtime).
const CONTAINER_SCOPES: [(&str, &str); 5] = [
    ("docker-", "docker"),
    ("libpod-", "podman"),
    ("cri-containerd-", "containerd"),
    ("crio-", "cri-o"),
    ("lxc.payload.", "lxc"),
];

impl CgroupPlace {
    /// Reads a cgroup path (`/proc/PID/cgroup`'s unified line).
    pub(crate) fn parse(path: &str) -> CgroupPlace {
        if path == "/" || path.is_empty() {
            return CgroupPlace::Root;
        }
        if path.starts_with("/..") {
            return CgroupPlace::Outside;
        }
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        if let Some(container) = container(&parts) {
            return container;
        }
        if parts.first() == Some(&"init.scope") {
            return CgroupPlace::Init;
        }
        if let Some(at) = parts.iter().position(|part| user_manager_uid(part).is_some()) {
            let uid = user_manager_uid(parts[at]).unwrap_or_default();
            return match parts[at + 1..].iter().find(|part| part.ends_with(".service") || part.ends_with(".scope")) {
                Some(&"init.scope") | None => CgroupPlace::UserManager { uid },
                Some(unit) => CgroupPlace::UserUnit { uid, unit: (*unit).to_owned() },
            };
        }
        if let Some(session) = parts.iter().find_map(|part| part.strip_prefix("session-")?.strip_suffix(".scope")) {
            let uid = parts.iter().find_map(|part| part.strip_prefix("user-")?.strip_suffix(".slice")?.parse().ok());
            return CgroupPlace::Session { uid, id: session.to_owned() };
        }
        if let Some(service) = parts.iter().find(|part| part.ends_with(".service")) {
            return CgroupPlace::SystemService((*service).to_owned());
        }
        if let Some(scope) = parts.iter().find(|part| part.ends_with(".scope")) {
            return CgroupPlace::SystemScope((*scope).to_owned());
        }
        CgroupPlace::Other(path.to_owned())
    }
}

/// `user@1000.service` → 1000.
fn user_manager_uid(part: &str) -> Option<u32> {
    part.strip_prefix("user@")?.strip_suffix(".service")?.parse().ok()
}

/// A container runtime's cgroup, by the names the runtimes give them: systemd-driver
/// scopes (`docker-ID.scope`, `libpod-ID.scope`), cgroupfs-driver directories
/// (`/docker/ID`, `/lxc/NAME`), Kubernetes pods, and machines registered with machined.
fn container(parts: &[&str]) -> Option<CgroupPlace> {
    for (i, part) in parts.iter().enumerate() {
        if part.starts_with("kubepods") {
            let id = parts.last().map_or("", |last| last.trim_end_matches(".scope"));
            return Some(CgroupPlace::Container { runtime: "kubernetes", id: id.to_owned() });
        }
        if (*part == "docker" || *part == "lxc") && i + 1 < parts.len() {
            let runtime = if *part == "docker" { "docker" } else { "lxc" };
            return Some(CgroupPlace::Container { runtime, id: parts[i + 1].to_owned() });
        }
        // Podman's monitor (conmon) is the runtime's, not the container's.
        if part.starts_with("libpod-conmon-") {
            continue;
        }
        for (prefix, runtime) in CONTAINER_SCOPES {
            if let Some(id) = part.strip_prefix(prefix) {
                let id = id.strip_suffix(".scope").unwrap_or(id);
                return Some(CgroupPlace::Container { runtime, id: id.to_owned() });
            }
        }
        if let Some(name) = part.strip_prefix("machine-").and_then(|rest| rest.strip_suffix(".scope")) {
            return Some(CgroupPlace::Container { runtime: "machine", id: name.to_owned() });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(path: &str) -> CgroupPlace {
        CgroupPlace::parse(path)
    }

    #[test]
    fn system_services_scopes_and_pid1() {
        assert_eq!(
            place("/system.slice/system-my\\x2dapp.slice/my-app@3000.service"),
            CgroupPlace::SystemService("my-app@3000.service".into())
        );
        assert_eq!(place("/system.slice/nginx.service/sub"), CgroupPlace::SystemService("nginx.service".into()));
        assert_eq!(
            place("/system.slice/run-r309aa133643348389959bb59e3a8a9f5.scope"),
            CgroupPlace::SystemScope("run-r309aa133643348389959bb59e3a8a9f5.scope".into())
        );
        assert_eq!(place("/init.scope"), CgroupPlace::Init);
        assert_eq!(place("/"), CgroupPlace::Root);
        assert_eq!(place("/.."), CgroupPlace::Outside);
        assert_eq!(place("/../../x"), CgroupPlace::Outside);
    }

    #[test]
    fn sessions_and_user_managers() {
        // As seen in the lab: `runuser -l deploy`, a lingering user's service, its manager.
        assert_eq!(
            place("/user.slice/user-1001.slice/session-c2.scope"),
            CgroupPlace::Session { uid: Some(1001), id: "c2".into() }
        );
        assert_eq!(
            place("/user.slice/user-1001.slice/user@1001.service/app.slice/greeter.service"),
            CgroupPlace::UserUnit { uid: 1001, unit: "greeter.service".into() }
        );
        assert_eq!(
            place("/user.slice/user-1000.slice/user@1000.service/app.slice/tmux-spawn-5c1c.scope"),
            CgroupPlace::UserUnit { uid: 1000, unit: "tmux-spawn-5c1c.scope".into() }
        );
        assert_eq!(
            place("/user.slice/user-1001.slice/user@1001.service/init.scope"),
            CgroupPlace::UserManager { uid: 1001 }
        );
    }

    #[test]
    fn container_runtimes() {
        let id = "3f4e8b2c9d1a";
        assert_eq!(
            place(&format!("/system.slice/docker-{id}.scope")),
            CgroupPlace::Container { runtime: "docker", id: id.into() }
        );
        assert_eq!(place(&format!("/docker/{id}")), CgroupPlace::Container { runtime: "docker", id: id.into() });
        assert_eq!(
            place(&format!("/machine.slice/libpod-{id}.scope/container")),
            CgroupPlace::Container { runtime: "podman", id: id.into() }
        );
        assert_eq!(
            place(&format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{id}.scope")),
            CgroupPlace::Container { runtime: "podman", id: id.into() }
        );
        assert_eq!(
            place(&format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-pod1.slice/cri-containerd-{id}.scope")),
            CgroupPlace::Container { runtime: "kubernetes", id: format!("cri-containerd-{id}") }
        );
        assert_eq!(place("/lxc.payload.web"), CgroupPlace::Container { runtime: "lxc", id: "web".into() });
        assert_eq!(
            place("/machine.slice/machine-lab.scope/payload"),
            CgroupPlace::Container { runtime: "machine", id: "lab".into() }
        );
        assert_eq!(
            place(&format!("/machine.slice/libpod-conmon-{id}.scope")),
            CgroupPlace::SystemScope(format!("libpod-conmon-{id}.scope"))
        );
    }
}
