//! Event action options (`BaseEventActionOptions`): one typed sub-configuration per
//! action type, checked and put in canonical form before an action is stored, as
//! SFTPGo does (the sub-configurations of other types are emptied, paths cleaned, lists
//! de-duplicated).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// Action type ids.
pub mod kind {
    /// HTTP request.
    pub const HTTP: i32 = 1;
    /// External command.
    pub const COMMAND: i32 = 2;
    /// E-mail.
    pub const EMAIL: i32 = 3;
    /// Dump of the data provider into the backups directory.
    pub const BACKUP: i32 = 4;
    /// Recount users' used quota.
    pub const USER_QUOTA_RESET: i32 = 5;
    /// Recount folders' used quota.
    pub const FOLDER_QUOTA_RESET: i32 = 6;
    /// Zero users' data-transfer counters.
    pub const TRANSFER_QUOTA_RESET: i32 = 7;
    /// Delete files older than a retention period.
    pub const DATA_RETENTION: i32 = 8;
    /// File operations in users' trees.
    pub const FILESYSTEM: i32 = 9;
    /// E-mail users whose password is about to expire.
    pub const PASSWORD_EXPIRATION: i32 = 11;
    /// Fail (and so notify) when users have expired.
    pub const USER_EXPIRATION: i32 = 12;
    /// Create or update accounts at identity-provider logins.
    pub const IDP_CHECK: i32 = 13;
    /// Disable or delete inactive users.
    pub const USER_INACTIVITY: i32 = 14;
    /// Rotate the log file.
    pub const ROTATE_LOG: i32 = 15;
}

/// Every known action type.
pub const ACTION_TYPES: [i32; 14] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15];

/// The special attachment / body / part naming the data-retention reports of the run.
pub const RETENTION_REPORTS: &str = "{{RetentionReports}}";

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A `{key, value}` pair (headers, query parameters, environment, copies).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    /// Name.
    pub key: String,
    /// Value (placeholders allowed).
    pub value: String,
}

/// One part of a multipart HTTP body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpPart {
    /// Form field name.
    pub name: String,
    /// A file of the user to send (then `body` is unused).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filepath: String,
    /// Part headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<KeyValue>,
    /// Part body.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// `http_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// `http://` or `https://` URL; placeholders allowed in its path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    /// Basic auth user.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Basic auth password (a KMS secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Value>,
    /// Request headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<KeyValue>,
    /// Seconds, 1-180.
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Accept any server certificate.
    #[serde(skip_serializing_if = "is_false")]
    pub skip_tls_verify: bool,
    /// `GET`, `POST`, `PUT` or `DELETE`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Query parameters added to the endpoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_parameters: Vec<KeyValue>,
    /// Request body.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Multipart body parts (instead of `body`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<HttpPart>,
}

/// `cmd_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CmdConfig {
    /// Absolute path of the program; must be in `common.event_manager.enabled_commands`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cmd: String,
    /// Arguments (placeholders allowed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Seconds, 1-120.
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// The program's whole environment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_vars: Vec<KeyValue>,
}

/// `email_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailConfig {
    /// To.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Bcc.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    /// Subject.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Body.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Files of the user to attach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// 0 text, 1 HTML.
    #[serde(skip_serializing_if = "is_zero")]
    pub content_type: i64,
}

/// One directory of a data retention check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FolderRetention {
    /// Virtual path.
    pub path: String,
    /// Hours a file is kept after its last modification (0: keep everything).
    pub retention: i64,
    /// Remove directories left empty.
    #[serde(skip_serializing_if = "is_false")]
    pub delete_empty_dirs: bool,
}

/// `retention_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Directories checked; the most specific one applies to each path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<FolderRetention>,
}

/// A rename: `key` to `value`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenameConfig {
    /// Source.
    pub key: String,
    /// Target.
    pub value: String,
    /// Set the modification time to now.
    #[serde(skip_serializing_if = "is_false")]
    pub update_modtime: bool,
}

/// A ZIP archive to write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompressConfig {
    /// Archive path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Files and directories to put in it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// Filesystem action sub-types.
pub mod fs_kind {
    /// Rename/move.
    pub const RENAME: i64 = 1;
    /// Delete.
    pub const DELETE: i64 = 2;
    /// Create directories.
    pub const MKDIRS: i64 = 3;
    /// Fail unless every path exists.
    pub const EXIST: i64 = 4;
    /// Write a ZIP archive.
    pub const COMPRESS: i64 = 5;
    /// Copy.
    pub const COPY: i64 = 6;
}

