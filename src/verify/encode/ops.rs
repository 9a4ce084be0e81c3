//! Booleans in evaluation order, attributes, and the binary operators
//! (equality, comparison, overflow-checked arithmetic, `in`).

use super::*;

impl<'a> Encoder<'a> {
    pub(super) fn boolean(&mut self, scope: &Scope, e: &Expr, env: &Env) -> Result<Term, Refusal> {
        let t = self.expr(scope, e, env)?;
        if t.sort != Sort::Bool {
            return Err(refuse("a condition that is not a boolean", e.span));
        }
        Ok(t)
    }

    /// `a && b && …` (`and`) or `a || b || …`, left to right, stopping at
    /// the first decisive value or error.
    pub(super) fn chain(
        &mut self,
        scope: &Scope,
        items: &[Expr],
        env: &Env,
        and: bool,
    ) -> Result<Term, Refusal> {
        let mut terms = Vec::new();
        for item in items {
            let t = self.boolean(scope, item, env)?;
            let decisive =
                matches!(t.val, Val::Const(Value::Bool(b)) if b != and) && t.err.is_none();
            terms.push(t);
            if decisive {
                break;
            }
        }
        self.combine(terms, and)
    }

    /// Combines evaluated booleans as a chain does.
    pub(super) fn combine(&mut self, terms: Vec<Term>, and: bool) -> Result<Term, Refusal> {
        let mut acc = Term::boolean(and);
        for t in terms.into_iter().rev() {
            // t op acc, t first.
            acc = match (&t.val, &t.err) {
                (Val::Const(Value::Bool(b)), None) if *b == and => acc,
                (Val::Const(Value::Bool(b)), None) if *b != and => t,
                _ => {
                    let tv = self.smt(&t)?;
                    let av = self.smt(&acc)?;
                    let (val, go_on) = if and {
                        (format!("(and {tv} {av})"), tv.clone())
                    } else {
                        (format!("(or {tv} {av})"), not(&tv))
                    };
                    let reach = match &t.err {
                        None => go_on,
                        Some(e) => format!("(and {} {go_on})", not(e)),
                    };
                    let err = or_err(&t.err, &and_err(&reach, &acc.err));
                    Term::sym(Sort::Bool, val, err)
                }
            };
        }
        Ok(acc)
    }

    pub(super) fn context_field(&self, name: &str) -> Option<(usize, AttrType)> {
        self.slice
            .context
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k.as_str() == name)
            .map(|(i, (_, t))| (i, t.clone()))
    }

    pub(super) fn get_attr(
        &mut self,
        x: &Term,
        attr: &SmolStr,
        span: Span,
    ) -> Result<Term, Refusal> {
        match &x.sort {
            Sort::Entity(t) => {
                let Some(at) = self.attr_type(t, attr) else {
                    return Err(refuse(
                        format!("the undeclared attribute `{t}.{attr}`"),
                        span,
                    ));
                };
                let Some(sort) = Sort::of(&at.ty) else {
                    return Err(refuse(
                        format!("the attribute `{t}.{attr}`, of a record or extension type"),
                        span,
                    ));
                };
                let id = self.smt(x)?;
                let ex = self.exists(t, &id);
                let f = self.func(Func::Attr(t.clone(), attr.clone()));
                let mut err = x.err.clone();
                if ex != "true" {
                    err = or_err(&err, &Some(not(&ex)));
                }
                if at.optional {
                    let h = self.func(Func::Has(t.clone(), attr.clone()));
                    err = or_err(&err, &Some(format!("(not ({h} {id}))")));
                }
                Ok(Term::sym(sort, format!("({f} {id})"), err))
            }
            Sort::Context => {
                let Some((i, at)) = self.context_field(attr) else {
                    return Err(refuse(
                        format!("the undeclared context field `{attr}`"),
                        span,
                    ));
                };
                let Some(sort) = Sort::of(&at.ty) else {
                    return Err(refuse(
                        format!("the context field `{attr}`, of a record or extension type"),
                        span,
                    ));
                };
                let err = at.optional.then(|| format!("(not context_has_{i})"));
                Ok(Term::sym(sort, format!("context_{i}"), err))
            }
            _ => Err(refuse(
                "an attribute of something other than an entity or the context",
                span,
            )),
        }
    }

    pub(super) fn binary(
        &mut self,
        op: BinOp,
        a: Term,
        b: Term,
        span: Span,
    ) -> Result<Term, Refusal> {
        let err = or_err(&a.err, &b.err);
        match op {
            BinOp::Eq | BinOp::Ne => {
                let same = a.sort == b.sort
                    || matches!(
                        (&a.sort, &b.sort),
                        (Sort::Set(None), Sort::Set(_)) | (Sort::Set(_), Sort::Set(None))
                    );
                let eq = if let (Val::Const(x), Val::Const(y)) = (&a.val, &b.val) {
                    (x == y).to_string()
                } else if !same {
                    "false".to_string()
                } else if a.sort == Sort::Context {
                    return Err(refuse("`==` on the context record", span));
                } else {
                    let sort = if matches!(a.sort, Sort::Set(None)) {
                        &b.sort
                    } else {
                        &a.sort
                    };
                    for t in [&a, &b] {
                        if let Val::Sym(x) = &t.val {
                            if self.predicates.contains(x) {
                                return Err(refuse(
                                    "`==` on the set of all entities of a type",
                                    span,
                                ));
                            }
                        }
                    }
                    let (x, y) = (
                        self.smt(&Term {
                            sort: sort.clone(),
                            ..a
                        })?,
                        self.smt(&Term {
                            sort: sort.clone(),
                            ..b
                        })?,
                    );
                    format!("(= {x} {y})")
                };
                let val = if op == BinOp::Ne { not(&eq) } else { eq };
                Ok(fold_bool(val, err))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if a.sort != Sort::Long || b.sort != Sort::Long {
                    return Err(refuse("a comparison of something other than longs", span));
                }
                let f = match op {
                    BinOp::Lt => "bvslt",
                    BinOp::Le => "bvsle",
                    BinOp::Gt => "bvsgt",
                    _ => "bvsge",
                };
                Ok(Term::sym(
                    Sort::Bool,
                    format!("({f} {} {})", self.smt(&a)?, self.smt(&b)?),
                    err,
                ))
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul => {
                if a.sort != Sort::Long || b.sort != Sort::Long {
                    return Err(refuse("arithmetic on something other than longs", span));
                }
                let (x, y) = (self.smt(&a)?, self.smt(&b)?);
                let f = match op {
                    BinOp::Add => "bvadd",
                    BinOp::Sub => "bvsub",
                    _ => "bvmul",
                };
                // Exact in 128 bits; an overflow where it does not fit 64.
                let wide = format!("({f} ((_ sign_extend 64) {x}) ((_ sign_extend 64) {y}))");
                let overflow =
                    format!("(not (= {wide} ((_ sign_extend 64) ((_ extract 63 0) {wide}))))");
                Ok(Term::sym(
                    Sort::Long,
                    format!("({f} {x} {y})"),
                    or_err(&err, &Some(overflow)),
                ))
            }
            BinOp::In => self.in_value(a, b, span),
        }
    }
}
