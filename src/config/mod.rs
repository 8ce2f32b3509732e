//! The full configuration tree, composed from the sections each layer owns, loaded the
//! way SFTPGo loads it: defaults, then `sftpgo.{json,toml,yaml,yml}` from the config
//! dir, then `SFTPGO_<SECTION>__<KEY>` environment variables (`__` nests, list indexes are
//! numbers, list values are comma-separated).
//!
//! Unknown keys in the file stop start-up with an error naming them. Keys SFTPGo has but
//! this server does not implement yet are logged as warnings and ignored, so existing
//! SFTPGo configuration files keep working.

mod env;
mod tree;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every key path of SFTPGo's configuration (see the file header for its origin).
const SFTPGO_KEYS: &str = include_str!("sftpgo_keys.txt");

/// The configuration this server acts on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// `common`
    pub common: sftpgo_core::config::CommonConfig,
    /// `sftpd`
    pub sftpd: sftpgo_net::ssh::Config,
    /// `ftpd`
    pub ftpd: sftpgo_net::ftp::Config,
    /// `webdavd`
    pub webdavd: sftpgo_net::webdav::Config,
    /// `data_provider`
    pub data_provider: sftpgo_providers::Config,
    /// `kms`
    pub kms: sftpgo_core::kms::KmsConfig,
    /// `httpd`
    pub httpd: sftpgo_httpd::Config,
    /// `mfa`
    pub mfa: sftpgo_core::mfa::MfaConfig,
    /// `smtp`
    pub smtp: sftpgo_net::outbound::smtp::SmtpConfig,
}

/// A loaded configuration plus what was ignored along the way.
pub struct Loaded {
    /// The effective configuration.
    pub config: AppConfig,
    /// Warnings to log once logging is up.
    pub warnings: Vec<String>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

fn sftpgo_keys() -> &'static HashSet<&'static str> {
    static KEYS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        SFTPGO_KEYS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Finds the config file: `config_file` (relative to `dir`) if given, else the first
/// `sftpgo.{json,toml,yaml,yml}` in `dir`.
fn find_file(dir: &Path, config_file: Option<&str>) -> Result<Option<PathBuf>, String> {
    if let Some(f) = config_file.filter(|f| !f.is_empty()) {
        let p = if Path::new(f).is_absolute() {
            PathBuf::from(f)
        } else {
            dir.join(f)
        };
        if !p.is_file() {
            return Err(format!("config file {} not found", p.display()));
        }
        return Ok(Some(p));
    }
    Ok(["json", "toml", "yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("sftpgo.{ext}")))
        .find(|p| p.is_file()))
}

fn parse_file(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("json");
    let parsed = match ext {
        "toml" => toml::from_str::<Value>(&text).map_err(|e| e.to_string()),
        "yaml" | "yml" => serde_yaml_ng::from_str::<Value>(&text).map_err(|e| e.to_string()),
        _ => serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()),
    };
    let v = parsed.map_err(|e| format!("invalid config file {}: {e}", path.display()))?;
    if !v.is_object() {
        return Err(format!(
            "invalid config file {}: not an object",
            path.display()
        ));
    }
    Ok(v)
}

/// The defaults, with an element in each list of objects that is empty by default, so
/// `SFTPGO_<...>__<LIST>__0__<KEY>` variables can create entries (environment
/// variables name list entries by index and need a template for them).
fn env_templates(defaults: &Value) -> Value {
    let mut t = defaults.clone();
    let add = |t: &mut Value, pointer: &str, item: Value| {
        if let Some(Value::Array(list)) = t.pointer_mut(pointer)
            && list.is_empty()
        {
            list.push(item);
        }
    };
    add(
        &mut t,
        "/webdavd/cache/mime_types/custom_mappings",
        serde_json::to_value(sftpgo_net::webdav::config::MimeMapping::default())
            .unwrap_or_default(),
    );
    for section in ["ftpd", "httpd"] {
        let count = t
            .pointer(&format!("/{section}/bindings"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for i in 0..count {
            add(
                &mut t,
                &format!("/{section}/bindings/{i}/passive_ip_overrides"),
                serde_json::json!({"networks": [], "ip": ""}),
            );
            add(
                &mut t,
                &format!("/{section}/bindings/{i}/security/https_proxy_headers"),
                serde_json::json!({"key": "", "value": ""}),
            );
        }
    }
    t
}

/// Loads the configuration from `dir` and the process environment.
pub fn load(dir: &Path, config_file: Option<&str>) -> Result<Loaded, String> {
    load_with_env(dir, config_file, std::env::vars())
}

/// Like [`load`], with an explicit environment (for tests).
pub fn load_with_env(
    dir: &Path,
    config_file: Option<&str>,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<Loaded, String> {
    let defaults = serde_json::to_value(AppConfig::default()).map_err(|e| e.to_string())?;
    let mut warnings = Vec::new();
    let file = find_file(dir, config_file)?;
    let mut merged = defaults.clone();
    if let Some(path) = &file {
        let mut from_file = parse_file(path)?;
        let mut errors = Vec::new();
        tree::prune(
            &mut from_file,
            &defaults,
            "",
            sftpgo_keys(),
            &mut warnings,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(format!(
                "config file {}: {}",
                path.display(),
                errors.join("; ")
            ));
        }
        tree::merge(&mut merged, from_file);
    }
    env::apply(
        &mut merged,
        &env_templates(&defaults),
        vars,
        sftpgo_keys(),
        &mut warnings,
    )?;
    let config: AppConfig = serde_path_to_error::deserialize(merged)
        .map_err(|e| format!("invalid configuration value at {}: {}", e.path(), e.inner()))?;
    config.sftpd.validate()?;
    config.ftpd.validate()?;
    config.webdavd.validate()?;
    config.data_provider.validate()?;
    config.kms.validate()?;
    config.common.validate()?;
    config.mfa.validate()?;
    config.httpd.validate()?;
    config.smtp.validate()?;
    Ok(Loaded {
        config,
        warnings,
        file,
    })
}

#[cfg(test)]
mod tests;
