//! Bulk import: good lines are stored, bad ones are listed with their line numbers.

use engagement_core::csv::{CsvOptions, EventLogCsv};
use engagement_core::import::{
    self, CsvLines, ImportLine, ImportOptions, ImportReport, LineError, LineErrorKind, NdjsonLines,
};
use engagement_core::store::export_events;
use engagement_core::{
    Actor, CustomerId, Device, Error, Event, EventFilter, EventStore, ReferenceStore, TimeWindow,
    Timestamp, WorkspaceId, names,
};
use futures::TryStreamExt;

fn now() -> Timestamp {
    "2026-11-20T00:00:00Z".parse().unwrap()
}

fn ws() -> WorkspaceId {
    WorkspaceId::new("acme").unwrap()
}

async fn run<I>(store: &ReferenceStore, lines: I, options: &ImportOptions) -> ImportReport
where
    I: IntoIterator<Item = Result<ImportLine, LineError>>,
    I::IntoIter: Send,
{
    import::import(store, &ws(), lines, options, now(), &mut |_| {})
        .await
        .unwrap()
}

async fn stored(store: &ReferenceStore) -> Vec<Event> {
    export_events(store.export(ws(), EventFilter::new(TimeWindow::ALL)))
        .try_collect()
        .await
        .unwrap()
}

const MIXED_CSV: &str = "event_id,customer_id,name,occurred_at,path,device,ip,metadata\n\
e1,1,Page Viewed,2026-11-19T10:00:00Z,/a,Mobile,81.2.69.142,\n\
e2,one,Page Viewed,2026-11-19T10:00:00Z,/a,,,\n\
e3,2,Modal Displayed,2026-11-19T10:01:00Z,/b,,,\"{\"\"modal\"\":\n\"\"meter\"\"}\"\n\
e4,2,Page Viewed,2026-11-19T10:02:00Z,/c,Phone,,\n\
e5,3,Page Viewed,2030-01-01T00:00:00Z,/d,,,\n\
e6,3,Subscribed,2026-11-19T10:03:00Z,/e,tablet,::1,\n";

