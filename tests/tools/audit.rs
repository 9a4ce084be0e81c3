//! The audit is exact: on generated worlds (every form of scope, rules that
//! recurse, missing attributes, wrong types, cycles, tight step limits, both
//! error modes) the matrix, who-can and what-can equal `authorize` judging
//! every request of the domain one by one, errors included.

use crate::{gen, worlds};

use mspl::__internal::authorize::{
    authorize, evaluate_policy, Decision, ErrorMode, Options, PolicyOutcome, PreparedSet, Response,
};
use mspl::__internal::entities::build::build_entities;
use mspl::__internal::entities::json::Request;
use mspl::__internal::eval::{EvalErrorKind, Evaluator};
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::syntax::ast::Effect;
use mspl::__internal::{Entities, Limits, PolicySet};
use mspl_cli::audit::judge::Line;
use mspl_cli::audit::{Auditor, Run};
use worlds::{bytes, limits_for, world};

/// Whether brute force reports `response`: allowed, or an error could have
/// changed it (judged from each policy evaluated on its own).
fn reported(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    response: &Response,
    options: &Options,
) -> bool {
    if response.decision == Decision::Allow {
        return true;
    }
    if response
        .errors
        .iter()
        .any(|e| matches!(e.error.kind, EvalErrorKind::RequestStepLimit { .. }))
    {
        return true;
    }
    let (mut permit_sat, mut forbid_sat, mut permit_err, mut forbid_err) =
        (false, false, false, false);
    for entry in &set.policies {
        let mut eval = Evaluator::new(set, entities, request, &options.limits);
        let permit = entry.policy.effect == Effect::Permit;
        match evaluate_policy(&entry.policy, &mut eval) {
            PolicyOutcome::Satisfied if permit => permit_sat = true,
            PolicyOutcome::Satisfied => forbid_sat = true,
            PolicyOutcome::Error(_) if permit => permit_err = true,
            PolicyOutcome::Error(_) => forbid_err = true,
            _ => {}
        }
    }
    (permit_sat && forbid_err) || (!forbid_sat && permit_err)
}

/// Every request of the domain judged one by one: the lines a query of
/// everything reports, as text to compare.
fn brute_force(auditor: &Auditor, all: bool) -> Vec<String> {
    let d = &auditor.domain;
    let mut lines = Vec::new();
    let principals = d.principals();
    for &p in &principals {
        for a in &d.actions {
            if !a.principals.contains(&p) {
                continue;
            }
            let mut part = Vec::new();
            for &r in &a.resources {
                for &c in &a.contexts {
                    let request = Request {
                        principal: auditor.entities.node_uid(p).clone(),
                        action: a.action.clone(),
                        resource: auditor.entities.node_uid(r).clone(),
                        context: d.contexts[c as usize].clone(),
                    };
                    let response =
                        authorize(auditor.set, auditor.entities, &request, auditor.options);
                    if all
                        || reported(
                            auditor.set,
                            auditor.entities,
                            &request,
                            &response,
                            auditor.options,
                        )
                    {
                        part.push((
                            d.name(r).to_string(),
                            d.context_json[c as usize].clone(),
                            render(
                                d.name(p),
                                d.name(a.node),
                                d.name(r),
                                &d.context_json[c as usize],
                                &response,
                            ),
                        ));
                    }
                }
            }
            part.sort();
            lines.extend(part.into_iter().map(|(_, _, l)| l));
        }
    }
    lines
}

fn render(p: &str, a: &str, r: &str, c: &str, response: &Response) -> String {
    format!(
        "{p} {a} {r} {c} {}",
        serde_json::to_string(response).unwrap()
    )
}

fn lines(auditor: &Auditor, lines: &[Line]) -> Vec<String> {
    let d = &auditor.domain;
    lines
        .iter()
        .map(|l| {
            render(
                d.name(l.ids.principal),
                d.name(l.ids.action),
                d.name(l.ids.resource),
                &d.context_json[l.ids.context as usize],
                &l.response,
            )
        })
        .collect()
}

