//! `mspl serve`'s reloads on loopback: each kind of input file, a broken
//! file refused while the old snapshot serves, SIGHUP, the poll, a reload
//! under load (20 changes, no failed request, each in effect within 1 s),
//! and bundles served over HTTP (picked up, 304 when unchanged, a bad one
//! refused).

use crate::served;

use serde_json::{json, Value as Json};
use served::Served;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCHEMA: &str = "entity Group;\nentity User in [Group];\nentity Doc;\naction view, edit appliesTo { principal: User, resource: Doc };\n";
const POLICIES: &str = "@id(\"alice-views\")\npermit(principal == User::\"alice\", action == Action::\"view\", resource);\n\
@id(\"group-views\")\npermit(principal in Group::\"readers\", action == Action::\"view\", resource);\n\
@id(\"editors\")\npermit(principal == ?principal, action == Action::\"edit\", resource);\n";

/// A world in a folder laid out as a bundle is: `policies/`, `schema/`,
/// `entities.json`, `links.json`.
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
}

impl World {
    pub(crate) fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let w = World { dir };
        std::fs::create_dir_all(w.path("policies")).unwrap();
        std::fs::create_dir_all(w.path("schema")).unwrap();
        w.write("policies/main.cedar", POLICIES);
        w.write("schema/schema.cedarschema", SCHEMA);
        w.write("entities.json", &entities(&[]));
        w.write("links.json", "[]");
        w
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    /// Replaces a file as editors do: a new file renamed over the old.
    pub(crate) fn write(&self, name: &str, text: &str) {
        let target = self.path(name);
        let temp = target.with_extension("tmp~");
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, &target).unwrap();
    }

    /// Rewrites a file in place.
    pub(crate) fn overwrite(&self, name: &str, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.path(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    pub(crate) fn serve_args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            self.arg("policies"),
            "--schema".into(),
            self.arg("schema"),
            "--entities".into(),
            self.arg("entities.json"),
            "-k".into(),
            self.arg("links.json"),
        ]
    }

    pub(crate) fn serve(&self, extra: &[&str]) -> Served {
        let mut args = self.serve_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Served::start(&args)
    }
}

/// alice, bob and carol; `readers` holds the users named.
pub(crate) fn entities(readers: &[&str]) -> String {
    let users: Vec<Json> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| {
            let parents: Vec<Json> = if readers.contains(u) {
                vec![json!({"type": "Group", "id": "readers"})]
            } else {
                vec![]
            };
            json!({"uid": {"type": "User", "id": u}, "attrs": {}, "parents": parents})
        })
        .chain([
            json!({"uid": {"type": "Group", "id": "readers"}, "attrs": {}, "parents": []}),
            json!({"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}),
        ])
        .collect();
    serde_json::to_string_pretty(&users).unwrap()
}

pub(crate) fn request(user: &str, action: &str) -> String {
    json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": action},
        "resource": {"type": "Doc", "id": "d"}, "context": {}})
    .to_string()
}

pub(crate) fn decision(server: &Served, user: &str, action: &str) -> String {
    let reply = server.post("/v1/is_authorized", &request(user, action));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["decision"].as_str().unwrap().to_string()
}

