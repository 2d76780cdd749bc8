//! Keeping the rollup, the totals and the log counts exact: what an append adds and a purge
//! takes off, in the transaction that changes the events.

use std::collections::BTreeMap;

use engagement_core::{Actor, Event, WorkspaceId};

use super::{DAY, day_of};
use crate::chunk::rows_per_statement;
use crate::dialect::{
    Conn, Dialect, ReadRow, push_keyed_delete, push_keyed_select, push_keyed_update,
};
use crate::encode::actor_code;
use crate::engine::Engine;
use crate::error::SqlResult;
use crate::sql::{Arg, Keys, Sql};

/// Bound arguments per rollup row besides the workspace.
const ROLLUP_BINDS: usize = 5;

/// Bound arguments per log count row besides the workspace.
const LOG_COUNT_BINDS: usize = 5;

/// The key of the log counts.
const LOG_COUNT_KEY: &str = "workspace, day, name, actor, domain";

/// Changes to the event log's counts by (day, name, actor code, domain): one per event stored,
/// minus one per event purged.
pub(crate) type LogDeltas<'a> = BTreeMap<(i64, &'a str, i64, &'a str), i64>;

/// Counts one event at `at` into `deltas` by `by`, if the rollup covers its day.
pub(crate) fn count_in_log<'a>(
    deltas: &mut LogDeltas<'a>,
    at: i64,
    (name, actor, domain): (&'a str, i64, &'a str),
    by: i64,
) {
    if let Some(day) = day_of(at) {
        *deltas.entry((day, name, actor, domain)).or_default() += by;
    }
}

/// Changes to the daily rollup by (customer, day, name): one per counted event stored, minus
/// one per counted event purged, and the latest instant among those events.
pub(crate) type RollupDeltas<'a> = BTreeMap<(i64, i64, &'a str), (i64, i64)>;

/// Counts one counted event (of `customer`, at `at`, named `name`) into `deltas` by `by`, if the
/// rollup covers its day.
pub(crate) fn count_in_rollup<'a>(
    deltas: &mut RollupDeltas<'a>,
    (customer, at, name): (i64, i64, &'a str),
    by: i64,
) {
    if let Some(day) = day_of(at) {
        let cell = deltas.entry((customer, day, name)).or_insert((0, at));
        cell.0 += by;
        cell.1 = cell.1.max(at);
    }
}

impl<D: Dialect> Engine<D> {
    /// Adds the counted events among `inserted` (all newly stored) to the rollup and to the
    /// customers' totals, and all of them to the event log's counts.
    ///
    /// The rows are upserted in key order (the rollup's (customer, day, name), then the totals'
    /// customer, then the log counts' (day, name, actor, domain); a purge takes the same tables
    /// in the same order), and `append` runs this as the last statements before its commit:
    /// concurrent appends touching the same rows then lock them in the same order and wait for
    /// each other instead of deadlocking, and each holds its row locks only for the moment
    /// between its upserts and its commit.
    pub(crate) async fn roll_up(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        inserted: &[&Event],
    ) -> SqlResult<()> {
        let mut cells = RollupDeltas::new();
        for e in inserted.iter().filter(|e| e.actor == Actor::Customer) {
            let at = e.occurred_at.as_micros();
            count_in_rollup(&mut cells, (e.customer.0, at, e.name.as_str()), 1);
        }
        self.change_rollup(conn, workspace, cells).await?;
        let mut totals: BTreeMap<i64, i64> = BTreeMap::new();
        for e in inserted.iter().filter(|e| e.actor == Actor::Customer) {
            *totals.entry(e.customer.0).or_default() += 1;
        }
        self.change_totals(conn, workspace, totals.into_iter())
            .await?;
        let mut deltas = LogDeltas::new();
        for e in inserted {
            let cell = (e.name.as_str(), actor_code(e.actor), e.page.domain.as_str());
            count_in_log(&mut deltas, e.occurred_at.as_micros(), cell, 1);
        }
        self.change_log_counts(conn, workspace, deltas).await
    }

    /// Adds `deltas` to the rollup (in key order), keeping each row's later `last_at`.
    async fn change_rollup(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        deltas: RollupDeltas<'_>,
    ) -> SqlResult<()> {
        let rows: Vec<[Arg; ROLLUP_BINDS]> = deltas
            .into_iter()
            .map(|((customer, day, name), (n, last))| {
                [
                    customer.into(),
                    day.into(),
                    name.into(),
                    n.into(),
                    last.into(),
                ]
            })
            .collect();
        self.upsert(
            conn,
            workspace,
            &self.tables.daily,
            "customer, day, name, n, last_at",
            rows,
            D::end_rollup_upsert,
        )
        .await
    }

