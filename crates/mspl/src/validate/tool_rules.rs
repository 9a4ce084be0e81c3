//! Rules that no policy calls but the tools do, typed at the arguments
//! those calls give them: `@finding` rules, which `mspl audit findings`
//! calls with every entity (`entity`), each of its grants (`grant`) and all
//! of them (`grants`); and `@invariant` rules, which the generator calls
//! with the entities of the types their annotation names. Without this a
//! misspelt attribute in a finding would only show as a `finding-error` at
//! audit time.
//!
//! A grant is a record of one of several shapes, told apart by values
//! (`grant.attribute == "policies"`) that strict typing cannot narrow on:
//! each rule is typed once per entity type and grant shape, and a problem
//! is reported only where it arises in every one of those calls that typed
//! its expression. A misspelt name errs in all of them; an expression
//! meant for one shape and guarded by a value test errs only in others.

use super::error::Problem;
use super::expr::{Env, TypeChecker};
use super::types::{Attr, Ty};
use super::Declared;
use crate::schema::Type as SchemaType;
use crate::syntax::ast::{annotation, EntityUid, Name};
use smol_str::SmolStr;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The parameter types an `@invariant("T, Set<U>")` annotation names: for
/// each, whether it is the set of all entities of its type, and the type.
/// (The generator reads the same text with this function.)
pub fn invariant_params(text: &str) -> Vec<(bool, Name)> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(
            |part| match part.strip_prefix("Set<").and_then(|p| p.strip_suffix('>')) {
                Some(t) => (true, t.trim().into()),
                None => (false, part.into()),
            },
        )
        .collect()
}

/// One typed call: its problems and the places of the expressions it typed.
struct Call {
    problems: Vec<Problem>,
    visited: HashSet<Place>,
}

type Place = (usize, u32, u32);

fn place(s: crate::syntax::Span) -> Place {
    (s.file, s.start, s.end)
}

/// Every problem of the rules the tools call.
pub(crate) fn check(index: &Declared) -> Vec<Problem> {
    let set = index.set;
    let mut problems = Vec::new();
    let types: Vec<&Name> = index
        .schema
        .entity_types
        .keys()
        .filter(|t| !index.is_action_type(t))
        .collect();
    for (i, rule) in set.rules.iter().enumerate() {
        #[expect(clippy::cast_possible_truncation, reason = "`Loader::finish` refuses a set of more than u32::MAX policies or rules")]
        let number = i as u32;
        for clause in &rule.clauses {
            if annotation(&clause.annotations, "finding").is_some() {
                let calls: Vec<Call> = types
                    .iter()
                    .flat_map(|ty| finding_calls(index, &clause.params, ty))
                    .map(|(args, site)| check_call(index, number, clause.head, args, site))
                    .collect();
                problems.extend(in_every_call(calls));
                break;
            }
            if annotation(&clause.annotations, "property").is_some() {
                // `mspl verify property` calls it in every request
                // environment, with the request (or nothing).
                let calls: Vec<Call> = index
                    .envs()
                    .into_iter()
                    .filter(|_| matches!(rule.arity, 0 | 4))
                    .map(|env| {
                        let args = if rule.arity == 4 {
                            vec![
                                Ty::Entity(env.principal.clone()),
                                Ty::Entity(env.action.ty.clone()),
                                Ty::Entity(env.resource.clone()),
                                env.context.clone(),
                            ]
                        } else {
                            Vec::new()
                        };
                        let site = format!(
                            "called by `mspl verify property` for {} × {} × {}",
                            env.principal, env.action, env.resource
                        );
                        check_call_in(index, number, clause.head, args, site, env)
                    })
                    .collect();
                problems.extend(in_every_call(calls));
                break;
            }
            if let Some(found) = annotation(&clause.annotations, "invariant") {
                let params = invariant_params(found.value.as_deref().unwrap_or(""));
                let known = params
                    .iter()
                    .all(|(_, t)| index.schema.entity_types.contains_key(t));
                // A wrong annotation is the generator's to report.
                if known && params.len() == rule.arity {
                    let args = params
                        .into_iter()
                        .map(|(all, t)| {
                            let e = Ty::Entity(t);
                            if all {
                                Ty::Set(Box::new(e))
                            } else {
                                e
                            }
                        })
                        .collect();
                    let site = "called by the generator for every choice of its entities";
                    let call = check_call(index, number, clause.head, args, site.into());
                    problems.extend(call.problems);
                }
                break;
            }
        }
    }
    problems
}

