//! Differential test of templates and links: random templates (slots in
//! every position Cedar allows, conditions that may raise errors) beside
//! static policies, linked many times with slot values drawn from a
//! generated Model Studio world, judged by mspl (indexed and plain, Cedar's
//! error semantics) and by Cedar (`PolicySet::link` + `is_authorized`).
//! Decisions, determining and erroring ids must be equal on every request.
//!
//! The links reach mspl through a linked-policies file, as `-k` gives them.

use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request};
use mspl::__internal::authorize::{authorize, ErrorMode, Options, PreparedSet};
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl_peers::rng::Rng;
use mspl_peers::spec::action_entities_json;
use mspl_peers::{World, WorldParams};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::str::FromStr;

const SEEDS: u64 = 12;
const REQUESTS_PER_SEED: usize = 400;

/// Uids of the world, by the slot they may fill.
struct Pools {
    principals: Vec<String>,
    resources: Vec<String>,
}

fn pools(entities: &Value) -> Pools {
    let mut principals = Vec::new();
    let mut resources = Vec::new();
    for e in entities.as_array().expect("an array") {
        let ty = e["uid"]["type"].as_str().expect("a type");
        let id = e["uid"]["id"].as_str().expect("an id");
        let uid = format!("{ty}::{}", Value::String(id.into()));
        match ty {
            "RamUser" | "RamRole" => principals.push(uid),
            "Workspace" | "Account" => {
                principals.push(uid.clone());
                resources.push(uid);
            }
            _ => resources.push(uid),
        }
    }
    Pools {
        principals,
        resources,
    }
}

/// A random template (or, without slots, a static policy).
fn policy_text(rng: &mut Rng) -> String {
    let effect = if rng.chance(25) { "forbid" } else { "permit" };
    let principal = *rng.pick(&[
        "principal == ?principal",
        "principal in ?principal",
        "principal is RamUser in ?principal",
        "principal is RamRole in ?principal",
        "principal",
        "principal is RamUser",
    ]);
    let action = *rng.pick(&[
        "action",
        "action == Action::\"page.view\"",
        "action in [Action::\"page.view\", Action::\"page.create\", Action::\"model.call\"]",
    ]);
    let resource = *rng.pick(&[
        "resource == ?resource",
        "resource in ?resource",
        "resource is Page in ?resource",
        "resource",
        "resource is Page",
    ]);
    let condition = *rng.pick(&[
        "",
        " when { principal.account == resource.account }",
        " when { context.workspace in principal }",
        " unless { principal has trusted }",
        " when { principal.operations.contains(resource) }",
        " when { resource.feature like \"*a*\" }",
        " when { principal.policies.contains(\"AliyunBailianFullAccess\") || resource.is_default }",
    ]);
    format!("{effect} ({principal}, {action}, {resource}){condition};\n")
}

fn slots_of(text: &str) -> Vec<&'static str> {
    ["?principal", "?resource"]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
}

/// What an engine said about one request.
#[derive(Debug, PartialEq, Eq)]
struct Said {
    allow: bool,
    determining: BTreeSet<String>,
    erroring: BTreeSet<String>,
}

