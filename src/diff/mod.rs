//! Change impact (`mspl diff`): every request whose decision two versions
//! of a policy set, or of the entity store, or of both, decide differently,
//! and the policies, rules and entities responsible.
//!
//! Over a store the answer is exact: the requests of the audit's
//! enumeration domain (the union of both versions' domains) are judged by
//! the audit's judge. When only the policies differ, one judge holds both
//! versions ([`changes::merge`]): what they share is evaluated once, and a
//! request that no changed policy can apply to is not judged at all (both
//! versions judge the same policies alike). When the stores differ, each
//! version is judged on its own store and the answers are compared. Either
//! way each request found is decided again by `authorize` on both
//! versions, which gives the responses reported. [`search`] looks for a
//! difference in generated stores.

pub mod blame;
pub mod changes;
pub mod reach;
pub mod report;
pub mod search;

use crate::audit::domain::{Domain, DomainError};
use crate::audit::in_order;
use crate::audit::judge::{Judge, Keep, Line};
use crate::authorize::{Options, PreparedSet, Response};
use crate::entities::build::add_named_actions;
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::policy_set::PolicySet;
use crate::schema::Type;
use crate::syntax::ast::{EntityUid, Name};
use crate::value::Value;
use changes::{changed_entities, Changes, Status};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Why a diff has no answer.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The domain could not be enumerated.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The shared judging and `authorize` disagree: a bug, reported
    /// rather than answered wrong.
    #[error(
        "internal error: the diff's judging and `authorize` disagree on {0}; please report it"
    )]
    Disagree(String),
}

/// One request whose decision differs between the versions.
#[derive(Clone, Debug)]
pub struct Flip {
    /// The request.
    pub request: Request,
    /// Its context's canonical JSON text (the order of an answer).
    pub context_json: String,
    /// The old version's response.
    pub old: Response,
    /// The new version's response.
    pub new: Response,
    /// Who is responsible, by kind, each with how it changed.
    pub blame: Vec<Blamed>,
}

impl Flip {
    /// Whether the new version allows what the old one denied.
    pub fn newly_allowed(&self) -> bool {
        self.new.decision == crate::authorize::Decision::Allow
    }
}

/// A policy, rule or entity responsible for a flip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blamed {
    /// The policy's id, `rule:NAME` for a rule, `Type::"id"` for an entity.
    pub id: String,
    /// How it changed (`changed`, `added`, `entity changed`, …).
    pub what: String,
}

/// Two versions of a policy set and a store, ready to compare.
pub struct Diff<'a> {
    /// The old version, prepared.
    pub old: &'a PreparedSet,
    /// The new version, prepared.
    pub new: &'a PreparedSet,
    /// The old policies.
    pub old_set: &'a PolicySet,
    /// The new policies.
    pub new_set: &'a PolicySet,
    /// The old store, knowing every uid of the new one.
    pub old_entities: Entities,
    /// The new store, knowing every uid of the old one.
    pub new_entities: Entities,
    /// How requests are judged.
    pub options: &'a Options,
    /// What differs between the policy sets.
    pub changes: Changes,
    /// The entities that differ between the stores, and how.
    pub entity_changes: BTreeMap<EntityUid, Status>,
    old_ids: HashMap<smol_str::SmolStr, u32>,
    new_ids: HashMap<smol_str::SmolStr, u32>,
    /// Per old and per new policy: the rules it calls whose own text
    /// changed, as blamed.
    old_rules: Vec<Vec<Blamed>>,
    new_rules: Vec<Vec<Blamed>>,
}

/// A request found to flip, with the response of the version that judged
/// it where one did.
struct Found {
    request: Request,
    context_json: String,
    old: Option<Response>,
    new: Option<Response>,
}

