//! Bulk import: good lines are stored, bad ones are listed with their line numbers.

use std::io::{self, BufReader, Read};

use engagement_core::csv::{CsvOptions, EventLogCsv};
use engagement_core::import::{
    self, CsvLines, DEFAULT_MAX_LINE_BYTES, ImportLine, ImportOptions, ImportReport, LineError,
    LineErrorKind, NdjsonLines,
};
use engagement_core::store::export_events;
use engagement_core::{
    Actor, CustomerId, Device, Error, Event, EventFilter, EventStore, ReferenceStore, TimeWindow,
    Timestamp, WorkspaceId, names,
};
use futures::TryStreamExt;
use proptest::prelude::*;

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

/// An NDJSON line holding the deepest metadata validation takes imports: serde_json's limit of
/// 128 levels counts the line's own object too.
#[tokio::test]
async fn an_ndjson_line_with_the_deepest_metadata_taken_imports() {
    let mut deep = serde_json::json!(1);
    for _ in 1..engagement_core::MAX_READABLE_METADATA_DEPTH {
        deep = serde_json::json!({ "k": deep });
    }
    let line = serde_json::json!({
        "event_id": "deep",
        "customer_id": 1,
        "name": "Page Viewed",
        "occurred_at": "2026-11-19T11:00:00Z",
        "metadata": { "k": deep },
    })
    .to_string();
    let options = ImportOptions {
        limits: engagement_core::Limits {
            max_metadata_depth: engagement_core::MAX_READABLE_METADATA_DEPTH,
            ..engagement_core::Limits::default()
        },
        ..ImportOptions::default()
    };
    let store = ReferenceStore::default();
    let report = run(&store, NdjsonLines::new(line.as_bytes()), &options).await;
    assert_eq!(report.inserted, 1, "{:?}", report.errors);
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
        let read = std::sync::atomic::AtomicBool::new(false);
        let lines = CsvLines::new(MIXED_CSV.as_bytes())
            .inspect(|_| read.store(true, std::sync::atomic::Ordering::Relaxed));
        let err = import::import(&store, &ws(), lines, &options, now(), &mut |_| {})
            .await
            .unwrap_err();
        assert!(
            !read.load(std::sync::atomic::Ordering::Relaxed),
            "a line was read"
        );
        assert!(
            matches!(
                err,
                Error::InvalidConfig {
                    setting: "batch_size",
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
    // With a `metadata.plan` column too, which the import takes and ignores.
    assert_imports_back(&original, &["plan"]).await;
}

/// Asserts that `original`, exported with a `metadata.<key>` column for each of `keys`,
/// imports back as it was.
async fn assert_imports_back(original: &Event, keys: &[&str]) {
    let mut csv =
        EventLogCsv::with_metadata_columns(Vec::new(), keys.iter().copied(), CsvOptions::default())
            .unwrap();
    csv.write_event(original).unwrap();
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
    assert!(back.same_payload(original), "{back:?}");
}

/// Metadata keys with whitespace around them are stored as they are, so their export's
/// `metadata.<key>` columns keep it, and the import reads the key as written (it trimmed
/// header cells, so `metadata.plan ` was checked against `"plan"` and the row refused).
#[tokio::test]
async fn metadata_keys_with_whitespace_around_them_import_back() {
    let keys = ["plan ", " ", " seats\t", "line\n"];
    let mut original = Event::new("e1", CustomerId(7), names::PAGE_VIEWED, now());
    for (i, key) in keys.into_iter().enumerate() {
        original.metadata.insert(key.into(), format!("v{i}").into());
    }
    assert_imports_back(&original, &keys).await;
    // The other columns' names are still read without the whitespace around them.
    let padded =
        " event_id , customer_id,name\t,occurred_at \ne2,7,Page Viewed,2026-11-19T10:00:00Z\n";
    let lines: Vec<_> = CsvLines::new(padded.as_bytes()).collect();
    assert!(
        matches!(&lines[..], [Ok(line)] if line.event.id.as_str() == "e2"),
        "{lines:?}"
    );
}

/// A header column no field takes ends the import, and the report says it stopped there (it
/// said `stopped: false`, counting the header as one refused data line).
#[tokio::test]
async fn a_header_column_no_field_takes_stops_the_csv_unless_ignored() {
    let data = "event_id,customer_id,name,occurred_at,refferer\n\
                e1,7,Page Viewed,2026-11-19T10:00:00Z,https://ref.test/\n";
    let lines: Vec<_> = CsvLines::new(data.as_bytes()).collect();
    match &lines[..] {
        [
            Err(LineError {
                line: 1,
                kind: LineErrorKind::UnknownColumn { column },
            }),
        ] => assert_eq!(column, "refferer"),
        other => panic!("{other:?}"),
    }
    let store = ReferenceStore::default();
    let report = run(
        &store,
        CsvLines::new(data.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    assert!(report.stopped, "{report:?}");
    assert_eq!((report.lines, report.inserted, report.rejected), (0, 0, 0));
    assert_eq!(
        report.errors,
        lines
            .into_iter()
            .filter_map(Result::err)
            .collect::<Vec<_>>()
    );
    assert!(stored(&store).await.is_empty());

    let lenient = CsvLines::new(data.as_bytes()).ignore_unknown_columns(true);
    let report = run(&store, lenient, &ImportOptions::default()).await;
    assert_eq!((report.inserted, report.rejected), (1, 0), "{report:?}");
}

/// A header without a column every event needs stops the import once, with the column named,
/// instead of refusing every row for it (a million rows, a million errors).
#[tokio::test]
async fn a_header_without_a_required_column_stops_the_csv_once() {
    let data = "event_id,customer_id,name,path\ne1,7,Page Viewed,/a\ne2,7,Page Viewed,/b\n";
    let store = ReferenceStore::default();
    let lenient = CsvLines::new(data.as_bytes()).ignore_unknown_columns(true);
    let report = run(&store, lenient, &ImportOptions::default()).await;
    assert!(report.stopped, "{report:?}");
    assert_eq!((report.lines, report.rejected), (0, 0));
    match &report.errors[..] {
        [
            LineError {
                line: 1,
                kind: LineErrorKind::MissingColumn { column },
            },
        ] => assert_eq!(column, "occurred_at"),
        other => panic!("{other:?}"),
    }
    // An alias names the column as well as its name does.
    let aliased = "id,customer,name,occurred_at\ne1,7,Page Viewed,2026-11-19T10:00:00Z\n";
    let report = run(
        &store,
        CsvLines::new(aliased.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    assert_eq!((report.inserted, report.rejected), (1, 0), "{report:?}");
}

/// A header naming one field twice (a column repeated, or a field beside its alias) stops the
/// import once, with the column named: no row could say which of the two cells holds the
/// field, and each was refused on its own (a million rows, a million errors).
#[tokio::test]
async fn a_header_naming_a_field_twice_stops_the_csv_once() {
    let store = ReferenceStore::default();
    for (header, column) in [
        ("event_id,customer_id,name,occurred_at,name", "name"),
        ("event_id,customer_id,name,occurred_at,id", "id"),
        (
            "customer,event_id,customer_id,name,occurred_at",
            "customer_id",
        ),
    ] {
        let data = format!("{header}\ne1,7,Page Viewed,2026-11-19T10:00:00Z,x\n");
        let report = run(
            &store,
            CsvLines::new(data.as_bytes()),
            &ImportOptions::default(),
        )
        .await;
        assert!(report.stopped, "{header}: {report:?}");
        assert_eq!((report.lines, report.rejected), (0, 0), "{header}");
        match &report.errors[..] {
            [
                LineError {
                    line: 1,
                    kind: LineErrorKind::DuplicateColumn { column: named },
                },
            ] => assert_eq!(named, column, "{header}"),
            other => panic!("{header}: {other:?}"),
        }
    }
    assert!(stored(&store).await.is_empty());
    // Columns no field takes may repeat where they are read past.
    let data = "event_id,customer_id,name,occurred_at,note,note\ne1,7,Page Viewed,2026-11-19T10:00:00Z,a,b\n";
    let lenient = CsvLines::new(data.as_bytes()).ignore_unknown_columns(true);
    let report = run(&store, lenient, &ImportOptions::default()).await;
    assert_eq!((report.inserted, report.rejected), (1, 0), "{report:?}");
}

/// An export's `metadata.<key>` columns are taken beside the `metadata` column that holds the
/// whole object; without it their values would be lost, so they are unknown columns (they
/// were dropped unseen).
#[test]
fn metadata_key_columns_need_the_metadata_column() {
    let without = format!("{HEADER},metadata.plan\n{},pro\n", row("e1"));
    let items: Vec<_> = CsvLines::new(without.as_bytes()).collect();
    assert!(
        matches!(&items[..], [Err(LineError { kind: LineErrorKind::UnknownColumn { column }, .. })] if column == "metadata.plan"),
        "{items:?}"
    );
    let with = format!(
        "{HEADER},metadata,metadata.plan\n{},\"{{\"\"plan\"\":\"\"pro\"\"}}\",pro\n",
        row("e1")
    );
    let items: Vec<_> = CsvLines::new(with.as_bytes()).collect();
    let event = &items[0].as_ref().expect("read").event;
    assert_eq!(event.metadata["plan"], "pro");
}

/// A `metadata.<key>` cell edited in a spreadsheet (or the `metadata` column edited without it)
/// refuses its row with both values named: neither is dropped unseen nor guessed to win. A
/// number may be spelt any way that has its value.
#[test]
fn a_metadata_key_column_that_disagrees_with_the_metadata_refuses_its_row() {
    let header = format!("{HEADER},metadata,metadata.plan,metadata.seats");
    let meta = "\"{\"\"plan\"\":\"\"pro\"\",\"\"seats\"\":5}\"";
    // 2^53 + 1: an `f64` cannot tell it from 2^53.
    let big = "\"{\"\"plan\"\":\"\"pro\"\",\"\"seats\"\":9007199254740993}\"";
    let data = [
        format!("{header}\n"),
        format!("{},{meta},pro,5\n", row("same")),
        format!("{},{meta},pro,5.0\n", row("five-point-zero")),
        format!("{},{meta},basic,5\n", row("edited-cell")),
        format!("{},{meta},pro,\n", row("cleared-cell")),
        format!("{},{{}},pro,\n", row("edited-metadata")),
        format!(
            "{},{big},pro,9007199254740992\n",
            row("edited-large-integer")
        ),
    ]
    .concat();
    let items: Vec<_> = CsvLines::new(data.as_bytes()).collect();
    let outcome: Vec<Result<&str, String>> = items
        .iter()
        .map(|item| match item {
            Ok(line) => Ok(line.event.id.as_str()),
            Err(LineError {
                kind:
                    LineErrorKind::Field {
                        field: "metadata",
                        reason,
                    },
                ..
            }) => Err(reason.clone()),
            Err(other) => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(outcome[..2], [Ok("same"), Ok("five-point-zero")]);
    let refused = |i: usize| outcome[i].clone().expect_err("refused");
    assert!(
        refused(2).contains("`metadata.plan` says \"basic\"") && refused(2).contains("\"pro\""),
        "{}",
        refused(2)
    );
    assert!(
        refused(3).contains("`metadata.seats` says \"\"") && refused(3).contains("holds 5"),
        "{}",
        refused(3)
    );
    assert!(
        refused(4).contains("`metadata.plan` says \"pro\"") && refused(4).contains("holds nothing"),
        "{}",
        refused(4)
    );
    assert!(
        refused(5).contains("`metadata.seats` says \"9007199254740992\""),
        "{}",
        refused(5)
    );
}

/// The error that ends the reading (here an unreadable source) is listed even when the
/// report keeps no more errors, with the line the reading had reached (it said line 0), and
/// is counted as neither a line nor a refused one.
#[tokio::test]
async fn the_error_that_ends_an_import_is_always_reported() {
    struct FailsAfter<'a>(&'a [u8]);
    impl Read for FailsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk gone"));
            }
            self.0.read(buf)
        }
    }
    let data = format!("{HEADER}\n{}\nbad,x,X,2026-11-19T10:00:00Z\n", row("e1"));
    let options = ImportOptions {
        max_errors_kept: 0,
        ..ImportOptions::default()
    };
    let store = ReferenceStore::default();
    let report = run(&store, CsvLines::new(FailsAfter(data.as_bytes())), &options).await;
    assert!(report.stopped);
    assert_eq!((report.lines, report.inserted, report.rejected), (2, 1, 1));
    match &report.errors[..] {
        [
            LineError {
                line: 4,
                kind: LineErrorKind::Unreadable { reason },
            },
        ] => assert!(reason.contains("disk gone"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// A read interrupted by a signal (`EINTR`, on a pipe or stdin) is made again, as the NDJSON
/// reader does; the CSV reader ended the import there as an unreadable source.
#[test]
fn an_interrupted_csv_read_is_made_again() {
    struct InterruptedOnce<'a>(&'a [u8], bool);
    impl Read for InterruptedOnce<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !std::mem::replace(&mut self.1, true) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.0.read(buf)
        }
    }
    let data = format!("{HEADER}\n{}\n", row("e1"));
    let items: Vec<_> = CsvLines::new(InterruptedOnce(data.as_bytes(), false)).collect();
    assert!(
        matches!(&items[..], [Ok(line)] if line.line == 2),
        "{items:?}"
    );
}

/// NDJSON takes one JSON object a line: an array is malformed even with unknown keys ignored
/// (its values were taken as fields by position).
#[test]
fn an_ndjson_array_is_not_an_event() {
    let data = r#"["e1",7,"Page Viewed","2026-11-19T10:00:00Z"]"#;
    for ignore in [false, true] {
        let items: Vec<_> = NdjsonLines::new(data.as_bytes())
            .ignore_unknown_keys(ignore)
            .collect();
        assert!(
            matches!(
                &items[..],
                [Err(LineError {
                    kind: LineErrorKind::Malformed { .. },
                    ..
                })]
            ),
            "{items:?}"
        );
    }
}

/// An NDJSON line of one event with `metadata` (a JSON text).
fn metadata_line(metadata: &str) -> String {
    format!(
        r#"{{"event_id":"e1","customer_id":7,"name":"X","occurred_at":"2026-11-19T10:00:00Z","metadata":{metadata}}}"#
    )
}

/// A CSV file of one event with `metadata` (a JSON text) in its cell.
fn metadata_cell(metadata: &str) -> String {
    format!(
        "{HEADER},metadata\n{},\"{}\"\n",
        row("e1"),
        metadata.replace('"', "\"\"")
    )
}

/// Asserts that `metadata` (a JSON text) is refused on its line, the reason naming `named`,
/// in an NDJSON object and in a CSV cell; hands back the NDJSON line.
fn assert_metadata_refused(metadata: &str, named: &str) -> String {
    let ndjson = metadata_line(metadata);
    let read: Vec<Vec<_>> = vec![
        NdjsonLines::new(ndjson.as_bytes()).collect(),
        CsvLines::new(metadata_cell(metadata).as_bytes()).collect(),
    ];
    for items in read {
        match &items[..] {
            [
                Err(LineError {
                    kind:
                        LineErrorKind::Field {
                            field: "metadata",
                            reason,
                        },
                    ..
                }),
            ] => assert!(reason.contains(named), "{named}: {reason}"),
            other => panic!("{metadata}: {other:?}"),
        }
    }
    ndjson
}

/// Asserts that metadata holding `number` under `key` is refused on its line, the number
/// named; hands back the NDJSON line.
fn assert_metadata_number_refused(key: &str, number: &str) -> String {
    assert_metadata_refused(&format!(r#"{{"{key}":{number}}}"#), number)
}

/// An integer in metadata too wide for 64 bits is refused, in an NDJSON object or a CSV cell,
/// rather than stored as a float that lost its digits.
#[test]
fn a_metadata_integer_beyond_64_bits_is_refused_not_rounded() {
    let wide = "123456789012345678901234";
    let ndjson = assert_metadata_number_refused("order", wide);
    // The widest integers that fit are kept exactly.
    let fits = ndjson.replace(wide, "18446744073709551615");
    let items: Vec<_> = NdjsonLines::new(fits.as_bytes()).collect();
    let event = &items[0].as_ref().expect("read").event;
    assert_eq!(event.metadata["order"], serde_json::json!(u64::MAX));
}

/// A metadata number with more significant digits than a 64-bit float keeps is refused, in an
/// NDJSON object or a CSV cell, rather than stored rounded; one a float keeps is stored.
#[test]
fn a_metadata_number_a_float_would_round_is_refused_not_rounded() {
    let long = "0.12345678901234567890";
    let ndjson = assert_metadata_number_refused("ratio", long);
    let kept = ndjson.replace(long, "0.30000000000000004");
    let items: Vec<_> = NdjsonLines::new(kept.as_bytes()).collect();
    let event = &items[0].as_ref().expect("read").event;
    assert_eq!(event.metadata["ratio"], serde_json::json!(0.1 + 0.2));
}

/// A metadata key given twice is refused on its line, in an NDJSON object and in a CSV cell,
/// rather than stored with the last value and the first dropped unseen.
#[tokio::test]
async fn a_metadata_key_given_twice_is_refused_not_collapsed() {
    let ndjson = r#"{"event_id":"e1","customer_id":7,"name":"Subscribed","occurred_at":"2026-11-19T10:00:00Z","metadata":{"plan":"pro","plan":"free"}}"#;
    let csv = "event_id,customer_id,name,occurred_at,metadata\n\
e2,7,Subscribed,2026-11-19T10:00:00Z,\"{\"\"plan\"\":\"\"pro\"\",\"\"plan\"\":\"\"free\"\"}\"\n";
    let store = ReferenceStore::default();
    let from_ndjson = run(
        &store,
        NdjsonLines::new(ndjson.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    let from_csv = run(
        &store,
        CsvLines::new(csv.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    let kept: Vec<String> = stored(&store)
        .await
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.id.as_str(),
                serde_json::Value::Object(e.metadata.clone())
            )
        })
        .collect();
    assert_eq!(
        (from_ndjson.rejected, from_csv.rejected),
        (1, 1),
        "stored: {kept:?}"
    );
    for report in [&from_ndjson, &from_csv] {
        assert!(
            matches!(
                report.errors[0].kind,
                LineErrorKind::Field {
                    field: "metadata",
                    ..
                }
            ),
            "{:?}",
            report.errors
        );
        let text = report.errors[0].to_string();
        assert!(text.contains("plan"), "the repeated key is named: {text}");
    }
    assert!(kept.is_empty(), "{kept:?}");
}

/// A key repeated in an object nested in the metadata, or in an object in an array of it, is
/// refused too, and named with where it is; the same key in two objects is no repeat.
#[test]
fn a_metadata_key_given_twice_at_any_depth_is_refused() {
    for (metadata, named) in [
        (r#"{"a":{"x":1,"x":2}}"#, "a.x"),
        (r#"{"a":[{"y":true},{"x":1,"x":1}]}"#, "a[1].x"),
    ] {
        assert_metadata_refused(metadata, named);
    }
    let apart = r#"{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}"#;
    for items in [
        NdjsonLines::new(metadata_line(apart).as_bytes()).collect::<Vec<_>>(),
        CsvLines::new(metadata_cell(apart).as_bytes()).collect(),
    ] {
        let event = &items[0]
            .as_ref()
            .expect("no key repeats in one object")
            .event;
        assert_eq!(
            serde_json::Value::Object(event.metadata.clone()),
            serde_json::from_str::<serde_json::Value>(apart).unwrap()
        );
    }
}

/// A value of the wrong type is refused naming its key, and the message names no line but
/// its own: `serde_json`, reading one line at a time, said "at line 1 column 34" of each.
#[test]
fn an_ndjson_value_of_the_wrong_type_names_its_key_and_only_its_own_line() {
    let good =
        r#"{"event_id":"e1","customer_id":7,"name":"N","occurred_at":"2026-11-19T10:00:00Z"}"#;
    let cases = [
        (
            r#"{"event_id":"e2","customer_id":9223372036854775808,"name":"N","occurred_at":"2026-11-19T10:00:00Z"}"#,
            "customer_id",
        ),
        (
            r#"{"event_id":"e3","customer_id":"7","name":"N","occurred_at":"2026-11-19T10:00:00Z"}"#,
            "customer_id",
        ),
        (
            r#"{"event_id":"e4","customer_id":7,"name":"N","occurred_at":1763546400}"#,
            "occurred_at",
        ),
    ];
    let data = format!("{good}\n{}\n{}\n{}\n", cases[0].0, cases[1].0, cases[2].0);
    let items: Vec<_> = NdjsonLines::new(data.as_bytes()).collect();
    assert!(items[0].is_ok());
    let mut wrong = Vec::new();
    for (i, (_, key)) in cases.iter().enumerate() {
        let err = items[i + 1].as_ref().expect_err("a wrong type is refused");
        let text = err.to_string();
        assert_eq!(err.line, i as u64 + 2, "{text}");
        if !text.contains(key) || lines_named(&text) != [err.line] {
            wrong.push(format!(
                "should name `{key}` and line {} only: {text}",
                err.line
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The line numbers a message names (each `line N`).
fn lines_named(text: &str) -> Vec<u64> {
    text.match_indices("line ")
        .filter_map(|(i, m)| {
            let rest = &text[i + m.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// A row the `csv` reader refuses (bad UTF-8) names its own line only: the `csv` crate's
/// message added its own count of lines, which knows no lone CR and starts after blank lines.
#[test]
fn a_csv_error_names_no_other_line_than_its_own() {
    let cr: &[u8] = b"event_id,customer_id,name,occurred_at\re1,7,Page Viewed,2026-01-01T00:00:00Z\re2,7,P\xff,2026-01-01T00:00:00Z\r";
    let crlf: &[u8] = b"event_id,customer_id,name,occurred_at\r\n\r\ne1,7,\"Page Viewed\",2026-01-01T00:00:00Z\r\ne2,7,P\xff,2026-01-01T00:00:00Z\r\n";
    let mut wrong = Vec::new();
    for (data, line) in [(cr, 3), (crlf, 4)] {
        let items: Vec<_> = CsvLines::new(data).collect();
        let err = items
            .iter()
            .find_map(|item| item.as_ref().err())
            .expect("the row with bad UTF-8 is refused");
        let text = err.to_string();
        assert_eq!(err.line, line, "{text}");
        if lines_named(&text) != [line] {
            wrong.push(text);
        }
    }
    assert!(
        wrong.is_empty(),
        "errors naming another line than their own: {wrong:#?}"
    );
}

/// Metadata in a CSV cell that is not JSON is refused naming only the row's line, not the
/// line of the cell's text `serde_json` counted.
#[test]
fn a_metadata_cell_that_is_not_json_names_only_its_own_line() {
    let data = format!(
        "{HEADER},metadata\n{},{}\n{},\"{{\"\"plan\"\":\"\n",
        row("e1"),
        "",
        row("e2")
    );
    let items: Vec<_> = CsvLines::new(data.as_bytes()).collect();
    let err = items[1].as_ref().expect_err("the cell is not JSON");
    let text = err.to_string();
    assert!(text.contains("not JSON"), "{text}");
    assert_eq!(lines_named(&text), [3], "{text}");
}

// ---------------------------------------------------------------------------------------------
// CSV line numbers: the line each record starts on, whatever the line ends, blank lines and
// quoted line breaks before it.

/// The line of each item a CSV reader gives, good or bad.
fn lines_of<R: Read>(lines: CsvLines<R>) -> Vec<u64> {
    lines
        .map(|item| match item {
            Ok(line) => line.line,
            Err(e) => e.line,
        })
        .collect()
}

fn csv_lines(data: &str) -> Vec<u64> {
    lines_of(CsvLines::new(data.as_bytes()))
}

/// A data row for the header `event_id,customer_id,name,occurred_at`.
fn row(id: &str) -> String {
    format!("{id},7,Page Viewed,2026-11-19T10:00:00Z")
}

const HEADER: &str = "event_id,customer_id,name,occurred_at";

#[test]
fn lf_rows_are_numbered_by_their_lines() {
    let data = format!("{HEADER}\n{}\n{}\n", row("a"), row("b"));
    assert_eq!(csv_lines(&data), [2, 3]);
}

#[test]
fn crlf_rows_are_numbered_by_their_lines() {
    // `csv` ends a record at its CR, so its position counts one line fewer.
    let data = format!("{HEADER}\r\n{}\r\n{}\r\n", row("a"), row("b"));
    assert_eq!(csv_lines(&data), [2, 3]);
}

#[test]
fn cr_rows_are_numbered_by_their_lines() {
    let data = format!("{HEADER}\r{}\r{}\r", row("a"), row("b"));
    assert_eq!(csv_lines(&data), [2, 3]);
}

#[test]
fn blank_lines_are_counted() {
    for eol in ["\n", "\r\n", "\r"] {
        let data = format!(
            "{HEADER}{eol}{eol}{}{eol}{eol}{}{eol}{eol}{eol}{}",
            row("a"),
            row("b"),
            row("c")
        );
        assert_eq!(csv_lines(&data), [3, 5, 8], "{eol:?}");
    }
}

#[test]
fn line_breaks_inside_quoted_fields_are_counted() {
    for eol in ["\n", "\r\n", "\r"] {
        let data = format!(
            "{HEADER}{eol}a,7,\"Page{eol}{eol}Viewed\",2026-11-19T10:00:00Z{eol}{}{eol}",
            row("b")
        );
        assert_eq!(csv_lines(&data), [2, 5], "{eol:?}");
    }
}

#[test]
fn a_bad_row_is_numbered_by_the_line_it_starts_on() {
    let data = b"event_id,customer_id,name,occurred_at\r\n\r\nb,7,\"two\r\nlines\",2026-11-19T10:00:00Z\r\nc,7,\xff,2026-11-19T10:00:00Z\r\nd,x,N,2026-11-19T10:00:00Z\r\n";
    let items: Vec<_> = CsvLines::new(&data[..]).collect();
    assert_eq!(items[0].as_ref().map(|l| l.line).ok(), Some(3));
    // Not UTF-8, and not a number: both refused with the line they start on.
    assert_eq!(items[1].as_ref().map_err(|e| e.line).err(), Some(5));
    assert_eq!(items[2].as_ref().map_err(|e| e.line).err(), Some(6));
}

/// Hands its bytes out a few at a time, as a pipe may: line breaks fall across reads.
struct Trickle<'a> {
    bytes: &'a [u8],
    size: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// A UTF-8 byte order mark before the header (Excel's "CSV UTF-8" writes one) is skipped
/// however the source splits the first bytes: `csv` skips it only when its first read holds
/// more than the mark, so a pipe or an upload stream handing out three bytes or fewer first
/// made the whole file unreadable ("the header has no `event_id` column").
#[test]
fn a_byte_order_mark_is_skipped_however_the_source_splits_it() {
    let data = format!("\u{feff}{HEADER}\n{}\n{}\n", row("a"), row("b"));
    for size in 1..8 {
        let items: Vec<_> = CsvLines::new(Trickle {
            bytes: data.as_bytes(),
            size,
        })
        .map(|item| item.map(|line| (line.line, line.event.id.as_str().to_owned())))
        .collect();
        assert_eq!(
            items,
            [Ok((2, "a".to_owned())), Ok((3, "b".to_owned()))],
            "first reads of {size} bytes"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Rows, good and bad, with LF, CRLF or lone CR ends, line breaks in a quoted field and
    /// blank lines after them, are numbered by the line they start on, however the source is
    /// split. (A lone CR ended a record but not a line: every row after one was line 1.)
    #[test]
    fn every_row_is_numbered_by_the_line_it_starts_on(
        rows in proptest::collection::vec((0_usize..3, 0_usize..3, any::<bool>(), 0_usize..3), 1..8),
        size in 1_usize..16,
    ) {
        let mut text = format!("{HEADER}\n");
        let mut want = Vec::new();
        let mut line = 2_u64;
        for (i, (end, breaks, good, blanks)) in rows.into_iter().enumerate() {
            let eol = ["\n", "\r\n", "\r"][end];
            let name = vec!["Page Viewed"; breaks + 1].join(eol);
            let customer = if good { "7" } else { "x" };
            text.push_str(&format!("e{i},{customer},\"{name}\",2026-11-19T10:00:00Z{eol}"));
            text.push_str(&eol.repeat(blanks));
            want.push(line);
            line += 1 + breaks as u64 + blanks as u64;
        }
        prop_assert_eq!(&csv_lines(&text), &want);
        prop_assert_eq!(lines_of(CsvLines::new(Trickle { bytes: text.as_bytes(), size })), want);
    }
}

// ---------------------------------------------------------------------------------------------
// CSV rows of another width than the header.

#[tokio::test]
async fn a_row_with_more_fields_than_the_header_is_a_bad_line() {
    let data = "event_id,customer_id,name,occurred_at,path\n\
e1,7,Searched,2026-11-19T10:00:00Z,/search?q=a,b\n\
e2,7,Searched,2026-11-19T10:00:00Z,\"/search?q=a,b\"\n\
e3,7,Searched,2026-11-19T10:00:00Z,/p,\n\
e4,7,Searched,2026-11-19T10:00:00Z,/p\n";
    let store = ReferenceStore::default();
    let report = run(
        &store,
        CsvLines::new(data.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    assert_eq!(
        (report.lines, report.inserted, report.rejected),
        (4, 2, 2),
        "{:?}",
        report.errors
    );
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 4]);
    for error in &report.errors {
        assert!(
            matches!(&error.kind, LineErrorKind::Malformed { reason } if reason.contains("6 fields")),
            "{error}"
        );
    }
    let events = stored(&store).await;
    let paths: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.id.as_str(), e.page.path.as_str()))
        .collect();
    assert_eq!(paths, [("e2", "/search?q=a,b"), ("e4", "/p")]);

    let options = ImportOptions {
        stop_on_error: true,
        ..ImportOptions::default()
    };
    let report = run(
        &ReferenceStore::default(),
        CsvLines::new(data.as_bytes()),
        &options,
    )
    .await;
    assert!(report.stopped);
    assert_eq!((report.inserted, report.rejected), (0, 1));
}

#[test]
fn a_row_may_leave_out_optional_trailing_columns() {
    let data = format!("{HEADER},path,device\n{}\n{},/p\na,7\n", row("a"), row("b"));
    let items: Vec<_> = CsvLines::new(data.as_bytes()).collect();
    let paths: Vec<_> = items[..2]
        .iter()
        .map(|item| item.as_ref().map(|l| l.event.page.path.as_str()).ok())
        .collect();
    assert_eq!(paths, [Some(""), Some("/p")]);
    // A required column cannot be left out.
    assert!(
        matches!(
            &items[2],
            Err(LineError {
                line: 4,
                kind: LineErrorKind::Malformed { .. }
            })
        ),
        "{:?}",
        items[2]
    );
}

// ---------------------------------------------------------------------------------------------
// The formula guard: a guarded export (the default) imports back as it was exported.

/// An event whose text starts the ways the formula guard cares about.
fn formula_like_event() -> Event {
    let mut event = Event::new(
        "-42",
        CustomerId(9),
        "+1 upgrade",
        "2026-11-19T12:00:00Z".parse().unwrap(),
    );
    event.page.url = "@home".into();
    event.page.path = "=cmd|' /C calc'!A0".into();
    event.page.referrer = "'=already guarded".into();
    event.geo.country = " ＝x".into();
    event.geo.region = "'plain".into();
    event.geo.city = "''-1".into();
    event
}

fn export_one(event: &Event, options: CsvOptions) -> Vec<u8> {
    let mut csv = EventLogCsv::new(Vec::new(), options).unwrap();
    csv.write_event(event).unwrap();
    csv.finish().unwrap()
}

#[tokio::test]
async fn a_guarded_export_of_a_stored_event_imports_back_as_a_duplicate() {
    let original = formula_like_event();
    let bytes = export_one(&original, CsvOptions::default());
    let text = String::from_utf8(bytes.clone()).unwrap();
    for cell in [
        "\"'-42\"",
        "\"'+1 upgrade\"",
        "\"''=already guarded\"",
        "\"'''-1\"",
        "\"'plain\"",
    ] {
        assert!(text.contains(cell), "{cell} in {text}");
    }
    let store = ReferenceStore::default();
    store
        .append(&ws(), std::slice::from_ref(&original))
        .await
        .unwrap();
    let report = run(&store, CsvLines::new(&bytes[..]), &ImportOptions::default()).await;
    assert_eq!(
        (
            report.inserted,
            report.duplicates,
            report.conflicts,
            report.rejected
        ),
        (0, 1, 0, 0),
        "{:?}",
        report.errors
    );
    assert_eq!(stored(&store).await.len(), 1);
}

/// An event kept out as a conflict is listed with its id, and its line when its id is on one
/// line of its batch; the list is bounded as the errors are, all conflicts counted.
#[tokio::test]
async fn a_conflict_is_listed_with_its_id_and_line() {
    let store = ReferenceStore::default();
    let first = format!("{HEADER}\n{}\n{}\n", row("e1"), row("e2"));
    run(
        &store,
        CsvLines::new(first.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    let other = |id: &str| format!("{id},8,Page Viewed,2026-11-19T10:00:00Z");
    let data = format!(
        "{HEADER}\n{}\n{}\n{}\n{}\n",
        other("e1"),
        row("e3"),
        other("e2"),
        other("e3")
    );
    let report = run(
        &store,
        CsvLines::new(data.as_bytes()),
        &ImportOptions::default(),
    )
    .await;
    assert_eq!((report.inserted, report.conflicts), (1, 3), "{report:?}");
    let listed: Vec<(&str, Option<u64>)> = report
        .conflicting
        .iter()
        .map(|c| (c.id.as_str(), c.line))
        .collect();
    // e3 is on two lines of its batch: which one was kept out depends on what the store held.
    assert_eq!(listed, [("e1", Some(2)), ("e2", Some(4)), ("e3", None)]);
    assert_eq!(
        report.conflicting[0].to_string(),
        "line 2: the id `e1` is stored with other content, which was kept"
    );
    assert_eq!(
        report.conflicting[2].to_string(),
        "the id `e3` is stored with other content, which was kept"
    );

    // One batch per line: every id is on one line of its batch. Two conflicts, one kept.
    let options = ImportOptions {
        batch_size: 1,
        max_errors_kept: 1,
        ..ImportOptions::default()
    };
    let store = ReferenceStore::default();
    let data = format!(
        "{HEADER}\n{}\n{}\n{}\n",
        row("e3"),
        other("e3"),
        other("e3").replace(",8,", ",9,")
    );
    let report = run(&store, CsvLines::new(data.as_bytes()), &options).await;
    let listed: Vec<_> = report.conflicting.iter().map(|c| c.line).collect();
    assert_eq!(report.conflicts, 2, "{report:?}");
    assert_eq!(listed, [Some(3)], "{report:?}");
}

#[test]
fn an_export_without_the_guard_is_read_with_the_guard_off() {
    let original = formula_like_event();
    let bytes = export_one(&original, CsvOptions::default().with_formula_guard(false));
    let read = |lines: CsvLines<&[u8]>| lines.map(|l| l.unwrap().event).next().unwrap();
    let back = read(CsvLines::new(&bytes[..]).with_formula_guard(false));
    assert!(back.same_payload(&original), "{back:?}");
    // Read as guarded, a text that looks like a guarded cell would lose its `'`.
    let misread = read(CsvLines::new(&bytes[..]));
    assert_eq!(misread.page.referrer, "=already guarded");
}

// ---------------------------------------------------------------------------------------------
// The cap on one line or record: a longer one is refused by its line, read past without being
// held in memory, and the lines after it are read.

/// An NDJSON line of exactly `len` bytes (no line end): an event of `id` with metadata padded.
fn ndjson_line_of(id: &str, len: usize) -> String {
    let head = format!(
        r#"{{"event_id":"{id}","customer_id":7,"name":"Page Viewed","occurred_at":"2026-11-19T10:00:00Z","metadata":{{"pad":""#
    );
    let tail = r#""}}"#;
    format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()))
}

/// A CSV row of exactly `len` bytes for `{HEADER},path`: an event of `id` with its path padded.
fn csv_row_of(id: &str, len: usize) -> String {
    let head = format!("{},/", row(id));
    format!("{head}{}", "p".repeat(len - head.len()))
}

fn ndjson_line(id: &str) -> String {
    format!(
        r#"{{"event_id":"{id}","customer_id":7,"name":"Page Viewed","occurred_at":"2026-11-19T10:00:00Z"}}"#
    )
}

/// Imports `lines` into a fresh store with the default options: the report, and the ids the
/// store then holds, in order.
async fn import_ids<I>(lines: I) -> (ImportReport, Vec<String>)
where
    I: IntoIterator<Item = Result<ImportLine, LineError>>,
    I::IntoIter: Send,
{
    let store = ReferenceStore::default();
    let report = run(&store, lines, &ImportOptions::default()).await;
    let ids = stored(&store)
        .await
        .iter()
        .map(|e| e.id.as_str().to_owned())
        .collect();
    (report, ids)
}

fn too_long(line: u64) -> LineError {
    LineError {
        line,
        kind: LineErrorKind::TooLong {
            limit: DEFAULT_MAX_LINE_BYTES,
        },
    }
}

#[tokio::test]
async fn an_ndjson_line_over_the_cap_costs_only_itself() {
    let cap = DEFAULT_MAX_LINE_BYTES;
    let data = format!(
        "{}\n{}\n{}\n",
        ndjson_line("a"),
        ndjson_line_of("b", cap + 1),
        ndjson_line("c")
    );
    let (report, ids) = import_ids(NdjsonLines::new(data.as_bytes())).await;
    assert_eq!((report.lines, report.inserted, report.rejected), (3, 2, 1));
    assert_eq!(report.errors, [too_long(2)]);
    assert_eq!(
        report.errors[0].to_string(),
        format!("line 2: longer than {cap} bytes (the reader's cap), not read")
    );
    assert_eq!(ids, ["a", "c"]);

    // A line of exactly the cap (CRLF not counted) is read; its metadata is what is refused.
    let data = format!("{}\r\n{}\r\n", ndjson_line_of("b", cap), ndjson_line("c"));
    let items: Vec<_> = NdjsonLines::new(data.as_bytes()).collect();
    assert!(
        matches!(&items[0], Ok(line) if line.event.metadata["pad"].as_str().map(str::len) == Some(cap - 112)),
        "{:?}",
        items[0]
            .as_ref()
            .map_err(ToString::to_string)
            .map(|l| l.line)
    );
    assert!(items[1].is_ok());
}

#[tokio::test]
async fn a_csv_record_over_the_cap_costs_only_itself() {
    let cap = DEFAULT_MAX_LINE_BYTES;
    let data = format!(
        "{HEADER},path\n{}\n{}\n{}\n",
        row("a"),
        csv_row_of("b", cap + 1),
        row("c")
    );
    let (report, ids) = import_ids(CsvLines::new(data.as_bytes())).await;
    assert_eq!((report.lines, report.inserted, report.rejected), (3, 2, 1));
    assert_eq!(report.errors, [too_long(3)]);
    assert_eq!(ids, ["a", "c"]);

    // A record of exactly the cap is read: its path is what validation refuses.
    let data = format!(
        "{HEADER},path\r\n{}\r\n{}\r\n",
        csv_row_of("b", cap),
        row("c")
    );
    let items: Vec<_> = CsvLines::new(data.as_bytes()).collect();
    assert!(
        matches!(&items[0], Ok(line) if line.event.page.path.len() == cap - row("b").len() - 1)
    );
    assert_eq!(items[1].as_ref().map(|l| l.line).ok(), Some(3));
}

#[test]
fn a_long_csv_record_ends_where_the_csv_grammar_ends_it() {
    // Quoted line breaks, commas and doubled quotes inside the long record: the next record
    // starts after the line break that ends it, and is numbered by its line.
    let long = format!(
        "b,7,\"Page\n\"\"Viewed\"\",\n{}\",2026-11-19T10:00:00Z",
        "x".repeat(40)
    );
    let data = format!("{HEADER}\n{}\n{long}\r\n\n{}\n{long}", row("a"), row("c"));
    let items: Vec<_> = CsvLines::new(data.as_bytes())
        .max_record_bytes(40)
        .collect();
    let lines: Vec<_> = items
        .iter()
        .map(|item| {
            item.as_ref()
                .map(|l| l.line)
                .map_err(|e| (e.line, e.kind.clone()))
        })
        .collect();
    let too_long = LineErrorKind::TooLong { limit: 40 };
    assert_eq!(
        lines,
        [Ok(2), Err((3, too_long.clone())), Ok(7), Err((8, too_long))]
    );

    // An unclosed quote runs to the end of the file: the rows after it are inside it, not
    // rows, so none is read as one.
    let data = format!(
        "{HEADER}\n{}\nb,7,\"unclosed\n{}\n{}\n",
        row("a"),
        row("c"),
        row("d")
    );
    let items: Vec<_> = CsvLines::new(data.as_bytes())
        .max_record_bytes(40)
        .collect();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        items[1]
            .as_ref()
            .map_err(|e| (e.line, e.kind.clone()))
            .err(),
        Some((3, LineErrorKind::TooLong { limit: 40 }))
    );

    // A header over the cap ends the reading.
    let items: Vec<_> = CsvLines::new(format!("{HEADER}\n{}\n", row("a")).as_bytes())
        .max_record_bytes(10)
        .collect();
    assert_eq!(items.len(), 1);
    match &items[0] {
        Err(LineError {
            line: 1,
            kind: LineErrorKind::Unreadable { reason },
        }) => assert!(
            reason.contains("header is longer than 10 bytes"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

#[path = "support/heap.rs"]
mod heap;

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

/// 64 MiB of one byte, made as it is read.
const HUGE: u64 = 64 << 20;

#[test]
fn a_64_mib_ndjson_line_is_read_past_in_bounded_memory() {
    let head = format!("{}\n{{\"event_id\":\"", ndjson_line("a"));
    let tail = format!("\"}}\n{}\n", ndjson_line("c"));
    let source = head
        .as_bytes()
        .chain(io::repeat(b'x').take(HUGE))
        .chain(tail.as_bytes());
    let (items, peak) = heap::peak_during(|| {
        NdjsonLines::new(BufReader::with_capacity(8 * 1024, source))
            .map(|item| item.map(|line| line.line))
            .collect::<Vec<_>>()
    });
    assert_eq!(items, [Ok(1), Err(too_long(2)), Ok(3)]);
    assert!(
        peak < 4 * DEFAULT_MAX_LINE_BYTES,
        "{peak} bytes held at most"
    );
}

#[test]
fn a_64_mib_csv_record_is_read_past_in_bounded_memory() {
    for quote in ["", "\""] {
        let head = format!(
            "{HEADER},path\n{}\nb,7,Page Viewed,2026-11-19T10:00:00Z,{quote}",
            row("a")
        );
        let tail = format!("{quote}\n{}\n", row("c"));
        let source = head
            .as_bytes()
            .chain(io::repeat(b'x').take(HUGE))
            .chain(tail.as_bytes());
        let (items, peak) = heap::peak_during(|| {
            CsvLines::new(source)
                .map(|item| item.map(|line| line.line))
                .collect::<Vec<_>>()
        });
        assert_eq!(items, [Ok(2), Err(too_long(3)), Ok(4)], "{quote}");
        assert!(
            peak < 4 * DEFAULT_MAX_LINE_BYTES,
            "{peak} bytes held at most"
        );
    }
}

/// A record of empty fields at the cap: the `csv` reader keeps one 8-byte field end per
/// field, so a hostile record of commas makes the reader hold about 8 times the cap (8 MiB at
/// the default), not "about the cap" as the docs said. Bounded all the same.
#[test]
fn a_record_of_empty_fields_is_held_in_bounded_memory() {
    let data = format!(
        "{HEADER}\n{}\n{}\n",
        ",".repeat(DEFAULT_MAX_LINE_BYTES - 1),
        row("c")
    );
    let (items, peak) = heap::peak_during(|| lines_of(CsvLines::new(data.as_bytes())));
    assert_eq!(items, [2, 3]);
    assert!(
        peak < 10 * DEFAULT_MAX_LINE_BYTES,
        "{peak} bytes held at most"
    );
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

    /// Starts of text that the formula guard prefixes (formulas, and `'`s before one, which
    /// look like a guarded cell) or leaves (`'` before anything else), with no blank first.
    const WORD_LEADS: [&str; 14] = [
        "", "", "", "=", "+", "-", "@", "＝", "＠", "'", "'=", "''+", "'-", "'＋",
    ];

    /// The same, and ones after blanks, which a spreadsheet skips.
    const TEXT_LEADS: [&str; 4] = [" =", "\u{3000}@", "' -", " '="];

    fn arb_lead(leads: &[&'static str]) -> impl Strategy<Value = &'static str> + use<> {
        select(leads.to_vec())
    }

    /// Text with every character CSV and formulas care about, often first, and none that
    /// validation refuses.
    fn arb_text() -> impl Strategy<Value = String> {
        (
            arb_lead(&[WORD_LEADS.as_slice(), &TEXT_LEADS].concat()),
            "[a-zA-Z0-9 ,;\"'=+@/\\-é😀]{0,12}",
        )
            .prop_map(|(lead, rest)| format!("{lead}{rest}"))
    }

    fn arb_word() -> impl Strategy<Value = String> {
        (
            arb_lead(&WORD_LEADS),
            "[a-zA-Z0-9,\"'=+@/\\-é😀][a-zA-Z0-9 ,\"'=+@/\\-é😀]{0,10}[a-zA-Z0-9,\"'=+@/\\-é😀]",
        )
            .prop_map(|(lead, rest)| format!("{lead}{rest}"))
    }

    /// A metadata value of any JSON type: texts most often, and numbers, booleans, null,
    /// arrays and objects, which an export's `metadata.<key>` columns write as JSON. Fractions
    /// are dyadic, so their decimal text reads back as the same `f64`.
    fn arb_metadata_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            3 => arb_text().prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => any::<i32>().prop_map(|n| Value::from(f64::from(n) / 64.0)),
            1 => any::<bool>().prop_map(Value::from),
            1 => Just(Value::Null),
            1 => proptest::collection::vec(arb_text().prop_map(Value::from), 0..3).prop_map(Value::from),
            1 => ("[a-z]{1,3}", any::<i16>()).prop_map(|(k, v)| serde_json::json!({ k: v, "t": [true, null] })),
        ]
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
            // Keys with whitespace around them too, which an export's header keeps.
            proptest::collection::btree_map(
                "[ \t]?[a-z]{1,6}[ \t\r\n]?",
                arb_metadata_value(),
                0..3,
            ),
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
                    event.metadata = meta.into_iter().collect();
                    event
                },
            )
    }

    /// The events as an export writes them, with a `metadata.<key>` column for every key any
    /// of them holds and for one none does.
    fn export_csv(events: &[Event], options: CsvOptions) -> Vec<u8> {
        let keys: std::collections::BTreeSet<&str> = events
            .iter()
            .flat_map(|e| e.metadata.keys().map(String::as_str))
            .chain(["absent-everywhere"])
            .collect();
        let mut csv = EventLogCsv::with_metadata_columns(Vec::new(), keys, options).unwrap();
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

        /// Every field of every event comes back as it was exported, with the formula guard on
        /// (the default, for spreadsheets) or off (for a machine reader) when the reader is told
        /// the same, whatever quotes, commas, formula characters and non-ASCII it holds.
        #[test]
        fn exported_events_import_back_exactly(events in proptest::collection::vec(arb_event(), 1..8)) {
            let events: Vec<Event> = events
                .into_iter()
                .enumerate()
                // Stored events, as ingestion stores them (`Event::normalize`).
                .map(|(i, mut e)| { e.id = format!("{}~{i}", e.id).into(); e.normalize(); e })
                .collect();
            for guard in [true, false] {
                // Both sides at their defaults (the guard on), or both told the guard is off.
                let options = if guard { CsvOptions::default() } else { CsvOptions::default().with_formula_guard(false) };
                let bytes = export_csv(&events, options);
                let mut lines = CsvLines::new(&bytes[..]);
                if !guard {
                    lines = lines.with_formula_guard(false);
                }
                let store = ReferenceStore::default();
                let report = futures::executor::block_on(run(&store, lines, &ImportOptions::default()));
                prop_assert_eq!(report.inserted, events.len() as u64, "guard {}: {:?}", guard, report.errors);
                let back = futures::executor::block_on(stored(&store));
                for event in &events {
                    let found = back.iter().find(|b| b.id == event.id);
                    prop_assert!(found.is_some_and(|b| b.same_payload(event)), "guard {guard}: {event:?} came back as {found:?}");
                }
            }
        }

        /// Any text — TAB, CR and LF first too, which validation would refuse an import — is
        /// read by the CSV reader as it was exported, guard on or off.
        #[test]
        fn any_text_is_read_as_it_was_exported(
            texts in proptest::collection::vec(
                (arb_lead(&["", "\t", "\r\n", "\n", "'\t", " \t=", "'=", "-"]), any::<String>()),
                10,
            ),
            guard in any::<bool>(),
        ) {
            let texts: Vec<String> = texts.into_iter().map(|(lead, rest)| format!("{lead}{rest}")).collect();
            let mut event = Event::new(texts[0].as_str(), CustomerId(1), texts[1].as_str(), now());
            let page = &mut event.page;
            [page.url, page.path, page.domain, page.referrer] = [0, 1, 2, 3].map(|i| texts[2 + i].clone());
            let geo = &mut event.geo;
            [geo.country, geo.region, geo.city, geo.zone] = [0, 1, 2, 3].map(|i| texts[6 + i].clone());
            let bytes = export_csv(std::slice::from_ref(&event), CsvOptions::default().with_formula_guard(guard));
            let back: Vec<_> = CsvLines::new(&bytes[..]).with_formula_guard(guard).collect();
            prop_assert_eq!(back.len(), 1);
            let line = back[0].as_ref().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(line.event.same_payload(&event), "guard {}: {:?} came back as {:?}", guard, event, line.event);
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
