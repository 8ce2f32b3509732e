//! `UserStore` on the SQL engines: typed columns for scalars, JSON text for nested fields
//! (the same layout on every engine, so a dump moves between them unchanged).

use async_trait::async_trait;
use serde_json::{Map, Value};
use sftpgo_core::model::{User, UserFilters};
use sftpgo_core::store::{StoreError, StoreResult, UserStore};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AssertSqlSafe, Row};

use super::{Dialect, SqlProvider, backend};

const COLUMNS: &str = "id, username, status, password, public_keys, home_dir, uid, gid, \
    max_sessions, quota_size, quota_files, permissions, used_quota_size, used_quota_files, \
    last_quota_update, upload_bandwidth, download_bandwidth, expiration_date, last_login, \
    filters, filesystem, additional_info, description, email, created_at, updated_at, extra";

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let s: String = row.try_get(col).map_err(backend)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    let g = |c: &str| -> StoreResult<i64> { row.try_get::<i64, _>(c).map_err(backend) };
    let filters: UserFilters = parse(row, "filters")?;
    let extra: Map<String, Value> = parse(row, "extra")?;
    Ok(User {
        id: g("id")?,
        username: row.try_get("username").map_err(backend)?,
        status: i32::try_from(g("status")?).unwrap_or(0),
        password: row.try_get("password").map_err(backend)?,
        public_keys: parse(row, "public_keys")?,
        home_dir: row.try_get("home_dir").map_err(backend)?,
        uid: u32::try_from(g("uid")?).unwrap_or(0),
        gid: u32::try_from(g("gid")?).unwrap_or(0),
        max_sessions: i32::try_from(g("max_sessions")?).unwrap_or(0),
        quota_size: g("quota_size")?,
        quota_files: i32::try_from(g("quota_files")?).unwrap_or(0),
        permissions: parse(row, "permissions")?,
        used_quota_size: g("used_quota_size")?,
        used_quota_files: i32::try_from(g("used_quota_files")?).unwrap_or(0),
        last_quota_update: g("last_quota_update")?,
        upload_bandwidth: g("upload_bandwidth")?,
        download_bandwidth: g("download_bandwidth")?,
        expiration_date: g("expiration_date")?,
        last_login: g("last_login")?,
        filters,
        filesystem: parse(row, "filesystem")?,
        additional_info: row.try_get("additional_info").map_err(backend)?,
        description: row.try_get("description").map_err(backend)?,
        email: row.try_get("email").map_err(backend)?,
        created_at: g("created_at")?,
        updated_at: g("updated_at")?,
        extra,
    })
}

fn conflict_or_backend(e: sqlx::Error, username: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict(format!("user {username:?}"));
    }
    backend(e)
}

type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

impl SqlProvider {
    fn bind_user<'q>(&self, q: Query<'q>, u: &'q User) -> StoreResult<Query<'q>> {
        Ok(q.bind(&u.username)
            .bind(u.status)
            .bind(&u.password)
            .bind(json(&u.public_keys)?)
            .bind(&u.home_dir)
            .bind(i64::from(u.uid))
            .bind(i64::from(u.gid))
            .bind(u.max_sessions)
            .bind(u.quota_size)
            .bind(u.quota_files)
            .bind(json(&u.permissions)?)
            .bind(u.used_quota_size)
            .bind(u.used_quota_files)
            .bind(u.last_quota_update)
            .bind(u.upload_bandwidth)
            .bind(u.download_bandwidth)
            .bind(u.expiration_date)
            .bind(u.last_login)
            .bind(json(&u.filters)?)
            .bind(json(&u.filesystem)?)
            .bind(&u.additional_info)
            .bind(&u.description)
            .bind(&u.email)
            .bind(u.created_at)
            .bind(u.updated_at)
            .bind(json(&u.extra)?))
    }
}

/// Number of columns in `SET_COLUMNS`.
const SET_COUNT: usize = 26;

const SET_COLUMNS: &str = "username, status, password, public_keys, home_dir, uid, gid, \
    max_sessions, quota_size, quota_files, permissions, used_quota_size, used_quota_files, \
    last_quota_update, upload_bandwidth, download_bandwidth, expiration_date, last_login, \
    filters, filesystem, additional_info, description, email, created_at, updated_at, extra";

#[async_trait]
impl UserStore for SqlProvider {
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE username = {}",
            self.table("users"),
            self.dialect.ph(1)
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn add_user(&self, user: &User) -> StoreResult<User> {
        user.validate()
            .map_err(|e| StoreError::Invalid(e.message))?;
        let mut sql = format!(
            "INSERT INTO {} ({SET_COLUMNS}) VALUES ({})",
            self.table("users"),
            self.dialect.phs(1, SET_COUNT)
        );
        let mut out = user.clone();
        // MySQL has no RETURNING; sqlx reports its insert id instead (and only there).
        if self.dialect != Dialect::Mysql {
            sql.push_str(" RETURNING id");
            let row = self
                .bind_user(sqlx::query(AssertSqlSafe(sql)), user)?
                .fetch_one(&self.pool)
                .await
                .map_err(|e| conflict_or_backend(e, &user.username))?;
            out.id = row.try_get::<i64, _>("id").map_err(backend)?;
        } else {
            let res = self
                .bind_user(sqlx::query(AssertSqlSafe(sql)), user)?
                .execute(&self.pool)
                .await
                .map_err(|e| conflict_or_backend(e, &user.username))?;
            out.id = res
                .last_insert_id()
                .ok_or_else(|| StoreError::Backend("no id for the new user".into()))?;
        }
        Ok(out)
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        user.validate()
            .map_err(|e| StoreError::Invalid(e.message))?;
        let sets = SET_COLUMNS
            .split(',')
            .enumerate()
            .map(|(i, c)| format!("{} = {}", c.trim(), self.dialect.ph(i + 1)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE {} SET {sets} WHERE username = {}",
            self.table("users"),
            self.dialect.ph(SET_COUNT + 1)
        );
        let q = self
            .bind_user(sqlx::query(AssertSqlSafe(sql)), user)?
            .bind(&user.username);
        let res = q
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or_backend(e, &user.username))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {:?}", user.username)));
        }
        Ok(())
    }

    async fn delete_user(&self, username: &str) -> StoreResult<()> {
        let sql = format!(
            "DELETE FROM {} WHERE username = {}",
            self.table("users"),
            self.dialect.ph(1)
        );
        let res = sqlx::query(AssertSqlSafe(sql))
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {username:?}")));
        }
        Ok(())
    }

    async fn list_users(&self, offset: i64, limit: i64) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} ORDER BY username ASC LIMIT {} OFFSET {}",
            self.table("users"),
            self.dialect.ph(1),
            self.dialect.ph(2)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_last_login(&self, username: &str, at_ms: i64) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET last_login = {} WHERE username = {}",
            self.table("users"),
            self.dialect.ph(1),
            self.dialect.ph(2)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(at_ms)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
