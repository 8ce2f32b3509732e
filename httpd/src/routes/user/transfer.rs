//! User API operations that move file data, all streamed: `GET /user/files` (download,
//! one `Range`), `POST /user/files/upload` (raw body, `X-SFTPGO-MTIME`),
//! `POST /user/files` (multipart, field `filenames`) and `POST /user/streamzip` (a ZIP
//! of several paths). A failure after the response started aborts the connection.

use std::collections::HashSet;

use bytes::Bytes;
use hyper::{StatusCode, header};
use sftpgo_core::connection::{Transfer, WriteOptions};
use sftpgo_core::path::VirtualPath;
use sftpgo_vfs::{FileKind, SetAttrs};

use super::{
    Session, bool_arg, connection, make_dirs, make_parents, path_arg, required_path_arg, writable,
};
use crate::HttpState;
use crate::multipart::{Chunks, Multipart, boundary};
use crate::response::{ApiError, Body, HttpResponse, json_response};
use crate::routes::Request;
use sftpgo_core::zip::ZipWriter;

/// Size of each read of a download and of each streamed chunk.
const CHUNK: usize = 256 * 1024;
/// Why a stream ends early when an admin closes its connection.
const CLOSED: &str = "connection closed by the administrator";
/// Deepest directory level an archive descends to.
const MAX_ZIP_DEPTH: usize = 64;

type Sender = http_body_util::channel::Sender<Bytes, std::io::Error>;

/// A streamed response body and the sender that fills it.
fn channel() -> (Sender, Body) {
    use http_body_util::BodyExt;
    let (tx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
    (tx, body.boxed_unsync())
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// The whole file: no header, or one this server ignores (malformed, or several
    /// ranges), as RFC 9110 allows.
    Whole,
    /// The inclusive byte range.
    Part(u64, u64),
    /// A well-formed range outside the file: 416.
    Unsatisfiable,
}

/// Reads `bytes=a-b`, `bytes=a-` or `bytes=-n`.
fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let num = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (a.trim(), b.trim()) {
        ("", "") => return RangeAsk::Whole,
        ("", n) => match num(n) {
            Some(0) => return RangeAsk::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            None => return RangeAsk::Whole,
        },
        (a, "") => match num(a) {
            Some(a) => (a, size.saturating_sub(1)),
            None => return RangeAsk::Whole,
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => (a, b.min(size.saturating_sub(1))),
            _ => return RangeAsk::Whole,
        },
    };
    if size == 0 || start >= size {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Part(start, end)
}

/// `attachment` with the name in RFC 6266/5987 form (ASCII fallback plus UTF-8).
fn attachment(name: &str) -> header::HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    header::HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| header::HeaderValue::from_static("attachment"))
}

/// HTTP date (RFC 7231 IMF-fixdate) of Unix seconds.
fn http_date(secs: i64) -> String {
    format!("{} GMT", sftpgo_core::clock::rfc1123(secs))
}

/// `GET /user/files?path=`: the file, or the `Range` asked for.
pub async fn download(conn: Session, req: &Request<'_>) -> Result<HttpResponse, ApiError> {
    let path = path_arg(req, "path")?;
    send_file(conn, path, req.headers).await
}

