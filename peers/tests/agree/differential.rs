//! Differential test: mspl's `policies/model_studio` against the independent
//! Cedar encoding, on random worlds from fixed seeds.
//!
//! At least 20,000 requests by default; `MSPL_DIFF_REQUESTS=N` sets another
//! total (e.g. millions, locally, best in release: `cargo test --release`).
//! `MSPL_DIFF_SEED=S` moves the base seed; `MSPL_DIFF_POLICIES=DIR` judges
//! with other mspl policies than `policies/model_studio`. Fails on any differing decision
//! or any mspl evaluation error, printing the first 10 with the request, the
//! entities it touches, both decisions and both engines' determining
//! policies; also fails when some action was never both allowed and denied,
//! which would mean the generator stopped exercising it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use mspl_peers::corpus;
use mspl_peers::spec::ACTIONS;
use mspl_peers::{cedar_answer, relevant_entities, CedarWorld};
use serde_json::Value;

const DEFAULT_REQUESTS: usize = 20_000;
const SHOWN_MISMATCHES: usize = 10;

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

fn decision(allow: bool) -> &'static str {
    if allow {
        "ALLOW"
    } else {
        "DENY"
    }
}

/// A disagreement (or an mspl error), rendered for the report.
fn report(
    entities: &Value,
    request: &Value,
    cedar: &mspl_peers::CedarAnswer,
    mspl: &mspl::Response,
) -> String {
    let mut out = format!("request: {request}\nentities:\n");
    for e in relevant_entities(entities, request) {
        out.push_str(&format!("  {e}\n"));
    }
    out.push_str(&format!(
        "cedar: {} determining {:?}\n",
        decision(cedar.allow),
        cedar.determining
    ));
    let errors: Vec<String> = mspl
        .errors()
        .iter()
        .map(|e| format!("{}: {}", e.policy(), e.message()))
        .collect();
    out.push_str(&format!(
        "mspl:  {} determining {:?} errors {:?}\n",
        decision(mspl.decision() == mspl::Decision::Allow),
        mspl.determining().collect::<Vec<_>>(),
        errors
    ));
    out
}

#[test]
fn mspl_agrees_with_cedar() {
    let total = env_number("MSPL_DIFF_REQUESTS").map_or(DEFAULT_REQUESTS, |n| n as usize);
    let base_seed = env_number("MSPL_DIFF_SEED").unwrap_or(corpus::DEFAULT_SEED);
    let policies = std::env::var_os("MSPL_DIFF_POLICIES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio"),
        PathBuf::from,
    );
    // Through the library's façade, as a service embeds it.
    let policy_set = mspl::PolicySet::from_path(&policies)
        .unwrap_or_else(|e| panic!("mspl cannot load the policies:\n{e}"));
    let schema = policy_set.schema();
    let authorizer = mspl::Authorizer::new();

    let start = Instant::now();
    let (mut done, mut world_count) = (0usize, 0usize);
    let mut problems = Vec::new();
    let mut problem_count = 0usize;
    // action -> (allowed, denied), by Cedar's decisions.
    let mut coverage: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for world in corpus::worlds(base_seed, total) {
        let entities = world.entities_json();
        let cedar = CedarWorld::new(&entities).expect("generated worlds fit the schema");
        let store = mspl::Entities::from_json_value(&entities, Some(&schema))
            .unwrap_or_else(|e| panic!("mspl rejects world {world_count}:\n{e}"));
        for (req, request) in world.requests.iter().zip(world.requests_json()) {
            let c = cedar_answer(&cedar, &request).expect("generated requests fit the schema");
            assert!(
                c.errors.is_empty(),
                "Cedar errors {:?} on {request}",
                c.errors
            );
            // The context read as the action declares it (as a service
            // reading a request for these policies does).
            let read = || -> Result<mspl::Request, Box<dyn std::error::Error>> {
                let r: mspl::Request = serde_json::from_value(request.clone())?;
                let context = mspl::Context::from_json_value(
                    &r.context_json(),
                    Some((&schema, &r.action())),
                )?;
                Ok(mspl::Request::new(
                    r.principal(),
                    r.action(),
                    r.resource(),
                    context,
                    None,
                )?)
            };
            let asked = read().unwrap_or_else(|e| panic!("mspl rejects request {request}:\n{e}"));
            let m = authorizer.is_authorized(&asked, &policy_set, &store);
            let slot = coverage.entry(req.action).or_default();
            if c.allow {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
            if (m.decision() == mspl::Decision::Allow) != c.allow || !m.errors().is_empty() {
                problem_count += 1;
                if problems.len() < SHOWN_MISMATCHES {
                    problems.push(report(&entities, &request, &c, &m));
                }
            }
            done += 1;
        }
        world_count += 1;
    }
    eprintln!(
        "differential: {done} requests in {world_count} worlds, {problem_count} problems, {:.1?}",
        start.elapsed()
    );
    for (action, (allowed, denied)) in &coverage {
        eprintln!("  {action:40} allow {allowed:7} deny {denied:7}");
    }
    assert!(
        problems.is_empty(),
        "{problem_count} of {done} requests differ or raised mspl errors; the first {}:\n\n{}",
        problems.len(),
        problems.join("\n")
    );
    if total >= DEFAULT_REQUESTS {
        for a in ACTIONS {
            let (allowed, denied) = coverage.get(a.name).copied().unwrap_or_default();
            assert!(
                allowed > 0 && denied > 0,
                "the generator never {} `{}`",
                if allowed == 0 { "allowed" } else { "denied" },
                a.name
            );
        }
    }
}

