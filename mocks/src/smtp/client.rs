//! An SMTP/LMTP client for relays, the CA and tests: greeting, EHLO/LHLO with extensions,
//! STARTTLS (or implicit TLS), AUTH PLAIN, one or more transactions, QUIT. Every read has a
//! timeout and every reply is bounded (line length and line count).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::line::sasl::encode_plain;
use crate::line::{BoxStream, Conn, Line};
use crate::mail::{Envelope, Reply};

/// Default timeout for connecting and for each reply.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest reply line we accept (RFC 5321 §4.5.3.1.5 says 512; be lenient, but bounded).
const REPLY_LINE_MAX: usize = 2048;
/// Most lines in one multi-line reply.
const REPLY_LINES_MAX: usize = 128;

/// How to secure the connection.
#[derive(Debug, Clone)]
pub enum ClientTls {
    /// Plain SMTP.
    None,
    /// STARTTLS after the first EHLO (RFC 3207), verifying the server as this name.
    StartTls(Arc<rustls::ClientConfig>, ServerName<'static>),
    /// TLS from the first byte (RFC 8314), verifying the server as this name.
    Implicit(Arc<rustls::ClientConfig>, ServerName<'static>),
}

/// The step a failure happened at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The 220 greeting.
    Greeting,
    /// EHLO / HELO / LHLO.
    Hello,
    /// STARTTLS.
    StartTls,
    /// AUTH.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA (the 354, or the reply after the final dot).
    Data,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket failed or closed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// No reply within the timeout.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The TLS handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server broke the protocol (malformed or overlong reply, data after STARTTLS 220).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The server answered with an error.
    #[error("{stage} rejected: {reply}")]
    Rejected {
        /// Where.
        stage: Stage,
        /// The server's reply.
        reply: Reply,
    },
    /// Every RCPT was refused; the replies, in envelope order.
    #[error("every recipient was rejected")]
    NoRecipients(Vec<Reply>),
    /// The server does not advertise an extension we were asked to use.
    #[error("the server does not offer {0}")]
    NotOffered(&'static str),
}

impl ClientError {
    /// The server's reply behind this error, if there is one (for bounces).
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ClientError::Rejected { reply, .. } => Some(reply),
            ClientError::NoRecipients(replies) => replies.first(),
            _ => None,
        }
    }
}

/// A connected client.
pub struct SmtpClient {
    conn: Conn,
    timeout: Duration,
    lmtp: bool,
    hello_name: String,
    greeting: Reply,
    extensions: Vec<String>,
    tls: bool,
    /// Whether the last [`SmtpClient::send_parts`] got as far as sending message data.
    data_sent: bool,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("lmtp", &self.lmtp)
            .field("tls", &self.tls)
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

impl SmtpClient {
    /// Connects, reads the greeting, says EHLO (LHLO when `lmtp`), and with
    /// [`ClientTls::StartTls`] upgrades and says EHLO again.
    pub async fn connect(
        addr: SocketAddr,
        hello_name: &str,
        tls: ClientTls,
        lmtp: bool,
    ) -> Result<SmtpClient, ClientError> {
        let timeout = DEFAULT_CLIENT_TIMEOUT;
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout)??;
        let _ = tcp.set_nodelay(true);
        let mut stream: BoxStream = Box::new(tcp);
        let mut is_tls = false;
        if let ClientTls::Implicit(config, name) = &tls {
            stream = tls_connect(Arc::clone(config), name.clone(), stream, timeout).await?;
            is_tls = true;
        }
        let mut client = SmtpClient {
            conn: Conn::new(stream),
            timeout,
            lmtp,
            hello_name: hello_name.to_owned(),
            greeting: Reply::ok(""),
            extensions: Vec::new(),
            tls: is_tls,
            data_sent: false,
        };
        let greeting = client.read_reply().await?;
        if greeting.code != 220 {
            return Err(ClientError::Rejected {
                stage: Stage::Greeting,
                reply: greeting,
            });
        }
        client.greeting = greeting;
        client.hello().await?;
        if let ClientTls::StartTls(config, name) = tls {
            client.starttls(config, name).await?;
        }
        Ok(client)
    }

    /// Changes the per-reply timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The server's 220 greeting.
    pub fn greeting(&self) -> &Reply {
        &self.greeting
    }

