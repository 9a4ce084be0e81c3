//! Golden tests of the `mspl` binary: each `tests/cases/cli/<name>.cmd` holds
//! one command line (arguments after `mspl`, split like a shell would split
//! words and double quotes); its exit code, stdout and stderr are
//! snapshotted beside it as `run@<name>.cmd.snap`.

use std::process::Command;

/// Splits a command line into words; `\"` inside a word is a literal quote.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = line.trim().chars().peekable();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            ' ' | '\t' if in_word => {
                out.push(std::mem::take(&mut word));
                in_word = false;
            }
            ' ' | '\t' => {}
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

#[test]
fn run() {
    insta::with_settings!({snapshot_path => "cases/cli", prepend_module_to_snapshot => false}, {
        insta::glob!("cases/cli/*.cmd", |path| {
            let line = std::fs::read_to_string(path).expect("readable");
            let output = Command::new(env!("CARGO_BIN_EXE_mspl"))
                .args(words(&line))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .expect("mspl runs");
            let report = format!(
                "$ mspl {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
                line.trim(),
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            insta::assert_snapshot!(report);
        });
    });
}
