//! Where a command's entities come from: an entity file, or a PostgreSQL
//! database named by a URL (`postgres://…`, `postgresql://…`; the
//! `postgres` feature), read at one snapshot into the same entity JSON a
//! file holds, so that every command reads both alike. `--entities-url-file
//! FILE` names the database by a file holding its URL (a password then
//! stays out of the process list).

use crate::files::{read_text, ReadError, TextKind};
use std::path::{Path, PathBuf};

/// Whether `path` names a database rather than a file.
pub fn is_database(path: &Path) -> bool {
    path.to_str()
        .is_some_and(|p| p.starts_with("postgres://") || p.starts_with("postgresql://"))
}

/// The name of `path` for messages: a file's path, or a database URL
/// without its password.
pub fn shown(path: &Path) -> String {
    let text = path.to_string_lossy();
    if !is_database(path) {
        return text.into_owned();
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.into_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// The entity source of `--entities` and `--entities-url-file`: the file,
/// or the database URL (the file's, or the one given, warned of when it
/// holds a password).
pub fn resolve(
    entities: Option<&Path>,
    url_file: Option<&Path>,
) -> Result<Option<PathBuf>, String> {
    if let Some(file) = url_file {
        let url = url_from_file(file)?;
        if !is_database(Path::new(&url)) {
            return Err(format!("{} holds no postgres:// URL", file.display()));
        }
        return Ok(Some(PathBuf::from(url)));
    }
    if let Some(path) = entities {
        if is_database(path) {
            warn_of_password(path);
        }
    }
    Ok(entities.map(Path::to_path_buf))
}

/// The URL a URL file holds: its first line that is neither blank nor a
/// `#` comment.
pub fn url_from_file(file: &Path) -> Result<String, String> {
    let text = read_text(file, 64 << 10, TextKind::Policy)
        .map_err(|e| format!("cannot read the URL file {}: {e}", file.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .ok_or_else(|| format!("the URL file {} holds no URL", file.display()))
}

#[cfg(feature = "postgres")]
fn warn_of_password(path: &Path) {
    let text = path.to_string_lossy();
    if let Ok((_, Some(warning))) = crate::db::Target::parse(&text, &|_| None, true) {
        eprintln!("{warning}");
    }
}

#[cfg(not(feature = "postgres"))]
fn warn_of_password(_: &Path) {}

/// Reads the entities `path` names, bounded by `limit` for a file: the
/// name to show (a database's without its password) and the text.
pub fn read(path: &Path, limit: usize) -> Result<(String, String), ReadError> {
    if is_database(path) {
        return read_database(path);
    }
    let text = read_text(path, limit, TextKind::Data)?;
    Ok((path.display().to_string(), text))
}

#[cfg(feature = "postgres")]
fn read_database(path: &Path) -> Result<(String, String), ReadError> {
    let text = path.to_string_lossy();
    crate::db::read_entity_text(&text)
        .map(|(name, store)| (name, store.text))
        .map_err(|message| ReadError {
            message,
            at: None,
            help: None,
        })
}

#[cfg(not(feature = "postgres"))]
fn read_database(_: &Path) -> Result<(String, String), ReadError> {
    Err(ReadError {
        message: "this mspl was built without the `postgres` feature: it reads entity files only"
            .into(),
        at: None,
        help: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_shown_without_its_password() {
        let shown = |t: &str| shown(Path::new(t));
        assert_eq!(
            shown("postgres://app:s3cret@db:5432/perm"),
            "postgres://app@db:5432/perm"
        );
        assert_eq!(
            shown("postgresql://app@db/perm?password=s3cret&sslmode=require"),
            "postgresql://app@db/perm?sslmode=require"
        );
        assert_eq!(shown("postgres://:pw@db"), "postgres://@db");
        assert_eq!(shown("entities.json"), "entities.json");
    }
}
