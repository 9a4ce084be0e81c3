//! Loading: files and directories -> one linked [`PolicySet`] of policies,
//! templates, rules and declarations, with policy ids assigned, calls
//! resolved and template links made into policies ([`links`]).
//!
//! **Invariant:** a `PolicySet` that loaded without errors has every call
//! resolved to a rule or an extension function with the right arity, and
//! unique policy ids.

use crate::builtins::{self, Form};
use crate::diag::{Diagnostic, Sources};
use crate::files::{collect_files, read_text, Collected, ReadError, TextKind};
use crate::limits::Limits;
use crate::schema::Schema;
use crate::syntax::ast::{annotation, CallTarget, Expr, ExprKind, Item, Name, Policy, RuleClause};
use crate::syntax::{parse_file, FileId, Span};
use smol_str::SmolStr;
use std::collections::HashMap;
use std::path::Path;

pub mod json;
pub mod links;
pub use links::{Link, LinkSpec};

/// A policy with its id.
#[derive(Clone, Debug)]
pub struct PolicyEntry {
    /// `@id("…")` or `policyN`.
    pub id: SmolStr,
    /// The policy; for a link, its template with the slots filled.
    pub policy: Policy,
    /// For a template-linked policy, its template and slot values.
    pub link: Option<Box<Link>>,
}

/// A rule: all clauses with one name.
#[derive(Clone, Debug)]
pub struct RuleDef {
    /// The rule's name.
    pub name: Name,
    /// Its number of parameters.
    pub arity: usize,
    /// Its clauses, in load order (the order never changes a result).
    pub clauses: Vec<RuleClause>,
}

/// A loaded, linked set of policies, rules and declarations.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    /// The source files, for diagnostics.
    pub sources: Sources,
    /// Policies in load order, then the template-linked policies in link
    /// order.
    pub policies: Vec<PolicyEntry>,
    /// Templates (policies with slots) in load order; they never apply by
    /// themselves, only their links in `policies` do.
    pub templates: Vec<PolicyEntry>,
    /// Rules, indexed by [`CallTarget::Rule`].
    pub rules: Vec<RuleDef>,
    /// The declarations.
    pub schema: Schema,
    /// Policy numbers by id, built on first use by [`PolicySet::policy`];
    /// a hint only, checked on every lookup, so a set changed in place is
    /// still answered right.
    ids: std::sync::OnceLock<HashMap<SmolStr, u32>>,
}

impl PolicySet {
    /// Which rules are called, by number: those the policies' conditions
    /// call, directly or through other rules, and with `findings` also the
    /// rules tools call: the audit's finding rules (a clause with
    /// `@finding`, which `mspl audit findings` calls), the generator's
    /// invariants (`@invariant`, `mspl generate` and `mspl diff --worlds`),
    /// the properties `mspl verify` proves (`@property`) and the rules they
    /// call. The validator
    /// warns about the others; coverage counts only what policies call.
    pub fn rules_called(&self, findings: bool) -> Vec<bool> {
        let mut called = vec![false; self.rules.len()];
        let mut todo: Vec<u32> = Vec::new();
        let calls = |e: &Expr, todo: &mut Vec<u32>| {
            if let ExprKind::Call {
                target: CallTarget::Rule(i),
                ..
            } = &e.kind
            {
                todo.push(*i);
            }
        };
        for p in self.policies.iter().chain(&self.templates) {
            for c in &p.policy.conditions {
                crate::syntax::ast::visit(&c.body, &mut |e| calls(e, &mut todo));
            }
        }
        if findings {
            for (i, rule) in self.rules.iter().enumerate() {
                if rule.clauses.iter().any(|c| {
                    annotation(&c.annotations, "finding").is_some()
                        || annotation(&c.annotations, "invariant").is_some()
                        || annotation(&c.annotations, "property").is_some()
                }) {
                    #[expect(clippy::cast_possible_truncation, reason = "`Loader::finish` refuses a set of more than u32::MAX policies or rules")]
                    todo.push(i as u32);
                }
            }
        }
        while let Some(i) = todo.pop() {
            let Some(flag) = called.get_mut(i as usize) else {
                continue;
            };
            if std::mem::replace(flag, true) {
                continue;
            }
            for clause in &self.rules[i as usize].clauses {
                crate::syntax::ast::visit(&clause.body, &mut |e| calls(e, &mut todo));
            }
        }
        called
    }
}

