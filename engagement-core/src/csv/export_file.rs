//! Exports written to a file that only appears once it is complete: the streamed event log and
//! whole reports.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{Stream, StreamExt};

use super::export_pipeline::Pipeline;
use super::writer::{csv_invalid, csv_io_error};
use super::{CsvOptions, CsvReport};
use crate::error::Result;
use crate::model::batch::EventBatch;

/// Writes every event of `batches` (such as the stream
/// [`Reports::export_event_log`](crate::report::Reports::export_event_log) returns) to a CSV
/// file at `path` (columns as [`EventLogCsv::with_metadata_columns`](super::EventLogCsv::with_metadata_columns)) and returns the number of
/// events written.
///
/// The rows go to a file of this export's own beside `path` (`<path>.<pid>-<n>.partial`, created
/// new, so that two exports to one path never write into one file, with the permissions of the
/// file it replaces) as they arrive; only when
/// the source has ended and the file is flushed and synced to disk is it renamed to `path`
/// (replacing any file there: of two exports to one path, the one finishing last wins). If
/// anything fails — the source yields an `Err`, the disk is full — or the future is dropped
/// before it completes, the partial file is removed and `path` is left as it was: a failed
/// export never leaves a complete-looking file.
///
/// The source is polled here; its batches are formatted on threads of the export's own (one per
/// core, at most four), written to the file in order in large blocks, and synced to disk every 64 MiB while
/// the export runs, so that the final sync only waits for the tail. At most a few batches are
/// alive at once: memory stays bounded whatever the number of events.
///
/// It never blocks its thread on the export's work: it awaits the formatting threads when they
/// are behind, and the writing thread's final sync to disk, so on an async server the thread
/// goes on with its other tasks meanwhile. It needs no particular runtime (the threads are the
/// export's own). Creating the partial file and the final rename are the only file-system
/// calls made on the caller's thread.
///
/// # Errors
/// The source's own error when it yields one; [`Error::InvalidQuery`](crate::Error::InvalidQuery)
/// when a metadata key is listed twice; [`Error::Csv`](crate::Error::Csv) when `path` names
/// something other than a regular file or a link to one (a FIFO, a device, a directory: the
/// rename would replace it), when the file cannot be created, written, synced or renamed, or
/// when metadata columns are asked for and an event's metadata is not a JSON object.
///
/// ```
/// use futures::stream;
/// use engagement_core::csv::{CsvOptions, export_to_path};
/// use engagement_core::{CustomerId, Event, EventBatch, Timestamp};
///
/// let path = std::env::temp_dir().join(format!("doc-export-{}.csv", std::process::id()));
/// let event = Event::new("e1", CustomerId(1), "Page Viewed", Timestamp::EPOCH);
/// let batches = stream::iter([Ok(EventBatch::from_events([&event]))]);
/// let rows = futures::executor::block_on(export_to_path(batches, &path, ["plan"], CsvOptions::default()))?;
/// assert_eq!(rows, 1);
/// assert!(std::fs::read_to_string(&path)?.starts_with("\"event_id\",\"occurred_at\""));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn export_to_path<K: Into<String>>(
    batches: impl Stream<Item = Result<EventBatch>>,
    path: impl AsRef<Path>,
    metadata_keys: impl IntoIterator<Item = K>,
    options: CsvOptions,
) -> Result<u64> {
    let path = &export_target(path.as_ref())?;
    let metadata_keys: Vec<String> = metadata_keys.into_iter().map(Into::into).collect();
    let (partial, file) = PartialFile::create(path)?;
    let mut pipeline = Pipeline::spawn(file, &metadata_keys, options)?;
    let mut batches = pin!(batches);
    while let Some(batch) = batches.next().await {
        pipeline.send(batch?).await?;
    }
    let rows = pipeline.finish().await?;
    partial.commit(path)?;
    Ok(rows)
}

