//! Sensitivity of the differential corpus: for every policy of the Cedar
//! encoding, how many corpus requests it alone decides. A permit is critical
//! for an allow it is the only reason for; a forbid is critical for a deny it
//! is the only reason for while some permit applied. Every policy that is not
//! redundant by design must be critical for enough requests, so that an mspl
//! encoding missing or botching that rule fails the differential test.

use std::collections::BTreeMap;

use mspl_peers::corpus;
use mspl_peers::{CedarModel, CedarWorld};

/// Forbids that no permit can reach, kept in the encoding for clarity:
/// no permit grants RAM identities `bill.view_product`; every permit for
/// `model.call` or `ram.assume_role` by a RAM identity already implies the
/// same account (membership is within one's account; rule 15 says so).
const REDUNDANT: [&str; 3] = [
    "r10-no-product-bills",
    "r2-cross-account-model-call",
    "r2-cross-account-role",
];

/// The least number of corpus requests each other policy must decide alone.
const MIN_CRITICAL: usize = 20;

#[test]
fn every_rule_decides_corpus_requests() {
    let full = CedarModel::get();
    let forbids = full.forbid_names();
    let permits_only = full.retain(|name| !forbids.iter().any(|f| f == name));
    let mut critical: BTreeMap<String, usize> =
        full.policy_names().into_iter().map(|n| (n, 0)).collect();
    for world in corpus::worlds(corpus::DEFAULT_SEED, 20_000) {
        let cedar = CedarWorld::new(&world.entities_json()).unwrap();
        for request in world.requests_json() {
            let answer = full.answer(&cedar, &request).unwrap();
            let [only] = answer.determining.as_slice() else {
                continue;
            };
            if answer.allow || permits_only.answer(&cedar, &request).unwrap().allow {
                *critical.get_mut(only).unwrap() += 1;
            }
        }
    }
    for (name, count) in &critical {
        eprintln!("  {name:32} decides {count:6} requests alone");
    }
    for (name, count) in &critical {
        if REDUNDANT.contains(&name.as_str()) {
            assert_eq!(*count, 0, "{name} was thought redundant");
        } else {
            assert!(
                *count >= MIN_CRITICAL,
                "{name} decides only {count} requests alone"
            );
        }
    }
}
