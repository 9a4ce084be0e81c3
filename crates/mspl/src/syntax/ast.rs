//! The typed syntax tree of mspl: policies, rules, declarations, expressions.
//!
//! Built by [`super::parser`] from pest's pairs; no pest type appears here.
//! Every node carries a [`Span`], which equality ignores.

use crate::span::Span;
use smol_str::SmolStr;
use std::fmt;

/// A name: an identifier or a `::`-separated path such as `Ns::Type`.
pub type Name = SmolStr;

/// A reference to an entity: its type and its id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityUid {
    /// The entity type, namespaces included (`Ns::Type`).
    pub ty: Name,
    /// The entity id.
    pub id: SmolStr,
}

impl EntityUid {
    /// The uid `ty::"id"`.
    pub fn new(ty: impl Into<Name>, id: impl Into<SmolStr>) -> EntityUid {
        EntityUid {
            ty: ty.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for EntityUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::\"{}\"", self.ty, self.id.escape_debug())
    }
}

impl fmt::Debug for EntityUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One parsed file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct File {
    /// The top-level items, in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A `permit` or `forbid`.
    Policy(Policy),
    /// One clause of a rule.
    Rule(RuleClause),
    /// A declaration in Cedar's schema syntax.
    Decl(Decl),
    /// `namespace N { declarations }`.
    Namespace(Namespace),
}

/// An annotation `@key("value")` or `@key`.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// The key.
    pub key: SmolStr,
    /// The value, unescaped; `None` for a bare `@key`.
    pub value: Option<SmolStr>,
    /// Where it stands.
    pub span: Span,
}

/// Finds the value of annotation `key` in `annotations`.
pub fn annotation<'a>(annotations: &'a [Annotation], key: &str) -> Option<&'a Annotation> {
    annotations.iter().find(|a| a.key == key)
}

/// `permit` or `forbid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Grants access when it applies.
    Permit,
    /// Denies access when it applies, whatever the permits say.
    Forbid,
}

/// A policy: effect, scope and conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Annotations in source order.
    pub annotations: Vec<Annotation>,
    /// Permit or forbid.
    pub effect: Effect,
    /// The constraint on `principal`.
    pub principal: ScopeConstraint,
    /// The constraint on `action`.
    pub action: ActionConstraint,
    /// The constraint on `resource`.
    pub resource: ScopeConstraint,
    /// The `when` and `unless` clauses, in source order.
    pub conditions: Vec<Condition>,
    /// The whole policy.
    pub span: Span,
    /// The effect keyword, where diagnostics about the whole policy point.
    pub head: Span,
    /// The id its file gives it (Cedar's JSON policy format keys policies
    /// by id), which no id scheme changes; `None` in text.
    pub id: Option<SmolStr>,
}

impl Policy {
    /// The slots of this policy, in scope order; a policy with any is a
    /// template.
    pub fn slots(&self) -> Vec<Slot> {
        let mut out = Vec::new();
        if self.principal.has_slot() {
            out.push(Slot::Principal);
        }
        if self.resource.has_slot() {
            out.push(Slot::Resource);
        }
        out
    }

    /// The constraint that holds `slot`.
    pub fn scope_of(&self, slot: Slot) -> &ScopeConstraint {
        match slot {
            Slot::Principal => &self.principal,
            Slot::Resource => &self.resource,
        }
    }

    /// This template with its slots filled: `value(slot)` gives each slot's
    /// entity and where it was written. A slot it leaves unfilled stays.
    pub fn linked(&self, mut value: impl FnMut(Slot) -> Option<(EntityUid, Span)>) -> Policy {
        let mut out = self.clone();
        for slot in self.slots() {
            if let Some((uid, span)) = value(slot) {
                let c = match slot {
                    Slot::Principal => &mut out.principal,
                    Slot::Resource => &mut out.resource,
                };
                *c = c.filled(&uid, span);
            }
        }
        out
    }
}

/// A constraint on `principal` or `resource` in a policy scope.
#[derive(Clone, Debug, PartialEq)]
pub enum ScopeConstraint {
    /// No constraint.
    Any,
    /// `== E`.
    Eq(EntityUid, Span),
    /// `in E`.
    In(EntityUid, Span),
    /// `is T`.
    Is(Name, Span),
    /// `is T in E`.
    IsIn(Name, EntityUid, Span),
    /// `== ?slot`, in a template (the slot is the scope's own: `?principal`
    /// in the principal's, `?resource` in the resource's).
    EqSlot(Span),
    /// `in ?slot`, in a template.
    InSlot(Span),
    /// `is T in ?slot`, in a template.
    IsInSlot(Name, Span),
}

