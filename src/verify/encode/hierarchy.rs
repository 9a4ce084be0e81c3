//! The hierarchy: existence, `in` on entities and actions, and the
//! ancestor relations' axioms (instantiated on the terms `in` is used on,
//! or quantified where it meets a bound variable).

use super::*;

impl<'a> Encoder<'a> {
    /// The types `T`'s entities may have as ancestors, transitively.
    pub fn ancestor_types(&self, ty: &Name) -> BTreeSet<Name> {
        self.ancestors.get(ty).cloned().unwrap_or_default()
    }

    /// Whether entities of type `t` may have ancestors of type `u`.
    pub(super) fn reaches(&self, t: &Name, u: &Name) -> bool {
        self.ancestors.get(t).is_some_and(|a| a.contains(u))
    }

    /// The pairs (type, ancestor type) the declarations allow.
    pub(super) fn ancestry_pairs(&self) -> Vec<(Name, Name)> {
        let mut pairs = Vec::new();
        for t in self.schema.entity_types.keys() {
            for u in self.ancestor_types(t) {
                pairs.push((t.clone(), u));
            }
        }
        pairs
    }

    pub(super) fn direct(&self, t: &Name) -> Vec<Name> {
        self.schema
            .entity_types
            .get(t)
            .map(|d| d.parents.clone())
            .unwrap_or_default()
    }

    /// `in` without equality: `x` exists and has `y` among its ancestors.
    pub(super) fn below(&mut self, t: &Name, x: &str, u: &Name, y: &str) -> String {
        let anc = self.func(Func::Anc(t.clone(), u.clone()));
        let ex = self.exists(t, x);
        format!("(and {ex} ({anc} {x} {y}))")
    }

    /// The hierarchy's axioms, once every term is encoded: transitive,
    /// acyclic where cycles are refused, and an ancestor that is not of a
    /// direct parent type reached through one (so that a model is a store
    /// the declarations allow). Quantified where `in` meets a bound
    /// variable; otherwise instantiated on the entity terms `in` is used
    /// on (and the paths' witnesses), which keeps the query free of
    /// quantifiers. Either way every real store satisfies them.
    pub fn finish(&mut self) {
        let pairs = self.ancestry_pairs();
        if self.nonground {
            for (t, v) in &pairs {
                if t == v && self.mode == ErrorMode::Cedar {
                    let b = self.below(t, "x", v, "x");
                    self.prelude
                        .push(format!("(assert (forall ((x String)) (not {b})))"));
                }
                for u in self.ancestor_types(t) {
                    if self.reaches(&u, v) {
                        let (xy, yz) = (self.below(t, "x", &u, "y"), self.below(&u, "y", v, "z"));
                        let xz = self.func(Func::Anc(t.clone(), v.clone()));
                        self.prelude.push(format!(
                            "(assert (forall ((x String) (y String) (z String)) (=> (and {xy} {yz}) ({xz} x z))))"
                        ));
                    }
                }
                if let Some(ways) = self.witness(t, "x", v, "z") {
                    let b = self.below(t, "x", v, "z");
                    self.prelude.push(format!(
                        "(assert (forall ((x String) (z String)) (=> {b} {ways})))"
                    ));
                }
            }
            return;
        }
        let mut terms = self.anc_terms.clone();
        let mut done = BTreeSet::new();
        for _ in 0..8 {
            let mut more = Vec::new();
            for (t, x) in &terms {
                for (v, z) in &terms {
                    if !self.reaches(t, v)
                        || !done.insert((t.clone(), x.clone(), v.clone(), z.clone()))
                    {
                        continue;
                    }
                    if let Some(ways) = self.witness(t, x, v, z) {
                        let b = self.below(t, x, v, z);
                        self.prelude.push(format!("(assert (=> {b} {ways}))"));
                        let w = self.func(Func::Witness(t.clone(), v.clone()));
                        for u in self.direct(t) {
                            more.push((u, format!("({w} {x} {z})")));
                        }
                    }
                }
            }
            let before = terms.len();
            terms.extend(more);
            if terms.len() == before {
                break;
            }
        }
        let terms: Vec<(Name, String)> = terms.into_iter().collect();
        for (t, x) in &terms {
            if self.mode == ErrorMode::Cedar && self.reaches(t, t) {
                let b = self.below(t, x, t, x);
                self.prelude.push(format!("(assert (not {b}))"));
            }
            for (u, y) in &terms {
                if !self.reaches(t, u) {
                    continue;
                }
                for (v, z) in &terms {
                    if !self.reaches(u, v) || !self.reaches(t, v) {
                        continue;
                    }
                    let (xy, yz) = (self.below(t, x, u, y), self.below(u, y, v, z));
                    let xz = self.func(Func::Anc(t.clone(), v.clone()));
                    self.prelude
                        .push(format!("(assert (=> (and {xy} {yz}) ({xz} {x} {z})))"));
                }
            }
        }
    }

