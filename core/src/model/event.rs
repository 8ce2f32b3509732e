//! Event Manager objects: actions (what to do) and rules (when to do it, with which
//! actions in which order).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::check_len;
use crate::{Error, Result};

/// An event action (`BaseEventAction`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventAction {
    /// Store id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// 1 HTTP, 2 command, 3 e-mail, 4 backup, 5-7 quota resets, 8 data retention,
    /// 9 file system, 11-14 checks, 15 log rotation.
    #[serde(rename = "type")]
    pub action_type: i32,
    /// One sub-configuration per type.
    pub options: Map<String, Value>,
    /// Rules using it (read-only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EventAction {
    /// Checks the action before it is stored and puts its options in canonical form
    /// (only the sub-configuration of its type is kept).
    pub fn validate(&mut self) -> Result<()> {
        check_len("description", &self.description, 512)?;
        if !crate::events::options::ACTION_TYPES.contains(&self.action_type) {
            return Err(Error::invalid(format!(
                "type: {} is not a known action type",
                self.action_type
            )));
        }
        let mut options = self.typed_options()?;
        options.normalize(self.action_type)?;
        self.options = match serde_json::to_value(&options) {
            Ok(Value::Object(map)) => map,
            _ => return Err(Error::invalid("options: cannot be encoded")),
        };
        Ok(())
    }

    /// The options, typed.
    pub fn typed_options(&self) -> Result<crate::events::options::ActionOptions> {
        serde_json::from_value(Value::Object(self.options.clone()))
            .map_err(|e| Error::invalid(format!("options: {e}")))
    }
}

/// `relation_options` of a rule's action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RelationOptions {
    /// Runs only when an earlier action failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_failure_action: bool,
    /// A failure ends the run of the rule's next actions.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stop_on_failure: bool,
    /// Runs before the operation it follows returns (upload and pre-* events).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub execute_sync: bool,
}

/// A rule's `actions[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleAction {
    /// The action's name.
    pub name: String,
    /// Position (1-based) in the rule.
    pub order: i32,
    /// `is_failure_action`, `stop_on_failure`, `execute_sync`.
    pub relation_options: Map<String, Value>,
    /// The action's own fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An event rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventRule {
    /// Store id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// 1 active, 0 inactive.
    pub status: i32,
    /// Free text.
    pub description: String,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// 1 fs events, 2 provider events, 3 schedule, 4 IP blocked, 5 certificate,
    /// 6 on demand, 7 IDP login.
    pub trigger: i32,
    /// Events, schedules and filters.
    pub conditions: Map<String, Value>,
    /// Actions run, in order.
    pub actions: Vec<RuleAction>,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for EventRule {
    fn default() -> Self {
        Self {
            id: 0,
            name: String::new(),
            status: 1,
            description: String::new(),
            created_at: 0,
            updated_at: 0,
            trigger: 0,
            conditions: Map::new(),
            actions: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl RuleAction {
    /// The relation options, typed.
    pub fn relation(&self) -> RelationOptions {
        serde_json::from_value(Value::Object(self.relation_options.clone())).unwrap_or_default()
    }
}

/// File system events whose rules may run actions synchronously.
const SYNC_EVENTS: [&str; 4] = ["upload", "pre-upload", "pre-download", "pre-delete"];

impl EventRule {
    /// Checks the rule before it is stored: conditions per trigger (what the trigger
    /// does not use is emptied), actions unique by name and order, sorted by order, and
    /// SFTPGo's rules for failure and synchronous actions.
    pub fn validate(&mut self) -> Result<()> {
        use crate::events::conditions::trigger;
        check_len("description", &self.description, 512)?;
        if self.status != 0 && self.status != 1 {
            return Err(Error::invalid("status: must be 0 or 1"));
        }
        if !(1..=7).contains(&self.trigger) {
            return Err(Error::invalid(format!(
                "trigger: {} is not valid (1-7)",
                self.trigger
            )));
        }
        let mut conditions = self.typed_conditions()?;
        conditions.normalize(self.trigger)?;
        self.conditions = match serde_json::to_value(&conditions) {
            Ok(Value::Object(map)) => map,
            _ => return Err(Error::invalid("conditions: cannot be encoded")),
        };
        if self.actions.is_empty() {
            return Err(Error::invalid("actions: at least one action is required"));
        }
        let mut any_sync = false;
        for (i, a) in self.actions.iter().enumerate() {
            if a.name.is_empty() {
                return Err(Error::invalid(format!(
                    "invalid action at position {i}, name not specified"
                )));
            }
            if self.actions.iter().skip(i + 1).any(|o| o.name == a.name) {
                return Err(Error::invalid(format!("duplicated action {:?}", a.name)));
            }
            if self.actions.iter().skip(i + 1).any(|o| o.order == a.order) {
                return Err(Error::invalid(format!(
                    "duplicated order {} for action {:?}",
                    a.order, a.name
                )));
            }
            let rel = a.relation();
            if rel.execute_sync {
                if rel.is_failure_action {
                    return Err(Error::invalid(
                        "sync execution is not supported for failure actions",
                    ));
                }
                if self.trigger != trigger::FS && self.trigger != trigger::IDP_LOGIN {
                    return Err(Error::invalid(
                        "sync execution is only supported for some filesystem events and Identity Provider logins",
                    ));
                }
                if self.trigger == trigger::FS
                    && !conditions
                        .fs_events
                        .iter()
                        .all(|e| SYNC_EVENTS.contains(&e.as_str()))
                {
                    return Err(Error::invalid(
                        "sync execution is only supported for upload and pre-* events",
                    ));
                }
                any_sync = true;
            }
        }
        if self.actions.iter().all(|a| a.relation().is_failure_action) {
            return Err(Error::invalid("at least a non-failure action is required"));
        }
        if !any_sync
            && self.trigger == trigger::FS
            && let Some(e) = conditions
                .fs_events
                .iter()
                .find(|e| matches!(e.as_str(), "pre-upload" | "pre-download" | "pre-delete"))
        {
            return Err(Error::invalid(format!(
                "event {e:?} requires at least a sync action"
            )));
        }
        self.actions.sort_by_key(|a| a.order);
        Ok(())
    }

    /// The conditions, typed.
    pub fn typed_conditions(&self) -> Result<crate::events::conditions::Conditions> {
        serde_json::from_value(Value::Object(self.conditions.clone()))
            .map_err(|e| Error::invalid(format!("conditions: {e}")))
    }
}
