//! Property tests (proptest): the parser never panics on random bytes or
//! random token sequences; printing a parsed file with the formatter's
//! printer and parsing it back gives the same tree; generated policies on
//! generated entities never panic the authorizer, always return within the
//! limits, and keep the fail-closed properties (`harness::authorize_case`);
//! Cedar's JSON formats never panic their readers (`harness::cedar_json`).

use super::harness;
use proptest::prelude::*;
use proptest::sample::select;
use std::time::{Duration, Instant};

/// Pieces of Cedar's JSON formats, and of JSON that is not.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"\"",
    "null",
    "true",
    "1",
    "-2",
    "1e400",
    "\"\\u12\"",
    "\"staticPolicies\"",
    "\"templates\"",
    "\"templateLinks\"",
    "\"effect\"",
    "\"permit\"",
    "\"principal\"",
    "\"action\"",
    "\"resource\"",
    "\"conditions\"",
    "\"op\"",
    "\"All\"",
    "\"==\"",
    "\"in\"",
    "\"is\"",
    "\"entity\"",
    "\"slot\"",
    "\"?principal\"",
    "\"type\"",
    "\"id\"",
    "\"kind\"",
    "\"when\"",
    "\"body\"",
    "\"Value\"",
    "\"Var\"",
    "\"left\"",
    "\"right\"",
    "\"&&\"",
    "\".\"",
    "\"attr\"",
    "\"entityTypes\"",
    "\"actions\"",
    "\"commonTypes\"",
    "\"shape\"",
    "\"Record\"",
    "\"attributes\"",
    "\"Set\"",
    "\"element\"",
    "\"String\"",
    "\"memberOfTypes\"",
    "\"appliesTo\"",
    "\"principalTypes\"",
    "\"template_id\"",
    "\"link_id\"",
    "\"args\"",
    "\"User::\\\"a\\\"\"",
    "\"t\"",
];

/// Every kind of token the grammar knows, and some it does not.
const TOKENS: &[&str] = &[
    "permit",
    "forbid",
    "when",
    "unless",
    "principal",
    "action",
    "resource",
    "context",
    "rule",
    "namespace",
    "entity",
    "type",
    "in",
    "is",
    "has",
    "like",
    "if",
    "then",
    "else",
    "any",
    "all",
    "true",
    "false",
    "appliesTo",
    "tags",
    "enum",
    "Set",
    "Long",
    "String",
    "User",
    "Action",
    "x",
    "f",
    "a",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ":",
    "::",
    ".",
    "@",
    "@id",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "+",
    "-",
    "*",
    "?",
    "=",
    "0",
    "1",
    "-1",
    "9223372036854775808",
    "\"\"",
    "\"a\"",
    "\"\\u{1F600}\"",
    "\"\\q\"",
    "\"unterminated",
    "?principal",
    "// comment\n",
    "\n",
    "contains",
    "decimal",
    "ip",
    "\u{feff}",
    "é",
    "#",
    "$",
];

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: crate::cases::cases(default),
        // Failures are reported with their input; no files are written.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        harness::parse(&bytes);
        // Valid UTF-8 made of the same bytes' low bits exercises text paths more.
        let text: String = bytes.iter().map(|b| char::from(b' ' + b % 95)).collect();
        harness::parse(text.as_bytes());
    }

    #[test]
    fn random_bytes_never_panic_the_cedar_json_readers(
        mode in 0u8..3,
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut data = vec![mode];
        data.extend(&bytes);
        harness::cedar_json(&data);
    }

    #[test]
    fn random_json_never_panics_the_cedar_json_readers(
        mode in 0u8..3,
        tokens in proptest::collection::vec(select(JSON_TOKENS), 0..60),
    ) {
        let mut data = vec![mode];
        data.extend(tokens.concat().as_bytes());
        harness::cedar_json(&data);
    }

    #[test]
    fn random_token_sequences_never_panic_the_parser(
        tokens in proptest::collection::vec(select(TOKENS), 0..60),
        glue in select(&[" ", "", "\n"][..]),
    ) {
        harness::parse(tokens.join(glue).as_bytes());
    }

    #[test]
    fn generated_cases_keep_the_fail_closed_properties(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let start = Instant::now();
        let _judged = harness::authorize_case(&bytes);
        // The limits bound the work; this catches a case that escapes them.
        prop_assert!(start.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn printing_and_parsing_back_gives_the_same_tree(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let case = harness::gen::case(&bytes);
        harness::roundtrip(&case.policy_text(true));
    }
}

#[test]
fn the_corpora_round_trip_through_the_printer() {
    for dir in ["tests/cases/syntax", "policies/model_studio"] {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("corpus")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            harness::roundtrip(&text);
        }
    }
}

/// The generator is no vacuous truth: most generated cases load and are
/// judged, so the properties above are checked on real decisions.
#[test]
fn most_generated_cases_are_judged() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut judged = 0;
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..300)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        judged += usize::from(harness::authorize_case(&bytes));
    }
    eprintln!("{judged} of 200 generated cases judged");
    assert!(
        judged >= 120,
        "only {judged} of 200 generated cases were judged"
    );
}