    /// Takes purged events off the rollup, `deltas` holding minus their number (and their
    /// latest instant, which leaves `last_at` as it is) per row they counted in: adds the deltas
    /// as [`Self::roll_up`] does (in key order, locking the rows), then sets the `last_at` of
    /// those whose latest event it may have taken ([`Self::stale_last_at`]: a purge takes the
    /// oldest events first, so nearly none) from the events left, and drops the rows brought
    /// to zero, each in one statement over the rows' keys (the `last_at` one customer-day at a
    /// time where the planner cannot seek a range bounded by the outer row,
    /// [`Dialect::SETTLE_BY_DAY`]).
    ///
    /// Counts are only added to, as appends do, so neither overwrites the other. Only the rows
    /// the purge took from are written, and their `last_at` read once this transaction holds
    /// their locks, in a statement of its own: an append that added to one before has committed
    /// by then, so the read sees its events (PostgreSQL's statement snapshot begins after the
    /// lock; MySQL reads a subquery of an `UPDATE` under lock, the latest rows), and one that
    /// adds after waits and keeps the later `last_at`. Rewriting the customer-day whole from the
    /// events instead (`DELETE`, then `INSERT … SELECT`) also wrote rows that appends created
    /// meanwhile, from a snapshot that could miss one of their events: the insert failed on such
    /// a row (PostgreSQL `23505`), and an upsert setting the recomputed counts would have
    /// overwritten an increment the snapshot missed.
    ///
    /// The statements find each row by its key from a table of the keys, so they lock no row
    /// the upsert did not. They replaced two statements per customer-day, which made a purge
    /// ten times slower than a load (1.6k events/s on PostgreSQL, a day's events spread over
    /// 20,000 customers); setting `last_at` only where the purge may have taken it made
    /// MariaDB's purge, which sets it a customer-day at a time, eight times faster.
    pub(crate) async fn take_from_rollup(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        deltas: RollupDeltas<'_>,
    ) -> SqlResult<()> {
        let latest_taken: BTreeMap<(i64, i64, String), i64> = deltas
            .iter()
            .map(|(&(customer, day, name), &(_, latest))| {
                ((customer, day, name.to_owned()), latest)
            })
            .collect();
        self.change_rollup(conn, workspace, deltas).await?;
        if latest_taken.is_empty() {
            return Ok(());
        }
        let keys = rollup_keys(latest_taken.keys().map(|(c, d, n)| (*c, *d, n)));
        let stale = self
            .stale_last_at(conn, workspace, &keys, &latest_taken)
            .await?;
        if D::SETTLE_BY_DAY {
            for (&(customer, day), names) in &stale {
                let day_keys = rollup_keys(names.iter().map(|name| (customer, day, name)));
                self.settle_last_at(conn, workspace, &day_keys, Some((customer, day)))
                    .await?;
            }
        } else if !stale.is_empty() {
            let stale_keys = rollup_keys(stale.iter().flat_map(|(&(customer, day), names)| {
                names.iter().map(move |name| (customer, day, name))
            }));
            self.settle_last_at(conn, workspace, &stale_keys, None)
                .await?;
        }
        self.drop_emptied(
            conn,
            (&self.tables.daily, workspace),
            &keys,
            "drop emptied rollup rows",
        )
        .await
    }

    /// The rollup rows `keys` names that still count events and whose `last_at` a purge may
    /// have taken away, by customer-day: those whose `last_at` is no later than the latest
    /// event the purge took from them (`latest_taken`). A row's `last_at` is the instant of
    /// its latest event, so when that is later than every event taken, an event at it is left
    /// (or another purge took it, and settles the row itself once it holds the row's lock).
    /// A purge takes the oldest events first, so most rows it leaves counting need nothing.
    ///
    /// The rows are this transaction's own since its upsert, so a plain read sees them as
    /// they now are.
    async fn stale_last_at(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        keys: &Keys,
        latest_taken: &BTreeMap<(i64, i64, String), i64>,
    ) -> SqlResult<BTreeMap<(i64, i64), Vec<String>>> {
        let mut select = D::sql();
        push_keyed_select::<D>(
            &mut select,
            (&self.tables.daily, workspace),
            keys,
            "d.customer, d.day, d.name, d.last_at",
            "d.n > 0",
        );
        let rows =
            D::fetch_all(conn, select, "find rolled-up days whose latest event went").await?;
        let mut stale: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
        for row in &rows {
            let (key, last_at) = ((row.int(0)?, row.int(1)?, row.text(2)?), row.int(3)?);
            // A name that came back otherwise than it was sent is settled, to be safe.
            if latest_taken.get(&key).is_none_or(|&taken| last_at <= taken) {
                let (customer, day, name) = key;
                stale.entry((customer, day)).or_default().push(name);
            }
        }
        Ok(stale)
    }

