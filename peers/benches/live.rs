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

use clap::Parser;
use http_client::Conn;
use mspl_peers::spec::{FEATURES, SYSTEM_POLICIES};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    let world = write_world(&base, &args);
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
    let mut server = Server::start(dir.path(), true);
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
    let mut full = Server::start(dir.path(), false);
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

/// The median and the 99th percentile of `times` (sorted in place).
fn quantiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    (at(0.5), at(0.99))
}

/// A generated world: how many entities, requests to send, and the user
/// whose membership the storm changes.
struct Generated {
    entities: usize,
    requests: Vec<String>,
    probe_user: String,
    probe_workspace: String,
}

/// Writes a Model Studio world to `path` as it is generated (the
/// entities never all in memory): per account, its workspaces (a default
/// and `--workspaces` more, each authorized for a few models), their ten
/// pages, `--users` RAM users (in one or two workspaces, with a system
/// policy or two and an operation or two) and `--roles` RAM roles.
fn write_world(path: &Path, args: &Args) -> Generated {
    let mut x: u64 = args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as usize % n.max(1)
    };
    let file = std::fs::File::create(path).expect("the base");
    let mut out = std::io::BufWriter::new(file);
    let mut count = 0usize;
    let mut emit = |out: &mut std::io::BufWriter<std::fs::File>, entity: serde_json::Value| {
        let sep = if count == 0 { "[\n" } else { ",\n" };
        out.write_all(sep.as_bytes()).expect("written");
        out.write_all(entity.to_string().as_bytes())
            .expect("written");
        count += 1;
    };
    let uid = |ty: &str, id: &str| json!({"type": ty, "id": id});
    let escaped = |ty: &str, id: &str| json!({"__entity": {"type": ty, "id": id}});
    for m in 0..args.models {
        emit(
            &mut out,
            json!({"uid": uid("Model", &format!("model-{m}")), "attrs": {}, "parents": []}),
        );
    }
    let mut requests = Vec::new();
    let workspaces = args.workspaces + 1;
    for a in 0..args.accounts {
        let account = format!("acct-{a}");
        emit(
            &mut out,
            json!({"uid": uid("Account", &account), "attrs": {}, "parents": []}),
        );
        let ws = |k: usize| format!("acct-{a}-ws-{k}");
        for k in 0..workspaces {
            let models: Vec<_> = (0..3)
                .map(|_| escaped("Model", &format!("model-{}", next(args.models))))
                .collect();
            emit(
                &mut out,
                json!({"uid": uid("Workspace", &ws(k)), "attrs": {"account": escaped("Account", &account), "is_default": k == 0, "authorized_models": models}, "parents": [uid("Account", &account)]}),
            );
            for f in FEATURES {
                emit(
                    &mut out,
                    json!({"uid": uid("Page", &format!("{}/{f}", ws(k))), "attrs": {"workspace": escaped("Workspace", &ws(k)), "feature": f}, "parents": [uid("Workspace", &ws(k))]}),
                );
            }
        }
        let page = |k: usize, f: usize| format!("{}/{}", ws(k), FEATURES[f]);
        for i in 0..args.users {
            let id = format!("acct-{a}-user-{i}");
            let home = next(workspaces);
            let mut parents = vec![uid("Workspace", &ws(home))];
            if next(3) == 0 {
                parents.push(uid("Workspace", &ws(next(workspaces))));
            }
            let policies: Vec<&str> = (0..next(3))
                .map(|_| SYSTEM_POLICIES[next(SYSTEM_POLICIES.len())])
                .collect();
            let operations: Vec<_> = (0..next(3))
                .map(|_| escaped("Page", &page(home, next(FEATURES.len()))))
                .collect();
            emit(
                &mut out,
                json!({"uid": uid("RamUser", &id), "attrs": {"account": escaped("Account", &account), "policies": policies, "operations": operations}, "parents": parents}),
            );
            if requests.len() < 20_000 && next(40) == 0 {
                let k = next(workspaces);
                let (action, resource, context) = match next(3) {
                    0 => (
                        "page.view",
                        uid("Page", &page(k, next(FEATURES.len()))),
                        json!({}),
                    ),
                    1 => (
                        "page.edit",
                        uid("Page", &page(k, next(FEATURES.len()))),
                        json!({}),
                    ),
                    _ => (
                        "model.call",
                        uid("Model", &format!("model-{}", next(args.models))),
                        json!({"workspace": escaped("Workspace", &ws(k))}),
                    ),
                };
                requests.push(json!({"principal": uid("RamUser", &id), "action": {"type": "Action", "id": action}, "resource": resource, "context": context}).to_string());
            }
        }
        for j in 0..args.roles {
            let trusted: Vec<_> = (0..2)
                .map(|_| escaped("RamUser", &format!("acct-{a}-user-{}", next(args.users))))
                .collect();
            emit(
                &mut out,
                json!({"uid": uid("RamRole", &format!("acct-{a}-role-{j}")), "attrs": {"account": escaped("Account", &account), "policies": [SYSTEM_POLICIES[next(SYSTEM_POLICIES.len())]], "operations": [], "trusted": trusted}, "parents": [uid("Workspace", &ws(next(workspaces)))]}),
            );
        }
    }
    out.write_all(b"\n]\n").expect("written");
    out.flush().expect("written");
    // The probe: the first user of the first account, and a sub-workspace
    // it is not in (its home is read back from the file's first user line).
    let text = std::fs::read_to_string(path).expect("the base");
    let line = text
        .lines()
        .find(|l| l.contains("\"id\":\"acct-0-user-0\""))
        .expect("the first user");
    let value: serde_json::Value =
        serde_json::from_str(line.trim_end_matches(',')).expect("a line");
    let joined: Vec<String> = value["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect();
    let probe_workspace = (1..workspaces)
        .map(|k| format!("acct-0-ws-{k}"))
        .find(|w| !joined.contains(w))
        .expect("a workspace to join");
    Generated {
        entities: count,
        requests,
        probe_user: "acct-0-user-0".into(),
        probe_workspace,
    }
}

