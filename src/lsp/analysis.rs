//! One analysis of the project: every file (an open document's unsaved
//! text in place of its file) loaded into one policy set, linked and, when
//! it has declarations, validated; each problem placed in its file.

use super::project::Project;
use super::text::{Encoding, LineIndex};
use crate::diag::{Diagnostic, Severity};
use crate::files::{read_regular, TextKind};
use crate::limits::Limits;
use crate::policy_set::{IdScheme, Loader, PolicySet, SourceFormat};
use crate::span::Span;
use crate::syntax::reparse::{reparse, ReparseCache};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, Range, Url};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The loaded set and every file's problems.
pub struct Analysis {
    /// The policy set (usable for navigation even when it has errors).
    pub set: PolicySet,
    /// Each file's text and line index, by path.
    pub files: BTreeMap<PathBuf, (String, LineIndex)>,
    /// The source number of each file, by path.
    pub ids: HashMap<PathBuf, usize>,
    /// The path of each source number (the reverse of `ids`).
    paths: HashMap<usize, PathBuf>,
    /// Every file's diagnostics (empty for a clean file).
    pub diagnostics: BTreeMap<PathBuf, Vec<lsp_types::Diagnostic>>,
    /// Each attribute declared in text: its entity type (qualified), its
    /// name and where it is declared.
    pub attributes: Vec<(crate::syntax::ast::Name, smol_str::SmolStr, Span)>,
}

impl Analysis {
    /// Analyses `project` with the `open` documents' text in place of
    /// their files (an open document outside the project joins it).
    pub fn run(
        project: &Project,
        open: &BTreeMap<PathBuf, String>,
        encoding: Encoding,
        caches: &mut HashMap<PathBuf, ReparseCache>,
    ) -> Analysis {
        let limits = Limits::default();
        let mut loader = Loader::new(limits);
        // Every project file is read as a regular file, bounded.
        loader.regular_files_only();
        let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
        for f in &project.files {
            if let Some(t) = open.get(f) {
                texts.insert(f.clone(), t.clone());
            } else if let Ok(t) = read_regular(f, limits.max_policy_file_bytes, TextKind::Policy) {
                texts.insert(f.clone(), t);
            }
        }
        for (path, t) in open {
            texts.entry(path.clone()).or_insert_with(|| t.clone());
        }
        let mut ids = HashMap::new();
        let mut attributes = Vec::new();
        for (path, t) in &texts {
            let name = path.display().to_string();
            let id = match SourceFormat::of(&name) {
                // Text: parsed again only where it changed.
                SourceFormat::Text => {
                    let cache = caches.entry(path.clone()).or_default();
                    let parsed = reparse(t, loader.next_file(), &limits, cache);
                    note_attributes(&parsed.file.items, &mut attributes);
                    loader.add_parsed(name, t.clone(), parsed)
                }
                format => loader.add_source_as(name, t.clone(), format),
            };
            ids.insert(path.clone(), id);
        }
        caches.retain(|p, _| texts.contains_key(p));
        for l in &project.links {
            loader.add_links_path(l);
        }
        let (set, mut diagnostics) = loader.finish(IdScheme::Annotated);
        if !diagnostics.iter().any(|d| d.severity == Severity::Error) && !set.schema.is_empty() {
            diagnostics.extend(
                crate::validate::validate_policies(&set)
                    .iter()
                    .map(Diagnostic::from),
            );
        }
        let mut files = BTreeMap::new();
        for (path, t) in texts {
            let index = LineIndex::new(&t, encoding);
            files.insert(path, (t, index));
        }
        let mut analysis = Analysis {
            set,
            files,
            paths: ids.iter().map(|(p, &i)| (i, p.clone())).collect(),
            ids,
            diagnostics: BTreeMap::new(),
            attributes,
        };
        for path in analysis.files.keys() {
            analysis.diagnostics.insert(path.clone(), Vec::new());
        }
        for d in &diagnostics {
            let Some(span) = d.span else { continue };
            let Some(path) = analysis.path_of(span.file) else {
                continue;
            };
            let Some(range) = analysis.range(span) else {
                continue;
            };
            let related: Vec<DiagnosticRelatedInformation> = d
                .secondary
                .iter()
                .filter_map(|(s, label)| {
                    Some(DiagnosticRelatedInformation {
                        location: analysis.location(*s)?,
                        message: label.clone(),
                    })
                })
                .collect();
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let lsp = lsp_types::Diagnostic {
                range,
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                    Severity::Note => DiagnosticSeverity::INFORMATION,
                }),
                code: Some(lsp_types::NumberOrString::String(d.label.clone())),
                source: Some("mspl".into()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..lsp_types::Diagnostic::default()
            };
            if let Some(list) = analysis.diagnostics.get_mut(&path) {
                list.push(lsp);
            }
        }
        if let (Some(e), Some(root)) = (&project.config_error, &project.root) {
            analysis.diagnostics.insert(
                root.join("mspl.toml"),
                vec![lsp_types::Diagnostic {
                    message: e.clone(),
                    severity: Some(DiagnosticSeverity::ERROR),
                    source: Some("mspl".into()),
                    ..lsp_types::Diagnostic::default()
                }],
            );
        }
        analysis
    }

    /// The path of source `file`.
    pub fn path_of(&self, file: usize) -> Option<PathBuf> {
        self.paths.get(&file).cloned()
    }

    /// The range of `span` in its file.
    pub fn range(&self, span: Span) -> Option<Range> {
        let path = self.path_of(span.file)?;
        let (text, index) = self.files.get(&path)?;
        Some(index.range(text, span.start as usize, span.end as usize))
    }

    /// The location of `span`.
    pub fn location(&self, span: Span) -> Option<Location> {
        let path = self.path_of(span.file)?;
        Some(Location::new(
            Url::from_file_path(&path).ok()?,
            self.range(span)?,
        ))
    }

    /// The byte offset of `position` in the file at `path`, and its source.
    pub fn offset(&self, path: &Path, position: lsp_types::Position) -> Option<(usize, usize)> {
        let (text, index) = self.files.get(path)?;
        Some((*self.ids.get(path)?, index.offset(text, position)))
    }

    /// The text of the file at `path`.
    pub fn text(&self, path: &Path) -> Option<&str> {
        self.files.get(path).map(|(t, _)| t.as_str())
    }
}

/// Every attribute the declarations among `items` declare.
fn note_attributes(
    items: &[crate::syntax::ast::Item],
    out: &mut Vec<(crate::syntax::ast::Name, smol_str::SmolStr, Span)>,
) {
    use crate::syntax::ast::{Decl, Item};
    let mut entity = |ns: &str, d: &Decl| {
        if let Decl::Entity(e) = d {
            for n in &e.names {
                let ty: crate::syntax::ast::Name = if ns.is_empty() {
                    n.clone()
                } else {
                    format!("{ns}::{n}").into()
                };
                for a in &e.attrs {
                    out.push((ty.clone(), a.name.clone(), a.span));
                }
            }
        }
    };
    for item in items {
        match item {
            Item::Decl(d) => entity("", d),
            Item::Namespace(ns) => ns.decls.iter().for_each(|d| entity(&ns.name, d)),
            Item::Policy(_) | Item::Rule(_) => {}
        }
    }
}
