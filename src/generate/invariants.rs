//! Invariants: rules that every generated store must satisfy.
//!
//! A rule clause annotated `@invariant("T1, Set<T2>")` names its
//! parameters' types: an entity type `T` means "every entity of type `T`",
//! `Set<T>` means "the set of all entities of type `T`". The rule must
//! hold for every choice of the entity parameters (an error counts as not
//! holding), so
//!
//! ```text
//! @invariant("Page, Set<Workspace>")
//! rule page_in_its_workspace(page, workspaces) {
//!   all w in workspaces: (page in w) == (w == page.workspace)
//! }
//! ```
//!
//! says that a page's one parent workspace is its `workspace`.

use crate::diag::Diagnostic;
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::{rule_call, Evaluator, NoTrace, Value};
use crate::limits::Limits;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{annotation, EntityUid, Name};
use std::collections::BTreeMap;

/// One parameter of an invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    /// Each entity of the type in turn.
    Each(Name),
    /// The set of every entity of the type.
    All(Name),
}

impl Param {
    /// The entity type it ranges over.
    pub fn ty(&self) -> &Name {
        match self {
            Param::Each(t) | Param::All(t) => t,
        }
    }
}

/// A rule every generated store satisfies.
#[derive(Clone, Debug)]
pub struct Invariant {
    /// The rule's name.
    pub name: Name,
    /// The rule's number in its set.
    pub rule: u32,
    /// Its parameters' types.
    pub params: Vec<Param>,
}

/// The most tuples of entities one invariant is checked on.
pub const MAX_TUPLES: usize = 100_000;

/// The invariants of `set`: its rule clauses with `@invariant`, checked
/// against the declarations (each type declared, one per parameter).
pub fn invariants(set: &PolicySet) -> Result<Vec<Invariant>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, rule) in set.rules.iter().enumerate() {
        for clause in &rule.clauses {
            let Some(found) = annotation(&clause.annotations, "invariant") else {
                continue;
            };
            let (value, span) = (found.value.as_deref().unwrap_or(""), found.span);
            let mut params = Vec::new();
            for (all, ty) in crate::validate::tool_rules::invariant_params(value) {
                let param = if all { Param::All(ty) } else { Param::Each(ty) };
                if !set.schema.entity_types.contains_key(param.ty()) {
                    let known = set.schema.entity_types.keys().map(|k| k.as_str());
                    let help = crate::suggest::closest(param.ty(), known)
                        .map(|s| format!("did you mean `{s}`?"));
                    errors.push(
                        Diagnostic::error(
                            format!(
                                "invariant `{}`: `{}` is not a declared entity type",
                                rule.name,
                                param.ty()
                            ),
                            span,
                            "here",
                        )
                        .with_help(help),
                    );
                }
                params.push(param);
            }
            if params.len() != rule.arity {
                errors.push(Diagnostic::error(
                    format!(
                        "invariant `{}` names {} parameter types for a rule of {} parameters",
                        rule.name,
                        params.len(),
                        rule.arity
                    ),
                    span,
                    "one type per parameter: `T` for each entity of T, `Set<T>` for all of them",
                ));
            }
            out.push(Invariant {
                name: rule.name.clone(),
                rule: crate::policy_set::number(i),
                params,
            });
            break;
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The first invariant `store` breaks, with the entities it broke on, or
/// `None` when it satisfies them all. Only entities of `only`'s type are
/// taken for the first parameter of that type, when given.
pub fn first_broken(
    set: &PolicySet,
    invariants: &[Invariant],
    store: &Entities,
    limits: &Limits,
    only: Option<&EntityUid>,
) -> Option<String> {
    let mut by_type: BTreeMap<&Name, Vec<EntityUid>> = BTreeMap::new();
    for (uid, _) in store.iter() {
        by_type.entry(&uid.ty).or_default().push(uid.clone());
    }
    let request = Request {
        principal: EntityUid::new("Action", "mspl:generate"),
        action: EntityUid::new("Action", "mspl:generate"),
        resource: EntityUid::new("Action", "mspl:generate"),
        context: Value::empty_record(),
    };
    for inv in invariants {
        let of = |t: &Name| by_type.get(t).map_or(&[][..], |v| &v[..]);
        // The entity parameters' choices; `only` pins the first of its type.
        let mut pinned = false;
        let ranges: Vec<Vec<Value>> = inv
            .params
            .iter()
            .map(|p| match p {
                Param::Each(t) => match only {
                    Some(uid) if &uid.ty == t && !pinned => {
                        pinned = true;
                        vec![Value::Entity(uid.clone())]
                    }
                    _ => of(t).iter().cloned().map(Value::Entity).collect(),
                },
                Param::All(t) => vec![Value::set(of(t).iter().cloned().map(Value::Entity))],
            })
            .collect();
        if only.is_some() && !pinned {
            continue;
        }
        let count = ranges
            .iter()
            .try_fold(1usize, |n, r| n.checked_mul(r.len()))
            .unwrap_or(usize::MAX)
            .min(MAX_TUPLES);
        let call = rule_call(&inv.name, inv.rule, inv.params.len());
        let mut picks = vec![0usize; ranges.len()];
        for _ in 0..count {
            let args: Vec<Value> = ranges
                .iter()
                .zip(&picks)
                .map(|(r, &k)| r[k].clone())
                .collect();
            let mut eval = Evaluator::with_tracer(set, store, &request, limits, NoTrace);
            eval.bind_locals(args.clone());
            if !matches!(eval.eval(&call), Ok(Value::Bool(true))) {
                let shown: Vec<String> = args.iter().map(ToString::to_string).collect();
                return Some(format!("{}({})", inv.name, shown.join(", ")));
            }
            for (slot, r) in picks.iter_mut().zip(&ranges).rev() {
                *slot += 1;
                if *slot < r.len() {
                    break;
                }
                *slot = 0;
            }
        }
    }
    None
}
