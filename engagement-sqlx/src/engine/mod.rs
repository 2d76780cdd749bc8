//! The primitives of [`EventStore`](engagement_core::EventStore), written once over a
//! [`Dialect`] and pushed down into SQL. Each file holds one family of primitives.

mod activity;
mod append;
mod buckets;
mod customers;
mod export;
mod funnel;
mod log;
mod purge;
mod ranking;
mod rollup;
mod statistics;
mod turn;
mod upkeep;

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Pool, Transaction};
use tokio::sync::OwnedMutexGuard;
use tracing::Instrument;

use self::statistics::StatisticsWatch;
use self::turn::WriteTurn;
use crate::dialect::{Dialect, begin};
use crate::error::{SqlError, SqlResult};
use crate::prefix::{TablePrefix, Tables};

/// How long a call waits for a pooled connection before
/// [`Error::Busy`](engagement_core::Error::Busy).
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool and the names of our tables: everything a primitive needs.
#[derive(Debug)]
pub(crate) struct Engine<D: Dialect> {
    /// Where reads take their connection.
    pub(crate) pool: Pool<D::DB>,
    /// Where write transactions take their connection: `pool`, or a pool of its own with
    /// settings for writing ([`Self::with_write_pool`]).
    writes: Pool<D::DB>,
    pub(crate) tables: Tables,
    /// Taken for every write transaction where the database has one writer at a time
    /// ([`Dialect::ONE_WRITER`]), shared by the store's clones.
    write_turn: Arc<WriteTurn>,
    /// The rows written since the store last analysed its tables
    /// ([`Dialect::ANALYSIS`]), shared by the store's clones.
    statistics: Arc<StatisticsWatch>,
}

impl<D: Dialect> Clone for Engine<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writes: self.writes.clone(),
            tables: self.tables.clone(),
            write_turn: Arc::clone(&self.write_turn),
            statistics: Arc::clone(&self.statistics),
        }
    }
}

impl<D: Dialect> Engine<D> {
    pub(crate) fn new(pool: Pool<D::DB>, prefix: TablePrefix) -> Self {
        Self {
            writes: pool.clone(),
            pool,
            tables: Tables::new(prefix),
            write_turn: Arc::default(),
            statistics: Arc::default(),
        }
    }

