//! Proofs over every store the declarations and invariants allow: a
//! property of a policy set (or of two versions), checked by an SMT solver
//! slice by slice (principal type × action × resource type), each answer
//! `proved`, a certified `counterexample`, `unknown` with the reason, or
//! `vacuous` when the assumptions alone are unsatisfiable
//! (`docs/verify.md`).
//!
//! - [`encode`]: mspl's semantics as SMT-LIB terms;
//! - [`solver`]: the solver process and its answers;
//! - [`model`]: a satisfying model read back as a request and a store.
//!
//! A counterexample is reported only after mspl itself confirms it: the
//! store validates against the declarations (`mspl validate`'s checker),
//! satisfies the invariants, and `authorize` decides the request as the
//! property says it must not. Anything else is `unknown`.

pub mod encode;
pub mod model;
pub mod solver;

use crate::generate::invariants::{first_broken, invariants, Invariant, Param};
use encode::{Encoder, Refusal, Scope, Slice};
use mspl::__internal::authorize::{authorize, Decision, ErrorMode, Options, Response};
use mspl::__internal::entities::build::{add_named_actions, build_entities_with};
use mspl::__internal::entities::json::{request_from_json, Request};
use mspl::__internal::eval::{rule_call, Evaluator, NoTrace, Value};
use mspl::__internal::limits::Limits;
use mspl::__internal::policy_set::PolicySet;
use mspl::__internal::schema::Type;
use mspl::__internal::syntax::ast::{annotation, Name, Var};
use serde_json::Value as Json;
use solver::{Sat, Solver};

/// The sizes of set attributes a counterexample is searched among, when
/// the unbounded query gives none.
const SMALL_SETS: [usize; 2] = [3, 6];

/// What must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Property {
    /// No request raises an error in any policy.
    NeverErrors,
    /// Every request is allowed.
    AlwaysAllows,
    /// Every request is denied.
    AlwaysDenies,
    /// Every request the new version allows, the old one allows.
    NoNewAccess,
    /// Both versions decide every request alike.
    Equivalent,
    /// No request is allowed by both.
    Disjoint,
    /// The `@property` rule (its number, its name) holds for every
    /// request the policies allow.
    Rule(u32, Name),
}

impl Property {
    /// How the property is named on the command line.
    pub fn name(&self) -> String {
        match self {
            Property::NeverErrors => "never-errors".into(),
            Property::AlwaysAllows => "always-allows".into(),
            Property::AlwaysDenies => "always-denies".into(),
            Property::NoNewAccess => "no-new-access".into(),
            Property::Equivalent => "equivalent".into(),
            Property::Disjoint => "disjoint".into(),
            Property::Rule(_, n) => format!("property {n}"),
        }
    }
}

/// The `@property` rules of `set`: (number, name).
pub fn property_rules(set: &PolicySet) -> Vec<(u32, Name)> {
    set.rules
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.clauses
                .iter()
                .any(|c| annotation(&c.annotations, "property").is_some())
        })
        .filter_map(|(i, r)| u32::try_from(i).ok().map(|i| (i, r.name.clone())))
        .collect()
}

/// The answer for one slice.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// It holds for every store and request of the slice.
    Proved,
    /// A request and a store where it does not, confirmed by `authorize`.
    Counterexample {
        /// Cedar's JSON request.
        request: Json,
        /// Cedar's JSON entity array.
        entities: Json,
        /// What `authorize` said.
        shown: String,
    },
    /// No answer: why.
    Unknown(String),
    /// The assumptions alone are unsatisfiable: why that matters.
    Vacuous(String),
}

/// How to check.
#[derive(Clone, Debug)]
pub struct Check {
    /// The solver.
    pub solver: Solver,
    /// Rule calls unrolled this deep (past it, a call is unconstrained).
    pub depth: usize,
    /// The error mode.
    pub mode: ErrorMode,
    /// The evaluation limits a counterexample is confirmed under.
    pub limits: Limits,
}

