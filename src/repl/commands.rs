//! The `:commands` of the REPL: their table (for `:help` and completion)
//! and what each does.

use super::eval;
use super::{Reply, Session};
use crate::diag::Severity;
use crate::explain::{explain, render, Include};
use crate::syntax::ast::{Effect, Var};
use crate::value::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

/// A command: its name, what it takes, what it does.
pub struct Command {
    /// The name, with its colon.
    pub name: &'static str,
    /// Its arguments, for `:help`.
    pub args: &'static str,
    /// What it does.
    pub help: &'static str,
    /// Whether its argument is mspl text (so a line continues while a
    /// bracket is open), rather than file paths or nothing.
    pub expression: bool,
}

/// Every command, in the order `:help` lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: ":help",
        args: "",
        help: "this list",
        expression: false,
    },
    Command {
        name: ":load",
        args: "PATH…",
        help: "load policy files or directories, beside those loaded",
        expression: false,
    },
    Command {
        name: ":reload",
        args: "",
        help: "read every loaded file again",
        expression: false,
    },
    Command {
        name: ":entities",
        args: "[FILE]",
        help: "load an entity file in place of the store; alone: count entities by type",
        expression: false,
    },
    Command {
        name: ":set",
        args: "[VAR EXPR]",
        help: "bind `principal`, `action`, `resource` or `context`; alone: show the bindings",
        expression: true,
    },
    Command {
        name: ":unset",
        args: "VAR",
        help: "unbind a request variable (`context` goes back to `{}`)",
        expression: false,
    },
    Command {
        name: ":authorize",
        args: "[{principal: E, …}]",
        help: "decide the bound request; fields given replace bound ones for this request",
        expression: true,
    },
    Command {
        name: ":explain",
        args: "[{principal: E, …}]",
        help: "trace every policy for the bound request, as `mspl explain`",
        expression: true,
    },
    Command {
        name: ":link",
        args: "TEMPLATE ID JSON",
        help: "link a template under a new id, JSON filling its slots: {\"?principal\": \"T::\\\"id\\\"\"}",
        expression: false,
    },
    Command {
        name: ":rules",
        args: "",
        help: "list the rules with their clauses",
        expression: false,
    },
    Command {
        name: ":policies",
        args: "",
        help: "list the policies in load order",
        expression: false,
    },
    Command {
        name: ":quit",
        args: "",
        help: "leave (also `:q` and Ctrl-D)",
        expression: false,
    },
];

/// Whether command `name` (without its colon) takes mspl text.
pub fn takes_expression(name: &str) -> bool {
    COMMANDS
        .iter()
        .any(|c| c.expression && &c.name[1..] == name)
}

/// Runs the command line `text` (it starts with `:`).
pub fn run(session: &mut Session, text: &str) -> Reply {
    let body = &text[1..];
    let (name, rest) = match body.find(char::is_whitespace) {
        Some(i) => (&body[..i], body[i..].trim()),
        None => (body, ""),
    };
    match name {
        "help" | "h" | "?" => out(help()),
        "quit" | "q" | "exit" => Reply {
            quit: true,
            ..Reply::default()
        },
        "load" if rest.is_empty() => usage(session, ":load"),
        "load" => session.load_policies(&paths(rest)),
        "reload" => session.reload(),
        "entities" if rest.is_empty() => out(entity_counts(session)),
        "entities" => session.load_entities(&PathBuf::from(rest)),
        "set" if rest.is_empty() => out(bindings(session)),
        "set" => set(session, rest),
        "unset" => unset(session, rest),
        "authorize" => decide(session, rest, false),
        "explain" => decide(session, rest, true),
        "link" => link(session, rest),
        "rules" => out(rules(session)),
        "policies" => out(policies(session)),
        _ => {
            let names = COMMANDS.iter().map(|c| &c.name[1..]);
            let help = match crate::suggest::closest(name, names) {
                Some(s) => format!("did you mean `:{s}`? `:help` lists the commands"),
                None => "`:help` lists the commands".into(),
            };
            err(session.render_plain(
                &format!("unknown command `:{name}`"),
                Some(help),
                Severity::Error,
            ))
        }
    }
}

