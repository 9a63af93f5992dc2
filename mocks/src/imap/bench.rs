//! `bench_search_fetch`: IMAP SEARCH+FETCH round trips per second over loopback. A benchmark,
//! never a timed assertion; the CLI prints it.
//!
//! The mailbox is built deterministically (varied Subjects and Froms, bodies of about 4 KiB),
//! so the driver knows the right answer to every query: each round trip is
//! `UID SEARCH UNSEEN SUBJECT "w"` (or `FROM "s" SUBJECT "w"`), whose hits must be exactly the
//! expected UIDs, then `UID FETCH u (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] RFC822.SIZE)` for
//! one of them, whose Subject, UID and size must be the expected ones. A wrong answer fails the
//! run, so the figure cannot measure garbage.
//!
//! The client is a raw line driver: it writes fixed commands and reads up to the tagged line;
//! a literal in a response (`{n}` CRLF) is read by its octet count, never by scanning lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{ImapConfig, ImapError, ImapServer};
use crate::clock::Clock;
use crate::mailstore::{MailStore, StoreError};

/// The bench user.
const USER: &str = "bench@imap.bench.test";
/// Its password.
const PASSWORD: &str = "bench-password";
/// Round trips each client makes before the clock starts (connections warm, code paged in).
const WARM_UP_PER_CLIENT: usize = 25;
/// A round trip slower than this is a hung server, not a figure.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(30);

/// Subject words: none is a substring of another or of the rest of a Subject.
const WORDS: [&str; 16] = [
    "invoice",
    "meeting",
    "report",
    "deploy",
    "backup",
    "release",
    "audit",
    "budget",
    "roadmap",
    "incident",
    "payroll",
    "training",
    "survey",
    "contract",
    "upgrade",
    "newsletter",
];
/// Senders (display name, local part); the local part is what FROM searches for.
const SENDERS: [(&str, &str); 8] = [
    ("Alice Liddell", "alice"),
    ("Bruno Costa", "bruno"),
    ("Chen Wei", "chen"),
    ("Dara Byrne", "dara"),
    ("Emeka Obi", "emeka"),
    ("Farah Haddad", "farah"),
    ("Goran Petrovic", "goran"),
    ("Hana Sato", "hana"),
];

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Concurrent clients.
    pub clients: usize,
    /// Messages in the mailbox.
    pub messages: usize,
    /// SEARCH+FETCH pairs completed in the timed phase.
    pub round_trips: usize,
    /// Wall time of the timed phase.
    pub elapsed: Duration,
    /// `round_trips / elapsed`.
    pub round_trips_per_second: f64,
    /// Median latency of one round trip.
    pub p50: Duration,
    /// 95th percentile latency of one round trip.
    pub p95: Duration,
    /// Slowest round trip.
    pub max: Duration,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The server did not start.
    #[error(transparent)]
    Server(#[from] ImapError),
    /// The mailbox could not be built.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A connection failed.
    #[error("client I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered wrongly (or not at all).
    #[error("wrong answer: {0}")]
    Wrong(String),
    /// A client task panicked or was cancelled.
    #[error("client task failed: {0}")]
    Join(String),
    /// Nothing to measure (no clients, messages or round trips).
    #[error("invalid bench parameters: {0}")]
    Params(String),
}

/// One message of the model.
struct Expected {
    uid: u32,
    subject: String,
    /// `Name <local@domain>`, as SEARCH FROM sees it.
    from: String,
    size: usize,
}

/// One query of the model with its non-empty answer.
struct Query {
    command: String,
    uids: Vec<u32>,
}

/// The model of the mailbox: the messages and the queries worth asking.
struct Model {
    messages: Vec<Expected>,
    queries: Vec<Query>,
}

impl Model {
    fn message(&self, uid: u32) -> Option<&Expected> {
        self.messages
            .binary_search_by_key(&uid, |m| m.uid)
            .ok()
            .map(|i| &self.messages[i])
    }
}

