//! Shared pieces of the example binaries: realistic demo data.

pub mod demo_data;
