//! The validator's corpus: every `tests/cases/validate/*.mspl` is loaded
//! with `common.cedarschema` and must draw at least one problem; every
//! `*.json` (entities) and `*.jsonl` (requests) there is checked against the
//! same declarations. The rendered diagnostics are snapshotted beside them as
//! `problems@<file>.snap`. Then what must validate clean: one-line policies
//! that exercise the typing rules, and the Model Studio set with its data.

use mspl::__internal::diag::{Diagnostic, Severity};
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::validate::{data, validate_policies, Problem};
use mspl::__internal::Limits;
use std::path::Path;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/validate");

/// Loads `common.cedarschema` and the given extra sources.
fn load(extra: &[(&str, &str)]) -> PolicySet {
    let common = std::fs::read_to_string(Path::new(CASES).join("common.cedarschema"))
        .expect("the shared declarations");
    let mut loader = Loader::new(Limits::default());
    loader.add_source("common.cedarschema".into(), common);
    for (name, text) in extra {
        loader.add_source(name.to_string(), text.to_string());
    }
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "load errors: {}",
        set.sources.render(&diagnostics, false)
    );
    set
}

fn render(set: &PolicySet, problems: &[Problem]) -> String {
    let ds: Vec<Diagnostic> = problems.iter().map(Diagnostic::from).collect();
    set.sources.render(&ds, false)
}

fn errors(problems: &[Problem]) -> Vec<&Problem> {
    problems.iter().filter(|p| !p.is_warning()).collect()
}

#[test]
fn policy_corpus() {
    insta::with_settings!({snapshot_path => "../cases/validate", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "validate/*.mspl", |path| {
            let text = std::fs::read_to_string(path).expect("readable");
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
            let set = load(&[(&name, &text)]);
            let problems = validate_policies(&set);
            assert!(!problems.is_empty(), "{name}: expected at least one problem");
            insta::assert_snapshot!("problems", render(&set, &problems));
        });
    });
}

#[test]
fn data_corpus() {
    insta::with_settings!({snapshot_path => "../cases/validate", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "validate/*.{json,jsonl}", |path| {
            let text = std::fs::read_to_string(path).expect("readable");
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
            let mut set = load(&[]);
            let file = set.sources.add(name.clone(), text.clone());
            let problems = if name.ends_with(".jsonl") {
                data::validate_requests(&set, file, &text, true)
            } else {
                data::validate_entities(&set, file, &text)
            }
            .expect("readable JSON");
            let problems = mspl::__internal::validate::tidy(problems);
            assert!(!errors(&problems).is_empty(), "{name}: expected at least one error");
            insta::assert_snapshot!("problems", render(&set, &problems));
        });
    });
}

/// Policies that must validate without errors (warnings allowed).
#[test]
fn clean() {
    let scope = "permit(principal, action == Action::\"view\", resource) when";
    let conditions = [
        // `has` guards what follows it with `&&`, in a `then`, and through
        // an `||` whose sides both hold the fact.
        "principal has age && principal.age >= 21",
        "if principal has age then principal.age > 3 else false",
        "((principal has age && context.authenticated) || (principal has age && context.n > 1)) && principal.age > 1",
        "(principal has manager || principal has manager) && principal.manager.name == \"a\"",
        "principal has profile.nick && principal.profile.nick like \"a*\"",
        "principal.hasTag(\"team\") && principal.getTag(\"team\") == \"red\"",
        "context has ip && context.ip.isInRange(ip(\"10.0.0.0/8\"))",
        // Singletons cut off what can never run.
        "false && principal.nonsense",
        "true || 1",
        "principal in Group::\"admins\" && principal in [Team::\"a\", Team::\"b\"]",
        "resource is Photo && resource.owner == principal",
        "resource is Album || !resource.private",
        "principal == resource",
        "1 == \"one\"",
        "[principal.name, principal.email].contains(\"x\")",
        "principal.tags.containsAll([\"a\", \"b\"]) && !principal.tags.isEmpty()",
        "{a: 1, b: [true]}.b.contains(false)",
        "datetime(\"2024-01-01\") < datetime(\"2024-02-01\").offset(duration(\"1h\"))",
        "decimal(\"1.5\").lessThan(decimal(\"2.25\"))",
        "action in Action::\"read\"",
        "any t in principal.tags: t like \"admin*\"",
        "all t in principal.tags: any u in principal.tags: t == u",
    ];
    for c in conditions {
        let text = format!("{scope} {{ {c} }};");
        let set = load(&[("clean.mspl", &text)]);
        let problems = validate_policies(&set);
        assert!(
            errors(&problems).is_empty(),
            "`{c}` should validate:\n{}",
            render(&set, &problems)
        );
    }
}

/// Rules are checked at each call with the argument types there, so a rule
/// that narrows with `is` is fine for every type it is called with.
#[test]
fn rules_are_typed_at_their_calls() {
    let text = r#"
        rule named(x) { x is User && x.name != "" }
        rule named(x) { x is Photo && named(x.owner) }
        permit(principal, action == Action::"view", resource) when { named(principal) && named(resource) };
    "#;
    let set = load(&[("rules.mspl", text)]);
    let problems = validate_policies(&set);
    assert!(problems.is_empty(), "{}", render(&set, &problems));
}

#[test]
fn model_studio_validates_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/model_studio");
    let mut loader = Loader::new(Limits::default());
    loader.add_path(&root);
    let (mut set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(
        diagnostics.iter().all(|d| d.severity != Severity::Error),
        "{}",
        set.sources.render(&diagnostics, false)
    );
    let mut problems = validate_policies(&set);
    for (file, lines) in [("entities.json", false), ("requests.jsonl", true)] {
        let path = root.join("examples").join(file);
        let text = std::fs::read_to_string(&path).expect("the example data");
        let id = set.sources.add(file, text.clone());
        let found = if lines {
            data::validate_requests(&set, id, &text, true)
        } else {
            data::validate_entities(&set, id, &text)
        };
        problems.extend(found.expect("readable JSON"));
    }
    assert!(problems.is_empty(), "{}", render(&set, &problems));
}
