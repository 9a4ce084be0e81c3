//! Template links: Cedar CLI's linked-policies file (a JSON array of
//! `{"template_id", "link_id", "args": {"?principal": "T::\"id\""}}`) read
//! into [`LinkSpec`]s, and a spec turned into a policy by filling its
//! template's slots.

use super::{PolicyEntry, PolicySet};
use crate::diag::Diagnostic;
use crate::syntax::ast::annotation;
use crate::syntax::ast::{EntityUid, Slot};
use crate::syntax::json::{Json, JsonKind};
use crate::syntax::uid::{is_type_name, parse_uid};
use crate::syntax::Span;
use smol_str::SmolStr;
use std::collections::HashMap;

/// One link to make: template `template`'s slots filled with `values`,
/// under the id `id`.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    /// The template's id (`@id` where it has one, else `policyN`).
    pub template: SmolStr,
    /// Where the template id is written.
    pub template_span: Span,
    /// The new policy's id.
    pub id: SmolStr,
    /// Where the new id is written.
    pub id_span: Span,
    /// Each slot's value and where it is written, in the order given.
    pub values: Vec<(Slot, EntityUid, Span)>,
    /// The whole link.
    pub span: Span,
}

/// What a linked policy remembers of its making, for explanations and
/// output: its template and the slot values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The template's id.
    pub template: SmolStr,
    /// The slot values, in slot order.
    pub values: Vec<(Slot, EntityUid)>,
    /// Where the link was written (a links file, a JSON policy file's
    /// `templateLinks`, a command line).
    pub span: Span,
}

impl LinkSpec {
    /// The value given for `slot`.
    pub fn value(&self, slot: Slot) -> Option<(EntityUid, Span)> {
        self.values
            .iter()
            .find(|(s, _, _)| *s == slot)
            .map(|(_, u, span)| (u.clone(), *span))
    }
}

impl Link {
    /// This link as one entry of a linked-policies file under the id `id`,
    /// keys in Cedar's order (`template_id`, `link_id`, `args`).
    pub fn file_entry(&self, id: &str) -> FileEntry {
        FileEntry {
            template_id: self.template.to_string(),
            link_id: id.to_string(),
            args: self
                .values
                .iter()
                .map(|(s, u)| (s.name().to_string(), u.to_string()))
                .collect(),
        }
    }
}

/// One entry of a linked-policies file, as written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileEntry {
    /// The template's id.
    pub template_id: String,
    /// The link's id.
    pub link_id: String,
    /// Slot names to entities written `T::"id"`.
    pub args: std::collections::BTreeMap<String, String>,
}

/// The links of a linked-policies file (already parsed as JSON) that read
/// well, and a problem for each that did not. An empty array has none.
pub fn read_links_file(json: &Json) -> (Vec<LinkSpec>, Vec<Diagnostic>) {
    let Some(items) = json.items() else {
        return (
            Vec::new(),
            vec![Diagnostic::error(
                format!(
                    "a linked-policies file is a JSON array of links, found {}",
                    json.what()
                ),
                json.span,
                "expected an array",
            )
            .with_help(Some(LINK_SHAPE.into()))],
        );
    };
    let mut links = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match read_link(item, "template_id", "link_id", "args") {
            Ok(l) => links.push(l),
            Err(e) => errors.push(*e),
        }
    }
    (links, errors)
}

/// What one link looks like, for help lines.
pub const LINK_SHAPE: &str = "a link is {\"template_id\": \"T\", \"link_id\": \"L\", \"args\": {\"?principal\": \"User::\\\"alice\\\"\"}}";