fn out(stdout: String) -> Reply {
    Reply {
        stdout,
        ..Reply::default()
    }
}

fn err(stderr: String) -> Reply {
    Reply {
        stderr,
        ..Reply::default()
    }
}

fn usage(session: &Session, name: &str) -> Reply {
    let command = COMMANDS.iter().find(|c| c.name == name);
    let args = command.map_or("", |c| c.args);
    err(session.render_plain(
        &format!("`{name}` needs arguments"),
        Some(format!("write `{name} {args}`")),
        Severity::Error,
    ))
}

/// Splits a `:load` argument into paths at whitespace.
fn paths(rest: &str) -> Vec<PathBuf> {
    rest.split_whitespace().map(PathBuf::from).collect()
}

/// The text of `:help`.
pub fn help() -> String {
    let mut s = String::from(
        "Type an expression to evaluate it against the bound request variables,\n\
         or a rule, policy or declaration to add it to the session.\n\
         An input goes on over several lines while a bracket or a string is open;\n\
         a rule, policy or declaration, until its final `;` (or `}`) or an empty line.\n\n",
    );
    let width = COMMANDS
        .iter()
        .map(|c| c.name.len() + 1 + c.args.chars().count())
        .max()
        .unwrap_or(0);
    for c in COMMANDS {
        let usage = if c.args.is_empty() {
            c.name.to_string()
        } else {
            format!("{} {}", c.name, c.args)
        };
        let pad = width - usage.chars().count();
        let _ = writeln!(s, "  {usage}{}  {}", " ".repeat(pad), c.help);
    }
    s
}

fn var_named(name: &str) -> Option<Var> {
    match name {
        "principal" => Some(Var::Principal),
        "action" => Some(Var::Action),
        "resource" => Some(Var::Resource),
        "context" => Some(Var::Context),
        _ => None,
    }
}

fn unknown_var(session: &Session, name: &str) -> Reply {
    err(session.render_plain(
        &format!("`{name}` is not a request variable"),
        Some("the request variables are `principal`, `action`, `resource` and `context`".into()),
        Severity::Error,
    ))
}

fn set(session: &mut Session, rest: &str) -> Reply {
    let (name, text) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let Some(var) = var_named(name) else {
        return unknown_var(session, name);
    };
    if text.is_empty() {
        return err(session.render_plain(
            &format!("`:set {name}` needs a value"),
            Some(format!(
                "write e.g. `:set {name} {}`",
                eval::example(session, var)
            )),
            Severity::Error,
        ));
    }
    let value = match eval::binding(session, var, text) {
        Ok(v) => v,
        Err(e) => return err(e),
    };
    let b = &mut session.bindings;
    match (var, value.clone()) {
        (Var::Principal, Value::Entity(e)) => b.principal = Some(e),
        (Var::Action, Value::Entity(e)) => b.action = Some(e),
        (Var::Resource, Value::Entity(e)) => b.resource = Some(e),
        (_, v) => b.context = v,
    }
    out(format!(
        "{} = {}{}\n",
        var.name(),
        value,
        absent(session, &value)
    ))
}

/// A remark for an entity the store does not hold: decisions about it see
/// no attributes and no parents.
fn absent(session: &Session, value: &Value) -> &'static str {
    match value {
        Value::Entity(e) if session.entities.get(e).is_none() => "  (not in the entity store)",
        _ => "",
    }
}

fn unset(session: &mut Session, rest: &str) -> Reply {
    if rest.is_empty() {
        return usage(session, ":unset");
    }
    let b = &mut session.bindings;
    match var_named(rest) {
        Some(Var::Principal) => b.principal = None,
        Some(Var::Action) => b.action = None,
        Some(Var::Resource) => b.resource = None,
        Some(Var::Context) => b.context = Value::empty_record(),
        None => return unknown_var(session, rest),
    }
    Reply::default()
}

/// The text of `:set` alone.
fn bindings(session: &Session) -> String {
    let b = &session.bindings;
    let mut s = String::new();
    for (name, value) in [
        ("principal", &b.principal),
        ("action", &b.action),
        ("resource", &b.resource),
    ] {
        match value {
            Some(e) => {
                let v = Value::Entity(e.clone());
                let _ = writeln!(s, "{name} = {v}{}", absent(session, &v));
            }
            None => {
                let _ = writeln!(s, "{name} is not set");
            }
        }
    }
    let _ = writeln!(s, "context = {}", b.context);
    s
}

