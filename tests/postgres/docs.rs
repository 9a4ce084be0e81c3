//! `docs/postgres.md` runs as written: every `mspl` command of its `sh`
//! blocks (the server started and stopped) and every SQL block (as the
//! application role would run it), in page order, against a real server;
//! the page's database URL stands for a fresh database. The README's
//! blocks that name the database run the same way (`tests/tools/docs.rs`
//! leaves them here).

use crate::doc_examples::{blocks, commands, shell_words};
use crate::postgres_cluster::{Cluster, APP_PASSWORD};
use crate::served::Served;
use std::process::Command;

/// The database the page names.
const PAGE_URL: &str = "postgres://app@localhost/permissions";

#[test]
fn every_command_and_statement_of_the_page_runs() {
    let Some(cluster) = Cluster::shared("docs/postgres.md") else {
        return;
    };
    let (commands_run, statements_run) = run_page(cluster, "docs/postgres.md", false);
    assert!(
        commands_run >= 6 && statements_run >= 4,
        "{commands_run} commands, {statements_run} SQL blocks"
    );
}

/// docs/filtering.md's worked example: its tables and rows, then the
/// query `mspl plan --format sql` prints, run with its parameters, returns
/// the rows the page names.
#[test]
fn the_filtering_example_returns_the_rows_the_page_names() {
    let Some(cluster) = Cluster::shared("docs/filtering.md") else {
        return;
    };
    let (commands_run, statements_run) = run_page(cluster, "docs/filtering.md", false);
    assert!(commands_run >= 4 && statements_run >= 1);
    let db = cluster.database("filtering_doc");
    let mut client = cluster.client(&db);
    let text = std::fs::read_to_string(format!("{}/docs/filtering.md", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    for (info, body, _) in blocks(&text) {
        if info == "sql" {
            client.batch_execute(&body).unwrap();
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "plan",
            "-p",
            "policies/filtering",
            "--entities",
            "policies/filtering/entities.json",
        ])
        .args([
            "-l",
            "User::\"ana\"",
            "-a",
            "Action::\"read\"",
            "--resource-type",
            "Document",
        ])
        .args([
            "--format",
            "sql",
            "--mapping",
            "policies/filtering/mapping.json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let params: Vec<String> = planned["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect();
    client.batch_execute("SET jit = off").unwrap();
    let mut rows: Vec<String> = client
        .query(planned["query"].as_str().unwrap(), &refs)
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    rows.sort();
    assert_eq!(rows, ["notes", "plan"]);
}

#[test]
fn the_readmes_database_commands_run() {
    let Some(cluster) = Cluster::shared("the README's database commands") else {
        return;
    };
    let (commands_run, _) = run_page(cluster, "README.md", true);
    assert!(commands_run >= 3, "{commands_run} commands");
}

/// Runs the page's blocks (with `only_database`, the `sh` blocks that name
/// the database) against a fresh database: the commands and SQL blocks run.
fn run_page(cluster: &Cluster, page: &str, only_database: bool) -> (usize, usize) {
    let db = cluster.database("docs");
    let url = cluster.app_url(Cluster::db_of(&db));
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/{page}")).unwrap();
    assert!(
        page != "docs/postgres.md" || text.contains(PAGE_URL),
        "{page} names {PAGE_URL}"
    );
    let scratch = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(format!("{root}/policies"), scratch.path().join("policies"))
        .unwrap();
    let (mut commands_run, mut statements_run) = (0, 0);
    for (info, body, line) in blocks(&text) {
        if only_database && !(info == "sh" && body.contains(PAGE_URL)) {
            continue;
        }
        match info.as_str() {
            "sh" => {
                for command in commands(&body) {
                    let words: Vec<String> = shell_words(&command)
                        .into_iter()
                        .map(|w| w.replace(PAGE_URL, &url))
                        .collect();
                    assert_eq!(words[0], "mspl", "{page}:{line}: {command}");
                    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
                    if args[0] == "serve" {
                        let served =
                            Served::start_with_env(&args[1..], &[("PGPASSWORD", APP_PASSWORD)]);
                        let status = served.get("/v1/status").json();
                        assert_eq!(status["ready"], true, "{page}:{line}: {status}");
                        let (code, log) = served.stop();
                        assert_eq!(code, 0, "{page}:{line}: {log}");
                    } else {
                        let out = Command::new(env!("CARGO_BIN_EXE_mspl"))
                            .args(&args)
                            .current_dir(scratch.path())
                            .env("PGPASSWORD", APP_PASSWORD)
                            .output()
                            .unwrap();
                        assert!(
                            matches!(out.status.code(), Some(0 | 2)),
                            "{page}:{line}: {command}\n{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                    commands_run += 1;
                }
            }
            "sql" => {
                let mut app = postgres::Config::new()
                    .host("127.0.0.1")
                    .port(cluster.port)
                    .user("app")
                    .password(APP_PASSWORD)
                    .dbname(Cluster::db_of(&db))
                    .connect(postgres::NoTls)
                    .unwrap();
                app.batch_execute(&body)
                    .unwrap_or_else(|e| panic!("{page}:{line}: {e}\n{body}"));
                statements_run += 1;
            }
            _ => {}
        }
    }
    (commands_run, statements_run)
}
