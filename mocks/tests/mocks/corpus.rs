//! The bad-input corpus: every line of `tests/corpus/mail.txt` is one input to one server, in
//! a fixed state, with the exact answer expected. The servers are real (127.0.0.1, port 0); each
//! input gets a fresh connection.
//!
//! Format, one case a line, three fields separated by a tab: the target, the input, the
//! answer. Inputs and answers use the escapes `\r`, `\n`, `\t`, `\\` and `\xHH`. Targets:
//! - `mx`, `submission`, `relay`, `lmtp`: SMTP in that role after the greeting and `EHLO
//!   client.test` (`LHLO` for LMTP); `mx-new`: right after the greeting. Each line of input
//!   gets a reply (but the lines of a message after `354`); the answer is the last line of the
//!   last reply.
//! - `imap`: logged in with INBOX selected; `imap-new`: right after the greeting. The answer is
//!   the first response that is not untagged data (a tagged line, `+`, `* BAD` or `* BYE`).
//! - `pop3`: logged in (TRANSACTION state); `pop3-new`: right after the greeting. Each line of
//!   input gets one line; the answer is the last.
//! - `dns`: the input is a UDP query written as hex; the answer is the response's RCODE and the
//!   number of answer records (`NOERROR 1`).
//!
//! `ACMEPROOF_BLESS=1 cargo test -p acmeproof-mocks --test mocks corpus` rewrites the answers
//! with what the servers say (then read the diff: every answer must be the protocol's own error).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acmeproof_mocks::clock::Clock;
use acmeproof_mocks::dns::{DnsConfig, DnsServer, RecordSpec};
use acmeproof_mocks::imap::ImapServer;
use acmeproof_mocks::mailstore::StoreSink;
use acmeproof_mocks::pop3::{Pop3Config, Pop3Server};
use acmeproof_mocks::smtp::{Role, SmtpConfig, SmtpServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::imap::{config as imap_config, server_tls, store};

const T: Duration = Duration::from_secs(10);
const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/mail.txt");

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn escape(b: &[u8]) -> String {
    let mut out = String::new();
    for c in String::from_utf8_lossy(b).chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

struct Servers {
    smtp: Vec<(Role, SmtpServer)>,
    imap: ImapServer,
    pop3: Pop3Server,
    dns: DnsServer,
}

async fn servers() -> Servers {
    let s = store();
    let mut smtp = Vec::new();
    for role in [Role::Mx, Role::Submission, Role::Relay, Role::Lmtp] {
        let mut c = SmtpConfig::new(
            role,
            "mx.example.test",
            Arc::new(StoreSink::new(s.clone())),
            Clock::system(),
        );
        if role == Role::Submission {
            c.auth = Some(Arc::new(s.clone()));
            c.tls = Some(server_tls());
        }
        smtp.push((role, SmtpServer::start(c).await.unwrap()));
    }
    let imap = ImapServer::start(imap_config(&s)).await.unwrap();
    let pop3 = Pop3Server::start(Pop3Config::new(
        "pop.example.test",
        s.clone(),
        Clock::system(),
    ))
    .await
    .unwrap();
    let dns = DnsServer::start(DnsConfig {
        zones: vec!["example.test".into()],
        records: vec![
            RecordSpec::new("www.example.test", "A", "127.0.0.1"),
            RecordSpec::new("example.test", "MX", "10 mx.example.test."),
        ],
        ..DnsConfig::default()
    })
    .await
    .unwrap();
    Servers {
        smtp,
        imap,
        pop3,
        dns,
    }
}

async fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut buf = Vec::new();
    match timeout(T, r.read_until(b'\n', &mut buf)).await {
        Ok(Ok(0)) => "<closed>".into(),
        Ok(Ok(_)) => String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        Ok(Err(e)) => format!("<error {e}>"),
        Err(_) => "<no answer>".into(),
    }
}

async fn smtp_reply(r: &mut BufReader<TcpStream>) -> String {
    loop {
        let l = line(r).await;
        if l.as_bytes().get(3) != Some(&b'-') {
            return l;
        }
    }
}

async fn send(r: &mut BufReader<TcpStream>, bytes: &[u8]) {
    r.get_mut().write_all(bytes).await.unwrap();
}

async fn answer(s: &Servers, target: &str, input: &[u8]) -> String {
    let smtp_role = match target {
        "mx" | "mx-new" => Some(Role::Mx),
        "submission" => Some(Role::Submission),
        "relay" => Some(Role::Relay),
        "lmtp" => Some(Role::Lmtp),
        _ => None,
    };
    if let Some(role) = smtp_role {
        let addr = s.smtp.iter().find(|(r, _)| *r == role).unwrap().1.addr();
        let mut r = BufReader::new(TcpStream::connect(addr).await.unwrap());
        smtp_reply(&mut r).await;
        if target != "mx-new" {
            let hello = if role == Role::Lmtp { "LHLO" } else { "EHLO" };
            send(&mut r, format!("{hello} client.test\r\n").as_bytes()).await;
            smtp_reply(&mut r).await;
        }
        send(&mut r, input).await;
        // One reply per line of input, except the lines of a message after 354; the answer is
        // the last reply.
        let mut last = String::new();
        let mut in_data = false;
        for l in input.split_inclusive(|&b| b == b'\n') {
            if in_data && l != b".\r\n" {
                continue;
            }
            last = smtp_reply(&mut r).await;
            in_data = last.starts_with("354");
            if last.starts_with('<') {
                break;
            }
        }
        return last;
    }
    match target {
        "imap" | "imap-new" => {
            let mut r = BufReader::new(TcpStream::connect(s.imap.addr()).await.unwrap());
            line(&mut r).await;
            if target == "imap" {
                send(
                    &mut r,
                    b"x1 LOGIN alice@example.test pw\r\nx2 SELECT INBOX\r\n",
                )
                .await;
                while !line(&mut r).await.starts_with("x2 ") {}
            }
            send(&mut r, input).await;
            // The first answer that is not untagged data: a tagged line, a continuation
            // request, or an untagged BAD or BYE.
            loop {
                let l = line(&mut r).await;
                let data =
                    l.starts_with("* ") && !l.starts_with("* BAD") && !l.starts_with("* BYE");
                if !data {
                    return l;
                }
            }
        }
        "pop3" | "pop3-new" => {
            let mut r = BufReader::new(TcpStream::connect(s.pop3.addr()).await.unwrap());
            line(&mut r).await;
            if target == "pop3" {
                send(&mut r, b"USER alice@example.test\r\n").await;
                line(&mut r).await;
                send(&mut r, b"PASS pw\r\n").await;
                line(&mut r).await;
            }
            send(&mut r, input).await;
            // One answer line per line of input; the answer is the last.
            let mut last = String::new();
            for _ in input.split_inclusive(|&b| b == b'\n') {
                last = line(&mut r).await;
            }
            last
        }
        "dns" => dns_answer(s.dns.addr(), input).await,
        other => panic!("unknown target {other}"),
    }
}

async fn dns_answer(addr: SocketAddr, hex: &[u8]) -> String {
    let hex: String = String::from_utf8_lossy(hex).split_whitespace().collect();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let Ok(Ok(n)) = timeout(Duration::from_secs(1), sock.recv(&mut buf)).await else {
        return "<no answer>".into();
    };
    match hickory_proto::op::Message::from_vec(&buf[..n]) {
        Ok(m) => format!("{} {}", m.metadata.response_code, m.answers.len()),
        Err(e) => format!("<unreadable {e}>"),
    }
}

#[tokio::test]
async fn every_input_gets_the_expected_answer() {
    let text = std::fs::read_to_string(FILE).unwrap();
    let s = servers().await;
    let bless = std::env::var_os("ACMEPROOF_BLESS").is_some();
    let mut out = String::new();
    let mut wrong = Vec::new();
    let mut cases = 0;
    for (n, l) in text.lines().enumerate() {
        let fields: Vec<&str> = l.splitn(3, '\t').collect();
        if l.starts_with('#') || l.trim().is_empty() || fields.len() < 2 {
            out.push_str(l);
            out.push('\n');
            continue;
        }
        cases += 1;
        let got = answer(&s, fields[0], &unescape(fields[1])).await;
        let want = fields.get(2).map(|w| unescape(w)).unwrap_or_default();
        if got.as_bytes() != want {
            wrong.push(format!(
                "line {}: {} {}\n  want {}\n  got  {}",
                n + 1,
                fields[0],
                fields[1],
                escape(&want),
                escape(got.as_bytes())
            ));
        }
        out.push_str(&format!(
            "{}\t{}\t{}\n",
            fields[0],
            fields[1],
            escape(got.as_bytes())
        ));
    }
    if bless {
        std::fs::write(FILE, out).unwrap();
        return;
    }
    assert!(cases >= 220, "{cases} inputs");
    assert!(
        wrong.is_empty(),
        "{} of {cases} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
