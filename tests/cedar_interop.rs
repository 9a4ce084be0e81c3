//! Cedar interop from files: the corpora under `tests/cases/templates`
//! (template and link errors) and `tests/cases/cedar_json` (Cedar's JSON
//! formats, translations, the Cedar CLI's names), one directory per case.
//! A case's `args` holds its command line (`{dir}` stands for the case's
//! directory); without one, the case is `mspl validate` (with a schema) or
//! `mspl check` of the directory with its `links.json`. The exit code and
//! output are snapshotted beside the corpus as `outcome@<case>.snap`.

use std::path::Path;

fn run(args: &[String]) -> String {
    let out = mspl::cli::execute(std::iter::once("mspl".to_string()).chain(args.iter().cloned()));
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
        insta::with_settings!({snapshot_path => Path::new("cases").join(Path::new(root).file_name().expect("a name")), prepend_module_to_snapshot => false}, {
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
