//! Cedar's JSON formats against Cedar itself, on every test of Cedar's
//! integration suite (`../shared/cedar-integration-tests`: the hand-written
//! tests and the fuzzer corpus, unpacked to a temporary folder):
//!
//! - schemas: Cedar's own JSON rendering of each `.cedarschema`
//!   (`SchemaFragment::to_json_string`) read by mspl declares exactly what
//!   the text does and validates the test's policies with the same
//!   problems; `mspl schema translate --to json` of the text is accepted by
//!   Cedar and reads back to the same declarations, and `--to cedar` of
//!   Cedar's JSON too;
//! - policies: Cedar's own JSON rendering of each policy set
//!   (`PolicySet::to_json`) read by mspl decides every request exactly as
//!   the text does (decision, determining and erroring ids);
//!   `mspl translate --to json --cedar` of the text is accepted by Cedar's
//!   `PolicySet::from_json_value` and Cedar decides alike on it.
//!
//! `MSPL_CEDAR_JSON_FILTER=<substring>` runs only the tests whose name
//! contains it; `MSPL_CEDAR_JSON_REPORT=<file>` writes every disagreement
//! there. Without the shared data the test says so and passes; with
//! `CI=true` the data must be there.

use crate::shared_data;

use cedar_policy::{
    Authorizer, Context, Entities, EntityUid, PolicySet, Request, Schema, SchemaFragment,
};
use mspl::__internal::authorize::{ErrorMode, Options, PreparedSet};
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet as MsplSet, SourceFormat};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

fn shared() -> Option<PathBuf> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    shared_data::cedar_suite(&checkout, "the JSON-format comparison")
}

/// One test of the suite: its files and requests.
struct Case {
    name: String,
    policies: String,
    schema: Option<String>,
    entities: Value,
    requests: Vec<Value>,
}

fn cases(root: &Path, corpus: &Path) -> Vec<Case> {
    let mut files = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".entities.json")
            {
                out.push(p);
            }
        }
    }
    walk(&root.join("tests"), &mut files);
    walk(&corpus.join("corpus-tests"), &mut files);
    files.sort();
    let filter = std::env::var("MSPL_CEDAR_JSON_FILTER").ok();
    files
        .into_iter()
        .filter(|f| {
            filter
                .as_ref()
                .is_none_or(|s| f.to_string_lossy().contains(s.as_str()))
        })
        .filter_map(|f| {
            let json: Value = serde_json::from_str(&std::fs::read_to_string(&f).ok()?).ok()?;
            let base = if f.starts_with(corpus) { corpus } else { root };
            let read =
                |key: &str| std::fs::read_to_string(base.join(json.get(key)?.as_str()?)).ok();
            Some(Case {
                name: f.strip_prefix(base).unwrap_or(&f).display().to_string(),
                policies: read("policies")?,
                schema: read("schema"),
                entities: serde_json::from_str(&read("entities")?).ok()?,
                requests: json.get("requests")?.as_array()?.clone(),
            })
        })
        .collect()
}

/// An mspl set of `sources` (name, text, format), or the rendered problems.
fn load(sources: &[(&str, &str, SourceFormat)]) -> Result<MsplSet, String> {
    let mut loader = Loader::new(mspl::__internal::Limits::default());
    for (name, text, format) in sources {
        loader.add_source_as(name.to_string(), text.to_string(), *format);
    }
    let (set, diagnostics) = loader.finish(IdScheme::Cedar);
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == mspl::__internal::diag::Severity::Error)
        .cloned()
        .collect();
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(set.sources.render(&errors, false))
    }
}

/// The validation problems of `set` that concern the policies: message and
/// place in the policy file (places in the schema differ by format).
fn problems(set: &MsplSet) -> BTreeSet<String> {
    mspl::__internal::validate::validate_policies(set)
        .iter()
        .map(|p| {
            let name = set.sources.name(p.span.file);
            let at = if name.ends_with(".cedar") {
                format!("{}..{}", p.span.start, p.span.end)
            } else {
                "schema".into()
            };
            format!("{} @ {at}", p.error)
        })
        .collect()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = mspl_cli::cli::execute(std::iter::once("mspl").chain(args.iter().copied()));
    (out.code, out.stdout, out.stderr)
}

