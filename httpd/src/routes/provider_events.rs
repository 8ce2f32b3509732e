//! Provider events: after an admin adds, updates or deletes an object through the API,
//! the Event Manager hears of it (`add`/`update`/`delete`, the object's type, name and
//! JSON with secrets hidden, the admin, its role and address) and runs the provider
//! rules it fires.

use hyper::Method;
use serde_json::Value;
use sftpgo_core::events::ProviderEvent;
use sftpgo_core::kms::Kms;
use sftpgo_core::model::Admin;
use sftpgo_core::store::Kind;

use crate::HttpState;

/// A write the request makes: (event, object type, kind, name as given).
pub struct Change {
    event: &'static str,
    object_type: &'static str,
    kind: Kind,
    name: String,
}

impl Change {
    /// The kind of object changed.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its name as the request gives it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The object change a request to `/api/v2/<segs>` asks for, if it is one.
pub fn change_of(method: &Method, segs: &[&str], body: &[u8]) -> Option<Change> {
    let (object_type, kind, field) = match *segs.first()? {
        "users" => ("user", Kind::User, "username"),
        "groups" => ("group", Kind::Group, "name"),
        "folders" => ("folder", Kind::Folder, "name"),
        "admins" => ("admin", Kind::Admin, "username"),
        "roles" => ("role", Kind::Role, "name"),
        "eventactions" => ("event_action", Kind::EventAction, "name"),
        "eventrules" => ("event_rule", Kind::EventRule, "name"),
        _ => return None,
    };
    let (event, name) = match (method, segs) {
        (&Method::POST, [_]) => {
            let v: Value = serde_json::from_slice(body).ok()?;
            ("add", v.get(field)?.as_str()?.to_string())
        }
        (&Method::PUT, [_, key]) => ("update", (*key).to_string()),
        (&Method::DELETE, [_, key]) => ("delete", (*key).to_string()),
        _ => return None,
    };
    Some(Change {
        event,
        object_type,
        kind,
        name,
    })
}

/// The object as stored, secrets hidden, password removed (`None` if missing).
pub async fn object_json(state: &HttpState, kind: Kind, name: &str) -> Option<Value> {
    let key = state.catalog.naming().convert(name);
    let mut data = state.catalog.store().get(kind, &key).await.ok()??.data;
    if let Some(map) = data.as_object_mut() {
        map.remove("password");
    }
    Kms::hide_all(&mut data);
    Some(data)
}

/// Tells the Event Manager about a change that succeeded. `before` is the object as
/// it was (deletes); otherwise it is read as stored now.
pub async fn announce(
    state: &HttpState,
    admin: &Admin,
    ip: std::net::IpAddr,
    change: Change,
    before: Option<Value>,
) {
    let Some(events) = &state.events else {
        return;
    };
    let data = match before {
        Some(d) => Some(d),
        None => object_json(state, change.kind, &change.name).await,
    };
    let data = data.unwrap_or(Value::Null);
    let groups = data
        .get("groups")
        .and_then(Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(|m| m.get("name").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let name = data
        .get(if matches!(change.kind, Kind::User | Kind::Admin) {
            "username"
        } else {
            "name"
        })
        .and_then(Value::as_str)
        .map_or(change.name, String::from);
    events
        .provider_event(ProviderEvent {
            event: change.event,
            object_type: change.object_type,
            object_name: name,
            email: data
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            object_data: if data.is_null() {
                String::new()
            } else {
                data.to_string()
            },
            executor: admin.username.clone(),
            executor_role: admin.role.clone(),
            ip: ip.to_string(),
            groups,
        })
        .await;
}
