//! The comments of a source text, from the logos token stream, handed out
//! in order as the printer reaches their places. Every comment is handed out
//! exactly once: none is lost.

use crate::syntax::tokens::{lex, Token};

/// The comments of one source, in order, with a cursor.
pub struct Comments<'a> {
    source: &'a str,
    list: Vec<(usize, usize, String)>,
    next: usize,
    /// Where the last thing handed out or printed ended, for blank lines.
    mark: usize,
}

impl<'a> Comments<'a> {
    /// The comments of `source`.
    pub fn new(source: &'a str) -> Comments<'a> {
        let list = lex(source)
            .into_iter()
            .filter(|t| t.token == Some(Token::Comment))
            .map(|t| {
                (
                    t.range.start,
                    t.range.end,
                    source[t.range].trim_end().to_string(),
                )
            })
            .collect();
        Comments {
            source,
            list,
            next: 0,
            mark: 0,
        }
    }

    /// No comments at all (printing an AST without its source).
    pub fn none() -> Comments<'static> {
        Comments {
            source: "",
            list: Vec::new(),
            next: 0,
            mark: 0,
        }
    }

    /// Every comment not yet handed out that starts before `pos`, each with
    /// whether a blank line separates it from what came before it.
    pub fn before(&mut self, pos: usize) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        while let Some((start, end, text)) = self.list.get(self.next) {
            if *start >= pos {
                break;
            }
            out.push((text.clone(), self.blank_line(self.mark, *start)));
            self.mark = *end;
            self.next += 1;
        }
        out
    }

    /// Whether a comment not yet handed out starts before `pos`.
    pub fn any_before(&self, pos: usize) -> bool {
        self.list
            .get(self.next)
            .is_some_and(|(start, ..)| *start < pos)
    }

    /// The next comment, if it stands on the same source line as `end`
    /// (after it) and before `limit` (where the next construct starts): it
    /// trails the construct that ends at `end`.
    pub fn trailing(&mut self, end: usize, limit: usize) -> Option<String> {
        let (start, comment_end, text) = self.list.get(self.next)?;
        let between = self.source.get(end..*start)?;
        if *start >= end && *start < limit && !between.contains('\n') {
            self.next += 1;
            self.mark = *comment_end;
            return Some(text.clone());
        }
        None
    }

    /// Notes that the source up to `pos` has been printed.
    pub fn set_mark(&mut self, pos: usize) {
        self.mark = self.mark.max(pos);
    }

    /// Whether a blank line separates what was printed last from `pos`.
    pub fn blank_before(&self, pos: usize) -> bool {
        self.blank_line(self.mark, pos)
    }

    fn blank_line(&self, from: usize, to: usize) -> bool {
        self.source
            .get(from.min(to)..to)
            .is_some_and(|gap| gap.matches('\n').count() >= 2)
    }

    /// The comments left at the end.
    pub fn rest(&mut self) -> Vec<(String, bool)> {
        self.before(usize::MAX)
    }
}
