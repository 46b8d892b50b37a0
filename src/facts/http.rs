//! HTTP health probes: ask each endpoint once, concurrently, and record what happened.
//!
//! Gathering only: whether the status, body or JSON is what the check file expects is
//! `invariants::health`'s call. Every probe is bounded: one timeout covers connecting,
//! the TLS handshake, the headers and the body; the body is read in chunks and reading
//! stops at [`BODY_CAP`], so a 10 MB answer costs no more than a small one.
//!
//! No proxy is ever used, not even one from `HTTP_PROXY`/`HTTPS_PROXY`: health endpoints
//! are this host's own services (loopback, or its private network), and a proxy inherited
//! from whoever runs bootproof (an ssh session, a timer unit) would make the verdict
//! depend on the caller rather than on the service.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::header::{CONTENT_TYPE, HOST, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Client, Url};

use super::model::{HttpAnswer, HttpFacts, HttpOutcome};
use crate::config::HealthSpec;

/// How much of a body is read at most; the rest is left unread and the connection dropped.
pub(crate) const BODY_CAP: usize = 64 * 1024;

/// How many redirects a probe that follows redirects takes before giving up (a loop).
const MAX_REDIRECTS: usize = 10;

/// Probes every endpoint at once; the results are in the order of `specs`.
pub(crate) async fn probe_all(specs: &[HealthSpec]) -> Vec<HttpFacts> {
    join_all(specs.iter().map(|spec| async move {
        HttpFacts {
            spec: spec.clone(),
            outcome: probe(spec).await,
        }
    }))
    .await
}

/// Probes one endpoint within its timeout.
pub(crate) async fn probe(spec: &HealthSpec) -> HttpOutcome {
    let url = match Url::parse(&spec.url) {
        Ok(url) => url,
        Err(err) => {
            return HttpOutcome::Other {
                reason: format!("not a valid URL: {err}"),
            };
        }
    };
    let client = match client(spec) {
        Ok(client) => client,
        Err(err) => {
            return HttpOutcome::Other {
                reason: format!("cannot set up the HTTP client: {}", chain(&err)),
            };
        }
    };
    // One deadline for the whole exchange, body included: reqwest's own timeouts would
    // let a server that trickles its body in keep us waiting past it.
    match tokio::time::timeout(spec.timeout, exchange(&client, spec, &url)).await {
        Ok(outcome) => outcome,
        Err(_) => HttpOutcome::TimedOut {
            after_ms: millis(spec.timeout),
        },
    }
}

/// A client for one probe: its TLS trust and redirect policy are the probe's own, and it
/// keeps no connection for later (the next probe, or the next `--wait` round, must see a
/// fresh connection, as a client after a reboot would).
fn client(spec: &HealthSpec) -> reqwest::Result<Client> {
    let redirects = if spec.follow_redirects {
        Policy::limited(MAX_REDIRECTS)
    } else {
        Policy::none()
    };
    Client::builder()
        .no_proxy()
        .redirect(redirects)
        .tls_danger_accept_invalid_certs(spec.insecure)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("bootproof/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends the request and reads the status, the headers that matter and the capped body.
async fn exchange(client: &Client, spec: &HealthSpec, url: &Url) -> HttpOutcome {
    let started = Instant::now();
    let mut request = client.get(url.clone());
    if let Some(host) = &spec.host {
        request = request.header(HOST, host);
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(err) => return failure(&err, url),
    };
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|value: &reqwest::header::HeaderValue| {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            })
    };
    let location = header(LOCATION);
    let content_type = header(CONTENT_TYPE);
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let mut body_truncated = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_CAP - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    body_truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(err) => {
                return HttpOutcome::Other {
                    reason: format!(
                        "answered {status} but the body broke off after {} bytes: {}",
                        body.len(),
                        chain(&err)
                    ),
                };
            }
        }
    }
    HttpOutcome::Answered(HttpAnswer {
        status,
        elapsed_ms: millis(started.elapsed()),
        location,
        content_type,
        body_head: String::from_utf8_lossy(&body).into_owned(),
        body_truncated,
    })
}

/// Sorts a failed request into what an operator would do about it.
fn failure(err: &reqwest::Error, url: &Url) -> HttpOutcome {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        // An io::Error's `source()` skips the error it wraps; look inside it explicitly.
        let inner = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(current), inner].into_iter().flatten() {
            if let Some(io) = candidate.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::ConnectionRefused
            {
                return HttpOutcome::Refused {
                    address: address(url),
                };
            }
            if let Some(tls) = candidate.downcast_ref::<rustls::Error>() {
                return HttpOutcome::Tls {
                    untrusted: untrusted(tls),
                    reason: tls.to_string(),
                };
            }
            // hyper-util's connector names a failed lookup "dns error" and keeps the
            // resolver's words as its cause; it exposes no type to match on.
            if candidate.to_string() == "dns error" {
                return HttpOutcome::Dns {
                    host: url.host_str().unwrap_or_default().to_owned(),
                    reason: candidate
                        .source()
                        .map_or_else(|| "lookup failed".to_owned(), ToString::to_string),
                };
            }
        }
        cause = current.source();
    }
    HttpOutcome::Other {
        reason: chain(err),
    }
}

/// Whether a TLS failure is the certificate not being trusted, as opposed to a broken
/// handshake or a certificate for another name.
fn untrusted(err: &rustls::Error) -> bool {
    use rustls::CertificateError;
    matches!(
        err,
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::Other(_)
        )
    )
}

/// `host:port` of the URL, as a refused connection went to it.
fn address(url: &Url) -> String {
    // `host_str` keeps an IPv6 address in brackets, as `host:port` needs it.
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// An error and its causes, `outer: inner: …`, without repeating a cause its parent
/// already quotes.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(current) = cause {
        let part = current.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = current.source();
    }
    text
}

/// Milliseconds, saturating.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
