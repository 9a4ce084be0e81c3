//! Templates against the declarations, as Cedar's validator checks them:
//! once for every type each slot may take. Each template is filled with a
//! stand-in entity of every declared entity type (every pair of types for
//! two slots), and the instances are checked as policies are. A problem of
//! any instance is the template's; a scope or policy that can never apply
//! is reported only when it is so for every instance.

use super::error::{Problem, ValidationError as E};
use super::Declared;
use crate::policy_set::{PolicyEntry, PolicySet};
use crate::syntax::ast::{EntityUid, Name, Slot};

/// Every problem of the templates of `set` (none without templates).
pub(crate) fn check(set: &PolicySet) -> Vec<Problem> {
    if set.templates.is_empty() {
        return Vec::new();
    }
    let types: Vec<&Name> = set.schema.entity_types.keys().collect();
    let mut probe = set.clone();
    probe.policies.clear();
    probe.templates.clear();
    // How many instances each template has, in `probe.policies` order.
    let mut counts = Vec::new();
    for t in &set.templates {
        let before = probe.policies.len();
        for fill in fillings(&t.policy.slots(), &types) {
            let policy = t.policy.linked(|slot| {
                let ty = fill.iter().find(|(s, _)| *s == slot)?.1;
                Some((stand_in(set, ty), t.policy.scope_of(slot).span()))
            });
            probe.policies.push(PolicyEntry {
                id: t.id.clone(),
                policy,
                link: None,
            });
        }
        counts.push((t, probe.policies.len() - before));
    }
    let index = Declared::new(&probe);
    let mut problems = super::policies::check(&index);
    // The rules are checked with the whole set; here they would be unused.
    problems.retain(|p| !matches!(p.error, E::RuleNeverUsed { .. }));
    let whole = |p: &Problem| {
        matches!(
            p.error,
            E::ImpossibleScope { .. } | E::ImpossiblePolicy { .. }
        )
    };
    let mut out: Vec<Problem> = problems.iter().filter(|p| !whole(p)).cloned().collect();
    for (t, count) in counts {
        let head = t.policy.head;
        let at_head: Vec<&Problem> = problems
            .iter()
            .filter(|p| whole(p) && p.span.file == head.file && p.span.start == head.start)
            .collect();
        if count > 0 && at_head.len() == count {
            // A scope some instance can meet, with conditions none can, is
            // the truer report.
            let pick = at_head
                .iter()
                .find(|p| matches!(p.error, E::ImpossiblePolicy { .. }))
                .unwrap_or(&at_head[0]);
            out.push((*pick).clone());
        }
    }
    out
}

/// Every assignment of a type to each of `slots`.
fn fillings<'a>(slots: &[Slot], types: &[&'a Name]) -> Vec<Vec<(Slot, &'a Name)>> {
    let mut out = vec![Vec::new()];
    for slot in slots {
        out = out
            .into_iter()
            .flat_map(|chosen: Vec<(Slot, &'a Name)>| {
                types.iter().map(move |ty| {
                    let mut next = chosen.clone();
                    next.push((*slot, *ty));
                    next
                })
            })
            .collect();
    }
    out
}

/// An entity of type `ty` standing for whatever a link may give: an id of
/// an enumerated type's, else one no policy writes.
fn stand_in(set: &PolicySet, ty: &Name) -> EntityUid {
    let id = set
        .schema
        .entity_types
        .get(ty)
        .and_then(|t| t.enum_ids.as_ref())
        .and_then(|ids| ids.first().cloned())
        .unwrap_or_else(|| "?slot".into());
    EntityUid::new(ty.clone(), id)
}
