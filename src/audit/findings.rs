//! Least-privilege findings, in two layers.
//!
//! - Generic, for any policy set, judged over the whole domain: a policy
//!   that applies to no request (`unreachable-policy`), a permit whose every
//!   allow a forbid overrides (`overridden-permit`), a rule clause that is
//!   called but never holds (`dead-rule-clause`).
//! - Written in the policy language beside the policies: a rule whose
//!   clause carries `@finding("id")` is a finding. Its parameters say what
//!   it is given: `entity` (every entity of the store), `grant` (each grant
//!   of the entity, see [`super::grants`]) and `grants` (the set of all of
//!   them). Where it holds, the finding is reported with its `@severity`
//!   (IAM Access Analyzer's: `error`, `security_warning`, `warning`,
//!   `suggestion`), `@message`, `@reason` (the source's sentence) and
//!   `@fix`, whose `{entity…}`, `{grant…}` placeholders are filled, and,
//!   with `@suggest("rule")`, a did-you-mean for the grant's value among the
//!   string literals of that rule. A finding rule that raises an error is
//!   reported as a `finding-error`, never taken as false.

use super::grants::{all_grants, Grant};
use super::Auditor;
use crate::diag::Diagnostic;
use crate::entities::json::Request;
use crate::eval::{Evaluator, NoTrace};
use crate::explain::fill_with;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{annotation, EntityUid, Expr, ExprKind, Literal};
use crate::syntax::Span;
use crate::value::Value;
use serde::Serialize;
use smol_str::SmolStr;

/// How serious a finding is: IAM Access Analyzer's levels, the most serious
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something is broken.
    Error,
    /// Access wider than anyone should hold.
    SecurityWarning,
    /// Access that is dead, misplaced or crosses a boundary.
    Warning,
    /// Tidying.
    Suggestion,
}

impl Severity {
    /// The severity named `name` (`error`, `security_warning`, …).
    pub fn parse(name: &str) -> Option<Severity> {
        Some(match name {
            "error" => Severity::Error,
            "security_warning" => Severity::SecurityWarning,
            "warning" => Severity::Warning,
            "suggestion" => Severity::Suggestion,
            _ => return None,
        })
    }

    /// Its name in output.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::SecurityWarning => "security_warning",
            Severity::Warning => "warning",
            Severity::Suggestion => "suggestion",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// Its id (`administrator-access`, `unreachable-policy`, …).
    pub finding: SmolStr,
    /// The entity it is about, if it is about one.
    pub entity: Option<EntityUid>,
    /// The grant it is about; `None` when it is about the entity as a whole.
    pub grant: Option<Grant>,
    /// What was found.
    pub message: String,
    /// Why it matters (the source's sentence).
    pub reason: String,
    /// What to do.
    pub fix: String,
    /// Where the policy or rule clause it is about stands (`file:line:column`).
    pub location: Option<String>,
}

/// A finding in JSON, its keys in this order.
#[derive(Serialize)]
struct FindingJson<'a> {
    severity: &'static str,
    finding: &'a str,
    entity: Option<String>,
    grant: Option<super::grants::GrantJson>,
    message: &'a str,
    reason: &'a str,
    fix: &'a str,
    location: Option<&'a str>,
}

impl Finding {
    /// The finding as a JSON object: `severity`, `finding`, `entity`,
    /// `grant`, `message`, `reason`, `fix`, `location`.
    pub fn to_json(&self) -> String {
        let out = FindingJson {
            severity: self.severity.name(),
            finding: &self.finding,
            entity: self.entity.as_ref().map(|e| e.to_string()),
            grant: self.grant.as_ref().map(Grant::to_json),
            message: &self.message,
            reason: &self.reason,
            fix: &self.fix,
            location: self.location.as_deref(),
        };
        serde_json::to_string(&out).unwrap_or_default()
    }
}

/// What a finding rule's parameters are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Param {
    Entity,
    Grant,
    Grants,
}

