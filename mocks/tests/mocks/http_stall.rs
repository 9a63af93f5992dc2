//! The HTTP servers (the CA over HTTPS, the management API over HTTP) against peers that stall:
//! every kind of stall is closed within the stall bound (`https::Limits::stall_bound`) with the
//! exact answer, and 1,024 stalled connections do not lock a new client out (issue 17).
//!
//! The bounds are generous, and the assertions are "before the bound expired", never "fast".

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acmeproof_mocks::https::{self, Limits};
use acmeproof_mocks::world::{World, WorldConfig};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// The HTTP/2 connection preface (RFC 9113 §3.4) and an empty SETTINGS frame (§6.5).
const H2_PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The ways a peer stalls (issue 17's list, plus slow headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    /// A TCP connection that never sends a byte (on the CA: never starts TLS).
    BareTcp,
    /// TLS, then no request.
    TlsSilent,
    /// TLS with ALPN h2, the preface and SETTINGS, then silence (and no PING answered).
    H2SettingsThenSilence,
    /// Half a request line, then nothing.
    SlowHeaders,
    /// Headers announcing a 600-octet body, then nothing.
    StalledBody,
    /// Headers announcing 600 octets, then 100 of them.
    ShortBody,
}

impl Stall {
    const ALL: [Stall; 6] = [
        Stall::BareTcp,
        Stall::TlsSilent,
        Stall::H2SettingsThenSilence,
        Stall::SlowHeaders,
        Stall::StalledBody,
        Stall::ShortBody,
    ];

    fn needs_tls(self) -> bool {
        matches!(self, Stall::TlsSilent | Stall::H2SettingsThenSilence)
    }

    /// Whether the server answers 408 before closing (the request was in, its body was not).
    fn answered_408(self) -> bool {
        matches!(self, Stall::StalledBody | Stall::ShortBody)
    }
}

