//! The defender (`common.defender`): brute-force protection shared by every protocol.
//! Failed logins score points against the client's address; a host whose score within
//! `observation_time` reaches `threshold` is banned for `ban_time` minutes, and every
//! attempt it makes while banned extends the ban by `ban_time_increment` percent, as
//! SFTPGo's in-memory defender does. Entries are bounded (`entries_hard_limit`, trimmed
//! back to `entries_soft_limit`, oldest first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// `common.defender.login_delay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginDelay {
    /// Milliseconds added after a successful password login.
    pub success: u64,
    /// Milliseconds added after a failed password login.
    pub password_failed: u64,
}

impl Default for LoginDelay {
    fn default() -> Self {
        Self {
            success: 0,
            password_failed: 1000,
        }
    }
}

/// `common.defender`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefenderConfig {
    /// Turns the defender on.
    pub enabled: bool,
    /// `memory` (the only driver implemented; `provider` is refused).
    pub driver: String,
    /// Ban length, minutes.
    pub ban_time: i64,
    /// How much each attempt during a ban extends it, percent of `ban_time`.
    pub ban_time_increment: i64,
    /// Score that bans a host.
    pub threshold: i64,
    /// Score of a login for a user that does not exist.
    pub score_invalid: i64,
    /// Score of a failed login for an existing user.
    pub score_valid: i64,
    /// Score of a connection refused by the connection limits.
    pub score_limit_exceeded: i64,
    /// Score of a connection closed without trying to log in.
    pub score_no_auth: i64,
    /// Minutes an event counts.
    pub observation_time: i64,
    /// Entries kept after a trim.
    pub entries_soft_limit: usize,
    /// Entries that trigger a trim.
    pub entries_hard_limit: usize,
    /// Delays that slow password guessing.
    pub login_delay: LoginDelay,
}

impl Default for DefenderConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            driver: "memory".into(),
            ban_time: 30,
            ban_time_increment: 50,
            threshold: 15,
            score_invalid: 2,
            score_valid: 1,
            score_limit_exceeded: 3,
            score_no_auth: 0,
            observation_time: 30,
            entries_soft_limit: 100,
            entries_hard_limit: 150,
            login_delay: LoginDelay::default(),
        }
    }
}

impl DefenderConfig {
    /// SFTPGo's checks (only when enabled).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if self.driver != "memory" {
            return Err(format!(
                "common.defender.driver: {:?} is not supported (memory)",
                self.driver
            ));
        }
        for (name, score) in [
            ("score_invalid", self.score_invalid),
            ("score_valid", self.score_valid),
            ("score_limit_exceeded", self.score_limit_exceeded),
            ("score_no_auth", self.score_no_auth),
        ] {
            if score < 0 || score >= self.threshold {
                return Err(format!(
                    "common.defender.{name}: {score} must be 0 or more and below the threshold {}",
                    self.threshold
                ));
            }
        }
        if self.ban_time <= 0 || self.ban_time_increment <= 0 || self.observation_time <= 0 {
            return Err(
                "common.defender: ban_time, ban_time_increment and observation_time must be positive"
                    .into(),
            );
        }
        if self.entries_soft_limit == 0 || self.entries_hard_limit <= self.entries_soft_limit {
            return Err(
                "common.defender: entries_hard_limit must be above entries_soft_limit, which must be positive"
                    .into(),
            );
        }
        Ok(())
    }
}

/// What happened, for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostEvent {
    /// Wrong credentials (or a refused account) for an existing user.
    LoginFailed,
    /// A login for a user that does not exist.
    UserNotFound,
    /// A connection over the connection limits.
    LimitExceeded,
    /// A connection closed without a login attempt.
    NoLoginTried,
}

/// A host as `/api/v2/defender/hosts` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefenderEntry {
    /// The address.
    pub ip: IpAddr,
    /// Current score (not banned).
    pub score: i64,
    /// Ban end, Unix ms (0: not banned).
    pub ban_until: i64,
}