pub(crate) fn load(text: &str, limits: Limits) -> Option<PolicySet> {
    let mut loader = Loader::new(limits);
    loader.add_source("gen.mspl".into(), text.into());
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    diagnostics
        .iter()
        .all(|d| d.severity != mspl::__internal::diag::Severity::Error)
        .then_some(set)
}

/// What the exactness test went through.
#[derive(Default)]
struct Tally {
    worlds: usize,
    compared: usize,
    with_errors: usize,
    limited: usize,
    /// who-can answers judged on the hierarchy's bound, and all of them.
    bounded: usize,
    who_can: usize,
}

/// Every query of one world against brute force, both error modes, the
/// reported lines and every line.
fn check_world(
    what: &str,
    set: &PolicySet,
    entities: &Entities,
    context: Option<&serde_json::Value>,
    limits: Limits,
    tally: &mut Tally,
) {
    check_world_on(what, set, entities, context, limits, false, tally);
}

/// [`check_world`], the audit's evaluations on the plain path (no value
/// read in place) where `plain`.
fn check_world_on(
    what: &str,
    set: &PolicySet,
    entities: &Entities,
    context: Option<&serde_json::Value>,
    limits: Limits,
    plain: bool,
    tally: &mut Tally,
) {
    tally.worlds += 1;
    for errors in [ErrorMode::FailClosed, ErrorMode::Cedar] {
        let options = Options {
            errors,
            limits,
            plain,
            deadline: None,
        };
        let prepared = PreparedSet::new(set.clone(), options);
        let auditor = Auditor::new(&prepared, entities, context).unwrap();
        for all in [false, true] {
            let expected = brute_force(&auditor, all);
            tally.compared += expected.len();
            if expected.iter().any(|l| l.contains("\"errors\":[{")) {
                tally.with_errors += 1;
            }
            tally.limited += expected.iter().filter(|l| l.contains("steps")).count();
            for threads in [1, 3] {
                let run = Run {
                    threads,
                    max_results: None,
                    all,
                };
                let got = auditor.matrix(&[], &[], run);
                assert!(got.complete);
                assert_eq!(
                    lines(&auditor, &got.lines),
                    expected,
                    "{what}, {errors:?}, all {all}, threads {threads}"
                );
            }
            // who-can and what-can are the matrix's slices.
            let field = |l: &String, n: usize| l.split(' ').nth(n).map(str::to_string);
            for (a, ad) in auditor.domain.actions.iter().enumerate() {
                for &r in &ad.resources {
                    let run = Run {
                        threads: 2,
                        max_results: None,
                        all,
                    };
                    let who = auditor.who_can(a, r, run).unwrap();
                    tally.who_can += 1;
                    if !all && auditor.who_can_is_bounded(a, r) {
                        tally.bounded += 1;
                    }
                    let want: Vec<&String> = expected
                        .iter()
                        .filter(|l| {
                            field(l, 1).as_deref() == Some(auditor.domain.name(ad.node))
                                && field(l, 2).as_deref() == Some(auditor.domain.name(r))
                        })
                        .collect();
                    assert_eq!(
                        lines(&auditor, &who.lines).iter().collect::<Vec<_>>(),
                        want,
                        "who-can, {what}"
                    );
                }
            }
            let principals = auditor.domain.principals();
            for p in principals {
                let what_can = auditor.what_can(
                    p,
                    &[],
                    Run {
                        threads: 1,
                        max_results: None,
                        all,
                    },
                );
                let name = auditor.domain.name(p);
                let want: Vec<&String> = expected
                    .iter()
                    .filter(|l| field(l, 0).as_deref() == Some(name))
                    .collect();
                assert_eq!(
                    lines(&auditor, &what_can.lines).iter().collect::<Vec<_>>(),
                    want,
                    "what-can, {what}"
                );
            }
        }
    }
}

