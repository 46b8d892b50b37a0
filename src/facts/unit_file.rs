//! A unit as its files on disk describe it: which files systemd would load for a unit
//! now (the unit file, or its template's, then the drop-ins), and the settings in them
//! that decide whether it starts at boot, with `%` specifiers expanded.
//!
//! Their settings are read only when the files changed since systemd loaded them: when
//! systemd says so (`NeedDaemonReload`), or when other files are there than the ones it
//! loaded (a drop-in directory made since the last daemon-reload, which systemd does not
//! notice). Then what runs now is not what the next boot runs, and only the files can say
//! what that will be. Pure parsing, apart from [`UnitDirs`], which looks in the unit
//! directories.

use std::collections::{BTreeMap, HashSet};

use super::node::split_words;
use super::systemd::ExecLine;

/// The settings of a unit's files that the boot-critical invariants judge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `User=`, when set (specifiers not yet expanded).
    pub(crate) user: Option<String>,
    /// `DynamicUser=`.
    pub(crate) dynamic_user: bool,
    /// `ExecStart=` commands, in order (specifiers not yet expanded).
    pub(crate) exec_start: Vec<ExecLine>,
    /// `Environment=` assignments.
    pub(crate) environment: Vec<String>,
    /// `EnvironmentFile=` entries: path and whether a `-` makes it optional.
    pub(crate) environment_files: Vec<(String, bool)>,
    /// `[Install] WantedBy=`.
    pub(crate) wanted_by: Vec<String>,
    /// `[Install] RequiredBy=`.
    pub(crate) required_by: Vec<String>,
}

/// The entries of each directory of the unit file search path, read once per run, so
/// that finding a unit's files costs no call for the many drop-in directories that do not
/// exist.
pub(crate) struct UnitDirs {
    /// Each directory of `UnitPath`, highest priority first, with the names in it.
    dirs: Vec<(String, HashSet<String>)>,
}

impl UnitDirs {
    /// Reads the entries of every directory of `unit_path`; one that cannot be read has
    /// none (systemd skips it too).
    pub(crate) fn read(unit_path: &[String]) -> UnitDirs {
        let dirs = unit_path
            .iter()
            .map(|dir| {
                let names = std::fs::read_dir(dir)
                    .map(|entries| entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
                    .unwrap_or_default();
                (dir.trim_end_matches('/').to_owned(), names)
            })
            .collect();
        UnitDirs { dirs }
    }

    /// The files systemd would load for `name` now, in the order it applies them: the
    /// unit file (an instance's own, else its template's; the first in `UnitPath` order),
    /// then the drop-ins (`*.conf` in `service.d/`, `<prefix>-.service.d/`, the
    /// template's and the unit's own `.d/` directories; of two with one file name the
    /// higher-priority directory wins; applied in file-name order). Empty when there is no
    /// unit file at all.
    ///
    /// Read from the directories themselves, not from systemd: a drop-in directory made
    /// after the last daemon-reload is not in the manager's cache of paths, so systemd
    /// neither lists it nor says a reload is needed, yet the next boot applies it.
    pub(crate) fn files_for(&self, name: &str) -> Vec<String> {
        let template = split_instance(name).map(|(template, _)| template);
        let find = |file: &str| {
            self.dirs.iter().find(|(_, names)| names.contains(file)).map(|(dir, _)| format!("{dir}/{file}"))
        };
        let Some(fragment) = find(name).or_else(|| template.as_deref().and_then(find)) else {
            return Vec::new();
        };
        let mut dropin_dirs = vec!["service.d".to_owned()];
        let stem = name.strip_suffix(".service").unwrap_or(name);
        for (at, _) in stem.match_indices('-') {
            dropin_dirs.push(format!("{}-.service.d", &stem[..at]));
        }
        if let Some(template) = &template {
            dropin_dirs.push(format!("{template}.d"));
        }
        dropin_dirs.push(format!("{name}.d"));
        // File name → path: the first directory of the unit path to hold a name wins.
        let mut dropins: BTreeMap<String, String> = BTreeMap::new();
        for (dir, names) in &self.dirs {
            for dropin_dir in dropin_dirs.iter().filter(|d| names.contains(d.as_str())) {
                let path = format!("{dir}/{dropin_dir}");
                let Ok(entries) = std::fs::read_dir(&path) else { continue };
                for entry in entries.flatten() {
                    let Ok(file_name) = entry.file_name().into_string() else { continue };
                    if file_name.ends_with(".conf") {
                        dropins.entry(file_name.clone()).or_insert_with(|| format!("{path}/{file_name}"));
                    }
                }
            }
        }
        std::iter::once(fragment).chain(dropins.into_values()).collect()
    }
}

/// Whether the files on disk are other files than the ones systemd loaded (compared by
/// where they really are, so a unit file reached through a link is the same file).
pub(crate) fn other_files(on_disk: &[String], loaded: &[&str]) -> bool {
    let real =
        |path: &str| std::fs::canonicalize(path).map_or_else(|_| path.into(), |p| p.to_string_lossy().into_owned());
    let mut on_disk: Vec<String> = on_disk.iter().map(|p| real(p)).collect();
    let mut loaded: Vec<String> = loaded.iter().map(|p| real(p)).collect();
    on_disk.sort();
    loaded.sort();
    on_disk != loaded
}

/// The settings the texts of a unit's files make, applied in order: a list setting
/// assigned empty starts over, as systemd does.
pub(crate) fn settings<'a>(texts: impl IntoIterator<Item = &'a str>) -> Settings {
    let mut settings = Settings::default();
    for text in texts {
        for (section, key, value) in assignments(text) {
            apply(&mut settings, &section, &key, value.trim());
        }
    }
    settings
}

