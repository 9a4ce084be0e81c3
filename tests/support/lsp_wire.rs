//! A language server on its own thread behind an in-memory connection (as
//! over stdio), and the client side of it: requests with their ids,
//! notifications, `shutdown` and `exit`. Shared by `tests/editors/lsp.rs`, which
//! records what comes back, and `benches/lsp.rs`, which times it.

#![allow(dead_code)]

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::Value;
use std::time::Duration;

/// The client's end of a running server.
pub struct Wire {
    conn: Connection,
    server: Option<std::thread::JoinHandle<i32>>,
    next: i32,
}

impl Wire {
    /// Starts `mspl_cli::lsp::serve` on a thread of its own.
    pub fn start() -> Wire {
        let (server, conn) = Connection::memory();
        let handle = std::thread::spawn(move || mspl_cli::lsp::serve(server).code());
        Wire {
            conn,
            server: Some(handle),
            next: 0,
        }
    }

    /// The next message from the server (at most 20 s away).
    pub fn recv(&self) -> Message {
        self.conn
            .receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("the server answers")
    }

    /// Sends a request; its id.
    pub fn send(&mut self, method: &str, params: Value) -> RequestId {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.conn
            .sender
            .send(Message::Request(Request::new(
                id.clone(),
                method.into(),
                params,
            )))
            .expect("sent");
        id
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        self.conn
            .sender
            .send(Message::Notification(Notification::new(
                method.into(),
                params,
            )))
            .expect("sent");
    }

    /// Sends `exit` and waits for the server: its exit code.
    pub fn exit(mut self) -> i32 {
        self.notify("exit", Value::Null);
        self.server
            .take()
            .expect("running")
            .join()
            .expect("the server thread")
    }
}
