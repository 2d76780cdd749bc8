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

/// How many of the `n` rows left (at least one) the next multi-row statement takes, at most
/// `max`, where every row's placeholders are written into the statement's text: `max`, or else
/// the largest power of two up to `n`. Statements then come in a few shapes that the driver
/// keeps prepared: SQLite parsed and planned each differently sized insert of hundreds of rows
/// anew (with its 18 placeholders a row), which cost more than inserting them.
pub(crate) fn prepared_rows(n: usize, max: usize) -> usize {
    let n = n.clamp(1, max.max(1));
    if n == max { n } else { 1 << n.ilog2() }
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
    fn prepared_statements_take_max_or_a_power_of_two() {
        let sizes = |mut n: usize, max: usize| {
            let mut out = Vec::new();
            while n > 0 {
                let take = prepared_rows(n, max);
                out.push(take);
                n -= take;
            }
            out
        };
        assert_eq!(sizes(1_000, 1_820), [512, 256, 128, 64, 32, 8]);
        assert_eq!(sizes(4_000, 1_820), [1_820, 1_820, 256, 64, 32, 8]);
        assert_eq!(sizes(1, 1_820), [1]);
        assert_eq!(sizes(3, 1), [1, 1, 1]);
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
