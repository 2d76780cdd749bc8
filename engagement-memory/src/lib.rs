//! In-memory backend (placeholder until built).
