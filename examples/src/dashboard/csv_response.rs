//! CSV download responses: the type, the file name, and either bytes or a stream.

use axum::body::Body;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engagement_core::Result;
use engagement_core::csv::{CsvOptions, CsvReport};

/// The content type of every download.
pub(crate) const CSV_TYPE: &str = "text/csv; charset=utf-8";

/// A download of `body` named `file_name`.
pub(crate) fn download(file_name: &str, body: Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CSV_TYPE));
    // The cells are report data (names, URLs, metadata): no browser may sniff them as a page.
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // File names are built from dates and fixed words: ASCII without quotes.
    let disposition = format!("attachment; filename=\"{}\"", file_name.replace('"', ""));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    response
}

/// A whole report as a download under its seed file name.
pub(crate) fn report(report: &impl CsvReport) -> Result<Response> {
    let bytes = report.write_csv(Vec::new(), CsvOptions::default())?;
    Ok(download(&report.csv_file_name(), Body::from(bytes)))
}