/// A small deterministic generator for body text.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Message `i` of the mailbox: its Subject, From and raw octets (about 4 KiB, varying).
fn message(i: usize) -> (String, String, Vec<u8>) {
    let (w1, w2) = (WORDS[i % WORDS.len()], WORDS[(i * 7 + 3) % WORDS.len()]);
    let (name, local) = SENDERS[(i / 3) % SENDERS.len()];
    let subject = format!("{w1} and {w2} for week {}", i % 53 + 1);
    let from = format!("{name} <{local}@senders.test>");
    let mut raw = format!(
        "From: {from}\r\nTo: {USER}\r\nSubject: {subject}\r\n\
         Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m{i}@senders.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    .into_bytes();
    let target = 3584 + (i * 97) % 1024;
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
    const FILLER: [&str; 8] = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
    ];
    while raw.len() < target {
        let mut line = String::new();
        while line.len() < 64 {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(FILLER[(rng.next() % FILLER.len() as u64) as usize]);
        }
        raw.extend_from_slice(line.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    (subject, from, raw)
}

/// Fills the store with `messages` messages and builds the model of the answers.
fn build(store: &MailStore, messages: usize) -> Result<Model, BenchError> {
    store.add_user(USER, PASSWORD)?;
    let at = OffsetDateTime::UNIX_EPOCH;
    let mut expected = Vec::with_capacity(messages);
    for i in 0..messages {
        let (subject, from, raw) = message(i);
        let uid = store.deliver(USER, &raw, at)?;
        expected.push(Expected {
            uid,
            subject,
            from,
            size: raw.len(),
        });
    }
    let hits = |word: &str, sender: Option<&str>| -> Vec<u32> {
        expected
            .iter()
            .filter(|m| m.subject.to_lowercase().contains(word))
            .filter(|m| sender.is_none_or(|s| m.from.to_lowercase().contains(s)))
            .map(|m| m.uid)
            .collect()
    };
    let mut queries = Vec::new();
    for (i, word) in WORDS.iter().enumerate() {
        let uids = hits(word, None);
        if !uids.is_empty() {
            queries.push(Query {
                command: format!("UID SEARCH UNSEEN SUBJECT \"{word}\""),
                uids,
            });
        }
        let (_, sender) = SENDERS[i % SENDERS.len()];
        let uids = hits(word, Some(sender));
        if !uids.is_empty() {
            queries.push(Query {
                command: format!("UID SEARCH FROM \"{sender}\" SUBJECT \"{word}\""),
                uids,
            });
        }
    }
    if queries.is_empty() {
        return Err(BenchError::Params("no query has an answer".into()));
    }
    Ok(Model {
        messages: expected,
        queries,
    })
}

/// One untagged or tagged response: its text with each literal replaced by `{n}`, and the
/// literals' octets in order.
#[derive(Default)]
struct Response {
    text: String,
    literals: Vec<Vec<u8>>,
}

/// The raw client.
struct Client {
    stream: BufReader<TcpStream>,
    next_tag: u32,
    line: Vec<u8>,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Result<Client, BenchError> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut c = Client {
            stream: BufReader::new(tcp),
            next_tag: 0,
            line: Vec::new(),
        };
        let greeting = c.response().await?;
        if !greeting.text.starts_with("* OK") {
            return Err(BenchError::Wrong(format!("greeting {:?}", greeting.text)));
        }
        Ok(c)
    }

    /// One response: a line, and after each literal announcement its octets and the rest.
    async fn response(&mut self) -> Result<Response, BenchError> {
        let mut r = Response::default();
        loop {
            self.line.clear();
            let n = self.stream.read_until(b'\n', &mut self.line).await?;
            if n == 0 {
                return Err(BenchError::Wrong("connection closed".into()));
            }
            let line = self
                .line
                .strip_suffix(b"\r\n")
                .ok_or_else(|| BenchError::Wrong("response line without CRLF".into()))?;
            let text = std::str::from_utf8(line)
                .map_err(|_| BenchError::Wrong("response line not UTF-8".into()))?;
            r.text.push_str(text);
            let Some(size) = trailing_literal(text) else {
                return Ok(r);
            };
            let mut literal = vec![0; size];
            self.stream.read_exact(&mut literal).await?;
            r.literals.push(literal);
        }
    }

    /// Sends `tag command` and reads up to the tagged answer, which must be OK. Returns the
    /// untagged responses.
    async fn command(&mut self, command: &str) -> Result<Vec<Response>, BenchError> {
        self.next_tag += 1;
        let tag = format!("b{}", self.next_tag);
        let wire = format!("{tag} {command}\r\n");
        self.stream.get_mut().write_all(wire.as_bytes()).await?;
        let mut untagged = Vec::new();
        loop {
            let r = self.response().await?;
            if let Some(rest) = r.text.strip_prefix(tag.as_str())
                && let Some(status) = rest.strip_prefix(' ')
            {
                if status.starts_with("OK") {
                    return Ok(untagged);
                }
                return Err(BenchError::Wrong(format!("{command}: {}", r.text)));
            }
            untagged.push(r);
        }
    }

    /// One SEARCH+FETCH pair, checked against the model.
    async fn round_trip(&mut self, model: &Model, k: usize) -> Result<(), BenchError> {
        let query = &model.queries[k % model.queries.len()];
        let untagged = self.command(&query.command).await?;
        let mut found: Option<Vec<u32>> = None;
        for r in &untagged {
            if let Some(rest) = r.text.strip_prefix("* SEARCH") {
                let uids = rest
                    .split_ascii_whitespace()
                    .map(str::parse)
                    .collect::<Result<Vec<u32>, _>>()
                    .map_err(|_| BenchError::Wrong(format!("SEARCH line {:?}", r.text)))?;
                found = Some(uids);
            }
        }
        let found = found.ok_or_else(|| BenchError::Wrong("no * SEARCH response".into()))?;
        if found != query.uids {
            return Err(BenchError::Wrong(format!(
                "{}: got {found:?}, expected {:?}",
                query.command, query.uids
            )));
        }
        let uid = found[(k / model.queries.len()) % found.len()];
        let expected = model
            .message(uid)
            .ok_or_else(|| BenchError::Wrong(format!("UID {uid} not in the model")))?;
        let untagged = self
            .command(&format!(
                "UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] RFC822.SIZE)"
            ))
            .await?;
        let [fetch] = untagged.as_slice() else {
            return Err(BenchError::Wrong(format!(
                "UID FETCH {uid}: {} untagged responses",
                untagged.len()
            )));
        };
        check_fetch(fetch, expected)
    }
}

/// `{n}` (or `{n+}`) at the end of a response line: the size of the literal that follows.
fn trailing_literal(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].trim_end_matches('+').parse().ok()
}

