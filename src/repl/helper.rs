//! The line editor's helper: highlighting and completion from the logos
//! token stream (the same tokens that decide when an input continues), and
//! the vocabulary of what is loaded.

use super::commands::COMMANDS;
use crate::builtins::{self, Form};
use crate::entities::Entities;
use crate::policy_set::PolicySet;
use crate::schema::Type;
use crate::syntax::tokens::{self, KeywordKind, Spanned, Token};
use crate::value::Value;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The words completion offers, gathered from the loaded policy set and
/// entity store (sorted, so the lists shown never depend on hashing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// Entity types: from the store, the declarations and declared actions.
    pub types: BTreeSet<String>,
    /// Entity ids by type: from the store, enumerated types and declared actions.
    pub ids: BTreeMap<String, BTreeSet<String>>,
    /// Attribute names: from the store's entities (records inside
    /// included) and the declared types (contexts included).
    pub attrs: BTreeSet<String>,
    /// Rule names.
    pub rules: BTreeSet<String>,
}

impl Vocabulary {
    /// The vocabulary of a policy set and a store.
    pub fn of(set: &PolicySet, entities: &Entities) -> Vocabulary {
        let mut v = Vocabulary::default();
        for (uid, data) in entities.iter() {
            v.add_id(uid.ty.as_str(), &uid.id);
            for (name, value) in &data.attrs {
                v.attrs.insert(name.to_string());
                value_attrs(value, &mut v.attrs);
            }
        }
        let schema = &set.schema;
        let mut seen = HashSet::new();
        for (name, ty) in &schema.entity_types {
            v.types.insert(name.to_string());
            for (attr, t) in ty.attrs.iter() {
                v.attrs.insert(attr.to_string());
                type_attrs(&t.ty, &mut v.attrs, &mut seen);
            }
            for id in ty.enum_ids.iter().flatten() {
                v.add_id(name.as_str(), id);
            }
        }
        for (uid, action) in &schema.actions {
            v.add_id(uid.ty.as_str(), &uid.id);
            if let Some(t) = &action.context {
                type_attrs(t, &mut v.attrs, &mut seen);
            }
        }
        for ty in schema.common_types.values() {
            type_attrs(ty, &mut v.attrs, &mut seen);
        }
        v.rules = set.rules.iter().map(|r| r.name.to_string()).collect();
        v
    }

    fn add_id(&mut self, ty: &str, id: &str) {
        self.types.insert(ty.to_string());
        self.ids
            .entry(ty.to_string())
            .or_default()
            .insert(id.to_string());
    }
}

fn value_attrs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Record(r) => {
            for (k, v) in r.iter() {
                out.insert(k.to_string());
                value_attrs(v, out);
            }
        }
        Value::Set(s) => s.iter().for_each(|v| value_attrs(v, out)),
        _ => {}
    }
}

/// The attribute names in `ty`, each shared record visited once (a type
/// built of copies of an alias is walked in the size of its text).
fn type_attrs(ty: &Type, out: &mut BTreeSet<String>, seen: &mut HashSet<usize>) {
    match ty {
        Type::Record(fields) => {
            if !seen.insert(std::sync::Arc::as_ptr(fields) as usize) {
                return;
            }
            for (k, t) in fields.iter() {
                out.insert(k.to_string());
                type_attrs(&t.ty, out, seen);
            }
        }
        Type::Set(t) => type_attrs(t, out, seen),
        _ => {}
    }
}

/// The rustyline helper of `mspl repl`.
pub struct ReplHelper {
    /// What completion offers.
    pub vocabulary: Vocabulary,
    /// Whether to colour the line.
    pub color: bool,
    /// The lines already entered of an input that continues: they decide
    /// how the current line lexes (a string opened above is still open).
    pending: String,
    files: FilenameCompleter,
}

impl ReplHelper {
    /// A helper offering `vocabulary`.
    pub fn new(vocabulary: Vocabulary, color: bool) -> ReplHelper {
        ReplHelper {
            vocabulary,
            color,
            pending: String::new(),
            files: FilenameCompleter::new(),
        }
    }

    /// Sets the lines already entered of the current input.
    pub fn set_pending(&mut self, pending: &str) {
        self.pending = pending.to_string();
    }

    /// The whole input so far, and where the current line starts in it.
    fn joined(&self, line: &str) -> (String, usize) {
        if self.pending.is_empty() {
            (line.to_string(), 0)
        } else {
            (format!("{}\n{line}", self.pending), self.pending.len() + 1)
        }
    }
}