/// The worlds the exactness tests go through, each given to `check` with
/// its name, policies, store, context and limits: `generated` cases of the
/// fuzzers' generator that load (random expressions, rules that recurse,
/// hierarchies with cycles, errors everywhere), then 150 worlds of users,
/// groups, folders and documents (rules on one variable and on two,
/// missing and mistyped attributes, enumerated contexts).
pub(crate) fn each_world(
    generated: usize,
    mut check: impl FnMut(&str, &PolicySet, &Entities, Option<&serde_json::Value>, Limits),
) {
    let (mut seed, mut loaded) = (0, 0);
    while loaded < generated {
        seed += 1;
        let case = gen::case(&bytes(seed, 400));
        let limits = limits_for(seed, 3);
        let Some(set) = load(&case.policy_text(true), limits) else {
            continue;
        };
        let Ok(mut entities) = build_entities(&set.schema, [("gen.json", case.entities.as_str())])
        else {
            continue;
        };
        loaded += 1;
        mspl::__internal::entities::build::add_named_actions(&set, &mut entities);
        let request: serde_json::Value = serde_json::from_str(&case.request).unwrap();
        check(
            &format!("gen seed {seed}:\n{}", case.policy_text(true)),
            &set,
            &entities,
            request.get("context"),
            limits,
        );
    }
    for seed in 0..150 {
        let w = world(seed);
        let limits = limits_for(seed, 3);
        let set = load(&w.policies, limits)
            .unwrap_or_else(|| panic!("world {seed} loads:\n{}", w.policies));
        let mut entities = build_entities(&set.schema, [("world.json", w.entities.as_str())])
            .unwrap_or_else(|e| panic!("world {seed}: {}", e.message));
        mspl::__internal::entities::build::add_named_actions(&set, &mut entities);
        check(
            &format!("world {seed}:\n{}", w.policies),
            &set,
            &entities,
            w.context.as_ref(),
            limits,
        );
    }
}

#[test]
fn the_audit_equals_brute_force_on_generated_worlds() {
    let mut tally = Tally::default();
    each_world(150, |what, set, entities, context, limits| {
        check_world(what, set, entities, context, limits, &mut tally);
    });
    eprintln!(
        "{} worlds, {} lines compared, {} answers with errors, {} lines cut by a step limit, \
         {} of {} who-can answers bounded by the hierarchy",
        tally.worlds,
        tally.compared,
        tally.with_errors,
        tally.limited,
        tally.bounded,
        tally.who_can
    );
    assert!(
        tally.bounded >= 200,
        "only {} who-can answers were bounded by the hierarchy",
        tally.bounded
    );
    assert!(
        tally.with_errors >= 50,
        "only {} answers held an error",
        tally.with_errors
    );
    assert!(
        tally.compared >= 20_000,
        "only {} lines compared",
        tally.compared
    );
}

#[test]
fn max_results_cuts_the_same_lines_whatever_the_threads() {
    let set = load(
        "permit(principal, action == Action::\"read\", resource);",
        Limits::default(),
    )
    .unwrap();
    let data: Vec<String> = (0..6)
        .map(|i| format!("{{\"uid\": {{\"type\": \"User\", \"id\": \"u{i}\"}}, \"attrs\": {{}}, \"parents\": []}}"))
        .collect();
    let mut entities = build_entities(
        &set.schema,
        [("gen.json", format!("[{}]", data.join(",")).as_str())],
    )
    .unwrap();
    mspl::__internal::entities::build::add_named_actions(&set, &mut entities);
    let prepared = PreparedSet::new(set.clone(), Options::default());
    let auditor = Auditor::new(&prepared, &entities, None).unwrap();
    let full = auditor.matrix(&[], &[], Run::default());
    assert!(full.complete && full.lines.len() > 5);
    for threads in [1, 2, 4] {
        let cut = auditor.matrix(
            &[],
            &[],
            Run {
                threads,
                max_results: Some(5),
                all: false,
            },
        );
        assert!(!cut.complete);
        assert_eq!(
            lines(&auditor, &cut.lines),
            lines(&auditor, &full.lines[..5])
        );
    }
    let exact = auditor.matrix(
        &[],
        &[],
        Run {
            threads: 2,
            max_results: Some(full.lines.len()),
            all: false,
        },
    );
    assert!(exact.complete);
}

