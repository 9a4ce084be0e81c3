//! Random Model Studio worlds and requests, from a seed and size parameters.
//!
//! A world has several accounts, each with exactly one default workspace and
//! some sub-workspaces; a page for every feature of every workspace; models;
//! RAM users and roles of each account with random memberships, `operations`
//! (including administration pages and pages of workspaces they did not
//! join), `policies` and, for roles, `trusted` users (sometimes of another
//! account). Every entity carries every attribute of the spec, so evaluating
//! a request never raises an error. Requests cover every action of the spec's
//! table, principals of all three kinds, and cross-account resources (see
//! [`crate::requests`]).
//!
//! The same seed and parameters always give the same world, byte for byte.

use serde_json::{json, Value};

use crate::requests::Request;
use crate::rng::Rng;
use crate::spec::{FEATURES, SYSTEM_POLICIES};

/// Sizes of a generated world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldParams {
    /// Number of accounts (at least 1).
    pub accounts: usize,
    /// Each account gets at least this many sub-workspaces ...
    pub min_sub_workspaces: usize,
    /// ... and at most this many.
    pub max_sub_workspaces: usize,
    /// RAM users per account.
    pub users_per_account: usize,
    /// RAM roles per account.
    pub roles_per_account: usize,
    /// Number of models (at least 1).
    pub models: usize,
    /// Number of requests to generate.
    pub requests: usize,
}

impl Default for WorldParams {
    fn default() -> Self {
        WorldParams {
            accounts: 3,
            min_sub_workspaces: 0,
            max_sub_workspaces: 3,
            users_per_account: 4,
            roles_per_account: 2,
            models: 5,
            requests: 1000,
        }
    }
}

/// The benchmarks' world as command-line flags: about 20,000 entities by
/// default (the audit and diff benchmarks share it).
#[derive(clap::Args, Clone, Debug)]
pub struct WorldArgs {
    /// The world's seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Accounts.
    #[arg(long, default_value_t = 10)]
    pub accounts: usize,
    /// Workspaces per account, the default one included.
    #[arg(long, default_value_t = 20)]
    pub workspaces: usize,
    /// RAM users per account.
    #[arg(long, default_value_t = 2_000)]
    pub users: usize,
    /// RAM roles per account.
    #[arg(long, default_value_t = 50)]
    pub roles: usize,
    /// Models.
    #[arg(long, default_value_t = 50)]
    pub models: usize,
}

impl WorldArgs {
    /// The small world of a smoke run (`cargo test` runs a benchmark
    /// without `--bench`).
    pub fn shrink_for_smoke(&mut self) {
        self.accounts = 2;
        self.workspaces = 3;
        self.users = 30;
        self.roles = 3;
        self.models = 4;
    }

    /// The world's sizes, without requests.
    pub fn params(&self) -> WorldParams {
        WorldParams {
            accounts: self.accounts,
            min_sub_workspaces: self.workspaces.saturating_sub(1),
            max_sub_workspaces: self.workspaces.saturating_sub(1),
            users_per_account: self.users,
            roles_per_account: self.roles,
            models: self.models,
            requests: 0,
        }
    }
}

/// An entity reference: `{"type": ..., "id": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid {
    /// The entity type, e.g. `RamUser`.
    pub ty: &'static str,
    /// The entity id.
    pub id: String,
}

impl Uid {
    /// A reference to entity `id` of type `ty`.
    pub fn new(ty: &'static str, id: impl Into<String>) -> Self {
        Uid { ty, id: id.into() }
    }

    /// The plain JSON form, as in a request or an entity's `uid`.
    pub fn to_json(&self) -> Value {
        json!({"type": self.ty, "id": self.id})
    }

    /// The escaped JSON form used inside attribute values and context.
    pub fn to_escaped_json(&self) -> Value {
        json!({"__entity": self.to_json()})
    }
}

/// A workspace of an account.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// Its id, e.g. `acct-0-ws-1`.
    pub id: String,
    /// Index of its account in [`World::accounts`].
    pub account: usize,
    /// Whether this is the account's default workspace.
    pub is_default: bool,
    /// Indexes into [`World::models`] of the models it may call.
    pub authorized_models: Vec<usize>,
}

/// A page: one feature of one workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageRef {
    /// Index into [`World::workspaces`].
    pub workspace: usize,
    /// Index into [`FEATURES`].
    pub feature: usize,
}

/// Whether a RAM identity is a user or a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    /// A `RamUser`.
    User,
    /// A `RamRole`.
    Role,
}

