//! Generated Cedar applications that Cedar's strict validator accepts: a
//! schema of users, groups, folders and documents, a store for it, a few
//! policies over it and the requests to plan. What the comparison with
//! Cedar's type-aware partial evaluation (which needs well-typed policies)
//! runs on besides Cedar's example apps.
//!
//! The conditions reach every kind of residual: the resource's attributes
//! (optional ones behind `has`), its ancestors, entity references read
//! through the store, sets, `like`, the extension types, `if`, and errors
//! that strict typing cannot rule out: overflow (some sizes and levels are
//! near `i64::MAX`) and references to entities the store lacks.

use crate::rng::Rng;
use serde_json::{json, Value};

/// The schema every generated app shares.
pub const SCHEMA: &str = r#"
entity Group in [Group];
entity User in [Group] {
  name: String,
  level: Long,
  tags: Set<String>,
  manager?: User,
};
entity Folder in [Folder] {
  owner: User,
  public: Bool,
};
entity Document in [Folder] {
  owner: User,
  title: String,
  size: Long,
  labels: Set<String>,
  classification?: Long,
  reviewer?: User,
  limit: decimal,
  net: ipaddr,
};
type Ctx = { hour: Long, src: ipaddr, trusted: Bool };
action read, edit, remove appliesTo { principal: [User], resource: [Document], context: Ctx };
action list appliesTo { principal: [User], resource: [Folder], context: Ctx };
"#;

/// One generated application.
pub struct TypedApp {
    /// The seed it came from.
    pub seed: u64,
    /// Cedar policy text.
    pub policies: String,
    /// Cedar's entity JSON.
    pub entities: Value,
    /// The requests whose resource is left unknown: principal, action,
    /// resource type and context, as Cedar's JSON request (`resource`
    /// names only the type).
    pub plans: Vec<Value>,
}

const GROUPS: usize = 4;
const USERS: usize = 6;
const FOLDERS: usize = 5;
const DOCUMENTS: usize = 14;
const LABELS: [&str; 4] = ["red", "blue", "a%b", "x_y"];
const TITLES: [&str; 5] = ["plan", "Plan B", "a*b", "draft\\1", "memo"];
const PATTERNS: [&str; 5] = ["*a*", "Plan*", "a\\*b", "*\\\\*", "m?mo"];
const NETS: [&str; 3] = ["10.0.0.0/8", "192.168.0.0/24", "10.1.2.3"];
const HUGE: i64 = i64::MAX - 5;

fn uid(ty: &str, id: String) -> Value {
    json!({ "type": ty, "id": id })
}

fn decimal(text: String) -> Value {
    json!({ "__extn": { "fn": "decimal", "arg": text } })
}

fn ip(text: &str) -> Value {
    json!({ "__extn": { "fn": "ip", "arg": text } })
}

impl TypedApp {
    /// The app of `seed`.
    pub fn generate(seed: u64) -> TypedApp {
        let mut rng = Rng::new(seed ^ 0x7e5e_0000);
        let entities = store(&mut rng);
        let count = rng.between(2, 5);
        let mut policies = String::new();
        for i in 0..count {
            policies.push_str(&policy(&mut rng, i));
        }
        let mut plans = Vec::new();
        for u in 0..USERS {
            for action in ["read", "edit", "remove", "list"] {
                let ty = if action == "list" {
                    "Folder"
                } else {
                    "Document"
                };
                for context in [
                    json!({ "hour": 9, "src": "10.1.2.3", "trusted": true }),
                    json!({ "hour": 22, "src": "192.168.0.7", "trusted": false }),
                ] {
                    plans.push(json!({
                        "principal": uid("User", format!("u{u}")),
                        "action": uid("Action", action.into()),
                        "resource": { "type": ty },
                        "context": context,
                    }));
                }
            }
        }
        TypedApp {
            seed,
            policies,
            entities,
            plans,
        }
    }
}

fn store(rng: &mut Rng) -> Value {
    let mut out = Vec::new();
    for g in 0..GROUPS {
        let parents: Vec<Value> = if g > 0 && rng.chance(60) {
            vec![uid("Group", format!("g{}", rng.below(g)))]
        } else {
            vec![]
        };
        out.push(json!({ "uid": uid("Group", format!("g{g}")), "attrs": {}, "parents": parents }));
    }
    let user_ref = |rng: &mut Rng| {
        // Now and then someone the store lacks.
        if rng.chance(8) {
            uid("User", "ghost".into())
        } else {
            uid("User", format!("u{}", rng.below(USERS)))
        }
    };
    for u in 0..USERS {
        let mut attrs = json!({
            "name": format!("user {u}"),
            "level": if rng.chance(10) { HUGE } else { rng.below(8) as i64 },
            "tags": (0..rng.below(3)).map(|_| *rng.pick(&LABELS)).collect::<Vec<_>>(),
        });
        if rng.chance(50) {
            attrs["manager"] = user_ref(rng);
        }
        let parents: Vec<Value> = (0..rng.below(3))
            .map(|_| uid("Group", format!("g{}", rng.below(GROUPS))))
            .collect();
        out.push(
            json!({ "uid": uid("User", format!("u{u}")), "attrs": attrs, "parents": parents }),
        );
    }
    for f in 0..FOLDERS {
        let parents: Vec<Value> = if f > 0 && rng.chance(70) {
            vec![uid("Folder", format!("f{}", rng.below(f)))]
        } else {
            vec![]
        };
        out.push(json!({
            "uid": uid("Folder", format!("f{f}")),
            "attrs": { "owner": user_ref(rng), "public": rng.chance(40) },
            "parents": parents,
        }));
    }
    for d in 0..DOCUMENTS {
        let mut attrs = json!({
            "owner": user_ref(rng),
            "title": *rng.pick(&TITLES),
            "size": if rng.chance(10) { HUGE } else { rng.below(100) as i64 },
            "labels": (0..rng.below(3)).map(|_| *rng.pick(&LABELS)).collect::<Vec<_>>(),
            "limit": decimal(format!("{}.{}", rng.below(4), rng.below(10))),
            "net": ip(NETS[rng.below(NETS.len())]),
        });
        if rng.chance(50) {
            attrs["classification"] = json!(rng.below(6));
        }
        if rng.chance(40) {
            attrs["reviewer"] = user_ref(rng);
        }
        let parents: Vec<Value> = (0..rng.below(3))
            .map(|_| uid("Folder", format!("f{}", rng.below(FOLDERS))))
            .collect();
        out.push(
            json!({ "uid": uid("Document", format!("d{d}")), "attrs": attrs, "parents": parents }),
        );
    }
    Value::Array(out)
}

