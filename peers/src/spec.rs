//! The Model Studio domain as plain tables: features, system policies and
//! actions with their resource kinds and groups (`shared/model-studio.md`).
//!
//! Both the world generator and the Cedar encoding read these tables, so the
//! Cedar action entities and the generated requests always agree.

use serde_json::{json, Value};

/// The ordinary feature pages, viewable by every member of a workspace.
pub const ORDINARY_FEATURES: [&str; 7] = [
    "models",
    "applications",
    "knowledge_base",
    "prompt_engineering",
    "data_management",
    "model_tuning",
    "evaluation",
];

/// The administration pages, which need `AliyunBailianFullAccess`.
pub const ADMIN_FEATURES: [&str; 3] = [
    "system_administration",
    "permission_management",
    "key_management",
];

/// Every feature of a workspace: the ordinary ones, then the administration ones.
pub const FEATURES: [&str; 10] = [
    "models",
    "applications",
    "knowledge_base",
    "prompt_engineering",
    "data_management",
    "model_tuning",
    "evaluation",
    "system_administration",
    "permission_management",
    "key_management",
];

/// Whether `feature` names an administration page.
pub fn is_admin_feature(feature: &str) -> bool {
    ADMIN_FEATURES.contains(&feature)
}

/// The RAM system policies that worlds draw from, including one string that
/// the spec does not know (it must grant nothing).
pub const SYSTEM_POLICIES: [&str; 8] = [
    "AdministratorAccess",
    "AliyunBailianFullAccess",
    "AliyunBailianDataFullAccess",
    "AliyunBailianDataReadOnlyAccess",
    "AliyunBSSOrderAccess",
    "AliyunBSSReadOnlyAccess",
    "AliyunSFMFullAccess",
    "SomeUnknownPolicy",
];

/// The kind of entity an action's resource is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// An `Account` (the main account itself).
    Account,
    /// A `Workspace`.
    Workspace,
    /// A feature `Page` of a workspace.
    Page,
    /// A `Model`; the request's context names the calling `Workspace`.
    Model,
    /// A `RamRole`.
    RamRole,
}

/// One action of the spec's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionSpec {
    /// The action's id, as in `Action::"<name>"`.
    pub name: &'static str,
    /// The type of the resource of a request for this action.
    pub resource: ResourceKind,
    /// The action group it belongs to, if any.
    pub group: Option<&'static str>,
}

const fn action(
    name: &'static str,
    resource: ResourceKind,
    group: Option<&'static str>,
) -> ActionSpec {
    ActionSpec {
        name,
        resource,
        group,
    }
}

/// The action groups; they are never the action of a request.
pub const ACTION_GROUPS: [&str; 4] = ["page.operate", "manage", "api.read", "api.write"];

/// Every action of the spec's table, in the table's order.
pub const ACTIONS: [ActionSpec; 22] = {
    use ResourceKind::*;
    [
        action("console.login", Account, None),
        action("page.view", Page, None),
        action("page.create", Page, Some("page.operate")),
        action("page.edit", Page, Some("page.operate")),
        action("page.delete", Page, Some("page.operate")),
        action("model.call", Model, None),
        action("workspace.create", Account, Some("manage")),
        action("workspace.delete", Workspace, Some("manage")),
        action("member.manage", Workspace, Some("manage")),
        action("apikey.manage", Workspace, Some("manage")),
        action("system_admin.view", Account, Some("manage")),
        action("feature.activate", Account, Some("manage")),
        action("model.activate", Account, Some("manage")),
        action("order.pay", Account, None),
        action("bill.view", Account, None),
        action("bill.view_product", Account, None),
        action("ram.assume_role", RamRole, None),
        action("sfm:ListIndices", Workspace, Some("api.read")),
        action("sfm:GetPromptTemplate", Workspace, Some("api.read")),
        action("sfm:CreateIndex", Workspace, Some("api.write")),
        action("sfm:DeleteIndex", Workspace, Some("api.write")),
        action(
            "sfm:GetRetrievePromptPipelineMaxLimit",
            Workspace,
            Some("api.write"),
        ),
    ]
};

/// Looks up an action of the table by name.
pub fn action_spec(name: &str) -> Option<&'static ActionSpec> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// Cedar entity JSON for every action and action group, each action with its
/// group as parent (`Action::"page.edit"` in `Action::"page.operate"`).
pub fn action_entities_json() -> Value {
    let groups = ACTION_GROUPS
        .iter()
        .map(|g| json!({"uid": {"type": "Action", "id": g}, "attrs": {}, "parents": []}));
    let actions = ACTIONS.iter().map(|a| {
        let parents: Vec<Value> = a
            .group
            .iter()
            .map(|g| json!({"type": "Action", "id": g}))
            .collect();
        json!({"uid": {"type": "Action", "id": a.name}, "attrs": {}, "parents": parents})
    });
    Value::Array(groups.chain(actions).collect())
}
