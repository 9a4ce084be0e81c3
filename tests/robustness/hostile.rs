//! Hostile data: each input loads or fails with a clear error, in time and
//! memory linear in its size. Sizes are those of the issue; the timings are
//! printed (`--nocapture`) and bounded loosely, to catch a quadratic
//! blow-up rather than to benchmark.

use super::*;
use mspl::__internal::Decision;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// Far above what linear work takes in a debug build, far below quadratic.
const BOUND: Duration = Duration::from_secs(60);

fn timed<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    eprintln!("{what}: {took:?}");
    assert!(took < BOUND, "{what} took {took:?}");
    r
}

fn request_for(principal: &str) -> String {
    REQUEST.replace("\"alice\"", &format!("\"{principal}\""))
}

#[test]
fn cycles_in_the_hierarchy_terminate() {
    let entities = r#"[
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "a"}]},
        {"uid": {"type": "Group", "id": "a"}, "attrs": {}, "parents": [{"type": "Group", "id": "b"}, {"type": "User", "id": "alice"}]},
        {"uid": {"type": "Group", "id": "b"}, "attrs": {}, "parents": [{"type": "Group", "id": "a"}, {"type": "Group", "id": "b"}]}
    ]"#;
    let policies = "@id(\"in_b\") permit(principal in Group::\"b\", action, resource);\n\
                    @id(\"in_c\") forbid(principal in Group::\"c\", action, resource);\n\
                    @id(\"self\") permit(principal, action, resource) when { Group::\"b\" in principal };";
    let response = decide(policies, entities, REQUEST, Limits::default());
    assert_eq!(response.decision, Decision::Allow);
    assert_eq!(response.determining, vec!["in_b", "self"]);
}

#[test]
fn a_parent_chain_200_000_deep_loads_and_answers_in_linear_time() {
    let n = 200_000;
    let mut text = String::with_capacity(n * 90);
    text.push('[');
    // Written from the top down, so that every parent is seen before it is defined.
    for i in (0..n).rev() {
        if i + 1 < n {
            text.push(',');
        }
        let parents = if i + 1 < n {
            format!("[\"User::\\\"u{}\\\"\"]", i + 1)
        } else {
            "[]".into()
        };
        let _ = write!(
            text,
            "{{\"uid\": {{\"type\": \"User\", \"id\": \"u{i}\"}}, \"attrs\": {{}}, \"parents\": {parents}}}"
        );
    }
    text.push(']');
    let policies = format!(
        "@id(\"top\") permit(principal in User::\"u{}\", action, resource);\n\
         @id(\"nowhere\") forbid(principal in User::\"elsewhere\", action, resource);",
        n - 1
    );
    let (set, _) = load(&policies, Limits::default());
    let store = timed("load a 200,000-deep chain", || {
        build_entities_with(
            &set.schema,
            [("chain.json", text.as_str())],
            &Limits::default(),
        )
        .expect("loads")
    });
    let origin = Origin {
        file: "r.json",
        text: "",
        offset: 0,
    };
    let request = request_for("u0");
    let request =
        mspl::__internal::entities::json::request_from_text(&origin, &request, &set.schema)
            .expect("request");
    let response = timed("decide over the chain", || {
        authorize(&set, &store, &request, &Options::default())
    });
    assert_eq!(response.decision, Decision::Allow);
    timed("drop the store", || drop(store));
}

