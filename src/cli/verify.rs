//! `mspl verify PROPERTY`: a property proved for every store and request
//! the declarations and invariants allow, or a counterexample written to
//! `--out`, or `unknown`/`vacuous` with the reason (`crate::verify`).

use super::common::{load_policies_with, Format, Outcome};
use crate::exit::Exit;
use crate::policy_set::{IdScheme, PolicySet};
use crate::verify::solver::Solver;
use crate::verify::{check_slice, property_rules, slice_name, slices, Check, Property, Verdict};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which property.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyArg {
    /// No request raises an error in any policy.
    NeverErrors,
    /// Every request is allowed.
    AlwaysAllows,
    /// Every request is denied.
    AlwaysDenies,
    /// Every request `--new` allows, `--old` allows.
    NoNewAccess,
    /// `--old` and `--new` decide every request alike.
    Equivalent,
    /// No request is allowed by both `--left` and `--right`.
    Disjoint,
    /// The set's `@property` rules (or the one `--name` names) hold for
    /// every request it allows.
    Property,
}

/// Arguments of `mspl verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The property.
    #[arg(value_enum)]
    pub property: PropertyArg,
    /// The policy set (with its declarations), for a property of one set.
    #[arg(short = 'p', long, alias = "policy", num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// The old version (`no-new-access`, `equivalent`).
    #[arg(long, num_args = 1..)]
    pub old: Vec<PathBuf>,
    /// The new version (`no-new-access`, `equivalent`).
    #[arg(long, num_args = 1..)]
    pub new: Vec<PathBuf>,
    /// One set (`disjoint`).
    #[arg(long, num_args = 1..)]
    pub left: Vec<PathBuf>,
    /// The other set (`disjoint`).
    #[arg(long, num_args = 1..)]
    pub right: Vec<PathBuf>,
    /// Extra declaration files, for every set.
    #[arg(short = 's', long, num_args = 1..)]
    pub schema: Vec<PathBuf>,
    /// Only this `@property` rule.
    #[arg(long, value_name = "RULE")]
    pub name: Option<String>,
    /// Only requests whose principal has this type.
    #[arg(long, value_name = "TYPE")]
    pub principal_type: Option<String>,
    /// Only requests of this action (`Action::"id"` or its id).
    #[arg(short = 'a', long)]
    pub action: Option<String>,
    /// Only requests whose resource has this type.
    #[arg(long, value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// The solver: z3 or cvc5 [default: MSPL_SOLVER, else z3 or cvc5 on the PATH].
    #[arg(long, value_name = "PATH")]
    pub solver: Option<String>,
    /// Seconds per solver query.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Memory per solver query, in MiB.
    #[arg(long, value_name = "MB", default_value_t = 2048)]
    pub memory: u64,
    /// Rule calls unrolled this deep; past it a call may return anything
    /// (proofs stay sound; a counterexample that needs it is not reported).
    #[arg(long, value_name = "K", default_value_t = 12)]
    pub depth: usize,
    /// Write each counterexample's request and store here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    #[arg(long)]
    pub cedar: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The limits a counterexample is confirmed under.
    #[command(flatten)]
    pub limits: super::limit_args::LimitArgs,
}

