//! Who a WebDAV request is: Basic credentials, client certificates (`TLSCertificate`,
//! `TLSCertificate+password`), and the CORS headers added around authentication.

use base64::Engine;
use http::{Request, header};
use sftpgo_core::auth::{AuthError, Authenticator, CertLogin, Client};
use sftpgo_core::model::User;

/// Checks a request's credentials. Over HTTPS with a client certificate, a user who
/// maps certificates (`tls_username`, `tls_certs`) logs in with the certificate alone
/// (`TLSCertificate`: no Basic credentials, the user named by the certificate's CN, or
/// an empty password) or with it and the password (`TLSCertificate+password`).
pub(super) async fn login(
    auth: &Authenticator,
    username: &str,
    password: &str,
    cert: Option<&[u8]>,
    client: Client<'_>,
) -> Result<User, AuthError> {
    match cert {
        None => auth.password(username, password, client).await,
        Some(cert) if password.is_empty() => {
            match auth.tls_certificate(username, cert, client).await? {
                CertLogin::LoggedIn(user) => Ok(*user),
                CertLogin::NotUsed | CertLogin::NeedsPassword => Err(AuthError::InvalidCredentials),
            }
        }
        Some(cert) => {
            auth.tls_certificate_and_password(username, password, cert, client)
                .await
        }
    }
}

/// Copies CORS headers into a response (`vary` appended, the others replaced).
pub(super) fn add_headers(headers: &mut http::HeaderMap, list: sftpgo_core::cors::CorsHeaders) {
    for (name, value) in list {
        let Ok(value) = http::HeaderValue::from_str(&value) else {
            continue;
        };
        if name == "vary" {
            headers.append(header::VARY, value);
        } else {
            headers.insert(name, value);
        }
    }
}

/// `Authorization: Basic` user and password.
pub(super) fn basic_credentials<B>(req: &Request<B>) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_parsed_strictly() {
        let req = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(())
                .unwrap()
        };
        // "alice:pa:ss" — the password may hold colons.
        assert_eq!(
            basic_credentials(&req("Basic YWxpY2U6cGE6c3M=")),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(basic_credentials(&req("Bearer x")), None);
        assert_eq!(basic_credentials(&req("Basic !!!")), None);
        assert_eq!(basic_credentials(&req("Basic YWxpY2U=")), None, "no colon");
    }
}
