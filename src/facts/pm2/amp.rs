//! amp, the framing axon (PM2's RPC transport) puts on a Unix stream socket.
//!
//! A message is one header byte, `version << 4 | argc` (version 1, at most 15
//! arguments), then per argument a 4-byte big-endian length and that many bytes.
//! axon's message layer prefixes each argument with its type: `s:` a UTF-8 string,
//! `j:` JSON; anything else is a raw blob. Pure code: the socket lives in `rpc`.

/// The only amp version there is.
const VERSION: u8 = 1;

/// argc has four bits in the header.
const MAX_ARGS: usize = 15;

/// One argument of a message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    /// `s:` + UTF-8.
    Str(String),
    /// `j:` + JSON.
    Json(serde_json::Value),
    /// Bytes without a known type prefix.
    Blob(Vec<u8>),
}

/// Why a message could not be framed or read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AmpError {
    /// More arguments than the header can count.
    #[error("{0} arguments do not fit an amp header (at most 15)")]
    TooManyArgs(usize),
    /// One argument is longer than a 4-byte length can say.
    #[error("an argument of {0} bytes does not fit an amp length")]
    ArgTooLong(usize),
    /// The peer speaks another version (or is not amp at all).
    #[error("the peer sent amp version {0}, not 1 (is this a PM2 rpc.sock?)")]
    Version(u8),
    /// The message is larger than the caller allows.
    #[error("the message is larger than {limit} bytes (at least {size})")]
    TooLarge {
        /// Bytes the header and lengths announce so far.
        size: u64,
        /// The caller's limit.
        limit: usize,
    },
    /// An `s:` argument that is not UTF-8.
    #[error("a string argument is not UTF-8")]
    NotUtf8,
    /// A `j:` argument that is not JSON.
    #[error("a JSON argument does not parse")]
    BadJson(#[source] serde_json::Error),
}

