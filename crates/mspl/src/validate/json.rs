//! JSON paths, and finding the text a path names, so that a data problem is
//! reported at the exact value (line, column and a label under it).
//!
//! Data is checked as `serde_json` values; only when a problem is found is
//! the text walked again along the problem's path, borrowing raw values to
//! learn their offsets.

use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// One step of a path: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// `.key` or `["key"]`.
    Key(String),
    /// `[i]`.
    Declared(usize),
}

/// A path from the document's root, printed as `$[2].attrs.owner`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// This path extended by `seg`.
    pub fn with(&self, seg: Seg) -> Path {
        let mut p = self.clone();
        p.0.push(seg);
        p
    }

    /// This path extended by key `k`.
    pub fn key(&self, k: &str) -> Path {
        self.with(Seg::Key(k.to_string()))
    }

    /// This path extended by index `i`.
    pub fn index(&self, i: usize) -> Path {
        self.with(Seg::Declared(i))
    }
}

impl Path {
    /// The steps after the root: `[2].attrs.owner`.
    pub fn suffix(&self) -> String {
        use fmt::Write;
        let mut out = String::new();
        for s in &self.0 {
            let _ = match s {
                Seg::Declared(i) => write!(out, "[{i}]"),
                Seg::Key(k) if crate::value::is_identifier(k) => write!(out, ".{k}"),
                Seg::Key(k) => write!(out, "[{k:?}]"),
            };
        }
        out
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.suffix())
    }
}

/// The byte range (relative to `text`) of the value at `path` in the JSON
/// `text`, or of the deepest value on the way that exists.
pub fn locate(text: &str, path: &Path) -> (usize, usize) {
    let base = text.as_ptr() as usize;
    let Ok(mut raw) = serde_json::from_str::<&RawValue>(text) else {
        return (0, text.len().min(1));
    };
    for seg in &path.0 {
        let next = match seg {
            Seg::Key(k) => serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get())
                .ok()
                .and_then(|m| m.get(k).copied()),
            Seg::Declared(i) => serde_json::from_str::<Vec<&RawValue>>(raw.get())
                .ok()
                .and_then(|v| v.get(*i).copied()),
        };
        match next {
            Some(n) => raw = n,
            None => break,
        }
    }
    let start = raw.get().as_ptr() as usize - base;
    (start, start + raw.get().len())
}

/// A short description of a JSON value for "found …" messages.
pub fn describe(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Null => "`null`".into(),
        J::Bool(b) => format!("`{b}`"),
        J::Number(n) => format!("the number `{n}`"),
        J::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        J::String(_) => "a string".into(),
        J::Array(_) => "an array".into(),
        J::Object(o) if o.contains_key("__entity") => "an entity reference".into(),
        J::Object(o) if o.contains_key("__extn") => "an extension value".into(),
        J::Object(_) => "an object".into(),
    }
}
