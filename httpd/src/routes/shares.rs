//! Shares: a user's own (`/api/v2/user/shares`, CRUD) and their public side
//! (`/api/v2/shares/{id}`): download (a ZIP, or the file itself with
//! `compress=false`), browsing and file downloads inside a shared directory
//! (`/dirs`, `/files`), and uploads into a write share (multipart, or one raw body at
//! `/{name}`). A public request runs as the share's owner through `core::Connection`
//! with protocol `HTTPShare`, so the owner's permissions and patterns still apply;
//! paths never leave the shared directory. Scope, expiry, allowed networks, the
//! password (HTTP Basic) and the use count are checked on every request.

use hyper::{Method, StatusCode, header};
use sftpgo_core::model::{Share, User};
use sftpgo_core::path::VirtualPath;
use sftpgo_core::store::{Counter, CounterOp, Kind};
use sftpgo_vfs::FileKind;

use super::Request;
use super::crud::{list_query, page, parse_body};
use super::maintenance::query_param;
use super::user::transfer::{UseBooking, send_file, send_zip, store_body, store_form};
use super::user::{Session, open_session, web_client_denies};
use crate::HttpState;
use crate::auth::basic_credentials;
use crate::response::{ApiError, HttpResponse, json_response, message};

/// What SFTPGo shows instead of a share's password.
const REDACTED: &str = "[**redacted**]";
const READ: i32 = 1;
const WRITE: i32 = 2;
const READ_WRITE: i32 = 3;

/// A share as the API shows it: the password hash replaced by SFTPGo's marker.
fn render_share(share: &Share) -> serde_json::Value {
    let mut v = serde_json::to_value(share).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        if share.password.is_empty() {
            m.remove("password");
        } else {
            m.insert("password".into(), REDACTED.into());
        }
    }
    v
}

fn shares_disabled() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "shares are disabled for this user")
}

