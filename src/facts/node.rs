//! Recognises commands that run a JavaScript runtime (node, nodejs, bun).
//!
//! Pure functions only: callers read the host (a script's `#!` line or text, a unit
//! file's text) and hand the text in. A command runs node when its binary is node
//! itself, when it is `/usr/bin/env` starting node, when it is a script whose `#!` line
//! does either, when it is a shell script whose exec line does (`start.sh`, a wrapper
//! found through env), a shell's `-c` string that does, or npm, yarn or pnpm (which run
//! on node). The `pm2` CLI is a node script too, but a `pm2 resurrect` unit is a PM2
//! subject, not a node service, so it is left out; `pm2-runtime` runs apps in the
//! foreground and does count as a node service.
//!
//! Also here: the development supervisors (nodemon, node-supervisor, forever, `node
//! --watch`) and PM2 run in the foreground, by their command lines.

use super::states::ExecVia as Via;

/// The runtimes bootproof looks for, by the file name of their binary.
pub(crate) const RUNTIMES: [&str; 3] = ["node", "nodejs", "bun"];

/// Where the runtime binary is to be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Locate {
    /// At this path (absolute, or as written when relative).
    At(String),
    /// By this name on the PATH `env` searches.
    OnPath(String),
}

/// A command's use of a runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RuntimeUse {
    /// `node`, `nodejs` or `bun`.
    pub(crate) program: &'static str,
    /// How the command reaches it.
    pub(crate) via: Via,
    /// Where the binary is.
    pub(crate) locate: Locate,
    /// For a wrapper, `sh -c` or a package manager: what was read to find it.
    pub(crate) through: Option<String>,
}

/// What a command turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExecKind {
    /// It runs a node/nodejs/bun program.
    Runtime(RuntimeUse),
    /// It runs the `pm2` CLI (e.g. `pm2 resurrect`): a PM2 subject, not a node service.
    Pm2Cli,
    /// It runs this file directly; only its `#!` line can tell (see [`classify_shebang`]).
    Script(String),
    /// A shell runs this script: only its text can tell (see [`shell_candidates`]).
    ShellScript(String),
    /// A shell runs this `-c` command string (see [`shell_candidates`]).
    ShellCommand(String),
    /// It runs npm, yarn or pnpm (at this path, or by this name on PATH): node programs.
    PackageManager(String),
    /// It runs the program of this name, wherever PATH finds it (through env).
    OnPath(String),
    /// Nothing here runs node.
    Other,
}

/// Shells whose scripts and `-c` strings bootproof reads for the node they start.
const SHELLS: [&str; 6] = ["sh", "bash", "dash", "zsh", "ksh", "ash"];

/// Package managers that run on node and run a package's scripts (`npm start`).
const PACKAGE_MANAGERS: [&str; 5] = ["npm", "npx", "yarn", "yarnpkg", "pnpm"];

/// Whether a path names a shell.
pub(crate) fn is_shell(path: &str) -> bool {
    SHELLS.contains(&basename(path))
}

/// Whether a path names npm, yarn or pnpm.
pub(crate) fn is_package_manager(path: &str) -> bool {
    PACKAGE_MANAGERS.contains(&basename(path))
}

/// The last path component: `/usr/bin/node` → `node`.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The runtime a program path names, when its file name is one of [`RUNTIMES`].
pub(crate) fn runtime_named(path: &str) -> Option<&'static str> {
    let name = basename(path);
    RUNTIMES.iter().copied().find(|runtime| *runtime == name)
}

/// Whether a path names the pm2 CLI (`pm2`, not `pm2-runtime` and friends).
fn is_pm2_cli(path: &str) -> bool {
    basename(path) == "pm2"
}

/// Node options that take the next argument as their value, so it is not the script.
const NODE_OPTIONS_WITH_VALUE: [&str; 8] =
    ["-r", "--require", "--import", "--loader", "--experimental-loader", "-e", "--eval", "--env-file"];

/// The script a runtime is asked to run: its first non-option argument.
pub(crate) fn runtime_script(args: &[String]) -> Option<&str> {
    let mut skip_next = false;
    for arg in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        if arg == "--" {
            continue;
        }
        if arg.starts_with('-') {
            // `--require=x` carries its value inline; `--require x` does not.
            skip_next = NODE_OPTIONS_WITH_VALUE.contains(&arg.as_str());
            continue;
        }
        return Some(arg);
    }
    None
}

