//! Exit codes, defined once. README and `--help` document the same table.

use std::process::ExitCode;

use crate::verdict::Status;

/// No failure (warnings allowed unless `--strict`).
pub(crate) const OK: u8 = 0;
/// At least one invariant failed.
pub(crate) const FAILED: u8 = 1;
/// Usage error, or a check file or facts file that cannot be used.
pub(crate) const USAGE: u8 = 2;
/// Could not check: no system bus, or no permission to read what was asked.
pub(crate) const CANNOT_CHECK: u8 = 3;

/// The text `--help` shows under the commands.
pub(crate) const HELP: &str = "\
Exit codes:
  0  no failure (warnings allowed unless --strict)
  1  at least one failure
  2  usage, check-file or facts-file error
  3  could not check (no system bus, no permission to read what was asked)
With --format nagios the plugin API's codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.";

/// The exit code of `plan`: like `check`'s, `OK` when everything comes back after the
/// next boot and `FAILED` when anything does not (or cannot be told to), so a CI gate can
/// run either.
pub(crate) fn for_plan(everything_comes_back: bool) -> ExitCode {
    ExitCode::from(if everything_comes_back { OK } else { FAILED })
}

/// The exit code of `--format nagios`, which follows the monitoring plugin API rather than
/// bootproof's own codes, because Nagios, Icinga and Sensu read the state from it: 0 OK
/// (warnings are WARNING, 1, whatever `--strict`), 2 CRITICAL for a failure, 3 UNKNOWN
/// when bootproof could not check.
pub(crate) fn code_for_plugin(status: Status) -> u8 {
    match status {
        Status::Pass | Status::Skip => 0,
        Status::Warn => 1,
        Status::Fail => 2,
        Status::Error => 3,
    }
}

/// The numeric exit code for a report's overall status.
pub(crate) fn code_for_status(status: Status, strict: bool) -> u8 {
    match status {
        Status::Pass | Status::Skip => OK,
        Status::Warn if strict => FAILED,
        Status::Warn => OK,
        Status::Fail => FAILED,
        Status::Error => CANNOT_CHECK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_fail_only_when_strict() {
        assert_eq!(code_for_status(Status::Warn, false), OK);
        assert_eq!(code_for_status(Status::Warn, true), FAILED);
    }

    #[test]
    fn failures_and_errors_have_their_own_codes() {
        assert_eq!(code_for_status(Status::Fail, false), FAILED);
        assert_eq!(code_for_status(Status::Error, false), CANNOT_CHECK);
        assert_eq!(code_for_status(Status::Pass, true), OK);
    }
}
