//! Bind-limit chunking: how many rows one statement may carry.

/// Rows of `binds_per_row` arguments that fit in one statement under `max_binds`, keeping
/// `reserved` arguments for the rest of the statement (at least one row).
pub(crate) fn rows_per_statement(max_binds: usize, binds_per_row: usize, reserved: usize) -> usize {
    (max_binds.saturating_sub(reserved) / binds_per_row.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_under_the_limit() {
        assert_eq!(rows_per_statement(32_766, 18, 0), 1_820);
        assert!(rows_per_statement(32_766, 18, 0) * 18 <= 32_766);
        assert_eq!(rows_per_statement(65_535, 1, 1), 65_534);
        assert_eq!(rows_per_statement(10, 100, 0), 1);
        assert_eq!(rows_per_statement(10, 0, 0), 10);
    }
}
