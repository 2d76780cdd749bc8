//! The `dashboard` binary as a process: a stop signal ends it with success after it has closed
//! its store, so a SQLite file is left whole, without its write-ahead log beside it; a download
//! that is not read on does not hold the stop up.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long the test waits for a line of the binary's.
const PATIENCE: Duration = Duration::from_secs(120);

/// A running `dashboard` over a fresh SQLite file, its stderr read line by line on a thread so
/// that every wait can time out.
struct Dashboard {
    child: Child,
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
    dir: PathBuf,
    /// The address it serves, from its "Dashboard on http://…/" line.
    address: String,
}

impl Dashboard {
    fn start(name: &str, options: &[&str]) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("dashboard.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_dashboard"))
            .args(["--store", &url, "--port", "0"])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the dashboard binary starts");
        let (send, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        let mut dashboard = Self {
            child,
            lines,
            reader: Some(reader),
            dir,
            address: String::new(),
        };
        let serving = dashboard.wait_for("Dashboard on http://");
        dashboard.address = serving["Dashboard on http://".len()..]
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        dashboard
    }

    /// Waits for a line starting with `start` and returns it.
    fn wait_for(&mut self, start: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line.starts_with(start) => return line,
                Ok(_) => {}
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("the dashboard never said {start:?}: {e}");
                }
            }
        }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    fn has_write_ahead_log(&self) -> bool {
        self.dir.join("dashboard.db-wal").exists()
    }

    /// Waits for the exit after "Stopped.".
    fn stopped(&mut self) -> ExitStatus {
        self.wait_for("Stopped.");
        let status = self.child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
        status
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_stop_signal_closes_the_store_and_exits_with_success() {
    for signal in ["INT", "TERM"] {
        let mut dashboard = Dashboard::start(&format!("dashboard-{signal}"), &[]);
        assert!(
            dashboard.has_write_ahead_log(),
            "the demo load should leave a write-ahead log while the store is open"
        );
        dashboard.signal(signal);
        let status = dashboard.stopped();
        assert!(status.success(), "SIG{signal}: {status:?}");
        assert!(
            !dashboard.has_write_ahead_log(),
            "SIG{signal}: the store was not closed, its write-ahead log is left"
        );
    }
}

#[test]
fn a_second_ctrl_c_cuts_off_a_download_that_holds_the_stop_up() {
    // A grace period longer than the test waits: only the second signal can end the download.
    let mut dashboard = Dashboard::start("dashboard-held", &["--grace", "3600"]);
    // The event log of the demo's 30 days as CSV (~14 MB, far more than the sockets' buffers
    // hold), read no further than its head: the download stays in flight, and the stop waits.
    let mut download = TcpStream::connect(&dashboard.address).unwrap();
    download
        .write_all(
            b"GET /events.csv?range=last-30-days HTTP/1.1\r\nHost: localhost\r\n\
              Cookie: role=manager; workspace=demo\r\n\r\n",
        )
        .unwrap();
    let mut head = [0; 15];
    download.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK");
    dashboard.signal("INT");
    dashboard.wait_for("Stopping:");
    dashboard.signal("INT");
    dashboard.wait_for("Requests still in flight were cut off.");
    let status = dashboard.stopped();
    assert!(status.success(), "{status:?}");
    assert!(!dashboard.has_write_ahead_log(), "the store was not closed");
}
