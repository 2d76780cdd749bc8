//! The conformance suite and the differential test against the reference, on SQLite: one
//! database file (WAL) per case, so that no case waits for another's write lock (SQLite's busy
//! handler is not a fair queue: with every case of a loaded 2-core machine writing to one file,
//! a case could wait past the busy timeout).

#![cfg(feature = "sqlite")]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use engagement_sqlx::SqliteStore;

/// The folder of this binary's databases, under Cargo's temporary directory for tests; files
/// that earlier runs left and nobody touched for ten minutes (a run takes well under one) are
/// removed the first time.
fn databases() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("engagement-sqlx-sqlite");
        std::fs::create_dir_all(&dir).expect("create the test database directory");
        remove_stale_files(&dir);
        dir
    })
}

fn remove_stale_files(dir: &std::path::Path) {
    let stale_before = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified < stale_before);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A migrated store in a new file of its own (the process id keeps the process-`TZ` case's
/// children, which rerun cases, apart from this process).
async fn store() -> SqliteStore {
    static CASE: AtomicU64 = AtomicU64::new(0);
    let n = CASE.fetch_add(1, Ordering::Relaxed);
    let path = databases().join(format!("conformance-{}-{n}.db", std::process::id()));
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the SQLite test database");
    store
        .migrate()
        .await
        .expect("migrate the SQLite test database");
    store
}

engagement_core::conformance_tests!(store);

/// What only SQLite shows: the file, the ledger, prefixes and the write lock.
mod sqlite_only {
    use std::str::FromStr;
    use std::time::Duration;

    use engagement_core::{
        Customer, CustomerId, Error, Event, EventFilter, EventPageQuery, EventStore, PurgeMode,
        PurgeScope, TimeWindow, Timestamp, WorkspaceId, retention,
    };
    use engagement_sqlx::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use engagement_sqlx::sqlx::{Connection, Executor, Row, SqliteConnection};
    use engagement_sqlx::{SqliteStore, TablePrefix};
    use futures::StreamExt;

    fn events(prefix: &str, n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let at = Timestamp::from_micros(i64::try_from(i).unwrap_or(0));
                Event::new(format!("{prefix}-{i:05}"), CustomerId(1), "Page Viewed", at)
            })
            .collect()
    }

    async fn total(store: &dyn EventStore, ws: &WorkspaceId) -> u64 {
        let query = EventPageQuery {
            filter: EventFilter::new(TimeWindow::ALL),
            after: None,
            limit: 0,
        };
        store.event_page(ws, &query).await.expect("count").total
    }

    fn file(name: &str) -> String {
        let path = super::databases().join(format!("{name}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        format!("sqlite://{}", path.display())
    }

    /// The first column of every row `sql` returns, as text.
    async fn texts(store: &SqliteStore, sql: &'static str) -> Vec<String> {
        engagement_sqlx::sqlx::query(sql)
            .fetch_all(store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// A URL naming no file would give each connection a temporary database of its own: the
    /// writer's appends landed where no reader looked, and vanished on close. Refused.
    #[tokio::test]
    async fn a_url_naming_no_file_is_refused() {
        for url in ["sqlite://", "sqlite:", "sqlite://?mode=ro"] {
            match engagement_sqlx::connect(url).await {
                Err(Error::InvalidConfig { setting: "url", .. }) => {}
                other => panic!("{url:?}: {:?}", other.map(|_| "a store")),
            }
        }
    }

    /// A path that is no database (a text file, a directory) is a setting to fix, which no
    /// retry passes: `InvalidConfig`, not a retryable backend error.
    #[tokio::test]
    async fn a_path_that_is_no_database_is_a_setting_to_fix() {
        let dir = super::databases().join(format!("not-a-db-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a-directory.db")).expect("a directory");
        std::fs::write(dir.join("notes.db"), "meeting notes\n".repeat(200)).expect("a text file");
        for name in ["notes.db", "a-directory.db"] {
            let url = format!("sqlite://{}", dir.join(name).display());
            match engagement_sqlx::connect(&url).await {
                Err(error @ Error::InvalidConfig { setting: "url", .. }) => {
                    assert!(!error.is_retryable(), "{name}");
                }
                other => panic!("{name}: {:?}", other.map(|_| "a store")),
            }
        }
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// The URL's own mode is kept: `mode=rw` never creates the file (a mistyped path fails),
    /// and `mode=ro` reads a file the host made with its own pool (a rollback journal, which
    /// a read-only connection cannot switch to WAL).
    #[tokio::test]
    async fn the_urls_own_mode_is_kept() {
        let url = file("mode-rw-missing");
        let path = url.trim_start_matches("sqlite://").to_owned();
        let opened = SqliteStore::connect(&format!("{url}?mode=rw")).await;
        assert!(opened.is_err(), "opened a file that did not exist");
        assert!(!std::path::Path::new(&path).exists(), "created {path}");

        let url = file("mode-ro-host");
        let ws = WorkspaceId::new("ro").expect("workspace");
        let written = events("ro", 3);
        {
            let host = SqliteConnectOptions::from_str(&url)
                .expect("options")
                .create_if_missing(true);
            let pool = SqlitePoolOptions::new()
                .connect_with(host)
                .await
                .expect("the host's pool");
            let store = SqliteStore::new(pool);
            store.migrate().await.expect("migrate");
            store.append(&ws, &written).await.expect("append");
            store.close().await;
        }
        let reader = SqliteStore::connect(&format!("{url}?mode=ro"))
            .await
            .expect("a read-only store over the host's file");
        assert_eq!(total(&reader, &ws).await, 3);
        assert!(reader.append(&ws, &events("ro2", 1)).await.is_err());
        reader.close().await;
        let existing = SqliteStore::connect(&format!("{url}?mode=rw"))
            .await
            .expect("an existing file with mode=rw");
        assert_eq!(total(&existing, &ws).await, 3);
        existing.close().await;
    }

    #[tokio::test]
    async fn migrations_keep_their_own_ledger() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        store.migrate().await.expect("first migrate");
        store.migrate().await.expect("second migrate is a no-op");
        let tables = texts(
            &store,
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        )
        .await;
        assert_eq!(
            tables,
            [
                "engagement_customers",
                "engagement_daily",
                "engagement_events",
                "engagement_log_counts",
                "engagement_schema_migrations",
                "engagement_totals"
            ]
        );
        let applied: i64 =
            engagement_sqlx::sqlx::query("SELECT COUNT(*) FROM engagement_schema_migrations")
                .fetch_one(store.pool())
                .await
                .expect("read the ledger")
                .get(0);
        assert_eq!(applied, 7);
    }

    /// A purge takes what it deleted off the event log's per-day counts and drops the counts
    /// it brought to zero, on the days it deleted from only.
    #[tokio::test]
    async fn a_purge_drops_the_log_counts_it_empties() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        store.migrate().await.expect("migrate");
        let ws = WorkspaceId::new("w").expect("workspace");
        const DAY: i64 = 86_400_000_000;
        // Three UTC days, two names on each: four events a day.
        let stored: Vec<Event> = (0..12_i64)
            .map(|i| {
                let name = if i % 2 == 0 {
                    "Page Viewed"
                } else {
                    "Order Submitted"
                };
                let at = Timestamp::from_micros((i / 4) * DAY + (i % 4) * 1_000_000);
                Event::new(format!("e{i:02}"), CustomerId(1), name, at)
            })
            .collect();
        store.append(&ws, &stored).await.expect("append");
        let counts = "SELECT day || ':' || name || ':' || n FROM engagement_log_counts \
                      ORDER BY day, name";
        assert_eq!(texts(&store, counts).await.len(), 6, "two counts a day");

        // Everything of day 0 and half of day 1 goes.
        let cutoff = Timestamp::from_micros(DAY + 2_000_000);
        let scope = PurgeScope::Before { cutoff };
        store
            .purge(&ws, scope, PurgeMode::Delete)
            .await
            .expect("purge");
        assert_eq!(
            texts(&store, counts).await,
            [
                format!("{DAY}:Order Submitted:1"),
                format!("{DAY}:Page Viewed:1"),
                format!("{}:Order Submitted:2", 2 * DAY),
                format!("{}:Page Viewed:2", 2 * DAY),
            ]
        );
    }

    /// An export reads its chunks through SQLite's C API (`sqlite/large_reads.rs`): a row that
    /// someone else wrote with a value `append` never writes (a real where an integer belongs,
    /// bytes that are not UTF-8 in a text column) fails the export with a backend error that
    /// names the column, instead of a panic or a short export.
    #[tokio::test]
    async fn an_export_fails_on_a_row_it_cannot_read() {
        for (corruption, reason) in [
            (
                "UPDATE engagement_events SET customer = 2.5 WHERE id = 'x-00001'",
                "is a real or a blob",
            ),
            (
                "UPDATE engagement_events SET url = CAST(X'FF' AS TEXT) WHERE id = 'x-00001'",
                "invalid utf-8",
            ),
        ] {
            let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
            store.migrate().await.expect("migrate");
            let ws = WorkspaceId::new("w").expect("workspace");
            store.append(&ws, &events("x", 3)).await.expect("append");
            let all = || {
                engagement_core::store::export_events(
                    store.export(ws.clone(), EventFilter::new(TimeWindow::ALL)),
                )
            };
            assert_eq!(all().count().await, 3, "the export before the corruption");
            engagement_sqlx::sqlx::query(corruption)
                .execute(store.pool())
                .await
                .expect("corrupt a row");
            let read: Vec<_> = all().collect().await;
            let error = read
                .iter()
                .find_map(|r| r.as_ref().err())
                .unwrap_or_else(|| panic!("{corruption}: the export read {} events", read.len()));
            assert!(
                matches!(error, Error::Backend { .. }),
                "{corruption}: {error:?}"
            );
            let chain = format!("{:?}", error);
            assert!(
                chain.contains(reason),
                "{corruption}: the error says why: {chain}"
            );
        }
    }

    /// `.cargo/config.toml` builds the bundled SQLite without SQLITE_ENABLE_MEMORY_MANAGEMENT,
    /// so that reader connections do not share one page cache behind one mutex
    /// (docs/scaling.md, "Building SQLite"); this fails if that setting stops reaching the build.
    #[tokio::test]
    async fn the_bundled_sqlite_keeps_a_page_cache_per_connection() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        let options = texts(&store, "PRAGMA compile_options").await;
        assert!(
            options.iter().any(|o| o.starts_with("THREADSAFE=")),
            "the compile options were read: {options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "SQLite was built with ENABLE_MEMORY_MANAGEMENT: the LIBSQLITE3_FLAGS of \
             .cargo/config.toml did not reach the build (a LIBSQLITE3_FLAGS set in the \
             environment wins over it); compile options: {options:?}"
        );
    }

    /// The first column of the one row `sql` returns, as an integer.
    async fn int(store: &SqliteStore, sql: &'static str) -> i64 {
        engagement_sqlx::sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A file the store creates gets pages of 16 KiB; a file created before with smaller
    /// pages keeps them. Either way a connection checkpoints the log after 1 GiB of it,
    /// counted in that file's pages.
    #[tokio::test]
    async fn new_files_get_large_pages_and_the_log_is_checkpointed_by_the_gigabyte() {
        let store = SqliteStore::connect(&file("large-pages"))
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        assert_eq!(int(&store, "PRAGMA page_size").await, 16_384);
        assert_eq!(int(&store, "PRAGMA wal_autocheckpoint").await, 65_536);

        let url = file("small-pages");
        let host = SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true)
            .page_size(4_096);
        let mut conn = SqliteConnection::connect_with(&host).await.expect("create");
        conn.execute("CREATE TABLE host_notes (note TEXT)")
            .await
            .expect("the host's table");
        conn.close().await.expect("close");
        let store = SqliteStore::connect(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        assert_eq!(int(&store, "PRAGMA page_size").await, 4_096);
        assert_eq!(int(&store, "PRAGMA wal_autocheckpoint").await, 262_144);
    }

    #[tokio::test]
    async fn a_changed_migration_is_refused() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        store.migrate().await.expect("migrate");
        engagement_sqlx::sqlx::query("UPDATE engagement_schema_migrations SET checksum = 'x'")
            .execute(store.pool())
            .await
            .expect("tamper with the ledger");
        match store.migrate().await {
            Err(Error::Backend {
                backend: "sqlite",
                source,
            }) => {
                assert!(source.to_string().contains("changed"), "{source}");
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn prefixes_keep_stores_apart() {
        let default = SqliteStore::connect("sqlite::memory:").await.expect("open");
        let other = default
            .clone()
            .with_prefix(TablePrefix::new("other_").expect("prefix"));
        default.migrate().await.expect("migrate default");
        other.migrate().await.expect("migrate other");
        let ws = WorkspaceId::new("w").expect("workspace");
        default.append(&ws, &events("a", 3)).await.expect("append");
        assert_eq!(total(&default, &ws).await, 3);
        assert_eq!(total(&other, &ws).await, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_all_land() {
        let store = SqliteStore::connect(&file("concurrent"))
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let ws = WorkspaceId::new("w").expect("workspace");
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let (store, ws) = (store.clone(), ws.clone());
                tokio::spawn(async move {
                    for chunk in events(&format!("t{t}"), 200).chunks(50) {
                        store
                            .append(&ws, chunk)
                            .await
                            .expect("append under contention");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(total(&store, &ws).await, 1_600);
    }

    #[tokio::test]
    async fn a_held_write_lock_is_busy_and_writes_nothing() {
        let url = file("busy");
        let options: SqliteConnectOptions = url.parse().expect("url");
        let options = SqliteStore::options(options, false).busy_timeout(Duration::from_millis(50));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await
            .expect("open");
        let store = SqliteStore::new(pool);
        store.migrate().await.expect("migrate");
        let ws = WorkspaceId::new("w").expect("workspace");

        let mut holder = SqliteConnection::connect_with(&options)
            .await
            .expect("connect");
        holder
            .execute("BEGIN IMMEDIATE")
            .await
            .expect("take the write lock");
        match store.append(&ws, &events("b", 2)).await {
            Err(Error::Busy {
                backend: "sqlite", ..
            }) => {}
            other => panic!("expected Busy, got {other:?}"),
        }
        holder.execute("ROLLBACK").await.expect("release the lock");
        assert_eq!(total(&store, &ws).await, 0, "a busy append writes nothing");
        assert_eq!(
            store
                .append(&ws, &events("b", 2))
                .await
                .expect("retry")
                .inserted,
            2
        );
    }

    /// SQLite checkpoints its log on its own only every 1 GiB; a commit starts a checkpoint
    /// beside the writer (`engine/turn.rs`), so the appended pages reach the database file soon
    /// after, not once another GiB has been written.
    #[tokio::test]
    async fn an_idle_writer_copies_the_log_into_the_database() {
        let url = file("idle-checkpoint");
        let path = url.trim_start_matches("sqlite://").to_owned();
        let migrating = SqliteStore::connect(&url).await.expect("open");
        migrating.migrate().await.expect("migrate");
        migrating.close().await;
        // A store opened now has checkpointed nothing yet, so its first idle write does.
        let store = SqliteStore::connect(&url).await.expect("reopen");
        let ws = WorkspaceId::new("w").expect("workspace");
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
        let before = size();
        store
            .append(&ws, &events("i", 5_000))
            .await
            .expect("append");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while size() < before + 500_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file stayed at {} bytes (from {before}): the appended pages \
                 were not checkpointed",
                size()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(total(&store, &ws).await, 5_000);
    }

    /// `close` ends the writer's connection with the readers': the last one to go folds the
    /// write-ahead log into the file and removes it, the store answers `Closed` from then on,
    /// and the file opened again holds every append.
    #[tokio::test]
    async fn closing_folds_the_log_into_the_file_and_refuses_later_calls() {
        let url = file("close");
        let path = url.trim_start_matches("sqlite://").to_owned();
        let wal = format!("{path}-wal");
        let store = SqliteStore::connect(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        let ws = WorkspaceId::new("w").expect("workspace");
        let appended = events("c", 2_000);
        store.append(&ws, &appended).await.expect("append");
        assert!(std::path::Path::new(&wal).exists(), "a WAL while open");
        let clone = store.clone();

        store.close().await;

        assert!(
            !std::path::Path::new(&wal).exists(),
            "the log outlived the close"
        );
        assert!(matches!(
            clone.append(&ws, &events("late", 1)).await,
            Err(Error::Closed)
        ));
        assert!(matches!(
            clone.event(&ws, &appended[0].id).await,
            Err(Error::Closed)
        ));
        let reopened = SqliteStore::connect(&url).await.expect("reopen");
        assert_eq!(total(&reopened, &ws).await, 2_000);
    }

    /// An erasure leaves none of the customer's values in the database file: SQLite keeps
    /// deleted rows' bytes in free space unless `secure_delete` overwrites them, so the email,
    /// the name and an event's URL stayed readable in the file after `erase_customer`.
    #[tokio::test]
    async fn an_erased_customers_values_leave_the_file() {
        let url = file("erasure");
        let path = url.trim_start_matches("sqlite://").to_owned();
        let store = SqliteStore::connect(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        let ws = WorkspaceId::new("w").expect("workspace");
        let mut record = Customer::new(CustomerId(5), "Erasa", "Mequick");
        record.email = "erase-me-7f3a9@example.test".into();
        store
            .upsert_customers(&ws, &[record])
            .await
            .expect("upsert");
        // Enough events of theirs that whole pages of the tables and indexes empty.
        let mut others = events("kept", 500);
        others.extend((0..3_000).map(|i| {
            let at = Timestamp::from_micros(i);
            let mut event = Event::new(
                format!("secret-event-{i}"),
                CustomerId(5),
                "Page Viewed",
                at,
            );
            event.page.url = format!("https://shop.test/orders/private-9c1e2b-{i}");
            event
        }));
        store.append(&ws, &others).await.expect("append");
        let erased = retention::erase_customer(&store, &ws, CustomerId(5), PurgeMode::Delete)
            .await
            .expect("erase");
        assert_eq!(
            (erased.removed.events, erased.removed.customers),
            (3_000, 1)
        );
        store.close().await;
        let bytes = std::fs::read(&path).expect("read the file");
        let holds = |value: &str| bytes.windows(value.len()).any(|w| w == value.as_bytes());
        for value in [
            "erase-me-7f3a9@example.test",
            "private-9c1e2b",
            "Mequick",
            "secret-event",
        ] {
            assert!(
                !holds(value),
                "the file still holds {value:?} after the erasure"
            );
        }
        assert!(holds("kept-00499"), "the file holds what was kept");
    }

    /// `close` refuses every call that comes after it at once, the reads too, while it waits
    /// for a write in flight (here waiting for the lock another connection holds): it closed
    /// the writer's pool, waited for it, and only then the readers', which served reads
    /// meanwhile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_refuses_reads_while_a_write_finishes() {
        let url = file("close-in-flight");
        let store = SqliteStore::connect(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        let ws = WorkspaceId::new("w").expect("workspace");
        let appended = events("c", 1);
        store.append(&ws, &appended).await.expect("append");

        let options = SqliteConnectOptions::from_str(&url).expect("url");
        let mut other = SqliteConnection::connect_with(&options)
            .await
            .expect("another connection");
        other
            .execute("BEGIN IMMEDIATE")
            .await
            .expect("take the write lock");
        let write = {
            let (store, ws) = (store.clone(), ws.clone());
            tokio::spawn(async move { store.append(&ws, &events("late", 1)).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let close = {
            let store = store.clone();
            tokio::spawn(async move { store.close().await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let read = store.event(&ws, &appended[0].id).await;
        other
            .execute("ROLLBACK")
            .await
            .expect("release the write lock");
        let _ = write.await.expect("the write task");
        close.await.expect("the close task");
        assert!(
            matches!(read, Err(Error::Closed)),
            "a read after close: {read:?}"
        );
    }
}
