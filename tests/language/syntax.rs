//! The syntax corpus: every file under `tests/cases/syntax` parses without
//! error, and its AST dump is snapshotted beside it. Also: logos and the
//! grammar agree on every file, and truncating any corpus file at any byte
//! never panics the parser.

use mspl::__internal::syntax::{dump, parse_file, tokens};
use mspl::__internal::Limits;
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Snapshots are named `ast@<file>.snap`, beside the inputs.
#[test]
fn ast() {
    insta::with_settings!({snapshot_path => "../cases/syntax", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "syntax/*.{mspl,cedar,cedarschema}", |path| {
            let text = read(path);
            let parsed = parse_file(&text, 0, &Limits::default());
            assert!(parsed.errors.is_empty(), "{}: {:?}", path.display(), parsed.errors);
            insta::assert_snapshot!(dump::file(&parsed.file));
        });
    });
}

/// Every terminal pest sees (names, keywords, literals) is exactly one logos
/// token, and every logos token that is no punctuation is such a terminal.
#[test]
fn logos_tokens_agree_with_the_grammar() {
    insta::glob!("../cases", "syntax/*.{mspl,cedar,cedarschema}", |path| {
        let text = read(path);
        let pest_terms =
            mspl::__internal::syntax::parser::terminal_ranges(&text).expect("corpus parses");
        let logos_terms: Vec<_> = tokens::lex(&text)
            .into_iter()
            .filter(|t| {
                matches!(
                    t.token,
                    Some(
                        tokens::Token::Ident
                            | tokens::Token::Integer
                            | tokens::Token::String
                            | tokens::Token::Slot
                    )
                )
            })
            .map(|t| t.range)
            .collect();
        assert_eq!(pest_terms, logos_terms, "{}", path.display());
        assert!(
            tokens::lex(&text).iter().all(|t| t.token.is_some()),
            "{}: logos found text that is no token",
            path.display()
        );
    });
}

/// Cutting any corpus file at any byte offset gives errors, never a panic.
#[test]
fn truncated_inputs_never_panic() {
    let mut files = Vec::new();
    for dir in ["tests/cases/syntax", "tests/cases/errors"] {
        for entry in std::fs::read_dir(dir).expect("corpus folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e != "snap") {
                files.push(path);
            }
        }
    }
    files.sort();
    let limits = Limits::default();
    let mut cuts = 0;
    for path in &files {
        let text = read(path);
        for end in 0..=text.len() {
            if let Some(prefix) = text.get(..end) {
                let _ = parse_file(prefix, 0, &limits);
                cuts += 1;
            }
        }
    }
    assert!(cuts > 1000, "only {cuts} prefixes tried");
}

/// pest's error detail is one switch for the whole process (pest 2.9 has no
/// per-parse choice): the parser turns it on, under a lock, only to parse
/// again what failed. It may change speed, never an answer: the corpus
/// parsed on eight threads at once, failing and passing files interleaved
/// (so the switch flips while other parses run), gives every file the same
/// AST and the same errors as parsing it alone.
#[test]
fn pests_process_wide_error_detail_changes_no_answer() {
    use mspl::__internal::syntax::{dump, parse_file};
    use mspl::__internal::Limits;
    let mut files: Vec<String> = Vec::new();
    for dir in [
        "tests/cases/syntax",
        "tests/cases/errors",
        "tests/cases/fmt",
    ] {
        for entry in std::fs::read_dir(dir).expect("a corpus") {
            let path = entry.expect("an entry").path();
            if path
                .extension()
                .is_some_and(|e| e == "mspl" || e == "cedar")
            {
                files.push(std::fs::read_to_string(&path).expect("readable"));
            }
        }
    }
    let answer = |text: &str| {
        let parsed = parse_file(text, 0, &Limits::default());
        let errors: Vec<String> = parsed.errors.iter().map(|e| format!("{e:?}")).collect();
        (dump::file(&parsed.file), errors)
    };
    let alone: Vec<_> = files.iter().map(|t| answer(t)).collect();
    let failing = alone.iter().filter(|(_, e)| !e.is_empty()).count();
    assert!(
        failing > 5 && failing < files.len(),
        "{failing} of {} fail",
        files.len()
    );
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let (files, alone) = (&files, &alone);
                s.spawn(move || {
                    for round in 0..20 {
                        for i in 0..files.len() {
                            let k = (i + w * 7 + round) % files.len();
                            assert_eq!(answer(&files[k]), alone[k], "file {k}, thread {w}");
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a worker");
        }
    });
}