/// A RAM user or RAM role.
#[derive(Clone, Debug)]
pub struct Identity {
    /// User or role.
    pub kind: IdentityKind,
    /// Its id, e.g. `acct-0-user-2`.
    pub id: String,
    /// Index of its account.
    pub account: usize,
    /// Indexes of the workspaces it joined (all in its own account).
    pub workspaces: Vec<usize>,
    /// The RAM system policies attached to it.
    pub policies: Vec<&'static str>,
    /// The pages on which it has operation permission (any account).
    pub operations: Vec<PageRef>,
    /// For roles: indexes into [`World::users`] of the users who may assume it.
    pub trusted: Vec<usize>,
}

impl Identity {
    pub(crate) fn entity_type(&self) -> &'static str {
        match self.kind {
            IdentityKind::User => "RamUser",
            IdentityKind::Role => "RamRole",
        }
    }
}

/// A generated world: its entities and the requests made against it.
#[derive(Clone, Debug)]
pub struct World {
    /// Account ids.
    pub accounts: Vec<String>,
    /// All workspaces; each account's default one comes first.
    pub workspaces: Vec<Workspace>,
    /// Model ids.
    pub models: Vec<String>,
    /// RAM users of all accounts.
    pub users: Vec<Identity>,
    /// RAM roles of all accounts.
    pub roles: Vec<Identity>,
    /// The requests.
    pub requests: Vec<Request>,
}

const MODEL_NAMES: [&str; 6] = [
    "qwen-max",
    "qwen-plus",
    "qwen-turbo",
    "qwen-vl-max",
    "deepseek-r1",
    "wanx-v1",
];

impl World {
    /// Generates a world and `params.requests` requests from `seed`.
    pub fn generate(seed: u64, params: &WorldParams) -> World {
        assert!(params.accounts > 0 && params.models > 0, "empty world");
        let mut rng = Rng::new(seed);
        let mut world = World::generate_entities(&mut rng.fork(), params);
        let mut req_rng = rng.fork();
        world.requests = (0..params.requests)
            .map(|_| world.random_request(&mut req_rng))
            .collect();
        world
    }

    fn generate_entities(rng: &mut Rng, params: &WorldParams) -> World {
        let models: Vec<String> = (0..params.models)
            .map(|i| match MODEL_NAMES.get(i) {
                Some(name) => name.to_string(),
                None => format!("model-{i}"),
            })
            .collect();
        let accounts: Vec<String> = (0..params.accounts).map(|a| format!("acct-{a}")).collect();
        let mut workspaces = Vec::new();
        for (a, account) in accounts.iter().enumerate() {
            let subs = rng.between(
                params.min_sub_workspaces.min(params.max_sub_workspaces),
                params.max_sub_workspaces,
            );
            for w in 0..=subs {
                let id = match w {
                    0 => format!("{account}-default"),
                    _ => format!("{account}-ws-{w}"),
                };
                let authorized_models = (0..models.len()).filter(|_| rng.chance(40)).collect();
                workspaces.push(Workspace {
                    id,
                    account: a,
                    is_default: w == 0,
                    authorized_models,
                });
            }
        }
        let mut world = World {
            accounts,
            workspaces,
            models,
            users: Vec::new(),
            roles: Vec::new(),
            requests: Vec::new(),
        };
        for a in 0..params.accounts {
            for u in 0..params.users_per_account {
                let user = world.random_identity(rng, IdentityKind::User, a, u);
                world.users.push(user);
            }
        }
        for a in 0..params.accounts {
            for r in 0..params.roles_per_account {
                let role = world.random_identity(rng, IdentityKind::Role, a, r);
                world.roles.push(role);
            }
        }
        world
    }

    fn random_identity(
        &self,
        rng: &mut Rng,
        kind: IdentityKind,
        account: usize,
        n: usize,
    ) -> Identity {
        let own: Vec<usize> = self.workspaces_of(account).collect();
        let join = *rng.pick(&[0, 25, 50, 100]);
        let workspaces: Vec<usize> = own.iter().copied().filter(|_| rng.chance(join)).collect();
        let grant = *rng.pick(&[0, 20, 40, 70]);
        let policies = SYSTEM_POLICIES
            .iter()
            .copied()
            .filter(|_| rng.chance(grant))
            .collect();
        let operate = *rng.pick(&[0, 30, 70]);
        let mut operations = Vec::new();
        for &w in &workspaces {
            for feature in 0..FEATURES.len() {
                if rng.chance(operate) {
                    operations.push(PageRef {
                        workspace: w,
                        feature,
                    });
                }
            }
        }
        // A few pages anywhere: unjoined workspaces, other accounts, admin pages.
        for _ in 0..rng.between(0, 3) {
            operations.push(PageRef {
                workspace: rng.below(self.workspaces.len()),
                feature: rng.below(FEATURES.len()),
            });
        }
        operations.sort();
        operations.dedup();
        let mut trusted = Vec::new();
        if kind == IdentityKind::Role {
            for (u, user) in self.users.iter().enumerate() {
                if user.account == account && rng.chance(35) {
                    trusted.push(u);
                }
            }
            if self.accounts.len() > 1 && !self.users.is_empty() && rng.chance(25) {
                let u = rng.below(self.users.len());
                if self.users[u].account != account && !trusted.contains(&u) {
                    trusted.push(u);
                }
            }
        }
        let word = match kind {
            IdentityKind::User => "user",
            IdentityKind::Role => "role",
        };
        Identity {
            kind,
            id: format!("{}-{word}-{n}", self.accounts[account]),
            account,
            workspaces,
            policies,
            operations,
            trusted,
        }
    }