/// The FETCH answer names the UID, carries the expected Subject and From in its one literal
/// and the expected size.
fn check_fetch(r: &Response, m: &Expected) -> Result<(), BenchError> {
    let wrong = |what: &str| {
        Err(BenchError::Wrong(format!(
            "UID FETCH {}: {what} in {:?}",
            m.uid, r.text
        )))
    };
    if !r.text.starts_with("* ") || !r.text.contains(" FETCH (") {
        return wrong("not a FETCH response");
    }
    if !r.text.contains(&format!("UID {} ", m.uid)) && !r.text.contains(&format!("UID {})", m.uid))
    {
        return wrong("wrong UID");
    }
    if !r.text.contains(&format!("RFC822.SIZE {}", m.size)) {
        return wrong("wrong RFC822.SIZE");
    }
    if !r.text.contains("BODY[HEADER.FIELDS (SUBJECT FROM)] {") {
        return wrong("no header section");
    }
    let [header] = r.literals.as_slice() else {
        return wrong("not exactly one literal");
    };
    let header = String::from_utf8_lossy(header);
    let field = |name: &str| {
        header.split("\r\n").find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        })
    };
    if field("Subject").as_deref() != Some(m.subject.as_str()) {
        return wrong("wrong Subject");
    }
    if field("From").as_deref() != Some(m.from.as_str()) {
        return wrong("wrong From");
    }
    if !header.ends_with("\r\n\r\n") {
        return wrong("header section without its blank line");
    }
    Ok(())
}

