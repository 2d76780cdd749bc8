//! Terminal output for the example binaries: aligned tables with coloured cells, Unicode
//! sparklines, and how a binary ends — a reader that stopped early told from a failure, and a
//! failure as one `error: …` line with status 1.

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
