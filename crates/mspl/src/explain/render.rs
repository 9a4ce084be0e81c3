//! The text form of a response: `ALLOW` or `DENY` on its own line, the
//! determining policies, why, what would fix a deny, and the errors rendered
//! by codespan against the policy source.

use super::{Explanation, PartTrace, PolicyTrace, RuleTrace};
use crate::authorize::{Decision, DenyKind, Response};
use crate::diag::{printable, Diagnostic};
use crate::policy_set::PolicySet;
use std::fmt::Write;

/// Renders `response` (with its explanation, when there is one) as text.
pub fn response(
    set: &PolicySet,
    response: &Response,
    explanation: Option<&Explanation>,
    color: bool,
) -> String {
    render_response(set, response, explanation, Some(color))
}

/// [`response`] without a position: policies named by id, condition parts
/// by their text, errors by their message, so that the text stays the same
/// when a comment, `mspl fmt` or another working directory moves the
/// policies (`mspl test`'s snapshots).
pub fn response_by_id(
    set: &PolicySet,
    response: &Response,
    explanation: Option<&Explanation>,
) -> String {
    render_response(set, response, explanation, None)
}

/// `color`: `None` for the text without positions.
fn render_response(
    set: &PolicySet,
    response: &Response,
    explanation: Option<&Explanation>,
    color: Option<bool>,
) -> String {
    let positions = color.is_some();
    let at = |id: &str| {
        if positions {
            format!(" ({})", at(set, id))
        } else {
            link_of(set, id)
        }
    };
    let mut out = String::new();
    let traced: std::collections::HashMap<&str, &PolicyTrace> = explanation
        .map(|e| e.policies.iter().map(|p| (p.id.as_str(), p)).collect())
        .unwrap_or_default();
    let find = |id: &str| traced.get(id).copied();
    match (response.decision, response.kind) {
        (Decision::Allow, _) => {
            out.push_str("ALLOW\n");
            for id in &response.determining {
                let _ = writeln!(out, "  permitted by `{}`{}", printable(id), at(id));
                if let Some(p) = find(id) {
                    for part in p.conditions.iter().flat_map(|c| &c.parts) {
                        for rule in part.rules.iter().filter(|r| r.result == "true") {
                            because(&mut out, rule, 2, positions);
                        }
                    }
                }
            }
        }
        (Decision::Deny, Some(DenyKind::Forbidden)) => {
            out.push_str("DENY\n");
            for id in &response.determining {
                let _ = writeln!(out, "  forbidden by `{}`{}", printable(id), at(id));
                if let Some(p) = find(id) {
                    annotations(&mut out, p);
                }
            }
        }
        (Decision::Deny, _) => {
            out.push_str("DENY\n  no permit applies to this request\n");
            if let Some(e) = explanation {
                for p in &e.policies {
                    let link = match &p.link {
                        Some(l) => format!(", {}", printable(&l.text())),
                        None => String::new(),
                    };
                    let place = if positions {
                        format!(" ({}:{}:{}{link})", printable(&p.file), p.line, p.column)
                    } else {
                        link.strip_prefix(", ")
                            .map(|l| format!(" ({l})"))
                            .unwrap_or_default()
                    };
                    let _ = writeln!(out, "  `{}`{place} would permit it, but:", printable(&p.id),);
                    for part in p
                        .conditions
                        .iter()
                        .flat_map(|c| &c.parts)
                        .filter(|part| !part.met)
                    {
                        unmet(&mut out, part, positions);
                    }
                    annotations(&mut out, p);
                }
                if e.policies.is_empty() {
                    out.push_str(
                        "  no permit's scope matches this principal, action and resource\n",
                    );
                }
            }
        }
    }
    if !response.errors.is_empty() && !positions {
        for e in &response.errors {
            let _ = writeln!(
                out,
                "error: policy `{}` raised an error: {}",
                printable(&e.policy),
                printable(&e.message)
            );
            if let Some(help) = e.error.kind.help() {
                let _ = writeln!(out, "  help: {}", printable(&help));
            }
        }
    } else if !response.errors.is_empty() {
        let diagnostics: Vec<Diagnostic> = response
            .errors
            .iter()
            .map(|e| {
                Diagnostic::error(
                    format!("policy `{}` raised an error: {}", e.policy, e.message),
                    e.error.span,
                    "raised here",
                )
                .with_help(e.error.kind.help())
            })
            .collect();
        out.push_str(&set.sources.render(&diagnostics, color == Some(true)));
    }
    // One block per request; the caller separates blocks by one blank line.
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

/// Renders the full trace of `mspl explain`: the decision, then every policy,
/// with the value of each condition part labelled on the policy source.
pub fn trace(
    set: &PolicySet,
    response: &Response,
    explanation: &Explanation,
    color: bool,
) -> String {
    let mut out = String::new();
    let _ = match (response.decision, response.kind) {
        (Decision::Allow, _) => writeln!(out, "ALLOW"),
        (Decision::Deny, Some(DenyKind::Forbidden)) => writeln!(out, "DENY (forbidden)"),
        (Decision::Deny, _) => writeln!(out, "DENY (not permitted)"),
    };
    let mut unmatched = Vec::new();
    let mut diagnostics = Vec::new();
    for p in &explanation.policies {
        if !p.scope_matched {
            unmatched.push(printable(&p.id));
            continue;
        }
        let effect = match p.effect {
            crate::syntax::ast::Effect::Permit => "permit",
            crate::syntax::ast::Effect::Forbid => "forbid",
        };
        let outcome = match p.outcome {
            "satisfied" if p.determining => "applies and decides",
            "satisfied" => "applies",
            "error" => "raised an error",
            _ => "does not apply",
        };
        let mut d = Diagnostic::note(
            format!("{effect} `{}` {outcome}", p.id),
            p.span,
            "scope matches",
        );
        let mut notes = Vec::new();
        if let Some(link) = &p.link {
            notes.push(format!("linked: {}", printable(&link.text())));
        }
        for part in p.conditions.iter().flat_map(|c| &c.parts) {
            let label = match (&part.error, part.value) {
                (Some(e), _) => format!("error: {e}"),
                (None, Some(v)) => v.to_string(),
                (None, None) => "not evaluated".into(),
            };
            d = d.with_secondary(part.span, label);
            for rule in &part.rules {
                rule_notes(&mut notes, rule, 0);
            }
        }
        if let Some(r) = &p.reason {
            notes.push(format!("reason: {r}"));
        }
        // A fix matters for a permit that does not apply, or a forbid that does.
        let blocks = (p.effect == crate::syntax::ast::Effect::Permit) != (p.outcome == "satisfied");
        if blocks {
            for f in &p.fixes {
                notes.push(format!("fix: {f}"));
            }
        }
        diagnostics.push(d.with_notes(notes));
    }
    out.push_str(&set.sources.render(&diagnostics, color));
    if !unmatched.is_empty() {
        let _ = writeln!(
            out,
            "scope does not match: {}",
            unmatched
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

fn rule_notes(notes: &mut Vec<String>, rule: &RuleTrace, depth: usize) {
    let by = rule
        .held_by
        .as_ref()
        .map(|h| format!(" (clause at {h})"))
        .unwrap_or_default();
    notes.push(format!(
        "{}{} = {}{by}",
        "  ".repeat(depth),
        rule.call,
        rule.result
    ));
    for sub in &rule.because {
        rule_notes(notes, sub, depth + 1);
    }
    for u in &rule.unmet {
        notes.push(format!(
            "{}  clause {} ({}): `{}` {}",
            "  ".repeat(depth),
            u.clause,
            u.at,
            u.part,
            u.state
        ));
    }
}

fn at(set: &PolicySet, id: &str) -> String {
    match set.policy(id) {
        Some(p) => {
            let span = p.policy.head;
            let (line, column) = set.sources.line_column(span);
            let link = match &p.link {
                Some(l) => format!(", {}", printable(&super::LinkTrace::new(l).text())),
                None => String::new(),
            };
            format!("{}:{line}:{column}{link}", set.sources.name(span.file))
        }
        None => String::new(),
    }
}

/// `(linked: …)` for a link, else nothing: what names a policy beside its
/// id without a position.
fn link_of(set: &PolicySet, id: &str) -> String {
    match set.policy(id).and_then(|p| p.link.as_ref()) {
        Some(l) => format!(" ({})", printable(&super::LinkTrace::new(l).text())),
        None => String::new(),
    }
}

fn annotations(out: &mut String, p: &PolicyTrace) {
    if let Some(r) = &p.reason {
        let _ = writeln!(out, "    reason: {}", printable(r));
    }
    let fixes = if p.fixes.is_empty() {
        p.fix.iter().cloned().collect()
    } else {
        p.fixes.clone()
    };
    for f in fixes {
        let _ = writeln!(out, "    fix: {}", printable(&f));
    }
}

fn unmet(out: &mut String, part: &PartTrace, positions: bool) {
    let state = match (&part.error, part.value) {
        (Some(e), _) => format!("error: {e}"),
        (None, Some(true)) => "holds, and must not".into(),
        _ => "does not hold".into(),
    };
    let place = if positions {
        format!(" (line {}:{})", part.line, part.column)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "    - `{}` {}{place}",
        printable(&part.text),
        printable(&state),
    );
    for rule in &part.rules {
        let _ = writeln!(out, "        {} is {}", printable(&rule.call), rule.result);
    }
}

fn because(out: &mut String, rule: &RuleTrace, depth: usize, positions: bool) {
    let indent = "  ".repeat(depth);
    match &rule.held_by {
        Some(at) if positions => {
            let _ = writeln!(
                out,
                "{indent}because {} holds ({at})",
                printable(&rule.call)
            );
        }
        _ => {
            let _ = writeln!(out, "{indent}because {} holds", printable(&rule.call));
        }
    }
    for sub in &rule.because {
        because(out, sub, depth + 1, positions);
    }
}
