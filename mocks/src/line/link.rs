//! One accepted connection below the protocol: the stream (plain, implicit TLS, or upgraded by
//! STARTTLS/STLS), reads bounded in size and time that also notice shutdown, the queued output,
//! the transcript, and the count of bad commands in a row. A protocol session owns one
//! [`Link`] and decides what the lines mean; see [`super::serve`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::conn::{self, BoxStream, Conn, Line};
use super::transcript::{Direction, Transcript};

/// Consecutive bad commands after which a session answers its protocol's last word and closes
/// (RFC 5321 §4.3.2 lets an SMTP server close on abuse, Postfix's `smtpd_hard_error_limit` is
/// the same idea; RFC 3501 and RFC 1939 leave abuse handling to the server).
pub(crate) const MAX_BAD_COMMANDS: u32 = 10;

/// Why a read produced no line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The peer closed, or the socket failed: nothing more to say.
    Gone,
    /// The idle timer fired.
    Timeout,
    /// The server is shutting down.
    Shutdown,
}

/// What a session needs to open its link.
pub(crate) struct Opening {
    /// The server's transcript.
    pub(crate) transcript: Arc<Transcript>,
    /// TLS for implicit TLS or the STARTTLS upgrade; `None` offers no TLS.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first octet (RFC 8314 implicit TLS).
    pub(crate) implicit_tls: bool,
    /// The server's idle bound: it caps the handshakes and the final flush.
    pub(crate) idle: Duration,
}

impl Opening {
    /// What a server's configuration says about its connections.
    pub(crate) fn new(
        transcript: &Arc<Transcript>,
        tls: Option<&Arc<rustls::ServerConfig>>,
        implicit_tls: bool,
        idle: Duration,
    ) -> Self {
        Opening {
            transcript: Arc::clone(transcript),
            tls: tls.cloned(),
            implicit_tls,
            idle,
        }
    }
}

/// One connection's transport, shared by every line protocol.
pub(crate) struct Link {
    conn: Conn,
    transcript: Arc<Transcript>,
    conn_id: u64,
    stop: watch::Receiver<bool>,
    tls_config: Option<Arc<rustls::ServerConfig>>,
    tls: bool,
    idle: Duration,
    bad: u32,
}

impl Link {
    /// The link over an accepted stream: TLS from the first byte on implicit-TLS ports (RFC
    /// 8314), plain otherwise. `None` when that handshake fails.
    pub(crate) async fn open(
        stream: BoxStream,
        conn_id: u64,
        stop: watch::Receiver<bool>,
        opening: Opening,
    ) -> Option<Link> {
        let Opening {
            transcript,
            tls,
            implicit_tls,
            idle,
        } = opening;
        let (stream, under_tls) =
            conn::opening_stream(tls.as_ref(), implicit_tls, stream, idle).await?;
        Some(Link {
            conn: Conn::new(stream),
            transcript,
            conn_id,
            stop,
            tls_config: tls,
            tls: under_tls,
            idle,
            bad: 0,
        })
    }

    /// The connection's number in the transcript.
    pub(crate) fn conn_id(&self) -> u64 {
        self.conn_id
    }

    /// Whether the session runs under TLS now.
    pub(crate) fn tls(&self) -> bool {
        self.tls
    }

    /// Whether the server has TLS at all (for STARTTLS/STLS).
    pub(crate) fn has_tls_config(&self) -> bool {
        self.tls_config.is_some()
    }

    /// Whether STARTTLS/STLS is on offer now: the server has TLS and the session is plain.
    pub(crate) fn offers_tls(&self) -> bool {
        self.has_tls_config() && !self.tls
    }

    /// One line of at most `max` octets within `idle`, or why none came. Shutdown wins over a
    /// slow peer.
    pub(crate) async fn read_line(&mut self, max: usize, idle: Duration) -> Result<Line, End> {
        if let Some(ready) = self.ready_line(max) {
            return ready;
        }
        self.read_line_by(max, Instant::now() + idle).await
    }

    /// A line that needs no wait (already buffered), or the shutdown: no timer is set up for a
    /// line that is already here.
    fn ready_line(&mut self, max: usize) -> Option<Result<Line, End>> {
        if *self.stop.borrow() {
            return Some(Err(End::Shutdown));
        }
        self.conn.buffered_line(max).map(Ok)
    }

    /// [`Conn::each_buffered_line`], unless the server is stopping (then the next read says
    /// so).
    pub(crate) fn each_ready_line(&mut self, max: usize, each: impl FnMut(&[u8]) -> bool) -> bool {
        !*self.stop.borrow() && self.conn.each_buffered_line(max, each)
    }

    /// [`Link::read_line`] with a deadline (IMAP IDLE keeps one across many wake-ups).
    pub(crate) async fn read_line_by(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Line, End> {
        if let Some(ready) = self.ready_line(max) {
            return ready;
        }
        let conn = &mut self.conn;
        let stop = &mut self.stop;
        tokio::select! {
            read = tokio::time::timeout_at(deadline, conn.read_line(max)) => match read {
                Ok(Ok(Some(line))) => Ok(line),
                Ok(Ok(None)) | Ok(Err(_)) => Err(End::Gone),
                Err(_) => Err(End::Timeout),
            },
            _ = stop.wait_for(|stopping| *stopping) => Err(End::Shutdown),
        }
    }

    /// Exactly `n` octets (an IMAP literal) within `idle`, appended to `out`, or dropped when
    /// `out` is `None` (memory stays bounded).
    pub(crate) async fn read_exact(
        &mut self,
        n: usize,
        out: Option<&mut Vec<u8>>,
        idle: Duration,
    ) -> Result<(), End> {
        match tokio::time::timeout(idle, self.conn.read_exact(n, out)).await {
            Ok(Ok(true)) => Ok(()),
            // Disconnected mid-literal: nothing to answer.
            Ok(Ok(false)) | Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Timeout),
        }
    }

