//! What the validator finds: [`ValidationError`] (each variant documented
//! with an input that triggers it), located as a [`Problem`], and turned into
//! a [`Diagnostic`] here and nowhere else.

use super::types::{LubHelp, Ty};
use crate::diag::Diagnostic;
use crate::syntax::Span;

/// One problem: what, where, and the context that explains it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// What is wrong.
    pub error: ValidationError,
    /// Where: in a policy file, or in a data file loaded as a source.
    pub span: Span,
    /// A second place worth showing (the rule call a clause was checked for).
    pub secondary: Option<(Span, String)>,
    /// A note under the source: the JSON path of a data problem, or the
    /// request environment a type error was found in.
    pub note: Option<String>,
}

impl Problem {
    /// A problem at `span` with no context.
    pub fn new(error: ValidationError, span: Span) -> Problem {
        Problem {
            error,
            span,
            secondary: None,
            note: None,
        }
    }

    /// Whether the problem is only a warning (validation still passes).
    pub fn is_warning(&self) -> bool {
        matches!(
            self.error,
            ValidationError::RuleNeverUsed { .. }
                | ValidationError::ImpossiblePolicy { .. }
                | ValidationError::AlwaysFalseIn { .. }
        )
    }
}

/// Everything the validator reports, in Cedar's message style.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// `permit(principal == Usr::"a", action, resource);` with no type `Usr`.
    #[error("unrecognized entity type `{name}`")]
    UnknownEntityType {
        /// The type as written.
        name: String,
        /// The closest declared type.
        suggestion: Option<String>,
    },
    /// `permit(principal, action == Action::"veiw", resource);`
    #[error("unrecognized action `{uid}`")]
    UnknownAction {
        /// The action as written.
        uid: String,
        /// The closest declared action.
        suggestion: Option<String>,
    },
    /// `Colour::"blue"` where `entity Colour enum ["red", "green"];`
    #[error("`{uid}` is not one of the declared ids of the enumerated type `{ty}`")]
    InvalidEnumEntity {
        /// The entity.
        uid: String,
        /// Its type.
        ty: String,
        /// The declared ids.
        choices: Vec<String>,
    },
    /// `permit(principal is Photo, action == Action::"view", resource);` where
    /// `view` applies only to `User` principals.
    #[error("unable to find an applicable action given the policy scope constraints")]
    ImpossibleScope {
        /// What the constrained actions apply to, for the help line.
        applies: Option<String>,
    },
    /// `when { 1 }`, `principal.name + 1`.
    #[error("unexpected type: expected {expected} but saw `{found}`")]
    UnexpectedType {
        /// What the operator takes.
        expected: String,
        /// What it got.
        found: Ty,
        /// A hint about a likely intent.
        help: Option<String>,
    },
    /// `[1, "two"]`, `if c then 1 else "a"`, `principal.age == "ten"`.
    #[error("the types {} are not compatible", list(.types))]
    IncompatibleTypes {
        /// The types that were to be mixed.
        types: Vec<Ty>,
        /// Why they have no common type.
        why: LubHelp,
        /// Where they were to be mixed: "the elements of a set", …
        context: &'static str,
    },
    /// `[].contains(1)`: strict validation cannot type an empty set literal.
    #[error("empty set literals are forbidden in policies")]
    EmptySetLiteral,
    /// `principal.nmae` where `User` declares `name`.
    #[error("attribute `{attr}` not found on `{on}`")]
    AttributeNotFound {
        /// The attribute.
        attr: String,
        /// The entity or record type.
        on: String,
        /// The closest declared attribute.
        suggestion: Option<String>,
    },
    /// `principal.age > 3` where `age?: Long` and no `principal has age` guard.
    #[error("unable to guarantee safety of access to optional attribute `{attr}` on `{on}`")]
    UnsafeOptionalAttribute {
        /// The attribute.
        attr: String,
        /// The entity or record type.
        on: String,
    },
    /// `resource.getTag("owner")` without a `resource.hasTag("owner")` guard.
    #[error("unable to guarantee safety of access to tag `{tag}` on `{on}`")]
    UnsafeTagAccess {
        /// The tag expression, as written.
        tag: String,
        /// The entity type.
        on: String,
    },
    /// `u.hasTag("k") && u.getTag("k")` where `u`'s type declares no `tags`.
    #[error("`{on}` has no tags")]
    NoTagsAllowed {
        /// The entity type.
        on: String,
    },
    /// `decimal("1.23456")`, `ip("10.0.0.300")`.
    #[error("invalid argument to `{function}`: {message}")]
    ExtensionArgument {
        /// The constructor.
        function: String,
        /// What is wrong with the literal.
        message: String,
        /// How to write it.
        help: Option<String>,
    },
    /// `ip(context.address)`: strict validation wants constructor literals.
    #[error("extension constructor `{function}` called on a non-literal argument")]
    NonLiteralExtensionArgument {
        /// The constructor.
        function: String,
    },
    /// `ip("a", "b")`, `[1].contains()`.
    #[error("`{function}` takes {expected} argument(s), found {found}")]
    WrongArgumentCount {
        /// The function or method.
        function: String,
        /// How many it takes.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// `rule grow(x) { grow([x]) }`: every call checks the body at a larger type.
    #[error("cannot type-check rule `{rule}`: its argument types grow with every recursive call")]
    RuleTooDeep {
        /// The rule.
        rule: String,
    },
    /// `rule helper(x) { true }` that no policy calls, directly or through rules.
    #[error("rule `{rule}` is never used")]
    RuleNeverUsed {
        /// The rule.
        rule: String,
    },
    /// `permit(principal, action, resource) when { false };`
    #[error("policy `{policy}` is impossible: it evaluates to false for every valid request")]
    ImpossiblePolicy {
        /// The policy's id.
        policy: String,
    },
    /// `principal in Photo::"x"` where no `User` can be in a `Photo`.
    #[error("`in` is always false here: `{lhs}` can never be in `{rhs}`")]
    AlwaysFalseIn {
        /// The type on the left.
        lhs: String,
        /// The type on the right.
        rhs: String,
    },
    /// An entity file entry `{"uid": {"type": "Usr", "id": "a"}}` with no type `Usr`.
    #[error("entity type `{name}` is not declared")]
    DataUnknownEntityType {
        /// The type.
        name: String,
        /// The closest declared type.
        suggestion: Option<String>,
    },
    /// A request for `Action::"veiw"`, or an action entity no declaration names.
    #[error("action `{uid}` is not declared")]
    DataUnknownAction {
        /// The action.
        uid: String,
        /// The closest declared action.
        suggestion: Option<String>,
    },
    /// `{"uid": {"type": "User", "id": "a"}, "attrs": {}}` where `User` needs `name`.
    #[error("`{of}` lacks the required attribute `{attr}`")]
    MissingAttribute {
        /// The entity or record.
        of: String,
        /// The attribute.
        attr: String,
    },
    /// `"attrs": {"nickname": "x"}` where `User` declares no `nickname`.
    #[error("attribute `{attr}` of `{of}` is not declared")]
    UndeclaredAttribute {
        /// The entity or record.
        of: String,
        /// The attribute.
        attr: String,
        /// The closest declared attribute.
        suggestion: Option<String>,
    },
    /// `"age": "ten"` where `age: Long`.
    #[error("expected `{expected}`, found {found}")]
    WrongValueType {
        /// The declared type.
        expected: Ty,
        /// What the data holds, in words.
        found: String,
    },
    /// A `User` whose parents list a `Photo`, where `entity User in [Group]`.
    #[error("`{uid}` cannot have a parent of type `{parent}`")]
    InvalidParent {
        /// The entity.
        uid: String,
        /// The parent's type.
        parent: String,
        /// The declared parent types.
        allowed: Vec<String>,
    },
    /// `"tags": {…}` on an entity whose type declares no `tags`.
    #[error("`{uid}` has tags, but `{ty}` is declared without `tags`")]
    TagsNotAllowed {
        /// The entity.
        uid: String,
        /// Its type.
        ty: String,
    },
    /// An `Action::"edit"` entity whose parents are not the declared groups.
    #[error("parent `{parent}` of action `{uid}` is not one of its declared groups")]
    ActionParentMismatch {
        /// The action.
        uid: String,
        /// The parent given.
        parent: String,
    },
    /// A request whose principal is a `Photo` for an action that applies to `User`s.
    #[error("action `{action}` does not apply to a {role} of type `{ty}`")]
    RequestTypeNotApplicable {
        /// The action.
        action: String,
        /// `principal` or `resource`.
        role: &'static str,
        /// The type given.
        ty: String,
        /// The types the action applies to.
        allowed: Vec<String>,
    },
    /// An entity file entry or request that is not shaped as Cedar's JSON
    /// (`{"uid": 1}`, a request without `action`).
    #[error("{message}")]
    Malformed {
        /// What is wrong.
        message: String,
    },
}

