//! A bounded line reader and a write buffer over a plain or TLS stream, shared by the line
//! servers (SMTP, LMTP, IMAP, POP3) and the SMTP client, and the server side of the TLS
//! handshakes (implicit TLS, STARTTLS/STLS).
//!
//! Never allocates more than `max + READ_CHUNK` for a line: a longer line is consumed up to its
//! LF and reported as [`Line::TooLong`]. Replies are buffered and flushed before the next
//! socket read, which batches pipelined answers (RFC 2920 §3.2 allows it) without ever
//! leaving a reply unsent while we wait for the client.
//!
//! Backpressure: while more than [`OUTPUT_HIGH_WATER`] octets of output are unsent, the reader
//! hands out no further command, not even one already buffered, until the peer has taken
//! them. A client that pipelines commands and never reads their answers therefore stalls its
//! own session (and meets the idle timeout) instead of making the server buffer without bound.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Anything a line protocol can run over: a TcpStream, a TLS stream over one, a test duplex.
pub(crate) trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// A boxed stream, so STARTTLS can swap plain for TLS under the same connection type.
pub(crate) type BoxStream = Box<dyn AsyncStream>;

const READ_CHUNK: usize = 8 * 1024;
/// How much of a dropped overlong line is kept ([`Line::TooLong`]).
pub(crate) const TOO_LONG_HEAD: usize = 128;
/// Unsent output above which the reader flushes before handing out the next line.
pub(crate) const OUTPUT_HIGH_WATER: usize = 256 * 1024;

/// One line read from the peer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// The line including its terminating LF (and the CR before it, if any).
    Full(Vec<u8>),
    /// The line was longer than the bound; it was consumed and dropped. `crlf` tells whether it
    /// ended in CRLF (DATA needs that to find `CRLF . CRLF`).
    TooLong {
        /// Whether the dropped line ended in CRLF rather than a bare LF.
        crlf: bool,
        /// Its first octets (at most [`TOO_LONG_HEAD`]): enough for IMAP to find the tag and
        /// answer the command it cannot read.
        head: Vec<u8>,
    },
}

pub(crate) struct Conn {
    stream: BoxStream,
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    /// How much of `out` is already written.
    sent: usize,
}