/// `entities` rebuilt from scratch without `grant` of `owner` (independent
/// of the audit's own in-place removal).
fn rebuilt_without(
    set: &PolicySet,
    entities: &Entities,
    owner: &mspl::__internal::syntax::ast::EntityUid,
    grant: &mspl_cli::audit::grants::Grant,
) -> Entities {
    use mspl::__internal::eval::Value;
    use mspl_cli::audit::grants::Grant;
    let mut store = Entities::new();
    for (uid, data) in entities.iter() {
        let mut data = data.clone();
        let mut parents: Vec<_> = entities.parents(uid).into_iter().cloned().collect();
        let mut drop_element = |attr: &str, value: &Value| {
            if let Some(Value::Set(items)) = data.attrs.get(attr) {
                let kept: Vec<Value> = items.iter().filter(|v| *v != value).cloned().collect();
                data.attrs.insert(attr.into(), Value::set(kept));
            }
        };
        match grant {
            Grant::Parent(p) if uid == owner => parents.retain(|x| x != p),
            Grant::Element { attribute, value } if uid == owner => drop_element(attribute, value),
            Grant::In { holder, attribute } if uid == holder => {
                drop_element(attribute, &Value::Entity(owner.clone()))
            }
            _ => {}
        }
        store.insert(uid.clone(), data, &parents);
    }
    store = mspl::__internal::entities::build::with_declared_actions(&set.schema, store);
    mspl::__internal::entities::build::add_named_actions(set, &mut store);
    store
}

#[test]
fn an_unused_grant_is_needed_by_no_allowed_request_and_every_other_by_one() {
    let mut checked = (0, 0);
    for seed in 0..100 {
        let w = world(seed);
        let set = load(&w.policies, Limits::default()).unwrap();
        let mut entities =
            build_entities(&set.schema, [("world.json", w.entities.as_str())]).unwrap();
        mspl::__internal::entities::build::add_named_actions(&set, &mut entities);
        let options = Options::default();
        let prepared = PreparedSet::new(set.clone(), options);
        let auditor = Auditor::new(&prepared, &entities, w.context.as_ref()).unwrap();
        // The log: every third request of the domain.
        let d = &auditor.domain;
        let mut log = Vec::new();
        let mut n = 0;
        for a in &d.actions {
            for &p in &a.principals {
                for &r in &a.resources {
                    for &c in &a.contexts {
                        n += 1;
                        if n % 3 == 0 {
                            log.push(Request {
                                principal: entities.node_uid(p).clone(),
                                action: a.action.clone(),
                                resource: entities.node_uid(r).clone(),
                                context: d.contexts[c as usize].clone(),
                            });
                        }
                    }
                }
            }
        }
        let reported = mspl_cli::audit::unused::unused(&auditor, &log);
        let grants = mspl_cli::audit::grants::all_grants(&entities);
        let principals = auditor.domain.principals();
        for p in principals {
            let owner = entities.node_uid(p);
            let allowed: Vec<&Request> = log
                .iter()
                .filter(|r| &r.principal == owner)
                .filter(|r| authorize(&set, &entities, r, &options).decision == Decision::Allow)
                .collect();
            for grant in grants.get(owner).into_iter().flatten() {
                let store = rebuilt_without(&set, &entities, owner, grant);
                let flips = allowed
                    .iter()
                    .any(|r| authorize(&set, &store, r, &options).decision != Decision::Allow);
                let is_reported = reported
                    .iter()
                    .any(|u| &u.principal == owner && &u.grant == grant);
                assert_eq!(is_reported, !flips, "world {seed}: {owner} {grant:?}");
                if is_reported {
                    checked.0 += 1;
                } else {
                    checked.1 += 1;
                }
            }
        }
    }
    eprintln!(
        "{} unused grants and {} needed ones checked",
        checked.0, checked.1
    );
    assert!(checked.0 >= 200 && checked.1 >= 50, "{checked:?}");
}

