//! Serving an axum router over HTTPS (rustls) or plain HTTP on a bound listener, with every
//! wait a peer can cause bounded.
//!
//! `axum::serve` has no TLS, so this is the accept loop: TLS handshake with a deadline, then
//! hyper's HTTP/1.1 or HTTP/2 connection (chosen by ALPN, RFC 7301; plain HTTP is HTTP/1.1 only,
//! so hyper-util's protocol sniffing, which has no timeout, is never used).
//!
//! What bounds a peer that stalls, and where:
//!
//! | stall | bound |
//! |---|---|
//! | a TCP connect that never starts TLS, a handshake that never ends | [`Limits::handshake`] |
//! | a connection (TLS or not) that never sends a request; HTTP/2 SETTINGS, then silence | [`Limits::idle`] from accept (the idle watchdog) |
//! | HTTP/1 headers sent slowly; an idle HTTP/1 keep-alive connection | [`Limits::header`] (hyper's `header_read_timeout`) and the idle watchdog |
//! | an HTTP/2 peer that stops answering | keep-alive PINGs, [`Limits::ping`] apart, answered within [`Limits::ping`] |
//! | an idle HTTP/2 connection that does answer PINGs | the idle watchdog (hyper has no HTTP/2 idle timeout) |
//! | a body sent slowly, or a `Content-Length` longer than the body | [`Limits::body`], in [`read_body`]: 408 and the connection closes |
//! | a `Content-Length` above the route's limit | none: [`read_body`] refuses it at once (413), and the connection closes |
//! | the rest of a refused body, sent after the answer | [`Limits::linger`] and [`LINGER_OCTETS`]: the lingering close (`https/linger.rs`) |
//! | a response the peer never reads | the idle watchdog (a request counts as done once its answer is ready) |
//!
//! The idle watchdog: once no request is in progress on a connection for [`Limits::idle`], the
//! connection is shut down gracefully (HTTP/2 GOAWAY; HTTP/1 closes), and dropped
//! [`Limits::grace`] later if it has not finished. So a connection that makes no progress holds
//! its slot for at most [`Limits::stall_bound`].
//!
//! The connection cap ([`Limits::max_connections`]) takes a slot *before* `accept`: over the
//! cap, new connections wait in the listen backlog instead of being closed, and each is served
//! as soon as a slot frees, which every stalled connection does within the stall bound. A flood
//! of stalled connections therefore delays a new client by at most that bound; it never locks
//! it out.
//!
//! Accepted connections are served on the process's connection thread (`https/threads.rs`): one
//! single-threaded runtime, with all their tasks; or, where the accepting thread asked for it
//! ([`serve_connections_on_this_thread`]), on the accepting runtime.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

mod linger;
mod threads;

pub use linger::LINGER_OCTETS;
use linger::{LingerOnClose, Lingering};
use threads::connection_runtime;
pub use threads::serve_connections_on_this_thread;

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers (HTTP/1; also how long an idle
/// keep-alive connection stays open).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body, once its headers are in.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may go without a request in progress (from accept, and after each
/// answer) before it is shut down.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 keep-alive: a PING this often while the connection is idle, and the ACK within as long.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How long open connections get to finish after shutdown starts (of the server, or of one
/// idle connection).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a connection closed with a request body unread goes on reading (and discarding)
/// what the client still sends, so that the client reads the answer (RFC 9112 §9.6).
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once; more wait in the listen backlog for a slot.
pub const MAX_CONNECTIONS: usize = 1024;
/// The largest HTTP/1 read buffer, which bounds the request line and headers (hyper answers
/// 431 above it).
pub const MAX_HEADER_OCTETS: usize = 64 * 1024;

/// The bounds a server applies to its peers (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// [`HANDSHAKE_TIMEOUT`].
    pub handshake: Duration,
    /// [`HEADER_TIMEOUT`].
    pub header: Duration,
    /// [`BODY_TIMEOUT`].
    pub body: Duration,
    /// [`IDLE_TIMEOUT`].
    pub idle: Duration,
    /// [`PING_INTERVAL`].
    pub ping: Duration,
    /// [`SHUTDOWN_GRACE`].
    pub grace: Duration,
    /// [`LINGER_TIMEOUT`].
    pub linger: Duration,
    /// [`MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake: HANDSHAKE_TIMEOUT,
            header: HEADER_TIMEOUT,
            body: BODY_TIMEOUT,
            idle: IDLE_TIMEOUT,
            ping: PING_INTERVAL,
            grace: SHUTDOWN_GRACE,
            linger: LINGER_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The longest a connection that makes no progress holds a slot: no request for `idle`
    /// (the handshake included), then a request whose body stalls for `body`, then `linger`
    /// after its 408, and `grace` to close. A new client waiting for a slot is served within
    /// this bound.
    pub fn stall_bound(&self) -> Duration {
        self.idle.max(self.handshake) + self.body + self.linger + self.grace
    }
}

/// A running server; dropping it does not stop it, [`Served::shutdown`] does.
#[derive(Debug)]
pub struct Served {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    limits: Limits,
    open: Arc<AtomicUsize>,
}

