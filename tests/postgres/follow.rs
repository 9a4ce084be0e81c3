//! Replicas following the database: a change by plain SQL in effect on
//! two replicas; a three-row transaction seen whole or not at all; two
//! transactions committing out of order both applied; read-your-writes
//! through the token; a bad row stopping application where it stands;
//! the database cut off, stopped and started while clients decide; prune
//! and the full reload after it; `--max-staleness-ms`.

use crate::commands::{loaded, POLICIES};
use crate::postgres_cluster::{Cluster, APP_PASSWORD};
use crate::proxy::Proxy;
use crate::served::Served;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A replica of the database `url` (as `app`).
fn replica(url: &str, more: &[&str]) -> Served {
    let mut args = vec!["--policies", POLICIES, "--entities", url];
    for (flag, value) in [
        ("--entities-poll-ms", "200"),
        ("--consistency-wait-ms", "3000"),
    ] {
        if !more.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(more);
    Served::start_with_env(&args, &[("PGPASSWORD", APP_PASSWORD)])
}

/// `principal` may view the knowledge base of `project-a` (a member of
/// the workspace may).
fn views(principal: &str) -> Value {
    json!({
        "principal": {"type": "RamUser", "id": principal},
        "action": {"type": "Action", "id": "page.view"},
        "resource": {"type": "Page", "id": "project-a/knowledge_base"},
        "context": {},
    })
}

/// The decision of `request` on `server`, asked at least at `token`.
fn decide(server: &Served, request: &Value, token: Option<&str>) -> (u16, Value) {
    let mut conn = server.connect();
    let headers: Vec<(&str, &str)> = token
        .map(|t| vec![("X-Mspl-At-Least", t)])
        .unwrap_or_default();
    let reply = conn.send(
        "POST",
        "/v1/is_authorized",
        &headers,
        request.to_string().as_bytes(),
    );
    let body = if reply.body.is_empty() {
        json!(null)
    } else {
        reply.json()
    };
    (reply.status, body)
}

fn allowed(server: &Served, principal: &str, token: Option<&str>) -> bool {
    let (status, answer) = decide(server, &views(principal), token);
    assert_eq!(status, 200, "{answer}\n{}", server.stderr());
    answer["decision"] == "allow"
}

/// Runs `sql` in one transaction and returns its transaction id (the
/// token a writer hands on), read before `COMMIT`.
fn write(client: &mut postgres::Client, sql: &str) -> String {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(sql).unwrap();
    let xid: String = tx
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    xid
}

fn member(principal: &str) -> String {
    format!("INSERT INTO mspl_parents VALUES ('RamUser', '{principal}', 'Workspace', 'project-a');")
}

/// A new user of the account, in no workspace.
fn user(id: &str) -> String {
    format!(
        "INSERT INTO mspl_entities VALUES ('RamUser', '{id}', '{{\"account\": {{\"__entity\": {{\"type\": \"Account\", \"id\": \"acct-1\"}}}}, \"policies\": [], \"operations\": []}}');"
    )
}

fn status(server: &Served) -> Value {
    server.get("/v1/status").json()["entity_database"].clone()
}

fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    done()
}

#[test]
fn a_change_by_sql_is_in_effect_on_two_replicas_and_read_your_writes() {
    let Some(cluster) = Cluster::shared("replicas following the database") else {
        return;
    };
    let url = loaded(cluster, "replicas");
    let mut sql = cluster.client(&cluster.url(Cluster::db_of(&url)));
    let (a, b) = (replica(&url, &[]), replica(&url, &[]));
    assert!(!allowed(&a, "nobody-01", None) && !allowed(&b, "nobody-01", None));
    let token = write(&mut sql, &member("nobody-01"));
    // Read your writes: the other replica answers once it has the
    // writer's transaction, never before.
    let (code, answer) = decide(&b, &views("nobody-01"), Some(&token));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["decision"], "allow", "{answer}");
    let snapshot = answer["entity_revision"].as_str().unwrap().to_string();
    assert_eq!(
        snapshot.split(':').count(),
        3,
        "a snapshot token: {snapshot}"
    );
    // The first replica by itself, woken by the notification.
    let started = Instant::now();
    assert!(until(Duration::from_secs(3), || allowed(
        &a,
        "nobody-01",
        None
    )));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // An answer's token is a token too, for the other replica.
    let (code, answer) = decide(&a, &views("nobody-01"), Some(&snapshot));
    assert_eq!((code, &answer["decision"]), (200, &json!("allow")));
    // A transaction not yet committed: waited for, then a 503.
    let mut open = cluster.client(&cluster.url(Cluster::db_of(&url)));
    let mut tx = open.transaction().unwrap();
    let pending: String = tx
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .unwrap()
        .get(0);
    let short = replica(&url, &["--consistency-wait-ms", "300"]);
    let (code, answer) = decide(&short, &views("nobody-01"), Some(&pending));
    assert_eq!(code, 503, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not yet at"),
        "{answer}"
    );
    tx.rollback().unwrap();
    let (code, answer) = decide(&short, &views("nobody-01"), Some("soon"));
    assert_eq!(code, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pg_current_xact_id"),
        "{answer}"
    );
    for server in [a, b, short] {
        let (code, log) = server.stop();
        assert_eq!(code, 0, "{log}");
    }
}

