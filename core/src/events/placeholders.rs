//! What an event carries ([`EventParams`]) and the `{{.Name}}` placeholders actions
//! use. As in SFTPGo 2.7 this is one replacement pass over a fixed list of tokens, not
//! a template language: unknown tokens stay as they are, replaced values are not
//! scanned again, and values can be escaped for JSON bodies or HTML mails.

use crate::clock::Civil;

/// How replaced values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As they are.
    Raw,
    /// As the inside of a JSON string (HTTP JSON bodies).
    Json,
    /// HTML entities (HTML mails).
    Html,
}

/// An event and what the rule run knows so far.
#[derive(Debug, Clone, Default)]
pub struct EventParams {
    /// Username (fs), rule name (schedule), executor (provider).
    pub name: String,
    /// Event name (`upload`, `Schedule`, ...; empty on demand).
    pub event: String,
    /// 1 ok, 2 error, 3 quota exceeded.
    pub status: i32,
    /// Virtual path.
    pub virtual_path: String,
    /// Path on the storage.
    pub fs_path: String,
    /// Rename/copy target, virtual.
    pub virtual_target_path: String,
    /// Rename/copy target on the storage.
    pub fs_target_path: String,
    /// Object name (file base name, provider object name).
    pub object_name: String,
    /// Provider object type.
    pub object_type: String,
    /// Provider object as JSON.
    pub object_data: String,
    /// Bytes.
    pub file_size: i64,
    /// Milliseconds the operation took.
    pub elapsed: i64,
    /// Protocol.
    pub protocol: String,
    /// Client address.
    pub ip: String,
    /// Role.
    pub role: String,
    /// E-mail of the account concerned.
    pub email: String,
    /// When the event happened, Unix nanoseconds (0: unknown).
    pub timestamp_nanos: i64,
    /// Unique id of the event.
    pub uid: String,
    /// Errors of the run so far.
    pub errors: Vec<String>,
    /// Whom user-scoped actions act on.
    pub sender: Sender,
}

/// Whom a run's user-scoped actions act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sender {
    /// The users (or folders) the rule's conditions select (schedules, on demand).
    #[default]
    Selected,
    /// One user: the fs event's, or the one a provider event changed.
    User(String),
    /// One folder a provider event changed.
    Folder(String),
    /// The backups directory, after a backup action.
    System,
}

fn escape(value: &str, mode: Escape) -> String {
    match mode {
        Escape::Raw => value.to_string(),
        Escape::Json => {
            let quoted = serde_json::to_string(value).unwrap_or_default();
            quoted
                .get(1..quoted.len().saturating_sub(1))
                .unwrap_or_default()
                .to_string()
        }
        Escape::Html => {
            let mut out = String::with_capacity(value.len());
            for c in value.chars() {
                match c {
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '&' => out.push_str("&amp;"),
                    '\'' => out.push_str("&#39;"),
                    '"' => out.push_str("&#34;"),
                    c => out.push(c),
                }
            }
            out
        }
    }
}

/// `s` with HTML's special characters as entities.
pub fn html_escape(s: &str) -> String {
    escape(s, Escape::Html)
}

/// `url.QueryEscape`: space as `+`, unreserved bytes kept, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn dir_of(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p.get(..i).unwrap_or_default().into(),
        None => ".".into(),
    }
}

fn base_of(p: &str) -> String {
    p.rsplit('/').next().unwrap_or_default().to_string()
}

fn ext_of(p: &str) -> String {
    let base = base_of(p);
    match base.rfind('.') {
        Some(i) => base.get(i..).unwrap_or_default().to_string(),
        None => String::new(),
    }
}

