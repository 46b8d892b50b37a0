//! Remediation commands, written once so every invariant pastes the same shapes.

/// `sudo systemctl VERB UNIT…`.
pub(crate) fn systemctl(verb: &str, units: &[&str]) -> String {
    format!("sudo systemctl {verb} {}", units.join(" "))
}

/// A command that writes a drop-in for `unit` with the given `[section]` lines and
/// reloads systemd: pasteable as it is into a root-capable shell.
pub(crate) fn drop_in(unit: &str, name: &str, section: &str, lines: &[&str]) -> String {
    let dir = format!("/etc/systemd/system/{unit}.d");
    let body = lines.join("\\n");
    format!(
        "sudo mkdir -p {dir} && printf '[{section}]\\n{body}\\n' | sudo tee {dir}/{name}.conf >/dev/null && sudo systemctl daemon-reload"
    )
}

/// Where to read why a unit did not start.
pub(crate) fn journal(unit: &str) -> String {
    format!("sudo journalctl -b -u {unit} -n 50 --no-pager")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_in_writes_one_section_and_reloads() {
        let cmd = drop_in("my-app@.service", "restart", "Service", &["Restart=on-failure", "RestartSec=2s"]);
        assert_eq!(
            cmd,
            "sudo mkdir -p /etc/systemd/system/my-app@.service.d && printf '[Service]\\nRestart=on-failure\\nRestartSec=2s\\n' | sudo tee /etc/systemd/system/my-app@.service.d/restart.conf >/dev/null && sudo systemctl daemon-reload"
        );
    }
}