    /// Logs a line received (or what stands for it: `<redacted>`, a summary).
    pub(crate) fn record_in(&self, line: impl Into<String>) {
        self.transcript
            .record(self.conn_id, Direction::ClientToServer, line);
    }

    /// Queues one response line and its CRLF (flushed before the next read), and logs it.
    pub(crate) fn send_line(&mut self, line: &str) {
        self.transcript
            .record(self.conn_id, Direction::ServerToClient, line);
        self.conn.queue(line.as_bytes());
        self.conn.queue(b"\r\n");
    }

    /// Queues a response whose wire form differs from what the log shows (an IMAP literal is
    /// logged as `{n}<n octets>`), then CRLF.
    pub(crate) fn send_shown(&mut self, shown: &str, wire: Vec<u8>) {
        self.send_raw(shown, wire);
        self.conn.queue(b"\r\n");
    }

    /// Queues octets as they are (no CRLF added), logged as `shown` (a POP3 message is logged
    /// as `<N octets of message n>`).
    pub(crate) fn send_raw(&mut self, shown: &str, wire: Vec<u8>) {
        self.transcript
            .record(self.conn_id, Direction::ServerToClient, shown);
        self.conn.queue_owned(wire);
    }

    /// Counts a bad command.
    pub(crate) fn count_bad(&mut self) {
        self.bad += 1;
    }

    /// A good command ends the run of bad ones.
    pub(crate) fn reset_bad(&mut self) {
        self.bad = 0;
    }

    /// Whether [`MAX_BAD_COMMANDS`] came in a row.
    pub(crate) fn too_many_bad(&self) -> bool {
        self.bad >= MAX_BAD_COMMANDS
    }

    /// Writes what is queued, bounded by `idle`; `false` when the peer is gone or reads
    /// nothing.
    pub(crate) async fn flush(&mut self, idle: Duration) -> bool {
        matches!(
            tokio::time::timeout(idle, self.conn.flush()).await,
            Ok(Ok(()))
        )
    }

    /// Inside a command whose answer can be large (IMAP FETCH): when the unsent output is over
    /// the high-water mark, waits (bounded by `idle`) until the peer has read it. `false` when
    /// the peer is gone or reads nothing: the command stops there.
    pub(crate) async fn drain(&mut self, idle: Duration) -> bool {
        !self.conn.backlogged() || self.flush(idle).await
    }

    /// The STARTTLS-injection rule (RFC 3207 §4.2, RFC 2595 §4; the CVE-2011-0411 class):
    /// plaintext the client pipelined after STARTTLS/STLS must never be read as if it came
    /// over TLS. When this is true the session refuses the upgrade and closes.
    pub(crate) fn pipelined_after_starttls(&self) -> bool {
        self.conn.has_buffered()
    }

    /// Swaps the plain stream for TLS after the protocol's go-ahead (flushed first). On failure
    /// the connection is over.
    pub(crate) async fn start_tls(&mut self) -> bool {
        let Some(config) = self.tls_config.clone() else {
            return false;
        };
        let placeholder = Conn::new(Box::new(tokio::io::join(
            tokio::io::empty(),
            tokio::io::sink(),
        )));
        let plain = std::mem::replace(&mut self.conn, placeholder);
        let Ok(Ok(stream)) = tokio::time::timeout(self.idle, plain.into_stream()).await else {
            return false;
        };
        let Some(tls) = conn::handshake(config, stream, self.idle).await else {
            tracing::debug!(conn_id = self.conn_id, "STARTTLS handshake failed");
            return false;
        };
        self.conn = Conn::new(tls);
        self.tls = true;
        true
    }

    /// Flushes and shuts the write side; a peer that stops reading cannot hold the task past
    /// the idle bound.
    pub(crate) async fn close(&mut self) {
        let _ = tokio::time::timeout(self.idle, self.conn.close()).await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::clock::Clock;

    /// A plain link over a stream that already carries `input`, and its stop switch.
    async fn link_with(input: &[u8]) -> (Link, watch::Sender<bool>) {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        theirs.write_all(input).await.unwrap();
        let (stop_tx, stop) = watch::channel(false);
        let transcript = Arc::new(Transcript::new(16, Clock::system()));
        let opening = Opening::new(&transcript, None, false, Duration::from_secs(5));
        drop(theirs);
        (
            Link::open(Box::new(ours), 1, stop, opening).await.unwrap(),
            stop_tx,
        )
    }

    /// Buffered lines are handed out while the server runs, and none once it is stopping:
    /// the next read reports the shutdown instead.
    #[tokio::test]
    async fn ready_lines_stop_with_the_server() {
        let idle = Duration::from_secs(5);
        let (mut link, _running) = link_with(b"first\r\nsecond\r\nthird\r\n").await;
        assert!(matches!(link.read_line(64, idle).await, Ok(Line::Full(_))));
        let mut seen = 0;
        assert!(!link.each_ready_line(64, |_| {
            seen += 1;
            false
        }));
        assert_eq!(seen, 2, "both buffered lines handed out");

        let (mut link, stop) = link_with(b"first\r\nsecond\r\n").await;
        assert!(matches!(link.read_line(64, idle).await, Ok(Line::Full(_))));
        stop.send_replace(true);
        assert!(!link.each_ready_line(64, |_| panic!("a line handed out while stopping")));
        assert!(matches!(link.read_line(64, idle).await, Err(End::Shutdown)));
    }
}