impl PolicySet {
    /// The rule named `name`, if any.
    pub fn rule(&self, name: &str) -> Option<(u32, &RuleDef)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.name == name)
            .map(|(i, r)| (number(i), r))
    }

    /// The policy with id `id`.
    pub fn policy(&self, id: &str) -> Option<&PolicyEntry> {
        let ids = self.ids.get_or_init(|| {
            let mut map = HashMap::new();
            for (i, p) in self.policies.iter().enumerate() {
                #[expect(clippy::cast_possible_truncation, reason = "`Loader::finish` refuses a set of more than u32::MAX policies or rules")]
                map.entry(p.id.clone()).or_insert(i as u32);
            }
            map
        });
        match ids.get(id).and_then(|&i| self.policies.get(i as usize)) {
            Some(p) if p.id == id => Some(p),
            _ => self.policies.iter().find(|p| p.id == id),
        }
    }

    /// The template named `name` in links: its `@id` where it has one,
    /// else its `policyN` id, whatever the id scheme.
    pub fn template(&self, name: &str) -> Option<&PolicyEntry> {
        self.templates.iter().find(|t| template_name(t) == name)
    }

    /// Links one expression parsed on its own (the REPL's input) against
    /// this set's rules, as [`Loader::finish`] links policy conditions:
    /// every call resolved to a rule or an extension function with the
    /// right arity, every method known. Returns the problems found; the
    /// expression may be evaluated only when there are none.
    pub fn link_expr(&self, expr: &mut Expr) -> Vec<Diagnostic> {
        let rule_index: HashMap<Name, u32> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), number(i)))
            .collect();
        let arities: Vec<usize> = self.rules.iter().map(|r| r.arity).collect();
        let names: Vec<Name> = self.rules.iter().map(|r| r.name.clone()).collect();
        let linker = Linker {
            rule_index: &rule_index,
            arities: &arities,
            names: &names,
        };
        let mut diagnostics = Vec::new();
        linker.link(expr, &mut diagnostics);
        diagnostics
    }
}

/// The name links give a template: its key in a JSON policy file; else its
/// `@id` where it has one (in both id schemes, as the Cedar CLI resolves
/// it), else its `policyN` id.
pub(crate) fn template_name(t: &PolicyEntry) -> &str {
    if t.policy.id.is_some() {
        // A JSON template: its key.
        return &t.id;
    }
    annotation(&t.policy.annotations, "id")
        .and_then(|a| a.value.as_deref())
        .unwrap_or(&t.id)
}

/// The number of the policy or rule at `index` of a set's policies or
/// rules (as the index, the evaluator and the tools count them).
pub fn number(index: usize) -> u32 {
    #[expect(clippy::cast_possible_truncation, reason = "`Loader::finish` refuses a set of more than u32::MAX policies or rules")]
    let number = index as u32;
    number
}

/// How a source's text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// mspl or Cedar syntax: policies, rules, declarations.
    Text,
    /// Cedar's JSON schema format.
    SchemaJson,
    /// Cedar's JSON policy format (a policy set, or one policy).
    PoliciesJson,
}

impl SourceFormat {
    /// The format a file's name says: `*.cedarschema.json` and `*.cedar.json`
    /// are JSON, everything else text.
    pub fn of(name: &str) -> SourceFormat {
        if name.ends_with(".cedarschema.json") {
            SourceFormat::SchemaJson
        } else if name.ends_with(".cedar.json") {
            SourceFormat::PoliciesJson
        } else {
            SourceFormat::Text
        }
    }
}

