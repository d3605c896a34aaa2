//! Policy diagnostics: collected, never first-fail, rendered with miette or as JSON.
//!
//! The loader pushes every problem it finds into a list of [`Diagnostic`]s that refer to
//! [`Sources`] by span. Rendering happens once, at the edge, so the same diagnostics can be
//! shown to a human (graphical, with or without colour) or to an editor/CI (JSON). Rendering
//! must never print a secret (inline secrets are masked in `Sources`) and never dump a
//! megabyte-long line (long lines are clipped around the span).

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use super::source::{LineCol, Sources, Span, floor_char_boundary};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable machine-readable code, e.g. `policy::unknown-node`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where it is; `None` for problems with no position (missing directory, unreadable file).
    pub span: Option<Span>,
    pub label: String,
    pub help: Option<String>,
    /// Further labelled places in the same file (e.g. "first defined here").
    pub secondary: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span: Some(span),
            label: "here".into(),
            help: None,
            secondary: Vec::new(),
        }
    }

    /// A problem that has no position in a policy file.
    pub fn general(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
            secondary: Vec::new(),
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }
}

/// How to render diagnostics for a human.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    pub color: bool,
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: 100,
        }
    }
}

/// Render every diagnostic as miette's graphical report, separated by blank lines.
pub fn render_text(diagnostics: &[Diagnostic], sources: &Sources, opts: RenderOptions) -> String {
    let theme = if opts.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for d in diagnostics {
        let report = Report::new(d, sources);
        if handler.render_report(&mut out, &report).is_err() {
            // Rendering into a String cannot fail for I/O reasons; fall back to the plain form
            // rather than losing the diagnostic.
            out.push_str(&plain(d, sources));
        }
        out.push('\n');
    }
    out
}

fn plain(d: &Diagnostic, sources: &Sources) -> String {
    let at = d.span.map(|s| sources.location(s)).unwrap_or_default();
    format!("error[{}]: {} {at}\n", d.code, d.message)
}

/// A diagnostic in the shape editors and CI annotations consume.
#[derive(Clone, Debug, Serialize)]
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub label: Option<String>,
    pub help: Option<String>,
}

pub fn to_json(diagnostics: &[Diagnostic], sources: &Sources) -> Vec<JsonDiagnostic> {
    diagnostics
        .iter()
        .map(|d| {
            let (file, start, end) = match d.span {
                Some(span) => {
                    let start = sources.line_col(span.file, span.offset);
                    let end = sources.line_col(span.file, span.end());
                    let file = sources.file(span.file).display_path.display().to_string();
                    (Some(file), Some(start), Some(end))
                }
                None => (None, None, None),
            };
            JsonDiagnostic {
                severity: d.severity,
                code: d.code,
                message: d.message.clone(),
                file,
                line: start.map(|p: LineCol| p.line),
                column: start.map(|p| p.column),
                end_line: end.map(|p| p.line),
                end_column: end.map(|p| p.column),
                label: d.span.map(|_| d.label.clone()),
                help: d.help.clone(),
            }
        })
        .collect()
}

/// Adapter between our diagnostic and miette's protocol.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: Option<ClippedSource<'a>>,
}

impl<'a> Report<'a> {
    fn new(diagnostic: &'a Diagnostic, sources: &'a Sources) -> Self {
        let source = diagnostic.span.map(|span| {
            let file = sources.file(span.file);
            ClippedSource {
                name: file.display_path.display().to_string(),
                text: &file.text,
            }
        });
        Report { diagnostic, source }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("code", &self.diagnostic.code)
            .finish()
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diagnostic.span?;
        let primary = LabeledSpan::new_primary_with_span(
            Some(self.diagnostic.label.clone()),
            SourceSpan::new(span.offset.into(), span.len),
        );
        let others = self
            .diagnostic
            .secondary
            .iter()
            .filter(move |(s, _)| s.file == span.file)
            .map(|(s, l)| {
                LabeledSpan::new_with_span(Some(l.clone()), SourceSpan::new(s.offset.into(), s.len))
            });
        Some(Box::new(std::iter::once(primary).chain(others)))
    }
}

/// Longest line (in bytes) shown in full; longer lines are cut after the span.
const MAX_LINE: usize = 240;

/// A file's text that hands miette at most a few short lines around a span.
///
/// miette prints whole lines; a policy holding a 10 MB string would otherwise be printed in
/// full. Context lines longer than [`MAX_LINE`] are dropped and the span's own line is cut
/// shortly after the span, which keeps every offset miette computes valid.
struct ClippedSource<'a> {
    name: String,
    text: &'a str,
}

impl SourceCode for ClippedSource<'_> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text = self.text;
        if span.offset() > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let start = floor_char_boundary(text, span.offset());
        let span_end = floor_char_boundary(text, (span.offset() + span.len()).min(text.len()));

        // Walk back over at most `context_lines_before` short lines.
        let mut data_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let span_line_start = data_start;
        for _ in 0..context_lines_before {
            if data_start == 0 {
                break;
            }
            let prev_start = text[..data_start - 1].rfind('\n').map_or(0, |i| i + 1);
            if data_start - prev_start > MAX_LINE {
                break;
            }
            data_start = prev_start;
        }

        // Find the end of the span's last line; cut it if it is long.
        let mut data_end = text[span_end..]
            .find('\n')
            .map_or(text.len(), |i| span_end + i);
        let clipped = data_end - span_end > MAX_LINE;
        if clipped {
            data_end = floor_char_boundary(text, span_end + MAX_LINE / 3);
        } else {
            for _ in 0..context_lines_after {
                if data_end >= text.len() {
                    break;
                }
                let next_end = text[data_end + 1..]
                    .find('\n')
                    .map_or(text.len(), |i| data_end + 1 + i);
                if next_end - data_end > MAX_LINE {
                    break;
                }
                data_end = next_end;
            }
        }

        let data = &text[data_start..data_end];
        let line = text[..data_start].bytes().filter(|&b| b == b'\n').count();
        let column = if data_start == span_line_start {
            start - span_line_start
        } else {
            0
        };
        let line_count = data.bytes().filter(|&b| b == b'\n').count() + 1;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            data.as_bytes(),
            SourceSpan::new(data_start.into(), data.len()),
            line,
            column,
            line_count,
        )))
    }
}

/// Suggest the closest known name, for "did you mean" help texts.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(given, c), c))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// "did you mean `x`?" plus the full list of valid names.
pub fn suggestion_help(given: &str, candidates: &[&str], what: &str) -> String {
    let list = candidates
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match did_you_mean(given, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? valid {what}: {list}"),
        None => format!("valid {what}: {list}"),
    }
}