/// `/user/shares[/{id}]` for the caller `user` (group settings applied).
pub async fn user_shares(
    state: &HttpState,
    user: &User,
    rest: &[&str],
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    if web_client_denies(user, "shares-disabled") {
        return Err(shares_disabled());
    }
    let c = &state.catalog;
    let own = |share: Option<Share>| share.filter(|s| s.username == user.username);
    match (rest, &req.method) {
        ([], &Method::GET) => {
            let q = list_query(req.query)?;
            let all = c
                .list::<Share>(sftpgo_core::store::ListQuery::default())
                .await?;
            let mine: Vec<&Share> = all.iter().filter(|s| s.username == user.username).collect();
            let out: Vec<_> = page(mine, q).into_iter().map(render_share).collect();
            Ok(json_response(StatusCode::OK, &out))
        }
        ([], &Method::POST) => {
            let body = req.read_body().await?;
            let mut share: Share = parse_body(&body, None)?;
            share.id = sftpgo_core::catalog::random_id(22);
            share.username.clone_from(&user.username);
            share.used_tokens = 0;
            share.last_use_at = 0;
            if share.name.is_empty() {
                share.name.clone_from(&share.id);
            }
            let default_days = filter_days(user, "default_shares_expiration");
            if share.expires_at == 0 && default_days > 0 {
                share.expires_at = sftpgo_core::now_millis() + default_days * DAY_MS;
            }
            check_expiration(user, share.expires_at)?;
            check_password_policy(user, &share.password)?;
            let created = c.add(&share).await?;
            let mut resp = json_response(
                StatusCode::CREATED,
                &serde_json::json!({"message": "Share created"}),
            );
            let h = resp.headers_mut();
            if let Ok(v) = header::HeaderValue::from_str(&created.id) {
                h.insert("x-object-id", v.clone());
            }
            if let Ok(v) =
                header::HeaderValue::from_str(&format!("/api/v2/user/shares/{}", created.id))
            {
                h.insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        ([id], &Method::GET) => {
            let share = own(c.get::<Share>(id).await?).ok_or_else(ApiError::not_found)?;
            Ok(json_response(StatusCode::OK, &render_share(&share)))
        }
        ([id], &Method::PUT) => {
            let stored = own(c.get::<Share>(id).await?).ok_or_else(ApiError::not_found)?;
            let body = req.read_body().await?;
            let mut share: Share = parse_body(&body, Some(id))?;
            share.username.clone_from(&user.username);
            if share.password == REDACTED {
                // Unchanged: the stored hash is written back as is.
                share.password.clone_from(&stored.password);
            }
            // An empty password removes it, as in SFTPGo.
            check_password_policy(user, &share.password)?;
            check_expiration(user, share.expires_at)?;
            c.update(&share).await?;
            Ok(message("Share updated"))
        }
        ([id], &Method::DELETE) => {
            own(c.get::<Share>(id).await?).ok_or_else(ApiError::not_found)?;
            c.delete::<Share>(id).await?;
            Ok(message("Share deleted"))
        }
        _ => Err(ApiError::not_found()),
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// A day count from the user's filters (0 when unset).
fn filter_days(user: &User, field: &str) -> i64 {
    user.filters
        .extra
        .get(field)
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
}

/// 400 when the user's `max_shares_expiration` (days) forbids `expires_at` (never
/// expiring, or later than allowed).
fn check_expiration(user: &User, expires_at: i64) -> Result<(), ApiError> {
    let max_days = filter_days(user, "max_shares_expiration");
    if max_days <= 0 {
        return Ok(());
    }
    let limit = sftpgo_core::now_millis() + max_days * DAY_MS;
    if expires_at == 0 || expires_at > limit {
        return Err(ApiError::bad_request(format!(
            "expires_at: shares must expire within {max_days} days"
        )));
    }
    Ok(())
}

/// 403 for a share without a password when the user's WebClient options forbid it.
fn check_password_policy(user: &User, password: &str) -> Result<(), ApiError> {
    if password.is_empty() && web_client_denies(user, "shares-without-password-disabled") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "You are not authorized to share files/folders without a password",
        ));
    }
    Ok(())
}

/// A public request's share and the owner's session.
struct Opened {
    share: Share,
    conn: Session,
}

/// Checks a public request against share `id`: it exists, allows one of `scopes`, is
/// not expired or used up, the client's address is allowed, the password (Basic auth)
/// matches, and the owner may share. 401 with a Basic challenge for a missing or wrong
/// password.
async fn open_share(
    state: &HttpState,
    id: &str,
    scopes: &[i32],
    req: &Request<'_>,
) -> Result<Opened, ApiError> {
    let gone = || ApiError::new(StatusCode::NOT_FOUND, "share does not exist");
    let share = state.catalog.get::<Share>(id).await?.ok_or_else(gone)?;
    if !scopes.contains(&share.scope) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "invalid share scope"));
    }
    let now = sftpgo_core::now_millis();
    if share.expires_at > 0 && share.expires_at < now {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "share expired"));
    }
    if share.max_tokens > 0 && share.used_tokens >= share.max_tokens {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "share usage exceeded"));
    }
    if !share.allow_from.is_empty()
        && !share
            .allow_from
            .iter()
            .any(|n| sftpgo_core::model::ip_list::contains(n, req.ip))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "share is not allowed from this address",
        ));
    }
    if !share.password.is_empty() {
        let (_, pass) = basic_credentials(req.headers).ok_or_else(ApiError::unauthorized)?;
        let ok = sftpgo_core::password::verify_async(&pass, &share.password).await;
        if !ok {
            tracing::warn!(sender = "httpd", share = id, remote = %req.ip, "share password refused");
            state.defender.add_event(
                req.ip,
                "HTTP",
                sftpgo_core::defender::HostEvent::LoginFailed,
            );
            return Err(ApiError::unauthorized());
        }
    }
    let owner = state
        .catalog
        .effective_user(&share.username)
        .await?
        .ok_or_else(gone)?;
    if owner.status != 1
        || owner.is_expired(now)
        || web_client_denies(&owner, "shares-disabled")
        || (share.password.is_empty()
            && web_client_denies(&owner, "shares-without-password-disabled"))
    {
        return Err(gone());
    }
    let conn = open_session(state, owner, "HTTPShare", req)?;
    Ok(Opened { share, conn })
}

/// Takes and gives back uses of a share: the check against `max_tokens` and the
/// increment happen under one lock, before any data moves, so parallel requests
/// cannot overrun the limit.
struct Booking<'a> {
    state: &'a HttpState,
    id: String,
}

impl UseBooking for Booking<'_> {
    async fn take(&self) -> Result<(), ApiError> {
        let _one_at_a_time = self.state.share_uses.lock().await;
        let share = self
            .state
            .catalog
            .get::<Share>(&self.id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if share.max_tokens > 0 && share.used_tokens >= share.max_tokens {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "share usage exceeded"));
        }
        self.add(1).await
    }

    async fn give_back(&self) {
        let _ = self.add(-1).await;
    }
}

impl Booking<'_> {
    async fn add(&self, n: i64) -> Result<(), ApiError> {
        self.state
            .catalog
            .update_counters(
                Kind::Share,
                &self.id,
                &[
                    (Counter::Usage, CounterOp::Add(n)),
                    (Counter::LastUse, CounterOp::Set(sftpgo_core::now_millis())),
                ],
            )
            .await?;
        Ok(())
    }

    /// Runs `op` with one use taken, given back if it fails.
    async fn with_use<F: std::future::Future<Output = Result<HttpResponse, ApiError>>>(
        &self,
        op: F,
    ) -> Result<HttpResponse, ApiError> {
        self.take().await?;
        let result = op.await;
        if result.is_err() {
            self.give_back().await;
        }
        result
    }
}

