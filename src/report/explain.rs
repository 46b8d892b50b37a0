//! `bootproof explain`: the invariant catalogue as a table, or one invariant in full (why
//! it exists, what it reads, how to fix it). Pure text from the catalogue's data.

use std::fmt::Write as _;

use crate::invariants::explain::explanation;
use crate::verdict::{CheckId, Severity};

/// Prose is wrapped to this many columns; commands are never wrapped (they are pasted).
const WIDTH: usize = 88;

/// The catalogue: one line per invariant.
pub(crate) fn catalogue() -> String {
    let mut out = format!("{:<24} {:<8} {}\n", "id", "severity", "holds when");
    for &id in CheckId::ALL {
        let _ = writeln!(out, "{:<24} {:<8} {}", id.as_str(), severity(id), id.summary());
    }
    out.push_str("\nbootproof explain ID: why an invariant exists, what it reads, how to fix it.\n");
    out
}

/// One invariant in full.
pub(crate) fn entry(id: CheckId) -> String {
    let e = explanation(id);
    let mut out = format!("{id}\n");
    wrap_into(&mut out, id.summary(), "  ");
    let others = match id.default_severity() {
        Severity::Fail => "warn or off",
        Severity::Warn => "fail or off",
    };
    let _ = writeln!(out, "\nseverity  {} by default; a check file's [severity] can set it to {others}", severity(id));
    out.push_str("\nwhy\n");
    wrap_into(&mut out, e.why, "  ");
    out.push_str("\nreads\n");
    for line in e.reads {
        wrap_into(&mut out, &format!("- {line}"), "  ");
    }
    out.push_str("\nfix\n");
    for line in e.fix {
        let _ = writeln!(out, "  {line}");
    }
    out
}

fn severity(id: CheckId) -> &'static str {
    match id.default_severity() {
        Severity::Fail => "fail",
        Severity::Warn => "warn",
    }
}

/// Appends `text` wrapped at [`WIDTH`], every line starting with `indent` (continuation
/// lines of a `- ` item line up under its text).
fn wrap_into(out: &mut String, text: &str, indent: &str) {
    let hang = if text.starts_with("- ") { format!("{indent}  ") } else { indent.to_owned() };
    let mut line = indent.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = hang.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_snapshot() {
        insta::assert_snapshot!(catalogue());
    }

    #[test]
    fn supervisor_enabled_snapshot() {
        insta::assert_snapshot!(entry(CheckId::SupervisorEnabled));
    }

    #[test]
    fn every_id_is_in_the_catalogue_with_its_severity() {
        let table = catalogue();
        for &id in CheckId::ALL {
            let line = table.lines().find(|l| l.starts_with(&format!("{} ", id.as_str()))).expect("listed");
            assert!(line.contains(severity(id)), "{line}");
        }
    }

    #[test]
    fn prose_is_wrapped_and_commands_are_not() {
        for &id in CheckId::ALL {
            let text = entry(id);
            let fixes: Vec<&str> = explanation(id).fix.to_vec();
            for line in text.lines() {
                let is_fix = fixes.iter().any(|f| line.trim_start() == *f);
                assert!(is_fix || line.chars().count() <= WIDTH, "{id}: {line}");
            }
        }
    }
}
