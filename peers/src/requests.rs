//! Random requests against a generated [`World`].
//!
//! Every action of the spec's table, principals of all three kinds (the
//! `Account` too), resources of the type the action applies to, mostly in the
//! principal's own account but sometimes in another; pages and workspaces
//! biased towards those an identity joined or may operate, models towards
//! those a workspace authorized, roles towards those trusting the principal,
//! so that allows are as common as denies.

use serde_json::{json, Value};

use crate::rng::Rng;
use crate::spec::{ResourceKind, ACTIONS, FEATURES};
use crate::world::{Identity, IdentityKind, PageRef, Uid, World};

/// One authorization request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The principal: an `Account`, `RamUser` or `RamRole`.
    pub principal: Uid,
    /// The action's id (an `Action` entity).
    pub action: &'static str,
    /// The resource, of the type the action applies to.
    pub resource: Uid,
    /// For `model.call`: the calling workspace (`context.workspace`).
    pub workspace: Option<Uid>,
}

impl Request {
    /// Cedar's request JSON, with the context's workspace escaped.
    pub fn to_json(&self) -> Value {
        let context = match &self.workspace {
            Some(ws) => json!({"workspace": ws.to_escaped_json()}),
            None => json!({}),
        };
        json!({
            "principal": self.principal.to_json(),
            "action": {"type": "Action", "id": self.action},
            "resource": self.resource.to_json(),
            "context": context,
        })
    }
}

impl World {
    pub(crate) fn random_request(&self, rng: &mut Rng) -> Request {
        let roll = rng.below(100);
        let identity = if roll < 12 || (self.users.is_empty() && self.roles.is_empty()) {
            None
        } else if (roll < 60 && !self.users.is_empty()) || self.roles.is_empty() {
            Some(rng.pick(&self.users))
        } else {
            Some(rng.pick(&self.roles))
        };
        let (principal, own) = match identity {
            Some(i) => (self.identity_uid(i), i.account),
            None => {
                let a = rng.below(self.accounts.len());
                (self.account_uid(a), a)
            }
        };
        let target = if rng.chance(85) {
            own
        } else {
            rng.below(self.accounts.len())
        };
        let action = loop {
            let a = rng.pick(&ACTIONS);
            if a.resource != ResourceKind::RamRole || !self.roles.is_empty() {
                break a;
            }
        };
        let mut workspace = None;
        let resource = match action.resource {
            ResourceKind::Account => self.account_uid(target),
            ResourceKind::Workspace => {
                self.workspace_uid(self.choose_workspace(rng, identity, target))
            }
            ResourceKind::Page => match identity {
                Some(i) if !i.operations.is_empty() && rng.chance(35) => {
                    self.page_uid(*rng.pick(&i.operations))
                }
                _ => {
                    let w = self.choose_workspace(rng, identity, target);
                    self.page_uid(PageRef {
                        workspace: w,
                        feature: rng.below(FEATURES.len()),
                    })
                }
            },
            ResourceKind::Model => {
                let w = self.choose_workspace(rng, identity, target);
                workspace = Some(self.workspace_uid(w));
                let authorized = &self.workspaces[w].authorized_models;
                let m = if !authorized.is_empty() && rng.chance(50) {
                    *rng.pick(authorized)
                } else {
                    rng.below(self.models.len())
                };
                Uid::new("Model", self.models[m].clone())
            }
            ResourceKind::RamRole => self.choose_role(rng, identity, target),
        };
        Request {
            principal,
            action: action.name,
            resource,
            workspace,
        }
    }

    /// Mostly a joined workspace when the target is the identity's own account.
    fn choose_workspace(&self, rng: &mut Rng, identity: Option<&Identity>, target: usize) -> usize {
        if let Some(i) = identity {
            if i.account == target && !i.workspaces.is_empty() && rng.chance(60) {
                return *rng.pick(&i.workspaces);
            }
        }
        let candidates: Vec<usize> = self.workspaces_of(target).collect();
        *rng.pick(&candidates)
    }

    /// Often a role that trusts the (user) principal, else one of the target account.
    fn choose_role(&self, rng: &mut Rng, identity: Option<&Identity>, target: usize) -> Uid {
        if let Some(i) = identity.filter(|i| i.kind == IdentityKind::User) {
            let trusting: Vec<&Identity> = self
                .roles
                .iter()
                .filter(|r| r.trusted.iter().any(|&u| self.users[u].id == i.id))
                .collect();
            if !trusting.is_empty() && rng.chance(50) {
                let role = *rng.pick(&trusting);
                return self.identity_uid(role);
            }
        }
        let in_target: Vec<&Identity> = self.roles.iter().filter(|r| r.account == target).collect();
        let pool: Vec<&Identity> = if in_target.is_empty() {
            self.roles.iter().collect()
        } else {
            in_target
        };
        let role = *rng.pick(&pool);
        self.identity_uid(role)
    }
}
