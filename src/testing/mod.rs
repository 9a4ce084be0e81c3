//! `mspl test`: test files for policy authors, in the shape of Cedar's
//! integration tests so that Cedar users can bring theirs.
//!
//! A test file is JSON:
//!
//! ```json
//! {
//!   "policies": "..",                       // or a list; relative to the file
//!   "entities": "../examples/entities.json", // a path, or the entity array inline
//!   "schema": "x.cedarschema",               // optional
//!   "links": "links.json",                   // optional: template links, or a list
//!   "requests": [
//!     {"description": "user-01 views a page",
//!      "principal": {"type": "RamUser", "id": "user-01"}, "action": …, "resource": …,
//!      "context": {},
//!      "decision": "allow",
//!      "reason": ["rule-03-member-views-page"],   // optional: the determining ids
//!      "errors": [],                              // optional: the erroring ids
//!      "kind": "not_permitted",                   // optional
//!      "fix": "AliyunBailianFullAccess"}          // optional: a text every… some fix contains
//!   ]
//! }
//! ```
//!
//! Unknown keys of Cedar's format (`shouldValidate`, `validateRequest`) are
//! accepted and ignored. Beside `x.json`, `x.snap` may hold the expected text
//! output of every request; `--update` writes it.

pub mod coverage;

use crate::authorize::{authorize, ErrorMode, Options, Response};
use crate::diag::{Diagnostic, Sources};
use crate::entities::build::build_entities_for;
use crate::entities::json::request_from_json;
use crate::entities::Entities;
use crate::explain::{explain, render, Include};
use crate::files::{read_text, TextKind};
use crate::policy_set::{IdScheme, Loader, PolicySet};

mod shape;
use crate::limits::Limits;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One test file, loaded.
pub struct Suite {
    /// The test file.
    pub path: PathBuf,
    /// Its policies.
    pub set: PolicySet,
    /// Its entities.
    pub entities: Entities,
    /// Its cases, in order.
    pub cases: Vec<Case>,
}

/// One request with what is expected of it.
pub struct Case {
    /// Its description, or `request N`.
    pub name: String,
    /// Its position among the file's requests (from 0).
    pub index: usize,
    /// The request.
    pub request: crate::entities::json::Request,
    /// `allow` or `deny`.
    pub decision: String,
    /// The determining policies, when given.
    pub reason: Option<Vec<String>>,
    /// The erroring policies, when given.
    pub errors: Option<Vec<String>>,
    /// The deny kind, when given.
    pub kind: Option<String>,
    /// A text that some fix must contain, when given.
    pub fix: Option<String>,
}

/// What running a case gave.
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// The differences from what was expected, as `- expected` / `+ actual`
    /// line pairs (empty: it passed).
    pub differences: Vec<String>,
    /// The text output (as `mspl authorize` prints it, policies named by
    /// id and no position), for snapshots.
    pub text: String,
    /// What is worth a look but fails nothing: an entity of the request
    /// that the store lacks (an unknown user being denied is a legitimate
    /// test).
    pub warnings: Vec<String>,
}

/// Options of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Cedar's error semantics and policy naming.
    pub cedar: bool,
    /// The limits in force for loading and judging.
    pub limits: Limits,
}

/// What serves a test file that names none of its own (`mspl test
/// --policies`, `--schema`, `-k`).
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    /// Policies, when the file names no `policies`.
    pub policies: Vec<PathBuf>,
    /// Declaration files, when it names no `schema`.
    pub schemas: Vec<PathBuf>,
    /// Template links, when it names no `links`.
    pub links: Vec<PathBuf>,
}

