//! The ingestion pipeline: validate at once, batch by size and age, append with retries (several
//! batches at once), apply backpressure, flush everything accepted on shutdown.
//!
//! Each batch written is one `tracing` span `ingest.flush` (workspace, batch size, queue depth)
//! and one debug event "batch written" whose fields follow the metrics convention of
//! `tracing-opentelemetry`: `histogram.ingest_batch_size`, `histogram.ingest_flush_latency_ms`,
//! `histogram.ingest_queue_depth`, `histogram.ingest_appends_in_flight`, and the counters
//! `monotonic_counter.ingest_events_written` and `monotonic_counter.ingest_events_failed`
//! (events of a batch given up), with `attempts` and `ok`.
//!
//! ```
//! use std::sync::Arc;
//! use engagement_core::ingest::{IngestConfig, Ingestor};
//! use engagement_core::{CustomerId, Event, EventStore, FixedClock, ReferenceStore, WorkspaceId, names};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let store = Arc::new(ReferenceStore::default());
//! let now = "2026-11-20T12:00:00Z".parse()?;
//! let ingestor = Ingestor::start(store.clone(), Arc::new(FixedClock::new(now)), IngestConfig::default())?;
//! let ws = WorkspaceId::new("acme")?;
//! ingestor.send(&ws, Event::new("e1", CustomerId(7), names::PAGE_VIEWED, now)).await?;
//! // A host that already holds a batch hands it over in one call.
//! let batch = (2..=3).map(|i| Event::new(format!("e{i}"), CustomerId(7), names::PAGE_VIEWED, now));
//! ingestor.send_many(&ws, batch.collect()).await?;
//! // A bad event is refused at once and never queued.
//! assert!(ingestor.send(&ws, Event::new("e4", CustomerId(7), " ", now)).await.is_err());
//!
//! let stats = ingestor.shutdown().await;
//! assert_eq!((stats.accepted, stats.inserted), (3, 3));
//! assert!(store.event(&ws, &"e1".into()).await?.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod appender;
mod batcher;
mod config;
mod freshness;
mod losses;
mod sender;
mod senders;
mod shared_ids;
mod stats;
mod turn;
mod waiting;
mod worker;

use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use appender::Appender;
use batcher::Batcher;
pub use config::{IngestConfig, MAX_BACKOFF, RetryPolicy};
pub use freshness::Freshness;
use freshness::{InFlight, Unqueued};
use losses::Losses;
pub use sender::Sender;
use senders::SenderId;
use shared_ids::IdsInFlight;
use stats::Counters;
pub use stats::{BatchReport, IngestStats};
use turn::Turns;
use waiting::Waiting;
use worker::{Command, Room, Subscriptions, Worker};

use crate::error::{Error, Result};
use crate::model::event::Event;
use crate::model::ids::WorkspaceId;
use crate::store::EventStore;
use crate::time::Clock;

/// Accepts events one at a time (or a batch at a time) and writes them to the store in batches.
///
/// [`send`](Self::send) normalizes the event ([`Event::normalize`]), validates it against
/// [`IngestConfig::limits`] and stamps its `received_at`; a bad event is refused there and then, nothing queued. Accepted events are
/// grouped per workspace and appended when a batch reaches [`IngestConfig::max_batch`] events or
/// its oldest event has waited [`IngestConfig::max_age`]; up to
/// [`IngestConfig::max_concurrent_appends`] batches are appended at once while the next ones
/// are built, and batches that close while none of those is free are joined, up to
/// [`IngestConfig::max_joined_batch`] events an append. Failed appends (one that panics
/// included) are retried with backoff (appends are idempotent, so a retry never counts twice),
/// unless the store refused the batch for good ([`Error::is_retryable`]). The queue is
/// bounded: `send` waits for room, [`try_send`](Self::try_send) returns [`Error::Full`].
/// [`shutdown`](Self::shutdown) writes everything accepted before it returns; dropping the
/// ingestor closes the queue and the background task still writes what it holds.
#[derive(Debug)]
pub struct Ingestor {
    tx: mpsc::UnboundedSender<Command>,
    room: Arc<Room>,
    /// The worker, until a shutdown has seen it end.
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    /// Set by `shutdown`: nothing more is accepted from then on.
    stopping: AtomicBool,
    clock: Arc<dyn Clock>,
    config: IngestConfig,
    counters: Arc<Counters>,
    /// Hands out report receivers until the worker ends.
    subscriptions: Subscriptions,
    in_flight: Arc<InFlight>,
    losses: Arc<Losses>,
}

