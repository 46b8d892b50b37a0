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

use std::collections::HashMap;
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
    // Building a client that verifies TLS loads and parses the system's trusted
    // certificates: milliseconds of CPU on this one thread, stalling every D-Bus reply
    // and probe under way. Plain-http probes get a client without them; one client per
    // kind of probe keeps the cost from adding up (a check file of plain-http endpoints
    // builds one client, and never touches TLS).
    let mut clients: HashMap<ClientKind, Result<Client, String>> = HashMap::new();
    {
        let _span = crate::timings::span("http: client construction");
        for spec in specs {
            clients.entry(client_kind(spec)).or_insert_with(|| client(spec).map_err(|err| chain(&err)));
        }
    }
    let _span = crate::timings::span("http: probes");
    join_all(specs.iter().map(|spec| {
        let client = clients.get(&client_kind(spec));
        async move {
            let outcome = match client {
                Some(Ok(client)) => probe(client, spec).await,
                Some(Err(reason)) => HttpOutcome::Other { reason: format!("cannot set up the HTTP client: {reason}") },
                None => HttpOutcome::Other { reason: "no HTTP client was set up for this probe".to_owned() },
            };
            HttpFacts { spec: spec.clone(), outcome }
        }
    }))
    .await
}

/// Probes one endpoint within its timeout.
pub(crate) async fn probe(client: &Client, spec: &HealthSpec) -> HttpOutcome {
    let url = match Url::parse(&spec.url) {
        Ok(url) => url,
        Err(err) => {
            return HttpOutcome::Other { reason: format!("not a valid URL: {err}") };
        }
    };
    // One deadline for the whole exchange, body included: reqwest's own timeouts would
    // let a server that trickles its body in keep us waiting past it.
    match tokio::time::timeout(spec.timeout, exchange(client, spec, &url)).await {
        Ok(outcome) => outcome,
        Err(_) => HttpOutcome::TimedOut { after_ms: millis(spec.timeout) },
    }
}

/// What sets one probe's client apart from another's: TLS trust and redirect policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ClientKind {
    tls: Tls,
    follow_redirects: bool,
}

/// The TLS a probe may need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Tls {
    /// None: a plain `http://` URL whose redirects are not followed never meets TLS.
    None,
    /// Certificates verified against the system's trusted ones.
    Verified,
    /// Any certificate accepted (`insecure = true`).
    Insecure,
}

fn client_kind(spec: &HealthSpec) -> ClientKind {
    let plain = spec.url.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
    let tls = match (spec.insecure, plain && !spec.follow_redirects) {
        (true, _) => Tls::Insecure,
        (false, true) => Tls::None,
        (false, false) => Tls::Verified,
    };
    ClientKind { tls, follow_redirects: spec.follow_redirects }
}

/// A client for probes of one kind. It keeps no idle connection, so each probe (and
/// each `--wait` round) opens a fresh one, as a client after a reboot would.
fn client(spec: &HealthSpec) -> reqwest::Result<Client> {
    let kind = client_kind(spec);
    let redirects = if kind.follow_redirects { Policy::limited(MAX_REDIRECTS) } else { Policy::none() };
    let builder = Client::builder()
        .no_proxy()
        .redirect(redirects)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("bootproof/", env!("CARGO_PKG_VERSION")));
    match kind.tls {
        // Trusts nothing, and so loads nothing: it is never asked to (see `Tls::None`).
        Tls::None => builder.tls_certs_only(std::iter::empty()),
        Tls::Verified => builder,
        Tls::Insecure => builder.tls_danger_accept_invalid_certs(true),
    }
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
            .map(|value: &reqwest::header::HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned())
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
    for cause in causes(err) {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return HttpOutcome::Refused { address: address(url) };
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return HttpOutcome::Tls { untrusted: untrusted(tls), reason: tls.to_string() };
        }
        // hyper-util's connector names a failed lookup "dns error" and keeps the
        // resolver's words as its cause; it exposes no type to match on.
        if cause.to_string() == "dns error" {
            return HttpOutcome::Dns {
                host: url.host_str().unwrap_or_default().to_owned(),
                reason: cause.source().map_or_else(|| "lookup failed".to_owned(), ToString::to_string),
            };
        }
    }
    HttpOutcome::Other { reason: chain(err) }
}

