//! Diagnostics: every problem of every stage becomes a [`Diagnostic`] here,
//! and is rendered in one place, by codespan-reporting (text) or as JSON
//! objects (contract: `severity`, `message`, `file`, `line`, `column`,
//! `span`, `help`).

use crate::span::{FileId, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::{Files, SimpleFiles};
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

/// The loaded source files, by [`FileId`].
#[derive(Clone, Default)]
pub struct Sources {
    files: SimpleFiles<String, String>,
    /// For a file with control characters, the text drawn instead: each
    /// such byte replaced by `?`, so that a NUL or a carriage return in a
    /// source never reaches a terminal and every byte offset stays.
    display: std::collections::BTreeMap<FileId, String>,
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
        let text = text.into();
        let shown = display_text(&text);
        let id = self.files.add(printable(&name.into()).into_owned(), text);
        if let Some(shown) = shown {
            self.display.insert(id, shown);
        }
        id
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
        self.line_column_at(span.file, span.start as usize)
    }

    /// 1-based line and column (in characters) of byte `at` of file `file`.
    /// Counts with the standard library's character count, in time linear
    /// in the column (codespan's own count is far slower on long lines).
    fn line_column_at(&self, file: FileId, at: usize) -> (usize, usize) {
        let Ok(line) = self.files.line_index(file, at) else {
            return (1, 1);
        };
        let start = self.files.line_range(file, line).map_or(0, |r| r.start);
        let text = self.text(file);
        let column = text
            .get(start..at.min(text.len()))
            .map_or(0, |s| s.chars().count());
        (line + 1, column + 1)
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
            // Each span's line measured once: a long one is drawn as a
            // window, which costs its fixed size rather than the line.
            let lines: Vec<usize> = self.spans(d).map(|(s, _)| self.line_len(s)).collect();
            let long = lines.iter().any(|&n| n > LONG_LINE);
            let whole: usize = lines.iter().sum();
            let cost = if long {
                whole.min(lines.len() * WINDOWED_COST)
            } else {
                whole
            };
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
            if long {
                let _ = std::io::Write::write_all(&mut buffer, self.windowed(d).as_bytes());
                continue;
            }
            let shown = Shown { sources: self };
            let _ = term::emit_to_write_style(&mut buffer, &config, &shown, &d.to_codespan());
        }
        String::from_utf8_lossy(buffer.as_slice()).into_owned()
    }

    /// The spans of `d`, primary first.
    fn spans<'a>(&self, d: &'a Diagnostic) -> impl Iterator<Item = (Span, &'a str)> + 'a {
        d.span
            .map(|s| (s, d.label.as_str()))
            .into_iter()
            .chain(d.secondary.iter().map(|(s, l)| (*s, l.as_str())))
    }

    /// `d` drawn with a window of about [`WINDOW`] characters of each
    /// labelled line around its label, in codespan's layout.
    fn windowed(&self, d: &Diagnostic) -> String {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        let mut out = format!("{severity}: {}\n", printable(&d.message));
        for (i, (span, label)) in self.spans(d).enumerate() {
            let (line, column) = self.line_column(span);
            if i == 0 {
                out.push_str(&format!(
                    "  ┌─ {}:{line}:{column}\n  │\n",
                    self.name(span.file)
                ));
            }
            let text = self.sources_display(span.file);
            // INVARIANT: spans lie inside their text on character
            // boundaries; clamped all the same, so drawing never panics.
            let start = boundary(text, span.start as usize);
            let span_end = boundary(text, span.end as usize).max(start);
            let line_start = self
                .files
                .line_range(span.file, line - 1)
                .map_or(0, |r| r.start);
            let line_end = text[start.min(text.len())..]
                .find('\n')
                .map_or(text.len(), |n| start + n);
            let before: Vec<(usize, char)> = text[line_start..start.min(text.len())]
                .char_indices()
                .rev()
                .take(WINDOW / 2)
                .collect();
            let from = before.last().map_or(start, |(b, _)| line_start + b);
            // At most a window of the span itself: a label over a 1 MB
            // literal shows its start.
            let end = text[start..span_end.min(line_end)]
                .char_indices()
                .nth(WINDOW)
                .map_or(span_end.min(line_end), |(b, _)| start + b);
            let after_end = text[end..line_end]
                .char_indices()
                .nth(WINDOW / 2)
                .map_or(line_end, |(b, _)| end + b);
            let lead = if from > line_start { "…" } else { "" };
            let tail = if after_end < line_end { "…" } else { "" };
            // Tabs as spaces, so that the marks stand under their text.
            let window = text[from..after_end]
                .trim_end_matches('\r')
                .replace('\t', " ");
            let pad = lead.chars().count() + text[from..start.min(text.len())].chars().count();
            let width = text[start.min(end)..end].chars().count().clamp(1, WINDOW);
            let mark = if i == 0 { '^' } else { '-' };
            let number = line.to_string();
            out.push_str(&format!("{number} │ {lead}{window}{tail}\n"));
            out.push_str(&format!(
                "{} │ {}{} {}\n",
                " ".repeat(number.len()),
                " ".repeat(pad),
                mark.to_string().repeat(width),
                printable(label)
            ));
        }
        let notes = d.note_lines();
        if !notes.is_empty() {
            out.push_str("  │\n");
        }
        for n in notes {
            out.push_str(&format!("  = {n}\n"));
        }
        out.push('\n');
        out
    }

    fn sources_display(&self, file: FileId) -> &str {
        match self.display.get(&file) {
            Some(t) => t,
            None => self.text(file),
        }
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

/// The sources as drawn: the display text where a file has one.
struct Shown<'a> {
    sources: &'a Sources,
}

impl<'a> Files<'a> for Shown<'a> {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        self.sources.files.get(id).map(|f| f.name().as_str())
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, codespan_reporting::files::Error> {
        match self.sources.display.get(&id) {
            Some(text) => Ok(text),
            None => self.sources.files.get(id).map(|f| f.source().as_str()),
        }
    }

    fn line_index(
        &'a self,
        id: FileId,
        at: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        self.sources.files.line_index(id, at)
    }

    fn line_range(
        &'a self,
        id: FileId,
        line: usize,
    ) -> Result<std::ops::Range<usize>, codespan_reporting::files::Error> {
        self.sources.files.line_range(id, line)
    }
}