    pub(crate) fn workspaces_of(&self, account: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.workspaces.len()).filter(move |&w| self.workspaces[w].account == account)
    }

    /// The reference to page `p`, whose id is `"<workspace id>/<feature>"`.
    pub fn page_uid(&self, p: PageRef) -> Uid {
        Uid::new(
            "Page",
            format!(
                "{}/{}",
                self.workspaces[p.workspace].id, FEATURES[p.feature]
            ),
        )
    }

    pub(crate) fn workspace_uid(&self, w: usize) -> Uid {
        Uid::new("Workspace", self.workspaces[w].id.clone())
    }

    pub(crate) fn account_uid(&self, a: usize) -> Uid {
        Uid::new("Account", self.accounts[a].clone())
    }

    pub(crate) fn identity_uid(&self, i: &Identity) -> Uid {
        Uid::new(i.entity_type(), i.id.clone())
    }

    /// The world's entities as Cedar entity JSON (no `Action` entities),
    /// in a fixed order: accounts, models, workspaces, pages, users, roles.
    pub fn entities_json(&self) -> Value {
        let mut out = Vec::new();
        for a in 0..self.accounts.len() {
            out.push(entity(&self.account_uid(a), json!({}), vec![]));
        }
        for m in &self.models {
            out.push(entity(&Uid::new("Model", m.clone()), json!({}), vec![]));
        }
        for (w, ws) in self.workspaces.iter().enumerate() {
            let models: Vec<Value> = ws
                .authorized_models
                .iter()
                .map(|&m| Uid::new("Model", self.models[m].clone()).to_escaped_json())
                .collect();
            let attrs = json!({
                "account": self.account_uid(ws.account).to_escaped_json(),
                "is_default": ws.is_default,
                "authorized_models": models,
            });
            out.push(entity(
                &self.workspace_uid(w),
                attrs,
                vec![self.account_uid(ws.account)],
            ));
        }
        for w in 0..self.workspaces.len() {
            for (feature, name) in FEATURES.iter().enumerate() {
                let attrs = json!({
                    "workspace": self.workspace_uid(w).to_escaped_json(),
                    "feature": name,
                });
                let uid = self.page_uid(PageRef {
                    workspace: w,
                    feature,
                });
                out.push(entity(&uid, attrs, vec![self.workspace_uid(w)]));
            }
        }
        for i in self.users.iter().chain(&self.roles) {
            let operations: Vec<Value> = i
                .operations
                .iter()
                .map(|&p| self.page_uid(p).to_escaped_json())
                .collect();
            let mut attrs = json!({
                "account": self.account_uid(i.account).to_escaped_json(),
                "policies": i.policies,
                "operations": operations,
            });
            if i.kind == IdentityKind::Role {
                let trusted: Vec<Value> = i
                    .trusted
                    .iter()
                    .map(|&u| self.identity_uid(&self.users[u]).to_escaped_json())
                    .collect();
                attrs["trusted"] = Value::Array(trusted);
            }
            let parents = i
                .workspaces
                .iter()
                .map(|&w| self.workspace_uid(w))
                .collect();
            out.push(entity(&self.identity_uid(i), attrs, parents));
        }
        Value::Array(out)
    }

    /// The requests as Cedar request JSON.
    pub fn requests_json(&self) -> Vec<Value> {
        self.requests.iter().map(Request::to_json).collect()
    }
}

fn entity(uid: &Uid, attrs: Value, parents: Vec<Uid>) -> Value {
    let parents: Vec<Value> = parents.iter().map(Uid::to_json).collect();
    json!({"uid": uid.to_json(), "attrs": attrs, "parents": parents})
}
