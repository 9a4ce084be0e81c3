//! Runs every example of `docs/language.md`, so the reference cannot rot:
//! its policy blocks load, its expressions evaluate to what they show, and
//! its `mspl` commands print what the block after them shows.
//! Blocks marked `mspl-valid` must also validate without errors, blocks
//! marked `mspl-invalid` must load but draw a validation error.

use crate::doc_examples;

use mspl::__internal::entities::json::Request;
use mspl::__internal::eval::{Evaluator, Value};
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::syntax::ast::EntityUid;
use mspl::__internal::{Entities, Limits};

fn load(
    source: &str,
) -> (
    mspl::__internal::PolicySet,
    Vec<mspl::__internal::diag::Diagnostic>,
) {
    let mut loader = Loader::new(Limits::default());
    loader.add_source("example.mspl".into(), source.into());
    loader.finish(IdScheme::Annotated)
}

fn eval(expr: &str) -> Result<Value, String> {
    // Expressions are evaluated as a rule body, so rules and linking apply.
    let (set, diagnostics) = load(&format!("rule example() {{ ({expr}) == ({expr}) }}"));
    if !diagnostics.is_empty() {
        return Err(set.sources.render(&diagnostics, false));
    }
    let parsed = mspl::__internal::syntax::parse_expr(expr, 0, &[], &Limits::default())
        .map_err(|e| format!("{e:?}"))?;
    let entities = Entities::new();
    let request = Request {
        principal: EntityUid::new("User", "alice"),
        action: EntityUid::new("Action", "view"),
        resource: EntityUid::new("Doc", "d"),
        context: Value::empty_record(),
    };
    let limits = Limits::default();
    let mut evaluator = Evaluator::new(&set, &entities, &request, &limits);
    evaluator.eval(&parsed).map_err(|e| e.to_string())
}

