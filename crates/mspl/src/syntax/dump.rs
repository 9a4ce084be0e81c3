//! A compact, span-free S-expression dump of the AST, for snapshot tests and
//! the REPL: one construct per line, children indented.

use super::ast::*;
use std::fmt::Write;

/// Dumps a whole file.
pub fn file(f: &File) -> String {
    let mut d = Dumper::default();
    for item in &f.items {
        d.item(item);
    }
    d.out
}

/// Dumps one expression.
pub fn expr(e: &Expr) -> String {
    let mut d = Dumper::default();
    d.expr(e);
    d.out
}

#[derive(Default)]
struct Dumper {
    out: String,
    indent: usize,
}

impl Dumper {
    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn nested(&mut self, head: &str, f: impl FnOnce(&mut Dumper)) {
        self.line(head);
        self.indent += 1;
        f(self);
        self.indent -= 1;
    }

    fn annotations(&mut self, annotations: &[Annotation]) {
        for a in annotations {
            match &a.value {
                Some(v) => self.line(&format!("@{}({v:?})", a.key)),
                None => self.line(&format!("@{}", a.key)),
            }
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Policy(p) => self.policy(p),
            Item::Rule(r) => {
                let head = format!("rule {}({})", r.name, r.params.join(", "));
                self.nested(&head, |d| {
                    d.annotations(&r.annotations);
                    d.expr(&r.body);
                });
            }
            Item::Decl(decl) => self.decl(decl),
            Item::Namespace(ns) => {
                self.nested(&format!("namespace {}", ns.name), |d| {
                    d.annotations(&ns.annotations);
                    for decl in &ns.decls {
                        d.decl(decl);
                    }
                });
            }
        }
    }

