//! `/api/v2/defender/hosts` (`view_defender`) and `/api/v2/defender/hosts/{id}`
//! (`view_defender` to read, `manage_defender` to delete, which lifts a ban): the
//! defender's scored and banned hosts, ids being the hex encoding of the address text,
//! as SFTPGo has them.

use std::net::IpAddr;

use hyper::StatusCode;
use sftpgo_core::defender::DefenderEntry;

use crate::HttpState;
use crate::jwt::rfc3339;
use crate::response::{ApiError, HttpResponse, json_response, message};

fn render(e: &DefenderEntry) -> serde_json::Value {
    let ip = e.ip.to_string();
    let mut v = serde_json::json!({"id": hex::encode(ip.as_bytes()), "ip": ip});
    if e.score > 0 {
        v["score"] = e.score.into();
    }
    if e.ban_until > 0 {
        v["ban_time"] = rfc3339(e.ban_until / 1000).into();
    }
    v
}

fn ip_of(id: &str) -> Result<IpAddr, ApiError> {
    hex::decode(id)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::bad_request(format!("{id:?} is not a valid host id")))
}

/// `GET /defender/hosts`.
pub fn hosts(state: &HttpState) -> HttpResponse {
    let out: Vec<_> = state.defender.hosts().iter().map(render).collect();
    json_response(StatusCode::OK, &out)
}

/// `GET /defender/hosts/{id}`.
pub fn host(state: &HttpState, id: &str) -> Result<HttpResponse, ApiError> {
    let entry = state
        .defender
        .host(ip_of(id)?)
        .ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &render(&entry)))
}

/// `DELETE /defender/hosts/{id}`.
pub fn delete(state: &HttpState, id: &str) -> Result<HttpResponse, ApiError> {
    if state.defender.delete(ip_of(id)?) {
        Ok(message("OK"))
    } else {
        Err(ApiError::not_found())
    }
}