/// One assignment into `settings`.
fn apply(settings: &mut Settings, section: &str, key: &str, value: &str) {
    match (section, key) {
        ("Service", "User") => settings.user = Some(value.to_owned()),
        ("Service", "DynamicUser") => settings.dynamic_user = matches!(value, "yes" | "true" | "1" | "on"),
        ("Service", "ExecStart") if value.is_empty() => settings.exec_start.clear(),
        ("Service", "ExecStart") => settings.exec_start.extend(exec_line(value)),
        ("Service", "Environment") if value.is_empty() => settings.environment.clear(),
        ("Service", "Environment") => settings.environment.extend(split_words(value)),
        ("Service", "EnvironmentFile") if value.is_empty() => settings.environment_files.clear(),
        ("Service", "EnvironmentFile") => match value.strip_prefix('-') {
            Some(path) => settings.environment_files.push((path.to_owned(), true)),
            None => settings.environment_files.push((value.to_owned(), false)),
        },
        ("Install", "WantedBy") if value.is_empty() => settings.wanted_by.clear(),
        ("Install", "WantedBy") => settings.wanted_by.extend(value.split_whitespace().map(str::to_owned)),
        ("Install", "RequiredBy") if value.is_empty() => settings.required_by.clear(),
        ("Install", "RequiredBy") => settings.required_by.extend(value.split_whitespace().map(str::to_owned)),
        _ => {}
    }
}

/// One `ExecStart=` value: its prefixes (`-` ignores failure, `@` gives argv[0]
/// separately, `:+!` change privileges or expansion), the binary and its argv.
fn exec_line(value: &str) -> Option<ExecLine> {
    let prefixes: String = value.chars().take_while(|c| "-@:+!".contains(*c)).collect();
    let mut words = split_words(&value[prefixes.len()..]);
    if words.is_empty() {
        return None;
    }
    let path = words.remove(0);
    let argv = if prefixes.contains('@') { words } else { std::iter::once(path.clone()).chain(words).collect() };
    Some(ExecLine { path, argv, ignore_failure: prefixes.contains('-') })
}

/// The `(section, key, value)` assignments of a unit file's text: comments (`#`, `;`)
/// and blank lines skipped, a line ending in `\` continued on the next.
fn assignments(text: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut section = String::new();
    let mut pending: Option<String> = None;
    for raw in text.lines() {
        let line = match pending.take() {
            Some(mut start) => {
                start.push(' ');
                start.push_str(raw.trim());
                start
            }
            None => {
                let trimmed = raw.trim();
                if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                    continue;
                }
                trimmed.to_owned()
            }
        };
        if let Some(start) = line.strip_suffix('\\') {
            pending = Some(start.trim_end().to_owned());
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            name.clone_into(&mut section);
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            found.push((section.clone(), key.trim().to_owned(), value.to_owned()));
        }
    }
    if let Some(line) = pending
        && let Some((key, value)) = line.split_once('=')
    {
        found.push((section, key.trim().to_owned(), value.to_owned()));
    }
    found
}

/// Splits an instance name: `my-app@3000.service` → (`my-app@.service`, `3000`).
/// `None` for a plain unit or the template itself.
pub(crate) fn split_instance(name: &str) -> Option<(String, String)> {
    let (prefix, rest) = name.split_once('@')?;
    let (instance, suffix) = rest.rsplit_once('.')?;
    if instance.is_empty() {
        return None;
    }
    Some((format!("{prefix}@.{suffix}"), instance.to_owned()))
}

