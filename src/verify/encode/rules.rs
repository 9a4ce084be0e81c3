//! Rules, policies and their scopes, and the terms properties and
//! invariants are built from.

use super::*;

impl<'a> Encoder<'a> {
    /// A rule call: true where a clause holds, else the first error, else
    /// false; a call with the same constant arguments as one in progress is
    /// the interpreter's cycle error.
    pub(super) fn call_rule(
        &mut self,
        scope: &Scope,
        rule: u32,
        args: Vec<Term>,
        span: Span,
    ) -> Result<Term, Refusal> {
        let Some(def) = scope.set.rules.get(rule as usize) else {
            return Err(refuse("a call of a rule that is not in the set", span));
        };
        let mut args_err = None;
        for a in &args {
            args_err = or_err(&args_err, &a.err);
        }
        let args: Vec<Term> = args.into_iter().map(|a| Term { err: None, ..a }).collect();
        let key: Vec<String> = args.iter().map(|a| call_key(&a.val)).collect();
        let constant = args.iter().all(|a| matches!(a.val, Val::Const(_)));
        if constant && self.calls.iter().any(|(r, k)| *r == rule && *k == key) {
            return Ok(Term {
                err: Some("true".into()),
                ..Term::boolean(false)
            });
        }
        if self.calls.len() >= self.depth {
            // Past the unrolling depth: any result at all, as a function of
            // the arguments (the store and the request are fixed in one
            // query; under a quantifier the arguments vary, and so may the
            // result).
            self.cut = true;
            let v = self.fresh("cut");
            let e = self.fresh("cut_err");
            let mut sorts = Vec::new();
            let mut values = Vec::new();
            for a in &args {
                for (sort, value) in self.leaves(a, span)? {
                    sorts.push(sort);
                    values.push(value);
                }
            }
            let sorts = sorts.join(" ");
            self.prelude
                .push(format!("(declare-fun {v} ({sorts}) Bool)"));
            self.prelude
                .push(format!("(declare-fun {e} ({sorts}) Bool)"));
            let apply = |f: &str| {
                if values.is_empty() {
                    f.to_string()
                } else {
                    format!("({f} {})", values.join(" "))
                }
            };
            return Ok(Term::sym(
                Sort::Bool,
                apply(&v),
                or_err(&args_err, &Some(apply(&e))),
            ));
        }
        self.calls.push((rule, key));
        let mut held = Vec::new();
        let mut errs = Vec::new();
        let mut result = Ok(());
        for clause in &def.clauses {
            if clause.params.len() != args.len() {
                continue;
            }
            match self.boolean(scope, &clause.body, &args) {
                Ok(t) => {
                    let v = self.smt(&t)?;
                    match &t.err {
                        None => held.push(v),
                        Some(e) => {
                            held.push(format!("(and {} {v})", not(e)));
                            errs.push(e.clone());
                        }
                    }
                }
                Err(r) => {
                    result = Err(r);
                    break;
                }
            }
        }
        self.calls.pop();
        result?;
        let held = match held.len() {
            0 => "false".to_string(),
            1 => held.remove(0),
            _ => format!("(or {})", held.join(" ")),
        };
        let err = match errs.len() {
            0 => None,
            _ => Some(format!(
                "(and {} (or false {}))",
                not(&held),
                errs.join(" ")
            )),
        };
        let t = fold_bool(held, or_err(&args_err, &err));
        Ok(t)
    }

    /// A value as (SMT sort, SMT value) pairs: one, or a record's
    /// presence flags and field values.
    fn leaves(&self, t: &Term, span: Span) -> Result<Vec<(String, String)>, Refusal> {
        if !matches!(t.sort, Sort::Record(_)) {
            return Ok(vec![(t.sort.smt(), self.smt(t)?)]);
        }
        let mut out = Vec::new();
        for (k, f) in self.fields(t, span)? {
            out.push(("Bool".to_string(), f.present.clone()));
            let Some(term) = &f.term else {
                return Err(refuse(
                    format!(
                        "a rule cut at the depth, given a record whose field `{k}` has no encoding"
                    ),
                    span,
                ));
            };
            out.extend(self.leaves(term, span)?);
        }
        Ok(out)
    }

