//! `bench_mx_accept`: how many messages per second an MX accepts from our own client. A
//! benchmark, never a timed assertion; the CLI prints it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{ClientError, ClientTls, SmtpClient};
use super::{Role, SmtpConfig, SmtpError, SmtpServer};
use crate::clock::Clock;
use crate::mail::{Envelope, Incoming, MailSink, Reply, Session};

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// Parallel connections.
    pub connections: usize,
    /// Messages accepted (250) in total.
    pub messages: usize,
    /// Size of each message body in octets.
    pub size: usize,
    /// Wall time of the sending phase.
    pub elapsed: Duration,
    /// `messages / elapsed`.
    pub messages_per_second: f64,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The server did not start.
    #[error(transparent)]
    Server(#[from] SmtpError),
    /// A client failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A message was not accepted.
    #[error("message refused: {0}")]
    Refused(Reply),
    /// A client task panicked or was cancelled.
    #[error("client task failed: {0}")]
    Join(String),
}

/// Accepts every recipient, drops every message.
struct Discard;

#[async_trait::async_trait]
impl MailSink for Discard {
    async fn check_recipient(&self, _rcpt: &str, _session: &Session) -> Result<(), Reply> {
        Ok(())
    }

    async fn deliver(&self, message: Incoming) -> Vec<Result<(), Reply>> {
        vec![Ok(()); message.envelope.rcpt_to.len()]
    }
}

/// Starts an MX with a discarding sink, opens `connections` clients, and sends `messages`
/// messages of `size` octets spread over them (the brief's figure: 16 connections, 4 KiB).
pub async fn bench_mx_accept(
    connections: usize,
    messages: usize,
    size: usize,
) -> Result<BenchResult, BenchError> {
    let connections = connections.max(1);
    let mut config = SmtpConfig::new(
        Role::Mx,
        "mx.bench.test",
        Arc::new(Discard),
        Clock::system(),
    );
    config.transcript_lines = 0;
    let server = SmtpServer::start(config).await?;
    let addr = server.addr();
    let body = Arc::new(message_of(size));
    let envelope = Arc::new(Envelope {
        mail_from: "bench@client.test".into(),
        rcpt_to: vec!["sink@bench.test".into()],
        ..Envelope::default()
    });
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(SmtpClient::connect(addr, "client.test", ClientTls::None, false).await?);
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        let share = messages / connections + usize::from(i < messages % connections);
        let (body, envelope) = (Arc::clone(&body), Arc::clone(&envelope));
        tasks.spawn(async move {
            for _ in 0..share {
                let replies = client.send(&envelope, &body).await?;
                if let Some(bad) = replies.into_iter().find(|r| !r.is_positive()) {
                    return Err(BenchError::Refused(bad));
                }
            }
            client.quit().await?;
            Ok::<usize, BenchError>(share)
        });
    }
    let mut sent = 0;
    while let Some(done) = tasks.join_next().await {
        sent += done.map_err(|e| BenchError::Join(e.to_string()))??;
    }
    let elapsed = start.elapsed();
    server.shutdown().await;
    Ok(BenchResult {
        connections,
        messages: sent,
        size,
        elapsed,
        messages_per_second: sent as f64 / elapsed.as_secs_f64().max(1e-9),
    })
}

/// A plain-text message of about `size` octets in 76-octet lines.
pub fn message_of(size: usize) -> Vec<u8> {
    let mut m =
        b"From: bench@client.test\r\nTo: sink@bench.test\r\nSubject: bench\r\n\r\n".to_vec();
    while m.len() < size {
        let n = (size - m.len()).clamp(1, 78);
        m.extend(std::iter::repeat_n(b'x', n.saturating_sub(2).max(1)));
        m.extend_from_slice(b"\r\n");
    }
    m
}
