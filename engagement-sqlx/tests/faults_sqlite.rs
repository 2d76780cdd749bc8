//! Fault injection on SQLite (cases 31–33 of `bad-inputs.md`): a write lock held past the busy
//! timeout, concurrent writers that time out, every pooled connection busy, an export dropped
//! early. Each ends with a typed error in bounded time, nothing partial, and a usable pool.

#![cfg(feature = "sqlite")]

#[allow(dead_code)]
mod common;
mod reliability;

use std::collections::BTreeSet;
use std::time::Duration;

use engagement_core::{Error, Event, EventStore};
use engagement_sqlx::SqliteStore;
use engagement_sqlx::sqlx::{Connection, Executor, SqliteConnection};
use reliability::faults::{bounded, dropped_export, pool_exhaustion, still_serves};
use reliability::{count, sqlite_store, views, workspace};

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

/// Case 33: eight writers on a one-millisecond busy timeout. Every append either lands whole or
/// is refused whole with `Busy`; after the refused batches are sent again, every event is
/// stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_land_whole_or_not_at_all() {
    let store = sqlite_store(
        "contention",
        8,
        Duration::from_secs(10),
        Duration::from_millis(1),
    )
    .await;
    let ws = workspace("contention");
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (store, ws) = (store.clone(), ws.clone());
            tokio::spawn(async move {
                let (mut landed, mut refused) = (Vec::new(), Vec::new());
                for batch in views(&format!("w{w}"), 2_000, w * 10_000).chunks(100) {
                    match store.append(&ws, batch).await {
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
    let stored: BTreeSet<String> = stored_ids(&store, &ws).await;
    let want: BTreeSet<String> = landed.iter().map(|e| e.id.as_str().to_owned()).collect();
    assert_eq!(
        stored, want,
        "exactly the batches that succeeded are stored"
    );
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

async fn stored_ids(store: &dyn EventStore, ws: &engagement_core::WorkspaceId) -> BTreeSet<String> {
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
