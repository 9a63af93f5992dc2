//! Lingering close (RFC 9112 §9.6) for a connection the server closes with a request body unread.
//!
//! RFC 9112 §9.6: "If a server performs an immediate close of a TCP connection, there is a
//! significant risk that the client will not be able to read the last HTTP response. If the
//! server receives additional data from the client on a fully closed connection, such as another
//! request sent by the client before receiving the server's response, the server's TCP stack will
//! send a reset packet to the client; unfortunately, the reset packet might erase the client's
//! unacknowledged input buffers before they can be read and interpreted by the client's HTTP
//! parser. To avoid the TCP reset problem, servers typically close a connection in stages. First,
//! the server performs a half-close by closing only the write side of the read/write connection.
//! The server then continues to read from the connection until it receives a corresponding close
//! by the client, or until the server is reasonably certain that its own TCP stack has received
//! the client's acknowledgement of the packet(s) containing the server's last response."
//!
//! The case is a refused body (413 over the limit, 408 too slow): the answer goes out while the
//! client is still sending. Closed at once, the socket resets, and a client still writing fails
//! with "broken pipe" instead of reading the 413 (hyper's client, seen in the CA's bad-input
//! corpus).
//!
//! [`Lingering`] sits under TLS, on the TCP stream. Hyper shuts the connection down once it is
//! done with it; TLS then sends close_notify and shuts the TCP stream down. There, once the
//! connection is armed (an HTTP/1 answer said `Connection: close`), the shutdown half-closes and
//! then reads and discards what the client still sends until it closes, up to
//! [`Limits::linger`](super::Limits::linger) and [`LINGER_OCTETS`]. Unarmed connections (the
//! client closed first, an idle keep-alive connection shut down) close at once, so no server
//! shutdown waits on a client that keeps a pooled connection open.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// The most a lingering close reads and discards before it closes anyway.
pub const LINGER_OCTETS: usize = 8 * 1024 * 1024;

/// Set by the service when an answer closes the connection; read by [`Lingering`] at shutdown.
#[derive(Debug, Clone, Default)]
pub(super) struct LingerOnClose(Arc<AtomicBool>);

impl LingerOnClose {
    pub(super) fn arm(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn armed(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A TCP stream whose shutdown lingers once armed (see the module documentation).
pub(super) struct Lingering {
    tcp: TcpStream,
    on_close: LingerOnClose,
    linger: Duration,
    shutdown: Shutdown,
}

enum Shutdown {
    NotYet,
    /// Half-closed; discarding the client's octets until it closes, the deadline, or the cap.
    Draining {
        deadline: Pin<Box<Sleep>>,
        left: usize,
    },
    Done,
}

impl Lingering {
    pub(super) fn new(tcp: TcpStream, on_close: LingerOnClose, linger: Duration) -> Self {
        Lingering {
            tcp,
            on_close,
            linger,
            shutdown: Shutdown::NotYet,
        }
    }

    /// Reads and discards until the client closes, the deadline passes or the cap is reached.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Shutdown::Draining { deadline, left } = &mut self.shutdown else {
            return Poll::Ready(());
        };
        let mut scratch = [0u8; 16 * 1024];
        loop {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.tcp).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                // The client closed (or broke the connection): nothing is left to reset.
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {
                    *left = left.saturating_sub(buf.filled().len());
                    if *left == 0 {
                        return Poll::Ready(());
                    }
                }
            }
        }
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Shutdown::NotYet = this.shutdown {
            // The half-close: the client reads the answer, then end of stream.
            ready!(Pin::new(&mut this.tcp).poll_shutdown(cx))?;
            this.shutdown = if this.on_close.armed() {
                Shutdown::Draining {
                    deadline: Box::pin(tokio::time::sleep(this.linger)),
                    left: LINGER_OCTETS,
                }
            } else {
                Shutdown::Done
            };
        }
        ready!(this.poll_drain(cx));
        this.shutdown = Shutdown::Done;
        Poll::Ready(Ok(()))
    }
}
