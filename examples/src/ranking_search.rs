//! Searching the engagement ranking, as the dashboard and the `report` command both do (seed
//! 000, use case 3: "search for a customer by ID or name"): the rows whose id or name holds
//! every word of the term and, when the term is a customer id that none of them has, where that customer ranks
//! in the same window, even far outside the top 100.
//!
//! ```
//! use engagement_examples::ranking_search::customer_named;
//! use engagement_core::CustomerId;
//!
//! assert_eq!(customer_named(" #123 "), Some(CustomerId(123)));
//! assert_eq!(customer_named("123"), Some(CustomerId(123)));
//! assert_eq!(customer_named("smith"), None);
//! ```

use engagement_core::report::{CustomerStanding, EngagementReport, Reports};
use engagement_core::{CustomerId, RangeSpec, Result, Viewer};

/// The customer `term` names by id (`12345` or `#12345`, as the event log's customer filter
/// reads one), if it names one.
pub fn customer_named(term: &str) -> Option<CustomerId> {
    term.trim()
        .trim_start_matches('#')
        .parse()
        .ok()
        .map(CustomerId)
}

/// Keeps the rows of `report` whose id or name holds every word of `term`
/// ([`EngagementRow::matches`](engagement_core::report::EngagementRow::matches)), and the row of the customer
/// `term` names by id however it spells it (`012`, `+12`); a blank or absent term keeps every
/// row.
pub fn keep_matching(report: &mut EngagementReport, term: Option<&str>) {
    if let Some(term) = term.filter(|t| !t.trim().is_empty()) {
        let named = customer_named(term);
        report
            .rows
            .retain(|row| row.matches(term) || named == Some(row.customer_id));
    }
}

/// Where the customer `term` names by id ranks in `report`'s window, when `term` names one
/// and no row of `report` is theirs; `None` otherwise.
///
/// # Errors
/// As [`Reports::customer_standing`].
pub async fn standing_outside(
    reports: &Reports,
    viewer: &Viewer,
    report: &EngagementReport,
    term: Option<&str>,
) -> Result<Option<CustomerStanding>> {
    let Some(id) = term.and_then(customer_named) else {
        return Ok(None);
    };
    if report.rows.iter().any(|row| row.customer_id == id) {
        return Ok(None);
    }
    let window = report.period.window;
    let exact = RangeSpec::Between {
        from: window.from,
        to: window.to,
    };
    let standing = reports
        .customer_standing(viewer, &viewer.workspace, exact, id)
        .await?;
    Ok(Some(standing))
}
