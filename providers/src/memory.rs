//! The memory provider: users kept in a map, lost on exit. For tests and throw-away
//! setups; `data_provider.name`, when it names an existing file, is a dump loaded at
//! start (SFTPGo's behaviour for this driver).

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;
use sftpgo_core::model::User;
use sftpgo_core::store::{StoreError, StoreResult, UserStore};

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryProvider {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<String, User>,
    last_id: i64,
    initialized: bool,
}

impl MemoryProvider {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl UserStore for MemoryProvider {
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(self.read().users.get(username).cloned())
    }

    async fn add_user(&self, user: &User) -> StoreResult<User> {
        user.validate()
            .map_err(|e| StoreError::Invalid(e.message))?;
        let mut st = self.write();
        if st.users.contains_key(&user.username) {
            return Err(StoreError::Conflict(format!("user {:?}", user.username)));
        }
        st.last_id += 1;
        let mut out = user.clone();
        out.id = st.last_id;
        st.users.insert(out.username.clone(), out.clone());
        Ok(out)
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        user.validate()
            .map_err(|e| StoreError::Invalid(e.message))?;
        let mut st = self.write();
        match st.users.get_mut(&user.username) {
            Some(stored) => {
                let id = stored.id;
                *stored = user.clone();
                stored.id = id;
                Ok(())
            }
            None => Err(StoreError::NotFound(format!("user {:?}", user.username))),
        }
    }

    async fn delete_user(&self, username: &str) -> StoreResult<()> {
        match self.write().users.remove(username) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("user {username:?}"))),
        }
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<Vec<User>> {
        let skip = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
        let take = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
        Ok(self
            .read()
            .users
            .values()
            .skip(skip)
            .take(take)
            .cloned()
            .collect())
    }

    async fn set_last_login(&self, username: &str, at_ms: i64) -> StoreResult<()> {
        if let Some(u) = self.write().users.get_mut(username) {
            u.last_login = at_ms;
        }
        Ok(())
    }
}

#[async_trait]
impl crate::Provider for MemoryProvider {
    async fn initialize(&self) -> Result<(), StoreError> {
        self.write().initialized = true;
        Ok(())
    }

    async fn reset(&self) -> Result<(), StoreError> {
        *self.write() = State::default();
        Ok(())
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(i64::from(self.read().initialized))
    }
}
