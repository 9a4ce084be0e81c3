//! Partial evaluation is exact: for a known principal, action and context,
//! the residual set (`mspl::residual`), printed as text and loaded again,
//! decides every resource of the store as the original set does —
//! decision, determining policies and erroring policies — in both error
//! modes, on the Model Studio examples and on generated worlds (rules over
//! the resource and over the principal, recursive rules, quantifiers,
//! missing and mistyped attributes, `like`, forbids, errors).

use crate::worlds::world;
use mspl::__internal::authorize::{authorize, ErrorMode, Options, Response};
use mspl::__internal::entities::build::{add_named_actions, build_entities};
use mspl::__internal::entities::json::{context_from_json, Request};
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::residual::{reduce, Partial};
use mspl::__internal::syntax::ast::EntityUid;
use mspl::__internal::value::Value;
use mspl::__internal::{Entities, Limits};
use std::collections::BTreeSet;

/// What a comparison went through.
#[derive(Default)]
struct Tally {
    plans: usize,
    resources: usize,
    allowed: usize,
    with_errors: usize,
    decided: usize,
    left: usize,
}

fn load(name: &str, text: &str, limits: Limits) -> PolicySet {
    let mut loader = Loader::new(limits);
    loader.add_source(name.into(), text.into());
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == mspl::__internal::diag::Severity::Error)
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{name} loads: {errors:?}\n{text}");
    set
}

/// The parts of a response that must agree (the errors' messages point
/// into different texts).
fn gist(r: &Response) -> String {
    let errors: Vec<&str> = r.errors.iter().map(|e| e.policy.as_str()).collect();
    format!(
        "{:?} {:?} by {:?}, errors in {errors:?}",
        r.decision, r.kind, r.determining
    )
}

/// Plans every principal × action × resource type of the store and
/// compares every resource of the type (and one the store lacks).
fn check(
    what: &str,
    set: &PolicySet,
    entities: &Entities,
    context: Option<&serde_json::Value>,
    limits: Limits,
    stride: usize,
    tally: &mut Tally,
) {
    let uids: Vec<&EntityUid> = entities.iter().map(|(u, _)| u).collect();
    let types: BTreeSet<&str> = uids.iter().map(|u| u.ty.as_str()).collect();
    let actions: Vec<&EntityUid> = uids
        .iter()
        .copied()
        .filter(|u| u.ty.ends_with("Action"))
        .collect();
    let principals: Vec<&EntityUid> = uids
        .iter()
        .copied()
        .filter(|u| !u.ty.ends_with("Action"))
        .collect();
    for action in &actions {
        let context = match context {
            Some(json) => context_from_json(json, action, &set.schema)
                .unwrap_or_else(|m| panic!("{what}: context: {m}")),
            None => Value::Record(Default::default()),
        };
        for principal in principals.iter().step_by(stride) {
            for ty in &types {
                let partial = Partial {
                    principal: (*principal).clone(),
                    action: (*action).clone(),
                    resource_type: (*ty).into(),
                    context: context.clone(),
                };
                let residual = reduce(set, entities, &partial, &limits);
                let text = residual.text();
                let reduced = load("residual.mspl", &text, limits);
                tally.plans += 1;
                tally.decided += residual
                    .policies
                    .iter()
                    .filter(|p| p.decided.is_some())
                    .count();
                tally.left += residual
                    .policies
                    .iter()
                    .filter(|p| p.decided.is_none())
                    .count();
                let mut resources: Vec<EntityUid> = uids
                    .iter()
                    .filter(|u| u.ty == *ty)
                    .map(|u| (*u).clone())
                    .collect();
                resources.push(EntityUid::new(*ty, "not-in-the-store"));
                for resource in resources {
                    let request = Request {
                        principal: partial.principal.clone(),
                        action: partial.action.clone(),
                        resource,
                        context: context.clone(),
                    };
                    for errors in [ErrorMode::FailClosed, ErrorMode::Cedar] {
                        let options = Options {
                            errors,
                            limits,
                            plain: false,
                            deadline: None,
                        };
                        let want = authorize(set, entities, &request, &options);
                        let got = authorize(&reduced, entities, &request, &options);
                        assert_eq!(
                            gist(&want),
                            gist(&got),
                            "{what}\n{request:?} ({errors:?})\nresidual:\n{text}"
                        );
                        tally.resources += 1;
                        tally.allowed += usize::from(
                            want.decision == mspl::__internal::authorize::Decision::Allow,
                        );
                        tally.with_errors += usize::from(!want.errors.is_empty());
                    }
                }
            }
        }
    }
}

#[test]
fn the_residual_set_decides_every_resource_as_the_original() {
    let mut tally = Tally::default();
    for seed in 0..60 {
        let w = world(seed);
        // The default limits: a residual takes fewer steps than the
        // original, so a step limit may stop one and not the other.
        let limits = Limits::default();
        let set = load("world.mspl", &w.policies, limits);
        let mut entities = build_entities(&set.schema, [("world.json", w.entities.as_str())])
            .unwrap_or_else(|e| panic!("world {seed}: {}", e.message));
        add_named_actions(&set, &mut entities);
        check(
            &format!("world {seed}:\n{}", w.policies),
            &set,
            &entities,
            w.context.as_ref(),
            limits,
            3,
            &mut tally,
        );
    }
    eprintln!(
        "{} plans, {} resources compared ({} allowed, {} with errors); {} policies decided, {} left over the resource",
        tally.plans, tally.resources, tally.allowed, tally.with_errors, tally.decided, tally.left
    );
    // Nothing vacuous: allows, denies, errors and residuals all occurred.
    assert!(tally.allowed > 100 && tally.resources - tally.allowed > 100);
    assert!(tally.with_errors > 10 && tally.left > 100 && tally.decided > 100);
}

#[test]
fn the_model_studio_residuals_decide_as_the_set() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut loader = Loader::new(Limits::default());
    loader.add_path(std::path::Path::new(&format!(
        "{root}/policies/model_studio"
    )));
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty());
    let text = std::fs::read_to_string(format!(
        "{root}/policies/model_studio/examples/entities.json"
    ))
    .unwrap();
    let mut entities = build_entities(&set.schema, [("entities.json", text.as_str())]).unwrap();
    add_named_actions(&set, &mut entities);
    let mut tally = Tally::default();
    check(
        "Model Studio",
        &set,
        &entities,
        None,
        Limits::default(),
        13,
        &mut tally,
    );
    eprintln!(
        "{} plans, {} resources compared ({} allowed)",
        tally.plans, tally.resources, tally.allowed
    );
    assert!(tally.allowed > 10, "{} allowed", tally.allowed);
}
