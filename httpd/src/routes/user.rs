//! The user side, first part: `GET /api/v2/user/token` (Basic auth through the same
//! authenticator as SSH logins, protocol `HTTP`), and files through `core::Connection`
//! like every protocol: `GET|POST /user/dirs?path=` (list, create),
//! `GET|DELETE /user/files?path=` (download with one `Range`, delete) and
//! `POST /user/files/upload?path=` (the raw body, streamed; `X-SFTPGO-MTIME` in ms).

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{HeaderMap, StatusCode, header};
use sftpgo_core::auth::Authenticator;
use sftpgo_core::config::UploadMode;
use sftpgo_core::connection::{Connection, FsFactory, WriteOptions};
use sftpgo_core::model::User;
use sftpgo_vfs::{FileKind, SetAttrs};

use super::maintenance::query_param;
use crate::HttpState;
use crate::auth::basic_credentials;
use crate::jwt::rfc3339;
use crate::response::{ApiError, Body, HttpResponse, json_response, message};

/// Audience of user API tokens.
pub const USER_AUDIENCE: &str = "APIUser";

/// Size of each read of a download and of each streamed chunk.
const CHUNK: usize = 256 * 1024;

/// What the user side needs from the server.
pub struct UserApi {
    /// Password checks, account state, login cache.
    pub auth: Authenticator,
    /// Each user's storage.
    pub fs: Arc<dyn FsFactory>,
    /// `common.upload_mode`.
    pub upload_mode: UploadMode,
}

fn api(state: &HttpState) -> Result<&UserApi, ApiError> {
    state.users.as_ref().ok_or_else(ApiError::not_found)
}

/// `GET /api/v2/user/token`.
pub async fn token(state: &HttpState, headers: &HeaderMap) -> Result<HttpResponse, ApiError> {
    let users = api(state)?;
    let (name, pass) = basic_credentials(headers).ok_or_else(ApiError::unauthorized)?;
    let user = users
        .auth
        .password(&name, &pass, "HTTP")
        .await
        .map_err(|e| {
            tracing::warn!(sender = "httpd", username = %name, error = %e, "user login failed");
            ApiError::unauthorized()
        })?;
    let totp_http = user
        .filters
        .extra
        .get("totp_config")
        .filter(|t| t.get("enabled").and_then(serde_json::Value::as_bool) == Some(true))
        .and_then(|t| t.get("protocols"))
        .and_then(serde_json::Value::as_array)
        .is_some_and(|p| p.iter().any(|v| v == "HTTP"));
    if totp_http {
        // Fail closed: this server cannot check the one-time password yet.
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "two-factor authentication is not supported yet",
        ));
    }
    let (token, exp) = state.tokens.issue_for(&user.username, USER_AUDIENCE);
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"access_token": token, "expires_at": rfc3339(exp)}),
    ))
}

/// The connection of the user a Bearer token names, checked again on every call
/// (disabled, expired or HTTP-denied users are refused).
async fn connection(
    state: &HttpState,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<Connection, ApiError> {
    let users = api(state)?;
    let claims = state
        .tokens
        .bearer_for(headers, USER_AUDIENCE)
        .ok_or_else(ApiError::unauthorized)?;
    let user: User = users
        .auth
        .store()
        .login_user(&claims.sub)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(ApiError::unauthorized)?;
    if user.status != 1
        || user.is_expired(sftpgo_core::now_millis())
        || user.filters.denied_protocols.iter().any(|p| p == "HTTP")
    {
        return Err(ApiError::unauthorized());
    }
    let fs = users.fs.fs_for(&user)?;
    Ok(Connection::new(
        format!("HTTP_{}", sftpgo_core::catalog::random_id(12)),
        "HTTP",
        ip.to_string(),
        Arc::new(user),
        fs,
        users.upload_mode,
    ))
}

/// 403 when the user's WebClient options include `write-disabled` (SFTPGo applies it
/// to the user API too).
fn writable(conn: &Connection) -> Result<(), ApiError> {
    let disabled = conn
        .user()
        .filters
        .extra
        .get("web_client")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|l| l.iter().any(|v| v == "write-disabled"));
    if disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "write access is disabled for this user",
        ));
    }
    Ok(())
}

fn path_param(
    conn: &Connection,
    query: Option<&str>,
) -> Result<sftpgo_core::path::VirtualPath, ApiError> {
    let raw = query_param(query, "path")?.unwrap_or_else(|| "/".into());
    Ok(conn.resolve(&raw)?)
}

/// Go's `os.FileMode` bits, as SFTPGo reports `mode`.
fn go_mode(kind: FileKind, perm: u32) -> u64 {
    let type_bits: u64 = match kind {
        FileKind::Dir => 1 << 31,
        FileKind::Symlink => 1 << 27,
        _ => 0,
    };
    type_bits | u64::from(perm & 0o777)
}

