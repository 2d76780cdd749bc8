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

use engagement_core::report::{CustomerStanding, EngagementReport, EngagementRequest, Reports};
use engagement_core::{CustomerId, Result, Viewer};

/// A search of the ranking, as a page shows it.
#[derive(Debug, Clone)]
pub struct RankingSearch {
    /// The ranking, with only the rows the term keeps ([`keep_matching`]).
    pub report: EngagementReport,
    /// How many rows the ranking had before the search.
    pub ranked: usize,
    /// Where the customer the term names by id ranks, when no kept row is theirs.
    pub standing: Option<CustomerStanding>,
}

/// Runs `request`'s ranking, keeps the rows `term` matches and, when `term` names a customer
/// by id and no kept row is theirs, says where that customer ranks in the same window.
///
/// The ranking and the standing are one report, read from one state
/// ([`EngagementRequest::with_standing_of`]): a customer ranked within the ranking's limit
/// is always one of its rows, never "not in the top 100: rank 2".
///
/// # Errors
/// As [`Reports::engagement`].
pub async fn search(
    reports: &Reports,
    viewer: &Viewer,
    request: &EngagementRequest,
    term: Option<&str>,
) -> Result<RankingSearch> {
    let named = term.and_then(customer_named);
    let request = match named {
        Some(id) => request.clone().with_standing_of(id),
        None => request.clone(),
    };
    let mut report = reports.engagement(viewer, &request).await?;
    let ranked = report.rows.len();
    keep_matching(&mut report, term);
    let standing = report.standing.take().filter(|s| {
        !report
            .rows
            .iter()
            .any(|row| row.customer_id == s.customer_id)
    });
    Ok(RankingSearch {
        report,
        ranked,
        standing,
    })
}

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