/// What an engine said: decision, determining ids, erroring ids.
type Said = (bool, BTreeSet<String>, BTreeSet<String>);

fn mspl_said(
    prepared: &PreparedSet,
    entities: &mspl::__internal::entities::Entities,
    request: &Value,
) -> Option<Said> {
    let set = prepared.set();
    let mut only = serde_json::Map::new();
    for key in ["principal", "action", "resource", "context"] {
        only.insert(key.into(), request.get(key)?.clone());
    }
    let r = mspl::__internal::entities::json::request_from_json(&Value::Object(only), &set.schema)
        .ok()?;
    let resp = prepared.authorize(entities, &r);
    Some((
        resp.decision == mspl::__internal::Decision::Allow,
        resp.determining.iter().map(|s| s.to_string()).collect(),
        resp.errors.iter().map(|e| e.policy.to_string()).collect(),
    ))
}

fn cedar_said(set: &PolicySet, entities: &Entities, request: &Value) -> Option<Said> {
    let uid = |v: &Value| -> Option<EntityUid> {
        let ty = v.get("type")?.as_str()?;
        let id = v.get("id")?.as_str()?;
        EntityUid::from_str(&format!("{ty}::{}", Value::String(id.into()))).ok()
    };
    let context = Context::from_json_value(
        request
            .get("context")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
        None,
    )
    .ok()?;
    let r = Request::new(
        uid(request.get("principal")?)?,
        uid(request.get("action")?)?,
        uid(request.get("resource")?)?,
        context,
        None,
    )
    .ok()?;
    let a = Authorizer::new().is_authorized(&r, set, entities);
    Some((
        a.decision() == cedar_policy::Decision::Allow,
        a.diagnostics().reason().map(|p| p.to_string()).collect(),
        a.diagnostics()
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(p) => {
                    p.policy_id().to_string()
                }
            })
            .collect(),
    ))
}