/// A TLS client that trusts the world's root, offering `alpn`.
fn connector(world: &World, alpn: &[&[u8]]) -> TlsConnector {
    let mut config = (*world.pki.client_config()).clone();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn tls(
    world: &World,
    addr: SocketAddr,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    connector(world, alpn)
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

/// Opens one stalled connection of `kind` to `addr` (`tls`: the CA's HTTPS).
async fn open(world: &World, addr: SocketAddr, use_tls: bool, kind: Stall) -> Box<dyn Stream> {
    let path = if use_tls { "/acme/new-order" } else { "/knobs" };
    let head = |method: &str| {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/jose+json\r\nContent-Length: 600\r\n\r\n"
        )
    };
    let mut stream: Box<dyn Stream> = match (kind, use_tls) {
        (Stall::BareTcp, _) | (_, false) => {
            Box::new(TcpStream::connect(addr).await.expect("connect"))
        }
        (Stall::H2SettingsThenSilence, true) => Box::new(tls(world, addr, &[b"h2"]).await),
        (_, true) => Box::new(tls(world, addr, &[b"http/1.1"]).await),
    };
    let first: Vec<u8> = match kind {
        Stall::BareTcp | Stall::TlsSilent => Vec::new(),
        Stall::H2SettingsThenSilence => H2_PREFACE_AND_SETTINGS.to_vec(),
        Stall::SlowHeaders => format!("GET /directory HTTP/1.1\r\nHost: {addr}\r\nUser-Ag").into(),
        Stall::StalledBody => head("POST").into(),
        Stall::ShortBody => {
            let mut bytes = head("POST").into_bytes();
            bytes.extend_from_slice(&[b'{'; 100]);
            bytes
        }
    };
    if !first.is_empty() {
        stream.write_all(&first).await.expect("write");
        stream.flush().await.expect("flush");
    }
    stream
}

/// Reads until the server closes the connection, or `deadline`; returns what arrived and
/// whether it closed in time. A reset or a TLS error is a close too.
async fn until_closed(mut stream: Box<dyn Stream>, deadline: Instant) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (got, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits (bounded) until `served` holds `n` connections.
async fn wait_for_open(served: &https::Served, n: usize, bound: Duration) {
    assert!(
        open_within(served, |open| open >= n, bound).await,
        "only {} of {n} connections accepted",
        served.open_connections()
    );
}

/// Whether the number of connections `served` holds satisfies `wanted` before `bound` passes.
async fn open_within(
    served: &https::Served,
    wanted: impl Fn(usize) -> bool,
    bound: Duration,
) -> bool {
    let deadline = Instant::now() + bound;
    while !wanted(served.open_connections()) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Opens `count` stalled connections (the kinds in turn, those that the server must have
/// accepted first), checks the server is full, then that `new_client` is served before the
/// stall bound expires and every stalled connection was closed with its answer.
async fn flood_then_new_client<F, Fut>(
    world: &World,
    served: &https::Served,
    use_tls: bool,
    count: usize,
    new_client: F,
) where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    let limits = served.limits();
    let bound = limits.stall_bound();
    assert_eq!(count, limits.max_connections, "the flood fills every slot");
    let kinds: Vec<Stall> = Stall::ALL
        .iter()
        .copied()
        .filter(|k| use_tls || !k.needs_tls())
        .collect();
    let started = Instant::now();
    let mut stalled = Vec::with_capacity(count);
    for i in 0..count {
        let kind = kinds[i % kinds.len()];
        stalled.push((kind, open(world, served.addr(), use_tls, kind).await));
    }
    wait_for_open(served, count, bound).await;
    let opened = Instant::now();
    // Every slot is held by a stalled peer: the new client waits in the backlog for one.
    let mut closes = JoinSet::new();
    for (kind, stream) in stalled {
        closes.spawn(async move { (kind, until_closed(stream, opened + bound).await) });
    }
    let status = tokio::time::timeout(bound, new_client())
        .await
        .unwrap_or_else(|_| panic!("the new client was not served within {bound:?}"));
    assert_eq!(status, StatusCode::OK);
    let waited = opened.elapsed();
    assert!(waited < bound, "served after {waited:?}, bound {bound:?}");
    let mut by_kind = std::collections::BTreeMap::new();
    while let Some(joined) = closes.join_next().await {
        let (kind, (got, closed)) = joined.expect("task");
        assert!(
            closed,
            "{kind:?} still open after the stall bound {bound:?}"
        );
        let text = String::from_utf8_lossy(&got);
        if kind.answered_408() {
            assert!(text.starts_with("HTTP/1.1 408 "), "{kind:?}: {text}");
            if use_tls {
                assert!(
                    text.contains("application/problem+json")
                        && text.contains("urn:ietf:params:acme:error:malformed"),
                    "{kind:?}: {text}"
                );
            }
        } else if kind != Stall::H2SettingsThenSilence {
            assert!(got.is_empty(), "{kind:?} got {text}");
        }
        *by_kind.entry(format!("{kind:?}")).or_insert(0) += 1;
    }
    assert_eq!(by_kind.values().sum::<usize>(), count);
    tracing_line(&format!(
        "{count} stalled ({by_kind:?}) after {:?}; new client served after {waited:?} (bound {bound:?})",
        opened - started
    ));
}

#[allow(clippy::print_stderr)]
fn tracing_line(line: &str) {
    eprintln!("{line}");
}

fn https_client(world: &World) -> reqwest::Client {
    reqwest::Client::builder()
        // The world installs no process-wide crypto provider: the client names its own config.
        .tls_backend_preconfigured(world.pki.client_config().as_ref().clone())
        .no_proxy()
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_serves_a_new_client_past_1024_stalled_connections() {
    let world = World::start(WorldConfig::example()).await.expect("world");
    let client = https_client(&world);
    let url = world.ca.directory_url();
    flood_then_new_client(&world, world.ca.served(), true, 1024, || async {
        client.get(&url).send().await.expect("directory").status()
    })
    .await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_serves_a_new_client_past_1024_stalled_connections() {
    let world = World::start(WorldConfig::example()).await.expect("world");
    let url = format!("{}/", world.management_url());
    let tls = world.pki.client_config().as_ref().clone();
    flood_then_new_client(&world, world.management(), false, 1024, || async {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .no_proxy()
            .build()
            .expect("client")
            .get(&url)
            .send()
            .await
            .expect("index")
            .status()
    })
    .await;
    world.shutdown().await;
}

/// Short bounds, so the cases below run in seconds.
fn short() -> Limits {
    Limits {
        handshake: Duration::from_millis(800),
        header: Duration::from_millis(800),
        body: Duration::from_millis(800),
        idle: Duration::from_millis(800),
        ping: Duration::from_millis(400),
        grace: Duration::from_millis(400),
        linger: Duration::from_millis(400),
        max_connections: 4,
    }
}

/// A route that reads its body as the CA does (`https::read_body`, 1 KiB, the short bound),
/// and closes the connection after a refused one, saying so.
fn echo_router() -> Router {
    Router::new().fallback(|headers: HeaderMap, body: Body| async move {
        match https::read_body(&headers, body, 1024, short().body).await {
            Ok(body) => (StatusCode::OK, format!("{} octets", body.len())).into_response(),
            Err(e) => (
                StatusCode::from_u16(e.status()).expect("status"),
                [(axum::http::header::CONNECTION, "close")],
                e.to_string(),
            )
                .into_response(),
        }
    })
}

async fn plain_server() -> https::Served {
    plain_server_with(short()).await
}

async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request).await.expect("write");
    let (got, closed) = until_closed(Box::new(tcp), Instant::now() + short().stall_bound()).await;
    assert!(closed, "closed within the bound");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_content_length_over_the_limit_is_refused_before_the_body_is_sent() {
    let served = plain_server().await;
    let mut tcp = TcpStream::connect(served.addr()).await.expect("connect");
    tcp.write_all(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n")
        .await
        .expect("write");
    // No body is sent: the answer must come anyway, well before the body timeout.
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(short().body / 2, tcp.read(&mut buf))
        .await
        .expect("answered at once")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(text.contains("larger than 1024 octets"), "{text}");
    // A body within the limit is read.
    let text = exchange(
        served.addr(),
        b"POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.ends_with("5 octets"),
        "{text}"
    );
    served.shutdown().await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_and_a_stalled_body_are_answered() {
    let served = plain_server().await;
    let mut big = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    big.extend_from_slice(format!("800\r\n{}\r\n", "a".repeat(0x800)).as_bytes());
    let text = exchange(served.addr(), &big).await;
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    let text = exchange(
        served.addr(),
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("did not arrive within"), "{text}");
    served.shutdown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let served = plain_server().await;
    let mut tcp = TcpStream::connect(served.addr()).await.expect("connect");
    tcp.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .expect("write");
    // One answer, then the connection stays idle until the server closes it.
    let (got, closed) = until_closed(Box::new(tcp), Instant::now() + short().stall_bound()).await;
    assert!(closed, "idle keep-alive closed");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 "));
    served.shutdown().await;
}

#[tokio::test]
async fn an_http2_connection_that_answers_pings_is_closed_when_idle() {
    // hyper's HTTP/2 client answers PINGs: only the idle watchdog can close it.
    let world = World::start(WorldConfig::example()).await.expect("world");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let tls_config = world.pki.tls_server_config(&["127.0.0.1"]).expect("tls");
    let served =
        https::serve_with(listener, Some(tls_config), echo_router(), short()).expect("serve");
    let stream = tls(&world, served.addr(), &[b"h2"]).await;
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    let conn = tokio::spawn(conn);
    let request = axum::http::Request::get("https://127.0.0.1/x")
        .body(http_body_util::Empty::<axum::body::Bytes>::new())
        .expect("request");
    let answer = send.send_request(request).await.expect("answer");
    assert_eq!(answer.status(), StatusCode::OK);
    let ended = tokio::time::timeout(short().stall_bound(), conn).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "closed by GOAWAY: {ended:?}"
    );
    served.shutdown().await;
    world.shutdown().await;
}

#[tokio::test]
async fn over_the_cap_a_new_client_waits_for_a_slot_instead_of_being_refused() {
    let served = plain_server().await;
    let limits = served.limits();
    let mut stalled = Vec::new();
    for _ in 0..limits.max_connections {
        stalled.push(TcpStream::connect(served.addr()).await.expect("connect"));
    }
    wait_for_open(&served, limits.max_connections, limits.stall_bound()).await;
    let opened = Instant::now();
    let text = exchange(
        served.addr(),
        b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(opened.elapsed() < limits.stall_bound());
    drop(stalled);
    served.shutdown().await;
}

/// A server whose handler answers with the name of the thread it ran on.
async fn thread_naming_server() -> https::Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let router = Router::new().fallback(|| async {
        std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned()
    });
    https::serve_with(listener, None, router, short()).expect("serve")
}

async fn ask_thread(addr: SocketAddr) -> String {
    exchange(
        addr,
        b"GET /thread HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await
}

/// Every server's connections run on the process's one connection thread, which outlives each
/// server: the handler reports the thread it ran on, on two servers, before and after the
/// first one stops.
#[tokio::test]
async fn requests_run_on_the_shared_connection_thread() {
    let (first, second) = (thread_naming_server().await, thread_naming_server().await);
    // The test itself runs elsewhere, so the name can only come from the connection thread.
    assert_ne!(std::thread::current().name(), Some("acmeproof-http"));
    for addr in [first.addr(), second.addr()] {
        let text = ask_thread(addr).await;
        assert!(text.ends_with("acmeproof-http"), "{text}");
    }
    first.shutdown().await;
    let text = ask_thread(second.addr()).await;
    assert!(text.ends_with("acmeproof-http"), "{text}");
    second.shutdown().await;
}

/// A thread that asked to serve its own connections (the scenario runner's threads) runs their
/// requests itself, on its single-threaded runtime; the threads that did not ask still hand
/// theirs to the connection thread.
#[test]
fn a_thread_serving_its_own_connections_runs_their_requests() {
    let on_thread = |name: &str, own: bool| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                if own {
                    https::serve_connections_on_this_thread();
                }
                runtime.block_on(async {
                    let served = thread_naming_server().await;
                    let text = ask_thread(served.addr()).await;
                    served.shutdown().await;
                    text
                })
            })
            .expect("spawn")
            .join()
            .expect("join")
    };
    let text = on_thread("scenario-thread", true);
    assert!(text.ends_with("scenario-thread"), "{text}");
    let text = on_thread("other-thread", false);
    assert!(text.ends_with("acmeproof-http"), "{text}");
}

/// Sends headers announcing `announced` octets and then `sent` of them, and reads what comes
/// back until the server closes (bounded by `bound`).
async fn too_large(
    mut stream: Box<dyn Stream>,
    head: String,
    sent: usize,
    bound: Duration,
) -> (String, bool) {
    stream.write_all(head.as_bytes()).await.expect("write");
    // The server may answer and close before all of it is written: a failed write is fine.
    let _ = stream.write_all(&vec![b'{'; sent]).await;
    let _ = stream.flush().await;
    let (got, closed) = until_closed(stream, Instant::now() + bound).await;
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

#[tokio::test]
async fn a_refused_large_body_answers_413_with_connection_close_and_closes() {
    // RFC 9110 §15.5.14 (413): the rest of the body is never read, so the connection cannot
    // carry another request; RFC 9112 §9.6: a server that closes says so with
    // `Connection: close`, or a client reuses the connection and its next request fails.
    let world = World::start(WorldConfig::example()).await.expect("world");
    let ca = world.ca.served().addr();
    let bound = world.ca.served().limits().stall_bound();
    for sent in [0, 64 * 1024] {
        let head = format!(
            "POST /acme/new-order HTTP/1.1\r\nHost: {ca}\r\nContent-Type: application/jose+json\r\nContent-Length: 10000000\r\n\r\n"
        );
        let stream = Box::new(tls(&world, ca, &[b"http/1.1"]).await);
        let (text, closed) = too_large(stream, head, sent, bound).await;
        assert!(text.starts_with("HTTP/1.1 413 "), "CA, {sent} sent: {text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "CA, {sent} sent: {text}"
        );
        assert!(
            text.contains("urn:ietf:params:acme:error:malformed"),
            "{text}"
        );
        assert!(closed, "CA, {sent} sent: still open after {bound:?}");

        let management = world.management().addr();
        let head = format!(
            "POST /knobs HTTP/1.1\r\nHost: {management}\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        );
        let stream = Box::new(TcpStream::connect(management).await.expect("connect"));
        let (text, closed) = too_large(stream, head, sent, bound).await;
        assert!(
            text.starts_with("HTTP/1.1 413 "),
            "management, {sent} sent: {text}"
        );
        assert!(
            text.to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "management, {sent} sent: {text}"
        );
        assert!(
            closed,
            "management, {sent} sent: still open after {bound:?}"
        );
    }
    world.shutdown().await;
}

/// Sends `head` and `early` octets of body, waits for the first octets of the answer, sends
/// `late` octets more and closes its side, while reading the answer: a client that streams its
/// body and is still sending when the answer comes. Returns the answer, whether every write went
/// through, and whether the answer ended in a clean close (end of stream, or TLS close_notify)
/// rather than an error such as a reset.
async fn send_while_reading(
    stream: Box<dyn Stream>,
    head: String,
    early: usize,
    late: usize,
    bound: Duration,
) -> (String, std::io::Result<()>, std::io::Result<()>) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (answered, answer_started) = tokio::sync::oneshot::channel::<()>();
    let write = async move {
        let chunk = vec![b' '; 16 * 1024];
        let send = async |writer: &mut tokio::io::WriteHalf<Box<dyn Stream>>, mut left: usize| {
            while left > 0 {
                let n = left.min(chunk.len());
                writer.write_all(&chunk[..n]).await?;
                left -= n;
            }
            writer.flush().await
        };
        writer.write_all(head.as_bytes()).await?;
        send(&mut writer, early).await?;
        let _ = answer_started.await;
        send(&mut writer, late).await?;
        writer.shutdown().await
    };
    let read = async move {
        let mut answered = Some(answered);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => return (got, Ok(())),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(error) => return (got, Err(error)),
            }
            if let Some(answered) = answered.take() {
                let _ = answered.send(());
            }
        }
    };
    let ((got, ended), wrote) = tokio::time::timeout(bound, async { tokio::join!(read, write) })
        .await
        .expect("the exchange ends within the stall bound");
    (String::from_utf8_lossy(&got).into_owned(), wrote, ended)
}

#[tokio::test]
async fn a_client_still_sending_a_refused_body_reads_the_413_and_a_clean_close() {
    // RFC 9112 §9.6: closed at once, a connection with the client's octets still arriving
    // resets, and the client fails on a write or a read instead of reading the 413 (hyper's
    // client: "broken pipe"). The lingering close reads the rest and closes after the client.
    let world = World::start(WorldConfig::example()).await.expect("world");
    let ca = world.ca.served().addr();
    let management = world.management().addr();
    let bound = world.ca.served().limits().stall_bound();
    let (early, late) = (80 * 1024, 1024 * 1024);
    assert!(early + late <= https::LINGER_OCTETS);
    for (name, path, use_tls, addr) in [
        ("CA", "/acme/new-order", true, ca),
        ("management", "/knobs", false, management),
    ] {
        // Announced: refused on the `Content-Length`, before any body is read. Chunked (one
        // chunk, never finished): refused once 64 KiB of it arrived.
        for announced in [true, false] {
            let total = early + late;
            let framing = if announced {
                format!("Content-Length: {total}\r\n\r\n")
            } else {
                format!("Transfer-Encoding: chunked\r\n\r\n{total:x}\r\n")
            };
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{framing}"
            );
            let stream: Box<dyn Stream> = if use_tls {
                Box::new(tls(&world, addr, &[b"http/1.1"]).await)
            } else {
                Box::new(TcpStream::connect(addr).await.expect("connect"))
            };
            let (text, wrote, ended) = send_while_reading(stream, head, early, late, bound).await;
            let case = format!("{name}, announced {announced}");
            assert!(text.starts_with("HTTP/1.1 413 "), "{case}: {text}");
            assert!(
                text.to_ascii_lowercase()
                    .contains("\r\nconnection: close\r\n"),
                "{case}: {text}"
            );
            assert!(wrote.is_ok(), "{case}: a write failed: {wrote:?}");
            assert!(ended.is_ok(), "{case}: the answer ended in {ended:?}");
        }
    }
    world.shutdown().await;
}

/// A plain server with the echo route and `limits`.
async fn plain_server_with(limits: Limits) -> https::Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    https::serve_with(listener, None, echo_router(), limits).expect("serve")
}