#[test]
fn an_entity_with_a_million_parents_loads_and_answers_in_linear_time() {
    let n = 1_000_000;
    let mut text = String::with_capacity(n * 20);
    text.push_str(
        "[{\"uid\": {\"type\": \"User\", \"id\": \"alice\"}, \"attrs\": {}, \"parents\": [",
    );
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        // Every tenth one twice: duplicates are merged, in linear time too.
        let _ = write!(text, "\"Group::\\\"g{}\\\"\"", i - usize::from(i % 10 == 9));
    }
    text.push_str("]}]");
    let policies = format!(
        "@id(\"last\") permit(principal in Group::\"g{}\", action, resource);\n\
         @id(\"absent\") forbid(principal in Group::\"g{n}\", action, resource);",
        n - 2
    );
    let (set, _) = load(&policies, Limits::default());
    let store = timed("load a million parents", || {
        build_entities_with(
            &set.schema,
            [("wide.json", text.as_str())],
            &Limits::default(),
        )
        .expect("loads")
    });
    let alice = mspl::__internal::syntax::ast::EntityUid::new("User", "alice");
    assert_eq!(store.parents(&alice).len(), n - n / 10);
    let origin = Origin {
        file: "r.json",
        text: "",
        offset: 0,
    };
    let request =
        mspl::__internal::entities::json::request_from_text(&origin, REQUEST, &set.schema)
            .expect("request");
    let response = timed("decide with a million parents", || {
        authorize(&set, &store, &request, &Options::default())
    });
    assert_eq!(response.decision, Decision::Allow);
}

#[test]
fn deep_records_load_to_the_limit_and_fail_clearly_past_it() {
    // 125 levels inside `attrs` (the entity and `attrs` are two more).
    let depth = 125;
    let value = format!("{}1{}", "{\"a\": ".repeat(depth), "}".repeat(depth));
    let entities = format!("[{{\"uid\": {{\"type\": \"User\", \"id\": \"alice\"}}, \"attrs\": {{\"r\": {value}}}, \"parents\": []}}]");
    let path = format!("principal.r{}", ".a".repeat(depth - 1));
    let policies = format!("permit(principal, action, resource) when {{ {path}.a == 1 }};");
    let response = small_stack(move || decide(&policies, &entities, REQUEST, Limits::default()));
    assert_eq!(response.decision, Decision::Allow, "{response:?}");
    // A context as deep as the limit allows, and one level more.
    let context = |n: usize| format!("{}1{}", "{\"a\": ".repeat(n), "}".repeat(n));
    let request = REQUEST.replace("\"context\": {}", &format!("\"context\": {}", context(126)));
    let origin = Origin {
        file: "r.json",
        text: &request,
        offset: 0,
    };
    let schema = mspl::__internal::schema::Schema::default();
    assert!(request_from_text_with(&origin, &request, &schema, &Limits::default()).is_ok());
    let request = REQUEST.replace("\"context\": {}", &format!("\"context\": {}", context(127)));
    let origin = Origin {
        file: "r.json",
        text: &request,
        offset: 0,
    };
    let e = request_from_text_with(&origin, &request, &schema, &Limits::default())
        .expect_err("too deep");
    assert_eq!(e.message, "JSON nests deeper than 127 levels");
    assert_eq!(e.line, 1);
}

/// One or more characters of each Unicode class that trips up text
/// handling: controls, escapes, combining marks, joiners, bidi overrides,
/// the BOM, private use, noncharacters, the last code point, emoji.
const UNICODE: &[&str] = &[
    "\u{0}",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "é",
    "e\u{301}",
    "\u{200b}",
    "\u{200d}",
    "\u{202e}",
    "\u{2028}",
    "\u{feff}",
    "\u{e000}",
    "\u{fffd}",
    "\u{ffff}",
    "\u{10ffff}",
    "👩‍👩‍👧",
    "🇫🇷",
    "漢字",
    "ﷺ",
    "\"",
    "\\",
    "*",
    "\t\n\r",
];