/// The slices of `set`'s declarations: every action that says what it
/// applies to, by principal type and resource type, filtered.
pub fn slices(
    set: &PolicySet,
    principal_type: Option<&str>,
    action: Option<&str>,
    resource_type: Option<&str>,
) -> Vec<Slice> {
    let mut out = Vec::new();
    for (uid, decl) in &set.schema.actions {
        if action.is_some_and(|a| a != uid.id.as_str() && a != uid.to_string()) {
            continue;
        }
        let (Some(principals), Some(resources)) = (&decl.principals, &decl.resources) else {
            continue;
        };
        let context = match &decl.context {
            Some(Type::Record(fields)) => (**fields).clone(),
            _ => Default::default(),
        };
        for p in principals {
            if principal_type.is_some_and(|t| t != p.as_str()) {
                continue;
            }
            for r in resources {
                if resource_type.is_some_and(|t| t != r.as_str()) {
                    continue;
                }
                out.push(Slice {
                    principal_type: p.clone(),
                    action: uid.clone(),
                    resource_type: r.clone(),
                    context: context.clone(),
                });
            }
        }
    }
    out
}

/// How a slice is named in reports.
pub fn slice_name(s: &Slice) -> String {
    format!("{} × {} × {}", s.principal_type, s.action, s.resource_type)
}

/// A set's decision, encoded: (allowed, some policy errs).
fn decision(enc: &mut Encoder, scope: &Scope) -> Result<(String, String), Refusal> {
    let (mut permits, mut forbids, mut forbid_errors, mut errors) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for entry in &scope.set.policies {
        let (applies, err) = enc.policy(scope, &entry.policy)?;
        match entry.policy.effect {
            mspl::__internal::syntax::ast::Effect::Permit => permits.push(applies),
            mspl::__internal::syntax::ast::Effect::Forbid => {
                forbids.push(applies);
                forbid_errors.push(err.clone());
            }
        }
        errors.push(err);
    }
    let mut allow = format!(
        "(and (or false {}) (not (or false {}))",
        permits.join(" "),
        forbids.join(" ")
    );
    if scope.mode == ErrorMode::FailClosed {
        allow.push_str(&format!(" (not (or false {}))", forbid_errors.join(" ")));
    }
    allow.push(')');
    Ok((allow, format!("(or false {})", errors.join(" "))))
}

/// The invariants as assumptions: for every choice of existing entities,
/// the rule holds without error.
fn assumptions(
    enc: &mut Encoder,
    scope: &Scope,
    invs: &[Invariant],
) -> Result<Vec<String>, Refusal> {
    let mut out = Vec::new();
    for inv in invs {
        let mut args = Vec::new();
        let mut bound = Vec::new();
        for (i, p) in inv.params.iter().enumerate() {
            match p {
                Param::Each(t) => {
                    let name = format!("inv_{i}");
                    let ex = enc.func(encode::Func::Exists(t.clone()));
                    bound.push((name.clone(), format!("({ex} {name})")));
                    args.push(enc.each(t, &name));
                }
                Param::All(t) => args.push(enc.all(t)),
            }
        }
        let (holds, _) = enc.call(scope, inv.rule, args)?;
        for (name, _) in &bound {
            enc.forget(name);
        }
        out.push(if bound.is_empty() {
            holds
        } else {
            let vars: Vec<String> = bound.iter().map(|(n, _)| format!("({n} String)")).collect();
            let guards: Vec<&str> = bound.iter().map(|(_, g)| g.as_str()).collect();
            format!(
                "(forall ({}) (=> (and {}) {holds}))",
                vars.join(" "),
                guards.join(" ")
            )
        });
    }
    Ok(out)
}

/// Where a refusal points, for the message.
pub fn located(set: &PolicySet, r: &Refusal) -> String {
    // (Spans compare equal whatever they cover: the fields say "nowhere".)
    if r.span.start == 0 && r.span.end == 0 {
        return r.what.clone();
    }
    let name = set.sources.name(r.span.file);
    let (line, column) = set.sources.line_column(r.span);
    format!("{} at {name}:{line}:{column}", r.what)
}

