//! Whether text is printable ASCII, eight bytes at a time: what nearly every text field of an
//! event is, and validation checks ten of them an event, on every `send`.

/// Every byte of a word set to `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The high bit of each byte of `word` that is not printable ASCII (below a space, DEL, or
/// above), and possibly of bytes after such a byte, never of a word without one. Borrows of
/// the subtraction start only at bytes below a space and carries of the addition only at
/// bytes of `0xff`, so whether the result is zero is exact.
const fn unprintable(word: u64) -> u64 {
    let below_space = word.wrapping_sub(splat(b' ')) & !word;
    let del_or_above = word.wrapping_add(splat(1)) | word;
    (below_space | del_or_above) & splat(0x80)
}

/// Whether every byte of `bytes` is printable ASCII (a space to `~`).
pub(crate) fn is_printable_ascii(bytes: &[u8]) -> bool {
    let Some(last) = bytes.last_chunk::<8>() else {
        // Shorter than a word: padded with spaces, which are printable.
        let mut word = [b' '; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        return unprintable(u64::from_ne_bytes(word)) == 0;
    };
    // The whole words, then the last eight bytes (overlapping them when the length is not a
    // multiple of eight); no early exit, so that the loop stays a few instructions a word.
    let (words, _) = bytes.as_chunks::<8>();
    let found = words
        .iter()
        .fold(unprintable(u64::from_ne_bytes(*last)), |found, word| {
            found | unprintable(u64::from_ne_bytes(*word))
        });
    found == 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn by_bytes(bytes: &[u8]) -> bool {
        bytes.iter().all(|b| (b' '..0x7f).contains(b))
    }

    #[test]
    fn each_byte_value_at_each_position_of_a_word_and_its_tail() {
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=u8::MAX {
                    let mut text = vec![b'a'; len];
                    text[at] = b;
                    assert_eq!(
                        is_printable_ascii(&text),
                        by_bytes(&text),
                        "byte {b:#04x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(is_printable_ascii(b""));
    }

    proptest! {
        #[test]
        fn agrees_with_a_byte_by_byte_check(
            bytes in prop::collection::vec(
                prop_oneof![4 => b' '..=b'~', 1 => any::<u8>()],
                0..40,
            ),
        ) {
            prop_assert_eq!(is_printable_ascii(&bytes), by_bytes(&bytes));
        }
    }
}