/// ANSI styles of the highlighter.
mod style {
    pub const RESET: &str = "\x1b[0m";
    pub const COMMAND: &str = "\x1b[1m";
    pub const KEYWORD: &str = "\x1b[35m";
    pub const VARIABLE: &str = "\x1b[36m";
    pub const TYPE: &str = "\x1b[34m";
    pub const STRING: &str = "\x1b[32m";
    pub const NUMBER: &str = "\x1b[33m";
    pub const COMMENT: &str = "\x1b[90m";
    pub const ERROR: &str = "\x1b[31m";
    pub const PROMPT: &str = "\x1b[1;32m";
}

/// The style of token `i` of `lexed` (over `text`), if it has one.
fn style_of(text: &str, lexed: &[Spanned], i: usize) -> Option<&'static str> {
    let next = lexed.get(i + 1).and_then(|t| t.token);
    Some(match lexed[i].token? {
        Token::Comment => style::COMMENT,
        Token::String | Token::UnterminatedString => style::STRING,
        Token::Integer => style::NUMBER,
        Token::Slot => style::VARIABLE,
        Token::Ident => match tokens::keyword_kind(&text[lexed[i].range.clone()]) {
            KeywordKind::ItemStart | KeywordKind::Reserved | KeywordKind::Contextual => {
                style::KEYWORD
            }
            KeywordKind::Variable if next == Some(Token::PathSep) => style::TYPE,
            KeywordKind::Variable => style::VARIABLE,
            KeywordKind::Plain if next == Some(Token::PathSep) => style::TYPE,
            KeywordKind::Plain => return None,
        },
        _ => return None,
    })
}

/// Colours `line`, the part of `text` from `from` on, token by token;
/// whitespace and punctuation are copied as they are, so the width stays.
pub fn highlight_tokens(text: &str, from: usize) -> String {
    let lexed = tokens::lex(text);
    let mut out = String::with_capacity(text.len() * 2);
    let mut at = from;
    for (i, t) in lexed.iter().enumerate() {
        if t.range.end <= from {
            continue;
        }
        let start = t.range.start.max(from);
        out.push_str(&text[at..start]);
        let piece = &text[start..t.range.end];
        let s = if t.token.is_none() {
            Some(style::ERROR)
        } else {
            style_of(text, &lexed, i)
        };
        match s {
            Some(s) => {
                out.push_str(s);
                out.push_str(piece);
                out.push_str(style::RESET);
            }
            None => out.push_str(piece),
        }
        at = t.range.end;
    }
    out.push_str(&text[at..]);
    out
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.is_empty() {
            return Cow::Borrowed(line);
        }
        if self.pending.is_empty() && line.starts_with(':') {
            let end = line.find(char::is_whitespace).unwrap_or(line.len());
            let name = &line[1..end];
            let rest = if super::commands::takes_expression(name) {
                let (joined, from) = (line.to_string(), end);
                highlight_tokens(&joined, from)
            } else {
                line[end..].to_string()
            };
            return Cow::Owned(format!(
                "{}{}{}{rest}",
                style::COMMAND,
                &line[..end],
                style::RESET
            ));
        }
        let (joined, from) = self.joined(line);
        Cow::Owned(highlight_tokens(&joined, from))
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        if self.color {
            Cow::Owned(format!("{}{prompt}{}", style::PROMPT, style::RESET))
        } else {
            Cow::Borrowed(prompt)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        // Lexing one line is cheap: colour again after every key.
        self.color
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if self.pending.is_empty() && before.starts_with(':') {
            match before.find(char::is_whitespace) {
                None => return Ok((0, words(before, COMMANDS.iter().map(|c| c.name)))),
                Some(end) => {
                    let name = &before[1..end];
                    if matches!(name, "load" | "entities") {
                        return self.files.complete(line, pos, ctx);
                    }
                    let rest = &before[end..];
                    let arg = rest.trim_start();
                    let in_first_word = !arg.contains(char::is_whitespace);
                    if matches!(name, "set" | "unset") && in_first_word {
                        let start = pos - arg.len();
                        return Ok((start, words(arg, tokens::VARIABLES.iter().copied())));
                    }
                    if !super::commands::takes_expression(name) {
                        return Ok((pos, Vec::new()));
                    }
                }
            }
        }
        let (joined, from) = self.joined(before);
        let (start, pairs) = complete_expression(&self.vocabulary, &joined);
        Ok((start.saturating_sub(from).min(pos), pairs))
    }
}

/// Candidates among `options` that start with `prefix`, sorted, each once.
/// The built-ins' names, as borrowed words like the vocabulary's.
fn builtin_names<'a>(form: Form) -> impl Iterator<Item = &'a str> {
    builtins::names(form).map(|name| -> &'a str { name })
}

fn words<'a>(prefix: &str, options: impl Iterator<Item = &'a str>) -> Vec<Pair> {
    let set: BTreeSet<&str> = options.filter(|o| o.starts_with(prefix)).collect();
    set.into_iter()
        .map(|w| Pair {
            display: w.to_string(),
            replacement: w.to_string(),
        })
        .collect()
}