/// Classifies a runtime invocation: the runtime itself, unless it runs the pm2 CLI.
fn runtime_invocation(program: &'static str, via: Via, locate: Locate, args: &[String]) -> ExecKind {
    // `node /usr/lib/node_modules/pm2/bin/pm2 resurrect` is still the pm2 CLI.
    if runtime_script(args).is_some_and(is_pm2_cli) {
        return ExecKind::Pm2Cli;
    }
    ExecKind::Runtime(RuntimeUse { program, via, locate, through: None })
}

/// The program `env` runs and its arguments, skipping env's own options and
/// `NAME=value` assignments. `-S`/`--split-string` splits its value on whitespace,
/// as in `#!/usr/bin/env -S node --max-old-space-size=512`.
pub(crate) fn env_program(args: &[String]) -> Option<(String, Vec<String>)> {
    env_program_within(args, ENV_SPLITS_MAX)
}

/// How many `-S` inside `-S` strings are followed. Real commands use one; a unit with
/// thousands (`env -S-S-S…`, from a unit file or the bus) overflowed the stack when each
/// was followed by a recursive call.
const ENV_SPLITS_MAX: usize = 8;

/// [`env_program`], following at most `splits` more `-S` strings; `None` past that.
fn env_program_within(args: &[String], splits: usize) -> Option<(String, Vec<String>)> {
    let mut expanded: Vec<String> = Vec::new();
    let mut iter = args.iter();
    let mut options_done = false;
    while let Some(arg) = iter.next() {
        if options_done || !arg.starts_with('-') || arg == "-" {
            if arg == "-" && !options_done {
                // `env -` is `env -i`: an empty environment, not a program.
                continue;
            }
            expanded.push(arg.clone());
            options_done = true;
            continue;
        }
        if arg == "--" {
            options_done = true;
            continue;
        }
        let split = if let Some(rest) = arg.strip_prefix("--split-string=") {
            Some(rest.to_owned())
        } else if arg == "-S" || arg == "--split-string" {
            iter.next().cloned()
        } else {
            arg.strip_prefix("-S").map(str::to_owned)
        };
        if let Some(split) = split {
            // The split string holds options, assignments and the program; the
            // arguments after it follow the program.
            let mut words: Vec<String> = split.split_whitespace().map(str::to_owned).collect();
            words.extend(iter.cloned());
            return env_program_within(&words, splits.checked_sub(1)?);
        }
        // Options with a separate value: -u NAME, -C DIR.
        if arg == "-u" || arg == "-C" || arg == "--unset" || arg == "--chdir" {
            iter.next();
        }
    }
    let mut words = expanded.into_iter().skip_while(|word| is_assignment(word));
    let program = words.next()?;
    Some((program, words.collect()))
}

/// `NAME=value`, as env takes it: a name without `/` before the first `=`.
fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => !name.is_empty() && !name.contains('/'),
        None => false,
    }
}

/// Classifies what `env` runs.
fn classify_env_program(program: &str, args: &[String], via: Via) -> ExecKind {
    if is_pm2_cli(program) {
        return ExecKind::Pm2Cli;
    }
    if let Some(runtime) = runtime_named(program) {
        // env only searches PATH for a bare name.
        let locate =
            if program.contains('/') { Locate::At(program.to_owned()) } else { Locate::OnPath(program.to_owned()) };
        return runtime_invocation(runtime, via, locate, args);
    }
    let mut argv = vec![program.to_owned()];
    argv.extend(args.iter().cloned());
    match shell_or_package_manager(program, &argv) {
        Some(kind) => kind,
        None if program.contains('/') => ExecKind::Script(program.to_owned()),
        None => ExecKind::OnPath(program.to_owned()),
    }
}

