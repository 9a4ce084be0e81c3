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

    pub(super) fn get_attr(
        &mut self,
        x: &Term,
        attr: &SmolStr,
        span: Span,
    ) -> Result<Term, Refusal> {
        match &x.sort {
            Sort::Entity(t) => {
                let t = t.clone();
                let Some(at) = self.attr_type(&t, attr) else {
                    return Err(refuse(
                        format!("the undeclared attribute `{t}.{attr}`"),
                        span,
                    ));
                };
                let id = self.smt(x)?;
                let ex = self.exists(&t, &id);
                let mut err = x.err.clone();
                if ex != "true" {
                    err = or_err(&err, &Some(not(&ex)));
                }
                let path = vec![attr.clone()];
                if at.optional {
                    let h = self.func(Func::Has(t.clone(), path.clone()));
                    err = or_err(&err, &Some(format!("(not ({h} {id}))")));
                }
                let value = self.attr_value(&t, path, &at.ty, &id, span)?;
                Ok(Term { err, ..value })
            }
            Sort::Record(_) => {
                let fields = self.fields(x, span)?;
                let Some(field) = fields.get(attr) else {
                    return Err(refuse(
                        format!("the attribute `{attr}`, not in the record's type"),
                        span,
                    ));
                };
                let Some(term) = field.term.clone() else {
                    return Err(refuse(
                        format!("the field `{attr}`, of a type with no encoding"),
                        span,
                    ));
                };
                let err = if field.present == "true" {
                    x.err.clone()
                } else {
                    or_err(&x.err, &Some(not(&field.present)))
                };
                Ok(Term { err, ..term })
            }
            _ => Err(refuse(
                "an attribute of something other than an entity or a record",
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
                let eq = self.equal(&a, &b, span)?;
                let val = if op == BinOp::Ne { not(&eq) } else { eq };
                Ok(fold_bool(val, err))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ordered = matches!(
                    a.sort,
                    Sort::Long | Sort::Ext(ExtSort::Datetime | ExtSort::Duration)
                );
                if a.sort != b.sort || !ordered {
                    return Err(refuse(
                        "a comparison of something other than longs, datetimes or durations",
                        span,
                    ));
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

impl<'a> Encoder<'a> {
    /// Whether two values (their errors aside) are equal, as SMT: values
    /// of different types never are; records field by field.
    pub(super) fn equal(&mut self, a: &Term, b: &Term, span: Span) -> Result<String, Refusal> {
        if let (Val::Const(x), Val::Const(y)) = (&a.val, &b.val) {
            return Ok((x == y).to_string());
        }
        if let (Sort::Record(_), Sort::Record(_)) = (&a.sort, &b.sort) {
            return self.records_equal(a, b, span);
        }
        let same = a.sort == b.sort
            || matches!(
                (&a.sort, &b.sort),
                (Sort::Set(None), Sort::Set(_)) | (Sort::Set(_), Sort::Set(None))
            );
        if !same {
            return Ok("false".to_string());
        }
        let sort = if matches!(a.sort, Sort::Set(None)) {
            &b.sort
        } else {
            &a.sort
        };
        for t in [a, b] {
            if let Val::Sym(x) = &t.val {
                if self.predicates.contains(x) {
                    return Err(refuse("`==` on the set of all entities of a type", span));
                }
            }
        }
        let x = self.smt(&Term {
            sort: sort.clone(),
            ..a.clone()
        })?;
        let y = self.smt(&Term {
            sort: sort.clone(),
            ..b.clone()
        })?;
        Ok(format!("(= {x} {y})"))
    }
}