    /// Sets the `last_at` of the rollup rows `keys` names that still count events from the
    /// events left: each row's from its own customer-day, or, given `customer_day`, from that
    /// one, bounded by constants (every key then of that customer-day; see
    /// [`Dialect::SETTLE_BY_DAY`]).
    async fn settle_last_at(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        keys: &Keys,
        customer_day: Option<(i64, i64)>,
    ) -> SqlResult<()> {
        let mut update = D::sql();
        push_keyed_update::<D>(
            &mut update,
            (&self.tables.daily, workspace),
            keys,
            |sql| {
                sql.push("last_at = (SELECT MAX(e.occurred_at) FROM ")
                    .push(&self.tables.events)
                    .push(" e WHERE e.workspace = ")
                    .bind(workspace.as_str())
                    .push(" AND e.actor = ")
                    .bind(actor_code(Actor::Customer));
                match customer_day {
                    Some((customer, day)) => {
                        sql.push(" AND e.customer = ")
                            .bind(customer)
                            .push(" AND e.occurred_at >= ")
                            .bind(day)
                            .push(" AND e.occurred_at < ")
                            .bind(day + DAY);
                    }
                    None => {
                        sql.push(
                            " AND e.customer = d.customer AND e.occurred_at >= d.day \
                             AND e.occurred_at < d.day + ",
                        )
                        .bind(DAY);
                    }
                }
                sql.push(" AND e.name = d.name)");
            },
            "d.n > 0",
        );
        D::execute(
            conn,
            update,
            "find the latest events left of rolled-up days",
        )
        .await?;
        Ok(())
    }

    /// Adds `deltas` to the event log's counts (in key order, like the rollup), and drops the
    /// counts a purge brought to zero, looking only at the days it subtracted from.
    pub(crate) async fn change_log_counts(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        deltas: LogDeltas<'_>,
    ) -> SqlResult<()> {
        let mut subtracted = deltas
            .iter()
            .filter(|(_, n)| **n < 0)
            .map(|((day, ..), _)| *day);
        // The keys are in day order, so the first and last such day bound them all.
        let emptied = subtracted
            .next()
            .map(|first| (first, subtracted.next_back().unwrap_or(first)));
        let rows: Vec<[Arg; LOG_COUNT_BINDS]> = deltas
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|((day, name, actor, domain), n)| {
                [
                    day.into(),
                    name.into(),
                    actor.into(),
                    domain.into(),
                    n.into(),
                ]
            })
            .collect();
        self.upsert(
            conn,
            workspace,
            &self.tables.log_counts,
            "day, name, actor, domain, n",
            rows,
            |sql, table| D::end_count_upsert(sql, table, LOG_COUNT_KEY),
        )
        .await?;
        if let Some((first, last)) = emptied {
            let mut sql = D::sql();
            sql.push("DELETE FROM ")
                .push(&self.tables.log_counts)
                .push(" WHERE workspace = ")
                .bind(workspace.as_str())
                .push(" AND day >= ")
                .bind(first)
                .push(" AND day <= ")
                .bind(last)
                .push(" AND n = 0");
            D::execute(conn, sql, "drop emptied log counts").await?;
        }
        Ok(())
    }

    /// Inserts `rows` (each the values of `columns` after the workspace) into `table` in
    /// statements under the bind limit, each ended by `end` (the upsert clause).
    async fn upsert<const N: usize>(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        table: &str,
        columns: &str,
        rows: Vec<[Arg; N]>,
        end: impl Fn(&mut Sql, &str),
    ) -> SqlResult<()> {
        let per_statement = D::EVENTS_PER_INSERT.min(rows_per_statement(D::MAX_BINDS, N + 1, 0));
        // From the front through an iterator: draining a vector's front moves the rest.
        let mut rows = rows.into_iter();
        while !rows.as_slice().is_empty() {
            let take = D::statement_rows(rows.len(), per_statement);
            let chunk: Vec<_> = rows.by_ref().take(take).collect();
            let mut sql = D::sql();
            sql.push("INSERT INTO ")
                .push(table)
                .push(" (workspace, ")
                .push(columns)
                .push(") ");
            D::push_rows(&mut sql, workspace, chunk);
            end(&mut sql, table);
            D::execute(conn, sql, "roll up the appended events").await?;
        }
        Ok(())
    }

    /// Takes purged counted events off their customers' totals, `deleted` holding how many per
    /// customer (in customer order, as appends upsert them), and drops the totals brought to
    /// zero: an erased customer leaves no row behind.
    pub(crate) async fn take_from_totals(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        deleted: BTreeMap<i64, i64>,
    ) -> SqlResult<()> {
        let customers: Vec<i64> = deleted.keys().copied().collect();
        self.change_totals(conn, workspace, deleted.into_iter().map(|(c, n)| (c, -n)))
            .await?;
        if customers.is_empty() {
            return Ok(());
        }
        let keys = Keys {
            columns: &["customer"],
            values: vec![Arg::Ints(customers)],
        };
        self.drop_emptied(
            conn,
            (&self.tables.totals, workspace),
            &keys,
            "drop emptied totals",
        )
        .await
    }

    /// Drops the rows of `table` that `keys` name and that a purge brought to zero.
    async fn drop_emptied(
        &self,
        conn: &mut Conn<D>,
        table: (&str, &WorkspaceId),
        keys: &Keys,
        context: &'static str,
    ) -> SqlResult<()> {
        let mut delete = D::sql();
        push_keyed_delete::<D>(&mut delete, table, keys, "d.n = 0");
        D::execute(conn, delete, context).await?;
        Ok(())
    }

    /// Adds `deltas` (customer, change, in customer order) to the customers' totals.
    async fn change_totals(
        &self,
        conn: &mut Conn<D>,
        workspace: &WorkspaceId,
        deltas: impl Iterator<Item = (i64, i64)>,
    ) -> SqlResult<()> {
        let rows: Vec<[Arg; 2]> = deltas
            .map(|(customer, n)| [customer.into(), n.into()])
            .collect();
        self.upsert(
            conn,
            workspace,
            &self.tables.totals,
            "customer, n",
            rows,
            |sql, table| D::end_count_upsert(sql, table, "workspace, customer"),
        )
        .await
    }
}

