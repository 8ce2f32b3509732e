//! JSON-lines logging with SFTPGo's field names: `level`, `time`, `sender`,
//! `connection_id`, `message`, plus the event's own fields.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

struct JsonLines {
    out: Sink,
    max_level: Level,
}

/// The log file and the sink writing to it, for [`rotate`].
static LOG_FILE: OnceLock<(PathBuf, Sink)> = OnceLock::new();

fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Moves the log file aside (`<name>-<UTC time>.<ext>`, as SFTPGo's rotation names
/// them) and goes on in a new one.
pub fn rotate() -> Result<(), String> {
    let (path, sink) = LOG_FILE
        .get()
        .ok_or_else(|| "logging to file is disabled".to_string())?;
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.{:03}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    );
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let rotated = path.with_file_name(format!("{stem}-{stamp}{ext}"));
    let mut out = sink.lock().map_err(|_| "the log is poisoned".to_string())?;
    let _ = out.flush();
    std::fs::rename(path, &rotated).map_err(|e| format!("cannot rotate the log: {e}"))?;
    *out = Box::new(open_log(path).map_err(|e| format!("cannot reopen the log: {e}"))?);
    Ok(())
}

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

impl<S: Subscriber> Layer<S> for JsonLines {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        meta.level() <= &self.max_level
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.level() > &self.max_level {
            return;
        }
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert("level".into(), meta.level().as_str().to_lowercase().into());
        let now = time::OffsetDateTime::now_utc();
        let ts = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        line.insert("time".into(), ts.into());
        let sender = fields.0.remove("sender").unwrap_or_else(|| {
            Value::String(meta.target().rsplit("::").next().unwrap_or("").to_string())
        });
        line.insert("sender".into(), sender);
        for (k, v) in fields.0 {
            line.insert(k, v);
        }
        if let Ok(mut s) = serde_json::to_string(&Value::Object(line)) {
            s.push('\n');
            if let Ok(mut out) = self.out.lock() {
                let _ = out.write_all(s.as_bytes());
            }
        }
    }
}

/// Installs the global logger. An empty `path` logs to stderr.
pub fn init(path: &str, level: &str) -> Result<(), String> {
    let max_level = match level.to_ascii_lowercase().as_str() {
        "debug" => Level::DEBUG,
        "info" => Level::INFO,
        "warn" | "warning" => Level::WARN,
        "error" => Level::ERROR,
        "trace" => Level::TRACE,
        other => {
            return Err(format!(
                "invalid log level {other:?}: use debug, info, warn or error"
            ));
        }
    };
    let out: Sink = if path.is_empty() {
        Arc::new(Mutex::new(Box::new(std::io::stderr())))
    } else {
        let f = open_log(std::path::Path::new(path))
            .map_err(|e| format!("cannot open log file {path}: {e}"))?;
        let sink: Sink = Arc::new(Mutex::new(Box::new(f)));
        let _ = LOG_FILE.set((PathBuf::from(path), sink.clone()));
        sink
    };
    // Dependencies log at debug verbosely; keep them at info unless trace is asked for.
    let filter = tracing_subscriber::filter::filter_fn(move |meta| {
        let ours = meta.target().starts_with("sftpgo") || meta.target() == "transfer";
        ours || max_level == Level::TRACE || meta.level() <= &Level::INFO
    });
    tracing_subscriber::registry()
        .with(JsonLines { out, max_level }.with_filter(filter))
        .try_init()
        .map_err(|e| e.to_string())
}
