//! mspl's residual policy sets beside Cedar's type-aware partial evaluation
//! (TPE, cedar-policy's experimental `tpe` feature): the same apps, the
//! same requests with the resource unknown, both residuals re-judged on
//! every resource of the type. Shared by the agreement test (every answer
//! equal) and the benchmark (sizes and times).

#![allow(dead_code)]

use cedar_policy::{
    Authorizer, Context, Entities, EntityTypeName, EntityUid, PartialEntities, PartialEntityUid,
    PartialRequest, PolicySet, Request, Schema, ValidationMode, Validator,
};
use mspl::__internal::authorize::{authorize, ErrorMode, Options};
use mspl::__internal::entities::build::{add_named_actions, build_entities_with};
use mspl::__internal::entities::json::{context_from_json, Request as MsplRequest};
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet as MsplSet, SourceFormat};
use mspl::__internal::residual::{reduce, Partial};
use mspl::__internal::syntax::ast::EntityUid as MsplUid;
use mspl::__internal::{Entities as MsplEntities, Limits};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// An application: Cedar policies, a Cedar schema, a store, and the
/// requests to plan (Cedar's JSON requests; only the resource's type is
/// used).
pub struct App {
    /// Where it came from.
    pub name: String,
    /// Cedar policy text.
    pub policies: String,
    /// Cedar schema text.
    pub schema: String,
    /// Cedar's entity JSON.
    pub entities: Value,
    /// Requests, each planned with its resource unknown.
    pub plans: Vec<Value>,
}

/// The example apps of Cedar's integration suite at `suite`, each with the
/// distinct plans of its requests.
pub fn example_apps(suite: &Path) -> Vec<App> {
    let dir = suite.join("tests/example_use_cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(&f).expect("test file"))
                    .expect("json");
            let read = |key: &str| {
                std::fs::read_to_string(suite.join(json[key].as_str().expect(key))).expect(key)
            };
            let mut plans: Vec<Value> = Vec::new();
            for r in json["requests"].as_array().expect("requests") {
                let plan = serde_json::json!({
                    "principal": r["principal"],
                    "action": r["action"],
                    "resource": { "type": r["resource"]["type"] },
                    "context": r["context"],
                });
                if !plans.contains(&plan) {
                    plans.push(plan);
                }
            }
            App {
                name: f.file_name().unwrap_or_default().to_string_lossy().into(),
                policies: read("policies"),
                schema: read("schema"),
                entities: serde_json::from_str(&read("entities")).expect("entities"),
                plans,
            }
        })
        .collect()
}

/// The generated app of `seed` (`mspl_peers::typed_apps`).
pub fn generated_app(seed: u64) -> App {
    let app = mspl_peers::typed_apps::TypedApp::generate(seed);
    App {
        name: format!("generated {seed}"),
        policies: app.policies,
        schema: mspl_peers::typed_apps::SCHEMA.into(),
        entities: app.entities,
        plans: app.plans,
    }
}

/// An app loaded by both engines.
pub struct Loaded {
    schema: Schema,
    cedar: PolicySet,
    cedar_store: Entities,
    cedar_partial_store: PartialEntities,
    mspl: MsplSet,
    mspl_store: MsplEntities,
}

