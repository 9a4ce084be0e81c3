//! The tree-walking interpreter.
//!
//! [`Evaluator::eval`] is the outer entry: it checks the step budget and the
//! stack, then hands over to the private `eval_inner`, which holds the big
//! `match` and uses `?` freely. The [`Tracer`] parameter is a compile-time
//! choice: [`NoTrace`] compiles to nothing on the decision path; a recording
//! tracer sees every rule call and clause for explanations.

mod in_place;

use super::error::{type_error, EvalError, EvalErrorKind};
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{BinOp, CallTarget, EntityUid, Expr, ExprKind, Literal, Quantifier, Var};
use crate::syntax::Span;
use crate::value::ext::{self, ExtArg, ExtOutput};
use crate::value::Value;
use in_place::{Part, Peek};
use std::collections::BTreeSet;
use std::sync::Arc;

/// How many steps pass between two looks at the deadline.
pub const DEADLINE_EVERY: u64 = 4096;

/// Observes evaluation. Every method has an empty default.
pub trait Tracer {
    /// A rule call begins.
    fn rule_enter(&mut self, _rule: u32, _args: &[Value], _span: Span) {}
    /// One clause of the current call has been evaluated.
    fn rule_clause(&mut self, _rule: u32, _clause: usize, _result: &Result<Value, EvalError>) {}
    /// The current call ends.
    fn rule_exit(&mut self, _rule: u32, _result: &Result<Value, EvalError>) {}
    /// A request variable is read (in place or as a copy): what the audit's
    /// memo learns an outcome depends on.
    fn read_var(&mut self, _var: Var) {}
    /// A request variable is read in place only to look up its attribute
    /// `attr` (`resource.workspace`, `resource has owner`): what the
    /// evaluation learns of it is that attribute's value, or that it is
    /// absent. By default, a read of the variable.
    fn read_var_attr(&mut self, var: Var, _attr: &str) {
        self.read_var(var)
    }
    /// A request variable is read in place only for its entity type
    /// (`principal is RamUser`). By default, a read of the variable.
    fn read_var_type(&mut self, var: Var) {
        self.read_var(var)
    }
    /// The principal, read in place, is tested with `in` against one
    /// entity, whose node in the store is `target` (`None` where it has
    /// none): all the evaluation learns of the principal there is whether
    /// it is that entity or below it. Reported only where the tracer
    /// follows the principal; by default, a read of the principal.
    fn read_principal_in(&mut self, _target: Option<u32>) {
        self.read_var(Var::Principal)
    }
    /// Whether the principal is followed into rule calls: passed as an
    /// argument it is not read, and a local holding it reports its reads
    /// as reads of the principal (whole, one attribute, or its type).
    const FOLLOWS_PRINCIPAL: bool = false;
}

/// The tracer of the decision path: records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;
impl Tracer for NoTrace {}

/// Evaluates expressions for one request.
pub struct Evaluator<'a, T: Tracer = NoTrace> {
    set: &'a PolicySet,
    entities: &'a Entities,
    request: &'a Request,
    limits: &'a Limits,
    steps: u64,
    /// The most steps this evaluation may take: the per-policy limit, or
    /// less when the request's budget has less left ([`Self::cap_steps`]).
    budget: u64,
    /// Whether `budget` is what the request's budget has left (not more than
    /// the per-policy limit): going past it then spends the request.
    request_capped: bool,
    /// Current recursion depth of `eval`.
    depth: u32,
    /// Locals of all active frames; a frame's slots start at `frame_base`.
    locals: Vec<Value>,
    frame_base: usize,
    /// A value stack: the arguments of active rule calls and method calls,
    /// and the elements of set literals consumed in place, so that none of
    /// them needs a vector of its own.
    stack: Vec<Value>,
    /// Active rule calls, for cycle detection: the rule and where its
    /// arguments stand in `locals` (its frame's parameters).
    calls: Vec<(u32, usize, usize)>,
    /// Whether the in-place fast path (`in_place.rs`) is on: the default;
    /// off only to check it against the plain evaluation.
    in_place: bool,
    /// When the request must be abandoned (`mspl serve`), checked every
    /// [`DEADLINE_EVERY`] steps.
    deadline: Option<std::time::Instant>,
    /// The tracer.
    pub tracer: T,
}

/// An evaluator's buffers, kept between evaluators so that the decision path
/// allocates nothing once they have grown ([`Evaluator::with_buffers`]).
#[derive(Debug, Default)]
pub struct Buffers {
    locals: Vec<Value>,
    stack: Vec<Value>,
    calls: Vec<(u32, usize, usize)>,
}

