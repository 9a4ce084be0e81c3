//! What the file system says about a path, and folders made: the few
//! operations beyond reading and writing a file that the tools need, kept
//! here so that every touch of the file system is in this module.

use std::path::{Path, PathBuf};

/// Makes `dir` and the folders above it that are missing.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// The entries of a folder: each path and its kind (not followed through
/// a link), in the order the system gives them; unreadable entries left out.
pub fn list_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, std::fs::FileType)>> {
    Ok(std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .collect())
}

/// What the system knows of `path` (following links).
pub fn metadata(path: &Path) -> std::io::Result<std::fs::Metadata> {
    std::fs::metadata(path)
}

/// The absolute path `path` names, links resolved.
pub fn canonicalize(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// `N` bytes from the system's random source.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    let mut source = std::fs::File::open("/dev/urandom")?;
    std::io::Read::read_exact(&mut source, &mut bytes)?;
    Ok(bytes)
}
