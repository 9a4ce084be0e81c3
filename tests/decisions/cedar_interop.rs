//! Cedar interop from files: the corpora under `tests/cases/templates`
//! (template and link errors) and `tests/cases/cedar_json` (Cedar's JSON
//! formats, translations, the Cedar CLI's names), one directory per case.
//! A case's `args` holds its command line (`{dir}` stands for the case's
//! directory); without one, the case is `mspl validate` (with a schema) or
//! `mspl check` of the directory with its `links.json`. The exit code and
//! output are snapshotted beside the corpus as `outcome@<case>.snap`.

use std::path::Path;

fn run(args: &[String]) -> String {
    let out =
        mspl_cli::cli::execute(std::iter::once("mspl".to_string()).chain(args.iter().cloned()));
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    )
}

fn corpus(root: &str) {
    let mut cases: Vec<_> = std::fs::read_dir(root)
        .expect("the corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "the corpus {root} is there");
    for dir in cases {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let d = dir.to_str().expect("utf-8 path").to_string();
        let args: Vec<String> = match std::fs::read_to_string(dir.join("args")) {
            Ok(line) => line
                .split_whitespace()
                .map(|w| w.replace("{dir}", &d))
                .collect(),
            Err(_) => {
                let command = if dir.join("schema.cedarschema").exists() {
                    "validate"
                } else {
                    "check"
                };
                [command, "-p", &d, "-k", &format!("{d}/links.json")]
                    .map(String::from)
                    .to_vec()
            }
        };
        let outcome = run(&args);
        insta::with_settings!({snapshot_path => Path::new("../cases").join(Path::new(root).file_name().expect("a name")), prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("outcome@{name}"), outcome);
        });
    }
}

#[test]
fn template_and_link_corpus() {
    corpus("tests/cases/templates");
}

#[test]
fn cedar_json_and_cli_corpus() {
    corpus("tests/cases/cedar_json");
}

/// `mspl link` adds to the links file (creating it), keeps what was there,
/// and writes nothing when the new link does not load.
#[test]
fn link_adds_to_the_file_and_never_writes_what_does_not_load() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let policies = dir.path().join("policies.cedar");
    std::fs::copy("docs/examples/templates/policies.cedar", &policies).expect("copied");
    // A JSON policy file's links stay in it, never copied to the links file.
    std::fs::write(
        dir.path().join("more.cedar.json"),
        r#"{"staticPolicies": {}, "templates": {}, "templateLinks": [{"templateId": "share-folder", "newId": "from-json",
            "values": {"?principal": {"type": "User", "id": "zed"}, "?resource": {"type": "Folder", "id": "plans"}}}]}"#,
    )
    .expect("written");
    let links = dir.path().join("links.json");
    let (p, k) = (
        dir.path().to_str().expect("utf-8"),
        links.to_str().expect("utf-8"),
    );
    let link = |id: &str, args: &str| {
        let out = mspl_cli::cli::execute([
            "mspl",
            "link",
            "-p",
            p,
            "-k",
            k,
            "--template-id",
            "share-folder",
            "-n",
            id,
            "-a",
            args,
        ]);
        (out.code, out.stderr)
    };
    let alice = r#"{"?principal": "User::\"alice\"", "?resource": "Folder::\"plans\""}"#;
    let bob = r#"{"?principal": {"type": "User", "id": "bob"}, "?resource": "Folder::\"plans\""}"#;
    assert_eq!(link("alice-plans", alice).0, 0);
    assert_eq!(link("bob-plans", bob).0, 0);
    let written = std::fs::read_to_string(&links).expect("the file was written");
    let json: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!([
            {"template_id": "share-folder", "link_id": "alice-plans",
             "args": {"?principal": "User::\"alice\"", "?resource": "Folder::\"plans\""}},
            {"template_id": "share-folder", "link_id": "bob-plans",
             "args": {"?principal": "User::\"bob\"", "?resource": "Folder::\"plans\""}}
        ])
    );
    // A taken id, a missing slot, bad JSON: refused, the file untouched.
    for (id, args) in [
        ("alice-plans", alice),
        ("carol", r#"{"?principal": "User::\"carol\""}"#),
        ("dave", "{"),
    ] {
        let (code, stderr) = link(id, args);
        assert_eq!(code, 1, "{id}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(&links).expect("still there"),
            written,
            "{id}"
        );
    }
    // The links decide.
    let out = mspl_cli::cli::execute([
        "mspl",
        "authorize",
        "-p",
        p,
        "-k",
        k,
        "--entities",
        "docs/examples/templates/entities.json",
        "-l",
        "User::\"alice\"",
        "-a",
        "Action::\"comment\"",
        "-r",
        "Doc::\"roadmap\"",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("ALLOW\n  permitted by `alice-plans`"),
        "{}",
        out.stdout
    );
}
