//! Where the database is and how to log in, as libpq reads it: a URL
//! (`postgres://` or `postgresql://`) or `key=value` words, then the `PG*`
//! environment variables for what they leave out, then the password file
//! (`PGPASSFILE`, `~/.pgpass`) for the password. A password is never shown:
//! every name of the database mspl prints is [`Target::shown`].

use std::time::Duration;

/// A database to connect to, parsed and completed.
#[derive(Clone)]
pub struct Target {
    /// What `tokio-postgres` connects with.
    pub config: postgres::Config,
    /// The TLS mode and roots (`sslmode`, `sslrootcert`).
    pub tls: super::tls::TlsSettings,
    /// The URL without its password, for every message.
    shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Parameters mspl reads itself rather than passing on.
const OURS: [&str; 4] = ["sslmode", "sslrootcert", "passfile", "sslnegotiation"];

impl Target {
    /// Parses `text` (a URL or `key=value` words) and completes it from
    /// `env` (the `PG*` variables) and the password file. `told_inline`
    /// is true when the text was written on the command line, where a
    /// password draws a warning (returned, to print).
    pub fn parse(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        told_inline: bool,
    ) -> Result<(Target, Option<String>), String> {
        let text = text.trim();
        let (mut rest, ours) = split_ours(text)?;
        // The driver fills in 5432 for a URL host without a port, so
        // `PGPORT` goes into the text before it is read.
        if !port_given(&rest) {
            if let Some(port) = env("PGPORT").filter(|p| !p.is_empty()) {
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("PGPORT `{port}` is not a port number"))?;
                rest = with_port(&rest, port);
            }
        }
        let mut config: postgres::Config = rest.parse().map_err(|e: postgres::Error| {
            format!(
                "the database URL does not read ({}); expected postgres://USER@HOST:PORT/DATABASE",
                without_password(&e.to_string())
            )
        })?;
        let inline_password = config.get_password().is_some();
        let get = |key: &str, var: &str| -> Option<String> {
            ours.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .or_else(|| env(var).filter(|v| !v.is_empty()))
        };
        if config.get_hosts().is_empty() {
            match env("PGHOST").filter(|h| !h.is_empty()) {
                Some(hosts) => {
                    for host in hosts.split(',') {
                        config.host(host);
                    }
                }
                None => {
                    config.host(&default_host());
                }
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .filter(|u| !u.is_empty())
                .or_else(os_user)
                .ok_or("no database user: give one in the URL or PGUSER")?;
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            if let Some(db) = env("PGDATABASE").filter(|d| !d.is_empty()) {
                config.dbname(&db);
            }
        }
        if config.get_application_name().is_none() {
            let name = env("PGAPPNAME")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "mspl".into());
            config.application_name(&name);
        }
        if config.get_connect_timeout().is_none() {
            let seconds = env("PGCONNECT_TIMEOUT")
                .and_then(|t| t.parse::<u64>().ok())
                .filter(|&t| t > 0)
                .unwrap_or(10);
            config.connect_timeout(Duration::from_secs(seconds));
        }
        let tls = super::tls::TlsSettings::read(
            get("sslmode", "PGSSLMODE").as_deref(),
            get("sslrootcert", "PGSSLROOTCERT"),
            env,
        )?;
        config.ssl_mode(tls.wire_mode());
        if config.get_password().is_none() {
            if let Some(password) = env("PGPASSWORD").filter(|p| !p.is_empty()) {
                config.password(&password);
            } else {
                let file = get("passfile", "PGPASSFILE").or_else(|| {
                    env("HOME").map(|home| format!("{}/.pgpass", home.trim_end_matches('/')))
                });
                if let Some(file) = file {
                    if let Some(password) = super::pgpass::lookup(&file, &config)? {
                        config.password(&password);
                    }
                }
            }
        }
        let shown = shown(&config);
        let warning = (told_inline && inline_password).then(|| {
            format!(
                "warning: the database URL for {shown} holds a password, which other users of this machine can see in the process list; give it in PGPASSWORD, ~/.pgpass or a file named by --entities-url-file"
            )
        });
        Ok((Target { config, tls, shown }, warning))
    }

    /// The database's name for messages: the URL with no password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Connects (TLS as `sslmode` says).
    pub fn connect(&self) -> Result<postgres::Client, String> {
        super::tls::connect(self).map_err(|e| format!("cannot connect to {}: {e}", self.shown))
    }
}

/// Whether `text` (a URL, our parameters taken out, or `key=value`
/// words) names a port: `:PORT` after a host, `?port=`, or a `port` word.
fn port_given(text: &str) -> bool {
    match text.split_once("://") {
        Some((_, after)) => {
            let (authority, query) = match after.find(['/', '?']) {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let in_hosts = hosts.split(',').any(|host| {
                // `[::1]:5432`: the port follows the bracket.
                let host = host.rsplit_once(']').map_or(host, |(_, tail)| tail);
                host.contains(':')
            });
            in_hosts
                || query
                    .split(['?', '&'])
                    .any(|pair| pair.starts_with("port="))
        }
        None => text.split_whitespace().any(|word| {
            word.trim_start().starts_with("port")
                && word.trim_start()["port".len()..]
                    .trim_start()
                    .starts_with('=')
        }),
    }
}

/// `text` with `port` given: after each host of a URL (one with no host
/// gets the query parameter), or as a `port` word.
fn with_port(text: &str, port: u16) -> String {
    let Some((scheme, after)) = text.split_once("://") else {
        return format!("{text} port={port}");
    };
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, tail) = after.split_at(end);
    let (user, hosts) = match authority.rsplit_once('@') {
        Some((user, hosts)) => (format!("{user}@"), hosts),
        None => (String::new(), authority),
    };
    if hosts.is_empty() {
        let joiner = if tail.contains('?') { '&' } else { '?' };
        return format!("{text}{joiner}port={port}");
    }
    let hosts: Vec<String> = hosts.split(',').map(|h| format!("{h}:{port}")).collect();
    format!("{scheme}://{user}{}{tail}", hosts.join(","))
}

