//! Access review over a concrete entity store: who can do an action on a
//! resource, what a principal can do, the whole access matrix, the
//! least-privilege findings and the grants a log of requests never needed.
//!
//! Every answer is exact and complete over the enumeration domain
//! ([`domain`]): each request of it is judged as `authorize` would judge it
//! ([`judge`] shares work between requests without changing an answer),
//! and an answer is cut short only by an explicit `max_results`, which the
//! [`Answer`] says.

pub mod bound;
pub mod domain;
pub mod findings;
pub mod grants;
pub mod html;
pub mod judge;
mod memo;
pub mod report;
pub mod unused;

use crate::authorize::{Options, PreparedSet};
use crate::entities::json::parse_uid;
use crate::entities::json::Request;
use crate::entities::Entities;
use crate::policy_set::PolicySet;
use crate::syntax::ast::{EntityUid, Name};
use domain::{Domain, DomainError};
use judge::{Coverage, Judge, Keep, Line, Unseen};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

/// An audit: a policy set, a store, the options and the domain.
pub struct Auditor<'a> {
    /// The prepared set: policies, index and options.
    pub prepared: &'a PreparedSet,
    /// The policies (the prepared set's).
    pub set: &'a PolicySet,
    /// The store.
    pub entities: &'a Entities,
    /// How requests are judged (the prepared set's).
    pub options: &'a Options,
    /// Every request an answer covers (shared: a server keeps it between
    /// searches on one store).
    pub domain: Arc<Domain>,
    /// Whether who-can takes the hierarchy's bound ([`bound`]).
    hierarchy_bound: bool,
}

/// The lines of an answer, sorted by principal, action, resource and
/// context, and whether it is complete.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The judged requests reported.
    pub lines: Vec<Line>,
    /// False when `max_results` cut the answer: more lines exist.
    pub complete: bool,
}

/// How a query runs.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Threads to judge on (at least one).
    pub threads: usize,
    /// Report at most this many lines.
    pub max_results: Option<usize>,
    /// Report every request, denied ones included.
    pub all: bool,
}

impl Run {
    fn keep(&self) -> Keep {
        if self.all {
            Keep::Every
        } else {
            Keep::Reported
        }
    }
}

impl Default for Run {
    fn default() -> Run {
        Run {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_results: None,
            all: false,
        }
    }
}

/// Calls `f(p, i)` for each principal `p` of each context numbered `i` in
/// `found`, once per context (`last`: scratch of a slot per node).
fn each_once(found: &[Vec<u32>], last: &mut [usize], mut f: impl FnMut(u32, usize)) {
    last.fill(usize::MAX);
    for (i, principals) in found.iter().enumerate() {
        for &p in principals {
            if std::mem::replace(&mut last[p as usize], i) != i {
                f(p, i);
            }
        }
    }
}

/// One principal's share of a query: its actions, the one resource when
/// the query names it, and the only contexts to judge (each once, in the
/// action's order, so that its lines come sorted) when the others are
/// known not to be reported.
struct Unit {
    principal: u32,
    actions: Vec<usize>,
    resource: Option<u32>,
    contexts: Option<Vec<u32>>,
}

