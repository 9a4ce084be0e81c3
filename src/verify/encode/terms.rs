//! The encoding's vocabulary: sorts, values, terms with their error
//! conditions, the store's functions, the slice, and SMT literals.

use super::ExtSort;
use mspl::__internal::schema::AttrType;
use mspl::__internal::schema::Type;
use mspl::__internal::span::Span;
use mspl::__internal::syntax::ast::{EntityUid, Name};
use mspl::__internal::value::Value;
use smol_str::SmolStr;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What has no exact encoding, and where.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// The construct.
    pub what: String,
    /// Its place in the policies (default: none).
    pub span: Span,
}

pub(super) fn refuse(what: impl Into<String>, span: Span) -> Refusal {
    Refusal {
        what: what.into(),
        span,
    }
}

/// The static type of a term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sort {
    /// `Bool`.
    Bool,
    /// `Long` (`(_ BitVec 64)`).
    Long,
    /// `String`.
    Str,
    /// An entity of the type (its id, a `String`).
    Entity(Name),
    /// A set of the element sort; `None`: the empty literal set.
    Set(Option<Box<Sort>>),
    /// A record of the fields' sorts (which fields are present is part of
    /// the value).
    Record(BTreeMap<SmolStr, Sort>),
    /// A value of an extension type.
    Ext(ExtSort),
}

impl Sort {
    /// The SMT sort.
    pub fn smt(&self) -> String {
        match self {
            Sort::Bool => "Bool".into(),
            Sort::Long => "(_ BitVec 64)".into(),
            Sort::Str | Sort::Entity(_) => "String".into(),
            Sort::Set(Some(e)) => format!("(Array {} Bool)", e.smt()),
            // Only ever the empty set, never declared.
            Sort::Set(None) => "(Array String Bool)".into(),
            Sort::Ext(e) => e.smt().into(),
            // A record is its fields, never one SMT value: a name no
            // solver knows, should one ever be asked for (the query then
            // fails, and the answer is `unknown`).
            Sort::Record(_) => "|mspl record|".into(),
        }
    }

    /// The sort of a declared type, or `None` where it has no encoding
    /// (a set of records or of IP addresses).
    pub fn of(ty: &Type) -> Option<Sort> {
        Some(match ty {
            Type::Bool => Sort::Bool,
            Type::Long => Sort::Long,
            Type::String => Sort::Str,
            Type::Entity(n) => Sort::Entity(n.clone()),
            Type::Set(e) => match Sort::of(e)? {
                Sort::Record(_) | Sort::Ext(ExtSort::Ip) => return None,
                elem => Sort::Set(Some(Box::new(elem))),
            },
            Type::Record(fields) => Sort::Record(
                fields
                    .iter()
                    .map(|(k, a)| Some((k.clone(), Sort::of(&a.ty)?)))
                    .collect::<Option<_>>()?,
            ),
            Type::Extension(name) => Sort::Ext(ExtSort::of(name)?),
        })
    }
}

/// A value: constant (folded), or an SMT term.
#[derive(Clone, Debug)]
pub enum Val {
    /// Known without the store or the request.
    Const(Value),
    /// An SMT term.
    Sym(String),
    /// A record not known in full: each field's term.
    Record(BTreeMap<SmolStr, Field>),
}

/// One field of a record value.
#[derive(Clone, Debug)]
pub struct Field {
    /// When the field is present (SMT; `"true"` for a required one).
    pub present: String,
    /// Its value (never erring); `None` where its type has no encoding.
    pub term: Option<Term>,
}

/// An encoded expression: its sort, its value, and when it errs.
#[derive(Clone, Debug)]
pub struct Term {
    /// Its static type.
    pub sort: Sort,
    /// Its value (meaningless where it errs).
    pub val: Val,
    /// `None`: it never errs; else the condition under which it does.
    pub err: Option<String>,
}

impl Term {
    pub(super) fn constant(v: Value, sort: Sort) -> Term {
        Term {
            sort,
            val: Val::Const(v),
            err: None,
        }
    }

    pub(super) fn sym(sort: Sort, s: String, err: Option<String>) -> Term {
        Term {
            sort,
            val: Val::Sym(s),
            err,
        }
    }

    pub(super) fn boolean(b: bool) -> Term {
        Term::constant(Value::Bool(b), Sort::Bool)
    }
}

/// `a ∨ b` over error conditions.
pub(super) fn or_err(a: &Option<String>, b: &Option<String>) -> Option<String> {
    match (a, b) {
        (None, x) | (x, None) => x.clone(),
        (Some(x), Some(y)) => Some(format!("(or {x} {y})")),
    }
}

/// `c ∧ e` for an error condition `e` reached only under `c`.
pub(super) fn and_err(c: &str, e: &Option<String>) -> Option<String> {
    e.as_ref().map(|e| {
        if c == "true" {
            e.clone()
        } else {
            format!("(and {c} {e})")
        }
    })
}

pub(super) fn not(s: &str) -> String {
    match s {
        "true" => "false".into(),
        "false" => "true".into(),
        _ => format!("(not {s})"),
    }
}

/// An SMT string literal.
pub fn smt_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\"\""),
            ' '..='~' if c != '\\' => out.push(c),
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// A 64-bit literal.
pub fn smt_long(n: i64) -> String {
    format!("(_ bv{} 64)", n as u64)
}

/// What one store function is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Func {
    /// `ex_T`: the ids of type `T` that exist.
    Exists(Name),
    /// The value of an attribute, or of a field of a record attribute (the
    /// path of names from the entity).
    Attr(Name, Vec<SmolStr>),
    /// Whether an optional attribute (or record field) is present.
    Has(Name, Vec<SmolStr>),
    /// The value of a tag of an entity of the type (id, key).
    Tag(Name),
    /// Whether an entity of the type has a tag (id, key).
    HasTag(Name),
    /// `anc_T_U`.
    Anc(Name, Name),
    /// The entity on the path from a `T` to a `U` ancestor that is of a
    /// direct parent type of `T`.
    Witness(Name, Name),
}

/// The request of one slice: its variables' SMT names.
#[derive(Clone, Debug)]
pub struct Slice {
    /// The principal's type.
    pub principal_type: Name,
    /// The action.
    pub action: EntityUid,
    /// The resource's type.
    pub resource_type: Name,
    /// The context's declared fields.
    pub context: BTreeMap<SmolStr, AttrType>,
}
