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
    /// Checks the action before it is stored.
    pub fn validate(&self) -> Result<()> {
        check_len("description", &self.description, 512)?;
        if !(1..=15).contains(&self.action_type) || self.action_type == 10 {
            return Err(Error::invalid(format!(
                "type: {} is not a known action type",
                self.action_type
            )));
        }
        Ok(())
    }
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

impl EventRule {
    /// Checks the rule before it is stored.
    pub fn validate(&self) -> Result<()> {
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
        if self.actions.is_empty() {
            return Err(Error::invalid("actions: at least one action is required"));
        }
        for (i, a) in self.actions.iter().enumerate() {
            if a.name.is_empty() {
                return Err(Error::invalid("actions.name: mandatory"));
            }
            if self.actions.iter().skip(i + 1).any(|o| o.name == a.name) {
                return Err(Error::invalid(format!(
                    "actions: action {:?} is listed twice",
                    a.name
                )));
            }
        }
        Ok(())
    }
}
