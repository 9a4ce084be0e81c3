//! Cedar conformance: Cedar's own integration tests, run unchanged through
//! `mspl authorize --cedar` (in-process, via [`mspl_cli::cli::execute`]).
//!
//! The data lives outside the repository, in
//! `../shared/cedar-integration-tests/` (see its `FORMAT.md`): the
//! hand-written tests `tests/**/N.json` and the fuzzer corpus
//! `corpus-tests.tar.gz`, unpacked here to a temporary folder. Each request's
//! decision, determining policies and erroring policies (both as sets) are
//! compared with Cedar's. Requests that are known not to match yet are
//! listed in `tests/cedar_conformance_known_failures.txt`, one per line as
//! `<test file>#<request index>  <reason>`: a mismatch not on the list fails,
//! and so does a listed request that now matches (remove it from the list).
//!
//! Environment:
//! - `MSPL_CONFORMANCE_FILTER=<substring>`: run only the tests whose file
//!   name (`tests/multi/1.json`, `corpus-tests/<hash>.json`) contains it.
//! - `MSPL_CONFORMANCE_CORPUS=<dir>`: use a corpus already unpacked in
//!   `<dir>/corpus-tests/` instead of unpacking the archive.
//! - `MSPL_CONFORMANCE_REPORT=<dir>`: write every mismatch in full to
//!   `<dir>/tests.txt` and `<dir>/corpus-tests.txt`.
//! - `MSPL_CONFORMANCE_BLESS=1`: rewrite the known-failures list from this
//!   run (reasons of requests already listed are kept).
//! - `CI=true`: the shared data must be present (otherwise the test skips).
//!
//! Each test is also run through `mspl validate` (in-process, with the
//! test's requests): the policies must validate exactly when Cedar's
//! `shouldValidate` says so, and each request exactly when its
//! `validateRequest` does. These agreements are reported beside the
//! decisions, and their misses are listed in the same file as
//! `<test file>#shouldValidate` and `<test file>#<request index>:validateRequest`.

use crate::shared_data;

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The known-failures list, relative to the crate root.
const KNOWN_FAILURES: &str = "tests/cedar_conformance_known_failures.txt";
/// Time spent in `mspl validate`, in nanoseconds, summed over the threads.
static VALIDATION_NANOS: AtomicU64 = AtomicU64::new(0);
/// Entity-file errors `mspl validate` found in the tests' data.
static ENTITY_FILES_INVALID: AtomicU64 = AtomicU64::new(0);
/// How many mismatches are printed in full.
const SHOWN_IN_FULL: usize = 10;

#[test]
fn hand_written() {
    let Some(data) = shared_data() else { return };
    let started = Instant::now();
    let mut files = Vec::new();
    collect_json(&data.join("tests"), &mut files);
    files.sort();
    let cases: Vec<Case> = files
        .iter()
        .filter_map(|f| {
            let name = relative(f, &data);
            selected(&name).then(|| Case::read(f, &name, &data))
        })
        .collect();
    let results = run_cases(&cases);
    let mut report = String::new();
    let _ = writeln!(report, "Cedar conformance, hand-written tests:");
    let mut folders: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (case, res) in cases.iter().zip(&results) {
        let folder = case
            .name
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .to_string();
        let entry = folders.entry(folder).or_default();
        let res: Vec<_> = res.iter().filter(|r| !r.validation).collect();
        entry.1 += res.len();
        entry.0 += res.iter().filter(|r| r.mismatch.is_none()).count();
    }
    for (folder, (passed, total)) in &folders {
        let _ = writeln!(report, "  {folder:<32} {passed:>3}/{total} passed");
    }
    let everything: Vec<&RequestResult> = results.iter().flatten().collect();
    let all: Vec<&RequestResult> = everything
        .iter()
        .copied()
        .filter(|r| !r.validation)
        .collect();
    let passed = all.iter().filter(|r| r.mismatch.is_none()).count();
    let _ = writeln!(report, "  {:<32} {passed:>3}/{} passed", "total", all.len());
    summarize_common(&cases, &everything, &mut report);
    let _ = writeln!(report, "  time: {:.1?}", started.elapsed());
    finish("tests/", &report, &cases, &everything);
}

