//! The validator's types and Cedar's strict-mode lattice on them: subtyping,
//! least upper bounds, and what an operator expects of its operands.
//!
//! Strict mode is Cedar's default: two different entity types have no least
//! upper bound, records have one only when they have the same attributes with
//! the same optionality, so a set literal, an `if` or an `==` never mixes
//! types that the evaluator would have to tell apart at run time.

use crate::schema::{AttrType, Type as SchemaType};
use crate::syntax::ast::Name;
use smol_str::SmolStr;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// The type of an expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ty {
    /// The bottom type: no value has it (the elements of `[]`).
    Never,
    /// A boolean known to be `true`.
    True,
    /// A boolean known to be `false`.
    False,
    /// Any boolean.
    Bool,
    /// A 64-bit integer.
    Long,
    /// A string.
    String,
    /// A set of elements of one type.
    Set(Box<Ty>),
    /// An entity of one type (fully qualified).
    Entity(Name),
    /// A record with exactly these attributes.
    Record(Arc<BTreeMap<SmolStr, Attr>>),
    /// An extension type: `decimal`, `ipaddr`, `datetime`, `duration`.
    Ext(&'static str),
}

/// The type of an attribute and whether it is always present.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attr {
    /// The attribute's type.
    pub ty: Ty,
    /// Whether every value of the record or entity type has it.
    pub required: bool,
}

type Converted = HashMap<usize, (Arc<BTreeMap<SmolStr, AttrType>>, Ty)>;

thread_local! {
    /// Declared records already converted, by address ([`Ty::record_from_schema`]).
    static CONVERTED: RefCell<Converted> = RefCell::new(HashMap::new());
}

/// Past this many converted records the cache starts again, so a
/// long-running process that loads many schemas keeps none for ever.
const MAX_CONVERTED: usize = 1 << 16;

/// Why two types have no least upper bound, for the help line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LubHelp {
    /// Different types altogether.
    None,
    /// Two different entity types.
    EntityType,
    /// An entity and a record.
    EntityRecord,
    /// Records with different attributes.
    RecordWidth,
    /// An attribute optional in one record and required in the other.
    AttributeQualifier,
}

impl LubHelp {
    /// The help line for an error about types without a least upper bound.
    pub fn help(self) -> Option<&'static str> {
        match self {
            LubHelp::None => None,
            LubHelp::EntityType => Some(
                "different entity types are never mixed in strict validation; compare or collect entities of one type",
            ),
            LubHelp::EntityRecord => Some("entities and records are never mixed"),
            LubHelp::RecordWidth => {
                Some("records are mixed only when they have the same attributes")
            }
            LubHelp::AttributeQualifier => {
                Some("an attribute is optional in one record and required in the other")
            }
        }
    }
}

impl Ty {
    /// The boolean singleton of `b`.
    pub fn singleton(b: bool) -> Ty {
        if b {
            Ty::True
        } else {
            Ty::False
        }
    }

    /// Whether this is one of the boolean types.
    pub fn is_bool(&self) -> bool {
        matches!(self, Ty::True | Ty::False | Ty::Bool)
    }

    /// The validator type of a declared type.
    pub fn from_schema(t: &SchemaType) -> Ty {
        match t {
            SchemaType::Bool => Ty::Bool,
            SchemaType::Long => Ty::Long,
            SchemaType::String => Ty::String,
            SchemaType::Entity(n) => Ty::Entity(n.clone()),
            SchemaType::Set(e) => {
                Ty::Set(Box::new(crate::limits::with_stack(|| Ty::from_schema(e))))
            }
            SchemaType::Record(attrs) => Ty::record_from_schema(attrs),
            SchemaType::Extension(e) => Ty::Ext(e),
        }
    }

