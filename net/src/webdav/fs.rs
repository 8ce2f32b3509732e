//! dav-server's file-system interface over `core::Connection`: every WebDAV method
//! (GET, PUT, PROPFIND, MKCOL, DELETE, COPY, MOVE) reaches user data through the same
//! permission, pattern and upload-mode checks as SFTP and FTP. The request's
//! connection travels as dav-server's "credentials" ([`Session`]), which also keeps
//! the download a GET opened so the front-end can send it with `sendfile(2)`.

use std::fmt;
use std::io::SeekFrom;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes};
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream,
    GuardedFileSystem, OpenOptions, ReadDirMeta,
};
use sftpgo_core::connection::{Connection, Transfer, TransferKind, WriteOptions};
use sftpgo_core::model::Permission;
use sftpgo_core::path::VirtualPath;
use sftpgo_core::{Error, ErrorKind};
use sftpgo_vfs::{FileInfo, FileKind};

use super::props::DeadProps;
use crate::reply_buf::ReplyBuf;

/// The connection of one authenticated request, and the file its GET or HEAD opened
/// (taken by the front-end, which closes a GET's download once the body is sent,
/// possibly with `sendfile(2)`, and ends a file no body was sent from unused).
#[derive(Clone)]
pub struct Session {
    conn: Arc<Connection>,
    download: Arc<Mutex<Option<Arc<Transfer>>>>,
    /// The request only looks at files (HEAD): they are opened without counting as
    /// downloads.
    looks_only: bool,
    /// A COPY's source and destination: the collections it creates take the dead
    /// properties of their sources (dav-server creates them with `create_dir`).
    copying: Option<(VirtualPath, VirtualPath)>,
}

impl Session {
    /// A session over `conn`.
    pub fn new(conn: Arc<Connection>) -> Self {
        Self {
            conn,
            download: Arc::default(),
            looks_only: false,
            copying: None,
        }
    }

    /// A session whose request copies `from` to `to`.
    pub fn copying(mut self, from: VirtualPath, to: VirtualPath) -> Self {
        self.copying = Some((from, to));
        self
    }

    /// Where a collection a COPY creates at `p` is copied from.
    fn copy_source(&self, p: &VirtualPath) -> Option<VirtualPath> {
        let (from, to) = self.copying.as_ref()?;
        let rest = p.as_str().strip_prefix(to.as_str())?;
        if !rest.is_empty() && !rest.starts_with('/') && !to.is_root() {
            return None;
        }
        let rest = rest.trim_start_matches('/');
        if rest.is_empty() {
            return Some(from.clone());
        }
        VirtualPath::parse(&format!("{}/{rest}", from.as_str().trim_end_matches('/'))).ok()
    }

    /// A session whose request only looks at files, such as HEAD: a file it opens
    /// runs no `pre-download` event and is no download.
    pub fn looking_only(mut self) -> Self {
        self.looks_only = true;
        self
    }

    /// The file the request opened for reading, if any.
    pub fn take_download(&self) -> Option<Arc<Transfer>> {
        self.download
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn remember_download(&self, t: Arc<Transfer>) {
        *self.download.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
    }
}

impl std::ops::Deref for Session {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// Core error kinds to dav-server's (which maps them to HTTP statuses).
fn dav_error(e: Error) -> FsError {
    match e.kind {
        ErrorKind::NotFound => FsError::NotFound,
        ErrorKind::PermissionDenied | ErrorKind::InvalidInput => FsError::Forbidden,
        ErrorKind::QuotaExceeded => FsError::InsufficientStorage,
        ErrorKind::Unsupported => FsError::NotImplemented,
        ErrorKind::AlreadyExists => FsError::Exists,
        ErrorKind::Conflict => FsError::Forbidden,
        ErrorKind::Transient | ErrorKind::Internal => {
            tracing::warn!(sender = "WebDAV", error = %e, "request failed");
            FsError::GeneralFailure
        }
    }
}

fn resolve(conn: &Connection, path: &DavPath) -> FsResult<VirtualPath> {
    let raw = std::str::from_utf8(path.as_bytes()).map_err(|_| FsError::Forbidden)?;
    conn.resolve(raw).map_err(dav_error)
}

/// Attributes in dav-server's terms.
#[derive(Debug, Clone)]
struct Meta(FileInfo);

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.0.size
    }