#[test]
fn corpus() {
    let Some(data) = shared_data() else { return };
    let started = Instant::now();
    let unpacked;
    let root = match std::env::var_os("MSPL_CONFORMANCE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => {
            unpacked = tempfile::tempdir().expect("a temporary folder for the corpus");
            unpack(&data.join("corpus-tests.tar.gz"), unpacked.path());
            unpacked.path().to_path_buf()
        }
    };
    let unpack_time = started.elapsed();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("corpus-tests"))
        .expect("the unpacked corpus has a `corpus-tests` folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && !name.ends_with(".entities.json")
        })
        .collect();
    files.sort();
    let cases: Vec<Case> = files
        .iter()
        .filter_map(|f| {
            let name = relative(f, &root);
            selected(&name).then(|| Case::read(f, &name, &root))
        })
        .collect();
    let run_started = Instant::now();
    let results = run_cases(&cases);
    let everything: Vec<&RequestResult> = results.iter().flatten().collect();
    let all: Vec<&RequestResult> = everything
        .iter()
        .copied()
        .filter(|r| !r.validation)
        .collect();
    let mut report = String::new();
    let _ = writeln!(report, "Cedar conformance, corpus ({} tests):", cases.len());
    let matched = all.iter().filter(|r| r.mismatch.is_none()).count();
    let percent = if all.is_empty() {
        100.0
    } else {
        100.0 * matched as f64 / all.len() as f64
    };
    let _ = writeln!(report, "  requests:   {}", all.len());
    let _ = writeln!(
        report,
        "  matched:    {matched} ({percent:.2}%; target: at least 99.5%)"
    );
    let _ = writeln!(report, "  mismatched: {}", all.len() - matched);
    let mut kinds: BTreeMap<(String, bool), usize> = BTreeMap::new();
    for r in &all {
        if let Some(m) = &r.mismatch {
            *kinds.entry((m.kind.label(), r.extension)).or_default() += 1;
        }
    }
    for ((kind, extension), n) in &kinds {
        let tag = if *extension {
            " (test uses extension types)"
        } else {
            ""
        };
        let _ = writeln!(report, "    {kind:<28} {n:>6}{tag}");
    }
    let agreement = summarize_common(&cases, &everything, &mut report);
    let _ = writeln!(
        report,
        "  time: {:.1?} (unpacking {:.1?}, running {:.1?})",
        started.elapsed(),
        unpack_time,
        run_started.elapsed()
    );
    if !filtered() {
        assert!(
            agreement >= 0.99,
            "{report}\nshouldValidate agreement {:.2}% is below 99%",
            100.0 * agreement
        );
    }
    finish("corpus-tests/", &report, &cases, &everything);
}

/// The suite, or `None` (after saying so) when it is absent outside CI.
fn shared_data() -> Option<PathBuf> {
    shared_data::cedar_suite(Path::new(env!("CARGO_MANIFEST_DIR")), "Cedar conformance")
}

/// Whether `MSPL_CONFORMANCE_FILTER` (if set) selects the test `name`.
fn selected(name: &str) -> bool {
    std::env::var("MSPL_CONFORMANCE_FILTER").map_or(true, |f| name.contains(&f))
}

fn filtered() -> bool {
    std::env::var_os("MSPL_CONFORMANCE_FILTER").is_some()
}

