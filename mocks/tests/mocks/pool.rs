//! `relay::pool`: the MX's persistent LMTP sessions. Reuse shows in LMTP's transcript (one
//! connection, one LHLO, no RSET between transactions); a refused DATA leaves the session
//! usable; a session the server closed while idle is replaced without losing or doubling the
//! message; a session broken mid-transfer is reported for the sender to retry, and the retry
//! delivers exactly once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acmeproof_mocks::clock::Clock;
use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::mailstore::{INBOX, MailStore, StoreSink};
use acmeproof_mocks::relay::SessionPool;
use acmeproof_mocks::relay::send::SendError;
use acmeproof_mocks::smtp::{Direction, Role, SmtpConfig, SmtpServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(10);
const USER: &str = "rcpt@example.test";

fn envelope() -> Envelope {
    Envelope {
        mail_from: "sender@example.net".into(),
        rcpt_to: vec![USER.into()],
        ..Envelope::default()
    }
}

fn message(n: usize) -> Vec<u8> {
    format!("From: sender@example.net\r\nSubject: message {n}\r\n\r\nbody {n}\r\n").into_bytes()
}

async fn lmtp(idle_timeout: Duration) -> (SmtpServer, MailStore) {
    let store = MailStore::new();
    store.add_user(USER, "pw").expect("user");
    let mut config = SmtpConfig::new(
        Role::Lmtp,
        "lmtp.example.test",
        Arc::new(StoreSink::new(store.clone())),
        Clock::system(),
    );
    config.idle_timeout = idle_timeout;
    (SmtpServer::start(config).await.expect("LMTP"), store)
}

/// The subjects in the user's INBOX, in order.
fn subjects(store: &MailStore) -> Vec<String> {
    store
        .messages(USER, INBOX)
        .expect("INBOX")
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.raw).into_owned();
            text.lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
                .unwrap_or_default()
        })
        .collect()
}

fn client_lines(server: &SmtpServer, verb: &str) -> Vec<u64> {
    server
        .transcript()
        .into_iter()
        .filter(|l| l.direction == Direction::ClientToServer && l.line.starts_with(verb))
        .map(|l| l.conn_id)
        .collect()
}

