//! How failures reach the person: a 403 page for a refused role, the error on the page for
//! bad input (with the seed's wording), a plain page for the rest.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use engagement_core::Error;
use maud::html;
use serde::de::DeserializeOwned;

use super::layout::{Nav, error_banner, page};
use super::session::Session;

/// The status an error answers with.
pub(crate) fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::InvalidRange { .. }
        | Error::RangeTooLong { .. }
        | Error::InvalidQuery { .. }
        | Error::UnknownTimeZone { .. }
        | Error::InvalidEvent { .. }
        | Error::Refused { .. } => StatusCode::BAD_REQUEST,
        Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a person reads about an error: the seed's sentence for a too-long range, the error's
/// own message otherwise.
pub(crate) fn message_of(error: &Error) -> String {
    match error {
        Error::RangeTooLong { days, max_days } => format!(
            "Date Range must be less than 4 weeks. You asked for {days} days; choose at most \
             {max_days}, split the analysis into smaller ranges, or use a quick range."
        ),
        other => other.to_string(),
    }
}

/// The page for a refused viewer.
pub(crate) fn forbidden(session: &Session, error: &Error) -> Response {
    let report = match error {
        Error::Forbidden { report, .. } => report.to_string(),
        _ => "this".into(),
    };
    let body = html! {
        div.forbidden {
            h2 { "You do not have access to the " (report) " report" }
            p { "Signed in as " strong { (session.role_label()) } " in workspace " strong { (session.workspace.as_str()) } "." }
            p { (error.to_string()) }
            p { "Ask a workspace administrator for access, or "
                a href="/login" { "Sign in with another role" } "." }
        }
    };
    let html = page("Access denied", Some(session), Nav::None, body);
    (StatusCode::FORBIDDEN, Html(html.into_string())).into_response()
}

/// A report page that could not be computed: the page's own controls, then the error.
pub(crate) fn failed_page(
    session: &Session,
    title: &str,
    nav: Nav,
    controls: maud::Markup,
    error: &Error,
) -> Response {
    if matches!(error, Error::Forbidden { .. }) {
        return forbidden(session, error);
    }
    let body = html! { (controls) (error_banner(&message_of(error))) };
    let html = page(title, Some(session), nav, body);
    (status_of(error), Html(html.into_string())).into_response()
}

/// An error answering a download or a panel: the 403 page or a plain error page.
pub(crate) fn plain(session: &Session, error: &Error) -> Response {
    if matches!(error, Error::Forbidden { .. }) {
        return forbidden(session, error);
    }
    let html = page(
        "Something went wrong",
        Some(session),
        Nav::None,
        error_banner(&message_of(error)),
    );
    (status_of(error), Html(html.into_string())).into_response()
}

/// A page's query parameters, read like axum's `Query`, but a query that does not fit them (a
/// negative or too large number, a repeated parameter) answers the 400 page with the typed
/// error instead of axum's plain-text rejection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let error = Error::invalid_query("query", rejection.body_text());
                let html = page(
                    "Bad request",
                    None,
                    Nav::None,
                    error_banner(&message_of(&error)),
                );
                Err((status_of(&error), Html(html.into_string())).into_response())
            }
        }
    }
}

/// The words of a table's `dir` parameter.
pub(crate) const DIRECTIONS: [&str; 2] = ["asc", "desc"];

/// A query parameter that takes one of a few words: the word of `allowed` that `value` is,
/// in any case, or `None` when it is blank; another word is an error rather than read as the
/// default (`scope=ALL` exported one page where `all` exported every row).
///
/// # Errors
/// [`Error::InvalidQuery`] naming `field` and the words it takes.
pub(crate) fn one_of(
    field: &'static str,
    value: Option<&str>,
    allowed: &[&'static str],
) -> engagement_core::Result<Option<&'static str>> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|word| word.eq_ignore_ascii_case(value))
        .map(|word| Some(*word))
        .ok_or_else(|| {
            Error::invalid_query(
                field,
                format!("{value:?} is not one of {}", allowed.join(", ")),
            )
        })
}

/// The page for an unknown address.
pub(crate) async fn not_found() -> Response {
    let body = html! { p { "There is no page here. " a href="/engagement" { "Go to the engagement report" } } };
    let html = page("Page not found", None, Nav::None, body);
    (StatusCode::NOT_FOUND, Html(html.into_string())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewers_mistake_is_a_bad_request_and_the_hosts_a_server_error() {
        let viewer = Error::invalid_query("page_size", "must be 1 to 500");
        let host = Error::invalid_config("keep", "a retention policy must keep a day");
        assert_eq!(status_of(&viewer), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(&host), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_word_parameter_is_read_in_any_case_and_refused_otherwise() {
        let words = ["page", "all"];
        assert_eq!(one_of("scope", Some(" ALL "), &words).unwrap(), Some("all"));
        assert_eq!(one_of("scope", Some(""), &words).unwrap(), None);
        assert_eq!(one_of("scope", None, &words).unwrap(), None);
        let err = one_of("scope", Some("bogus"), &words).unwrap_err();
        assert_eq!(status_of(&err), StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("page, all"), "{err}");
    }
}
