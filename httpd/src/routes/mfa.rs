//! Two-factor authentication (TOTP) over the REST API, for admins (`/admin/totp/...`,
//! `/admin/2fa/recoverycodes`) and users (`/user/totp/...`, `/user/2fa/recoverycodes`):
//! listing the configurations, generating and validating secrets, saving an account's
//! `totp_config` (recovery codes are issued with it), reading and renewing recovery
//! codes; the `X-SFTPGO-OTP` check of the token endpoints; and the admin side's
//! `PUT /{users,admins}/{name}/2fa/disable`. Secrets and codes are stored as KMS
//! secrets, like every other secret.

use base64::Engine as _;
use hyper::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sftpgo_core::catalog::Stored;
use sftpgo_core::model::{Admin, User};

use crate::HttpState;
use crate::auth::totp_enabled;
use crate::response::{ApiError, HttpResponse, json_response, message, parse_json};

/// Recovery codes issued at a time.
const RECOVERY_CODES: usize = 12;
/// Fewer unused codes than this, and saving the configuration issues a new set.
const MIN_UNUSED_CODES: usize = 5;

/// An account with two-factor settings in its filters.
pub trait MfaAccount: Stored {
    /// The filters holding `totp_config` and `recovery_codes`.
    fn mfa_filters(&self) -> &Map<String, Value>;
    /// The same, to change.
    fn mfa_filters_mut(&mut self) -> &mut Map<String, Value>;
    /// How authenticator apps label it.
    fn account_label(&self) -> String;
}

impl MfaAccount for Admin {
    fn mfa_filters(&self) -> &Map<String, Value> {
        &self.filters
    }
    fn mfa_filters_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.filters
    }
    fn account_label(&self) -> String {
        format!("Admin {:?}", self.username)
    }
}

impl MfaAccount for User {
    fn mfa_filters(&self) -> &Map<String, Value> {
        &self.filters.extra
    }
    fn mfa_filters_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.filters.extra
    }
    fn account_label(&self) -> String {
        format!("User {:?}", self.username)
    }
}

/// Checks the `X-SFTPGO-OTP` passcode of a token request against the account's TOTP
/// configuration; 401 when it is missing or wrong, which the defender scores (and
/// delays) like a wrong password, so passcodes cannot be guessed for free.
pub async fn check_otp(
    state: &HttpState,
    filters: &Map<String, Value>,
    headers: &HeaderMap,
    who: &str,
    ip: std::net::IpAddr,
) -> Result<(), ApiError> {
    let checked = otp_valid(state, filters, headers, who);
    if checked.is_err() {
        state
            .defender
            .add_event(ip, "HTTP", sftpgo_core::defender::HostEvent::LoginFailed);
        state.defender.delay_login(false).await;
    }
    checked
}

fn otp_valid(
    state: &HttpState,
    filters: &Map<String, Value>,
    headers: &HeaderMap,
    who: &str,
) -> Result<(), ApiError> {
    let cfg = filters.get("totp_config").cloned().unwrap_or_default();
    let passcode = headers
        .get("x-sftpgo-otp")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if passcode.is_empty() {
        tracing::warn!(
            sender = "httpd",
            username = who,
            "token refused: passcode missing"
        );
        return Err(ApiError::unauthorized());
    }
    let now = sftpgo_core::now_millis() / 1000;
    let checked = state
        .totp
        .check_account(state.catalog.kms(), &cfg, passcode, now)
        .map_err(|e| {
            tracing::error!(sender = "httpd", username = who, error = %e, "cannot check the passcode");
            ApiError::unauthorized()
        })?;
    if checked {
        return Ok(());
    }
    tracing::warn!(
        sender = "httpd",
        username = who,
        "token refused: invalid passcode"
    );
    Err(ApiError::unauthorized())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GenerateRequest {
    config_name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ValidateRequest {
    config_name: String,
    passcode: String,
    secret: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SaveRequest {
    enabled: bool,
    config_name: String,
    secret: Option<Value>,
    protocols: Vec<String>,
}

fn new_codes() -> (Vec<String>, Value) {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| sftpgo_core::mfa::recovery_code())
        .collect();
    let stored = codes
        .iter()
        .map(|c| json!({"secret": {"status": "Plain", "payload": c}, "used": false}))
        .collect();
    (codes, Value::Array(stored))
}

fn unused_codes(filters: &Map<String, Value>) -> usize {
    filters
        .get("recovery_codes")
        .and_then(Value::as_array)
        .map_or(0, |l| {
            l.iter()
                .filter(|c| c.get("used").and_then(Value::as_bool) != Some(true))
                .count()
        })
}

fn not_enabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "recovery codes are not available with two-factor authentication disabled",
    )
}

