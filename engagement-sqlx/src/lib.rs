//! SQL backends (placeholder until built).