/// Sends a body over the echo route's 1 KiB limit and reads the 413 and the half-close.
async fn refused_and_half_closed(served: &https::Served) -> TcpStream {
    let mut tcp = TcpStream::connect(served.addr()).await.expect("connect");
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.expect("write");
    tcp.write_all(&[b' '; 4096]).await.expect("write");
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut got)).await;
    assert!(matches!(read, Ok(Ok(_))), "the half-close: {read:?}");
    assert!(got.starts_with(b"HTTP/1.1 413 "), "{got:?}");
    tcp
}

/// Waits (bounded by `within`) until `served` holds no connection.
async fn released_within(served: &https::Served, within: Duration) -> bool {
    open_within(served, |open| open == 0, within).await
}

#[tokio::test]
async fn a_connection_closed_without_a_refusal_does_not_linger() {
    // An answer without `Connection: close` leaves the connection unarmed: when the idle
    // watchdog closes it, it is released at once, though the client keeps its side open. Armed,
    // it would linger until the watchdog's grace ran out, 30 s later.
    let limits = Limits {
        idle: Duration::from_millis(300),
        grace: Duration::from_secs(30),
        linger: Duration::from_secs(60),
        ..short()
    };
    let served = plain_server_with(limits).await;
    let mut tcp = TcpStream::connect(served.addr()).await.expect("connect");
    tcp.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .expect("write");
    let mut got = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut got))
        .await
        .expect("an answer")
        .expect("read");
    assert!(got[..n].starts_with(b"HTTP/1.1 200 "), "{:?}", &got[..n]);
    assert!(
        released_within(&served, Duration::from_secs(10)).await,
        "an idle, unarmed connection still open 10 s on"
    );
    served.shutdown().await;
}

