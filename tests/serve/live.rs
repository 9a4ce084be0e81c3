//! Live entity data (`--entity-changes`): transactions through the change
//! log and the write API decide as the store rebuilt from scratch; every
//! acknowledged write survives a `SIGKILL`; changes take effect under load
//! with no failed request; bad input is told and loses nothing.

use crate::served::Served;
use crate::transactions::{batch_body, domain_requests, rebuilt, transaction, Model};
use crate::worlds::{bytes, world};
use mspl::__internal::authorize::{Options, PreparedSet};
use mspl::__internal::entities::build::Cycles;
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::Limits;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "live-secret";

/// A folder with policies, a base, an empty log and the admin token.
fn folder(policies: &str, base: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policies.mspl"), policies).unwrap();
    std::fs::write(dir.path().join("base.json"), base).unwrap();
    std::fs::write(dir.path().join("changes.jsonl"), "").unwrap();
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    dir
}

fn serve(dir: &Path, more: &[&str]) -> Served {
    let p = |n: &str| dir.join(n).display().to_string();
    let (policies, base, log, token) = (
        p("policies.mspl"),
        p("base.json"),
        p("changes.jsonl"),
        p("token"),
    );
    let mut args = vec![
        "--policies",
        &policies,
        "--entities",
        &base,
        "--entity-changes",
        &log,
        "--admin-token-file",
        &token,
        "--poll-interval-ms",
        "50",
    ];
    args.extend_from_slice(more);
    Served::start(&args)
}

fn append(dir: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("changes.jsonl"))
        .unwrap();
    f.write_all(line.as_bytes()).unwrap();
    f.sync_all().unwrap();
}

fn write(server: &Served, body: &str) -> (u16, Value) {
    let mut conn = server.connect();
    let reply = conn.send(
        "POST",
        "/v1/entities",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        body.as_bytes(),
    );
    (reply.status, reply.json())
}