impl<'a> Auditor<'a> {
    /// An audit of `set` over `entities`; `context` (a JSON object) fixes
    /// context attributes of every action.
    pub fn new(
        prepared: &'a PreparedSet,
        entities: &'a Entities,
        context: Option<&Json>,
    ) -> Result<Auditor<'a>, DomainError> {
        let domain = Domain::build(prepared.set(), entities, context)?;
        Ok(Auditor::with_domain(prepared, entities, domain))
    }

    /// An audit of `set` over `entities` on a domain built by the caller
    /// ([`Domain::build_exact`], say).
    pub fn with_domain(
        prepared: &'a PreparedSet,
        entities: &'a Entities,
        domain: impl Into<Arc<Domain>>,
    ) -> Auditor<'a> {
        let domain = domain.into();
        Auditor {
            prepared,
            set: prepared.set(),
            entities,
            options: prepared.options(),
            domain,
            hierarchy_bound: true,
        }
    }

    /// This audit, with who-can judging every principal (the bound of
    /// [`bound`] off: the reference it must agree with, and the
    /// benchmark's "before").
    pub fn without_hierarchy_bound(mut self) -> Auditor<'a> {
        self.hierarchy_bound = false;
        self
    }

    /// The domain's action numbered by name (`Action::"a"` or just `a`).
    pub fn action(&self, name: &str) -> Result<usize, DomainError> {
        let uid = uid_or_action(name);
        if let Some(i) = self.domain.actions.iter().position(|a| a.action == uid) {
            return Ok(i);
        }
        // Suggest among ids for a bare id, among uids for a uid.
        let bare = !name.contains("::");
        let spelled = |a: &domain::ActionDomain| -> String {
            if bare {
                a.action.id.to_string()
            } else {
                self.domain.name(a.node).to_string()
            }
        };
        let names: Vec<String> = self.domain.actions.iter().map(spelled).collect();
        let help = crate::suggest::closest(name, names.iter().map(String::as_str))
            .and_then(|best| names.iter().position(|n| *n == best))
            .map(|i| {
                format!(
                    "; did you mean `{}`?",
                    self.domain.name(self.domain.actions[i].node)
                )
            })
            .unwrap_or_default();
        Err(DomainError::Unknown {
            what: "action",
            name: name.to_string(),
            help,
        })
    }

    /// The store node of the entity `name` (`Type::"id"`).
    pub fn entity(&self, what: &'static str, name: &str) -> Result<u32, DomainError> {
        parse_uid(name)
            .ok()
            .and_then(|uid| self.entities.node(&uid))
            .filter(|&n| self.entities.get(self.entities.node_uid(n)).is_some())
            .ok_or_else(|| DomainError::Unknown {
                what,
                name: name.to_string(),
                help: " (not an entity of the store; write it as Type::\"id\")".into(),
            })
    }

    /// Every principal allowed `action` on `resource` (every principal with
    /// `run.all`), each context of the action enumerated.
    pub fn who_can(&self, action: usize, resource: u32, run: Run) -> Result<Answer, DomainError> {
        let ad = &self.domain.actions[action];
        if !ad.resources.contains(&resource) {
            return Err(DomainError::Unknown {
                what: "resource",
                name: self.domain.name(resource).to_string(),
                help: format!(
                    " of action `{}` (its type is not one the action applies to)",
                    ad.action
                ),
            });
        }
        if !run.all {
            if let Some(units) = self.bounded_units(action, resource) {
                return Ok(self.run(units, run));
            }
        }
        let units = ad
            .principals
            .iter()
            .map(|&p| Unit {
                principal: p,
                actions: vec![action],
                resource: Some(resource),
                contexts: None,
            })
            .collect();
        Ok(self.run(units, run))
    }

    /// Whether who-can of `action` on `resource` judges only the
    /// principals the hierarchy bounds ([`bound`]) when it lists what is
    /// reported.
    pub fn who_can_is_bounded(&self, action: usize, resource: u32) -> bool {
        self.bounded_units(action, resource).is_some()
    }

    /// The units of who-can where the hierarchy bounds the principals
    /// ([`bound`]): per context, only those below what the permits ask
    /// the principal to be in; `None` where it does not.
    fn bounded_units(&self, action: usize, resource: u32) -> Option<Vec<Unit>> {
        if !self.hierarchy_bound {
            return None;
        }
        let ad = &self.domain.actions[action];
        let bound = bound::ActionBound::of(self.set, self.entities, &ad.action, self.options)?;
        let below = self.domain.below.get_or_init(|| self.principals_below());
        let mut member = vec![false; self.entities.node_count() as usize];
        for &p in &ad.principals {
            member[p as usize] = true;
        }
        let mut request = Request {
            principal: self.entities.node_uid(*ad.principals.first()?).clone(),
            action: ad.action.clone(),
            resource: self.entities.node_uid(resource).clone(),
            context: crate::eval::Value::empty_record(),
        };
        let inputs = bound::Inputs {
            set: self.set,
            entities: self.entities,
            options: self.options,
            domain: &self.domain,
            principals: &ad.principals,
            below,
        };
        // Each context's principals, of the action's.
        let mut found: Vec<Vec<u32>> = Vec::with_capacity(ad.contexts.len());
        for &c in &ad.contexts {
            request.context = self.domain.contexts[c as usize].clone();
            let mut principals = bound.principals(&inputs, &request)?;
            principals.retain(|&p| member[p as usize]);
            found.push(principals);
        }
        // Each principal's contexts in the action's order, each once (a
        // principal may be bound twice in one context), laid out one
        // principal after the other: counted, then placed.
        let nodes = self.entities.node_count() as usize;
        let mut last = vec![usize::MAX; nodes];
        let mut start = vec![0usize; nodes + 1];
        each_once(&found, &mut last, |p, _| start[p as usize + 1] += 1);
        for n in 0..nodes {
            start[n + 1] += start[n];
        }
        let mut placed = vec![u32::MAX; start[nodes]];
        let mut next = start.clone();
        each_once(&found, &mut last, |p, i| {
            placed[next[p as usize]] = ad.contexts[i];
            next[p as usize] += 1;
        });
        Some(
            ad.principals
                .iter()
                .filter_map(|&p| {
                    let only = &placed[start[p as usize]..start[p as usize + 1]];
                    (!only.is_empty()).then(|| Unit {
                        principal: p,
                        actions: vec![action],
                        resource: Some(resource),
                        contexts: Some(only.to_vec()),
                    })
                })
                .collect(),
        )
    }

    /// The domain's principals under each of their ancestors (of the
    /// audit's store: the domain is only ever shared with the store it was
    /// built on).
    fn principals_below(&self) -> HashMap<u32, Vec<u32>> {
        let mut below: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut ancestors = Vec::new();
        for p in self.domain.principals() {
            ancestors.clear();
            self.entities.ancestors_into(p, &mut ancestors);
            for &a in &ancestors {
                below.entry(a).or_default().push(p);
            }
        }
        below
    }

    /// Every allowed (action, resource, context) of `principal`, over the
    /// actions numbered `actions` (every action when empty).
    pub fn what_can(&self, principal: u32, actions: &[usize], run: Run) -> Answer {
        let actions = self.actions_of(principal, actions);
        self.run(
            vec![Unit {
                principal,
                actions,
                resource: None,
                contexts: None,
            }],
            run,
        )
    }

    /// Every allowed (principal, action, resource, context) of the store,
    /// over principals of `types` (every type when empty) and the actions
    /// numbered `actions` (every action when empty).
    pub fn matrix(&self, types: &[Name], actions: &[usize], run: Run) -> Answer {
        self.run(self.matrix_units(types, actions), run)
    }

    fn matrix_units(&self, types: &[Name], actions: &[usize]) -> Vec<Unit> {
        let principals: Vec<u32> = self
            .domain
            .principals()
            .into_iter()
            .filter(|&p| types.is_empty() || types.contains(&self.entities.node_uid(p).ty))
            .filter(|&p| !self.actions_of(p, actions).is_empty())
            .collect();
        principals
            .into_iter()
            .map(|p| Unit {
                principal: p,
                actions: self.actions_of(p, actions),
                resource: None,
                contexts: None,
            })
            .collect()
    }

    fn actions_of(&self, principal: u32, only: &[usize]) -> Vec<usize> {
        self.domain.actions_of(principal, only)
    }

    /// Judges `units` on `run.threads` threads, in order; with
    /// `max_results`, stops once the units judged so far, in order, hold
    /// more lines than that, and reports the first `max_results` of them:
    /// the same lines whatever the threads.
    fn run(&self, units: Vec<Unit>, run: Run) -> Answer {
        let limit = run.max_results.unwrap_or(usize::MAX);
        let results: Mutex<Vec<Option<Vec<Line>>>> = Mutex::new(vec![None; units.len()]);
        let next = AtomicUsize::new(0);
        let found = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let work = |judge: &mut Judge| loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let u = next.fetch_add(1, Ordering::Relaxed);
            let Some(unit) = units.get(u) else {
                break;
            };
            let mut lines = Vec::new();
            judge.principal_within(
                unit.principal,
                &unit.actions,
                unit.resource,
                unit.contexts.as_deref(),
                run.keep(),
                &mut lines,
            );
            if found.fetch_add(lines.len(), Ordering::Relaxed) + lines.len() > limit {
                stop.store(true, Ordering::Relaxed);
            }
            if let Ok(mut r) = results.lock() {
                r[u] = Some(lines);
            }
        };
        let threads = run.threads.clamp(1, units.len().max(1));
        if threads == 1 {
            work(&mut self.judge());
        } else {
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| work(&mut self.judge()));
                }
            });
        }
        let mut results = results.into_inner().unwrap_or_default();
        // The judged prefix, completed in order where threads stopped early;
        // sized once (an answer may hold millions of lines).
        let judged: usize = results.iter().flatten().map(Vec::len).sum();
        let mut lines = Vec::with_capacity(judged.min(limit.saturating_add(1)));
        let mut judge = None;
        for (u, slot) in results.iter_mut().enumerate() {
            if lines.len() > limit {
                break;
            }
            let unit_lines = match slot.take() {
                Some(l) => l,
                None => {
                    let judge = judge.get_or_insert_with(|| self.judge());
                    let unit = &units[u];
                    let mut l = Vec::new();
                    judge.principal_within(
                        unit.principal,
                        &unit.actions,
                        unit.resource,
                        unit.contexts.as_deref(),
                        run.keep(),
                        &mut l,
                    );
                    l
                }
            };
            lines.extend(unit_lines);
        }
        let complete = lines.len() <= limit;
        lines.truncate(limit);
        Answer { lines, complete }
    }

    /// What the evaluations of every request of the domain saw, on
    /// `threads` threads: which policies some request reached, the
    /// permits' counts, the rules called and the clauses that held; the
    /// same whatever the threads, and the same as judging every request
    /// whole. Two passes share each thread's memo: the permits' with the
    /// matrix's shortcuts, then, from what it saw, the forbids' wherever
    /// one could still add something (`judge/forbids.rs`).
    pub fn coverage(&self, threads: usize) -> Coverage {
        let units = self.matrix_units(&[], &[]);
        let unseen = Unseen::new(self.set);
        let threads = threads.clamp(1, units.len().max(1));
        let (first, second) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let permits = Mutex::new(Coverage::new(self.set));
        let forbids = Mutex::new(Coverage::new(self.set));
        let between = Barrier::new(threads);
        let work = || {
            let mut judge = self.judge();
            judge.record_coverage();
            let mut lines = Vec::new();
            while let Some(unit) = units.get(first.fetch_add(1, Ordering::Relaxed)) {
                judge.principal(
                    unit.principal,
                    &unit.actions,
                    unit.resource,
                    Keep::Nothing,
                    &mut lines,
                );
                lines.clear();
            }
            if let Some(seen) = &judge.coverage {
                lock(&permits).merge(seen);
            }
            between.wait();
            let seen = lock(&permits).clone();
            if !unseen.any(&seen) {
                return;
            }
            judge.resume_coverage(seen);
            while let Some(unit) = units.get(second.fetch_add(1, Ordering::Relaxed)) {
                if !judge.coverage.as_ref().is_some_and(|c| unseen.any(c)) {
                    break;
                }
                judge.forbids(unit.principal, &unit.actions, unit.resource, &unseen);
            }
            if let Some(seen) = &judge.coverage {
                lock(&forbids).merge_reach(seen);
            }
        };
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(work);
            }
        });
        let mut total = lock(&permits).clone();
        total.merge_reach(&lock(&forbids));
        total
    }

    /// A judge for one thread.
    pub fn judge(&self) -> Judge<'_> {
        Judge::new(self.prepared, self.entities, &self.domain)
    }
}

/// `m` locked; a thread that panicked holding it ends its scope with its
/// own panic, so what it holds is never read as an answer.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `Action::"a"` for `a`, or the uid `name` spells.
pub fn uid_or_action(name: &str) -> EntityUid {
    crate::syntax::uid::parse_action(name).unwrap_or_else(|_| EntityUid::new("Action", name))
}

/// `f` on `0..count` on up to `threads` threads, each with its own
/// `worker` (made on the thread that uses it), the results in order
/// whatever the threads.
pub fn in_order<W, T: Send>(
    count: usize,
    threads: usize,
    worker: impl Fn() -> W + Sync,
    f: impl Fn(&mut W, usize) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        let mut w = worker();
        return (0..count).map(|i| f(&mut w, i)).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut w = worker();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let r = f(&mut w, i);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    // A thread that panicked makes `scope` panic, so every slot is filled.
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
