//! Reading the store out of the database, always inside one
//! `REPEATABLE READ` transaction, so that what is read is one snapshot of
//! it: the whole store (at start, after a load or a prune), or the entities
//! the transactions committed since a snapshot touched (a replica
//! following). Entities come out as Cedar's entity JSON, one per line, so
//! that every reader (the commands, `serve`, `--validate`) reads them as
//! it reads a file.

use super::error_text;
use crate::consistency::DbSnapshot;
use postgres::{Client, IsolationLevel, Transaction};

/// Rows fetched from a portal at once.
const ROWS_AT_ONCE: i32 = 20_000;

/// The whole store at one snapshot.
pub struct Store {
    /// The entities as an entity file: a JSON array, one entity per line.
    pub text: String,
    /// The entities read.
    pub count: usize,
    /// The snapshot they were read at.
    pub snapshot: DbSnapshot,
    /// The pruned watermark at that snapshot.
    pub pruned: u64,
}

/// What the transactions committed since a snapshot did.
pub enum Changes {
    /// These entities changed: each one as it now stands (`None`: deleted).
    Entities {
        /// The snapshot they were read at.
        snapshot: DbSnapshot,
        /// Each entity touched, in uid order: its JSON, or `None` if gone.
        touched: Vec<((String, String), Option<String>)>,
        /// The pruned watermark at that snapshot.
        pruned: u64,
    },
    /// The store must be read whole again, for this reason.
    Reload(String),
}

/// Begins the read-only snapshot transaction, checks the tables' version,
/// and reads the snapshot and the pruned watermark.
fn begin<'a>(
    client: &'a mut Client,
    shown: &str,
) -> Result<(Transaction<'a>, DbSnapshot, u64), String> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| error_text(&e))?;
    let row = tx
        .query_one(
            "SELECT pg_current_snapshot()::text, \
                    to_regclass('mspl_meta') IS NOT NULL",
            &[],
        )
        .map_err(|e| error_text(&e))?;
    let snapshot_text: String = row.get(0);
    if !row.get::<_, bool>(1) {
        return Err(super::schema::refusal(None, shown).unwrap_or_default());
    }
    let meta = tx
        .query(
            "SELECT key, value FROM mspl_meta WHERE key IN ('schema_version', 'pruned_through')",
            &[],
        )
        .map_err(|e| error_text(&e))?;
    let get = |key: &str| {
        meta.iter()
            .find(|r| r.get::<_, &str>(0) == key)
            .map(|r| r.get::<_, String>(1))
    };
    let version = get("schema_version").and_then(|v| v.parse::<u32>().ok());
    if let Some(why) = super::schema::refusal(version.or(Some(0)), shown) {
        return Err(why);
    }
    let pruned = get("pruned_through")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let snapshot = DbSnapshot::parse(&snapshot_text).ok_or_else(|| {
        format!("the database answered a snapshot mspl does not read: `{snapshot_text}`")
    })?;
    Ok((tx, snapshot, pruned))
}

