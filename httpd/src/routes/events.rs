//! The Event Manager's endpoints besides CRUD: `POST /eventrules/run/{name}` (start an
//! on-demand rule) and `GET /retention/users/checks` (data retention checks running).

use hyper::StatusCode;

use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response};

fn manager(state: &HttpState) -> Result<&sftpgo_core::events::EventManager, ApiError> {
    state.events.as_deref().ok_or_else(ApiError::not_found)
}

/// `POST /api/v2/eventrules/run/{name}`: 202 once the rule's actions are started in
/// the background; their errors go to the log, not to the caller.
pub async fn run(state: &HttpState, name: &str) -> Result<HttpResponse, ApiError> {
    manager(state)?.run_on_demand(name).await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &serde_json::json!({"message": "Event rule started"}),
    ))
}

/// `GET /api/v2/retention/users/checks`.
pub fn retention_checks(state: &HttpState) -> Result<HttpResponse, ApiError> {
    let checks = manager(state)?.retention_checks().list();
    Ok(json_response(StatusCode::OK, &checks))
}
