//! Actions that reach outside: HTTP requests (type 1), commands (type 2) and e-mails
//! (type 3). Requests and mails are built here, placeholders replaced and files of the
//! user read through an elevated session; [`super::Outbound`] sends them.
//!
//! A command runs with only its configured environment (a value of `$` copies the
//! server's variable of that name, unless it starts with `SFTPGO_`), its output
//! discarded, and is killed at its timeout.

use std::process::Stdio;
use std::time::Duration;

use super::engine::{EventManager, Run};
use super::options::{CmdConfig, EmailConfig, HttpConfig, RETENTION_REPORTS};
use super::placeholders::{Escape, EventParams, Sender, query_escape};
use super::{Attachment, HttpRequest, Mail, Outbound};
use crate::path::VirtualPath;
use crate::zip::ZipWriter;
use crate::{Error, ErrorKind, Result};

/// Largest total of files attached to one mail.
const MAX_ATTACHMENTS: u64 = 10 * 1024 * 1024;
/// Largest total of files in one multipart request (built in memory).
const MAX_PARTS: u64 = 64 * 1024 * 1024;
/// Deadline of a request with file parts (the action's `timeout` does not apply).
const FILE_PARTS_TIMEOUT: Duration = Duration::from_secs(3600);
/// Largest total of retention reports, uncompressed.
const MAX_REPORTS: usize = 30 * 1024 * 1024;

/// The ZIP of the run's retention reports.
fn reports_zip(run: &Run) -> Result<Vec<u8>> {
    if run.reports.is_empty() {
        return Err(Error::invalid("no data retention report available"));
    }
    let total: usize = run.reports.iter().map(|(_, csv)| csv.len()).sum();
    if total > MAX_REPORTS {
        return Err(Error::invalid(format!(
            "unable to get retention report, size too large: {total}"
        )));
    }
    let mut zip = ZipWriter::new();
    let mut out = Vec::new();
    let now = crate::clock::now_secs();
    for (name, csv) in &run.reports {
        zip.start_file(name, now, csv.len() as u64);
        zip.write(csv)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        zip.finish_file();
        out.extend(zip.take());
    }
    zip.finish();
    out.extend(zip.take());
    Ok(out)
}

/// Percent-encodes one path segment (Go's `url.PathEscape`).
fn path_escape(s: &str) -> String {
    query_escape(s).replace('+', "%20")
}