    fn modified(&self) -> FsResult<SystemTime> {
        let secs = u64::try_from(self.0.mtime).unwrap_or(0);
        Ok(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn is_dir(&self) -> bool {
        self.0.kind == FileKind::Dir
    }

    fn is_symlink(&self) -> bool {
        self.0.kind == FileKind::Symlink
    }
}

struct Entry(FileInfo);

impl DavDirEntry for Entry {
    fn name(&self) -> Vec<u8> {
        self.0.name.as_bytes().to_vec()
    }

    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(Meta(self.0.clone()));
        Box::pin(async move { Ok(meta) })
    }
}

/// An open file with the cursor dav-server expects over a positional [`Transfer`].
struct File {
    transfer: Arc<Transfer>,
    pos: u64,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("path", &self.transfer.path().as_str())
            .field("pos", &self.pos)
            .finish()
    }
}

impl DavFile for File {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        Box::pin(async move {
            let info = self.transfer.stat().await.map_err(dav_error)?;
            Ok(Box::new(Meta(info)) as Box<dyn DavMetaData>)
        })
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        Box::pin(async move {
            while buf.has_remaining() {
                let chunk = buf.chunk();
                let n = chunk.len();
                self.transfer
                    .write_at(chunk, self.pos)
                    .await
                    .map_err(dav_error)?;
                self.pos += n as u64;
                buf.advance(n);
            }
            Ok(())
        })
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        Box::pin(async move {
            self.transfer
                .write_at(&buf, self.pos)
                .await
                .map_err(dav_error)?;
            self.pos += buf.len() as u64;
            Ok(())
        })
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        Box::pin(async move {
            // A recycled buffer: no fresh pages to fault in and zero per chunk.
            let mut buf = ReplyBuf::for_file(0, count, self.pos);
            let n = self
                .transfer
                .read_at(buf.as_mut_slice(), self.pos)
                .await
                .map_err(dav_error)?;
            if n == 0 && count > 0 {
                // dav-server asks for what the file held when the response started and
                // would pad a file that shrank since with zeros: end the body instead,
                // so the client sees a short transfer rather than wrong bytes.
                tracing::warn!(
                    sender = "WebDAV",
                    offset = self.pos,
                    "the file shrank during the download; response cut short"
                );
                return Err(FsError::GeneralFailure);
            }
            // dav-server never closes read handles: the front-end closes the
            // download once the response body is sent (`http1::FileBody`).
            self.pos += n as u64;
            Ok(buf.freeze(n))
        })
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        Box::pin(async move {
            let target = match pos {
                SeekFrom::Start(n) => Some(n),
                SeekFrom::Current(d) => self.pos.checked_add_signed(d),
                SeekFrom::End(d) => {
                    let size = self.transfer.stat().await.map_err(dav_error)?.size;
                    size.checked_add_signed(d)
                }
            };
            self.pos = target.ok_or(FsError::GeneralFailure)?;
            Ok(self.pos)
        })
    }

    /// dav-server flushes once a PUT body has been written: the upload is complete, so
    /// it is closed (an atomic upload gets its final name). A PUT that fails before
    /// this is aborted when the file is dropped.
    fn flush(&mut self) -> FsFuture<'_, ()> {
        Box::pin(async move {
            if self.transfer.kind() == TransferKind::Upload {
                self.transfer.close().await.map_err(dav_error)?;
            }
            Ok(())
        })
    }
}

/// The file system every request uses; the request's connection does the work.
#[derive(Clone, Default)]
pub struct ConnectionFs {
    /// Dead properties of every user's resources.
    pub props: DeadProps,
}

impl ConnectionFs {
    fn user(conn: &Session) -> &str {
        &conn.user().username
    }
}