impl ScopeConstraint {
    /// Where the constraint is written (for `Any`, nowhere: a default span).
    pub fn span(&self) -> Span {
        match self {
            ScopeConstraint::Any => Span::default(),
            ScopeConstraint::Eq(_, s)
            | ScopeConstraint::In(_, s)
            | ScopeConstraint::Is(_, s)
            | ScopeConstraint::IsIn(_, _, s)
            | ScopeConstraint::EqSlot(s)
            | ScopeConstraint::InSlot(s)
            | ScopeConstraint::IsInSlot(_, s) => *s,
        }
    }

    /// Where the constraint is written, to move it (`None` for `Any`).
    pub fn span_mut(&mut self) -> Option<&mut Span> {
        match self {
            ScopeConstraint::Any => None,
            ScopeConstraint::Eq(_, s)
            | ScopeConstraint::In(_, s)
            | ScopeConstraint::Is(_, s)
            | ScopeConstraint::IsIn(_, _, s)
            | ScopeConstraint::EqSlot(s)
            | ScopeConstraint::InSlot(s)
            | ScopeConstraint::IsInSlot(_, s) => Some(s),
        }
    }

    /// Whether this constraint names a slot (its policy is a template).
    pub fn has_slot(&self) -> bool {
        matches!(
            self,
            ScopeConstraint::EqSlot(_) | ScopeConstraint::InSlot(_) | ScopeConstraint::IsInSlot(..)
        )
    }

    /// This constraint with its slot filled by `uid`, written at `span`;
    /// a constraint without a slot is returned as it is.
    pub fn filled(&self, uid: &EntityUid, span: Span) -> ScopeConstraint {
        match self {
            ScopeConstraint::EqSlot(_) => ScopeConstraint::Eq(uid.clone(), span),
            ScopeConstraint::InSlot(_) => ScopeConstraint::In(uid.clone(), span),
            ScopeConstraint::IsInSlot(t, _) => ScopeConstraint::IsIn(t.clone(), uid.clone(), span),
            other => other.clone(),
        }
    }
}

/// A template's slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// `?principal`, in the principal's scope.
    Principal,
    /// `?resource`, in the resource's scope.
    Resource,
}

impl Slot {
    /// Both slots, in the order they stand in a scope.
    pub const ALL: [Slot; 2] = [Slot::Principal, Slot::Resource];

    /// `?principal` or `?resource`.
    pub fn name(self) -> &'static str {
        match self {
            Slot::Principal => "?principal",
            Slot::Resource => "?resource",
        }
    }

    /// The slot named `text` (`?principal`, `?resource`).
    pub fn parse(text: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|s| s.name() == text)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A constraint on `action` in a policy scope.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionConstraint {
    /// No constraint.
    Any,
    /// `== A`.
    Eq(EntityUid, Span),
    /// `in A` (one entry) or `in [A, B]`.
    In(Vec<EntityUid>, Span),
}

/// `when { … }` or `unless { … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Which of the two.
    pub kind: ConditionKind,
    /// The condition's expression.
    pub body: Expr,
    /// The whole clause.
    pub span: Span,
}

/// The two kinds of condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConditionKind {
    /// Applies when the body is true.
    When,
    /// Applies when the body is false.
    Unless,
}

/// One clause of a rule: `rule name(a, b) { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleClause {
    /// Annotations in source order.
    pub annotations: Vec<Annotation>,
    /// The rule's name.
    pub name: Name,
    /// Parameter names; inside the body they are locals 0..n.
    pub params: Vec<SmolStr>,
    /// The predicate.
    pub body: Expr,
    /// The whole clause.
    pub span: Span,
    /// The name, where diagnostics about the clause point.
    pub head: Span,
}

/// `namespace N { declarations }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Namespace {
    /// Annotations in source order.
    pub annotations: Vec<Annotation>,
    /// The namespace's path.
    pub name: Name,
    /// Its declarations.
    pub decls: Vec<Decl>,
    /// The whole block.
    pub span: Span,
}

/// A declaration in Cedar's schema syntax.
#[derive(Clone, Debug, PartialEq)]
pub enum Decl {
    /// `entity A, B in [P] { attrs } tags T;`
    Entity(EntityDecl),
    /// `action "a", "b" in [g] appliesTo { … };`
    Action(ActionDecl),
    /// `type T = …;`
    Type(TypeDecl),
}

