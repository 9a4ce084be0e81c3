//! The Rego encoding agrees with the Cedar encoding on the differential
//! corpus (3,000 requests by default, `MSPL_REGO_REQUESTS=N` for more), so
//! that the benchmark's three-way agreement check compares three
//! independent encodings of one spec.

use mspl_peers::corpus;
use mspl_peers::rego::RegoWorld;
use mspl_peers::{cedar_answer, CedarWorld};

#[test]
fn rego_agrees_with_cedar() {
    let total = std::env::var("MSPL_REGO_REQUESTS")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(3_000);
    let (mut done, mut allowed) = (0usize, 0usize);
    for world in corpus::worlds(corpus::DEFAULT_SEED, total) {
        let entities = world.entities_json();
        let cedar = CedarWorld::new(&entities).expect("generated worlds fit the schema");
        let mut rego = RegoWorld::new(&entities).expect("the Rego policy and data load");
        for request in world.requests_json() {
            let c = cedar_answer(&cedar, &request).expect("generated requests fit the schema");
            let r = rego
                .decide(&RegoWorld::input(&request))
                .unwrap_or_else(|e| panic!("Regorus fails on {request}: {e}"));
            assert_eq!(
                r, c.allow,
                "Rego and Cedar disagree on {request} (Cedar's determining policies: {:?})",
                c.determining
            );
            done += 1;
            allowed += usize::from(r);
        }
    }
    assert_eq!(done, total);
    assert!(
        allowed * 5 > total && allowed * 5 < total * 4,
        "{allowed} of {total} allowed"
    );
}
