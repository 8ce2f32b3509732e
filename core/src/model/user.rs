//! The user: SFTPGo's `User` JSON object, with the fields this server acts on typed and
//! every other field kept verbatim so dumps round-trip.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FolderMapping, GroupMapping, Permission};
use crate::path::VirtualPath;
use crate::{Error, Result, pattern};

/// `status`: 1 enabled, 0 disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Login refused.
    Disabled,
    /// Login allowed.
    Enabled,
}

/// One `filters.file_patterns` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PatternsFilter {
    /// Virtual directory the patterns apply to (and below).
    pub path: String,
    /// If non-empty, only matching names are allowed.
    pub allowed_patterns: Vec<String>,
    /// Matching names are denied.
    pub denied_patterns: Vec<String>,
    /// 0 default, 1 hide denied names from listings.
    pub deny_policy: i32,
}

/// `filters`: the typed subset plus everything else verbatim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserFilters {
    /// Per-directory allowed/denied name patterns.
    pub file_patterns: Vec<PatternsFilter>,
    /// Login methods this user may not use (`password`, `publickey`, ...).
    pub denied_login_methods: Vec<String>,
    /// Protocols this user may not use (`SSH`, `FTP`, `DAV`, `HTTP`).
    pub denied_protocols: Vec<String>,
    /// Maximum size of one uploaded file in bytes (0 = unlimited).
    pub max_upload_file_size: i64,
    /// Virtual directory a session starts in.
    pub start_directory: String,
    /// Fields not acted on yet, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A virtual user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// Store id.
    pub id: i64,
    /// 1 enabled, 0 disabled.
    pub status: i32,
    /// Unique login name.
    pub username: String,
    /// Contact e-mail.
    pub email: String,
    /// Free text.
    pub description: String,
    /// Account expiry, Unix ms (0 = never).
    pub expiration_date: i64,
    /// Password hash (plain text only on input; hashed before storing).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// Authorised public keys in OpenSSH format.
    pub public_keys: Vec<String>,
    /// Home directory on the server (root of the local back-end).
    pub home_dir: String,
    /// System uid for created files (0 = server's).
    pub uid: u32,
    /// System gid for created files (0 = server's).
    pub gid: u32,
    /// Concurrent sessions allowed (0 = unlimited).
    pub max_sessions: i32,
    /// Disk quota in bytes (0 = unlimited).
    pub quota_size: i64,
    /// Disk quota in files (0 = unlimited).
    pub quota_files: i32,
    /// Virtual directory → permissions.
    pub permissions: BTreeMap<String, Vec<String>>,
    /// Bytes used.
    pub used_quota_size: i64,
    /// Files used.
    pub used_quota_files: i32,
    /// Last quota update, Unix ms.
    pub last_quota_update: i64,
    /// KB/s (0 = unlimited).
    pub upload_bandwidth: i64,
    /// KB/s (0 = unlimited).
    pub download_bandwidth: i64,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// Last login, Unix ms.
    pub last_login: i64,
    /// Login and file filters.
    pub filters: UserFilters,
    /// Storage back-end configuration (`provider` 0 = local).
    pub filesystem: Value,
    /// Free text for integrations.
    pub additional_info: String,
    /// Group memberships.
    pub groups: Vec<GroupMapping>,
    /// Folders mounted in this user's tree.
    pub virtual_folders: Vec<FolderMapping>,
    /// Role (a role admin manages only its role's users).
    pub role: String,
    /// Fields not acted on yet (limits, counters, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for User {
    fn default() -> Self {
        Self {
            id: 0,
            status: 1,
            username: String::new(),
            email: String::new(),
            description: String::new(),
            expiration_date: 0,
            password: String::new(),
            public_keys: Vec::new(),
            home_dir: String::new(),
            uid: 0,
            gid: 0,
            max_sessions: 0,
            quota_size: 0,
            quota_files: 0,
            permissions: BTreeMap::new(),
            used_quota_size: 0,
            used_quota_files: 0,
            last_quota_update: 0,
            upload_bandwidth: 0,
            download_bandwidth: 0,
            created_at: 0,
            updated_at: 0,
            last_login: 0,
            filters: UserFilters::default(),
            filesystem: serde_json::json!({"provider": 0}),
            additional_info: String::new(),
            groups: Vec::new(),
            virtual_folders: Vec::new(),
            role: String::new(),
            extra: Map::new(),
        }
    }
}

