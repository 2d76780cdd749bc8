//! Terminal output for the example binaries: aligned tables with coloured cells, Unicode
//! sparklines, and how a binary ends — a reader that stopped early told from a failure, a
//! failure as one `error: …` line with status 1, and a command line it cannot parse as one
//! line with status 2.

mod spark;
mod table;

use std::error::Error;
use std::process::ExitCode;

pub use spark::sparkline;
pub use table::{Align, Cell, Colour, Table};

/// Whether `error` is stdout's reader having gone (`report … | head`): the reader has what it
/// wanted, so a binary ends quietly with success, as shell tools do.
pub fn is_broken_pipe(error: &(dyn Error + 'static)) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The parsed command line of `binary`, or how it ends without one: `--help` and `--version`
/// print and end with success as clap does; a command line it cannot parse prints one line,
/// clap's `error: …` and a pointer to `--help`, and ends with status 2 (clap's usage block and
/// tips would take several).
///
/// # Errors
/// The exit code to end with when there is no command line to run.
pub fn command_line<T>(parsed: Result<T, clap::Error>, binary: &str) -> Result<T, ExitCode> {
    match parsed {
        Ok(args) => Ok(args),
        Err(e) if e.use_stderr() => {
            // clap's first paragraph is the error; a list (the arguments missing) goes on
            // its own lines, joined here.
            let text = e.to_string();
            let first = text.split("\n\n").next().unwrap_or_default();
            let line = first.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("{line} (see `{binary} --help`)");
            Err(ExitCode::from(2))
        }
        Err(e) => e.exit(),
    }
}

/// What a binary's work fails with: any error, sendable between threads, so that the work can
/// run on a store it holds across an `.await` ([`with_store`](crate::store_url::with_store)).
pub type Failure = Box<dyn Error + Send + Sync>;

/// How a binary ends after its work: with success when `result` is `Ok`, else as [`failure`]
/// says.
pub fn exit_code(result: Result<(), Failure>) -> ExitCode {
    result.map_or_else(|e| failure(&*e), |()| ExitCode::SUCCESS)
}

/// How a binary ends after `error`: quietly with success when stdout's reader has gone
/// ([`is_broken_pipe`]), else with `error: …` on stderr (the error and its sources on one line)
/// and status 1.
pub fn failure(error: &(dyn Error + 'static)) -> ExitCode {
    if is_broken_pipe(error) {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", one_line(error));
    ExitCode::FAILURE
}

/// The error and its sources on one line, each source left out where the text before already
/// says it.
fn one_line(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text.replace('\n', " ")
}
