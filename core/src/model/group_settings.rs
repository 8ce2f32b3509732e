//! A user's effective settings: what its primary and secondary groups add at login
//! (SFTPGo's group inheritance). The primary group fills what the user leaves unset
//! (home directory with `%username%`/`%role%` placeholders, file system, limits); primary
//! and secondary groups both add permissions, file patterns, login restrictions and
//! folders the user does not define itself. Membership-only groups add nothing.

use serde_json::Value;

use super::{FolderMapping, Group, GroupType, PatternsFilter, User};
use crate::path::VirtualPath;

/// Replaces `%username%` and `%role%` in `s`. Both are validated names (no `/`, `\`,
/// `..` or control characters), so the result cannot leave the directory the template
/// names.
pub fn replace_placeholders(s: &str, user: &User) -> String {
    s.replace("%username%", &user.username)
        .replace("%role%", &user.role)
}

fn placeholders_in(v: &mut Value, user: &User) {
    match v {
        Value::String(s) => *s = replace_placeholders(s, user),
        Value::Array(a) => a.iter_mut().for_each(|x| placeholders_in(x, user)),
        Value::Object(o) => o.values_mut().for_each(|x| placeholders_in(x, user)),
        _ => {}
    }
}

fn int(settings: &serde_json::Map<String, Value>, key: &str) -> i64 {
    settings.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn fill_zero(target: &mut i64, settings: &serde_json::Map<String, Value>, key: &str) {
    if *target == 0 {
        *target = int(settings, key);
    }
}

fn union(target: &mut Vec<String>, add: Option<&Value>) {
    for v in add.and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = v.as_str()
            && !target.iter().any(|t| t == s)
        {
            target.push(s.to_string());
        }
    }
}

fn union_extra(user: &mut User, filters: &serde_json::Map<String, Value>, key: &str) {
    let Some(add) = filters.get(key).and_then(Value::as_array) else {
        return;
    };
    let entry = user
        .filters
        .extra
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = entry.as_array_mut() {
        for v in add {
            if !list.contains(v) {
                list.push(v.clone());
            }
        }
    }
}

/// Applies `group`'s `user_settings` to `user` as a group of type `kind`.
pub fn apply_group_settings(user: &mut User, group: &Group, kind: GroupType) {
    if kind == GroupType::Membership {
        return;
    }
    let settings = &group.user_settings;
    if kind == GroupType::Primary {
        apply_primary(user, settings);
    }
    // Permissions for directories the user does not configure itself.
    if let Some(perms) = settings.get("permissions").and_then(Value::as_object) {
        for (dir, list) in perms {
            if user.permissions.contains_key(dir) {
                continue;
            }
            let list: Vec<String> = list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            user.permissions.insert(dir.clone(), list);
        }
    }
    let empty = serde_json::Map::new();
    let filters = settings
        .get("filters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    union(
        &mut user.filters.denied_login_methods,
        filters.get("denied_login_methods"),
    );
    union(
        &mut user.filters.denied_protocols,
        filters.get("denied_protocols"),
    );
    for key in [
        "allowed_ip",
        "denied_ip",
        "two_factor_protocols",
        "web_client",
    ] {
        union_extra(user, filters, key);
    }
    if let Some(patterns) = filters.get("file_patterns")
        && let Ok(patterns) = serde_json::from_value::<Vec<PatternsFilter>>(patterns.clone())
    {
        for p in patterns {
            if !user.filters.file_patterns.iter().any(|u| u.path == p.path) {
                user.filters.file_patterns.push(p);
            }
        }
    }
    for folder in &group.virtual_folders {
        add_folder(user, folder);
    }
}