/// Takes the parameters mspl reads itself out of the URL's query (or the
/// `key=value` words): the rest, and those parameters.
fn split_ours(text: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut ours = Vec::new();
    // libpq's two URI prefixes; anything else is `key=value` words.
    if ["postgres://", "postgresql://"]
        .iter()
        .any(|scheme| text.starts_with(scheme))
    {
        let Some((head, query)) = text.split_once('?') else {
            return Ok((text.to_string(), ours));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if OURS.contains(&key) {
                ours.push((key.to_string(), percent_decode(value)?));
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{}", kept.join("&"))
        };
        return Ok((rest, ours));
    }
    // `key=value` words: values quoted with '…' may hold spaces.
    let mut kept = Vec::new();
    for word in words(text) {
        match word.split_once('=') {
            Some((key, value)) if OURS.contains(&key.trim()) => {
                ours.push((key.trim().to_string(), value.to_string()));
            }
            _ => kept.push(word),
        }
    }
    let rest = kept
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")),
            None => w.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    Ok((rest, ours))
}

/// The `key=value` words of a connection string, quotes taken off.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            '\'' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `%XX` escapes decoded.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if b == b'%' {
            let hex = bytes
                .get(at + 1..at + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("a bad %-escape in the database URL near `{text}`"))?;
            out.push(hex);
            at += 3;
        } else {
            out.push(b);
            at += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the database URL's parameters are not UTF-8".into())
}

/// libpq's default: the Unix socket folder Debian builds it with, when it
/// is there; else `/tmp`'s socket, else the loopback address.
fn default_host() -> String {
    for folder in ["/var/run/postgresql", "/tmp"] {
        let socket = std::path::Path::new(folder).join(".s.PGSQL.5432");
        if crate::files::meta::metadata(&socket).is_ok() {
            return folder.into();
        }
    }
    "localhost".into()
}

/// The name of the user this process runs as.
fn os_user() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; the
    // name is copied out at once, before any other call could reuse it.
    unsafe {
        let entry = libc::getpwuid(libc::geteuid());
        if entry.is_null() || (*entry).pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr((*entry).pw_name)
            .to_str()
            .ok()
            .map(str::to_string)
    }
}

/// `postgres://user@host:port/db`, never a password.
fn shown(config: &postgres::Config) -> String {
    use postgres::config::Host;
    let user = config.get_user().unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string().replace('/', "%2F"),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{db}", hosts.join(","))
}

/// A driver's message with anything after `password=` cut out.
fn without_password(message: &str) -> String {
    match message.find("password") {
        Some(at) => format!("{}…", message.get(..at).unwrap_or_default()),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_url_is_completed_from_the_environment_and_never_shows_its_password() {
        let env = env_of(&[
            ("PGPORT", "6543"),
            ("PGDATABASE", "perm"),
            ("HOME", "/nonexistent"),
        ]);
        let (t, warning) =
            Target::parse("postgresql://app:s3cret@db.internal/", &env, true).unwrap();
        assert_eq!(t.shown(), "postgres://app@db.internal:6543/perm");
        assert!(!format!("{t:?}").contains("s3cret"));
        let warning = warning.unwrap();
        assert!(warning.contains("password") && !warning.contains("s3cret"));
        let (t, warning) = Target::parse("postgres://app:s3cret@db/x", &env, false).unwrap();
        assert!(warning.is_none());
        assert_eq!(t.config.get_password(), Some(&b"s3cret"[..]));
    }

    #[test]
    fn pgport_applies_only_where_no_port_was_given() {
        let env = env_of(&[("PGPORT", "6543"), ("HOME", "/nonexistent")]);
        let shown = |text: &str| {
            Target::parse(text, &env, false)
                .unwrap()
                .0
                .shown()
                .to_string()
        };
        assert_eq!(
            shown("postgres://u@h1,h2/d"),
            "postgres://u@h1:6543,h2:6543/d"
        );
        assert_eq!(shown("postgres://u@h1:5432/d"), "postgres://u@h1:5432/d");
        assert_eq!(shown("postgres://u@[::1]/d"), "postgres://u@[::1]:6543/d");
        assert_eq!(shown("host=h user=u dbname=d"), "postgres://u@h:6543/d");
        assert_eq!(
            shown("host=h port=7000 user=u dbname=d"),
            "postgres://u@h:7000/d"
        );
    }

    #[test]
    fn our_parameters_are_taken_out_and_the_rest_passed_on() {
        let env = env_of(&[("HOME", "/nonexistent")]);
        let (t, _) = Target::parse(
            "postgres://u@h:5/d?sslmode=disable&application_name=x",
            &env,
            true,
        )
        .unwrap();
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert!(Target::parse("postgres://u@h/d?sslmode=sometimes", &env, true).is_err());
        let (t, _) = Target::parse(
            "host=/tmp user=me dbname='my db' sslmode=disable",
            &env,
            true,
        )
        .unwrap();
        assert_eq!(t.config.get_dbname(), Some("my db"));
        assert_eq!(t.shown(), "postgres://me@%2Ftmp/my db");
    }
}
