//! Errors of the syntax stage. Each variant's doc names an input that
//! triggers it; `crate::diag` turns them into codespan diagnostics.

use crate::span::Span;

/// A problem found while reading a file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// `permit(principal, action, resource) when { 1 + };` — pest found no way on.
    #[error("unexpected {found}")]
    Syntax {
        /// Where parsing stopped.
        span: Span,
        /// What stood there, in words (`` `}` ``, "end of input").
        found: String,
        /// What the grammar would have accepted, in words.
        expected: Vec<String>,
    },
    /// `1 < context.n < 3`: a comparison after a comparison.
    #[error("comparisons do not chain")]
    ChainedComparison {
        /// The second comparison operator.
        span: Span,
    },
    /// `when { ((((…)))) }` nested deeper than the limit.
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The opening bracket (or `if`) that went past the limit.
        span: Span,
        /// The limit in force.
        limit: usize,
    },
    /// `1 + 1 + … + 1` with more terms than the limit, or `a.b.c.…` as
    /// long: an expression whose tree would be deeper than the limit.
    #[error("expression nests deeper than {limit} levels")]
    ExprTooDeep {
        /// The expression that goes past the limit.
        span: Span,
        /// The limit in force.
        limit: usize,
    },
    /// A file larger than the policy-file limit.
    #[error("file is larger than the limit of {limit} bytes")]
    FileTooLarge {
        /// The start of the file.
        span: Span,
        /// The limit in force.
        limit: usize,
    },
    /// `"\q"` — an escape Cedar does not know.
    #[error("invalid escape `{escape}` in string")]
    InvalidEscape {
        /// The escape sequence.
        span: Span,
        /// Its text.
        escape: String,
    },
    /// `"a<CR>b"` (a carriage return typed into a string) — refused, as in
    /// Cedar.
    #[error("a carriage return in a string must be written `\\r`")]
    BareCarriageReturn {
        /// The carriage return.
        span: Span,
    },
    /// `99999999999999999999` — out of the 64-bit range.
    #[error("integer literal `{text}` is out of range")]
    IntegerOverflow {
        /// The literal.
        span: Span,
        /// Its text.
        text: String,
    },
    /// `!!!!!x` — Cedar allows at most four unary operators in a row.
    #[error("too many unary operators in a row")]
    TooManyUnary {
        /// The operators.
        span: Span,
    },
    /// `when { princpal.x }` — a name that is no variable in scope.
    #[error("unknown variable `{name}`")]
    UnknownVariable {
        /// The name.
        span: Span,
        /// The name as written.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
    },
    /// `{a: 1, a: 2}` — a record literal with one key twice.
    #[error("duplicate key `{key}` in record literal")]
    DuplicateKey {
        /// The second occurrence.
        span: Span,
        /// The key.
        key: String,
    },
    /// `@id("a") @id("b") permit(…);` — one annotation twice.
    #[error("duplicate annotation `@{key}`")]
    DuplicateAnnotation {
        /// The second occurrence.
        span: Span,
        /// The key.
        key: String,
    },
    /// `permit(principal == ?resource, …)` or `when { ?principal }` — a
    /// slot where Cedar allows none.
    #[error("template slot `{slot}` may not stand in {place}")]
    TemplateSlot {
        /// The slot.
        span: Span,
        /// Its text.
        slot: String,
        /// Where it stands, in words (`a condition`, `the principal scope`).
        place: String,
    },
    /// `rule f(principal) { … }` or `any context in S: …` — a local that
    /// would hide a request variable.
    #[error("`{name}` is a request variable and cannot be rebound")]
    ReboundVariable {
        /// The binding.
        span: Span,
        /// The name.
        name: String,
    },
    /// `rule f(x, x) { … }` — one parameter name twice.
    #[error("duplicate parameter `{name}`")]
    DuplicateParameter {
        /// The second occurrence.
        span: Span,
        /// The name.
        name: String,
    },
    /// A parse tree of a shape the lowering does not expect: a grammar
    /// and lowering out of step. Recorded, so that the set never "loads
    /// cleanly" and then fails at run time (Cedar's `ok_or_missing`).
    #[error("internal error: the parser met {what} (please report it)")]
    Internal {
        /// Where.
        span: Span,
        /// What it met.
        what: String,
    },
}