/// `path` relative to `root`, with `/` separators.
fn relative(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect_json(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn unpack(archive: &Path, into: &Path) {
    let file = std::fs::File::open(archive)
        .unwrap_or_else(|e| panic!("cannot open `{}`: {e}", archive.display()));
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    tar.unpack(into)
        .unwrap_or_else(|e| panic!("cannot unpack `{}`: {e}", archive.display()));
}

/// One test file: its inputs and its requests with Cedar's answers.
struct Case {
    /// The test file, relative to its root (`tests/multi/1.json`).
    name: String,
    /// The inputs, and their paths as the test gives them (relative to
    /// the data folder).
    policies: PathBuf,
    schema: Option<PathBuf>,
    entities: PathBuf,
    relative: BTreeMap<&'static str, String>,
    should_validate: Option<bool>,
    requests: Vec<Expected>,
    /// Whether the test involves extension types (constructors in the
    /// policies, `__extn` in the data, extension types in the schema).
    extension: bool,
    /// What the reproducing command does first (unpack the corpus files),
    /// and where it then finds the data folder.
    shell_prefix: String,
    shell_root: String,
}

/// One request and Cedar's answer.
struct Expected {
    /// The request line given to mspl; `None` when the test leaves out the
    /// principal or the resource (old tests), which mspl cannot express.
    line: Option<String>,
    decision: String,
    reason: BTreeSet<String>,
    errors: BTreeSet<String>,
    validate_request: Option<bool>,
}

impl Case {
    fn read(file: &Path, name: &str, root: &Path) -> Case {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read `{name}`: {e}"));
        let json: Json =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("`{name}` is not JSON: {e}"));
        let path = |key: &str| json.get(key).and_then(Json::as_str).map(|p| root.join(p));
        let policies = path("policies").unwrap_or_else(|| panic!("`{name}` has no `policies`"));
        let entities = path("entities").unwrap_or_else(|| panic!("`{name}` has no `entities`"));
        let schema = path("schema");
        let relative = ["policies", "schema", "entities"]
            .into_iter()
            .filter_map(|k| Some((k, json.get(k)?.as_str()?.to_string())))
            .collect();
        let requests: Vec<Expected> = json
            .get("requests")
            .and_then(Json::as_array)
            .map(|rs| rs.iter().map(Expected::read).collect())
            .unwrap_or_default();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let extension = involves_extensions(
            &read(&policies),
            &schema.as_deref().map(read).unwrap_or_default(),
            &read(&entities),
            &requests,
        );
        let (shell_prefix, shell_root) = if name.starts_with("corpus-tests/") {
            let hash = name
                .trim_start_matches("corpus-tests/")
                .trim_end_matches(".json");
            let members: Vec<String> = ["cedar", "cedarschema", "entities.json"]
                .iter()
                .map(|e| format!("corpus-tests/{hash}.{e}"))
                .collect();
            (
                format!(
                    "mkdir -p /tmp/cedar-corpus && tar xzf ../shared/cedar-integration-tests/corpus-tests.tar.gz -C /tmp/cedar-corpus {} && ",
                    members.join(" ")
                ),
                "/tmp/cedar-corpus".to_string(),
            )
        } else {
            (
                String::new(),
                "../shared/cedar-integration-tests".to_string(),
            )
        };
        Case {
            name: name.to_string(),
            policies,
            schema,
            entities,
            relative,
            should_validate: json.get("shouldValidate").and_then(Json::as_bool),
            requests,
            extension,
            shell_prefix,
            shell_root,
        }
    }

    /// The arguments of `mspl authorize` for a request file.
    fn args(&self, requests: &Path) -> Vec<String> {
        let mut args: Vec<String> = ["mspl", "authorize", "--cedar", "--policies"]
            .map(String::from)
            .to_vec();
        args.push(self.policies.display().to_string());
        if let Some(s) = &self.schema {
            args.push("--schema".into());
            args.push(s.display().to_string());
        }
        args.push("--entities".into());
        args.push(self.entities.display().to_string());
        args.push("--requests".into());
        args.push(requests.display().to_string());
        args.extend(["--format", "json"].map(String::from));
        args
    }

    /// A shell command, run from the repository root, that reproduces one request.
    fn command(&self, line: &str) -> String {
        let path = |key: &str| {
            format!(
                "{}/{}",
                self.shell_root,
                self.relative.get(key).map_or("", |p| p.as_str())
            )
        };
        let mut cmd = format!(
            "{}printf '%s\\n' {} > /tmp/mspl-request.jsonl && cargo run -q -- authorize --cedar --policies {}",
            self.shell_prefix,
            shell_quote(line),
            path("policies")
        );
        if self.schema.is_some() {
            let _ = write!(cmd, " --schema {}", path("schema"));
        }
        let _ = write!(
            cmd,
            " --entities {} --requests /tmp/mspl-request.jsonl --format json",
            path("entities")
        );
        cmd
    }
}

impl Expected {
    fn read(json: &Json) -> Expected {
        let ids = |key: &str| -> BTreeSet<String> {
            json.get(key)
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let present = |key: &str| json.get(key).is_some_and(|v| !v.is_null());
        let line = (present("principal") && present("action") && present("resource")).then(|| {
            let mut request = serde_json::Map::new();
            for key in ["principal", "action", "resource"] {
                request.insert(key.into(), json[key].clone());
            }
            let context = json
                .get("context")
                .cloned()
                .unwrap_or_else(|| Json::Object(Default::default()));
            request.insert("context".into(), context);
            Json::Object(request).to_string()
        });
        Expected {
            line,
            decision: json
                .get("decision")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            reason: ids("reason"),
            errors: ids("errors"),
            validate_request: json.get("validateRequest").and_then(Json::as_bool),
        }
    }
}

/// Whether a test involves extension types: a constructor call in the
/// policies, an `__extn` value in the data or the requests, or an extension
/// type in the schema.
fn involves_extensions(
    policies: &str,
    schema: &str,
    entities: &str,
    requests: &[Expected],
) -> bool {
    let calls = ["decimal", "ip", "datetime", "duration"]
        .iter()
        .any(|f| has_word(policies, f, |rest| rest.trim_start().starts_with('(')));
    let types = ["decimal", "ipaddr", "datetime", "duration"]
        .iter()
        .any(|t| has_word(schema, t, |_| true));
    let escaped = entities.contains("__extn")
        || requests
            .iter()
            .any(|r| r.line.as_deref().is_some_and(|l| l.contains("__extn")));
    calls || types || escaped
}

/// Whether `word` occurs in `text` as a whole identifier followed by text
/// for which `then` holds.
fn has_word(text: &str, word: &str, then: impl Fn(&str) -> bool) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let rest = &text[i + word.len()..];
        !before.is_some_and(ident) && !rest.chars().next().is_some_and(ident) && then(rest)
    })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What mspl answered for one request.
