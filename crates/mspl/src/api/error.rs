//! The façade's errors: each a list of located problems and their rendering
//! for people (the text `mspl` prints), a [`std::error::Error`].

use crate::diag::{Diagnostic, Severity, Sources};
use std::fmt;

/// One problem, where it is and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    message: String,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    help: Option<String>,
    warning: bool,
}

impl Problem {
    pub(crate) fn of(sources: &Sources, d: &Diagnostic) -> Problem {
        let json = sources.to_json(d);
        Problem {
            message: json.message,
            file: json.file,
            line: json.line,
            column: json.column,
            help: json.help,
            warning: d.severity != Severity::Error,
        }
    }

    /// What is wrong (lowercase, user input in backticks).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The file (or the name the text was given) it is in, when known.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Its 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// Its 1-based column, when known.
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// How to fix it, where that helps.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Whether it is only a warning (nothing was refused for it).
    pub fn is_warning(&self) -> bool {
        self.warning
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line, self.column) {
            (Some(file), Some(line), Some(column)) => {
                write!(f, "{file}:{line}:{column}: {}", self.message)
            }
            (Some(file), _, _) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Problems with their rendering, shared by the errors below.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Located {
    problems: Vec<Problem>,
    rendered: String,
    colored: String,
}

impl Located {
    fn new(sources: &Sources, diagnostics: &[Diagnostic]) -> Located {
        Located {
            problems: diagnostics
                .iter()
                .map(|d| Problem::of(sources, d))
                .collect(),
            rendered: sources.render(diagnostics, false),
            colored: sources.render(diagnostics, true),
        }
    }
}

macro_rules! located_error {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(Located);

        impl $name {
            pub(crate) fn new(sources: &Sources, diagnostics: &[Diagnostic]) -> $name {
                $name(Located::new(sources, diagnostics))
            }

            /// Every problem found, errors and warnings, in order.
            pub fn problems(&self) -> &[Problem] {
                &self.0.problems
            }

            /// The problems drawn on their source, as `mspl` prints them;
            /// with ANSI colours when `color`.
            pub fn render(&self, color: bool) -> &str {
                if color {
                    &self.0.colored
                } else {
                    &self.0.rendered
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.rendered.trim_end())
            }
        }

        impl std::error::Error for $name {}
    };
}

located_error! {
    /// Policies, rules or declarations that do not load: syntax errors,
    /// unknown names, links that do not fit their templates.
    LoadError
}

located_error! {
    /// Data that does not read: entities, a context or a request that is
    /// not the JSON it should be, or (with declarations) not of the
    /// declared types.
    DataError
}

impl DataError {
    /// A problem in data text that is no loaded source: located by line
    /// and column in the text named `file`.
    pub(crate) fn of_data(e: &crate::entities::json::DataError) -> DataError {
        DataError::new(&Sources::new(), &[Diagnostic::from(e)])
    }

    /// A problem with no place.
    pub(crate) fn message(message: impl Into<String>) -> DataError {
        DataError::new(&Sources::new(), &[Diagnostic::plain(message)])
    }
}

/// A limit given a value outside what it can be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitError(pub(crate) crate::limits::LimitError);

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LimitError {}
