//! Retention: how long a workspace keeps its events, and the purge that enforces it.
//!
//! The rule is calendar-based in the workspace's zone: "keep 13 months" keeps every event at or
//! after local midnight of the same date 13 months ago and deletes everything strictly before.
//! The deleting is done by [`EventStore::purge`], which works in bounded chunks.
//!
//! These functions are operations, not reports: they check no [`Viewer`](crate::Viewer) and
//! take `now` as given. A host exposes them only to its own administrators (a scheduled job,
//! an admin-only erasure endpoint) and passes the clock's `now`; a dry run first shows what a
//! run would delete.
//!
//! ```
//! use engagement_core::retention::{self, RetentionPolicy};
//! use engagement_core::{
//!     CustomerId, Event, EventStore, PurgeMode, ReferenceStore, WorkspaceId, names,
//! };
//!
//! # futures::executor::block_on(async {
//! let store = ReferenceStore::default();
//! let ws = WorkspaceId::new("acme")?;
//! let old = Event::new("old", CustomerId(1), names::PAGE_VIEWED, "2025-01-01T00:00:00Z".parse()?);
//! let new = Event::new("new", CustomerId(1), names::PAGE_VIEWED, "2026-11-01T00:00:00Z".parse()?);
//! store.append(&ws, &[old, new]).await?;
//!
//! let policy = RetentionPolicy::months(13);
//! let now = "2026-11-20T12:00:00Z".parse()?;
//! let preview = retention::enforce(&store, &ws, &policy, now, PurgeMode::DryRun).await?;
//! assert_eq!((preview.removed.events, preview.dry_run), (1, true));
//! let done = retention::enforce(&store, &ws, &policy, now, PurgeMode::Delete).await?;
//! assert_eq!(done.cutoff, Some("2025-10-20T00:00:00Z".parse()?));
//! assert!(store.event(&ws, &"old".into()).await?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{Days, Months};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ids::{CustomerId, WorkspaceId};
use crate::store::EventStore;
use crate::store::query::{PurgeMode, PurgeOutcome, PurgeScope};
use crate::time::{ReportZone, Timestamp};

/// How much history to keep, counted in local calendar units.
///
/// ```
/// use engagement_core::retention::RetentionPolicy;
///
/// let now = "2026-11-20T12:00:00Z".parse()?;
/// let cutoff = |policy: RetentionPolicy| policy.cutoff(now).map(|c| c.to_string());
/// assert_eq!(cutoff(RetentionPolicy::months(13))?, "2025-10-20T00:00:00.000000Z");
/// assert_eq!(cutoff(RetentionPolicy::days(2))?, "2026-11-18T00:00:00.000000Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Keep {
    /// Whole calendar months before today, at least one, and today (a month back from the
    /// 31st is the last day of the shorter month): on 2026-11-20, `Months(13)` keeps from
    /// 2025-10-20 on.
    Months(u32),
    /// Whole local days before today, at least one, and today so far: on 2026-11-20 at noon,
    /// `Days(2)` keeps from 2026-11-18 at midnight on (60 hours then), not the last 48 hours.
    Days(u32),
}

/// A workspace's retention rule: how much to keep, read in the workspace's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// How much history is kept.
    pub keep: Keep,
    /// The zone whose local midnight the cutoff falls on.
    pub zone: ReportZone,
}

impl RetentionPolicy {
    /// Keep `months` calendar months, in UTC.
    #[must_use]
    pub fn months(months: u32) -> Self {
        Self {
            keep: Keep::Months(months),
            zone: ReportZone::utc(),
        }
    }

    /// Keep `days` local days, in UTC.
    #[must_use]
    pub fn days(days: u32) -> Self {
        Self {
            keep: Keep::Days(days),
            zone: ReportZone::utc(),
        }
    }

    /// The same policy read in the workspace's zone.
    #[must_use]
    pub fn in_zone(self, zone: ReportZone) -> Self {
        Self { zone, ..self }
    }

