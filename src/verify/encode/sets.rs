//! Sets: literals, membership, the set methods, quantifiers over a set,
//! and the declarations that bound set attributes for a counterexample
//! search.

use super::*;

impl<'a> Encoder<'a> {
    /// The declarations with every set-valued attribute and context field
    /// holding at most `size` elements (for a counterexample search: a
    /// model then has finite sets only): each value a chain of `size`
    /// stores of an element and whether it is in.
    pub fn bounded_prelude(&self, size: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (n, line) in self.prelude.iter().enumerate() {
            let Some((_, name, elem, takes_id)) = self.set_leaves.iter().find(|(at, ..)| *at == n)
            else {
                out.push(line.clone());
                continue;
            };
            let (params, args, arity) = if *takes_id {
                ("((e String))", " e", "(String)")
            } else {
                ("()", "", "()")
            };
            let mut value = format!("((as const (Array {elem} Bool)) false)");
            for k in 0..size {
                out.push(format!("(declare-fun {name}_el{k} {arity} {elem})"));
                out.push(format!("(declare-fun {name}_in{k} {arity} Bool)"));
                let (el, is_in) = if *takes_id {
                    (
                        format!("({name}_el{k}{args})"),
                        format!("({name}_in{k}{args})"),
                    )
                } else {
                    (format!("{name}_el{k}"), format!("{name}_in{k}"))
                };
                value = format!("(store {value} {el} {is_in})");
            }
            out.push(format!(
                "(define-fun {name} {params} (Array {elem} Bool) {value})"
            ));
        }
        out
    }

    /// Whether `x` is in the set `s`: an array, or the predicate of the
    /// entities of a type that exist (the set of all of them).
    pub(super) fn mem(&self, s: &str, x: &str) -> String {
        if self.predicates.contains(s) {
            format!("({s} {x})")
        } else {
            format!("(select {s} {x})")
        }
    }

    /// `a in b`, `b` an entity or a set of entities.
    pub(super) fn in_value(&mut self, a: Term, b: Term, span: Span) -> Result<Term, Refusal> {
        match &b.sort {
            Sort::Entity(_) => self.in_entity(&a, &b, span),
            Sort::Set(None) => Ok(Term {
                err: or_err(&a.err, &b.err),
                ..Term::boolean(false)
            }),
            Sort::Set(Some(elem)) => {
                let elem = (**elem).clone();
                let err = or_err(&a.err, &b.err);
                if let Val::Const(Value::Set(items)) = &b.val {
                    let mut ways = Vec::new();
                    for i in items.iter() {
                        let t = Term::constant(i.clone(), elem.clone());
                        let r = self.in_entity(&a, &t, span)?;
                        ways.push(self.smt(&r)?);
                    }
                    let val = if ways.is_empty() {
                        "false".into()
                    } else {
                        format!("(or false {})", ways.join(" "))
                    };
                    return Ok(fold_bool(val, err));
                }
                let v = self.fresh("e");
                let s = self.smt(&b)?;
                let bound = Term::sym(elem.clone(), v.clone(), None);
                self.inside += 1;
                let r = self.in_entity(&a, &bound, span);
                self.inside -= 1;
                let r = r?;
                let body = self.smt(&r)?;
                Ok(Term::sym(
                    Sort::Bool,
                    format!(
                        "(exists (({v} {})) (and {} {body}))",
                        elem.smt(),
                        self.mem(&s, &v)
                    ),
                    err,
                ))
            }
            _ => Err(refuse(
                "`in` on something other than an entity or a set",
                span,
            )),
        }
    }

    pub(super) fn set_literal(&mut self, terms: Vec<Term>, span: Span) -> Result<Term, Refusal> {
        let mut err = None;
        let mut elem: Option<Sort> = None;
        for t in &terms {
            err = or_err(&err, &t.err);
            match &elem {
                None => elem = Some(t.sort.clone()),
                Some(s) if *s != t.sort => {
                    return Err(refuse("a set literal of mixed types", span))
                }
                _ => {}
            }
        }
        if let Some(Sort::Record(_) | Sort::Ext(ExtSort::Ip)) = &elem {
            return Err(refuse("a set of records or of IP addresses", span));
        }
        let sort = Sort::Set(elem.clone().map(Box::new));
        if terms.iter().all(|t| matches!(t.val, Val::Const(_))) {
            let items = terms.iter().filter_map(|t| match &t.val {
                Val::Const(v) => Some(v.clone()),
                _ => None,
            });
            return Ok(Term {
                sort,
                val: Val::Const(Value::set(items)),
                err,
            });
        }
        let elem_smt = elem.map(|e| e.smt()).unwrap_or_else(|| "String".into());
        let mut out = format!("((as const (Array {elem_smt} Bool)) false)");
        for t in &terms {
            out = format!("(store {out} {} true)", self.smt(t)?);
        }
        Ok(Term::sym(sort, out, err))
    }