#[test]
fn strings_of_every_unicode_class_round_trip_through_data_and_policies() {
    for s in UNICODE {
        let json = serde_json::to_string(s).expect("json string");
        let escaped: String = s.escape_default().collect();
        // As an entity id, an attribute and a context value; matched in a policy.
        let entities = format!(
            "[{{\"uid\": {{\"type\": \"User\", \"id\": {json}}}, \"attrs\": {{\"s\": {json}}}, \"parents\": []}}]"
        );
        let request = format!(
            "{{\"principal\": {{\"type\": \"User\", \"id\": {json}}}, \"action\": {{\"type\": \"Action\", \"id\": \"read\"}}, \"resource\": {{\"type\": \"Doc\", \"id\": \"d\"}}, \"context\": {{\"s\": {json}}}}}"
        );
        let pattern = escaped.replace('*', "\\*");
        let policies = format!(
            "permit(principal == User::\"{escaped}\", action, resource) when {{ principal.s == \"{escaped}\" && context.s like \"{pattern}\" && principal.s like \"*\" }};"
        );
        let response = decide(&policies, &entities, &request, Limits::default());
        assert_eq!(response.decision, Decision::Allow, "{s:?}: {response:?}");
    }
    // Lone surrogates are no Unicode scalar values: a clear error.
    let (set, _) = load("", Limits::default());
    let e = build_entities_with(
        &set.schema,
        [("s.json", "[{\"uid\": {\"type\": \"User\", \"id\": \"\\ud800\"}, \"attrs\": {}, \"parents\": []}]")],
        &Limits::default(),
    )
    .expect_err("lone surrogate");
    assert!(e.message.contains("escape"), "{}", e.message);
}

/// Loads `entities` against an empty schema and returns the error message
/// with its location.
fn entity_error(entities: &str) -> String {
    let (set, _) = load("", Limits::default());
    let e = build_entities_with(&set.schema, [("dup.json", entities)], &Limits::default())
        .expect_err("duplicate key");
    format!("{}:{}:{}: {}", e.file, e.line, e.column, e.message)
}

