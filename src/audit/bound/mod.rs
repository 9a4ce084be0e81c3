//! Who can be allowed at all, bounded before judging.
//!
//! For a resource and a context, a permit can be satisfied, or raise an
//! error, only for some principals; a query that lists only what is
//! reported ([`Keep::Reported`]) need judge only the union of those sets
//! over the action's permits: the other principals are denied with no
//! permit satisfied or in error, so nothing about them is reported.
//!
//! A permit's conditions are walked in evaluation order, keeping the
//! principals that reach each one (all, at first) and the candidates
//! found so far:
//!
//! - a condition that does not read the principal is evaluated once (an
//!   error there is every reaching principal's; `false` stops them all);
//! - one that reads only the principal is evaluated per principal, once a
//!   domain (and kept in it): `false` drops a principal, an error makes it
//!   a candidate;
//! - `principal in E` or `principal == E` (in the scope, a condition, or a
//!   rule it calls, `E` not reading the principal) keeps only the reaching
//!   principals below `E`'s value, and ends the walk;
//! - one that reads the principal and cannot raise an error (`is`, `==`,
//!   `&&`, `||`, `!` of those, rules made of them) keeps every reaching
//!   principal; anything else makes them all candidates.
//!
//! A permit whose walk ends with every principal reaching leaves the
//! action unbounded, as do step budgets the evaluations could reach: then
//! every principal is judged.
//!
//! [`Keep::Reported`]: super::judge::Keep::Reported

use super::domain::Domain;
use crate::authorize::{action_constraint, entity_constraint, Options};
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::{EvalError, Evaluator, Value};
use crate::policy_set::PolicySet;
use crate::syntax::ast::{Effect, EntityUid, Expr};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

mod walk;

/// How deep rule calls are followed.
pub const MAX_DEPTH: usize = 16;

const PRINCIPAL: u8 = 1;
const ACTION: u8 = 2;
const RESOURCE: u8 = 4;
const CONTEXT: u8 = 8;

/// What a local of a rule clause stands for.
enum Arg {
    /// An argument that does not depend on the principal, in the caller's
    /// frame.
    Free(Expr),
    /// The principal itself.
    Principal,
    /// Anything else (it cannot raise an error).
    Other,
}

/// The locals of a rule clause being analyzed: the call's arguments.
struct Frame {
    parent: Option<Rc<Frame>>,
    args: Vec<Arg>,
}

type Scope = Option<Rc<Frame>>;

/// An expression that does not depend on the principal, with the frame
/// of its locals.
#[derive(Clone)]
struct Free {
    expr: Expr,
    scope: Scope,
}

/// What a way of satisfying a guard asks of the principal.
#[derive(Clone)]
enum Target {
    /// `principal in E`.
    In(Free),
    /// `principal == E`.
    Eq(Free),
    /// Nothing: the way holds for every principal that reaches it.
    Everyone,
}

/// Something evaluated before a target, the same for every principal.
#[derive(Clone)]
enum Check {
    /// Must be `true` for the way to go on (`false`: the way is closed).
    True(Free),
    /// Must evaluate without error (a rule's argument).
    Evaluates(Free),
}

/// One way a guard may hold: its checks in order, then its target.
#[derive(Clone)]
struct Way {
    checks: Vec<Check>,
    target: Target,
}

/// One step of a permit's walk.
enum Step {
    /// A condition that does not read the principal, and the value that
    /// lets the evaluation go on.
    Free(Free, bool),
    /// Condition number `.0`, which reads only the principal (and the
    /// action); `.1`: it is a `when`.
    Principal(usize, bool),
    /// The principal must meet one of the ways: the walk ends.
    Guard(Vec<Way>),
    /// Reads the principal, cannot fail: every reaching principal goes on.
    Pass,
    /// Anything else: every reaching principal is a candidate; the walk
    /// ends.
    Stop,
}

/// A permit's walk.
struct Walked {
    policy: u32,
    steps: Vec<Step>,
}

/// The bound of one action's permits.
pub struct ActionBound {
    permits: Vec<Walked>,
}

/// What the principal-only conditions of a domain's permits gave, kept in
/// the [`Domain`] (one store): per (policy, condition, action), each
/// principal node's outcome of a condition that reads only the principal
/// (0 not evaluated, 1 goes on, 2 stops, 3 an error); and per (policy,
/// step of its walk, action), which principals pass the walk's principal
/// steps up to that one, the same in every context.
#[derive(Default, Debug)]
pub struct PrincipalOutcomes {
    outcomes: Mutex<HashMap<OutcomeKey, Arc<Vec<u8>>>>,
    passing: Mutex<HashMap<OutcomeKey, Arc<Passing>>>,
}

/// A policy's number, a condition's (or a step's), and the action.
type OutcomeKey = (u32, usize, EntityUid);

/// The principals that pass a permit's principal steps up to one of them
/// (sorted by node), and those for which that one step errs.
#[derive(Debug)]
struct Passing {
    reach: Vec<u32>,
    errors: Vec<u32>,
}

