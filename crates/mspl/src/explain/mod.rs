//! Explanations: why a request was allowed or denied, in words a console
//! user knows, built on the tracing evaluator ([`trace::Recorder`]).
//!
//! Runs only when an explanation is asked for (text output of a deny,
//! `--explain`, `mspl explain`); the decision path stays lean. A condition is
//! split into its top-level parts (the conjuncts of a `when`, the disjuncts of
//! an `unless`) and every part is evaluated, not only up to the first that
//! fails, so that a deny names every missing grant.

pub mod render;
pub mod trace;

use crate::authorize::{evaluate_policy, scope_matches, PolicyOutcome, Response};
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::eval::Evaluator;
use crate::limits::Limits;
use crate::policy_set::{PolicyEntry, PolicySet};
use crate::syntax::ast::{annotation, visit, ConditionKind, Effect, Expr, ExprKind, Var};
use crate::syntax::Span;
use crate::value::Value;
use serde::Serialize;
use trace::{CallRecord, Recorder};

/// Which policies an explanation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    /// Those that decided or could have: the determining policies, or for a
    /// deny with no permit, the permits whose scope matched.
    Relevant,
    /// Every policy (the `explain` command).
    All,
}

/// The explanation of one decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The policies covered, in load order.
    pub policies: Vec<PolicyTrace>,
    /// For a deny: what would change it, from the `@fix` annotations of the
    /// relevant policies, placeholders filled, in load order.
    pub fixes: Vec<String>,
}

/// How one policy fared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyTrace {
    /// The policy's id.
    pub id: String,
    /// Permit or forbid.
    pub effect: Effect,
    /// Where it stands.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// Its column.
    pub column: usize,
    /// Whether its scope matched the request.
    pub scope_matched: bool,
    /// `satisfied`, `not_satisfied`, `error` or `scope_mismatch`.
    pub outcome: &'static str,
    /// Whether it decided the request.
    pub determining: bool,
    /// Its `@reason`, placeholders filled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its `@fix`, placeholders filled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What would make it apply: the fixes of its unmet parts when each has
    /// one (from the rules they call), otherwise its own `@fix`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<String>,
    /// For a template-linked policy, its template and slot values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkTrace>,
    /// Its conditions, when the scope matched.
    pub conditions: Vec<ConditionTrace>,
    /// The policy's head, for rendering.
    #[serde(skip)]
    pub span: Span,
}

/// The template a linked policy was made of, and what fills its slots.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkTrace {
    /// The template's id.
    pub template: String,
    /// Each slot (`?principal`, `?resource`) and its entity, as `T::"id"`.
    pub values: std::collections::BTreeMap<String, String>,
}

impl LinkTrace {
    /// The trace of `link`.
    pub fn new(link: &crate::policy_set::Link) -> LinkTrace {
        LinkTrace {
            template: link.template.to_string(),
            values: link
                .values
                .iter()
                .map(|(s, u)| (s.name().to_string(), u.to_string()))
                .collect(),
        }
    }

    /// `template `t` with ?principal = User::"a"`, for text output.
    pub fn text(&self) -> String {
        let values: Vec<String> = self
            .values
            .iter()
            .map(|(s, u)| format!("{s} = {u}"))
            .collect();
        format!("template `{}` with {}", self.template, values.join(", "))
    }
}

/// One `when` or `unless` condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConditionTrace {
    /// `when` or `unless`.
    pub kind: ConditionKind,
    /// Its parts: conjuncts of a `when`, disjuncts of an `unless`.
    pub parts: Vec<PartTrace>,
}

/// One part of a condition, evaluated on its own.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartTrace {
    /// Its source text, on one line.
    pub text: String,
    /// Its line.
    pub line: usize,
    /// Its column.
    pub column: usize,
    /// Its value, when it evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<bool>,
    /// Its error, when it raised one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether it is as the policy needs (true in a `when`, false in an `unless`).
    pub met: bool,
    /// Whether it depends on the principal's data: a part that does not (it
    /// reads only the resource, or only tests the principal's type)
    /// describes the request, not a grant that is missing.
    pub about_principal: bool,
    /// The rule calls made while evaluating it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleTrace>,
    /// When the part is a call of a rule with a `@fix` annotation: that fix,
    /// with the rule's parameters filled by the call's arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Where it stands, for rendering.
    #[serde(skip)]
    pub span: Span,
}

