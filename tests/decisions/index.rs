//! The policy index and the evaluator's in-place fast path change nothing
//! but speed: on the authorization corpus, the Model Studio examples and
//! generated policy sets (every form of scope, hierarchies with cycles,
//! action groups declared only in data, entities missing from the store,
//! erroring policies), every response and every explanation is the same
//! whether every policy is judged or only the index's candidates, and every
//! response, per-policy outcome and step count is the same with the
//! in-place reads of `eval/interp/in_place.rs` on and off.

use mspl::__internal::authorize::{authorize, evaluate_policy, ErrorMode, Options, PreparedSet};
use mspl::__internal::entities::build::build_entities;
use mspl::__internal::entities::json::{request_from_json, Request};
use mspl::__internal::eval::Evaluator;
use mspl::__internal::explain::{explain, Include};
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::syntax::ast::EntityUid;
use mspl::__internal::{Entities, Limits};
use std::fmt::Write;
use std::path::Path;

/// Judges every request both ways, in both error modes, and compares.
fn same_both_ways(what: &str, set: &PolicySet, entities: &Entities, requests: &[Request]) {
    let prepared = |errors| {
        let options = Options {
            errors,
            ..Options::default()
        };
        PreparedSet::new(set.clone(), options)
    };
    let (fail_closed, cedar) = (prepared(ErrorMode::FailClosed), prepared(ErrorMode::Cedar));
    for request in requests {
        for errors in [ErrorMode::FailClosed, ErrorMode::Cedar] {
            let options = Options {
                errors,
                limits: Limits::default(),
                plain: false,
                deadline: None,
            };
            let every = authorize(set, entities, request, &options);
            let index = match errors {
                ErrorMode::FailClosed => &fail_closed,
                ErrorMode::Cedar => &cedar,
            };
            let indexed = index.authorize(entities, request);
            assert_eq!(every, indexed, "{what}: {request:?} ({errors:?})");
            let plain = authorize(
                set,
                entities,
                request,
                &Options {
                    plain: true,
                    deadline: None,
                    ..options
                },
            );
            assert_eq!(
                every, plain,
                "{what}: in place and plain differ on {request:?}"
            );
            for scope in [Include::Relevant, Include::All] {
                let a = explain(set, entities, request, &every, &options.limits, scope);
                let b = explain(set, entities, request, &indexed, &options.limits, scope);
                assert_eq!(a, b, "{what}: explanation of {request:?}");
            }
        }
        same_steps_in_place_and_plain(what, set, entities, request);
    }
}

/// Each policy judged alone with the fast path on and off: the same
/// outcome (errors included) after the same number of steps.
fn same_steps_in_place_and_plain(
    what: &str,
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
) {
    let limits = Limits::default();
    for entry in &set.policies {
        let judge = |in_place: bool| {
            let mut eval = Evaluator::new(set, entities, request, &limits);
            eval.set_in_place(in_place);
            let outcome = evaluate_policy(&entry.policy, &mut eval);
            (outcome, eval.steps())
        };
        let (fast, plain) = (judge(true), judge(false));
        assert_eq!(fast, plain, "{what}: policy {} on {request:?}", entry.id);
    }
}

fn load_dir(dir: &Path) -> PolicySet {
    let mut loader = Loader::new(Limits::default());
    loader.add_path(dir);
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty(), "{}", dir.display());
    set
}

fn read_requests(set: &PolicySet, path: &Path) -> Vec<Request> {
    std::fs::read_to_string(path)
        .expect("requests")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let json: serde_json::Value = serde_json::from_str(l).expect("request JSON");
            request_from_json(&json, &set.schema).expect("request")
        })
        .collect()
}

#[test]
fn the_authorization_corpus_is_judged_alike() {
    let mut dirs: Vec<_> = std::fs::read_dir("tests/cases/authorize")
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 8);
    for dir in dirs {
        let set = load_dir(&dir);
        let text = std::fs::read_to_string(dir.join("entities.json")).expect("entities");
        let entities =
            build_entities(&set.schema, [("entities.json", text.as_str())]).expect("entities load");
        let requests = read_requests(&set, &dir.join("requests.jsonl"));
        same_both_ways(&dir.display().to_string(), &set, &entities, &requests);
    }
}

#[test]
fn the_model_studio_examples_are_judged_alike() {
    let set = load_dir(Path::new("policies/model_studio"));
    let examples = Path::new("policies/model_studio/examples");
    let text = std::fs::read_to_string(examples.join("entities.json")).expect("entities");
    let entities =
        build_entities(&set.schema, [("entities.json", text.as_str())]).expect("entities load");
    let requests = read_requests(&set, &examples.join("requests.jsonl"));
    assert!(requests.len() > 50);
    same_both_ways("model studio", &set, &entities, &requests);
}

