//! The exactness property of live data with every change written through
//! SQL: on generated worlds loaded into the database, random transactions
//! (upserts, deletes, parents added and removed) are written as plain SQL
//! — rows upserted in place, or deleted and inserted again; two
//! transactions now and then open at once and committed in the other
//! order — and after each batch every request of the domain, asked of a
//! replica at least at the batch's last transaction, is decided as the
//! library decides it on the store rebuilt from scratch.

use crate::commands::{load, mspl};
use crate::postgres_cluster::{Cluster, APP_PASSWORD};
use crate::served::Served;
use crate::transactions::{batch_body, domain_requests, rebuilt, transaction, Model};
use crate::worlds::{bytes, world};
use mspl::__internal::authorize::{Options, PreparedSet};
use mspl::__internal::entities::build::Cycles;
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::Limits;
use serde_json::{json, Value};

/// A SQL string literal.
fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A uid's type and id (`{"type", "id"}` or `{"__entity": …}`).
fn parts(uid: &Value) -> (String, String) {
    let uid = uid.get("__entity").unwrap_or(uid);
    (
        uid["type"].as_str().unwrap().to_string(),
        uid["id"].as_str().unwrap().to_string(),
    )
}

/// The SQL that takes the tables from `old` to `new`; `style` picks
/// upserts in place (even) or delete-and-insert (odd).
fn statements(old: &Model, new: &Model, style: usize) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut touched = Vec::new();
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        if old.get(key) == new.get(key) {
            continue;
        }
        touched.push(key.clone());
        let entity = new.get(key).or(old.get(key)).unwrap();
        let (ty, id) = parts(&entity["uid"]);
        let here = format!("type = {} AND id = {}", lit(&ty), lit(&id));
        let Some(entity) = new.get(key) else {
            sql.push_str(&format!("DELETE FROM mspl_entities WHERE {here};\n"));
            continue;
        };
        let attrs = entity
            .get("attrs")
            .cloned()
            .unwrap_or(json!({}))
            .to_string();
        let parents: Vec<(String, String)> = entity["parents"]
            .as_array()
            .map(|ps| ps.iter().map(parts).collect())
            .unwrap_or_default();
        if style % 2 == 1 {
            sql.push_str(&format!("DELETE FROM mspl_entities WHERE {here};\n"));
        }
        sql.push_str(&format!(
            "INSERT INTO mspl_entities (type, id, attrs) VALUES ({}, {}, {}) \
             ON CONFLICT (type, id) DO UPDATE SET attrs = EXCLUDED.attrs;\n",
            lit(&ty),
            lit(&id),
            lit(&attrs)
        ));
        let listed: Vec<String> = parents
            .iter()
            .map(|(pt, pi)| format!("({}, {})", lit(pt), lit(pi)))
            .collect();
        let keep = if listed.is_empty() {
            String::new()
        } else {
            format!(
                " AND (parent_type, parent_id) NOT IN ({})",
                listed.join(", ")
            )
        };
        sql.push_str(&format!(
            "DELETE FROM mspl_parents WHERE child_type = {} AND child_id = {}{keep};\n",
            lit(&ty),
            lit(&id)
        ));
        for (pt, pi) in &parents {
            sql.push_str(&format!(
                "INSERT INTO mspl_parents VALUES ({}, {}, {}, {}) ON CONFLICT DO NOTHING;\n",
                lit(&ty),
                lit(&id),
                lit(pt),
                lit(pi)
            ));
        }
    }
    (sql, touched)
}

/// Commits `sql` on `client`: its transaction id.
fn commit(client: &mut postgres::Client, sql: &str) -> String {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(sql).unwrap();
    let xid: String = tx
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    xid
}