    /// A pool of up to 8 connections to the database server at `url`, each waited for at
    /// most [`ACQUIRE_TIMEOUT`]: what a server backend's `connect` opens.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](engagement_core::Error::InvalidConfig) (setting `url`) for a
    /// URL the driver cannot read (its message leaves the URL out: it may hold a password);
    /// [`Error::Backend`](engagement_core::Error::Backend) when the server cannot be reached or
    /// refuses the login; [`Error::Busy`](engagement_core::Error::Busy) when no connection could
    /// be opened in time.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) async fn connect_server(url: &str) -> engagement_core::Result<Pool<D::DB>> {
        use sqlx::Connection as _;
        let failed = |e| match e {
            sqlx::Error::Configuration(reason) => engagement_core::Error::invalid_config(
                "url",
                format!("not a {} URL the driver can read: {reason}", D::BACKEND),
            ),
            e => Self::error(SqlError::driver("connect")(e)),
        };
        // One connection first: the pool tries a connection that fails again until its
        // timeout, then says only that it timed out (`Busy`), not why (refused, an unknown
        // host, a wrong password).
        let first = tokio::time::timeout(
            ACQUIRE_TIMEOUT,
            <<D::DB as sqlx::Database>::Connection>::connect(url),
        )
        .await;
        match first {
            Ok(Ok(connection)) => {
                // Only a probe: the pool opens its own. A server slow to say goodbye does not
                // hold the store up.
                let _ = tokio::time::timeout(ACQUIRE_TIMEOUT, connection.close()).await;
            }
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => {
                return Err(engagement_core::Error::Busy {
                    backend: D::BACKEND,
                    source: format!("connect: no connection within {ACQUIRE_TIMEOUT:?}").into(),
                });
            }
        }
        sqlx::pool::PoolOptions::<D::DB>::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(failed)
    }

    /// The same engine with write transactions on connections of `writes`.
    #[cfg(feature = "sqlite")]
    pub(crate) fn with_write_pool(self, writes: Pool<D::DB>) -> Self {
        Self { writes, ..self }
    }

    /// The same engine with its tables under `prefix`, and a count of its own of the rows
    /// written to them since their last analysis (the turn to write stays shared: it is the
    /// database's).
    pub(crate) fn with_prefix(self, prefix: TablePrefix) -> Self {
        Self {
            tables: Tables::new(prefix),
            statistics: Arc::default(),
            ..self
        }
    }

    /// Begins a write transaction: with [`Dialect::BEGIN_WRITE`], after the store's turn to
    /// write where the database has one writer at a time. Keep the guard until the transaction
    /// ends.
    ///
    /// SQLite makes a writer that finds the lock taken sleep and retry (1 ms up to 100 ms
    /// between tries), so appends in flight together left the lock idle between them and
    /// could starve one past the busy timeout; waiting in a fair queue in the process, each
    /// begins as the one before it commits. Other processes still meet the busy timeout.
    pub(crate) async fn begin_write(
        &self,
    ) -> SqlResult<(Option<OwnedMutexGuard<()>>, Transaction<'static, D::DB>)> {
        let turn = if D::ONE_WRITER {
            Some(self.write_turn.take().await)
        } else {
            None
        };
        Ok((turn, begin::<D>(&self.writes, D::BEGIN_WRITE).await?))
    }

    /// Commits a write transaction [`Self::begin_write`] began, which changed `changed` rows,
    /// then gives up the turn. Starts, beside the next writes ([`upkeep`]), the checkpointer of
    /// a database with one writer ([`Dialect::CHECKPOINT`], see [`turn`]) and the analysis of
    /// its tables once enough rows changed ([`Dialect::ANALYSIS`]); the commit waits for
    /// neither.
    pub(crate) async fn commit_write(
        &self,
        turn: Option<OwnedMutexGuard<()>>,
        tx: Transaction<'static, D::DB>,
        changed: u64,
        context: &'static str,
    ) -> SqlResult<()> {
        tx.commit().await.map_err(SqlError::driver(context))?;
        drop(turn);
        if let Some(statement) = D::CHECKPOINT
            && let Some(run) = self.write_turn.committed()
        {
            self.beside((), "checkpointing the log", move |engine| {
                engine.checkpoint_while_writing(statement, run)
            });
        }
        self.note_changed(changed);
        Ok(())
    }

    /// Runs `statement` (a checkpoint) as the checkpointer holding `run`, again every
    /// [`CHECKPOINT_EVERY`](turn::CHECKPOINT_EVERY) while commits keep coming (see [`turn`]).
    async fn checkpoint_while_writing(
        self,
        statement: &'static str,
        mut run: upkeep::Running,
    ) -> SqlResult<()> {
        loop {
            let seen = self.write_turn.commits();
            let mut sql = D::sql();
            sql.push(statement);
            let mut conn = self.acquire().await?;
            D::execute(&mut conn, sql, "checkpoint the log").await?;
            drop(conn);
            match self.write_turn.end_checkpointer(run, seen) {
                Some(going_on) => run = going_on,
                None => return Ok(()),
            }
            tokio::time::sleep(turn::CHECKPOINT_EVERY).await;
        }
    }

    /// Closes the pools: at once for calls that would take a connection (they fail with
    /// [`Error::Closed`](engagement_core::Error::Closed)), after their calls for the
    /// connections in use.
    pub(crate) async fn close(&self) {
        // `Pool::close` marks its pool closed when called, and its future waits for the
        // connections in use: both are marked before either is waited for, or the readers
        // served calls while a write in flight finished.
        let writes = self.writes.close();
        let reads = self.pool.close();
        writes.await;
        reads.await;
    }

    /// A pooled connection for statements that need no transaction.
    pub(crate) async fn acquire(
        &self,
    ) -> crate::error::SqlResult<sqlx::pool::PoolConnection<D::DB>> {
        self.pool
            .acquire()
            .await
            .map_err(SqlError::driver("acquire a connection"))
    }

    /// Appends ` NOT EXISTS (…)`: the customer in the statement's column `customer` is not an
    /// admin placeholder.
    pub(crate) fn push_not_placeholder(
        &self,
        sql: &mut crate::sql::Sql,
        workspace: &engagement_core::WorkspaceId,
        customer: &str,
    ) {
        sql.push(" NOT EXISTS (SELECT 1 FROM ")
            .push(&self.tables.customers)
            .push(" p WHERE p.workspace = ")
            .bind(workspace.as_str())
            .push(" AND p.id = ")
            .push(customer)
            .push(" AND p.is_admin_placeholder = 1)");
    }

    /// The library error for one of ours.
    pub(crate) fn error(err: SqlError) -> engagement_core::Error {
        err.into_error(D::BACKEND, D::is_busy)
    }
}

/// Runs `work` on a task of its own to its end, even when the caller stops waiting for it, so
/// that no connection is left half way through a statement (see [`Dialect::CANCEL_SAFE`]). The
/// task runs in the caller's `tracing` span, so the driver's events keep their context.
///
/// # Errors
/// [`SqlError::TaskStopped`] when the runtime shut the task down first; a panic of `work` is
/// the caller's panic.
pub(crate) async fn to_the_end<T: Send + 'static>(
    task: &str,
    work: impl Future<Output = T> + Send + 'static,
) -> SqlResult<T> {
    match tokio::spawn(work.in_current_span()).await {
        Ok(done) => Ok(done),
        Err(stopped) => match stopped.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(SqlError::TaskStopped {
                task: task.to_owned(),
            }),
        },
    }
}

