//! Event rule conditions (`EventConditions`): which events, schedules and names a rule
//! reacts to, checked and put in canonical form per trigger as SFTPGo does, and the
//! name/path pattern matching rules use.

use serde::{Deserialize, Serialize};

use super::schedule::Schedule;
use crate::{Error, Result};

/// Rule trigger ids.
pub mod trigger {
    /// File system events of users' sessions.
    pub const FS: i32 = 1;
    /// Objects added, updated or deleted in the data provider.
    pub const PROVIDER: i32 = 2;
    /// Cron-like schedules.
    pub const SCHEDULE: i32 = 3;
    /// The defender banned an address.
    pub const IP_BLOCKED: i32 = 4;
    /// ACME certificate renewals.
    pub const CERTIFICATE: i32 = 5;
    /// Run by an admin (`POST /api/v2/eventrules/run/{name}`).
    pub const ON_DEMAND: i32 = 6;
    /// Identity-provider logins.
    pub const IDP_LOGIN: i32 = 7;
}

/// File system events a rule can name.
pub const FS_EVENTS: [&str; 13] = [
    "upload",
    "pre-upload",
    "first-upload",
    "download",
    "pre-download",
    "first-download",
    "delete",
    "pre-delete",
    "rename",
    "mkdir",
    "rmdir",
    "copy",
    "ssh_cmd",
];

/// Provider events a rule can name.
pub const PROVIDER_EVENTS: [&str; 3] = ["add", "update", "delete"];

/// Protocols a rule can be limited to.
pub const PROTOCOLS: [&str; 8] = [
    "SFTP",
    "SCP",
    "SSH",
    "FTP",
    "DAV",
    "HTTP",
    "HTTPShare",
    "OIDC",
];

/// Provider object types a rule can be limited to.
pub const PROVIDER_OBJECTS: [&str; 8] = [
    "user",
    "folder",
    "group",
    "admin",
    "api_key",
    "share",
    "event_rule",
    "event_action",
];

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A name or path pattern, possibly inverted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConditionPattern {
    /// Shell pattern (`*` within a path segment, `**` across segments).
    pub pattern: String,
    /// Match what the pattern does not.
    #[serde(skip_serializing_if = "is_false")]
    pub inverse_match: bool,
}

/// `conditions.options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConditionOptions {
    /// Usernames (fs, on-demand, schedule), executor admins (provider), folder names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<ConditionPattern>,
    /// Users' group names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_names: Vec<ConditionPattern>,
    /// Role names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub role_names: Vec<ConditionPattern>,
    /// Virtual paths (fs events).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fs_paths: Vec<ConditionPattern>,
    /// Protocols (fs events).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protocols: Vec<String>,
    /// Object types (provider events).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provider_objects: Vec<String>,
    /// Smallest file size, bytes (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub min_size: i64,
    /// Largest file size, bytes (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_size: i64,
    /// Event statuses an action runs for (1 ok, 2 error, 3 quota exceeded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_statuses: Vec<i64>,
    /// Run on every node of a shared provider (this server is one node).
    #[serde(skip_serializing_if = "is_false")]
    pub concurrent_execution: bool,
}

/// `conditions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conditions {
    /// File system events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fs_events: Vec<String>,
    /// Provider events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provider_events: Vec<String>,
    /// Schedules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// 0 any, 1 user, 2 admin logins.
    #[serde(skip_serializing_if = "is_zero")]
    pub idp_login_event: i64,
    /// Filters.
    pub options: ConditionOptions,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg)
}

fn check_patterns(list: &[ConditionPattern]) -> Result<()> {
    for p in list {
        if p.pattern.is_empty() {
            return Err(invalid("empty condition pattern not allowed"));
        }
        if !pattern_is_valid(&p.pattern) {
            return Err(invalid(format!(
                "invalid condition pattern {:?}",
                p.pattern
            )));
        }
    }
    Ok(())
}

fn check_in(values: &[String], allowed: &[&str], what: &str) -> Result<()> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(v) => Err(invalid(format!("invalid {what} {v:?}"))),
        None => Ok(()),
    }
}