/// Starts a server over a mailbox of `messages` messages, connects `clients` clients (each
/// LOGIN and SELECT INBOX once, then a warm-up), and times `round_trips` SEARCH+FETCH pairs
/// spread over them (the figure: 8 clients, 200 messages of about 4 KiB).
pub async fn bench_search_fetch(
    clients: usize,
    round_trips: usize,
    messages: usize,
) -> Result<BenchResult, BenchError> {
    if clients == 0 || round_trips == 0 || messages == 0 {
        return Err(BenchError::Params(
            "clients, round trips and messages must be at least 1".into(),
        ));
    }
    let store = MailStore::new();
    let model = Arc::new(build(&store, messages)?);
    let mut config = ImapConfig::new("imap.bench.test", store, Clock::system());
    config.transcript_lines = 0;
    config.max_connections = config.max_connections.max(clients + 1);
    let server = ImapServer::start(config).await?;
    let result = run(server.addr(), clients, round_trips, &model).await;
    server.shutdown().await;
    let (elapsed, mut latencies) = result?;
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(BenchResult {
        clients,
        messages,
        round_trips: latencies.len(),
        elapsed,
        round_trips_per_second: latencies.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        p50: pct(0.5),
        p95: pct(0.95),
        max: latencies.last().copied().unwrap_or_default(),
    })
}

/// Setup and warm-up (untimed), then the timed phase: its wall time and every latency.
async fn run(
    addr: std::net::SocketAddr,
    clients: usize,
    round_trips: usize,
    model: &Arc<Model>,
) -> Result<(Duration, Vec<Duration>), BenchError> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let model = Arc::clone(model);
        tasks.spawn(async move {
            let mut c = Client::connect(addr).await?;
            c.command(&format!("LOGIN {USER} {PASSWORD}")).await?;
            let selected = c.command("SELECT INBOX").await?;
            let exists = format!("* {} EXISTS", model.messages.len());
            if !selected.iter().any(|r| r.text == exists) {
                return Err(BenchError::Wrong(format!("SELECT INBOX: no {exists:?}")));
            }
            for k in 0..WARM_UP_PER_CLIENT {
                timed(c.round_trip(&model, i * 5 + k)).await?;
            }
            Ok::<_, BenchError>((i, c))
        });
    }
    let mut ready = Vec::with_capacity(clients);
    while let Some(done) = tasks.join_next().await {
        ready.push(done.map_err(|e| BenchError::Join(e.to_string()))??);
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut c) in ready {
        let share = round_trips / clients + usize::from(i < round_trips % clients);
        let model = Arc::clone(model);
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for k in 0..share {
                let started = Instant::now();
                timed(c.round_trip(&model, i * 5 + WARM_UP_PER_CLIENT + k)).await?;
                latencies.push(started.elapsed());
            }
            c.command("LOGOUT").await?;
            Ok::<_, BenchError>(latencies)
        });
    }
    let mut all = Vec::with_capacity(round_trips);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.map_err(|e| BenchError::Join(e.to_string()))??);
    }
    Ok((start.elapsed(), all))
}

async fn timed(
    round_trip: impl std::future::Future<Output = Result<(), BenchError>>,
) -> Result<(), BenchError> {
    tokio::time::timeout(ROUND_TRIP_TIMEOUT, round_trip)
        .await
        .map_err(|_| BenchError::Wrong(format!("no answer within {ROUND_TRIP_TIMEOUT:?}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_queries_have_answers_and_words_do_not_overlap() {
        for a in WORDS {
            for b in WORDS {
                assert!(a == b || !a.contains(b), "{a} contains {b}");
            }
            assert!(!"and for week".contains(a));
        }
        let model = build(&MailStore::new(), 200).unwrap();
        assert!(model.queries.len() > WORDS.len());
        assert!(model.queries.iter().all(|q| !q.uids.is_empty()));
        let (_, _, raw) = message(7);
        assert!((3584..4700).contains(&raw.len()));
    }

    #[test]
    fn literal_announcements() {
        assert_eq!(trailing_literal("* 1 FETCH (BODY[] {42}"), Some(42));
        assert_eq!(trailing_literal("* 1 FETCH (BODY[] {42+}"), Some(42));
        assert_eq!(trailing_literal("* OK done"), None);
    }
}
