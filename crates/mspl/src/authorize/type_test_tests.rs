//! The evaluator's rule clauses answered by their failed type test
//! (`fails_its_type_test`) against the same clauses evaluated, policy by
//! policy:
//! an evaluator whose tracer follows the principal never takes the
//! shortcut, so the two give the same outcome and take the same steps, on
//! every request of the Model Studio examples, and fail alike under every
//! smaller step budget.

use super::{evaluate_policy, PolicyOutcome};
use crate::eval::{Evaluator, NoTrace, Tracer};
use crate::entities::json::{load_entities, Request};
use crate::entities::Entities;
use crate::limits::Limits;
use crate::policy_set::{IdScheme, Loader, PolicySet};
use crate::value::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Observes nothing, but follows the principal: the shortcut is off.
struct Following;

impl Tracer for Following {
    const FOLLOWS_PRINCIPAL: bool = true;
}

fn model_studio() -> (PolicySet, Entities) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/model_studio");
    let read = |p: &std::path::Path| {
        crate::files::read_text(p, 1 << 24, crate::files::TextKind::Data).unwrap()
    };
    let mut found = crate::files::Collected::new();
    crate::files::collect_files(&root, &mut found).unwrap();
    let mut loader = Loader::new(Limits::default());
    for file in found.files.iter().filter(|f| f.parent() == Some(root.as_path())) {
        loader.add_source(file.display().to_string(), read(file));
    }
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let mut entities = Entities::new();
    let text = read(&root.join("examples/entities.json"));
    load_entities(&text, "entities.json", &set.schema, &mut entities).unwrap();
    (set, entities)
}

/// Every principal, action and resource of the examples; a model call
/// from every workspace and from none.
fn requests(set: &PolicySet, entities: &Entities) -> Vec<Request> {
    let uids: Vec<_> = entities.iter().map(|(uid, _)| uid.clone()).collect();
    let of = |types: &[&str]| -> Vec<_> {
        uids.iter()
            .filter(|u| types.contains(&u.ty.as_str()))
            .cloned()
            .collect()
    };
    let principals = of(&["Account", "RamUser", "RamRole"]);
    let mut contexts = vec![Value::empty_record()];
    for ws in of(&["Workspace"]) {
        let record = BTreeMap::from([("workspace".into(), Value::Entity(ws))]);
        contexts.push(Value::Record(Arc::new(record)));
    }
    let mut out = Vec::new();
    for principal in &principals {
        for action in set.schema.actions.keys() {
            for resource in &uids {
                for context in &contexts {
                    out.push(Request {
                        principal: principal.clone(),
                        action: action.clone(),
                        resource: resource.clone(),
                        context: context.clone(),
                    });
                }
            }
        }
    }
    out
}

fn outcome<T: Tracer>(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    limits: &Limits,
    policy: usize,
    tracer: T,
) -> (PolicyOutcome, u64) {
    let mut eval = Evaluator::with_tracer(set, entities, request, limits, tracer);
    eval.set_in_place(true);
    let outcome = evaluate_policy(&set.policies[policy].policy, &mut eval);
    (outcome, eval.steps())
}

#[test]
fn a_clause_answered_by_its_type_test_is_the_clause_evaluated() {
    let (set, entities) = model_studio();
    let requests = requests(&set, &entities);
    let limits = Limits::default();
    let (mut compared, mut swept) = (0, 0);
    for (n, request) in requests.iter().enumerate() {
        for policy in 0..set.policies.len() {
            let fast = outcome(&set, &entities, request, &limits, policy, NoTrace);
            let plain = outcome(&set, &entities, request, &limits, policy, Following);
            assert_eq!(fast, plain, "{request:?} policy {policy}");
            compared += 1;
            // Under every smaller budget, on a sample of the requests.
            if n % 97 == 0 {
                for max_steps in 1..fast.1 {
                    let tight = Limits {
                        max_steps,
                        ..Limits::default()
                    };
                    let fast = outcome(&set, &entities, request, &tight, policy, NoTrace);
                    let plain = outcome(&set, &entities, request, &tight, policy, Following);
                    assert_eq!(fast, plain, "{request:?} policy {policy} in {max_steps} steps");
                    swept += 1;
                }
            }
        }
    }
    assert!(compared > 100_000 && swept > 10_000, "{compared} {swept}");
}
