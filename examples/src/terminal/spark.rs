//! Sparklines as Unicode block characters.

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One block per count, scaled so the largest count is a full block; only zero is the lowest
/// block, so a quiet day still shows above an empty one.
///
/// ```
/// use engagement_examples::terminal::sparkline;
///
/// assert_eq!(sparkline(&[0, 1, 2, 4, 8]), "▁▂▃▅█");
/// assert_eq!(sparkline(&[0, 0]), "▁▁");
/// ```
pub fn sparkline(counts: &[u64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&n| {
            if max == 0 || n == 0 {
                BLOCKS[0]
            } else {
                // 1..=max maps onto blocks 0..=7, the largest always the full block.
                let level = (n as u128 * 7).div_ceil(max as u128) as usize;
                BLOCKS[level.min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_count_is_a_full_block_and_order_is_kept() {
        let line = sparkline(&[3, 0, 10, 5]);
        let chars: Vec<char> = line.chars().collect();
        assert_eq!(chars.len(), 4);
        assert_eq!(chars[2], '█');
        assert_eq!(chars[1], '▁');
        assert!(chars[0] < chars[3] && chars[3] < chars[2]);
        assert_eq!(sparkline(&[]), "");
    }
}
