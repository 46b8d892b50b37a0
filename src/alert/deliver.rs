//! Sending one request to a webhook or heartbeat URL, within bounds: each attempt gets
//! [`Bounds::attempt`] (connect, TLS, headers and body), up to [`Bounds::attempts`]
//! attempts with a growing pause between them, a `Retry-After` honoured up to
//! [`Bounds::retry_after_max`], and never past the caller's deadline. An answer in 2xx is
//! delivered; a 4xx other than 429 is permanent (retrying will not change it); anything
//! else (no answer, refused, 5xx, 429) is worth another try, now or at the next run.
//!
//! Reasons never contain the URL: it is a secret (`reqwest::Error::without_url`).

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::RETRY_AFTER;
use reqwest::{Client, RequestBuilder, StatusCode};

/// How much of an error answer's body goes into the reason (Slack says `invalid_token`).
const BODY_SNIPPET: usize = 200;

/// How long delivery may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// One attempt, from connecting to the end of the answer.
    pub(crate) attempt: Duration,
    /// Attempts per request within one run.
    pub(crate) attempts: u32,
    /// The pause after the first failed attempt; it doubles after each.
    pub(crate) backoff: Duration,
    /// The longest `Retry-After` waited for within a run; a longer one leaves the message
    /// for the next run.
    pub(crate) retry_after_max: Duration,
    /// All of one kind of delivery in a run (every webhook, or the heartbeat) ends by then.
    pub(crate) budget: Duration,
}

impl Bounds {
    /// The bounds of a run: 5 s per attempt, 3 attempts, 1 s then 2 s between them,
    /// `Retry-After` up to 10 s, 20 s in all for the webhooks and 20 s for the heartbeat.
    pub(crate) const RUN: Bounds = Bounds {
        attempt: Duration::from_secs(5),
        attempts: 3,
        backoff: Duration::from_secs(1),
        retry_after_max: Duration::from_secs(10),
        budget: Duration::from_secs(20),
    };
}

/// How sending one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered with 2xx.
    Delivered {
        /// Attempts it took.
        attempts: u32,
    },
    /// Refused for good (a 4xx other than 429, a redirect): retrying will not help.
    Refused {
        /// Why, without the URL.
        reason: String,
    },
    /// Not delivered now; worth trying again at the next run.
    Failed {
        /// Why, without the URL.
        reason: String,
    },
}

/// What one attempt got.
enum Attempt {
    Delivered,
    Refused(String),
    Retry { reason: String, retry_after: Option<Duration> },
}

/// Sends the request `build` makes, retrying within `bounds` and before `deadline`.
pub(crate) async fn send(build: impl Fn() -> RequestBuilder, bounds: &Bounds, deadline: Instant) -> Outcome {
    let mut pause = bounds.backoff;
    let mut reason = String::new();
    for attempt in 1..=bounds.attempts {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Outcome::Failed { reason: with_time_up(&reason, bounds) };
        }
        let limit = bounds.attempt.min(left);
        let retry_after = match tokio::time::timeout(limit, exchange(build())).await {
            Err(_) => {
                reason = format!("no answer within {}", seconds(limit));
                None
            }
            Ok(Attempt::Delivered) => return Outcome::Delivered { attempts: attempt },
            Ok(Attempt::Refused(why)) => return Outcome::Refused { reason: why },
            Ok(Attempt::Retry { reason: why, retry_after }) => {
                reason = why;
                retry_after
            }
        };
        if attempt == bounds.attempts {
            break;
        }
        let wait = match retry_after {
            Some(asked) if asked > bounds.retry_after_max => {
                return Outcome::Failed {
                    reason: format!("{reason}; asked to retry after {}, later than a run waits", seconds(asked)),
                };
            }
            Some(asked) => asked,
            None => pause,
        };
        pause = pause.saturating_mul(2);
        if Instant::now() + wait >= deadline {
            return Outcome::Failed { reason: with_time_up(&reason, bounds) };
        }
        tokio::time::sleep(wait).await;
    }
    Outcome::Failed { reason: format!("{reason} ({} attempts)", bounds.attempts) }
}

fn with_time_up(reason: &str, bounds: &Bounds) -> String {
    let budget = seconds(bounds.budget);
    if reason.is_empty() {
        format!("no time left of the run's {budget}")
    } else {
        format!("{reason}; no time left of the run's {budget}")
    }
}

/// `5s`, `1.5s`.
fn seconds(duration: Duration) -> String {
    humantime::format_duration(Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)))
        .to_string()
}

/// One attempt: the status, and for an answer that is not delivered, why.
async fn exchange(request: RequestBuilder) -> Attempt {
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return Attempt::Retry { reason: describe(err), retry_after: None },
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Delivered;
    }
    let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
    let reason = format!("HTTP {}{}", status.as_u16(), snippet(response).await);
    if status.is_redirection() {
        return Attempt::Refused(format!(
            "{reason}: answered with a redirect, which is not followed (give the final URL)"
        ));
    }
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        return Attempt::Refused(reason);
    }
    Attempt::Retry { reason, retry_after }
}

