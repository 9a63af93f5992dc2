//! One connection: NotAuthenticated → Authenticated → Selected → Logout (RFC 3501 §3), command
//! assembly with literals and limits, and the commands themselves.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::fetch::{self, View};
use super::parse::{
    self, Command, FetchAtt, Kind, ParseError, SeqNum, SeqSet, StatusItem, StoreMode,
};
use super::response::{Charset, Resp, flag_list};
use super::search::{self, Candidate};
use super::{Direction, MAX_DISCARD_OCTETS, Shared};
use crate::mailstore::{StoreEvent, StoredMessage};
use crate::smtp::auth;
use crate::smtp::io::{self, BoxStream, Conn, Line};

/// Consecutive BAD answers before `* BYE` and close.
const MAX_BAD_COMMANDS: u32 = 10;
/// The system flags (RFC 3501 §2.3.2).
const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// What the main loop does next.
enum Flow {
    Continue,
    Close,
    StartTls,
}

/// What reading a command produced.
enum Read {
    /// The command's octets without the final CRLF, literals inlined as `{n}CRLF<octets>`.
    Command(Vec<u8>),
    /// Over `max_command_octets`; the tag if one could be read.
    TooLong(Option<String>),
    /// Already answered (a refused literal); `true` to close.
    Answered(bool),
    Gone,
    Timeout,
    Shutdown,
}

struct Selected {
    name: String,
    read_only: bool,
    /// UIDs by sequence number − 1: this session's view (RFC 3501 §2.3.1.2).
    uids: Vec<u32>,
    /// The messages that are `\Recent` in this session.
    recent: BTreeSet<u32>,
    /// The mailbox's removal count when this session last reported expunges: while it is
    /// unchanged, none of `uids` can be gone and a sync looks only at new UIDs.
    removals: u64,
}

struct Session {
    shared: Arc<Shared>,
    conn: Conn,
    conn_id: u64,
    stop: watch::Receiver<bool>,
    tls: bool,
    user: Option<String>,
    selected: Option<Selected>,
    utf8: bool,
    bad: u32,
}

/// Serves one accepted connection to the end.
pub(crate) async fn run(
    shared: Arc<Shared>,
    stream: BoxStream,
    conn_id: u64,
    stop: watch::Receiver<bool>,
) {
    let opened = io::opening_stream(
        shared.config.tls.as_ref(),
        shared.config.implicit_tls,
        stream,
        shared.config.idle_timeout,
    )
    .await;
    let Some((stream, tls)) = opened else {
        tracing::debug!(conn_id, "IMAP implicit TLS handshake failed");
        return;
    };
    let mut session = Session {
        shared,
        conn: Conn::new(stream),
        conn_id,
        stop,
        tls,
        user: None,
        selected: None,
        utf8: false,
        bad: 0,
    };
    session.serve().await;
}

/// The tag at the start of a command, if it has one.
fn tag_of(bytes: &[u8]) -> Option<String> {
    match parse::parse(bytes) {
        Err(ParseError::NoTag) => None,
        Ok(c) => Some(c.tag),
        Err(ParseError::Bad { tag, .. }) => Some(tag),
    }
}

impl Session {
    fn charset(&self) -> Charset {
        if self.utf8 {
            Charset::Utf8
        } else {
            Charset::Ascii
        }
    }

    fn capabilities(&self) -> String {
        let cfg = &self.shared.config;
        let mut caps = vec![
            "IMAP4rev1",
            "LITERAL+",
            "SASL-IR",
            "IDLE",
            "ENABLE",
            "UNSELECT",
            "UTF8=ACCEPT",
        ];
        let login_disabled = cfg.require_tls_for_login && !self.tls;
        if login_disabled {
            caps.push("LOGINDISABLED");
        } else {
            caps.push("AUTH=PLAIN");
        }
        if cfg.tls.is_some() && !self.tls {
            caps.push("STARTTLS");
        }
        let mut caps = caps.join(" ");
        // draft-ietf-acme-email-tls-05 §3.4: the digest "as a value of the "ACME" IMAP
        // capability", in the greeting's CAPABILITY response code and in CAPABILITY.
        if let Some(digest) = cfg.acme.visible(self.tls) {
            caps.push(' ');
            caps.push_str(&crate::protocol::email_tls::imap_capability(&digest));
        }
        caps
    }

