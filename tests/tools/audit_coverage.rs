//! The findings' coverage is exact: on generated worlds, which policies
//! some request reaches, the permits' counts, the rules called and the
//! clauses that held equal what `authorize` and every policy evaluated on
//! its own see over every request of the domain, whatever the threads.
//! The shortcuts it takes (the permits' pass skips the forbids of a
//! request no permit holds; the forbids' pass probes one resource for
//! many) must lose nothing.

use mspl::__internal::authorize::{
    authorize, evaluate_policy, Decision, ErrorMode, Options, PolicyOutcome, PreparedSet,
};
use mspl::__internal::entities::json::Request;
use mspl::__internal::eval::{EvalError, EvalErrorKind, Evaluator, Tracer, Value};
use mspl::__internal::syntax::ast::Effect;
use mspl::__internal::syntax::Span;
use mspl::__internal::{Entities, Limits, PolicySet};
use mspl_cli::audit::judge::Coverage;
use mspl_cli::audit::Auditor;

/// The rules one evaluation called and the clauses that held.
struct Rules<'c>(&'c mut Coverage);

impl Tracer for Rules<'_> {
    fn rule_enter(&mut self, rule: u32, _args: &[Value], _span: Span) {
        self.0.entered[rule as usize] = true;
    }

    fn rule_clause(&mut self, rule: u32, clause: usize, result: &Result<Value, EvalError>) {
        if matches!(result, Ok(Value::Bool(true))) {
            self.0.held[rule as usize][clause] = true;
        }
    }
}

fn limited(e: &EvalError) -> bool {
    matches!(
        e.kind,
        EvalErrorKind::StepLimit { .. } | EvalErrorKind::RequestStepLimit { .. }
    )
}

/// What the brute force saw beyond the coverage: the forbids reached and
/// the clauses held only on requests where no permit holds (what the
/// forbids' pass has to find).
#[derive(Default)]
struct Beyond {
    forbids: usize,
    clauses: usize,
}

/// Every request of the domain judged by `authorize`, every policy
/// evaluated on its own; `None` where a step limit cut an evaluation (the
/// rules a cut evaluation reached depend on the budget it was given).
fn brute_force(auditor: &Auditor) -> Option<(Coverage, Beyond)> {
    let (set, entities) = (auditor.set, auditor.entities);
    let d = &auditor.domain;
    let mut all = Coverage::new(set);
    // Seen on requests where some permit held.
    let mut with_permit = Coverage::new(set);
    for &p in &d.principals() {
        for a in &d.actions {
            if !a.principals.contains(&p) {
                continue;
            }
            for &r in &a.resources {
                for &c in &a.contexts {
                    let request = Request {
                        principal: entities.node_uid(p).clone(),
                        action: a.action.clone(),
                        resource: entities.node_uid(r).clone(),
                        context: d.contexts[c as usize].clone(),
                    };
                    let response = authorize(set, entities, &request, auditor.options);
                    if response.errors.iter().any(|e| limited(&e.error)) {
                        return None;
                    }
                    let mut this = Coverage::new(set);
                    let mut permit_held = false;
                    for (i, entry) in set.policies.iter().enumerate() {
                        let mut eval = Evaluator::with_tracer(
                            set,
                            entities,
                            &request,
                            &auditor.options.limits,
                            Rules(&mut this),
                        );
                        match evaluate_policy(&entry.policy, &mut eval) {
                            PolicyOutcome::Satisfied => {
                                this.stats[i].reached = true;
                                if entry.policy.effect == Effect::Permit {
                                    this.stats[i].satisfied += 1;
                                    permit_held = true;
                                }
                            }
                            PolicyOutcome::Error(e) if limited(&e) => return None,
                            _ => {}
                        }
                    }
                    if response.decision == Decision::Allow {
                        for id in &response.determining {
                            let i = set.policies.iter().position(|e| &e.id == id).unwrap();
                            this.stats[i].allowed += 1;
                        }
                    }
                    all.merge(&this);
                    if permit_held {
                        with_permit.merge_reach(&this);
                    }
                }
            }
        }
    }
    let forbids = (0..set.policies.len())
        .filter(|&i| all.stats[i].reached && !with_permit.stats[i].reached)
        .count();
    let clauses = all
        .held
        .iter()
        .flatten()
        .zip(with_permit.held.iter().flatten())
        .filter(|(a, b)| **a && !**b)
        .count();
    Some((all, Beyond { forbids, clauses }))
}