/// The world of `policies` and the store `entities` (JSON) checked against
/// brute force on both evaluation paths, and the lines of its matrix.
fn checked_matrix(what: &str, policies: &str, entities: &str) -> Vec<String> {
    let set = load(policies, Limits::default()).unwrap();
    let mut entities = build_entities(&set.schema, [("e.json", entities)]).unwrap();
    mspl::__internal::entities::build::add_named_actions(&set, &mut entities);
    let mut tally = Tally::default();
    for plain in [false, true] {
        check_world_on(
            what,
            &set,
            &entities,
            None,
            Limits::default(),
            plain,
            &mut tally,
        );
    }
    let prepared = PreparedSet::new(set.clone(), Options::default());
    let auditor = Auditor::new(&prepared, &entities, None).unwrap();
    let found = auditor.matrix(&[], &[], Run::default());
    lines(&auditor, &found.lines)
}

#[test]
fn a_condition_on_the_principal_after_one_on_the_resource_hides_no_error() {
    // The first condition reads the resource (and errs on `d1`, whose tag
    // is a number), the second only the principal (and is false): the
    // shortcuts must see that the outcome depends on the resource.
    let policies = "permit(principal, action == Action::\"read\", resource) when { resource.tag like \"u*\" } when { principal.level > 5 };";
    let entities = r#"[
        {"uid": {"type": "User", "id": "u"}, "attrs": {"level": 1}, "parents": []},
        {"uid": {"type": "Doc", "id": "d0"}, "attrs": {"tag": "urgent"}, "parents": []},
        {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"tag": 7}, "parents": []},
        {"uid": {"type": "Doc", "id": "d2"}, "attrs": {"tag": "usual"}, "parents": []}
    ]"#;
    let errs = checked_matrix("resource then principal", policies, entities);
    assert!(
        errs.iter()
            .any(|l| l.contains("Doc::\"d1\"") && l.contains("\"errors\":[{")),
        "{errs:#?}"
    );
}

/// The memo follows the principal into rule calls and keys by what a rule
/// read of it (its type, one attribute), so principals that agree on those
/// share an evaluation; every other use of it (in a set, compared, in a
/// cycle's message) keys by the principal itself. Each way, against brute
/// force, on principals of two types that share their teams.
#[test]
fn the_principal_followed_into_rules_is_keyed_by_what_they_read() {
    let policies = r#"
        rule mine(who, doc) { [who, doc].contains(doc.owner) && who is User }
        rule peer(who, doc) { who is User && who.team == doc.team }
        rule same(who, doc) { who == doc.owner }
        rule known(who) { who has team }
        rule loop(who, other) { loop(other, who) }
        permit (principal, action == Action::"read", resource) when { mine(principal, resource) };
        permit (principal, action == Action::"write", resource) when { peer(principal, resource) };
        permit (principal, action == Action::"own", resource) when { same(principal, resource) && known(principal) };
        permit (principal, action == Action::"share", resource) when { loop(principal, resource.owner) };
    "#;
    let entities = r#"[
        {"uid": {"type": "User", "id": "u0"}, "attrs": {"team": "red"}, "parents": []},
        {"uid": {"type": "User", "id": "u1"}, "attrs": {"team": "red"}, "parents": []},
        {"uid": {"type": "User", "id": "u2"}, "attrs": {"team": "blue"}, "parents": []},
        {"uid": {"type": "User", "id": "u3"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Bot", "id": "b0"}, "attrs": {"team": "red"}, "parents": []},
        {"uid": {"type": "Doc", "id": "d0"}, "attrs": {"team": "red", "owner": {"__entity": {"type": "User", "id": "u1"}}}, "parents": []},
        {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"team": "blue", "owner": {"__entity": {"type": "Bot", "id": "b0"}}}, "parents": []},
        {"uid": {"type": "Doc", "id": "d2"}, "attrs": {"team": "red", "owner": {"__entity": {"type": "User", "id": "u3"}}}, "parents": []}
    ]"#;
    let found = checked_matrix("the principal in rules", policies, entities);
    // On the documents: both red users write d0 and d2 (one evaluation
    // answers for both), the red bot does not, the blue user writes d1;
    // each owner owns and reads
    // its document (u3, which has no team, owns none); every share errs
    // with its own cycle (8 principals: without declarations, documents
    // are principals too).
    let count = |needle: &[&str]| {
        found
            .iter()
            .filter(|l| l.contains(" Doc::") && needle.iter().all(|n| l.contains(n)))
            .count()
    };
    let allow = "\"decision\":\"allow\"";
    assert_eq!(count(&["\"write\"", allow]), 5, "{found:#?}");
    assert_eq!(count(&["\"own\"", allow]), 2, "{found:#?}");
    assert_eq!(count(&["\"read\"", allow]), 2, "{found:#?}");
    assert_eq!(count(&["\"share\"", "calls itself"]), 24, "{found:#?}");
}

