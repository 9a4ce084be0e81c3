//! JSON with a span on every value and key, for the JSON inputs whose
//! problems must point at a line and column inside them: Cedar's linked
//! policies file, its JSON schema and its JSON policy format.
//!
//! Strict as Cedar's readers are: one value, no trailing commas or
//! comments, a key at most once per object, a bounded depth.

use crate::span::{FileId, Span};
use crate::diag::Diagnostic;
use smol_str::SmolStr;

/// A JSON value and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Json {
    /// The value.
    pub kind: JsonKind,
    /// Its text.
    pub span: Span,
}

/// The kinds of JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(SmolStr),
    /// A string, unescaped.
    String(SmolStr),
    /// An array.
    Array(Vec<Json>),
    /// An object: its entries in source order (keys are unique).
    Object(Vec<(Key, Json)>),
}

/// An object's key and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key, unescaped.
    pub name: SmolStr,
    /// Its text, quotes included.
    pub span: Span,
}

impl Json {
    /// The entry `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The entries of an object.
    pub fn entries(&self) -> Option<&[(Key, Json)]> {
        match &self.kind {
            JsonKind::Object(e) => Some(e),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn items(&self) -> Option<&[Json]> {
        match &self.kind {
            JsonKind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A string's value.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// A boolean's value.
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            JsonKind::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// What this is, in words, for diagnostics (`a string`, `an object`).
    pub fn what(&self) -> &'static str {
        match self.kind {
            JsonKind::Null => "null",
            JsonKind::Bool(_) => "a boolean",
            JsonKind::Number(_) => "a number",
            JsonKind::String(_) => "a string",
            JsonKind::Array(_) => "an array",
            JsonKind::Object(_) => "an object",
        }
    }

    /// The span of the key `key` of an object, else the object's own.
    pub fn key_span(&self, key: &str) -> Span {
        self.entries()
            .and_then(|e| e.iter().find(|(k, _)| k.name == key))
            .map_or(self.span, |(k, _)| k.span)
    }
}

/// The problem of a key that `place` (an object of a known shape) does not
/// have: a did-you-mean among `known`, else the list.
pub fn unknown_field(key: &Key, place: &str, known: &[&str]) -> Diagnostic {
    let help = match crate::suggest::closest(&key.name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!(
            "{place} has {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Diagnostic::error(
        format!(
            "unknown field `{}` in {place}",
            crate::diag::printable(&key.name)
        ),
        key.span,
        "unknown field",
    )
    .with_help(Some(help))
}

/// Parses `text` (file `file`) as one JSON value nesting at most
/// `max_depth` arrays and objects deep.
pub fn parse_json(text: &str, file: FileId, max_depth: usize) -> Result<Json, Box<Diagnostic>> {
    let mut p = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
        file,
        max_depth,
    };
    p.space();
    let value = p.value(0)?;
    p.space();
    if p.at < p.bytes.len() {
        return Err(p.error(
            p.at,
            p.at + 1,
            "unexpected text after the JSON value",
            "here",
        ));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    file: FileId,
    max_depth: usize,
}

impl Reader<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn error(&self, start: usize, end: usize, message: &str, label: &str) -> Box<Diagnostic> {
        let end = end.min(self.bytes.len()).max(start);
        Box::new(Diagnostic::error(
            format!("invalid JSON: {message}"),
            self.span(start, end),
            label,
        ))
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, Box<Diagnostic>> {
        let start = self.at;
        let Some(&b) = self.bytes.get(self.at) else {
            return Err(self.error(
                start,
                start,
                "the text ends where a value was expected",
                "here",
            ));
        };
        let kind = match b {
            b'{' | b'[' if depth >= self.max_depth => {
                let mut d = self.error(
                    start,
                    start + 1,
                    &format!("nests deeper than {} levels", self.max_depth),
                    "too deep",
                );
                d.help = Some("flatten the data".into());
                return Err(d);
            }
            b'{' => self.object(depth)?,
            b'[' => self.array(depth)?,
            b'"' => JsonKind::String(self.string()?),
            b't' => self.word("true", JsonKind::Bool(true))?,
            b'f' => self.word("false", JsonKind::Bool(false))?,
            b'n' => self.word("null", JsonKind::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => {
                let len = self.text[start..].chars().next().map_or(1, char::len_utf8);
                return Err(self.error(start, start + len, "expected a value", "not a JSON value"));
            }
        };
        Ok(Json {
            kind,
            span: self.span(start, self.at),
        })
    }

    fn word(&mut self, word: &str, kind: JsonKind) -> Result<JsonKind, Box<Diagnostic>> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(kind)
        } else {
            Err(self.error(self.at, self.at + 1, "expected a value", "not a JSON value"))
        }
    }

    fn number(&mut self) -> Result<JsonKind, Box<Diagnostic>> {
        let start = self.at;
        let digits = |r: &mut Self| {
            let from = r.at;
            while r.bytes.get(r.at).is_some_and(u8::is_ascii_digit) {
                r.at += 1;
            }
            r.at > from
        };
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        let leading_zero = self.bytes.get(self.at) == Some(&b'0');
        if !digits(self)
            || (leading_zero && self.at - start > 1 + usize::from(self.bytes[start] == b'-'))
        {
            return Err(self.error(start, self.at.max(start + 1), "malformed number", "here"));
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if !digits(self) {
                return Err(self.error(start, self.at, "malformed number", "here"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if !digits(self) {
                return Err(self.error(start, self.at, "malformed number", "here"));
            }
        }
        Ok(JsonKind::Number(self.text[start..self.at].into()))
    }

    fn string(&mut self) -> Result<SmolStr, Box<Diagnostic>> {
        let start = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(self.error(start, self.at, "the string is not closed", "opened here"));
            };
            match b {
                b'"' => {
                    self.at += 1;
                    return Ok(out.into());
                }
                b'\\' => {
                    let esc = self.at;
                    self.at += 1;
                    let c = match self.bytes.get(self.at) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let c = self.unicode(esc)?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error(esc, self.at + 1, "invalid escape", "here")),
                    };
                    self.at += 1;
                    out.push(c);
                }
                0..=0x1f => {
                    return Err(self.error(
                        self.at,
                        self.at + 1,
                        "a control character in a string",
                        "escape it",
                    ))
                }
                _ => {
                    let c = self.text[self.at..].chars().next().unwrap_or('\u{fffd}');
                    self.at += c.len_utf8();
                    out.push(c);
                }
            }
        }
    }

    /// The four hex digits after `\u` (and a low surrogate after a high one).
    fn unicode(&mut self, esc: usize) -> Result<char, Box<Diagnostic>> {
        let hex4 = |r: &mut Self| -> Option<u32> {
            let h = r.text.get(r.at..r.at + 4)?;
            let v = u32::from_str_radix(h, 16).ok()?;
            r.at += 4;
            Some(v)
        };
        let bad = |r: &Self| r.error(esc, r.at, "invalid unicode escape", "here");
        let hi = hex4(self).ok_or_else(|| bad(self))?;
        if (0xD800..0xDC00).contains(&hi) {
            if !self.text[self.at..].starts_with("\\u") {
                return Err(bad(self));
            }
            self.at += 2;
            let lo = hex4(self).ok_or_else(|| bad(self))?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(bad(self));
            }
            return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                .ok_or_else(|| bad(self));
        }
        char::from_u32(hi).ok_or_else(|| bad(self))
    }

    fn array(&mut self, depth: usize) -> Result<JsonKind, Box<Diagnostic>> {
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(JsonKind::Array(items));
        }
        loop {
            self.space();
            items.push(self.value(depth + 1)?);
            self.space();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(JsonKind::Array(items));
                }
                _ => return Err(self.error(self.at, self.at + 1, "expected `,` or `]`", "here")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonKind, Box<Diagnostic>> {
        self.at += 1;
        let mut entries: Vec<(Key, Json)> = Vec::new();
        let mut seen = std::collections::HashMap::new();
        self.space();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(JsonKind::Object(entries));
        }
        loop {
            self.space();
            let kstart = self.at;
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error(kstart, kstart + 1, "expected a key in quotes", "here"));
            }
            let name = self.string()?;
            let key = Key {
                name,
                span: self.span(kstart, self.at),
            };
            if let Some(first) = seen.insert(key.name.clone(), key.span) {
                return Err(Box::new(
                    Diagnostic::error(
                        format!("duplicate key `{}`", key.name),
                        key.span,
                        "key given again",
                    )
                    .with_secondary(first, "first here")
                    .with_help(Some("each key may appear once in an object".into())),
                ));
            }
            self.space();
            if self.bytes.get(self.at) != Some(&b':') {
                return Err(self.error(self.at, self.at + 1, "expected `:`", "here"));
            }
            self.at += 1;
            self.space();
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.space();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(JsonKind::Object(entries));
                }
                _ => return Err(self.error(self.at, self.at + 1, "expected `,` or `}`", "here")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Json, String> {
        parse_json(text, FileId::default(), 8).map_err(|d| d.message)
    }

    #[test]
    fn values_and_spans() {
        let j = parse(r#" {"a": [1, -2.5e3, true, null], "b\u00e9": "x\"\ud83d\ude00"} "#).unwrap();
        let a = j.get("a").unwrap();
        assert_eq!(a.span.range(), 7..30);
        assert_eq!(
            a.items().unwrap()[1].kind,
            JsonKind::Number("-2.5e3".into())
        );
        assert_eq!(j.get("bé").unwrap().as_str(), Some("x\"😀"));
    }

    #[test]
    fn refusals() {
        for (text, message) in [
            ("[1,]", "expected a value"),
            ("{\"a\":1,\"a\":2}", "duplicate key `a`"),
            ("01", "malformed number"),
            ("[[[[[[[[[1]]]]]]]]]", "nests deeper than 8 levels"),
            ("\"\\ud800\"", "invalid unicode escape"),
            ("1 2", "unexpected text after the JSON value"),
            ("\"a\nb\"", "a control character in a string"),
        ] {
            let got = parse(text).unwrap_err();
            assert!(got.contains(message), "{text}: {got}");
        }
    }
}