/// ` (invalid_token)`: the start of an error answer's body, on one line; empty when none.
async fn snippet(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < BODY_SNIPPET {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text: String = String::from_utf8_lossy(&body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(BODY_SNIPPET)
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() { String::new() } else { format!(" ({text})") }
}

/// A request error in words, without the URL.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut words = if err.is_connect() {
        "cannot connect".to_owned()
    } else if err.is_timeout() {
        "timed out".to_owned()
    } else {
        err.to_string()
    };
    // The innermost cause says what happened ("Connection refused (os error 111)").
    let mut source = std::error::Error::source(&err);
    let mut innermost = None;
    while let Some(cause) = source {
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    if let Some(cause) = innermost
        && !words.contains(&cause)
    {
        words = format!("{words}: {cause}");
    }
    words
}

/// A `Retry-After` value: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = http_date(value)?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP servers send.
fn http_date(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_weekday, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let mut clock = time.split(':').map(|n| n.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days since the epoch of a civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// The client every delivery of a run shares: no redirects followed, a proxy from the
/// environment honoured (`HTTPS_PROXY`, `NO_PROXY`: webhooks are usually outside the
/// host), the system's trusted certificates.
pub(crate) fn client(bounds: &Bounds) -> reqwest::Result<Client> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(bounds.attempt)
        .user_agent(concat!("bootproof/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A real HTTP server on a loopback port the kernel picks, answering each request with
    /// the next of `answers` (raw status line and headers; `None`: read it and never
    /// answer). Returns its URL and the request lines it got.
    fn server(answers: Vec<Option<&'static str>>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook/SECRET", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for (answer, stream) in answers.into_iter().zip(listener.incoming()) {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                log.lock().expect("log").push(line.trim().to_owned());
                match answer {
                    Some(head) => {
                        let _ = stream.write_all(format!("{head}\r\nconnection: close\r\n\r\n").as_bytes());
                    }
                    None => held.push(stream),
                }
            }
            std::thread::sleep(Duration::from_secs(5));
        });
        (url, seen)
    }

    const FAST: Bounds = Bounds {
        attempt: Duration::from_millis(300),
        attempts: 3,
        backoff: Duration::from_millis(50),
        retry_after_max: Duration::from_secs(1),
        budget: Duration::from_secs(5),
    };

    fn post(url: &str, bounds: &Bounds) -> (Outcome, Duration) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = client(bounds).expect("client");
        let started = Instant::now();
        let outcome = runtime.block_on(send(|| client.post(url).body("{}"), bounds, Instant::now() + bounds.budget));
        (outcome, started.elapsed())
    }

    #[test]
    fn a_5xx_is_retried_and_a_success_ends_it() {
        let (url, seen) = server(vec![
            Some("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0"),
            Some("HTTP/1.1 200 OK\r\ncontent-length: 0"),
        ]);
        let (outcome, _) = post(&url, &FAST);
        assert_eq!(outcome, Outcome::Delivered { attempts: 2 });
        assert_eq!(seen.lock().expect("log").len(), 2);
    }

    #[test]
    fn a_4xx_is_permanent_and_says_what_the_receiver_said() {
        let (url, seen) = server(vec![Some("HTTP/1.1 404 Not Found\r\ncontent-length: 10\r\n\r\nno_service")]);
        let (outcome, _) = post(&url, &FAST);
        let Outcome::Refused { reason } = outcome else { panic!("{outcome:?}") };
        assert!(reason.starts_with("HTTP 404"), "{reason}");
        assert!(!reason.contains("SECRET"), "{reason}");
        assert_eq!(seen.lock().expect("log").len(), 1, "not retried");
    }

    #[test]
    fn a_429_waits_as_long_as_retry_after_says() {
        let (url, _) = server(vec![
            Some("HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0"),
            Some("HTTP/1.1 204 No Content"),
        ]);
        let (outcome, took) = post(&url, &FAST);
        assert_eq!(outcome, Outcome::Delivered { attempts: 2 });
        assert!(took >= Duration::from_secs(1), "{took:?}");
        let (url, seen) = server(vec![Some("HTTP/1.1 429 Too Many Requests\r\nretry-after: 120\r\ncontent-length: 0")]);
        let (outcome, took) = post(&url, &FAST);
        let Outcome::Failed { reason } = outcome else { panic!("{outcome:?}") };
        assert!(reason.contains("asked to retry after 2m"), "{reason}");
        assert!(took < Duration::from_secs(1), "left for the next run at once: {took:?}");
        assert_eq!(seen.lock().expect("log").len(), 1);
    }

    #[test]
    fn a_receiver_that_never_answers_costs_the_bounds_and_no_more() {
        let (url, seen) = server(vec![None, None, None]);
        let (outcome, took) = post(&url, &FAST);
        let Outcome::Failed { reason } = outcome else { panic!("{outcome:?}") };
        assert!(reason.contains("no answer within 300ms (3 attempts)"), "{reason}");
        // 3 × 300 ms and pauses of 50 and 100 ms.
        assert!(took >= Duration::from_millis(1050) && took < Duration::from_millis(2500), "{took:?}");
        assert_eq!(seen.lock().expect("log").len(), 3);
        let tight = Bounds { budget: Duration::from_millis(400), ..FAST };
        let (url, _) = server(vec![None, None, None]);
        let (outcome, took) = post(&url, &tight);
        assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
        assert!(took < Duration::from_millis(900), "the budget ends it: {took:?}");
    }

    #[test]
    fn a_refused_connection_is_worth_another_try_and_names_no_url() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook/SECRET", listener.local_addr().expect("addr"));
        drop(listener);
        let (outcome, _) = post(&url, &FAST);
        let Outcome::Failed { reason } = outcome else { panic!("{outcome:?}") };
        assert!(reason.starts_with("cannot connect"), "{reason}");
        assert!(!reason.contains("SECRET") && !reason.contains("127.0.0.1"), "{reason}");
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO), "in the past: now");
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(retry_after("soon"), None);
    }
}
