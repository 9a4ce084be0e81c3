//! Declarations (Cedar's schema syntax) gathered into one [`Schema`]: entity
//! types with their attributes and parents, actions with their groups and
//! `appliesTo`, common types. Action groups feed the entity store, so a
//! request file never lists actions; attribute types let entity files leave
//! out the `__entity` and `__extn` escapes, as Cedar allows with a schema.

use crate::syntax::ast::{ActionDecl, Decl, EntityDecl, EntityUid, Item, Name, TypeExpr};
use crate::syntax::Span;
use smol_str::SmolStr;
use std::collections::BTreeMap;

/// A resolved type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// `Bool`.
    Bool,
    /// `Long`.
    Long,
    /// `String`.
    String,
    /// An entity type, fully qualified.
    Entity(Name),
    /// `Set<T>`.
    Set(Box<Type>),
    /// A record type.
    Record(BTreeMap<SmolStr, AttrType>),
    /// An extension type: `ipaddr`, `decimal`, `datetime`, `duration`.
    Extension(&'static str),
}

/// An attribute's type and whether it may be absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrType {
    /// The type.
    pub ty: Type,
    /// Whether the attribute may be absent.
    pub optional: bool,
}

/// A declared entity type.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityType {
    /// Attributes by name.
    pub attrs: BTreeMap<SmolStr, AttrType>,
    /// Allowed parent types, fully qualified.
    pub parents: Vec<Name>,
    /// The type of tags, if the type has tags.
    pub tags: Option<Type>,
    /// For enumerated entity types, the allowed ids.
    pub enum_ids: Option<Vec<SmolStr>>,
    /// Where it was declared.
    pub span: Span,
}

/// A declared action.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// The groups it belongs to.
    pub parents: Vec<EntityUid>,
    /// Principal types it applies to (`None`: not declared).
    pub principals: Option<Vec<Name>>,
    /// Resource types it applies to (`None`: not declared).
    pub resources: Option<Vec<Name>>,
    /// The context's type.
    pub context: Option<Type>,
    /// Where it was declared.
    pub span: Span,
}

/// All declarations of a policy set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    /// Entity types by qualified name.
    pub entity_types: BTreeMap<Name, EntityType>,
    /// Actions by uid.
    pub actions: BTreeMap<EntityUid, Action>,
    /// Common types by qualified name.
    pub common_types: BTreeMap<Name, Type>,
}

/// A problem in the declarations.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SchemaError {
    /// `entity A; entity A;`
    #[error("entity type `{name}` is declared twice")]
    DuplicateEntityType {
        /// The second declaration.
        span: Span,
        /// The type.
        name: String,
    },
    /// `action "a"; action "a";`
    #[error("action `{name}` is declared twice")]
    DuplicateAction {
        /// The second declaration.
        span: Span,
        /// The action.
        name: String,
    },
    /// `type T = Long; type T = String;`
    #[error("common type `{name}` is declared twice")]
    DuplicateCommonType {
        /// The second declaration.
        span: Span,
        /// The type.
        name: String,
    },
    /// `entity A { b: Strng };`
    #[error("unknown type `{name}`")]
    UnknownType {
        /// The type's name.
        span: Span,
        /// As written.
        name: String,
        /// The closest known type.
        suggestion: Option<String>,
    },
}

impl SchemaError {
    /// Where the problem is.
    pub fn span(&self) -> Span {
        match self {
            SchemaError::DuplicateEntityType { span, .. }
            | SchemaError::DuplicateAction { span, .. }
            | SchemaError::DuplicateCommonType { span, .. }
            | SchemaError::UnknownType { span, .. } => *span,
        }
    }
}

const PRIMITIVES: &[&str] = &["Bool", "Long", "String", "Boolean"];
const EXTENSIONS: &[&str] = &["ipaddr", "decimal", "datetime", "duration"];

fn qualify(namespace: &str, name: &str) -> Name {
    if namespace.is_empty() {
        name.into()
    } else {
        format!("{namespace}::{name}").into()
    }
}