fn list(types: &[Ty]) -> String {
    let names: Vec<String> = types.iter().map(|t| format!("`{t}`")).collect();
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

fn did_you_mean(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| format!("did you mean `{s}`?"))
}

fn one_of(items: &[String]) -> String {
    let shown: Vec<String> = items.iter().take(8).map(|s| format!("`{s}`")).collect();
    let more = if items.len() > 8 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

impl ValidationError {
    /// The label under the span.
    pub fn label(&self) -> &'static str {
        use ValidationError as E;
        match self {
            E::UnknownEntityType { .. } | E::DataUnknownEntityType { .. } => "not declared",
            E::UnknownAction { .. } | E::DataUnknownAction { .. } => "no such action",
            E::InvalidEnumEntity { .. } => "not a declared id",
            E::ImpossibleScope { .. } => "this policy's scope matches no declared action",
            E::UnexpectedType { .. } | E::WrongValueType { .. } => "wrong type",
            E::IncompatibleTypes { context, .. } => context,
            E::EmptySetLiteral => "empty set",
            E::AttributeNotFound { .. } => "no such attribute",
            E::UnsafeOptionalAttribute { .. } => "optional attribute read without `has`",
            E::UnsafeTagAccess { .. } => "tag read without `hasTag`",
            E::NoTagsAllowed { .. } => "no tags",
            E::ExtensionArgument { .. } => "invalid literal",
            E::NonLiteralExtensionArgument { .. } => "not a literal",
            E::WrongArgumentCount { .. } => "wrong number of arguments",
            E::RuleTooDeep { .. } => "recursive call",
            E::RuleNeverUsed { .. } => "defined here",
            E::ImpossiblePolicy { .. } => "never applies",
            E::AlwaysFalseIn { .. } => "always false",
            E::MissingAttribute { .. } => "attribute missing",
            E::UndeclaredAttribute { .. } => "not declared",
            E::InvalidParent { .. } => "parent not allowed",
            E::TagsNotAllowed { .. } => "tags not allowed",
            E::ActionParentMismatch { .. } => "not a declared group",
            E::RequestTypeNotApplicable { .. } => "not applicable",
            E::Malformed { .. } => "here",
        }
    }

    /// The help line, where one helps.
    pub fn help(&self) -> Option<String> {
        use ValidationError as E;
        match self {
            E::UnknownEntityType { suggestion, .. }
            | E::DataUnknownEntityType { suggestion, .. } => did_you_mean(suggestion)
                .or_else(|| Some("declare it with `entity Name;`".into())),
            E::UnknownAction { suggestion, .. } | E::DataUnknownAction { suggestion, .. } => {
                did_you_mean(suggestion)
                    .or_else(|| Some("declare it with `action \"name\" appliesTo { … };`".into()))
            }
            E::InvalidEnumEntity { choices, .. } => Some(format!("use one of {}", one_of(choices))),
            E::ImpossibleScope { applies } => applies.clone(),
            E::UnexpectedType { help, .. } => help.clone(),
            E::IncompatibleTypes { why, .. } => why.help().map(str::to_string),
            E::EmptySetLiteral => Some(
                "the validator cannot tell the type of its elements; test emptiness with `.isEmpty()` on a typed set".into(),
            ),
            E::AttributeNotFound { suggestion, .. } | E::UndeclaredAttribute { suggestion, .. } => {
                did_you_mean(suggestion)
            }
            E::UnsafeOptionalAttribute { attr, .. } => {
                Some(format!("guard the access with `has {attr}` first, e.g. `e has {attr} && e.{attr} …`"))
            }
            E::UnsafeTagAccess { tag, .. } => {
                Some(format!("guard the access with `.hasTag({tag})` first"))
            }
            E::ExtensionArgument { help, .. } => help.clone(),
            E::NonLiteralExtensionArgument { .. } => Some(
                "write the argument as a string literal, or declare the attribute with the extension type".into(),
            ),
            E::RuleTooDeep { .. } => {
                Some("make the recursive call with arguments of the same types".into())
            }
            E::RuleNeverUsed { .. } => {
                Some("call it from a policy, or remove it; an unused rule is not type-checked".into())
            }
            E::ImpossiblePolicy { .. } => {
                Some("check the scope against the actions' `appliesTo`, and the conditions".into())
            }
            E::AlwaysFalseIn { .. } => {
                Some("the declarations allow no such parent; check the entity types".into())
            }
            E::InvalidParent { allowed, .. } if allowed.is_empty() => {
                Some("its type is declared without parent types".into())
            }
            E::InvalidParent { allowed, .. } => {
                Some(format!("its type may be in {}", one_of(allowed)))
            }
            E::TagsNotAllowed { .. } => Some("declare the type with `tags T`".into()),
            E::RequestTypeNotApplicable { allowed, .. } if allowed.is_empty() => {
                Some("the action is declared without `appliesTo`, so no request may name it".into())
            }
            E::RequestTypeNotApplicable { allowed, .. } => {
                Some(format!("it applies to {}", one_of(allowed)))
            }
            _ => None,
        }
    }
}

impl From<&Problem> for Diagnostic {
    fn from(p: &Problem) -> Diagnostic {
        let mut d = Diagnostic::error(p.error.to_string(), p.span, p.error.label())
            .with_help(p.error.help());
        if p.is_warning() {
            d = d.warning();
        }
        if let Some((span, label)) = &p.secondary {
            d = d.with_secondary(*span, label.clone());
        }
        if let Some(note) = &p.note {
            d = d.with_notes(vec![note.clone()]);
        }
        d
    }
}
