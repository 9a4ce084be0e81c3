//! Data filtering is exact against a real database: generated worlds of
//! documents in folders (owners, groups, sets of tags, optional
//! attributes, `like`, forbids, rules, errors from missing attributes and
//! overflow, ids and strings with quotes, backslashes, `%`, `_` and
//! Unicode) are loaded into PostgreSQL through a mapping; for every
//! principal and action, in both error modes, the rows the planned query
//! returns are exactly the documents `authorize` allows, and no value is
//! ever spliced into the query's text.

use crate::postgres_cluster::Cluster;
use mspl::__internal::authorize::{authorize, Decision, ErrorMode, Options};
use mspl::__internal::entities::build::{add_named_actions, build_entities};
use mspl::__internal::entities::json::Request;
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::residual::{reduce, Partial};
use mspl::__internal::syntax::ast::EntityUid;
use mspl::__internal::value::Value;
use mspl::__internal::{Entities, Limits};
use mspl_cli::sql_filter::mapping::Mapping;
use mspl_cli::sql_filter::plan_sql;
use postgres::types::ToSql;
use serde_json::{json, Value as Json};
use std::collections::BTreeSet;

const MAPPING: &str = r#"{"types": {
  "Doc": {"table": "docs", "id": "id",
          "attributes": {
            "owner": {"type": "entity", "entity_type": "User", "column": "owner"},
            "title": {"type": "string", "column": "title"},
            "level": {"type": "long", "column": "level"},
            "public": {"type": "bool", "column": "public"},
            "folder": {"type": "entity", "entity_type": "Folder", "column": "folder"},
            "tags": {"type": "string", "set": {"table": "doc_tags", "owner": "doc", "value": "tag"}}
          },
          "parents": {"table": "doc_parents", "child": "doc", "parent_type": "ptype", "parent_id": "pid"}},
  "Folder": {"table": "folders", "id": "id",
             "attributes": {"owner": {"type": "entity", "entity_type": "User", "column": "owner"}},
             "parents": {"table": "folder_parents", "child": "folder", "parent_type": "ptype", "parent_id": "pid"}}
}}"#;

