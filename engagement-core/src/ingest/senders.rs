//! Who sent a batch's events: each [`Sender`](super::Sender) has a number, and a batch keeps
//! how many of its events each one sent, so that a batch given up is reported to the flushes
//! of exactly the senders whose events it held.

/// A [`Sender`](super::Sender)'s number; events sent through the [`Ingestor`](super::Ingestor)
/// itself carry [`SenderId::SHARED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SenderId(pub(crate) u64);

impl SenderId {
    /// The ingestor's own sends, which its own flushes answer for (see `losses.rs`).
    pub(crate) const SHARED: Self = Self(0);
}

/// How many events of a batch each sender sent, in the order they came: a run of one sender's
/// events is one entry. The ingestor's own sends are not kept.
#[derive(Debug, Default)]
pub(crate) struct Senders {
    runs: Vec<(SenderId, u64)>,
}

impl Senders {
    /// Counts `events` more events from `sender`.
    pub(crate) fn add(&mut self, sender: SenderId, events: usize) {
        if sender == SenderId::SHARED || events == 0 {
            return;
        }
        self.extend_run(sender, events as u64);
    }

    /// Adds the counts of a batch joined to this one.
    pub(crate) fn join(&mut self, other: Self) {
        for (sender, events) in other.runs {
            self.extend_run(sender, events);
        }
    }

    /// Counts `events` more from `sender`: the last run's when it is `sender`'s, else a new one.
    fn extend_run(&mut self, sender: SenderId, events: u64) {
        match self.runs.last_mut() {
            Some((last, count)) if *last == sender => *count += events,
            _ => self.runs.push((sender, events)),
        }
    }

    /// Each sender once, with all its events.
    pub(crate) fn totals(mut self) -> Vec<(SenderId, u64)> {
        self.runs.sort_unstable_by_key(|(sender, _)| *sender);
        self.runs.dedup_by(|(sender, events), (kept, total)| {
            let same = sender == kept;
            if same {
                *total += *events;
            }
            same
        });
        self.runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_added_up_per_sender_and_shared_sends_are_not_kept() {
        let (a, b) = (SenderId(1), SenderId(2));
        let mut senders = Senders::default();
        senders.add(a, 2);
        senders.add(a, 1);
        senders.add(SenderId::SHARED, 5);
        senders.add(b, 4);
        senders.add(b, 0);
        senders.add(a, 1);
        let mut joined = Senders::default();
        joined.add(a, 3);
        joined.add(b, 1);
        senders.join(joined);
        assert_eq!(senders.runs.len(), 4, "a run of one sender is one entry");
        assert_eq!(senders.totals(), [(a, 7), (b, 5)]);
    }
}
