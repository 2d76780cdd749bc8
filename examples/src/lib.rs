//! Shared pieces of the example binaries: realistic demo data, opening a store by URL, time
//! ranges as text, searching the ranking, terminal tables and the web dashboard.

pub mod dashboard;
pub mod demo_data;
pub mod range_text;
pub mod ranking_search;
pub mod store_url;
pub mod terminal;

/// The README's embed example, compiled as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