impl<'a> Diff<'a> {
    /// The comparison of `old` over `old_entities` with `new` over
    /// `new_entities`, judged under `old`'s options. Each store gets the
    /// actions both sets' scopes name (as the audit adds them) and a node
    /// for each uid of the other.
    pub fn new(
        old: &'a PreparedSet,
        mut old_entities: Entities,
        new: &'a PreparedSet,
        mut new_entities: Entities,
    ) -> Diff<'a> {
        let (old_set, new_set, options) = (old.set(), new.set(), old.options());
        for set in [old_set, new_set] {
            add_named_actions(set, &mut old_entities);
            add_named_actions(set, &mut new_entities);
        }
        for n in 0..new_entities.node_count() {
            old_entities.add_node(new_entities.node_uid(n));
        }
        for n in 0..old_entities.node_count() {
            new_entities.add_node(old_entities.node_uid(n));
        }
        let ids = |set: &PolicySet| {
            set.policies
                .iter()
                .enumerate()
                .map(|(i, p)| (p.id.clone(), crate::policy_set::number(i)))
                .collect()
        };
        let changes = Changes::between(old_set, new_set);
        // Per policy: the rules it calls whose own text changed (a rule
        // that only calls a changed one is not where the change is).
        let rules = |calls: &[BTreeSet<Name>]| {
            calls
                .iter()
                .map(|called| {
                    called
                        .iter()
                        .filter_map(|name| match changes.rules.get(name) {
                            Some(Status::CallsChanged) | None => None,
                            Some(status) => Some(Blamed {
                                id: format!("rule:{name}"),
                                what: status.describe().to_string(),
                            }),
                        })
                        .collect()
                })
                .collect::<Vec<Vec<Blamed>>>()
        };
        Diff {
            old_rules: rules(&changes.old_calls),
            new_rules: rules(&changes.new_calls),
            old_set,
            new_set,
            changes,
            entity_changes: changed_entities(&old_entities, &new_entities),
            old,
            new,
            old_ids: ids(old_set),
            new_ids: ids(new_set),
            old_entities,
            new_entities,
            options,
        }
    }

    /// The number of requests of the domain (both versions' domains
    /// joined) that [`Diff::over_domain`] judges: a gate over none is no
    /// gate.
    pub fn domain_size(
        &self,
        context: Option<&Json>,
        choices: &dyn Fn(&Type) -> Option<Vec<Value>>,
    ) -> Result<u128, DiffError> {
        let new = Domain::build_with(self.new_set, &self.new_entities, context, choices)?;
        let old = Domain::build_with(self.old_set, &self.old_entities, context, choices)?;
        Ok(new
            .union(&self.new_entities, &old, &self.old_entities)
            .size())
    }

    /// Every request of the domain (both versions' domains joined) that the
    /// versions decide differently, in the audit's order; `context` fixes
    /// context attributes, `choices` gives the values of those that cannot
    /// be enumerated.
    pub fn over_domain(
        &self,
        context: Option<&Json>,
        threads: usize,
        choices: &dyn Fn(&Type) -> Option<Vec<Value>>,
    ) -> Result<Vec<Flip>, DiffError> {
        if self.changes.is_empty() && self.entity_changes.is_empty() {
            return Ok(Vec::new());
        }
        let new_domain = Domain::build_with(self.new_set, &self.new_entities, context, choices)?;
        // A domain depends on the set only through its declared actions
        // (or, without declarations, the actions its scopes name): the
        // same declarations over the same store give the same domain.
        let same = self.old_set.schema == self.new_set.schema
            && !self.new_set.schema.actions.is_empty()
            && self.entity_changes.is_empty();
        let old_domain = if same {
            None
        } else {
            Some(Domain::build_with(
                self.old_set,
                &self.old_entities,
                context,
                choices,
            )?)
        };
        let found = if self.entity_changes.is_empty() {
            self.policy_flips(old_domain.as_ref(), &new_domain, threads)
        } else {
            let old_domain = match old_domain {
                Some(d) => d,
                None => Domain::build_with(self.old_set, &self.old_entities, context, choices)?,
            };
            self.store_flips(&old_domain, &new_domain, threads)
        };
        // Each found request decided by the version that did not judge it,
        // on every core.
        const CHUNK: usize = 1024;
        let mut found = found.into_iter();
        let mut chunks: Vec<std::sync::Mutex<Vec<Found>>> = Vec::new();
        loop {
            let chunk: Vec<Found> = found.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(std::sync::Mutex::new(chunk));
        }
        let decided = in_order(
            chunks.len(),
            threads,
            || (),
            |_, k| {
                // A lock another thread poisoned still holds its chunk.
                let mut chunk = chunks[k].lock().unwrap_or_else(|e| e.into_inner());
                std::mem::take(&mut *chunk)
                    .into_iter()
                    .map(|f| {
                        self.flip(f).map_err(|r| {
                            DiffError::Disagree(format!(
                                "{}, {}, {}",
                                r.principal, r.action, r.resource
                            ))
                        })
                    })
                    .collect::<Vec<_>>()
            },
        );
        decided.into_iter().flatten().collect()
    }

    /// The requests of `requests` that the versions decide differently, in
    /// the audit's order, each once.
    pub fn over_requests(&self, requests: &[Request]) -> Vec<Flip> {
        let mut found: Vec<Found> = requests
            .iter()
            .map(|r| Found {
                context_json: serde_json::to_string(&r.context.to_json()).unwrap_or_default(),
                request: r.clone(),
                old: None,
                new: None,
            })
            .collect();
        found.sort_by_cached_key(|f| {
            let r = &f.request;
            (
                r.principal.to_string(),
                r.action.to_string(),
                r.resource.to_string(),
                f.context_json.clone(),
            )
        });
        found.dedup_by(|a, b| a.request == b.request);
        found
            .into_iter()
            .filter_map(|f| self.flip(f).ok())
            .collect()
    }

    /// `found` decided by both versions (the response given reused), with
    /// the blame; the request back when they decide alike.
    fn flip(&self, found: Found) -> Result<Flip, Box<Request>> {
        let request = found.request;
        let old = found
            .old
            .unwrap_or_else(|| self.old.authorize(&self.old_entities, &request));
        let new = found
            .new
            .unwrap_or_else(|| self.new.authorize(&self.new_entities, &request));
        if old.decision == new.decision {
            return Err(Box::new(request));
        }
        let blame = blame::blame(self, &request, &old, &new);
        Ok(Flip {
            request,
            context_json: found.context_json,
            old,
            new,
            blame,
        })
    }

    /// Only the policies differ: one judge over the merged set and the one
    /// store, requests that no changed policy applies to skipped. `old`:
    /// the old version's domain, where it may differ from the new one's.
    fn policy_flips(&self, old: Option<&Domain>, new: &Domain, threads: usize) -> Vec<Found> {
        let store = &self.new_entities;
        let joined = old.map(|old| new.union(store, old, &self.old_entities));
        let domain = joined.as_ref().unwrap_or(new);
        let merged = changes::merge(self.old_set, self.new_set, &self.changes);
        let prepared = PreparedSet::new(merged.set, *self.options);
        let principals = domain.principals();
        let lines = in_order(
            principals.len(),
            threads,
            || {
                let mut judge = Judge::new(&prepared, store, domain);
                judge.set_versions(&merged.versions);
                judge
            },
            |judge, u| {
                let p = principals[u];
                let mut lines = Vec::new();
                judge.principal(p, &domain.actions_of(p, &[]), None, Keep::Flips, &mut lines);
                lines
            },
        );
        lines
            .into_iter()
            .flatten()
            .map(|line| {
                let (request, context_json) = request_of(domain, store, &line);
                Found {
                    request,
                    context_json,
                    old: None,
                    new: Some(line.response),
                }
            })
            .collect()
    }

    /// The stores differ: each version judged on its own store over the
    /// joined domain, the allowed requests of the two compared.
    fn store_flips(&self, old: &Domain, new: &Domain, threads: usize) -> Vec<Found> {
        let (old_store, new_store) = (&self.old_entities, &self.new_entities);
        let old_domain = old.union(old_store, new, new_store);
        let new_domain = new.union(new_store, old, old_store);
        // Only the data changed: the entities a changed one can be read
        // from. `None` where the policies changed too, or a policy names
        // one of them (then every request may read it).
        let tainted = self
            .changes
            .is_empty()
            .then(|| reach::tainted(&self.entity_changes, [old_store, new_store]))
            .filter(|t| !reach::names_any([self.old_set, self.new_set], t));
        let reached = tainted.map(|t| Reached::of(&new_domain, new_store, t));
        let principals = new_domain.principals();
        let found = in_order(
            principals.len(),
            threads,
            || {
                (
                    Judge::new(self.old, old_store, &old_domain),
                    Judge::new(self.new, new_store, &new_domain),
                )
            },
            |(old_judge, new_judge), u| {
                let p_new = principals[u];
                let uid = new_store.node_uid(p_new);
                let Some(p_old) = old_store.node(uid) else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                for (actions, resource) in calls(&new_domain, p_new, new_store, reached.as_ref()) {
                    let old_resource = resource.and_then(|r| old_store.node(new_store.node_uid(r)));
                    let allowed = |judge: &mut Judge, p: u32, r: Option<u32>| {
                        let mut lines = Vec::new();
                        judge.principal(p, &actions, r, Keep::Reported, &mut lines);
                        lines.retain(|l| l.response.decision == crate::authorize::Decision::Allow);
                        lines
                    };
                    let before = allowed(old_judge, p_old, old_resource);
                    let after = allowed(new_judge, p_new, resource);
                    compare(
                        (&old_domain, old_store, &before),
                        (&new_domain, new_store, &after),
                        &mut out,
                    );
                }
                out
            },
        );
        found.into_iter().flatten().collect()
    }

    /// The rules policy `i` of the old version (`old`) or the new one calls
    /// whose own text changed.
    fn rules_of(&self, old: bool, i: u32) -> &[Blamed] {
        let rules = if old {
            &self.old_rules
        } else {
            &self.new_rules
        };
        &rules[i as usize]
    }

    /// The number in the old version of the policy with id `id`.
    fn old_policy(&self, id: &str) -> Option<u32> {
        self.old_ids.get(id).copied()
    }

    /// The number in the new version of the policy with id `id`.
    fn new_policy(&self, id: &str) -> Option<u32> {
        self.new_ids.get(id).copied()
    }
}

