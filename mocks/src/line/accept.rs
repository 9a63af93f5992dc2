//! The accept loop of every line server (SMTP, LMTP, IMAP, POP3): one task per connection, a
//! connection limit with a bounded wait for a slot (see [`Admission`]), and shutdown that stops
//! accepting, tells sessions to close, and aborts what is left after [`SHUTDOWN_GRACE`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::conn::{self, BoxStream};

/// How long open connections get after shutdown starts before they are aborted.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A connection the accept loop let in.
pub(crate) struct Accepted {
    /// The TCP stream, boxed so TLS can take its place.
    pub(crate) stream: BoxStream,
    /// The peer's address.
    pub(crate) peer: SocketAddr,
    /// The connection's number, from 1 in accept order (the transcript shows it).
    pub(crate) conn_id: u64,
    /// Turns true when the server shuts down.
    pub(crate) stop: watch::Receiver<bool>,
}

/// How much longer than a server's idle bound a connection over the cap waits for a slot: the
/// idle session it waits for is closed by its own timer, which fires at about the same time.
pub(crate) const ADMISSION_SLACK: Duration = Duration::from_secs(2);

/// How long the TLS handshake of a refused implicit-TLS connection may take.
const REFUSAL_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS configuration a refusal needs: `Some` on an implicit-TLS port only.
pub(crate) fn implicit_tls(
    implicit: bool,
    tls: Option<&Arc<rustls::ServerConfig>>,
) -> Option<Arc<rustls::ServerConfig>> {
    if implicit { tls.cloned() } else { None }
}

/// Who gets a session: at most `max_connections` at once. A connection over the cap waits up
/// to `wait` for a slot (every session is closed after its server's idle bound, so idle
/// connections cannot lock a new client out for longer), then gets `busy` and is closed. On an
/// implicit-TLS port the refusal is sent after the handshake, so the client reads the
/// protocol's answer rather than a TLS error. At most `max_connections` connections wait or
/// are being refused at once; beyond that a connection is closed without an answer.
pub(crate) struct Admission {
    /// Simultaneous sessions.
    pub(crate) max_connections: usize,
    /// The protocol's "too busy" answer.
    pub(crate) busy: &'static [u8],
    /// Implicit TLS: the handshake comes before the refusal.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// How long a connection over the cap waits for a slot.
    pub(crate) wait: Duration,
}

/// Binds `listen` and runs [`serve_connections`] on it in a task: the running server's handle.
pub(crate) async fn listen<F, Fut>(
    listen: SocketAddr,
    admission: Admission,
    protocol: &'static str,
    serve: F,
) -> std::io::Result<Listening>
where
    F: Fn(Accepted) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| crate::bind_error(listen, e))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve_connections(
        listener, admission, protocol, stopped, serve,
    ));
    Ok(Listening::new(addr, stop, task))
}

/// Accepts until `stop` turns true (or its sender is dropped) and runs `serve` for each
/// connection [`Admission`] lets in, then gives open sessions [`SHUTDOWN_GRACE`] to finish
/// before aborting them. Every task (session, waiter, refusal) is in one `JoinSet`.
async fn serve_connections<F, Fut>(
    listener: TcpListener,
    admission: Admission,
    protocol: &'static str,
    mut stop: watch::Receiver<bool>,
    serve: F,
) where
    F: Fn(Accepted) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut next_conn = 0u64;
    let admission = Arc::new(admission);
    let slots = Arc::new(Semaphore::new(admission.max_connections));
    let waiting = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
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
                let _ = tcp.set_nodelay(true);
                next_conn += 1;
                let conn_id = next_conn;
                if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
                    let session = serve(Accepted {
                        stream: Box::new(tcp),
                        peer,
                        conn_id,
                        stop: stop.clone(),
                    });
                    tasks.spawn(async move {
                        session.await;
                        drop(slot);
                    });
                    continue;
                }
                if waiting.load(Ordering::Relaxed) >= admission.max_connections {
                    tracing::debug!(protocol, %peer, "over the cap and the waiting room: closed");
                    continue;
                }
                waiting.fetch_add(1, Ordering::Relaxed);
                let (slots, waiting, admission) =
                    (Arc::clone(&slots), Arc::clone(&waiting), Arc::clone(&admission));
                let (serve, stop) = (serve.clone(), stop.clone());
                tasks.spawn(async move {
                    let slot = tokio::time::timeout(admission.wait, slots.acquire_owned()).await;
                    match slot {
                        Ok(Ok(slot)) => {
                            waiting.fetch_sub(1, Ordering::Relaxed);
                            let stream: BoxStream = Box::new(tcp);
                            serve(Accepted { stream, peer, conn_id, stop }).await;
                            drop(slot);
                        }
                        _ => {
                            refuse(tcp, &admission).await;
                            waiting.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            // Reap finished tasks so the set stays as small as the open connections.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            // A send of `true`, or the handle dropped.
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    // Waiting connections will not get a slot now.
    slots.close();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.shutdown().await;
    }
}

/// Sends the busy answer (after the TLS handshake on an implicit-TLS port) and closes.
async fn refuse(tcp: TcpStream, admission: &Admission) {
    let mut stream: BoxStream = Box::new(tcp);
    if let Some(tls) = &admission.tls {
        match conn::accept_tls(Arc::clone(tls), stream, REFUSAL_HANDSHAKE_TIMEOUT).await {
            Some(s) => stream = s,
            None => return,
        }
    }
    let bounded = tokio::time::timeout(REFUSAL_HANDSHAKE_TIMEOUT, async {
        stream.write_all(admission.busy).await?;
        stream.flush().await?;
        stream.shutdown().await
    });
    let _ = bounded.await;
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
