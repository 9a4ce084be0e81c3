//! A `mspl serve` process on a loopback port chosen by the kernel, and
//! the client of `http_client.rs` for it. Every server is killed when its
//! handle drops, so a failing test leaves nothing running.

#![allow(dead_code)]

#[path = "http_client.rs"]
mod http_client;

pub use http_client::{Conn, Reply};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running server.
pub struct Served {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    stderr: Arc<Mutex<String>>,
    /// How to connect over TLS, when the server serves it.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Served {
    /// Starts `mspl serve ARGS --addr 127.0.0.1:0` and waits until it
    /// listens; panics with its standard error when it does not.
    pub fn start(args: &[&str]) -> Served {
        Served::start_with_env(args, &[])
    }

    /// [`Served::start`] with environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mspl"));
        command
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("MSPL_ADMIN_TOKEN");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("mspl serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (found, listening) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line
                    .split("listening on http://")
                    .nth(1)
                    .or_else(|| line.split("listening on https://").nth(1))
                {
                    if let Some(f) = found.take() {
                        let _ = f.send(at.trim().to_string());
                    }
                }
                let mut s = kept.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let addr = match listening.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!("mspl serve did not start:\n{}", stderr.lock().unwrap());
            }
        };
        Served {
            child: Some(child),
            addr,
            stderr,
            tls: None,
        }
    }

    /// What the server printed on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends a signal to the server.
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            unsafe {
                libc::kill(child.id() as i32, signal);
            }
        }
    }

    /// Sends `SIGTERM` and waits for the exit: its code and standard error.
    pub fn stop(self) -> (i32, String) {
        self.stop_within(Duration::from_secs(30))
    }

    /// [`Served::stop`], failing when the exit takes longer than `limit`.
    pub fn stop_within(mut self, limit: Duration) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().expect("running");
        let code = wait_for(&mut child, limit);
        std::thread::sleep(Duration::from_millis(50));
        (code, self.stderr())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A line of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// A new connection to the server.
    pub fn connect(&self) -> Conn {
        match &self.tls {
            Some(config) => Conn::open_tls(&self.addr, config),
            None => Conn::open(&self.addr),
        }
    }

    /// This server's connections from now on over TLS with `config`.
    pub fn over_tls(mut self, config: Arc<rustls::ClientConfig>) -> Served {
        self.tls = Some(config);
        self
    }

    /// `GET path` on a new connection.
    pub fn get(&self, path: &str) -> Reply {
        self.connect().send("GET", path, &[], b"")
    }

    /// `POST path` with `body` on a new connection.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.connect().send("POST", path, &[], body.as_bytes())
    }

    /// Polls `until` every 20 ms for at most `limit`; whether it held.
    pub fn wait_until(&self, limit: Duration, mut until: impl FnMut(&Served) -> bool) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if until(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        until(self)
    }
}

fn wait_for(child: &mut Child, limit: Duration) -> i32 {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
