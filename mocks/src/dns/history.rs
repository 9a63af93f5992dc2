//! The query history: every request the server handled, in order, and a way to await one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use tokio::sync::watch;

use super::Fault;

/// How a request reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP datagram.
    Udp,
    /// TCP stream.
    Tcp,
}

/// One handled request. Requests the server could not even parse are answered (FORMERR) or
/// dropped by hickory before they reach the handler and are not recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryRecord {
    /// When the request was handled, by the server's [`crate::clock::Clock`].
    #[serde(serialize_with = "ser_time")]
    pub time: OffsetDateTime,
    /// UDP or TCP.
    pub transport: Transport,
    /// The client's address.
    pub peer: SocketAddr,
    /// `query`, `update`, or another opcode's name.
    pub opcode: String,
    /// The query name (the zone name for UPDATE), as received (case preserved).
    pub name: String,
    /// The query type mnemonic (`SOA` for UPDATE).
    pub qtype: String,
    /// The RCODE sent, or `None` when nothing was sent ([`Fault::NoAnswer`]).
    pub rcode: Option<String>,
    /// Number of records in the answer section (0 for UPDATE).
    pub answers: u16,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The TSIG key name when the request was signed (whether or not it verified).
    pub tsig_key: Option<String>,
}

fn ser_time<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::rfc3339(*t))
}

/// Shared, append-only log with a change signal: a ring of the newest [`MAX_RECORDS`], so
/// recording a query is O(1) however full it is.
#[derive(Debug, Clone)]
pub(crate) struct History {
    records: Arc<Mutex<Ring>>,
    changed: Arc<watch::Sender<u64>>,
}

/// Bound on kept records so a flood cannot exhaust memory; the oldest are dropped first.
const MAX_RECORDS: usize = 100_000;

/// The kept records and how many were dropped before the first of them, so a position in the
/// whole history (`dropped + index`) stays valid while the ring turns.
#[derive(Debug, Default)]
struct Ring {
    records: VecDeque<QueryRecord>,
    dropped: u64,
}

impl Ring {
    /// The position after the newest record.
    fn end(&self) -> u64 {
        self.dropped + self.records.len() as u64
    }
}

impl History {
    pub(crate) fn new() -> Self {
        History {
            records: Arc::new(Mutex::new(Ring::default())),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, record: QueryRecord) {
        {
            let mut ring = self.lock();
            if ring.records.len() >= MAX_RECORDS {
                ring.records.pop_front();
                ring.dropped += 1;
            }
            ring.records.push_back(record);
        }
        // Waking waiters costs a pass over the channel's notifiers on every query; with no
        // waiter there is no one to wake. A waiter subscribes before it looks, so a record
        // pushed before its subscription is found by the look, and one pushed after sees it
        // counted here.
        if self.changed.receiver_count() > 0 {
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<QueryRecord> {
        self.lock().records.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        let mut ring = self.lock();
        ring.dropped = ring.end();
        ring.records.clear();
    }

    /// The first record at or after position `from` that matches `pred`, and the position after
    /// the newest record (where the next look starts), so a waiter reads each record once.
    fn find_from(
        &self,
        from: u64,
        pred: &impl Fn(&QueryRecord) -> bool,
    ) -> (Option<QueryRecord>, u64) {
        let ring = self.lock();
        let skip = usize::try_from(from.saturating_sub(ring.dropped))
            .unwrap_or(usize::MAX)
            .min(ring.records.len());
        let found = ring.records.range(skip..).find(|r| pred(r)).cloned();
        (found, ring.end())
    }

    /// The first record (already present or still to come) matching `pred`, or `None` after
    /// `timeout`. Subscribing before looking means no record can slip between the two.
    pub(crate) async fn wait_for(
        &self,
        pred: impl Fn(&QueryRecord) -> bool,
        timeout: Duration,
    ) -> Option<QueryRecord> {
        let mut rx = self.changed.subscribe();
        let wait = async {
            let mut from = 0;
            loop {
                let (found, end) = self.find_from(from, &pred);
                if found.is_some() {
                    return found;
                }
                from = end;
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str) -> QueryRecord {
        QueryRecord {
            time: OffsetDateTime::UNIX_EPOCH,
            transport: Transport::Udp,
            peer: "127.0.0.1:1".parse().unwrap(),
            opcode: "query".into(),
            name: name.into(),
            qtype: "A".into(),
            rcode: Some("NoError".into()),
            answers: 1,
            fault: None,
            tsig_key: None,
        }
    }

    #[tokio::test]
    async fn wait_sees_past_and_future_records_and_times_out() {
        let h = History::new();
        h.push(rec("a."));
        assert!(
            h.wait_for(|r| r.name == "a.", Duration::from_millis(10))
                .await
                .is_some()
        );
        assert!(
            h.wait_for(|r| r.name == "b.", Duration::from_millis(10))
                .await
                .is_none()
        );
        let h2 = h.clone();
        let pusher = tokio::spawn(async move { h2.push(rec("b.")) });
        let got = h.wait_for(|r| r.name == "b.", Duration::from_secs(5)).await;
        assert_eq!(got.map(|r| r.name), Some("b.".to_string()));
        pusher.await.unwrap();
        let json = serde_json::to_value(h.snapshot()).unwrap();
        assert_eq!(json[0]["time"], "1970-01-01T00:00:00Z");
        assert_eq!(json[0]["transport"], "udp");
        h.clear();
        assert!(h.snapshot().is_empty());
    }

    #[tokio::test]
    async fn a_full_ring_drops_the_oldest_and_waiters_see_only_new_records() {
        let h = History::new();
        for i in 0..MAX_RECORDS + 10 {
            h.push(rec(&format!("n{i}.")));
        }
        let all = h.snapshot();
        assert_eq!(all.len(), MAX_RECORDS);
        assert_eq!(all[0].name, "n10.");
        assert_eq!(all[MAX_RECORDS - 1].name, format!("n{}.", MAX_RECORDS + 9));
        // A dropped record is gone; a kept one is found.
        let short = Duration::from_millis(10);
        assert!(h.wait_for(|r| r.name == "n9.", short).await.is_none());
        assert!(h.wait_for(|r| r.name == "n10.", short).await.is_some());
        // Positions stay valid across clear and further pushes.
        h.clear();
        let (found, end) = h.find_from(0, &|_| true);
        assert!(found.is_none());
        assert_eq!(end, (MAX_RECORDS + 10) as u64);
        h.push(rec("after."));
        let (found, _) = h.find_from(end, &|_| true);
        assert_eq!(found.map(|r| r.name), Some("after.".to_string()));
        let (found, _) = h.find_from(end + 1, &|_| true);
        assert!(found.is_none(), "a look from past the newest finds nothing");
    }
}