/// A small deterministic generator (xorshift), so the test needs no crate.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ACTIONS: [&str; 6] = ["read", "write", "delete", "edit", "all", "unknown"];

/// An entity of kind `ty` with a number that may exceed the store's (then
/// it is missing from the store).
fn uid(rng: &mut Rng, ty: &str) -> String {
    format!("{ty}::\"{}{}\"", ty.to_lowercase(), rng.below(12))
}

fn scope_part(rng: &mut Rng, var: &str, types: [&str; 2]) -> String {
    let [leaf, group] = types;
    match rng.below(9) {
        0 | 1 => var.to_string(),
        2 => format!("{var} == {}", uid(rng, leaf)),
        3 => format!("{var} == {}", uid(rng, group)),
        4 | 5 => format!("{var} in {}", uid(rng, group)),
        6 => format!("{var} is {}", rng.pick(&types)),
        7 => format!("{var} is {leaf} in {}", uid(rng, group)),
        _ => format!("{var} in {}", uid(rng, leaf)),
    }
}

fn action_part(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => "action".into(),
        1 | 2 => format!("action == Action::\"{}\"", rng.pick(&ACTIONS)),
        3 => format!("action in Action::\"{}\"", rng.pick(&ACTIONS)),
        4 => format!(
            "action in [Action::\"{}\", Action::\"{}\"]",
            rng.pick(&ACTIONS),
            rng.pick(&ACTIONS)
        ),
        _ => "action in []".into(),
    }
}

fn condition(rng: &mut Rng) -> &'static str {
    match rng.below(6) {
        0 => "",
        1 => " when { principal.level > 2 }",
        2 => " unless { resource has owner && resource.owner == principal }",
        3 => " when { resource.owner in principal }",
        4 => " when { [\"a\", \"b\"].contains(principal.tag) }",
        _ => " when { principal in resource.readers || context.urgent }",
    }
}

/// `n` references to random entities of type `ty`, escaped for attributes.
fn refs(rng: &mut Rng, ty: &str, n: usize, escaped: bool) -> String {
    let v: Vec<String> = (0..n)
        .map(|_| {
            let r = format!(
                "{{\"type\": \"{ty}\", \"id\": \"{}{}\"}}",
                ty.to_lowercase(),
                rng.below(12)
            );
            if escaped {
                format!("{{\"__entity\": {r}}}")
            } else {
                r
            }
        })
        .collect();
    v.join(", ")
}

/// A generated world: entities with random, sometimes cyclic, hierarchies
/// and action groups that only the data declares.
fn generated_entities(rng: &mut Rng) -> String {
    let mut items = Vec::new();
    for (ty, group) in [("User", "Group"), ("Doc", "Folder")] {
        for i in 0..10 {
            let n = rng.below(3);
            let parents = refs(rng, group, n, false);
            let attrs = if ty == "User" {
                format!(
                    "\"level\": {}, \"tag\": \"{}\"",
                    rng.below(5),
                    ["a", "c"][rng.below(2)]
                )
            } else {
                let owner = refs(rng, "User", 1, true);
                let n = rng.below(3);
                let readers = refs(rng, "Group", n, true);
                format!("\"owner\": {owner}, \"readers\": [{readers}]")
            };
            items.push(format!(
                "{{\"uid\": {{\"type\": \"{ty}\", \"id\": \"{}{i}\"}}, \"attrs\": {{{attrs}}}, \"parents\": [{parents}]}}",
                ty.to_lowercase()
            ));
        }
        for i in 0..8 {
            // Groups in groups, cycles included.
            let n = rng.below(3);
            let parents = refs(rng, group, n, false);
            items.push(format!(
                "{{\"uid\": {{\"type\": \"{group}\", \"id\": \"{}{i}\"}}, \"attrs\": {{}}, \"parents\": [{parents}]}}",
                group.to_lowercase()
            ));
        }
    }
    for (action, parents) in [
        ("read", "[{\"type\": \"Action\", \"id\": \"all\"}]"),
        ("write", "[{\"type\": \"Action\", \"id\": \"edit\"}]"),
        ("delete", "[{\"type\": \"Action\", \"id\": \"edit\"}]"),
        ("edit", "[{\"type\": \"Action\", \"id\": \"all\"}]"),
        ("all", "[]"),
    ] {
        items.push(format!(
            "{{\"uid\": {{\"type\": \"Action\", \"id\": \"{action}\"}}, \"attrs\": {{}}, \"parents\": {parents}}}"
        ));
    }
    format!("[{}]", items.join(",\n"))
}

