//! Cross-origin resource sharing (`httpd.cors`), with SFTPGo's keys and the behaviour
//! of the library SFTPGo uses: preflight requests from an allowed origin are answered
//! here (`options_success_status`, 204 by default) unless `options_passthrough`;
//! actual requests from an allowed origin get `Access-Control-Allow-Origin` and the
//! exposed headers. Origins may hold one `*` wildcard (`https://*.example.com`).

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};

/// `httpd.cors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Turns CORS handling on.
    pub enabled: bool,
    /// Origins allowed (empty or `*`: any).
    pub allowed_origins: Vec<String>,
    /// Methods allowed (empty: GET, POST, HEAD).
    pub allowed_methods: Vec<String>,
    /// Request headers allowed (empty: Accept, Content-Type, X-Requested-With; `*`: any).
    pub allowed_headers: Vec<String>,
    /// Response headers exposed to scripts.
    pub exposed_headers: Vec<String>,
    /// Allow credentials (cookies, Authorization).
    pub allow_credentials: bool,
    /// Seconds a preflight answer may be cached (0: not sent).
    pub max_age: i64,
    /// Pass preflight requests on to the API instead of answering them.
    pub options_passthrough: bool,
    /// Status of preflight answers (0: 204).
    pub options_success_status: u16,
    /// Answer `Access-Control-Request-Private-Network` preflights.
    pub allow_private_network: bool,
}

