//! Authentication of users against the store: the checks every protocol shares
//! (existence, status, expiry, denied protocols and login methods, IP filters) plus password,
//! public-key and TLS client-certificate verification.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::model::{User, UserStatus};
use crate::password::PasswordCache;
use crate::store::UserStore;

/// Why a login failed. Messages are for logs; clients only learn "denied".
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No such user.
    #[error("user not found")]
    UnknownUser,
    /// `status` is 0.
    #[error("user is disabled")]
    Disabled,
    /// `expiration_date` passed.
    #[error("user account is expired")]
    Expired,
    /// A filter forbids this protocol or method.
    #[error("{0}")]
    NotAllowed(String),
    /// Wrong password or key.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The client certificate does not identify the user.
    #[error("{0}")]
    Certificate(#[from] crate::x509::Mismatch),
    /// The store failed.
    #[error("data provider error: {0}")]
    Store(String),
}

/// Protocols whose front-end asks for the TOTP passcode itself (the REST API, with
/// `X-SFTPGO-OTP`); password logins of users with 2FA on for any other protocol are
/// refused there, except FTP when the authenticator has a passcode checker (the
/// passcode is appended to the password, as in SFTPGo).
pub const PROTOCOLS_WITH_2FA: &[&str] = &["HTTP"];

/// Length of a TOTP passcode appended to an FTP password.
const PASSCODE_LEN: usize = 6;

/// Who is logging in: the protocol (`SSH`, `HTTP`, ...) and the client's address,
/// checked against the user's `denied_protocols` and IP filters.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// Protocol name as `denied_protocols` spells it.
    pub protocol: &'a str,
    /// The client's address.
    pub ip: std::net::IpAddr,
}

/// A login method, with SFTPGo's names for `denied_login_methods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// `password` (and `password-over-SSH` for SSH).
    Password,
    /// `publickey`.
    PublicKey,
    /// `TLSCertificate`: a client certificate alone (FTP, WebDAV).
    TlsCertificate,
    /// `TLSCertificate+password`: a client certificate and the password.
    TlsCertificateAndPassword,
}

/// What a client certificate does for a login ([`Authenticator::tls_certificate`]).
#[derive(Debug)]
pub enum CertLogin {
    /// The user maps no certificate (`tls_username` unset, no `tls_certs`): the
    /// password login goes on as without a certificate.
    NotUsed,
    /// The certificate identifies the user and logs them in (`TLSCertificate`).
    LoggedIn(Box<User>),
    /// The certificate identifies the user, whose login also needs the password
    /// (`TLSCertificate+password`).
    NeedsPassword,
}

impl LoginMethod {
    /// Whether the user's `denied_login_methods` deny this method over `protocol`.
    pub fn denied_by(self, user: &User, protocol: &str) -> bool {
        let denied = &user.filters.denied_login_methods;
        match self {
            LoginMethod::Password => denied
                .iter()
                .any(|m| m == "password" || (protocol == "SSH" && m == "password-over-SSH")),
            LoginMethod::PublicKey => denied.iter().any(|m| m == "publickey"),
            LoginMethod::TlsCertificate => denied.iter().any(|m| m == "TLSCertificate"),
            LoginMethod::TlsCertificateAndPassword => {
                denied.iter().any(|m| m == "TLSCertificate+password")
            }
        }
    }
}

/// Authenticates users from a store.
#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn UserStore>,
    cache: Option<Arc<PasswordCache>>,
    passcodes: Option<(Arc<crate::mfa::Totp>, crate::kms::Kms)>,
}

impl Authenticator {
    /// Builds an authenticator over `store` (password caching on, as SFTPGo's default).
    pub fn new(store: Arc<dyn UserStore>) -> Self {
        Self {
            store,
            cache: Some(Arc::new(PasswordCache::default())),
            passcodes: None,
        }
    }

    /// Checks TOTP passcodes appended to FTP passwords with `totp` (shared with the
    /// REST API, so a passcode used once is refused everywhere) and `kms` (which opens
    /// the stored secrets).
    pub fn with_passcodes(mut self, totp: Arc<crate::mfa::Totp>, kms: crate::kms::Kms) -> Self {
        self.passcodes = Some((totp, kms));
        self
    }

    /// Whether a password login over `protocol` can carry the passcode.
    fn takes_passcode(&self, protocol: &str) -> bool {
        PROTOCOLS_WITH_2FA.contains(&protocol) || (protocol == "FTP" && self.passcodes.is_some())
    }