impl User {
    /// Enabled or disabled.
    pub fn status(&self) -> UserStatus {
        if self.status == 1 {
            UserStatus::Enabled
        } else {
            UserStatus::Disabled
        }
    }

    /// True when `expiration_date` is set and in the past.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expiration_date > 0 && self.expiration_date < now_ms
    }

    /// `filters.is_anonymous`: an FTP/WebDAV account that logs in with any password
    /// and may only list and download.
    pub fn is_anonymous(&self) -> bool {
        self.filters
            .extra
            .get("is_anonymous")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// Narrows an anonymous user as SFTPGo does at login: `list` and `download` in
    /// every directory, SSH and HTTP denied, only password logins.
    pub fn apply_anonymous_settings(&mut self) {
        for perms in self.permissions.values_mut() {
            *perms = vec!["list".into(), "download".into()];
        }
        for p in ["SSH", "HTTP"] {
            if !self.filters.denied_protocols.iter().any(|d| d == p) {
                self.filters.denied_protocols.push(p.into());
            }
        }
        if !self
            .filters
            .denied_login_methods
            .iter()
            .any(|m| m == "publickey")
        {
            self.filters.denied_login_methods.push("publickey".into());
        }
    }

    /// Whether the user's two-factor configuration (`filters.totp_config`) is enabled
    /// for `protocol` (`SSH`, `FTP`, `HTTP`).
    pub fn totp_required_for(&self, protocol: &str) -> bool {
        let Some(cfg) = self.filters.extra.get("totp_config") else {
            return false;
        };
        cfg.get("enabled").and_then(Value::as_bool) == Some(true)
            && cfg
                .get("protocols")
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().any(|v| v == protocol))
    }

    /// Data-transfer limits in bytes, `(upload, download, total)`; 0 means none.
    /// Stored in MiB (`upload_data_transfer`, ...).
    pub fn data_transfer_limits(&self) -> (u64, u64, u64) {
        let mib = |field: &str| {
            let v = self.extra.get(field).and_then(Value::as_i64).unwrap_or(0);
            u64::try_from(v).unwrap_or(0).saturating_mul(1024 * 1024)
        };
        (
            mib("upload_data_transfer"),
            mib("download_data_transfer"),
            mib("total_data_transfer"),
        )
    }

    /// Upload and download bandwidth in KiB/s (0: unlimited) for a client at `ip`: the
    /// first `filters.bandwidth_limits` entry whose sources hold `ip`, else the
    /// user's own.
    pub fn bandwidth_for(&self, ip: Option<std::net::IpAddr>) -> (i64, i64) {
        let limits = self
            .filters
            .extra
            .get("bandwidth_limits")
            .and_then(Value::as_array);
        if let (Some(ip), Some(limits)) = (ip, limits) {
            for limit in limits {
                let hit = limit
                    .get("sources")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|net| super::ip_list::contains(net, ip));
                if hit {
                    let kib = |f: &str| limit.get(f).and_then(Value::as_i64).unwrap_or(0);
                    return (kib("upload_bandwidth"), kib("download_bandwidth"));
                }
            }
        }
        (self.upload_bandwidth, self.download_bandwidth)
    }

    /// Whether `filters.allowed_ip`/`denied_ip` let a client at `ip` in, in SFTPGo's
    /// order: an allowed network admits, then a denied one refuses, then a non-empty
    /// allow list refuses everyone else. An entry that does not parse refuses.
    pub fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        let nets = |field: &str| -> Vec<String> {
            self.filters
                .extra
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        };
        let (allowed, denied) = (nets("allowed_ip"), nets("denied_ip"));
        for net in &allowed {
            if super::ip_list::parse_cidr(net).is_err() {
                return false;
            }
            if super::ip_list::contains(net, ip) {
                return true;
            }
        }
        for net in &denied {
            if super::ip_list::parse_cidr(net).is_err() || super::ip_list::contains(net, ip) {
                return false;
            }
        }
        allowed.is_empty()
    }

    /// Checks the user before it is stored: names, permissions, patterns, home dir.
    pub fn validate(&self) -> Result<()> {
        super::names::check_name("username", &self.username)?;
        super::names::check_email("email", &self.email)?;
        if let Some(more) = self.filters.extra.get("additional_emails") {
            let list = more
                .as_array()
                .ok_or_else(|| Error::invalid("filters.additional_emails: must be a list"))?;
            for e in list {
                let e = e.as_str().ok_or_else(|| {
                    Error::invalid("filters.additional_emails: must be a list of strings")
                })?;
                super::names::check_email("filters.additional_emails", e)?;
            }
        }
        super::names::check_len("description", &self.description, 512)?;
        super::validate_group_mappings(&self.groups)?;
        super::validate_mappings("virtual_folders", &self.virtual_folders)?;
        if self.status != 0 && self.status != 1 {
            return Err(Error::invalid("status: must be 0 or 1"));
        }
        // A primary group can provide the home directory and the permissions.
        let primary = self
            .groups
            .iter()
            .any(|g| g.group_type() == Some(super::GroupType::Primary));
        let inherits_home = primary && self.home_dir.is_empty();
        if !inherits_home && !self.home_dir.starts_with('/') {
            return Err(Error::invalid(format!(
                "home_dir: {:?} must be an absolute path",
                self.home_dir
            )));
        }
        let inherits_perms = primary && self.permissions.is_empty();
        if !inherits_perms && !self.permissions.contains_key("/") {
            return Err(Error::invalid(
                "permissions: permissions for the root dir \"/\" must be set",
            ));
        }
        for (dir, perms) in &self.permissions {
            let canon = VirtualPath::parse(dir)
                .map_err(|e| Error::invalid(format!("permissions: {dir:?}: {e}")))?;
            if canon.as_str() != dir {
                return Err(Error::invalid(format!(
                    "permissions: {dir:?} is not a clean absolute path (use {canon:?})"
                )));
            }
            for p in perms {
                p.parse::<Permission>()
                    .map_err(|e| Error::invalid(format!("permissions: {dir:?}: {e}")))?;
            }
        }
        for f in &self.filters.file_patterns {
            VirtualPath::parse(&f.path)
                .map_err(|e| Error::invalid(format!("filters.file_patterns.path: {e}")))?;
            if f.deny_policy != 0 && f.deny_policy != 1 {
                return Err(Error::invalid(
                    "filters.file_patterns.deny_policy: must be 0 or 1",
                ));
            }
        }
        for field in ["allowed_ip", "denied_ip"] {
            for net in self
                .filters
                .extra
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                super::ip_list::parse_cidr(net.as_str().unwrap_or_default())
                    .map_err(|e| Error::invalid(format!("filters.{field}: {e}")))?;
            }
        }
        for (i, key) in self.public_keys.iter().enumerate() {
            // Empty entries are ignored, as SFTPGo drops them.
            if !key.trim().is_empty() && parse_public_key(key).is_none() {
                return Err(Error::invalid(format!(
                    "public_keys[{i}]: not an OpenSSH public key (\"<type> <base64> [comment]\")"
                )));
            }
        }
        let provider = self
            .filesystem
            .get("provider")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if !(0..=6).contains(&provider) {
            return Err(Error::invalid(format!(
                "filesystem.provider: {provider} is not a known storage back-end (0-6)"
            )));
        }
        Ok(())
    }

    /// The permissions that apply to the virtual directory `dir`: those of the deepest
    /// configured directory that contains it.
    pub fn permissions_for(&self, dir: &VirtualPath) -> HashSet<Permission> {
        for anc in dir.ancestors() {
            if let Some(list) = self.permissions.get(anc.as_str()) {
                return list.iter().filter_map(|p| p.parse().ok()).collect();
            }
        }
        HashSet::new()
    }

    /// Whether a per-directory permission or file-pattern entry sits at `p` or below
    /// it. Moving or linking such a tree would carry its content out from under those
    /// rules (the new location inherits other ones), so callers refuse it.
    pub fn has_rules_within(&self, p: &VirtualPath) -> bool {
        let within =
            |raw: &str| VirtualPath::parse(raw).is_ok_and(|r| !r.is_root() && r.starts_with(p));
        self.permissions.keys().any(|k| within(k))
            || self.filters.file_patterns.iter().any(|f| within(&f.path))
    }

    /// True when `perm` is granted in directory `dir` (`*` grants everything).
    pub fn has_perm(&self, perm: Permission, dir: &VirtualPath) -> bool {
        let set = self.permissions_for(dir);
        set.contains(&Permission::Any) || set.contains(&perm)
    }

    /// True when any of `perms` is granted in `dir`.
    pub fn has_any_perm(&self, perms: &[Permission], dir: &VirtualPath) -> bool {
        let set = self.permissions_for(dir);
        set.contains(&Permission::Any) || perms.iter().any(|p| set.contains(p))
    }

    fn patterns_for(&self, dir: &VirtualPath) -> Option<&PatternsFilter> {
        dir.ancestors().into_iter().find_map(|anc| {
            self.filters
                .file_patterns
                .iter()
                .find(|f| VirtualPath::parse(&f.path).is_ok_and(|p| p == anc))
        })
    }

    /// Whether the entry at `path` is allowed by the file patterns of its directory.
    /// Returns (allowed, hidden-when-denied).
    pub fn name_allowed(&self, path: &VirtualPath) -> (bool, bool) {
        if path.is_root() {
            return (true, false);
        }
        let Some(filter) = self.patterns_for(&path.parent()) else {
            return (true, false);
        };
        let name = path.name();
        let hide = filter.deny_policy == 1;
        if filter
            .denied_patterns
            .iter()
            .any(|p| pattern::matches(p, name))
        {
            return (false, hide);
        }
        if !filter.allowed_patterns.is_empty()
            && !filter
                .allowed_patterns
                .iter()
                .any(|p| pattern::matches(p, name))
        {
            return (false, hide);
        }
        (true, false)
    }

    /// Parses the stored public keys into (algorithm, base64 blob) pairs.
    pub fn key_blobs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.public_keys.iter().filter_map(|k| parse_public_key(k))
    }
}

