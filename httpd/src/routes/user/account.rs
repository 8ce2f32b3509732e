//! A user's own account: `GET|PUT /user/profile` (e-mail, additional e-mails,
//! description, public keys, TLS certificates, `allow_api_key_auth`) and
//! `PUT /user/changepwd`. As in SFTPGo these need a token (not an API key); each change
//! needs the matching WebClient option to be allowed, and writes are compare-and-set
//! against the stored account, so a concurrent admin edit is never overwritten.

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use sftpgo_core::model::User;

use super::{USER_AUDIENCE, current_user, http_client, web_client_denies};
use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response, message, parse_json as parse};
use crate::routes::Request;

#[derive(Deserialize)]
struct ProfileUpdate {
    #[serde(default)]
    email: String,
    #[serde(default)]
    additional_emails: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    public_keys: Vec<String>,
    #[serde(default)]
    tls_certs: Vec<String>,
    #[serde(default)]
    allow_api_key_auth: bool,
}

#[derive(Deserialize)]
struct PasswordChange {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// The caller's account (group settings applied) and name; a 403 for API keys, which
/// cannot change accounts.
async fn token_user(state: &HttpState, req: &Request<'_>) -> Result<(User, String), ApiError> {
    let (user, caller) = current_user(state, req).await?;
    if caller.by_api_key {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "API key authentication is not allowed here: use a token",
        ));
    }
    Ok((user, caller.username))
}

fn filter_list(user: &User, field: &str) -> Value {
    user.filters
        .extra
        .get(field)
        .cloned()
        .unwrap_or_else(|| Value::Array(Vec::new()))
}

/// `GET /user/profile`.
pub async fn profile(state: &HttpState, req: &Request<'_>) -> Result<HttpResponse, ApiError> {
    let (_, username) = token_user(state, req).await?;
    // The account as stored, without group settings.
    let user = state
        .catalog
        .get::<User>(&username)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "email": user.email,
            "additional_emails": filter_list(&user, "additional_emails"),
            "description": user.description,
            "public_keys": user.public_keys,
            "tls_certs": filter_list(&user, "tls_certs"),
            "allow_api_key_auth": user.filters.extra.get("allow_api_key_auth")
                .and_then(Value::as_bool).unwrap_or(false),
        }),
    ))
}

/// `PUT /user/profile`: each group of fields changes only if the user's WebClient
/// options allow it; nothing allowed at all is a 403.
pub async fn update_profile(
    state: &HttpState,
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let (merged, username) = token_user(state, req).await?;
    let can = |opt: &str| !web_client_denies(&merged, opt);
    let (keys, certs, api_key, info) = (
        can("publickey-change-disabled"),
        can("tls-cert-change-disabled"),
        can("api-key-auth-change-disabled"),
        can("info-change-disabled"),
    );
    if !(keys || certs || api_key || info) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "You are not allowed to change anything",
        ));
    }
    let p: ProfileUpdate = parse(&req.read_body().await?)?;
    state
        .catalog
        .modify::<User, _>(&username, |u| {
            if keys {
                u.public_keys.clone_from(&p.public_keys);
            }
            if certs {
                u.filters
                    .extra
                    .insert("tls_certs".into(), p.tls_certs.clone().into());
            }
            if api_key {
                u.filters
                    .extra
                    .insert("allow_api_key_auth".into(), p.allow_api_key_auth.into());
            }
            if info {
                u.email.clone_from(&p.email);
                u.description.clone_from(&p.description);
                u.filters.extra.insert(
                    "additional_emails".into(),
                    p.additional_emails.clone().into(),
                );
            }
            Ok(())
        })
        .await?;
    Ok(message("Profile updated"))
}

/// `/user/totp/...` and `/user/2fa/recoverycodes` (token only; 403 with the
/// `mfa-disabled` WebClient option).
pub async fn two_factor(
    state: &HttpState,
    segs: &[&str],
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let (merged, username) = token_user(state, req).await?;
    if web_client_denies(&merged, "mfa-disabled") {
        return Err(ApiError::forbidden());
    }
    let body = req.read_body().await?;
    let method = req.method.clone();
    crate::routes::mfa::serve::<User>(state, segs, &method, &username, &body).await
}

/// `PUT /user/changepwd` with `{current_password, new_password}`; the token used is
/// revoked, as SFTPGo does.
pub async fn change_password(
    state: &HttpState,
    req: &mut Request<'_>,
) -> Result<HttpResponse, ApiError> {
    let (merged, username) = token_user(state, req).await?;
    if web_client_denies(&merged, "password-change-disabled") {
        return Err(ApiError::forbidden());
    }
    let p: PasswordChange = parse(&req.read_body().await?)?;
    if p.current_password.is_empty() || p.new_password.is_empty() {
        return Err(ApiError::bad_request(
            "please provide the current password and the new one",
        ));
    }
    if p.current_password == p.new_password {
        return Err(ApiError::bad_request(
            "the new password must be different from the current one",
        ));
    }
    let users = super::api(state)?;
    let verified = users
        .auth
        .password(&username, &p.current_password, http_client(req.ip))
        .await
        .map_err(|_| ApiError::bad_request("current password does not match"))?;
    let hash = sftpgo_core::password::hash_async(&p.new_password).await?;
    state
        .catalog
        .modify::<User, _>(&username, |u| {
            // The password just verified must still be the stored one.
            if u.password != verified.password {
                return Err(sftpgo_core::Error::invalid(
                    "current password does not match",
                ));
            }
            u.password.clone_from(&hash);
            Ok(())
        })
        .await?;
    if let Ok(Some(claims)) = state.tokens.bearer(req.headers, USER_AUDIENCE, req.ip) {
        state.tokens.revoke(&claims);
    }
    Ok(message("Password updated"))
}