/// An entity type declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityDecl {
    /// Annotations in source order.
    pub annotations: Vec<Annotation>,
    /// The declared type names (unqualified).
    pub names: Vec<SmolStr>,
    /// Allowed parent types, as written.
    pub parents: Vec<Name>,
    /// Attributes, in source order.
    pub attrs: Vec<AttrDecl>,
    /// The tag type, if any.
    pub tags: Option<TypeExpr>,
    /// For `enum [...]` entity types, the allowed ids.
    pub enum_ids: Option<Vec<SmolStr>>,
    /// The whole declaration.
    pub span: Span,
}

/// An attribute declaration `name?: Type`.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrDecl {
    /// Annotations in source order.
    pub annotations: Vec<Annotation>,
    /// The attribute's name.
    pub name: SmolStr,
    /// Whether it may be absent (`?`).
    pub optional: bool,
    /// Its type.
    pub ty: TypeExpr,
    /// The whole declaration.
    pub span: Span,
}

/// A type in a declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExpr {
    /// A named type: primitive, extension, entity or common type.
    Named(Name, Span),
    /// `Set<T>`.
    Set(Box<TypeExpr>, Span),
    /// `{ a: T, b?: U }`.
    Record(Vec<AttrDecl>, Span),
}

/// An action declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionDecl {
    /// Annotations in source order.
    pub annotations: Vec<Annotation>,
    /// The declared action ids.
    pub names: Vec<SmolStr>,
    /// Parent action groups: `(type, id)` where the type is `None` for a bare
    /// name (an action of the same namespace).
    pub parents: Vec<(Option<Name>, SmolStr)>,
    /// Allowed principal types; `None` without `appliesTo`.
    pub principals: Option<Vec<Name>>,
    /// Allowed resource types; `None` without `appliesTo`.
    pub resources: Option<Vec<Name>>,
    /// The context type, if declared.
    pub context: Option<TypeExpr>,
    /// The whole declaration.
    pub span: Span,
}

/// A common type declaration `type T = …;`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeDecl {
    /// Annotations in source order.
    pub annotations: Vec<Annotation>,
    /// The type's name (unqualified).
    pub name: SmolStr,
    /// What it stands for.
    pub ty: TypeExpr,
    /// The whole declaration.
    pub span: Span,
}

/// An expression with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// The request variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    /// `principal`
    Principal,
    /// `action`
    Action,
    /// `resource`
    Resource,
    /// `context`
    Context,
}

impl Var {
    /// The variable's name in source.
    pub fn name(self) -> &'static str {
        match self {
            Var::Principal => "principal",
            Var::Action => "action",
            Var::Resource => "resource",
            Var::Context => "context",
        }
    }
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Long(i64),
    /// A string, unescaped.
    String(SmolStr),
}

/// Binary operators other than `&&` and `||`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
}

impl BinOp {
    /// Every binary operator.
    pub const ALL: [BinOp; 10] = [
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::In,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
    ];

    /// The operator written `symbol`, if one is.
    pub fn from_symbol(symbol: &str) -> Option<BinOp> {
        BinOp::ALL.into_iter().find(|op| op.symbol() == symbol)
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        }
    }
}

/// `any` or `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    /// True when the body holds for some element.
    Any,
    /// True when the body holds for every element.
    All,
}

/// One element of a `like` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternElem {
    /// A literal character.
    Char(char),
    /// `*`: any run of characters.
    Wildcard,
}

