//! Parsing one complete IMAP command (RFC 3501 §9 grammar, the subset we serve) from the octets
//! the session assembled: the command line with any literals (`{n}` / `{n+}`, RFC 7888) inlined
//! as `{n}CRLF<n octets>`. Pure; bounded recursion.

/// Deepest nesting of search keys (`NOT`, `OR`, parentheses) we parse; deeper is a syntax error,
/// so a long `NOT NOT NOT …` cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    pub(crate) tag: String,
    pub(crate) kind: Kind,
}

/// What a command asks for. `uid` marks the `UID` forms (RFC 3501 §6.4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Capability,
    Noop,
    Check,
    Logout,
    StartTls,
    Login {
        user: String,
        pass: String,
    },
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    Enable(Vec<String>),
    Select {
        mailbox: String,
        read_only: bool,
    },
    List {
        reference: String,
        pattern: String,
        lsub: bool,
    },
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    Search {
        uid: bool,
        key: SearchKey,
    },
    Fetch {
        uid: bool,
        set: SeqSet,
        items: Vec<FetchAtt>,
    },
    Store {
        uid: bool,
        set: SeqSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
    },
    Expunge,
    /// RFC 4315 UID EXPUNGE: only the `\Deleted` messages in the set.
    UidExpunge(SeqSet),
    Close,
    Unselect,
    Idle,
    Namespace,
    Create {
        mailbox: String,
    },
    Delete {
        mailbox: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Subscribe {
        mailbox: String,
    },
    Unsubscribe {
        mailbox: String,
    },
    /// COPY (RFC 3501 §6.4.7) or, with `moving`, MOVE (RFC 6851).
    Copy {
        uid: bool,
        set: SeqSet,
        mailbox: String,
        moving: bool,
    },
    /// RFC 3501 §6.3.11.
    Append {
        mailbox: String,
        flags: Vec<String>,
        date: Option<time::OffsetDateTime>,
        message: Vec<u8>,
    },
}

/// Why a command did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// No usable tag: answered with an untagged `* BAD`.
    NoTag,
    /// Tagged syntax error or unknown command: `tag BAD text`.
    Bad { tag: String, text: String },
    /// Well formed but refused: `tag NO text` (an unknown SEARCH charset, RFC 3501 §6.4.4:
    /// "a tagged NO response with the [BADCHARSET] response code").
    No { tag: String, text: String },
}

/// `STATUS` data items (RFC 3501 §6.3.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
}

/// `STORE` modes (RFC 3501 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// One end of a range: a number or `*` (the largest in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqNum {
    Num(u32),
    Star,
}

/// `sequence-set` (RFC 3501 §9): ranges, each `a`, `a:b`, `*`, `a:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeqSet(pub(crate) Vec<(SeqNum, SeqNum)>);

impl SeqSet {
    /// Whether `n` is in the set when `*` stands for `largest` (RFC 3501 §9: `a:b` is the same
    /// as `b:a`).
    pub(crate) fn contains(&self, n: u32, largest: u32) -> bool {
        let v = |s: SeqNum| match s {
            SeqNum::Num(x) => x,
            SeqNum::Star => largest,
        };
        self.0.iter().any(|&(a, b)| {
            let (a, b) = (v(a), v(b));
            a.min(b) <= n && n <= a.max(b)
        })
    }
}

/// A `BODY[section]` (RFC 3501 §6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Section {
    Full,
    Header,
    Text,
    HeaderFields {
        not: bool,
        names: Vec<String>,
    },
    /// The MIME header of a part (`1.2.MIME`); only after a part number.
    Mime,
    /// A part (`1.2`, each number from 1) and what of it: `Full` is its body, `Mime` its MIME
    /// header, the others apply to the message a `message/rfc822` part encapsulates.
    Part(Vec<u32>, Box<Section>),
}

/// A fetch data item (RFC 3501 §6.4.5); the macros are expanded at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FetchAtt {
    Flags,
    Uid,
    InternalDate,
    Rfc822Size,
    Envelope,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    /// `BODY` or `BODYSTRUCTURE` (extensible).
    BodyStructure {
        extensible: bool,
    },
    Body {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
}

/// A search key (RFC 3501 §6.4.4), the subset we serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchKey {
    All,
    /// Has (`true`) or lacks the flag.
    Flag(String, bool),
    New,
    Old,
    Recent,
    /// A header field contains the string (case-insensitive, decoded).
    Header(String, String),
    Body(String),
    Text(String),
    Larger(u32),
    Smaller(u32),
    Uid(SeqSet),
    Seq(SeqSet),
    /// BEFORE / ON / SINCE (the internal date) and SENTBEFORE / SENTON / SENTSINCE (the Date
    /// field), compared as dates only (RFC 3501 §6.4.4: "disregarding time and timezone").
    Date {
        sent: bool,
        cmp: DateCmp,
        date: time::Date,
    },
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    And(Vec<SearchKey>),
}

/// How a date search key compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateCmp {
    Before,
    On,
    Since,
}

/// The charsets SEARCH takes (RFC 3501 §6.4.4: US-ASCII MUST be supported; UTF-8 is what
/// UTF8=ACCEPT clients send).
pub(crate) const SEARCH_CHARSETS: &str = "US-ASCII UTF-8";

