//! Data filtering (docs/performance.md, "Data filtering"):
//!
//! - planning: `residual::reduce` for every RAM user and action of the
//!   Model Studio benchmark world and each resource type the action applies
//!   to (median and p99);
//! - SQL: `docs/filtering.md`'s documents, a million rows in PostgreSQL
//!   with the obvious indexes; the planned query for a few principals,
//!   against fetching every row's id and asking `authorize` for each (the
//!   documents already in mspl's store: the per-row way at its cheapest).
//!
//! ```sh
//! cargo bench -p mspl-peers --bench filtering -- --help
//! ```

#[path = "../../tests/support/http_client.rs"]
mod http_client;

#[path = "../../tests/support/postgres.rs"]
mod postgres_cluster;

#[path = "../../tests/support/skip.rs"]
mod skip;

#[path = "support/world.rs"]
mod world;

use clap::Parser;
use mspl::__internal::authorize::{authorize, Decision, ErrorMode, Options};
use mspl::__internal::entities::build::{add_named_actions, build_entities};
use mspl::__internal::entities::json::Request;
use mspl::__internal::policy_set::{IdScheme, Loader, PolicySet};
use mspl::__internal::residual::{reduce, Partial};
use mspl::__internal::syntax::ast::EntityUid;
use mspl::__internal::value::Value;
use mspl::__internal::Limits;
use mspl_cli::sql_filter::mapping::Mapping;
use mspl_cli::sql_filter::plan_sql;
use postgres_cluster::Cluster;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use world::{quantiles, write_world, Shape};

