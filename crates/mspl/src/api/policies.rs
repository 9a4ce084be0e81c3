//! Policy sets and declarations, from text or files, and their validation.

use super::error::{LimitError, LoadError, Problem};
use crate::authorize::{ErrorMode, Options, PreparedSet};
use crate::diag::{Diagnostic, Severity};
use crate::policy_set::{self, IdScheme, Loader, SourceFormat};
use std::path::Path;
use std::sync::Arc;

/// The limits a policy set is loaded and judged under: nesting, expression
/// and rule depth, evaluation steps, file sizes, set sizes, JSON depth.
/// Each setter refuses a value past what that limit can be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits(crate::limits::Limits);

macro_rules! limit_setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        impl Limits {
            $(
                $(#[$doc])*
                pub fn $name(self, value: $ty) -> Result<Limits, LimitError> {
                    let limits = crate::limits::Limits { $name: value, ..self.0 };
                    limits.checked().map(Limits).map_err(LimitError)
                }
            )*
        }
    };
}

limit_setters! {
    /// Deepest nesting of brackets, `if`s and quantifiers in one item (at most 1,000).
    max_nesting: usize,
    /// Deepest expression tree (at most 1,000).
    max_expr_depth: usize,
    /// Deepest chain of rule calls during one evaluation (at most 100,000).
    max_rule_depth: usize,
    /// Most evaluation steps for one policy and one request.
    max_steps: u64,
    /// Most evaluation steps for one request, across its policies; past it
    /// the request is denied.
    max_request_steps: u64,
    /// Largest policy or declaration text, in bytes (at most 4 GiB - 1).
    max_policy_file_bytes: usize,
    /// Largest entity, context or request text, in bytes (at most 4 GiB - 1).
    max_data_file_bytes: usize,
    /// Largest set built during evaluation.
    max_set_size: usize,
    /// Deepest nesting of JSON arrays and objects in data (at most 127).
    max_json_depth: usize,
}

impl Limits {
    pub(crate) fn inner(&self) -> crate::limits::Limits {
        self.0
    }
}

/// Declarations: entity types, their attributes and parents, actions and
/// what they apply to, common types. Read from Cedar's schema syntax
/// (`.cedarschema`, as mspl writes declarations too) or Cedar's JSON schema.
#[derive(Clone, Debug)]
pub struct Schema {
    /// A set holding only the declarations (and their sources, so that a
    /// data problem found against them is located).
    decls: Arc<policy_set::PolicySet>,
}

impl Schema {
    /// Declarations in Cedar's schema syntax.
    pub fn from_cedarschema_str(text: &str) -> Result<Schema, LoadError> {
        Schema::read("schema.cedarschema", text, SourceFormat::Text)
    }

    /// Declarations in Cedar's JSON schema format.
    pub fn from_json_str(text: &str) -> Result<Schema, LoadError> {
        Schema::read("schema.cedarschema.json", text, SourceFormat::SchemaJson)
    }

    /// Declarations read from a file (`*.cedarschema.json` is JSON).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Schema, LoadError> {
        let mut loader = Loader::new(crate::limits::Limits::default());
        loader.add_path(path.as_ref());
        Schema::finish(loader)
    }

    fn read(name: &str, text: &str, format: SourceFormat) -> Result<Schema, LoadError> {
        let mut loader = Loader::new(crate::limits::Limits::default());
        loader.add_source_as(name.into(), text.into(), format);
        Schema::finish(loader)
    }

    fn finish(loader: Loader) -> Result<Schema, LoadError> {
        let (set, mut diagnostics) = loader.finish(IdScheme::Annotated);
        if !set.policies.is_empty() || !set.templates.is_empty() || !set.rules.is_empty() {
            diagnostics.push(Diagnostic::plain(
                "a schema holds declarations only; policies and rules belong in a policy set",
            ));
        }
        refuse_errors(&set, &diagnostics)?;
        Ok(Schema {
            decls: Arc::new(set),
        })
    }

    pub(crate) fn decls(&self) -> &policy_set::PolicySet {
        &self.decls
    }

    /// The entity types declared, by their full names, sorted.
    pub fn entity_types(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .decls
            .schema
            .entity_types
            .keys()
            .map(|n| n.to_string())
            .collect();
        names.sort();
        names
    }

    /// The actions declared, as `Action::"id"` references, sorted.
    pub fn actions(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .decls
            .schema
            .actions
            .keys()
            .map(|u| u.to_string())
            .collect();
        names.sort();
        names
    }
}

/// Builds a [`PolicySet`] from texts and files: policies, rules, templates,
/// declarations (mspl's syntax is Cedar's plus rules; Cedar's JSON formats
/// too) and template links.
#[derive(Debug)]
pub struct PolicySetBuilder {
    texts: Vec<(String, String, SourceFormat)>,
    files: Vec<std::path::PathBuf>,
    links: Vec<(String, String)>,
    cedar: bool,
    limits: crate::limits::Limits,
}

impl PolicySetBuilder {
    /// Policies, rules or declarations in text (mspl's or Cedar's syntax),
    /// under `name` (how problems name it).
    pub fn text(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.texts
            .push((name.into(), text.into(), SourceFormat::Text));
        self
    }

    /// Policies in Cedar's JSON policy format (a policy set or one policy).
    pub fn cedar_json(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.texts
            .push((name.into(), text.into(), SourceFormat::PoliciesJson));
        self
    }

    /// Declarations in Cedar's JSON schema format.
    pub fn schema_json(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.texts
            .push((name.into(), text.into(), SourceFormat::SchemaJson));
        self
    }

