//! Walking configuration trees: pruning keys not implemented, reporting unknown ones,
//! and merging a file over the defaults.

use std::collections::HashSet;

use serde_json::Value;

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Removes keys absent from `defaults`: known SFTPGo keys become warnings, anything
/// else an error naming the key.
pub fn prune(
    value: &mut Value,
    defaults: &Value,
    path: &str,
    known: &HashSet<&str>,
    warnings: &mut Vec<String>,
    errors: &mut Vec<String>,
) {
    match (value, defaults) {
        (Value::Object(map), Value::Object(def)) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let p = child_path(path, &key);
                match def.get(&key) {
                    Some(d) => {
                        if let Some(v) = map.get_mut(&key) {
                            prune(v, d, &p, known, warnings, errors);
                        }
                    }
                    None if known.contains(p.as_str()) => {
                        map.remove(&key);
                        warnings.push(format!(
                            "configuration key {p:?} is not supported yet and was ignored"
                        ));
                    }
                    None => {
                        map.remove(&key);
                        errors.push(format!("unknown configuration key {p:?}"));
                    }
                }
            }
        }
        (Value::Array(items), Value::Array(def)) => {
            if let Some(d) = def.first() {
                let p = format!("{path}[]");
                for item in items {
                    prune(item, d, &p, known, warnings, errors);
                }
            }
        }
        _ => {}
    }
}

/// Deep-merges `over` into `base`: objects merge key by key, anything else replaces.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => {
            // List items are merged over the default item so a partial entry (only a
            // port, say) keeps the other defaults.
            let template = b.first().cloned();
            *b = o
                .into_iter()
                .map(|item| match &template {
                    Some(t) if t.is_object() && item.is_object() => {
                        let mut base_item = t.clone();
                        merge(&mut base_item, item);
                        base_item
                    }
                    _ => item,
                })
                .collect();
        }
        (slot, v) => *slot = v,
    }
}
