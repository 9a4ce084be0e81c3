//! `mspl serve` on loopback: every endpoint, answers equal to `mspl
//! authorize` and `mspl explain`, AuthZEN's shapes, bad input, the
//! decision log and its replay; hostile clients in `serve/attack.rs`.
//! (Reloads, load and bundles: `tests/serve/reload.rs`.)

use crate::served;
use crate::shared_data;
use crate::skip;

#[path = "attack.rs"]
mod attack;

#[path = "authzen_interop.rs"]
mod authzen_interop;

use serde_json::{json, Value as Json};
use served::Served;
use std::process::Command;

const MS: &str = "policies/model_studio";
const ENTITIES: &str = "policies/model_studio/examples/entities.json";
const REQUESTS: &str = "policies/model_studio/examples/requests.jsonl";

fn mspl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(args)
        .output()
        .expect("mspl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An answer without the server's own fields, for comparing with the CLI.
fn without_ids(mut v: Json) -> Json {
    if let Some(o) = v.as_object_mut() {
        o.remove("decision_id");
        o.remove("revision");
        o.remove("entity_revision");
    }
    v
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// Every request of `requests` asked one by one, in a batch, and through
/// AuthZEN, against `mspl authorize` on the same files.
fn same_as_authorize(serve_args: &[&str], cli_args: &[&str], requests: &str) -> usize {
    let server = Served::start(serve_args);
    let mut args = vec!["authorize", "--format", "json", "--requests", requests];
    args.extend_from_slice(cli_args);
    let (code, expected, stderr) = mspl(&args);
    assert_eq!(code, 0, "{stderr}");
    let expected: Vec<Json> = lines(&expected)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = std::fs::read_to_string(requests).unwrap();
    let asked = lines(&text);
    assert_eq!(asked.len(), expected.len());
    let mut conn = server.connect();
    let revision = server.get("/v1/status").json()["revision"].clone();
    for (request, want) in asked.iter().zip(&expected) {
        let reply = conn.send("POST", "/v1/is_authorized", &[], request.as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.body);
        let got = reply.json();
        assert_eq!(got["revision"], revision);
        assert_eq!(reply.header("x-mspl-revision"), revision.as_str());
        // The contract's fields in the contract's order, then the ids.
        let at: Vec<usize> = [
            "\"decision\":",
            "\"kind\":",
            "\"determining\":",
            "\"errors\":",
            "\"decision_id\":",
            "\"revision\":",
            "\"entity_revision\":",
        ]
        .iter()
        .map(|k| {
            reply
                .body
                .find(k)
                .unwrap_or_else(|| panic!("{k} in {}", reply.body))
        })
        .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", reply.body);
        assert_eq!(got.as_object().unwrap().len(), 7);
        assert_eq!(got["entity_revision"], "1", "the first snapshot loaded");
        assert_eq!(reply.header("x-mspl-entity-revision"), Some("1"));
        assert_eq!(&without_ids(got), want, "{request}");
        // AuthZEN: the same decision.
        let r: Json = serde_json::from_str(request).unwrap();
        let uid = |v: &Json| -> (String, String) {
            match v {
                Json::String(s) => {
                    let (t, id) = s.split_once("::\"").unwrap();
                    (t.to_string(), id.trim_end_matches('"').to_string())
                }
                o => (
                    o["type"].as_str().unwrap().into(),
                    o["id"].as_str().unwrap().into(),
                ),
            }
        };
        let (pt, pi) = uid(&r["principal"]);
        let (at, ai) = uid(&r["action"]);
        let (rt, ri) = uid(&r["resource"]);
        let mut action = json!({"name": ai});
        if at != "Action" {
            action["properties"] = json!({"type": at});
        }
        let body = json!({
            "subject": {"type": pt, "id": pi},
            "action": action,
            "resource": {"type": rt, "id": ri},
            "context": r.get("context").cloned().unwrap_or(json!({})),
        });
        let reply = conn.send(
            "POST",
            "/access/v1/evaluation",
            &[],
            body.to_string().as_bytes(),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let z = reply.json();
        assert_eq!(
            z["decision"],
            json!(want["decision"] == "allow"),
            "{request}"
        );
        assert_eq!(
            z["context"]["reason_admin"]["determining"],
            want["determining"]
        );
        assert_eq!(z["context"]["reason_admin"]["errors"], want["errors"]);
        assert!(z["context"]["id"].is_string());
    }
    // One batch: the same answers in order, one id each, one batch id.
    let batch = format!("{{\"requests\":[{}]}}", asked.join(","));
    let reply = server.post("/v1/batch_is_authorized", &batch);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let b = reply.json();
    let results = b["results"].as_array().unwrap();
    assert_eq!(results.len(), expected.len());
    let mut ids = std::collections::BTreeSet::new();
    for (got, want) in results.iter().zip(&expected) {
        assert!(ids.insert(got["decision_id"].as_str().unwrap().to_string()));
        assert_eq!(&without_ids(got.clone()), want);
    }
    assert!(b["batch_id"].is_string());
    assert!(!ids.contains(b["batch_id"].as_str().unwrap()));
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    asked.len()
}

#[test]
fn decisions_equal_authorize_on_the_model_studio_examples() {
    let n = same_as_authorize(
        &["-p", MS, "--entities", ENTITIES],
        &["-p", MS, "--entities", ENTITIES],
        REQUESTS,
    );
    assert!(n >= 10);
}

#[test]
fn decisions_equal_authorize_on_generated_worlds() {
    let dir = tempfile::tempdir().unwrap();
    for seed in ["1", "2", "3"] {
        let out = dir.path().join(seed);
        let out = out.to_str().unwrap();
        let (code, _, stderr) = mspl(&[
            "generate",
            "-p",
            MS,
            "--seed",
            seed,
            "--requests",
            "200",
            "--out",
            out,
        ]);
        assert_eq!(code, 0, "{stderr}");
        let entities = format!("{out}/entities.json");
        let requests = format!("{out}/requests.jsonl");
        for cedar in [false, true] {
            let mut args = vec!["-p", MS, "--entities", entities.as_str()];
            if cedar {
                args.push("--cedar");
            }
            assert!(same_as_authorize(&args, &args, &requests) > 20);
        }
    }
}

#[test]
fn explain_equals_mspl_explain() {
    let server = Served::start(&["-p", MS, "--entities", ENTITIES]);
    let (_, expected, _) = mspl(&[
        "explain",
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--requests",
        REQUESTS,
        "--format",
        "json",
    ]);
    let text = std::fs::read_to_string(REQUESTS).unwrap();
    for (request, want) in lines(&text).iter().zip(lines(&expected)).take(8) {
        let reply = server.post("/v1/explain", request);
        assert_eq!(reply.status, 200);
        let want: Json = serde_json::from_str(want).unwrap();
        assert_eq!(without_ids(reply.json()), want);
        assert!(reply.json()["explanation"]["policies"].is_array());
    }
}

#[test]
fn a_request_brings_entities_of_its_own() {
    let server = Served::start(&["-p", MS, "--entities", ENTITIES]);
    let first = lines(&std::fs::read_to_string(REQUESTS).unwrap())[0].to_string();
    let mut request: Json = serde_json::from_str(&first).unwrap();
    let before = server
        .post("/v1/is_authorized", &request.to_string())
        .json();
    assert_eq!(before["decision"], "allow");
    // The principal replaced by one with no parents and no attributes:
    // rule 14 (console login) no longer holds.
    request["entities"] = json!([{"uid": request["principal"], "attrs": {}, "parents": []}]);
    let after = server
        .post("/v1/is_authorized", &request.to_string())
        .json();
    assert_eq!(after["decision"], "deny", "{after}");
    // For that request only.
    let again = server.post("/v1/is_authorized", &first).json();
    assert_eq!(again["decision"], "allow");
    // Bad entities are a 400 naming them.
    request["entities"] = json!([{"uid": 5}]);
    let bad = server.post("/v1/is_authorized", &request.to_string());
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in `entities`"),
        "{}",
        bad.body
    );
}

#[test]
fn bad_input_is_a_4xx_that_names_the_problem_and_the_server_keeps_serving() {
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "s3cret\n").unwrap();
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--max-body-bytes",
        "4096",
        "--max-batch",
        "3",
        "--admin-token-file",
        token.path().to_str().unwrap(),
    ]);
    let good = lines(&std::fs::read_to_string(REQUESTS).unwrap())[0].to_string();
    let message = |r: &served::Reply| {
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/v1/is_authorized", "{\"principal\": ".into(), 400, "EOF"),
        ("POST", "/v1/is_authorized", "[1]".into(), 400, "a request is a JSON object"),
        ("POST", "/v1/is_authorized", "{\"principal\": \"RamUser::\\\"a\\\"\", \"action\": \"Action::\\\"x\\\"\", \"resource\": \"Account::\\\"b\\\"\", \"extra\": 1}".into(), 400, "unknown field `extra`"),
        ("POST", "/v1/is_authorized", "{\"a\": 1, \"a\": 2}".into(), 400, "duplicate"),
        ("POST", "/v1/is_authorized", format!("{}{}", "[".repeat(200), "]".repeat(200)), 400, "nest"),
        ("POST", "/v1/is_authorized", "x".repeat(5000), 413, "larger than the limit of 4096"),
        ("POST", "/v1/batch_is_authorized", format!("{{\"requests\": [{good},{good},{good},{good}]}}"), 413, "more than the limit of 3"),
        ("POST", "/v1/batch_is_authorized", format!("{{\"requests\": [{good}, 7]}}"), 400, "requests[1]: "),
        ("POST", "/v1/batch_is_authorized", "{\"reqs\": []}".into(), 400, "unknown field `reqs`"),
        ("POST", "/access/v1/evaluation", "{\"subject\": {\"type\": \"RamUser\"}}".into(), 400, "`subject` needs `id`"),
        ("POST", "/access/v1/evaluation", "{\"subject\": {\"type\": \"RamUser\", \"id\": \"u\"}, \"resource\": {\"type\": \"Account\", \"id\": \"a\"}}".into(), 400, "needs `action`"),
        ("POST", "/access/v1/evaluations", "{\"options\": {\"evaluations_semantic\": \"sometimes\"}, \"evaluations\": [{}]}".into(), 400, "unknown `options.evaluations_semantic`"),
        ("POST", "/access/v1/search/subject", "{\"subject\": {\"type\": \"RamUser\"}, \"action\": {\"name\": \"page.view\"}, \"resource\": {\"type\": \"Page\", \"id\": \"project-a/models\"}, \"page\": {\"token\": \"3.1000.deadbeef\"}}".into(), 400, "belongs to another search"),
        ("POST", "/access/v1/search/subject", "{\"subject\": {\"type\": \"RamUser\"}, \"action\": {\"name\": \"page.view\"}, \"resource\": {\"type\": \"Page\", \"id\": \"project-a/models\"}, \"page\": {\"limit\": -1}}".into(), 400, "non-negative"),
        ("GET", "/v1/is_authorized", String::new(), 405, "method"),
        ("POST", "/v2/nothing", "{}".into(), 404, "no such endpoint"),
        ("POST", "/v1/reload", String::new(), 401, "Bearer"),
    ];
    let mut conn = server.connect();
    for (method, path, body, status, says) in &cases {
        let reply = conn
            .try_send(method, path, &[], body.as_bytes())
            .or_else(|_| {
                conn = server.connect();
                conn.try_send(method, path, &[], body.as_bytes())
            })
            .unwrap();
        assert_eq!(
            reply.status, *status,
            "{method} {path} {body:.80}: {}",
            reply.body
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(reply.json()["error"]["status"], json!(status));
        assert!(
            message(&reply).contains(says),
            "{path}: {} lacks {says:?}",
            reply.body
        );
    }
    // Non-UTF-8.
    let reply = server.connect().send(
        "POST",
        "/v1/is_authorized",
        &[],
        b"{\"principal\": \"\xff\"}",
    );
    assert_eq!(reply.status, 400);
    assert!(message(&reply).contains("UTF-8"));
    // A malformed body is located.
    let reply = server.post("/v1/is_authorized", "{\n  \"principal\": ,\n}");
    assert_eq!(reply.json()["error"]["line"], 2, "{}", reply.body);
    // A wrong token is a 401 with WWW-Authenticate.
    let reply = server.connect().send(
        "POST",
        "/v1/reload",
        &[("Authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"mspl\", error=\"invalid_token\"")
    );
    // The right one reloads (nothing changed).
    let reply = server.connect().send(
        "POST",
        "/v1/reload",
        &[("Authorization", "Bearer s3cret")],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["result"], "unchanged");
    // Still serving, and the token never reached the log.
    assert_eq!(server.post("/v1/is_authorized", &good).status, 200);
    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("mspl_http_responses_total{class=\"4xx\"}"));
    let (code, stderr) = server.stop();
    assert_eq!(code, 0);
    assert!(!stderr.contains("s3cret"));
}

