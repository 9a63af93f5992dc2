//! The mail servers' connection cap: a connection over it waits for a slot, and idle
//! connections cannot lock it out for longer than the idle bound before login; on an
//! implicit-TLS port a refused connection is refused after the handshake, in the protocol's
//! own words.

use std::time::{Duration, Instant};

use crate::imap::{Client, config, server_tls, store, tagged};
use acmeproof_mocks::imap::ImapServer;

/// The slack the accept loop adds to the idle bound (`smtp::server::ADMISSION_SLACK`).
const SLACK: Duration = Duration::from_secs(2);

#[tokio::test]
async fn idle_imap_connections_at_the_cap_do_not_lock_out_a_new_client() {
    let s = store();
    let mut cfg = config(&s);
    let login_timeout = Duration::from_secs(1);
    cfg.login_timeout = login_timeout;
    let cap = cfg.max_connections;
    assert_eq!(cap, 256, "the default cap");
    let server = ImapServer::start(cfg).await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..cap {
        idle.push(Client::connect(server.addr()).await.0);
    }
    let started = Instant::now();
    let (mut c, greeting) = Client::connect(server.addr()).await;
    let waited = started.elapsed();
    assert!(greeting.starts_with("* OK "), "{greeting}");
    assert!(waited < login_timeout + SLACK, "waited {waited:?}");
    // It was let in because an idle connection was logged out, not because the cap was open.
    assert_eq!(
        idle[0].response().await.unwrap(),
        "* BYE Autologout; idle for too long"
    );
    c.login().await;
    let r = c.cmd("SELECT INBOX").await;
    assert!(tagged(&r).contains("OK [READ-WRITE]"), "{r:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn imaps_refuses_over_the_cap_after_the_handshake() {
    let s = store();
    let mut cfg = config(&s);
    cfg.tls = Some(server_tls());
    cfg.implicit_tls = true;
    cfg.max_connections = 1;
    cfg.login_timeout = Duration::from_millis(200);
    let server = ImapServer::start(cfg).await.unwrap();
    let (mut first, _) = Client::connect_tls(server.addr()).await;
    // Logged in, the session keeps its slot for the (long) idle timeout.
    first.login().await;
    let started = Instant::now();
    let (mut second, greeting) = Client::connect_tls(server.addr()).await;
    assert_eq!(greeting, "* BYE too many connections, try later");
    assert!(started.elapsed() < Duration::from_millis(200) + SLACK * 2);
    assert!(second.at_eof().await);
    let r = first.cmd("NOOP").await;
    assert!(tagged(&r).contains(" OK "), "{r:?}");
    server.shutdown().await;
}
