//! The `data_provider` configuration section.

use serde::{Deserialize, Serialize};

/// `data_provider.driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Embedded SQLite (default).
    Sqlite,
    /// PostgreSQL.
    Postgresql,
    /// MySQL / MariaDB.
    Mysql,
    /// CockroachDB.
    Cockroachdb,
    /// Embedded key/value store: redb here (SFTPGo's name is for bbolt; `redb` is
    /// accepted too).
    #[serde(alias = "redb")]
    Bolt,
    /// In-memory.
    Memory,
}

impl Driver {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Sqlite => "sqlite",
            Driver::Postgresql => "postgresql",
            Driver::Mysql => "mysql",
            Driver::Cockroachdb => "cockroachdb",
            Driver::Bolt => "bolt",
            Driver::Memory => "memory",
        }
    }
}

/// `data_provider` section (the keys acted on so far).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Engine.
    pub driver: Driver,
    /// Database name; for SQLite the file path (relative to the config dir); for memory
    /// an optional dump file loaded at start.
    pub name: String,
    /// PostgreSQL/MySQL host (default 127.0.0.1).
    pub host: String,
    /// PostgreSQL/MySQL port (0: the engine's default, 5432 or 3306).
    pub port: u16,
    /// PostgreSQL/MySQL user.
    pub username: String,
    /// PostgreSQL/MySQL password.
    pub password: String,
    /// File holding the PostgreSQL/MySQL password (relative to the config dir); read at
    /// start, it replaces `password`. Surrounding whitespace is ignored.
    pub password_file: String,
    /// TLS to the database, as SFTPGo: 0 off; 1 required (not verified); 2 PostgreSQL
    /// verify-ca / MySQL required without verification; 3 PostgreSQL verify-full / MySQL
    /// preferred.
    pub sslmode: u8,
    /// CA certificate (PEM) used to verify the database server (relative to the config
    /// dir).
    pub root_cert: String,
    /// Client certificate (PEM) presented to the database server for TLS client
    /// authentication (relative to the config dir); needs `client_key`.
    pub client_cert: String,
    /// Private key (PEM) of `client_cert` (relative to the config dir).
    pub client_key: String,
    /// A full connection URL (`postgres://…`, `mysql://…`, `sqlite://…`); overrides
    /// host, port, username, password, name and sslmode.
    pub connection_string: String,
    /// Prefix for every table name.
    pub sql_tables_prefix: String,
    /// Connection pool size (0 = engine default).
    pub pool_size: u32,
    /// 0: create/upgrade the schema at start; 1: leave it to `initprovider`.
    pub update_mode: u8,
    /// How new password hashes are made.
    pub password_hashing: sftpgo_core::password::PasswordHashing,
    /// Remember recent successful password checks (see `PasswordCache`).
    pub password_caching: bool,
    /// Bit mask for new names: 1 any UTF-8 character (else `[A-Za-z0-9._~-]`),
    /// 2 lower-case, 4 trim surrounding spaces.
    pub naming_rules: u32,
    /// Directory for dumps written and read by name through the REST API
    /// (`dumpdata`/`loaddata`), relative to the config dir.
    pub backups_path: String,
    /// Create an admin at start when none exists, named by
    /// `SFTPGO_DEFAULT_ADMIN_USERNAME` / `SFTPGO_DEFAULT_ADMIN_PASSWORD`.
    pub create_default_admin: bool,
    /// Quota usage tracking: 0 off (no quota checks), 1 every user and folder, 2 only
    /// users and folders with quota limits.
    pub track_quota: u8,
    /// SFTPGo batches quota updates for this many seconds; here every update is
    /// written at once, so the key is accepted and has no effect.
    pub delayed_quota_update: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            driver: Driver::Sqlite,
            name: "sftpgo.db".into(),
            host: String::new(),
            port: 0,
            username: String::new(),
            password: String::new(),
            password_file: String::new(),
            sslmode: 0,
            root_cert: String::new(),
            client_cert: String::new(),
            client_key: String::new(),
            connection_string: String::new(),
            sql_tables_prefix: String::new(),
            pool_size: 0,
            update_mode: 0,
            password_hashing: Default::default(),
            password_caching: true,
            naming_rules: 5,
            backups_path: "backups".into(),
            create_default_admin: false,
            track_quota: 2,
            delayed_quota_update: 0,
        }
    }
}

impl std::fmt::Debug for Config {
    /// Everything but the password, which shows as `<redacted>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = shown.as_object_mut() {
            map.insert(
                "password".into(),
                sftpgo_core::kms::redacted(&self.password).into(),
            );
            if self.connection_string.contains('@') {
                map.insert("connection_string".into(), "<redacted>".into());
            }
        }
        write!(f, "Config {shown}")
    }
}

impl Config {
    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        self.password_hashing.validate()?;
        if self.track_quota > 2 {
            return Err("data_provider.track_quota: must be 0, 1 or 2".into());
        }
        if self.update_mode > 1 {
            return Err("data_provider.update_mode: must be 0 or 1".into());
        }
        if !self
            .sql_tables_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err("data_provider.sql_tables_prefix: only letters, digits and '_'".into());
        }
        if self.sql_tables_prefix.len() > 40 {
            // Table and index names must fit MySQL's 64 and PostgreSQL's 63 characters.
            return Err("data_provider.sql_tables_prefix: at most 40 characters".into());
        }
        if self.name.is_empty() && self.driver != Driver::Memory {
            return Err("data_provider.name: mandatory".into());
        }
        match self.driver {
            Driver::Sqlite | Driver::Postgresql | Driver::Mysql | Driver::Memory | Driver::Bolt => {
            }
            other => {
                return Err(format!(
                    "data_provider.driver: {:?} is not supported yet (use sqlite, postgresql, mysql, bolt/redb or memory)",
                    other.as_str()
                ));
            }
        }
        if self.naming_rules > 7 {
            return Err("data_provider.naming_rules: a bit mask of 1, 2 and 4 (0-7)".into());
        }
        if self.client_cert.is_empty() != self.client_key.is_empty() {
            return Err("data_provider.client_cert and client_key: set both or neither".into());
        }
        if self.sslmode > 3 {
            return Err("data_provider.sslmode: must be 0, 1, 2 or 3".into());
        }
        Ok(())
    }
}