/// The keys of the rollup rows `rows` (customer, day, name), a column each.
fn rollup_keys<'a>(rows: impl Iterator<Item = (i64, i64, &'a String)>) -> Keys {
    let (mut customers, mut days, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (customer, day, name) in rows {
        customers.push(customer);
        days.push(day);
        names.push(name.clone());
    }
    Keys {
        columns: &["customer", "day", "name"],
        values: vec![Arg::Ints(customers), Arg::Ints(days), Arg::Texts(names)],
    }
}

/// Built on SQLite, the backend every build can run.
#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use engagement_core::Timestamp;

    /// Takes the event `taken` (of `events`, appended first) off the rollup as a purge chunk
    /// does (deleted from the events, then `take_from_rollup`), and gives the `last_at` of the
    /// rollup row it counted in.
    async fn last_at_after_taking(events: &[Event], taken: usize) -> i64 {
        use crate::prefix::TablePrefix;
        use crate::sqlite::SqliteDialect;
        use engagement_core::EventStore;

        let store = crate::SqliteStore::connect("sqlite::memory:")
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let ws = WorkspaceId::new("settle").unwrap();
        store.append(&ws, events).await.unwrap();
        let engine = Engine::<SqliteDialect>::new(store.pool().clone(), TablePrefix::default());
        let (turn, mut tx) = engine.begin_write().await.unwrap();
        let mut delete = SqliteDialect::sql();
        delete
            .push("DELETE FROM ")
            .push(&engine.tables.events)
            .push(" WHERE id = ")
            .bind(events[taken].id.as_str());
        SqliteDialect::execute(&mut tx, delete, "delete")
            .await
            .unwrap();
        let e = &events[taken];
        let mut deltas = RollupDeltas::new();
        count_in_rollup(
            &mut deltas,
            (e.customer.0, e.occurred_at.as_micros(), &e.name),
            -1,
        );
        engine.take_from_rollup(&mut tx, &ws, deltas).await.unwrap();
        engine.commit_write(turn, tx, 1, "commit").await.unwrap();
        let mut read = SqliteDialect::sql();
        read.push("SELECT last_at FROM ").push(&engine.tables.daily);
        let rows =
            SqliteDialect::fetch_all(&mut store.pool().acquire().await.unwrap(), read, "read")
                .await
                .unwrap();
        rows[0].int(0).unwrap()
    }

    /// A purge chunk that takes a rollup row's latest event while an earlier one is left (a
    /// chunk read out of time order, or an earlier event appended while the purge ran) sets
    /// the row's `last_at` from the events left; one that leaves the latest event keeps it.
    #[tokio::test]
    async fn taking_a_rows_latest_event_sets_its_last_at_from_the_events_left() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let events: Vec<Event> = ["2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z"]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut e = Event::new(
                    format!("e{i}"),
                    engagement_core::CustomerId(1),
                    "Page Viewed",
                    at(t),
                );
                e.actor = Actor::Customer;
                e
            })
            .collect();
        let (earlier, later) = (
            events[0].occurred_at.as_micros(),
            events[1].occurred_at.as_micros(),
        );
        assert_eq!(
            last_at_after_taking(&events, 1).await,
            earlier,
            "the latest taken"
        );
        assert_eq!(
            last_at_after_taking(&events, 0).await,
            later,
            "the latest left"
        );
    }
}