impl Schema {
    /// Gathers the declarations of `items` (namespace blocks included).
    /// Later files may refer to types of earlier ones and the other way round.
    pub fn build<'a>(
        items: impl IntoIterator<Item = &'a Item> + Clone,
    ) -> (Schema, Vec<SchemaError>) {
        let mut schema = Schema::default();
        let mut errors = Vec::new();
        let decls = || {
            items
                .clone()
                .into_iter()
                .flat_map(|item| -> Vec<(&'a str, &'a Decl)> {
                    match item {
                        Item::Decl(d) => vec![("", d)],
                        Item::Namespace(ns) => {
                            ns.decls.iter().map(|d| (ns.name.as_str(), d)).collect()
                        }
                        _ => Vec::new(),
                    }
                })
        };
        // First pass: the names, so that types resolve whatever the order.
        let mut common_raw: Vec<(Name, &str, &TypeExpr, Span)> = Vec::new();
        let mut entity_names: Vec<Name> = Vec::new();
        for (ns, decl) in decls() {
            match decl {
                Decl::Entity(e) => entity_names.extend(e.names.iter().map(|n| qualify(ns, n))),
                Decl::Type(t) => common_raw.push((qualify(ns, &t.name), ns, &t.ty, t.span)),
                Decl::Action(_) => {}
            }
        }
        let resolver = Resolver {
            entity_names: &entity_names,
            common_names: common_raw.iter().map(|(n, ..)| n.clone()).collect(),
        };
        for (name, ns, ty, span) in &common_raw {
            if schema.common_types.contains_key(name) {
                errors.push(SchemaError::DuplicateCommonType {
                    span: *span,
                    name: name.to_string(),
                });
                continue;
            }
            let resolved = resolver.resolve(ns, ty, &common_raw, &mut errors, 0);
            schema.common_types.insert(name.clone(), resolved);
        }
        for (ns, decl) in decls() {
            match decl {
                Decl::Entity(e) => schema.add_entity(ns, e, &resolver, &common_raw, &mut errors),
                Decl::Action(a) => schema.add_action(ns, a, &resolver, &common_raw, &mut errors),
                Decl::Type(_) => {}
            }
        }
        (schema, errors)
    }

    fn add_entity(
        &mut self,
        ns: &str,
        e: &EntityDecl,
        resolver: &Resolver,
        common: &[(Name, &str, &TypeExpr, Span)],
        errors: &mut Vec<SchemaError>,
    ) {
        let attrs = resolver.record(ns, &e.attrs, common, errors, 0);
        let parents: Vec<Name> = e
            .parents
            .iter()
            .map(|p| resolver.entity_name(ns, p))
            .collect();
        let tags = e
            .tags
            .as_ref()
            .map(|t| resolver.resolve(ns, t, common, errors, 0));
        for name in &e.names {
            let q = qualify(ns, name);
            if self.entity_types.contains_key(&q) {
                errors.push(SchemaError::DuplicateEntityType {
                    span: e.span,
                    name: q.to_string(),
                });
                continue;
            }
            self.entity_types.insert(
                q,
                EntityType {
                    attrs: attrs.clone(),
                    parents: parents.clone(),
                    tags: tags.clone(),
                    enum_ids: e.enum_ids.clone(),
                    span: e.span,
                },
            );
        }
    }

    fn add_action(
        &mut self,
        ns: &str,
        a: &ActionDecl,
        resolver: &Resolver,
        common: &[(Name, &str, &TypeExpr, Span)],
        errors: &mut Vec<SchemaError>,
    ) {
        let action_type = qualify(ns, "Action");
        let parents: Vec<EntityUid> = a
            .parents
            .iter()
            .map(|(ty, id)| match ty {
                None => EntityUid::new(action_type.clone(), id.clone()),
                Some(t) if t == "Action" => EntityUid::new(action_type.clone(), id.clone()),
                Some(t) => EntityUid::new(t.clone(), id.clone()),
            })
            .collect();
        let types = |list: &Option<Vec<Name>>| {
            list.as_ref().map(|l| {
                l.iter()
                    .map(|t| resolver.entity_name(ns, t))
                    .collect::<Vec<_>>()
            })
        };
        let context = a
            .context
            .as_ref()
            .map(|t| resolver.resolve(ns, t, common, errors, 0));
        for name in &a.names {
            let uid = EntityUid::new(action_type.clone(), name.clone());
            if self.actions.contains_key(&uid) {
                errors.push(SchemaError::DuplicateAction {
                    span: a.span,
                    name: uid.to_string(),
                });
                continue;
            }
            self.actions.insert(
                uid,
                Action {
                    parents: parents.clone(),
                    principals: types(&a.principals),
                    resources: types(&a.resources),
                    context: context.clone(),
                    span: a.span,
                },
            );
        }
    }

    /// The declared type of attribute `attr` of entity type `ty`.
    pub fn attr_type(&self, ty: &str, attr: &str) -> Option<&AttrType> {
        self.entity_types.get(ty)?.attrs.get(attr)
    }

    /// Whether nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.entity_types.is_empty() && self.actions.is_empty() && self.common_types.is_empty()
    }
}