impl Conn {
    pub(crate) fn new(stream: BoxStream) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            out: Vec::new(),
            sent: 0,
        }
    }

    /// Whether bytes the peer sent are waiting unread (pipelined after the last line).
    pub(crate) fn has_buffered(&self) -> bool {
        self.start < self.buf.len()
    }

    /// Queues bytes for the next flush.
    pub(crate) fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Queues a buffer, taking it over without a copy when nothing else is queued (a large
    /// FETCH response is built once, not copied again here).
    pub(crate) fn queue_owned(&mut self, bytes: Vec<u8>) {
        if self.out.is_empty() {
            self.out = bytes;
        } else {
            self.out.extend_from_slice(&bytes);
        }
    }

    /// Octets queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Whether the unsent output is over [`OUTPUT_HIGH_WATER`].
    pub(crate) fn backlogged(&self) -> bool {
        self.queued() > OUTPUT_HIGH_WATER
    }

    /// Writes everything queued.
    /// Cancel-safe: the octets already written are remembered, so a flush dropped by a timeout
    /// or a `select!` and started again sends nothing twice.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            while self.sent < self.out.len() {
                let n = self.stream.write(&self.out[self.sent..]).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                self.sent += n;
            }
            self.out.clear();
            self.sent = 0;
            if self.out.capacity() > OUTPUT_HIGH_WATER {
                // Do not keep a large response's buffer for the rest of the session.
                self.out = Vec::new();
            }
        }
        self.stream.flush().await
    }

    /// Flushes, then gives the stream back (for a TLS handshake). The caller checks
    /// [`Conn::has_buffered`] first: buffered plaintext must never cross into TLS
    /// (RFC 3207 §4.2; the CVE-2011-0411 class).
    pub(crate) async fn into_stream(mut self) -> std::io::Result<BoxStream> {
        self.flush().await?;
        Ok(self.stream)
    }

    /// Shuts the write side down after flushing (best effort).
    pub(crate) async fn close(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }

    /// The next line when it is already buffered whole (most lines of a DATA section), taken
    /// without awaiting: what [`Conn::read_line`] would return first. `None` when that path
    /// must run: no whole line buffered, a line over `max`, or output backlogged.
    pub(crate) fn buffered_line(&mut self, max: usize) -> Option<Line> {
        let mut taken = None;
        self.each_buffered_line(max, |line| {
            taken = Some(Line::Full(line.to_vec()));
            true
        });
        taken
    }

    /// Hands each whole line already buffered (at most `max` octets, LF included) to `each`,
    /// borrowed rather than copied, until `each` says it is done (`true`, returned) or no whole
    /// line is left (`false`). A DATA section arrives as many short lines at once, and a copy
    /// per line was a good part of what reading it cost.
    pub(crate) fn each_buffered_line(
        &mut self,
        max: usize,
        mut each: impl FnMut(&[u8]) -> bool,
    ) -> bool {
        if self.backlogged() {
            return false;
        }
        while let Some(len) = self.whole_line_len(max) {
            let done = each(&self.buf[self.start..self.start + len]);
            self.start += len;
            if done {
                return true;
            }
        }
        false
    }

    /// The length (LF included) of the whole line at the front of the buffer, when one of at
    /// most `max` octets is there.
    fn whole_line_len(&self, max: usize) -> Option<usize> {
        let avail = &self.buf[self.start..];
        memchr::memchr(b'\n', &avail[..avail.len().min(max.max(1))]).map(|i| i + 1)
    }

    /// Reads one LF-terminated line of at most `max` octets (LF included). `Ok(None)` at end
    /// of stream; a partial line at end of stream is dropped.
    pub(crate) async fn read_line(&mut self, max: usize) -> std::io::Result<Option<Line>> {
        if self.backlogged() {
            self.flush().await?;
        }
        let max = max.max(1);
        // Some(last byte was CR) while dropping an overlong line.
        let mut discarding: Option<bool> = None;
        let mut head = Vec::new();
        loop {
            let avail = &self.buf[self.start..];
            match discarding {
                Some(prev_cr) => {
                    if let Some(i) = memchr::memchr(b'\n', avail) {
                        let crlf = if i > 0 {
                            avail[i - 1] == b'\r'
                        } else {
                            prev_cr
                        };
                        self.start += i + 1;
                        return Ok(Some(Line::TooLong { crlf, head }));
                    }
                    if let Some(&last) = avail.last() {
                        discarding = Some(last == b'\r');
                    }
                    self.start = self.buf.len();
                }
                None => {
                    if let Some(len) = self.whole_line_len(max) {
                        let line = self.buf[self.start..self.start + len].to_vec();
                        self.start += len;
                        return Ok(Some(Line::Full(line)));
                    }
                    let window = &avail[..avail.len().min(max)];
                    if avail.len() >= max {
                        // Drop only the window: the line's end may already be buffered.
                        discarding = Some(window.last() == Some(&b'\r'));
                        head = window[..window.len().min(TOO_LONG_HEAD)].to_vec();
                        self.start += window.len();
                        continue;
                    }
                }
            }
            // Need more bytes: make room, send what the peer is waiting for, then read.
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            if !self.out.is_empty() {
                self.flush().await?;
            }
            self.buf.reserve(READ_CHUNK);
            let n = self.stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// Reads exactly `n` octets (an IMAP literal) into `out`, or drops them when `out` is
    /// `None`. Memory stays bounded by `READ_CHUNK` when dropping. `Ok(false)` when the peer
    /// closed before `n` octets arrived.
    pub(crate) async fn read_exact(
        &mut self,
        n: usize,
        mut out: Option<&mut Vec<u8>>,
    ) -> std::io::Result<bool> {
        let mut left = n;
        loop {
            let avail = &self.buf[self.start..];
            let take = avail.len().min(left);
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&avail[..take]);
            }
            self.start += take;
            left -= take;
            if left == 0 {
                return Ok(true);
            }
            self.buf.clear();
            self.start = 0;
            if !self.out.is_empty() {
                self.flush().await?;
            }
            self.buf.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Ok(false);
            }
        }
    }
}

/// The server side of a TLS handshake (implicit TLS, or after STARTTLS), bounded by `limit`.
/// Cap on a TLS handshake; a session's idle timeout lowers it further.
pub(crate) const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A STARTTLS/STLS upgrade or an implicit-TLS opening, bounded by [`HANDSHAKE_TIMEOUT`] and
/// the session's idle timeout.
pub(crate) async fn handshake(
    config: std::sync::Arc<rustls::ServerConfig>,
    stream: BoxStream,
    idle: std::time::Duration,
) -> Option<BoxStream> {
    accept_tls(config, stream, HANDSHAKE_TIMEOUT.min(idle)).await
}

/// The stream a session starts on and whether it is under TLS: TLS from the first byte on
/// implicit-TLS ports (RFC 8314), plain otherwise. `None` when that handshake fails.
pub(crate) async fn opening_stream(
    tls: Option<&std::sync::Arc<rustls::ServerConfig>>,
    implicit: bool,
    stream: BoxStream,
    idle: std::time::Duration,
) -> Option<(BoxStream, bool)> {
    if !implicit {
        return Some((stream, false));
    }
    let config = std::sync::Arc::clone(tls?);
    handshake(config, stream, idle).await.map(|s| (s, true))
}

