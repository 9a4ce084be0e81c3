//! The policy files below a directory.
//!
//! A path given by name is read whatever it is (a FIFO or `/dev/stdin` is a
//! stream, read bounded); a directory is walked in sorted path order and
//! yields only regular files with a policy extension. Each directory and
//! each file is visited once, judged by device and inode, so a link back up
//! the tree (`ln -s . dir/x`) or two links to one place load every file
//! once, in time linear in the tree.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// File extensions of policy and declaration files: mspl and Cedar text,
/// Cedar's schema text, and Cedar's JSON schema and JSON policy formats.
pub const POLICY_EXTENSIONS: &[&str] = &[
    "mspl",
    "cedar",
    "cedarschema",
    "cedarschema.json",
    "cedar.json",
];

/// The extensions of the text formats among [`POLICY_EXTENSIONS`] (what
/// `mspl fmt` formats).
pub const TEXT_EXTENSIONS: &[&str] = &["mspl", "cedar", "cedarschema"];

/// Whether the file name of `path` ends in `.E` for one of `extensions`
/// (an extension may have dots: `cedar.json`).
pub fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    extensions.iter().any(|e| {
        name.len() > e.len() + 1
            && name.ends_with(e)
            && name.as_bytes()[name.len() - e.len() - 1] == b'.'
    })
}

/// What a walk found: the files, in sorted path order, and what it skipped.
#[derive(Debug, Default)]
pub struct Collected {
    /// The files to read, each once.
    pub files: Vec<PathBuf>,
    /// Why an entry was skipped, one message each.
    pub warnings: Vec<String>,
    seen: HashSet<(u64, u64)>,
}

impl Collected {
    /// An empty collection.
    pub fn new() -> Collected {
        Collected::default()
    }
}

/// Adds `path` (a file given by name) or the policy files below it (a
/// directory) to `out`. Fails only when `path` itself cannot be read.
pub fn collect_files(path: &Path, out: &mut Collected) -> std::io::Result<()> {
    collect_with(path, POLICY_EXTENSIONS, out)
}

/// [`collect_files`] for files ending in one of `extensions`.
pub fn collect_with(path: &Path, extensions: &[&str], out: &mut Collected) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        if out.seen.insert((meta.dev(), meta.ino())) || !meta.is_file() {
            out.files.push(path.to_path_buf());
        }
        return Ok(());
    }
    out.seen.insert((meta.dev(), meta.ino()));
    walk(path, extensions, out);
    Ok(())
}

fn walk(dir: &Path, extensions: &[&str], out: &mut Collected) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            out.warnings.push(format!(
                "skipping `{}`: {}",
                dir.display(),
                super::read::io_message(&e)
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let is_policy = has_extension(&p, extensions);
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                if is_policy || p.is_symlink() {
                    out.warnings.push(format!(
                        "skipping `{}`: {}",
                        p.display(),
                        super::read::io_message(&e)
                    ));
                }
                continue;
            }
        };
        let key = (meta.dev(), meta.ino());
        if meta.is_dir() {
            if out.seen.insert(key) {
                walk(&p, extensions, out);
            } else {
                out.warnings.push(format!(
                    "skipping `{}`: a link to a directory already read",
                    p.display()
                ));
            }
        } else if is_policy {
            if !meta.is_file() {
                out.warnings
                    .push(format!("skipping `{}`: not a regular file", p.display()));
            } else if out.seen.insert(key) {
                out.files.push(p);
            } else {
                out.warnings.push(format!(
                    "skipping `{}`: the same file as one already read",
                    p.display()
                ));
            }
        }
    }
}
