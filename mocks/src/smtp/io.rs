//! A bounded line reader and a write buffer over a plain or TLS stream, shared by the server
//! and the client.
//!
//! Never allocates more than `max + READ_CHUNK` for a line: a longer line is consumed up to its
//! LF and reported as [`Line::TooLong`]. Replies are buffered and flushed before the next
//! socket read, which batches pipelined answers (RFC 2920 §3.2 allows it) without ever
//! leaving a reply unsent while we wait for the client.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Anything we can speak SMTP over: a TcpStream, a TLS stream over one, a test duplex.
pub(crate) trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// A boxed stream, so STARTTLS can swap plain for TLS under the same connection type.
pub(crate) type BoxStream = Box<dyn AsyncStream>;

const READ_CHUNK: usize = 8 * 1024;

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
    },
}

pub(crate) struct Conn {
    stream: BoxStream,
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
}

impl Conn {
    pub(crate) fn new(stream: BoxStream) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            out: Vec::new(),
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

    /// Writes everything queued.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await
    }

    /// Flushes, then gives the stream back (for a TLS handshake). The caller checks
    /// [`Conn::has_buffered`] first: buffered plaintext must never cross into TLS
    /// (crates.md pitfall 14, CVE-2011-0411).
    pub(crate) async fn into_stream(mut self) -> std::io::Result<BoxStream> {
        self.flush().await?;
        Ok(self.stream)
    }

    /// Shuts the write side down after flushing (best effort).
    pub(crate) async fn close(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }

    /// Reads one LF-terminated line of at most `max` octets (LF included). `Ok(None)` at end
    /// of stream; a partial line at end of stream is dropped.
    pub(crate) async fn read_line(&mut self, max: usize) -> std::io::Result<Option<Line>> {
        let max = max.max(1);
        // Some(last byte was CR) while dropping an overlong line.
        let mut discarding: Option<bool> = None;
        loop {
            let avail = &self.buf[self.start..];
            match discarding {
                Some(prev_cr) => {
                    if let Some(i) = avail.iter().position(|&b| b == b'\n') {
                        let crlf = if i > 0 {
                            avail[i - 1] == b'\r'
                        } else {
                            prev_cr
                        };
                        self.start += i + 1;
                        return Ok(Some(Line::TooLong { crlf }));
                    }
                    if let Some(&last) = avail.last() {
                        discarding = Some(last == b'\r');
                    }
                    self.start = self.buf.len();
                }
                None => {
                    let window = &avail[..avail.len().min(max)];
                    if let Some(i) = window.iter().position(|&b| b == b'\n') {
                        let line = avail[..=i].to_vec();
                        self.start += i + 1;
                        return Ok(Some(Line::Full(line)));
                    }
                    if avail.len() >= max {
                        // Drop only the window: the line's end may already be buffered.
                        discarding = Some(window.last() == Some(&b'\r'));
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
            Some(Line::TooLong { crlf: true })
        );
        assert_eq!(
            c.read_line(10).await.unwrap(),
            Some(Line::Full(b"x\r\n".to_vec()))
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

    #[tokio::test]
    async fn huge_line_is_dropped_with_bounded_buffer() {
        let mut input = vec![b'a'; 1 << 19];
        input.extend_from_slice(b"\nok\r\n");
        let mut c = conn_with(&input).await;
        assert_eq!(
            c.read_line(512).await.unwrap(),
            Some(Line::TooLong { crlf: false })
        );
        assert!(c.buf.capacity() < 64 * 1024);
        assert_eq!(
            c.read_line(512).await.unwrap(),
            Some(Line::Full(b"ok\r\n".to_vec()))
        );
    }
}
