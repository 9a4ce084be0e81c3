//! A Model Studio world of about a million entities, written as it is
//! generated, and a server run as a child process: shared by the benches
//! of live entity data (`live.rs`) and of PostgreSQL (`postgres.rs`).

// Each bench uses part of it.
#![allow(dead_code)]

use crate::http_client::Conn;
use mspl_peers::spec::{FEATURES, SYSTEM_POLICIES};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The world's shape.
pub struct Shape {
    /// The generator's seed.
    pub seed: u64,
    /// Accounts.
    pub accounts: usize,
    /// RAM users per account.
    pub users: usize,
    /// RAM roles per account.
    pub roles: usize,
    /// Sub-workspaces per account.
    pub workspaces: usize,
    /// Models.
    pub models: usize,
}

/// The median and the 99th percentile of `times` (sorted in place).
pub fn quantiles(times: &mut [Duration]) -> (Duration, Duration) {
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
pub struct Generated {
    /// Entities written.
    pub entities: usize,
    /// Requests to send (JSON).
    pub requests: Vec<String>,
    /// The user whose membership changes.
    pub probe_user: String,
    /// A sub-workspace it is not in.
    pub probe_workspace: String,
}

/// Writes a Model Studio world to `path` as it is generated (the
/// entities never all in memory): per account, its workspaces (a default
/// and `--workspaces` more, each authorized for a few models), their ten
/// pages, `--users` RAM users (in one or two workspaces, with a system
/// policy or two and an operation or two) and `--roles` RAM roles.
pub fn write_world(path: &Path, args: &Shape) -> Generated {
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
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: String,
}

impl Server {
    /// Starts this program again with `--serve DIR` and `env`, and waits
    /// until it is ready.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let exe = std::env::current_exe().expect("this program");
        let mut child = Command::new(exe);
        child.arg("--serve").arg(dir);
        for (k, v) in env {
            child.env(k, v);
        }
        let mut child = child
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

    /// A field of the server's `/proc/PID/status`, in KiB.
    pub fn rss_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Resets the peak RSS (`VmHWM`) to the current one.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// Stops it (SIGTERM) and waits.
    pub fn stop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    /// A bench that fails midway leaves no server running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
