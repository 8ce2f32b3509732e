//! An admin's own account: `GET/PUT /api/v2/admin/profile` (e-mail, description,
//! `allow_api_key_auth`) and `PUT /api/v2/admin/changepwd`. As in SFTPGo, the changes
//! need a token (not an API key), and a password change needs the current password.

use bytes::Bytes;
use hyper::StatusCode;
use serde::Deserialize;
use sftpgo_core::model::Admin;

use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response, message, parse_json as parse};

#[derive(Deserialize)]
struct ProfileUpdate {
    #[serde(default)]
    email: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    allow_api_key_auth: bool,
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `GET /admin/profile`.
pub fn get(admin: &Admin) -> HttpResponse {
    let allow = admin
        .filters
        .get("allow_api_key_auth")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "email": admin.email,
            "description": admin.description,
            "allow_api_key_auth": allow,
        }),
    )
}

/// `PUT /admin/profile`.
pub async fn update(
    state: &HttpState,
    admin: &Admin,
    body: &Bytes,
) -> Result<HttpResponse, ApiError> {
    let p: ProfileUpdate = parse(body)?;
    state
        .catalog
        .modify::<Admin, _>(&admin.username, |a| {
            a.email.clone_from(&p.email);
            a.description.clone_from(&p.description);
            a.filters
                .insert("allow_api_key_auth".into(), p.allow_api_key_auth.into());
            Ok(())
        })
        .await?;
    Ok(message("Profile updated"))
}

/// `PUT /admin/changepwd`.
pub async fn change_password(
    state: &HttpState,
    admin: &Admin,
    body: &Bytes,
) -> Result<HttpResponse, ApiError> {
    let p: PasswordChange = parse(body)?;
    let ok = sftpgo_core::password::verify_async(&p.current_password, &admin.password).await;
    if !ok {
        return Err(ApiError::bad_request("current_password: it does not match"));
    }
    if p.new_password.is_empty() {
        return Err(ApiError::bad_request("new_password: mandatory"));
    }
    if p.new_password == p.current_password {
        return Err(ApiError::bad_request(
            "new_password: it must differ from the current one",
        ));
    }
    // Hashed once, outside the compare-and-set loop.
    let hash = sftpgo_core::password::hash_async(&p.new_password).await?;
    let verified_hash = admin.password.clone();
    state
        .catalog
        .modify::<Admin, _>(&admin.username, |a| {
            // The password checked above must still be the stored one.
            if a.password != verified_hash {
                return Err(sftpgo_core::Error::invalid(
                    "current_password: the password changed meanwhile",
                ));
            }
            a.password.clone_from(&hash);
            a.filters.remove("require_password_change");
            Ok(())
        })
        .await?;
    Ok(message("Password updated"))
}