/// The same mapping with closure tables: `in` reads every ancestor there.
fn closure_mapping() -> String {
    MAPPING
        .replace(
            r#""parents": {"table": "doc_parents""#,
            r#""ancestors": {"table": "doc_ancestors", "child": "doc", "ancestor_type": "atype", "ancestor_id": "aid"},
          "parents": {"table": "doc_parents""#,
        )
        .replace(
            r#""parents": {"table": "folder_parents""#,
            r#""ancestors": {"table": "folder_ancestors", "child": "folder", "ancestor_type": "atype", "ancestor_id": "aid"},
             "parents": {"table": "folder_parents""#,
        )
}

const TABLES: &str = "
CREATE TABLE docs (id text PRIMARY KEY, owner text, title text, level bigint, public boolean, folder text);
CREATE TABLE doc_tags (doc text, tag text);
CREATE TABLE doc_parents (doc text, ptype text, pid text);
CREATE TABLE folders (id text PRIMARY KEY, owner text);
CREATE TABLE folder_parents (folder text, ptype text, pid text);
CREATE INDEX ON doc_tags (doc, tag);
CREATE INDEX ON doc_parents (doc);
CREATE INDEX ON folder_parents (folder);
CREATE TABLE doc_ancestors (doc text, atype text, aid text);
CREATE TABLE folder_ancestors (folder text, atype text, aid text);
CREATE INDEX ON doc_ancestors (atype, aid);
CREATE INDEX ON folder_ancestors (folder);
";

/// Policies a world picks from: each with an `@id`.
const POLICIES: &[&str] = &[
    r#"permit(principal, action == Action::"read", resource) when { resource.public };"#,
    r#"permit(principal, action, resource) when { resource has owner && resource.owner == principal };"#,
    r#"permit(principal in Group::"g0", action == Action::"read", resource in Folder::"f0");"#,
    r#"forbid(principal, action, resource) when { resource.tags.contains("secret") } unless { principal.level > 3 };"#,
    r#"permit(principal, action == Action::"read", resource) when { resource.title like "*rep*rt\*%_*" };"#,
    r#"permit(principal, action, resource) when { resource.level + principal.level > 5 };"#,
    r#"forbid(principal, action == Action::"write", resource) when { resource.level * 4 > 8 };"#,
    r#"permit(principal, action, resource) when { owned(principal, resource) };"#,
    r#"permit(principal, action == Action::"read", resource) when { resource.folder.owner == principal };"#,
    r#"forbid(principal, action, resource) when { resource.title == "it's \"q\" \\ 100%_ é" };"#,
    r#"permit(principal, action, resource) when { resource in principal.home };"#,
    r#"permit(principal, action, resource) when { if resource has level then resource.level < 2 else resource.public };"#,
    r#"forbid(principal, action == Action::"read", resource) when { !(resource.public || resource has owner) && resource.tags.contains(principal.name) };"#,
    r#"permit(principal, action, resource) when { resource is Doc && resource in [Folder::"f1", Folder::"f'2"] && principal.level >= 1 };"#,
    r#"permit(principal, action == Action::"write", resource) unless { resource.title like "*draft*" } when { resource.folder in Folder::"f0" || resource.owner == principal };"#,
    r#"forbid(principal, action == Action::"write", resource) when { resource.level > 3 && resource.public };"#,
    r#"forbid(principal, action == Action::"read", resource) when { resource.owner == principal || resource.tags.contains("x") };"#,
];

const RULES: &str = r#"
rule owned(u, d) { d.owner == u }
rule owned(u, d) { d has folder && d.folder.owner == u }
"#;

/// A small deterministic generator.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const ODD_IDS: &[&str] = &[
    "o'neil",
    "back\\slash",
    "100%",
    "under_score",
    "ünï",
    "quo\"te",
];

fn id(rng: &mut Rng, prefix: &str, n: usize) -> String {
    let i = rng.below(n);
    if prefix == "d" && rng.chance(15) {
        format!("{}-{i}", ODD_IDS[i % ODD_IDS.len()])
    } else {
        format!("{prefix}{i}")
    }
}

/// A world: policies, entity JSON, and the users.
fn world(seed: u64) -> (String, String, Vec<String>) {
    let mut rng = Rng(seed * 7919 + 17);
    let mut policies = String::from(RULES);
    for (i, p) in POLICIES.iter().enumerate() {
        if rng.chance(60) {
            policies.push_str(&format!("@id(\"p{i}\") {p}\n"));
        }
    }
    let mut entities = Vec::new();
    let users: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
    for g in 0..3 {
        entities.push(
            json!({"uid": {"type": "Group", "id": format!("g{g}")}, "attrs": {}, "parents": []}),
        );
    }
    for u in &users {
        let mut attrs = serde_json::Map::new();
        if rng.chance(80) {
            attrs.insert("level".into(), json!(rng.below(6) as i64));
        }
        attrs.insert("name".into(), json!(["secret", "x", "n'1"][rng.below(3)]));
        if rng.chance(70) {
            attrs.insert(
                "home".into(),
                json!({"__entity": {"type": "Folder", "id": format!("f{}", rng.below(3))}}),
            );
        }
        let groups: Vec<Json> = (0..3)
            .filter(|_| rng.chance(40))
            .map(|g| json!({"type": "Group", "id": format!("g{g}")}))
            .collect();
        entities.push(json!({"uid": {"type": "User", "id": u}, "attrs": attrs, "parents": groups}));
    }
    let folders = ["f0", "f1", "f'2", "f3"];
    for (i, f) in folders.iter().enumerate() {
        let mut attrs = serde_json::Map::new();
        if rng.chance(70) {
            attrs.insert(
                "owner".into(),
                json!({"__entity": {"type": "User", "id": users[rng.below(5)]}}),
            );
        }
        let parents: Vec<Json> = if i > 0 && rng.chance(60) {
            vec![json!({"type": "Folder", "id": folders[rng.below(i)]})]
        } else {
            vec![]
        };
        entities
            .push(json!({"uid": {"type": "Folder", "id": f}, "attrs": attrs, "parents": parents}));
    }
    let mut seen = BTreeSet::new();
    for _ in 0..24 {
        let d = id(&mut rng, "d", 40);
        if !seen.insert(d.clone()) {
            continue;
        }
        let mut attrs = serde_json::Map::new();
        if rng.chance(70) {
            attrs.insert(
                "owner".into(),
                json!({"__entity": {"type": "User", "id": users[rng.below(5)]}}),
            );
        }
        let titles = [
            "report",
            "rep-x-rt*%_z",
            "draft",
            "it's \"q\" \\ 100%_ é",
            "plain",
            "REPORT",
        ];
        attrs.insert("title".into(), json!(titles[rng.below(titles.len())]));
        if rng.chance(75) {
            let level = match rng.below(6) {
                0 => i64::MAX,
                1 => i64::MIN + 1,
                n => n as i64,
            };
            attrs.insert("level".into(), json!(level));
        }
        attrs.insert("public".into(), json!(rng.chance(40)));
        if rng.chance(60) {
            attrs.insert(
                "folder".into(),
                json!({"__entity": {"type": "Folder", "id": folders[rng.below(folders.len())]}}),
            );
        }
        let tags: Vec<&str> = ["secret", "x", "n'1"]
            .into_iter()
            .filter(|_| rng.chance(30))
            .collect();
        attrs.insert("tags".into(), json!(tags));
        let mut parents = Vec::new();
        for _ in 0..2 {
            if rng.chance(45) {
                parents.push(json!({"type": "Folder", "id": folders[rng.below(folders.len())]}));
            }
        }
        entities.push(json!({"uid": {"type": "Doc", "id": d}, "attrs": attrs, "parents": parents}));
    }
    (policies, Json::Array(entities).to_string(), users)
}

/// The world's documents and folders as rows of the mapped tables.
fn load_tables(client: &mut postgres::Client, entities: &Json) {
    client.batch_execute(TABLES).unwrap();
    let uid_id = |v: &Json| v["__entity"]["id"].as_str().map(str::to_string);
    for e in entities.as_array().unwrap() {
        let id = e["uid"]["id"].as_str().unwrap();
        let a = &e["attrs"];
        let parents: Vec<&str> = e["parents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        match e["uid"]["type"].as_str().unwrap() {
            "Doc" => {
                client
                    .execute(
                        "INSERT INTO docs VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            &id,
                            &uid_id(&a["owner"]),
                            &a["title"].as_str(),
                            &a["level"].as_i64(),
                            &a["public"].as_bool(),
                            &uid_id(&a["folder"]),
                        ],
                    )
                    .unwrap();
                for tag in a["tags"].as_array().unwrap() {
                    client
                        .execute(
                            "INSERT INTO doc_tags VALUES ($1, $2)",
                            &[&id, &tag.as_str()],
                        )
                        .unwrap();
                }
                for p in parents {
                    client
                        .execute(
                            "INSERT INTO doc_parents VALUES ($1, 'Folder', $2)",
                            &[&id, &p],
                        )
                        .unwrap();
                }
            }
            "Folder" => {
                client
                    .execute(
                        "INSERT INTO folders VALUES ($1, $2)",
                        &[&id, &uid_id(&a["owner"])],
                    )
                    .unwrap();
                for p in parents {
                    client
                        .execute(
                            "INSERT INTO folder_parents VALUES ($1, 'Folder', $2)",
                            &[&id, &p],
                        )
                        .unwrap();
                }
            }
            _ => {}
        }
    }
}

