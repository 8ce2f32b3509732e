//! Quota and transfer usage updates (`PUT /api/v2/quotas/...`): set (`mode=reset`, the
//! default) or add to (`mode=add`) the counters of a user or folder.

use serde::Deserialize;
use sftpgo_core::store::{Counter, CounterOp, Kind};

use super::maintenance::query_param;
use crate::HttpState;
use crate::response::{ApiError, HttpResponse, message, parse_json as parse};

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
