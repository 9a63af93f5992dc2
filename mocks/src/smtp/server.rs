//! The accept loop: one task per connection, a connection limit, and shutdown that stops
//! accepting, tells sessions to close, and aborts what is left after a grace period. Shared by
//! the SMTP and IMAP servers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{SHUTDOWN_GRACE, Shared, session};

/// The SMTP accept loop.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let max = shared.config.max_connections;
    // RFC 5321 §3.1: a server may answer 421 at connection time.
    let busy = b"421 4.7.0 too many connections, try later\r\n";
    serve_connections(listener, max, busy, "SMTP", stop, move |tcp, peer, stop| {
        let conn_id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        session::run(Arc::clone(&shared), Box::new(tcp), peer, conn_id, stop)
    })
    .await;
}

/// Accepts until `stop` turns true (or its sender is dropped), runs `serve` for each connection
/// while fewer than `max_connections` are open (others get `busy` and are closed), then gives
/// open sessions [`SHUTDOWN_GRACE`] to finish before aborting them.
pub(crate) async fn serve_connections<F, Fut>(
    listener: TcpListener,
    max_connections: usize,
    busy: &'static [u8],
    protocol: &'static str,
    mut stop: watch::Receiver<bool>,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // EMFILE and friends: log and keep serving rather than die.
                        tracing::warn!(%error, protocol, "accept failed");
                        continue;
                    }
                };
                if sessions.len() >= max_connections {
                    let _ = tcp.try_write(busy);
                    continue;
                }
                let _ = tcp.set_nodelay(true);
                sessions.spawn(serve(tcp, peer, stop.clone()));
            }
            // Reap finished sessions so the set stays as small as the open connections.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            // A send of `true`, or the handle dropped.
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        sessions.shutdown().await;
    }
}

/// A line server's running accept loop: where it listens, how to stop it, and its task. The
/// SMTP, IMAP and POP3 handles all hold one.
#[derive(Debug)]
pub(crate) struct Listening {
    addr: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Listening {
    /// Wraps an accept loop spawned on `addr` that watches `stop`.
    pub(crate) fn new(
        addr: std::net::SocketAddr,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Listening {
            addr,
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops accepting, tells sessions to close, and waits at most 2 × [`SHUTDOWN_GRACE`].
    pub(crate) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE * 2, task).await;
        }
    }
}