/// Fills the closure tables from the store: every ancestor of every
/// document and folder, at any distance.
fn load_closure(client: &mut postgres::Client, entities: &Entities) {
    for (uid, _) in entities.iter() {
        let table = match uid.ty.as_str() {
            "Doc" => "doc_ancestors",
            "Folder" => "folder_ancestors",
            _ => continue,
        };
        let mut ancestors = Vec::new();
        entities.ancestors_into(entities.node(uid).unwrap(), &mut ancestors);
        for node in ancestors {
            let a = entities.node_uid(node);
            if a == uid {
                continue;
            }
            client
                .execute(
                    &format!("INSERT INTO {table} VALUES ($1, $2, $3)"),
                    &[&uid.id.as_str(), &a.ty.as_str(), &a.id.as_str()],
                )
                .unwrap();
        }
    }
}

/// The query's parameters as the driver sends them.
fn params(values: &[Json]) -> Vec<Box<dyn ToSql + Sync>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Json::String(s) => Box::new(s.clone()),
                Json::Bool(b) => Box::new(*b),
                Json::Number(n) => Box::new(n.as_i64().unwrap()),
                other => panic!("a parameter {other}"),
            }
        })
        .collect()
}

fn load(text: &str) -> PolicySet {
    let mut loader = Loader::new(Limits::default());
    loader.add_source("world.mspl".into(), text.into());
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.severity != mspl::__internal::diag::Severity::Error),
        "{text}"
    );
    set
}

