//! The IP lists (`/api/v2/iplists/{type}`) as the connection checks read them: an
//! in-memory index of the stored entries, parsed once, where the most specific network
//! matching an address decides (SFTPGo 2.7.3 and later). Type 1 is the allow list
//! (`common.allowlist_status`), type 2 the defender's own lists (deny: always banned,
//! allow: never scored), type 3 the rate limiters' safe list.
//!
//! [`watch`] keeps the index current: it reloads when anything changes through this
//! server (the catalog's generation) and every minute (another server may share the
//! database).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::defender::Defender;
use crate::model::IpListEntry;
use crate::store::ListQuery;

/// List types.
pub mod list {
    /// Addresses allowed to connect when `common.allowlist_status` is 1.
    pub const ALLOW: i32 = 1;
    /// The defender's allow (safe) and deny lists.
    pub const DEFENDER: i32 = 2;
    /// Addresses the rate limiters skip.
    pub const RATE_LIMIT_SAFE: i32 = 3;
}

/// Entry modes.
pub mod mode {
    /// Allowed (safe).
    pub const ALLOW: i32 = 1;
    /// Denied (always banned).
    pub const DENY: i32 = 2;
}

/// A network, parsed: addresses as 128-bit numbers (IPv4 mapped), and the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    v4: bool,
    addr: u128,
    bits: u32,
}

fn as_number(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (true, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (true, u128::from(u32::from(v4))),
            None => (false, u128::from(v6)),
        },
    }
}

impl Net {
    fn parse(s: &str) -> Option<Self> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
            None => (s, None),
        };
        let parsed: IpAddr = addr.parse().ok()?;
        let mapped = matches!(parsed, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        let (v4, addr) = as_number(parsed);
        let max = if v4 { 32 } else { 128 };
        // A mapped network's prefix counts the 96 bits of the mapping.
        let bits = match bits {
            Some(b) if mapped => b.checked_sub(96)?,
            Some(b) => b,
            None => max,
        };
        (bits <= max).then_some(Self { v4, addr, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (v4, addr) = as_number(ip);
        if v4 != self.v4 {
            return false;
        }
        let width = if v4 { 32 } else { 128 };
        let shift = width - self.bits;
        shift >= 128 || addr >> shift == self.addr >> shift
    }
}

/// The bit of a protocol in an entry's `protocols` (0 means every protocol).
pub fn protocol_bit(protocol: &str) -> i32 {
    match protocol {
        "SSH" => 1,
        "FTP" => 2,
        "DAV" => 4,
        "HTTP" => 8,
        _ => 0,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    net: Net,
    mode: i32,
    protocols: i32,
}

/// The entries of the three lists, most specific first.
#[derive(Debug, Default, Clone)]
pub struct IpIndex {
    lists: [Vec<Entry>; 3],
}

impl IpIndex {
    /// An index of `entries` (unparsable ones are left out).
    pub fn new(entries: &[IpListEntry]) -> Self {
        let mut lists: [Vec<Entry>; 3] = Default::default();
        for e in entries {
            let (Some(slot), Some(net)) = (
                usize::try_from(e.list_type - 1)
                    .ok()
                    .and_then(|i| lists.get_mut(i)),
                Net::parse(&e.ipornet),
            ) else {
                continue;
            };
            slot.push(Entry {
                net,
                mode: e.mode,
                protocols: e.protocols,
            });
        }
        for l in &mut lists {
            l.sort_by_key(|e| std::cmp::Reverse(e.net.bits));
        }
        Self { lists }
    }

    /// The mode of the most specific entry of list `list_type` matching `ip` for
    /// `protocol`, if any.
    pub fn lookup(&self, list_type: i32, ip: IpAddr, protocol: &str) -> Option<i32> {
        let bit = protocol_bit(protocol);
        let list = self.lists.get(usize::try_from(list_type - 1).ok()?)?;
        list.iter()
            .find(|e| (e.protocols == 0 || e.protocols & bit != 0) && e.net.contains(ip))
            .map(|e| e.mode)
    }

    /// Whether list `list_type` has no entries.
    pub fn is_empty(&self, list_type: i32) -> bool {
        usize::try_from(list_type - 1)
            .ok()
            .and_then(|i| self.lists.get(i))
            .is_none_or(Vec::is_empty)
    }
}

/// The stored entries, indexed.
pub async fn load(catalog: &Catalog) -> crate::Result<IpIndex> {
    let entries = catalog.list::<IpListEntry>(ListQuery::default()).await?;
    Ok(IpIndex::new(&entries))
}

/// How often the index is reloaded even when nothing changed through this server.
const REFRESH: Duration = Duration::from_secs(60);

/// Keeps `defender`'s index of `catalog`'s lists current until `stop` turns true.
pub async fn watch(
    catalog: Catalog,
    defender: Arc<Defender>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut seen = catalog.generation();
    let mut loaded_at = Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let generation = catalog.generation();
        if generation == seen && loaded_at.elapsed() < REFRESH {
            continue;
        }
        match load(&catalog).await {
            Ok(index) => {
                defender.set_lists(index);
                seen = generation;
                loaded_at = Instant::now();
            }
            Err(e) => tracing::warn!(sender = "defender", error = %e, "cannot load the IP lists"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: i32, net: &str, mode: i32, protocols: i32) -> IpListEntry {
        IpListEntry {
            ipornet: net.into(),
            list_type: t,
            mode,
            protocols,
            ..IpListEntry::default()
        }
    }

    #[test]
    fn the_most_specific_entry_for_the_protocol_decides() {
        let idx = IpIndex::new(&[
            entry(2, "10.0.0.0/8", mode::DENY, 0),
            entry(2, "10.1.0.0/16", mode::ALLOW, 0),
            entry(2, "10.1.2.3/32", mode::DENY, 8),
            entry(1, "2001:db8::/32", mode::ALLOW, 1),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(idx.lookup(2, ip("10.9.9.9"), "SSH"), Some(mode::DENY));
        assert_eq!(idx.lookup(2, ip("10.1.9.9"), "SSH"), Some(mode::ALLOW));
        assert_eq!(idx.lookup(2, ip("10.1.2.3"), "HTTP"), Some(mode::DENY));
        assert_eq!(
            idx.lookup(2, ip("10.1.2.3"), "FTP"),
            Some(mode::ALLOW),
            "HTTP only"
        );
        assert_eq!(
            idx.lookup(2, ip("::ffff:10.9.9.9"), "SSH"),
            Some(mode::DENY),
            "mapped"
        );
        assert_eq!(idx.lookup(2, ip("192.168.1.1"), "SSH"), None);
        assert_eq!(idx.lookup(1, ip("2001:db8::1"), "SSH"), Some(mode::ALLOW));
        assert_eq!(idx.lookup(1, ip("2001:db8::1"), "FTP"), None);
        assert!(idx.is_empty(3) && !idx.is_empty(1));
        let mapped = IpIndex::new(&[entry(2, "::ffff:10.2.0.0/112", mode::DENY, 0)]);
        assert_eq!(mapped.lookup(2, ip("10.2.3.4"), "SSH"), Some(mode::DENY));
        assert_eq!(mapped.lookup(2, ip("10.3.0.1"), "SSH"), None);
    }
}