/// An error and everything under it. An `io::Error`'s `source()` skips the error it
/// wraps (and hyper wraps rustls's error in two of them), so step into it instead.
fn causes<'a>(err: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut all = Vec::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        all.push(cause);
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    all
}

/// Whether a TLS failure is the certificate not being trusted, as opposed to a broken
/// handshake, an expired certificate or one for another name. webpki reports a
/// self-signed certificate made the usual way (`openssl req -x509`, a CA certificate
/// serving as its own leaf) as `Other(CaUsedAsEndEntity)`, and one with a plain leaf
/// as `UnknownIssuer`.
fn untrusted(err: &rustls::Error) -> bool {
    use rustls::CertificateError;
    matches!(
        err,
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature | CertificateError::Other(_)
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
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    for cause in causes(err) {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

/// Milliseconds, saturating.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    //! Real sockets on loopback, served by tokio in the test: no mock client.

    use std::collections::BTreeMap;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn only_probes_that_may_meet_tls_get_a_client_that_loads_certificates() {
        let timeout = Duration::from_secs(2);
        let kind = |url: &str, insecure: bool, follow_redirects: bool| {
            client_kind(&HealthSpec { insecure, follow_redirects, ..spec(url, timeout) }).tls
        };
        assert_eq!(kind("http://127.0.0.1:3000/health", false, false), Tls::None);
        assert_eq!(kind("HTTP://127.0.0.1:3000/health", false, false), Tls::None);
        assert_eq!(kind("https://127.0.0.1:3000/health", false, false), Tls::Verified);
        // A redirect may lead to https.
        assert_eq!(kind("http://127.0.0.1:3000/health", false, true), Tls::Verified);
        assert_eq!(kind("https://127.0.0.1:3000/health", true, false), Tls::Insecure);
    }

    /// One probe through `probe_all`, as gathering runs it.
    async fn probe_one(spec: &HealthSpec) -> HttpOutcome {
        probe_all(std::slice::from_ref(spec)).await.remove(0).outcome
    }

    fn spec(url: &str, timeout: Duration) -> HealthSpec {
        HealthSpec {
            url: url.to_owned(),
            status: Vec::new(),
            body_contains: None,
            json: BTreeMap::new(),
            timeout,
            insecure: false,
            host: None,
            follow_redirects: false,
            unit: None,
        }
    }

    /// A server that reads one request and answers with `head` followed by `body_len`
    /// bytes of `x`, written in 64 KiB chunks until the client goes away.
    async fn serve(head: String, body_len: usize) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let head = head.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut sent = 0;
                    while sent < body_len {
                        let n = chunk.len().min(body_len - sent);
                        if socket.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        sent += n;
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_with_its_address() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        drop(listener);
        let outcome = probe_one(&spec(&format!("http://{addr}/health"), Duration::from_secs(2))).await;
        assert_eq!(outcome, HttpOutcome::Refused { address: addr.to_string() });
    }

    #[tokio::test]
    async fn an_unresolvable_name_is_a_dns_failure() {
        // .invalid never resolves (RFC 6761), with or without a resolver on this host.
        let outcome = probe_one(&spec("http://bootproof-test.invalid/health", Duration::from_secs(5))).await;
        assert!(matches!(&outcome, HttpOutcome::Dns { host, .. } if host == "bootproof-test.invalid"), "{outcome:?}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_while_other_probes_finish() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let silent = listener.local_addr().expect("bound address");
        // Accepts and holds every connection without a word.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let ok = serve("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".into(), 0).await;
        let started = Instant::now();
        let facts = probe_all(&[
            spec(&format!("http://{silent}/"), Duration::from_millis(500)),
            spec(&format!("http://{ok}/"), Duration::from_secs(2)),
        ])
        .await;
        let took = started.elapsed();
        assert_eq!(facts[0].outcome, HttpOutcome::TimedOut { after_ms: 500 });
        assert!(matches!(&facts[1].outcome, HttpOutcome::Answered(a) if a.status == 200 && a.body_head == "ok"));
        assert!(took < Duration::from_millis(1500), "took {took:?}");
    }

    /// A server that answers one byte per second, headers and body alike: every read
    /// succeeds, so only a deadline for the whole exchange ends the probe.
    async fn trickle(head_first: bool) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
                    if head_first && socket.write_all(head).await.is_err() {
                        return;
                    }
                    let slow: &[u8] = if head_first { &[b'x'; 100] } else { head };
                    for byte in slow {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if socket.write_all(std::slice::from_ref(byte)).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_body_trickled_one_byte_a_second_times_out_at_the_probe_timeout() {
        let addr = trickle(true).await;
        let started = Instant::now();
        let outcome = probe_one(&spec(&format!("http://{addr}/"), Duration::from_secs(2))).await;
        let took = started.elapsed();
        assert_eq!(outcome, HttpOutcome::TimedOut { after_ms: 2000 });
        assert!(took < Duration::from_millis(2500), "the timeout is for the whole exchange, took {took:?}");
    }

    #[tokio::test]
    async fn headers_trickled_one_byte_a_second_time_out_at_the_probe_timeout() {
        let addr = trickle(false).await;
        let started = Instant::now();
        let outcome = probe_one(&spec(&format!("http://{addr}/"), Duration::from_secs(2))).await;
        let took = started.elapsed();
        assert_eq!(outcome, HttpOutcome::TimedOut { after_ms: 2000 });
        assert!(took < Duration::from_millis(2500), "took {took:?}");
    }

    #[tokio::test]
    async fn a_ten_megabyte_body_is_read_only_to_the_cap() {
        let total = 10 * 1024 * 1024;
        let addr =
            serve(format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {total}\r\n\r\n"), total)
                .await;
        let outcome = probe_one(&spec(&format!("http://{addr}/"), Duration::from_secs(2))).await;
        let HttpOutcome::Answered(answer) = outcome else { panic!("{outcome:?}") };
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body_head.len(), BODY_CAP);
        assert!(answer.body_truncated);
        assert_eq!(answer.content_type.as_deref(), Some("text/plain"));
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_cap_is_not_truncated() {
        let addr = serve(format!("HTTP/1.1 200 OK\r\ncontent-length: {BODY_CAP}\r\n\r\n"), BODY_CAP).await;
        let outcome = probe_one(&spec(&format!("http://{addr}/"), Duration::from_secs(2))).await;
        assert!(
            matches!(&outcome, HttpOutcome::Answered(a) if !a.body_truncated && a.body_head.len() == BODY_CAP),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_unless_asked() {
        let addr = serve("HTTP/1.1 302 Found\r\nlocation: /login\r\ncontent-length: 0\r\n\r\n".into(), 0).await;
        let mut s = spec(&format!("http://{addr}/health"), Duration::from_secs(2));
        let outcome = probe_one(&s).await;
        assert!(
            matches!(&outcome, HttpOutcome::Answered(a) if a.status == 302 && a.location.as_deref() == Some("/login")),
            "{outcome:?}"
        );
        s.follow_redirects = true;
        let outcome = probe_one(&s).await;
        assert!(matches!(&outcome, HttpOutcome::Other { reason } if reason.contains("redirect")), "{outcome:?}");
    }

    #[tokio::test]
    async fn the_host_header_is_sent_as_given() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let seen = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("a connection");
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.expect("a request");
            let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
            String::from_utf8_lossy(&request[..n]).to_lowercase()
        });
        let mut s = spec(&format!("http://{addr}/"), Duration::from_secs(2));
        s.host = Some("api.example.com".into());
        let outcome = probe_one(&s).await;
        assert!(matches!(&outcome, HttpOutcome::Answered(a) if a.status == 204), "{outcome:?}");
        let request = seen.await.expect("the server task");
        assert!(request.contains("\r\nhost: api.example.com\r\n"), "{request}");
    }

    #[tokio::test]
    async fn a_malformed_url_is_said_so() {
        let outcome = probe_one(&spec("127.0.0.1:3000/health", Duration::from_secs(1))).await;
        assert!(
            matches!(&outcome, HttpOutcome::Other { reason } if reason.starts_with("not a valid URL")),
            "{outcome:?}"
        );
    }
}
