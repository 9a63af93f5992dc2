//! `bench_queries`: DNS queries per second over loopback UDP, and whether the rate holds over a
//! long run. A benchmark, never a timed assertion; the CLI (`acmeproof bench dns`) prints it.
//!
//! The server keeps a history of every query (a ring of the newest 100,000). The figure that
//! matters is the rate of the first `window` queries next to the rate of the last `window`: with
//! an O(1) history they are the same within noise, with a history that shifts on every record
//! once full the last window collapses.
//!
//! Each client is one UDP socket with one query in flight (no loss on loopback, no
//! retransmission logic to get wrong). Queries and answers are built and parsed by
//! hickory-proto; every answer must carry the query's id, `NOERROR` and the expected address,
//! so the figure cannot count garbage.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

use super::{DnsConfig, DnsError, DnsServer, RecordSpec};

/// The zone the bench serves, and its names (one A record each, `127.0.0.N`).
const ZONE: &str = "bench.test";
const NAMES: usize = 8;
/// An answer slower than this is a hung server, not a figure.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsBenchResult {
    /// Queries answered in all.
    pub queries: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Queries in each measured window.
    pub window: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Queries per second over the first `window` answers.
    pub first_rate: f64,
    /// Queries per second over the last `window` answers.
    pub last_rate: f64,
    /// Records the server's history holds at the end (its bound, once the run passed it).
    pub history_len: usize,
}

impl DnsBenchResult {
    /// How much slower the last window was than the first, in percent (negative: faster).
    pub fn slowdown_percent(&self) -> f64 {
        (1.0 - self.last_rate / self.first_rate) * 100.0
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsBenchError {
    /// The server did not start.
    #[error(transparent)]
    Server(#[from] DnsError),
    /// A socket failed.
    #[error("client I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered wrongly or not at all.
    #[error("wrong answer: {0}")]
    Wrong(String),
    /// A client task panicked or was cancelled.
    #[error("client task failed: {0}")]
    Join(String),
    /// Nothing to measure.
    #[error("invalid bench parameters: {0}")]
    Params(String),
}

/// When the answers that close the windows arrived.
#[derive(Default)]
struct Marks {
    first_window_done: Option<Instant>,
    last_window_start: Option<Instant>,
    all_done: Option<Instant>,
}

/// Starts a server with one zone and sends `queries` A queries from `clients` sockets, each
/// with one query in flight, then reports the rates of the first and the last `window`
/// answers (the figure: one million queries, windows of 100,000).
pub async fn bench_queries(
    queries: usize,
    clients: usize,
    window: usize,
) -> Result<DnsBenchResult, DnsBenchError> {
    if clients == 0 || window == 0 || queries < 2 * window {
        return Err(DnsBenchError::Params(
            "clients and window must be at least 1, and queries at least twice the window".into(),
        ));
    }
    let records = (0..NAMES)
        .map(|i| {
            RecordSpec::new(
                &format!("host{i}.{ZONE}"),
                "A",
                format!("127.0.0.{}", i + 1).as_str(),
            )
        })
        .collect();
    let server = DnsServer::start(DnsConfig {
        zones: vec![ZONE.into()],
        records,
        ..DnsConfig::default()
    })
    .await?;
    let result = run(server.addr(), queries, clients, window).await;
    let history_len = server.history().len();
    server.shutdown().await;
    let (elapsed, marks) = result?;
    let (Some(first), Some(last_start), Some(end)) = (
        marks.first_window_done,
        marks.last_window_start,
        marks.all_done,
    ) else {
        return Err(DnsBenchError::Wrong("a window never closed".into()));
    };
    let started = end - elapsed;
    let rate = |span: Duration| window as f64 / span.as_secs_f64().max(f64::EPSILON);
    Ok(DnsBenchResult {
        queries,
        clients,
        window,
        elapsed,
        first_rate: rate(first - started),
        last_rate: rate(end - last_start),
        history_len,
    })
}

async fn run(
    server: SocketAddr,
    queries: usize,
    clients: usize,
    window: usize,
) -> Result<(Duration, Marks), DnsBenchError> {
    let issued = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let marks = Arc::new(Mutex::new(Marks::default()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        socket.connect(server).await?;
        let (issued, answered, marks) = (
            Arc::clone(&issued),
            Arc::clone(&answered),
            Arc::clone(&marks),
        );
        tasks.spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let k = issued.fetch_add(1, Ordering::Relaxed);
                if k >= queries {
                    return Ok::<(), DnsBenchError>(());
                }
                exchange(&socket, k, &mut buf).await?;
                let done = answered.fetch_add(1, Ordering::Relaxed) + 1;
                let now = Instant::now();
                let mut m = marks.lock().unwrap_or_else(PoisonError::into_inner);
                if done == window {
                    m.first_window_done = Some(now);
                }
                if done == queries - window {
                    m.last_window_start = Some(now);
                }
                if done == queries {
                    m.all_done = Some(now);
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| DnsBenchError::Join(e.to_string()))??;
    }
    let elapsed = started.elapsed();
    let marks = std::mem::take(&mut *marks.lock().unwrap_or_else(PoisonError::into_inner));
    Ok((elapsed, marks))
}

/// Query `k`: an A query for `host{k % NAMES}` with id `k`, and its checked answer.
async fn exchange(socket: &UdpSocket, k: usize, buf: &mut [u8]) -> Result<(), DnsBenchError> {
    let id = (k % 65_536) as u16;
    let host = k % NAMES;
    let name = Name::from_ascii(format!("host{host}.{ZONE}."))
        .map_err(|e| DnsBenchError::Params(e.to_string()))?;
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.add_query(Query::query(name, RecordType::A));
    let wire = query
        .to_vec()
        .map_err(|e| DnsBenchError::Wrong(e.to_string()))?;
    socket.send(&wire).await?;
    let n = tokio::time::timeout(ANSWER_TIMEOUT, socket.recv(buf))
        .await
        .map_err(|_| DnsBenchError::Wrong(format!("no answer to query {k}")))??;
    let answer = Message::from_vec(&buf[..n])
        .map_err(|e| DnsBenchError::Wrong(format!("query {k}: {e}")))?;
    let expected = Ipv4Addr::new(127, 0, 0, host as u8 + 1);
    let address = answer.answers.first().map(|r| &r.data);
    if answer.metadata.id != id
        || answer.metadata.response_code != ResponseCode::NoError
        || !matches!(address, Some(RData::A(a)) if a.0 == expected)
    {
        return Err(DnsBenchError::Wrong(format!(
            "query {k} (id {id}, host{host}): {answer:?}"
        )));
    }
    Ok(())
}
