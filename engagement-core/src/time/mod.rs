//! Time rules: instants, windows, zones, clocks and range specifications.
//!
//! Instants cross every boundary as UTC [`Timestamp`]s; calendar work (days, weeks, DST) happens
//! here, in a [`ReportZone`], and backends receive explicit bucket edges.

mod clock;
pub(crate) mod micros;
mod range;
mod timestamp;
mod window;
mod zone;

pub use clock::{Clock, FixedClock, SystemClock};
pub use range::{CalendarPreset, Lookback, RangeSpec};
pub use timestamp::Timestamp;
pub use window::TimeWindow;
pub use zone::ReportZone;
pub(crate) use zone::dates_from;
