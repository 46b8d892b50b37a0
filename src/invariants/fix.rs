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

/// `text` as one shell word: single-quoted, a `'` inside written `'\''`, so pasting it
/// can never run anything but the command it belongs to.
pub(crate) fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c)) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `text` in a unit file's value: systemd expands `%` specifiers in (almost) every
/// setting, so a literal `%` is `%%`.
fn unit_value(text: &str) -> String {
    text.replace('%', "%%")
}

/// One word of `ExecStart=`: `%` and `$` escaped (systemd expands both), and quoted when
/// it holds what systemd splits or unquotes.
fn exec_word(word: &str) -> String {
    let escaped = unit_value(word).replace('$', "$$");
    if !escaped.is_empty() && !escaped.chars().any(|c| c.is_whitespace() || "\"'\\;".contains(c)) {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What a unit sketched from a running process needs.
pub(crate) struct Sketch<'a> {
    /// The unit's name, without `.service` (already made of `[a-z0-9-]`).
    pub(crate) name: &'a str,
    /// `Description=`.
    pub(crate) description: &'a str,
    /// `User=`; `None` for root.
    pub(crate) user: Option<&'a str>,
    /// `WorkingDirectory=`.
    pub(crate) cwd: Option<&'a str>,
    /// `ExecStart=`: the program and its arguments.
    pub(crate) exec: &'a [String],
    /// The environment variables to carry over (their names; the values are copied from
    /// the running process when the command is pasted, never through bootproof).
    pub(crate) env_names: &'a [String],
    /// The process whose environment is copied.
    pub(crate) env_pid: u32,
    /// The running processes the unit replaces, stopped just before it starts.
    pub(crate) replaces: &'a [u32],
}

/// A command that puts a running process under systemd: writes the unit sketched from it
/// (`/etc/systemd/system/NAME.service`, `Restart=on-failure`, enabled for
/// `multi-user.target`), copies the values of its environment variables into
/// `/etc/NAME.env` (mode 0600) straight from `/proc/PID/environ`, stops the running
/// process and starts the unit in its place. One line: each unit line is a single-quoted
/// `printf` argument (a heredoc would break when a report indents it). `None` when a value
/// from the host holds a control character (no safe way to write it).
pub(crate) fn unit_from_process(sketch: &Sketch) -> Option<String> {
    let host_values = [sketch.description, sketch.user.unwrap_or(""), sketch.cwd.unwrap_or("")];
    let clean = |text: &str| !text.chars().any(char::is_control);
    if !host_values.iter().all(|v| clean(v)) || !sketch.exec.iter().all(|w| clean(w)) || sketch.exec.is_empty() {
        return None;
    }
    let names: Vec<&str> = sketch
        .env_names
        .iter()
        .map(String::as_str)
        .filter(|name| {
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .collect();
    let unit = format!("{}.service", sketch.name);
    let env_file = format!("/etc/{}.env", sketch.name);
    let mut lines = vec![
        "[Unit]".to_owned(),
        format!("Description={}", unit_value(sketch.description)),
        "After=network-online.target".to_owned(),
        "Wants=network-online.target".to_owned(),
        String::new(),
        "[Service]".to_owned(),
    ];
    if let Some(user) = sketch.user {
        lines.push(format!("User={}", unit_value(user)));
    }
    if let Some(cwd) = sketch.cwd {
        lines.push(format!("WorkingDirectory={}", unit_value(cwd)));
    }
    if !names.is_empty() {
        lines.push(format!("EnvironmentFile={env_file}"));
    }
    lines.push(format!("ExecStart={}", sketch.exec.iter().map(|w| exec_word(w)).collect::<Vec<_>>().join(" ")));
    lines.extend(
        ["Restart=on-failure", "RestartSec=2s", "", "[Install]", "WantedBy=multi-user.target"].map(str::to_owned),
    );
    let printf = lines.iter().map(|line| shell_quote(line)).collect::<Vec<_>>().join(" ");
    let mut steps = vec![format!("printf '%s\\n' {printf} | sudo tee /etc/systemd/system/{unit} >/dev/null")];
    if !names.is_empty() {
        steps.push(format!(
            "sudo install -m 600 /dev/null {env_file} && sudo cat /proc/{}/environ | tr '\\0' '\\n' | grep -E {} | sudo tee {env_file} >/dev/null",
            sketch.env_pid,
            shell_quote(&format!("^({})=", names.join("|")))
        ));
    }
    steps.push("sudo systemctl daemon-reload".to_owned());
    if !sketch.replaces.is_empty() {
        let pids: Vec<String> = sketch.replaces.iter().map(u32::to_string).collect();
        steps.push(format!(
            "sudo kill {} && for p in {}; do tail --pid=$p -s 0.2 -f /dev/null; done",
            pids.join(" "),
            pids.join(" ")
        ));
    }
    steps.push(format!("sudo systemctl enable --now {unit}"));
    Some(steps.join(" && "))
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
    fn host_values_cannot_escape_their_quotes() {
        assert_eq!(shell_quote("server.js"), "server.js");
        assert_eq!(shell_quote("it's; rm -rf /"), "'it'\\''s; rm -rf /'");
        assert_eq!(exec_word("100%"), "100%%");
        assert_eq!(exec_word("$HOME"), "$$HOME");
        assert_eq!(exec_word("a b\"c"), "\"a b\\\"c\"");
        assert_eq!(exec_word(";"), "\";\"");
    }

    #[test]
    fn a_unit_sketched_from_a_process_pastes_as_one_line() {
        let exec = ["/usr/bin/node".to_owned(), "server.js".to_owned(), "18001".to_owned()];
        let env = ["GREETING".to_owned(), "bad name".to_owned()];
        let sketch = Sketch {
            name: "my-app",
            description: "node server.js 18001, started by hand",
            user: Some("deploy"),
            cwd: Some("/opt/my-app"),
            exec: &exec,
            env_names: &env,
            env_pid: 88,
            replaces: &[74, 88],
        };
        let command = unit_from_process(&sketch).expect("a sketch");
        assert!(!command.contains('\n'), "{command}");
        assert!(command.starts_with("printf '%s\\n' '[Unit]' "), "{command}");
        assert!(command.contains(" 'ExecStart=/usr/bin/node server.js 18001' "), "{command}");
        assert!(command.contains("grep -E '^(GREETING)='"), "names that are not names are left out: {command}");
        assert!(command.contains("sudo kill 74 88 && for p in 74 88; do tail --pid=$p"), "{command}");
        assert!(command.ends_with("sudo systemctl enable --now my-app.service"), "{command}");
        let hostile = ["/usr/bin/node".to_owned(), "x\nEOF".to_owned()];
        assert_eq!(unit_from_process(&Sketch { exec: &hostile, ..sketch }), None);
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
