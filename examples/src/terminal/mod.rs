//! Terminal output for the `report` CLI: aligned tables with coloured cells and Unicode
//! sparklines.

mod spark;
mod table;

pub use spark::sparkline;
pub use table::{Align, Cell, Colour, Table};
