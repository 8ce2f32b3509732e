//! A user cache in front of any `UserStore`, for the login path.
//!
//! Every login looks its user up; with the cache a repeated login costs a map lookup
//! instead of a database query. Writes made through the cache update or drop the cached
//! copy at once. Writes made elsewhere (another server sharing a PostgreSQL/MySQL
//! database, or an admin editing the database by hand) are seen when the entry expires,
//! which is why the time to live is short for shared databases.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{StoreResult, UserStore};
use crate::model::User;

/// Users kept at most.
const MAX_ENTRIES: usize = 10_000;

/// Caches `login_user` results (the effective user, groups applied) of the wrapped
/// store for `ttl`, or until the wrapped store's generation moves (any write through
/// the catalog: a group, role or folder change reaches logins at once); other calls
/// pass through and drop the entry they change.
pub struct CachedUserStore {
    inner: Arc<dyn UserStore>,
    ttl: Duration,
    /// username → (fetched at, the inner store's generation then, user).
    entries: Mutex<HashMap<String, (Instant, u64, User)>>,
}

impl CachedUserStore {
    /// Wraps `inner`; cached users are refetched after `ttl`.
    pub fn new(inner: Arc<dyn UserStore>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u64, User)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, username: &str) {
        self.entries().remove(username);
    }
}

#[async_trait]
impl UserStore for CachedUserStore {
    fn generation(&self) -> u64 {
        self.inner.generation()
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.inner.user_by_name(username).await
    }

    async fn login_user(&self, username: &str) -> StoreResult<Option<User>> {
        // Taken before the fetch: a write racing with it makes the entry stale at once.
        let generation = self.inner.generation();
        if let Some((at, r#gen, user)) = self.entries().get(username)
            && at.elapsed() < self.ttl
            && *r#gen == generation
        {
            return Ok(Some(user.clone()));
        }
        let found = self.inner.login_user(username).await?;
        if let Some(user) = &found {
            let mut entries = self.entries();
            if entries.len() >= MAX_ENTRIES {
                let now = Instant::now();
                entries.retain(|_, (at, _, _)| now.duration_since(*at) < self.ttl);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(
                username.to_string(),
                (Instant::now(), generation, user.clone()),
            );
        }
        Ok(found)
    }

    async fn add_user(&self, user: &User) -> StoreResult<User> {
        self.forget(&user.username);
        self.inner.add_user(user).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        self.forget(&user.username);
        let res = self.inner.update_user(user).await;
        self.forget(&user.username);
        res
    }

    async fn delete_user(&self, username: &str) -> StoreResult<()> {
        self.forget(username);
        let res = self.inner.delete_user(username).await;
        self.forget(username);
        res
    }

    async fn replace_password_hash(
        &self,
        username: &str,
        old: &str,
        new: &str,
    ) -> StoreResult<bool> {
        self.forget(username);
        let res = self.inner.replace_password_hash(username, old, new).await;
        self.forget(username);
        res
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<Vec<User>> {
        self.inner.list_users(offset, limit).await
    }

    async fn set_last_login(&self, username: &str, at_ms: i64) -> StoreResult<()> {
        self.inner.set_last_login(username, at_ms).await?;
        // Every login records its time: keep the cached copy instead of dropping it.
        if let Some((_, _, user)) = self.entries().get_mut(username) {
            user.last_login = at_ms;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store that counts lookups and keeps one user.
    #[derive(Default)]
    struct Counting {
        lookups: AtomicUsize,
        user: Mutex<Option<User>>,
    }

    #[async_trait]
    impl UserStore for Counting {
        async fn user_by_name(&self, _: &str) -> StoreResult<Option<User>> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            Ok(self.user.lock().unwrap().clone())
        }
        async fn add_user(&self, u: &User) -> StoreResult<User> {
            *self.user.lock().unwrap() = Some(u.clone());
            Ok(u.clone())
        }
        async fn update_user(&self, u: &User) -> StoreResult<()> {
            *self.user.lock().unwrap() = Some(u.clone());
            Ok(())
        }
        async fn delete_user(&self, _: &str) -> StoreResult<()> {
            *self.user.lock().unwrap() = None;
            Ok(())
        }
        async fn list_users(&self, _: i64, _: i64) -> StoreResult<Vec<User>> {
            Ok(Vec::new())
        }
        async fn set_last_login(&self, _: &str, _: i64) -> StoreResult<()> {
            Ok(())
        }
    }

    fn user(status: i32) -> User {
        User {
            username: "u".into(),
            status,
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hits_until_a_write_or_expiry() {
        let inner = Arc::new(Counting::default());
        let cache = CachedUserStore::new(inner.clone(), Duration::from_millis(200));
        cache.add_user(&user(1)).await.unwrap();
        for _ in 0..5 {
            assert_eq!(cache.login_user("u").await.unwrap().unwrap().status, 1);
        }
        assert_eq!(
            inner.lookups.load(Ordering::SeqCst),
            1,
            "one query, then hits"
        );
        cache.set_last_login("u", 42).await.unwrap();
        assert_eq!(cache.login_user("u").await.unwrap().unwrap().last_login, 42);
        assert_eq!(
            inner.lookups.load(Ordering::SeqCst),
            1,
            "last login kept in cache"
        );
        cache.update_user(&user(0)).await.unwrap();
        assert_eq!(
            cache.login_user("u").await.unwrap().unwrap().status,
            0,
            "an update through the cache is seen at once"
        );
        cache.delete_user("u").await.unwrap();
        assert!(cache.login_user("u").await.unwrap().is_none());
        // A change behind the cache's back shows after the time to live.
        inner.update_user(&user(1)).await.unwrap();
        cache.login_user("u").await.unwrap();
        inner.update_user(&user(0)).await.unwrap();
        assert_eq!(cache.login_user("u").await.unwrap().unwrap().status, 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.login_user("u").await.unwrap().unwrap().status, 0);
    }
}