impl<'a> Evaluator<'a, NoTrace> {
    /// An evaluator without tracing.
    pub fn new(
        set: &'a PolicySet,
        entities: &'a Entities,
        request: &'a Request,
        limits: &'a Limits,
    ) -> Self {
        Evaluator::with_tracer(set, entities, request, limits, NoTrace)
    }
}

impl<'a, T: Tracer> Evaluator<'a, T> {
    /// An evaluator that reports to `tracer`.
    pub fn with_tracer(
        set: &'a PolicySet,
        entities: &'a Entities,
        request: &'a Request,
        limits: &'a Limits,
        tracer: T,
    ) -> Self {
        Evaluator {
            set,
            entities,
            request,
            limits,
            steps: 0,
            budget: limits.max_steps,
            request_capped: false,
            depth: 0,
            locals: Vec::new(),
            frame_base: 0,
            stack: Vec::new(),
            calls: Vec::new(),
            in_place: true,
            deadline: None,
            tracer,
        }
    }

    /// An evaluator that reuses `buffers` (emptied first).
    pub fn with_buffers(
        set: &'a PolicySet,
        entities: &'a Entities,
        request: &'a Request,
        limits: &'a Limits,
        tracer: T,
        buffers: Buffers,
    ) -> Self {
        let mut eval = Evaluator::with_tracer(set, entities, request, limits, tracer);
        eval.locals = buffers.locals;
        eval.stack = buffers.stack;
        eval.calls = buffers.calls;
        eval.reset();
        eval
    }

    /// Gives back the buffers, for the next evaluator.
    pub fn into_buffers(mut self) -> Buffers {
        self.reset();
        Buffers {
            locals: self.locals,
            stack: self.stack,
            calls: self.calls,
        }
    }

    /// Returns to the state of a new evaluator (step count included), keeping
    /// the buffers' capacity: each policy is judged as by a fresh evaluator.
    pub fn reset(&mut self) {
        self.steps = 0;
        self.budget = self.limits.max_steps;
        self.request_capped = false;
        self.depth = 0;
        self.locals.clear();
        self.frame_base = 0;
        self.stack.clear();
        self.calls.clear();
    }

    /// Turns the in-place fast path on (the default) or off. Off, every
    /// expression is evaluated the plain way: the reference the fast path
    /// must agree with, in values, errors and steps (`tests/decisions/index.rs`).
    pub fn set_in_place(&mut self, on: bool) {
        self.in_place = on;
    }

