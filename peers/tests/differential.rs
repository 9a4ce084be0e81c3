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
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.policy, e.message))
        .collect();
    out.push_str(&format!(
        "mspl:  {} determining {:?} errors {:?}\n",
        decision(mspl.decision == mspl::Decision::Allow),
        mspl.determining,
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
    let mut engine = mspl::Engine::load(&[policies], &[])
        .unwrap_or_else(|e| panic!("mspl cannot load the policies:\n{e}"));

    let start = Instant::now();
    let (mut done, mut world_count) = (0usize, 0usize);
    let mut problems = Vec::new();
    let mut problem_count = 0usize;
    // action -> (allowed, denied), by Cedar's decisions.
    let mut coverage: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for world in corpus::worlds(base_seed, total) {
        let entities = world.entities_json();
        let cedar = CedarWorld::new(&entities).expect("generated worlds fit the schema");
        engine
            .set_entities_json(&entities.to_string())
            .unwrap_or_else(|e| panic!("mspl rejects world {world_count}:\n{e}"));
        for (req, request) in world.requests.iter().zip(world.requests_json()) {
            let c = cedar_answer(&cedar, &request).expect("generated requests fit the schema");
            assert!(
                c.errors.is_empty(),
                "Cedar errors {:?} on {request}",
                c.errors
            );
            let m = engine
                .authorize_json(&request.to_string())
                .unwrap_or_else(|e| panic!("mspl rejects request {request}:\n{e}"));
            let slot = coverage.entry(req.action).or_default();
            if c.allow {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
            if (m.decision == mspl::Decision::Allow) != c.allow || !m.errors.is_empty() {
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