/// Whether `c` must not reach a terminal raw: a control character other
/// than a line feed or a tab, or a line or paragraph separator.
fn unprintable(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_invisible_control(c)
}

/// Line and paragraph separators and the bidirectional controls, which can
/// reorder what a terminal shows ("Trojan Source"): escaped like control
/// characters.
fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The text to draw for a source with control characters (ASCII ones
/// replaced by `?`, others by as many `?` as they have bytes), or `None`
/// when it has none. A carriage return before a line feed stays.
fn display_text(text: &str) -> Option<String> {
    if !text.chars().any(|c| unprintable(c) && c != '\r') && !has_lone_cr(text) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            out.push(c);
        } else if unprintable(c) {
            out.extend(std::iter::repeat('?').take(c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn has_lone_cr(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'\r' && b.get(i + 1) != Some(&b'\n'))
}

/// `s` as it may be printed in text output: control characters (a newline
/// included) written as JSON string escapes write them (`\n`, `\u0000`),
/// so a user string (a policy id, a name, a message part) can never forge
/// a line of output.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_invisible_control(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_invisible_control(c) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`printable`] for text that may span lines on purpose (a note of
/// several lines): each line made printable, the line feeds kept.
fn printable_lines(s: &str) -> String {
    s.split('\n').map(printable).collect::<Vec<_>>().join("\n")
}

/// `at`, at most `text`'s length, moved back to a character boundary.
fn boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A labelled line longer than this (in bytes) is shown as a window.
pub const LONG_LINE: usize = 300;
/// About how many characters of a long line a window shows.
pub const WINDOW: usize = 100;
/// What one windowed label counts against [`MAX_RENDERED_SOURCE`]: its
/// window (at most four bytes a character) and the lines around it.
const WINDOWED_COST: usize = WINDOW * 4 + 80;

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

    /// The lines under the source, printable: where in a data file, the
    /// notes, the help line.
    fn note_lines(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let (Some(file), Some(line), Some(column)) = (&self.file, self.line, self.column) {
            notes.push(format!("at {}:{line}:{column}", printable(file)));
        }
        notes.extend(self.notes.iter().map(|n| printable_lines(n)));
        if let Some(h) = &self.help {
            notes.push(format!("help: {}", printable(h)));
        }
        notes
    }

    fn to_codespan(&self) -> CsDiagnostic<FileId> {
        let mut d = match self.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
            Severity::Note => CsDiagnostic::note(),
        }
        .with_message(printable(&self.message));
        if let Some(span) = self.span {
            let mut labels =
                vec![Label::primary(span.file, span.range()).with_message(printable(&self.label))];
            for (s, l) in &self.secondary {
                labels.push(Label::secondary(s.file, s.range()).with_message(printable(l)));
            }
            d = d.with_labels(labels);
        }
        d.with_notes(self.note_lines())
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