#[tokio::test]
async fn bad_csv_lines_are_listed_and_the_good_ones_stored() {
    let store = ReferenceStore::default();
    let report = run(
        &store,
        CsvLines::new(MIXED_CSV.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    assert_eq!(
        (report.lines, report.inserted, report.rejected),
        (6, 3, 3),
        "{:?}",
        report.errors
    );
    assert!(!report.stopped);
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    // e3's quoted metadata spans lines 4 and 5, so e4 is on line 6 and e5 on line 7.
    assert_eq!(lines, [3, 6, 7]);
    assert!(matches!(
        report.errors[0].kind,
        LineErrorKind::Malformed { .. }
    ));
    assert!(matches!(
        report.errors[1].kind,
        LineErrorKind::Field {
            field: "device",
            ..
        }
    ));
    assert!(matches!(
        report.errors[2].kind,
        LineErrorKind::Field {
            field: "occurred_at",
            ..
        }
    ));

    let events = stored(&store).await;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e1", "e3", "e6"]);
    assert_eq!(events[0].device, Some(Device::Mobile));
    assert_eq!(events[0].ip, Some("81.2.69.142".parse().unwrap()));
    assert_eq!(events[0].received_at, now());
    assert_eq!(events[1].name, names::MODAL_DISPLAYED);
    assert_eq!(events[1].metadata["modal"], "meter");
    assert_eq!(events[2].device, Some(Device::Tablet));
}

#[tokio::test]
async fn stop_on_error_keeps_the_lines_before_and_nothing_after() {
    let store = ReferenceStore::default();
    let options = ImportOptions {
        stop_on_error: true,
        ..ImportOptions::default()
    };
    let report = run(&store, CsvLines::new(MIXED_CSV.as_bytes()), &options).await;
    assert!(report.stopped);
    assert_eq!((report.lines, report.inserted, report.rejected), (2, 1, 1));
    assert_eq!(report.errors[0].line, 3);
    assert_eq!(stored(&store).await.len(), 1);
}

#[tokio::test]
async fn ndjson_lines_with_blank_and_broken_ones() {
    let data = b"{\"event_id\":\"n1\",\"customer_id\":4,\"name\":\"Page Viewed\",\"occurred_at\":\"2026-11-19T09:00:00+02:00\",\"actor\":\"staff\",\"metadata\":{\"k\":[1,2]}}\n\
\n\
{\"event_id\":\"n2\",\"customer_id\":4,\"name\":\"\xff\xfe\",\"occurred_at\":\"2026-11-19T09:00:00Z\"}\n\
not json\n\
{\"id\":\"n3\",\"customer\":5,\"name\":\"Registered\",\"occurred_at\":\"2026-11-19T09:30:00Z\",\"metadata\":[1]}\n\
{\"id\":\"n4\",\"customer\":5,\"name\":\"  \",\"occurred_at\":\"2026-11-19T09:30:00Z\"}\n\
{\"id\":\"n5\",\"customer\":5,\"name\":\"Registered\",\"occurred_at\":\"2026-11-19T09:31:00Z\"}";
    let store = ReferenceStore::default();
    let report = run(
        &store,
        NdjsonLines::new(&data[..]),
        &ImportOptions::default(),
    )
    .await;
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert!(matches!(
        report.errors[3].kind,
        LineErrorKind::Field { field: "name", .. }
    ));
    assert_eq!((report.lines, report.inserted), (6, 2));
    let events = stored(&store).await;
    assert_eq!(events[0].actor, Actor::Staff);
    assert_eq!(
        events[0].occurred_at,
        "2026-11-19T07:00:00Z".parse().unwrap()
    );
    assert_eq!(events[0].metadata["k"], serde_json::json!([1, 2]));
    assert_eq!(events[1].id.as_str(), "n5");
}

#[tokio::test]
async fn a_reimport_counts_duplicates_not_new_events() {
    let store = ReferenceStore::default();
    let options = ImportOptions {
        batch_size: 2,
        ..ImportOptions::default()
    };
    let mut progress_calls = 0;
    let first = import::import(
        &store,
        &ws(),
        CsvLines::new(MIXED_CSV.as_bytes()),
        &options,
        now(),
        &mut |r| {
            assert!(r.inserted <= 3);
            progress_calls += 1;
        },
    )
    .await
    .unwrap();
    assert!(progress_calls >= 2);
    let second = run(&store, CsvLines::new(MIXED_CSV.as_bytes()), &options).await;
    assert_eq!((first.inserted, first.duplicates), (3, 0));
    assert_eq!((second.inserted, second.duplicates), (0, 3));
    assert_eq!(stored(&store).await.len(), 3);
}

#[tokio::test]
async fn a_batch_size_the_store_cannot_take_is_refused_before_anything_is_read() {
    let store = ReferenceStore::default();
    let most = ImportOptions::default().limits.max_batch_events;
    for batch_size in [0, most + 1] {
        let options = ImportOptions {
            batch_size,
            ..ImportOptions::default()
        };
        let lines = CsvLines::new(MIXED_CSV.as_bytes());
        let err = import::import(&store, &ws(), lines, &options, now(), &mut |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidQuery {
                    field: "batch_size",
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(stored(&store).await.is_empty());
    let options = ImportOptions {
        batch_size: most,
        ..ImportOptions::default()
    };
    assert_eq!(
        run(&store, CsvLines::new(MIXED_CSV.as_bytes()), &options)
            .await
            .inserted,
        3
    );
}

#[tokio::test]
async fn an_event_log_export_imports_back_unchanged() {
    let mut original = Event::new("x,1", CustomerId(9), names::PAGE_VIEWED, now());
    original.occurred_at = "2026-11-19T12:34:56.123456Z".parse().unwrap();
    original.actor = Actor::System;
    original.page.url = "https://shop.acme.test/p?q=1".into();
    original.page.path = "/p".into();
    original.page.domain = "shop.acme.test".into();
    original.geo.country = "SE".into();
    original.geo.city = "Linköping".into();
    original.device = Some(Device::Desktop);
    original.ip = Some("2001:db8::1".parse().unwrap());
    original.metadata.insert("plan".into(), "pro".into());
    let mut csv = EventLogCsv::new(Vec::new(), CsvOptions::default()).unwrap();
    csv.write_event(&original).unwrap();
    let bytes = csv.finish().unwrap();

    let store = ReferenceStore::default();
    let report = run(&store, CsvLines::new(&bytes[..]), &ImportOptions::default()).await;
    assert_eq!(
        (report.inserted, report.rejected),
        (1, 0),
        "{:?}",
        report.errors
    );
    let back = store.event(&ws(), &original.id).await.unwrap().unwrap();
    assert!(back.same_payload(&original), "{back:?}");
}

// ---------------------------------------------------------------------------------------------
// Fuzzing (issue 7, part 5): random bytes never panic a reader, and random events survive an
// export → import round trip exactly.

mod fuzz {
    use std::net::IpAddr;

    use engagement_core::csv::{CsvOptions, EventLogCsv};
    use engagement_core::import::{CsvLines, ImportLine, ImportOptions, LineError, NdjsonLines};
    use engagement_core::{Actor, CustomerId, Device, Event, ReferenceStore, Timestamp};
    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::Value;

    use super::{now, run, stored};

    /// What a reader must always do with any input: number lines upwards, stop after an
    /// unreadable source, and never panic.
    fn assert_well_formed(items: &[Result<ImportLine, LineError>]) {
        let mut last = 0;
        for (i, item) in items.iter().enumerate() {
            let line = match item {
                Ok(ok) => ok.line,
                Err(e) => e.line,
            };
            assert!(line >= 1 && line >= last, "line numbers go up: {items:?}");
            last = line;
            if let Err(e) = item {
                let fatal = e.to_string().contains("cannot read further");
                assert!(
                    !fatal || i + 1 == items.len(),
                    "nothing after a fatal error"
                );
            }
        }
    }

    /// Text with every character CSV and formulas care about, and none that validation refuses.
    fn arb_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 ,;\"'=+@/\\-é😀]{0,12}"
    }

    fn arb_word() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9,\"'=+@/\\-é😀][a-zA-Z0-9 ,\"'=+@/\\-é😀]{0,10}[a-zA-Z0-9,\"'=+@/\\-é😀]"
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        (
            (
                arb_word(),
                1_i64..1_000_000,
                arb_word(),
                0_i64..30 * 86_400_000_000,
            ),
            (
                select(Actor::ALL.to_vec()),
                [arb_text(), arb_text(), arb_text(), arb_text()],
            ),
            [arb_text(), arb_text(), arb_text(), arb_text()],
            proptest::option::of(select(vec![
                Device::Desktop,
                Device::Mobile,
                Device::Tablet,
            ])),
            proptest::option::of(any::<IpAddr>()),
            proptest::collection::btree_map("[a-z]{1,6}", arb_text(), 0..3),
        )
            .prop_map(
                |((id, customer, name, ago), (actor, page), geo, device, ip, meta)| {
                    let at = Timestamp::from_micros(now().as_micros() - 1 - ago);
                    let mut event = Event::new(id, CustomerId(customer), name, at);
                    event.actor = actor;
                    let [url, path, domain, referrer] = page;
                    (event.page.url, event.page.path, event.page.domain) = (url, path, domain);
                    event.page.referrer = referrer;
                    let [country, region, city, zone] = geo;
                    (event.geo.country, event.geo.region) = (country, region);
                    (event.geo.city, event.geo.zone) = (city, zone);
                    event.device = device;
                    event.ip = ip;
                    event.metadata = meta.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
                    event
                },
            )
    }

    fn export_csv(events: &[Event]) -> Vec<u8> {
        let options = CsvOptions::default().with_formula_guard(false);
        let mut csv = EventLogCsv::new(Vec::new(), options).unwrap();
        for event in events {
            csv.write_event(event).unwrap();
        }
        csv.finish().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_bytes_read_as_csv_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let items: Vec<_> = CsvLines::new(&bytes[..]).collect();
            assert_well_formed(&items);
        }

        #[test]
        fn any_text_reads_as_ndjson_without_panic(text in "(\\PC|[{}\\[\\]\":,\n])*") {
            let items: Vec<_> = NdjsonLines::new(text.as_bytes()).collect();
            assert_well_formed(&items);
        }

        #[test]
        fn csv_like_rows_read_without_panic(rows in proptest::collection::vec("[a-z0-9,\"\n\r:.TZ{} -]{0,30}", 0..8)) {
            let text = format!("event_id,customer_id,name,occurred_at,metadata\n{}", rows.join("\n"));
            let items: Vec<_> = CsvLines::new(text.as_bytes()).collect();
            assert_well_formed(&items);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every field of every event comes back as it was exported (formula guard off, as for
        /// a machine reader), whatever quotes, commas, formula characters and non-ASCII it holds.
        #[test]
        fn exported_events_import_back_exactly(events in proptest::collection::vec(arb_event(), 1..8)) {
            let events: Vec<Event> = events
                .into_iter()
                .enumerate()
                .map(|(i, mut e)| { e.id = format!("{i}:{}", e.id).into(); e })
                .collect();
            let bytes = export_csv(&events);
            let store = ReferenceStore::default();
            let report = futures::executor::block_on(run(&store, CsvLines::new(&bytes[..]), &ImportOptions::default()));
            prop_assert_eq!(report.inserted, events.len() as u64, "{:?}", report.errors);
            let back = futures::executor::block_on(stored(&store));
            for event in &events {
                let found = back.iter().find(|b| b.id == event.id);
                prop_assert!(found.is_some_and(|b| b.same_payload(event)), "{event:?} came back as {found:?}");
            }
        }

        /// Bad lines among good ones cost only themselves, and are reported by line number.
        #[test]
        fn bad_lines_cost_only_themselves(events in proptest::collection::vec((arb_event(), any::<bool>()), 1..10)) {
            let mut text = String::from("event_id,customer_id,name,occurred_at\n");
            let mut bad_lines = Vec::new();
            for (i, (event, good)) in events.iter().enumerate() {
                let customer = if *good { event.customer.0.to_string() } else { format!("#{}", event.customer.0) };
                text.push_str(&format!("e{i},{customer},Page Viewed,{}\n", event.occurred_at));
                if !good {
                    bad_lines.push(i as u64 + 2);
                }
            }
            let store = ReferenceStore::default();
            let report = futures::executor::block_on(run(&store, CsvLines::new(text.as_bytes()), &ImportOptions::default()));
            let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
            prop_assert_eq!(lines, bad_lines.clone());
            prop_assert_eq!(report.inserted as usize, events.len() - bad_lines.len());
            let kept = futures::executor::block_on(stored(&store));
            prop_assert_eq!(kept.len(), events.len() - bad_lines.len());
        }
    }
}
