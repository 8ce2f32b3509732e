//! The user side of the REST API, `/api/v2/user/...`: tokens (Basic auth through the
//! same authenticator as SSH logins, protocol `HTTP`), user-scoped API keys, the
//! account ([`account`]: profile, password) and files ([`files`], [`transfer`]).
//!
//! Every file operation goes through a `core::Connection`, like every protocol, so
//! permissions, patterns, root confinement, quotas, the upload mode and group settings
//! apply exactly as for SFTP. Paths are resolved from `/`, as SFTPGo does.

mod account;
mod files;
pub(super) mod transfer;

use std::net::IpAddr;
use std::sync::Arc;

use hyper::{Method, StatusCode};
use sftpgo_core::auth::{Authenticator, Client, LoginMethod};
use sftpgo_core::connection::{Connection, Opener};
use sftpgo_core::defender::HostEvent;
use sftpgo_core::model::User;
use sftpgo_core::path::VirtualPath;
use sftpgo_core::sessions::{Activity, Closer, NewConnection, SessionGuard};
use sftpgo_vfs::FileKind;

use super::Request;
use super::maintenance::query_param;
use crate::HttpState;
use crate::auth::{api_key_principal, basic_credentials};
use crate::jwt::rfc3339;
use crate::response::{ApiError, HttpResponse, json_response, message};

/// Audience of user API tokens.
pub const USER_AUDIENCE: &str = "APIUser";

/// What the user side needs from the server.
pub struct UserApi {
    /// Password checks, account state, login cache.
    pub auth: Authenticator,
    /// Opens each user's session: storage, upload mode, quota.
    pub opener: Arc<Opener>,
}

pub(super) fn api(state: &HttpState) -> Result<&UserApi, ApiError> {
    state.users.as_ref().ok_or_else(ApiError::not_found)
}

fn http_client(ip: IpAddr) -> Client<'static> {
    Client {
        protocol: "HTTP",
        ip,
    }
}

/// Serves `/api/v2/user/<segs>`.
pub async fn route(
    state: &HttpState,
    segs: &[&str],
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let method = req.method.clone();
    match (segs, &method) {
        (["token"], &Method::GET) => Ok(super::with_basic_challenge(token(state, req).await)),
        (["logout"], &Method::GET) => {
            let claims = state
                .tokens
                .bearer(req.headers, USER_AUDIENCE, req.ip)?
                .ok_or_else(ApiError::unauthorized)?;
            state.tokens.revoke(&claims);
            Ok(message("Your token has been invalidated"))
        }
        (["profile"], &Method::GET) => account::profile(state, req).await,
        (["profile"], &Method::PUT) => account::update_profile(state, req).await,
        (["changepwd"], &Method::PUT) => account::change_password(state, req).await,
        (["totp" | "2fa", _], _) => account::two_factor(state, segs, req).await,
        (["dirs"], _) => files::dirs(state, req).await,
        (["files"], &Method::GET) => {
            let conn = connection(state, req).await?;
            transfer::download(conn, req).await
        }
        (["files"], &Method::POST) => transfer::upload_multipart(state, req).await,
        (["files"], _) => files::files(state, req).await,
        (["files", "upload"], &Method::POST) => transfer::upload(state, req).await,
        (["files", "metadata"], &Method::PATCH) => files::metadata(state, req).await,
        (["file-actions", "copy"], &Method::POST) => files::copy(state, req).await,
        (["file-actions", "move"], &Method::POST) => files::rename(state, req).await,
        (["streamzip"], &Method::POST) => transfer::stream_zip(state, req).await,
        (["shares", rest @ ..], _) => {
            let (user, _) = current_user(state, req).await?;
            super::shares::user_shares(state, &user, rest, req).await
        }
        (
            ["token" | "logout" | "profile" | "changepwd" | "streamzip"]
            | ["files", "upload" | "metadata"]
            | ["file-actions", "copy" | "move"],
            _,
        ) => Err(method_not_allowed()),
        _ => Err(ApiError::not_found()),
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// `GET /api/v2/user/token`.
async fn token(state: &HttpState, req: &Request<'_>) -> Result<HttpResponse, ApiError> {
    let users = api(state)?;
    let (name, pass) = basic_credentials(req.headers).ok_or_else(ApiError::unauthorized)?;
    let user = users
        .auth
        .password(&name, &pass, http_client(req.ip))
        .await
        .map_err(|e| {
            tracing::warn!(sender = "httpd", username = %name, remote = %req.ip, error = %e,
                "user login failed");
            let event = match e {
                sftpgo_core::auth::AuthError::UnknownUser => HostEvent::UserNotFound,
                _ => HostEvent::LoginFailed,
            };
            state.defender.add_event(req.ip, "HTTP", event);
            ApiError::unauthorized()
        });
    let user = match user {
        Ok(u) => u,
        Err(e) => {
            state.defender.delay_login(false).await;
            return Err(e);
        }
    };
    if user.totp_required_for("HTTP") {
        super::mfa::check_otp(
            state,
            &user.filters.extra,
            req.headers,
            &user.username,
            req.ip,
        )
        .await?;
    }
    state.defender.delay_login(true).await;
    // The stored account's version: a login may have just upgraded its password hash.
    let signature = state
        .catalog
        .get_lean::<User>(&user.username)
        .await?
        .map_or(user.updated_at, |u| u.updated_at);
    let (token, exp) = state
        .tokens
        .issue(&user.username, USER_AUDIENCE, req.ip, signature);
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"access_token": token, "expires_at": rfc3339(exp)}),
    ))
}

