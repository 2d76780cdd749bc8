//! Customers: the directory the reports join events to.

use serde::{Deserialize, Serialize};

use super::ids::CustomerId;
use super::validate::{Limits, check_text};
use crate::error::{Error, Result};

/// Whether a customer account is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// An active account.
    Active,
    /// An inactive (disabled, closed) account.
    Inactive,
}

/// As [`CustomerStatus::parse`]: `"active".parse::<CustomerStatus>()`.
impl std::str::FromStr for CustomerStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl CustomerStatus {
    /// The lower-case name used in storage and CSV ("active", "inactive").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    /// Parses "active" / "inactive" (any case).
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] for any other text.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Self::Active),
            "inactive" => Ok(Self::Inactive),
            _ => Err(Error::invalid_query(
                "status",
                format!("{s:?} is not a status: use \"active\" or \"inactive\""),
            )),
        }
    }
}

/// What an admin placeholder account's name reads, letters and digits only, lower-cased.
const PLACEHOLDER_NAME: &str = "adminplaceholder";

/// A customer of the host application.
///
/// ```
/// use engagement_core::{Customer, CustomerId};
///
/// let c = Customer::new(CustomerId(12345), "John", "Smith");
/// assert_eq!(c.full_name(), "John Smith");
/// assert!(!c.is_admin_placeholder);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The host's id for the customer.
    pub id: CustomerId,
    /// Short customer code, if the host uses one ("" when not set).
    pub code: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email address ("" when unknown).
    pub email: String,
    /// Active or inactive.
    pub status: CustomerStatus,
    /// A placeholder account used by administrators; excluded from the engagement ranking.
    /// Stores also record a customer with a placeholder name as one (see
    /// [`has_placeholder_name`](Self::has_placeholder_name)), flagged or not.
    pub is_admin_placeholder: bool,
}

