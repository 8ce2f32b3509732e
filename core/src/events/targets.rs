//! Whom user-scoped actions act on: the user of an fs event (or the backup owner), or,
//! for schedules and on-demand runs, every user the rule's name, role and group
//! patterns select; and the elevated session actions use in a user's tree (every
//! permission, no file patterns, no bandwidth or transfer limits; quota still counts).

use std::sync::Arc;

use serde_json::Value;

use super::conditions::{ConditionOptions, patterns_match, patterns_match_any};
use super::engine::EventManager;
use super::placeholders::Sender;
use crate::connection::Connection;
use crate::model::{Folder, User};
use crate::store::ListQuery;
use crate::{Error, ErrorKind, Result};

/// Name of the pseudo-user that owns the backups directory after a backup action
/// (never looked up: a real user of that name gets no access to backups).
pub const SYSTEM_USER: &str = "__system__";

/// True when `user` passes the rule's name, role and group patterns.
pub fn user_selected(o: &ConditionOptions, user: &User) -> bool {
    let groups: Vec<&str> = user.groups.iter().map(|g| g.name.as_str()).collect();
    patterns_match(&o.names, &user.username)
        && patterns_match(&o.role_names, &user.role)
        && (o.group_names.is_empty() || patterns_match_any(&o.group_names, &groups))
}

/// `user` with every permission, no patterns and no transfer limits.
pub fn elevate(mut user: User) -> User {
    for perms in user.permissions.values_mut() {
        *perms = vec!["*".into()];
    }
    user.permissions
        .entry("/".into())
        .or_insert_with(|| vec!["*".into()]);
    user.filters.file_patterns.clear();
    user.filters.extra.remove("bandwidth_limits");
    user.upload_bandwidth = 0;
    user.download_bandwidth = 0;
    for key in [
        "upload_data_transfer",
        "download_data_transfer",
        "total_data_transfer",
    ] {
        user.extra.insert(key.into(), Value::from(0));
    }
    user
}

impl EventManager {
    /// The users an action acts on: the sender alone, or those the conditions select.
    pub(super) async fn target_users(
        &self,
        sender: &Sender,
        options: &ConditionOptions,
    ) -> Result<Vec<User>> {
        match sender {
            Sender::System => Ok(vec![self.system_user()]),
            Sender::User(name) => {
                let user = self.catalog.get::<User>(name).await?.ok_or_else(|| {
                    Error::new(ErrorKind::NotFound, format!("error getting user {name:?}"))
                })?;
                Ok(vec![user])
            }
            Sender::Folder(_) => Ok(Vec::new()),
            Sender::Selected => {
                let all = self.catalog.list::<User>(ListQuery::default()).await?;
                Ok(all
                    .into_iter()
                    .filter(|u| user_selected(options, u))
                    .collect())
            }
        }
    }

    /// The folders a folder quota reset acts on.
    pub(super) async fn target_folders(
        &self,
        sender: &Sender,
        options: &ConditionOptions,
    ) -> Result<Vec<Folder>> {
        let all = self.catalog.list::<Folder>(ListQuery::default()).await?;
        Ok(all
            .into_iter()
            .filter(|f| match sender {
                Sender::Folder(name) => f.name == *name,
                Sender::Selected => patterns_match(&options.names, &f.name),
                Sender::User(_) | Sender::System => false,
            })
            .collect())
    }

    /// The backups directory as a user, for the actions after a backup.
    fn system_user(&self) -> User {
        let mut u = User {
            username: SYSTEM_USER.into(),
            home_dir: self.backups_dir.display().to_string(),
            ..User::default()
        };
        u.permissions.insert("/".into(), vec!["*".into()]);
        u
    }

    /// An elevated session of `user` (group settings applied) over `protocol`; the
    /// backups pseudo-user (`system`) as it is.
    pub(super) async fn session(
        &self,
        user: &User,
        system: bool,
        protocol: &'static str,
    ) -> Result<Connection> {
        let effective = if system {
            user.clone()
        } else {
            self.catalog
                .effective_user(&user.username)
                .await?
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("error getting user {:?}", user.username),
                    )
                })?
        };
        self.opener.open(
            format!("{}_{}", protocol, crate::catalog::random_id(12)),
            protocol,
            String::new(),
            Arc::new(elevate(effective)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::conditions::ConditionPattern;
    use crate::model::GroupMapping;

    #[test]
    fn users_are_selected_by_name_role_and_group() {
        let p = |s: &str| ConditionPattern {
            pattern: s.into(),
            inverse_match: false,
        };
        let mut u = User {
            username: "alice".into(),
            role: "ops".into(),
            ..User::default()
        };
        let mut o = ConditionOptions::default();
        assert!(user_selected(&o, &u));
        o.names = vec![p("a*")];
        o.role_names = vec![p("ops")];
        assert!(user_selected(&o, &u));
        o.group_names = vec![p("staff")];
        assert!(!user_selected(&o, &u), "no groups");
        u.groups = vec![GroupMapping {
            name: "staff".into(),
            ..GroupMapping::default()
        }];
        assert!(user_selected(&o, &u));
        o.names = vec![p("bob")];
        assert!(!user_selected(&o, &u));
    }

    #[test]
    fn elevated_users_may_do_anything_without_limits() {
        let mut u = User::default();
        u.permissions.insert("/in".into(), vec!["list".into()]);
        u.upload_bandwidth = 10;
        let e = elevate(u);
        assert_eq!(e.permissions["/"], ["*"]);
        assert_eq!(e.permissions["/in"], ["*"]);
        assert_eq!(e.upload_bandwidth, 0);
    }
}
