//! One connection: NotAuthenticated → Authenticated → Selected → Logout (RFC 3501 §3), command
//! assembly with literals and limits, and the dispatch of each command.
//!
//! ```text
//!   mod.rs        the line core's Protocol (greeting, BYE on the ends), reading a command with
//!                 its literals, dispatch, sync
//!   login.rs      STARTTLS, LOGIN, AUTHENTICATE
//!   mailboxes.rs  SELECT/EXAMINE, LIST/LSUB, STATUS, CREATE, DELETE, RENAME, (UN)SUBSCRIBE,
//!                 NAMESPACE
//!   messages.rs   SEARCH, FETCH, STORE, COPY/MOVE, EXPUNGE, CLOSE, APPEND, IDLE
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use super::parse::{self, Command, Kind, ParseError, SeqNum, SeqSet};
use super::response::{Charset, Resp};
use super::{MAX_DISCARD_OCTETS, Shared};
use crate::line::{Accepted, End, Flow, Line, Link, Opening, Protocol, open_and_serve};
use crate::mailstore::{StoreError, StoredMessage};

mod login;
mod mailboxes;
mod messages;

/// What reading a command produced.
enum Input {
    /// The command's octets without the final CRLF, literals inlined as `{n}CRLF<octets>`.
    Command(Vec<u8>),
    /// Over `max_command_octets`; the tag if one could be read.
    TooLong(Option<String>),
    /// Already answered (a refused literal); `true` to close.
    Answered(bool),
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
    link: Link,
    user: Option<String>,
    selected: Option<Selected>,
    utf8: bool,
}

/// Serves one accepted connection to the end.
pub(crate) async fn run(shared: Arc<Shared>, accepted: Accepted) {
    let cfg = &shared.config;
    let opening = Opening::new(
        &shared.transcript,
        cfg.tls.as_ref(),
        cfg.implicit_tls,
        cfg.idle_timeout,
    );
    open_and_serve(accepted, opening, |link| Session {
        shared,
        link,
        user: None,
        selected: None,
        utf8: false,
    })
    .await;
}

impl Protocol for Session {
    type Input = Input;

    fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    fn greet(&mut self) {
        let greeting = format!(
            "* OK [CAPABILITY {}] acmeproof IMAP ready",
            self.capabilities()
        );
        self.line(&greeting);
    }

    async fn read(&mut self) -> Result<Input, End> {
        self.read_command().await
    }

    async fn handle(&mut self, input: Input) -> Flow {
        match input {
            Input::Command(bytes) => self.command(&bytes).await,
            Input::TooLong(tag) => {
                self.record_in("<overlong command dropped>");
                let tag = tag.unwrap_or_else(|| "*".into());
                self.bad_line(&format!("{tag} BAD command line too long"));
                Flow::Continue
            }
            Input::Answered(true) => Flow::Close,
            Input::Answered(false) => Flow::Continue,
        }
    }

    fn on_timeout(&mut self) {
        // RFC 3501 §5.4: the autologout timer; the server sends BYE before it closes.
        self.line("* BYE Autologout; idle for too long");
    }

    fn on_shutdown(&mut self) {
        self.line("* BYE server shutting down");
    }

    fn on_too_many_errors(&mut self) {
        self.line("* BYE too many bad commands");
    }

    fn tls_started(&mut self) {
        // Nothing to forget: STARTTLS is refused after login (RFC 3501 §6.2.1), and the
        // client asks for CAPABILITY again itself.
    }
}

/// The tag at the start of a command (or of the first octets of one), if it has one: a tag
/// followed by a space.
fn tag_of(bytes: &[u8]) -> Option<String> {
    match parse::command_head(bytes) {
        Ok((tag, _)) | Err(ParseError::Bad { tag, .. } | ParseError::No { tag, .. }) => Some(tag),
        Err(ParseError::NoTag) => None,
    }
}

