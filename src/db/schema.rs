//! mspl's tables and their versions. Each version is an SQL script in
//! `sql/`, applied in order in one transaction under an advisory lock;
//! `mspl_meta.schema_version` says how far a database is. `db init`
//! applies them all to a database without mspl's tables, `db migrate` the
//! ones an older database lacks; readers (`serve`, the commands) never
//! migrate, and refuse a version other than theirs.

use super::error_text;

/// The versions, in order: number, what it adds, its SQL.
const VERSIONS: [(u32, &str, &str); 2] = [
    (
        1,
        "the tables and their triggers",
        include_str!("sql/1-tables.sql"),
    ),
    (2, "pruning old changes", include_str!("sql/2-prune.sql")),
];

/// The version this mspl reads and writes.
pub const CURRENT: u32 = 2;

/// The advisory lock migrations hold (`mspl` in ASCII).
const MIGRATION_LOCK: i64 = 0x6d73_706c;

/// The SQL that brings a database at version `from` (0: none of mspl's
/// tables) to [`CURRENT`], in one transaction.
pub fn script(from: u32) -> String {
    let mut out = String::from("BEGIN;\n");
    out.push_str(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATION_LOCK});\n"
    ));
    for (version, what, sql) in VERSIONS.iter().filter(|(v, _, _)| *v > from) {
        out.push_str(&format!("\n-- mspl schema version {version}: {what}\n"));
        out.push_str(sql.trim_end());
        out.push('\n');
    }
    let set = if from == 0 {
        format!("INSERT INTO mspl_meta (key, value) VALUES ('schema_version', '{CURRENT}');\n")
    } else {
        format!("UPDATE mspl_meta SET value = '{CURRENT}' WHERE key = 'schema_version';\n")
    };
    out.push('\n');
    out.push_str(&set);
    out.push_str("COMMIT;\n");
    out
}

/// The version of the database's tables; `None` when it has none of them.
pub fn version(client: &mut postgres::Client) -> Result<Option<u32>, String> {
    let row = client
        .query_one("SELECT to_regclass('mspl_meta') IS NOT NULL", &[])
        .map_err(|e| error_text(&e))?;
    if !row.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = client
        .query_opt(
            "SELECT value FROM mspl_meta WHERE key = 'schema_version'",
            &[],
        )
        .map_err(|e| error_text(&e))?;
    let Some(row) = row else {
        return Err("mspl_meta has no schema_version: these are not mspl's tables".into());
    };
    let text: String = row.get(0);
    text.parse()
        .map(Some)
        .map_err(|_| format!("mspl_meta's schema_version `{text}` is not a number"))
}

/// Refuses a database whose tables this mspl does not read: none, older
/// (to migrate) or newer (made by a later mspl).
pub fn check(client: &mut postgres::Client, shown: &str) -> Result<(), String> {
    match refusal(version(client)?, shown) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// Why tables at `version` (`None`: no tables) are not read, if they are not.
pub fn refusal(version: Option<u32>, shown: &str) -> Option<String> {
    match version {
        Some(CURRENT) => None,
        None => Some(format!(
            "{shown} has no mspl tables: create them with `mspl db init URL`"
        )),
        Some(v) if v < CURRENT => Some(format!(
            "{shown} holds mspl's tables at version {v}, older than this mspl's {CURRENT}: upgrade them with `mspl db migrate URL` (mspl never migrates on its own)"
        )),
        Some(v) => Some(format!(
            "{shown} holds mspl's tables at version {v}, made by a later mspl; this one reads version {CURRENT}"
        )),
    }
}

/// Applies what the database lacks: the versions before and after.
pub fn upgrade(client: &mut postgres::Client) -> Result<(u32, u32), String> {
    let mut tx = client.transaction().map_err(|e| error_text(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| error_text(&e))?;
    // Read again under the lock: another migration may have run.
    let from = {
        let tx: &mut postgres::Transaction<'_> = &mut tx;
        let row = tx
            .query_one("SELECT to_regclass('mspl_meta') IS NOT NULL", &[])
            .map_err(|e| error_text(&e))?;
        if row.get::<_, bool>(0) {
            let row = tx
                .query_one(
                    "SELECT value FROM mspl_meta WHERE key = 'schema_version'",
                    &[],
                )
                .map_err(|e| error_text(&e))?;
            let text: String = row.get(0);
            text.parse::<u32>()
                .map_err(|_| format!("mspl_meta's schema_version `{text}` is not a number"))?
        } else {
            0
        }
    };
    if from > CURRENT {
        return Err(format!(
            "the tables are at version {from}, made by a later mspl; this one knows up to {CURRENT}"
        ));
    }
    if from == CURRENT {
        return Ok((from, from));
    }
    let body: String = script(from)
        .lines()
        .filter(|l| !matches!(*l, "BEGIN;" | "COMMIT;") && !l.contains("pg_advisory_xact_lock"))
        .collect::<Vec<_>>()
        .join("\n");
    tx.batch_execute(&body).map_err(|e| error_text(&e))?;
    tx.commit().map_err(|e| error_text(&e))?;
    Ok((from, CURRENT))
}