/// `GET|POST /user/dirs`.
pub async fn dirs(
    state: &HttpState,
    method: &hyper::Method,
    headers: &HeaderMap,
    query: Option<&str>,
    ip: IpAddr,
) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, headers, ip).await?;
    let path = path_param(&conn, query)?;
    match *method {
        hyper::Method::GET => {
            let entries: Vec<serde_json::Value> = conn
                .read_dir(&path)
                .await?
                .into_iter()
                .map(|e| {
                    serde_json::json!({
                        "name": e.name,
                        "size": e.size,
                        "mode": go_mode(e.kind, e.perm),
                        "last_modified": rfc3339(e.mtime),
                    })
                })
                .collect();
            Ok(json_response(StatusCode::OK, &entries))
        }
        hyper::Method::POST => {
            writable(&conn)?;
            conn.mkdir(&path, 0o755).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &serde_json::json!({"message": "Directory created"}),
            ))
        }
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        )),
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes: the
/// inclusive range, or `None` when it cannot be satisfied.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

/// `GET|DELETE /user/files`.
pub async fn files(
    state: &HttpState,
    method: &hyper::Method,
    headers: &HeaderMap,
    query: Option<&str>,
    ip: IpAddr,
) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, headers, ip).await?;
    let path = path_param(&conn, query)?;
    match *method {
        hyper::Method::DELETE => {
            writable(&conn)?;
            conn.remove_file(&path).await?;
            Ok(message("File deleted"))
        }
        hyper::Method::GET => download(conn, &path, headers).await,
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        )),
    }
}

async fn download(
    conn: Connection,
    path: &sftpgo_core::path::VirtualPath,
    headers: &HeaderMap,
) -> Result<HttpResponse, ApiError> {
    let transfer = conn.open_read(path).await?;
    let size = transfer.stat().await?.size;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Some(None) => {
            let _ = transfer.close().await;
            let mut resp =
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "invalid range").into_response();
            if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let (mut tx, body) =
        http_body_util::channel::Channel::<Bytes, std::convert::Infallible>::new(4);
    tokio::spawn(async move {
        let mut offset = start;
        let mut buf = vec![0u8; CHUNK];
        while offset < end {
            let want = usize::try_from((end - offset).min(CHUNK as u64)).unwrap_or(CHUNK);
            let Some(slice) = buf.get_mut(..want) else {
                break;
            };
            match transfer.read_at(slice, offset).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = Bytes::copy_from_slice(slice.get(..n).unwrap_or_default());
                    if tx.send_data(chunk).await.is_err() {
                        break;
                    }
                    offset += n as u64;
                }
            }
        }
        let _ = transfer.close().await;
        drop(conn);
    });
    let body: Body = body.boxed_unsync();
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from(end - start),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = header::HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

/// `POST /user/files/upload?path=`: the request body is the file, written as it
/// arrives through the user's connection (quota, patterns, permissions and the upload
/// mode all apply).
pub async fn upload(
    state: &HttpState,
    headers: &HeaderMap,
    query: Option<&str>,
    ip: IpAddr,
    mut body: Incoming,
) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, headers, ip).await?;
    writable(&conn)?;
    let path = path_param(&conn, query)?;
    let opts = WriteOptions {
        truncate: true,
        create: true,
        ..WriteOptions::default()
    };
    let transfer = conn.open_write(&path, opts).await?;
    // The smaller of the user's limit and the server's (`httpd.max_upload_file_size`).
    let max = match (
        conn.user().filters.max_upload_file_size,
        state.max_upload_file_size,
    ) {
        (0, m) | (m, 0) => m,
        (a, b) => a.min(b),
    };
    let mut offset: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                transfer.abort().await;
                return Err(ApiError::bad_request(format!("upload interrupted: {e}")));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        offset += data.len() as u64;
        if max > 0 && offset > u64::try_from(max).unwrap_or(u64::MAX) {
            transfer.abort().await;
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the file is larger than the user's max_upload_file_size",
            ));
        }
        if let Err(e) = transfer.write_at(&data, offset - data.len() as u64).await {
            transfer.abort().await;
            return Err(e.into());
        }
    }
    if let Some(ms) = headers
        .get("x-sftpgo-mtime")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
    {
        let attrs = SetAttrs {
            times: Some((ms / 1000, ms / 1000)),
            ..SetAttrs::default()
        };
        // Only with the `chtimes` permission; otherwise ignored, as SFTPGo does.
        if conn.authorize_set_attrs(&path, &attrs).is_ok() {
            let _ = transfer.set_attrs(&attrs).await;
        }
    }
    transfer.close().await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({"message": "Upload completed"}),
    ))
}