/// Loads a test file, with `defaults` for what it does not name.
pub fn load(
    path: &Path,
    defaults: &Defaults,
    options: RunOptions,
) -> Result<Suite, Vec<Diagnostic>> {
    let (default_policies, default_links) = (&defaults.policies[..], &defaults.links[..]);
    let name = path.display().to_string();
    let text = read_text(path, options.limits.max_data_file_bytes, TextKind::Data)
        .map_err(|e| vec![Diagnostic::unreadable(&name, &e)])?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| vec![Diagnostic::plain(format!("{name}: invalid JSON: {e}"))])?;
    let malformed = shape::check(&json);
    if !malformed.is_empty() {
        return Err(malformed
            .into_iter()
            .map(|m| Diagnostic::plain(format!("{name}: {m}")))
            .collect());
    }
    // One rule, whatever the working directory and the mode: a relative
    // path is the test file's, found beside it or in the first folder above
    // it that has it (Cedar's suite names paths from its root); an absolute
    // one is itself. None found: beside the file, to say it is missing there.
    let base = path.parent().unwrap_or(Path::new("."));
    let absolute = crate::files::meta::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let cwd = std::env::current_dir()
        .and_then(|d| crate::files::meta::canonicalize(&d))
        .ok();
    let resolve = |p: &str| -> PathBuf {
        if Path::new(p).is_absolute() {
            return PathBuf::from(p);
        }
        let found = absolute
            .ancestors()
            .map(|dir| dir.join(p))
            .find(|candidate| candidate.exists());
        match found {
            // Shown as short as the working directory allows.
            Some(f) => match cwd.as_deref().and_then(|c| f.strip_prefix(c).ok()) {
                Some(short) => normalize(short),
                None => normalize(&f),
            },
            None => normalize(&base.join(p)),
        }
    };
    // A path or a list of paths.
    let paths = |key: &str| -> Option<Vec<PathBuf>> {
        match json.get(key)? {
            Value::String(p) => Some(vec![resolve(p)]),
            Value::Array(ps) => Some(ps.iter().filter_map(Value::as_str).map(resolve).collect()),
            _ => None,
        }
    };
    let policies = paths("policies").unwrap_or_else(|| default_policies.to_vec());
    if policies.is_empty() {
        return Err(vec![Diagnostic::plain(format!(
            "{name}: names no policies; give `policies` or --policies"
        ))]);
    }
    let mut loader = Loader::new(options.limits);
    for p in &policies {
        loader.add_path(p);
    }
    match json.get("schema") {
        Some(Value::String(s)) => loader.add_path(&resolve(s)),
        _ => {
            for s in &defaults.schemas {
                loader.add_path(s);
            }
        }
    }
    for k in &paths("links").unwrap_or_else(|| default_links.to_vec()) {
        loader.add_links_path(k);
    }
    let ids = IdScheme::cedar(options.cedar);
    let (set, diagnostics) = loader.finish(ids);
    if diagnostics
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        return Err(vec![Diagnostic::plain(format!(
            "{name}: its policies do not load"
        ))
        .with_notes(vec![set.sources.render(&diagnostics, false)])]);
    }
    let (entities_name, entities_text) = match json.get("entities") {
        Some(Value::String(p)) => {
            let p = resolve(p);
            let t =
                read_text(&p, options.limits.max_data_file_bytes, TextKind::Data).map_err(|e| {
                    let mut d = Diagnostic::unreadable(&p.display().to_string(), &e);
                    d.message = format!("{name}: {}", d.message);
                    vec![d]
                })?;
            (p.display().to_string(), t)
        }
        Some(inline @ Value::Array(_)) => (format!("{name} (entities)"), inline.to_string()),
        _ => ("<none>".to_string(), "[]".to_string()),
    };
    let entities = build_entities_for(
        &set.schema,
        [(entities_name.as_str(), entities_text.as_str())],
        &options.limits,
        if options.cedar {
            crate::entities::build::Cycles::Refused
        } else {
            crate::entities::build::Cycles::Allowed
        },
    )
    .map_err(|e| vec![Diagnostic::from(&e)])?;
    let requests = json
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            vec![Diagnostic::plain(format!(
                "{name}: has no `requests` array"
            ))]
        })?;
    // A test file that judges nothing passes nothing.
    if requests.is_empty() {
        return Err(vec![Diagnostic::plain(format!(
            "{name}: its `requests` array is empty: a test file with nothing to judge proves nothing"
        ))]);
    }
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        match case(r, i, &set) {
            Ok(c) => cases.push(c),
            Err(m) => problems.push(Diagnostic::plain(format!("{name}: request {}: {m}", i + 1))),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Suite {
        path: path.to_path_buf(),
        set,
        entities,
        cases,
    })
}

