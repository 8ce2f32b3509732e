//! A streaming `multipart/form-data` reader (RFC 7578) for `POST /user/files`: parts
//! are handed out one at a time and their data in chunks as it arrives, so uploads of
//! any size never sit in memory. Part headers are capped; a body that ends before the
//! closing delimiter is an error.

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::response::ApiError;

/// Largest header block of one part.
const MAX_PART_HEADERS: usize = 16 * 1024;

/// Where the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter (the preamble is skipped).
    Preamble,
    /// Inside a part's data.
    Data,
    /// The buffer starts with a delimiter.
    AtDelimiter,
    /// After the closing delimiter.
    Done,
}

/// One part's headers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field name.
    pub name: String,
    /// The file name, for file fields.
    pub filename: Option<String>,
}

/// Source of body chunks (the request body, or a fixed list in tests).
pub trait Chunks {
    /// The next chunk, `None` at the end.
    fn next_chunk(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, ApiError>> + Send;
}

impl Chunks for Incoming {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            match self.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(ApiError::bad_request(format!("upload interrupted: {e}")));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Reads parts from a body.
pub struct Multipart<B> {
    body: B,
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    buf: BytesMut,
    state: State,
    /// Where the next delimiter search starts in `buf` (everything before was searched).
    scan_from: usize,
    /// Bytes read from the body so far.
    pub received: u64,
    /// Most bytes the body may have (413 beyond).
    limit: u64,
}

/// The boundary parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Result<String, ApiError> {
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(ApiError::bad_request(
            "the request must be multipart/form-data",
        ));
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| ApiError::bad_request("multipart boundary missing or invalid"))
}

/// The value of `key` in a `Content-Disposition` header (quoted or not).
fn disposition_param(value: &str, key: &str) -> Option<String> {
    let mut rest = value;
    while let Some(i) = rest.find(';') {
        rest = rest.get(i + 1..)?.trim_start();
        let (k, v) = rest.split_once('=')?;
        if k.trim().eq_ignore_ascii_case(key) {
            let v = v.trim_start();
            if let Some(q) = v.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = q.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => out.push(chars.next()?),
                        '"' => return Some(out),
                        c => out.push(c),
                    }
                }
                return None;
            }
            return Some(v.split(';').next().unwrap_or_default().trim().to_string());
        }
    }
    None
}

fn parse_headers(block: &[u8]) -> Result<Part, ApiError> {
    let text = std::str::from_utf8(block)
        .map_err(|_| ApiError::bad_request("multipart part headers are not UTF-8"))?;
    let mut part = Part::default();
    for line in text.split("\r\n") {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("content-disposition") {
            part.name = disposition_param(v, "name").unwrap_or_default();
            part.filename = disposition_param(v, "filename");
        }
    }
    Ok(part)
}

impl<B: Chunks> Multipart<B> {
    /// A reader of `body` with `boundary`.
    pub fn new(body: B, boundary: &str) -> Self {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        // A leading CRLF makes the first delimiter look like every other one.
        buf.extend_from_slice(b"\r\n");
        Self {
            body,
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            buf,
            state: State::Preamble,
            scan_from: 0,
            received: 0,
            limit: u64::MAX,
        }
    }

    /// Caps the whole body at `limit` bytes.
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    /// Drops `n` bytes from the front of the buffer.
    fn consume(&mut self, n: usize) -> Bytes {
        self.scan_from = self.scan_from.saturating_sub(n);
        self.buf.split_to(n).freeze()
    }

    /// Searches `needle` from where the last search of it stopped; when it is not
    /// found, the next search resumes near the end (a needle may straddle chunks).
    fn find_new(&mut self, needle: &[u8]) -> Option<usize> {
        let from = self.scan_from.min(self.buf.len());
        match memchr::memmem::find(self.buf.get(from..)?, needle) {
            Some(i) => Some(from + i),
            None => {
                self.scan_from = self.buf.len().saturating_sub(needle.len() - 1);
                None
            }
        }
    }