/// The app loaded by both, or why it cannot take part: TPE needs policies
/// that Cedar's strict validation accepts.
pub fn load(app: &App) -> Result<Loaded, String> {
    let (schema, _) = Schema::from_cedarschema_str(&app.schema).map_err(|e| e.to_string())?;
    let cedar = PolicySet::from_str(&app.policies).map_err(|e| e.to_string())?;
    let validation = Validator::new(schema.clone()).validate(&cedar, ValidationMode::Strict);
    if !validation.validation_passed() {
        return Err(format!("not strictly valid: {validation}"));
    }
    let cedar_store = Entities::from_json_value(app.entities.clone(), Some(&schema))
        .map_err(|e| e.to_string())?;
    let cedar_partial_store =
        PartialEntities::from_concrete(cedar_store.clone(), &schema).map_err(|e| e.to_string())?;
    let mspl = mspl_set(&app.name, &app.policies, &app.schema);
    let text = app.entities.to_string();
    let mut mspl_store = build_entities_with(
        &mspl.schema,
        [("entities.json", text.as_str())],
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{}: mspl refuses the store: {}", app.name, e.message));
    add_named_actions(&mspl, &mut mspl_store);
    Ok(Loaded {
        schema,
        cedar,
        cedar_store,
        cedar_partial_store,
        mspl,
        mspl_store,
    })
}

/// Cedar policy text and schema text as mspl loads them (Cedar's ids);
/// mspl refusing what Cedar accepts is a failure of the comparison.
pub fn mspl_set(name: &str, policies: &str, schema: &str) -> MsplSet {
    let mut loader = Loader::new(Limits::default());
    loader.add_source_as("policies.cedar".into(), policies.into(), SourceFormat::Text);
    loader.add_source_as(
        "schema.cedarschema".into(),
        schema.into(),
        SourceFormat::Text,
    );
    let (set, diagnostics) = loader.finish(IdScheme::Cedar);
    assert!(
        diagnostics.is_empty(),
        "{name}: mspl refuses what Cedar accepts:\n{}",
        set.sources.render(&diagnostics, false)
    );
    set
}

/// What the comparison went through, and what it found.
#[derive(Default)]
pub struct Tally {
    /// Apps compared.
    pub apps: usize,
    /// Apps Cedar's strict validation refused (TPE cannot take them).
    pub refused: Vec<String>,
    /// Requests planned by both.
    pub plans: usize,
    /// Plans Cedar's TPE decided outright.
    pub cedar_decided: usize,
    /// Plans mspl decided outright (every policy decided).
    pub mspl_decided: usize,
    /// Residual policies left over the resource: Cedar's, mspl's.
    pub cedar_left: usize,
    /// See `cedar_left`.
    pub mspl_left: usize,
    /// Bytes of those residual policies as text: Cedar's, mspl's.
    pub cedar_bytes: usize,
    /// See `cedar_bytes`.
    pub mspl_bytes: usize,
    /// Resources judged four ways.
    pub resources: usize,
    /// Of which allowed.
    pub allowed: usize,
    /// Of which some policy erred.
    pub with_errors: usize,
    /// Planning times: Cedar's, mspl's.
    pub cedar_times: Vec<Duration>,
    /// See `cedar_times`.
    pub mspl_times: Vec<Duration>,
    /// Every disagreement, described.
    pub disagreements: Vec<String>,
}

/// Decision, determining ids, erroring ids.
type Said = (bool, BTreeSet<String>, BTreeSet<String>);

fn cedar_said(r: &cedar_policy::Response) -> Said {
    (
        r.decision() == cedar_policy::Decision::Allow,
        r.diagnostics().reason().map(|p| p.to_string()).collect(),
        r.diagnostics()
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(p) => {
                    p.policy_id().to_string()
                }
            })
            .collect(),
    )
}

fn mspl_said(r: &mspl::__internal::authorize::Response) -> Said {
    (
        r.decision == mspl::__internal::Decision::Allow,
        r.determining.iter().map(|s| s.to_string()).collect(),
        r.errors.iter().map(|e| e.policy.to_string()).collect(),
    )
}

fn uid_of(v: &Value) -> (String, String) {
    (
        v["type"].as_str().expect("type").into(),
        v["id"].as_str().expect("id").into(),
    )
}

fn cedar_uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(ty).expect("type name"),
        cedar_policy::EntityId::new(id),
    )
}