impl Customer {
    /// An active, non-placeholder customer with no code and no email.
    #[must_use]
    pub fn new(
        id: CustomerId,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        Self {
            id,
            code: String::new(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            email: String::new(),
            status: CustomerStatus::Active,
            is_admin_placeholder: false,
        }
    }

    /// Whether the name marks an admin placeholder account (an account "with adminplaceholder
    /// names", which the engagement ranking leaves out): read with letters and digits only, in
    /// any case, the first and last name together are `adminplaceholder`, or each of them is.
    ///
    /// ```
    /// use engagement_core::{Customer, CustomerId};
    ///
    /// assert!(Customer::new(CustomerId(1), "Admin", "Placeholder").has_placeholder_name());
    /// assert!(Customer::new(CustomerId(2), "admin_placeholder", "").has_placeholder_name());
    /// assert!(Customer::new(CustomerId(3), "adminplaceholder", "AdminPlaceholder").has_placeholder_name());
    /// assert!(!Customer::new(CustomerId(4), "Placeholder", "Admin").has_placeholder_name());
    /// assert!(!Customer::new(CustomerId(5), "Admin", "Smith").has_placeholder_name());
    /// assert!(!Customer::new(CustomerId(6), "Ada", "AdminPlaceholder").has_placeholder_name());
    /// ```
    pub fn has_placeholder_name(&self) -> bool {
        let letters = |name: &str| {
            name.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        };
        let (first, last) = (letters(&self.first_name), letters(&self.last_name));
        format!("{first}{last}") == PLACEHOLDER_NAME
            || first == PLACEHOLDER_NAME && last == PLACEHOLDER_NAME
    }

    /// The record as every store keeps it: flagged as an admin placeholder when its name is one.
    #[must_use]
    pub fn as_stored(mut self) -> Self {
        self.is_admin_placeholder |= self.has_placeholder_name();
        self
    }

    /// "First Last", trimmed.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    /// The text the activity search matches against: first name, last name, full name, code and
    /// email, each [folded](fold_for_search), separated by a character no search term may
    /// contain.
    ///
    /// Backends store or compute exactly this, so that search behaves the same everywhere.
    pub fn search_text(&self) -> String {
        [
            self.first_name.as_str(),
            self.last_name.as_str(),
            &self.full_name(),
            self.code.as_str(),
            self.email.as_str(),
        ]
        .map(fold_for_search)
        .join(SEARCH_SEPARATOR)
    }

    /// Checks every field against `limits`.
    ///
    /// # Errors
    /// [`Error::InvalidEvent`] naming the field, with `index` as the position in its batch.
    pub fn validate(&self, index: usize, limits: &Limits) -> Result<()> {
        for (field, value) in [
            ("code", &self.code),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("email", &self.email),
        ] {
            check_text(value, limits.max_text_bytes).map_err(|reason| Error::InvalidEvent {
                index,
                field,
                reason,
            })?;
        }
        Ok(())
    }
}

/// Joins the fields of [`Customer::search_text`]; search terms may not contain it.
pub const SEARCH_SEPARATOR: &str = "\u{1f}";

/// Text as case-insensitive searches compare it (a search term, and what it is looked for
/// in): every character lower-cased on its own, and the final sigma `ς` as `σ`.
///
/// Not [`str::to_lowercase`], which lower-cases a Σ at the end of a word to `ς` and
/// elsewhere to `σ`, so that the name "ΚΩΣΤΑΣ" (`κωστας`) did not contain the search "ΚΩΣ"
/// (`κως`).
///
/// ```
/// use engagement_core::fold_for_search;
///
/// assert_eq!(fold_for_search("ΚΩΣΤΑΣ"), "κωστασ");
/// assert!(fold_for_search("ΚΩΣΤΑΣ").contains(&fold_for_search("ΚΩΣ")));
/// assert_eq!(fold_for_search("Anna@Example.COM"), "anna@example.com");
/// ```
pub fn fold_for_search(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
}

/// The words of a search `term`, each folded as [`fold_for_search`] folds, without repeats. A
/// searched text matches when it holds every word, in any order, as a table's search box
/// reads a search: "smith john" finds John Smith, and "12345 smith" the row of customer
/// #12345 named Smith. A blank term has no words and matches everything.
///
/// ```
/// use engagement_core::search_words;
///
/// assert_eq!(search_words("  Smith  JOHN smith "), ["john", "smith"]);
/// assert!(search_words(" ").is_empty());
/// ```
pub fn search_words(term: &str) -> Vec<String> {
    let folded = fold_for_search(term);
    let mut words: Vec<String> = folded.split_whitespace().map(str::to_owned).collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// Whether `text`, folded as [`fold_for_search`] folds (a [`Customer::search_text`]), holds
/// every one of `words` ([`search_words`]): the activity search's rule on every store.
///
/// ```
/// use engagement_core::{holds_every_word, search_words};
///
/// assert!(holds_every_word("ann\u{1f}smith", &search_words("Smith ANN")));
/// assert!(!holds_every_word("ann\u{1f}smith", &search_words("ann jones")));
/// ```
pub fn holds_every_word(text: &str, words: &[String]) -> bool {
    words.iter().all(|word| text.contains(word.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_lowercases_every_field() {
        let mut c = Customer::new(CustomerId(1), "Ánna", "SMITH");
        c.code = "AB12".into();
        c.email = "Anna@Example.com".into();
        let text = c.search_text();
        assert!(text.contains("ánna smith"));
        assert!(text.contains("ab12"));
        assert!(text.contains("anna@example.com"));
    }

    #[test]
    fn status_parses_both_cases() {
        assert_eq!(
            CustomerStatus::parse("Active").unwrap(),
            CustomerStatus::Active
        );
        assert_eq!(
            CustomerStatus::parse("inactive").unwrap(),
            CustomerStatus::Inactive
        );
        assert!(CustomerStatus::parse("gone").is_err());
    }
}
