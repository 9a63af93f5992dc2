//! The query history: every request the server handled, in order, and a way to await one.

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

/// Shared, append-only log with a change signal.
#[derive(Debug, Clone)]
pub(crate) struct History {
    records: Arc<Mutex<Vec<QueryRecord>>>,
    changed: Arc<watch::Sender<u64>>,
}

/// Bound on kept records so a flood cannot exhaust memory; the oldest are dropped first.
const MAX_RECORDS: usize = 100_000;

impl History {
    pub(crate) fn new() -> Self {
        History {
            records: Arc::new(Mutex::new(Vec::new())),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    pub(crate) fn push(&self, record: QueryRecord) {
        {
            let mut v = self.records.lock().unwrap_or_else(PoisonError::into_inner);
            if v.len() >= MAX_RECORDS {
                v.remove(0);
            }
            v.push(record);
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn snapshot(&self) -> Vec<QueryRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn find(&self, pred: &impl Fn(&QueryRecord) -> bool) -> Option<QueryRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|r| pred(r))
            .cloned()
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
            loop {
                if let Some(found) = self.find(&pred) {
                    return Some(found);
                }
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
}
