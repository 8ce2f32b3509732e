//! The catalog's user side: the effective user a login sees (group settings applied),
//! API keys, and the [`UserStore`] the login path uses.

use async_trait::async_trait;

use super::{Catalog, random_id};
use crate::model::{ApiKey, Group, GroupType, User, apply_groups};
use crate::store::{Counter, CounterOp, Kind, ListQuery, StoreError, StoreResult, UserStore};
use crate::{Error, ErrorKind, Result, password};

impl Catalog {
    /// The user with its groups' settings applied (primary group first, then the
    /// secondary ones in order), as a login sees it.
    pub async fn effective_user(&self, username: &str) -> Result<Option<User>> {
        let Some(mut user) = self.get_lean::<User>(username).await? else {
            return Ok(None);
        };
        let mut groups = Vec::with_capacity(user.groups.len());
        for mapping in &user.groups {
            let Some(kind) = mapping.group_type() else {
                continue;
            };
            if kind == GroupType::Membership {
                continue;
            }
            match self.get_lean::<Group>(&mapping.name).await? {
                Some(group) => groups.push((kind, group)),
                None => {
                    tracing::error!(username, group = %mapping.name, "group of the user not found")
                }
            }
        }
        apply_groups(&mut user, &groups);
        Ok(Some(user))
    }

    /// Creates an API key: returns it with `key` set to the full secret
    /// (`<id>.<secret>`), which is shown this once; only a hash is stored.
    pub async fn add_api_key(&self, key: &ApiKey) -> Result<ApiKey> {
        let mut new = key.clone();
        new.key_id = random_id(22);
        let secret = random_id(32);
        new.key = secret.clone();
        let mut stored = self.add(&new).await?;
        stored.key = format!("{}.{secret}", stored.key_id);
        Ok(stored)
    }

    /// The API key `<id>.<secret>` if it exists, matches and has not expired.
    pub async fn verify_api_key(&self, full: &str, now_ms: i64) -> Result<Option<ApiKey>> {
        let Some((id, secret)) = full.split_once('.') else {
            return Ok(None);
        };
        let Some(key) = self.get::<ApiKey>(id).await? else {
            return Ok(None);
        };
        if key.expires_at > 0 && key.expires_at < now_ms {
            return Ok(None);
        }
        let ok = password::verify_async(secret, &key.key).await;
        Ok(ok.then_some(key))
    }
}

#[async_trait]
impl UserStore for Catalog {
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.get::<User>(username).await.map_err(to_store_error)
    }

    fn generation(&self) -> u64 {
        Catalog::generation(self)
    }

    async fn login_user(&self, username: &str) -> StoreResult<Option<User>> {
        self.effective_user(username).await.map_err(to_store_error)
    }

    async fn replace_password_hash(
        &self,
        username: &str,
        old: &str,
        new: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.store().begin().await?;
        let Some(mut doc) = tx.get(Kind::User, username).await? else {
            return Ok(false);
        };
        if doc.data.get("password").and_then(serde_json::Value::as_str) != Some(old) {
            return Ok(false);
        }
        if let Some(map) = doc.data.as_object_mut() {
            map.insert(
                "password".into(),
                serde_json::Value::String(new.to_string()),
            );
        }
        tx.update(Kind::User, username, &doc.data).await?;
        tx.commit().await?;
        self.bump();
        Ok(true)
    }

    async fn add_user(&self, user: &User) -> StoreResult<User> {
        self.add(user).await.map_err(to_store_error)
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        self.update(user).await.map(|_| ()).map_err(to_store_error)
    }

    async fn delete_user(&self, username: &str) -> StoreResult<()> {
        self.delete::<User>(username).await.map_err(to_store_error)
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<Vec<User>> {
        self.list::<User>(ListQuery {
            offset,
            limit,
            descending: false,
        })
        .await
        .map_err(to_store_error)
    }

    async fn set_last_login(&self, username: &str, at_ms: i64) -> StoreResult<()> {
        self.store
            .update_counters(
                Kind::User,
                username,
                &[(Counter::LastUse, CounterOp::Set(at_ms))],
            )
            .await
    }
}

fn to_store_error(e: Error) -> StoreError {
    match e.kind {
        ErrorKind::NotFound => {
            StoreError::NotFound(e.message.trim_end_matches(" not found").to_string())
        }
        ErrorKind::AlreadyExists => {
            StoreError::Conflict(e.message.trim_end_matches(" already exists").to_string())
        }
        ErrorKind::InvalidInput => StoreError::Invalid(e.message),
        _ => StoreError::Backend(e.message),
    }
}
