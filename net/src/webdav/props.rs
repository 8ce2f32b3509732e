//! Dead properties (RFC 4918 §4, `PROPPATCH`).
//!
//! Where the storage keeps extended attributes (local file systems), a resource's
//! properties are one attribute of the file or directory ([`XATTR`]): they survive a
//! restart, follow the file through a rename by any protocol, go away when it is
//! deleted, and cannot outlive it to reappear on a new file of the same name. COPY
//! copies them (each file it copies, and each collection it creates, see
//! `fs::Session::copying`), and a MOVE to another storage takes the moved resource's
//! own along (not those of a moved collection's members).
//!
//! Elsewhere they are kept in memory per user and path: they follow WebDAV MOVE and
//! COPY, go away with WebDAV DELETE, and are lost on restart.
//!
//! Both are bounded per resource, and the memory store in total, so a client cannot
//! grow the server's memory or a file's attributes without limit. A PROPPATCH is all
//! or nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use dav_server::fs::DavProp;
use sftpgo_core::connection::Connection;
use sftpgo_core::path::VirtualPath;
use sftpgo_core::{Error, ErrorKind};

/// The extended attribute holding a resource's properties.
pub const XATTR: &str = "user.sftpgo.dav.props";

/// Properties one resource may hold.
const MAX_PER_RESOURCE: usize = 128;
/// Bytes of property names, namespaces and values one resource may hold.
const MAX_BYTES_PER_RESOURCE: usize = 64 * 1024;
/// Longest property name, namespace or prefix.
const MAX_FIELD: usize = 4096;
/// Resources with properties in memory, over all users.
const MAX_RESOURCES: usize = 100_000;

type Props = BTreeMap<(String, String), DavProp>;

/// Locks serialising PROPPATCHes of resources that hash alike.
const WRITE_LOCKS: usize = 64;

/// The store, shared by every binding and worker.
#[derive(Clone)]
pub struct DeadProps {
    /// Properties of resources whose storage has no extended attributes.
    memory: Arc<Mutex<HashMap<String, Props>>>,
    /// A PROPPATCH reads, changes and writes a resource's whole set: two on the same
    /// resource must not interleave (one lock per hash of user and path).
    writes: Arc<Vec<tokio::sync::Mutex<()>>>,
}

impl Default for DeadProps {
    fn default() -> Self {
        Self {
            memory: Arc::default(),
            writes: Arc::new(
                (0..WRITE_LOCKS)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
            ),
        }
    }
}

/// Where a resource's properties live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Attribute,
    Memory,
}

/// The properties a MOVE or COPY takes along (read before the move, since a move to
/// another storage leaves the attribute behind).
pub struct Carried(Option<Props>);

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

fn too_large(props: &Props) -> bool {
    let bytes: usize = props
        .values()
        .map(|p| {
            p.xml.as_ref().map_or(0, Vec::len)
                + p.name.len()
                + p.namespace.as_ref().map_or(0, String::len)
        })
        .sum();
    let long_field = props.values().any(|p| {
        p.name.len() > MAX_FIELD
            || p.namespace.as_ref().is_some_and(|n| n.len() > MAX_FIELD)
            || p.prefix.as_ref().is_some_and(|n| n.len() > MAX_FIELD)
    });
    props.len() > MAX_PER_RESOURCE || bytes > MAX_BYTES_PER_RESOURCE || long_field
}

