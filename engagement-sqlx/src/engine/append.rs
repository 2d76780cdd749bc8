//! `append`: batched, idempotent, all-or-nothing.
//!
//! The first occurrence of each id is inserted with the dialect's insert-ignore, in chunks under
//! the bind limit, inside one write transaction. When every id was new and none repeats, that is
//! the whole answer. Otherwise the rows now stored under the batch's ids are read back (inside the
//! same transaction) and every event of the batch is compared with the row that was kept:
//! a different payload is a conflict, the same payload is either the one inserted or a duplicate.

use std::collections::HashMap;

use engagement_core::{AppendOutcome, Event, WorkspaceId};

use super::Engine;
use crate::chunk::{chunk_len, rows_per_statement};
use crate::dialect::{Conn, Dialect, begin};
use crate::encode::EVENT_BINDS;
use crate::encode::{EVENT_COLUMNS, EVENT_INSERT_COLUMNS, event_args, event_from_row};
use crate::error::{SqlError, SqlResult};
use crate::sql::Arg;

/// The most bytes of values one insert carries (under MySQL's default `max_allowed_packet`).
const MAX_INSERT_BYTES: usize = 4 << 20;

impl<D: Dialect> Engine<D> {
    pub(crate) async fn append(
        &self,
        workspace: &WorkspaceId,
        events: &[Event],
    ) -> SqlResult<AppendOutcome> {
        if events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        let mut first: HashMap<&str, &Event> = HashMap::with_capacity(events.len());
        let mut distinct = Vec::with_capacity(events.len());
        for e in events {
            first.entry(e.id.as_str()).or_insert_with(|| {
                distinct.push(e);
                e
            });
        }

        let mut rows = distinct
            .iter()
            .map(|e| event_args(e))
            .collect::<SqlResult<Vec<_>>>()?;

        let mut tx = begin::<D>(&self.pool, D::BEGIN_WRITE).await?;
        let mut inserted = 0_u64;
        while !rows.is_empty() {
            let take = chunk_len(&rows, D::EVENTS_PER_INSERT, MAX_INSERT_BYTES, row_bytes);
            let chunk: Vec<_> = rows.drain(..take).collect();
            let attempted = chunk.len() as u64;
            let mut sql = D::sql();
            D::insert_ignoring(&mut sql, &self.tables.events, EVENT_INSERT_COLUMNS);
            D::push_event_rows(&mut sql, workspace, chunk);
            D::end_insert_ignoring(&mut sql);
            if take < D::EVENTS_PER_INSERT {
                // Full-size chunks repeat in large batches and stay prepared; the rest do not.
                sql.one_off();
            }
            let n = D::execute(&mut tx, sql, "append events").await?;
            D::check_insert_ignored(&mut tx, attempted - n.min(attempted)).await?;
            inserted += n;
        }

        let outcome = if inserted == distinct.len() as u64 {
            // Every first occurrence is what is stored now.
            classify(events, inserted, |id| first.get(id).copied())
        } else {
            let ids: Vec<&str> = distinct.iter().map(|e| e.id.as_str()).collect();
            let stored = self.stored(&mut tx, workspace, &ids).await?;
            classify(events, inserted, |id| stored.get(id))
        };
        tx.commit()
            .await
            .map_err(SqlError::driver("commit the append"))?;
        Ok(outcome)
    }

    /// The stored events among `ids`, by id.
    async fn stored(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        ids: &[&str],
    ) -> SqlResult<HashMap<String, Event>> {
        let mut stored = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(rows_per_statement(D::MAX_BINDS, 1, 1)) {
            let mut sql = D::sql();
            sql.push("SELECT ")
                .push(EVENT_COLUMNS)
                .push(" FROM ")
                .push(&self.tables.events)
                .push(" WHERE workspace = ")
                .bind(workspace.as_str())
                .push(" AND id IN ")
                .bind_list(chunk.iter().copied())
                .one_off();
            for row in D::fetch_all(conn, sql, "read stored events").await? {
                let event = event_from_row(&row, 0)?;
                stored.insert(event.id.as_str().to_owned(), event);
            }
        }
        Ok(stored)
    }
}

/// The approximate size of one row's values.
fn row_bytes(row: &[Arg; EVENT_BINDS - 1]) -> usize {
    row.iter().map(Arg::approx_bytes).sum()
}

/// Compares every event of the batch with the one kept under its id: `inserted` of those with
/// the same payload are the ones this append stored, the rest are duplicates.
fn classify<'a>(
    events: &[Event],
    inserted: u64,
    kept: impl Fn(&str) -> Option<&'a Event>,
) -> AppendOutcome {
    let mut same = 0_u64;
    let mut conflicts = Vec::new();
    for e in events {
        match kept(e.id.as_str()) {
            Some(k) if !k.same_payload(e) => conflicts.push(e.id.clone()),
            // A row that vanished after the insert (a concurrent purge) was stored by nobody
            // else, so the event counts with the ones that match.
            _ => same += 1,
        }
    }
    AppendOutcome {
        inserted,
        duplicates: same.saturating_sub(inserted),
        conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engagement_core::{CustomerId, EventId, Timestamp};

    fn event(id: &str, path: &str) -> Event {
        let mut e = Event::new(id, CustomerId(1), "X", Timestamp::from_micros(1));
        e.page.path = path.into();
        e
    }

    #[test]
    fn classification_compares_with_the_kept_row() {
        let stored = HashMap::from([
            ("a".to_owned(), event("a", "/a")),
            ("b".to_owned(), event("b", "/b")),
            ("c".to_owned(), event("c", "/c")),
        ]);
        // "a" was stored before with the same payload, "b" before with another one, "c" is new
        // (inserted now) and repeated once the same and once differently.
        let batch = [
            event("a", "/a"),
            event("b", "/other"),
            event("c", "/c"),
            event("c", "/c"),
            event("c", "/x"),
        ];
        let outcome = classify(&batch, 1, |id| stored.get(id));
        assert_eq!(outcome.inserted, 1);
        assert_eq!(outcome.duplicates, 2);
        assert_eq!(outcome.conflicts, [EventId::from("b"), EventId::from("c")]);
    }
}
