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
//! overflow by sign extension; sets are arrays to `Bool`; a record is its
//! fields, each with the condition under which it is present (`attrs`);
//! tags are functions of the entity and the key; the extension types are
//! bit-vectors (`extensions`).
//!
//! Every expression becomes a [`Term`]: its value and the condition under
//! which evaluating it raises an error, in the evaluation order of the
//! interpreter. Constant parts are folded (so a rule recursive over
//! constants unrolls to its end); a construct with no exact encoding is
//! refused with its place, never approximated — except a rule call past
//! the unrolling depth, which becomes an unconstrained result (sound for
//! a proof; a counterexample is only reported once `authorize` confirms it).

mod attrs;
mod extensions;
mod hierarchy;
mod ops;
mod rules;
mod sets;
mod terms;

pub use extensions::{ExtSort, IP_NORM};
use terms::{and_err, not, or_err, refuse};
pub use terms::{smt_long, smt_string, Field, Func, Refusal, Slice, Sort, Term, Val};

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
    /// The context record's term.
    context: Term,
    /// The SMT constants declared for the context's fields.
    pub consts: BTreeSet<String>,
    /// Set-valued attributes and context fields: (prelude line, name,
    /// element sort, whether it takes an entity id).
    set_leaves: Vec<(usize, String, String, bool)>,
    /// The tag keys asked of entities of each type (SMT terms over the
    /// request), for a counterexample's store.
    pub tag_keys: BTreeSet<(Name, String)>,
    /// Whether `ip_norm` is defined.
    ip_norm: bool,
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
            context: Term::boolean(false),
            consts: BTreeSet::new(),
            set_leaves: Vec::new(),
            tag_keys: BTreeSet::new(),
            ip_norm: false,
        };
        e.prelude.push("(declare-const principal String)".into());
        e.prelude.push("(declare-const resource String)".into());
        let fields = e.slice.context.clone();
        e.context = e.context_record("context", &fields);
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
            Func::Attr(t, path) => {
                let sort = self.attr_sort(t, path);
                if let Sort::Set(Some(elem)) = &sort {
                    self.set_leaves
                        .push((self.prelude.len(), name.clone(), elem.smt(), true));
                }
                format!("(declare-fun {name} (String) {})", sort.smt())
            }
            Func::Has(_, _) => format!("(declare-fun {name} (String) Bool)"),
            Func::Tag(t) => format!(
                "(declare-fun {name} (String String) {})",
                self.tag_sort(t).unwrap_or(Sort::Bool).smt()
            ),
            Func::HasTag(_) => format!("(declare-fun {name} (String String) Bool)"),
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

    /// The declared type at `path` from an entity of type `ty`.
    pub fn attr_type_at(&self, ty: &Name, path: &[SmolStr]) -> Option<AttrType> {
        let (first, rest) = path.split_first()?;
        let mut at = self.attr_type(ty, first)?;
        for k in rest {
            let Type::Record(fields) = &at.ty else {
                return None;
            };
            at = fields.get(k)?.clone();
        }
        Some(at)
    }

    /// The sort of the value at `path` from an entity of type `t`.
    pub(super) fn attr_sort(&self, t: &Name, path: &[SmolStr]) -> Sort {
        self.attr_type_at(t, path)
            .and_then(|at| Sort::of(&at.ty))
            .unwrap_or(Sort::Bool)
    }

    /// The sort of the tags of entities of type `t`, if it has tags.
    pub(super) fn tag_sort(&self, t: &Name) -> Option<Sort> {
        Sort::of(self.schema.entity_types.get(t)?.tags.as_ref()?)
    }

    /// The declared tag type of `t`, if any.
    pub fn tag_type(&self, t: &Name) -> Option<Type> {
        self.schema.entity_types.get(t)?.tags.clone()
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
            Value::Ext(x) => extensions::smt_ext(x),
            Value::Record(_) => {
                return Err(refuse(
                    "a record where one value is needed",
                    Span::default(),
                ))
            }
        })
    }

    /// `t`'s value as SMT.
    pub fn smt(&self, t: &Term) -> Result<String, Refusal> {
        match &t.val {
            Val::Sym(s) => Ok(s.clone()),
            Val::Const(v) => self.smt_value(v, &t.sort),
            Val::Record(_) => Err(refuse(
                "a record where one value is needed",
                Span::default(),
            )),
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
            Var::Context => self.context.clone(),
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
                        let cv = self.smt(&c)?;
                        let value = self.ite(&cv, &a, &b, span)?;
                        let branch_err = match (&a.err, &b.err) {
                            (None, None) => None,
                            _ => Some(format!(
                                "(ite {cv} {} {})",
                                a.err.as_deref().unwrap_or("false"),
                                b.err.as_deref().unwrap_or("false")
                            )),
                        };
                        Ok(Term {
                            err: or_err(&c.err, &branch_err),
                            ..value
                        })
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
                self.has_path(x, path, span)
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
                _ => {
                    let mut values = Vec::new();
                    for a in args {
                        values.push(self.expr(scope, a, env)?);
                    }
                    self.ext_function(name, values, span)
                }
            },
            ExprKind::Set(items) => {
                let mut terms = Vec::new();
                for i in items {
                    terms.push(self.expr(scope, i, env)?);
                }
                self.set_literal(terms, span)
            }
            ExprKind::Record(entries) => {
                let mut terms = Vec::new();
                for (k, v) in entries {
                    terms.push((k.clone(), self.expr(scope, v, env)?));
                }
                Ok(attrs::record_literal(terms))
            }
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
