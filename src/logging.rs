//! JSON-lines logging with SFTPGo's field names: `level`, `time`, `sender`,
//! `connection_id`, `message`, plus the event's own fields.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

struct JsonLines {
    out: Mutex<Box<dyn Write + Send>>,
    max_level: Level,
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
    let out: Box<dyn Write + Send> = if path.is_empty() {
        Box::new(std::io::stderr())
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open log file {path}: {e}"))?;
        Box::new(f)
    };
    // Dependencies log at debug verbosely; keep them at info unless trace is asked for.
    let filter = tracing_subscriber::filter::filter_fn(move |meta| {
        let ours = meta.target().starts_with("sftpgo") || meta.target() == "transfer";
        ours || max_level == Level::TRACE || meta.level() <= &Level::INFO
    });
    tracing_subscriber::registry()
        .with(
            JsonLines {
                out: Mutex::new(out),
                max_level,
            }
            .with_filter(filter),
        )
        .try_init()
        .map_err(|e| e.to_string())
}
