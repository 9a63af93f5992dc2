//! The IMAP server's hand-written command parser next to imap-codec's server-side decoder
//! (`CommandCodec`): throughput on the same inputs, and agreement on the mail bad-input corpus.
//!
//! ```text
//! cargo run --release -p acmeproof-mocks --example imap_parse_compare
//! ```
//!
//! Both parsers get the same wire bytes: one whole command, CRLF and literal data included.
//! Ours runs as the session runs it (lines assembled with their literals, then `parse`); the
//! figure therefore includes that assembly. imap-codec decodes the bytes in one call. A corpus
//! input is compared by outcome only: accepted, refused, or waiting for more data (a literal
//! announced but not sent). Session rules (login state, line and literal limits, mailbox
//! existence) are not parser rules and are not compared.

// A report printer: its output is the figures.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use acmeproof_mocks::imap::probe::{Verdict, parse_command};
use imap_codec::CommandCodec;
use imap_codec::decode::{CommandDecodeError, Decoder};

/// The corpus: `target<TAB>input<TAB>expected`, escapes `\r`, `\n`, `\t`, `\\`, `\xHH`.
const CORPUS: &str = include_str!("../tests/corpus/mail.txt");

/// Each timed phase runs whole rounds over its inputs until at least this long has passed.
const TIMED: Duration = Duration::from_secs(2);
/// Untimed rounds first (code paged in, allocator warm).
const WARM_UP_ROUNDS: usize = 200;

/// The message a mail client appends to "Sent".
const MESSAGE: &str = "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.net>\r\n\
Subject: Quarterly report\r\nDate: Sun, 6 Dec 2026 14:00:00 +0000\r\n\
Message-ID: <q4-report@example.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nHi Bob,\r\n\r\nthe figures are attached.\r\n";

/// A mail client's session, as Thunderbird-like clients send it.
fn mua_commands() -> Vec<Vec<u8>> {
    let mut c: Vec<Vec<u8>> = [
        "a1 CAPABILITY",
        "a2 LOGIN \"alice@example.test\" \"s3cret pass\"",
        "a3 ENABLE UTF8=ACCEPT",
        "a4 LIST \"\" \"*\"",
        "a5 STATUS \"Archive\" (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)",
        "a6 SELECT \"INBOX\"",
        "a7 UID FETCH 1:* (FLAGS)",
        "a8 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO CC BCC \
         SUBJECT DATE MESSAGE-ID PRIORITY X-PRIORITY REFERENCES NEWSGROUPS IN-REPLY-TO \
         CONTENT-TYPE REPLY-TO)])",
        "a9 UID SEARCH UNSEEN SINCE 1-Dec-2026",
        "a10 UID SEARCH FROM \"alice\" SUBJECT \"report\"",
        "a11 UID FETCH 42 (UID RFC822.SIZE BODY.PEEK[])",
        "a12 UID STORE 42 +FLAGS (\\Seen)",
        "a13 UID MOVE 42 \"Archive\"",
        "a14 IDLE",
        "a16 NOOP",
        "a17 LOGOUT",
    ]
    .iter()
    .map(|l| format!("{l}\r\n").into_bytes())
    .collect();
    let append = format!(
        "a15 APPEND \"Sent\" (\\Seen) {{{}}}\r\n{MESSAGE}\r\n",
        MESSAGE.len()
    );
    c.insert(14, append.into_bytes());
    c
}

