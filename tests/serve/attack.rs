//! `mspl serve` against clients that try to starve, freeze or trick it:
//! deadlines that bound the work itself, the bounded decision queue, the
//! head timeout and the connection limit, the bounded drain, the bodies
//! that once took the machine (a store copy per request, a context copied
//! per item), FIFOs in place of inputs and of the decision log, and
//! credentials in a bundle URL. Every test is bounded and stops its server.

use super::served::Served;
use super::MS;
use serde_json::{json, Value as Json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A policy set whose forbid runs for as long as it is let (a rule that
/// calls itself twice, forty deep), and a fast permit.
fn slow_policies(dir: &std::path::Path) -> String {
    let path = dir.join("slow.mspl");
    std::fs::write(
        &path,
        "rule slow(n) { n > 0 && (slow(n - 1) || slow(n - 1)) }\n\
         permit (principal, action, resource);\n\
         forbid (principal, action == Action::\"slow\", resource) when { slow(40) };\n",
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

fn request(action: &str) -> String {
    json!({"principal": {"type": "User", "id": "a"}, "action": {"type": "Action", "id": action},
           "resource": {"type": "Doc", "id": "d"}, "context": {}})
    .to_string()
}

/// Under `--cedar` an erroring forbid is skipped, so a deadline taken for
/// a policy's error would turn this deny into an allow: it is a 408 for
/// the whole request or batch, and nothing of it is logged.
#[test]
fn a_deadline_abandons_the_work_and_never_decides() {
    let dir = tempfile::tempdir().unwrap();
    let policies = slow_policies(dir.path());
    let log = dir.path().join("decisions.jsonl");
    let server = Served::start(&[
        "-p",
        &policies,
        "--cedar",
        "--request-timeout-ms",
        "300",
        "--max-steps",
        "1000000000000",
        "--max-request-steps",
        "1000000000000",
        "--decision-log",
        log.to_str().unwrap(),
    ]);
    let started = Instant::now();
    let reply = server.post("/v1/is_authorized", &request("slow"));
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the work went on past its deadline: {:?}",
        started.elapsed()
    );
    let batch = format!(
        "{{\"requests\": [{}, {}]}}",
        request("fast"),
        request("slow")
    );
    assert_eq!(server.post("/v1/batch_is_authorized", &batch).status, 408);
    let evaluations = json!({"subject": {"type": "User", "id": "a"}, "resource": {"type": "Doc", "id": "d"},
        "evaluations": [{"action": {"name": "fast"}}, {"action": {"name": "slow"}}]});
    assert_eq!(
        server
            .post("/access/v1/evaluations", &evaluations.to_string())
            .status,
        408
    );
    // The server goes on, and decides what it can in time.
    let reply = server.post("/v1/is_authorized", &request("fast"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["decision"], "allow");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        logged.lines().count(),
        1,
        "only the decision made in time is logged: {logged}"
    );
    assert!(logged.contains("\"fast\""), "{logged}");
}

/// One decision thread and room for one waiting request: the rest are
/// refused at once with 429 and `Retry-After: 1`, while health is answered.
#[test]
fn a_full_decision_queue_answers_429_and_health_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let policies = slow_policies(dir.path());
    let server = Served::start(&[
        "-p",
        &policies,
        "--request-timeout-ms",
        "1500",
        "--max-steps",
        "1000000000000",
        "--max-request-steps",
        "1000000000000",
        "--decision-threads",
        "1",
        "--max-queued",
        "1",
    ]);
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let reply = server.post("/v1/is_authorized", &request("slow"));
                    (
                        reply.status,
                        reply.header("retry-after").map(str::to_string),
                    )
                })
            })
            .collect();
        let started = Instant::now();
        assert_eq!(server.get("/health/live").status, 200);
        // A hang, not a speed (the serve benchmark measures health under attack).
        assert!(started.elapsed() < Duration::from_secs(5));
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!refused.is_empty(), "{statuses:?}");
    assert!(
        refused.iter().all(|(_, r)| r.as_deref() == Some("1")),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|(s, _)| *s == 429 || *s == 408),
        "{statuses:?}"
    );
}

/// Opens a connection and sends half a request head.
fn half_head(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"POST /v1/is_authorized HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Whether the server closed `stream` (a read ends or fails).
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    !matches!(stream.read(&mut buf), Ok(n) if n > 0)
}