    async fn serve(&mut self) {
        let greeting = format!(
            "* OK [CAPABILITY {}] acmeproof IMAP ready",
            self.capabilities()
        );
        self.line(&greeting);
        loop {
            let flow = match self.read_command().await {
                Read::Command(bytes) => self.command(&bytes).await,
                Read::TooLong(tag) => {
                    self.record_in("<overlong command dropped>");
                    let tag = tag.unwrap_or_else(|| "*".into());
                    self.bad_line(&format!("{tag} BAD command line too long"));
                    Flow::Continue
                }
                Read::Answered(close) => {
                    if close {
                        Flow::Close
                    } else {
                        Flow::Continue
                    }
                }
                Read::Gone => return,
                Read::Timeout => {
                    self.line("* BYE Autologout; idle for too long");
                    Flow::Close
                }
                Read::Shutdown => {
                    self.line("* BYE server shutting down");
                    Flow::Close
                }
            };
            match flow {
                Flow::Continue => {}
                Flow::Close => break,
                Flow::StartTls => {
                    if !self.start_tls().await {
                        return;
                    }
                    continue;
                }
            }
            if self.bad >= MAX_BAD_COMMANDS {
                self.line("* BYE too many bad commands");
                break;
            }
        }
        // A client that stops reading cannot hold the task past the idle timeout.
        let _ = tokio::time::timeout(self.shared.config.idle_timeout, self.conn.close()).await;
    }

    fn record_in(&self, line: &str) {
        self.shared
            .transcript
            .record(self.conn_id, Direction::ClientToServer, line);
    }

    /// Queues a response line (flushed before the next read).
    fn line(&mut self, line: &str) {
        self.send(Resp::new(line));
    }

    fn send(&mut self, r: Resp) {
        self.shared
            .transcript
            .record(self.conn_id, Direction::ServerToClient, &r.shown);
        self.conn.queue(&r.wire);
        self.conn.queue(b"\r\n");
    }

    fn bad_line(&mut self, line: &str) {
        self.line(line);
        self.bad += 1;
    }

    fn ok(&mut self, tag: &str, text: &str) {
        self.line(&format!("{tag} OK {text}"));
        self.bad = 0;
    }

    /// One line with the idle timeout, or shutdown.
    async fn read_line(&mut self, max: usize) -> Result<Line, Read> {
        let idle = self.shared.config.idle_timeout;
        let conn = &mut self.conn;
        let stop = &mut self.stop;
        tokio::select! {
            read = tokio::time::timeout(idle, conn.read_line(max)) => match read {
                Ok(Ok(Some(line))) => Ok(line),
                Ok(Ok(None)) | Ok(Err(_)) => Err(Read::Gone),
                Err(_) => Err(Read::Timeout),
            },
            _ = stop.wait_for(|s| *s) => Err(Read::Shutdown),
        }
    }

    /// Reads a whole command: its lines and the literals between them.
    async fn read_command(&mut self) -> Read {
        let cfg = &self.shared.config;
        let (max_cmd, max_lit, idle) = (
            cfg.max_command_octets,
            cfg.max_literal_octets,
            cfg.idle_timeout,
        );
        let mut buf: Vec<u8> = Vec::new();
        let mut line_octets = 0usize;
        let mut literal_octets = 0u64;
        loop {
            let room = max_cmd.saturating_sub(line_octets);
            if room == 0 {
                return Read::TooLong(tag_of(&buf));
            }
            let line = match self.read_line(room).await {
                Ok(Line::Full(l)) => l,
                Ok(Line::TooLong { .. }) => {
                    return Read::TooLong(tag_of(&buf));
                }
                Err(r) => return r,
            };
            line_octets += line.len();
            let body = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(&line);
            buf.extend_from_slice(body);
            let Ok(Some((n, sync))) = parse::trailing_literal(body) else {
                // No literal, or a bad announcement (`{abc}`) the parser will refuse.
                return Read::Command(buf);
            };
            if literal_octets.saturating_add(n) > max_lit as u64 {
                return self.refuse_literal(&buf, n, sync).await;
            }
            if sync {
                if let Some(refusal) = self.refuse_before_literal(&buf) {
                    self.record_in(&shown(&buf));
                    self.bad_line(&refusal);
                    return Read::Answered(false);
                }
                self.line("+ Ready for literal data");
            }
            buf.extend_from_slice(b"\r\n");
            let read = tokio::time::timeout(idle, self.conn.read_exact(n as usize, Some(&mut buf)));
            match read.await {
                Ok(Ok(true)) => {}
                // Disconnected mid-literal: nothing to answer.
                Ok(Ok(false)) | Ok(Err(_)) => return Read::Gone,
                Err(_) => return Read::Timeout,
            }
            literal_octets += n;
        }
    }

