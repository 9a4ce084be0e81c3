//! PostgreSQL as the entity source (the `postgres` feature).
//!
//! - [`target`]: where the database is (a URL, the `PG*` variables, the
//!   password file via [`pgpass`]), shown without its password;
//! - [`tls`]: `sslmode` over rustls;
//! - [`schema`]: mspl's tables, their versions, `init` and `migrate`;
//! - [`read`]: the store at one snapshot, and what changed since one;
//! - [`load`]: `db load` (`COPY`, one transaction) and `db prune`.
//!
//! The tables: `mspl_entities` (type, id, attributes and tags as `jsonb`),
//! `mspl_parents` (child, parent: adding a member is one `INSERT`), and
//! `mspl_changes`, filled by triggers whoever writes, each row stamped with
//! its transaction (`xid8`). A replica reads the changes committed between
//! the snapshot it has applied and a new one (`pg_visible_in_snapshot`),
//! so that a transaction that commits late with an early id is never
//! skipped (`docs/postgres.md`).

pub mod load;
pub mod pgpass;
pub mod read;
pub mod schema;
pub mod target;
pub mod tls;

pub use target::Target;

/// A driver error as one line: the server's message, its detail and hint,
/// or the connection's trouble (never a password: none is in these).
pub fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut out = format!("{} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            out.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            out.push_str(&format!("; hint: {hint}"));
        }
        return out;
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(&format!(": {text}"));
        }
        source = s.source();
    }
    if out.contains("password missing") {
        return "the server asks for a password and no password was given: set PGPASSWORD, or add it to ~/.pgpass (or the URL in --entities-url-file)".into();
    }
    out
}

/// Reads the whole store of the database `text` names (the process's
/// environment completing it) as an entity file: its name for messages
/// (no password) and the store. A password written in `text` was warned
/// of where it was given (`entity_source::resolve`, above this module).
pub fn read_entity_text(text: &str) -> Result<(String, read::Store), String> {
    let (target, _) = Target::parse(text, &|k| std::env::var(k).ok(), false)?;
    // The caller names the database: the messages do not repeat it.
    let mut client = tls::connect(&target).map_err(|e| format!("cannot connect: {e}"))?;
    let store = read::read_store(&mut client, "the database")?;
    Ok((target.shown().to_string(), store))
}
