//! A counterexample made concrete: the request and the entity store of the
//! solver's model, read back term by term. Only the entities the request,
//! the policies' literals and the values reached from them name (and the
//! entities on their ancestor paths) are asked for; the store is then
//! certified by the caller (`mspl validate`'s checker, the invariants,
//! `authorize`), so a model that does not reproduce is never reported.

use super::encode::{smt_string, Encoder, ExtSort, Func, Sort, IP_NORM};
use super::solver::{Session, Sexp};
use mspl::__internal::schema::{Schema, Type};
use mspl::__internal::syntax::ast::Name;
use serde_json::{json, Map, Value as Json};
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use values::{boolean, default_json, single, string, to_json};

mod values;

/// Rounds of reading before a store that keeps growing is given up.
const MAX_ROUNDS: usize = 12;

/// One entity of the store being read.
#[derive(Default)]
struct Read {
    exists: bool,
    attrs: Map<String, Json>,
    tags: Map<String, Json>,
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

pub(super) const INFINITE: &str = "the model's set has every element";

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
    let first = ["principal".to_string(), "resource".to_string()];
    let values = session.values(&first)?;
    let mut it = values.into_iter();
    let principal = string(&it.next().ok_or("no principal")?)?;
    let resource = string(&it.next().ok_or("no resource")?)?;
    footprint.insert((slice.principal_type.clone(), principal.clone()));
    footprint.insert((slice.resource_type.clone(), resource.clone()));
    let context_type = Type::Record(Arc::new(slice.context.clone()));
    let context = read_value(
        session,
        enc,
        &Source::Const("context".into()),
        &context_type,
        &mut footprint,
    )?;
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
            let attrs_type = Type::Record(decl.attrs.clone());
            let src = Source::Attr(t.clone(), Vec::new(), id.clone());
            let Json::Object(attrs) = read_value(session, enc, &src, &attrs_type, &mut footprint)?
            else {
                return Err("the attributes did not read as a record".into());
            };
            let tags = read_tags(session, enc, &t, &id, decl.tags.as_ref(), &mut footprint)?;
            if let Some(r) = read.get_mut(&(t, id)) {
                r.attrs = attrs;
                r.tags = tags;
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
                let mut entity = json!({
                    "uid": {"type": t.as_str(), "id": id},
                    "attrs": Json::Object(r.attrs.clone()),
                    "parents": parents,
                });
                if !r.tags.is_empty() {
                    entity["tags"] = Json::Object(r.tags.clone());
                }
                out.push(entity);
            }
            let request = json!({
                "principal": {"type": slice.principal_type.as_str(), "id": principal},
                "action": {"type": slice.action.ty.as_str(), "id": slice.action.id.as_str()},
                "resource": {"type": slice.resource_type.as_str(), "id": resource},
                "context": context,
            });
            return Ok((request, Json::Array(out)));
        }
    }
    Err(Unread::Other(format!(
        "the model's store kept growing past {MAX_ROUNDS} rounds of reading"
    )))
}

/// Where a value of the store or the request is read from.
enum Source {
    /// The constant of this name (the context's fields: `context_j`,
    /// presence `context_has_j`, nested `context_j_k`).
    Const(String),
    /// The attribute at the path of the entity (type, path, id).
    Attr(Name, Vec<SmolStr>, String),
}

impl Source {
    /// The `j`th field, `k`, of the record here.
    fn child(&self, j: usize, k: &SmolStr) -> Source {
        match self {
            Source::Const(base) => Source::Const(format!("{base}_{j}")),
            Source::Attr(t, path, id) => {
                let mut p = path.clone();
                p.push(k.clone());
                Source::Attr(t.clone(), p, id.clone())
            }
        }
    }

    /// The term of whether the `j`th field, `k`, is present, if the query
    /// declares it.
    fn presence(&self, enc: &Encoder, j: usize, k: &SmolStr) -> Option<String> {
        match self {
            Source::Const(base) => {
                let name = format!("{base}_has_{j}");
                enc.consts.contains(&name).then_some(name)
            }
            Source::Attr(t, path, id) => {
                let mut p = path.clone();
                p.push(k.clone());
                let h = enc.funcs.get(&Func::Has(t.clone(), p))?;
                Some(format!("({h} {})", smt_string(id)))
            }
        }
    }

    /// The term of the value here, if the query declares it.
    fn term(&self, enc: &Encoder) -> Option<String> {
        match self {
            Source::Const(name) => enc.consts.contains(name).then(|| name.clone()),
            Source::Attr(t, path, id) => {
                let f = enc.funcs.get(&Func::Attr(t.clone(), path.clone()))?;
                Some(format!("({f} {})", smt_string(id)))
            }
        }
    }
}

/// The value of type `ty` at `src` in the model; a record field by
/// field, an optional one only where present; what the query never
/// declared, a default (nothing reads it).
fn read_value(
    session: &mut Session,
    enc: &Encoder,
    src: &Source,
    ty: &Type,
    footprint: &mut BTreeSet<(Name, String)>,
) -> Result<Json, Unread> {
    if let Type::Record(fields) = ty {
        let mut out = Map::new();
        for (j, (k, at)) in fields.iter().enumerate() {
            let present = if !at.optional {
                true
            } else if let Some(term) = src.presence(enc, j, k) {
                boolean(&single(session, term)?)?
            } else {
                false
            };
            if present {
                let v = read_value(session, enc, &src.child(j, k), &at.ty, footprint)?;
                out.insert(k.to_string(), v);
            }
        }
        return Ok(Json::Object(out));
    }
    let (Some(sort), Some(term)) = (Sort::of(ty), src.term(enc)) else {
        return Ok(default_json(ty));
    };
    read_leaf(session, &sort, term, footprint)
}

/// The value of the term `raw` of `sort`, as it is used (an IP address
/// normalized).
fn read_leaf(
    session: &mut Session,
    sort: &Sort,
    raw: String,
    footprint: &mut BTreeSet<(Name, String)>,
) -> Result<Json, Unread> {
    let term = if *sort == Sort::Ext(ExtSort::Ip) {
        format!("({IP_NORM} {raw})")
    } else {
        raw
    };
    let v = single(session, term.clone())?;
    read_term(&v, sort, &term, footprint)
}

/// The tags the query asks of the entity, where the model gives them.
fn read_tags(
    session: &mut Session,
    enc: &Encoder,
    t: &Name,
    id: &str,
    tags: Option<&Type>,
    footprint: &mut BTreeSet<(Name, String)>,
) -> Result<Map<String, Json>, Unread> {
    let mut out = Map::new();
    let (Some(ty), Some(h)) = (tags, enc.funcs.get(&Func::HasTag(t.clone()))) else {
        return Ok(out);
    };
    for (tt, key) in &enc.tag_keys {
        if tt != t {
            continue;
        }
        let k = string(&single(session, key.clone())?)?;
        if out.contains_key(&k) {
            continue;
        }
        let has = format!("({h} {} {})", smt_string(id), smt_string(&k));
        if !boolean(&single(session, has)?)? {
            continue;
        }
        let value = match (enc.funcs.get(&Func::Tag(t.clone())), Sort::of(ty)) {
            (Some(f), Some(sort)) => {
                let raw = format!("({f} {} {})", smt_string(id), smt_string(&k));
                read_leaf(session, &sort, raw, footprint)?
            }
            _ => default_json(ty),
        };
        out.insert(k, value);
    }
    Ok(out)
}
