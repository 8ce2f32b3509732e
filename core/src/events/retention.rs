//! Data retention checks (action type 8): files older than a folder's retention are
//! deleted, walking each configured folder with the most specific configured path
//! deciding for every directory; emptied directories can go too. One check per user
//! at a time; running checks are listed by `GET /api/v2/retention/users/checks`, and
//! each check leaves a CSV report for later actions of the run (`{{RetentionReports}}`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::engine::{EventManager, Run};
use super::options::{FolderRetention, RetentionConfig};
use crate::connection::Connection;
use crate::model::User;
use crate::path::VirtualPath;
use crate::{Error, ErrorKind, Result};

/// Directory depth a check walks at most.
const MAX_DEPTH: usize = 512;

/// A check in progress, as `GET /api/v2/retention/users/checks` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RetentionCheck {
    /// The user.
    pub username: String,
    /// Start, Unix ms.
    pub start_time: i64,
    /// Folders checked.
    pub folders: Vec<FolderRetention>,
    /// The user's role (for role admins' lists).
    #[serde(skip)]
    pub role: String,
}

/// The checks running now.
#[derive(Debug, Default)]
pub struct RetentionChecks {
    active: Mutex<HashMap<String, RetentionCheck>>,
}

/// A check's slot; dropping it ends the check.
struct CheckGuard {
    checks: Arc<RetentionChecks>,
    username: String,
}

impl Drop for CheckGuard {
    fn drop(&mut self) {
        self.checks.lock().remove(&self.username);
    }
}

impl RetentionChecks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RetentionCheck>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(self: &Arc<Self>, check: RetentionCheck) -> Option<CheckGuard> {
        let mut active = self.lock();
        if active.contains_key(&check.username) {
            return None;
        }
        let username = check.username.clone();
        active.insert(username.clone(), check);
        Some(CheckGuard {
            checks: self.clone(),
            username,
        })
    }

    /// The running checks, oldest first.
    pub fn list(&self) -> Vec<RetentionCheck> {
        let mut out: Vec<RetentionCheck> = self.lock().values().cloned().collect();
        out.sort_by(|a, b| (a.start_time, &a.username).cmp(&(b.start_time, &b.username)));
        out
    }
}

/// One report row: what a directory's check did.
#[derive(Debug, Default)]
struct Row {
    path: String,
    retention: i64,
    deleted_files: u64,
    deleted_size: u64,
    elapsed_ms: u128,
    info: String,
    error: String,
}

/// A CSV cell: quoted when needed; a leading `= + - @` (or tab, CR) is neutralised
/// so spreadsheets do not run it as a formula.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv(rows: &[Row]) -> Vec<u8> {
    let mut out = String::from(
        "path,retention (hours),deleted files,deleted size (bytes),elapsed (ms),info,error\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            cell(&r.path),
            r.retention,
            r.deleted_files,
            r.deleted_size,
            r.elapsed_ms,
            cell(&r.info),
            cell(&r.error)
        ));
    }
    out.into_bytes()
}

/// The configured folder deciding for `dir`: itself, or its nearest configured
/// ancestor.
fn effective<'a>(cfg: &'a RetentionConfig, dir: &VirtualPath) -> Option<&'a FolderRetention> {
    let mut p = dir.clone();
    loop {
        if let Some(f) = cfg.folders.iter().find(|f| f.path == p.as_str()) {
            return Some(f);
        }
        if p.is_root() {
            return None;
        }
        p = p.parent();
    }
}

struct Check<'a> {
    conn: Connection,
    cfg: &'a RetentionConfig,
    now_secs: i64,
    rows: Vec<Row>,
}