/// `/{admin,user}/totp/{configs,generate,validate,save}` and
/// `/{admin,user}/2fa/recoverycodes` for the account `key` of type `T`.
pub async fn serve<T: MfaAccount>(
    state: &HttpState,
    segs: &[&str],
    method: &Method,
    key: &str,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let c = &state.catalog;
    match (segs, method) {
        (["totp", "configs"], &Method::GET) => {
            Ok(json_response(StatusCode::OK, state.totp.configs()))
        }
        (["totp", "generate"], &Method::POST) => {
            let req: GenerateRequest = if body.is_empty() {
                GenerateRequest::default()
            } else {
                parse_json(body)?
            };
            let account = c
                .get_lean::<T>(key)
                .await?
                .ok_or_else(ApiError::not_found)?;
            let s = state
                .totp
                .generate(&req.config_name, &account.account_label())?;
            let mut out = serde_json::to_value(&s).unwrap_or_default();
            let qr = crate::qr::png(&s.url)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
            out["qr_code"] = Value::String(base64::engine::general_purpose::STANDARD.encode(qr));
            Ok(json_response(StatusCode::OK, &out))
        }
        (["totp", "validate"], &Method::POST) => {
            let req: ValidateRequest = parse_json(body)?;
            let now = sftpgo_core::now_millis() / 1000;
            match state
                .totp
                .check(&req.config_name, &req.passcode, &req.secret, now)
            {
                Ok(true) => Ok(message("Passcode successfully validated")),
                Ok(false) => Err(ApiError::bad_request("Invalid passcode")),
                Err(e) => Err(e.into()),
            }
        }
        (["totp", "save"], &Method::POST) => {
            let req: SaveRequest = parse_json(body)?;
            save::<T>(state, key, &req).await?;
            Ok(message("TOTP configuration saved"))
        }
        (["2fa", "recoverycodes"], &Method::GET) => {
            let account = c
                .get_lean::<T>(key)
                .await?
                .ok_or_else(ApiError::not_found)?;
            let filters = account.mfa_filters();
            if !totp_enabled(filters) {
                return Err(not_enabled());
            }
            let mut out = Vec::new();
            for code in filters
                .get("recovery_codes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let secret = code.get("secret").cloned().unwrap_or_default();
                out.push(json!({
                    "code": c.kms().decrypt(&secret)?,
                    "used": code.get("used").and_then(Value::as_bool).unwrap_or(false),
                }));
            }
            Ok(json_response(StatusCode::OK, &out))
        }
        (["2fa", "recoverycodes"], &Method::POST) => {
            let (codes, stored) = new_codes();
            c.modify::<T, _>(key, |a| {
                if !totp_enabled(a.mfa_filters()) {
                    return Err(sftpgo_core::Error::denied());
                }
                a.mfa_filters_mut()
                    .insert("recovery_codes".into(), stored.clone());
                Ok(())
            })
            .await
            .map_err(|e| {
                if e.kind == sftpgo_core::ErrorKind::PermissionDenied {
                    not_enabled()
                } else {
                    e.into()
                }
            })?;
            Ok(json_response(StatusCode::OK, &codes))
        }
        _ => Err(ApiError::not_found()),
    }
}

