//! Identifiers: workspaces, customers and events.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::printable::is_printable_ascii;
use crate::error::{Error, Result};

/// Longest workspace or event id, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// A workspace (tenant). Every query and every write is scoped to exactly one.
///
/// ```
/// use engagement_core::WorkspaceId;
///
/// let ws = WorkspaceId::new("acme")?;
/// assert_eq!(ws.as_str(), "acme");
/// assert!(WorkspaceId::new("").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceId(Arc<str>);

impl WorkspaceId {
    /// A workspace id: 1 to 128 bytes, no control characters.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] when the id is empty, too long or holds control characters.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        check_id("workspace", &id).map_err(|reason| Error::invalid_query("workspace", reason))?;
        Ok(Self(id.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for WorkspaceId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::new(s)
    }
}

/// As [`WorkspaceId::new`].
impl TryFrom<&str> for WorkspaceId {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

/// As [`WorkspaceId::new`]: `"acme".parse::<WorkspaceId>()`.
impl std::str::FromStr for WorkspaceId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl AsRef<str> for WorkspaceId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<WorkspaceId> for String {
    fn from(id: WorkspaceId) -> Self {
        id.0.to_string()
    }
}

/// A customer, as the host application numbers them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct CustomerId(pub i64);

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The caller-supplied id of an event: its idempotency key within a workspace.
///
/// Ids compare byte-wise; the event log breaks ties between events of the same microsecond by
/// this order. Callers with numeric ids that want numeric order should pad them to a fixed width.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// An event id. It is checked when the event is validated (1 to 128 bytes, no control
    /// characters), so that a bad id is reported with its position in the batch.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's text, to reuse its buffer.
    ///
    /// ```
    /// use engagement_core::EventId;
    ///
    /// let mut text = EventId::new("evt-1").into_string();
    /// text.replace_range(4.., "2");
    /// assert_eq!(EventId::new(text).as_str(), "evt-2");
    /// ```
    pub fn into_string(self) -> String {
        self.0
    }

    /// Checks the id's length and characters.
    ///
    /// # Errors
    /// A message saying what is wrong.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        check_id("event", &self.0)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EventId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for EventId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for EventId {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

fn check_id(what: &str, id: &str) -> std::result::Result<(), String> {
    if id.trim().is_empty() {
        return Err(format!("a {what} id must not be empty or blank"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "a {what} id has at most {MAX_ID_BYTES} bytes, this one has {}",
            id.len()
        ));
    }
    // Printable ASCII, nearly every id, has no control character.
    if !is_printable_ascii(id.as_bytes()) && id.chars().any(char::is_control) {
        return Err(format!("a {what} id must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_ids_parse_as_new_makes_them() {
        let parsed: WorkspaceId = "acme".parse().unwrap();
        assert_eq!(parsed, WorkspaceId::new("acme").unwrap());
        assert_eq!(WorkspaceId::try_from("acme").unwrap().as_ref(), "acme");
        assert!("".parse::<WorkspaceId>().is_err());
        assert!(WorkspaceId::try_from("a\u{0}b").is_err());
    }

    #[test]
    fn workspace_ids_are_checked() {
        assert!(WorkspaceId::new("a").is_ok());
        assert!(WorkspaceId::new("").is_err());
        assert!(WorkspaceId::new(" \t").is_err(), "blank");
        assert!(
            WorkspaceId::new(" a ").is_ok(),
            "spaces around text are the id's own"
        );
        assert!(WorkspaceId::new("a\0b").is_err());
        assert!(WorkspaceId::new("x".repeat(MAX_ID_BYTES + 1)).is_err());
        assert!(WorkspaceId::new("x".repeat(MAX_ID_BYTES)).is_ok());
    }

    #[test]
    fn event_ids_order_bytewise() {
        assert!(EventId::from("0009") < EventId::from("0010"));
        assert!(EventId::from("9") > EventId::from("10"));
        assert!(EventId::from("").check().is_err());
        assert!(EventId::from("   ").check().is_err(), "blank");
        assert!(EventId::from("ok-1").check().is_ok());
    }
}
