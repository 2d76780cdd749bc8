//! The shared conformance suite and differential property tests, run against `MemoryStore`.

use engagement_core::conformance_tests;
use engagement_memory::MemoryStore;

conformance_tests!(|| async { MemoryStore::new() });
