//! Errors raised while evaluating. Each variant's doc names an input that
//! triggers it. Every error carries the span of the expression that raised it.

use crate::syntax::Span;

/// An evaluation error and where it was raised.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct EvalError {
    /// What went wrong.
    pub kind: EvalErrorKind,
    /// The expression that raised it.
    pub span: Span,
}

/// The kinds of evaluation error.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalErrorKind {
    /// A state the loader rules out (an expression that did not parse, an
    /// unbound local): never raised by a set that loaded without errors,
    /// and an error, never a value, so that the worst case fails closed.
    #[error("internal error: {what} (please report it)")]
    Internal {
        /// What was impossible.
        what: String,
    },
    /// `1 + "a"`, `if 1 then 2 else 3`.
    #[error("type error: {operation} expects {expected}, found {found}")]
    Type {
        /// The operation, in words (`` `+` ``, "a condition").
        operation: String,
        /// The type(s) it takes.
        expected: String,
        /// The type it got.
        found: String,
    },
    /// `principal.nickname` on an entity without that attribute.
    #[error("`{of}` has no attribute `{attr}`")]
    MissingAttribute {
        /// The attribute.
        attr: String,
        /// The entity or record, as text.
        of: String,
        /// A close attribute name, if any.
        suggestion: Option<String>,
    },
    /// `User::"ghost".name` where the store has no such entity.
    #[error("entity `{uid}` does not exist")]
    EntityNotFound {
        /// The entity.
        uid: String,
    },
    /// `principal.getTag("x")` where the entity has no tag `x`.
    #[error("`{of}` has no tag `{tag}`")]
    MissingTag {
        /// The tag.
        tag: String,
        /// The entity.
        of: String,
    },
    /// `9223372036854775807 + 1`.
    #[error("integer overflow in {operation}")]
    Overflow {
        /// The operation, as text.
        operation: String,
    },
    /// `decimal("1.23456")` and other extension errors.
    #[error("{message}")]
    Extension {
        /// What the extension said.
        message: String,
        /// Its help, if any.
        help: Option<String>,
    },
    /// `[1].contains()` — a method called with the wrong number of arguments.
    #[error("`{name}` takes {expected} argument(s), found {found}")]
    Arity {
        /// The method or function.
        name: String,
        /// How many it takes.
        expected: usize,
        /// How many it got.
        found: usize,
    },
    /// `rule r(x) { r(x) }` called as `r(1)`: the call is already being evaluated.
    #[error("rule `{rule}` calls itself with the same arguments ({args})")]
    RuleCycle {
        /// The rule.
        rule: String,
        /// The arguments, as text.
        args: String,
    },
    /// `rule r(x) { r(x + 1) }` called as `r(0)`: a rule that recurses
    /// deeper than the limit with ever new arguments.
    #[error("rule `{rule}` went deeper than {limit} nested calls")]
    RuleDepth {
        /// The rule.
        rule: String,
        /// The limit.
        limit: usize,
    },
    /// `rule r(x) { r(x + 1) || r(x + 2) }` called as `r(0)`: an evaluation
    /// that took more steps than the limit.
    #[error("evaluation took more than {limit} steps{}", in_rule(.rule.as_deref()))]
    StepLimit {
        /// The limit.
        limit: u64,
        /// The rule being evaluated when the limit was reached, if any.
        rule: Option<String>,
    },
    /// 300 policies of `!f(60)` with `rule f(x) { x > 0 && (f(x-1) ||
    /// f(x-1)) }`: one request whose policies together took more steps than
    /// the request's budget. The request is denied whatever the error mode.
    #[error(
        "the request took more than {limit} evaluation steps across its policies; it is denied"
    )]
    RequestStepLimit {
        /// The limit.
        limit: u64,
    },
    /// Any evaluation still running when the deadline of its request
    /// (`mspl serve --request-timeout-ms`) has passed. Not a policy's
    /// error: the request as a whole is abandoned, with no decision
    /// ([`crate::authorize::Response::deadline_reached`]).
    #[error("the request's deadline was reached")]
    Deadline,
    /// `[1, 2, 3]` with a set-size limit of 2: a set built at evaluation with
    /// more elements than the limit.
    #[error("a set of more than {limit} elements")]
    SetTooLarge {
        /// The limit.
        limit: usize,
    },
}

impl EvalErrorKind {
    /// A help line, where one helps.
    pub fn help(&self) -> Option<String> {
        match self {
            EvalErrorKind::MissingAttribute {
                suggestion: Some(s), ..
            } => Some(format!("did you mean `{s}`? guard optional attributes with `has`")),
            EvalErrorKind::MissingAttribute { attr, .. } => {
                Some(format!("guard the access with `has {attr}`"))
            }
            EvalErrorKind::MissingTag { tag, .. } => Some(format!("guard the access with `.hasTag(\"{tag}\")`")),
            EvalErrorKind::EntityNotFound { .. } => Some("add the entity to the entity data".into()),
            EvalErrorKind::Extension { help, .. } => help.clone(),
            EvalErrorKind::RuleDepth { .. } => Some(
                "give the recursion a clause that decides without it, or raise `--max-rule-depth`"
                    .into(),
            ),
            EvalErrorKind::StepLimit { .. } => {
                Some("simplify the condition, or raise `--max-steps`".into())
            }
            EvalErrorKind::SetTooLarge { .. } => Some("raise `--max-set-size`".into()),
            EvalErrorKind::RequestStepLimit { .. } => Some(
                "simplify the policies that match this request, or raise `--max-request-steps`"
                    .into(),
            ),
            EvalErrorKind::RuleCycle { .. } => {
                Some("add a clause that decides without the recursive call, or a condition that stops it".into())
            }
            _ => None,
        }
    }
}

/// ` in rule `r``, or nothing.
fn in_rule(rule: Option<&str>) -> String {
    rule.map(|r| format!(" in rule `{r}`")).unwrap_or_default()
}

/// A type error for `operation` that expected `expected` and found `found`.
pub fn type_error(
    operation: impl Into<String>,
    expected: impl Into<String>,
    found: &str,
    span: Span,
) -> EvalError {
    EvalError {
        kind: EvalErrorKind::Type {
            operation: operation.into(),
            expected: expected.into(),
            found: found.to_string(),
        },
        span,
    }
}
