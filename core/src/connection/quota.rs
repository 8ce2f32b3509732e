//! Quota policy of a connection: which counters a path's bytes count against (the
//! user's, a virtual folder's, or both), whether a write may start, and how far it may
//! grow. The counters themselves live in [`crate::usage`].

use super::Connection;
use super::storage::Mount;
use crate::store::Kind;
use crate::usage::{Charge, Reservation, TrackQuota};
use crate::{Error, ErrorKind, Result};

/// The limits that apply to one place: bytes and files, 0 (or less) unlimited.
struct Limits<'a> {
    size: i64,
    files: i64,
    kind: Kind,
    key: &'a str,
}

impl Connection {
    fn user_restricted(&self) -> bool {
        self.user.quota_size > 0 || self.user.quota_files > 0
    }

    /// The limits writes under `mount` (or the home) must respect.
    fn limits<'a>(&'a self, mount: Option<&'a Mount>) -> Limits<'a> {
        match mount {
            Some(m) if !m.in_user_quota() => Limits {
                size: m.quota_size(),
                files: m.quota_files(),
                kind: Kind::Folder,
                key: m.folder(),
            },
            _ => Limits {
                size: self.user.quota_size,
                files: i64::from(self.user.quota_files),
                kind: Kind::User,
                key: &self.user.username,
            },
        }
    }

    /// The counters a change under `mount` (or the home) is charged to: the folder's
    /// and, for a folder counted in the user's quota (or the home), the user's.
    pub(super) fn charge(&self, mount: Option<&Mount>) -> Option<Charge> {
        let tracker = self.quota.as_ref()?;
        let all = match tracker.mode() {
            TrackQuota::Off => return None,
            TrackQuota::All => true,
            TrackQuota::Restricted => false,
        };
        let user = (Kind::User, self.user.username.clone());
        let targets = match mount {
            None => (all || self.user_restricted())
                .then_some(vec![user])
                .unwrap_or_default(),
            Some(m) if m.in_user_quota() => {
                if all || self.user_restricted() {
                    vec![(Kind::Folder, m.folder().to_string()), user]
                } else {
                    Vec::new()
                }
            }
            Some(m) => {
                if all || m.quota_size() > 0 || m.quota_files() > 0 {
                    vec![(Kind::Folder, m.folder().to_string())]
                } else {
                    Vec::new()
                }
            }
        };
        Charge::new(tracker.clone(), targets)
    }

    /// Bytes a write under `mount` may still add (`None`: no limit). Refuses the
    /// write when the size quota is used up, or when `new_file` would pass the files
    /// quota.
    pub(super) async fn quota_room(
        &self,
        mount: Option<&Mount>,
        new_file: bool,
    ) -> Result<Option<u64>> {
        Ok(self.upload_room(mount, new_file).await?.0)
    }

    /// [`Self::quota_room`] for an upload, with the reservation that counts its file
    /// and its bytes against every other write while it runs (`None` without limits).
    pub(super) async fn upload_room(
        &self,
        mount: Option<&Mount>,
        new_file: bool,
    ) -> Result<(Option<u64>, Option<Reservation>)> {
        let Some(tracker) = &self.quota else {
            return Ok((None, None));
        };
        if tracker.mode() == TrackQuota::Off {
            return Ok((None, None));
        }
        let l = self.limits(mount);
        let check_files = new_file && l.files > 0;
        if l.size <= 0 && !check_files {
            return Ok((None, None));
        }
        let (used_size, used_files) = tracker.usage(l.kind, l.key).await?;
        if check_files && used_files >= l.files {
            return Err(quota_exceeded("the files quota is used up"));
        }
        if l.size > 0 && used_size >= l.size {
            return Err(quota_exceeded("the size quota is used up"));
        }
        let reservation = tracker.reserve(l.kind, l.key, i64::from(check_files), l.size);
        let room = (l.size > 0).then(|| u64::try_from(l.size - used_size).unwrap_or(0));
        Ok((room, Some(reservation)))
    }
}

/// A quota error as front-ends report it.
pub(super) fn quota_exceeded(detail: &str) -> Error {
    Error::new(
        ErrorKind::QuotaExceeded,
        format!("quota exceeded: {detail}"),
    )
}
