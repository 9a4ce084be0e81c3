//! `mspl lsp`: a Language Server Protocol server over stdio, synchronous,
//! messages handled in arrival order (rust-analyzer's `lsp-server`).
//!
//! - [`text`]: positions (UTF-16 or UTF-8 columns, every line ending).
//! - [`project`]: which files form the set (`mspl.toml`, else the root's
//!   policy files, else the open file alone).
//! - [`analysis`]: the set loaded with the open documents' text, linked,
//!   validated, each problem placed in its file.
//! - [`navigate`]: hover, definition, references, rename; [`features`]:
//!   symbols, folding, formatting, completion, signature help, quick
//!   fixes; [`tokens`]: semantic tokens from the lexer.
//!
//! Standard LSP only; nothing but JSON-RPC on stdout, logs on stderr. A
//! request the server cannot answer gets an error response and the server
//! goes on.

pub mod analysis;
pub mod features;
pub mod navigate;
pub mod project;
pub mod text;
pub mod tokens;
pub mod transport;
pub mod variables;

use crate::exit::Exit;
use analysis::Analysis;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::*;
use project::Project;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use text::Encoding;

/// The server's state between messages.
pub struct Server {
    encoding: Encoding,
    project: Project,
    /// Open documents' text, by path.
    open: BTreeMap<PathBuf, String>,
    /// Files that have diagnostics published, to clear when fixed.
    published: BTreeSet<PathBuf>,
    analysis: Option<Analysis>,
    /// Each text file's statements of the last parse.
    caches: std::collections::HashMap<PathBuf, crate::syntax::reparse::ReparseCache>,
    /// Entity ids of the project's entity file, for completion.
    entity_ids: Vec<crate::syntax::ast::EntityUid>,
    shutdown: bool,
}

/// Runs the server on stdin and stdout: success for `exit` after
/// `shutdown`, failure for `exit` without it (the protocol's rule) or a
/// broken connection.
pub fn run_stdio() -> Exit {
    let (connection, threads) = transport::stdio();
    let code = serve(connection);
    threads.join();
    code
}

/// Runs the server on `connection` until `exit`.
pub fn serve(connection: Connection) -> Exit {
    let (id, params) = match connection.initialize_start() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("mspl lsp: {e}");
            return Exit::Failure;
        }
    };
    let (params, unread): (InitializeParams, Option<String>) =
        match serde_json::from_value(params) {
            Ok(p) => (p, None),
            Err(e) => (
                InitializeParams::default(),
                Some(format!(
                    "mspl lsp: the initialize parameters do not read ({e}): no workspace root, UTF-16 columns"
                )),
            ),
        };
    let encoding = choose_encoding(&params);
    let root = root_of(&params);
    let result = InitializeResult {
        capabilities: capabilities(encoding),
        server_info: Some(ServerInfo {
            name: "mspl".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
    };
    let result = serde_json::to_value(result).unwrap_or_default();
    if let Err(e) = connection.initialize_finish(id, result) {
        eprintln!("mspl lsp: {e}");
        return Exit::Failure;
    }
    if let Some(message) = unread {
        eprintln!("{message}");
        let shown = Notification::new(
            notification::ShowMessage::METHOD.into(),
            ShowMessageParams {
                typ: MessageType::WARNING,
                message,
            },
        );
        if connection
            .sender
            .send(Message::Notification(shown))
            .is_err()
        {
            return Exit::Failure;
        }
    }
    let mut server = Server {
        encoding,
        project: Project::discover(root.as_deref()),
        open: BTreeMap::new(),
        published: BTreeSet::new(),
        analysis: None,
        caches: std::collections::HashMap::new(),
        entity_ids: Vec::new(),
        shutdown: false,
    };
    server.read_entities();
    for message in &connection.receiver {
        match message {
            Message::Request(r) => {
                let id = r.id.clone();
                // A bug in a handler answers that request with an error and
                // drops the analysis; the server goes on.
                let response =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.request(r)))
                        .unwrap_or_else(|_| {
                            server.analysis = None;
                            Response::new_err(
                                id,
                                ErrorCode::InternalError as i32,
                                "mspl lsp: internal error (logged on stderr)".into(),
                            )
                        });
                if connection.sender.send(Message::Response(response)).is_err() {
                    return Exit::Failure;
                }
            }
            Message::Notification(n) if n.method == notification::Exit::METHOD => {
                return Exit::failure_if(!server.shutdown);
            }
            Message::Notification(n) => {
                let published = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    server.notification(n)
                }))
                .unwrap_or_else(|_| {
                    server.analysis = None;
                    Vec::new()
                });
                for out in published {
                    if connection.sender.send(Message::Notification(out)).is_err() {
                        return Exit::Failure;
                    }
                }
            }
            Message::Response(_) => {}
        }
    }
    Exit::Failure
}

fn choose_encoding(params: &InitializeParams) -> Encoding {
    let offered = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref());
    match offered {
        Some(list) if list.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
        _ => Encoding::Utf16,
    }
}