pub(crate) async fn accept_tls(
    config: std::sync::Arc<rustls::ServerConfig>,
    stream: BoxStream,
    limit: std::time::Duration,
) -> Option<BoxStream> {
    let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(limit, accept).await {
        Ok(Ok(tls)) => Some(Box::new(tls)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn conn_with(input: &[u8]) -> Conn {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        b.write_all(input).await.unwrap();
        drop(b);
        Conn::new(Box::new(a))
    }

    #[tokio::test]
    async fn lines_overlong_and_eof() {
        let mut c = conn_with(b"ab\r\ncd\n0123456789\r\nx\r\npartial").await;
        assert_eq!(
            c.read_line(10).await.unwrap(),
            Some(Line::Full(b"ab\r\n".to_vec()))
        );
        assert_eq!(
            c.read_line(10).await.unwrap(),
            Some(Line::Full(b"cd\n".to_vec()))
        );
        assert_eq!(
            c.read_line(10).await.unwrap(),
            Some(Line::TooLong {
                crlf: true,
                head: b"0123456789".to_vec()
            })
        );
        assert_eq!(
            c.read_line(10).await.unwrap(),
            Some(Line::Full(b"x\r\n".to_vec()))
        );
        assert_eq!(c.read_line(10).await.unwrap(), None);
    }

    /// Buffered lines are handed out borrowed until the taker is done; a line over `max`, or
    /// one not yet whole, is left for `read_line`, which reads it as before.
    #[tokio::test]
    async fn buffered_lines_are_handed_out_until_the_taker_is_done() {
        let mut c = conn_with(b"one\r\ntwo\r\n.\r\nafter\r\n0123456789\r\ntail").await;
        assert_eq!(
            c.read_line(10).await.unwrap(),
            Some(Line::Full(b"one\r\n".to_vec()))
        );
        let mut seen = Vec::new();
        let done = c.each_buffered_line(10, |line| {
            seen.push(line.to_vec());
            line == b".\r\n"
        });
        assert!(done);
        assert_eq!(seen, [b"two\r\n".to_vec(), b".\r\n".to_vec()]);
        seen.clear();
        assert!(!c.each_buffered_line(10, |line| {
            seen.push(line.to_vec());
            false
        }));
        assert_eq!(
            seen,
            [b"after\r\n".to_vec()],
            "stops before the overlong line"
        );
        assert!(matches!(
            c.read_line(10).await.unwrap(),
            Some(Line::TooLong { crlf: true, .. })
        ));
        assert!(
            !c.each_buffered_line(10, |_| true),
            "a partial line is not handed out"
        );
        assert_eq!(c.read_line(10).await.unwrap(), None);
    }

    #[tokio::test]
    async fn exact_reads_and_drops() {
        let mut c = conn_with(b"{5}\r\nhello world\r\nrest").await;
        assert_eq!(
            c.read_line(64).await.unwrap(),
            Some(Line::Full(b"{5}\r\n".to_vec()))
        );
        let mut out = Vec::new();
        assert!(c.read_exact(5, Some(&mut out)).await.unwrap());
        assert_eq!(out, b"hello");
        assert!(c.read_exact(6, None).await.unwrap());
        assert_eq!(
            c.read_line(64).await.unwrap(),
            Some(Line::Full(b"\r\n".to_vec()))
        );
        assert!(!c.read_exact(10, None).await.unwrap(), "EOF mid-literal");
    }

    /// A peer that sends commands and reads nothing: once the unsent answers pass the high
    /// water mark, no further (already buffered) line is handed out.
    #[tokio::test]
    async fn no_line_is_read_while_the_output_is_backlogged() {
        let (a, mut b) = tokio::io::duplex(64 * 1024);
        b.write_all(b"one\r\ntwo\r\n").await.unwrap();
        let mut c = Conn::new(Box::new(a));
        assert!(c.read_line(64).await.unwrap().is_some());
        c.queue_owned(vec![b'x'; OUTPUT_HIGH_WATER + 1]);
        assert!(c.backlogged());
        let stalled =
            tokio::time::timeout(std::time::Duration::from_millis(200), c.read_line(64)).await;
        assert!(
            stalled.is_err(),
            "the second line waits for the peer to read"
        );
        // The peer reads: the output drains and the buffered line comes out.
        let drain = tokio::spawn(async move {
            let mut sink = vec![0u8; OUTPUT_HIGH_WATER + 1];
            tokio::io::AsyncReadExt::read_exact(&mut b, &mut sink)
                .await
                .unwrap();
            b
        });
        assert_eq!(
            c.read_line(64).await.unwrap(),
            Some(Line::Full(b"two\r\n".to_vec()))
        );
        // What is left is under the mark (the duplex took part of it): it goes out with the
        // next flush, as the session does before its next socket read.
        assert!(!c.backlogged());
        c.flush().await.unwrap();
        drop(drain.await.unwrap());
    }

    #[tokio::test]
    async fn huge_line_is_dropped_with_bounded_buffer() {
        let mut input = vec![b'a'; 1 << 19];
        input.extend_from_slice(b"\nok\r\n");
        let mut c = conn_with(&input).await;
        assert_eq!(
            c.read_line(512).await.unwrap(),
            Some(Line::TooLong {
                crlf: false,
                head: vec![b'a'; TOO_LONG_HEAD]
            })
        );
        assert!(c.buf.capacity() < 64 * 1024);
        assert_eq!(
            c.read_line(512).await.unwrap(),
            Some(Line::Full(b"ok\r\n".to_vec()))
        );
    }
}
