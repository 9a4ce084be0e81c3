//! Cedar's JSON policy format read into the AST, spans into the JSON.

use crate::builtins;
use crate::diag::Diagnostic;
use crate::policy_set::links::{read_link, LinkSpec};
use crate::syntax::ast::*;
use crate::syntax::json::{unknown_field, Json, JsonKind};
use crate::span::Span;
use crate::syntax::uid::is_type_name;
use smol_str::SmolStr;

/// What a JSON policy file holds.
#[derive(Default)]
pub struct ReadPolicies {
    /// Its policies and templates (ids from the JSON's keys).
    pub items: Vec<Item>,
    /// Its `templateLinks`.
    pub links: Vec<LinkSpec>,
    /// A problem for each part that did not read.
    pub errors: Vec<Diagnostic>,
}

type Read<T> = Result<T, Box<Diagnostic>>;

fn fail<T>(at: Span, message: impl Into<String>, label: impl Into<String>) -> Read<T> {
    Err(Box::new(Diagnostic::error(message, at, label)))
}

/// Reads a JSON policy set (`{"staticPolicies", "templates",
/// "templateLinks"}`) or one JSON policy (`{"effect", …}`); a condition
/// deeper than `max_expr_depth` is refused, as in text.
pub fn read_policy_set_json(json: &Json, max_expr_depth: usize) -> ReadPolicies {
    let mut out = read_all(json);
    let mut refused = Vec::new();
    out.items.retain(|item| {
        let Item::Policy(p) = item else {
            return true;
        };
        let deep = p
            .conditions
            .iter()
            .find(|c| depth(&c.body) > max_expr_depth);
        if let Some(c) = deep {
            refused.push(Diagnostic::error(
                format!("the condition nests deeper than {max_expr_depth} levels"),
                c.body.span,
                "too deep",
            )
            .with_help(Some("`--max-expr-depth` sets the limit".into())));
        }
        deep.is_none()
    });
    out.errors.extend(refused);
    out
}

/// The depth of an expression tree (a leaf is 1). Recursion is bounded:
/// the JSON it was read from is at most [`crate::limits::MAX_JSON_DEPTH_CEILING`]
/// levels deep, or [`MAX_DEPTH`] at the very most.
fn depth(e: &Expr) -> usize {
    let mut deepest = 0;
    e.for_each_child(&mut |c| deepest = deepest.max(depth(c)));
    deepest + 1
}

/// [`read_policy_set_json`] without the depth limit.
fn read_all(json: &Json) -> ReadPolicies {
    let mut out = ReadPolicies::default();
    let Some(entries) = json.entries() else {
        out.errors.push(Diagnostic::error(
            format!("a JSON policy file is an object, found {}", json.what()),
            json.span,
            "expected an object",
        ));
        return out;
    };
    if json.get("effect").is_some() {
        match policy(json, None) {
            Ok(p) => out.items.push(Item::Policy(p)),
            Err(d) => out.errors.push(*d),
        }
        return out;
    }
    for (k, v) in entries {
        match k.name.as_str() {
            "staticPolicies" | "templates" => {
                let template = k.name == "templates";
                let Some(policies) = v.entries() else {
                    out.errors.push(Diagnostic::error(
                        format!("`{}` is an object from policy ids to policies", k.name),
                        v.span,
                        format!("found {}", v.what()),
                    ));
                    continue;
                };
                for (id, p) in policies {
                    match policy(p, Some((id.name.clone(), id.span))) {
                        Ok(p) if !template && !p.slots().is_empty() => {
                            out.errors.push(
                                Diagnostic::error(
                                    format!("static policy `{}` has a slot", id.name),
                                    id.span,
                                    "a template",
                                )
                                .with_help(Some("put templates under `templates`".into())),
                            );
                        }
                        Ok(p) => out.items.push(Item::Policy(p)),
                        Err(d) => out.errors.push(*d),
                    }
                }
            }
            "templateLinks" => match v.items() {
                Some(links) => {
                    for l in links {
                        match read_link(l, "templateId", "newId", "values") {
                            Ok(spec) => out.links.push(spec),
                            Err(d) => out.errors.push(*d),
                        }
                    }
                }
                None => out.errors.push(Diagnostic::error(
                    "`templateLinks` is an array of links",
                    v.span,
                    format!("found {}", v.what()),
                )),
            },
            other => out.errors.push(
                Diagnostic::error(
                    format!(
                        "unknown field `{}` in a JSON policy set",
                        crate::diag::printable(other)
                    ),
                    k.span,
                    "unknown field",
                )
                .with_help(Some(
                    "a JSON policy set has `staticPolicies`, `templates` and `templateLinks`"
                        .into(),
                )),
            ),
        }
    }
    out
}