fn apply_primary(user: &mut User, settings: &serde_json::Map<String, Value>) {
    if user.home_dir.is_empty()
        && let Some(home) = settings.get("home_dir").and_then(Value::as_str)
    {
        user.home_dir = replace_placeholders(home, user);
    }
    let user_fs_local = user
        .filesystem
        .get("provider")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        == 0;
    if user_fs_local && let Some(fs) = settings.get("filesystem") {
        let provider = fs.get("provider").and_then(Value::as_i64).unwrap_or(0);
        if provider != 0 {
            let mut fs = fs.clone();
            placeholders_in(&mut fs, user);
            user.filesystem = fs;
        }
    }
    if user.max_sessions == 0 {
        user.max_sessions = i32::try_from(int(settings, "max_sessions")).unwrap_or(0);
    }
    if user.quota_size == 0 && user.quota_files == 0 {
        user.quota_size = int(settings, "quota_size");
        user.quota_files = i32::try_from(int(settings, "quota_files")).unwrap_or(0);
    }
    fill_zero(&mut user.upload_bandwidth, settings, "upload_bandwidth");
    fill_zero(&mut user.download_bandwidth, settings, "download_bandwidth");
    if let Some(filters) = settings.get("filters").and_then(Value::as_object) {
        if user.filters.max_upload_file_size == 0 {
            user.filters.max_upload_file_size = int(filters, "max_upload_file_size");
        }
        if user.filters.start_directory.is_empty()
            && let Some(dir) = filters.get("start_directory").and_then(Value::as_str)
        {
            user.filters.start_directory = replace_placeholders(dir, user);
        }
    }
}

/// Adds a group's folder unless the user already mounts something at that path or
/// around it.
fn add_folder(user: &mut User, folder: &FolderMapping) {
    let Ok(vp) = VirtualPath::parse(&folder.virtual_path) else {
        return;
    };
    let taken = user.virtual_folders.iter().any(|f| {
        VirtualPath::parse(&f.virtual_path)
            .is_ok_and(|other| other.starts_with(&vp) || vp.starts_with(&other))
    });
    if !taken {
        user.virtual_folders.push(folder.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn group(settings: Value) -> Group {
        serde_json::from_value(json!({"name": "g", "user_settings": settings,
            "virtual_folders": [{"name": "shared", "virtual_path": "/shared"}]}))
        .unwrap()
    }

    #[test]
    fn primary_group_fills_what_the_user_leaves_unset() {
        let mut u: User = serde_json::from_value(json!({"username": "alice", "role": "ops",
            "permissions": {"/in": ["upload"]}, "max_sessions": 2}))
        .unwrap();
        let g = group(
            json!({"home_dir": "/srv/%role%/%username%", "max_sessions": 9,
            "quota_size": 100, "permissions": {"/": ["list", "download"], "/in": ["*"]},
            "filters": {"denied_protocols": ["FTP"], "start_directory": "/%username%"}}),
        );
        apply_group_settings(&mut u, &g, GroupType::Primary);
        assert_eq!(u.home_dir, "/srv/ops/alice");
        assert_eq!(u.max_sessions, 2, "the user's own value wins");
        assert_eq!(u.quota_size, 100);
        assert_eq!(u.permissions["/"], vec!["list", "download"]);
        assert_eq!(
            u.permissions["/in"],
            vec!["upload"],
            "the user's own value wins"
        );
        assert_eq!(u.filters.denied_protocols, vec!["FTP"]);
        assert_eq!(u.filters.start_directory, "/alice");
        assert_eq!(u.virtual_folders.len(), 1);
    }

    #[test]
    fn secondary_groups_only_add() {
        let mut u: User = serde_json::from_value(json!({"username": "bob",
            "home_dir": "/home/bob", "permissions": {"/": ["*"]}}))
        .unwrap();
        let g = group(json!({"home_dir": "/elsewhere", "max_sessions": 9,
            "permissions": {"/": ["list"], "/ro": ["list"]}}));
        apply_group_settings(&mut u, &g, GroupType::Secondary);
        assert_eq!(u.home_dir, "/home/bob");
        assert_eq!(u.max_sessions, 0);
        assert_eq!(u.permissions["/"], vec!["*"]);
        assert_eq!(u.permissions["/ro"], vec!["list"]);
        let mut m = u.clone();
        apply_group_settings(
            &mut m,
            &group(json!({"permissions": {"/x": ["list"]}})),
            GroupType::Membership,
        );
        assert_eq!(m, u, "membership adds nothing");
    }
}