    /// Abandons the evaluation with [`EvalErrorKind::Deadline`] once
    /// `deadline` has passed (looked at every [`DEADLINE_EVERY`] steps, as
    /// regorus' execution timer does: a deadline bounds the work itself).
    pub fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        self.deadline = deadline;
    }

    /// The steps taken since the last [`Self::reset`].
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Lets this evaluation take at most `left` steps (what the request's
    /// budget has left) when that is less than the per-policy limit; going
    /// past it raises [`EvalErrorKind::RequestStepLimit`].
    pub fn cap_steps(&mut self, left: u64) {
        self.budget = self.limits.max_steps.min(left);
        self.request_capped = left <= self.limits.max_steps;
    }

    /// The entity store.
    pub fn entities(&self) -> &'a Entities {
        self.entities
    }

    /// The request.
    pub fn request(&self) -> &'a Request {
        self.request
    }

    /// Binds `values` as locals 0..n of a fresh frame (for evaluating a rule
    /// body or a REPL expression with bound names).
    pub fn bind_locals(&mut self, values: Vec<Value>) {
        self.locals = values;
        self.frame_base = 0;
    }

    /// Counts one evaluation step for the expression at `span`.
    #[inline]
    fn step(&mut self, span: Span) -> Result<(), EvalError> {
        self.steps = self.steps.saturating_add(1);
        if self.steps % DEADLINE_EVERY == 0 {
            if let Some(deadline) = self.deadline {
                if std::time::Instant::now() >= deadline {
                    return Err(EvalError {
                        kind: EvalErrorKind::Deadline,
                        span,
                    });
                }
            }
        }
        if self.steps > self.budget {
            // Both limits reached at once: the request's budget is spent,
            // and that denies whatever the error mode.
            if self.request_capped {
                return Err(EvalError {
                    kind: EvalErrorKind::RequestStepLimit {
                        limit: self.limits.max_request_steps,
                    },
                    span,
                });
            }
            return Err(EvalError {
                kind: EvalErrorKind::StepLimit {
                    limit: self.limits.max_steps,
                    rule: self
                        .calls
                        .last()
                        .and_then(|(r, _, _)| self.set.rules.get(*r as usize))
                        .map(|def| def.name.to_string()),
                },
                span,
            });
        }
        Ok(())
    }

    /// Evaluates `expr`.
    pub fn eval(&mut self, expr: &Expr) -> Result<Value, EvalError> {
        self.step(expr.span)?;
        // Expression nesting is bounded by the parser's limit, but rule
        // bodies stack on one another: check the stack every few levels,
        // starting at the first, so that a caller's small thread stack is
        // left at once (a debug frame of `eval_inner` is large).
        self.depth += 1;
        let result = if self.depth % 16 == 1 {
            crate::limits::with_stack(|| self.eval_inner(expr))
        } else {
            self.eval_inner(expr)
        };
        self.depth -= 1;
        result
    }

    /// Evaluates `expr`, which must be a boolean; `what` names it in errors.
    pub fn eval_bool(&mut self, expr: &Expr, what: &str) -> Result<bool, EvalError> {
        match self.eval(expr)? {
            Value::Bool(b) => Ok(b),
            other => Err(type_error(what, "bool", other.type_name(), expr.span)),
        }
    }

    fn eval_inner(&mut self, expr: &Expr) -> Result<Value, EvalError> {
        let span = expr.span;
        Ok(match &expr.kind {
            ExprKind::Lit(Literal::Bool(b)) => Value::Bool(*b),
            ExprKind::Lit(Literal::Long(n)) => Value::Long(*n),
            ExprKind::Lit(Literal::String(s)) => Value::String(s.clone()),
            ExprKind::Entity(uid) => Value::Entity(uid.clone()),
            ExprKind::Var(v) => {
                self.tracer.read_var(*v);
                match v {
                    Var::Principal => Value::Entity(self.request.principal.clone()),
                    Var::Action => Value::Entity(self.request.action.clone()),
                    Var::Resource => Value::Entity(self.request.resource.clone()),
                    Var::Context => self.request.context.clone(),
                }
            }
            ExprKind::Local(local, name) => {
                let value = self
                    .locals
                    .get(self.frame_base + *local as usize)
                    .cloned()
                    .ok_or_else(|| EvalError {
                        kind: EvalErrorKind::Internal {
                            what: format!("the local `{name}` is not bound"),
                        },
                        span,
                    })?;
                if self.is_principal(&value) {
                    self.tracer.read_var(Var::Principal);
                }
                value
            }
            ExprKind::Error => {
                return Err(EvalError {
                    kind: EvalErrorKind::Internal {
                        what: "an expression that did not parse was evaluated".into(),
                    },
                    span,
                })
            }
            ExprKind::If(c, a, b) => {
                if self.eval_bool(c, "`if`")? {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            ExprKind::And(items) => {
                for x in items {
                    if !self.eval_bool(x, "`&&`")? {
                        return Ok(Value::Bool(false));
                    }
                }
                Value::Bool(true)
            }
            ExprKind::Or(items) => {
                for x in items {
                    if self.eval_bool(x, "`||`")? {
                        return Ok(Value::Bool(true));
                    }
                }
                Value::Bool(false)
            }
            ExprKind::Not(a) => Value::Bool(!self.eval_bool(a, "`!`")?),
            ExprKind::Neg(a) => {
                let n = self.long(a, "`-`")?;
                Value::Long(
                    n.checked_neg()
                        .ok_or_else(|| overflow(format!("-({n})"), span))?,
                )
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, span)?,
            ExprKind::Has(e, path) => {
                let owned;
                let mut current =
                    if self.in_place && self.peekable_for(e, path.first().map(|a| a.as_str()))? {
                        self.peek(e)
                    } else {
                        owned = self.eval(e)?;
                        Peek::Value(&owned)
                    };
                for name in path {
                    let next = match current {
                        Peek::Uid(uid) | Peek::Value(Value::Entity(uid)) => {
                            match self.entities.get(uid) {
                                Some(data) => data.attrs.get(name),
                                None => None,
                            }
                        }
                        Peek::Value(Value::Record(r)) => r.get(name),
                        Peek::Value(other) => {
                            return Err(type_error(
                                "`has`",
                                "entity or record",
                                other.type_name(),
                                span,
                            ))
                        }
                    };
                    match next {
                        Some(v) => current = Peek::Value(v),
                        None => return Ok(Value::Bool(false)),
                    }
                }
                Value::Bool(true)
            }
            ExprKind::Like(e, pattern) => match self.eval(e)? {
                Value::String(s) => Value::Bool(super::like::matches(pattern, &s)),
                other => return Err(type_error("`like`", "string", other.type_name(), e.span)),
            },
            ExprKind::Is(e, ty, None) if self.in_place && self.peekable_as(e, Part::Type)? => match self.peek(e) {
                Peek::Uid(uid) | Peek::Value(Value::Entity(uid)) => Value::Bool(uid.ty == *ty),
                Peek::Value(other) => {
                    return Err(type_error("`is`", "entity", other.type_name(), e.span))
                }
            },
            ExprKind::Is(e, ty, within) => {
                let uid = match self.eval(e)? {
                    Value::Entity(uid) => uid,
                    other => return Err(type_error("`is`", "entity", other.type_name(), e.span)),
                };
                // `e is T in X` is Cedar's `e is T && e in X`: `X` is not
                // evaluated (and cannot err) when `e` is not a `T`.
                match within {
                    Some(w) if uid.ty == *ty => {
                        let rhs = self.eval(w)?;
                        Value::Bool(self.is_in(&uid, &rhs, w.span)?)
                    }
                    _ => Value::Bool(uid.ty == *ty),
                }
            }
            ExprKind::GetAttr(e, attr) => {
                if self.in_place && self.peekable_for(e, Some(attr))? {
                    match self.peek(e) {
                        Peek::Uid(uid) => self.entity_attr(uid, attr, span)?,
                        Peek::Value(v) => self.get_attr(v, attr, span)?,
                    }
                } else {
                    let v = self.eval(e)?;
                    self.get_attr(&v, attr, span)?
                }
            }
            ExprKind::Method(recv, name, args) => self.method(recv, name, args, span)?,
            ExprKind::Call { name, args, target } => {
                let follow = T::FOLLOWS_PRINCIPAL && matches!(target, CallTarget::Rule(_));
                let start = self.push_values(args, follow)?;
                let result = match target {
                    CallTarget::Rule(i) => self.call_rule(*i, start, span),
                    _ => pushed(&self.stack, start, span).and_then(|values| {
                        with_ext_args(values, |ext_args| {
                            ext_output(ext::call_function(name, ext_args), span)
                        })
                    }),
                };
                self.stack.truncate(start);
                result?
            }
            ExprKind::Set(items) => {
                if items.len() > self.limits.max_set_size {
                    return Err(EvalError {
                        kind: EvalErrorKind::SetTooLarge {
                            limit: self.limits.max_set_size,
                        },
                        span,
                    });
                }
                let mut set = BTreeSet::new();
                for i in items {
                    set.insert(self.eval(i)?);
                }
                Value::Set(Arc::new(set))
            }
            ExprKind::Record(entries) => {
                let mut map = std::collections::BTreeMap::new();
                for (k, v) in entries {
                    map.insert(k.clone(), self.eval(v)?);
                }
                Value::Record(Arc::new(map))
            }
            ExprKind::Quantified {
                quantifier,
                local,
                set,
                body,
                ..
            } => {
                if let (true, ExprKind::Set(items)) = (self.in_place, &set.kind) {
                    return self.quantify_literal(*quantifier, *local, set, items, body);
                }
                let items = match self.eval(set)? {
                    Value::Set(s) => s,
                    other => {
                        let op = match quantifier {
                            Quantifier::Any => "`any`",
                            Quantifier::All => "`all`",
                        };
                        return Err(type_error(op, "set", other.type_name(), set.span));
                    }
                };
                let at = self.frame_base + *local as usize;
                let mut result = matches!(quantifier, Quantifier::All);
                for item in items.iter() {
                    self.locals.truncate(at);
                    self.locals.push(item.clone());
                    let holds = self.eval_bool(body, "a quantifier's body");
                    self.locals.truncate(at);
                    let holds = holds?;
                    if holds != result {
                        result = holds;
                        break;
                    }
                }
                Value::Bool(result)
            }
        })
    }

    fn long(&mut self, e: &Expr, op: &str) -> Result<i64, EvalError> {
        match self.eval(e)? {
            Value::Long(n) => Ok(n),
            other => Err(type_error(op, "long", other.type_name(), e.span)),
        }
    }

    /// Evaluates `exprs` onto the stack, returning where they start; on an
    /// error the stack is left as it was. With `follow` (a rule's
    /// arguments, where the tracer follows the principal), a request
    /// variable or a local passed as it is is not read here: the callee's
    /// reads of it are reported ([`Self::passed`]).
    fn push_values(&mut self, exprs: &[Expr], follow: bool) -> Result<usize, EvalError> {
        let start = self.stack.len();
        for e in exprs {
            let value = if follow { self.passed(e) } else { self.eval(e) };
            match value {
                Ok(v) => self.stack.push(v),
                Err(err) => {
                    self.stack.truncate(start);
                    return Err(err);
                }
            }
        }
        Ok(start)
    }

    /// The value of the argument `e` of a rule call: the principal or a
    /// local copied without a read (with the step its evaluation takes),
    /// anything else evaluated.
    fn passed(&mut self, e: &Expr) -> Result<Value, EvalError> {
        let value = match &e.kind {
            ExprKind::Var(Var::Principal) => Value::Entity(self.request.principal.clone()),
            ExprKind::Local(local, _) => match self.locals.get(self.frame_base + *local as usize) {
                Some(v) => v.clone(),
                None => return self.eval(e),
            },
            _ => return self.eval(e),
        };
        self.step(e.span)?;
        Ok(value)
    }

    /// Whether `value` is the request's principal, where the tracer
    /// follows it ([`Tracer::FOLLOWS_PRINCIPAL`]).
    #[inline]
    fn is_principal(&self, value: &Value) -> bool {
        T::FOLLOWS_PRINCIPAL && matches!(value, Value::Entity(uid) if *uid == self.request.principal)
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, span: Span) -> Result<Value, EvalError> {
        let literal_set = matches!(b.kind, ExprKind::Set(_));
        if self.in_place
            && (matches!(op, BinOp::Eq | BinOp::Ne) || (op == BinOp::In && !literal_set))
        {
            return self.compare_in_place(op, a, b);
        }
        let lhs = self.eval(a)?;
        if self.in_place && op == BinOp::In {
            if let ExprKind::Set(items) = &b.kind {
                let start = self.literal_set_in_place(b, items, true)?;
                let result = match lhs {
                    Value::Entity(uid) => self.is_in_values(&uid, start, b.span),
                    other => Err(type_error("`in`", "entity", other.type_name(), a.span)),
                };
                self.stack.truncate(start);
                return result.map(Value::Bool);
            }
        }
        let rhs = self.eval(b)?;
        // Only the error paths need the operator's name as text.
        let sym = || format!("`{}`", op.symbol());
        Ok(match op {
            BinOp::Eq => Value::Bool(lhs == rhs),
            BinOp::Ne => Value::Bool(lhs != rhs),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (&lhs, &rhs) {
                    (Value::Long(x), Value::Long(y)) => x.cmp(y),
                    (Value::Ext(x), Value::Ext(y)) => match ext::compare(x, y) {
                        Some(o) => o,
                        None => {
                            return Err(type_error(
                                sym(),
                                "long, datetime or duration operands of one type",
                                &format!("{} and {}", lhs.type_name(), rhs.type_name()),
                                span,
                            ))
                        }
                    },
                    (Value::Long(_), other) => {
                        return Err(type_error(sym(), "long", other.type_name(), b.span))
                    }
                    (other, _) => return Err(type_error(sym(), "long", other.type_name(), a.span)),
                };
                Value::Bool(match op {
                    BinOp::Lt => ord.is_lt(),
                    BinOp::Le => ord.is_le(),
                    BinOp::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
            BinOp::In => {
                let uid = match lhs {
                    Value::Entity(uid) => uid,
                    other => return Err(type_error("`in`", "entity", other.type_name(), a.span)),
                };
                Value::Bool(self.is_in(&uid, &rhs, b.span)?)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul => {
                let x = match lhs {
                    Value::Long(n) => n,
                    other => return Err(type_error(sym(), "long", other.type_name(), a.span)),
                };
                let y = match rhs {
                    Value::Long(n) => n,
                    other => return Err(type_error(sym(), "long", other.type_name(), b.span)),
                };
                let r = match op {
                    BinOp::Add => x.checked_add(y),
                    BinOp::Sub => x.checked_sub(y),
                    _ => x.checked_mul(y),
                };
                Value::Long(r.ok_or_else(|| overflow(format!("{x} {} {y}", op.symbol()), span))?)
            }
        })
    }

    /// `uid in [a, b]` with the literal's elements on the stack from `start`,
    /// sorted as the set would iterate: the same result and the same error
    /// as [`Self::is_in`] on the set.
    fn is_in_values(
        &self,
        uid: &crate::syntax::ast::EntityUid,
        start: usize,
        span: Span,
    ) -> Result<bool, EvalError> {
        self.is_in_any(uid, pushed(&self.stack, start, span)?, span)
    }

    /// `uid in [items…]`: every element must be an entity (checked for all,
    /// as Cedar does), and `uid` must be in one of them.
    fn is_in_any<'i>(
        &self,
        uid: &crate::syntax::ast::EntityUid,
        items: impl IntoIterator<Item = &'i Value>,
        span: Span,
    ) -> Result<bool, EvalError> {
        let mut found = false;
        for item in items {
            match item {
                Value::Entity(target) => found = found || self.entities.is_in(uid, target),
                other => {
                    return Err(type_error(
                        "`in`",
                        "entity or set of entities",
                        &format!("set containing {}", other.type_name()),
                        span,
                    ))
                }
            }
        }
        Ok(found)
    }

    /// `uid in rhs` where `rhs` is an entity or a set of entities.
    fn is_in(
        &self,
        uid: &crate::syntax::ast::EntityUid,
        rhs: &Value,
        span: Span,
    ) -> Result<bool, EvalError> {
        match rhs {
            Value::Entity(target) => Ok(self.entities.is_in(uid, target)),
            Value::Set(items) => self.is_in_any(uid, items.iter(), span),
            other => Err(type_error(
                "`in`",
                "entity or set of entities",
                other.type_name(),
                span,
            )),
        }
    }

    /// `uid.attr`.
    fn entity_attr(&self, uid: &EntityUid, attr: &str, span: Span) -> Result<Value, EvalError> {
        let data = self.entities.get(uid).ok_or_else(|| EvalError {
            kind: EvalErrorKind::EntityNotFound {
                uid: uid.to_string(),
            },
            span,
        })?;
        data.attrs.get(attr).cloned().ok_or_else(|| EvalError {
            kind: EvalErrorKind::MissingAttribute {
                attr: attr.to_string(),
                of: uid.to_string(),
                suggestion: crate::suggest::closest(attr, data.attrs.keys().map(|k| k.as_str())),
            },
            span,
        })
    }

    fn get_attr(&self, v: &Value, attr: &str, span: Span) -> Result<Value, EvalError> {
        let missing = |of: String, keys: Vec<&str>| EvalError {
            kind: EvalErrorKind::MissingAttribute {
                attr: attr.to_string(),
                of,
                suggestion: crate::suggest::closest(attr, keys),
            },
            span,
        };
        match v {
            Value::Entity(uid) => self.entity_attr(uid, attr, span),
            Value::Record(r) => r
                .get(attr)
                .cloned()
                .ok_or_else(|| missing("record".into(), r.keys().map(|k| k.as_str()).collect())),
            other => Err(type_error(
                format!("`.{attr}`"),
                "entity or record",
                other.type_name(),
                span,
            )),
        }
    }

    fn method(
        &mut self,
        recv: &Expr,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<Value, EvalError> {
        if let (true, ExprKind::Set(items)) = (self.in_place, &recv.kind) {
            if matches!(name, "contains" | "containsAll" | "containsAny") {
                return self.literal_set_method(recv, items, name, args, span);
            }
        }
        let receiver = self.eval(recv)?;
        let start = self.push_values(args, false)?;
        let result = self.apply_method(&receiver, recv, name, args, start, span);
        self.stack.truncate(start);
        result
    }

    /// `receiver.name(…)` with the argument values on the stack from `start`.
    fn apply_method(
        &self,
        receiver: &Value,
        recv: &Expr,
        name: &str,
        args: &[Expr],
        start: usize,
        span: Span,
    ) -> Result<Value, EvalError> {
        let values = pushed(&self.stack, start, span)?;
        // The argument count of every built-in method is the table's.
        let arity = |_: usize| -> Result<(), EvalError> {
            let n = crate::builtins::method(name).map_or(usize::MAX, |b| b.arguments());
            if values.len() == n {
                Ok(())
            } else {
                Err(EvalError {
                    kind: EvalErrorKind::Arity {
                        name: name.to_string(),
                        expected: n,
                        found: values.len(),
                    },
                    span,
                })
            }
        };
        // Only the error paths need the method's name as text.
        let op = || format!("`.{name}()`");
        match name {
            "contains" | "containsAll" | "containsAny" | "isEmpty" => {
                let set = match receiver {
                    Value::Set(s) => s,
                    other => return Err(type_error(op(), "set", other.type_name(), recv.span)),
                };
                match name {
                    "isEmpty" => {
                        arity(0)?;
                        Ok(Value::Bool(set.is_empty()))
                    }
                    "contains" => {
                        arity(1)?;
                        Ok(Value::Bool(set.contains(only(values, span)?)))
                    }
                    _ => {
                        arity(1)?;
                        let other = match only(values, span)? {
                            Value::Set(s) => s,
                            v => {
                                return Err(type_error(op(), "set", v.type_name(), first_span(args, span)))
                            }
                        };
                        Ok(Value::Bool(if name == "containsAll" {
                            other.iter().all(|x| set.contains(x))
                        } else {
                            other.iter().any(|x| set.contains(x))
                        }))
                    }
                }
            }
            "hasTag" | "getTag" => {
                arity(1)?;
                let uid = match receiver {
                    Value::Entity(uid) => uid,
                    other => return Err(type_error(op(), "entity", other.type_name(), recv.span)),
                };
                let tag = match only(values, span)? {
                    Value::String(s) => s,
                    v => {
                        return Err(type_error(op(), "string", v.type_name(), first_span(args, span)))
                    }
                };
                let data = self.entities.get(uid);
                if name == "hasTag" {
                    return Ok(Value::Bool(data.is_some_and(|d| d.tags.contains_key(tag))));
                }
                let data = data.ok_or_else(|| EvalError {
                    kind: EvalErrorKind::EntityNotFound {
                        uid: uid.to_string(),
                    },
                    span,
                })?;
                data.tags.get(tag).cloned().ok_or_else(|| EvalError {
                    kind: EvalErrorKind::MissingTag {
                        tag: tag.to_string(),
                        of: uid.to_string(),
                    },
                    span,
                })
            }
            _ => with_ext_args(values, |ext_args| {
                ext_output(ext::call_method(name, ext_arg(receiver), ext_args), span)
            }),
        }
    }

    /// Calls rule `rule` with the arguments on the stack from `start`: true
    /// when any clause holds; otherwise the first clause error (a cycle or a
    /// limit included); otherwise false.
    fn call_rule(&mut self, rule: u32, start: usize, span: Span) -> Result<Value, EvalError> {
        let end = self.stack.len();
        let set = self.set;
        let def = set.rules.get(rule as usize).ok_or_else(|| {
            internal(format!("rule #{rule} is not in the set"), span)
        })?;
        if self.calls.len() >= self.limits.max_rule_depth {
            return Err(EvalError {
                kind: EvalErrorKind::RuleDepth {
                    rule: def.name.to_string(),
                    limit: self.limits.max_rule_depth,
                },
                span,
            });
        }
        let args = pushed(&self.stack, start, span)?;
        if T::FOLLOWS_PRINCIPAL {
            // The cycle check compares the arguments with those of the
            // rule's calls on the stack: where the principal is among them,
            // the outcome depends on who it is.
            let compared = self.calls.iter().filter(|&&(r, _, _)| r == rule).any(|&(_, s, e)| {
                args.iter()
                    .chain(self.locals.get(s..e).unwrap_or_default())
                    .any(|v| self.is_principal(v))
            });
            if compared {
                self.tracer.read_var(Var::Principal);
            }
        }
        if self
            .calls
            .iter()
            .any(|&(r, s, e)| r == rule && self.locals.get(s..e) == Some(args))
        {
            let shown: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            return Err(EvalError {
                kind: EvalErrorKind::RuleCycle {
                    rule: def.name.to_string(),
                    args: shown.join(", "),
                },
                span,
            });
        }
        self.tracer.rule_enter(rule, args, span);
        crate::limits::with_stack(|| {
            let saved_base = self.frame_base;
            let saved_len = self.locals.len();
            // The arguments move to the callee's frame once; a clause's
            // parameters are never rebound, so each clause starts from them.
            self.locals.extend(self.stack.drain(start..end));
            let params = self.locals.len();
            self.frame_base = saved_len;
            self.calls.push((rule, saved_len, params));
            let mut first_error = None;
            let mut held = false;
            for (i, clause) in def.clauses.iter().enumerate() {
                self.locals.truncate(params);
                // Decided per tracer when compiled: free where it is off.
                let unevaluated = if T::FOLLOWS_PRINCIPAL {
                    Ok(false)
                } else {
                    self.fails_its_type_test(&clause.body)
                };
                let result = match unevaluated {
                    Ok(true) => Ok(Value::Bool(false)),
                    Ok(false) => self.eval(&clause.body),
                    Err(e) => Err(e),
                };
                let result = match result {
                    Ok(Value::Bool(b)) => Ok(Value::Bool(b)),
                    Ok(other) => Err(type_error(
                        "a rule clause",
                        "bool",
                        other.type_name(),
                        clause.body.span,
                    )),
                    Err(e) => Err(e),
                };
                self.tracer.rule_clause(rule, i, &result);
                match result {
                    Ok(Value::Bool(true)) => {
                        held = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            self.calls.pop();
            self.locals.truncate(saved_len);
            self.frame_base = saved_base;
            let result = match (held, first_error) {
                (true, _) => Ok(Value::Bool(true)),
                (false, Some(e)) => Err(e),
                (false, None) => Ok(Value::Bool(false)),
            };
            self.tracer.rule_exit(rule, &result);
            result
        })
    }

    /// Whether a rule clause that begins with a type test of a parameter
    /// (`p is T`, alone or as the first of `&&`) fails it: then the clause
    /// is `false`, as its evaluation would find, and the steps that
    /// evaluation takes (`&&`, `is`, the parameter) are charged, so that
    /// budgets and their errors are the same. Most clauses of a rule that
    /// dispatches on its argument's type are answered so, unevaluated.
    /// Not where the tracer follows the principal: its reads are reported.
    fn fails_its_type_test(&mut self, body: &Expr) -> Result<bool, EvalError> {
        let (conjunction, test) = match &body.kind {
            ExprKind::And(items) => match items.first() {
                Some(first) => (Some(body.span), first),
                None => return Ok(false),
            },
            _ => (None, body),
        };
        let ExprKind::Is(param, ty, None) = &test.kind else {
            return Ok(false);
        };
        let ExprKind::Local(local, _) = param.kind else {
            return Ok(false);
        };
        match self.locals.get(self.frame_base + local as usize) {
            Some(Value::Entity(uid)) if uid.ty != *ty => {}
            _ => return Ok(false),
        }
        if let Some(span) = conjunction {
            self.step(span)?;
        }
        self.step(test.span)?;
        self.step(param.span)?;
        Ok(true)
    }
}

/// An impossible state of the interpreter: an error (which fails closed),
/// never a panic.
fn internal(what: String, span: Span) -> EvalError {
    EvalError {
        kind: EvalErrorKind::Internal { what },
        span,
    }
}

/// The values pushed on `stack` from `start` on.
fn pushed(stack: &[Value], start: usize, span: Span) -> Result<&[Value], EvalError> {
    stack
        .get(start..)
        .ok_or_else(|| internal("arguments missing from the stack".into(), span))
}

/// The one argument of a method the table gives one (its arity checked).
fn only(values: &[Value], span: Span) -> Result<&Value, EvalError> {
    match values {
        [value] => Ok(value),
        _ => Err(internal(format!("{} arguments where one was checked", values.len()), span)),
    }
}

/// Where the first argument stands, or the call when it has none.
fn first_span(args: &[Expr], call: Span) -> Span {
    args.first().map_or(call, |a| a.span)
}

fn overflow(operation: String, span: Span) -> EvalError {
    EvalError {
        kind: EvalErrorKind::Overflow { operation },
        span,
    }
}

/// Calls `f` with `values` as extension arguments, without a vector for the
/// usual few.
fn with_ext_args<R>(values: &[Value], f: impl FnOnce(&[ExtArg]) -> R) -> R {
    const FEW: usize = 4;
    let mut few = [ExtArg::Other(""); FEW];
    for (place, v) in few.iter_mut().zip(values) {
        *place = ext_arg(v);
    }
    if let Some(args) = few.get(..values.len()) {
        return f(args);
    }
    let many: Vec<ExtArg> = values.iter().map(ext_arg).collect();
    f(&many)
}

fn ext_arg(v: &Value) -> ExtArg<'_> {
    ExtArg::of(v)
}

fn ext_output(r: Result<ExtOutput, ext::ExtError>, span: Span) -> Result<Value, EvalError> {
    match r {
        Ok(out) => Ok(out.into_value()),
        Err(e) => Err(EvalError {
            kind: EvalErrorKind::Extension {
                message: e.message,
                help: e.help,
            },
            span,
        }),
    }
}