/// Runs `mspl verify`: 0 proved, 2 a counterexample, 3 unknown or
/// vacuous, 1 bad input.
pub fn run(args: &VerifyArgs) -> Outcome {
    let mut out = Outcome::default();
    let limits = args.limits.limits();
    let ids = IdScheme::cedar(args.cedar);
    let load = |paths: &[PathBuf], out: &mut Outcome| -> Option<PolicySet> {
        load_policies_with(
            paths,
            &args.schema,
            &Default::default(),
            ids,
            &limits,
            args.format,
            out,
        )
    };
    let fail = |mut out: Outcome, m: &str| {
        out.stderr.push_str(&format!("error: {m}\n"));
        out.exit(Exit::Failure)
    };
    let two = matches!(
        args.property,
        PropertyArg::NoNewAccess | PropertyArg::Equivalent | PropertyArg::Disjoint
    );
    let (main_paths, other_paths): (&[PathBuf], &[PathBuf]) = match args.property {
        PropertyArg::NoNewAccess | PropertyArg::Equivalent => (&args.new, &args.old),
        PropertyArg::Disjoint => (&args.left, &args.right),
        _ => (&args.policies, &[]),
    };
    if main_paths.is_empty() || (two && other_paths.is_empty()) {
        let wanted = match args.property {
            PropertyArg::NoNewAccess | PropertyArg::Equivalent => "--old and --new",
            PropertyArg::Disjoint => "--left and --right",
            _ => "--policies",
        };
        return fail(out, &format!("this property needs {wanted}"));
    }
    let Some(main) = load(main_paths, &mut out) else {
        return out.exit(Exit::Failure);
    };
    let other = if two {
        let Some(o) = load(other_paths, &mut out) else {
            return out.exit(Exit::Failure);
        };
        Some(o)
    } else {
        None
    };
    if let Err(m) = provable(&main, other.as_ref()) {
        return fail(out, &m);
    }
    let properties: Vec<Property> = match args.property {
        PropertyArg::NeverErrors => vec![Property::NeverErrors],
        PropertyArg::AlwaysAllows => vec![Property::AlwaysAllows],
        PropertyArg::AlwaysDenies => vec![Property::AlwaysDenies],
        PropertyArg::NoNewAccess => vec![Property::NoNewAccess],
        PropertyArg::Equivalent => vec![Property::Equivalent],
        PropertyArg::Disjoint => vec![Property::Disjoint],
        PropertyArg::Property => {
            let rules: Vec<Property> = property_rules(&main)
                .into_iter()
                .filter(|(_, n)| args.name.as_deref().map_or(true, |w| w == n.as_str()))
                .map(|(i, n)| Property::Rule(i, n))
                .collect();
            if rules.is_empty() {
                return fail(
                    out,
                    &match &args.name {
                        Some(n) => format!("no rule `{n}` annotated @property"),
                        None => "no rule annotated @property: nothing to prove".into(),
                    },
                );
            }
            for p in &rules {
                if let Property::Rule(i, n) = p {
                    if ![0, 4].contains(&main.rules[*i as usize].arity) {
                        return fail(out, &format!("the @property rule `{n}` takes no parameters (it reads the request) or four (principal, action, resource, context)"));
                    }
                }
            }
            rules
        }
    };
    let action = args.action.as_deref().map(|a| {
        crate::syntax::uid::parse_action(a)
            .map(|u| u.id.to_string())
            .unwrap_or_else(|_| a.to_string())
    });
    let chosen = slices(
        &main,
        args.principal_type.as_deref(),
        action.as_deref(),
        args.resource_type.as_deref(),
    );
    if chosen.is_empty() {
        return fail(out, "no declared action applies to the principal type, action and resource type given: nothing to prove");
    }
    let solver = match Solver::choose(
        args.solver.as_deref(),
        Duration::from_secs(args.timeout.max(1)),
        args.memory,
    ) {
        Ok(s) => s,
        Err(m) => return fail(out, &m),
    };
    let check = Check {
        solver,
        depth: args.depth,
        mode: crate::authorize::ErrorMode::cedar(args.cedar),
        limits,
    };
    let report = prove(
        &check,
        &properties,
        &main,
        other.as_ref(),
        &chosen,
        args.out.as_deref(),
        args.format,
    );
    match report {
        Ok((text, exit)) => {
            out.stdout.push_str(&text);
            out.exit(exit)
        }
        Err(e) => fail(out, &e),
    }
}

/// Why `main` (and `other`) cannot be verified, if they cannot: no
/// declarations, declarations that differ, policies that do not validate.
pub fn provable(main: &PolicySet, other: Option<&PolicySet>) -> Result<(), String> {
    if main.schema.entity_types.is_empty() && main.schema.actions.is_empty() {
        return Err(
            "verify needs declarations (entity types and actions): they bound what is proved"
                .into(),
        );
    }
    if other.is_some_and(|o| o.schema != main.schema) {
        return Err(
            "the two versions declare differently: verify compares sets over the same declarations"
                .into(),
        );
    }
    for set in std::iter::once(main).chain(other) {
        let problems = crate::validate::validate_policies(set);
        if let Some(p) = problems.iter().find(|p| !p.is_warning()) {
            let name = set.sources.name(p.span.file);
            let (line, column) = set.sources.line_column(p.span);
            return Err(format!(
                "the policies do not validate ({name}:{line}:{column}: {}): verify proves only what validates",
                p.error
            ));
        }
    }
    Ok(())
}

