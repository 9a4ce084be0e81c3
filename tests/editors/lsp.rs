//! `mspl lsp` over an in-memory connection: a session on a small project
//! (declarations, a rule used across files, a policy with a typo), each
//! feature asked once, every response and notification snapshotted in
//! order (`tests/cases/lsp/`); the real binary over stdio; and random
//! edits that must never stop the server answering.

use crate::lsp_wire;

use lsp_server::{Connection, Message, Notification, Request};
use lsp_wire::Wire;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A client for a server running on its own thread.
struct Client {
    wire: Wire,
    /// What the server sent, in order, with the root replaced by `{root}`.
    transcript: Vec<Value>,
    root: String,
}

impl Client {
    fn start(root: &Path, capabilities: Value) -> Client {
        let mut c = Client {
            wire: Wire::start(),
            transcript: Vec::new(),
            root: root.display().to_string(),
        };
        let uri = format!("file://{}", c.root);
        c.request(
            "initialize",
            json!({"processId": null, "rootUri": uri, "capabilities": capabilities}),
        );
        c.notify("initialized", json!({}));
        c
    }

    fn uri(&self, name: &str) -> String {
        format!("file://{}/{name}", self.root)
    }

    fn record(&mut self, what: &str, v: Value) {
        let text = v.to_string().replace(&self.root, "{root}");
        // Keys sorted, whether or not serde_json keeps insertion order in
        // this build (it does in the workspace's).
        let v = mspl::__internal::syntax::schema_json::sorted(
            serde_json::from_str(&text).expect("JSON"),
        );
        self.transcript.push(json!({ what: v }));
    }

