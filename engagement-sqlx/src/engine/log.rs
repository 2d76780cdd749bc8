//! The event log: `event_page` (a keyset page and its exact count from one snapshot) and
//! `event`; the keyset `SELECT` they share with the export (`export/`).

use engagement_core::{
    Event, EventFilter, EventId, EventKey, EventPage, EventPageQuery, TimeWindow, Timestamp,
    WorkspaceId,
};

use super::rollup::{Split, push_days};
use super::{Engine, bigint, count};
use crate::dialect::{Conn, Dialect, ReadRow, begin};
use crate::encode::{EVENT_COLUMNS, event_from_row};
use crate::error::{SqlError, SqlResult};
use crate::filter::{push_event_conditions, push_since, push_until, push_window, push_workspace};
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
        sql.push("SELECT ")
            .push(EVENT_COLUMNS)
            .push(" FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_filter_beyond::<D>(sql, workspace, filter, after, direction);
        let order = match direction {
            Direction::Older => " DESC",
            Direction::Newer => " ASC",
        };
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
        let mut tx = begin::<D>(&self.pool, D::BEGIN_LOG_READ).await?;
        let page = self.event_page_in(&mut tx, workspace, query).await?;
        tx.commit()
            .await
            .map_err(SqlError::driver("end the event log snapshot"))?;
        Ok(page)
    }

    /// [`Self::event_page`] read on `conn`, in the snapshot of the read transaction it is in:
    /// the page, then its total.
    pub(super) async fn event_page_in(
        &self,
        conn: &mut Conn<D>,
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
        let rows = D::fetch_all(conn, page, "read a page of the event log").await?;
        let events: Vec<Event> = rows
            .iter()
            .map(|row| event_from_row(row, 0))
            .collect::<SqlResult<_>>()?;
        let total = match whole_log(query, events.len()) {
            Some(total) => total,
            None => {
                let (mut total, parts) = self.total_parts(workspace, query, &events);
                for part in parts {
                    let counted = D::fetch_all(conn, part, "count the event log").await?;
                    if let Some(row) = counted.first() {
                        total += count(row.int(0)?)?;
                    }
                }
                total
            }
        };
        Ok(EventPage { events, total })
    }

    /// The total of `page`, read for `query` in the same snapshot, as a number known already
    /// and statements whose counts add up to the rest. A filter on names, actors and a domain
    /// only takes the window's whole UTC days from the log counts (a few rows a day instead of
    /// every event) and counts the events of its partial edges. Any other filter counts events:
    /// beside a full first page only those older than its last one (the page holds every match
    /// from there on, having read that part of the window already), else the whole window.
    fn total_parts(
        &self,
        workspace: &WorkspaceId,
        query: &EventPageQuery,
        page: &[Event],
    ) -> (u64, Vec<Sql>) {
        let filter = &query.filter;
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
        if !by_day {
            let Some(last) = first_page_end(query, page) else {
                let mut sql = D::sql();
                self.push_count(&mut sql, workspace, filter, None);
                return (0, vec![sql]);
            };
            // The matches older than the page's last event: those of earlier microseconds,
            // counted over a plain window (no row tested against the key), and those of its
            // own microsecond with a smaller id.
            let within = |from, to| EventFilter {
                window: TimeWindow { from, to }.intersect(&filter.window),
                ..filter.clone()
            };
            let next = Timestamp::from_micros(last.at.as_micros().saturating_add(1));
            let mut earlier = D::sql();
            self.push_count(
                &mut earlier,
                workspace,
                &within(Timestamp::MIN, last.at),
                None,
            );
            let mut same = D::sql();
            self.push_count(&mut same, workspace, &within(last.at, next), Some(&last));
            return (page.len() as u64, vec![earlier, same]);
        }
        let split = Split::new(filter.window);
        let (days, edges) = match split.days {
            Some(days) => (Some(days), split.edges),
            None => (None, vec![filter.window]),
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
            self.push_count(&mut sql, workspace, &edge, None);
            parts.push(sql);
        }
        (0, parts)
    }

    /// Appends a count of the events `filter` matches, only those older than `before` when given.
    fn push_count(
        &self,
        sql: &mut Sql,
        workspace: &WorkspaceId,
        filter: &EventFilter,
        before: Option<&EventKey>,
    ) {
        sql.push("SELECT COUNT(*) FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_filter_beyond::<D>(sql, workspace, filter, before, Direction::Older);
    }

    pub(crate) async fn event(
        &self,
        workspace: &WorkspaceId,
        id: &EventId,
    ) -> SqlResult<Option<Event>> {
        // No stored id holds a control character (`EventId` refuses them); PostgreSQL would
        // refuse a NUL in the bound text instead of finding nothing.
        if id.as_str().chars().any(char::is_control) {
            return Ok(None);
        }
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

/// Appends the conditions of `filter` over unqualified event columns, exactly as
/// [`EventFilter::matches`] defines them (an empty selection matches nothing), and, when a key
/// is given, that of the events beyond it in `direction`.
///
/// Each side of the time range gets one bound: a key inside the window bounds its side in
/// place of the window's edge (which it implies), and a key past the window's far edge is
/// implied by the window and left out. SQLite bounds an index range by the first bound of each
/// side it meets (their values are bound, so unknown when it plans): with the window's edge
/// first, a later page of the log (newest first) read the index from the window's end down to
/// its key (13 days down a 14-day window at 10M events, ~240 ms a page instead of ~12 ms); with
/// both bounds, each row paid for the one not used (docs/scaling.md).
fn push_filter_beyond<D: Dialect>(
    sql: &mut Sql,
    workspace: &WorkspaceId,
    filter: &EventFilter,
    key: Option<&EventKey>,
    direction: Direction,
) {
    push_workspace(sql, workspace);
    let window = filter.window;
    match (key, direction) {
        (Some(key), Direction::Older) if key.at < window.to => {
            push_since(sql, window.from);
            push_beyond(sql, key, direction);
        }
        (Some(key), Direction::Newer) if key.at >= window.from => {
            push_beyond(sql, key, direction);
            push_until(sql, window.to);
        }
        _ => push_window(sql, window),
    }
    push_event_conditions::<D>(sql, filter);
}

/// Appends the condition `(occurred_at, id)` beyond `key` in `direction` (strictly), written
/// with a plain bound on `occurred_at` first so that every engine seeks the index to the key
/// instead of scanning from the window's edge (which made each export chunk cost as much as all
/// before it).
fn push_beyond(sql: &mut Sql, key: &EventKey, direction: Direction) {
    let (cmp, cmp_or_equal) = match direction {
        Direction::Older => (" < ", " <= "),
        Direction::Newer => (" > ", " >= "),
    };
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

/// The key of the last event of a full first log page (no key to resume after, as many events
/// as its limit): the page holds every event its filter matches from that key on, so its total
/// is its length and the matches older than the key.
fn first_page_end(query: &EventPageQuery, page: &[Event]) -> Option<EventKey> {
    if query.after.is_some() || page.len() < query.limit {
        return None;
    }
    page.last().map(Event::key)
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
    use engagement_core::{
        CustomerId, Event, EventFilter, EventKey, EventPageQuery, TimeWindow, Timestamp,
    };

    use super::{first_page_end, whole_log};

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

    /// SQLite bounds an index range by the first bound of each side it meets, so each side
    /// gets one (see `push_filter_beyond`): the key's inside the window, the window's where the
    /// key lies past it.
    #[cfg(feature = "sqlite")]
    #[test]
    fn each_side_of_a_keyed_range_has_one_bound() {
        use engagement_core::WorkspaceId;

        use super::{Direction, push_filter_beyond};
        use crate::dialect::Dialect;
        use crate::sqlite::SqliteDialect;

        let ws = WorkspaceId::new("w").unwrap();
        let filter = query(50, None).filter; // the window [0, 10)
        let key = |at| EventKey {
            at: Timestamp::from_micros(at),
            id: "e".into(),
        };
        let cases = [
            (Direction::Older, key(5), true),
            (Direction::Older, key(0), true),
            (Direction::Older, key(10), false),
            (Direction::Newer, key(5), true),
            (Direction::Newer, key(9), true),
            (Direction::Newer, key(-1), false),
        ];
        for (direction, key, inside) in cases {
            let mut sql = SqliteDialect::sql();
            push_filter_beyond::<SqliteDialect>(&mut sql, &ws, &filter, Some(&key), direction);
            let text = sql.text();
            let plain = text.matches(" AND occurred_at ").count();
            let with_key = text.contains(" OR id");
            assert_eq!(
                (plain, with_key),
                (2, inside),
                "{direction:?} {key:?}: {text}"
            );
        }
    }

    #[test]
    fn only_a_full_first_page_counts_from_its_last_event() {
        let page: Vec<Event> = (0..3)
            .map(|i| {
                Event::new(
                    format!("e{i}"),
                    CustomerId(1),
                    "X",
                    Timestamp::from_micros(9 - i),
                )
            })
            .collect();
        let last = page[2].key();
        assert_eq!(first_page_end(&query(3, None), &page), Some(last.clone()));
        // A short page is its own total; a later page does not hold the matches before its key.
        assert_eq!(first_page_end(&query(4, None), &page), None);
        assert_eq!(first_page_end(&query(3, Some(last)), &page), None);
        // A page of none has no last event: everything is counted.
        assert_eq!(first_page_end(&query(0, None), &[]), None);
    }
}
