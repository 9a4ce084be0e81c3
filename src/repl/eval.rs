//! Evaluating what is typed at the prompt: an expression (parsed on its
//! own, linked against the loaded rules, judged against the bound request
//! variables), a value to bind with `:set`, a request to decide.

use super::{Reply, Session};
use crate::diag::{Diagnostic, Sources};
use crate::entities::json::{parse_uid, Request};
use crate::eval::Evaluator;
use crate::syntax::ast::visit;
use crate::syntax::ast::{CallTarget, EntityUid, Expr, ExprKind, Var};
use crate::syntax::{parse_expr, FileId};
use crate::value::Value;
use std::collections::BTreeSet;

/// The name under which typed input appears in diagnostics.
pub const INPUT_NAME: &str = "<input>";

/// Problems with a typed input, and the sources to render them against
/// (the loaded files and the input).
pub struct Failure {
    /// The problems.
    pub diagnostics: Vec<Diagnostic>,
    /// The loaded sources and the input.
    pub sources: Sources,
}

impl Failure {
    /// Renders the problems as codespan text.
    pub fn render(&self, color: bool) -> String {
        self.sources.render(&self.diagnostics, color)
    }
}

/// Evaluates an expression and replies with its value.
pub fn expression(session: &Session, text: &str) -> Reply {
    match value_of(session, text) {
        Ok(value) => Reply {
            stdout: format!("{value}\n"),
            ..Reply::default()
        },
        Err(f) => Reply {
            stderr: f.render(session.color),
            ..Reply::default()
        },
    }
}

/// The value of the expression `text` for the bound request variables.
pub fn value_of(session: &Session, text: &str) -> Result<Value, Failure> {
    let set = session.set();
    let file: FileId = set.sources.next_id();
    let fail = |diagnostics: Vec<Diagnostic>| {
        let mut sources = set.sources.clone();
        sources.add(INPUT_NAME, text);
        Failure {
            diagnostics,
            sources,
        }
    };
    let mut expr = parse_expr(text, file, &[], &session.options().limits)
        .map_err(|errors| fail(errors.iter().map(Diagnostic::from).collect()))?;
    let problems = set.link_expr(&mut expr);
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let unbound = unbound_variables(session, &expr);
    if !unbound.is_empty() {
        return Err(fail(unbound));
    }
    // Unbound variables were refused above, so these stand-ins are never read.
    let stand_in = EntityUid::new("__unset", "");
    let b = &session.bindings;
    let request = Request {
        principal: b.principal.clone().unwrap_or_else(|| stand_in.clone()),
        action: b.action.clone().unwrap_or_else(|| stand_in.clone()),
        resource: b.resource.clone().unwrap_or(stand_in),
        context: b.context.clone(),
    };
    let mut evaluator = Evaluator::new(set, &session.entities, &request, &session.options().limits);
    evaluator.eval(&expr).map_err(|e| {
        let mut d =
            Diagnostic::error(e.to_string(), e.span, "raised here").with_help(e.kind.help());
        // Raised in a rule's body: show which input led there too.
        if e.span.file != file {
            d = d.with_secondary(expr.span, "while evaluating this");
        }
        fail(vec![d])
    })
}

/// The request variables that `expr` reads, directly or in the rules it
/// may call, and that are not bound: one error each, at the first place
/// the input names it (or at the call that leads to a rule that reads it).
fn unbound_variables(session: &Session, expr: &Expr) -> Vec<Diagnostic> {
    let b = &session.bindings;
    let bound = |v: Var| match v {
        Var::Principal => b.principal.is_some(),
        Var::Action => b.action.is_some(),
        Var::Resource => b.resource.is_some(),
        Var::Context => true,
    };
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    let mut report = |v: Var, d: Diagnostic, out: &mut Vec<Diagnostic>| {
        if reported.insert(v.name()) {
            out.push(d.with_help(Some(format!(
                "bind it first, e.g. `:set {} {}`",
                v.name(),
                example(session, v)
            ))));
        }
    };
    let mut direct = Vec::new();
    let mut calls = Vec::new();
    visit(expr, &mut |e| match &e.kind {
        ExprKind::Var(v) if !bound(*v) => direct.push((*v, e.span)),
        ExprKind::Call {
            target: CallTarget::Rule(i),
            name,
            ..
        } => calls.push((*i, name.clone(), e.span)),
        _ => {}
    });
    for (v, span) in direct {
        report(
            v,
            Diagnostic::error(format!("`{}` is not set", v.name()), span, "not set"),
            &mut out,
        );
    }
    for (rule, name, span) in calls {
        for v in rule_variables(session, rule) {
            if !bound(v) {
                report(
                    v,
                    Diagnostic::error(
                        format!("`{}` is not set, and rule `{name}` may read it", v.name()),
                        span,
                        "this call may read it",
                    ),
                    &mut out,
                );
            }
        }
    }
    out
}

/// The request variables that rule `start`, or a rule it may call, reads.
fn rule_variables(session: &Session, start: u32) -> Vec<Var> {
    let mut vars = Vec::new();
    let mut seen = BTreeSet::from([start]);
    let mut todo = vec![start];
    while let Some(i) = todo.pop() {
        let Some(rule) = session.set().rules.get(i as usize) else {
            continue;
        };
        for clause in &rule.clauses {
            visit(&clause.body, &mut |e| match &e.kind {
                ExprKind::Var(v) if !vars.contains(v) => vars.push(*v),
                ExprKind::Call {
                    target: CallTarget::Rule(j),
                    ..
                } if seen.insert(*j) => todo.push(*j),
                _ => {}
            });
        }
    }
    vars
}

