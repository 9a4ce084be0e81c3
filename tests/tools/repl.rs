//! Transcript tests of `mspl repl`: each `tests/cases/repl/<name>.txt` is
//! piped into the real binary with the Model Studio set loaded; what it
//! writes (stdout and stderr, interleaved as written) is snapshotted beside
//! it as `transcript@<name>.txt.snap`.

use crate::skip;

use std::io::{Read, Seek, Write};
use std::process::{Command, Stdio};

const ARGS: &[&str] = &[
    "repl",
    "--policies",
    "policies/model_studio",
    "--entities",
    "policies/model_studio/examples/entities.json",
];

/// Runs `mspl` with `input` on stdin; returns its exit code and what it
/// wrote, both streams in one file so that they interleave in order.
fn run(args: &[&str], input: &str) -> (i32, String) {
    let mut log = tempfile::tempfile().expect("a temporary file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("a second handle"))
        .stderr(log.try_clone().expect("a third handle"))
        .spawn()
        .expect("mspl runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    let status = child.wait().expect("mspl ends");
    let mut text = String::new();
    log.rewind().expect("rewound");
    log.read_to_string(&mut text).expect("utf-8 output");
    (status.code().unwrap_or(-1), text)
}

#[test]
fn transcript() {
    insta::with_settings!({snapshot_path => "../cases/repl", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "repl/*.txt", |path| {
            let input = std::fs::read_to_string(path).expect("readable");
            let (code, output) = run(ARGS, &input);
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
            let report = format!(
                "$ mspl {} < {name}\nexit: {code}\n--- input\n{input}--- output\n{output}",
                ARGS.join(" ")
            );
            insta::assert_snapshot!(report);
        });
    });
}

/// Piped stdin prints no prompt, no banner and no colour: only answers.
#[test]
fn piped_input_prints_only_answers() {
    let (code, output) = run(ARGS, "1 + 1\n");
    assert_eq!((code, output.as_str()), (0, "2\n"));
    let (code, output) = run(&["repl"], "");
    assert_eq!((code, output.as_str()), (0, ""));
}

/// Files that do not load at the start are reported; the session goes on
/// without them.
#[test]
fn a_bad_start_is_reported_and_the_session_goes_on() {
    let (code, output) = run(
        &["repl", "--policies", "tests/cases/repl/data/broken.mspl"],
        ":policies\n1 + 1\n",
    );
    assert_eq!(code, 0);
    assert!(output.contains("comparisons do not chain"), "{output}");
    assert!(output.contains("starting without them"), "{output}");
    assert!(output.ends_with("no policies loaded\n2\n"), "{output}");
}

/// The acceptance check in a real terminal: `scripts/repl-terminal-check.sh`
/// drives the binary through tmux (continuation prompt, completion,
/// highlighting, Ctrl-C, Ctrl-D, history). Skipped, with a message, where
/// tmux is not installed.
#[test]
fn a_real_terminal_shows_continuation_completion_and_highlighting() {
    let has_tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tmux {
        skip::skip(
            "the REPL in a terminal",
            "tmux is not installed (apt-get install -y tmux)",
        );
        return;
    }
    let output = Command::new("bash")
        .arg("scripts/repl-terminal-check.sh")
        .env("MSPL", env!("CARGO_BIN_EXE_mspl"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether an input goes on is decided by the tokens: open brackets and
/// strings, and for items their final `;` or `}`.
#[test]
fn inputs_continue_while_brackets_strings_or_items_are_open() {
    use mspl_cli::repl::is_complete;
    for open in [
        "[1,",
        "{a: (1",
        "\"a string",
        ":set context {a:",
        "permit(principal, action, resource)",
        "@id(\"x\")",
        "rule f(x) {",
    ] {
        assert!(!is_complete(open), "{open:?} should go on");
    }
    for whole in [
        "1 + 2",
        "1 +",
        "1)",
        "\"(\" // (",
        ":load a(b",
        "permit(principal, action, resource);",
        "rule f(x) { x }",
        "permit(principal, action, resource)\n",
        "action == Action::\"view\"",
    ] {
        assert!(is_complete(whole), "{whole:?} should be whole");
    }
}

/// Completion offers keywords, types, ids, attributes and methods.
#[test]
fn completion_offers_what_is_loaded() {
    use mspl_cli::repl::helper::{complete_expression, Vocabulary};
    let (set, diagnostics) = {
        let mut loader = mspl::__internal::Loader::new(mspl::__internal::Limits::default());
        loader.add_path(std::path::Path::new("policies/model_studio"));
        loader.finish(mspl::__internal::IdScheme::Annotated)
    };
    assert!(diagnostics.is_empty());
    let text = std::fs::read_to_string("policies/model_studio/examples/entities.json").unwrap();
    let entities = mspl::__internal::entities::build::build_entities(
        &set.schema,
        [("entities.json", text.as_str())],
    )
    .unwrap();
    let v = Vocabulary::of(&set, &entities);
    let offered = |text: &str| -> (usize, Vec<String>) {
        let (start, pairs) = complete_expression(&v, text);
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    };
    assert_eq!(offered("princ"), (0, vec!["principal".to_string()]));
    assert_eq!(offered("1 + Ram").1, ["RamRole", "RamUser"]);
    assert_eq!(
        offered("Workspace::\"pro"),
        (11, vec!["\"project-a\"".to_string()])
    );
    assert!(offered("Action::").1.contains(&"\"page.view\"".to_string()));
    assert_eq!(offered("principal.pol").1, ["policies"]);
    assert!(offered("resource has ").1.is_empty());
    assert_eq!(offered("resource has feat").1, ["feature"]);
    assert_eq!(offered("[1].containsA").1, ["containsAll", "containsAny"]);
    assert_eq!(offered("ram_id").1, ["ram_identity"]);
    assert_eq!(offered("1 + 2 ").1, Vec::<String>::new());
}

/// Highlighting adds escapes and nothing else: without them, the line is
/// as typed, so the cursor stays where it was.
#[test]
fn highlighting_keeps_the_text() {
    use mspl_cli::repl::helper::highlight_tokens;
    let line = "permit(principal, action == Action::\"view\", resource) when { 1 + \"x } // c ∞";
    let coloured = highlight_tokens(line, 0);
    assert!(coloured.contains("\x1b[34mAction\x1b[0m"), "{coloured:?}");
    let mut plain = String::new();
    let mut chars = coloured.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    assert_eq!(plain, line);
}

/// Completion offers the built-ins of the one table, and the evaluator
/// knows each of them.
#[test]
fn completion_offers_the_table_of_built_ins() {
    use mspl::__internal::builtins::{names, Form, Implementation, BUILTINS};
    for b in BUILTINS
        .iter()
        .filter(|b| b.implementation == Implementation::Extension)
    {
        match b.form {
            Form::Method => assert!(
                mspl::__internal::value::ext::is_method(b.name),
                "{}",
                b.name
            ),
            Form::Function => assert!(
                mspl::__internal::value::ext::is_function(b.name),
                "{}",
                b.name
            ),
        }
    }
    assert_eq!(names(Form::Function).count(), 4);
    assert_eq!(names(Form::Method).count(), 24);
}