fn only(v: &Json, place: &str, known: &[&str]) -> Read<()> {
    let Some(entries) = v.entries() else {
        return fail(
            v.span,
            format!("{place} is a JSON object, found {}", v.what()),
            "expected an object",
        );
    };
    if let Some((k, _)) = entries
        .iter()
        .find(|(k, _)| !known.contains(&k.name.as_str()))
    {
        return Err(Box::new(unknown_field(k, place, known)));
    }
    Ok(())
}

fn field<'j>(v: &'j Json, key: &str, place: &str) -> Read<&'j Json> {
    v.get(key).ok_or_else(|| {
        Box::new(Diagnostic::error(
            format!("{place} needs `{key}`"),
            v.span,
            format!("no `{key}`"),
        ))
    })
}

fn string<'j>(v: &'j Json, what: &str) -> Read<&'j str> {
    v.as_str().map_or_else(
        || {
            fail(
                v.span,
                format!("{what} is a string, found {}", v.what()),
                "expected a string",
            )
        },
        Ok,
    )
}

fn policy(v: &Json, id: Option<(SmolStr, Span)>) -> Read<Policy> {
    only(
        v,
        "a policy",
        &[
            "effect",
            "principal",
            "action",
            "resource",
            "conditions",
            "annotations",
        ],
    )?;
    let effect = match string(field(v, "effect", "a policy")?, "`effect`")? {
        "permit" => Effect::Permit,
        "forbid" => Effect::Forbid,
        other => {
            return fail(
                v.key_span("effect"),
                format!("`{other}` is not an effect"),
                "`permit` or `forbid`",
            )
        }
    };
    let head = id.as_ref().map_or(v.span, |(_, s)| *s);
    let mut annotations = Vec::new();
    if let Some(a) = v.get("annotations") {
        let Some(entries) = a.entries() else {
            return fail(
                a.span,
                "`annotations` is an object from keys to strings",
                "expected an object",
            );
        };
        for (k, val) in entries {
            let value = match &val.kind {
                JsonKind::String(s) => Some(s.clone()),
                JsonKind::Null => None,
                _ => {
                    return fail(
                        val.span,
                        "an annotation's value is a string",
                        "expected a string",
                    )
                }
            };
            annotations.push(Annotation {
                key: k.name.clone(),
                value,
                span: k.span.to(val.span),
            });
        }
    }
    let principal = scope(field(v, "principal", "a policy")?, Slot::Principal)?;
    let action = action_scope(field(v, "action", "a policy")?)?;
    let resource = scope(field(v, "resource", "a policy")?, Slot::Resource)?;
    let mut conditions = Vec::new();
    if let Some(list) = v.get("conditions") {
        let Some(items) = list.items() else {
            return fail(list.span, "`conditions` is an array", "expected an array");
        };
        for c in items {
            only(c, "a condition", &["kind", "body"])?;
            let kind = match string(field(c, "kind", "a condition")?, "`kind`")? {
                "when" => ConditionKind::When,
                "unless" => ConditionKind::Unless,
                other => {
                    return fail(
                        c.key_span("kind"),
                        format!("`{other}` is not a condition kind"),
                        "`when` or `unless`",
                    )
                }
            };
            conditions.push(Condition {
                kind,
                body: expr(field(c, "body", "a condition")?, 0)?,
                span: c.span,
            });
        }
    }
    Ok(Policy {
        annotations,
        effect,
        principal,
        action,
        resource,
        conditions,
        span: v.span,
        head,
        id: id.map(|(i, _)| i),
    })
}

fn entity_ref(v: &Json) -> Read<EntityUid> {
    let inner = match v.get("__entity") {
        Some(e) if v.entries().is_some_and(|e| e.len() == 1) => e,
        _ => v,
    };
    only(inner, "an entity reference", &["type", "id"])?;
    let ty = string(
        field(inner, "type", "an entity reference")?,
        "an entity's `type`",
    )?;
    let id = string(
        field(inner, "id", "an entity reference")?,
        "an entity's `id`",
    )?;
    if !is_type_name(ty) {
        return fail(
            inner.key_span("type"),
            format!(
                "`{}` is not an entity type name",
                crate::diag::printable(ty)
            ),
            "not a type name",
        );
    }
    Ok(EntityUid::new(ty, id))
}