/// Plans every request of `app` both ways (each `repeat` times, for the
/// times) and judges every resource of the type, and one the store lacks,
/// four ways: each engine on its original set and on its residual.
pub fn compare(app: &App, loaded: &Loaded, repeat: usize, tally: &mut Tally) {
    tally.apps += 1;
    let limits = Limits::default();
    let options = Options {
        errors: ErrorMode::Cedar,
        limits,
        plain: false,
        deadline: None,
    };
    let prefix = format!("{}: ", app.name);
    for plan in &app.plans {
        let (pty, pid) = uid_of(&plan["principal"]);
        let (aty, aid) = uid_of(&plan["action"]);
        let rty = plan["resource"]["type"].as_str().expect("resource type");
        let principal = cedar_uid(&pty, &pid);
        let action = cedar_uid(&aty, &aid);
        let context_json = plan["context"].clone();
        let context =
            match Context::from_json_value(context_json.clone(), Some((&loaded.schema, &action))) {
                Ok(c) => c,
                Err(e) => {
                    tally.disagreements.push(format!(
                        "{prefix}Cedar refuses the context {context_json}: {e}"
                    ));
                    continue;
                }
            };
        let request = match PartialRequest::new(
            PartialEntityUid::from_concrete(principal.clone()),
            action.clone(),
            PartialEntityUid::new(EntityTypeName::from_str(rty).expect("type"), None),
            Some(context.clone()),
            &loaded.schema,
        ) {
            Ok(r) => r,
            // A request the schema does not allow: nothing to plan.
            Err(_) => continue,
        };
        let mut tpe = None;
        for _ in 0..repeat {
            let started = Instant::now();
            let response = loaded
                .cedar
                .tpe(&request, &loaded.cedar_partial_store, &loaded.schema);
            tally.cedar_times.push(started.elapsed());
            tpe = Some(response);
        }
        let tpe = match tpe.expect("repeat > 0") {
            Ok(t) => t,
            Err(e) => {
                tally
                    .disagreements
                    .push(format!("{prefix}TPE fails on {plan}: {e}"));
                continue;
            }
        };
        let partial = Partial {
            principal: MsplUid::new(pty.as_str(), pid.as_str()),
            action: MsplUid::new(aty.as_str(), aid.as_str()),
            resource_type: rty.into(),
            context: context_from_json(
                &context_json,
                &MsplUid::new(aty.as_str(), aid.as_str()),
                &loaded.mspl.schema,
            )
            .unwrap_or_else(|m| panic!("{prefix}mspl refuses the context: {m}")),
        };
        let mut residual = None;
        for _ in 0..repeat {
            let started = Instant::now();
            let r = reduce(&loaded.mspl, &loaded.mspl_store, &partial, &limits);
            tally.mspl_times.push(started.elapsed());
            residual = Some(r);
        }
        let residual = residual.expect("repeat > 0");
        tally.plans += 1;
        tally.cedar_decided += usize::from(tpe.decision().is_some());
        tally.mspl_decided += usize::from(outright(&residual).is_some());
        for p in tpe.residual_policies() {
            tally.cedar_left += 1;
            tally.cedar_bytes += p.to_string().len();
        }
        for p in residual.policies.iter().filter(|p| p.decided.is_none()) {
            tally.mspl_left += 1;
            tally.mspl_bytes +=
                mspl::__internal::fmt::print_file(&mspl::__internal::syntax::ast::File {
                    items: vec![mspl::__internal::syntax::ast::Item::Policy(
                        p.policy.clone(),
                    )],
                })
                .len();
        }
        let text = residual.text();
        let mut loader = Loader::new(limits);
        loader.add_source_as("residual.mspl".into(), text.clone(), SourceFormat::Text);
        loader.add_source_as(
            "schema.cedarschema".into(),
            app.schema.clone(),
            SourceFormat::Text,
        );
        let (reduced, diagnostics) = loader.finish(IdScheme::Annotated);
        if !diagnostics.is_empty() {
            tally.disagreements.push(format!(
                "{prefix}mspl's residual does not load:\n{}\n{text}",
                reduced.sources.render(&diagnostics, false)
            ));
            continue;
        }
        let cedar_residual = tpe.policy_set();
        let mut resources: Vec<String> = loaded
            .cedar_store
            .iter()
            .map(|e| e.uid())
            .filter(|u| u.type_name().to_string() == rty)
            .map(|u| u.id().unescaped().to_string())
            .collect();
        resources.sort();
        resources.push("not-in-the-store".into());
        for id in resources {
            let cedar_request = Request::new(
                principal.clone(),
                action.clone(),
                cedar_uid(rty, &id),
                context.clone(),
                None,
            )
            .expect("a request without a schema");
            let plain = cedar_said(&Authorizer::new().is_authorized(
                &cedar_request,
                &loaded.cedar,
                &loaded.cedar_store,
            ));
            // What `TpeResponse::reauthorize` does after checking the store
            // against the schema again (which, per resource, would dominate).
            let by_tpe = cedar_said(&Authorizer::new().is_authorized(
                &cedar_request,
                &cedar_residual,
                &loaded.cedar_store,
            ));
            let mspl_request = MsplRequest {
                principal: partial.principal.clone(),
                action: partial.action.clone(),
                resource: MsplUid::new(rty, id.as_str()),
                context: partial.context.clone(),
            };
            let mspl_plain = mspl_said(&authorize(
                &loaded.mspl,
                &loaded.mspl_store,
                &mspl_request,
                &options,
            ));
            let mspl_residual = mspl_said(&authorize(
                &reduced,
                &loaded.mspl_store,
                &mspl_request,
                &options,
            ));
            tally.resources += 1;
            tally.allowed += usize::from(plain.0);
            tally.with_errors += usize::from(!plain.2.is_empty());
            if [&by_tpe, &mspl_plain, &mspl_residual]
                .iter()
                .any(|said| **said != plain)
            {
                let residuals: Vec<String> =
                    tpe.residual_policies().map(|p| p.to_string()).collect();
                tally.disagreements.push(format!(
                    "{prefix}{plan} on {rty}::{id:?}\n  Cedar: {plain:?}\n  Cedar's residual: {by_tpe:?}\n  mspl: {mspl_plain:?}\n  mspl's residual: {mspl_residual:?}\nCedar's residual:\n{}\nmspl's residual:\n{text}",
                    residuals.join("\n")
                ));
            }
        }
    }
}

/// Whether mspl's residual decides without the resource, as Cedar's
/// `TpeResponse::decision` does: a forbid that applies to every resource
/// denies; else a permit that does, with every forbid applying to none,
/// allows; else no permit that can apply denies.
fn outright(residual: &mspl::__internal::residual::Residual) -> Option<bool> {
    use mspl::__internal::syntax::ast::Effect;
    let of = |effect: Effect| {
        residual
            .policies
            .iter()
            .filter(move |p| p.policy.effect == effect)
            .map(|p| p.decided)
    };
    if of(Effect::Forbid).any(|d| d == Some(true)) {
        Some(false)
    } else if of(Effect::Permit).any(|d| d == Some(true))
        && of(Effect::Forbid).all(|d| d == Some(false))
    {
        Some(true)
    } else if of(Effect::Permit).all(|d| d == Some(false)) {
        Some(false)
    } else {
        None
    }
}

/// The median of `times` (zero when empty).
pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}