/// Every disagreement of one test, described.
fn check(case: &Case, counts: &mut Counts) -> Vec<String> {
    let mut out = Vec::new();
    let name = &case.name;
    // ---- schemas
    let mut schema_sources: Vec<(&str, String, SourceFormat)> = Vec::new();
    if let Some(text) = &case.schema {
        let Ok((fragment, _)) = SchemaFragment::from_cedarschema_str(text) else {
            return out; // Cedar refuses the schema: nothing to compare.
        };
        let Ok(cedar_json) = fragment.to_json_string() else {
            return out;
        };
        let policies = ("policies.cedar", case.policies.as_str(), SourceFormat::Text);
        let by_text = load(&[policies, ("schema.cedarschema", text, SourceFormat::Text)]);
        let by_json = load(&[
            policies,
            (
                "schema.cedarschema.json",
                &cedar_json,
                SourceFormat::SchemaJson,
            ),
        ]);
        match (&by_text, &by_json) {
            (Ok(t), Ok(j)) => {
                counts.schemas += 1;
                if t.schema != j.schema {
                    out.push(format!("{name}: Cedar's JSON schema declares otherwise than the text\n{cedar_json}"));
                }
                let (pt, pj) = (problems(t), problems(j));
                if pt != pj {
                    out.push(format!(
                        "{name}: validation differs by schema format\ntext: {pt:?}\njson: {pj:?}"
                    ));
                }
            }
            (Err(_), Err(_)) => {}
            (a, b) => out.push(format!(
                "{name}: one schema format loads, the other does not\ntext: {:?}\njson: {:?}",
                a.as_ref().err(),
                b.as_ref().err()
            )),
        }
        // Round trips through mspl's translations.
        let dir = std::env::temp_dir().join(format!("mspl-cedar-json-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{}.cedarschema", name.replace('/', "_")));
        let _ = std::fs::write(&file, text);
        let (code, json_out, err) = run(&[
            "schema",
            "translate",
            "--to",
            "json",
            file.to_str().unwrap_or(""),
        ]);
        if let Ok(t) = &by_text {
            if code != 0 {
                out.push(format!(
                    "{name}: mspl schema translate --to json failed: {err}"
                ));
            } else {
                if SchemaFragment::from_json_str(&json_out).is_err() {
                    out.push(format!(
                        "{name}: Cedar refuses mspl's JSON schema\n{json_out}"
                    ));
                }
                match load(&[("back.cedarschema.json", &json_out, SourceFormat::SchemaJson)]) {
                    Ok(back) if back.schema == t.schema => counts.round_trips += 1,
                    Ok(_) => out.push(format!(
                        "{name}: mspl's JSON schema declares otherwise\n{json_out}"
                    )),
                    Err(e) => out.push(format!("{name}: mspl's JSON schema does not load: {e}")),
                }
            }
            let jfile = dir.join(format!("{}.cedarschema.json", name.replace('/', "_")));
            let _ = std::fs::write(&jfile, &cedar_json);
            let (code, text_out, err) = run(&[
                "schema",
                "translate",
                "--to",
                "cedar",
                jfile.to_str().unwrap_or(""),
            ]);
            if code != 0 {
                out.push(format!(
                    "{name}: mspl schema translate --to cedar failed: {err}"
                ));
            } else {
                match load(&[("back.cedarschema", &text_out, SourceFormat::Text)]) {
                    Ok(back) if back.schema == t.schema => {}
                    Ok(_) => out.push(format!(
                        "{name}: the text of Cedar's JSON declares otherwise\n{text_out}"
                    )),
                    Err(e) => out.push(format!(
                        "{name}: the text of Cedar's JSON does not load: {e}\n{text_out}"
                    )),
                }
            }
            let _ = std::fs::remove_file(&jfile);
        }
        let _ = std::fs::remove_file(&file);
        schema_sources.push(("schema.cedarschema", text.clone(), SourceFormat::Text));
    }
    // ---- policies
    let Ok(cedar_set) = PolicySet::from_str(&case.policies) else {
        return out;
    };
    let Ok(cedar_json) = cedar_set.clone().to_json() else {
        return out;
    };
    let cedar_json_text = cedar_json.to_string();
    let with_schema = |p: (&'static str, &str, SourceFormat)| {
        let mut v = vec![p];
        v.extend(schema_sources.iter().map(|(n, t, f)| (*n, t.as_str(), *f)));
        load(&v)
    };
    let (Ok(by_text), by_json) = (
        with_schema(("policies.cedar", &case.policies, SourceFormat::Text)),
        with_schema((
            "policies.cedar.json",
            &cedar_json_text,
            SourceFormat::PoliciesJson,
        )),
    ) else {
        return out; // mspl refuses the text (a known conformance gap): nothing to compare.
    };
    let by_json = match by_json {
        Ok(s) => s,
        Err(e) => {
            out.push(format!(
                "{name}: Cedar's JSON policies do not load: {e}\n{cedar_json_text}"
            ));
            return out;
        }
    };
    let entities_text = case.entities.to_string();
    let limits = mspl::__internal::Limits::default();
    let Ok(store) = mspl::__internal::entities::build::build_entities_with(
        &by_text.schema,
        [("entities.json", entities_text.as_str())],
        &limits,
    ) else {
        return out;
    };
    let cedar_schema = case
        .schema
        .as_deref()
        .and_then(|s| Schema::from_cedarschema_str(s).ok().map(|(s, _)| s));
    let cedar_entities = Entities::from_json_value(case.entities.clone(), cedar_schema.as_ref())
        .ok()
        .or_else(|| Entities::from_json_value(case.entities.clone(), None).ok());
    // mspl's own JSON, read by Cedar.
    let dir = std::env::temp_dir().join(format!("mspl-cedar-json-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let pfile = dir.join(format!("{}.cedar", name.replace('/', "_")));
    let _ = std::fs::write(&pfile, &case.policies);
    let (code, mspl_json, err) = run(&[
        "translate",
        "--to",
        "json",
        "--cedar",
        pfile.to_str().unwrap_or(""),
    ]);
    let _ = std::fs::remove_file(&pfile);
    let from_mspl = if code != 0 {
        out.push(format!("{name}: mspl translate --to json failed: {err}"));
        None
    } else {
        match serde_json::from_str::<Value>(&mspl_json)
            .ok()
            .and_then(|v| PolicySet::from_json_value(v).ok())
        {
            Some(s) => Some(s),
            None => {
                out.push(format!(
                    "{name}: Cedar refuses mspl's JSON policies\n{mspl_json}"
                ));
                None
            }
        }
    };
    let cedar = Options {
        errors: ErrorMode::Cedar,
        ..Options::default()
    };
    let (by_text, by_json) = (
        PreparedSet::new(by_text, cedar),
        PreparedSet::new(by_json, cedar),
    );
    for (i, request) in case.requests.iter().enumerate() {
        let (Some(t), Some(j)) = (
            mspl_said(&by_text, &store, request),
            mspl_said(&by_json, &store, request),
        ) else {
            continue;
        };
        counts.requests += 1;
        if t != j {
            out.push(format!(
                "{name}#{i}: mspl decides Cedar's JSON otherwise than the text: {t:?} vs {j:?}"
            ));
        }
        if let (Some(m), Some(entities)) = (&from_mspl, &cedar_entities) {
            let a = cedar_said(&cedar_set, entities, request);
            let b = cedar_said(m, entities, request);
            if a != b {
                out.push(format!(
                    "{name}#{i}: Cedar decides mspl's JSON otherwise than the text: {a:?} vs {b:?}"
                ));
            } else if a.is_some() {
                counts.cedar_requests += 1;
            }
        }
    }
    out
}

#[derive(Default, Debug)]
struct Counts {
    schemas: usize,
    round_trips: usize,
    requests: usize,
    cedar_requests: usize,
}

#[test]
fn cedar_json_formats_agree_with_cedar() {
    let Some(root) = shared() else { return };
    let corpus = tempfile_dir();
    let archive =
        std::fs::File::open(root.join("corpus-tests.tar.gz")).expect("the corpus archive");
    tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(
        archive,
    )))
    .unpack(&corpus)
    .expect("unpacks");
    let all = cases(&root, &corpus);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let chunk = all.len().div_ceil(threads).max(1);
    let (failures, counts) = std::thread::scope(|s| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut counts = Counts::default();
                    let failures: Vec<String> =
                        part.iter().flat_map(|c| check(c, &mut counts)).collect();
                    (failures, counts)
                })
            })
            .collect();
        let mut failures = Vec::new();
        let mut total = Counts::default();
        for h in handles {
            let (f, c) = h.join().expect("a worker");
            failures.extend(f);
            total.schemas += c.schemas;
            total.round_trips += c.round_trips;
            total.requests += c.requests;
            total.cedar_requests += c.cedar_requests;
        }
        (failures, total)
    });
    let _ = std::fs::remove_dir_all(&corpus);
    eprintln!("{} tests: {counts:?}", all.len());
    if let Some(path) = std::env::var_os("MSPL_CEDAR_JSON_REPORT") {
        let _ = std::fs::write(path, failures.join("\n\n"));
    }
    for f in failures.iter().take(10) {
        eprintln!("{f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements (first 10 above)",
        failures.len()
    );
    if std::env::var_os("MSPL_CEDAR_JSON_FILTER").is_none() {
        assert!(
            counts.schemas > 1000 && counts.requests > 10_000,
            "the suite was read: {counts:?}"
        );
    }
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mspl-cedar-json-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}