/// One rule call and why it came out as it did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleTrace {
    /// The call with its argument values, e.g. `holds(RamUser::"u", "X")`.
    pub call: String,
    /// `true`, `false` or `error`.
    pub result: &'static str,
    /// The clause that held, as `file:line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// The calls inside the clause that held (or, when none held, inside
    /// every clause) that mattered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<RuleTrace>,
    /// For a call that did not hold: each clause's first part that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmet: Vec<ClauseUnmet>,
}

/// Why one clause of a rule call did not hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClauseUnmet {
    /// The clause's number in its rule, from 1.
    pub clause: usize,
    /// Where the clause stands, as `file:line`.
    pub at: String,
    /// Its first part that failed, as written.
    pub part: String,
    /// `does not hold`, or `error: …`.
    pub state: String,
}

/// A response with its explanation, as output shows them: the contract's
/// response fields in its order, then `explanation` when there is one. The
/// decision stage knows nothing of explanations; this wraps the two.
#[derive(Serialize)]
pub struct Explained<'a> {
    /// The decision.
    #[serde(flatten)]
    pub response: &'a Response,
    /// The explanation, when one was asked for. Typed, not a JSON value, so
    /// that its fields serialise in a fixed order whatever features
    /// serde_json is built with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<&'a Explanation>,
}

/// Explains `response` to `request`.
pub fn explain(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    response: &Response,
    limits: &Limits,
    include: Include,
) -> Explanation {
    let mut policies = Vec::new();
    // An explanation re-evaluates; it spends at most one request's step
    // budget more, so a request stopped by its budget is explained as
    // quickly (the parts past the budget show the limit's error).
    let mut left = limits.max_request_steps;
    let decided: std::collections::HashSet<&smol_str::SmolStr> =
        response.determining.iter().collect();
    for entry in &set.policies {
        let determining = decided.contains(&entry.id);
        let matched = scope_matches(&entry.policy, request, entities);
        let include_it = match include {
            Include::All => true,
            Include::Relevant => {
                determining
                    || (response.determining.is_empty()
                        && matched
                        && entry.policy.effect == Effect::Permit)
            }
        };
        if include_it {
            let on = On {
                set,
                entities,
                request,
                limits,
            };
            policies.push(trace_policy(&on, entry, matched, determining, &mut left));
        }
    }
    if include == Include::Relevant && response.determining.is_empty() {
        // Keep the permits whose unmet parts are all about the principal;
        // the others fail on what the request is, not on a missing grant.
        let grantable = |p: &PolicyTrace| {
            p.conditions
                .iter()
                .flat_map(|c| &c.parts)
                .all(|part| part.met || part.about_principal)
        };
        if policies.iter().any(grantable) {
            policies.retain(grantable);
        }
    }
    let mut fixes: Vec<String> = Vec::new();
    if response.decision == crate::authorize::Decision::Deny {
        for p in &policies {
            let counts =
                p.determining || (response.determining.is_empty() && p.effect == Effect::Permit);
            if counts {
                for fix in &p.fixes {
                    if !fixes.contains(fix) {
                        fixes.push(fix.clone());
                    }
                }
            }
        }
    }
    Explanation { policies, fixes }
}

/// What an explanation judges against: the set, the store, the request and
/// the limits.
#[derive(Clone, Copy)]
struct On<'a> {
    set: &'a PolicySet,
    entities: &'a Entities,
    request: &'a Request,
    limits: &'a Limits,
}