impl ParseError {
    /// Where the problem is.
    pub fn span(&self) -> Span {
        match self {
            ParseError::Syntax { span, .. }
            | ParseError::ChainedComparison { span }
            | ParseError::TooDeep { span, .. }
            | ParseError::ExprTooDeep { span, .. }
            | ParseError::FileTooLarge { span, .. }
            | ParseError::InvalidEscape { span, .. }
            | ParseError::BareCarriageReturn { span }
            | ParseError::IntegerOverflow { span, .. }
            | ParseError::TooManyUnary { span }
            | ParseError::UnknownVariable { span, .. }
            | ParseError::DuplicateKey { span, .. }
            | ParseError::DuplicateAnnotation { span, .. }
            | ParseError::TemplateSlot { span, .. }
            | ParseError::ReboundVariable { span, .. }
            | ParseError::DuplicateParameter { span, .. }
            | ParseError::Internal { span, .. } => *span,
        }
    }

    /// The label under the offending text.
    pub fn label(&self) -> String {
        match self {
            ParseError::Syntax { expected, .. } if !expected.is_empty() => {
                format!("expected {}", join_alternatives(expected))
            }
            ParseError::Syntax { .. } => "unexpected here".into(),
            ParseError::ChainedComparison { .. } => "a second comparison".into(),
            ParseError::TooDeep { .. } => "this goes past the nesting limit".into(),
            ParseError::ExprTooDeep { .. } => "this goes past the depth limit".into(),
            ParseError::FileTooLarge { .. } => "file starts here".into(),
            ParseError::InvalidEscape { .. } => "invalid escape".into(),
            ParseError::BareCarriageReturn { .. } => "carriage return".into(),
            ParseError::IntegerOverflow { .. } => "does not fit in a 64-bit integer".into(),
            ParseError::TooManyUnary { .. } => "more than four".into(),
            ParseError::UnknownVariable { .. } => "not defined here".into(),
            ParseError::DuplicateKey { .. } => "key given again".into(),
            ParseError::DuplicateAnnotation { .. } => "annotation given again".into(),
            ParseError::TemplateSlot { .. } => "slot not allowed here".into(),
            ParseError::ReboundVariable { .. } => "rebinds a request variable".into(),
            ParseError::DuplicateParameter { .. } => "parameter given again".into(),
            ParseError::Internal { .. } => "here".into(),
        }
    }

    /// The error for the escape `text` at `span` that [`super::unescape`]
    /// refused.
    pub fn bad_escape(span: Span, text: &str) -> ParseError {
        if text == "\r" {
            ParseError::BareCarriageReturn { span }
        } else {
            ParseError::InvalidEscape {
                span,
                escape: text.to_string(),
            }
        }
    }

    /// A help line, where one helps.
    pub fn help(&self) -> Option<String> {
        match self {
            ParseError::TooDeep { limit, .. } if *limit == crate::limits::MAX_NESTING_CEILING => {
                Some(format!(
                    "the parser takes at most {limit} levels, whatever `--max-nesting` says; split the expression, or name a part of it with a rule"
                ))
            }
            ParseError::TooDeep { .. } | ParseError::ExprTooDeep { .. } => {
                Some("split the expression, or name a part of it with a rule".into())
            }
            ParseError::InvalidEscape { .. } => Some(
                "valid escapes are \\n \\r \\t \\\\ \\0 \\' \\\" \\x7F \\u{1F600}, and \\* in patterns"
                    .into(),
            ),
            ParseError::TooManyUnary { .. } => Some("use parentheses".into()),
            ParseError::ChainedComparison { .. } => {
                Some("join two comparisons with `&&`, as in `1 < x && x < 3`".into())
            }
            ParseError::UnknownVariable {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            ParseError::UnknownVariable { .. } => Some(
                "the variables are `principal`, `action`, `resource`, `context`, rule parameters and quantified names"
                    .into(),
            ),
            ParseError::TemplateSlot { .. } => Some(
                "`?principal` stands in the principal's scope and `?resource` in the resource's, after `==`, `in` or `is T in`"
                    .into(),
            ),
            ParseError::ReboundVariable { .. } => Some("choose another name".into()),
            _ => None,
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
pub fn join_alternatives(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

impl From<&ParseError> for crate::diag::Diagnostic {
    fn from(e: &ParseError) -> crate::diag::Diagnostic {
        crate::diag::Diagnostic::error(e.to_string(), e.span(), e.label()).with_help(e.help())
    }
}
