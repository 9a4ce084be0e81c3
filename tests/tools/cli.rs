//! Golden tests of the `mspl` binary: each `tests/cases/cli/<name>.cmd` holds
//! one command line (arguments after `mspl`, split like a shell would split
//! words and double quotes); its exit code, stdout and stderr are
//! snapshotted beside it as `run@<name>.cmd.snap`.

use crate::skip;

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
    insta::with_settings!({snapshot_path => "../cases/cli", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "cli/*.cmd", |path| {
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

/// A batch of `n` requests of the shipped examples, in a temporary file.
fn big_batch(n: usize) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let line = r#"{"principal": "RamUser::\"user-01\"", "action": "Action::\"page.view\"", "resource": "Page::\"project-a/models\"", "context": {}}"#;
    for _ in 0..n {
        writeln!(file, "{line}").expect("write");
    }
    file
}

/// The contract's "Writes": a batch job must never believe its output was
/// written when it was not.
#[test]
fn a_failed_write_to_standard_output_is_an_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        skip::skip("a write to /dev/full", "this system has no /dev/full");
        return;
    };
    let batch = big_batch(100);
    let runs: [&[&str]; 2] = [
        &[
            "authorize",
            "--policies",
            "policies/model_studio",
            "--entities",
            "policies/model_studio/examples/entities.json",
            "--requests",
            batch.path().to_str().unwrap(),
        ],
        &[
            "audit",
            "matrix",
            "--policies",
            "policies/model_studio",
            "--entities",
            "policies/model_studio/examples/entities.json",
        ],
    ];
    for args in runs {
        let output = Command::new(env!("CARGO_BIN_EXE_mspl"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(full.try_clone().expect("a second handle"))
            .output()
            .expect("mspl runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: writing standard output: "),
            "{args:?}: {stderr}"
        );
    }
}

/// `mspl … | head`: the reader asked for no more, so mspl ends quietly,
/// with exit 1 (its output was not all written).
#[test]
fn a_closed_pipe_ends_quietly_with_exit_1() {
    let batch = big_batch(5000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args([
            "authorize",
            "--format",
            "json",
            "--policies",
            "policies/model_studio",
            "--entities",
            "policies/model_studio/examples/entities.json",
            "--requests",
            batch.path().to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mspl runs");
    // Close the reading end before mspl writes its half megabyte.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("mspl ends");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
