//! The audit on Model Studio worlds: `mspl audit matrix` equals
//! `authorize` judging every request of the domain one by one, on the
//! peers' complete worlds (the differential corpus's sizes, one to four
//! accounts, with and without roles and sub-workspaces), both error modes.

use crate::model_studio;

use mspl::__internal::authorize::{authorize, Decision, ErrorMode, PreparedSet};
use mspl::__internal::Request;
use mspl_cli::audit::{Auditor, Run};
use mspl_peers::corpus;
use mspl_peers::world::World;

#[test]
fn the_matrix_equals_brute_force_on_model_studio_worlds() {
    let set = model_studio::load(&model_studio::folder());
    let mut compared = 0;
    let mut allowed = 0;
    let mut bounded = 0;
    for i in 0..12u64 {
        let world = World::generate(corpus::DEFAULT_SEED + i, &corpus::world_params(i, 0));
        let entities = model_studio::store(&set, &world.entities_json().to_string());
        for errors in [ErrorMode::FailClosed, ErrorMode::Cedar] {
            let options = mspl::__internal::Options {
                errors,
                ..mspl::__internal::Options::default()
            };
            let prepared = PreparedSet::new(set.clone(), options);
            let auditor = Auditor::new(&prepared, &entities, None).expect("a domain");
            let d = &auditor.domain;
            let every = auditor.matrix(
                &[],
                &[],
                Run {
                    threads: 2,
                    max_results: None,
                    all: true,
                },
            );
            let reported = auditor.matrix(
                &[],
                &[],
                Run {
                    threads: 2,
                    max_results: None,
                    all: false,
                },
            );
            let mut expected_reported = Vec::new();
            for line in &every.lines {
                let request = Request {
                    principal: entities.node_uid(line.ids.principal).clone(),
                    action: d.actions[line.action].action.clone(),
                    resource: entities.node_uid(line.ids.resource).clone(),
                    context: d.contexts[line.ids.context as usize].clone(),
                };
                let response = authorize(&set, &entities, &request, &options);
                assert_eq!(line.response, response, "world {i}: {request:?}");
                assert!(response.errors.is_empty(), "world {i}: {request:?}");
                if response.decision == Decision::Allow {
                    expected_reported.push(line.ids);
                }
                compared += 1;
            }
            // The domain is complete: every (principal, action, resource,
            // context) of the appliesTo types, once.
            let size: usize = d
                .actions
                .iter()
                .map(|a| a.principals.len() * a.resources.len() * a.contexts.len())
                .sum();
            assert_eq!(every.lines.len(), size, "world {i}");
            let got: Vec<_> = reported.lines.iter().map(|l| l.ids).collect();
            assert_eq!(got, expected_reported, "world {i}");
            allowed += got.len();
            // who-can is the matrix's slice, bounded through the hierarchy
            // where the permits allow it (model.call's do).
            for (a, ad) in d.actions.iter().enumerate() {
                for &r in ad.resources.iter().take(3) {
                    let who = auditor.who_can(
                        a,
                        r,
                        Run {
                            threads: 2,
                            max_results: None,
                            all: false,
                        },
                    );
                    let want: Vec<_> = expected_reported
                        .iter()
                        .filter(|ids| ids.action == ad.node && ids.resource == r)
                        .collect();
                    let got: Vec<_> = who.unwrap().lines.iter().map(|l| l.ids).collect();
                    assert_eq!(
                        got.iter().collect::<Vec<_>>(),
                        want,
                        "world {i}: who-can {}",
                        ad.action
                    );
                    bounded += usize::from(auditor.who_can_is_bounded(a, r));
                }
            }
        }
    }
    eprintln!("{compared} requests compared, {allowed} allowed, {bounded} who-can answers bounded");
    assert!(compared > 50_000 && allowed > 1_000, "{compared} {allowed}");
    assert!(bounded > 50, "only {bounded} who-can answers were bounded");
}
