//! Symbolic links that move. Links are stored relative to their directory (so host
//! tools following them stay in the home), which makes a moved link point somewhere
//! else. A moved link is therefore rewritten to keep its target, under the same checks
//! as a new link. A directory holding links that lead out of it cannot move to another
//! parent while the user has per-directory rules, because those links would reach
//! places under different rules.

use sftpgo_vfs::FileKind;

use super::Connection;
use super::ops::{MAX_RECURSION, relative_target};
use crate::model::Permission;
use crate::path::VirtualPath;
use crate::{Error, ErrorKind, Result};

/// Entries a directory move looks at for escaping links before giving up.
const MAX_SCANNED: usize = 100_000;

impl Connection {
    /// The text a link stored as `stored` at `from` needs at `to` to keep its target,
    /// checked like a new link: the target is not `/` and has no rules of its own, both
    /// directories allow links, and the target lives on the new link's back-end.
    pub(super) fn relocated_link(
        &self,
        from: &VirtualPath,
        to: &VirtualPath,
        stored: &str,
    ) -> Result<String> {
        let target = VirtualPath::resolve(&from.parent(), stored)?;
        if target.is_root() || self.user.has_rules_within(&target) {
            return Err(Error::denied());
        }
        self.require(Permission::CreateSymlinks, &to.parent())?;
        self.require(Permission::CreateSymlinks, &target.parent())?;
        let (rl, rt) = (self.storage.route(to), self.storage.route(&target));
        if !rl.same_backend(&rt) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "links cannot cross virtual folder boundaries",
            ));
        }
        Ok(relative_target(&to.parent(), &target))
    }

    /// Moves the link `from` to `to` on one back-end, rewriting it when its stored text
    /// would lead elsewhere from the new place.
    pub(super) async fn rename_link(
        &self,
        from: &VirtualPath,
        to: &VirtualPath,
        replace: bool,
    ) -> Result<()> {
        let (rf, rt) = (self.storage.route(from), self.storage.route(to));
        let stored = rf.fs.read_link(rf.rel).await?;
        let text = self.relocated_link(from, to, &stored)?;
        if text == stored {
            rf.fs.rename(rf.rel, rt.rel, replace).await?;
            return Ok(());
        }
        if replace && let Ok(old) = rt.fs.lstat(rt.rel).await {
            if old.is_dir() {
                return Err(Error::new(ErrorKind::Conflict, "is a directory"));
            }
            rt.fs.remove_file(rt.rel).await?;
            self.release(rt.mount, &old).await;
        }
        rt.fs.symlink(&text, rt.rel).await?;
        rf.fs.remove_file(rf.rel).await?;
        Ok(())
    }

    /// Refuses moving directory `dir` to another parent when it holds a link leading
    /// out of it and the user has per-directory rules anywhere.
    pub(super) async fn check_links_stay(&self, dir: &VirtualPath) -> Result<()> {
        if !self.user.has_rules_within(&VirtualPath::root()) {
            return Ok(());
        }
        let mut pending = vec![(dir.clone(), 0usize)];
        let mut scanned = 0usize;
        while let Some((d, depth)) = pending.pop() {
            if depth > MAX_RECURSION {
                return Err(Error::invalid("directory tree too deep"));
            }
            let r = self.storage.route(&d);
            for entry in r.fs.read_dir(r.rel).await? {
                scanned += 1;
                if scanned > MAX_SCANNED {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        "directory too large to check its links before moving it",
                    ));
                }
                let child = d.join(&entry.name)?;
                match entry.kind {
                    FileKind::Dir => pending.push((child, depth + 1)),
                    FileKind::Symlink => {
                        let rc = self.storage.route(&child);
                        let stored = rc.fs.read_link(rc.rel).await?;
                        let target = VirtualPath::resolve(&d, &stored)?;
                        if !target.starts_with(dir) {
                            return Err(Error::new(
                                ErrorKind::PermissionDenied,
                                "the directory holds symbolic links leading out of it",
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