#[tokio::test]
async fn transactions_share_one_session_without_an_rset_between() {
    let (server, store) = lmtp(Duration::from_secs(30)).await;
    let pool = SessionPool::new("lmtp", server.addr(), "mx.example.test", true);
    for n in 0..3 {
        let data = message(n);
        let replies = pool
            .send_parts(&envelope(), &[b"Received: by mx\r\n", &data])
            .await
            .expect("delivered");
        assert!(replies.iter().all(|r| r.is_positive()), "{replies:?}");
    }
    assert_eq!(pool.opened(), 1, "one connection for three messages");
    assert_eq!(client_lines(&server, "LHLO"), vec![1]);
    // A completed transaction leaves the server with none open (RFC 5321 §4.1.1.4).
    assert_eq!(client_lines(&server, "RSET"), Vec::<u64>::new(), "no RSET");
    assert_eq!(client_lines(&server, "MAIL FROM").len(), 3);
    assert_eq!(
        subjects(&store),
        vec!["message 0", "message 1", "message 2"]
    );
    pool.close().await;
    assert_eq!(pool.idle(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_session_closed_while_idle_is_replaced_and_the_message_delivered_once() {
    // LMTP closes idle sessions after 50 ms; the pool keeps them longer.
    let (server, store) = lmtp(Duration::from_millis(50)).await;
    let pool = SessionPool::new("lmtp", server.addr(), "mx.example.test", true);
    pool.send_parts(&envelope(), &[&message(0)])
        .await
        .expect("first");
    // Wait (bounded) for the event: the server's 421 on the idle session.
    let closed = tokio::time::timeout(T, async {
        loop {
            let said_421 = server
                .transcript()
                .iter()
                .any(|l| l.direction == Direction::ServerToClient && l.line.starts_with("421"));
            if said_421 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "LMTP never closed the idle session");
    assert_eq!(pool.idle(), 1, "the pool still holds the dead session");
    pool.send_parts(&envelope(), &[&message(1)])
        .await
        .expect("the second message goes on a fresh session");
    assert_eq!(pool.opened(), 2);
    assert_eq!(subjects(&store), vec!["message 0", "message 1"]);
    pool.close().await;
    server.shutdown().await;
}

/// What a [`fake_lmtp`] does with the first DATA it is sent; every later one is delivered.
#[derive(Clone, Copy, PartialEq)]
enum FirstData {
    /// Refused with 554.
    Refused,
    /// Accepted with 354, then the session dies in the middle of the message.
    DiesMidMessage,
}

/// An LMTP peer that offers PIPELINING, treats the first DATA as `first` says and, like any
/// server, refuses a MAIL while a transaction is open (503) until RSET or the end of the
/// message. Counts completed deliveries.
async fn fake_lmtp(first: FirstData) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let delivered = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&delivered);
    tokio::spawn(async move {
        let mut first_data_seen = false;
        while let Ok((socket, _)) = listener.accept().await {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 lmtp.example.test LMTP\r\n").await;
            let (mut open, mut in_data, mut dies) = (false, false, false);
            while let Ok(Some(line)) = lines.next_line().await {
                let reply: &[u8] = if in_data {
                    if dies {
                        // Killed mid-stream: the message never completes.
                        break;
                    }
                    if line != "." {
                        continue;
                    }
                    (in_data, open) = (false, false);
                    count.fetch_add(1, Ordering::SeqCst);
                    b"250 2.0.0 delivered\r\n"
                } else if line.starts_with("LHLO") {
                    b"250-lmtp.example.test\r\n250 PIPELINING\r\n"
                } else if line.starts_with("MAIL") && open {
                    b"503 5.5.1 nested MAIL\r\n"
                } else if line.starts_with("MAIL") {
                    open = true;
                    b"250 ok\r\n"
                } else if line == "RSET" {
                    open = false;
                    b"250 reset\r\n"
                } else if line == "DATA" && !first_data_seen && first == FirstData::Refused {
                    first_data_seen = true;
                    b"554 5.3.4 not now\r\n"
                } else if line == "DATA" {
                    dies = !first_data_seen && first == FirstData::DiesMidMessage;
                    first_data_seen = true;
                    in_data = true;
                    b"354 go ahead\r\n"
                } else if line == "QUIT" {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    break;
                } else {
                    b"250 ok\r\n"
                };
                if write.write_all(reply).await.is_err() {
                    break;
                }
            }
        }
    });
    (addr, delivered)
}

#[tokio::test]
async fn a_refused_data_leaves_the_session_ready_for_the_next_transaction() {
    use std::sync::atomic::Ordering;
    let (addr, delivered) = fake_lmtp(FirstData::Refused).await;
    let pool = SessionPool::new("lmtp", addr, "mx.example.test", true);
    let refused = pool.send_parts(&envelope(), &[&message(0)]).await;
    assert!(
        matches!(&refused, Err(SendError::Rejected { reply, .. }) if reply.code == 554),
        "{refused:?}"
    );
    assert_eq!(pool.idle(), 1, "a refusal keeps the session");
    let replies = pool
        .send_parts(&envelope(), &[&message(1)])
        .await
        .expect("the same session carries the next message");
    assert!(replies.iter().all(|r| r.is_positive()), "{replies:?}");
    assert_eq!(pool.opened(), 1);
    assert_eq!(delivered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_session_killed_mid_message_is_a_transient_failure_and_the_retry_delivers_once() {
    use std::sync::atomic::Ordering;
    let (addr, delivered) = fake_lmtp(FirstData::DiesMidMessage).await;
    let pool = SessionPool::new("lmtp", addr, "mx.example.test", true);
    let data = message(0);
    // Not retried inside the pool: the server may hold the message. The MX answers 4xx and
    // the sender retries (RFC 5321 §4.5.4).
    let first = pool.send_parts(&envelope(), &[&data]).await;
    match &first {
        Err(e @ SendError::Connection { .. }) => assert!(e.is_transient()),
        other => panic!("expected a broken connection, got {other:?}"),
    }
    assert_eq!(delivered.load(Ordering::SeqCst), 0);
    assert_eq!(pool.idle(), 0, "a broken session is not pooled");
    let retry = pool
        .send_parts(&envelope(), &[&data])
        .await
        .expect("the retry");
    assert!(retry.iter().all(|r| r.is_positive()));
    assert_eq!(delivered.load(Ordering::SeqCst), 1, "exactly once");
    assert_eq!(pool.opened(), 2);
}
