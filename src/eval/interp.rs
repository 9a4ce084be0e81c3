//! The tree-walking interpreter.
//!
//! [`Evaluator::eval`] is the outer entry: it checks the step budget and the
//! stack, then hands over to the private `eval_inner`, which holds the big
//! `match` and uses `?` freely. The [`Tracer`] parameter is a compile-time
//! choice: [`NoTrace`] compiles to nothing on the decision path; a recording
//! tracer sees every rule call and clause for explanations.

use super::error::{type_error, EvalError, EvalErrorKind};
use super::ext::{self, ExtArg, ExtOutput};
use super::value::Value;
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{BinOp, CallTarget, Expr, ExprKind, Literal, Quantifier, Var};
use crate::syntax::Span;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Observes evaluation. Every method has an empty default.
pub trait Tracer {
    /// A rule call begins.
    fn rule_enter(&mut self, _rule: u32, _args: &[Value], _span: Span) {}
    /// One clause of the current call has been evaluated.
    fn rule_clause(&mut self, _rule: u32, _clause: usize, _result: &Result<Value, EvalError>) {}
    /// The current call ends.
    fn rule_exit(&mut self, _rule: u32, _result: &Result<Value, EvalError>) {}
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
    /// Current recursion depth of `eval`.
    depth: u32,
    /// Locals of all active frames; a frame's slots start at `frame_base`.
    locals: Vec<Value>,
    frame_base: usize,
    /// Active rule calls, for cycle detection.
    calls: Vec<(u32, Vec<Value>)>,
    /// The tracer.
    pub tracer: T,
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
            depth: 0,
            locals: Vec::new(),
            frame_base: 0,
            calls: Vec::new(),
            tracer,
        }
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

    /// Evaluates `expr`.
    pub fn eval(&mut self, expr: &Expr) -> Result<Value, EvalError> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(EvalError {
                kind: EvalErrorKind::StepLimit {
                    limit: self.limits.max_steps,
                },
                span: expr.span,
            });
        }
        // Expression nesting is bounded by the parser's limit, but rule
        // bodies stack on one another: check the stack every few levels.
        self.depth += 1;
        let result = if self.depth % 16 == 0 {
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
            ExprKind::Var(v) => match v {
                Var::Principal => Value::Entity(self.request.principal.clone()),
                Var::Action => Value::Entity(self.request.action.clone()),
                Var::Resource => Value::Entity(self.request.resource.clone()),
                Var::Context => self.request.context.clone(),
            },
            ExprKind::Local(slot, _) => self
                .locals
                .get(self.frame_base + *slot as usize)
                .cloned()
                .unwrap_or(Value::Bool(false)),
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
                let mut current = self.eval(e)?;
                for name in path {
                    let next = match &current {
                        Value::Entity(uid) => match self.entities.get(uid) {
                            Some(data) => data.attrs.get(name).cloned(),
                            None => None,
                        },
                        Value::Record(r) => r.get(name).cloned(),
                        other => {
                            return Err(type_error(
                                "`has`",
                                "entity or record",
                                other.type_name(),
                                span,
                            ))
                        }
                    };
                    match next {
                        Some(v) => current = v,
                        None => return Ok(Value::Bool(false)),
                    }
                }
                Value::Bool(true)
            }
            ExprKind::Like(e, pattern) => match self.eval(e)? {
                Value::String(s) => Value::Bool(super::like::matches(pattern, &s)),
                other => return Err(type_error("`like`", "string", other.type_name(), e.span)),
            },
            ExprKind::Is(e, ty, within) => {
                let uid = match self.eval(e)? {
                    Value::Entity(uid) => uid,
                    other => return Err(type_error("`is`", "entity", other.type_name(), e.span)),
                };
                let type_ok = uid.ty == *ty;
                match within {
                    None => Value::Bool(type_ok),
                    Some(w) => {
                        let rhs = self.eval(w)?;
                        let is_in = self.is_in(&uid, &rhs, w.span)?;
                        Value::Bool(type_ok && is_in)
                    }
                }
            }
            ExprKind::GetAttr(e, attr) => {
                let v = self.eval(e)?;
                self.get_attr(&v, attr, span)?
            }
            ExprKind::Method(recv, name, args) => self.method(recv, name, args, span)?,
            ExprKind::Call { name, args, target } => match target {
                CallTarget::Rule(i) => {
                    let values = args
                        .iter()
                        .map(|a| self.eval(a))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.call_rule(*i, values, span)?
                }
                _ => {
                    let values = args
                        .iter()
                        .map(|a| self.eval(a))
                        .collect::<Result<Vec<_>, _>>()?;
                    let ext_args: Vec<ExtArg> = values.iter().map(ext_arg).collect();
                    ext_output(ext::call_function(name, &ext_args), span)?
                }
            },
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
                slot,
                set,
                body,
                ..
            } => {
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
                let at = self.frame_base + *slot as usize;
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

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, span: Span) -> Result<Value, EvalError> {
        let lhs = self.eval(a)?;
        let rhs = self.eval(b)?;
        let sym = format!("`{}`", op.symbol());
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
                                sym,
                                "long, datetime or duration operands of one type",
                                &format!("{} and {}", lhs.type_name(), rhs.type_name()),
                                span,
                            ))
                        }
                    },
                    (Value::Long(_), other) => {
                        return Err(type_error(sym, "long", other.type_name(), b.span))
                    }
                    (other, _) => return Err(type_error(sym, "long", other.type_name(), a.span)),
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
                    other => return Err(type_error(sym, "long", other.type_name(), a.span)),
                };
                let y = match rhs {
                    Value::Long(n) => n,
                    other => return Err(type_error(sym, "long", other.type_name(), b.span)),
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

    /// `uid in rhs` where `rhs` is an entity or a set of entities.
    fn is_in(
        &mut self,
        uid: &crate::syntax::ast::EntityUid,
        rhs: &Value,
        span: Span,
    ) -> Result<bool, EvalError> {
        match rhs {
            Value::Entity(target) => Ok(self.entities.is_in(uid, target)),
            Value::Set(items) => {
                let mut found = false;
                for item in items.iter() {
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
            other => Err(type_error(
                "`in`",
                "entity or set of entities",
                other.type_name(),
                span,
            )),
        }
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
            Value::Entity(uid) => {
                let data = self.entities.get(uid).ok_or_else(|| EvalError {
                    kind: EvalErrorKind::EntityNotFound {
                        uid: uid.to_string(),
                    },
                    span,
                })?;
                data.attrs.get(attr).cloned().ok_or_else(|| {
                    missing(
                        uid.to_string(),
                        data.attrs.keys().map(|k| k.as_str()).collect(),
                    )
                })
            }
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
        let receiver = self.eval(recv)?;
        let values = args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<Vec<_>, _>>()?;
        let arity = |n: usize| -> Result<(), EvalError> {
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
        let op = format!("`.{name}()`");
        match name {
            "contains" | "containsAll" | "containsAny" | "isEmpty" => {
                let set = match &receiver {
                    Value::Set(s) => s.clone(),
                    other => return Err(type_error(op, "set", other.type_name(), recv.span)),
                };
                match name {
                    "isEmpty" => {
                        arity(0)?;
                        Ok(Value::Bool(set.is_empty()))
                    }
                    "contains" => {
                        arity(1)?;
                        Ok(Value::Bool(set.contains(&values[0])))
                    }
                    _ => {
                        arity(1)?;
                        let other = match &values[0] {
                            Value::Set(s) => s,
                            v => return Err(type_error(op, "set", v.type_name(), args[0].span)),
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
                let uid = match &receiver {
                    Value::Entity(uid) => uid,
                    other => return Err(type_error(op, "entity", other.type_name(), recv.span)),
                };
                let tag = match &values[0] {
                    Value::String(s) => s,
                    v => return Err(type_error(op, "string", v.type_name(), args[0].span)),
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
            _ => {
                let ext_args: Vec<ExtArg> = values.iter().map(ext_arg).collect();
                ext_output(ext::call_method(name, ext_arg(&receiver), &ext_args), span)
            }
        }
    }

    /// Calls rule `rule` with `args`: true when any clause holds; otherwise
    /// the first clause error (a cycle or a limit included); otherwise false.
    fn call_rule(&mut self, rule: u32, args: Vec<Value>, span: Span) -> Result<Value, EvalError> {
        let set = self.set;
        let def = &set.rules[rule as usize];
        if self.calls.len() >= self.limits.max_rule_depth {
            return Err(EvalError {
                kind: EvalErrorKind::RuleDepth {
                    rule: def.name.to_string(),
                    limit: self.limits.max_rule_depth,
                },
                span,
            });
        }
        if self.calls.iter().any(|(r, a)| *r == rule && *a == args) {
            let shown: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            return Err(EvalError {
                kind: EvalErrorKind::RuleCycle {
                    rule: def.name.to_string(),
                    args: shown.join(", "),
                },
                span,
            });
        }
        self.tracer.rule_enter(rule, &args, span);
        crate::limits::with_stack(|| {
            let saved_base = self.frame_base;
            let saved_len = self.locals.len();
            self.calls.push((rule, args));
            let mut first_error = None;
            let mut held = false;
            for (i, clause) in def.clauses.iter().enumerate() {
                self.locals.truncate(saved_len);
                self.frame_base = saved_len;
                if let Some((_, args)) = self.calls.last() {
                    self.locals.extend(args.iter().cloned());
                }
                let result = match self.eval(&clause.body) {
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
}

fn overflow(operation: String, span: Span) -> EvalError {
    EvalError {
        kind: EvalErrorKind::Overflow { operation },
        span,
    }
}

fn ext_arg(v: &Value) -> ExtArg<'_> {
    match v {
        Value::Bool(b) => ExtArg::Bool(*b),
        Value::Long(n) => ExtArg::Long(*n),
        Value::String(s) => ExtArg::String(s),
        Value::Ext(e) => ExtArg::Ext(e),
        other => ExtArg::Other(other.type_name()),
    }
}

fn ext_output(r: Result<ExtOutput, ext::ExtError>, span: Span) -> Result<Value, EvalError> {
    match r {
        Ok(ExtOutput::Bool(b)) => Ok(Value::Bool(b)),
        Ok(ExtOutput::Long(n)) => Ok(Value::Long(n)),
        Ok(ExtOutput::Ext(e)) => Ok(Value::Ext(Arc::new(e))),
        Err(e) => Err(EvalError {
            kind: EvalErrorKind::Extension {
                message: e.message,
                help: e.help,
            },
            span,
        }),
    }
}