#[test]
fn reload_exists_only_with_a_token_never_one_on_the_command_line() {
    let server = Served::start(&["-p", MS]);
    assert_eq!(server.post("/v1/reload", "").status, 404);
    drop(server);
    let server = Served::start_with_env(&["-p", MS], &[("MSPL_ADMIN_TOKEN", "from-env")]);
    let reply = server.connect().send(
        "POST",
        "/v1/reload",
        &[("Authorization", "Bearer from-env")],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (code, _, stderr) = mspl(&["serve", "-p", MS, "--admin-token", "x"]);
    assert_eq!(code, 1, "{stderr}");
}

/// `mspl serve ARGS` exits 1 at start, saying `says`.
fn refused_at_start(args: &[&str], says: &str) {
    let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (code, _, stderr) = mspl(&all);
    assert_eq!(code, 1, "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
}

#[test]
fn inputs_that_do_not_load_at_start_exit_1_with_the_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cedar");
    std::fs::write(&bad, "permit(principal, action, resource) when { 1 + };\n").unwrap();
    refused_at_start(&["-p", bad.to_str().unwrap()], "bad.cedar:1:");
    refused_at_start(
        &["-p", MS, "--entities", "/no/such/file.json"],
        "/no/such/file.json",
    );
    // --validate refuses what validation refuses.
    let typo = dir.path().join("typo.mspl");
    std::fs::write(&typo, "entity User { level: Long };\naction view appliesTo { principal: User, resource: User };\npermit(principal, action, resource) when { principal.levle > 1 };\n").unwrap();
    refused_at_start(&["-p", typo.to_str().unwrap(), "--validate"], "levle");
    // An address that cannot be bound.
    let (code, _, stderr) = mspl(&["serve", "-p", MS, "--addr", "192.0.2.1:80"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot listen on 192.0.2.1:80"), "{stderr}");
}

#[test]
fn authzen_shapes_semantics_search_and_metadata() {
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--public-url",
        "https://pdp.example.com/",
    ]);
    let meta = server.get("/.well-known/authzen-configuration");
    assert_eq!(meta.status, 200);
    assert_eq!(
        meta.json(),
        json!({
            "policy_decision_point": "https://pdp.example.com",
            "access_evaluation_endpoint": "https://pdp.example.com/access/v1/evaluation",
            "access_evaluations_endpoint": "https://pdp.example.com/access/v1/evaluations",
            "search_subject_endpoint": "https://pdp.example.com/access/v1/search/subject",
            "search_resource_endpoint": "https://pdp.example.com/access/v1/search/resource",
            "search_action_endpoint": "https://pdp.example.com/access/v1/search/action",
        })
    );
    let user = json!({"type": "RamUser", "id": "user-01"});
    let page = |id: &str| json!({"type": "Page", "id": id});
    // One evaluation; unknown fields ignored, as the specification says.
    let body = json!({"subject": {"type": "RamUser", "id": "user-01", "properties": {"x": 1}},
        "action": {"name": "page.view"}, "resource": page("project-a/knowledge_base"), "unknown": true});
    let reply = server.connect().send(
        "POST",
        "/access/v1/evaluation",
        &[("X-Request-ID", "abc-1")],
        body.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some("abc-1"));
    let z = reply.json();
    assert_eq!(z["decision"], true);
    assert_eq!(z["context"]["reason_user"]["fixes"], json!([]));
    // A deny says what would fix it.
    let body = json!({"subject": user, "action": {"name": "page.view"}, "resource": page("project-b/models")});
    let z = server
        .post("/access/v1/evaluation", &body.to_string())
        .json();
    if z["decision"] == false {
        assert!(z["context"]["reason_user"]["fixes"].is_array());
    }
    // Evaluations: defaults from the top level, each semantic.
    let items = json!([
        {"resource": page("project-a/knowledge_base")},
        {"resource": page("nowhere")},
        {"resource": page("project-a/models")},
    ]);
    let ask = |semantic: Option<&str>| {
        let mut body =
            json!({"subject": user, "action": {"name": "page.view"}, "evaluations": items});
        if let Some(s) = semantic {
            body["options"] = json!({"evaluations_semantic": s});
        }
        let reply = server.post("/access/v1/evaluations", &body.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["decision"].as_bool().unwrap())
            .collect::<Vec<bool>>()
    };
    let all = ask(None);
    assert_eq!(all.len(), 3);
    assert_eq!(all, ask(Some("execute_all")));
    assert!(!all[1]);
    let deny_first = ask(Some("deny_on_first_deny"));
    let first_deny = all.iter().position(|d| !d).unwrap();
    assert_eq!(deny_first, all[..=first_deny].to_vec());
    let permit_first = ask(Some("permit_on_first_permit"));
    let first_permit = all.iter().position(|d| *d).unwrap();
    assert_eq!(permit_first, all[..=first_permit].to_vec());
    // An item without a subject anywhere is a deny carrying its error.
    let body = json!({"action": {"name": "page.view"}, "evaluations": [{"resource": page("project-a/models")}]});
    let e = server
        .post("/access/v1/evaluations", &body.to_string())
        .json();
    assert_eq!(e["evaluations"][0]["decision"], false);
    assert_eq!(e["evaluations"][0]["context"]["error"]["status"], 400);
    // No evaluations: one evaluation, its plain answer.
    let body = json!({"subject": user, "action": {"name": "page.view"}, "resource": page("project-a/knowledge_base"), "evaluations": []});
    assert_eq!(
        server
            .post("/access/v1/evaluations", &body.to_string())
            .json()["decision"],
        true
    );

    // Search: every result evaluates to true, and pages add up to the whole.
    let search = |path: &str, body: Json| {
        let reply = server.post(path, &body.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    let subjects = search(
        "/access/v1/search/subject",
        json!({"subject": {"type": "RamUser"}, "action": {"name": "page.view"}, "resource": page("project-a/knowledge_base")}),
    );
    // A complete answer to a request without `page` has none.
    assert!(subjects.get("page").is_none(), "{subjects}");
    let all_subjects = subjects["results"].as_array().unwrap().clone();
    assert!(!all_subjects.is_empty());
    for s in &all_subjects {
        assert_eq!(s["type"], "RamUser");
        let body = json!({"subject": s, "action": {"name": "page.view"}, "resource": page("project-a/knowledge_base")});
        assert_eq!(
            server
                .post("/access/v1/evaluation", &body.to_string())
                .json()["decision"],
            true,
            "{s}"
        );
    }
    // Every page of one search reads one computation (the answer above).
    let searches = |source: &str| -> u64 {
        let metrics = server.get("/metrics").body;
        let line = format!("mspl_search_answers_total{{source=\"{source}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line} in {metrics}"))
    };
    let (computed, kept) = (searches("computed"), searches("kept"));
    assert!(computed >= 1, "the search above was computed");
    let mut pages = 0;
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        pages += 1;
        let mut body = json!({"subject": {"type": "RamUser"}, "action": {"name": "page.view"}, "resource": page("project-a/knowledge_base"), "page": {"limit": 2}});
        if !token.is_empty() {
            body["page"]["token"] = json!(token);
        }
        let page = search("/access/v1/search/subject", body);
        assert_eq!(page["page"]["total"], all_subjects.len());
        assert!(page["results"].as_array().unwrap().len() <= 2);
        paged.extend(page["results"].as_array().unwrap().iter().cloned());
        token = page["page"]["next_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(paged, all_subjects);
    assert!(pages >= 2, "{pages} pages");
    assert_eq!(searches("computed"), computed, "no page computed again");
    assert_eq!(searches("kept"), kept + pages, "every page from memory");
    let resources = search(
        "/access/v1/search/resource",
        json!({"subject": user, "action": {"name": "page.view"}, "resource": {"type": "Page"}}),
    );
    for r in resources["results"].as_array().unwrap() {
        assert_eq!(r["type"], "Page");
        let body = json!({"subject": user, "action": {"name": "page.view"}, "resource": r});
        assert_eq!(
            server
                .post("/access/v1/evaluation", &body.to_string())
                .json()["decision"],
            true,
            "{r}"
        );
    }
    let actions = search(
        "/access/v1/search/action",
        json!({"subject": user, "resource": page("project-a/knowledge_base")}),
    );
    let names: Vec<&str> = actions["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"page.view"), "{names:?}");
    for name in names {
        let body = json!({"subject": user, "action": {"name": name}, "resource": page("project-a/knowledge_base")});
        assert_eq!(
            server
                .post("/access/v1/evaluation", &body.to_string())
                .json()["decision"],
            true,
            "{name}"
        );
    }
}

#[test]
fn health_status_and_metrics() {
    let server = Served::start(&["-p", MS, "--entities", ENTITIES]);
    assert_eq!(server.get("/health/live").status, 200);
    let ready = server.get("/health/ready");
    assert_eq!(ready.status, 200);
    let status = server.get("/v1/status").json();
    assert_eq!(ready.json()["revision"], status["revision"]);
    assert_eq!(status["revision"].as_str().unwrap().len(), 64);
    assert_eq!(status["ready"], true);
    assert_eq!(status["last_error"], Json::Null);
    assert!(status["counts"]["policies"].as_u64().unwrap() > 0);
    assert!(status["counts"]["entities"].as_u64().unwrap() > 0);
    let good = lines(&std::fs::read_to_string(REQUESTS).unwrap())[0].to_string();
    for _ in 0..3 {
        server.post("/v1/is_authorized", &good);
    }
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let m = metrics.body;
    assert!(
        m.contains("mspl_decision_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
        "{m}"
    );
    assert!(
        m.contains("mspl_decisions_total{decision=\"allow\",kind=\"\"} 3\n"),
        "{m}"
    );
    assert!(
        m.contains("mspl_reloads_total{result=\"loaded\"} 1\n"),
        "{m}"
    );
    assert!(m.contains("mspl_snapshot_age_seconds "), "{m}");
    // The same revision for the same files anywhere.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("model_studio");
    copy_tree(std::path::Path::new(MS), &copy);
    let other = Served::start(&[
        "-p",
        copy.to_str().unwrap(),
        "--entities",
        copy.join("examples/entities.json").to_str().unwrap(),
    ]);
    assert_eq!(
        other.get("/v1/status").json()["revision"],
        status["revision"]
    );
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_decision_log_replays_through_authorize_and_audit_unused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--decision-log",
        log.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(REQUESTS).unwrap();
    let asked = lines(&text);
    let mut answers = Vec::new();
    for request in &asked {
        answers.push(server.post("/v1/is_authorized", request).json());
    }
    let batch = format!("{{\"requests\":[{},{}]}}", asked[0], asked[1]);
    let b = server.post("/v1/batch_is_authorized", &batch).json();
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    let logged = std::fs::read_to_string(&log).unwrap();
    let logged: Vec<Json> = lines(&logged)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logged.len(), asked.len() + 2);
    for (line, answer) in logged.iter().zip(&answers) {
        assert_eq!(line["decision_id"], answer["decision_id"]);
        assert_eq!(line["revision"], answer["revision"]);
        assert_eq!(line["batch_id"], Json::Null);
        assert_eq!(line["decision"], answer["decision"]);
        assert_eq!(line["determining"], answer["determining"]);
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(line["latency_us"].is_u64());
        let keys: Vec<&str> = line["request"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4);
    }
    for line in &logged[asked.len()..] {
        assert_eq!(line["batch_id"], b["batch_id"]);
    }
    // authorize --requests takes the log as it is: the same decisions.
    let (code, replayed, stderr) = mspl(&[
        "authorize",
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--requests",
        log.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    for (line, replay) in logged.iter().zip(lines(&replayed)) {
        let replay: Json = serde_json::from_str(replay).unwrap();
        assert_eq!(replay["decision"], line["decision"]);
        assert_eq!(replay["determining"], line["determining"]);
    }
    let (code, _, stderr) = mspl(&[
        "audit",
        "unused",
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--requests",
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = mspl(&[
        "diff",
        "--old",
        MS,
        "--new",
        MS,
        "--entities",
        ENTITIES,
        "--requests",
        log.to_str().unwrap(),
    ]);
    assert!(code == 0, "{stderr}");
}

#[test]
fn sigterm_drains_a_request_in_flight() {
    let server = Served::start(&["-p", MS, "--entities", ENTITIES]);
    let good = lines(&std::fs::read_to_string(REQUESTS).unwrap())[0].to_string();
    let mut conn = server.connect();
    // Headers and half the body, then SIGTERM, then the rest.
    let head = format!(
        "POST /v1/is_authorized HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        good.len()
    );
    conn.write_raw(head.as_bytes()).unwrap();
    let (first, rest) = good.split_at(good.len() / 2);
    conn.write_raw(first.as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    std::thread::sleep(std::time::Duration::from_millis(200));
    conn.write_raw(rest.as_bytes()).unwrap();
    let reply = conn.read_reply().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["decision"], "allow");
    drop(conn);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("drained"), "{stderr}");
}

#[test]
fn mangled_bodies_get_a_2xx_or_4xx_never_a_5xx() {
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--max-body-bytes",
        "65536",
    ]);
    let good = lines(&std::fs::read_to_string(REQUESTS).unwrap())[2].to_string();
    let zen = r#"{"subject": {"type": "RamUser", "id": "user-01"}, "action": {"name": "page.view"}, "resource": {"type": "Page", "id": "project-a/models"}, "context": {}, "evaluations": [{}], "page": {"limit": 2}}"#;
    let batch = format!("{{\"requests\": [{good}, {good}]}}");
    let endpoints = [
        ("/v1/is_authorized", good.as_str()),
        ("/v1/batch_is_authorized", batch.as_str()),
        ("/v1/explain", good.as_str()),
        ("/access/v1/evaluation", zen),
        ("/access/v1/evaluations", zen),
        ("/access/v1/search/subject", zen),
        ("/access/v1/search/resource", zen),
        ("/access/v1/search/action", zen),
    ];
    // A small deterministic generator: cut, duplicate, flip and splice bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    let pieces: [&[u8]; 8] = [
        b"{",
        b"}",
        b"[",
        b"\"",
        b"null",
        b"\\u0000",
        b"\xff",
        b"{\"__entity\": ",
    ];
    let mut conn = server.connect();
    let mut seen = std::collections::BTreeMap::new();
    for round in 0..400 {
        let (path, body) = endpoints[round % endpoints.len()];
        let mut bytes = body.as_bytes().to_vec();
        for _ in 0..1 + next(4) {
            let at = next(bytes.len() + 1);
            match next(4) {
                0 => bytes.truncate(at),
                1 => {
                    let piece = pieces[next(pieces.len())];
                    bytes.splice(at..at, piece.iter().copied());
                }
                2 if at < bytes.len() => bytes[at] ^= 1 << next(8),
                _ => {
                    let copy = bytes[at..].to_vec();
                    bytes.extend_from_slice(&copy);
                }
            }
        }
        let reply = match conn.try_send("POST", path, &[], &bytes) {
            Ok(r) => r,
            Err(_) => {
                conn = server.connect();
                conn.send("POST", path, &[], &bytes)
            }
        };
        assert!(
            reply.status == 200 || (400..500).contains(&reply.status),
            "{path} {:?}: {} {}",
            String::from_utf8_lossy(&bytes),
            reply.status,
            reply.body
        );
        if reply.status != 200 {
            assert!(
                reply.json()["error"]["message"].is_string(),
                "{}",
                reply.body
            );
        }
        *seen.entry(reply.status).or_insert(0) += 1;
    }
    assert!(seen.get(&400).copied().unwrap_or(0) > 100, "{seen:?}");
    assert!(seen.get(&200).copied().unwrap_or(0) > 10, "{seen:?}");
    assert_eq!(server.get("/health/ready").status, 200);
}

#[test]
fn a_slow_body_times_out_and_a_chunked_one_is_bounded_too() {
    let server = Served::start(&[
        "-p",
        MS,
        "--request-timeout-ms",
        "300",
        "--max-body-bytes",
        "1000",
    ]);
    let mut conn = server.connect();
    conn.write_raw(
        b"POST /v1/is_authorized HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"princ",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let reply = conn.read_reply().unwrap();
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--request-timeout-ms"));
    // No Content-Length: the limit is found while reading.
    let mut conn = server.connect();
    let chunk = "x".repeat(600);
    let raw = format!(
        "POST /v1/is_authorized HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    conn.write_raw(raw.as_bytes()).unwrap();
    let reply = conn.read_reply().unwrap();
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(server.get("/health/live").status, 200);
}

/// The specification's Search Semantics: every result of a search,
/// evaluated with the same subject, action, resource and context, is
/// `true`, and every such `true` is a result. A search enumerates no
/// context (a declared `mfa: Bool` left out stays out) and returns no
/// request denied with an error.
#[test]
fn searches_return_exactly_what_the_evaluation_with_their_context_allows() {
    let dir = "tests/cases/authzen/search-context";
    let server = Served::start(&[
        "--policies",
        dir,
        "--entities",
        &format!("{dir}/entities.json"),
    ]);
    let users = ["ann", "bob", "cy"];
    let docs = ["plan", "memo"];
    let evaluate = |user: &str, action: &str, doc: &str, context: &Json| -> bool {
        let body = json!({"subject": {"type": "User", "id": user}, "action": {"name": action},
            "resource": {"type": "Doc", "id": doc}, "context": context});
        let reply = server.post("/access/v1/evaluation", &body.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["decision"] == true
    };
    let search = |path: &str, body: Json| -> Vec<String> {
        let reply = server.post(path, &body.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
        let mut found: Vec<String> = reply.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.get("id")
                    .or(r.get("name"))
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        found.sort();
        found
    };
    let contexts = [
        None,
        Some(json!({})),
        Some(json!({"reason": "ticket-1"})),
        Some(json!({"mfa": true})),
        Some(json!({"mfa": false})),
    ];
    let mut results = 0;
    for context in &contexts {
        let asked = context.clone().unwrap_or(json!({}));
        let with = |mut body: Json| {
            if let Some(c) = context {
                body["context"] = c.clone();
            }
            body
        };
        for doc in docs {
            for action in ["read", "list"] {
                let found = search(
                    "/access/v1/search/subject",
                    with(
                        json!({"subject": {"type": "User"}, "action": {"name": action}, "resource": {"type": "Doc", "id": doc}}),
                    ),
                );
                let expected: Vec<String> = users
                    .iter()
                    .filter(|u| evaluate(u, action, doc, &asked))
                    .map(|u| u.to_string())
                    .collect();
                assert_eq!(
                    found, expected,
                    "subjects of {action} {doc} with {context:?}"
                );
                results += found.len();
            }
        }
        for user in users {
            let found = search(
                "/access/v1/search/resource",
                with(
                    json!({"subject": {"type": "User", "id": user}, "action": {"name": "read"}, "resource": {"type": "Doc"}}),
                ),
            );
            let expected: Vec<String> = docs
                .iter()
                .filter(|d| evaluate(user, "read", d, &asked))
                .map(|d| d.to_string())
                .collect();
            let mut expected = expected;
            expected.sort();
            assert_eq!(found, expected, "resources of {user} with {context:?}");
            for doc in docs {
                let found = search(
                    "/access/v1/search/action",
                    with(
                        json!({"subject": {"type": "User", "id": user}, "resource": {"type": "Doc", "id": doc}}),
                    ),
                );
                let expected: Vec<String> = ["list", "read"]
                    .into_iter()
                    .filter(|a| evaluate(user, a, doc, &asked))
                    .map(String::from)
                    .collect();
                assert_eq!(
                    found, expected,
                    "actions of {user} on {doc} with {context:?}"
                );
            }
        }
    }
    assert!(results > 0, "the searches found nothing to compare");
}