#[allow(deprecated)]
fn root_of(params: &InitializeParams) -> Option<PathBuf> {
    params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| f.uri.clone())
        .or_else(|| params.root_uri.clone())
        .and_then(|u| u.to_file_path().ok())
}

fn capabilities(encoding: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "\"".into(), ":".into()]),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            retrigger_characters: None,
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                ..SemanticTokensOptions::default()
            },
        )),
        ..ServerCapabilities::default()
    }
}

/// A request's params, or the error response for ones that do not read.
fn params<P: serde::de::DeserializeOwned>(r: &Request) -> Result<P, Box<Response>> {
    serde_json::from_value(r.params.clone()).map_err(|e| {
        Box::new(Response::new_err(
            r.id.clone(),
            ErrorCode::InvalidParams as i32,
            format!("invalid params: {e}"),
        ))
    })
}

fn ok(id: RequestId, value: impl serde::Serialize) -> Response {
    Response::new_ok(id, serde_json::to_value(value).unwrap_or_default())
}

fn path_of(uri: &Url) -> Option<PathBuf> {
    uri.to_file_path().ok()
}

impl Server {
    fn read_entities(&mut self) {
        let Some(path) = &self.project.entities else {
            return;
        };
        // Regular and bounded, as every project file: it only completes ids.
        let Ok(text) = crate::files::read_regular(path, 64 << 20, crate::files::TextKind::Data)
        else {
            return;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        self.entity_ids = json
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| crate::entities::json::entity_ref(e.get("uid")?).ok())
            .collect();
    }

    /// The analysis of what is open now (made on first need after a change).
    fn analysis(&mut self) -> &Analysis {
        let (project, open, encoding) = (&self.project, &self.open, self.encoding);
        let caches = &mut self.caches;
        self.analysis
            .get_or_insert_with(|| Analysis::run(project, open, encoding, caches))
    }

    /// Analyses again and returns the diagnostics to publish: every file's
    /// (empty for a clean one), and an empty list for each file that had
    /// some before and is no longer analysed.
    fn publish(&mut self) -> Vec<Notification> {
        self.analysis = None;
        let diagnostics = self.analysis().diagnostics.clone();
        let mut out = Vec::new();
        let mut now = BTreeSet::new();
        for (path, list) in diagnostics {
            // Only what the user sees or had problems: open files, and any
            // file with diagnostics now or before.
            if list.is_empty() && !self.published.contains(&path) && !self.open.contains_key(&path)
            {
                continue;
            }
            if !list.is_empty() {
                now.insert(path.clone());
            }
            if let Ok(uri) = Url::from_file_path(&path) {
                out.push(publish(uri, list));
            }
        }
        for gone in self.published.difference(&now).cloned().collect::<Vec<_>>() {
            if !self.analysis().diagnostics.contains_key(&gone) {
                if let Ok(uri) = Url::from_file_path(&gone) {
                    out.push(publish(uri, Vec::new()));
                }
            }
        }
        self.published = now;
        out
    }