#[test]
fn changes_written_through_sql_decide_as_the_store_rebuilt_from_scratch() {
    let Some(cluster) = Cluster::shared("the exactness of SQL changes") else {
        return;
    };
    let (mut compared, mut interleaved, mut statements_run) = (0usize, 0usize, 0usize);
    for seed in [1u64, 2, 5, 6] {
        let w = world(seed);
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies.mspl");
        let base = dir.path().join("base.json");
        std::fs::write(&policies, &w.policies).unwrap();
        std::fs::write(&base, &w.entities).unwrap();
        let admin = cluster.database(&format!("exact{seed}"));
        let url = cluster.app_url(Cluster::db_of(&admin));
        let (code, out, err) = mspl(&["db", "init", &url]);
        assert_eq!(code, 0, "{out}{err}");
        load(&url, base.to_str().unwrap(), policies.to_str().unwrap());
        let server = Served::start_with_env(
            &[
                "--policies",
                policies.to_str().unwrap(),
                "--entities",
                &url,
                "--consistency-wait-ms",
                "5000",
                "--max-batch",
                "100000",
            ],
            &[("PGPASSWORD", APP_PASSWORD)],
        );
        let mut loader = Loader::new(Limits::default());
        loader.add_source("policies.mspl".into(), w.policies.clone());
        let (set, diagnostics) = loader.finish(IdScheme::Annotated);
        assert!(diagnostics.is_empty());
        let prepared = PreparedSet::new(set.clone(), Options::default());
        let mut model: Model = serde_json::from_str::<Vec<Value>>(&w.entities)
            .unwrap()
            .into_iter()
            .map(|e| (crate::transactions::key(&e["uid"]), e))
            .collect();
        let mut one = cluster.client(&admin);
        let mut other = cluster.client(&admin);
        let mut bytes = bytes(seed ^ 0x7E57, 1 << 14).into_iter().cycle();
        let mut pick = |n: usize| bytes.next().unwrap() as usize % n.max(1);
        for batch in 0..5 {
            let mut token = String::new();
            let mut i = 0;
            while i < 8 {
                let (_, next) = transaction(&model, &mut pick);
                let (sql, touched) = statements(&model, &next, pick(2));
                statements_run += sql.lines().count();
                // Now and then a second transaction on other entities,
                // begun after the first and committed before it.
                let (_, after) = transaction(&next, &mut pick);
                let (later_sql, later_touched) = statements(&next, &after, pick(2));
                let disjoint = !touched.is_empty()
                    && !later_touched.is_empty()
                    && later_touched.iter().all(|k| !touched.contains(k));
                if disjoint && pick(3) == 0 {
                    let mut first = one.transaction().unwrap();
                    first.batch_execute(&sql).unwrap();
                    let x1: String = first
                        .query_one("SELECT pg_current_xact_id()::text", &[])
                        .unwrap()
                        .get(0);
                    let x2 = commit(&mut other, &later_sql);
                    // The replica applies the second while the first is
                    // still open: a follower that read "past the last id"
                    // would skip the first for good.
                    let mut conn = server.connect();
                    let asked = json!({
                        "principal": {"type": "User", "id": "u0"},
                        "action": {"type": "Action", "id": "read"},
                        "resource": {"type": "Doc", "id": "d0"},
                        "context": {},
                    });
                    let reply = conn.send(
                        "POST",
                        "/v1/is_authorized",
                        &[("X-Mspl-At-Least", &x2)],
                        asked.to_string().as_bytes(),
                    );
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    first.commit().unwrap();
                    assert!(x1.parse::<u64>().unwrap() < x2.parse::<u64>().unwrap());
                    token = x1;
                    model = after;
                    interleaved += 1;
                    i += 2;
                } else {
                    token = commit(&mut one, &sql);
                    model = next;
                    i += 1;
                }
            }
            let store = rebuilt(&set, &model, Cycles::Allowed).expect("the model loads");
            let requests = domain_requests(&prepared, &store, w.context.as_ref());
            let reply = server.post(
                "/v1/batch_is_authorized",
                &batch_body(&requests, &token).to_string(),
            );
            assert_eq!(reply.status, 200, "{}\n{}", reply.body, server.stderr());
            let answer = reply.json();
            for (r, got) in requests.iter().zip(answer["results"].as_array().unwrap()) {
                let want = prepared.authorize(&store, r);
                assert_eq!(
                    got["decision"],
                    json!(want.decision),
                    "world {seed}, batch {batch}: {r:?}\n{got}"
                );
                assert_eq!(got["determining"], json!(want.determining), "{r:?}");
                compared += 1;
            }
        }
        let (code, stderr) = server.stop();
        assert_eq!(code, 0, "{stderr}");
    }
    assert!(compared > 1000, "{compared} decisions compared");
    assert!(
        interleaved > 3,
        "{interleaved} transactions committed out of order"
    );
    assert!(statements_run > 300, "{statements_run} statements");
}
