//! The pipeline runs one way: every `crate::` path in the library
//! (`crates/mspl/src/`) and the tools (`src/`), in `use` lines and inline,
//! comments aside, names a top-level module below the one it stands in, in
//! the stage order that ARCHITECTURE.md writes down. So the graph of
//! top-level modules has no cycle, and the document and the code cannot
//! drift apart. And each outside world has one door: the file system only
//! through `files/` (`std::fs` nowhere else), pest only in the parser.

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

/// The Rust files of the library and of the tools, each with its
/// top-level module (`None` for a crate's root file).
fn modules() -> Vec<(std::path::PathBuf, Option<String>)> {
    let mut out = Vec::new();
    for root in ["crates/mspl/src", "src"] {
        let mut files = Vec::new();
        rust_files(Path::new(root), &mut files);
        files.sort();
        for f in files {
            let rel = f.strip_prefix(root).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .to_string();
            let module = match first.as_str() {
                "lib.rs" | "main.rs" => None,
                _ => Some(first.trim_end_matches(".rs").to_string()),
            };
            out.push((f, module));
        }
    }
    out
}

/// The lines of `text` that are code, comments aside.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start()))
        .filter(|(_, l)| !l.starts_with("//"))
}

#[test]
fn every_module_refers_only_to_modules_below_it() {
    let order = stage_order();
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for (f, module) in modules() {
        let Some(module) = module else {
            continue;
        };
        seen.insert(module.clone());
        let Some(own) = rank(&module) else {
            wrong.push(format!(
                "{}: module `{module}` is not in the stage order",
                f.display()
            ));
            continue;
        };
        for r in references(&std::fs::read_to_string(&f).unwrap()) {
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
            "ARCHITECTURE.md names `{m}`, which is no module of src/ or crates/mspl/src/"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The file system is reached only through `files/`, so that every read is
/// bounded and every write is safe (one place to get them right); pest only
/// through the parser, whose process-wide settings are its own.
#[test]
fn the_file_system_and_pest_each_have_one_door() {
    let mut wrong = Vec::new();
    for (f, module) in modules() {
        let text = std::fs::read_to_string(&f).unwrap();
        let is_parser = f.ends_with("syntax/parser.rs");
        for (line, code) in code_lines(&text) {
            if code.contains("std::fs") && module.as_deref() != Some("files") {
                wrong.push(format!(
                    "{}:{line}: `std::fs` outside `files/`",
                    f.display()
                ));
            }
            if code.contains("pest::") && !is_parser {
                wrong.push(format!(
                    "{}:{line}: `pest::` outside the parser",
                    f.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
