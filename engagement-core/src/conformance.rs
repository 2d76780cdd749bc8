//! The shared backend test suite (written by the reference helper).
