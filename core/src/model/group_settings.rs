//! A user's effective settings: what its groups add at login, following SFTPGo's rules
//! (`mergeWithPrimaryGroup`, `mergeAdditiveProperties`):
//!
//! - the **primary** group's `home_dir`, non-local file system and `/` permissions
//!   replace the user's; its limits, quotas, expiry (`expires_in`) and filters fill what
//!   the user leaves at zero or empty;
//! - **primary and secondary** groups add folders, permissions and file patterns for
//!   paths the user does not configure (a secondary group's `/` entries are ignored),
//!   and append IP filters, denied methods and protocols, bandwidth limits, WebClient
//!   options, 2FA protocols and access times;
//! - **membership** groups add nothing.
//!
//! `%username%` and `%role%` are replaced in one pass (a username cannot inject
//! `%role%`), and the home directory is cleaned lexically.

use serde_json::{Map, Value};

use super::{FolderMapping, Group, GroupType, PatternsFilter, User};

/// Replaces `%username%` and `%role%` in `template` in a single left-to-right pass:
/// replacement text is never scanned again.
pub fn replace_placeholders(template: &str, user: &User) -> String {
    let mut out = String::with_capacity(template.len() + user.username.len());
    let mut rest = template;
    while let Some(pos) = rest.find('%') {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        if let Some(tail) = after.strip_prefix("%username%") {
            out.push_str(&user.username);
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("%role%") {
            out.push_str(&user.role);
            rest = tail;
        } else {
            out.push('%');
            rest = after.get(1..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    out
}

/// Lexical clean of an absolute path (`//`, `.` and `..` resolved; never above `/`).
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn int(map: &Map<String, Value>, key: &str) -> i64 {
    map.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn truthy(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Replaces placeholders in the file system fields SFTPGo templates: the key prefix of
/// S3/GCS/Azure, the SFTP username and prefix, the HTTP username.
fn fs_placeholders(fs: &mut Value, user: &User) {
    let provider = fs.get("provider").and_then(Value::as_i64).unwrap_or(0);
    let fields: &[(&str, &str)] = match provider {
        1 => &[("s3config", "key_prefix")],
        2 => &[("gcsconfig", "key_prefix")],
        3 => &[("azblobconfig", "key_prefix")],
        5 => &[("sftpconfig", "username"), ("sftpconfig", "prefix")],
        6 => &[("httpconfig", "username")],
        _ => &[],
    };
    for (section, field) in fields {
        if let Some(Value::String(s)) = fs.get_mut(*section).and_then(|c| c.get_mut(*field))
            && !s.is_empty()
        {
            *s = replace_placeholders(s, user);
        }
    }
}

/// Copies `group.<section>.<field>` into `user.<section>.<field>` when the user's is 0.
fn fill_buffer_sizes(user_fs: &mut Value, group_fs: &Value, section: &str) {
    for field in ["read_buffer_size", "write_buffer_size"] {
        let theirs = group_fs
            .get(section)
            .and_then(|c| c.get(field))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let ours = user_fs
            .get(section)
            .and_then(|c| c.get(field))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if ours == 0
            && theirs != 0
            && let Some(obj) = user_fs.as_object_mut()
        {
            let entry = obj
                .entry(section.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(sec) = entry.as_object_mut() {
                sec.insert(field.to_string(), Value::from(theirs));
            }
        }
    }
}

/// Applies the user's groups: the primary one first, then the secondary ones in order.
pub fn apply_groups(user: &mut User, groups: &[(GroupType, Group)]) {
    if let Some((_, primary)) = groups.iter().find(|(t, _)| *t == GroupType::Primary) {
        apply_primary(user, primary);
    }
    for (_, group) in groups.iter().filter(|(t, _)| *t == GroupType::Secondary) {
        apply_additive(user, group, GroupType::Secondary);
    }
    for field in [
        "allowed_ip",
        "denied_ip",
        "web_client",
        "two_factor_protocols",
    ] {
        if let Some(Value::Array(list)) = user.filters.extra.get_mut(field) {
            let mut seen = Vec::new();
            list.retain(|v| {
                let fresh = !seen.contains(v);
                seen.push(v.clone());
                fresh
            });
        }
    }
    dedup(&mut user.filters.denied_login_methods);
    dedup(&mut user.filters.denied_protocols);
}

fn dedup(list: &mut Vec<String>) {
    let mut seen: Vec<String> = Vec::new();
    list.retain(|v| {
        let fresh = !seen.contains(v);
        seen.push(v.clone());
        fresh
    });
}

fn apply_primary(user: &mut User, group: &Group) {
    let s = &group.user_settings;
    if let Some(home) = s.get("home_dir").and_then(Value::as_str)
        && !home.is_empty()
    {
        user.home_dir = clean_path(&replace_placeholders(home, user));
    }
    let group_fs = s.get("filesystem").cloned().unwrap_or(Value::Null);
    let group_provider = group_fs
        .get("provider")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if group_provider != 0 {
        let mut fs = group_fs.clone();
        fs_placeholders(&mut fs, user);
        if group_provider == 4 {
            let own = user.filesystem.clone();
            fill_buffer_sizes(&mut fs, &own, "cryptconfig");
        }
        user.filesystem = fs;
    } else {
        fill_buffer_sizes(&mut user.filesystem, &group_fs, "osconfig");
    }
    if user.max_sessions == 0 {
        user.max_sessions = i32::try_from(int(s, "max_sessions")).unwrap_or(0);
    }
    if user.quota_size == 0 {
        user.quota_size = int(s, "quota_size");
    }
    if user.quota_files == 0 {
        user.quota_files = i32::try_from(int(s, "quota_files")).unwrap_or(0);
    }
    if user.upload_bandwidth == 0 {
        user.upload_bandwidth = int(s, "upload_bandwidth");
    }
    if user.download_bandwidth == 0 {
        user.download_bandwidth = int(s, "download_bandwidth");
    }
    let transfer = [
        "upload_data_transfer",
        "download_data_transfer",
        "total_data_transfer",
    ];
    if transfer.iter().all(|f| int(&user.extra, f) == 0) {
        for f in transfer {
            user.extra.insert(f.to_string(), Value::from(int(s, f)));
        }
    }
    let expires_in = int(s, "expires_in");
    if user.expiration_date == 0 && expires_in > 0 {
        user.expiration_date = user.created_at.saturating_add(expires_in * 86_400_000);
    }
    if let Some(filters) = s.get("filters").and_then(Value::as_object) {
        apply_primary_filters(user, filters);
    }
    apply_additive(user, group, GroupType::Primary);
}

fn apply_primary_filters(user: &mut User, f: &Map<String, Value>) {
    if user.filters.max_upload_file_size == 0 {
        user.filters.max_upload_file_size = int(f, "max_upload_file_size");
    }
    if user.filters.start_directory.is_empty()
        && let Some(dir) = f.get("start_directory").and_then(Value::as_str)
    {
        user.filters.start_directory = replace_placeholders(dir, user);
    }
    let extra = &mut user.filters.extra;
    if extra
        .get("tls_username")
        .and_then(Value::as_str)
        .is_none_or(|s| s.is_empty() || s == "None")
        && let Some(v) = f.get("tls_username")
    {
        extra.insert("tls_username".into(), v.clone());
    }
    for flag in ["disable_fs_checks", "allow_api_key_auth", "is_anonymous"] {
        if !truthy(extra, flag) && truthy(f, flag) {
            extra.insert(flag.into(), Value::Bool(true));
        }
    }
    if let Some(group_hooks) = f.get("hooks").and_then(Value::as_object) {
        let hooks = extra
            .entry("hooks".to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(hooks) = hooks.as_object_mut() {
            for flag in [
                "external_auth_disabled",
                "pre_login_disabled",
                "check_password_disabled",
            ] {
                if !truthy(hooks, flag) && truthy(group_hooks, flag) {
                    hooks.insert(flag.into(), Value::Bool(true));
                }
            }
        }
    }
    for field in [
        "external_auth_cache_time",
        "ftp_security",
        "default_shares_expiration",
        "max_shares_expiration",
        "password_expiration",
        "password_strength",
    ] {
        if int(extra, field) == 0 && int(f, field) != 0 {
            extra.insert(field.into(), Value::from(int(f, field)));
        }
    }
}

fn apply_additive(user: &mut User, group: &Group, kind: GroupType) {
    let primary = kind == GroupType::Primary;
    for folder in &group.virtual_folders {
        if folder.virtual_path == "/" && !primary {
            continue;
        }
        let mut folder: FolderMapping = folder.clone();
        folder.virtual_path = replace_placeholders(&folder.virtual_path, user);
        if user
            .virtual_folders
            .iter()
            .any(|f| f.virtual_path == folder.virtual_path)
        {
            continue;
        }
        if let Some(Value::String(mapped)) = folder.extra.get_mut("mapped_path") {
            *mapped = replace_placeholders(mapped, user);
        }
        if let Some(fs) = folder.extra.get_mut("filesystem") {
            fs_placeholders(fs, user);
        }
        user.virtual_folders.push(folder);
    }
    let s = &group.user_settings;
    if let Some(perms) = s.get("permissions").and_then(Value::as_object) {
        for (dir, list) in perms {
            let list: Vec<String> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            if dir == "/" {
                if primary {
                    user.permissions.insert(dir.clone(), list);
                }
                continue;
            }
            let dir = replace_placeholders(dir, user);
            user.permissions.entry(dir).or_insert(list);
        }
    }
    let empty = Map::new();
    let f = s
        .get("filters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(patterns) = f.get("file_patterns")
        && let Ok(patterns) = serde_json::from_value::<Vec<PatternsFilter>>(patterns.clone())
    {
        for mut p in patterns {
            if p.path == "/" && !primary {
                continue;
            }
            p.path = replace_placeholders(&p.path, user);
            if !user.filters.file_patterns.iter().any(|u| u.path == p.path) {
                user.filters.file_patterns.push(p);
            }
        }
    }
    for (target, key) in [
        (
            &mut user.filters.denied_login_methods,
            "denied_login_methods",
        ),
        (&mut user.filters.denied_protocols, "denied_protocols"),
    ] {
        target.extend(
            f.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
    }
    for key in [
        "bandwidth_limits",
        "allowed_ip",
        "denied_ip",
        "web_client",
        "two_factor_protocols",
        "access_time",
    ] {
        let Some(add) = f.get(key).and_then(Value::as_array) else {
            continue;
        };
        let entry = user
            .filters
            .extra
            .entry(key.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = entry.as_array_mut() {
            list.extend(add.iter().cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(settings: Value) -> Group {
        serde_json::from_value(json!({"name": "g", "user_settings": settings,
            "virtual_folders": [{"name": "shared", "virtual_path": "/shared"},
                {"name": "home", "virtual_path": "/"}]}))
        .unwrap()
    }

    fn user(v: Value) -> User {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn placeholders_are_replaced_in_one_pass() {
        let u = user(json!({"username": "%role%", "role": "support"}));
        assert_eq!(
            replace_placeholders("/srv/%role%/%username%", &u),
            "/srv/support/%role%"
        );
        let u = user(json!({"username": "a%b", "role": ""}));
        assert_eq!(replace_placeholders("/h/%username%%", &u), "/h/a%b%");
        assert_eq!(clean_path("/srv//a/./b/../c"), "/srv/a/c");
        assert_eq!(clean_path("/../.."), "/");
    }

    #[test]
    fn primary_group_replaces_home_fs_and_root_permissions() {
        let mut u = user(
            json!({"username": "alice", "role": "ops", "created_at": 1000,
            "home_dir": "/srv/data/alice", "permissions": {"/": ["*"], "/in": ["upload"]},
            "max_sessions": 2}),
        );
        let g = group(
            json!({"home_dir": "/srv/%role%//%username%", "max_sessions": 9,
            "quota_size": 100, "quota_files": 5, "expires_in": 2,
            "permissions": {"/": ["list", "download"], "/in": ["*"], "/%username%": ["list"]},
            "filesystem": {"provider": 1, "s3config": {"bucket": "b-%username%",
                "key_prefix": "users/%username%/"}},
            "filters": {"denied_protocols": ["FTP"], "start_directory": "/%username%",
                "allow_api_key_auth": true, "file_patterns": [{"path": "/", "denied_patterns": ["*.exe"]}]}}),
        );
        apply_groups(&mut u, &[(GroupType::Primary, g)]);
        assert_eq!(
            u.home_dir, "/srv/ops/alice",
            "the group's home replaces the user's"
        );
        assert_eq!(
            u.permissions["/"],
            vec!["list", "download"],
            "primary / wins"
        );
        assert_eq!(
            u.permissions["/in"],
            vec!["upload"],
            "the user's other dirs win"
        );
        assert_eq!(u.permissions["/alice"], vec!["list"]);
        assert_eq!(u.filesystem["s3config"]["key_prefix"], "users/alice/");
        assert_eq!(
            u.filesystem["s3config"]["bucket"], "b-%username%",
            "only SFTPGo's fields"
        );
        assert_eq!((u.max_sessions, u.quota_size, u.quota_files), (2, 100, 5));
        assert_eq!(u.expiration_date, 1000 + 2 * 86_400_000);
        assert_eq!(u.filters.denied_protocols, vec!["FTP"]);
        assert_eq!(u.filters.start_directory, "/alice");
        assert_eq!(u.filters.extra["allow_api_key_auth"], true);
        assert_eq!(u.filters.file_patterns.len(), 1);
        let mounts: Vec<&str> = u
            .virtual_folders
            .iter()
            .map(|f| f.virtual_path.as_str())
            .collect();
        assert_eq!(mounts, ["/shared", "/"]);
    }

    #[test]
    fn secondary_groups_only_add_and_skip_root_entries() {
        let mut u = user(json!({"username": "bob", "home_dir": "/home/bob",
            "permissions": {"/": ["*"]}, "filters": {"denied_protocols": ["FTP"]}}));
        let g = group(json!({"home_dir": "/elsewhere", "max_sessions": 9,
            "permissions": {"/": ["list"], "/ro": ["list"]},
            "filters": {"denied_protocols": ["FTP", "DAV"], "allowed_ip": ["10.0.0.0/8"],
                "file_patterns": [{"path": "/", "denied_patterns": ["*"]}]}}));
        apply_groups(&mut u, &[(GroupType::Secondary, g.clone())]);
        assert_eq!(u.home_dir, "/home/bob");
        assert_eq!(u.max_sessions, 0);
        assert_eq!(u.permissions["/"], vec!["*"]);
        assert_eq!(u.permissions["/ro"], vec!["list"]);
        assert_eq!(
            u.filters.denied_protocols,
            vec!["FTP", "DAV"],
            "appended, deduplicated"
        );
        assert_eq!(u.filters.extra["allowed_ip"], json!(["10.0.0.0/8"]));
        assert!(
            u.filters.file_patterns.is_empty(),
            "a secondary / pattern is ignored"
        );
        let mounts: Vec<&str> = u
            .virtual_folders
            .iter()
            .map(|f| f.virtual_path.as_str())
            .collect();
        assert_eq!(mounts, ["/shared"], "a secondary / folder is ignored");
        let mut m = u.clone();
        apply_groups(&mut m, &[(GroupType::Membership, g)]);
        assert_eq!(m, u, "membership adds nothing");
    }
}
