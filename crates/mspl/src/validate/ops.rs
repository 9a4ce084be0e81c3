//! The operators whose typing needs the declarations: `in` (the entity and
//! action hierarchies), the methods of sets and entities (tags), extension
//! functions, and calls of mspl's rules.
//!
//! **Rules.** A rule is typed where it is called: each clause body is
//! checked with its parameters bound to the types of the call's arguments in
//! the current request environment, the result is `True` if some clause is,
//! `False` if every clause is, and `Bool` otherwise. Checking at every call
//! site (memoized per argument types) is sound because a call evaluates
//! exactly those bodies with values of exactly those types, and it keeps the
//! precision of Cedar's typing inside rules: `ram_identity(who) &&
//! who.operations…` is checked only where `who` can be a RAM identity. A
//! recursive call with the argument types of a call already being checked
//! is typed `Bool`; the outer check covers its body.

use super::error::ValidationError as E;
use super::expr::{Ans, Cap, Caps, Lit, TypeChecker};
use super::types::{extension_signature, Ty, Want};
use crate::syntax::ast::{CallTarget, Expr, ExprKind, Literal};
use crate::syntax::Span;
use crate::value::ext;

/// How deep rule calls may nest while being checked, each at new argument types.
const MAX_RULE_NESTING: usize = 32;