/// Inputs at the edges of the RFC 3501 grammar that the corpus does not hold, each with its
/// outcome by the grammar (`true`: a command). Compared like the corpus, and checked against
/// the grammar, so a disagreement says which parser is wrong.
const EDGES: &[(&[u8], bool)] = &[
    // header-list = "(" header-fld-name *(SP header-fld-name) ")"
    (b"e1 FETCH 1 BODY[HEADER.FIELDS ()]\r\n", false),
    // fetch = ... "(" fetch-att *(SP fetch-att) ")"
    (b"e2 FETCH 1 ()\r\n", false),
    (b"e3 FETCH 1 FULL\r\n", true),
    (b"e4 FETCH 1 BODY[1.2.HEADER]\r\n", true),
    // section-partial = "<" number "." nz-number ">"
    (b"e5 FETCH 1 BODY[]<0.0>\r\n", false),
    (
        b"e6 FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Received)]<0.100>\r\n",
        true,
    ),
    (b"e7 STORE 1 FLAGS.SILENT (\\Seen \\Flagged)\r\n", true),
    // store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
    (b"e8 STORE 1 +FLAGS \\Seen\r\n", true),
    (b"e9 SEARCH 1:3,5 NOT DELETED\r\n", true),
    (b"e10 SEARCH OR (FROM a) (TO b)\r\n", true),
    // date = date-text / DQUOTE date-text DQUOTE
    (b"e11 SEARCH SINCE \"6-Dec-2026\"\r\n", true),
    // CHARSET comes first (search = "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key))
    (b"e12 SEARCH TEXT x CHARSET UTF-8\r\n", false),
    (
        b"e13 SEARCH CHARSET UTF-8 SUBJECT {3+}\r\n\xc3\xbcb\r\n",
        true,
    ),
    (b"e14 LIST \"\" %\r\n", true),
    (b"e15 LIST \"\" INBOX*\r\n", true),
    (b"e16 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n", true),
    (b"e17 SELECT \"INB\\\"OX\"\r\n", true),
    (b"e18 CREATE \"\"\r\n", true),
    (b"e19 noop\r\n", true),
    (b"e20 NOOP \r\n", false),
    (b"e21  NOOP\r\n", false),
    // tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR includes "]"
    (b"e22+ NOOP\r\n", false),
    (b"e23] NOOP\r\n", true),
    (
        b"e24 APPEND INBOX \" 6-Dec-2026 14:00:00 +0000\" {3}\r\nabc\r\n",
        true,
    ),
    (b"e25 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n", true),
    // literal = "{" number "}" CRLF *CHAR8; CHAR8 = %x01-ff (no NUL)
    (b"e26 LOGIN {1}\r\n\x00 x\r\n", false),
    (b"e27 UID SEARCH UID 1:*\r\n", true),
    (
        b"e28 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n",
        true,
    ),
    // number = 1*DIGIT; nz-number excludes a leading zero
    (b"e29 FETCH 01 FLAGS\r\n", false),
    (b"e30 UID EXPUNGE 1:3,7\r\n", true),
];