/// Parses one command (without its final CRLF).
pub(crate) fn parse(input: &[u8]) -> Result<Command, ParseError> {
    let mut p = P { b: input, i: 0 };
    let tag = p.tag().ok_or(ParseError::NoTag)?;
    let bad = |text: &str| ParseError::Bad {
        tag: tag.clone(),
        text: text.to_owned(),
    };
    if !p.eat(b' ') {
        return Err(bad("missing command"));
    }
    let kind = match p.command() {
        Ok(kind) => kind,
        Err(e) => {
            return Err(match e.strip_prefix(REFUSED) {
                Some(text) => ParseError::No {
                    tag,
                    text: text.to_owned(),
                },
                None => bad(&e),
            });
        }
    };
    if p.i != p.b.len() {
        return Err(bad("unexpected characters after the command"));
    }
    Ok(Command { tag, kind })
}

/// An error text with this prefix is a refusal (tagged NO), not a syntax error.
const REFUSED: &str = "\u{0}NO ";

/// The commands [`parse`] knows, `UID` aside (see [`UID_COMMANDS`]).
const COMMANDS: &[&str] = &[
    "CAPABILITY",
    "NOOP",
    "CHECK",
    "LOGOUT",
    "STARTTLS",
    "EXPUNGE",
    "CLOSE",
    "UNSELECT",
    "IDLE",
    "LOGIN",
    "AUTHENTICATE",
    "ENABLE",
    "SELECT",
    "EXAMINE",
    "LIST",
    "LSUB",
    "STATUS",
    "SEARCH",
    "FETCH",
    "STORE",
    "UID",
    "NAMESPACE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "COPY",
    "MOVE",
    "APPEND",
];

/// The commands that have a `UID` form (RFC 3501 §6.4.8, RFC 4315 §2.1, RFC 6851 §3.1).
const UID_COMMANDS: &[&str] = &["SEARCH", "FETCH", "STORE", "COPY", "MOVE", "EXPUNGE"];

/// Checks the start of a command whose line ends in a synchronising literal, before the server
/// invites the literal: no tag, no command, or an unknown command is refused now (RFC 9051
/// §7.5: the server sends BAD "to reject the command and prevent the client from sending any
/// more of the command"). Returns the tag and the upper-cased command name otherwise.
pub(crate) fn command_head(prefix: &[u8]) -> Result<(String, String), ParseError> {
    let mut p = P { b: prefix, i: 0 };
    let tag = p.tag().ok_or(ParseError::NoTag)?;
    let bad = |text: String| ParseError::Bad {
        tag: tag.clone(),
        text,
    };
    if !p.eat(b' ') {
        return Err(bad("missing command".into()));
    }
    let verb = p.atom().map_err(&bad)?.to_ascii_uppercase();
    if !COMMANDS.contains(&verb.as_str()) {
        return Err(bad(format!("unknown command {verb}")));
    }
    if verb == "UID" {
        p.sp().map_err(&bad)?;
        let sub = p.atom().map_err(&bad)?.to_ascii_uppercase();
        if !UID_COMMANDS.contains(&sub.as_str()) {
            return Err(bad(format!("UID {sub} is not supported")));
        }
    }
    Ok((tag, verb))
}

/// The mailbox of an APPEND whose message literal is announced at the end of `prefix`
/// (`tag APPEND mailbox …`), when it can be read already.
pub(crate) fn append_mailbox(prefix: &[u8]) -> Option<String> {
    let mut p = P { b: prefix, i: 0 };
    p.tag()?;
    p.sp().ok()?;
    p.atom().ok().filter(|v| v.eq_ignore_ascii_case("APPEND"))?;
    p.sp().ok()?;
    p.astring().ok()
}

type R<T> = Result<T, String>;

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