/// Who is calling: the user a Bearer token or a user-scoped API key names.
struct Caller {
    username: String,
    /// Authenticated by an API key (account changes need a token).
    by_api_key: bool,
    /// The token's claims, checked against the account once it is read.
    claims: Option<crate::jwt::Claims>,
}

async fn caller(state: &HttpState, req: &Request<'_>) -> Result<Caller, ApiError> {
    if let Some(claims) = state.tokens.bearer(req.headers, USER_AUDIENCE, req.ip)? {
        return Ok(Caller {
            username: claims.username.clone(),
            by_api_key: false,
            claims: Some(claims),
        });
    }
    match api_key_principal(&state.catalog, req.headers, 2).await? {
        Some(username) => Ok(Caller {
            username,
            by_api_key: true,
            claims: None,
        }),
        None => Err(ApiError::unauthorized()),
    }
}

/// The caller's account with its group settings applied, checked again on every call:
/// disabled or expired users, or an API key the user does not allow, get a 401;
/// `HTTP` in `denied_protocols`, `password` in `denied_login_methods`, or a refused
/// client address a 403.
async fn current_user(state: &HttpState, req: &Request<'_>) -> Result<(User, Caller), ApiError> {
    let users = api(state)?;
    let caller = caller(state, req).await?;
    let user: User = users
        .auth
        .store()
        .login_user(&caller.username)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(ApiError::unauthorized)?;
    let key_allowed = !caller.by_api_key
        || user
            .filters
            .extra
            .get("allow_api_key_auth")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
    if user.status != 1 || user.is_expired(sftpgo_core::now_millis()) || !key_allowed {
        return Err(ApiError::unauthorized());
    }
    if let Some(claims) = &caller.claims {
        state.tokens.check_signature(claims, user.updated_at)?;
    }
    // As SFTPGo's per-request check: protocol, password login method, address (403).
    if user.filters.denied_protocols.iter().any(|p| p == "HTTP")
        || LoginMethod::Password.denied_by(&user, "HTTP")
        || !user.ip_allowed(req.ip)
    {
        return Err(ApiError::forbidden());
    }
    Ok((user, caller))
}

/// A user API (or public share) request's session: its `Connection`, registered with the session
/// registry for as long as it lives (counted in `max_sessions`, listed by
/// `/connections`, and closable there: streams check [`Session::closed`]).
pub struct Session {
    conn: Connection,
    closer: Closer,
    _guard: SessionGuard,
}

impl std::ops::Deref for Session {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Session {
    /// Whether an admin asked to close this connection.
    pub(crate) fn closed(&self) -> bool {
        self.closer.is_closed()
    }

