//! The diff is exact: on generated worlds, for policy changes, data
//! changes and both, in both error modes and under tight step limits, the
//! requests `mspl diff` reports are exactly those of the joined domain that
//! two brute-force `authorize` runs decide differently, with their
//! responses; and a policy that did not change is never blamed.

use crate::worlds;

use mspl::__internal::authorize::{authorize, ErrorMode, Options, PreparedSet};
use mspl::__internal::entities::build::add_named_actions;
use mspl::__internal::entities::build::build_entities;
use mspl::__internal::entities::json::Request;
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::{Entities, Limits, PolicySet};
use mspl_cli::audit::domain::Domain;
use mspl_cli::diff::Diff;
use std::collections::{BTreeMap, BTreeSet};
use worlds::{bytes, limits_for, world};

fn load(text: &str, limits: Limits, ids: IdScheme) -> PolicySet {
    let mut loader = Loader::new(limits);
    loader.add_source("gen.mspl".into(), text.into());
    let (set, diagnostics) = loader.finish(ids);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.severity != mspl::__internal::diag::Severity::Error),
        "{text}\n{diagnostics:?}"
    );
    set
}

fn store(set: &PolicySet, text: &str, sets: [&PolicySet; 2]) -> Entities {
    let mut entities = build_entities(&set.schema, [("world.json", text)]).unwrap();
    for s in sets {
        add_named_actions(s, &mut entities);
    }
    entities
}

/// The policies of `text` changed by the edits `edits` picks; which edits
/// were made.
fn edit(text: &str, other: &str, edits: &[u8]) -> (String, Vec<&'static str>) {
    let (head, mut lines): (Vec<&str>, Vec<String>) = {
        let mut head = Vec::new();
        let mut lines = Vec::new();
        for l in text.lines() {
            if l.starts_with("@id(") {
                lines.push(l.to_string());
            } else {
                head.push(l);
            }
        }
        (head, lines)
    };
    let theirs: Vec<&str> = other.lines().filter(|l| l.starts_with("@id(")).collect();
    let mut made = Vec::new();
    let mut head = head.join("\n");
    for (k, &e) in edits.iter().enumerate() {
        let at = usize::from(edits[(k + 1) % edits.len()]) % lines.len().max(1);
        match e % 8 {
            0 if lines.len() > 1 => {
                lines.remove(at);
                made.push("remove");
            }
            1 if !lines.is_empty() && !theirs.is_empty() => {
                // The same id, another body.
                let body = split_id(theirs[at % theirs.len()]).1;
                lines[at] = format!("{}{body}", split_id(&lines[at]).0);
                made.push("change");
            }
            2 if !theirs.is_empty() => {
                let body = theirs[at % theirs.len()];
                lines.push(body.replacen("@id(\"p", "@id(\"q", 1));
                made.push("add");
            }
            3 if lines.len() > 1 => {
                let last = lines.len() - 1;
                lines.swap(at, last);
                made.push("reorder");
            }
            4 => {
                head = head.replace("u.level > 2", "u.level > 3");
                made.push("rule");
            }
            5 if !lines.is_empty() => {
                lines[at] = split_id(&lines[at]).1.to_string();
                made.push("unnamed");
            }
            6 if !lines.is_empty() => {
                // The other effect, the same scope and conditions.
                let (id, body) = split_id(&lines[at]);
                let flipped = if body.contains("permit(") {
                    body.replacen("permit(", "forbid(", 1)
                } else {
                    body.replacen("forbid(", "permit(", 1)
                };
                lines[at] = format!("{id}{flipped}");
                made.push("effect");
            }
            7 if !lines.is_empty() => {
                // The same outcome in more steps (a tight budget may run
                // out in one version only).
                let padded = lines[at].trim_end_matches(';').to_string();
                lines[at] = format!("{padded} when {{ 1 + 1 == 2 && [1, 2].contains(2) }};");
                made.push("steps");
            }
            _ => {}
        }
    }
    (format!("{head}\n{}\n", lines.join("\n")), made)
}

