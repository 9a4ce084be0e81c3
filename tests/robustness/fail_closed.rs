//! The fail-closed guarantees: an erroring forbid denies, a limit reached in
//! a forbid denies, and on generated cases adding a forbid or removing a
//! permit never turns a deny into an allow (the generated checks run in
//! `properties.rs` and in the `authorize` fuzz target, through
//! `harness::authorize_case`).

use super::*;
use mspl::__internal::authorize::DenyKind;
use mspl::__internal::Decision;

const PERMIT_ALL: &str = "@id(\"all\") permit(principal, action, resource);\n";

fn forbid(cond: &str) -> String {
    format!("{PERMIT_ALL}@id(\"f\") forbid(principal, action, resource) when {{ {cond} }};")
}

#[test]
fn an_erroring_forbid_denies() {
    for cond in [
        "principal.missing",
        "1 + \"a\" == 2",
        "User::\"ghost\".name == \"x\"",
        "9223372036854775807 + 1 == 0",
        "decimal(\"not a decimal\") == decimal(\"1.0\")",
        "context.nope.contains(1)",
    ] {
        let response = decide(&forbid(cond), "[]", REQUEST, Limits::default());
        assert_eq!(response.decision, Decision::Deny, "{cond}");
        assert_eq!(response.kind, Some(DenyKind::Forbidden), "{cond}");
        assert_eq!(response.determining, vec!["f"], "{cond}");
        assert_eq!(response.errors.len(), 1, "{cond}");
        // Cedar's semantics skip it; the permit then allows.
        let cedar = decide_in(
            &forbid(cond),
            "[]",
            REQUEST,
            Limits::default(),
            ErrorMode::Cedar,
        );
        assert_eq!(cedar.decision, Decision::Allow, "{cond}");
    }
}

#[test]
fn a_limit_reached_in_a_forbid_denies() {
    let tight = Limits {
        max_steps: 50,
        max_rule_depth: 8,
        max_set_size: 2,
        ..Limits::default()
    };
    let cases = [
        (
            "rule deep(n) { deep(n + 1) }",
            "deep(0)",
            "went deeper than 8",
        ),
        ("rule same(n) { same(n) }", "same(0)", "calls itself"),
        ("", "[1, 2, 3].contains(4)", "a set of more than 2"),
        (
            "",
            &format!("0{} == 0", " + 1".repeat(60)),
            "more than 50 steps",
        ),
    ];
    for (rules, cond, message) in cases {
        let text = format!("{rules}\n{}", forbid(cond));
        let response = decide(&text, "[]", REQUEST, tight);
        assert_eq!(response.decision, Decision::Deny, "{cond}");
        assert_eq!(response.kind, Some(DenyKind::Forbidden), "{cond}");
        assert!(response.errors[0].message.contains(message), "{response:?}");
        assert!(response.errors[0].line >= 1);
    }
}

#[test]
fn a_limit_reached_in_a_permit_never_allows() {
    let tight = Limits {
        max_steps: 50,
        ..Limits::default()
    };
    let text = format!(
        "permit(principal, action, resource) when {{ 0{} == 0 || true }};",
        " + 1".repeat(60)
    );
    let response = decide(&text, "[]", REQUEST, tight);
    assert_eq!(response.decision, Decision::Deny);
    assert_eq!(response.kind, Some(DenyKind::NotPermitted));
}

#[test]
fn load_limits_give_no_decision_at_all() {
    // A policy set or data that reaches a limit is bad input (exit 1): no
    // decision is made from what was read before the limit.
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("p.cedar");
    std::fs::write(
        &policy,
        format!(
            "permit(principal, action, resource);\nforbid(principal, action, resource) when {{ {}true{} }};",
            "(".repeat(300),
            ")".repeat(300)
        ),
    )
    .expect("write");
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
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty(), "no decision printed: {out:?}");
    assert!(
        out.stderr.contains("nesting deeper than 200 levels"),
        "{out:?}"
    );
}

/// An impossible state (an expression that could not be lowered, a local
/// that is not bound) is an internal error, never a value: under `!` it
/// cannot make a permit hold. The trees are built by hand, as no text
/// loads into them.
#[test]
fn an_impossible_state_under_not_never_allows() {
    use mspl::__internal::syntax::ast::{Expr, ExprKind};
    let (set, diagnostics) = load(
        "@id(\"p\") permit(principal, action, resource) when { !true };",
        Limits::default(),
    );
    assert!(diagnostics.is_empty());
    let span = set.policies[0].policy.conditions[0].body.span;
    for (what, inner) in [
        ("an error node", ExprKind::Error),
        ("an unbound local", ExprKind::Local(3, "x".into())),
    ] {
        let mut set = set.clone();
        let body = &mut set.policies[0].policy.conditions[0].body;
        let ExprKind::Not(operand) = &mut body.kind else {
            panic!("`!true` is a negation: {:?}", body.kind);
        };
        **operand = Expr::new(inner, span);
        let store =
            build_entities_with(&set.schema, [("e.json", "[]")], &Limits::default()).unwrap();
        let origin = Origin {
            file: "r.json",
            text: REQUEST,
            offset: 0,
        };
        let request =
            request_from_text_with(&origin, REQUEST, &set.schema, &Limits::default()).unwrap();
        for errors in [ErrorMode::FailClosed, ErrorMode::Cedar] {
            let r = authorize(
                &set,
                &store,
                &request,
                &Options {
                    errors,
                    limits: Limits::default(),
                    plain: false,
                    deadline: None,
                },
            );
            assert_eq!(r.decision, Decision::Deny, "{what} in {errors:?}");
            assert_eq!(r.errors.len(), 1, "{what}");
            assert!(
                r.errors[0].message.starts_with("internal error"),
                "{what}: {}",
                r.errors[0].message
            );
        }
    }
}