/// Streams the file `path` of `conn` (one `Range` honoured); the connection lives
/// until the body is sent.
pub(crate) async fn send_file(
    conn: Session,
    path: VirtualPath,
    headers: &hyper::HeaderMap,
) -> Result<HttpResponse, ApiError> {
    if path.is_root() {
        return Err(ApiError::bad_request("please set the path to a valid file"));
    }
    if conn.stat(&path).await?.kind == FileKind::Dir {
        return Err(ApiError::bad_request(format!(
            "please set the path to a valid file, {:?} is a directory",
            path.as_str()
        )));
    }
    let transfer = conn.open_read(&path).await?;
    let info = transfer.stat().await?;
    let size = info.size;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(RangeAsk::Whole, |v| parse_range(v, size));
    let (status, start, end) = match range {
        RangeAsk::Whole => (StatusCode::OK, 0, size),
        RangeAsk::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        RangeAsk::Unsatisfiable => {
            let _ = transfer.close().await;
            let mut resp =
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "invalid range").into_response();
            if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let (mut tx, body) = channel();
    tokio::spawn(async move {
        let mut offset = start;
        let mut buf = vec![0u8; CHUNK];
        let mut failed = None;
        while offset < end {
            if conn.closed() {
                failed = Some(CLOSED.to_string());
                break;
            }
            let want = usize::try_from((end - offset).min(CHUNK as u64)).unwrap_or(CHUNK);
            let Some(slice) = buf.get_mut(..want) else {
                break;
            };
            match transfer.read_at(slice, offset).await {
                Ok(0) => {
                    failed = Some("the file shrank while being sent".to_string());
                    break;
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
                Ok(n) => {
                    let chunk = Bytes::copy_from_slice(slice.get(..n).unwrap_or_default());
                    let sent = tokio::select! {
                        r = tx.send_data(chunk) => r.map_err(|_| "client went away"),
                        () = conn.until_closed() => Err(CLOSED),
                    };
                    if let Err(why) = sent {
                        failed = Some(why.to_string());
                        break;
                    }
                    offset += n as u64;
                }
            }
        }
        match failed {
            None => {
                let _ = transfer.close().await;
            }
            Some(why) => {
                transfer.abort().await;
                abort_body(tx, &why);
            }
        }
        drop(conn);
    });
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_DISPOSITION, attachment(path.name()));
    h.insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from(end - start),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if let Ok(v) = header::HeaderValue::from_str(&http_date(info.mtime)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = header::HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

/// Ends a streamed body with an error, so hyper drops the connection and the client
/// never takes a partial file for a complete one.
fn abort_body(tx: Sender, why: &str) {
    tx.abort(std::io::Error::other(why.to_string()));
}

/// The request's server-wide body limit (`httpd.max_upload_file_size`, 0: none).
fn body_limit(state: &HttpState) -> u64 {
    u64::try_from(state.max_upload_file_size)
        .ok()
        .filter(|m| *m > 0)
        .unwrap_or(u64::MAX)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the upload is larger than httpd.max_upload_file_size",
    )
}

/// Where an upload's bytes come from.
trait Source {
    /// The next chunk; `None` at the end of the file.
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError>;
    /// Request bytes read so far.
    fn received(&self) -> u64;
}

/// A raw request body.
struct RawBody {
    body: hyper::body::Incoming,
    received: u64,
}

impl Source for RawBody {
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        let chunk = self.body.next_chunk().await?;
        if let Some(c) = &chunk {
            self.received += c.len() as u64;
        }
        Ok(chunk)
    }

    fn received(&self) -> u64 {
        self.received
    }
}

/// The current part of a multipart body.
struct FormPart<'a, B>(&'a mut Multipart<B>);

impl<B: Chunks> Source for FormPart<'_, B> {
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        self.0.read_chunk().await
    }

    fn received(&self) -> u64 {
        self.0.received
    }
}

/// Writes `source` into `transfer`, checking the request bytes read against `limit`.
/// The transfer is aborted on failure.
async fn fill(
    conn: &Session,
    transfer: &Transfer,
    limit: u64,
    source: &mut impl Source,
) -> Result<(), ApiError> {
    let mut offset = 0u64;
    loop {
        if conn.closed() {
            transfer.abort().await;
            return Err(ApiError::new(StatusCode::GONE, CLOSED));
        }
        let next = tokio::select! {
            r = source.next() => r,
            () = conn.until_closed() => Err(ApiError::new(StatusCode::GONE, CLOSED)),
        };
        let data = match next {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(()),
            Err(e) => {
                transfer.abort().await;
                return Err(e);
            }
        };
        if source.received() > limit {
            transfer.abort().await;
            return Err(too_large());
        }
        if let Err(e) = transfer.write_at(&data, offset).await {
            transfer.abort().await;
            return Err(e.into());
        }
        offset += data.len() as u64;
    }
}