impl Clone for PrincipalOutcomes {
    /// A copy starts empty (it may serve another store).
    fn clone(&self) -> PrincipalOutcomes {
        PrincipalOutcomes::default()
    }
}

/// What [`ActionBound::principals`] reads.
pub struct Inputs<'s> {
    /// The policies.
    pub set: &'s PolicySet,
    /// The store.
    pub entities: &'s Entities,
    /// The options.
    pub options: &'s Options,
    /// The domain (its kept outcomes).
    pub domain: &'s Domain,
    /// The action's principals.
    pub principals: &'s [u32],
    /// The domain's principals below each entity.
    pub below: &'s HashMap<u32, Vec<u32>>,
}

/// The analysis of one permit.
struct Walk<'s> {
    set: &'s PolicySet,
    rule_vars: &'s [u8],
    depth: usize,
    nodes: usize,
}

impl ActionBound {
    /// The bound of `action`'s permits in `set`, or `None` where step
    /// budgets could cut an evaluation short or a permit is a template's.
    pub fn of(
        set: &PolicySet,
        entities: &Entities,
        action: &EntityUid,
        options: &Options,
    ) -> Option<ActionBound> {
        // A deadline may cut an evaluation short, but an answer cut by its
        // deadline is no answer (a search refuses it), and an outcome it
        // cut is an error: a candidate, judged.
        let limits = &options.limits;
        let applying: Vec<u32> = (0..u32::try_from(set.policies.len()).ok()?)
            .filter(|&i| {
                action_constraint(&set.policies[i as usize].policy.action, action, entities)
            })
            .collect();
        if (applying.len() as u64 + 1).saturating_mul(limits.max_steps.saturating_add(1))
            >= limits.max_request_steps
        {
            return None;
        }
        let rule_vars = walk::rule_vars(set);
        let mut permits = Vec::new();
        for i in applying {
            let policy = &set.policies[i as usize].policy;
            if policy.effect != Effect::Permit {
                continue;
            }
            let mut walk = Walk {
                set,
                rule_vars: &rule_vars,
                depth: 0,
                nodes: 0,
            };
            let steps = walk.permit(policy)?;
            // Every node the analysis passed may cost a few steps.
            if (walk.nodes as u64).saturating_mul(4).saturating_add(16) >= limits.max_steps {
                return None;
            }
            permits.push(Walked { policy: i, steps });
        }
        Some(ActionBound { permits })
    }

    /// The principal nodes that may be reported for `request` (its
    /// principal is ignored; each at least once, in no order), or `None`
    /// when every principal may be.
    pub fn principals(&self, inputs: &Inputs, request: &Request) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        let mut eval = Evaluator::new(inputs.set, inputs.entities, request, &inputs.options.limits);
        for permit in &self.permits {
            let policy = &inputs.set.policies[permit.policy as usize].policy;
            if !entity_constraint(&policy.resource, &request.resource, inputs.entities) {
                continue;
            }
            // The principals that reach the step (`None`: all of them).
            let mut reach: Option<Arc<Passing>> = None;
            let mut ended = false;
            for (at, step) in permit.steps.iter().enumerate() {
                match step {
                    Step::Free(free, want) => match value(&mut eval, free) {
                        Ok(Value::Bool(b)) if b == *want => continue,
                        Ok(Value::Bool(_)) => {
                            ended = true;
                            break;
                        }
                        // An error for every principal that reaches it.
                        _ => break,
                    },
                    Step::Principal(k, when) => {
                        let step = PrincipalStep {
                            policy: permit.policy,
                            at,
                            condition: *k,
                            when: *when,
                        };
                        let passing = passing(inputs, request, &step, reach.as_deref());
                        out.extend_from_slice(&passing.errors);
                        reach = Some(passing);
                    }
                    Step::Pass => {}
                    Step::Stop => break,
                    Step::Guard(ways) => {
                        let mut targets = Vec::new();
                        let mut everyone = false;
                        for way in ways {
                            match open(&mut eval, way)? {
                                None => {}
                                Some(Target::Everyone) => everyone = true,
                                Some(t) => targets.push(t),
                            }
                        }
                        if everyone {
                            break;
                        }
                        let mut below = Vec::new();
                        for t in &targets {
                            target_nodes(&mut eval, t, inputs, &mut below)?;
                        }
                        match &reach {
                            None => out.extend(below),
                            Some(r) => out.extend(
                                below
                                    .into_iter()
                                    .filter(|p| r.reach.binary_search(p).is_ok()),
                            ),
                        }
                        ended = true;
                        break;
                    }
                }
            }
            if !ended {
                // Every principal still reaching it may be reported.
                out.extend_from_slice(&reach?.reach);
            }
        }
        Some(out)
    }
}

/// A way's checks, in order: `Some(target)` where they all pass, `None`
/// where one closes it; the outer `None` where one fails (an error for
/// every principal).
fn open(eval: &mut Evaluator<'_>, way: &Way) -> Option<Option<Target>> {
    for check in &way.checks {
        match check {
            Check::True(f) => match value(eval, f).ok()? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Some(None),
                _ => return None,
            },
            Check::Evaluates(f) => {
                value(eval, f).ok()?;
            }
        }
    }
    Some(Some(way.target.clone()))
}