impl Served {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bounds this server applies.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many connections hold a slot now (accepted and not yet closed). The slot the accept
    /// loop holds while it waits for the next connection does not count.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets open connections finish within the grace period, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(self.limits.grace * 2, self.task).await;
    }
}

/// Serves `router` on `listener`, over TLS when `tls` is given, with the default [`Limits`].
pub fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
) -> std::io::Result<Served> {
    serve_with(listener, tls, router, Limits::default())
}

/// Serves `router` on `listener`, over TLS when `tls` is given, with `limits`.
pub fn serve_with(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    limits: Limits,
) -> std::io::Result<Served> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    let server = Server {
        slots: Arc::new(Semaphore::new(limits.max_connections)),
        open: Arc::clone(&open),
        acceptor: tls.map(TlsAcceptor::from),
        http1: Arc::new(http1_builder(&limits)),
        http2: Arc::new(http2_builder(&limits)),
        router,
        limits,
        stopped,
    };
    let task = tokio::spawn(server.run(listener));
    Ok(Served {
        addr,
        stop,
        task,
        limits,
        open,
    })
}

fn http1_builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        // Starts when hyper waits for a request head, so it covers the first request and
        // every idle keep-alive period.
        .header_read_timeout(limits.header)
        .max_buf_size(MAX_HEADER_OCTETS);
    builder
}

fn http2_builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new()).http2_only();
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.ping)
        .keep_alive_timeout(limits.ping);
    builder
}

struct Server {
    slots: Arc<Semaphore>,
    /// Accepted connections not yet closed ([`Served::open_connections`]).
    open: Arc<AtomicUsize>,
    acceptor: Option<TlsAcceptor>,
    http1: Arc<Builder<TokioExecutor>>,
    http2: Arc<Builder<TokioExecutor>>,
    router: Router,
    limits: Limits,
    stopped: watch::Receiver<bool>,
}

impl Server {
    async fn run(mut self, listener: TcpListener) {
        let slots = Arc::clone(&self.slots);
        let mut connections = JoinSet::new();
        loop {
            // A slot first: over the cap, new connections wait in the backlog (see the module
            // documentation).
            while connections.try_join_next().is_some() {}
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                _ = self.stopped.changed() => break,
            };
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // EMFILE and friends: log, back off a little and keep serving.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = self.stopped.changed() => break,
            };
            let _ = tcp.set_nodelay(true);
            let counted = Counted::new(&self.open);
            let connection = Connection {
                acceptor: self.acceptor.clone(),
                http1: Arc::clone(&self.http1),
                http2: Arc::clone(&self.http2),
                router: self.router.clone(),
                limits: self.limits,
                stopped: self.stopped.clone(),
                peer,
            };
            let serve = move |tcp: TcpStream| async move {
                let _held = (slot, counted);
                connection.serve(tcp).await;
            };
            match connection_runtime() {
                Some(runtime) => hand_over(&mut connections, runtime, tcp, peer, serve),
                None => {
                    connections.spawn(serve(tcp));
                }
            }
        }
        drop(listener);
        // Every connection saw the stop signal and has `grace` to finish; then it is dropped.
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(self.limits.grace, drain)
            .await
            .is_err()
        {
            connections.abort_all();
        }
    }
}

/// One accepted connection in [`Served::open_connections`], until dropped.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Counted(Arc::clone(open))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `tcp` on the connection thread's `runtime` (see `threads`), the stream moved to that
/// runtime's reactor; a stream that cannot move is dropped.
fn hand_over<F, Fut>(
    connections: &mut JoinSet<()>,
    runtime: &tokio::runtime::Handle,
    tcp: TcpStream,
    peer: SocketAddr,
    serve: F,
) where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let tcp = match tcp.into_std() {
        Ok(tcp) => tcp,
        Err(error) => return tracing::debug!(%peer, %error, "connection not handed over"),
    };
    connections.spawn_on(
        async move {
            match TcpStream::from_std(tcp) {
                Ok(tcp) => serve(tcp).await,
                Err(error) => tracing::debug!(%peer, %error, "connection not handed over"),
            }
        },
        runtime,
    );
}

struct Connection {
    acceptor: Option<TlsAcceptor>,
    http1: Arc<Builder<TokioExecutor>>,
    http2: Arc<Builder<TokioExecutor>>,
    router: Router,
    limits: Limits,
    stopped: watch::Receiver<bool>,
    peer: SocketAddr,
}

