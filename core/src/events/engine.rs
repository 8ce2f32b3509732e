//! [`EventManager`]: finds the rules an event fires and runs their actions.
//!
//! A rule's actions run in order on one copy of the event's parameters: a failed
//! action records its error (status 1 becomes 2) and, with `stop_on_failure`, ends the
//! run; failure actions run only when something failed. Synchronous actions of upload
//! and `pre-*` events run before the operation returns and can refuse it. Rules run
//! on the side runtime, at most [`MAX_CONCURRENT_RUNS`] at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::Outbound;
use super::conditions::{Conditions, patterns_match, patterns_match_any, trigger};
use super::options::{ActionOptions, RETENTION_REPORTS, kind};
use super::placeholders::{EventParams, Sender};
use super::retention::RetentionChecks;
use crate::catalog::Catalog;
use crate::connection::Opener;
use crate::model::{EventAction, EventRule, RelationOptions};
use crate::quota::QuotaScans;
use crate::store::ListQuery;
use crate::{Error, ErrorKind, Result};

/// Rule runs in progress at most; more wait for a slot.
pub const MAX_CONCURRENT_RUNS: usize = 200;

/// How long cached fs/provider rules are trusted without a write through this server
/// (another server may share the database).
const RULES_TTL: Duration = Duration::from_secs(600);

/// One action of a rule, loaded.
#[derive(Clone)]
pub(super) struct LoadedAction {
    pub action: EventAction,
    pub options: ActionOptions,
    pub relation: RelationOptions,
}

/// A rule ready to run.
#[derive(Clone)]
pub(super) struct LoadedRule {
    pub rule: EventRule,
    pub conditions: Conditions,
    pub actions: Vec<LoadedAction>,
}

/// What one run of a rule shares between its actions.
pub(super) struct Run {
    /// The event, as the actions so far left it.
    pub params: EventParams,
    /// The rule's conditions (user selection).
    pub conditions: Conditions,
    /// Data retention reports of this run: (file name, CSV).
    pub reports: Vec<(String, Vec<u8>)>,
}

/// A file system event of a user's session.
#[derive(Debug, Clone, Default)]
pub struct FsEvent {
    /// `upload`, `pre-upload`, `download`, `delete`, `rename`, ...
    pub event: &'static str,
    /// The user.
    pub username: String,
    /// The user's role.
    pub role: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The user's e-mail.
    pub email: String,
    /// Protocol.
    pub protocol: String,
    /// Client address.
    pub ip: String,
    /// Virtual path.
    pub virtual_path: String,
    /// Path on the storage.
    pub fs_path: String,
    /// Rename/copy target.
    pub virtual_target_path: String,
    /// Rename/copy target on the storage.
    pub fs_target_path: String,
    /// Bytes.
    pub file_size: i64,
    /// Milliseconds.
    pub elapsed: i64,
    /// 1 ok, 2 error, 3 quota exceeded.
    pub status: i32,
    /// The operation's error, if it failed.
    pub error: Option<String>,
    /// A successful upload or download that is the account's first.
    pub first: bool,
}

/// A change in the data provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderEvent {
    /// `add`, `update` or `delete`.
    pub event: &'static str,
    /// `user`, `folder`, `group`, `admin`, `api_key`, `share`, `event_rule`, ...
    pub object_type: &'static str,
    /// The object's name.
    pub object_name: String,
    /// The object as JSON (secrets hidden).
    pub object_data: String,
    /// The admin (or user) who made the change.
    pub executor: String,
    /// The executor's role.
    pub executor_role: String,
    /// Client address.
    pub ip: String,
    /// Groups of the object (users only).
    pub groups: Vec<String>,
    /// E-mail of the object (users and admins).
    pub email: String,
}

struct RuleCache {
    generation: u64,
    loaded_at: Instant,
    rules: Arc<Vec<LoadedRule>>,
}

/// The bit of fs event `e` in [`EventManager::wants_fs_event`]'s mask.
fn event_bit(e: &str) -> u32 {
    super::conditions::FS_EVENTS
        .iter()
        .position(|x| *x == e)
        .map_or(0, |i| 1 << i)
}