/// Refuses a Tokio runtime without its time driver: the worker would panic at its first batch
/// timer, after `send` had answered `Ok` for the batch's events. Tokio asks nothing of the
/// runtime until a timer is made, so one is made here; only a runtime without timers panics
/// (its message goes to the panic hook), and the panic is caught.
///
/// # Errors
/// [`Error::InvalidConfig`] naming `runtime`.
fn check_timers() -> Result<()> {
    // Outside any runtime this panics, as `tokio::spawn` would (see `Ingestor::start`).
    drop(tokio::runtime::Handle::current());
    std::panic::catch_unwind(|| drop(tokio::time::sleep(std::time::Duration::ZERO))).map_err(|_| {
        Error::invalid_config(
            "runtime",
            "the Tokio runtime has no time driver, which batching by age needs: build it \
                 with enable_time() or enable_all()",
        )
    })
}

impl Ingestor {
    /// Starts the background task on the current Tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting of `config` it cannot run with: a
    /// `max_batch` of 0 or above [`Limits::max_batch_events`](crate::Limits::max_batch_events)
    /// (the store would refuse every batch), a `queue_capacity` of 0 or beyond
    /// [`Semaphore::MAX_PERMITS`](tokio::sync::Semaphore::MAX_PERMITS), a
    /// `max_concurrent_appends` of 0, a `max_joined_batch` below `max_batch` or above
    /// `Limits::max_batch_events`, a `retry.max_attempts` of 0, a `retry.max_backoff` above
    /// [`MAX_BACKOFF`]; and, naming `runtime`, a Tokio runtime built without its time driver
    /// (`enable_time` or `enable_all`), where the batches' timers could not run. Nothing is
    /// started.
    ///
    /// # Panics
    /// Outside a Tokio runtime (as `tokio::spawn` does).
    pub fn start(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        config: IngestConfig,
    ) -> Result<Self> {
        config.check()?;
        check_timers()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let room = Arc::new(Room::new(config.queue_capacity));
        let (reports, _) = broadcast::channel(1_024);
        let counters = Arc::new(Counters::default());
        let in_flight = Arc::new(InFlight::default());
        let losses = Arc::new(Losses::default());
        let subscriptions = Arc::new(std::sync::Mutex::new(Some(reports.clone())));
        let worker = Worker {
            batcher: Batcher::new(config.max_batch, config.max_age),
            appender: Arc::new(Appender {
                store,
                retry: config.retry,
                counters: counters.clone(),
                reports: reports.clone(),
                in_flight: in_flight.clone(),
                losses: losses.clone(),
            }),
            max_appends: config.max_concurrent_appends,
            room: room.clone(),
            appends: JoinSet::new(),
            waiting: Waiting::new(config.max_joined_batch),
            turns: Turns::default(),
            ids_in_flight: IdsInFlight::default(),
            subscriptions: subscriptions.clone(),
        };
        let task = tokio::sync::Mutex::new(Some(tokio::spawn(worker.run(rx))));
        Ok(Self {
            tx,
            room,
            task,
            stopping: AtomicBool::new(false),
            clock,
            config,
            counters,
            subscriptions,
            in_flight,
            losses,
        })
    }

