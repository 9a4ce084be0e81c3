//! Finding what stands at a place in the loaded set's trees, and what
//! names it: hover, go to definition, references, rename (rules, entity
//! types, actions, variables).

use super::analysis::Analysis;
use super::variables::{rename_variable, variable_at};
use crate::builtins::{self, Builtin, Form};
use crate::policy_set::PolicySet;
use crate::span::Span;
use crate::syntax::ast::{
    annotation, visit, CallTarget, EntityUid, Expr, ExprKind, ScopeConstraint,
};
use crate::validate::types::Ty;
use lsp_types::*;
use std::collections::HashMap;
use std::path::Path;

/// What stands at a place.
enum Found<'a> {
    /// A call of rule number `i`, or one of its clause heads.
    Rule(u32),
    /// A built-in function or method.
    Builtin(&'static Builtin),
    /// An entity reference.
    Entity(EntityUid),
    /// A policy's head.
    Policy(&'a crate::policy_set::PolicyEntry),
    /// An attribute read (`e.attr`), with whether `e` is `principal`
    /// (`Some(true)`), `resource` (`Some(false)`) or anything else.
    Attribute(crate::syntax::ast::Name, Option<bool>),
    /// An entity type named in `is T`.
    Type(crate::syntax::ast::Name),
}

pub(super) fn within(span: Span, file: usize, offset: usize) -> bool {
    span.file == file && span.start as usize <= offset && offset <= span.end as usize
}

/// The name part of a call written `name(…)` at `span`.
fn name_span(span: Span, name: &str) -> Span {
    Span::new(
        span.file,
        span.start as usize,
        span.start as usize + name.len(),
    )
}

/// Every expression of the set's policies, templates and rules.
pub(super) fn each_expr(set: &PolicySet, f: &mut dyn FnMut(&Expr)) {
    for p in set
        .policies
        .iter()
        .filter(|p| p.link.is_none())
        .chain(&set.templates)
    {
        for c in &p.policy.conditions {
            visit(&c.body, &mut *f);
        }
    }
    for r in &set.rules {
        for c in &r.clauses {
            visit(&c.body, &mut *f);
        }
    }
}

/// Whether `offset` is on the type name `t` written after `is` in the
/// scope constraint at `span`.
fn on_type_name(set: &PolicySet, span: Span, t: &crate::syntax::ast::Name, offset: usize) -> bool {
    let text = set.sources.text(span.file);
    let (start, end) = (span.start as usize, (span.end as usize).min(text.len()));
    let Some(area) = text.get(start..end) else {
        return false;
    };
    // The name follows the keyword `is`.
    let after_is = area
        .match_indices("is")
        .map(|(i, _)| i + 2)
        .find(|&i| area[i..].trim_start().starts_with(t.as_str()));
    match after_is {
        Some(i) => {
            let skipped = area[i..].len() - area[i..].trim_start().len();
            let at = start + i + skipped;
            at <= offset && offset <= at + t.len()
        }
        None => false,
    }
}

fn find(set: &PolicySet, file: usize, offset: usize) -> Option<Found<'_>> {
    for (i, r) in set.rules.iter().enumerate() {
        for c in &r.clauses {
            if within(c.head, file, offset) {
                return Some(Found::Rule(crate::policy_set::number(i)));
            }
        }
    }
    for p in set
        .policies
        .iter()
        .filter(|p| p.link.is_none())
        .chain(&set.templates)
    {
        if within(p.policy.head, file, offset) {
            return Some(Found::Policy(p));
        }
        for c in [&p.policy.principal, &p.policy.resource] {
            // `is T` (and `is T in E`): the type where its name stands.
            if let ScopeConstraint::Is(t, s)
            | ScopeConstraint::IsIn(t, _, s)
            | ScopeConstraint::IsInSlot(t, s) = c
            {
                if within(*s, file, offset) && on_type_name(set, *s, t, offset) {
                    return Some(Found::Type(t.clone()));
                }
            }
            if let ScopeConstraint::Eq(u, s)
            | ScopeConstraint::In(u, s)
            | ScopeConstraint::IsIn(_, u, s) = c
            {
                if within(*s, file, offset) {
                    return Some(Found::Entity(u.clone()));
                }
            }
        }
        // The action scope: the entity whose quoted id holds the place.
        match &p.policy.action {
            crate::syntax::ast::ActionConstraint::Eq(u, sp) if within(*sp, file, offset) => {
                return Some(Found::Entity(u.clone()));
            }
            crate::syntax::ast::ActionConstraint::In(list, sp) if within(*sp, file, offset) => {
                let text = set.sources.text(file);
                let here = |u: &&EntityUid| {
                    let quoted = format!("\"{}\"", u.id);
                    let area = &text[sp.start as usize..(sp.end as usize).min(text.len())];
                    area.match_indices(&quoted).any(|(i, m)| {
                        let at = sp.start as usize + i;
                        at <= offset && offset <= at + m.len()
                    })
                };
                if let Some(u) = list.iter().find(here) {
                    return Some(Found::Entity(u.clone()));
                }
            }
            _ => {}
        }
    }
    // The innermost expression that holds the offset, and what it names.
    let mut best: Option<(u32, Option<Found<'_>>)> = None;
    each_expr(set, &mut |e| {
        if !within(e.span, file, offset) {
            return;
        }
        let width = e.span.end - e.span.start;
        if best.as_ref().is_some_and(|(w, _)| *w < width) {
            return;
        }
        let found = match &e.kind {
            ExprKind::Call {
                target: CallTarget::Rule(i),
                ..
            } => Some(Found::Rule(*i)),
            ExprKind::Call { name, .. } => builtins::function(name).map(Found::Builtin),
            ExprKind::Method(_, name, _) => builtins::method(name).map(Found::Builtin),
            ExprKind::Entity(u) => Some(Found::Entity(u.clone())),
            ExprKind::GetAttr(recv, attr) => {
                let var = match recv.kind {
                    ExprKind::Var(crate::syntax::ast::Var::Principal) => Some(true),
                    ExprKind::Var(crate::syntax::ast::Var::Resource) => Some(false),
                    _ => None,
                };
                Some(Found::Attribute(attr.clone(), var))
            }
            ExprKind::Is(_, ty, _) => Some(Found::Type(ty.clone())),
            _ => None,
        };
        best = Some((width, found));
    });
    best?.1
}

/// The hover text at a place.
pub fn hover(a: &Analysis, path: &Path, position: Position) -> Option<Hover> {
    let (file, offset) = a.offset(path, position)?;
    let text = match find(&a.set, file, offset)? {
        Found::Rule(i) => rule_signature(&a.set, i as usize),
        Found::Builtin(b) => builtin_signature(b),
        Found::Policy(p) => {
            let effect = match p.policy.effect {
                crate::syntax::ast::Effect::Permit => "permit",
                crate::syntax::ast::Effect::Forbid => "forbid",
            };
            let kind = if p.policy.slots().is_empty() {
                "policy"
            } else {
                "template"
            };
            let mut s = format!("{kind} `{}` ({effect})", p.id);
            for key in ["reason", "fix"] {
                if let Some(v) =
                    annotation(&p.policy.annotations, key).and_then(|a| a.value.as_ref())
                {
                    s.push_str(&format!("\n\n@{key}: {v}"));
                }
            }
            s
        }
        Found::Entity(u) => entity_text(&a.set, &u),
        Found::Type(ty) => entity_text(&a.set, &EntityUid::new(ty, "")),
        Found::Attribute(attr, var) => {
            let types = var.and_then(|principal| scope_types(&a.set, file, offset, principal));
            let lines: Vec<String> = a
                .set
                .schema
                .entity_types
                .iter()
                .filter(|(ty, _)| types.as_ref().map_or(true, |ts| ts.contains(*ty)))
                .filter_map(|(ty, t)| {
                    let at = t.attrs.get(attr.as_str())?;
                    Some(format!(
                        "`{attr}{}: {}` on `{ty}`",
                        if at.optional { "?" } else { "" },
                        Ty::from_schema(&at.ty)
                    ))
                })
                .collect();
            if lines.is_empty() {
                format!("attribute `{attr}`: no declared type has it")
            } else {
                lines.join("\n\n")
            }
        }
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: None,
    })
}

