//! The validator: policies, rules, entity data and requests checked against
//! the declarations, with Cedar's strict-mode typing.
//!
//! - [`types`]: the types and their lattice.
//! - `policies`: names, scopes, and the conditions typed per request
//!   environment; `templates`: each template once per type its slots may
//!   take; `expr` and `ops`: the typing rules.
//! - `data`: entity files and requests against the declarations.
//! - [`error`]: what is reported, and its diagnostics.
//!
//! **Guarantee.** A policy set that validates without errors never raises a
//! type error at evaluation on entities and requests that validate: no
//! operator gets an operand of the wrong type, no attribute or tag is read
//! where it may be missing, and no extension constructor fails. (Errors that
//! depend on values, not types, remain possible: integer overflow, a
//! referenced entity absent from the store, a rule cycle, a limit.)

pub mod error;
mod expr;
mod json;
mod ops;
mod policies;
mod templates;
pub mod tool_rules;
pub mod types;

pub mod data;

pub use error::{Problem, ValidationError};

use crate::policy_set::PolicySet;
use crate::schema::{Schema, Type as SchemaType};
use crate::syntax::ast::{EntityUid, Name};
use expr::Env;
use smol_str::SmolStr;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use types::{Attr, Ty};

/// The declarations of a policy set with the relations the validator asks
/// about: descendant types and descendant actions. They are walked when
/// asked and kept per type asked about, never closed for every type, so a
/// chain of thousands of types costs what the policies ask of it.
pub struct Declared<'a> {
    /// The policy set (its rules are typed at their calls).
    pub set: &'a PolicySet,
    /// The declarations.
    pub schema: &'a Schema,
    children: HashMap<Name, Vec<Name>>,
    action_children: HashMap<EntityUid, Vec<EntityUid>>,
    descendants: RefCell<HashMap<Name, Rc<BTreeSet<Name>>>>,
    action_in_type: RefCell<HashMap<(Name, Name), bool>>,
}

