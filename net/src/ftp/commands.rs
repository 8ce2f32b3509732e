//! File commands of a logged-in FTP session: directories (RFC 959 §4.1.1, §4.1.3),
//! transfers (`RETR`, `STOR`, `APPE` with `REST`, RFC 3659 §5), listings (`LIST`,
//! `NLST`, `MLSD`/`MLST` RFC 3659 §7, `STAT`), sizes and times (`SIZE`, `MDTM`,
//! `MFMT`), hashes (draft-bryan-ftpext-hash), `AVBL`, `SITE` and `COMB`. Every path
//! goes through `core::Connection`, which checks permissions and patterns.

use std::io;
use std::sync::Arc;

use sftpgo_core::connection::{Connection, Transfer, WriteOptions};
use sftpgo_core::hash::HashAlgo;
use sftpgo_core::model::Permission;
use sftpgo_core::path::VirtualPath;
use sftpgo_vfs::{FileInfo, FileKind, SetAttrs};

use super::data::DataPlan;
use super::reply;
use super::session::{Flow, Session, Work, hash_name};
use crate::listing;

impl Session {
    fn conn(&self) -> Option<Arc<Connection>> {
        self.login.as_ref().map(|l| l.conn.clone())
    }

    /// Resolves a client path against the current directory, answering 553 when it is
    /// not acceptable.
    async fn path(&mut self, conn: &Connection, raw: &str) -> io::Result<Option<VirtualPath>> {
        match conn.resolve_from(&self.cwd, raw) {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                self.reply(553, &e.message).await?;
                Ok(None)
            }
        }
    }

    async fn fail(&mut self, e: &sftpgo_core::Error) -> io::Result<()> {
        let (code, text) = reply::for_error(e);
        if code == 451 {
            tracing::warn!(sender = "FTP", connection_id = %self.conn_id, error = %e, "request failed");
        }
        self.reply(code, &text).await
    }

    pub(super) async fn file_command(&mut self, verb: &str, arg: &str) -> io::Result<Flow> {
        let Some(conn) = self.conn() else {
            self.reply(530, "Please log in with USER and PASS").await?;
            return Ok(Flow::Continue);
        };
        // REST applies to the next transfer only.
        let rest = std::mem::take(&mut self.rest);
        // RNTO must come right after RNFR (RFC 959 §4.1.3); RNFR sets it again.
        if verb != "RNTO" {
            self.rename_from = None;
        }
        match verb {
            "PWD" | "XPWD" => {
                let quoted = self.cwd.as_str().replace('"', "\"\"");
                self.reply(257, &format!("\"{quoted}\" is the current directory"))
                    .await?;
            }
            "CWD" | "XCWD" => self.cwd(&conn, arg).await?,
            "CDUP" | "XCUP" => self.cwd(&conn, "..").await?,
            "MKD" | "XMKD" => {
                if let Some(p) = self.path(&conn, arg).await? {
                    match conn.mkdir(&p, 0).await {
                        Ok(()) => {
                            let quoted = p.as_str().replace('"', "\"\"");
                            self.reply(257, &format!("\"{quoted}\" created")).await?;
                        }
                        Err(e) => self.fail(&e).await?,
                    }
                }
            }
            "RMD" | "XRMD" => {
                if let Some(p) = self.path(&conn, arg).await? {
                    match conn.remove_dir(&p).await {
                        Ok(()) => self.reply(250, "Directory removed").await?,
                        Err(e) => self.fail(&e).await?,
                    }
                }
            }
            "DELE" => {
                if let Some(p) = self.path(&conn, arg).await? {
                    match conn.remove_file(&p).await {
                        Ok(()) => self.reply(250, "File removed").await?,
                        Err(e) => self.fail(&e).await?,
                    }
                }
            }
            "RNFR" => {
                if let Some(p) = self.path(&conn, arg).await? {
                    match conn.lstat(&p).await {
                        Ok(_) => {
                            self.rename_from = Some(p);
                            self.reply(350, "Ready for the destination name").await?;
                        }
                        Err(e) => self.fail(&e).await?,
                    }
                }
            }
            "RNTO" => {
                let Some(from) = self.rename_from.take() else {
                    self.reply(503, "Send RNFR first").await?;
                    return Ok(Flow::Continue);
                };
                if let Some(to) = self.path(&conn, arg).await? {
                    match conn.rename(&from, &to, true).await {
                        Ok(()) => self.reply(250, "Renamed").await?,
                        Err(e) => self.fail(&e).await?,
                    }
                }
            }
            "SIZE" => {
                if let Some(p) = self.path(&conn, arg).await? {
                    match conn.stat(&p).await {
                        Ok(info) if info.kind == FileKind::File => {
                            self.reply(213, &info.size.to_string()).await?;
                        }
                        Ok(_) => self.reply(550, "Not a regular file").await?,
                        Err(e) => self.fail(&e).await?,
                    }
                }
            }
            "MDTM" => self.mdtm(&conn, arg).await?,
            "MFMT" => self.mfmt(&conn, arg).await?,
            "RETR" => return self.retr(&conn, arg, rest).await,
            "STOR" => return self.store(&conn, arg, rest, false).await,
            "APPE" => return self.store(&conn, arg, 0, true).await,
            "STOU" => return self.store_unique(&conn).await,
            "LIST" | "NLST" | "MLSD" => return self.list(&conn, verb, arg).await,
            "MLST" => self.mlst(&conn, arg).await?,
            "STAT" => self.stat_path(&conn, arg).await?,
            "AVBL" => {
                let dir = if arg.is_empty() { "." } else { arg };
                if let Some(p) = self.path(&conn, dir).await? {
                    // Only for directories the user may see.
                    if let Err(e) = conn.stat(&p).await {
                        self.fail(&e).await?;
                        return Ok(Flow::Continue);
                    }
                    match conn.statvfs(&p).await {
                        Ok(s) => self.reply(213, &(s.bavail * s.frsize).to_string()).await?,
                        Err(e) => self.fail(&e).await?,
                    }
                }
            }
            "HASH" => self.hash(&conn, arg, None).await?,
            "XMD5" | "MD5" => self.hash(&conn, arg, Some(HashAlgo::Md5)).await?,
            "XSHA" | "XSHA1" => self.hash(&conn, arg, Some(HashAlgo::Sha1)).await?,
            "XSHA256" => self.hash(&conn, arg, Some(HashAlgo::Sha256)).await?,
            "XSHA512" => self.hash(&conn, arg, Some(HashAlgo::Sha512)).await?,
            "SITE" => self.site(&conn, arg).await?,
            "COMB" => self.comb(&conn, arg).await?,
            _ => self.reply(502, "Command not implemented").await?,
        }
        Ok(Flow::Continue)
    }

    async fn cwd(&mut self, conn: &Connection, arg: &str) -> io::Result<()> {
        let Some(p) = self.path(conn, arg).await? else {
            return Ok(());
        };
        match conn.stat(&p).await {
            Ok(info) if info.is_dir() => {
                self.cwd = p;
                self.reply(250, "Directory changed").await
            }
            Ok(_) => self.reply(550, "Not a directory").await,
            Err(e) => self.fail(&e).await,
        }
    }

    /// `MDTM path` (RFC 3659 §3), or `MDTM time path` to set it (as several servers).
    async fn mdtm(&mut self, conn: &Connection, arg: &str) -> io::Result<()> {
        if let Some((t, rest)) = arg.split_once(' ')
            && let Some(secs) = listing::parse_time_val(t)
        {
            return self.set_mtime(conn, secs, rest, false).await;
        }
        let Some(p) = self.path(conn, arg).await? else {
            return Ok(());
        };
        match conn.stat(&p).await {
            Ok(info) if info.kind == FileKind::File => {
                self.reply(213, &listing::time_val(info.mtime)).await
            }
            Ok(_) => self.reply(550, "Not a regular file").await,
            Err(e) => self.fail(&e).await,
        }
    }

    /// `MFMT time path` (draft-somers-ftp-mfxx).
    async fn mfmt(&mut self, conn: &Connection, arg: &str) -> io::Result<()> {
        let Some((t, rest)) = arg.split_once(' ') else {
            return self.reply(501, "MFMT needs a time and a path").await;
        };
        let Some(secs) = listing::parse_time_val(t) else {
            return self.reply(501, "Invalid time").await;
        };
        self.set_mtime(conn, secs, rest, true).await
    }

    async fn set_mtime(
        &mut self,
        conn: &Connection,
        secs: i64,
        raw: &str,
        mfmt: bool,
    ) -> io::Result<()> {
        let Some(p) = self.path(conn, raw).await? else {
            return Ok(());
        };
        let attrs = SetAttrs {
            times: Some((secs, secs)),
            ..Default::default()
        };
        match conn.set_attrs(&p, &attrs, true).await {
            Ok(()) if mfmt => {
                self.reply(213, &format!("Modify={}; {}", listing::time_val(secs), raw))
                    .await
            }
            Ok(()) => self.reply(213, &listing::time_val(secs)).await,
            Err(e) => self.fail(&e).await,
        }
    }

    async fn retr(&mut self, conn: &Connection, arg: &str, rest: u64) -> io::Result<Flow> {
        let Some(p) = self.path(conn, arg).await? else {
            return Ok(Flow::Continue);
        };
        let transfer = match conn.open_read(&p).await {
            Ok(t) => t,
            Err(e) => {
                self.fail(&e).await?;
                return Ok(Flow::Continue);
            }
        };
        let size = match transfer.stat().await {
            Ok(info) if info.kind == FileKind::File => info.size,
            Ok(_) => {
                transfer.abort().await;
                self.reply(550, "Not a regular file").await?;
                return Ok(Flow::Continue);
            }
            Err(e) => {
                transfer.abort().await;
                self.fail(&e).await?;
                return Ok(Flow::Continue);
            }
        };
        if rest > size {
            transfer.abort().await;
            self.reply(554, "Restart offset beyond the end of the file")
                .await?;
            return Ok(Flow::Continue);
        }
        let Some(plan) = self.take_plan().await? else {
            transfer.abort().await;
            return Ok(Flow::Continue);
        };
        self.reply(
            150,
            &format!("Opening data connection for {p} ({size} bytes)"),
        )
        .await?;
        self.transfer(plan, Work::SendFile(transfer, rest)).await
    }

    async fn store(
        &mut self,
        conn: &Connection,
        arg: &str,
        rest: u64,
        append: bool,
    ) -> io::Result<Flow> {
        let Some(p) = self.path(conn, arg).await? else {
            return Ok(Flow::Continue);
        };
        // Resumed uploads continue the existing file in place; appends start at its
        // end, read from the open file (no list permission needed, as SFTPGo).
        let opts = WriteOptions {
            create: true,
            truncate: rest == 0 && !append,
            ..Default::default()
        };
        let Some((plan, transfer)) = self.open_upload(conn, &p, opts).await? else {
            return Ok(Flow::Continue);
        };
        let offset = if append {
            match transfer.stat().await {
                Ok(info) => info.size,
                Err(e) => {
                    transfer.abort().await;
                    self.fail(&e).await?;
                    return Ok(Flow::Continue);
                }
            }
        } else {
            rest
        };
        self.reply(150, &format!("Opening data connection for {p}"))
            .await?;
        self.transfer(plan, Work::Receive(transfer, offset)).await
    }

    /// The data connection plan and the open file of an upload; `None` once the
    /// refusal has been answered.
    async fn open_upload(
        &mut self,
        conn: &Connection,
        p: &VirtualPath,
        opts: WriteOptions,
    ) -> io::Result<Option<(DataPlan, Transfer)>> {
        let Some(plan) = self.take_plan().await? else {
            return Ok(None);
        };
        match conn.open_write(p, opts).await {
            Ok(t) => Ok(Some((plan, t))),
            Err(e) => {
                self.fail(&e).await?;
                Ok(None)
            }
        }
    }

    /// `STOU` (RFC 959 §4.1.3, RFC 1123 §4.1.2.9): an upload under a new name the
    /// server picks in the current directory, announced as `150 FILE: <name>`.
    async fn store_unique(&mut self, conn: &Connection) -> io::Result<Flow> {
        let mut rnd = [0u8; 6];
        rand::fill(&mut rnd);
        let name = format!(
            "ftp-{}",
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let Some(p) = self.path(conn, &name).await? else {
            return Ok(Flow::Continue);
        };
        let opts = WriteOptions {
            create: true,
            exclusive: true,
            truncate: true,
            ..Default::default()
        };
        let Some((plan, transfer)) = self.open_upload(conn, &p, opts).await? else {
            return Ok(Flow::Continue);
        };
        self.reply(150, &format!("FILE: {name}")).await?;
        self.transfer(plan, Work::Receive(transfer, 0)).await
    }

    /// `LIST`/`NLST`/`MLSD` of a directory (or, for `LIST`/`NLST`, of one file).
    async fn list(&mut self, conn: &Connection, verb: &str, arg: &str) -> io::Result<Flow> {
        // `ls` options clients send (`LIST -la`) are not paths.
        let raw = if verb == "MLSD" {
            arg
        } else {
            strip_ls_options(arg)
        };
        let Some(p) = self
            .path(conn, if raw.is_empty() { "." } else { raw })
            .await?
        else {
            return Ok(Flow::Continue);
        };
        let info = match conn.stat(&p).await {
            Ok(i) => i,
            Err(e) => {
                self.fail(&e).await?;
                return Ok(Flow::Continue);
            }
        };
        let entries = if info.is_dir() {
            match conn.read_dir(&p).await {
                Ok(e) => e,
                Err(e) => {
                    self.fail(&e).await?;
                    return Ok(Flow::Continue);
                }
            }
        } else if verb == "MLSD" {
            self.reply(501, "MLSD lists directories only").await?;
            return Ok(Flow::Continue);
        } else {
            vec![FileInfo {
                name: p.name().to_string(),
                ..info
            }]
        };
        let now = sftpgo_core::clock::now_secs();
        let mut out = String::with_capacity(entries.len() * 80);
        for e in &entries {
            let line = match verb {
                "NLST" => e.name.clone(),
                "MLSD" => listing::mlsx_line(e, None, &facts_perm(conn, &p, e)),
                _ => listing::long_name(e, now),
            };
            out.push_str(&line);
            out.push_str("\r\n");
        }
        let Some(plan) = self.take_plan().await? else {
            return Ok(Flow::Continue);
        };
        self.reply(150, "Here comes the listing").await?;
        self.transfer(plan, Work::SendBytes(out.into_bytes())).await
    }

    /// `MLST path` (RFC 3659 §7.2): facts on the control connection.
    async fn mlst(&mut self, conn: &Connection, arg: &str) -> io::Result<()> {
        let Some(p) = self
            .path(conn, if arg.is_empty() { "." } else { arg })
            .await?
        else {
            return Ok(());
        };
        match conn.stat(&p).await {
            Ok(info) => {
                let entry = FileInfo {
                    name: p.as_str().to_string(),
                    ..info
                };
                let perm = facts_perm(conn, &p.parent(), &entry);
                let line = listing::mlsx_line(&entry, None, &perm);
                self.reply(250, &format!("Listing {p}\n{line}\nEnd")).await
            }
            Err(e) => self.fail(&e).await,
        }
    }

    /// `STAT path`: the listing on the control connection (RFC 959 §4.1.3).
    async fn stat_path(&mut self, conn: &Connection, arg: &str) -> io::Result<()> {
        let raw = strip_ls_options(arg);
        let Some(p) = self.path(conn, raw).await? else {
            return Ok(());
        };
        let info = match conn.stat(&p).await {
            Ok(i) => i,
            Err(e) => return self.fail(&e).await,
        };
        let entries = if info.is_dir() {
            match conn.read_dir(&p).await {
                Ok(e) => e,
                Err(e) => return self.fail(&e).await,
            }
        } else {
            vec![FileInfo {
                name: p.name().to_string(),
                ..info
            }]
        };
        let now = sftpgo_core::clock::now_secs();
        let mut text = format!("Status of {p}:");
        for e in &entries {
            text.push('\n');
            text.push_str(&listing::long_name(e, now));
        }
        text.push_str("\nEnd of status");
        self.reply(213, &text).await
    }

    /// `HASH path` (selected algorithm, `213 ALGO 0-size hash path`) or an `X*`
    /// command (`250 hash`).
    async fn hash(
        &mut self,
        conn: &Connection,
        arg: &str,
        algo: Option<HashAlgo>,
    ) -> io::Result<()> {
        if !self.listener.server.config.hash_support {
            return self.reply(502, "Hash commands are disabled").await;
        }
        let Some(p) = self.path(conn, arg).await? else {
            return Ok(());
        };
        let size = match conn.stat(&p).await {
            Ok(info) if info.kind == FileKind::File => info.size,
            Ok(_) => return self.reply(553, "Not a regular file").await,
            Err(e) => return self.fail(&e).await,
        };
        let chosen = algo.unwrap_or(self.hash_algo);
        match conn.hash_file(&p, chosen).await {
            Ok(h) if algo.is_none() => {
                let name = hash_name(chosen);
                self.reply(213, &format!("{name} 0-{size} {h} {arg}")).await
            }
            Ok(h) => self.reply(250, &h).await,
            Err(e) => self.fail(&e).await,
        }
    }

    /// `SITE CHMOD mode path`, `SITE SYMLINK target link` (when `enable_site`).
    async fn site(&mut self, conn: &Connection, arg: &str) -> io::Result<()> {
        if !self.listener.server.config.enable_site {
            return self.reply(502, "SITE commands are disabled").await;
        }
        let (sub, rest) = super::session::split_command(arg);
        let Some((first, second)) = rest.split_once(' ') else {
            return self.reply(501, "SITE needs two arguments").await;
        };
        match sub.as_str() {
            "CHMOD" => {
                let Ok(mode) = u32::from_str_radix(first, 8) else {
                    return self.reply(501, "Invalid mode").await;
                };
                let Some(p) = self.path(conn, second).await? else {
                    return Ok(());
                };
                let attrs = SetAttrs {
                    perm: Some(mode & 0o7777),
                    ..Default::default()
                };
                match conn.set_attrs(&p, &attrs, true).await {
                    Ok(()) => self.reply(200, "SITE CHMOD command successful").await,
                    Err(e) => self.fail(&e).await,
                }
            }
            "SYMLINK" => {
                let Some(link) = self.path(conn, second).await? else {
                    return Ok(());
                };
                let target = match conn.resolve_from(&self.cwd, first) {
                    Ok(t) => t,
                    Err(e) => return self.reply(553, &e.message).await,
                };
                match conn.symlink(target.as_str(), &link).await {
                    Ok(()) => self.reply(200, "SITE SYMLINK command successful").await,
                    Err(e) => self.fail(&e).await,
                }
            }
            _ => self.reply(504, "Unknown SITE command").await,
        }
    }

    /// `COMB target part1 part2 ...` (when `combine_support`): appends the parts, in
    /// order, to a new target, then deletes them. Arguments with spaces are quoted.
    async fn comb(&mut self, conn: &Connection, arg: &str) -> io::Result<()> {
        if !self.listener.server.config.combine_support {
            return self.reply(502, "COMB is disabled").await;
        }
        let args = split_quoted(arg);
        let Some((target, parts)) = args.split_first().filter(|(_, p)| !p.is_empty()) else {
            return self
                .reply(501, "COMB needs a target and at least one part")
                .await;
        };
        let mut paths = Vec::with_capacity(parts.len());
        for raw in parts {
            let Some(p) = self.path(conn, raw).await? else {
                return Ok(());
            };
            paths.push(p);
        }
        let Some(target) = self.path(conn, target).await? else {
            return Ok(());
        };
        let mut seen = std::collections::HashSet::new();
        if paths
            .iter()
            .any(|p| *p == target || !seen.insert(p.clone()))
        {
            return self
                .reply(
                    501,
                    "COMB parts must differ from each other and from the target",
                )
                .await;
        }
        match combine(conn, &target, &paths).await {
            Ok(()) => self.reply(200, "COMB successful").await,
            Err(e) => self.fail(&e).await,
        }
    }
}

