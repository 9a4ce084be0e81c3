//! Rule parameters and quantified variables: each use tied to its
//! binding, for go to definition, references and rename.

use super::navigate::within;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{Expr, ExprKind};
use crate::syntax::span::Span;

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
            e.for_each_child(&mut |c| walk_locals(c, text, stack, params, out));
        }
    })
}

/// The binding and every use of the variable at a place.
pub(super) fn variable_at(
    set: &PolicySet,
    file: usize,
    offset: usize,
) -> Option<(Span, Vec<Span>)> {
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