#[derive(Clone, Debug, PartialEq)]
struct Actual {
    decision: String,
    determining: BTreeSet<String>,
    errors: BTreeSet<String>,
    /// The error messages, for the report.
    messages: Vec<String>,
}

impl Actual {
    fn parse(line: &str) -> Option<Actual> {
        let json: Json = serde_json::from_str(line).ok()?;
        let ids = |v: Option<&Json>, field: Option<&str>| -> BTreeSet<String> {
            v.and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| match field {
                            Some(f) => x.get(f).and_then(Json::as_str).map(String::from),
                            None => x.as_str().map(String::from),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let messages = json
            .get("errors")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.get("policy").and_then(Json::as_str).unwrap_or("?"),
                            e.get("message").and_then(Json::as_str).unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Actual {
            decision: json.get("decision")?.as_str()?.to_string(),
            determining: ids(json.get("determining"), None),
            errors: ids(json.get("errors"), Some("policy")),
            messages,
        })
    }
}

/// How a request failed to match.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Another decision.
    Decision,
    /// The same decision, other determining policies.
    Reason,
    /// The same decision and reasons, other erroring policies.
    Errors,
    /// mspl rejected an input: `policies`, `schema`, `entities`, `request`
    /// or `other`.
    Load(&'static str),
    /// The test leaves out the principal or the resource.
    Unexpressible,
    /// `mspl validate` disagrees with `shouldValidate` (Cedar's answer).
    ShouldValidate(bool),
    /// `mspl validate` disagrees with a request's `validateRequest`.
    ValidateRequest(bool),
}

impl Kind {
    fn label(&self) -> String {
        match self {
            Kind::Decision => "decision".into(),
            Kind::Reason => "reason".into(),
            Kind::Errors => "errors".into(),
            Kind::Load(stage) => format!("load failure ({stage})"),
            Kind::Unexpressible => "no principal or resource".into(),
            Kind::ShouldValidate(b) => format!("shouldValidate {b}"),
            Kind::ValidateRequest(b) => format!("validateRequest {b}"),
        }
    }
}

/// A request that did not match, with what is needed to look into it.
struct Mismatch {
    kind: Kind,
    actual: Option<Actual>,
    output: String,
}

impl Mismatch {
    /// A one-line reason for the known-failures list: the kind, the test's
    /// use of extension types, and the gist of the first error message.
    fn summary(&self, extension: bool) -> String {
        let mut s = if extension {
            "[ext] ".to_string()
        } else {
            String::new()
        };
        s.push_str(&self.kind.label());
        let message = match &self.actual {
            Some(a) => a.messages.first().cloned(),
            None => self.output.lines().find_map(|l| {
                serde_json::from_str::<Json>(l)
                    .ok()?
                    .get(0)?
                    .get("message")?
                    .as_str()
                    .map(String::from)
            }),
        };
        if let Some(m) = message {
            // The last clause carries the gist; the leading ones say where.
            let gist = m.rsplit(": ").next().unwrap_or(&m);
            let gist: String = gist.chars().take(80).collect();
            let _ = write!(s, ": {gist}");
        }
        s
    }
}

/// The result of one request.
struct RequestResult {
    /// Whether this is a validation result (`shouldValidate`,
    /// `validateRequest`) rather than a decision.
    validation: bool,
    /// `<test file>#<request index>`.
    key: String,
    /// The case (index into the cases run) and the request's index in it.
    case: usize,
    index: usize,
    extension: bool,
    mismatch: Option<Mismatch>,
}

/// Runs every case, on as many threads as the machine offers.
fn run_cases(cases: &[Case]) -> Vec<Vec<RequestResult>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(cases.len().max(1));
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Vec<RequestResult>>> = (0..cases.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Vec<RequestResult>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                std::thread::Builder::new()
                    .stack_size(16 << 20)
                    .spawn_scoped(scope, || {
                        let dir = tempfile::tempdir().expect("a temporary folder for requests");
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(case) = cases.get(i) else { break };
                            out.push((i, run_case(i, case, dir.path())));
                        }
                        out
                    })
                    .expect("a worker thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker thread finished"))
            .collect()
    });
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots.into_iter().map(Option::unwrap_or_default).collect()
}

