//! The in-place fast path of the evaluator, in one place: request variables
//! and locals read where they are (`.attr`, `has`, `is`, `==`, `!=`, `in`)
//! and set literals evaluated onto the value stack (`[…].contains(x)`,
//! `x in […]`, `any x in […]: …`) instead of into new values.
//!
//! Each shortcut counts the same steps and raises the same errors as the
//! plain evaluation; [`Evaluator::set_in_place`] turns the whole path off,
//! and `tests/decisions/index.rs` judges the corpora, the Model Studio examples and
//! generated worlds both ways and compares responses and step counts.

use super::*;

/// A value read in place: a request variable's entity, or a borrowed value.
#[derive(Clone, Copy)]
pub(super) enum Peek<'v> {
    Uid(&'v EntityUid),
    Value(&'v Value),
}

impl<'v> Peek<'v> {
    pub(super) fn uid(self) -> Option<&'v EntityUid> {
        match self {
            Peek::Uid(uid) | Peek::Value(Value::Entity(uid)) => Some(uid),
            Peek::Value(_) => None,
        }
    }
}

impl PartialEq for Peek<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Peek::Value(a), Peek::Value(b)) => a == b,
            _ => self.uid().is_some() && self.uid() == other.uid(),
        }
    }
}

impl<'a, T: Tracer> Evaluator<'a, T> {
    /// Evaluates the set literal `set` (whose elements are `items`) onto the
    /// value stack instead of into a new set: the same step, the same size
    /// check and the same elements in the same order as `eval(set)`. With
    /// `ordered`, sorted and without duplicates, as the set would iterate.
    /// Returns where the elements start.
    pub(super) fn literal_set_in_place(
        &mut self,
        set: &Expr,
        items: &[Expr],
        ordered: bool,
    ) -> Result<usize, EvalError> {
        self.step(set.span)?;
        if items.len() > self.limits.max_set_size {
            return Err(EvalError {
                kind: EvalErrorKind::SetTooLarge {
                    limit: self.limits.max_set_size,
                },
                span: set.span,
            });
        }
        let start = self.push_values(items, false)?;
        if ordered {
            // Equal elements are identical, so which one stays is moot.
            // Sorted and deduplicated where they stand: no allocation.
            if let Some(elements) = self.stack.get_mut(start..) {
                elements.sort_unstable();
            }
            let mut kept = start;
            for i in start + 1..self.stack.len() {
                if self.stack.get(i) != self.stack.get(kept) {
                    kept += 1;
                    self.stack.swap(kept, i);
                }
            }
            if self.stack.len() > start {
                self.stack.truncate(kept + 1);
            }
        }
        Ok(start)
    }

