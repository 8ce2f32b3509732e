//! Routing: `/healthz`, `/openapi/openapi.yaml`, and `/api/v2/...` with authentication
//! and the admin permission each endpoint needs (SFTPGo's matrix: user endpoints by
//! `view_users`/`add_users`/`edit_users`/`del_users`, groups by `manage_groups`,
//! folders by `manage_folders`, everything else administrative by `*`). A role admin
//! sees and manages only the users of its role.

pub mod connections;
pub mod crud;
pub mod defender;
pub mod events;
pub mod maintenance;
pub mod mfa;
pub mod openapi;
pub mod profile;
pub mod provider_events;
pub mod quotas;
pub mod shares;
pub mod user;

use std::net::IpAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, StatusCode};
use sftpgo_core::model::{
    Admin, ApiKey, EventAction, EventRule, Folder, Group, IpListEntry, Role, User,
};

use crate::HttpState;
use crate::auth::{admin_by_api_key, admin_by_password, basic_credentials};
use crate::jwt::rfc3339;
use crate::response::{ApiError, HttpResponse, json_response, message};
use crud::{Crud, parse_body, render};

/// One request, read.
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// Path, percent-decoded per segment by [`segments`].
    pub path: &'a str,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// The body, not read yet: handlers read it once the caller is authenticated.
    pub body: Option<Incoming>,
    /// Client address.
    pub ip: IpAddr,
    /// Client address and port.
    pub peer: std::net::SocketAddr,
}

/// Largest JSON request body read (objects are capped at 1 MiB by the catalog).
const MAX_BODY: usize = 2 << 20;
/// Largest dump accepted by `POST /api/v2/loaddata` (SFTPGo's limit).
const MAX_DUMP_BODY: usize = 20 << 20;

impl Request<'_> {
    /// Reads the whole body (2 MiB at most, 20 MiB for a dump; 413 beyond).
    pub async fn read_body(&mut self) -> Result<Bytes, ApiError> {
        let Some(body) = self.body.take() else {
            return Ok(Bytes::new());
        };
        let limit = if self.path == "/api/v2/loaddata" && self.method == Method::POST {
            MAX_DUMP_BODY
        } else {
            MAX_BODY
        };
        match Limited::new(body, limit).collect().await {
            Ok(b) => Ok(b.to_bytes()),
            Err(_) => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {limit} bytes"),
            )),
        }
    }

    /// The body as a stream, for uploads.
    pub fn take_body(&mut self) -> Result<Incoming, ApiError> {
        self.body
            .take()
            .ok_or_else(|| ApiError::bad_request("the request body was already read"))
    }
}

pub(crate) fn decode_segment(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ApiError::bad_request("invalid percent-encoding in the path"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("the path is not UTF-8"))
}

/// The decoded segments after `/api/v2/`.
pub fn segments(rest: &str) -> Result<Vec<String>, ApiError> {
    rest.split('/').map(decode_segment).collect()
}

