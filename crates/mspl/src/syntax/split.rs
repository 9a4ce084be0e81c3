//! Splits a file into top-level statements with the logos token stream, and
//! measures each statement's nesting before pest recurses into it.
//!
//! pest has no error recovery: one bad statement would hide every later one.
//! Parsing statement by statement reports the problems of a whole file in one
//! pass. The split only decides where to cut; pest still decides validity.

use super::tokens::{lex, Token};
use std::ops::Range;

/// One top-level statement: its byte range and its deepest nesting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The statement's bytes, leading comments and annotations included.
    pub range: Range<usize>,
    /// The deepest nesting of brackets, `if`s and quantifiers inside it.
    pub depth: usize,
    /// The token where the nesting first exceeded `limit`, if it did.
    pub too_deep_at: Option<Range<usize>>,
}

/// Cuts `source` into statements, checking nesting against `limit`.
///
/// A statement ends after a `;` at depth 0, after the `}` that closes a
/// `namespace` block or a rule, or before a token that starts a new item
/// (`@`, `permit`, `forbid`, `rule`, `entity`, `action`, `type`,
/// `namespace`) at depth 0 once the current statement has begun.
pub fn split(source: &str, limit: usize) -> Vec<Chunk> {
    let tokens = lex(source);
    let mut chunks = Vec::new();
    let mut start = 0usize;
    // Bracket depth, and for each open bracket level the number of `if`s and
    // quantifiers opened inside it (they close with the enclosing bracket).
    let mut brackets = 0usize;
    let mut implicit: Vec<usize> = vec![0];
    let mut implicit_total = 0usize;
    let mut depth_max = 0usize;
    let mut too_deep_at = None;
    // Whether the statement has its head keyword, and where the annotations
    // before the next head began.
    let mut has_head = false;
    let mut kind_block = false;
    let mut annotations_start: Option<usize> = None;

    let mut cut = |chunks: &mut Vec<Chunk>,
                   end: usize,
                   depth: &mut usize,
                   deep: &mut Option<Range<usize>>| {
        chunks.push(Chunk {
            range: start..end,
            depth: *depth,
            too_deep_at: deep.take(),
        });
        start = end;
        *depth = 0;
    };

    for (i, t) in tokens.iter().enumerate() {
        let text = &source[t.range.clone()];
        let at_top = brackets == 0;
        match t.token {
            Some(Token::At) if at_top && has_head => {
                cut(&mut chunks, t.range.start, &mut depth_max, &mut too_deep_at);
                has_head = false;
                kind_block = false;
                annotations_start = Some(t.range.start);
            }
            Some(Token::At) if at_top => {
                annotations_start.get_or_insert(t.range.start);
            }
            Some(Token::Ident) if at_top && is_item_start(text) => {
                if has_head {
                    let at = annotations_start.unwrap_or(t.range.start);
                    cut(&mut chunks, at, &mut depth_max, &mut too_deep_at);
                }
                has_head = true;
                kind_block = matches!(text, "namespace" | "rule");
                annotations_start = None;
            }
            Some(Token::Semi) if at_top => {
                cut(&mut chunks, t.range.end, &mut depth_max, &mut too_deep_at);
                has_head = false;
                kind_block = false;
                annotations_start = None;
            }
            Some(Token::LParen | Token::LBracket | Token::LBrace) => {
                brackets += 1;
                implicit.push(0);
                let depth = brackets + implicit_total;
                depth_max = depth_max.max(depth);
                if depth > limit && too_deep_at.is_none() {
                    too_deep_at = Some(t.range.clone());
                }
            }
            Some(Token::RParen | Token::RBracket | Token::RBrace) => {
                if brackets > 0 {
                    brackets -= 1;
                    implicit_total -= implicit.pop().unwrap_or(0);
                }
                let closes_block = brackets == 0
                    && kind_block
                    && matches!(t.token, Some(Token::RBrace))
                    && !next_is_semi(&tokens, i);
                if closes_block {
                    cut(&mut chunks, t.range.end, &mut depth_max, &mut too_deep_at);
                    has_head = false;
                    kind_block = false;
                    annotations_start = None;
                }
            }
            Some(Token::Ident) if opens_implicitly(source, &tokens, i) => {
                if let Some(top) = implicit.last_mut() {
                    *top += 1;
                }
                implicit_total += 1;
                let depth = brackets + implicit_total;
                depth_max = depth_max.max(depth);
                if depth > limit && too_deep_at.is_none() {
                    too_deep_at = Some(t.range.clone());
                }
            }
            _ => {}
        }
    }
    if start < source.len() && !source[start..].trim().is_empty() || chunks.is_empty() {
        chunks.push(Chunk {
            range: start..source.len(),
            depth: depth_max,
            too_deep_at,
        });
    } else if let Some(last) = chunks.last_mut() {
        // Trailing whitespace and comments belong to the last statement.
        last.range.end = source.len();
    }
    chunks
}

fn is_item_start(text: &str) -> bool {
    super::tokens::ITEM_KEYWORDS.contains(&text)
}

fn next_is_semi(tokens: &[super::tokens::Spanned], i: usize) -> bool {
    tokens[i + 1..]
        .iter()
        .find(|t| t.token != Some(Token::Comment))
        .is_some_and(|t| t.token == Some(Token::Semi))
}

/// `if`, and `any`/`all` followed by a name and `in`, nest like a bracket
/// that closes with the enclosing one.
fn opens_implicitly(source: &str, tokens: &[super::tokens::Spanned], i: usize) -> bool {
    match &source[tokens[i].range.clone()] {
        "if" => true,
        "any" | "all" => {
            let mut rest = tokens[i + 1..]
                .iter()
                .filter(|t| t.token != Some(Token::Comment));
            matches!(rest.next(), Some(t) if t.token == Some(Token::Ident))
                && matches!(rest.next(), Some(t) if &source[t.range.clone()] == "in")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<&str> {
        split(source, 100)
            .into_iter()
            .map(|c| source[c.range].trim())
            .collect()
    }

    #[test]
    fn cuts_at_semicolons_blocks_and_item_starts() {
        let src = "permit(principal, action, resource);\n@id(\"x\")\nforbid(principal, action, resource) when { true };\nrule f(x) { x }\nnamespace N { entity A; }\nentity B;";
        assert_eq!(
            texts(src),
            vec![
                "permit(principal, action, resource);",
                "@id(\"x\")\nforbid(principal, action, resource) when { true };",
                "rule f(x) { x }",
                "namespace N { entity A; }",
                "entity B;"
            ]
        );
    }

    #[test]
    fn a_missing_semicolon_still_cuts_before_the_next_item() {
        let src = "permit(principal, action, resource)\npermit(principal, action, resource);";
        assert_eq!(texts(src).len(), 2);
    }

    #[test]
    fn measures_depth() {
        let c = split("permit(principal, action, resource) when { ((1)) };", 2);
        assert_eq!(c[0].depth, 3);
        assert!(c[0].too_deep_at.is_some());
        // The brace, then two `if`s that close with it.
        let c = split(
            "permit(principal, action, resource) when { if a then if b then 1 else 2 else 3 };",
            100,
        );
        assert_eq!(c[0].depth, 3);
    }
}
