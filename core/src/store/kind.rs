//! The kinds of object a data provider keeps, the counters each one has, how objects
//! refer to each other, and what deleting a referenced object does. Engines store
//! objects as JSON documents; everything here works on that JSON, so every engine applies
//! the same rules.

use serde_json::Value;

/// A kind of stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A virtual user (key: username).
    User,
    /// A group (key: name).
    Group,
    /// A virtual folder, `BaseVirtualFolder` (key: name).
    Folder,
    /// An administrator (key: username).
    Admin,
    /// A role (key: name).
    Role,
    /// An API key (key: its id).
    ApiKey,
    /// A share (key: its id).
    Share,
    /// An event action (key: name).
    EventAction,
    /// An event rule (key: name).
    EventRule,
    /// An IP list entry (key: `<type>:<ipornet>`).
    IpListEntry,
    /// The `configs` object (one, key `configs`).
    Configs,
}

/// A counter slot. Counters are kept beside the document so concurrent updates add up
/// (`used_quota_size = used_quota_size + n`) instead of overwriting each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Bytes used (users, folders) or tokens used (shares).
    Usage = 0,
    /// Files used.
    Files = 1,
    /// Last quota update, Unix ms.
    QuotaUpdate = 2,
    /// Uploaded bytes counted against the transfer limit.
    UploadTransfer = 3,
    /// Downloaded bytes counted against the transfer limit.
    DownloadTransfer = 4,
    /// Last login or last use, Unix ms.
    LastUse = 5,
    /// First upload, Unix ms.
    FirstUpload = 6,
    /// First download, Unix ms.
    FirstDownload = 7,
}

/// Number of counter slots per object.
pub const COUNTERS: usize = 8;

/// How to change one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterOp {
    /// Add (may be negative).
    Add(i64),
    /// Overwrite.
    Set(i64),
    /// Set only while the counter is still 0 (first upload/download).
    SetIfZero(i64),
}

/// What deleting an object does to an object that refers to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The delete is refused while the reference exists.
    Restrict,
    /// The referring object is deleted too.
    Cascade,
    /// The reference is removed from the referring object.
    Unlink,
}

/// A reference to an object: kind and key.
pub type Ref = (Kind, String);

impl Kind {
    /// Every kind, in the order a dump is loaded (referenced kinds first).
    pub const ALL: [Kind; 11] = [
        Kind::Role,
        Kind::Folder,
        Kind::Group,
        Kind::User,
        Kind::Admin,
        Kind::ApiKey,
        Kind::Share,
        Kind::EventAction,
        Kind::EventRule,
        Kind::IpListEntry,
        Kind::Configs,
    ];

    /// The stable number engines store.
    pub fn code(self) -> i64 {
        match self {
            Kind::User => 1,
            Kind::Group => 2,
            Kind::Folder => 3,
            Kind::Admin => 4,
            Kind::Role => 5,
            Kind::ApiKey => 6,
            Kind::Share => 7,
            Kind::EventAction => 8,
            Kind::EventRule => 9,
            Kind::IpListEntry => 10,
            Kind::Configs => 11,
        }
    }

    /// The kind stored under `code`.
    pub fn from_code(code: i64) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Name used in messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Folder => "folder",
            Kind::Admin => "admin",
            Kind::Role => "role",
            Kind::ApiKey => "API key",
            Kind::Share => "share",
            Kind::EventAction => "event action",
            Kind::EventRule => "event rule",
            Kind::IpListEntry => "IP list entry",
            Kind::Configs => "configs",
        }
    }

    /// The JSON fields kept as counters, with their slots.
    pub fn counters(self) -> &'static [(Counter, &'static str)] {
        match self {
            Kind::User => &[
                (Counter::Usage, "used_quota_size"),
                (Counter::Files, "used_quota_files"),
                (Counter::QuotaUpdate, "last_quota_update"),
                (Counter::UploadTransfer, "used_upload_data_transfer"),
                (Counter::DownloadTransfer, "used_download_data_transfer"),
                (Counter::LastUse, "last_login"),
                (Counter::FirstUpload, "first_upload"),
                (Counter::FirstDownload, "first_download"),
            ],
            Kind::Folder => &[
                (Counter::Usage, "used_quota_size"),
                (Counter::Files, "used_quota_files"),
                (Counter::QuotaUpdate, "last_quota_update"),
            ],
            Kind::Admin => &[(Counter::LastUse, "last_login")],
            Kind::ApiKey => &[(Counter::LastUse, "last_use_at")],
            Kind::Share => &[
                (Counter::Usage, "used_tokens"),
                (Counter::LastUse, "last_use_at"),
            ],
            _ => &[],
        }
    }

    /// Read-only JSON fields listing who refers to an object (filled on read, never
    /// stored): field name and the referring kind.
    pub fn referrer_fields(self) -> &'static [(&'static str, Kind)] {
        match self {
            Kind::Group => &[("users", Kind::User), ("admins", Kind::Admin)],
            Kind::Folder => &[("users", Kind::User), ("groups", Kind::Group)],
            Kind::Role => &[("users", Kind::User), ("admins", Kind::Admin)],
            Kind::EventAction => &[("rules", Kind::EventRule)],
            _ => &[],
        }
    }
}

fn names_in(data: &Value, field: &str) -> impl Iterator<Item = String> {
    data.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .map(str::to_string)
}

