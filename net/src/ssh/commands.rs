//! SSH exec commands: the hash commands, `cd`, `pwd`, `sftpgo-copy`, `sftpgo-remove`
//! and `scp`, each gated by `sftpd.enabled_ssh_commands`. No command ever runs a
//! program: each is implemented here on top of the user's `Connection`.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use russh::Channel;
use russh::server::Msg;
use sftpgo_core::connection::Connection;
use sftpgo_core::hash::HashAlgo;

use super::SshServer;

/// Output of a command: stdout, stderr, exit status.
struct Outcome {
    stdout: String,
    stderr: String,
    status: u32,
}

impl Outcome {
    fn ok(stdout: impl Into<String>) -> Self {
        Self {
            stdout: stdout.into(),
            stderr: String::new(),
            status: 0,
        }
    }

    fn fail(stderr: impl Into<String>) -> Self {
        let mut s: String = stderr.into();
        if !s.ends_with('\n') {
            s.push('\n');
        }
        Self {
            stdout: String::new(),
            stderr: s,
            status: 1,
        }
    }
}

/// Splits a command line into words, honouring single and double quotes and `\` escapes.
pub fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => cur.push(chars.next()?),
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                cur.push(chars.next()?);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

fn hash_algo(cmd: &str) -> Option<HashAlgo> {
    Some(match cmd {
        "md5sum" => HashAlgo::Md5,
        "sha1sum" => HashAlgo::Sha1,
        "sha256sum" => HashAlgo::Sha256,
        "sha384sum" => HashAlgo::Sha384,
        "sha512sum" => HashAlgo::Sha512,
        _ => return None,
    })
}

/// Runs one exec request to completion and closes the channel.
pub async fn run(srv: Arc<SshServer>, channel: Channel<Msg>, conn: Connection, line: String) {
    let Some(words) = split_words(&line) else {
        finish(channel, Outcome::fail("unbalanced quotes in command")).await;
        return;
    };
    let Some((cmd, args)) = words.split_first() else {
        finish(channel, Outcome::fail("empty command")).await;
        return;
    };
    let known = super::config::SUPPORTED_COMMANDS.contains(&cmd.as_str());
    if !known || !srv.config.command_enabled(cmd) {
        tracing::warn!(sender = "SSH", connection_id = %conn.id(), username = %conn.user().username,
            command = %cmd, "SSH command not allowed");
        finish(
            channel,
            Outcome::fail(format!("{cmd}: command not allowed")),
        )
        .await;
        return;
    }
    tracing::info!(sender = "SSHCommand", connection_id = %conn.id(), username = %conn.user().username,
        command = %line, "SSH command");
    if cmd == "scp" {
        super::scp::run(channel, conn, args).await;
        return;
    }
    let outcome = match (cmd.as_str(), args) {
        ("cd", _) => Outcome::ok(""),
        ("pwd", _) => Outcome::ok("/\n"),
        (c, [path]) if hash_algo(c).is_some() => hash(&conn, c, path).await,
        (c, _) if hash_algo(c).is_some() => Outcome::fail(format!("usage: {c} <path>")),
        ("sftpgo-copy", [src, dst]) => {
            let res = match (conn.resolve(src), conn.resolve(dst)) {
                (Ok(a), Ok(b)) => conn.copy(&a, &b).await,
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            match res {
                Ok(()) => Outcome::ok("OK\n"),
                Err(e) => Outcome::fail(format!("sftpgo-copy: {e}")),
            }
        }
        ("sftpgo-copy", _) => Outcome::fail("usage: sftpgo-copy <source> <destination>"),
        ("sftpgo-remove", [path]) => {
            let res = match conn.resolve(path) {
                Ok(p) => conn.remove_all(&p).await,
                Err(e) => Err(e),
            };
            match res {
                Ok(()) => Outcome::ok("OK\n"),
                Err(e) => Outcome::fail(format!("sftpgo-remove: {e}")),
            }
        }
        ("sftpgo-remove", _) => Outcome::fail("usage: sftpgo-remove <path>"),
        (c, _) => Outcome::fail(format!("{c}: command not allowed")),
    };
    finish(channel, outcome).await;
}

async fn hash(conn: &Connection, cmd: &str, raw: &str) -> Outcome {
    let Some(algo) = hash_algo(cmd) else {
        return Outcome::fail("unsupported hash");
    };
    let res = match conn.resolve(raw) {
        Ok(p) => conn.hash_file(&p, algo).await,
        Err(e) => Err(e),
    };
    match res {
        Ok(h) => Outcome::ok(format!("{h}  {raw}\n")),
        Err(e) => Outcome::fail(format!("{cmd}: {raw}: {e}")),
    }
}

async fn finish(channel: Channel<Msg>, out: Outcome) {
    if !out.stdout.is_empty() {
        let _ = channel.data_bytes(out.stdout.into_bytes()).await;
    }
    if !out.stderr.is_empty() {
        let _ = channel
            .extended_data_bytes(1, out.stderr.into_bytes())
            .await;
    }
    let _ = channel.exit_status(out.status).await;
    let _ = channel.eof().await;
    let _ = channel.close().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::split_words;

    #[test]
    fn words() {
        assert_eq!(split_words("scp -t /a").unwrap(), ["scp", "-t", "/a"]);
        assert_eq!(
            split_words("sha256sum 'a b'").unwrap(),
            ["sha256sum", "a b"]
        );
        assert_eq!(
            split_words(r#"x "a\"b" c\ d"#).unwrap(),
            ["x", "a\"b", "c d"]
        );
        assert!(split_words("x 'open").is_none());
    }
}
