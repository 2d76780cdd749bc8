//! Appends start in the order their batches closed.
//!
//! Each append task waits for the one dispatched before it to have *started* (its first poll
//! returned), not to have finished, so appends into a store that awaits I/O still overlap. A
//! store that does all its work in the first poll (the in-memory one: one write lock, no I/O)
//! then receives the batches in the order they closed, which is the order their events
//! arrived: a batch overtaking an older one would make the older one land late, and a late
//! batch costs a time-ordered store a move of everything stored after it. And a task waiting
//! for its turn waits asynchronously, where it would otherwise block a runtime thread on the
//! store's lock.

use std::pin::pin;
use std::task::Poll;

use tokio::sync::oneshot;

/// Hands out the turns of the append tasks, in dispatch order.
#[derive(Debug, Default)]
pub(crate) struct Turns {
    /// Signalled once the last turn handed out has started.
    last: Option<oneshot::Receiver<()>>,
}

impl Turns {
    /// The turn after every one handed out so far.
    pub(crate) fn next(&mut self) -> Turn {
        let (started, next) = oneshot::channel();
        Turn {
            after: self.last.replace(next),
            started,
        }
    }
}

/// One append task's place in the order.
#[derive(Debug)]
pub(crate) struct Turn {
    /// Signalled once the previous turn has started; `None` for the first turn.
    after: Option<oneshot::Receiver<()>>,
    /// Signals the next turn.
    started: oneshot::Sender<()>,
}

impl Turn {
    /// Waits for the previous turn to start, then runs `work`, letting the next turn start as
    /// soon as `work`'s first poll has returned. A previous turn dropped without running (its
    /// task stopped) lets this one start at once.
    pub(crate) async fn run<F: Future>(self, work: F) -> F::Output {
        if let Some(after) = self.after {
            // An error means the previous turn was dropped: nothing left to wait for.
            let _ = after.await;
        }
        let mut work = pin!(work);
        let first = futures::poll!(work.as_mut());
        // The next turn may have been dropped already; it has nothing to start then.
        let _ = self.started.send(());
        match first {
            Poll::Ready(output) => output,
            Poll::Pending => work.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_starts_in_the_order_the_turns_were_handed_out() {
        let mut turns = Turns::default();
        let handed: Vec<Turn> = (0..16).map(|_| turns.next()).collect();
        let started = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Spawned last turn first: each must still wait for the one before it.
        for (i, turn) in handed.into_iter().enumerate().rev() {
            let started = started.clone();
            tasks.push(tokio::spawn(turn.run(async move {
                started.lock().unwrap().push(i);
                // Suspends once, so the next turn starts before this one ends.
                tokio::task::yield_now().await;
            })));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*started.lock().unwrap(), (0..16).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn the_next_turn_starts_while_the_work_before_it_still_waits() {
        let mut turns = Turns::default();
        let (first, second) = (turns.next(), turns.next());
        let (open, opened) = oneshot::channel::<()>();
        let waiting = tokio::spawn(first.run(async move { opened.await.is_ok() }));
        assert_eq!(second.run(async { 2 }).await, 2);
        open.send(()).unwrap();
        assert!(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn a_turn_dropped_without_running_does_not_hold_up_the_next() {
        let mut turns = Turns::default();
        let (dropped, next) = (turns.next(), turns.next());
        drop(dropped);
        let ran = tokio::time::timeout(Duration::from_secs(5), next.run(async { 7 })).await;
        assert_eq!(
            ran.ok(),
            Some(7),
            "the next turn waited for one that never runs"
        );
    }
}
