//! Dead properties (RFC 4918 §4, `PROPPATCH`): kept in memory per user and path, so
//! they follow MOVE and COPY and go away with DELETE; they do not survive a restart.
//! Bounded per resource and in total, so a client cannot grow the server's memory
//! without limit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use dav_server::fs::DavProp;

/// Properties one resource may hold.
const MAX_PER_RESOURCE: usize = 128;
/// Bytes of property names, namespaces and values one resource may hold.
const MAX_BYTES_PER_RESOURCE: usize = 64 * 1024;
/// Resources with properties, over all users.
const MAX_RESOURCES: usize = 100_000;

type Props = BTreeMap<(String, String), DavProp>;

/// The store, shared by every binding and worker.
#[derive(Clone, Default)]
pub struct DeadProps(Arc<Mutex<HashMap<String, Props>>>);

fn key(user: &str, path: &str) -> String {
    format!("{user}\u{0}{path}")
}

fn prop_key(p: &DavProp) -> (String, String) {
    (p.namespace.clone().unwrap_or_default(), p.name.clone())
}

fn without_value(p: &DavProp) -> DavProp {
    DavProp {
        name: p.name.clone(),
        prefix: p.prefix.clone(),
        namespace: p.namespace.clone(),
        xml: None,
    }
}

/// Whether `key` is the resource `base` or lies below it.
fn within(key: &str, base: &str) -> bool {
    if base.ends_with('/') {
        // The root: everything of that user.
        return key.starts_with(base);
    }
    key == base || key.starts_with(&format!("{base}/"))
}

impl DeadProps {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Props>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a PROPPATCH: `(true, p)` sets, `(false, p)` removes. All or nothing:
    /// when a limit would be passed nothing changes and every property gets 507.
    pub fn patch(
        &self,
        user: &str,
        path: &str,
        patch: Vec<(bool, DavProp)>,
    ) -> Vec<(http::StatusCode, DavProp)> {
        let mut all = self.lock();
        let k = key(user, path);
        let mut next = all.get(&k).cloned().unwrap_or_default();
        for (set, p) in &patch {
            if *set {
                next.insert(prop_key(p), p.clone());
            } else {
                next.remove(&prop_key(p));
            }
        }
        let bytes: usize = next
            .values()
            .map(|p| {
                p.xml.as_ref().map_or(0, Vec::len)
                    + p.name.len()
                    + p.namespace.as_ref().map_or(0, String::len)
            })
            .sum();
        let too_many = next.len() > MAX_PER_RESOURCE
            || bytes > MAX_BYTES_PER_RESOURCE
            || (!all.contains_key(&k) && all.len() >= MAX_RESOURCES);
        let status = if too_many {
            http::StatusCode::INSUFFICIENT_STORAGE
        } else {
            if next.is_empty() {
                all.remove(&k);
            } else {
                all.insert(k, next);
            }
            http::StatusCode::OK
        };
        patch
            .iter()
            .map(|(_, p)| (status, without_value(p)))
            .collect()
    }

    /// The properties of a resource (values only when `with_values`).
    pub fn get(&self, user: &str, path: &str, with_values: bool) -> Vec<DavProp> {
        self.lock()
            .get(&key(user, path))
            .map(|props| {
                props
                    .values()
                    .map(|p| {
                        if with_values {
                            p.clone()
                        } else {
                            without_value(p)
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value of one property.
    pub fn value(&self, user: &str, path: &str, prop: &DavProp) -> Option<Vec<u8>> {
        self.lock()
            .get(&key(user, path))?
            .get(&prop_key(prop))?
            .xml
            .clone()
    }

    /// Forgets the properties of `path` and everything below it.
    pub fn remove_tree(&self, user: &str, path: &str) {
        let base = key(user, path);
        self.lock().retain(|k, _| !within(k, &base));
    }

    /// Carries the properties of `from` (and below) to `to`: moved, or copied when
    /// `keep` is set.
    pub fn carry(&self, user: &str, from: &str, to: &str, keep: bool) {
        let (src, dst) = (key(user, from), key(user, to));
        let mut all = self.lock();
        all.retain(|k, _| !within(k, &dst));
        let moved: Vec<(String, Props)> = all
            .iter()
            .filter(|(k, _)| within(k, &src))
            .map(|(k, v)| {
                (
                    format!("{dst}{}", k.get(src.len()..).unwrap_or_default()),
                    v.clone(),
                )
            })
            .collect();
        if !keep {
            all.retain(|k, _| !within(k, &src));
        }
        for (k, v) in moved {
            if all.len() >= MAX_RESOURCES {
                break;
            }
            all.insert(k, v);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn prop(name: &str, value: &str) -> DavProp {
        DavProp {
            name: name.into(),
            prefix: Some("z".into()),
            namespace: Some("http://example.com/ns".into()),
            xml: Some(value.as_bytes().to_vec()),
        }
    }

    #[test]
    fn set_get_move_copy_delete() {
        let s = DeadProps::default();
        let r = s.patch(
            "u",
            "/a",
            vec![(true, prop("x", "1")), (true, prop("y", "2"))],
        );
        assert!(r.iter().all(|(c, _)| *c == http::StatusCode::OK));
        assert_eq!(s.value("u", "/a", &prop("x", "")).unwrap(), b"1");
        assert!(s.get("v", "/a", true).is_empty(), "per user");
        s.patch("u", "/a", vec![(false, prop("y", ""))]);
        assert_eq!(s.get("u", "/a", false).len(), 1);
        s.patch("u", "/d/f", vec![(true, prop("z", "3"))]);
        s.carry("u", "/d", "/e", false);
        assert!(s.get("u", "/d/f", true).is_empty());
        assert_eq!(s.value("u", "/e/f", &prop("z", "")).unwrap(), b"3");
        s.carry("u", "/e", "/g", true);
        assert_eq!(s.get("u", "/e/f", true).len(), 1);
        assert_eq!(s.get("u", "/g/f", true).len(), 1);
        s.remove_tree("u", "/e");
        assert!(s.get("u", "/e/f", true).is_empty());
        assert_eq!(s.get("u", "/g/f", true).len(), 1);
        // "/ab" is not below "/a".
        s.patch("u", "/ab", vec![(true, prop("x", "1"))]);
        s.remove_tree("u", "/a");
        assert_eq!(s.get("u", "/ab", true).len(), 1);
    }

    #[test]
    fn limits_refuse_the_whole_patch() {
        let s = DeadProps::default();
        let big = "v".repeat(MAX_BYTES_PER_RESOURCE + 1);
        let r = s.patch(
            "u",
            "/a",
            vec![(true, prop("x", "1")), (true, prop("big", &big))],
        );
        assert!(
            r.iter()
                .all(|(c, _)| *c == http::StatusCode::INSUFFICIENT_STORAGE)
        );
        assert!(s.get("u", "/a", true).is_empty());
    }
}