/// A value to show in help lines for `v`, taken from what the session
/// loaded: an entity of a type some action applies to (else any entity of
/// the store), a declared action; a placeholder only when nothing fits.
pub fn example(session: &Session, v: Var) -> String {
    let schema = &session.set().schema;
    let entity_of = |types: &mut dyn Iterator<Item = &crate::syntax::ast::Name>| {
        let wanted: BTreeSet<&str> = types.map(|t| t.as_str()).collect();
        session
            .entities
            .iter()
            .map(|(uid, _)| uid)
            .find(|uid| wanted.contains(uid.ty.as_str()))
            .or_else(|| {
                session
                    .entities
                    .iter()
                    .map(|(uid, _)| uid)
                    .find(|uid| !crate::schema::is_action_type(&uid.ty))
            })
            .map(|uid| uid.to_string())
    };
    let found = match v {
        Var::Principal => entity_of(
            &mut schema
                .actions
                .values()
                .flat_map(|a| a.principals.iter().flatten()),
        ),
        Var::Resource => entity_of(
            &mut schema
                .actions
                .values()
                .flat_map(|a| a.resources.iter().flatten()),
        ),
        Var::Action => schema.actions.keys().next().map(|uid| uid.to_string()),
        Var::Context => None,
    };
    found.unwrap_or_else(|| {
        match v {
            Var::Principal | Var::Resource => "Type::\"id\"",
            Var::Action => "Action::\"name\"",
            Var::Context => "{}",
        }
        .to_string()
    })
}

/// The value an input binds to `var`: an entity for `principal`, `action`
/// and `resource` (written `T::"id"`, or as a string `"T::\"id\""`), a
/// record for `context`.
pub fn binding(session: &Session, var: Var, text: &str) -> Result<Value, String> {
    let value = value_of(session, text).map_err(|f| f.render(session.color))?;
    check_binding(session, var, value)
}

fn check_binding(session: &Session, var: Var, value: Value) -> Result<Value, String> {
    let wrong = |found: &str| {
        let wanted = match var {
            Var::Context => "a record",
            _ => "an entity",
        };
        session.render_plain(
            &format!("`{}` must be {wanted}, found {found}", var.name()),
            Some(format!("write e.g. `{}`", example(session, var))),
            crate::diag::Severity::Error,
        )
    };
    match (var, value) {
        (Var::Context, v @ Value::Record(_)) => Ok(v),
        (Var::Context, v) => Err(wrong(v.type_name())),
        (_, v @ Value::Entity(_)) => Ok(v),
        (_, Value::String(s)) => parse_uid(&s)
            .map(Value::Entity)
            .map_err(|m| session.render_plain(&m, None, crate::diag::Severity::Error)),
        (_, v) => Err(wrong(v.type_name())),
    }
}

/// The request to decide: the bindings, with the fields of the record
/// `text` (when given) in their place for this one request.
pub fn request(session: &Session, text: &str) -> Result<Request, String> {
    let b = &session.bindings;
    let mut principal = b.principal.clone();
    let mut action = b.action.clone();
    let mut resource = b.resource.clone();
    let mut context = b.context.clone();
    if !text.trim().is_empty() {
        let value = value_of(session, text).map_err(|f| f.render(session.color))?;
        let Value::Record(fields) = value else {
            return Err(session.render_plain(
                &format!("a request is a record, found {}", value.type_name()),
                Some(format!(
                    "write e.g. `{{principal: {}, resource: {}}}`; fields left out are the bound ones",
                    example(session, Var::Principal),
                    example(session, Var::Resource)
                )),
                crate::diag::Severity::Error,
            ));
        };
        for (key, value) in fields.iter() {
            let var = match key.as_str() {
                "principal" => Var::Principal,
                "action" => Var::Action,
                "resource" => Var::Resource,
                "context" => Var::Context,
                other => {
                    return Err(session.render_plain(
                        &format!("unknown field `{other}` in the request"),
                        Some(
                            "the fields are `principal`, `action`, `resource` and `context`".into(),
                        ),
                        crate::diag::Severity::Error,
                    ))
                }
            };
            match (var, check_binding(session, var, value.clone())?) {
                (Var::Principal, Value::Entity(e)) => principal = Some(e),
                (Var::Action, Value::Entity(e)) => action = Some(e),
                (Var::Resource, Value::Entity(e)) => resource = Some(e),
                (_, v) => context = v,
            }
        }
    }
    let missing: Vec<&str> = [
        ("principal", principal.is_none()),
        ("action", action.is_none()),
        ("resource", resource.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, missing)| missing.then_some(name))
    .collect();
    match (principal, action, resource) {
        (Some(principal), Some(action), Some(resource)) => Ok(Request {
            principal,
            action,
            resource,
            context,
        }),
        _ => Err(session.render_plain(
            &format!("the request has no {}", either(&missing)),
            Some(format!(
                "bind it with `:set {} …`, or give it: `:authorize {{{}: …}}`",
                missing[0], missing[0]
            )),
            crate::diag::Severity::Error,
        )),
    }
}

/// `a`, `a` or `b`, `a`, `b` or `c`, in backticks.
fn either(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
