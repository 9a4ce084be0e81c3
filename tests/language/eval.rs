//! The evaluator's corpus: `tests/cases/eval/*.txt`, one case a line,
//! `EXPR ⇒ VALUE` (VALUE is an expression too, and the two values must be
//! equal) or `EXPR ⇒ error: TEXT` (the error's message must contain TEXT).
//! A case is judged against an empty store and the request `User::"alice"`,
//! `Action::"view"`, `Doc::"d"`, context `{}` unless a `# entities: FILE`
//! header names a store. Every case runs through both paths of the
//! interpreter, the plain one and the in-place fast path, which must agree.
//! Where to add a case when touching the interpreter or a built-in.

use mspl::__internal::entities::build::build_entities;
use mspl::__internal::entities::json::Request;
use mspl::__internal::eval::{Evaluator, Value};
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::syntax::ast::EntityUid;
use mspl::__internal::syntax::parse_expr;
use mspl::__internal::{Entities, Limits};

const ARROW: &str = " ⇒ ";

/// What a case expects.
enum Expected {
    Value(String),
    Error(String),
}

/// Evaluates `text` with `in_place` set: its value, or the error's message.
fn eval(
    set: &PolicySet,
    entities: &Entities,
    request: &Request,
    text: &str,
    in_place: bool,
) -> Result<Value, String> {
    let limits = Limits::default();
    let mut expr = parse_expr(text, 0, &[], &limits).map_err(|e| format!("parse: {e:?}"))?;
    let problems = set.link_expr(&mut expr);
    if !problems.is_empty() {
        let messages: Vec<&str> = problems.iter().map(|d| d.message.as_str()).collect();
        return Err(messages.join("; "));
    }
    let mut evaluator = Evaluator::new(set, entities, request, &limits);
    evaluator.set_in_place(in_place);
    evaluator.eval(&expr).map_err(|e| e.to_string())
}

/// The store a file's `# entities:` header names, or an empty one.
fn store(text: &str, set: &PolicySet) -> Entities {
    match text.lines().find_map(|l| l.strip_prefix("# entities:")) {
        Some(path) => {
            let path = path.trim();
            let json = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            build_entities(&set.schema, [(path, json.as_str())]).unwrap_or_else(|e| panic!("{e}"))
        }
        None => Entities::new(),
    }
}

#[test]
fn every_case_of_the_corpus_holds_on_both_paths() {
    let (set, diagnostics) = Loader::new(Limits::default()).finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty());
    let request = Request {
        principal: EntityUid::new("User", "alice"),
        action: EntityUid::new("Action", "view"),
        resource: EntityUid::new("Doc", "d"),
        context: Value::empty_record(),
    };
    let mut files: Vec<_> = std::fs::read_dir("tests/cases/eval")
        .expect("tests/cases/eval")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let (mut cases, mut failures) = (0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let entities = store(&text, &set);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{}:{}", file.display(), n + 1);
            let Some((expr, want)) = line.rsplit_once(ARROW) else {
                failures.push(format!("{at}: no `{}` in `{line}`", ARROW.trim()));
                continue;
            };
            let expected = match want.strip_prefix("error:") {
                Some(message) => Expected::Error(message.trim().to_string()),
                None => Expected::Value(want.trim().to_string()),
            };
            cases += 1;
            let plain = eval(&set, &entities, &request, expr, false);
            let in_place = eval(&set, &entities, &request, expr, true);
            if plain != in_place {
                failures.push(format!(
                    "{at}: `{expr}`: the paths disagree: plain {plain:?}, in place {in_place:?}"
                ));
                continue;
            }
            match (&expected, &plain) {
                (Expected::Value(v), Ok(got)) => match eval(&set, &entities, &request, v, false) {
                    Ok(want) if want == *got => {}
                    Ok(want) => failures.push(format!("{at}: `{expr}` is {got}, not {want}")),
                    Err(e) => failures.push(format!("{at}: the expected `{v}` is no value: {e}")),
                },
                (Expected::Error(m), Err(e)) if e.contains(m.as_str()) => {}
                (Expected::Error(m), Err(e)) => {
                    failures.push(format!("{at}: `{expr}` raised `{e}`, not `{m}`"));
                }
                (Expected::Error(m), Ok(v)) => {
                    failures.push(format!("{at}: `{expr}` is {v}, not the error `{m}`"));
                }
                (Expected::Value(v), Err(e)) => {
                    failures.push(format!("{at}: `{expr}` raised `{e}`, not {v}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A corpus that judged nothing proves nothing.
    assert!(cases >= 150, "only {cases} cases ran");
    eprintln!("{cases} evaluator cases, each on both paths");
}
