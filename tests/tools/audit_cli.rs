//! `mspl audit` from the command line, tested from files:
//!
//! - `tests/cases/audit/findings/NAME.json`: small Model Studio stores, each
//!   made to trigger the finding NAME (`clean.json` and `clean-store.json`,
//!   the examples' accounts with only their clean principals, none); beside each, the
//!   findings as JSON lines (`NAME.findings.jsonl`). `MSPL_UPDATE_AUDIT=1`
//!   rewrites them (review the diff);
//! - the shipped examples' own audit (`tests/cases/audit/examples.*`);
//! - the HTML report's counts against the JSON matrix;
//! - every command of `docs/audit.md`, with the output shown there.

use crate::doc_examples;
use crate::skip;

use std::path::Path;

const POLICIES: &str = "policies/model_studio";
const EXAMPLES: &str = "policies/model_studio/examples/entities.json";

/// Runs mspl in-process: (exit code, stdout, stderr).
fn mspl(args: &[&str]) -> (i32, String, String) {
    let out = mspl_cli::cli::execute(std::iter::once("mspl").chain(args.iter().copied()));
    (out.code, out.stdout, out.stderr)
}

/// Runs `mspl audit VERB` on the shipped policies and examples, with `more`.
fn on_examples(verb: &str, more: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "audit",
        verb,
        "--policies",
        POLICIES,
        "--entities",
        EXAMPLES,
    ];
    args.extend_from_slice(more);
    mspl(&args)
}

/// Compares `actual` with the file at `path`, or writes it there with
/// `MSPL_UPDATE_AUDIT=1`.
fn expect_file(path: &Path, actual: &str) {
    if std::env::var_os("MSPL_UPDATE_AUDIT").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run with MSPL_UPDATE_AUDIT=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "{} differs", path.display());
}

/// The finding ids of `policies/model_studio/audit.mspl`.
fn model_studio_ids() -> Vec<String> {
    let text = std::fs::read_to_string("policies/model_studio/audit.mspl").unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("@finding(\""))
        .map(|l| l.trim_end_matches("\")").to_string())
        .collect()
}

