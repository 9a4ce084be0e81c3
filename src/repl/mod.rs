//! `mspl repl`: an interactive session over a policy set and an entity
//! store. Expressions are evaluated against the bound request variables;
//! `:commands` load files, bind variables, and decide or explain requests.
//!
//! The session ([`Session`]) knows nothing of terminals: one input in, one
//! [`Reply`] out. Two drivers feed it: [`run`] picks line editing
//! (rustyline, with the [`helper::ReplHelper`] for highlighting and
//! completion) when stdin and stdout are terminals, and plain line reading
//! otherwise, so that a transcript piped in gives the same answers, without
//! prompts or colour, for snapshot tests. In both, an input continues on
//! the next line while a bracket or a string is open, as the logos token
//! stream counts them ([`is_complete`]).

pub mod commands;
pub mod eval;
pub mod helper;
mod terminal;

use crate::authorize::{ErrorMode, Options, PreparedSet};
use crate::diag::{Diagnostic, Severity, Sources};
use crate::entities::build::build_entities_for;
use crate::entities::Entities;
use crate::policy_set::{IdScheme, Loader, PolicySet};
use crate::syntax::ast::EntityUid;
use crate::syntax::tokens::{self, Token};
use crate::value::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// The prompt of a fresh input.
pub const PROMPT: &str = "mspl> ";
/// The prompt of a line that continues an input (as wide as [`PROMPT`]).
pub const CONTINUATION: &str = " ...> ";

/// What a session starts from (the command line of `mspl repl`).
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Policy files or directories.
    pub policies: Vec<PathBuf>,
    /// Extra declaration files.
    pub schema: Vec<PathBuf>,
    /// Linked-policies files (`-k`).
    pub links: Vec<PathBuf>,
    /// The entity file.
    pub entities: Option<PathBuf>,
    /// Where line editing keeps its history; `None`: no history file.
    pub history: Option<PathBuf>,
    /// Cedar's semantics: erroring policies are skipped, ids are `policyN`.
    pub cedar: bool,
    /// The limits in force for every load and evaluation.
    pub limits: crate::limits::Limits,
}

/// What one input produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Results, for standard output.
    pub stdout: String,
    /// Problems, for standard error.
    pub stderr: String,
    /// Whether the session ends.
    pub quit: bool,
}

/// The request variables as bound with `:set`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bindings {
    /// `principal`, once set.
    pub principal: Option<EntityUid>,
    /// `action`, once set.
    pub action: Option<EntityUid>,
    /// `resource`, once set.
    pub resource: Option<EntityUid>,
    /// `context`: the empty record until set, as on the command line.
    pub context: Value,
}

impl Default for Bindings {
    fn default() -> Bindings {
        Bindings {
            principal: None,
            action: None,
            resource: None,
            context: Value::empty_record(),
        }
    }
}

/// One REPL session: what is loaded, what is bound.
pub struct Session {
    /// The loaded policies, rules and declarations, indexed, with how
    /// requests are judged.
    prepared: PreparedSet,
    /// The entity store (declared actions included).
    pub entities: Entities,
    /// The bound request variables.
    pub bindings: Bindings,
    /// Whether problems are rendered in colour.
    pub color: bool,
    ids: IdScheme,
    policy_paths: Vec<PathBuf>,
    schema_paths: Vec<PathBuf>,
    link_paths: Vec<PathBuf>,
    entities_path: Option<PathBuf>,
    /// Rules, policies and declarations typed at the prompt, loaded after
    /// the files on every load.
    typed: Vec<String>,
    /// Links made with `:link`, as `(template, id, arguments)`, made after
    /// the files' links on every load.
    typed_links: Vec<TypedLink>,
    /// Counts loads, so that the line editor knows when to refresh its
    /// completion vocabulary.
    generation: u64,
}

/// A link made at the prompt: the template's id, the new id, the slot
/// values as JSON text.
#[derive(Clone, Debug)]
struct TypedLink {
    template: String,
    id: String,
    arguments: String,
}

/// What a session loads, files and typed items alike.
struct Inputs<'a> {
    policies: &'a [PathBuf],
    schemas: &'a [PathBuf],
    links: &'a [PathBuf],
    typed: &'a [String],
    typed_links: &'a [TypedLink],
}

/// A policy set and a store that loaded, or the rendered problems.
type Loaded = Result<(PolicySet, Entities), String>;

