//! Live entity data at scale: `mspl serve --entity-changes` on a Model
//! Studio world of about a million entities (docs/performance.md, "Live
//! entity data"):
//!
//! - time from start to ready, RSS at ready, and the peak from ready to the
//!   end of the change storm;
//! - while client threads send decisions (their rate reported), 100 changes
//!   (one member added to or removed from a workspace each), alternately
//!   appended to the change log and written through `POST /v1/entities`,
//!   each timed from its write to the first answer that sees it: p50/p99
//!   per path;
//! - against the same change made today's way, the entity file rewritten
//!   and hot-reloaded whole;
//! - the in-process decision median and p99 on the same store, and its
//!   bytes per entity.
//!
//! ```sh
//! cargo bench -p mspl-peers --bench live -- --help
//! ```
//!
//! The server is this program run again as a child (`--serve DIR`), so its
//! RSS is the server's alone. Run by `cargo test` (without `--bench`), a
//! small world makes a smoke run.

#[path = "../../tests/support/http_client.rs"]
mod http_client;

#[path = "support/world.rs"]
mod world;

use clap::Parser;
use http_client::Conn;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use world::{quantiles, write_world, Server, Shape};

/// Live entity data at scale.
#[derive(Parser, Debug)]
#[command(name = "live")]
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
    /// Changes in the storm.
    #[arg(long, default_value_t = 100)]
    changes: usize,
    /// Client threads sending decisions during the storm.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Run the server on this folder (internal: the child's mode).
    #[arg(long, hide = true)]
    serve: Option<PathBuf>,
    /// Given by `cargo bench`; without it (`cargo test`) a short smoke run.
    #[arg(long, hide = true)]
    bench: bool,
}

