//! Cross-origin resource sharing policy for the HTTP front-ends (`httpd.cors`,
//! `webdavd.cors`), with SFTPGo's keys and the behaviour of the library SFTPGo uses:
//! preflight requests from an allowed origin are answered by the front-end
//! (`options_success_status`, 204 by default) unless `options_passthrough`; actual
//! requests from an allowed origin get `Access-Control-Allow-Origin` and the exposed
//! headers. Origins may hold one `*` wildcard (`https://*.example.com`).
//!
//! Headers go in and out as text, so the policy does not depend on an HTTP library;
//! each front-end copies [`CorsHeaders`] into its responses.

use serde::{Deserialize, Serialize};

/// `cors` of `httpd` and `webdavd`.
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
    /// Pass preflight requests on instead of answering them.
    pub options_passthrough: bool,
    /// Status of preflight answers (0: 204).
    pub options_success_status: u16,
    /// Answer `Access-Control-Request-Private-Network` preflights.
    pub allow_private_network: bool,
}

/// Response headers to add: lowercase names and their values. `vary` entries are
/// appended to what the response has; the others replace it.
pub type CorsHeaders = Vec<(&'static str, String)>;

/// A preflight answered by the front-end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// The response status.
    pub status: u16,
    /// Its headers.
    pub headers: CorsHeaders,
}

impl CorsConfig {
    /// Checks values serde cannot; `section` names the configuration section in errors.
    pub fn validate(&self, section: &str) -> Result<(), String> {
        if self.options_success_status != 0 && !(100..=599).contains(&self.options_success_status) {
            return Err(format!(
                "{section}.cors.options_success_status: not an HTTP status"
            ));
        }
        for o in &self.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(format!(
                    "{section}.cors.allowed_origins: {o:?} has more than one wildcard"
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

    fn allow_origin_value(&self, origin: &str) -> String {
        if self.any_origin() && !self.allow_credentials {
            "*".into()
        } else {
            origin.to_string()
        }
    }

    /// The answer to a preflight request, or `None` when it is not one the front-end
    /// answers (CORS off, not a preflight, or `options_passthrough`). `header` reads a
    /// request header by its lowercase name.
    pub fn preflight<'h>(
        &self,
        method: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Option<Preflight> {
        if !self.enabled || !method.eq_ignore_ascii_case("OPTIONS") || self.options_passthrough {
            return None;
        }
        let origin = header("origin")?;
        let wanted = header("access-control-request-method")?;
        let status = match self.options_success_status {
            0 => 204,
            s => s,
        };
        let mut headers: CorsHeaders = [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ]
        .iter()
        .map(|v| ("vary", (*v).to_string()))
        .collect();
        let requested_headers = header("access-control-request-headers").unwrap_or_default();
        if !self.origin_allowed(origin)
            || !self.method_allowed(wanted)
            || !self.headers_allowed(requested_headers)
        {
            // Answered without CORS headers: the browser refuses the real request.
            return Some(Preflight { status, headers });
        }
        headers.push((
            "access-control-allow-origin",
            self.allow_origin_value(origin),
        ));
        headers.push(("access-control-allow-methods", wanted.to_ascii_uppercase()));
        if !requested_headers.is_empty() {
            headers.push((
                "access-control-allow-headers",
                requested_headers.to_string(),
            ));
        }
        if self.allow_credentials {
            headers.push(("access-control-allow-credentials", "true".into()));
        }
        if self.allow_private_network
            && header("access-control-request-private-network") == Some("true")
        {
            headers.push(("access-control-allow-private-network", "true".into()));
        }
        if self.max_age > 0 {
            headers.push(("access-control-max-age", self.max_age.to_string()));
        }
        Some(Preflight { status, headers })
    }

    /// The CORS headers of an actual request's response: `method` and its `Origin`.
    pub fn decorate(&self, method: &str, origin: Option<&str>) -> CorsHeaders {
        if !self.enabled {
            return Vec::new();
        }
        let mut headers: CorsHeaders = vec![("vary", "Origin".into())];
        let Some(origin) = origin else {
            return headers;
        };
        if !self.origin_allowed(origin) || !self.method_allowed(method) {
            return headers;
        }
        headers.push((
            "access-control-allow-origin",
            self.allow_origin_value(origin),
        ));
        if !self.exposed_headers.is_empty() {
            headers.push((
                "access-control-expose-headers",
                self.exposed_headers.join(", "),
            ));
        }
        if self.allow_credentials {
            headers.push(("access-control-allow-credentials", "true".into()));
        }
        headers
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

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    fn get<'a>(headers: &'a CorsHeaders, name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn preflights() {
        let c = cfg();
        let ok = c
            .preflight(
                "OPTIONS",
                lookup(&[
                    ("origin", "https://x.corp.test"),
                    ("access-control-request-method", "put"),
                    ("access-control-request-headers", "authorization"),
                ]),
            )
            .unwrap();
        assert_eq!(ok.status, 204);
        let h = &ok.headers;
        assert_eq!(
            get(h, "access-control-allow-origin"),
            Some("https://x.corp.test")
        );
        assert_eq!(get(h, "access-control-allow-methods"), Some("PUT"));
        assert_eq!(get(h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(get(h, "access-control-max-age"), Some("600"));
        let refused = c
            .preflight(
                "OPTIONS",
                lookup(&[
                    ("origin", "https://evil.test"),
                    ("access-control-request-method", "GET"),
                ]),
            )
            .unwrap();
        assert_eq!(get(&refused.headers, "access-control-allow-origin"), None);
        let bad_method = c
            .preflight(
                "OPTIONS",
                lookup(&[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "DELETE"),
                ]),
            )
            .unwrap();
        assert_eq!(
            get(&bad_method.headers, "access-control-allow-origin"),
            None
        );
        assert!(c.preflight("GET", lookup(&[])).is_none());
        // A plain OPTIONS (WebDAV's capability probe) is not a preflight.
        assert!(
            c.preflight("OPTIONS", lookup(&[("origin", "https://app.example.com")]))
                .is_none()
        );
        assert!(
            CorsConfig::default()
                .preflight("OPTIONS", lookup(&[]))
                .is_none()
        );
    }

    #[test]
    fn actual_requests() {
        let c = cfg();
        let out = c.decorate("GET", Some("https://app.example.com"));
        assert_eq!(
            get(&out, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(
            get(&out, "access-control-expose-headers"),
            Some("X-Object-ID")
        );
        let out = c.decorate("GET", Some("https://example.com.evil"));
        assert_eq!(get(&out, "access-control-allow-origin"), None);
        assert_eq!(get(&out, "vary"), Some("Origin"));
        let any = CorsConfig {
            enabled: true,
            ..CorsConfig::default()
        };
        let out = any.decorate("POST", Some("https://a.b"));
        assert_eq!(get(&out, "access-control-allow-origin"), Some("*"));
        assert!(
            CorsConfig::default()
                .decorate("GET", Some("https://a.b"))
                .is_empty()
        );
        assert!(cfg().validate("httpd").is_ok());
        let two_wildcards = CorsConfig {
            allowed_origins: vec!["https://*.*.x".into()],
            ..cfg()
        };
        assert!(
            two_wildcards
                .validate("webdavd")
                .unwrap_err()
                .starts_with("webdavd.cors")
        );
        let bad_status = CorsConfig {
            options_success_status: 42,
            ..cfg()
        };
        assert!(bad_status.validate("httpd").is_err());
    }
}