impl Conditions {
    /// Checks the conditions of a rule with `trigger`, emptying what it does not use.
    pub fn normalize(&mut self, trigger: i32) -> Result<()> {
        let o = &mut self.options;
        match trigger {
            trigger::FS => {
                if self.fs_events.is_empty() {
                    return Err(invalid("at least one filesystem event is required"));
                }
                check_in(&self.fs_events, &FS_EVENTS, "filesystem event")?;
                self.provider_events.clear();
                self.schedules.clear();
                o.provider_objects.clear();
                self.idp_login_event = 0;
            }
            trigger::PROVIDER => {
                if self.provider_events.is_empty() {
                    return Err(invalid("at least one provider event is required"));
                }
                check_in(&self.provider_events, &PROVIDER_EVENTS, "provider event")?;
                self.fs_events.clear();
                self.schedules.clear();
                clear_fs_filters(o);
                self.idp_login_event = 0;
            }
            trigger::SCHEDULE => {
                if self.schedules.is_empty() {
                    return Err(invalid("at least one schedule is required"));
                }
                for s in &self.schedules {
                    s.validate()?;
                }
                self.fs_events.clear();
                self.provider_events.clear();
                clear_fs_filters(o);
                o.provider_objects.clear();
                self.idp_login_event = 0;
            }
            trigger::IP_BLOCKED | trigger::CERTIFICATE => {
                self.fs_events.clear();
                self.provider_events.clear();
                self.schedules.clear();
                o.names.clear();
                o.group_names.clear();
                o.role_names.clear();
                clear_fs_filters(o);
                self.idp_login_event = 0;
            }
            trigger::ON_DEMAND => {
                self.fs_events.clear();
                self.provider_events.clear();
                self.schedules.clear();
                clear_fs_filters(o);
                o.provider_objects.clear();
                self.idp_login_event = 0;
            }
            trigger::IDP_LOGIN => {
                if !(0..=2).contains(&self.idp_login_event) {
                    return Err(invalid(format!(
                        "invalid IDP login event {}",
                        self.idp_login_event
                    )));
                }
                self.fs_events.clear();
                self.provider_events.clear();
                self.schedules.clear();
                o.group_names.clear();
                o.role_names.clear();
                clear_fs_filters(o);
            }
            other => return Err(invalid(format!("invalid event rule trigger: {other}"))),
        }
        // One server is one node: there is no cluster to run elsewhere.
        o.concurrent_execution = false;
        check_patterns(&o.names)?;
        check_patterns(&o.group_names)?;
        check_patterns(&o.role_names)?;
        check_patterns(&o.fs_paths)?;
        check_in(&o.protocols, &PROTOCOLS, "protocol")?;
        check_in(&o.provider_objects, &PROVIDER_OBJECTS, "provider object")?;
        if o.min_size > 0 && o.max_size > 0 && o.max_size <= o.min_size {
            return Err(invalid(format!(
                "max size {} must be greater than min size {}",
                o.max_size, o.min_size
            )));
        }
        if let Some(s) = o.event_statuses.iter().find(|s| !(0..=3).contains(*s)) {
            return Err(invalid(format!("invalid event_status {s}")));
        }
        Ok(())
    }
}

fn clear_fs_filters(o: &mut ConditionOptions) {
    o.fs_paths.clear();
    o.protocols.clear();
    o.event_statuses.clear();
    o.min_size = 0;
    o.max_size = 0;
}

/// SFTPGo's pattern-list rule: an empty list matches; a plain pattern that matches
/// decides "yes" at once, an inverted one whose pattern matches decides "no" at once;
/// otherwise the list matches if it held an inverted pattern.
pub fn patterns_match(list: &[ConditionPattern], value: &str) -> bool {
    if list.is_empty() {
        return true;
    }
    let mut matched = false;
    for p in list {
        let hit = pattern_matches(&p.pattern, value);
        if p.inverse_match {
            if hit {
                return false;
            }
            matched = true;
        } else if hit {
            return true;
        }
    }
    matched
}

/// SFTPGo's rule for a user's groups: an empty list matches; otherwise, walking
/// every group against every pattern, a group an inverted pattern names fails the list
/// at once, a group a plain pattern names passes it at once, and the list passes at the
/// end if an inverted pattern was met. A user with no groups fails any non-empty list.
pub fn patterns_match_any(list: &[ConditionPattern], values: &[&str]) -> bool {
    if list.is_empty() {
        return true;
    }
    let mut matched = false;
    for v in values {
        for p in list {
            let hit = pattern_matches(&p.pattern, v);
            if p.inverse_match {
                if hit {
                    return false;
                }
                matched = true;
            } else if hit {
                return true;
            }
        }
    }
    matched
}

