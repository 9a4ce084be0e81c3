//! What the server answers from an analysis: hover, go to definition,
//! references, rename, symbols, folding, formatting, completion and quick
//! fixes. Each finds what stands at a place in the loaded set's trees.

use super::analysis::Analysis;
use crate::builtins::{self, Builtin, Form};
use crate::policy_set::PolicySet;
use crate::syntax::ast::{
    annotation, visit, CallTarget, Decl, EntityUid, Expr, ExprKind, Item, ScopeConstraint,
};
use crate::syntax::span::Span;
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

fn within(span: Span, file: usize, offset: usize) -> bool {
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
fn each_expr(set: &PolicySet, f: &mut dyn FnMut(&Expr)) {
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

fn find(set: &PolicySet, file: usize, offset: usize) -> Option<Found<'_>> {
    for (i, r) in set.rules.iter().enumerate() {
        for c in &r.clauses {
            if within(c.head, file, offset) {
                return Some(Found::Rule(i as u32));
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

fn builtin_signature(b: &Builtin) -> String {
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
    if let Some((_, uses)) = variable_at(&a.set, file, offset) {
        if !word(new_name) {
            return Err(format!("`{new_name}` cannot be a variable's name"));
        }
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

/// The document's policies, rules and declarations.
#[allow(deprecated)]
pub fn document_symbols(a: &Analysis, path: &Path) -> Vec<DocumentSymbol> {
    let Some(text) = a.text(path) else {
        return Vec::new();
    };
    let Some(&file) = a.ids.get(path) else {
        return Vec::new();
    };
    let parsed = crate::syntax::parse_file(text, file, &crate::limits::Limits::default());
    let mut n = 0usize;
    let symbol =
        |name: String, kind: SymbolKind, span: Span, head: Span| -> Option<DocumentSymbol> {
            Some(DocumentSymbol {
                name,
                detail: None,
                kind,
                tags: None,
                deprecated: None,
                range: a.range(span)?,
                selection_range: a.range(head)?,
                children: None,
            })
        };
    let mut out = Vec::new();
    let decl = |d: &Decl, out: &mut Vec<DocumentSymbol>| match d {
        Decl::Entity(e) => out.extend(symbol(
            e.names.join(", "),
            SymbolKind::CLASS,
            e.span,
            e.span,
        )),
        Decl::Action(x) => out.extend(symbol(
            format!("action {}", x.names.join(", ")),
            SymbolKind::EVENT,
            x.span,
            x.span,
        )),
        Decl::Type(t) => out.extend(symbol(
            format!("type {}", t.name),
            SymbolKind::STRUCT,
            t.span,
            t.span,
        )),
    };
    for item in &parsed.file.items {
        match item {
            Item::Policy(p) => {
                let id = annotation(&p.annotations, "id")
                    .and_then(|a| a.value.clone())
                    .map_or_else(
                        || format!("policy (number {n} of the file)"),
                        |v| v.to_string(),
                    );
                n += 1;
                out.extend(symbol(id, SymbolKind::OBJECT, p.span, p.head));
            }
            Item::Rule(r) => out.extend(symbol(
                format!("rule {}", r.name),
                SymbolKind::FUNCTION,
                r.span,
                r.head,
            )),
            Item::Decl(d) => decl(d, &mut out),
            Item::Namespace(ns) => {
                let mut children = Vec::new();
                for d in &ns.decls {
                    decl(d, &mut children);
                }
                if let Some(mut s) =
                    symbol(ns.name.to_string(), SymbolKind::NAMESPACE, ns.span, ns.span)
                {
                    s.children = Some(children);
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Policies, rules, entity types and actions whose name holds `query`.
#[allow(deprecated)]
pub fn workspace_symbols(a: &Analysis, query: &str) -> Vec<SymbolInformation> {
    let q = query.to_lowercase();
    let mut out = Vec::new();
    let mut add = |name: String, kind: SymbolKind, span: Span| {
        if name.to_lowercase().contains(&q) {
            if let Some(location) = a.location(span) {
                out.push(SymbolInformation {
                    name,
                    kind,
                    tags: None,
                    deprecated: None,
                    location,
                    container_name: None,
                });
            }
        }
    };
    for p in a
        .set
        .policies
        .iter()
        .filter(|p| p.link.is_none())
        .chain(&a.set.templates)
    {
        add(p.id.to_string(), SymbolKind::OBJECT, p.policy.head);
    }
    for r in &a.set.rules {
        if let Some(c) = r.clauses.first() {
            add(r.name.to_string(), SymbolKind::FUNCTION, c.head);
        }
    }
    for (n, t) in &a.set.schema.entity_types {
        add(n.to_string(), SymbolKind::CLASS, t.span);
    }
    for (u, x) in &a.set.schema.actions {
        add(u.to_string(), SymbolKind::EVENT, x.span);
    }
    out
}

/// A folding range for every item of more than one line.
pub fn folding(a: &Analysis, path: &Path) -> Vec<FoldingRange> {
    document_symbols(a, path)
        .into_iter()
        .filter(|s| s.range.end.line > s.range.start.line)
        .map(|s| FoldingRange {
            start_line: s.range.start.line,
            start_character: None,
            end_line: s.range.end.line,
            end_character: None,
            kind: None,
            collapsed_text: None,
        })
        .collect()
}

/// `mspl fmt`'s text as one edit, or nothing for a file that does not
/// parse (or is already formatted).
pub fn formatting(a: &Analysis, path: &Path) -> Option<Vec<TextEdit>> {
    let (text, index) = a.files.get(path)?;
    if !crate::files::walk::has_extension(path, crate::files::walk::TEXT_EXTENSIONS) {
        return None;
    }
    let formatted = crate::fmt::format_source(text, &crate::limits::Limits::default()).ok()?;
    if &formatted == text {
        return Some(Vec::new());
    }
    Some(vec![TextEdit::new(
        index.range(text, 0, text.len()),
        formatted,
    )])
}

/// Completions at a place: after `principal.` or `resource.` the declared
/// attributes of the types it may have; inside `Action::"` the action ids;
/// otherwise keywords, snippets, rules, built-ins, entity types and ids.
pub fn completion(
    a: &Analysis,
    path: &Path,
    position: Position,
    entity_ids: &[EntityUid],
) -> Vec<CompletionItem> {
    let Some((_, offset)) = a.offset(path, position) else {
        return Vec::new();
    };
    let text = a.text(path).unwrap_or_default();
    let before = &text[..offset.min(text.len())];
    let item = |label: String, kind: CompletionItemKind, detail: Option<String>| CompletionItem {
        label,
        kind: Some(kind),
        detail,
        ..CompletionItem::default()
    };
    if let Some(head) = before.strip_suffix('.').or_else(|| {
        let word_start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        before[..word_start].strip_suffix('.')
    }) {
        let var = head
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if var == "principal" || var == "resource" {
            let file = a.ids.get(path).copied().unwrap_or(usize::MAX);
            let types = scope_types(&a.set, file, offset, var == "principal");
            let mut attrs: Vec<CompletionItem> = Vec::new();
            for (ty, t) in a
                .set
                .schema
                .entity_types
                .iter()
                .filter(|(ty, _)| types.as_ref().map_or(true, |ts| ts.contains(*ty)))
            {
                for (name, attr) in t.attrs.iter() {
                    if !attrs.iter().any(|i| i.label == name.as_str()) {
                        attrs.push(item(
                            name.to_string(),
                            CompletionItemKind::FIELD,
                            Some(format!("{}: {} (on {ty})", name, Ty::from_schema(&attr.ty))),
                        ));
                    }
                }
            }
            return attrs;
        }
        // A method.
        return builtins::BUILTINS
            .iter()
            .filter(|b| b.form == Form::Method)
            .map(|b| {
                item(
                    b.name.to_string(),
                    CompletionItemKind::METHOD,
                    Some(builtin_signature(b)),
                )
            })
            .collect();
    }
    if before.ends_with("Action::\"")
        || before
            .rsplit_once("Action::\"")
            .is_some_and(|(_, rest)| !rest.contains('"'))
    {
        return a
            .set
            .schema
            .actions
            .keys()
            .map(|u| {
                item(
                    u.id.to_string(),
                    CompletionItemKind::ENUM_MEMBER,
                    Some(u.to_string()),
                )
            })
            .collect();
    }
    let mut out: Vec<CompletionItem> = Vec::new();
    for kw in crate::syntax::tokens::ITEM_KEYWORDS
        .iter()
        .chain(crate::syntax::tokens::RESERVED_WORDS)
        .chain(crate::syntax::tokens::CONTEXTUAL_KEYWORDS)
        .chain(crate::syntax::tokens::VARIABLES)
    {
        out.push(item(kw.to_string(), CompletionItemKind::KEYWORD, None));
    }
    for (label, body) in [
        (
            "permit (…)",
            "permit (\n  principal${1},\n  action${2},\n  resource${3}\n)\nwhen { ${4:true} };",
        ),
        (
            "forbid (…)",
            "forbid (\n  principal${1},\n  action${2},\n  resource${3}\n)\nwhen { ${4:true} };",
        ),
        ("rule …", "rule ${1:name}(${2:x}) { ${3:true} }"),
    ] {
        out.push(CompletionItem {
            label: label.into(),
            kind: Some(CompletionItemKind::SNIPPET),
            insert_text: Some(body.into()),
            insert_text_format: Some(InsertTextFormat::SNIPPET),
            ..CompletionItem::default()
        });
    }
    for r in &a.set.rules {
        let params = r
            .clauses
            .first()
            .map(|c| c.params.join(", "))
            .unwrap_or_default();
        out.push(item(
            r.name.to_string(),
            CompletionItemKind::FUNCTION,
            Some(format!("rule {}({params})", r.name)),
        ));
    }
    for b in builtins::BUILTINS
        .iter()
        .filter(|b| b.form == Form::Function)
    {
        out.push(item(
            b.name.to_string(),
            CompletionItemKind::FUNCTION,
            Some(builtin_signature(b)),
        ));
    }
    for ty in a.set.schema.entity_types.keys() {
        out.push(item(ty.to_string(), CompletionItemKind::CLASS, None));
    }
    for u in entity_ids {
        out.push(item(u.to_string(), CompletionItemKind::VALUE, None));
    }
    out
}

/// The signature of the rule or built-in whose call the place is inside:
/// found on the text (the call being typed need not parse), the active
/// parameter counted by the commas before the place.
pub fn signature_help(a: &Analysis, path: &Path, position: Position) -> Option<SignatureHelp> {
    let (_, offset) = a.offset(path, position)?;
    let text = a.text(path)?;
    let before = &text[..offset.min(text.len())];
    // Back to the unclosed `(`, counting commas at its depth.
    let (mut depth, mut commas, mut open) = (0i32, 0u32, None);
    for (i, c) in before.char_indices().rev() {
        match c {
            ')' | ']' | '}' => depth += 1,
            '(' | '[' | '{' if depth > 0 => depth -= 1,
            '(' => {
                open = Some(i);
                break;
            }
            '[' | '{' | ';' => return None,
            ',' if depth == 0 => commas += 1,
            _ => {}
        }
    }
    let head = before[..open?].trim_end();
    let name_start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let name = &head[name_start..];
    let is_method = head[..name_start].ends_with('.');
    let (label, params): (String, Vec<String>) =
        if let (false, Some((_, rule))) = (is_method, a.set.rule(name)) {
            let params: Vec<String> = rule
                .clauses
                .first()
                .map(|c| c.params.iter().map(|p| p.to_string()).collect())
                .unwrap_or_default();
            (format!("{name}({})", params.join(", ")), params)
        } else {
            let b = if is_method {
                builtins::method(name)
            } else {
                builtins::function(name)
            }?;
            let skip = usize::from(b.form == Form::Method);
            let params: Vec<String> = b
                .params
                .iter()
                .skip(skip)
                .map(|p| format!("{p:?}"))
                .collect();
            (
                format!("{name}({}) -> {:?}", params.join(", "), b.result),
                params,
            )
        };
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation: None,
            parameters: Some(
                params
                    .into_iter()
                    .map(|p| ParameterInformation {
                        label: ParameterLabel::Simple(p),
                        documentation: None,
                    })
                    .collect(),
            ),
            active_parameter: Some(commas),
        }],
        active_signature: Some(0),
        active_parameter: Some(commas),
    })
}

/// The types `principal` (or `resource`) may have in the policy at a
/// place: what its scope names, else what the actions its scope allows
/// apply to; `None` outside a policy (every type).
fn scope_types(
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

/// Quick fixes: a diagnostic's did-you-mean, replacing the misspelled
/// word (the first word the message quotes that ends the diagnostic's
/// text, or the whole text when it is one word).
pub fn code_actions(
    a: &Analysis,
    path: &Path,
    diagnostics: &[lsp_types::Diagnostic],
) -> Vec<CodeActionOrCommand> {
    let Ok(uri) = Url::from_file_path(path) else {
        return Vec::new();
    };
    let Some((text, index)) = a.files.get(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in diagnostics {
        let Some(rest) = d.message.split("did you mean `").nth(1) else {
            continue;
        };
        let Some(suggestion) = rest.split('`').next() else {
            continue;
        };
        let (start, end) = (
            index.offset(text, d.range.start),
            index.offset(text, d.range.end),
        );
        let Some(written) = text.get(start..end.max(start)) else {
            continue;
        };
        let quoted = d.message.split('`').skip(1).step_by(2);
        let word = quoted
            .take_while(|w| *w != suggestion)
            .find(|w| !w.is_empty() && written.ends_with(w))
            .or_else(|| {
                written
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_')
                    .then_some(written)
            });
        let Some(word) = word else { continue };
        let range = index.range(text, end - word.len(), end);
        let edit = WorkspaceEdit::new(HashMap::from([(
            uri.clone(),
            vec![TextEdit::new(range, suggestion.into())],
        )]));
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("change `{word}` to `{suggestion}`"),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![d.clone()]),
            edit: Some(edit),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    out
}

/// Every use of a rule's parameter or a quantified variable in the rule
/// clause or policy condition at a place, with its binding: `(binding,
/// use)` pairs, the binding's own span among the uses.
fn local_uses(set: &PolicySet, file: usize, offset: usize) -> Vec<(Span, Span)> {
    let text = set.sources.text(file);
    let mut out = Vec::new();
    for r in &set.rules {
        for c in r.clauses.iter().filter(|c| within(c.span, file, offset)) {
            let params = param_spans(text, c.head, c.params.len());
            for p in &params {
                out.push((*p, *p));
            }
            walk_locals(&c.body, text, &mut Vec::new(), &params, &mut out);
        }
    }
    for p in set
        .policies
        .iter()
        .filter(|p| p.link.is_none())
        .chain(&set.templates)
    {
        for c in p
            .policy
            .conditions
            .iter()
            .filter(|c| within(c.span, file, offset))
        {
            walk_locals(&c.body, text, &mut Vec::new(), &[], &mut out);
        }
    }
    out
}

/// The spans of a clause's `count` parameter names, read from the text
/// after its name.
fn param_spans(text: &str, head: Span, count: usize) -> Vec<Span> {
    let from = head.end as usize;
    let Some(rest) = text.get(from..) else {
        return Vec::new();
    };
    let Some(close) = rest.find(')') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in crate::syntax::tokens::lex(&rest[..close]) {
        if t.token == Some(crate::syntax::tokens::Token::Ident) {
            out.push(Span::new(
                head.file,
                from + t.range.start,
                from + t.range.end,
            ));
        }
    }
    out.truncate(count);
    out
}

fn walk_locals(
    e: &Expr,
    text: &str,
    stack: &mut Vec<(u32, Span)>,
    params: &[Span],
    out: &mut Vec<(Span, Span)>,
) {
    crate::limits::with_stack(|| match &e.kind {
        ExprKind::Local(i, _) => {
            let binding = stack
                .iter()
                .rev()
                .find(|(l, _)| l == i)
                .map(|(_, s)| *s)
                .or_else(|| params.get(*i as usize).copied());
            if let Some(b) = binding {
                out.push((b, e.span));
            }
        }
        ExprKind::Quantified {
            var,
            local,
            set,
            body,
            ..
        } => {
            walk_locals(set, text, stack, params, out);
            // The name after `any` or `all`.
            let start = e.span.start as usize;
            let binding = text
                .get(start..e.span.end as usize)
                .and_then(|t| t.get(3..))
                .and_then(|t| t.find(var.as_str()).map(|i| start + 3 + i))
                .map(|at| Span::new(e.span.file, at, at + var.len()));
            if let Some(b) = binding {
                out.push((b, b));
                stack.push((*local, b));
                walk_locals(body, text, stack, params, out);
                stack.pop();
            }
        }
        _ => {
            let mut children = Vec::new();
            direct_children(e, &mut children);
            for c in children {
                walk_locals(c, text, stack, params, out);
            }
        }
    })
}

/// The expressions directly inside `e`.
fn direct_children<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Error
        | ExprKind::Lit(_)
        | ExprKind::Entity(_)
        | ExprKind::Var(_)
        | ExprKind::Local(..) => {}
        ExprKind::If(a, b, c) => out.extend([&**a, &**b, &**c]),
        ExprKind::And(items) | ExprKind::Or(items) | ExprKind::Set(items) => out.extend(items),
        ExprKind::Not(a)
        | ExprKind::Neg(a)
        | ExprKind::Has(a, _)
        | ExprKind::Like(a, _)
        | ExprKind::GetAttr(a, _) => out.push(a),
        ExprKind::Binary(_, a, b) => out.extend([&**a, &**b]),
        ExprKind::Is(a, _, b) => {
            out.push(a);
            out.extend(b.as_deref());
        }
        ExprKind::Method(r, _, args) => {
            out.push(r);
            out.extend(args);
        }
        ExprKind::Call { args, .. } => out.extend(args),
        ExprKind::Record(entries) => out.extend(entries.iter().map(|(_, v)| v)),
        ExprKind::Quantified { set, body, .. } => out.extend([&**set, &**body]),
    }
}

/// The binding and every use of the variable at a place.
fn variable_at(set: &PolicySet, file: usize, offset: usize) -> Option<(Span, Vec<Span>)> {
    let uses = local_uses(set, file, offset);
    let (binding, _) = uses.iter().find(|(_, u)| within(*u, file, offset))?;
    // (Span equality ignores places: compare the starts.)
    let mut all: Vec<Span> = uses
        .iter()
        .filter(|(b, _)| b.start == binding.start)
        .map(|(_, u)| *u)
        .collect();
    all.sort_by_key(|s| s.start);
    all.dedup_by_key(|s| s.start);
    Some((*binding, all))
}