/// The (type, base64 blob) of an `authorized_keys` line: the first pair of words where
/// the blob decodes to an SSH wire key naming that type, so a leading options field
/// (`from="10.0.0.0/8" ssh-ed25519 AAAA...`) and a trailing comment are skipped.
pub fn parse_public_key(line: &str) -> Option<(&str, &str)> {
    use base64::Engine as _;
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let (algo, blob) = (*pair.first()?, *pair.get(1)?);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .ok()?;
        let len = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?) as usize;
        (raw.get(4..4 + len)? == algo.as_bytes() && raw.len() > 4 + len).then_some((algo, blob))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_filters_follow_sftpgo_order() {
        let with = |allowed: serde_json::Value, denied: serde_json::Value| {
            let mut u = user();
            u.filters.extra.insert("allowed_ip".into(), allowed);
            u.filters.extra.insert("denied_ip".into(), denied);
            u
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let u = with(
            serde_json::json!(["10.1.2.3/32"]),
            serde_json::json!(["10.0.0.0/8"]),
        );
        assert!(u.ip_allowed(ip("10.1.2.3")), "allowed wins over denied");
        assert!(!u.ip_allowed(ip("10.9.9.9")), "denied");
        assert!(
            !u.ip_allowed(ip("192.168.1.1")),
            "outside a non-empty allow list"
        );
        let u = with(serde_json::json!([]), serde_json::json!(["127.0.0.0/8"]));
        assert!(!u.ip_allowed(ip("127.0.0.1")));
        assert!(!u.ip_allowed(ip("::ffff:127.0.0.1")), "IPv4-mapped");
        assert!(u.ip_allowed(ip("::1")));
        let u = with(serde_json::json!([]), serde_json::json!([]));
        assert!(u.ip_allowed(ip("1.2.3.4")));
    }

    #[test]
    fn bandwidth_overrides_and_transfer_limits() {
        let mut u = user();
        u.upload_bandwidth = 100;
        u.download_bandwidth = 200;
        u.filters.extra.insert(
            "bandwidth_limits".into(),
            serde_json::json!([
                {"sources": ["10.0.0.0/8"], "upload_bandwidth": 1, "download_bandwidth": 2},
                {"sources": ["127.0.0.1/32", "::1/128"], "upload_bandwidth": 0, "download_bandwidth": 5}
            ]),
        );
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        assert_eq!(u.bandwidth_for(ip("10.2.3.4")), (1, 2));
        assert_eq!(u.bandwidth_for(ip("::1")), (0, 5));
        assert_eq!(u.bandwidth_for(ip("192.168.0.1")), (100, 200));
        assert_eq!(u.bandwidth_for(None), (100, 200));
        u.extra
            .insert("upload_data_transfer".into(), serde_json::json!(2));
        u.extra
            .insert("total_data_transfer".into(), serde_json::json!(-1));
        assert_eq!(u.data_transfer_limits(), (2 << 20, 0, 0));
    }

    #[test]
    fn public_keys_must_parse() {
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIHJ1c3QtaXMtZ3JlYXQtaW5kZWVkLW9rLW9rLW9reHh4";
        let ok = format!("ssh-ed25519 {blob} a@b");
        assert_eq!(parse_public_key(&ok), Some(("ssh-ed25519", blob)));
        let with_options = format!("from=\"10.0.0.0/8\",no-pty ssh-ed25519 {blob} a@b");
        assert_eq!(parse_public_key(&with_options), Some(("ssh-ed25519", blob)));
        assert!(parse_public_key("not a key").is_none());
        assert!(parse_public_key(&format!("ssh-rsa {blob}")).is_none());
        assert!(parse_public_key("ssh-ed25519 !!!").is_none());
        assert!(parse_public_key("ssh-ed25519").is_none());
        let mut u = user();
        u.public_keys = vec![String::new(), with_options];
        assert!(
            u.validate().is_ok(),
            "empty entries and options are accepted"
        );
        assert_eq!(u.key_blobs().count(), 1);
        u.public_keys.push("garbage".into());
        assert!(u.validate().is_err());
    }

    fn user() -> User {
        serde_json::from_value(serde_json::json!({
            "username": "u", "home_dir": "/srv/u",
            "permissions": {"/": ["*"], "/ro": ["list", "download"], "/ro/deep/rw": ["upload"]},
            "filters": {"file_patterns": [{"path": "/p", "allowed_patterns": ["*.txt"], "denied_patterns": ["bad*"]}]},
            "virtual_folders": [], "some_future_field": {"x": 1}
        }))
        .unwrap()
    }

    #[test]
    fn deepest_permissions_win() {
        let u = user();
        let ro = VirtualPath::parse("/ro/sub").unwrap();
        assert!(u.has_perm(Permission::Download, &ro));
        assert!(!u.has_perm(Permission::Upload, &ro));
        assert!(u.has_perm(
            Permission::Upload,
            &VirtualPath::parse("/ro/deep/rw/x").unwrap()
        ));
        assert!(!u.has_perm(
            Permission::List,
            &VirtualPath::parse("/ro/deep/rw").unwrap()
        ));
        assert!(u.has_perm(Permission::Chmod, &VirtualPath::parse("/other").unwrap()));
    }

    #[test]
    fn rules_within_a_tree() {
        let u = user();
        let within = |s: &str| u.has_rules_within(&VirtualPath::parse(s).unwrap());
        assert!(within("/ro"), "a rule at the path itself");
        assert!(within("/ro/deep"), "a rule below");
        assert!(within("/p"), "a pattern entry");
        assert!(!within("/ro/deep/rw/x"), "rules above do not count");
        assert!(!within("/other"));
        assert!(within("/"), "everything is below the root");
    }

    #[test]
    fn anonymous_users_are_narrowed() {
        let mut u = user();
        assert!(!u.is_anonymous());
        u.filters
            .extra
            .insert("is_anonymous".into(), serde_json::json!(true));
        assert!(u.is_anonymous());
        u.apply_anonymous_settings();
        for perms in u.permissions.values() {
            assert_eq!(perms, &vec!["list".to_string(), "download".to_string()]);
        }
        assert!(u.filters.denied_protocols.contains(&"SSH".to_string()));
        assert!(u.filters.denied_protocols.contains(&"HTTP".to_string()));
    }

    #[test]
    fn patterns() {
        let u = user();
        let ok = |s: &str| u.name_allowed(&VirtualPath::parse(s).unwrap()).0;
        assert!(ok("/p/a.txt"));
        assert!(!ok("/p/a.bin"));
        assert!(!ok("/p/bad.txt"));
        assert!(ok("/elsewhere/a.bin"));
        assert!(!ok("/p/sub/a.bin"));
    }

    #[test]
    fn unknown_fields_round_trip() {
        let u = user();
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(v["some_future_field"]["x"], 1);
    }

    #[test]
    fn validation_names_the_field() {
        let mut u = user();
        u.permissions.insert("/x".into(), vec!["fly".into()]);
        let e = u.validate().unwrap_err();
        assert!(e.message.contains("permissions"), "{e}");
        let mut u = user();
        u.username = "../x".into();
        assert!(u.validate().unwrap_err().message.contains("username"));
    }
}
