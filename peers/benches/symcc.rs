//! Cedar's symbolic compiler (`cedar-policy-symcc`, which drives cvc5)
//! beside `mspl verify` (z3), on Cedar's example apps and on the Cedar
//! encoding of the Model Studio rules: for every request environment,
//! `always-allows`, `always-denies` and `never-errors` (every policy), the
//! two verdicts side by side, and the time each took. A benchmark, not a
//! CI test: SymCC asks for cvc5 1.3; run with Debian's 1.0.3 (`CVC5=…` to
//! point it at another), the queries it fails on are listed.
//!
//! ```sh
//! cargo bench -p mspl-peers --features symcc --bench symcc
//! ```

#[path = "../../tests/support/shared_data.rs"]
mod shared_data;

#[path = "../../tests/support/skip.rs"]
mod skip;

#[path = "../support/tpe.rs"]
mod tpe;

use cedar_policy::{PolicySet, RequestEnv, Schema};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet};
use mspl::__internal::authorize::ErrorMode;
use mspl::__internal::Limits;
use mspl_cli::verify::solver::Solver;
use mspl_cli::verify::{check_slice, slices, Check, Property, Verdict};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// One app: its name, Cedar policies and Cedar schema.
struct App {
    name: String,
    policies: String,
    schema: String,
}

/// What each side said on one question.
#[derive(Default)]
struct Tally {
    questions: usize,
    agree: usize,
    differ: Vec<String>,
    symcc_failed: Vec<String>,
    mspl_unknown: Vec<String>,
    symcc_time: Duration,
    mspl_time: Duration,
}

fn word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Proved => "holds",
        Verdict::Counterexample { .. } => "fails",
        Verdict::Unknown(_) => "unknown",
        Verdict::Vacuous(_) => "vacuous",
    }
}

fn main() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut apps = Vec::new();
    if let Some(suite) = shared_data::cedar_suite(&checkout, "the SymCC benchmark's example apps") {
        for a in tpe::example_apps(&suite) {
            apps.push(App {
                name: a.name,
                policies: a.policies,
                schema: a.schema,
            });
        }
    }
    apps.push(App {
        name: "Model Studio (Cedar encoding)".into(),
        policies: mspl_peers::cedar::CEDAR_POLICIES.into(),
        schema: mspl_peers::cedar::CEDAR_SCHEMA.into(),
    });
    let z3 = Solver::find("z3", Duration::from_secs(30), 2048).expect("z3 on the PATH");
    let check = Check {
        solver: z3,
        depth: 12,
        mode: ErrorMode::Cedar,
        limits: Limits::default(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut tally = Tally::default();
    for app in &apps {
        let (schema, _) = Schema::from_cedarschema_str(&app.schema).expect("a schema");
        let cedar = PolicySet::from_str(&app.policies).expect("policies");
        let set = tpe::mspl_set(&app.name, &app.policies, &app.schema);
        let envs: Vec<RequestEnv> = schema.request_envs().collect();
        for env in &envs {
            let (p, a, r) = (
                env.principal().to_string(),
                env.action().to_string(),
                env.resource().to_string(),
            );
            let Some(slice) = slices(&set, Some(&p), None, Some(&r))
                .into_iter()
                .find(|s| s.action.to_string() == a)
            else {
                continue;
            };
            for (name, property) in [
                ("always-allows", Property::AlwaysAllows),
                ("always-denies", Property::AlwaysDenies),
                ("never-errors", Property::NeverErrors),
            ] {
                let question = format!("{}: {p} × {a} × {r}: {name}", app.name);
                let started = Instant::now();
                let theirs: Result<bool, String> = runtime.block_on(async {
                    let solver = LocalSolver::cvc5().map_err(|e| e.to_string())?;
                    let mut symcc = CedarSymCompiler::new(solver).map_err(|e| e.to_string())?;
                    match property {
                        Property::NeverErrors => {
                            for policy in cedar.policies() {
                                let c = CompiledPolicy::compile(policy, env, &schema)
                                    .map_err(|e| e.to_string())?;
                                if !symcc
                                    .check_never_errors_opt(&c)
                                    .await
                                    .map_err(|e| e.to_string())?
                                {
                                    return Ok(false);
                                }
                            }
                            Ok(true)
                        }
                        _ => {
                            let c = CompiledPolicySet::compile(&cedar, env, &schema)
                                .map_err(|e| e.to_string())?;
                            if property == Property::AlwaysAllows {
                                symcc
                                    .check_always_allows_opt(&c)
                                    .await
                                    .map_err(|e| e.to_string())
                            } else {
                                symcc
                                    .check_always_denies_opt(&c)
                                    .await
                                    .map_err(|e| e.to_string())
                            }
                        }
                    }
                });
                tally.symcc_time += started.elapsed();
                let started = Instant::now();
                let ours = check_slice(&check, &property, &set, None, &slice);
                tally.mspl_time += started.elapsed();
                tally.questions += 1;
                match (&theirs, &ours) {
                    (Err(e), _) => tally.symcc_failed.push(format!("{question}: {e}")),
                    (_, Verdict::Unknown(w)) => tally.mspl_unknown.push(format!("{question}: {w}")),
                    (Ok(holds), v) => {
                        if *holds == matches!(v, Verdict::Proved) {
                            tally.agree += 1;
                        } else {
                            tally.differ.push(format!(
                                "{question}: SymCC says it {}, mspl {}",
                                if *holds { "holds" } else { "fails" },
                                word(v)
                            ));
                        }
                    }
                }
            }
        }
    }
    println!(
        "{} questions: {} answered alike, {} differ, {} SymCC failed on, {} mspl left unknown",
        tally.questions,
        tally.agree,
        tally.differ.len(),
        tally.symcc_failed.len(),
        tally.mspl_unknown.len()
    );
    println!(
        "time: SymCC (cvc5, {}) {:.2} s, mspl verify ({}) {:.2} s",
        std::process::Command::new(std::env::var("CVC5").unwrap_or_else(|_| "cvc5".into()))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string())
            .unwrap_or_default(),
        tally.symcc_time.as_secs_f64(),
        check.solver.version,
        tally.mspl_time.as_secs_f64()
    );
    // The differences by property and by which side holds.
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for line in &tally.differ {
        let kind = line.split(": ").skip(2).collect::<Vec<_>>().join(": ");
        *kinds.entry(kind).or_default() += 1;
    }
    for (kind, n) in &kinds {
        println!("differ: {n} × {kind}");
    }
    for (what, list) in [
        ("differ", &tally.differ),
        ("SymCC failed", &tally.symcc_failed),
        ("mspl unknown", &tally.mspl_unknown),
    ] {
        for line in list.iter().take(12) {
            println!("{what}: {}", line.chars().take(300).collect::<String>());
        }
        if list.len() > 12 {
            println!("{what}: … and {} more", list.len() - 12);
        }
    }
}