impl Session {
    /// The loaded policies, rules and declarations.
    pub fn set(&self) -> &PolicySet {
        self.prepared.set()
    }

    /// How requests are judged.
    pub fn options(&self) -> &Options {
        self.prepared.options()
    }

    /// The loaded set, prepared: decisions are asked of it.
    pub fn prepared(&self) -> &PreparedSet {
        &self.prepared
    }

    /// A session with nothing loaded.
    pub fn empty(cedar: bool, color: bool) -> Session {
        let options = Options {
            errors: ErrorMode::cedar(cedar),
            ..Options::default()
        };
        Session {
            prepared: PreparedSet::new(PolicySet::default(), options),
            entities: Entities::new(),
            bindings: Bindings::default(),
            color,
            ids: IdScheme::cedar(cedar),
            policy_paths: Vec::new(),
            schema_paths: Vec::new(),
            link_paths: Vec::new(),
            entities_path: None,
            typed: Vec::new(),
            typed_links: Vec::new(),
            generation: 0,
        }
    }

    /// A session with `config`'s files loaded. When they do not load, the
    /// session starts without them and the reply says why.
    pub fn start(config: &Config, color: bool) -> (Session, Reply) {
        let mut session = Session::empty(config.cedar, color);
        session.prepared = session.prepared.with_options(Options {
            limits: config.limits,
            ..*session.options()
        });
        let mut reply = Reply::default();
        if !config.policies.is_empty() || !config.schema.is_empty() {
            let inputs = Inputs {
                policies: &config.policies,
                schemas: &config.schema,
                links: &config.links,
                typed: &[],
                typed_links: &[],
            };
            match session.build(&inputs, None) {
                Ok((set, entities)) => {
                    session.adopt(set, entities);
                    session.policy_paths = config.policies.clone();
                    session.schema_paths = config.schema.clone();
                    session.link_paths = config.links.clone();
                }
                Err(text) => {
                    reply.stderr.push_str(&text);
                    reply.stderr.push_str(&session.render_plain(
                        "the policies did not load; starting without them",
                        Some("fix them and use `:load PATH`".into()),
                        Severity::Warning,
                    ));
                }
            }
        }
        if let Some(path) = &config.entities {
            reply.stderr.push_str(&session.load_entities(path).stderr);
        }
        (session, reply)
    }

    /// Runs one input: a `:command`, a rule, policy or declaration to add,
    /// or an expression to evaluate.
    pub fn execute(&mut self, input: &str) -> Reply {
        let text = input.trim();
        if text.is_empty() || only_comments(text) {
            return Reply::default();
        }
        if text.starts_with(':') {
            return commands::run(self, text);
        }
        if starts_item(text) {
            return self.define(text);
        }
        eval::expression(self, text)
    }

    /// How many times something was loaded; changes whenever the entity
    /// types, ids, attributes or rules may have.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The words the completer offers, from what is loaded.
    pub fn vocabulary(&self) -> helper::Vocabulary {
        helper::Vocabulary::of(self.set(), &self.entities)
    }

    /// Adds policy files or directories to the session and loads them all
    /// again; on a problem, nothing changes.
    pub fn load_policies(&mut self, paths: &[PathBuf]) -> Reply {
        let mut all = self.policy_paths.clone();
        all.extend(paths.iter().cloned());
        let entities = self.entities_path.clone();
        let inputs = Inputs {
            policies: &all,
            ..self.inputs()
        };
        match self.build(&inputs, entities.as_ref()) {
            Ok((set, store)) => {
                self.adopt(set, store);
                self.policy_paths = all;
                self.summary()
            }
            Err(text) => Reply {
                stderr: text,
                ..Reply::default()
            },
        }
    }

    /// Reads every loaded file again.
    pub fn reload(&mut self) -> Reply {
        let entities = self.entities_path.clone();
        match self.build(&self.inputs(), entities.as_ref()) {
            Ok((set, store)) => {
                self.adopt(set, store);
                self.summary()
            }
            Err(text) => Reply {
                stderr: text,
                ..Reply::default()
            },
        }
    }