impl GuardedFileSystem<Session> for ConnectionFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
        conn: &'a Session,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            let transfer = if options.write {
                let opts = WriteOptions {
                    create: options.create || options.create_new,
                    exclusive: options.create_new,
                    truncate: options.truncate,
                    append: options.append,
                    ..Default::default()
                };
                Arc::new(conn.open_write(&p, opts).await.map_err(dav_error)?)
            } else {
                let opened = if conn.looks_only {
                    conn.open_read_quiet(&p).await
                } else {
                    conn.open_read(&p).await
                };
                let t = Arc::new(opened.map_err(dav_error)?);
                conn.remember_download(t.clone());
                t
            };
            Ok(Box::new(File { transfer, pos: 0 }) as Box<dyn DavFile>)
        })
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
        conn: &'a Session,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            let entries = conn.read_dir(&p).await.map_err(dav_error)?;
            let items: Vec<FsResult<Box<dyn DavDirEntry>>> = entries
                .into_iter()
                .map(|e| Ok(Box::new(Entry(e)) as Box<dyn DavDirEntry>))
                .collect();
            Ok(Box::pin(futures::stream::iter(items)) as FsStream<Box<dyn DavDirEntry>>)
        })
    }

    fn metadata<'a>(
        &'a self,
        path: &'a DavPath,
        conn: &'a Session,
    ) -> FsFuture<'a, Box<dyn DavMetaData>> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            let info = conn.stat(&p).await.map_err(dav_error)?;
            Ok(Box::new(Meta(info)) as Box<dyn DavMetaData>)
        })
    }

    fn symlink_metadata<'a>(
        &'a self,
        path: &'a DavPath,
        conn: &'a Session,
    ) -> FsFuture<'a, Box<dyn DavMetaData>> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            let info = conn.lstat(&p).await.map_err(dav_error)?;
            Ok(Box::new(Meta(info)) as Box<dyn DavMetaData>)
        })
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath, conn: &'a Session) -> FsFuture<'a, ()> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            conn.mkdir(&p, 0).await.map_err(dav_error)?;
            if let Some(source) = conn.copy_source(&p) {
                let carried = self.props.before_carry(conn, &source).await;
                self.props.carry(conn, &source, &p, true, carried).await;
            }
            Ok(())
        })
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath, conn: &'a Session) -> FsFuture<'a, ()> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            conn.remove_dir(&p).await.map_err(dav_error)?;
            self.props.remove_tree(Self::user(conn), p.as_str());
            Ok(())
        })
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath, conn: &'a Session) -> FsFuture<'a, ()> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            conn.remove_file(&p).await.map_err(dav_error)?;
            self.props.remove_tree(Self::user(conn), p.as_str());
            Ok(())
        })
    }

    fn rename<'a>(
        &'a self,
        from: &'a DavPath,
        to: &'a DavPath,
        conn: &'a Session,
    ) -> FsFuture<'a, ()> {
        Box::pin(async move {
            let (f, t) = (resolve(conn, from)?, resolve(conn, to)?);
            // dav-server has already removed the target when `Overwrite: T` allows it,
            // so an existing target here must stay (`Overwrite: F` races).
            let carried = self.props.before_carry(conn, &f).await;
            conn.rename(&f, &t, false).await.map_err(dav_error)?;
            self.props.carry(conn, &f, &t, false, carried).await;
            Ok(())
        })
    }

    fn copy<'a>(
        &'a self,
        from: &'a DavPath,
        to: &'a DavPath,
        conn: &'a Session,
    ) -> FsFuture<'a, ()> {
        Box::pin(async move {
            let (f, t) = (resolve(conn, from)?, resolve(conn, to)?);
            let carried = self.props.before_carry(conn, &f).await;
            conn.copy(&f, &t).await.map_err(dav_error)?;
            self.props.carry(conn, &f, &t, true, carried).await;
            Ok(())
        })
    }

    fn have_props<'a>(
        &'a self,
        _path: &'a DavPath,
        _conn: &'a Session,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(async { true })
    }

    /// Needs the resource to be visible and `overwrite` in its directory (a
    /// PROPPATCH changes the resource).
    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
        conn: &'a Session,
    ) -> FsFuture<'a, Vec<(http::StatusCode, DavProp)>> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            conn.stat(&p).await.map_err(dav_error)?;
            if !conn.may(Permission::Overwrite, &p.parent()) {
                return Err(FsError::Forbidden);
            }
            self.props.patch(conn, &p, patch).await.map_err(dav_error)
        })
    }

    fn get_props<'a>(
        &'a self,
        path: &'a DavPath,
        do_content: bool,
        conn: &'a Session,
    ) -> FsFuture<'a, Vec<DavProp>> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            conn.stat(&p).await.map_err(dav_error)?;
            self.props
                .get(conn, &p, do_content)
                .await
                .map_err(dav_error)
        })
    }

    fn get_prop<'a>(
        &'a self,
        path: &'a DavPath,
        prop: DavProp,
        conn: &'a Session,
    ) -> FsFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let p = resolve(conn, path)?;
            conn.stat(&p).await.map_err(dav_error)?;
            self.props
                .value(conn, &p, &prop)
                .await
                .map_err(dav_error)?
                .ok_or(FsError::NotFound)
        })
    }
}
