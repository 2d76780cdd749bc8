//! The batches an [`Ingestor`](super::Ingestor) gave up, kept until every flush that should
//! learn of them has: each flush in progress when a batch is given up, or else the next one.
//!
//! A flush registers a [`Watch`] when it is called and reads it once its batches have ended.
//! It then learns of every batch given up since it was called (so several tasks flushing at
//! once all learn of a loss, whichever of them the batch held events of) and of every batch no
//! flush has learned of yet (given up between flushes, or while the only flush waiting was
//! cancelled). So a single flushing task learns of each loss once.
//!
//! Memory stays bounded whoever flushes: a loss is kept apart only while a flush in progress
//! may still learn of it; the ones no flush has learned of yet are otherwise folded into one
//! total, and the reported ones forgotten.
//!
//! Apart from that, each live [`Sender`](super::Sender) has a total of its own events given
//! up since its last flush read it: its flush learns of exactly the losses that held its
//! events, whoever else flushed. Those totals live as long as their senders.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::senders::{SenderId, Senders};
use crate::error::{Error, Result};

/// The ledger of given-up batches an ingestor's flushes read.
#[derive(Debug, Default)]
pub(crate) struct Losses {
    ledger: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    /// The number the next loss gets.
    next: u64,
    /// Losses since the oldest flush in progress started, oldest first.
    losses: VecDeque<Loss>,
    /// The losses before those that no flush has learned of yet, as one total.
    unreported: Total,
    /// The flushes in progress: the loss number each started at, and how many did.
    watching: BTreeMap<u64, usize>,
    /// The number the next sender gets.
    next_sender: u64,
    /// Each live sender's events given up since its flush last read them.
    senders: HashMap<SenderId, Total>,
}

/// Losses added up.
#[derive(Debug, Default)]
struct Total {
    events: u64,
    batches: u64,
    /// The error the last of them was given up with.
    last: Option<Arc<Error>>,
}

impl Total {
    fn add(&mut self, events: u64, error: Arc<Error>) {
        self.events += events;
        self.batches += 1;
        self.last = Some(error);
    }

    /// What a flush reports: [`Error::NotWritten`] for the losses added, else `Ok`.
    fn into_result(self) -> Result<()> {
        match self.last {
            None => Ok(()),
            Some(last) => Err(Error::NotWritten {
                events: self.events,
                batches: self.batches,
                last,
            }),
        }
    }
}

#[derive(Debug)]
struct Loss {
    number: u64,
    events: u64,
    error: Arc<Error>,
    /// Whether a flush has learned of it.
    reported: bool,
}

impl Losses {
    /// Notes a batch of `events` given up with `error`, holding events of `senders`.
    pub(crate) fn record(&self, events: usize, senders: Senders, error: Arc<Error>) {
        let mut ledger = self.lock();
        for (sender, own) in senders.totals() {
            if let Some(total) = ledger.senders.get_mut(&sender) {
                total.add(own, error.clone());
            }
        }
        let number = ledger.next;
        ledger.next += 1;
        if ledger.watching.is_empty() {
            // No flush in progress: only whether one has learned of it matters.
            ledger.unreported.add(events as u64, error);
        } else {
            ledger.losses.push_back(Loss {
                number,
                events: events as u64,
                error,
                reported: false,
            });
        }
    }

    /// Registers a flush that starts now.
    pub(crate) fn watch(self: &Arc<Self>) -> Watch {
        let mut ledger = self.lock();
        let from = ledger.next;
        *ledger.watching.entry(from).or_default() += 1;
        Watch {
            losses: self.clone(),
            from,
        }
    }

    /// Numbers a new sender, with nothing lost yet.
    pub(crate) fn register(&self) -> SenderId {
        let mut ledger = self.lock();
        ledger.next_sender += 1;
        let sender = SenderId(ledger.next_sender);
        ledger.senders.insert(sender, Total::default());
        sender
    }

    /// Forgets a sender that is gone.
    pub(crate) fn deregister(&self, sender: SenderId) {
        self.lock().senders.remove(&sender);
    }