    /// Replaces the entity store with the entities of `path`; on a
    /// problem, nothing changes.
    pub fn load_entities(&mut self, path: &PathBuf) -> Reply {
        match self.read_entities(self.set(), Some(path)) {
            Ok(store) => {
                self.entities = store;
                self.entities_path = Some(path.clone());
                self.generation += 1;
                Reply {
                    stdout: format!("loaded {} entities\n", self.entities.len()),
                    ..Reply::default()
                }
            }
            Err(text) => Reply {
                stderr: text,
                ..Reply::default()
            },
        }
    }

    /// What the validator says of the `n`th typed input (from 1), as
    /// warnings: the item is added (a session is for trying things), but
    /// never in silence when it would not validate.
    fn validation_warnings(&self, n: usize) -> String {
        if self.set().schema.is_empty() {
            return String::new();
        }
        let name = format!("<input {n}>");
        // A rule typed on its own is unused until a policy calls it: that is
        // how a session is built, not a problem worth a warning.
        let problems: Vec<_> = crate::validate::validate_policies(self.set())
            .into_iter()
            .filter(|p| self.set().sources.name(p.span.file) == name)
            .filter(|p| {
                !matches!(
                    p.error,
                    crate::validate::ValidationError::RuleNeverUsed { .. }
                )
            })
            .collect();
        if problems.is_empty() {
            return String::new();
        }
        let errors = problems.iter().filter(|p| !p.is_warning()).count();
        let shown: Vec<Diagnostic> = problems
            .iter()
            .map(|p| Diagnostic::from(p).warning())
            .collect();
        let mut text = self.set().sources.render(&shown, self.color);
        if errors > 0 {
            text.push_str(&format!(
                "warning: added, but it does not validate against the declarations ({errors} problem(s))\n"
            ));
        }
        text
    }

    /// Adds a rule, policy or declaration typed at the prompt.
    fn define(&mut self, text: &str) -> Reply {
        let mut typed = self.typed.clone();
        typed.push(text.to_string());
        let entities = self.entities_path.clone();
        let before = self
            .set()
            .policies
            .iter()
            .filter(|p| p.link.is_none())
            .count();
        let templates_before = self.set().templates.len();
        let inputs = Inputs {
            typed: &typed,
            ..self.inputs()
        };
        match self.build(&inputs, entities.as_ref()) {
            Ok((set, store)) => {
                self.adopt(set, store);
                self.typed = typed;
                let mut out = String::new();
                let statics = self.set().policies.iter().filter(|p| p.link.is_none());
                for entry in statics.skip(before) {
                    out.push_str(&format!("added policy `{}`\n", entry.id));
                }
                for entry in self.set().templates.iter().skip(templates_before) {
                    out.push_str(&format!("added template `{}`\n", entry.id));
                }
                let parsed = crate::syntax::parse_file(text, 0, &self.options().limits);
                for item in &parsed.file.items {
                    match item {
                        crate::syntax::ast::Item::Rule(clause) => {
                            let clauses = self
                                .set()
                                .rule(&clause.name)
                                .map_or(0, |(_, r)| r.clauses.len());
                            out.push_str(&format!(
                                "added a clause to rule `{}` ({clauses} in all)\n",
                                clause.name
                            ));
                        }
                        crate::syntax::ast::Item::Decl(_)
                        | crate::syntax::ast::Item::Namespace(_) => {
                            out.push_str("added the declarations\n");
                        }
                        crate::syntax::ast::Item::Policy(_) => {}
                    }
                }
                Reply {
                    stdout: out,
                    stderr: self.validation_warnings(self.typed.len()),
                    ..Reply::default()
                }
            }
            Err(text) => Reply {
                stderr: text,
                ..Reply::default()
            },
        }
    }

