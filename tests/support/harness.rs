//! The bodies of the fuzz targets, shared by `fuzz/` (cargo-fuzz) and by
//! `tests/fuzz_regressions.rs`, which replays every saved crash input with
//! the same code. A finding is a panic: a crash of mspl itself, or an
//! `assert!` here on a property that must hold for every input.

use mspl::__internal::authorize::{authorize, Decision, ErrorMode, Options};
use mspl::__internal::entities::build::build_entities_with;
use mspl::__internal::entities::json::{request_from_text, Origin};
use mspl::__internal::entities::Entities;
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::syntax::{parse_expr, parse_file};
use mspl::__internal::Limits;
use std::sync::OnceLock;

#[allow(dead_code)]
#[path = "gen.rs"]
pub mod gen;

/// Limits small enough that fuzzing reaches them often and stays fast.
pub fn small_limits() -> Limits {
    Limits {
        max_steps: 20_000,
        max_rule_depth: 24,
        max_set_size: 64,
        ..Limits::default()
    }
}

/// Target `parse`: any bytes as a policy file. Parsing, linking and
/// rendering the diagnostics never panic; every span lies inside the text.
pub fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let parsed = parse_file(text, 0, &limits);
    for e in &parsed.errors {
        let span = e.span();
        assert!(
            span.start <= span.end && span.range().end <= text.len(),
            "span {span:?} outside the text: {e:?}"
        );
    }
    let mut loader = Loader::new(limits);
    loader.add_source("fuzz.mspl".into(), text.to_string());
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    let _ = set.sources.render(&diagnostics, false);
    for d in &diagnostics {
        let _ = set.sources.to_json(d);
    }
    let _ = parse_expr(text, 0, &[], &limits);
    if parsed.errors.is_empty() {
        roundtrip_parsed(text, &parsed.file);
    }
}

/// Target `cedar_json`: the first byte chooses how the rest is read, as a
/// linked-policies file (beside a template), Cedar's JSON schema or its
/// JSON policy format; loading and rendering the diagnostics never panic,
/// every span lies inside its source, and a JSON policy set that loads
/// translates to JSON and back to the same policies.
pub fn cedar_json(data: &[u8]) {
    use mspl::__internal::policy_set::SourceFormat;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut loader = Loader::new(small_limits());
    match mode % 3 {
        0 => {
            loader.add_source(
                "templates.cedar".into(),
                "@id(\"t\") permit (principal == ?principal, action, resource in ?resource);"
                    .into(),
            );
            loader.add_links_source("links.json".into(), text.to_string());
        }
        1 => {
            loader.add_source_as(
                "fuzz.cedarschema.json".into(),
                text.to_string(),
                SourceFormat::SchemaJson,
            );
        }
        _ => {
            loader.add_source_as(
                "fuzz.cedar.json".into(),
                text.to_string(),
                SourceFormat::PoliciesJson,
            );
        }
    }
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    for d in &diagnostics {
        if let Some(span) = d.span {
            assert!(
                span.start <= span.end && span.range().end <= set.sources.text(span.file).len(),
                "span {span:?} outside its source: {d:?}"
            );
        }
    }
    let _ = set.sources.render(&diagnostics, false);
    if mode % 3 == 2 && diagnostics.is_empty() {
        if let Ok(json) = mspl::__internal::policy_set::json::policy_set_to_json(&set) {
            let mut again = Loader::new(small_limits());
            again.add_source_as(
                "again.cedar.json".into(),
                json.to_string(),
                SourceFormat::PoliciesJson,
            );
            let (back, problems) = again.finish(IdScheme::Annotated);
            assert!(
                problems.is_empty(),
                "the JSON written does not read back: {problems:?}\n{json}"
            );
            let policies = |s: &PolicySet| -> Vec<_> {
                s.policies
                    .iter()
                    .chain(&s.templates)
                    .map(|p| (p.id.clone(), p.policy.clone()))
                    .collect()
            };
            assert_eq!(policies(&set).len(), policies(&back).len());
            for ((ia, a), (ib, b)) in policies(&set).iter().zip(&policies(&back)) {
                assert_eq!(ia, ib);
                assert_eq!(
                    mspl::__internal::fmt::print_file(&mspl::__internal::syntax::ast::File {
                        items: vec![mspl::__internal::syntax::ast::Item::Policy(a.clone())]
                    }),
                    mspl::__internal::fmt::print_file(&mspl::__internal::syntax::ast::File {
                        items: vec![mspl::__internal::syntax::ast::Item::Policy(b.clone())]
                    }),
                );
            }
        }
    }
}