/// Runs the requests of one case as a batch; when the batch is refused
/// because of a request, runs each request alone to find which.
fn run_case(case_index: usize, case: &Case, dir: &Path) -> Vec<RequestResult> {
    let lines: Vec<&str> = case
        .requests
        .iter()
        .filter_map(|r| r.line.as_deref())
        .collect();
    let batch = run_mspl(case, dir, &lines);
    let answers: Vec<Result<Actual, (Kind, String)>> = match batch {
        Ok(actuals) => actuals.into_iter().map(Ok).collect(),
        Err((Kind::Load("request"), _)) => lines
            .iter()
            .map(|l| run_mspl(case, dir, &[l]).map(|mut a| a.remove(0)))
            .collect(),
        Err(e) => lines.iter().map(|_| Err(e.clone())).collect(),
    };
    let mut answers = answers.into_iter();
    case.requests
        .iter()
        .enumerate()
        .map(|(index, expected)| {
            let key = format!("{}#{index}", case.name);
            let mismatch = match &expected.line {
                None => Some(Mismatch {
                    kind: Kind::Unexpressible,
                    actual: None,
                    output: String::new(),
                }),
                Some(_) => match answers.next() {
                    Some(Ok(actual)) => compare(expected, &actual),
                    Some(Err((kind, output))) => Some(Mismatch {
                        kind,
                        actual: None,
                        output,
                    }),
                    None => Some(Mismatch {
                        kind: Kind::Load("other"),
                        actual: None,
                        output: "no answer".into(),
                    }),
                },
            };
            RequestResult {
                validation: false,
                key,
                case: case_index,
                index,
                extension: case.extension,
                mismatch,
            }
        })
        .chain(run_validation(case_index, case, dir, &lines))
        .collect()
}

/// Runs `mspl validate` on the test's policies, schema and requests, and
/// compares with `shouldValidate` and each `validateRequest`.
fn run_validation(
    case_index: usize,
    case: &Case,
    dir: &Path,
    lines: &[&str],
) -> Vec<RequestResult> {
    let Some(schema) = &case.schema else {
        return Vec::new();
    };
    let requests = dir.join("validate.jsonl");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&requests, text).expect("the request file is written");
    let mut args: Vec<String> = ["mspl", "validate", "--policies"]
        .map(String::from)
        .to_vec();
    args.push(case.policies.display().to_string());
    args.extend(["--schema".to_string(), schema.display().to_string()]);
    args.extend(["--requests".to_string(), requests.display().to_string()]);
    args.extend([
        "--entities".to_string(),
        case.entities.display().to_string(),
    ]);
    args.extend(["--format", "json"].map(String::from));
    let started = Instant::now();
    let outcome = mspl_cli::cli::execute(args);
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    VALIDATION_NANOS.fetch_add(nanos, Ordering::Relaxed);
    let output = format!(
        "exit code {}\nstdout:\n{}stderr:\n{}",
        outcome.code, outcome.stdout, outcome.stderr
    );
    // Which inputs have errors: the requests by line, the entity file (only
    // counted: Cedar's tests do not say), and the policies (any other file).
    let diagnostics: Option<Vec<Json>> = (outcome.code != 1)
        .then(|| serde_json::from_str(outcome.stdout.lines().next().unwrap_or("[]")).ok())
        .flatten();
    let mut policies_valid = None;
    let mut bad_lines = BTreeSet::new();
    if let Some(ds) = &diagnostics {
        let errors = ds
            .iter()
            .filter(|d| d.get("severity").and_then(Json::as_str) == Some("error"));
        let mut valid = true;
        for d in errors {
            let file = d.get("file").and_then(Json::as_str).unwrap_or("");
            match d.get("line").and_then(Json::as_u64) {
                Some(line) if file.ends_with("validate.jsonl") => {
                    bad_lines.insert(line as usize);
                }
                _ if file.ends_with("entities.json") => {
                    ENTITY_FILES_INVALID.fetch_add(1, Ordering::Relaxed);
                }
                _ => valid = false,
            }
        }
        policies_valid = Some(valid);
    }
    let result = |key: String, index: usize, kind: Kind, agrees: bool| RequestResult {
        validation: true,
        key,
        case: case_index,
        index,
        extension: case.extension,
        mismatch: (!agrees).then(|| Mismatch {
            kind,
            actual: None,
            output: output.clone(),
        }),
    };
    let mut out = Vec::new();
    if let Some(expected) = case.should_validate {
        out.push(result(
            format!("{}#shouldValidate", case.name),
            usize::MAX,
            Kind::ShouldValidate(expected),
            policies_valid == Some(expected),
        ));
    }
    let mut line = 0;
    for (index, r) in case.requests.iter().enumerate() {
        if r.line.is_none() {
            continue;
        }
        line += 1;
        if let Some(expected) = r.validate_request {
            let actual = diagnostics.as_ref().map(|_| !bad_lines.contains(&line));
            out.push(result(
                format!("{}#{index}:validateRequest", case.name),
                index,
                Kind::ValidateRequest(expected),
                actual == Some(expected),
            ));
        }
    }
    out
}