/// One link object with its three keys named `template`, `id` and `args`
/// (Cedar's CLI file and its JSON policy format spell them differently).
pub fn read_link(
    item: &Json,
    template: &str,
    id: &str,
    args: &str,
) -> Result<LinkSpec, Box<Diagnostic>> {
    let Some(entries) = item.entries() else {
        return fail(
            Diagnostic::error(
                format!("a link is a JSON object, found {}", item.what()),
                item.span,
                "expected an object",
            )
            .with_help(Some(LINK_SHAPE.into())),
        );
    };
    if let Some((k, _)) = entries
        .iter()
        .find(|(k, _)| ![template, id, args].contains(&k.name.as_str()))
    {
        return fail(
            Diagnostic::error(
                format!("unknown field `{}` in a link", k.name),
                k.span,
                "unknown field",
            )
            .with_help(Some(format!(
                "a link has the fields `{template}`, `{id}` and `{args}`"
            ))),
        );
    }
    let string = |key: &str| -> Result<(SmolStr, Span), Box<Diagnostic>> {
        match item.get(key) {
            Some(v) => match v.as_str() {
                Some(s) => Ok((s.into(), v.span)),
                None => fail(Diagnostic::error(
                    format!("`{key}` is a string, found {}", v.what()),
                    v.span,
                    "expected a string",
                )),
            },
            None => fail(
                Diagnostic::error(
                    format!("a link needs `{key}`"),
                    item.span,
                    format!("no `{key}`"),
                )
                .with_help(Some(LINK_SHAPE.into())),
            ),
        }
    };
    let (template_id, template_span) = string(template)?;
    let (link_id, id_span) = string(id)?;
    let Some(arg_json) = item.get(args) else {
        return fail(
            Diagnostic::error(
                format!("a link needs `{args}`"),
                item.span,
                format!("no `{args}`"),
            )
            .with_help(Some(LINK_SHAPE.into())),
        );
    };
    let values = read_slot_values(arg_json, args)?;
    Ok(LinkSpec {
        template: template_id,
        template_span,
        id: link_id,
        id_span,
        values,
        span: item.span,
    })
}

/// The slot values of a link (`{"?principal": "T::\"id\""}`), sorted by
/// slot; `field` names the object in diagnostics.
pub fn read_slot_values(
    arg_json: &Json,
    field: &str,
) -> Result<Vec<(Slot, EntityUid, Span)>, Box<Diagnostic>> {
    let Some(arg_entries) = arg_json.entries() else {
        return fail(Diagnostic::error(
            format!(
                "`{field}` is an object from slots to entities, found {}",
                arg_json.what()
            ),
            arg_json.span,
            "expected an object",
        ));
    };
    let mut values = Vec::new();
    for (k, v) in arg_entries {
        let Some(slot) = Slot::parse(&k.name) else {
            return fail(
                Diagnostic::error(
                    format!("`{}` is not a slot", crate::diag::printable(&k.name)),
                    k.span,
                    "not a slot",
                )
                .with_help(Some("the slots are `?principal` and `?resource`".into())),
            );
        };
        let uid = slot_value(v).map_err(|m| {
            Diagnostic::error(m, v.span, "not an entity reference").with_help(Some(
                "write an entity as \"Type::\\\"id\\\"\" or {\"type\": \"Type\", \"id\": \"id\"}"
                    .into(),
            ))
        })?;
        values.push((slot, uid, v.span));
    }
    values.sort_by_key(|(s, _, _)| *s);
    Ok(values)
}

/// A slot's value: `"T::\"id\""`, `{"type": T, "id": i}` or
/// `{"__entity": {…}}`.
pub fn slot_value(v: &Json) -> Result<EntityUid, String> {
    match &v.kind {
        JsonKind::String(s) => parse_uid(s),
        JsonKind::Object(entries) => {
            if let [(k, inner)] = entries.as_slice() {
                if k.name == "__entity" {
                    return slot_value(inner);
                }
            }
            match (
                v.get("type").and_then(Json::as_str),
                v.get("id").and_then(Json::as_str),
            ) {
                (Some(ty), Some(id)) if entries.len() == 2 && is_type_name(ty) => {
                    Ok(EntityUid::new(ty, id))
                }
                (Some(ty), Some(_)) if entries.len() == 2 => Err(format!(
                    "`{}` is not an entity type name",
                    crate::diag::printable(ty)
                )),
                _ => Err("a slot's value is an entity reference, not another object".into()),
            }
        }
        _ => Err(format!(
            "a slot's value is an entity reference, found {}",
            v.what()
        )),
    }
}

