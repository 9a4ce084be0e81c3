//! `mspl serve` under load on loopback, side by side with the Cedar
//! encoding of the Model Studio rules behind the same HTTP stack (axum on
//! hyper and tokio, the same body reading, JSON in and out), and with an
//! endpoint that decides nothing (the stack's own cost), so the table
//! shows the engine's share (docs/performance.md, "Decision server").
//!
//! ```sh
//! cargo bench -p mspl-peers --bench serve -- --help
//! ```
//!
//! The servers run in this process on a tokio runtime of two worker
//! threads; the load comes from `--connections` client threads, each a
//! keep-alive connection sending one request after another (a closed
//! loop), for `--seconds` per measurement. Client and server share the
//! machine's cores, as they do under `wrk` on one host. Single requests
//! report requests/s and p50/p99 latency; batches report decisions/s.
//! Every run first checks that mspl and Cedar answer each request alike.
//!
//! Run by `cargo test` (without `--bench`), it does a short smoke run.

#[path = "../../tests/support/http_client.rs"]
mod http_client;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use clap::Parser;
use http_body_util::BodyExt;
use http_client::Conn;
use mspl_peers::cedar::{cedar_answer, CedarWorld};
use mspl_peers::{World, WorldParams};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `mspl serve` and Cedar behind one HTTP stack, under load.
#[derive(Parser, Debug)]
#[command(name = "serve")]
struct Args {
    /// Seed of the world generator.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Client connections (one thread each).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Requests per batch in the batch measurements.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Given by `cargo bench`; without it (`cargo test`) a short smoke run.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Reads a body as the mspl server does: bounded, then JSON.
async fn read_json(request: Request) -> Result<Value, Response> {
    let limited = http_body_util::Limited::new(request.into_body(), 8 << 20);
    let bytes: Bytes = match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return Err(reply(413, "{\"error\":{\"message\":\"too large\"}}".into())),
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        reply(
            400,
            format!("{{\"error\":{{\"message\":{:?}}}}}", e.to_string()),
        )
    })
}