    /// Sends a request; records the notifications before its response and
    /// the response; returns the result (or the error).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.wire.send(method, params);
        loop {
            match self.wire.recv() {
                Message::Response(r) if r.id == id => {
                    let v = match (r.result, r.error) {
                        (_, Some(e)) => json!({"error": e.message}),
                        (Some(v), None) => v,
                        (None, None) => Value::Null,
                    };
                    if method != "initialize" {
                        self.record(method, v.clone());
                    }
                    return v;
                }
                Message::Notification(n) => self.record(&n.method, n.params),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.wire.notify(method, params);
    }

    /// Notifies and records the diagnostics it publishes (one per file).
    fn notify_and_wait(&mut self, method: &str, params: Value) {
        self.notify(method, params);
        // A request after it: its response comes after what the
        // notification made the server publish.
        let id = self
            .wire
            .send("workspace/symbol", json!({"query": "\u{0}"}));
        loop {
            match self.wire.recv() {
                Message::Response(r) if r.id == id => return,
                Message::Notification(n) => self.record(&n.method, n.params),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn stop(mut self) -> (Vec<Value>, i32) {
        self.request("shutdown", Value::Null);
        self.transcript.pop();
        let code = self.wire.exit();
        (self.transcript, code)
    }
}

const SCHEMA: &str = "entity Team;\nentity User in [Team] { name: String, age: Long };\nentity Doc { owner: User };\naction view appliesTo { principal: [User], resource: [Doc] };\n";

const RULES: &str = "// Whether `u` owns `d`.\n@reason(\"owners see their documents\")\nrule owns(u, d) { d.owner == u }\nrule all_named(s) { all x in s: x has name }\n";

const POLICIES: &str = "@id(\"owner-views\")\npermit (principal, action == Action::\"view\", resource)\nwhen { owns(principal, resource) && principal.nam != \"é\" };\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(dir.path().join("schema.cedarschema"), SCHEMA).expect("written");
    std::fs::write(dir.path().join("rules.mspl"), RULES).expect("written");
    std::fs::write(dir.path().join("policies.mspl"), POLICIES).expect("written");
    // Left out: hidden folders and what .gitignore says.
    std::fs::create_dir(dir.path().join("broken")).expect("a folder");
    std::fs::write(dir.path().join("broken/bad.mspl"), "permit (").expect("written");
    std::fs::write(dir.path().join(".gitignore"), "broken/\n").expect("written");
    dir
}

fn at(line: u32, character: u32) -> Value {
    json!({"line": line, "character": character})
}

#[test]
fn a_session_answers_every_feature() {
    let dir = project();
    let root = dir.path().canonicalize().expect("a path");
    let mut c = Client::start(&root, json!({}));
    let policies = c.uri("policies.mspl");
    let rules = c.uri("rules.mspl");
    c.notify_and_wait("textDocument/didOpen", json!({"textDocument": {"uri": policies, "languageId": "mspl", "version": 1, "text": POLICIES}}));
    let doc = json!({"uri": policies});
    // `owns` in the policy (line 2, column 8), `principal.` at column 38.
    c.request(
        "textDocument/hover",
        json!({"textDocument": doc, "position": at(2, 8)}),
    );
    c.request(
        "textDocument/hover",
        json!({"textDocument": doc, "position": at(1, 2)}),
    );
    c.request(
        "textDocument/definition",
        json!({"textDocument": doc, "position": at(2, 8)}),
    );
    c.request(
        "textDocument/references",
        json!({"textDocument": doc, "position": at(2, 8), "context": {"includeDeclaration": true}}),
    );
    c.request(
        "textDocument/rename",
        json!({"textDocument": doc, "position": at(2, 8), "newName": "owner_of"}),
    );
    c.request(
        "textDocument/rename",
        json!({"textDocument": doc, "position": at(2, 8), "newName": "not a name"}),
    );
    c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": rules}}),
    );
    c.request(
        "textDocument/completion",
        json!({"textDocument": doc, "position": at(2, 46)}),
    );
    c.request(
        "textDocument/completion",
        json!({"textDocument": doc, "position": at(1, 40)}),
    );
    c.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": doc}),
    );
    // Variables: `u` in the body to its parameter, its uses, a rename; the
    // quantified `x` to its binding.
    let rules_doc = json!({"uri": rules});
    c.request(
        "textDocument/definition",
        json!({"textDocument": rules_doc, "position": at(2, 29)}),
    );
    c.request(
        "textDocument/references",
        json!({"textDocument": rules_doc, "position": at(2, 10), "context": {"includeDeclaration": true}}),
    );
    c.request(
        "textDocument/rename",
        json!({"textDocument": rules_doc, "position": at(2, 29), "newName": "user"}),
    );
    c.request(
        "textDocument/definition",
        json!({"textDocument": rules_doc, "position": at(3, 32)}),
    );
    // The action `view` (in the policy's scope): where policies name it.
    c.request(
        "textDocument/references",
        json!({"textDocument": doc, "position": at(1, 40), "context": {"includeDeclaration": true}}),
    );
    // `d.owner`: its declaration, and every read.
    c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": rules}, "position": at(2, 20)}),
    );
    c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": rules}, "position": at(2, 20), "context": {"includeDeclaration": true}}),
    );
    // `d.owner` in the rule: the attribute's declared type.
    c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": rules}, "position": at(2, 20)}),
    );
    // Inside `owns(principal, |resource)`: the second parameter.
    c.request(
        "textDocument/signatureHelp",
        json!({"textDocument": doc, "position": at(2, 23)}),
    );
    c.request("textDocument/foldingRange", json!({"textDocument": doc}));
    c.request("workspace/symbol", json!({"query": "own"}));
    c.request(
        "textDocument/formatting",
        json!({"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let diagnostics = c
        .transcript
        .iter()
        .find_map(|v| {
            v.get("textDocument/publishDiagnostics").filter(|p| {
                p["uri"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("policies.mspl"))
            })
        })
        .map(|p| p["diagnostics"].clone())
        .expect("diagnostics of the policies");
    c.request("textDocument/codeAction", json!({"textDocument": doc, "range": diagnostics[0]["range"], "context": {"diagnostics": diagnostics}}));
    c.request("textDocument/unknownThing", json!({}));
    // Fix the typo with an incremental change: the diagnostics clear.
    c.notify_and_wait(
        "textDocument/didChange",
        json!({"textDocument": {"uri": policies, "version": 2}, "contentChanges": [{"range": {"start": at(2, 46), "end": at(2, 49)}, "text": "name"}]}),
    );
    // A syntax error, then an unparsable file formats to nothing.
    c.notify_and_wait(
        "textDocument/didChange",
        json!({"textDocument": {"uri": policies, "version": 3}, "contentChanges": [{"text": "permit (principal,"}]}),
    );
    c.request(
        "textDocument/formatting",
        json!({"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let (transcript, code) = c.stop();
    assert_eq!(code, 0, "exit after shutdown");
    insta::with_settings!({snapshot_path => "../cases/lsp", prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!("session", transcript);
    });
}

#[test]
fn utf8_columns_when_the_client_offers_them_and_a_lone_file_without_a_root() {
    let dir = tempfile::tempdir().expect("a folder");
    let root = dir.path().canonicalize().expect("a path");
    let text = "// é😀\npermit (principal, action, resource) when { ok(principal) };\n";
    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || mspl_cli::lsp::serve(server).code());
    let send = |m: Message| client.sender.send(m).expect("sent");
    send(Message::Request(Request::new(
        1.into(),
        "initialize".into(),
        json!({"processId": null, "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]}}}),
    )));
    let Ok(Message::Response(init)) = client.receiver.recv_timeout(Duration::from_secs(20)) else {
        panic!("initialized")
    };
    assert_eq!(
        init.result.expect("a result")["capabilities"]["positionEncoding"],
        "utf-8"
    );
    send(Message::Notification(Notification::new(
        "initialized".into(),
        json!({}),
    )));
    let uri = format!("file://{}/alone.mspl", root.display());
    send(Message::Notification(Notification::new(
        "textDocument/didOpen".into(),
        json!({"textDocument": {"uri": uri, "languageId": "mspl", "version": 1, "text": text}}),
    )));
    let Ok(Message::Notification(n)) = client.receiver.recv_timeout(Duration::from_secs(20)) else {
        panic!("diagnostics")
    };
    // `ok` is an unknown rule at byte column 44 of line 1.
    assert_eq!(
        n.params["diagnostics"][0]["range"]["start"],
        json!({"line": 1, "character": 44}),
        "{}",
        n.params
    );
    send(Message::Notification(Notification::new(
        "exit".into(),
        Value::Null,
    )));
    assert_eq!(
        handle.join().expect("the thread"),
        1,
        "exit without shutdown"
    );
}

/// `mspl lsp`, the real binary, spoken to over its stdio.
struct Stdio {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Stdio {
    /// Starts `mspl lsp` in `root`.
    fn start(root: &Path) -> Stdio {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mspl"))
            .arg("lsp")
            .current_dir(root)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("mspl lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Stdio {
            child,
            stdin,
            stdout,
        }
    }

    /// Writes one frame.
    fn send(&mut self, v: Value) {
        use std::io::Write;
        let body = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("written");
        self.stdin.flush().expect("flushed");
    }

    /// Reads one frame; its headers must be JSON-RPC's.
    fn read(&mut self) -> Value {
        use std::io::{BufRead, Read};
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.stdout.read_line(&mut line).expect("a header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").expect("a header line");
            assert_eq!(name, "Content-Length", "only JSON-RPC on stdout");
            length = value.parse().expect("a length");
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).expect("a body");
        serde_json::from_slice(&body).expect("JSON")
    }

    /// The answer to request `id`, past any notification.
    fn answer_to(&mut self, id: u64) -> Value {
        loop {
            let message = self.read();
            if message["id"] == id {
                return message;
            }
        }
    }

    /// `initialize` with `root` and `initialized`.
    fn initialize(&mut self, root: &Path) -> Value {
        let uri = format!("file://{}", root.display());
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": uri, "capabilities": {}}}));
        let answer = self.answer_to(1);
        self.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        answer
    }

    /// `shutdown` (as request `id`), `exit`; the exit code.
    fn stop(mut self, id: u64) -> Option<i32> {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "shutdown"}));
        assert_eq!(self.answer_to(id)["id"], id);
        self.send(json!({"jsonrpc": "2.0", "method": "exit"}));
        self.child.wait().expect("it exits").code()
    }
}

/// The real binary over stdio: initialize, open a broken file, read its
/// diagnostic, shut down, exit 0; nothing but JSON-RPC on stdout.
#[test]
fn the_binary_speaks_lsp_on_stdio() {
    let dir = tempfile::tempdir().expect("a folder");
    let root = dir.path().canonicalize().expect("a path");
    let mut lsp = Stdio::start(&root);
    assert!(lsp.initialize(&root)["result"]["capabilities"]["hoverProvider"] == true);
    let file = format!("file://{}/a.cedar", root.display());
    lsp.send(
        json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": file, "languageId": "cedar", "version": 1, "text": "permit(principal, action, resource) when { 1 < 2 < 3 };"}}}),
    );
    let published = lsp.read();
    assert_eq!(published["method"], "textDocument/publishDiagnostics");
    assert!(
        published["params"]["diagnostics"][0]["message"]
            .as_str()
            .expect("a message")
            .contains("comparison"),
        "{published}"
    );
    assert_eq!(lsp.stop(2), Some(0));
}

/// Random edits (cuts, pastes, multi-byte text, ranges past the end) never
/// stop the server answering; bounded in count and time.
#[test]
fn random_edits_never_stop_the_server() {
    let dir = project();
    let root = dir.path().canonicalize().expect("a path");
    let mut c = Client::start(&root, json!({}));
    let uri = c.uri("policies.mspl");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "mspl", "version": 1, "text": POLICIES}}),
    );
    let pieces = [
        "",
        "(",
        "}",
        "\"",
        "é",
        "😀",
        "\r\n",
        "\r",
        "principal.",
        "owns(",
        "permit (",
        "?principal",
        "Action::\"",
        " && ",
        "//",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n) as u32
    };
    let started = std::time::Instant::now();
    for version in 2..1500 {
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
        let (l1, c1, l2, c2) = (next(5), next(70), next(5), next(70));
        let text = pieces[next(pieces.len() as u64) as usize];
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": {"start": at(l1, c1), "end": at(l2.max(l1), c2)}, "text": text}]}),
        );
        let method = [
            "textDocument/hover",
            "textDocument/completion",
            "textDocument/definition",
            "textDocument/formatting",
            "textDocument/semanticTokens/full",
            "textDocument/signatureHelp",
        ][next(6) as usize];
        let v = c.request(method, json!({"textDocument": {"uri": uri}, "position": at(next(5), next(70)), "options": {"tabSize": 2, "insertSpaces": true}}));
        assert!(
            v.get("error").is_none() || method == "textDocument/definition",
            "{method}: {v}"
        );
        c.transcript.clear();
    }
    let (_, code) = c.stop();
    assert_eq!(code, 0);
}

