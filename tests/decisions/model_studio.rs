//! The Model Studio policy set on its examples: every request of
//! `policies/model_studio/examples/requests/` is decided and explained, text
//! and JSON, and snapshotted as `tests/cases/model_studio/explained@<request>.snap`.
//! The rows of the spec's "Denials explain themselves" table are also checked
//! directly: the fix names exactly what the table lists.

use serde_json::Value;

const POLICIES: &str = "policies/model_studio";
const ENTITIES: &str = "policies/model_studio/examples/entities.json";
const REQUESTS: &str = "policies/model_studio/examples/requests";

fn run(args: &[&str]) -> mspl_cli::cli::Outcome {
    let mut all = vec!["mspl"];
    all.extend_from_slice(args);
    mspl_cli::cli::execute(all)
}

fn request_path(name: &str) -> String {
    format!("{REQUESTS}/{name}.json")
}

/// The JSON response (with explanation) to one example request.
fn explained(name: &str) -> Value {
    let path = request_path(name);
    let out = run(&[
        "authorize",
        "--policies",
        POLICIES,
        "--entities",
        ENTITIES,
        "--request",
        &path,
        "--format",
        "json",
        "--explain",
    ]);
    assert!(out.stderr.is_empty(), "{name}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{name}: {e}: {}", out.stdout))
}

fn text(name: &str) -> String {
    let path = request_path(name);
    run(&[
        "authorize",
        "--policies",
        POLICIES,
        "--entities",
        ENTITIES,
        "--request",
        &path,
    ])
    .stdout
}

/// Pretty JSON with object keys sorted, whatever map type serde_json was
/// built with (another workspace member may turn on `preserve_order`).
fn canonical(v: &Value, depth: usize) -> String {
    let pad = "  ".repeat(depth + 1);
    let end = "  ".repeat(depth);
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{pad}{}: {}",
                        Value::String(k.clone()),
                        canonical(&map[k], depth + 1)
                    )
                })
                .collect();
            format!("{{\n{}\n{end}}}", items.join(",\n"))
        }
        Value::Array(items) if !items.is_empty() => {
            let items: Vec<String> = items
                .iter()
                .map(|i| format!("{pad}{}", canonical(i, depth + 1)))
                .collect();
            format!("[\n{}\n{end}]", items.join(",\n"))
        }
        other => other.to_string(),
    }
}

fn fixes(response: &Value) -> Vec<String> {
    response["explanation"]["fixes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_policy_set_checks_clean() {
    let out = run(&["check", POLICIES]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn every_example_is_decided_and_explained() {
    let mut names: Vec<String> = std::fs::read_dir(REQUESTS)
        .expect("examples")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "json").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    assert!(names.len() >= 30, "only {} examples", names.len());
    for name in names {
        let json = explained(&name);
        assert!(
            json["errors"].as_array().is_some_and(|e| e.is_empty()),
            "{name}: evaluation errors: {json}"
        );
        let snapshot = format!(
            "{}\n--- json\n{}\n",
            text(&name).trim_end(),
            canonical(&json, 0)
        );
        insta::with_settings!({snapshot_path => "../cases/model_studio", prepend_module_to_snapshot => false, snapshot_suffix => name.clone()}, {
            insta::assert_snapshot!("explained", snapshot);
        });
    }
}

/// One row of the table: the request, whether a forbid decides it, the
/// words every fix list must contain, and words it must not.
struct Row {
    request: &'static str,
    forbidden: bool,
    names: &'static [&'static str],
    not: &'static [&'static str],
}

const TABLE: &[Row] = &[
    Row {
        request: "data-reader-01-api-write-with-only-read-only",
        forbidden: false,
        names: &["AliyunBailianDataFullAccess"],
        not: &["AliyunBailianDataReadOnlyAccess"],
    },
    Row {
        request: "admin-01-pay-order-without-bss",
        forbidden: false,
        names: &["AliyunBSSOrderAccess"],
        not: &["AliyunBailianFullAccess"],
    },
    Row {
        request: "nobody-01-pay-order-without-bss-or-management",
        forbidden: false,
        names: &["AliyunBSSOrderAccess", "AliyunBailianFullAccess"],
        not: &[],
    },
    Row {
        request: "user-01-view-system-admin",
        forbidden: false,
        names: &["AliyunBailianFullAccess"],
        not: &[],
    },
    Row {
        request: "user-01-create-workspace",
        forbidden: false,
        names: &["AliyunBailianFullAccess"],
        not: &[],
    },
    Row {
        request: "user-01-manage-members",
        forbidden: false,
        names: &["AliyunBailianFullAccess"],
        not: &[],
    },
    Row {
        request: "user-01-manage-api-keys",
        forbidden: false,
        names: &["AliyunBailianFullAccess"],
        not: &[],
    },
    Row {
        request: "user-01-activate-feature",
        forbidden: false,
        names: &["AliyunBailianFullAccess"],
        not: &[],
    },
    Row {
        request: "user-01-activate-model-calling",
        forbidden: false,
        names: &["AliyunBailianFullAccess"],
        not: &[],
    },
    Row {
        request: "user-01-view-bills-without-bss",
        forbidden: false,
        names: &["AliyunBSSReadOnlyAccess"],
        not: &[],
    },
    Row {
        request: "user-01-call-unauthorized-model",
        forbidden: true,
        names: &["Authorize model qwen-plus for workspace project-a"],
        not: &[],
    },
    Row {
        request: "user-01-view-unjoined-workspace-page",
        forbidden: false,
        names: &["member of workspace default"],
        not: &["AliyunBailianFullAccess"],
    },
    Row {
        request: "user-01-edit-knowledge-base",
        forbidden: false,
        names: &["operation permission", "project-a/knowledge_base"],
        not: &[],
    },
];

#[test]
fn each_row_of_the_denials_table_names_its_fix() {
    for row in TABLE {
        let json = explained(row.request);
        assert_eq!(json["decision"], "deny", "{}", row.request);
        let kind = if row.forbidden {
            "forbidden"
        } else {
            "not_permitted"
        };
        assert_eq!(json["kind"], kind, "{}", row.request);
        let all = fixes(&json).join("\n");
        for name in row.names {
            assert!(
                all.contains(name),
                "{}: fix `{all}` does not name `{name}`",
                row.request
            );
        }
        for name in row.not {
            assert!(
                !all.contains(name),
                "{}: fix `{all}` names `{name}`",
                row.request
            );
        }
    }
}

#[test]
fn the_console_login_denial_carries_the_console_message() {
    let out = text("nobody-01-console-login");
    assert!(out.starts_with("DENY\n"), "{out}");
    assert!(
        out.contains("You do not have access permissions to this workspace."),
        "{out}"
    );
}

#[test]
fn an_allow_through_administrator_access_says_so() {
    // The administrator of the spec holds AdministratorAccess elsewhere in
    // the examples; find an allow whose explanation goes through it.
    let out = text("sysadmin-01-view-system-admin");
    assert!(out.starts_with("ALLOW\n"), "{out}");
    assert!(
        out.contains("implies(\"AdministratorAccess\", \"AliyunBailianFullAccess\")"),
        "{out}"
    );
}

#[test]
fn the_batch_of_all_examples_is_judged() {
    let out = run(&[
        "authorize",
        "--policies",
        POLICIES,
        "--entities",
        ENTITIES,
        "--requests",
        "policies/model_studio/examples/requests.jsonl",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.lines().count() >= 30);
}