/// RFC 3501 §9 `ATOM-CHAR`: any CHAR except atom-specials.
fn atom_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn sp(&mut self) -> R<()> {
        if self.eat(b' ') {
            Ok(())
        } else {
            Err("expected a space".into())
        }
    }

    /// RFC 3501 §9: `tag = 1*<any ASTRING-CHAR except "+">`, and `ASTRING-CHAR = ATOM-CHAR /
    /// resp-specials` (`]`).
    fn tag(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| (atom_char(c) || c == b']') && c != b'+')
        {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        Some(String::from_utf8_lossy(&self.b[start..self.i]).into_owned())
    }

    /// Bytes while `ok`; at least one.
    fn take_while(&mut self, ok: impl Fn(u8) -> bool, what: &str) -> R<&str> {
        let start = self.i;
        while self.peek().is_some_and(&ok) {
            self.i += 1;
        }
        if self.i == start {
            return Err(format!("expected {what}"));
        }
        // Only ASCII predicates are used, so this is valid UTF-8.
        std::str::from_utf8(&self.b[start..self.i]).map_err(|_| format!("bad {what}"))
    }

    fn atom(&mut self) -> R<String> {
        self.take_while(atom_char, "an atom").map(str::to_owned)
    }

    /// `astring`: atom (with `]`), quoted string or literal; UTF-8 required.
    fn astring(&mut self) -> R<String> {
        let bytes = match self.peek() {
            Some(b'"') => self.quoted()?,
            Some(b'{') => self.literal()?,
            _ => self
                .take_while(|c| atom_char(c) || c == b']', "a string")?
                .as_bytes()
                .to_vec(),
        };
        String::from_utf8(bytes).map_err(|_| "string is not UTF-8".into())
    }

    /// `list-mailbox`: like astring but `%` and `*` allowed.
    fn list_mailbox(&mut self) -> R<String> {
        match self.peek() {
            Some(b'"' | b'{') => self.astring(),
            _ => self
                .take_while(
                    |c| atom_char(c) || matches!(c, b']' | b'%' | b'*'),
                    "a mailbox pattern",
                )
                .map(str::to_owned),
        }
    }

    fn quoted(&mut self) -> R<Vec<u8>> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n' | 0) => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(c),
                        _ => return Err("bad escape in quoted string".into()),
                    }
                    self.i += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `{n}` / `{n+}` CRLF then n octets (the session has already read them in).
    fn literal(&mut self) -> R<Vec<u8>> {
        let (n, end) = literal_header(&self.b[self.i..]).ok_or("bad literal")?;
        let start = self.i + end;
        let stop = start.checked_add(n).ok_or("bad literal")?;
        let bytes = self
            .b
            .get(start..stop)
            .ok_or("literal shorter than announced")?;
        // RFC 3501 §9: `literal = "{" number "}" CRLF *CHAR8` and `CHAR8 = %x01-ff ; any OCTET
        // except NUL, %x00`.
        if bytes.contains(&0) {
            return Err("NUL in a literal".into());
        }
        self.i = stop;
        Ok(bytes.to_vec())
    }

    fn number(&mut self) -> R<u32> {
        self.take_while(|c| c.is_ascii_digit(), "a number")?
            .parse()
            .map_err(|_| "number out of range".into())
    }

    fn nz_number(&mut self) -> R<u32> {
        match self.number()? {
            0 => Err("zero is not a valid number here".into()),
            n => Ok(n),
        }
    }

    fn seq_num(&mut self) -> R<SeqNum> {
        if self.eat(b'*') {
            Ok(SeqNum::Star)
        } else {
            self.nz_number().map(SeqNum::Num)
        }
    }

    fn seq_set(&mut self) -> R<SeqSet> {
        let mut ranges = Vec::new();
        loop {
            let a = self.seq_num()?;
            let b = if self.eat(b':') { self.seq_num()? } else { a };
            ranges.push((a, b));
            if !self.eat(b',') {
                return Ok(SeqSet(ranges));
            }
        }
    }

    fn command(&mut self) -> R<Kind> {
        let verb = self.atom()?.to_ascii_uppercase();
        let no_args = |k: Kind| Ok(k);
        match verb.as_str() {
            "CAPABILITY" => no_args(Kind::Capability),
            "NOOP" => no_args(Kind::Noop),
            "CHECK" => no_args(Kind::Check),
            "LOGOUT" => no_args(Kind::Logout),
            "STARTTLS" => no_args(Kind::StartTls),
            "EXPUNGE" => no_args(Kind::Expunge),
            "CLOSE" => no_args(Kind::Close),
            "UNSELECT" => no_args(Kind::Unselect),
            "IDLE" => no_args(Kind::Idle),
            "NAMESPACE" => no_args(Kind::Namespace),
            "CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" => {
                self.sp()?;
                let mailbox = self.astring()?;
                Ok(match verb.as_str() {
                    "CREATE" => Kind::Create { mailbox },
                    "DELETE" => Kind::Delete { mailbox },
                    "SUBSCRIBE" => Kind::Subscribe { mailbox },
                    _ => Kind::Unsubscribe { mailbox },
                })
            }
            "RENAME" => {
                self.sp()?;
                let from = self.astring()?;
                self.sp()?;
                let to = self.astring()?;
                Ok(Kind::Rename { from, to })
            }
            "COPY" | "MOVE" => self.copy(false, verb == "MOVE"),
            "APPEND" => self.append(),
            "LOGIN" => {
                self.sp()?;
                let user = self.astring()?;
                self.sp()?;
                let pass = self.astring()?;
                Ok(Kind::Login { user, pass })
            }
            "AUTHENTICATE" => {
                self.sp()?;
                let mechanism = self.atom()?.to_ascii_uppercase();
                let initial = if self.eat(b' ') {
                    Some(
                        self.take_while(
                            |c| c.is_ascii_alphanumeric() || b"+/=".contains(&c),
                            "base64",
                        )?
                        .to_owned(),
                    )
                } else {
                    None
                };
                Ok(Kind::Authenticate { mechanism, initial })
            }
            "ENABLE" => {
                let mut caps = Vec::new();
                while self.eat(b' ') {
                    caps.push(self.atom()?);
                }
                if caps.is_empty() {
                    return Err("ENABLE needs a capability".into());
                }
                Ok(Kind::Enable(caps))
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.astring()?;
                Ok(Kind::Select {
                    mailbox,
                    read_only: verb == "EXAMINE",
                })
            }
            "LIST" | "LSUB" => {
                self.sp()?;
                let reference = self.astring()?;
                self.sp()?;
                let pattern = self.list_mailbox()?;
                Ok(Kind::List {
                    reference,
                    pattern,
                    lsub: verb == "LSUB",
                })
            }
            "STATUS" => {
                self.sp()?;
                let mailbox = self.astring()?;
                self.sp()?;
                Ok(Kind::Status {
                    mailbox,
                    items: self.status_items()?,
                })
            }
            "SEARCH" => self.search(false),
            "FETCH" => self.fetch(false),
            "STORE" => self.store(false),
            "UID" => {
                self.sp()?;
                let sub = self.atom()?.to_ascii_uppercase();
                match sub.as_str() {
                    "SEARCH" => self.search(true),
                    "FETCH" => self.fetch(true),
                    "STORE" => self.store(true),
                    "COPY" | "MOVE" => self.copy(true, sub == "MOVE"),
                    "EXPUNGE" => {
                        self.sp()?;
                        Ok(Kind::UidExpunge(self.seq_set()?))
                    }
                    _ => Err(format!("UID {sub} is not supported")),
                }
            }
            _ => Err(format!("unknown command {verb}")),
        }
    }

    fn status_items(&mut self) -> R<Vec<StatusItem>> {
        if !self.eat(b'(') {
            return Err("expected ( before status items".into());
        }
        let mut items = Vec::new();
        loop {
            let item = match self.atom()?.to_ascii_uppercase().as_str() {
                "MESSAGES" => StatusItem::Messages,
                "RECENT" => StatusItem::Recent,
                "UIDNEXT" => StatusItem::UidNext,
                "UIDVALIDITY" => StatusItem::UidValidity,
                "UNSEEN" => StatusItem::Unseen,
                other => return Err(format!("unknown status item {other}")),
            };
            items.push(item);
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }

    fn search(&mut self, uid: bool) -> R<Kind> {
        self.sp()?;
        let save = self.i;
        if self.atom().is_ok_and(|a| a.eq_ignore_ascii_case("CHARSET")) {
            self.sp()?;
            let charset = self.astring()?;
            if !charset.eq_ignore_ascii_case("UTF-8") && !charset.eq_ignore_ascii_case("US-ASCII") {
                // RFC 3501 §6.4.4: "If the server does not support the specified [CHARSET],
                // it MUST return a tagged NO response (not a BAD)", with the charsets it has.
                return Err(format!(
                    "{REFUSED}[BADCHARSET ({SEARCH_CHARSETS})] charset not supported"
                ));
            }
            self.sp()?;
        } else {
            self.i = save;
        }
        let mut keys = vec![self.search_key(0)?];
        while self.eat(b' ') {
            keys.push(self.search_key(0)?);
        }
        Ok(Kind::Search {
            uid,
            key: and(keys),
        })
    }

    fn search_key(&mut self, depth: usize) -> R<SearchKey> {
        if depth > MAX_DEPTH {
            return Err("search keys nested too deeply".into());
        }
        if self.eat(b'(') {
            let mut keys = vec![self.search_key(depth + 1)?];
            while self.eat(b' ') {
                keys.push(self.search_key(depth + 1)?);
            }
            if !self.eat(b')') {
                return Err("unbalanced parentheses".into());
            }
            return Ok(and(keys));
        }
        if matches!(self.peek(), Some(b'0'..=b'9' | b'*')) {
            return self.seq_set().map(SearchKey::Seq);
        }
        let word = self.atom()?.to_ascii_uppercase();
        let flag = |f: &str, has: bool| Ok(SearchKey::Flag(f.to_owned(), has));
        match word.as_str() {
            "ALL" => Ok(SearchKey::All),
            "SEEN" => flag("\\Seen", true),
            "UNSEEN" => flag("\\Seen", false),
            "ANSWERED" => flag("\\Answered", true),
            "UNANSWERED" => flag("\\Answered", false),
            "DELETED" => flag("\\Deleted", true),
            "UNDELETED" => flag("\\Deleted", false),
            "FLAGGED" => flag("\\Flagged", true),
            "UNFLAGGED" => flag("\\Flagged", false),
            "DRAFT" => flag("\\Draft", true),
            "UNDRAFT" => flag("\\Draft", false),
            "NEW" => Ok(SearchKey::New),
            "OLD" => Ok(SearchKey::Old),
            "RECENT" => Ok(SearchKey::Recent),
            "KEYWORD" | "UNKEYWORD" => {
                self.sp()?;
                let k = self.atom()?;
                Ok(SearchKey::Flag(k, word == "KEYWORD"))
            }
            "SUBJECT" | "FROM" | "TO" | "CC" | "BCC" => {
                self.sp()?;
                Ok(SearchKey::Header(word.clone(), self.astring()?))
            }
            "HEADER" => {
                self.sp()?;
                let name = self.astring()?;
                self.sp()?;
                Ok(SearchKey::Header(name, self.astring()?))
            }
            "BODY" => {
                self.sp()?;
                Ok(SearchKey::Body(self.astring()?))
            }
            "TEXT" => {
                self.sp()?;
                Ok(SearchKey::Text(self.astring()?))
            }
            "LARGER" => {
                self.sp()?;
                Ok(SearchKey::Larger(self.number()?))
            }
            "SMALLER" => {
                self.sp()?;
                Ok(SearchKey::Smaller(self.number()?))
            }
            "UID" => {
                self.sp()?;
                Ok(SearchKey::Uid(self.seq_set()?))
            }
            "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
                self.sp()?;
                let date = self.date()?;
                let cmp = match word.trim_start_matches("SENT") {
                    "BEFORE" => DateCmp::Before,
                    "ON" => DateCmp::On,
                    _ => DateCmp::Since,
                };
                Ok(SearchKey::Date {
                    sent: word.starts_with("SENT"),
                    cmp,
                    date,
                })
            }
            "NOT" => {
                self.sp()?;
                Ok(SearchKey::Not(Box::new(self.search_key(depth + 1)?)))
            }
            "OR" => {
                self.sp()?;
                let a = self.search_key(depth + 1)?;
                self.sp()?;
                let b = self.search_key(depth + 1)?;
                Ok(SearchKey::Or(Box::new(a), Box::new(b)))
            }
            other => Err(format!("search key {other} is not supported")),
        }
    }

    fn fetch(&mut self, uid: bool) -> R<Kind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mut items = Vec::new();
        if self.eat(b'(') {
            loop {
                self.fetch_att(&mut items, false)?;
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            self.fetch_att(&mut items, true)?;
        }
        Ok(Kind::Fetch { uid, set, items })
    }

    fn fetch_att(&mut self, items: &mut Vec<FetchAtt>, macros: bool) -> R<()> {
        let name = self
            .take_while(|c| atom_char(c) && c != b'[' && c != b'<', "a fetch item")?
            .to_ascii_uppercase();
        let simple = match name.as_str() {
            "FLAGS" => Some(FetchAtt::Flags),
            "UID" => Some(FetchAtt::Uid),
            "INTERNALDATE" => Some(FetchAtt::InternalDate),
            "RFC822.SIZE" => Some(FetchAtt::Rfc822Size),
            "ENVELOPE" => Some(FetchAtt::Envelope),
            "RFC822" => Some(FetchAtt::Rfc822),
            "RFC822.HEADER" => Some(FetchAtt::Rfc822Header),
            "RFC822.TEXT" => Some(FetchAtt::Rfc822Text),
            "BODYSTRUCTURE" => Some(FetchAtt::BodyStructure { extensible: true }),
            _ => None,
        };
        if let Some(att) = simple {
            items.push(att);
            return Ok(());
        }
        let fast = [
            FetchAtt::Flags,
            FetchAtt::InternalDate,
            FetchAtt::Rfc822Size,
        ];
        match name.as_str() {
            "ALL" | "FAST" | "FULL" if macros => {
                items.extend(fast);
                if name != "FAST" {
                    items.push(FetchAtt::Envelope);
                }
                if name == "FULL" {
                    items.push(FetchAtt::BodyStructure { extensible: false });
                }
                Ok(())
            }
            "BODY" if self.peek() != Some(b'[') => {
                items.push(FetchAtt::BodyStructure { extensible: false });
                Ok(())
            }
            "BODY" | "BODY.PEEK" => {
                if !self.eat(b'[') {
                    return Err("expected [ after BODY.PEEK".into());
                }
                let section = self.section()?;
                let partial = if self.eat(b'<') {
                    let start = self.number()?;
                    if !self.eat(b'.') {
                        return Err("expected . in partial".into());
                    }
                    let count = self.nz_number()?;
                    if !self.eat(b'>') {
                        return Err("expected > after partial".into());
                    }
                    Some((start, count))
                } else {
                    None
                };
                items.push(FetchAtt::Body {
                    peek: name == "BODY.PEEK",
                    section,
                    partial,
                });
                Ok(())
            }
            other => Err(format!("fetch item {other} is not supported")),
        }
    }

    fn section(&mut self) -> R<Section> {
        if self.eat(b']') {
            return Ok(Section::Full);
        }
        let mut spec = self
            .take_while(|c| c.is_ascii_alphanumeric() || c == b'.', "a section")?
            .to_ascii_uppercase();
        // RFC 3501 §6.4.5: `section-part` is nz-numbers joined by dots, then maybe a text part.
        let mut part = Vec::new();
        while spec.starts_with(|c: char| c.is_ascii_digit()) {
            let (number, rest) = match spec.split_once('.') {
                Some((_, "")) => return Err("a section ends with a dot".into()),
                Some(split) => split,
                None => (spec.as_str(), ""),
            };
            let n: u32 = number
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or("bad section part number")?;
            if part.len() >= MAX_DEPTH {
                return Err("section parts nested too deeply".into());
            }
            part.push(n);
            spec = rest.to_owned();
            if spec.is_empty() {
                break;
            }
        }
        if !part.is_empty() && spec.is_empty() {
            if !self.eat(b']') {
                return Err("expected ] after section".into());
            }
            return Ok(Section::Part(part, Box::new(Section::Full)));
        }
        let section = match spec.as_str() {
            "MIME" if !part.is_empty() => Section::Mime,
            "HEADER" => Section::Header,
            "TEXT" => Section::Text,
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                self.sp()?;
                if !self.eat(b'(') {
                    return Err("expected ( before header names".into());
                }
                let mut names = vec![self.astring()?];
                while self.eat(b' ') {
                    names.push(self.astring()?);
                }
                if !self.eat(b')') {
                    return Err("unbalanced parentheses".into());
                }
                Section::HeaderFields {
                    not: spec.ends_with(".NOT"),
                    names,
                }
            }
            other => return Err(format!("unknown section {other}")),
        };
        if !self.eat(b']') {
            return Err("expected ] after section".into());
        }
        if part.is_empty() {
            Ok(section)
        } else {
            Ok(Section::Part(part, Box::new(section)))
        }
    }

    /// `COPY`/`MOVE sequence-set mailbox`.
    fn copy(&mut self, uid: bool, moving: bool) -> R<Kind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mailbox = self.astring()?;
        Ok(Kind::Copy {
            uid,
            set,
            mailbox,
            moving,
        })
    }

    /// `APPEND mailbox [SP flag-list] [SP date-time] SP literal` (RFC 3501 §9).
    fn append(&mut self) -> R<Kind> {
        self.sp()?;
        let mailbox = self.astring()?;
        self.sp()?;
        let mut flags = Vec::new();
        if self.eat(b'(') {
            if !self.eat(b')') {
                loop {
                    flags.push(self.flag()?);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
            self.sp()?;
        }
        let date = if self.peek() == Some(b'"') {
            let d = self.date_time()?;
            self.sp()?;
            Some(d)
        } else {
            None
        };
        if self.peek() != Some(b'{') {
            return Err("APPEND needs the message as a literal".into());
        }
        let message = self.literal()?;
        Ok(Kind::Append {
            mailbox,
            flags,
            date,
            message,
        })
    }

    /// `date` (RFC 3501 §9): `d-Mon-yyyy`, bare or quoted.
    fn date(&mut self) -> R<time::Date> {
        let quoted = self.eat(b'"');
        let text = self.take_while(|c| c.is_ascii_alphanumeric() || c == b'-', "a date")?;
        let date = parse_date(text).ok_or_else(|| format!("bad date {text}"))?;
        if quoted && !self.eat(b'"') {
            return Err("unterminated date".into());
        }
        Ok(date)
    }

    /// `date-time` (RFC 3501 §9): `"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day maybe space-padded.
    fn date_time(&mut self) -> R<time::OffsetDateTime> {
        let text = String::from_utf8(self.quoted()?).map_err(|_| "bad date-time")?;
        parse_date_time(&text).ok_or_else(|| format!("bad date-time {text:?}"))
    }

    fn store(&mut self, uid: bool) -> R<Kind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mode = if self.eat(b'+') {
            StoreMode::Add
        } else if self.eat(b'-') {
            StoreMode::Remove
        } else {
            StoreMode::Replace
        };
        let item = self.atom()?.to_ascii_uppercase();
        let silent = match item.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            other => return Err(format!("unknown store item {other}")),
        };
        self.sp()?;
        let mut flags = Vec::new();
        if self.eat(b'(') {
            if !self.eat(b')') {
                loop {
                    flags.push(self.flag()?);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
        } else {
            flags.push(self.flag()?);
            while self.eat(b' ') {
                flags.push(self.flag()?);
            }
        }
        Ok(Kind::Store {
            uid,
            set,
            mode,
            silent,
            flags,
        })
    }

    fn flag(&mut self) -> R<String> {
        let backslash = self.eat(b'\\');
        let atom = self.atom()?;
        Ok(if backslash { format!("\\{atom}") } else { atom })
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// `d-Mon-yyyy` (month name case-insensitive).
fn parse_date(text: &str) -> Option<time::Date> {
    let mut it = text.split('-');
    let (day, month, year) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || day.is_empty() || day.len() > 2 || year.len() != 4 {
        return None;
    }
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .and_then(|i| time::Month::try_from(i as u8 + 1).ok())?;
    let day: u8 = day.parse().ok()?;
    let year: i32 = year.parse().ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}

/// `dd-Mon-yyyy hh:mm:ss +zzzz`.
fn parse_date_time(text: &str) -> Option<time::OffsetDateTime> {
    let text = text.strip_prefix(' ').unwrap_or(text);
    let (date, rest) = text.split_once(' ')?;
    let (clock, zone) = rest.split_once(' ')?;
    let date = parse_date(date)?;
    let mut hms = clock
        .split(':')
        .map(|p| (p.len() == 2).then(|| p.parse::<u8>().ok()).flatten());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() {
        return None;
    }
    let time = time::Time::from_hms(h, m, s).ok()?;
    let (sign, digits) = zone.split_at_checked(1)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i8 = digits[..2].parse().ok()?;
    let minutes: i8 = digits[2..].parse().ok()?;
    let (hours, minutes) = match sign {
        "+" => (hours, minutes),
        "-" => (-hours, -minutes),
        _ => return None,
    };
    let offset = time::UtcOffset::from_hms(hours, minutes, 0).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_offset(offset))
}

fn and(mut keys: Vec<SearchKey>) -> SearchKey {
    if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    }
}

/// At `{n}` or `{n+}` followed by CRLF: `(n, header length incl. CRLF)`.
fn literal_header(b: &[u8]) -> Option<(usize, usize)> {
    let close = b.iter().position(|&c| c == b'}')?;
    let inner = b.get(1..close)?;
    let digits = inner.strip_suffix(b"+").unwrap_or(inner);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    if b.get(close + 1..close + 3)? != b"\r\n" {
        return None;
    }
    Some((n, close + 3))
}

/// A literal announced at the end of a command line (without its CRLF): `(n, synchronising)`.
/// `Err(())` when the line ends in `}` but the announcement is not a valid literal (`{abc}`).
pub(crate) fn trailing_literal(line: &[u8]) -> Result<Option<(u64, bool)>, ()> {
    if line.last() != Some(&b'}') {
        return Ok(None);
    }
    let open = line.iter().rposition(|&c| c == b'{').ok_or(())?;
    let inner = &line[open + 1..line.len() - 1];
    let (digits, sync) = match inner.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (inner, true),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    let n = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or(())?;
    Ok(Some((n, sync)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Run: cargo test -p acmeproof-mocks --lib imap::parse (256 cases each; more with
        // PROPTEST_CASES=100000).

        /// Any octets parse or are refused; a refusal carries the command's own tag (so the
        /// answer is `tag BAD`/`tag NO`) or none (`* BAD`); never a panic.
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            match parse(&b) {
                Ok(c) => prop_assert!(b.starts_with(c.tag.as_bytes())),
                Err(ParseError::Bad { tag, .. } | ParseError::No { tag, .. }) => {
                    prop_assert!(b.starts_with(tag.as_bytes()));
                }
                Err(ParseError::NoTag) => {}
            }
        }

        /// Text-like commands too (the octets above rarely make a known verb).
        #[test]
        fn commands_never_panic(
            tag in "[a-zA-Z0-9]{1,8}",
            verb in "(UID )?(FETCH|SEARCH|STORE|COPY|MOVE|SELECT|APPEND|LIST|STATUS|LOGIN|RENAME)",
            rest in "[ -~]{0,80}",
        ) {
            let _ = parse(format!("{tag} {verb} {rest}").as_bytes());
        }

        /// Mailbox names round-trip as quoted strings and as literals (RFC 3501 §4.3, §4.5).
        #[test]
        fn mailbox_names_round_trip(
            tag in "[a-zA-Z0-9]{1,8}",
            name in "[a-zA-Z0-9 /._\\\\\"-]{1,30}",
            literal in any::<bool>(),
        ) {
            let arg = if literal {
                format!("{{{}+}}\r\n{name}", name.len())
            } else {
                format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
            };
            let cmd = parse(format!("{tag} CREATE {arg}").as_bytes()).unwrap();
            prop_assert_eq!(cmd.tag, tag);
            prop_assert_eq!(cmd.kind, Kind::Create { mailbox: name });
        }

        /// A sequence set of numbers and ranges comes back as written.
        #[test]
        fn sequence_sets_round_trip(ranges in proptest::collection::vec((1u32..1_000_000, 1u32..1_000_000), 1..6)) {
            let text: Vec<String> = ranges
                .iter()
                .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") })
                .collect();
            let cmd = parse(format!("t UID FETCH {} (UID)", text.join(",")).as_bytes()).unwrap();
            let Kind::Fetch { uid: true, set, .. } = cmd.kind else {
                panic!("a UID FETCH");
            };
            let want: Vec<(SeqNum, SeqNum)> =
                ranges.iter().map(|&(a, b)| (SeqNum::Num(a), SeqNum::Num(b))).collect();
            prop_assert_eq!(set.0, want);
        }
    }

    fn kind(s: &str) -> Kind {
        parse(s.as_bytes()).unwrap().kind
    }

    fn bad(s: &[u8]) -> ParseError {
        parse(s).unwrap_err()
    }

    #[test]
    fn login_with_quoted_and_literal() {
        assert_eq!(
            kind("a1 LOGIN \"al\\\"ice\" {3}\r\np w"),
            Kind::Login {
                user: "al\"ice".into(),
                pass: "p w".into()
            }
        );
        assert_eq!(
            kind("a LOGIN {3+}\r\nδx pw"),
            Kind::Login {
                user: "δx".into(),
                pass: "pw".into()
            }
        );
    }

    #[test]
    fn sequence_sets() {
        let Kind::Fetch { set, uid, .. } = kind("t UID FETCH 1:3,7,9:* FLAGS") else {
            panic!()
        };
        assert!(uid);
        assert!(set.contains(2, 20) && set.contains(7, 20) && set.contains(20, 20));
        assert!(!set.contains(5, 20) && !set.contains(8, 20));
        let s = SeqSet(vec![(SeqNum::Star, SeqNum::Num(4))]);
        assert!(s.contains(4, 6) && s.contains(6, 6) && !s.contains(3, 6));
        assert!(matches!(bad(b"t FETCH 0 FLAGS"), ParseError::Bad { .. }));
    }

    #[test]
    fn fetch_items_and_macros() {
        let Kind::Fetch { items, .. } =
            kind("t FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT From)]<0.100> BODY[])")
        else {
            panic!()
        };
        assert_eq!(
            items,
            vec![
                FetchAtt::Uid,
                FetchAtt::Body {
                    peek: true,
                    section: Section::HeaderFields {
                        not: false,
                        names: vec!["SUBJECT".into(), "From".into()]
                    },
                    partial: Some((0, 100))
                },
                FetchAtt::Body {
                    peek: false,
                    section: Section::Full,
                    partial: None
                },
            ]
        );
        let Kind::Fetch { items, .. } = kind("t FETCH 1 fast") else {
            panic!()
        };
        assert_eq!(items.len(), 3);
        assert!(parse(b"t FETCH 1 (FAST)").is_err(), "macros only alone");
        let Kind::Fetch { items, .. } =
            kind("t FETCH 1 (BODY[1.2] BODY.PEEK[2.MIME] BODY[3.HEADER.FIELDS (X)])")
        else {
            panic!()
        };
        assert_eq!(
            items[0],
            FetchAtt::Body {
                peek: false,
                section: Section::Part(vec![1, 2], Box::new(Section::Full)),
                partial: None
            }
        );
        assert!(
            matches!(&items[1], FetchAtt::Body { section: Section::Part(p, inner), .. } if *p == vec![2] && **inner == Section::Mime)
        );
        assert!(
            matches!(&items[2], FetchAtt::Body { section: Section::Part(_, inner), .. } if matches!(**inner, Section::HeaderFields { .. }))
        );
        for bad in [
            "BODY[0]",
            "BODY[1.0]",
            "BODY[MIME]",
            "BODY[1.]",
            "BODY[1.FOO]",
            "BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28.29.30.31.32.33]",
        ] {
            assert!(
                parse(format!("t FETCH 1 {bad}").as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn search_keys() {
        let Kind::Search { key, .. } = kind("t SEARCH CHARSET UTF-8 UNSEEN SUBJECT \"ACME\"")
        else {
            panic!()
        };
        assert_eq!(
            key,
            SearchKey::And(vec![
                SearchKey::Flag("\\Seen".into(), false),
                SearchKey::Header("SUBJECT".into(), "ACME".into())
            ])
        );
        let Kind::Search { key, .. } = kind("t SEARCH OR FROM a FROM b") else {
            panic!()
        };
        assert!(matches!(key, SearchKey::Or(..)));
        let Kind::Search { key, .. } = kind("t SEARCH (NOT SEEN 1:*) HEADER Auto-Submitted acme")
        else {
            panic!()
        };
        assert!(matches!(key, SearchKey::And(ref v) if v.len() == 2));
        assert!(parse(b"t SEARCH (SEEN").is_err());
        assert!(parse(b"t SEARCH SEEN)").is_err());
        let deep = format!("t SEARCH {}ALL", "NOT ".repeat(10_000));
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(b"t SEARCH CHARSET KOI8-R ALL").is_err());
    }

    #[test]
    fn store_forms() {
        assert_eq!(
            kind("t STORE 1:2 +FLAGS.SILENT (\\Deleted \\Seen)"),
            Kind::Store {
                uid: false,
                set: SeqSet(vec![(SeqNum::Num(1), SeqNum::Num(2))]),
                mode: StoreMode::Add,
                silent: true,
                flags: vec!["\\Deleted".into(), "\\Seen".into()]
            }
        );
        assert!(matches!(
            kind("t UID STORE 5 FLAGS \\Seen"),
            Kind::Store {
                uid: true,
                mode: StoreMode::Replace,
                ..
            }
        ));
    }

    #[test]
    fn bad_input() {
        assert_eq!(bad(b""), ParseError::NoTag);
        assert_eq!(bad(b"\xff\xfe garbage"), ParseError::NoTag);
        assert!(matches!(bad(b"t FROB"), ParseError::Bad { ref tag, .. } if tag == "t"));
        assert!(parse(b"t LOGIN {abc}\r\nxyz p").is_err());
        assert!(parse(b"t LOGIN {10}\r\nabc").is_err(), "short literal");
        assert!(parse(b"t LOGIN \"a\xff\" p").is_err(), "not UTF-8");
        assert!(parse(b"t NOOP extra").is_err());
    }

    #[test]
    fn command_heads_before_a_literal() {
        assert_eq!(
            command_head(b"a LOGIN {5}"),
            Ok(("a".into(), "LOGIN".into()))
        );
        assert_eq!(
            command_head(b"a uid search SUBJECT {5}"),
            Ok(("a".into(), "UID".into()))
        );
        assert_eq!(command_head(b"{5}"), Err(ParseError::NoTag));
        assert_eq!(command_head(b"\xff {5}"), Err(ParseError::NoTag));
        let bad = |text: &str| {
            Err(ParseError::Bad {
                tag: "a".into(),
                text: text.into(),
            })
        };
        assert_eq!(
            command_head(b"a XAPPEND INBOX {5}"),
            bad("unknown command XAPPEND")
        );
        assert_eq!(
            command_head(b"a UID THREAD 1 {5}"),
            bad("UID THREAD is not supported")
        );
        assert_eq!(
            command_head(b"a APPEND INBOX {5}"),
            Ok(("a".into(), "APPEND".into()))
        );
        assert_eq!(
            append_mailbox(b"a APPEND \"Sent Items\" (\\Seen) {5}").as_deref(),
            Some("Sent Items")
        );
        assert_eq!(
            append_mailbox(b"a APPEND {5}"),
            None,
            "the name is the literal"
        );
        assert_eq!(append_mailbox(b"a COPY 1 x {5}"), None);
        // Every name on the list is one the parser takes (here: it does not call it unknown).
        for verb in COMMANDS {
            let line = format!("a {verb}");
            if let Err(ParseError::Bad { text, .. }) = parse(line.as_bytes()) {
                assert!(!text.starts_with("unknown command"), "{verb}: {text}");
            }
        }
    }

    #[test]
    fn trailing_literals() {
        assert_eq!(trailing_literal(b"a LOGIN {12}"), Ok(Some((12, true))));
        assert_eq!(trailing_literal(b"a LOGIN {12+}"), Ok(Some((12, false))));
        assert_eq!(trailing_literal(b"a LOGIN x"), Ok(None));
        assert_eq!(trailing_literal(b"a LOGIN {abc}"), Err(()));
        assert_eq!(trailing_literal(b"a LOGIN }"), Err(()));
    }
}
