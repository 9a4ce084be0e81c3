//! AuthZEN as its clients use it: the OpenID AuthZEN working group's
//! interop files (`../shared/authzen-interop`: Todo for the drafts 1.0-00,
//! -01 and -02, Search, API gateway) replayed as their runners replay
//! them, against mspl policies and stores written from the scenario texts
//! (`tests/cases/authzen/`); and every test id of the 1.0 certification
//! scenario's matrix, at each level, against its fixture
//! (`tests/cases/authzen/certification/`).

use super::served::{Reply, Served};
use serde_json::{json, Value as Json};

const CASES: &str = "tests/cases/authzen";

fn serve(fixture: &str, entities: &str) -> Served {
    Served::start(&[
        "-p",
        &format!("{CASES}/{fixture}/policies.mspl"),
        "--entities",
        &format!("{CASES}/{fixture}/{entities}"),
    ])
}

/// A file of the interop data, or `None` (said) where `../shared` is absent.
fn interop(file: &str) -> Option<Json> {
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir =
        super::shared_data::shared(checkout, "authzen-interop", "the AuthZEN interop replay")?;
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

/// Replays the `evaluation` (and `evaluations`) entries of a decision
/// file as the Todo and gateway runners do: a decision compared by value,
/// an `evaluations` answer compared as whole JSON. Every answer must also
/// be a 200 (the runners would read a 400 as `false`). The entries
/// replayed.
fn replay_decisions(server: &Served, file: &Json) -> usize {
    let mut done = 0;
    for (key, path) in [
        ("evaluation", "/access/v1/evaluation"),
        ("evaluations", "/access/v1/evaluations"),
    ] {
        for case in file[key].as_array().into_iter().flatten() {
            let reply = server.post(path, &case["request"].to_string());
            assert_eq!(reply.status, 200, "{}: {}", case["request"], reply.body);
            let body = reply.json();
            if key == "evaluation" {
                assert_eq!(
                    body["decision"], case["expected"],
                    "{}: {}",
                    case["request"], reply.body
                );
            } else {
                assert_eq!(
                    body["evaluations"].to_string(),
                    case["expected"].to_string(),
                    "{}",
                    case["request"]
                );
            }
            done += 1;
        }
    }
    done
}

#[test]
fn the_todo_and_gateway_interop_files_pass() {
    let Some(gateway) = interop("gateway/decisions.json") else {
        return;
    };
    let mut todo = 0;
    for (draft, entities) in [
        ("00", "entities-00.json"),
        ("01", "entities.json"),
        ("02", "entities.json"),
    ] {
        let file = interop(&format!(
            "todo/decisions-authorization-api-1_0-{draft}.json"
        ))
        .unwrap();
        let server = serve("todo", entities);
        todo += replay_decisions(&server, &file);
    }
    assert_eq!(todo, 123, "Todo: 40 decisions per draft and 3 batches");
    let server = serve("gateway", "entities.json");
    assert_eq!(replay_decisions(&server, &gateway), 25, "API gateway");
}

/// A search's results as the Search runner compares them: sorted by type
/// and id (or name), each exactly `{type, id}` or `{name}`.
fn sorted(results: &Json) -> Vec<String> {
    let mut items: Vec<String> = results
        .as_array()
        .unwrap_or_else(|| panic!("no results array: {results}"))
        .iter()
        .map(|r| {
            let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            assert!(
                keys == ["id", "type"] || keys == ["type", "id"] || keys == ["name"],
                "{r}"
            );
            r.to_string()
        })
        .collect();
    items.sort();
    items
}

#[test]
fn the_search_interop_files_pass() {
    let Some(subject) = interop("search/subject/results.json") else {
        return;
    };
    let server = serve("search", "entities.json");
    let mut done = 0;
    for (kind, file) in [
        ("subject", subject),
        ("resource", interop("search/resource/results.json").unwrap()),
        ("action", interop("search/action/results.json").unwrap()),
    ] {
        for case in file["evaluation"].as_array().unwrap() {
            let reply = server.post(
                &format!("/access/v1/search/{kind}"),
                &case["request"].to_string(),
            );
            assert_eq!(reply.status, 200, "{}: {}", case["request"], reply.body);
            assert_eq!(
                sorted(&reply.json()["results"]),
                sorted(&case["expected"]["results"]),
                "{kind} search {}",
                case["request"]
            );
            done += 1;
        }
    }
    assert_eq!(done, 198, "60 subject, 18 resource and 120 action searches");
}

/// One certification case: its id, the endpoint, the body, the status it
/// must answer and a check of the answer.
struct Case {
    id: &'static str,
    path: &'static str,
    body: Json,
    status: u16,
    check: fn(&Json) -> bool,
}

fn decision(expected: bool) -> fn(&Json) -> bool {
    if expected {
        |b| b["decision"] == true && b.get("context").map_or(true, Json::is_object)
    } else {
        |b| b["decision"] == false && b.get("context").map_or(true, Json::is_object)
    }
}

fn any_decision(b: &Json) -> bool {
    b["decision"].is_boolean()
}

/// `{"evaluations": [...]}` with these decisions, in this order, and no
/// top-level decision beside them.
fn items(b: &Json, expected: &[bool]) -> bool {
    let Some(items) = b["evaluations"].as_array() else {
        return false;
    };
    b.get("decision").is_none()
        && items.len() == expected.len()
        && items
            .iter()
            .zip(expected)
            .all(|(i, e)| i["decision"] == *e && i.get("context").map_or(true, Json::is_object))
}

/// Whether `results` (of `{type, id}` or `{name}`) holds every one of
/// `wanted` (ids or names), each result of type `ty` when given.
fn includes(b: &Json, ty: Option<&str>, wanted: &[&str]) -> bool {
    let Some(results) = b["results"].as_array() else {
        return false;
    };
    let well_formed = results.iter().all(|r| match ty {
        Some(t) => r["type"] == t && r["id"].is_string(),
        None => r["name"].is_string(),
    });
    well_formed
        && wanted
            .iter()
            .all(|w| results.iter().any(|r| r["id"] == *w || r["name"] == *w))
}

fn empty_results(b: &Json) -> bool {
    b["results"] == json!([])
}

fn ok(_: &Json) -> bool {
    true
}

const EVALUATION: &str = "/access/v1/evaluation";
const EVALUATIONS: &str = "/access/v1/evaluations";
const SUBJECT: &str = "/access/v1/search/subject";
const RESOURCE: &str = "/access/v1/search/resource";
const ACTION: &str = "/access/v1/search/action";

fn alice() -> Json {
    json!({"type": "user", "id": "alice"})
}
fn bob() -> Json {
    json!({"type": "user", "id": "bob"})
}
fn record(id: &str) -> Json {
    json!({"type": "record", "id": id})
}
fn action(name: &str) -> Json {
    json!({"name": name})
}

/// The certification scenario's cases, by level (c-2 to c-4; c-5's
/// transport rules are checked with every case; c-6 separately).
fn certification() -> Vec<(&'static str, Vec<Case>)> {
    let case = |id, path, body, status, check| Case {
        id,
        path,
        body,
        status,
        check,
    };
    let basic_core = vec![
        case(
            "c-2-2-1",
            EVALUATION,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1")}),
            200,
            decision(true),
        ),
        case(
            "c-2-2-2",
            EVALUATION,
            json!({"subject": bob(), "action": action("write"), "resource": record("record-1")}),
            200,
            decision(false),
        ),
        case(
            "c-2-2-3",
            EVALUATION,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1"),
            "context": {"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"}}),
            200,
            decision(true),
        ),
        case(
            "c-2-2-8",
            EVALUATION,
            json!({"subject": {"type": "user", "id": "alice", "properties": {"department": "Sales", "role": "manager"}},
            "action": {"name": "read", "properties": {"method": "GET"}},
            "resource": {"type": "record", "id": "record-1", "properties": {"status": "active", "owner": "bob"}}}),
            200,
            decision(true),
        ),
        case(
            "c-2-2-9",
            EVALUATION,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1"),
            "foo": "bar", "futureField": {"nested": true}}),
            200,
            decision(true),
        ),
        case(
            "c-2-3",
            EVALUATION,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1")}),
            200,
            any_decision,
        ),
        case(
            "c-2-4-1",
            EVALUATION,
            json!({"action": action("read"), "resource": record("record-1")}),
            400,
            ok,
        ),
        case(
            "c-2-4-1",
            EVALUATION,
            json!({"subject": alice(), "resource": record("record-1")}),
            400,
            ok,
        ),
        case(
            "c-2-4-1",
            EVALUATION,
            json!({"subject": alice(), "action": action("read")}),
            400,
            ok,
        ),
        case(
            "c-2-4-2",
            EVALUATION,
            json!({"subject": {"id": "alice"}, "action": action("read"), "resource": record("record-1")}),
            400,
            ok,
        ),
        case(
            "c-2-4-2",
            EVALUATION,
            json!({"subject": {"type": "user"}, "action": action("read"), "resource": record("record-1")}),
            400,
            ok,
        ),
        case(
            "c-2-4-2",
            EVALUATION,
            json!({"subject": alice(), "action": {}, "resource": record("record-1")}),
            400,
            ok,
        ),
        case(
            "c-2-4-2",
            EVALUATION,
            json!({"subject": alice(), "action": action("read"), "resource": {"id": "record-1"}}),
            400,
            ok,
        ),
        case(
            "c-2-4-2",
            EVALUATION,
            json!({"subject": alice(), "action": action("read"), "resource": {"type": "record"}}),
            400,
            ok,
        ),
        case(
            "c-2-4-6",
            EVALUATION,
            json!({"subject": "alice", "action": action("read"), "resource": record("record-1")}),
            400,
            ok,
        ),
        case(
            "c-2-4-6",
            EVALUATION,
            json!({"subject": alice(), "action": {"name": 123}, "resource": record("record-1")}),
            400,
            ok,
        ),
    ];
    let basic_properties = vec![
        case(
            "c-2-2-4",
            EVALUATION,
            json!({"subject": alice(), "action": action("write"),
            "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
            200,
            decision(false),
        ),
        case(
            "c-2-2-5",
            EVALUATION,
            json!({"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}}, "action": action("write"),
            "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
            200,
            decision(true),
        ),
        case(
            "c-2-2-6",
            EVALUATION,
            json!({"subject": alice(), "action": {"name": "delete", "properties": {"soft": true}},
            "resource": record("record-1")}),
            200,
            decision(true),
        ),
        case(
            "c-2-2-7",
            EVALUATION,
            json!({"subject": alice(), "action": {"name": "delete", "properties": {"soft": false}},
            "resource": record("record-1")}),
            200,
            decision(false),
        ),
    ];
    let batch_core = vec![
        case(
            "c-3-2-1",
            EVALUATIONS,
            json!({"subject": alice(), "action": action("read"),
            "evaluations": [{"resource": record("record-1")}, {"resource": record("record-2")}]}),
            200,
            |b| {
                b["evaluations"]
                    .as_array()
                    .is_some_and(|i| i.len() == 2 && i.iter().all(any_decision))
            },
        ),
        case(
            "c-3-2-2",
            EVALUATIONS,
            json!({"subject": bob(), "resource": record("record-1"),
            "evaluations": [{"action": action("read")}, {"action": action("write")}]}),
            200,
            |b| items(b, &[true, false]),
        ),
        case(
            "c-3-2-5",
            EVALUATIONS,
            json!({"evaluations": [
            {"subject": alice(), "action": action("read"), "resource": record("record-1")},
            {"subject": bob(), "action": action("write"), "resource": record("record-1")}]}),
            200,
            |b| items(b, &[true, false]),
        ),
        case(
            "c-3-2-6",
            EVALUATIONS,
            json!({"subject": alice(), "action": action("read"), "context": {"time": "2025-06-27T18:03-07:00"},
            "evaluations": [{"resource": record("record-1")},
                {"resource": record("record-2"), "context": {"time": "2025-06-27T19:00-07:00", "source": "batch-override"}}]}),
            200,
            |b| b["evaluations"].as_array().is_some_and(|i| i.len() == 2),
        ),
        case(
            "c-3-4-1",
            EVALUATIONS,
            json!({"subject": alice(), "action": action("read"),
            "options": {"evaluations_semantic": "execute_all"},
            "evaluations": [{"resource": record("record-1")}, {}]}),
            200,
            |b| items(b, &[true, false]) && b["evaluations"][1]["context"].is_object(),
        ),
        case(
            "c-3-4-2",
            EVALUATIONS,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1")}),
            200,
            decision(true),
        ),
        case(
            "c-3-4-3",
            EVALUATIONS,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1"), "evaluations": []}),
            200,
            decision(true),
        ),
    ];
    let batch_properties = vec![
        case(
            "c-3-2-3",
            EVALUATIONS,
            json!({"subject": alice(), "action": action("write"), "evaluations": [
            {"resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}}},
            {"resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}]}),
            200,
            |b| items(b, &[true, false]),
        ),
        case(
            "c-3-2-4",
            EVALUATIONS,
            json!({"action": action("write"),
            "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}},
            "evaluations": [{"subject": alice()}, {"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}}}]}),
            200,
            |b| items(b, &[false, true]),
        ),
        case(
            "c-3-2-7",
            EVALUATIONS,
            json!({"subject": alice(), "action": action("write"),
            "resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}},
            "evaluations": [{}, {"resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}]}),
            200,
            |b| items(b, &[true, false]),
        ),
    ];
    let context = json!({"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"});
    let search_core = vec![
        case(
            "c-4-2-1",
            SUBJECT,
            json!({"subject": {"type": "user"}, "action": action("read"), "resource": record("record-1")}),
            200,
            |b| includes(b, Some("user"), &["alice", "bob"]),
        ),
        case(
            "c-4-2-2",
            SUBJECT,
            json!({"subject": {"type": "user"}, "action": action("read"), "resource": record("record-1"), "context": context}),
            200,
            |b| includes(b, Some("user"), &["alice", "bob"]),
        ),
        case(
            "c-4-2-3",
            SUBJECT,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1")}),
            200,
            |b| includes(b, Some("user"), &["alice", "bob"]),
        ),
        case(
            "c-4-3-1",
            RESOURCE,
            json!({"subject": alice(), "action": action("read"), "resource": {"type": "record"}}),
            200,
            |b| includes(b, Some("record"), &["record-1"]),
        ),
        case(
            "c-4-3-2",
            RESOURCE,
            json!({"subject": alice(), "action": action("read"), "resource": {"type": "record"}, "context": context}),
            200,
            |b| includes(b, Some("record"), &["record-1"]),
        ),
        case(
            "c-4-3-3",
            RESOURCE,
            json!({"subject": alice(), "action": action("read"), "resource": record("record-1")}),
            200,
            |b| includes(b, Some("record"), &["record-1", "record-2"]),
        ),
        case(
            "c-4-4-1",
            ACTION,
            json!({"subject": alice(), "resource": record("record-1")}),
            200,
            |b| includes(b, None, &["read", "write"]),
        ),
        case(
            "c-4-4-2",
            ACTION,
            json!({"subject": alice(), "resource": record("record-1"), "context": context}),
            200,
            |b| includes(b, None, &["read", "write"]),
        ),
        case(
            "c-4-6-1",
            ACTION,
            json!({"subject": {"type": "user", "id": "nonexistent-user"}, "resource": record("record-1")}),
            200,
            empty_results,
        ),
        case(
            "c-4-6-2",
            SUBJECT,
            json!({"subject": {"type": "spaceship"}, "action": action("read"), "resource": record("record-1")}),
            200,
            empty_results,
        ),
        case(
            "c-4-6",
            RESOURCE,
            json!({"subject": alice(), "action": action("launch"), "resource": {"type": "record"}}),
            200,
            empty_results,
        ),
        case(
            "c-4-6",
            SUBJECT,
            json!({"subject": {"type": "user"}, "action": action("read"), "resource": {"type": "planet", "id": "mars"}}),
            200,
            empty_results,
        ),
        case(
            "c-4-7-1",
            SUBJECT,
            json!({"subject": {"type": "user"}, "resource": record("record-1")}),
            400,
            ok,
        ),
        case(
            "c-4-7-1",
            RESOURCE,
            json!({"action": action("read"), "resource": {"type": "record"}}),
            400,
            ok,
        ),
        case("c-4-7-1", ACTION, json!({"subject": alice()}), 400, ok),
        case(
            "c-4-7-2",
            SUBJECT,
            json!({"subject": {"type": "user"}, "action": action("read"), "resource": {"type": "record"}}),
            400,
            ok,
        ),
        case(
            "c-4-7-2",
            RESOURCE,
            json!({"subject": {"type": "user"}, "action": action("read"), "resource": {"type": "record"}}),
            400,
            ok,
        ),
        case(
            "c-4-7-2",
            ACTION,
            json!({"subject": {"type": "user"}, "resource": record("record-1")}),
            400,
            ok,
        ),
    ];
    let search_properties = vec![
        case(
            "c-4-2-4",
            SUBJECT,
            json!({"subject": {"type": "user"}, "action": action("write"),
            "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
            200,
            |b| includes(b, Some("user"), &["bob"]),
        ),
        case(
            "c-4-3-4",
            RESOURCE,
            json!({"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}},
            "action": action("write"), "resource": {"type": "record"}}),
            200,
            |b| includes(b, Some("record"), &["record-2"]),
        ),
        case(
            "c-4-4-3",
            ACTION,
            json!({"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}},
            "resource": {"type": "record", "id": "record-2", "properties": {"status": "archived"}}}),
            200,
            |b| includes(b, None, &["write"]),
        ),
    ];
    vec![
        ("Basic Core", basic_core),
        ("Basic Properties", basic_properties),
        ("Batch Core", batch_core),
        ("Batch Properties", batch_properties),
        ("Search Core", search_core),
        ("Search Properties", search_properties),
    ]
}

/// c-5 on every answer: a 200 is `application/json`.
fn transport(id: &str, reply: &Reply) {
    if reply.status == 200 {
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{id}: c-5-2"
        );
    }
}

/// Sends raw bytes as one request and reads the answer.
fn raw(server: &Served, head: &str, body: &str) -> Reply {
    let mut conn = server.connect();
    conn.write_raw(format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .unwrap();
    conn.read_reply().unwrap()
}

#[test]
fn the_certification_scenario_passes_at_every_level() {
    let passed = certify(&serve("certification", "entities.json"), "http");
    eprintln!("AuthZEN certification: passed {}", passed.join(", "));
}

/// The scenario requires HTTPS: the same matrix over TLS.
#[test]
fn the_certification_scenario_passes_over_https() {
    let tls = "tests/cases/tls";
    let server = Served::start(&[
        "-p",
        &format!("{CASES}/certification/policies.mspl"),
        "--entities",
        &format!("{CASES}/certification/entities.json"),
        "--tls-cert",
        &format!("{tls}/server.crt"),
        "--tls-key",
        &format!("{tls}/server.key"),
    ])
    .over_tls(crate::tls::client("ca.crt", None));
    let passed = certify(&server, "https");
    eprintln!(
        "AuthZEN certification over HTTPS: passed {}",
        passed.join(", ")
    );
}

/// Every case of the certification matrix against `server`, reached at
/// `scheme`: the levels passed.
fn certify(server: &Served, scheme: &str) -> Vec<&'static str> {
    let mut passed = Vec::new();
    for (level, cases) in certification() {
        for c in &cases {
            let reply = server.post(c.path, &c.body.to_string());
            assert_eq!(
                reply.status, c.status,
                "{level} {}: {} -> {}",
                c.id, c.body, reply.body
            );
            transport(c.id, &reply);
            if reply.status == 200 {
                assert!(
                    (c.check)(&reply.json()),
                    "{level} {}: {} -> {}",
                    c.id,
                    c.body,
                    reply.body
                );
            }
        }
        passed.push(level);
    }
    // c-2-4-3: not application/json (every endpoint); c-2-4-4 malformed
    // JSON; c-2-4-5 an empty body.
    let body =
        json!({"subject": alice(), "action": action("read"), "resource": record("record-1")})
            .to_string();
    for path in [EVALUATION, EVALUATIONS, SUBJECT, RESOURCE, ACTION] {
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n");
        assert_eq!(raw(server, &head, &body).status, 400, "c-2-4-3 {path}");
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\n");
        assert_eq!(
            raw(server, &head, &body).status,
            400,
            "c-2-4-3 {path} (none)"
        );
    }
    let json_head = "POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; charset=utf-8\r\n";
    assert_eq!(
        raw(server, json_head, &body).status,
        200,
        "a media type's parameters"
    );
    assert_eq!(
        raw(server, json_head, "{\"subject\": ").status,
        400,
        "c-2-4-4"
    );
    assert_eq!(raw(server, json_head, "").status, 400, "c-2-4-5");
    // c-2-5: X-Request-ID echoed; none is no failure.
    let reply = server.connect().send(
        "POST",
        EVALUATION,
        &[("X-Request-ID", "req-42")],
        body.as_bytes(),
    );
    assert_eq!(reply.header("x-request-id"), Some("req-42"), "c-2-5-1");
    assert_eq!(server.post(EVALUATION, &body).status, 200, "c-2-5-2");
    // c-2-6: the same request, the same decision.
    let decisions: Vec<Json> = (0..5)
        .map(|_| server.post(EVALUATION, &body).json()["decision"].clone())
        .collect();
    assert!(
        decisions.iter().all(|d| *d == json!(true)),
        "c-2-6: {decisions:?}"
    );
    // c-3-3-1/2: length and order of a longer batch.
    let batch = json!({"subject": bob(), "resource": record("record-1"),
        "evaluations": [{"action": action("write")}, {"action": action("read")}, {"action": action("write")}]});
    assert!(
        items(
            &server.post(EVALUATIONS, &batch.to_string()).json(),
            &[false, true, false]
        ),
        "c-3-3"
    );
    // c-4-5: a page of one, then a follow-up with only the token.
    let first = json!({"subject": {"type": "user"}, "action": action("read"), "resource": record("record-1"), "page": {"limit": 1}});
    let reply = server.post(SUBJECT, &first.to_string()).json();
    assert_eq!(
        reply["results"].as_array().map(Vec::len),
        Some(1),
        "c-4-5-1: {reply}"
    );
    let token = reply["page"]["next_token"]
        .as_str()
        .expect("c-4-5-3: next_token")
        .to_string();
    assert!(!token.is_empty(), "c-4-5-1: {reply}");
    let next = json!({"subject": {"type": "user"}, "action": action("read"), "resource": record("record-1"), "page": {"token": token}});
    let reply = server.post(SUBJECT, &next.to_string());
    assert_eq!(reply.status, 200, "c-4-5-2: {}", reply.body);
    let reply = reply.json();
    assert!(
        reply["page"].is_object() && reply["page"]["next_token"].is_string(),
        "c-4-5-2: {reply}"
    );
    assert_eq!(
        reply["results"].as_array().map(Vec::len),
        Some(1),
        "c-4-5-2: {reply}"
    );
    assert_eq!(reply["page"]["next_token"], "", "c-4-5-2: the last page");
    passed.push("Search Core (pagination)");
    // c-6: the metadata, its base the URL the PDP is reached at.
    let reply = server.get("/.well-known/authzen-configuration");
    assert_eq!(reply.status, 200);
    transport("c-6", &reply);
    let base = format!("{scheme}://{}", server.addr);
    let metadata = reply.json();
    assert_eq!(metadata["policy_decision_point"], base.as_str(), "c-6-5");
    for key in [
        "access_evaluation_endpoint",
        "access_evaluations_endpoint",
        "search_subject_endpoint",
        "search_resource_endpoint",
        "search_action_endpoint",
    ] {
        let url = metadata[key]
            .as_str()
            .unwrap_or_else(|| panic!("c-6: {key}"));
        assert!(url.starts_with(&base), "c-6: {key} {url}");
    }
    passed.push("Discovery");
    passed
}

/// Paging details of the specification: `page.limit: 0`, a token with
/// another limit or another request, `page` left out of a complete answer
/// to a request without one.
#[test]
fn paging_follows_the_specification() {
    let server = serve("certification", "entities.json");
    let search = |page: Json| {
        let mut body = json!({"subject": {"type": "user"}, "action": action("read"), "resource": record("record-1")});
        if !page.is_null() {
            body["page"] = page;
        }
        server.post(SUBJECT, &body.to_string())
    };
    let whole = search(Json::Null).json();
    assert!(whole.get("page").is_none(), "{whole}");
    assert_eq!(whole["results"].as_array().map(Vec::len), Some(2));
    let none = search(json!({"limit": 0})).json();
    assert_eq!(none["results"], json!([]));
    assert_eq!(none["page"]["total"], 2);
    let token = none["page"]["next_token"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    // The token of a `limit: 0` answer leads to the results.
    let rest = search(json!({"token": token})).json();
    assert_eq!(rest["results"].as_array().map(Vec::len), Some(2), "{rest}");
    let first = search(json!({"limit": 1})).json();
    let token = first["page"]["next_token"].as_str().unwrap().to_string();
    assert_eq!(search(json!({"limit": 1, "token": token})).status, 200);
    let reply = search(json!({"limit": 2, "token": token}));
    assert_eq!(reply.status, 400, "{}", reply.body);
    let other = json!({"subject": {"type": "user"}, "action": action("write"), "resource": record("record-1"), "page": {"token": token}});
    let reply = server.post(SUBJECT, &other.to_string());
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("belongs to another search"),
        "{}",
        reply.body
    );
}

/// Properties merge over the stored entity; a property that does not fit
/// its declared type names itself; an action's properties are parameters,
/// not its type; a namespaced action is written in full.
#[test]
fn properties_merge_over_the_stored_entity() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("p.mspl");
    std::fs::write(
        &policies,
        "namespace Shop { entity Team; entity User in [Team] { level: Long, name: String }; entity Doc;\n\
         action view appliesTo { principal: User, resource: Doc }; }\n\
         permit (principal in Shop::Team::\"eng\", action == Shop::Action::\"view\", resource)\n\
         when { principal.level > 3 && principal.name == \"ann\" && (!(context has action) || context.action.bulk == false) };\n",
    )
    .unwrap();
    let entities = dir.path().join("e.json");
    std::fs::write(
        &entities,
        r#"[{"uid": {"type": "Shop::Team", "id": "eng"}, "attrs": {}, "parents": []},
            {"uid": {"type": "Shop::User", "id": "ann"}, "attrs": {"level": 1, "name": "ann"}, "parents": [{"type": "Shop::Team", "id": "eng"}]},
            {"uid": {"type": "Shop::Doc", "id": "d"}, "attrs": {}, "parents": []}]"#,
    )
    .unwrap();
    let server = Served::start(&[
        "-p",
        policies.to_str().unwrap(),
        "--entities",
        entities.to_str().unwrap(),
    ]);
    let ask = |subject: Json, action: Json| {
        let body = json!({"subject": subject, "action": action, "resource": {"type": "Shop::Doc", "id": "d"}});
        server.post(EVALUATION, &body.to_string())
    };
    let view = json!({"name": "Shop::Action::\"view\""});
    let ann =
        |properties: Json| json!({"type": "Shop::User", "id": "ann", "properties": properties});
    // The stored level says no; the property says yes, parents kept.
    assert_eq!(ask(ann(json!({})), view.clone()).json()["decision"], false);
    assert_eq!(
        ask(ann(json!({"level": 5})), view.clone()).json()["decision"],
        true
    );
    // Draft-00's attributes beside type and id.
    let draft = json!({"type": "Shop::User", "id": "ann", "level": 5});
    assert_eq!(ask(draft, view.clone()).json()["decision"], true);
    // A property of the wrong declared type names itself.
    let reply = ask(ann(json!({"level": "high"})), view.clone());
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("subject.properties.level"),
        "{}",
        reply.body
    );
    // Action properties are parameters: `type` is one like any other.
    let with = |p: Json| json!({"name": "Shop::Action::\"view\"", "properties": p});
    assert_eq!(
        ask(
            ann(json!({"level": 5})),
            with(json!({"type": "bulk", "bulk": false}))
        )
        .json()["decision"],
        true
    );
    assert_eq!(
        ask(
            ann(json!({"level": 5})),
            with(json!({"type": 5, "bulk": true}))
        )
        .status,
        200
    );
    assert_eq!(
        ask(ann(json!({"level": 5})), with(json!({"bulk": true}))).json()["decision"],
        false
    );
    // The action search names a namespaced action in full.
    let body =
        json!({"subject": ann(json!({"level": 5})), "resource": {"type": "Shop::Doc", "id": "d"}});
    let found = server.post(ACTION, &body.to_string()).json();
    assert_eq!(
        found["results"],
        json!([{"name": "Shop::Action::\"view\""}]),
        "{found}"
    );
    // A user the store does not have: the properties alone, no parents.
    let stranger =
        json!({"type": "Shop::User", "id": "eve", "properties": {"level": 9, "name": "ann"}});
    assert_eq!(ask(stranger, view).json()["decision"], false);
}

/// The items of `evaluations` answer `{decision}` alone unless reasons are
/// asked for.
#[test]
fn evaluation_items_carry_reasons_only_when_asked() {
    let server = serve("certification", "entities.json");
    let body = |reasons: Option<bool>| {
        let mut b = json!({"subject": alice(), "action": action("read"), "evaluations": [{"resource": record("record-1")}]});
        if let Some(r) = reasons {
            b["options"] = json!({"include_reasons": r});
        }
        b.to_string()
    };
    assert_eq!(
        server.post(EVALUATIONS, &body(None)).json(),
        json!({"evaluations": [{"decision": true}]})
    );
    let reasons = server.post(EVALUATIONS, &body(Some(true))).json();
    assert_eq!(
        reasons["evaluations"][0]["context"]["reason_admin"]["determining"],
        json!(["read"]),
        "{reasons}"
    );
    drop(server);
    let server = Served::start(&[
        "-p",
        &format!("{CASES}/certification/policies.mspl"),
        "--entities",
        &format!("{CASES}/certification/entities.json"),
        "--authzen-reasons",
    ]);
    assert!(server.post(EVALUATIONS, &body(None)).json()["evaluations"][0]["context"].is_object());
    assert_eq!(
        server.post(EVALUATIONS, &body(Some(false))).json(),
        json!({"evaluations": [{"decision": true}]})
    );
}
