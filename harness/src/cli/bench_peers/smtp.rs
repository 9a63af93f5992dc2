//! SMTP and LMTP ingest: `connections` clients, each on one connection, sending fixed messages
//! one transaction after another (no pipelining), each transaction counted once the server
//! answered the end of data with 250. The same bytes go to every server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use std::borrow::Cow;

use super::null::Reply;
use super::{Measured, Stopwatch};

/// A reply slower than this is a hung server, not a figure.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest reply line read (RFC 5321 §4.5.3.1.5: 512 octets; a little room).
const MAX_LINE: usize = 4096;

/// Which dialect: the greeting verb, and whether the end of data gets one reply per recipient
/// (RFC 2033 §4.2) — with one recipient, one reply either way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dialect {
    Smtp,
    Lmtp,
}

/// A message of exactly `size` octets (headers and a body of 76-column lines), CRLF line ends,
/// no line starting with a dot, so it goes on the wire as is.
pub fn message(size: usize, to: &str, subject: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Bench <bench@client.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Sun, 06 Dec 2026 12:00:00 +0000\r\nMessage-ID: <bench@client.test>\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, and the dog sleeps on, unmoved.";
    while m.len() + line.len() + 2 <= size {
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    while m.len() + 2 < size {
        m.push(b'x');
    }
    m.extend_from_slice(b"\r\n");
    m
}

/// Reads one reply (all its lines) and returns its code.
async fn reply(reader: &mut BufReader<TcpStream>, line: &mut String) -> Result<u16, String> {
    loop {
        line.clear();
        let n = tokio::time::timeout(REPLY_TIMEOUT, reader.read_line(line))
            .await
            .map_err(|_| "no reply in time".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        if line.len() > MAX_LINE || line.len() < 4 {
            return Err(format!("not a reply line: {line:?}"));
        }
        // RFC 5321 §4.2.1: "Code-SP" ends a reply, "Code-" continues it.
        if line.as_bytes()[3] != b'-' {
            return line[..3]
                .parse()
                .map_err(|_| format!("not a reply: {line:?}"));
        }
    }
}

async fn expect(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
    want: u16,
    after: &str,
) -> Result<(), String> {
    let code = reply(reader, line).await?;
    if code != want {
        return Err(format!("{after}: {}", line.trim_end()));
    }
    Ok(())
}

/// Runs `messages` transactions to `addr` over `connections` connections; the recipient of
/// connection `i` is `rcpt(i)`.
pub async fn drive(
    addr: SocketAddr,
    dialect: Dialect,
    connections: usize,
    messages: usize,
    size: usize,
    rcpt: impl Fn(usize) -> String,
    pids: &[u32],
) -> Result<Measured, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut sessions = Vec::with_capacity(connections);
    // Connect and greet first: the clock measures transactions, not handshakes.
    for i in 0..connections {
        let to = rcpt(i);
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        expect(&mut reader, &mut line, 220, "greeting").await?;
        let hello = match dialect {
            Dialect::Smtp => "EHLO client.test\r\n",
            Dialect::Lmtp => "LHLO client.test\r\n",
        };
        reader
            .get_mut()
            .write_all(hello.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        expect(&mut reader, &mut line, 250, "hello").await?;
        let mut data = message(size, &to, "bench");
        data.extend_from_slice(b".\r\n");
        let envelope = format!("MAIL FROM:<bench@client.test>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
        sessions.push((reader, line, data, envelope));
    }
    let watch = Stopwatch::start(pids);
    let mut tasks = tokio::task::JoinSet::new();
    for (mut reader, mut line, data, envelope) in sessions {
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            let (mail, rest) = envelope.split_at(envelope.find("RCPT").unwrap_or(0));
            let (rcpt, data_cmd) = rest.split_at(rest.find("DATA").unwrap_or(0));
            while next.fetch_add(1, Ordering::Relaxed) < messages {
                let w = reader.get_mut();
                w.write_all(mail.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                expect(&mut reader, &mut line, 250, "MAIL").await?;
                let w = reader.get_mut();
                w.write_all(rcpt.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                expect(&mut reader, &mut line, 250, "RCPT").await?;
                let w = reader.get_mut();
                w.write_all(data_cmd.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                expect(&mut reader, &mut line, 354, "DATA").await?;
                reader
                    .get_mut()
                    .write_all(&data)
                    .await
                    .map_err(|e| e.to_string())?;
                expect(&mut reader, &mut line, 250, "end of data").await?;
            }
            let _ = reader.get_mut().write_all(b"QUIT\r\n").await;
            Ok::<_, String>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(watch.stop(messages))
}

/// The null SMTP/LMTP server: 250 to everything, 354 to DATA, 250 after the dot, and nothing
/// kept. Lines are bounded; a longer one closes the connection.
pub async fn null_server() -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    super::null::serve_lines(b"220 null\r\n", MAX_LINE as u64 * 4, REPLY_TIMEOUT, || {
        let mut in_data = false;
        move |line: &[u8]| {
            if in_data {
                if line == b".\r\n" {
                    in_data = false;
                    Reply::Send(Cow::Borrowed(b"250 ok\r\n"))
                } else {
                    Reply::Nothing
                }
            } else if line.eq_ignore_ascii_case(b"DATA\r\n") {
                in_data = true;
                Reply::Send(Cow::Borrowed(b"354 go on\r\n"))
            } else if line.eq_ignore_ascii_case(b"QUIT\r\n") {
                Reply::SendAndClose(b"221 bye\r\n")
            } else {
                Reply::Send(Cow::Borrowed(b"250 ok\r\n"))
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_has_the_asked_size_and_no_line_starts_with_a_dot() {
        for size in [1024, 4096, 4097] {
            let m = message(size, "a@b.test", "s");
            assert_eq!(m.len(), size);
            assert!(m.ends_with(b"\r\n"));
            assert!(!m.windows(3).any(|w| w == b"\n.\r" || w == b"\n.."));
        }
    }
}
