//! mspl's residual policy sets beside Cedar's type-aware partial evaluation
//! (`support/tpe.rs`): on Cedar's example apps and on generated apps that
//! Cedar's strict validation accepts, for every request with its resource
//! left unknown, both residuals decide every resource of the type (and one
//! the store lacks) exactly as both engines do on the original set:
//! decision, determining policies and erroring policies.

#[path = "../../support/tpe.rs"]
mod comparison;

use std::path::Path;

const GENERATED: u64 = 40;

fn report(what: &str, tally: &comparison::Tally) {
    eprintln!(
        "{what}: {} apps ({} refused by strict validation), {} plans, {} resources \
         ({} allowed, {} with errors); decided outright: Cedar {} mspl {}; residual \
         policies left: Cedar {} ({} bytes), mspl {} ({} bytes)",
        tally.apps,
        tally.refused.len(),
        tally.plans,
        tally.resources,
        tally.allowed,
        tally.with_errors,
        tally.cedar_decided,
        tally.mspl_decided,
        tally.cedar_left,
        tally.cedar_bytes,
        tally.mspl_left,
        tally.mspl_bytes
    );
    assert!(
        tally.disagreements.is_empty(),
        "{} disagreements; the first:\n{}",
        tally.disagreements.len(),
        tally.disagreements[..tally.disagreements.len().min(3)].join("\n\n")
    );
}

#[test]
fn residuals_agree_with_cedar_tpe_on_the_example_apps() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let Some(suite) = crate::shared_data::cedar_suite(&checkout, "the TPE comparison") else {
        return;
    };
    let mut tally = comparison::Tally::default();
    for app in comparison::example_apps(&suite) {
        match comparison::load(&app) {
            Ok(loaded) => comparison::compare(&app, &loaded, 1, &mut tally),
            Err(why) => tally.refused.push(format!("{}: {why}", app.name)),
        }
    }
    report("example apps", &tally);
    // Every example app is well typed, and planning had work on each.
    assert!(tally.refused.is_empty(), "{:?}", tally.refused);
    assert_eq!(tally.apps, 12);
    assert!(tally.allowed > 10 && tally.resources - tally.allowed > 10);
    assert!(tally.cedar_left > 10 && tally.mspl_left > 10);
}

#[test]
fn residuals_agree_with_cedar_tpe_on_generated_apps() {
    let mut tally = comparison::Tally::default();
    for seed in 0..GENERATED {
        let app = comparison::generated_app(seed);
        match comparison::load(&app) {
            Ok(loaded) => comparison::compare(&app, &loaded, 1, &mut tally),
            Err(why) => tally.refused.push(format!("{}: {why}", app.name)),
        }
    }
    report("generated apps", &tally);
    // The generator writes well-typed policies: a refusal is its bug.
    assert!(tally.refused.is_empty(), "{:#?}", tally.refused);
    assert!(tally.allowed > 500 && tally.resources - tally.allowed > 500);
    assert!(tally.with_errors > 100, "errors were exercised");
    assert!(tally.cedar_left > 200 && tally.mspl_left > 200);
}