/// Prefixes of the corpus files, cut at token boundaries, sent as whole
/// changes: the server answers after each (bounded in count and time).
#[test]
fn prefixes_of_the_corpus_cut_at_tokens_never_stop_the_server() {
    let dir = project();
    let root = dir.path().canonicalize().expect("a path");
    let mut c = Client::start(&root, json!({}));
    let uri = c.uri("policies.mspl");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "mspl", "version": 1, "text": ""}}),
    );
    let mut files: Vec<_> = [
        "policies/model_studio",
        "tests/cases/syntax",
        "tests/cases/errors",
    ]
    .iter()
    .flat_map(|d| {
        std::fs::read_dir(d)
            .expect("a corpus")
            .filter_map(|e| e.ok().map(|e| e.path()))
    })
    .filter(|p| {
        p.extension()
            .is_some_and(|e| e == "mspl" || e == "cedar" || e == "cedarschema")
    })
    .collect();
    files.sort();
    let started = std::time::Instant::now();
    let mut version = 1;
    let mut sent = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        let ends: Vec<usize> = mspl::__internal::syntax::tokens::lex(&text)
            .iter()
            .map(|t| t.range.end)
            .collect();
        let step = (ends.len() / 12).max(1);
        for &end in ends.iter().step_by(step) {
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
            version += 1;
            let prefix = &text[..end];
            c.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": prefix}]}));
            let lines = prefix.split('\n').count() as u32;
            let v = c.request(
                "textDocument/completion",
                json!({"textDocument": {"uri": uri}, "position": at(lines - 1, 9999)}),
            );
            assert!(v.get("error").is_none(), "{}: {v}", f.display());
            c.request(
                "textDocument/semanticTokens/full",
                json!({"textDocument": {"uri": uri}}),
            );
            c.transcript.clear();
            sent += 1;
        }
    }
    assert!(sent > 50, "{sent} prefixes");
    let (_, code) = c.stop();
    assert_eq!(code, 0);
}

