//! Actions on accounts and the provider: backups (type 4), quota and transfer resets
//! (5, 6, 7), user expiration checks (12), inactivity checks (14) and password
//! expiration notices (11).

use serde_json::Value;

use super::engine::{EventManager, Run};
use super::options::{PwdExpirationConfig, UserInactivityConfig};
use super::placeholders::EventParams;
use super::placeholders::Sender;
use super::{Mail, Outbound};
use crate::dump::Dump;
use crate::model::User;
use crate::quota::ScanTarget;
use crate::store::{Counter, CounterOp, Kind};
use crate::{Error, ErrorKind, Result};

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

const DAY_MS: i64 = 86_400_000;

/// `backup_<Weekday>_<hour>.json` for Unix seconds `secs` (UTC): a week of hourly
/// files, each overwritten a week later.
fn backup_name(secs: i64) -> String {
    let weekday = crate::clock::weekday(secs) as usize;
    let hour = secs.rem_euclid(86_400) / 3600;
    format!(
        "backup_{}_{hour}.json",
        WEEKDAYS.get(weekday).copied().unwrap_or("Sunday")
    )
}

/// "`<op>` failed for users: a, b" when some failed.
fn per_user(op: &str, failed: Vec<String>) -> Result<()> {
    failure_listing(&format!("{op} failed for users"), failed)
}

/// Ok with no `names`; otherwise an error "`what`: a, b" (actions that report what
/// they did or could not do by failing, so failure actions can tell someone).
pub(super) fn failure_listing(what: &str, names: Vec<String>) -> Result<()> {
    if names.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(format!("{what}: {}", names.join(", "))))
    }
}

fn extra_i64(map: &serde_json::Map<String, Value>, key: &str) -> i64 {
    map.get(key).and_then(Value::as_i64).unwrap_or(0)
}

impl EventManager {
    /// Type 4: the whole provider dumped into the backups directory. After it, the
    /// run's paths name the backup file, so later actions can send it.
    pub(super) async fn backup(&self, params: &mut EventParams) -> Result<()> {
        let dump = Dump::collect(&self.catalog).await?;
        let bytes = serde_json::to_vec(&dump)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        let now = crate::clock::now_secs();
        let name = backup_name(now);
        let path = self.backups_dir.join(&name);
        let size = bytes.len();
        let target = path.clone();
        tokio::task::spawn_blocking(move || crate::dump::write_private(&target, &bytes))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?
            .map_err(|e| {
                Error::new(ErrorKind::Internal, format!("cannot write the backup: {e}"))
            })?;
        tracing::info!(sender = "eventmanager", file = %path.display(), "backup written");
        if params.sender == Sender::Selected {
            params.sender = Sender::System;
            params.fs_path = path.display().to_string();
            params.object_name = name.clone();
            params.virtual_path = format!("/{name}");
            params.timestamp_nanos = crate::now_millis().saturating_mul(1_000_000);
            params.file_size = i64::try_from(size).unwrap_or(i64::MAX);
        }
        Ok(())
    }

    /// Type 5: recount the used quota of every targeted user.
    pub(super) async fn user_quota_reset(&self, run: &mut Run) -> Result<()> {
        let users = self
            .target_users(&run.params.sender, &run.conditions.options)
            .await?;
        if users.is_empty() {
            return Err(Error::invalid("no user quota reset executed"));
        }
        let mut failed = Vec::new();
        for u in users {
            if let Err(e) = self.scan(ScanTarget::User, &u.username).await {
                run.params.errors.push(e.message);
                failed.push(u.username);
            }
        }
        per_user("quota reset", failed)
    }

    /// Type 6: recount the used quota of every targeted folder.
    pub(super) async fn folder_quota_reset(&self, run: &mut Run) -> Result<()> {
        let folders = self
            .target_folders(&run.params.sender, &run.conditions.options)
            .await?;
        if folders.is_empty() {
            return Err(Error::invalid("no folder quota reset executed"));
        }
        let mut failed = Vec::new();
        for f in folders {
            if let Err(e) = self.scan(ScanTarget::Folder, &f.name).await {
                run.params.errors.push(e.message);
                failed.push(f.name);
            }
        }
        failure_listing("quota reset failed for folders", failed)
    }

    async fn scan(&self, target: ScanTarget, name: &str) -> Result<()> {
        let scan = crate::quota::prepare_scan(
            &self.catalog,
            self.opener.fs_factory().as_ref(),
            &self.scans,
            target,
            name,
        )
        .await
        .map_err(|e| {
            if e.kind == ErrorKind::AlreadyExists {
                Error::new(
                    ErrorKind::AlreadyExists,
                    format!("another quota scan is in progress for {name:?}"),
                )
            } else {
                e
            }
        })?;
        scan.run().await.map(|_| ())
    }

    /// Type 7: zero the data-transfer counters of every targeted user.
    pub(super) async fn transfer_quota_reset(&self, run: &mut Run) -> Result<()> {
        let users = self
            .target_users(&run.params.sender, &run.conditions.options)
            .await?;
        if users.is_empty() {
            return Err(Error::invalid("no transfer quota reset executed"));
        }
        let mut failed = Vec::new();
        for u in users {
            let ops = [
                (Counter::UploadTransfer, CounterOp::Set(0)),
                (Counter::DownloadTransfer, CounterOp::Set(0)),
            ];
            if let Err(e) = self
                .catalog
                .update_counters(Kind::User, &u.username, &ops)
                .await
            {
                run.params.errors.push(e.message);
                failed.push(u.username);
            }
        }
        per_user("transfer quota reset", failed)
    }

