//! Records and tags: a record is its fields, each a term with the
//! condition under which it is present, never one SMT value. The context's
//! fields are constants; a record attribute's fields are functions of the
//! entity, one per path of names (`Func::Attr(T, [a, b])` for `e.a.b`).
//! Equality compares the fields; `if` chooses field by field.

use super::*;

/// The conjunction of SMT conditions, folded.
fn all(parts: Vec<String>) -> String {
    if parts.iter().any(|p| p == "false") {
        return "false".into();
    }
    let mut parts: Vec<String> = parts.into_iter().filter(|p| p != "true").collect();
    match parts.len() {
        0 => "true".into(),
        1 => parts.remove(0),
        _ => format!("(and {})", parts.join(" ")),
    }
}

/// A record literal of evaluated fields (in writing order, for errors).
pub(super) fn record_literal(terms: Vec<(SmolStr, Term)>) -> Term {
    let mut err = None;
    let mut sorts = BTreeMap::new();
    for (k, t) in &terms {
        err = or_err(&err, &t.err);
        sorts.insert(k.clone(), t.sort.clone());
    }
    let constant = terms.iter().all(|(_, t)| matches!(t.val, Val::Const(_)));
    let val = if constant {
        Val::Const(Value::record(terms.into_iter().filter_map(
            |(k, t)| match t.val {
                Val::Const(v) => Some((k, v)),
                _ => None,
            },
        )))
    } else {
        Val::Record(
            terms
                .into_iter()
                .map(|(k, t)| {
                    let field = Field {
                        present: "true".into(),
                        term: Some(Term { err: None, ..t }),
                    };
                    (k, field)
                })
                .collect(),
        )
    };
    Term {
        sort: Sort::Record(sorts),
        val,
        err,
    }
}

/// The sort of the record whose fields are `fields`.
fn record_sort(fields: &BTreeMap<SmolStr, Field>) -> Sort {
    Sort::Record(
        fields
            .iter()
            .filter_map(|(k, f)| Some((k.clone(), f.term.as_ref()?.sort.clone())))
            .collect(),
    )
}

impl<'a> Encoder<'a> {
    /// The record of the declared `fields`, as constants named from `base`
    /// (`base_j` for the `j`th field, `base_has_j` for its presence).
    pub(super) fn context_record(
        &mut self,
        base: &str,
        fields: &BTreeMap<SmolStr, AttrType>,
    ) -> Term {
        let mut out = BTreeMap::new();
        for (j, (k, at)) in fields.iter().enumerate() {
            let name = format!("{base}_{j}");
            let present = if at.optional {
                let h = format!("{base}_has_{j}");
                self.declare_const(&h, &Sort::Bool);
                h
            } else {
                "true".into()
            };
            let term = match &at.ty {
                Type::Record(inner) => Some(self.context_record(&name, inner)),
                ty => Sort::of(ty).map(|sort| {
                    self.declare_const(&name, &sort);
                    let leaf = self.leaf(&sort, name.clone());
                    Term::sym(sort, leaf, None)
                }),
            };
            out.insert(k.clone(), Field { present, term });
        }
        Term {
            sort: record_sort(&out),
            val: Val::Record(out),
            err: None,
        }
    }

    fn declare_const(&mut self, name: &str, sort: &Sort) {
        if let Sort::Set(Some(elem)) = sort {
            self.set_leaves
                .push((self.prelude.len(), name.to_string(), elem.smt(), false));
        }
        self.prelude
            .push(format!("(declare-const {name} {})", sort.smt()));
        self.consts.insert(name.to_string());
    }

    /// A value read from the store or the request as it is used: an IP
    /// address is normalized (any bits stand for a valid address).
    pub fn leaf(&mut self, sort: &Sort, raw: String) -> String {
        if *sort == Sort::Ext(ExtSort::Ip) {
            self.define_ip();
            format!("({IP_NORM} {raw})")
        } else {
            raw
        }
    }