fn trace_policy(
    on: &On<'_>,
    entry: &PolicyEntry,
    matched: bool,
    determining: bool,
    left: &mut u64,
) -> PolicyTrace {
    let On {
        set,
        entities,
        request,
        limits,
    } = *on;
    let policy = &entry.policy;
    let (line, column) = set.sources.line_column(policy.head);
    let outcome = {
        let mut eval = Evaluator::new(set, entities, request, limits);
        eval.cap_steps(*left);
        let outcome = match evaluate_policy(policy, &mut eval) {
            PolicyOutcome::Satisfied => "satisfied",
            PolicyOutcome::NotSatisfied => "not_satisfied",
            PolicyOutcome::Error(_) => "error",
            PolicyOutcome::ScopeMismatch => "scope_mismatch",
        };
        *left = left.saturating_sub(eval.steps());
        outcome
    };
    let conditions = if matched {
        policy
            .conditions
            .iter()
            .map(|c| ConditionTrace {
                kind: c.kind,
                parts: parts_of(&c.body, c.kind)
                    .into_iter()
                    .map(|part| trace_part(on, part, c.kind, left))
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let annotation_text = |key: &str| {
        annotation(&policy.annotations, key)
            .and_then(|a| a.value.as_ref())
            .map(|v| fill_placeholders(v, request, entities))
    };
    // A fix only where the policy judged the request: one that erred is
    // told by its error (a fix written for the data it expected would
    // misname things), and a fix whose placeholders do not all resolve is
    // no fix to show.
    let fix = (outcome != "error")
        .then(|| {
            annotation(&policy.annotations, "fix")
                .and_then(|a| a.value.as_ref())
                .and_then(|v| fill_all(v, request, entities))
        })
        .flatten();
    let unmet: Vec<&PartTrace> = conditions
        .iter()
        .flat_map(|c: &ConditionTrace| &c.parts)
        .filter(|p| !p.met)
        .collect();
    let mut fixes: Vec<String> = Vec::new();
    if outcome == "error" {
        // The error says what is wrong; no fix text guesses around it.
    } else if !unmet.is_empty() && unmet.iter().all(|p| p.fix.is_some()) {
        for f in unmet.iter().filter_map(|p| p.fix.clone()) {
            if !fixes.contains(&f) {
                fixes.push(f);
            }
        }
    } else if let Some(f) = &fix {
        fixes.push(f.clone());
    }
    PolicyTrace {
        id: entry.id.to_string(),
        effect: policy.effect,
        file: set.sources.name(policy.head.file).to_string(),
        line,
        column,
        scope_matched: matched,
        outcome,
        determining,
        reason: annotation_text("reason"),
        fix,
        fixes,
        link: entry.link.as_deref().map(LinkTrace::new),
        conditions,
        span: policy.head,
    }
}

/// The parts of a condition: the conjuncts of a `when`, the disjuncts of an
/// `unless`.
pub fn parts_of(body: &Expr, kind: ConditionKind) -> Vec<&Expr> {
    match (&body.kind, kind) {
        (ExprKind::And(items), ConditionKind::When)
        | (ExprKind::Or(items), ConditionKind::Unless) => items.iter().collect(),
        _ => vec![body],
    }
}

fn trace_part(on: &On<'_>, part: &Expr, kind: ConditionKind, left: &mut u64) -> PartTrace {
    let On {
        set,
        entities,
        request,
        limits,
    } = *on;
    let mut eval = Evaluator::with_tracer(set, entities, request, limits, Recorder::default());
    eval.cap_steps(*left);
    let result = eval.eval_bool(part, "a condition");
    *left = left.saturating_sub(eval.steps());
    let (line, column) = set.sources.line_column(part.span);
    let (value, error) = match &result {
        Ok(b) => (Some(*b), None),
        Err(e) => (None, Some(e.kind.to_string())),
    };
    let met = value == Some(kind == ConditionKind::When);
    let fix = part_fix(set, entities, request, part, &eval.tracer.roots);
    PartTrace {
        text: one_line(set.sources.snippet(part.span)),
        line,
        column,
        value,
        error,
        met,
        about_principal: mentions_principal(set, part, &mut Vec::new())
            && !type_test(set, part, &mut Vec::new()),
        rules: eval
            .tracer
            .roots
            .iter()
            .map(|c| rule_trace(on, c))
            .collect(),
        fix,
        span: part.span,
    }
}

/// The fix of a part that is (the negation of) a call of a rule with `@fix`:
/// `{param}` placeholders take the call's argument values, the request's
/// placeholders work as in policy annotations.
fn part_fix(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    part: &Expr,
    calls: &[CallRecord],
) -> Option<String> {
    let call = match &part.kind {
        ExprKind::Not(inner) => inner,
        _ => part,
    };
    let ExprKind::Call {
        target: crate::syntax::ast::CallTarget::Rule(i),
        ..
    } = &call.kind
    else {
        return None;
    };
    let rule = set.rules.get(*i as usize)?;
    // The clause that carries `@fix` names the parameters its text uses.
    let (clause, template) = rule.clauses.iter().find_map(|c| {
        annotation(&c.annotations, "fix")
            .and_then(|a| a.value.clone())
            .map(|t| (c, t))
    })?;
    let record = calls.iter().find(|c| c.rule == *i)?;
    let mut text = template.to_string();
    for (name, value) in clause.params.iter().zip(&record.args) {
        text = text.replace(&format!("{{{name}}}"), &show(value));
    }
    fill_all(&text, request, entities)
}

/// Collapses runs of white space (and drops comments) so a part prints on one line.
fn one_line(text: &str) -> String {
    // The tokens, not a string split, tell a comment from a `//` inside a
    // string (`resource.url like "https://*"`).
    let mut without_comments = String::with_capacity(text.len());
    let mut from = 0;
    for t in crate::syntax::tokens::lex(text) {
        if t.token == Some(crate::syntax::tokens::Token::Comment) {
            without_comments.push_str(&text[from..t.range.start]);
            without_comments.push(' ');
            from = t.range.end;
        }
    }
    without_comments.push_str(&text[from..]);
    without_comments
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `expr` refers to `principal`, directly or through the rules it calls.
fn mentions_principal(set: &PolicySet, expr: &Expr, seen: &mut Vec<u32>) -> bool {
    let mut found = false;
    visit(expr, &mut |e| match &e.kind {
        ExprKind::Var(Var::Principal) => found = true,
        ExprKind::Call {
            target: crate::syntax::ast::CallTarget::Rule(i),
            ..
        } if !seen.contains(i) => {
            seen.push(*i);
            if let Some(rule) = set.rules.get(*i as usize) {
                if rule
                    .clauses
                    .iter()
                    .any(|c| mentions_principal(set, &c.body, seen))
                {
                    found = true;
                }
            }
        }
        _ => {}
    });
    found
}

/// Whether `expr` only tests the types of variables (`principal is RamUser`,
/// and `&&`, `||`, `!` of such tests, and rules made only of them): no
/// administrator can grant a principal another type.
fn type_test(set: &PolicySet, expr: &Expr, seen: &mut Vec<u32>) -> bool {
    match &expr.kind {
        ExprKind::Is(inner, _, None) => {
            matches!(inner.kind, ExprKind::Var(_) | ExprKind::Local(..))
        }
        ExprKind::Not(a) => type_test(set, a, seen),
        ExprKind::And(items) | ExprKind::Or(items) => items.iter().all(|i| type_test(set, i, seen)),
        ExprKind::Call {
            target: crate::syntax::ast::CallTarget::Rule(i),
            args,
            ..
        } => {
            if seen.contains(i) {
                return false;
            }
            seen.push(*i);
            let plain_args = args
                .iter()
                .all(|a| matches!(a.kind, ExprKind::Var(_) | ExprKind::Local(..)));
            plain_args
                && set
                    .rules
                    .get(*i as usize)
                    .is_some_and(|r| r.clauses.iter().all(|c| type_test(set, &c.body, seen)))
        }
        _ => false,
    }
}

fn rule_trace(on: &On<'_>, call: &CallRecord) -> RuleTrace {
    let set = on.set;
    let rule = &set.rules[call.rule as usize];
    let args: Vec<String> = call.args.iter().map(|a| a.to_string()).collect();
    let held = call.clauses.iter().find(|c| c.result == Ok(true));
    let held_by = held.map(|c| {
        let span = rule.clauses[c.index].head;
        let (line, _) = set.sources.line_column(span);
        format!("{}:{line}", set.sources.name(span.file))
    });
    // Why it held: the calls in the clause that held which held too. Why it
    // did not: nothing to add beyond the call itself.
    let because = match held {
        Some(c) => c
            .calls
            .iter()
            .filter(|sub| sub.result == Ok(true))
            .map(|sub| rule_trace(on, sub))
            .collect(),
        None => Vec::new(),
    };
    // Why it did not: each clause's first part that failed.
    let unmet = if call.result == Ok(false) {
        rule.clauses
            .iter()
            .enumerate()
            .filter_map(|(i, clause)| clause_unmet(on, clause, i, &call.args))
            .collect()
    } else {
        Vec::new()
    };
    RuleTrace {
        call: format!("{}({})", rule.name, args.join(", ")),
        result: match call.result {
            Ok(true) => "true",
            Ok(false) => "false",
            Err(_) => "error",
        },
        held_by,
        because,
        unmet,
    }
}

/// The first conjunct of `clause` that does not hold with `args`, evaluated
/// again on its own (an explanation re-evaluates; the decision never).
fn clause_unmet(
    on: &On<'_>,
    clause: &crate::syntax::ast::RuleClause,
    index: usize,
    args: &[Value],
) -> Option<ClauseUnmet> {
    let (line, _) = on.set.sources.line_column(clause.head);
    for part in parts_of(&clause.body, ConditionKind::When) {
        let mut eval = Evaluator::new(on.set, on.entities, on.request, on.limits);
        eval.bind_locals(args.to_vec());
        let state = match eval.eval_bool(part, "a rule clause") {
            Ok(true) => continue,
            Ok(false) => "does not hold".to_string(),
            Err(e) => format!("error: {}", e.kind),
        };
        return Some(ClauseUnmet {
            clause: index + 1,
            at: format!("{}:{line}", on.set.sources.name(clause.head.file)),
            part: one_line(on.set.sources.snippet(part.span)),
            state,
        });
    }
    None
}

/// Fills `{principal}`, `{action}`, `{resource}`, `{context.a.b}` and
/// `{principal.attr}` (any path of attributes from a request variable);
/// `{a|b|c}` takes the first path that resolves.
/// Entities print as their id. Nothing here knows a policy set's domain:
/// each policy's `@fix` names the path it means.
pub fn fill_placeholders(template: &str, request: &Request, entities: &Entities) -> String {
    fill_with(template, &request_roots(request), entities)
}

/// [`fill_placeholders`], or `None` when a placeholder does not resolve:
/// for a fix, which is wrong rather than helpful with `{…}` left in it.
pub fn fill_all(template: &str, request: &Request, entities: &Entities) -> Option<String> {
    fill(template, &request_roots(request), entities, true)
}

/// The values of a request's variables, for placeholders.
fn request_roots(request: &Request) -> impl Fn(&str) -> Option<Value> + '_ {
    move |root: &str| -> Option<Value> {
        Some(match root {
            "principal" => Value::Entity(request.principal.clone()),
            "action" => Value::Entity(request.action.clone()),
            "resource" => Value::Entity(request.resource.clone()),
            "context" => request.context.clone(),
            _ => return None,
        })
    }
}

/// [`fill_placeholders`] with the values `roots` gives for a path's first
/// name (the audit's findings fill `{entity}`, `{grant.value}`).
pub fn fill_with(
    template: &str,
    roots: &dyn Fn(&str) -> Option<Value>,
    entities: &Entities,
) -> String {
    fill(template, roots, entities, false).unwrap_or_default()
}

/// Fills the placeholders of `template`; one that does not resolve is left
/// as written, or, when `strict`, makes the whole `None`.
fn fill(
    template: &str,
    roots: &dyn Fn(&str) -> Option<Value>,
    entities: &Entities,
    strict: bool,
) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let key = &rest[open + 1..open + close];
        // `{a|b}`: the first path that resolves.
        match key
            .split('|')
            .find_map(|k| resolve(k.trim(), roots, entities))
        {
            Some(v) => out.push_str(&show(&v)),
            None if strict => return None,
            None => out.push_str(&rest[open..open + close + 1]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The value of one placeholder path (`resource.workspace`), or of a typed
/// one (`resource is Account`: only an entity of that type resolves).
fn resolve(key: &str, roots: &dyn Fn(&str) -> Option<Value>, entities: &Entities) -> Option<Value> {
    if let Some((path, type_name)) = key.split_once(" is ") {
        return resolve(path.trim(), roots, entities).filter(
            |v| matches!(v, Value::Entity(uid) if uid.ty.to_string().as_str() == type_name.trim()),
        );
    }
    let attr = |v: &Value, name: &str| -> Option<Value> {
        match v {
            Value::Entity(uid) => entities.get(uid)?.attrs.get(name).cloned(),
            Value::Record(r) => r.get(name).cloned(),
            _ => None,
        }
    };
    let mut segments = key.split('.');
    let mut current = roots(segments.next()?)?;
    for s in segments {
        current = attr(&current, s)?;
    }
    Some(current)
}

fn show(v: &Value) -> String {
    match v {
        Value::Entity(uid) => uid.id.to_string(),
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}
