//! `mspl lsp` latency (docs/performance.md, "Language server"): the time
//! from a one-character edit to the diagnostics it publishes, on the Model
//! Studio set and on a file of 10,000 policies, and the time to answer a
//! completion; medians of `--repeat` rounds over an in-memory connection
//! (the server on its own thread, as over stdio).
//!
//! ```sh
//! cargo bench --bench lsp
//! ```
//!
//! Run by `cargo test` (without `--bench`), it does a small smoke run.

// Test code: a failed expectation is a panic, and a test's own numbers
// are small. The lints that keep shipped code from panicking do not apply.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs
)]

#[path = "../tests/support/lsp_wire.rs"]
mod lsp_wire;

use lsp_server::Message;
use lsp_wire::Wire;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

struct Client {
    wire: Wire,
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut c = Client {
            wire: Wire::start(),
        };
        let uri = format!("file://{}", root.display());
        c.request(
            "initialize",
            json!({"processId": null, "rootUri": uri, "capabilities": {}}),
        );
        c.notify("initialized", json!({}));
        c
    }

    fn notify(&self, method: &str, params: Value) {
        self.wire.notify(method, params);
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.wire.send(method, params);
        loop {
            match self.wire.recv() {
                Message::Response(r) if r.id == id => return r.result.unwrap_or_default(),
                _ => {}
            }
        }
    }

    /// Waits for the diagnostics of `uri`.
    fn diagnostics_of(&self, uri: &str) -> Value {
        loop {
            if let Message::Notification(n) = self.wire.recv() {
                if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri {
                    return n.params;
                }
            }
        }
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.wire.exit();
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Opens `file` of the project at `root`, then times `repeat` one-character
/// edits (a space typed at the end of line `line`, then removed) until
/// their diagnostics arrive, and `repeat` completions after `principal.`.
fn measure(root: &Path, file: &Path, line: u32, repeat: usize) -> (Duration, Duration, usize) {
    let mut c = Client::start(root);
    let uri = format!("file://{}", file.display());
    let text = std::fs::read_to_string(file).expect("the file");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "mspl", "version": 1, "text": text}}),
    );
    let first = c.diagnostics_of(&uri);
    let problems = first["diagnostics"].as_array().map_or(0, Vec::len);
    let end = text
        .lines()
        .nth(line as usize)
        .map_or(0, |l| l.encode_utf16().count()) as u32;
    let mut edits = Vec::new();
    for i in 0..repeat {
        let (range, new) = if i % 2 == 0 {
            (
                json!({"start": {"line": line, "character": end}, "end": {"line": line, "character": end}}),
                " ",
            )
        } else {
            (
                json!({"start": {"line": line, "character": end}, "end": {"line": line, "character": end + 1}}),
                "",
            )
        };
        let started = Instant::now();
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [{"range": range, "text": new}]}),
        );
        c.diagnostics_of(&uri);
        edits.push(started.elapsed());
    }
    let mut completions = Vec::new();
    for _ in 0..repeat {
        let started = Instant::now();
        let items = c.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": end}}),
        );
        completions.push(started.elapsed());
        assert!(
            items.as_array().is_some_and(|i| !i.is_empty()),
            "completion answers"
        );
    }
    c.stop();
    (median(edits), median(completions), problems)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let repeat = if bench { 21 } else { 3 };
    let model_studio = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies/model_studio")
        .canonicalize()
        .expect("the set");
    let file = model_studio.join("policies.mspl");
    let file = if file.exists() {
        file
    } else {
        let mut files: Vec<_> = std::fs::read_dir(&model_studio)
            .expect("the set")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "mspl"))
            .collect();
        files.sort();
        files.remove(0)
    };
    let (edit, completion, problems) = measure(&model_studio, &file, 0, repeat);
    println!(
        "Model Studio set, {}: diagnostics after a one-character edit {:.2} ms (median of {repeat}, {problems} problems), completion {:.2} ms",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
        edit.as_secs_f64() * 1e3,
        completion.as_secs_f64() * 1e3
    );

    let policies = if bench { 10_000 } else { 500 };
    let dir = std::env::temp_dir().join(format!("mspl-lsp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let mut text = String::from("entity Team;\nentity User in [Team] { name: String, level: Long };\nentity Doc in [Team] { owner: User, public: Bool };\naction view, edit appliesTo { principal: [User], resource: [Doc] };\n\n");
    for i in 0..policies {
        text.push_str(&format!(
            "@id(\"p{i}\")\npermit (principal == User::\"u{i}\", action == Action::\"view\", resource in Team::\"t{}\")\nwhen {{ resource.owner == principal || (resource.public && principal.level > {}) }};\n\n",
            i % 100,
            i % 7
        ));
    }
    let big = dir.join("policies.mspl");
    std::fs::write(&big, &text).expect("written");
    let (edit, completion, problems) = measure(&dir, &big, 6, repeat);
    println!(
        "{policies} policies in one file: diagnostics after a one-character edit {:.1} ms (median of {repeat}, {problems} problems), completion {:.2} ms",
        edit.as_secs_f64() * 1e3,
        completion.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