/// Runs mspl on `lines`; the answers, or why there are none.
fn run_mspl(case: &Case, dir: &Path, lines: &[&str]) -> Result<Vec<Actual>, (Kind, String)> {
    let requests = dir.join("requests.jsonl");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&requests, text).expect("the request file is written");
    let outcome = mspl_cli::cli::execute(case.args(&requests));
    let output = format!(
        "exit code {}\nstdout:\n{}stderr:\n{}",
        outcome.code, outcome.stdout, outcome.stderr
    );
    if outcome.code != 0 {
        return Err((Kind::Load(failed_stage(&outcome.stdout)), output));
    }
    let actuals: Option<Vec<Actual>> = outcome.stdout.lines().map(Actual::parse).collect();
    match actuals {
        Some(a) if a.len() == lines.len() => Ok(a),
        _ => Err((Kind::Load("other"), output)),
    }
}

/// Which input a refusal names: the file of the first JSON diagnostic.
fn failed_stage(stdout: &str) -> &'static str {
    let file = serde_json::from_str::<Json>(stdout.lines().next().unwrap_or(""))
        .ok()
        .and_then(|j| j.get(0)?.get("file")?.as_str().map(String::from))
        .unwrap_or_default();
    if file.ends_with(".cedar") {
        "policies"
    } else if file.ends_with(".cedarschema") {
        "schema"
    } else if file.ends_with(".entities.json") || file.ends_with("entities.json") {
        "entities"
    } else if file.ends_with(".jsonl") {
        "request"
    } else {
        "other"
    }
}

fn compare(expected: &Expected, actual: &Actual) -> Option<Mismatch> {
    let kind = if expected.decision != actual.decision {
        Kind::Decision
    } else if expected.reason != actual.determining {
        Kind::Reason
    } else if expected.errors != actual.errors {
        Kind::Errors
    } else {
        return None;
    };
    Some(Mismatch {
        kind,
        actual: Some(actual.clone()),
        output: String::new(),
    })
}

/// The full report of one mismatch.
fn describe(cases: &[Case], result: &RequestResult) -> String {
    let case = &cases[result.case];
    let Some(m) = &result.mismatch else {
        return String::new();
    };
    if result.validation {
        return describe_validation(case, result, m);
    }
    let expected = &case.requests[result.index];
    let mut s = String::new();
    let tag = if result.extension {
        ", test uses extension types"
    } else {
        ""
    };
    let _ = writeln!(s, "--- {} ({}{tag})", result.key, m.kind.label());
    let _ = writeln!(
        s,
        "request:  {}",
        expected
            .line
            .as_deref()
            .unwrap_or("(no principal or resource)")
    );
    let _ = writeln!(
        s,
        "expected: {} reason {:?} errors {:?}",
        expected.decision, expected.reason, expected.errors
    );
    match &m.actual {
        Some(a) => {
            let _ = writeln!(
                s,
                "actual:   {} reason {:?} errors {:?}",
                a.decision, a.determining, a.errors
            );
            for msg in &a.messages {
                let _ = writeln!(s, "          {msg}");
            }
        }
        None => {
            let _ = writeln!(s, "actual:   (no answer)");
        }
    }
    if !m.output.is_empty() {
        let _ = writeln!(s, "output:\n{}", indent(&m.output));
    }
    if let Some(line) = &expected.line {
        let _ = writeln!(
            s,
            "reproduce (from the repository root):\n  {}",
            case.command(line)
        );
    }
    s
}