impl<'a> Declared<'a> {
    /// Indexes the declarations of `set`.
    pub fn new(set: &'a PolicySet) -> Declared<'a> {
        let schema = &set.schema;
        let mut children: HashMap<Name, Vec<Name>> = HashMap::new();
        for (name, t) in &schema.entity_types {
            for p in &t.parents {
                children.entry(p.clone()).or_default().push(name.clone());
            }
        }
        let mut action_children: HashMap<EntityUid, Vec<EntityUid>> = HashMap::new();
        for (uid, a) in &schema.actions {
            for p in &a.parents {
                action_children
                    .entry(p.clone())
                    .or_default()
                    .push(uid.clone());
            }
        }
        Declared {
            set,
            schema,
            children,
            action_children,
            descendants: RefCell::default(),
            action_in_type: RefCell::default(),
        }
    }

    /// Whether `ty` names action entities (`Action`, `Ns::Action`).
    pub fn is_action_type(&self, ty: &str) -> bool {
        crate::schema::is_action_type(ty)
    }

    /// Whether `ty` is a declared entity type or an action type.
    pub fn is_known_type(&self, ty: &str) -> bool {
        self.is_action_type(ty) || self.schema.entity_types.contains_key(ty)
    }

    /// The type of the literal `uid`, if it is declared.
    pub fn literal_type(&self, uid: &EntityUid) -> Option<Ty> {
        let known = if self.is_action_type(&uid.ty) {
            self.schema.actions.contains_key(uid)
        } else {
            self.schema.entity_types.contains_key(&uid.ty)
        };
        known.then(|| Ty::Entity(uid.ty.clone()))
    }

    /// The declared attribute `attr` of a record or entity type.
    pub fn attr_of(&self, ty: &Ty, attr: &str) -> Option<Attr> {
        match ty {
            Ty::Record(attrs) => attrs.get(attr).cloned(),
            Ty::Entity(n) => {
                let a = self.schema.entity_types.get(n)?.attrs.get(attr)?;
                Some(Attr {
                    ty: Ty::from_schema(&a.ty),
                    required: !a.optional,
                })
            }
            _ => None,
        }
    }

    /// The attribute names of a record or entity type, for suggestions.
    pub fn attr_names(&self, ty: &Ty) -> Vec<SmolStr> {
        match ty {
            Ty::Record(attrs) => attrs.keys().cloned().collect(),
            Ty::Entity(n) => self
                .schema
                .entity_types
                .get(n)
                .map(|t| t.attrs.keys().cloned().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The type of the tags of entity type `ty`, if it declares tags.
    pub fn tag_type(&self, ty: &str) -> Option<Ty> {
        self.schema
            .entity_types
            .get(ty)?
            .tags
            .as_ref()
            .map(Ty::from_schema)
    }

    /// The types that may have `ty` as an ancestor (not `ty` itself unless
    /// a cycle makes it so), walked once per `ty` asked about.
    fn descendants_of(&self, ty: &Name) -> Rc<BTreeSet<Name>> {
        if let Some(d) = self.descendants.borrow().get(ty) {
            return d.clone();
        }
        let d = Rc::new(reachable(&self.children, ty));
        self.descendants.borrow_mut().insert(ty.clone(), d.clone());
        d
    }

    /// `ty` and every type that may have it as an ancestor.
    pub fn types_in(&self, ty: &Name) -> BTreeSet<Name> {
        let mut all = (*self.descendants_of(ty)).clone();
        all.insert(ty.clone());
        all
    }

    /// Whether an entity of type `lhs` may be `in` an entity of type `rhs`.
    pub fn may_be_in(&self, lhs: &Name, rhs: &Name) -> bool {
        lhs == rhs || self.descendants_of(rhs).contains(lhs) || self.action_may_be_in(lhs, rhs)
    }

    /// Whether an action of type `lhs` is in a declared group of type `rhs`.
    fn action_may_be_in(&self, lhs: &Name, rhs: &Name) -> bool {
        let key = (lhs.clone(), rhs.clone());
        if let Some(&b) = self.action_in_type.borrow().get(&key) {
            return b;
        }
        let b = self
            .action_children
            .keys()
            .filter(|group| group.ty == *rhs)
            .any(|group| {
                reachable(&self.action_children, group)
                    .iter()
                    .any(|m| m.ty == *lhs)
            });
        self.action_in_type.borrow_mut().insert(key, b);
        b
    }

    /// The declared actions in any of `groups` (the groups included), or
    /// `None` when one of them is not a declared action.
    pub fn actions_in<'b>(
        &self,
        groups: impl IntoIterator<Item = &'b EntityUid>,
    ) -> Option<BTreeSet<EntityUid>> {
        let mut out = BTreeSet::new();
        for g in groups {
            if !self.schema.actions.contains_key(g) {
                return None;
            }
            out.insert(g.clone());
            out.extend(reachable(&self.action_children, g));
        }
        Some(out)
    }

    /// Every declared group `action` is in, transitively.
    pub fn action_groups_of(&self, action: &EntityUid) -> BTreeSet<EntityUid> {
        let mut seen = BTreeSet::new();
        let parents = |a: &EntityUid| {
            self.schema
                .actions
                .get(a)
                .map_or(&[][..], |a| &a.parents[..])
        };
        let mut todo: Vec<&EntityUid> = parents(action).iter().collect();
        while let Some(g) = todo.pop() {
            if seen.insert(g.clone()) {
                todo.extend(parents(g).iter());
            }
        }
        seen
    }

    /// Every request environment: each declared action with each of its
    /// principal types and resource types, in declaration order.
    pub(crate) fn envs(&self) -> Vec<Env> {
        let mut out = Vec::new();
        for (uid, a) in &self.schema.actions {
            let context = match &a.context {
                Some(SchemaType::Record(attrs)) => Ty::record_from_schema(attrs),
                _ => Ty::Record(Default::default()),
            };
            for p in a.principals.iter().flatten() {
                for r in a.resources.iter().flatten() {
                    out.push(Env {
                        principal: p.clone(),
                        action: uid.clone(),
                        resource: r.clone(),
                        context: context.clone(),
                    });
                }
            }
        }
        out
    }
}

/// Everything reachable from `start` in a parent-to-children relation
/// (`start` itself only through a cycle).
fn reachable<K: Clone + Ord + std::hash::Hash>(
    children: &HashMap<K, Vec<K>>,
    start: &K,
) -> BTreeSet<K> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&K> = children
        .get(start)
        .map_or(Vec::new(), |c| c.iter().collect());
    while let Some(k) = todo.pop() {
        if seen.insert(k.clone()) {
            if let Some(more) = children.get(k) {
                todo.extend(more.iter());
            }
        }
    }
    seen
}

/// Validates the policies and rules of `set` against its declarations.
/// Problems come in source order, each once; see [`Problem::is_warning`].
pub fn validate_policies(set: &PolicySet) -> Vec<Problem> {
    let index = Declared::new(set);
    let mut problems = policies::check(&index);
    problems.extend(tool_rules::check(&index));
    problems.extend(templates::check(set));
    tidy(problems)
}

/// Sorts problems by place and drops repeats (one problem found in several
/// request environments is reported once).
pub fn tidy(mut problems: Vec<Problem>) -> Vec<Problem> {
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert((p.span.file, p.span.start, p.span.end, p.error.to_string())));
    problems.sort_by_key(|p| (p.span.file, p.span.start, p.span.end));
    problems
}