    /// `any x in [a, b]: body` (or `all`), the elements kept on the stack.
    pub(super) fn quantify_literal(
        &mut self,
        quantifier: Quantifier,
        local: u32,
        set: &Expr,
        items: &[Expr],
        body: &Expr,
    ) -> Result<Value, EvalError> {
        let start = self.literal_set_in_place(set, items, true)?;
        let end = self.stack.len();
        let at = self.frame_base + local as usize;
        let mut result = matches!(quantifier, Quantifier::All);
        let mut outcome = Ok(());
        for i in start..end {
            let Some(item) = self.stack.get(i).cloned() else {
                break;
            };
            self.locals.truncate(at);
            self.locals.push(item);
            let holds = self.eval_bool(body, "a quantifier's body");
            self.locals.truncate(at);
            match holds {
                Ok(h) if h != result => {
                    result = h;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        self.stack.truncate(start);
        outcome.map(|()| Value::Bool(result))
    }

    /// `[a, b].contains(x)` (or `containsAll`, `containsAny`), the elements
    /// kept on the stack.
    pub(super) fn literal_set_method(
        &mut self,
        recv: &Expr,
        items: &[Expr],
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<Value, EvalError> {
        let start = self.literal_set_in_place(recv, items, false)?;
        let end = self.stack.len();
        let result = match self.push_values(args, false) {
            Ok(_) => match (self.stack.get(start..end), self.stack.get(end..)) {
                (Some(set), Some(values)) => literal_set_test(set, values, name, args, span),
                _ => Err(EvalError {
                    kind: EvalErrorKind::Internal {
                        what: "a literal set missing from the stack".into(),
                    },
                    span,
                }),
            },
            Err(e) => Err(e),
        };
        self.stack.truncate(start);
        result
    }

    /// `a == b`, `a != b` and `a in b`, reading request variables and
    /// locals in place rather than copying them (the same steps, in the
    /// same order, as evaluating both operands).
    pub(super) fn compare_in_place(
        &mut self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
    ) -> Result<Value, EvalError> {
        // `principal in X`, the principal followed: what is learnt of it
        // is reported once `X` is known.
        let within = op == BinOp::In && self.holds_the_principal(a);
        let lhs_owned = if within {
            self.step(a.span)?;
            None
        } else if self.peekable(a)? {
            None
        } else {
            Some(self.eval(a)?)
        };
        let rhs_owned = if self.peekable(b)? {
            None
        } else {
            Some(self.eval(b)?)
        };
        if within {
            let rhs = rhs_owned.as_ref().map_or_else(|| self.peek(b), Peek::Value);
            match rhs.uid().map(|target| self.entities.node(target)) {
                Some(node) => self.tracer.read_principal_in(node),
                None => self.tracer.read_var(Var::Principal),
            }
        }
        // Evaluating `b` leaves the locals `a` can name as they were.
        let lhs = lhs_owned.as_ref().map_or_else(|| self.peek(a), Peek::Value);
        let rhs = rhs_owned.as_ref().map_or_else(|| self.peek(b), Peek::Value);
        match op {
            BinOp::Eq => Ok(Value::Bool(lhs == rhs)),
            BinOp::Ne => Ok(Value::Bool(lhs != rhs)),
            _ => {
                let uid = match lhs {
                    Peek::Uid(uid) | Peek::Value(Value::Entity(uid)) => uid,
                    Peek::Value(other) => {
                        return Err(type_error("`in`", "entity", other.type_name(), a.span))
                    }
                };
                match rhs {
                    Peek::Uid(target) => Ok(Value::Bool(self.entities.is_in(uid, target))),
                    Peek::Value(v) => self.is_in(uid, v, b.span).map(Value::Bool),
                }
            }
        }
    }

    /// Whether `e` is a request variable or a local, whose value [`Self::peek`]
    /// reads without a copy; if so, counts the step that `eval(e)` would.
    #[inline]
    pub(super) fn peekable(&mut self, e: &Expr) -> Result<bool, EvalError> {
        self.peekable_as(e, Part::Whole)
    }

    /// [`Self::peekable`] for reading the attribute `attr` of `e` (`.attr`,
    /// `has attr`): a request variable read only for one attribute is
    /// reported to the tracer as that ([`Tracer::read_var_attr`]).
    #[inline]
    pub(super) fn peekable_for(&mut self, e: &Expr, attr: Option<&str>) -> Result<bool, EvalError> {
        self.peekable_as(e, attr.map_or(Part::Whole, Part::Attr))
    }

    /// [`Self::peekable`] for reading `part` of `e`, reported to the
    /// tracer as that: for a request variable, and for a local holding the
    /// principal where the tracer follows it.
    #[inline]
    pub(super) fn peekable_as(&mut self, e: &Expr, part: Part<'_>) -> Result<bool, EvalError> {
        let bound = match e.kind {
            ExprKind::Var(v) => {
                self.report(v, part);
                true
            }
            // An unbound local is an internal error, raised by the plain
            // evaluation: never read in place.
            ExprKind::Local(local, _) => match self.locals.get(self.frame_base + local as usize) {
                Some(value) => {
                    if self.is_principal(value) {
                        self.report(Var::Principal, part);
                    }
                    true
                }
                None => false,
            },
            _ => false,
        };
        if bound {
            self.step(e.span)?;
        }
        Ok(bound)
    }

    /// Whether `e` is the principal, or a local holding it, where the
    /// tracer follows the principal: read in place, as
    /// [`Self::peekable`] would, but reported by its caller.
    fn holds_the_principal(&self, e: &Expr) -> bool {
        T::FOLLOWS_PRINCIPAL
            && match e.kind {
                ExprKind::Var(v) => v == Var::Principal,
                ExprKind::Local(local, _) => self
                    .locals
                    .get(self.frame_base + local as usize)
                    .is_some_and(|value| self.is_principal(value)),
                _ => false,
            }
    }

    fn report(&mut self, var: Var, part: Part<'_>) {
        match part {
            Part::Whole => self.tracer.read_var(var),
            Part::Attr(a) => self.tracer.read_var_attr(var, a),
            Part::Type => self.tracer.read_var_type(var),
        }
    }

    /// The value of a request variable or a local, borrowed (after
    /// [`Self::peekable`] said yes).
    pub(super) fn peek(&self, e: &Expr) -> Peek<'_> {
        static FALSE: Value = Value::Bool(false);
        match &e.kind {
            ExprKind::Var(Var::Principal) => Peek::Uid(&self.request.principal),
            ExprKind::Var(Var::Action) => Peek::Uid(&self.request.action),
            ExprKind::Var(Var::Resource) => Peek::Uid(&self.request.resource),
            ExprKind::Var(Var::Context) => Peek::Value(&self.request.context),
            ExprKind::Local(local, _) => Peek::Value(
                self.locals
                    .get(self.frame_base + *local as usize)
                    .unwrap_or(&FALSE),
            ),
            // INVARIANT: `peekable` said yes, so `e` is one of the above.
            _ => Peek::Value(&FALSE),
        }
    }
}

/// What an in-place read looks at.
#[derive(Clone, Copy)]
pub(super) enum Part<'a> {
    /// The value itself.
    Whole,
    /// One attribute (`.a`, `has a`).
    Attr(&'a str),
    /// The entity type (`is`).
    Type,
}

/// The membership tests of `[a, b].contains(x)`, `containsAll` and
/// `containsAny` on the literal's elements `set`, as on the set it builds.
fn literal_set_test(
    set: &[Value],
    values: &[Value],
    name: &str,
    args: &[Expr],
    span: Span,
) -> Result<Value, EvalError> {
    if values.len() != 1 {
        return Err(EvalError {
            kind: EvalErrorKind::Arity {
                name: name.to_string(),
                expected: 1,
                found: values.len(),
            },
            span,
        });
    }
    // A set's `contains` compares by order, as `BTreeSet` does.
    let member = |x: &Value| set.iter().any(|y| y.cmp(x).is_eq());
    let [value] = values else {
        return Err(EvalError {
            kind: EvalErrorKind::Internal {
                what: "a method's one argument missing".into(),
            },
            span,
        });
    };
    Ok(Value::Bool(match (name, value) {
        ("contains", x) => member(x),
        ("containsAll", Value::Set(other)) => other.iter().all(member),
        (_, Value::Set(other)) => other.iter().any(member),
        (_, v) => {
            return Err(type_error(
                format!("`.{name}()`"),
                "set",
                v.type_name(),
                args.first().map_or(span, |a| a.span),
            ))
        }
    }))
}