    /// The answer to a command that is bad whatever its literal holds (no tag, an unknown
    /// command, any command but the greeting-state ones before login), sent instead of the
    /// continuation request: RFC 9051 §7.5 and RFC 3501 §7.5, the server sends BAD "to reject the
    /// command and prevent the client from sending any more of the command". Without this, the
    /// client's next line was taken as the literal of a command that could only fail.
    fn refuse_before_literal(&self, buf: &[u8]) -> Option<String> {
        match parse::command_head(buf) {
            Err(ParseError::NoTag) => Some("* BAD no tag or unreadable command".into()),
            Err(ParseError::Bad { tag, text }) => Some(format!("{tag} BAD {text}")),
            Ok((tag, verb)) => {
                let before_login = matches!(
                    verb.as_str(),
                    "CAPABILITY"
                        | "NOOP"
                        | "CHECK"
                        | "LOGOUT"
                        | "STARTTLS"
                        | "LOGIN"
                        | "AUTHENTICATE"
                );
                (self.user.is_none() && !before_login)
                    .then(|| format!("{tag} BAD please log in first"))
            }
        }
    }

    /// RFC 7889 TOOBIG: a synchronising literal is refused before the client sends it; a
    /// non-synchronising one is on its way and is dropped unread (or the connection closed).
    async fn refuse_literal(&mut self, buf: &[u8], n: u64, sync: bool) -> Read {
        self.record_in(&format!("<command with a literal of {n} octets refused>"));
        let tag = tag_of(buf).unwrap_or_else(|| "*".into());
        let answer = format!("{tag} BAD [TOOBIG] literal too large");
        if sync {
            self.bad_line(&answer);
            return Read::Answered(false);
        }
        if n > MAX_DISCARD_OCTETS {
            self.bad_line(&answer);
            self.line("* BYE literal too large");
            return Read::Answered(true);
        }
        let idle = self.shared.config.idle_timeout;
        match tokio::time::timeout(idle, self.conn.read_exact(n as usize, None)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) | Ok(Err(_)) => return Read::Gone,
            Err(_) => return Read::Timeout,
        }
        // The rest of the command line follows the literal; drop it too (bounded).
        match self.read_line(self.shared.config.max_command_octets).await {
            Ok(_) => {}
            Err(r) => return r,
        }
        self.bad_line(&answer);
        Read::Answered(false)
    }

    async fn command(&mut self, bytes: &[u8]) -> Flow {
        self.record_in(&shown(bytes));
        let cmd = match parse::parse(bytes) {
            Ok(c) => c,
            Err(ParseError::NoTag) => {
                self.bad_line("* BAD no tag or unreadable command");
                return Flow::Continue;
            }
            Err(ParseError::Bad { tag, text }) => {
                self.bad_line(&format!("{tag} BAD {text}"));
                return Flow::Continue;
            }
        };
        let Command { tag, kind } = cmd;
        match kind {
            Kind::Capability => {
                let caps = format!("* CAPABILITY {}", self.capabilities());
                self.line(&caps);
                self.ok(&tag, "CAPABILITY completed");
            }
            Kind::Noop | Kind::Check => {
                self.sync(true);
                self.ok(&tag, "completed");
            }
            Kind::Logout => {
                self.line("* BYE acmeproof IMAP logging out");
                self.ok(&tag, "LOGOUT completed");
                return Flow::Close;
            }
            Kind::StartTls => return self.starttls(&tag),
            Kind::Login { user, pass } => self.login(&tag, &user, &pass),
            Kind::Authenticate { mechanism, initial } => {
                return self.authenticate(&tag, &mechanism, initial).await;
            }
            _ if self.user.is_none() => {
                self.bad_line(&format!("{tag} BAD please log in first"));
            }
            Kind::Enable(caps) => {
                if caps.iter().any(|c| c.eq_ignore_ascii_case("UTF8=ACCEPT")) {
                    self.utf8 = true;
                    self.line("* ENABLED UTF8=ACCEPT");
                } else {
                    self.line("* ENABLED");
                }
                self.ok(&tag, "ENABLE completed");
            }
            Kind::Select { mailbox, read_only } => self.select(&tag, &mailbox, read_only),
            Kind::List {
                reference,
                pattern,
                lsub,
            } => self.list(&tag, &reference, &pattern, lsub),
            Kind::Status { mailbox, items } => self.status(&tag, &mailbox, &items),
            Kind::Idle => return self.idle(&tag).await,
            _ if self.selected.is_none() => {
                self.bad_line(&format!("{tag} BAD no mailbox selected"));
            }
            Kind::Search { uid, key } => self.search(&tag, uid, &key),
            Kind::Fetch { uid, set, items } => self.fetch(&tag, uid, &set, &items),
            Kind::Store {
                uid,
                set,
                mode,
                silent,
                flags,
            } => self.store(&tag, uid, &set, mode, silent, &flags),
            Kind::Expunge => self.expunge(&tag),
            Kind::Close => {
                if let Some(sel) = self.selected.take()
                    && !sel.read_only
                {
                    // RFC 3501 §6.4.2: CLOSE expunges silently.
                    let _ = self.shared.config.store.expunge(&self.user(), &sel.name);
                }
                self.ok(&tag, "CLOSE completed");
            }
            Kind::Unselect => {
                self.selected = None;
                self.ok(&tag, "UNSELECT completed");
            }
        }
        Flow::Continue
    }

    fn starttls(&mut self, tag: &str) -> Flow {
        if self.tls || self.shared.config.tls.is_none() {
            self.bad_line(&format!("{tag} BAD STARTTLS not available"));
            return Flow::Continue;
        }
        if self.user.is_some() {
            self.bad_line(&format!("{tag} BAD STARTTLS only before authentication"));
            return Flow::Continue;
        }
        if self.conn.has_buffered() {
            // crates.md pitfall 14 (CVE-2011-0411): plaintext pipelined after STARTTLS must
            // never be read as if it came over TLS. Refuse and close.
            self.bad_line(&format!("{tag} BAD commands pipelined after STARTTLS"));
            self.line("* BYE STARTTLS injection refused");
            return Flow::Close;
        }
        self.ok(tag, "Begin TLS negotiation now");
        Flow::StartTls
    }

    async fn start_tls(&mut self) -> bool {
        let Some(config) = self.shared.config.tls.clone() else {
            return false;
        };
        let placeholder = Conn::new(Box::new(tokio::io::join(
            tokio::io::empty(),
            tokio::io::sink(),
        )));
        let plain = std::mem::replace(&mut self.conn, placeholder);
        let idle = self.shared.config.idle_timeout;
        let Ok(Ok(stream)) = tokio::time::timeout(idle, plain.into_stream()).await else {
            return false;
        };
        let Some(tls) = io::handshake(config, stream, idle).await else {
            tracing::debug!(conn_id = self.conn_id, "IMAP STARTTLS handshake failed");
            return false;
        };
        self.conn = Conn::new(tls);
        self.tls = true;
        true
    }

    fn login_refused(&mut self, tag: &str) -> bool {
        if self.user.is_some() {
            self.bad_line(&format!("{tag} BAD already authenticated"));
            return true;
        }
        if self.shared.config.require_tls_for_login && !self.tls {
            self.line(&format!("{tag} NO [PRIVACYREQUIRED] use STARTTLS first"));
            return true;
        }
        false
    }

    fn login(&mut self, tag: &str, user: &str, pass: &str) {
        if self.login_refused(tag) {
            return;
        }
        self.finish_login(tag, user, pass, "LOGIN");
    }

    fn finish_login(&mut self, tag: &str, user: &str, pass: &str, verb: &str) {
        match self.shared.config.store.authenticate(user, pass) {
            Some(canonical) => {
                self.user = Some(canonical);
                let caps = self.capabilities();
                self.ok(tag, &format!("[CAPABILITY {caps}] {verb} completed"));
            }
            None => {
                self.line(&format!(
                    "{tag} NO [AUTHENTICATIONFAILED] authentication failed"
                ));
                self.bad += 1;
            }
        }
    }

    /// AUTHENTICATE PLAIN (RFC 4616) with SASL-IR (RFC 4959) or one `+ ` continuation.
    async fn authenticate(&mut self, tag: &str, mechanism: &str, initial: Option<String>) -> Flow {
        if self.login_refused(tag) {
            return Flow::Continue;
        }
        if mechanism != "PLAIN" {
            self.line(&format!("{tag} NO unsupported authentication mechanism"));
            return Flow::Continue;
        }
        let response = match initial {
            Some(ir) => ir,
            None => {
                self.line("+ ");
                let max = self.shared.config.max_command_octets;
                match self.read_line(max).await {
                    Ok(Line::Full(l)) => {
                        self.record_in("<redacted>");
                        String::from_utf8_lossy(&l).trim_end().to_owned()
                    }
                    Ok(Line::TooLong { .. }) => {
                        self.bad_line(&format!("{tag} BAD response too long"));
                        return Flow::Continue;
                    }
                    Err(Read::Timeout) => {
                        self.line("* BYE Autologout; idle for too long");
                        return Flow::Close;
                    }
                    Err(Read::Shutdown) => {
                        self.line("* BYE server shutting down");
                        return Flow::Close;
                    }
                    Err(_) => return Flow::Close,
                }
            }
        };
        let bytes = match auth::decode(&response) {
            Ok(auth::Response::Bytes(b)) => b,
            Ok(auth::Response::Cancel) => {
                self.bad_line(&format!("{tag} BAD authentication cancelled"));
                return Flow::Continue;
            }
            Err(_) => {
                self.bad_line(&format!("{tag} BAD cannot decode base64"));
                return Flow::Continue;
            }
        };
        match auth::plain(&bytes) {
            Ok((user, pass)) => self.finish_login(tag, &user, &pass, "AUTHENTICATE"),
            Err(_) => {
                self.line(&format!(
                    "{tag} NO [AUTHENTICATIONFAILED] authentication failed"
                ));
                self.bad += 1;
            }
        }
        Flow::Continue
    }

    fn user(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    fn select(&mut self, tag: &str, mailbox: &str, read_only: bool) {
        // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected.
        self.selected = None;
        let store = self.shared.config.store.clone();
        let user = self.user();
        let (Ok(removals), Ok(status), Ok(msgs)) = (
            store.removals(&user, mailbox),
            store.mailbox_status(&user, mailbox),
            store.snapshot(&user, mailbox),
        ) else {
            self.line(&format!("{tag} NO [NONEXISTENT] no such mailbox"));
            return;
        };
        let recent: BTreeSet<u32> = msgs.iter().filter(|m| m.recent).map(|m| m.uid).collect();
        if !read_only {
            // RFC 3501 §2.3.2: \Recent belongs to the first session that sees the message.
            let _ = store.clear_recent(&user, mailbox);
        }
        self.line(&format!("* FLAGS ({SYSTEM_FLAGS})"));
        if read_only {
            self.line("* OK [PERMANENTFLAGS ()] read-only");
        } else {
            self.line(&format!(
                "* OK [PERMANENTFLAGS ({SYSTEM_FLAGS} \\*)] flags permitted"
            ));
        }
        self.line(&format!("* {} EXISTS", msgs.len()));
        self.line(&format!("* {} RECENT", recent.len()));
        if let Some(i) = msgs.iter().position(|m| !m.has_flag("\\Seen")) {
            self.line(&format!("* OK [UNSEEN {}] first unseen", i + 1));
        }
        self.line(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid",
            status.uidvalidity
        ));
        self.line(&format!(
            "* OK [UIDNEXT {}] predicted next UID",
            status.uidnext
        ));
        let name = if mailbox.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_owned()
        } else {
            mailbox.to_owned()
        };
        self.selected = Some(Selected {
            name,
            read_only,
            uids: msgs.iter().map(|m| m.uid).collect(),
            recent,
            removals,
        });
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        self.ok(tag, &format!("[{code}] {verb} completed"));
    }

    fn list(&mut self, tag: &str, reference: &str, pattern: &str, lsub: bool) {
        let verb = if lsub { "LSUB" } else { "LIST" };
        if pattern.is_empty() {
            // RFC 3501 §6.3.8: an empty pattern asks for the hierarchy delimiter.
            self.line(&format!("* {verb} (\\Noselect) \"/\" \"\""));
            self.ok(tag, &format!("{verb} completed"));
            return;
        }
        let full = format!("{reference}{pattern}");
        let names = self
            .shared
            .config
            .store
            .list_mailboxes(&self.user())
            .unwrap_or_default();
        let cs = self.charset();
        for name in &names {
            let matched = if name == "INBOX" {
                wildcard(&full.to_ascii_uppercase(), name)
            } else {
                wildcard(&full, name)
            };
            if !matched {
                continue;
            }
            let prefix = format!("{name}/");
            let children = names.iter().any(|n| n.starts_with(&prefix));
            let attr = if children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            };
            let mut r = Resp::new(&format!("* {verb} ({attr}) \"/\" "));
            r.mailbox(name, cs);
            self.send(r);
        }
        self.ok(tag, &format!("{verb} completed"));
    }

    fn status(&mut self, tag: &str, mailbox: &str, items: &[StatusItem]) {
        let Ok(s) = self
            .shared
            .config
            .store
            .mailbox_status(&self.user(), mailbox)
        else {
            self.line(&format!("{tag} NO [NONEXISTENT] no such mailbox"));
            return;
        };
        let parts: Vec<String> = items
            .iter()
            .map(|i| match i {
                StatusItem::Messages => format!("MESSAGES {}", s.exists),
                StatusItem::Recent => format!("RECENT {}", s.recent),
                StatusItem::UidNext => format!("UIDNEXT {}", s.uidnext),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", s.uidvalidity),
                StatusItem::Unseen => format!("UNSEEN {}", s.unseen),
            })
            .collect();
        let mut r = Resp::new("* STATUS ");
        r.mailbox(mailbox, self.charset())
            .raw(&format!(" ({})", parts.join(" ")));
        self.send(r);
        self.ok(tag, "STATUS completed");
    }

    /// Brings the session's view up to date with the store: `* n EXPUNGE` (only when
    /// `expunges` may be sent, RFC 3501 §7.4.1), then `* n EXISTS` / `* n RECENT` for arrivals.
    /// Looks only at UIDs above the view's last one, and at the whole mailbox only when
    /// messages left it since the last report: a delivery costs an IDLE session O(log n).
    fn sync(&mut self, expunges: bool) {
        let store = self.shared.config.store.clone();
        let user = self.user();
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let last = sel.uids.last().copied().unwrap_or(0);
        let Ok(changes) = store.changes_since(&user, &sel.name, last, sel.removals) else {
            return;
        };
        let mut lines = Vec::new();
        if expunges {
            if let Some(present) = &changes.present {
                for i in (0..sel.uids.len()).rev() {
                    if !present.contains(&sel.uids[i]) {
                        lines.push(format!("* {} EXPUNGE", i + 1));
                        let uid = sel.uids.remove(i);
                        sel.recent.remove(&uid);
                    }
                }
            }
            sel.removals = changes.removals;
        }
        if !changes.new.is_empty() {
            let mut recent = Vec::new();
            for m in &changes.new {
                sel.uids.push(m.uid);
                if m.recent {
                    sel.recent.insert(m.uid);
                    recent.push(m.uid);
                }
            }
            if !sel.read_only && !recent.is_empty() {
                // RFC 3501 §2.3.2: \Recent belongs to the first session that sees the message.
                let _ = store.clear_recent_uids(&user, &sel.name, &recent);
            }
            lines.push(format!("* {} EXISTS", sel.uids.len()));
            lines.push(format!("* {} RECENT", sel.recent.len()));
        }
        for l in lines {
            self.line(&l);
        }
    }

    /// (sequence number, UID) of the view's messages in the set.
    fn resolve(&self, uid: bool, set: &SeqSet) -> Result<Vec<(u32, u32)>, String> {
        let Some(sel) = &self.selected else {
            return Ok(Vec::new());
        };
        let count = u32::try_from(sel.uids.len()).unwrap_or(u32::MAX);
        if !uid
            && set.0.iter().any(|&(a, b)| {
                [a, b]
                    .iter()
                    .any(|s| matches!(s, SeqNum::Num(n) if *n > count))
            })
        {
            return Err("invalid message sequence number".into());
        }
        let max_uid = sel.uids.last().copied().unwrap_or(0);
        Ok(sel
            .uids
            .iter()
            .enumerate()
            .map(|(i, &u)| (i as u32 + 1, u))
            .filter(|&(seq, u)| {
                if uid {
                    set.contains(u, max_uid)
                } else {
                    set.contains(seq, count)
                }
            })
            .collect())
    }

    /// The selected mailbox's messages now, by ascending UID (find one with [`by_uid`]).
    fn snapshot(&self) -> Vec<Arc<StoredMessage>> {
        let Some(sel) = &self.selected else {
            return Vec::new();
        };
        self.shared
            .config
            .store
            .snapshot(&self.user(), &sel.name)
            .unwrap_or_default()
    }

    fn search(&mut self, tag: &str, uid: bool, key: &parse::SearchKey) {
        self.sync(false);
        let msgs = self.snapshot();
        let Some(sel) = &self.selected else {
            return;
        };
        let max_seq = u32::try_from(sel.uids.len()).unwrap_or(u32::MAX);
        let max_uid = sel.uids.last().copied().unwrap_or(0);
        let mut hits = Vec::new();
        for (i, u) in sel.uids.iter().enumerate() {
            let Some(msg) = by_uid(&msgs, *u) else {
                continue;
            };
            let c = Candidate {
                seq: i as u32 + 1,
                msg,
                recent: sel.recent.contains(u),
                max_seq,
                max_uid,
            };
            if search::matches(key, &c) {
                hits.push(if uid { *u } else { c.seq }.to_string());
            }
        }
        let mut line = "* SEARCH".to_owned();
        for h in hits {
            line.push(' ');
            line.push_str(&h);
        }
        self.line(&line);
        self.ok(tag, "SEARCH completed");
    }

    fn fetch(&mut self, tag: &str, uid: bool, set: &SeqSet, items: &[FetchAtt]) {
        let targets = match self.resolve(uid, set) {
            Ok(t) => t,
            Err(e) => {
                self.bad_line(&format!("{tag} BAD {e}"));
                return;
            }
        };
        let msgs = self.snapshot();
        let store = self.shared.config.store.clone();
        let user = self.user();
        let cs = self.charset();
        let Some(sel) = &self.selected else { return };
        let (name, read_only) = (sel.name.clone(), sel.read_only);
        let recent = sel.recent.clone();
        let mut out = Vec::new();
        for (seq, u) in targets {
            let Some(msg) = by_uid(&msgs, u) else {
                continue;
            };
            let mut flags = msg.flags.clone();
            let mut changed = false;
            if fetch::sets_seen(items)
                && !read_only
                && !msg.has_flag("\\Seen")
                && let Ok(f) = store.add_flags(&user, &name, u, &["\\Seen"])
            {
                flags = f;
                changed = true;
            }
            let view = View {
                seq,
                msg,
                flags: &flags,
                recent: recent.contains(&u),
                charset: cs,
            };
            out.push(fetch::render(&view, items, uid, changed));
        }
        for r in out {
            self.send(r);
        }
        self.sync(false);
        self.ok(
            tag,
            &format!("{}FETCH completed", if uid { "UID " } else { "" }),
        );
    }

    fn store(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SeqSet,
        mode: StoreMode,
        silent: bool,
        flags: &[String],
    ) {
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.line(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
            return;
        }
        let targets = match self.resolve(uid, set) {
            Ok(t) => t,
            Err(e) => {
                self.bad_line(&format!("{tag} BAD {e}"));
                return;
            }
        };
        let store = self.shared.config.store.clone();
        let user = self.user();
        let Some(sel) = &self.selected else { return };
        let name = sel.name.clone();
        let recent = sel.recent.clone();
        let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for (seq, u) in targets {
            let result = match mode {
                StoreMode::Replace => store.set_flags(&user, &name, u, &refs),
                StoreMode::Add => store.add_flags(&user, &name, u, &refs),
                StoreMode::Remove => store.remove_flags(&user, &name, u, &refs),
            };
            match result {
                Ok(now) => {
                    if !silent {
                        let is_recent = recent.contains(&u).then_some("\\Recent");
                        let list = flag_list(now.iter().map(String::as_str).chain(is_recent));
                        let uid_part = if uid {
                            format!("UID {u} ")
                        } else {
                            String::new()
                        };
                        out.push(format!("* {seq} FETCH ({uid_part}FLAGS {list})"));
                    }
                }
                // Expunged meanwhile: skip it (RFC 3501 §6.4.6 leaves this to the server).
                Err(crate::mailstore::StoreError::NoSuchMessage(_)) => {}
                Err(e) => {
                    for l in out {
                        self.line(&l);
                    }
                    self.line(&format!("{tag} NO {e}"));
                    return;
                }
            }
        }
        for l in out {
            self.line(&l);
        }
        self.ok(tag, "STORE completed");
    }

    fn expunge(&mut self, tag: &str) {
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.line(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
            return;
        }
        let store = self.shared.config.store.clone();
        let user = self.user();
        let name = self
            .selected
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        if let Err(e) = store.expunge(&user, &name) {
            self.line(&format!("{tag} NO {e}"));
            return;
        }
        // Sends `* n EXPUNGE` highest first, so each number is valid as sent.
        self.sync(true);
        self.ok(tag, "EXPUNGE completed");
    }

    /// RFC 2177 IDLE: `+ idling`, then untagged updates as the store's events arrive (no
    /// polling), until `DONE`.
    async fn idle(&mut self, tag: &str) -> Flow {
        let mut events = self.shared.config.store.subscribe();
        self.line("+ idling");
        self.sync(true);
        let deadline = tokio::time::Instant::now() + self.shared.config.idle_timeout;
        let max = self.shared.config.max_command_octets;
        let user = self.user();
        loop {
            if self.conn.flush().await.is_err() {
                return Flow::Close;
            }
            let mailbox = self.selected.as_ref().map(|s| s.name.clone());
            let conn = &mut self.conn;
            let stop = &mut self.stop;
            enum Wake {
                Line(Option<Line>),
                Event(bool),
                Timeout,
                Shutdown,
                Gone,
            }
            let wake = tokio::select! {
                read = tokio::time::timeout_at(deadline, conn.read_line(max)) => match read {
                    Ok(Ok(Some(l))) => Wake::Line(Some(l)),
                    Ok(Ok(None)) | Ok(Err(_)) => Wake::Gone,
                    Err(_) => Wake::Timeout,
                },
                ev = events.recv() => Wake::Event(match ev {
                    Ok(StoreEvent::Delivered { user: u, mailbox: m, .. })
                    | Ok(StoreEvent::Expunged { user: u, mailbox: m, .. }) => {
                        u == user && Some(m) == mailbox
                    }
                    Ok(_) => false,
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => false,
                }),
                _ = stop.wait_for(|s| *s) => Wake::Shutdown,
            };
            match wake {
                Wake::Event(true) => self.sync(true),
                Wake::Event(false) => {}
                Wake::Line(Some(Line::Full(l))) => {
                    let text = String::from_utf8_lossy(&l);
                    let text = text.trim_end();
                    self.record_in(text);
                    if text.eq_ignore_ascii_case("DONE") {
                        self.ok(tag, "IDLE terminated");
                    } else {
                        self.bad_line(&format!("{tag} BAD expected DONE"));
                    }
                    return Flow::Continue;
                }
                Wake::Line(_) => {
                    self.bad_line(&format!("{tag} BAD expected DONE"));
                    return Flow::Continue;
                }
                Wake::Timeout => {
                    self.line("* BYE Autologout; idle for too long");
                    return Flow::Close;
                }
                Wake::Shutdown => {
                    self.line("* BYE server shutting down");
                    return Flow::Close;
                }
                Wake::Gone => return Flow::Close,
            }
        }
    }
}