#[test]
fn each_finding_is_triggered_by_its_store_and_absent_from_the_clean_one() {
    let ids = model_studio_ids();
    assert!(ids.len() >= 11, "{ids:?}");
    let mut stores = 0;
    for entry in std::fs::read_dir("tests/cases/audit/findings").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        stores += 1;
        let (code, stdout, stderr) = mspl(&[
            "audit",
            "findings",
            "--policies",
            POLICIES,
            "--entities",
            path.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{name}: {stderr}");
        expect_file(
            &path.with_file_name(format!("{stem}.findings.jsonl")),
            &stdout,
        );
        let found: Vec<String> = stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                for key in [
                    "severity", "finding", "entity", "grant", "message", "reason", "fix",
                ] {
                    assert!(v.get(key).is_some(), "{name}: {key} missing in {l}");
                }
                v["finding"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(
            !found.iter().any(|f| f == "finding-error"),
            "{name}: {stdout}"
        );
        if stem == "clean" || stem == "clean-store" {
            let model_studio: Vec<&String> = found.iter().filter(|f| ids.contains(f)).collect();
            assert!(
                model_studio.is_empty(),
                "the clean store has {model_studio:?}"
            );
        } else {
            assert!(ids.iter().any(|i| i == stem), "{name} names no finding");
            assert!(
                found.iter().any(|f| f == stem),
                "{name} does not trigger {stem}: {stdout}"
            );
        }
    }
    assert_eq!(
        stores,
        ids.len() + 2,
        "a store per finding and two clean ones"
    );
}

#[test]
fn fail_on_gates_on_severity() {
    let run = |store: &str, severity: &str| {
        let path = format!("tests/cases/audit/findings/{store}.json");
        mspl(&[
            "audit",
            "findings",
            "--policies",
            POLICIES,
            "--entities",
            &path,
            "--fail-on",
            severity,
        ])
        .0
    };
    assert_eq!(run("administrator-access", "security_warning"), 2);
    assert_eq!(run("administrator-access", "error"), 0);
    assert_eq!(run("no-access", "security_warning"), 0);
    assert_eq!(run("no-access", "suggestion"), 2);
    // Findings about the policy set (a platform rule nobody in this store
    // uses yet) are no fault of the store: a clean store passes the
    // strictest gate, and `--policy-set` adds them as suggestions.
    assert_eq!(run("clean-store", "suggestion"), 0);
    let (code, stdout, _) = mspl(&[
        "audit",
        "findings",
        "--policy-set",
        "--policies",
        POLICIES,
        "--entities",
        "tests/cases/audit/findings/clean-store.json",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let generic: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!generic.is_empty(), "{stdout}");
    assert!(
        generic
            .iter()
            .all(|f| f["severity"] == "suggestion" && f["entity"].is_null()),
        "{stdout}"
    );
    let (code, _, stderr) = mspl(&[
        "audit",
        "findings",
        "--policies",
        POLICIES,
        "--finding",
        "administrator-acess",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("did you mean `administrator-access`?"),
        "{stderr}"
    );
}

#[test]
fn the_examples_own_audit() {
    let (code, stdout, stderr) = on_examples("findings", &[]);
    assert_eq!(code, 0, "{stderr}");
    expect_file(
        Path::new("tests/cases/audit/examples.findings.txt"),
        &stdout,
    );
    let (code, stdout, stderr) = on_examples("matrix", &["--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    expect_file(
        Path::new("tests/cases/audit/examples.matrix.jsonl"),
        &stdout,
    );
    let (code, stdout, _) = on_examples(
        "unused",
        &[
            "--requests",
            "policies/model_studio/examples/requests.jsonl",
        ],
    );
    assert_eq!(code, 0);
    expect_file(Path::new("tests/cases/audit/examples.unused.txt"), &stdout);
}

/// Writes the examples' HTML matrix into `dir`; returns its path.
fn examples_page(dir: &Path) -> std::path::PathBuf {
    let page = dir.join("matrix.html");
    let (code, _, stderr) = on_examples(
        "matrix",
        &["--format", "html", "--out", page.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    page
}

#[test]
fn the_html_report_counts_what_the_json_matrix_lists() {
    let dir = tempfile::tempdir().unwrap();
    let page = examples_page(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    let (_, json, _) = on_examples("matrix", &["--format", "json"]);
    let cells: std::collections::BTreeSet<(String, String, String)> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["decision"] == "allow")
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("principal"), s("action"), s("resource"))
        })
        .collect();
    assert!(cells.len() > 100, "{}", cells.len());
    assert!(html.contains(&format!(
        "<meta name=\"mspl-allowed-cells\" content=\"{}\">",
        cells.len()
    )));
    // The data the grids are drawn from: every principal of the examples
    // is in one account, so an allowed cell each.
    let start = html
        .find("<script type=\"application/json\" id=\"matrix-data\">")
        .unwrap();
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..text.find("</script>").unwrap()];
    let data: serde_json::Value = serde_json::from_str(&text.replace("<\\/", "</")).unwrap();
    let styles = data["styles"].as_array().unwrap();
    let mut drawn = 0;
    for section in data["sections"].as_array().unwrap() {
        let sets = section["sets"].as_array().unwrap();
        for grants in section["grants"].as_array().unwrap() {
            let pairs = grants.as_array().unwrap();
            for pair in pairs.chunks(2) {
                let style = &styles[pair[0].as_u64().unwrap() as usize];
                let set = sets[pair[1].as_u64().unwrap() as usize].as_array().unwrap();
                if style[0].as_u64().unwrap() < 2 {
                    drawn += set.len();
                }
            }
        }
    }
    assert_eq!(drawn, cells.len());
    // The summary opens the page: one row a section.
    assert!(html.find("<table class=\"summary\">").unwrap() < start);
    let sections: usize = html
        .match_indices("<section data-cells=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(sections, cells.len());
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page loads nothing"
    );
    assert!(!html.contains("<script src"), "no external script");
    // Refused without --out, and csv has a row per line plus the header.
    assert_eq!(
        mspl(&[
            "audit",
            "matrix",
            "--policies",
            POLICIES,
            "--format",
            "html"
        ])
        .0,
        1
    );
    let (_, csv, _) = on_examples("matrix", &["--format", "csv"]);
    assert_eq!(csv.lines().count(), json.lines().count() + 1);
    assert!(csv.starts_with("principal,action,resource,context,determining\n"));
}

#[test]
fn bad_input_and_cut_answers_say_so() {
    let (code, _, stderr) = on_examples(
        "who-can",
        &["--action", "model.cal", "--resource", "Model::\"qwen-max\""],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("did you mean `Action::\"model.call\"`?"),
        "{stderr}"
    );
    let (code, _, stderr) = on_examples(
        "who-can",
        &["--action", "model.call", "--resource", "Model::\"gpt\""],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("resource `Model::\"gpt\"`"), "{stderr}");
    let (code, stdout, stderr) = on_examples("matrix", &["--max-results", "3", "--format", "json"]);
    assert_eq!(code, 4);
    assert_eq!(stdout.lines().count(), 3);
    assert!(stderr.contains("incomplete"), "{stderr}");
    let (code, _, stderr) = on_examples("matrix", &["--principal-type", "RamUsr"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("did you mean `RamUser`?"), "{stderr}");
    // A context attribute that cannot be enumerated must be given.
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.mspl");
    std::fs::write(
        &schema,
        "entity User; entity Doc;\naction read appliesTo { principal: [User], resource: [Doc], context: { reason: String } };\npermit(principal, action, resource) when { context.reason == \"audit\" };\n",
    )
    .unwrap();
    let (code, _, stderr) = mspl(&["audit", "matrix", "--policies", schema.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`reason` (String)") && stderr.contains("--context"),
        "{stderr}"
    );
    let (code, _, stderr) = mspl(&[
        "audit",
        "matrix",
        "--policies",
        schema.to_str().unwrap(),
        "--context",
        "{\"reason\": \"audit\"}",
    ]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn every_example_of_docs_audit_runs_and_prints_what_it_shows() {
    let ran = doc_examples::check("docs/audit.md", "mspl audit ", mspl);
    assert!(ran >= 5, "only {ran} commands in docs/audit.md");
}

/// Headless Chromium, when this machine has it (CI installs it).
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn the_html_report_runs_its_script_and_filters_in_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have chromium (.ci/run installs it)"
        );
        skip::skip(
            "the HTML report in Chromium",
            "no chromium on this machine (apt-get install chromium)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = examples_page(dir.path());
    // The hash filters principals on load; the DOM after the script ran
    // shows which rows it hid.
    let url = format!("file://{}#p=user-01", page.display());
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            "--dump-dom",
            &url,
        ])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the script did not run:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The filter opened the section that holds the principal and drew its
    // grid with that principal's rows only, and the counts say so.
    // (The page's own script text, which writes rows too, is not the DOM.)
    let dom = &dom[..dom.find("<script").unwrap_or(dom.len())];
    let rows: Vec<&str> = dom.split("<tr data-principal=").skip(1).collect();
    assert!(!rows.is_empty(), "no grid drawn:\n{dom}");
    for row in rows {
        let head = &row[..row.find('>').unwrap()];
        assert!(head.contains("user-01"), "{head}");
    }
    assert!(dom.contains("<td class=\"allow"), "no allowed cell drawn");
    assert!(
        dom.contains(" allowed cells (of "),
        "the counts do not say what the filter left"
    );
}

/// `--max-steps 18446744073709551615` (u64::MAX) takes the audit's
/// exactness guard to the end of its arithmetic: the matrix must still be
/// exactly what the authorizer allows over the domain under the same
/// limit (the guard once overflowed there).
#[test]
fn the_largest_step_limit_audits_as_the_authorizer_decides() {
    use mspl::__internal::authorize::{Decision, Options, PreparedSet};
    use mspl::__internal::entities::build::build_entities;
    use mspl::__internal::entities::json::Request;
    use mspl::__internal::policy_set::{IdScheme, Loader};
    use mspl::__internal::Limits;
    let max = u64::MAX.to_string();
    let (code, out, err) = on_examples("matrix", &["--format", "json", "--max-steps", &max]);
    assert_eq!(code, 0, "{err}");
    let mut listed: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            format!("{} {} {}", v["principal"], v["action"], v["resource"])
        })
        .collect();
    listed.sort();

    let limits = Limits {
        max_steps: u64::MAX,
        ..Limits::default()
    };
    let mut loader = Loader::new(limits);
    loader.add_path(Path::new(POLICIES));
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty());
    let text = std::fs::read_to_string(EXAMPLES).expect("the examples");
    let entities =
        build_entities(&set.schema, [("entities.json", text.as_str())]).expect("a store");
    let options = Options {
        limits,
        ..Options::default()
    };
    let prepared = PreparedSet::new(set, options);
    let auditor = mspl_cli::audit::Auditor::new(&prepared, &entities, None).expect("a domain");
    let d = &auditor.domain;
    let mut allowed = Vec::new();
    for a in &d.actions {
        for &p in &a.principals {
            for &r in &a.resources {
                for &c in &a.contexts {
                    let request = Request {
                        principal: entities.node_uid(p).clone(),
                        action: a.action.clone(),
                        resource: entities.node_uid(r).clone(),
                        context: d.contexts[c as usize].clone(),
                    };
                    if prepared.authorize(&entities, &request).decision == Decision::Allow {
                        let quoted = |u: &mspl::__internal::syntax::ast::EntityUid| {
                            serde_json::Value::String(u.to_string())
                        };
                        allowed.push(format!(
                            "{} {} {}",
                            quoted(&request.principal),
                            quoted(&request.action),
                            quoted(&request.resource)
                        ));
                    }
                }
            }
        }
    }
    allowed.sort();
    assert!(allowed.len() > 100, "{} allowed", allowed.len());
    assert_eq!(listed, allowed);
}

/// A limit past what it can be is refused at the command line, naming the
/// flag, exit 1: never clamped in silence.
#[test]
fn a_limit_past_its_ceiling_is_refused() {
    for (flag, past) in [
        ("--max-nesting", "1001"),
        ("--max-expr-depth", "1001"),
        ("--max-rule-depth", "100001"),
        ("--max-policy-file-bytes", "4294967296"),
        ("--max-data-file-bytes", "4294967296"),
        ("--max-json-depth", "128"),
    ] {
        let (code, _, err) = on_examples("matrix", &[flag, past]);
        assert_eq!(code, 1, "{flag} {past}: {err}");
        assert!(err.contains(flag) && err.contains(past), "{flag}: {err}");
    }
}
