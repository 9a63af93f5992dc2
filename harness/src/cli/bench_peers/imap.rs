//! IMAP SEARCH+FETCH: `clients` clients, each logged in with INBOX selected, each round trip
//! `UID SEARCH SUBJECT "word"` then a `UID FETCH` of one hit's Subject and From and size. The
//! mailbox is preloaded over LMTP, the same messages into every server, so every server holds
//! the same mailbox and every SEARCH has the same hits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::null::Reply;
use super::smtp;
use super::{Measured, Stopwatch};

/// A response slower than this is a hung server, not a figure.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The longest response line read, and the largest literal.
const MAX_LINE: usize = 64 * 1024;
/// Subject words: none is a substring of another or of the rest of a Subject.
pub const WORDS: [&str; 8] = [
    "invoice", "meeting", "report", "deploy", "backup", "release", "audit", "budget",
];

/// The Subject of preloaded message `i`.
fn subject(i: usize) -> String {
    format!("Bench {} number {i}", WORDS[i % WORDS.len()])
}

/// Delivers `messages` messages of about 4 KiB to `user` through LMTP at `lmtp`.
pub async fn preload(lmtp: SocketAddr, user: &str, messages: usize) -> Result<(), String> {
    let stream = TcpStream::connect(lmtp)
        .await
        .map_err(|e| format!("connect {lmtp}: {e}"))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut step = async |reader: &mut BufReader<TcpStream>, send: &[u8], want: u16| {
        if !send.is_empty() {
            reader
                .get_mut()
                .write_all(send)
                .await
                .map_err(|e| e.to_string())?;
        }
        let code = read_reply(reader, &mut line).await?;
        if code != want {
            return Err(format!("preload: {}", line.trim_end()));
        }
        Ok::<_, String>(())
    };
    step(&mut reader, b"", 220).await?;
    step(&mut reader, b"LHLO client.test\r\n", 250).await?;
    for i in 0..messages {
        step(&mut reader, b"MAIL FROM:<bench@client.test>\r\n", 250).await?;
        step(&mut reader, format!("RCPT TO:<{user}>\r\n").as_bytes(), 250).await?;
        step(&mut reader, b"DATA\r\n", 354).await?;
        let mut data = smtp::message(4096, user, &subject(i));
        data.extend_from_slice(b".\r\n");
        step(&mut reader, &data, 250).await?;
    }
    let _ = reader.get_mut().write_all(b"QUIT\r\n").await;
    Ok(())
}

async fn read_reply(reader: &mut BufReader<TcpStream>, line: &mut String) -> Result<u16, String> {
    loop {
        line.clear();
        let n = tokio::time::timeout(TIMEOUT, reader.read_line(line))
            .await
            .map_err(|_| "no reply in time".to_owned())?
            .map_err(|e| e.to_string())?;
        if n == 0 || line.len() < 4 {
            return Err(format!("not a reply: {line:?}"));
        }
        if line.as_bytes()[3] != b'-' {
            return line[..3]
                .parse()
                .map_err(|_| format!("not a reply: {line:?}"));
        }
    }
}

/// One client's connection: reads responses up to the tagged line, literals by their count.
struct Client {
    reader: BufReader<TcpStream>,
    line: Vec<u8>,
    tag: usize,
}

impl Client {
    async fn connect(addr: SocketAddr, user: &str, password: &str) -> Result<Client, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut client = Client {
            reader: BufReader::new(stream),
            line: Vec::new(),
            tag: 0,
        };
        client.read_line().await?;
        if !client.line.starts_with(b"* OK") {
            return Err(format!(
                "greeting: {}",
                String::from_utf8_lossy(&client.line)
            ));
        }
        client
            .command(&format!("LOGIN \"{user}\" \"{password}\""))
            .await?;
        client.command("SELECT INBOX").await?;
        Ok(client)
    }

    async fn read_line(&mut self) -> Result<(), String> {
        self.line.clear();
        let n = tokio::time::timeout(
            TIMEOUT,
            (&mut self.reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut self.line),
        )
        .await
        .map_err(|_| "no response in time".to_owned())?
        .map_err(|e| e.to_string())?;
        if n == 0 || !self.line.ends_with(b"\n") {
            return Err("the server closed the connection or sent too long a line".into());
        }
        Ok(())
    }

    /// Sends `command`, reads to its tagged response; returns the untagged lines (literals
    /// appended to their line) and fails unless the tagged response is OK.
    async fn command(&mut self, command: &str) -> Result<Vec<Vec<u8>>, String> {
        self.tag += 1;
        let tag = format!("b{}", self.tag);
        self.reader
            .get_mut()
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut untagged = Vec::new();
        loop {
            self.read_line().await?;
            let mut whole = self.line.clone();
            // RFC 3501 §4.3: a literal is "{" number "}" CRLF followed by that many octets.
            while let Some(count) = literal_count(&whole) {
                if count > MAX_LINE {
                    return Err("a literal too large".into());
                }
                let mut literal = vec![0u8; count];
                tokio::time::timeout(TIMEOUT, self.reader.read_exact(&mut literal))
                    .await
                    .map_err(|_| "no literal in time".to_owned())?
                    .map_err(|e| e.to_string())?;
                whole.extend_from_slice(&literal);
                self.read_line().await?;
                whole.extend_from_slice(&self.line);
            }
            if whole.starts_with(tag.as_bytes()) && whole.get(tag.len()) == Some(&b' ') {
                if whole[tag.len() + 1..].starts_with(b"OK") {
                    return Ok(untagged);
                }
                return Err(format!(
                    "{command}: {}",
                    String::from_utf8_lossy(&whole).trim_end()
                ));
            }
            untagged.push(whole);
        }
    }
}