#[test]
fn duplicate_keys_in_json_are_errors_naming_the_key_and_place() {
    let cases = [
        (
            "[{\"uid\": {\"type\": \"User\", \"id\": \"a\"},\n \"uid\": {\"type\": \"User\", \"id\": \"b\"}}]",
            "dup.json:2:6: duplicate key `uid` in a JSON object",
        ),
        (
            "[{\"uid\": {\"type\": \"User\", \"id\": \"a\"}, \"attrs\": {\"role\": \"viewer\", \"role\": \"admin\"}}]",
            "dup.json:1:72: duplicate key `role` in a JSON object",
        ),
        (
            "[{\"uid\": {\"type\": \"User\", \"id\": \"a\"}, \"attrs\": {\"r\": {\"x\": 1, \"y\": {\"z\": 1, \"z\": 2}}}}]",
            "dup.json:1:79: duplicate key `z` in a JSON object",
        ),
        (
            "[{\"uid\": {\"type\": \"User\", \"id\": \"a\", \"id\": \"b\"}}]",
            "dup.json:1:41: duplicate key `id` in a JSON object",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(entity_error(text), expected);
    }
    // Requests, their contexts, and `--context`.
    let schema = mspl::__internal::schema::Schema::default();
    for (text, key) in [
        (
            REQUEST.replace("\"context\": {}", "\"context\": {}, \"principal\": 1"),
            "principal",
        ),
        (
            REQUEST.replace("\"context\": {}", "\"context\": {\"ip\": 1, \"ip\": 2}"),
            "ip",
        ),
    ] {
        let origin = Origin {
            file: "r.json",
            text: &text,
            offset: 0,
        };
        let e = request_from_text_with(&origin, &text, &schema, &Limits::default())
            .expect_err("duplicate");
        assert_eq!(e.message, format!("duplicate key `{key}` in a JSON object"));
        assert_eq!(
            e.help.as_deref(),
            Some("each key may appear once in an object")
        );
        assert!(e.column > 100, "points at the key: {}", e.column);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("p.cedar");
    std::fs::write(&policy, "permit(principal, action, resource);").expect("write");
    let out = mspl(&[
        "authorize",
        "--policies",
        policy.to_str().expect("utf-8"),
        "--principal",
        "User::\"a\"",
        "--action",
        "Action::\"read\"",
        "--resource",
        "Doc::\"d\"",
        "--context",
        "{\"a\": 1, \"a\": 2}",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("in --context: duplicate key `a` in a JSON object\n = at --context:1:12"),
        "{out:?}"
    );
}

#[test]
fn a_request_batch_names_the_line_of_a_duplicate_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("p.cedar");
    std::fs::write(&policy, "permit(principal, action, resource);").expect("write");
    let batch = dir.path().join("r.jsonl");
    std::fs::write(
        &batch,
        format!(
            "{REQUEST}\n{}\n",
            REQUEST.replace("{}", "{\"k\": 1, \"k\": 1}")
        ),
    )
    .expect("write");
    let out = mspl(&[
        "authorize",
        "--policies",
        policy.to_str().expect("utf-8"),
        "--requests",
        batch.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("duplicate key `k`"), "{out:?}");
    assert!(out.stdout.contains("\"line\":2"), "{out:?}");
}

/// Wide policy files of `n` elements of each kind.
fn wide_policies(n: usize) -> Vec<(&'static str, String)> {
    let list = |f: &dyn Fn(usize) -> String, sep: &str| (0..n).map(f).collect::<Vec<_>>().join(sep);
    vec![
        (
            "a record literal",
            format!(
                "permit(principal, action, resource) when {{ {{{}}} has a0 }};",
                list(&|i| format!("a{i}: {i}"), ", ")
            ),
        ),
        (
            "a set literal",
            format!(
                "permit(principal, action, resource) when {{ [{}].contains(1) }};",
                list(&|i| i.to_string(), ", ")
            ),
        ),
        (
            "an `||` chain",
            format!(
                "permit(principal, action, resource) when {{ {} }};",
                list(&|i| format!("principal.a == {i}"), " || ")
            ),
        ),
        (
            "annotations",
            format!(
                "{} permit(principal, action, resource);",
                list(&|i| format!("@a{i}(\"x\")"), " ")
            ),
        ),
        (
            "rule parameters",
            format!(
                "rule r({}) {{ a{} == 1 }}",
                list(&|i| format!("a{i}"), ", "),
                n - 1
            ),
        ),
        (
            "policies",
            list(
                &|i| {
                    format!("@id(\"p{i}\") permit(principal == User::\"u{i}\", action, resource);")
                },
                "\n",
            ),
        ),
        (
            "rule clauses",
            list(&|i| format!("rule r(x) {{ x == {i} }}"), "\n"),
        ),
    ]
}

#[test]
fn wide_policies_load_in_linear_time() {
    // Four times the size must take far less than sixteen times as long
    // (the duplicate checks of records, annotations and parameters were
    // once quadratic).
    for ((what, small), (_, large)) in wide_policies(4_000).into_iter().zip(wide_policies(16_000)) {
        let start = Instant::now();
        let (_, errors) = load(&small, Limits::default());
        let t_small = start.elapsed();
        assert!(errors.is_empty(), "{what}");
        let (_, errors) = timed(what, || load(&large, Limits::default()));
        assert!(errors.is_empty(), "{what}");
        let t_large = start.elapsed() - t_small;
        assert!(
            t_large < t_small * 10 + Duration::from_millis(500),
            "{what}: {t_small:?} for 4,000, {t_large:?} for 16,000"
        );
    }
}

#[test]
fn thousands_of_errors_on_one_long_line_render_in_linear_time() {
    // Each rendering shows the whole line: drawing every one of 2,000
    // errors would cost 2,000 times the line.
    let text = format!(
        "{} permit(principal, action, resource);",
        (0..2_000)
            .map(|i| format!("@a{}(\"x\")", i % 10))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (set, errors) = load(&text, Limits::default());
    assert_eq!(errors.len(), 1_990);
    let rendered = timed("render 1,990 errors", || set.sources.render(&errors, false));
    assert!(
        rendered.ends_with("more problem(s) not shown (`--format json` lists every one)\n"),
        "{}",
        &rendered[rendered.len().saturating_sub(300)..]
    );
    let json = timed("1,990 errors as JSON", || {
        errors
            .iter()
            .map(|d| set.sources.to_json(d))
            .collect::<Vec<_>>()
    });
    assert_eq!(json.len(), 1_990);
}
