//! A counterexample made concrete: the request and the entity store of the
//! solver's model, read back term by term. Only the entities the request,
//! the policies' literals and the values reached from them name (and the
//! entities on their ancestor paths) are asked for; the store is then
//! certified by the caller (`mspl validate`'s checker, the invariants,
//! `authorize`), so a model that does not reproduce is never reported.

use super::encode::{smt_string, Encoder, Func, Sort};
use super::solver::{Session, Sexp};
use mspl::__internal::schema::{Schema, Type};
use mspl::__internal::syntax::ast::Name;
use serde_json::{json, Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

/// Rounds of reading before a store that keeps growing is given up.
const MAX_ROUNDS: usize = 12;

/// One entity of the store being read.
#[derive(Default)]
struct Read {
    exists: bool,
    attrs: Map<String, Json>,
    parents: Vec<(Name, String)>,
}

/// Why a model could not be read.
#[derive(Debug)]
pub enum Unread {
    /// The set-valued term (its SMT text, and its element sort) is
    /// infinite in the model: a store cannot hold it, but a model where it
    /// is small may exist.
    Infinite(String, String),
    /// Anything else.
    Other(String),
}

impl From<String> for Unread {
    fn from(s: String) -> Unread {
        Unread::Other(s)
    }
}

impl From<&str> for Unread {
    fn from(s: &str) -> Unread {
        Unread::Other(s.to_string())
    }
}

const INFINITE: &str = "the model's set has every element";

/// `to_json` of the value of `term`, an infinite set reported as such.
fn read_term(
    v: &Sexp,
    sort: &Sort,
    term: &str,
    footprint: &mut BTreeSet<(Name, String)>,
) -> Result<Json, Unread> {
    to_json(v, sort, footprint).map_err(|e| {
        if e == INFINITE {
            Unread::Infinite(term.to_string(), sort.smt())
        } else {
            Unread::Other(e)
        }
    })
}

/// The request and the store of the model `session` holds, as Cedar's
/// JSON (request; entity array).
pub fn concretize(
    session: &mut Session,
    enc: &Encoder,
    schema: &Schema,
) -> Result<(Json, Json), Unread> {
    let slice = enc.slice.clone();
    let mut footprint: BTreeSet<(Name, String)> = BTreeSet::new();
    let mut first = vec!["principal".to_string(), "resource".to_string()];
    let fields: Vec<(usize, &smol_str::SmolStr, Option<Sort>, bool)> = slice
        .context
        .iter()
        .enumerate()
        .map(|(i, (k, t))| (i, k, Sort::of(&t.ty), t.optional))
        .collect();
    for (i, _, sort, optional) in &fields {
        if sort.is_some() {
            first.push(format!("context_{i}"));
            if *optional {
                first.push(format!("context_has_{i}"));
            }
        }
    }
    let values = session.values(&first)?;
    let mut it = values.into_iter();
    let principal = string(&it.next().ok_or("no principal")?)?;
    let resource = string(&it.next().ok_or("no resource")?)?;
    footprint.insert((slice.principal_type.clone(), principal.clone()));
    footprint.insert((slice.resource_type.clone(), resource.clone()));
    let mut context = Map::new();
    for (i, name, sort, optional) in &fields {
        let Some(sort) = sort else {
            if let Some(t) = slice.context.get(*name) {
                if !t.optional {
                    context.insert(name.to_string(), default_json(&t.ty));
                }
            }
            continue;
        };
        let v = it.next().ok_or("a context field is missing")?;
        let present = if *optional {
            boolean(&it.next().ok_or("a context flag is missing")?)?
        } else {
            true
        };
        if present {
            let j = read_term(&v, sort, &format!("context_{i}"), &mut footprint)?;
            context.insert(name.to_string(), j);
        }
    }
    for uid in &enc.literals {
        if !mspl::__internal::schema::is_action_type(uid.ty.as_str()) {
            footprint.insert((uid.ty.clone(), uid.id.to_string()));
        }
    }
    let mut read: BTreeMap<(Name, String), Read> = BTreeMap::new();
    let mut asked: BTreeSet<((Name, String), (Name, String))> = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let fresh: Vec<(Name, String)> = footprint
            .iter()
            .filter(|k| !read.contains_key(*k))
            .cloned()
            .collect();
        let mut grew = !fresh.is_empty();
        // Existence, then attributes, of the entities new this round.
        // A type whose existence the query never mentions: nothing of it
        // matters, so none of it exists.
        let asked_types: Vec<(Name, String)> = fresh
            .iter()
            .filter(|(t, _)| enc.funcs.contains_key(&Func::Exists(t.clone())))
            .cloned()
            .collect();
        let terms: Vec<String> = asked_types
            .iter()
            .map(|(t, id)| {
                format!(
                    "({} {})",
                    enc.funcs[&Func::Exists(t.clone())],
                    smt_string(id)
                )
            })
            .collect();
        let mut answers = session.values(&terms)?.into_iter();
        let mut existing = Vec::new();
        for (t, id) in &fresh {
            let ex = if enc.funcs.contains_key(&Func::Exists(t.clone())) {
                boolean(&answers.next().ok_or("a value is missing")?)?
            } else {
                false
            };
            read.insert(
                (t.clone(), id.clone()),
                Read {
                    exists: ex,
                    ..Read::default()
                },
            );
            if ex {
                existing.push((t.clone(), id.clone()));
            }
        }
        for (t, id) in existing {
            let Some(decl) = schema.entity_types.get(&t) else {
                return Err(format!("`{t}` is not declared").into());
            };
            let mut attrs = Map::new();
            for (name, at) in decl.attrs.iter() {
                let declared = enc.funcs.contains_key(&Func::Attr(t.clone(), name.clone()));
                let present = if !at.optional {
                    true
                } else if let Some(h) = enc.funcs.get(&Func::Has(t.clone(), name.clone())) {
                    boolean(&single(session, format!("({h} {})", smt_string(&id)))?)?
                } else {
                    false
                };
                if !present {
                    continue;
                }
                let value = match (declared, Sort::of(&at.ty)) {
                    (true, Some(sort)) => {
                        let f = enc.funcs[&Func::Attr(t.clone(), name.clone())].clone();
                        let term = format!("({f} {})", smt_string(&id));
                        let v = single(session, term.clone())?;
                        read_term(&v, &sort, &term, &mut footprint)?
                    }
                    _ => default_json(&at.ty),
                };
                attrs.insert(name.to_string(), value);
            }
            if let Some(r) = read.get_mut(&(t, id)) {
                r.attrs = attrs;
            }
        }
        // Ancestry between every pair not asked yet, and the path's
        // witness where an ancestor is not of a direct parent type.
        let entities: Vec<(Name, String)> = footprint.iter().cloned().collect();
        let mut pairs = Vec::new();
        for x in &entities {
            if !read.get(x).is_some_and(|r| r.exists) {
                continue;
            }
            for y in &entities {
                if let Some(anc) = enc.funcs.get(&Func::Anc(x.0.clone(), y.0.clone())) {
                    if asked.insert((x.clone(), y.clone())) {
                        pairs.push((x.clone(), y.clone(), anc.clone()));
                    }
                }
            }
        }
        let terms: Vec<String> = pairs
            .iter()
            .map(|(x, y, anc)| format!("({anc} {} {})", smt_string(&x.1), smt_string(&y.1)))
            .collect();
        let answers = session.values(&terms)?;
        for ((x, y, _), a) in pairs.into_iter().zip(answers) {
            if !boolean(&a)? {
                continue;
            }
            grew = true;
            let direct = schema
                .entity_types
                .get(&x.0)
                .map(|d| d.parents.clone())
                .unwrap_or_default();
            if direct.contains(&y.0) {
                if let Some(r) = read.get_mut(&x) {
                    r.parents.push(y.clone());
                }
            } else if let Some(w) = enc
                .funcs
                .get(&Func::Witness(x.0.clone(), y.0.clone()))
                .cloned()
            {
                let v = single(
                    session,
                    format!("({w} {} {})", smt_string(&x.1), smt_string(&y.1)),
                )?;
                let w = string(&v)?;
                for u in direct {
                    footprint.insert((u, w.clone()));
                }
            }
        }
        if !grew {
            let mut out = Vec::new();
            for ((t, id), r) in &read {
                if !r.exists {
                    continue;
                }
                let parents: Vec<Json> = r
                    .parents
                    .iter()
                    .map(|(u, p)| json!({"type": u.as_str(), "id": p}))
                    .collect();
                out.push(json!({
                    "uid": {"type": t.as_str(), "id": id},
                    "attrs": Json::Object(r.attrs.clone()),
                    "parents": parents,
                }));
            }
            let request = json!({
                "principal": {"type": slice.principal_type.as_str(), "id": principal},
                "action": {"type": slice.action.ty.as_str(), "id": slice.action.id.as_str()},
                "resource": {"type": slice.resource_type.as_str(), "id": resource},
                "context": Json::Object(context),
            });
            return Ok((request, Json::Array(out)));
        }
    }
    Err(Unread::Other(format!(
        "the model's store kept growing past {MAX_ROUNDS} rounds of reading"
    )))
}

