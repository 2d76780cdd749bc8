//! The shared benchmark workloads (`../shared/bench/README.md`) run through the public API.
//!
//! The `workloads` binary loads the data set that `gen.py` writes into a backend, runs Q1–Q8
//! through [`engagement_core::report::Reports`] and writes `results/engagement-NAME_LABEL.json`
//! in the peers' format, so `compare.py` checks our answers beside theirs.

pub mod dataset;
pub mod synthetic;
pub mod timing;
pub mod workloads;