#[test]
fn a_transaction_of_three_rows_is_seen_whole_or_not_at_all() {
    let Some(cluster) = Cluster::shared("atomic transactions") else {
        return;
    };
    let url = loaded(cluster, "atomic");
    let mut sql = cluster.client(&cluster.url(Cluster::db_of(&url)));
    let users = ["t-1", "t-2", "t-3"];
    write(&mut sql, &users.iter().map(|u| user(u)).collect::<String>());
    let server = replica(&url, &["--entities-poll-ms", "20"]);
    let stop = Arc::new(AtomicBool::new(false));
    let (mixed, seen_all, seen_none) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let reader = {
        let (stop, mixed, all, none) = (
            stop.clone(),
            mixed.clone(),
            seen_all.clone(),
            seen_none.clone(),
        );
        let addr = server.addr.clone();
        std::thread::spawn(move || {
            let body =
                json!({"requests": users.iter().map(|u| views(u)).collect::<Vec<_>>()}).to_string();
            let mut conn = crate::served::Conn::open(&addr);
            while !stop.load(Ordering::Relaxed) {
                let reply = conn.send("POST", "/v1/batch_is_authorized", &[], body.as_bytes());
                assert_eq!(reply.status, 200, "{}", reply.body);
                let answer = reply.json();
                let allows = answer["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["decision"] == "allow")
                    .count();
                match allows {
                    0 => none.fetch_add(1, Ordering::Relaxed),
                    3 => all.fetch_add(1, Ordering::Relaxed),
                    _ => mixed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let mut last = String::new();
    for round in 0..30 {
        let statements: String = if round % 2 == 0 {
            users.iter().map(|u| member(u)).collect()
        } else {
            "DELETE FROM mspl_parents WHERE child_id LIKE 't-%';".into()
        };
        last = write(&mut sql, &statements);
        std::thread::sleep(Duration::from_millis(30));
    }
    // The last round removed them: once that is applied, all three deny.
    let (code, _) = decide(&server, &views("t-1"), Some(&last));
    assert_eq!(code, 200);
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert_eq!(
        mixed.load(Ordering::Relaxed),
        0,
        "a decision saw part of a transaction"
    );
    assert!(seen_all.load(Ordering::Relaxed) > 0 && seen_none.load(Ordering::Relaxed) > 0);
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn transactions_committing_out_of_order_are_both_applied() {
    let Some(cluster) = Cluster::shared("commits out of order") else {
        return;
    };
    let url = loaded(cluster, "order");
    let admin = cluster.url(Cluster::db_of(&url));
    let mut sql = cluster.client(&admin);
    write(&mut sql, &(user("early") + &user("late")));
    let server = replica(&url, &[]);
    // The first to begin takes the smaller id, and commits last.
    let mut first = cluster.client(&admin);
    let mut second = cluster.client(&admin);
    let mut t1 = first.transaction().unwrap();
    t1.batch_execute(&member("early")).unwrap();
    let x1: String = t1
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .unwrap()
        .get(0);
    let x2 = write(&mut second, &member("late"));
    assert!(x1.parse::<u64>().unwrap() < x2.parse::<u64>().unwrap());
    assert!(allowed(&server, "late", Some(&x2)));
    assert!(!allowed(&server, "early", None), "not yet committed");
    // Several looks go by with the early transaction still open.
    std::thread::sleep(Duration::from_millis(600));
    t1.commit().unwrap();
    assert!(allowed(&server, "early", Some(&x1)), "{}", server.stderr());
    assert!(allowed(&server, "late", None));
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
}

#[test]
fn a_bad_row_stops_application_where_it_stands() {
    let Some(cluster) = Cluster::shared("a bad row") else {
        return;
    };
    let url = loaded(cluster, "badrow");
    let mut sql = cluster.client(&cluster.url(Cluster::db_of(&url)));
    let server = replica(&url, &["--validate"]);
    let good: String = sql
        .query_one(
            "SELECT attrs::text FROM mspl_entities WHERE id = 'user-01'",
            &[],
        )
        .unwrap()
        .get(0);
    let spoiled = write(
        &mut sql,
        "UPDATE mspl_entities SET attrs = attrs || '{\"account\": 7}' WHERE type = 'RamUser' AND id = 'user-01';",
    );
    assert!(until(Duration::from_secs(3), || !status(&server)
        ["stopped"]
        .is_null()));
    let stopped = status(&server)["stopped"].clone();
    assert_eq!(
        stopped["entity"], "entity RamUser::\"user-01\"",
        "{stopped}"
    );
    assert!(
        stopped["reason"]
            .as_str()
            .unwrap()
            .contains("expected `Account`"),
        "{stopped}"
    );
    assert!(server
        .get("/metrics")
        .body
        .contains("mspl_entity_changes_stopped 1\n"));
    // The next good change is not applied over it.
    let after = write(&mut sql, &member("nobody-01"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!allowed(&server, "nobody-01", None));
    let short = decide(&server, &views("nobody-01"), None).1["entity_revision"].clone();
    let (code, _) = {
        let mut conn = server.connect();
        let r = conn.send(
            "POST",
            "/v1/is_authorized",
            &[("X-Mspl-At-Least", &spoiled)],
            views("nobody-01").to_string().as_bytes(),
        );
        (r.status, r.body)
    };
    assert_eq!(
        code, 503,
        "the spoiled transaction is not applied ({short})"
    );
    // Mended: everything after it goes in.
    write(
        &mut sql,
        &format!(
            "UPDATE mspl_entities SET attrs = '{good}' WHERE type = 'RamUser' AND id = 'user-01';"
        ),
    );
    assert!(allowed(&server, "nobody-01", Some(&after)));
    assert!(status(&server)["stopped"].is_null());
    assert!(server
        .get("/metrics")
        .body
        .contains("mspl_entity_changes_stopped 0\n"));
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("RamUser::\"user-01\" refused") && log.contains("mended"),
        "{log}"
    );
}

/// Clients deciding all along: the count of answers that were not 200.
fn deciding(server: &Served, stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, u64)> {
    let (addr, stop) = (server.addr.clone(), stop.clone());
    std::thread::spawn(move || {
        let (mut ok, mut failed) = (0, 0);
        let body = views("user-01").to_string();
        while !stop.load(Ordering::Relaxed) {
            let mut conn = crate::served::Conn::open(&addr);
            match conn.try_send("POST", "/v1/is_authorized", &[], body.as_bytes()) {
                Ok(r) if r.status == 200 => ok += 1,
                _ => failed += 1,
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (ok, failed)
    })
}

#[test]
fn the_database_stopped_and_started_while_clients_decide() {
    let Some(cluster) = Cluster::private("the database stopped and started") else {
        return;
    };
    let url = loaded(&cluster, "restart");
    let server = replica(&url, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = deciding(&server, &stop);
    std::thread::sleep(Duration::from_millis(300));
    cluster.stop();
    assert!(
        until(Duration::from_secs(5), || {
            let s = status(&server);
            s["connected"] == false
                && !s["trouble"].is_null()
                && s["staleness_ms"].as_u64().unwrap_or(0) > 1000
        }),
        "{}",
        status(&server)
    );
    let metrics = server.get("/metrics").body;
    let age: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mspl_entity_revision_age_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(age > 1.0, "{metrics}");
    cluster.start().unwrap();
    let mut sql = cluster.client(&cluster.url(Cluster::db_of(&url)));
    let token = write(&mut sql, &member("nobody-01"));
    assert!(until(Duration::from_secs(10), || status(&server)
        ["connected"]
        == true));
    assert!(allowed(&server, "nobody-01", Some(&token)));
    assert_eq!(
        status(&server)["full_reads"],
        1,
        "caught up from the change table"
    );
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = clients.join().unwrap();
    assert_eq!(failed, 0, "{ok} answered");
    assert!(ok > 50);
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("connected again"), "{log}");
}

#[test]
fn a_cut_replica_catches_up_and_past_max_staleness_refuses() {
    let Some(cluster) = Cluster::shared("a network cut") else {
        return;
    };
    let url = loaded(cluster, "cut");
    let proxy = Proxy::to(cluster.port);
    let through = url.replace(&format!(":{}/", cluster.port), &format!(":{}/", proxy.port));
    let server = replica(&through, &["--max-staleness-ms", "1500"]);
    let mut sql = cluster.client(&cluster.url(Cluster::db_of(&url)));
    assert!(!allowed(&server, "nobody-01", None));
    proxy.cut();
    let token = write(&mut sql, &member("nobody-01"));
    // Within the bound: the last revision answers.
    let (code, answer) = decide(&server, &views("nobody-01"), None);
    assert_eq!((code, &answer["decision"]), (200, &json!("deny")));
    // Past it: 503, until the replica is current again.
    assert!(until(Duration::from_secs(5), || decide(
        &server,
        &views("nobody-01"),
        None
    )
    .0 == 503));
    let (_, answer) = decide(&server, &views("nobody-01"), None);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-staleness-ms"),
        "{answer}"
    );
    proxy.restore();
    assert!(until(Duration::from_secs(10), || decide(
        &server,
        &views("nobody-01"),
        None
    )
    .0 == 200));
    assert!(allowed(&server, "nobody-01", Some(&token)));
    assert_eq!(
        status(&server)["full_reads"],
        1,
        "caught up from the change table"
    );
    // Cut again; what it misses is pruned: a full read when it is back.
    proxy.cut();
    write(
        &mut sql,
        "DELETE FROM mspl_parents WHERE child_id = 'nobody-01';",
    );
    let (code, out, err) = crate::commands::mspl(&["db", "prune", &url, "--older-than", "0s"]);
    assert_eq!(code, 0, "{out}{err}");
    proxy.restore();
    assert!(
        until(Duration::from_secs(10), || status(&server)["full_reads"]
            == 2),
        "{}",
        status(&server)
    );
    assert!(!allowed(&server, "nobody-01", None));
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("pruned"), "{log}");
}