/// `fs_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FsConfig {
    /// 1 rename, 2 delete, 3 mkdirs, 4 exist, 5 compress, 6 copy.
    #[serde(rename = "type", skip_serializing_if = "is_zero")]
    pub fs_type: i64,
    /// Renames.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<RenameConfig>,
    /// Directories to create.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mkdirs: Vec<String>,
    /// Paths to delete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deletes: Vec<String>,
    /// Paths that must exist.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exist: Vec<String>,
    /// Copies, `key` to `value`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy: Vec<KeyValue>,
    /// The archive to write.
    pub compress: CompressConfig,
}

/// `pwd_expiration_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PwdExpirationConfig {
    /// Days before expiry from which users are notified.
    #[serde(skip_serializing_if = "is_zero")]
    pub threshold: i64,
}

/// `user_inactivity_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserInactivityConfig {
    /// Days without a login after which a user is disabled (0: never).
    #[serde(skip_serializing_if = "is_zero")]
    pub disable_threshold: i64,
    /// Days without a login after which a user is deleted (0: never).
    #[serde(skip_serializing_if = "is_zero")]
    pub delete_threshold: i64,
}

/// `idp_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdpConfig {
    /// 0 create or update, 1 create only.
    #[serde(skip_serializing_if = "is_zero")]
    pub mode: i64,
    /// User template (JSON).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub template_user: String,
    /// Admin template (JSON).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub template_admin: String,
}

/// `options` of an event action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionOptions {
    /// Type 1.
    pub http_config: HttpConfig,
    /// Type 2.
    pub cmd_config: CmdConfig,
    /// Type 3.
    pub email_config: EmailConfig,
    /// Type 8.
    pub retention_config: RetentionConfig,
    /// Type 9.
    pub fs_config: FsConfig,
    /// Type 11.
    pub pwd_expiration_config: PwdExpirationConfig,
    /// Type 14.
    pub user_inactivity_config: UserInactivityConfig,
    /// Type 13.
    pub idp_config: IdpConfig,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg)
}