impl TypeChecker<'_> {
    pub(crate) fn check_in(&mut self, prior: &Caps, e: &Expr, a: &Expr, b: &Expr) -> Ans {
        let l = self.expect(prior, a, Want::Entity, |_| {
            Some("`in` tests the entity hierarchy; try `.contains()` for sets".into())
        });
        let r = self.expect(prior, b, Want::EntityOrEntitySet, |t| match t {
            Ty::Set(_) => {
                Some("`in` takes a set of entities; try `.contains()` for other sets".into())
            }
            Ty::String => Some("try `like` to match strings".into()),
            _ => None,
        });
        if !l.ok || !r.ok {
            return Ans::bad(Some(Ty::Bool));
        }
        // An action (literal or the `action` variable) in action literals is
        // decided by the declared action groups.
        if let (Some(Lit::Uid(lhs)), Some(rhs)) = (self.literal(a), self.literal_uids(b)) {
            if self.index.is_action_type(&lhs.ty) {
                let actions: Vec<_> = rhs
                    .iter()
                    .filter(|u| self.index.is_action_type(&u.ty))
                    .cloned()
                    .collect();
                if actions.is_empty() {
                    return self.record_in(e, Ty::False, &l.ty, &r.ty);
                }
                return match self.index.actions_in(actions.iter()) {
                    Some(all) => {
                        let t = Ty::singleton(all.contains(lhs));
                        Ans::good(t)
                    }
                    None => Ans::bad(Some(Ty::Bool)),
                };
            }
        }
        let lhs = match &l.ty {
            Some(Ty::Entity(n)) => Some(n.clone()),
            _ => None,
        };
        let rhs = match &r.ty {
            Some(Ty::Entity(n)) => Some(n.clone()),
            Some(Ty::Set(t)) => match &**t {
                Ty::Entity(n) => Some(n.clone()),
                _ => None,
            },
            _ => None,
        };
        match (lhs, rhs) {
            (Some(x), Some(y)) if !self.index.may_be_in(&x, &y) => {
                self.record_in(e, Ty::False, &l.ty, &r.ty)
            }
            _ => self.record_in(e, Ty::Bool, &l.ty, &r.ty),
        }
    }

    fn record_in(&mut self, e: &Expr, t: Ty, l: &Option<Ty>, r: &Option<Ty>) -> Ans {
        if self.track_in {
            let key = (e.span.file, e.span.start, e.span.end);
            let show = |t: &Option<Ty>| t.as_ref().map(|t| t.to_string()).unwrap_or_default();
            let entry = self
                .in_results
                .entry(key)
                .or_insert((false, show(l), show(r)));
            entry.0 |= t != Ty::False;
        }
        Ans::good(t)
    }

    /// The entity uids `e` is made of: a literal, `action`, or a set of them.
    fn literal_uids<'e>(&'e self, e: &'e Expr) -> Option<Vec<crate::syntax::ast::EntityUid>> {
        if let Some(Lit::Uid(u)) = self.literal(e) {
            return Some(vec![u.clone()]);
        }
        match &e.kind {
            ExprKind::Set(items) => items
                .iter()
                .map(|i| match self.literal(i) {
                    Some(Lit::Uid(u)) => Some(u.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }

    pub(crate) fn method(
        &mut self,
        prior: &Caps,
        e: &Expr,
        recv: &Expr,
        name: &str,
        args: &[Expr],
    ) -> Ans {
        // The argument count of every built-in method is the table's.
        let arity = |me: &mut Self, _: usize| {
            let n = crate::builtins::method(name).map_or(usize::MAX, |b| b.arguments());
            if args.len() != n {
                me.err(
                    E::WrongArgumentCount {
                        function: format!(".{name}()"),
                        expected: n,
                        found: args.len(),
                    },
                    e.span,
                );
                false
            } else {
                true
            }
        };
        let set_help = |t: &Ty| match t {
            Ty::Entity(_) => Some("try `in` to test the entity hierarchy".into()),
            Ty::Record(_) => Some("try `has` to test a record's attributes".into()),
            Ty::String => Some("try `like` to match strings".into()),
            _ => None,
        };
        match name {
            "contains" | "containsAll" | "containsAny" | "isEmpty" => {
                let s = self.expect(prior, recv, Want::Set, set_help);
                let want = if name == "isEmpty" { 0 } else { 1 };
                if !arity(self, want) {
                    return Ans::bad(Some(Ty::Bool));
                }
                if name == "isEmpty" {
                    return Ans::with_ok(Ty::Bool, s.ok);
                }
                let arg = if name == "contains" {
                    self.check(prior, &args[0])
                } else {
                    self.expect(prior, &args[0], Want::Set, |_| {
                        Some("try `.contains()` for a single element".into())
                    })
                };
                let ok = s.ok && arg.ok;
                let pair = match (&s.ty, &arg.ty) {
                    (Some(Ty::Set(elem)), Some(x)) if name == "contains" => {
                        Some(((**elem).clone(), x.clone()))
                    }
                    (Some(st), Some(x)) if name != "contains" => Some((st.clone(), x.clone())),
                    _ => None,
                };
                if let Some((x, y)) = pair {
                    if let Err(why) = Ty::lub(&x, &y) {
                        self.err(
                            E::IncompatibleTypes {
                                types: vec![x, y],
                                why,
                                context: "the set and the argument of this method",
                            },
                            e.span,
                        );
                        return Ans::bad(Some(Ty::Bool));
                    }
                }
                Ans::with_ok(Ty::Bool, ok)
            }
            "hasTag" | "getTag" => {
                let o = self.expect(prior, recv, Want::Entity, |_| None);
                if !arity(self, 1) {
                    return Ans::bad(None);
                }
                let k = self.expect(prior, &args[0], Want::String, |_| None);
                let Some(Ty::Entity(ty)) = o.ty else {
                    return Ans::bad(if name == "hasTag" {
                        Some(Ty::Bool)
                    } else {
                        None
                    });
                };
                if !k.ok {
                    return Ans::bad(if name == "hasTag" {
                        Some(Ty::Bool)
                    } else {
                        None
                    });
                }
                let cap = Cap::Tag(recv.clone(), args[0].clone());
                let tag_type = self.index.tag_type(&ty);
                if name == "hasTag" {
                    let t = match (&tag_type, prior.contains(&cap)) {
                        (None, _) => Ty::False,
                        (Some(_), true) => Ty::True,
                        (Some(_), false) => Ty::Bool,
                    };
                    let mut a = Ans::with_ok(t, o.ok);
                    if a.ok {
                        a.caps = vec![cap];
                    }
                    return a;
                }
                if !prior.contains(&cap) {
                    let tag = match &args[0].kind {
                        ExprKind::Lit(Literal::String(s)) => format!("{:?}", s.as_str()),
                        _ => "…".to_string(),
                    };
                    self.err(
                        E::UnsafeTagAccess {
                            tag,
                            on: ty.to_string(),
                        },
                        e.span,
                    );
                    return Ans::bad(None);
                }
                match tag_type {
                    Some(t) => Ans::with_ok(t, o.ok),
                    None => {
                        self.err(E::NoTagsAllowed { on: ty.to_string() }, e.span);
                        Ans::bad(None)
                    }
                }
            }
            _ => {
                let mut all: Vec<&Expr> = vec![recv];
                all.extend(args.iter());
                self.extension(prior, e, name, &all)
            }
        }
    }

    pub(crate) fn call(
        &mut self,
        prior: &Caps,
        e: &Expr,
        name: &str,
        args: &[Expr],
        target: CallTarget,
    ) -> Ans {
        match target {
            CallTarget::Rule(i) => self.rule_call(prior, e.span, i, args),
            _ => {
                let all: Vec<&Expr> = args.iter().collect();
                self.extension(prior, e, name, &all)
            }
        }
    }

    fn extension(&mut self, prior: &Caps, e: &Expr, name: &str, args: &[&Expr]) -> Ans {
        let Some((params, result)) = extension_signature(name) else {
            for a in args {
                self.check(prior, a);
            }
            return Ans::bad(None);
        };
        let mut failed = false;
        if args.len() != params.len() {
            self.err(
                E::WrongArgumentCount {
                    function: name.to_string(),
                    expected: params.len(),
                    found: args.len(),
                },
                e.span,
            );
            failed = true;
        }
        if ext::is_function(name) {
            if let [Expr {
                kind: ExprKind::Lit(Literal::String(s)),
                ..
            }] = args
            {
                if let Err(err) = ext::call_function(name, &[ext::ExtArg::String(s)]) {
                    let message = err.detail().to_string();
                    self.err(
                        E::ExtensionArgument {
                            function: name.to_string(),
                            message,
                            help: err.help,
                        },
                        e.span,
                    );
                    failed = true;
                }
            }
            if !args.iter().all(|a| matches!(a.kind, ExprKind::Lit(_))) {
                self.err(
                    E::NonLiteralExtensionArgument {
                        function: name.to_string(),
                    },
                    e.span,
                );
                failed = true;
            }
        }
        if failed {
            for a in args {
                self.check(prior, a);
            }
            return Ans::bad(Some(result));
        }
        let mut ok = true;
        for (a, p) in args.iter().zip(&params) {
            let want = match p {
                Ty::Ext(n) => Want::Ext(n),
                Ty::String => Want::String,
                _ => Want::Long,
            };
            ok &= self
                .expect(prior, a, want, |t| match (t, p) {
                    (Ty::String, Ty::Ext(n)) => Some(format!(
                        "maybe you forgot to apply the `{}` constructor?",
                        if *n == "ipaddr" { "ip" } else { n }
                    )),
                    _ => None,
                })
                .ok;
        }
        Ans::with_ok(result, ok)
    }

    fn rule_call(&mut self, prior: &Caps, span: Span, rule: u32, args: &[Expr]) -> Ans {
        let answers: Vec<Ans> = args.iter().map(|a| self.check(prior, a)).collect();
        let types: Option<Vec<Ty>> = answers.iter().map(|a| a.ty.clone()).collect();
        let (Some(types), true) = (types, answers.iter().all(|a| a.ok)) else {
            return Ans::bad(Some(Ty::Bool));
        };
        self.rule_at(span, rule, types, None)
    }

    /// Types rule `rule` called at `span` with arguments of `types`;
    /// `site` labels the call where no expression makes it (a rule the
    /// audit or the generator calls).
    pub(crate) fn rule_at(
        &mut self,
        span: Span,
        rule: u32,
        types: Vec<Ty>,
        site: Option<String>,
    ) -> Ans {
        let key = (rule, types);
        if let Some(done) = self.memo.get(&key) {
            return done.clone();
        }
        if self.stack.contains(&key) {
            return Ans::good(Ty::Bool);
        }
        let set = self.index.set;
        let Some(def) = set.rules.get(rule as usize) else {
            return Ans::bad(Some(Ty::Bool));
        };
        if self.stack.len() >= MAX_RULE_NESTING {
            self.err(
                E::RuleTooDeep {
                    rule: def.name.to_string(),
                },
                span,
            );
            return Ans::bad(Some(Ty::Bool));
        }
        let outermost = self.stack.is_empty();
        let saved = (
            self.base,
            self.locals.len(),
            self.call_site.clone(),
            self.rule_note.clone(),
        );
        if outermost {
            self.call_site = Some((
                span,
                site.unwrap_or_else(|| format!("rule `{}` is checked for this call", def.name)),
            ));
        }
        let params: Vec<String> = def
            .clauses
            .first()
            .map(|c| {
                c.params
                    .iter()
                    .zip(&key.1)
                    .map(|(p, t)| {
                        let t = t.to_string();
                        match t.char_indices().nth(60) {
                            Some((cut, _)) => format!("`{p}: {}…`", &t[..cut]),
                            None => format!("`{p}: {t}`"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.rule_note = Some(format!("in rule `{}` with {}", def.name, params.join(", ")));
        self.base = saved.1;
        self.locals.extend(key.1.iter().cloned());
        self.stack.push(key.clone());
        if !self.checked_rules.contains(&rule) {
            self.checked_rules.push(rule);
        }
        let mut ok = true;
        let mut any_true = false;
        let mut all_false = true;
        for clause in &def.clauses {
            self.locals.truncate(saved.1 + key.1.len());
            let a = self.boolean(&Vec::new(), &clause.body);
            ok &= a.ok;
            any_true |= a.ty == Some(Ty::True);
            all_false &= a.ty == Some(Ty::False);
        }
        self.stack.pop();
        self.locals.truncate(saved.1);
        self.base = saved.0;
        self.call_site = saved.2;
        self.rule_note = saved.3;
        let ty = if any_true {
            Ty::True
        } else if all_false {
            Ty::False
        } else {
            Ty::Bool
        };
        let ans = Ans::with_ok(ty, ok);
        self.memo.insert(key, ans.clone());
        ans
    }

    pub(crate) fn ordering(&mut self, prior: &Caps, a: &Expr, b: &Expr) -> Ans {
        use super::types::is_ordered;
        let l = self.check(prior, a);
        let r = self.check(prior, b);
        let (Some(x), Some(y)) = (l.ty.clone(), r.ty.clone()) else {
            return Ans::bad(Some(Ty::Bool));
        };
        let ordered = "`Long`, `datetime` or `duration`";
        let bad = |me: &mut Self, want: String, t: &Ty, at: &Expr| {
            me.err(
                E::UnexpectedType {
                    expected: want,
                    found: t.clone(),
                    help: None,
                },
                at.span,
            );
        };
        let good = match (&x, &y) {
            (Ty::Never, Ty::Never) => false,
            (Ty::Never, o) | (o, Ty::Never) => {
                let at = if x == Ty::Never { b } else { a };
                let fine = is_ordered(o);
                if !fine {
                    bad(self, ordered.into(), o, at);
                }
                fine
            }
            (p, q) if p == q && is_ordered(p) => true,
            (Ty::Long, o) => {
                bad(self, "`Long`".into(), o, b);
                false
            }
            (o, Ty::Long) => {
                bad(self, "`Long`".into(), o, a);
                false
            }
            (p, q) if is_ordered(p) => {
                bad(self, format!("`{p}`"), q, b);
                false
            }
            (p, q) if is_ordered(q) => {
                bad(self, format!("`{q}`"), p, a);
                false
            }
            (p, q) => {
                bad(self, ordered.into(), p, a);
                bad(self, ordered.into(), q, b);
                false
            }
        };
        Ans::with(Some(Ty::Bool), good && l.ok && r.ok, Vec::new())
    }

    pub(crate) fn set_literal(&mut self, prior: &Caps, e: &Expr, items: &[Expr]) -> Ans {
        let answers: Vec<Ans> = items.iter().map(|i| self.check(prior, i)).collect();
        let ok = answers.iter().all(|a| a.ok);
        if items.is_empty() {
            self.err(E::EmptySetLiteral, e.span);
            return Ans::bad(None);
        }
        let types: Option<Vec<Ty>> = answers.into_iter().map(|a| a.ty).collect();
        let Some(types) = types else {
            return Ans::bad(None);
        };
        match Ty::lub_all(&types) {
            Ok(t) => Ans::with(Some(Ty::Set(Box::new(t))), ok, Vec::new()),
            Err(why) => {
                let mut distinct: Vec<Ty> = Vec::new();
                for t in types {
                    if !distinct.contains(&t) {
                        distinct.push(t);
                    }
                }
                self.err(
                    E::IncompatibleTypes {
                        types: distinct,
                        why,
                        context: "the elements of this set",
                    },
                    e.span,
                );
                Ans::bad(None)
            }
        }
    }
}

impl Ans {
    /// A type with success or failure and no facts.
    pub(crate) fn with_ok(ty: Ty, ok: bool) -> Ans {
        if ok {
            Ans::good(ty)
        } else {
            Ans::bad(Some(ty))
        }
    }
}
