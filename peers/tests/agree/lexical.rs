//! mspl's lexical rules against Cedar's, one test per rule: whitespace,
//! comments and their line ends, string literals, the byte-order mark.
//!
//! Each probe puts one code point into a small policy text and asks both
//! parsers how many policies it holds (or that it does not parse). The code
//! points probed: every one below U+2100 (every whitespace, control and line
//! separator Unicode has lives there, but U+3000, probed too), U+FEFF, and
//! every 257th above, so a rule that differs anywhere in the planes is met.
//! mspl's logos tokens are checked to skip exactly what pest skips.

use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::syntax::tokens::{lex, Token};
use mspl::__internal::Limits;
use std::str::FromStr;

/// The code points every probe tries.
fn probes() -> impl Iterator<Item = char> {
    (0u32..0x2100)
        .chain([0x3000, 0xFEFF, 0xFFFE, 0xFFFF, 0x10FFFF])
        .chain((0x2100u32..=0x10FFFF).step_by(257))
        .filter_map(char::from_u32)
}

/// How many policies `text` holds for Cedar, or `None` if it does not parse.
fn cedar(text: &str) -> Option<usize> {
    cedar_policy::PolicySet::from_str(text)
        .ok()
        .map(|s| s.policies().count())
}

/// How many policies `text` holds for mspl, or `None` if it does not parse.
fn mspl(text: &str) -> Option<usize> {
    let mut loader = Loader::new(Limits::default());
    loader.add_source("probe.cedar".into(), text.into());
    let (set, diagnostics) = loader.finish(IdScheme::Cedar);
    diagnostics
        .iter()
        .all(|d| d.severity != mspl::__internal::diag::Severity::Error)
        .then_some(set.policies.len())
}

/// Asserts that both parsers agree on `probe(c)` for every probed `c`, and
/// returns how many code points gave each answer (so that a probe that
/// never distinguishes anything fails its caller's check).
fn agree(
    what: &str,
    probe: impl Fn(char) -> String,
) -> std::collections::BTreeMap<Option<usize>, usize> {
    let mut answers = std::collections::BTreeMap::new();
    let mut disagreements = Vec::new();
    for c in probes() {
        let text = probe(c);
        let (ours, theirs) = (mspl(&text), cedar(&text));
        if ours != theirs {
            disagreements.push(format!(
                "U+{:04X}: mspl {ours:?}, Cedar {theirs:?}",
                c as u32
            ));
        }
        *answers.entry(theirs).or_insert(0) += 1;
    }
    assert!(
        disagreements.is_empty(),
        "{what}: {} code points disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    answers
}

#[test]
fn whitespace_is_cedars() {
    let answers = agree("whitespace between tokens", |c| {
        format!("permit(principal,{c}action, resource);")
    });
    // Unicode has 25 White_Space code points, all below U+3100.
    assert_eq!(answers.get(&Some(1)), Some(&25), "{answers:?}");
}

#[test]
fn whitespace_agrees_with_logos() {
    for c in probes() {
        let text = format!("a{c}b");
        let tokens: Vec<_> = lex(&text).into_iter().map(|t| t.token).collect();
        let skipped = tokens == [Some(Token::Ident), Some(Token::Ident)];
        assert_eq!(
            skipped,
            mspl(&format!("permit(principal,{c}action, resource);")) == Some(1),
            "U+{:04X}",
            c as u32
        );
    }
}

#[test]
fn a_comment_ends_where_cedars_does() {
    // A code point that ends the comment exposes the forbid behind it.
    let answers = agree("the end of a comment", |c| {
        format!(
            "permit(principal, action, resource); // x{c}forbid(principal, action, resource);\n"
        )
    });
    // `\n` and `\r` end a comment; nothing else does.
    assert_eq!(answers.get(&Some(2)), Some(&2), "{answers:?}");
}

#[test]
fn a_comment_agrees_with_logos() {
    for c in probes() {
        let text = format!("// x{c}y");
        let tokens: Vec<_> = lex(&text).into_iter().map(|t| t.token).collect();
        let ends = matches!(c, '\n' | '\r');
        let expected: Vec<Option<Token>> = if ends {
            vec![Some(Token::Comment), Some(Token::Ident)]
        } else {
            vec![Some(Token::Comment)]
        };
        assert_eq!(tokens, expected, "U+{:04X}", c as u32);
    }
}

#[test]
fn line_ends_are_cedars() {
    for end in ["\n", "\r", "\r\n", "\n\r", "\u{2028}", "\u{85}"] {
        let text = format!("permit(principal, action, resource);{end}// c{end}forbid(principal, action, resource);{end}");
        assert_eq!(mspl(&text), cedar(&text), "{end:?}");
    }
}

#[test]
fn string_literals_hold_what_cedars_hold() {
    let answers = agree("a code point in a string", |c| {
        format!("permit(principal, action, resource) when {{ context.s == \"a{c}b\" }};")
    });
    // Only `"`, `\` and a bare carriage return cannot stand alone in a
    // string (Cedar refuses the last as Rust does).
    assert_eq!(answers.get(&None), Some(&3), "{answers:?}");
}

#[test]
fn a_byte_order_mark_is_accepted_only_at_the_start_of_a_file() {
    let policy = "permit(principal, action, resource);";
    // Inside a text, it is no whitespace, for Cedar and for mspl.
    for text in [
        "permit(principal,\u{feff}action, resource);".to_string(),
        format!("{policy}\u{feff}"),
    ] {
        assert_eq!(cedar(&text), None, "{text:?}");
        assert_eq!(mspl(&text), None, "{text:?}");
    }
    // At the start of a file (on purpose, unlike Cedar's parser), the
    // readers drop it.
    let dir = std::env::temp_dir().join(format!("mspl-lexical-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bom.cedar");
    std::fs::write(&file, format!("\u{feff}{policy}")).unwrap();
    let mut loader = Loader::new(Limits::default());
    loader.add_path(&file);
    let (set, diagnostics) = loader.finish(IdScheme::Cedar);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(set.policies.len(), 1);
    // Twice is once too many.
    std::fs::write(&file, format!("\u{feff}\u{feff}{policy}")).unwrap();
    let mut loader = Loader::new(Limits::default());
    loader.add_path(&file);
    let (_, diagnostics) = loader.finish(IdScheme::Cedar);
    assert!(!diagnostics.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
