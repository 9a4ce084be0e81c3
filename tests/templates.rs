//! Templates and links: the corpus under `tests/cases/templates`, one
//! directory per case (policies, `links.json`, perhaps a schema), each run
//! through `mspl validate` (with a schema) or `mspl check`, the exit code
//! and output snapshotted beside it as `outcome@<case>.snap`.

use std::path::Path;

fn run(args: &[&str]) -> String {
    let out = mspl::cli::execute(std::iter::once("mspl").chain(args.iter().copied()));
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    )
}

#[test]
fn template_and_link_corpus() {
    let root = Path::new("tests/cases/templates");
    let mut cases: Vec<_> = std::fs::read_dir(root)
        .expect("the corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "the corpus is there");
    for dir in cases {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let d = dir.to_str().expect("utf-8 path");
        let links = format!("{d}/links.json");
        let command = if dir.join("schema.cedarschema").exists() {
            "validate"
        } else {
            "check"
        };
        let outcome = run(&[command, "-p", d, "-k", &links]);
        insta::with_settings!({snapshot_path => "cases/templates", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("outcome@{name}"), outcome);
        });
    }
}