fn string_field(data: &Value, field: &str) -> Option<String> {
    data.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The objects a document of `kind` refers to, read from its JSON.
pub fn refs_of(kind: Kind, data: &Value) -> Vec<Ref> {
    let mut out: Vec<Ref> = Vec::new();
    match kind {
        Kind::User => {
            out.extend(names_in(data, "groups").map(|n| (Kind::Group, n)));
            out.extend(names_in(data, "virtual_folders").map(|n| (Kind::Folder, n)));
            out.extend(string_field(data, "role").map(|n| (Kind::Role, n)));
        }
        Kind::Group => out.extend(names_in(data, "virtual_folders").map(|n| (Kind::Folder, n))),
        Kind::Admin => {
            out.extend(names_in(data, "groups").map(|n| (Kind::Group, n)));
            out.extend(string_field(data, "role").map(|n| (Kind::Role, n)));
        }
        Kind::ApiKey => {
            out.extend(string_field(data, "user").map(|n| (Kind::User, n)));
            out.extend(string_field(data, "admin").map(|n| (Kind::Admin, n)));
        }
        Kind::Share => out.extend(string_field(data, "username").map(|n| (Kind::User, n))),
        Kind::EventRule => out.extend(names_in(data, "actions").map(|n| (Kind::EventAction, n))),
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// What deleting an object of kind `to` does to a `from` object referring to it
/// (SFTPGo's rules: a group with users, a role with admins and an action used by a rule
/// cannot be deleted; folders, a user's role and an admin's groups are unlinked; a user's
/// shares and API keys go with it).
pub fn on_delete(from: Kind, to: Kind) -> OnDelete {
    match (from, to) {
        (Kind::User | Kind::Group, Kind::Folder)
        | (Kind::User, Kind::Role)
        | (Kind::Admin, Kind::Group) => OnDelete::Unlink,
        (Kind::Share | Kind::ApiKey, Kind::User) | (Kind::ApiKey, Kind::Admin) => OnDelete::Cascade,
        _ => OnDelete::Restrict,
    }
}

/// Removes the reference to `(to, key)` from `data`, a document of kind `from`.
pub fn unlink(from: Kind, data: &mut Value, to: Kind, key: &str) {
    let field = match (from, to) {
        (Kind::User | Kind::Group, Kind::Folder) => "virtual_folders",
        (Kind::User | Kind::Admin, Kind::Group) => "groups",
        (_, Kind::Role) => {
            if let Some(obj) = data.as_object_mut() {
                obj.insert("role".into(), Value::String(String::new()));
            }
            return;
        }
        _ => return,
    };
    if let Some(list) = data.get_mut(field).and_then(Value::as_array_mut) {
        list.retain(|v| v.get("name").and_then(Value::as_str) != Some(key));
    }
}

/// Moves the counter fields out of `data` into slots (missing fields count 0).
pub fn take_counters(kind: Kind, data: &mut Value) -> [i64; COUNTERS] {
    let mut slots = [0i64; COUNTERS];
    if let Some(obj) = data.as_object_mut() {
        for (counter, field) in kind.counters() {
            if let Some(v) = obj.remove(*field)
                && let Some(slot) = slots.get_mut(*counter as usize)
            {
                *slot = v.as_i64().unwrap_or(0);
            }
        }
    }
    slots
}

/// Writes the counter slots back into `data` under their JSON names.
pub fn put_counters(kind: Kind, data: &mut Value, slots: &[i64; COUNTERS]) {
    if let Some(obj) = data.as_object_mut() {
        for (counter, field) in kind.counters() {
            let v = slots.get(*counter as usize).copied().unwrap_or(0);
            obj.insert((*field).to_string(), Value::from(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_read_from_json() {
        let user = json!({"groups": [{"name": "g1", "type": 1}, {"name": "g2", "type": 2}],
            "virtual_folders": [{"name": "f", "virtual_path": "/f"}], "role": "r"});
        assert_eq!(
            refs_of(Kind::User, &user),
            vec![
                (Kind::Group, "g1".to_string()),
                (Kind::Group, "g2".to_string()),
                (Kind::Folder, "f".to_string()),
                (Kind::Role, "r".to_string()),
            ]
        );
        assert!(refs_of(Kind::User, &json!({"role": ""})).is_empty());
    }

    #[test]
    fn unlink_removes_only_the_named_reference() {
        let mut user = json!({"virtual_folders": [{"name": "a"}, {"name": "b"}], "role": "r"});
        unlink(Kind::User, &mut user, Kind::Folder, "a");
        unlink(Kind::User, &mut user, Kind::Role, "r");
        assert_eq!(
            user,
            json!({"virtual_folders": [{"name": "b"}], "role": ""})
        );
    }

    #[test]
    fn counters_leave_and_return() {
        let mut v = json!({"username": "u", "used_quota_size": 5, "last_login": 9});
        let slots = take_counters(Kind::User, &mut v);
        assert_eq!(v, json!({"username": "u"}));
        assert_eq!(slots[Counter::Usage as usize], 5);
        put_counters(Kind::User, &mut v, &slots);
        assert_eq!(v["last_login"], 9);
        assert_eq!(v["first_upload"], 0);
    }

    #[test]
    fn codes_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
        }
    }
}