/// Resolves type names the way Cedar does: a common type of the current
/// namespace, an entity type of the current namespace, then the same in the
/// empty namespace, then the primitive and extension types.
struct Resolver<'a> {
    entity_names: &'a [Name],
    common_names: Vec<Name>,
}

impl Resolver<'_> {
    fn entity_name(&self, ns: &str, name: &str) -> Name {
        let local = qualify(ns, name);
        if self.entity_names.contains(&local) {
            local
        } else {
            name.into()
        }
    }

    fn record(
        &self,
        ns: &str,
        attrs: &[crate::syntax::ast::AttrDecl],
        common: &[(Name, &str, &TypeExpr, Span)],
        errors: &mut Vec<SchemaError>,
        depth: usize,
    ) -> BTreeMap<SmolStr, AttrType> {
        attrs
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    AttrType {
                        ty: self.resolve(ns, &a.ty, common, errors, depth + 1),
                        optional: a.optional,
                    },
                )
            })
            .collect()
    }

    fn resolve(
        &self,
        ns: &str,
        ty: &TypeExpr,
        common: &[(Name, &str, &TypeExpr, Span)],
        errors: &mut Vec<SchemaError>,
        depth: usize,
    ) -> Type {
        // Common types may refer to each other; a cycle would recurse forever.
        if depth > 64 {
            return Type::Record(BTreeMap::new());
        }
        match ty {
            TypeExpr::Set(inner, _) => {
                Type::Set(Box::new(self.resolve(ns, inner, common, errors, depth + 1)))
            }
            TypeExpr::Record(attrs, _) => {
                Type::Record(self.record(ns, attrs, common, errors, depth))
            }
            TypeExpr::Named(name, span) => {
                let bare = name.strip_prefix("__cedar::").unwrap_or(name);
                let candidates = [qualify(ns, name), name.clone()];
                for candidate in &candidates {
                    if let Some((_, cns, cty, _)) = common.iter().find(|(n, ..)| n == candidate) {
                        return self.resolve(cns, cty, common, errors, depth + 1);
                    }
                    if self.entity_names.contains(candidate) {
                        return Type::Entity(candidate.clone());
                    }
                }
                match bare {
                    "Bool" | "Boolean" => Type::Bool,
                    "Long" => Type::Long,
                    "String" => Type::String,
                    "ipaddr" => Type::Extension("ipaddr"),
                    "decimal" => Type::Extension("decimal"),
                    "datetime" => Type::Extension("datetime"),
                    "duration" => Type::Extension("duration"),
                    _ => {
                        let known = self
                            .entity_names
                            .iter()
                            .chain(self.common_names.iter())
                            .map(|n| n.as_str())
                            .chain(PRIMITIVES.iter().copied())
                            .chain(EXTENSIONS.iter().copied());
                        errors.push(SchemaError::UnknownType {
                            span: *span,
                            name: name.to_string(),
                            suggestion: crate::suggest::closest(name, known),
                        });
                        Type::Entity(name.clone())
                    }
                }
            }
        }
    }
}