    /// What the session has loaded so far.
    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            policies: &self.policy_paths,
            schemas: &self.schema_paths,
            links: &self.link_paths,
            typed: &self.typed,
            typed_links: &self.typed_links,
        }
    }

    /// Adds the link `id` of template `template` with the slot values
    /// `arguments` (JSON) and loads everything again; on a problem,
    /// nothing changes.
    pub fn link(&mut self, template: &str, id: &str, arguments: &str) -> Reply {
        let mut typed_links = self.typed_links.clone();
        typed_links.push(TypedLink {
            template: template.into(),
            id: id.into(),
            arguments: arguments.into(),
        });
        let entities = self.entities_path.clone();
        let inputs = Inputs {
            typed_links: &typed_links,
            ..self.inputs()
        };
        match self.build(&inputs, entities.as_ref()) {
            Ok((set, store)) => {
                self.adopt(set, store);
                self.typed_links = typed_links;
                let text = match self.set().policy(id).and_then(|p| p.link.as_deref()) {
                    Some(link) => crate::explain::LinkTrace::new(link).text(),
                    None => String::new(),
                };
                Reply {
                    stdout: format!("added link `{id}`: {text}\n"),
                    ..Reply::default()
                }
            }
            Err(text) => Reply {
                stderr: text,
                ..Reply::default()
            },
        }
    }

    /// Loads files and typed items into a set, then the entity file against
    /// its declarations. Problems come back rendered.
    fn build(&self, inputs: &Inputs<'_>, entities: Option<&PathBuf>) -> Loaded {
        let mut loader = Loader::new(self.options().limits);
        for p in inputs.policies.iter().chain(inputs.schemas) {
            loader.add_path(p);
        }
        for (i, text) in inputs.typed.iter().enumerate() {
            loader.add_source(format!("<input {}>", i + 1), text.clone());
        }
        for k in inputs.links {
            loader.add_links_path(k);
        }
        for (i, l) in inputs.typed_links.iter().enumerate() {
            let name = format!("<link {}>", i + 1);
            loader.add_link_arguments(&l.template, &l.id, name, l.arguments.clone());
        }
        let (set, diagnostics) = loader.finish(self.ids);
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            return Err(set.sources.render(&diagnostics, self.color));
        }
        let store = self.read_entities(&set, entities)?;
        Ok((set, store))
    }

    /// The store of the entity file `path` (none: only the declared
    /// actions) for `set`'s declarations.
    fn read_entities(&self, set: &PolicySet, path: Option<&PathBuf>) -> Result<Entities, String> {
        let (name, text) = match path {
            Some(p) => {
                match crate::entity_source::read(p, self.options().limits.max_data_file_bytes) {
                    Ok(read) => read,
                    Err(e) => {
                        return Err(self.render_plain(
                            &format!("cannot read `{}`: {e}", crate::entity_source::shown(p)),
                            e.help.clone(),
                            Severity::Error,
                        ))
                    }
                }
            }
            None => ("<none>".to_string(), "[]".to_string()),
        };
        build_entities_for(
            &set.schema,
            [(name.as_str(), text.as_str())],
            &self.options().limits,
            self.options().cycles(),
        )
        .map_err(|e| Sources::new().render(&[Diagnostic::from(&e)], self.color))
    }

    fn adopt(&mut self, set: PolicySet, entities: Entities) {
        self.prepared = PreparedSet::new(set, *self.options());
        self.entities = entities;
        self.generation += 1;
    }

    fn summary(&self) -> Reply {
        Reply {
            stdout: format!(
                "loaded {} policies, {} rules, {} entities\n",
                self.set().policies.len(),
                self.set().rules.len(),
                self.entities.len()
            ),
            ..Reply::default()
        }
    }

    /// A problem with no place in a source, rendered as codespan does.
    pub fn render_plain(&self, message: &str, help: Option<String>, severity: Severity) -> String {
        let mut d = Diagnostic::plain(message).with_help(help);
        d.severity = severity;
        Sources::new().render(&[d], self.color)
    }
}

/// Whether `text` holds only comments.
fn only_comments(text: &str) -> bool {
    tokens::lex(text)
        .iter()
        .all(|t| t.token == Some(Token::Comment))
}

/// Whether `text` starts a top-level item (a rule, a policy, an annotation,
/// a declaration) rather than an expression. `action` starts a declaration
/// only when a name follows it (`action "view";`), not an operator.
pub fn starts_item(text: &str) -> bool {
    let lexed: Vec<_> = tokens::lex(text)
        .into_iter()
        .filter(|t| t.token != Some(Token::Comment))
        .take(2)
        .collect();
    let word = |i: usize| {
        lexed
            .get(i)
            .filter(|t| t.token == Some(Token::Ident))
            .map(|t| &text[t.range.clone()])
    };
    match lexed.first().and_then(|t| t.token) {
        Some(Token::At) => true,
        Some(Token::Ident) => match word(0) {
            Some("rule" | "permit" | "forbid" | "entity" | "type" | "namespace") => true,
            Some("action") => {
                lexed.get(1).and_then(|t| t.token) == Some(Token::String)
                    || word(1)
                        .is_some_and(|w| tokens::keyword_kind(w) == tokens::KeywordKind::Plain)
            }
            _ => false,
        },
        _ => false,
    }
}