fn overwrite() -> WriteOptions {
    WriteOptions {
        truncate: true,
        create: true,
        ..WriteOptions::default()
    }
}

/// `POST /user/files/upload?path=`: the request body is the file, written as it
/// arrives.
pub async fn upload(state: &HttpState, req: &mut Request<'_>) -> Result<HttpResponse, ApiError> {
    let path = required_path_arg(req, "path")?;
    let conn = connection(state, req).await?;
    writable(&conn)?;
    if bool_arg(req, "mkdir_parents")? {
        make_parents(&conn, &path).await?;
    }
    store_body(state, &conn, &path, req).await
}

/// Writes the raw request body to `path` (`X-SFTPGO-MTIME` applied with `chtimes`).
pub(crate) async fn store_body(
    state: &HttpState,
    conn: &Session,
    path: &VirtualPath,
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let mut body = RawBody {
        body: req.take_body()?,
        received: 0,
    };
    let transfer = conn.open_write(path, overwrite()).await?;
    fill(conn, &transfer, body_limit(state), &mut body).await?;
    if let Some(ms) = req
        .headers
        .get("x-sftpgo-mtime")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
    {
        let secs = ms.div_euclid(1000);
        let attrs = SetAttrs {
            times: Some((secs, secs)),
            ..SetAttrs::default()
        };
        // Only with the `chtimes` permission; otherwise ignored, as SFTPGo does.
        if conn.authorize_set_attrs(path, &attrs).is_ok() {
            let _ = transfer.set_attrs(&attrs).await;
        }
    }
    transfer.close().await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({"message": "Upload completed"}),
    ))
}

/// The last component of a client file name (`a/b/../c.txt` gives `c.txt`).
fn upload_name(filename: &str) -> Result<String, ApiError> {
    let name = filename.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." {
        return Err(ApiError::bad_request(format!(
            "invalid file name {filename:?}"
        )));
    }
    Ok(name.to_string())
}

/// `POST /user/files?path=<dir>`: multipart form, every `filenames` part is one file
/// stored under `path` with its base name.
pub async fn upload_multipart(
    state: &HttpState,
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, req).await?;
    writable(&conn)?;
    let dir = path_arg(req, "path")?;
    if bool_arg(req, "mkdir_parents")? {
        make_dirs(&conn, &dir).await?;
    }
    store_form(state, &conn, &dir, req, None::<&NoBooking>).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({"message": "Upload completed"}),
    ))
}

/// No use accounting (the user's own uploads).
pub(crate) struct NoBooking;

impl UseBooking for NoBooking {
    async fn take(&self) -> Result<(), ApiError> {
        Ok(())
    }
    async fn give_back(&self) {}
}

/// Books one use of a share per stored file (see `shares::Booking`).
pub(crate) trait UseBooking {
    /// Takes one use; an error when none is left.
    async fn take(&self) -> Result<(), ApiError>;
    /// Gives one back (its file was not stored).
    async fn give_back(&self);
}