/// A data change picked by `edits`: the other world's store, one entity
/// replaced by the other world's entity of the same uid, or one entity
/// dropped (each world lists the same uids in the same order).
fn data_edit(mine: &str, theirs: &str, edits: &[u8]) -> String {
    let entities = |text: &str| -> Vec<String> {
        let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
        inner.split(",\n").map(str::to_string).collect()
    };
    let (mut a, b) = (entities(mine), entities(theirs));
    let at = usize::from(edits[1]) % a.len();
    match edits[0] % 3 {
        0 => return theirs.to_string(),
        1 => a[at] = b[at % b.len()].clone(),
        _ => {
            a.remove(at);
        }
    }
    format!("[{}]", a.join(",\n"))
}

/// A policy line's `@id("…")` (or nothing) and the rest.
fn split_id(line: &str) -> (&str, &str) {
    if line.starts_with("@id(") {
        let end = line.find(')').unwrap() + 1;
        line.split_at(end)
    } else {
        ("", line)
    }
}

/// Every request of the two domains joined (by name) that the versions
/// decide differently, judged one by one with `authorize`.
fn brute_force(
    old: (&PolicySet, &Entities),
    new: (&PolicySet, &Entities),
    context: Option<&serde_json::Value>,
    options: &Options,
) -> Vec<String> {
    // action -> (principals, resources, contexts by JSON)
    type Requests = BTreeMap<
        String,
        (
            BTreeSet<String>,
            BTreeSet<String>,
            BTreeMap<String, mspl::__internal::eval::Value>,
        ),
    >;
    let mut joined: Requests = BTreeMap::new();
    let mut uids: BTreeMap<String, mspl::__internal::syntax::ast::EntityUid> = BTreeMap::new();
    for (set, entities) in [old, new] {
        let d = Domain::build(set, entities, context).unwrap();
        for a in &d.actions {
            let entry = joined.entry(d.name(a.node).to_string()).or_default();
            uids.insert(d.name(a.node).to_string(), a.action.clone());
            for &p in &a.principals {
                entry.0.insert(d.name(p).to_string());
                uids.insert(d.name(p).to_string(), entities.node_uid(p).clone());
            }
            for &r in &a.resources {
                entry.1.insert(d.name(r).to_string());
                uids.insert(d.name(r).to_string(), entities.node_uid(r).clone());
            }
            for &c in &a.contexts {
                entry.2.insert(
                    d.context_json[c as usize].clone(),
                    d.contexts[c as usize].clone(),
                );
            }
        }
    }
    let mut lines = Vec::new();
    for (action, (principals, resources, contexts)) in &joined {
        for p in principals {
            for r in resources {
                for (json, c) in contexts {
                    let request = Request {
                        principal: uids[p].clone(),
                        action: uids[action].clone(),
                        resource: uids[r].clone(),
                        context: c.clone(),
                    };
                    let before = authorize(old.0, old.1, &request, options);
                    let after = authorize(new.0, new.1, &request, options);
                    if before.decision != after.decision {
                        lines.push(line(p, action, r, json, &before, &after));
                    }
                }
            }
        }
    }
    lines.sort();
    lines
}

fn line(
    p: &str,
    a: &str,
    r: &str,
    c: &str,
    old: &mspl::__internal::Response,
    new: &mspl::__internal::Response,
) -> String {
    format!(
        "{p} {a} {r} {c} {} {}",
        serde_json::to_string(old).unwrap(),
        serde_json::to_string(new).unwrap()
    )
}

