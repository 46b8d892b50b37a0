//! Remediation commands, written once so every invariant pastes the same shapes.
//!
//! Every name and path in a command comes from the host — a unit, a user, a PM2 home, a
//! file — and goes through [`quote`], so that pasting the command runs that command on
//! that name and nothing else, whatever the name holds (`a'; rm -rf / #`, `$(reboot)`, a
//! newline). bootproof itself never hands any of it to a shell: it only prints commands.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `word` as one shell word: as it is when it holds only characters no shell treats
/// specially (`my-app@3000.service`, `/home/deploy/.pm2`), in single quotes otherwise
/// (`'it'\''s'`), and as `$'…'` (bash, zsh, ksh) when it holds a control character, which
/// single quotes would pass raw to the terminal and which then could not be pasted back.
pub(crate) fn quote(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return Cow::Borrowed(word);
    }
    // Characters a terminal would not show as they are: control characters, and those
    // that reorder or hide text (a right-to-left override makes a command read backwards).
    let unseen = |c: char| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    if word.chars().any(unseen) {
        let mut out = String::from("$'");
        for c in word.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if unseen(c) => {
                    // \x takes one byte: only ASCII is written that way, the rest as \u.
                    if u32::from(c) < 0x80 {
                        let _ = write!(out, "\\x{:02x}", u32::from(c));
                    } else {
                        let _ = write!(out, "\\u{:04x}", u32::from(c));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        return Cow::Owned(out);
    }
    Cow::Owned(format!("'{}'", word.replace('\'', "'\\''")))
}

/// Each word quoted, joined with spaces.
pub(crate) fn quote_all<S: AsRef<str>>(words: &[S]) -> String {
    words.iter().map(|word| quote(word.as_ref())).collect::<Vec<_>>().join(" ")
}

/// `sudo systemctl VERB UNIT…` (`verb` is bootproof's own words, `enable --now`).
pub(crate) fn systemctl(verb: &str, units: &[&str]) -> String {
    format!("sudo systemctl {verb} {}", quote_all(units))
}

/// A command that writes a drop-in for `unit` with the given `[section]` lines and
/// reloads systemd: pasteable as it is into a root-capable shell. `name`, `section` and
/// `lines` are bootproof's own words; only `unit` comes from the host.
pub(crate) fn drop_in(unit: &str, name: &str, section: &str, lines: &[&str]) -> String {
    let dir = format!("/etc/systemd/system/{unit}.d");
    let file = format!("{dir}/{name}.conf");
    let body = lines.join("\\n");
    format!(
        "sudo mkdir -p {} && printf '[{section}]\\n{body}\\n' | sudo tee {} >/dev/null && sudo systemctl daemon-reload",
        quote(&dir),
        quote(&file)
    )
}

/// Where to read why a unit did not start.
pub(crate) fn journal(unit: &str) -> String {
    format!("sudo journalctl -b -u {} -n 50 --no-pager", quote(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a POSIX shell (bash, for `$'…'`) makes of `command`: its words, each ended by NUL,
    /// printed by the shell itself; `command` runs with `printf` in place of `sudo`, so
    /// nothing is executed but the printing.
    fn words_as_bash_sees_them(command: &str) -> Vec<String> {
        let script = format!("sudo() {{ printf '%s\\0' \"$@\"; }}; {command}");
        let out = std::process::Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &script])
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).split_terminator('\0').map(str::to_owned).collect()
    }

    #[test]
    fn plain_names_stay_as_they_are() {
        assert_eq!(quote("my-app@3000.service"), "my-app@3000.service");
        assert_eq!(quote("/home/deploy/.pm2"), "/home/deploy/.pm2");
        assert_eq!(
            systemctl("enable --now", &["a.service", "b@1.service"]),
            "sudo systemctl enable --now a.service b@1.service"
        );
    }

    #[test]
    fn a_hostile_name_is_one_word_and_runs_nothing() {
        for name in [
            "a'; rm -rf / #.service",
            "$(reboot).service",
            "`reboot`",
            "x\nreboot",
            "a b",
            "",
            "\x1b[2Jx",
            "it's",
            "\\",
        ] {
            let command = systemctl("enable --now", &[name]);
            assert_eq!(
                words_as_bash_sees_them(&command),
                ["systemctl", "enable", "--now", name].map(str::to_owned),
                "{command}"
            );
            assert!(!command.chars().any(char::is_control), "raw control characters in {command:?}");
        }
    }

    #[test]
    fn a_journal_command_for_a_hostile_unit_reads_that_unit() {
        let command = journal("$(touch /tmp/owned).service");
        assert_eq!(
            words_as_bash_sees_them(&command),
            ["journalctl", "-b", "-u", "$(touch /tmp/owned).service", "-n", "50", "--no-pager"].map(str::to_owned)
        );
    }

    #[test]
    fn drop_in_writes_one_section_and_reloads() {
        let cmd = drop_in("my-app@.service", "restart", "Service", &["Restart=on-failure", "RestartSec=2s"]);
        assert_eq!(
            cmd,
            "sudo mkdir -p /etc/systemd/system/my-app@.service.d && printf '[Service]\\nRestart=on-failure\\nRestartSec=2s\\n' | sudo tee /etc/systemd/system/my-app@.service.d/restart.conf >/dev/null && sudo systemctl daemon-reload"
        );
    }
}
