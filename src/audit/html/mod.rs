//! The access matrix as one self-contained HTML page: no network, no
//! external script. It opens on a summary, one row per top-level entity
//! (an account, or any entity without parents): its principals, its
//! allowed cells, who holds management or administrator access, its
//! findings by severity and its most-privileged principals. Below, a
//! section per top-level entity draws its grid on demand (principals down
//! the side; across, the resources with the actions allowed on them,
//! grouped under their action groups; a cell per allowed (principal,
//! action, resource) naming its determining policies and contexts) from
//! data embedded once: a table of strings, a table of cell styles, and
//! per row the columns (as deltas) with their style. Three filters
//! (principal, resource, action) update the counts and hide empty
//! sections; `#p=…&r=…&a=…` in the address sets them. Names sort
//! naturally (`user-2` before `user-10`).

use super::findings::Finding;
use super::judge::Line;
use super::Auditor;
use crate::authorize::Decision;
use crate::entities::Entities;
use crate::eval::Value;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text compared with its runs of digits as numbers: `user-2` before
/// `user-10`; where the numbers are equal, the text decides (`01` before
/// `1`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (x, y) = (chunks(a), chunks(b));
    for ((dx, cx), (dy, cy)) in x.iter().zip(&y) {
        let order = if *dx && *dy {
            let (tx, ty) = (cx.trim_start_matches('0'), cy.trim_start_matches('0'));
            tx.len().cmp(&ty.len()).then(tx.cmp(ty))
        } else {
            cx.cmp(cy)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    x.len().cmp(&y.len()).then(a.cmp(b))
}

/// The entities without parents that `node` is in (itself when it has
/// none), by store node.
fn roots(entities: &Entities, node: u32) -> Vec<u32> {
    let mut ancestors = Vec::new();
    entities.ancestors_into(node, &mut ancestors);
    ancestors.push(node);
    let mut found: Vec<u32> = ancestors
        .into_iter()
        .filter(|&n| entities.parents(entities.node_uid(n)).is_empty())
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// A context as people read it: `workspace: Workspace::"ws-1"`.
fn context_text(context: &Value) -> String {
    match context {
        Value::Record(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// One cell while it is built: the determining policies and contexts
/// (string numbers) of a (principal, action, resource), and whether it is
/// allowed and whether an error decided a request.
#[derive(Default)]
struct Cell {
    policies: BTreeSet<usize>,
    contexts: BTreeSet<usize>,
    allowed: bool,
    errors: bool,
}

/// The number of distinct allowed (principal, action, resource) of `lines`.
pub fn allowed_cells(lines: &[Line]) -> usize {
    lines
        .iter()
        .filter(|l| l.response.decision == Decision::Allow)
        .map(|l| (l.ids.principal, l.ids.action, l.ids.resource))
        .collect::<BTreeSet<_>>()
        .len()
}

/// The data the page's script draws from.
#[derive(Serialize, Default)]
struct Data {
    /// Every name, once.
    strings: Vec<String>,
    /// Cell styles: kind (0 allowed, 1 allowed with an error, 2 an error
    /// only), policies, contexts (string numbers).
    styles: Vec<(u8, Vec<usize>, Vec<usize>)>,
    sections: Vec<SectionData>,
}

/// One section, by column: the principals that hold each column in a
/// style are a set, and the sets repeat (every page of a workspace is
/// held by its members), so each is written once.
#[derive(Serialize)]
struct SectionData {
    root: usize,
    /// String numbers, in natural order.
    principals: Vec<usize>,
    /// (resource, action group, action), string numbers.
    columns: Vec<(usize, usize, usize)>,
    /// Per column, pairs of (style, set).
    grants: Vec<Vec<usize>>,
    /// Sets of principals (numbers in `principals`, ascending, each as
    /// the difference from the previous one).
    sets: Vec<Vec<usize>>,
    /// Principals with a cell, and allowed cells.
    holders: usize,
    cells: usize,
}

/// Numbers strings and styles, each once.
#[derive(Default)]
struct Tables {
    data: Data,
    strings: HashMap<String, usize>,
    styles: HashMap<(u8, Vec<usize>, Vec<usize>), usize>,
}

impl Tables {
    fn string(&mut self, s: &str) -> usize {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.data.strings.len();
        self.data.strings.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn style(&mut self, cell: &Cell) -> usize {
        let kind = match (cell.allowed, cell.errors) {
            (true, false) => 0,
            (true, true) => 1,
            (false, _) => 2,
        };
        let key = (
            kind,
            cell.policies.iter().copied().collect(),
            cell.contexts.iter().copied().collect(),
        );
        if let Some(&i) = self.styles.get(&key) {
            return i;
        }
        let i = self.data.styles.len();
        self.data.styles.push(key.clone());
        self.styles.insert(key, i);
        i
    }
}

/// Whether an action is management or administration: its group's name
/// (or its own) says `manage` or `admin`.
fn privileged(entities: &Entities, action: &crate::syntax::ast::EntityUid) -> bool {
    let says = |s: &str| {
        let s = s.to_lowercase();
        s.contains("manage") || s.contains("admin")
    };
    says(&action.id) || entities.parents(action).iter().any(|g| says(&g.id))
}

/// A section while it is built: per (resource, action) node pair and
/// style, the principal nodes that hold it.
#[derive(Default)]
struct Building {
    grants: HashMap<(u32, u32, usize), Vec<u32>>,
    principals: BTreeSet<u32>,
    cells: HashMap<u32, usize>,
    privileged: BTreeSet<u32>,
}

/// The page for a matrix's `lines` (in the audit's order: by principal),
/// with the audit's `findings` (by the top-level entity of the entity
/// each is about).
pub fn page(auditor: &Auditor, lines: &[Line], findings: &[Finding]) -> String {
    let (d, entities) = (&auditor.domain, auditor.entities);
    // A principal in no hierarchy (no parents) is shown with the top-level
    // entity that most of the resources it may act on are in (ties: the
    // first by name), where an administrator of those looks for it.
    let mut placed: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut votes: BTreeMap<u32, BTreeMap<&str, (usize, u32)>> = BTreeMap::new();
    for line in lines {
        let p = line.ids.principal;
        if placed.contains_key(&p) {
            continue;
        }
        let own = roots(entities, p);
        if own != [p] {
            placed.insert(p, own);
        } else {
            for root in roots(entities, line.ids.resource) {
                votes
                    .entry(p)
                    .or_default()
                    .entry(d.name(root))
                    .or_insert((0, root))
                    .0 += 1;
            }
        }
    }
    for (p, counts) in votes {
        if let Some((_, &(_, root))) = counts
            .iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0.cmp(a.0)))
        {
            placed.entry(p).or_insert_with(|| vec![root]);
        }
    }
    let mut tables = Tables::default();
    let mut context_strings: HashMap<u32, usize> = HashMap::new();
    let mut building: BTreeMap<u32, Building> = BTreeMap::new();
    // One principal's lines at a time (they are contiguous): its cells,
    // then its grants into each of its sections.
    let mut start = 0;
    while start < lines.len() {
        let p = lines[start].ids.principal;
        let end = lines[start..]
            .iter()
            .position(|l| l.ids.principal != p)
            .map_or(lines.len(), |n| start + n);
        let mut cells: BTreeMap<(u32, u32), Cell> = BTreeMap::new();
        for line in &lines[start..end] {
            let cell = cells
                .entry((line.ids.resource, line.ids.action))
                .or_default();
            let c = line.ids.context;
            let context = &d.contexts[c as usize];
            if !matches!(context, Value::Record(r) if r.is_empty()) {
                let n = match context_strings.get(&c) {
                    Some(&n) => n,
                    None => {
                        let n = tables.string(&context_text(context));
                        context_strings.insert(c, n);
                        n
                    }
                };
                cell.contexts.insert(n);
            }
            for id in &line.response.determining {
                let n = tables.string(id);
                cell.policies.insert(n);
            }
            cell.allowed |= line.response.decision == Decision::Allow;
            cell.errors |=
                !line.response.errors.is_empty() || line.response.decision == Decision::Deny;
        }
        let allowed = cells.values().filter(|c| c.allowed).count();
        let holds_privileged = cells
            .iter()
            .any(|(&(_, a), c)| c.allowed && privileged(entities, entities.node_uid(a)));
        let styled: Vec<((u32, u32), usize)> =
            cells.iter().map(|(&k, c)| (k, tables.style(c))).collect();
        for &root in placed.get(&p).into_iter().flatten() {
            let b = building.entry(root).or_default();
            b.principals.insert(p);
            b.cells.insert(p, allowed);
            if holds_privileged {
                b.privileged.insert(p);
            }
            for &((r, a), style) in &styled {
                b.grants.entry((r, a, style)).or_default().push(p);
            }
        }
        start = end;
    }
    // Findings by top-level entity and severity.
    let mut found: HashMap<u32, BTreeMap<&'static str, usize>> = HashMap::new();
    for f in findings {
        let Some(node) = f.entity.as_ref().and_then(|u| entities.node(u)) else {
            continue;
        };
        for root in roots(entities, node) {
            *found
                .entry(root)
                .or_default()
                .entry(f.severity.name())
                .or_default() += 1;
        }
    }
    let total = allowed_cells(lines);
    let mut order: Vec<(u32, Building)> = building.into_iter().collect();
    order.sort_by(|a, b| natural_cmp(d.name(a.0), d.name(b.0)));
    let mut summary = String::new();
    let mut body = String::new();
    let sections = order.len();
    for (n, (root, b)) in order.into_iter().enumerate() {
        let data = section(&mut tables, auditor, root, &b);
        let names = |list: &[&str]| {
            let shown: Vec<String> = list.iter().take(3).map(|s| esc(s)).collect();
            let more = list.len().saturating_sub(3);
            if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            }
        };
        let mut privileged: Vec<&str> = b.privileged.iter().map(|&p| d.name(p)).collect();
        privileged.sort_by(|a, b| natural_cmp(a, b));
        let severities = found
            .get(&root)
            .map(|by| {
                // The most serious first.
                ["error", "security_warning", "warning", "suggestion"]
                    .iter()
                    .filter_map(|s| by.get(s).map(|n| (s, n)))
                    .map(|(s, n)| format!("<span class=\"sev-{s}\">{n} {s}</span>"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_else(|| "none".into());
        let mut most: Vec<(usize, &str)> = b.cells.iter().map(|(&p, &c)| (c, d.name(p))).collect();
        most.sort_by(|a, b| b.0.cmp(&a.0).then(natural_cmp(a.1, b.1)));
        let top: Vec<String> = most
            .iter()
            .take(3)
            .map(|(n, p)| format!("{} ({n})", esc(p)))
            .collect();
        let _ = writeln!(
            summary,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}: {}</td><td>{severities}</td><td>{}</td></tr>",
            esc(d.name(root)),
            data.holders,
            data.cells,
            privileged.len(),
            names(&privileged),
            top.join(", ")
        );
        let _ = writeln!(
            body,
            "<section data-cells=\"{}\" data-section=\"{n}\"><details><summary><h2>{}</h2><span class=\"count\">{} principals, {} allowed cells</span></summary><div class=\"grid\"></div></details></section>",
            data.cells,
            esc(d.name(root)),
            data.holders,
            data.cells
        );
        tables.data.sections.push(data);
    }
    if sections == 0 {
        body.push_str("<p>No request of the domain is allowed.</p>\n");
    }
    // `</` never appears inside the script element.
    let data = serde_json::to_string(&tables.data)
        .unwrap_or_default()
        .replace("</", "<\\/");
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="mspl-allowed-cells" content="{total}">
<title>Access matrix</title>
<style>
{css}</style></head><body>
<h1>Access matrix</h1>
<p id="summary">{total} allowed (principal, action, resource) cells in {sections} sections. A cell's tooltip names its determining policies and contexts; ✓! and ! mark requests an error decided.</p>
<table class="summary"><thead><tr><th>top-level entity</th><th>principals</th><th>allowed cells</th><th>management or administrator access</th><th>findings</th><th>most privileged (allowed cells)</th></tr></thead><tbody>
{summary}</tbody></table>
<p class="filters"><input id="fp" placeholder="filter principals"><input id="fr" placeholder="filter resources"><input id="fa" placeholder="filter actions"><label><input type="checkbox" id="show"> show policies</label></p>
{body}<script type="application/json" id="matrix-data">{data}</script>
<script>
{js}</script></body></html>
"#,
        css = include_str!("report.css"),
        js = include_str!("report.js"),
    )
}

/// A section's data: principals and columns in natural order, each
/// column's grants as sets written once.
fn section(tables: &mut Tables, auditor: &Auditor, root: u32, b: &Building) -> SectionData {
    let (d, entities) = (&auditor.domain, auditor.entities);
    let mut principals: Vec<u32> = b.principals.iter().copied().collect();
    principals.sort_by(|x, y| natural_cmp(d.name(*x), d.name(*y)));
    let index: HashMap<u32, usize> = principals
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, i))
        .collect();
    let group_of = |action: u32| -> String {
        entities
            .parents(entities.node_uid(action))
            .first()
            .map(|g| g.id.to_string())
            .unwrap_or_default()
    };
    let mut columns: Vec<(u32, String, u32)> = b
        .grants
        .keys()
        .map(|&(r, a, _)| (r, a))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|(r, a)| (r, group_of(a), a))
        .collect();
    columns.sort_by(|x, y| {
        natural_cmp(d.name(x.0), d.name(y.0))
            .then(x.1.cmp(&y.1))
            .then(natural_cmp(d.name(x.2), d.name(y.2)))
    });
    let column_of: HashMap<(u32, u32), usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (r, _, a))| ((*r, *a), i))
        .collect();
    let mut grants: Vec<Vec<usize>> = vec![Vec::new(); columns.len()];
    let mut sets: Vec<Vec<usize>> = Vec::new();
    let mut set_of: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut keys: Vec<&(u32, u32, usize)> = b.grants.keys().collect();
    keys.sort_unstable();
    for key in keys {
        let &(r, a, style) = key;
        let mut members: Vec<usize> = b.grants[key].iter().map(|p| index[p]).collect();
        members.sort_unstable();
        members.dedup();
        let set = match set_of.get(&members) {
            Some(&s) => s,
            None => {
                let s = sets.len();
                let mut deltas = Vec::with_capacity(members.len());
                let mut last = 0;
                for &m in &members {
                    deltas.push(m - last);
                    last = m;
                }
                sets.push(deltas);
                set_of.insert(members, s);
                s
            }
        };
        let column = &mut grants[column_of[&(r, a)]];
        column.push(style);
        column.push(set);
    }
    SectionData {
        root: tables.string(d.name(root)),
        principals: principals
            .iter()
            .map(|&p| tables.string(d.name(p)))
            .collect(),
        columns: columns
            .iter()
            .map(|(r, g, a)| {
                (
                    tables.string(d.name(*r)),
                    tables.string(g),
                    tables.string(d.name(*a)),
                )
            })
            .collect(),
        grants,
        sets,
        holders: principals.len(),
        cells: b.cells.values().sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally() {
        let mut names = vec!["user-10", "user-2", "user-1", "user-01", "admin", "user-2b"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["admin", "user-01", "user-1", "user-2", "user-2b", "user-10"]
        );
    }
}
