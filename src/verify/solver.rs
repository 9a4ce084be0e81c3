//! The solver: a separate process speaking SMT-LIB on its standard input
//! (z3 or cvc5), with a time and a memory limit per query. Whatever goes
//! wrong — a crash, a hang, an answer it should not give — is an
//! `Unknown` with the reason, never a verdict.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Which solver a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Z3.
    Z3,
    /// cvc5.
    Cvc5,
}

/// A solver to start, per query.
#[derive(Clone, Debug)]
pub struct Solver {
    /// The program.
    pub path: String,
    /// Which one it is.
    pub kind: Kind,
    /// Its version line.
    pub version: String,
    /// Time per query.
    pub timeout: Duration,
    /// Memory per query, in MiB.
    pub memory_mb: u64,
}

/// What a check said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sat {
    /// A model exists.
    Sat,
    /// None does.
    Unsat,
    /// The solver could not tell, or failed: why.
    Unknown(String),
}

impl Solver {
    /// The solver at `path` (its kind from its version line), or why not.
    pub fn find(path: &str, timeout: Duration, memory_mb: u64) -> Result<Solver, String> {
        let mut child = Command::new(path)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("the solver `{path}` does not start: {e}"))?;
        // A program that does not answer `--version` promptly is no solver.
        let started = std::time::Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("`{path} --version` did not answer"));
                }
            }
        }
        let mut text = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut text);
        }
        let version = text.lines().next().unwrap_or_default().trim().to_string();
        let kind = if version.contains("Z3") {
            Kind::Z3
        } else if version.contains("cvc5") {
            Kind::Cvc5
        } else {
            return Err(format!(
                "`{path}` is neither z3 nor cvc5 (its version: {version:?})"
            ));
        };
        Ok(Solver {
            path: path.to_string(),
            kind,
            version,
            timeout,
            memory_mb,
        })
    }

    /// The solver to use: `given`, else `MSPL_SOLVER`, else `z3` or `cvc5`
    /// on the `PATH`.
    pub fn choose(
        given: Option<&str>,
        timeout: Duration,
        memory_mb: u64,
    ) -> Result<Solver, String> {
        if let Some(p) = given {
            return Solver::find(p, timeout, memory_mb);
        }
        if let Ok(p) = std::env::var("MSPL_SOLVER") {
            if !p.is_empty() {
                return Solver::find(&p, timeout, memory_mb);
            }
        }
        for p in ["z3", "cvc5"] {
            if let Ok(s) = Solver::find(p, timeout, memory_mb) {
                return Ok(s);
            }
        }
        Err(
            "no SMT solver: install z3 or cvc5, or name one with --solver PATH or MSPL_SOLVER"
                .into(),
        )
    }

    /// Starts a session.
    pub fn start(&self) -> Result<Session, String> {
        let ms = self.timeout.as_millis().max(1);
        let mut cmd = Command::new(&self.path);
        match self.kind {
            Kind::Z3 => {
                cmd.args([
                    "-in",
                    "-smt2",
                    &format!("-t:{ms}"),
                    &format!("-memory:{}", self.memory_mb),
                ]);
            }
            Kind::Cvc5 => {
                cmd.args([
                    "--lang=smt2",
                    "--incremental",
                    "--produce-models",
                    "--strings-exp",
                    &format!("--tlimit-per={ms}"),
                ]);
            }
        }
        let memory = self.memory_mb.saturating_mul(1024 * 1024);
        // SAFETY: only async-signal-safe setrlimit runs between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: memory as libc::rlim_t,
                    rlim_max: memory as libc::rlim_t,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
                Ok(())
            });
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("the solver `{}` does not start: {e}", self.path))?;
        let stdin = child.stdin.take().ok_or("the solver has no input")?;
        let stdout = child.stdout.take().ok_or("the solver has no output")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line.clone()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut s = Session {
            child,
            stdin,
            lines: rx,
            // The solver's own limit first; ours a little later.
            wait: self.timeout + Duration::from_secs(3),
        };
        if self.kind == Kind::Z3 {
            s.send("(set-option :produce-models true)")?;
        }
        Ok(s)
    }
}

/// One running solver.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    wait: Duration,
}

