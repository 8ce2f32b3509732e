//! A binding's `security` settings (SFTPGo's, after unrolled/secure): allowed hosts,
//! the redirect of plain HTTP to HTTPS, and security headers on every response (HSTS,
//! `nosniff`, CSP with a per-request nonce, permissions, cross-origin and referrer
//! policies, `Cache-Control: private`). Off unless `enabled`.

use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

/// A `{key, value}` header pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderPair {
    /// Header name.
    pub key: String,
    /// Value it must have.
    pub value: String,
}

/// `bindings[].security`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Apply what follows.
    pub enabled: bool,
    /// Hosts (`host` or `host:port`, as the client sends them) requests may name;
    /// empty: any.
    pub allowed_hosts: Vec<String>,
    /// `allowed_hosts` are regular expressions matching the whole host.
    pub allowed_hosts_are_regex: bool,
    /// Headers a trusted proxy names the original host in (the first non-empty one
    /// wins over `Host`).
    pub hosts_proxy_headers: Vec<String>,
    /// Redirect plain HTTP requests to HTTPS (307).
    pub https_redirect: bool,
    /// Host of the redirect; empty: the request's.
    pub https_host: String,
    /// Headers (and values) by which a trusted proxy says the client used HTTPS (for
    /// HSTS).
    pub https_proxy_headers: Vec<HeaderPair>,
    /// `Strict-Transport-Security` max-age on HTTPS responses; 0: no header.
    pub sts_seconds: i64,
    /// HSTS `includeSubDomains`.
    pub sts_include_subdomains: bool,
    /// HSTS `preload`.
    pub sts_preload: bool,
    /// `X-Content-Type-Options: nosniff`.
    pub content_type_nosniff: bool,
    /// `Content-Security-Policy`; `$NONCE` becomes a fresh `'nonce-…'` per response.
    pub content_security_policy: String,
    /// `Permissions-Policy`.
    pub permissions_policy: String,
    /// `Cross-Origin-Opener-Policy`.
    pub cross_origin_opener_policy: String,
    /// `Cross-Origin-Resource-Policy`.
    pub cross_origin_resource_policy: String,
    /// `Cross-Origin-Embedder-Policy`.
    pub cross_origin_embedder_policy: String,
    /// `Referrer-Policy`.
    pub referrer_policy: String,
    /// `private`: responses are not to be cached anywhere; other values: nothing.
    pub cache_control: String,
}

/// A binding's security settings, ready to apply.
#[derive(Debug, Default)]
pub struct Security {
    cfg: SecurityConfig,
    hosts: Vec<regex_lite::Regex>,
}

/// What a request looks like to the security checks.
pub struct RequestView<'a> {
    /// Its headers (proxy headers from untrusted peers already removed).
    pub headers: &'a HeaderMap,
    /// Path and query.
    pub path_and_query: &'a str,
    /// Over TLS.
    pub tls: bool,
    /// From a trusted proxy.
    pub trusted_proxy: bool,
}

/// What to do with a request.
pub enum Verdict {
    /// Serve it.
    Serve,
    /// Refuse it (a host not allowed).
    Refuse,
    /// Redirect it to this HTTPS URL.
    Redirect(String),
}

impl SecurityConfig {
    /// Checks values serde cannot (the host expressions compile).
    pub fn validate(&self, at: &str) -> Result<(), String> {
        Security::new(self.clone())
            .map(|_| ())
            .map_err(|e| format!("{at}.security: {e}"))
    }
}