/// The shared directory of a browsable share (one path, a directory).
async fn browsable_base(opened: &Opened) -> Result<VirtualPath, ApiError> {
    let [base] = opened.share.paths.as_slice() else {
        return Err(ApiError::bad_request(
            "a share with multiple paths is not browsable",
        ));
    };
    let base = VirtualPath::parse(base)?;
    if opened.conn.stat(&base).await?.kind != FileKind::Dir {
        return Err(ApiError::bad_request(
            "the shared object is not a directory and so it is not browsable",
        ));
    }
    Ok(base)
}

/// `rel` (a client path, relative to the share) inside `base`; 400 outside it.
fn inside(base: &VirtualPath, rel: &str) -> Result<VirtualPath, ApiError> {
    let joined = format!("{}/{}", base.as_str(), rel);
    let p = VirtualPath::resolve(&VirtualPath::root(), &joined)?;
    if p.starts_with(base) {
        Ok(p)
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the path is outside the share",
        ))
    }
}

/// `/api/v2/shares/{id}[/...]`.
pub async fn public(
    state: &HttpState,
    id: &str,
    rest: &[&str],
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let method = req.method.clone();
    match (rest, &method) {
        ([], &Method::GET) => {
            let opened = open_share(state, id, &[READ, READ_WRITE], req).await?;
            let Opened { share, conn } = opened;
            let paths: Vec<VirtualPath> = share
                .paths
                .iter()
                .map(|p| VirtualPath::parse(p))
                .collect::<Result<_, _>>()?;
            let single = match paths.as_slice() {
                [one] => Some((one.clone(), conn.stat(one).await?)),
                _ => None,
            };
            let compress = query_param(req.query, "compress")?.as_deref() != Some("false");
            let booking = Booking {
                state,
                id: share.id.clone(),
            };
            booking.take().await?;
            let sent = match single {
                Some((p, info)) if info.kind == FileKind::File && !compress => {
                    send_file(conn, p, req.headers).await
                }
                Some((p, info)) if info.kind == FileKind::Dir => {
                    let name = format!("share-{}.zip", share.name);
                    Ok(send_zip(conn, p.clone(), vec![p], &name))
                }
                _ => {
                    let mut missing = None;
                    for p in &paths {
                        if let Err(e) = conn.stat(p).await {
                            missing = Some(e);
                            break;
                        }
                    }
                    match missing {
                        Some(e) => Err(e.into()),
                        None => {
                            let name = format!("share-{}.zip", share.name);
                            Ok(send_zip(conn, VirtualPath::root(), paths, &name))
                        }
                    }
                }
            };
            if sent.is_err() {
                booking.give_back().await;
            }
            sent
        }
        (["dirs"], &Method::GET) => {
            let opened = open_share(state, id, &[READ, READ_WRITE], req).await?;
            let base = browsable_base(&opened).await?;
            let rel = query_param(req.query, "path")?.unwrap_or_default();
            let dir = inside(&base, &rel)?;
            Ok(super::user::listing(opened.conn.read_dir(&dir).await?))
        }
        (["files"], &Method::GET) => {
            let opened = open_share(state, id, &[READ, READ_WRITE], req).await?;
            let base = browsable_base(&opened).await?;
            let rel = query_param(req.query, "path")?.unwrap_or_default();
            let file = inside(&base, &rel)?;
            let booking = Booking {
                state,
                id: opened.share.id.clone(),
            };
            booking
                .with_use(send_file(opened.conn, file, req.headers))
                .await
        }
        ([], &Method::POST) => {
            let Opened { share, conn } = open_share(state, id, &[WRITE, READ_WRITE], req).await?;
            let dir = VirtualPath::parse(share.paths.first().map_or("/", String::as_str))?;
            let booking = Booking {
                state,
                id: share.id.clone(),
            };
            store_form(state, &conn, &dir, req, Some(&booking)).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &serde_json::json!({"message": "Upload completed"}),
            ))
        }
        ([name], &Method::POST) => {
            let Opened { share, conn } = open_share(state, id, &[WRITE, READ_WRITE], req).await?;
            let dir = VirtualPath::parse(share.paths.first().map_or("/", String::as_str))?;
            let target = inside(&dir, name)?;
            if target == dir {
                return Err(ApiError::bad_request("please set a file name"));
            }
            if query_param(req.query, "mkdir_parents")?.is_some_and(|v| v == "true") {
                super::user::make_parents(&conn, &target).await?;
            }
            let booking = Booking {
                state,
                id: share.id.clone(),
            };
            booking
                .with_use(store_body(state, &conn, &target, req))
                .await
        }
        _ => Err(ApiError::not_found()),
    }
}
