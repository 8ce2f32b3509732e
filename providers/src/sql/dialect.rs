//! What differs between the SQL engines: placeholders, schema locks, upserts, and where
//! each engine's migrations live.

/// A SQL engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (embedded, default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL / MariaDB.
    Mysql,
}

/// Schema migrations in order; `{prefix}` is replaced by `sql_tables_prefix`.
type Migrations = &'static [(i64, &'static str)];

/// Ways back: the scripts that take schema `n` to `n - 1`, in order.
type Downgrades = &'static [(i64, &'static [&'static str])];

impl Dialect {
    /// The `n`th (1-based) bind placeholder.
    pub fn ph(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::Mysql => "?".into(),
        }
    }

    /// `count` placeholders starting at `first`, comma-separated.
    pub fn phs(self, first: usize, count: usize) -> String {
        (first..first + count)
            .map(|n| self.ph(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The engine's migrations.
    pub fn migrations(self) -> Migrations {
        match self {
            Dialect::Sqlite => &[
                (1, include_str!("../../../migrations/sqlite/0001_users.sql")),
                (
                    2,
                    include_str!("../../../migrations/sqlite/0002_objects.sql"),
                ),
            ],
            Dialect::Postgres => &[
                (
                    1,
                    include_str!("../../../migrations/postgresql/0001_users.sql"),
                ),
                (
                    2,
                    include_str!("../../../migrations/postgresql/0002_objects.sql"),
                ),
            ],
            Dialect::Mysql => &[
                (1, include_str!("../../../migrations/mysql/0001_users.sql")),
                (
                    2,
                    include_str!("../../../migrations/mysql/0002_objects.sql"),
                ),
            ],
        }
    }

    /// The engine's downgrades (`revertprovider`).
    pub fn downgrades(self) -> Downgrades {
        match self {
            Dialect::Sqlite => &[(
                2,
                &[
                    include_str!("../../../migrations/sqlite/0001_users.sql"),
                    include_str!("../../../migrations/sqlite/0002_objects.down.sql"),
                ],
            )],
            Dialect::Postgres => &[(
                2,
                &[
                    include_str!("../../../migrations/postgresql/0001_users.sql"),
                    include_str!("../../../migrations/postgresql/0002_objects.down.sql"),
                ],
            )],
            Dialect::Mysql => &[(
                2,
                &[
                    include_str!("../../../migrations/mysql/0001_users.sql"),
                    include_str!("../../../migrations/mysql/0002_objects.down.sql"),
                ],
            )],
        }
    }

    /// Statement that starts the schema transaction and keeps other processes out of
    /// it until commit (two servers starting together must not both migrate).
    pub fn begin_exclusive(self) -> &'static str {
        match self {
            // Takes the write lock at once instead of at the first write.
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres | Dialect::Mysql => "BEGIN",
        }
    }

    /// Extra statement run right after `begin_exclusive`, if any.
    pub fn schema_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            // Transaction-scoped advisory lock, released by COMMIT/ROLLBACK.
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(7381042009)"),
            // Session-scoped named lock; released explicitly (`schema_unlock`).
            Dialect::Mysql => Some("SELECT GET_LOCK('sftpgo_schema', 60)"),
        }
    }

    /// Releases what `schema_lock` took when the transaction end does not.
    pub fn schema_unlock(self) -> Option<&'static str> {
        match self {
            Dialect::Mysql => Some("SELECT RELEASE_LOCK('sftpgo_schema')"),
            Dialect::Sqlite | Dialect::Postgres => None,
        }
    }

    /// DDL of the schema version table.
    pub fn version_table_ddl(self, table: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)"
        )
    }

    /// Sets the schema version (one row, id 1); binds the version.
    pub fn set_version(self, table: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => format!(
                "INSERT INTO {table} (id, version) VALUES (1, {}) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                self.ph(1)
            ),
            Dialect::Mysql => format!(
                "INSERT INTO {table} (id, version) VALUES (1, ?) \
                 ON DUPLICATE KEY UPDATE version = VALUES(version)"
            ),
        }
    }

    /// Query returning one row when `table` exists; binds the table name.
    pub fn table_exists(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
            Dialect::Postgres => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            Dialect::Mysql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(Dialect::Postgres.phs(2, 3), "$2, $3, $4");
        assert_eq!(Dialect::Mysql.phs(2, 3), "?, ?, ?");
    }
}
