//! The values of a solver's model read back: booleans, strings,
//! bit-vectors (64-bit numbers and the 137 bits of an IP address), sets in
//! whatever form the solver writes an array, and Cedar's JSON of them.

use super::super::encode::Sort;
use super::super::solver::{Session, Sexp};
use crate::verify::encode::ExtSort;
use mspl::__internal::schema::Type;
use mspl::__internal::syntax::ast::Name;
use serde_json::{json, Value as Json};
use std::collections::BTreeSet;

pub(super) fn single(session: &mut Session, term: String) -> Result<Sexp, String> {
    session
        .values(&[term])?
        .pop()
        .ok_or_else(|| "the solver gave no value".to_string())
}

pub(super) fn boolean(v: &Sexp) -> Result<bool, String> {
    match v {
        Sexp::Atom(a) if a == "true" => Ok(true),
        Sexp::Atom(a) if a == "false" => Ok(false),
        other => Err(format!("not a boolean in the model: {other:?}")),
    }
}

pub(super) fn string(v: &Sexp) -> Result<String, String> {
    match v {
        Sexp::Str(s) => Ok(s.clone()),
        other => Err(format!("not a string in the model: {other:?}")),
    }
}

fn long(v: &Sexp) -> Result<i64, String> {
    match bits(v, 64) {
        Some((0, low)) => u64::try_from(low)
            .map(|b| i64::from_ne_bytes(b.to_ne_bytes()))
            .map_err(|_| format!("not a 64-bit value in the model: {v:?}")),
        _ => Err(format!("not a 64-bit value in the model: {v:?}")),
    }
}

/// A bit-vector of `width` bits (at most 144) in the model, as its bits
/// above the 128th and its low 128.
fn bits(v: &Sexp, width: u32) -> Option<(u16, u128)> {
    let (digits, radix): (String, u32) = match v {
        Sexp::Atom(a) if a.starts_with("#x") => (a[2..].to_string(), 16),
        Sexp::Atom(a) if a.starts_with("#b") => (a[2..].to_string(), 2),
        Sexp::List(items) => match items.as_slice() {
            [Sexp::Atom(u), Sexp::Atom(bv), Sexp::Atom(w)]
                if u == "_" && *w == width.to_string() =>
            {
                (bv.strip_prefix("bv")?.to_string(), 10)
            }
            _ => return None,
        },
        _ => return None,
    };
    if radix != 10 && u32::try_from(digits.len()).ok()? * radix.trailing_zeros() != width {
        return None;
    }
    // Long arithmetic on (high, low), high below 2^16.
    let (mut high, mut low) = (0u32, 0u128);
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        // (high, low) * radix + d
        let wide_low = (low & u128::from(u64::MAX)) * u128::from(radix) + u128::from(d);
        let mid = (low >> 64) * u128::from(radix) + (wide_low >> 64);
        low = (mid << 64) | (wide_low & u128::from(u64::MAX));
        high = high * radix + u32::try_from(mid >> 64).ok()?;
        if high >= 1 << 16 {
            return None;
        }
    }
    if width < 128 && (high != 0 || low >> width != 0) {
        return None;
    }
    if width >= 128 && high >> (width - 128) != 0 {
        return None;
    }
    Some((u16::try_from(high).ok()?, low))
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
        return Err(super::INFINITE.into());
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
pub(super) fn to_json(
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
        Sort::Ext(kind) => {
            let width = if *kind == ExtSort::Ip { 137 } else { 64 };
            let (high, low) = bits(v, width)
                .ok_or_else(|| format!("not a {width}-bit value in the model: {v:?}"))?;
            let x = kind
                .value(low, high)
                .ok_or_else(|| format!("not a valid `{kind:?}` in the model: {v:?}"))?;
            json!({ "__extn": x.to_extn_json() })
        }
        Sort::Record(_) => return Err("a record where one value was expected".into()),
    })
}

/// A value of `ty` for an attribute no policy reads.
pub(super) fn default_json(ty: &Type) -> Json {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Sexp {
        Sexp::Atom(s.into())
    }

    #[test]
    fn bit_vectors_read_in_every_radix() {
        assert_eq!(bits(&atom("#x0000000000000010"), 64), Some((0, 16)));
        assert_eq!(bits(&atom("#x10"), 64), None, "the width is checked");
        let v6_prefix_9 = format!("#b1{:08b}{}", 9, "0".repeat(127) + "1");
        assert_eq!(bits(&atom(&v6_prefix_9), 137), Some((0x109, 1)));
        let decimal = Sexp::List(vec![
            atom("_"),
            atom("bv680564733841876926926749214863536422917"), // 2^129 + 5
            atom("137"),
        ]);
        assert_eq!(bits(&decimal, 137), Some((2, 5)));
        let too_wide = Sexp::List(vec![
            atom("_"),
            atom(&format!("bv{}", u128::MAX)),
            atom("64"),
        ]);
        assert_eq!(bits(&too_wide, 64), None);
        assert_eq!(long(&atom("#xffffffffffffffff")), Ok(-1));
    }
}
