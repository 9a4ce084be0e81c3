//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile=`), read as
//! libpq reads it: `host:port:database:user:password` lines, `*` matching
//! anything, `\:` and `\\` escaped, the first matching line winning; a
//! socket matches `localhost`; a file others can read is ignored, with a
//! warning.

use crate::files::{read_text, ReadError, TextKind};

/// The password the file holds for `config`'s first host, port, database
/// and user; `None` when there is no file or no line matches.
pub fn lookup(file: &str, config: &postgres::Config) -> Result<Option<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::path::Path::new(file);
    let Ok(meta) = crate::files::meta::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.permissions().mode() & 0o077 != 0 {
        eprintln!(
            "warning: the password file {file} can be read by others (chmod 0600 it): not used"
        );
        return Ok(None);
    }
    let text = read_text(path, 1 << 20, TextKind::Policy)
        .map_err(|e: ReadError| format!("cannot read the password file {file}: {e}"))?;
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(_)) | None => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default();
    let db = config.get_dbname().unwrap_or(user);
    let wanted = [host.as_str(), port.as_str(), db, user];
    Ok(text.lines().find_map(|line| matching(line, &wanted)))
}

/// The password of `line` when its four fields match `wanted`.
fn matching(line: &str, wanted: &[&str; 4]) -> Option<String> {
    if line.trim_start().starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let fields = split(line);
    let [host, port, db, user, password] = fields.as_slice() else {
        return None;
    };
    let matches = [host, port, db, user]
        .iter()
        .zip(wanted)
        .all(|(field, want)| field.as_str() == "*" || field.as_str() == *want);
    matches.then(|| password.clone())
}

/// The fields of a line, escapes taken off; the last one takes the rest.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_with_wildcards_and_escapes() {
        let want = ["db", "5432", "perm", "app"];
        assert_eq!(matching("db:5432:perm:app:pw", &want), Some("pw".into()));
        assert_eq!(matching("*:*:*:app:a\\:b", &want), Some("a:b".into()));
        assert_eq!(matching("*:*:*:other:pw", &want), None);
        assert_eq!(matching("# db:5432:perm:app:pw", &want), None);
        assert_eq!(matching("db:5432:perm:app:p:w", &want), Some("p:w".into()));
    }
}
