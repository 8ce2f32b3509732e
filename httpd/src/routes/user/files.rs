//! File-system operations of the user API that move no file data:
//! `/user/dirs` (list, create, rename, delete recursively), `PATCH|DELETE /user/files`
//! (rename, delete one file), `PATCH /user/files/metadata` (modification time) and
//! `/user/file-actions/copy|move`. Messages and status codes follow SFTPGo.

use hyper::{Method, StatusCode};
use serde::Deserialize;
use sftpgo_core::path::VirtualPath;
use sftpgo_vfs::{FileKind, SetAttrs};

use super::{
    bool_arg, connection, listing, make_parents, method_not_allowed, path_arg, required_path_arg,
    writable,
};
use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response, message};
use crate::routes::Request;
use crate::routes::maintenance::query_param;

/// `GET|POST|PATCH|DELETE /user/dirs`.
pub async fn dirs(state: &HttpState, req: &mut Request<'_>) -> Result<HttpResponse, ApiError> {
    match req.method {
        Method::GET => {
            let conn = connection(state, req).await?;
            let path = path_arg(req, "path")?;
            Ok(listing(conn.read_dir(&path).await?))
        }
        Method::POST => {
            let conn = connection(state, req).await?;
            writable(&conn)?;
            let path = path_arg(req, "path")?;
            if bool_arg(req, "mkdir_parents")? {
                make_parents(&conn, &path).await?;
            }
            conn.mkdir(&path, 0o755).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &serde_json::json!({"message": format!("Directory {:?} created", path.as_str())}),
            ))
        }
        Method::PATCH => rename(state, req).await,
        Method::DELETE => {
            let conn = connection(state, req).await?;
            writable(&conn)?;
            let path = path_arg(req, "path")?;
            conn.remove_all(&path).await?;
            Ok(message(&format!("Directory {:?} deleted", path.as_str())))
        }
        _ => Err(method_not_allowed()),
    }
}

/// `PATCH|DELETE /user/files` (GET and POST move data: see `transfer`).
pub async fn files(state: &HttpState, req: &mut Request<'_>) -> Result<HttpResponse, ApiError> {
    match req.method {
        Method::PATCH => rename(state, req).await,
        Method::DELETE => {
            let conn = connection(state, req).await?;
            writable(&conn)?;
            let path = path_arg(req, "path")?;
            if conn.lstat(&path).await?.kind == FileKind::Dir {
                return Err(ApiError::bad_request(format!(
                    "unable to delete {:?}: it is not a file or a symlink",
                    path.as_str()
                )));
            }
            conn.remove_file(&path).await?;
            Ok(message(&format!("File {:?} deleted", path.as_str())))
        }
        _ => Err(method_not_allowed()),
    }
}

/// `PATCH /user/{dirs,files}?path=&target=` and `POST /user/file-actions/move`.
pub async fn rename(state: &HttpState, req: &mut Request<'_>) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, req).await?;
    writable(&conn)?;
    let from = required_path_arg(req, "path")?;
    let to = required_path_arg(req, "target")?;
    if from == to {
        return Err(ApiError::bad_request(
            "the rename source and target cannot be the same",
        ));
    }
    conn.rename(&from, &to, true).await?;
    Ok(message(&format!(
        "{:?} renamed to {:?}",
        from.as_str(),
        to.as_str()
    )))
}

/// `POST /user/file-actions/copy?path=&target=`. As in SFTPGo, a `target` that is an
/// existing directory (or ends with `/`) receives the source under its own name; a
/// `path` ending with `/` copies onto `target` itself.
pub async fn copy(state: &HttpState, req: &mut Request<'_>) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, req).await?;
    writable(&conn)?;
    let raw_source = query_param(req.query, "path")?.unwrap_or_default();
    let raw_target = query_param(req.query, "target")?.unwrap_or_default();
    let src = required_path_arg(req, "path")?;
    let dst = required_path_arg(req, "target")?;
    if src == dst {
        return Err(ApiError::bad_request(
            "the copy source and target cannot be the same",
        ));
    }
    let info = conn.lstat(&src).await?;
    if info.kind == FileKind::Symlink {
        return Err(ApiError::bad_request("copying symlinks is not supported"));
    }
    let mut into_target = raw_target.ends_with('/');
    match conn.stat(&dst).await {
        Ok(d) if !raw_source.ends_with('/') => into_target = d.kind == FileKind::Dir,
        Ok(_) => {}
        Err(e) if e.kind == sftpgo_core::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let dest = if into_target {
        dst.join(src.name())?
    } else {
        dst.clone()
    };
    make_parents(&conn, &dest).await?;
    conn.copy(&src, &dest).await?;
    Ok(message(&format!(
        "{:?} copied to {:?}",
        src.as_str(),
        dest.as_str()
    )))
}

#[derive(Deserialize)]
struct Metadata {
    modification_time: i64,
}

/// `PATCH /user/files/metadata?path=` with `{"modification_time": <ms>}`.
pub async fn metadata(state: &HttpState, req: &mut Request<'_>) -> Result<HttpResponse, ApiError> {
    let conn = connection(state, req).await?;
    writable(&conn)?;
    let path: VirtualPath = required_path_arg(req, "path")?;
    let body = req.read_body().await?;
    let meta: Metadata = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("please set a modification_time in ms: {e}")))?;
    let secs = meta.modification_time.div_euclid(1000);
    let attrs = SetAttrs {
        times: Some((secs, secs)),
        ..SetAttrs::default()
    };
    conn.set_attrs(&path, &attrs, true).await?;
    Ok(message("OK"))
}