/// The Event Manager of this server.
pub struct EventManager {
    pub(super) catalog: Catalog,
    pub(super) opener: Arc<Opener>,
    pub(super) scans: Arc<QuotaScans>,
    pub(super) retention: Arc<RetentionChecks>,
    pub(super) backups_dir: PathBuf,
    pub(super) outbound: Option<Arc<dyn Outbound>>,
    runs: Arc<Semaphore>,
    cache: RwLock<Option<RuleCache>>,
    /// One reload at a time (the others wait for its result).
    reload: tokio::sync::Mutex<()>,
    /// The fs events active rules name, as bits of [`FS_EVENTS`], with the catalog
    /// generation and load time they are good for: the lock-free check every file
    /// operation makes before building an event.
    wanted: AtomicU32,
    wanted_generation: AtomicU64,
    wanted_at: AtomicI64,
    /// The side runtime rule runs go to (never the protocol workers).
    runtime: tokio::runtime::Handle,
    me: Weak<EventManager>,
}

impl EventManager {
    /// A manager acting on `catalog`'s objects, users' storage through `opener`,
    /// sharing quota scans with the REST API, writing backups to `backups_dir`.
    pub fn new(
        catalog: Catalog,
        opener: Arc<Opener>,
        scans: Arc<QuotaScans>,
        backups_dir: PathBuf,
        outbound: Option<Arc<dyn Outbound>>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let manager = Arc::new_cyclic(|me| Self {
            catalog,
            opener,
            scans,
            retention: Arc::default(),
            backups_dir,
            outbound,
            runs: Arc::new(Semaphore::new(MAX_CONCURRENT_RUNS)),
            cache: RwLock::new(None),
            reload: tokio::sync::Mutex::new(()),
            wanted: AtomicU32::new(0),
            wanted_generation: AtomicU64::new(u64::MAX),
            wanted_at: AtomicI64::new(0),
            runtime,
            me: me.clone(),
        });
        // Sessions opened from now on send their file system events here.
        let sink: Weak<dyn crate::connection::FsEventSink> = Arc::downgrade(&manager) as _;
        manager.opener.set_events(sink);
        manager
    }

    /// Data retention checks running now.
    pub fn retention_checks(&self) -> &Arc<RetentionChecks> {
        &self.retention
    }

    fn strong(&self) -> Option<Arc<Self>> {
        self.me.upgrade()
    }

