//! Aligned text tables with optional ANSI colour.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

/// How a column lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text columns.
    Left,
    /// Number columns.
    Right,
}

/// A cell colour (ANSI SGR), used only when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Low scores.
    Green,
    /// Medium scores.
    Cyan,
    /// High scores.
    Yellow,
    /// Very high scores and warnings.
    Red,
    /// Less important text.
    Dim,
    /// Headers and totals.
    Bold,
}

impl Colour {
    fn sgr(self) -> &'static str {
        match self {
            Self::Green => "32",
            Self::Cyan => "36",
            Self::Yellow => "33",
            Self::Red => "1;31",
            Self::Dim => "2",
            Self::Bold => "1",
        }
    }
}

/// A table cell: its text and, optionally, a colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    text: String,
    colour: Option<Colour>,
}

impl Cell {
    /// A plain cell.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            colour: None,
        }
    }

    /// A coloured cell.
    pub fn coloured(text: impl Into<String>, colour: Colour) -> Self {
        Self {
            text: text.into(),
            colour: Some(colour),
        }
    }
}

impl<T: Into<String>> From<T> for Cell {
    fn from(text: T) -> Self {
        Self::new(text)
    }
}

/// A table with a header row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these columns.
    pub fn new<'a>(columns: impl IntoIterator<Item = (&'a str, Align)>) -> Self {
        Self {
            columns: columns
                .into_iter()
                .map(|(n, a)| (n.to_owned(), a))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra ones ignored).
    pub fn row(&mut self, cells: impl IntoIterator<Item = Cell>) {
        self.rows.push(cells.into_iter().collect());
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, columns two spaces apart; with `colour`, cells carry
    /// their ANSI colour and the header is bold.
    pub fn render(&self, colour: bool) -> String {
        // Columns the text takes in a terminal: wide (CJK, emoji) characters take two.
        let width = |s: &str| s.width();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| width(&c.text))
                    .chain([width(name)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let header: Vec<Cell> = self
            .columns
            .iter()
            .map(|(n, _)| Cell::coloured(n.clone(), Colour::Bold))
            .collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, ((_, align), w)) in self.columns.iter().zip(&widths).enumerate() {
                let cell = row.get(i);
                let text = cell.map_or("", |c| c.text.as_str());
                let pad = " ".repeat(w.saturating_sub(width(text)));
                let painted = match cell.and_then(|c| c.colour).filter(|_| colour) {
                    Some(c) => format!("\x1b[{}m{text}\x1b[0m", c.sgr()),
                    None => text.to_owned(),
                };
                if i > 0 {
                    line.push_str("  ");
                }
                match align {
                    Align::Left => {
                        line.push_str(&painted);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(&painted);
                    }
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_numbers_align_right() {
        let mut t = Table::new([("name", Align::Left), ("score", Align::Right)]);
        t.row([Cell::new("Sebastián"), Cell::new("7")]);
        t.row([Cell::new("Al"), Cell::coloured("1200", Colour::Red)]);
        let text = t.render(false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name       score");
        assert_eq!(lines[1], "Sebastián      7");
        assert_eq!(lines[2], "Al          1200");
        assert!(!text.contains('\x1b'));
        let coloured = t.render(true);
        assert!(coloured.contains("\x1b[1;31m1200\x1b[0m"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let mut t = Table::new([("name", Align::Left), ("score", Align::Right)]);
        t.row([Cell::new("山田太郎"), Cell::new("7")]);
        t.row([Cell::new("Ann 🎉"), Cell::new("12")]);
        let text = t.render(false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "name      score");
        assert_eq!(lines[1], "山田太郎      7");
        assert_eq!(lines[2], "Ann 🎉       12");
    }
}
