//! The formula-injection guard: text that a spreadsheet would read as a formula gets a leading `'`.
//!
//! Follows the OWASP CSV-injection guidance. A text cell is guarded when its first character
//! that is not white space is one of `=`, `+`, `-`, `@`, or the full-width `＝ ＋ － ＠`
//! (U+FF1D, U+FF0B, U+FF0D, U+FF20), or when a TAB, CR or LF comes before any other character.
//! White space other than TAB, CR and LF (spaces, the ideographic space U+3000, …) is skipped,
//! because spreadsheets trim it before deciding whether a cell is a formula.
//!
//! The guard can be undone ([`unguard_formula`]): text that is one or more `'` and then a
//! formula (`'=1`) reads like a guarded cell, so it gets a `'` too (`''=1`). A cell that is `'`
//! and then text that [`guard_formula`] prefixes is therefore always a guarded cell, whose `'`
//! [`unguard_formula`] removes; every other cell holds its text as it is.

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

/// Whether [`guard_formula`] prefixes `text`: when it would be read as a formula, or when it
/// is `'`s and then such a formula, which without a prefix of its own would read back as a
/// guarded cell.
pub(crate) fn needs_guard_prefix(text: &str) -> bool {
    needs_formula_guard(text.trim_start_matches(GUARD_PREFIX))
}

/// `text` as it is written to a guarded cell: with a leading `'` when [`needs_formula_guard`]
/// says so or when `text` is `'`s and then such a formula, unchanged (and not copied)
/// otherwise. [`unguard_formula`] gives `text` back.
///
/// ```
/// use engagement_core::csv::guard_formula;
///
/// assert_eq!(guard_formula("@SUM(A1)"), "'@SUM(A1)");
/// assert_eq!(guard_formula("'@SUM(A1)"), "''@SUM(A1)");
/// assert_eq!(guard_formula("Page Viewed"), "Page Viewed");
/// assert_eq!(guard_formula("'quoted'"), "'quoted'");
/// ```
pub fn guard_formula(text: &str) -> Cow<'_, str> {
    if needs_guard_prefix(text) {
        let mut guarded = String::with_capacity(text.len() + 1);
        guarded.push(GUARD_PREFIX);
        guarded.push_str(text);
        Cow::Owned(guarded)
    } else {
        Cow::Borrowed(text)
    }
}

/// The text a guarded cell was written from: `cell` without its first `'` when the rest is
/// text that [`guard_formula`] prefixes, `cell` itself otherwise. The inverse of
/// [`guard_formula`]: `unguard_formula(&guard_formula(text)) == text` for every `text`.
///
/// ```
/// use engagement_core::csv::unguard_formula;
///
/// assert_eq!(unguard_formula("'=1+1"), "=1+1");
/// assert_eq!(unguard_formula("''=1+1"), "'=1+1");
/// assert_eq!(unguard_formula("'quoted'"), "'quoted'");
/// assert_eq!(unguard_formula("-42"), "-42");
/// ```
pub fn unguard_formula(cell: &str) -> &str {
    match cell.strip_prefix(GUARD_PREFIX) {
        Some(text) if needs_guard_prefix(text) => text,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
        // (text, read as a formula, written with a `'`)
        let cases = [
            ("=1+1", true, true),
            ("+1", true, true),
            ("-1", true, true),
            ("@SUM(A1:A2)", true, true),
            ("\t=1", true, true),
            ("\r\n", true, true),
            ("\nx", true, true),
            ("  =1", true, true),
            ("＝1", true, true),
            ("＋1", true, true),
            ("－1", true, true),
            ("＠x", true, true),
            (" ＠x", true, true),
            ("'=1", false, true),
            ("''-1", false, true),
            ("' =1", false, true),
            ("'\t", false, true),
            ("a=1", false, false),
            ("1-2", false, false),
            ("x@example.com", false, false),
            ("'", false, false),
            ("'quoted'", false, false),
            (" '=1", false, false),
            ("/path?x=-1", false, false),
            ("", false, false),
            ("   ", false, false),
            ("😀=1", false, false),
            ("~", false, false),
        ];
        for (text, formula, prefixed) in cases {
            assert_eq!(needs_formula_guard(text), formula, "{text:?}");
            let written = guard_formula(text);
            if prefixed {
                assert_eq!(written, format!("'{text}"), "{text:?}");
            } else {
                assert!(matches!(written, Cow::Borrowed(t) if t == text), "{text:?}");
            }
            assert_eq!(unguard_formula(&written), text, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn unguarding_gives_back_what_was_guarded(
            text in prop_oneof!["['=+\\-@\t\r\n \u{3000}＝a😀]{0,6}", any::<String>()],
        ) {
            let written = guard_formula(&text);
            prop_assert_eq!(unguard_formula(&written), text.as_str());
        }
    }
}
