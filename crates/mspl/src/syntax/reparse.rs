//! Parsing a file again after an edit, for the language server: the
//! statements whose text did not change are taken from the last parse,
//! their spans moved to where they stand now; only the changed ones go
//! through pest. When any statement fails to parse, the whole file is
//! parsed as [`parse_file`] does, so errors are exactly its errors.
//!
//! **Invariant:** `reparse` returns what `parse_file` returns (the tests
//! compare them on edited corpus files).

use super::ast::*;
use super::parser::{parse_file, Parsed};
use crate::span::{FileId, Span};
use super::split::split;
use crate::limits::Limits;
use std::collections::HashMap;

/// The statements of the last parse, by their text.
#[derive(Default)]
pub struct ReparseCache {
    /// Statement text -> (where it started, its items).
    statements: HashMap<String, (usize, Vec<Item>)>,
}

/// Parses `source` (file `file`), reusing what `cache` holds of the last
/// parse, and refills `cache` with this one's statements.
pub fn reparse(source: &str, file: FileId, limits: &Limits, cache: &mut ReparseCache) -> Parsed {
    if source.len() > limits.max_policy_file_bytes {
        return parse_file(source, file, limits);
    }
    let chunks = split(source, limits.nesting());
    if chunks.iter().any(|c| c.too_deep_at.is_some()) {
        cache.statements.clear();
        return parse_file(source, file, limits);
    }
    let mut next = HashMap::with_capacity(chunks.len());
    let mut out = Parsed::default();
    for chunk in &chunks {
        let text = &source[chunk.range.clone()];
        if text.trim().is_empty() {
            continue;
        }
        let items = match cache.statements.remove(text) {
            Some((start, mut items)) => {
                let delta = chunk.range.start as i64 - start as i64;
                for item in &mut items {
                    shift_item(item, file, delta);
                }
                items
            }
            None => {
                let mut parsed = parse_file(text, file, limits);
                if !parsed.errors.is_empty() {
                    cache.statements.clear();
                    return parse_file(source, file, limits);
                }
                for item in &mut parsed.file.items {
                    shift_item(item, file, chunk.range.start as i64);
                }
                parsed.file.items
            }
        };
        out.file.items.extend(items.iter().cloned());
        next.insert(text.to_string(), (chunk.range.start, items));
    }
    cache.statements = next;
    out
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "a shifted span stays inside its source, of at most u32::MAX bytes"
)]
fn shift(span: &mut Span, file: FileId, delta: i64) {
    span.file = file;
    span.start = (span.start as i64 + delta) as u32;
    span.end = (span.end as i64 + delta) as u32;
}

fn shift_annotations(list: &mut [Annotation], file: FileId, delta: i64) {
    for a in list {
        shift(&mut a.span, file, delta);
    }
}

fn shift_expr(e: &mut Expr, file: FileId, delta: i64) {
    visit_mut(e, &mut |x| shift(&mut x.span, file, delta));
}

fn shift_type(t: &mut TypeExpr, file: FileId, delta: i64) {
    match t {
        TypeExpr::Named(_, s) => shift(s, file, delta),
        TypeExpr::Set(inner, s) => {
            shift(s, file, delta);
            shift_type(inner, file, delta);
        }
        TypeExpr::Record(attrs, s) => {
            shift(s, file, delta);
            shift_attrs(attrs, file, delta);
        }
    }
}

fn shift_attrs(attrs: &mut [AttrDecl], file: FileId, delta: i64) {
    for a in attrs {
        shift_annotations(&mut a.annotations, file, delta);
        shift_type(&mut a.ty, file, delta);
        shift(&mut a.span, file, delta);
    }
}

fn shift_scope(c: &mut ScopeConstraint, file: FileId, delta: i64) {
    if let Some(s) = c.span_mut() {
        shift(s, file, delta);
    }
}

fn shift_decl(d: &mut Decl, file: FileId, delta: i64) {
    match d {
        Decl::Entity(e) => {
            shift_annotations(&mut e.annotations, file, delta);
            shift_attrs(&mut e.attrs, file, delta);
            if let Some(t) = &mut e.tags {
                shift_type(t, file, delta);
            }
            shift(&mut e.span, file, delta);
        }
        Decl::Action(a) => {
            shift_annotations(&mut a.annotations, file, delta);
            if let Some(t) = &mut a.context {
                shift_type(t, file, delta);
            }
            shift(&mut a.span, file, delta);
        }
        Decl::Type(t) => {
            shift_annotations(&mut t.annotations, file, delta);
            shift_type(&mut t.ty, file, delta);
            shift(&mut t.span, file, delta);
        }
    }
}

/// Moves every span of `item` by `delta` bytes into file `file`.
pub fn shift_item(item: &mut Item, file: FileId, delta: i64) {
    match item {
        Item::Policy(p) => {
            shift_annotations(&mut p.annotations, file, delta);
            shift_scope(&mut p.principal, file, delta);
            shift_scope(&mut p.resource, file, delta);
            match &mut p.action {
                ActionConstraint::Any => {}
                ActionConstraint::Eq(_, s) | ActionConstraint::In(_, s) => shift(s, file, delta),
            }
            for c in &mut p.conditions {
                shift(&mut c.span, file, delta);
                shift_expr(&mut c.body, file, delta);
            }
            shift(&mut p.span, file, delta);
            shift(&mut p.head, file, delta);
        }
        Item::Rule(r) => {
            shift_annotations(&mut r.annotations, file, delta);
            shift_expr(&mut r.body, file, delta);
            shift(&mut r.span, file, delta);
            shift(&mut r.head, file, delta);
        }
        Item::Decl(d) => shift_decl(d, file, delta),
        Item::Namespace(ns) => {
            shift_annotations(&mut ns.annotations, file, delta);
            for d in &mut ns.decls {
                shift_decl(d, file, delta);
            }
            shift(&mut ns.span, file, delta);
        }
    }
}