    /// Where `v` is an ancestor type of `t` but not a direct parent type:
    /// the condition that the witness `w(x, z)` is a parent of `x` on a
    /// path to `z`; `None` for a direct parent type.
    pub(super) fn witness(&mut self, t: &Name, x: &str, v: &Name, z: &str) -> Option<String> {
        let direct = self.direct(t);
        if direct.contains(v) {
            return None;
        }
        let w = self.func(Func::Witness(t.clone(), v.clone()));
        let wx = format!("({w} {x} {z})");
        let mut ways = Vec::new();
        for u in &direct {
            if !self.reaches(u, v) {
                continue;
            }
            let tu = self.below(t, x, u, &wx);
            let uv = self.below(u, &wx, v, z);
            ways.push(format!("(and {tu} {uv})"));
        }
        Some(if ways.is_empty() {
            "false".to_string()
        } else {
            format!("(or {})", ways.join(" "))
        })
    }

    /// Whether the entity `id` of type `ty` exists.
    pub(super) fn exists(&mut self, ty: &Name, id: &str) -> String {
        if mspl::__internal::schema::is_action_type(ty.as_str()) || self.known.contains(id) {
            return "true".into();
        }
        let ex = self.func(Func::Exists(ty.clone()));
        format!("({ex} {id})")
    }

    /// `a in b` for entities.
    pub(super) fn in_entity(&mut self, a: &Term, b: &Term, span: Span) -> Result<Term, Refusal> {
        let (Sort::Entity(at), Sort::Entity(bt)) = (&a.sort, &b.sort) else {
            return Err(refuse("`in` on something other than entities", span));
        };
        let err = or_err(&a.err, &b.err);
        if let (Val::Const(Value::Entity(x)), Val::Const(Value::Entity(y))) = (&a.val, &b.val) {
            if mspl::__internal::schema::is_action_type(at.as_str()) {
                return Ok(Term {
                    err,
                    ..Term::boolean(self.action_in(x, y))
                });
            }
        }
        if mspl::__internal::schema::is_action_type(at.as_str()) {
            return Err(refuse("`in` on an action that is not known", span));
        }
        let (x, y) = (self.smt(a)?, self.smt(b)?);
        let mut ways = Vec::new();
        if at == bt {
            ways.push(format!("(= {x} {y})"));
        }
        if self.reaches(at, bt) {
            if self.inside > 0 {
                self.nonground = true;
            } else {
                self.anc_terms.insert((at.clone(), x.clone()));
                self.anc_terms.insert((bt.clone(), y.clone()));
            }
            ways.push(self.below(at, &x, bt, &y));
        }
        let val = match ways.len() {
            0 => "false".to_string(),
            1 => ways.remove(0),
            _ => format!("(or {})", ways.join(" ")),
        };
        Ok(Term::sym(Sort::Bool, val, err))
    }

    /// Whether action `a` is `b` or in its groups, from the declarations.
    pub(super) fn action_in(&self, a: &EntityUid, b: &EntityUid) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![a.clone()];
        while let Some(x) = todo.pop() {
            if &x == b {
                return true;
            }
            if seen.insert(x.clone()) {
                if let Some(d) = self.schema.actions.get(&x) {
                    todo.extend(d.parents.iter().cloned());
                }
            }
        }
        false
    }
}