#[tokio::test]
async fn a_lingering_close_ends_after_linger_when_the_client_never_closes() {
    // The client reads the answer and keeps its side open: the server stops waiting after
    // `linger`, long before the idle watchdog (`idle` + `grace`) would drop the connection.
    let limits = Limits {
        linger: Duration::from_millis(300),
        idle: Duration::from_secs(20),
        grace: Duration::from_secs(5),
        ..short()
    };
    let served = plain_server_with(limits).await;
    let _kept_open = refused_and_half_closed(&served).await;
    assert!(
        released_within(&served, Duration::from_secs(10)).await,
        "still lingering 10 s after the answer"
    );
    served.shutdown().await;
}

#[tokio::test]
async fn a_lingering_close_discards_at_most_linger_octets() {
    // A client that goes on sending is read for `LINGER_OCTETS` at most, then the connection
    // closes (and the client's writes fail), long before `linger` ends.
    let limits = Limits {
        linger: Duration::from_secs(60),
        idle: Duration::from_secs(60),
        grace: Duration::from_secs(5),
        ..short()
    };
    let served = plain_server_with(limits).await;
    let mut tcp = refused_and_half_closed(&served).await;
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0usize;
    let cut_off = tokio::time::timeout(Duration::from_secs(20), async {
        while sent < 4 * https::LINGER_OCTETS {
            if tcp.write_all(&chunk).await.is_err() {
                return true;
            }
            sent += chunk.len();
        }
        false
    })
    .await;
    assert_eq!(cut_off, Ok(true), "{sent} octets sent and still read");
    assert!(
        sent >= https::LINGER_OCTETS / 2,
        "cut off after {sent} octets"
    );
    assert!(
        released_within(&served, Duration::from_secs(10)).await,
        "still open"
    );
    served.shutdown().await;
}
