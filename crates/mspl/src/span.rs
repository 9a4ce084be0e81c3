//! Source locations: every AST node and every runtime error carries a [`Span`].

use std::fmt;

/// Identifies one loaded source file in a [`crate::diag::Sources`].
pub type FileId = usize;

/// A byte range in one source file.
///
/// Spans are left out of equality and hashing, as in Cedar: two parses of the
/// same text compare equal wherever the text sits, which is what the formatter's
/// round-trip test and the AST snapshots need.
#[derive(Clone, Copy, Default)]
pub struct Span {
    /// The file the range belongs to.
    pub file: FileId,
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// A span over `start..end` of `file`.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "every reader holds a source to at most `limits::MAX_FILE_BYTES_CEILING` (u32::MAX) bytes"
    )]
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The byte range, for slicing the source and for codespan labels.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Eq for Span {}

impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}