fn case(r: &Value, index: usize, set: &PolicySet) -> Result<Case, String> {
    let obj = r.as_object().ok_or("a request is a JSON object")?;
    let mut request_json = serde_json::Map::new();
    for key in ["principal", "action", "resource", "context"] {
        if let Some(v) = obj.get(key) {
            request_json.insert(key.to_string(), v.clone());
        }
    }
    let request = request_from_json(&Value::Object(request_json), &set.schema)?;
    let strings = |key: &str| -> Option<Vec<String>> {
        obj.get(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
    };
    let decision = obj
        .get("decision")
        .and_then(Value::as_str)
        .map(|d| d.to_ascii_lowercase())
        .ok_or("a request needs `decision`: `allow` or `deny`")?;
    if decision != "allow" && decision != "deny" {
        return Err(format!(
            "`decision` is `{decision}`; expected `allow` or `deny`"
        ));
    }
    Ok(Case {
        name: obj
            .get("description")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| format!("request {}", index + 1)),
        index,
        request,
        decision,
        reason: strings("reason"),
        errors: strings("errors"),
        kind: obj.get("kind").and_then(Value::as_str).map(String::from),
        fix: obj.get("fix").and_then(Value::as_str).map(String::from),
    })
}

/// `a/b/../c` -> `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Runs every case of `suite`, calling `observe` with each response (for coverage).
pub fn run(
    suite: &Suite,
    options: RunOptions,
    mut observe: impl FnMut(&Case, &Response),
) -> Vec<CaseResult> {
    let authorize_options = Options {
        errors: ErrorMode::cedar(options.cedar),
        limits: options.limits,
        plain: false,
        deadline: None,
    };
    suite
        .cases
        .iter()
        .map(|case| {
            let response = authorize(
                &suite.set,
                &suite.entities,
                &case.request,
                &authorize_options,
            );
            observe(case, &response);
            let explanation = explain(
                &suite.set,
                &suite.entities,
                &case.request,
                &response,
                &authorize_options.limits,
                Include::Relevant,
            );
            let mut differences = Vec::new();
            // A case about a name the declarations do not know tests
            // nothing (a misspelt action is denied by every policy set):
            // it fails, as Cedar's `validateRequest` would refuse it.
            let undeclared =
                crate::validate::data::undeclared_in_request(&suite.set.schema, &case.request);
            for (field, e) in &undeclared {
                let help = e.help().map(|h| format!("; {h}")).unwrap_or_default();
                differ(
                    &mut differences,
                    "request",
                    "names only declared types and actions",
                    &format!("$.requests[{}].{field}: {e}{help}", case.index),
                );
            }
            let warnings = [
                ("principal", &case.request.principal),
                ("resource", &case.request.resource),
            ]
            .into_iter()
            .filter(|(field, u)| {
                !suite.entities.contains(u) && !undeclared.iter().any(|(f, _)| f == field)
            })
            .map(|(_, u)| u)
            .map(|u| format!("{u} is not an entity of the store"))
            .collect();
            let decision = format!("{:?}", response.decision).to_ascii_lowercase();
            if decision != case.decision {
                differ(&mut differences, "decision", &case.decision, &decision);
            }
            let ids = |v: &[smol_str::SmolStr]| {
                let mut s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                s.sort();
                s
            };
            if let Some(expected) = &case.reason {
                let mut expected = expected.clone();
                expected.sort();
                let actual = ids(&response.determining);
                if expected != actual {
                    differ(
                        &mut differences,
                        "reason",
                        &format!("{expected:?}"),
                        &format!("{actual:?}"),
                    );
                }
            }
            if let Some(expected) = &case.errors {
                let mut expected = expected.clone();
                expected.sort();
                let errs: Vec<smol_str::SmolStr> =
                    response.errors.iter().map(|e| e.policy.clone()).collect();
                let actual = ids(&errs);
                if expected != actual {
                    differ(
                        &mut differences,
                        "errors",
                        &format!("{expected:?}"),
                        &format!("{actual:?}"),
                    );
                }
            }
            if let Some(kind) = &case.kind {
                let actual = response
                    .kind
                    .map(|k| {
                        serde_json::to_value(k)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    })
                    .unwrap_or_else(|| "null".into());
                if *kind != actual {
                    differ(&mut differences, "kind", kind, &actual);
                }
            }
            if let Some(fix) = &case.fix {
                if !explanation.fixes.iter().any(|f| f.contains(fix.as_str())) {
                    differ(
                        &mut differences,
                        "fix",
                        &format!("… {fix} …"),
                        &format!("{:?}", explanation.fixes),
                    );
                }
            }
            CaseResult {
                name: case.name.clone(),
                differences,
                text: render::response_by_id(&suite.set, &response, Some(&explanation)),
                warnings,
            }
        })
        .collect()
}

