//! Who is calling: admin tokens from Basic auth (`GET /api/v2/token`), Bearer tokens on
//! every other call, API keys (`X-SFTPGO-API-KEY`, with the `.username` suffix to act as
//! an admin when the key is bound to none), logout, and each admin's `allow_list`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::HeaderMap;
use sftpgo_core::catalog::Catalog;
use sftpgo_core::defender::{Defender, HostEvent};
use sftpgo_core::model::{Admin, ip_list};
use sftpgo_core::password::PasswordCache;

use crate::jwt::{Claims, Signer};
use crate::response::ApiError;

/// Audience of admin API tokens.
pub const API_AUDIENCE: &str = "API";

/// Token signing, checking and revocation.
pub struct Tokens {
    signer: Signer,
    lifetime_secs: i64,
    /// `httpd.token_validation`: bit 1 skips the client-address check, bit 2 ties
    /// tokens to the account's version.
    validation: u8,
    /// Logged-out token ids until they expire.
    revoked: Mutex<HashMap<String, i64>>,
}

fn now_secs() -> i64 {
    sftpgo_core::now_millis() / 1000
}

/// `httpd.token_validation` bit: do not check the client address.
const SKIP_ADDRESS_CHECK: u8 = 1;
/// `httpd.token_validation` bit: the account must be unchanged since issue.
const CHECK_SIGNATURE: u8 = 2;

fn token_refused(message: &str) -> ApiError {
    ApiError::new(hyper::StatusCode::UNAUTHORIZED, message)
}

impl Tokens {
    /// Tokens signed with `key`, valid for `lifetime_minutes`, checked as
    /// `validation` (`httpd.token_validation`) says.
    pub fn new(key: Vec<u8>, lifetime_minutes: u32, validation: u8) -> Self {
        Self {
            signer: Signer::new(key),
            lifetime_secs: i64::from(lifetime_minutes) * 60,
            validation,
            revoked: Mutex::new(HashMap::new()),
        }
    }

    /// A new token with use `aud` for `username`, issued to client `ip`, for the
    /// account as `signature` (its `updated_at`) says: (token, expiry in Unix seconds).
    pub fn issue(&self, username: &str, aud: &str, ip: IpAddr, signature: i64) -> (String, i64) {
        let now = now_secs();
        let claims = Claims {
            aud: vec![aud.to_string(), ip.to_string()],
            username: username.to_string(),
            sub: signature.to_string(),
            iat: now,
            nbf: now - 10,
            exp: now + self.lifetime_secs,
            jti: sftpgo_core::catalog::random_id(20),
        };
        (self.signer.sign(&claims), claims.exp)
    }