#[test]
fn the_planned_query_returns_exactly_the_allowed_rows() {
    let Some(cluster) = Cluster::shared("data filtering against PostgreSQL") else {
        return;
    };
    let walking = Mapping::read("mapping.json", MAPPING).unwrap();
    let closure = Mapping::read("closure.json", &closure_mapping()).unwrap();
    let mut closure_rows = 0;
    let (mut queries, mut rows, mut allowed, mut longest) = (0, 0, 0, 0);
    let mut in_queries = std::time::Duration::ZERO;
    let all = std::time::Instant::now();
    for seed in 0..40 {
        let (policies, entity_text, users) = world(seed);
        let set = load(&policies);
        let mut entities: Entities =
            build_entities(&set.schema, [("world.json", entity_text.as_str())]).unwrap();
        add_named_actions(&set, &mut entities);
        let db = cluster.database("filtering");
        let mut client = cluster.client(&db);
        load_tables(&mut client, &serde_json::from_str(&entity_text).unwrap());
        // Odd worlds: `in` through the closure tables, even: the walk.
        let mapping = if seed % 2 == 1 {
            load_closure(&mut client, &entities);
            closure_rows += client
                .query_one(
                    "SELECT (SELECT count(*) FROM doc_ancestors) + (SELECT count(*) FROM folder_ancestors)",
                    &[],
                )
                .unwrap()
                .get::<_, i64>(0);
            &closure
        } else {
            &walking
        };
        client.batch_execute("SET jit = off").unwrap();
        let docs: Vec<EntityUid> = entities
            .iter()
            .map(|(u, _)| u.clone())
            .filter(|u| u.ty == "Doc")
            .collect();
        for user in &users {
            for action in ["read", "write"] {
                let partial = Partial {
                    principal: EntityUid::new("User", user.as_str()),
                    action: EntityUid::new("Action", action),
                    resource_type: "Doc".into(),
                    context: Value::Record(Default::default()),
                };
                let residual = reduce(&set, &entities, &partial, &Limits::default());
                let request = |resource: EntityUid| Request {
                    principal: partial.principal.clone(),
                    action: partial.action.clone(),
                    resource,
                    context: partial.context.clone(),
                };
                for errors in [ErrorMode::FailClosed, ErrorMode::Cedar] {
                    let planned = plan_sql(
                        &residual,
                        &set,
                        &entities,
                        &partial.request(),
                        mapping,
                        "Doc",
                        errors,
                        &Limits::default(),
                    )
                    .unwrap_or_else(|r| panic!("seed {seed}: refused: {}\n{policies}", r.what));
                    for value in &planned.params {
                        if let Some(s) = value.as_str() {
                            assert!(
                                s.len() < 3 || !planned.query.contains(s),
                                "a value in the query text: {s}\n{}",
                                planned.query
                            );
                        }
                    }
                    let boxed = params(&planned.params);
                    let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| &**b).collect();
                    let started = std::time::Instant::now();
                    let got: BTreeSet<String> = client
                        .query(&planned.query, &refs)
                        .unwrap_or_else(|e| {
                            panic!(
                                "seed {seed}: {e} {:?}\n{}",
                                e.as_db_error().map(|d| d.message()),
                                planned.query
                            )
                        })
                        .iter()
                        .map(|r| r.get::<_, String>(0))
                        .collect();
                    in_queries += started.elapsed();
                    queries += 1;
                    longest = longest.max(planned.query.len());
                    let options = Options {
                        errors,
                        ..Options::default()
                    };
                    let want: BTreeSet<String> = docs
                        .iter()
                        .filter(|d| {
                            authorize(&set, &entities, &request((*d).clone()), &options).decision
                                == Decision::Allow
                        })
                        .map(|d| d.id.to_string())
                        .collect();
                    rows += docs.len();
                    allowed += want.len();
                    assert_eq!(
                        got, want,
                        "seed {seed}, {user} {action} ({errors:?}):\n{policies}\nresidual:\n{}\nquery: {}\nparams: {:?}",
                        residual.text(), planned.query, planned.params
                    );
                }
            }
        }
    }
    eprintln!("{queries} queries, {rows} rows judged, {allowed} allowed; {closure_rows} closure rows; the longest query {longest} bytes; {in_queries:?} in queries of {:?}", all.elapsed());
    assert!(allowed > 100 && rows - allowed > 100, "{allowed} of {rows}");
    assert!(closure_rows > 100, "the closure tables were used");
}
