//! The Event Manager: rules (a trigger, conditions and ordered actions) and reusable
//! actions kept in the data provider, checked when stored, and run when their trigger
//! fires: on demand (REST `run`), on a schedule, on file system events of every
//! protocol and on provider changes.
//!
//! - [`options`] and [`conditions`]: the typed forms of actions' options and rules'
//!   conditions, with SFTPGo's validation;
//! - [`schedule`]: cron-like schedules; [`placeholders`]: `{{.Name}}` tokens;
//! - `engine`: [`EventManager`], which selects the rules an event fires, runs their
//!   actions in order (failure actions, stop on failure, synchronous actions) and
//!   executes each action type.
//!
//! Outbound HTTP and mail are reached through [`Outbound`], implemented outside core
//! (core has no sockets).

mod accounts;
pub mod conditions;
mod engine;
mod fsops;
pub mod options;
pub mod placeholders;
mod retention;
pub mod schedule;
mod send;
mod targets;

use std::sync::{OnceLock, RwLock};
use std::time::Duration;

pub use engine::{EventManager, FsEvent, ProviderEvent};
pub use retention::{RetentionCheck, RetentionChecks};

/// `common.event_manager`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventManagerConfig {
    /// Absolute paths of the programs command actions may run; empty: none.
    pub enabled_commands: Vec<String>,
}

impl EventManagerConfig {
    /// Checks every command is an absolute path.
    pub fn validate(&self) -> std::result::Result<(), String> {
        match self
            .enabled_commands
            .iter()
            .find(|c| !std::path::Path::new(c).is_absolute())
        {
            Some(c) => Err(format!(
                "common.event_manager.enabled_commands: invalid command {c:?}: it must be an absolute path"
            )),
            None => Ok(()),
        }
    }
}

fn commands() -> &'static RwLock<Vec<String>> {
    static COMMANDS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    COMMANDS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Sets the commands actions may run (at start, from the configuration).
pub fn set_enabled_commands(list: &[String]) {
    *commands().write().unwrap_or_else(|e| e.into_inner()) = list.to_vec();
}

/// True when command actions may run `cmd`.
pub fn command_enabled(cmd: &str) -> bool {
    commands()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|c| c == cmd)
}

/// An HTTP request an action sends.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers, in order (a later one replaces an earlier one of the same name).
    pub headers: Vec<(String, String)>,
    /// Basic credentials.
    pub basic_auth: Option<(String, String)>,
    /// Body (empty: none).
    pub body: Vec<u8>,
    /// Deadline for the whole exchange.
    pub timeout: Option<Duration>,
    /// Accept any server certificate.
    pub skip_tls_verify: bool,
}

/// A file attached to a mail.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// File name.
    pub name: String,
    /// Content.
    pub data: Vec<u8>,
}

/// An e-mail an action sends.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// To.
    pub to: Vec<String>,
    /// Bcc.
    pub bcc: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// `text/html` instead of `text/plain`.
    pub html: bool,
    /// Files.
    pub attachments: Vec<Attachment>,
}

/// What actions need from outside core: outbound HTTP, mail, the log file.
#[async_trait::async_trait]
pub trait Outbound: Send + Sync {
    /// Sends `req`; the response status.
    async fn http(&self, req: HttpRequest) -> std::result::Result<u16, String>;
    /// Sends `mail`.
    async fn mail(&self, mail: Mail) -> std::result::Result<(), String>;
    /// Rotates the log file.
    fn rotate_log(&self) -> std::result::Result<(), String>;
}
