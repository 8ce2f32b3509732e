//! Filesystem actions (type 9): rename, delete, create directories, check existence,
//! compress into a ZIP and copy, in each targeted user's tree through an elevated
//! session (every permission, no patterns, quota still counted). Paths take
//! placeholders; the first failing path ends that user's part.

use sftpgo_vfs::FileKind;

use super::engine::{EventManager, Run};
use super::options::{FsConfig, clean_path, fs_kind};
use super::placeholders::{Escape, EventParams};
use crate::connection::{Connection, WriteOptions};
use crate::path::VirtualPath;
use crate::zip::ZipWriter;
use crate::{Error, ErrorKind, Result};

/// Depth a compressed directory tree may have.
const MAX_DEPTH: usize = 512;

/// A path of the action with placeholders replaced, cleaned.
fn path_of(params: &EventParams, raw: &str) -> Result<VirtualPath> {
    VirtualPath::parse(&clean_path(&params.replace(raw, Escape::Raw)))
}

/// Creates `dir` and its missing parents.
async fn mkdir_all(conn: &Connection, dir: &VirtualPath) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = dir.clone();
    while !p.is_root() {
        match conn.stat(&p).await {
            Ok(info) if info.is_dir() => break,
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("{p} exists and is not a directory"),
                ));
            }
            Err(e) if e.kind == ErrorKind::NotFound => {
                missing.push(p.clone());
                p = p.parent();
            }
            Err(e) => return Err(e),
        }
    }
    for d in missing.iter().rev() {
        match conn.mkdir(d, 0o755).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl EventManager {
    /// Type 9 for every user the run targets.
    pub(super) async fn filesystem(&self, cfg: &FsConfig, run: &mut Run) -> Result<()> {
        let users = self
            .target_users(&run.params.sender, &run.conditions.options)
            .await?;
        let op = match cfg.fs_type {
            fs_kind::RENAME => "rename",
            fs_kind::DELETE => "delete",
            fs_kind::MKDIRS => "mkdir",
            fs_kind::EXIST => "existence check",
            fs_kind::COMPRESS => "compress",
            _ => "copy",
        };
        if users.is_empty() {
            return Err(Error::invalid(if cfg.fs_type == fs_kind::COMPRESS {
                "no file/folder compressed".to_string()
            } else {
                format!("no {op} executed")
            }));
        }
        let mut failed = Vec::new();
        for user in users {
            let system = run.params.sender == super::placeholders::Sender::System;
            let result = match self.session(&user, system, "EventAction").await {
                Ok(conn) => fs_action(&conn, cfg, &run.params).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                run.params.errors.push(format!(
                    "{op} for user {:?} failed: {}",
                    user.username, e.message
                ));
                failed.push(user.username);
            }
        }
        super::accounts::failure_listing(&format!("{op} failed for users"), failed)
    }
}

/// One user's part of a filesystem action.
async fn fs_action(conn: &Connection, cfg: &FsConfig, params: &EventParams) -> Result<()> {
    match cfg.fs_type {
        fs_kind::RENAME => {
            for r in &cfg.renames {
                let (from, to) = (path_of(params, &r.key)?, path_of(params, &r.value)?);
                mkdir_all(conn, &to.parent()).await?;
                if conn.stat(&to).await.is_ok_and(|i| i.is_dir()) {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        format!("cannot rename {from} onto the directory {to}"),
                    ));
                }
                conn.rename(&from, &to, true).await?;
                if r.update_modtime {
                    let now = crate::clock::now_secs();
                    let attrs = sftpgo_vfs::SetAttrs {
                        times: Some((now, now)),
                        ..Default::default()
                    };
                    conn.set_attrs(&to, &attrs, true).await?;
                }
            }
            Ok(())
        }
        fs_kind::DELETE => {
            for raw in &cfg.deletes {
                let p = path_of(params, raw)?;
                match conn.lstat(&p).await {
                    Err(e) if e.kind == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                    Ok(info) if info.is_dir() => conn.remove_dir(&p).await?,
                    Ok(_) => conn.remove_file(&p).await?,
                }
            }
            Ok(())
        }
        fs_kind::MKDIRS => {
            for raw in &cfg.mkdirs {
                mkdir_all(conn, &path_of(params, raw)?).await?;
            }
            Ok(())
        }
        fs_kind::EXIST => {
            for raw in &cfg.exist {
                conn.stat(&path_of(params, raw)?).await?;
            }
            Ok(())
        }
        fs_kind::COMPRESS => compress(conn, cfg, params).await,
        _ => {
            for c in &cfg.copy {
                let src = path_of(params, &c.key)?;
                let mut dst = path_of(params, &c.value)?;
                let into = c.value.ends_with('/')
                    || (!c.key.ends_with('/') && conn.stat(&dst).await.is_ok_and(|i| i.is_dir()));
                if into {
                    dst = dst.join(src.name())?;
                }
                let info = conn.lstat(&src).await?;
                if info.kind == FileKind::Symlink {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!("cannot copy the symlink {src}"),
                    ));
                }
                mkdir_all(conn, &dst.parent()).await?;
                conn.copy(&src, &dst).await?;
            }
            Ok(())
        }
    }
}