impl DeadProps {
    fn memory(&self) -> std::sync::MutexGuard<'_, HashMap<String, Props>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The properties of `p` and where they live. An attribute that cannot be read
    /// (damaged, or written by a later version) is an error, so that a PROPPATCH
    /// does not overwrite it (readers see no properties, see [`Self::load_or_none`]).
    async fn load(&self, conn: &Connection, p: &VirtualPath) -> Result<(Place, Props), Error> {
        match conn.get_xattr(p, XATTR).await {
            Ok(Some(bytes)) => match codec::decode(&bytes) {
                Some(props) => Ok((Place::Attribute, props)),
                None => Err(Error::new(
                    ErrorKind::Internal,
                    "the stored dead properties cannot be read",
                )),
            },
            Ok(None) => Ok((Place::Attribute, Props::new())),
            Err(e) if e.kind == ErrorKind::Unsupported => {
                let k = key(&conn.user().username, p.as_str());
                Ok((
                    Place::Memory,
                    self.memory().get(&k).cloned().unwrap_or_default(),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Applies a PROPPATCH: `(true, p)` sets, `(false, p)` removes. All or nothing:
    /// when a limit would be passed nothing changes and every property gets 507.
    pub async fn patch(
        &self,
        conn: &Connection,
        p: &VirtualPath,
        patch: Vec<(bool, DavProp)>,
    ) -> Result<Vec<(http::StatusCode, DavProp)>, Error> {
        let _one_at_a_time = match self.write_lock(&conn.user().username, p) {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let (place, mut next) = self.load(conn, p).await?;
        for (set, prop) in &patch {
            if *set {
                next.insert(prop_key(prop), prop.clone());
            } else {
                next.remove(&prop_key(prop));
            }
        }
        let mut status = http::StatusCode::OK;
        if too_large(&next) {
            status = http::StatusCode::INSUFFICIENT_STORAGE;
        } else {
            match place {
                Place::Attribute => {
                    let value = (!next.is_empty()).then(|| codec::encode(&next));
                    match conn.set_xattr(p, XATTR, value.as_deref()).await {
                        Ok(()) => {}
                        // More than the file system keeps with one file.
                        Err(e) if e.kind == ErrorKind::QuotaExceeded => {
                            status = http::StatusCode::INSUFFICIENT_STORAGE;
                        }
                        Err(e) => return Err(e),
                    }
                }
                Place::Memory => {
                    let k = key(&conn.user().username, p.as_str());
                    let mut all = self.memory();
                    if next.is_empty() {
                        all.remove(&k);
                    } else if all.contains_key(&k) || all.len() < MAX_RESOURCES {
                        all.insert(k, next);
                    } else {
                        status = http::StatusCode::INSUFFICIENT_STORAGE;
                    }
                }
            }
        }
        Ok(patch
            .iter()
            .map(|(_, prop)| (status, without_value(prop)))
            .collect())
    }

    /// The properties of `p` (values only when `with_values`).
    pub async fn get(
        &self,
        conn: &Connection,
        p: &VirtualPath,
        with_values: bool,
    ) -> Result<Vec<DavProp>, Error> {
        let props = self.load_or_none(conn, p).await?;
        Ok(props
            .into_values()
            .map(|prop| {
                if with_values {
                    prop
                } else {
                    without_value(&prop)
                }
            })
            .collect())
    }

    /// The value of one property.
    pub async fn value(
        &self,
        conn: &Connection,
        p: &VirtualPath,
        prop: &DavProp,
    ) -> Result<Option<Vec<u8>>, Error> {
        let props = self.load_or_none(conn, p).await?;
        Ok(props.get(&prop_key(prop)).and_then(|v| v.xml.clone()))
    }

    /// Forgets the in-memory properties of `path` and everything below it (stored
    /// attributes go away with their files).
    pub fn remove_tree(&self, user: &str, path: &str) {
        let base = key(user, path);
        self.memory().retain(|k, _| !within(k, &base));
    }

    /// Reads what a MOVE or COPY of `from` takes along, before it happens.
    pub async fn before_carry(&self, conn: &Connection, from: &VirtualPath) -> Carried {
        match self.load(conn, from).await {
            Ok((Place::Attribute, props)) if !props.is_empty() => Carried(Some(props)),
            _ => Carried(None),
        }
    }

    /// Gives `to` the properties `from` had, once it has been moved, or copied when
    /// `keep` is set. A rename within one storage has moved the attribute already; a
    /// copy, or a move to another storage, writes it. Failures are logged: the move
    /// or copy itself has succeeded.
    pub async fn carry(
        &self,
        conn: &Connection,
        from: &VirtualPath,
        to: &VirtualPath,
        keep: bool,
        carried: Carried,
    ) {
        self.carry_in_memory(&conn.user().username, from.as_str(), to.as_str(), keep);
        let Some(props) = carried.0 else {
            return;
        };
        if !keep && matches!(conn.get_xattr(to, XATTR).await, Ok(Some(_))) {
            return;
        }
        match conn.carry_xattr(to, XATTR, &codec::encode(&props)).await {
            Ok(()) => {}
            // Moved or copied to storage without extended attributes.
            Err(e) if e.kind == ErrorKind::Unsupported => {
                let k = key(&conn.user().username, to.as_str());
                let mut all = self.memory();
                if all.contains_key(&k) || all.len() < MAX_RESOURCES {
                    all.insert(k, props);
                }
            }
            Err(e) => {
                tracing::warn!(sender = "WebDAV", path = %to, error = %e, "dead properties not carried");
            }
        }
    }

    /// The lock of `p`'s PROPPATCHes.
    fn write_lock(&self, user: &str, p: &VirtualPath) -> Option<&tokio::sync::Mutex<()>> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (user, p.as_str()).hash(&mut h);
        let i = usize::try_from(h.finish() % WRITE_LOCKS as u64).unwrap_or(0);
        self.writes.get(i)
    }

    /// [`Self::load`] for readers: an unreadable attribute is logged and reads as no
    /// properties.
    async fn load_or_none(&self, conn: &Connection, p: &VirtualPath) -> Result<Props, Error> {
        match self.load(conn, p).await {
            Ok((_, props)) => Ok(props),
            Err(e) if e.kind == ErrorKind::Internal => {
                tracing::warn!(sender = "WebDAV", path = %p, "unreadable dead properties ignored");
                Ok(Props::new())
            }
            Err(e) => Err(e),
        }
    }

    /// Carries the in-memory properties of `from` (and below) to `to`.
    fn carry_in_memory(&self, user: &str, from: &str, to: &str, keep: bool) {
        let (src, dst) = (key(user, from), key(user, to));
        let mut all = self.memory();
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

/// The attribute's format: a version byte, then per property its namespace, name and
/// prefix (u16 length, `u16::MAX` for none) and its XML value (u32 length,
/// `u32::MAX` for none).
mod codec {
    use super::{DavProp, Props, prop_key};

    const VERSION: u8 = 1;

    fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
        match text {
            Some(t) => {
                let len = u16::try_from(t.len()).unwrap_or(u16::MAX - 1);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(t.as_bytes().get(..usize::from(len)).unwrap_or_default());
            }
            None => out.extend_from_slice(&u16::MAX.to_be_bytes()),
        }
    }

    pub fn encode(props: &Props) -> Vec<u8> {
        let mut out = vec![VERSION];
        for p in props.values() {
            put_text(&mut out, p.namespace.as_deref());
            put_text(&mut out, Some(&p.name));
            put_text(&mut out, p.prefix.as_deref());
            match &p.xml {
                Some(x) => {
                    let len = u32::try_from(x.len()).unwrap_or(u32::MAX - 1);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(x.get(..len as usize).unwrap_or_default());
                }
                None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        out
    }

    struct Reader<'a>(&'a [u8]);

    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Option<&[u8]> {
            let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
            self.0 = rest;
            Some(head)
        }

        fn text(&mut self) -> Option<Option<String>> {
            let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
            if len == u16::MAX {
                return Some(None);
            }
            let bytes = self.take(usize::from(len))?;
            Some(Some(String::from_utf8(bytes.to_vec()).ok()?))
        }

        fn value(&mut self) -> Option<Option<Vec<u8>>> {
            let len = u32::from_be_bytes(self.take(4)?.try_into().ok()?);
            if len == u32::MAX {
                return Some(None);
            }
            Some(Some(self.take(usize::try_from(len).ok()?)?.to_vec()))
        }
    }

    /// `None` for anything malformed.
    pub fn decode(bytes: &[u8]) -> Option<Props> {
        let mut r = Reader(bytes);
        if r.take(1)? != [VERSION] {
            return None;
        }
        let mut props = Props::new();
        while !r.0.is_empty() {
            let namespace = r.text()?;
            let name = r.text()??;
            let prefix = r.text()?;
            let xml = r.value()?;
            let p = DavProp {
                name,
                prefix,
                namespace,
                xml,
            };
            props.insert(prop_key(&p), p);
        }
        Some(props)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn prop(name: &str, value: Option<&str>) -> DavProp {
        DavProp {
            name: name.into(),
            prefix: Some("z".into()),
            namespace: Some("http://example.com/ns".into()),
            xml: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    fn set(props: &[DavProp]) -> Props {
        props.iter().map(|p| (prop_key(p), p.clone())).collect()
    }

    #[test]
    fn the_attribute_format_round_trips_and_refuses_garbage() {
        let mut odd = prop("h\u{e9}llo", Some("<x>\u{2603}</x>"));
        odd.namespace = None;
        odd.prefix = None;
        let props = set(&[
            prop("a", Some("1")),
            prop("b", None),
            odd,
            prop("", Some("")),
        ]);
        let bytes = codec::encode(&props);
        let back = codec::decode(&bytes).unwrap();
        assert_eq!(back.len(), props.len());
        assert_eq!(codec::encode(&back), bytes);
        let h = back.values().find(|p| p.name == "h\u{e9}llo").unwrap();
        assert!(h.namespace.is_none() && h.prefix.is_none());
        assert_eq!(h.xml.as_deref(), Some("<x>\u{2603}</x>".as_bytes()));
        assert!(back.values().any(|p| p.name == "b" && p.xml.is_none()));
        assert!(
            codec::decode(&codec::encode(&Props::new()))
                .unwrap()
                .is_empty()
        );
        for cut in 1..bytes.len() {
            // Every truncation is refused or decodes to fewer properties, never panics.
            if let Some(p) = codec::decode(&bytes[..cut]) {
                assert!(p.len() < props.len());
            }
        }
        assert!(codec::decode(b"").is_none());
        assert!(codec::decode(&[9, 0, 1]).is_none(), "unknown version");
        assert!(
            codec::decode(&[1, 0, 2, 0xff, 0xfe, 0, 0]).is_none(),
            "not UTF-8"
        );
    }

    #[test]
    fn limits_count_properties_bytes_and_field_lengths() {
        assert!(!too_large(&set(&[prop("x", Some("1"))])));
        let big = "v".repeat(MAX_BYTES_PER_RESOURCE + 1);
        assert!(too_large(&set(&[prop("x", Some(&big))])));
        let many: Vec<DavProp> = (0..=MAX_PER_RESOURCE)
            .map(|i| prop(&format!("p{i}"), Some("v")))
            .collect();
        assert!(too_large(&set(&many)));
        assert!(too_large(&set(&[prop(&"n".repeat(MAX_FIELD + 1), None)])));
    }

    #[test]
    fn memory_properties_move_copy_and_go_with_deletes() {
        let s = DeadProps::default();
        let put = |user: &str, path: &str, p: DavProp| {
            s.memory()
                .entry(key(user, path))
                .or_default()
                .insert(prop_key(&p), p);
        };
        let has = |user: &str, path: &str| s.memory().contains_key(&key(user, path));
        put("u", "/d/f", prop("z", Some("3")));
        put("v", "/d/f", prop("z", Some("3")));
        s.carry_in_memory("u", "/d", "/e", false);
        assert!(!has("u", "/d/f") && has("u", "/e/f"));
        assert!(has("v", "/d/f"), "per user");
        s.carry_in_memory("u", "/e", "/g", true);
        assert!(has("u", "/e/f") && has("u", "/g/f"));
        s.remove_tree("u", "/e");
        assert!(!has("u", "/e/f") && has("u", "/g/f"));
        // "/ab" is not below "/a".
        put("u", "/ab", prop("x", Some("1")));
        s.remove_tree("u", "/a");
        assert!(has("u", "/ab"));
    }
}