    fn revoked(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.revoked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The claims of the Bearer token in `headers`, if one is sent: it must be valid,
    /// not logged out, for `aud`, and (unless `token_validation` says otherwise)
    /// issued to `ip`; a 401 naming the reason otherwise.
    pub fn bearer(
        &self,
        headers: &HeaderMap,
        aud: &str,
        ip: IpAddr,
    ) -> Result<Option<Claims>, ApiError> {
        let Some(token) = authorization(headers, "Bearer") else {
            return Ok(None);
        };
        let claims = self
            .signer
            .verify(token, now_secs())
            .ok_or_else(ApiError::unauthorized)?;
        if self.revoked().contains_key(&claims.jti) {
            return Err(token_refused("Your token is no longer valid"));
        }
        if !claims.is_for(aud) {
            return Err(token_refused("Your token audience is not valid"));
        }
        if self.validation & SKIP_ADDRESS_CHECK == 0 && !claims.issued_to(&ip.to_string()) {
            return Err(token_refused("Your token is not valid"));
        }
        Ok(Some(claims))
    }

    /// With `token_validation` bit 2, refuses (and revokes) a token issued before the
    /// account last changed (`updated_at`).
    pub fn check_signature(&self, claims: &Claims, updated_at: i64) -> Result<(), ApiError> {
        if self.validation & CHECK_SIGNATURE != 0 && claims.sub != updated_at.to_string() {
            self.revoke(claims);
            return Err(token_refused("Your token is no longer valid"));
        }
        Ok(())
    }

    /// Revokes a token until it expires.
    pub fn revoke(&self, claims: &Claims) {
        let now = now_secs();
        let mut revoked = self.revoked();
        revoked.retain(|_, exp| *exp > now);
        revoked.insert(claims.jti.clone(), claims.exp);
    }
}

/// True when `filters.totp_config.enabled` is set (SFTPGo's 2FA).
pub fn totp_enabled(filters: &serde_json::Map<String, serde_json::Value>) -> bool {
    filters
        .get("totp_config")
        .and_then(|t| t.get("enabled"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// The credentials after `scheme` (matched case-insensitively, RFC 9110) in the
/// `Authorization` header.
fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// `user:password` from a Basic `Authorization` header.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = authorization(headers, "Basic")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Checks that `admin` may log in from `ip`: enabled, and inside its `allow_list`.
pub fn admin_may_connect(admin: &Admin, ip: IpAddr) -> bool {
    if admin.status != 1 {
        return false;
    }
    let allowed: Vec<&str> = admin
        .filters
        .get("allow_list")
        .and_then(serde_json::Value::as_array)
        .map(|list| list.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    allowed.is_empty() || allowed.iter().any(|net| ip_list::contains(net, ip))
}

/// The admin named by Basic credentials whose password matches. Successful checks are
/// remembered in `cache` (keyed by the stored hash, so a password change invalidates
/// them), as SFTPGo does for admins, so scripts asking for tokens do not pay argon2id
/// every time.
pub async fn admin_by_password(
    catalog: &Catalog,
    cache: &PasswordCache,
    defender: &Defender,
    username: &str,
    password: &str,
    ip: IpAddr,
) -> Result<Admin, ApiError> {
    let Some(admin) = catalog.get::<Admin>(username).await? else {
        defender.add_event(ip, "HTTP", HostEvent::UserNotFound);
        // Same work as a wrong password, so names cannot be told apart by timing.
        sftpgo_core::password::verify_decoy(password).await;
        defender.delay_login(false).await;
        return Err(ApiError::unauthorized());
    };
    let ok = if cache.check(&admin.username, &admin.password, password) {
        true
    } else {
        let ok = sftpgo_core::password::verify_async(password, &admin.password).await;
        if ok {
            cache.insert(&admin.username, &admin.password, password);
        }
        ok
    };
    if !ok || !admin_may_connect(&admin, ip) {
        tracing::warn!(sender = "httpd", username, %ip, "admin login failed");
        defender.add_event(ip, "HTTP", HostEvent::LoginFailed);
        defender.delay_login(false).await;
        return Err(ApiError::unauthorized());
    }
    Ok(admin)
}

/// The name an `X-SFTPGO-API-KEY` header authenticates as for `scope` (1 admin, 2
/// user), if the header is present: the key's bound admin or user, or, for an unbound
/// key, the `.<name>` suffix. A bad, expired or wrong-scope key is a 401.
pub async fn api_key_principal(
    catalog: &Catalog,
    headers: &HeaderMap,
    scope: i32,
) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("x-sftpgo-api-key") else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
    // `<id>.<secret>` or `<id>.<secret>.<name>`.
    let mut parts = value.splitn(3, '.');
    let (id, secret) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let impersonate = parts.next();
    let key = catalog
        .verify_api_key(&format!("{id}.{secret}"), sftpgo_core::now_millis())
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if key.scope != scope {
        return Err(ApiError::unauthorized());
    }
    let bound = if scope == 1 { &key.admin } else { &key.user };
    let name = match (bound.as_str(), impersonate) {
        ("", Some(name)) if !name.is_empty() => name.to_string(),
        (bound, None) if !bound.is_empty() => bound.to_string(),
        _ => return Err(ApiError::unauthorized()),
    };
    catalog
        .update_counters(
            sftpgo_core::store::Kind::ApiKey,
            &key.key_id,
            &[(
                sftpgo_core::store::Counter::LastUse,
                sftpgo_core::store::CounterOp::Set(sftpgo_core::now_millis()),
            )],
        )
        .await?;
    Ok(Some(name))
}

/// The admin an `X-SFTPGO-API-KEY` header authenticates, if any.
pub async fn admin_by_api_key(
    catalog: &Catalog,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<Option<Admin>, ApiError> {
    let Some(username) = api_key_principal(catalog, headers, 1).await? else {
        return Ok(None);
    };
    let admin = catalog
        .get::<Admin>(&username)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let allowed = admin
        .filters
        .get("allow_api_key_auth")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if !allowed || !admin_may_connect(&admin, ip) {
        return Err(ApiError::unauthorized());
    }
    Ok(Some(admin))
}
