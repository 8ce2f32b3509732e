//! WebDAV locks that expire. dav-server's in-memory lock table records each lock's
//! timeout but never acts on it, so a client that dies holding a lock would block the
//! resource until a restart. This table wraps it and drops every lock whose timeout has
//! passed before any lock operation looks at the table (locks with an `Infinite`
//! timeout stay until they are unlocked).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dav_server::davpath::DavPath;
use dav_server::ls::{DavLock, DavLockSystem, LsFuture};
use xmltree::Element;

/// One user's lock table.
#[derive(Debug, Clone)]
pub struct ExpiringLocks {
    inner: Box<dyn DavLockSystem>,
    /// Token → (path, when it expires), for locks with a timeout.
    expiries: Arc<Mutex<HashMap<String, (DavPath, SystemTime)>>>,
}

impl Default for ExpiringLocks {
    fn default() -> Self {
        Self {
            inner: dav_server::memls::MemLs::new(),
            expiries: Arc::default(),
        }
    }
}

impl ExpiringLocks {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, (DavPath, SystemTime)>> {
        self.expiries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unlocks every lock whose timeout has passed.
    async fn purge(&self) {
        let now = SystemTime::now();
        let expired: Vec<(String, DavPath)> = {
            let mut table = self.table();
            let gone: Vec<String> = table
                .iter()
                .filter(|(_, (_, at))| *at <= now)
                .map(|(t, _)| t.clone())
                .collect();
            gone.into_iter()
                .filter_map(|t| table.remove(&t).map(|(p, _)| (t, p)))
                .collect()
        };
        for (token, path) in expired {
            let _ = self.inner.unlock(&path, &token).await;
        }
    }

    fn remember(&self, lock: &DavLock) {
        let mut table = self.table();
        match lock.timeout_at {
            Some(at) => {
                table.insert(lock.token.clone(), ((*lock.path).clone(), at));
            }
            None => {
                table.remove(&lock.token);
            }
        }
    }
}

impl DavLockSystem for ExpiringLocks {
    fn lock(
        &'_ self,
        path: &DavPath,
        principal: Option<&str>,
        owner: Option<&Element>,
        timeout: Option<Duration>,
        shared: bool,
        deep: bool,
    ) -> LsFuture<'_, Result<DavLock, DavLock>> {
        let (path, principal, owner) = (path.clone(), principal.map(String::from), owner.cloned());
        Box::pin(async move {
            self.purge().await;
            let r = self
                .inner
                .lock(
                    &path,
                    principal.as_deref(),
                    owner.as_ref(),
                    timeout,
                    shared,
                    deep,
                )
                .await;
            if let Ok(l) = &r {
                self.remember(l);
            }
            r
        })
    }

    fn unlock(&'_ self, path: &DavPath, token: &str) -> LsFuture<'_, Result<(), ()>> {
        let (path, token) = (path.clone(), token.to_string());
        Box::pin(async move {
            self.purge().await;
            let r = self.inner.unlock(&path, &token).await;
            self.table().remove(&token);
            r
        })
    }

    fn refresh(
        &'_ self,
        path: &DavPath,
        token: &str,
        timeout: Option<Duration>,
    ) -> LsFuture<'_, Result<DavLock, ()>> {
        let (path, token) = (path.clone(), token.to_string());
        Box::pin(async move {
            self.purge().await;
            let r = self.inner.refresh(&path, &token, timeout).await;
            if let Ok(l) = &r {
                self.remember(l);
            }
            r
        })
    }

    fn check(
        &'_ self,
        path: &DavPath,
        principal: Option<&str>,
        ignore_principal: bool,
        deep: bool,
        submitted_tokens: &[String],
    ) -> LsFuture<'_, Result<(), DavLock>> {
        let (path, principal, tokens) = (
            path.clone(),
            principal.map(String::from),
            submitted_tokens.to_vec(),
        );
        Box::pin(async move {
            self.purge().await;
            self.inner
                .check(&path, principal.as_deref(), ignore_principal, deep, &tokens)
                .await
        })
    }

    fn discover(&'_ self, path: &DavPath) -> LsFuture<'_, Vec<DavLock>> {
        let path = path.clone();
        Box::pin(async move {
            self.purge().await;
            self.inner.discover(&path).await
        })
    }

    fn delete(&'_ self, path: &DavPath) -> LsFuture<'_, Result<(), ()>> {
        let path = path.clone();
        Box::pin(async move {
            self.purge().await;
            self.inner.delete(&path).await
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_go_when_their_timeout_passes() {
        let ls = ExpiringLocks::default();
        let p = DavPath::new("/a.txt").unwrap();
        let short = ls
            .lock(
                &p,
                None,
                None,
                Some(Duration::from_millis(200)),
                false,
                false,
            )
            .await
            .unwrap();
        assert!(
            ls.check(&p, None, false, false, &[]).await.is_err(),
            "locked"
        );
        assert!(
            ls.lock(&p, None, None, None, false, false).await.is_err(),
            "a second exclusive lock conflicts"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            ls.check(&p, None, false, false, &[]).await.is_ok(),
            "expired"
        );
        assert!(ls.discover(&p).await.is_empty());
        let forever = ls.lock(&p, None, None, None, false, false).await.unwrap();
        assert_ne!(forever.token, short.token);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            ls.check(&p, None, false, false, &[]).await.is_err(),
            "infinite stays"
        );
        ls.unlock(&p, &forever.token).await.unwrap();
        assert!(ls.check(&p, None, false, false, &[]).await.is_ok());
    }
}