    pub(super) fn method(
        &mut self,
        x: Term,
        name: &str,
        args: Vec<Term>,
        span: Span,
    ) -> Result<Term, Refusal> {
        let elem = match x.sort.clone() {
            Sort::Set(elem) => elem,
            Sort::Entity(_) if matches!(name, "hasTag" | "getTag") => {
                return self.tag_method(x, name, args, span)
            }
            Sort::Ext(_) => return self.ext_method(x, name, args, span),
            _ => return Err(refuse(format!("the method `{name}` on this value"), span)),
        };
        let mut err = x.err.clone();
        for a in &args {
            err = or_err(&err, &a.err);
        }
        let s = self.smt(&x)?;
        match (name, args.as_slice()) {
            ("contains", [y]) => {
                if let (Val::Const(Value::Set(items)), Val::Const(v)) = (&x.val, &y.val) {
                    return Ok(Term {
                        err,
                        ..Term::boolean(items.contains(v))
                    });
                }
                if elem.as_deref().is_some_and(|e| *e != y.sort) {
                    return Ok(Term {
                        err,
                        ..Term::boolean(false)
                    });
                }
                if elem.is_none() {
                    return Ok(Term {
                        err,
                        ..Term::boolean(false)
                    });
                }
                let y = self.smt(y)?;
                Ok(Term::sym(Sort::Bool, self.mem(&s, &y), err))
            }
            ("containsAll" | "containsAny", [y]) => {
                let Sort::Set(other) = &y.sort else {
                    return Err(refuse(
                        format!("`{name}` of something other than a set"),
                        span,
                    ));
                };
                let all = name == "containsAll";
                let (Some(e), Some(o)) = (&elem, other) else {
                    // One side is the empty literal set.
                    let empty_y = other.is_none();
                    let val = if all {
                        empty_y.to_string()
                    } else {
                        "false".into()
                    };
                    return Ok(fold_bool(val, err));
                };
                if e != o {
                    return Err(refuse(format!("`{name}` of sets of different types"), span));
                }
                let t = self.smt(y)?;
                let v = self.fresh("e");
                let val = if all {
                    format!(
                        "(forall (({v} {})) (=> {} {}))",
                        e.smt(),
                        self.mem(&t, &v),
                        self.mem(&s, &v)
                    )
                } else {
                    format!(
                        "(exists (({v} {})) (and {} {}))",
                        e.smt(),
                        self.mem(&t, &v),
                        self.mem(&s, &v)
                    )
                };
                Ok(Term::sym(Sort::Bool, val, err))
            }
            ("isEmpty", []) => {
                let Some(e) = &elem else {
                    return Ok(Term {
                        err,
                        ..Term::boolean(true)
                    });
                };
                let v = self.fresh("e");
                Ok(Term::sym(
                    Sort::Bool,
                    format!("(forall (({v} {})) (not {}))", e.smt(), self.mem(&s, &v)),
                    err,
                ))
            }
            _ => Err(refuse(
                format!("the method `{name}` with these arguments"),
                span,
            )),
        }
    }

    #[expect(clippy::too_many_arguments, reason = "the parts of one quantifier")]
    pub(super) fn quantified(
        &mut self,
        scope: &Scope,
        quantifier: Quantifier,
        local: u32,
        s: Term,
        body: &Expr,
        env: &Env,
        span: Span,
    ) -> Result<Term, Refusal> {
        let any = quantifier == Quantifier::Any;
        let Sort::Set(elem) = s.sort.clone() else {
            return Err(refuse("a quantifier over something other than a set", span));
        };
        let at = local as usize;
        if let Val::Const(Value::Set(items)) = &s.val {
            // The interpreter's order: the set's.
            let elem = elem.map(|e| *e).unwrap_or(Sort::Str);
            let mut terms = Vec::new();
            for item in items.iter() {
                let mut inner = env.clone();
                inner.truncate(at);
                inner.push(Term::constant(item.clone(), elem.clone()));
                let t = self.boolean(scope, body, &inner)?;
                let decisive =
                    matches!(t.val, Val::Const(Value::Bool(b)) if b == any) && t.err.is_none();
                terms.push(t);
                if decisive {
                    break;
                }
            }
            let r = self.combine(terms, !any)?;
            return Ok(Term {
                err: or_err(&s.err, &r.err),
                ..r
            });
        }
        let Some(elem) = elem else {
            return Ok(Term {
                err: s.err.clone(),
                ..Term::boolean(!any)
            });
        };
        let v = self.fresh("q");
        let set = self.smt(&s)?;
        // Every member of `ex_T` exists.
        let all_of_type = matches!(*elem, Sort::Entity(ref t) if self.funcs.get(&Func::Exists(t.clone())) == Some(&set));
        if all_of_type {
            self.known.insert(v.clone());
        }
        let mut inner = env.clone();
        inner.truncate(at);
        inner.push(Term::sym((*elem).clone(), v.clone(), None));
        self.inside += 1;
        let t = self.boolean(scope, body, &inner);
        self.inside -= 1;
        self.known.remove(&v);
        let t = t?;
        // An error that depends on the element would make the result
        // depend on the elements' order; one that does not is raised by
        // the first element, whichever it is.
        let mentions_v = |text: &str| {
            text.match_indices(v.as_str()).any(|(i, _)| {
                let after = text[i + v.len()..].chars().next();
                let before = text[..i].chars().next_back();
                matches!(after, None | Some(' ' | ')')) && matches!(before, None | Some(' ' | '('))
            })
        };
        let body_err = match &t.err {
            Some(e) if mentions_v(e) => {
                return Err(refuse(
                    "a quantifier over a set the store decides whose body may raise an error that depends on the element (the result would depend on the order of its elements)",
                    span,
                ))
            }
            other => other.clone(),
        };
        let b = self.smt(&t)?;
        let member = self.mem(&set, &v);
        let val = if any {
            format!("(exists (({v} {})) (and {member} {b}))", elem.smt())
        } else {
            format!("(forall (({v} {})) (=> {member} {b}))", elem.smt())
        };
        let nonempty = format!("(exists (({v} {})) {member})", elem.smt());
        let err = or_err(&s.err, &and_err(&nonempty, &body_err));
        Ok(Term::sym(Sort::Bool, val, err))
    }
}
