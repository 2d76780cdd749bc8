//! [`Sender`]: one task's handle on a shared [`Ingestor`], whose flush answers for that task's
//! own events.

use std::sync::Arc;

use super::Ingestor;
use super::senders::SenderId;
use crate::error::Result;
use crate::model::event::Event;
use crate::model::ids::WorkspaceId;

/// Sends events through an [`Ingestor`] as one caller, so that its [`flush`](Self::flush)
/// reports exactly the batches given up that held events this sender sent, whatever other
/// senders (or the ingestor's own [`flush`](Ingestor::flush) callers) did meanwhile. Made by
/// [`Ingestor::sender`]; see there for an example. It holds the ingestor (an `Arc`), so a
/// consumer can keep it for its whole life.
///
/// Events sent through a sender are batched and written with everyone else's, and count in
/// the ingestor's totals, reports and flushes as if sent through the ingestor itself. A
/// sender is one caller's (its flush takes it by `&mut`, so no two flushes share one sender's
/// report). Dropping it forgets its losses not yet reported.
pub struct Sender {
    ingestor: Arc<Ingestor>,
    id: SenderId,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("id", &self.id.0)
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub(super) fn new(ingestor: Arc<Ingestor>) -> Self {
        let id = ingestor.losses.register();
        Self { ingestor, id }
    }

    /// As [`Ingestor::send`], the event this sender's.
    ///
    /// # Errors
    /// As [`Ingestor::send`].
    pub async fn send(&self, workspace: &WorkspaceId, event: Event) -> Result<()> {
        self.ingestor.send_from(self.id, workspace, event).await
    }

    /// As [`Ingestor::try_send`], the event this sender's.
    ///
    /// # Errors
    /// As [`Ingestor::try_send`].
    pub fn try_send(&self, workspace: &WorkspaceId, event: Event) -> Result<()> {
        self.ingestor.try_send_from(self.id, workspace, event)
    }

    /// As [`Ingestor::send_many`], the events this sender's.
    ///
    /// # Errors
    /// As [`Ingestor::send_many`].
    pub async fn send_many(&self, workspace: &WorkspaceId, events: Vec<Event>) -> Result<()> {
        self.ingestor
            .send_many_from(self.id, workspace, events)
            .await
    }

    /// Writes every event accepted so far (this sender's and everyone else's) and waits for
    /// it, as [`Ingestor::flush`] does; then reports the batches given up since this sender's
    /// last flush that held events of its own. So `Ok` says every event this sender had
    /// accepted before the call is stored (or its id was stored already: a duplicate, or a
    /// conflict the batch's report lists). A flush cancelled before it ends leaves its report
    /// to the sender's next flush.
    ///
    /// # Errors
    /// [`Error::NotWritten`](crate::Error::NotWritten) counting only this sender's own events
    /// in the batches given up (and those batches); [`Error::Closed`](crate::Error::Closed)
    /// when the ingestor has stopped or is stopping: whether this sender's last events were
    /// stored is then for the shutdown's totals to say, and sending them again (to the next
    /// ingestor) is safe.
    pub async fn flush(&mut self) -> Result<()> {
        self.ingestor.write_accepted().await?;
        self.ingestor.losses.take(self.id)
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.ingestor.losses.deregister(self.id);
    }
}