    /// The declarations of `schema`.
    pub fn schema(mut self, schema: &Schema) -> Self {
        for file in 0..schema.decls.sources.next_id() {
            let sources = &schema.decls.sources;
            let name = sources.name(file);
            self.texts.push((
                name.to_string(),
                sources.text(file).to_string(),
                SourceFormat::of(name),
            ));
        }
        self
    }

    /// A file, or every policy and declaration file under a folder
    /// (`*.mspl`, `*.cedar`, `*.cedarschema`, and their JSON forms).
    pub fn file(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Template links, as Cedar's CLI takes them: a JSON array of
    /// `{"template_id", "link_id", "args"}`.
    pub fn links_json(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.links.push((name.into(), text.into()));
        self
    }

    /// Cedar's semantics: a policy that raises an error is skipped (mspl's
    /// default fails closed: an erring permit does not apply, an erring
    /// forbid does), policies are named `policy0`, `policy1`, … whatever
    /// their `@id`, and a cyclic entity hierarchy is refused.
    pub fn cedar_semantics(mut self, on: bool) -> Self {
        self.cedar = on;
        self
    }

    /// The limits to load and judge under.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits.inner();
        self
    }

    /// Loads and links everything given. Warnings do not stop it; the
    /// first error does, with every problem found.
    pub fn build(self) -> Result<PolicySet, LoadError> {
        let mut loader = Loader::new(self.limits);
        for (name, text, format) in self.texts {
            loader.add_source_as(name, text, format);
        }
        for path in &self.files {
            loader.add_path(path);
        }
        for (name, text) in self.links {
            loader.add_links_source(name, text);
        }
        let (set, diagnostics) = loader.finish(IdScheme::cedar(self.cedar));
        refuse_errors(&set, &diagnostics)?;
        let warnings = diagnostics
            .iter()
            .map(|d| Problem::of(&set.sources, d))
            .collect();
        let options = Options {
            errors: ErrorMode::cedar(self.cedar),
            limits: self.limits,
            ..Options::default()
        };
        Ok(PolicySet {
            prepared: PreparedSet::new(set, options),
            warnings,
        })
    }
}

/// Refuses a load with an error among its problems.
fn refuse_errors(set: &policy_set::PolicySet, diagnostics: &[Diagnostic]) -> Result<(), LoadError> {
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError::new(&set.sources, diagnostics));
    }
    Ok(())
}

/// A policy set ready to answer requests: policies, rules, templates and
/// their links, declarations, indexed, with the semantics and limits it is
/// judged under. Cheap to clone (shared), `Send + Sync`.
#[derive(Clone, Debug)]
pub struct PolicySet {
    prepared: PreparedSet,
    warnings: Vec<Problem>,
}

impl PolicySet {
    /// A builder, to combine texts, files, declarations and options.
    pub fn builder() -> PolicySetBuilder {
        PolicySetBuilder {
            texts: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
            cedar: false,
            limits: crate::limits::Limits::default(),
        }
    }

    /// Policies, rules and declarations in one text (mspl's or Cedar's
    /// syntax), named `policies.mspl` in problems.
    pub fn from_text(text: &str) -> Result<PolicySet, LoadError> {
        PolicySet::builder().text("policies.mspl", text).build()
    }

    /// Every policy and declaration file at `path` (a file or a folder).
    pub fn from_path(path: impl AsRef<Path>) -> Result<PolicySet, LoadError> {
        PolicySet::builder().file(path).build()
    }

    pub(crate) fn prepared(&self) -> &PreparedSet {
        &self.prepared
    }

    /// The ids of its policies (template links included), in load order.
    pub fn policy_ids(&self) -> impl Iterator<Item = &str> {
        self.prepared.set().policies.iter().map(|p| p.id.as_str())
    }

    /// How many policies it holds (template links included).
    pub fn len(&self) -> usize {
        self.prepared.set().policies.len()
    }

    /// Whether it holds no policy.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The warnings loading it gave (an unused rule, say).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// Its declarations (empty when it has none).
    pub fn schema(&self) -> Schema {
        Schema {
            decls: Arc::clone(self.prepared.shared_set()),
        }
    }

    /// Type-checks the policies and rules against the declarations, as
    /// Cedar's strict validation does (rules typed at their calls).
    pub fn validate(&self) -> ValidationReport {
        let set = self.prepared.set();
        let problems = crate::validate::tidy(crate::validate::validate_policies(set));
        let diagnostics: Vec<Diagnostic> = problems
            .iter()
            .map(|p| {
                let d = Diagnostic::from(p);
                if p.is_warning() {
                    d.warning()
                } else {
                    d
                }
            })
            .collect();
        ValidationReport {
            declared: !set.schema.is_empty(),
            problems: diagnostics
                .iter()
                .map(|d| Problem::of(&set.sources, d))
                .collect(),
            rendered: set.sources.render(&diagnostics, false),
        }
    }
}

impl std::str::FromStr for PolicySet {
    type Err = LoadError;

    fn from_str(text: &str) -> Result<PolicySet, LoadError> {
        PolicySet::from_text(text)
    }
}

/// What validation found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationReport {
    declared: bool,
    problems: Vec<Problem>,
    rendered: String,
}

impl ValidationReport {
    /// Whether the policies validate: something is declared to check them
    /// against (validation against nothing passes nothing) and no error
    /// was found; warnings are allowed.
    pub fn passed(&self) -> bool {
        self.declared && self.errors().next().is_none()
    }

    /// Whether anything was declared to validate against.
    pub fn had_declarations(&self) -> bool {
        self.declared
    }

    /// The errors, in order.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.is_warning())
    }

    /// The warnings, in order.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_warning())
    }

    /// Every problem drawn on its source, as `mspl validate` prints them.
    pub fn render(&self) -> &str {
        &self.rendered
    }
}