fn reply(status: u16, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Cedar's answer in the shape of mspl's.
fn cedar_json(world: &CedarWorld, request: &Value) -> String {
    match cedar_answer(world, request) {
        Ok(a) => serde_json::json!({
            "decision": if a.allow { "allow" } else { "deny" },
            "determining": a.determining,
            "errors": a.errors,
        })
        .to_string(),
        Err(e) => serde_json::json!({"error": {"message": e}}).to_string(),
    }
}

/// The Cedar server: `/v1/is_authorized`, `/v1/batch_is_authorized` and
/// `/v1/nothing` (reads and parses the body, decides nothing).
fn cedar_router(world: Arc<CedarWorld>) -> Router {
    async fn one(State(world): State<Arc<CedarWorld>>, request: Request) -> Response {
        match read_json(request).await {
            Ok(v) => reply(200, cedar_json(&world, &v)),
            Err(r) => r,
        }
    }
    async fn batch(State(world): State<Arc<CedarWorld>>, request: Request) -> Response {
        match read_json(request).await {
            Ok(v) => {
                let results: Vec<String> = v["requests"]
                    .as_array()
                    .map(|rs| rs.iter().map(|r| cedar_json(&world, r)).collect())
                    .unwrap_or_default();
                reply(200, format!("{{\"results\":[{}]}}", results.join(",")))
            }
            Err(r) => r,
        }
    }
    async fn nothing(request: Request) -> Response {
        match read_json(request).await {
            Ok(_) => reply(200, "{\"decision\":\"deny\",\"kind\":\"not_permitted\",\"determining\":[],\"errors\":[]}".into()),
            Err(r) => r,
        }
    }
    Router::new()
        .route("/v1/is_authorized", post(one))
        .route("/v1/batch_is_authorized", post(batch))
        .route("/v1/nothing", post(nothing))
        .with_state(world)
}

/// A closed-loop load: each connection sends `bodies` in turn to `path`
/// for `seconds`; every answer must be a 200.
struct Load {
    requests: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

fn load(
    addr: &str,
    path: &str,
    bodies: &Arc<Vec<String>>,
    connections: usize,
    seconds: f64,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let (addr, path, bodies, stop, tls) = (
                addr.to_string(),
                path.to_string(),
                bodies.clone(),
                stop.clone(),
                tls.cloned(),
            );
            std::thread::spawn(move || {
                let mut conn = match &tls {
                    Some(config) => Conn::open_tls(&addr, config),
                    None => Conn::open(&addr),
                };
                let mut latencies = Vec::new();
                let mut i = c * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let body = &bodies[i % bodies.len()];
                    i += 1;
                    let t = Instant::now();
                    let r = conn.send("POST", &path, &[], body.as_bytes());
                    latencies.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    assert_eq!(r.status, 200, "{}", r.body);
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Load {
        requests: latencies_us.len(),
        elapsed,
        latencies_us,
    }
}

impl Load {
    fn per_second(&self, per_request: usize) -> f64 {
        (self.requests * per_request) as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

fn main() {
    let mut args = Args::parse();
    if !args.bench {
        args.seconds = 0.3;
        args.connections = 4;
        args.batch = 10;
    }
    let params = WorldParams {
        requests: 2_000,
        ..WorldParams::default()
    };
    let world = World::generate(args.seed, &params);
    let entities = world.entities_json();
    let requests = world.requests_json();
    let dir = std::env::temp_dir().join(format!("mspl-serve-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let entity_file = dir.join("entities.json");
    std::fs::write(&entity_file, entities.to_string()).unwrap();
    let cedar_world = Arc::new(CedarWorld::new(&entities).expect("Cedar loads the world"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mspl_addr, cedar_addr, stop_servers, server_threads) = runtime.block_on(async {
        let mspl_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cedar_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mspl_addr = mspl_listener.local_addr().unwrap().to_string();
        let cedar_addr = cedar_listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tls_addr = tls_listener.local_addr().unwrap().to_string();
        let config = mspl_config(&entity_file);
        let mut stopped_mspl = stopped.clone();
        let mspl = tokio::spawn(async move {
            mspl_cli::serve::serve_on(config, mspl_listener, async move {
                let _ = stopped_mspl.changed().await;
            })
            .await
        });
        // The same server over TLS (the tests' certificate).
        let mut config = mspl_config(&entity_file);
        let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/cases/tls");
        config.tls = Some(mspl_cli::serve::tls::TlsFiles {
            cert: fixtures.join("server.crt"),
            key: fixtures.join("server.key"),
            client_ca: None,
            client_auth: mspl_cli::serve::tls::ClientAuth::Required,
        });
        let mut stopped_tls = stopped.clone();
        let over_tls = tokio::spawn(async move {
            mspl_cli::serve::serve_on(config, tls_listener, async move {
                let _ = stopped_tls.changed().await;
            })
            .await
        });
        let mut stopped_cedar = stopped;
        let cedar = tokio::spawn(async move {
            axum::serve(cedar_listener, cedar_router(cedar_world.clone()))
                .with_graceful_shutdown(async move {
                    let _ = stopped_cedar.changed().await;
                })
                .await
                .unwrap();
        });
        (
            (mspl_addr, tls_addr),
            cedar_addr,
            stop,
            (mspl, cedar, over_tls),
        )
    });
    let (mspl_addr, tls_addr) = mspl_addr;
    let tls = tls_client();
    // Wait until mspl has loaded its snapshot.
    let ready = (0..500).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        std::net::TcpStream::connect(&mspl_addr).is_ok_and(|_| {
            Conn::open(&mspl_addr)
                .send("GET", "/health/ready", &[], b"")
                .status
                == 200
        })
    });
    assert!(ready, "mspl serve did not become ready");

    // The same decisions from both.
    let bodies: Arc<Vec<String>> = Arc::new(requests.iter().map(Value::to_string).collect());
    let (mut m, mut c) = (Conn::open(&mspl_addr), Conn::open(&cedar_addr));
    let mut allowed = 0;
    for body in bodies.iter() {
        let a = m
            .send("POST", "/v1/is_authorized", &[], body.as_bytes())
            .json();
        let b = c
            .send("POST", "/v1/is_authorized", &[], body.as_bytes())
            .json();
        assert_eq!(a["decision"], b["decision"], "{body}: mspl {a}, Cedar {b}");
        allowed += usize::from(a["decision"] == "allow");
    }
    println!(
        "world: seed {}, {} entities, {} requests ({allowed} allowed), mspl and Cedar agree on every one",
        args.seed,
        entities.as_array().map_or(0, Vec::len),
        bodies.len()
    );
    println!(
        "load: {} connections, {:.1} s per row, 2 server worker threads, {} cores in all",
        args.connections,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| single requests | requests/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    let rows = [
        (
            "HTTP stack only (parse, no decision)",
            &cedar_addr,
            "/v1/nothing",
            None,
        ),
        (
            "mspl serve `/v1/is_authorized`",
            &mspl_addr,
            "/v1/is_authorized",
            None,
        ),
        (
            "mspl serve `/v1/is_authorized` over TLS (keep-alive)",
            &tls_addr,
            "/v1/is_authorized",
            Some(&tls),
        ),
        ("Cedar, same stack", &cedar_addr, "/v1/is_authorized", None),
    ];
    let mut plain_and_tls = Vec::new();
    for (name, addr, path, tls) in rows {
        let l = load(addr, path, &bodies, args.connections, args.seconds, tls);
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} |",
            l.per_second(1),
            l.percentile(0.5),
            l.percentile(0.99)
        );
        if path == "/v1/is_authorized" && addr != &cedar_addr {
            plain_and_tls.push(l.per_second(1));
        }
    }
    if let [plain, tls] = plain_and_tls[..] {
        println!(
            "\nTLS keeps {:.0}% of plain HTTP's throughput for single decisions (goal: at least 70%)",
            100.0 * tls / plain
        );
    }
    println!();
    let batches: Arc<Vec<String>> = Arc::new(
        bodies
            .chunks(args.batch)
            .filter(|c| c.len() == args.batch)
            .map(|c| format!("{{\"requests\":[{}]}}", c.join(",")))
            .collect(),
    );
    println!(
        "| batches of {} | decisions/s | batch p50 ms | batch p99 ms |",
        args.batch
    );
    println!("|---|---:|---:|---:|");
    for (name, addr) in [
        ("mspl serve `/v1/batch_is_authorized`", &mspl_addr),
        ("Cedar, same stack", &cedar_addr),
    ] {
        let l = load(
            addr,
            "/v1/batch_is_authorized",
            &batches,
            args.connections.min(4),
            args.seconds,
            None,
        );
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} |",
            l.per_second(args.batch),
            l.percentile(0.5),
            l.percentile(0.99)
        );
    }
    println!();
    under_attack(&mspl_addr, &bodies, &args);
    let _ = stop_servers.send(true);
    runtime.block_on(async {
        let code = server_threads.0.await.unwrap();
        assert_eq!(code, mspl_cli::exit::Exit::Success);
        server_threads.1.await.unwrap();
        let code = server_threads.2.await.unwrap();
        assert_eq!(code, mspl_cli::exit::Exit::Success);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// The health probe's latency while the server is attacked (issue
/// "a decision server no client can starve"): two threads sending
/// batches of 1,000 requests with `"entities": []`, two sending 1,000
/// evaluations under an 8 MB context, 200 half-sent heads held open, and
/// a client asking single decisions (a 200 or a 429 each).
fn under_attack(addr: &str, bodies: &Arc<Vec<String>>, args: &Args) {
    use std::io::Write;
    let one = &bodies[0];
    let with_entities: Value = {
        let mut v: Value = serde_json::from_str(one).unwrap();
        v["entities"] = serde_json::json!([]);
        v
    };
    let copies = format!(
        "{{\"requests\":[{}]}}",
        vec![with_entities.to_string(); 1000].join(",")
    );
    let v: Value = serde_json::from_str(one).unwrap();
    let padding: Vec<String> = (0..8_300).map(|i| format!("{i:0>1024}")).collect();
    let contexts = serde_json::json!({
        "subject": {"type": v["principal"]["type"], "id": v["principal"]["id"]},
        "context": {"padding": padding},
        "evaluations": (0..1000).map(|_| serde_json::json!({
            "action": {"name": v["action"]["id"]},
            "resource": {"type": v["resource"]["type"], "id": v["resource"]["id"]}})).collect::<Vec<_>>()
    })
    .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let heads: Vec<std::net::TcpStream> = (0..200)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"POST /v1/is_authorized HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    let attackers: Vec<_> = [
        ("/v1/batch_is_authorized", copies.clone()),
        ("/v1/batch_is_authorized", copies),
        ("/access/v1/evaluations", contexts.clone()),
        ("/access/v1/evaluations", contexts),
    ]
    .into_iter()
    .map(|(path, body)| {
        let (addr, stop) = (addr.to_string(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = Conn::open(&addr).try_send("POST", path, &[], body.as_bytes());
            }
        })
    })
    .collect();
    let decider = {
        let (addr, stop, body) = (addr.to_string(), stop.clone(), one.clone());
        std::thread::spawn(move || {
            let (mut ok, mut refused) = (0usize, 0usize);
            let mut conn = Conn::open(&addr);
            while !stop.load(Ordering::Relaxed) {
                match conn
                    .send("POST", "/v1/is_authorized", &[], body.as_bytes())
                    .status
                {
                    200 => ok += 1,
                    429 => refused += 1,
                    other => panic!("a decision under attack answered {other}"),
                }
            }
            (ok, refused)
        })
    };
    let started = Instant::now();
    let mut probes = Vec::new();
    while started.elapsed().as_secs_f64() < args.seconds {
        let t = Instant::now();
        let r = Conn::open(addr).send("GET", "/health/live", &[], b"");
        assert_eq!(r.status, 200);
        probes.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.join().unwrap();
    }
    let (ok, refused) = decider.join().unwrap();
    drop(heads);
    probes.sort_unstable();
    let health = Load {
        requests: probes.len(),
        elapsed: started.elapsed(),
        latencies_us: probes,
    };
    println!("| under attack | probes | p50 ms | p99 ms | decisions answered 200 / 429 |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| `/health/live` while 4 clients send the attack bodies and 200 heads hang | {} | {:.2} | {:.2} | {ok} / {refused} |",
        health.requests,
        health.percentile(0.5),
        health.percentile(0.99)
    );
}

/// A TLS client trusting the tests' CA.
fn tls_client() -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let ca = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/cases/tls/ca.crt");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[expect(deprecated, reason = "the server's provider (src/serve/tls.rs)")]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn mspl_config(entities: &std::path::Path) -> mspl_cli::serve::Config {
    use mspl_cli::serve::{Build, Config, Inputs, Source, Watch};
    let policies = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/model_studio");
    Config {
        tls: None,
        source: Source::Files(Inputs {
            policies: vec![policies],
            entities: Some(entities.to_path_buf()),
            ..Inputs::default()
        }),
        build: Build {
            ids: mspl::__internal::IdScheme::Annotated,
            options: mspl::__internal::Options::default(),
            validate: false,
            policy_format: None,
            schema_format: None,
        },
        addr: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        max_batch: 10_000,
        max_body_bytes: 16 << 20,
        request_timeout: Duration::from_secs(10),
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
        poll_interval: Duration::from_secs(1),
        debounce: Duration::from_millis(50),
        entity_changes: None,
        consistency_wait: Duration::from_secs(1),
        entity_database: None,
    }
}