#[test]
fn every_example_of_the_language_reference_runs() {
    let text = std::fs::read_to_string("docs/language.md").expect("docs/language.md");
    let mut counts = (0, 0, 0);
    for (info, body, line) in doc_examples::blocks(&text) {
        match info.as_str() {
            "mspl" => {
                let (set, diagnostics) = load(&body);
                assert!(
                    diagnostics.is_empty(),
                    "line {line}:\n{}",
                    set.sources.render(&diagnostics, false)
                );
                counts.0 += 1;
            }
            "mspl-valid" | "mspl-invalid" => {
                let (set, diagnostics) = load(&body);
                assert!(
                    diagnostics.is_empty(),
                    "line {line}:\n{}",
                    set.sources.render(&diagnostics, false)
                );
                let problems = mspl::__internal::validate::validate_policies(&set);
                let errors: Vec<_> = problems.iter().filter(|p| !p.is_warning()).collect();
                assert_eq!(
                    errors.is_empty(),
                    info == "mspl-valid",
                    "line {line}: {errors:?}"
                );
                counts.0 += 1;
            }
            "mspl-error" => {
                let (_, diagnostics) = load(&body);
                assert!(!diagnostics.is_empty(), "line {line}: expected an error");
                counts.1 += 1;
            }
            "mspl-eval" => {
                for (j, l) in body.lines().enumerate() {
                    let Some((expr, expected)) = l.split_once("// =>") else {
                        continue;
                    };
                    let value =
                        eval(expr.trim()).unwrap_or_else(|e| panic!("line {}: {e}", line + j + 1));
                    assert_eq!(
                        value.to_string(),
                        expected.trim(),
                        "line {}: `{}`",
                        line + j + 1,
                        expr.trim()
                    );
                    counts.2 += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        counts.0 >= 5 && counts.1 >= 3 && counts.2 >= 30,
        "{counts:?}"
    );
}

#[test]
fn every_command_of_the_language_reference_prints_what_it_shows() {
    let ran = doc_examples::check("docs/language.md", "mspl ", |args| {
        let out = mspl_cli::cli::execute(std::iter::once("mspl").chain(args.iter().copied()));
        (out.code, out.stdout, out.stderr)
    });
    assert!(ran >= 5, "{ran} commands ran");
}

/// A scratch folder with what the pages' commands read: the repository's
/// inputs (linked), and the placeholders the pages name (`new/`,
/// `entities.json`, `decisions.jsonl`, `release/`, `changes.jsonl`,
/// `token`) made of the examples.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = dir.path();
    for name in ["policies", "docs", "tests"] {
        std::os::unix::fs::symlink(repo.join(name), root.join(name)).expect("a link");
    }
    std::os::unix::fs::symlink(repo.join("policies/model_studio"), root.join("new"))
        .expect("a link");
    let examples = repo.join("policies/model_studio/examples");
    std::fs::copy(examples.join("entities.json"), root.join("entities.json")).expect("copied");
    std::fs::copy(
        examples.join("requests.jsonl"),
        root.join("decisions.jsonl"),
    )
    .expect("copied");
    std::fs::create_dir_all(root.join("release")).expect("a folder");
    std::os::unix::fs::symlink(
        repo.join("policies/model_studio"),
        root.join("release/policies"),
    )
    .expect("a link");
    std::fs::copy(
        examples.join("entities.json"),
        root.join("release/entities.json"),
    )
    .expect("copied");
    std::fs::create_dir_all(root.join("target")).expect("a folder");
    // docs/serve.md's signing keys (the tests' own: `openssl` is not run).
    for (from, to) in [
        ("release.key.pem", "release.key"),
        ("release.pub.pem", "release.pub"),
    ] {
        std::fs::copy(
            repo.join("tests/cases/bundle-keys").join(from),
            root.join(to),
        )
        .expect("copied");
    }
    // docs/serve.md's change log and admin token.
    std::fs::write(root.join("changes.jsonl"), "").expect("written");
    std::fs::write(root.join("token"), "s3cret").expect("written");
    dir
}

/// Runs `mspl ARGS` in `dir` to its end, with `typed` on its standard
/// input: the exit code and what it printed.
fn run_in(dir: &std::path::Path, args: &[String], typed: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mspl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(typed.as_bytes()).expect("typed");
    drop(stdin);
    let out = child.wait_with_output().expect("mspl ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A server a page started (`mspl serve …` on a free port), serving its
/// `curl` lines until the page ends; then stopped with `SIGTERM`, which
/// must end it with exit 0.
struct PageServer {
    child: std::process::Child,
    /// `127.0.0.1:PORT`, what the page's `localhost:8180` stands for.
    addr: String,
    what: String,
}

impl PageServer {
    fn start(dir: &std::path::Path, args: &[String], what: &str) -> PageServer {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_mspl"))
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mspl serve runs");
        let mut said = String::new();
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = lines.by_ref().take(200).find_map(|l| {
            let l = l.unwrap_or_default();
            said.push_str(&l);
            said.push('\n');
            l.split_once("listening on http://")
                .or_else(|| l.split_once("listening on https://"))
                .map(|(_, a)| a.trim().to_string())
        });
        let Some(addr) = addr else {
            let _ = child.kill();
            panic!("{what} did not start:\n{said}");
        };
        // Its log goes on being read, so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        PageServer {
            child,
            addr,
            what: what.to_string(),
        }
    }

    fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self.child.wait().expect("it ends");
        assert_eq!(status.code(), Some(0), "{} after SIGTERM", self.what);
    }
}

/// Runs a page's `curl` line against the page's server (`localhost:8180`
/// is where it listens): what it printed.
fn curl(server: &PageServer, words: &[String], what: &str) -> String {
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| w.replace("localhost:8180", &server.addr))
        .collect();
    let out = std::process::Command::new("curl")
        .args(["--max-time", "10"])
        .args(&args)
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "{what}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The REPL's prompt, as a transcript on a page shows it.
const PROMPT: &str = "mspl> ";

/// Whether `got` is `want`, where `…` in `want` stands for any text.
fn agrees(got: &str, want: &str) -> bool {
    match want.split_once('…') {
        Some((head, tail)) => {
            got.len() >= head.len() + tail.len() && got.starts_with(head) && got.ends_with(tail)
        }
        None => got == want,
    }
}

/// Checks a REPL transcript from a page against what the session printed:
/// every answer line the page shows is printed, in that order (a page may
/// leave lines out).
fn transcript_agrees(printed: &str, shown: &str, what: &str) {
    let mut printed_lines = printed.lines();
    for want in shown.lines().filter(|l| !l.starts_with(PROMPT)) {
        assert!(
            printed_lines.any(|got| agrees(got, want)),
            "{what}: the page shows `{want}`, which the session did not print (in order):\n{printed}"
        );
    }
}

/// Whether JSON `got` is what a page shows: the same fields and values,
/// where a shown string with `…` stands for any string of that shape.
fn json_agrees(got: &serde_json::Value, shown: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (got, shown) {
        (Value::String(g), Value::String(s)) => agrees(g, s),
        (Value::Array(g), Value::Array(s)) => {
            g.len() == s.len() && g.iter().zip(s).all(|(g, s)| json_agrees(g, s))
        }
        (Value::Object(g), Value::Object(s)) => {
            g.len() == s.len()
                && s.iter()
                    .all(|(k, s)| g.get(k).is_some_and(|g| json_agrees(g, s)))
        }
        (g, s) => g == s,
    }
}

/// The newcomer's path: every `mspl` command in the README and on the
/// pages of `docs/` (```sh and ```console blocks; `cargo run --release --`
/// is `mspl`) runs as written, and where a page shows what it prints (a
/// ```text or ```json block right after a block of one command), it prints
/// that: a REPL transcript is typed into the REPL, a `curl` line is sent to
/// the server the page started. Pages whose commands their own tests check
/// to the byte (language, audit, diff) are checked there; the lines left
/// are the reader's tools (`cargo` builds and benchmarks, timings of
/// generated worlds, `openssl` making keys), named as not run.
#[test]
fn every_command_on_every_page_runs_as_written() {
    // Pages run by their own tests (docs/postgres.md against a real
    // database: tests/postgres/docs.rs).
    let own_tests = [
        "docs/language.md",
        "docs/audit.md",
        "docs/diff.md",
        "docs/postgres.md",
    ];
    let mut pages = vec!["README.md".to_string()];
    for entry in std::fs::read_dir("docs").expect("docs/") {
        let path = entry.expect("an entry").path();
        let name = path.display().to_string();
        if name.ends_with(".md") && !own_tests.contains(&name.as_str()) {
            pages.push(name);
        }
    }
    pages.sort();
    let dir = scratch();
    let (mut ran, mut compared, mut not_run) = (0, 0, Vec::new());
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("a page");
        let blocks = doc_examples::blocks(&text);
        let mut server: Option<PageServer> = None;
        for (i, (info, body, line)) in blocks.iter().enumerate() {
            if info != "sh" && info != "console" {
                continue;
            }
            let commands = doc_examples::commands(body);
            let shown = blocks
                .get(i + 1)
                .filter(|(info, _, _)| (info == "text" || info == "json") && commands.len() == 1)
                .map(|(info, shown, _)| (info.as_str(), shown.as_str()));
            for command in &commands {
                let what = format!("{page}:{line}: `{command}`");
                if command.contains("postgres://") {
                    // Against a real database: tests/postgres/docs.rs.
                    continue;
                }
                let words = doc_examples::shell_words(command);
                let args: Vec<String> = match words.first().map(String::as_str) {
                    Some("mspl") => words[1..].to_vec(),
                    Some("cargo")
                        if words.get(1..4)
                            == Some(&["run".into(), "--release".into(), "--".into()][..]) =>
                    {
                        words[4..].to_vec()
                    }
                    Some("curl") if server.is_some() => {
                        let printed = curl(server.as_ref().expect("a server"), &words, &what);
                        ran += 1;
                        if let Some((_, shown)) = shown {
                            let got = serde_json::from_str(&printed).expect("JSON from the server");
                            let want = serde_json::from_str(shown).expect("JSON on the page");
                            assert!(json_agrees(&got, &want), "{what}:\n{printed}\n{shown}");
                            compared += 1;
                        }
                        continue;
                    }
                    _ => {
                        not_run.push(what);
                        continue;
                    }
                };
                if args.first().map(String::as_str) == Some("verify")
                    && crate::solvers::find("z3", &what).is_none()
                {
                    not_run.push(what);
                    continue;
                }
                if args.first().map(String::as_str) == Some("serve") {
                    if let Some(previous) = server.take() {
                        previous.stop();
                    }
                    server = Some(PageServer::start(dir.path(), &args, &what));
                    ran += 1;
                    continue;
                }
                // A REPL session shown as a transcript: what follows each
                // prompt is typed, the other lines are what it answers.
                let typed: String = match (args.first().map(String::as_str), shown) {
                    (Some("repl"), Some((_, shown))) => shown
                        .lines()
                        .filter_map(|l| l.strip_prefix(PROMPT))
                        .map(|l| format!("{l}\n"))
                        .collect(),
                    _ => String::new(),
                };
                let (code, stdout, stderr) = run_in(dir.path(), &args, &typed);
                assert!(
                    matches!(code, 0 | 2 | 4),
                    "{what} exited {code}:\n{stdout}{stderr}"
                );
                ran += 1;
                if let Some((_, shown)) = shown {
                    let printed = if stdout.is_empty() { &stderr } else { &stdout };
                    if typed.is_empty() {
                        assert_eq!(printed, shown, "{what}");
                    } else {
                        transcript_agrees(printed, shown, &what);
                    }
                    compared += 1;
                }
            }
        }
        if let Some(server) = server {
            server.stop();
        }
    }
    eprintln!(
        "{ran} commands ran on {} pages, {compared} compared with what the page shows; not run: {not_run:#?}",
        pages.len()
    );
    assert!(ran >= 10, "{ran} commands ran");
    assert!(
        not_run.iter().all(|c| {
            let command = c.split_once(": `").map_or("", |(_, c)| c);
            ["cargo ", "CARGO_TARGET_DIR=", "/usr/bin/time ", "openssl "]
                .iter()
                .any(|tool| command.starts_with(tool))
        }),
        "{not_run:#?}"
    );
}