    /// The record type of declared attributes.
    ///
    /// Declared records are shared (an alias used twice is one record), and
    /// so are their conversions: each is converted once and kept, so a type
    /// built of copies of copies costs its text, and two uses of one alias
    /// give pointer-equal records that compare at once.
    pub fn record_from_schema(attrs: &Arc<BTreeMap<SmolStr, AttrType>>) -> Ty {
        let key = Arc::as_ptr(attrs) as usize;
        if let Some(t) = CONVERTED.with(|c| c.borrow().get(&key).map(|(_, t)| t.clone())) {
            return t;
        }
        let ty = Ty::Record(Arc::new(
            attrs
                .iter()
                .map(|(k, a)| {
                    (
                        k.clone(),
                        Attr {
                            ty: Ty::from_schema(&a.ty),
                            required: !a.optional,
                        },
                    )
                })
                .collect(),
        ));
        CONVERTED.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= MAX_CONVERTED {
                c.clear();
            }
            // The entry holds the declared record, so its address is never
            // reused while the entry stands.
            c.insert(key, (attrs.clone(), ty.clone()));
        });
        ty
    }

    /// Strict subtyping: `Never` below everything, the boolean singletons
    /// below `Bool`, and otherwise equal shapes (records: the same attributes
    /// with the same optionality).
    pub fn is_subtype(a: &Ty, b: &Ty) -> bool {
        match (a, b) {
            (Ty::Never, _) => true,
            (Ty::True | Ty::False, Ty::Bool) => true,
            (Ty::Set(x), Ty::Set(y)) => Ty::is_subtype(x, y),
            (Ty::Record(x), Ty::Record(y)) => {
                Arc::ptr_eq(x, y)
                    || x.len() == y.len()
                        && x.iter().all(|(k, ax)| {
                            y.get(k).is_some_and(|ay| {
                                ax.required == ay.required && Ty::is_subtype(&ax.ty, &ay.ty)
                            })
                        })
            }
            _ => a == b,
        }
    }

    /// The strict least upper bound of two types, or why there is none.
    pub fn lub(a: &Ty, b: &Ty) -> Result<Ty, LubHelp> {
        if Ty::is_subtype(a, b) {
            return Ok(b.clone());
        }
        if Ty::is_subtype(b, a) {
            return Ok(a.clone());
        }
        match (a, b) {
            (x, y) if x.is_bool() && y.is_bool() => Ok(Ty::Bool),
            (Ty::Set(x), Ty::Set(y)) => Ok(Ty::Set(Box::new(Ty::lub(x, y)?))),
            (Ty::Record(x), Ty::Record(y)) => {
                if x.len() != y.len() || x.keys().any(|k| !y.contains_key(k)) {
                    return Err(LubHelp::RecordWidth);
                }
                let mut out = BTreeMap::new();
                for (k, ax) in x.iter() {
                    let ay = &y[k];
                    let ty = Ty::lub(&ax.ty, &ay.ty)?;
                    if ax.required != ay.required {
                        return Err(LubHelp::AttributeQualifier);
                    }
                    out.insert(
                        k.clone(),
                        Attr {
                            ty,
                            required: ax.required,
                        },
                    );
                }
                Ok(Ty::Record(Arc::new(out)))
            }
            (Ty::Entity(_), Ty::Entity(_)) => Err(LubHelp::EntityType),
            (Ty::Entity(_), Ty::Record(_)) | (Ty::Record(_), Ty::Entity(_)) => {
                Err(LubHelp::EntityRecord)
            }
            _ => Err(LubHelp::None),
        }
    }

    /// The least upper bound of several types (`Never` for none).
    pub fn lub_all<'a>(types: impl IntoIterator<Item = &'a Ty>) -> Result<Ty, LubHelp> {
        types
            .into_iter()
            .try_fold(Ty::Never, |acc, t| Ty::lub(&acc, t))
    }

    /// Whether two types certainly share no value: entities of different types.
    pub fn disjoint(a: &Ty, b: &Ty) -> bool {
        matches!((a, b), (Ty::Entity(x), Ty::Entity(y)) if x != y)
    }
}

/// The longest type a message shows; a longer one ends in `…` (a type
/// built of copies of an alias may be exponentially long written out).
const MAX_SHOWN: usize = 200;

/// A writer that takes at most [`MAX_SHOWN`] bytes, then fails.
struct Bounded(String);

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.len() + s.len() > MAX_SHOWN {
            let mut end = MAX_SHOWN - self.0.len();
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.0.push_str(&s[..end]);
            return Err(fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Bounded(String::new());
        match self.write_to(&mut out) {
            Ok(()) => f.write_str(&out.0),
            Err(_) => write!(f, "{}…", out.0),
        }
    }
}