/// Policies of the `is … in` generator: conditions whose right-hand side
/// may err (an absent attribute) or not be an entity (a string, a long),
/// where Cedar reads `e is T in X` as `e is T && e in X`, short-circuited;
/// `is … in` scopes as a control.
const IS_IN_POOL: [&str; 9] = [
    "permit(principal, action, resource);",
    "forbid(principal, action, resource) unless { resource is Public in principal.team };",
    "forbid(principal, action, resource) when { resource is Secret in principal.team };",
    "permit(principal, action == Action::\"edit\", resource) when { principal is User in resource.owner };",
    "forbid(principal, action == Action::\"edit\", resource) when { resource is Doc in [principal.team, Team::\"t0\"] };",
    "permit(principal is User in Team::\"t1\", action, resource);",
    "forbid(principal is User in Team::\"t0\", action == Action::\"edit\", resource) when { resource is Public in principal.level };",
    "permit(principal, action, resource is Public in Team::\"t2\");",
    "permit(principal, action == Action::\"view\", resource) when { principal is Team in principal.team || resource is Secret in resource.owner };",
];

/// A generated store for the `is … in` policies: users whose `team` is a
/// team, a string, a long or absent; resources of three types with an
/// `owner` that may be absent; teams whose parents may close a cycle.
fn is_in_world(rng: &mut mspl_peers::rng::Rng) -> Value {
    use serde_json::json;
    let team = |k: usize| json!({"type": "Team", "id": format!("t{k}")});
    let mut out = Vec::new();
    for t in 0..4 {
        let mut parents = Vec::new();
        if rng.chance(40) {
            parents.push(team(rng.below(4)));
        }
        // Now and then a cycle, or a team its own parent.
        if rng.chance(8) {
            parents.push(team(t));
        }
        out.push(json!({"uid": team(t), "attrs": {}, "parents": parents}));
    }
    let odd_value = |rng: &mut mspl_peers::rng::Rng, entity: Value| -> Option<Value> {
        match rng.below(4) {
            0 => None,
            1 => Some(json!({"__entity": entity})),
            2 => Some(json!("t0")),
            _ => Some(json!(5)),
        }
    };
    for u in 0..4 {
        let mut attrs = serde_json::Map::new();
        let t = team(rng.below(4));
        if let Some(v) = odd_value(rng, t) {
            attrs.insert("team".into(), v);
        }
        if rng.chance(50) {
            attrs.insert("level".into(), json!(rng.below(5)));
        }
        let parents: Vec<Value> = (0..rng.below(3)).map(|_| team(rng.below(4))).collect();
        out.push(json!({"uid": {"type": "User", "id": format!("u{u}")}, "attrs": attrs, "parents": parents}));
    }
    for r in 0..6 {
        let ty = *rng.pick(&["Doc", "Public", "Secret"]);
        let mut attrs = serde_json::Map::new();
        let owner = if rng.chance(50) {
            json!({"type": "User", "id": format!("u{}", rng.below(4))})
        } else {
            team(rng.below(4))
        };
        if let Some(v) = odd_value(rng, owner) {
            attrs.insert("owner".into(), v);
        }
        let parents: Vec<Value> = (0..rng.below(3)).map(|_| team(rng.below(4))).collect();
        out.push(
            json!({"uid": {"type": ty, "id": format!("r{r}")}, "attrs": attrs, "parents": parents}),
        );
    }
    Value::Array(out)
}

