//! Spot checks of the Cedar encoding: strict validation, the spec's two
//! worked examples, and hand-written cases for each of the 15 rules, on a
//! small hand-built world.

use mspl_peers::spec::FEATURES;
use mspl_peers::{cedar_answer, CedarModel, CedarWorld};
use serde_json::{json, Value};

fn uid(ty: &str, id: &str) -> Value {
    json!({"type": ty, "id": id})
}

fn esc(ty: &str, id: &str) -> Value {
    json!({"__entity": uid(ty, id)})
}

fn workspace(id: &str, account: &str, is_default: bool, models: &[&str], out: &mut Vec<Value>) {
    let models: Vec<Value> = models.iter().map(|m| esc("Model", m)).collect();
    out.push(json!({
        "uid": uid("Workspace", id),
        "attrs": {"account": esc("Account", account), "is_default": is_default, "authorized_models": models},
        "parents": [uid("Account", account)],
    }));
    for f in FEATURES {
        out.push(json!({
            "uid": uid("Page", &format!("{id}/{f}")),
            "attrs": {"workspace": esc("Workspace", id), "feature": f},
            "parents": [uid("Workspace", id)],
        }));
    }
}

/// A RAM user (`trusted: None`) or role, with its memberships, policies and operations.
fn identity(
    id: &str,
    account: &str,
    joined: &[&str],
    policies: &[&str],
    operations: &[&str],
    trusted: Option<&[&str]>,
) -> Value {
    let ops: Vec<Value> = operations.iter().map(|p| esc("Page", p)).collect();
    let mut attrs =
        json!({"account": esc("Account", account), "policies": policies, "operations": ops});
    let ty = match trusted {
        Some(users) => {
            attrs["trusted"] = users.iter().map(|u| esc("RamUser", u)).collect();
            "RamRole"
        }
        None => "RamUser",
    };
    let parents: Vec<Value> = joined.iter().map(|w| uid("Workspace", w)).collect();
    json!({"uid": uid(ty, id), "attrs": attrs, "parents": parents})
}

fn user(id: &str, account: &str, joined: &[&str], policies: &[&str], ops: &[&str]) -> Value {
    identity(id, account, joined, policies, ops, None)
}

/// The fixture: accounts `acct-a` (workspaces `a-default`, `project-a`
/// authorized for `qwen-max`, `project-b` authorized for nothing) and
/// `acct-b` (`b-default`, `b-sub`), with users and roles named by what they hold.
fn fixture() -> CedarWorld {
    let mut e = vec![
        json!({"uid": uid("Account", "acct-a"), "attrs": {}, "parents": []}),
        json!({"uid": uid("Account", "acct-b"), "attrs": {}, "parents": []}),
        json!({"uid": uid("Model", "qwen-max"), "attrs": {}, "parents": []}),
        json!({"uid": uid("Model", "qwen-plus"), "attrs": {}, "parents": []}),
    ];
    workspace("a-default", "acct-a", true, &[], &mut e);
    workspace("project-a", "acct-a", false, &["qwen-max"], &mut e);
    workspace("project-b", "acct-a", false, &[], &mut e);
    workspace("b-default", "acct-b", true, &[], &mut e);
    workspace("b-sub", "acct-b", false, &["qwen-max"], &mut e);
    let a = "acct-a";
    let user01_ops = [
        "project-a/models",
        "project-a/applications",
        "project-a/key_management",
        "project-b/models",
    ];
    e.extend([
        user("user-01", a, &["project-a"], &[], &user01_ops),
        user("admin-01", a, &[], &["AliyunBailianFullAccess"], &[]),
        user("root-01", a, &[], &["AdministratorAccess"], &[]),
        user(
            "dev-01",
            a,
            &["a-default", "project-a"],
            &["AliyunBailianDataReadOnlyAccess"],
            &[],
        ),
        user(
            "data-01",
            a,
            &["project-a"],
            &["AliyunBailianDataFullAccess"],
            &[],
        ),
        user(
            "bss-01",
            a,
            &[],
            &["AliyunBSSOrderAccess", "AliyunBSSReadOnlyAccess"],
            &[],
        ),
        user(
            "payer-01",
            a,
            &[],
            &["AliyunBSSOrderAccess", "AliyunBailianFullAccess"],
            &[],
        ),
        user(
            "sfm-01",
            a,
            &["project-a"],
            &["AliyunSFMFullAccess", "Whatever"],
            &[],
        ),
        user("nobody-01", a, &[], &[], &[]),
        user(
            "user-b",
            "acct-b",
            &["b-default"],
            &["AdministratorAccess"],
            &["b-default/models"],
        ),
        identity(
            "role-dev",
            a,
            &["project-a"],
            &["AliyunBailianDataFullAccess"],
            &["project-a/models"],
            Some(&["user-01", "user-b"]),
        ),
        identity(
            "role-admin",
            a,
            &[],
            &["AliyunBailianFullAccess"],
            &[],
            Some(&[]),
        ),
        identity(
            "role-b",
            "acct-b",
            &["b-default"],
            &[],
            &[],
            Some(&["user-01", "user-b"]),
        ),
    ]);
    CedarWorld::new(&Value::Array(e)).expect("the fixture fits the schema")
}