impl Ty {
    fn write_to(&self, f: &mut Bounded) -> fmt::Result {
        match self {
            Ty::Never => f.write_str("Never"),
            Ty::True | Ty::False | Ty::Bool => f.write_str("Bool"),
            Ty::Long => f.write_str("Long"),
            Ty::String => f.write_str("String"),
            Ty::Set(e) => {
                f.write_str("Set<")?;
                e.write_to(f)?;
                f.write_str(">")
            }
            Ty::Entity(n) => write!(f, "{n}"),
            Ty::Ext(n) => f.write_str(n),
            Ty::Record(attrs) => {
                f.write_str("{")?;
                for (i, (k, a)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    let q = if a.required { "" } else { "?" };
                    if crate::value::is_identifier(k) {
                        write!(f, " {k}{q}: ")?;
                    } else {
                        write!(f, " {k:?}{q}: ")?;
                    }
                    a.ty.write_to(f)?;
                }
                f.write_str(if attrs.is_empty() { "}" } else { " }" })
            }
        }
    }
}

/// What an operator expects of an operand. Matching is permissive about
/// shapes (any set, any entity), as Cedar's `expect_type` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// `Bool` (or a singleton).
    Bool,
    /// `Long`.
    Long,
    /// `String`.
    String,
    /// Any set.
    Set,
    /// Any entity.
    Entity,
    /// Any entity or record (attribute access, `has`).
    EntityOrRecord,
    /// An entity or a set of entities (the right of `in`).
    EntityOrEntitySet,
    /// One extension type.
    Ext(&'static str),
}

impl Want {
    /// Whether a value of type `t` is acceptable.
    pub fn accepts(self, t: &Ty) -> bool {
        if *t == Ty::Never {
            return true;
        }
        match self {
            Want::Bool => t.is_bool(),
            Want::Long => *t == Ty::Long,
            Want::String => *t == Ty::String,
            Want::Set => matches!(t, Ty::Set(_)),
            Want::Entity => matches!(t, Ty::Entity(_)),
            Want::EntityOrRecord => matches!(t, Ty::Entity(_) | Ty::Record(_)),
            Want::EntityOrEntitySet => match t {
                Ty::Entity(_) => true,
                Ty::Set(e) => matches!(**e, Ty::Entity(_) | Ty::Never),
                _ => false,
            },
            Want::Ext(n) => *t == Ty::Ext(n),
        }
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Want::Bool => "`Bool`",
            Want::Long => "`Long`",
            Want::String => "`String`",
            Want::Set => "a set",
            Want::Entity => "an entity",
            Want::EntityOrRecord => "an entity or a record",
            Want::EntityOrEntitySet => "an entity or a set of entities",
            Want::Ext(n) => return write!(f, "`{n}`"),
        })
    }
}

/// The type of an extension function or method, from the table of
/// built-ins: its argument types (a method's receiver first) and its result.
pub fn extension_signature(name: &str) -> Option<(Vec<Ty>, Ty)> {
    let b = crate::builtins::function(name)
        .or_else(|| crate::builtins::method(name))
        .filter(|b| b.implementation == crate::builtins::Implementation::Extension)?;
    let ty = |p: &crate::builtins::Param| -> Option<Ty> {
        use crate::builtins::Param as P;
        Some(match p {
            P::Bool => Ty::Bool,
            P::Long => Ty::Long,
            P::String => Ty::String,
            P::Ext(n) => Ty::Ext(n),
            // Extension built-ins take and give only the types above.
            P::Set | P::Entity | P::Any => return None,
        })
    };
    let params = b.params.iter().map(ty).collect::<Option<Vec<_>>>()?;
    Some((params, ty(&b.result)?))
}

/// Whether `<`, `<=`, `>`, `>=` compare values of type `t`.
pub fn is_ordered(t: &Ty) -> bool {
    matches!(t, Ty::Long | Ty::Ext("datetime") | Ty::Ext("duration"))
}