/// Writes a whole report (engagement, activity, funnel) as CSV to the file at `path`, as
/// [`export_to_path`] writes the event log: to a file of its own beside `path` first, renamed
/// over `path` only once complete and synced to disk, so a failure leaves `path` as it was.
///
/// ```
/// use engagement_core::csv::{CsvOptions, write_report_to_path};
/// # use engagement_core::report::*;
/// # fn demo(report: &FunnelReport) -> engagement_core::Result<()> {
/// write_report_to_path(report, "funnel.csv", CsvOptions::default())?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::Csv`](crate::Error::Csv) when `path` names something other than a regular file or a
/// link to one (a FIFO, a device, a directory), or when the file cannot be created, written,
/// synced or renamed; `path` is then untouched.
pub fn write_report_to_path(
    report: &impl CsvReport,
    path: impl AsRef<Path>,
    options: CsvOptions,
) -> Result<()> {
    let path = &export_target(path.as_ref())?;
    let (partial, file) = PartialFile::create(path)?;
    let file = report
        .write_csv(io::BufWriter::new(file), options)?
        .into_inner()
        .map_err(|e| csv_io_error(e.into_error()))?;
    file.sync_all().map_err(csv_io_error)?;
    drop(file);
    partial.commit(path)
}

/// The file an export replaces: `path`, or the file a symbolic link at `path` names (the link
/// stays a link). A path that names anything but a regular file — a FIFO, a device such as
/// `/dev/stdout` or `/dev/full`, a directory, a dangling link — is refused: the finished export
/// is renamed over its path, which would replace such a file instead of writing into it.
///
/// # Errors
/// [`Error::Csv`](crate::Error::Csv) naming the path.
fn export_target(path: &Path) -> Result<PathBuf> {
    let refuse = |what: &str| {
        Err(csv_invalid(format!(
            "{} is {what}, not a regular file: an export is written beside its path and renamed \
             over it, which would replace it; give the path of a file",
            path.display()
        )))
    };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(e) => Err(csv_io_error(e)),
        Ok(link) if link.file_type().is_symlink() => match fs::metadata(path) {
            Ok(target) if target.is_file() => fs::canonicalize(path).map_err(csv_io_error),
            Ok(_) => refuse("a link to a device, FIFO, socket or directory"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => refuse("a dangling link"),
            Err(e) => Err(csv_io_error(e)),
        },
        Ok(meta) if meta.is_file() => Ok(path.to_path_buf()),
        Ok(_) => refuse("a device, FIFO, socket or directory"),
    }
}

/// A file of one export's own beside its target, removed when dropped unless committed.
#[derive(Debug)]
struct PartialFile {
    path: PathBuf,
    committed: bool,
}

/// Names tried before giving up on finding a partial-file name no other file has.
const PARTIAL_NAME_ATTEMPTS: u32 = 100;

/// The most bytes of the target's name a partial file's name repeats: with the process id,
/// the counter and `.partial` it stays within the 255 bytes file systems take for a name.
const PARTIAL_NAME_KEPT: usize = 200;

