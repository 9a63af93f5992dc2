//! SEARCH evaluation (RFC 3501 §6.4.4): case-insensitive substring matches on header values as
//! mail-parser decodes them (RFC 2047 encoded words, address lists), flags, sizes, sets.

use mail_parser::Message;

use super::fetch::parse_message;
use super::parse::{DateCmp, SearchKey};
use crate::mailstore::{ParsedHeaders, StoredMessage, value_text};

/// One message as a search sees it.
pub(crate) struct Candidate<'a> {
    pub(crate) seq: u32,
    pub(crate) msg: &'a StoredMessage,
    pub(crate) recent: bool,
    /// What `*` means in a sequence set / UID set.
    pub(crate) max_seq: u32,
    pub(crate) max_uid: u32,
}

/// Whether the candidate matches the key.
pub(crate) fn matches(key: &SearchKey, c: &Candidate<'_>) -> bool {
    let mut parsed = Parsed {
        raw: &c.msg.raw,
        message: None,
    };
    eval(key, c, &mut parsed)
}

/// The whole candidate parsed at most once, on first need (BODY, TEXT). Header keys need no
/// parse here: they read the stored message's header cache.
struct Parsed<'a> {
    raw: &'a [u8],
    message: Option<Option<Message<'a>>>,
}

impl<'a> Parsed<'a> {
    fn get(&mut self) -> Option<&Message<'a>> {
        let raw = self.raw;
        self.message
            .get_or_insert_with(|| parse_message(raw))
            .as_ref()
    }
}

fn eval(key: &SearchKey, c: &Candidate<'_>, parsed: &mut Parsed<'_>) -> bool {
    match key {
        SearchKey::All => true,
        SearchKey::Flag(f, has) => c.msg.has_flag(f) == *has,
        SearchKey::New => c.recent && !c.msg.has_flag("\\Seen"),
        SearchKey::Old => !c.recent,
        SearchKey::Recent => c.recent,
        SearchKey::Larger(n) => c.msg.size > *n as usize,
        SearchKey::Smaller(n) => c.msg.size < *n as usize,
        SearchKey::Uid(set) => set.contains(c.msg.uid, c.max_uid),
        SearchKey::Seq(set) => set.contains(c.seq, c.max_seq),
        SearchKey::Not(k) => !eval(k, c, parsed),
        SearchKey::Or(a, b) => eval(a, c, parsed) || eval(b, c, parsed),
        SearchKey::And(keys) => keys.iter().all(|k| eval(k, c, parsed)),
        SearchKey::Header(name, needle) => header_contains(c.msg.headers(), name, needle),
        SearchKey::Date { sent, cmp, date } => {
            let day = if *sent {
                sent_date(c.msg)
            } else {
                Some(c.msg.internal_date.date())
            };
            day.is_some_and(|d| match cmp {
                DateCmp::Before => d < *date,
                DateCmp::On => d == *date,
                DateCmp::Since => d >= *date,
            })
        }
        SearchKey::Body(needle) => parsed.get().is_some_and(|m| body_contains(m, needle)),
        SearchKey::Text(needle) => parsed.get().is_some_and(|m| {
            body_contains(m, needle)
                || m.headers()
                    .iter()
                    .any(|h| contains(&value_text(&h.value), needle))
        }),
    }
}

/// Unicode case-insensitive substring match.
fn contains(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

/// [`contains`] on every field called `name`, with the values lowercased once per message (in
/// the cache) rather than once per search.
fn header_contains(h: &ParsedHeaders, name: &str, needle: &str) -> bool {
    let mut fields = h
        .fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name))
        .peekable();
    // RFC 3501 §6.4.4 HEADER: an empty string matches every message with the field.
    if needle.is_empty() {
        return fields.peek().is_some();
    }
    let needle = needle.to_lowercase();
    fields.any(|f| f.text_lower.contains(&needle))
}

/// The day of the message's Date field as written there (RFC 3501 §6.4.4: the SENT* keys
/// disregard time and timezone); `None` without a readable Date.
fn sent_date(msg: &StoredMessage) -> Option<time::Date> {
    let header = mail_parser::MessageParser::default().parse_headers(&msg.raw[..])?;
    let d = header.date()?;
    let month = time::Month::try_from(d.month).ok()?;
    time::Date::from_calendar_date(i32::from(d.year), month, d.day).ok()
}

