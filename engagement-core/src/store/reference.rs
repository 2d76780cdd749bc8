//! The reference evaluator (written by the reference helper).