    /// Type 12: fails, naming them, when targeted users have expired (so failure
    /// actions can tell someone). Changes nothing.
    pub(super) async fn user_expiration(&self, run: &mut Run) -> Result<()> {
        let users = self
            .target_users(&run.params.sender, &run.conditions.options)
            .await?;
        if users.is_empty() {
            return Err(Error::invalid("no user expiration check executed"));
        }
        let now = crate::now_millis();
        let expired: Vec<String> = users
            .into_iter()
            .filter(|u| u.is_expired(now))
            .map(|u| u.username)
            .collect();
        failure_listing("expired users", expired)
    }

    /// Type 14: disables, then deletes, users without a login for too long. Each
    /// change is reported as a failure so failure actions can tell someone.
    pub(super) async fn user_inactivity(
        &self,
        cfg: &UserInactivityConfig,
        run: &mut Run,
    ) -> Result<()> {
        let users = self
            .target_users(&run.params.sender, &run.conditions.options)
            .await?;
        let now = crate::now_millis();
        let mut changed = Vec::new();
        for u in users {
            let since = if u.last_login > 0 {
                u.last_login
            } else {
                u.created_at
            };
            let days = if since > 0 { (now - since) / DAY_MS } else { 0 };
            let may_delete = u.status != 1 || cfg.disable_threshold == 0;
            let outcome = if cfg.delete_threshold > 0 && may_delete && days > cfg.delete_threshold {
                self.catalog
                    .delete::<User>(&u.username)
                    .await
                    .map(|()| "deleted")
            } else if cfg.disable_threshold > 0 && u.status == 1 && days > cfg.disable_threshold {
                self.catalog
                    .modify::<User, _>(&u.username, |stored| {
                        stored.status = 0;
                        Ok(())
                    })
                    .await
                    .map(|_| "disabled")
            } else {
                continue;
            };
            match outcome {
                Ok(what) => {
                    run.params.errors.push(format!(
                        "inactive user {:?} {what}. Number of days of inactivity: {days}",
                        u.username
                    ));
                    changed.push(u.username);
                }
                Err(e) => run.params.errors.push(e.message),
            }
        }
        failure_listing("executed inactivity check actions for users", changed)
    }

    /// Type 11: mails users whose password expires within `threshold` days.
    pub(super) async fn password_expiration(
        &self,
        cfg: &PwdExpirationConfig,
        run: &mut Run,
    ) -> Result<()> {
        let users = self
            .target_users(&run.params.sender, &run.conditions.options)
            .await?;
        let now = crate::now_millis();
        let mut failed = Vec::new();
        for u in users {
            let Some(u) = self.catalog.effective_user(&u.username).await? else {
                continue;
            };
            let validity = extra_i64(&u.filters.extra, "password_expiration");
            if u.is_expired(now) || validity <= 0 {
                continue;
            }
            let changed = extra_i64(&u.extra, "last_password_change");
            let expires = changed + validity * DAY_MS;
            let mut days = ((expires - now) as f64 / DAY_MS as f64).round() as i64;
            if days == 0 && expires > now {
                days = 1;
            }
            if days > cfg.threshold {
                continue;
            }
            if let Err(e) = self.notify_password_expiry(&u, days).await {
                run.params.errors.push(e.message);
                failed.push(u.username);
            }
        }
        per_user("password expiration check", failed)
    }

    async fn notify_password_expiry(&self, u: &User, days: i64) -> Result<()> {
        let mut to: Vec<String> = Vec::new();
        if !u.email.is_empty() {
            to.push(u.email.clone());
        }
        if let Some(more) = u
            .filters
            .extra
            .get("additional_emails")
            .and_then(Value::as_array)
        {
            to.extend(more.iter().filter_map(Value::as_str).map(String::from));
        }
        if to.is_empty() {
            return Err(Error::invalid(format!(
                "user {:?} has no email address",
                u.username
            )));
        }
        let out: &dyn Outbound = self
            .outbound
            .as_deref()
            .ok_or_else(|| Error::invalid("no SMTP server is configured"))?;
        let name = super::placeholders::html_escape(&u.username);
        let when = if days > 0 {
            format!("expires in {days} day(s)")
        } else {
            "has expired".to_string()
        };
        let body = format!(
            "<p>Hello {name},</p><p>the password of your account {when}. \
             Please change it to keep using the account.</p>"
        );
        out.mail(Mail {
            to,
            subject: "SFTPGo password expiration notification".into(),
            body,
            html: true,
            ..Mail::default()
        })
        .await
        .map_err(|e| Error::invalid(format!("unable to send email: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_rotate_by_weekday_and_hour() {
        // 2026-12-04 (a Friday) 07:30 UTC.
        assert_eq!(backup_name(1_796_369_400), "backup_Friday_7.json");
        assert_eq!(backup_name(0), "backup_Thursday_0.json");
    }
}