impl Security {
    /// Compiles `cfg`.
    pub fn new(cfg: SecurityConfig) -> Result<Self, String> {
        let hosts = if cfg.enabled && cfg.allowed_hosts_are_regex {
            cfg.allowed_hosts
                .iter()
                .map(|h| {
                    regex_lite::Regex::new(&format!("^(?:{h})$"))
                        .map_err(|e| format!("allowed_hosts: {h:?}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        Ok(Self { cfg, hosts })
    }

    /// Whether the checks apply.
    pub fn enabled(&self) -> bool {
        self.cfg.enabled
    }

    /// Drops the proxy headers a peer that is not a trusted proxy sent: only trusted
    /// proxies may name the host or the scheme.
    pub fn strip_untrusted(&self, headers: &mut HeaderMap) {
        if !self.cfg.enabled {
            return;
        }
        for h in &self.cfg.hosts_proxy_headers {
            headers.remove(h.as_str());
        }
        for h in &self.cfg.https_proxy_headers {
            headers.remove(h.key.as_str());
        }
    }

    fn host<'a>(&self, headers: &'a HeaderMap) -> &'a str {
        self.cfg
            .hosts_proxy_headers
            .iter()
            .filter_map(|h| headers.get(h.as_str()).and_then(|v| v.to_str().ok()))
            .find(|v| !v.is_empty())
            .or_else(|| {
                headers
                    .get(hyper::header::HOST)
                    .and_then(|v| v.to_str().ok())
            })
            .unwrap_or_default()
    }

    /// The allowed-hosts check, then the HTTPS redirect.
    pub fn check(&self, req: &RequestView<'_>) -> Verdict {
        if !self.cfg.enabled {
            return Verdict::Serve;
        }
        let host = self.host(req.headers);
        if !self.cfg.allowed_hosts.is_empty() {
            let allowed = if self.cfg.allowed_hosts_are_regex {
                self.hosts.iter().any(|r| r.is_match(host))
            } else {
                self.cfg
                    .allowed_hosts
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(host))
            };
            if !allowed {
                return Verdict::Refuse;
            }
        }
        let forwarded_https = req.trusted_proxy
            && req
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes() == b"https");
        if self.cfg.https_redirect
            && !req.tls
            && !forwarded_https
            && !req
                .path_and_query
                .starts_with("/.well-known/acme-challenge/")
        {
            let target = if self.cfg.https_host.is_empty() {
                host
            } else {
                &self.cfg.https_host
            };
            return Verdict::Redirect(format!("https://{target}{}", req.path_and_query));
        }
        Verdict::Serve
    }

    /// Adds the configured headers to a response of `req`.
    pub fn decorate(&self, req: &RequestView<'_>, out: &mut HeaderMap) {
        let c = &self.cfg;
        if !c.enabled {
            return;
        }
        let ssl = req.tls
            || c.https_proxy_headers.iter().any(|p| {
                req.headers
                    .get(p.key.as_str())
                    .is_some_and(|v| v.as_bytes() == p.value.as_bytes())
            });
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                out.insert(HeaderName::from_static(name), v);
            }
        };
        if c.sts_seconds > 0 && ssl {
            let mut v = format!("max-age={}", c.sts_seconds);
            if c.sts_include_subdomains {
                v.push_str("; includeSubDomains");
            }
            if c.sts_preload {
                v.push_str("; preload");
            }
            set("strict-transport-security", v);
        }
        if c.content_type_nosniff {
            set("x-content-type-options", "nosniff".into());
        }
        if !c.content_security_policy.is_empty() {
            let policy = if c.content_security_policy.contains("$NONCE") {
                use base64::Engine as _;
                let mut raw = [0u8; 16];
                rand::fill(&mut raw);
                let nonce = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
                c.content_security_policy
                    .replace("$NONCE", &format!("'nonce-{nonce}'"))
            } else {
                c.content_security_policy.clone()
            };
            set("content-security-policy", policy);
        }
        for (name, value) in [
            ("permissions-policy", &c.permissions_policy),
            ("cross-origin-opener-policy", &c.cross_origin_opener_policy),
            (
                "cross-origin-resource-policy",
                &c.cross_origin_resource_policy,
            ),
            (
                "cross-origin-embedder-policy",
                &c.cross_origin_embedder_policy,
            ),
            ("referrer-policy", &c.referrer_policy),
        ] {
            if !value.is_empty() {
                set(name, value.clone());
            }
        }
        if c.cache_control == "private" {
            set(
                "cache-control",
                "no-cache, no-store, max-age=0, must-revalidate, private".into(),
            );
        }
    }
}

/// The response to a refused host.
pub fn refused() -> crate::response::HttpResponse {
    crate::response::ApiError::new(StatusCode::FORBIDDEN, "Forbidden").into_response()
}

/// The redirect to `url`.
pub fn redirect(url: &str) -> crate::response::HttpResponse {
    let mut resp = hyper::Response::new(crate::response::full(bytes::Bytes::new()));
    *resp.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(url) {
        resp.headers_mut().insert(hyper::header::LOCATION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(headers: &'a HeaderMap, tls: bool) -> RequestView<'a> {
        RequestView {
            headers,
            path_and_query: "/api/v2/token?x=1",
            tls,
            trusted_proxy: false,
        }
    }

    #[test]
    fn hosts_redirects_and_headers() {
        let sec = Security::new(SecurityConfig {
            enabled: true,
            allowed_hosts: vec!["files\\.example\\.com(:\\d+)?".into()],
            allowed_hosts_are_regex: true,
            https_redirect: true,
            sts_seconds: 60,
            sts_preload: true,
            content_security_policy: "script-src $NONCE".into(),
            cache_control: "private".into(),
            ..SecurityConfig::default()
        })
        .unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", "evil.example.com".parse().unwrap());
        assert!(matches!(sec.check(&view(&h, true)), Verdict::Refuse));
        h.insert("host", "files.example.com:8080".parse().unwrap());
        match sec.check(&view(&h, false)) {
            Verdict::Redirect(u) => {
                assert_eq!(u, "https://files.example.com:8080/api/v2/token?x=1")
            }
            _ => panic!("plain HTTP is redirected"),
        }
        assert!(matches!(sec.check(&view(&h, true)), Verdict::Serve));
        let mut out = HeaderMap::new();
        sec.decorate(&view(&h, true), &mut out);
        assert_eq!(out["strict-transport-security"], "max-age=60; preload");
        let csp = out["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("script-src 'nonce-") && csp.ends_with('\''),
            "{csp}"
        );
        assert!(out["cache-control"].to_str().unwrap().ends_with("private"));
        let mut plain = HeaderMap::new();
        sec.decorate(&view(&h, false), &mut plain);
        assert!(
            plain.get("strict-transport-security").is_none(),
            "HSTS only over HTTPS"
        );
        assert!(
            Security::new(SecurityConfig {
                enabled: true,
                allowed_hosts: vec!["(".into()],
                allowed_hosts_are_regex: true,
                ..SecurityConfig::default()
            })
            .is_err()
        );
    }
}
