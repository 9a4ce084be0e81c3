//! The hostile-input corpus: `tests/cases/hostile/<name>.json`, one case
//! each, run against the `mspl` binary in a child process with a time and a
//! memory bound (10 s, 1 GB peak RSS measured on the child with `wait4`).
//!
//! A case names the files of its working folder (JSON strings, so that a
//! carriage return, a NUL or a byte-order mark stays readable), what to set
//! up beside them (links, FIFOs, modes, generated files), and one or more
//! command lines. Its snapshot beside it (`<name>.snap`) holds each run's
//! exit code and output and then the folder as it was left: each entry's
//! kind, mode, link count and text, so that what `fmt` did to a link, a
//! hard link or a read-only file is part of the expectation.
//!
//! `MSPL_UPDATE_HOSTILE=1` writes the snapshots instead (review each).
//! Cases with `"user": "nobody"` run as uid 65534 (the tests run as root in
//! CI); cases with `"needs_root": true` skip, saying so, when they do not.

use crate::skip;

use serde_json::Value;
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIME_BOUND: Duration = Duration::from_secs(10);
const MEMORY_BOUND_KB: i64 = 1_000_000;
/// The most of one output stream a snapshot shows.
const SHOWN: usize = 3000;
const NOBODY: u32 = 65534;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/hostile")
}

/// `text` with control characters escaped, so that a snapshot is readable.
fn visible(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() || c == '\u{feff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= SHOWN {
        return visible(&text);
    }
    let mut end = SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… ({} bytes in all, {} lines)\n",
        visible(&text[..end]),
        bytes.len(),
        text.lines().count()
    )
}

/// Lays out the case's files and setup in `dir`.
fn set_up(case: &Value, dir: &Path) {
    let path = |p: &str| dir.join(p);
    let make_parent = |p: &Path| {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
    };
    if let Some(files) = case["files"].as_object() {
        for (name, text) in files {
            let p = path(name);
            make_parent(&p);
            std::fs::write(&p, text.as_str().expect("file text is a string")).unwrap();
        }
    }
    for step in case["setup"].as_array().into_iter().flatten() {
        if let Some(name) = step["generate"].as_str() {
            let times = step["times"].as_u64().unwrap();
            let repeat = step["repeat"].as_str().unwrap();
            let mut text = step["prefix"].as_str().unwrap_or("").to_string();
            for i in 0..times {
                text.push_str(
                    &repeat
                        .replace("{i}", &i.to_string())
                        .replace("{next}", &(i + 1).to_string()),
                );
            }
            text.push_str(step["suffix"].as_str().unwrap_or(""));
            let p = path(name);
            make_parent(&p);
            std::fs::write(p, text).unwrap();
        } else if let Some(name) = step["bytes"].as_str() {
            let hex = step["hex"].as_str().unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            std::fs::write(path(name), bytes).unwrap();
        } else if let Some(name) = step["symlink"].as_str() {
            let p = path(name);
            make_parent(&p);
            std::os::unix::fs::symlink(step["to"].as_str().unwrap(), p).unwrap();
        } else if let Some(name) = step["hardlink"].as_str() {
            std::fs::hard_link(path(step["to"].as_str().unwrap()), path(name)).unwrap();
        } else if let Some(name) = step["fifo"].as_str() {
            let p = path(name);
            make_parent(&p);
            let c = CString::new(p.as_os_str().as_bytes()).unwrap();
            // SAFETY: a valid path; mkfifo has no other precondition.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        } else if let Some(name) = step["chmod"].as_str() {
            let mode = u32::from_str_radix(step["mode"].as_str().unwrap(), 8).unwrap();
            std::fs::set_permissions(path(name), std::fs::Permissions::from_mode(mode)).unwrap();
        } else if let Some(name) = step["chown_nobody"].as_str() {
            if is_root() {
                std::os::unix::fs::lchown(path(name), Some(NOBODY), Some(NOBODY)).unwrap();
            }
        } else {
            panic!("unknown setup step {step}");
        }
    }
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// One run of the binary: exit code, output, peak RSS (KB) and wall time.
struct Run {
    code: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    max_rss_kb: i64,
    took: Duration,
}

fn run(args: &[String], dir: &Path, stdin: Option<&str>, as_nobody: bool) -> Run {
    let out_path = dir.join("..").join(format!(
        "{}.out",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let err_path = out_path.with_extension("err");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mspl"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()));
    match stdin {
        Some(_) => cmd.stdin(Stdio::piped()),
        None => cmd.stdin(Stdio::null()),
    };
    if as_nobody && is_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("mspl starts");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = pipe.write_all(text.as_bytes());
    }
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            while start.elapsed() < TIME_BOUND + Duration::from_secs(1) {
                if done.load(Ordering::SeqCst) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: `pid` is our child, not yet reaped (`done` is unset).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        })
    };
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `status` and `usage` are valid.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    done.store(true, Ordering::SeqCst);
    let killed = watchdog.join().unwrap();
    let took = start.elapsed();
    std::mem::forget(child); // reaped by wait4 above
    let code = if killed {
        "killed (time bound)".to_string()
    } else if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status).to_string()
    } else {
        format!("signal {}", libc::WTERMSIG(status))
    };
    let read = |p: &Path| {
        let bytes = std::fs::read(p).unwrap_or_default();
        let _ = std::fs::remove_file(p);
        bytes
    };
    Run {
        code,
        stdout: read(&out_path),
        stderr: read(&err_path),
        max_rss_kb: usage.ru_maxrss,
        took,
    }
}