/// `mspl diff --prove`: `property` of `new` against `old` on every slice.
pub fn prove_versions(
    new: &PolicySet,
    old: &PolicySet,
    property: Property,
    solver: Solver,
    mode: crate::authorize::ErrorMode,
    limits: crate::limits::Limits,
    format: Format,
) -> Result<(String, Exit), String> {
    provable(new, Some(old))?;
    let chosen = slices(new, None, None, None);
    if chosen.is_empty() {
        return Err("no declared action says what it applies to: nothing to prove".into());
    }
    let check = Check {
        solver,
        depth: 12,
        mode,
        limits,
    };
    prove(&check, &[property], new, Some(old), &chosen, None, format)
}

/// Checks every property on every slice: the report (text, or a JSON
/// array of one object per slice) and the exit (0 all proved, 2 a
/// counterexample, 3 an unknown or vacuous slice); `Err` when a
/// counterexample could not be written.
pub fn prove(
    check: &Check,
    properties: &[Property],
    main: &PolicySet,
    other: Option<&PolicySet>,
    chosen: &[crate::verify::encode::Slice],
    out_dir: Option<&Path>,
    format: Format,
) -> Result<(String, Exit), String> {
    let mut text = String::new();
    let mut worst = Exit::Success;
    let mut json_out = Vec::new();
    let mut written = 0usize;
    for property in properties {
        let mut counts = [0usize; 4];
        let mut lines = Vec::new();
        for slice in chosen {
            let verdict = check_slice(check, property, main, other, slice);
            let name = slice_name(slice);
            let (word, detail, exit, k) = match &verdict {
                Verdict::Proved => ("proved", String::new(), Exit::Success, 0),
                Verdict::Counterexample {
                    shown,
                    request,
                    entities,
                } => {
                    let mut d = format!("authorize: {shown}");
                    if let Some(dir) = out_dir {
                        written += 1;
                        let sub = dir.join(format!("{written}"));
                        write_counterexample(&sub, request, entities)?;
                        d.push_str(&format!("; written to {}", sub.display()));
                    } else {
                        d.push_str(&format!(
                            "\n    request: {request}\n    entities: {entities}"
                        ));
                    }
                    ("counterexample", d, Exit::Flagged, 1)
                }
                Verdict::Unknown(w) => ("unknown", w.clone(), Exit::Refused, 2),
                Verdict::Vacuous(w) => ("vacuous", w.clone(), Exit::Refused, 3),
            };
            counts[k] += 1;
            worst = match (worst, exit) {
                (Exit::Flagged, _) | (_, Exit::Flagged) => Exit::Flagged,
                (Exit::Refused, _) | (_, Exit::Refused) => Exit::Refused,
                _ => Exit::Success,
            };
            if format == Format::Json {
                let mut v = serde_json::json!({
                    "property": property.name(),
                    "principal_type": slice.principal_type.as_str(),
                    "action": slice.action.to_string(),
                    "resource_type": slice.resource_type.as_str(),
                    "verdict": word,
                });
                match &verdict {
                    Verdict::Counterexample {
                        request,
                        entities,
                        shown,
                    } => {
                        v["request"] = request.clone();
                        v["entities"] = entities.clone();
                        v["authorize"] = serde_json::Value::from(shown.as_str());
                    }
                    Verdict::Unknown(w) | Verdict::Vacuous(w) => {
                        v["reason"] = serde_json::Value::from(w.as_str())
                    }
                    Verdict::Proved => {}
                }
                json_out.push(v);
            } else if detail.is_empty() {
                lines.push(format!("  {word:<15} {name}"));
            } else {
                lines.push(format!("  {word:<15} {name}: {detail}"));
            }
        }
        if format != Format::Json {
            let overall = if counts[1] > 0 {
                "counterexample"
            } else if counts[2] + counts[3] > 0 {
                "not proved"
            } else {
                "proved"
            };
            text.push_str(&format!(
                "{}: {overall} ({} slices: {} proved, {} counterexample, {} unknown, {} vacuous; {})\n",
                property.name(),
                chosen.len(),
                counts[0],
                counts[1],
                counts[2],
                counts[3],
                check.solver.version
            ));
            for l in lines {
                text.push_str(&l);
                text.push('\n');
            }
        }
    }
    if format == Format::Json {
        text.push_str(&serde_json::to_string_pretty(&json_out).unwrap_or_default());
        text.push('\n');
    }
    Ok((text, worst))
}

/// Writes `request.json` and `entities.json` into `dir`, each atomically.
fn write_counterexample(
    dir: &Path,
    request: &serde_json::Value,
    entities: &serde_json::Value,
) -> Result<(), String> {
    crate::files::meta::create_dir_all(dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (name, value) in [("request.json", request), ("entities.json", entities)] {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
        crate::files::write_file(&path, &text)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}