/// The memo keys a principal tested `in` one entity by the rest of what
/// was read, with a value for each answer: principals share an evaluation
/// where they agree on the answer. Tested against two entities, against a
/// set, or against one with no data, each way against brute force.
#[test]
fn the_principal_tested_in_an_entity_is_keyed_by_the_answer() {
    let policies = r#"
        rule member(who, g) { who in g }
        permit (principal is User, action == Action::"read", resource is Doc) when { member(principal, resource.group) };
        permit (principal is User, action == Action::"write", resource is Doc) when { principal in Group::"a" || principal in resource.group };
        permit (principal is User, action == Action::"edit", resource is Doc) when { principal in resource.groups };
        permit (principal is User, action == Action::"own", resource is Doc) when { principal in principal.home && resource has group };
    "#;
    let entities = r#"[
        {"uid": {"type": "Group", "id": "a"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "b"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "c"}, "attrs": {}, "parents": [{"type": "Group", "id": "b"}]},
        {"uid": {"type": "User", "id": "u0"}, "attrs": {"home": {"__entity": {"type": "Group", "id": "b"}}}, "parents": [{"type": "Group", "id": "a"}]},
        {"uid": {"type": "User", "id": "u1"}, "attrs": {"home": {"__entity": {"type": "Group", "id": "c"}}}, "parents": [{"type": "Group", "id": "c"}]},
        {"uid": {"type": "User", "id": "u2"}, "attrs": {"home": {"__entity": {"type": "Group", "id": "ghost"}}}, "parents": []},
        {"uid": {"type": "User", "id": "u3"}, "attrs": {}, "parents": [{"type": "Group", "id": "a"}, {"type": "Group", "id": "b"}]},
        {"uid": {"type": "Doc", "id": "d0"}, "attrs": {"group": {"__entity": {"type": "Group", "id": "a"}}, "groups": [{"__entity": {"type": "Group", "id": "a"}}, {"__entity": {"type": "Group", "id": "c"}}]}, "parents": []},
        {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"group": {"__entity": {"type": "Group", "id": "b"}}, "groups": [{"__entity": {"type": "Group", "id": "b"}}]}, "parents": []},
        {"uid": {"type": "Doc", "id": "d2"}, "attrs": {"group": {"__entity": {"type": "Group", "id": "ghost"}}, "groups": []}, "parents": []},
        {"uid": {"type": "Doc", "id": "d3"}, "attrs": {"group": {"__entity": {"type": "User", "id": "u2"}}, "groups": [{"__entity": {"type": "User", "id": "u2"}}]}, "parents": []}
    ]"#;
    let found = checked_matrix("the principal tested in", policies, entities);
    // Who is allowed what, each as `user:doc`: `d2`'s group has no data,
    // `d3`'s is the user `u2` (in itself), `u1` is in `a` only through `c`.
    let allowed = |action: &str| -> Vec<String> {
        found
            .iter()
            .filter(|l| {
                l.contains(&format!("\"{action}\"")) && l.contains("\"decision\":\"allow\"")
            })
            .map(|l| {
                let ids: Vec<&str> = l.split('"').collect();
                format!("{}:{}", ids[1], ids[5])
            })
            .collect()
    };
    assert_eq!(
        allowed("read"),
        ["u0:d0", "u1:d1", "u2:d3", "u3:d0", "u3:d1"]
    );
    let write = ["u0:d0", "u0:d1", "u0:d2", "u0:d3", "u1:d1", "u2:d3"];
    let write = [&write[..], &["u3:d0", "u3:d1", "u3:d2", "u3:d3"]].concat();
    assert_eq!(allowed("write"), write);
    let edit = ["u0:d0", "u1:d0", "u1:d1", "u2:d3", "u3:d0", "u3:d1"];
    assert_eq!(allowed("edit"), edit);
    assert_eq!(allowed("own"), ["u1:d0", "u1:d1", "u1:d2", "u1:d3"]);
    // `u3` has no `home`: each request errs, naming it.
    let errs = found
        .iter()
        .filter(|l| l.contains("has no attribute `home`"));
    assert_eq!(errs.count(), 4, "{found:#?}");
}

