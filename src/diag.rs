//! Diagnostics: every problem of every stage becomes a [`Diagnostic`] here,
//! and is rendered in one place, by codespan-reporting (text) or as JSON
//! objects (contract: `severity`, `message`, `file`, `line`, `column`,
//! `span`, `help`).

use crate::syntax::span::{FileId, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::{Files, SimpleFiles};
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

/// The loaded source files, by [`FileId`].
#[derive(Clone, Default)]
pub struct Sources {
    files: SimpleFiles<String, String>,
    count: usize,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources")
    }
}

impl Sources {
    /// An empty set of sources.
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.count += 1;
        self.files.add(name.into(), text.into())
    }

    /// The id the next added file will get.
    pub fn next_id(&self) -> FileId {
        self.count
    }

    /// The name of file `id`.
    pub fn name(&self, id: FileId) -> &str {
        self.files
            .get(id)
            .map(|f| f.name().as_str())
            .unwrap_or("<unknown>")
    }

    /// The text of file `id`.
    pub fn text(&self, id: FileId) -> &str {
        self.files
            .get(id)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    /// The source text under `span`.
    pub fn snippet(&self, span: Span) -> &str {
        self.text(span.file).get(span.range()).unwrap_or("")
    }

    /// 1-based line and column of the start of `span`.
    pub fn line_column(&self, span: Span) -> (usize, usize) {
        match self.files.location(span.file, span.start as usize) {
            Ok(loc) => (loc.line_number, loc.column_number),
            Err(_) => (1, 1),
        }
    }

    /// Renders diagnostics as codespan text; `color` adds ANSI colours.
    ///
    /// At most [`MAX_RENDERED`] diagnostics, showing at most
    /// [`MAX_RENDERED_SOURCE`] bytes of source lines, are drawn; the rest are
    /// counted in a last line. Each drawing costs the length of the lines
    /// it shows, so without the bounds thousands of errors on one long line
    /// would take quadratic time.
    pub fn render(&self, diagnostics: &[Diagnostic], color: bool) -> String {
        let mut buffer = if color {
            termcolor::Buffer::ansi()
        } else {
            termcolor::Buffer::no_color()
        };
        let config = term::Config::default();
        let mut shown = 0usize;
        for (i, d) in diagnostics.iter().enumerate() {
            let cost: usize = d
                .span
                .iter()
                .chain(d.secondary.iter().map(|(s, _)| s))
                .map(|s| self.line_len(*s))
                .sum();
            if i > 0 && (i >= MAX_RENDERED || shown.saturating_add(cost) > MAX_RENDERED_SOURCE) {
                let rest = diagnostics.len() - i;
                let _ = std::io::Write::write_all(
                    &mut buffer,
                    format!("… and {rest} more problem(s) not shown (`--format json` lists every one)\n")
                        .as_bytes(),
                );
                break;
            }
            shown = shown.saturating_add(cost);
            let _ = term::emit_to_write_style(&mut buffer, &config, &self.files, &d.to_codespan());
        }
        String::from_utf8_lossy(buffer.as_slice()).into_owned()
    }

    /// The length of the source lines `span` covers.
    fn line_len(&self, span: Span) -> usize {
        let files = &self.files;
        let line = |at: u32| files.line_index(span.file, at as usize).ok();
        match (line(span.start), line(span.end)) {
            (Some(first), Some(last)) => {
                let start = files.line_range(span.file, first).map_or(0, |r| r.start);
                let end = files.line_range(span.file, last).map_or(0, |r| r.end);
                end.saturating_sub(start)
            }
            _ => 0,
        }
    }

    /// The JSON form of a diagnostic.
    pub fn to_json(&self, d: &Diagnostic) -> JsonDiagnostic {
        let (file, line, column, span) = match d.span {
            Some(s) => {
                let (line, column) = self.line_column(s);
                (
                    Some(self.name(s.file).to_string()),
                    Some(line),
                    Some(column),
                    Some([s.start, s.end]),
                )
            }
            None => (d.file.clone(), d.line, d.column, None),
        };
        JsonDiagnostic {
            severity: d.severity,
            message: d.message.clone(),
            file,
            line,
            column,
            span,
            help: d.help.clone(),
        }
    }
}