/// Checks `property` on one slice. `main` is the set (the new version,
/// the left one); `other` the old version or the right one.
pub fn check_slice(
    check: &Check,
    property: &Property,
    main: &PolicySet,
    other: Option<&PolicySet>,
    slice: &Slice,
) -> Verdict {
    let invs = match invariants(main) {
        Ok(i) => i,
        Err(ds) => {
            let msgs: Vec<String> = ds.iter().map(|d| d.message.clone()).collect();
            return Verdict::Unknown(format!("the invariants do not read: {}", msgs.join("; ")));
        }
    };
    let mut enc = Encoder::new(&main.schema, slice.clone(), check.depth, check.mode);
    let scope = Scope {
        set: main,
        mode: check.mode,
    };
    let encoded = (|| -> Result<(Vec<String>, String), (Refusal, bool)> {
        let assumed = assumptions(&mut enc, &scope, &invs).map_err(|r| (r, true))?;
        let (allow, errs) = decision(&mut enc, &scope).map_err(|r| (r, true))?;
        let goal = match property {
            Property::NeverErrors => errs,
            Property::AlwaysAllows => format!("(not {allow})"),
            Property::AlwaysDenies => allow,
            Property::NoNewAccess | Property::Equivalent | Property::Disjoint => {
                let Some(o) = other else {
                    return Err((encode_refusal("a second version"), true));
                };
                let oscope = Scope {
                    set: o,
                    mode: check.mode,
                };
                let (old, _) = decision(&mut enc, &oscope).map_err(|r| (r, false))?;
                match property {
                    Property::NoNewAccess => format!("(and {allow} (not {old}))"),
                    Property::Equivalent => format!("(not (= {allow} {old}))"),
                    _ => format!("(and {allow} {old})"),
                }
            }
            Property::Rule(rule, _) => {
                let four = main.rules.get(*rule as usize).is_some_and(|r| r.arity == 4);
                let args = if four {
                    vec![
                        enc.request_var(Var::Principal),
                        enc.request_var(Var::Action),
                        enc.request_var(Var::Resource),
                        enc.request_var(Var::Context),
                    ]
                } else {
                    Vec::new()
                };
                let (holds, _) = enc.call(&scope, *rule, args).map_err(|r| (r, true))?;
                format!("(and {allow} (not {holds}))")
            }
        };
        Ok((assumed, goal))
    })();
    let (assumed, goal) = match encoded {
        Ok(x) => x,
        Err((r, in_main)) => {
            let set = if in_main { main } else { other.unwrap_or(main) };
            return Verdict::Unknown(format!("not encoded: {}", located(set, &r)));
        }
    };
    enc.finish();
    let asserted: Vec<String> = assumed.iter().map(|a| format!("(assert {a})")).collect();
    let text = format!("{}\n{}", enc.prelude.join("\n"), asserted.join("\n"));
    if let Some(dir) = std::env::var_os("MSPL_VERIFY_DUMP") {
        // For reading a query by hand, or handing it to another solver.
        let name = slice_name(slice).replace([' ', '×', ':', '"', '/'], "_");
        let _ = crate::files::write_file(
            &std::path::Path::new(&dir).join(format!("{name}.smt2")),
            &format!("{text}\n(push)\n(assert {goal})\n(check-sat)\n(pop)\n"),
        );
    }
    let mut session = match check.solver.start() {
        Ok(s) => s,
        Err(e) => return Verdict::Unknown(e),
    };
    if let Err(e) = session.send(&text) {
        return Verdict::Unknown(e);
    }
    // The assumptions alone first: contradictory ones would prove anything.
    // The empty store, where mspl itself finds the invariants kept, shows
    // them satisfiable without asking (a solver may not answer that
    // under quantified invariants).
    let mut empty = mspl::__internal::Entities::new();
    add_named_actions(main, &mut empty);
    let empty_keeps_them = first_broken(main, &invs, &empty, &check.limits, None).is_none();
    let assumptions_hold = if empty_keeps_them {
        Ok(())
    } else {
        match session.check() {
        Sat::Unsat => {
            return Verdict::Vacuous(
                "the declarations and invariants admit no store and request in this slice: anything would be proved"
                    .into(),
            )
        }
            Sat::Unknown(w) => Err(w),
            Sat::Sat => Ok(()),
        }
    };
    if let Err(e) = session.send(&format!("(assert {goal})")) {
        return Verdict::Unknown(e);
    }
    let why = match session.check() {
        Sat::Unsat => {
            return match assumptions_hold {
                Ok(()) => Verdict::Proved,
                Err(w) => Verdict::Unknown(format!(
                "no counterexample, but whether the assumptions can hold at all is unknown ({w})"
            )),
            }
        }
        Sat::Sat => match model::concretize(&mut session, &enc, &main.schema) {
            Ok((request, entities)) => {
                return confirmed(
                    check, property, main, other, &invs, request, entities, enc.cut,
                )
            }
            Err(model::Unread::Infinite(term, _)) => {
                format!("the solver's model has an infinite set ({term})")
            }
            Err(model::Unread::Other(e)) => format!("the solver's model could not be read: {e}"),
        },
        Sat::Unknown(w) => w,
    };
    drop(session);
    // A store holds finite sets: look again among stores whose set
    // attributes have a few elements each (a search for a counterexample;
    // only ever a proof above).
    for size in SMALL_SETS {
        let mut text = enc.bounded_prelude(size).join("\n");
        text.push('\n');
        text.push_str(&asserted.join("\n"));
        text.push_str(&format!("\n(assert {goal})"));
        let mut session = match check.solver.start() {
            Ok(s) => s,
            Err(e) => return Verdict::Unknown(e),
        };
        if let Err(e) = session.send(&text) {
            return Verdict::Unknown(e);
        }
        match session.check() {
            Sat::Sat => match model::concretize(&mut session, &enc, &main.schema) {
                Ok((request, entities)) => {
                    return confirmed(
                        check, property, main, other, &invs, request, entities, enc.cut,
                    )
                }
                Err(model::Unread::Infinite(t, _)) => {
                    return Verdict::Unknown(format!(
                        "{why}; the bounded model's set {t} is infinite"
                    ))
                }
                Err(model::Unread::Other(e)) => {
                    return Verdict::Unknown(format!(
                        "{why}; the bounded model could not be read: {e}"
                    ))
                }
            },
            Sat::Unsat => continue,
            Sat::Unknown(w) => {
                return Verdict::Unknown(format!(
                    "{why}; with sets of at most {size} elements: {w}"
                ))
            }
        }
    }
    Verdict::Unknown(format!(
        "{why}; no counterexample with sets of at most {} elements",
        SMALL_SETS[SMALL_SETS.len() - 1]
    ))
}