/// The problems of `calls` that arise in every call that typed their
/// expression, each once.
fn in_every_call(calls: Vec<Call>) -> Vec<Problem> {
    let erring: Vec<HashSet<Place>> = calls
        .iter()
        .map(|c| c.problems.iter().map(|p| place(p.span)).collect())
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        for p in &call.problems {
            let at = place(p.span);
            let everywhere = calls
                .iter()
                .zip(&erring)
                .enumerate()
                .all(|(j, (c, e))| j == i || !c.visited.contains(&at) || e.contains(&at));
            if everywhere && seen.insert((at, p.error.to_string())) {
                out.push(p.clone());
            }
        }
    }
    out
}

/// Types one call of rule `rule` with `args` in an environment of its own.
fn check_call(
    index: &Declared,
    rule: u32,
    head: crate::syntax::Span,
    args: Vec<Ty>,
    site: String,
) -> Call {
    // The tools call these rules with a request of their own (`Action::"mspl:…"`
    // everywhere); a rule that read it would read no declared type.
    let env = Env {
        principal: "Action".into(),
        action: EntityUid::new("Action", "mspl:tool"),
        resource: "Action".into(),
        context: Ty::Record(Arc::default()),
    };
    check_call_in(index, rule, head, args, site, env)
}

/// Types one call of rule `rule` with `args` in the request environment `env`.
fn check_call_in(
    index: &Declared,
    rule: u32,
    head: crate::syntax::Span,
    args: Vec<Ty>,
    site: String,
    env: Env,
) -> Call {
    let mut checker = TypeChecker::new(index, &env);
    checker.visited = Some(HashSet::new());
    checker.rule_at(head, rule, args, Some(site));
    Call {
        problems: checker.problems,
        visited: checker.visited.unwrap_or_default(),
    }
}

/// The argument types of a finding rule's calls for the entities of type
/// `ty`, each with what calls it: one call per grant shape of the type
/// when it takes `grant` or `grants` (a set of grants is checked once per
/// shape its elements may have), else one.
fn finding_calls(index: &Declared, params: &[SmolStr], ty: &Name) -> Vec<(Vec<Ty>, String)> {
    // Another name is the audit's error to report.
    if params
        .iter()
        .any(|p| !matches!(p.as_str(), "entity" | "grant" | "grants"))
    {
        return Vec::new();
    }
    let takes_grants = params.iter().any(|p| p == "grant" || p == "grants");
    let mut shapes = if takes_grants {
        grant_shapes(index, ty)
    } else {
        Vec::new()
    };
    if shapes.is_empty() {
        // No grant can be given: `grants` is empty, `grant` never called.
        if params.iter().any(|p| p == "grant") {
            return Vec::new();
        }
        shapes.push(Ty::Never);
    }
    shapes
        .into_iter()
        .map(|shape| {
            let args = params
                .iter()
                .map(|p| match p.as_str() {
                    "entity" => Ty::Entity(ty.clone()),
                    "grant" => shape.clone(),
                    _ => Ty::Set(Box::new(shape.clone())),
                })
                .collect();
            (
                args,
                format!("called by `mspl audit findings` for each `{ty}`"),
            )
        })
        .collect()
}

/// The record types a grant of an entity of type `ty` may have (see
/// `audit::grants`): `{parent: P}` for each declared parent type,
/// `{attribute: String, value: E}` for each set-valued attribute of
/// elements `E`, `{in: H, attribute: String}` for each set-valued
/// attribute of a type `H` whose elements are `ty` entities.
fn grant_shapes(index: &Declared, ty: &Name) -> Vec<Ty> {
    let record = |fields: Vec<(&str, Ty)>| {
        Ty::Record(Arc::new(
            fields
                .into_iter()
                .map(|(k, t)| {
                    (
                        SmolStr::from(k),
                        Attr {
                            ty: t,
                            required: true,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        ))
    };
    let mut shapes = Vec::new();
    let Some(declared) = index.schema.entity_types.get(ty) else {
        return shapes;
    };
    for p in &declared.parents {
        shapes.push(record(vec![("parent", Ty::Entity(p.clone()))]));
    }
    for attr in declared.attrs.values() {
        if let SchemaType::Set(element) = &attr.ty {
            shapes.push(record(vec![
                ("attribute", Ty::String),
                ("value", Ty::from_schema(element)),
            ]));
        }
    }
    for (holder, t) in &index.schema.entity_types {
        for attr in t.attrs.values() {
            if matches!(&attr.ty, SchemaType::Set(e) if matches!(&**e, SchemaType::Entity(n) if n == ty))
            {
                shapes.push(record(vec![
                    ("in", Ty::Entity(holder.clone())),
                    ("attribute", Ty::String),
                ]));
            }
        }
    }
    shapes.sort();
    shapes.dedup();
    shapes
}
