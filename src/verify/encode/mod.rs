//! mspl's semantics as SMT-LIB terms, over every store the declarations
//! allow (docs/verify.md, "The encoding").
//!
//! An entity is its id, a `String`, with its type known statically (the
//! policies validate against the declarations). The store is symbolic:
//! per entity type `T`, the array `ex_T` of the ids that exist, and one
//! uninterpreted function per attribute (with a `has` function for an
//! optional one); per pair of types `T`, `U` where `U` is an ancestor type
//! of `T`, the relation `anc_T_U`, transitive by axiom (and acyclic in
//! Cedar's mode), with a witness of the path for an ancestor that is not
//! a direct parent type. Longs are 64-bit vectors whose arithmetic reports
//! overflow by sign extension; sets are arrays to `Bool`.
//!
//! Every expression becomes a [`Term`]: its value and the condition under
//! which evaluating it raises an error, in the evaluation order of the
//! interpreter. Constant parts are folded (so a rule recursive over
//! constants unrolls to its end); a construct with no exact encoding is
//! refused with its place, never approximated — except a rule call past
//! the unrolling depth, which becomes an unconstrained result (sound for
//! a proof; a counterexample is only reported once `authorize` confirms it).

mod hierarchy;
mod ops;
mod rules;
mod sets;

use mspl::__internal::authorize::ErrorMode;
use mspl::__internal::policy_set::PolicySet;
use mspl::__internal::schema::{AttrType, Schema, Type};
use mspl::__internal::span::Span;
use mspl::__internal::syntax::ast::{
    ActionConstraint, BinOp, CallTarget, ConditionKind, EntityUid, Expr, ExprKind, Literal, Name,
    PatternElem, Policy, Quantifier, ScopeConstraint, Var,
};
use mspl::__internal::value::Value;
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// What has no exact encoding, and where.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// The construct.
    pub what: String,
    /// Its place in the policies (default: none).
    pub span: Span,
}

fn refuse(what: impl Into<String>, span: Span) -> Refusal {
    Refusal {
        what: what.into(),
        span,
    }
}

/// The static type of a term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sort {
    /// `Bool`.
    Bool,
    /// `Long` (`(_ BitVec 64)`).
    Long,
    /// `String`.
    Str,
    /// An entity of the type (its id, a `String`).
    Entity(Name),
    /// A set of the element sort; `None`: the empty literal set.
    Set(Option<Box<Sort>>),
    /// The request's context record.
    Context,
}

impl Sort {
    /// The SMT sort.
    pub fn smt(&self) -> String {
        match self {
            Sort::Bool => "Bool".into(),
            Sort::Long => "(_ BitVec 64)".into(),
            Sort::Str | Sort::Entity(_) => "String".into(),
            Sort::Set(Some(e)) => format!("(Array {} Bool)", e.smt()),
            // Only ever the empty set, never declared.
            Sort::Set(None) => "(Array String Bool)".into(),
            Sort::Context => "Bool".into(),
        }
    }

    /// The sort of a declared type, or `None` where it has no encoding.
    pub fn of(ty: &Type) -> Option<Sort> {
        Some(match ty {
            Type::Bool => Sort::Bool,
            Type::Long => Sort::Long,
            Type::String => Sort::Str,
            Type::Entity(n) => Sort::Entity(n.clone()),
            Type::Set(e) => Sort::Set(Some(Box::new(Sort::of(e)?))),
            Type::Record(_) | Type::Extension(_) => return None,
        })
    }
}

/// A value: constant (folded), or an SMT term.
#[derive(Clone, Debug)]
pub enum Val {
    /// Known without the store or the request.
    Const(Value),
    /// An SMT term.
    Sym(String),
}

/// An encoded expression: its sort, its value, and when it errs.
#[derive(Clone, Debug)]
pub struct Term {
    /// Its static type.
    pub sort: Sort,
    /// Its value (meaningless where it errs).
    pub val: Val,
    /// `None`: it never errs; else the condition under which it does.
    pub err: Option<String>,
}

impl Term {
    pub(super) fn constant(v: Value, sort: Sort) -> Term {
        Term {
            sort,
            val: Val::Const(v),
            err: None,
        }
    }

    pub(super) fn sym(sort: Sort, s: String, err: Option<String>) -> Term {
        Term {
            sort,
            val: Val::Sym(s),
            err,
        }
    }

