//! What `check --wait` shows on stderr while it waits: on a terminal one line redrawn in
//! place, counting down; in a log or a pipe, a line only when what is pending changes.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::verdict::Finding;
use crate::wait;

/// What `--wait` shows on stderr. On a terminal: one line redrawn in place, counting
/// down. Otherwise (a log, a pipe): a line only when what is pending changes.
pub(crate) struct Progress {
    terminal: bool,
    wait: Duration,
    /// What the last plain line said was pending, so an unchanged state is not repeated.
    last: Option<Vec<String>>,
}

impl Progress {
    /// How often the terminal line is redrawn while pausing.
    const REDRAW: Duration = Duration::from_millis(250);

    /// A progress display for a wait of at most `wait`.
    pub(crate) fn new(wait: Duration) -> Self {
        Progress { terminal: std::io::stderr().is_terminal(), wait, last: None }
    }

    /// Shows what is pending and sleeps `pause`, redrawing the countdown on a terminal.
    pub(crate) fn pause(&mut self, pending: &[&Finding], deadline: Instant, pause: Duration) {
        let until = Instant::now() + pause;
        if !self.terminal {
            let keys = wait::keys(pending);
            if self.last.as_ref() != Some(&keys) {
                eprintln!(
                    "bootproof: waiting up to {} for {}: {}",
                    wait::whole_seconds(self.wait),
                    pending.len(),
                    keys.join(", ")
                );
                self.last = Some(keys);
            }
            std::thread::sleep(pause);
            return;
        }
        loop {
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            self.draw(&wait::progress_line(pending, left, terminal_width()));
            if now >= until {
                return;
            }
            std::thread::sleep(until.saturating_duration_since(now).min(Self::REDRAW));
        }
    }

    /// Says the host cannot be checked yet (once per reason off a terminal).
    pub(crate) fn cannot_check_yet(&mut self, reason: &str, left: Duration) {
        let line = format!("cannot check yet ({} left): {reason}", wait::whole_seconds(left));
        if self.terminal {
            self.draw(&line);
        } else if self.last.as_ref().and_then(|last| last.first()) != Some(&reason.to_owned()) {
            eprintln!("bootproof: {line}");
            self.last = Some(vec![reason.to_owned()]);
        }
    }

    /// The final word before the report: how long it took, or what is still pending.
    pub(crate) fn done(&mut self, still_pending: usize, waited: Duration) {
        self.clear();
        if self.last.is_none() && still_pending == 0 {
            // Nothing was ever pending: nothing to say.
            return;
        }
        let waited = wait::whole_seconds(waited);
        if still_pending == 0 {
            eprintln!("bootproof: everything waited for came up after {waited}");
        } else {
            eprintln!("bootproof: gave up after {waited}: {still_pending} still not up");
        }
    }

    /// Draws `line` in place of the last one.
    fn draw(&mut self, line: &str) {
        // Carriage return and erase-line: the next draw replaces this one.
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.last.get_or_insert_with(Vec::new);
    }

    /// Erases the terminal line, if one was drawn.
    pub(crate) fn clear(&self) {
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// The terminal's width in columns (stderr's), or 80 when it cannot be asked.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own; on failure it
    // writes nothing and returns -1.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 { usize::from(size.ws_col) } else { 80 }
}
