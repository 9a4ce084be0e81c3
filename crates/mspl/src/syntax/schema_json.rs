//! Cedar's JSON schema format, both ways: a `*.cedarschema.json` file read
//! into the same declarations (AST) as the equivalent `.cedarschema` text,
//! every node's span pointing into the JSON; and declarations written as
//! that JSON (`mspl schema translate --to json`).
//!
//! The correspondence is Cedar's own (`SchemaFragment`): a name written in
//! text is `{"type": "EntityOrCommon", "name": N}`; `{"type": "String"}`,
//! `"Long"` and `"Boolean"` are the primitives, `{"type": "Extension"}` an
//! extension type and any other `{"type": N}` a common type; the namespace
//! `""` holds the declarations outside any namespace.

use super::ast::*;
use super::json::{Json, JsonKind, Key};
use crate::diag::Diagnostic;
use serde_json::{json, Map, Value};
use smol_str::SmolStr;

/// The declarations of a JSON schema, and a problem for each part that is
/// not Cedar's JSON schema format (the parts that read well are kept).
pub fn read_schema_json(json: &Json) -> (Vec<Item>, Vec<Diagnostic>) {
    let mut r = Reader::default();
    let mut items = Vec::new();
    match json.entries() {
        Some(namespaces) => {
            for (name, ns) in namespaces {
                if let Some(item) = r.namespace(name, ns) {
                    items.extend(item);
                }
            }
        }
        None => r.wrong(
            json,
            "a JSON schema is an object from namespace names to namespaces",
        ),
    }
    (items, r.errors)
}

#[derive(Default)]
struct Reader {
    errors: Vec<Diagnostic>,
}

/// Whether `s` is a name Cedar accepts: identifiers joined by `::`.
fn is_path(s: &str) -> bool {
    crate::syntax::uid::is_type_name(s)
}

impl Reader {
    fn wrong(&mut self, at: &Json, message: &str) {
        self.errors.push(
            Diagnostic::error(message, at.span, format!("found {}", at.what()))
                .with_help(Some("see Cedar's JSON schema format: https://docs.cedarpolicy.com/schema/json-schema.html".into())),
        );
    }

    fn unknown_key(&mut self, key: &Key, place: &str, known: &[&str]) {
        self.errors
            .push(super::json::unknown_field(key, place, known));
    }