/// The policies `policies` prepared, and the store of `entities_json` for
/// them with their actions.
fn prepared_world(policies: &str, entities_json: &str) -> (PreparedSet, Entities) {
    let set = load(policies, Limits::default()).unwrap();
    let mut entities = build_entities(&set.schema, [("e.json", entities_json)]).unwrap();
    mspl::__internal::entities::build::add_named_actions(&set, &mut entities);
    (PreparedSet::new(set, Options::default()), entities)
}

/// The bound of who-can is taken where every permit asks `principal in …`
/// (through a rule too) or reads only the principal, and given up where a
/// permit reads more and could fail, or where what comes first could fail
/// for every principal; the answers stay those of brute force either way.
#[test]
fn who_can_bounds_by_the_hierarchy_only_where_every_permit_asks_in() {
    let entities_json = r#"[
        {"uid": {"type": "Group", "id": "g0"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "u0"}, "attrs": {"level": 1}, "parents": [{"type": "Group", "id": "g0"}]},
        {"uid": {"type": "User", "id": "u1"}, "attrs": {"level": 5}, "parents": []},
        {"uid": {"type": "Doc", "id": "d0"}, "attrs": {"group": {"__entity": {"type": "Group", "id": "g0"}}, "owner": {"__entity": {"type": "User", "id": "u1"}}}, "parents": []}
    ]"#;
    let member = "rule member(u, g) { u is User && u in g }\n\
                  rule mine(d) { d has owner && principal == d.owner }\n";
    let cases = [
        ("permit(principal, action == Action::\"read\", resource) when { principal in resource.group };", true),
        ("permit(principal, action == Action::\"read\", resource) when { member(principal, resource.group) };", true),
        ("permit(principal in Group::\"g0\", action == Action::\"read\", resource);", true),
        // A rule that reads the principal itself, not through its argument.
        ("permit(principal, action == Action::\"read\", resource) when { mine(resource) };", true),
        // A condition on the principal alone: evaluated once per principal.
        ("permit(principal, action == Action::\"read\", resource) when { principal in resource.group };\n\
          permit(principal, action == Action::\"read\", resource) when { principal.level > 2 };", true),
        // One permit without `in` that reads more than the principal:
        // every principal is judged.
        ("permit(principal, action == Action::\"read\", resource) when { principal in resource.group };\n\
          permit(principal, action == Action::\"read\", resource) when { principal.level > resource.min };", false),
        // Something that may fail before the `in`.
        ("permit(principal, action == Action::\"read\", resource) when { principal.level > 0 && principal in resource.group };", false),
        ("permit(principal, action == Action::\"read\", resource) when { principal in resource.group || principal.level > 2 };", false),
        // A condition true for everyone.
        ("permit(principal, action == Action::\"read\", resource) when { resource has group || principal in Group::\"g0\" };", false),
    ];
    let mut judged = 0;
    for (policies, bounded) in cases {
        let (prepared, entities) = prepared_world(&format!("{member}{policies}"), entities_json);
        let context = serde_json::json!({});
        let auditor = Auditor::new(&prepared, &entities, Some(&context)).unwrap();
        let expected = brute_force(&auditor, false);
        for (a, ad) in auditor.domain.actions.iter().enumerate() {
            for &r in &ad.resources {
                let want = auditor.entities.node_uid(r).ty.as_str() == "Doc" && bounded;
                if auditor.entities.node_uid(r).ty.as_str() == "Doc" {
                    assert_eq!(auditor.who_can_is_bounded(a, r), want, "{policies}");
                    judged += 1;
                }
                let who = auditor.who_can(a, r, Run::default()).unwrap();
                let name = auditor.domain.name(r);
                let want: Vec<&String> = expected
                    .iter()
                    .filter(|l| l.split(' ').nth(2) == Some(name))
                    .collect();
                assert_eq!(
                    lines(&auditor, &who.lines).iter().collect::<Vec<_>>(),
                    want,
                    "{policies}"
                );
            }
        }
    }
    assert_eq!(judged, cases.len(), "one document a case");
}

