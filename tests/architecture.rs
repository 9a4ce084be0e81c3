//! The pipeline runs one way: every `crate::` path in `src/` (in `use` lines
//! and inline, comments aside) names a top-level module below the one it
//! stands in, in the stage order that ARCHITECTURE.md writes down. So the
//! graph of top-level modules has no cycle, and the document and the code
//! cannot drift apart.

use std::collections::BTreeSet;
use std::path::Path;

/// The stage order, bottom first, from the line of ARCHITECTURE.md that
/// starts with `Stage order:`.
fn stage_order() -> Vec<String> {
    let text = std::fs::read_to_string("ARCHITECTURE.md").expect("ARCHITECTURE.md");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Stage order: "))
        .expect("a `Stage order: ` line in ARCHITECTURE.md");
    line.split('→')
        .map(|m| m.trim().trim_matches('`').to_string())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules that `crate::` paths in `text` name.
fn references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_module_refers_only_to_modules_below_it() {
    let order = stage_order();
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix("src").unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .to_string();
        if first == "lib.rs" || first == "main.rs" {
            continue;
        }
        let module = first.trim_end_matches(".rs").to_string();
        seen.insert(module.clone());
        let Some(own) = rank(&module) else {
            wrong.push(format!(
                "{}: module `{module}` is not in the stage order",
                f.display()
            ));
            continue;
        };
        for r in references(&std::fs::read_to_string(f).unwrap()) {
            if r == module {
                continue;
            }
            match rank(&r) {
                Some(theirs) if theirs < own => {}
                Some(_) => wrong.push(format!("{}: `{module}` refers to `crate::{r}`, which is above it", f.display())),
                None => wrong.push(format!(
                    "{}: `crate::{r}` is no module of the stage order (a root re-export? use the module's path)",
                    f.display()
                )),
            }
        }
    }
    for m in &order {
        assert!(
            seen.contains(m),
            "ARCHITECTURE.md names `{m}`, which is no module of src/"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