fn serving(server: &Served) -> u64 {
    server.get("/v1/status").json()["entity_revision"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// Transactions alternately appended to the log and written through the
/// API, on generated worlds: after each batch, every request of the
/// domain, asked at least at the batch's revision, is decided as the
/// library decides it on the store rebuilt from the model.
#[test]
fn the_log_and_the_api_decide_as_the_store_rebuilt_from_scratch() {
    let mut compared = 0;
    for seed in [1u64, 2, 5] {
        let w = world(seed);
        let dir = folder(&w.policies, &w.entities);
        let server = serve(dir.path(), &[]);
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
        let mut bytes = bytes(seed ^ 0x5A5A, 1 << 14).into_iter().cycle();
        let mut pick = |n: usize| bytes.next().unwrap() as usize % n.max(1);
        let mut revision = 0u64;
        for batch in 0..5 {
            for i in 0..8 {
                let (tx, next) = transaction(&model, &mut pick);
                if (batch + i) % 2 == 0 {
                    append(dir.path(), &format!("{tx}\n"));
                } else {
                    let (status, answer) = write(&server, &tx.to_string());
                    assert_eq!(status, 200, "{answer}");
                    assert_eq!(answer["revision"], (revision + 1).to_string());
                }
                revision += 1;
                model = next;
            }
            let store = rebuilt(&set, &model, Cycles::Allowed).expect("the model loads");
            let requests = domain_requests(&prepared, &store, w.context.as_ref());
            let body = batch_body(&requests, &revision.to_string());
            let reply = server.post("/v1/batch_is_authorized", &body.to_string());
            assert_eq!(reply.status, 200, "{}", reply.body);
            let answer = reply.json();
            assert_eq!(
                answer["entity_revision"],
                revision.to_string(),
                "{}",
                server.stderr()
            );
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
    assert!(compared > 500, "{compared} decisions compared");
}

/// A storm of writes killed with `SIGKILL`: after a restart, every
/// acknowledged write is there, no transaction is half applied (every
/// line of the log is whole and applies), and revisions go on.
#[test]
fn every_acknowledged_write_survives_a_kill() {
    let dir = folder(
        "entity User; entity Group; action view appliesTo { principal: User, resource: Group };\npermit (principal, action, resource) when { principal in resource };\n",
        "[]",
    );
    let server = serve(dir.path(), &[]);
    let acknowledged = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (server, acknowledged) = (&server, &acknowledged);
            s.spawn(move || {
                for i in 0..400 {
                    let body = json!({"ops": [
                        {"op": "upsert", "entity": {"uid": {"type": "User", "id": format!("u{t}-{i}")}, "attrs": {}, "parents": [{"type": "Group", "id": "g"}]}},
                        {"op": "upsert", "entity": {"uid": {"type": "Group", "id": format!("g{t}-{i}")}, "attrs": {}, "parents": []}}
                    ]});
                    let mut conn = server.connect();
                    let Ok(reply) = conn.try_send(
                        "POST",
                        "/v1/entities",
                        &[("Authorization", &format!("Bearer {TOKEN}"))],
                        body.to_string().as_bytes(),
                    ) else {
                        return; // killed
                    };
                    if reply.status != 200 {
                        return;
                    }
                    let token: u64 = reply.json()["revision"].as_str().unwrap().parse().unwrap();
                    acknowledged.lock().unwrap().push((token, format!("u{t}-{i}")));
                }
            });
        }
        // Kill it in the middle of the storm.
        assert!(server.wait_until(Duration::from_secs(30), |_| acknowledged
            .lock()
            .unwrap()
            .len()
            >= 200));
        server.signal(libc::SIGKILL);
    });
    drop(server);
    let acknowledged = acknowledged.into_inner().unwrap();
    let most = acknowledged.iter().map(|(t, _)| *t).max().unwrap();
    let log = std::fs::read_to_string(dir.path().join("changes.jsonl")).unwrap();
    let whole = log.matches('\n').count() as u64;
    assert!(
        whole >= most,
        "{whole} lines in the log, {most} acknowledged"
    );
    let server = serve(dir.path(), &[]);
    let status = server.get("/v1/status").json();
    assert_eq!(status["entity_changes"]["stopped"], Value::Null, "{status}");
    let at = serving(&server);
    assert_eq!(at, whole, "{status}");
    for (_, user) in &acknowledged {
        let reply = server.post(
            "/v1/is_authorized",
            &json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "view"},
                    "resource": {"type": "Group", "id": "g"}, "context": {}}).to_string(),
        );
        assert_eq!(reply.json()["decision"], "allow", "{user}: {}", reply.body);
    }
    let (status, answer) = write(
        &server,
        r#"{"op": "delete", "uid": {"type": "User", "id": "u0-0"}}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["revision"], (whole + 1).to_string());
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// Client threads decide while 100 transactions (a member added or
/// removed) are written, alternately through the log and the API: every
/// change takes effect (within 10 s), and no request fails.
#[test]
fn changes_take_effect_under_load_with_no_failed_request() {
    let dir = folder(
        "entity User; entity Team; action view appliesTo { principal: User, resource: Team };\npermit (principal, action, resource) when { principal in resource };\n",
        r#"[{"uid": {"type": "Team", "id": "t"}, "attrs": {}, "parents": []}]"#,
    );
    let server = serve(dir.path(), &[]);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (sent, failed) = (
        std::sync::atomic::AtomicU64::new(0),
        std::sync::atomic::AtomicU64::new(0),
    );
    let ask = |user: &str| {
        json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "view"},
               "resource": {"type": "Team", "id": "t"}, "context": {}})
        .to_string()
    };
    let mut worst = Duration::ZERO;
    std::thread::scope(|s| {
        for c in 0..3 {
            let (server, stop, sent, failed, ask) = (&server, &stop, &sent, &failed, &ask);
            s.spawn(move || {
                let mut conn = server.connect();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let ok = conn
                        .try_send(
                            "POST",
                            "/v1/is_authorized",
                            &[],
                            ask(&format!("m{}", c % 10)).as_bytes(),
                        )
                        .is_ok_and(|r| r.status == 200);
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if !ok {
                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        conn = server.connect();
                    }
                }
            });
        }
        for i in 0..100 {
            let member = format!("m{}", i % 10);
            let joining = (i / 10) % 2 == 0;
            let tx = if joining {
                json!({"op": "upsert", "entity": {"uid": {"type": "User", "id": member}, "attrs": {}, "parents": [{"type": "Team", "id": "t"}]}})
            } else {
                json!({"op": "delete", "uid": {"type": "User", "id": member}})
            };
            let started = Instant::now();
            if i % 2 == 0 {
                append(dir.path(), &format!("{tx}\n"));
            } else {
                let (status, answer) = write(&server, &tx.to_string());
                assert_eq!(status, 200, "{answer}");
            }
            let want = if joining { "allow" } else { "deny" };
            assert!(
                server.wait_until(Duration::from_secs(10), |s| {
                    s.post("/v1/is_authorized", &ask(&member)).json()["decision"] == want
                }),
                "change {i} did not take effect"
            );
            worst = worst.max(started.elapsed());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let sent = sent.into_inner();
    eprintln!("100 changes under load: {sent} requests, the slowest in effect after {worst:?}");
    assert!(sent > 100, "{sent} requests");
    assert_eq!(failed.into_inner(), 0, "{}", server.stderr());
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// Bad input is told, and nothing is lost: a malformed line stops the log
/// there (status names it, writes answer 409) until mended; a line cut in
/// the middle waits for its end; an undeclared type refuses its
/// transaction; a delete of an unknown entity is a reported no-op; a write
/// without the token is a 401, one over `--max-body-bytes` a 413; a write
/// whose precondition fails is a 412 and writes nothing.
#[test]
fn bad_input_is_told_and_nothing_is_lost() {
    let dir = folder(
        "entity User; entity Team; action view appliesTo { principal: User, resource: Team };\npermit (principal, action, resource) when { principal in resource };\n",
        "[]",
    );
    let server = serve(dir.path(), &["--max-body-bytes", "2000"]);
    // No token, a body too large.
    let reply = server.post(
        "/v1/entities",
        r#"{"op": "delete", "uid": {"type": "User", "id": "a"}}"#,
    );
    assert_eq!(reply.status, 401, "{}", reply.body);
    let (status, answer) = write(
        &server,
        &format!(r#"{{"ops": [], "pad": "{}"}}"#, "x".repeat(3000)),
    );
    assert_eq!(status, 413, "{answer}");
    // A delete of an unknown entity: applied, a no-op, reported.
    let (status, answer) = write(
        &server,
        r#"{"op": "delete", "uid": {"type": "User", "id": "nobody"}}"#,
    );
    assert_eq!((status, answer["revision"].as_str()), (200, Some("1")));
    assert!(server.wait_until(Duration::from_secs(5), |s| s
        .stderr()
        .contains("not an entity: nothing to do")));
    // An undeclared type: refused, nothing written.
    let (status, answer) = write(
        &server,
        r#"{"op": "upsert", "entity": {"uid": {"type": "Robot", "id": "r"}, "attrs": {}, "parents": []}}"#,
    );
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("not declared"), "{answer}");
    // A precondition that does not hold.
    let (status, answer) = write(
        &server,
        r#"{"ops": [{"op": "delete", "uid": {"type": "User", "id": "x"}}], "if_revision": "7"}"#,
    );
    assert_eq!(status, 412, "{answer}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("changes.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    // A line cut in the middle waits; its end applies it.
    append(
        dir.path(),
        r#"{"op": "upsert", "entity": {"uid": {"type": "User", "id": "ann"}, "#,
    );
    append(
        dir.path(),
        "\"attrs\": {}, \"parents\": [{\"type\": \"Team\", \"id\": \"t\"}]}}\n",
    );
    assert!(server.wait_until(Duration::from_secs(5), |s| serving(s) == 2));
    // A malformed line stops the log there; a later good line waits.
    append(dir.path(), "{\"op\": \"upsert\", \"entity\": \n");
    append(
        dir.path(),
        "{\"op\": \"delete\", \"uid\": {\"type\": \"User\", \"id\": \"ann\"}}\n",
    );
    assert!(server.wait_until(Duration::from_secs(5), |s| {
        s.get("/v1/status").json()["entity_changes"]["stopped"]["line"] == 3
    }));
    assert_eq!(serving(&server), 2);
    let (status, answer) = write(
        &server,
        r#"{"op": "delete", "uid": {"type": "User", "id": "ann"}}"#,
    );
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("line 3"), "{answer}");
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("mspl_entity_revision 2\n"), "{metrics}");
    // Mended: the log goes on, the later line included.
    let log = std::fs::read_to_string(dir.path().join("changes.jsonl")).unwrap();
    let mended = log.replace(
        "{\"op\": \"upsert\", \"entity\": \n",
        "{\"op\": \"delete\", \"uid\": {\"type\": \"User\", \"id\": \"ghost\"}}\n",
    );
    std::fs::write(dir.path().join("changes.jsonl"), mended).unwrap();
    assert!(
        server.wait_until(Duration::from_secs(5), |s| serving(s) == 4),
        "{}",
        server.stderr()
    );
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// A request may ask for a revision: it waits for it (`X-Mspl-At-Least`,
/// `"consistency": {"at_least": …}`), or is answered 503 with
/// `Retry-After` after `--consistency-wait-ms` — never from an older one.
#[test]
fn a_request_waits_for_the_revision_it_asks_for() {
    let dir = folder(
        "entity User; entity Team; action view appliesTo { principal: User, resource: Team };\npermit (principal, action, resource) when { principal in resource };\n",
        "[]",
    );
    let server = serve(dir.path(), &["--consistency-wait-ms", "3000"]);
    let ask = json!({"principal": {"type": "User", "id": "bo"}, "action": {"type": "Action", "id": "view"},
                     "resource": {"type": "Team", "id": "t"}, "context": {}, "consistency": {"at_least": "1"}});
    std::thread::scope(|s| {
        let waiting = s.spawn(|| server.post("/v1/is_authorized", &ask.to_string()));
        std::thread::yield_now();
        append(dir.path(), "{\"op\": \"upsert\", \"entity\": {\"uid\": {\"type\": \"User\", \"id\": \"bo\"}, \"attrs\": {}, \"parents\": [{\"type\": \"Team\", \"id\": \"t\"}]}}\n");
        let reply = waiting.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["decision"], "allow");
        assert_eq!(reply.header("x-mspl-entity-revision"), Some("1"));
    });
    let mut conn = server.connect();
    let started = Instant::now();
    let reply = conn.send("POST", "/access/v1/evaluation", &[("X-Mspl-At-Least", "9")],
        br#"{"subject": {"type": "User", "id": "bo"}, "action": {"name": "view"}, "resource": {"type": "Team", "id": "t"}}"#);
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(started.elapsed() >= Duration::from_millis(2900));
    let reply = conn.send(
        "POST",
        "/v1/is_authorized",
        &[("X-Mspl-At-Least", "soon")],
        ask.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// A search answer kept in memory is served again only on the store it was
/// computed on: after a write, the same search is computed afresh and sees
/// the change.
#[test]
fn a_kept_search_answer_is_not_served_after_a_change() {
    let dir = folder(
        "entity User in [Team]; entity Team; action view appliesTo { principal: User, resource: Team };\npermit (principal, action, resource) when { principal in resource };\n",
        r#"[{"uid": {"type": "Team", "id": "t"}, "attrs": {}, "parents": []},
            {"uid": {"type": "User", "id": "a"}, "attrs": {}, "parents": [{"type": "Team", "id": "t"}]}]"#,
    );
    let server = serve(dir.path(), &[]);
    let body = r#"{"subject": {"type": "User"}, "action": {"name": "view"}, "resource": {"type": "Team", "id": "t"}}"#;
    let ids = |reply: Value| -> Vec<String> {
        reply["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = server.post("/access/v1/search/subject", body);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ids(first.json()), ["a"]);
    let again = server.post("/access/v1/search/subject", body);
    assert_eq!(ids(again.json()), ["a"]);
    assert!(server
        .get("/metrics")
        .body
        .contains("mspl_search_answers_total{source=\"kept\"} 1"));
    let (status, answer) = write(
        &server,
        r#"{"op": "upsert", "entity": {"uid": {"type": "User", "id": "b"}, "attrs": {}, "parents": [{"type": "Team", "id": "t"}]}}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert!(server.wait_until(Duration::from_secs(5), |s| serving(s) >= 1));
    let after = server.post("/access/v1/search/subject", body);
    assert_eq!(ids(after.json()), ["a", "b"], "the change is seen");
    assert!(server
        .get("/metrics")
        .body
        .contains("mspl_search_answers_total{source=\"computed\"} 2"));
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}
