//! The formatter: every policy file of the repository formats idempotently,
//! keeps its AST and its comments; a corpus of messy inputs is snapshotted as
//! `formatted@<file>.snap`; `mspl fmt` leaves unparsable files untouched and
//! `--check` reports without writing.

use mspl::__internal::fmt::format_source;
use mspl::__internal::syntax::{dump, parse_file};
use mspl::__internal::Limits;
use std::path::{Path, PathBuf};

fn policy_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("folder") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            policy_files(&p, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["mspl", "cedar", "cedarschema"].contains(&e))
        {
            out.push(p);
        }
    }
}

fn comment_count(text: &str) -> usize {
    mspl::__internal::syntax::tokens::lex(text)
        .iter()
        .filter(|t| t.token == Some(mspl::__internal::syntax::tokens::Token::Comment))
        .count()
}

#[test]
fn every_file_formats_idempotently_and_keeps_its_ast_and_comments() {
    let mut files = Vec::new();
    for dir in ["tests/cases", "policies", "docs"] {
        if Path::new(dir).exists() {
            policy_files(Path::new(dir), &mut files);
        }
    }
    files.sort();
    let limits = Limits::default();
    let mut formatted_count = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        let parsed = parse_file(&text, 0, &limits);
        if !parsed.errors.is_empty() {
            continue; // the error corpus
        }
        let once =
            format_source(&text, &limits).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let twice =
            format_source(&once, &limits).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert_eq!(once, twice, "{}: not idempotent", path.display());
        let reparsed = parse_file(&once, 0, &limits);
        assert_eq!(
            dump::file(&reparsed.file),
            dump::file(&parsed.file),
            "{}",
            path.display()
        );
        assert_eq!(
            comment_count(&once),
            comment_count(&text),
            "{}: comments lost",
            path.display()
        );
        formatted_count += 1;
    }
    assert!(formatted_count >= 20, "only {formatted_count} files");
}

/// A comment put at every token boundary of every parsable policy file
/// (at most 200 boundaries a file, spread evenly): formatting succeeds, is
/// idempotent, keeps the AST, and keeps the comment, once.
#[test]
fn a_comment_at_any_token_boundary_formats_idempotently() {
    let mut files = Vec::new();
    for dir in ["tests/cases/syntax", "tests/cases/fmt", "policies"] {
        policy_files(Path::new(dir), &mut files);
    }
    files.sort();
    // Every other file on a second thread (the test is most of its
    // binary's time).
    let (first, second): (Vec<_>, Vec<_>) = files.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let half = |files: Vec<(usize, &std::path::PathBuf)>| {
        comments_at_token_boundaries(files.into_iter().map(|(_, f)| f))
    };
    let tried = std::thread::scope(|s| {
        let other = s.spawn(|| half(second));
        half(first) + other.join().expect("the other half")
    });
    assert!(tried > 1000, "only {tried} placements tried");
}

/// Formats each of `files` with a comment placed after each of up to 200
/// of its tokens, checking each result; the placements tried.
fn comments_at_token_boundaries<'f>(files: impl Iterator<Item = &'f std::path::PathBuf>) -> usize {
    let limits = Limits::default();
    let mut tried = 0;
    for path in files {
        let text = std::fs::read_to_string(path).expect("readable");
        let parsed = parse_file(&text, 0, &limits);
        if !parsed.errors.is_empty() {
            continue;
        }
        let expected_ast = dump::file(&parsed.file);
        let tokens = mspl::__internal::syntax::tokens::lex(&text);
        let step = tokens.len().div_ceil(200).max(1);
        for t in tokens.iter().step_by(step) {
            let at = t.range.end;
            let with = format!("{} // probe\n{}", &text[..at], &text[at..]);
            let where_ = || format!("{}: a comment after byte {at}", path.display());
            let once =
                format_source(&with, &limits).unwrap_or_else(|e| panic!("{}: {e:?}", where_()));
            let twice =
                format_source(&once, &limits).unwrap_or_else(|e| panic!("{}: {e:?}", where_()));
            assert_eq!(once, twice, "{}: not idempotent:\n{once}", where_());
            assert_eq!(
                dump::file(&parse_file(&once, 0, &limits).file),
                expected_ast,
                "{}",
                where_()
            );
            assert_eq!(
                once.matches("// probe").count(),
                1,
                "{}: the comment:\n{once}",
                where_()
            );
            assert_eq!(comment_count(&once), comment_count(&with), "{}", where_());
            tried += 1;
        }
    }
    tried
}

#[test]
fn the_ast_printer_round_trips_without_a_source() {
    let mut files = Vec::new();
    policy_files(Path::new("tests/cases/syntax"), &mut files);
    policy_files(Path::new("policies"), &mut files);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let parsed = parse_file(&text, 0, &Limits::default());
        let printed = mspl::__internal::fmt::print_file(&parsed.file);
        let again = parse_file(&printed, 0, &Limits::default());
        assert!(
            again.errors.is_empty(),
            "{}: {:?}\n{printed}",
            path.display(),
            again.errors
        );
        assert_eq!(again.file, parsed.file, "{}", path.display());
    }
}

#[test]
fn formatted() {
    insta::with_settings!({snapshot_path => "../cases/fmt", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "fmt/*.{mspl,cedar,cedarschema}", |path| {
            let text = std::fs::read_to_string(path).expect("readable");
            insta::assert_snapshot!(format_source(&text, &Limits::default()).expect("formats"));
        });
    });
}

fn mspl(args: &[&str], dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mspl runs")
}

#[test]
fn fmt_check_writes_nothing_and_fmt_rewrites_only_what_parses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let messy = "permit(principal,action,resource)when{true};\n";
    let broken = "permit(principal, action, resource) when { 1 + };\n";
    let clean = "permit (principal, action, resource);\n";
    std::fs::write(dir.path().join("messy.cedar"), messy).expect("write");
    std::fs::write(dir.path().join("broken.mspl"), broken).expect("write");
    std::fs::write(dir.path().join("clean.cedar"), clean).expect("write");

    let check = mspl(&["fmt", "--check", "."], dir.path());
    assert_eq!(check.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&check.stdout);
    assert!(
        listed.contains("messy.cedar") && !listed.contains("clean.cedar"),
        "{listed}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("messy.cedar")).expect("read"),
        messy
    );

    let run = mspl(&["fmt", "."], dir.path());
    assert_eq!(run.status.code(), Some(1), "the broken file makes it fail");
    assert!(String::from_utf8_lossy(&run.stderr).contains("broken.mspl: not formatted"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("broken.mspl")).expect("read"),
        broken
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("messy.cedar")).expect("read"),
        "permit (principal, action, resource)\nwhen { true };\n"
    );
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    std::fs::remove_file(dir.path().join("broken.mspl")).expect("remove");
    let again = mspl(&["fmt", "--check", "."], dir.path());
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn the_shipped_policies_are_formatted() {
    let out = mspl_cli::cli::execute(["mspl", "fmt", "--check", "policies"]);
    assert_eq!(
        out.code, 0,
        "run `mspl fmt policies`:\n{}{}",
        out.stdout, out.stderr
    );
}
