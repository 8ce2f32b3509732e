//! Quotas (`/api/v2/quotas/...`): usage updates that set (`mode=reset`, the default) or
//! add to (`mode=add`) the counters of a user or folder, and quota scans that recount
//! them from the storage in the background.

use hyper::StatusCode;
use serde::Deserialize;
use sftpgo_core::model::User;
use sftpgo_core::quota::ScanTarget;
use sftpgo_core::store::{Counter, CounterOp, Kind};

use super::maintenance::query_param;
use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response, message, parse_json as parse};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Usage {
    used_quota_size: i64,
    used_quota_files: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TransferUsage {
    used_upload_data_transfer: i64,
    used_download_data_transfer: i64,
}

fn op(query: Option<&str>, v: i64) -> Result<CounterOp, ApiError> {
    if v < 0 {
        return Err(ApiError::bad_request("usage values cannot be negative"));
    }
    match query_param(query, "mode")?.as_deref().unwrap_or("reset") {
        "" | "reset" => Ok(CounterOp::Set(v)),
        "add" => Ok(CounterOp::Add(v)),
        other => Err(ApiError::bad_request(format!(
            "invalid mode {other:?} (reset or add)"
        ))),
    }
}

/// `PUT /quotas/users/{username}/usage` and `/quotas/folders/{name}/usage`.
pub async fn usage(
    state: &HttpState,
    kind: Kind,
    key: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let u: Usage = parse(body)?;
    refuse_during_scan(state, kind, key)?;
    let ops = [
        (Counter::Usage, op(query, u.used_quota_size)?),
        (Counter::Files, op(query, u.used_quota_files)?),
        (
            Counter::QuotaUpdate,
            CounterOp::Set(sftpgo_core::now_millis()),
        ),
    ];
    state.catalog.update_counters(kind, key, &ops).await?;
    Ok(message("Quota updated"))
}

/// `PUT /quotas/users/{username}/transfer-usage`.
pub async fn transfer_usage(
    state: &HttpState,
    username: &str,
    query: Option<&str>,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let u: TransferUsage = parse(body)?;
    let ops = [
        (
            Counter::UploadTransfer,
            op(query, u.used_upload_data_transfer)?,
        ),
        (
            Counter::DownloadTransfer,
            op(query, u.used_download_data_transfer)?,
        ),
    ];
    state
        .catalog
        .update_counters(Kind::User, username, &ops)
        .await?;
    Ok(message("Quota updated"))
}

fn target_of(kind: Kind) -> ScanTarget {
    if kind == Kind::Folder {
        ScanTarget::Folder
    } else {
        ScanTarget::User
    }
}

/// 409 while a scan of the same user or folder runs: its result would overwrite the
/// update.
pub fn refuse_during_scan(state: &HttpState, kind: Kind, key: &str) -> Result<(), ApiError> {
    // The name as stored (naming rules applied), as scans register it.
    let key = state.catalog.naming().convert(key);
    let running = state
        .scans
        .list(target_of(kind))
        .iter()
        .any(|s| s.name == key);
    if running {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "a quota scan is in progress, try again when it ends",
        ));
    }
    Ok(())
}

/// `GET /quotas/users/scans` (`[{username, start_time}]`, a role admin sees its role's
/// users) and `GET /quotas/folders/scans` (`[{name, start_time}]`).
pub async fn scans(state: &HttpState, kind: Kind, role: &str) -> Result<HttpResponse, ApiError> {
    let field = if kind == Kind::Folder {
        "name"
    } else {
        "username"
    };
    let mut out = Vec::new();
    for s in state.scans.list(target_of(kind)) {
        if kind == Kind::User && !role.is_empty() {
            let user = state.catalog.get_lean::<User>(&s.name).await?;
            if user.is_none_or(|u| u.role != role) {
                continue;
            }
        }
        out.push(serde_json::json!({field: s.name, "start_time": s.start_time}));
    }
    Ok(json_response(StatusCode::OK, &out))
}

/// `POST /quotas/users/{username}/scan` and `/quotas/folders/{name}/scan`: recounts in
/// the background (202 at once; 409 if one is running) and stores the result as the
/// used quota.
pub async fn start_scan(
    state: &HttpState,
    kind: Kind,
    key: &str,
) -> Result<HttpResponse, ApiError> {
    let factory = state
        .users
        .as_ref()
        .map(|u| u.opener.fs_factory().clone())
        .ok_or_else(ApiError::not_found)?;
    let scan = sftpgo_core::quota::prepare_scan(
        &state.catalog,
        factory.as_ref(),
        &state.scans,
        target_of(kind),
        key,
    )
    .await
    .map_err(|e| {
        if e.kind == sftpgo_core::ErrorKind::AlreadyExists {
            ApiError::new(StatusCode::CONFLICT, e.message)
        } else {
            e.into()
        }
    })?;
    let label = kind.label();
    let name = key.to_string();
    tokio::spawn(async move {
        if let Err(e) = scan.run().await {
            tracing::warn!(sender = "httpd", kind = label, name = %name, error = %e,
                "quota scan failed");
        }
    });
    Ok(json_response(
        StatusCode::ACCEPTED,
        &serde_json::json!({"message": "Scan started"}),
    ))
}
