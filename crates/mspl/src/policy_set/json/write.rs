//! Policies written as Cedar's JSON policy format, refusing what it has
//! no form for.

use crate::builtins;
use crate::diag::Diagnostic;
use crate::syntax::ast::*;
use crate::span::Span;
use serde_json::{json, Map, Value};
/// Why a policy has no JSON form: the construct, where it is.
#[derive(Debug)]
pub struct NoJsonForm {
    /// What Cedar has no form for (`a rule call`, `a quantifier`).
    pub construct: String,
    /// Where it is written.
    pub span: Span,
}

impl From<&NoJsonForm> for Diagnostic {
    fn from(e: &NoJsonForm) -> Diagnostic {
        Diagnostic::error(format!("Cedar's JSON policy format has no form for {}", e.construct), e.span, "not Cedar")
            .with_help(Some("only Cedar's policies, templates and links translate; rules, quantifiers and declarations are mspl's".into()))
    }
}

/// A policy set as Cedar's JSON: `staticPolicies` and `templates` by id,
/// `templateLinks` in order; keys sorted. Or every construct that has no
/// form there (one per policy).
pub fn policy_set_to_json(set: &crate::policy_set::PolicySet) -> Result<Value, Vec<NoJsonForm>> {
    let mut statics = Map::new();
    let mut links = Vec::new();
    // A link names its template as links do; the JSON names it by id.
    let template_ids: std::collections::HashMap<&str, &str> = set
        .templates
        .iter()
        .map(|t| (crate::policy_set::template_name(t), t.id.as_str()))
        .collect();
    let mut refused = Vec::new();
    for p in &set.policies {
        match &p.link {
            None => match policy_to_json(&p.policy) {
                Ok(v) => {
                    statics.insert(p.id.to_string(), v);
                }
                Err(e) => refused.push(e),
            },
            Some(l) => {
                let mut values = Map::new();
                for (slot, uid) in &l.values {
                    values.insert(slot.name().into(), uid_json(uid));
                }
                let template = template_ids
                    .get(l.template.as_str())
                    .copied()
                    .unwrap_or(l.template.as_str());
                links.push(
                    json!({"templateId": template, "newId": p.id.as_str(), "values": values}),
                );
            }
        }
    }
    let mut templates = Map::new();
    for t in &set.templates {
        match policy_to_json(&t.policy) {
            Ok(v) => {
                templates.insert(t.id.to_string(), v);
            }
            Err(e) => refused.push(e),
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    Ok(crate::syntax::schema_json::sorted(json!({
        "staticPolicies": statics,
        "templates": templates,
        "templateLinks": links,
    })))
}

fn uid_json(u: &EntityUid) -> Value {
    json!({"type": u.ty.as_str(), "id": u.id.as_str()})
}

/// One policy (or template) as Cedar's JSON.
pub fn policy_to_json(p: &Policy) -> Result<Value, NoJsonForm> {
    let mut out = Map::new();
    out.insert(
        "effect".into(),
        if p.effect == Effect::Permit {
            "permit"
        } else {
            "forbid"
        }
        .into(),
    );
    out.insert(
        "principal".into(),
        scope_json(&p.principal, Slot::Principal),
    );
    out.insert(
        "action".into(),
        match &p.action {
            ActionConstraint::Any => json!({"op": "All"}),
            ActionConstraint::Eq(u, _) => json!({"op": "==", "entity": uid_json(u)}),
            ActionConstraint::In(list, _) => {
                json!({"op": "in", "entities": list.iter().map(uid_json).collect::<Vec<_>>()})
            }
        },
    );
    out.insert("resource".into(), scope_json(&p.resource, Slot::Resource));
    let mut conditions = Vec::new();
    for c in &p.conditions {
        let kind = if c.kind == ConditionKind::When {
            "when"
        } else {
            "unless"
        };
        conditions.push(json!({"kind": kind, "body": expr_json(&c.body)?}));
    }
    out.insert("conditions".into(), Value::Array(conditions));
    if !p.annotations.is_empty() {
        let mut a = Map::new();
        for ann in &p.annotations {
            a.insert(
                ann.key.to_string(),
                ann.value.as_deref().map_or(Value::Null, Value::from),
            );
        }
        out.insert("annotations".into(), Value::Object(a));
    }
    Ok(Value::Object(out))
}

fn scope_json(c: &ScopeConstraint, slot: Slot) -> Value {
    let slot = slot.name();
    match c {
        ScopeConstraint::Any => json!({"op": "All"}),
        ScopeConstraint::Eq(u, _) => json!({"op": "==", "entity": uid_json(u)}),
        ScopeConstraint::In(u, _) => json!({"op": "in", "entity": uid_json(u)}),
        ScopeConstraint::Is(t, _) => json!({"op": "is", "entity_type": t.as_str()}),
        ScopeConstraint::IsIn(t, u, _) => {
            json!({"op": "is", "entity_type": t.as_str(), "in": {"entity": uid_json(u)}})
        }
        ScopeConstraint::EqSlot(_) => json!({"op": "==", "slot": slot}),
        ScopeConstraint::InSlot(_) => json!({"op": "in", "slot": slot}),
        ScopeConstraint::IsInSlot(t, _) => {
            json!({"op": "is", "entity_type": t.as_str(), "in": {"slot": slot}})
        }
    }
}

fn expr_json(e: &Expr) -> Result<Value, NoJsonForm> {
    crate::limits::with_stack(|| expr_json_inner(e))
}

fn expr_json_inner(e: &Expr) -> Result<Value, NoJsonForm> {
    let no = |construct: &str| NoJsonForm {
        construct: construct.into(),
        span: e.span,
    };
    let bin = |op: &str, l: &Expr, r: &Expr| -> Result<Value, NoJsonForm> {
        Ok(json!({op: {"left": expr_json(l)?, "right": expr_json(r)?}}))
    };
    Ok(match &e.kind {
        ExprKind::Error => return Err(no("an expression that did not parse")),
        ExprKind::Lit(Literal::Bool(b)) => json!({"Value": b}),
        ExprKind::Lit(Literal::Long(n)) => json!({"Value": n}),
        ExprKind::Lit(Literal::String(s)) => json!({"Value": s.as_str()}),
        ExprKind::Entity(u) => json!({"Value": {"__entity": uid_json(u)}}),
        ExprKind::Var(v) => json!({"Var": match v {
            Var::Principal => "principal",
            Var::Action => "action",
            Var::Resource => "resource",
            Var::Context => "context",
        }}),
        ExprKind::Local(_, name) => {
            return Err(no(&format!(
                "the local variable `{name}` (a rule parameter or quantified name)"
            )))
        }
        ExprKind::If(c, a, b) => {
            json!({"if-then-else": {"if": expr_json(c)?, "then": expr_json(a)?, "else": expr_json(b)?}})
        }
        ExprKind::And(items) | ExprKind::Or(items) => {
            let op = if matches!(e.kind, ExprKind::And(_)) {
                "&&"
            } else {
                "||"
            };
            // Cedar's binary operators associate to the left.
            let Some((first, rest)) = items.split_first() else {
                return Err(no("an empty chain of `&&` or `||`"));
            };
            let mut acc = expr_json(first)?;
            for item in rest {
                acc = json!({op: {"left": acc, "right": expr_json(item)?}});
            }
            acc
        }
        ExprKind::Not(a) => json!({"!": {"arg": expr_json(a)?}}),
        // The parser already reads `-5` as one literal; a negation node left
        // in the tree (`-(5)`, `-(-9223372036854775808)`) stays one, as in
        // Cedar's JSON, so an overflow is never folded away.
        ExprKind::Neg(a) => json!({"neg": {"arg": expr_json(a)?}}),
        ExprKind::Binary(op, l, r) => bin(op.symbol(), l, r)?,
        ExprKind::Has(l, path) => {
            let attr = if path.len() == 1 {
                json!(path[0].as_str())
            } else {
                json!(path.iter().map(|a| a.as_str()).collect::<Vec<_>>())
            };
            json!({"has": {"left": expr_json(l)?, "attr": attr}})
        }
        ExprKind::Like(l, pattern) => {
            let mut elems: Vec<Value> = Vec::new();
            let mut lit = String::new();
            for p in pattern {
                match p {
                    PatternElem::Char(c) => lit.push(*c),
                    PatternElem::Wildcard => {
                        if !lit.is_empty() {
                            elems.push(json!({"Literal": std::mem::take(&mut lit)}));
                        }
                        elems.push(json!("Wildcard"));
                    }
                }
            }
            if !lit.is_empty() {
                elems.push(json!({"Literal": lit}));
            }
            json!({"like": {"left": expr_json(l)?, "pattern": elems}})
        }
        ExprKind::Is(l, t, within) => {
            let mut body = Map::new();
            body.insert("left".into(), expr_json(l)?);
            body.insert("entity_type".into(), t.as_str().into());
            if let Some(w) = within {
                body.insert("in".into(), expr_json(w)?);
            }
            json!({"is": body})
        }
        ExprKind::GetAttr(l, a) => json!({".": {"left": expr_json(l)?, "attr": a.as_str()}}),
        ExprKind::Method(recv, name, args) => match (name.as_str(), args.as_slice()) {
            ("contains" | "containsAll" | "containsAny" | "getTag" | "hasTag", [arg]) => {
                bin(name, recv, arg)?
            }
            ("isEmpty", []) => json!({"isEmpty": {"arg": expr_json(recv)?}}),
            _ => {
                let mut all = vec![expr_json(recv)?];
                for a in args {
                    all.push(expr_json(a)?);
                }
                json!({name.as_str(): all})
            }
        },
        ExprKind::Call { name, args, target } => match target {
            CallTarget::Rule(_) => return Err(no(&format!("the rule call `{name}(…)`"))),
            _ if builtins::function(name).is_none() => {
                return Err(no(&format!(
                    "the call `{name}(…)`, which is no extension function"
                )))
            }
            _ => json!({name.as_str(): args.iter().map(expr_json).collect::<Result<Vec<_>, _>>()?}),
        },
        ExprKind::Set(items) => {
            json!({"Set": items.iter().map(expr_json).collect::<Result<Vec<_>, _>>()?})
        }
        ExprKind::Record(fields) => {
            let mut m = Map::new();
            for (k, v) in fields {
                m.insert(k.to_string(), expr_json(v)?);
            }
            json!({"Record": m})
        }
        ExprKind::Quantified { quantifier, .. } => {
            return Err(no(match quantifier {
                Quantifier::Any => "the quantifier `any`",
                Quantifier::All => "the quantifier `all`",
            }))
        }
    })
}