impl EventParams {
    /// `OK` or `KO`.
    pub fn status_string(&self) -> &'static str {
        if self.status == 1 { "OK" } else { "KO" }
    }

    /// The errors so far, joined.
    pub fn error_string(&self) -> String {
        self.errors.join(", ")
    }

    /// Records a failed action: its error, and status 2 when it was 1.
    pub fn add_error(&mut self, e: String) {
        self.errors.push(e);
        if self.status == 1 {
            self.status = 2;
        }
    }

    /// `2006-01-02T15:04:05.000` of the event time, UTC.
    pub fn date_time(&self) -> String {
        if self.timestamp_nanos == 0 {
            return "0001-01-01T00:00:00.000".into();
        }
        let secs = self.timestamp_nanos.div_euclid(1_000_000_000);
        let ms = self.timestamp_nanos.rem_euclid(1_000_000_000) / 1_000_000;
        let c = Civil::from_unix(secs);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{ms:03}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// The (token, value, escaped?) triples of this event.
    fn tokens(&self) -> Vec<(&'static str, String, bool)> {
        let dt = self.date_time();
        let part = |a: usize, b: usize| dt.get(a..b).unwrap_or_default().to_string();
        // File names lose their extension; provider objects (`john.doe`) keep theirs.
        let object_base = if !self.object_type.is_empty() {
            self.object_name.clone()
        } else {
            let ext = ext_of(&self.object_name);
            self.object_name
                .strip_suffix(&ext)
                .unwrap_or(&self.object_name)
                .to_string()
        };
        let data = if self.object_data.is_empty() {
            "{}".to_string()
        } else {
            self.object_data.clone()
        };
        let mut t = vec![
            ("{{.Name}}", self.name.clone(), true),
            ("{{.Event}}", self.event.clone(), false),
            ("{{.Status}}", self.status.to_string(), false),
            ("{{.StatusString}}", self.status_string().to_string(), false),
            ("{{.ErrorString}}", self.error_string(), true),
            ("{{.VirtualPath}}", self.virtual_path.clone(), true),
            (
                "{{.EscapedVirtualPath}}",
                query_escape(&self.virtual_path),
                true,
            ),
            ("{{.FsPath}}", self.fs_path.clone(), true),
            (
                "{{.VirtualTargetPath}}",
                self.virtual_target_path.clone(),
                true,
            ),
            ("{{.FsTargetPath}}", self.fs_target_path.clone(), true),
            ("{{.ObjectName}}", self.object_name.clone(), true),
            ("{{.ObjectBaseName}}", object_base, true),
            ("{{.ObjectType}}", self.object_type.clone(), false),
            ("{{.Ext}}", ext_of(&self.virtual_path), true),
            ("{{.FileSize}}", self.file_size.to_string(), false),
            ("{{.Elapsed}}", self.elapsed.to_string(), false),
            ("{{.Protocol}}", self.protocol.clone(), false),
            ("{{.IP}}", self.ip.clone(), false),
            ("{{.Role}}", self.role.clone(), true),
            ("{{.Email}}", self.email.clone(), true),
            ("{{.Timestamp}}", self.timestamp_nanos.to_string(), false),
            ("{{.DateTime}}", dt.clone(), false),
            ("{{.Year}}", part(0, 4), false),
            ("{{.Month}}", part(5, 7), false),
            ("{{.Day}}", part(8, 10), false),
            ("{{.Hour}}", part(11, 13), false),
            ("{{.Minute}}", part(14, 16), false),
            ("{{.UID}}", self.uid.clone(), true),
            ("{{.ObjectData}}", data, false),
            (
                "{{.ObjectDataString}}",
                escape(&self.object_data, Escape::Json),
                false,
            ),
            ("{{.Metadata}}", "{}".into(), false),
            ("{{.MetadataString}}", String::new(), false),
        ];
        if !self.virtual_path.is_empty() {
            t.push(("{{.VirtualDirPath}}", dir_of(&self.virtual_path), true));
        }
        if !self.virtual_target_path.is_empty() {
            t.push((
                "{{.VirtualTargetDirPath}}",
                dir_of(&self.virtual_target_path),
                true,
            ));
            t.push(("{{.TargetName}}", base_of(&self.virtual_target_path), true));
        }
        t
    }

    /// `text` with every known token replaced, values escaped as `mode` says.
    pub fn replace(&self, text: &str, mode: Escape) -> String {
        if !text.contains("{{.") {
            return text.to_string();
        }
        let tokens = self.tokens();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{.") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let tail = rest.get(start..).unwrap_or_default();
            match tokens.iter().find(|(tok, _, _)| tail.starts_with(tok)) {
                Some((tok, value, escaped)) => {
                    let mode = if *escaped { mode } else { Escape::Raw };
                    out.push_str(&escape(value, mode));
                    rest = tail.get(tok.len()..).unwrap_or_default();
                }
                None => {
                    out.push_str("{{.");
                    rest = tail.get(3..).unwrap_or_default();
                }
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> EventParams {
        EventParams {
            name: "alice".into(),
            event: "upload".into(),
            status: 1,
            virtual_path: "/in/a \"b\".csv".into(),
            object_name: "a \"b\".csv".into(),
            file_size: 42,
            timestamp_nanos: 1_796_342_400_123_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn tokens_are_replaced_once_and_unknown_ones_kept() {
        let p = params();
        assert_eq!(
            p.replace(
                "{{.Name}} {{.Event}} {{.FileSize}} {{.Nope}} {{Name}}",
                Escape::Raw
            ),
            "alice upload 42 {{.Nope}} {{Name}}"
        );
        assert_eq!(
            p.replace(
                "{{.VirtualDirPath}}|{{.Ext}}|{{.ObjectBaseName}}",
                Escape::Raw
            ),
            "/in|.csv|a \"b\""
        );
        assert_eq!(
            p.replace("{{.DateTime}}", Escape::Raw),
            "2026-12-04T00:00:00.123"
        );
        assert_eq!(
            p.replace("{{.Year}}-{{.Month}}-{{.Day}}T{{.Hour}}", Escape::Raw),
            "2026-12-04T00"
        );
        assert_eq!(p.replace("{{.StatusString}}", Escape::Raw), "OK");
        let mut named = params();
        named.name = "{{.Event}}".into();
        assert_eq!(
            named.replace("{{.Name}}", Escape::Raw),
            "{{.Event}}",
            "no second pass"
        );
        assert_eq!(
            EventParams::default().replace("{{.VirtualDirPath}}", Escape::Raw),
            "{{.VirtualDirPath}}"
        );
    }

    #[test]
    fn values_are_escaped_for_json_and_html() {
        let p = params();
        assert_eq!(
            p.replace(
                r#"{"p": "{{.VirtualPath}}", "s": {{.FileSize}}}"#,
                Escape::Json
            ),
            r#"{"p": "/in/a \"b\".csv", "s": 42}"#
        );
        assert_eq!(
            p.replace("{{.ObjectName}}", Escape::Html),
            "a &#34;b&#34;.csv"
        );
        assert_eq!(query_escape("a b/c"), "a+b%2Fc");
    }
}