    /// The value at `path` of the entity `id` of type `t`, of type `ty`.
    pub(super) fn attr_value(
        &mut self,
        t: &Name,
        path: Vec<SmolStr>,
        ty: &Type,
        id: &str,
        span: Span,
    ) -> Result<Term, Refusal> {
        if let Type::Record(fields) = ty {
            let mut out = BTreeMap::new();
            for (k, at) in fields.iter() {
                let mut p = path.clone();
                p.push(k.clone());
                let present = if at.optional {
                    let h = self.func(Func::Has(t.clone(), p.clone()));
                    format!("({h} {id})")
                } else {
                    "true".into()
                };
                let term = self.attr_value(t, p, &at.ty, id, span).ok();
                out.insert(k.clone(), Field { present, term });
            }
            return Ok(Term {
                sort: record_sort(&out),
                val: Val::Record(out),
                err: None,
            });
        }
        let Some(sort) = Sort::of(ty) else {
            return Err(refuse(
                format!(
                    "the attribute `{t}.{}`, of a type with no encoding",
                    path.join(".")
                ),
                span,
            ));
        };
        let f = self.func(Func::Attr(t.clone(), path));
        let leaf = self.leaf(&sort, format!("({f} {id})"));
        Ok(Term::sym(sort, leaf, None))
    }

    /// The fields of a record term.
    pub(super) fn fields(&self, t: &Term, span: Span) -> Result<BTreeMap<SmolStr, Field>, Refusal> {
        match (&t.val, &t.sort) {
            (Val::Record(f), _) => Ok(f.clone()),
            (Val::Const(Value::Record(r)), Sort::Record(sorts)) => r
                .iter()
                .map(|(k, v)| {
                    let sort = sorts
                        .get(k)
                        .cloned()
                        .ok_or_else(|| refuse("a record field of no known type", span))?;
                    let field = Field {
                        present: "true".into(),
                        term: Some(Term::constant(v.clone(), sort)),
                    };
                    Ok((k.clone(), field))
                })
                .collect(),
            _ => Err(refuse("a record of no known fields", span)),
        }
    }

    /// `a == b` for two records: the same fields present, with equal
    /// values.
    pub(super) fn records_equal(
        &mut self,
        a: &Term,
        b: &Term,
        span: Span,
    ) -> Result<String, Refusal> {
        let fa = self.fields(a, span)?;
        let fb = self.fields(b, span)?;
        let keys: BTreeSet<&SmolStr> = fa.keys().chain(fb.keys()).collect();
        let mut parts = Vec::new();
        for k in keys {
            match (fa.get(k), fb.get(k)) {
                (Some(x), Some(y)) => {
                    let (Some(tx), Some(ty)) = (&x.term, &y.term) else {
                        return Err(refuse(
                            format!("`==` on the record field `{k}`, of a type with no encoding"),
                            span,
                        ));
                    };
                    let eq = self.equal(tx, ty, span)?;
                    if x.present == "true" && y.present == "true" {
                        parts.push(eq);
                    } else {
                        parts.push(format!(
                            "(and (= {} {}) (=> {} {eq}))",
                            x.present, y.present, x.present
                        ));
                    }
                }
                (Some(x), None) | (None, Some(x)) => parts.push(not(&x.present)),
                (None, None) => {}
            }
        }
        Ok(all(parts))
    }

    /// `if c then a else b`'s value (errors aside): records field by
    /// field.
    pub(super) fn ite(&mut self, c: &str, a: &Term, b: &Term, span: Span) -> Result<Term, Refusal> {
        if let (Sort::Record(_), Sort::Record(_)) = (&a.sort, &b.sort) {
            let fa = self.fields(a, span)?;
            let fb = self.fields(b, span)?;
            if !fa.keys().eq(fb.keys()) {
                return Err(refuse(
                    "an `if` whose branches are records of different fields",
                    span,
                ));
            }
            let mut out = BTreeMap::new();
            for ((k, x), y) in fa.iter().zip(fb.values()) {
                let present = if x.present == y.present {
                    x.present.clone()
                } else {
                    format!("(ite {c} {} {})", x.present, y.present)
                };
                let term = match (&x.term, &y.term) {
                    (Some(tx), Some(ty)) => Some(self.ite(c, tx, ty, span)?),
                    _ => None,
                };
                out.insert(k.clone(), Field { present, term });
            }
            return Ok(Term {
                sort: record_sort(&out),
                val: Val::Record(out),
                err: None,
            });
        }
        if a.sort != b.sort {
            return Err(refuse("an `if` whose branches differ in type", span));
        }
        Ok(Term::sym(
            a.sort.clone(),
            format!("(ite {c} {} {})", self.smt(a)?, self.smt(b)?),
            None,
        ))
    }