/// Applies the text edits of a `WorkspaceEdit` for `uri` to `text`
/// (positions in UTF-16 units of ASCII text: bytes).
fn apply_edits(text: &str, edit: &Value, uri: &str) -> String {
    let offset = |p: &Value| -> usize {
        let line = p["line"].as_u64().expect("line") as usize;
        let character = p["character"].as_u64().expect("character") as usize;
        text.split_inclusive('\n')
            .take(line)
            .map(str::len)
            .sum::<usize>()
            + character
    };
    let mut edits: Vec<(usize, usize, String)> = edit["changes"][uri]
        .as_array()
        .expect("edits of the file")
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().expect("text").to_string(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    out
}

/// `tests/cases/lsp/rename/*.mspl`: each file's first line says where to
/// rename what (`// rename LINE:COLUMN to NAME`, 1-based); the snapshot
/// beside it holds the renamed text or the refusal. A rename never changes
/// what a use refers to: a new name that would capture a use, or be
/// captured, is refused.
#[test]
fn rename_never_changes_what_a_use_refers_to() {
    insta::with_settings!({snapshot_path => "../cases/lsp/rename", prepend_module_to_snapshot => false}, {
        insta::glob!("../cases", "lsp/rename/*.mspl", |path| {
            let text = std::fs::read_to_string(path).expect("readable");
            let header = text.lines().next().and_then(|l| l.strip_prefix("// rename ")).expect("a header");
            let (place, name) = header.split_once(" to ").expect("`to NAME`");
            let (line, column) = place.split_once(':').expect("LINE:COLUMN");
            let (line, column): (u32, u32) = (line.parse().expect("line"), column.parse().expect("column"));
            let dir = tempfile::tempdir().expect("a folder");
            std::fs::write(dir.path().join("case.mspl"), &text).expect("written");
            let root = dir.path().canonicalize().expect("a path");
            let mut c = Client::start(&root, json!({}));
            let uri = c.uri("case.mspl");
            c.notify_and_wait("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "mspl", "version": 1, "text": text}}));
            let answer = c.request(
                "textDocument/rename",
                json!({"textDocument": {"uri": uri}, "position": at(line - 1, column - 1), "newName": name}),
            );
            let out = match answer.get("error") {
                Some(e) => format!("refused: {}", e.as_str().unwrap_or("?")),
                None => apply_edits(&text, &answer, &uri),
            };
            c.stop();
            insta::assert_snapshot!("rename", out);
        });
    });
}

/// What a policy author met in the first hour, in the editor: go to
/// definition of a type in a scope and of a type declared in an `.mspl`
/// file; completion inside `Action::"page.` (with or without the closing
/// quote an editor inserts), never a method list; a typo in `mspl.toml`
/// and initialize parameters that do not read, said.
#[test]
fn navigation_and_completion_where_an_author_types() {
    let dir = tempfile::tempdir().expect("a folder");
    let decls = "entity User;\nentity Page;\naction \"page.edit\", \"page.view\", \"console.login\" appliesTo { principal: User, resource: Page };\n";
    let policies = "permit (principal, action == Action::\"page.edit\", resource is Page)\nwhen { resource is Page };\n";
    std::fs::write(dir.path().join("decls.mspl"), decls).expect("written");
    std::fs::write(dir.path().join("policies.mspl"), policies).expect("written");
    let root = dir.path().canonicalize().expect("a path");
    let mut c = Client::start(&root, json!({}));
    let doc = c.uri("policies.mspl");
    c.notify_and_wait(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "mspl", "version": 1, "text": policies}}),
    );
    let decl_line = |v: &Value| v[0]["range"]["start"]["line"].clone();
    // `Page` in the scope (line 0, after `is `) and in the condition.
    let scope_col = policies.find("is Page").expect("is Page") as u32 + 4;
    let defined = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": doc}, "position": at(0, scope_col)}),
    );
    assert!(
        defined[0]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("decls.mspl")),
        "{defined}"
    );
    assert_eq!(decl_line(&defined), 1, "{defined}");
    let cond_col = policies.lines().nth(1).unwrap().find("Page").unwrap() as u32 + 1;
    let defined = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": doc}, "position": at(1, cond_col)}),
    );
    assert_eq!(decl_line(&defined), 1, "{defined}");
    // Completion in `Action::"page.`, without and with the closing quote.
    for typed in [
        "permit (principal, action == Action::\"page.",
        "permit (principal, action == Action::\"page.\"",
    ] {
        let text = format!("{policies}{typed}");
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": doc, "version": 2},
            "contentChanges": [{"text": text}]}),
        );
        let line = text.lines().count() as u32 - 1;
        let column = "permit (principal, action == Action::\"page.".len() as u32;
        let items = c.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": doc}, "position": at(line, column)}),
        );
        let labels: Vec<&str> = items
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["page.edit", "page.view"], "{typed}: {items}");
        let edit = &items[0]["textEdit"];
        assert_eq!(edit["range"]["start"]["character"], column - 5, "{edit}");
    }
    c.stop();

    // A typo in mspl.toml's paths: said on mspl.toml, not an empty project in silence.
    std::fs::write(dir.path().join("mspl.toml"), "policies = [\"polices\"]\n").expect("written");
    let mut c = Client::start(&root, json!({}));
    c.notify_and_wait(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "mspl", "version": 1, "text": policies}}),
    );
    let (transcript, _) = c.stop();
    let said = transcript.iter().any(|v| {
        v["textDocument/publishDiagnostics"]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("mspl.toml"))
            && v.to_string().contains("polices")
    });
    assert!(said, "{transcript:?}");

    // Initialize parameters that do not read: a window message.
    let mut wire = lsp_wire::Wire::start();
    wire.send(
        "initialize",
        json!({"processId": "not a number", "capabilities": {}}),
    );
    let mut seen = vec![wire.recv()];
    wire.notify("initialized", json!({}));
    seen.push(wire.recv());
    assert!(
        seen.iter()
            .any(|m| matches!(m, Message::Notification(n) if n.method == "window/showMessage")),
        "{seen:?}"
    );
}

