//! Bearer tokens: client tokens open the decision and AuthZEN endpoints,
//! status and metrics; only the admin token opens reload and writes;
//! health and the AuthZEN metadata stay open; no token is ever shown.

use crate::served::Served;

const MS: &str = "policies/model_studio";
const ENTITIES: &str = "policies/model_studio/examples/entities.json";
const REQUEST: &str = r#"{"principal": {"type": "RamUser", "id": "user-01"}, "action": {"type": "Action", "id": "page.view"}, "resource": {"type": "Page", "id": "project-a/knowledge_base"}, "context": {}}"#;
const EVALUATION: &str = r#"{"subject": {"type": "RamUser", "id": "user-01"}, "action": {"name": "page.view"}, "resource": {"type": "Page", "id": "project-a/knowledge_base"}}"#;

/// A file holding `text` (a token file, say), removed when dropped.
pub(crate) fn secret_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn client_tokens_open_decisions_and_only_the_admin_token_opens_reload() {
    let clients = secret_file("# the clients\nclient-one\n\n  client-two  \n");
    let admin = secret_file("the-admin\n");
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        ENTITIES,
        "--auth-token-file",
        clients.path().to_str().unwrap(),
        "--admin-token-file",
        admin.path().to_str().unwrap(),
        "--decision-log",
        log.path().to_str().unwrap(),
    ]);
    let send = |method: &str, path: &str, token: Option<&str>, body: &str| {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| vec![("Authorization", b)])
            .unwrap_or_default();
        server
            .connect()
            .send(method, path, &headers, body.as_bytes())
    };
    // Each endpoint: without a token, with a wrong one, with each kind.
    let cases: &[(&str, &str, &str)] = &[
        ("POST", "/v1/is_authorized", REQUEST),
        ("POST", "/access/v1/evaluation", EVALUATION),
        ("GET", "/v1/status", ""),
        ("GET", "/metrics", ""),
    ];
    let batch = format!("{{\"requests\": [{REQUEST}]}}");
    let mut cases = cases.to_vec();
    cases.push(("POST", "/v1/batch_is_authorized", &batch));
    for (method, path, body) in &cases {
        let none = send(method, path, None, body);
        assert_eq!(none.status, 401, "{path} without a token: {}", none.body);
        assert_eq!(
            none.header("www-authenticate"),
            Some("Bearer realm=\"mspl\""),
            "{path}"
        );
        assert!(none.body.contains("Authorization: Bearer"), "{}", none.body);
        let wrong = send(method, path, Some("client-on"), body);
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        assert_eq!(
            wrong.header("www-authenticate"),
            Some("Bearer realm=\"mspl\", error=\"invalid_token\""),
            "{path}"
        );
        for token in ["client-one", "client-two", "the-admin"] {
            let reply = send(method, path, Some(token), body);
            assert_eq!(reply.status, 200, "{path} with {token}: {}", reply.body);
        }
    }
    // The scheme is case-insensitive (RFC 7235); a token is not a prefix.
    let reply = server.connect().send(
        "POST",
        "/v1/is_authorized",
        &[("Authorization", "bearer client-one")],
        REQUEST.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        send(
            "POST",
            "/v1/is_authorized",
            Some("client-one-and-more"),
            REQUEST
        )
        .status,
        401
    );
    // Open: health and the AuthZEN metadata.
    for path in [
        "/health/live",
        "/health/ready",
        "/.well-known/authzen-configuration",
    ] {
        assert_eq!(send("GET", path, None, "").status, 200, "{path}");
    }
    // Admin operations: a client token is refused (403), the admin token
    // opens them.
    let reply = send("POST", "/v1/reload", Some("client-one"), "");
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"mspl\", error=\"insufficient_scope\"")
    );
    assert_eq!(send("POST", "/v1/reload", None, "").status, 401);
    let reply = send("POST", "/v1/reload", Some("the-admin"), "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    // No secret in status, metrics, the decision log or the server's own log.
    let status = send("GET", "/v1/status", Some("client-one"), "").body;
    let metrics = send("GET", "/metrics", Some("client-one"), "").body;
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let decisions = std::fs::read_to_string(log.path()).unwrap();
    assert!(decisions.lines().count() >= 8, "{decisions}");
    for text in [&status, &metrics, &decisions, &stderr] {
        for secret in ["client-one", "client-two", "the-admin"] {
            assert!(!text.contains(secret), "{secret} shown in {text:.400}");
        }
    }
}

#[test]
fn client_tokens_come_from_the_environment_and_a_bad_token_file_is_refused() {
    let server = Served::start_with_env(
        &["-p", MS, "--entities", ENTITIES],
        &[("MSPL_AUTH_TOKENS", "from-env\nanother\n")],
    );
    let reply = server.connect().send(
        "POST",
        "/v1/is_authorized",
        &[("Authorization", "Bearer another")],
        REQUEST.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(server.post("/v1/is_authorized", REQUEST).status, 401);
    drop(server);
    for (text, says) in [
        ("# nothing\n\n", "holds no token"),
        ("two words\n", "holds a space"),
    ] {
        let file = secret_file(text);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mspl"))
            .args([
                "serve",
                "-p",
                MS,
                "--entities",
                ENTITIES,
                "--addr",
                "127.0.0.1:0",
            ])
            .arg("--auth-token-file")
            .arg(file.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}
