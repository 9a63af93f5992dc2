//! The accept loop: one task per connection, a connection limit, and shutdown that stops
//! accepting, tells sessions to close, and aborts what is left after a grace period.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{SHUTDOWN_GRACE, Shared, session};

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // EMFILE and friends: log and keep serving rather than die.
                        tracing::warn!(%error, "SMTP accept failed");
                        continue;
                    }
                };
                if sessions.len() >= shared.config.max_connections {
                    // RFC 5321 §3.1: a server may answer 421 at connection time.
                    let _ = tcp.try_write(b"421 4.7.0 too many connections, try later\r\n");
                    continue;
                }
                let _ = tcp.set_nodelay(true);
                let conn_id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
                let shared = Arc::clone(&shared);
                let stop = stop.clone();
                sessions.spawn(session::run(shared, Box::new(tcp), peer, conn_id, stop));
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
