//! Responses: JSON bodies, and errors in SFTPGo's shape `{"error": ..., "message": ...}`
//! with the status codes SFTPGo uses. One place maps core error kinds to HTTP.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode, header};
use serde::Serialize;
use sftpgo_core::{Error, ErrorKind};

/// A response body: in memory, or streamed (file downloads, archives). A streamed
/// body that fails midway yields an error, and hyper aborts the connection, so the
/// client never takes a truncated file for a complete one.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// The response type of every handler.
pub type HttpResponse = Response<Body>;

/// A body held in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong (client-safe).
    pub error: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
        }
    }

    /// 400.
    pub fn bad_request(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    /// 403.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden")
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// The response.
    pub fn into_response(self) -> HttpResponse {
        let body = serde_json::json!({
            "error": self.error,
            "message": self.status.canonical_reason().unwrap_or_default(),
        });
        json_response(self.status, &body)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::InvalidInput | ErrorKind::Conflict => StatusCode::BAD_REQUEST,
            ErrorKind::AlreadyExists => StatusCode::CONFLICT,
            ErrorKind::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::Transient | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(sender = "httpd", error = %e.message, "request failed");
            return Self::new(status, "internal error");
        }
        Self::new(status, e.message)
    }
}

/// Parses a JSON request body into `T`; a 400 names the offending field.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("invalid field {}: {}", e.path(), e.inner())))
}

/// A JSON response.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// `{"message": ...}` with 200.
pub fn message(text: &str) -> HttpResponse {
    json_response(StatusCode::OK, &serde_json::json!({ "message": text }))
}

/// 429 for a request over a rate limit, with how long to wait (`Retry-After` in whole
/// seconds, `X-Retry-In` as a duration), as SFTPGo answers.
pub fn too_many_requests(wait: std::time::Duration) -> HttpResponse {
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("rate limit exceeded, wait {} ms", wait.as_millis()),
    )
    .into_response();
    let secs = wait.as_secs_f64().ceil().max(1.0);
    for (name, value) in [
        ("retry-after", format!("{secs}")),
        ("x-retry-in", format!("{:.3}s", wait.as_secs_f64())),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            resp.headers_mut()
                .insert(header::HeaderName::from_static(name), v);
        }
    }
    resp
}

/// Copies policy headers (CORS) into a response: `vary` values are appended, the
/// others replace what is there; values that are not valid header text are left out.
pub fn add_headers(headers: &mut hyper::HeaderMap, list: sftpgo_core::cors::CorsHeaders) {
    for (name, value) in list {
        let Ok(value) = hyper::header::HeaderValue::from_str(&value) else {
            continue;
        };
        if name == "vary" {
            headers.append(header::VARY, value);
        } else {
            headers.insert(name, value);
        }
    }
}