/// Every route the router serves, as the OpenAPI document names them (paths relative to
/// `/api/v2`, except `/healthz`). The contract test checks both ways.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/token"),
    ("get", "/logout"),
    ("get", "/user/token"),
    ("get", "/user/logout"),
    ("get", "/user/shares"),
    ("post", "/user/shares"),
    ("get", "/user/shares/{id}"),
    ("put", "/user/shares/{id}"),
    ("delete", "/user/shares/{id}"),
    ("get", "/shares/{id}"),
    ("post", "/shares/{id}"),
    ("get", "/shares/{id}/dirs"),
    ("get", "/shares/{id}/files"),
    ("post", "/shares/{id}/{fileName}"),
    ("get", "/user/profile"),
    ("put", "/user/profile"),
    ("put", "/user/changepwd"),
    ("get", "/user/dirs"),
    ("post", "/user/dirs"),
    ("patch", "/user/dirs"),
    ("delete", "/user/dirs"),
    ("get", "/user/files"),
    ("post", "/user/files"),
    ("patch", "/user/files"),
    ("delete", "/user/files"),
    ("post", "/user/files/upload"),
    ("patch", "/user/files/metadata"),
    ("post", "/user/file-actions/copy"),
    ("post", "/user/file-actions/move"),
    ("post", "/user/streamzip"),
    ("get", "/admin/totp/configs"),
    ("post", "/admin/totp/generate"),
    ("post", "/admin/totp/validate"),
    ("post", "/admin/totp/save"),
    ("get", "/admin/2fa/recoverycodes"),
    ("post", "/admin/2fa/recoverycodes"),
    ("put", "/users/{username}/2fa/disable"),
    ("put", "/admins/{username}/2fa/disable"),
    ("get", "/user/totp/configs"),
    ("post", "/user/totp/generate"),
    ("post", "/user/totp/validate"),
    ("post", "/user/totp/save"),
    ("get", "/user/2fa/recoverycodes"),
    ("post", "/user/2fa/recoverycodes"),
    ("get", "/admin/profile"),
    ("put", "/admin/profile"),
    ("put", "/admin/changepwd"),
    ("get", "/version"),
    ("get", "/status"),
    ("get", "/defender/hosts"),
    ("get", "/defender/hosts/{id}"),
    ("delete", "/defender/hosts/{id}"),
    ("get", "/connections"),
    ("delete", "/connections/{connectionID}"),
    ("get", "/dumpdata"),
    ("get", "/loaddata"),
    ("post", "/loaddata"),
    ("get", "/quotas/users/scans"),
    ("post", "/quotas/users/{username}/scan"),
    ("get", "/quotas/folders/scans"),
    ("post", "/quotas/folders/{name}/scan"),
    ("put", "/quotas/users/{username}/usage"),
    ("put", "/quotas/users/{username}/transfer-usage"),
    ("put", "/quotas/folders/{name}/usage"),
    ("get", "/users"),
    ("post", "/users"),
    ("get", "/users/{username}"),
    ("put", "/users/{username}"),
    ("delete", "/users/{username}"),
    ("get", "/groups"),
    ("post", "/groups"),
    ("get", "/groups/{name}"),
    ("put", "/groups/{name}"),
    ("delete", "/groups/{name}"),
    ("get", "/folders"),
    ("post", "/folders"),
    ("get", "/folders/{name}"),
    ("put", "/folders/{name}"),
    ("delete", "/folders/{name}"),
    ("get", "/admins"),
    ("post", "/admins"),
    ("get", "/admins/{username}"),
    ("put", "/admins/{username}"),
    ("delete", "/admins/{username}"),
    ("get", "/roles"),
    ("post", "/roles"),
    ("get", "/roles/{name}"),
    ("put", "/roles/{name}"),
    ("delete", "/roles/{name}"),
    ("get", "/eventactions"),
    ("post", "/eventactions"),
    ("get", "/eventactions/{name}"),
    ("put", "/eventactions/{name}"),
    ("delete", "/eventactions/{name}"),
    ("get", "/eventrules"),
    ("post", "/eventrules"),
    ("get", "/eventrules/{name}"),
    ("put", "/eventrules/{name}"),
    ("delete", "/eventrules/{name}"),
    ("post", "/eventrules/run/{name}"),
    ("get", "/retention/users/checks"),
    ("get", "/apikeys"),
    ("post", "/apikeys"),
    ("get", "/apikeys/{id}"),
    ("put", "/apikeys/{id}"),
    ("delete", "/apikeys/{id}"),
    ("get", "/iplists/{type}"),
    ("post", "/iplists/{type}"),
    ("get", "/iplists/{type}/{ipornet}"),
    ("put", "/iplists/{type}/{ipornet}"),
    ("delete", "/iplists/{type}/{ipornet}"),
];

/// The OpenAPI document served at `/openapi/openapi.yaml`.
pub const OPENAPI: &str = include_str!("../../../openapi/openapi.yaml");