/// `{"entity": …}` or `{"slot": "?principal"}` after `==` or `in`.
fn target(v: &Json, own: Slot) -> Read<Option<EntityUid>> {
    if let Some(s) = v.get("slot") {
        let name = string(s, "`slot`")?;
        if name != own.name() {
            return fail(
                s.span,
                format!(
                    "template slot `{name}` may not stand in the {} scope",
                    &own.name()[1..]
                ),
                "slot not allowed here",
            );
        }
        return Ok(None);
    }
    Ok(Some(entity_ref(field(v, "entity", "a scope constraint")?)?))
}

fn scope(v: &Json, own: Slot) -> Read<ScopeConstraint> {
    let place = format!("the {} scope", &own.name()[1..]);
    let op = string(field(v, "op", &place)?, "`op`")?;
    let span = v.span;
    Ok(match op {
        "All" | "all" => {
            only(v, &place, &["op"])?;
            ScopeConstraint::Any
        }
        "==" | "in" => {
            only(v, &place, &["op", "entity", "slot"])?;
            match (op, target(v, own)?) {
                ("==", Some(u)) => ScopeConstraint::Eq(u, span),
                ("==", None) => ScopeConstraint::EqSlot(span),
                (_, Some(u)) => ScopeConstraint::In(u, span),
                (_, None) => ScopeConstraint::InSlot(span),
            }
        }
        "is" => {
            only(v, &place, &["op", "entity_type", "in"])?;
            let ty = string(field(v, "entity_type", &place)?, "`entity_type`")?;
            if !is_type_name(ty) {
                return fail(
                    v.key_span("entity_type"),
                    format!(
                        "`{}` is not an entity type name",
                        crate::diag::printable(ty)
                    ),
                    "not a type name",
                );
            }
            match v.get("in") {
                None => ScopeConstraint::Is(ty.into(), span),
                Some(i) => {
                    only(i, "`in`", &["entity", "slot"])?;
                    match target(i, own)? {
                        Some(u) => ScopeConstraint::IsIn(ty.into(), u, span),
                        None => ScopeConstraint::IsInSlot(ty.into(), span),
                    }
                }
            }
        }
        other => {
            return fail(
                v.key_span("op"),
                format!("`{other}` is not a scope operator"),
                "`All`, `==`, `in` or `is`",
            )
        }
    })
}

fn action_scope(v: &Json) -> Read<ActionConstraint> {
    let op = string(field(v, "op", "the action scope")?, "`op`")?;
    let span = v.span;
    Ok(match op {
        "All" | "all" => {
            only(v, "the action scope", &["op"])?;
            ActionConstraint::Any
        }
        "==" => {
            only(v, "the action scope", &["op", "entity"])?;
            ActionConstraint::Eq(entity_ref(field(v, "entity", "the action scope")?)?, span)
        }
        "in" => {
            only(v, "the action scope", &["op", "entity", "entities"])?;
            match (v.get("entity"), v.get("entities")) {
                (Some(e), None) => ActionConstraint::In(vec![entity_ref(e)?], span),
                (None, Some(list)) => {
                    let Some(items) = list.items() else {
                        return fail(
                            list.span,
                            "`entities` is an array of entity references",
                            "expected an array",
                        );
                    };
                    ActionConstraint::In(items.iter().map(entity_ref).collect::<Read<_>>()?, span)
                }
                _ => {
                    return fail(
                        span,
                        "an action `in` has `entity` or `entities`",
                        "neither or both",
                    )
                }
            }
        }
        other => {
            return fail(
                v.key_span("op"),
                format!("`{other}` is not an action scope operator"),
                "`All`, `==` or `in`",
            )
        }
    })
}

/// The deepest expression read; deeper JSON is refused before recursion
/// goes further (the JSON reader's own depth bound is the first guard).
const MAX_DEPTH: usize = crate::limits::MAX_NESTING_CEILING;