/// Two conditions on the principal alone before `principal in …`: the
/// bound keeps, at each, the principals that pass it and reports those
/// it fails with an error (`u1` has no `active`, and is in no group), each
/// step apart from the one before it.
#[test]
fn the_bound_keeps_each_principal_step_of_a_permit_apart() {
    let entities_json = r#"[
        {"uid": {"type": "Group", "id": "g0"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "u0"}, "attrs": {"level": 2, "active": true}, "parents": [{"type": "Group", "id": "g0"}]},
        {"uid": {"type": "User", "id": "u1"}, "attrs": {"level": 2}, "parents": []},
        {"uid": {"type": "User", "id": "u2"}, "attrs": {"level": 2, "active": false}, "parents": [{"type": "Group", "id": "g0"}]},
        {"uid": {"type": "User", "id": "u3"}, "attrs": {"level": 0, "active": true}, "parents": [{"type": "Group", "id": "g0"}]},
        {"uid": {"type": "Doc", "id": "d0"}, "attrs": {"group": {"__entity": {"type": "Group", "id": "g0"}}}, "parents": []}
    ]"#;
    let policies = "permit(principal, action == Action::\"read\", resource)\n\
                    when { principal.level > 1 } when { principal.active } when { principal in resource.group };";
    let (prepared, entities) = prepared_world(policies, entities_json);
    let context = serde_json::json!({});
    let auditor = Auditor::new(&prepared, &entities, Some(&context)).unwrap();
    let expected = brute_force(&auditor, false);
    let read = auditor.action("read").unwrap();
    let doc = auditor.entity("resource", "Doc::\"d0\"").unwrap();
    assert!(auditor.who_can_is_bounded(read, doc));
    let who = auditor.who_can(read, doc, Run::default()).unwrap();
    let got = lines(&auditor, &who.lines);
    let want: Vec<String> = expected
        .into_iter()
        .filter(|l| l.split(' ').nth(2) == Some("Doc::\"d0\""))
        .collect();
    assert_eq!(got, want, "{policies}");
    for user in ["User::\"u0\"", "User::\"u1\""] {
        assert!(got.iter().any(|l| l.contains(user)), "{user}: {got:#?}");
    }
}