/// True when `pattern` is well formed (balanced classes, no trailing escape).
pub fn pattern_is_valid(pattern: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while let Some(&c) = p.get(i) {
        match c {
            '\\' => {
                if p.get(i + 1).is_none() {
                    return false;
                }
                i += 2;
            }
            '[' => match class_end(&p, i) {
                Some(end) => i = end,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// Index after the `]` closing the class opened at `p[start]`.
fn class_end(p: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if matches!(p.get(i), Some('^' | '!')) {
        i += 1;
    }
    let mut first = true;
    loop {
        match p.get(i)? {
            ']' if !first => return Some(i + 1),
            '\\' => i += 2,
            _ => i += 1,
        }
        first = false;
    }
}

/// Go `path.Match` semantics (`*` and `?` never cross `/`), plus `**` for any number
/// of characters including `/` (doublestar). Case-sensitive.
pub fn pattern_matches(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    pattern_is_valid(pattern) && match_at(&p, 0, &v, 0)
}

fn match_at(p: &[char], pi: usize, v: &[char], vi: usize) -> bool {
    let Some(&c) = p.get(pi) else {
        return vi == v.len();
    };
    match c {
        '*' => {
            let double = p.get(pi + 1) == Some(&'*');
            let next = if double { pi + 2 } else { pi + 1 };
            // `**/` also matches no directory at all.
            if double && p.get(next) == Some(&'/') && match_at(p, next + 1, v, vi) {
                return true;
            }
            let mut j = vi;
            loop {
                if match_at(p, next, v, j) {
                    return true;
                }
                match v.get(j) {
                    Some('/') if !double => return false,
                    Some(_) => j += 1,
                    None => return false,
                }
            }
        }
        '?' => match v.get(vi) {
            Some(ch) if *ch != '/' => match_at(p, pi + 1, v, vi + 1),
            _ => false,
        },
        '[' => {
            let Some(ch) = v.get(vi).copied() else {
                return false;
            };
            let Some(end) = class_end(p, pi) else {
                return false;
            };
            let mut i = pi + 1;
            let negate = matches!(p.get(i), Some('^' | '!'));
            if negate {
                i += 1;
            }
            let mut found = false;
            while i < end - 1 {
                let mut lo = p.get(i).copied().unwrap_or_default();
                if lo == '\\' {
                    i += 1;
                    lo = p.get(i).copied().unwrap_or_default();
                }
                let mut hi = lo;
                if p.get(i + 1) == Some(&'-') && i + 2 < end - 1 {
                    hi = p.get(i + 2).copied().unwrap_or_default();
                    if hi == '\\' {
                        i += 1;
                        hi = p.get(i + 2).copied().unwrap_or_default();
                    }
                    i += 3;
                } else {
                    i += 1;
                }
                if lo <= ch && ch <= hi {
                    found = true;
                }
            }
            found != negate && ch != '/' && match_at(p, end, v, vi + 1)
        }
        '\\' => match (p.get(pi + 1), v.get(vi)) {
            (Some(a), Some(b)) if a == b => match_at(p, pi + 2, v, vi + 1),
            _ => false,
        },
        _ => v.get(vi) == Some(&c) && match_at(p, pi + 1, v, vi + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str, inverse: bool) -> ConditionPattern {
        ConditionPattern {
            pattern: p.into(),
            inverse_match: inverse,
        }
    }

    #[test]
    fn go_path_match_and_doublestar() {
        assert!(pattern_matches("/uploads/*.csv", "/uploads/a.csv"));
        assert!(!pattern_matches("/uploads/*.csv", "/uploads/x/a.csv"));
        assert!(pattern_matches("/uploads/**/*.csv", "/uploads/x/y/a.csv"));
        assert!(pattern_matches("/uploads/**/*.csv", "/uploads/a.csv"));
        assert!(pattern_matches("user?", "user1"));
        assert!(pattern_matches("[a-c]*", "bob"));
        assert!(!pattern_matches("[!a-c]*", "bob"));
        assert!(pattern_matches("a\\*", "a*"));
        assert!(!pattern_matches("Bob", "bob"), "case-sensitive");
        assert!(!pattern_is_valid("[abc"));
        assert!(!pattern_matches("[abc", "a"));
    }

    #[test]
    fn pattern_lists_follow_sftpgo_order() {
        assert!(patterns_match(&[], "x"));
        let l = [pat("alice", false), pat("bob", false)];
        assert!(patterns_match(&l, "bob") && !patterns_match(&l, "carol"));
        let inv = [pat("tmp*", true)];
        assert!(patterns_match(&inv, "alice") && !patterns_match(&inv, "tmp1"));
        assert!(
            !patterns_match_any(&inv, &[]),
            "no groups fail a group list"
        );
        assert!(patterns_match_any(
            &[pat("staff", false)],
            &["dev", "staff"]
        ));
        assert!(
            !patterns_match_any(&[pat("contractors", true)], &["dev", "contractors"]),
            "a group an inverted pattern names excludes the user whatever the others"
        );
        assert!(patterns_match_any(&[pat("contractors", true)], &["dev"]));
    }

    #[test]
    fn conditions_are_checked_and_emptied_per_trigger() {
        let mut c: Conditions = serde_json::from_value(serde_json::json!({
            "fs_events": ["upload"], "schedules": [{"hour": "1", "day_of_week": "*", "day_of_month": "*", "month": "*"}],
            "options": {"names": [{"pattern": "a*"}], "protocols": ["SFTP"], "concurrent_execution": true}
        }))
        .unwrap();
        c.clone().normalize(trigger::FS).unwrap();
        let mut on_demand = c.clone();
        on_demand.normalize(trigger::ON_DEMAND).unwrap();
        assert!(on_demand.fs_events.is_empty() && on_demand.schedules.is_empty());
        assert!(on_demand.options.protocols.is_empty());
        assert_eq!(on_demand.options.names.len(), 1);
        assert!(!on_demand.options.concurrent_execution);
        c.normalize(trigger::SCHEDULE).unwrap();
        let mut bad: Conditions =
            serde_json::from_value(serde_json::json!({"fs_events": ["uploaded"]})).unwrap();
        assert!(bad.normalize(trigger::FS).is_err());
        let mut none = Conditions::default();
        assert!(none.normalize(trigger::SCHEDULE).is_err());
        let mut empty_pat: Conditions =
            serde_json::from_value(serde_json::json!({"options": {"names": [{"pattern": ""}]}}))
                .unwrap();
        assert!(empty_pat.normalize(trigger::ON_DEMAND).is_err());
    }
}