/// The corpus inputs sent to the IMAP server (targets `imap` and `imap-new`).
fn corpus_inputs() -> Vec<Vec<u8>> {
    CORPUS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (target, input) = (f.next()?, f.next()?);
            target.starts_with("imap").then(|| unescape(input))
        })
        .collect()
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let (octet, used) = match b[i + 1] {
                b'r' => (b'\r', 2),
                b'n' => (b'\n', 2),
                b't' => (b'\t', 2),
                b'\\' => (b'\\', 2),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("zz");
                    match u8::from_str_radix(hex, 16) {
                        Ok(v) => (v, 4),
                        Err(_) => (b'\\', 1),
                    }
                }
                _ => (b'\\', 1),
            };
            out.push(octet);
            i += used;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn escape(b: &[u8]) -> String {
    let mut out = String::new();
    for &c in b {
        match c {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    if out.len() > 120 {
        let n = b.len();
        out.truncate(100);
        out.push_str(&format!("… ({n} octets)"));
    }
    out
}

/// A parser's outcome, reduced to what both can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Refused,
    NeedsMore,
}

fn ours(wire: &[u8]) -> (Outcome, String) {
    match parse_command(wire) {
        Verdict::Command => (Outcome::Accepted, "command".into()),
        Verdict::Bad(t) | Verdict::No(t) => (Outcome::Refused, t),
        Verdict::Incomplete => (Outcome::NeedsMore, "waits for more data".into()),
    }
}

fn theirs(wire: &[u8]) -> (Outcome, String) {
    match CommandCodec::default().decode(wire) {
        Ok((_, cmd)) => (Outcome::Accepted, cmd.body.name().to_string()),
        Err(CommandDecodeError::Incomplete) => (Outcome::NeedsMore, "Incomplete".into()),
        Err(CommandDecodeError::LiteralFound { length, .. }) => (
            Outcome::NeedsMore,
            format!("LiteralFound {{ length: {length} }}"),
        ),
        Err(CommandDecodeError::Failed) => (Outcome::Refused, "Failed".into()),
    }
}

/// Whole rounds over `inputs` for at least [`TIMED`]; returns commands per second.
fn throughput(inputs: &[Vec<u8>], parse: impl Fn(&[u8]) -> bool) -> (f64, usize) {
    for _ in 0..WARM_UP_ROUNDS {
        for i in inputs {
            black_box(parse(black_box(i)));
        }
    }
    let start = Instant::now();
    let mut commands = 0usize;
    while start.elapsed() < TIMED {
        for _ in 0..100 {
            for i in inputs {
                black_box(parse(black_box(i)));
            }
            commands += inputs.len();
        }
    }
    (commands as f64 / start.elapsed().as_secs_f64(), commands)
}

fn bench(name: &str, inputs: &[Vec<u8>]) {
    let octets: usize = inputs.iter().map(Vec::len).sum();
    println!(
        "{name}: {} commands, {octets} octets per round",
        inputs.len()
    );
    // Each parser's full work: ours builds its owned `Command`; imap-codec its borrowed one.
    let (a, n) = throughput(inputs, |w| matches!(parse_command(w), Verdict::Command));
    println!("  hand-written parse.rs : {a:>12.0} commands/s ({n} parsed)");
    let (b, n) = throughput(inputs, |w| CommandCodec::default().decode(w).is_ok());
    println!("  imap-codec CommandCodec: {b:>11.0} commands/s ({n} parsed)");
    println!("  ratio hand-written / imap-codec: {:.2}", a / b);
}

fn main() {
    let mua = mua_commands();
    for w in &mua {
        // The benchmark's own inputs must be commands for both, or the figures compare errors.
        assert_eq!(ours(w).0, Outcome::Accepted, "ours: {}", escape(w));
        assert_eq!(theirs(w).0, Outcome::Accepted, "imap-codec: {}", escape(w));
    }
    let corpus = corpus_inputs();

    println!("== throughput (release build, one thread) ==");
    bench("MUA session", &mua);
    bench("bad-input corpus (imap, imap-new)", &corpus);

    let bound = acmeproof_mocks::imap::DEFAULT_MAX_COMMAND_OCTETS;
    let within: Vec<Vec<u8>> = corpus
        .iter()
        .filter(|w| w.len() <= bound)
        .cloned()
        .collect();
    bench(
        "the same corpus without the inputs over the session's command bound",
        &within,
    );

    println!();
    println!("== agreement on the corpus ==");
    let mut agree = 0;
    let mut disagree = Vec::new();
    for w in &corpus {
        let (o, ot) = ours(w);
        let (t, tt) = theirs(w);
        if o == t {
            agree += 1;
        } else {
            disagree.push((w, o, ot, t, tt));
        }
    }
    println!(
        "{} inputs: {agree} same outcome, {} different",
        corpus.len(),
        disagree.len()
    );
    for (w, o, ot, t, tt) in &disagree {
        println!("  input      : {}", escape(w));
        println!("  hand-written: {o:?} ({ot})");
        println!("  imap-codec  : {t:?} ({tt})");
    }

    println!();
    println!("== agreement on grammar edges (expected outcome from RFC 3501 §9) ==");
    for (input, grammar) in EDGES {
        let w = input.to_vec();
        let want = if *grammar {
            Outcome::Accepted
        } else {
            Outcome::Refused
        };
        let (o, ot) = ours(&w);
        let (t, tt) = theirs(&w);
        let mark = |got: Outcome| if got == want { "ok " } else { "WRONG" };
        if o != want || t != want {
            println!("  input       : {}  (grammar: {want:?})", escape(&w));
            println!("  hand-written: {} {o:?} ({ot})", mark(o));
            println!("  imap-codec  : {} {t:?} ({tt})", mark(t));
        }
    }
    let wrong = |f: fn(&[u8]) -> (Outcome, String)| {
        EDGES
            .iter()
            .filter(|(i, g)| (f(i).0 == Outcome::Accepted) != *g)
            .count()
    };
    println!(
        "{} edges: hand-written wrong on {}, imap-codec wrong on {}",
        EDGES.len(),
        wrong(ours),
        wrong(theirs)
    );
}