    /// The policy's encoding: when it is satisfied (scope and conditions,
    /// no error) and when it raises an error.
    pub fn policy(&mut self, scope: &Scope, p: &Policy) -> Result<(String, String), Refusal> {
        let principal = self.var(Var::Principal);
        let resource = self.var(Var::Resource);
        let mut parts: Vec<Term> = Vec::new();
        for (c, var) in [(&p.principal, &principal), (&p.resource, &resource)] {
            parts.push(self.scope_constraint(c, var)?);
        }
        let action = &self.slice.action;
        let action_ok = match &p.action {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(a, _) => a == action,
            ActionConstraint::In(list, _) => list.iter().any(|g| self.action_in(action, g)),
        };
        parts.push(Term::boolean(action_ok));
        // A scope that excludes the slice: the conditions are never
        // evaluated (and are typed only for the slices the scope admits).
        if parts
            .iter()
            .any(|t| matches!(t.val, Val::Const(Value::Bool(false))) && t.err.is_none())
        {
            return Ok(("false".into(), "false".into()));
        }
        for c in &p.conditions {
            let t = self.boolean(scope, &c.body, &Vec::new())?;
            let t = match c.kind {
                ConditionKind::When => t,
                ConditionKind::Unless => match &t.val {
                    Val::Const(Value::Bool(b)) => Term {
                        err: t.err.clone(),
                        ..Term::boolean(!b)
                    },
                    _ => Term::sym(Sort::Bool, not(&self.smt(&t)?), t.err.clone()),
                },
            };
            let decisive = matches!(t.val, Val::Const(Value::Bool(false))) && t.err.is_none();
            parts.push(t);
            if decisive {
                break;
            }
        }
        let all = self.combine(parts, true)?;
        let v = self.smt(&all)?;
        let err = all.err.unwrap_or_else(|| "false".into());
        let applies = if err == "false" {
            v
        } else {
            format!("(and {} {v})", not(&err))
        };
        Ok((applies, err))
    }

    pub(super) fn scope_constraint(
        &mut self,
        c: &ScopeConstraint,
        var: &Term,
    ) -> Result<Term, Refusal> {
        let Sort::Entity(t) = &var.sort else {
            return Err(refuse(
                "a scope over something other than an entity",
                c.span(),
            ));
        };
        let entity =
            |u: &EntityUid| Term::constant(Value::Entity(u.clone()), Sort::Entity(u.ty.clone()));
        Ok(match c {
            ScopeConstraint::Any => Term::boolean(true),
            ScopeConstraint::Eq(u, _) => {
                self.literals.insert(u.clone());
                if &u.ty != t {
                    Term::boolean(false)
                } else {
                    Term::sym(
                        Sort::Bool,
                        format!("(= {} {})", self.smt(var)?, smt_string(&u.id)),
                        None,
                    )
                }
            }
            ScopeConstraint::In(u, span) => {
                self.literals.insert(u.clone());
                self.in_entity(var, &entity(u), *span)?
            }
            ScopeConstraint::Is(ty, _) => Term::boolean(ty == t),
            ScopeConstraint::IsIn(ty, u, span) => {
                self.literals.insert(u.clone());
                if ty != t {
                    Term::boolean(false)
                } else {
                    self.in_entity(var, &entity(u), *span)?
                }
            }
            _ => return Err(refuse("a template slot", c.span())),
        })
    }

    /// A rule call on the given terms, for properties and invariants:
    /// (holds without error, errs).
    pub fn call(
        &mut self,
        scope: &Scope,
        rule: u32,
        args: Vec<Term>,
    ) -> Result<(String, String), Refusal> {
        let t = self.call_rule(scope, rule, args, Span::default())?;
        let v = self.smt(&t)?;
        let err = t.err.unwrap_or_else(|| "false".into());
        Ok((format!("(and {} {v})", not(&err)), err))
    }

    /// The term of the principal, resource, context or an action.
    pub fn request_var(&self, v: Var) -> Term {
        self.var(v)
    }

    /// A term for every entity of type `ty` that exists (a bound variable
    /// named `name`), or the set of all of them.
    pub fn each(&mut self, ty: &Name, name: &str) -> Term {
        self.known.insert(name.to_string());
        self.inside += 1;
        Term::sym(Sort::Entity(ty.clone()), name.into(), None)
    }

    /// The set of every entity of type `ty`.
    pub fn all(&mut self, ty: &Name) -> Term {
        let ex = self.func(Func::Exists(ty.clone()));
        Term::sym(
            Sort::Set(Some(Box::new(Sort::Entity(ty.clone())))),
            ex,
            None,
        )
    }

    /// Forgets that `name` is known to exist.
    pub fn forget(&mut self, name: &str) {
        self.known.remove(name);
        self.inside = self.inside.saturating_sub(1);
    }
}

/// A call's argument as the cycle check compares it: a constant by value,
/// anything else by its terms.
fn call_key(v: &Val) -> String {
    match v {
        Val::Const(v) => format!("{v}"),
        Val::Sym(s) => format!("?{s}"),
        Val::Record(fields) => {
            let mut out = String::from("?{");
            for (k, f) in fields {
                let term = f.term.as_ref().map(|t| call_key(&t.val));
                let _ = write!(out, "{k}:{}:{term:?},", f.present);
            }
            out.push('}');
            out
        }
    }
}