    /// The rule's actions with their options and relation, in order.
    pub(super) async fn load(&self, rule: EventRule) -> Result<LoadedRule> {
        let conditions = rule.typed_conditions()?;
        let mut actions = Vec::with_capacity(rule.actions.len());
        for ra in &rule.actions {
            let action = self
                .catalog
                .get::<EventAction>(&ra.name)
                .await?
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("action {:?} does not exist", ra.name),
                    )
                })?;
            let options = action.typed_options()?;
            actions.push(LoadedAction {
                action,
                options,
                relation: ra.relation(),
            });
        }
        Ok(LoadedRule {
            rule,
            conditions,
            actions,
        })
    }

    /// `POST /api/v2/eventrules/run/{name}`: starts an active on-demand rule in the
    /// background. `NotFound` for an unknown rule, `InvalidInput` for one that is not
    /// on-demand, inactive or whose actions cannot run on demand.
    pub async fn run_on_demand(&self, name: &str) -> Result<()> {
        let rule = self
            .catalog
            .get::<EventRule>(name)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "Not Found"))?;
        if rule.trigger != trigger::ON_DEMAND {
            return Err(Error::invalid(format!(
                "rule {:?} is not defined as on-demand",
                rule.name
            )));
        }
        if rule.status != 1 {
            return Err(Error::invalid(format!("rule {:?} is inactive", rule.name)));
        }
        let loaded = self.load(rule).await?;
        if let Err(e) = consistency(&loaded, None) {
            tracing::warn!(sender = "eventmanager", rule = %loaded.rule.name, error = %e,
                "on-demand rule refused");
            return Err(Error::invalid(format!(
                "rule {:?} has inconsistent actions: {e}",
                loaded.rule.name
            )));
        }
        let params = EventParams {
            status: 1,
            uid: crate::catalog::random_id(22),
            ..EventParams::default()
        };
        self.spawn_run(loaded, params);
        Ok(())
    }

    /// Runs `rule` in the background, in a run slot.
    pub(super) fn spawn_run(&self, rule: LoadedRule, params: EventParams) {
        let Some(me) = self.strong() else {
            return;
        };
        self.runtime.spawn(async move {
            let Ok(_slot) = me.runs.clone().acquire_owned().await else {
                return;
            };
            me.run_rule(&rule, params, false).await;
        });
    }

    /// Runs the rule's asynchronous actions (all but the synchronous ones when
    /// `after_sync`), then its failure actions if anything failed.
    pub(super) async fn run_rule(
        &self,
        rule: &LoadedRule,
        params: EventParams,
        sync_failed: bool,
    ) -> Run {
        let mut run = Run {
            params,
            conditions: rule.conditions.clone(),
            reports: Vec::new(),
        };
        let mut failed = sync_failed;
        for a in rule
            .actions
            .iter()
            .filter(|a| !a.relation.is_failure_action && !a.relation.execute_sync)
        {
            if !self
                .execute_logged(&rule.rule.name, a, &mut run, true)
                .await
            {
                failed = true;
                if a.relation.stop_on_failure {
                    break;
                }
            }
        }
        if failed {
            for a in rule.actions.iter().filter(|a| a.relation.is_failure_action) {
                if !self
                    .execute_logged(&rule.rule.name, a, &mut run, false)
                    .await
                    && a.relation.stop_on_failure
                {
                    break;
                }
            }
        }
        run
    }

    /// Runs one action; false when it failed (its error is recorded in the run).
    pub(super) async fn execute_logged(
        &self,
        rule: &str,
        a: &LoadedAction,
        run: &mut Run,
        status_from_error: bool,
    ) -> bool {
        let statuses = &run.conditions.options.event_statuses;
        if !statuses.is_empty() && !statuses.contains(&i64::from(run.params.status)) {
            return true;
        }
        let started = Instant::now();
        match self.execute(a, run).await {
            Ok(()) => {
                tracing::debug!(sender = "eventmanager", rule, action = %a.action.name,
                    elapsed_ms = started.elapsed().as_millis() as u64, "executed action");
                true
            }
            Err(e) => {
                tracing::warn!(sender = "eventmanager", rule, action = %a.action.name,
                    elapsed_ms = started.elapsed().as_millis() as u64, error = %e.message,
                    "unable to execute action");
                let msg = format!("action {:?} failed: {}", a.action.name, e.message);
                if status_from_error {
                    run.params.add_error(msg);
                } else {
                    run.params.errors.push(msg);
                }
                false
            }
        }
    }

    /// Executes one action of a run.
    async fn execute(&self, a: &LoadedAction, run: &mut Run) -> Result<()> {
        let o = &a.options;
        match a.action.action_type {
            kind::HTTP => self.send_http(&a.action.name, &o.http_config, run).await,
            kind::COMMAND => super::send::run_command(&o.cmd_config, &run.params).await,
            kind::EMAIL => self.send_mail(&o.email_config, run).await,
            kind::BACKUP => self.backup(&mut run.params).await,
            kind::USER_QUOTA_RESET => self.user_quota_reset(run).await,
            kind::FOLDER_QUOTA_RESET => self.folder_quota_reset(run).await,
            kind::TRANSFER_QUOTA_RESET => self.transfer_quota_reset(run).await,
            kind::DATA_RETENTION => {
                self.data_retention(&a.action.name, &o.retention_config, run)
                    .await
            }
            kind::FILESYSTEM => self.filesystem(&o.fs_config, run).await,
            kind::PASSWORD_EXPIRATION => {
                self.password_expiration(&o.pwd_expiration_config, run)
                    .await
            }
            kind::USER_EXPIRATION => self.user_expiration(run).await,
            kind::USER_INACTIVITY => self.user_inactivity(&o.user_inactivity_config, run).await,
            kind::ROTATE_LOG => match &self.outbound {
                Some(out) => out.rotate_log().map_err(Error::invalid),
                None => Err(Error::invalid("logging to file is disabled")),
            },
            kind::IDP_CHECK => Err(Error::new(
                ErrorKind::Unsupported,
                "identity provider logins are not supported by this server",
            )),
            other => Err(Error::invalid(format!("unsupported action type: {other}"))),
        }
    }

    /// The active rules, loaded, cached until the catalog changes (or for
    /// [`RULES_TTL`], another server may share the database). When they cannot be
    /// loaded, the last good set is used if there is one (and loading is tried again
    /// on the next event); without one, an error.
    async fn active_rules(&self) -> Result<Arc<Vec<LoadedRule>>> {
        if let Some(rules) = self.fresh_rules() {
            return Ok(rules);
        }
        let _reloading = self.reload.lock().await;
        if let Some(rules) = self.fresh_rules() {
            return Ok(rules);
        }
        let generation = self.catalog.generation();
        let all = match self.catalog.list::<EventRule>(ListQuery::default()).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(sender = "eventmanager", error = %e, "cannot load the event rules");
                let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
                return cache.as_ref().map(|c| c.rules.clone()).ok_or(e);
            }
        };
        let mut loaded = Vec::new();
        for rule in all.into_iter().filter(|r| r.status == 1) {
            let name = rule.name.clone();
            match self.load(rule).await {
                Ok(l) => loaded.push(l),
                Err(e) => tracing::warn!(sender = "eventmanager", rule = %name,
                    error = %e, "rule skipped: cannot load it"),
            }
        }
        let mask = loaded
            .iter()
            .filter(|r| r.rule.trigger == trigger::FS)
            .flat_map(|r| r.conditions.fs_events.iter())
            .fold(0u32, |m, e| m | event_bit(e));
        let rules = Arc::new(loaded);
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some(RuleCache {
            generation,
            loaded_at: Instant::now(),
            rules: rules.clone(),
        });
        self.wanted.store(mask, Ordering::Release);
        self.wanted_at
            .store(crate::clock::now_secs(), Ordering::Release);
        self.wanted_generation.store(generation, Ordering::Release);
        Ok(rules)
    }

    fn fresh_rules(&self) -> Option<Arc<Vec<LoadedRule>>> {
        let generation = self.catalog.generation();
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|c| c.generation == generation && c.loaded_at.elapsed() < RULES_TTL)
            .map(|c| c.rules.clone())
    }

    /// Whether an active rule may react to fs event `event`, without waiting: the
    /// last loaded set's answer while it is current, "maybe" (true) once it is stale,
    /// so the event is built and the rules reloaded. An `upload`/`download` is also
    /// wanted for a rule on the account's first one.
    pub fn wants_fs_event(&self, event: &str) -> bool {
        let current = self.wanted_generation.load(Ordering::Acquire) == self.catalog.generation()
            && crate::clock::now_secs() - self.wanted_at.load(Ordering::Acquire)
                < RULES_TTL.as_secs() as i64;
        if !current {
            return true;
        }
        let mask = self.wanted.load(Ordering::Acquire);
        let also = match event {
            "upload" => event_bit("first-upload"),
            "download" => event_bit("first-download"),
            _ => 0,
        };
        mask & (event_bit(event) | also) != 0
    }

    /// Runs the rules an fs event fires. Their synchronous actions run now, and the
    /// first failure of one is returned (a `pre-*` event or an upload is then
    /// refused); everything else runs in the background.
    pub async fn fs_event(&self, ev: FsEvent) -> Result<()> {
        let all = match self.active_rules().await {
            Ok(all) => all,
            // Without rules a gate cannot be checked: refuse what it could refuse.
            Err(e)
                if matches!(
                    ev.event,
                    "pre-upload" | "pre-download" | "pre-delete" | "upload"
                ) =>
            {
                return Err(Error::new(
                    ErrorKind::Transient,
                    format!("event rules cannot be loaded: {}", e.message),
                ));
            }
            Err(_) => return Ok(()),
        };
        let rules: Vec<LoadedRule> = all
            .iter()
            .filter(|r| r.rule.trigger == trigger::FS && fs_rule_matches(&r.conditions, &ev))
            .cloned()
            .collect();
        let result = self.fire_fs_rules(rules, &ev).await;
        // The account's first upload (or download) once the upload is accepted.
        if result.is_ok() && ev.first {
            let mut first = ev.clone();
            first.first = false;
            first.event = if ev.event == "upload" {
                "first-upload"
            } else {
                "first-download"
            };
            Box::pin(self.fs_event(first)).await?;
        }
        result
    }

    /// Runs `rules` for `ev`: the failure of a synchronous action is returned.
    async fn fire_fs_rules(&self, rules: Vec<LoadedRule>, ev: &FsEvent) -> Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        let base = EventParams {
            name: ev.username.clone(),
            event: ev.event.to_string(),
            status: ev.status,
            virtual_path: ev.virtual_path.clone(),
            fs_path: ev.fs_path.clone(),
            virtual_target_path: ev.virtual_target_path.clone(),
            fs_target_path: ev.fs_target_path.clone(),
            object_name: ev
                .virtual_path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            file_size: ev.file_size,
            elapsed: ev.elapsed,
            protocol: ev.protocol.clone(),
            ip: ev.ip.clone(),
            role: ev.role.clone(),
            email: ev.email.clone(),
            timestamp_nanos: now_nanos(),
            uid: crate::catalog::random_id(22),
            errors: ev
                .error
                .iter()
                .map(|e| format!("{:?} failed: {e}", ev.event))
                .collect(),
            sender: Sender::User(ev.username.clone()),
            ..EventParams::default()
        };
        let mut result = Ok(());
        for rule in rules {
            if let Err(e) = consistency(&rule, None) {
                tracing::warn!(sender = "eventmanager", rule = %rule.rule.name, event = ev.event,
                    error = %e, "rule skipped");
                continue;
            }
            if !rule.actions.iter().any(|a| a.relation.execute_sync) {
                self.spawn_run(rule, base.clone());
                continue;
            }
            // Synchronous actions run on the side runtime (a backup or a compress
            // must not stall the protocol worker); the operation waits for them.
            let Some(me) = self.strong() else {
                continue;
            };
            let params = base.clone();
            let outcome = self
                .runtime
                .spawn(async move { me.run_sync(rule, params).await })
                .await
                .unwrap_or_else(|e| {
                    Err(Error::new(
                        ErrorKind::Internal,
                        format!("event rule run failed: {e}"),
                    ))
                });
            if outcome.is_err() {
                result = outcome;
            }
        }
        result
    }

    /// A rule's synchronous actions, then the rest of it in the background; the last
    /// failure of a synchronous action is returned.
    async fn run_sync(self: Arc<Self>, rule: LoadedRule, params: EventParams) -> Result<()> {
        let mut run = Run {
            params,
            conditions: rule.conditions.clone(),
            reports: Vec::new(),
        };
        let mut result = Ok(());
        for a in rule
            .actions
            .iter()
            .filter(|a| a.relation.execute_sync && !a.relation.is_failure_action)
        {
            if !self
                .execute_logged(&rule.rule.name, a, &mut run, false)
                .await
            {
                result = Err(Error::new(
                    ErrorKind::PermissionDenied,
                    run.params.errors.last().cloned().unwrap_or_default(),
                ));
                if a.relation.stop_on_failure {
                    break;
                }
            }
        }
        // The rest of the rule goes on in the background, with what the synchronous
        // actions left.
        let failed = result.is_err();
        let params = run.params;
        let me = self.clone();
        self.runtime.spawn(async move {
            me.run_rule(&rule, params, failed).await;
        });
        result
    }

    /// Runs the rules a provider change fires, in the background.
    pub async fn provider_event(&self, ev: ProviderEvent) {
        let Ok(all) = self.active_rules().await else {
            return;
        };
        for rule in all
            .iter()
            .filter(|r| r.rule.trigger == trigger::PROVIDER)
            .cloned()
        {
            let c = &rule.conditions;
            let o = &c.options;
            let groups: Vec<&str> = ev.groups.iter().map(String::as_str).collect();
            let matches = c.provider_events.iter().any(|e| e == ev.event)
                && patterns_match(&o.names, &ev.executor)
                && (o.group_names.is_empty() || patterns_match_any(&o.group_names, &groups))
                && patterns_match(&o.role_names, &ev.executor_role)
                && (o.provider_objects.is_empty()
                    || o.provider_objects.iter().any(|p| p == ev.object_type));
            if !matches {
                continue;
            }
            if let Err(e) = consistency(&rule, Some(ev.object_type)) {
                tracing::warn!(sender = "eventmanager", rule = %rule.rule.name, event = ev.event,
                    error = %e, "rule skipped");
                continue;
            }
            let params = EventParams {
                name: ev.executor.clone(),
                event: ev.event.to_string(),
                status: 1,
                object_name: ev.object_name.clone(),
                object_type: ev.object_type.to_string(),
                object_data: ev.object_data.clone(),
                ip: ev.ip.clone(),
                role: ev.executor_role.clone(),
                email: ev.email.clone(),
                timestamp_nanos: now_nanos(),
                uid: crate::catalog::random_id(22),
                // User-scoped actions act on the user changed; folder quota resets on
                // the folder.
                sender: match ev.object_type {
                    "user" => Sender::User(ev.object_name.clone()),
                    "folder" => Sender::Folder(ev.object_name.clone()),
                    _ => Sender::Selected,
                },
                ..EventParams::default()
            };
            self.spawn_run(rule, params);
        }
    }

    /// Runs the rules of the "IP blocked" trigger for `ip`, in the background.
    pub async fn ip_blocked(&self, ip: std::net::IpAddr) {
        let Ok(all) = self.active_rules().await else {
            return;
        };
        for rule in all
            .iter()
            .filter(|r| r.rule.trigger == trigger::IP_BLOCKED)
            .cloned()
        {
            if let Err(e) = consistency(&rule, None) {
                tracing::warn!(sender = "eventmanager", rule = %rule.rule.name, error = %e,
                    "rule skipped");
                continue;
            }
            let params = EventParams {
                event: "IP Blocked".into(),
                status: 1,
                ip: ip.to_string(),
                timestamp_nanos: now_nanos(),
                uid: crate::catalog::random_id(22),
                ..EventParams::default()
            };
            self.spawn_run(rule, params);
        }
    }

    /// Runs the schedule rules due in the hour starting at `hour_secs` (Unix seconds,
    /// a multiple of 3600).
    pub async fn run_due_schedules(&self, hour_secs: i64) -> usize {
        let rules = match self.catalog.list::<EventRule>(ListQuery::default()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(sender = "eventmanager", error = %e, "cannot load the event rules");
                return 0;
            }
        };
        let mut started = 0;
        for rule in rules
            .into_iter()
            .filter(|r| r.status == 1 && r.trigger == trigger::SCHEDULE)
        {
            let name = rule.name.clone();
            let Ok(conditions) = rule.typed_conditions() else {
                continue;
            };
            let due = conditions
                .schedules
                .iter()
                .filter_map(|s| s.parse().ok())
                .any(|c| c.matches_hour(hour_secs));
            if !due {
                continue;
            }
            let loaded = match self.load(rule).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(sender = "eventmanager", rule = %name, error = %e, "rule skipped");
                    continue;
                }
            };
            if let Err(e) = consistency(&loaded, None) {
                tracing::warn!(sender = "eventmanager", rule = %name, error = %e, "rule skipped");
                continue;
            }
            let params = EventParams {
                name: name.clone(),
                event: "Schedule".into(),
                status: 1,
                timestamp_nanos: hour_secs.saturating_mul(1_000_000_000),
                uid: crate::catalog::random_id(22),
                ..EventParams::default()
            };
            self.spawn_run(loaded, params);
            started += 1;
        }
        started
    }

    /// Fires schedule rules at the start of every hour until `stop` turns true.
    pub async fn schedule_loop(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let now = crate::now_millis();
            let next_hour = (now / 3_600_000 + 1) * 3_600_000;
            let wait = Duration::from_millis(u64::try_from(next_hour - now).unwrap_or(0));
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(wait) => {}
            }
            // A timer may fire a little early: wait for the hour itself.
            let late = crate::now_millis();
            if late < next_hour {
                tokio::time::sleep(Duration::from_millis(
                    u64::try_from(next_hour - late).unwrap_or(0),
                ))
                .await;
            }
            let n = self.run_due_schedules(next_hour / 1000).await;
            if n > 0 {
                tracing::info!(
                    sender = "eventmanager",
                    rules = n,
                    "scheduled rules started"
                );
            }
        }
    }
}

