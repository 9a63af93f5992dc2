//! A loopback TCP port that is certainly closed for the world's lifetime.
//!
//! No host port can be assumed free or closed, so a scenario that needs "nothing listens there"
//! (a capability challenge ordered for a port no server runs on) gets this one, by name. The
//! world binds a socket to 127.0.0.1 on a port the system picks and keeps it bound without
//! ever listening: a connection to it is refused, and since the socket holds the port, the
//! system never hands it to another socket (of this world or any other process) while the
//! world runs. When the world stops, the port is released.

use std::net::SocketAddr;

use tokio::net::TcpSocket;

/// The bound, never-listening socket.
#[derive(Debug)]
pub struct ClosedPort {
    _socket: TcpSocket,
    port: u16,
}

impl ClosedPort {
    /// Binds 127.0.0.1:0 without listening.
    pub fn bind() -> std::io::Result<ClosedPort> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let port = socket.local_addr()?.port();
        Ok(ClosedPort {
            _socket: socket,
            port,
        })
    }

    /// The port number.
    pub fn port(&self) -> u16 {
        self.port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_refused() {
        let closed = ClosedPort::bind().expect("bind");
        let err = tokio::net::TcpStream::connect(("127.0.0.1", closed.port()))
            .await
            .expect_err("nothing listens");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        // The port stays taken: another bind to it fails.
        assert!(std::net::TcpListener::bind(("127.0.0.1", closed.port())).is_err());
    }
}