/// The principals a target admits (of the store: the caller keeps the
/// action's), appended to `out`; `None` where its
/// value fails for every principal.
fn target_nodes(
    eval: &mut Evaluator<'_>,
    target: &Target,
    inputs: &Inputs,
    out: &mut Vec<u32>,
) -> Option<()> {
    let within = |u: &EntityUid, out: &mut Vec<u32>| {
        if let Some(n) = inputs.entities.node(u) {
            out.push(n);
            out.extend(inputs.below.get(&n).into_iter().flatten());
        }
    };
    match target {
        Target::Everyone => return None,
        Target::In(f) => match value(eval, f).ok()? {
            Value::Entity(u) => within(&u, out),
            Value::Set(items) => {
                for v in items.iter() {
                    match v {
                        Value::Entity(u) => within(u, out),
                        // `in` a set of something else fails.
                        _ => return None,
                    }
                }
            }
            _ => return None,
        },
        Target::Eq(f) => {
            if let Value::Entity(u) = value(eval, f).ok()? {
                out.extend(inputs.entities.node(&u));
            }
        }
    }
    Some(())
}

/// A step of a permit's walk that reads only the principal.
struct PrincipalStep {
    /// The permit's policy number.
    policy: u32,
    /// The step's place in the walk.
    at: usize,
    /// Its condition, and the value that goes on.
    condition: usize,
    when: bool,
}

/// The principals of the action that pass `step`, of those that `reach`
/// it (`None`: all), and those for which it errs: the same in every
/// context, so computed once a domain. The steps before it are principal
/// steps or free ones, which stop all principals or none: `reach` is the
/// same each time `step` is reached.
fn passing(
    inputs: &Inputs,
    request: &Request,
    step: &PrincipalStep,
    reach: Option<&Passing>,
) -> Arc<Passing> {
    let kept = &inputs.domain.principal_outcomes.passing;
    let key = (step.policy, step.at, request.action.clone());
    if let Some(p) = kept.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return p;
    }
    let outcomes = principal_outcomes(inputs, request, step.policy, step.condition, step.when);
    let from: &[u32] = match reach {
        Some(r) => &r.reach,
        None => inputs.principals,
    };
    let mut passing = Passing {
        reach: Vec::new(),
        errors: Vec::new(),
    };
    for &p in from {
        match outcomes.get(p as usize) {
            Some(1) => passing.reach.push(p),
            Some(2) => {}
            _ => passing.errors.push(p),
        }
    }
    passing.reach.sort_unstable();
    let passing = Arc::new(passing);
    if let Ok(mut m) = kept.lock() {
        m.insert(key, passing.clone());
    }
    passing
}

/// The outcomes of condition `k` of policy `policy` (reading only the
/// principal) for every principal of the action, computed once a domain.
fn principal_outcomes(
    inputs: &Inputs,
    request: &Request,
    policy: u32,
    k: usize,
    when: bool,
) -> Arc<Vec<u8>> {
    let kept = &inputs.domain.principal_outcomes.outcomes;
    let key = (policy, k, request.action.clone());
    if let Some(o) = kept.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return o;
    }
    let condition = &inputs.set.policies[policy as usize].policy.conditions[k];
    let mut outcomes = vec![0u8; inputs.entities.node_count() as usize];
    let mut asked = request.clone();
    for &p in inputs.principals {
        asked.principal = inputs.entities.node_uid(p).clone();
        let mut eval = Evaluator::new(inputs.set, inputs.entities, &asked, &inputs.options.limits);
        outcomes[p as usize] = match eval.eval(&condition.body) {
            Ok(Value::Bool(b)) if b == when => 1,
            Ok(Value::Bool(_)) => 2,
            _ => 3,
        };
    }
    let outcomes = Arc::new(outcomes);
    if let Ok(mut m) = kept.lock() {
        m.insert(key, outcomes.clone());
    }
    outcomes
}

/// The value of a free expression: its frame's arguments first.
fn value(eval: &mut Evaluator<'_>, free: &Free) -> Result<Value, EvalError> {
    // Each evaluation as by a fresh evaluator, with its own step budget.
    eval.reset();
    let locals = locals(eval, &free.scope)?;
    eval.bind_locals(locals);
    eval.eval(&free.expr)
}

/// The values of a frame's locals (a local that is not free is never read
/// by a free expression: a placeholder).
fn locals(eval: &mut Evaluator<'_>, scope: &Scope) -> Result<Vec<Value>, EvalError> {
    let Some(frame) = scope else {
        return Ok(Vec::new());
    };
    let outer = locals(eval, &frame.parent)?;
    let mut out = Vec::with_capacity(frame.args.len());
    for a in &frame.args {
        out.push(match a {
            Arg::Free(e) => {
                eval.bind_locals(outer.clone());
                eval.eval(e)?
            }
            Arg::Principal | Arg::Other => Value::Bool(false),
        });
    }
    Ok(out)
}
