//! `check --timings`: where one run's time went, measured, printed to stderr.
//!
//! Phases record a span (`let _span = timings::span("dbus: discovery")`, ended when
//! dropped) with `std::time::Instant`; the D-Bus client counts its calls, the bytes of
//! the replies, and its round trips. Spans may overlap — gathering runs its phases
//! concurrently on one thread — so each line gives when the phase started, counted from
//! `main`, and how long it took, and the total is the wall time, not a sum.
//!
//! Recording is always on and costs a clock read and a short lock per phase (a few dozen
//! per run); only printing depends on the flag. Nothing here decides anything.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One phase of the run: its name, and when it started and ended after `main`.
struct Span {
    name: &'static str,
    start: Duration,
    end: Duration,
}

/// When `main` started; set once by [`start`].
static STARTED: Mutex<Option<Instant>> = Mutex::new(None);
/// Every finished span, in the order they finished.
static SPANS: Mutex<Vec<Span>> = Mutex::new(Vec::new());
/// D-Bus method calls made.
static DBUS_CALLS: AtomicU32 = AtomicU32::new(0);
/// D-Bus calls made while none was in flight: the round trips a reader of the run waits
/// for one after another (calls issued together count once).
static DBUS_ROUND_TRIPS: AtomicU32 = AtomicU32::new(0);
/// D-Bus calls in flight now.
static DBUS_IN_FLIGHT: AtomicU32 = AtomicU32::new(0);
/// The most D-Bus calls in flight at once.
static DBUS_MAX_IN_FLIGHT: AtomicU32 = AtomicU32::new(0);
/// Bytes of D-Bus replies received (headers and bodies).
static DBUS_BYTES: AtomicU64 = AtomicU64::new(0);

/// Marks the start of the run; called first thing in `main`.
pub(crate) fn start() {
    if let Ok(mut started) = STARTED.lock() {
        started.get_or_insert_with(Instant::now);
    }
}

/// The moment the run started (now, when [`start`] was never called).
fn origin() -> Instant {
    STARTED.lock().ok().and_then(|started| *started).unwrap_or_else(Instant::now)
}

/// A phase being measured; recorded when dropped.
pub(crate) struct SpanGuard {
    name: &'static str,
    started: Instant,
}

/// Starts measuring the phase `name`.
pub(crate) fn span(name: &'static str) -> SpanGuard {
    SpanGuard { name, started: Instant::now() }
}

/// Awaits `work`, measured as the phase `name` (from its first poll to its end).
pub(crate) async fn timed<F: std::future::Future>(name: &'static str, work: F) -> F::Output {
    let _span = span(name);
    work.await
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        let origin = origin();
        let span = Span {
            name: self.name,
            start: self.started.saturating_duration_since(origin),
            end: Instant::now().saturating_duration_since(origin),
        };
        if let Ok(mut spans) = SPANS.lock() {
            spans.push(span);
        }
    }
}

/// One D-Bus call in flight; counted when made, its reply's bytes when it ends.
pub(crate) struct DbusCall(());

/// Counts a D-Bus call about to be made.
pub(crate) fn dbus_call() -> DbusCall {
    DBUS_CALLS.fetch_add(1, Ordering::Relaxed);
    let in_flight = DBUS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1;
    if in_flight == 1 {
        DBUS_ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
    }
    DBUS_MAX_IN_FLIGHT.fetch_max(in_flight, Ordering::Relaxed);
    DbusCall(())
}

impl DbusCall {
    /// Counts the reply's size.
    pub(crate) fn replied(&self, bytes: usize) {
        DBUS_BYTES.fetch_add(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl Drop for DbusCall {
    fn drop(&mut self) {
        DBUS_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The breakdown of the run so far, as `--timings` prints it: one line per phase in the
/// order they started (start after `main`, duration), the D-Bus counts, and the total.
pub(crate) fn render() -> String {
    let total = Instant::now().saturating_duration_since(origin());
    let mut spans: Vec<(&'static str, Duration, Duration)> = match SPANS.lock() {
        Ok(spans) => spans.iter().map(|s| (s.name, s.start, s.end)).collect(),
        Err(_) => Vec::new(),
    };
    spans.sort_by_key(|(_, start, _)| *start);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let width = spans.iter().map(|(name, _, _)| name.len()).max().unwrap_or(0).max(24);
    let mut out = String::from(
        "bootproof: timings (ms after main; phases overlap where they run concurrently)\n\
         bootproof:   process start (exec to main): not measurable from inside (the kernel \
         records it to the clock tick); `hyperfine -N 'bootproof --version'` measures it\n",
    );
    for (name, start, end) in &spans {
        let _ = writeln!(
            out,
            "bootproof:   {name:<width$}  at {:>7.2}  took {:>7.2}",
            ms(*start),
            ms(end.saturating_sub(*start))
        );
    }
    let _ = writeln!(
        out,
        "bootproof:   D-Bus: {} calls, {} round trips (at most {} in flight), {} bytes of replies",
        DBUS_CALLS.load(Ordering::Relaxed),
        DBUS_ROUND_TRIPS.load(Ordering::Relaxed),
        DBUS_MAX_IN_FLIGHT.load(Ordering::Relaxed),
        DBUS_BYTES.load(Ordering::Relaxed),
    );
    let _ = writeln!(out, "bootproof:   total (main to now): {:.2}", ms(total));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_calls_are_in_the_breakdown() {
        start();
        {
            let _span = span("test: a phase");
            let call = dbus_call();
            call.replied(100);
        }
        let text = render();
        assert!(text.contains("test: a phase"), "{text}");
        assert!(text.contains("round trips"), "{text}");
        assert!(text.contains("total (main to now)"), "{text}");
    }
}