/// `authorize --cedar` against the `cedar-policy` crate on generated
/// policies with `is … in` conditions and stores with cyclic hierarchies:
/// the same stores refused (Cedar refuses a cycle) and, on the others, the
/// same decision for every request.
#[test]
fn is_in_and_cyclic_hierarchies_agree_with_cedar() {
    use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request};
    use std::str::FromStr;
    let base_seed = env_number("MSPL_DIFF_SEED").unwrap_or(corpus::DEFAULT_SEED);
    let options = mspl::__internal::Options {
        errors: mspl::__internal::ErrorMode::Cedar,
        ..Default::default()
    };
    let (mut requests, mut refused, mut disagreements) = (0usize, 0usize, Vec::new());
    for w in 0..400u64 {
        let mut rng =
            mspl_peers::rng::Rng::new(base_seed ^ (w.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let policies: String = IS_IN_POOL
            .iter()
            .filter(|_| rng.chance(50))
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        let entities = is_in_world(&mut rng);
        let cedar_policies = PolicySet::from_str(&policies).expect("Cedar parses the pool");
        let cedar_entities = Entities::from_json_value(entities.clone(), None);
        let mut loader = mspl::__internal::Loader::new(mspl::__internal::Limits::default());
        loader.add_source("generated.cedar".into(), policies.clone());
        let (set, diagnostics) = loader.finish(mspl::__internal::IdScheme::Cedar);
        assert!(diagnostics.is_empty(), "mspl loads the pool: {policies}");
        let text = entities.to_string();
        let store = mspl::__internal::entities::build::build_entities_for(
            &set.schema,
            [("generated.json", text.as_str())],
            &options.limits,
            options.cycles(),
        );
        match (&cedar_entities, &store) {
            (Err(_), Err(_)) => {
                refused += 1;
                continue;
            }
            (Ok(_), Ok(_)) => {}
            (c, m) => {
                disagreements.push(format!(
                    "world {w}: Cedar {} the store, mspl {} it: {entities}",
                    if c.is_ok() { "takes" } else { "refuses" },
                    if m.is_ok() { "takes" } else { "refuses" }
                ));
                continue;
            }
        }
        let (Ok(cedar_entities), Ok(store)) = (cedar_entities, store) else {
            continue;
        };
        let uids: Vec<String> = entities
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}::\"{}\"",
                    e["uid"]["type"].as_str().unwrap(),
                    e["uid"]["id"].as_str().unwrap()
                )
            })
            .collect();
        for p in uids
            .iter()
            .filter(|u| u.starts_with("User") || u.starts_with("Team"))
        {
            for a in ["view", "edit"] {
                for r in uids
                    .iter()
                    .filter(|u| !u.starts_with("User") && !u.starts_with("Team"))
                {
                    let action = format!("Action::\"{a}\"");
                    let request = Request::new(
                        EntityUid::from_str(p).unwrap(),
                        EntityUid::from_str(&action).unwrap(),
                        EntityUid::from_str(r).unwrap(),
                        Context::empty(),
                        None,
                    )
                    .unwrap();
                    let cedar =
                        Authorizer::new().is_authorized(&request, &cedar_policies, &cedar_entities);
                    let cedar_allows = cedar.decision() == cedar_policy::Decision::Allow;
                    let mine = mspl::__internal::entities::json::Request {
                        principal: mspl::__internal::syntax::uid::parse_uid(p).unwrap(),
                        action: mspl::__internal::syntax::uid::parse_uid(&action).unwrap(),
                        resource: mspl::__internal::syntax::uid::parse_uid(r).unwrap(),
                        context: mspl::__internal::value::Value::empty_record(),
                    };
                    let response =
                        mspl::__internal::authorize::authorize(&set, &store, &mine, &options);
                    let mspl_allows = response.decision == mspl::__internal::Decision::Allow;
                    requests += 1;
                    if cedar_allows != mspl_allows && disagreements.len() < SHOWN_MISMATCHES {
                        disagreements.push(format!(
                            "world {w}: {p} {action} {r}: Cedar {cedar_allows}, mspl {mspl_allows}\npolicies:\n{policies}\nentities: {entities}"
                        ));
                    }
                }
            }
        }
    }
    eprintln!("is … in: {requests} requests agree; {refused} cyclic stores refused by both");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
    assert!(
        requests > 10_000 && refused > 10,
        "the generator stopped exercising: {requests} requests, {refused} refused stores"
    );
}