/// The full report of a validation mismatch.
fn describe_validation(case: &Case, result: &RequestResult, m: &Mismatch) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "--- {} (expected {})", result.key, m.kind.label());
    let _ = writeln!(s, "output:\n{}", indent(&m.output));
    let path = |key: &str| {
        format!(
            "{}/{}",
            case.shell_root,
            case.relative.get(key).map_or("", |p| p.as_str())
        )
    };
    let _ = writeln!(
        s,
        "reproduce (from the repository root):\n  {}cargo run -q -- validate --policies {} --schema {}",
        case.shell_prefix,
        path("policies"),
        path("schema")
    );
    s
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Counts shared by both suites: unexpressible requests and the
/// validator's agreement with `shouldValidate` and `validateRequest`.
/// Returns the `shouldValidate` agreement (1.0 when there is nothing to agree on).
fn summarize_common(cases: &[Case], all: &[&RequestResult], report: &mut String) -> f64 {
    let unexpressible = all
        .iter()
        .filter(|r| {
            r.mismatch
                .as_ref()
                .is_some_and(|m| m.kind == Kind::Unexpressible)
        })
        .count();
    let _ = writeln!(
        report,
        "  requests without principal or resource: {unexpressible}"
    );
    let count = |pick: &dyn Fn(&Kind) -> Option<bool>, want: bool| {
        let of: Vec<&&RequestResult> = all
            .iter()
            .filter(|r| {
                r.validation && validation_kind(cases, r).and_then(|k| pick(&k)) == Some(want)
            })
            .collect();
        (of.iter().filter(|r| r.mismatch.is_none()).count(), of.len())
    };
    let should = |k: &Kind| match k {
        Kind::ShouldValidate(b) => Some(*b),
        _ => None,
    };
    let request = |k: &Kind| match k {
        Kind::ValidateRequest(b) => Some(*b),
        _ => None,
    };
    let (st, stn) = count(&should, true);
    let (sf, sfn) = count(&should, false);
    let (rt, rtn) = count(&request, true);
    let (rf, rfn) = count(&request, false);
    let agreement = if stn + sfn == 0 {
        1.0
    } else {
        (st + sf) as f64 / (stn + sfn) as f64
    };
    let _ = writeln!(
        report,
        "  validator, shouldValidate:  {}/{} agree ({:.2}%; target: at least 99%): true {st}/{stn}, false {sf}/{sfn}",
        st + sf,
        stn + sfn,
        100.0 * agreement
    );
    let _ = writeln!(
        report,
        "  validator, validateRequest: {}/{} agree: true {rt}/{rtn}, false {rf}/{rfn}",
        rt + rf,
        rtn + rfn
    );
    let _ = writeln!(
        report,
        "  validator, entity data: {} error(s) in the tests' entity files",
        ENTITY_FILES_INVALID.swap(0, Ordering::Relaxed)
    );
    let _ = writeln!(
        report,
        "  validator time: {:.1?} (summed over threads)",
        std::time::Duration::from_nanos(VALIDATION_NANOS.swap(0, Ordering::Relaxed))
    );
    agreement
}

/// The expectation a validation result was checked against.
fn validation_kind(cases: &[Case], r: &RequestResult) -> Option<Kind> {
    let case = &cases[r.case];
    if r.index == usize::MAX {
        case.should_validate.map(Kind::ShouldValidate)
    } else {
        case.requests
            .get(r.index)
            .and_then(|q| q.validate_request)
            .map(Kind::ValidateRequest)
    }
}