fn single(session: &mut Session, term: String) -> Result<Sexp, String> {
    session
        .values(&[term])?
        .pop()
        .ok_or_else(|| "the solver gave no value".to_string())
}

fn boolean(v: &Sexp) -> Result<bool, String> {
    match v {
        Sexp::Atom(a) if a == "true" => Ok(true),
        Sexp::Atom(a) if a == "false" => Ok(false),
        other => Err(format!("not a boolean in the model: {other:?}")),
    }
}

fn string(v: &Sexp) -> Result<String, String> {
    match v {
        Sexp::Str(s) => Ok(s.clone()),
        other => Err(format!("not a string in the model: {other:?}")),
    }
}

fn long(v: &Sexp) -> Result<i64, String> {
    let bits = match v {
        Sexp::Atom(a) if a.starts_with("#x") => u64::from_str_radix(&a[2..], 16).ok(),
        Sexp::Atom(a) if a.starts_with("#b") => u64::from_str_radix(&a[2..], 2).ok(),
        Sexp::List(items) => match items.as_slice() {
            [Sexp::Atom(u), Sexp::Atom(bv), Sexp::Atom(w)] if u == "_" && w == "64" => {
                bv.strip_prefix("bv").and_then(|n| n.parse::<u64>().ok())
            }
            _ => None,
        },
        _ => None,
    };
    bits.map(|b| b as i64)
        .ok_or_else(|| format!("not a 64-bit value in the model: {v:?}"))
}

