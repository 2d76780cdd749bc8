//! Bind-limit chunking: how many rows one statement may carry.

/// Rows of `binds_per_row` arguments that fit in one statement under `max_binds`, keeping
/// `reserved` arguments for the rest of the statement (at least one row).
pub(crate) const fn rows_per_statement(
    max_binds: usize,
    binds_per_row: usize,
    reserved: usize,
) -> usize {
    let per_row = if binds_per_row == 0 { 1 } else { binds_per_row };
    let rows = max_binds.saturating_sub(reserved) / per_row;
    if rows == 0 { 1 } else { rows }
}

/// How many of the leading `items` one statement takes: at most `max_items`, and no more than
/// `max_bytes` of values by `size` (but always at least one).
pub(crate) fn chunk_len<T>(
    items: &[T],
    max_items: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> usize {
    let mut bytes = 0_usize;
    let mut n = 0;
    for item in items.iter().take(max_items) {
        bytes = bytes.saturating_add(size(item));
        if n > 0 && bytes > max_bytes {
            break;
        }
        n += 1;
    }
    n
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

    #[test]
    fn chunks_stay_under_the_byte_budget() {
        let sizes = [4, 4, 4, 4, 100, 1];
        assert_eq!(chunk_len(&sizes, 10, 10, |s| *s), 2);
        assert_eq!(
            chunk_len(&sizes[4..], 10, 10, |s| *s),
            1,
            "an oversized item goes alone"
        );
        assert_eq!(chunk_len(&sizes, 3, 1_000, |s| *s), 3);
        assert_eq!(chunk_len::<usize>(&[], 3, 1_000, |s| *s), 0);
    }
}