/// Where a data change can be read from, per action of a domain.
struct Reached {
    /// The entities a changed one can be read from.
    tainted: HashSet<EntityUid>,
    /// Per action: whether every request may read one (the action or a
    /// context holds one).
    whole: Vec<bool>,
    /// Per action: the resources that are such entities.
    resources: Vec<Vec<u32>>,
}

impl Reached {
    fn of(domain: &Domain, store: &Entities, tainted: HashSet<EntityUid>) -> Reached {
        let whole = domain
            .actions
            .iter()
            .map(|ad| {
                tainted.contains(&ad.action)
                    || ad
                        .contexts
                        .iter()
                        .any(|&c| reach::holds_any(&domain.contexts[c as usize], &tainted))
            })
            .collect();
        let resources = domain
            .actions
            .iter()
            .map(|ad| {
                ad.resources
                    .iter()
                    .copied()
                    .filter(|&r| tainted.contains(store.node_uid(r)))
                    .collect()
            })
            .collect();
        Reached {
            tainted,
            whole,
            resources,
        }
    }
}

/// The judge calls that cover every request of `principal` a data change
/// can flip, in the domain's order: all its actions when it may read a
/// changed entity, or any request may (`reached` is `None`); else per
/// action, all of it where the action or a context may, else each resource
/// that may.
fn calls(
    domain: &Domain,
    principal: u32,
    store: &Entities,
    reached: Option<&Reached>,
) -> Vec<(Vec<usize>, Option<u32>)> {
    let all = domain.actions_of(principal, &[]);
    let Some(reached) = reached.filter(|r| !r.tainted.contains(store.node_uid(principal))) else {
        return vec![(all, None)];
    };
    let mut calls = Vec::new();
    for a in all {
        if reached.whole[a] {
            calls.push((vec![a], None));
        } else {
            calls.extend(reached.resources[a].iter().map(|&r| (vec![a], Some(r))));
        }
    }
    calls
}