/// Frames one message.
pub(crate) fn encode(args: &[Arg]) -> Result<Vec<u8>, AmpError> {
    if args.len() > MAX_ARGS {
        return Err(AmpError::TooManyArgs(args.len()));
    }
    let bodies: Vec<Vec<u8>> = args
        .iter()
        .map(|arg| match arg {
            Arg::Str(text) => [b"s:".as_slice(), text.as_bytes()].concat(),
            // Serialising a Value cannot fail: its keys are strings.
            Arg::Json(value) => [b"j:".as_slice(), value.to_string().as_bytes()].concat(),
            Arg::Blob(bytes) => bytes.clone(),
        })
        .collect();
    let mut out = Vec::with_capacity(1 + bodies.iter().map(|b| 4 + b.len()).sum::<usize>());
    // argc ≤ 15 was checked above.
    out.push(VERSION << 4 | args.len() as u8);
    for body in bodies {
        let len = u32::try_from(body.len()).map_err(|_| AmpError::ArgTooLong(body.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
    }
    Ok(out)
}

/// Reads messages out of a byte stream that arrives in pieces, refusing any message
/// larger than its limit as soon as the lengths announce it (before the bytes come).
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Bytes received and not yet returned as a message.
    buf: Vec<u8>,
    /// The largest message accepted, header and lengths included.
    limit: usize,
}

impl Decoder {
    /// A decoder that refuses messages larger than `limit` bytes.
    pub(crate) fn new(limit: usize) -> Decoder {
        Decoder { buf: Vec::new(), limit }
    }

    /// Adds bytes as they arrived from the socket.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` while more bytes are needed.
    pub(crate) fn next_message(&mut self) -> Result<Option<Vec<Arg>>, AmpError> {
        let Some(&header) = self.buf.first() else {
            return Ok(None);
        };
        if header >> 4 != VERSION {
            return Err(AmpError::Version(header >> 4));
        }
        let argc = usize::from(header & 0x0f);
        // First pass: find where each argument is, checking the size as lengths arrive.
        let mut at = 1usize;
        let mut spans = Vec::with_capacity(argc);
        for _ in 0..argc {
            let Some(len_bytes) = self.buf.get(at..at + 4) else {
                return Ok(None);
            };
            let mut len = [0u8; 4];
            len.copy_from_slice(len_bytes);
            let len = u32::from_be_bytes(len) as usize;
            let end = at + 4 + len;
            if end > self.limit {
                return Err(AmpError::TooLarge { size: end as u64, limit: self.limit });
            }
            spans.push((at + 4, end));
            at = end;
        }
        if self.buf.len() < at {
            return Ok(None);
        }
        let args =
            spans.into_iter().map(|(start, end)| decode_arg(&self.buf[start..end])).collect::<Result<Vec<_>, _>>();
        self.buf.drain(..at);
        args.map(Some)
    }
}

/// One argument by its type prefix.
fn decode_arg(bytes: &[u8]) -> Result<Arg, AmpError> {
    if let Some(text) = bytes.strip_prefix(b"s:") {
        return String::from_utf8(text.to_vec()).map(Arg::Str).map_err(|_| AmpError::NotUtf8);
    }
    if let Some(json) = bytes.strip_prefix(b"j:") {
        return serde_json::from_slice(json).map(Arg::Json).map_err(AmpError::BadJson);
    }
    Ok(Arg::Blob(bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Vec<Arg> {
        vec![Arg::Json(json!({"type": "call", "method": "getMonitorData", "args": [{}]})), Arg::Str("4242:1".into())]
    }

    #[test]
    fn round_trip() -> Result<(), AmpError> {
        let bytes = encode(&request())?;
        assert_eq!(bytes[0], 0x12, "version 1, two arguments");
        let mut decoder = Decoder::new(1 << 20);
        decoder.push(&bytes);
        assert_eq!(decoder.next_message()?, Some(request()));
        assert_eq!(decoder.next_message()?, None, "nothing left over");
        Ok(())
    }

    #[test]
    fn wire_bytes_are_axons() -> Result<(), AmpError> {
        let bytes = encode(&[Arg::Str("ab".into()), Arg::Blob(vec![7])])?;
        assert_eq!(bytes, [0x12, 0, 0, 0, 4, b's', b':', b'a', b'b', 0, 0, 0, 1, 7]);
        Ok(())
    }

    #[test]
    fn partial_reads_wait_for_the_rest() -> Result<(), AmpError> {
        let mut stream = encode(&request())?;
        stream.extend(encode(&[Arg::Str("second".into())])?);
        let mut decoder = Decoder::new(1 << 20);
        let mut messages = Vec::new();
        // One byte at a time: every split point, header and lengths included.
        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
            while let Some(message) = decoder.next_message()? {
                messages.push(message);
            }
        }
        assert_eq!(messages, vec![request(), vec![Arg::Str("second".into())]]);
        Ok(())
    }

    #[test]
    fn oversize_is_refused_from_the_length_alone() {
        let mut decoder = Decoder::new(100);
        // Header and a length of 1 GiB, without the bytes.
        decoder.push(&[0x11, 0x40, 0, 0, 0]);
        assert!(matches!(decoder.next_message(), Err(AmpError::TooLarge { limit: 100, .. })));
    }

    #[test]
    fn other_versions_and_bad_arguments_are_errors() {
        let mut decoder = Decoder::new(100);
        decoder.push(b"HTTP/1.1 200 OK\r\n");
        assert!(matches!(decoder.next_message(), Err(AmpError::Version(4))));
        let mut decoder = Decoder::new(100);
        decoder.push(&[0x11, 0, 0, 0, 3, b'j', b':', b'{']);
        assert!(matches!(decoder.next_message(), Err(AmpError::BadJson(_))));
        let too_many = vec![Arg::Blob(Vec::new()); 16];
        assert!(matches!(encode(&too_many), Err(AmpError::TooManyArgs(16))));
    }
}
