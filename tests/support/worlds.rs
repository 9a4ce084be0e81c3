//! Worlds of users in groups and documents in folders for the audit's and
//! the diff's exactness tests.

/// A small deterministic byte source for the generator.
pub fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A world of users in groups and documents in folders: scopes of every
/// form, rules on the principal alone, the resource alone and both,
/// attributes missing or of the wrong type on some entities, and (with
/// declarations) contexts to enumerate.
pub struct World {
    /// Rules, policies and (every other world) declarations.
    pub policies: String,
    /// The entity file.
    pub entities: String,
    /// The fixed context attributes.
    pub context: Option<serde_json::Value>,
}

pub fn world(seed: u64) -> World {
    let mut bytes = bytes(seed, 4096).into_iter().cycle();
    let mut pick = |n: usize| bytes.next().unwrap() as usize % n;
    let declared = seed % 2 == 0;
    let mut policies = String::from(
        "rule senior(u) { u.level > 2 }\n\
         rule reader(u, d) { u in d.readers || (d has folder && reader(u, d.folder)) }\n\
         rule owns(u, d) { d has owner && d.owner == u }\n\
         rule urgent_only(d) { d.tag == \"urgent\" }\n\
         rule deep(n) { n > 0 && deep(n - 1) }\n\
         rule deep(n) { n == 0 }\n\
         rule in_group(u, g) { u is User && u in g }\n\
         rule in_group(u, g) { u == g }\n\
         rule mine(d) { d has owner && principal == d.owner }\n",
    );
    if declared {
        policies.push_str(
            "entity Group in [Group];\nentity User in [Group];\nentity Folder;\nentity Doc in [Folder];\n\
             action all;\n\
             action read, write in [all] appliesTo { principal: [User, Group], resource: [Doc, Folder], context: { urgent: Bool, via?: Group, note: String } };\n\
             action list appliesTo { principal: [User], resource: [Folder] };\n",
        );
    }
    let scopes_p = [
        "principal",
        "principal == User::\"u1\"",
        "principal in Group::\"g0\"",
        "principal is User",
        "principal is User in Group::\"g1\"",
    ];
    let scopes_a = [
        "action",
        "action == Action::\"read\"",
        "action in Action::\"all\"",
        "action in [Action::\"write\", Action::\"list\"]",
    ];
    let scopes_r = [
        "resource",
        "resource == Doc::\"d0\"",
        "resource in Folder::\"f0\"",
        "resource is Doc",
    ];
    let conditions = [
        "",
        " when { senior(principal) }",
        " when { reader(principal, resource) }",
        " unless { owns(principal, resource) }",
        " when { urgent_only(resource) }",
        " when { context.urgent || principal.level > 5 }",
        " when { context has via && principal in context.via }",
        " when { senior(principal) && reader(principal, resource) }",
        " when { resource.tag like \"u*\" && senior(principal) }",
        " when { deep(principal.level) }",
        " unless { deep(if resource has owner then 3 else 1) }",
        " when { deep(if context.urgent then 2 else 0) && deep(principal.level) }",
        " when { resource has owner && resource.owner == principal }",
        " when { resource.tag == \"urgent\" || principal.level > 3 }",
        // What the audit's hierarchy bound must see through, or give up on.
        " when { resource.tag == \"urgent\" && principal in resource.readers }",
        " when { principal.level > 2 && principal in Group::\"g1\" }",
        " when { principal has level && in_group(principal, Group::\"g2\") }",
        " when { in_group(principal, resource.owner) || principal in Group::\"g0\" }",
        " when { context.urgent && in_group(principal, Group::\"g0\") }",
        " when { principal in Group::\"g0\" || resource.tag == 7 }",
        " when { principal == resource.owner }",
        " when { mine(resource) }",
        " when { senior(principal) } when { principal in Group::\"g1\" }",
    ];
    // Every other world files no policy by its resource, so that the
    // judge's grouping of resources by an attribute is taken.
    let resource_scopes = if seed % 4 < 2 {
        &scopes_r[..]
    } else {
        &[scopes_r[0], scopes_r[3]][..]
    };
    for i in 0..2 + pick(5) {
        let effect = if pick(3) == 0 { "forbid" } else { "permit" };
        let (p, a, r) = (
            scopes_p[pick(scopes_p.len())],
            scopes_a[pick(scopes_a.len())],
            resource_scopes[pick(resource_scopes.len())],
        );
        // One or two conditions, so that a policy's conditions read
        // different variables (each is kept on its own).
        let first = conditions[pick(conditions.len())];
        let second = if pick(2) == 0 {
            conditions[pick(conditions.len())]
        } else {
            ""
        };
        policies.push_str(&format!(
            "@id(\"p{i}\") {effect}({p}, {a}, {r}){first}{second};\n"
        ));
    }
    let level = |pick: &mut dyn FnMut(usize) -> usize| match pick(6) {
        0 => String::new(),
        1 => "\"level\": \"high\", ".into(),
        n => format!("\"level\": {n}, "),
    };
    let mut data = Vec::new();
    for g in 0..3 {
        let parent = if pick(2) == 0 {
            format!("{{\"type\": \"Group\", \"id\": \"g{}\"}}", pick(3))
        } else {
            String::new()
        };
        data.push(format!("{{\"uid\": {{\"type\": \"Group\", \"id\": \"g{g}\"}}, \"attrs\": {{{}\"x\": 0}}, \"parents\": [{parent}]}}", level(&mut pick)));
    }
    for u in 0..4 {
        let parent = format!("{{\"type\": \"Group\", \"id\": \"g{}\"}}", pick(3));
        data.push(format!("{{\"uid\": {{\"type\": \"User\", \"id\": \"u{u}\"}}, \"attrs\": {{{}\"x\": 0}}, \"parents\": [{parent}]}}", level(&mut pick)));
    }
    for f in 0..2 {
        data.push(format!("{{\"uid\": {{\"type\": \"Folder\", \"id\": \"f{f}\"}}, \"attrs\": {{\"readers\": [{{\"type\": \"Group\", \"id\": \"g{}\"}}], \"tag\": \"urgent\"}}, \"parents\": []}}", pick(3)));
    }
    for d in 0..4 {
        let mut attrs = Vec::new();
        if pick(4) != 0 {
            attrs.push(format!(
                "\"readers\": [{{\"type\": \"User\", \"id\": \"u{}\"}}]",
                pick(4)
            ));
        }
        if pick(2) == 0 {
            attrs.push(format!(
                "\"owner\": {{\"type\": \"User\", \"id\": \"u{}\"}}",
                pick(4)
            ));
        }
        if pick(2) == 0 {
            attrs.push(format!(
                "\"folder\": {{\"type\": \"Folder\", \"id\": \"f{}\"}}",
                pick(2)
            ));
        }
        match pick(3) {
            0 => attrs.push("\"tag\": \"urgent\"".into()),
            1 => attrs.push("\"tag\": 7".into()),
            _ => {}
        }
        let parent = if pick(2) == 0 {
            format!("{{\"type\": \"Folder\", \"id\": \"f{}\"}}", pick(2))
        } else {
            String::new()
        };
        data.push(format!("{{\"uid\": {{\"type\": \"Doc\", \"id\": \"d{d}\"}}, \"attrs\": {{{}}}, \"parents\": [{parent}]}}", attrs.join(", ")));
    }
    let context = if declared {
        Some(serde_json::json!({"note": "n"}))
    } else {
        Some(serde_json::json!({"urgent": pick(2) == 0}))
    };
    World {
        policies,
        entities: format!("[{}]", data.join(",\n")),
        context,
    }
}

/// Every `every`-th seed's limits are tight (20 steps a policy, 50 a
/// request), so that the limits decide some requests; the others' are the
/// defaults.
pub fn limits_for(seed: u64, every: u64) -> mspl::__internal::Limits {
    if seed % every == 0 {
        mspl::__internal::Limits {
            max_steps: 20,
            max_request_steps: 50,
            ..mspl::__internal::Limits::default()
        }
    } else {
        mspl::__internal::Limits::default()
    }
}
