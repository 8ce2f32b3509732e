//! IP list entries (allow list, defender, rate-limiter safe list) and CIDR parsing.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::check_len;
use crate::{Error, Result};

/// Parses `ip` or `ip/prefix` and returns the network in canonical form (host bits
/// cleared, bare addresses as /32 or /128).
pub fn parse_cidr(s: &str) -> std::result::Result<String, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address or network"))?;
    // An IPv4-mapped IPv6 address (as logs may show a client) is its IPv4 address.
    let (ip, prefix) = match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            let bits = match prefix {
                None => None,
                Some(p) => Some(
                    p.parse::<u32>()
                        .ok()
                        .filter(|b| (96..=128).contains(b))
                        .map(|b| (b - 96).to_string())
                        .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
                ),
            };
            (
                IpAddr::V4(
                    v6.to_ipv4_mapped()
                        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                ),
                bits,
            )
        }
        other => (other, prefix.map(String::from)),
    };
    let prefix = prefix.as_deref();
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits: u32 = match prefix {
        None => max,
        Some(p) => p
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
    };
    let net = match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
    };
    Ok(format!("{net}/{bits}"))
}

/// True when `ip` is inside `cidr` (an address or `address/prefix`); false for
/// anything that does not parse.
pub fn contains(cidr: &str, ip: IpAddr) -> bool {
    let Ok(canonical) = parse_cidr(cidr) else {
        return false;
    };
    let Some((net, bits)) = canonical.split_once('/') else {
        return false;
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match parse_cidr(&format!("{ip}/{bits}")) {
        Ok(masked) => masked.split_once('/').is_some_and(|(m, _)| m == net),
        Err(_) => false,
    }
}

/// An IP list entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpListEntry {
    /// Address or network (stored canonical, `a.b.c.d/n`).
    pub ipornet: String,
    /// Free text.
    pub description: String,
    /// 1 allow list, 2 defender, 3 rate-limiter safe list.
    #[serde(rename = "type")]
    pub list_type: i32,
    /// 1 allow, 2 deny (deny only for the defender list).
    pub mode: i32,
    /// Bit mask of protocols: 0 all, 1 SSH, 2 FTP, 4 WebDAV, 8 HTTP.
    pub protocols: i32,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last update, Unix ms.
    pub updated_at: i64,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl IpListEntry {
    /// The store key: `<type>:<network>`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.list_type, self.ipornet)
    }

    /// Canonicalises the network and checks the entry.
    pub fn normalize_and_validate(&mut self) -> Result<()> {
        self.ipornet =
            parse_cidr(&self.ipornet).map_err(|e| Error::invalid(format!("ipornet: {e}")))?;
        check_len("description", &self.description, 512)?;
        if !(1..=3).contains(&self.list_type) {
            return Err(Error::invalid(format!(
                "type: {} is not valid (1 allow list, 2 defender, 3 rate-limiter safe list)",
                self.list_type
            )));
        }
        match (self.mode, self.list_type) {
            (1, _) | (2, 2) => {}
            (2, _) => {
                return Err(Error::invalid(
                    "mode: deny (2) is only valid for the defender list (type 2)",
                ));
            }
            (m, _) => return Err(Error::invalid(format!("mode: {m} is not valid (1 or 2)"))),
        }
        if !(0..=15).contains(&self.protocols) {
            return Err(Error::invalid(format!(
                "protocols: {} is not a valid bit mask (0-15)",
                self.protocols
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_canonical() {
        assert_eq!(parse_cidr("192.168.1.7/24").unwrap(), "192.168.1.0/24");
        assert_eq!(parse_cidr("10.0.0.1").unwrap(), "10.0.0.1/32");
        assert_eq!(parse_cidr("::1").unwrap(), "::1/128");
        assert_eq!(parse_cidr("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        assert!(parse_cidr("10.0.0.1/33").is_err());
        assert!(parse_cidr("nope").is_err());
        // IPv4-mapped addresses, as logs may show them, are stored as IPv4.
        assert_eq!(parse_cidr("::ffff:1.2.3.4").unwrap(), "1.2.3.4/32");
        assert_eq!(parse_cidr("::ffff:10.2.0.0/112").unwrap(), "10.2.0.0/16");
        assert!(parse_cidr("::ffff:10.2.0.0/64").is_err());
    }

    #[test]
    fn membership() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(contains("10.0.0.0/8", ip("10.1.2.3")));
        assert!(!contains("10.0.0.0/8", ip("11.1.2.3")));
        assert!(contains("127.0.0.1", ip("::ffff:127.0.0.1")));
        assert!(contains("::1/128", ip("::1")));
        assert!(!contains("::1/128", ip("127.0.0.1")));
        assert!(!contains("garbage", ip("127.0.0.1")));
    }
}
