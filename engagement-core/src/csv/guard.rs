//! The formula-injection guard: text that a spreadsheet would read as a formula gets a leading `'`.
//!
//! Follows the OWASP CSV-injection guidance. A text cell is guarded when its first character
//! that is not white space is one of `=`, `+`, `-`, `@`, or the full-width `＝ ＋ － ＠`
//! (U+FF1D, U+FF0B, U+FF0D, U+FF20), or when a TAB, CR or LF comes before any other character.
//! White space other than TAB, CR and LF (spaces, the ideographic space U+3000, …) is skipped,
//! because spreadsheets trim it before deciding whether a cell is a formula.

use std::borrow::Cow;

/// The character written in front of a guarded cell.
pub const GUARD_PREFIX: char = '\'';

/// Characters that make a spreadsheet treat a cell as a formula when they come first.
const FORMULA_STARTS: [char; 11] = [
    '=', '+', '-', '@', '\t', '\r', '\n', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// Whether `text` would be read as a formula and must be guarded.
///
/// ```
/// use engagement_core::csv::needs_formula_guard;
///
/// assert!(needs_formula_guard("=HYPERLINK(\"http://x\")"));
/// assert!(needs_formula_guard("   -2+3"));
/// assert!(needs_formula_guard("＝1+1"));
/// assert!(!needs_formula_guard("/pricing"));
/// assert!(!needs_formula_guard(""));
/// ```
pub fn needs_formula_guard(text: &str) -> bool {
    // Most text starts with an ASCII byte that is neither a trigger nor white space: decided by
    // that byte alone.
    match text.as_bytes().first() {
        None => return false,
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\n') => return true,
        Some(&b) if b.is_ascii() && !char::from(b).is_whitespace() => return false,
        Some(_) => {}
    }
    for c in text.chars() {
        if FORMULA_STARTS.contains(&c) {
            return true;
        }
        if !c.is_whitespace() {
            return false;
        }
    }
    false
}

/// `text` as it is written to a guarded cell: with a leading `'` when
/// [`needs_formula_guard`] says so, unchanged (and not copied) otherwise.
///
/// ```
/// use engagement_core::csv::guard_formula;
///
/// assert_eq!(guard_formula("@SUM(A1)"), "'@SUM(A1)");
/// assert_eq!(guard_formula("Page Viewed"), "Page Viewed");
/// ```
pub fn guard_formula(text: &str) -> Cow<'_, str> {
    if needs_formula_guard(text) {
        let mut guarded = String::with_capacity(text.len() + 1);
        guarded.push(GUARD_PREFIX);
        guarded.push_str(text);
        Cow::Owned(guarded)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trigger_is_guarded_first_and_after_leading_spaces() {
        for trigger in FORMULA_STARTS {
            for lead in ["", " ", "   ", "\u{3000}", " \u{A0}"] {
                let text = format!("{lead}{trigger}cmd|' /C calc'!A0");
                assert!(needs_formula_guard(&text), "{text:?}");
                assert_eq!(guard_formula(&text), format!("'{text}"));
            }
        }
    }

    #[test]
    fn the_guard_table() {
        let cases = [
            ("=1+1", true),
            ("+1", true),
            ("-1", true),
            ("@SUM(A1:A2)", true),
            ("\t=1", true),
            ("\r\n", true),
            ("\nx", true),
            ("  =1", true),
            ("＝1", true),
            ("＋1", true),
            ("－1", true),
            ("＠x", true),
            (" ＠x", true),
            ("a=1", false),
            ("1-2", false),
            ("x@example.com", false),
            ("'=1", false),
            ("/path?x=-1", false),
            ("", false),
            ("   ", false),
            ("😀=1", false),
            ("~", false),
        ];
        for (text, guarded) in cases {
            assert_eq!(needs_formula_guard(text), guarded, "{text:?}");
            let written = guard_formula(text);
            if guarded {
                assert_eq!(written, format!("'{text}"), "{text:?}");
            } else {
                assert!(matches!(written, Cow::Borrowed(t) if t == text), "{text:?}");
            }
        }
    }
}