/// The octet count of a literal ending `line` (`{n}` CRLF), if it ends with one.
fn literal_count(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..])
        .ok()?
        .trim_end_matches('+')
        .parse()
        .ok()
}

/// Runs `round_trips` SEARCH+FETCH pairs over `clients` clients logged in as `user`. Each
/// SEARCH must find the preloaded messages of its word (`messages` / 8 of them, give or
/// take one), and each FETCH must return the hit's Subject: a server answering garbage fails
/// the run rather than giving a figure.
pub async fn drive(
    addr: SocketAddr,
    user: &str,
    password: &str,
    clients: usize,
    round_trips: usize,
    messages: usize,
    pids: &[u32],
) -> Result<Measured, String> {
    let mut connected = Vec::with_capacity(clients);
    for _ in 0..clients {
        connected.push(Client::connect(addr, user, password).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let watch = Stopwatch::start(pids);
    let mut tasks = tokio::task::JoinSet::new();
    let check = messages > 0;
    for mut client in connected {
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= round_trips {
                    break;
                }
                let word = WORDS[k % WORDS.len()];
                let found = client
                    .command(&format!("UID SEARCH SUBJECT \"{word}\""))
                    .await?;
                let uids: Vec<&str> = found
                    .iter()
                    .find(|l| l.starts_with(b"* SEARCH"))
                    .and_then(|l| std::str::from_utf8(l).ok())
                    .map(|l| l["* SEARCH".len()..].split_whitespace().collect())
                    .unwrap_or_default();
                let expected = messages / WORDS.len();
                if check && (uids.len() < expected || uids.len() > expected + 1) {
                    return Err(format!(
                        "SEARCH SUBJECT {word} found {} messages, not {expected}",
                        uids.len()
                    ));
                }
                let Some(uid) = uids.get(k / WORDS.len() % uids.len().max(1)) else {
                    return Err(format!("SEARCH SUBJECT {word} found nothing"));
                };
                let fetched = client
                    .command(&format!(
                        "UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] RFC822.SIZE)"
                    ))
                    .await?;
                let has_subject = fetched
                    .iter()
                    .any(|l| l.windows(word.len()).any(|w| w == word.as_bytes()));
                if check && !has_subject {
                    return Err(format!("FETCH of UID {uid} did not return its Subject"));
                }
            }
            let _ = client.command("LOGOUT").await;
            Ok::<_, String>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(watch.stop(round_trips))
}

/// The null IMAP server: OK to everything, a fixed SEARCH hit list, a fixed FETCH answer with
/// the word of the search in it. Lines are bounded; a longer one closes the connection.
pub async fn null_server() -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    super::null::serve_lines(b"* OK null\r\n", MAX_LINE as u64, TIMEOUT, || {
        let mut word = WORDS[0];
        move |line: &[u8]| {
            let text = String::from_utf8_lossy(line);
            let tag = text.split(' ').next().unwrap_or("*");
            let mut answer = String::new();
            if text.contains(" SEARCH ") {
                word = WORDS
                    .iter()
                    .find(|w| text.contains(*w))
                    .copied()
                    .unwrap_or(word);
                answer.push_str("* SEARCH 1 2 3\r\n");
            } else if text.contains(" FETCH ") {
                let header = format!("Subject: Bench {word}\r\nFrom: b@c.test\r\n\r\n");
                answer.push_str(&format!(
                    "* 1 FETCH (UID 1 RFC822.SIZE 4096 BODY[HEADER.FIELDS (SUBJECT FROM)] {{{}}}\r\n{header})\r\n",
                    header.len()
                ));
            }
            answer.push_str(&format!("{tag} OK done\r\n"));
            Reply::Send(answer.into_bytes().into())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_is_read_by_its_count_and_a_plain_line_is_none() {
        assert_eq!(literal_count(b"* 1 FETCH (BODY[] {42}\r\n"), Some(42));
        assert_eq!(literal_count(b"a1 APPEND x {7+}\r\n"), Some(7));
        assert_eq!(literal_count(b"* SEARCH 1 2\r\n"), None);
        assert_eq!(literal_count(b"* OK {x}\r\n"), None);
    }
}