/// Records a difference as a two-line diff: `- expected`, `+ actual`.
fn differ(out: &mut Vec<String>, field: &str, expected: &str, actual: &str) {
    out.push(format!("- {field}: {expected}"));
    out.push(format!("+ {field}: {actual}"));
}

/// The snapshot file of a test file: `x.json` -> `x.snap`.
pub fn snapshot_path(test: &Path) -> PathBuf {
    test.with_extension("snap")
}

/// The snapshot key of each case: its name, numbered from the second
/// case of the same name on (`name #2`), so that every case has its own.
pub fn snapshot_keys(results: &[CaseResult]) -> Vec<String> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    results
        .iter()
        .map(|r| {
            let n = seen.entry(r.name.as_str()).or_insert(0);
            *n += 1;
            // A key is one line: a newline in a description would cut it.
            let name = r.name.replace(['\n', '\r'], " ");
            if *n == 1 {
                name
            } else {
                format!("{name} #{n}")
            }
        })
        .collect()
}

/// The snapshot text of a run: every case's key and text output, in order.
pub fn snapshot_text(results: &[CaseResult]) -> String {
    let mut out = String::new();
    for (key, r) in snapshot_keys(results).iter().zip(results) {
        out.push_str("=== ");
        out.push_str(key);
        out.push('\n');
        out.push_str(&r.text);
    }
    out
}

/// A snapshot's text per case key, in order.
fn snapshot_cases(text: &str) -> Vec<(String, String)> {
    let mut cases: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("=== ") {
            Some(key) => cases.push((
                key.trim_end_matches(['\n', '\r']).to_string(),
                String::new(),
            )),
            None => match cases.last_mut() {
                Some((_, body)) => body.push_str(line),
                // Text before the first case: kept under no key, so that it
                // shows as a difference rather than vanish.
                None => cases.push((String::new(), line.to_string())),
            },
        }
    }
    cases
}

/// How a run's output differs from its snapshot, case by case: each
/// difference names its case (`case `x` differs`, `case `x` is new`,
/// `case `x` is gone`) with a line diff of its text. Empty: it matches.
pub fn snapshot_differences(expected: &str, results: &[CaseResult]) -> Vec<(String, Vec<String>)> {
    let old = snapshot_cases(expected);
    let keys = snapshot_keys(results);
    let mut out = Vec::new();
    for (key, r) in keys.iter().zip(results) {
        match old.iter().find(|(k, _)| k == key) {
            Some((_, text)) if *text == r.text => {}
            Some((_, text)) => out.push((format!("case `{key}` differs"), diff(text, &r.text))),
            None => out.push((
                format!("case `{key}` is not in the snapshot"),
                diff("", &r.text),
            )),
        }
    }
    for (key, text) in &old {
        if !keys.contains(key) {
            out.push((
                format!("case `{key}` is in the snapshot but not in the file"),
                diff(text, ""),
            ));
        }
    }
    out
}

/// The most cells of the longest-common-subsequence table of a diff:
/// past it the changed middle is shown whole (`-` all, then `+` all).
const MAX_DIFF_CELLS: usize = 4 << 20;

/// A line diff of two texts: the lines only in `old` with `-`, only in
/// `new` with `+`. Lines common to both ends are set aside first; the
/// middle is matched line by line within [`MAX_DIFF_CELLS`].
pub fn diff(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    if (a.len() + 1).saturating_mul(b.len() + 1) > MAX_DIFF_CELLS {
        return a
            .iter()
            .map(|l| format!("- {l}"))
            .chain(b.iter().map(|l| format!("+ {l}")))
            .collect();
    }
    // Longest common subsequence, then walk it.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out
}

/// Renders problems found while loading.
pub fn render_problems(problems: &[Diagnostic]) -> String {
    Sources::new().render(problems, false)
}
