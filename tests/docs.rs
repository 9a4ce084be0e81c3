//! Runs every example of `docs/language.md`, so the reference cannot rot:
//! its policy blocks load, its expressions evaluate to what they show, and
//! its `mspl` commands print what the block after them shows.
//! Blocks marked `mspl-valid` must also validate without errors, blocks
//! marked `mspl-invalid` must load but draw a validation error.

#[path = "support/doc_examples.rs"]
mod doc_examples;

use mspl::entities::json::Request;
use mspl::eval::{Evaluator, Value};
use mspl::policy_set::{IdScheme, Loader};
use mspl::syntax::ast::EntityUid;
use mspl::{Entities, Limits};

/// The fenced blocks of a Markdown text: (info string, body, line).
fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(info) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((info.trim().to_string(), String::new(), i + 1)),
            }
        } else if let Some((_, body, _)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

fn load(source: &str) -> (mspl::PolicySet, Vec<mspl::diag::Diagnostic>) {
    let mut loader = Loader::new(Limits::default());
    loader.add_source("example.mspl".into(), source.into());
    loader.finish(IdScheme::Annotated)
}

fn eval(expr: &str) -> Result<Value, String> {
    // Expressions are evaluated as a rule body, so rules and linking apply.
    let (set, diagnostics) = load(&format!("rule example() {{ ({expr}) == ({expr}) }}"));
    if !diagnostics.is_empty() {
        return Err(set.sources.render(&diagnostics, false));
    }
    let parsed =
        mspl::syntax::parse_expr(expr, 0, &[], &Limits::default()).map_err(|e| format!("{e:?}"))?;
    let entities = Entities::new();
    let request = Request {
        principal: EntityUid::new("User", "alice"),
        action: EntityUid::new("Action", "view"),
        resource: EntityUid::new("Doc", "d"),
        context: Value::empty_record(),
    };
    let limits = Limits::default();
    let mut evaluator = Evaluator::new(&set, &entities, &request, &limits);
    evaluator.eval(&parsed).map_err(|e| e.to_string())
}

#[test]
fn every_example_of_the_language_reference_runs() {
    let text = std::fs::read_to_string("docs/language.md").expect("docs/language.md");
    let mut counts = (0, 0, 0);
    for (info, body, line) in blocks(&text) {
        match info.as_str() {
            "mspl" => {
                let (set, diagnostics) = load(&body);
                assert!(
                    diagnostics.is_empty(),
                    "line {line}:\n{}",
                    set.sources.render(&diagnostics, false)
                );
                counts.0 += 1;
            }
            "mspl-valid" | "mspl-invalid" => {
                let (set, diagnostics) = load(&body);
                assert!(
                    diagnostics.is_empty(),
                    "line {line}:\n{}",
                    set.sources.render(&diagnostics, false)
                );
                let problems = mspl::validate::validate_policies(&set);
                let errors: Vec<_> = problems.iter().filter(|p| !p.is_warning()).collect();
                assert_eq!(
                    errors.is_empty(),
                    info == "mspl-valid",
                    "line {line}: {errors:?}"
                );
                counts.0 += 1;
            }
            "mspl-error" => {
                let (_, diagnostics) = load(&body);
                assert!(!diagnostics.is_empty(), "line {line}: expected an error");
                counts.1 += 1;
            }
            "mspl-eval" => {
                for (j, l) in body.lines().enumerate() {
                    let Some((expr, expected)) = l.split_once("// =>") else {
                        continue;
                    };
                    let value =
                        eval(expr.trim()).unwrap_or_else(|e| panic!("line {}: {e}", line + j + 1));
                    assert_eq!(
                        value.to_string(),
                        expected.trim(),
                        "line {}: `{}`",
                        line + j + 1,
                        expr.trim()
                    );
                    counts.2 += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        counts.0 >= 5 && counts.1 >= 3 && counts.2 >= 30,
        "{counts:?}"
    );
}

#[test]
fn every_command_of_the_language_reference_prints_what_it_shows() {
    let ran = doc_examples::check("docs/language.md", "mspl ", |args| {
        let out = mspl::cli::execute(std::iter::once("mspl").chain(args.iter().copied()));
        (out.code, out.stdout, out.stderr)
    });
    assert!(ran >= 5, "{ran} commands ran");
}
