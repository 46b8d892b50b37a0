//! Recognises commands that run a JavaScript runtime (node, nodejs, bun).
//!
//! Pure functions only: callers read the host (a script's `#!` line, a unit
//! file's text) and hand the text in. A command runs node when its binary is
//! node itself, when it is `/usr/bin/env` starting node, or when it is a script
//! whose `#!` line does either. The `pm2` CLI is a node script too, but a
//! `pm2 resurrect` unit is a PM2 subject, not a node service, so it is left out;
//! `pm2-runtime` runs apps in the foreground and does count as a node service.

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
    /// Nothing here runs node.
    Other,
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
fn runtime_script(args: &[String]) -> Option<&str> {
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
    ExecKind::Runtime(RuntimeUse { program, via, locate })
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
    if program.contains('/') { ExecKind::Script(program.to_owned()) } else { ExecKind::Other }
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
    ExecKind::Script(path.to_owned())
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
    if let Some(runtime) = runtime_named(interpreter) {
        return ExecKind::Runtime(RuntimeUse {
            program: runtime,
            via: Via::Shebang,
            locate: Locate::At(interpreter.to_owned()),
        });
    }
    if basename(interpreter) == "env" {
        let args: Vec<String> = arg.map(|arg| vec![arg.to_owned()]).unwrap_or_default();
        if let Some((program, rest)) = env_program(&args) {
            return match classify_env_program(&program, &rest, Via::Shebang) {
                // A script whose interpreter is another script is not followed further.
                ExecKind::Script(_) => ExecKind::Other,
                other => other,
            };
        }
    }
    ExecKind::Other
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
        ExecKind::Runtime(RuntimeUse { program, via, locate })
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
        assert_eq!(classify_exec("/usr/bin/env", &argv(&["env", "python3", "x.py"])), ExecKind::Other);
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
        assert_eq!(classify_shebang("/opt/app/run", "#!/bin/sh"), ExecKind::Other);
        assert_eq!(classify_shebang("/opt/app/run", "#!/usr/bin/env python3"), ExecKind::Other);
        assert_eq!(classify_shebang("/opt/app/run", "no shebang"), ExecKind::Other);
        assert_eq!(classify_shebang("/opt/app/run", "#!"), ExecKind::Other);
    }

    #[test]
    fn split_shebang_keeps_one_argument() {
        assert_eq!(split_shebang("#!/usr/bin/env node --a --b"), Some(("/usr/bin/env", Some("node --a --b"))));
        assert_eq!(split_shebang("#!/usr/bin/node"), Some(("/usr/bin/node", None)));
    }
}
