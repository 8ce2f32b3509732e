//! An admin's own account: `GET/PUT /api/v2/admin/profile` (e-mail, description,
//! `allow_api_key_auth`) and `PUT /api/v2/admin/changepwd`. As in SFTPGo, the changes
//! need a token (not an API key), and a password change needs the current password.

use bytes::Bytes;
use hyper::StatusCode;
use serde::Deserialize;
use sftpgo_core::model::Admin;

use crate::HttpState;
use crate::response::{ApiError, HttpResponse, json_response, message};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileUpdate {
    #[serde(default)]
    email: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    allow_api_key_auth: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("invalid field {}: {}", e.path(), e.inner())))
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
    let mut changed = admin.clone();
    changed.email = p.email;
    changed.description = p.description;
    changed
        .filters
        .insert("allow_api_key_auth".into(), p.allow_api_key_auth.into());
    changed.password = String::new();
    state.catalog.update(&changed).await?;
    Ok(message("Profile updated"))
}

/// `PUT /admin/changepwd`.
pub async fn change_password(
    state: &HttpState,
    admin: &Admin,
    body: &Bytes,
) -> Result<HttpResponse, ApiError> {
    let p: PasswordChange = parse(body)?;
    let (current, hash) = (p.current_password.clone(), admin.password.clone());
    let ok = tokio::task::spawn_blocking(move || sftpgo_core::password::verify(&current, &hash))
        .await
        .unwrap_or(false);
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
    let mut changed = admin.clone();
    changed.password = p.new_password;
    changed.filters.remove("require_password_change");
    state.catalog.update(&changed).await?;
    Ok(message("Password updated"))
}
