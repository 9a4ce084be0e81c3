//! The access matrix as one self-contained HTML page: no network, no
//! external script. A section per top-level entity (an account, or any
//! entity without parents) holding principals down the side and, across,
//! the resources with the actions allowed on them, grouped under their
//! action groups; a cell per allowed (principal, action, resource) shows
//! the determining policies (and the contexts, where an action has them).
//! Three filters (principal, resource, action) hide what does not match;
//! `#p=…&r=…&a=…` in the address sets them.

use super::judge::Line;
use super::Auditor;
use crate::authorize::Decision;
use crate::entities::Entities;
use std::collections::{BTreeMap, BTreeSet};
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

/// One cell: the determining policies and contexts of an allowed
/// (principal, action, resource), and whether an error decided a request.
#[derive(Default)]
struct Cell {
    policies: BTreeSet<String>,
    contexts: Vec<String>,
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

/// The page for a matrix's `lines`.
pub fn page(auditor: &Auditor, lines: &[Line]) -> String {
    let (d, entities) = (&auditor.domain, auditor.entities);
    // root -> principal -> (resource, action) -> cell; names for order.
    type Cells = BTreeMap<(String, String), Cell>;
    let mut sections: BTreeMap<String, BTreeMap<String, Cells>> = BTreeMap::new();
    // A principal in no hierarchy (no parents) is shown with the top-level
    // entity that most of the resources it may act on are in (ties: the
    // first by name), where an administrator of those looks for it.
    let mut placed: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut votes: BTreeMap<u32, BTreeMap<&str, (usize, u32)>> = BTreeMap::new();
    for line in lines {
        let p = line.ids.principal;
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
    for line in lines {
        for &root in &placed[&line.ids.principal] {
            let cells = sections
                .entry(d.name(root).to_string())
                .or_default()
                .entry(d.name(line.ids.principal).to_string())
                .or_default();
            let cell = cells
                .entry((
                    d.name(line.ids.resource).to_string(),
                    d.name(line.ids.action).to_string(),
                ))
                .or_default();
            let context = &d.context_json[line.ids.context as usize];
            if context != "{}" {
                cell.contexts.push(context.clone());
            }
            cell.policies
                .extend(line.response.determining.iter().map(|s| s.to_string()));
            cell.allowed |= line.response.decision == Decision::Allow;
            cell.errors |=
                !line.response.errors.is_empty() || line.response.decision == Decision::Deny;
        }
    }
    let group_of = |action: &str| -> String {
        let uid = super::uid_or_action(action);
        entities
            .parents(&uid)
            .first()
            .map(|g| g.id.to_string())
            .unwrap_or_default()
    };
    let total = allowed_cells(lines);
    let mut body = String::new();
    for (root, principals) in &sections {
        // The columns: every (resource, action) with a cell, resources in
        // name order, each one's actions grouped by their group.
        let mut columns: BTreeMap<&str, BTreeSet<(String, &str)>> = BTreeMap::new();
        for cells in principals.values() {
            for (resource, action) in cells.keys() {
                columns
                    .entry(resource.as_str())
                    .or_default()
                    .insert((group_of(action), action.as_str()));
            }
        }
        let cells_here: usize = principals
            .values()
            .map(|c| c.values().filter(|x| x.allowed).count())
            .sum();
        let _ = writeln!(
            body,
            "<section data-cells=\"{cells_here}\"><h2>{}</h2><p>{} principals, {cells_here} allowed cells</p><div class=\"scroll\"><table>",
            esc(root),
            principals.len()
        );
        body.push_str("<thead><tr><th rowspan=\"3\">principal</th>");
        for (resource, actions) in &columns {
            let _ = write!(
                body,
                "<th class=\"r\" colspan=\"{}\" data-resource=\"{}\">{}</th>",
                actions.len(),
                esc(resource),
                esc(resource)
            );
        }
        body.push_str("</tr><tr>");
        for (resource, actions) in &columns {
            let mut groups: Vec<(&str, usize)> = Vec::new();
            for (group, _) in actions {
                match groups.last_mut() {
                    Some((g, n)) if *g == group.as_str() => *n += 1,
                    _ => groups.push((group.as_str(), 1)),
                }
            }
            for (group, n) in groups {
                let _ = write!(
                    body,
                    "<th class=\"g\" colspan=\"{n}\" data-resource=\"{}\" data-group=\"{}\">{}</th>",
                    esc(resource),
                    esc(group),
                    esc(group)
                );
            }
        }
        body.push_str("</tr><tr>");
        for (resource, actions) in &columns {
            for (group, action) in actions {
                let _ = write!(
                    body,
                    "<th class=\"a\" data-resource=\"{}\" data-group=\"{}\" data-action=\"{}\">{}</th>",
                    esc(resource),
                    esc(group),
                    esc(action),
                    esc(&super::uid_or_action(action).id)
                );
            }
        }
        body.push_str("</tr></thead><tbody>\n");
        for (principal, cells) in principals {
            let _ = write!(
                body,
                "<tr data-principal=\"{}\"><th class=\"p\">{}</th>",
                esc(principal),
                esc(principal)
            );
            for (resource, actions) in &columns {
                for (_, action) in actions {
                    let attrs = format!(
                        "data-resource=\"{}\" data-action=\"{}\"",
                        esc(resource),
                        esc(action)
                    );
                    match cells.get(&(resource.to_string(), action.to_string())) {
                        Some(cell) => {
                            let mut title =
                                cell.policies.iter().cloned().collect::<Vec<_>>().join(", ");
                            if !cell.contexts.is_empty() {
                                let _ = write!(title, "\ncontexts: {}", cell.contexts.join(" "));
                            }
                            let (class, mark) = match (cell.allowed, cell.errors) {
                                (true, false) => ("allow", "✓"),
                                (true, true) => ("allow err", "✓!"),
                                (false, _) => ("err", "!"),
                            };
                            let _ = write!(
                                body,
                                "<td class=\"{class}\" {attrs} title=\"{}\">{mark}<span>{}</span></td>",
                                esc(&title),
                                esc(&cell.policies.iter().cloned().collect::<Vec<_>>().join(" "))
                            );
                        }
                        None => {
                            let _ = write!(body, "<td {attrs}></td>");
                        }
                    }
                }
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</tbody></table></div></section>\n");
    }
    if sections.is_empty() {
        body.push_str("<p>No request of the domain is allowed.</p>\n");
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="mspl-allowed-cells" content="{total}">
<title>Access matrix</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; margin-top: 1.5em; }}
.filters input {{ margin-right: 1em; padding: .3em; width: 14em; }}
.filters input[type=checkbox] {{ width: auto; margin-right: .3em; }}
.scroll {{ overflow: auto; max-height: 80vh; border: 1px solid #ccc; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ddd; padding: 2px 6px; white-space: nowrap; }}
thead th {{ background: #f3f3f3; position: sticky; top: 0; }}
th.r {{ background: #e4ecf7; }} th.g {{ background: #eef2f8; font-weight: normal; font-style: italic; }}
th.a {{ font-weight: normal; font-size: 12px; }}
th.p {{ text-align: left; background: #fafafa; position: sticky; left: 0; }}
td.allow {{ background: #d9f2d9; text-align: center; }}
td.err {{ background: #f8d7d7; text-align: center; }}
td span {{ display: none; }} body.show td span {{ display: block; font-size: 11px; color: #555; }}
.hidden {{ display: none; }}
</style></head><body>
<h1>Access matrix</h1>
<p id="summary">{total} allowed (principal, action, resource) cells. A cell's tooltip names its determining policies; ✓! and ! mark requests an error decided.</p>
<p class="filters"><input id="fp" placeholder="filter principals"><input id="fr" placeholder="filter resources"><input id="fa" placeholder="filter actions"><label><input type="checkbox" id="show"> show policies</label></p>
{body}<script>
(function () {{
  var fp = document.getElementById('fp'), fr = document.getElementById('fr'), fa = document.getElementById('fa');
  function apply() {{
    var p = fp.value.toLowerCase(), r = fr.value.toLowerCase(), a = fa.value.toLowerCase();
    document.querySelectorAll('tr[data-principal]').forEach(function (tr) {{
      tr.classList.toggle('hidden', tr.dataset.principal.toLowerCase().indexOf(p) < 0);
    }});
    document.querySelectorAll('td[data-resource], th.a').forEach(function (el) {{
      el.classList.toggle('hidden', el.dataset.resource.toLowerCase().indexOf(r) < 0 ||
        el.dataset.action.toLowerCase().indexOf(a) < 0);
    }});
    // A resource's and a group's heading spans its visible actions.
    document.querySelectorAll('th.r, th.g').forEach(function (el) {{
      var n = 0;
      el.closest('table').querySelectorAll('th.a').forEach(function (x) {{
        if (!x.classList.contains('hidden') && x.dataset.resource === el.dataset.resource &&
            (el.dataset.group === undefined || x.dataset.group === el.dataset.group)) {{ n += 1; }}
      }});
      el.colSpan = Math.max(n, 1);
      el.classList.toggle('hidden', n === 0);
    }});
    // A section with no principal left is hidden whole.
    document.querySelectorAll('section').forEach(function (sec) {{
      sec.classList.toggle('hidden', !sec.querySelector('tr[data-principal]:not(.hidden)'));
    }});
  }}
  [fp, fr, fa].forEach(function (i) {{ i.addEventListener('input', apply); }});
  // `#p=…&r=…&a=…` sets the filters: a link can point at a view.
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {{
    var parts = kv.split('='), box = {{ p: fp, r: fr, a: fa }}[parts[0]];
    if (box && parts.length > 1) {{ box.value = decodeURIComponent(parts[1]); }}
  }});
  apply();
  document.body.dataset.ready = 'yes';
  document.getElementById('show').addEventListener('change', function (e) {{
    document.body.classList.toggle('show', e.target.checked);
  }});
}})();
</script></body></html>
"#
    )
}