fn expr(v: &Json, depth: usize) -> Read<Expr> {
    if depth > MAX_DEPTH {
        return fail(
            v.span,
            format!("the expression nests deeper than {MAX_DEPTH} levels"),
            "too deep",
        );
    }
    let span = v.span;
    let Some([(k, body)]) = v.entries() else {
        return fail(
            span,
            "an expression is an object with one key (`Value`, `Var`, `==`, `.`, …)",
            format!("found {}", v.what()),
        );
    };
    let sub = |key: &str| -> Read<Box<Expr>> {
        Ok(Box::new(expr(
            field(body, key, &format!("`{}`", k.name))?,
            depth + 1,
        )?))
    };
    let two = |op: &str| -> Read<(Box<Expr>, Box<Expr>)> {
        only(body, &format!("`{op}`"), &["left", "right"])?;
        Ok((sub("left")?, sub("right")?))
    };
    let e = |kind: ExprKind| Ok(Expr::new(kind, span));
    if let Some(bin) = BinOp::from_symbol(&k.name) {
        let (l, r) = two(&k.name)?;
        return e(ExprKind::Binary(bin, l, r));
    }
    match k.name.as_str() {
        "Value" => value(body, depth + 1),
        "Var" => match string(body, "`Var`")? {
            "principal" => e(ExprKind::Var(Var::Principal)),
            "action" => e(ExprKind::Var(Var::Action)),
            "resource" => e(ExprKind::Var(Var::Resource)),
            "context" => e(ExprKind::Var(Var::Context)),
            other => fail(
                body.span,
                format!("`{other}` is not a variable"),
                "not a variable",
            ),
        },
        "Slot" => fail(
            span,
            format!(
                "template slot `{}` may not stand in a condition",
                body.as_str().unwrap_or("?")
            ),
            "slot not allowed here",
        ),
        "!" | "neg" | "isEmpty" => {
            only(body, &format!("`{}`", k.name), &["arg"])?;
            let arg = sub("arg")?;
            match k.name.as_str() {
                "!" => e(ExprKind::Not(arg)),
                "neg" => e(ExprKind::Neg(arg)),
                _ => e(ExprKind::Method(arg, "isEmpty".into(), Vec::new())),
            }
        }
        op @ ("&&" | "||") => {
            let (l, r) = two(op)?;
            if op == "&&" {
                e(ExprKind::And(vec![*l, *r]))
            } else {
                e(ExprKind::Or(vec![*l, *r]))
            }
        }
        op @ ("contains" | "containsAll" | "containsAny" | "getTag" | "hasTag") => {
            let (l, r) = two(op)?;
            e(ExprKind::Method(l, op.into(), vec![*r]))
        }
        "." => {
            only(body, "`.`", &["left", "attr"])?;
            let attr = string(field(body, "attr", "`.`")?, "`attr`")?;
            e(ExprKind::GetAttr(sub("left")?, attr.into()))
        }
        "has" => {
            only(body, "`has`", &["left", "attr"])?;
            let a = field(body, "attr", "`has`")?;
            let path: Vec<SmolStr> = match &a.kind {
                JsonKind::String(s) => vec![s.clone()],
                JsonKind::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|i| string(i, "an attribute").map(SmolStr::from))
                    .collect::<Read<_>>()?,
                _ => {
                    return fail(
                        a.span,
                        "`attr` is a string or a non-empty array of strings",
                        "expected a string",
                    )
                }
            };
            e(ExprKind::Has(sub("left")?, path))
        }
        "like" => {
            only(body, "`like`", &["left", "pattern"])?;
            let p = field(body, "pattern", "`like`")?;
            let Some(items) = p.items() else {
                return fail(
                    p.span,
                    "`pattern` is an array of `\"Wildcard\"` and `{\"Literal\": …}`",
                    "expected an array",
                );
            };
            let mut pattern = Vec::new();
            for i in items {
                match (&i.kind, i.get("Literal")) {
                    (JsonKind::String(w), _) if w == "Wildcard" => {
                        pattern.push(PatternElem::Wildcard)
                    }
                    (_, Some(lit)) if i.entries().is_some_and(|e| e.len() == 1) => {
                        pattern.extend(string(lit, "a `Literal`")?.chars().map(PatternElem::Char));
                    }
                    _ => {
                        return fail(
                            i.span,
                            "a pattern element is `\"Wildcard\"` or `{\"Literal\": \"…\"}`",
                            "not a pattern element",
                        )
                    }
                }
            }
            e(ExprKind::Like(sub("left")?, pattern))
        }
        "is" => {
            only(body, "`is`", &["left", "entity_type", "in"])?;
            let ty = string(field(body, "entity_type", "`is`")?, "`entity_type`")?;
            if !is_type_name(ty) {
                return fail(
                    body.key_span("entity_type"),
                    format!(
                        "`{}` is not an entity type name",
                        crate::diag::printable(ty)
                    ),
                    "not a type name",
                );
            }
            let within = match body.get("in") {
                Some(i) => Some(Box::new(expr(i, depth + 1)?)),
                None => None,
            };
            e(ExprKind::Is(sub("left")?, ty.into(), within))
        }
        "if-then-else" => {
            only(body, "`if-then-else`", &["if", "then", "else"])?;
            e(ExprKind::If(sub("if")?, sub("then")?, sub("else")?))
        }
        "Set" => {
            let Some(items) = body.items() else {
                return fail(
                    body.span,
                    "`Set` is an array of expressions",
                    "expected an array",
                );
            };
            e(ExprKind::Set(
                items
                    .iter()
                    .map(|i| expr(i, depth + 1))
                    .collect::<Read<_>>()?,
            ))
        }
        "Record" => {
            let Some(entries) = body.entries() else {
                return fail(
                    body.span,
                    "`Record` is an object from names to expressions",
                    "expected an object",
                );
            };
            let fields = entries
                .iter()
                .map(|(k, v)| Ok((k.name.clone(), expr(v, depth + 1)?)))
                .collect::<Read<_>>()?;
            e(ExprKind::Record(fields))
        }
        name => {
            // An extension function or method: `{"ip": [args]}`,
            // `{"lessThan": [receiver, arg]}`.
            let Some(items) = body.items() else {
                return fail(
                    k.span,
                    format!("unknown operator `{}`", crate::diag::printable(name)),
                    "not an operator or extension function",
                );
            };
            let mut args: Vec<Expr> = items
                .iter()
                .map(|i| expr(i, depth + 1))
                .collect::<Read<_>>()?;
            if builtins::function(name).is_some() {
                e(ExprKind::Call {
                    name: name.into(),
                    args,
                    target: CallTarget::Unresolved,
                })
            } else if builtins::method(name).is_some() && !args.is_empty() {
                let receiver = args.remove(0);
                e(ExprKind::Method(Box::new(receiver), name.into(), args))
            } else {
                fail(
                    k.span,
                    format!(
                        "unknown extension function `{}`",
                        crate::diag::printable(name)
                    ),
                    "not an extension function",
                )
            }
        }
    }
}