fn now_nanos() -> i64 {
    crate::now_millis().saturating_mul(1_000_000)
}

/// True when an fs event passes a rule's conditions.
fn fs_rule_matches(c: &Conditions, ev: &FsEvent) -> bool {
    let o = &c.options;
    let groups: Vec<&str> = ev.groups.iter().map(String::as_str).collect();
    let base = c.fs_events.iter().any(|e| e == ev.event)
        && patterns_match(&o.names, &ev.username)
        && patterns_match(&o.role_names, &ev.role)
        && (o.group_names.is_empty() || patterns_match_any(&o.group_names, &groups))
        && patterns_match(&o.fs_paths, &ev.virtual_path)
        && (o.protocols.is_empty() || o.protocols.contains(&ev.protocol));
    if !base {
        return false;
    }
    let sized = matches!(
        ev.event,
        "pre-delete"
            | "pre-upload"
            | "delete"
            | "copy"
            | "download"
            | "first-upload"
            | "first-download"
            | "upload"
    );
    if sized {
        if o.min_size > 0 && ev.file_size < o.min_size {
            return false;
        }
        if o.max_size > 0 && ev.file_size > o.max_size {
            return false;
        }
    }
    true
}

/// SFTPGo's run-time checks of a rule's actions against its trigger (and, for
/// provider events, the object type).
pub(super) fn consistency(rule: &LoadedRule, object_type: Option<&str>) -> Result<()> {
    let trig = rule.rule.trigger;
    let user_scoped = [
        kind::USER_QUOTA_RESET,
        kind::TRANSFER_QUOTA_RESET,
        kind::DATA_RETENTION,
        kind::FILESYSTEM,
        kind::PASSWORD_EXPIRATION,
        kind::USER_EXPIRATION,
    ];
    let first_is_backup = rule
        .actions
        .first()
        .is_some_and(|a| a.action.action_type == kind::BACKUP);
    for a in &rule.actions {
        let t = a.action.action_type;
        match trig {
            trigger::PROVIDER => {
                if user_scoped.contains(&t) && object_type != Some("user") {
                    return Err(Error::invalid(format!(
                        "action {:?} needs a user object",
                        a.action.name
                    )));
                }
                if t == kind::FOLDER_QUOTA_RESET && object_type != Some("folder") {
                    return Err(Error::invalid(format!(
                        "action {:?} needs a folder object",
                        a.action.name
                    )));
                }
            }
            trigger::FS if t == kind::FOLDER_QUOTA_RESET => {
                return Err(Error::invalid(
                    "folder quota reset cannot run on filesystem events",
                ));
            }
            trigger::IP_BLOCKED | trigger::CERTIFICATE
                if user_scoped.contains(&t) || t == kind::FOLDER_QUOTA_RESET =>
            {
                return Err(Error::invalid(format!(
                    "action {:?} is not supported for this trigger",
                    a.action.name
                )));
            }
            _ => {}
        }
        let has_user = match trig {
            trigger::FS => true,
            trigger::PROVIDER => object_type == Some("user"),
            _ => first_is_backup,
        };
        if t == kind::EMAIL
            && !has_user
            && a.options
                .email_config
                .attachments
                .iter()
                .any(|f| f != RETENTION_REPORTS)
        {
            return Err(Error::invalid(
                "cannot send an email with attachments for a rule with no user associated",
            ));
        }
        if t == kind::HTTP && !has_user && a.options.http_config.has_file_parts() {
            return Err(Error::invalid(
                "cannot upload file/s for a rule with no user associated",
            ));
        }
        if t == kind::IDP_CHECK && trig != trigger::IDP_LOGIN {
            return Err(Error::invalid(
                "IDP account check action is only supported for IDP login trigger",
            ));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl crate::connection::FsEventSink for EventManager {
    fn wants(&self, event: &str) -> bool {
        self.wants_fs_event(event)
    }

    async fn fire(&self, ev: FsEvent) -> Result<()> {
        self.fs_event(ev).await
    }
}

impl crate::defender::BanListener for EventManager {
    fn banned(&self, ip: std::net::IpAddr) {
        let Some(me) = self.strong() else {
            return;
        };
        self.runtime.spawn(async move { me.ip_blocked(ip).await });
    }
}
