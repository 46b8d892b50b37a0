//! URLs that carry secrets: a Slack webhook's path is its token, a heartbeat URL's path is
//! the check's id. bootproof sends to them and never shows more of them than the scheme
//! and the host (`https://hooks.slack.com/…`): not in messages, not in reports, not in
//! `timer print`.

use std::fmt;

use reqwest::Url;

use super::hash::fnv1a64;

/// A webhook or heartbeat URL. `Display` and `Debug` show only scheme, host and port.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretUrl {
    url: Url,
}

impl SecretUrl {
    /// Parses an `http://` or `https://` URL. The error never repeats the text: it may be
    /// a secret with a typo in it.
    pub(crate) fn parse(text: &str) -> Result<SecretUrl, String> {
        let url = Url::parse(text.trim()).map_err(|err| format!("not a URL ({err})"))?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(format!("scheme {other}: is not http or https")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("no host".to_owned());
        }
        if url.fragment().is_some() {
            return Err("a #fragment is never sent to a server; leave it out".to_owned());
        }
        Ok(SecretUrl { url })
    }

    /// The URL to send to.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The whole URL as text, for the one place it is written: the alert environment file
    /// `timer install` makes (mode 0600).
    pub(crate) fn expose(&self) -> &str {
        self.url.as_str()
    }

    /// The heartbeat's failure URL: `URL/fail` (healthchecks.io's convention, and that of
    /// similar dead-man's-switch services), a trailing slash not doubled, the query kept.
    pub(crate) fn fail(&self) -> SecretUrl {
        let mut url = self.url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("fail");
        }
        SecretUrl { url }
    }

    /// A stable name for this URL in the state file's outbox, salted with what else makes
    /// a delivery differ (the payload format): 64 bits of FNV-1a, from which the URL cannot
    /// be read back.
    pub(crate) fn fingerprint(&self, salt: &str) -> String {
        let mut bytes = salt.as_bytes().to_vec();
        bytes.push(0);
        bytes.extend_from_slice(self.url.as_str().as_bytes());
        format!("{:016x}", fnv1a64(&bytes))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.url.scheme(), self.url.host_str().unwrap_or(""))?;
        if let Some(port) = self.url.port() {
            write!(f, ":{port}")?;
        }
        if self.url.path() != "/" || self.url.query().is_some() {
            f.write_str("/…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK: &str = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";

    #[test]
    fn only_scheme_and_host_are_ever_shown() {
        let url = SecretUrl::parse(SLACK).expect("a Slack URL");
        assert_eq!(url.to_string(), "https://hooks.slack.com/…");
        assert_eq!(format!("{url:?}"), "SecretUrl(https://hooks.slack.com/…)");
        let with_port = SecretUrl::parse("http://user:pw@127.0.0.1:9093/api/v2/x?token=s").expect("parses");
        assert_eq!(with_port.to_string(), "http://127.0.0.1:9093/…");
        assert_eq!(SecretUrl::parse("http://receiver/").expect("bare").to_string(), "http://receiver");
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for (text, why) in [
            ("hooks.slack.com/services/SECRET", "not a URL"),
            ("ftp://example.com/SECRET", "is not http or https"),
            ("https://example.com/SECRET#x", "fragment"),
        ] {
            let err = SecretUrl::parse(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
            assert!(!err.contains("SECRET"), "{err}");
        }
    }

    #[test]
    fn the_failure_url_appends_fail() {
        for (base, fail) in [
            ("https://hc-ping.com/0f3e", "https://hc-ping.com/0f3e/fail"),
            ("https://hc-ping.com/0f3e/", "https://hc-ping.com/0f3e/fail"),
            ("http://127.0.0.1:8000/ping/abc?rid=1", "http://127.0.0.1:8000/ping/abc/fail?rid=1"),
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000/fail"),
        ] {
            assert_eq!(SecretUrl::parse(base).expect(base).fail().expose(), fail);
        }
    }

    #[test]
    fn fingerprints_tell_urls_and_formats_apart_and_hide_the_url() {
        let a = SecretUrl::parse(SLACK).expect("a");
        let b = SecretUrl::parse("https://hooks.slack.com/services/T00000000/B00000000/YYYY").expect("b");
        assert_eq!(a.fingerprint("slack"), a.fingerprint("slack"), "stable");
        assert_ne!(a.fingerprint("slack"), b.fingerprint("slack"));
        assert_ne!(a.fingerprint("slack"), a.fingerprint("json"));
        assert_eq!(a.fingerprint("json").len(), 16);
    }
}
