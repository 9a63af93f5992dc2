//! Resource abuse against the mail servers, measured as the growth of this process's peak
//! resident set (VmHWM in /proc/self/status, reset through /proc/self/clear_refs): the bounds
//! are generous (50 MiB), the figures are printed (`cargo test -p acmeproof-mocks --test abuse
//! -- --nocapture`). One binary of its own, its tests one at a time, so nothing else in the
//! process grows meanwhile.

// The measured figures are printed: they are what this binary is for.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use acmeproof_mocks::clock::Clock;
use acmeproof_mocks::imap::{ImapConfig, ImapServer};
use acmeproof_mocks::mailstore::{MailStore, StoreSink};
use acmeproof_mocks::smtp::{Role, SmtpConfig, SmtpServer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(60);
const MIB: u64 = 1024 * 1024;
const BOUND: u64 = 50 * MIB;
const ALICE: &str = "alice@example.test";

/// The tests of this binary run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A field of /proc/self/status in octets (`None` where there is no procfs).
fn status(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak resident set to the current one (Linux ≥ 4.0) and returns it.
fn reset_peak() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status("VmHWM:")
}

/// How far the peak resident set rose since `base`.
fn peak_growth(base: u64) -> u64 {
    status("VmHWM:").unwrap_or(0).saturating_sub(base)
}

async fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    timeout(T, r.read_line(&mut s)).await.unwrap().unwrap();
    s.trim_end().to_owned()
}

async fn smtp(r: &mut BufReader<TcpStream>, cmd: &str) -> String {
    r.get_mut()
        .write_all(format!("{cmd}\r\n").as_bytes())
        .await
        .unwrap();
    let mut reply = line(r).await;
    while reply.as_bytes().get(3) == Some(&b'-') {
        reply = line(r).await;
    }
    reply
}

/// issue 17: one unauthenticated MX transaction, 100 × RCPT of the same mailbox and 10 MB of
/// DATA, once stored every copy (about 900 MiB). Now the mailbox gets it once.
#[tokio::test]
async fn a_hundred_rcpt_of_one_mailbox_and_10_mb_of_data() {
    let _one = ONE_AT_A_TIME.lock().await;
    let store = MailStore::new();
    store.add_user(ALICE, "pw").unwrap();
    let cfg = SmtpConfig::new(
        Role::Mx,
        "mx.example.test",
        Arc::new(StoreSink::new(store.clone())),
        Clock::system(),
    );
    let server = SmtpServer::start(cfg).await.unwrap();
    let Some(base) = reset_peak() else {
        println!("skipped: no /proc/self/clear_refs");
        return;
    };
    let mut r = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
    assert!(line(&mut r).await.starts_with("220 "));
    assert!(smtp(&mut r, "EHLO client.test").await.starts_with("250 "));
    assert!(
        smtp(&mut r, "MAIL FROM:<x@example.net>")
            .await
            .starts_with("250 ")
    );
    for _ in 0..100 {
        let reply = smtp(&mut r, &format!("RCPT TO:<{ALICE}>")).await;
        assert!(reply.starts_with("250 "), "{reply}");
    }
    assert!(smtp(&mut r, "DATA").await.starts_with("354 "));
    r.get_mut()
        .write_all(b"From: x@example.net\r\nSubject: big\r\n\r\n")
        .await
        .unwrap();
    let mut body_line = vec![b'a'; 998];
    body_line.extend_from_slice(b"\r\n");
    let lines = 10_000_000 / body_line.len();
    for _ in 0..lines {
        r.get_mut().write_all(&body_line).await.unwrap();
    }
    let reply = smtp(&mut r, ".").await;
    assert!(reply.starts_with("250 "), "{reply}");
    let grew = peak_growth(base);
    println!(
        "100 x RCPT + {} MB DATA: peak RSS +{:.1} MiB",
        lines * body_line.len() / 1_000_000,
        grew as f64 / MIB as f64
    );
    assert_eq!(
        store.messages(ALICE, "INBOX").unwrap().len(),
        1,
        "stored once"
    );
    assert!(grew < BOUND, "peak RSS grew by {grew} octets");
    smtp(&mut r, "QUIT").await;
    server.shutdown().await;
}

/// issue 17: six pipelined `FETCH 1:* BODY.PEEK[]` that the client does not read made the
/// server buffer all of them (+650 MiB). Now it stops reading commands (and stops writing
/// FETCH responses) while more than a bound is unsent.
#[tokio::test]
async fn six_unread_pipelined_full_fetches() {
    let _one = ONE_AT_A_TIME.lock().await;
    let store = MailStore::new();
    store.add_user(ALICE, "pw").unwrap();
    let mut message = b"From: x@example.net\r\nSubject: big\r\n\r\n".to_vec();
    message.extend(std::iter::repeat_n(b'b', 2 * MIB as usize));
    message.extend_from_slice(b"\r\n");
    for _ in 0..16 {
        store
            .deliver(ALICE, &message, time::OffsetDateTime::UNIX_EPOCH)
            .unwrap();
    }
    let mut cfg = ImapConfig::new("imap.example.test", store.clone(), Clock::system());
    cfg.idle_timeout = T;
    let server = ImapServer::start(cfg).await.unwrap();
    let Some(base) = reset_peak() else {
        println!("skipped: no /proc/self/clear_refs");
        return;
    };
    let mut r = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
    line(&mut r).await;
    r.get_mut()
        .write_all(b"l LOGIN alice@example.test pw\r\ns SELECT INBOX\r\n")
        .await
        .unwrap();
    while !line(&mut r).await.starts_with("s OK") {}
    let mut pipelined = Vec::new();
    for i in 1..=6 {
        pipelined.extend_from_slice(format!("f{i} FETCH 1:* BODY.PEEK[]\r\n").as_bytes());
    }
    r.get_mut().write_all(&pipelined).await.unwrap();
    // The client reads nothing until the server has stopped making progress (its transcript
    // stops growing), bounded.
    let mut seen = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = server.transcript().len();
        if now == seen {
            break;
        }
        seen = now;
    }
    let stalled = peak_growth(base);
    // Now the client reads everything: the six FETCHes complete.
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail = Vec::new();
    loop {
        let n = timeout(T, r.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed");
        total += n as u64;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 64 {
            tail.drain(..tail.len() - 64);
        }
        if tail.windows(13).any(|w| w == b"f6 OK FETCH c") {
            break;
        }
    }
    let grew = peak_growth(base);
    println!(
        "6 x pipelined FETCH 1:* BODY.PEEK[] of 16 x 2 MiB: peak RSS +{:.1} MiB while unread, +{:.1} MiB after reading {} MiB",
        stalled as f64 / MIB as f64,
        grew as f64 / MIB as f64,
        total / MIB
    );
    assert!(total >= 6 * 16 * 2 * MIB, "all six answered: {total}");
    assert!(grew < BOUND, "peak RSS grew by {grew} octets");
    server.shutdown().await;
}