/// A shell (its `-c` string, or the script it is given) or a package manager; `None`
/// for any other program.
fn shell_or_package_manager(path: &str, argv: &[String]) -> Option<ExecKind> {
    if is_package_manager(path) {
        return Some(ExecKind::PackageManager(path.to_owned()));
    }
    if !is_shell(path) {
        return None;
    }
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--" {
            return Some(args.next().map_or(ExecKind::Other, |script| ExecKind::ShellScript(script.clone())));
        }
        match arg.strip_prefix('-') {
            // `-c`, `-ec`, `-lc`: the command string is the next argument.
            Some(flags) if flags.contains('c') && !arg.starts_with("--") => {
                return Some(args.next().map_or(ExecKind::Other, |command| ExecKind::ShellCommand(command.clone())));
            }
            // `-o pipefail`, `+o`: an option with a value.
            Some("o") => {
                args.next();
            }
            Some(_) => {}
            None => return Some(ExecKind::ShellScript(arg.clone())),
        }
    }
    // An interactive shell runs nothing of its own.
    Some(ExecKind::Other)
}

/// Classifies one `ExecStart=` command: the binary systemd executes and its argv
/// (`argv[0]` included).
pub(crate) fn classify_exec(path: &str, argv: &[String]) -> ExecKind {
    let args = argv.get(1..).unwrap_or_default();
    if is_pm2_cli(path) {
        return ExecKind::Pm2Cli;
    }
    // `@` in ExecStart= lets argv[0] differ from the binary; either naming node counts.
    let runtime = runtime_named(path).or_else(|| argv.first().and_then(|arg0| runtime_named(arg0)));
    if let Some(runtime) = runtime {
        return runtime_invocation(runtime, Via::Direct, Locate::At(path.to_owned()), args);
    }
    if basename(path) == "env" {
        return match env_program(args) {
            Some((program, rest)) => classify_env_program(&program, &rest, Via::Env),
            None => ExecKind::Other,
        };
    }
    shell_or_package_manager(path, argv).unwrap_or_else(|| ExecKind::Script(path.to_owned()))
}

/// Splits a `#!` line (without the `#!`… newline) the way Linux does: the
/// interpreter, then everything after it as a single optional argument.
pub(crate) fn split_shebang(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix("#!")?.trim();
    if rest.is_empty() {
        return None;
    }
    match rest.split_once([' ', '\t']) {
        Some((interpreter, arg)) => {
            let arg = arg.trim();
            Some((interpreter, (!arg.is_empty()).then_some(arg)))
        }
        None => Some((rest, None)),
    }
}

/// Classifies a script by its `#!` line: node (directly or through env), or not.
/// `script` is the script's own path, used to recognise the pm2 CLI.
pub(crate) fn classify_shebang(script: &str, line: &str) -> ExecKind {
    if is_pm2_cli(script) {
        return ExecKind::Pm2Cli;
    }
    let Some((interpreter, arg)) = split_shebang(line) else {
        return ExecKind::Other;
    };
    // `#!/bin/sh`, `#!/usr/bin/env bash`: a shell script, read for what it execs.
    let env_shell = basename(interpreter) == "env"
        && arg
            .and_then(|arg| env_program(&arg.split_whitespace().map(str::to_owned).collect::<Vec<_>>()))
            .is_some_and(|(program, _)| is_shell(&program));
    if is_shell(interpreter) || env_shell {
        return ExecKind::ShellScript(script.to_owned());
    }
    if let Some(runtime) = runtime_named(interpreter) {
        return ExecKind::Runtime(RuntimeUse {
            program: runtime,
            via: Via::Shebang,
            locate: Locate::At(interpreter.to_owned()),
            through: None,
        });
    }
    if basename(interpreter) == "env" {
        let args: Vec<String> = arg.map(|arg| vec![arg.to_owned()]).unwrap_or_default();
        if let Some((program, rest)) = env_program(&args) {
            return match classify_env_program(&program, &rest, Via::Shebang) {
                // A script whose interpreter is another program is not followed further.
                ExecKind::Script(_) | ExecKind::OnPath(_) | ExecKind::ShellScript(_) | ExecKind::ShellCommand(_) => {
                    ExecKind::Other
                }
                other => other,
            };
        }
    }
    ExecKind::Other
}

/// The commands of a shell script or `-c` string that may start node, most likely
/// first: when it has `exec` lines, the last of them alone (it is what the service becomes;
/// the lines before it prepare); otherwise every command, last first. Leading variable
/// assignments, `exec`, `nohup`, `command` and the shell's keywords (`then`, `do`, …)
/// are dropped from each.
pub(crate) fn shell_candidates(text: &str) -> Vec<Vec<String>> {
    let commands: Vec<(bool, Vec<String>)> = shell_commands(text).into_iter().filter_map(strip_command).collect();
    match commands.iter().rev().find(|(exec, _)| *exec) {
        Some((_, last_exec)) => vec![last_exec.clone()],
        None => commands.into_iter().rev().map(|(_, words)| words).collect(),
    }
}