#[test]
fn generated_policy_sets_are_judged_alike() {
    let mut rng = Rng(0x6d73_706c_1d3c);
    // (candidates, policies, allowed, errors): the test must exercise the
    // index's pruning, both decisions and erroring policies.
    let mut seen = (0, 0, 0, 0);
    for round in 0..40 {
        let mut text = String::new();
        for _ in 0..60 {
            let effect = ["permit", "forbid"][usize::from(rng.below(4) == 0)];
            let p = scope_part(&mut rng, "principal", ["User", "Group"]);
            let a = action_part(&mut rng);
            let r = scope_part(&mut rng, "resource", ["Doc", "Folder"]);
            let c = condition(&mut rng);
            let _ = writeln!(text, "{effect} ({p}, {a}, {r}){c};");
        }
        let mut loader = Loader::new(Limits::default());
        loader.add_source(format!("round{round}.cedar"), text.clone());
        let (set, diagnostics) = loader.finish(IdScheme::Annotated);
        assert!(
            diagnostics.is_empty(),
            "{}\n{text}",
            set.sources.render(&diagnostics, false)
        );
        let entities_text = generated_entities(&mut rng);
        let entities = build_entities(&set.schema, [("entities.json", entities_text.as_str())])
            .unwrap_or_else(|e| panic!("{e:?}\n{entities_text}"));
        let requests: Vec<Request> = (0..150)
            .map(|_| {
                let kind = rng.below(2);
                let principal = uid(&mut rng, ["User", "Group"][kind]);
                let kind = rng.below(2);
                let resource = uid(&mut rng, ["Doc", "Folder"][kind]);
                let json = serde_json::json!({
                    "principal": principal,
                    "action": format!("Action::\"{}\"", rng.pick(&ACTIONS)),
                    "resource": resource,
                    "context": {"urgent": rng.below(2) == 0},
                });
                request_from_json(&json, &set.schema).expect("request")
            })
            .collect();
        same_both_ways(&format!("round {round}"), &set, &entities, &requests);
        let prepared = PreparedSet::new(set.clone(), Options::default());
        for r in &requests {
            seen.0 += prepared.candidates(&entities, r).len();
            seen.1 += set.policies.len();
            let response = authorize(&set, &entities, r, &Options::default());
            seen.2 += usize::from(response.decision == mspl::__internal::Decision::Allow);
            seen.3 += response.errors.len();
        }
    }
    eprintln!("candidates, policies, allowed, errors: {seen:?}");
    let (candidates, policies, allowed, errors) = seen;
    assert!(candidates * 2 < policies, "{seen:?}");
    assert!(allowed > 500 && allowed < 5_500, "{seen:?}");
    assert!(errors > 100, "{seen:?}");
}

/// The prepared set's index cannot be stale: the set changes only through
/// `PreparedSet::update`, which indexes it again. A forbid filed under one
/// principal, replaced in place by a forbid of every principal, is judged
/// for every principal at once. (With the old API, an index kept apart from
/// its set and asked with the changed set of the same size missed it.)
#[test]
fn the_prepared_index_follows_every_change_of_the_set() {
    let mut loader = Loader::new(Limits::default());
    loader.add_source(
        "p.cedar".into(),
        "permit(principal, action, resource);\nforbid(principal == User::\"alice\", action, resource);\n".into(),
    );
    let (set, diagnostics) = loader.finish(IdScheme::Cedar);
    assert!(diagnostics.is_empty());
    let mut prepared = PreparedSet::new(set, Options::default());
    let entities = Entities::new();
    let bob = Request {
        principal: EntityUid::new("User", "bob"),
        action: EntityUid::new("Action", "read"),
        resource: EntityUid::new("Doc", "d"),
        context: mspl::__internal::value::Value::empty_record(),
    };
    assert_eq!(
        prepared.authorize(&entities, &bob).decision,
        mspl::__internal::Decision::Allow
    );
    let mut wider = Loader::new(Limits::default());
    wider.add_source(
        "w.cedar".into(),
        "forbid(principal, action, resource == Doc::\"d\");".into(),
    );
    let (wider, diagnostics) = wider.finish(IdScheme::Cedar);
    assert!(diagnostics.is_empty());
    prepared.update(|set| set.policies[1].policy = wider.policies[0].policy.clone());
    let response = prepared.authorize(&entities, &bob);
    assert_eq!(
        response.decision,
        mspl::__internal::Decision::Deny,
        "the new forbid was judged"
    );
    assert_eq!(response.determining, vec!["policy1"]);
}