/// Serves one request.
pub async fn route(state: &HttpState, mut req: Request<'_>) -> Result<HttpResponse, ApiError> {
    if req.path == "/healthz" {
        return Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
        ));
    }
    if state.render_openapi
        && req.method == Method::GET
        && let Some(resp) = openapi::asset(req.path)
    {
        return Ok(resp);
    }
    let Some(rest) = req.path.strip_prefix("/api/v2/") else {
        return Err(ApiError::not_found());
    };
    let segs = segments(rest)?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if segs == ["token"] && req.method == Method::GET {
        return Ok(with_basic_challenge(token(state, &req).await));
    }
    if let ["user", rest @ ..] = segs.as_slice() {
        return user::route(state, rest, &mut req).await;
    }
    if let ["shares", id, rest @ ..] = segs.as_slice() {
        // Public: the share's password (if any) is the only credential.
        return Ok(with_basic_challenge(
            shares::public(state, id, rest, &mut req).await,
        ));
    }
    let (admin, bearer) = authenticate(state, &req).await?;
    let body = req.read_body().await?;
    // Until the password is changed, only changing it (and logging out) is allowed.
    let must_change = admin
        .filters
        .get("require_password_change")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if must_change && !matches!(segs.as_slice(), ["admin", "changepwd"] | ["logout"]) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a password change is required: use /api/v2/admin/changepwd",
        ));
    }
    let c = &state.catalog;
    let need = |perm: &str| {
        if admin.has_permission(perm) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    };
    let method = &req.method;
    let body = &body;
    let crud = |label| Crud { catalog: c, label };
    // Object changes are told to the Event Manager once they succeed (a deleted
    // object as it was before).
    let change = provider_events::change_of(method, &segs, body);
    let before = match &change {
        Some(ch) if *method == Method::DELETE && state.events.is_some() => {
            provider_events::object_json(state, ch.kind(), ch.name()).await
        }
        _ => None,
    };
    let result = match segs.as_slice() {
        ["version"] if *method == Method::GET => Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "build_date": "", "commit_hash": "", "features": []}),
        )),
        ["connections"] if *method == Method::GET => {
            need("view_conns")?;
            Ok(connections::list(state, &admin))
        }
        ["connections", id] if *method == Method::DELETE => {
            need("close_conns")?;
            connections::close(state, &admin, id)
        }
        ["defender", "hosts"] if *method == Method::GET => {
            need("view_defender")?;
            Ok(defender::hosts(state))
        }
        ["defender", "hosts", id] if *method == Method::GET => {
            need("view_defender")?;
            defender::host(state, id)
        }
        ["defender", "hosts", id] if *method == Method::DELETE => {
            need("manage_defender")?;
            defender::delete(state, id)
        }
        ["status"] if *method == Method::GET => {
            need("view_status")?;
            maintenance::status(state).await
        }
        ["dumpdata"] if *method == Method::GET => {
            need("*")?;
            maintenance::dump(state, req.query).await
        }
        ["loaddata"] if *method == Method::GET => {
            need("*")?;
            maintenance::load(state, req.query, None).await
        }
        ["loaddata"] if *method == Method::POST => {
            need("*")?;
            maintenance::load(state, req.query, Some(body)).await
        }
        ["quotas", kind @ ("users" | "folders"), "scans"] if *method == Method::GET => {
            need("quota_scans")?;
            let kind = if *kind == "users" {
                sftpgo_core::store::Kind::User
            } else {
                sftpgo_core::store::Kind::Folder
            };
            quotas::scans(state, kind, &admin.role).await
        }
        ["quotas", "users", name, "scan"] if *method == Method::POST => {
            need("quota_scans")?;
            user_visible(c, &admin, name).await?;
            quotas::start_scan(state, sftpgo_core::store::Kind::User, name).await
        }
        ["quotas", "folders", name, "scan"] if *method == Method::POST => {
            need("quota_scans")?;
            quotas::start_scan(state, sftpgo_core::store::Kind::Folder, name).await
        }
        ["quotas", "users", name, what @ ("usage" | "transfer-usage")]
            if *method == Method::PUT =>
        {
            need("edit_users")?;
            user_visible(c, &admin, name).await?;
            if *what == "usage" {
                quotas::usage(state, sftpgo_core::store::Kind::User, name, req.query, body).await
            } else {
                quotas::transfer_usage(state, name, req.query, body).await
            }
        }
        ["quotas", "folders", name, "usage"] if *method == Method::PUT => {
            need("manage_folders")?;
            quotas::usage(
                state,
                sftpgo_core::store::Kind::Folder,
                name,
                req.query,
                body,
            )
            .await
        }
        ["admin", area @ ("totp" | "2fa"), op] => {
            // Account changes need a token, not an API key.
            bearer.as_ref().ok_or_else(ApiError::forbidden)?;
            mfa::serve::<Admin>(state, &[area, op], method, &admin.username, body).await
        }
        ["users", name, "2fa", "disable"] if *method == Method::PUT => {
            need("disable_mfa")?;
            user_visible(c, &admin, name).await?;
            mfa::disable::<User>(state, name).await
        }
        ["admins", name, "2fa", "disable"] if *method == Method::PUT => {
            need("*")?;
            mfa::disable::<Admin>(state, name).await
        }
        ["admin", "profile"] if *method == Method::GET => Ok(profile::get(&admin)),
        ["admin", "profile"] if *method == Method::PUT => {
            bearer.as_ref().ok_or_else(ApiError::forbidden)?;
            profile::update(state, &admin, body).await
        }
        ["admin", "changepwd"] if *method == Method::PUT => {
            bearer.as_ref().ok_or_else(ApiError::forbidden)?;
            profile::change_password(state, &admin, body).await
        }
        ["logout"] if *method == Method::GET => {
            let claims = bearer.ok_or_else(ApiError::unauthorized)?;
            state.tokens.revoke(&claims);
            Ok(message("Your token has been invalidated"))
        }
        ["users", rest @ ..] => {
            let key = one_key(rest)?;
            let kept;
            let body = if matches!(*method, Method::POST | Method::PUT) {
                kept = mfa::keep_two_factor::<User>(state, key, body).await?;
                &kept
            } else {
                body
            };
            need(match (method, key) {
                (&Method::GET, _) => "view_users",
                (&Method::POST, None) => "add_users",
                (&Method::PUT, Some(_)) => "edit_users",
                (&Method::DELETE, Some(_)) => "del_users",
                _ => "*",
            })?;
            if admin.role.is_empty() {
                crud("User")
                    .serve::<User>(method, key, req.query, body)
                    .await
            } else {
                users_of_role(state, &admin.role, method, key, &req, body).await
            }
        }
        ["groups", rest @ ..] => {
            need("manage_groups")?;
            crud("Group")
                .serve::<Group>(method, one_key(rest)?, req.query, body)
                .await
        }
        ["folders", rest @ ..] => {
            need("manage_folders")?;
            crud("Folder")
                .serve::<Folder>(method, one_key(rest)?, req.query, body)
                .await
        }
        ["admins", rest @ ..] => {
            need("*")?;
            let key = one_key(rest)?;
            let kept;
            let body = if matches!(*method, Method::POST | Method::PUT) {
                kept = mfa::keep_two_factor::<Admin>(state, key, body).await?;
                &kept
            } else {
                body
            };
            crud("Admin")
                .serve::<Admin>(method, key, req.query, body)
                .await
        }
        ["roles", rest @ ..] => {
            need("*")?;
            crud("Role")
                .serve::<Role>(method, one_key(rest)?, req.query, body)
                .await
        }
        ["eventactions", rest @ ..] => {
            need("*")?;
            crud("Event action")
                .serve::<EventAction>(method, one_key(rest)?, req.query, body)
                .await
        }
        ["eventrules", "run", name] if *method == Method::POST => {
            need("*")?;
            events::run(state, name).await
        }
        ["retention", "users", "checks"] if *method == Method::GET => {
            need("*")?;
            events::retention_checks(state)
        }
        ["eventrules", rest @ ..] => {
            need("*")?;
            crud("Event rule")
                .serve::<EventRule>(method, one_key(rest)?, req.query, body)
                .await
        }
        ["apikeys", ..] if bearer.is_none() => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "API keys cannot manage API keys: use a token",
        )),
        ["apikeys"] if *method == Method::POST => {
            need("*")?;
            let key: ApiKey = parse_body(body, None)?;
            let created = c.add_api_key(&key).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &serde_json::json!({
                    "message": "API key created. This is the only time the API key is visible, please save it.",
                    "key": created.key,
                }),
            ))
        }
        ["apikeys", rest @ ..] => {
            need("*")?;
            crud("API key")
                .serve::<ApiKey>(method, one_key(rest)?, req.query, body)
                .await
        }
        ["iplists", list_type, rest @ ..] => {
            need("*")?;
            ip_list(state, list_type, rest, &req, body).await
        }
        _ => Err(ApiError::not_found()),
    };
    let succeeded = matches!(&result, Ok(resp) if resp.status().is_success());
    if let Some(change) = change.filter(|_| succeeded) {
        provider_events::announce(state, &admin, req.ip, change, before).await;
    }
    result
}