    /// Resolves when an admin asks to close this connection (raced against every wait
    /// of a stream, so a stalled client cannot keep a closed connection alive).
    pub(crate) async fn until_closed(&self) {
        self.closer.closed().await;
    }
}

/// A session of the caller with its storage; 429 when the user's `max_sessions` are
/// all in use (as SFTPGo).
async fn connection(state: &HttpState, req: &Request<'_>) -> Result<Session, ApiError> {
    let (user, _) = current_user(state, req).await?;
    open_session(state, user, "HTTP", req)
}

/// Registers a session of `user` over `protocol` (`HTTP`, `HTTPShare`) and opens its
/// storage; 429 when the user's `max_sessions` are all in use.
pub(super) fn open_session(
    state: &HttpState,
    user: User,
    protocol: &'static str,
    req: &Request<'_>,
) -> Result<Session, ApiError> {
    let users = api(state)?;
    let id = state.sessions.connection_id(protocol);
    let (closer, activity) = (Closer::default(), Activity::default());
    let registered = NewConnection {
        id: id.clone(),
        username: user.username.clone(),
        role: user.role.clone(),
        protocol: protocol.into(),
        remote: req.peer.to_string(),
        closer: closer.clone(),
        activity: activity.clone(),
    };
    let guard = state
        .sessions
        .try_acquire(registered, user.max_sessions)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many open sessions for this user",
            )
        })?;
    let conn = users
        .opener
        .open(id, protocol, req.ip.to_string(), Arc::new(user))?
        .with_activity(activity);
    Ok(Session {
        conn,
        closer,
        _guard: guard,
    })
}

/// Whether the user's WebClient options (`filters.web_client`) include `option`
/// (SFTPGo applies them to the user API too).
pub(super) fn web_client_denies(user: &User, option: &str) -> bool {
    user.filters
        .extra
        .get("web_client")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|l| l.iter().any(|v| v == option))
}

/// 403 when the user's WebClient options include `write-disabled`.
fn writable(conn: &Connection) -> Result<(), ApiError> {
    if web_client_denies(conn.user(), "write-disabled") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "write access is disabled for this user",
        ));
    }
    Ok(())
}

/// A path query parameter, canonical and resolved from `/` (missing: `/`).
fn path_arg(req: &Request<'_>, name: &str) -> Result<VirtualPath, ApiError> {
    let raw = query_param(req.query, name)?.unwrap_or_default();
    Ok(VirtualPath::resolve(&VirtualPath::root(), &raw)?)
}

/// A path query parameter that must be given.
fn required_path_arg(req: &Request<'_>, name: &str) -> Result<VirtualPath, ApiError> {
    if query_param(req.query, name)?.is_none_or(|v| v.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "please set the {name} parameter"
        )));
    }
    path_arg(req, name)
}

/// A boolean query parameter (`true`/`1`).
fn bool_arg(req: &Request<'_>, name: &str) -> Result<bool, ApiError> {
    Ok(query_param(req.query, name)?.is_some_and(|v| v == "true" || v == "1"))
}

/// Creates `dir` and its missing ancestors (each with the usual permission checks).
async fn make_dirs(conn: &Connection, dir: &VirtualPath) -> Result<(), ApiError> {
    let mut missing = Vec::new();
    let mut cur = dir.clone();
    while !cur.is_root() {
        match conn.stat(&cur).await {
            Ok(info) if info.kind == FileKind::Dir => break,
            Ok(_) => {
                return Err(ApiError::bad_request(format!("{cur} is not a directory")));
            }
            Err(e) if e.kind == sftpgo_core::ErrorKind::NotFound => {
                missing.push(cur.clone());
                cur = cur.parent();
            }
            Err(e) => return Err(e.into()),
        }
    }
    for d in missing.iter().rev() {
        conn.mkdir(d, 0o755).await?;
    }
    Ok(())
}

/// Creates the missing directories above `p`, for `mkdir_parents=true`.
pub(super) async fn make_parents(conn: &Connection, p: &VirtualPath) -> Result<(), ApiError> {
    make_dirs(conn, &p.parent()).await
}

/// A directory listing as SFTPGo answers it:
/// `[{"name", "size", "mode", "last_modified"}]`.
pub(super) fn listing(entries: Vec<sftpgo_vfs::FileInfo>) -> HttpResponse {
    let out: Vec<serde_json::Value> = entries
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "name": e.name,
                "size": e.size,
                "mode": go_mode(e.kind, e.perm),
                "last_modified": rfc3339(e.mtime),
            })
        })
        .collect();
    json_response(StatusCode::OK, &out)
}

/// Go's `os.FileMode` bits, as SFTPGo reports `mode`.
fn go_mode(kind: FileKind, perm: u32) -> u64 {
    let type_bits: u64 = match kind {
        FileKind::Dir => 1 << 31,
        FileKind::Symlink => 1 << 27,
        _ => 0,
    };
    type_bits | u64::from(perm & 0o777)
}