/// Appends the parts to the target (created when missing, as ftpserverlib), then
/// deletes them.
async fn combine(
    conn: &Connection,
    target: &VirtualPath,
    parts: &[VirtualPath],
) -> sftpgo_core::Result<()> {
    let opts = WriteOptions {
        create: true,
        ..Default::default()
    };
    let out = conn.open_write(target, opts).await?;
    let mut offset = out.stat().await?.size;
    let mut buf = vec![0u8; super::pump::CHUNK];
    for part in parts {
        let input = conn.open_read(part).await?;
        let mut pos = 0u64;
        loop {
            let n = input.read_at(&mut buf, pos).await?;
            if n == 0 {
                break;
            }
            out.write_at(buf.get(..n).unwrap_or_default(), offset)
                .await?;
            pos += n as u64;
            offset += n as u64;
        }
        input.close().await?;
    }
    out.close().await?;
    for part in parts {
        conn.remove_file(part).await?;
    }
    Ok(())
}

/// The RFC 3659 `perm` fact of an entry of `dir`.
fn facts_perm(conn: &Connection, dir: &VirtualPath, e: &FileInfo) -> String {
    let may = |p: Permission| conn.may(p, dir);
    let mut s = String::new();
    let rename = may(Permission::Rename)
        || may(if e.is_dir() {
            Permission::RenameDirs
        } else {
            Permission::RenameFiles
        });
    let delete = may(Permission::Delete)
        || may(if e.is_dir() {
            Permission::DeleteDirs
        } else {
            Permission::DeleteFiles
        });
    if e.is_dir() {
        let child = dir.join(&e.name).unwrap_or_else(|_| dir.clone());
        let inner = |p: Permission| conn.may(p, &child);
        if inner(Permission::Upload) {
            s.push('c');
        }
        if delete {
            s.push('d');
        }
        s.push('e');
        if rename {
            s.push('f');
        }
        if inner(Permission::List) {
            s.push('l');
        }
        if inner(Permission::CreateDirs) {
            s.push('m');
        }
        if inner(Permission::Delete) || inner(Permission::DeleteFiles) {
            s.push('p');
        }
    } else {
        if may(Permission::Overwrite) {
            s.push('a');
        }
        if delete {
            s.push('d');
        }
        if rename {
            s.push('f');
        }
        if may(Permission::Download) {
            s.push('r');
        }
        if may(Permission::Overwrite) {
            s.push('w');
        }
    }
    s
}

/// Drops leading `ls` options (`-la`, `-a`) from a `LIST`/`NLST`/`STAT` argument.
fn strip_ls_options(arg: &str) -> &str {
    let mut rest = arg.trim_start();
    while rest.starts_with('-') {
        match rest.split_once(' ') {
            Some((_, after)) => rest = after.trim_start(),
            None => return "",
        }
    }
    rest
}

/// Splits `a "b c" d` into `["a", "b c", "d"]`.
fn split_quoted(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn ls_options_are_not_paths() {
        assert_eq!(strip_ls_options("-la"), "");
        assert_eq!(strip_ls_options("-l -a dir x"), "dir x");
        assert_eq!(strip_ls_options("dir"), "dir");
        assert_eq!(strip_ls_options(""), "");
    }

    #[test]
    fn quoted_arguments() {
        assert_eq!(split_quoted(r#"t "a b" c"#), vec!["t", "a b", "c"]);
        assert_eq!(split_quoted(r#"  x  "" "#), vec!["x", ""]);
    }
}