    /// The EHLO/LHLO keyword lines (after the first line), as sent: `SIZE 10485760`,
    /// `AUTH PLAIN LOGIN`, `ACME <digest>` …
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Whether the server advertised `keyword` (case-insensitive, parameters ignored).
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.extension(keyword).is_some()
    }

    /// The parameters of an advertised keyword (`extension("SIZE") == Some("10485760")`).
    pub fn extension(&self, keyword: &str) -> Option<&str> {
        self.extensions.iter().find_map(|line| {
            let (k, params) = line.split_once(' ').unwrap_or((line, ""));
            k.eq_ignore_ascii_case(keyword).then_some(params)
        })
    }

    /// Whether the connection is under TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Sends one raw command line (without CRLF) and returns the reply.
    pub async fn command(&mut self, line: &str) -> Result<Reply, ClientError> {
        self.write_line(line);
        self.flush().await?;
        self.read_reply().await
    }

    /// AUTH PLAIN with an initial response (RFC 4954 §4, RFC 4616).
    pub async fn auth_plain(&mut self, user: &str, password: &str) -> Result<(), ClientError> {
        if !self
            .extension("AUTH")
            .is_some_and(|m| m.split(' ').any(|m| m.eq_ignore_ascii_case("PLAIN")))
        {
            return Err(ClientError::NotOffered("AUTH PLAIN"));
        }
        let reply = self
            .command(&format!("AUTH PLAIN {}", encode_plain(user, password)))
            .await?;
        if reply.code == 235 {
            Ok(())
        } else {
            Err(ClientError::Rejected {
                stage: Stage::Auth,
                reply,
            })
        }
    }

    /// Sends one message. Returns one reply per envelope recipient, in order: a refused
    /// RCPT's own reply, else the reply after the final dot (LMTP: that recipient's reply,
    /// RFC 2033 §4.2; SMTP: the one reply). Errors when MAIL, every RCPT, or DATA is refused.
    ///
    /// MAIL carries `SMTPUTF8` when an address is non-ASCII or `envelope.smtputf8` is set. A
    /// server that does not advertise SMTPUTF8 is not sent such a transaction (RFC 6531 §3.2:
    /// the client MUST NOT): the attempt fails here with a local `553 5.6.7`, which a relay
    /// turns into a bounce (RFC 6531 §3.7.4). `BODY=8BITMIME` when the data has 8-bit octets (or `body_8bit`) and the server
    /// offers it; `SIZE=` when offered. The data is dot-stuffed, its line endings made CRLF
    /// (RFC 5321 §2.3.8: a client MUST NOT send bare CR or LF), and ended with CRLF.CRLF.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        data: &[u8],
    ) -> Result<Vec<Reply>, ClientError> {
        self.send_parts(envelope, &[data]).await
    }

    /// [`SmtpClient::send`] with the message given as consecutive pieces (a trace field to
    /// prepend, then the message): sent in chunks, never joined or stuffed as a whole copy.
    pub async fn send_parts(
        &mut self,
        envelope: &Envelope,
        parts: &[&[u8]],
    ) -> Result<Vec<Reply>, ClientError> {
        self.data_sent = false;
        let needs_utf8 = envelope.smtputf8
            || !envelope.mail_from.is_ascii()
            || envelope.rcpt_to.iter().any(|r| !r.is_ascii());
        if needs_utf8 && !self.has_extension("SMTPUTF8") {
            return Err(ClientError::Rejected {
                stage: Stage::Mail,
                reply: Reply::new(
                    553,
                    (5, 6, 7),
                    "the next hop does not offer SMTPUTF8; internationalized mail not sent",
                ),
            });
        }
        let eight_bit = envelope.body_8bit || parts.iter().any(|p| !p.is_ascii());
        let mut mail = format!("MAIL FROM:<{}>", envelope.mail_from);
        if needs_utf8 {
            mail.push_str(" SMTPUTF8");
        }
        if eight_bit && self.has_extension("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        if self.has_extension("SIZE") {
            mail.push_str(&format!(" SIZE={}", message_size(parts)));
        }
        let pipelining = self.has_extension("PIPELINING");
        let (mail_reply, rcpt_replies, data_reply) = if pipelining {
            // RFC 2920 §3.1: MAIL, RCPTs and DATA in one group, DATA last.
            self.write_line(&mail);
            for rcpt in &envelope.rcpt_to {
                self.write_line(&format!("RCPT TO:<{rcpt}>"));
            }
            self.write_line("DATA");
            self.flush().await?;
            let mail_reply = self.read_reply().await?;
            let mut rcpt_replies = Vec::with_capacity(envelope.rcpt_to.len());
            for _ in &envelope.rcpt_to {
                rcpt_replies.push(self.read_reply().await?);
            }
            (mail_reply, rcpt_replies, Some(self.read_reply().await?))
        } else {
            let mail_reply = self.command(&mail).await?;
            let mut rcpt_replies = Vec::new();
            if mail_reply.is_positive() {
                for rcpt in &envelope.rcpt_to {
                    rcpt_replies.push(self.command(&format!("RCPT TO:<{rcpt}>")).await?);
                }
            }
            (mail_reply, rcpt_replies, None)
        };
        let accepted: Vec<usize> = (0..rcpt_replies.len())
            .filter(|&i| rcpt_replies[i].is_positive())
            .collect();
        let give_up = !mail_reply.is_positive() || accepted.is_empty();
        if give_up {
            // A server that still said 354 gets an empty message it will refuse or drop.
            if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                self.write_line(".");
                self.flush().await?;
                let _ = self.read_reply().await?;
            }
            let _ = self.command("RSET").await;
            if !mail_reply.is_positive() {
                return Err(ClientError::Rejected {
                    stage: Stage::Mail,
                    reply: mail_reply,
                });
            }
            return Err(ClientError::NoRecipients(rcpt_replies));
        }
        let data_reply = match data_reply {
            Some(r) => r,
            None => self.command("DATA").await?,
        };
        if data_reply.code != 354 {
            // Whatever the server kept of this MAIL and RCPT is cleared (RSET, RFC 5321
            // §4.1.1.5), so the session can carry the next transaction.
            let _ = self.command("RSET").await;
            return Err(ClientError::Rejected {
                stage: Stage::Data,
                reply: data_reply,
            });
        }
        // Chunks of the stuffed message, queued and written once a chunk's worth is waiting:
        // the client never holds a second copy of a large message, and a small one (a
        // Received field, the body and the final dot) goes out in one write, not one per part.
        let mut stuffer = Stuffer::default();
        let mut chunk = Vec::with_capacity(SEND_CHUNK + SEND_CHUNK / 8);
        self.data_sent = true;
        for part in parts {
            for piece in part.chunks(SEND_CHUNK) {
                chunk.clear();
                stuffer.feed(piece, &mut chunk);
                self.conn.queue(&chunk);
                if self.conn.queued() >= SEND_CHUNK {
                    self.flush().await?;
                }
            }
        }
        chunk.clear();
        stuffer.finish(&mut chunk);
        self.conn.queue(&chunk);
        self.flush().await?;
        let finals: Vec<Reply> = if self.lmtp {
            let mut finals = Vec::with_capacity(accepted.len());
            for _ in &accepted {
                match self.read_reply().await {
                    Ok(r) => finals.push(r),
                    // RFC 2033 §4.2: replies that never arrived are temporary failures.
                    Err(ClientError::Io(_)) | Err(ClientError::Timeout) if !finals.is_empty() => {
                        finals.push(Reply::new(451, (4, 4, 0), "connection lost before reply"));
                    }
                    Err(e) => return Err(e),
                }
            }
            finals
        } else {
            vec![self.read_reply().await?; accepted.len()]
        };
        let mut finals = finals.into_iter();
        Ok(rcpt_replies
            .into_iter()
            .map(|r| {
                if r.is_positive() {
                    finals.next().unwrap_or(r)
                } else {
                    r
                }
            })
            .collect())
    }

    /// Whether the last [`SmtpClient::send_parts`] sent any of the message (after the server's
    /// 354). Until then a failure leaves nothing delivered: the server has no message data to
    /// act on (RFC 5321 §4.1.1.4), so the whole transaction may be sent again elsewhere.
    pub fn sent_message_data(&self) -> bool {
        self.data_sent
    }

    /// QUIT, and closes.
    pub async fn quit(mut self) -> Result<(), ClientError> {
        let reply = self.command("QUIT").await;
        let _ = tokio::time::timeout(self.timeout, self.conn.close()).await;
        reply.map(|_| ())
    }

    async fn hello(&mut self) -> Result<(), ClientError> {
        let verb = if self.lmtp { "LHLO" } else { "EHLO" };
        let name = self.hello_name.clone();
        self.write_line(&format!("{verb} {name}"));
        self.flush().await?;
        let (reply, lines) = self.read_reply_lines().await?;
        if reply.code == 250 {
            self.extensions = lines.into_iter().skip(1).collect();
            return Ok(());
        }
        if self.lmtp {
            return Err(ClientError::Rejected {
                stage: Stage::Hello,
                reply,
            });
        }
        // RFC 5321 §3.2: fall back to HELO when EHLO is not understood.
        let reply = self.command(&format!("HELO {name}")).await?;
        self.extensions.clear();
        if reply.code == 250 {
            Ok(())
        } else {
            Err(ClientError::Rejected {
                stage: Stage::Hello,
                reply,
            })
        }
    }

    async fn starttls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<(), ClientError> {
        if !self.has_extension("STARTTLS") {
            return Err(ClientError::NotOffered("STARTTLS"));
        }
        let reply = self.command("STARTTLS").await?;
        if reply.code != 220 {
            return Err(ClientError::Rejected {
                stage: Stage::StartTls,
                reply,
            });
        }
        if self.conn.has_buffered() {
            // The client side of CVE-2011-0411 (e.g. CVE-2011-1575): bytes after the 220 came
            // in plaintext and must not be read as if from the TLS session.
            return Err(ClientError::Protocol(
                "server sent data after 220 to STARTTLS".into(),
            ));
        }
        let placeholder = Conn::new(Box::new(tokio::io::join(
            tokio::io::empty(),
            tokio::io::sink(),
        )));
        let plain = std::mem::replace(&mut self.conn, placeholder).into_stream();
        let plain = tokio::time::timeout(self.timeout, plain)
            .await
            .map_err(|_| ClientError::Timeout)??;
        let stream = tls_connect(config, name, plain, self.timeout).await?;
        self.conn = Conn::new(stream);
        self.tls = true;
        // RFC 3207 §4.2: forget everything learnt before TLS and say EHLO again.
        self.extensions.clear();
        self.hello().await
    }

    fn write_line(&mut self, line: &str) {
        self.conn.queue(line.as_bytes());
        self.conn.queue(b"\r\n");
    }

    async fn flush(&mut self) -> Result<(), ClientError> {
        tokio::time::timeout(self.timeout, self.conn.flush())
            .await
            .map_err(|_| ClientError::Timeout)??;
        Ok(())
    }

    async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        Ok(self.read_reply_lines().await?.0)
    }

    /// One (possibly multi-line) reply: the reply (texts joined by a space) and its lines'
    /// texts.
    async fn read_reply_lines(&mut self) -> Result<(Reply, Vec<String>), ClientError> {
        let mut code = None;
        let mut texts = Vec::new();
        loop {
            if texts.len() >= REPLY_LINES_MAX {
                return Err(ClientError::Protocol("reply has too many lines".into()));
            }
            let line = tokio::time::timeout(self.timeout, self.conn.read_line(REPLY_LINE_MAX))
                .await
                .map_err(|_| ClientError::Timeout)??;
            let bytes = match line {
                Some(Line::Full(bytes)) => bytes,
                Some(Line::TooLong { .. }) => {
                    return Err(ClientError::Protocol("reply line too long".into()));
                }
                None => {
                    return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim_end_matches(['\r', '\n']);
            let (this_code, more, rest) = parse_reply_line(text)
                .ok_or_else(|| ClientError::Protocol(format!("malformed reply line {text:?}")))?;
            if *code.get_or_insert(this_code) != this_code {
                return Err(ClientError::Protocol(
                    "reply codes differ between lines".into(),
                ));
            }
            texts.push(rest.to_owned());
            if !more {
                break;
            }
        }
        let code = code.unwrap_or(0);
        let (enhanced, first) = split_enhanced(texts.first().map(String::as_str).unwrap_or(""));
        let mut text = first.to_owned();
        for t in texts.iter().skip(1) {
            let (_, t) = split_enhanced(t);
            text.push(' ');
            text.push_str(t);
        }
        Ok((
            Reply {
                code,
                enhanced,
                text,
            },
            texts,
        ))
    }
}

async fn tls_connect(
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    stream: BoxStream,
    timeout: Duration,
) -> Result<BoxStream, ClientError> {
    let connect = TlsConnector::from(config).connect(name, stream);
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(tls)) => Ok(Box::new(tls)),
        Ok(Err(e)) => Err(ClientError::Tls(e.to_string())),
        Err(_) => Err(ClientError::Timeout),
    }
}