/// A rule with `@finding`, read once.
struct FindingRule {
    rule: u32,
    name: SmolStr,
    id: SmolStr,
    severity: Severity,
    params: Vec<Param>,
    message: String,
    reason: String,
    fix: String,
    /// The string literals of the `@suggest` rule.
    suggest: Vec<String>,
}

/// The finding rules of `set`, or what is wrong with their annotations.
fn finding_rules(set: &PolicySet) -> Result<Vec<FindingRule>, Vec<Diagnostic>> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (i, rule) in set.rules.iter().enumerate() {
        for clause in &rule.clauses {
            let Some(finding) = annotation(&clause.annotations, "finding") else {
                continue;
            };
            let text = |key: &str| {
                annotation(&clause.annotations, key)
                    .and_then(|a| a.value.as_ref())
                    .map(|v| v.to_string())
            };
            let Some(id) = finding.value.clone().filter(|v| !v.is_empty()) else {
                problems.push(Diagnostic::error(
                    "`@finding` needs an id: `@finding(\"my-finding\")`",
                    finding.span,
                    "no id",
                ));
                continue;
            };
            let severity_text = text("severity").unwrap_or_default();
            let Some(severity) = Severity::parse(&severity_text) else {
                let span =
                    annotation(&clause.annotations, "severity").map_or(finding.span, |a| a.span);
                problems.push(
                    Diagnostic::error(
                        format!("finding `{id}` needs `@severity` of error, security_warning, warning or suggestion, found `{severity_text}`"),
                        span,
                        "not a severity",
                    ),
                );
                continue;
            };
            let mut params = Vec::new();
            for p in &clause.params {
                params.push(match p.as_str() {
                    "entity" => Param::Entity,
                    "grant" => Param::Grant,
                    "grants" => Param::Grants,
                    other => {
                        problems.push(
                            Diagnostic::error(
                                format!("finding rule `{}` has a parameter `{other}`: a finding rule takes `entity`, `grant` and `grants`", rule.name),
                                clause.head,
                                "unknown parameter",
                            ),
                        );
                        Param::Entity
                    }
                });
            }
            let suggest = match text("suggest") {
                Some(name) => match set.rules.iter().find(|r| r.name == name) {
                    Some(r) => string_literals(r.clauses.iter().map(|c| &c.body)),
                    None => {
                        problems.push(Diagnostic::error(
                            format!("`@suggest(\"{name}\")` names no rule"),
                            annotation(&clause.annotations, "suggest")
                                .map_or(finding.span, |a| a.span),
                            "no such rule",
                        ));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            rules.push(FindingRule {
                rule: crate::policy_set::number(i),
                name: rule.name.clone(),
                id,
                severity,
                params,
                message: text("message").unwrap_or_else(|| {
                    format!("finding `{}` holds", finding.value.as_deref().unwrap_or(""))
                }),
                reason: text("reason").unwrap_or_default(),
                fix: text("fix").unwrap_or_default(),
                suggest,
            });
            break;
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems)
    }
}

/// Every string literal in `bodies`, in order, each once.
fn string_literals<'e>(bodies: impl Iterator<Item = &'e Expr>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for body in bodies {
        crate::syntax::ast::visit(body, &mut |e| {
            if let ExprKind::Lit(Literal::String(s)) = &e.kind {
                if !out.iter().any(|o| o == s.as_str()) {
                    out.push(s.to_string());
                }
            }
        });
    }
    out
}

/// The ids of the generic findings.
pub const GENERIC: [&str; 3] = [
    "unreachable-policy",
    "overridden-permit",
    "dead-rule-clause",
];

/// Every finding of the audit (only those whose id is in `only`, when it
/// is not empty): the policy language's findings over every entity and
/// grant, then, with `policy_set`, the generic ones about the policy set
/// over the whole domain (suggestions: a platform's rule that nobody in
/// this store uses yet is no fault of the store); sorted by severity, id,
/// entity and grant.
pub fn findings(
    auditor: &Auditor,
    threads: usize,
    only: &[String],
    policy_set: bool,
) -> Result<Vec<Finding>, Vec<Diagnostic>> {
    let mut rules = finding_rules(auditor.set)?;
    let known: Vec<&str> = rules.iter().map(|r| r.id.as_str()).chain(GENERIC).collect();
    let unknown: Vec<Diagnostic> = only
        .iter()
        .filter(|id| !known.contains(&id.as_str()))
        .map(|id| {
            let help = crate::suggest::closest(id, known.iter().copied())
                .map(|s| format!("did you mean `{s}`?"));
            Diagnostic::plain(format!("--finding `{id}` is no finding of this policy set"))
                .with_help(help)
        })
        .chain(
            only.iter()
                .filter(|id| !policy_set && GENERIC.contains(&id.as_str()))
                .map(|id| {
                    Diagnostic::plain(format!(
                        "--finding `{id}` is a finding about the policy set"
                    ))
                    .with_help(Some("add --policy-set".into()))
                }),
        )
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    let wanted = |id: &str| only.is_empty() || only.iter().any(|o| o == id);
    rules.retain(|r| wanted(&r.id));
    let mut out = written_findings(auditor, &rules);
    if policy_set && GENERIC.iter().any(|id| wanted(id)) {
        out.extend(
            generic_findings(auditor, threads)
                .into_iter()
                .filter(|f| wanted(&f.finding)),
        );
    }
    out.sort_by(|a, b| {
        (
            a.severity,
            &a.finding,
            &a.entity,
            &a.grant,
            &a.location,
            &a.message,
        )
            .cmp(&(
                b.severity,
                &b.finding,
                &b.entity,
                &b.grant,
                &b.location,
                &b.message,
            ))
    });
    Ok(out)
}

/// The findings written in the policy language.
fn written_findings(auditor: &Auditor, rules: &[FindingRule]) -> Vec<Finding> {
    if rules.is_empty() {
        return Vec::new();
    }
    let (set, entities) = (auditor.set, auditor.entities);
    let grants = all_grants(entities);
    let mut out = Vec::new();
    for (uid, own) in &grants {
        if crate::schema::is_action_type(&uid.ty) || entities.get(uid).is_none() {
            continue;
        }
        let request = Request {
            principal: uid.clone(),
            action: EntityUid::new("Action", "mspl:audit"),
            resource: uid.clone(),
            context: Value::empty_record(),
        };
        let all = Value::set(own.iter().map(Grant::to_value));
        for rule in rules {
            let per_grant = rule.params.contains(&Param::Grant);
            let subjects: Vec<Option<&Grant>> = if per_grant {
                own.iter().map(Some).collect()
            } else {
                vec![None]
            };
            for grant in subjects {
                let args: Vec<Value> = rule
                    .params
                    .iter()
                    .map(|p| match p {
                        Param::Entity => Value::Entity(uid.clone()),
                        Param::Grant => grant.map(Grant::to_value).unwrap_or(Value::Bool(false)),
                        Param::Grants => all.clone(),
                    })
                    .collect();
                let mut eval = Evaluator::with_tracer(
                    set,
                    entities,
                    &request,
                    &auditor.options.limits,
                    NoTrace,
                );
                let call = crate::eval::rule_call(&rule.name, rule.rule, args.len());
                eval.bind_locals(args.clone());
                let roots = |root: &str| -> Option<Value> {
                    match root {
                        "entity" => Some(Value::Entity(uid.clone())),
                        "grant" => grant.map(Grant::to_value),
                        "grants" => Some(all.clone()),
                        _ => None,
                    }
                };
                match eval.eval(&call) {
                    Ok(Value::Bool(true)) => {
                        let mut message = fill_with(&rule.message, &roots, entities);
                        if let Some(hint) = suggestion(rule, grant) {
                            message.push_str(&hint);
                        }
                        out.push(Finding {
                            severity: rule.severity,
                            finding: rule.id.clone(),
                            entity: Some(uid.clone()),
                            grant: grant.cloned(),
                            message,
                            reason: rule.reason.clone(),
                            fix: fill_with(&rule.fix, &roots, entities),
                            location: None,
                        })
                    }
                    Ok(Value::Bool(false)) => {}
                    Ok(other) => out.push(finding_error(
                        rule,
                        uid,
                        grant,
                        format!("it gave {} where a boolean was expected", other.type_name()),
                    )),
                    Err(e) => out.push(finding_error(rule, uid, grant, e.kind.to_string())),
                }
            }
        }
    }
    out
}

/// The did-you-mean for a grant's string value among `@suggest`'s names.
fn suggestion(rule: &FindingRule, grant: Option<&Grant>) -> Option<String> {
    let Some(Grant::Element {
        value: Value::String(s),
        ..
    }) = grant
    else {
        return None;
    };
    crate::suggest::closest(s, rule.suggest.iter().map(String::as_str))
        .map(|best| format!("; did you mean `{best}`?"))
}

fn finding_error(
    rule: &FindingRule,
    uid: &EntityUid,
    grant: Option<&Grant>,
    what: String,
) -> Finding {
    Finding {
        severity: Severity::Error,
        finding: "finding-error".into(),
        entity: Some(uid.clone()),
        grant: grant.cloned(),
        message: format!("finding rule `{}` ({}) raised an error on {uid}: {what}", rule.name, rule.id),
        reason: "A finding that cannot be judged is not taken as absent".into(),
        fix: format!("Guard the rule `{}` (with `has`, `is`) so that it holds or fails on every entity and grant", rule.name),
        location: None,
    }
}

/// The findings any policy set has, from one pass over the whole domain.
fn generic_findings(auditor: &Auditor, threads: usize) -> Vec<Finding> {
    let coverage = auditor.coverage(threads);
    let set = auditor.set;
    let mut out = Vec::new();
    let locate = |span: Span| {
        let (line, column) = set.sources.line_column(span);
        format!("{}:{line}:{column}", set.sources.name(span.file))
    };
    for (i, entry) in set.policies.iter().enumerate() {
        let stats = &coverage.stats[i];
        let effect = match entry.policy.effect {
            crate::syntax::ast::Effect::Permit => "permit",
            crate::syntax::ast::Effect::Forbid => "forbid",
        };
        if !stats.reached {
            out.push(Finding {
                severity: Severity::Suggestion,
                finding: "unreachable-policy".into(),
                entity: None,
                grant: None,
                message: format!("{effect} `{}` applies to no request of the store", entry.id),
                reason: "A policy that applies to no request grants or denies nothing: it is dead, or its scope or conditions are wrong".into(),
                fix: format!("Remove `{}`, or correct its scope and conditions", entry.id),
                location: Some(locate(entry.policy.span)),
            });
        } else if effect == "permit" && stats.allowed == 0 {
            out.push(Finding {
                severity: Severity::Suggestion,
                finding: "overridden-permit".into(),
                entity: None,
                grant: None,
                message: format!(
                    "permit `{}` applies to {} requests, and a forbid denies every one of them",
                    entry.id, stats.satisfied
                ),
                reason: "A permit whose every allow is overridden grants nothing".into(),
                fix: format!(
                    "Remove `{}`, or narrow the forbids that override it",
                    entry.id
                ),
                location: Some(locate(entry.policy.span)),
            });
        }
    }
    for (r, rule) in set.rules.iter().enumerate() {
        if !coverage.entered[r] {
            continue;
        }
        for (c, clause) in rule.clauses.iter().enumerate() {
            if !coverage.held[r][c] {
                out.push(Finding {
                    severity: Severity::Suggestion,
                    finding: "dead-rule-clause".into(),
                    entity: None,
                    grant: None,
                    message: format!(
                        "clause {} of rule `{}` never holds on any request of the store",
                        c + 1,
                        rule.name
                    ),
                    reason: "A clause that never holds adds nothing to its rule".into(),
                    fix: format!("Remove the clause, or correct it (rule `{}`)", rule.name),
                    location: Some(locate(clause.span)),
                });
            }
        }
    }
    out
}