    /// Stamps the event's `received_at`, registering it as in flight until it is queued, and
    /// validates it against that same instant (one clock read per event); a bad event is
    /// forgotten at once.
    fn accept(&self, mut event: Event) -> Result<(Event, Unqueued<'_>)> {
        self.check_open()?;
        let admitted = Unqueued::admit(&self.in_flight, &*self.clock, 1, event.occurred_at);
        event.normalize();
        self.config
            .limits
            .validate_event(0, &event, admitted.received_at())?;
        event.received_at = admitted.received_at();
        Ok((event, admitted))
    }

    /// [`Error::Closed`] once a shutdown has begun, before anything waits for room.
    fn check_open(&self) -> Result<()> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Queues `events` events that hold their queue room already, handing them over from
    /// `admitted`; gives the room back when closed.
    fn enqueue(&self, command: Command, events: usize, admitted: &mut Unqueued<'_>) -> Result<()> {
        self.room.fill(events);
        // Counted before the worker can see them: a shutdown's totals, read once the worker
        // has written everything, never miss events it wrote.
        let accepted = &self.counters.accepted;
        accepted.fetch_add(events as u64, Ordering::Relaxed);
        if self.check_open().is_err() || self.tx.send(command).is_err() {
            accepted.fetch_sub(events as u64, Ordering::Relaxed);
            self.room.give_back(events);
            return Err(Error::Closed);
        }
        admitted.queued(events as u64);
        Ok(())
    }

    /// Validates and queues one event, waiting while the queue is full.
    ///
    /// `Ok` means accepted, not stored: the event is written with its batch unless the process
    /// ends first (an ingestor dropped without [`shutdown`](Self::shutdown) goes on writing
    /// only while its runtime runs) or its batch is given up (counted in
    /// [`IngestStats::failed`], reported by [`subscribe`](Self::subscribe)). Awaiting
    /// [`flush`](Self::flush) or `shutdown` waits for the append to end.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for an event that fails validation (nothing is queued);
    /// [`Error::Closed`] when the ingestor has stopped.
    pub async fn send(&self, workspace: &WorkspaceId, event: Event) -> Result<()> {
        self.send_from(SenderId::SHARED, workspace, event).await
    }

    async fn send_from(
        &self,
        sender: SenderId,
        workspace: &WorkspaceId,
        event: Event,
    ) -> Result<()> {
        let (event, mut admitted) = self.accept(event)?;
        let room = match self.room.permits.try_acquire() {
            Ok(permit) => Ok(permit),
            Err(_) => self.room.permits.acquire().await,
        };
        room.map_err(|_| Error::Closed)?.forget();
        let command = Command::Event(workspace.clone(), event, sender);
        self.enqueue(command, 1, &mut admitted)
    }

    /// Validates and queues one event without waiting.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] for an event that fails validation; [`Error::Full`] when the
    /// queue is full (the event is not queued; retry later); [`Error::Closed`] when the
    /// ingestor has stopped.
    pub fn try_send(&self, workspace: &WorkspaceId, event: Event) -> Result<()> {
        self.try_send_from(SenderId::SHARED, workspace, event)
    }