fn body_contains(m: &Message<'_>, needle: &str) -> bool {
    (0..m.text_body_count()).any(|i| m.body_text(i).is_some_and(|t| contains(&t, needle)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::imap::parse::{Kind, parse};

    fn msg(uid: u32, raw: &str, flags: &[&str]) -> StoredMessage {
        StoredMessage {
            uid,
            flags: flags
                .iter()
                .map(|f| (*f).to_owned())
                .collect::<BTreeSet<_>>(),
            recent: false,
            internal_date: time::OffsetDateTime::UNIX_EPOCH,
            size: raw.len(),
            raw: bytes::Bytes::copy_from_slice(raw.as_bytes()),
            headers: Default::default(),
        }
    }

    fn hits(query: &str, msgs: &[StoredMessage]) -> Vec<u32> {
        let Kind::Search { key, .. } = parse(format!("t SEARCH {query}").as_bytes()).unwrap().kind
        else {
            panic!()
        };
        msgs.iter()
            .enumerate()
            .filter(|(i, m)| {
                matches(
                    &key,
                    &Candidate {
                        seq: *i as u32 + 1,
                        msg: m,
                        recent: false,
                        max_seq: msgs.len() as u32,
                        max_uid: msgs.last().map_or(0, |m| m.uid),
                    },
                )
            })
            .map(|(_, m)| m.uid)
            .collect()
    }

    /// The answer of the whole-message parse (what a header key meant before the header
    /// cache): mail-parser's full parse, each value rendered and lowercased at search time.
    fn full_parse_answer(key: &SearchKey, m: Option<&Message<'_>>) -> bool {
        match key {
            SearchKey::All => true,
            SearchKey::Header(name, needle) => m.is_some_and(|m| {
                m.headers().iter().any(|h| {
                    h.name.as_str().eq_ignore_ascii_case(name)
                        && (needle.is_empty() || contains(&value_text(&h.value), needle))
                })
            }),
            SearchKey::Not(k) => !full_parse_answer(k, m),
            SearchKey::Or(a, b) => full_parse_answer(a, m) || full_parse_answer(b, m),
            SearchKey::And(keys) => keys.iter().all(|k| full_parse_answer(k, m)),
            other => panic!("not a header key: {other:?}"),
        }
    }

    #[test]
    fn header_keys_give_the_same_answer_from_the_header_cache() {
        let keys = [
            "SUBJECT \"ACME\"",
            "SUBJECT \"\"",
            "FROM alice",
            "FROM \"a@b\"",
            "HEADER X-A 1",
            "HEADER X-A \"\"",
            "HEADER Content-Type multipart",
            "OR SUBJECT inner NOT SUBJECT bare",
            "CHARSET UTF-8 SUBJECT \"GRÜßE\"",
            "CHARSET UTF-8 SUBJECT \"café\"",
        ];
        let mut matched = 0;
        for (i, raw) in crate::imap::fetch::tests::ODD.iter().enumerate() {
            let m = StoredMessage {
                uid: 1,
                flags: BTreeSet::new(),
                recent: false,
                internal_date: time::OffsetDateTime::UNIX_EPOCH,
                size: raw.len(),
                raw: bytes::Bytes::from_static(raw),
                headers: Default::default(),
            };
            let c = Candidate {
                seq: 1,
                msg: &m,
                recent: false,
                max_seq: 1,
                max_uid: 1,
            };
            let full = parse_message(raw);
            for query in keys {
                let Kind::Search { key, .. } =
                    parse(format!("t SEARCH {query}").as_bytes()).unwrap().kind
                else {
                    panic!()
                };
                let cached = matches(&key, &c);
                assert_eq!(
                    cached,
                    full_parse_answer(&key, full.as_ref()),
                    "message {i}, {query}"
                );
                matched += usize::from(cached);
            }
        }
        // Not vacuous: most keys match some message.
        assert!(matched >= keys.len(), "{matched}");
    }

    #[test]
    fn combinations() {
        let msgs = [
            msg(
                3,
                "From: CA <ca@ca.test>\r\nSubject: ACME: abc\r\nAuto-Submitted: auto-generated; type=acme\r\n\r\nx\r\n",
                &[],
            ),
            msg(
                5,
                "From: bob@b.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nHello body\r\n",
                &["\\Seen"],
            ),
            msg(
                9,
                "From: Carol <carol@c.test>\r\nSubject: acme later\r\n\r\n\r\n",
                &[],
            ),
        ];
        assert_eq!(hits("UNSEEN SUBJECT \"ACME\"", &msgs), vec![3, 9]);
        assert_eq!(hits("OR FROM bob FROM carol", &msgs), vec![5, 9]);
        assert_eq!(hits("NOT SEEN", &msgs), vec![3, 9]);
        assert_eq!(hits("HEADER Auto-Submitted acme", &msgs), vec![3]);
        assert_eq!(hits("SUBJECT \"grüsse\"", &msgs), Vec::<u32>::new());
        assert_eq!(hits("CHARSET UTF-8 SUBJECT \"GRÜßE\"", &msgs), vec![5]);
        assert_eq!(hits("BODY hello", &msgs), vec![5]);
        assert_eq!(hits("UID 5:*", &msgs), vec![5, 9]);
        assert_eq!(hits("2,3 (NOT UID 9)", &msgs), vec![5]);
        assert_eq!(hits("HEADER Auto-Submitted \"\"", &msgs), vec![3]);
    }

    #[test]
    fn date_keys_compare_days() {
        let mut sent = msg(
            1,
            "Date: Mon, 1 Jan 2024 23:30:00 -0500\r\nSubject: a\r\n\r\n",
            &[],
        );
        sent.internal_date = time::macros::datetime!(2024-01-02 04:30 UTC);
        let undated = msg(2, "Subject: b\r\n\r\n", &[]);
        let msgs = [sent, undated];
        // Sent on 1 Jan as written (its own zone), received on 2 Jan.
        assert_eq!(hits("SENTON 1-Jan-2024", &msgs), vec![1]);
        assert_eq!(hits("SENTBEFORE 2-Jan-2024", &msgs), vec![1]);
        assert_eq!(hits("SENTSINCE \"2-Jan-2024\"", &msgs), Vec::<u32>::new());
        assert_eq!(hits("ON 2-Jan-2024", &msgs), vec![1]);
        assert_eq!(hits("SINCE 2-JAN-2024", &msgs), vec![1]);
        assert_eq!(hits("BEFORE 2-Jan-2024", &msgs), vec![2], "the epoch");
        assert!(parse(b"t SEARCH ON 31-Feb-2024").is_err());
        assert!(parse(b"t SEARCH ON 1-Foo-2024").is_err());
    }
}
