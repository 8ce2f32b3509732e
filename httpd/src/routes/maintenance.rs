//! Maintenance endpoints: `status`, `dumpdata` and `loaddata` (SFTPGo's query
//! parameters: `output-file`, `output-data`, `indent`, `input-file`, `mode`). Files are
//! read and written only inside the backups directory: `output-file` is a relative
//! path in it, `input-file` a name or an absolute path that resolves into it.

use std::path::PathBuf;

use bytes::Bytes;
use hyper::StatusCode;
use sftpgo_core::dump::{Dump, LoadMode};

use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response, message};

/// The decoded value of `name` in a query string (`+` is a space, `%XX` a byte, as
/// form encoding has it); a value that does not decode is a 400.
pub fn query_param(query: Option<&str>, name: &str) -> Result<Option<String>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            return super::decode_segment(&v.replace('+', " ")).map(Some);
        }
    }
    Ok(None)
}

/// The backups directory, canonical.
fn backups_dir(state: &HttpState) -> Result<PathBuf, ApiError> {
    let dir = state
        .backups_dir
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("no backups directory is configured"))?;
    std::fs::create_dir_all(dir)
        .and_then(|()| dir.canonicalize())
        .map_err(|e| ApiError::new(hyper::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Where a dump named by a client is written: a relative path inside the backups
/// directory, without `..` or hidden components (SFTPGo's `output-file` rule).
fn output_file(state: &HttpState, name: &str) -> Result<PathBuf, ApiError> {
    let rel = std::path::Path::new(name);
    let ok = !name.is_empty()
        && !name.contains('\0')
        && rel.is_relative()
        && rel.components().all(|c| match c {
            std::path::Component::Normal(part) => !part.to_string_lossy().starts_with('.'),
            _ => false,
        });
    if !ok {
        return Err(ApiError::bad_request(format!(
            "invalid output-file {name:?}: a relative path inside the backups directory"
        )));
    }
    Ok(backups_dir(state)?.join(rel))
}

/// The dump a client names for `loaddata`: an absolute path (as SFTPGo takes it) or a
/// name, which must resolve, symlinks followed, inside the backups directory.
fn input_file(state: &HttpState, name: &str) -> Result<PathBuf, ApiError> {
    let dir = backups_dir(state)?;
    let given = std::path::Path::new(name);
    let path = if given.is_absolute() {
        given.to_path_buf()
    } else {
        dir.join(given)
    };
    let refused = || {
        ApiError::bad_request(format!(
            "invalid input-file {name:?}: a readable file inside the backups directory"
        ))
    };
    let real = path.canonicalize().map_err(|_| refused())?;
    if name.is_empty() || !real.starts_with(&dir) || !real.is_file() {
        return Err(refused());
    }
    Ok(real)
}

/// `GET /api/v2/status`.
pub async fn status(state: &HttpState) -> Result<HttpResponse, ApiError> {
    let mut status = state.status.clone();
    let provider_ok = state.catalog.configs().await;
    if let Some(map) = status.as_object_mut() {
        let entry = map
            .entry("data_provider".to_string())
            .or_insert_with(|| serde_json::json!({}));
        if let Some(dp) = entry.as_object_mut() {
            dp.insert("is_active".into(), provider_ok.is_ok().into());
            dp.insert(
                "error".into(),
                provider_ok
                    .err()
                    .map(|e| e.message)
                    .unwrap_or_default()
                    .into(),
            );
        }
    }
    Ok(json_response(StatusCode::OK, &status))
}

/// `GET /api/v2/dumpdata`.
pub async fn dump(state: &HttpState, query: Option<&str>) -> Result<HttpResponse, ApiError> {
    let dump = Dump::collect(&state.catalog).await?;
    let indent = query_param(query, "indent")?.as_deref() == Some("1");
    let bytes = if indent {
        serde_json::to_vec_pretty(&dump)
    } else {
        serde_json::to_vec(&dump)
    }
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if query_param(query, "output-data")?.as_deref() == Some("1") {
        let mut resp = hyper::Response::new(crate::response::full(bytes));
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        return Ok(resp);
    }
    let name = match query_param(query, "output-file")? {
        Some(n) if !n.is_empty() => n,
        _ => format!("backup_{}.json", sftpgo_core::now_millis()),
    };
    let path = output_file(state, &name)?;
    sftpgo_core::dump::write_private(&path, &bytes).map_err(|e| {
        tracing::error!(sender = "httpd", file = %path.display(), error = %e, "cannot write the dump");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot write the dump file")
    })?;
    tracing::info!(sender = "httpd", file = %path.display(), "dump written");
    Ok(message("Data saved"))
}

/// `GET /api/v2/loaddata?input-file=` and `POST /api/v2/loaddata` (the dump in the body).
pub async fn load(
    state: &HttpState,
    query: Option<&str>,
    body: Option<&Bytes>,
) -> Result<HttpResponse, ApiError> {
    let mode = match query_param(query, "mode")?.as_deref().unwrap_or("0") {
        "" | "0" => LoadMode::AddUpdate,
        "1" => LoadMode::AddOnly,
        "2" => LoadMode::AddUpdateDisconnect,
        other => return Err(ApiError::bad_request(format!("invalid mode {other:?}"))),
    };
    let bytes = match body {
        Some(b) => b.to_vec(),
        None => {
            let name = query_param(query, "input-file")?.unwrap_or_default();
            let path = input_file(state, &name)?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size > 20 << 20 {
                return Err(ApiError::bad_request(format!(
                    "the backup file {name:?} is larger than 20 MiB"
                )));
            }
            std::fs::read(&path).map_err(|_| {
                ApiError::bad_request(format!("cannot read the backup file {name:?}"))
            })?
        }
    };
    let dump = Dump::from_json(&bytes)?;
    let report = dump.load(&state.catalog, mode).await?;
    tracing::info!(
        sender = "httpd",
        added = report.added,
        updated = report.updated,
        skipped = report.skipped,
        "dump loaded through the API"
    );
    Ok(message("Data restored"))
}
