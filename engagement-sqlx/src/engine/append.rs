//! `append`: batched, idempotent, all-or-nothing.
//!
//! The first occurrence of each id is inserted with the dialect's insert-ignore, in chunks under
//! the bind limit, inside one write transaction; each dialect's [`Inserted`] way (`RETURNING
//! id`, the row count and `seq` under SQLite's lock, or MySQL's read of the existing ids before
//! the insert) says which rows this append stored, and exactly those are added to the daily
//! rollup in the same transaction. When every id was new and none repeats,
//! that is the whole answer. Otherwise the rows now stored under the batch's ids are read back (inside the
//! same transaction) and every event of the batch is compared with the row that was kept:
//! a different payload is a conflict, the same payload is either the one inserted or a duplicate.

use std::collections::{HashMap, HashSet};

use engagement_core::{AppendOutcome, Event, WorkspaceId};

use super::Engine;
use crate::chunk::{chunk_len, rows_per_statement};
use crate::dialect::{Conn, Dialect, Inserted, ReadRow};
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

        // Consumed from the front a statement at a time (an iterator: draining the front of
        // a vector moved all the rows behind it, every statement, 7 % of a load's time).
        let mut rows = distinct
            .iter()
            .map(|e| Ok((*e, event_args(e)?)))
            .collect::<SqlResult<Vec<_>>>()?
            .into_iter();

        let (turn, mut tx) = self.begin_write().await?;
        let mut last_seq = match D::INSERTED {
            Inserted::Sequenced => self.last_seq(&mut tx).await?,
            Inserted::Returned | Inserted::ReadFirst => 0,
        };
        let mut inserted: Vec<&Event> = Vec::with_capacity(distinct.len());
        while !rows.as_slice().is_empty() {
            let fit = chunk_len(
                rows.as_slice(),
                D::EVENTS_PER_INSERT,
                MAX_INSERT_BYTES,
                |(_, r)| row_bytes(r),
            );
            let take = D::statement_rows(fit, D::EVENTS_PER_INSERT);
            let mut chunk: Vec<_> = rows.by_ref().take(take).collect();
            if D::INSERTED == Inserted::ReadFirst {
                let existing = self.existing_ids(&mut tx, workspace, &chunk).await?;
                chunk.retain(|(e, _)| !existing.contains(e.id.as_str()));
                if chunk.is_empty() {
                    continue;
                }
            }
            let events: Vec<&Event> = chunk.iter().map(|(e, _)| *e).collect();
            let attempted = events.len() as u64;
            let mut sql = D::sql();
            D::insert_ignoring(&mut sql, &self.tables.events, EVENT_INSERT_COLUMNS);
            D::push_rows(
                &mut sql,
                workspace,
                chunk.into_iter().map(|(_, r)| r).collect(),
            );
            D::end_insert_ignoring(&mut sql);
            match D::INSERTED {
                Inserted::Returned => {
                    sql.push(" RETURNING id");
                    let returned = D::fetch_all(&mut tx, sql, "append events").await?;
                    let ids = (returned.len() as u64 != attempted)
                        .then(|| returned.iter().map(|row| row.text(0)).collect())
                        .transpose()?;
                    keep_inserted(&mut inserted, events, ids);
                }
                Inserted::Sequenced => {
                    let n = D::execute(&mut tx, sql, "append events").await?;
                    let ids = if n == attempted {
                        None
                    } else {
                        Some(self.ids_after(&mut tx, last_seq).await?)
                    };
                    last_seq += n as i64;
                    keep_inserted(&mut inserted, events, ids);
                }
                Inserted::ReadFirst => {
                    let n = D::execute(&mut tx, sql, "append events").await?;
                    let taken = attempted - n.min(attempted);
                    D::check_insert_ignored(&mut tx, taken).await?;
                    if taken > 0 {
                        // Which of them is unknown, so neither is the rollup's delta: give up
                        // (the transaction rolls back) and let the caller retry.
                        return Err(SqlError::ConcurrentAppend { taken });
                    }
                    inserted.extend(events);
                }
            }
        }
        let count = inserted.len() as u64;
        let outcome = if count == distinct.len() as u64 {
            // Every first occurrence is what is stored now.
            classify(events, count, |id| first.get(id).copied())
        } else {
            let ids: Vec<&str> = distinct.iter().map(|e| e.id.as_str()).collect();
            let stored = self.stored(&mut tx, workspace, &ids).await?;
            // The insert skipped an id as stored, and a purge has deleted its event since:
            // told "stored", the caller would lose it, and the rest of the batch would outlive
            // the purge that took it. Nothing is written; a retry stores it again.
            let vanished = ids.len().saturating_sub(stored.len()) as u64;
            if vanished > 0 {
                return Err(SqlError::ConcurrentPurge { vanished });
            }
            classify(events, count, |id| stored.get(id))
        };
        // Last before the commit: the rollup rows stay locked as briefly as possible.
        self.roll_up(&mut tx, workspace, &inserted).await?;
        self.commit_write(turn, tx, count, "commit the append")
            .await?;
        Ok(outcome)
    }

    /// The largest `seq` of the events table (0 when empty).
    async fn last_seq(&self, conn: &mut Conn<D>) -> SqlResult<i64> {
        let mut sql = D::sql();
        sql.push("SELECT COALESCE(MAX(seq), 0) FROM ")
            .push(&self.tables.events);
        let rows = D::fetch_all(conn, sql, "read the last event seq").await?;
        rows.first().map_or(Ok(0), |row| row.int(0))
    }

    /// The ids of the events stored after `seq` (by this transaction, which holds the lock).
    async fn ids_after(&self, conn: &mut Conn<D>, seq: i64) -> SqlResult<HashSet<String>> {
        let mut sql = D::sql();
        sql.push("SELECT id FROM ")
            .push(&self.tables.events)
            .push(" WHERE seq > ")
            .bind(seq)
            .one_off();
        D::fetch_all(conn, sql, "read the stored ids")
            .await?
            .iter()
            .map(|row| row.text(0))
            .collect()
    }

    /// The ids among the chunk's that the workspace holds (read without locks: next-key locks
    /// on absent keys deadlock concurrent appends, so a race is detected after the insert).
    async fn existing_ids(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        chunk: &[(&Event, [Arg; EVENT_BINDS - 1])],
    ) -> SqlResult<HashSet<String>> {
        let mut existing = HashSet::new();
        for part in chunk.chunks(rows_per_statement(D::MAX_BINDS, 1, 1)) {
            let mut sql = D::sql();
            sql.push("SELECT id FROM ")
                .push(&self.tables.events)
                .push(" WHERE workspace = ")
                .bind(workspace.as_str())
                .push(" AND id IN ")
                .bind_list(part.iter().map(|(e, _)| e.id.as_str()))
                .one_off();
            for row in D::fetch_all(conn, sql, "read existing ids").await? {
                existing.insert(row.text(0)?);
            }
        }
        Ok(existing)
    }

    /// The stored events among `ids`, by id, kept from being deleted until the transaction
    /// ends ([`Dialect::SHARED_LOCKING_READ`]).
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
                .push(D::SHARED_LOCKING_READ)
                .one_off();
            for row in D::fetch_all(conn, sql, "read stored events").await? {
                let event = event_from_row(&row, 0)?;
                stored.insert(event.id.as_str().to_owned(), event);
            }
        }
        Ok(stored)
    }
}

/// Adds to `inserted` those of a chunk's `events` the insert stored: all of them, or those
/// among `ids` when the insert skipped some.
fn keep_inserted<'a>(
    inserted: &mut Vec<&'a Event>,
    events: Vec<&'a Event>,
    ids: Option<HashSet<String>>,
) {
    match ids {
        None => inserted.extend(events),
        Some(ids) => inserted.extend(events.into_iter().filter(|e| ids.contains(e.id.as_str()))),
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
            // The kept event is often this very one (its batch's first occurrence): no need
            // to compare it with itself field by field.
            Some(k) if !std::ptr::eq(k, e) && !k.same_payload(e) => conflicts.push(e.id.clone()),
            // `kept` has every id (`append` checks that none vanished).
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