/// A `Value`: Cedar's value JSON, escapes included.
fn value(v: &Json, depth: usize) -> Read<Expr> {
    if depth > MAX_DEPTH {
        return fail(
            v.span,
            format!("the value nests deeper than {MAX_DEPTH} levels"),
            "too deep",
        );
    }
    let span = v.span;
    let kind = match &v.kind {
        JsonKind::Bool(b) => ExprKind::Lit(Literal::Bool(*b)),
        JsonKind::String(s) => ExprKind::Lit(Literal::String(s.clone())),
        JsonKind::Number(n) => match n.parse::<i64>() {
            Ok(i) => ExprKind::Lit(Literal::Long(i)),
            Err(_) => return fail(span, format!("`{n}` is not a 64-bit integer"), "not a Long"),
        },
        JsonKind::Null => return fail(span, "`null` is not a Cedar value", "null"),
        JsonKind::Array(items) => ExprKind::Set(
            items
                .iter()
                .map(|i| value(i, depth + 1))
                .collect::<Read<_>>()?,
        ),
        JsonKind::Object(entries) => {
            if let [(k, inner)] = entries.as_slice() {
                match k.name.as_str() {
                    "__entity" => return Ok(Expr::new(ExprKind::Entity(entity_ref(inner)?), span)),
                    "__extn" => {
                        only(inner, "`__extn`", &["fn", "arg", "args"])?;
                        let name = string(field(inner, "fn", "`__extn`")?, "`fn`")?;
                        let args = match (inner.get("arg"), inner.get("args")) {
                            (Some(a), None) => vec![value(a, depth + 1)?],
                            (None, Some(list)) => list
                                .items()
                                .unwrap_or_default()
                                .iter()
                                .map(|a| value(a, depth + 1))
                                .collect::<Read<_>>()?,
                            _ => {
                                return fail(
                                    inner.span,
                                    "`__extn` has `arg` or `args`",
                                    "neither or both",
                                )
                            }
                        };
                        if builtins::function(name).is_none() {
                            return fail(
                                inner.key_span("fn"),
                                format!(
                                    "unknown extension function `{}`",
                                    crate::diag::printable(name)
                                ),
                                "not an extension function",
                            );
                        }
                        return Ok(Expr::new(
                            ExprKind::Call {
                                name: name.into(),
                                args,
                                target: CallTarget::Unresolved,
                            },
                            span,
                        ));
                    }
                    "__expr" => {
                        return fail(
                            k.span,
                            "the `__expr` escape is not supported",
                            "write the value itself",
                        )
                    }
                    _ => {}
                }
            }
            ExprKind::Record(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.name.clone(), value(v, depth + 1)?)))
                    .collect::<Read<_>>()?,
            )
        }
    };
    Ok(Expr::new(kind, span))
}
