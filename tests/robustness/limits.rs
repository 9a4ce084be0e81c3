//! Every limit of `crates/mspl/src/limits.rs`: reached, it is an error with a location,
//! never a crash; deep and long inputs never overflow the stack, even in a
//! thread with a 256 KiB stack.

use super::*;
use mspl::__internal::syntax::{parse_expr, parse_file, ParseError};

fn when(cond: &str) -> String {
    format!("permit(principal, action, resource) when {{ {cond} }};")
}

/// Parses `text` in a small thread; returns its errors.
fn parse_errors(text: String, limits: Limits) -> Vec<ParseError> {
    small_stack(move || parse_file(&text, 0, &limits).errors)
}

#[test]
fn ten_thousand_nested_brackets_give_a_diagnostic_in_a_small_thread() {
    let n = 10_000;
    let nests = [
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        format!("{}1{}", "{a: ".repeat(n), "}".repeat(n)),
        format!(
            "{}true{}",
            "if true then ".repeat(n),
            " else false".repeat(n)
        ),
        format!("{}true{}", "(any x in [1]: ".repeat(n), ")".repeat(n)),
        format!("{}1{}", "ip(".repeat(n), ")".repeat(n)),
        format!("{}true{}", "!(".repeat(n), ")".repeat(n)),
    ];
    for cond in nests {
        let text = when(&cond);
        let errors = parse_errors(text.clone(), Limits::default());
        let Some(ParseError::TooDeep { span, limit }) = errors.first() else {
            panic!("expected a nesting error, got {errors:?}");
        };
        assert_eq!(*limit, 200);
        // The span is the bracket (or `if`, or quantifier) at level 201.
        assert!(span.start > 0 && (span.end as usize) <= text.len());
        let expr = cond.clone();
        let result = small_stack(move || parse_expr(&expr, 0, &[], &Limits::default()).is_err());
        assert!(result, "parse_expr refuses it too");
    }
}

#[test]
fn nesting_at_the_limit_parses_links_evaluates_and_drops_in_a_small_thread() {
    // 200 levels (the condition's braces included) of parentheses, sets and `if`s.
    let conds = [
        format!("{}1{} == 1", "(".repeat(199), ")".repeat(199)),
        format!("{}1{}.isEmpty()", "[".repeat(199), "]".repeat(199)),
        format!(
            "{}true{}",
            "if true then ".repeat(199),
            " else false".repeat(199)
        ),
    ];
    for cond in conds {
        let text = when(&cond);
        let response = small_stack(move || decide(&text, "[]", REQUEST, Limits::default()));
        assert!(response.errors.len() <= 1);
    }
}

#[test]
fn long_operator_chains_are_refused_in_a_small_thread() {
    // 100,000 terms of `+`; the other chains shorter, to keep the test quick
    // in a debug build, and still far past the limit.
    let n = 20_000;
    let chains = [
        format!("1{}", " + 1".repeat(100_000)),
        format!("1{}", " * 1".repeat(n)),
        format!("1{}", " - 1".repeat(n)),
        format!("context{}", ".a".repeat(n)),
        format!("context{}", "[\"a\"]".repeat(n)),
        format!("[1]{}", ".contains(1)".repeat(n)),
    ];
    for chain in chains {
        let errors = parse_errors(when(&format!("{chain} == 1")), Limits::default());
        assert!(
            matches!(
                errors.as_slice(),
                [ParseError::ExprTooDeep { limit: 256, .. }]
            ),
            "{errors:?}"
        );
    }
}

#[test]
fn chains_within_the_limit_evaluate_in_a_small_thread() {
    // 250 terms: a tree 250 levels deep, linked, evaluated and dropped.
    let sum = format!("0{}", " + 1".repeat(250));
    let text = when(&format!("{sum} == 250"));
    let response = small_stack(move || decide(&text, "[]", REQUEST, Limits::default()));
    assert_eq!(
        response.decision,
        mspl::__internal::Decision::Allow,
        "{response:?}"
    );
    let attrs = format!("context{}", ".a".repeat(250));
    let text = when(&format!("{attrs} == 1"));
    let response = small_stack(move || decide(&text, "[]", REQUEST, Limits::default()));
    assert_eq!(response.decision, mspl::__internal::Decision::Deny);
    assert_eq!(response.errors.len(), 1, "`context` has no `a`");
}