impl Session {
    /// Sends commands.
    pub fn send(&mut self, text: &str) -> Result<(), String> {
        if let Some(path) = std::env::var_os("MSPL_VERIFY_TRACE") {
            // Every command sent, for replaying a session by hand.
            if let Ok(mut f) = crate::files::open_append(std::path::Path::new(&path)) {
                let _ = writeln!(f, "{text}");
            }
        }
        self.stdin
            .write_all(text.as_bytes())
            .and_then(|_| self.stdin.write_all(b"\n"))
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("the solver stopped reading: {e}"))
    }

    /// Reads one whole s-expression (or atom) the solver prints.
    fn read(&mut self) -> Result<String, String> {
        let mut text = String::new();
        loop {
            let line = self.lines.recv_timeout(self.wait).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => "the solver did not answer in time".to_string(),
                mpsc::RecvTimeoutError::Disconnected => self.died(),
            })?;
            text.push_str(&line);
            if balanced(&text) && !text.trim().is_empty() {
                return Ok(text.trim().to_string());
            }
        }
    }

    fn died(&mut self) -> String {
        let _ = self.child.kill();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        let first = err.lines().next().unwrap_or_default();
        format!("the solver stopped ({status}) {first}")
            .trim()
            .to_string()
    }

    /// `(check-sat)`.
    pub fn check(&mut self) -> Sat {
        if let Err(e) = self.send("(check-sat)") {
            return Sat::Unknown(e);
        }
        match self.read() {
            Ok(a) if a == "sat" => Sat::Sat,
            Ok(a) if a == "unsat" => Sat::Unsat,
            Ok(a) if a == "unknown" => {
                let why = self
                    .send("(get-info :reason-unknown)")
                    .and_then(|_| self.read())
                    .unwrap_or_default();
                Sat::Unknown(
                    format!("the solver answered unknown {why}")
                        .trim()
                        .to_string(),
                )
            }
            Ok(a) => Sat::Unknown(format!("the solver answered {a:?}")),
            Err(e) => Sat::Unknown(e),
        }
    }

    /// The values of `terms` in the model found.
    pub fn values(&mut self, terms: &[String]) -> Result<Vec<Sexp>, String> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        self.send(&format!("(get-value ({}))", terms.join(" ")))?;
        let answer = self.read()?;
        let parsed = parse(&answer)?;
        let Sexp::List(pairs) = parsed else {
            return Err(format!("the solver's values do not read: {answer}"));
        };
        if pairs.len() != terms.len() {
            return Err(format!(
                "the solver gave {} values for {} terms: {}",
                pairs.len(),
                terms.len(),
                answer.chars().take(300).collect::<String>()
            ));
        }
        pairs
            .into_iter()
            .map(|p| match p {
                Sexp::List(mut kv) if kv.len() == 2 => Ok(kv.remove(1)),
                other => Err(format!("the solver's value does not read: {other:?}")),
            })
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.stdin.write_all(b"(exit)\n");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `text` closes every parenthesis it opens (outside strings and
/// quoted symbols).
fn balanced(text: &str) -> bool {
    let mut depth = 0i64;
    let (mut in_string, mut in_symbol) = (false, false);
    for c in text.chars() {
        match c {
            '"' if !in_symbol => in_string = !in_string,
            '|' if !in_string => in_symbol = !in_symbol,
            '(' if !in_string && !in_symbol => depth += 1,
            ')' if !in_string && !in_symbol => depth -= 1,
            _ => {}
        }
    }
    depth <= 0 && !in_string && !in_symbol
}

/// An s-expression of the solver's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sexp {
    /// A symbol, a numeral, a bit-vector literal.
    Atom(String),
    /// A string literal, unescaped.
    Str(String),
    /// `( … )`.
    List(Vec<Sexp>),
}

/// Parses one s-expression.
pub fn parse(text: &str) -> Result<Sexp, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let e = parse_at(&chars, &mut at)?;
    Ok(e)
}

fn parse_at(c: &[char], at: &mut usize) -> Result<Sexp, String> {
    while *at < c.len() && c[*at].is_whitespace() {
        *at += 1;
    }
    match c.get(*at) {
        None => Err("the solver's output ends early".into()),
        Some('(') => {
            *at += 1;
            let mut items = Vec::new();
            loop {
                while *at < c.len() && c[*at].is_whitespace() {
                    *at += 1;
                }
                match c.get(*at) {
                    None => return Err("the solver's output ends early".into()),
                    Some(')') => {
                        *at += 1;
                        return Ok(Sexp::List(items));
                    }
                    _ => items.push(parse_at(c, at)?),
                }
            }
        }
        Some('"') => {
            *at += 1;
            let mut raw = String::new();
            loop {
                match c.get(*at) {
                    None => return Err("a string in the solver's output does not end".into()),
                    Some('"') if c.get(*at + 1) == Some(&'"') => {
                        raw.push('"');
                        *at += 2;
                    }
                    Some('"') => {
                        *at += 1;
                        break;
                    }
                    Some(&ch) => {
                        raw.push(ch);
                        *at += 1;
                    }
                }
            }
            Ok(Sexp::Str(unescape(&raw)?))
        }
        Some('|') => {
            let start = *at;
            *at += 1;
            while *at < c.len() && c[*at] != '|' {
                *at += 1;
            }
            *at += 1;
            Ok(Sexp::Atom(c[start..(*at).min(c.len())].iter().collect()))
        }
        Some(_) => {
            let start = *at;
            while *at < c.len() && !c[*at].is_whitespace() && c[*at] != '(' && c[*at] != ')' {
                *at += 1;
            }
            Ok(Sexp::Atom(c[start..*at].iter().collect()))
        }
    }
}

/// SMT-LIB 2.6 string escapes: `\u{X…}` and `\uXXXX`.
fn unescape(raw: &str) -> Result<String, String> {
    let c: Vec<char> = raw.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '\\' && c.get(i + 1) == Some(&'u') {
            let (hex, next) = if c.get(i + 2) == Some(&'{') {
                let end = (i + 3..c.len()).find(|&j| c[j] == '}');
                match end {
                    Some(e) => (c[i + 3..e].iter().collect::<String>(), e + 1),
                    None => (String::new(), i + 2),
                }
            } else if i + 6 <= c.len() {
                (c[i + 2..i + 6].iter().collect::<String>(), i + 6)
            } else {
                (String::new(), i + 2)
            };
            if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                out.push(ch);
                i = next;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_lists_read() {
        assert_eq!(
            parse(r#"((x "a""b\u{48}\u0049") (y #x01))"#).unwrap(),
            Sexp::List(vec![
                Sexp::List(vec![Sexp::Atom("x".into()), Sexp::Str("a\"bHI".into())]),
                Sexp::List(vec![Sexp::Atom("y".into()), Sexp::Atom("#x01".into())]),
            ])
        );
        assert!(balanced("(a \"(\" |)|)"));
        assert!(!balanced("(a \"(\""));
    }
}
