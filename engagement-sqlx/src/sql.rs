//! [`Sql`]: a statement under construction, its text and its bound arguments, independent of
//! the database it will run on.
//!
//! Every value that comes from a caller goes through [`Sql::bind`]; only our own identifiers
//! (checked table names) and fixed keywords are ever pushed as text.

/// A bound argument, converted into the driver's own arguments by each dialect.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    /// Integers bound as one argument: a PostgreSQL array, or elsewhere a JSON array text (an
    /// id set).
    Ints(Vec<i64>),
    /// A column of nullable integers (PostgreSQL arrays only).
    OptInts(Vec<Option<i64>>),
    /// A column of text (PostgreSQL arrays only).
    Texts(Vec<String>),
    /// A column of nullable text (PostgreSQL arrays only).
    OptTexts(Vec<Option<String>>),
}

impl Arg {
    /// Roughly how many bytes the value takes on the wire.
    pub(crate) fn approx_bytes(&self) -> usize {
        match self {
            Self::Int(_) | Self::OptInt(_) => 8,
            Self::Text(s) => s.len() + 4,
            Self::OptText(s) => s.as_ref().map_or(4, |s| s.len() + 4),
            Self::Ints(v) => v.len() * 8,
            Self::OptInts(v) => v.len() * 8,
            Self::Texts(v) => v.iter().map(|s| s.len() + 4).sum(),
            Self::OptTexts(v) => v
                .iter()
                .map(|s| s.as_ref().map_or(4, |s| s.len() + 4))
                .sum(),
        }
    }

    /// Turns rows of scalar arguments into one array argument per column (all rows must have
    /// the same kind of argument in a column), for `UNNEST`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn columns<const N: usize>(rows: Vec<[Arg; N]>) -> Vec<Arg> {
        let mut columns: Vec<Arg> = match rows.first() {
            Some(first) => first
                .iter()
                .map(|a| match a {
                    Self::Int(_) | Self::Ints(_) => Self::Ints(Vec::with_capacity(rows.len())),
                    Self::OptInt(_) | Self::OptInts(_) => Self::OptInts(Vec::new()),
                    Self::Text(_) | Self::Texts(_) => Self::Texts(Vec::with_capacity(rows.len())),
                    Self::OptText(_) | Self::OptTexts(_) => Self::OptTexts(Vec::new()),
                })
                .collect(),
            None => return Vec::new(),
        };
        for row in rows {
            for (column, arg) in columns.iter_mut().zip(row) {
                match (column, arg) {
                    (Self::Ints(c), Self::Int(v)) => c.push(v),
                    (Self::OptInts(c), Self::OptInt(v)) => c.push(v),
                    (Self::Texts(c), Self::Text(v)) => c.push(v),
                    (Self::OptTexts(c), Self::OptText(v)) => c.push(v),
                    (Self::OptInts(c), Self::Int(v)) => c.push(Some(v)),
                    (Self::OptTexts(c), Self::Text(v)) => c.push(Some(v)),
                    // Rows are built by one function, so their kinds never disagree.
                    _ => {}
                }
            }
        }
        columns
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

/// How a dialect writes a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// `?` (SQLite, MySQL).
    #[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
    Question,
    /// `$1`, `$2`, … (PostgreSQL).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Dollar,
}

/// A statement: text with placeholders and the arguments they stand for.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    text: String,
    args: Vec<Arg>,
    placeholder: Placeholder,
    persistent: bool,
}

impl Sql {
    pub(crate) fn new(placeholder: Placeholder) -> Self {
        Self {
            text: String::with_capacity(256),
            args: Vec::new(),
            placeholder,
            persistent: true,
        }
    }

    /// Appends trusted text (keywords, checked identifiers).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        match self.placeholder {
            Placeholder::Question => self.text.push('?'),
            Placeholder::Dollar => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
        }
        self
    }

    /// Appends `(?, ?, …)` binding every item.
    pub(crate) fn bind_list<A: Into<Arg>>(
        &mut self,
        items: impl IntoIterator<Item = A>,
    ) -> &mut Self {
        self.text.push('(');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(item);
        }
        self.text.push(')');
        self
    }

    /// Marks a one-off statement (a large insert) that is not worth caching as prepared.
    pub(crate) fn one_off(&mut self) -> &mut Self {
        self.persistent = false;
        self
    }

    #[cfg(test)]
    pub(crate) fn arg_count(&self) -> usize {
        self.args.len()
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn is_persistent(&self) -> bool {
        self.persistent
    }

    pub(crate) fn into_parts(self) -> (String, Vec<Arg>) {
        (self.text, self.args)
    }
}

