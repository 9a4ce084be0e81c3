//! PostgreSQL as the entity source at scale (docs/performance.md,
//! "PostgreSQL"): the Model Studio world of about a million entities
//!
//! - loaded with `mspl db load` (its time);
//! - served from the JSON base file and from the database (time to ready
//!   of each, and their ratio);
//! - followed by two replicas while client threads decide on both: 100
//!   changes written by plain SQL (one member added to or removed from a
//!   workspace each, its own transaction), each timed from its commit to
//!   the first answer on each replica that sees it (p50/p99 per replica),
//!   and the requests that failed.
//!
//! ```sh
//! cargo bench -p mspl-peers --bench postgres -- --help
//! ```
//!
//! The database is a throwaway cluster (`tests/support/postgres.rs`);
//! each server is this program run again as a child (`--serve DIR`).

#[path = "../../tests/support/http_client.rs"]
mod http_client;

#[path = "../../tests/support/postgres.rs"]
mod postgres_cluster;

#[path = "../../tests/support/skip.rs"]
mod skip;

#[path = "support/world.rs"]
mod world;

use clap::Parser;
use http_client::Conn;
use postgres_cluster::Cluster;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use world::{quantiles, write_world, Server, Shape};

/// PostgreSQL as the entity source at scale.
#[derive(Parser, Debug)]
#[command(name = "postgres")]
struct Args {
    /// The world's seed.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Accounts.
    #[arg(long, default_value_t = 100)]
    accounts: usize,
    /// RAM users per account.
    #[arg(long, default_value_t = 9_500)]
    users: usize,
    /// RAM roles per account.
    #[arg(long, default_value_t = 200)]
    roles: usize,
    /// Sub-workspaces per account.
    #[arg(long, default_value_t = 4)]
    workspaces: usize,
    /// Models.
    #[arg(long, default_value_t = 50)]
    models: usize,
    /// Changes written by SQL.
    #[arg(long, default_value_t = 100)]
    changes: usize,
    /// Client threads deciding (spread over both replicas). More than
    /// one per replica oversubscribes a 2-core machine shared with the
    /// database (docs/performance.md, "PostgreSQL").
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Run the server on this folder (internal: the child's mode).
    #[arg(long, hide = true)]
    serve: Option<PathBuf>,
    /// Given by `cargo bench`; without it a short smoke run.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Where the child reads its entities: a file or a database URL.
const SOURCE: &str = "PG_BENCH_ENTITIES";

fn main() {
    let mut args = Args::parse();
    if let Some(dir) = &args.serve {
        std::process::exit(serve_child(dir).code());
    }
    if !args.bench {
        args.accounts = 2;
        args.users = 50;
        args.roles = 4;
        args.changes = 10;
        args.clients = 1;
    }
    let Some(cluster) = Cluster::private_with(
        "the PostgreSQL bench",
        &[],
        |conf| conf.push_str("shared_buffers = 512MB\nmax_wal_size = 4GB\n"),
        "",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a folder");
    let base = dir.path().join("base.json");
    let started = Instant::now();
    let world = write_world(
        &base,
        &Shape {
            seed: args.seed,
            accounts: args.accounts,
            users: args.users,
            roles: args.roles,
            workspaces: args.workspaces,
            models: args.models,
        },
    );
    let count = world.entities;
    let bytes = std::fs::metadata(&base).map_or(0, |m| m.len());
    eprintln!(
        "world: {count} entities, {:.0} MB of JSON, generated in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    println!(
        "# PostgreSQL as the entity source: {count} entities ({:.0} MB of entity JSON)\n",
        bytes as f64 / 1e6
    );
    println!("| measure | value |\n|---|---:|");

    // The load.
    let url = cluster.database("bench");
    let policies = policies_dir();
    let mspl = |argv: &[&str]| {
        let mut all = vec!["mspl"];
        all.extend_from_slice(argv);
        let out = mspl_cli::cli::execute(all);
        assert_eq!(out.code, 0, "{argv:?}: {}{}", out.stdout, out.stderr);
    };
    mspl(&["db", "init", &url]);
    let started = Instant::now();
    mspl(&[
        "db",
        "load",
        &url,
        "--entities",
        base.to_str().expect("a path"),
        "-p",
        policies.to_str().expect("a path"),
    ]);
    let load = started.elapsed();
    println!(
        "| `mspl db load` (COPY, one transaction) | {:.2} s |",
        load.as_secs_f64()
    );
    let mut sql = cluster.client(&url);
    sql.batch_execute("VACUUM ANALYZE").expect("analysed");

    // Ready from the file, then from the database.
    let base_text = base.to_str().expect("a path");
    let started = Instant::now();
    let mut from_file = Server::start(dir.path(), &[(SOURCE, base_text)]);
    let ready_file = started.elapsed();
    from_file.stop();
    let started = Instant::now();
    let a = Server::start(dir.path(), &[(SOURCE, &url)]);
    let ready_db = started.elapsed();
    let b = Server::start(dir.path(), &[(SOURCE, &url)]);
    println!(
        "| time to ready from the JSON file | {:.2} s |",
        ready_file.as_secs_f64()
    );
    println!(
        "| time to ready from the database | {:.2} s ({:.2}× the file) |",
        ready_db.as_secs_f64(),
        ready_db.as_secs_f64() / ready_file.as_secs_f64()
    );

    // Two replicas deciding while members come and go by SQL.
    let stop = AtomicBool::new(false);
    let (sent, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let replicas = [&a.addr, &b.addr];
    let mut in_effect: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let storm = Instant::now();
    std::thread::scope(|s| {
        // However the probe ends (a panic too), the clients stop.
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop_clients = StopOnDrop(&stop);
        for c in 0..args.clients {
            let (addr, bodies, stop, sent, failed) =
                (replicas[c % 2], &world.requests, &stop, &sent, &failed);
            s.spawn(move || {
                let mut conn = Conn::open(addr);
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let body = &bodies[i % bodies.len()];
                    i += args.clients;
                    let ok = conn
                        .try_send("POST", "/v1/is_authorized", &[], body.as_bytes())
                        .is_ok_and(|r| r.status == 200);
                    sent.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                        conn = Conn::open(addr);
                    }
                }
            });
        }
        let (user, workspace) = (&world.probe_user, &world.probe_workspace);
        let probe = json!({"principal": {"type": "RamUser", "id": user}, "action": {"type": "Action", "id": "page.view"},
                           "resource": {"type": "Page", "id": format!("{workspace}/applications")}, "context": {}}).to_string();
        let mut probes = [Conn::open(&a.addr), Conn::open(&b.addr)];
        for i in 0..args.changes {
            let joining = i % 2 == 0;
            let statement = if joining {
                "INSERT INTO mspl_parents VALUES ('RamUser', $1, 'Workspace', $2)"
            } else {
                "DELETE FROM mspl_parents WHERE child_type = 'RamUser' AND child_id = $1 \
                 AND parent_type = 'Workspace' AND parent_id = $2"
            };
            sql.execute(statement, &[user, workspace]).expect("written");
            let started = Instant::now();
            let want = if joining { "allow" } else { "deny" };
            let mut seen = [None, None];
            while seen.iter().any(Option::is_none) {
                for (k, conn) in probes.iter_mut().enumerate() {
                    if seen[k].is_none() {
                        // An idle keep-alive connection may have been closed.
                        let reply = conn
                            .try_send("POST", "/v1/is_authorized", &[], probe.as_bytes())
                            .unwrap_or_else(|_| {
                                *conn = Conn::open(replicas[k]);
                                conn.send("POST", "/v1/is_authorized", &[], probe.as_bytes())
                            });
                        if reply.json()["decision"] == want {
                            seen[k] = Some(started.elapsed());
                        }
                    }
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "change {i} never took effect"
                );
            }
            for (k, took) in seen.iter().enumerate() {
                in_effect[k].push(took.unwrap_or_default());
            }
            // Changes a few per second, as a console makes them.
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let rate = sent.load(Ordering::Relaxed) as f64 / storm.elapsed().as_secs_f64();
    println!(
        "| decisions on both replicas during the changes | {:.0}/s, {} failed |",
        rate,
        failed.load(Ordering::Relaxed)
    );
    for (k, times) in in_effect.iter_mut().enumerate() {
        let (p50, p99) = quantiles(times);
        println!(
            "| a member added or removed by SQL, in effect on replica {}: p50 / p99 | {:.1} ms / {:.1} ms |",
            k + 1,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    println!();
    for mut server in [a, b] {
        server.stop();
    }
}

fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio")
}

/// The child: `mspl serve` of the Model Studio policies, its entities from
/// the file or the database `PG_BENCH_ENTITIES` names.
fn serve_child(_dir: &Path) -> mspl_cli::exit::Exit {
    use mspl_cli::serve::database::Following;
    use mspl_cli::serve::{Build, Config, Inputs, Source, Watch};
    let source = std::env::var(SOURCE).expect("the entities' source");
    let database = source.starts_with("postgres://").then(|| {
        let (target, _) = mspl_cli::db::Target::parse(&source, &|k| std::env::var(k).ok(), false)
            .expect("the database");
        Following {
            target,
            poll: Duration::from_millis(1000),
            listen: true,
            max_staleness: None,
        }
    });
    let config = Config {
        tls: None,
        source: Source::Files(Inputs {
            policies: vec![policies_dir()],
            entities: database.is_none().then(|| PathBuf::from(&source)),
            ..Inputs::default()
        }),
        build: Build {
            ids: mspl::__internal::IdScheme::Annotated,
            options: mspl::__internal::Options::default(),
            validate: false,
            policy_format: None,
            schema_format: None,
        },
        addr: "127.0.0.1:0".parse().expect("an address"),
        public_url: None,
        max_batch: 10_000,
        max_body_bytes: 16 << 20,
        request_timeout: Duration::from_secs(30),
        decision_threads: 2,
        max_queued: 1024,
        bounds: mspl_cli::serve::transport::Bounds {
            max_connections: mspl_cli::serve::transport::default_max_connections(),
            header_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
        },
        tokens: mspl_cli::serve::auth::Tokens::default(),
        authzen_reasons: false,
        mapping: None,
        decision_log: None,
        watch: Watch::Off,
        poll_interval: Duration::from_millis(500),
        debounce: Duration::from_millis(50),
        entity_changes: None,
        consistency_wait: Duration::from_secs(1),
        entity_database: database,
    };
    mspl_cli::serve::run(config)
}
