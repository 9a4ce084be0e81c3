//! `mspl db load`: an entity file into the tables, in one transaction,
//! with `COPY`. The file is read whole first, as every command reads it
//! (errors located in it); nothing is written unless all of it reads. The
//! load replaces the tables' contents (`--replace`) or fills empty ones,
//! and leaves one change saying "everything changed", so that following
//! replicas read the store again rather than a million changes.

use super::error_text;
use crate::entities::json::{line_column, DataError};
use serde_json::value::RawValue;
use serde_json::Value as Json;
use std::io::Write;

/// One entity as rows: its uid, its attributes and tags as JSON text, and
/// its parents.
pub struct EntityRows {
    /// The entity type.
    pub ty: String,
    /// The entity id.
    pub id: String,
    /// Its attributes, a JSON object.
    pub attrs: String,
    /// Its tags, a JSON object.
    pub tags: String,
    /// Its parents: type and id.
    pub parents: Vec<(String, String)>,
}

/// The rows of an entity file that already read as a store (so its
/// structure holds); an entity holding U+0000, which PostgreSQL's `text`
/// and `jsonb` cannot hold, is refused at its line.
pub fn rows(text: &str, file: &str) -> Result<Vec<EntityRows>, DataError> {
    let pieces: Vec<&RawValue> = serde_json::from_str(text)
        .map_err(|e| located(text, file, 0, format!("invalid JSON: {e}")))?;
    // Each entity on its own, on every core; the first problem in file
    // order is the one told.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let share = pieces.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<EntityRows>, DataError>> = std::thread::scope(|s| {
        let running: Vec<_> = pieces
            .chunks(share)
            .map(|part| s.spawn(move || part.iter().map(|p| row(text, file, p)).collect()))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(located(
                        text,
                        file,
                        0,
                        "the entity file could not be read".into(),
                    ))
                })
            })
            .collect()
    });
    let mut out = Vec::with_capacity(pieces.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// An error at byte `at` of `file`.
fn located(text: &str, file: &str, at: usize, message: String) -> DataError {
    let (line, column) = line_column(text, at);
    DataError {
        file: file.to_string(),
        line,
        column,
        message,
        help: None,
    }
}

/// One entity of the file (`piece` of `text`) as rows.
fn row(text: &str, file: &str, piece: &RawValue) -> Result<EntityRows, DataError> {
    let at = piece.get().as_ptr() as usize - text.as_ptr() as usize;
    let fail = |message: String| located(text, file, at, message);
    let json: Json =
        serde_json::from_str(piece.get()).map_err(|e| fail(format!("invalid JSON: {e}")))?;
    if holds_nul(&json) {
        return Err(DataError {
            help: Some(
                "PostgreSQL's text and jsonb cannot hold U+0000: take it out of the entity".into(),
            ),
            ..fail("this entity holds U+0000 (\\u0000)".into())
        });
    }
    let uid = json.get("uid").map(crate::entities::json::entity_ref);
    let Some(Ok(uid)) = uid else {
        return Err(fail("entity has no readable `uid`".into()));
    };
    let object = |key: &str| match json.get(key) {
        None | Some(Json::Null) => "{}".to_string(),
        Some(v) => v.to_string(),
    };
    let mut parents = match json.get("parents") {
        Some(Json::Array(items)) => items
            .iter()
            .map(|p| {
                crate::entities::json::entity_ref(p).map(|u| (u.ty.to_string(), u.id.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?,
        _ => Vec::new(),
    };
    // Parents are a set: one row each.
    parents.sort();
    parents.dedup();
    Ok(EntityRows {
        ty: uid.ty.to_string(),
        id: uid.id.to_string(),
        attrs: object("attrs"),
        tags: object("tags"),
        parents,
    })
}

/// Whether any string or key in `json` holds U+0000.
fn holds_nul(json: &Json) -> bool {
    match json {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(holds_nul),
        Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// What a load did.
pub struct Loaded {
    /// Entities written.
    pub entities: usize,
    /// Parent rows written.
    pub parents: usize,
    /// Entities the tables held before (replaced).
    pub replaced: i64,
}

/// Writes `rows` into the tables in one transaction: into empty tables,
/// or in place of what they hold with `replace`.
pub fn load(
    client: &mut postgres::Client,
    shown: &str,
    rows: &[EntityRows],
    replace: bool,
) -> Result<Loaded, String> {
    super::schema::check(client, shown)?;
    let fail = |e: postgres::Error| error_text(&e);
    let mut tx = client.transaction().map_err(fail)?;
    let held: i64 = tx
        .query_one("SELECT count(*) FROM mspl_entities", &[])
        .map_err(fail)?
        .get(0);
    if held > 0 && !replace {
        return Err(format!(
            "{shown} already holds {held} entities: give --replace to replace them (nothing was written)"
        ));
    }
    // The triggers would record a change per row: one change saying
    // "everything changed" is written instead (it makes every replica
    // read the store again). Disabling them needs the tables' owner.
    // The foreign key is checked once, after the copy, rather than per
    // row (the same check, a join instead of a million lookups).
    tx.batch_execute(
        "ALTER TABLE mspl_entities DISABLE TRIGGER USER;
         ALTER TABLE mspl_parents DISABLE TRIGGER USER;
         ALTER TABLE mspl_parents DROP CONSTRAINT mspl_parents_child;
         TRUNCATE mspl_parents, mspl_entities;",
    )
    .map_err(fail)?;
    let mut writer = tx
        .copy_in("COPY mspl_entities (type, id, attrs, tags) FROM STDIN")
        .map_err(fail)?;
    let mut line = String::new();
    let io = |e: std::io::Error| format!("the COPY stopped: {e}");
    for row in rows {
        line.clear();
        for (i, field) in [&row.ty, &row.id, &row.attrs, &row.tags].iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            copy_field(&mut line, field);
        }
        line.push('\n');
        writer.write_all(line.as_bytes()).map_err(io)?;
    }
    writer.finish().map_err(fail)?;
    let mut writer = tx
        .copy_in("COPY mspl_parents (child_type, child_id, parent_type, parent_id) FROM STDIN")
        .map_err(fail)?;
    let mut parents = 0usize;
    for row in rows {
        for (pt, pi) in &row.parents {
            line.clear();
            for (i, field) in [&row.ty, &row.id, pt, pi].iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                copy_field(&mut line, field);
            }
            line.push('\n');
            writer.write_all(line.as_bytes()).map_err(io)?;
            parents += 1;
        }
    }
    writer.finish().map_err(fail)?;
    tx.batch_execute(
        "ALTER TABLE mspl_parents ADD CONSTRAINT mspl_parents_child
             FOREIGN KEY (child_type, child_id) REFERENCES mspl_entities (type, id)
             ON DELETE CASCADE ON UPDATE CASCADE;
         ALTER TABLE mspl_entities ENABLE TRIGGER USER;
         ALTER TABLE mspl_parents ENABLE TRIGGER USER;
         INSERT INTO mspl_changes (entity_type, entity_id) VALUES (NULL, NULL);
         SELECT pg_notify('mspl_changes', '');",
    )
    .map_err(fail)?;
    tx.commit().map_err(fail)?;
    Ok(Loaded {
        entities: rows.len(),
        parents,
        replaced: held,
    })
}

/// A field of `COPY`'s text format: backslash, tab, newline and carriage
/// return escaped.
fn copy_field(out: &mut String, field: &str) {
    for c in field.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// `mspl db prune`: the changes older than `seconds` removed, the highest
/// transaction removed kept as the pruned watermark; how many went.
pub fn prune(client: &mut postgres::Client, shown: &str, seconds: u64) -> Result<u64, String> {
    super::schema::check(client, shown)?;
    let fail = |e: postgres::Error| error_text(&e);
    let mut tx = client.transaction().map_err(fail)?;
    let seconds = f64::from(u32::try_from(seconds).unwrap_or(u32::MAX));
    let row = tx
        .query_one(
            "WITH gone AS (DELETE FROM mspl_changes \
                 WHERE at < now() - make_interval(secs => $1) RETURNING xid) \
             SELECT count(*), max(xid)::text FROM gone",
            &[&seconds],
        )
        .map_err(fail)?;
    let count: i64 = row.get(0);
    let highest: Option<String> = row.get(1);
    if let Some(highest) = highest {
        tx.execute(
            "UPDATE mspl_meta SET value = greatest(value::xid8, $1::text::xid8)::text \
             WHERE key = 'pruned_through'",
            &[&highest],
        )
        .map_err(fail)?;
    }
    tx.commit().map_err(fail)?;
    Ok(u64::try_from(count).unwrap_or(0))
}
