//! Semantic tokens from the logos token stream, so highlighting works on
//! text that does not parse.

use super::text::LineIndex;
use crate::syntax::tokens::{keyword_kind, lex, KeywordKind, Token};
use lsp_types::{SemanticToken, SemanticTokenType, SemanticTokensLegend};

/// The token types, in the legend's order.
pub const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::COMMENT,
    SemanticTokenType::OPERATOR,
    SemanticTokenType::TYPE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::PARAMETER,
];

/// The legend the server announces.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: Vec::new(),
    }
}

fn kind(t: &SemanticTokenType) -> u32 {
    let at = TYPES.iter().position(|x| x == t).unwrap_or(0);
    u32::try_from(at).unwrap_or(0)
}

/// The tokens of `text`, delta-encoded as the protocol wants; a token
/// that spans lines (a string with a line break) is cut at each.
pub fn semantic_tokens(text: &str, index: &LineIndex) -> Vec<SemanticToken> {
    let lexed = lex(text);
    let mut out = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    for (n, t) in lexed.iter().enumerate() {
        let Some(token) = t.token else { continue };
        let slice = &text[t.range.clone()];
        let ty = match token {
            Token::Comment => SemanticTokenType::COMMENT,
            Token::String | Token::UnterminatedString => SemanticTokenType::STRING,
            Token::Integer => SemanticTokenType::NUMBER,
            Token::Slot => SemanticTokenType::PARAMETER,
            Token::Ident => match keyword_kind(slice) {
                KeywordKind::ItemStart | KeywordKind::Reserved | KeywordKind::Contextual => {
                    SemanticTokenType::KEYWORD
                }
                KeywordKind::Variable => SemanticTokenType::VARIABLE,
                KeywordKind::Plain => {
                    let next = lexed[n + 1..].iter().find(|x| x.token.is_some());
                    match next.and_then(|x| x.token) {
                        Some(Token::PathSep) => SemanticTokenType::TYPE,
                        Some(Token::LParen) => SemanticTokenType::FUNCTION,
                        _ => continue,
                    }
                }
            },
            Token::EqEq
            | Token::NotEq
            | Token::LtEq
            | Token::GtEq
            | Token::Lt
            | Token::Gt
            | Token::AndAnd
            | Token::OrOr
            | Token::Bang
            | Token::Plus
            | Token::Minus
            | Token::Star => SemanticTokenType::OPERATOR,
            _ => continue,
        };
        // One token per line the text covers.
        let mut start = t.range.start;
        while start < t.range.end {
            let p = index.position(text, start);
            let line_end = text[start..t.range.end]
                .find(['\n', '\r'])
                .map_or(t.range.end, |i| start + i);
            let end = index.position(text, line_end);
            if end.character > p.character {
                let delta_line = p.line - line;
                let delta_start = if delta_line == 0 {
                    p.character - col
                } else {
                    p.character
                };
                out.push(SemanticToken {
                    delta_line,
                    delta_start,
                    length: end.character - p.character,
                    token_type: kind(&ty),
                    token_modifiers_bitset: 0,
                });
                line = p.line;
                col = p.character;
            }
            // Past the line break.
            let rest = &text[line_end..t.range.end];
            let skip = if rest.starts_with("\r\n") {
                2
            } else {
                usize::from(!rest.is_empty())
            };
            start = line_end + skip;
        }
    }
    out
}