impl CorsConfig {
    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.options_success_status != 0
            && StatusCode::from_u16(self.options_success_status).is_err()
        {
            return Err("httpd.cors.options_success_status: not an HTTP status".into());
        }
        for o in &self.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(format!(
                    "httpd.cors.allowed_origins: {o:?} has more than one wildcard"
                ));
            }
        }
        Ok(())
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.allowed_origins.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match allowed.split_once('*') {
                None => allowed == origin,
                Some((pre, post)) => {
                    origin.len() >= pre.len() + post.len()
                        && origin.starts_with(pre)
                        && origin.ends_with(post)
                }
            }
        })
    }

    fn any_origin(&self) -> bool {
        self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o == "*")
    }

    fn method_allowed(&self, method: &str) -> bool {
        if method.eq_ignore_ascii_case("OPTIONS") {
            return true;
        }
        if self.allowed_methods.is_empty() {
            return ["GET", "POST", "HEAD"].contains(&method.to_ascii_uppercase().as_str());
        }
        self.allowed_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method))
    }

    fn headers_allowed(&self, requested: &str) -> bool {
        let defaults = ["accept", "content-type", "x-requested-with", "origin"];
        requested
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .all(|h| {
                if self.allowed_headers.is_empty() {
                    defaults.contains(&h.as_str())
                } else {
                    self.allowed_headers
                        .iter()
                        .any(|a| a == "*" || a.eq_ignore_ascii_case(&h))
                }
            })
    }

    fn allow_origin_value(&self, origin: &str) -> Option<HeaderValue> {
        if self.any_origin() && !self.allow_credentials {
            Some(HeaderValue::from_static("*"))
        } else {
            HeaderValue::from_str(origin).ok()
        }
    }

    /// The answer to a preflight request, or `None` when it is not one this layer
    /// answers (CORS off, not a preflight, or `options_passthrough`).
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<hyper::Response<()>> {
        if !self.enabled || *method != Method::OPTIONS || self.options_passthrough {
            return None;
        }
        let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
        let wanted = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
            .to_str()
            .ok()?;
        let mut resp = hyper::Response::new(());
        *resp.status_mut() = StatusCode::from_u16(self.options_success_status)
            .ok()
            .filter(|_| self.options_success_status != 0)
            .unwrap_or(StatusCode::NO_CONTENT);
        let h = resp.headers_mut();
        for v in [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ] {
            h.append(header::VARY, HeaderValue::from_static(v));
        }
        let requested_headers = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !self.origin_allowed(origin)
            || !self.method_allowed(wanted)
            || !self.headers_allowed(requested_headers)
        {
            // Answered without CORS headers: the browser refuses the real request.
            return Some(resp);
        }
        if let Some(v) = self.allow_origin_value(origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if let Ok(v) = HeaderValue::from_str(&wanted.to_ascii_uppercase()) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if !requested_headers.is_empty()
            && let Ok(v) = HeaderValue::from_str(requested_headers)
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if self.allow_credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if self.allow_private_network
            && headers
                .get("access-control-request-private-network")
                .is_some_and(|v| v == "true")
        {
            h.insert(
                "access-control-allow-private-network",
                HeaderValue::from_static("true"),
            );
        }
        if self.max_age > 0 {
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(self.max_age),
            );
        }
        Some(resp)
    }

    /// Adds the CORS headers of an actual request's response.
    pub fn decorate(&self, method: &Method, request: &HeaderMap, response: &mut HeaderMap) {
        if !self.enabled {
            return;
        }
        response.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = request.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
            return;
        };
        if !self.origin_allowed(origin) || !self.method_allowed(method.as_str()) {
            return;
        }
        if let Some(v) = self.allow_origin_value(origin) {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if !self.exposed_headers.is_empty()
            && let Ok(v) = HeaderValue::from_str(&self.exposed_headers.join(", "))
        {
            response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
        if self.allow_credentials {
            response.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> CorsConfig {
        CorsConfig {
            enabled: true,
            allowed_origins: vec![
                "https://app.example.com".into(),
                "https://*.corp.test".into(),
            ],
            allowed_methods: vec!["GET".into(), "PUT".into()],
            allowed_headers: vec!["Authorization".into(), "Content-Type".into()],
            exposed_headers: vec!["X-Object-ID".into()],
            allow_credentials: true,
            max_age: 600,
            ..CorsConfig::default()
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn preflights() {
        let c = cfg();
        let ok = c
            .preflight(
                &Method::OPTIONS,
                &headers(&[
                    ("origin", "https://x.corp.test"),
                    ("access-control-request-method", "put"),
                    ("access-control-request-headers", "authorization"),
                ]),
            )
            .unwrap();
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        let h = ok.headers();
        assert_eq!(h["access-control-allow-origin"], "https://x.corp.test");
        assert_eq!(h["access-control-allow-methods"], "PUT");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-max-age"], "600");
        let refused = c
            .preflight(
                &Method::OPTIONS,
                &headers(&[
                    ("origin", "https://evil.test"),
                    ("access-control-request-method", "GET"),
                ]),
            )
            .unwrap();
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        let bad_method = c
            .preflight(
                &Method::OPTIONS,
                &headers(&[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "DELETE"),
                ]),
            )
            .unwrap();
        assert!(
            bad_method
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert!(c.preflight(&Method::GET, &HeaderMap::new()).is_none());
        assert!(
            CorsConfig::default()
                .preflight(&Method::OPTIONS, &HeaderMap::new())
                .is_none()
        );
    }

    #[test]
    fn actual_requests() {
        let c = cfg();
        let mut out = HeaderMap::new();
        c.decorate(
            &Method::GET,
            &headers(&[("origin", "https://app.example.com")]),
            &mut out,
        );
        assert_eq!(
            out["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(out["access-control-expose-headers"], "X-Object-ID");
        let mut out = HeaderMap::new();
        c.decorate(
            &Method::GET,
            &headers(&[("origin", "https://example.com.evil")]),
            &mut out,
        );
        assert!(out.get("access-control-allow-origin").is_none());
        let any = CorsConfig {
            enabled: true,
            ..CorsConfig::default()
        };
        let mut out = HeaderMap::new();
        any.decorate(
            &Method::POST,
            &headers(&[("origin", "https://a.b")]),
            &mut out,
        );
        assert_eq!(out["access-control-allow-origin"], "*");
        assert!(cfg().validate().is_ok());
        assert!(
            CorsConfig {
                allowed_origins: vec!["https://*.*.x".into()],
                ..cfg()
            }
            .validate()
            .is_err()
        );
    }
}
