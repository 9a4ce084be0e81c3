//! Policy files as a git revision has them (`mspl diff --old-rev`): read
//! with `git ls-tree` and `git cat-file`, no checkout, the working tree
//! untouched.

use super::walk::POLICY_EXTENSIONS;
use std::path::Path;
use std::process::Command;

/// A file of a revision: its name (`REV:path`) and its text.
pub type RevFile = (String, String);

/// Runs `git args…` in `dir`; its output, or a message with git's.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// The policy files (`*.mspl`, `*.cedar`, `*.cedarschema`) that revision
/// `rev` has at `path` (a file, or a directory searched recursively), in
/// sorted path order, each at most `max_bytes`. A path the revision lacks
/// gives no files (the change added it).
pub fn files_at_revision(path: &Path, rev: &str, max_bytes: u64) -> Result<Vec<RevFile>, String> {
    if rev.starts_with('-') {
        return Err(format!("`{rev}` is not a revision"));
    }
    // `git -C dir` with the path relative to it: the directory of a file,
    // the directory itself otherwise.
    let (dir, target) = if path.is_dir() {
        (path.to_path_buf(), ".".to_string())
    } else {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (dir.to_path_buf(), name)
    };
    git(
        &dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| {
        format!(
            "`{rev}` is not a revision of the repository at {}",
            dir.display()
        )
    })?;
    let listing = git(
        &dir,
        &[
            "ls-tree",
            "-r",
            "-l",
            "-z",
            "--full-name",
            rev,
            "--",
            &target,
        ],
    )
    .map_err(|e| format!("cannot list {} at {rev}: {e}", path.display()))?;
    let mut files = Vec::new();
    for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
        // `<mode> <type> <object> <size>\t<path>`
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, full)) = entry.split_once('\t') else {
            continue;
        };
        let fields: Vec<&str> = meta.split_whitespace().collect();
        let [_, "blob", object, size] = fields[..] else {
            continue;
        };
        let wanted = super::walk::has_extension(Path::new(full), POLICY_EXTENSIONS);
        if !wanted {
            continue;
        }
        let size: u64 = size.parse().unwrap_or(u64::MAX);
        let name = format!("{rev}:{full}");
        if size > max_bytes {
            return Err(format!(
                "{name} is larger than the limit of {max_bytes} bytes"
            ));
        }
        let bytes = git(&dir, &["cat-file", "blob", object])
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))?;
        files.push((name, super::strip_bom(&text).to_string()));
    }
    files.sort();
    Ok(files)
}
