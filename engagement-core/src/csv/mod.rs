//! CSV for every report: RFC 4180 files that are safe to open in a spreadsheet.
//!
//! Every text cell whose first non-space character is `=`, `+`, `-`, `@`, a TAB, CR or LF, or a
//! full-width `＝ ＋ － ＠`, is written with a leading `'` (see [`needs_formula_guard`]); typed
//! cells (numbers, timestamps) are never prefixed. [`CsvWriter`] and [`Cell`] write the rows.

mod guard;
mod writer;

pub use guard::{GUARD_PREFIX, guard_formula, needs_formula_guard};
pub use writer::{Cell, CsvOptions, CsvWriter};