#[derive(Debug, Default)]
struct State {
    /// Events (Unix ms, score) inside the observation window.
    hosts: HashMap<IpAddr, Vec<(i64, i64)>>,
    /// Ban ends, Unix ms.
    banned: HashMap<IpAddr, i64>,
}

/// Told when the defender bans a host (the Event Manager's "IP blocked" trigger).
pub trait BanListener: Send + Sync {
    /// `ip` was just banned; must not block.
    fn banned(&self, ip: IpAddr);
}

/// The in-memory defender.
#[derive(Debug, Default)]
pub struct Defender {
    config: DefenderConfig,
    state: Mutex<State>,
    listener: std::sync::OnceLock<std::sync::Weak<dyn BanListener>>,
    /// The IP lists (allow list, defender lists), kept current by
    /// [`crate::iplists::watch`].
    lists: std::sync::RwLock<Arc<crate::iplists::IpIndex>>,
    /// `common.allowlist_status`: only addresses of the allow list may connect.
    allowlist: bool,
    /// `common.rate_limiters`.
    limiters: crate::ratelimit::RateLimiters,
}

const MINUTE_MS: i64 = 60_000;

impl Defender {
    /// A defender with `config` (see [`DefenderConfig::validate`]).
    pub fn new(config: DefenderConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            listener: std::sync::OnceLock::new(),
            lists: std::sync::RwLock::default(),
            allowlist: false,
            limiters: crate::ratelimit::RateLimiters::default(),
        }
    }

    /// Applies `common.rate_limiters`.
    pub fn with_rate_limiters(mut self, configs: &[crate::ratelimit::RateLimiterConfig]) -> Self {
        self.limiters = crate::ratelimit::RateLimiters::new(configs);
        self
    }

    /// Takes a token from the rate limiters of `protocol` for `ip` (waiting a little
    /// when needed): the refusal when a limiter says no. Addresses on the safe list
    /// (IP list type 3) are never limited; refusals of per-address limiters with
    /// `generate_defender_events` are scored.
    pub async fn rate_limit(
        &self,
        ip: IpAddr,
        protocol: &str,
    ) -> std::result::Result<(), crate::ratelimit::Limited> {
        let ip = ip.to_canonical();
        if !self.limiters.enabled()
            || self
                .lists()
                .lookup(crate::iplists::list::RATE_LIMIT_SAFE, ip, protocol)
                .is_some()
        {
            return Ok(());
        }
        let r = self.limiters.acquire(ip, protocol).await;
        if let Err(l) = &r
            && l.score
        {
            self.add_event(ip, protocol, HostEvent::LimitExceeded);
        }
        r
    }

    /// Lets only addresses of the allow list (type 1) connect.
    pub fn with_allowlist(mut self, on: bool) -> Self {
        self.allowlist = on;
        self
    }

    /// Replaces the IP lists consulted.
    pub fn set_lists(&self, index: crate::iplists::IpIndex) {
        *self.lists.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
    }

    fn lists(&self) -> Arc<crate::iplists::IpIndex> {
        self.lists.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Why a connection (or request) from `ip` over `protocol` (`SSH`, `FTP`, `DAV`,
    /// `HTTP`) must be refused, if it must: not in the allow list (when it is on), or
    /// banned (a ban, which each attempt extends, or the defender's deny list).
    pub fn refusal(&self, ip: IpAddr, protocol: &str) -> Option<&'static str> {
        let ip = ip.to_canonical();
        if self.allowlist
            && self
                .lists()
                .lookup(crate::iplists::list::ALLOW, ip, protocol)
                .is_none()
        {
            return Some("you are not allowed to connect");
        }
        self.banned(ip, protocol)
            .then_some("your IP address is blocked")
    }

    /// Whether `ip` is banned for `protocol`: a ban (each check extends it) or the
    /// defender's deny list. False when the defender is off.
    pub fn banned(&self, ip: IpAddr, protocol: &str) -> bool {
        let ip = ip.to_canonical();
        self.config.enabled
            && (self.is_banned(ip)
                || self
                    .lists()
                    .lookup(crate::iplists::list::DEFENDER, ip, protocol)
                    == Some(crate::iplists::mode::DENY))
    }

    /// Tells `listener` about every ban from now on (set once).
    pub fn set_listener(&self, listener: std::sync::Weak<dyn BanListener>) {
        let _ = self.listener.set(listener);
    }

    /// Whether it is on.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The configured delays.
    pub fn login_delay(&self) -> &LoginDelay {
        &self.config.login_delay
    }

    /// Waits `login_delay.success` (a login that succeeded) or
    /// `login_delay.password_failed` (one that failed) when the defender is on.
    pub async fn delay_login(&self, success: bool) {
        if !self.config.enabled {
            return;
        }
        let d = &self.config.login_delay;
        let ms = if success {
            d.success
        } else {
            d.password_failed
        };
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn window_score(&self, events: &[(i64, i64)], now: i64) -> i64 {
        let since = now - self.config.observation_time * MINUTE_MS;
        events
            .iter()
            .filter(|(t, _)| *t > since)
            .map(|(_, s)| s)
            .sum()
    }

    /// Whether `ip` is banned now; each attempt during a ban extends it.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.is_banned_at(ip.to_canonical(), crate::now_millis())
    }

    fn is_banned_at(&self, ip: IpAddr, now: i64) -> bool {
        if !self.config.enabled {
            return false;
        }
        let mut st = self.lock();
        match st.banned.get_mut(&ip) {
            Some(until) if *until > now => {
                let increment =
                    (self.config.ban_time * self.config.ban_time_increment / 100).max(1);
                *until += increment * MINUTE_MS;
                true
            }
            _ => false,
        }
    }

    /// Scores `event` for `ip`; bans it when the threshold is reached.
    pub fn add_event(&self, ip: IpAddr, protocol: &str, event: HostEvent) {
        self.add_event_at(ip.to_canonical(), protocol, event, crate::now_millis());
    }

    fn add_event_at(&self, ip: IpAddr, protocol: &str, event: HostEvent, now: i64) {
        if !self.config.enabled {
            return;
        }
        let score = match event {
            HostEvent::LoginFailed => self.config.score_valid,
            HostEvent::UserNotFound => self.config.score_invalid,
            HostEvent::LimitExceeded => self.config.score_limit_exceeded,
            HostEvent::NoLoginTried => self.config.score_no_auth,
        };
        if score == 0 {
            return;
        }
        // The defender's safe list is never scored.
        if self
            .lists()
            .lookup(crate::iplists::list::DEFENDER, ip, protocol)
            == Some(crate::iplists::mode::ALLOW)
        {
            return;
        }
        let mut st = self.lock();
        match st.banned.get(&ip) {
            Some(until) if *until > now => return,
            Some(_) => {
                st.banned.remove(&ip);
            }
            None => {}
        }
        let since = now - self.config.observation_time * MINUTE_MS;
        let events = st.hosts.entry(ip).or_default();
        events.retain(|(t, _)| *t > since);
        events.push((now, score));
        let total = self.window_score(events, now);
        tracing::info!(sender = "defender", %ip, protocol, ?event, score = total, "host event");
        if total >= self.config.threshold {
            st.hosts.remove(&ip);
            st.banned.insert(ip, now + self.config.ban_time * MINUTE_MS);
            tracing::warn!(sender = "defender", %ip, protocol, minutes = self.config.ban_time,
                "host banned");
            Self::trim(&mut st.banned, &self.config, |v| *v);
            drop(st);
            if let Some(l) = self.listener.get().and_then(std::sync::Weak::upgrade) {
                l.banned(ip);
            }
        } else {
            Self::trim(&mut st.hosts, &self.config, |v| {
                v.last().map_or(0, |(t, _)| *t)
            });
        }
    }

    /// Keeps `map` within the entry limits, dropping the oldest entries.
    fn trim<V>(map: &mut HashMap<IpAddr, V>, cfg: &DefenderConfig, age: impl Fn(&V) -> i64) {
        if map.len() <= cfg.entries_hard_limit {
            return;
        }
        let mut by_age: Vec<(i64, IpAddr)> = map.iter().map(|(k, v)| (age(v), *k)).collect();
        by_age.sort_unstable();
        let excess = map.len().saturating_sub(cfg.entries_soft_limit);
        for (_, ip) in by_age.into_iter().take(excess) {
            map.remove(&ip);
        }
    }

    /// Banned hosts and hosts with a score, banned first.
    pub fn hosts(&self) -> Vec<DefenderEntry> {
        let now = crate::now_millis();
        let st = self.lock();
        let mut out: Vec<DefenderEntry> = st
            .banned
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(ip, until)| DefenderEntry {
                ip: *ip,
                score: 0,
                ban_until: *until,
            })
            .collect();
        out.extend(st.hosts.iter().filter_map(|(ip, events)| {
            let score = self.window_score(events, now);
            (score > 0).then_some(DefenderEntry {
                ip: *ip,
                score,
                ban_until: 0,
            })
        }));
        out
    }

    /// The entry of `ip`, if banned or scored.
    pub fn host(&self, ip: IpAddr) -> Option<DefenderEntry> {
        self.hosts().into_iter().find(|e| e.ip == ip)
    }

    /// Forgets `ip` (lifts a ban); false when it was not known.
    pub fn delete(&self, ip: IpAddr) -> bool {
        let mut st = self.lock();
        st.banned.remove(&ip).is_some() | st.hosts.remove(&ip).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> Defender {
        Defender::new(DefenderConfig {
            enabled: true,
            threshold: 5,
            entries_soft_limit: 2,
            entries_hard_limit: 3,
            ..DefenderConfig::default()
        })
    }

    #[test]
    fn scores_ban_and_extend() {
        let d = on();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = 1_000_000_000;
        d.add_event_at(ip, "SSH", HostEvent::UserNotFound, t0);
        d.add_event_at(ip, "SSH", HostEvent::LoginFailed, t0 + 1);
        assert!(!d.is_banned_at(ip, t0 + 2));
        // Events older than the observation window no longer count.
        d.add_event_at(ip, "SSH", HostEvent::UserNotFound, t0 + 31 * MINUTE_MS);
        assert!(!d.is_banned_at(ip, t0 + 31 * MINUTE_MS));
        d.add_event_at(ip, "SSH", HostEvent::LimitExceeded, t0 + 32 * MINUTE_MS);
        let banned_at = t0 + 32 * MINUTE_MS;
        assert!(d.is_banned_at(ip, banned_at + 1), "2 + 3 reaches 5");
        // Each attempt while banned adds 50 % of 30 minutes.
        let until = d.lock().banned[&ip];
        assert_eq!(until, banned_at + 30 * MINUTE_MS + 15 * MINUTE_MS);
        assert!(!d.is_banned_at(ip, until + 1), "bans end");
        assert!(d.delete(ip) && !d.delete(ip));
    }

    #[test]
    fn disabled_does_nothing_and_entries_are_bounded() {
        let off = Defender::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..100 {
            off.add_event(ip, "SSH", HostEvent::UserNotFound);
        }
        assert!(!off.is_banned(ip) && off.hosts().is_empty());
        let d = on();
        for i in 0..10u8 {
            d.add_event(IpAddr::from([10, 0, 0, i]), "HTTP", HostEvent::LoginFailed);
        }
        assert!(d.hosts().len() <= 3, "{:?}", d.hosts());
        let cfg = DefenderConfig {
            enabled: true,
            score_valid: 20,
            ..DefenderConfig::default()
        };
        assert!(cfg.validate().is_err());
        assert!(
            DefenderConfig {
                enabled: true,
                ..DefenderConfig::default()
            }
            .validate()
            .is_ok()
        );
    }
}