/// The request URL: placeholders in the endpoint's path (each changed segment
/// escaped as one segment), query parameters with placeholders in their values, the
/// whole query sorted by key.
fn build_url(endpoint: &str, cfg: &HttpConfig, params: &EventParams) -> Result<String> {
    let (scheme, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| Error::invalid("invalid HTTP endpoint"))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    let path = if path.contains("{{.") {
        path.split('/')
            .map(|seg| {
                let replaced = params.replace(seg, Escape::Raw);
                if replaced == seg {
                    seg.to_string()
                } else {
                    path_escape(&replaced)
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    } else {
        path.to_string()
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    for q in &cfg.query_parameters {
        pairs.push((
            query_escape(&q.key),
            query_escape(&params.replace(&q.value, Escape::Raw)),
        ));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut url = format!("{scheme}://{authority}{path}");
    if !pairs.is_empty() {
        let q: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        url.push('?');
        url.push_str(&q.join("&"));
    }
    Ok(url)
}

/// A multipart header value with no line breaks (they would start new headers).
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// A quoted multipart header value.
fn quoted(s: &str) -> String {
    one_line(s).replace('\\', "\\\\").replace('"', "\\\"")
}

/// A MIME type for a file name.
fn mime_of(name: &str) -> &'static str {
    let ext = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "json" => "application/json",
        "txt" | "log" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

impl EventManager {
    fn outbound(&self) -> Result<&dyn Outbound> {
        self.outbound
            .as_deref()
            .ok_or_else(|| Error::new(ErrorKind::Unsupported, "outbound requests are disabled"))
    }

    /// Reads a file of the run's user (the fs event's user or the backup owner).
    async fn read_user_file(&self, run: &Run, path: &str, limit: u64) -> Result<(String, Vec<u8>)> {
        let sender = &run.params.sender;
        if matches!(sender, Sender::Selected | Sender::Folder(_)) {
            return Err(Error::invalid("no user associated with the event"));
        }
        let user = self
            .target_users(sender, &run.conditions.options)
            .await?
            .pop()
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "the event's user does not exist"))?;
        let conn = self
            .session(&user, *sender == Sender::System, "EventAction")
            .await?;
        let p = VirtualPath::parse(&super::options::clean_path(
            &run.params.replace(path, Escape::Raw),
        ))?;
        let info = conn.stat(&p).await?;
        if info.kind != sftpgo_vfs::FileKind::File {
            return Err(Error::invalid(format!("{p} is not a regular file")));
        }
        if info.size > limit {
            return Err(Error::invalid(format!(
                "unable to send files as attachment, size too large: {p}"
            )));
        }
        let t = conn.open_read(&p).await?;
        let mut data = vec![0u8; usize::try_from(info.size).unwrap_or(0)];
        let mut pos = 0usize;
        let read: Result<()> = async {
            while pos < data.len() {
                let n = t
                    .read_at(data.get_mut(pos..).unwrap_or_default(), pos as u64)
                    .await?;
                if n == 0 {
                    break;
                }
                pos += n;
            }
            Ok(())
        }
        .await;
        let _ = t.close().await;
        read?;
        data.truncate(pos);
        Ok((p.name().to_string(), data))
    }

    /// Type 1.
    pub(super) async fn send_http(
        &self,
        action: &str,
        cfg: &HttpConfig,
        run: &mut Run,
    ) -> Result<()> {
        let out = self.outbound()?;
        let params = &run.params;
        let url = build_url(&cfg.endpoint, cfg, params)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let json = cfg.headers.iter().any(|h| {
            h.key.eq_ignore_ascii_case("content-type")
                && h.value.to_ascii_lowercase().contains("application/json")
        });
        let mut body = Vec::new();
        if cfg.method != "GET" {
            if !cfg.parts.is_empty() {
                let boundary = format!("sftpgo{}", crate::catalog::random_id(24));
                let mut total = 0u64;
                for part in &cfg.parts {
                    body.extend(format!("--{boundary}\r\n").into_bytes());
                    let part_json = part.headers.iter().any(|h| {
                        h.key.eq_ignore_ascii_case("content-type")
                            && h.value.to_ascii_lowercase().contains("application/json")
                    });
                    let (filename, data) = if part.filepath.is_empty() {
                        let mode = if part_json { Escape::Json } else { Escape::Raw };
                        (None, params.replace(&part.body, mode).into_bytes())
                    } else if part.filepath == RETENTION_REPORTS {
                        (Some(RETENTION_REPORTS.to_string()), reports_zip(run)?)
                    } else {
                        let (name, data) = self
                            .read_user_file(run, &part.filepath, MAX_PARTS - total)
                            .await?;
                        total += data.len() as u64;
                        (Some(name), data)
                    };
                    let mut part_headers: Vec<(String, String)> = vec![(
                        "Content-Disposition".into(),
                        match &filename {
                            Some(f) => format!(
                                "form-data; name=\"{}\"; filename=\"{}\"",
                                quoted(&part.name),
                                quoted(f)
                            ),
                            None => format!("form-data; name=\"{}\"", quoted(&part.name)),
                        },
                    )];
                    if let Some(f) = &filename {
                        let mime = if f == RETENTION_REPORTS {
                            "application/octet-stream"
                        } else {
                            mime_of(f)
                        };
                        part_headers.push(("Content-Type".into(), mime.into()));
                    }
                    for h in &part.headers {
                        let value = one_line(&params.replace(&h.value, Escape::Raw));
                        part_headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&h.key));
                        part_headers.push((h.key.clone(), value));
                    }
                    for (k, v) in part_headers {
                        body.extend(format!("{k}: {v}\r\n").into_bytes());
                    }
                    body.extend(b"\r\n");
                    body.extend(data);
                    body.extend(b"\r\n");
                }
                body.extend(format!("--{boundary}--\r\n").into_bytes());
                headers.push((
                    "Content-Type".into(),
                    format!("multipart/form-data; boundary={boundary}"),
                ));
            } else if cfg.body == RETENTION_REPORTS {
                body = reports_zip(run)?;
            } else if !cfg.body.is_empty() {
                let mode = if json { Escape::Json } else { Escape::Raw };
                body = params.replace(&cfg.body, mode).into_bytes();
            }
        }
        for h in &cfg.headers {
            headers.push((h.key.clone(), params.replace(&h.value, Escape::Raw)));
        }
        let password = match &cfg.password {
            Some(secret) if crate::kms::is_secret(secret) => self
                .catalog
                .kms()
                .decrypt(secret)
                .map_err(|e| Error::invalid(format!("cannot decrypt the HTTP password: {e}")))?,
            _ => String::new(),
        };
        let basic_auth = (!cfg.username.is_empty() || !password.is_empty())
            .then(|| (params.replace(&cfg.username, Escape::Raw), password));
        let req = HttpRequest {
            method: cfg.method.clone(),
            url,
            headers,
            basic_auth,
            body,
            timeout: Some(if cfg.has_file_parts() {
                FILE_PARTS_TIMEOUT
            } else {
                Duration::from_secs(u64::try_from(cfg.timeout).unwrap_or(1))
            }),
            skip_tls_verify: cfg.skip_tls_verify,
        };
        let status = out
            .http(req)
            .await
            .map_err(|e| Error::invalid(format!("error sending HTTP request: {e}")))?;
        if !(200..=204).contains(&status) {
            return Err(Error::invalid(format!("unexpected status code: {status}")));
        }
        tracing::debug!(sender = "eventmanager", action, status, "HTTP action sent");
        Ok(())
    }

    /// Type 3.
    pub(super) async fn send_mail(&self, cfg: &EmailConfig, run: &mut Run) -> Result<()> {
        let out = self.outbound()?;
        let params = &run.params;
        let list = |l: &[String]| -> Vec<String> {
            l.iter()
                .map(|r| params.replace(r, Escape::Raw).trim().to_string())
                .filter(|r| !r.is_empty())
                .collect()
        };
        let html = cfg.content_type == 1;
        let mut mail = Mail {
            to: list(&cfg.recipients),
            bcc: list(&cfg.bcc),
            subject: params.replace(&cfg.subject, Escape::Raw),
            body: params.replace(&cfg.body, if html { Escape::Html } else { Escape::Raw }),
            html,
            attachments: Vec::new(),
        };
        let mut total = 0u64;
        for a in &cfg.attachments {
            if a == RETENTION_REPORTS {
                mail.attachments.push(Attachment {
                    name: "retention-reports.zip".into(),
                    data: reports_zip(run)?,
                });
                continue;
            }
            let (name, data) = self
                .read_user_file(run, a, MAX_ATTACHMENTS.saturating_sub(total))
                .await?;
            total += data.len() as u64;
            mail.attachments.push(Attachment { name, data });
        }
        out.mail(mail)
            .await
            .map_err(|e| Error::invalid(format!("unable to send email: {e}")))
    }
}

/// Type 2.
pub(super) async fn run_command(cfg: &CmdConfig, params: &EventParams) -> Result<()> {
    if !super::command_enabled(&cfg.cmd) {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("command {:?} is not allowed", cfg.cmd),
        ));
    }
    let mut cmd = tokio::process::Command::new(&cfg.cmd);
    cmd.args(cfg.args.iter().map(|a| params.replace(a, Escape::Raw)))
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for kv in &cfg.env_vars {
        let value = if kv.value == "$" && !kv.key.to_ascii_uppercase().starts_with("SFTPGO_") {
            std::env::var(&kv.key).unwrap_or_default()
        } else {
            params.replace(&kv.value, Escape::Raw)
        };
        cmd.env(&kv.key, value);
    }
    let limit = Duration::from_secs(u64::try_from(cfg.timeout).unwrap_or(1));
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::invalid(format!("cannot run {:?}: {e}", cfg.cmd)))?;
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(Error::invalid(match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        })),
        Ok(Err(e)) => Err(Error::invalid(e.to_string())),
        Err(_) => {
            let _ = child.kill().await;
            Err(Error::invalid(format!(
                "command timed out after {} seconds",
                cfg.timeout
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::options::KeyValue;

    #[test]
    fn urls_take_placeholders_in_path_segments_and_sorted_queries() {
        let params = EventParams {
            name: "a b/c".into(),
            event: "upload".into(),
            ..Default::default()
        };
        let cfg = HttpConfig {
            query_parameters: vec![
                KeyValue {
                    key: "z".into(),
                    value: "{{.Event}}".into(),
                },
                KeyValue {
                    key: "a".into(),
                    value: "x y".into(),
                },
            ],
            ..Default::default()
        };
        let url = build_url("http://h:8/hook/{{.Name}}?k=1", &cfg, &params).unwrap();
        assert_eq!(url, "http://h:8/hook/a%20b%2Fc?a=x+y&k=1&z=upload");
        let url = build_url("https://h", &HttpConfig::default(), &params).unwrap();
        assert_eq!(url, "https://h");
    }
}
