//! Rate limiters (`common.rate_limiters`): token buckets, global or per client
//! address, for some protocols. Each new SSH or FTP connection and each HTTP or WebDAV
//! request takes a token from every limiter of its protocol; when none is left it
//! waits for one if the wait is short (half a period, or half a token's interval),
//! and is refused otherwise. Addresses on the rate limiters' safe list (IP list type
//! 3) are never limited. As in SFTPGo, per-address limiters may score refusals with the
//! defender (`generate_defender_events`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Longest wait a limiter imposes before it refuses instead.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// One `common.rate_limiters` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimiterConfig {
    /// Tokens per `period` (0: the limiter is off).
    pub average: i64,
    /// Period in milliseconds (at least 100).
    pub period: i64,
    /// Tokens that may be taken at once (at least 1).
    pub burst: i64,
    /// 1 one bucket for everyone, 2 one bucket per client address.
    #[serde(rename = "type")]
    pub limiter_type: i64,
    /// `SSH`, `FTP`, `DAV`, `HTTP`; empty: none.
    pub protocols: Vec<String>,
    /// Score refusals of per-address limiters with the defender.
    pub generate_defender_events: bool,
    /// Per-address buckets kept after a trim.
    pub entries_soft_limit: usize,
    /// Per-address buckets that trigger a trim of the least recently used.
    pub entries_hard_limit: usize,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        Self {
            average: 0,
            period: 1000,
            burst: 1,
            limiter_type: 2,
            protocols: ["SSH", "FTP", "DAV", "HTTP"].map(String::from).to_vec(),
            generate_defender_events: false,
            entries_soft_limit: 100,
            entries_hard_limit: 150,
        }
    }
}

