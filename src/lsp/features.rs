//! What the server answers about a document as a whole or as it is being
//! typed: symbols, folding, formatting, completion, signature help and
//! quick fixes (navigation is [`super::navigate`]'s).

use super::analysis::Analysis;
use super::navigate::{builtin_signature, scope_types};
use crate::builtins::{self, Form};
use crate::span::Span;
use crate::syntax::ast::{annotation, Decl, EntityUid, Item};
use crate::validate::types::Ty;
use lsp_types::*;
use std::collections::HashMap;
use std::path::Path;

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
    // Inside the quoted id of an action (`Action::"page.`, the closing
    // quote an editor inserted or not): the action ids that start with
    // what is typed, which may hold a `.` that is no method call.
    if let Some((_, typed)) = before
        .rsplit_once("Action::\"")
        .filter(|(_, rest)| !rest.contains('"') && !rest.contains('\n'))
    {
        let range = a
            .files
            .get(path)
            .map(|(text, index)| index.range(text, offset - typed.len(), offset));
        let mut ids: Vec<&EntityUid> = a
            .set
            .schema
            .actions
            .keys()
            .filter(|u| u.id.starts_with(typed))
            .collect();
        ids.sort();
        return ids
            .into_iter()
            .map(|u| CompletionItem {
                text_edit: range
                    .map(|range| CompletionTextEdit::Edit(TextEdit::new(range, u.id.to_string()))),
                filter_text: Some(u.id.to_string()),
                ..item(
                    u.id.to_string(),
                    CompletionItemKind::ENUM_MEMBER,
                    Some(u.to_string()),
                )
            })
            .collect();
    }
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