    /// Checks that `obj` is an object with only `known` keys.
    fn object<'j>(
        &mut self,
        obj: &'j Json,
        place: &str,
        known: &[&str],
    ) -> Option<&'j [(Key, Json)]> {
        let Some(entries) = obj.entries() else {
            self.wrong(obj, &format!("{place} is a JSON object"));
            return None;
        };
        for (k, _) in entries {
            if !known.contains(&k.name.as_str()) {
                self.unknown_key(k, place, known);
            }
        }
        Some(entries)
    }

    fn string(&mut self, v: &Json, what: &str) -> Option<SmolStr> {
        match v.as_str() {
            Some(s) => Some(s.into()),
            None => {
                self.wrong(v, &format!("{what} is a string"));
                None
            }
        }
    }

    fn name(&mut self, v: &Json, what: &str) -> Option<SmolStr> {
        let s = self.string(v, what)?;
        if is_path(&s) {
            Some(s)
        } else {
            self.errors.push(Diagnostic::error(
                format!("`{}` is not a valid name", crate::diag::printable(&s)),
                v.span,
                "identifiers joined by `::`",
            ));
            None
        }
    }

    fn annotations(&mut self, v: Option<&Json>) -> Vec<Annotation> {
        let Some(v) = v else { return Vec::new() };
        let Some(entries) = v.entries() else {
            self.wrong(v, "`annotations` is an object from keys to strings");
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(k, val)| {
                let value = self.string(val, "an annotation's value")?;
                Some(Annotation {
                    key: k.name.clone(),
                    value: Some(value),
                    span: k.span.to(val.span),
                })
            })
            .collect()
    }

    fn namespace(&mut self, name: &Key, ns: &Json) -> Option<Vec<Item>> {
        let entries = self.object(
            ns,
            "a namespace",
            &["entityTypes", "actions", "commonTypes", "annotations"],
        )?;
        if !name.name.is_empty() && !is_path(&name.name) {
            self.errors.push(Diagnostic::error(
                format!(
                    "`{}` is not a valid namespace name",
                    crate::diag::printable(&name.name)
                ),
                name.span,
                "identifiers joined by `::`",
            ));
            return None;
        }
        let mut decls = Vec::new();
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, v)| v)
        };
        if let Some(common) = get("commonTypes") {
            self.map(
                common,
                "`commonTypes`",
                |r, k, v| {
                    let (ty, annotations) = r.type_with_annotations(v)?;
                    Some(Decl::Type(TypeDecl {
                        annotations,
                        name: k.name.clone(),
                        ty,
                        span: k.span.to(v.span),
                    }))
                },
                &mut decls,
            );
        }
        if let Some(types) = get("entityTypes") {
            self.map(
                types,
                "`entityTypes`",
                |r, k, v| r.entity(k, v).map(Decl::Entity),
                &mut decls,
            );
        }
        if let Some(actions) = get("actions") {
            self.map(
                actions,
                "`actions`",
                |r, k, v| r.action(k, v).map(Decl::Action),
                &mut decls,
            );
        }
        let annotations = self.annotations(get("annotations"));
        if name.name.is_empty() {
            Some(decls.into_iter().map(Item::Decl).collect())
        } else {
            Some(vec![Item::Namespace(Namespace {
                annotations,
                name: name.name.clone(),
                decls,
                span: name.span.to(ns.span),
            })])
        }
    }

    fn map(
        &mut self,
        v: &Json,
        place: &str,
        mut each: impl FnMut(&mut Self, &Key, &Json) -> Option<Decl>,
        out: &mut Vec<Decl>,
    ) {
        let Some(entries) = v.entries() else {
            self.wrong(v, &format!("{place} is a JSON object"));
            return;
        };
        for (k, item) in entries {
            if let Some(d) = each(self, k, item) {
                out.push(d);
            }
        }
    }

    fn entity(&mut self, name: &Key, v: &Json) -> Option<EntityDecl> {
        self.object(
            v,
            "an entity type",
            &["memberOfTypes", "shape", "tags", "enum", "annotations"],
        )?;
        if !is_path(&name.name) || name.name.contains("::") {
            self.errors.push(Diagnostic::error(
                format!(
                    "`{}` is not a valid entity type name",
                    crate::diag::printable(&name.name)
                ),
                name.span,
                "an identifier",
            ));
            return None;
        }
        let parents = match v.get("memberOfTypes") {
            Some(list) => self.names(list, "`memberOfTypes`")?,
            None => Vec::new(),
        };
        let attrs = match v.get("shape") {
            Some(shape) => match self.ty(shape)? {
                TypeExpr::Record(attrs, _) => attrs,
                _ => {
                    self.wrong(shape, "an entity type's `shape` is a record type `{\"type\": \"Record\", \"attributes\": {…}}`");
                    return None;
                }
            },
            None => Vec::new(),
        };
        let tags = match v.get("tags") {
            Some(t) => Some(self.ty(t)?),
            None => None,
        };
        let enum_ids = match v.get("enum") {
            Some(list) => {
                let Some(items) = list.items() else {
                    self.wrong(list, "`enum` is an array of ids");
                    return None;
                };
                Some(
                    items
                        .iter()
                        .filter_map(|i| self.string(i, "an enumerated id"))
                        .collect(),
                )
            }
            None => None,
        };
        Some(EntityDecl {
            annotations: self.annotations(v.get("annotations")),
            names: vec![name.name.clone()],
            parents,
            attrs,
            tags,
            enum_ids,
            span: name.span.to(v.span),
        })
    }

    fn names(&mut self, list: &Json, what: &str) -> Option<Vec<Name>> {
        let Some(items) = list.items() else {
            self.wrong(list, &format!("{what} is an array of names"));
            return None;
        };
        Some(
            items
                .iter()
                .filter_map(|i| self.name(i, "a type name"))
                .collect(),
        )
    }

    fn action(&mut self, name: &Key, v: &Json) -> Option<ActionDecl> {
        self.object(
            v,
            "an action",
            &["memberOf", "appliesTo", "annotations", "attributes"],
        )?;
        if let Some(attrs) = v.get("attributes") {
            if !attrs.entries().is_some_and(|e| e.is_empty()) {
                self.errors.push(
                    Diagnostic::error(
                        "action attributes are not supported",
                        attrs.span,
                        "attributes",
                    )
                    .with_help(Some(
                        "Cedar's validator refuses them too; remove `attributes`".into(),
                    )),
                );
                return None;
            }
        }
        let mut parents = Vec::new();
        if let Some(list) = v.get("memberOf") {
            let Some(items) = list.items() else {
                self.wrong(list, "`memberOf` is an array of `{\"id\": …, \"type\": …}`");
                return None;
            };
            for item in items {
                self.object(item, "an action group reference", &["id", "type"])?;
                let id = self.string(item.get("id").unwrap_or(item), "an action group's `id`")?;
                let ty = match item.get("type") {
                    Some(t) => Some(self.name(t, "an action group's `type`")?),
                    None => None,
                };
                parents.push((ty, id));
            }
        }
        let (mut principals, mut resources, mut context) = (None, None, None);
        if let Some(applies) = v.get("appliesTo").filter(|a| a.kind != JsonKind::Null) {
            self.object(
                applies,
                "`appliesTo`",
                &["principalTypes", "resourceTypes", "context"],
            )?;
            principals = Some(match applies.get("principalTypes") {
                Some(l) => self.names(l, "`principalTypes`")?,
                None => Vec::new(),
            });
            resources = Some(match applies.get("resourceTypes") {
                Some(l) => self.names(l, "`resourceTypes`")?,
                None => Vec::new(),
            });
            if let Some(c) = applies.get("context") {
                context = Some(self.ty(c)?);
            }
            // Cedar writes an action without `appliesTo` with two empty
            // lists: it applies to nothing, as one without.
            let empty = |l: &Option<Vec<Name>>| l.as_ref().is_some_and(|l| l.is_empty());
            if empty(&principals) && empty(&resources) && context.is_none() {
                (principals, resources) = (None, None);
            }
        }
        Some(ActionDecl {
            annotations: self.annotations(v.get("annotations")),
            names: vec![name.name.clone()],
            parents,
            principals,
            resources,
            context,
            span: name.span.to(v.span),
        })
    }

    /// A type and the annotations beside it (of a common type).
    fn type_with_annotations(&mut self, v: &Json) -> Option<(TypeExpr, Vec<Annotation>)> {
        Some((self.ty(v)?, self.annotations(v.get("annotations"))))
    }

    fn ty(&mut self, v: &Json) -> Option<TypeExpr> {
        let Some(kind) = v.get("type") else {
            self.wrong(v, "a type is an object with a `type`");
            return None;
        };
        let kind = self.string(kind, "`type`")?;
        let span = v.span;
        let only =
            |r: &mut Self, keys: &[&str]| r.object(v, &format!("a `{kind}` type"), keys).is_some();
        let named = |n: &str| TypeExpr::Named(n.into(), span);
        Some(match kind.as_str() {
            "String" | "Long" if only(self, &["type", "annotations", "required"]) => {
                named(&format!("__cedar::{kind}"))
            }
            "Boolean" | "Bool" if only(self, &["type", "annotations", "required"]) => {
                named("__cedar::Bool")
            }
            "Set" => {
                only(self, &["type", "element", "annotations", "required"]);
                let Some(element) = v.get("element") else {
                    self.wrong(v, "a `Set` type needs its `element` type");
                    return None;
                };
                TypeExpr::Set(Box::new(self.ty(element)?), span)
            }
            "Record" => {
                only(
                    self,
                    &[
                        "type",
                        "attributes",
                        "additionalAttributes",
                        "annotations",
                        "required",
                    ],
                );
                if v.get("additionalAttributes").and_then(Json::as_bool) == Some(true) {
                    self.errors.push(
                        Diagnostic::error(
                            "records with `additionalAttributes` are not supported",
                            v.key_span("additionalAttributes"),
                            "additional attributes",
                        )
                        .with_help(Some(
                            "declare every attribute; Cedar's validator refuses them too".into(),
                        )),
                    );
                    return None;
                }
                let mut attrs = Vec::new();
                if let Some(a) = v.get("attributes") {
                    let Some(entries) = a.entries() else {
                        self.wrong(a, "`attributes` is an object from names to types");
                        return None;
                    };
                    for (k, t) in entries {
                        let ty = self.ty(t)?;
                        let optional = match t.get("required") {
                            None => false,
                            Some(r) => match r.as_bool() {
                                Some(b) => !b,
                                None => {
                                    self.wrong(r, "`required` is true or false");
                                    return None;
                                }
                            },
                        };
                        attrs.push(AttrDecl {
                            annotations: self.annotations(t.get("annotations")),
                            name: k.name.clone(),
                            optional,
                            ty,
                            span: k.span.to(t.span),
                        });
                    }
                }
                TypeExpr::Record(attrs, span)
            }
            "Entity" | "EntityOrCommon" | "Extension" => {
                only(self, &["type", "name", "annotations", "required"]);
                let Some(n) = v.get("name") else {
                    self.wrong(v, &format!("an `{kind}` type needs its `name`"));
                    return None;
                };
                let n = self.name(n, "a type's `name`")?;
                if kind == "Extension" {
                    named(&format!("__cedar::{n}"))
                } else {
                    named(&n)
                }
            }
            _ => {
                only(self, &["type", "annotations", "required"]);
                if !is_path(&kind) {
                    self.errors.push(Diagnostic::error(
                        format!("`{}` is not a type", crate::diag::printable(&kind)),
                        v.key_span("type"),
                        "unknown type",
                    ).with_help(Some("a type is `String`, `Long`, `Boolean`, `Set`, `Record`, `Entity`, `EntityOrCommon`, `Extension` or a common type's name".into())));
                    return None;
                }
                // A common type.
                named(&kind)
            }
        })
    }
}

