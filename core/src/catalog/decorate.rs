//! How stored documents become the JSON SFTPGo shows: counters and numeric ids put
//! back, referrer lists (`users`, `admins`, `rules`) filled, and each folder mapping and
//! rule action joined with the object it names; and the reverse on write.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Catalog, numeric_id, store_error};
use crate::Result;
use crate::model::MAPPING_FIELDS;
use crate::store::{Doc, Kind, put_counters};

impl Catalog {
    /// The stored JSON with counters, numeric id, referrer lists and folder fields.
    pub(super) async fn decorate(&self, kind: Kind, doc: Doc, referrers: bool) -> Result<Value> {
        let Doc {
            id,
            key,
            mut data,
            counters,
        } = doc;
        put_counters(kind, &mut data, &counters);
        if numeric_id(kind)
            && let Some(map) = data.as_object_mut()
        {
            map.insert("id".into(), Value::from(id));
        }
        if referrers && !kind.referrer_fields().is_empty() {
            let refs = self
                .store
                .referrers(kind, &key)
                .await
                .map_err(store_error)?;
            let mut by_field: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
            for (field, from) in kind.referrer_fields() {
                let names = refs
                    .iter()
                    .filter(|(k, _)| k == from)
                    .map(|(_, n)| Value::String(n.clone()))
                    .collect();
                by_field.insert(field, names);
            }
            if let Some(map) = data.as_object_mut() {
                for (field, names) in by_field {
                    map.insert(field.to_string(), Value::Array(names));
                }
            }
        }
        if matches!(kind, Kind::User | Kind::Group) {
            self.join_folders(&mut data).await?;
        }
        if kind == Kind::EventRule {
            self.join_actions(&mut data).await?;
        }
        Ok(data)
    }

    /// Fills each rule's `actions[]` entry with its action's own fields, as SFTPGo shows
    /// them.
    async fn join_actions(&self, data: &mut Value) -> Result<()> {
        let Some(list) = data.get_mut("actions").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for entry in list.iter_mut() {
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(action) = self
                .store
                .get(Kind::EventAction, name)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            if let (Some(target), Value::Object(fields)) = (entry.as_object_mut(), action.data) {
                target.insert("id".into(), Value::from(action.id));
                for (k, v) in fields {
                    if !matches!(k.as_str(), "name" | "order" | "relation_options") {
                        target.insert(k, v);
                    }
                }
            }
        }
        Ok(())
    }

    /// Fills each `virtual_folders[]` entry with its folder's own fields.
    async fn join_folders(&self, data: &mut Value) -> Result<()> {
        let Some(list) = data
            .get_mut("virtual_folders")
            .and_then(Value::as_array_mut)
        else {
            return Ok(());
        };
        for entry in list.iter_mut() {
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(folder) = self
                .store
                .get(Kind::Folder, name)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            let Doc {
                id,
                mut data,
                counters,
                ..
            } = folder;
            put_counters(Kind::Folder, &mut data, &counters);
            if let (Some(target), Value::Object(fields)) = (entry.as_object_mut(), data) {
                target.insert("id".into(), Value::from(id));
                for (k, v) in fields {
                    if !MAPPING_FIELDS.contains(&k.as_str()) {
                        target.insert(k, v);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Removes what is never stored: the numeric id, referrer lists, and the folder fields
/// of `virtual_folders[]` entries (joined again on read).
pub(super) fn strip_derived(kind: Kind, data: &mut Value) {
    let Some(map) = data.as_object_mut() else {
        return;
    };
    if numeric_id(kind) {
        map.remove("id");
    }
    for (field, _) in kind.referrer_fields() {
        map.remove(*field);
    }
    if let Some(list) = map.get_mut("virtual_folders").and_then(Value::as_array_mut) {
        for entry in list.iter_mut() {
            if let Some(fields) = entry.as_object_mut() {
                fields.retain(|k, _| MAPPING_FIELDS.contains(&k.as_str()));
            }
        }
    }
    if kind == Kind::EventRule
        && let Some(list) = map.get_mut("actions").and_then(Value::as_array_mut)
    {
        for entry in list.iter_mut() {
            if let Some(fields) = entry.as_object_mut() {
                fields.retain(|k, _| matches!(k.as_str(), "name" | "order" | "relation_options"));
            }
        }
    }
}