/// The folder as a run left it, one line per entry (the outputs excluded).
fn listing(dir: &Path, out: &mut String) {
    let mut entries: Vec<PathBuf> = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                todo.push(p.clone());
            }
            entries.push(p);
        }
    }
    entries.sort();
    for p in entries {
        let name = p.strip_prefix(dir).unwrap().display().to_string();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let mode = meta.mode() & 0o7777;
        let owner = if meta.uid() == NOBODY { " nobody" } else { "" };
        if meta.file_type().is_symlink() {
            let _ = writeln!(
                out,
                "{name} -> {}",
                std::fs::read_link(&p).unwrap().display()
            );
        } else if meta.is_dir() {
            let _ = writeln!(out, "{name}/ {mode:o}{owner}");
        } else if meta.is_file() {
            let text = std::fs::read(&p).unwrap();
            let links = if meta.nlink() > 1 {
                format!(" links={}", meta.nlink())
            } else {
                String::new()
            };
            let _ = writeln!(out, "{name} {mode:o}{owner}{links} ({} bytes)", text.len());
            if text.len() <= 600 {
                for line in String::from_utf8_lossy(&text).lines() {
                    let _ = writeln!(out, "  | {}", visible(line));
                }
            }
        } else {
            let _ = writeln!(out, "{name} (special)");
        }
    }
}

fn run_case(path: &Path, scratch: &Path) -> Result<(), String> {
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    if case["needs_root"] == true && !is_root() {
        skip::skip(
            &name,
            "it runs only as root (it judges what root may write)",
        );
        return Ok(());
    }
    let dir = scratch.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    set_up(&case, &dir);
    let as_nobody = case["user"] == "nobody";
    let mut report = String::new();
    if let Some(about) = case["about"].as_str() {
        let _ = writeln!(report, "# {about}");
    }
    let mut problems = Vec::new();
    for line in case["runs"].as_array().expect("runs") {
        let args: Vec<String> = line
            .as_array()
            .expect("a run is an array of words")
            .iter()
            .map(|w| w.as_str().unwrap().to_string())
            .collect();
        let r = run(&args, &dir, case["stdin"].as_str(), as_nobody);
        eprintln!(
            "{name}: mspl {} took {:?}, peak RSS {} KB",
            args.join(" "),
            r.took,
            r.max_rss_kb
        );
        if r.took > TIME_BOUND {
            problems.push(format!("{name}: took {:?} (bound {TIME_BOUND:?})", r.took));
        }
        if r.max_rss_kb > MEMORY_BOUND_KB {
            problems.push(format!(
                "{name}: peak RSS {} KB (bound {MEMORY_BOUND_KB} KB)",
                r.max_rss_kb
            ));
        }
        let _ = write!(
            report,
            "$ mspl {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            r.code,
            shown(&r.stdout),
            shown(&r.stderr)
        );
    }
    report.push_str("--- files\n");
    listing(&dir, &mut report);
    let snap = path.with_extension("snap");
    if std::env::var_os("MSPL_UPDATE_HOSTILE").is_some() {
        std::fs::write(&snap, &report).unwrap();
    } else {
        match std::fs::read_to_string(&snap) {
            Ok(expected) if expected == report => {}
            Ok(expected) => problems.push(format!(
                "{name}: differs from {}\n--- expected\n{expected}--- actual\n{report}",
                snap.display()
            )),
            Err(_) => problems.push(format!("{name}: no snapshot; actual:\n{report}")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn hostile_inputs_are_refused_or_answered_within_bounds() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // Two workers: CI has two cores, and a case's bound is on its child.
    let queue = std::sync::Mutex::new(cases.into_iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(case) = queue.lock().unwrap().next() else {
                    return;
                };
                if let Err(e) = run_case(&case, scratch.path()) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