/// `"RamUser::user-01"` → the type and id.
fn split(s: &str) -> Value {
    let (ty, id) = s.split_once("::").expect("Type::id");
    uid(ty, id)
}

fn resource_type(action: &str) -> &'static str {
    match mspl_peers::spec::action_spec(action)
        .expect("known action")
        .resource
    {
        mspl_peers::spec::ResourceKind::Account => "Account",
        mspl_peers::spec::ResourceKind::Workspace => "Workspace",
        mspl_peers::spec::ResourceKind::Page => "Page",
        mspl_peers::spec::ResourceKind::Model => "Model",
        mspl_peers::spec::ResourceKind::RamRole => "RamRole",
    }
}

/// Asserts Cedar's decision on `principal action resource` (the resource
/// type follows from the action; `in_ws` is `context.workspace` for model.call).
fn check(
    w: &CedarWorld,
    allow: bool,
    principal: &str,
    action: &str,
    resource: &str,
    in_ws: Option<&str>,
) {
    let context = match in_ws {
        Some(ws) => json!({"workspace": esc("Workspace", ws)}),
        None => json!({}),
    };
    let request = json!({
        "principal": split(principal),
        "action": uid("Action", action),
        "resource": uid(resource_type(action), resource),
        "context": context,
    });
    let answer = cedar_answer(w, &request).expect("well-formed request");
    assert!(
        answer.errors.is_empty(),
        "errors {:?} on {request}",
        answer.errors
    );
    assert_eq!(
        answer.allow,
        allow,
        "expected {} for {principal} {action} {resource} {in_ws:?}; determining {:?}",
        if allow { "ALLOW" } else { "DENY" },
        answer.determining
    );
}

fn allow(w: &CedarWorld, p: &str, action: &str, r: &str) {
    check(w, true, p, action, r, None);
}

fn deny(w: &CedarWorld, p: &str, action: &str, r: &str) {
    check(w, false, p, action, r, None);
}

fn call(w: &CedarWorld, expect: bool, p: &str, model: &str, ws: &str) {
    check(w, expect, p, "model.call", model, Some(ws));
}

const MANAGE_ON_ACCOUNT: [&str; 4] = [
    "workspace.create",
    "system_admin.view",
    "feature.activate",
    "model.activate",
];
const MANAGE_ON_WORKSPACE: [&str; 3] = ["workspace.delete", "member.manage", "apikey.manage"];

