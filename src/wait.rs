//! `check --wait`: what is still worth waiting for, how long to pause between rounds, and
//! the progress line. Pure: the loop that gathers, sleeps and draws lives in `app`.
//!
//! Only what a late start explains is waited for: an endpoint that does not answer yet,
//! a unit not active yet, a PM2 app not resurrected yet, systemd still starting. A
//! missing account or a disabled unit does not fix itself, so it is reported at once.

use std::time::Duration;

use crate::facts::{Fact, Facts, SystemState};
use crate::verdict::{CheckId, Finding, Status};

/// Invariants that fail during a boot and pass once the services are up.
pub(crate) const TIME_SENSITIVE: &[CheckId] =
    &[CheckId::HealthHttp, CheckId::SupervisorActive, CheckId::Pm2Resurrected];

/// The first pause between rounds.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between rounds.
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// The findings `--wait` keeps waiting for: time-sensitive ones that do not pass yet, and
/// `host.state` while systemd is still starting. Errors are not waited for: a fact that
/// cannot be read now will not become readable by waiting.
pub(crate) fn pending<'a>(facts: &Facts, findings: &'a [Finding]) -> Vec<&'a Finding> {
    let booting = matches!(&facts.host.system_state, Fact::Ok(SystemState::Starting | SystemState::Initializing));
    findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Warn))
        .filter(|f| TIME_SENSITIVE.contains(&f.check) || (booting && f.check == CheckId::HostState))
        .collect()
}

/// Pauses between rounds: 250 ms doubling to 5 s, never past the deadline.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// A backoff at its first, shortest pause.
    pub(crate) fn new() -> Self {
        Backoff { next: FIRST_PAUSE }
    }

    /// The next pause, given how much time is `left` before the deadline.
    pub(crate) fn pause(&mut self, left: Duration) -> Duration {
        let pause = self.next.min(left);
        self.next = (self.next * 2).min(LONGEST_PAUSE);
        pause
    }
}

/// `check` and subject of each pending finding: what changed between two rounds.
pub(crate) fn keys(pending: &[&Finding]) -> Vec<String> {
    pending.iter().map(|f| format!("{} {}", f.check, f.subject)).collect()
}

/// One line saying what is still pending and how long bootproof will keep waiting, cut
/// to `width` characters: `waiting 1m 32s more for 2: health.http http:…, …`.
pub(crate) fn progress_line(pending: &[&Finding], left: Duration, width: usize) -> String {
    let line = format!("waiting {} more for {}: {}", whole_seconds(left), pending.len(), keys(pending).join(", "));
    cut(&line, width)
}

/// A duration to the second, as humantime writes it (`1m 32s`; `0s` below a second).
pub(crate) fn whole_seconds(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

/// `text` cut to `width` characters, with `…` when something was cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::fixtures::all_good;
    use crate::verdict::Subject;

    fn finding(check: CheckId, status: Status) -> Finding {
        Finding {
            check,
            subject: Subject::Http("http://127.0.0.1:3000/health".into()),
            status,
            message: String::new(),
            remediation: None,
            evidence: serde_json::Map::new(),
        }
    }

    #[test]
    fn only_what_a_late_start_explains_is_pending() {
        let facts = all_good();
        let findings = vec![
            finding(CheckId::HealthHttp, Status::Fail),
            finding(CheckId::HealthHttp, Status::Pass),
            finding(CheckId::SupervisorActive, Status::Error),
            finding(CheckId::UnitUser, Status::Fail),
            finding(CheckId::HostState, Status::Warn),
        ];
        let pending: Vec<CheckId> = pending(&facts, &findings).iter().map(|f| f.check).collect();
        assert_eq!(pending, vec![CheckId::HealthHttp]);
    }

    #[test]
    fn host_state_is_pending_while_systemd_starts() {
        let mut facts = all_good();
        facts.host.system_state = Fact::Ok("starting".into());
        let findings = vec![finding(CheckId::HostState, Status::Warn)];
        assert_eq!(pending(&facts, &findings).len(), 1);
        facts.host.system_state = Fact::Ok("degraded".into());
        assert!(pending(&facts, &findings).is_empty(), "degraded does not fix itself");
    }

    #[test]
    fn backoff_doubles_to_five_seconds_and_stops_at_the_deadline() {
        let mut backoff = Backoff::new();
        let long = Duration::from_secs(60);
        let pauses: Vec<u64> = (0..7).map(|_| backoff.pause(long).as_millis() as u64).collect();
        assert_eq!(pauses, vec![250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(backoff.pause(Duration::from_millis(300)), Duration::from_millis(300));
    }

    #[test]
    fn the_progress_line_fits_the_terminal() {
        let f = finding(CheckId::HealthHttp, Status::Fail);
        let line = progress_line(&[&f], Duration::from_millis(92_700), 200);
        assert_eq!(line, "waiting 1m 32s more for 1: health.http http:http://127.0.0.1:3000/health");
        let short = progress_line(&[&f, &f], Duration::from_secs(5), 30);
        assert_eq!(short.chars().count(), 30);
        assert!(short.ends_with('…'), "{short}");
    }
}
