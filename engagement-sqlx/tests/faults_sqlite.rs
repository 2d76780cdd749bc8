//! Fault injection on SQLite (cases 31–33 of `bad-inputs.md`): a write lock held past the busy
//! timeout, concurrent writers that time out, every pooled connection busy, an export dropped
//! early. Each ends with a typed error in bounded time, nothing partial, and a usable pool.

#![cfg(feature = "sqlite")]

#[allow(dead_code)]
mod common;
mod reliability;

use std::collections::BTreeSet;
use std::time::Duration;

use common::count;
use engagement_core::{Error, Event, EventStore, WorkspaceId};
use engagement_sqlx::SqliteStore;
use engagement_sqlx::sqlx::{Connection, Executor, SqliteConnection};
use reliability::faults::{bounded, dropped_export, pool_exhaustion, still_serves};
use reliability::{sqlite_store, views, workspace};

/// Case 33: a batch bigger than SQLite's 32,766 placeholders (chunked inside one transaction)
/// meets a write lock held past the busy timeout: `Busy`, none of it stored, and a retry lands
/// it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_lock_makes_a_large_batch_busy_and_wholly_absent() {
    let busy = Duration::from_millis(200);
    let store = sqlite_store("held-lock", 2, Duration::from_secs(5), busy).await;
    let ws = workspace("held-lock");
    let batch = views("big", 20_000, 0);

    let mut holder = SqliteConnection::connect_with(&sqlite_options_of(&store))
        .await
        .expect("connect");
    holder
        .execute("BEGIN IMMEDIATE")
        .await
        .expect("take the write lock");
    let refused = bounded("an append against a held lock", store.append(&ws, &batch)).await;
    assert!(
        matches!(
            refused,
            Err(Error::Busy {
                backend: "sqlite",
                ..
            })
        ),
        "expected Busy, got {refused:?}"
    );
    holder.execute("ROLLBACK").await.expect("release the lock");

    assert_eq!(
        count(&store, &ws).await.expect("count"),
        0,
        "a busy append stores nothing"
    );
    let landed = store.append(&ws, &batch).await.expect("the retry");
    assert_eq!((landed.inserted, landed.duplicates), (20_000, 0));
    let again = store.append(&ws, &batch).await.expect("a second retry");
    assert_eq!((again.inserted, again.duplicates), (0, 20_000));
    still_serves(&store, &ws, 20_000).await;
}

/// The options the store's pool connects with (same file, same settings).
fn sqlite_options_of(store: &SqliteStore) -> engagement_sqlx::sqlx::sqlite::SqliteConnectOptions {
    (*store.pool().connect_options()).clone()
}

/// Case 33 as several processes meet it: eight writers over one file, each its own store (its
/// own turn-taking), with a 1 ms busy timeout, so a batch that cannot take the lock in time
/// is refused whole with `Busy`; after the refused batches are sent again, every event is
/// stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_land_whole_or_not_at_all() {
    let store = contended_store("contention").await;
    let ws = workspace("contention");
    let writers = (0..8)
        .map(|_| SqliteStore::new(store.pool().clone()))
        .collect();
    let (landed, refused) = contend(&store, &ws, writers).await;
    eprintln!(
        "sqlite contention: {} batches landed, {} refused with Busy",
        landed.len() / 100,
        refused.len()
    );
    for batch in &refused {
        let outcome = store
            .append(&ws, batch)
            .await
            .expect("a retry without contention");
        assert_eq!(outcome.inserted, 100, "a refused batch left nothing behind");
    }
    assert_eq!(count(&store, &ws).await.expect("count"), 16_000);
}

/// The same eight writers as clones of one store: they take turns in the process, so none
/// meets SQLite's lock past even a 1 ms busy timeout (before the turns, about 140 of the 160
/// batches were refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stores_writers_take_turns_without_busy() {
    let store = contended_store("turns").await;
    let ws = workspace("turns");
    let writers = (0..8).map(|_| store.clone()).collect();
    let (landed, refused) = contend(&store, &ws, writers).await;
    assert_eq!(refused.len(), 0, "no batch refused with Busy");
    assert_eq!(landed.len(), 16_000);
    assert_eq!(count(&store, &ws).await.expect("count"), 16_000);
}

async fn contended_store(name: &str) -> SqliteStore {
    sqlite_store(name, 8, Duration::from_secs(10), Duration::from_millis(1)).await
}

/// Each writer appends 2,000 events of its own to `ws` in batches of 100; returns the events
/// of the batches that landed and the batches refused with `Busy`, after checking that
/// exactly the landed ones are stored.
async fn contend(
    store: &SqliteStore,
    ws: &WorkspaceId,
    writers: Vec<SqliteStore>,
) -> (Vec<Event>, Vec<Vec<Event>>) {
    let tasks: Vec<_> = (0_i64..)
        .zip(writers)
        .map(|(w, writer)| {
            let ws = ws.clone();
            tokio::spawn(async move {
                let (mut landed, mut refused) = (Vec::new(), Vec::new());
                for batch in views(&format!("w{w}"), 2_000, w * 10_000).chunks(100) {
                    match writer.append(&ws, batch).await {
                        Ok(outcome) => {
                            assert_eq!(outcome.inserted, 100, "a fresh batch lands whole");
                            landed.extend_from_slice(batch);
                        }
                        Err(Error::Busy { .. }) => refused.push(batch.to_vec()),
                        Err(e) => panic!("a writer failed with something other than Busy: {e}"),
                    }
                }
                (landed, refused)
            })
        })
        .collect();
    let (mut landed, mut refused): (Vec<Event>, Vec<Vec<Event>>) = (Vec::new(), Vec::new());
    for task in tasks {
        let (l, r) = bounded("a writer", task).await.expect("a writer panicked");
        landed.extend(l);
        refused.extend(r);
    }
    let stored: BTreeSet<String> = stored_ids(store, ws).await;
    let want: BTreeSet<String> = landed.iter().map(|e| e.id.as_str().to_owned()).collect();
    assert_eq!(
        stored, want,
        "exactly the batches that succeeded are stored"
    );
    (landed, refused)
}

async fn stored_ids(store: &dyn EventStore, ws: &WorkspaceId) -> BTreeSet<String> {
    let (events, error) = reliability::faults::drain(store, ws).await;
    assert!(error.is_none(), "export: {error:?}");
    events.iter().map(|e| e.id.as_str().to_owned()).collect()
}

/// Case 32 on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_busy_is_a_typed_timeout() {
    let acquire = Duration::from_millis(300);
    let store = sqlite_store("exhausted", 2, acquire, Duration::from_secs(5)).await;
    pool_exhaustion(&store, store.pool(), "sqlite", acquire).await;
}

/// Case 31 on SQLite, on a pool of one connection: after the dropped export that connection
/// has no transaction open (a `BEGIN` on it succeeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_export_gives_its_connection_back_clean() {
    let store = sqlite_store("dropped", 1, Duration::from_secs(5), Duration::from_secs(5)).await;
    dropped_export(&store).await;
    let mut conn = store.pool().acquire().await.expect("the only connection");
    conn.execute("BEGIN")
        .await
        .expect("no transaction is left open");
    conn.execute("ROLLBACK").await.expect("rollback");
}