/// What `%` specifiers stand for in one unit's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Specifiers {
    /// `%n`: the full unit name.
    pub(crate) name: String,
    /// `%u`: the user name, when `User=` is known.
    pub(crate) user: Option<String>,
    /// `%U`: the uid, when known.
    pub(crate) uid: Option<u32>,
    /// `%h`: the user's home directory, when known.
    pub(crate) home: Option<String>,
}

impl Specifiers {
    /// The specifiers of `name` with no user known yet.
    pub(crate) fn of(name: &str) -> Specifiers {
        Specifiers { name: name.to_owned(), user: None, uid: None, home: None }
    }

    /// `text` with its specifiers expanded: `%i`/`%I` (instance), `%n`/`%N` (name),
    /// `%p`/`%P` (prefix), `%u`, `%U`, `%h` when the user is known, `%%`. Any other is
    /// left as written.
    pub(crate) fn expand(&self, text: &str) -> String {
        let stem = self.name.rsplit_once('.').map_or(self.name.as_str(), |(stem, _)| stem);
        let (prefix, instance) = stem.split_once('@').unwrap_or((stem, ""));
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(spec) = chars.next() else {
                out.push('%');
                break;
            };
            let value: Option<String> = match spec {
                '%' => Some("%".to_owned()),
                'n' => Some(self.name.clone()),
                'N' => Some(stem.to_owned()),
                'p' => Some(prefix.to_owned()),
                'P' => Some(unescape(prefix)),
                'i' => Some(instance.to_owned()),
                'I' => Some(unescape(instance)),
                'u' => self.user.clone(),
                'U' => self.uid.map(|uid| uid.to_string()),
                'h' => self.home.clone(),
                _ => None,
            };
            match value {
                Some(value) => out.push_str(&value),
                None => {
                    out.push('%');
                    out.push(spec);
                }
            }
        }
        out
    }
}

/// systemd's unescaping of a name part: `-` is `/`, `\xNN` is that byte.
fn unescape(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let raw = text.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'-' => bytes.push(b'/'),
            b'\\' if raw.get(i + 1) == Some(&b'x') => {
                match raw.get(i + 2..i + 4).and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())
                {
                    Some(byte) => {
                        bytes.push(byte);
                        i += 3;
                    }
                    None => bytes.push(b'\\'),
                }
            }
            other => bytes.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_split() {
        assert_eq!(split_instance("my-app@3000.service"), Some(("my-app@.service".into(), "3000".into())));
        assert_eq!(split_instance("my-app@.service"), None);
        assert_eq!(split_instance("sshd.service"), None);
    }

    #[test]
    fn later_files_override_and_empty_assignments_start_over() {
        let fragment = "[Unit]\nDescription=x\n\n[Service]\nUser=nodeuser\nExecStart=/usr/bin/node /opt/my-app/server.js %i\n\
                        EnvironmentFile=/etc/my-app/%i.env\nEnvironmentFile=-/etc/default/my-app\n\n[Install]\nWantedBy=multi-user.target\n";
        let dropin = "[Service]\n# a comment\nUser=ghost\nExecStart=\nExecStart=-/opt/node/bin/node \\\n  /opt/my-app/server.js %i\n";
        let found = settings([fragment, dropin]);
        assert_eq!(found.user.as_deref(), Some("ghost"));
        assert_eq!(
            found.exec_start,
            vec![ExecLine {
                path: "/opt/node/bin/node".into(),
                argv: vec!["/opt/node/bin/node".into(), "/opt/my-app/server.js".into(), "%i".into()],
                ignore_failure: true,
            }]
        );
        assert_eq!(
            found.environment_files,
            vec![("/etc/my-app/%i.env".to_owned(), false), ("/etc/default/my-app".to_owned(), true)]
        );
        assert_eq!(found.wanted_by, vec!["multi-user.target"]);
    }

    #[test]
    fn at_prefix_gives_argv0_separately() {
        let found = settings(["[Service]\nExecStart=@/usr/bin/node my-app server.js\n"]);
        assert_eq!(found.exec_start[0].path, "/usr/bin/node");
        assert_eq!(found.exec_start[0].argv, vec!["my-app", "server.js"]);
    }

    #[test]
    fn specifiers_expand_as_systemd_expands_them() {
        let mut specs = Specifiers::of("my-app@3000.service");
        assert_eq!(specs.expand("/etc/my-app/%i.env"), "/etc/my-app/3000.env");
        assert_eq!(specs.expand("%n %N %p 100%%"), "my-app@3000.service my-app@3000 my-app 100%");
        assert_eq!(specs.expand("%h/.env"), "%h/.env", "no user known: left as written");
        specs.home = Some("/home/deploy".into());
        assert_eq!(specs.expand("%h/.env"), "/home/deploy/.env");
        assert_eq!(Specifiers::of("backup@srv-data.service").expand("%I"), "srv/data");
    }
}