    pub(super) fn boolean(b: bool) -> Term {
        Term::constant(Value::Bool(b), Sort::Bool)
    }
}

/// `a ∨ b` over error conditions.
fn or_err(a: &Option<String>, b: &Option<String>) -> Option<String> {
    match (a, b) {
        (None, x) | (x, None) => x.clone(),
        (Some(x), Some(y)) => Some(format!("(or {x} {y})")),
    }
}

/// `c ∧ e` for an error condition `e` reached only under `c`.
fn and_err(c: &str, e: &Option<String>) -> Option<String> {
    e.as_ref().map(|e| {
        if c == "true" {
            e.clone()
        } else {
            format!("(and {c} {e})")
        }
    })
}

fn not(s: &str) -> String {
    match s {
        "true" => "false".into(),
        "false" => "true".into(),
        _ => format!("(not {s})"),
    }
}

/// An SMT string literal.
pub fn smt_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\"\""),
            ' '..='~' if c != '\\' => out.push(c),
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// A 64-bit literal.
pub fn smt_long(n: i64) -> String {
    format!("(_ bv{} 64)", n as u64)
}

/// What one store function is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Func {
    /// `ex_T`: the ids of type `T` that exist.
    Exists(Name),
    /// An attribute's value.
    Attr(Name, SmolStr),
    /// Whether an optional attribute is present.
    Has(Name, SmolStr),
    /// `anc_T_U`.
    Anc(Name, Name),
    /// The entity on the path from a `T` to a `U` ancestor that is of a
    /// direct parent type of `T`.
    Witness(Name, Name),
}

/// The request of one slice: its variables' SMT names.
#[derive(Clone, Debug)]
pub struct Slice {
    /// The principal's type.
    pub principal_type: Name,
    /// The action.
    pub action: EntityUid,
    /// The resource's type.
    pub resource_type: Name,
    /// The context's declared fields.
    pub context: BTreeMap<SmolStr, AttrType>,
}

/// Builds one query: declarations, axioms and the encoded terms.
pub struct Encoder<'a> {
    schema: &'a Schema,
    /// The ancestor types of every declared type, transitively.
    ancestors: BTreeMap<Name, BTreeSet<Name>>,
    /// The SMT names of the existence predicates (sets of all entities of
    /// a type, read as predicates rather than arrays).
    predicates: BTreeSet<String>,
    /// Declarations and axioms, in order.
    pub prelude: Vec<String>,
    /// Store functions declared so far, with their SMT names.
    pub funcs: BTreeMap<Func, String>,
    /// Every entity literal met (for a counterexample's store).
    pub literals: BTreeSet<EntityUid>,
    /// The slice encoded.
    pub slice: Slice,
    /// Whether a rule call was cut at the depth (the encoding then
    /// over-approximates).
    pub cut: bool,
    depth: usize,
    fresh: usize,
    calls: Vec<(u32, Vec<String>)>,
    known: BTreeSet<String>,
    nodes: usize,
    mode: ErrorMode,
    /// Quantifiers the term being encoded is inside.
    inside: usize,
    /// Whether `in` is used on a bound variable: the hierarchy's axioms
    /// are then quantified, else instantiated on the entities used.
    nonground: bool,
    /// The entity terms `in` is used on (type, term), where ground.
    anc_terms: BTreeSet<(Name, String)>,
}

/// The most nodes one query's terms may have.
const MAX_NODES: usize = 200_000;

/// Where a set of one policy set is evaluated: its rules.
pub struct Scope<'s> {
    /// The policy set.
    pub set: &'s PolicySet,
    /// The error mode.
    pub mode: ErrorMode,
}

/// Locals in scope: rule parameters, quantified variables.
type Env = Vec<Term>;