#[test]
fn policies_validate_strictly() {
    let problems = CedarModel::get().validate();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn worked_example_project_member() {
    let w = fixture();
    let u = "RamUser::user-01";
    allow(&w, u, "console.login", "acct-a");
    allow(&w, u, "page.view", "project-a/knowledge_base");
    allow(&w, u, "page.edit", "project-a/applications");
    call(&w, true, u, "qwen-max", "project-a");
    deny(&w, u, "page.edit", "project-a/knowledge_base");
    deny(&w, u, "page.view", "project-a/key_management");
    deny(&w, u, "workspace.create", "acct-a");
}

#[test]
fn worked_example_administrator() {
    let w = fixture();
    let u = "RamUser::admin-01";
    allow(&w, u, "console.login", "acct-a");
    allow(&w, u, "system_admin.view", "acct-a");
    allow(&w, u, "workspace.create", "acct-a");
    for action in MANAGE_ON_WORKSPACE {
        allow(&w, u, action, "project-a");
    }
    for ws in ["a-default", "project-a", "project-b"] {
        for f in &FEATURES[..7] {
            deny(&w, u, "page.view", &format!("{ws}/{f}"));
        }
        call(&w, false, u, "qwen-max", ws);
    }
    deny(&w, u, "order.pay", "acct-a");
}

#[test]
fn rule_01_main_account() {
    let w = fixture();
    let a = "Account::acct-a";
    allow(&w, a, "console.login", "acct-a");
    deny(&w, a, "console.login", "acct-b");
    allow(&w, a, "page.view", "project-a/key_management");
    allow(&w, a, "page.delete", "project-b/models");
    deny(&w, a, "page.view", "b-default/models");
    allow(&w, a, "workspace.delete", "project-a");
    deny(&w, a, "workspace.delete", "b-sub");
    allow(&w, a, "sfm:GetRetrievePromptPipelineMaxLimit", "a-default");
    allow(&w, a, "order.pay", "acct-a");
    allow(&w, a, "bill.view_product", "acct-a");
    allow(&w, a, "ram.assume_role", "role-dev");
    deny(&w, a, "ram.assume_role", "role-b");
    call(&w, true, a, "qwen-plus", "a-default");
    call(&w, false, a, "qwen-plus", "b-default");
}

#[test]
fn rule_02_cross_account() {
    let w = fixture();
    let b = "RamUser::user-b"; // AdministratorAccess in acct-b
    allow(&w, b, "console.login", "acct-b");
    allow(&w, b, "workspace.create", "acct-b");
    deny(&w, b, "console.login", "acct-a");
    deny(&w, b, "workspace.create", "acct-a");
    deny(&w, b, "workspace.delete", "project-a");
    deny(&w, b, "page.view", "project-a/system_administration");
    deny(&w, b, "bill.view", "acct-a");
    deny(&w, b, "order.pay", "acct-a");
    call(&w, false, b, "qwen-plus", "a-default");
    deny(&w, b, "ram.assume_role", "role-dev"); // trusted, but another account
    deny(&w, "RamUser::root-01", "member.manage", "b-sub");
    deny(&w, "RamRole::role-admin", "workspace.create", "acct-b");
    allow(&w, "RamRole::role-admin", "workspace.create", "acct-a");
}

#[test]
fn rule_03_membership_gives_read_only() {
    let w = fixture();
    let u = "RamUser::user-01";
    for f in &FEATURES[..7] {
        allow(&w, u, "page.view", &format!("project-a/{f}"));
        deny(&w, u, "page.view", &format!("a-default/{f}"));
    }
    for f in &FEATURES[7..] {
        deny(&w, u, "page.view", &format!("project-a/{f}"));
    }
    deny(&w, u, "page.view", "project-b/models"); // in operations, not joined
}

#[test]
fn rule_04_operation_permission() {
    let w = fixture();
    let u = "RamUser::user-01";
    for action in ["page.create", "page.edit", "page.delete"] {
        allow(&w, u, action, "project-a/applications");
        allow(&w, u, action, "project-a/models");
        deny(&w, u, action, "project-a/knowledge_base"); // not in operations
        deny(&w, u, action, "project-a/key_management"); // administration page
        deny(&w, u, action, "project-b/models"); // not joined
    }
    deny(&w, "RamUser::dev-01", "page.edit", "project-a/models");
}

#[test]
fn rule_05_administration_and_management() {
    let w = fixture();
    for admin in [
        "RamUser::admin-01",
        "RamUser::root-01",
        "RamRole::role-admin",
    ] {
        for f in &FEATURES[7..] {
            allow(&w, admin, "page.view", &format!("project-a/{f}"));
            allow(&w, admin, "page.edit", &format!("project-b/{f}"));
        }
        for action in MANAGE_ON_ACCOUNT {
            allow(&w, admin, action, "acct-a");
        }
        for action in MANAGE_ON_WORKSPACE {
            allow(&w, admin, action, "project-b");
        }
    }
    for nobody in ["RamUser::nobody-01", "RamUser::user-01", "RamUser::bss-01"] {
        for action in MANAGE_ON_ACCOUNT {
            deny(&w, nobody, action, "acct-a");
        }
        for action in MANAGE_ON_WORKSPACE {
            deny(&w, nobody, action, "project-a");
        }
    }
    // An operations entry on an administration page grants nothing alone.
    deny(
        &w,
        "RamUser::user-01",
        "page.edit",
        "project-a/key_management",
    );
}

#[test]
fn rule_06_management_is_not_workspace_access() {
    let w = fixture();
    for admin in ["RamUser::admin-01", "RamUser::root-01"] {
        deny(&w, admin, "page.view", "project-a/models");
        deny(&w, admin, "page.edit", "project-a/models");
        call(&w, false, admin, "qwen-max", "project-a");
        call(&w, false, admin, "qwen-plus", "a-default");
        deny(&w, admin, "sfm:ListIndices", "project-a");
        deny(&w, admin, "sfm:CreateIndex", "a-default");
    }
}

#[test]
fn rule_07_model_calls() {
    let w = fixture();
    call(&w, true, "RamUser::user-01", "qwen-max", "project-a");
    call(&w, false, "RamUser::user-01", "qwen-max", "a-default"); // not a member
    call(&w, true, "RamRole::role-dev", "qwen-max", "project-a");
    allow(&w, "RamUser::admin-01", "model.activate", "acct-a");
    deny(&w, "RamUser::user-01", "model.activate", "acct-a");
}

#[test]
fn rule_08_default_workspace_exemption() {
    let w = fixture();
    call(&w, true, "RamUser::dev-01", "qwen-plus", "a-default");
    call(&w, true, "RamUser::dev-01", "qwen-max", "a-default");
    call(&w, true, "RamUser::user-b", "qwen-plus", "b-default");
}

#[test]
fn rule_09_sub_workspace_model_authorization() {
    let w = fixture();
    call(&w, false, "RamUser::user-01", "qwen-plus", "project-a");
    call(&w, false, "RamUser::dev-01", "qwen-plus", "project-a");
    call(&w, true, "Account::acct-a", "qwen-max", "project-a");
    call(&w, false, "Account::acct-a", "qwen-plus", "project-a");
    call(&w, false, "Account::acct-a", "qwen-max", "project-b");
    call(&w, true, "Account::acct-b", "qwen-max", "b-sub");
}

#[test]
fn rule_10_product_bills() {
    let w = fixture();
    for p in ["RamUser::root-01", "RamUser::bss-01", "RamRole::role-admin"] {
        deny(&w, p, "bill.view_product", "acct-a");
    }
    deny(&w, "RamUser::user-b", "bill.view_product", "acct-b");
    allow(&w, "Account::acct-a", "bill.view_product", "acct-a");
}

#[test]
fn rule_11_bills() {
    let w = fixture();
    allow(&w, "RamUser::bss-01", "bill.view", "acct-a");
    allow(&w, "RamUser::root-01", "bill.view", "acct-a");
    deny(&w, "RamUser::admin-01", "bill.view", "acct-a");
    deny(&w, "RamUser::payer-01", "bill.view", "acct-a");
    deny(&w, "RamUser::user-01", "bill.view", "acct-a");
}

#[test]
fn rule_12_paying_orders() {
    let w = fixture();
    allow(&w, "RamUser::payer-01", "order.pay", "acct-a");
    allow(&w, "RamUser::root-01", "order.pay", "acct-a");
    deny(&w, "RamUser::bss-01", "order.pay", "acct-a");
    deny(&w, "RamUser::admin-01", "order.pay", "acct-a");
}

#[test]
fn rule_13_api_permissions() {
    let w = fixture();
    let dev = "RamUser::dev-01"; // data read-only
    allow(&w, dev, "sfm:ListIndices", "project-a");
    allow(&w, dev, "sfm:GetPromptTemplate", "a-default");
    deny(&w, dev, "sfm:ListIndices", "project-b"); // not a member
    for action in [
        "sfm:CreateIndex",
        "sfm:DeleteIndex",
        "sfm:GetRetrievePromptPipelineMaxLimit",
    ] {
        deny(&w, dev, action, "project-a");
        allow(&w, "RamUser::data-01", action, "project-a");
        deny(&w, "RamUser::data-01", action, "a-default");
        allow(&w, "RamRole::role-dev", action, "project-a");
        deny(&w, "RamUser::sfm-01", action, "project-a");
    }
    allow(&w, "RamUser::data-01", "sfm:ListIndices", "project-a"); // full implies read-only
    deny(&w, "RamUser::sfm-01", "sfm:ListIndices", "project-a");
    deny(&w, "RamUser::user-01", "sfm:ListIndices", "project-a");
}

#[test]
fn rule_14_console_login() {
    let w = fixture();
    allow(&w, "RamUser::dev-01", "console.login", "acct-a");
    allow(&w, "RamUser::admin-01", "console.login", "acct-a");
    allow(&w, "RamUser::root-01", "console.login", "acct-a");
    allow(&w, "RamRole::role-admin", "console.login", "acct-a");
    allow(&w, "RamRole::role-b", "console.login", "acct-b");
    deny(&w, "RamUser::nobody-01", "console.login", "acct-a");
    deny(&w, "RamUser::bss-01", "console.login", "acct-a");
    deny(&w, "RamUser::user-01", "console.login", "acct-b");
}

#[test]
fn rule_15_roles() {
    let w = fixture();
    allow(&w, "RamUser::user-01", "ram.assume_role", "role-dev");
    allow(&w, "RamUser::user-b", "ram.assume_role", "role-b");
    deny(&w, "RamUser::user-01", "ram.assume_role", "role-b"); // trusted, other account
    deny(&w, "RamUser::user-b", "ram.assume_role", "role-dev"); // trusted, other account
    deny(&w, "RamUser::dev-01", "ram.assume_role", "role-dev"); // not trusted
    deny(&w, "RamUser::root-01", "ram.assume_role", "role-admin"); // policies do not help
    deny(&w, "RamRole::role-admin", "ram.assume_role", "role-dev"); // roles never assume
                                                                    // A role is judged like a user, with its own attributes.
    let role = "RamRole::role-dev";
    allow(&w, role, "page.edit", "project-a/models");
    deny(&w, role, "page.edit", "project-a/applications");
    allow(&w, role, "page.view", "project-a/evaluation");
    deny(&w, role, "page.view", "a-default/models");
    // Management needs no membership, for roles as for users.
    allow(&w, "RamRole::role-admin", "member.manage", "project-a");
    deny(&w, "RamRole::role-admin", "order.pay", "acct-a"); // no BSS order access
}