    async fn fill(&mut self) -> Result<bool, ApiError> {
        match self.body.next_chunk().await? {
            Some(chunk) => {
                self.received += chunk.len() as u64;
                if self.received > self.limit {
                    return Err(ApiError::new(
                        hyper::StatusCode::PAYLOAD_TOO_LARGE,
                        "the upload is larger than httpd.max_upload_file_size",
                    ));
                }
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The next part's headers; `None` after the closing delimiter. Data of the
    /// current part not read yet is skipped.
    pub async fn next_part(&mut self) -> Result<Option<Part>, ApiError> {
        while matches!(self.state, State::Preamble | State::Data) {
            if self.state == State::Data {
                while self.read_chunk().await?.is_some() {}
                continue;
            }
            match self.find_new(&self.delimiter.clone()) {
                Some(i) => {
                    self.consume(i);
                    self.state = State::AtDelimiter;
                }
                None => {
                    // Keep a tail that may hold the start of the delimiter.
                    let keep = self.delimiter.len().min(self.buf.len());
                    self.consume(self.buf.len() - keep);
                    if !self.fill().await? {
                        return Err(ApiError::bad_request("no multipart delimiter found"));
                    }
                }
            }
        }
        if self.state == State::Done {
            return Ok(None);
        }
        // At a delimiter: `--` closes the body, otherwise padding up to CRLF, then the
        // headers up to an empty line.
        let after = self.delimiter.len();
        while self.buf.len() < after + 2 {
            if !self.fill().await? {
                return Err(ApiError::bad_request("multipart body ended early"));
            }
        }
        if self.buf.get(after..after + 2) == Some(b"--") {
            self.state = State::Done;
            return Ok(None);
        }
        self.scan_from = 0;
        let headers_end = loop {
            if let Some(i) = self.find_new(b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > MAX_PART_HEADERS + after {
                return Err(ApiError::bad_request("multipart part headers too large"));
            }
            if !self.fill().await? {
                return Err(ApiError::bad_request("multipart body ended early"));
            }
        };
        let line_end = self
            .buf
            .get(after..)
            .and_then(|b| memchr::memmem::find(b, b"\r\n"))
            .map_or(after, |i| after + i + 2);
        let part = parse_headers(self.buf.get(line_end..headers_end + 2).unwrap_or_default())?;
        self.buf.advance(headers_end + 4);
        self.scan_from = 0;
        self.state = State::Data;
        Ok(Some(part))
    }

    /// The next chunk of the current part's data; `None` at its end.
    pub async fn read_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        if self.state != State::Data {
            return Ok(None);
        }
        loop {
            if let Some(i) = self.find_new(&self.delimiter.clone()) {
                self.state = State::AtDelimiter;
                if i == 0 {
                    return Ok(None);
                }
                return Ok(Some(self.consume(i)));
            }
            // Everything but a possible partial delimiter at the end can go out.
            let safe = self.buf.len().saturating_sub(self.delimiter.len() - 1);
            if safe >= 16 * 1024 {
                return Ok(Some(self.consume(safe)));
            }
            if !self.fill().await? {
                return Err(ApiError::bad_request("multipart body ended early"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(std::collections::VecDeque<Bytes>);

    impl Chunks for Fixed {
        async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
            Ok(self.0.pop_front())
        }
    }

    /// Every part of `body` split into chunks of `step` bytes.
    fn read_all(body: &[u8], step: usize) -> Result<Vec<(Part, Vec<u8>)>, ApiError> {
        let chunks = body.chunks(step).map(Bytes::copy_from_slice).collect();
        let mut m = Multipart::new(Fixed(chunks), "XyZ");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut out = Vec::new();
            while let Some(part) = m.next_part().await? {
                let mut data = Vec::new();
                while let Some(c) = m.read_chunk().await? {
                    data.extend_from_slice(&c);
                }
                out.push((part, data));
            }
            Ok(out)
        })
    }

    #[test]
    fn parts_survive_any_chunking() {
        let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let mut body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"filenames\"; filename=\"a \\\"b\\\".txt\"\r\nContent-Type: text/plain\r\n\r\n".to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=note\r\n\r\n\r\n--X\r\n--XyZ--\r\nepilogue");
        for step in [1, 2, 7, 100, 4096, body.len()] {
            let parts = read_all(&body, step).unwrap();
            assert_eq!(parts.len(), 2, "step {step}");
            assert_eq!(parts[0].0.name, "filenames");
            assert_eq!(parts[0].0.filename.as_deref(), Some("a \"b\".txt"));
            assert_eq!(parts[0].1, big, "step {step}");
            assert_eq!(parts[1].0.name, "note");
            assert_eq!(parts[1].0.filename, None);
            assert_eq!(parts[1].1, b"\r\n--X");
        }
    }

    #[test]
    fn truncated_and_bad_bodies_are_errors() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc";
        assert!(read_all(body, 3).is_err(), "no closing delimiter");
        assert!(read_all(b"no delimiter at all", 4).is_err());
        let mut huge = b"--XyZ\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_PART_HEADERS + 100));
        assert!(read_all(&huge, 1000).is_err(), "header cap");
        assert!(read_all(b"--XyZ--\r\n", 2).unwrap().is_empty());
    }

    #[test]
    fn the_body_limit_counts_every_byte() {
        let mut body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"skipped\"\r\n\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'x', 5000));
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let chunks = body.chunks(100).map(Bytes::copy_from_slice).collect();
        let mut m = Multipart::new(Fixed(chunks), "XyZ").with_limit(1000);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt
            .block_on(async {
                while m.next_part().await?.is_some() {}
                Ok::<_, ApiError>(())
            })
            .unwrap_err();
        assert_eq!(
            err.status,
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            "skipped parts count too"
        );
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"ab c\"").unwrap(),
            "ab c"
        );
        assert!(boundary("application/json").is_err());
        assert!(boundary("multipart/form-data").is_err());
    }
}
