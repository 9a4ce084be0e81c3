//! `POST /v1/plan` answers what `mspl plan` prints (the residual text and
//! its JSON), on the serving snapshot; a bad plan request is a 400 naming
//! the problem, and the server keeps serving.

use crate::served::Served;
use serde_json::{json, Value as Json};
use std::process::Command;

const MS: &str = "policies/model_studio";
const ENTITIES: &str = "policies/model_studio/examples/entities.json";

fn plan(args: &[&str], format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(["plan", "-p", MS, "--entities", ENTITIES, "--format", format])
        .args(args)
        .output()
        .expect("mspl runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn plan_equals_mspl_plan_and_bad_requests_are_400s() {
    let server = Served::start(&["-p", MS, "--entities", ENTITIES]);
    for (user, action, ty) in [
        ("user-01", "page.edit", "Page"),
        ("user-02", "page.view", "Page"),
        ("user-01", "model.call", "Model"),
    ] {
        let args = [
            "-l",
            &format!("RamUser::\"{user}\""),
            "-a",
            &format!("Action::\"{action}\""),
            "--resource-type",
            ty,
        ];
        let text = plan(&args, "text");
        let tree: Json = serde_json::from_str(&plan(&args, "json")).unwrap();
        let body = json!({"principal": {"type": "RamUser", "id": user},
                          "action": {"type": "Action", "id": action},
                          "resource_type": ty});
        let reply = server.post("/v1/plan", &body.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
        let answer = reply.json();
        assert_eq!(answer["residual"], Json::from(text), "{user} {action} {ty}");
        assert_eq!(answer["tree"], tree);
        assert!(answer["revision"].is_string() && answer["entity_revision"].is_string());
    }
    let principal = json!({"type": "RamUser", "id": "user-01"});
    let action = json!({"type": "Action", "id": "page.edit"});
    for (body, says) in [
        (json!([]), "JSON object"),
        (
            json!({"principal": principal, "action": action}),
            "resource_type",
        ),
        (
            json!({"principal": principal, "action": action, "resource_type": 5}),
            "resource_type",
        ),
        (
            json!({"principal": principal, "action": action, "resource_type": "Pgae"}),
            "Pgae",
        ),
        (
            json!({"principal": principal, "action": action, "resource_type": "Page", "resource": {}}),
            "resource",
        ),
        (
            json!({"action": action, "resource_type": "Page"}),
            "principal",
        ),
    ] {
        let reply = server.post("/v1/plan", &body.to_string());
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.body.contains(says), "{body}: {}", reply.body);
    }
    let reply = server.post("/v1/plan", "{not json");
    assert_eq!(reply.status, 400);
    let body = json!({"principal": principal, "action": action, "resource_type": "Page"});
    assert_eq!(server.post("/v1/plan", &body.to_string()).status, 200);
}

#[test]
fn with_a_mapping_the_plan_carries_the_sql_mspl_plan_prints() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("p.mspl");
    let mapping = dir.path().join("m.json");
    std::fs::write(
        &policies,
        "permit(principal, action, resource) when { resource.title like \"*a*\" };\n\
         permit(principal, action, resource) when { resource.owner == principal };",
    )
    .unwrap();
    std::fs::write(
        &mapping,
        r#"{"types": {"Doc": {"table": "docs", "id": "id", "attributes": {"title": {"type": "string", "column": "title"}}}}}"#,
    )
    .unwrap();
    let (p, m) = (policies.to_str().unwrap(), mapping.to_str().unwrap());
    let server = Served::start(&["-p", p, "--mapping", m]);
    let body = json!({"principal": {"type": "User", "id": "u"}, "action": {"type": "Action", "id": "read"},
                      "resource_type": "Doc"});
    let answer = server.post("/v1/plan", &body.to_string()).json();
    // The second policy reads an attribute the mapping lacks: refused.
    assert!(
        answer["sql"]["refused"].as_str().unwrap().contains("owner"),
        "{answer}"
    );
    std::fs::write(
        &policies,
        "permit(principal, action, resource) when { resource.title like \"*a*\" };",
    )
    .unwrap();
    let server = Served::start(&["-p", p, "--mapping", m]);
    let answer = server.post("/v1/plan", &body.to_string()).json();
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args([
            "plan",
            "-p",
            p,
            "-l",
            "User::\"u\"",
            "-a",
            "Action::\"read\"",
            "--resource-type",
            "Doc",
        ])
        .args(["--format", "sql", "--mapping", m])
        .output()
        .unwrap();
    let cli: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["sql"]["query"], cli["query"]);
    assert_eq!(answer["sql"]["params"], cli["params"]);
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(["serve", "-p", p, "--mapping", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
