//! [`Stored`]: what the catalog needs to know about each model type (its kind, key,
//! canonical form and secret), implemented for every object the provider keeps.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Result;
use crate::model::{
    Admin, ApiKey, EventAction, EventRule, Folder, Group, IpListEntry, NamingRules, Role, Share,
    User,
};
use crate::store::Kind;

/// A model type kept in the data provider.
pub trait Stored: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Its kind.
    const KIND: Kind;
    /// Its unique key.
    fn key(&self) -> String;
    /// Applies naming rules and canonical forms, assigns generated ids, then validates.
    fn prepare(&mut self, rules: NamingRules) -> Result<()>;
    /// Checks only a request (not a restored dump) must pass: settings of this server
    /// a dump from another one may not share.
    fn check_request(&self) -> Result<()> {
        Ok(())
    }
    /// The password (or key) hashed before storing, if the type has one.
    fn secret_mut(&mut self) -> Option<&mut String> {
        None
    }
}

/// A random identifier of `len` characters from `[A-Za-z0-9]`.
pub fn random_id(len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut buf = [0u8; 32];
        rand::fill(&mut buf);
        // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
        for b in buf.into_iter().filter(|b| *b < 248) {
            if out.len() == len {
                break;
            }
            if let Some(c) = ALPHABET.get(usize::from(b % 62)) {
                out.push(char::from(*c));
            }
        }
    }
    out
}

impl Stored for User {
    const KIND: Kind = Kind::User;
    fn key(&self) -> String {
        self.username.clone()
    }
    fn prepare(&mut self, rules: NamingRules) -> Result<()> {
        rules.apply("username", &mut self.username)?;
        rules.convert_ref(&mut self.role);
        self.groups
            .iter_mut()
            .for_each(|g| rules.convert_ref(&mut g.name));
        self.virtual_folders
            .iter_mut()
            .for_each(|f| rules.convert_ref(&mut f.name));
        self.validate()
    }
    fn secret_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.password)
    }
}

impl Stored for Admin {
    const KIND: Kind = Kind::Admin;
    fn key(&self) -> String {
        self.username.clone()
    }
    fn prepare(&mut self, rules: NamingRules) -> Result<()> {
        rules.apply("username", &mut self.username)?;
        self.validate()
    }
    fn secret_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.password)
    }
}

/// Kinds keyed by a `name` field under the naming rules, without a secret.
macro_rules! stored_by_name {
    ($($ty:ident),*) => {$(
        impl Stored for $ty {
            const KIND: Kind = Kind::$ty;
            fn key(&self) -> String {
                self.name.clone()
            }
            fn prepare(&mut self, rules: NamingRules) -> Result<()> {
                rules.apply("name", &mut self.name)?;
                self.convert_refs(rules);
                self.validate()
            }
        }
    )*};
}

stored_by_name!(Group, Folder, Role, EventRule);

impl Stored for EventAction {
    const KIND: Kind = Kind::EventAction;
    fn key(&self) -> String {
        self.name.clone()
    }
    fn prepare(&mut self, rules: NamingRules) -> Result<()> {
        rules.apply("name", &mut self.name)?;
        self.validate()
    }
    fn check_request(&self) -> Result<()> {
        // As SFTPGo: a command action names one of `enabled_commands`.
        if self.action_type == crate::events::options::kind::COMMAND {
            let cmd = self.typed_options()?.cmd_config.cmd;
            if !crate::events::command_enabled(&cmd) {
                return Err(crate::Error::invalid(format!(
                    "command {cmd:?} is not allowed"
                )));
            }
        }
        Ok(())
    }
}

/// Names an object refers to, converted like names (SFTPGo's `applyNamingRules`).
trait ConvertRefs {
    fn convert_refs(&mut self, _rules: NamingRules) {}
}

impl ConvertRefs for Group {
    fn convert_refs(&mut self, rules: NamingRules) {
        self.virtual_folders
            .iter_mut()
            .for_each(|f| rules.convert_ref(&mut f.name));
    }
}

impl ConvertRefs for EventRule {
    fn convert_refs(&mut self, rules: NamingRules) {
        self.actions
            .iter_mut()
            .for_each(|a| rules.convert_ref(&mut a.name));
    }
}

impl ConvertRefs for Folder {}
impl ConvertRefs for Role {}

impl Stored for ApiKey {
    const KIND: Kind = Kind::ApiKey;
    fn key(&self) -> String {
        self.key_id.clone()
    }
    fn prepare(&mut self, rules: NamingRules) -> Result<()> {
        rules.convert_ref(&mut self.user);
        rules.convert_ref(&mut self.admin);
        if self.key_id.is_empty() {
            self.key_id = random_id(22);
        }
        crate::model::names::check_name("id", &self.key_id)?;
        self.validate()
    }
    fn secret_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.key)
    }
}

impl Stored for Share {
    const KIND: Kind = Kind::Share;
    fn key(&self) -> String {
        self.id.clone()
    }
    fn prepare(&mut self, rules: NamingRules) -> Result<()> {
        rules.convert_ref(&mut self.username);
        if self.id.is_empty() {
            self.id = random_id(22);
        }
        crate::model::names::check_name("id", &self.id)?;
        self.normalize_and_validate()
    }
    fn secret_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.password)
    }
}

impl Stored for IpListEntry {
    const KIND: Kind = Kind::IpListEntry;
    fn key(&self) -> String {
        IpListEntry::key(self)
    }
    fn prepare(&mut self, _rules: NamingRules) -> Result<()> {
        self.normalize_and_validate()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_ids_are_alphanumeric_and_distinct() {
        let a = super::random_id(22);
        let b = super::random_id(22);
        assert_eq!(a.len(), 22);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