/// Reads the whole store at one snapshot.
pub fn read_store(client: &mut Client, shown: &str) -> Result<Store, String> {
    let (mut tx, snapshot, pruned) = begin(client, shown)?;
    let fail = |e: postgres::Error| error_text(&e);
    let entities = tx
        .bind(
            "SELECT type, id, attrs::text, tags::text FROM mspl_entities ORDER BY type, id",
            &[],
        )
        .map_err(fail)?;
    let parents = tx
        .bind(
            "SELECT child_type, child_id, parent_type, parent_id FROM mspl_parents \
             ORDER BY child_type, child_id, parent_type, parent_id",
            &[],
        )
        .map_err(fail)?;
    let mut text = String::from("[\n");
    let mut count = 0usize;
    // Both in uid order (the columns' collation is "C": byte order, as
    // Rust compares strings): parents merged in as their child comes.
    let mut pending: std::collections::VecDeque<[String; 4]> = Default::default();
    let mut parents_done = false;
    loop {
        let rows = tx.query_portal(&entities, ROWS_AT_ONCE).map_err(fail)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let ty: &str = row.get(0);
            let id: &str = row.get(1);
            let mut mine: Vec<(String, String)> = Vec::new();
            loop {
                if pending.is_empty() && !parents_done {
                    let more = tx.query_portal(&parents, ROWS_AT_ONCE).map_err(fail)?;
                    parents_done = more.is_empty();
                    pending.extend(
                        more.into_iter()
                            .map(|r| [r.get(0), r.get(1), r.get(2), r.get(3)]),
                    );
                }
                let Some([ct, ci, _, _]) = pending.front() else {
                    break;
                };
                match (ct.as_str(), ci.as_str()).cmp(&(ty, id)) {
                    std::cmp::Ordering::Less => {
                        // A parent row of no entity (the foreign key
                        // forbids it): not part of the store.
                        pending.pop_front();
                    }
                    std::cmp::Ordering::Equal => {
                        if let Some([_, _, pt, pi]) = pending.pop_front() {
                            mine.push((pt, pi));
                        }
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            if count > 0 {
                text.push_str(",\n");
            }
            entity_json(&mut text, ty, id, row.get(2), row.get(3), &mine);
            count += 1;
        }
    }
    text.push_str(if count > 0 { "\n]\n" } else { "]\n" });
    tx.commit().map_err(fail)?;
    Ok(Store {
        text,
        count,
        snapshot,
        pruned,
    })
}

/// Reads what the transactions committed since `since` touched, at a new
/// snapshot; more than `most` entities touched is read as a reload, and so
/// is a prune since the watermark last seen (`pruned_seen`) that may have
/// removed changes not yet applied.
pub fn read_changes(
    client: &mut Client,
    shown: &str,
    since: &DbSnapshot,
    pruned_seen: u64,
    most: usize,
) -> Result<Changes, String> {
    let (mut tx, snapshot, pruned) = begin(client, shown)?;
    let fail = |e: postgres::Error| error_text(&e);
    // A prune removes changes committed before it; those committed before
    // the watermark was last seen were visible then, so only a new
    // watermark at or past `since`'s oldest unfinished transaction can
    // have removed one this replica still needs.
    if pruned != pruned_seen && pruned >= since.xmin {
        return Ok(Changes::Reload(format!(
            "changes this replica had not applied were pruned (through transaction {pruned})"
        )));
    }
    let limit = i64::try_from(most).unwrap_or(i64::MAX).saturating_add(1);
    let rows = tx
        .query(
            "SELECT DISTINCT entity_type, entity_id FROM mspl_changes \
             WHERE xid >= $1::text::xid8 \
               AND NOT pg_visible_in_snapshot(xid, $2::text::pg_snapshot) \
             LIMIT $3",
            &[&since.xmin.to_string(), &since.to_string(), &limit],
        )
        .map_err(fail)?;
    let mut types = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        let ty: Option<String> = row.get(0);
        let id: Option<String> = row.get(1);
        match (ty, id) {
            (Some(ty), Some(id)) => {
                types.push(ty);
                ids.push(id);
            }
            _ => {
                return Ok(Changes::Reload(
                    "the entities were replaced (a load or a TRUNCATE)".into(),
                ))
            }
        }
    }
    if types.len() > most {
        return Ok(Changes::Reload(format!(
            "more than {most} entities changed at once"
        )));
    }
    let mut touched: std::collections::BTreeMap<(String, String), Option<String>> = types
        .iter()
        .cloned()
        .zip(ids.iter().cloned())
        .map(|k| (k, None))
        .collect();
    if !touched.is_empty() {
        let found = tx
            .query(
                "SELECT e.type, e.id, e.attrs::text, e.tags::text FROM mspl_entities e \
                 JOIN unnest($1::text[], $2::text[]) AS u(type, id) \
                   ON e.type = u.type COLLATE \"C\" AND e.id = u.id COLLATE \"C\"",
                &[&types, &ids],
            )
            .map_err(fail)?;
        let parents = tx
            .query(
                "SELECT p.child_type, p.child_id, p.parent_type, p.parent_id FROM mspl_parents p \
                 JOIN unnest($1::text[], $2::text[]) AS u(type, id) \
                   ON p.child_type = u.type COLLATE \"C\" AND p.child_id = u.id COLLATE \"C\" \
                 ORDER BY 1, 2, 3, 4",
                &[&types, &ids],
            )
            .map_err(fail)?;
        let mut by_child: std::collections::BTreeMap<(String, String), Vec<(String, String)>> =
            Default::default();
        for p in &parents {
            by_child
                .entry((p.get(0), p.get(1)))
                .or_default()
                .push((p.get(2), p.get(3)));
        }
        for row in &found {
            let key: (String, String) = (row.get(0), row.get(1));
            let mut text = String::new();
            let mine = by_child.get(&key).map(Vec::as_slice).unwrap_or_default();
            entity_json(&mut text, &key.0, &key.1, row.get(2), row.get(3), mine);
            touched.insert(key, Some(text));
        }
    }
    tx.commit().map_err(fail)?;
    Ok(Changes::Entities {
        snapshot,
        touched: touched.into_iter().collect(),
        pruned,
    })
}

/// One entity in Cedar's entity JSON.
fn entity_json(
    out: &mut String,
    ty: &str,
    id: &str,
    attrs: &str,
    tags: &str,
    parents: &[(String, String)],
) {
    out.push_str("{\"uid\":");
    uid_json(out, ty, id);
    out.push_str(",\"attrs\":");
    out.push_str(attrs);
    out.push_str(",\"parents\":[");
    for (i, (pt, pi)) in parents.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        uid_json(out, pt, pi);
    }
    out.push(']');
    if tags != "{}" {
        out.push_str(",\"tags\":");
        out.push_str(tags);
    }
    out.push('}');
}

/// `{"type": T, "id": I}`.
pub fn uid_json(out: &mut String, ty: &str, id: &str) {
    out.push_str("{\"type\":");
    out.push_str(&serde_json::Value::from(ty).to_string());
    out.push_str(",\"id\":");
    out.push_str(&serde_json::Value::from(id).to_string());
    out.push('}');
}