/// `d` as the error of a result.
fn fail<T>(d: Diagnostic) -> Result<T, Box<Diagnostic>> {
    Err(Box::new(d))
}

/// The policy `spec` makes of its template, or why it cannot: an unknown
/// template, a static policy named as one, a slot missing or extra, an id
/// already taken.
pub(super) fn make_link(
    set: &PolicySet,
    templates: &HashMap<&str, usize>,
    spec: &LinkSpec,
    taken: &HashMap<SmolStr, Span>,
) -> Result<PolicyEntry, Box<Diagnostic>> {
    let Some(template) = templates
        .get(spec.template.as_str())
        .map(|&i| &set.templates[i])
    else {
        let named = |p: &&PolicyEntry| {
            p.id == spec.template
                || annotation(&p.policy.annotations, "id").and_then(|a| a.value.as_deref())
                    == Some(spec.template.as_str())
        };
        if let Some(p) = set.policies.iter().filter(|p| p.link.is_none()).find(named) {
            return Err(Box::new(
                Diagnostic::error(
                    format!("`{}` is a static policy, not a template", spec.template),
                    spec.template_span,
                    "not a template",
                )
                .with_secondary(p.policy.head, "this policy has no slot")
                .with_help(Some(
                    "a template has `?principal` or `?resource` in its scope".into(),
                )),
            ));
        }
        let names: Vec<&str> = set.templates.iter().map(super::template_name).collect();
        let help = match crate::suggest::closest(&spec.template, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.is_empty() => "no template is loaded".into(),
            None => format!("the templates are {}", quoted_list(&names)),
        };
        return Err(Box::new(
            Diagnostic::error(
                format!("unknown template `{}`", spec.template),
                spec.template_span,
                "no template has this id",
            )
            .with_help(Some(help)),
        ));
    };
    let slots = template.policy.slots();
    for slot in &slots {
        if spec.value(*slot).is_none() {
            return Err(Box::new(
                Diagnostic::error(
                    format!(
                        "template `{}` has the slot `{slot}`, which the link does not fill",
                        spec.template
                    ),
                    spec.span,
                    format!("no `{slot}`"),
                )
                .with_secondary(template.policy.scope_of(*slot).span(), "the slot"),
            ));
        }
    }
    if let Some((slot, _, span)) = spec.values.iter().find(|(s, _, _)| !slots.contains(s)) {
        return Err(Box::new(
            Diagnostic::error(
                format!("template `{}` has no slot `{slot}`", spec.template),
                *span,
                "extra slot value",
            )
            .with_secondary(template.policy.head, "the template"),
        ));
    }
    if let Some(first) = taken.get(&spec.id) {
        return Err(Box::new(
            Diagnostic::error(
                format!("two policies have the id `{}`", spec.id),
                spec.id_span,
                "this link's id",
            )
            .with_secondary(*first, "first policy")
            .with_help(Some("give each link its own `link_id`".into())),
        ));
    }
    let mut policy = template.policy.linked(|s| spec.value(s));
    for a in &mut policy.annotations {
        if a.key == "id" {
            a.value = Some(spec.id.clone());
        }
    }
    Ok(PolicyEntry {
        id: spec.id.clone(),
        policy,
        link: Some(Box::new(Link {
            template: spec.template.clone(),
            values: spec
                .values
                .iter()
                .map(|(s, u, _)| (*s, u.clone()))
                .collect(),
            span: spec.span,
        })),
    })
}

/// `` `a`, `b` `` for a help line.
fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