impl RateLimiterConfig {
    /// Checks an entry (`at` names it in errors); off entries are not checked.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        if self.average <= 0 {
            return Ok(());
        }
        if self.period < 100 {
            return Err(format!("{at}.period: must be at least 100 ms"));
        }
        if self.burst < 1 {
            return Err(format!("{at}.burst: must be at least 1"));
        }
        if self.limiter_type != 1 && self.limiter_type != 2 {
            return Err(format!("{at}.type: must be 1 (global) or 2 (per address)"));
        }
        if let Some(p) = self
            .protocols
            .iter()
            .find(|p| !["SSH", "FTP", "DAV", "HTTP"].contains(&p.as_str()))
        {
            return Err(format!("{at}.protocols: unknown protocol {p:?}"));
        }
        if self.limiter_type == 2 && self.entries_hard_limit <= self.entries_soft_limit {
            return Err(format!(
                "{at}.entries_hard_limit: must be greater than entries_soft_limit"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// One enabled limiter.
#[derive(Debug)]
struct Limiter {
    cfg: RateLimiterConfig,
    /// Tokens per second.
    rate: f64,
    max_wait: Duration,
    global: Mutex<Option<Bucket>>,
    per_ip: Mutex<HashMap<IpAddr, Bucket>>,
}

/// What a limiter decided.
enum Take {
    Now,
    After(Duration),
    Refused(Duration),
}

impl Limiter {
    fn new(cfg: RateLimiterConfig) -> Self {
        let rate = cfg.average as f64 / (cfg.period as f64 / 1000.0);
        let max_wait = if rate < 1.0 {
            Duration::from_millis(u64::try_from(cfg.period / 2).unwrap_or(0))
        } else {
            Duration::from_secs_f64(1.0 / (2.0 * rate.trunc()))
        }
        .min(MAX_WAIT);
        Self {
            cfg,
            rate,
            max_wait,
            global: Mutex::new(None),
            per_ip: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `b` (made full when new), or says how long to wait.
    fn take_from(&self, b: &mut Bucket, now: Instant) -> Take {
        let burst = self.cfg.burst as f64;
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(burst);
        b.last = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            return Take::Now;
        }
        let wait = Duration::from_secs_f64(-b.tokens / self.rate);
        if wait <= self.max_wait {
            Take::After(wait)
        } else {
            // The reservation is given back: a refused request takes nothing.
            b.tokens += 1.0;
            Take::Refused(wait)
        }
    }

    fn take(&self, ip: IpAddr) -> Take {
        let now = Instant::now();
        let full = Bucket {
            tokens: self.cfg.burst as f64,
            last: now,
        };
        if self.cfg.limiter_type == 1 {
            let mut g = self.global.lock().unwrap_or_else(|e| e.into_inner());
            let b = g.get_or_insert(full);
            return self.take_from(b, now);
        }
        let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.cfg.entries_hard_limit && !map.contains_key(&ip) {
            // The least recently used buckets go, down to the soft limit.
            let mut by_age: Vec<(Instant, IpAddr)> =
                map.iter().map(|(k, b)| (b.last, *k)).collect();
            by_age.sort_unstable();
            let excess = map.len().saturating_sub(self.cfg.entries_soft_limit);
            for (_, k) in by_age.into_iter().take(excess) {
                map.remove(&k);
            }
        }
        let b = map.entry(ip).or_insert(full);
        self.take_from(b, now)
    }
}

/// A refusal: how long the client would have had to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The wait that was too long.
    pub wait: Duration,
    /// Whether the defender should score it.
    pub score: bool,
}

/// The configured limiters.
#[derive(Debug, Default)]
pub struct RateLimiters {
    limiters: Vec<Limiter>,
}

impl RateLimiters {
    /// The enabled limiters of `configs` (`average` > 0, some protocol).
    pub fn new(configs: &[RateLimiterConfig]) -> Self {
        Self {
            limiters: configs
                .iter()
                .filter(|c| c.average > 0 && !c.protocols.is_empty())
                .cloned()
                .map(Limiter::new)
                .collect(),
        }
    }

    /// Whether any limiter is on.
    pub fn enabled(&self) -> bool {
        !self.limiters.is_empty()
    }

    /// Takes a token from every limiter of `protocol` for `ip`, waiting when that is
    /// short; the first refusal is returned. The waits of several limiters add up.
    pub async fn acquire(&self, ip: IpAddr, protocol: &str) -> Result<(), Limited> {
        for l in self
            .limiters
            .iter()
            .filter(|l| l.cfg.protocols.iter().any(|p| p == protocol))
        {
            match l.take(ip) {
                Take::Now => {}
                Take::After(wait) => tokio::time::sleep(wait).await,
                Take::Refused(wait) => {
                    return Err(Limited {
                        wait,
                        score: l.cfg.limiter_type == 2 && l.cfg.generate_defender_events,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(average: i64, period: i64, burst: i64, t: i64) -> RateLimiterConfig {
        RateLimiterConfig {
            average,
            period,
            burst,
            limiter_type: t,
            ..RateLimiterConfig::default()
        }
    }

    #[test]
    fn buckets_refill_and_refuse_long_waits() {
        // One token a minute, burst 2: two at once, then a refusal (a minute's wait is
        // beyond the ten seconds a limiter may impose).
        let l = Limiter::new(cfg(1, 60_000, 2, 2));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(matches!(l.take(ip), Take::Now));
        assert!(matches!(l.take(ip), Take::Now));
        assert!(matches!(l.take(ip), Take::Refused(_)));
        assert!(
            matches!(l.take("10.0.0.2".parse().unwrap()), Take::Now),
            "per address"
        );
        // Ten a second, burst 1: the next token comes in 100 ms, more than the 50 ms
        // (half a token's interval) a request may wait.
        let fast = Limiter::new(cfg(10, 1000, 1, 1));
        assert!(matches!(fast.take(ip), Take::Now));
        assert!(matches!(fast.take(ip), Take::Refused(w) if w <= Duration::from_millis(101)));
        // One token per 2 s: a request may wait up to half the period (1 s); the next
        // token is 2 s away.
        let slow = Limiter::new(cfg(1, 2000, 1, 1));
        assert_eq!(slow.max_wait, Duration::from_secs(1));
        assert!(matches!(slow.take(ip), Take::Now));
        assert!(
            matches!(slow.take(ip), Take::Refused(_)),
            "a 2 s wait is too long"
        );
        assert!(cfg(5, 50, 1, 2).validate("x").is_err());
        assert!(
            cfg(0, 50, 0, 9).validate("x").is_ok(),
            "off entries are not checked"
        );
    }
}