/// Stores every `filenames` part of a multipart body under `dir`; with `booking`,
/// each file first takes one use (so a share's limit holds while parts stream in).
/// 400 without any file.
pub(crate) async fn store_form(
    state: &HttpState,
    conn: &Session,
    dir: &VirtualPath,
    req: &mut Request<'_>,
    booking: Option<&impl UseBooking>,
) -> Result<u64, ApiError> {
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = boundary(content_type)?;
    let limit = body_limit(state);
    let mut form = Multipart::new(req.take_body()?, &boundary).with_limit(limit);
    let mut uploaded = 0u64;
    while let Some(part) = form.next_part().await? {
        // Other fields, and file inputs left empty (no file name), are skipped.
        let Some(filename) = part
            .filename
            .filter(|f| part.name == "filenames" && !f.is_empty())
        else {
            continue;
        };
        if let Some(b) = booking {
            b.take().await?;
        }
        let stored = store_part(conn, dir, &filename, &mut form, limit).await;
        if stored.is_err()
            && let Some(b) = booking
        {
            b.give_back().await;
        }
        stored?;
        uploaded += 1;
    }
    if uploaded == 0 {
        return Err(ApiError::bad_request("No files uploaded!"));
    }
    Ok(uploaded)
}

/// One multipart file under `dir`.
async fn store_part<B: Chunks>(
    conn: &Session,
    dir: &VirtualPath,
    filename: &str,
    form: &mut Multipart<B>,
    limit: u64,
) -> Result<(), ApiError> {
    let target = dir.join(&upload_name(filename)?)?;
    let transfer = conn.open_write(&target, overwrite()).await?;
    fill(conn, &transfer, limit, &mut FormPart(form)).await?;
    transfer.close().await?;
    Ok(())
}

/// The download name SFTPGo gives an archive.
fn zip_name(username: &str, paths: &[VirtualPath]) -> String {
    match paths {
        [one] => {
            let name = one.name();
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            format!("{username}-{stem}.zip")
        }
        _ => format!("{username}-download.zip"),
    }
}

/// `POST /user/streamzip` with a JSON array of paths: one ZIP of them (directories
/// recursively), streamed as it is built.
pub async fn stream_zip(
    state: &HttpState,
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, req).await?;
    let body = req.read_body().await?;
    let raw: Vec<String> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the body must be a JSON array of paths: {e}"))
    })?;
    let mut seen = HashSet::new();
    let mut paths = Vec::new();
    for p in raw {
        let p = VirtualPath::resolve(&VirtualPath::root(), &p)?;
        if seen.insert(p.as_str().to_string()) {
            // Missing or hidden paths fail here, with a status, before streaming.
            conn.stat(&p).await?;
            paths.push(p);
        }
    }
    if paths.is_empty() {
        return Err(ApiError::bad_request("no paths to archive"));
    }
    let name = zip_name(&conn.user().username, &paths);
    Ok(send_zip(conn, VirtualPath::root(), paths, &name))
}

/// Streams a ZIP of `paths` (checked to exist), entries named relative to `base`.
pub(crate) fn send_zip(
    conn: Session,
    base: VirtualPath,
    paths: Vec<VirtualPath>,
    name: &str,
) -> HttpResponse {
    let (tx, body) = channel();
    tokio::spawn(async move {
        let mut zip = Zipper {
            conn: &conn,
            base: &base,
            zip: ZipWriter::new(),
            tx,
            buf: vec![0u8; CHUNK],
        };
        let mut result = Ok(());
        for p in &paths {
            result = Box::pin(zip.add(p, 0)).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            zip.zip.finish();
            result = zip.flush().await;
        }
        if let Err(why) = result {
            tracing::warn!(sender = "httpd", connection_id = %conn.id(), error = %why,
                "zip stream aborted");
            abort_body(zip.tx, &why);
        }
    });
    let mut resp = hyper::Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("none"),
    );
    h.insert(header::CONTENT_DISPOSITION, attachment(name));
    resp
}

/// Walks paths into an archive.
struct Zipper<'a> {
    conn: &'a Session,
    /// Entries are named relative to this directory.
    base: &'a VirtualPath,
    zip: ZipWriter,
    tx: Sender,
    buf: Vec<u8>,
}