/// `250-text` → (250, true, "text"); `250 text` / `250` → (250, false, …).
fn parse_reply_line(line: &str) -> Option<(u16, bool, &str)> {
    let digits = line.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code = digits.parse().ok()?;
    match line.as_bytes().get(3) {
        None => Some((code, false, "")),
        Some(b' ') => Some((code, false, &line[4..])),
        Some(b'-') => Some((code, true, &line[4..])),
        Some(_) => None,
    }
}

/// Splits a leading RFC 3463 `c.s.d ` off a reply text.
fn split_enhanced(text: &str) -> (Option<(u8, u16, u16)>, &str) {
    let (head, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut parts = head.split('.');
    let parsed = (|| {
        let c = parts.next()?.parse::<u8>().ok()?;
        let s = parts.next()?.parse::<u16>().ok()?;
        let d = parts.next()?.parse::<u16>().ok()?;
        (parts.next().is_none() && (2..=5).contains(&c)).then_some((c, s, d))
    })();
    match parsed {
        Some(e) => (Some(e), rest),
        None => (None, text),
    }
}

/// How much of a message is stuffed and written at a time.
const SEND_CHUNK: usize = 64 * 1024;

/// One step of [`LineEnds::scan`]: a run of octets without CR or LF, or one line end.
enum Piece<'a> {
    Run(&'a [u8]),
    End,
}

/// Splits data fed in pieces into runs and line ends: a bare CR, a bare LF and a CRLF are one
/// line end each, also when the CR ends one piece and the LF starts the next. The stuffer and
/// the SIZE count both read a message through it, so they agree on where its lines end.
#[derive(Debug, Default)]
struct LineEnds {
    /// The last octet scanned was a CR: an LF right after it belongs to that line end.
    after_cr: bool,
}

impl LineEnds {
    /// Hands `data`'s runs and line ends to `each`, in order. Runs of octets other than CR and
    /// LF come whole: only line ends need a decision.
    fn scan<'a>(&mut self, data: &'a [u8], mut each: impl FnMut(Piece<'a>)) {
        let mut i = 0;
        while let Some(&b) = data.get(i) {
            let after_cr = std::mem::replace(&mut self.after_cr, false);
            match b {
                b'\n' if after_cr => i += 1,
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    each(Piece::End);
                    i += 1;
                }
                _ => {
                    let run = memchr::memchr2(b'\r', b'\n', &data[i..]).unwrap_or(data.len() - i);
                    each(Piece::Run(&data[i..i + run]));
                    i += run;
                }
            }
        }
    }
}