/// The target's file name as a partial file's name begins, cut to at most
/// [`PARTIAL_NAME_KEPT`] bytes on a character boundary.
fn partial_name_stem(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let mut end = name.len().min(PARTIAL_NAME_KEPT);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

impl PartialFile {
    /// Creates a new, empty file `<target>.<pid>-<n>.partial`, with an `n` no file there has
    /// yet, so that no other export (of this process or another) writes into it. A target
    /// name longer than [`PARTIAL_NAME_KEPT`] bytes is cut there in the partial file's name, so
    /// that every name the file system takes for the target takes an export too. When the
    /// target exists, the partial file gets its permissions before anything is written into
    /// it (where the file system keeps permissions at all): replacing a private file never
    /// leaves its rows readable by others.
    ///
    /// # Errors
    /// [`Error::Csv`](crate::Error::Csv) when the file cannot be created or given the
    /// target's permissions.
    fn create(target: &Path) -> Result<(Self, File)> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let kept = partial_name_stem(target);
        let mut attempts = 0;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = target.with_file_name(format!("{kept}.{}-{n}.partial", std::process::id()));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    let partial = Self {
                        path,
                        committed: false,
                    };
                    match fs::metadata(target)
                        .map(|replaced| file.set_permissions(replaced.permissions()))
                    {
                        Ok(Ok(())) => {}
                        // Nothing to keep, or a file system without permissions (FAT, some
                        // network shares) that refuses to set them.
                        Err(e) | Ok(Err(e))
                            if matches!(
                                e.kind(),
                                io::ErrorKind::NotFound
                                    | io::ErrorKind::PermissionDenied
                                    | io::ErrorKind::Unsupported
                            ) => {}
                        Err(e) | Ok(Err(e)) => return Err(csv_io_error(e)),
                    }
                    return Ok((partial, file));
                }
                // Left by an export of an earlier process with the same id: try the next name.
                Err(e)
                    if e.kind() == io::ErrorKind::AlreadyExists
                        && attempts < PARTIAL_NAME_ATTEMPTS =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(csv_io_error(e)),
            }
        }
    }

    /// Renames the partial file to `target`.
    fn commit(mut self, target: &Path) -> Result<()> {
        fs::rename(&self.path, target).map_err(csv_io_error)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            // A destructor cannot report failure; the caller already has the error that caused
            // the cleanup, and a leftover `.partial` file is never mistaken for the export.
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io;
    use std::task::{Context, Poll};

    use futures::executor::block_on;
    use futures::stream;

    use super::*;
    use crate::csv::EventLogCsv;
    use crate::csv::export_pipeline::Pipeline;
    use crate::csv::writer::tests::parse;
    use crate::error::Error;
    use crate::model::event::Event;
    use crate::model::ids::CustomerId;
    use crate::time::Timestamp;

    /// A fresh path in the temp directory.
    fn path(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("engagement-csv-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{test}.csv"));
        let _ = fs::remove_file(&path);
        path
    }

    /// The names of the partial files beside `path`.
    fn partials(path: &Path) -> Vec<String> {
        let name = path.file_name().unwrap().to_str().unwrap();
        fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(&format!("{name}.")) && n.ends_with(".partial"))
            .collect()
    }

    fn ev(i: i64) -> Event {
        Event::new(
            format!("e{i}"),
            CustomerId(i),
            "@Name",
            Timestamp::from_micros(i),
        )
    }

    /// Events `events` in batches of up to 300.
    fn batches(events: std::ops::Range<i64>) -> impl Iterator<Item = Result<EventBatch>> {
        let all: Vec<Event> = events.map(ev).collect();
        let batches: Vec<_> = all
            .chunks(300)
            .map(|c| Ok(EventBatch::from_events(c)))
            .collect();
        batches.into_iter()
    }

    #[test]
    fn a_complete_export_appears_under_its_name() {
        let path = path("complete");
        let rows = block_on(export_to_path(
            stream::iter(batches(0..1_000)),
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ))
        .unwrap();
        assert_eq!(rows, 1_000);
        assert_eq!(partials(&path), Vec::<String>::new());
        let rows = parse(&fs::read(&path).unwrap());
        assert_eq!(rows.len(), 1_001);
        assert_eq!(rows[1000][0], "e999");
        assert_eq!(rows[1000][4], "'@Name");
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_failed_export_leaves_no_file_and_keeps_the_old_one() {
        let path = path("failed");
        fs::write(&path, "previous export").unwrap();
        let items = batches(0..500)
            .chain([Err(Error::backend("test", io::Error::other("killed")))])
            .chain(batches(500..600));
        let err = block_on(export_to_path(
            stream::iter(items),
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ))
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Backend {
                    backend: "test",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(partials(&path), Vec::<String>::new());
        assert_eq!(fs::read_to_string(&path).unwrap(), "previous export");
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_dropped_export_removes_its_partial_file() {
        let path = path("dropped");
        let events = stream::iter(batches(0..3)).chain(stream::pending());
        let mut export = Box::pin(export_to_path(
            events,
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ));
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(matches!(export.as_mut().poll(&mut cx), Poll::Pending));
        assert_eq!(
            partials(&path).len(),
            1,
            "rows go to the partial file while the export runs"
        );
        assert!(!path.exists());
        drop(export);
        assert_eq!(partials(&path), Vec::<String>::new());
        assert!(!path.exists());
    }

    #[test]
    fn two_exports_to_one_path_never_mix_their_rows() {
        let path = path("concurrent");
        // The first export has written its header and a few rows when the second one starts.
        let (more, rest) = futures::channel::mpsc::unbounded();
        let first_events = stream::iter(batches(0..3)).chain(rest);
        let mut first = Box::pin(export_to_path(
            first_events,
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ));
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(matches!(first.as_mut().poll(&mut cx), Poll::Pending));
        let second = block_on(export_to_path(
            stream::iter(batches(1_000..1_500)),
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ));
        assert_eq!(second.unwrap(), 500);
        for batch in batches(3..600) {
            more.unbounded_send(batch).unwrap();
        }
        drop(more);
        // The export that finishes last is the file, whole and alone.
        assert_eq!(block_on(first).unwrap(), 600);
        let rows = parse(&fs::read(&path).unwrap());
        let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
        let want: Vec<String> = (0..600).map(|i| format!("e{i}")).collect();
        assert_eq!(ids, want);
        assert_eq!(partials(&path), Vec::<String>::new());
        fs::remove_file(&path).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failing_disk_is_a_csv_error_from_the_writing_thread() {
        // Every write to /dev/full fails with "no space left on device".
        let full = File::options().write(true).open("/dev/full").unwrap();
        let mut pipeline = Pipeline::spawn(full, &[], CsvOptions::default()).unwrap();
        let err = block_on(async {
            for chunk in 0..40 {
                let events: Vec<Event> = (0..1_024).map(|i| ev(chunk * 10_000 + i)).collect();
                pipeline.send(EventBatch::from_events(&events)).await?;
            }
            pipeline.finish().await
        })
        .unwrap_err();
        assert!(matches!(err, Error::Csv { .. }), "{err}");
    }

    /// While the export's threads format, write and sync, the export hands its caller's
    /// thread back (`Pending`) instead of blocking it, though its source never waits: an
    /// async server's other tasks on that thread go on. It blocked until every row was on
    /// disk before, so the first poll here was the whole export.
    #[test]
    fn an_export_hands_its_thread_back_while_its_threads_work() {
        let path = path("hands-back");
        let mut export = Box::pin(export_to_path(
            stream::iter(batches(0..50_000)),
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ));
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(
            export.as_mut().poll(&mut cx).is_pending(),
            "the first poll waits for the threads without blocking"
        );
        assert_eq!(block_on(export).unwrap(), 50_000);
        assert_eq!(parse(&fs::read(&path).unwrap()).len(), 50_001);
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn batches_formatted_on_several_threads_land_in_order() {
        let path = path("in-order");
        let events: Vec<Event> = (0..6_000)
            .map(|i| {
                let mut e = ev(i);
                if i % 7 == 0 {
                    e.metadata.insert("plan".into(), format!("p{i}").into());
                }
                e
            })
            .collect();
        // Batches of 1 to 97 events: many more batches than can be in flight at once.
        let mut batches = Vec::new();
        let mut rest = &events[..];
        for size in (1..98).cycle() {
            if rest.is_empty() {
                break;
            }
            let (batch, tail) = rest.split_at(size.min(rest.len()));
            batches.push(Ok(EventBatch::from_events(batch)));
            rest = tail;
        }
        let rows = block_on(export_to_path(
            stream::iter(batches),
            &path,
            ["plan"],
            CsvOptions::default(),
        ))
        .unwrap();
        assert_eq!(rows, 6_000);
        let mut one_by_one =
            EventLogCsv::with_metadata_columns(Vec::new(), ["plan"], CsvOptions::default())
                .unwrap();
        for e in &events {
            one_by_one.write_event(e).unwrap();
        }
        assert!(fs::read(&path).unwrap() == one_by_one.finish().unwrap());
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_unwritable_path_is_a_csv_error() {
        let path = path("unwritable");
        let path = path.join("no-such-dir").join("x.csv");
        let err = block_on(export_to_path(
            stream::iter(batches(0..1)),
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ))
        .unwrap_err();
        assert!(matches!(err, Error::Csv { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_and_links_keep_pointing_at_the_export() {
        // Refused before anything is created: renaming the export over a device or a FIFO
        // replaced it with a regular file (and left a reader of the FIFO waiting forever).
        for special in ["/dev/null", "/dev/full"] {
            let err = export_target(Path::new(special)).unwrap_err();
            assert!(matches!(err, Error::Csv { .. }), "{err}");
        }
        let target = path("link-target");
        fs::write(&target, "previous").unwrap();
        let link = target.with_file_name("link.csv");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let rows = block_on(export_to_path(
            stream::iter(batches(0..3)),
            &link,
            Vec::<String>::new(),
            CsvOptions::default(),
        ))
        .unwrap();
        assert_eq!(rows, 3);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(parse(&fs::read(&target).unwrap()).len(), 4);
        fs::remove_file(&link).unwrap();
        fs::remove_file(&target).unwrap();
    }

    /// A report of `rows` lines that fails after writing them when `fail` is set.
    struct Lines {
        rows: usize,
        fail: bool,
    }

    impl CsvReport for Lines {
        fn csv_file_name(&self) -> String {
            "lines.csv".into()
        }

        fn write_csv<W: io::Write>(&self, mut out: W, _: CsvOptions) -> Result<W> {
            for i in 0..self.rows {
                writeln!(out, "row {i}").map_err(csv_io_error)?;
            }
            if self.fail {
                return Err(csv_io_error(io::Error::other("disk full")));
            }
            Ok(out)
        }
    }

    #[test]
    fn a_report_file_appears_only_when_complete() {
        let path = path("report");
        fs::write(&path, "previous report").unwrap();
        let failing = Lines {
            rows: 100_000,
            fail: true,
        };
        let err = write_report_to_path(&failing, &path, CsvOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Csv { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "previous report");
        assert_eq!(partials(&path), Vec::<String>::new());
        let whole = Lines {
            rows: 3,
            fail: false,
        };
        write_report_to_path(&whole, &path, CsvOptions::default()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "row 0\nrow 1\nrow 2\n");
        assert_eq!(partials(&path), Vec::<String>::new());
        fs::remove_file(&path).unwrap();
    }

    /// An export over a file its owner made private (customer data, 0600) leaves a private
    /// file: the partial file renamed over it takes its permissions, for both kinds of export.
    #[cfg(unix)]
    #[test]
    fn replacing_a_private_file_keeps_it_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let path = path("private");
        fs::write(&path, "previous export").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        block_on(export_to_path(
            stream::iter(batches(0..10)),
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ))
        .unwrap();
        assert_eq!(mode(&path), 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let report = Lines {
            rows: 3,
            fail: false,
        };
        write_report_to_path(&report, &path, CsvOptions::default()).unwrap();
        assert_eq!(mode(&path), 0o640);
        assert_eq!(fs::read_to_string(&path).unwrap(), "row 0\nrow 1\nrow 2\n");
        fs::remove_file(&path).unwrap();
    }

    /// A name the file system takes takes an export too: the partial file's name, longer than
    /// its target's, cuts a long one.
    #[test]
    fn a_name_near_the_file_systems_limit_takes_an_export() {
        let path = path(&"é".repeat(120)); // 240 bytes, and 4 more for `.csv`
        fs::write(&path, "the file system takes the name").unwrap();
        let rows = block_on(export_to_path(
            stream::iter(batches(0..10)),
            &path,
            Vec::<String>::new(),
            CsvOptions::default(),
        ))
        .unwrap();
        assert_eq!(rows, 10);
        assert_eq!(parse(&fs::read(&path).unwrap()).len(), 11);
        let report = Lines {
            rows: 1,
            fail: false,
        };
        write_report_to_path(&report, &path, CsvOptions::default()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "row 0\n");
        fs::remove_file(&path).unwrap();
    }
}
