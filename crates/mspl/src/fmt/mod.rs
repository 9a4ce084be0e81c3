//! The formatter, and the one AST printer of the project: one canonical
//! layout, idempotent, keeping every comment (from the logos tokens).
//!
//! **Invariant:** the printed text parses back to the same AST (spans aside);
//! [`format_source`] checks it before handing text out, so `mspl fmt` never
//! writes a file that would change meaning.

pub mod comments;
pub mod expr;
mod items;

use crate::limits::Limits;
use crate::syntax::ast::File;
use crate::syntax::{parse_file, ParseError};
use comments::Comments;

/// The widest line the printer aims for.
pub const WIDTH: usize = 80;

/// Prints an AST in the canonical layout (no comments: the AST has none).
pub fn print_file(file: &File) -> String {
    items::Printer::new(Comments::none()).file(file, None)
}

/// Why a source could not be formatted.
#[derive(Debug)]
pub enum FormatError {
    /// The source does not parse; it is left as it is.
    Parse(Vec<ParseError>),
    /// The printed text would not parse back to the same tree: a bug in the
    /// printer, reported rather than written.
    NotPreserved,
}

/// Formats a whole source text, keeping its comments.
pub fn format_source(source: &str, limits: &Limits) -> Result<String, FormatError> {
    let parsed = parse_file(source, 0, limits);
    if !parsed.errors.is_empty() {
        return Err(FormatError::Parse(parsed.errors));
    }
    let printed = items::Printer::new(Comments::new(source)).file(&parsed.file, Some(source));
    let again = parse_file(&printed, 0, limits);
    if !again.errors.is_empty() || again.file != parsed.file {
        return Err(FormatError::NotPreserved);
    }
    Ok(printed)
}