/// 404 unless `admin` may see user `name` (a role admin sees only its role's users).
async fn user_visible(
    c: &sftpgo_core::catalog::Catalog,
    admin: &Admin,
    name: &str,
) -> Result<(), ApiError> {
    if admin.role.is_empty() {
        return Ok(());
    }
    let of_role = c
        .get_lean::<User>(name)
        .await?
        .is_some_and(|u| u.role == admin.role);
    if of_role {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// A 401 from a Basic-auth endpoint carries the challenge some clients wait for.
fn with_basic_challenge(result: Result<HttpResponse, ApiError>) -> HttpResponse {
    let mut resp = result.unwrap_or_else(ApiError::into_response);
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"SFTPGo\""),
        );
    }
    resp
}

fn one_key<'a>(rest: &[&'a str]) -> Result<Option<&'a str>, ApiError> {
    match rest {
        [] => Ok(None),
        [key] if !key.is_empty() => Ok(Some(key)),
        _ => Err(ApiError::not_found()),
    }
}

/// `GET /api/v2/token`: Basic auth → `{access_token, expires_at}`.
async fn token(state: &HttpState, req: &Request<'_>) -> Result<HttpResponse, ApiError> {
    let (user, pass) = basic_credentials(req.headers).ok_or_else(ApiError::unauthorized)?;
    let admin = admin_by_password(
        &state.catalog,
        &state.admin_passwords,
        &state.defender,
        &user,
        &pass,
        req.ip,
    )
    .await?;
    if crate::auth::totp_enabled(&admin.filters) {
        mfa::check_otp(state, &admin.filters, req.headers, &admin.username, req.ip).await?;
    }
    // Only now is the login a success (a right password with a wrong passcode must
    // not answer sooner than a wrong password).
    state.defender.delay_login(true).await;
    let (token, exp) = state.tokens.issue(
        &admin.username,
        crate::auth::API_AUDIENCE,
        req.ip,
        admin.updated_at,
    );
    state
        .catalog
        .update_counters(
            sftpgo_core::store::Kind::Admin,
            &admin.username,
            &[(
                sftpgo_core::store::Counter::LastUse,
                sftpgo_core::store::CounterOp::Set(sftpgo_core::now_millis()),
            )],
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"access_token": token, "expires_at": rfc3339(exp)}),
    ))
}