/// Shell keywords that may start a line before the command itself.
const SHELL_KEYWORDS: [&str; 10] = ["then", "do", "else", "elif", "if", "while", "until", "{", "!", "time"];

/// A command without what comes before its program: (it was `exec`ed, its words);
/// `None` when nothing is left (an assignment, a `fi`).
fn strip_command(words: Vec<String>) -> Option<(bool, Vec<String>)> {
    let mut exec = false;
    let mut rest: &[String] = &words;
    loop {
        match rest.first().map(String::as_str) {
            Some(word) if SHELL_KEYWORDS.contains(&word) || is_assignment(word) => rest = &rest[1..],
            Some("exec") => {
                exec = true;
                rest = &rest[1..];
            }
            Some("nohup" | "command") => rest = &rest[1..],
            Some(_) => break,
            None => return None,
        }
    }
    match rest.first().map(String::as_str) {
        Some("fi" | "done" | "esac" | "}" | "cd" | "export" | "set" | "." | "source" | "echo" | ":" | "true") => None,
        Some(_) => Some((exec, rest.to_vec())),
        None => None,
    }
}

/// Splits shell text into simple commands (their words): on unquoted `;`, `&`, `|`,
/// parentheses and line ends, with quotes, backslashes and `#` comments handled as sh
/// does. Expansions (`$VAR`, `$(…)`) are kept as written: bootproof does not run them.
pub(crate) fn shell_commands(text: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    let end_word = |words: &mut Vec<String>, word: &mut String, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') => quote = None,
            (Some('\''), c) => word.push(c),
            (Some(_), '"') => quote = None,
            (Some(_), '\\') => match chars.next() {
                Some(next @ ('"' | '\\' | '$' | '`')) => word.push(next),
                Some('\n') | None => {}
                Some(next) => {
                    word.push('\\');
                    word.push(next);
                }
            },
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => match chars.next() {
                Some('\n') | None => {}
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
            },
            (None, '#') if !in_word => {
                for next in chars.by_ref() {
                    if next == '\n' {
                        break;
                    }
                }
                end_word(&mut words, &mut word, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            (None, ';' | '&' | '|' | '(' | ')' | '\n') => {
                end_word(&mut words, &mut word, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            (None, c) if c.is_whitespace() => end_word(&mut words, &mut word, &mut in_word),
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut words, &mut word, &mut in_word);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// A development supervisor that runs a node program: restarts it when files change (or
/// it crashes), never after a reboot, and is meant for a developer's machine.
pub(crate) fn dev_supervisor(argv: &[String]) -> Option<&'static str> {
    let tool = |path: &str| -> Option<&'static str> {
        let name = basename(path).trim_end_matches(".js");
        if name == "nodemon" {
            Some("nodemon")
        } else if name == "node-supervisor" || path.contains("/supervisor/lib/cli-wrapper") {
            Some("node-supervisor")
        } else if name == "forever" || path.contains("/forever/bin/monitor") {
            Some("forever")
        } else {
            None
        }
    };
    let program = argv.first()?;
    if runtime_named(program).is_none() {
        return tool(program);
    }
    let args = &argv[1..];
    // node's own watch mode: `--watch`, `--watch-path=…` before the script.
    let script_at = args.iter().position(|arg| !arg.starts_with('-')).unwrap_or(args.len());
    if args[..script_at].iter().any(|arg| arg == "--watch" || arg.starts_with("--watch-path")) {
        return Some("node --watch");
    }
    runtime_script(args).and_then(tool).or_else(|| {
        // `node supervisor app.js` names it without a path.
        runtime_script(args).filter(|script| basename(script) == "supervisor").map(|_| "node-supervisor")
    })
}

/// Whether a command line is PM2 running in the foreground, as a container's PID 1 runs
/// it: `pm2-runtime`, `pm2-docker`, `pm2-dev`, `pm2 … --no-daemon`, or a God Daemon title.
pub(crate) fn runs_pm2_in_foreground(argv: &[String]) -> bool {
    let title = argv.join(" ");
    if title.starts_with("PM2 v") && title.contains("God Daemon") {
        return true;
    }
    let named = |word: &String| matches!(basename(word), "pm2-runtime" | "pm2-docker" | "pm2-dev");
    argv.iter().take(2).any(named)
        || (argv.iter().take(2).any(|word| is_pm2_cli(word)) && argv.iter().any(|arg| arg == "--no-daemon"))
}

/// Splits a command line on whitespace, honouring single and double quotes and
/// backslash escapes (enough for unit files; not a full shell).
pub(crate) fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                    in_word = true;
                }
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn runtime(program: &'static str, via: Via, locate: Locate) -> ExecKind {
        ExecKind::Runtime(RuntimeUse { program, via, locate, through: None })
    }

    #[test]
    fn direct_node() {
        let kind = classify_exec("/usr/bin/node", &argv(&["/usr/bin/node", "/opt/app/server.js"]));
        assert_eq!(kind, runtime("node", Via::Direct, Locate::At("/usr/bin/node".into())));
    }

    #[test]
    fn direct_nodejs_and_bun_and_nvm() {
        let nvm = "/home/deploy/.nvm/versions/node/v20.11.0/bin/node";
        assert_eq!(classify_exec(nvm, &argv(&[nvm, "app.js"])), runtime("node", Via::Direct, Locate::At(nvm.into())));
        assert!(matches!(
            classify_exec("/usr/bin/nodejs", &argv(&["nodejs", "a.js"])),
            ExecKind::Runtime(RuntimeUse { program: "nodejs", .. })
        ));
        assert!(matches!(
            classify_exec("/usr/local/bin/bun", &argv(&["bun", "run", "start"])),
            ExecKind::Runtime(RuntimeUse { program: "bun", .. })
        ));
    }

    #[test]
    fn argv0_names_node() {
        assert!(matches!(
            classify_exec("/opt/runtime/bin/js", &argv(&["node", "app.js"])),
            ExecKind::Runtime(RuntimeUse { program: "node", via: Via::Direct, .. })
        ));
    }

    #[test]
    fn nodeuser_is_not_node() {
        assert_eq!(
            classify_exec("/usr/bin/nodeuser", &argv(&["nodeuser"])),
            ExecKind::Script("/usr/bin/nodeuser".into())
        );
    }

    #[test]
    fn env_node_with_options_and_assignments() {
        let kind = classify_exec(
            "/usr/bin/env",
            &argv(&["/usr/bin/env", "-i", "-u", "HOME", "NODE_ENV=production", "PORT=3000", "node", "server.js"]),
        );
        assert_eq!(kind, runtime("node", Via::Env, Locate::OnPath("node".into())));
    }

    #[test]
    fn env_split_string() {
        let kind = classify_exec("/usr/bin/env", &argv(&["env", "-S", "NODE_ENV=x node --inspect", "app.js"]));
        assert_eq!(kind, runtime("node", Via::Env, Locate::OnPath("node".into())));
        let (program, rest) = env_program(&argv(&["-SFOO=1 bun run", "x"])).unwrap_or_default();
        assert_eq!(program, "bun");
        assert_eq!(rest, argv(&["run", "x"]));
    }

    /// Found by reading the code and confirmed by a replayed input: `env -S-S-S…` with
    /// tens of thousands of `-S` overflowed the stack, aborting bootproof.
    #[test]
    fn env_with_thousands_of_nested_split_strings_does_not_overflow_the_stack() {
        let deep = "-S".repeat(40_000) + " node";
        assert_eq!(env_program(&argv(&[&deep, "a.js"])), None, "past the bound the program is not told");
        let (program, _) = env_program(&argv(&["-S-S node", "a.js"])).unwrap_or_default();
        assert_eq!(program, "node", "a nested -S or two is still followed");
    }

    #[test]
    fn env_absolute_program() {
        let kind = classify_exec("/usr/bin/env", &argv(&["env", "/opt/node/bin/node", "a.js"]));
        assert_eq!(kind, runtime("node", Via::Env, Locate::At("/opt/node/bin/node".into())));
        let kind = classify_exec("/usr/bin/env", &argv(&["env", "/opt/app/start"]));
        assert_eq!(kind, ExecKind::Script("/opt/app/start".into()));
        assert_eq!(
            classify_exec("/usr/bin/env", &argv(&["env", "python3", "x.py"])),
            ExecKind::OnPath("python3".into())
        );
        assert_eq!(classify_exec("/usr/bin/env", &argv(&["env", "A=1"])), ExecKind::Other);
    }

    #[test]
    fn pm2_cli_is_excluded() {
        let pm2 = "/usr/lib/node_modules/pm2/bin/pm2";
        assert_eq!(classify_exec(pm2, &argv(&[pm2, "resurrect"])), ExecKind::Pm2Cli);
        assert_eq!(classify_exec("/usr/bin/env", &argv(&["env", "pm2", "resurrect"])), ExecKind::Pm2Cli);
        assert_eq!(
            classify_exec("/usr/bin/node", &argv(&["node", "--max-old-space-size=512", pm2, "resurrect"])),
            ExecKind::Pm2Cli
        );
        assert_eq!(classify_shebang(pm2, "#!/usr/bin/env node"), ExecKind::Pm2Cli);
    }

    #[test]
    fn pm2_runtime_is_a_node_service() {
        let bin = "/usr/lib/node_modules/pm2/bin/pm2-runtime";
        assert_eq!(classify_exec(bin, &argv(&[bin, "ecosystem.config.js"])), ExecKind::Script(bin.into()));
        assert_eq!(
            classify_shebang(bin, "#!/usr/bin/env node"),
            runtime("node", Via::Shebang, Locate::OnPath("node".into()))
        );
        assert!(matches!(classify_exec("/usr/bin/node", &argv(&["node", "-r", "pm2", bin])), ExecKind::Runtime(_)));
    }

    #[test]
    fn shebangs() {
        assert_eq!(
            classify_shebang("/opt/app/run", "#!/usr/local/bin/node"),
            runtime("node", Via::Shebang, Locate::At("/usr/local/bin/node".into()))
        );
        assert_eq!(
            classify_shebang("/opt/app/run", "#! /usr/bin/env  -S node --enable-source-maps "),
            runtime("node", Via::Shebang, Locate::OnPath("node".into()))
        );
        assert_eq!(classify_shebang("/opt/app/run", "#!/bin/sh"), ExecKind::ShellScript("/opt/app/run".into()));
        assert_eq!(
            classify_shebang("/opt/app/run", "#!/usr/bin/env -S bash -e"),
            ExecKind::ShellScript("/opt/app/run".into())
        );
        assert_eq!(classify_shebang("/opt/app/run", "#!/usr/bin/env python3"), ExecKind::Other);
        assert_eq!(classify_shebang("/opt/app/run", "no shebang"), ExecKind::Other);
        assert_eq!(classify_shebang("/opt/app/run", "#!"), ExecKind::Other);
    }

    #[test]
    fn wrappers_shells_and_package_managers() {
        // `/usr/bin/env start-api`: a wrapper found on PATH, followed by the caller.
        assert_eq!(
            classify_exec("/usr/bin/env", &argv(&["/usr/bin/env", "start-api"])),
            ExecKind::OnPath("start-api".into())
        );
        assert_eq!(
            classify_exec("/bin/bash", &argv(&["/bin/bash", "-c", "cd /srv/app && exec node server.js"])),
            ExecKind::ShellCommand("cd /srv/app && exec node server.js".into())
        );
        assert_eq!(
            classify_exec("/bin/sh", &argv(&["sh", "-ec", "node a.js"])),
            ExecKind::ShellCommand("node a.js".into())
        );
        assert_eq!(
            classify_exec("/bin/bash", &argv(&["bash", "-o", "pipefail", "/opt/app/start.sh", "x"])),
            ExecKind::ShellScript("/opt/app/start.sh".into())
        );
        assert_eq!(classify_exec("/bin/bash", &argv(&["bash"])), ExecKind::Other);
        assert_eq!(
            classify_exec("/usr/bin/npm", &argv(&["/usr/bin/npm", "start"])),
            ExecKind::PackageManager("/usr/bin/npm".into())
        );
        assert_eq!(
            classify_exec("/usr/bin/env", &argv(&["env", "NODE_ENV=production", "yarn", "start"])),
            ExecKind::PackageManager("yarn".into())
        );
        assert_eq!(
            classify_shebang("/opt/app/start.sh", "#!/bin/sh"),
            ExecKind::ShellScript("/opt/app/start.sh".into())
        );
        assert_eq!(
            classify_shebang("/usr/local/bin/start-api", "#!/usr/bin/env bash"),
            ExecKind::ShellScript("/usr/local/bin/start-api".into())
        );
    }

    #[test]
    fn a_scripts_last_exec_line_decides() {
        let script = "#!/bin/sh\nset -e\n# start the API\ncd /srv/api\n. ./env.sh\nexport NODE_ENV=production\n\
                      if [ -n \"$DEBUG\" ]; then exec node --inspect server.js; fi\nexec node server.js \"$@\"\n";
        assert_eq!(shell_candidates(script), vec![argv(&["node", "server.js", "$@"])]);
        // No exec: every command, the last first; assignments and nohup dropped.
        let text = "cd /srv && PORT=3000 nohup node server.js; echo started";
        assert_eq!(shell_candidates(text), vec![argv(&["node", "server.js"])]);
        // The exec line is what the service becomes: a node step before it does not count.
        let migrate = "node migrate.js\nexec python3 app.py\n";
        assert_eq!(shell_candidates(migrate), vec![argv(&["python3", "app.py"])]);
        assert_eq!(
            shell_commands("echo 'a;b' \"c d\" e\\ f | grep x && y # z ; w\nlast"),
            vec![argv(&["echo", "a;b", "c d", "e f"]), argv(&["grep", "x"]), argv(&["y"]), argv(&["last"])]
        );
    }

    #[test]
    fn development_supervisors() {
        assert_eq!(dev_supervisor(&argv(&["node", "/usr/local/bin/nodemon", "server.js", "18006"])), Some("nodemon"));
        assert_eq!(dev_supervisor(&argv(&["/usr/local/bin/nodemon", "server.js"])), Some("nodemon"));
        assert_eq!(
            dev_supervisor(&argv(&["node", "/usr/lib/node_modules/supervisor/lib/cli-wrapper.js", "app.js"])),
            Some("node-supervisor")
        );
        assert_eq!(
            dev_supervisor(&argv(&["/usr/bin/node", "/usr/lib/node_modules/forever/bin/monitor", "app.js"])),
            Some("forever")
        );
        assert_eq!(dev_supervisor(&argv(&["node", "--watch", "server.js"])), Some("node --watch"));
        assert_eq!(dev_supervisor(&argv(&["node", "--watch-path=./src", "server.js"])), Some("node --watch"));
        assert_eq!(dev_supervisor(&argv(&["/usr/bin/node", "server.js", "--watch"])), None, "the app's own flag");
        assert_eq!(dev_supervisor(&argv(&["/usr/bin/node", "server.js"])), None);
        assert_eq!(dev_supervisor(&argv(&["/usr/bin/supervisord", "-n"])), None, "Python's supervisord is not one");
    }

    #[test]
    fn pm2_in_the_foreground() {
        // Captured: PID 1 of a PID namespace started as `pm2-runtime server.js`.
        assert!(runs_pm2_in_foreground(&argv(&["/usr/bin/node", "/usr/local/bin/pm2-runtime", "server.js"])));
        assert!(runs_pm2_in_foreground(&argv(&["pm2-docker", "start", "app.json"])));
        assert!(runs_pm2_in_foreground(&argv(&["node", "/usr/local/bin/pm2", "start", "app.js", "--no-daemon"])));
        assert!(runs_pm2_in_foreground(&argv(&["PM2 v7.0.4: God Daemon (/root/.pm2)"])));
        assert!(!runs_pm2_in_foreground(&argv(&["node", "/usr/local/bin/pm2", "resurrect"])));
        assert!(!runs_pm2_in_foreground(&argv(&["node", "server.js"])));
    }

    #[test]
    fn split_shebang_keeps_one_argument() {
        assert_eq!(split_shebang("#!/usr/bin/env node --a --b"), Some(("/usr/bin/env", Some("node --a --b"))));
        assert_eq!(split_shebang("#!/usr/bin/node"), Some(("/usr/bin/node", None)));
    }
}
