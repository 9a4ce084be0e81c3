//! `mspl plan --format sql` at the command line: the query's parameters
//! carry every value (none is in its text), and a construct with no exact
//! translation is refused with exit 1, named with its place in the
//! policies.

use std::process::Command;

const MAPPING: &str = r#"{"types": {"Doc": {"table": "docs", "id": "id",
  "attributes": {"title": {"type": "string", "column": "title"},
                 "tags": {"type": "string", "set": {"table": "doc_tags", "owner": "doc", "value": "tag"}}}}}}"#;

/// Runs `mspl plan` on `policies` with the mapping: exit code, stdout, stderr.
fn plan(policies: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.mspl"), policies).unwrap();
    std::fs::write(dir.path().join("m.json"), MAPPING).unwrap();
    let args = [
        "-p",
        "p.mspl",
        "-l",
        "User::\"u'1\"",
        "-a",
        "Action::\"read\"",
        "--resource-type",
        "Doc",
        "--format",
        "sql",
        "--mapping",
        "m.json",
    ];
    plan_in(dir.path(), &[&args[..], extra].concat())
}

#[test]
fn values_travel_as_parameters_only() {
    let (code, out, err) = plan(
        r#"permit(principal, action, resource) when { resource.title like "*'; DROP TABLE docs; --%_\\*" || resource.tags.contains("o\"k") };"#,
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    let query = answer["query"].as_str().unwrap();
    assert!(
        query.starts_with("SELECT r.\"id\" FROM \"docs\" r WHERE "),
        "{query}"
    );
    assert!(
        !query.contains("DROP") && !query.contains("o\"k"),
        "{query}"
    );
    let params = answer["params"].as_array().unwrap();
    assert!(
        params.contains(&serde_json::json!("%'; DROP TABLE docs; --\\%\\_\\\\%")),
        "{params:?}"
    );
    assert!(params.contains(&serde_json::json!("o\"k")));
    let (code, out, _) = plan(
        "permit(principal, action, resource);",
        &["--sql-form", "where"],
    );
    assert_eq!(code, 0);
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(answer["where"].is_string() && answer["joins"] == serde_json::json!([]));
}

#[test]
fn what_has_no_exact_translation_is_refused_where_it_stands() {
    for (policy, says) in [
        ("permit(principal, action, resource) when { resource.owner == principal };", "the attribute `owner` of `Doc`"),
        ("permit(principal, action, resource) when { resource.tags.containsAll([\"a\"]) };", "containsAll"),
        ("permit(principal, action, resource) when { any t in resource.tags: t == \"a\" };", "any t in"),
        ("permit(principal, action, resource) when { up(resource) };\nrule up(d) { d.title == \"x\" || up(d) }", "recursive over the resource"),
        ("permit(principal, action, resource) when { resource.title == \"a\\0b\" };", "U+0000"),
    ] {
        let (code, _, err) = plan(policy, &[]);
        assert_eq!(code, 1, "{policy}");
        assert!(err.contains("no exact SQL") && err.contains(says), "{policy}:\n{err}");
        assert!(err.contains("p.mspl:"), "a location: {err}");
    }
    let (code, _, err) = plan(
        "permit(principal, action, resource);",
        &["--mapping", "nope.json"],
    );
    assert_eq!(code, 1, "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.mspl"),
        "permit(principal, action, resource);",
    )
    .unwrap();
    let (code, _, err) = plan_in(
        dir.path(),
        &[
            "-p",
            "p.mspl",
            "-l",
            "User::\"u\"",
            "-a",
            "Action::\"read\"",
            "--resource-type",
            "Doc",
            "--format",
            "sql",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--mapping"));
}

/// `mspl plan` in `dir` with `args`: exit code, stdout, stderr.
fn plan_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .current_dir(dir)
        .arg("plan")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bare_action_id_and_cedar_ids_read_as_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.cedar"),
        "@id(\"reader\")\n\
         permit(principal, action == Action::\"read\", resource) when { resource.title == \"a\" };\n\
         forbid(principal, action, resource) when { resource.title == \"b\" };\n",
    )
    .unwrap();
    let common = [
        "-p",
        "p.cedar",
        "-l",
        "User::\"u\"",
        "--resource-type",
        "Doc",
    ];
    let qualified = plan_in(
        dir.path(),
        &[&common[..], &["-a", "Action::\"read\""]].concat(),
    );
    let bare = plan_in(dir.path(), &[&common[..], &["-a", "read"]].concat());
    assert_eq!(qualified.0, 0, "{}", qualified.2);
    assert_eq!(bare, qualified, "`-a read` is `Action::\"read\"`");
    // Without --cedar an `@id` names its policy; with it, every policy is
    // Cedar's `policyN`, as `authorize --cedar` names them.
    assert!(
        qualified.1.contains("@id(\"reader\")") && !qualified.1.contains("\"policy0\""),
        "{}",
        qualified.1
    );
    let cedar = plan_in(
        dir.path(),
        &[&common[..], &["-a", "read", "--cedar"]].concat(),
    );
    assert_eq!(cedar.0, 0, "{}", cedar.2);
    assert!(
        cedar.1.contains("@id(\"policy0\")") && cedar.1.contains("@id(\"policy1\")"),
        "{}",
        cedar.1
    );
    let (code, _, err) = plan_in(
        dir.path(),
        &[&common[..], &["-a", "User::\"x\" +"]].concat(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("--action"), "{err}");
}