    /// Splits `password` into the password and the appended passcode and checks the
    /// passcode (FTP with 2FA on).
    fn strip_passcode<'p>(&self, user: &User, password: &'p str) -> Result<&'p str, AuthError> {
        let Some((totp, kms)) = &self.passcodes else {
            return Err(AuthError::InvalidCredentials);
        };
        let split = password
            .len()
            .checked_sub(PASSCODE_LEN)
            .filter(|&at| at > 0);
        let Some(at) = split.filter(|&at| password.is_char_boundary(at)) else {
            return Err(AuthError::InvalidCredentials);
        };
        let (plain, passcode) = password.split_at(at);
        let cfg = user
            .filters
            .extra
            .get("totp_config")
            .cloned()
            .unwrap_or_default();
        match totp.check_account(kms, &cfg, passcode, crate::now_millis() / 1000) {
            Ok(true) => Ok(plain),
            Ok(false) => Err(AuthError::InvalidCredentials),
            Err(e) => {
                tracing::error!(username = %user.username, error = %e, "cannot check the passcode");
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Turns the password cache (`data_provider.password_caching`) on or off.
    pub fn with_password_caching(mut self, enabled: bool) -> Self {
        self.cache = enabled.then(|| Arc::new(PasswordCache::default()));
        self
    }

    /// The store behind this authenticator.
    pub fn store(&self) -> &Arc<dyn UserStore> {
        &self.store
    }

    /// The user as a login sees it (anonymous accounts narrowed).
    async fn load(&self, username: &str) -> Result<User, AuthError> {
        let mut user = self
            .store
            .login_user(username)
            .await
            .map_err(|e| AuthError::Store(e.to_string()))?
            .ok_or(AuthError::UnknownUser)?;
        if user.is_anonymous() {
            user.apply_anonymous_settings();
        }
        Ok(user)
    }

    async fn eligible(
        &self,
        username: &str,
        client: Client<'_>,
        method: LoginMethod,
    ) -> Result<User, AuthError> {
        let user = self.load(username).await?;
        self.check_eligible(user, client, method)
    }

    /// The checks every login makes before its credentials: status, expiry, protocol,
    /// method, 2FA and IP filters.
    fn check_eligible(
        &self,
        user: User,
        client: Client<'_>,
        method: LoginMethod,
    ) -> Result<User, AuthError> {
        let Client { protocol, ip } = client;
        if user.status() == UserStatus::Disabled {
            return Err(AuthError::Disabled);
        }
        if user.is_expired(crate::now_millis()) {
            return Err(AuthError::Expired);
        }
        if user.filters.denied_protocols.iter().any(|p| p == protocol) {
            return Err(AuthError::NotAllowed(format!(
                "protocol {protocol} is not allowed"
            )));
        }
        if method.denied_by(&user, protocol) {
            return Err(AuthError::NotAllowed("login method is not allowed".into()));
        }
        if method == LoginMethod::Password
            && user.totp_required_for(protocol)
            && !self.takes_passcode(protocol)
        {
            // Fail closed: a password login here cannot be followed by the passcode yet
            // (SSH needs keyboard-interactive). Keys are not affected, as in SFTPGo.
            return Err(AuthError::NotAllowed(format!(
                "two-factor authentication is required for password logins over {protocol} and is not supported yet"
            )));
        }
        if !user.ip_allowed(ip) {
            return Err(AuthError::NotAllowed(format!(
                "login from {ip} is not allowed"
            )));
        }
        Ok(user)
    }

    /// Password login. Hash verification runs on the blocking pool.
    pub async fn password(
        &self,
        username: &str,
        password: &str,
        client: Client<'_>,
    ) -> Result<User, AuthError> {
        let user = match self.eligible(username, client, LoginMethod::Password).await {
            Ok(user) => user,
            Err(e) => {
                // Unknown, disabled, expired or filtered: as slow as a wrong password.
                if !matches!(e, AuthError::Store(_)) && !password.is_empty() {
                    crate::password::verify_decoy(password).await;
                }
                return Err(e);
            }
        };
        self.verify_password(user, password, client).await
    }

    /// A client certificate at login, before any password (FTP checks it on `USER`,
    /// WebDAV on a request without a password). `cert` is the DER certificate the TLS
    /// layer verified.
    pub async fn tls_certificate(
        &self,
        username: &str,
        cert: &[u8],
        client: Client<'_>,
    ) -> Result<CertLogin, AuthError> {
        let user = self.load(username).await?;
        if !crate::x509::verification_enabled(&user) {
            return Ok(CertLogin::NotUsed);
        }
        crate::x509::matches_user(&user, cert)?;
        if !LoginMethod::TlsCertificate.denied_by(&user, client.protocol) {
            let user = self.check_eligible(user, client, LoginMethod::TlsCertificate)?;
            return Ok(CertLogin::LoggedIn(Box::new(user)));
        }
        // Fails here when `TLSCertificate+password` is denied too.
        self.check_eligible(user, client, LoginMethod::TlsCertificateAndPassword)?;
        Ok(CertLogin::NeedsPassword)
    }

    /// A password login over a connection with a client certificate: for users who map
    /// certificates, the certificate must identify them and the method is
    /// `TLSCertificate+password`; for the others it is a plain password login.
    pub async fn tls_certificate_and_password(
        &self,
        username: &str,
        password: &str,
        cert: &[u8],
        client: Client<'_>,
    ) -> Result<User, AuthError> {
        let user = self.load(username).await?;
        let method = if crate::x509::verification_enabled(&user) {
            crate::x509::matches_user(&user, cert)?;
            LoginMethod::TlsCertificateAndPassword
        } else {
            LoginMethod::Password
        };
        let user = self.check_eligible(user, client, method)?;
        self.verify_password(user, password, client).await
    }

    /// Checks `password` (with an FTP passcode appended when 2FA asks for one) against
    /// the user's hash.
    async fn verify_password(
        &self,
        user: User,
        password: &str,
        client: Client<'_>,
    ) -> Result<User, AuthError> {
        let username = user.username.clone();
        let username = username.as_str();
        if user.is_anonymous() {
            // Any password, as SFTPGo: the account is narrowed to list and download.
            return Ok(user);
        }
        let password = if client.protocol == "FTP" && user.totp_required_for("FTP") {
            self.strip_passcode(&user, password)?
        } else {
            password
        };
        if password.is_empty() {
            return Err(AuthError::InvalidCredentials);
        }
        if user.password.is_empty() {
            crate::password::verify_decoy(password).await;
            return Err(AuthError::InvalidCredentials);
        }
        let stored = user.password.clone();
        if self
            .cache
            .as_ref()
            .is_some_and(|c| c.check(username, &stored, password))
        {
            return Ok(user);
        }
        let ok = crate::password::verify_async(password, &stored).await;
        if !ok {
            return Err(AuthError::InvalidCredentials);
        }
        let user = self.upgrade_hash(user, password).await;
        if let Some(cache) = &self.cache {
            cache.insert(username, &user.password, password);
        }
        Ok(user)
    }

    /// Replaces a hash in a format we only verify (PBKDF2, Unix crypt, digests) with one
    /// made by the configured algorithm, now that the plain password is known. A failure
    /// is logged and the login goes on.
    async fn upgrade_hash(&self, mut user: User, password: &str) -> User {
        if !crate::password::needs_upgrade(&user.password) {
            return user;
        }
        let Ok(hashed) = crate::password::hash_async(password).await else {
            tracing::warn!(username = %user.username, "cannot re-hash the password");
            return user;
        };
        // Only the hash changes, and only if nobody changed it meanwhile: the rest of
        // this user (groups applied, maybe stale) is never written back.
        let old = user.password.clone();
        match self
            .store
            .replace_password_hash(&user.username, &old, &hashed)
            .await
        {
            Ok(true) => {
                tracing::info!(username = %user.username, "password hash upgraded");
                user.password = hashed;
            }
            Ok(false) => {
                tracing::info!(username = %user.username, "password changed meanwhile; hash not upgraded");
            }
            Err(e) => {
                tracing::warn!(username = %user.username, error = %e, "cannot store the upgraded password hash");
            }
        }
        user
    }

    /// Public-key login: `algo` and `blob_b64` as in an OpenSSH `authorized_keys` line.
    pub async fn public_key(
        &self,
        username: &str,
        algo: &str,
        blob_b64: &str,
        client: Client<'_>,
    ) -> Result<User, AuthError> {
        let user = self
            .eligible(username, client, LoginMethod::PublicKey)
            .await?;
        let mut found = false;
        for (a, b) in user.key_blobs() {
            let same =
                a.as_bytes().ct_eq(algo.as_bytes()) & b.as_bytes().ct_eq(blob_b64.as_bytes());
            found |= bool::from(same);
        }
        if found {
            Ok(user)
        } else {
            Err(AuthError::InvalidCredentials)
        }
    }
}