/// Declarations as Cedar's JSON schema: one namespace per `namespace`
/// block (the declarations outside any under `""`), keys sorted.
pub fn schema_to_json(items: &[Item]) -> Value {
    type Block<'a> = (String, Vec<&'a Annotation>, Vec<&'a Decl>);
    let mut namespaces: Vec<Block> = Vec::new();
    fn slot(namespaces: &mut Vec<Block>, name: &str) -> usize {
        match namespaces.iter().position(|(n, _, _)| n == name) {
            Some(i) => i,
            None => {
                namespaces.push((name.to_string(), Vec::new(), Vec::new()));
                namespaces.len() - 1
            }
        }
    }
    for item in items {
        match item {
            Item::Decl(d) => {
                let i = slot(&mut namespaces, "");
                namespaces[i].2.push(d);
            }
            Item::Namespace(ns) => {
                let i = slot(&mut namespaces, &ns.name);
                namespaces[i].1.extend(&ns.annotations);
                namespaces[i].2.extend(&ns.decls);
            }
            Item::Policy(_) | Item::Rule(_) => {}
        }
    }
    let mut out = Map::new();
    for (name, annotations, decls) in namespaces {
        let mut entity_types = Map::new();
        let mut actions = Map::new();
        let mut common = Map::new();
        for d in decls {
            match d {
                Decl::Entity(e) => {
                    for n in &e.names {
                        let mut t = Map::new();
                        if !e.parents.is_empty() {
                            t.insert(
                                "memberOfTypes".into(),
                                json!(e.parents.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
                            );
                        }
                        if !e.attrs.is_empty() {
                            t.insert("shape".into(), record_json(&e.attrs));
                        }
                        if let Some(tags) = &e.tags {
                            t.insert("tags".into(), type_json(tags));
                        }
                        if let Some(ids) = &e.enum_ids {
                            t.insert(
                                "enum".into(),
                                json!(ids.iter().map(|i| i.as_str()).collect::<Vec<_>>()),
                            );
                        }
                        annotate(&mut t, &e.annotations);
                        entity_types.insert(n.to_string(), Value::Object(t));
                    }
                }
                Decl::Action(a) => {
                    for n in &a.names {
                        let mut t = Map::new();
                        if !a.parents.is_empty() {
                            let groups: Vec<Value> = a
                                .parents
                                .iter()
                                .map(|(ty, id)| {
                                    let mut g = Map::new();
                                    g.insert("id".into(), id.as_str().into());
                                    if let Some(ty) = ty {
                                        g.insert("type".into(), ty.as_str().into());
                                    }
                                    Value::Object(g)
                                })
                                .collect();
                            t.insert("memberOf".into(), Value::Array(groups));
                        }
                        if a.principals.is_some() || a.resources.is_some() || a.context.is_some() {
                            let list = |l: &Option<Vec<Name>>| {
                                json!(l.iter().flatten().map(|n| n.as_str()).collect::<Vec<_>>())
                            };
                            let mut applies = Map::new();
                            applies.insert("principalTypes".into(), list(&a.principals));
                            applies.insert("resourceTypes".into(), list(&a.resources));
                            if let Some(c) = &a.context {
                                applies.insert("context".into(), type_json(c));
                            }
                            t.insert("appliesTo".into(), Value::Object(applies));
                        }
                        annotate(&mut t, &a.annotations);
                        actions.insert(n.to_string(), Value::Object(t));
                    }
                }
                Decl::Type(t) => {
                    let mut ty = type_json(&t.ty);
                    if let Value::Object(m) = &mut ty {
                        annotate(m, &t.annotations);
                    }
                    common.insert(t.name.to_string(), ty);
                }
            }
        }
        let mut ns = Map::new();
        ns.insert("entityTypes".into(), Value::Object(entity_types));
        ns.insert("actions".into(), Value::Object(actions));
        if !common.is_empty() {
            ns.insert("commonTypes".into(), Value::Object(common));
        }
        let owned: Vec<Annotation> = annotations.into_iter().cloned().collect();
        annotate(&mut ns, &owned);
        out.insert(name, Value::Object(ns));
    }
    sorted(Value::Object(out))
}

fn annotate(m: &mut Map<String, Value>, annotations: &[Annotation]) {
    if annotations.is_empty() {
        return;
    }
    let mut a = Map::new();
    for ann in annotations {
        a.insert(
            ann.key.to_string(),
            ann.value.as_deref().unwrap_or("").into(),
        );
    }
    m.insert("annotations".into(), Value::Object(a));
}

fn record_json(attrs: &[AttrDecl]) -> Value {
    let mut m = Map::new();
    for a in attrs {
        let mut t = type_json(&a.ty);
        if let Value::Object(o) = &mut t {
            if a.optional {
                o.insert("required".into(), false.into());
            }
            annotate(o, &a.annotations);
        }
        m.insert(a.name.to_string(), t);
    }
    json!({"type": "Record", "attributes": Value::Object(m)})
}

fn type_json(t: &TypeExpr) -> Value {
    match t {
        TypeExpr::Set(inner, _) => json!({"type": "Set", "element": type_json(inner)}),
        TypeExpr::Record(attrs, _) => record_json(attrs),
        TypeExpr::Named(n, _) => match n.strip_prefix("__cedar::") {
            Some("String") => json!({"type": "String"}),
            Some("Long") => json!({"type": "Long"}),
            Some("Bool" | "Boolean") => json!({"type": "Boolean"}),
            Some(ext) => json!({"type": "Extension", "name": ext}),
            None => json!({"type": "EntityOrCommon", "name": n.as_str()}),
        },
    }
}

/// `v` with every object's keys in sorted order, whether or not
/// serde_json keeps insertion order in this build.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Writes `__cedar::String` (what the JSON's `{"type": "String"}` reads as)
/// back as `String`, and so for every built-in type, wherever no declared
/// entity or common type has that name (which the bare name would mean).
pub fn plain_builtin_names(items: &mut [Item]) {
    let mut declared = std::collections::HashSet::new();
    let mut note = |d: &Decl| match d {
        Decl::Entity(e) => declared.extend(e.names.iter().cloned()),
        Decl::Type(t) => {
            declared.insert(t.name.clone());
        }
        Decl::Action(_) => {}
    };
    for item in items.iter() {
        match item {
            Item::Decl(d) => note(d),
            Item::Namespace(ns) => ns.decls.iter().for_each(&mut note),
            Item::Policy(_) | Item::Rule(_) => {}
        }
    }
    fn fix(t: &mut TypeExpr, declared: &std::collections::HashSet<SmolStr>) {
        match t {
            TypeExpr::Named(n, _) => {
                if let Some(bare) = n.strip_prefix("__cedar::") {
                    if !declared.contains(bare) {
                        *n = bare.into();
                    }
                }
            }
            TypeExpr::Set(inner, _) => fix(inner, declared),
            TypeExpr::Record(attrs, _) => attrs.iter_mut().for_each(|a| fix(&mut a.ty, declared)),
        }
    }
    let fix_decl = |d: &mut Decl| match d {
        Decl::Entity(e) => {
            e.attrs.iter_mut().for_each(|a| fix(&mut a.ty, &declared));
            if let Some(t) = &mut e.tags {
                fix(t, &declared);
            }
        }
        Decl::Action(a) => {
            if let Some(c) = &mut a.context {
                fix(c, &declared);
            }
        }
        Decl::Type(t) => fix(&mut t.ty, &declared),
    };
    for item in items.iter_mut() {
        match item {
            Item::Decl(d) => fix_decl(d),
            Item::Namespace(ns) => ns.decls.iter_mut().for_each(fix_decl),
            Item::Policy(_) | Item::Rule(_) => {}
        }
    }
}