/// A LIKE pattern matching `term` anywhere, with `!`, `%` and `_` escaped by `!`, to be used
/// with `ESCAPE '!'`. (`!` rather than `\`: a backslash inside a string literal means different
/// things under MySQL's sql modes; `!` means the same everywhere.) Backslashes are ordinary
/// characters in the pattern.
pub(crate) fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A table of keys for a statement to join, bound as one argument a column or one argument in
/// all ([`Dialect::push_keys`](crate::dialect::Dialect::push_keys)).
#[derive(Debug)]
pub(crate) struct Keys {
    /// The columns' names.
    pub(crate) columns: &'static [&'static str],
    /// Each column's values, in the order of `columns`: [`Arg::Ints`] or [`Arg::Texts`], all of
    /// one length.
    pub(crate) values: Vec<Arg>,
}

impl Keys {
    /// `d.c = t.c AND …` over the columns: the rows of `d` the keys `t` name.
    pub(crate) fn matching(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("d.{c} = t.{c}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The keys as one JSON array of rows, each an array of its columns' values (`json_each`,
    /// `JSON_TABLE`).
    #[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
    pub(crate) fn json_rows(&self) -> String {
        let rows = self.values.first().map_or(0, |column| match column {
            Arg::Ints(v) => v.len(),
            Arg::Texts(v) => v.len(),
            _ => 0,
        });
        let value = |column: &Arg, row: usize| match column {
            Arg::Ints(v) => serde_json::Value::from(v[row]),
            Arg::Texts(v) => serde_json::Value::from(v[row].as_str()),
            _ => serde_json::Value::Null,
        };
        let table: Vec<serde_json::Value> = (0..rows)
            .map(|row| self.values.iter().map(|c| value(c, row)).collect())
            .collect();
        serde_json::Value::from(table).to_string()
    }
}

/// A JSON array of strings, the one-argument form of a text set (`json_each`, `JSON_TABLE`).
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) fn json_texts(texts: &[String]) -> String {
    serde_json::Value::from(texts).to_string()
}

/// A JSON array of integers, the one-argument form of an id set (`json_each`, `JSON_TABLE`).
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) fn json_array(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 8 + 2);
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_dialect() {
        let mut q = Sql::new(Placeholder::Dollar);
        q.push("a = ")
            .bind(1_i64)
            .push(" AND b IN ")
            .bind_list(["x", "y"]);
        assert_eq!(q.text(), "a = $1 AND b IN ($2, $3)");
        assert_eq!(q.arg_count(), 3);

        let mut q = Sql::new(Placeholder::Question);
        q.push("a = ")
            .bind(1_i64)
            .push(" AND b IN ")
            .bind_list(["x", "y"]);
        assert_eq!(q.text(), "a = ? AND b IN (?, ?)");
        let (_, args) = q.into_parts();
        assert_eq!(args[1], Arg::Text("x".into()));
    }

    #[test]
    fn like_patterns_escape_their_wildcards() {
        assert_eq!(contains_pattern("abc"), "%abc%");
        assert_eq!(contains_pattern("50%_off!"), "%50!%!_off!!%");
        assert_eq!(contains_pattern(r"a\b"), r"%a\b%");
        assert_eq!(contains_pattern(""), "%%");
    }

    #[test]
    fn id_sets_are_json_arrays() {
        assert_eq!(json_array(&[]), "[]");
        assert_eq!(json_array(&[1, -2, i64::MAX]), "[1,-2,9223372036854775807]");
    }

    #[test]
    fn rows_transpose_into_columns() {
        let rows = vec![
            [Arg::Int(1), Arg::Text("a".into()), Arg::OptText(None)],
            [
                Arg::Int(2),
                Arg::Text("b".into()),
                Arg::OptText(Some("x".into())),
            ],
        ];
        assert_eq!(
            Arg::columns(rows),
            [
                Arg::Ints(vec![1, 2]),
                Arg::Texts(vec!["a".into(), "b".into()]),
                Arg::OptTexts(vec![None, Some("x".into())]),
            ]
        );
        assert!(Arg::columns::<2>(Vec::new()).is_empty());
    }

    #[test]
    fn keys_are_json_rows_and_match_by_every_column() {
        let keys = Keys {
            columns: &["customer", "name"],
            values: vec![
                Arg::Ints(vec![i64::MIN, 7]),
                Arg::Texts(vec!["Page \"Viewed\"".into(), "🦀 \\ ".into()]),
            ],
        };
        assert_eq!(
            keys.json_rows(),
            r#"[[-9223372036854775808,"Page \"Viewed\""],[7,"🦀 \\ "]]"#
        );
        assert_eq!(
            keys.matching(),
            "d.customer = t.customer AND d.name = t.name"
        );
    }
}