/// Dot-stuffing (RFC 5321 §4.5.2) with bare CR and bare LF turned into CRLF, fed in pieces so a
/// large message goes out in chunks instead of as one stuffed copy.
#[derive(Debug)]
pub(crate) struct Stuffer {
    line_start: bool,
    ends: LineEnds,
    /// Whether any octet was fed (an empty message ends with `.` CRLF alone).
    wrote: bool,
}

impl Default for Stuffer {
    fn default() -> Self {
        Stuffer {
            line_start: true,
            ends: LineEnds::default(),
            wrote: false,
        }
    }
}

impl Stuffer {
    /// Appends the stuffed form of `data` to `out`.
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        out.reserve(data.len());
        self.wrote |= !data.is_empty();
        let line_start = &mut self.line_start;
        self.ends.scan(data, |piece| match piece {
            Piece::End => {
                out.extend_from_slice(b"\r\n");
                *line_start = true;
            }
            Piece::Run(run) => {
                // RFC 5321 §4.5.2: a line that starts with "." gets one more in front.
                if *line_start && run.first() == Some(&b'.') {
                    out.push(b'.');
                }
                out.extend_from_slice(run);
                *line_start = false;
            }
        });
    }

    /// Ends the data: CRLF if the last line lacks one, then `.` CRLF.
    pub(crate) fn finish(self, out: &mut Vec<u8>) {
        if self.wrote && !self.line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// Dot-stuffs (RFC 5321 §4.5.2), turns bare CR and bare LF into CRLF, ends with CRLF.CRLF.
#[cfg(test)]
pub(crate) fn stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 8);
    let mut stuffer = Stuffer::default();
    stuffer.feed(data, &mut out);
    stuffer.finish(&mut out);
    out
}