/// The most diagnostics [`Sources::render`] draws in one call.
pub const MAX_RENDERED: usize = 100;
/// The most source text, in bytes, [`Sources::render`] shows in one call.
pub const MAX_RENDERED_SOURCE: usize = 1 << 20;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Information, such as a trace.
    Note,
    /// Worth knowing; does not fail a command.
    Warning,
    /// Fails the command.
    Error,
}

/// One problem, located in a source file (or in a data file by line).
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong: lowercase, no final period, user input in backticks.
    pub message: String,
    /// Where, in a loaded source.
    pub span: Option<Span>,
    /// The label under the span.
    pub label: String,
    /// Other places worth showing.
    pub secondary: Vec<(Span, String)>,
    /// How to fix it.
    pub help: Option<String>,
    /// For problems in files that are not loaded sources (data files).
    pub file: Option<String>,
    /// Line in `file`.
    pub line: Option<usize>,
    /// Extra lines under the source (traces).
    pub notes: Vec<String>,
    /// Column in `file`.
    pub column: Option<usize>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: Some(span),
            label: label.into(),
            secondary: Vec::new(),
            help: None,
            file: None,
            line: None,
            column: None,
            notes: Vec::new(),
        }
    }

    /// An error with no source location (an unreadable file, a bad flag).
    pub fn plain(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: String::new(),
            secondary: Vec::new(),
            help: None,
            file: None,
            line: None,
            column: None,
            notes: Vec::new(),
        }
    }

    /// A note at `span` (traces, explanations).
    pub fn note(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Note,
            ..Diagnostic::error(message, span, label)
        }
    }

    /// Adds notes shown under the source.
    pub fn with_notes(mut self, notes: Vec<String>) -> Diagnostic {
        self.notes.extend(notes);
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    /// Makes it a warning.
    pub fn warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }

    fn to_codespan(&self) -> CsDiagnostic<FileId> {
        let mut d = match self.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
            Severity::Note => CsDiagnostic::note(),
        }
        .with_message(&self.message);
        if let Some(span) = self.span {
            let mut labels =
                vec![Label::primary(span.file, span.range()).with_message(&self.label)];
            for (s, l) in &self.secondary {
                labels.push(Label::secondary(s.file, s.range()).with_message(l));
            }
            d = d.with_labels(labels);
        }
        let mut notes = Vec::new();
        if let (Some(file), Some(line), Some(column)) = (&self.file, self.line, self.column) {
            notes.push(format!("at {file}:{line}:{column}"));
        }
        notes.extend(self.notes.iter().cloned());
        if let Some(h) = &self.help {
            notes.push(format!("help: {h}"));
        }
        d.with_notes(notes)
    }
}

/// The JSON form of a diagnostic (contract).
#[derive(Clone, Debug, Serialize)]
pub struct JsonDiagnostic {
    /// `"error"` or `"warning"`.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// The file's name.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Byte range in the file.
    pub span: Option<[u32; 2]>,
    /// How to fix it.
    pub help: Option<String>,
}

impl From<&crate::syntax::ParseError> for Diagnostic {
    fn from(e: &crate::syntax::ParseError) -> Diagnostic {
        Diagnostic::error(e.to_string(), e.span(), e.label()).with_help(e.help())
    }
}

impl From<&crate::schema::SchemaError> for Diagnostic {
    fn from(e: &crate::schema::SchemaError) -> Diagnostic {
        let help = match e {
            crate::schema::SchemaError::UnknownType {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            _ => None,
        };
        let label = match e {
            crate::schema::SchemaError::UnknownType { .. } => "no type of this name",
            _ => "declared again here",
        };
        Diagnostic::error(e.to_string(), e.span(), label).with_help(help)
    }
}

impl From<&crate::entities::json::DataError> for Diagnostic {
    fn from(e: &crate::entities::json::DataError) -> Diagnostic {
        let mut d = Diagnostic::plain(e.message.clone());
        d.file = Some(e.file.clone());
        d.line = Some(e.line);
        d.column = Some(e.column);
        d.help = e.help.clone();
        d
    }
}
