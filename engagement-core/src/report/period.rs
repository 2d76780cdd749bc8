//! [`ReportPeriod`]: what a report echoes back about the time it covers.

use serde::{Deserialize, Serialize};

use crate::time::{RangeSpec, ReportZone, TimeWindow};

/// The span a report was computed over, as asked and as resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportPeriod {
    /// What was asked for.
    pub spec: RangeSpec,
    /// The half-open UTC window it resolved to.
    pub window: TimeWindow,
    /// The zone calendar rules were resolved in.
    pub zone: ReportZone,
}