/// The message with this UID in a snapshot (ascending UIDs).
fn by_uid(msgs: &[Arc<StoredMessage>], uid: u32) -> Option<&StoredMessage> {
    let i = msgs.binary_search_by_key(&uid, |m| m.uid).ok()?;
    Some(&msgs[i])
}

/// The transcript form of a command: LOGIN and AUTHENTICATE secrets redacted, literals shown as
/// their announcement only, bounded.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut words = text.splitn(3, ' ');
    let (tag, verb) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if verb.eq_ignore_ascii_case("LOGIN") {
        return format!("{tag} {verb} <redacted>");
    }
    if verb.eq_ignore_ascii_case("AUTHENTICATE") {
        let mech = words.next().unwrap_or("").split(' ').next().unwrap_or("");
        return format!("{tag} {verb} {mech} <redacted>");
    }
    let mut s: String = text.replace("\r\n", "⏎").chars().take(1000).collect();
    if text.chars().count() > 1000 {
        s.push('…');
    }
    s
}

/// RFC 3501 §6.3.8 wildcards: `*` matches anything, `%` anything but the delimiter `/`.
fn wildcard(pattern: &str, name: &str) -> bool {
    // Dynamic programming over (pattern, name) prefixes: O(p·n), no backtracking blow-up.
    let p: Vec<char> = pattern.chars().take(512).collect();
    let n: Vec<char> = name.chars().collect();
    // row[j]: pattern[..i] matches name[..j].
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' => {
                let mut any = false;
                for j in 0..=n.len() {
                    any |= row[j];
                    next[j] = any;
                }
            }
            '%' => {
                let mut any = false;
                for j in 0..=n.len() {
                    if j > 0 && n[j - 1] == '/' {
                        any = false;
                    }
                    any |= row[j];
                    next[j] = any;
                }
            }
            c => {
                for j in 1..=n.len() {
                    next[j] = row[j - 1] && n[j - 1] == c;
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards() {
        assert!(wildcard("*", "INBOX"));
        assert!(wildcard("%", "Archive"));
        assert!(!wildcard("%", "Archive/2024"));
        assert!(wildcard("Archive/%", "Archive/2024"));
        assert!(wildcard("IN*", "INBOX"));
        assert!(!wildcard("Sent", "INBOX"));
    }

    #[test]
    fn transcript_redaction() {
        assert_eq!(shown(b"a1 LOGIN alice secret"), "a1 LOGIN <redacted>");
        assert_eq!(
            shown(b"a2 AUTHENTICATE PLAIN AGFAYg=="),
            "a2 AUTHENTICATE PLAIN <redacted>"
        );
        assert_eq!(shown(b"a3 SELECT INBOX"), "a3 SELECT INBOX");
    }
}