impl<'a> Encoder<'a> {
    /// An encoder for `slice` over `schema`'s stores, unrolling rule calls
    /// to `depth`.
    pub fn new(schema: &'a Schema, slice: Slice, depth: usize, mode: ErrorMode) -> Encoder<'a> {
        let ancestors = schema
            .entity_types
            .keys()
            .map(|ty| (ty.clone(), transitive_parents(schema, ty)))
            .collect();
        let mut e = Encoder {
            schema,
            ancestors,
            predicates: BTreeSet::new(),
            prelude: vec!["(set-logic ALL)".into()],
            funcs: BTreeMap::new(),
            literals: BTreeSet::new(),
            slice,
            cut: false,
            depth,
            fresh: 0,
            calls: Vec::new(),
            known: BTreeSet::new(),
            nodes: 0,
            mode,
            inside: 0,
            nonground: false,
            anc_terms: BTreeSet::new(),
        };
        e.prelude.push("(declare-const principal String)".into());
        e.prelude.push("(declare-const resource String)".into());
        let fields: Vec<(SmolStr, AttrType)> = e
            .slice
            .context
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (i, (_, t)) in fields.iter().enumerate() {
            if let Some(sort) = Sort::of(&t.ty) {
                e.prelude
                    .push(format!("(declare-const context_{i} {})", sort.smt()));
                if t.optional {
                    e.prelude
                        .push(format!("(declare-const context_has_{i} Bool)"));
                }
            }
        }
        e
    }

    /// A fresh SMT name.
    pub(super) fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}_{}", self.fresh)
    }

    /// The SMT name of `f`, declared on first use.
    pub fn func(&mut self, f: Func) -> String {
        if let Some(n) = self.funcs.get(&f) {
            return n.clone();
        }
        let name = format!("s{}", self.funcs.len());
        let decl = match &f {
            Func::Exists(_) => {
                self.predicates.insert(name.clone());
                format!("(declare-fun {name} (String) Bool)")
            }
            Func::Attr(t, a) => format!("(declare-fun {name} (String) {})", self.attr_sort(t, a)),
            Func::Has(_, _) => format!("(declare-fun {name} (String) Bool)"),
            Func::Anc(_, _) => format!("(declare-fun {name} (String String) Bool)"),
            Func::Witness(_, _) => format!("(declare-fun {name} (String String) String)"),
        };
        self.prelude.push(decl);
        self.funcs.insert(f, name.clone());
        name
    }

    pub(super) fn attr_type(&self, ty: &Name, attr: &str) -> Option<AttrType> {
        self.schema.entity_types.get(ty)?.attrs.get(attr).cloned()
    }

    /// The term of a constant value, as SMT.
    pub fn smt_value(&self, v: &Value, sort: &Sort) -> Result<String, Refusal> {
        Ok(match v {
            Value::Bool(b) => b.to_string(),
            Value::Long(n) => smt_long(*n),
            Value::String(s) => smt_string(s),
            Value::Entity(u) => smt_string(&u.id),
            Value::Set(items) => {
                let elem = match sort {
                    Sort::Set(Some(e)) => e.smt(),
                    _ => "String".into(),
                };
                let elem_sort = match sort {
                    Sort::Set(Some(e)) => (**e).clone(),
                    _ => Sort::Str,
                };
                let mut out = format!("((as const (Array {elem} Bool)) false)");
                for i in items.iter() {
                    out = format!("(store {out} {} true)", self.smt_value(i, &elem_sort)?);
                }
                out
            }
            Value::Record(_) | Value::Ext(_) => {
                return Err(refuse("a record or extension value", Span::default()))
            }
        })
    }

    /// `t`'s value as SMT.
    pub fn smt(&self, t: &Term) -> Result<String, Refusal> {
        match &t.val {
            Val::Sym(s) => Ok(s.clone()),
            Val::Const(v) => self.smt_value(v, &t.sort),
        }
    }

    pub(super) fn count(&mut self, span: Span) -> Result<(), Refusal> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(refuse(
                format!("a query of more than {MAX_NODES} terms"),
                span,
            ));
        }
        Ok(())
    }

    /// The principal, action, resource and context terms of the slice.
    pub(super) fn var(&self, v: Var) -> Term {
        match v {
            Var::Principal => Term::sym(
                Sort::Entity(self.slice.principal_type.clone()),
                "principal".into(),
                None,
            ),
            Var::Resource => Term::sym(
                Sort::Entity(self.slice.resource_type.clone()),
                "resource".into(),
                None,
            ),
            Var::Action => Term::constant(
                Value::Entity(self.slice.action.clone()),
                Sort::Entity(self.slice.action.ty.clone()),
            ),
            Var::Context => Term::sym(Sort::Context, "context".into(), None),
        }
    }

    /// Encodes `e` under `scope` with `env`'s locals.
    pub fn expr(&mut self, scope: &Scope, e: &Expr, env: &Env) -> Result<Term, Refusal> {
        self.count(e.span)?;
        let span = e.span;
        match &e.kind {
            ExprKind::Error => Err(refuse("an expression that did not load", span)),
            ExprKind::Lit(Literal::Bool(b)) => Ok(Term::boolean(*b)),
            ExprKind::Lit(Literal::Long(n)) => Ok(Term::constant(Value::Long(*n), Sort::Long)),
            ExprKind::Lit(Literal::String(s)) => {
                Ok(Term::constant(Value::String(s.clone()), Sort::Str))
            }
            ExprKind::Entity(uid) => {
                if !mspl::__internal::schema::is_action_type(uid.ty.as_str())
                    && !self.schema.entity_types.contains_key(&uid.ty)
                {
                    return Err(refuse(
                        format!("an undeclared entity type `{}`", uid.ty),
                        span,
                    ));
                }
                self.literals.insert(uid.clone());
                Ok(Term::constant(
                    Value::Entity(uid.clone()),
                    Sort::Entity(uid.ty.clone()),
                ))
            }
            ExprKind::Var(v) => Ok(self.var(*v)),
            ExprKind::Local(i, name) => env
                .get(*i as usize)
                .cloned()
                .ok_or_else(|| refuse(format!("the local `{name}` out of scope"), span)),
            ExprKind::If(c, a, b) => {
                let c = self.boolean(scope, c, env)?;
                match c.val {
                    Val::Const(Value::Bool(true)) => {
                        let a = self.expr(scope, a, env)?;
                        Ok(Term {
                            err: or_err(&c.err, &a.err),
                            ..a
                        })
                    }
                    Val::Const(Value::Bool(false)) => {
                        let b = self.expr(scope, b, env)?;
                        Ok(Term {
                            err: or_err(&c.err, &b.err),
                            ..b
                        })
                    }
                    _ => {
                        let a = self.expr(scope, a, env)?;
                        let b = self.expr(scope, b, env)?;
                        if a.sort != b.sort {
                            return Err(refuse("an `if` whose branches differ in type", span));
                        }
                        let cv = self.smt(&c)?;
                        let branch_err = match (&a.err, &b.err) {
                            (None, None) => None,
                            _ => Some(format!(
                                "(ite {cv} {} {})",
                                a.err.as_deref().unwrap_or("false"),
                                b.err.as_deref().unwrap_or("false")
                            )),
                        };
                        Ok(Term::sym(
                            a.sort.clone(),
                            format!("(ite {cv} {} {})", self.smt(&a)?, self.smt(&b)?),
                            or_err(&c.err, &branch_err),
                        ))
                    }
                }
            }
            ExprKind::And(items) => self.chain(scope, items, env, true),
            ExprKind::Or(items) => self.chain(scope, items, env, false),
            ExprKind::Not(a) => {
                let a = self.boolean(scope, a, env)?;
                Ok(match &a.val {
                    Val::Const(Value::Bool(b)) => Term {
                        err: a.err.clone(),
                        ..Term::boolean(!b)
                    },
                    _ => Term::sym(Sort::Bool, not(&self.smt(&a)?), a.err.clone()),
                })
            }
            ExprKind::Neg(a) => {
                let a = self.expr(scope, a, env)?;
                if a.sort != Sort::Long {
                    return Err(refuse("`-` on something other than a long", span));
                }
                let x = self.smt(&a)?;
                let min = smt_long(i64::MIN);
                Ok(Term::sym(
                    Sort::Long,
                    format!("(bvneg {x})"),
                    or_err(&a.err, &Some(format!("(= {x} {min})"))),
                ))
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.expr(scope, a, env)?;
                let b = self.expr(scope, b, env)?;
                self.binary(*op, a, b, span)
            }
            ExprKind::Has(x, path) => {
                let x = self.expr(scope, x, env)?;
                let [attr] = path.as_slice() else {
                    return Err(refuse("`has` with a path of several attributes", span));
                };
                let val = match &x.sort {
                    Sort::Entity(t) => {
                        let id = self.smt(&x)?;
                        match self.attr_type(t, attr) {
                            None => "false".to_string(),
                            Some(at) => {
                                let ex = self.exists(t, &id);
                                if at.optional {
                                    let h = self.func(Func::Has(t.clone(), attr.clone()));
                                    format!("(and {ex} ({h} {id}))")
                                } else {
                                    ex
                                }
                            }
                        }
                    }
                    Sort::Context => match self.context_field(attr) {
                        None => "false".to_string(),
                        Some((i, at)) => {
                            if at.optional {
                                format!("context_has_{i}")
                            } else {
                                "true".into()
                            }
                        }
                    },
                    _ => {
                        return Err(refuse(
                            "`has` on something other than an entity or the context",
                            span,
                        ))
                    }
                };
                Ok(Term::sym(Sort::Bool, val, x.err))
            }
            ExprKind::GetAttr(x, attr) => {
                let x = self.expr(scope, x, env)?;
                self.get_attr(&x, attr, span)
            }
            ExprKind::Like(x, pattern) => {
                let x = self.expr(scope, x, env)?;
                if x.sort != Sort::Str {
                    return Err(refuse("`like` on something other than a string", span));
                }
                let mut parts = Vec::new();
                let mut lit = String::new();
                for p in pattern {
                    match p {
                        PatternElem::Char(c) => lit.push(*c),
                        PatternElem::Wildcard => {
                            if !lit.is_empty() {
                                parts.push(format!("(str.to_re {})", smt_string(&lit)));
                                lit.clear();
                            }
                            parts.push("re.all".into());
                        }
                    }
                }
                if !lit.is_empty() || parts.is_empty() {
                    parts.push(format!("(str.to_re {})", smt_string(&lit)));
                }
                let re = if parts.len() == 1 {
                    parts.remove(0)
                } else {
                    format!("(re.++ {})", parts.join(" "))
                };
                Ok(Term::sym(
                    Sort::Bool,
                    format!("(str.in_re {} {re})", self.smt(&x)?),
                    x.err,
                ))
            }
            ExprKind::Is(x, ty, within) => {
                let x = self.expr(scope, x, env)?;
                let Sort::Entity(t) = &x.sort else {
                    return Err(refuse("`is` on something other than an entity", span));
                };
                if t != ty {
                    return Ok(Term {
                        err: x.err.clone(),
                        ..Term::boolean(false)
                    });
                }
                match within {
                    None => Ok(Term {
                        err: x.err.clone(),
                        ..Term::boolean(true)
                    }),
                    Some(f) => {
                        let f = self.expr(scope, f, env)?;
                        self.in_value(x, f, span)
                    }
                }
            }
            ExprKind::Method(x, name, args) => {
                let x = self.expr(scope, x, env)?;
                let mut values = Vec::new();
                for a in args {
                    values.push(self.expr(scope, a, env)?);
                }
                self.method(x, name, values, span)
            }
            ExprKind::Call { name, args, target } => match target {
                CallTarget::Rule(rule) => {
                    let mut values = Vec::new();
                    for a in args {
                        values.push(self.expr(scope, a, env)?);
                    }
                    self.call_rule(scope, *rule, values, span)
                }
                _ => Err(refuse(
                    format!("the extension function `{name}` (extension types are not encoded)"),
                    span,
                )),
            },
            ExprKind::Set(items) => {
                let mut terms = Vec::new();
                for i in items {
                    terms.push(self.expr(scope, i, env)?);
                }
                self.set_literal(terms, span)
            }
            ExprKind::Record(_) => Err(refuse("a record literal", span)),
            ExprKind::Quantified {
                quantifier,
                local,
                set,
                body,
                ..
            } => {
                let s = self.expr(scope, set, env)?;
                self.quantified(scope, *quantifier, *local, s, body, env, span)
            }
        }
    }
}

/// The types `ty`'s entities may have as ancestors, transitively.
fn transitive_parents(schema: &Schema, ty: &Name) -> BTreeSet<Name> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<Name> = schema
        .entity_types
        .get(ty)
        .map(|t| t.parents.clone())
        .unwrap_or_default();
    while let Some(t) = todo.pop() {
        if out.insert(t.clone()) {
            if let Some(d) = schema.entity_types.get(&t) {
                todo.extend(d.parents.iter().cloned());
            }
        }
    }
    out
}

/// A boolean from SMT text, folded where it is a constant.
fn fold_bool(val: String, err: Option<String>) -> Term {
    match val.as_str() {
        "true" => Term {
            err,
            ..Term::boolean(true)
        },
        "false" => Term {
            err,
            ..Term::boolean(false)
        },
        _ => Term::sym(Sort::Bool, val, err),
    }
}