/// The RFC 3501 answer to a store refusal: `NO`, with `[TRYCREATE]` when the target mailbox
/// does not exist (§6.3.11, §6.4.7), `[NONEXISTENT]`/`[ALREADYEXISTS]`/`[CANNOT]`/`[LIMIT]`/
/// `[OVERQUOTA]` (RFC 5530) where they fit.
fn store_refusal(tag: &str, error: &StoreError, trycreate: bool) -> String {
    let code = match error {
        StoreError::NoSuchMailbox { .. } if trycreate => "[TRYCREATE] ",
        StoreError::NoSuchMailbox { .. } | StoreError::NotSelectable(_) => "[NONEXISTENT] ",
        StoreError::MailboxExists(_) => "[ALREADYEXISTS] ",
        StoreError::InboxNotDeletable
        | StoreError::HasInferiors(_)
        | StoreError::BadMailboxName(_)
        | StoreError::NotSubscribed(_) => "[CANNOT] ",
        StoreError::TooManyMailboxes(_) | StoreError::MailboxFull { .. } => "[LIMIT] ",
        StoreError::StoreFull { .. } => "[OVERQUOTA] ",
        StoreError::MessageTooLarge { .. } => "[TOOBIG] ",
        _ => "",
    };
    // The store's texts start with "mailstore: "; the client needs the rest.
    let text = error.to_string();
    let text = text.strip_prefix("mailstore: ").unwrap_or(&text);
    format!("{tag} NO {code}{text}")
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
            "NAMESPACE",
            "UIDPLUS",
            "MOVE",
            "CHILDREN",
        ];
        let login_disabled = cfg.require_tls_for_login && !self.link.tls();
        if login_disabled {
            caps.push("LOGINDISABLED");
        } else {
            caps.push("AUTH=PLAIN");
        }
        if self.link.offers_tls() {
            caps.push("STARTTLS");
        }
        let mut caps = caps.join(" ");
        // RFC 7889: the largest message APPEND takes.
        caps.push_str(&format!(" APPENDLIMIT={}", cfg.max_append_octets));
        // draft-ietf-acme-email-tls-05 §3.4: the digest "as a value of the "ACME" IMAP
        // capability", in the greeting's CAPABILITY response code and in CAPABILITY.
        if let Some(digest) = cfg.acme.visible(self.link.tls()) {
            caps.push(' ');
            caps.push_str(&crate::protocol::email_tls::imap_capability(&digest));
        }
        caps
    }

    fn record_in(&self, line: &str) {
        self.link.record_in(line);
    }

    /// Queues a response line (flushed before the next read).
    fn line(&mut self, line: &str) {
        self.send(Resp::new(line));
    }

    fn send(&mut self, r: Resp) {
        self.link.send_shown(&r.shown, r.wire);
    }

    /// Inside a command whose answer can be large (FETCH): when the unsent output is over the
    /// high water mark, waits (bounded by the idle timeout) until the client has read it.
    /// `false` when the client is gone or reads nothing: the command stops there.
    async fn drain(&mut self) -> bool {
        let idle = self.shared.config.idle_timeout;
        self.link.drain(idle).await
    }

    fn bad_line(&mut self, line: &str) {
        self.line(line);
        self.link.count_bad();
    }

    fn ok(&mut self, tag: &str, text: &str) {
        self.line(&format!("{tag} OK {text}"));
        self.link.reset_bad();
    }

    /// One line with the idle timeout, or shutdown.
    async fn read_line(&mut self, max: usize) -> Result<Line, End> {
        let idle = self.idle_timeout();
        self.link.read_line(max, idle).await
    }

    /// The autologout timer now: the shorter login timeout until the client has logged in (it
    /// bounds how long idle connections can hold the slots of the connection cap).
    fn idle_timeout(&self) -> std::time::Duration {
        let cfg = &self.shared.config;
        if self.user.is_none() {
            cfg.login_timeout.min(cfg.idle_timeout)
        } else {
            cfg.idle_timeout
        }
    }

    /// Reads a whole command: its lines and the literals between them.
    async fn read_command(&mut self) -> Result<Input, End> {
        let cfg = &self.shared.config;
        let (max_cmd, max_lit) = (cfg.max_command_octets, cfg.max_literal_octets);
        let idle = self.idle_timeout();
        let mut buf: Vec<u8> = Vec::new();
        let mut line_octets = 0usize;
        let mut literal_octets = 0u64;
        loop {
            let room = max_cmd.saturating_sub(line_octets);
            if room == 0 {
                return Ok(Input::TooLong(tag_of(&buf)));
            }
            let line = match self.read_line(room).await {
                Ok(Line::Full(l)) => l,
                Ok(Line::TooLong { head, .. }) => {
                    // The tag is in the first line: in what came before a literal, or in the
                    // kept head of this one, when a space shows the tag ended inside it.
                    if !buf.is_empty() {
                        return Ok(Input::TooLong(tag_of(&buf)));
                    }
                    let tag = head.contains(&b' ').then(|| tag_of(&head)).flatten();
                    return Ok(Input::TooLong(tag));
                }
                Err(end) => return Err(end),
            };
            line_octets += line.len();
            let body = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(&line);
            buf.extend_from_slice(body);
            let Ok(Some((n, sync))) = parse::trailing_literal(body) else {
                // No literal, or a bad announcement (`{abc}`) the parser will refuse.
                return Ok(Input::Command(buf));
            };
            let append = is_append(&buf);
            // APPEND carries a whole message in one literal (RFC 7889 APPENDLIMIT); its other
            // literals (a mailbox name) have the usual allowance.
            let max_append = self.shared.config.max_append_octets as u64;
            let over = if append {
                n > max_append || literal_octets.saturating_add(n) > max_append + max_lit as u64
            } else {
                literal_octets.saturating_add(n) > max_lit as u64
            };
            if over {
                return self.refuse_literal(&buf, n, sync, append).await;
            }
            if sync {
                if let Some(refusal) = self.refuse_before_literal(&buf) {
                    self.record_in(&shown(&buf));
                    self.bad_line(&refusal);
                    return Ok(Input::Answered(false));
                }
                self.line("+ Ready for literal data");
            }
            buf.extend_from_slice(b"\r\n");
            self.link
                .read_exact(n as usize, Some(&mut buf), idle)
                .await?;
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
            Err(ParseError::Bad { tag, text } | ParseError::No { tag, text }) => {
                Some(format!("{tag} BAD {text}"))
            }
            Ok((tag, verb)) if verb == "APPEND" && self.user.is_some() => {
                // RFC 3501 §6.3.11: a message for a mailbox that does not exist is refused with
                // [TRYCREATE]; say so before the client sends the message.
                let mailbox = parse::append_mailbox(buf)?;
                let store = &self.shared.config.store;
                match store.mailbox_status(&self.user(), &mailbox) {
                    Ok(_) => None,
                    Err(e) => Some(store_refusal(&tag, &e, true)),
                }
            }
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

    /// A literal over the limit: a synchronising literal is refused before the client sends it;
    /// a non-synchronising one is on its way and is dropped unread (or the connection closed).
    /// The answer carries TOOBIG: `NO` for an APPEND over APPENDLIMIT (RFC 7889 §4), `BAD` for
    /// any other command, which cannot be read without its literal.
    async fn refuse_literal(
        &mut self,
        buf: &[u8],
        n: u64,
        sync: bool,
        append: bool,
    ) -> Result<Input, End> {
        self.record_in(&format!("<command with a literal of {n} octets refused>"));
        let tag = tag_of(buf).unwrap_or_else(|| "*".into());
        let answer = if append {
            format!("{tag} NO [TOOBIG] message larger than APPENDLIMIT")
        } else {
            format!("{tag} BAD [TOOBIG] literal too large")
        };
        if sync {
            self.bad_line(&answer);
            return Ok(Input::Answered(false));
        }
        if n > MAX_DISCARD_OCTETS {
            self.bad_line(&answer);
            self.line("* BYE literal too large");
            return Ok(Input::Answered(true));
        }
        let idle = self.shared.config.idle_timeout;
        self.link.read_exact(n as usize, None, idle).await?;
        // The rest of the command line follows the literal; drop it too (bounded).
        self.read_line(self.shared.config.max_command_octets)
            .await?;
        self.bad_line(&answer);
        Ok(Input::Answered(false))
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
            Err(ParseError::No { tag, text }) => {
                self.line(&format!("{tag} NO {text}"));
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
            Kind::Namespace => self.namespace(&tag),
            Kind::Create { mailbox } => self.create(&tag, &mailbox),
            Kind::Delete { mailbox } => self.delete(&tag, &mailbox),
            Kind::Rename { from, to } => self.rename(&tag, &from, &to),
            Kind::Subscribe { mailbox } => self.subscribe(&tag, &mailbox, true),
            Kind::Unsubscribe { mailbox } => self.subscribe(&tag, &mailbox, false),
            Kind::Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(&tag, &mailbox, &flags, date, message),
            _ if self.selected.is_none() => {
                self.bad_line(&format!("{tag} BAD no mailbox selected"));
            }
            Kind::Search { uid, key } => self.search(&tag, uid, &key),
            Kind::Fetch { uid, set, items } => return self.fetch(&tag, uid, &set, &items).await,
            Kind::Store {
                uid,
                set,
                mode,
                silent,
                flags,
            } => self.store(&tag, uid, &set, mode, silent, &flags),
            Kind::Copy {
                uid,
                set,
                mailbox,
                moving,
            } => self.copy(&tag, uid, &set, &mailbox, moving),
            Kind::Expunge => self.expunge(&tag, None),
            Kind::UidExpunge(set) => self.expunge(&tag, Some(&set)),
            Kind::Close => self.close(&tag),
            Kind::Unselect => {
                self.selected = None;
                self.ok(&tag, "UNSELECT completed");
            }
        }
        Flow::Continue
    }

    fn user(&self) -> String {
        self.user.clone().unwrap_or_default()
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
}

/// The message with this UID in a snapshot (ascending UIDs).
fn by_uid(msgs: &[Arc<StoredMessage>], uid: u32) -> Option<&StoredMessage> {
    let i = msgs.binary_search_by_key(&uid, |m| m.uid).ok()?;
    Some(&msgs[i])
}

/// Whether the command being read is an APPEND (its literal may be a whole message).
fn is_append(buf: &[u8]) -> bool {
    matches!(parse::command_head(buf), Ok((_, verb)) if verb == "APPEND")
}

/// The transcript form of a command: LOGIN and AUTHENTICATE secrets redacted, literals inlined
/// (an APPEND's message too), bounded to its first 1000 characters.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
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
    if bytes.len() > 4096 || text.chars().count() > 1000 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