pub(crate) fn revision(server: &Served) -> String {
    server.get("/v1/status").json()["revision"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits (at most 5 s) until `user` may (or may not) do `action`; how
/// long it took.
pub(crate) fn flips(server: &Served, user: &str, action: &str, to: &str) -> Duration {
    let started = Instant::now();
    let held = server.wait_until(Duration::from_secs(5), |s| decision(s, user, action) == to);
    assert!(
        held,
        "{user} {action} never became {to}:\n{}",
        server.stderr()
    );
    started.elapsed()
}

#[test]
fn every_kind_of_input_reloads_and_a_broken_file_is_refused() {
    let world = World::new();
    let server = world.serve(&[]);
    assert_eq!(decision(&server, "alice", "view"), "allow");
    assert_eq!(decision(&server, "bob", "view"), "deny");
    // The entity file: bob joins the readers.
    world.write("entities.json", &entities(&["bob"]));
    flips(&server, "bob", "view", "allow");
    // The links file: carol becomes an editor.
    world.write("links.json", r#"[{"template_id": "editors", "link_id": "carol-edits", "args": {"?principal": "User::\"carol\""}}]"#);
    flips(&server, "carol", "edit", "allow");
    // A policy file (rewritten in place): alice is forbidden.
    world.overwrite(
        "policies/main.cedar",
        &format!("{POLICIES}forbid(principal == User::\"alice\", action, resource);\n"),
    );
    flips(&server, "alice", "view", "deny");
    // A new policy file in the folder.
    world.write(
        "policies/more.cedar",
        "permit(principal == User::\"carol\", action == Action::\"view\", resource);\n",
    );
    flips(&server, "carol", "view", "allow");
    // A declaration file: a new entity type changes the revision.
    let before = revision(&server);
    world.write(
        "schema/schema.cedarschema",
        &format!("{SCHEMA}entity Folder;\n"),
    );
    assert!(server.wait_until(Duration::from_secs(5), |s| revision(s) != before));

    // A broken policy file: refused, the old snapshot keeps serving.
    let serving = revision(&server);
    world.write(
        "policies/more.cedar",
        "permit(principal, action, resource) when { 1 + };\n",
    );
    let refused = server.wait_until(Duration::from_secs(5), |s| {
        s.get("/v1/status").json()["last_error"].is_object()
    });
    assert!(refused, "{}", server.stderr());
    let status = server.get("/v1/status").json();
    assert_eq!(status["revision"], serving.as_str());
    let message = status["last_error"]["message"].as_str().unwrap();
    assert!(message.contains("more.cedar:1:"), "{message}");
    assert_eq!(decision(&server, "carol", "view"), "allow");
    assert!(server
        .get("/metrics")
        .body
        .contains("mspl_reloads_total{result=\"failed\"} 1\n"));
    // Reported once, however many times it is looked at.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        server.stderr().matches("refused the new inputs").count(),
        1,
        "{}",
        server.stderr()
    );
    // Mended: loaded, the error cleared.
    world.write("policies/more.cedar", "");
    flips(&server, "carol", "view", "deny");
    assert_eq!(server.get("/v1/status").json()["last_error"], Json::Null);
    // A deleted entity file is refused too (and the old one serves).
    std::fs::remove_file(world.path("entities.json")).unwrap();
    assert!(
        server.wait_until(Duration::from_secs(5), |s| s.get("/v1/status").json()
            ["last_error"]
            .is_object())
    );
    assert_eq!(decision(&server, "bob", "view"), "allow");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

#[test]
fn sighup_and_the_poll_reload_without_file_events() {
    let world = World::new();
    let server = world.serve(&["--watch", "off"]);
    world.write("entities.json", &entities(&["bob"]));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        decision(&server, "bob", "view"),
        "deny",
        "--watch off watches nothing"
    );
    server.signal(libc::SIGHUP);
    flips(&server, "bob", "view", "allow");
    drop(server);
    let server = world.serve(&["--watch", "poll", "--poll-interval-ms", "100"]);
    world.write("entities.json", &entities(&[]));
    flips(&server, "bob", "view", "deny");
}

#[test]
fn reload_under_load_fails_no_request_and_each_change_is_in_effect_within_a_second() {
    let world = World::new();
    let server = world.serve(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (addr, stop, sent, failures) = (
                server.addr.clone(),
                stop.clone(),
                sent.clone(),
                failures.clone(),
            );
            std::thread::spawn(move || {
                let mut conn = served::Conn::open(&addr);
                let body = request(["alice", "bob", "carol", "alice"][i], "view");
                while !stop.load(Ordering::Relaxed) {
                    match conn.try_send("POST", "/v1/is_authorized", &[], body.as_bytes()) {
                        Ok(r) if r.status == 200 => {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{} {}", r.status, r.body)),
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    for change in 0..20 {
        let forbid = change % 2 == 0;
        let text = if forbid {
            format!("{POLICIES}forbid(principal == User::\"alice\", action, resource);\n")
        } else {
            POLICIES.to_string()
        };
        let written = Instant::now();
        if change % 4 < 2 {
            world.write("policies/main.cedar", &text);
        } else {
            world.overwrite("policies/main.cedar", &text);
        }
        let to = if forbid { "deny" } else { "allow" };
        let held = server.wait_until(Duration::from_secs(5), |s| {
            decision(s, "alice", "view") == to
        });
        assert!(
            held,
            "change {change} never took effect:\n{}",
            server.stderr()
        );
        let took = written.elapsed();
        worst = worst.max(took);
        total += took;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let sent = sent.load(Ordering::Relaxed);
    eprintln!(
        "reload under load: 20 changes, {sent} requests, none failed; in effect after {:.0} ms on average, {:.0} ms at worst",
        total.as_secs_f64() * 1000.0 / 20.0,
        worst.as_secs_f64() * 1000.0
    );
    assert!(sent > 100, "the clients sent only {sent} requests");
    // A hang, not a speed: the latency is the serve benchmark's to measure.
    assert!(worst < Duration::from_secs(10), "a change took {worst:?}");
}

/// A static file server on loopback for one path, with ETags: counts the
/// 200s and 304s it answered.
pub(crate) struct FileServer {
    pub(crate) addr: String,
    body: Arc<Mutex<Option<Vec<u8>>>>,
    ok: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FileServer {
    pub(crate) fn start() -> FileServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let body: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let ok = Arc::new(AtomicUsize::new(0));
        let not_modified = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, o, n, s) = (body.clone(), ok.clone(), not_modified.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut etag_asked = None;
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((n, v)) = h.split_once(':') {
                        if n.eq_ignore_ascii_case("if-none-match") {
                            etag_asked = Some(v.trim().to_string());
                        }
                    }
                }
                let current = b.lock().unwrap().clone();
                let mut stream = stream;
                let reply = match current {
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                    Some(bytes) => {
                        let etag = format!(
                            "\"{:x}-{}\"",
                            bytes
                                .iter()
                                .fold(0u64, |h, &x| h.wrapping_mul(31).wrapping_add(x as u64)),
                            bytes.len()
                        );
                        if etag_asked.as_deref() == Some(etag.as_str()) {
                            n.fetch_add(1, Ordering::Relaxed);
                            format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n").into_bytes()
                        } else {
                            o.fetch_add(1, Ordering::Relaxed);
                            let mut r = format!("HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", bytes.len()).into_bytes();
                            r.extend_from_slice(&bytes);
                            r
                        }
                    }
                };
                let _ = stream.write_all(&reply);
            }
        });
        FileServer {
            addr,
            body,
            ok,
            not_modified,
            stop,
        }
    }

    pub(crate) fn set(&self, bytes: Option<Vec<u8>>) {
        *self.body.lock().unwrap() = bytes;
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn mspl(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mspl"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `mspl bundle` of the world: the bytes and the revision it printed.
pub(crate) fn bundle(world: &World, out: &Path) -> (Vec<u8>, String) {
    let (code, stdout, stderr) = mspl(&[
        "bundle",
        world.dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    (std::fs::read(out).unwrap(), stdout.trim().to_string())
}

#[test]
fn bundles_are_picked_up_unchanged_ones_cost_a_304_and_bad_ones_are_refused() {
    let world = World::new();
    let out = tempfile::tempdir().unwrap();
    let (first, first_revision) = bundle(&world, &out.path().join("b1.tar.gz"));
    // The same bytes for the same files.
    assert_eq!(bundle(&world, &out.path().join("b1-again.tar.gz")).0, first);
    // Files served by flags have the bundle's revision.
    let by_flags = world.serve(&[]);
    assert_eq!(revision(&by_flags), first_revision);
    drop(by_flags);

    let files = FileServer::start();
    let url = format!("http://{}/bundle.tar.gz", files.addr);
    // Not there yet: the server starts, unready.
    let server = Served::start(&["--bundle", &url, "--bundle-interval", "0.1"]);
    assert_eq!(server.get("/health/ready").status, 503);
    assert_eq!(
        server
            .post("/v1/is_authorized", &request("alice", "view"))
            .status,
        503
    );
    files.set(Some(first.clone()));
    assert!(
        server.wait_until(Duration::from_secs(5), |s| s.get("/health/ready").status
            == 200)
    );
    assert_eq!(revision(&server), first_revision);
    assert_eq!(decision(&server, "alice", "view"), "allow");
    // Unchanged: 304s, one download.
    assert!(server.wait_until(Duration::from_secs(10), |_| {
        files.not_modified.load(Ordering::Relaxed) >= 2
    }));
    assert_eq!(files.ok.load(Ordering::Relaxed), 1);
    // A new bundle is picked up.
    world.write("entities.json", &entities(&["bob"]));
    let (second, second_revision) = bundle(&world, &out.path().join("b2.tar.gz"));
    files.set(Some(second));
    flips(&server, "bob", "view", "allow");
    assert_eq!(revision(&server), second_revision);
    // Bad bundles: not gzip, a manifest that lies, a path outside.
    for (bad, says) in [
        (b"not a tarball".to_vec(), "not a .tar.gz"),
        (
            tarball(&[
                ("manifest.json", "{\"revision\": \"abc\"}"),
                ("policies/a.cedar", "permit(principal, action, resource);"),
            ]),
            "its manifest says revision abc",
        ),
        (
            tarball(&[("manifest.json", "{}"), ("../evil.cedar", "")]),
            "outside the bundle",
        ),
    ] {
        files.set(Some(bad));
        let refused = server.wait_until(Duration::from_secs(5), |s| {
            s.get("/v1/status").json()["last_error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says))
        });
        assert!(refused, "{says}: {}", server.get("/v1/status").body);
        assert_eq!(revision(&server), second_revision);
        assert_eq!(decision(&server, "bob", "view"), "allow");
    }
    // A bundle that does not build is refused the same way.
    world.write(
        "policies/main.cedar",
        "permit(principal, action, resource) when { 1 + };",
    );
    let (code, _, stderr) = mspl(&[
        "bundle",
        world.dir.path().to_str().unwrap(),
        "--out",
        out.path().join("b3.tar.gz").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "mspl bundle refuses what does not load");
    assert!(stderr.contains("main.cedar:1:"), "{stderr}");
    assert!(!out.path().join("b3.tar.gz").exists());
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

/// A tar.gz of `entries`, made by hand (for bundles `mspl bundle` would
/// never make).
pub(crate) fn tarball(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut raw = Vec::new();
    for (name, text) in entries {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..107].copy_from_slice(b"0000644");
        let size = format!("{:011o}", text.len());
        header[124..135].copy_from_slice(size.as_bytes());
        header[136..147].copy_from_slice(b"00000000000");
        header[156] = b'0';
        header[257..262].copy_from_slice(b"ustar");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        raw.extend_from_slice(&header);
        raw.extend_from_slice(text.as_bytes());
        raw.resize(raw.len().div_ceil(512) * 512, 0);
    }
    raw.resize(raw.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let bytes = gz.finish().unwrap();
    let mut check = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut check)
        .unwrap();
    bytes
}

#[test]
fn writes_beside_the_inputs_that_are_no_input_trigger_nothing() {
    let world = World::new();
    let log = world.arg("decisions.jsonl");
    let server = world.serve(&["--decision-log", &log]);
    let mut conn = server.connect();
    let body = request("alice", "view");
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        conn.send("POST", "/v1/is_authorized", &[], body.as_bytes());
        std::fs::write(world.path("notes.txt"), "not a policy").unwrap();
        std::fs::write(world.path("policies/README.md"), "not a policy").unwrap();
    }
    let metrics = server.get("/metrics").body;
    let unchanged: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mspl_reloads_total{result=\"unchanged\"} "))
        .unwrap()
        .parse()
        .unwrap();
    // The poll's first look, at most.
    assert!(
        unchanged <= 1,
        "{unchanged} reloads for files that are no input:\n{metrics}"
    );
    assert!(std::fs::read_to_string(&log).unwrap().lines().count() > 10);
}

#[test]
fn post_reload_answers_when_the_reload_ended_and_says_why_it_refused() {
    let world = World::new();
    world.write("token", "t0ken\n");
    let token = world.arg("token");
    let server = world.serve(&["--watch", "off", "--admin-token-file", &token]);
    let reload = |s: &Served| {
        s.connect().send(
            "POST",
            "/v1/reload",
            &[("Authorization", "Bearer t0ken")],
            b"",
        )
    };
    let first = revision(&server);
    assert_eq!(reload(&server).json()["result"], "unchanged");
    world.write(
        "policies/main.cedar",
        "forbid(principal, action, resource) when { ( };\n",
    );
    let refused = reload(&server);
    assert_eq!(refused.status, 422, "{}", refused.body);
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("main.cedar:1:"), "{message}");
    assert!(message.contains("old snapshot keeps serving"), "{message}");
    // Asked again with the same broken file: refused again, for the same reason.
    let again = reload(&server);
    assert_eq!(again.status, 422);
    assert!(again.body.contains("main.cedar:1:"));
    assert_eq!(revision(&server), first);
    world.write("policies/main.cedar", POLICIES);
    let loaded = reload(&server);
    assert_eq!(loaded.status, 200);
    // The mended file is the original one: its revision serves again.
    assert_eq!(loaded.json()["result"], "unchanged");
    world.write("policies/main.cedar", &format!("{POLICIES}// a comment\n"));
    let loaded = reload(&server).json();
    assert_eq!(loaded["result"], "loaded");
    assert_eq!(loaded["revision"].as_str().unwrap(), revision(&server));
    assert_ne!(revision(&server), first);
}
