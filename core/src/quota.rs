//! Quota scans: recounting the bytes and files a user's home or a virtual folder holds
//! ([`scan`]), and the set of scans running ([`QuotaScans`]), so one user or folder is
//! never scanned twice at once and admins can list what runs
//! (`/api/v2/quotas/{users,folders}/scans`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sftpgo_vfs::{FileKind, Fs};

use crate::catalog::Catalog;
use crate::connection::{FsFactory, TEMP_UPLOAD_PREFIX};
use crate::model::{Folder, User};
use crate::store::Kind;
use crate::{Error, ErrorKind, Result};

/// Size in bytes and number of regular files under the root of `fs`. Symlinks are not
/// followed; unfinished atomic uploads are not counted.
pub async fn scan(fs: &dyn Fs) -> Result<(i64, i64)> {
    let (mut size, mut files) = (0u64, 0u64);
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        for entry in fs.read_dir(&dir).await? {
            if entry.name.starts_with(TEMP_UPLOAD_PREFIX) {
                continue;
            }
            match entry.kind {
                FileKind::Dir => dirs.push(if dir.is_empty() {
                    entry.name
                } else {
                    format!("{dir}/{}", entry.name)
                }),
                FileKind::File => {
                    size += entry.size;
                    files += 1;
                }
                _ => {}
            }
        }
    }
    Ok((
        i64::try_from(size).unwrap_or(i64::MAX),
        i64::try_from(files).unwrap_or(i64::MAX),
    ))
}

/// What a scan counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanTarget {
    /// A user's home.
    User,
    /// A virtual folder.
    Folder,
}

/// A running scan, as SFTPGo lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ActiveScan {
    /// The user (user scans) or folder (folder scans).
    #[serde(skip)]
    pub name: String,
    /// Start, Unix ms.
    pub start_time: i64,
}

/// The scans running now.
#[derive(Debug, Default)]
pub struct QuotaScans {
    active: Mutex<HashMap<(ScanTarget, String), i64>>,
}

/// A scan slot; dropping it ends the scan.
#[derive(Debug)]
pub struct ScanGuard {
    scans: Arc<QuotaScans>,
    key: (ScanTarget, String),
}

impl QuotaScans {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(ScanTarget, String), i64>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a scan of `name`, unless one is running.
    pub fn start(self: &Arc<Self>, target: ScanTarget, name: &str) -> Option<ScanGuard> {
        let key = (target, name.to_string());
        let mut active = self.lock();
        if active.contains_key(&key) {
            return None;
        }
        active.insert(key.clone(), crate::now_millis());
        Some(ScanGuard {
            scans: Arc::clone(self),
            key,
        })
    }

    /// Running scans of `target`, oldest first.
    pub fn list(&self, target: ScanTarget) -> Vec<ActiveScan> {
        let mut out: Vec<ActiveScan> = self
            .lock()
            .iter()
            .filter(|((t, _), _)| *t == target)
            .map(|((_, name), start)| ActiveScan {
                name: name.clone(),
                start_time: *start,
            })
            .collect();
        out.sort_by(|a, b| (a.start_time, &a.name).cmp(&(b.start_time, &b.name)));
        out
    }
}

/// A scan ready to run: its storage roots opened and its slot taken.
pub struct PreparedScan {
    catalog: Catalog,
    kind: Kind,
    key: String,
    roots: Vec<Arc<dyn Fs>>,
    _guard: ScanGuard,
}

/// Opens the storage a scan of user or folder `name` counts (a user's home, group
/// settings applied, plus the folders counted in the user's quota; a folder's own
/// path) and takes its slot: `NotFound` for an unknown name, `AlreadyExists` while a
/// scan of it runs.
pub async fn prepare_scan(
    catalog: &Catalog,
    factory: &dyn FsFactory,
    scans: &Arc<QuotaScans>,
    target: ScanTarget,
    name: &str,
) -> Result<PreparedScan> {
    let owner = match target {
        ScanTarget::Folder => {
            let folder = catalog.get_lean::<Folder>(name).await?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound, format!("folder {name:?} not found"))
            })?;
            User {
                username: format!("folder {}", folder.name),
                home_dir: folder.mapped_path,
                filesystem: folder.filesystem,
                ..User::default()
            }
        }
        ScanTarget::User => catalog
            .effective_user(name)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("user {name:?} not found")))?,
    };
    let (kind, key) = match target {
        ScanTarget::Folder => (Kind::Folder, catalog.naming().convert(name)),
        ScanTarget::User => (Kind::User, owner.username.clone()),
    };
    let mut roots = vec![factory.fs_for(&owner)?];
    if target == ScanTarget::User {
        for f in owner
            .virtual_folders
            .iter()
            .filter(|f| f.quota_size == -1 && f.quota_files == -1)
        {
            roots.push(factory.folder_fs(&owner, f)?);
        }
    }
    let guard = scans.start(target, &key).ok_or_else(|| {
        Error::new(
            ErrorKind::AlreadyExists,
            format!("another scan is already in progress for {key:?}"),
        )
    })?;
    Ok(PreparedScan {
        catalog: catalog.clone(),
        kind,
        key,
        roots,
        _guard: guard,
    })
}

impl PreparedScan {
    /// Counts and stores the result as the used quota: `(bytes, files)`.
    pub async fn run(self) -> Result<(i64, i64)> {
        let started = std::time::Instant::now();
        let (mut size, mut files) = (0i64, 0i64);
        for fs in &self.roots {
            let (s, f) = scan(fs.as_ref()).await?;
            size = size.saturating_add(s);
            files = files.saturating_add(f);
        }
        self.catalog
            .set_quota(self.kind, &self.key, size, files)
            .await?;
        tracing::info!(kind = self.kind.label(), name = %self.key, size, files,
            elapsed_ms = started.elapsed().as_millis() as u64, "quota scan finished");
        Ok((size, files))
    }
}

impl Drop for ScanGuard {
    fn drop(&mut self) {
        self.scans.lock().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_scan_per_target() {
        let s = Arc::new(QuotaScans::default());
        let g = s.start(ScanTarget::User, "a").unwrap();
        assert!(s.start(ScanTarget::User, "a").is_none());
        assert!(s.start(ScanTarget::Folder, "a").is_some_and(|f| {
            drop(f);
            true
        }));
        assert_eq!(s.list(ScanTarget::User).len(), 1);
        assert!(s.list(ScanTarget::Folder).is_empty());
        drop(g);
        assert!(s.list(ScanTarget::User).is_empty());
    }
}
