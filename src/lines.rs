//! Physical line numbers for messages about CSV and JSON input.
//!
//! People open the file in an editor, so a message names the line the editor shows. The csv
//! crate's positions count records, not lines (a quoted field over two lines, a blank line
//! or a CRLF puts them behind the file), and serde_json gives positions only for errors:
//! both are turned into lines here from byte offsets.

/// Turns increasing byte offsets into 1-based line numbers without rescanning the file.
pub struct LineCounter<'b> {
    bytes: &'b [u8],
    offset: usize,
    line: usize,
}

impl<'b> LineCounter<'b> {
    pub fn new(bytes: &'b [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the CSV record the csv crate places at byte `offset`. Its offset may
    /// point at the end of the line before (the `\n` of a CRLF) or at blank lines it
    /// skipped: the record starts at the first byte after them.
    pub fn record_line(&mut self, offset: u64) -> usize {
        let mut offset = (offset as usize).min(self.bytes.len());
        while offset < self.bytes.len() && matches!(self.bytes[offset], b'\r' | b'\n') {
            offset += 1;
        }
        self.line_at(offset)
    }

    /// The line of byte `offset`; offsets normally come in increasing order (an earlier one
    /// restarts the count).
    pub fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        if offset < self.offset {
            *self = LineCounter::new(self.bytes);
        }
        self.line += self.bytes[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

/// The byte offset of `part` inside `whole`, when `part` is a slice of it (a borrowed
/// `serde_json::value::RawValue`, say).
pub fn offset_in(whole: &[u8], part: &str) -> Option<usize> {
    let start = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    (at >= start && at + part.len() <= start + whole.len()).then(|| at - start)
}
