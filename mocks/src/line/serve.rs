//! The session loop every line protocol runs: greeting, read, handle, the STARTTLS upgrade,
//! the idle timeout, shutdown, the bad-command limit and the close. A protocol plugs in
//! through [`Protocol`]: what it reads as one command (a line; for IMAP a command with its
//! literals), what it answers, and its words for the ends.

use super::accept::Accepted;
use super::link::{End, Link, Opening};

/// What the loop does after a command.
pub(crate) enum Flow {
    Continue,
    Close,
    /// The go-ahead for TLS is queued: flush it, then handshake.
    StartTls,
}

/// One line protocol's session, driven by [`serve`].
pub(crate) trait Protocol {
    /// What one read yields.
    type Input;

    /// The session's link.
    fn link(&mut self) -> &mut Link;

    /// Queues the greeting.
    fn greet(&mut self);

    /// Reads the next command (with the protocol's size bound and idle timer).
    async fn read(&mut self) -> Result<Self::Input, End>;

    /// Answers one command.
    async fn handle(&mut self, input: Self::Input) -> Flow;

    /// The idle timer fired: the protocol's last words, if any, before the close.
    fn on_timeout(&mut self);

    /// The server is stopping: the protocol's last words before the close.
    fn on_shutdown(&mut self);

    /// Too many bad commands in a row: the protocol's last words before the close.
    fn on_too_many_errors(&mut self);

    /// TLS is up after STARTTLS/STLS: forget what the plaintext session established.
    fn tls_started(&mut self);
}

/// Opens the link over an accepted stream (the implicit-TLS handshake first, where the port has
/// it) and serves the session `session` builds on it; a failed handshake ends the connection.
pub(crate) async fn open_and_serve<P: Protocol>(
    accepted: Accepted,
    opening: Opening,
    session: impl FnOnce(Link) -> P,
) {
    let conn_id = accepted.conn_id;
    let Some(link) = Link::open(accepted.stream, conn_id, accepted.stop, opening).await else {
        tracing::debug!(conn_id, "implicit TLS handshake failed");
        return;
    };
    serve(session(link)).await;
}

/// Serves one connection to the end.
pub(crate) async fn serve<P: Protocol>(mut session: P) {
    session.greet();
    loop {
        let flow = match session.read().await {
            Ok(input) => session.handle(input).await,
            Err(End::Gone) => return,
            Err(End::Timeout) => {
                session.on_timeout();
                Flow::Close
            }
            Err(End::Shutdown) => {
                session.on_shutdown();
                Flow::Close
            }
        };
        match flow {
            Flow::Continue => {}
            Flow::Close => break,
            Flow::StartTls => {
                if !session.link().start_tls().await {
                    return;
                }
                session.tls_started();
                continue;
            }
        }
        if session.link().too_many_bad() {
            session.on_too_many_errors();
            break;
        }
    }
    session.link().close().await;
}