/// The calling admin, from a Bearer token or an API key; the token's claims if any.
async fn authenticate(
    state: &HttpState,
    req: &Request<'_>,
) -> Result<(Admin, Option<crate::jwt::Claims>), ApiError> {
    if let Some(claims) = state
        .tokens
        .bearer(req.headers, crate::auth::API_AUDIENCE, req.ip)?
    {
        let admin = state
            .catalog
            .get::<Admin>(&claims.username)
            .await?
            .filter(|a| crate::auth::admin_may_connect(a, req.ip))
            .ok_or_else(ApiError::unauthorized)?;
        state.tokens.check_signature(&claims, admin.updated_at)?;
        return Ok((admin, Some(claims)));
    }
    match admin_by_api_key(&state.catalog, req.headers, req.ip).await? {
        Some(admin) => Ok((admin, None)),
        None => Err(ApiError::unauthorized()),
    }
}

/// User endpoints for an admin bound to `role`: only that role's users exist for it,
/// and users it creates get its role.
async fn users_of_role(
    state: &HttpState,
    role: &str,
    method: &Method,
    key: Option<&str>,
    req: &Request<'_>,
    body: &Bytes,
) -> Result<HttpResponse, ApiError> {
    let c = &state.catalog;
    if let Some(k) = key {
        let visible = c.get::<User>(k).await?.is_some_and(|u| u.role == role);
        if !visible {
            return Err(ApiError::not_found());
        }
    }
    match (method, key) {
        (&Method::GET, None) => {
            let q = crud::list_query(req.query)?;
            let all = c
                .list::<User>(sftpgo_core::store::ListQuery::default())
                .await?;
            let mine: Vec<&User> = all.iter().filter(|u| u.role == role).collect();
            let page: Vec<_> = crud::page(mine, q).into_iter().map(render).collect();
            Ok(json_response(StatusCode::OK, &page))
        }
        (&Method::POST, None) => {
            let mut user: User = parse_body(body, None)?;
            user.role = role.to_string();
            let created = c.add(&user).await?;
            Ok(json_response(StatusCode::CREATED, &render(&created)))
        }
        (&Method::PUT, Some(k)) => {
            let mut user: User = parse_body(body, Some(k))?;
            user.role = role.to_string();
            c.update(&user).await?;
            Ok(message("User updated"))
        }
        _ => {
            Crud {
                catalog: c,
                label: "User",
            }
            .serve::<User>(method, key, req.query, body)
            .await
        }
    }
}

