//! `mspl db` and every command that reads entities, against a real
//! server: the store read from the database decides, explains, audits and
//! validates as the same store read from its file; a load is one
//! transaction that writes nothing it could not read; versions are
//! checked and migrated; a password is never shown.

use crate::postgres_cluster::{Cluster, APP_PASSWORD};
use std::path::Path;
use std::process::{Command, Output};

pub const POLICIES: &str = "policies/model_studio";
const ENTITIES: &str = "policies/model_studio/examples/entities.json";
const REQUESTS: &str = "policies/model_studio/examples/requests.jsonl";

/// `mspl ARGS` with the app's password in the environment (and no other
/// `PG*` variable): exit code, standard output and error.
pub fn mspl(args: &[&str]) -> (i32, String, String) {
    mspl_env(args, &[("PGPASSWORD", APP_PASSWORD)])
}

fn mspl_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mspl"));
    command.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("PG") {
            command.env_remove(k);
        }
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A database with mspl's tables (made by `app`) and the example store:
/// its URL for `app` over TCP.
pub fn loaded(cluster: &Cluster, name: &str) -> String {
    let db = cluster.database(name);
    let url = cluster.app_url(Cluster::db_of(&db));
    let (code, out, err) = mspl(&["db", "init", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created mspl's tables (version 2)"), "{out}");
    load(&url, ENTITIES, POLICIES);
    url
}

/// `mspl db load` of `entities` (read as `policies` declare) into `url`.
pub fn load(url: &str, entities: &str, policies: &str) {
    let (code, out, err) = mspl(&["db", "load", url, "--entities", entities, "-p", policies]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("loaded "), "{out}");
}

#[test]
fn every_reader_of_entities_reads_the_database_as_the_file() {
    let Some(cluster) = Cluster::shared("the database readers") else {
        return;
    };
    let url = loaded(cluster, "readers");
    let name_free = |text: &str| text.replace(&url, "SOURCE").replace(ENTITIES, "SOURCE");
    let runs: Vec<Vec<&str>> = vec![
        vec!["authorize", "-p", POLICIES, "--requests", REQUESTS],
        vec![
            "authorize",
            "-p",
            POLICIES,
            "--requests",
            REQUESTS,
            "--format",
            "json",
        ],
        vec![
            "explain",
            "-p",
            POLICIES,
            "-l",
            "RamUser::\"user-01\"",
            "-a",
            "page.edit",
            "-r",
            "Page::\"project-a/applications\"",
        ],
        vec![
            "evaluate",
            "-p",
            POLICIES,
            "-l",
            "RamUser::\"user-01\"",
            "-a",
            "Action::\"page.view\"",
            "-r",
            "Page::\"project-a/knowledge_base\"",
            "principal in Workspace::\"project-a\"",
        ],
        vec!["audit", "matrix", "-p", POLICIES],
        vec!["audit", "findings", "-p", POLICIES],
        vec!["validate", "-p", POLICIES],
        vec!["check", POLICIES],
    ];
    for run in runs {
        let with = |source: &str| {
            let mut args: Vec<&str> = run.clone();
            let at = if run[0] == "evaluate" {
                args.len() - 1
            } else {
                args.len()
            };
            args.insert(at, "--entities");
            args.insert(at + 1, source);
            mspl(&args)
        };
        let (file_code, file_out, file_err) = with(ENTITIES);
        let (db_code, db_out, db_err) = with(&url);
        assert_eq!(db_code, file_code, "{run:?}: {db_out}{db_err}");
        assert_eq!(
            name_free(&db_out),
            name_free(&file_out),
            "{run:?}: {db_err}"
        );
        assert!(!db_out.is_empty(), "{run:?} printed nothing");
        assert_eq!(file_err.is_empty(), db_err.is_empty(), "{run:?}: {db_err}");
    }
    // The dump is a store that decides the same.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.json");
    let (code, out, err) = mspl(&["db", "dump", &url, "--out", dump.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dumped 54 entities"), "{out}");
    let decide = |source: &str| {
        mspl(&[
            "authorize",
            "-p",
            POLICIES,
            "--requests",
            REQUESTS,
            "--entities",
            source,
        ])
        .1
    };
    assert_eq!(decide(dump.to_str().unwrap()), decide(ENTITIES));
}

#[test]
fn a_load_writes_all_or_nothing() {
    let Some(cluster) = Cluster::shared("db load") else {
        return;
    };
    let url = loaded(cluster, "loads");
    let mut sql = cluster.client(&cluster.url(Cluster::db_of(&url)));
    let count = |sql: &mut postgres::Client| -> i64 {
        sql.query_one("SELECT count(*) FROM mspl_entities", &[])
            .unwrap()
            .get(0)
    };
    // Into tables that hold entities: refused without --replace.
    let (code, _, err) = mspl(&["db", "load", &url, "--entities", ENTITIES]);
    assert_eq!(code, 1);
    assert!(
        err.contains("already holds 54 entities: give --replace"),
        "{err}"
    );
    // U+0000 cannot be held: refused at its line, nothing written.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("nul.json");
    std::fs::write(
        &bad,
        "[\n{\"uid\": {\"type\": \"Workspace\", \"id\": \"w\"}, \"attrs\": {}, \"parents\": []},\n{\"uid\": {\"type\": \"Workspace\", \"id\": \"x\"}, \"attrs\": {\"name\": \"a\\u0000b\"}, \"parents\": []}\n]\n",
    )
    .unwrap();
    let (code, _, err) = mspl(&[
        "db",
        "load",
        &url,
        "--replace",
        "--entities",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("nul.json:3:1") && err.contains("U+0000"),
        "{err}"
    );
    assert_eq!(count(&mut sql), 54);
    // A file that does not read: nothing written either.
    std::fs::write(&bad, "[{\"uid\": {\"type\": \"Workspace\"}}]").unwrap();
    let (code, _, err) = mspl(&[
        "db",
        "load",
        &url,
        "--replace",
        "--entities",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("nul.json:1:"), "{err}");
    assert_eq!(count(&mut sql), 54);
    // --replace: the new store, and one change telling replicas to reload.
    std::fs::write(
        &bad,
        "[{\"uid\": {\"type\": \"Workspace\", \"id\": \"only\"}, \"attrs\": {}, \"parents\": [{\"type\": \"Account\", \"id\": \"acct-1\"}]}]",
    )
    .unwrap();
    let (code, out, err) = mspl(&[
        "db",
        "load",
        &url,
        "--replace",
        "--entities",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("loaded 1 entities and 1 parent links") && out.contains("replacing 54"),
        "{out}"
    );
    assert_eq!(count(&mut sql), 1);
    let whole: i64 = sql
        .query_one(
            "SELECT count(*) FROM mspl_changes WHERE entity_type IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        whole, 2,
        "a load leaves one change of everything (two loads)"
    );
    // Prune: everything older than 0s goes; the watermark moves.
    let (code, out, err) = mspl(&["db", "prune", &url, "--older-than", "0s"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("removed 2 change(s)"), "{out}");
    let (code, _, err) = mspl(&["db", "prune", &url, "--older-than", "soon"]);
    assert_eq!(code, 1);
    assert!(err.contains("`soon` is no age"), "{err}");
}

#[test]
fn versions_are_checked_and_migrated_never_by_a_reader() {
    let Some(cluster) = Cluster::shared("db migrate") else {
        return;
    };
    let db = cluster.database("versions");
    let url = cluster.app_url(Cluster::db_of(&db));
    let read = || {
        mspl(&[
            "authorize",
            "-p",
            POLICIES,
            "--requests",
            REQUESTS,
            "--entities",
            &url,
        ])
    };
    // No tables.
    let (code, _, err) = read();
    assert_eq!(code, 1);
    assert!(
        err.contains("has no mspl tables: create them with `mspl db init URL`"),
        "{err}"
    );
    // Tables as the first version made them (as app, their owner).
    let mut app = postgres::Config::new()
        .host("127.0.0.1")
        .port(cluster.port)
        .user("app")
        .password(APP_PASSWORD)
        .dbname(Cluster::db_of(&db))
        .connect(postgres::NoTls)
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let first = std::fs::read_to_string(root.join("src/db/sql/1-tables.sql")).unwrap();
    app.batch_execute(&first).unwrap();
    app.batch_execute("INSERT INTO mspl_meta VALUES ('schema_version', '1')")
        .unwrap();
    let (code, _, err) = read();
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "at version 1, older than this mspl's 2: upgrade them with `mspl db migrate URL`"
        ),
        "{err}"
    );
    let (code, _, err) = mspl(&["db", "init", &url]);
    assert_eq!(code, 1, "init does not upgrade: {err}");
    let (code, out, _) = mspl(&["db", "migrate", &url, "--print"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("mspl schema version 2") && !out.contains("schema version 1"),
        "{out}"
    );
    let (code, out, err) = mspl(&["db", "migrate", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("upgraded mspl's tables from version 1 to 2"),
        "{out}"
    );
    let (code, out, _) = mspl(&["db", "migrate", &url]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to do"), "{out}");
    let (code, _, err) = read();
    assert_eq!(code, 0, "{err}");
    // A later mspl's tables are refused, by readers and by migrate.
    app.batch_execute("UPDATE mspl_meta SET value = '99' WHERE key = 'schema_version'")
        .unwrap();
    let (code, _, err) = read();
    assert_eq!(code, 1);
    assert!(err.contains("at version 99, made by a later mspl"), "{err}");
    let (code, _, err) = mspl(&["db", "migrate", &url]);
    assert_eq!(code, 1);
    assert!(err.contains("made by a later mspl"), "{err}");
    // `init --print` needs no database.
    let (code, out, _) = mspl(&["db", "init", "--print"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("BEGIN;")
            && out.contains("CREATE TABLE mspl_entities")
            && out.trim_end().ends_with("COMMIT;"),
        "{out}"
    );
}

#[test]
fn a_password_is_never_shown() {
    let Some(cluster) = Cluster::shared("database passwords") else {
        return;
    };
    let url = loaded(cluster, "passwords");
    let with_password = url.replace(
        "postgres://app@",
        &format!("postgres://app:{APP_PASSWORD}@"),
    );
    let authorize = |source: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["authorize", "-p", POLICIES, "--requests", REQUESTS];
        args.extend_from_slice(source);
        mspl_env(&args, env)
    };
    let (want_code, want, _) = authorize(&["--entities", ENTITIES], &[]);
    // In the URL: it works, and the warning does not repeat it.
    let (code, out, err) = authorize(&["--entities", &with_password], &[]);
    assert_eq!((code, out.as_str()), (want_code, want.as_str()), "{err}");
    assert!(
        err.contains("holds a password") && !err.contains(APP_PASSWORD),
        "{err}"
    );
    // In a URL file: no warning.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url");
    std::fs::write(
        &file,
        format!("# the permissions database\n{with_password}\n"),
    )
    .unwrap();
    let (code, out, err) = authorize(&["--entities-url-file", file.to_str().unwrap()], &[]);
    assert_eq!((code, out.as_str()), (want_code, want.as_str()), "{err}");
    assert!(err.is_empty(), "{err}");
    // From ~/.pgpass (kept private), and PG* variables alone.
    let pgpass = dir.path().join(".pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{}:*:app:{APP_PASSWORD}\n", cluster.port),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let home = dir.path().to_str().unwrap();
    let port = cluster.port.to_string();
    let db = Cluster::db_of(&url);
    let env = [
        ("HOME", home),
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "app"),
        ("PGDATABASE", db),
    ];
    let (code, out, err) = authorize(&["--entities", "postgres://"], &env);
    assert_eq!((code, out.as_str()), (want_code, want.as_str()), "{err}");
    // Readable by others: not used (libpq's rule), said.
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = authorize(&["--entities", "postgres://"], &env);
    assert_eq!(code, 1);
    assert!(
        err.contains("can be read by others") && err.contains("no password was given"),
        "{err}"
    );
    // A wrong password: refused, neither password shown.
    let wrong = url.replace("postgres://app@", "postgres://app:not-the-secret@");
    let (code, out, err) = authorize(&["--entities", &wrong], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("password authentication failed"), "{err}");
    for text in [&out, &err] {
        assert!(
            !text.contains("not-the-secret") && !text.contains(APP_PASSWORD),
            "{text}"
        );
    }
    // The server: not in its log, status or metrics.
    let served = crate::served::Served::start_with_env(
        &["--policies", POLICIES, "--entities", &with_password],
        &[],
    );
    let status = served.get("/v1/status").body;
    let metrics = served.get("/metrics").body;
    assert!(status.contains("\"entity_database\""), "{status}");
    let (_, log) = served.stop();
    for text in [&status, &metrics, &log] {
        assert!(!text.contains(APP_PASSWORD), "{text}");
    }
    assert!(log.contains("holds a password"), "{log}");
}

#[test]
fn sslmode_is_honoured() {
    if Command::new("openssl").arg("version").output().is_err() {
        crate::skip::skip("sslmode", "openssl is not installed to make a certificate");
        return;
    }
    // A root, a server certificate it signs for `localhost`, and another
    // root that signed nothing here.
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let openssl = |args: &[&str]| {
        let made = Command::new("openssl").args(args).output().unwrap();
        assert!(
            made.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    };
    for root in ["root", "other"] {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={root} CA"),
            "-keyout",
            &at(&format!("{root}.key")),
            "-out",
            &at(&format!("{root}.crt")),
        ]);
    }
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &at("server.key"),
        "-out",
        &at("server.csr"),
    ]);
    std::fs::write(
        dir.path().join("ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &at("server.csr"),
        "-CA",
        &at("root.crt"),
        "-CAkey",
        &at("root.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &at("ext"),
        "-out",
        &at("server.crt"),
    ]);
    let (key, cert, other) = (
        dir.path().join("server.key"),
        dir.path().join("server.crt"),
        dir.path().join("other.crt"),
    );
    let root_file = dir.path().join("root.crt");
    // Only TLS connections for `app` over TCP.
    let Some(cluster) = Cluster::private_with("sslmode", &[&key, &cert], |conf| {
        conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
    }, "local all all trust\nhostssl all app 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n") else {
        return;
    };
    let db = cluster.database("tls");
    let base = format!(
        "postgres://app@localhost:{}/{}",
        cluster.port,
        Cluster::db_of(&db)
    );
    let init = |query: &str| mspl(&["db", "init", &format!("{base}?{query}")]);
    let (code, _, err) = init("sslmode=disable");
    assert_eq!(code, 1, "no TLS is refused by this server");
    assert!(
        err.contains("no encryption") || err.contains("pg_hba.conf"),
        "{err}"
    );
    let (code, out, err) = init("sslmode=require");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created mspl's tables"), "{out}");
    let (code, _, err) = init("sslmode=verify-full");
    assert_eq!(code, 1);
    assert!(err.contains("needs a root certificate"), "{err}");
    let root = root_file.to_str().unwrap();
    let (code, _, err) = init(&format!("sslmode=verify-full&sslrootcert={root}"));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = init(&format!(
        "sslmode=verify-ca&sslrootcert={}",
        other.display()
    ));
    assert_eq!(code, 1, "a certificate no trusted root signed");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let by_address = format!(
        "postgres://app@127.0.0.1:{}/{}",
        cluster.port,
        Cluster::db_of(&db)
    );
    let (code, _, err) = mspl(&[
        "db",
        "init",
        &format!("{by_address}?sslmode=verify-full&sslrootcert={root}"),
    ]);
    assert_eq!(code, 1, "issued for localhost, not 127.0.0.1");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let (code, _, err) = mspl(&[
        "db",
        "init",
        &format!("{by_address}?sslmode=verify-ca&sslrootcert={root}"),
    ]);
    assert_eq!(code, 0, "verify-ca does not check the name: {err}");
}
