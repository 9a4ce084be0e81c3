//! The authorization corpus: each folder under `tests/cases/authorize` holds
//! policies, `entities.json` and `requests.jsonl`; every request is decided
//! with mspl's fail-closed semantics and with Cedar's, and the responses are
//! snapshotted beside the folder as `responses@<case>.snap`.

use mspl::__internal::authorize::{authorize, ErrorMode, Options};
use mspl::__internal::entities::build::build_entities;
use mspl::__internal::entities::json::request_from_json;
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::Limits;
use std::fmt::Write;
use std::path::Path;

fn run_case(dir: &Path) -> String {
    let mut loader = Loader::new(Limits::default());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("case folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "mspl" || e == "cedar" || e == "cedarschema")
        })
        .collect();
    files.sort();
    for f in &files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        loader.add_source(name, std::fs::read_to_string(f).expect("policy file"));
    }
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(
        diagnostics.is_empty(),
        "{}: {}",
        dir.display(),
        set.sources.render(&diagnostics, false)
    );
    let entities_text = std::fs::read_to_string(dir.join("entities.json")).expect("entities.json");
    let entities = build_entities(&set.schema, [("entities.json", entities_text.as_str())])
        .expect("entities load");
    let requests = std::fs::read_to_string(dir.join("requests.jsonl")).expect("requests.jsonl");
    let mut out = String::new();
    for (i, line) in requests
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let json: serde_json::Value = serde_json::from_str(line).expect("request JSON");
        let request = request_from_json(&json, &set.schema).expect("request");
        let _ = writeln!(out, "request {}: {line}", i + 1);
        for (label, errors) in [
            ("mspl ", ErrorMode::FailClosed),
            ("cedar", ErrorMode::Cedar),
        ] {
            let options = Options {
                errors,
                limits: Limits::default(),
                plain: false,
                deadline: None,
            };
            let response = authorize(&set, &entities, &request, &options);
            let _ = writeln!(
                out,
                "  {label}: {}",
                serde_json::to_string(&response).expect("serialises")
            );
        }
    }
    out
}

#[test]
fn responses() {
    let mut dirs: Vec<_> = std::fs::read_dir("tests/cases/authorize")
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 8);
    for dir in dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        insta::with_settings!({snapshot_path => "../cases/authorize", prepend_module_to_snapshot => false, snapshot_suffix => name.clone()}, {
            insta::assert_snapshot!(run_case(&dir));
        });
    }
}

/// A large batch is judged on every core, and its output is exactly the
/// sequential one, in input order: 770 Model Studio requests (ten copies of
/// the examples) on one thread, on two and on three, in text and in JSON
/// with explanations.
#[test]
fn a_parallel_batch_prints_what_the_sequential_one_prints() {
    let lines = std::fs::read_to_string("policies/model_studio/examples/requests.jsonl").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.jsonl");
    std::fs::write(&many, lines.repeat(10)).unwrap();
    let run = |threads: &str, format: &[&str]| {
        let mut args = vec![
            "mspl",
            "authorize",
            "--policies",
            "policies/model_studio",
            "--entities",
            "policies/model_studio/examples/entities.json",
            "--requests",
            many.to_str().unwrap(),
            "--threads",
            threads,
        ];
        args.extend(format);
        let out = mspl_cli::cli::execute(args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    for format in [&["--format", "json", "--explain"][..], &[][..]] {
        let sequential = run("1", format);
        assert_eq!(
            sequential.matches("request at line ").count(),
            if format.is_empty() { 770 } else { 0 }
        );
        for threads in ["2", "3"] {
            assert!(
                run(threads, format) == sequential,
                "{threads} threads, {format:?}"
            );
        }
    }
}