/// Completes the end of `text` (an expression being typed): where the
/// replaced word starts, and the candidates.
pub fn complete_expression(v: &Vocabulary, text: &str) -> (usize, Vec<Pair>) {
    let lexed: Vec<Spanned> = tokens::lex(text)
        .into_iter()
        .filter(|t| t.token != Some(Token::Comment))
        .collect();
    let end = text.len();
    let kind = |i: usize| lexed.get(i).and_then(|t| t.token);
    let word = |i: usize| &text[lexed[i].range.clone()];
    let Some(last) = lexed.len().checked_sub(1) else {
        return (end, Vec::new());
    };
    let touching = lexed[last].range.end == end;
    // The type path that ends just before token `i` (`A::B::` before it).
    let path_before = |i: usize| -> Option<String> {
        let mut parts = Vec::new();
        let mut j = i;
        while j >= 2 && kind(j - 1) == Some(Token::PathSep) && kind(j - 2) == Some(Token::Ident) {
            parts.push(word(j - 2));
            j -= 2;
        }
        parts.reverse();
        (!parts.is_empty()).then(|| parts.join("::"))
    };
    match kind(last) {
        // `Type::"partial` or `Type::` : the ids of that type, quoted.
        Some(Token::UnterminatedString) if touching => {
            let start = lexed[last].range.start;
            let partial = &text[start + 1..];
            match path_before(last) {
                Some(ty) => (start, ids(v, &ty, partial)),
                None => (end, Vec::new()),
            }
        }
        Some(Token::PathSep) if touching => {
            let ty = path_before(last + 1).unwrap_or_default();
            let mut out = ids(v, &ty, "");
            let nested = format!("{ty}::");
            out.extend(words(
                "",
                v.types.iter().filter_map(|t| t.strip_prefix(&nested)),
            ));
            (end, out)
        }
        // After `.`: attributes and methods; after `has`: attributes.
        Some(Token::Dot) if touching => (end, attributes(v, "", true)),
        Some(Token::Ident) if touching => {
            let start = lexed[last].range.start;
            let partial = word(last);
            let prev = last.checked_sub(1).and_then(kind);
            if prev == Some(Token::Dot) {
                return (start, attributes(v, partial, true));
            }
            if prev == Some(Token::Ident) && word(last - 1) == "has" {
                return (start, attributes(v, partial, false));
            }
            if let Some(ty) = path_before(last) {
                // `Ns::Ty` being typed: the types under `Ns`.
                let nested = format!("{ty}::");
                let out = words(
                    partial,
                    v.types.iter().filter_map(|t| t.strip_prefix(&nested)),
                );
                return (start, out);
            }
            let keywords = tokens::RESERVED_WORDS
                .iter()
                .chain(tokens::CONTEXTUAL_KEYWORDS)
                .chain(tokens::VARIABLES)
                .chain(tokens::ITEM_KEYWORDS)
                .copied()
                .chain(builtin_names(Form::Function));
            // A type's first segment stands for every type under it.
            let types = v.types.iter().map(|t| t.split("::").next().unwrap_or(t));
            let all = keywords
                .chain(v.rules.iter().map(String::as_str))
                .chain(types);
            (start, words(partial, all))
        }
        _ => (end, Vec::new()),
    }
}

/// The ids of `ty` that start with `partial`, each as a quoted string.
fn ids(v: &Vocabulary, ty: &str, partial: &str) -> Vec<Pair> {
    let Some(ids) = v.ids.get(ty) else {
        return Vec::new();
    };
    ids.iter()
        .filter(|id| id.starts_with(partial))
        .map(|id| {
            let mut quoted = String::new();
            let _ = crate::value::write_string_literal(&mut quoted, id);
            Pair {
                display: id.clone(),
                replacement: quoted,
            }
        })
        .collect()
}

fn attributes(v: &Vocabulary, partial: &str, methods: bool) -> Vec<Pair> {
    let names = v.attrs.iter().map(String::as_str);
    if methods {
        let m = builtin_names(Form::Method);
        words(partial, names.chain(m))
    } else {
        words(partial, names)
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

/// Always accepts the line: an open bracket or string is the driver's to
/// notice ([`super::is_complete`]), so that each continued line gets its
/// own prompt (rustyline's validator would continue without one).
impl Validator for ReplHelper {
    fn validate(&self, _ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(ValidationResult::Valid(None))
    }
}

impl Helper for ReplHelper {}
