//! Rule parameters and quantified variables: each use tied to its
//! binding, for go to definition, references and rename.

use super::navigate::within;
use crate::policy_set::PolicySet;
use crate::span::Span;
use crate::syntax::ast::{Expr, ExprKind};

/// A binding of a rule parameter or a quantified variable: where its name
/// stands, the name, and the text its uses may stand in.
#[derive(Clone, Copy)]
struct Binding<'a> {
    at: Span,
    name: &'a str,
    scope: Span,
}

/// The bindings and uses of the rule clause or policy condition at a place.
#[derive(Default)]
struct Locals<'a> {
    bindings: Vec<Binding<'a>>,
    /// `(binding index, use)` pairs, each binding's own span among its uses.
    uses: Vec<(usize, Span)>,
}

impl<'a> Locals<'a> {
    fn bind(&mut self, b: Binding<'a>) -> usize {
        self.bindings.push(b);
        self.uses.push((self.bindings.len() - 1, b.at));
        self.bindings.len() - 1
    }
}

/// Every use of a rule's parameter or a quantified variable in the rule
/// clause or policy condition at a place, with its binding.
fn local_uses<'a>(set: &'a PolicySet, file: usize, offset: usize) -> Locals<'a> {
    let text = set.sources.text(file);
    let mut out = Locals::default();
    for r in &set.rules {
        for c in r.clauses.iter().filter(|c| within(c.span, file, offset)) {
            let params: Vec<usize> = param_spans(text, c.head, c.params.len())
                .into_iter()
                .map(|at| {
                    let name = text.get(at.start as usize..at.end as usize).unwrap_or("");
                    out.bind(Binding {
                        at,
                        name,
                        scope: c.span,
                    })
                })
                .collect();
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

fn walk_locals<'a>(
    e: &'a Expr,
    text: &str,
    stack: &mut Vec<(u32, usize)>,
    params: &[usize],
    out: &mut Locals<'a>,
) {
    crate::limits::with_stack(|| match &e.kind {
        ExprKind::Local(i, _) => {
            let binding = stack
                .iter()
                .rev()
                .find(|(l, _)| l == i)
                .map(|(_, b)| *b)
                .or_else(|| params.get(*i as usize).copied());
            if let Some(b) = binding {
                out.uses.push((b, e.span));
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
            let at = text
                .get(start..e.span.end as usize)
                .and_then(|t| t.get(3..))
                .and_then(|t| t.find(var.as_str()).map(|i| start + 3 + i))
                .map(|at| Span::new(e.span.file, at, at + var.len()));
            if let Some(at) = at {
                let b = out.bind(Binding {
                    at,
                    name: var,
                    scope: body.span,
                });
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
    let locals = local_uses(set, file, offset);
    let (b, _) = locals.uses.iter().find(|(_, u)| within(*u, file, offset))?;
    Some((locals.bindings[*b].at, uses_of(&locals, *b)))
}

fn uses_of(locals: &Locals, b: usize) -> Vec<Span> {
    let mut all: Vec<Span> = locals
        .uses
        .iter()
        .filter(|(x, _)| *x == b)
        .map(|(_, u)| *u)
        .collect();
    all.sort_by_key(|s| s.start);
    all.dedup_by_key(|s| s.start);
    all
}

/// The uses of the variable at a place, to be renamed `new_name`; an error
/// when the new name would capture a use or be captured: another binding
/// of that name whose text holds a use of this variable (a sibling
/// parameter, an enclosing quantifier), or a use of another binding of
/// that name inside this variable's text (a quantifier it encloses).
pub(super) fn rename_variable(
    set: &PolicySet,
    file: usize,
    offset: usize,
    new_name: &str,
) -> Option<Result<Vec<Span>, String>> {
    let locals = local_uses(set, file, offset);
    let (b, _) = locals.uses.iter().find(|(_, u)| within(*u, file, offset))?;
    let b = *b;
    let mine = uses_of(&locals, b);
    let inside = |outer: Span, s: Span| outer.start <= s.start && s.end <= outer.end;
    for (o, other) in locals.bindings.iter().enumerate() {
        if o == b || other.name != new_name {
            continue;
        }
        let captured = mine.iter().any(|u| inside(other.scope, *u));
        // A binding inside this variable's text keeps its own uses.
        let mine_scope = locals.bindings[b].scope;
        let captures = !inside(mine_scope, other.scope)
            && uses_of(&locals, o).iter().any(|u| inside(mine_scope, *u));
        if captured || captures {
            return Some(Err(format!(
                "`{new_name}` is already bound where `{}` is used: renaming would change what a use refers to",
                locals.bindings[b].name
            )));
        }
    }
    Some(Ok(mine))
}