/// Whether `buffer` is a whole input: no bracket or string left open, as
/// the logos tokens count them (a full parse is not needed, and would not
/// tell an unfinished input from a wrong one). Commands that take file
/// paths end at the line's end.
pub fn is_complete(buffer: &str) -> bool {
    let text = buffer.trim_start();
    if let Some(rest) = text.strip_prefix(':') {
        let name = rest.split_whitespace().next().unwrap_or("");
        if !commands::takes_expression(name) {
            return true;
        }
    }
    let (depth, open_string) = tokens::open_depth(buffer);
    if depth > 0 || open_string {
        return false;
    }
    // A rule, policy or declaration may span lines with no bracket open
    // (`@id("…")` above `permit(…)`, `when { … }` below it): it ends at its
    // final `;` (or `}` for a rule or namespace), or at an empty line.
    if starts_item(text) {
        let blank_line = buffer
            .rsplit('\n')
            .next()
            .is_some_and(|l| l.trim().is_empty());
        return blank_line || item_ended(text);
    }
    true
}

/// Whether the item `text` (balanced) ends with what ends its kind.
fn item_ended(text: &str) -> bool {
    let lexed: Vec<_> = tokens::lex(text)
        .into_iter()
        .filter(|t| t.token != Some(Token::Comment))
        .collect();
    // The item's keyword: the first name that is not an annotation's.
    let mut keyword = None;
    let mut i = 0;
    while i < lexed.len() {
        match lexed[i].token {
            Some(Token::At) => {
                i += 2;
                if lexed.get(i).and_then(|t| t.token) == Some(Token::LParen) {
                    while i < lexed.len() && lexed[i].token != Some(Token::RParen) {
                        i += 1;
                    }
                    i += 1;
                }
            }
            Some(Token::Ident) => {
                keyword = Some(&text[lexed[i].range.clone()]);
                break;
            }
            _ => i += 1,
        }
    }
    match lexed.last().and_then(|t| t.token) {
        Some(Token::Semi) => true,
        Some(Token::RBrace) => matches!(keyword, Some("rule" | "namespace")),
        _ => false,
    }
}

/// Runs `mspl repl`: line editing on a terminal, plain lines otherwise.
/// Ends in success (the session ended normally), or in failure when its
/// output could not be written.
pub fn run(config: &Config) -> crate::exit::Exit {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive {
        let color = std::io::stderr().is_terminal();
        let (session, reply) = Session::start(config, color);
        return terminal::run(session, reply, config.history.as_deref());
    }
    {
        let (mut session, reply) = Session::start(config, false);
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        let mut out = stdout.lock();
        let mut err = stderr.lock();
        let written = emit(&reply, &mut out, &mut err)
            .and_then(|()| piped(&mut session, std::io::stdin().lock(), &mut out, &mut err));
        match written {
            Ok(()) => crate::exit::Exit::Success,
            Err(e) => crate::exit::Exit::stdout_failure(&e),
        }
    }
}

/// Writes a reply, flushing both streams so that they interleave in order
/// when they share one file; a failure to write the answers (standard
/// output) is returned, to end the session.
pub fn emit(reply: &Reply, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<()> {
    let written = out
        .write_all(reply.stdout.as_bytes())
        .and_then(|()| out.flush());
    let _ = err.write_all(reply.stderr.as_bytes());
    let _ = err.flush();
    written
}

/// The driver without line editing: reads `input` line by line, joins the
/// lines of an input that continues, and writes each reply. Prints no
/// prompts and echoes nothing, so a transcript's output is only answers.
pub fn piped(
    session: &mut Session,
    input: impl BufRead,
    out: &mut impl Write,
    err: &mut impl Write,
) -> std::io::Result<()> {
    let mut buffer = String::new();
    for line in input.lines() {
        let Ok(line) = line else {
            break;
        };
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if !is_complete(&buffer) {
            continue;
        }
        let reply = session.execute(&std::mem::take(&mut buffer));
        emit(&reply, out, err)?;
        if reply.quit {
            return Ok(());
        }
    }
    // An input left open at the end is run as it is: its error says what is missing.
    if !buffer.trim().is_empty() {
        let reply = session.execute(&buffer);
        emit(&reply, out, err)?;
    }
    Ok(())
}