fn decide(session: &Session, rest: &str, full: bool) -> Reply {
    let request = match eval::request(session, rest) {
        Ok(r) => r,
        Err(e) => return err(e),
    };
    let (set, entities, options) = (session.set(), &session.entities, session.options());
    let response = session.prepared().authorize(entities, &request);
    let scope = if full {
        Include::All
    } else {
        Include::Relevant
    };
    let explanation = explain(set, entities, &request, &response, &options.limits, scope);
    let text = if full {
        render::trace(set, &response, &explanation, session.color)
    } else {
        render::response(set, &response, Some(&explanation), session.color)
    };
    out(text)
}

/// The text of `:rules`: every rule by name, with its arity and where each
/// clause stands.
fn rules(session: &Session) -> String {
    let set = session.set();
    if set.rules.is_empty() {
        return "no rules loaded\n".into();
    }
    let mut sorted: Vec<_> = set.rules.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut s = String::new();
    for rule in sorted {
        // Where the clauses stand: `file:line, line` per file, in load order.
        let mut places: Vec<(&str, Vec<String>)> = Vec::new();
        for c in &rule.clauses {
            let file = set.sources.name(c.head.file);
            let (line, _) = set.sources.line_column(c.head);
            match places.last_mut() {
                Some((f, lines)) if *f == file => lines.push(line.to_string()),
                _ => places.push((file, vec![line.to_string()])),
            }
        }
        let heads: Vec<String> = places
            .iter()
            .map(|(f, lines)| format!("{f}:{}", lines.join(", ")))
            .collect();
        let params = rule
            .clauses
            .first()
            .map(|c| {
                c.params
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let count = match rule.clauses.len() {
            1 => "1 clause".to_string(),
            n => format!("{n} clauses"),
        };
        let _ = writeln!(s, "{}({params})  {count}  {}", rule.name, heads.join("; "));
    }
    s
}

/// `:link TEMPLATE ID ARGUMENTS`.
fn link(session: &mut Session, rest: &str) -> Reply {
    let mut words = rest.splitn(3, char::is_whitespace);
    match (words.next(), words.next(), words.next().map(str::trim)) {
        (Some(t), Some(id), Some(args)) if !t.is_empty() && !args.is_empty() => {
            session.link(t, id, args)
        }
        _ => usage(session, ":link"),
    }
}

/// The text of `:policies`: every policy in load order (the order of
/// `policyN` ids), with its effect and place, then the templates; a link
/// names its template.
fn policies(session: &Session) -> String {
    let set = session.set();
    if set.policies.is_empty() && set.templates.is_empty() {
        return "no policies loaded\n".into();
    }
    let all = || set.policies.iter().chain(&set.templates);
    let width = all().map(|p| p.id.len()).max().unwrap_or(0);
    let mut s = String::new();
    for p in &set.policies {
        let effect = match p.policy.effect {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        };
        let (line, column) = set.sources.line_column(p.policy.head);
        let _ = writeln!(
            s,
            "{:width$}  {effect}  {}:{line}:{column}{}",
            p.id,
            set.sources.name(p.policy.head.file),
            p.link
                .as_ref()
                .map(|l| format!("  (link of `{}`)", l.template))
                .unwrap_or_default()
        );
    }
    for p in &set.templates {
        let (line, column) = set.sources.line_column(p.policy.head);
        let _ = writeln!(
            s,
            "{:width$}  template  {}:{line}:{column}",
            p.id,
            set.sources.name(p.policy.head.file)
        );
    }
    s
}

/// The text of `:entities` alone: how many entities of each type.
fn entity_counts(session: &Session) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (uid, _) in session.entities.iter() {
        *counts.entry(uid.ty.to_string()).or_default() += 1;
    }
    if counts.is_empty() {
        return "no entities loaded\n".into();
    }
    let width = counts.keys().map(|k| k.len()).max().unwrap_or(0);
    let mut s = String::new();
    for (ty, n) in counts {
        let _ = writeln!(s, "{ty:width$}  {n}");
    }
    s
}