fn rule_signature(set: &PolicySet, i: usize) -> String {
    let rule = &set.rules[i];
    let params = rule
        .clauses
        .first()
        .map(|c| c.params.join(", "))
        .unwrap_or_default();
    let mut s = format!(
        "```mspl\nrule {}({params})\n```\n{} clause(s)",
        rule.name,
        rule.clauses.len()
    );
    for c in &rule.clauses {
        for key in ["reason", "fix", "finding", "invariant"] {
            if let Some(v) = annotation(&c.annotations, key).and_then(|a| a.value.as_ref()) {
                s.push_str(&format!("\n\n@{key}: {v}"));
            }
        }
        if let Some(doc) = doc_comment(set, c.span) {
            s.push_str("\n\n");
            s.push_str(&doc);
        }
    }
    s
}

/// The `//` lines right above `span`.
fn doc_comment(set: &PolicySet, span: Span) -> Option<String> {
    let text = set.sources.text(span.file);
    let before = &text[..(span.start as usize).min(text.len())];
    let mut lines: Vec<&str> = Vec::new();
    for line in before
        .lines()
        .rev()
        .skip_while(|l| l.trim().is_empty() || !l.trim().starts_with("//"))
    {
        match line.trim().strip_prefix("//") {
            Some(c) => lines.push(c.trim()),
            None => break,
        }
    }
    lines.reverse();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

pub(super) fn builtin_signature(b: &Builtin) -> String {
    let name = |p: &builtins::Param| format!("{p:?}");
    match b.form {
        Form::Function => format!(
            "```mspl\n{}({}) -> {}\n```",
            b.name,
            b.params.iter().map(name).collect::<Vec<_>>().join(", "),
            name(&b.result)
        ),
        Form::Method => format!(
            "```mspl\n{}.{}({}) -> {}\n```",
            b.params.first().map(name).unwrap_or_default(),
            b.name,
            b.params
                .iter()
                .skip(1)
                .map(name)
                .collect::<Vec<_>>()
                .join(", "),
            name(&b.result)
        ),
    }
}

fn entity_text(set: &PolicySet, u: &EntityUid) -> String {
    if let Some(a) = set.schema.actions.get(u) {
        let list = |l: &Option<Vec<crate::syntax::ast::Name>>| {
            l.as_ref()
                .map(|l| l.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        };
        return format!(
            "action `{u}`\n\nprincipals: {}\n\nresources: {}",
            list(&a.principals),
            list(&a.resources)
        );
    }
    match set.schema.entity_types.get(&u.ty) {
        Some(t) => {
            let attrs: Vec<String> = t
                .attrs
                .iter()
                .map(|(k, a)| {
                    format!(
                        "{k}{}: {}",
                        if a.optional { "?" } else { "" },
                        Ty::from_schema(&a.ty)
                    )
                })
                .collect();
            let parents = if t.parents.is_empty() {
                String::new()
            } else {
                format!(
                    " in [{}]",
                    t.parents
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                "```cedarschema\nentity {}{parents} {{ {} }};\n```",
                u.ty,
                attrs.join(", ")
            )
        }
        None if u.id.is_empty() => format!("entity type `{}` (not declared)", u.ty),
        None => format!("entity `{u}` (type `{}` not declared)", u.ty),
    }
}

/// The clause heads of rule `i`.
fn rule_heads(set: &PolicySet, i: u32) -> Vec<Span> {
    set.rules[i as usize]
        .clauses
        .iter()
        .map(|c| c.head)
        .collect()
}

/// The calls of rule `i`: the span of each call's name.
fn rule_calls(set: &PolicySet, i: u32) -> Vec<Span> {
    let mut out = Vec::new();
    each_expr(set, &mut |e| {
        if let ExprKind::Call {
            name,
            target: CallTarget::Rule(j),
            ..
        } = &e.kind
        {
            if *j == i {
                out.push(name_span(e.span, name));
            }
        }
    });
    out
}

/// Where the rule or entity type at a place is defined.
pub fn definition(a: &Analysis, path: &Path, position: Position) -> Option<Vec<Location>> {
    let (file, offset) = a.offset(path, position)?;
    if let Some((binding, _)) = variable_at(&a.set, file, offset) {
        return Some(a.location(binding).into_iter().collect());
    }
    let spans = match find(&a.set, file, offset)? {
        Found::Rule(i) => rule_heads(&a.set, i),
        Found::Entity(u) => match a.set.schema.actions.get(&u) {
            Some(action) => vec![action.span],
            None => a
                .set
                .schema
                .entity_types
                .get(&u.ty)
                .map(|t| t.span)
                .into_iter()
                .collect(),
        },
        Found::Type(ty) => a
            .set
            .schema
            .entity_types
            .get(&ty)
            .map(|t| t.span)
            .into_iter()
            .collect(),
        Found::Attribute(attr, var) => {
            let types = var.and_then(|principal| scope_types(&a.set, file, offset, principal));
            a.attributes
                .iter()
                .filter(|(ty, name, _)| {
                    *name == attr && types.as_ref().map_or(true, |ts| ts.contains(ty))
                })
                .map(|(_, _, s)| *s)
                .collect()
        }
        _ => return None,
    };
    Some(spans.into_iter().filter_map(|s| a.location(s)).collect())
}

/// Every place the rule at a place is defined or called.
pub fn references(
    a: &Analysis,
    path: &Path,
    position: Position,
    declaration: bool,
) -> Option<Vec<Location>> {
    let (file, offset) = a.offset(path, position)?;
    if let Some((binding, uses)) = variable_at(&a.set, file, offset) {
        let spans = uses
            .into_iter()
            .filter(|u| declaration || u.start != binding.start);
        return Some(spans.filter_map(|s| a.location(s)).collect());
    }
    let mut spans = match find(&a.set, file, offset)? {
        Found::Rule(i) => {
            let mut spans = rule_calls(&a.set, i);
            if declaration {
                spans.extend(rule_heads(&a.set, i));
            }
            spans
        }
        // An action: every policy that names it; an entity type: every
        // reference to one of its entities and every `is T`.
        Found::Entity(u) if a.set.schema.actions.contains_key(&u) => {
            let mut spans = entity_uses(&a.set, &|x: &EntityUid| *x == u, "");
            if declaration {
                spans.extend(a.set.schema.actions.get(&u).map(|x| x.span));
            }
            spans
        }
        Found::Entity(EntityUid { ty, .. }) | Found::Type(ty) => {
            let mut spans = entity_uses(&a.set, &|x: &EntityUid| x.ty == ty, &ty);
            if declaration {
                spans.extend(a.set.schema.entity_types.get(&ty).map(|t| t.span));
            }
            spans
        }
        // An attribute: every read or `has` of that name, and its
        // declarations.
        Found::Attribute(attr, _) => {
            let mut spans = Vec::new();
            each_expr(&a.set, &mut |e| match &e.kind {
                ExprKind::GetAttr(_, x) if *x == attr => spans.push(e.span),
                ExprKind::Has(_, path) if path.contains(&attr) => spans.push(e.span),
                _ => {}
            });
            if declaration {
                spans.extend(
                    a.attributes
                        .iter()
                        .filter(|(_, n, _)| *n == attr)
                        .map(|(_, _, s)| *s),
                );
            }
            spans
        }
        _ => return None,
    };
    spans.sort_by_key(|s| (s.file, s.start));
    spans.dedup_by_key(|s| (s.file, s.start, s.end));
    Some(spans.into_iter().filter_map(|s| a.location(s)).collect())
}

/// Where the policies and rules name an entity `hit` accepts (scopes, entity
/// references) or the type `ty` (`is ty`, when not empty).
fn entity_uses(set: &PolicySet, hit: &dyn Fn(&EntityUid) -> bool, ty: &str) -> Vec<Span> {
    use crate::syntax::ast::ActionConstraint;
    let mut out = Vec::new();
    for p in set
        .policies
        .iter()
        .filter(|p| p.link.is_none())
        .chain(&set.templates)
    {
        for c in [&p.policy.principal, &p.policy.resource] {
            match c {
                ScopeConstraint::Eq(u, s) | ScopeConstraint::In(u, s) if hit(u) => out.push(*s),
                ScopeConstraint::IsIn(t, u, s) if hit(u) || (!ty.is_empty() && t == ty) => {
                    out.push(*s)
                }
                ScopeConstraint::Is(t, s) | ScopeConstraint::IsInSlot(t, s)
                    if !ty.is_empty() && t == ty =>
                {
                    out.push(*s)
                }
                _ => {}
            }
        }
        match &p.policy.action {
            ActionConstraint::Eq(u, s) if hit(u) => out.push(*s),
            ActionConstraint::In(list, s) if list.iter().any(hit) => out.push(*s),
            _ => {}
        }
    }
    each_expr(set, &mut |e| match &e.kind {
        ExprKind::Entity(u) if hit(u) => out.push(e.span),
        ExprKind::Is(_, t, _) if !ty.is_empty() && t == ty => out.push(e.span),
        _ => {}
    });
    out
}

/// Renames the rule at a place, in every file.
pub fn rename(
    a: &Analysis,
    path: &Path,
    position: Position,
    new_name: &str,
) -> Result<Option<WorkspaceEdit>, String> {
    let Some((file, offset)) = a.offset(path, position) else {
        return Ok(None);
    };
    let word = |n: &str| {
        crate::syntax::uid::is_type_name(n)
            && !n.contains("::")
            && crate::syntax::tokens::keyword_kind(n) == crate::syntax::tokens::KeywordKind::Plain
    };
    if let Some(uses) = rename_variable(&a.set, file, offset, new_name) {
        if !word(new_name) {
            return Err(format!("`{new_name}` cannot be a variable's name"));
        }
        let uses = uses?;
        let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
        for s in uses {
            if let Some(loc) = a.location(s) {
                changes
                    .entry(loc.uri)
                    .or_default()
                    .push(TextEdit::new(loc.range, new_name.into()));
            }
        }
        return Ok(Some(WorkspaceEdit::new(changes)));
    }
    let Some(Found::Rule(i)) = find(&a.set, file, offset) else {
        return Err("only rules can be renamed here".into());
    };
    if !word(new_name) || builtins::function(new_name).is_some() || a.set.rule(new_name).is_some() {
        return Err(format!("`{new_name}` cannot be a new rule name here"));
    }
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    for s in rule_calls(&a.set, i)
        .into_iter()
        .chain(rule_heads(&a.set, i))
    {
        if let Some(loc) = a.location(s) {
            changes
                .entry(loc.uri)
                .or_default()
                .push(TextEdit::new(loc.range, new_name.into()));
        }
    }
    Ok(Some(WorkspaceEdit::new(changes)))
}

/// The types `principal` (or `resource`) may have in the policy at a
/// place: what its scope names, else what the actions its scope allows
/// apply to; `None` outside a policy (every type).
pub(super) fn scope_types(
    set: &PolicySet,
    file: usize,
    offset: usize,
    principal: bool,
) -> Option<Vec<crate::syntax::ast::Name>> {
    use crate::syntax::ast::ActionConstraint;
    let p = set
        .policies
        .iter()
        .filter(|p| p.link.is_none())
        .chain(&set.templates)
        .find(|p| within(p.policy.span, file, offset))?;
    let c = if principal {
        &p.policy.principal
    } else {
        &p.policy.resource
    };
    match c {
        ScopeConstraint::Eq(u, _) => return Some(vec![u.ty.clone()]),
        ScopeConstraint::Is(t, _)
        | ScopeConstraint::IsIn(t, _, _)
        | ScopeConstraint::IsInSlot(t, _) => return Some(vec![t.clone()]),
        _ => {}
    }
    let allowed = |u: &EntityUid, a: &crate::schema::Action| match &p.policy.action {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(x, _) => x == u,
        ActionConstraint::In(list, _) => {
            list.contains(u) || a.parents.iter().any(|g| list.contains(g))
        }
    };
    let mut out: Vec<crate::syntax::ast::Name> = Vec::new();
    for (u, a) in &set.schema.actions {
        if allowed(u, a) {
            let list = if principal {
                &a.principals
            } else {
                &a.resources
            };
            out.extend(list.iter().flatten().cloned());
        }
    }
    out.sort();
    out.dedup();
    (!out.is_empty()).then_some(out)
}