/// The flips as brute force's lines, sorted.
fn sorted_lines(flips: &[mspl_cli::diff::Flip]) -> Vec<String> {
    let mut lines: Vec<String> = flips
        .iter()
        .map(|f| {
            let r = &f.request;
            let (p, a, res) = (
                r.principal.to_string(),
                r.action.to_string(),
                r.resource.to_string(),
            );
            line(&p, &a, &res, &f.context_json, &f.old, &f.new)
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn the_diff_equals_two_brute_force_runs_on_generated_worlds() {
    let (mut worlds_checked, mut flips, mut compared_kinds) = (0, 0, BTreeMap::new());
    for seed in 0..120u64 {
        let limits = limits_for(seed, 4);
        let mine = world(seed);
        // A world of the same kind (with or without declarations).
        let theirs = world(seed + 1000);
        let kind = seed % 3; // 0 policies, 1 data, 2 both
        let edits = bytes(seed, 3);
        let (new_text, made) = if kind == 1 {
            (mine.policies.clone(), Vec::new())
        } else {
            edit(
                &mine.policies,
                &theirs.policies,
                &edits[..1 + usize::from(edits[2] % 2)],
            )
        };
        for (errors, ids) in [
            (ErrorMode::FailClosed, IdScheme::Annotated),
            (ErrorMode::Cedar, IdScheme::Cedar),
        ] {
            let options = Options {
                errors,
                limits,
                plain: false,
                deadline: None,
            };
            let old_set = load(&mine.policies, limits, ids);
            let new_set = load(&new_text, limits, ids);
            let new_data = if kind == 0 {
                mine.entities.clone()
            } else {
                data_edit(&mine.entities, &theirs.entities, &edits)
            };
            let new_data = &new_data;
            let sets = [&old_set, &new_set];
            let old_store = store(&old_set, &mine.entities, sets);
            let new_store = store(&new_set, new_data, sets);
            let expected = brute_force(
                (&old_set, &old_store),
                (&new_set, &new_store),
                mine.context.as_ref(),
                &options,
            );
            let (old, new) = (
                PreparedSet::new(old_set.clone(), options),
                PreparedSet::new(new_set.clone(), options),
            );
            let diff = Diff::new(&old, old_store.clone(), &new, new_store.clone());
            for threads in [1, 3] {
                let got = diff
                    .over_domain(mine.context.as_ref(), threads, &|_| None)
                    .unwrap();
                let sorted = sorted_lines(&got);
                assert_eq!(
                    sorted, expected,
                    "seed {seed} ({made:?}, kind {kind}, {errors:?}, {threads} threads)\nold:\n{}\nnew:\n{new_text}",
                    mine.policies
                );
                // In the audit's order.
                let keys: Vec<(String, String, String, String)> = got
                    .iter()
                    .map(|f| {
                        (
                            f.request.principal.to_string(),
                            f.request.action.to_string(),
                            f.request.resource.to_string(),
                            f.context_json.clone(),
                        )
                    })
                    .collect();
                let mut ordered = keys.clone();
                ordered.sort();
                assert_eq!(keys, ordered, "seed {seed}: the flips are in order");
                if kind == 0 && ids == IdScheme::Annotated && !made.contains(&"unnamed") {
                    // Only policies whose text differs, or that call the
                    // changed rule, are blamed.
                    let text_of = |t: &str, id: &str| {
                        t.lines()
                            .find(|l| l.starts_with(&format!("@id(\"{id}\")")))
                            .map(str::to_string)
                    };
                    for f in &got {
                        for b in f.blame.iter().filter(|b| !b.id.starts_with("rule:")) {
                            let (a, z) =
                                (text_of(&mine.policies, &b.id), text_of(&new_text, &b.id));
                            let differs = a != z
                                || (made.contains(&"rule")
                                    && a.is_some_and(|l| l.contains("senior(")));
                            assert!(
                                differs,
                                "seed {seed}: `{}` is blamed but did not change",
                                b.id
                            );
                        }
                    }
                }
            }
            flips += expected.len();
            *compared_kinds.entry(kind).or_insert(0) += expected.len();
        }
        worlds_checked += 1;
    }
    eprintln!("{worlds_checked} worlds, {flips} flips compared, by kind {compared_kinds:?}");
    for kind in 0..3 {
        assert!(
            compared_kinds.get(&kind).copied().unwrap_or(0) >= 100,
            "too few flips of kind {kind}: {compared_kinds:?}"
        );
    }
}

#[test]
fn a_change_that_only_costs_steps_can_spend_the_budget() {
    // `a` does not apply in either version, but the new one takes more
    // steps: with the shared permit the request's budget runs out.
    let rules = "rule deep(n) { n > 0 && deep(n - 1) }\nrule deep(n) { n == 0 }\n";
    let shared = "@id(\"shared\") permit(principal, action == Action::\"read\", resource) when { deep(6) };\n";
    let old_text = format!(
        "{rules}@id(\"a\") forbid(principal, action, resource) when {{ false }};\n{shared}"
    );
    let new_text = format!("{rules}@id(\"a\") forbid(principal, action, resource) when {{ deep(6) && false }};\n{shared}");
    let limits = Limits {
        max_request_steps: 60,
        ..Limits::default()
    };
    let options = Options {
        limits,
        ..Options::default()
    };
    let old_set = load(&old_text, limits, IdScheme::Annotated);
    let new_set = load(&new_text, limits, IdScheme::Annotated);
    let data = r#"[{"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": []}]"#;
    let sets = [&old_set, &new_set];
    let (old_store, new_store) = (store(&old_set, data, sets), store(&new_set, data, sets));
    let expected = brute_force(
        (&old_set, &old_store),
        (&new_set, &new_store),
        None,
        &options,
    );
    assert_eq!(expected.len(), 1, "{expected:?}");
    let (old, new) = (
        PreparedSet::new(old_set.clone(), options),
        PreparedSet::new(new_set.clone(), options),
    );
    let diff = Diff::new(&old, old_store, &new, new_store);
    let got = diff.over_domain(None, 1, &|_| None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]
            .blame
            .iter()
            .map(|b| b.id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn a_data_change_judges_only_what_reaches_it_and_misses_nothing() {
    // The Model Studio set names no entity, so a data change judges only
    // the requests that start from an entity a changed one can be read
    // from: its principal, its resource, or a context entity.
    let mut loader = Loader::new(Limits::default());
    loader.add_path(std::path::Path::new("policies/model_studio"));
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics
        .iter()
        .all(|d| d.severity != mspl::__internal::diag::Severity::Error));
    let examples = std::fs::read_to_string("policies/model_studio/examples/entities.json").unwrap();
    let edits = [
        // A context entity: project-a loses qwen-max (the main account's
        // model calls from it flip; the account reaches no workspace).
        (
            r#""is_default": false, "authorized_models": [{"__entity": {"type": "Model", "id": "qwen-max"}}]"#,
            r#""is_default": false, "authorized_models": []"#,
        ),
        // A resource: a page becomes an administration page.
        (
            r#""workspace": {"__entity": {"type": "Workspace", "id": "project-a"}}, "feature": "models"}"#,
            r#""workspace": {"__entity": {"type": "Workspace", "id": "project-a"}}, "feature": "key_management"}"#,
        ),
        // A principal: a RAM user is granted management.
        (
            r#"{"uid": {"type": "RamUser", "id": "nobody-01"}, "attrs": {"account": {"__entity": {"type": "Account", "id": "acct-1"}}, "policies": []"#,
            r#"{"uid": {"type": "RamUser", "id": "nobody-01"}, "attrs": {"account": {"__entity": {"type": "Account", "id": "acct-1"}}, "policies": ["AliyunBailianFullAccess"]"#,
        ),
    ];
    let options = Options::default();
    for (find, replace) in edits {
        assert_eq!(examples.matches(find).count(), 1, "{find}");
        let changed = examples.replace(find, replace);
        let sets = [&set, &set];
        let (old_store, new_store) = (store(&set, &examples, sets), store(&set, &changed, sets));
        let expected = brute_force((&set, &old_store), (&set, &new_store), None, &options);
        assert!(!expected.is_empty(), "{replace}: nothing flips");
        let prepared = PreparedSet::new(set.clone(), options);
        let diff = Diff::new(&prepared, old_store, &prepared, new_store);
        let got = diff.over_domain(None, 2, &|_| None).unwrap();
        assert_eq!(sorted_lines(&got), expected, "{replace}");
    }
}