/// Printing a file that parsed without error with the project's one AST
/// printer and parsing the result gives the same AST (spans aside).
pub fn roundtrip(text: &str) {
    let limits = Limits::default();
    let parsed = parse_file(text, 0, &limits);
    if !parsed.errors.is_empty() {
        return;
    }
    roundtrip_parsed(text, &parsed.file);
}

/// [`roundtrip`] of `file`, parsed from `text` without error.
fn roundtrip_parsed(text: &str, file: &mspl::__internal::syntax::ast::File) {
    let printed = mspl::__internal::fmt::print_file(file);
    let again = parse_file(&printed, 0, &Limits::default());
    assert!(
        again.errors.is_empty(),
        "the printed text does not parse: {:?}\n--- source\n{text}\n--- printed\n{printed}",
        again.errors
    );
    assert!(
        again.file == *file,
        "printing changed the tree\n--- source\n{text}\n--- printed\n{printed}"
    );
}

/// The Model Studio policy set and its example entities, loaded once.
fn model_studio() -> &'static (PolicySet, Entities) {
    static SET: OnceLock<(PolicySet, Entities)> = OnceLock::new();
    SET.get_or_init(|| {
        let files = [
            (
                "schema.mspl",
                include_str!("../../policies/model_studio/schema.mspl"),
            ),
            (
                "accounts_and_ram.mspl",
                include_str!("../../policies/model_studio/accounts_and_ram.mspl"),
            ),
            (
                "apis.mspl",
                include_str!("../../policies/model_studio/apis.mspl"),
            ),
            (
                "billing.mspl",
                include_str!("../../policies/model_studio/billing.mspl"),
            ),
            (
                "models.mspl",
                include_str!("../../policies/model_studio/models.mspl"),
            ),
            (
                "system_policies.mspl",
                include_str!("../../policies/model_studio/system_policies.mspl"),
            ),
            (
                "workspaces_and_pages.mspl",
                include_str!("../../policies/model_studio/workspaces_and_pages.mspl"),
            ),
        ];
        let mut loader = Loader::new(Limits::default());
        for (name, text) in files {
            loader.add_source(name.into(), text.into());
        }
        let (set, diagnostics) = loader.finish(IdScheme::Annotated);
        assert!(diagnostics.is_empty(), "the Model Studio policies load");
        let entities = build_entities_with(
            &set.schema,
            [(
                "entities.json",
                include_str!("../../policies/model_studio/examples/entities.json"),
            )],
            &Limits::default(),
        )
        .expect("the example entities load");
        (set, entities)
    })
}

const REQUESTS: &str = include_str!("../../policies/model_studio/examples/requests.jsonl");

/// Target `data`: the first byte chooses an entity file (even) or a request
/// (odd), the rest is its text, read against the Model Studio declarations.
/// What loads is then judged: the example requests against loaded entities,
/// a loaded request against the example entities.
pub fn data(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (set, example_entities) = model_studio();
    let options = Options {
        errors: ErrorMode::FailClosed,
        limits: small_limits(),
        plain: false,
        deadline: None,
    };
    if mode % 2 == 0 {
        let Ok(entities) =
            build_entities_with(&set.schema, [("fuzz.json", text)], &Limits::default())
        else {
            return;
        };
        for line in REQUESTS.lines().take(4) {
            let origin = Origin {
                file: "requests.jsonl",
                text: line,
                offset: 0,
            };
            let request =
                request_from_text(&origin, line, &set.schema).expect("example requests load");
            let _ = authorize(set, &entities, &request, &options);
        }
    } else {
        let origin = Origin {
            file: "fuzz.json",
            text,
            offset: 0,
        };
        if let Ok(request) = request_from_text(&origin, text, &set.schema) {
            let _ = authorize(set, example_entities, &request, &options);
        }
    }
}