#[test]
fn half_sent_heads_time_out_and_connections_are_bounded() {
    let server = Served::start(&[
        "-p",
        MS,
        "--header-timeout-ms",
        "700",
        "--max-connections",
        "6",
    ]);
    let mut heads: Vec<TcpStream> = (0..6).map(|_| half_head(&server.addr)).collect();
    std::thread::sleep(Duration::from_millis(150));
    // Past the limit: a 503 at once, and the connection closed.
    let mut extra = TcpStream::connect(&server.addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("--max-connections"), "{answer}");
    // The heads time out, which frees their slots.
    for head in &mut heads {
        assert!(closed(head), "a half-sent head was kept open");
    }
    assert!(server.wait_until(Duration::from_secs(5), |s| s
        .connect()
        .try_send("GET", "/health/live", &[], b"")
        .is_ok_and(|r| r.status == 200)));
}

#[test]
fn the_drain_is_bounded_and_says_what_it_cut() {
    let server = Served::start(&[
        "-p",
        MS,
        "--header-timeout-ms",
        "60000",
        "--drain-timeout-ms",
        "300",
    ]);
    let _held = half_head(&server.addr);
    std::thread::sleep(Duration::from_millis(100));
    let (code, stderr) = server.stop_within(Duration::from_secs(5));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 connection(s) cut"), "{stderr}");
}

/// A store of `users` RAM users over the Model Studio example's workspaces
/// (about 500 bytes of JSON each), in `dir`.
fn big_store(dir: &std::path::Path, users: usize) -> std::path::PathBuf {
    let examples = std::fs::read_to_string(super::ENTITIES).unwrap();
    let mut entities: Vec<Json> = serde_json::from_str(&examples).unwrap();
    for i in 0..users {
        entities.push(json!({
            "uid": {"type": "RamUser", "id": format!("load-user-{i:07}")},
            "attrs": {
                "account": {"__entity": {"type": "Account", "id": "acct-1"}},
                "policies": ["AliyunBailianDataReadOnlyAccess", "AliyunBSSReadOnlyAccess", format!("padding-{i:0>300}")],
                "operations": [{"__entity": {"type": "Page", "id": "project-a/models"}}]
            },
            "parents": [{"type": "Workspace", "id": "project-a"}]
        }));
    }
    let path = dir.join("big.json");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    out.write_all(b"[\n").unwrap();
    for (i, e) in entities.iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n").unwrap();
        }
        serde_json::to_writer(&mut out, e).unwrap();
    }
    out.write_all(b"\n]\n").unwrap();
    out.flush().unwrap();
    path
}