    fn try_send_from(&self, sender: SenderId, workspace: &WorkspaceId, event: Event) -> Result<()> {
        let (event, mut admitted) = self.accept(event)?;
        match self.room.permits.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                return Err(Error::Full {
                    capacity: self.room.capacity,
                });
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Error::Closed),
        }
        let command = Command::Event(workspace.clone(), event, sender);
        self.enqueue(command, 1, &mut admitted)
    }

    /// Validates a whole batch, then queues it, waiting while the queue is full: for a host
    /// that already holds events in batches, one call, one clock read and one queue entry per
    /// batch instead of per event. Every event gets the same `received_at`. The events join the
    /// workspace's open batch in order, exactly as if sent one by one.
    ///
    /// A batch larger than [`IngestConfig::queue_capacity`] is queued in parts, each waiting
    /// for room. A call dropped while it waits (a timeout, a dropped request) has queued the
    /// parts before, which are written as accepted events; sending the whole batch again is
    /// safe, as appends are idempotent.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] (its `index` is the event's position in `events`) when any event
    /// fails validation: nothing of the batch is queued. [`Error::Closed`] when the ingestor
    /// has stopped (only the parts queued before, if any, will be written).
    pub async fn send_many(&self, workspace: &WorkspaceId, events: Vec<Event>) -> Result<()> {
        self.send_many_from(SenderId::SHARED, workspace, events)
            .await
    }

    async fn send_many_from(
        &self,
        sender: SenderId,
        workspace: &WorkspaceId,
        mut events: Vec<Event>,
    ) -> Result<()> {
        self.check_open()?;
        let Some(earliest) = events.iter().map(|e| e.occurred_at).min() else {
            return Ok(());
        };
        let mut admitted =
            Unqueued::admit(&self.in_flight, &*self.clock, events.len() as u64, earliest);
        let received_at = admitted.received_at();
        for (index, event) in events.iter_mut().enumerate() {
            event.normalize();
            self.config
                .limits
                .validate_event(index, event, received_at)?;
            event.received_at = received_at;
        }
        let part = self.room.capacity.min(u32::MAX as usize);
        if events.len() <= part {
            return self
                .queue_part(sender, workspace, events, &mut admitted)
                .await;
        }
        let mut rest = events.into_iter();
        while rest.len() > 0 {
            let events = rest.by_ref().take(part).collect();
            self.queue_part(sender, workspace, events, &mut admitted)
                .await?;
        }
        Ok(())
    }

    /// Waits for room for `events` (at most the queue's capacity) and queues them, handing
    /// them over from `admitted`.
    async fn queue_part(
        &self,
        sender: SenderId,
        workspace: &WorkspaceId,
        events: Vec<Event>,
        admitted: &mut Unqueued<'_>,
    ) -> Result<()> {
        let n = events.len();
        let permits = u32::try_from(n).unwrap_or(u32::MAX);
        let room = self.room.permits.acquire_many(permits).await;
        room.map_err(|_| Error::Closed)?.forget();
        self.enqueue(
            Command::Events(workspace.clone(), events, sender),
            n,
            admitted,
        )
    }

    /// Writes every event accepted so far, whatever the age of its batch, and waits for it
    /// (and for every append already in flight). Events sent after the call may be written
    /// with them or later.
    ///
    /// A batch whose append failed every retry (see [`RetryPolicy`]), or was refused with an
    /// error no retry changes ([`Error::is_retryable`]), is given up: it is
    /// counted in [`IngestStats::failed`], reported by [`subscribe`](Self::subscribe) with its
    /// error, and returned as [`Error::NotWritten`] by every flush in progress when it was
    /// given up, or, when none was (or the only one was cancelled), by the next flush. So where
    /// one task flushes (a consumer that acknowledges its upstream after each flush), `Ok` says
    /// every event accepted before the call is stored (or its id was stored already), and each
    /// loss is reported once. Where several tasks flush, every flush waiting when a batch is
    /// given up learns of it, whichever task's events it held; but a loss already reported to
    /// another task's flush before this one was called is not reported again, so there a
    /// flush's `Ok` does not prove that the calling task's own events were stored. Tasks that each need that proof send and flush
    /// through a [`sender`](Self::sender) of their own. Nothing is retried after a loss; the
    /// events are the caller's to send again (appends are idempotent, so what did land is not
    /// counted twice).
    ///
    /// # Errors
    /// [`Error::NotWritten`] when a batch was given up while the flush waited, or before it
    /// and not yet reported to any flush; [`Error::Closed`] when the ingestor has stopped.
    pub async fn flush(&self) -> Result<()> {
        let watch = self.losses.watch();
        self.write_accepted().await?;
        watch.report()
    }

    /// Has the worker write every event accepted so far, and waits for it.
    async fn write_accepted(&self) -> Result<()> {
        self.check_open()?;
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Flush(ack))
            .map_err(|_| Error::Closed)?;
        done.await.map_err(|_| Error::Closed)
    }

    /// A handle for one task to send through: its [`flush`](Sender::flush) reports the batches
    /// given up that held events it sent, and only those, whatever other tasks sent and
    /// flushed. Where several tasks share the ingestor (an `Arc`) and each acknowledges its
    /// own events after a flush, each should send through a sender of its own.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use engagement_core::ingest::{IngestConfig, Ingestor};
    /// use engagement_core::{CustomerId, Event, FixedClock, ReferenceStore, WorkspaceId, names};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let now = "2026-11-20T12:00:00Z".parse()?;
    /// let store = Arc::new(ReferenceStore::default());
    /// let ingestor = Arc::new(Ingestor::start(store, Arc::new(FixedClock::new(now)), IngestConfig::default())?);
    /// let ws = WorkspaceId::new("acme")?;
    /// let consumers = (0..2).map(|partition| {
    ///     let (ingestor, ws) = (ingestor.clone(), ws.clone());
    ///     tokio::spawn(async move {
    ///         let mut sender = ingestor.sender(); // holds the ingestor: keep it as long as you like
    ///         let id = format!("p{partition}-1");
    ///         sender.send(&ws, Event::new(id, CustomerId(7), names::PAGE_VIEWED, now)).await?;
    ///         // `Ok`: every event this task sent before the flush is stored; acknowledge them.
    ///         sender.flush().await
    ///     })
    /// });
    /// for consumer in consumers.collect::<Vec<_>>() {
    ///     consumer.await??;
    /// }
    /// assert_eq!(ingestor.shutdown().await.inserted, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "a sender dropped at once forgets the losses its flush would report"]
    pub fn sender(self: &Arc<Self>) -> Sender {
        Sender::new(self.clone())
    }

    /// Events queued and not yet taken into a batch.
    pub fn queued(&self) -> usize {
        self.room.used()
    }

    /// A handle on the freshness watermark, to give to
    /// [`Reports::with_freshness`](crate::report::Reports::with_freshness). It stays valid
    /// (and keeps reading "now" once everything is stored) after the ingestor shuts down.
    pub fn freshness(&self) -> Freshness {
        Freshness {
            in_flight: self.in_flight.clone(),
            clock: self.clock.clone(),
        }
    }

    /// Running totals.
    pub fn stats(&self) -> IngestStats {
        self.counters.snapshot()
    }

    /// A receiver of one [`BatchReport`] per batch written from now on (a slow receiver misses
    /// the oldest reports rather than slowing ingestion). The receiver's stream ends once the
    /// ingestor has stopped and written everything (after [`shutdown`](Self::shutdown) was
    /// called, even if that call was given up on, or after the ingestor was dropped); one
    /// asked for after that is ended already.
    pub fn subscribe(&self) -> broadcast::Receiver<BatchReport> {
        let reports = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &*reports {
            Some(reports) => reports.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Stops accepting (a later `send` or `flush` returns [`Error::Closed`]), writes
    /// everything accepted (waiting for every append in flight), and returns the final totals.
    ///
    /// It takes `&self`, so a host that shares the ingestor (an `Arc` in its web framework's
    /// state) shuts it down where it stands. Calling it again, or from several tasks, waits for
    /// the same end; a call cancelled while it waits leaves the ingestor stopping, and the next
    /// call waits again.
    pub async fn shutdown(&self) -> IngestStats {
        self.stopping.store(true, Ordering::Release);
        // Refused only when the worker has stopped already.
        let _ = self.tx.send(Command::Shutdown);
        let mut task = self.task.lock().await;
        if let Some(running) = task.as_mut() {
            let ended = running.await;
            *task = None;
            if let Err(e) = ended {
                tracing::error!(error = %e, "the ingestion task ended abnormally");
            }
        }
        self.counters.snapshot()
    }
}