/// Adds to `out` the requests allowed in only one of `before` (the old
/// version's lines) and `after`, both in their domain's order (action,
/// resource, context).
fn compare(
    (old_domain, old_store, before): (&Domain, &Entities, &[Line]),
    (new_domain, new_store, after): (&Domain, &Entities, &[Line]),
    out: &mut Vec<Found>,
) {
    let key = |d: &'_ Domain, l: &Line| {
        (
            l.action,
            d.name(l.ids.resource).to_string(),
            d.context_json[l.ids.context as usize].clone(),
        )
    };
    let (mut i, mut j) = (0, 0);
    while i < before.len() || j < after.len() {
        let a = before.get(i).map(|l| key(old_domain, l));
        let b = after.get(j).map(|l| key(new_domain, l));
        match (a, b) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                out.push(found(old_domain, old_store, &before[i], true));
                i += 1;
            }
            (Some(_), None) => {
                out.push(found(old_domain, old_store, &before[i], true));
                i += 1;
            }
            _ => {
                out.push(found(new_domain, new_store, &after[j], false));
                j += 1;
            }
        }
    }
}

/// The request of a line that one version allowed (the old one when
/// `old`), with that version's response.
fn found(domain: &Domain, store: &Entities, line: &Line, old: bool) -> Found {
    let (request, context_json) = request_of(domain, store, line);
    let response = Some(line.response.clone());
    let (old, new) = if old {
        (response, None)
    } else {
        (None, response)
    };
    Found {
        request,
        context_json,
        old,
        new,
    }
}

/// The request of an answer's line, and its context's JSON text.
fn request_of(domain: &Domain, store: &Entities, line: &Line) -> (Request, String) {
    let ids = line.ids;
    (
        Request {
            principal: store.node_uid(ids.principal).clone(),
            action: store.node_uid(ids.action).clone(),
            resource: store.node_uid(ids.resource).clone(),
            context: domain.contexts[ids.context as usize].clone(),
        },
        domain.context_json[ids.context as usize].clone(),
    )
}