#[test]
fn a_lower_expression_depth_limit_is_honoured() {
    let limits = Limits {
        max_expr_depth: 10,
        ..Limits::default()
    };
    assert!(parse_errors(when("1 + 1 + 1 + 1 + 1 == 5"), limits).is_empty());
    let errors = parse_errors(when(&format!("1{} == 1", " + 1".repeat(10))), limits);
    assert!(matches!(
        errors.as_slice(),
        [ParseError::ExprTooDeep { limit: 10, .. }]
    ));
    // Reported once per item, at the expression that goes past the limit.
    let text = format!(
        "{}\n{}",
        when("principal.a.b.c.d.e.f.g.h.i.j.k == 1"),
        when("true")
    );
    let errors = parse_errors(text, limits);
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn a_rule_recursing_without_end_is_stopped_with_an_error_naming_the_rule() {
    // New arguments at every call: the depth limit stops it.
    let text = "rule count_up(n) { count_up(n + 1) }\n@id(\"p\") permit(principal, action, resource) when { count_up(0) };";
    let response = decide(text, "[]", REQUEST, Limits::default());
    assert_eq!(response.decision, mspl::__internal::Decision::Deny);
    let e = &response.errors[0];
    assert_eq!(
        e.message,
        "rule `count_up` went deeper than 256 nested calls"
    );
    assert_eq!((e.file.as_str(), e.line), ("test.mspl", 1));
    // Two calls per level: the step limit stops it first, and names the rule.
    let text = "rule fan(n) { n == 20 || (fan(n + 1) && fan(n + 1)) }\npermit(principal, action, resource) when { fan(0) };";
    let limits = Limits {
        max_steps: 10_000,
        ..Limits::default()
    };
    let response = decide(text, "[]", REQUEST, limits);
    assert_eq!(
        response.errors[0].message,
        "evaluation took more than 10000 steps in rule `fan`"
    );
    // The same arguments again: a cycle, named with its arguments.
    let text = "rule same(n) { same(n) }\npermit(principal, action, resource) when { same(1) };";
    let response = decide(text, "[]", REQUEST, Limits::default());
    assert_eq!(
        response.errors[0].message,
        "rule `same` calls itself with the same arguments (1)"
    );
}

#[test]
fn the_rule_depth_limit_holds_in_a_small_thread() {
    let text = "rule down(n) { n == 0 || down(n - 1) }\npermit(principal, action, resource) when { down(5000) };";
    let limits = Limits {
        max_rule_depth: 10_000,
        ..Limits::default()
    };
    let response = small_stack(move || decide(text, "[]", REQUEST, limits));
    assert_eq!(
        response.decision,
        mspl::__internal::Decision::Allow,
        "{response:?}"
    );
}

#[test]
fn a_policy_file_larger_than_the_limit_is_refused() {
    let limits = Limits {
        max_policy_file_bytes: 64,
        ..Limits::default()
    };
    let (set, errors) = load(&when("true || true || true || true"), limits);
    assert_eq!(errors.len(), 1);
    let rendered = set.sources.render(&errors, false);
    assert!(
        rendered.contains("file is larger than the limit of 64 bytes"),
        "{rendered}"
    );
    assert!(rendered.contains("test.mspl:1:1"), "{rendered}");
}

#[test]
fn a_data_file_larger_than_the_limit_is_refused() {
    let limits = Limits {
        max_data_file_bytes: 10,
        ..Limits::default()
    };
    let (set, _) = load("", Limits::default());
    let e = build_entities_with(&set.schema, [("big.json", "[        ]")], &limits);
    assert!(e.is_ok(), "10 bytes is at the limit");
    let e = build_entities_with(&set.schema, [("big.json", "[         ]")], &limits)
        .expect_err("11 bytes");
    assert_eq!(
        (e.file.as_str(), e.line, e.column, e.message.as_str()),
        (
            "big.json",
            1,
            1,
            "data of 11 bytes is larger than the limit of 10 bytes"
        )
    );
}

#[test]
fn a_set_larger_than_the_limit_is_an_error_at_the_set() {
    let limits = Limits {
        max_set_size: 3,
        ..Limits::default()
    };
    let text = "permit(principal, action, resource) when {\n  [1, 2, 3].contains(1) && [1, 2, 3, 4].contains(1) };";
    let response = decide(text, "[]", REQUEST, limits);
    assert_eq!(response.decision, mspl::__internal::Decision::Deny);
    let e = &response.errors[0];
    assert_eq!(e.message, "a set of more than 3 elements");
    assert_eq!((e.line, e.column), (2, 28));
}

#[test]
fn json_deeper_than_the_limit_is_an_error_with_a_location() {
    let (set, _) = load("", Limits::default());
    let deep = |n: usize| {
        format!(
            "[{{\"uid\": {{\"type\": \"User\", \"id\": \"a\"}}, \"parents\": [],\n \"attrs\": {{\"r\": {}1{}}}}}]",
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    // The entity object and `attrs` are two levels.
    let limits = Limits::default();
    assert!(build_entities_with(&set.schema, [("e.json", deep(125).as_str())], &limits).is_ok());
    for n in [126, 1000, 100_000] {
        let e = build_entities_with(&set.schema, [("e.json", deep(n).as_str())], &limits)
            .expect_err("too deep");
        assert_eq!(e.message, "JSON nests deeper than 127 levels");
        assert_eq!((e.file.as_str(), e.line), ("e.json", 2));
    }
    let limits = Limits {
        max_json_depth: 4,
        ..Limits::default()
    };
    let e = build_entities_with(&set.schema, [("e.json", deep(3).as_str())], &limits)
        .expect_err("too deep");
    assert_eq!(e.message, "JSON nests deeper than 4 levels");
    assert_eq!((e.line, e.column), (2, 19), "at the bracket past the limit");
}

#[test]
fn the_limit_flags_reach_every_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("p.mspl");
    std::fs::write(
        &policy,
        "rule r(n) { r(n + 1) }\npermit(principal, action, resource) when { [1, 2].contains(1) && (1 + 1 + 1 == 3) && r(0) };",
    )
    .expect("write");
    let entities = dir.path().join("e.json");
    std::fs::write(&entities, "[{\"uid\": {\"type\": \"User\", \"id\": \"alice\"}, \"attrs\": {\"a\": [[1]]}, \"parents\": []}]").expect("write");
    let p = policy.to_str().expect("utf-8");
    let e = entities.to_str().expect("utf-8");
    let base = [
        "authorize",
        "--policies",
        p,
        "--entities",
        e,
        "--principal",
        "User::\"alice\"",
        "--action",
        "Action::\"read\"",
        "--resource",
        "Doc::\"d\"",
        "--format",
        "json",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        mspl(&args)
    };
    let out = run(&[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stdout.contains("went deeper than 256 nested calls"),
        "{out:?}"
    );
    for (flag, value, needle) in [
        ("--max-rule-depth", "3", "went deeper than 3 nested calls"),
        ("--max-steps", "5", "more than 5 steps"),
        ("--max-set-size", "1", "a set of more than 1 elements"),
        ("--max-nesting", "1", "nesting deeper than 1 levels"),
        (
            "--max-expr-depth",
            "2",
            "expression nests deeper than 2 levels",
        ),
        (
            "--max-policy-file-bytes",
            "10",
            "larger than the limit of 10 bytes",
        ),
        (
            "--max-data-file-bytes",
            "10",
            "larger than the limit of 10 bytes",
        ),
        ("--max-json-depth", "3", "JSON nests deeper than 3 levels"),
    ] {
        let out = run(&[flag, value]);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(all.contains(needle), "{flag}: {all}");
        assert_ne!(out.code, 0, "{flag}: a limit never allows");
    }
    let out = mspl(&["check", p, "--max-expr-depth", "2"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("expression nests deeper than 2 levels"),
        "{out:?}"
    );
}

/// Every command that reads policies or data takes the limit flags, and
/// they reach its stages: a policy-file limit of 10 bytes refuses the same
/// file under `check`, `authorize`, `explain`, `validate`, `fmt`, `test`
/// and `repl` alike, naming the flag.
#[test]
fn every_command_takes_the_limit_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("p.mspl");
    std::fs::write(
        &policy,
        "entity User;\npermit(principal, action, resource);\n",
    )
    .expect("write");
    let test_file = dir.path().join("t.json");
    std::fs::write(
        &test_file,
        format!(
            r#"{{"policies": "{}", "requests": [{{"principal": "User::\"a\"", "action": "Action::\"r\"", "resource": "User::\"b\"", "context": {{}}, "decision": "allow"}}]}}"#,
            policy.display()
        ),
    )
    .expect("write");
    let p = policy.to_str().expect("utf-8");
    let t = test_file.to_str().expect("utf-8");
    let request = [
        "--principal",
        "User::\"a\"",
        "--action",
        "Action::\"r\"",
        "--resource",
        "User::\"b\"",
    ];
    let limit = ["--max-policy-file-bytes", "10"];
    let mut commands: Vec<Vec<&str>> = vec![
        vec!["check", p],
        vec!["authorize", "--policies", p],
        vec!["explain", "--policies", p],
        vec!["validate", "--policies", p],
        vec!["fmt", "--check", p],
        vec!["test", t],
    ];
    commands[1].extend(request);
    commands[2].extend(request);
    for mut args in commands {
        let name = args[0];
        // Without the flag each command gets past loading.
        let fine = mspl(&args);
        assert!(
            !fine.stderr.contains("larger than the limit"),
            "{name}: {fine:?}"
        );
        args.extend(limit);
        let out = mspl(&args);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("larger than the limit of 10 bytes"),
            "{name}: {all}"
        );
        assert!(all.contains("--max-policy-file-bytes"), "{name}: {all}");
        assert_ne!(out.code, 0, "{name}");
    }
    // The REPL reads its transcript from standard input when it is not a terminal.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(["repl", "--no-history", "--policies", p])
        .args(limit)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("repl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("larger than the limit of 10 bytes"),
        "repl: {stderr}"
    );
}
