//! A diff's flips as JSON lines and as text for people.

use super::{Diff, Flip};
use crate::authorize::{Decision, DenyKind, Response};
use crate::diag::printable;
use crate::explain::{explain, render, Include};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many flips of one group the text explains; the rest are listed.
pub const EXPLAINED_PER_GROUP: usize = 10;

/// One version's side of a flip, its keys in this order.
#[derive(serde::Serialize)]
struct SideJson<'a> {
    decision: Decision,
    kind: Option<DenyKind>,
    determining: &'a [smol_str::SmolStr],
}

/// One flip in JSON, its keys in this order whatever serde_json's map.
#[derive(serde::Serialize)]
struct FlipJson<'a> {
    principal: String,
    action: String,
    resource: String,
    context: Json,
    old: SideJson<'a>,
    new: SideJson<'a>,
    blame: Vec<&'a str>,
}

fn side(r: &Response) -> SideJson<'_> {
    SideJson {
        decision: r.decision,
        kind: r.kind,
        determining: &r.determining,
    }
}

/// One flip as a JSON object: `principal`, `action`, `resource` as
/// `Type::"id"`, `context`, then `old` and `new` (`decision`, `kind`,
/// `determining`) and `blame` (ids).
pub fn flip_json(flip: &Flip) -> String {
    let r = &flip.request;
    let out = FlipJson {
        principal: r.principal.to_string(),
        action: r.action.to_string(),
        resource: r.resource.to_string(),
        context: r.context.to_json(),
        old: side(&flip.old),
        new: side(&flip.new),
        blame: flip.blame.iter().map(|b| b.id.as_str()).collect(),
    };
    serde_json::to_string(&out).unwrap_or_default()
}

/// A decision in a few words: `allowed by p, q`, `denied: forbidden by f`.
pub fn verdict(r: &Response) -> String {
    let ids = || {
        r.determining
            .iter()
            .map(|d| printable(d).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (r.decision, r.kind) {
        (Decision::Allow, _) => format!("allowed by {}", ids()),
        (Decision::Deny, Some(DenyKind::Forbidden)) => format!("denied: forbidden by {}", ids()),
        (Decision::Deny, _) => "denied: no permit applies".to_string(),
    }
}

/// The flips for people: newly allowed, then newly denied, each grouped by
/// who is responsible, with the explanation of the new decision (of the
/// first [`EXPLAINED_PER_GROUP`] of a group); then a summary per action
/// and principal type.
pub fn text(diff: &Diff, flips: &[Flip]) -> String {
    if flips.is_empty() {
        return "no request changes its decision\n".to_string();
    }
    let mut out = String::new();
    for (allowed, heading) in [(true, "newly allowed"), (false, "newly denied")] {
        let mut groups: BTreeMap<String, Vec<&Flip>> = BTreeMap::new();
        for f in flips.iter().filter(|f| f.newly_allowed() == allowed) {
            let who = if f.blame.is_empty() {
                "nothing that changed decides it".to_string()
            } else {
                f.blame
                    .iter()
                    .map(|b| format!("{} ({})", printable(&b.id), b.what))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            groups.entry(who).or_default().push(f);
        }
        let count: usize = groups.values().map(Vec::len).sum();
        if count == 0 {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "{heading}: {count}");
        for (who, group) in groups {
            let _ = writeln!(out, "  because of {who}:");
            for (k, f) in group.iter().enumerate() {
                let r = &f.request;
                let context = if f.context_json == "{}" {
                    String::new()
                } else {
                    format!(" with context {}", printable(&f.context_json))
                };
                let _ = writeln!(
                    out,
                    "    {} {} {}{context}: now {}; was {}",
                    printable(&r.principal.to_string()),
                    printable(&r.action.to_string()),
                    printable(&r.resource.to_string()),
                    verdict(&f.new),
                    verdict(&f.old)
                );
                if k < EXPLAINED_PER_GROUP {
                    let e = explain(
                        diff.new_set,
                        &diff.new_entities,
                        r,
                        &f.new,
                        &diff.options.limits,
                        Include::Relevant,
                    );
                    for line in render::response(diff.new_set, &f.new, Some(&e), false).lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                } else if k == EXPLAINED_PER_GROUP {
                    let _ = writeln!(
                        out,
                        "      (the first {EXPLAINED_PER_GROUP} of this group are explained; --format json lists every flip)"
                    );
                }
            }
        }
    }
    out.push('\n');
    out.push_str(&summary(flips));
    out
}

/// Per action and principal type: how many requests are newly allowed and
/// newly denied, and the totals.
pub fn summary(flips: &[Flip]) -> String {
    let mut rows: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for f in flips {
        let row = rows
            .entry((
                f.request.action.to_string(),
                f.request.principal.ty.to_string(),
            ))
            .or_default();
        if f.newly_allowed() {
            row.0 += 1;
        } else {
            row.1 += 1;
        }
    }
    let mut out = String::from("summary (action, principal type: newly allowed, newly denied):\n");
    for ((action, ty), (allowed, denied)) in &rows {
        let _ = writeln!(
            out,
            "  {}, {}: {allowed} allowed, {denied} denied",
            printable(action),
            printable(ty)
        );
    }
    let allowed = flips.iter().filter(|f| f.newly_allowed()).count();
    let _ = writeln!(
        out,
        "{} requests change: {allowed} newly allowed, {} newly denied",
        flips.len(),
        flips.len() - allowed
    );
    out
}
