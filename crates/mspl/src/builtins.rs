//! The one table of built-in functions and methods: each one's name, form,
//! parameter types (a method's receiver first), result type and
//! implementation. The linker (`policy_set`), the evaluator, the validator,
//! the REPL's completion and the extension types all read it; nothing else
//! names a built-in or counts its arguments.

/// How a built-in is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// `name(args)`: the extension constructors.
    Function,
    /// `receiver.name(args)`.
    Method,
}

/// A parameter or result type, as the validator reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `Bool`.
    Bool,
    /// `Long`.
    Long,
    /// `String`.
    String,
    /// An extension type by name: `decimal`, `ipaddr`, `datetime`, `duration`.
    Ext(&'static str),
    /// Any set.
    Set,
    /// Any entity.
    Entity,
    /// Any value (a set's element, a tag's value).
    Any,
}

/// Where a built-in is implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// By `value::ext::apply`, on extension values and strings.
    Extension,
    /// By the evaluator itself, on sets and entities, in place.
    Evaluator,
}

/// One built-in.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    /// Its name.
    pub name: &'static str,
    /// Function or method.
    pub form: Form,
    /// Parameter types; a method's receiver is the first.
    pub params: &'static [Param],
    /// Result type.
    pub result: Param,
    /// Who implements it.
    pub implementation: Implementation,
}

impl Builtin {
    /// The number of arguments a call writes (a method's receiver not
    /// counted).
    pub fn arguments(&self) -> usize {
        match self.form {
            Form::Function => self.params.len(),
            Form::Method => self.params.len() - 1,
        }
    }
}

use std::collections::HashMap;
use std::sync::OnceLock;

/// The lookup table of [`BUILTINS`], hashed fast (foldhash: the names are
/// ours, not an attacker's).
type ByName = HashMap<(Form, &'static str), &'static Builtin, foldhash::fast::RandomState>;
use Form::{Function as F, Method as M};
use Implementation::{Evaluator as Ev, Extension as Ex};
use Param::*;

const DEC: Param = Ext("decimal");
const IP: Param = Ext("ipaddr");
const DT: Param = Ext("datetime");
const DUR: Param = Ext("duration");

const fn b(
    name: &'static str,
    form: Form,
    params: &'static [Param],
    result: Param,
    implementation: Implementation,
) -> Builtin {
    Builtin {
        name,
        form,
        params,
        result,
        implementation,
    }
}

/// Every built-in, constructors first, then the methods of sets and
/// entities, then the extension methods.
pub const BUILTINS: &[Builtin] = &[
    b("decimal", F, &[String], DEC, Ex),
    b("ip", F, &[String], IP, Ex),
    b("datetime", F, &[String], DT, Ex),
    b("duration", F, &[String], DUR, Ex),
    b("contains", M, &[Set, Any], Bool, Ev),
    b("containsAll", M, &[Set, Set], Bool, Ev),
    b("containsAny", M, &[Set, Set], Bool, Ev),
    b("isEmpty", M, &[Set], Bool, Ev),
    b("hasTag", M, &[Entity, String], Bool, Ev),
    b("getTag", M, &[Entity, String], Any, Ev),
    b("lessThan", M, &[DEC, DEC], Bool, Ex),
    b("lessThanOrEqual", M, &[DEC, DEC], Bool, Ex),
    b("greaterThan", M, &[DEC, DEC], Bool, Ex),
    b("greaterThanOrEqual", M, &[DEC, DEC], Bool, Ex),
    b("isIpv4", M, &[IP], Bool, Ex),
    b("isIpv6", M, &[IP], Bool, Ex),
    b("isLoopback", M, &[IP], Bool, Ex),
    b("isMulticast", M, &[IP], Bool, Ex),
    b("isInRange", M, &[IP, IP], Bool, Ex),
    b("offset", M, &[DT, DUR], DT, Ex),
    b("durationSince", M, &[DT, DT], DUR, Ex),
    b("toDate", M, &[DT], DT, Ex),
    b("toTime", M, &[DT], DUR, Ex),
    b("toMilliseconds", M, &[DUR], Long, Ex),
    b("toSeconds", M, &[DUR], Long, Ex),
    b("toMinutes", M, &[DUR], Long, Ex),
    b("toHours", M, &[DUR], Long, Ex),
    b("toDays", M, &[DUR], Long, Ex),
];

/// The function `name`, if it is one.
pub fn function(name: &str) -> Option<&'static Builtin> {
    by_name().get(&(Form::Function, name)).copied()
}

/// The method `name`, if it is one.
pub fn method(name: &str) -> Option<&'static Builtin> {
    by_name().get(&(Form::Method, name)).copied()
}

/// The built-ins by form and name, built once: the evaluator looks a
/// method up at every call.
fn by_name() -> &'static ByName {
    static TABLE: OnceLock<ByName> = OnceLock::new();
    TABLE.get_or_init(|| BUILTINS.iter().map(|b| ((b.form, b.name), b)).collect())
}

/// The names of every built-in of `form`, in table order.
pub fn names(form: Form) -> impl Iterator<Item = &'static str> {
    BUILTINS
        .iter()
        .filter(move |b| b.form == form)
        .map(|b| b.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_form() {
        for (i, a) in BUILTINS.iter().enumerate() {
            for b in &BUILTINS[i + 1..] {
                assert!(a.name != b.name || a.form != b.form, "{} twice", a.name);
            }
        }
    }

    #[test]
    fn a_method_has_a_receiver() {
        assert!(BUILTINS
            .iter()
            .all(|b| b.form == Form::Function || !b.params.is_empty()));
    }
}