    fn notification(&mut self, n: Notification) -> Vec<Notification> {
        match n.method.as_str() {
            notification::DidOpenTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params) else {
                    return Vec::new();
                };
                let Some(path) = path_of(&p.text_document.uri) else {
                    return Vec::new();
                };
                self.open.insert(path, p.text_document.text);
                self.publish()
            }
            notification::DidChangeTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params) else {
                    return Vec::new();
                };
                let Some(path) = path_of(&p.text_document.uri) else {
                    return Vec::new();
                };
                let encoding = self.encoding;
                let text = self.open.entry(path).or_default();
                for change in p.content_changes {
                    apply_change(text, change, encoding);
                }
                self.publish()
            }
            notification::DidCloseTextDocument::METHOD => {
                let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params) else {
                    return Vec::new();
                };
                if let Some(path) = path_of(&p.text_document.uri) {
                    self.open.remove(&path);
                }
                self.publish()
            }
            notification::DidSaveTextDocument::METHOD => Vec::new(),
            notification::DidChangeWatchedFiles::METHOD => {
                self.project = Project::discover(self.project.root.clone().as_deref());
                self.read_entities();
                self.publish()
            }
            _ => Vec::new(),
        }
    }

    fn request(&mut self, r: Request) -> Response {
        if self.shutdown {
            return Response::new_err(
                r.id,
                ErrorCode::InvalidRequest as i32,
                "the server is shutting down".into(),
            );
        }
        match self.answer(&r) {
            Ok(response) => response,
            Err(response) => *response,
        }
    }

    fn answer(&mut self, r: &Request) -> Result<Response, Box<Response>> {
        let id = r.id.clone();
        Ok(match r.method.as_str() {
            request::Shutdown::METHOD => {
                self.shutdown = true;
                ok(id, ())
            }
            request::HoverRequest::METHOD => {
                let p: HoverParams = params(r)?;
                let path = self.path(&p.text_document_position_params.text_document.uri, &id)?;
                ok(
                    id,
                    navigate::hover(
                        self.analysis(),
                        &path,
                        p.text_document_position_params.position,
                    ),
                )
            }
            request::GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = params(r)?;
                let path = self.path(&p.text_document_position_params.text_document.uri, &id)?;
                ok(
                    id,
                    navigate::definition(
                        self.analysis(),
                        &path,
                        p.text_document_position_params.position,
                    ),
                )
            }
            request::References::METHOD => {
                let p: ReferenceParams = params(r)?;
                let path = self.path(&p.text_document_position.text_document.uri, &id)?;
                let declaration = p.context.include_declaration;
                ok(
                    id,
                    navigate::references(
                        self.analysis(),
                        &path,
                        p.text_document_position.position,
                        declaration,
                    ),
                )
            }
            request::Rename::METHOD => {
                let p: RenameParams = params(r)?;
                let path = self.path(&p.text_document_position.text_document.uri, &id)?;
                match navigate::rename(
                    self.analysis(),
                    &path,
                    p.text_document_position.position,
                    &p.new_name,
                ) {
                    Ok(edit) => ok(id, edit),
                    Err(message) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
                }
            }
            request::DocumentSymbolRequest::METHOD => {
                let p: DocumentSymbolParams = params(r)?;
                let path = self.path(&p.text_document.uri, &id)?;
                ok(
                    id,
                    DocumentSymbolResponse::Nested(features::document_symbols(
                        self.analysis(),
                        &path,
                    )),
                )
            }
            request::WorkspaceSymbolRequest::METHOD => {
                let p: WorkspaceSymbolParams = params(r)?;
                ok(id, features::workspace_symbols(self.analysis(), &p.query))
            }
            request::FoldingRangeRequest::METHOD => {
                let p: FoldingRangeParams = params(r)?;
                let path = self.path(&p.text_document.uri, &id)?;
                ok(id, features::folding(self.analysis(), &path))
            }
            request::Formatting::METHOD => {
                let p: DocumentFormattingParams = params(r)?;
                let path = self.path(&p.text_document.uri, &id)?;
                ok(id, features::formatting(self.analysis(), &path))
            }
            request::Completion::METHOD => {
                let p: CompletionParams = params(r)?;
                let path = self.path(&p.text_document_position.text_document.uri, &id)?;
                let ids = std::mem::take(&mut self.entity_ids);
                let items = features::completion(
                    self.analysis(),
                    &path,
                    p.text_document_position.position,
                    &ids,
                );
                self.entity_ids = ids;
                ok(id, CompletionResponse::Array(items))
            }
            request::SignatureHelpRequest::METHOD => {
                let p: SignatureHelpParams = params(r)?;
                let path = self.path(&p.text_document_position_params.text_document.uri, &id)?;
                ok(
                    id,
                    features::signature_help(
                        self.analysis(),
                        &path,
                        p.text_document_position_params.position,
                    ),
                )
            }
            request::CodeActionRequest::METHOD => {
                let p: CodeActionParams = params(r)?;
                let path = self.path(&p.text_document.uri, &id)?;
                ok(
                    id,
                    features::code_actions(self.analysis(), &path, &p.context.diagnostics),
                )
            }
            request::SemanticTokensFullRequest::METHOD => {
                let p: SemanticTokensParams = params(r)?;
                let path = self.path(&p.text_document.uri, &id)?;
                let a = self.analysis();
                let data = a
                    .files
                    .get(&path)
                    .map(|(t, i)| tokens::semantic_tokens(t, i))
                    .unwrap_or_default();
                ok(
                    id,
                    SemanticTokensResult::Tokens(SemanticTokens {
                        result_id: None,
                        data,
                    }),
                )
            }
            _ => Response::new_err(
                id,
                ErrorCode::MethodNotFound as i32,
                format!("unknown method `{}`", r.method),
            ),
        })
    }

    fn path(&self, uri: &Url, id: &RequestId) -> Result<PathBuf, Box<Response>> {
        path_of(uri).ok_or_else(|| {
            Box::new(Response::new_err(
                id.clone(),
                ErrorCode::InvalidParams as i32,
                format!("`{uri}` is not a file"),
            ))
        })
    }
}

fn publish(uri: Url, diagnostics: Vec<Diagnostic>) -> Notification {
    Notification::new(
        notification::PublishDiagnostics::METHOD.into(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        },
    )
}

/// Applies one change (a range replaced, or the whole text) to `text`.
fn apply_change(text: &mut String, change: TextDocumentContentChangeEvent, encoding: Encoding) {
    match change.range {
        None => *text = change.text,
        Some(range) => {
            let index = text::LineIndex::new(text, encoding);
            let start = index.offset(text, range.start);
            let end = index.offset(text, range.end).max(start);
            text.replace_range(start..end, &change.text);
        }
    }
}