/// How policy ids are assigned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdScheme {
    /// `@id("…")` where present, `policyN` otherwise.
    #[default]
    Annotated,
    /// Always `policyN`, as Cedar's library does.
    Cedar,
}

impl IdScheme {
    /// The scheme of `--cedar` (`Cedar`) or of mspl (`Annotated`).
    pub fn cedar(cedar: bool) -> IdScheme {
        if cedar {
            IdScheme::Cedar
        } else {
            IdScheme::Annotated
        }
    }
}

/// Gathers files, then links them into a [`PolicySet`].
#[derive(Default)]
pub struct Loader {
    sources: Sources,
    items: Vec<Item>,
    links: Vec<LinkSpec>,
    diagnostics: Vec<Diagnostic>,
    limits: Limits,
    /// Read only regular files (a long-running reader of a workspace: the
    /// language server), never a FIFO or a device a link points at.
    regular_only: bool,
}

pub use crate::files::walk::POLICY_EXTENSIONS;

impl Loader {
    /// A loader with the given limits.
    pub fn new(limits: Limits) -> Loader {
        Loader {
            limits,
            ..Loader::default()
        }
    }

    /// From now on, reads only regular files ([`crate::files::read_regular`]):
    /// what a long-running reader of a workspace needs, where a committed
    /// link to `/dev/stdin` must not be read.
    pub fn regular_files_only(&mut self) {
        self.regular_only = true;
    }

    fn read(&self, path: &Path, limit: usize, kind: TextKind) -> Result<String, ReadError> {
        if self.regular_only {
            crate::files::read_regular(path, limit, kind)
        } else {
            read_text(path, limit, kind)
        }
    }

    /// Adds a file, or every policy file below a directory, in sorted path order.
    pub fn add_path(&mut self, path: &Path) {
        self.add_path_as(path, None);
    }