/// Data filtering: planning time and SQL against per-row authorization.
#[derive(Parser, Debug)]
#[command(name = "filtering")]
struct Args {
    /// RAM users per account of the planning world.
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// Document rows.
    #[arg(long, default_value_t = 1_000_000)]
    documents: usize,
    /// Passed by `cargo bench`.
    #[arg(long)]
    bench: bool,
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn load(dir: &Path) -> PolicySet {
    let mut loader = Loader::new(Limits::default());
    loader.add_path(dir);
    let (set, diagnostics) = loader.finish(IdScheme::Annotated);
    assert!(diagnostics.is_empty(), "{}", dir.display());
    set
}

fn main() {
    let mut args = Args::parse();
    if !args.bench {
        args.users = 10;
        args.documents = 2_000;
    }
    println!("| measure | value |\n|---|---:|");
    planning(&args);
    sql(&args);
}

/// `reduce` for every RAM user × action × resource type of the world.
fn planning(args: &Args) {
    let dir = tempfile::tempdir().expect("a folder");
    let base = dir.path().join("base.json");
    let world = write_world(
        &base,
        &Shape {
            seed: 11,
            accounts: 10,
            users: args.users,
            roles: 20,
            workspaces: 4,
            models: 20,
        },
    );
    let set = load(&root().join("policies/model_studio"));
    let text = std::fs::read_to_string(&base).expect("the world");
    let mut entities = build_entities(&set.schema, [("base.json", text.as_str())]).expect("loads");
    add_named_actions(&set, &mut entities);
    let users: Vec<EntityUid> = entities
        .iter()
        .map(|(u, _)| u.clone())
        .filter(|u| u.ty == "RamUser")
        .collect();
    let mut times = Vec::new();
    let mut left = 0usize;
    for user in &users {
        for (action, decl) in &set.schema.actions {
            for ty in decl.resources.iter().flatten() {
                let partial = Partial {
                    principal: user.clone(),
                    action: action.clone(),
                    resource_type: ty.clone(),
                    context: Value::Record(Default::default()),
                };
                let started = Instant::now();
                let residual = reduce(&set, &entities, &partial, &Limits::default());
                times.push(started.elapsed());
                left += residual
                    .policies
                    .iter()
                    .filter(|p| p.decided.is_none())
                    .count();
            }
        }
    }
    let plans = times.len();
    let (p50, p99) = quantiles(&mut times);
    println!(
        "| planning, Model Studio set, {} entities: {plans} plans (every RAM user × action × resource type), median / p99 | {:.1} µs / {:.1} µs |",
        world.entities,
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    eprintln!("{left} policies left over the resource in all");
}

/// The documents example at scale: the query against per-row decisions.
fn sql(args: &Args) {
    let Some(cluster) = Cluster::private_with(
        "the filtering bench",
        &[],
        |conf| {
            conf.push_str(
                "shared_buffers = 512MB\nmax_wal_size = 4GB\njit = off\nwork_mem = 64MB\n",
            )
        },
        "",
    ) else {
        return;
    };
    let examples = root().join("policies/filtering");
    let set = load(&examples);
    let mapping_text = std::fs::read_to_string(examples.join("mapping.json")).expect("the mapping");
    let mapping = Mapping::read("mapping.json", &mapping_text).expect("reads");
    // The same with closure tables the application keeps (docs/filtering.md).
    let closure_text = mapping_text
        .replace(
            r#""parents": {"table": "document_folders""#,
            r#""ancestors": {"table": "document_ancestors", "child": "document_id", "ancestor_type": "ancestor_type", "ancestor_id": "ancestor_id"},
      "parents": {"table": "document_folders""#,
        )
        .replace(
            r#""parents": {"table": "folder_parents""#,
            r#""ancestors": {"table": "folder_ancestors", "child": "folder_id", "ancestor_type": "ancestor_type", "ancestor_id": "ancestor_id"},
      "parents": {"table": "folder_parents""#,
        );
    let closure = Mapping::read("closure.json", &closure_text).expect("reads");
    assert!(closure.types.values().all(|t| t.ancestors.is_some()));
    // Users and folders as the example's, and a million documents: in
    // folders (a tree of 1,000), owned by one of 1,000 users or nobody,
    // public or not, some drafts, some secret.
    let n = args.documents;
    let mut entities = String::from("[");
    let mut users_json = Vec::new();
    users_json
        .push(r#"{"uid":{"type":"Team","id":"research"},"attrs":{},"parents":[]}"#.to_string());
    for u in 0..1000 {
        let team = if u % 3 == 0 {
            r#"{"type":"Team","id":"research"}"#
        } else {
            ""
        };
        users_json.push(format!(
            r#"{{"uid":{{"type":"User","id":"user-{u}"}},"attrs":{{"level":{}}},"parents":[{team}]}}"#,
            u % 5
        ));
    }
    let mut folders_json = Vec::new();
    let mut copy_folders = String::new();
    let mut copy_folder_parents = String::new();
    let mut copy_folder_ancestors = String::new();
    // A folder and its ancestors, nearest first.
    let up = |mut f: u64| {
        let mut chain = vec![f];
        while f > 0 {
            f = (f - 1) / 10;
            chain.push(f);
        }
        chain
    };
    for f in 0..1000 {
        for a in &up(f)[1..] {
            copy_folder_ancestors.push_str(&format!("folder-{f}\tFolder\tfolder-{a}\n"));
        }
        let parent = if f == 0 {
            String::new()
        } else {
            format!(r#"{{"type":"Folder","id":"folder-{}"}}"#, (f - 1) / 10)
        };
        folders_json.push(format!(
            r#"{{"uid":{{"type":"Folder","id":"folder-{f}"}},"attrs":{{}},"parents":[{parent}]}}"#
        ));
        copy_folders.push_str(&format!("folder-{f}\t\\N\n"));
        if f > 0 {
            copy_folder_parents.push_str(&format!("folder-{f}\tFolder\tfolder-{}\n", (f - 1) / 10));
        }
    }
    let (mut copy_docs, mut copy_tags, mut copy_doc_folders, mut copy_doc_ancestors) =
        (String::new(), String::new(), String::new(), String::new());
    let mut docs_json = Vec::with_capacity(n);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for d in 0..n {
        let owner = next(4);
        let owner = (owner > 0).then(|| format!("user-{}", next(1000)));
        let title = if next(10) == 0 {
            format!("draft {d}")
        } else {
            format!("doc {d}")
        };
        let public = next(20) == 0;
        let secret = next(50) == 0;
        let folder_number = next(1000);
        let folder = format!("folder-{folder_number}");
        let owner_json = owner
            .as_ref()
            .map(|o| format!(r#","owner":{{"__entity":{{"type":"User","id":"{o}"}}}}"#))
            .unwrap_or_default();
        let tags = if secret { r#"["secret"]"# } else { "[]" };
        docs_json.push(format!(
            r#"{{"uid":{{"type":"Document","id":"doc-{d}"}},"attrs":{{"title":"{title}","public":{public},"tags":{tags}{owner_json}}},"parents":[{{"type":"Folder","id":"{folder}"}}]}}"#
        ));
        copy_docs.push_str(&format!(
            "doc-{d}\t{}\t{title}\t{}\n",
            owner.as_deref().unwrap_or("\\N"),
            if public { "t" } else { "f" }
        ));
        if secret {
            copy_tags.push_str(&format!("doc-{d}\tsecret\n"));
        }
        copy_doc_folders.push_str(&format!("doc-{d}\tFolder\t{folder}\n"));
        for a in up(folder_number) {
            copy_doc_ancestors.push_str(&format!("doc-{d}\tFolder\tfolder-{a}\n"));
        }
    }
    entities.push_str(&users_json.join(","));
    entities.push(',');
    entities.push_str(&folders_json.join(","));
    entities.push(',');
    entities.push_str(&docs_json.join(","));
    entities.push(']');
    drop(docs_json);
    let started = Instant::now();
    let mut store =
        build_entities(&set.schema, [("documents.json", entities.as_str())]).expect("loads");
    add_named_actions(&set, &mut store);
    eprintln!(
        "the store: {} entities in {:.1} s",
        store.len(),
        started.elapsed().as_secs_f64()
    );
    drop(entities);

    let url = cluster.database("filtering");
    let mut client = cluster.client(&url);
    client
        .batch_execute(
            "CREATE TABLE folders (id text PRIMARY KEY, owner_id text);
             CREATE TABLE folder_parents (folder_id text, parent_type text, parent_id text);
             CREATE TABLE documents (id text PRIMARY KEY, owner_id text, title text NOT NULL, public boolean NOT NULL);
             CREATE TABLE document_tags (document_id text, tag text);
             CREATE TABLE document_folders (document_id text, parent_type text, folder_id text);
             CREATE TABLE folder_ancestors (folder_id text, ancestor_type text, ancestor_id text);
             CREATE TABLE document_ancestors (document_id text, ancestor_type text, ancestor_id text);",
        )
        .expect("tables");
    let started = Instant::now();
    for (table, rows) in [
        ("folders", &copy_folders),
        ("folder_parents", &copy_folder_parents),
        ("documents", &copy_docs),
        ("document_tags", &copy_tags),
        ("document_folders", &copy_doc_folders),
        ("folder_ancestors", &copy_folder_ancestors),
        ("document_ancestors", &copy_doc_ancestors),
    ] {
        let mut w = client
            .copy_in(&format!("COPY {table} FROM STDIN"))
            .expect("copy");
        w.write_all(rows.as_bytes()).expect("rows");
        w.finish().expect("copied");
    }
    client
        .batch_execute(
            "CREATE INDEX ON folder_parents (folder_id);
             CREATE INDEX ON folder_parents (parent_id);
             CREATE INDEX ON documents (owner_id);
             CREATE INDEX ON document_tags (document_id, tag);
             CREATE INDEX ON document_folders (document_id);
             CREATE INDEX ON document_folders (folder_id);
             CREATE INDEX ON folder_ancestors (folder_id);
             CREATE INDEX ON document_ancestors (ancestor_type, ancestor_id);",
        )
        .expect("indexes");
    client.batch_execute("VACUUM ANALYZE").expect("analysed");
    eprintln!(
        "{n} rows loaded and indexed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let options = Options {
        errors: ErrorMode::FailClosed,
        ..Options::default()
    };
    for (who, action, mapping, how) in [
        ("user-0", "read", &mapping, "the folder walk"),
        ("user-0", "read", &closure, "closure tables"),
        ("user-1", "read", &mapping, "no walk"),
        ("user-3", "edit", &mapping, "no walk"),
    ] {
        let partial = Partial {
            principal: EntityUid::new("User", who),
            action: EntityUid::new("Action", action),
            resource_type: "Document".into(),
            context: Value::Record(Default::default()),
        };
        let request = |resource: EntityUid| Request {
            principal: partial.principal.clone(),
            action: partial.action.clone(),
            resource,
            context: partial.context.clone(),
        };
        let started = Instant::now();
        let residual = reduce(&set, &store, &partial, &Limits::default());
        let planned = plan_sql(
            &residual,
            &set,
            &store,
            &partial.request(),
            mapping,
            "Document",
            ErrorMode::FailClosed,
            &Limits::default(),
        )
        .expect("a query");
        let plan_time = started.elapsed();
        let params: Vec<Box<dyn postgres::types::ToSql + Sync>> = planned
            .params
            .iter()
            .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
                match p {
                    serde_json::Value::Bool(b) => Box::new(*b),
                    serde_json::Value::Number(n) => Box::new(n.as_i64().expect("a long")),
                    other => Box::new(other.as_str().expect("a string").to_string()),
                }
            })
            .collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|p| &**p).collect();
        let mut query_times = Vec::new();
        let mut got = 0;
        for _ in 0..5 {
            let started = Instant::now();
            got = client
                .query(&planned.query, &refs)
                .expect("the query")
                .len();
            query_times.push(started.elapsed());
        }
        let (query, _) = quantiles(&mut query_times);
        // Per row: every id fetched, each decided by mspl.
        let mut row_times = Vec::new();
        let mut allowed = 0;
        for _ in 0..3 {
            let started = Instant::now();
            allowed = 0;
            for row in client
                .query("SELECT id FROM documents", &[])
                .expect("the rows")
            {
                let id: String = row.get(0);
                if authorize(
                    &set,
                    &store,
                    &request(EntityUid::new("Document", id)),
                    &options,
                )
                .decision
                    == Decision::Allow
                {
                    allowed += 1;
                }
            }
            row_times.push(started.elapsed());
        }
        let (per_row, _) = quantiles(&mut row_times);
        assert_eq!(
            got, allowed,
            "{who} {action}: the query and the per-row decisions agree"
        );
        println!(
            "| {who} {action} ({how}): plan + SQL / the query ({got} of {n} rows) / per-row `authorize` | {:.2} ms / {:.0} ms / {:.0} ms ({:.1}×) |",
            ms(plan_time),
            ms(query),
            ms(per_row),
            per_row.as_secs_f64() / query.as_secs_f64()
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