/// RFC 1870 §3's message size of `parts` as sent: octets with CRLF line ends, without the
/// stuffing dots and the final `.` line.
fn message_size(parts: &[&[u8]]) -> usize {
    let mut ends = LineEnds::default();
    let mut size = 0usize;
    let mut line_start = true;
    for part in parts {
        ends.scan(part, |piece| match piece {
            Piece::End => {
                size += 2;
                line_start = true;
            }
            Piece::Run(run) => {
                size += run.len();
                line_start = false;
            }
        });
    }
    if !line_start {
        size += 2;
    }
    size
}

#[cfg(test)]
mod tests {
    use super::super::data::{DataParser, Fed};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the bytes, our client's DATA is read back by our server as exactly one
        /// message ending where the client ended it, equal to the input with CRLF line ends.
        #[test]
        fn stuffed_data_round_trips(data in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), any::<u8>()], 0..300)) {
            let wire = stuff(&data);
            let mut parser = DataParser::new(1 << 20);
            let mut pos = 0;
            let mut ended = false;
            while let Some(i) = wire[pos..].iter().position(|&b| b == b'\n') {
                let line = &wire[pos..pos + i + 1];
                pos += i + 1;
                if parser.feed(line) == Fed::End {
                    ended = true;
                    break;
                }
            }
            prop_assert!(ended);
            prop_assert_eq!(pos, wire.len());
            let got = parser.finish().unwrap();
            let mut expected = stuff(&data);
            expected.truncate(expected.len() - 3);
            expected = expected.replace_dots();
            prop_assert_eq!(got, expected);
        }
    }

    trait ReplaceDots {
        fn replace_dots(self) -> Vec<u8>;
    }

    /// Undoes the stuffing the simple way: drop one leading dot per line.
    impl ReplaceDots for Vec<u8> {
        fn replace_dots(self) -> Vec<u8> {
            self.split_inclusive(|&b| b == b'\n')
                .flat_map(|l| l.strip_prefix(b".").unwrap_or(l).to_vec())
                .collect()
        }
    }

    #[test]
    fn stuffing_and_line_endings() {
        assert_eq!(stuff(b""), b".\r\n");
        assert_eq!(stuff(b"a\n.b\r\n..\rc"), b"a\r\n..b\r\n...\r\nc\r\n.\r\n");
        assert_eq!(message_size(&[b"a\n.b\r\n..\rc"]), 14);
        assert_eq!(message_size(&[b""]), 0);
    }

    proptest! {
        /// Fed in any pieces, the stuffer writes what one pass writes (a CR at the end of one
        /// piece and an LF at the start of the next are one line end), and the SIZE estimate is
        /// the unstuffed length the server will count.
        #[test]
        fn stuffing_in_pieces_is_stuffing_at_once(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&data[at..c]);
                at = c;
            }
            pieces.push(&data[at..]);
            let mut out = Vec::new();
            let mut stuffer = Stuffer::default();
            for p in &pieces {
                stuffer.feed(p, &mut out);
            }
            stuffer.finish(&mut out);
            let whole = stuff(&data);
            prop_assert_eq!(&out, &whole);
            let mut unstuffed = whole.clone();
            unstuffed.truncate(unstuffed.len() - 3);
            prop_assert_eq!(message_size(&pieces), unstuffed.replace_dots().len());
        }
    }

    #[test]
    fn reply_lines() {
        assert_eq!(
            parse_reply_line("250-SIZE 10"),
            Some((250, true, "SIZE 10"))
        );
        assert_eq!(parse_reply_line("250"), Some((250, false, "")));
        assert_eq!(parse_reply_line("25x ok"), None);
        assert_eq!(parse_reply_line("250x"), None);
        assert_eq!(
            split_enhanced("5.1.1 no such"),
            (Some((5, 1, 1)), "no such")
        );
        assert_eq!(
            split_enhanced("mx.example ESMTP"),
            (None, "mx.example ESMTP")
        );
    }
}
