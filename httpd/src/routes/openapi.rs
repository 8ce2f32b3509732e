//! The API's own description, when a binding has `render_openapi`:
//! `/openapi/openapi.yaml` (the contract), `/openapi/openapi.json` (the same as JSON)
//! and a viewer at `/openapi` (a page, its script and style from `web/openapi/`, no
//! third-party code) that renders the JSON.

use std::sync::OnceLock;

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderValue};

use super::OPENAPI;
use crate::response::{HttpResponse, full};

const PAGE: &str = include_str!("../../../web/openapi/index.html");
const SCRIPT: &str = include_str!("../../../web/openapi/viewer.js");
const STYLE: &str = include_str!("../../../web/openapi/viewer.css");

/// The contract as JSON, converted once.
fn json() -> Result<&'static str, &'static str> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    JSON.get_or_init(|| {
        serde_yaml_ng::from_str::<serde_json::Value>(OPENAPI)
            .map_err(|e| e.to_string())
            .and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string()))
    })
    .as_deref()
    .map_err(|_| "the OpenAPI document does not parse")
}

fn respond(status: StatusCode, mime: &'static str, body: &'static str) -> HttpResponse {
    let mut resp = hyper::Response::new(full(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    resp
}

/// The response for `path` if it is one of the description's.
pub fn asset(path: &str) -> Option<HttpResponse> {
    Some(match path {
        "/openapi" | "/openapi/" => respond(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/openapi/viewer.js" => respond(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
        "/openapi/viewer.css" => respond(StatusCode::OK, "text/css; charset=utf-8", STYLE),
        "/openapi/openapi.yaml" => respond(StatusCode::OK, "application/yaml", OPENAPI),
        "/openapi/openapi.json" => match json() {
            Ok(body) => respond(StatusCode::OK, "application/json", body),
            Err(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", e),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_converts_to_json() {
        let v: serde_json::Value = serde_json::from_str(super::json().unwrap()).unwrap();
        assert!(v["paths"].as_object().unwrap().len() > 50);
        assert_eq!(v["openapi"], "3.0.3");
    }
}