impl Zipper<'_> {
    async fn flush(&mut self) -> Result<(), String> {
        if self.conn.closed() {
            return Err(CLOSED.to_string());
        }
        let bytes = bytes::Bytes::from(self.zip.take());
        if bytes.is_empty() {
            return Ok(());
        }
        tokio::select! {
            r = self.tx.send_data(bytes) => r.map_err(|_| "client went away".to_string()),
            () = self.conn.until_closed() => Err(CLOSED.to_string()),
        }
    }

    async fn add(&mut self, p: &VirtualPath, depth: usize) -> Result<(), String> {
        if depth > MAX_ZIP_DEPTH {
            return Err(format!("{p}: directory tree too deep"));
        }
        let info = self.conn.stat(p).await.map_err(|e| format!("{p}: {e}"))?;
        let entry = p
            .as_str()
            .strip_prefix(self.base.as_str())
            .unwrap_or(p.as_str())
            .trim_start_matches('/')
            .to_string();
        let entry = entry.as_str();
        if info.kind == FileKind::Dir {
            if !entry.is_empty() {
                self.zip.add_dir(entry, info.mtime);
            }
            let children = self
                .conn
                .read_dir(p)
                .await
                .map_err(|e| format!("{p}: {e}"))?;
            for child in children {
                let cp = p.join(&child.name).map_err(|e| e.to_string())?;
                // Linked directories are left out: they could loop.
                if child.kind == FileKind::Symlink
                    && self
                        .conn
                        .stat(&cp)
                        .await
                        .is_ok_and(|i| i.kind == FileKind::Dir)
                {
                    continue;
                }
                Box::pin(self.add(&cp, depth + 1)).await?;
            }
            return self.flush().await;
        }
        if info.kind != FileKind::File {
            // Devices, FIFOs and sockets are left out (a FIFO would block the stream).
            return Ok(());
        }
        let t = self
            .conn
            .open_read(p)
            .await
            .map_err(|e| format!("{p}: {e}"))?;
        self.zip.start_file(entry, info.mtime, info.size);
        let mut offset = 0u64;
        while offset < info.size {
            let want = usize::try_from((info.size - offset).min(CHUNK as u64)).unwrap_or(CHUNK);
            let slice = self.buf.get_mut(..want).unwrap_or_default();
            let n = match t.read_at(slice, offset).await {
                Ok(0) => {
                    t.abort().await;
                    return Err(format!("{p}: the file shrank while being archived"));
                }
                Ok(n) => n,
                Err(e) => {
                    t.abort().await;
                    return Err(format!("{p}: {e}"));
                }
            };
            offset += n as u64;
            let data = self.buf.get(..n).unwrap_or_default();
            if let Err(e) = self.zip.write(data) {
                t.abort().await;
                return Err(e.to_string());
            }
            if let Err(e) = self.flush().await {
                t.abort().await;
                return Err(e);
            }
        }
        self.zip.finish_file();
        let _ = t.close().await;
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAsk::{Part, Unsatisfiable, Whole};
        assert_eq!(parse_range("bytes=0-9", 100), Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), Part(0, 99));
        assert_eq!(parse_range("bytes=50-500", 100), Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), Whole);
        assert_eq!(parse_range("bytes=9-1", 100), Whole);
        assert_eq!(parse_range("items=0-1", 100), Whole);
        assert_eq!(parse_range("bytes=x-", 100), Whole);
    }

    #[test]
    fn names_and_dates() {
        assert_eq!(upload_name("a/b/../c.txt").unwrap(), "c.txt");
        assert!(upload_name("x/..").is_err());
        assert!(upload_name("dir/").is_err());
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        let v = attachment("ré \"x\".txt");
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"r_ _x_.txt\"; filename*=UTF-8''r%C3%A9%20%22x%22.txt"
        );
        let p = |s: &str| VirtualPath::parse(s).unwrap();
        assert_eq!(zip_name("bob", &[p("/docs/a.tar.gz")]), "bob-a.tar.zip");
        assert_eq!(zip_name("bob", &[p("/a"), p("/b")]), "bob-download.zip");
    }
}
