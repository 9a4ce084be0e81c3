//! Expression typing in one request environment: Cedar's strict typing
//! rules, with `has` facts ("capabilities") carried through `&&`, `||` and
//! `if`, boolean singletons that cut off branches that cannot run, and mspl's
//! quantifiers. Operators that need the schema (`in`, methods, extension
//! calls, rule calls) are in [`super::ops`].

use super::error::{Problem, ValidationError as E};
use super::types::{Ty, Want};
use super::Declared;
use crate::syntax::ast::{BinOp, EntityUid, Expr, ExprKind, Literal, Name, Quantifier, Var};
use crate::syntax::Span;
use smol_str::SmolStr;
use std::collections::HashMap;

/// A fact learnt from a guard that held: an attribute or a tag is present.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cap {
    /// `e has a` held.
    Attr(Expr, SmolStr),
    /// `e.hasTag(k)` held.
    Tag(Expr, Expr),
}

/// Facts known to hold where an expression is evaluated.
pub(crate) type Caps = Vec<Cap>;

fn union(a: &Caps, b: &Caps) -> Caps {
    let mut out = a.clone();
    for c in b {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

fn intersect(a: &Caps, b: &Caps) -> Caps {
    a.iter().filter(|c| b.contains(c)).cloned().collect()
}

/// The answer for one expression: its type (`None` when unknown after an
/// error), whether it checked without error, and the facts that hold when it
/// evaluates to `true`.
#[derive(Clone, Debug)]
pub(crate) struct Ans {
    /// The type, `None` when an error left it unknown.
    pub ty: Option<Ty>,
    /// Whether the expression checked without error.
    pub ok: bool,
    /// The facts that hold when the expression evaluates to `true`.
    pub caps: Caps,
}

impl Ans {
    /// A success of type `ty`.
    pub fn good(ty: Ty) -> Ans {
        Ans {
            ty: Some(ty),
            ok: true,
            caps: Vec::new(),
        }
    }

    /// A failure, with the type it has anyway where known.
    pub fn bad(ty: Option<Ty>) -> Ans {
        Ans {
            ty,
            ok: false,
            caps: Vec::new(),
        }
    }

    /// An answer; a failure keeps no facts.
    pub fn with(ty: Option<Ty>, ok: bool, caps: Caps) -> Ans {
        Ans {
            ty,
            ok,
            caps: if ok { caps } else { Vec::new() },
        }
    }

    /// Whether the expression is always `false`.
    pub fn is_false(&self) -> bool {
        self.ty == Some(Ty::False)
    }
}

/// One request environment: the types of the four request variables.
#[derive(Clone, Debug)]
pub(crate) struct Env {
    /// The principal's entity type.
    pub principal: Name,
    /// The action.
    pub action: EntityUid,
    /// The resource's entity type.
    pub resource: Name,
    /// The context's record type.
    pub context: Ty,
}

/// A literal value, for deciding `==` between literals.
#[derive(PartialEq)]
pub(crate) enum Lit<'a> {
    Bool(bool),
    Long(i64),
    Str(&'a str),
    Uid(&'a EntityUid),
}

/// Types expressions for one environment, collecting problems.
pub(crate) struct TypeChecker<'a> {
    /// The declarations.
    pub index: &'a Declared<'a>,
    /// The request environment.
    pub env: &'a Env,
    /// What was found so far.
    pub problems: Vec<Problem>,
    /// Types of the locals of all active frames; a frame starts at `base`.
    pub locals: Vec<Ty>,
    /// Where the current frame's locals start.
    pub base: usize,
    depth: u32,
    /// Rule calls being checked, with their argument types.
    pub stack: Vec<(u32, Vec<Ty>)>,
    /// Results of rule calls already checked in this environment.
    pub memo: HashMap<(u32, Vec<Ty>), Ans>,
    /// The outermost rule call being checked and a note naming the instance.
    pub call_site: Option<(Span, String)>,
    /// A note naming the rule instance being checked.
    pub rule_note: Option<String>,
    /// Whether `in` results are recorded (conditions, not scopes).
    pub track_in: bool,
    /// For each `in` (by span): whether it was ever possibly true, and the
    /// types of its operands when it was not.
    pub in_results: HashMap<(usize, u32, u32), (bool, String, String)>,
    /// Rules whose bodies were checked at least once.
    pub checked_rules: Vec<u32>,
    /// When kept, the place of every expression typed (`tool_rules`).
    pub visited: Option<std::collections::HashSet<(usize, u32, u32)>>,
}

impl<'a> TypeChecker<'a> {
    /// A checker for `env`.
    pub fn new(index: &'a Declared<'a>, env: &'a Env) -> TypeChecker<'a> {
        TypeChecker {
            index,
            env,
            problems: Vec::new(),
            locals: Vec::new(),
            base: 0,
            depth: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
            call_site: None,
            rule_note: None,
            track_in: false,
            in_results: HashMap::new(),
            checked_rules: Vec::new(),
            visited: None,
        }
    }

    /// Records a problem at `span`, with the rule call being checked.
    pub fn err(&mut self, error: E, span: Span) {
        let mut p = Problem::new(error, span);
        p.secondary = self.call_site.clone();
        p.note = self.rule_note.clone();
        self.problems.push(p);
    }

    /// Types `e`; the facts in `prior` hold where it is evaluated.
    pub fn check(&mut self, prior: &Caps, e: &Expr) -> Ans {
        if let Some(v) = &mut self.visited {
            v.insert((e.span.file, e.span.start, e.span.end));
        }
        self.depth += 1;
        let ans = if self.depth % 16 == 0 {
            crate::limits::with_stack(|| self.check_inner(prior, e))
        } else {
            self.check_inner(prior, e)
        };
        self.depth -= 1;
        Ans::with(ans.ty, ans.ok, ans.caps)
    }

    /// Types `e` and requires `want` of it; `help` may explain a mismatch.
    pub fn expect(
        &mut self,
        prior: &Caps,
        e: &Expr,
        want: Want,
        help: impl FnOnce(&Ty) -> Option<String>,
    ) -> Ans {
        let ans = self.check(prior, e);
        match &ans.ty {
            Some(t) if !want.accepts(t) => {
                let help = help(t);
                self.err(
                    E::UnexpectedType {
                        expected: want.to_string(),
                        found: t.clone(),
                        help,
                    },
                    e.span,
                );
                Ans::bad(None)
            }
            None => Ans::bad(None),
            Some(_) => ans,
        }
    }

    /// Types `e` as a boolean.
    pub fn boolean(&mut self, prior: &Caps, e: &Expr) -> Ans {
        self.expect(prior, e, Want::Bool, |_| None)
    }

    /// One step of `acc && next`; the second value says the chain stopped
    /// (the left is known false, so `next` is never evaluated).
    pub fn and_step(&mut self, prior: &Caps, acc: Ans, next: &Expr) -> (Ans, bool) {
        if acc.is_false() {
            return (Ans::with(Some(Ty::False), acc.ok, Vec::new()), true);
        }
        let right = self.boolean(&union(prior, &acc.caps), next);
        let ok = acc.ok && right.ok;
        let ans = match (&acc.ty, &right.ty) {
            (Some(_), Some(Ty::False)) => Ans::with(Some(Ty::False), ok, Vec::new()),
            (Some(l), Some(Ty::True)) => {
                Ans::with(Some(l.clone()), ok, union(&acc.caps, &right.caps))
            }
            // Cedar keeps only the right's facts here.
            (Some(Ty::True), Some(r)) => Ans::with(Some(r.clone()), ok, right.caps),
            (Some(_), Some(_)) => Ans::with(Some(Ty::Bool), ok, union(&acc.caps, &right.caps)),
            _ => Ans::bad(Some(Ty::Bool)),
        };
        (ans, false)
    }

    fn or_step(&mut self, prior: &Caps, acc: Ans, next: &Expr) -> (Ans, bool) {
        if acc.ty == Some(Ty::True) {
            return (acc, true);
        }
        let right = self.boolean(prior, next);
        let ok = acc.ok && right.ok;
        let ans = match (&acc.ty, &right.ty) {
            (Some(_), Some(Ty::True)) => Ans::with(Some(Ty::True), ok, right.caps),
            (Some(l), Some(Ty::False)) => Ans::with(Some(l.clone()), ok, acc.caps),
            (Some(Ty::False), Some(r)) => Ans::with(Some(r.clone()), ok, right.caps),
            (Some(_), Some(_)) => Ans::with(Some(Ty::Bool), ok, intersect(&acc.caps, &right.caps)),
            _ => Ans::bad(Some(Ty::Bool)),
        };
        (ans, false)
    }

    /// The literal `e` stands for, with `action` read as this environment's action.
    pub fn literal<'e>(&'e self, e: &'e Expr) -> Option<Lit<'e>> {
        match &e.kind {
            ExprKind::Lit(Literal::Bool(b)) => Some(Lit::Bool(*b)),
            ExprKind::Lit(Literal::Long(n)) => Some(Lit::Long(*n)),
            ExprKind::Lit(Literal::String(s)) => Some(Lit::Str(s)),
            ExprKind::Entity(uid) => Some(Lit::Uid(uid)),
            ExprKind::Var(Var::Action) => Some(Lit::Uid(&self.env.action)),
            _ => None,
        }
    }

    fn check_inner(&mut self, prior: &Caps, e: &Expr) -> Ans {
        match &e.kind {
            ExprKind::Error => Ans::bad(None),
            ExprKind::Lit(Literal::Bool(b)) => Ans::good(Ty::singleton(*b)),
            ExprKind::Lit(Literal::Long(_)) => Ans::good(Ty::Long),
            ExprKind::Lit(Literal::String(_)) => Ans::good(Ty::String),
            // Unknown types and actions are reported once per policy by the
            // literal checks, not here in every environment.
            ExprKind::Entity(uid) => match self.index.literal_type(uid) {
                Some(t) => Ans::good(t),
                None => Ans::bad(None),
            },
            ExprKind::Var(v) => Ans::good(match v {
                Var::Principal => Ty::Entity(self.env.principal.clone()),
                Var::Resource => Ty::Entity(self.env.resource.clone()),
                Var::Action => Ty::Entity(self.env.action.ty.clone()),
                Var::Context => self.env.context.clone(),
            }),
            ExprKind::Local(local, _) => match self.locals.get(self.base + *local as usize) {
                Some(t) => Ans::good(t.clone()),
                None => Ans::bad(None),
            },
            ExprKind::If(c, a, b) => self.check_if(prior, e, c, a, b),
            ExprKind::And(items) => {
                let Some((first, rest)) = items.split_first() else {
                    return Ans::good(Ty::True);
                };
                let mut acc = self.boolean(prior, first);
                for next in rest {
                    let (a, stop) = self.and_step(prior, acc, next);
                    acc = a;
                    if stop {
                        break;
                    }
                }
                acc
            }
            ExprKind::Or(items) => {
                let Some((first, rest)) = items.split_first() else {
                    return Ans::good(Ty::False);
                };
                let mut acc = self.boolean(prior, first);
                for next in rest {
                    let (a, stop) = self.or_step(prior, acc, next);
                    acc = a;
                    if stop {
                        break;
                    }
                }
                acc
            }
            ExprKind::Not(a) => {
                let t = self.boolean(prior, a);
                let ty = match t.ty {
                    Some(Ty::True) => Ty::False,
                    Some(Ty::False) => Ty::True,
                    _ => Ty::Bool,
                };
                Ans::with(Some(ty), t.ok && t.ty.is_some(), Vec::new())
            }
            ExprKind::Neg(a) => {
                let t = self.expect(prior, a, Want::Long, |_| None);
                Ans::with(Some(Ty::Long), t.ok, Vec::new())
            }
            ExprKind::Binary(op, a, b) => self.binary(prior, e, *op, a, b),
            ExprKind::Has(obj, path) => self.has(prior, e, obj, path),
            ExprKind::Like(a, _) => {
                let t = self.expect(prior, a, Want::String, |t| {
                    matches!(t, Ty::Entity(_))
                        .then(|| "try using `is` to test an entity's type".into())
                });
                Ans::with(Some(Ty::Bool), t.ok, Vec::new())
            }
            ExprKind::Is(obj, ty, None) => {
                let t = self.expect(prior, obj, Want::Entity, |_| {
                    Some("`is` tests the type of an entity".into())
                });
                match t.ty {
                    Some(Ty::Entity(actual)) => Ans::good(Ty::singleton(actual == *ty)),
                    _ => Ans::bad(Some(Ty::Bool)),
                }
            }
            ExprKind::Is(obj, ty, Some(within)) => {
                // `e is T in f` is `e is T && e in f`.
                let is = Expr::new(ExprKind::Is(obj.clone(), ty.clone(), None), e.span);
                let is_in = Expr::new(
                    ExprKind::Binary(BinOp::In, obj.clone(), within.clone()),
                    e.span,
                );
                let first = self.boolean(prior, &is);
                self.and_step(prior, first, &is_in).0
            }
            ExprKind::GetAttr(obj, attr) => self.get_attr(prior, e, obj, attr),
            ExprKind::Method(recv, name, args) => self.method(prior, e, recv, name, args),
            ExprKind::Call { name, args, target } => self.call(prior, e, name, args, *target),
            ExprKind::Set(items) => self.set_literal(prior, e, items),
            ExprKind::Record(entries) => {
                let mut ok = true;
                let mut attrs = std::collections::BTreeMap::new();
                let mut known = true;
                for (k, v) in entries {
                    let t = self.check(prior, v);
                    ok &= t.ok;
                    match t.ty {
                        Some(ty) => {
                            attrs.insert(k.clone(), super::types::Attr { ty, required: true });
                        }
                        None => known = false,
                    }
                }
                let ty = known.then(|| Ty::Record(std::sync::Arc::new(attrs)));
                Ans::with(ty.clone(), ok && ty.is_some(), Vec::new())
            }
            ExprKind::Quantified {
                quantifier,
                local,
                set,
                body,
                ..
            } => {
                let s = self.expect(prior, set, Want::Set, |_| None);
                let element = match &s.ty {
                    Some(Ty::Set(t)) => Some((**t).clone()),
                    Some(Ty::Never) => Some(Ty::Never),
                    _ => None,
                };
                let Some(element) = element else {
                    return Ans::bad(Some(Ty::Bool));
                };
                let at = self.base + *local as usize;
                self.locals.truncate(at);
                self.locals.push(element);
                let b = self.boolean(prior, body);
                self.locals.truncate(at);
                let ty = match (quantifier, &b.ty) {
                    (Quantifier::Any, Some(Ty::False)) => Ty::False,
                    (Quantifier::All, Some(Ty::True)) => Ty::True,
                    _ => Ty::Bool,
                };
                Ans::with(Some(ty), s.ok && b.ok, Vec::new())
            }
        }
    }

    fn check_if(&mut self, prior: &Caps, e: &Expr, c: &Expr, a: &Expr, b: &Expr) -> Ans {
        let test = self.boolean(prior, c);
        match test.ty {
            Some(Ty::True) => {
                let then = self.check(&union(prior, &test.caps), a);
                Ans::with(then.ty, test.ok && then.ok, union(&then.caps, &test.caps))
            }
            Some(Ty::False) => {
                let other = self.check(prior, b);
                Ans::with(other.ty, test.ok && other.ok, other.caps)
            }
            _ => {
                let then = self.check(&union(prior, &test.caps), a);
                let then_caps = union(&then.caps, &test.caps);
                let other = self.check(prior, b);
                let ok = test.ok && then.ok && other.ok;
                match (&then.ty, &other.ty) {
                    (Some(x), Some(y)) => match Ty::lub(x, y) {
                        Ok(t) => Ans::with(Some(t), ok, intersect(&other.caps, &then_caps)),
                        Err(why) => {
                            self.err(
                                E::IncompatibleTypes {
                                    types: vec![x.clone(), y.clone()],
                                    why,
                                    context: "the branches of this `if`",
                                },
                                e.span,
                            );
                            Ans::bad(None)
                        }
                    },
                    _ => Ans::bad(None),
                }
            }
        }
    }

    fn binary(&mut self, prior: &Caps, e: &Expr, op: BinOp, a: &Expr, b: &Expr) -> Ans {
        match op {
            BinOp::Eq | BinOp::Ne => {
                let l = self.check(prior, a);
                let r = self.check(prior, b);
                let ok = l.ok && r.ok;
                let ty = match (&l.ty, &r.ty) {
                    (Some(x), Some(y)) if Ty::disjoint(x, y) => Ty::False,
                    _ => match (self.literal(a), self.literal(b)) {
                        (Some(x), Some(y)) => Ty::singleton(x == y),
                        _ => Ty::Bool,
                    },
                };
                let mut good = ok;
                if ty == Ty::Bool {
                    if let (Some(x), Some(y)) = (&l.ty, &r.ty) {
                        if let Err(why) = Ty::lub(x, y) {
                            self.err(
                                E::IncompatibleTypes {
                                    types: vec![x.clone(), y.clone()],
                                    why,
                                    context: "the operands of this comparison",
                                },
                                e.span,
                            );
                            good = false;
                        }
                    }
                }
                let ty = match (op, ty) {
                    (BinOp::Ne, Ty::True) => Ty::False,
                    (BinOp::Ne, Ty::False) => Ty::True,
                    (_, t) => t,
                };
                Ans::with(Some(ty), good, Vec::new())
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => self.ordering(prior, a, b),
            BinOp::Add | BinOp::Sub | BinOp::Mul => {
                let help = |t: &Ty| {
                    match (op, t) {
                    (BinOp::Add, Ty::String) => Some("string concatenation is not supported".into()),
                    (_, Ty::Set(_)) => Some("set operations are methods: `.contains()`, `.containsAll()`, `.containsAny()`".into()),
                    _ => None,
                }
                };
                let l = self.expect(prior, a, Want::Long, help);
                let r = self.expect(prior, b, Want::Long, help);
                Ans::with(Some(Ty::Long), l.ok && r.ok, Vec::new())
            }
            BinOp::In => self.check_in(prior, e, a, b),
        }
    }

    fn has(&mut self, prior: &Caps, e: &Expr, obj: &Expr, path: &[SmolStr]) -> Ans {
        if path.len() > 1 {
            // `e has a.b` is `e has a && e.a has b`.
            let mut steps = Vec::new();
            let mut current = obj.clone();
            for attr in path {
                steps.push(Expr::new(
                    ExprKind::Has(Box::new(current.clone()), vec![attr.clone()]),
                    e.span,
                ));
                current = Expr::new(ExprKind::GetAttr(Box::new(current), attr.clone()), e.span);
            }
            return self.check(prior, &Expr::new(ExprKind::And(steps), e.span));
        }
        let Some(attr) = path.first() else {
            return Ans::good(Ty::True);
        };
        let t = self.expect(prior, obj, Want::EntityOrRecord, |t| match t {
            Ty::Set(_) => Some("try `.contains()` to test a set's elements".into()),
            Ty::String => Some("try `like` to test a string".into()),
            _ => None,
        });
        let Some(ty) = t.ty else {
            return Ans::bad(Some(Ty::Bool));
        };
        let cap = Cap::Attr(obj.clone(), attr.clone());
        let known = prior.contains(&cap);
        match self.index.attr_of(&ty, attr) {
            Some(a) => {
                let is_record = matches!(ty, Ty::Record(_));
                let sure = known || (a.required && is_record);
                Ans::with(
                    Some(if sure { Ty::True } else { Ty::Bool }),
                    true,
                    vec![cap],
                )
            }
            None => Ans::good(if ty == Ty::Never { Ty::Bool } else { Ty::False }),
        }
    }

    fn get_attr(&mut self, prior: &Caps, e: &Expr, obj: &Expr, attr: &SmolStr) -> Ans {
        let t = self.expect(prior, obj, Want::EntityOrRecord, |_| None);
        let Some(ty) = t.ty else {
            return Ans::bad(None);
        };
        match self.index.attr_of(&ty, attr) {
            Some(a) if a.required || prior.contains(&Cap::Attr(obj.clone(), attr.clone())) => {
                Ans::with(Some(a.ty), t.ok, Vec::new())
            }
            Some(a) => {
                self.err(
                    E::UnsafeOptionalAttribute {
                        attr: attr.to_string(),
                        on: ty.to_string(),
                    },
                    e.span,
                );
                Ans::bad(Some(a.ty))
            }
            None if ty == Ty::Never => Ans::with(Some(Ty::Never), t.ok, Vec::new()),
            None => {
                let names = self.index.attr_names(&ty);
                let suggestion = crate::suggest::closest(attr, names.iter().map(|s| s.as_str()));
                self.err(
                    E::AttributeNotFound {
                        attr: attr.to_string(),
                        on: ty.to_string(),
                        suggestion,
                    },
                    e.span,
                );
                Ans::bad(None)
            }
        }
    }
}
