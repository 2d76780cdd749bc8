//! The event log: `event_page` (a keyset page and its exact count from one snapshot) and
//! `event`; the keyset `SELECT` they share with the export (`export/`).

use engagement_core::{
    Event, EventFilter, EventId, EventKey, EventPage, EventPageQuery, WorkspaceId,
};

use super::rollup::{Split, push_days};
use super::{Engine, bigint, count};
use crate::dialect::{Dialect, ReadRow, begin};
use crate::encode::{EVENT_COLUMNS, event_from_row};
use crate::error::{SqlError, SqlResult};
use crate::filter::{push_event_conditions, push_event_filter};
use crate::sql::Sql;

/// Which way a keyset page runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Direction {
    /// Newest first (the log).
    Older,
    /// Oldest first (the export).
    Newer,
}

impl<D: Dialect> Engine<D> {
    /// Appends a `SELECT` of the events after `after` in `direction`, at most `limit`.
    pub(super) fn push_keyset(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        filter: &EventFilter,
        after: Option<&EventKey>,
        direction: Direction,
        limit: u64,
    ) {
        let (cmp, cmp_or_equal, order) = match direction {
            Direction::Older => (" < ", " <= ", " DESC"),
            Direction::Newer => (" > ", " >= ", " ASC"),
        };
        sql.push("SELECT ")
            .push(EVENT_COLUMNS)
            .push(" FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_event_filter::<D>(sql, workspace, filter);
        if let Some(key) = after {
            // `(occurred_at, id) <cmp> key`, written with a plain bound on `occurred_at` first
            // so that every engine seeks the index to the key instead of scanning from the
            // window's edge (which made each export chunk cost as much as all before it).
            sql.push(" AND occurred_at")
                .push(cmp_or_equal)
                .bind(key.at.as_micros())
                .push(" AND (occurred_at")
                .push(cmp)
                .bind(key.at.as_micros())
                .push(" OR id")
                .push(cmp)
                .bind(key.id.as_str())
                .push(")");
        }
        sql.push(" ORDER BY occurred_at")
            .push(order)
            .push(", id")
            .push(order)
            .push(" LIMIT ")
            .bind(bigint(limit));
    }

    pub(crate) async fn event_page(
        &self,
        workspace: &WorkspaceId,
        query: &EventPageQuery,
    ) -> SqlResult<EventPage> {
        let mut page = D::sql();
        self.push_keyset(
            &mut page,
            workspace,
            &query.filter,
            query.after.as_ref(),
            Direction::Older,
            query.limit as u64,
        );
        let mut tx = begin::<D>(&self.pool, D::BEGIN_READ).await?;
        let rows = D::fetch_all(&mut tx, page, "read a page of the event log").await?;
        let total = match whole_log(query, rows.len()) {
            Some(total) => total,
            None => {
                let mut total = 0;
                for part in self.total_parts(workspace, &query.filter) {
                    let counted = D::fetch_all(&mut tx, part, "count the event log").await?;
                    if let Some(row) = counted.first() {
                        total += count(row.int(0)?)?;
                    }
                }
                total
            }
        };
        tx.commit()
            .await
            .map_err(SqlError::driver("end the event log snapshot"))?;
        Ok(EventPage {
            events: rows
                .iter()
                .map(|row| event_from_row(row, 0))
                .collect::<SqlResult<_>>()?,
            total,
        })
    }

    /// Statements whose counts add up to the number of events `filter` matches. A filter on
    /// names, actors and a domain only takes the window's whole UTC days from the log counts (a
    /// few rows a day instead of every event) and counts the events of its partial edges;
    /// any other filter counts the events of the whole window.
    fn total_parts(&self, workspace: &WorkspaceId, filter: &EventFilter) -> Vec<Sql> {
        // Every field named, so that a new one must be placed on one side or the other.
        let EventFilter {
            window: _,
            names: _,
            actors: _,
            domain: _,
            customers,
            ip,
            path,
            referrer,
        } = filter;
        let by_day = customers.is_none() && ip.is_none() && path.is_none() && referrer.is_none();
        let split = Split::new(filter.window);
        let (days, edges) = match split.days {
            Some(days) if by_day => (Some(days), split.edges),
            _ => (None, vec![filter.window]),
        };
        let mut parts = Vec::with_capacity(edges.len() + 1);
        if let Some(days) = days {
            let mut sql = D::sql();
            let sum = D::int("COALESCE(SUM(n), 0)");
            push_days(&mut sql, &sum, &self.tables.log_counts, workspace, days);
            push_event_conditions::<D>(&mut sql, filter);
            parts.push(sql);
        }
        for window in edges {
            let edge = EventFilter {
                window,
                ..filter.clone()
            };
            let mut sql = D::sql();
            sql.push("SELECT COUNT(*) FROM ")
                .push(&self.tables.events)
                .push(" WHERE ");
            push_event_filter::<D>(&mut sql, workspace, &edge);
            parts.push(sql);
        }
        parts
    }

    pub(crate) async fn event(
        &self,
        workspace: &WorkspaceId,
        id: &EventId,
    ) -> SqlResult<Option<Event>> {
        let mut sql = D::sql();
        sql.push("SELECT ")
            .push(EVENT_COLUMNS)
            .push(" FROM ")
            .push(&self.tables.events)
            .push(" WHERE workspace = ")
            .bind(workspace.as_str())
            .push(" AND id = ")
            .bind(id.as_str());
        let mut conn = self.acquire().await?;
        let rows = D::fetch_alone(&mut conn, sql, "read an event").await?;
        rows.first().map(|row| event_from_row(row, 0)).transpose()
    }
}

/// The exact total of a log page when the page itself holds every event its filter matches: a
/// first page (no key to resume after) shorter than its limit. Its count, read in the same
/// snapshot, could only say the same, and for a filter the indexes do not narrow (an IP, a path,
/// a referrer) it would read the whole window again (at 10M events, ~1.5 s of the ~3 s such a
/// page took: docs/scaling.md).
fn whole_log(query: &EventPageQuery, rows: usize) -> Option<u64> {
    (query.after.is_none() && rows < query.limit).then_some(rows as u64)
}

#[cfg(test)]
mod tests {
    use engagement_core::{EventFilter, EventKey, EventPageQuery, TimeWindow, Timestamp};

    use super::whole_log;

    fn query(limit: usize, after: Option<EventKey>) -> EventPageQuery {
        let window = TimeWindow::new(Timestamp::EPOCH, Timestamp::from_micros(10)).unwrap();
        EventPageQuery {
            filter: EventFilter::new(window),
            after,
            limit,
        }
    }

    #[test]
    fn only_a_short_first_page_is_its_own_total() {
        assert_eq!(whole_log(&query(50, None), 7), Some(7));
        assert_eq!(whole_log(&query(50, None), 0), Some(0));
        // A full page may have more after it.
        assert_eq!(whole_log(&query(50, None), 50), None);
        // A later page does not hold the events before its key.
        let key = EventKey {
            at: Timestamp::from_micros(5),
            id: "e5".into(),
        };
        assert_eq!(whole_log(&query(50, Some(key)), 7), None);
    }
}