const TOKEN: &str = "live-bench";

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
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a folder");
    let base = dir.path().join("base.json");
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
    std::fs::write(dir.path().join("changes.jsonl"), "").expect("written");
    std::fs::write(dir.path().join("token"), TOKEN).expect("written");
    eprintln!(
        "world: {count} entities, {:.0} MB of JSON, generated in {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    println!(
        "# Live entity data: {count} entities ({:.0} MB of entity JSON)\n",
        bytes as f64 / 1e6
    );

    // The server, from start to ready.
    let started = Instant::now();
    let mut server = Server::start(dir.path(), &[("LIVE_WITH_LOG", "1")]);
    let ready = started.elapsed();
    let rss_ready = server.rss_kib("VmRSS");
    server.reset_peak();
    println!("| measure | value |\n|---|---:|");
    println!("| time to ready | {:.2} s |", ready.as_secs_f64());
    println!(
        "| RSS at ready | {} MB ({:.2} KB per entity) |",
        rss_ready / 1024,
        rss_ready as f64 / count.max(1) as f64
    );

    // The clients.
    let bodies = &world.requests;
    let stop = AtomicBool::new(false);
    let (sent, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut in_effect: (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    let storm = Instant::now();
    std::thread::scope(|s| {
        for c in 0..args.clients {
            let (addr, bodies, stop, sent, failed) = (&server.addr, &bodies, &stop, &sent, &failed);
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
        // The storm: a member of a sub-workspace added, then removed.
        let (user, workspace) = (&world.probe_user, &world.probe_workspace);
        let probe = json!({"principal": {"type": "RamUser", "id": user}, "action": {"type": "Action", "id": "page.view"},
                           "resource": {"type": "Page", "id": format!("{workspace}/applications")}, "context": {}}).to_string();
        let ws = json!({"type": "Workspace", "id": workspace});
        let mut probe_conn = Conn::open(&server.addr);
        for i in 0..args.changes {
            let joining = i % 2 == 0;
            let op = if joining {
                "add_parents"
            } else {
                "remove_parents"
            };
            let tx = json!({"op": op, "uid": {"type": "RamUser", "id": user}, "parents": [ws]});
            let started = Instant::now();
            let via_log = (i / 2) % 2 == 0;
            if via_log {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(dir.path().join("changes.jsonl"))
                    .expect("the log");
                f.write_all(format!("{tx}\n").as_bytes()).expect("appended");
            } else {
                let mut conn = Conn::open(&server.addr);
                let reply = conn.send(
                    "POST",
                    "/v1/entities",
                    &[("Authorization", &format!("Bearer {TOKEN}"))],
                    tx.to_string().as_bytes(),
                );
                assert_eq!(reply.status, 200, "{}", reply.body);
            }
            let want = if joining { "allow" } else { "deny" };
            loop {
                let reply = probe_conn.send("POST", "/v1/is_authorized", &[], probe.as_bytes());
                if reply.json()["decision"] == want {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "change {i} never took effect"
                );
            }
            let took = started.elapsed();
            if via_log {
                in_effect.0.push(took);
            } else {
                in_effect.1.push(took);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let storm_time = storm.elapsed();
    let peak = server.rss_kib("VmHWM");
    let rate = sent.load(Ordering::Relaxed) as f64 / storm_time.as_secs_f64();
    println!(
        "| decisions during the storm | {:.0}/s, {} failed |",
        rate,
        failed.load(Ordering::Relaxed)
    );
    for (name, times) in [
        ("via the log", &mut in_effect.0),
        ("via POST /v1/entities", &mut in_effect.1),
    ] {
        let (p50, p99) = quantiles(times);
        println!(
            "| change in effect {name}: p50 / p99 | {:.1} ms / {:.1} ms |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    println!(
        "| peak RSS, ready to the end of the storm | {} MB ({:.2}× at ready) |",
        peak / 1024,
        peak as f64 / rss_ready.max(1) as f64
    );
    server.stop();

    // Today's way: the entity file rewritten, the whole store reloaded.
    let mut full = Server::start(dir.path(), &[("LIVE_WITH_LOG", "0")]);
    let (user, workspace) = (&world.probe_user, &world.probe_workspace);
    let probe = json!({"principal": {"type": "RamUser", "id": user}, "action": {"type": "Action", "id": "page.view"},
                       "resource": {"type": "Page", "id": format!("{workspace}/applications")}, "context": {}}).to_string();
    let text = std::fs::read_to_string(&base).expect("the base");
    // The same change: the probe user joins the workspace (its line, one
    // entity a line, read, changed and written back).
    let text: String = text
        .split_inclusive('\n')
        .map(|line| {
            let body = line.trim_end_matches('\n').trim_end_matches(',');
            match serde_json::from_str::<serde_json::Value>(body) {
                Ok(mut e) if e["uid"]["id"] == user.as_str() && e["uid"]["type"] == "RamUser" => {
                    if let Some(parents) = e["parents"].as_array_mut() {
                        parents.push(json!({"type": "Workspace", "id": workspace}));
                    }
                    line.replace(body, &e.to_string())
                }
                _ => line.to_string(),
            }
        })
        .collect();
    let mut conn = Conn::open(&full.addr);
    let before = conn
        .send("POST", "/v1/is_authorized", &[], probe.as_bytes())
        .json()["decision"]
        .clone();
    let started = Instant::now();
    let tmp = dir.path().join("base.json.new");
    std::fs::write(&tmp, &text).expect("written");
    std::fs::rename(&tmp, &base).expect("renamed");
    loop {
        let now = conn
            .send("POST", "/v1/is_authorized", &[], probe.as_bytes())
            .json()["decision"]
            .clone();
        if now != before || started.elapsed() > Duration::from_secs(300) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "| the same change by rewriting the entity file (full reload) | {:.2} s |",
        started.elapsed().as_secs_f64()
    );
    full.stop();

    // In process: the decision path on the same store.
    let set = {
        let mut loader = mspl::__internal::Loader::new(mspl::__internal::Limits::default());
        loader
            .add_path(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio"));
        loader.finish(mspl::__internal::IdScheme::Annotated).0
    };
    let store = mspl::__internal::entities::build::build_entities(
        &set.schema,
        [("base.json", text.as_str())],
    )
    .expect("the store");
    let prepared =
        mspl::__internal::PreparedSet::new(set.clone(), mspl::__internal::Options::default());
    let requests: Vec<_> = world
        .requests
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .filter_map(|r| mspl::__internal::entities::json::request_from_json(&r, &set.schema).ok())
        .collect();
    let mut times: Vec<Duration> = Vec::with_capacity(requests.len());
    for r in &requests {
        let t = Instant::now();
        std::hint::black_box(prepared.authorize(&store, r));
        times.push(t.elapsed());
    }
    let (p50, p99) = quantiles(&mut times);
    println!(
        "| decision in process: median / p99 | {:.2} µs / {:.2} µs |\n",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
}

/// The child: `mspl serve` on `dir`'s base (and its change log).
fn serve_child(dir: &Path) -> mspl_cli::exit::Exit {
    use mspl_cli::serve::{Build, Config, Inputs, Source, Watch};
    let with_log = std::env::var("LIVE_WITH_LOG").is_ok_and(|v| v == "1");
    let policies = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio");
    let config = Config {
        tls: None,
        source: Source::Files(Inputs {
            policies: vec![policies],
            entities: Some(dir.join("base.json")),
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
        tokens: mspl_cli::serve::auth::Tokens {
            admin: Some(TOKEN.into()),
            clients: Vec::new(),
            certificates: false,
        },
        authzen_reasons: false,
        mapping: None,
        decision_log: None,
        watch: Watch::Auto,
        poll_interval: Duration::from_millis(500),
        debounce: Duration::from_millis(50),
        entity_changes: with_log.then(|| dir.join("changes.jsonl")),
        consistency_wait: Duration::from_secs(1),
        entity_database: None,
    };
    mspl_cli::serve::run(config)
}