impl Connection {
    async fn serve(self, tcp: TcpStream) {
        let accepted = Instant::now();
        let peer = self.peer;
        let on_close = LingerOnClose::default();
        let tcp = Lingering::new(tcp, on_close.clone(), self.limits.linger);
        match self.acceptor.clone() {
            Some(acceptor) => {
                let tls =
                    match tokio::time::timeout(self.limits.handshake, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                // RFC 7540 §3.3: HTTP/2 over TLS is negotiated with ALPN "h2"; anything else
                // (no ALPN, "http/1.1") is HTTP/1.1.
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                self.drive(tls, h2, on_close, accepted).await;
            }
            None => self.drive(tcp, false, on_close, accepted).await,
        }
    }

    /// Serves HTTP on `io` until the peer is done, the connection idles out, or the server
    /// stops. Over HTTP/1, an answer that says `Connection: close` arms `on_close`.
    async fn drive<I>(mut self, io: I, h2: bool, on_close: LingerOnClose, accepted: Instant)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (activity, idle) = watch::channel(Activity {
            in_flight: 0,
            since: accepted,
        });
        let service = Tracked {
            inner: TowerToHyperService::new(self.router.clone()),
            activity: Arc::new(activity),
            // HTTP/2 has no `Connection: close`; a refused body is a reset stream there.
            on_close: (!h2).then_some(on_close),
        };
        let builder = if h2 { &self.http2 } else { &self.http1 };
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let peer = self.peer;
        let why = tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            _ = idle_expired(idle, self.limits.idle) => "idle",
            _ = self.stopped.wait_for(|stop| *stop) => "shutdown",
        };
        tracing::debug!(%peer, why, "closing the connection");
        conn.as_mut().graceful_shutdown();
        if tokio::time::timeout(self.limits.grace, conn).await.is_err() {
            tracing::debug!(%peer, "the connection did not close in time; dropped");
        }
    }
}

/// Requests in progress on one connection, and since when the count last changed.
#[derive(Debug, Clone, Copy)]
struct Activity {
    in_flight: usize,
    since: Instant,
}

/// Resolves once no request has been in progress for `idle`.
async fn idle_expired(mut activity: watch::Receiver<Activity>, idle: Duration) {
    loop {
        let now = *activity.borrow_and_update();
        if now.in_flight == 0 {
            tokio::select! {
                _ = tokio::time::sleep_until(now.since + idle) => return,
                changed = activity.changed() => if changed.is_err() { return },
            }
        } else if activity.changed().await.is_err() {
            return;
        }
    }
}

/// A hyper service that counts its requests in progress for the idle watchdog (a request is
/// done once its answer is ready; the body is then hyper's to send), and arms the lingering
/// close when an answer says `Connection: close`.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<watch::Sender<Activity>>,
    on_close: Option<LingerOnClose>,
}

struct InFlight(Arc<watch::Sender<Activity>>);

impl InFlight {
    fn begin(activity: &Arc<watch::Sender<Activity>>) -> Self {
        activity.send_modify(|a| {
            a.in_flight += 1;
            a.since = Instant::now();
        });
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|a| {
            a.in_flight = a.in_flight.saturating_sub(1);
            a.since = Instant::now();
        });
    }
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = axum::http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::begin(&self.activity);
        let answer = self.inner.call(request);
        let on_close = self.on_close.clone();
        Box::pin(async move {
            let result = answer.await;
            if let (Some(on_close), Ok(response)) = (&on_close, &result)
                && says_close(response.headers())
            {
                on_close.arm();
            }
            drop(in_flight);
            result
        })
    }
}

/// Whether `Connection` lists `close` (RFC 9110 §7.6.1: a comma-separated list of options,
/// case-insensitive).
fn says_close(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|option| option.trim().eq_ignore_ascii_case("close"))
}

/// Why a request body could not be read. The answer to each closes the connection (the CA and the
/// management API send `Connection: close`): the body was not read to its end (what is left of it
/// would be read as the next request), or the connection broke. RFC 9110 §15.5.14 lets a server
/// that refuses a body close the connection, and RFC 9112 §9.6 has it say so (`Connection: close`),
/// or a client reuses the connection and its next request fails. The close lingers
/// (`https/linger.rs`), so a client still sending the body reads the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body (or its announced `Content-Length`) is over the limit: 413.
    #[error("the request body is larger than {limit} octets")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body did not arrive in time: 408, and the connection is closed.
    #[error("the request body did not arrive within {} s", .0.as_secs())]
    Timeout(Duration),
    /// The peer broke the body off (reset, bad chunking).
    #[error("the request body could not be read: {0}")]
    Broken(String),
}

impl BodyError {
    /// The HTTP status that answers it.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge { .. } => 413,
            BodyError::Timeout(_) => 408,
            BodyError::Broken(_) => 400,
        }
    }
}

/// Reads a request body of at most `limit` octets within `timeout`. A `Content-Length` above
/// `limit` is refused before anything is read (RFC 9110 §15.5.14: 413 Content Too Large).
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let read = async move {
        let mut body = body;
        let mut octets: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if octets.len() + data.len() > limit {
                    return Err(BodyError::TooLarge { limit });
                }
                octets.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(octets))
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyError::Timeout(timeout)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn connection(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::CONNECTION, HeaderValue::from_static(v));
        }
        headers
    }

    #[test]
    fn close_is_found_in_any_connection_field_and_case() {
        for values in [
            &["close"][..],
            &["keep-alive, Close"],
            &["upgrade", " CLOSE "],
        ] {
            assert!(says_close(&connection(values)), "{values:?}");
        }
        for values in [
            &[][..],
            &["keep-alive"],
            &["closed"],
            &["upgrade, keep-alive"],
        ] {
            assert!(!says_close(&connection(values)), "{values:?}");
        }
    }
}