/// SFTPGo's path cleaning for action paths: `\` becomes `/`, relative paths become
/// absolute, `.`/`..` and repeated separators are resolved lexically (never above `/`).
pub fn clean_path(p: &str) -> String {
    let p = p.replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Removes later duplicates, keeping the first of each.
fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for i in items.drain(..) {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    *items = out;
}

fn check_pairs(pairs: &[KeyValue], what: &str) -> Result<()> {
    if pairs
        .iter()
        .any(|kv| kv.key.is_empty() || kv.value.is_empty())
    {
        return Err(invalid(format!("invalid {what}")));
    }
    Ok(())
}

/// Trims, cleans and de-duplicates a list of paths; `empty` is the error for none.
fn clean_list(list: &mut Vec<String>, empty: &str) -> Result<()> {
    if list.is_empty() {
        return Err(invalid(empty));
    }
    for p in list.iter_mut() {
        let t = p.trim();
        if t.is_empty() {
            return Err(invalid(empty));
        }
        *p = clean_path(t);
    }
    dedup(list);
    Ok(())
}

impl HttpConfig {
    /// True when a part uploads a file of the user (not the retention reports).
    pub fn has_file_parts(&self) -> bool {
        self.parts
            .iter()
            .any(|p| !p.filepath.is_empty() && p.filepath != RETENTION_REPORTS)
    }

    fn validate(&mut self) -> Result<()> {
        if self.endpoint.is_empty() {
            return Err(invalid("HTTP endpoint is required"));
        }
        if !self.endpoint.starts_with("http://") && !self.endpoint.starts_with("https://") {
            return Err(invalid(
                "invalid HTTP endpoint schema: http and https are supported",
            ));
        }
        if !self.has_file_parts() && !(1..=180).contains(&self.timeout) {
            return Err(invalid(format!("invalid HTTP timeout {}", self.timeout)));
        }
        check_pairs(&self.headers, "HTTP headers")?;
        let mut seen: Vec<String> = Vec::new();
        for part in &mut self.parts {
            if part.name.is_empty() {
                return Err(invalid("HTTP part name is required"));
            }
            check_pairs(&part.headers, "HTTP part headers")?;
            if part.filepath.is_empty() {
                if part.body.is_empty() {
                    return Err(invalid(
                        "HTTP part body is required if no file path is provided",
                    ));
                }
            } else {
                part.body.clear();
                if part.filepath != RETENTION_REPORTS {
                    part.filepath = clean_path(&part.filepath);
                }
                if seen.contains(&part.filepath) {
                    return Err(invalid(format!(
                        "filepath {:?} is duplicated",
                        part.filepath
                    )));
                }
                seen.push(part.filepath.clone());
            }
        }
        if !self.parts.is_empty() {
            if !self.body.is_empty() {
                return Err(invalid("multipart requests require no body"));
            }
            if self
                .headers
                .iter()
                .any(|h| h.key.eq_ignore_ascii_case("content-type"))
            {
                return Err(invalid(
                    "content type is automatically set for multipart requests",
                ));
            }
        }
        if !["POST", "GET", "PUT", "DELETE"].contains(&self.method.as_str()) {
            return Err(invalid(format!("unsupported HTTP method: {}", self.method)));
        }
        check_pairs(&self.query_parameters, "HTTP query parameters")
    }
}

impl CmdConfig {
    fn validate(&mut self) -> Result<()> {
        if self.cmd.is_empty() {
            return Err(invalid("command is required"));
        }
        if !std::path::Path::new(&self.cmd).is_absolute() {
            return Err(invalid(format!(
                "invalid command {:?}: it must be an absolute path",
                self.cmd
            )));
        }
        if !(1..=120).contains(&self.timeout) {
            return Err(invalid(format!(
                "invalid command action timeout {}",
                self.timeout
            )));
        }
        check_pairs(&self.env_vars, "command env vars")?;
        for a in self.args.iter_mut() {
            let t = a.trim();
            if t.is_empty() {
                return Err(invalid("invalid command args"));
            }
            *a = t.to_string();
        }
        dedup(&mut self.args);
        Ok(())
    }
}

impl EmailConfig {
    fn validate(&mut self) -> Result<()> {
        if self.recipients.is_empty() {
            return Err(invalid("at least one email recipient is required"));
        }
        dedup(&mut self.recipients);
        dedup(&mut self.bcc);
        if self
            .recipients
            .iter()
            .chain(self.bcc.iter())
            .any(String::is_empty)
        {
            return Err(invalid("invalid email recipients"));
        }
        if self.subject.is_empty() {
            return Err(invalid("email subject is required"));
        }
        if self.body.is_empty() {
            return Err(invalid("email body is required"));
        }
        if !(0..=1).contains(&self.content_type) {
            return Err(invalid("invalid email content type"));
        }
        for a in self.attachments.iter_mut() {
            let t = a.trim();
            if t.is_empty() {
                return Err(invalid("invalid path to attach"));
            }
            *a = if t == RETENTION_REPORTS {
                t.to_string()
            } else {
                clean_path(t)
            };
        }
        dedup(&mut self.attachments);
        Ok(())
    }
}

impl RetentionConfig {
    fn validate(&mut self) -> Result<()> {
        let mut seen: Vec<String> = Vec::new();
        for f in &mut self.folders {
            f.path = clean_path(&f.path);
            if f.retention < 0 {
                return Err(invalid(format!(
                    "invalid folder retention {}, it must be greater or equal to zero",
                    f.retention
                )));
            }
            if seen.contains(&f.path) {
                return Err(invalid(format!("duplicated folder path {:?}", f.path)));
            }
            seen.push(f.path.clone());
        }
        if !self.folders.iter().any(|f| f.retention > 0) {
            return Err(invalid("nothing to delete!"));
        }
        Ok(())
    }
}

/// Checks a rename or copy pair and cleans it; `keep_slash` keeps a trailing `/` (copy:
/// "into this directory").
fn clean_pair(key: &mut String, value: &mut String, op: &str, keep_slash: bool) -> Result<()> {
    let (k, v) = (key.trim().to_string(), value.trim().to_string());
    if k.is_empty() || v.is_empty() {
        return Err(invalid(format!("invalid paths to {op}")));
    }
    let clean = |s: &str| {
        let c = clean_path(s);
        if keep_slash && s.ends_with('/') && c != "/" {
            format!("{c}/")
        } else {
            c
        }
    };
    *key = clean(&k);
    *value = clean(&v);
    if key == value {
        return Err(invalid(format!("{op} source and target cannot be equal")));
    }
    if clean_path(key) == "/" || clean_path(value) == "/" {
        let ing = if op == "copy" { "copying" } else { "renaming" };
        return Err(invalid(format!("{ing} the root directory is not allowed")));
    }
    Ok(())
}

impl FsConfig {
    fn validate(&mut self) -> Result<()> {
        let kept = std::mem::take(self);
        self.fs_type = kept.fs_type;
        match kept.fs_type {
            fs_kind::RENAME => {
                self.renames = kept.renames;
                if self.renames.is_empty() {
                    return Err(invalid("no path to rename specified"));
                }
                for r in &mut self.renames {
                    clean_pair(&mut r.key, &mut r.value, "rename", false)?;
                }
            }
            fs_kind::DELETE => {
                self.deletes = kept.deletes;
                clean_list(&mut self.deletes, "no path to delete specified")?;
            }
            fs_kind::MKDIRS => {
                self.mkdirs = kept.mkdirs;
                clean_list(&mut self.mkdirs, "no directory to create specified")?;
            }
            fs_kind::EXIST => {
                self.exist = kept.exist;
                clean_list(&mut self.exist, "no path to check for existence specified")?;
            }
            fs_kind::COMPRESS => {
                self.compress = kept.compress;
                let name = self.compress.name.trim();
                if name.is_empty() {
                    return Err(invalid("archive name is mandatory"));
                }
                self.compress.name = clean_path(name);
                if self.compress.name == "/" {
                    return Err(invalid("invalid archive name"));
                }
                clean_list(&mut self.compress.paths, "no path to compress specified")?;
            }
            fs_kind::COPY => {
                self.copy = kept.copy;
                if self.copy.is_empty() {
                    return Err(invalid("no path to copy specified"));
                }
                for c in &mut self.copy {
                    clean_pair(&mut c.key, &mut c.value, "copy", true)?;
                }
            }
            other => {
                return Err(invalid(format!("invalid filesystem action type: {other}")));
            }
        }
        Ok(())
    }
}

impl ActionOptions {
    /// Keeps only the sub-configuration of `action_type`, checked and in canonical
    /// form.
    pub fn normalize(&mut self, action_type: i32) -> Result<()> {
        let kept = std::mem::take(self);
        match action_type {
            kind::HTTP => {
                self.http_config = kept.http_config;
                self.http_config.validate()
            }
            kind::COMMAND => {
                self.cmd_config = kept.cmd_config;
                self.cmd_config.validate()
            }
            kind::EMAIL => {
                self.email_config = kept.email_config;
                self.email_config.validate()
            }
            kind::DATA_RETENTION => {
                self.retention_config = kept.retention_config;
                self.retention_config.validate()
            }
            kind::FILESYSTEM => {
                self.fs_config = kept.fs_config;
                self.fs_config.validate()
            }
            kind::PASSWORD_EXPIRATION => {
                self.pwd_expiration_config = kept.pwd_expiration_config;
                if self.pwd_expiration_config.threshold <= 0 {
                    return Err(invalid("threshold must be greater than 0"));
                }
                Ok(())
            }
            kind::USER_INACTIVITY => {
                let mut c = kept.user_inactivity_config;
                c.disable_threshold = c.disable_threshold.max(0);
                c.delete_threshold = c.delete_threshold.max(0);
                if c.disable_threshold == 0 && c.delete_threshold == 0 {
                    return Err(invalid("at least a threshold must be defined"));
                }
                if c.disable_threshold > 0
                    && c.delete_threshold > 0
                    && c.delete_threshold <= c.disable_threshold
                {
                    return Err(invalid(format!(
                        "deletion threshold {} must be greater than deactivation threshold: {}",
                        c.delete_threshold, c.disable_threshold
                    )));
                }
                self.user_inactivity_config = c;
                Ok(())
            }
            kind::IDP_CHECK => {
                self.idp_config = kept.idp_config;
                let c = &self.idp_config;
                if c.template_user.is_empty() && c.template_admin.is_empty() {
                    return Err(invalid("at least a template must be set"));
                }
                if !(0..=1).contains(&c.mode) {
                    return Err(invalid(format!("invalid account mode: {}", c.mode)));
                }
                Ok(())
            }
            kind::BACKUP
            | kind::USER_QUOTA_RESET
            | kind::FOLDER_QUOTA_RESET
            | kind::TRANSFER_QUOTA_RESET
            | kind::USER_EXPIRATION
            | kind::ROTATE_LOG => Ok(()),
            other => Err(invalid(format!("invalid action type: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: Value) -> ActionOptions {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn paths_are_cleaned_like_sftpgo() {
        assert_eq!(clean_path("a/b/../c"), "/a/c");
        assert_eq!(clean_path("\\x\\y"), "/x/y");
        assert_eq!(clean_path("/../.."), "/");
        assert_eq!(clean_path("//a//b/"), "/a/b");
    }

    #[test]
    fn other_types_are_emptied_and_the_chosen_one_checked() {
        let mut o = opts(serde_json::json!({
            "http_config": {"endpoint": "http://x", "timeout": 5, "method": "POST"},
            "cmd_config": {"cmd": "/bin/true", "timeout": 5}
        }));
        o.normalize(kind::HTTP).unwrap();
        assert_eq!(o.cmd_config, CmdConfig::default());
        assert_eq!(o.http_config.endpoint, "http://x");

        let mut o = opts(
            serde_json::json!({"http_config": {"endpoint": "ftp://x", "timeout": 5, "method": "POST"}}),
        );
        assert!(o.normalize(kind::HTTP).is_err(), "scheme");
        let mut o = opts(
            serde_json::json!({"http_config": {"endpoint": "http://x", "timeout": 0, "method": "POST"}}),
        );
        assert!(o.normalize(kind::HTTP).is_err(), "timeout");
        let mut o = opts(
            serde_json::json!({"http_config": {"endpoint": "http://x", "timeout": 5, "method": "PATCH"}}),
        );
        assert!(o.normalize(kind::HTTP).is_err(), "method");
        let mut o = opts(
            serde_json::json!({"http_config": {"endpoint": "http://x", "timeout": 5,
            "method": "POST", "body": "b", "parts": [{"name": "p", "body": "x"}]}}),
        );
        assert!(o.normalize(kind::HTTP).is_err(), "body with parts");
    }

    #[test]
    fn commands_are_absolute_with_bounded_timeouts_and_unique_args() {
        let mut o = opts(
            serde_json::json!({"cmd_config": {"cmd": "/bin/echo", "timeout": 10, "args": [" a ", "a", "b"]}}),
        );
        o.normalize(kind::COMMAND).unwrap();
        assert_eq!(o.cmd_config.args, ["a", "b"]);
        let mut o = opts(serde_json::json!({"cmd_config": {"cmd": "echo", "timeout": 10}}));
        assert!(o.normalize(kind::COMMAND).is_err());
        let mut o = opts(serde_json::json!({"cmd_config": {"cmd": "/bin/echo", "timeout": 121}}));
        assert!(o.normalize(kind::COMMAND).is_err());
    }

    #[test]
    fn retention_and_filesystem_rules() {
        let mut o = opts(
            serde_json::json!({"retention_config": {"folders": [{"path": "a/", "retention": 0}]}}),
        );
        assert!(
            o.normalize(kind::DATA_RETENTION).is_err(),
            "nothing to delete"
        );
        let mut o = opts(serde_json::json!({"retention_config": {"folders": [
            {"path": "a/", "retention": 1}, {"path": "/a", "retention": 2}]}}));
        assert!(o.normalize(kind::DATA_RETENTION).is_err(), "duplicate");
        let mut o = opts(
            serde_json::json!({"fs_config": {"type": 1, "renames": [{"key": "/a", "value": "/"}]}}),
        );
        assert!(o.normalize(kind::FILESYSTEM).is_err(), "root");
        let mut o = opts(
            serde_json::json!({"fs_config": {"type": 6, "copy": [{"key": "/a/", "value": "b/"}],
            "deletes": ["/x"]}}),
        );
        o.normalize(kind::FILESYSTEM).unwrap();
        assert_eq!(o.fs_config.copy[0].key, "/a/");
        assert_eq!(o.fs_config.copy[0].value, "/b/");
        assert!(o.fs_config.deletes.is_empty(), "other sub-types emptied");
        let mut o =
            opts(serde_json::json!({"fs_config": {"type": 2, "deletes": ["/x", "x", " "]}}));
        assert!(o.normalize(kind::FILESYSTEM).is_err(), "blank path");
        let mut o = opts(
            serde_json::json!({"user_inactivity_config": {"disable_threshold": 5, "delete_threshold": 5}}),
        );
        assert!(o.normalize(kind::USER_INACTIVITY).is_err());
    }
}