/// `/api/v2/iplists/{type}[/{ipornet}]`.
async fn ip_list(
    state: &HttpState,
    list_type: &str,
    rest: &[&str],
    req: &Request<'_>,
    body: &Bytes,
) -> Result<HttpResponse, ApiError> {
    let t: i32 = list_type
        .parse()
        .ok()
        .filter(|t| (1..=3).contains(t))
        .ok_or_else(|| ApiError::bad_request(format!("invalid IP list type {list_type:?}")))?;
    let c = &state.catalog;
    let crud = Crud {
        catalog: c,
        label: "IP list entry",
    };
    match (&req.method, rest) {
        (&Method::GET, []) => {
            let q = crud::list_query(req.query)?;
            // SFTPGo's keyset paging: `filter` is a prefix of `ipornet`, `from` the last
            // `ipornet` seen (entries after it in the requested order).
            let filter = maintenance::query_param(req.query, "filter")?.unwrap_or_default();
            let from = maintenance::query_param(req.query, "from")?.unwrap_or_default();
            let all = c
                .list::<IpListEntry>(sftpgo_core::store::ListQuery::default())
                .await?;
            let mut of_type: Vec<&IpListEntry> = all
                .iter()
                .filter(|e| e.list_type == t && e.ipornet.starts_with(&filter))
                .collect();
            of_type.sort_by(|a, b| a.ipornet.cmp(&b.ipornet));
            if !from.is_empty() {
                of_type.retain(|e| {
                    if q.descending {
                        e.ipornet < from
                    } else {
                        e.ipornet > from
                    }
                });
            }
            let page: Vec<_> = crud::page(of_type, q).into_iter().map(render).collect();
            Ok(json_response(StatusCode::OK, &page))
        }
        (&Method::POST, []) => {
            let mut entry: IpListEntry = parse_body(body, None)?;
            entry.list_type = t;
            c.add(&entry).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &serde_json::json!({"message": "Entry added"}),
            ))
        }
        (method, [net]) => {
            let key = format!(
                "{t}:{}",
                sftpgo_core::model::ip_list::parse_cidr(net).map_err(ApiError::bad_request)?
            );
            match *method {
                Method::PUT => {
                    let mut entry: IpListEntry = parse_body(body, None)?;
                    entry.list_type = t;
                    entry.ipornet = (*net).to_string();
                    c.update(&entry).await?;
                    Ok(message("Entry updated"))
                }
                _ => {
                    crud.serve::<IpListEntry>(method, Some(&key), req.query, body)
                        .await
                }
            }
        }
        _ => Err(ApiError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// (method, path) pairs of the OpenAPI document, read from its layout: paths are
    /// indented two spaces under `paths:`, operations four.
    fn documented() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        let mut in_paths = false;
        let mut path = String::new();
        for line in super::OPENAPI.lines() {
            if !line.starts_with(' ') {
                in_paths = line == "paths:";
                continue;
            }
            if !in_paths {
                continue;
            }
            if let Some(p) = line.strip_prefix("  /") {
                path = format!("/{}", p.trim_end_matches(':'));
            } else if let Some(m) = line.strip_prefix("    ")
                && let Some(m) = m.strip_suffix(':')
                && ["get", "post", "put", "delete", "patch"].contains(&m)
            {
                out.insert((m.to_string(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn router_and_openapi_list_the_same_routes() {
        let routed: BTreeSet<(String, String)> = super::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_string(), (*p).to_string()))
            .collect();
        let documented = documented();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(missing.is_empty(), "routed but not documented: {missing:?}");
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    }
}
