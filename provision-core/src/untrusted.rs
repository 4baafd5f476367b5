//! Text that came from HR or a vendor, made safe for the places a person opens it.
//!
//! * **Spreadsheets**: a CSV cell that begins with `=`, `+`, `-`, `@`, a tab or a
//!   carriage return is a formula to Excel, LibreOffice and Google Sheets (CSV
//!   injection: `=HYPERLINK(...)` in a display name runs when a reviewer opens the
//!   export). [`csv_cell`] prefixes such a cell with `'`, which the spreadsheet
//!   shows as text; [`CsvWriter`] does it for every cell it writes.
//! * **Terminals**: control characters in a name (`ESC [ 2 J`, OSC 8 links, a
//!   carriage return that overwrites the line) would drive the reader's terminal.
//!   [`terminal`] writes each as a visible `\u{..}` escape.
//!
//! HTML is escaped by the templates' auto-escaping (minijinja).

use std::borrow::Cow;
use std::io::Write;

/// `cell` as a spreadsheet shows it as text: prefixed with `'` when it begins with a
/// character that starts a formula.
pub fn csv_cell(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// `text` with every control character (C0 but newline, DEL, C1) written as a
/// visible `\u{..}` escape, so that printing it cannot drive a terminal.
pub fn terminal(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A CSV writer whose every cell goes through [`csv_cell`].
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        Self {
            inner: csv::Writer::from_writer(out),
        }
    }

    /// Writes one row, each cell neutralised.
    pub fn write_row<I, T>(&mut self, cells: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| csv_cell(c.as_ref()).into_owned())
            .collect();
        self.inner.write_record(&cells)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> Result<W, csv::Error> {
        self.inner
            .into_inner()
            .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
    }

    /// Flushes.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_plain_cells_are_untouched() {
        for bad in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(csv_cell(bad), format!("'{bad}"));
        }
        for fine in ["ana", "a=b", "e1001", "", "'quoted"] {
            assert_eq!(csv_cell(fine), fine);
        }
        let mut w = CsvWriter::new(Vec::new());
        w.write_row(["=1+1", "ok"]).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text, "'=1+1,ok\n");
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(terminal("Ana\u{1b}[2J"), "Ana\\u{1b}[2J");
        assert_eq!(terminal("a\rb\u{7f}\u{9b}"), "a\\u{d}b\\u{7f}\\u{9b}");
        assert_eq!(terminal("two\nlines"), "two\nlines");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
    }
}