    /// [`Loader::add_path`], reading every file found in `format` (`None`:
    /// as its name says, [`SourceFormat::of`]).
    pub fn add_path_as(&mut self, path: &Path, format: Option<SourceFormat>) {
        let mut found = Collected::new();
        if let Err(e) = collect_files(path, &mut found) {
            self.diagnostics.push(Diagnostic::unreadable(
                &path.display().to_string(),
                &e.into(),
            ));
            return;
        }
        for warning in found.warnings {
            self.diagnostics.push(Diagnostic::plain(warning).warning());
        }
        if found.files.is_empty() && path.is_dir() {
            self.diagnostics.push(
                Diagnostic::plain(format!(
                    "`{}` holds no policy or declaration file",
                    crate::diag::printable(&path.display().to_string())
                ))
                .warning()
                .with_help(Some(format!(
                    "policy files end in {}; is this the folder meant?",
                    POLICY_EXTENSIONS
                        .iter()
                        .map(|e| format!("`.{e}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            );
        }
        for file in found.files {
            let name = file.display().to_string();
            let format = format.unwrap_or_else(|| SourceFormat::of(&name));
            let kind = match format {
                SourceFormat::Text => TextKind::Policy,
                SourceFormat::SchemaJson | SourceFormat::PoliciesJson => TextKind::Data,
            };
            // Read through a bound: a FIFO or a device stops at the limit.
            match self.read(&file, self.limits.max_policy_file_bytes, kind) {
                Ok(text) => {
                    self.add_source_as(name, text, format);
                }
                Err(e) => self.diagnostics.push(Diagnostic::unreadable(&name, &e)),
            }
        }
    }

    /// Adds one source text under `name`, read as its name says.
    pub fn add_source(&mut self, name: String, text: String) -> FileId {
        let format = SourceFormat::of(&name);
        self.add_source_as(name, text, format)
    }

    /// Adds one source text under `name`, read in `format`.
    pub fn add_source_as(&mut self, name: String, text: String, format: SourceFormat) -> FileId {
        match format {
            SourceFormat::Text => self.add_text(name, text),
            SourceFormat::SchemaJson => {
                let file = self.sources.next_id();
                match crate::syntax::json::parse_json(&text, file, self.limits.json_depth()) {
                    Ok(json) => {
                        let (items, errors) = crate::syntax::schema_json::read_schema_json(&json);
                        self.items.extend(items);
                        self.diagnostics.extend(errors);
                    }
                    Err(d) => self.diagnostics.push(*d),
                }
                self.sources.add(name, text)
            }
            SourceFormat::PoliciesJson => {
                let file = self.sources.next_id();
                match crate::syntax::json::parse_json(&text, file, self.limits.json_depth()) {
                    Ok(json) => {
                        let read = json::read_policy_set_json(&json, self.limits.expr_depth());
                        self.items.extend(read.items);
                        self.links.extend(read.links);
                        self.diagnostics.extend(read.errors);
                    }
                    Err(d) => self.diagnostics.push(*d),
                }
                self.sources.add(name, text)
            }
        }
    }

    /// Adds one text source (mspl or Cedar syntax).
    fn add_text(&mut self, name: String, text: String) -> FileId {
        let parsed = parse_file(&text, self.sources.next_id(), &self.limits);
        self.add_parsed(name, text, parsed)
    }

    /// The id the next source added will have (for a caller that parses
    /// it itself, [`Loader::add_parsed`]).
    pub fn next_file(&self) -> FileId {
        self.sources.next_id()
    }

    /// Adds one text source already parsed (with [`Loader::next_file`] as
    /// its file): the language server reparses only what an edit changed.
    pub fn add_parsed(
        &mut self,
        name: String,
        text: String,
        parsed: crate::syntax::Parsed,
    ) -> FileId {
        let id = self.sources.add(name, text);
        self.diagnostics
            .extend(parsed.errors.iter().map(Diagnostic::from));
        self.items.extend(parsed.file.items);
        id
    }

    /// Adds the links of a linked-policies file (Cedar CLI's
    /// `--template-linked`); an empty file has none.
    pub fn add_links_path(&mut self, path: &Path) {
        let name = path.display().to_string();
        match self.read(path, self.limits.max_data_file_bytes, TextKind::Data) {
            Ok(text) => self.add_links_source(name, text),
            Err(e) => self.diagnostics.push(Diagnostic::unreadable(&name, &e)),
        }
    }

    /// Adds the links of a linked-policies file's text, under `name`.
    pub fn add_links_source(&mut self, name: String, text: String) {
        let file = self.sources.next_id();
        let (specs, errors) = if text.trim().is_empty() {
            (Vec::new(), Vec::new())
        } else {
            match crate::syntax::json::parse_json(&text, file, self.limits.json_depth()) {
                Ok(json) => links::read_links_file(&json),
                Err(d) => (Vec::new(), vec![*d]),
            }
        };
        self.sources.add(name, text);
        self.links.extend(specs);
        self.diagnostics.extend(errors);
    }

    /// Adds one link given as Cedar CLI's `link` takes it: the template's
    /// id, the new id, and the slot values as JSON text (`arguments`, kept
    /// as the source `name` for diagnostics).
    pub fn add_link_arguments(
        &mut self,
        template: &str,
        id: &str,
        name: String,
        arguments: String,
    ) {
        let file = self.sources.next_id();
        let read = crate::syntax::json::parse_json(&arguments, file, self.limits.json_depth())
            .and_then(|json| {
                Ok(LinkSpec {
                    template: template.into(),
                    template_span: json.span,
                    id: id.into(),
                    id_span: json.span,
                    values: links::read_slot_values(&json, "the arguments")?,
                    span: json.span,
                })
            });
        self.sources.add(name, arguments);
        match read {
            Ok(spec) => self.links.push(spec),
            Err(d) => self.diagnostics.push(*d),
        }
    }

    /// Links everything added so far. Returns the set and every problem found
    /// (parse errors included); the set is usable only when there are no errors.
    pub fn finish(self, ids: IdScheme) -> (PolicySet, Vec<Diagnostic>) {
        let Loader {
            sources,
            items,
            links,
            mut diagnostics,
            ..
        } = self;
        // Policies and rules are numbered with u32 (the index, the
        // evaluator): a set of more is refused, whatever the limits.
        if items.len().saturating_add(links.len()) > u32::MAX as usize {
            diagnostics.push(Diagnostic::plain(format!(
                "{} statements and links: a policy set holds at most {} policies and rules",
                items.len().saturating_add(links.len()),
                u32::MAX
            )));
            return (
                PolicySet {
                    sources,
                    ..PolicySet::default()
                },
                diagnostics,
            );
        }
        let (schema, schema_errors) = Schema::build(items.iter());
        diagnostics.extend(schema_errors.iter().map(Diagnostic::from));

        let mut set = PolicySet {
            sources,
            schema,
            ..PolicySet::default()
        };
        let mut first_by_id: HashMap<SmolStr, Span> = HashMap::new();
        let mut rule_index: HashMap<Name, u32> = HashMap::new();
        let mut policy_count = 0usize;
        for item in items {
            match item {
                Item::Policy(policy) => {
                    // A JSON policy's id is its key, and takes no number.
                    let id: SmolStr = match (ids, &policy.id, annotation(&policy.annotations, "id"))
                    {
                        (_, Some(fixed), _) => fixed.clone(),
                        (IdScheme::Annotated, None, Some(a)) => a.value.clone().unwrap_or_default(),
                        _ => format!("policy{policy_count}").into(),
                    };
                    if policy.id.is_none() {
                        policy_count += 1;
                    }
                    if let Some(first) = first_by_id.get(&id) {
                        diagnostics.push(
                            Diagnostic::error(
                                format!("two policies have the id `{id}`"),
                                policy.head,
                                "second policy",
                            )
                            .with_secondary(*first, "first policy")
                            .with_help(Some("give each policy its own `@id`".into())),
                        );
                    } else {
                        first_by_id.insert(id.clone(), policy.head);
                    }
                    let entry = PolicyEntry {
                        id,
                        policy,
                        link: None,
                    };
                    if entry.policy.slots().is_empty() {
                        set.policies.push(entry);
                    } else {
                        set.templates.push(entry);
                    }
                }
                Item::Rule(clause) => {
                    if builtins::function(&clause.name).is_some() {
                        diagnostics.push(
                            Diagnostic::error(
                                format!(
                                    "rule `{}` has the name of an extension function",
                                    clause.name
                                ),
                                clause.head,
                                "reserved name",
                            )
                            .with_help(Some("choose another name".into())),
                        );
                        continue;
                    }
                    match rule_index.get(&clause.name) {
                        Some(&i) => {
                            let rule = &mut set.rules[i as usize];
                            if rule.arity != clause.params.len() {
                                diagnostics.push(
                                    Diagnostic::error(
                                        format!(
                                            "clause of rule `{}` has {} parameters, the first clause has {}",
                                            clause.name,
                                            clause.params.len(),
                                            rule.arity
                                        ),
                                        clause.head,
                                        "this clause",
                                    )
                                    .with_secondary(rule.clauses[0].head, "first clause"),
                                );
                                continue;
                            }
                            rule.clauses.push(clause);
                        }
                        None => {
                            rule_index.insert(clause.name.clone(), number(set.rules.len()));
                            set.rules.push(RuleDef {
                                name: clause.name.clone(),
                                arity: clause.params.len(),
                                clauses: vec![clause],
                            });
                        }
                    }
                }
                Item::Decl(_) | Item::Namespace(_) => {}
            }
        }

        let arities: Vec<usize> = set.rules.iter().map(|r| r.arity).collect();
        let names: Vec<Name> = set.rules.iter().map(|r| r.name.clone()).collect();
        let linker = Linker {
            rule_index: &rule_index,
            arities: &arities,
            names: &names,
        };
        for entry in set.policies.iter_mut().chain(&mut set.templates) {
            for c in &mut entry.policy.conditions {
                linker.link(&mut c.body, &mut diagnostics);
            }
        }
        let templates: HashMap<&str, usize> = set
            .templates
            .iter()
            .enumerate()
            .map(|(i, t)| (template_name(t), i))
            .collect();
        let mut made = Vec::new();
        for spec in links {
            match links::make_link(&set, &templates, &spec, &first_by_id) {
                Ok(entry) => {
                    first_by_id.insert(entry.id.clone(), spec.id_span);
                    made.push(entry);
                }
                Err(d) => diagnostics.push(*d),
            }
        }
        drop(templates);
        set.policies.append(&mut made);
        for rule in &mut set.rules {
            for clause in &mut rule.clauses {
                linker.link(&mut clause.body, &mut diagnostics);
            }
        }
        (set, diagnostics)
    }
}

struct Linker<'a> {
    rule_index: &'a HashMap<Name, u32>,
    arities: &'a [usize],
    names: &'a [Name],
}

impl Linker<'_> {
    fn link(&self, expr: &mut Expr, out: &mut Vec<Diagnostic>) {
        crate::limits::with_stack(|| self.link_inner(expr, out))
    }

    fn link_inner(&self, expr: &mut Expr, out: &mut Vec<Diagnostic>) {
        let span = expr.span;
        match &mut expr.kind {
            ExprKind::Error => {}
            ExprKind::Call { name, args, target } => {
                if let Some(&i) = self.rule_index.get(name) {
                    *target = CallTarget::Rule(i);
                    let arity = self.arities[i as usize];
                    if arity != args.len() {
                        out.push(Diagnostic::error(
                            format!(
                                "rule `{name}` takes {arity} arguments, this call gives {}",
                                args.len()
                            ),
                            span,
                            "wrong number of arguments",
                        ));
                    }
                } else if builtins::function(name).is_some() {
                    *target = CallTarget::Extension;
                } else {
                    let candidates = self
                        .names
                        .iter()
                        .map(|n| n.as_str())
                        .chain(["decimal", "ip", "datetime", "duration"]);
                    let help = match crate::suggest::closest(name, candidates) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "define it with `rule name(params) { … }`".into(),
                    };
                    out.push(
                        Diagnostic::error(
                            format!("unknown rule or function `{name}`"),
                            span,
                            "not defined",
                        )
                        .with_help(Some(help)),
                    );
                }
                for a in args {
                    self.link(a, out);
                }
            }
            ExprKind::Method(recv, name, args) => {
                if builtins::method(name).is_none() {
                    let help = crate::suggest::closest(name, builtins::names(Form::Method))
                        .map(|s| format!("did you mean `{s}`?"));
                    out.push(
                        Diagnostic::error(
                            format!("unknown method `{name}`"),
                            span,
                            "no such method",
                        )
                        .with_help(help),
                    );
                }
                self.link(recv, out);
                for a in args {
                    self.link(a, out);
                }
            }
            ExprKind::Lit(_) | ExprKind::Entity(_) | ExprKind::Var(_) | ExprKind::Local(..) => {}
            ExprKind::If(a, b, c) => {
                self.link(a, out);
                self.link(b, out);
                self.link(c, out);
            }
            ExprKind::And(items) | ExprKind::Or(items) | ExprKind::Set(items) => {
                for i in items {
                    self.link(i, out);
                }
            }
            ExprKind::Binary(_, a, b) => {
                self.link(a, out);
                self.link(b, out);
            }
            ExprKind::Not(a)
            | ExprKind::Neg(a)
            | ExprKind::Has(a, _)
            | ExprKind::Like(a, _)
            | ExprKind::GetAttr(a, _) => self.link(a, out),
            ExprKind::Is(a, _, b) => {
                self.link(a, out);
                if let Some(b) = b {
                    self.link(b, out);
                }
            }
            ExprKind::Record(entries) => {
                for (_, v) in entries {
                    self.link(v, out);
                }
            }
            ExprKind::Quantified { set, body, .. } => {
                self.link(set, out);
                self.link(body, out);
            }
        }
    }
}