/// The binary reads project files as regular files only and frames within
/// a limit: a committed link to `/dev/stdin` or `/dev/zero` is refused (the
/// server answers at once), and `Content-Length: 10000000000` ends the
/// stream without an allocation (exit 1, not an abort).
#[test]
fn the_binary_reads_no_device_and_no_frame_past_its_limit() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("a folder");
    let root = dir.path().canonicalize().expect("a path");
    std::os::unix::fs::symlink("/dev/stdin", root.join("stdin.mspl")).expect("a link");
    std::os::unix::fs::symlink("/dev/zero", root.join(".gitignore")).expect("a link");
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.cedar")).expect("a link");
    std::fs::write(
        root.join("ok.cedar"),
        "permit(principal, action, resource);\n",
    )
    .expect("written");
    // A whole session: it answers, and ends when told.
    let session = || {
        let mut lsp = Stdio::start(&root);
        assert!(lsp.initialize(&root)["result"]["capabilities"].is_object());
        // An open document loads its project, entity file included.
        let text = "permit(principal, action, resource);\n";
        let uri = format!("file://{}/ok.cedar", root.display());
        lsp.send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "cedar", "version": 1, "text": text}}}));
        lsp.send(json!({"jsonrpc": "2.0", "id": 2, "method": "workspace/symbol", "params": {"query": ""}}));
        let answer = lsp.answer_to(2);
        assert!(answer["result"].is_array(), "{answer}");
        assert_eq!(lsp.stop(3), Some(0));
    };
    session();
    // mspl.toml names an entity file that is a link to the server's own input.
    std::os::unix::fs::symlink("/dev/stdin", root.join("entities.json")).expect("a link");
    std::fs::write(
        root.join("mspl.toml"),
        "policies = [\".\"]\nentities = \"entities.json\"\n",
    )
    .expect("written");
    session();

    let lsp = Stdio::start(&root);
    let (mut child, mut stdin) = (lsp.child, lsp.stdin);
    write!(stdin, "Content-Length: 10000000000\r\n\r\n{{}}").expect("written");
    drop(stdin);
    let status = child.wait().expect("it exits");
    assert_eq!(status.code(), Some(1), "{status:?}");
}