/// What a call `f(args)` refers to, settled when the policy set is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallTarget {
    /// Not linked yet.
    Unresolved,
    /// An extension function (`ip`, `decimal`, …).
    Extension,
    /// A rule, by its index in the policy set's rule table.
    Rule(u32),
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An expression that could not be lowered (its error is recorded);
    /// evaluating it is an error.
    Error,
    /// A literal.
    Lit(Literal),
    /// An entity reference `T::"id"`.
    Entity(EntityUid),
    /// A request variable.
    Var(Var),
    /// A rule parameter or quantifier variable: its position among the
    /// frame's locals, and its name.
    Local(u32, SmolStr),
    /// `if c then a else b`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a && b && …`: a chain of conjuncts, evaluated left to right. Chains
    /// are flat so that a long chain is no deep tree; a parenthesised chain
    /// inside a chain stays a nested node.
    And(Vec<Expr>),
    /// `a || b || …`: a chain of disjuncts, evaluated left to right.
    Or(Vec<Expr>),
    /// `!a`.
    Not(Box<Expr>),
    /// `-a`.
    Neg(Box<Expr>),
    /// A binary operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `e has a.b.c`.
    Has(Box<Expr>, Vec<SmolStr>),
    /// `e like "pat*tern"`.
    Like(Box<Expr>, Vec<PatternElem>),
    /// `e is T` or `e is T in f`.
    Is(Box<Expr>, Name, Option<Box<Expr>>),
    /// `e.a` or `e["a"]`.
    GetAttr(Box<Expr>, SmolStr),
    /// `e.m(args)`.
    Method(Box<Expr>, SmolStr, Vec<Expr>),
    /// `f(args)`: an extension function or a rule.
    Call {
        /// The function's or rule's name.
        name: Name,
        /// The arguments.
        args: Vec<Expr>,
        /// What the name refers to (set by linking).
        target: CallTarget,
    },
    /// `[a, b]`.
    Set(Vec<Expr>),
    /// `{a: 1, "b c": 2}`.
    Record(Vec<(SmolStr, Expr)>),
    /// `any x in S: body` / `all x in S: body`; the variable is local number `local`.
    Quantified {
        /// Which quantifier.
        quantifier: Quantifier,
        /// The bound variable's name.
        var: SmolStr,
        /// The bound variable's position among the frame's locals.
        local: u32,
        /// The set ranged over.
        set: Box<Expr>,
        /// The predicate.
        body: Box<Expr>,
    },
}

impl Expr {
    /// An expression of `kind` at `span`.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}

impl Expr {
    /// Calls `f` on each expression directly inside this one, in source
    /// order.
    pub fn for_each_child<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        match &self.kind {
            ExprKind::Error
            | ExprKind::Lit(_)
            | ExprKind::Entity(_)
            | ExprKind::Var(_)
            | ExprKind::Local(..) => {}
            ExprKind::If(a, b, c) => {
                f(a);
                f(b);
                f(c);
            }
            ExprKind::And(items) | ExprKind::Or(items) | ExprKind::Set(items) => {
                items.iter().for_each(f)
            }
            ExprKind::Not(a)
            | ExprKind::Neg(a)
            | ExprKind::Has(a, _)
            | ExprKind::Like(a, _)
            | ExprKind::GetAttr(a, _) => f(a),
            ExprKind::Is(a, _, b) => {
                f(a);
                if let Some(b) = b {
                    f(b);
                }
            }
            ExprKind::Binary(_, a, b) => {
                f(a);
                f(b);
            }
            ExprKind::Method(r, _, args) => {
                f(r);
                args.iter().for_each(f);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(f),
            ExprKind::Record(entries) => entries.iter().for_each(|(_, v)| f(v)),
            ExprKind::Quantified { set, body, .. } => {
                f(set);
                f(body);
            }
        }
    }
}

/// Calls `f` on `e` and every expression inside it.
pub fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    crate::limits::with_stack(|| {
        f(e);
        e.for_each_child(&mut |c| visit(c, f));
    })
}

/// Calls `f` on `e` and every expression inside it, to change them in
/// place; `f` sees an expression before the ones inside it.
pub fn visit_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    crate::limits::with_stack(|| {
        f(e);
        match &mut e.kind {
            ExprKind::Error
            | ExprKind::Lit(_)
            | ExprKind::Entity(_)
            | ExprKind::Var(_)
            | ExprKind::Local(..) => {}
            ExprKind::If(a, b, c) => {
                visit_mut(a, f);
                visit_mut(b, f);
                visit_mut(c, f);
            }
            ExprKind::And(items) | ExprKind::Or(items) | ExprKind::Set(items) => {
                items.iter_mut().for_each(|i| visit_mut(i, f))
            }
            ExprKind::Not(a)
            | ExprKind::Neg(a)
            | ExprKind::Has(a, _)
            | ExprKind::Like(a, _)
            | ExprKind::GetAttr(a, _) => visit_mut(a, f),
            ExprKind::Is(a, _, b) => {
                visit_mut(a, f);
                if let Some(b) = b {
                    visit_mut(b, f);
                }
            }
            ExprKind::Binary(_, a, b) => {
                visit_mut(a, f);
                visit_mut(b, f);
            }
            ExprKind::Method(r, _, args) => {
                visit_mut(r, f);
                args.iter_mut().for_each(|a| visit_mut(a, f));
            }
            ExprKind::Call { args, .. } => args.iter_mut().for_each(|a| visit_mut(a, f)),
            ExprKind::Record(entries) => entries.iter_mut().for_each(|(_, v)| visit_mut(v, f)),
            ExprKind::Quantified { set, body, .. } => {
                visit_mut(set, f);
                visit_mut(body, f);
            }
        }
    })
}
