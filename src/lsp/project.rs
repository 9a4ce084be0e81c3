//! Which files form the policy set an open document belongs to: those an
//! `mspl.toml` at the workspace root names, else every policy and
//! declaration file below the root (hidden folders, `target/` and what the
//! root's `.gitignore` ignores left out), else, with no root, the document
//! alone.
//!
//! ```toml
//! # mspl.toml
//! policies = ["policies"]          # files or folders, relative to the root
//! schema = ["schema.cedarschema"]  # declaration files elsewhere
//! entities = "examples/entities.json"
//! links = ["links.json"]
//! ```

use crate::files::walk::{has_extension, POLICY_EXTENSIONS};
use std::path::{Path, PathBuf};

/// A project: its root and its inputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Project {
    /// The workspace root, if the client gave one.
    pub root: Option<PathBuf>,
    /// The policy and declaration files, sorted.
    pub files: Vec<PathBuf>,
    /// The entity file, for completing entity ids.
    pub entities: Option<PathBuf>,
    /// Linked-policies files.
    pub links: Vec<PathBuf>,
    /// A problem with `mspl.toml`, shown as a diagnostic of that file.
    pub config_error: Option<String>,
}

/// What `mspl.toml` may say.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    policies: Vec<PathBuf>,
    #[serde(default)]
    schema: Vec<PathBuf>,
    entities: Option<PathBuf>,
    #[serde(default)]
    links: Vec<PathBuf>,
}

impl Project {
    /// The project of workspace `root` (`None`: no root, only open files).
    pub fn discover(root: Option<&Path>) -> Project {
        let Some(root) = root else {
            return Project::default();
        };
        let mut project = Project {
            root: Some(root.to_path_buf()),
            ..Project::default()
        };
        let config_path = root.join("mspl.toml");
        match project_file(&config_path) {
            Ok(Some(text)) => match toml::from_str::<Config>(&text) {
                Ok(config) => {
                    let mut found = crate::files::Collected::new();
                    let mut missing = Vec::new();
                    let named = config.policies.iter().chain(&config.schema);
                    for p in named.chain(&config.links).chain(&config.entities) {
                        if !root.join(p).exists() {
                            missing.push(format!("`{}`", p.display()));
                        }
                    }
                    for p in config.policies.iter().chain(&config.schema) {
                        let _ = crate::files::collect_files(&root.join(p), &mut found);
                    }
                    if !missing.is_empty() {
                        project.config_error = Some(format!(
                            "mspl.toml: no such file or folder: {}",
                            missing.join(", ")
                        ));
                    } else if found.files.is_empty() {
                        project.config_error = Some(
                            "mspl.toml: the policies and schema it names hold no policy or declaration file".into(),
                        );
                    }
                    project.files = found.files;
                    project.entities = config.entities.map(|e| root.join(e));
                    project.links = config.links.iter().map(|l| root.join(l)).collect();
                }
                Err(e) => {
                    project.config_error = Some(format!("mspl.toml: {}", e.message()));
                    project.files = scan(root);
                }
            },
            Ok(None) => project.files = scan(root),
            Err(e) => {
                project.config_error = Some(format!("mspl.toml: {e}"));
                project.files = scan(root);
            }
        }
        project.files.sort();
        project.files.dedup();
        project
    }

    /// Whether `path` is one of the project's files.
    pub fn contains(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f == path)
    }
}

/// The largest project file read besides the policies (`mspl.toml`,
/// `.gitignore`).
const PROJECT_FILE_BYTES: usize = 1 << 20;

/// A small project file's text, read as every project file is: only a
/// regular file (a link to `/dev/stdin` or `/dev/zero` is refused, never
/// read), bounded. `None` when there is none.
fn project_file(path: &Path) -> Result<Option<String>, String> {
    if !path.exists() {
        return Ok(None);
    }
    crate::files::read_regular(path, PROJECT_FILE_BYTES, crate::files::TextKind::Policy)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The policy files below `root`, without hidden folders, `target/` and
/// what `.gitignore` at the root ignores.
fn scan(root: &Path) -> Vec<PathBuf> {
    let ignore = Ignore::read(root);
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    // A bound on folders visited, so that a huge tree cannot stall the server.
    let mut budget = 10_000usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = crate::files::meta::list_dir(&dir) else {
            continue;
        };
        for (path, kind) in entries {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.starts_with('.') || ignore.ignores(root, &path, kind.is_dir()) {
                continue;
            }
            if kind.is_dir() {
                if name != "target" && budget > 0 {
                    budget -= 1;
                    stack.push(path);
                }
            } else if kind.is_file() && has_extension(&path, POLICY_EXTENSIONS) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The patterns of a `.gitignore`: `name`, `dir/`, `/anchored`, `*.ext`,
/// `prefix*` (a `!` exception and `**` are not read; a line with them is
/// ignored).
struct Ignore {
    patterns: Vec<(String, bool, bool)>,
}

impl Ignore {
    fn read(root: &Path) -> Ignore {
        let text = project_file(&root.join(".gitignore"))
            .ok()
            .flatten()
            .unwrap_or_default();
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && !l.starts_with('#') && !l.starts_with('!') && !l.contains("**")
            })
            .map(|l| {
                let dir_only = l.ends_with('/');
                let anchored = l.starts_with('/') || l.trim_end_matches('/').contains('/');
                (l.trim_matches('/').to_string(), dir_only, anchored)
            })
            .collect();
        Ignore { patterns }
    }

    fn ignores(&self, root: &Path, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(root) else {
            return false;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        self.patterns.iter().any(|(p, dir_only, anchored)| {
            (!dir_only || is_dir)
                && if *anchored {
                    glob(p, &rel)
                } else {
                    glob(p, name)
                }
        })
    }
}

/// `*` matches any run of characters but `/`.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i) && !rest[..i].contains('/'))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*.cedar", "a.cedar"));
        assert!(!glob("*.cedar", "a.mspl"));
        assert!(glob("broken*", "broken-cases"));
        assert!(!glob("a/*", "a/b/c"));
        assert!(glob("tests/cases", "tests/cases"));
    }
}