/// One [`EventStore`](engagement_core::EventStore) call on `$engine`'s `$method`, its error
/// converted: run here, or, for a dialect that is not [`Dialect::CANCEL_SAFE`], on a task of its
/// own ([`to_the_end`]) with owned copies of the borrowed arguments (listed before `;`, the
/// arguments taken by value after it).
macro_rules! store_call {
    ($engine:expr, $dialect:ty, $method:ident($($borrowed:ident),* $(; $($owned:ident),*)?)) => {{
        let result = if <$dialect as $crate::dialect::Dialect>::CANCEL_SAFE {
            $engine.$method($($borrowed,)* $($($owned,)*)?).await
        } else {
            $(let $borrowed = $borrowed.to_owned();)*
            let engine = $engine.clone();
            $crate::engine::to_the_end(
                concat!("the store call ", stringify!($method)),
                async move { engine.$method($(&$borrowed,)* $($($owned,)*)?).await },
            )
            .await
            .and_then(|result| result)
        };
        result.map_err(Engine::<$dialect>::error)
    }};
}

pub(crate) use store_call;

/// A count read from the database as a `u64`.
pub(crate) fn count(value: i64) -> crate::error::SqlResult<u64> {
    u64::try_from(value).map_err(|_| SqlError::Corrupt {
        column: "count",
        reason: format!("negative count {value}"),
    })
}

/// A `u64` (limit, offset) as the `BIGINT` a statement binds.
pub(crate) fn bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Implements [`EventStore`](engagement_core::EventStore) for a store type holding an
/// `engine: Engine<_>` field, converting errors at the edge, and the store's `with_prefix`.
macro_rules! sql_event_store {
    ($store:ty, $dialect:ty) => {
        impl $store {
            /// The same store with its tables under `prefix`.
            #[must_use]
            pub fn with_prefix(self, prefix: $crate::TablePrefix) -> Self {
                Self {
                    engine: self.engine.with_prefix(prefix),
                }
            }
        }

        #[async_trait::async_trait]
        impl engagement_core::EventStore for $store {
            async fn append(
                &self,
                workspace: &engagement_core::WorkspaceId,
                events: &[engagement_core::Event],
            ) -> engagement_core::Result<engagement_core::AppendOutcome> {
                $crate::engine::store_call!(self.engine, $dialect, append(workspace, events))
            }

            async fn upsert_customers(
                &self,
                workspace: &engagement_core::WorkspaceId,
                customers: &[engagement_core::Customer],
            ) -> engagement_core::Result<()> {
                engagement_core::Limits::default().validate_customers(customers)?;
                $crate::engine::store_call!(self.engine, $dialect, upsert_customers(workspace, customers))
            }

            async fn customers(
                &self,
                workspace: &engagement_core::WorkspaceId,
                ids: &[engagement_core::CustomerId],
            ) -> engagement_core::Result<Vec<engagement_core::Customer>> {
                $crate::engine::store_call!(self.engine, $dialect, customers(workspace, ids))
            }

            async fn ranking(
                &self,
                workspace: &engagement_core::WorkspaceId,
                query: &engagement_core::RankingQuery,
            ) -> engagement_core::Result<engagement_core::Ranking> {
                $crate::engine::store_call!(self.engine, $dialect, ranking(workspace, query))
            }

            async fn activity_page(
                &self,
                workspace: &engagement_core::WorkspaceId,
                query: &engagement_core::ActivityQuery,
            ) -> engagement_core::Result<engagement_core::ActivityPage> {
                $crate::engine::store_call!(self.engine, $dialect, activity_page(workspace, query))
            }

            async fn bucket_counts(
                &self,
                workspace: &engagement_core::WorkspaceId,
                query: &engagement_core::BucketCountsQuery,
            ) -> engagement_core::Result<Vec<engagement_core::BucketCount>> {
                $crate::engine::store_call!(self.engine, $dialect, bucket_counts(workspace, query))
            }

            async fn event_page(
                &self,
                workspace: &engagement_core::WorkspaceId,
                query: &engagement_core::EventPageQuery,
            ) -> engagement_core::Result<engagement_core::EventPage> {
                $crate::engine::store_call!(self.engine, $dialect, event_page(workspace, query))
            }

            async fn event(
                &self,
                workspace: &engagement_core::WorkspaceId,
                id: &engagement_core::EventId,
            ) -> engagement_core::Result<Option<engagement_core::Event>> {
                $crate::engine::store_call!(self.engine, $dialect, event(workspace, id))
            }

            fn export(
                &self,
                workspace: engagement_core::WorkspaceId,
                filter: engagement_core::EventFilter,
            ) -> futures::stream::BoxStream<
                'static,
                engagement_core::Result<engagement_core::EventBatch>,
            > {
                self.engine.clone().export(workspace, filter)
            }

            async fn funnel_input(
                &self,
                workspace: &engagement_core::WorkspaceId,
                query: &engagement_core::FunnelQuery,
            ) -> engagement_core::Result<engagement_core::FunnelInput> {
                $crate::engine::store_call!(self.engine, $dialect, funnel_input(workspace, query))
            }

            async fn purge(
                &self,
                workspace: &engagement_core::WorkspaceId,
                scope: engagement_core::PurgeScope,
                mode: engagement_core::PurgeMode,
            ) -> engagement_core::Result<engagement_core::PurgeOutcome> {
                $crate::engine::store_call!(self.engine, $dialect, purge(workspace; scope, mode))
            }

            async fn close(&self) {
                self.engine.close().await
            }
        }
    };
}

pub(crate) use sql_event_store;