/// The acceptance of "a decision server no client can starve": with a
/// store of over 100 MB, the bodies that once took the machine (a batch
/// of 1,000 requests with `"entities": []`; 1,000 evaluations under an
/// 8 MB context) and 200 half-sent heads, while another client asks
/// decisions and health: every health probe answers within 2 s, every
/// decision is a 200 or a 429, the peak RSS stays within 300 MB of the
/// idle one, and the server drains within its deadline.
#[test]
fn under_attack_health_and_decisions_are_answered_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = big_store(dir.path(), 200_000);
    let size = std::fs::metadata(&store).unwrap().len();
    assert!(size > 100 << 20, "the store is {size} bytes");
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        store.to_str().unwrap(),
        "--max-body-bytes",
        "16000000",
        "--drain-timeout-ms",
        "5000",
    ]);
    let idle = server.memory_kib("VmRSS");
    // Peak RSS from now on (Linux: 5 resets the high-water mark).
    let reset = std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5").is_ok();
    let one = |entities: bool| {
        let mut r = json!({"principal": {"type": "RamUser", "id": "user-01"}, "action": {"type": "Action", "id": "page.view"},
            "resource": {"type": "Page", "id": "project-a/models"}, "context": {}});
        if entities {
            r["entities"] = json!([]);
        }
        r
    };
    let copies = json!({"requests": (0..1000).map(|_| one(true)).collect::<Vec<_>>()}).to_string();
    let padding: Vec<String> = (0..8_300).map(|i| format!("{i:0>1024}")).collect();
    let contexts = json!({
        "subject": {"type": "RamUser", "id": "user-01"},
        "context": {"padding": padding},
        "evaluations": (0..1000).map(|_| json!({"action": {"name": "page.view"},
            "resource": {"type": "Page", "id": "project-a/models"}})).collect::<Vec<_>>()
    })
    .to_string();
    assert!(contexts.len() > 8 << 20);
    let attack_for = Duration::from_secs(8);
    let started = Instant::now();
    let (health, decisions) = std::thread::scope(|scope| {
        // 200 half-sent heads, held for the attack.
        let heads: Vec<TcpStream> = (0..200).map(|_| half_head(&server.addr)).collect();
        for body in [&copies, &contexts] {
            for _ in 0..2 {
                scope.spawn(|| {
                    while started.elapsed() < attack_for {
                        let path = if body.starts_with("{\"requests\"") {
                            "/v1/batch_is_authorized"
                        } else {
                            "/access/v1/evaluations"
                        };
                        let _ = server
                            .connect()
                            .try_send("POST", path, &[], body.as_bytes());
                    }
                });
            }
        }
        let probes = scope.spawn(|| {
            let mut slowest = Duration::ZERO;
            let mut count = 0;
            while started.elapsed() < attack_for {
                let asked = Instant::now();
                let mut conn = server.connect();
                let reply = conn.try_send("GET", "/health/live", &[], b"");
                let took = asked.elapsed();
                assert!(
                    reply.is_ok_and(|r| r.status == 200) && took < Duration::from_secs(2),
                    "a health probe took {took:?}"
                );
                slowest = slowest.max(took);
                count += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            (count, slowest)
        });
        let decider = scope.spawn(|| {
            let mut statuses = Vec::new();
            let body = one(false).to_string();
            while started.elapsed() < attack_for {
                let reply = server
                    .connect()
                    .try_send("POST", "/v1/is_authorized", &[], body.as_bytes())
                    .expect("a decision is answered");
                statuses.push(reply.status);
                std::thread::sleep(Duration::from_millis(50));
            }
            statuses
        });
        let result = (probes.join().unwrap(), decider.join().unwrap());
        drop(heads);
        result
    });
    let (probes, slowest) = health;
    assert!(probes > 10, "{probes} health probes");
    assert!(
        decisions.iter().all(|s| *s == 200 || *s == 429),
        "{decisions:?}"
    );
    assert!(decisions.contains(&200), "{decisions:?}");
    let peak = if reset {
        server.memory_kib("VmHWM")
    } else {
        server.memory_kib("VmRSS")
    };
    assert!(
        peak <= idle + 300 * 1024,
        "peak RSS {peak} KiB against {idle} KiB idle"
    );
    eprintln!(
        "under attack: {probes} health probes, the slowest {slowest:?}; {} decisions; RSS idle {} MiB, peak {} MiB",
        decisions.len(),
        idle / 1024,
        peak / 1024
    );
    let (code, stderr) = server.stop_within(Duration::from_secs(10));
    assert_eq!(code, 0, "{stderr}");
}

/// A FIFO put in the entity file's place is refused without waiting on
/// it; the reloader goes on, and the next change loads (a revoked admin
/// does not stay allowed).
#[test]
fn a_fifo_in_place_of_an_input_never_freezes_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let entities = dir.path().join("entities.json");
    std::fs::copy(super::ENTITIES, &entities).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "secret-token\n").unwrap();
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        entities.to_str().unwrap(),
        "--admin-token-file",
        token.to_str().unwrap(),
        "--debounce-ms",
        "10",
    ]);
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::fs::rename(&fifo, &entities).unwrap();
    assert!(
        server.wait_until(Duration::from_secs(10), |s| {
            s.get("/v1/status").json()["last_error"]
                .to_string()
                .contains("not a regular file")
        }),
        "the FIFO was not reported: {}",
        server.get("/v1/status").body
    );
    let reply = server.connect().send(
        "POST",
        "/v1/reload",
        &[("Authorization", "Bearer secret-token")],
        b"",
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    // The admin is removed from the data: the change loads.
    let text = std::fs::read_to_string(super::ENTITIES)
        .unwrap()
        .replace("\"AliyunBailianFullAccess\"", "\"Nothing\"");
    let temp = dir.path().join("next.json");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, &entities).unwrap();
    let admin = json!({"principal": {"type": "RamUser", "id": "admin-01"}, "action": {"type": "Action", "id": "workspace.create"},
        "resource": {"type": "Account", "id": "acct-1"}, "context": {}})
    .to_string();
    assert!(server.wait_until(Duration::from_secs(10), |s| s
        .post("/v1/is_authorized", &admin)
        .json()["decision"]
        == "deny"));
    let (code, stderr) = server.stop_within(Duration::from_secs(10));
    assert_eq!(code, 0, "{stderr}");
}

