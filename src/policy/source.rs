//! Policy source files and positions inside them.
//!
//! Every diagnostic and every model element points back at the text a human wrote, so the
//! loader keeps each file's text here once and hands out small `Span`s into it. This module
//! never interprets KDL; it only knows files, byte offsets, lines and columns.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file inside [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range inside one policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(file: FileId, offset: usize, len: usize) -> Self {
        Span { file, offset, len }
    }

    pub fn from_miette(file: FileId, span: miette::SourceSpan) -> Self {
        Span::new(file, span.offset(), span.len())
    }

    pub fn end(&self) -> usize {
        self.offset + self.len
    }
}

/// A value together with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// One policy file as read from disk.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path shown to humans (relative to the policy repository root when possible).
    pub display_path: PathBuf,
    /// The text used for rendering; inline secrets are masked here before anything renders it.
    pub text: Arc<str>,
}

/// All policy files of one load, in a stable (sorted) order.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

/// A 1-based line and column (columns count characters, as editors do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl Sources {
    pub fn add(&mut self, display_path: impl AsRef<Path>, text: impl Into<Arc<str>>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            display_path: display_path.as_ref().to_path_buf(),
            text: text.into(),
        });
        id
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Replace the bytes of `span` with `*` so that a secret written inline can be pointed at
    /// without ever being shown. Byte length is preserved, so every other span stays valid.
    pub fn mask(&mut self, span: Span) {
        let file = &mut self.files[span.file.0 as usize];
        let mut bytes = file.text.as_bytes().to_vec();
        let end = span.end().min(bytes.len());
        for b in &mut bytes[span.offset.min(end)..end] {
            *b = b'*';
        }
        // Masking whole UTF-8 sequences byte-wise with ASCII keeps the text valid UTF-8 only if
        // the span is on char boundaries, which KDL value spans always are.
        file.text = String::from_utf8_lossy(&bytes).into_owned().into();
    }

    /// Line and column of a byte offset.
    pub fn line_col(&self, file: FileId, offset: usize) -> LineCol {
        line_col(&self.file(file).text, offset)
    }

    /// Display path and 1-based position, e.g. `policies/systems.kdl:3:9`.
    pub fn location(&self, span: Span) -> String {
        let lc = self.line_col(span.file, span.offset);
        format!(
            "{}:{}:{}",
            self.file(span.file).display_path.display(),
            lc.line,
            lc.column
        )
    }
}

/// 1-based line and character column of `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    LineCol { line, column }
}

pub(crate) fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "ä\nöü x";
        assert_eq!(line_col(text, 0), LineCol { line: 1, column: 1 });
        let x = text.find('x').unwrap();
        assert_eq!(line_col(text, x), LineCol { line: 2, column: 4 });
    }

    #[test]
    fn mask_keeps_length_and_hides_value() {
        let mut s = Sources::default();
        let id = s.add("a.kdl", "token=\"hunter2\"");
        s.mask(Span::new(id, 7, 7));
        assert_eq!(&*s.file(id).text, "token=\"*******\"");
    }
}