/// The entry name of `p` in an archive of paths whose common parent is `base`.
fn entry_name(base: &VirtualPath, p: &VirtualPath) -> String {
    let s = p.as_str();
    let rest = if base.is_root() {
        s.trim_start_matches('/')
    } else {
        s.get(base.as_str().len()..)
            .unwrap_or(s)
            .trim_start_matches('/')
    };
    rest.to_string()
}

/// Writes a ZIP of the action's paths (entries relative to their common parent).
async fn compress(conn: &Connection, cfg: &FsConfig, params: &EventParams) -> Result<()> {
    let archive = path_of(params, &cfg.compress.name)?;
    let mut paths = Vec::new();
    for raw in &cfg.compress.paths {
        let p = path_of(params, raw)?;
        if p == archive {
            return Err(Error::invalid("cannot compress the archive to create"));
        }
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    let first_parent = paths.first().map(VirtualPath::parent);
    let base = match first_parent {
        Some(parent) if paths.iter().all(|p| p.parent() == parent) => parent,
        _ => VirtualPath::root(),
    };
    let _ = mkdir_all(conn, &archive.parent()).await;
    let out = conn
        .open_write(
            &archive,
            WriteOptions {
                truncate: true,
                create: true,
                ..Default::default()
            },
        )
        .await?;
    let mut zip = Zip {
        conn,
        writer: ZipWriter::new(),
        out: &out,
        offset: 0,
        archive: archive.clone(),
        added: std::collections::HashSet::new(),
    };
    let mut result = Ok(());
    for p in &paths {
        if let Err(e) = zip.add(&base, p, 0).await {
            result = Err(e);
            break;
        }
    }
    if result.is_ok() {
        zip.writer.finish();
        result = zip.flush().await;
    }
    match result {
        Ok(()) => out.close().await,
        Err(e) => {
            out.abort().await;
            Err(e)
        }
    }
}

struct Zip<'a> {
    conn: &'a Connection,
    writer: ZipWriter,
    out: &'a crate::connection::Transfer,
    offset: u64,
    archive: VirtualPath,
    added: std::collections::HashSet<String>,
}

impl Zip<'_> {
    async fn flush(&mut self) -> Result<()> {
        let bytes = self.writer.take();
        if !bytes.is_empty() {
            self.out.write_at(&bytes, self.offset).await?;
            self.offset += bytes.len() as u64;
        }
        Ok(())
    }

    async fn add(&mut self, base: &VirtualPath, p: &VirtualPath, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid("recursion too deep"));
        }
        if *p == self.archive {
            return Ok(());
        }
        let name = entry_name(base, p);
        if self.added.contains(&name) || name.is_empty() {
            return Ok(());
        }
        let info = self.conn.lstat(p).await?;
        match info.kind {
            FileKind::Dir => {
                self.added.insert(name.clone());
                self.writer.add_dir(&format!("{name}/"), info.mtime);
                self.flush().await?;
                for entry in self.conn.read_dir(p).await? {
                    Box::pin(self.add(base, &p.join(&entry.name)?, depth + 1)).await?;
                }
                Ok(())
            }
            FileKind::File => {
                self.added.insert(name.clone());
                let src = self.conn.open_read(p).await?;
                self.writer.start_file(&name, info.mtime, info.size);
                let mut buf = vec![0u8; 256 * 1024];
                let mut pos = 0u64;
                let copied: Result<()> = async {
                    loop {
                        let n = src.read_at(&mut buf, pos).await?;
                        if n == 0 {
                            break;
                        }
                        let chunk = buf.get(..n).unwrap_or_default();
                        self.writer
                            .write(chunk)
                            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
                        pos += n as u64;
                        self.flush().await?;
                    }
                    Ok(())
                }
                .await;
                let _ = src.close().await;
                copied?;
                self.writer.finish_file();
                self.flush().await
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_named_from_the_common_parent() {
        let p = |s: &str| VirtualPath::parse(s).unwrap();
        assert_eq!(entry_name(&p("/a"), &p("/a/b/c.txt")), "b/c.txt");
        assert_eq!(entry_name(&VirtualPath::root(), &p("/a/b")), "a/b");
    }
}
