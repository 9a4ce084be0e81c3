//! The language server's reparse (`syntax::reparse`) gives exactly what a
//! whole parse gives, spans included, after edits of every corpus file:
//! text typed inside a statement, before it, statements removed and
//! duplicated, and edits that break a statement.

use mspl::__internal::syntax::parse_file;
use mspl::__internal::syntax::reparse::{reparse, ReparseCache};
use mspl::__internal::Limits;

fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in [
        "policies/model_studio",
        "tests/cases/syntax",
        "tests/cases/errors",
        "docs/examples/templates",
    ] {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("a corpus")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for p in paths {
            if p.extension()
                .is_some_and(|e| e == "mspl" || e == "cedar" || e == "cedarschema")
            {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).expect("readable"),
                ));
            }
        }
    }
    out
}

#[test]
fn reparsing_after_edits_gives_what_a_whole_parse_gives() {
    let limits = Limits::default();
    let mut compared = 0;
    for (name, text) in files() {
        let mut cache = ReparseCache::default();
        let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ text.len() as u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        let mut current = text.clone();
        for round in 0..12 {
            let parsed = reparse(&current, 3, &limits, &mut cache);
            let whole = parse_file(&current, 3, &limits);
            assert_eq!(
                format!("{:?}{:?}", parsed.file, parsed.errors),
                format!("{:?}{:?}", whole.file, whole.errors),
                "{name}, round {round}:\n{current}"
            );
            compared += 1;
            // The next edit, at a character boundary.
            let mut at = next(current.len() + 1);
            while !current.is_char_boundary(at) {
                at -= 1;
            }
            match next(4) {
                0 => current.insert(at, ' '),
                1 => current.insert_str(at, "\n// a comment\n"),
                2 => {
                    let mut end = (at + next(40)).min(current.len());
                    while !current.is_char_boundary(end) {
                        end -= 1;
                    }
                    current.replace_range(at..end, "");
                }
                _ => {
                    // The 200 bytes before `at`, typed again at the start.
                    let mut from = at.saturating_sub(200);
                    while !current.is_char_boundary(from) {
                        from -= 1;
                    }
                    let copy = current[from..at].to_string();
                    current.insert_str(0, &copy);
                }
            }
        }
    }
    assert!(compared > 100, "{compared}");
}