impl Check<'_> {
    async fn cleanup(&mut self, dir: &VirtualPath, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid("recursion too deep"));
        }
        let started = Instant::now();
        let Some(eff) = effective(self.cfg, dir).cloned() else {
            return Ok(());
        };
        let mut row = Row {
            path: dir.as_str().to_string(),
            retention: eff.retention,
            ..Row::default()
        };
        if eff.retention == 0 {
            row.info = "data retention check skipped: retention is set to 0".into();
            self.rows.push(row);
            return Ok(());
        }
        let entries = match self.conn.read_dir(dir).await {
            Ok(e) => e,
            Err(e) if e.kind == ErrorKind::NotFound => {
                row.info = "data retention check skipped, folder does not exist".into();
                self.rows.push(row);
                return Ok(());
            }
            Err(e) => {
                row.error = e.message.clone();
                self.rows.push(row);
                return Err(e);
            }
        };
        let limit = eff.retention.saturating_mul(3600);
        for entry in entries {
            let p = dir.join(&entry.name)?;
            if entry.is_dir() {
                Box::pin(self.cleanup(&p, depth + 1)).await?;
            } else if entry.mtime.saturating_add(limit) < self.now_secs {
                if let Err(e) = self.conn.remove_file(&p).await {
                    row.error = e.message.clone();
                    self.rows.push(row);
                    return Err(e);
                }
                row.deleted_files += 1;
                row.deleted_size += entry.size;
            }
        }
        let configured = self.cfg.folders.iter().any(|f| f.path == dir.as_str());
        if eff.delete_empty_dirs
            && !dir.is_root()
            && !configured
            && self
                .conn
                .read_dir(dir)
                .await
                .is_ok_and(|left| left.is_empty())
            && let Err(e) = self.conn.remove_dir(dir).await
        {
            row.info = format!("cannot remove the empty directory: {}", e.message);
        }
        row.elapsed_ms = started.elapsed().as_millis();
        self.rows.push(row);
        Ok(())
    }
}

impl EventManager {
    /// Action type 8 for every user the run targets.
    pub(super) async fn data_retention(
        &self,
        action: &str,
        cfg: &RetentionConfig,
        run: &mut Run,
    ) -> Result<()> {
        let users = self
            .target_users(&run.params.sender, &run.conditions.options)
            .await?;
        if users.is_empty() {
            return Err(Error::invalid("no retention check executed"));
        }
        let mut failed = Vec::new();
        for user in users {
            match self.check_user(action, cfg, &user, run).await {
                Ok(()) => {}
                Err(e) => {
                    run.params.errors.push(format!(
                        "retention check for user {:?} failed: {}",
                        user.username, e.message
                    ));
                    failed.push(user.username);
                }
            }
        }
        super::accounts::failure_listing("retention check failed for users", failed)
    }

    async fn check_user(
        &self,
        action: &str,
        cfg: &RetentionConfig,
        user: &User,
        run: &mut Run,
    ) -> Result<()> {
        let _guard = self
            .retention
            .start(RetentionCheck {
                username: user.username.clone(),
                start_time: crate::now_millis(),
                folders: cfg.folders.clone(),
                role: user.role.clone(),
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "another retention check is in progress for user {:?}",
                        user.username
                    ),
                )
            })?;
        let system = run.params.sender == super::placeholders::Sender::System;
        let conn = self.session(user, system, "DataRetention").await?;
        let mut check = Check {
            conn,
            cfg,
            now_secs: crate::clock::now_secs(),
            rows: Vec::new(),
        };
        let mut result = Ok(());
        for f in cfg.folders.iter().filter(|f| f.retention > 0) {
            let dir = VirtualPath::parse(&f.path)?;
            if let Err(e) = check.cleanup(&dir, 0).await {
                result = Err(e);
                break;
            }
        }
        let deleted: u64 = check.rows.iter().map(|r| r.deleted_files).sum();
        tracing::info!(sender = "eventmanager", username = %user.username, deleted_files = deleted,
            ok = result.is_ok(), "data retention check finished");
        run.reports
            .push((format!("{action}-{}.csv", user.username), csv(&check.rows)));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_folder_decides() {
        let cfg = RetentionConfig {
            folders: vec![
                FolderRetention {
                    path: "/".into(),
                    retention: 24,
                    delete_empty_dirs: false,
                },
                FolderRetention {
                    path: "/keep".into(),
                    retention: 0,
                    delete_empty_dirs: false,
                },
            ],
        };
        let p = |s: &str| VirtualPath::parse(s).unwrap();
        assert_eq!(effective(&cfg, &p("/a/b")).unwrap().retention, 24);
        assert_eq!(effective(&cfg, &p("/keep/x")).unwrap().retention, 0);
    }

    #[test]
    fn reports_are_csv_with_formulas_neutralised() {
        let rows = [Row {
            path: "/a,b".into(),
            retention: 1,
            deleted_files: 2,
            deleted_size: 3,
            elapsed_ms: 4,
            info: "=cmd".into(),
            error: String::new(),
        }];
        let text = String::from_utf8(csv(&rows)).unwrap();
        assert!(text.ends_with("\"/a,b\",1,2,3,4,'=cmd,\n"), "{text}");
    }
}