/// A counterexample, once mspl confirms it.
#[expect(clippy::too_many_arguments, reason = "what a confirmation needs")]
fn confirmed(
    check: &Check,
    property: &Property,
    main: &PolicySet,
    other: Option<&PolicySet>,
    invs: &[Invariant],
    request: Json,
    entities: Json,
    cut: bool,
) -> Verdict {
    match certify(check, property, main, other, invs, &request, &entities) {
        Ok(shown) => Verdict::Counterexample {
            request,
            entities,
            shown,
        },
        Err(e) => Verdict::Unknown(format!(
            "the solver's counterexample does not reproduce ({e}){}",
            if cut {
                "; a rule call was cut at the unrolling depth: try a larger --depth"
            } else {
                ""
            }
        )),
    }
}

fn encode_refusal(what: &str) -> Refusal {
    Refusal {
        what: what.into(),
        span: Default::default(),
    }
}

/// Confirms a counterexample with mspl alone: the store validates and
/// keeps the invariants, and `authorize` shows the property broken.
pub fn certify(
    check: &Check,
    property: &Property,
    main: &PolicySet,
    other: Option<&PolicySet>,
    invs: &[Invariant],
    request: &Json,
    entities: &Json,
) -> Result<String, String> {
    let text = entities.to_string();
    let problems = mspl::__internal::validate::data::validate_entities(main, usize::MAX, &text)
        .map_err(|u| format!("the store does not read: {}", u.message))?;
    if let Some(p) = problems.iter().find(|p| !p.is_warning()) {
        return Err(format!("the store does not validate: {}", p.error));
    }
    let request_text = request.to_string();
    let problems =
        mspl::__internal::validate::data::validate_requests(main, usize::MAX, &request_text, false)
            .map_err(|u| format!("the request does not read: {}", u.message))?;
    if let Some(p) = problems.iter().find(|p| !p.is_warning()) {
        return Err(format!("the request does not validate: {}", p.error));
    }
    let options = Options {
        errors: check.mode,
        limits: check.limits,
        plain: false,
        deadline: None,
    };
    let build = |set: &PolicySet| -> Result<mspl::__internal::Entities, String> {
        let mut store = build_entities_with(
            &set.schema,
            [("counterexample.json", text.as_str())],
            &check.limits,
        )
        .map_err(|e| format!("the store does not load: {}", e.message))?;
        add_named_actions(set, &mut store);
        Ok(store)
    };
    let store = build(main)?;
    if let Some(broken) = first_broken(main, invs, &store, &check.limits, None) {
        return Err(format!("the store breaks the invariant {broken}"));
    }
    let req: Request = request_from_json(request, &main.schema)?;
    let said = |r: &Response| {
        let mut s = format!("{:?}", r.decision).to_uppercase();
        if !r.determining.is_empty() {
            let ids: Vec<&str> = r.determining.iter().map(|d| d.as_str()).collect();
            s.push_str(&format!(" by {}", ids.join(", ")));
        }
        if !r.errors.is_empty() {
            let ids: Vec<&str> = r.errors.iter().map(|e| e.policy.as_str()).collect();
            s.push_str(&format!(", errors in {}", ids.join(", ")));
        }
        s
    };
    let now = authorize(main, &store, &req, &options);
    let allowed = now.decision == Decision::Allow;
    match property {
        Property::NeverErrors if !now.errors.is_empty() => Ok(said(&now)),
        Property::AlwaysAllows if !allowed => Ok(said(&now)),
        Property::AlwaysDenies if allowed => Ok(said(&now)),
        Property::NoNewAccess | Property::Equivalent | Property::Disjoint => {
            let o = other.ok_or("no second version")?;
            let ostore = build(o)?;
            let before = authorize(o, &ostore, &req, &options);
            let was = before.decision == Decision::Allow;
            let broken = match property {
                Property::NoNewAccess => allowed && !was,
                Property::Equivalent => allowed != was,
                _ => allowed && was,
            };
            if broken {
                Ok(format!("{} / {}", said(&before), said(&now)))
            } else {
                Err(format!("authorize says {} / {}", said(&before), said(&now)))
            }
        }
        Property::Rule(rule, name) if allowed => {
            let arity = main.rules.get(*rule as usize).map_or(0, |r| r.arity);
            let call = rule_call(name, *rule, arity);
            let mut eval = Evaluator::with_tracer(main, &store, &req, &check.limits, NoTrace);
            if arity == 4 {
                eval.bind_locals(vec![
                    Value::Entity(req.principal.clone()),
                    Value::Entity(req.action.clone()),
                    Value::Entity(req.resource.clone()),
                    req.context.clone(),
                ]);
            }
            match eval.eval(&call) {
                Ok(Value::Bool(true)) => {
                    Err(format!("authorize says {} and {name} holds", said(&now)))
                }
                Ok(v) => Ok(format!("{}, and {name} is {v}", said(&now))),
                Err(e) => Ok(format!(
                    "{}, and {name} raises an error: {}",
                    said(&now),
                    e.kind
                )),
            }
        }
        _ => Err(format!("authorize says {}", said(&now))),
    }
}