    /// The first instant kept: local midnight of today's date moved back by the policy.
    /// Events strictly before it are removed.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a policy keeping nothing (zero months or days: more likely a
    /// missing setting than a wish to delete all history but today's) or reaching before the
    /// calendar's start.
    pub fn cutoff(&self, now: Timestamp) -> Result<Timestamp> {
        if matches!(self.keep, Keep::Months(0) | Keep::Days(0)) {
            return Err(Error::invalid_config(
                "keep",
                "a retention policy must keep at least one day or month",
            ));
        }
        let today = self.zone.date_of(now);
        let first_kept = match self.keep {
            Keep::Months(n) => today.checked_sub_months(Months::new(n)),
            Keep::Days(n) => today.checked_sub_days(Days::new(u64::from(n))),
        }
        .ok_or_else(|| {
            Error::invalid_config(
                "keep",
                format!("{:?} reaches before the calendar", self.keep),
            )
        })?;
        Ok(self.zone.day_start(first_kept))
    }
}

/// What a retention run or an erasure removed (or, on a dry run, would remove).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Events before this instant were removed; `None` for an erasure.
    pub cutoff: Option<Timestamp>,
    /// The erased customer, for an erasure.
    pub customer: Option<CustomerId>,
    /// Whether nothing was deleted, only counted.
    pub dry_run: bool,
    /// What the store removed.
    pub removed: PurgeOutcome,
}

/// Deletes every event of the workspace strictly before the policy's cutoff at `now`, in the
/// store's bounded chunks; with [`PurgeMode::DryRun`], only counts them.
///
/// # Errors
/// [`Error::InvalidConfig`] for a policy keeping nothing or reaching before the calendar (then
/// nothing is deleted); a store failure (chunks
/// already deleted stay deleted, and a rerun reaches the same state).
pub async fn enforce(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    policy: &RetentionPolicy,
    now: Timestamp,
    mode: PurgeMode,
) -> Result<RetentionReport> {
    let cutoff = policy.cutoff(now)?;
    let removed = store
        .purge(workspace, PurgeScope::Before { cutoff }, mode)
        .await?;
    Ok(RetentionReport {
        cutoff: Some(cutoff),
        customer: None,
        dry_run: mode.is_dry_run(),
        removed,
    })
}

/// Removes every event (of any actor) and the record of one customer (an erasure request); with
/// [`PurgeMode::DryRun`], only counts them. A customer the workspace holds nothing of is not an error: the
/// report counts nothing, so a repeated request succeeds.
///
/// Only what is stored is erased: the customer's events still queued in an
/// [`Ingestor`](crate::Ingestor) are written after it. Stop sending them and
/// [`flush`](crate::Ingestor::flush) the ingestor first.
///
/// # Errors
/// A store failure.
pub async fn erase_customer(
    store: &dyn EventStore,
    workspace: &WorkspaceId,
    customer: CustomerId,
    mode: PurgeMode,
) -> Result<RetentionReport> {
    let removed = store
        .purge(workspace, PurgeScope::Customer { customer }, mode)
        .await?;
    Ok(RetentionReport {
        cutoff: None,
        customer: Some(customer),
        dry_run: mode.is_dry_run(),
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_cutoff_is_local_midnight_of_the_same_date_months_back() {
        let now = at("2026-11-20T12:00:00Z");
        assert_eq!(
            RetentionPolicy::months(13).cutoff(now).unwrap(),
            at("2025-10-20T00:00:00Z")
        );
        let berlin = ReportZone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            RetentionPolicy::months(13)
                .in_zone(berlin)
                .cutoff(now)
                .unwrap(),
            at("2025-10-19T22:00:00Z"),
            "Berlin midnight on 2025-10-20 is CEST (UTC+2)"
        );
        // 20:00 UTC on the 20th is already the 21st in Tokyo.
        let tokyo = ReportZone::parse("Asia/Tokyo").unwrap();
        assert_eq!(
            RetentionPolicy::days(1)
                .in_zone(tokyo)
                .cutoff(at("2026-11-20T20:00:00Z"))
                .unwrap(),
            at("2026-11-19T15:00:00Z"),
            "21 November in Tokyo, so the 20th (Tokyo) is kept"
        );
    }

    #[test]
    fn a_month_back_from_the_31st_is_the_end_of_the_shorter_month() {
        let now = at("2026-03-31T08:00:00Z");
        assert_eq!(
            RetentionPolicy::months(1).cutoff(now).unwrap(),
            at("2026-02-28T00:00:00Z")
        );
    }

    #[test]
    fn a_policy_before_the_calendar_is_refused() {
        let err = RetentionPolicy::months(u32::MAX).cutoff(at("2026-03-31T08:00:00Z"));
        assert!(matches!(
            err,
            Err(Error::InvalidConfig {
                setting: "keep",
                ..
            })
        ));
    }
}