/// The decision log is opened as mspl writes files: a FIFO is refused at
/// once (nothing blocks before the server listens), and so is a link
/// owned by another user.
#[test]
fn the_decision_log_is_opened_by_the_safe_rules() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("log.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let started = Instant::now();
    let (code, _, stderr) = super::mspl(&[
        "serve",
        "-p",
        MS,
        "--addr",
        "127.0.0.1:0",
        "--decision-log",
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        super::skip::skip(
            "a decision log through another user's link",
            "a link owned by another user needs root to make",
        );
        return;
    }
    let target = dir.path().join("elsewhere.log");
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let c = std::ffi::CString::new(link.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::lchown(c.as_ptr(), 65534, 65534) }, 0);
    let (code, _, stderr) = super::mspl(&[
        "serve",
        "-p",
        MS,
        "--addr",
        "127.0.0.1:0",
        "--decision-log",
        link.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("owned by another user"), "{stderr}");
    assert!(!target.exists());
}

/// A pre-signed bundle URL's signature and a password never show in the
/// status or the log; one on the command line draws a warning; the file
/// and the environment take it too.
#[test]
fn bundle_credentials_never_show() {
    let url = "http://user:hunter2@127.0.0.1:9/b.tar.gz?X-Amz-Signature=s3cr3t";
    let server = Served::start(&["--bundle", url, "--bundle-interval", "0.2"]);
    // Two polls have failed (nothing listens there) and been logged.
    assert!(server.wait_until(Duration::from_secs(10), |s| {
        s.stderr().matches("poll: refused").count() >= 2
    }));
    let status = server.get("/v1/status").body;
    assert!(status.contains("***@127.0.0.1:9"), "{status}");
    let (_, stderr) = server.stop();
    for text in [&status, &stderr] {
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t"),
            "{text}"
        );
    }
    assert!(stderr.contains("holds a credential"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let server = Served::start(&["--bundle-url-file", file.to_str().unwrap()]);
    let status = server.get("/v1/status").body;
    assert!(status.contains("***@127.0.0.1:9"), "{status}");
    let (_, stderr) = server.stop();
    assert!(!stderr.contains("holds a credential"), "{stderr}");
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("s3cr3t"),
        "{stderr}"
    );
    let server = Served::start_with_env(&[], &[("MSPL_BUNDLE_URL", url)]);
    assert!(server.get("/v1/status").body.contains("***@127.0.0.1:9"));
}

/// Without an admin token, `POST /v1/reload` says what it needs.
#[test]
fn reload_without_a_token_says_what_it_needs() {
    let server = Served::start(&["-p", MS]);
    let reply = server.post("/v1/reload", "");
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("--admin-token-file"), "{}", reply.body);
}

/// A batch's shared context is logged once, in a header line its items
/// refer to; the log replays through `authorize`; an item line without
/// its header is refused, naming its line.
#[test]
fn a_batch_context_is_logged_once_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let server = Served::start(&[
        "-p",
        MS,
        "--entities",
        super::ENTITIES,
        "--decision-log",
        log.to_str().unwrap(),
    ]);
    let body = json!({
        "subject": {"type": "RamUser", "id": "user-01"},
        "action": {"name": "model.call"},
        "context": {"workspace": {"type": "Workspace", "id": "project-a"}},
        "evaluations": [
            {"resource": {"type": "Model", "id": "qwen-max"}},
            {"resource": {"type": "Model", "id": "qwen-plus"}},
            {"resource": {"type": "Model", "id": "qwen-max"}, "context": {"workspace": {"type": "Workspace", "id": "a-default"}}}
        ]
    });
    let reply = server.post("/access/v1/evaluations", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answers: Vec<Json> = reply.json()["evaluations"].as_array().unwrap().clone();
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].get("request").is_none() && lines[0]["context"].is_object());
    let batch = lines[0]["batch_id"].clone();
    assert_eq!(lines[1]["request"]["context_ref"], batch);
    assert_eq!(lines[2]["request"]["context_ref"], batch);
    assert!(lines[3]["request"]["context"].is_object(), "{text}");
    let (code, stdout, stderr) = super::mspl(&[
        "authorize",
        "-p",
        MS,
        "--entities",
        super::ENTITIES,
        "--format",
        "json",
        "--requests",
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let replayed: Vec<&str> = stdout
        .lines()
        .map(|l| {
            if serde_json::from_str::<Json>(l).unwrap()["decision"] == "allow" {
                "allow"
            } else {
                "deny"
            }
        })
        .collect();
    let served: Vec<&str> = answers
        .iter()
        .map(|a| {
            if a["decision"] == true {
                "allow"
            } else {
                "deny"
            }
        })
        .collect();
    assert_eq!(replayed, served);
    // Without its header, an item line is refused, naming its line.
    let headless: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let cut = dir.path().join("headless.jsonl");
    std::fs::write(&cut, headless).unwrap();
    let (code, _, stderr) =
        super::mspl(&["authorize", "-p", MS, "--requests", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("line 1: `context_ref` names batch"),
        "{stderr}"
    );
}
