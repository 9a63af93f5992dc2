//! Answers to repeated UDP queries, replayed instead of rebuilt.
//!
//! A query whose octets (all but the message ID) equal an earlier one's gets the earlier answer
//! with its own ID, as long as nothing an answer depends on has changed since: the zones' change
//! count ([`super::zones::Zones::generation`]) counts every edit, every added zone and every
//! fault set or cleared. Only answers the handler calls replayable are kept: unsigned queries
//! whose name had no fault (a TSIG-signed answer carries a fresh time and MAC; a fault is
//! judged per query). A replayed answer is recorded in the history like any other, with its
//! own time and peer.
//!
//! Why: a resolver or a load test that asks the same question again and again found the server
//! spending most of its user time parsing the request and walking hickory's catalog for an
//! answer it had already built; the parse, the lookup and the encoding are what a replay saves.
//! Each UDP receiver keeps its own cache, so no lock is taken.

use std::collections::HashMap;

use super::history::QueryRecord;

/// Octets of the message ID, the first field of the header (RFC 1035 §4.1.1).
const ID_OCTETS: usize = 2;
/// RFC 1035 §4.1.1: the header is 12 octets.
const HEADER_OCTETS: usize = 12;
/// Longest query kept; longer ones (large EDNS options) are answered without the cache.
const MAX_QUERY_OCTETS: usize = 512;
/// Answers kept per receiver; when full, stale answers go, then all of them.
const MAX_ENTRIES: usize = 1_024;

/// One receiver's replayable answers, keyed by the query's octets after the ID.
#[derive(Default)]
pub(super) struct AnswerCache {
    entries: HashMap<Box<[u8]>, Entry>,
}

struct Entry {
    /// The change count when the answer was built.
    generation: u64,
    /// The answer as sent, ID included.
    answer: Box<[u8]>,
    /// The history record of the first query, for [`super::handler::Handler::record_replay`].
    record: QueryRecord,
}

impl AnswerCache {
    /// The answer to `query`, with `query`'s ID, if one was built at `generation`; and the
    /// record to replay into the history.
    pub(super) fn get(&self, query: &[u8], generation: u64) -> Option<(Vec<u8>, &QueryRecord)> {
        let id = query.get(..ID_OCTETS)?;
        let entry = self.entries.get(query.get(ID_OCTETS..)?)?;
        if entry.generation != generation {
            return None;
        }
        let mut answer = entry.answer.to_vec();
        answer[..ID_OCTETS].copy_from_slice(id);
        Some((answer, &entry.record))
    }

    /// Keeps `answer` to `query`, built at `generation`.
    pub(super) fn put(
        &mut self,
        query: &[u8],
        generation: u64,
        answer: &[u8],
        record: QueryRecord,
    ) {
        if !(HEADER_OCTETS..=MAX_QUERY_OCTETS).contains(&query.len())
            || answer.len() < HEADER_OCTETS
        {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries
                .retain(|_, entry| entry.generation == generation);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(
            query[ID_OCTETS..].into(),
            Entry {
                generation,
                answer: answer.into(),
                record,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::history::Transport;

    fn record() -> QueryRecord {
        QueryRecord {
            time: time::OffsetDateTime::UNIX_EPOCH,
            transport: Transport::Udp,
            peer: "127.0.0.1:1".parse().unwrap(),
            opcode: "query".into(),
            name: "a.example.test.".into(),
            qtype: "TXT".into(),
            rcode: Some("NoError".into()),
            answers: 1,
            fault: None,
            tsig_key: None,
        }
    }

    fn message(id: u16, rest: &[u8]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0; HEADER_OCTETS - ID_OCTETS]);
        m.extend_from_slice(rest);
        m
    }

    #[test]
    fn a_replay_carries_the_new_id_and_only_while_nothing_changed() {
        let mut cache = AnswerCache::default();
        let query = message(1, b"question");
        let answer = message(1, b"answer");
        cache.put(&query, 7, &answer, record());

        let (replayed, first) = cache.get(&message(0xbeef, b"question"), 7).expect("a hit");
        assert_eq!(replayed, message(0xbeef, b"answer"));
        assert_eq!(first.name, "a.example.test.");

        assert!(cache.get(&message(1, b"question"), 8).is_none(), "a change");
        assert!(
            cache.get(&message(1, b"other"), 7).is_none(),
            "other octets"
        );
        assert!(cache.get(&[0], 7).is_none(), "shorter than an ID");
    }

    #[test]
    fn stays_bounded_and_skips_what_it_should_not_keep() {
        let mut cache = AnswerCache::default();
        let answer = message(1, b"answer");
        cache.put(&[0; HEADER_OCTETS - 1], 0, &answer, record());
        cache.put(&message(1, &[0; MAX_QUERY_OCTETS]), 0, &answer, record());
        cache.put(&message(1, b"q"), 0, &[0; 4], record());
        assert_eq!(cache.len(), 0);

        for i in 0..MAX_ENTRIES {
            cache.put(&message(1, &i.to_be_bytes()), 0, &answer, record());
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        // Full, all current: the next one starts a fresh cache.
        cache.put(&message(1, b"one more"), 0, &answer, record());
        assert_eq!(cache.len(), 1);
        // Full with stale entries: only those go.
        for i in 1..MAX_ENTRIES {
            cache.put(&message(1, &i.to_be_bytes()), 1, &answer, record());
        }
        cache.put(&message(1, b"newest"), 1, &answer, record());
        assert_eq!(cache.len(), MAX_ENTRIES);
        assert!(cache.get(&message(2, b"newest"), 1).is_some());
    }
}
