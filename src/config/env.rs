//! `SFTPGO_*` environment overrides, named as SFTPGo names them.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Variables that belong to the command line, not to the configuration tree.
const CLI_VARS: &[&str] = &[
    "SFTPGO_CONFIG_DIR",
    "SFTPGO_CONFIG_FILE",
    "SFTPGO_LOG_FILE_PATH",
    "SFTPGO_LOG_LEVEL",
    "SFTPGO_LOG_UTC_TIME",
    "SFTPGO_LOG_MAX_SIZE",
    "SFTPGO_LOG_MAX_BACKUPS",
    "SFTPGO_LOG_MAX_AGE",
    "SFTPGO_LOG_COMPRESS",
    "SFTPGO_LOADDATA_FROM",
    "SFTPGO_LOADDATA_MODE",
    "SFTPGO_LOADDATA_CLEAN",
    "SFTPGO_LOADDATA_SCAN",
    "SFTPGO_GRACE_TIME",
    "SFTPGO_DEFAULT_ADMIN_USERNAME",
    "SFTPGO_DEFAULT_ADMIN_PASSWORD",
];

/// Converts an env string to the JSON type of `template`.
fn convert(raw: &str, template: &Value) -> Result<Value, String> {
    Ok(match template {
        Value::Bool(_) => Value::Bool(match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" => true,
            "0" | "false" | "f" | "no" => false,
            _ => return Err(format!("expected a boolean, got {raw:?}")),
        }),
        Value::Number(n) if n.is_u64() || n.is_i64() => Value::from(
            raw.trim()
                .parse::<i64>()
                .map_err(|_| format!("expected an integer, got {raw:?}"))?,
        ),
        Value::Number(_) => Value::from(
            raw.trim()
                .parse::<f64>()
                .map_err(|_| format!("expected a number, got {raw:?}"))?,
        ),
        Value::Array(items) if items.first().is_none_or(|v| v.is_string()) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        Value::String(_) | Value::Null => Value::String(raw.to_string()),
        _ => return Err("this setting cannot be set from the environment".into()),
    })
}

/// Applies every `SFTPGO_` variable to `config`.
pub fn apply(
    config: &mut Value,
    defaults: &Value,
    vars: impl Iterator<Item = (String, String)>,
    known: &HashSet<&str>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let mut vars: Vec<(String, String)> = vars
        .filter(|(k, _)| k.starts_with("SFTPGO_") && !CLI_VARS.contains(&k.as_str()))
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("SFTPGO_") else {
            continue;
        };
        let segments: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        match set_path(config, defaults, &segments, &raw) {
            Ok(true) => {}
            Ok(false) => {
                let dotted = segments
                    .iter()
                    .map(|s| {
                        if s.parse::<usize>().is_ok() {
                            "[]".to_string()
                        } else {
                            s.clone()
                        }
                    })
                    .fold(String::new(), |acc, s| {
                        if acc.is_empty() {
                            s
                        } else if s == "[]" {
                            acc + "[]"
                        } else {
                            acc + "." + &s
                        }
                    });
                let why = if known.contains(dotted.as_str()) {
                    "is not supported yet"
                } else {
                    "does not name a configuration key"
                };
                warnings.push(format!("environment variable {name} {why}; ignored"));
            }
            Err(e) => return Err(format!("environment variable {name}: {e}")),
        }
    }
    Ok(())
}

/// Sets the value at `segments`; returns false when the path is not implemented.
fn set_path(
    node: &mut Value,
    template: &Value,
    segments: &[String],
    raw: &str,
) -> Result<bool, String> {
    let Some((head, tail)) = segments.split_first() else {
        *node = convert(raw, template)?;
        return Ok(true);
    };
    match (node, template) {
        (Value::Object(map), Value::Object(tmpl)) => {
            let Some(t) = tmpl.get(head) else {
                return Ok(false);
            };
            let slot = map.entry(head.clone()).or_insert_with(|| t.clone());
            set_path(slot, t, tail, raw)
        }
        (Value::Array(items), Value::Array(tmpl)) => {
            let Ok(index) = head.parse::<usize>() else {
                return Ok(false);
            };
            let Some(item_tmpl) = tmpl.first() else {
                return Ok(false);
            };
            if index > 64 {
                return Err("list index too large".into());
            }
            while items.len() <= index {
                items.push(item_tmpl.clone());
            }
            match items.get_mut(index) {
                Some(slot) => set_path(slot, item_tmpl, tail, raw),
                None => Ok(false),
            }
        }
        (node @ Value::Null, _) => {
            *node = Value::Object(Map::new());
            Ok(false)
        }
        _ => Ok(false),
    }
}