/// What the test went through.
#[derive(Default)]
struct Tally {
    compared: usize,
    cut: usize,
    forbids_beyond: usize,
    clauses_beyond: usize,
}

fn check_world(
    what: &str,
    set: &PolicySet,
    entities: &Entities,
    context: Option<&serde_json::Value>,
    limits: Limits,
    tally: &mut Tally,
) {
    for errors in [ErrorMode::FailClosed, ErrorMode::Cedar] {
        let options = Options {
            errors,
            limits,
            plain: false,
            deadline: None,
        };
        let prepared = PreparedSet::new(set.clone(), options);
        let auditor = Auditor::new(&prepared, entities, context).unwrap();
        let Some((expected, beyond)) = brute_force(&auditor) else {
            tally.cut += 1;
            return;
        };
        tally.compared += 1;
        tally.forbids_beyond += beyond.forbids;
        tally.clauses_beyond += beyond.clauses;
        for threads in [1, 3] {
            assert_eq!(
                auditor.coverage(threads),
                expected,
                "{what}, {errors:?}, threads {threads}"
            );
        }
    }
}

#[test]
fn the_findings_coverage_equals_brute_force_on_generated_worlds() {
    let mut tally = Tally::default();
    crate::audit::each_world(120, |what, set, entities, context, limits| {
        check_world(what, set, entities, context, limits, &mut tally);
    });
    eprintln!(
        "{} worlds compared ({} left out: a step limit cut an evaluation); \
         {} forbids and {} rule clauses reached only where no permit held",
        tally.compared, tally.cut, tally.forbids_beyond, tally.clauses_beyond
    );
    assert!(
        tally.compared >= 200,
        "only {} worlds compared",
        tally.compared
    );
    assert!(
        tally.forbids_beyond >= 20 && tally.clauses_beyond >= 20,
        "the forbids' pass was hardly needed: {} forbids, {} clauses",
        tally.forbids_beyond,
        tally.clauses_beyond
    );
}

/// The forbids' pass judges one principal of a class for all of it only
/// where the forbid read of it no more than its type and one attribute:
/// principals alike in those but not in their groups are judged apart
/// when the forbid tests them `in` a group (through a rule called by the
/// forbid alone, on requests no permit holds), and so are principals the
/// forbid reads whole.
#[test]
fn the_forbids_pass_tells_apart_principals_alike_but_in_their_groups() {
    let policies = r#"
        rule in_g1(who) { who in Group::"g1" }
        rule is_u2(who) { who == User::"u2" }
        @id("in-group") forbid (principal is User, action == Action::"read", resource) when { principal.level > 0 && in_g1(principal) };
        @id("itself") forbid (principal is User, action == Action::"read", resource) when { is_u2(principal) };
        @id("never") permit (principal is User, action == Action::"read", resource) when { principal.level > 5 };
    "#;
    // `u0` comes first and is in neither; the others share its level.
    let entities = r#"[
        {"uid": {"type": "User", "id": "u0"}, "attrs": {"level": 1}, "parents": [{"type": "Group", "id": "g0"}]},
        {"uid": {"type": "User", "id": "u1"}, "attrs": {"level": 1}, "parents": [{"type": "Group", "id": "g1"}]},
        {"uid": {"type": "User", "id": "u2"}, "attrs": {"level": 1}, "parents": [{"type": "Group", "id": "g0"}]},
        {"uid": {"type": "Group", "id": "g0"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "g1"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Doc", "id": "d0"}, "attrs": {}, "parents": []}
    ]"#;
    let limits = Limits::default();
    let set = crate::audit::load(policies, limits).expect("the policies load");
    let mut entities = mspl::__internal::entities::build::build_entities(
        &set.schema,
        [("entities.json", entities)],
    )
    .expect("the entities load");
    mspl::__internal::entities::build::add_named_actions(&set, &mut entities);
    let mut tally = Tally::default();
    check_world(
        "alike but in their groups",
        &set,
        &entities,
        None,
        limits,
        &mut tally,
    );
    assert_eq!(tally.compared, 2, "no step limit cuts this world");
    // Both forbids and both rules' clauses hold only on some principals,
    // and only where no permit does: the forbids' pass had to find them.
    assert_eq!((tally.forbids_beyond, tally.clauses_beyond), (4, 4));
}
