//! Terminal output for the `report` and `demo` binaries: aligned tables with coloured cells,
//! Unicode sparklines, and telling a reader that stopped early from a failure.

mod spark;
mod table;

pub use spark::sparkline;
pub use table::{Align, Cell, Colour, Table};

/// Whether `error` is stdout's reader having gone (`report … | head`): the reader has what it
/// wanted, so a binary ends quietly with success, as shell tools do.
pub fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