#[test]
fn links_decide_as_cedar_links() {
    let mut compared = 0usize;
    let mut allowed = 0usize;
    let mut erring = 0usize;
    let mut linked_decided = 0usize;
    for seed in 0..SEEDS {
        let params = WorldParams {
            requests: REQUESTS_PER_SEED,
            ..WorldParams::default()
        };
        let world = World::generate(seed, &params);
        let entities = world.entities_json();
        let pools = pools(&entities);
        let mut rng = Rng::new(seed * 7919 + 1);

        // Policies and templates, numbered policy0… by Cedar and mspl alike.
        let texts: Vec<String> = (0..rng.between(3, 8))
            .map(|_| policy_text(&mut rng))
            .collect();
        let text = texts.concat();
        let mut links = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let slots = slots_of(t);
            if slots.is_empty() {
                continue;
            }
            for _ in 0..rng.between(1, 25) {
                let mut args = serde_json::Map::new();
                for s in &slots {
                    let pool = if *s == "?principal" {
                        &pools.principals
                    } else {
                        &pools.resources
                    };
                    args.insert((*s).into(), rng.pick(pool).clone().into());
                }
                let link_id = format!("link{}", links.len());
                links.push(
                    json!({"template_id": format!("policy{i}"), "link_id": link_id, "args": args}),
                );
            }
        }

        // Cedar.
        let mut cedar_set = PolicySet::from_str(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        mspl_peers::cedar::link_all(&mut cedar_set, &Value::Array(links.clone()), str::to_string)
            .expect("Cedar links them");
        let mut all = entities.as_array().expect("array").clone();
        all.extend(
            action_entities_json()
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        let cedar_entities =
            Entities::from_json_value(Value::Array(all.clone()), None).expect("entities");

        // mspl, the links through a linked-policies file.
        let mut loader = Loader::new(mspl::__internal::Limits::default());
        loader.add_source("templates.cedar".into(), text.clone());
        loader.add_links_source("links.json".into(), Value::Array(links.clone()).to_string());
        let (set, diagnostics) = loader.finish(IdScheme::Cedar);
        assert!(diagnostics.is_empty(), "{diagnostics:?}\n{text}");
        assert_eq!(set.policies.len(), cedar_set.policies().count());
        let store_text = Value::Array(all).to_string();
        let store = mspl::__internal::entities::build::build_entities_with(
            &set.schema,
            [("entities.json", store_text.as_str())],
            &mspl::__internal::Limits::default(),
        )
        .expect("entities");
        let options = Options {
            errors: ErrorMode::Cedar,
            ..Options::default()
        };
        let prepared = PreparedSet::new(set.clone(), options);

        for request in world.requests_json() {
            let uid = |v: &Value| {
                EntityUid::from_str(&format!(
                    "{}::{}",
                    v["type"].as_str().expect("type"),
                    Value::String(v["id"].as_str().expect("id").into())
                ))
                .expect("uid")
            };
            let cedar_request = Request::new(
                uid(&request["principal"]),
                uid(&request["action"]),
                uid(&request["resource"]),
                Context::from_json_value(request["context"].clone(), None).expect("context"),
                None,
            )
            .expect("request");
            let answer =
                Authorizer::new().is_authorized(&cedar_request, &cedar_set, &cedar_entities);
            let cedar = Said {
                allow: answer.decision() == cedar_policy::Decision::Allow,
                determining: answer
                    .diagnostics()
                    .reason()
                    .map(|p| p.to_string())
                    .collect(),
                erroring: answer
                    .diagnostics()
                    .errors()
                    .map(|e| match e {
                        cedar_policy::AuthorizationError::PolicyEvaluationError(p) => {
                            p.policy_id().to_string()
                        }
                    })
                    .collect(),
            };
            let mspl_request =
                mspl::__internal::entities::json::request_from_json(&request, &set.schema)
                    .expect("request");
            let indexed = prepared.authorize(&store, &mspl_request);
            let plain = authorize(&set, &store, &mspl_request, &options);
            assert_eq!(
                indexed, plain,
                "the index and the plain path differ on {request}"
            );
            let said = Said {
                allow: indexed.decision == mspl::__internal::Decision::Allow,
                determining: indexed.determining.iter().map(|s| s.to_string()).collect(),
                erroring: indexed
                    .errors
                    .iter()
                    .map(|e| e.policy.to_string())
                    .collect(),
            };
            assert_eq!(
                said,
                cedar,
                "seed {seed}, request {request}\npolicies:\n{text}\nlinks: {}",
                Value::Array(links.clone())
            );
            compared += 1;
            allowed += usize::from(said.allow);
            erring += usize::from(!said.erroring.is_empty());
            linked_decided += usize::from(said.determining.iter().any(|d| d.starts_with("link")));
        }
    }
    eprintln!("{compared} requests compared: {allowed} allowed, {erring} with errors, {linked_decided} decided by a link");
    assert!(compared >= SEEDS as usize * 100);
    assert!(
        allowed > 0 && erring > 0 && linked_decided > 0,
        "the generator exercises links, allows and errors"
    );
}