/// The server, a child process.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Starts `--serve DIR` (with the change log or without) and waits
    /// until it is ready.
    fn start(dir: &Path, with_log: bool) -> Server {
        let exe = std::env::current_exe().expect("this program");
        let mut child = Command::new(exe)
            .arg("--serve")
            .arg(dir)
            .env("LIVE_WITH_LOG", if with_log { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split("listening on http://")
                    .nth(1)
                    .map(|a| a.trim().to_string())
            })
            .expect("the server listens");
        std::thread::spawn(move || lines.for_each(drop));
        let server = Server { child, addr };
        let mut conn = Conn::open(&server.addr);
        while conn.send("GET", "/health/ready", &[], b"").status != 200 {
            std::thread::sleep(Duration::from_millis(10));
        }
        server
    }

    fn rss_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Resets the peak RSS (`VmHWM`) to the current one.
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    fn stop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// The child: `mspl serve` on `dir`'s base (and its change log).
fn serve_child(dir: &Path) -> mspl_cli::exit::Exit {
    use mspl_cli::serve::{Build, Config, Inputs, Source, Watch};
    let with_log = std::env::var("LIVE_WITH_LOG").is_ok_and(|v| v == "1");
    let policies = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio");
    let config = Config {
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
        admin_token: Some(TOKEN.into()),
        authzen_reasons: false,
        decision_log: None,
        watch: Watch::Auto,
        poll_interval: Duration::from_millis(500),
        debounce: Duration::from_millis(50),
        entity_changes: with_log.then(|| dir.join("changes.jsonl")),
        consistency_wait: Duration::from_secs(1),
    };
    mspl_cli::serve::run(config)
}