/// Compares the run with the known-failures list (entries under `prefix`),
/// prints the report and fails on any difference.
fn finish(prefix: &str, report: &str, cases: &[Case], all: &[&RequestResult]) {
    let known = read_known_failures();
    let ran: BTreeSet<&str> = all.iter().map(|r| r.key.as_str()).collect();
    let failing: BTreeMap<&str, &RequestResult> = all
        .iter()
        .filter(|r| r.mismatch.is_some())
        .map(|r| (r.key.as_str(), *r))
        .collect();
    let new: Vec<&str> = failing
        .keys()
        .filter(|k| !known.contains_key(**k))
        .copied()
        .collect();
    let fixed: Vec<&str> = known
        .keys()
        .filter(|k| {
            k.starts_with(prefix) && ran.contains(k.as_str()) && !failing.contains_key(k.as_str())
        })
        .map(String::as_str)
        .collect();
    let stale: Vec<&str> = if filtered() {
        Vec::new()
    } else {
        known
            .keys()
            .filter(|k| k.starts_with(prefix) && !ran.contains(k.as_str()))
            .map(String::as_str)
            .collect()
    };
    let mut out = report.to_string();
    let _ = writeln!(
        out,
        "  known failures: {} listed, {} still failing",
        known.keys().filter(|k| k.starts_with(prefix)).count(),
        failing.keys().filter(|k| known.contains_key(**k)).count()
    );
    // New mismatches first, then known ones, up to SHOWN_IN_FULL.
    let mut shown: Vec<&str> = new.clone();
    shown.extend(failing.keys().filter(|k| known.contains_key(**k)));
    shown.truncate(SHOWN_IN_FULL);
    if !shown.is_empty() {
        let _ = writeln!(out, "\nFirst {} mismatches:", shown.len());
        for key in &shown {
            let _ = writeln!(out, "{}", describe(cases, failing[key]));
        }
    }
    if let Some(dir) = std::env::var_os("MSPL_CONFORMANCE_REPORT") {
        let path = Path::new(&dir).join(format!("{}.txt", prefix.trim_end_matches('/')));
        let all_failing: String = failing
            .values()
            .map(|r| describe(cases, r) + "\n")
            .collect();
        std::fs::create_dir_all(&dir).expect("the report folder exists");
        std::fs::write(&path, all_failing).expect("the report is written");
        let _ = writeln!(out, "\nevery mismatch in full: {}", path.display());
    }
    if std::env::var("MSPL_CONFORMANCE_BLESS").is_ok_and(|v| v == "1") {
        bless(prefix, &failing, &ran);
        let _ = writeln!(out, "\nblessed: {KNOWN_FAILURES} rewritten");
        println!("{out}");
        return;
    }
    let new_lines: Vec<String> = new
        .iter()
        .map(|k| {
            format!(
                "{k}  {}",
                failing[k]
                    .mismatch
                    .as_ref()
                    .map(|m| m.kind.label())
                    .unwrap_or_default()
            )
        })
        .collect();
    let mut problems = String::new();
    list(
        &mut problems,
        &format!("new mismatches (not in {KNOWN_FAILURES})"),
        &new_lines,
    );
    list(
        &mut problems,
        &format!("requests now match: remove them from {KNOWN_FAILURES}"),
        &fixed,
    );
    list(
        &mut problems,
        &format!("entries of {KNOWN_FAILURES} name no request: remove them"),
        &stale,
    );
    if !problems.is_empty() {
        problems.push_str(
            "once every remaining mismatch is understood, rewrite the list with \
             `MSPL_CONFORMANCE_BLESS=1 cargo test --test cedar_conformance`\n",
        );
    }
    println!("{out}");
    assert!(problems.is_empty(), "{problems}");
}

/// Adds a titled list to `out` (at most 50 items shown), if not empty.
fn list(out: &mut String, title: &str, items: &[impl std::fmt::Display]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{} {title}:", items.len());
    for item in items.iter().take(50) {
        let _ = writeln!(out, "  {item}");
    }
    if items.len() > 50 {
        let _ = writeln!(out, "  … and {} more", items.len() - 50);
    }
}

/// The known-failures list: key to reason.
fn read_known_failures() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(KNOWN_FAILURES);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with(';'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((k, r)) => (k.to_string(), r.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// Rewrites the list: entries of the other suite and of tests not run are
/// kept; for this suite's tests that ran, the current mismatches.
fn bless(prefix: &str, failing: &BTreeMap<&str, &RequestResult>, ran: &BTreeSet<&str>) {
    // Both suites may bless at once: read, merge and write under one lock.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let known = &read_known_failures();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(KNOWN_FAILURES);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with("//") || l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let mut entries: BTreeMap<String, String> = known
        .iter()
        .filter(|(k, _)| !(k.starts_with(prefix) && ran.contains(k.as_str())))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, r) in failing {
        let reason = known.get(*k).cloned().unwrap_or_else(|| {
            r.mismatch
                .as_ref()
                .map(|m| m.summary(r.extension))
                .unwrap_or_default()
        });
        entries.insert(k.to_string(), reason);
    }
    let mut out = header;
    for (k, r) in entries {
        let _ = writeln!(out, "{k}  {r}");
    }
    std::fs::write(&path, out).expect("the known-failures list is written");
}