/// Target `authorize`: a generated case (see [`gen`]) is parsed and judged,
/// and the fail-closed properties are checked on it:
///
/// - with fail-closed errors, a forbid that errs makes the decision a deny;
/// - adding a forbid never turns a deny into an allow;
/// - removing a permit never turns a deny into an allow;
/// - an allow with fail-closed errors is an allow with Cedar's too;
/// - deciding twice gives the same response.
///
/// Returns whether the case loaded and was judged.
pub fn authorize_case(data: &[u8]) -> bool {
    let case = gen::case(data);
    let mut loader = Loader::new(small_limits());
    loader.add_source("case.mspl".into(), case.policy_text(true));
    let (full, diagnostics) = loader.finish(IdScheme::Annotated);
    if diagnostics
        .iter()
        .any(|d| d.severity == mspl::__internal::diag::Severity::Error)
    {
        return false;
    }
    let Ok(entities) = build_entities_with(
        &full.schema,
        [("case.json", case.entities.as_str())],
        &small_limits(),
    ) else {
        return false;
    };
    let origin = Origin {
        file: "request.json",
        text: &case.request,
        offset: 0,
    };
    let Ok(request) = request_from_text(&origin, &case.request, &full.schema) else {
        return false;
    };
    let fail_closed = Options {
        errors: ErrorMode::FailClosed,
        limits: small_limits(),
        plain: false,
        deadline: None,
    };
    let cedar = Options {
        errors: ErrorMode::Cedar,
        limits: small_limits(),
        plain: false,
        deadline: None,
    };
    // The set without the extra forbid: the case as generated.
    let mut base = full.clone();
    base.policies.retain(|p| p.id != "extra");
    let decide = |set: &PolicySet, options: &Options| authorize(set, &entities, &request, options);

    let response = decide(&base, &fail_closed);
    assert_eq!(response, decide(&base, &fail_closed), "deterministic");
    for e in &response.errors {
        let erring_forbid = base
            .policy(&e.policy)
            .is_some_and(|p| p.policy.effect == mspl::__internal::syntax::ast::Effect::Forbid);
        if erring_forbid {
            assert_eq!(
                response.decision,
                Decision::Deny,
                "an erroring forbid denies"
            );
            assert!(response.determining.contains(&e.policy));
        }
    }
    if response.decision == Decision::Allow {
        assert_eq!(
            decide(&base, &cedar).decision,
            Decision::Allow,
            "fail-closed allow implies Cedar allow"
        );
    }
    if response.decision == Decision::Deny {
        assert_eq!(
            decide(&full, &fail_closed).decision,
            Decision::Deny,
            "adding a forbid turned a deny into an allow"
        );
        for i in 0..base.policies.len() {
            if base.policies[i].policy.effect != mspl::__internal::syntax::ast::Effect::Permit {
                continue;
            }
            let mut fewer = base.clone();
            fewer.policies.remove(i);
            assert_eq!(
                decide(&fewer, &fail_closed).decision,
                Decision::Deny,
                "removing a permit turned a deny into an allow"
            );
        }
    }
    true
}

/// Target `fmt`: any bytes as a policy file. A text that parses formats
/// (never a `NotPreserved` bug), the result parses to the same AST with the
/// same comments, and formatting it again changes nothing.
pub fn fmt(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let parsed = parse_file(text, 0, &limits);
    if !parsed.errors.is_empty() {
        assert!(mspl::__internal::fmt::format_source(text, &limits).is_err());
        return;
    }
    let once = mspl::__internal::fmt::format_source(text, &limits)
        .unwrap_or_else(|e| panic!("a parsing text does not format: {e:?}\n--- source\n{text}"));
    let again = parse_file(&once, 0, &limits);
    assert!(
        again.errors.is_empty(),
        "the formatted text does not parse\n--- source\n{text}\n--- formatted\n{once}"
    );
    assert!(
        again.file == parsed.file,
        "formatting changed the tree\n--- source\n{text}\n--- formatted\n{once}"
    );
    let comments = |t: &str| {
        mspl::__internal::syntax::tokens::lex(t)
            .iter()
            .filter(|t| t.token == Some(mspl::__internal::syntax::tokens::Token::Comment))
            .count()
    };
    assert_eq!(
        comments(&once),
        comments(text),
        "comments lost\n--- source\n{text}\n--- formatted\n{once}"
    );
    let twice =
        mspl::__internal::fmt::format_source(&once, &limits).expect("formatted text formats");
    assert_eq!(once, twice, "not idempotent\n--- source\n{text}");
}

/// Target `declarations`: any bytes as a declaration file. Gathering the
/// declarations, validating an empty policy set against them and reading a
/// small entity file never panic, and finish in time linear in the text
/// (aliases are shared, cycles are errors).
pub fn declarations(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let mut loader = Loader::new(limits);
    loader.add_source("fuzz.cedarschema".into(), text.to_string());
    loader.add_source(
        "fuzz.cedar".into(),
        "permit(principal, action, resource) when { principal has a && principal.a == resource };"
            .into(),
    );
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    let _ = set.sources.render(&diagnostics, false);
    if diagnostics
        .iter()
        .any(|d| d.severity == mspl::__internal::diag::Severity::Error)
    {
        return;
    }
    let _ = mspl::__internal::validate::validate_policies(&set);
    let types: Vec<String> = set
        .schema
        .entity_types
        .keys()
        .take(4)
        .map(|t| t.to_string())
        .collect();
    let entities: Vec<String> = types
        .iter()
        .map(|t| {
            format!(r#"{{"uid": {{"type": "{t}", "id": "x"}}, "attrs": {{}}, "parents": []}}"#)
        })
        .collect();
    let _ = build_entities_with(
        &set.schema,
        [("fuzz.json", format!("[{}]", entities.join(",")).as_str())],
        &limits,
    );
}
