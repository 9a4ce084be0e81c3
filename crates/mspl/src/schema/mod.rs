//! Declarations (Cedar's schema syntax) gathered into one [`Schema`]: entity
//! types with their attributes and parents, actions with their groups and
//! `appliesTo`, common types. Action groups feed the entity store, so a
//! request file never lists actions; attribute types let entity files leave
//! out the `__entity` and `__extn` escapes, as Cedar allows with a schema.

use crate::syntax::ast::{ActionDecl, Decl, EntityDecl, EntityUid, Item, Name, TypeExpr};
use crate::syntax::Span;
use smol_str::SmolStr;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

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
    /// `Set<T>`, shared: a common type used twice is one value, never a copy.
    Set(Arc<Type>),
    /// A record type, shared as [`Type::Set`] is.
    Record(Arc<BTreeMap<SmolStr, AttrType>>),
    /// An extension type: `ipaddr`, `decimal`, `datetime`, `duration`.
    Extension(&'static str),
}

/// Whether `ty` names action entities (`Action`, `Ns::Action`).
pub fn is_action_type(ty: &str) -> bool {
    ty == "Action" || ty.ends_with("::Action")
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
    /// Attributes by name (shared by the names of one declaration).
    pub attrs: Arc<BTreeMap<SmolStr, AttrType>>,
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
    /// `type A = B; type B = A;`: a common type defined through itself.
    #[error("common type `{name}` is defined in terms of itself")]
    CyclicCommonType {
        /// Its declaration.
        span: Span,
        /// The type.
        name: String,
        /// The declaration that closes the cycle.
        other: Span,
    },
    /// `action a in [b]; action b in [a];`: an action group that contains
    /// itself.
    #[error("action `{name}` is in a group that is in it (a cycle of action groups)")]
    CyclicActionGroup {
        /// Its declaration.
        span: Span,
        /// The action.
        name: String,
        /// The declaration that closes the cycle.
        other: Span,
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
            | SchemaError::CyclicCommonType { span, .. }
            | SchemaError::CyclicActionGroup { span, .. }
            | SchemaError::UnknownType { span, .. } => *span,
        }
    }

    /// The other place a cycle runs through, if this is a cycle.
    pub fn other(&self) -> Option<Span> {
        match self {
            SchemaError::CyclicCommonType { other, .. }
            | SchemaError::CyclicActionGroup { other, .. } => Some(*other),
            _ => None,
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
        let mut commons: HashMap<Name, (&str, &TypeExpr, Span)> = HashMap::new();
        for (name, ns, ty, span) in &common_raw {
            if commons.contains_key(name) {
                errors.push(SchemaError::DuplicateCommonType {
                    span: *span,
                    name: name.to_string(),
                });
                continue;
            }
            commons.insert(name.clone(), (ns, ty, *span));
        }
        let resolver = Resolver {
            entity_names: entity_names.iter().cloned().collect(),
            entity_order: &entity_names,
            common_order: common_raw.iter().map(|(n, ..)| n.clone()).collect(),
            commons,
            resolved: RefCell::new(HashMap::new()),
            errors: RefCell::new(std::mem::take(&mut errors)),
        };
        for (name, ..) in &common_raw {
            if !schema.common_types.contains_key(name) {
                let ty = resolver.common(name, None);
                schema.common_types.insert(name.clone(), ty);
            }
        }
        for (ns, decl) in decls() {
            match decl {
                Decl::Entity(e) => schema.add_entity(ns, e, &resolver),
                Decl::Action(a) => schema.add_action(ns, a, &resolver),
                Decl::Type(_) => {}
            }
        }
        let mut errors = resolver.errors.into_inner();
        schema.check_action_cycles(&mut errors);
        (schema, errors)
    }

    fn add_entity(&mut self, ns: &str, e: &EntityDecl, resolver: &Resolver) {
        let attrs = Arc::new(resolver.record(ns, &e.attrs));
        let parents: Vec<Name> = e
            .parents
            .iter()
            .map(|p| resolver.entity_name(ns, p))
            .collect();
        let tags = e.tags.as_ref().map(|t| resolver.resolve(ns, t));
        for name in &e.names {
            let q = qualify(ns, name);
            if self.entity_types.contains_key(&q) {
                resolver
                    .errors
                    .borrow_mut()
                    .push(SchemaError::DuplicateEntityType {
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

    fn add_action(&mut self, ns: &str, a: &ActionDecl, resolver: &Resolver) {
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
        // An empty record is what no context declared means (Cedar's JSON
        // schema leaves it out): one meaning, one value.
        let context = a
            .context
            .as_ref()
            .map(|t| resolver.resolve(ns, t))
            .filter(|t| !matches!(t, Type::Record(attrs) if attrs.is_empty()));
        for name in &a.names {
            let uid = EntityUid::new(action_type.clone(), name.clone());
            if self.actions.contains_key(&uid) {
                resolver
                    .errors
                    .borrow_mut()
                    .push(SchemaError::DuplicateAction {
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

    /// Reports each cycle of action groups once, at an action on it.
    fn check_action_cycles(&self, errors: &mut Vec<SchemaError>) {
        // 0 unvisited, 1 on the current path, 2 done; iterative, so that a
        // chain of thousands of groups needs no deep stack.
        let mut state: HashMap<&EntityUid, u8> = HashMap::new();
        for start in self.actions.keys() {
            if state.contains_key(start) {
                continue;
            }
            let mut stack: Vec<(&EntityUid, usize)> = vec![(start, 0)];
            state.insert(start, 1);
            while let Some((uid, next)) = stack.pop() {
                let parents = self.actions.get(uid).map_or(&[][..], |a| &a.parents[..]);
                if let Some(parent) = parents.get(next) {
                    stack.push((uid, next + 1));
                    match state.get(parent).copied() {
                        None if self.actions.contains_key(parent) => {
                            state.insert(parent, 1);
                            stack.push((parent, 0));
                        }
                        Some(1) => errors.push(SchemaError::CyclicActionGroup {
                            span: self.actions[parent].span,
                            name: parent.to_string(),
                            other: self.actions[uid].span,
                        }),
                        _ => {}
                    }
                } else {
                    state.insert(uid, 2);
                }
            }
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
///
/// Each common type is resolved once and shared ([`Type`] holds `Arc`s), so
/// aliases built of copies of other aliases cost their text, not their
/// expansion; a common type defined through itself is an error.
struct Resolver<'a> {
    entity_names: HashSet<Name>,
    /// Entity and common type names in declaration order, for suggestions.
    entity_order: &'a [Name],
    common_order: Vec<Name>,
    commons: HashMap<Name, (&'a str, &'a TypeExpr, Span)>,
    /// `None` while a common type is being resolved (a cycle meets it).
    resolved: RefCell<HashMap<Name, Option<Type>>>,
    errors: RefCell<Vec<SchemaError>>,
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

    /// The common type `name`, resolved once; `from` is the reference that
    /// asked for it (to show where a cycle closes).
    fn common(&self, name: &Name, from: Option<Span>) -> Type {
        if let Some(state) = self.resolved.borrow().get(name) {
            return match state {
                Some(t) => t.clone(),
                None => {
                    let span = self.commons[name].2;
                    self.errors
                        .borrow_mut()
                        .push(SchemaError::CyclicCommonType {
                            span,
                            name: name.to_string(),
                            other: from.unwrap_or(span),
                        });
                    Type::Record(Arc::default())
                }
            };
        }
        let (ns, ty, _) = self.commons[name];
        self.resolved.borrow_mut().insert(name.clone(), None);
        // Chains of aliases recurse once per link: on a stack that grows.
        let t = crate::limits::with_stack(|| self.resolve(ns, ty));
        self.resolved
            .borrow_mut()
            .insert(name.clone(), Some(t.clone()));
        t
    }

    fn record(
        &self,
        ns: &str,
        attrs: &[crate::syntax::ast::AttrDecl],
    ) -> BTreeMap<SmolStr, AttrType> {
        attrs
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    AttrType {
                        ty: self.resolve(ns, &a.ty),
                        optional: a.optional,
                    },
                )
            })
            .collect()
    }

    fn resolve(&self, ns: &str, ty: &TypeExpr) -> Type {
        match ty {
            TypeExpr::Set(inner, _) => Type::Set(Arc::new(self.resolve(ns, inner))),
            TypeExpr::Record(attrs, _) => Type::Record(Arc::new(self.record(ns, attrs))),
            TypeExpr::Named(name, span) => {
                let bare = name.strip_prefix("__cedar::").unwrap_or(name);
                let candidates = [qualify(ns, name), name.clone()];
                for candidate in &candidates {
                    if self.commons.contains_key(candidate) {
                        return self.common(candidate, Some(*span));
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
                            .entity_order
                            .iter()
                            .chain(self.common_order.iter())
                            .map(|n| n.as_str())
                            .chain(PRIMITIVES.iter().copied())
                            .chain(EXTENSIONS.iter().copied());
                        self.errors.borrow_mut().push(SchemaError::UnknownType {
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

impl From<&SchemaError> for crate::diag::Diagnostic {
    fn from(e: &SchemaError) -> crate::diag::Diagnostic {
        use SchemaError as E;
        let help = match e {
            E::UnknownType {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean `{s}`?")),
            _ => None,
        };
        let label = match e {
            E::UnknownType { .. } => "no type of this name",
            E::CyclicCommonType { .. } | E::CyclicActionGroup { .. } => "declared here",
            _ => "declared again here",
        };
        let mut d = crate::diag::Diagnostic::error(e.to_string(), e.span(), label).with_help(help);
        if let Some(other) = e
            .other()
            .filter(|o| (o.file, o.start, o.end) != (e.span().file, e.span().start, e.span().end))
        {
            d = d.with_secondary(other, "and the cycle closes here");
        }
        d
    }
}
