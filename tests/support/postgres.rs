//! Throwaway PostgreSQL clusters for the database tests (shared with the
//! data-filtering tests). `.ci/run` starts one and names it in
//! `MSPL_TEST_PG_SOCKET` and `MSPL_TEST_PG_PORT`; without them a test
//! binary starts its own (Debian's `initdb`, as the `postgres` user when
//! run as root), its data in a temporary folder, reached over a Unix
//! socket there and a loopback port, stopped and removed when the binary
//! exits. A test that restarts its server gets a private cluster.
//!
//! Outside CI, where no server can be started, the tests skip with a
//! visible message; with `CI=true` they must run.
//!
//! Authentication: the superuser `postgres` over the socket (trust); the
//! role `app`, password `app-secret`, over TCP (SCRAM), for the tests of
//! passwords.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The password of the role `app`.
pub const APP_PASSWORD: &str = "app-secret";

/// A running cluster.
pub struct Cluster {
    /// The folder of its Unix socket.
    pub socket: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// Its data folder and binaries, when this process started it.
    owned: Option<Owned>,
}

struct Owned {
    root: PathBuf,
    bin: PathBuf,
    user: Option<&'static str>,
}

static SHARED: OnceLock<Option<Cluster>> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// Whether CI demands that the database tests run.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips `what` for `why`, or fails it in CI.
fn unavailable(what: &str, why: &str) {
    if in_ci() {
        panic!("{what}: {why}; CI must run the database tests");
    }
    super::skip::skip(what, why);
}

/// The binaries: `initdb` and `pg_ctl` on the PATH, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn binaries() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(newest) = found.pop() {
        return Some(newest);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}

