//! The incremental store is exact: random transactions (upserts that
//! change attributes and parents, parent adds and removes, deletes, cycles
//! made and broken, entities named before they exist, failed
//! preconditions), 10,000 operations over generated worlds, each applied
//! as a new revision of the store; after each batch every request of the
//! audit's domain is decided, and the audit matrix taken, on the revision
//! and on the store rebuilt from scratch from the same entities, and they
//! must agree. Under Cedar's semantics a transaction that closes a cycle
//! is refused and changes nothing.

use crate::transactions::{key, rebuilt, transaction, Model};
use crate::worlds::{bytes, world};
use mspl::__internal::authorize::{ErrorMode, Options, PreparedSet};
use mspl::__internal::entities::build::Cycles;
use mspl::__internal::entities::changes::{apply, read_transaction};
use mspl::__internal::entities::json::Origin;
use mspl::__internal::policy_set::{IdScheme, Loader};
use mspl::__internal::{Entities, Limits};
use mspl_cli::audit::{Auditor, Run};
use serde_json::{json, Value};

/// Every matrix line (every request of the domain, decided) with uids.
fn matrix(prepared: &PreparedSet, entities: &Entities, context: Option<&Value>) -> Vec<String> {
    let auditor = Auditor::new(prepared, entities, context).expect("a domain");
    let run = Run {
        threads: 1,
        max_results: None,
        all: true,
    };
    let answer = auditor.matrix(&[], &[], run);
    let d = &auditor.domain;
    let mut lines: Vec<String> = answer
        .lines
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {} {:?}",
                entities.node_uid(l.ids.principal),
                d.actions[l.action].action,
                entities.node_uid(l.ids.resource),
                d.context_json[l.ids.context as usize],
                l.response
            )
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn revisions_decide_and_audit_as_the_store_rebuilt_from_scratch() {
    let (mut ops_applied, mut refused_cycles, mut failed_preconditions, mut batches) = (0, 0, 0, 0);
    let mut ops_generated = 0;
    for seed in 0..28u64 {
        let w = world(seed);
        let mut loader = Loader::new(Limits::default());
        loader.add_source("world.mspl".into(), w.policies.clone());
        let (set, diagnostics) = loader.finish(IdScheme::Annotated);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let cycles = if seed % 3 == 0 {
            Cycles::Refused
        } else {
            Cycles::Allowed
        };
        let errors = if cycles == Cycles::Refused {
            ErrorMode::Cedar
        } else {
            ErrorMode::FailClosed
        };
        let prepared = PreparedSet::new(
            set.clone(),
            Options {
                errors,
                ..Options::default()
            },
        );
        let mut model: Model = serde_json::from_str::<Vec<Value>>(&w.entities)
            .expect("the world's entities")
            .into_iter()
            .map(|e| (key(&e["uid"]), e))
            .collect();
        let Some(mut store) = rebuilt(&set, &model, cycles) else {
            continue; // a base with a cycle, which Cedar's semantics refuse
        };
        let mut bytes = bytes(seed ^ 0xA5A5, 1 << 16).into_iter().cycle();
        let mut pick = |n: usize| bytes.next().unwrap() as usize % n.max(1);
        let mut revision = 0u64;
        for batch in 0..20 {
            // A revision is never changed by the ones after it.
            let held = store.clone();
            let held_matrix = matrix(&prepared, &held, w.context.as_ref());
            for _ in 0..8 {
                let (tx, next) = transaction(&model, &mut pick);
                ops_generated += tx["ops"].as_array().map_or(0, Vec::len);
                // Now and then a precondition, right or wrong.
                let mut tx = tx;
                let wanted = match pick(5) {
                    0 => Some(revision.to_string()),
                    1 => Some((revision + 1).to_string()),
                    _ => None,
                };
                if let Some(w) = &wanted {
                    tx["if_revision"] = json!(w);
                }
                let text = tx.to_string();
                let origin = Origin {
                    file: "changes.jsonl",
                    text: &text,
                    offset: 0,
                };
                let read = read_transaction(&text, &origin, &set.schema, &Limits::default())
                    .unwrap_or_else(|e| panic!("{text}: {e:?}"));
                if read
                    .if_revision
                    .as_deref()
                    .is_some_and(|r| r != revision.to_string())
                {
                    failed_preconditions += 1;
                    continue;
                }
                match apply(&store, &read, &set.schema, cycles) {
                    Ok(applied) => {
                        ops_applied += read.ops.len();
                        store = applied.entities;
                        model = next;
                        revision += 1;
                    }
                    Err(e) => {
                        assert!(e.contains("cycle"), "{text}: {e}");
                        assert_eq!(cycles, Cycles::Refused, "{text}: {e}");
                        // Refused because the model would be cyclic.
                        assert!(rebuilt(&set, &next, cycles).is_none(), "{text}: {e}");
                        refused_cycles += 1;
                    }
                }
            }
            batches += 1;
            assert_eq!(
                matrix(&prepared, &held, w.context.as_ref()),
                held_matrix,
                "world {seed}, batch {batch}: an older revision changed"
            );
            let scratch = rebuilt(&set, &model, cycles).expect("the model loads");
            assert_eq!(
                matrix(&prepared, &store, w.context.as_ref()),
                matrix(&prepared, &scratch, w.context.as_ref()),
                "world {seed}, batch {batch}"
            );
        }
    }
    eprintln!(
        "{ops_generated} operations, {ops_applied} applied in {batches} batches; {refused_cycles} transactions refused for a cycle, {failed_preconditions} for their precondition"
    );
    assert!(ops_generated >= 10_000, "{ops_generated} operations");
    assert!(refused_cycles > 0 && failed_preconditions > 0);
}
