//! `export`: every matching event, oldest first, in keyset chunks of [`EXPORT_CHUNK`] events,
//! each a short statement on a pooled connection.
//!
//! A small export reads its one chunk and ends. Once the first chunk comes back full, the rest
//! of the window is cut into [`Slices`] of time, read by several tasks at once while the stream
//! hands the chunks out in order ([`ParallelExport`]). So the database (SQLite runs each
//! connection's statements on a thread of its own, PostgreSQL each in a server process of its
//! own) and the decoding of the rows use every core instead of taking turns with each other
//! and with the consumer. A task holds a connection only while a statement runs and waits with
//! none while the chunks read ahead fill their budget: memory stays bounded whatever the number
//! of events, and a slow consumer holds no connection. Each chunk is read as the dialect reads
//! large results and decoded as it is read ([`Dialect::fetch_events`]: SQLite steps the
//! statement itself, PostgreSQL copies the rows out as text).

mod parallel;
mod slices;

use engagement_core::{EventBatch, EventFilter, EventKey, TimeWindow, Timestamp, WorkspaceId};
use futures::StreamExt;
use futures::stream::{self, BoxStream};

use super::log::Direction;
use super::{Engine, to_the_end};
use crate::dialect::{Dialect, ReadRow};
use crate::error::SqlResult;
use crate::filter::push_scope;
use parallel::ParallelExport;
use slices::Slices;

/// Events per export chunk.
const EXPORT_CHUNK: usize = 10_000;

/// Bytes of text an exported event is expected to hold (a batch's first allocation).
const TEXT_PER_EVENT: usize = 160;

impl<D: Dialect> Engine<D> {
    /// Every matching event, oldest first: see the module documentation.
    pub(crate) fn export(
        self,
        workspace: WorkspaceId,
        filter: EventFilter,
    ) -> BoxStream<'static, engagement_core::Result<EventBatch>> {
        let state = Export::First(Box::new(Request {
            engine: self,
            workspace,
            filter,
        }));
        stream::unfold(state, |state| async move {
            let (item, next) = state.next().await?;
            Some((item.map_err(Self::error), next))
        })
        .boxed()
    }

    /// One export chunk: the events after `after`, oldest first (the statement's order),
    /// decoded as the dialect reads them ([`Dialect::fetch_events`]).
    async fn export_chunk(
        &self,
        workspace: &WorkspaceId,
        filter: &EventFilter,
        after: Option<&EventKey>,
    ) -> SqlResult<EventBatch> {
        let mut sql = D::sql();
        self.push_keyset(
            &mut sql,
            workspace,
            filter,
            after,
            Direction::Newer,
            EXPORT_CHUNK as u64,
        );
        let conn = self.acquire().await?;
        let batch = EventBatch::with_capacity(EXPORT_CHUNK, TEXT_PER_EVENT);
        let (_conn, batch) = D::fetch_events(conn, sql, "export events", batch).await?;
        Ok(batch)
    }

    /// The slices of the export of `filter` after a full first chunk that began at `first_at`
    /// and ended with `after`.
    async fn slices_after(
        &self,
        workspace: &WorkspaceId,
        filter: &EventFilter,
        first_at: Timestamp,
        after: EventKey,
    ) -> SqlResult<Slices> {
        let rest = TimeWindow {
            from: after.at,
            to: filter.window.to,
        };
        let latest = self.latest_in(workspace, rest).await?;
        Ok(Slices::new(after, first_at, rest, latest))
    }

    /// The latest `occurred_at` of the workspace's events in `window`, if any: where the
    /// slices of an export end (one index probe).
    async fn latest_in(
        &self,
        workspace: &WorkspaceId,
        window: TimeWindow,
    ) -> SqlResult<Option<Timestamp>> {
        let mut sql = D::sql();
        sql.push("SELECT MAX(occurred_at) FROM ")
            .push(&self.tables.events)
            .push(" WHERE ");
        push_scope(&mut sql, workspace, window);
        let mut conn = self.acquire().await?;
        let rows = D::fetch_alone(&mut conn, sql, "find the export's last event").await?;
        let latest = match rows.first() {
            Some(row) => row.opt_int(0)?,
            None => None,
        };
        Ok(latest.map(Timestamp::from_micros))
    }
}

/// What an export reads.
struct Request<D: Dialect> {
    engine: Engine<D>,
    workspace: WorkspaceId,
    filter: EventFilter,
}

impl<D: Dialect> Request<D> {
    /// The first chunk, and the state after it: done, or the rest read in slices when the
    /// chunk came back full. `None` when nothing matches.
    async fn first(self: Box<Self>) -> Option<(SqlResult<EventBatch>, Export<D>)> {
        let Self {
            engine,
            workspace,
            filter,
        } = *self;
        let batch = match engine.export_chunk(&workspace, &filter, None).await {
            Ok(batch) if batch.is_empty() => return None,
            Ok(batch) => batch,
            Err(err) => return Some((Err(err), Export::Done)),
        };
        let full = batch.len() == EXPORT_CHUNK;
        let span = batch.get(0).zip(batch.last()).filter(|_| full);
        let Some((first_at, after)) = span.map(|(head, tail)| (head.occurred_at, tail.key()))
        else {
            return Some((Ok(batch), Export::Done));
        };
        match engine
            .slices_after(&workspace, &filter, first_at, after)
            .await
        {
            Ok(slices) => {
                let rest = ParallelExport::start(&engine, &workspace, &filter, slices);
                Some((Ok(batch), Export::Sliced(Box::new(rest))))
            }
            Err(err) => Some((Err(err), Export::Done)),
        }
    }
}

/// Where an export stands.
enum Export<D: Dialect> {
    /// Nothing read yet.
    First(Box<Request<D>>),
    /// The first chunk was full: the rest is read slice by slice, several at once.
    Sliced(Box<ParallelExport>),
    /// Everything was handed out, or an error was.
    Done,
}

impl<D: Dialect> Export<D> {
    /// The next chunk and the state after it; `None` at the end.
    async fn next(self) -> Option<(SqlResult<EventBatch>, Self)> {
        match self {
            // On a task of its own, to its end: a consumer that drops the export while the
            // first chunk is read leaves no connection half way through it.
            Self::First(request) => to_the_end("reading the export's first chunk", request.first())
                .await
                .unwrap_or_else(|err| Some((Err(err), Self::Done))),
            Self::Sliced(mut rest) => {
                let item = rest.next().await?;
                let next = if item.is_ok() {
                    Self::Sliced(rest)
                } else {
                    Self::Done
                };
                Some((item, next))
            }
            Self::Done => None,
        }
    }
}