impl Cluster {
    /// The cluster shared by the tests of this binary, or `None` after
    /// saying why `what` is skipped.
    pub fn shared(what: &str) -> Option<&'static Cluster> {
        let cluster = SHARED.get_or_init(|| {
            if let (Ok(socket), Ok(port)) = (
                std::env::var("MSPL_TEST_PG_SOCKET"),
                std::env::var("MSPL_TEST_PG_PORT"),
            ) {
                let cluster = Cluster {
                    socket: PathBuf::from(socket),
                    port: port.parse().expect("MSPL_TEST_PG_PORT is a port"),
                    owned: None,
                };
                cluster.prepare();
                return Some(cluster);
            }
            match Cluster::start_new(&Setup::default()) {
                Ok(c) => {
                    extern "C" fn stop_shared() {
                        if let Some(Some(c)) = SHARED.get() {
                            c.stop_and_remove();
                        }
                    }
                    // SAFETY: registers a plain function to run at exit.
                    unsafe {
                        libc::atexit(stop_shared);
                    }
                    Some(c)
                }
                Err(why) => {
                    eprintln!("no PostgreSQL for the database tests: {why}");
                    None
                }
            }
        });
        if cluster.is_none() {
            unavailable(what, "no PostgreSQL server can be started here");
        }
        cluster.as_ref()
    }

    /// A cluster of the test's own (to stop and start), or `None` after
    /// saying why `what` is skipped. Stopped and removed when dropped.
    pub fn private(what: &str) -> Option<Cluster> {
        Cluster::private_with(what, &[], |_| {}, "")
    }

    /// A private cluster with `files` copied into its data folder (mode
    /// 0600), `conf` adding to `postgresql.conf`, and `hba` (when not
    /// empty) as its `pg_hba.conf`.
    pub fn private_with(
        what: &str,
        files: &[&Path],
        conf: impl FnOnce(&mut String),
        hba: &str,
    ) -> Option<Cluster> {
        let mut extra = String::new();
        conf(&mut extra);
        let setup = Setup {
            files: files.iter().map(|p| p.to_path_buf()).collect(),
            conf: extra,
            hba: hba.to_string(),
        };
        match Cluster::start_new(&setup) {
            Ok(c) => Some(c),
            Err(why) => {
                unavailable(
                    what,
                    &format!("no PostgreSQL server can be started here ({why})"),
                );
                None
            }
        }
    }

    /// initdb, configure and start a cluster in a new temporary folder.
    fn start_new(setup: &Setup) -> Result<Cluster, String> {
        let bin = binaries().ok_or("initdb and pg_ctl are not installed")?;
        let root = std::env::temp_dir().join(format!(
            "mspl-pg-{}-{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        // SAFETY: geteuid has no preconditions.
        let root_user = unsafe { libc::geteuid() } == 0;
        let user = root_user.then_some("postgres");
        if root_user {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&root)
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("no `postgres` user to run the server as".into());
            }
        }
        let port = free_port();
        let cluster = Cluster {
            socket: root.clone(),
            port,
            owned: Some(Owned {
                root: root.clone(),
                bin,
                user,
            }),
        };
        let data = root.join("data");
        cluster.run_tool(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        setup.apply(&data, user.is_some())?;
        cluster.start()?;
        cluster.prepare();
        Ok(cluster)
    }

    /// Runs one of the server's tools (as the `postgres` user when root).
    fn run_tool(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let owned = self.owned.as_ref().ok_or("not our cluster")?;
        let exe = owned.bin.join(tool);
        let mut command = match owned.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = command
            .args(args)
            .current_dir(&owned.root)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Starts the server (and waits until it accepts connections).
    pub fn start(&self) -> Result<(), String> {
        let owned = self.owned.as_ref().ok_or("not our cluster")?;
        let data = owned.root.join("data");
        let options = format!(
            "-k {} -c listen_addresses=127.0.0.1 -p {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            owned.root.display(),
            self.port
        );
        self.run_tool(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                owned.root.join("log").to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    /// Stops the server at once (connections cut, as a crash would).
    pub fn stop(&self) {
        if let Some(owned) = &self.owned {
            let data = owned.root.join("data");
            let _ = self.run_tool(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
        }
    }

    fn stop_and_remove(&self) {
        self.stop();
        if let Some(owned) = &self.owned {
            let _ = std::fs::remove_dir_all(&owned.root);
        }
    }

    /// The role `app` with its password, once per cluster.
    fn prepare(&self) {
        let mut client = self.superuser("postgres");
        client
            .batch_execute(&format!(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN
                     CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}';
                   END IF;
                 END $$;"
            ))
            .expect("the app role");
    }

    /// A connection as the superuser to `db`.
    pub fn superuser(&self, db: &str) -> postgres::Client {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match postgres::Config::new()
                .host_path(&self.socket)
                .port(self.port)
                .user("postgres")
                .dbname(db)
                .connect(postgres::NoTls)
            {
                Ok(c) => return c,
                Err(e) if Instant::now() > deadline => panic!("cannot connect to {db}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// A new empty database named after `name`, owned by `app` (who may
    /// log in to it over TCP): its URL as the superuser over the socket.
    pub fn database(&self, name: &str) -> String {
        let db = format!(
            "{}_{}_{}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = self.superuser("postgres");
        client
            .batch_execute(&format!("CREATE DATABASE {db} OWNER app"))
            .expect("a database");
        self.url(&db)
    }

    /// The URL of `db` as the superuser over the socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@{}:{}/{db}",
            percent(&self.socket),
            self.port
        )
    }

    /// The URL of `db` as `app` over TCP, without the password.
    pub fn app_url(&self, db: &str) -> String {
        format!("postgres://app@127.0.0.1:{}/{db}", self.port)
    }

    /// The database name of one of our URLs.
    pub fn db_of(url: &str) -> &str {
        url.rsplit('/').next().unwrap_or_default()
    }

    /// A connection as the superuser to the database `url` names.
    pub fn client(&self, url: &str) -> postgres::Client {
        self.superuser(Cluster::db_of(url))
    }
}

/// What a private cluster adds to its configuration.
#[derive(Default)]
struct Setup {
    files: Vec<PathBuf>,
    conf: String,
    hba: String,
}

impl Setup {
    fn apply(&self, data: &Path, chown: bool) -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let own = |path: &Path| -> Result<(), String> {
            if chown {
                let ok = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(path)
                    .status()
                    .map_err(|e| e.to_string())?
                    .success();
                if !ok {
                    return Err(format!("cannot chown {}", path.display()));
                }
            }
            Ok(())
        };
        for file in &self.files {
            let to = data.join(file.file_name().ok_or("a file name")?);
            std::fs::copy(file, &to).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| e.to_string())?;
            own(&to)?;
        }
        if !self.conf.is_empty() {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .map_err(|e| e.to_string())?;
            f.write_all(self.conf.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        if !self.hba.is_empty() {
            std::fs::write(data.join("pg_hba.conf"), &self.hba).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_and_remove();
    }
}

/// A socket folder in a URL's host: `/` as `%2F`.
fn percent(path: &Path) -> String {
    path.display().to_string().replace('/', "%2F")
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