/// A key an array is asked about: a constant of the model, or a value
/// equal to none of them.
#[derive(Clone, Debug, PartialEq)]
enum Key {
    Const(Sexp),
    Fresh,
}

type Bindings = Vec<(String, Sexp)>;

/// The members of an array-as-set the model gives, in whatever form the
/// solver writes it (`store`s on a constant array, a `lambda`, `let`s,
/// `ite`s): every constant the term mentions is tried, and a value equal
/// to none of them must be outside (else the set is infinite).
fn members(v: &Sexp) -> Result<Vec<(Sexp, bool)>, String> {
    let mut candidates = Vec::new();
    constants(v, &mut candidates);
    if member(v, &Key::Fresh, &Vec::new(), 0)? {
        return Err("the model's set has every element".into());
    }
    let mut out = Vec::new();
    for c in candidates {
        let inside = member(v, &Key::Const(c.clone()), &Vec::new(), 0)?;
        out.push((c, inside));
    }
    Ok(out)
}

/// The string and bit-vector constants in `e`.
fn constants(e: &Sexp, out: &mut Vec<Sexp>) {
    match e {
        Sexp::Str(_) => {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        Sexp::Atom(a) if a.starts_with("#x") || a.starts_with("#b") => {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        Sexp::List(items) => items.iter().for_each(|i| constants(i, out)),
        Sexp::Atom(_) => {}
    }
}

const MAX_DEPTH: usize = 200;

fn lookup<'b>(env: &'b Bindings, name: &str) -> Option<&'b Sexp> {
    env.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Whether `key` is in the array `a`.
fn member(a: &Sexp, key: &Key, env: &Bindings, depth: usize) -> Result<bool, String> {
    if depth > MAX_DEPTH {
        return Err("the model's set is too deep to read".into());
    }
    let unread = || format!("the model's set does not read: {a:?}");
    match a {
        Sexp::Atom(name) => match lookup(env, name) {
            Some(v) => member(&v.clone(), key, env, depth + 1),
            None => Err(unread()),
        },
        Sexp::Str(_) => Err(unread()),
        Sexp::List(items) => match items.as_slice() {
            [Sexp::List(head), d] if matches!(head.first(), Some(Sexp::Atom(x)) if x == "as") => {
                truth(d, env, depth + 1)
            }
            [Sexp::Atom(s), inner, k, v] if s == "store" => {
                if value(k, env)? == *key {
                    truth(v, env, depth + 1)
                } else {
                    member(inner, key, env, depth + 1)
                }
            }
            [Sexp::Atom(s), Sexp::List(params), body] if s == "lambda" => {
                let [Sexp::List(p)] = params.as_slice() else {
                    return Err(unread());
                };
                let Some(Sexp::Atom(x)) = p.first() else {
                    return Err(unread());
                };
                let mut inner = env.clone();
                inner.push((x.clone(), key_sexp(key)));
                truth(body, &inner, depth + 1)
            }
            [Sexp::Atom(s), Sexp::List(binds), body] if s == "let" => {
                member(body, key, &bind(binds, env)?, depth + 1)
            }
            [Sexp::Atom(s), c, x, y] if s == "ite" => {
                if truth(c, env, depth + 1)? {
                    member(x, key, env, depth + 1)
                } else {
                    member(y, key, env, depth + 1)
                }
            }
            _ => Err(unread()),
        },
    }
}

/// A key as a term: a constant, or a name no constant equals.
fn key_sexp(key: &Key) -> Sexp {
    match key {
        Key::Const(c) => c.clone(),
        Key::Fresh => Sexp::Atom("|mspl fresh|".into()),
    }
}

fn bind(binds: &[Sexp], env: &Bindings) -> Result<Bindings, String> {
    let mut out = env.clone();
    for b in binds {
        match b {
            Sexp::List(kv) if kv.len() == 2 => {
                if let Sexp::Atom(n) = &kv[0] {
                    out.push((n.clone(), kv[1].clone()));
                    continue;
                }
                return Err(format!("a binding does not read: {b:?}"));
            }
            _ => return Err(format!("a binding does not read: {b:?}")),
        }
    }
    Ok(out)
}

/// A key-valued term's value.
fn value(e: &Sexp, env: &Bindings) -> Result<Key, String> {
    match e {
        Sexp::Atom(a) if a == "|mspl fresh|" => Ok(Key::Fresh),
        Sexp::Atom(a) => match lookup(env, a) {
            Some(v) => value(&v.clone(), env),
            None => Ok(Key::Const(e.clone())),
        },
        _ => Ok(Key::Const(e.clone())),
    }
}

/// A boolean term's value.
fn truth(e: &Sexp, env: &Bindings, depth: usize) -> Result<bool, String> {
    if depth > MAX_DEPTH {
        return Err("the model's term is too deep to read".into());
    }
    match e {
        Sexp::Atom(a) if a == "true" => Ok(true),
        Sexp::Atom(a) if a == "false" => Ok(false),
        Sexp::Atom(a) => match lookup(env, a) {
            Some(v) => truth(&v.clone(), env, depth + 1),
            None => Err(format!("an unknown name in the model: {a}")),
        },
        Sexp::List(items) => match items.as_slice() {
            [Sexp::Atom(op), rest @ ..] => match (op.as_str(), rest) {
                ("not", [x]) => Ok(!truth(x, env, depth + 1)?),
                ("and", xs) => {
                    for x in xs {
                        if !truth(x, env, depth + 1)? {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                }
                ("or", xs) => {
                    for x in xs {
                        if truth(x, env, depth + 1)? {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                }
                ("=", [x, y]) => Ok(value(x, env)? == value(y, env)?),
                ("ite", [c, x, y]) => {
                    if truth(c, env, depth + 1)? {
                        truth(x, env, depth + 1)
                    } else {
                        truth(y, env, depth + 1)
                    }
                }
                ("select", [a, k]) => member(a, &value(k, env)?, env, depth + 1),
                ("let", [Sexp::List(binds), body]) => truth(body, &bind(binds, env)?, depth + 1),
                _ => Err(format!("a term the model reader does not know: {e:?}")),
            },
            _ => Err(format!("a term the model reader does not know: {e:?}")),
        },
        Sexp::Str(_) => Err(format!("a string where a boolean was expected: {e:?}")),
    }
}

/// A model value of `sort` as Cedar's JSON, noting the entities it names.
fn to_json(
    v: &Sexp,
    sort: &Sort,
    footprint: &mut BTreeSet<(Name, String)>,
) -> Result<Json, String> {
    Ok(match sort {
        Sort::Bool => Json::Bool(boolean(v)?),
        Sort::Long => Json::from(long(v)?),
        Sort::Str => Json::String(string(v)?),
        Sort::Entity(t) => {
            let id = string(v)?;
            if !mspl::__internal::schema::is_action_type(t.as_str()) {
                footprint.insert((t.clone(), id.clone()));
            }
            json!({"__entity": {"type": t.as_str(), "id": id}})
        }
        Sort::Set(elem) => {
            let Some(elem) = elem else {
                return Ok(Json::Array(Vec::new()));
            };
            // Later stores win: keep the last word on each key.
            let mut last: Vec<(Sexp, bool)> = Vec::new();
            for (k, b) in members(v)? {
                last.retain(|(k2, _)| *k2 != k);
                last.push((k, b));
            }
            let mut out = Vec::new();
            for (k, b) in last {
                if b {
                    out.push(to_json(&k, elem, footprint)?);
                }
            }
            Json::Array(out)
        }
        Sort::Context => return Err("a record in the model".into()),
    })
}

/// A value of `ty` for an attribute no policy reads.
fn default_json(ty: &Type) -> Json {
    match ty {
        Type::Bool => Json::Bool(false),
        Type::Long => Json::from(0),
        Type::String => Json::String(String::new()),
        Type::Entity(t) => json!({"__entity": {"type": t.as_str(), "id": ""}}),
        Type::Set(_) => Json::Array(Vec::new()),
        Type::Record(fields) => Json::Object(
            fields
                .iter()
                .filter(|(_, a)| !a.optional)
                .map(|(k, a)| (k.to_string(), default_json(&a.ty)))
                .collect(),
        ),
        Type::Extension(name) => {
            let (f, arg) = match *name {
                "decimal" => ("decimal", "0.0"),
                "ipaddr" => ("ip", "0.0.0.0"),
                "datetime" => ("datetime", "1970-01-01"),
                _ => ("duration", "0ms"),
            };
            json!({"__extn": {"fn": f, "arg": arg}})
        }
    }
}
