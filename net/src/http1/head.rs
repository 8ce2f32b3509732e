//! Request heads: parsing the request line and header fields of one HTTP/1.x request,
//! and deciding from them how its body is framed (RFC 9112 §6), whether the
//! connection may be kept alive, and whether the client waits for `100 Continue`.
//!
//! Framing is strict, since a front-end and a proxy that disagree on where a request
//! ends let one client smuggle a request into another's: `Transfer-Encoding` and
//! `Content-Length` together, conflicting lengths, codings other than `chunked`, or
//! `Transfer-Encoding` on HTTP/1.0 are refused. So is a request whose `Host` is
//! missing (HTTP/1.1), repeated or malformed (RFC 9112 §3.2): two readers of such a
//! request may route it to different hosts.

use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version};

/// Largest request head (request line and header fields) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields accepted in one request.
pub const MAX_HEADERS: usize = 128;

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub struct Head {
    /// Method, target, version and header fields.
    pub request: Request<()>,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the client lets the connection stay open after the response.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue` before sending the body.
    pub expects_continue: bool,
}

/// A request refused before it reaches the service; the connection closes after the
/// error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The response status.
    pub status: StatusCode,
    /// A short reason for the response body and the log.
    pub reason: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str) -> Self {
        Self { status, reason }
    }

    fn bad(reason: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is incomplete (and
/// still within [`MAX_HEAD`]), otherwise the head and the bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(Head, usize)>, Refusal> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(Refusal::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request head too large",
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too many header fields",
            ));
        }
        Err(httparse::Error::Version) => {
            return Err(Refusal::new(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "unsupported HTTP version",
            ));
        }
        Err(_) => return Err(Refusal::bad("malformed request head")),
    };
    if len > MAX_HEAD {
        return Err(Refusal::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request head too large",
        ));
    }
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes())
        .map_err(|_| Refusal::bad("malformed method"))?;
    let uri: Uri = req
        .path
        .unwrap_or_default()
        .parse()
        .map_err(|_| Refusal::bad("malformed request target"))?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for field in req.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| Refusal::bad("malformed header name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| Refusal::bad("malformed header value"))?;
        headers.append(name, value);
    }
    let framing = framing(&headers, version)?;
    check_host(&headers, version)?;
    let keep_alive = keep_alive(&headers, version);
    let expects_continue = match headers.get(EXPECT) {
        None => false,
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"100-continue") => {
            version == Version::HTTP_11
        }
        Some(_) => {
            return Err(Refusal::new(
                StatusCode::EXPECTATION_FAILED,
                "unsupported expectation",
            ));
        }
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let head = Head {
        request,
        framing,
        keep_alive,
        expects_continue,
    };
    Ok(Some((head, len)))
}

/// The comma-separated tokens of every `name` field, trimmed.
fn tokens<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

fn framing(headers: &HeaderMap, version: Version) -> Result<Framing, Refusal> {
    if headers.contains_key(TRANSFER_ENCODING) {
        if version == Version::HTTP_10 {
            return Err(Refusal::bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(Refusal::bad(
                "both Transfer-Encoding and Content-Length are present",
            ));
        }
        let codings: Vec<&[u8]> = tokens(headers, &TRANSFER_ENCODING).collect();
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked),
            [.., last] if last.eq_ignore_ascii_case(b"chunked") => Err(Refusal::new(
                StatusCode::NOT_IMPLEMENTED,
                "unsupported transfer coding",
            )),
            _ => Err(Refusal::bad("the last transfer coding is not chunked")),
        };
    }
    let mut length: Option<u64> = None;
    for token in tokens(headers, &CONTENT_LENGTH) {
        let n = std::str::from_utf8(token)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(Refusal::bad("malformed Content-Length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(Refusal::bad("conflicting Content-Length values"));
        }
        length = Some(n);
    }
    if headers.contains_key(CONTENT_LENGTH) && length.is_none() {
        return Err(Refusal::bad("malformed Content-Length"));
    }
    Ok(match length {
        None | Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
    })
}

/// One `Host` field, required on HTTP/1.1, holding an authority without user
/// information (`host[:port]`) or nothing.
fn check_host(headers: &HeaderMap, version: Version) -> Result<(), Refusal> {
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (_, Some(_)) => Err(Refusal::bad("more than one Host field")),
        (None, None) if version == Version::HTTP_11 => Err(Refusal::bad("no Host field")),
        (None, _) => Ok(()),
        (Some(host), None) if valid_host(host.as_bytes()) => Ok(()),
        (Some(_), None) => Err(Refusal::bad("malformed Host field")),
    }
}

/// `uri-host [":" port]` (RFC 3986 §3.2.2): a bracketed IP literal or a registered
/// name or IPv4 address, and digits after the colon; empty is allowed.
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.iter().rposition(|&b| b == b':') {
        Some(at) if !value.ends_with(b"]") => (
            value.get(..at).unwrap_or_default(),
            value.get(at + 1..).unwrap_or_default(),
        ),
        _ => (value, &b""[..]),
    };
    if !port.iter().all(u8::is_ascii_digit) {
        return false;
    }
    match host {
        // An IPv6 address (with an RFC 6874 zone such as `%25eth0`) or `vX.…`.
        [b'[', inner @ .., b']'] => {
            !inner.is_empty()
                && inner
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b":.%-_~".contains(&b))
        }
        _ => host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b)),
    }
}

fn keep_alive(headers: &HeaderMap, version: Version) -> bool {
    let has = |token: &[u8]| tokens(headers, &CONNECTION).any(|t| t.eq_ignore_ascii_case(token));
    match version {
        Version::HTTP_10 => has(b"keep-alive") && !has(b"close"),
        _ => !has(b"close"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        let (h, len) = parse(raw.as_bytes()).unwrap().expect("complete");
        assert_eq!(len, raw.len());
        h
    }

    fn refused(raw: &str) -> StatusCode {
        parse(raw.as_bytes()).expect_err("refused").status
    }

    #[test]
    fn a_complete_head_is_parsed_and_framed() {
        let h = head("PUT /a%20b/c.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(h.request.method(), Method::PUT);
        assert_eq!(h.request.uri().path(), "/a%20b/c.txt");
        assert_eq!(h.framing, Framing::Length(12));
        assert!(h.keep_alive);
        assert!(!h.expects_continue);
        let h = head(
            "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        );
        assert_eq!(h.framing, Framing::Chunked);
        assert!(h.expects_continue);
        let h = head("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Close\r\n\r\n");
        assert_eq!(h.framing, Framing::Empty);
        assert!(!h.keep_alive);
        let h = head("GET / HTTP/1.0\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(h.keep_alive);
        assert_eq!(h.request.version(), Version::HTTP_10);
        // Repeated equal lengths are one length.
        let h =
            head("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(5));
    }

    #[test]
    fn an_incomplete_head_waits_until_it_is_too_large() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(refused(&long), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            refused(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let bad = StatusCode::BAD_REQUEST;
        assert_eq!(
            refused(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ,\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            bad
        );
        assert_eq!(
            refused("PUT / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n"),
            StatusCode::EXPECTATION_FAILED
        );
        assert_eq!(
            refused("GET / HTTP/2.0\r\n\r\n"),
            StatusCode::HTTP_VERSION_NOT_SUPPORTED
        );
        assert_eq!(refused("GET /\x01 HTTP/1.1\r\n\r\n"), bad);
        assert_eq!(
            refused("GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"),
            bad
        );
    }

    #[test]
    fn host_must_be_present_once_and_well_formed() {
        let bad = StatusCode::BAD_REQUEST;
        assert_eq!(refused("GET / HTTP/1.1\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: a:x\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n"), bad);
        assert_eq!(refused("GET / HTTP/1.1\r\nHost: [a/b]\r\n\r\n"), bad);
        for ok in [
            "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]:8080\r\n\r\n",
            "GET / HTTP/1.1\r\nHost:\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
        ] {
            head(ok);
        }
    }
}
