//! The logos token stream: the terminals of `crates/mspl/grammar/mspl.pest`, for tools
//! that read text without a full parse (statement splitting and the depth
//! check before pest runs, the REPL's highlighting and line continuation, the
//! formatter's comments).
//!
//! pest decides what is valid; this module only colours, counts and measures.

use logos::Logos;

/// One terminal of mspl's grammar.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
// Cedar's whitespace (Unicode White_Space) and comments (`//[^\n\r]*`),
// as in the grammar; `tests/lexical.rs` checks every code point.
#[logos(skip r"[ \t\n\r\x0B\x0C\u{85}\u{A0}\u{1680}\u{2000}-\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}]+")]
pub enum Token {
    /// `// …` to the end of the line (`\n` or `\r`).
    #[regex(r"//[^\n\r]*", allow_greedy = true)]
    Comment,
    /// An identifier or keyword (see [`keyword_kind`]).
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    /// An integer literal.
    #[regex(r"[0-9]+")]
    Integer,
    /// A string literal with its quotes.
    #[regex(r#""([^"\\]|\\(.|\n))*""#)]
    String,
    /// A string that runs to the end of the input without closing.
    #[regex(r#""([^"\\]|\\(.|\n))*\\?"#, priority = 0)]
    UnterminatedString,
    /// `?principal` / `?resource`.
    #[regex(r"\?[A-Za-z_][A-Za-z0-9_]*")]
    Slot,
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `{`
    #[token("{")]
    LBrace,
    /// `}`
    #[token("}")]
    RBrace,
    /// `,`
    #[token(",")]
    Comma,
    /// `;`
    #[token(";")]
    Semi,
    /// `::`
    #[token("::")]
    PathSep,
    /// `:`
    #[token(":")]
    Colon,
    /// `.`
    #[token(".")]
    Dot,
    /// `@`
    #[token("@")]
    At,
    /// `?`
    #[token("?")]
    Question,
    /// `==`
    #[token("==")]
    EqEq,
    /// `!=`
    #[token("!=")]
    NotEq,
    /// `<=`
    #[token("<=")]
    LtEq,
    /// `>=`
    #[token(">=")]
    GtEq,
    /// `<`
    #[token("<")]
    Lt,
    /// `>`
    #[token(">")]
    Gt,
    /// `&&`
    #[token("&&")]
    AndAnd,
    /// `||`
    #[token("||")]
    OrOr,
    /// `!`
    #[token("!")]
    Bang,
    /// `+`
    #[token("+")]
    Plus,
    /// `-`
    #[token("-")]
    Minus,
    /// `*`
    #[token("*")]
    Star,
    /// `=`
    #[token("=")]
    Assign,
}

/// What an identifier token is, for highlighting and statement splitting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeywordKind {
    /// Starts a top-level item: `permit`, `forbid`, `rule`, `entity`, `action`, `type`, `namespace`.
    ItemStart,
    /// A reserved word of expressions: `true`, `if`, `in`, `has`, …
    Reserved,
    /// A contextual keyword: `when`, `unless`, `any`, `all`, `appliesTo`, …
    Contextual,
    /// A request variable: `principal`, `action`, `resource`, `context`.
    Variable,
    /// An ordinary identifier.
    Plain,
}

/// Words that start a top-level item.
pub const ITEM_KEYWORDS: &[&str] = &[
    "permit",
    "forbid",
    "rule",
    "entity",
    "action",
    "type",
    "namespace",
];
/// Reserved words of expressions (never identifiers).
pub const RESERVED_WORDS: &[&str] = &[
    "true", "false", "if", "then", "else", "in", "is", "like", "has",
];
/// Keywords that are only keywords in some positions.
pub const CONTEXTUAL_KEYWORDS: &[&str] = &[
    "when",
    "unless",
    "any",
    "all",
    "appliesTo",
    "enum",
    "tags",
    "Set",
];
/// The request variables.
pub const VARIABLES: &[&str] = &["principal", "action", "resource", "context"];

/// Classifies an identifier's text. `action` is both a variable and an item
/// start; at the top level it starts a declaration.
pub fn keyword_kind(text: &str) -> KeywordKind {
    if ITEM_KEYWORDS.contains(&text) && text != "action" {
        KeywordKind::ItemStart
    } else if RESERVED_WORDS.contains(&text) {
        KeywordKind::Reserved
    } else if VARIABLES.contains(&text) {
        KeywordKind::Variable
    } else if CONTEXTUAL_KEYWORDS.contains(&text) {
        KeywordKind::Contextual
    } else {
        KeywordKind::Plain
    }
}

/// A token with its byte range; `None` for text that is no token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned {
    /// The token, or `None` for an unrecognised character.
    pub token: Option<Token>,
    /// Its byte range in the source.
    pub range: std::ops::Range<usize>,
}

/// Splits `source` into tokens (comments included, whitespace left out).
pub fn lex(source: &str) -> Vec<Spanned> {
    let mut lexer = Token::lexer(source);
    let mut out = Vec::new();
    while let Some(result) = lexer.next() {
        out.push(Spanned {
            token: result.ok(),
            range: lexer.span(),
        });
    }
    out
}

/// The bracket depth at the end of `source`, and whether a string is left
/// open: what the REPL needs to decide that a line continues.
pub fn open_depth(source: &str) -> (i64, bool) {
    let mut depth = 0i64;
    let mut open_string = false;
    for t in lex(source) {
        match t.token {
            Some(Token::LParen | Token::LBracket | Token::LBrace) => depth += 1,
            Some(Token::RParen | Token::RBracket | Token::RBrace) => depth -= 1,
            Some(Token::UnterminatedString) => open_string = true,
            _ => {}
        }
    }
    (depth, open_string)
}