    fn policy(&mut self, p: &Policy) {
        let effect = match p.effect {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        };
        self.nested(effect, |d| {
            d.annotations(&p.annotations);
            d.line(&format!(
                "principal {}",
                scope(&p.principal, Slot::Principal)
            ));
            d.line(&format!(
                "action {}",
                match &p.action {
                    ActionConstraint::Any => "any".to_string(),
                    ActionConstraint::Eq(u, _) => format!("== {u}"),
                    ActionConstraint::In(us, _) => format!(
                        "in [{}]",
                        us.iter()
                            .map(|u| u.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            ));
            d.line(&format!("resource {}", scope(&p.resource, Slot::Resource)));
            for c in &p.conditions {
                let kw = match c.kind {
                    ConditionKind::When => "when",
                    ConditionKind::Unless => "unless",
                };
                d.nested(kw, |d| d.expr(&c.body));
            }
        });
    }

    fn decl(&mut self, decl: &Decl) {
        match decl {
            Decl::Entity(e) => {
                let mut head = format!("entity {}", e.names.join(", "));
                if !e.parents.is_empty() {
                    let _ = write!(head, " in [{}]", e.parents.join(", "));
                }
                if let Some(ids) = &e.enum_ids {
                    let _ = write!(head, " enum {ids:?}");
                }
                self.nested(&head, |d| {
                    d.annotations(&e.annotations);
                    for a in &e.attrs {
                        d.line(&attr(a));
                    }
                    if let Some(t) = &e.tags {
                        d.line(&format!("tags {}", ty(t)));
                    }
                });
            }
            Decl::Action(a) => {
                let mut head = format!(
                    "action {}",
                    a.names
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if !a.parents.is_empty() {
                    let parents: Vec<String> = a
                        .parents
                        .iter()
                        .map(|(t, id)| match t {
                            Some(t) => format!("{t}::{id:?}"),
                            None => format!("{id:?}"),
                        })
                        .collect();
                    let _ = write!(head, " in [{}]", parents.join(", "));
                }
                self.nested(&head, |d| {
                    d.annotations(&a.annotations);
                    if let Some(p) = &a.principals {
                        d.line(&format!("principal [{}]", p.join(", ")));
                    }
                    if let Some(r) = &a.resources {
                        d.line(&format!("resource [{}]", r.join(", ")));
                    }
                    if let Some(c) = &a.context {
                        d.line(&format!("context {}", ty(c)));
                    }
                });
            }
            Decl::Type(t) => {
                self.nested(&format!("type {} = {}", t.name, ty(&t.ty)), |d| {
                    d.annotations(&t.annotations)
                });
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Error => self.line("<error>"),
            ExprKind::Lit(Literal::Bool(b)) => self.line(&b.to_string()),
            ExprKind::Lit(Literal::Long(n)) => self.line(&n.to_string()),
            ExprKind::Lit(Literal::String(s)) => self.line(&format!("{s:?}")),
            ExprKind::Entity(u) => self.line(&u.to_string()),
            ExprKind::Var(v) => self.line(v.name()),
            ExprKind::Local(local, name) => self.line(&format!("{name}#{local}")),
            ExprKind::If(c, a, b) => self.nested("if", |d| {
                d.expr(c);
                d.expr(a);
                d.expr(b);
            }),
            ExprKind::And(items) => self.nested("&&", |d| {
                for x in items {
                    d.expr(x);
                }
            }),
            ExprKind::Or(items) => self.nested("||", |d| {
                for x in items {
                    d.expr(x);
                }
            }),
            ExprKind::Not(a) => self.nested("!", |d| d.expr(a)),
            ExprKind::Neg(a) => self.nested("neg", |d| d.expr(a)),
            ExprKind::Binary(op, a, b) => self.nested(op.symbol(), |d| {
                d.expr(a);
                d.expr(b);
            }),
            ExprKind::Has(a, path) => {
                let head = format!(
                    "has {}",
                    path.iter()
                        .map(|p| format!("{p:?}"))
                        .collect::<Vec<_>>()
                        .join(".")
                );
                self.nested(&head, |d| d.expr(a));
            }
            ExprKind::Like(a, pattern) => {
                // The pattern as written: `\*` for a literal star, other
                // characters escaped once, as in a string.
                let text: String = pattern
                    .iter()
                    .map(|p| match p {
                        PatternElem::Wildcard => "*".to_string(),
                        PatternElem::Char('*') => "\\*".to_string(),
                        PatternElem::Char(c) => c.escape_debug().to_string(),
                    })
                    .collect();
                self.nested(&format!("like \"{text}\""), |d| d.expr(a));
            }
            ExprKind::Is(a, t, within) => self.nested(&format!("is {t}"), |d| {
                d.expr(a);
                if let Some(w) = within {
                    d.nested("in", |d| d.expr(w));
                }
            }),
            ExprKind::GetAttr(a, name) => self.nested(&format!(".{name:?}"), |d| d.expr(a)),
            ExprKind::Method(a, name, args) => self.nested(&format!(".{name}()"), |d| {
                d.expr(a);
                for x in args {
                    d.expr(x);
                }
            }),
            ExprKind::Call { name, args, .. } => self.nested(&format!("call {name}"), |d| {
                for x in args {
                    d.expr(x);
                }
            }),
            ExprKind::Set(items) => self.nested("set", |d| {
                for x in items {
                    d.expr(x);
                }
            }),
            ExprKind::Record(entries) => self.nested("record", |d| {
                for (k, v) in entries {
                    d.nested(&format!("{k:?}:"), |d| d.expr(v));
                }
            }),
            ExprKind::Quantified {
                quantifier,
                var,
                local,
                set,
                body,
            } => {
                let q = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                };
                self.nested(&format!("{q} {var}#{local}"), |d| {
                    d.expr(set);
                    d.expr(body);
                });
            }
        }
    }
}

fn scope(c: &ScopeConstraint, slot: Slot) -> String {
    match c {
        ScopeConstraint::Any => "any".into(),
        ScopeConstraint::Eq(u, _) => format!("== {u}"),
        ScopeConstraint::In(u, _) => format!("in {u}"),
        ScopeConstraint::Is(t, _) => format!("is {t}"),
        ScopeConstraint::IsIn(t, u, _) => format!("is {t} in {u}"),
        ScopeConstraint::EqSlot(_) => format!("== {slot}"),
        ScopeConstraint::InSlot(_) => format!("in {slot}"),
        ScopeConstraint::IsInSlot(t, _) => format!("is {t} in {slot}"),
    }
}

fn attr(a: &AttrDecl) -> String {
    format!(
        "{:?}{}: {}",
        a.name,
        if a.optional { "?" } else { "" },
        ty(&a.ty)
    )
}

fn ty(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named(n, _) => n.to_string(),
        TypeExpr::Set(inner, _) => format!("Set<{}>", ty(inner)),
        TypeExpr::Record(attrs, _) => {
            format!(
                "{{{}}}",
                attrs.iter().map(attr).collect::<Vec<_>>().join(", ")
            )
        }
    }
}
