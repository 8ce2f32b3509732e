//! `GET /api/v2/connections` (`view_conns`) and `DELETE /api/v2/connections/{id}`
//! (`close_conns`): the authenticated connections of every protocol and worker, from
//! the shared session registry. A role admin sees and closes only its role's users'.

use hyper::StatusCode;
use sftpgo_core::model::Admin;

use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response, message};

fn visible(admin: &Admin, role: &str) -> bool {
    admin.role.is_empty() || admin.role == role
}

/// `GET /connections`.
pub fn list(state: &HttpState, admin: &Admin) -> HttpResponse {
    let now = sftpgo_core::now_millis();
    let out: Vec<serde_json::Value> = state
        .sessions
        .list()
        .into_iter()
        .filter(|c| visible(admin, &c.role))
        .map(|c| {
            let mut v = serde_json::to_value(&c).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                m.insert("current_time".into(), now.into());
            }
            v
        })
        .collect();
    json_response(StatusCode::OK, &out)
}

/// `DELETE /connections/{id}`.
pub fn close(state: &HttpState, admin: &Admin, id: &str) -> Result<HttpResponse, ApiError> {
    let found = state
        .sessions
        .list()
        .into_iter()
        .any(|c| c.connection_id == id && visible(admin, &c.role));
    if !found || !state.sessions.close(id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("connection {id:?} not found"),
        ));
    }
    tracing::info!(sender = "httpd", admin = %admin.username, connection_id = id, "connection close requested");
    Ok(message("Connection closed"))
}