    /// What `sender`'s flush reports once its batches have ended: [`Error::NotWritten`] for
    /// its events given up since its last flush read them, else `Ok`.
    pub(crate) fn take(&self, sender: SenderId) -> Result<()> {
        let mut ledger = self.lock();
        let lost = ledger.senders.get_mut(&sender).map(std::mem::take);
        drop(ledger);
        lost.unwrap_or_default().into_result()
    }

    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ledger {
    /// Keeps apart only the losses a flush in progress may still learn of: of those before
    /// the oldest one's start, the reported are forgotten and the others added to the total.
    fn settle(&mut self) {
        let oldest_watch = self.watching.keys().next().copied().unwrap_or(u64::MAX);
        while let Some(loss) = self
            .losses
            .front()
            .filter(|loss| loss.number < oldest_watch)
        {
            if !loss.reported {
                let (events, error) = (loss.events, loss.error.clone());
                self.unreported.add(events, error);
            }
            self.losses.pop_front();
        }
    }
}

/// A flush in progress. Dropped unread (the flush was cancelled), it learns of nothing and
/// leaves what it would have learned of to the next flush.
#[derive(Debug)]
pub(crate) struct Watch {
    losses: Arc<Losses>,
    /// The number of the first loss given up after the flush was called.
    from: u64,
}

impl Watch {
    /// What the flush reports once its batches have ended: [`Error::NotWritten`] for the
    /// batches given up since it was called or not yet reported to any flush, else `Ok`.
    pub(crate) fn report(self) -> Result<()> {
        let mut ledger = self.losses.lock();
        let mut total = std::mem::take(&mut ledger.unreported);
        for loss in ledger.losses.iter_mut() {
            if loss.number >= self.from || !loss.reported {
                loss.reported = true;
                total.add(loss.events, loss.error.clone());
            }
        }
        drop(ledger);
        total.into_result()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut ledger = self.losses.lock();
        if let Some(count) = ledger.watching.get_mut(&self.from) {
            *count -= 1;
            if *count == 0 {
                ledger.watching.remove(&self.from);
            }
        }
        ledger.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(losses: &Losses, events: usize) {
        losses.record(events, Senders::default(), Arc::new(Error::Closed));
    }

    fn reported(result: Result<()>) -> Option<(u64, u64)> {
        match result {
            Ok(()) => None,
            Err(Error::NotWritten {
                events, batches, ..
            }) => Some((events, batches)),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn one_flusher_learns_of_each_loss_once() {
        let losses = Arc::new(Losses::default());
        let first = losses.watch();
        lost(&losses, 3);
        assert_eq!(reported(first.report()), Some((3, 1)));
        // Given up between two flushes: the next one learns of it.
        lost(&losses, 2);
        assert_eq!(reported(losses.watch().report()), Some((2, 1)));
        assert_eq!(reported(losses.watch().report()), None);
        assert!(
            losses.lock().losses.is_empty(),
            "reported losses are forgotten"
        );
    }

    #[test]
    fn every_flush_in_progress_learns_of_a_loss() {
        let losses = Arc::new(Losses::default());
        let (a, b) = (losses.watch(), losses.watch());
        lost(&losses, 5);
        assert_eq!(reported(a.report()), Some((5, 1)));
        let c = losses.watch();
        assert_eq!(reported(b.report()), Some((5, 1)), "b was waiting too");
        assert_eq!(
            reported(c.report()),
            None,
            "c was called after a flush learned of it"
        );
        assert!(losses.lock().losses.is_empty());
    }

    #[test]
    fn losses_no_flush_waits_for_are_kept_as_one_total() {
        let losses = Arc::new(Losses::default());
        for _ in 0..1_000 {
            lost(&losses, 1);
        }
        // A flush that starts and ends with losses in between keeps none apart afterwards.
        let watch = losses.watch();
        for _ in 0..1_000 {
            lost(&losses, 2);
        }
        drop(watch);
        assert!(losses.lock().losses.is_empty(), "folded into the total");
        assert_eq!(reported(losses.watch().report()), Some((3_000, 2_000)));
        assert_eq!(reported(losses.watch().report()), None);
    }

    #[test]
    fn a_cancelled_flush_leaves_its_loss_to_the_next() {
        let losses = Arc::new(Losses::default());
        let cancelled = losses.watch();
        lost(&losses, 4);
        drop(cancelled);
        assert_eq!(reported(losses.watch().report()), Some((4, 1)));
    }

    #[test]
    fn a_sender_learns_of_the_losses_of_its_own_events_once() {
        let losses = Arc::new(Losses::default());
        let (a, b) = (losses.register(), losses.register());
        let mut batch = Senders::default();
        batch.add(a, 2);
        batch.add(b, 3);
        batch.add(a, 1);
        losses.record(10, batch, Arc::new(Error::Closed));
        let mut only_b = Senders::default();
        only_b.add(b, 4);
        losses.record(4, only_b, Arc::new(Error::Closed));
        // The shared flushes learn of both batches, whole; that takes nothing from the senders.
        assert_eq!(reported(losses.watch().report()), Some((14, 2)));
        assert_eq!(reported(losses.take(a)), Some((3, 1)));
        assert_eq!(reported(losses.take(b)), Some((7, 2)));
        assert_eq!(reported(losses.take(a)), None, "reported once");
        losses.deregister(a);
        let mut gone = Senders::default();
        gone.add(a, 1);
        losses.record(1, gone, Arc::new(Error::Closed));
        assert_eq!(reported(losses.take(a)), None);
        assert_eq!(losses.lock().senders.len(), 1, "only b is kept");
    }
}