fn policy(rng: &mut Rng, i: usize) -> String {
    let effect = if rng.chance(25) { "forbid" } else { "permit" };
    let on_folders = rng.chance(25);
    let principal = match rng.below(3) {
        0 => "principal".to_string(),
        1 => format!("principal == User::\"u{}\"", rng.below(USERS)),
        _ => format!("principal in Group::\"g{}\"", rng.below(GROUPS)),
    };
    let action = if on_folders {
        "action == Action::\"list\"".to_string()
    } else {
        match rng.below(3) {
            0 => "action in [Action::\"read\", Action::\"edit\", Action::\"remove\"]".into(),
            1 => format!(
                "action == Action::\"{}\"",
                rng.pick(&["read", "edit", "remove"])
            ),
            _ => "action in [Action::\"read\", Action::\"edit\"]".into(),
        }
    };
    let resource = match rng.below(3) {
        0 => "resource".to_string(),
        1 => format!("resource in Folder::\"f{}\"", rng.below(FOLDERS)),
        _ if on_folders => "resource is Folder".into(),
        _ => "resource is Document".into(),
    };
    let mut text = format!("@id(\"p{i}\")\n{effect}({principal}, {action}, {resource})");
    for _ in 0..rng.between(1, 2) {
        let kind = if rng.chance(80) { "when" } else { "unless" };
        text.push_str(&format!("\n{kind} {{ {} }}", condition(rng, on_folders, 2)));
    }
    text.push_str(";\n");
    text
}

fn condition(rng: &mut Rng, on_folders: bool, depth: u32) -> String {
    if depth > 0 && rng.chance(45) {
        let a = condition(rng, on_folders, depth - 1);
        let b = condition(rng, on_folders, depth - 1);
        return match rng.below(4) {
            0 => format!("({a} && {b})"),
            1 => format!("({a} || {b})"),
            2 => format!("!({a})"),
            _ => format!("(if {} then {a} else {b})", condition(rng, on_folders, 0)),
        };
    }
    let n = rng.below(10) as i64;
    let g = rng.below(GROUPS);
    let f = rng.below(FOLDERS);
    if on_folders {
        return match rng.below(6) {
            0 => "resource.owner == principal".into(),
            1 => "resource.public".into(),
            2 => format!("resource in Folder::\"f{f}\""),
            3 => format!("principal in Group::\"g{g}\""),
            4 => format!("resource.owner.level + {n} > principal.level"),
            _ => format!("context.hour < {}", 8 + n),
        };
    }
    match rng.below(20) {
        0 => "resource.owner == principal".into(),
        1 => format!("resource in Folder::\"f{f}\""),
        2 => format!("principal in Group::\"g{g}\""),
        3 => "resource has classification && resource.classification <= principal.level".into(),
        4 => "resource has reviewer && resource.reviewer == principal".into(),
        5 => format!("resource.size + principal.level > {}", n * 10),
        6 => format!("resource.size * {} < 200", n + 1),
        7 => format!("resource.title like \"{}\"", rng.pick(&PATTERNS)),
        8 => format!("resource.labels.contains(\"{}\")", rng.pick(&LABELS)),
        9 => "resource.labels.containsAny(principal.tags)".into(),
        10 => "principal.tags.containsAll(resource.labels)".into(),
        11 => format!("resource.limit.lessThan(decimal(\"{}.5\"))", n % 4),
        12 => "context.src.isInRange(resource.net)".into(),
        13 => format!("context.hour < {}", 8 + n),
        14 => "context.trusted".into(),
        15 => "resource.owner.level > principal.level".into(),
        16 => format!("resource.owner in Group::\"g{g}\""),
        17 => "principal has manager && principal.manager == resource.owner".into(),
        18 => format!(
            "(principal has manager && principal.manager in Group::\"g{g}\") || resource.size == {n}"
        ),
        _ => "resource.owner.tags.contains(principal.name)".into(),
    }
}
