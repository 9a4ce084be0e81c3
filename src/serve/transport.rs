//! Connections: accepting them within `--max-connections` (past it, a 503
//! and the connection closed at once), TLS when configured (the handshake
//! within `--header-timeout-ms` too), HTTP/1.1 on each with
//! `--header-timeout-ms` to receive a request's head (so a half-sent head
//! or an idle connection cannot hold a slot for ever), and the drain at
//! shutdown, bounded by `--drain-timeout-ms`.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// The most open connections; past it a new one gets a 503.
    pub max_connections: usize,
    /// How long a request's head may take to arrive (an idle connection's
    /// next head included).
    pub header_timeout: Duration,
    /// How long the drain at shutdown may take before the connections
    /// left are cut.
    pub drain_timeout: Duration,
}

/// The default of `--max-connections`: 1,024, or the process's descriptor
/// limit less 64 (for files, the log, the watcher) when that is smaller.
pub fn default_max_connections() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the call.
    let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    let descriptors = if known {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    descriptors.saturating_sub(64).clamp(1, 1024)
}

/// The answer to a connection past `--max-connections`.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 106\r\n\r\n{\"error\":{\"message\":\"the server has as many connections open as it may (--max-connections)\",\"status\":503}}";

/// Serves `app` on `listener` until `shutdown` resolves, then drains;
/// returns how many connections the drain deadline cut.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> usize {
    let slots = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors, say: wait rather than spin.
                        super::note(&format!("cannot accept a connection: {e}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // Answered without waiting and closed: a refusal holds
                    // no descriptor longer than this.
                    let _ = stream.try_write(REFUSED);
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (app, stop, tls) = (app.clone(), stopped.clone(), tls.clone());
                connections.spawn(async move {
                    let _slot = slot;
                    let Some(acceptor) = tls else {
                        return http(stream, app, bounds, stop).await;
                    };
                    // A handshake that does not end within the head's
                    // timeout holds the slot no longer.
                    let handshake = tokio::time::timeout(bounds.header_timeout, acceptor.accept(stream));
                    let Ok(Ok(stream)) = handshake.await else {
                        return;
                    };
                    let subject = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|cert| super::tls::subject(cert));
                    let app = match subject {
                        Some(subject) => app.layer(axum::Extension(super::tls::Peer {
                            subject: Some(subject.into()),
                        })),
                        None => app,
                    };
                    http(stream, app, bounds, stop).await;
                });
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(bounds.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => 0,
        Err(_) => {
            let cut = connections.len();
            connections.abort_all();
            cut
        }
    }
}

/// HTTP/1.1 on one connection until it ends or the drain begins (then it
/// ends gracefully).
async fn http<S>(
    stream: S,
    app: Router,
    bounds: Bounds,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_is_a_whole_http_answer() {
        let text = std::str::from_utf8(super::REFUSED).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.parse().ok())
            .expect("a length");
        assert_eq!(length, body.len());
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(v["error"]["status"], 503);
    }
}
