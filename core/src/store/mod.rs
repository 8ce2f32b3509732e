//! Store traits implemented by data providers (`sftpgo-providers`): the document store
//! ([`ObjectStore`]) every engine implements, the rules shared by all engines (`kind`,
//! `object`), and the login path's [`UserStore`] with its cache.

mod cache;
mod kind;
mod object;

use async_trait::async_trait;

pub use cache::CachedUserStore;
pub use kind::{
    COUNTERS, Counter, CounterOp, Kind, OnDelete, Ref, on_delete, put_counters, refs_of,
    take_counters, unlink,
};
pub use object::{Doc, ListQuery, ObjectStore, PutMode, StoreTxn, delete, put, put_checked};

use crate::model::User;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A unique name is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// The object failed validation.
    #[error("validation error: {0}")]
    Invalid(String),
    /// The object changed between a read and the write based on it (retry).
    #[error("{0} changed while being updated, try again")]
    Changed(String),
    /// The back-end failed.
    #[error("data provider error: {0}")]
    Backend(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Users, as the login path and admin tooling need them.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user named `username` as stored, if any.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    /// Changes whenever stored data changes through this store; 0 when it cannot tell.
    fn generation(&self) -> u64 {
        0
    }
    /// The user as a login sees it: its groups' settings applied. Never stored back.
    async fn login_user(&self, username: &str) -> StoreResult<Option<User>> {
        self.user_by_name(username).await
    }
    /// Inserts a user (validated, password already hashed); returns it with its id.
    async fn add_user(&self, user: &User) -> StoreResult<User>;
    /// Replaces a user identified by username.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Deletes a user.
    async fn delete_user(&self, username: &str) -> StoreResult<()>;
    /// Users ordered by username.
    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<Vec<User>>;
    /// Replaces the stored password hash with `new` only if it still is `old` (a
    /// login upgrading a legacy hash must not undo a concurrent edit). Returns whether
    /// it did.
    async fn replace_password_hash(
        &self,
        username: &str,
        old: &str,
        new: &str,
    ) -> StoreResult<bool> {
        let Some(mut user) = self.user_by_name(username).await? else {
            return Ok(false);
        };
        if user.password != old {
            return Ok(false);
        }
        user.password = new.to_string();
        self.update_user(&user).await.map(|()| true)
    }
    /// Records a successful login time (Unix ms).
    async fn set_last_login(&self, username: &str, at_ms: i64) -> StoreResult<()>;
}