    /// `x has a.b.c`: each attribute present, the next one read from it.
    pub(super) fn has_path(
        &mut self,
        x: Term,
        path: &[SmolStr],
        span: Span,
    ) -> Result<Term, Refusal> {
        let err = x.err.clone();
        let mut cur = Term { err: None, ..x };
        let mut conds = Vec::new();
        for (n, attr) in path.iter().enumerate() {
            let c = self.has_attr(&cur, attr, span)?;
            let absent = c == "false";
            conds.push(c);
            if absent {
                break;
            }
            if n + 1 < path.len() {
                cur = Term {
                    err: None,
                    ..self.get_attr(&cur, attr, span)?
                };
            }
        }
        Ok(fold_bool(all(conds), err))
    }

    /// Whether `x` has the attribute (its errors aside).
    fn has_attr(&mut self, x: &Term, attr: &SmolStr, span: Span) -> Result<String, Refusal> {
        match &x.sort {
            Sort::Entity(t) => {
                let t = t.clone();
                let id = self.smt(x)?;
                Ok(match self.attr_type(&t, attr) {
                    None => "false".to_string(),
                    Some(at) => {
                        let ex = self.exists(&t, &id);
                        if at.optional {
                            let h = self.func(Func::Has(t.clone(), vec![attr.clone()]));
                            all(vec![ex, format!("({h} {id})")])
                        } else {
                            ex
                        }
                    }
                })
            }
            Sort::Record(_) => Ok(self
                .fields(x, span)?
                .get(attr)
                .map(|f| f.present.clone())
                .unwrap_or_else(|| "false".into())),
            _ => Err(refuse(
                "`has` on something other than an entity or a record",
                span,
            )),
        }
    }

    /// `x.hasTag(k)` and `x.getTag(k)`.
    pub(super) fn tag_method(
        &mut self,
        x: Term,
        name: &str,
        args: Vec<Term>,
        span: Span,
    ) -> Result<Term, Refusal> {
        let (Sort::Entity(t), [k]) = (&x.sort, args.as_slice()) else {
            return Err(refuse(format!("`{name}` with these arguments"), span));
        };
        let t = t.clone();
        if k.sort != Sort::Str {
            return Err(refuse(
                format!("`{name}` of a key that is not a string"),
                span,
            ));
        }
        let err = or_err(&x.err, &k.err);
        let Some(tags) = self.tag_type(&t) else {
            if name == "hasTag" {
                return Ok(Term {
                    err,
                    ..Term::boolean(false)
                });
            }
            return Err(refuse(
                format!("`getTag` on `{t}`, which has no tags"),
                span,
            ));
        };
        if self.inside > 0 && !matches!(k.val, Val::Const(_)) {
            return Err(refuse(
                "a tag key that may depend on a quantified variable",
                span,
            ));
        }
        let id = self.smt(&x)?;
        let key = self.smt(k)?;
        self.tag_keys.insert((t.clone(), key.clone()));
        let ex = self.exists(&t, &id);
        let h = self.func(Func::HasTag(t.clone()));
        let has = format!("({h} {id} {key})");
        if name == "hasTag" {
            return Ok(fold_bool(all(vec![ex, has]), err));
        }
        let sort = match Sort::of(&tags) {
            Some(Sort::Record(_)) | None => {
                return Err(refuse(
                    format!("`getTag` on `{t}`, whose tags are records or have no encoding"),
                    span,
                ))
            }
            Some(sort) => sort,
        };
        let f = self.func(Func::Tag(t.clone()));
        let leaf = self.leaf(&sort, format!("({f} {id} {key})"));
        let mut err = err;
        if ex != "true" {
            err = or_err(&err, &Some(not(&ex)));
        }
        err = or_err(&err, &Some(not(&has)));
        Ok(Term::sym(sort, leaf, err))
    }
}