async fn save<T: MfaAccount>(
    state: &HttpState,
    key: &str,
    req: &SaveRequest,
) -> Result<(), ApiError> {
    let new_secret = match &req.secret {
        Some(s) if s.get("status").and_then(Value::as_str) == Some("Plain") => {
            let payload = s.get("payload").and_then(Value::as_str).unwrap_or_default();
            if req.enabled {
                sftpgo_core::mfa::Totp::validate_secret(payload)?;
            }
            Some(json!({"status": "Plain", "payload": payload}))
        }
        _ => None,
    };
    if req.enabled
        && !state
            .totp
            .configs()
            .iter()
            .any(|c| c.name == req.config_name)
    {
        return Err(ApiError::bad_request(format!(
            "config_name: no TOTP configuration named {:?}",
            req.config_name
        )));
    }
    if req.enabled && T::KIND == sftpgo_core::store::Kind::User && req.protocols.is_empty() {
        return Err(ApiError::bad_request(
            "protocols: specify at least one protocol (SSH, FTP, HTTP)",
        ));
    }
    for p in &req.protocols {
        if !["SSH", "FTP", "HTTP"].contains(&p.as_str()) {
            return Err(ApiError::bad_request(format!(
                "protocols: {p:?} is not SSH, FTP or HTTP"
            )));
        }
    }
    let (_, fresh_codes) = new_codes();
    required_policy::<T>(state, key, req).await?;
    state
        .catalog
        .modify::<T, _>(key, |a| {
            let filters = a.mfa_filters_mut();
            let current = filters
                .get("totp_config")
                .and_then(|c| c.get("secret"))
                .cloned();
            let secret = new_secret.clone().or(current);
            if req.enabled && secret.is_none() {
                return Err(sftpgo_core::Error::invalid(
                    "secret: mandatory to enable TOTP",
                ));
            }
            let mut cfg = json!({"enabled": req.enabled, "config_name": req.config_name});
            if let Some(s) = secret {
                cfg["secret"] = s;
            }
            if T::KIND == sftpgo_core::store::Kind::User {
                cfg["protocols"] = json!(req.protocols);
            }
            if req.enabled {
                if unused_codes(filters) < MIN_UNUSED_CODES {
                    filters.insert("recovery_codes".into(), fresh_codes.clone());
                }
            } else {
                filters.remove("recovery_codes");
            }
            filters.insert("totp_config".into(), cfg);
            Ok(())
        })
        .await?;
    Ok(())
}

/// 400 when the save would break a 2FA requirement the admins set: an admin's
/// `require_two_factor`, or a user's `two_factor_protocols` (group settings applied),
/// which must all stay covered.
async fn required_policy<T: MfaAccount>(
    state: &HttpState,
    key: &str,
    req: &SaveRequest,
) -> Result<(), ApiError> {
    if T::KIND == sftpgo_core::store::Kind::Admin {
        let admin = state
            .catalog
            .get_lean::<Admin>(key)
            .await?
            .ok_or_else(ApiError::not_found)?;
        let required = admin
            .filters
            .get("require_two_factor")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if required && !req.enabled {
            return Err(ApiError::bad_request(
                "two-factor authentication must be enabled",
            ));
        }
        return Ok(());
    }
    let user = state
        .catalog
        .effective_user(key)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let required: Vec<String> = user
        .filters
        .extra
        .get("two_factor_protocols")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if required.is_empty() {
        return Ok(());
    }
    if !req.enabled || required.iter().any(|p| !req.protocols.contains(p)) {
        return Err(ApiError::bad_request(format!(
            "two-factor authentication must be enabled for: {}",
            required.join(", ")
        )));
    }
    Ok(())
}

/// Keeps an account's two-factor settings out of admin edits, as SFTPGo does: a
/// created account starts without them, an updated one keeps the stored ones. Only
/// the account itself (`/totp/save`) or `2fa/disable` change them, so an admin cannot
/// plant a known secret or silently turn 2FA off by rewriting `filters`.
pub async fn keep_two_factor<T: MfaAccount>(
    state: &HttpState,
    key: Option<&str>,
    body: &bytes::Bytes,
) -> Result<bytes::Bytes, ApiError> {
    const FIELDS: [&str; 2] = ["totp_config", "recovery_codes"];
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return Ok(body.clone());
    };
    let Some(obj) = v.as_object_mut() else {
        return Ok(body.clone());
    };
    let filters = obj
        .entry("filters")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(filters) = filters.as_object_mut() else {
        return Ok(body.clone());
    };
    for f in FIELDS {
        filters.remove(f);
    }
    if let Some(key) = key
        && let Some(stored) = state.catalog.get_lean::<T>(key).await?
    {
        for f in FIELDS {
            if let Some(x) = stored.mfa_filters().get(f) {
                filters.insert(f.to_string(), x.clone());
            }
        }
    }
    Ok(bytes::Bytes::from(
        serde_json::to_vec(&v).unwrap_or_default(),
    ))
}

/// `PUT /users/{username}/2fa/disable` and `PUT /admins/{username}/2fa/disable`.
pub async fn disable<T: MfaAccount>(
    state: &HttpState,
    key: &str,
) -> Result<HttpResponse, ApiError> {
    state
        .catalog
        .modify::<T, _>(key, |a| {
            if !totp_enabled(a.mfa_filters()) {
                return Err(sftpgo_core::Error::invalid(
                    "two-factor authentication is not enabled",
                ));
            }
            let filters = a.mfa_filters_mut();
            filters.remove("totp_config");
            filters.remove("recovery_codes");
            Ok(())
        })
        .await?;
    Ok(message("2FA disabled"))
}
