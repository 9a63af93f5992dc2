//! The zones: one hickory `InMemoryZoneHandler` per apex, the `Catalog` that answers queries
//! from them, and the record edits that runtime changes and UPDATE share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::sync::{Mutex, MutexGuard, RwLock};

/// TTL of the synthesised SOA and NS records.
const APEX_TTL: u32 = 60;

/// All zones of one server. Queries take the read lock; adding a zone takes the write lock.
pub(crate) struct Zones {
    inner: RwLock<Inner>,
    /// Serialises record edits, so an UPDATE's prerequisite check and its changes are not
    /// interleaved with another edit (RFC 2136 §3.7: an update is atomic to other updates).
    edit: Mutex<()>,
    /// Counts the changes to what an answer can depend on: every edit, every added zone, and
    /// (through [`Zones::changed`]) every fault set or cleared. A replayed answer is only good
    /// while this stays where it was when the answer was built.
    generation: AtomicU64,
}

/// An edit in progress (see [`Zones::edit`]); ending it counts a change.
pub(crate) struct Edit<'a> {
    _lock: MutexGuard<'a, ()>,
    zones: &'a Zones,
}

impl Drop for Edit<'_> {
    fn drop(&mut self) {
        // Counted after the records changed, so a reader that sees the new count also sees
        // the new records (see `generation`).
        self.zones.changed();
    }
}

pub(crate) struct Inner {
    pub(crate) catalog: Catalog,
    zones: BTreeMap<LowerName, Arc<InMemoryZoneHandler>>,
}

impl Inner {
    /// The zone whose apex is `name` exactly.
    pub(crate) fn apex(&self, name: &LowerName) -> Option<Arc<InMemoryZoneHandler>> {
        self.zones.get(name).cloned()
    }

    /// The closest enclosing zone of `name` (longest matching apex).
    pub(crate) fn zone_for(
        &self,
        name: &LowerName,
    ) -> Option<(LowerName, Arc<InMemoryZoneHandler>)> {
        self.zones
            .iter()
            .filter(|(apex, _)| apex.zone_of(name))
            .max_by_key(|(apex, _)| apex.num_labels())
            .map(|(apex, z)| (apex.clone(), z.clone()))
    }
}

impl Zones {
    pub(crate) fn new() -> Self {
        Zones {
            inner: RwLock::new(Inner {
                catalog: Catalog::new(),
                zones: BTreeMap::new(),
            }),
            edit: Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    /// Waits for the other edits to end; the records may change until the [`Edit`] is dropped.
    pub(crate) async fn edit(&self) -> Edit<'_> {
        Edit {
            _lock: self.edit.lock().await,
            zones: self,
        }
    }

    /// Counts a change to what answers depend on.
    pub(crate) fn changed(&self) {
        // Release: whatever changed before this is visible to a reader that acquires the new
        // count.
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The change count; read it before building an answer that is to be replayed.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().await
    }

    /// Adds an empty zone with a synthesised SOA (`ns.<apex> hostmaster.<apex>`, serial 1) and
    /// NS (`ns.<apex>`). Adding an existing apex keeps the existing zone.
    pub(crate) async fn add_zone(&self, apex: Name) -> Result<(), String> {
        let lower = LowerName::new(&apex);
        let mut inner = self.inner.write().await;
        if inner.zones.contains_key(&lower) {
            return Ok(());
        }
        let mut zone =
            InMemoryZoneHandler::empty(apex.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let ns = Name::from_ascii("ns").and_then(|n| n.append_domain(&apex));
        let host = Name::from_ascii("hostmaster").and_then(|n| n.append_domain(&apex));
        let (Ok(ns), Ok(host)) = (ns, host) else {
            return Err(format!(
                "zone {apex}: name too long for ns/hostmaster labels"
            ));
        };
        let soa = SOA::new(ns.clone(), host, 1, 3600, 600, 86_400, APEX_TTL);
        let ok = zone.upsert_mut(
            Record::from_rdata(apex.clone(), APEX_TTL, RData::SOA(soa)),
            1,
        ) && zone.upsert_mut(
            Record::from_rdata(apex.clone(), APEX_TTL, RData::NS(NS(ns))),
            1,
        );
        if !ok {
            return Err(format!("zone {apex}: could not add SOA/NS"));
        }
        let zone = Arc::new(zone);
        inner
            .catalog
            .upsert(lower.clone(), vec![zone.clone() as Arc<dyn ZoneHandler>]);
        inner.zones.insert(lower, zone);
        drop(inner);
        self.changed();
        Ok(())
    }

    /// The apex names, in order.
    pub(crate) async fn apexes(&self) -> Vec<String> {
        self.inner
            .read()
            .await
            .zones
            .keys()
            // LowerName's Display shows U-labels; the API speaks A-labels.
            .map(|n| Name::from(n.clone()).to_ascii())
            .collect()
    }
}

/// The records of one RRset (no RRSIGs).
pub(crate) async fn rrset(
    zone: &InMemoryZoneHandler,
    name: &LowerName,
    rtype: RecordType,
) -> Vec<Record> {
    zone.records()
        .await
        .get(&RrKey::new(name.clone(), rtype))
        .map(|set| set.records_without_rrsigs().cloned().collect())
        .unwrap_or_default()
}

/// Every record at `name`, all types.
pub(crate) async fn records_at(zone: &InMemoryZoneHandler, name: &LowerName) -> Vec<Record> {
    zone.records()
        .await
        .iter()
        .filter(|(key, _)| key.name == *name)
        .flat_map(|(_, set)| set.records_without_rrsigs().cloned().collect::<Vec<_>>())
        .collect()
}

/// Whether anything is stored at `name`.
pub(crate) async fn name_in_use(zone: &InMemoryZoneHandler, name: &LowerName) -> bool {
    zone.records().await.keys().any(|key| key.name == *name)
}

/// Adds one record (an identical one is replaced, so the TTL updates). `false` when hickory
/// refuses it (class mismatch, CNAME next to other data: RFC 2136 §3.4.2.2).
pub(crate) async fn add(zone: &InMemoryZoneHandler, mut record: Record) -> bool {
    record.dns_class = DNSClass::IN;
    let serial = zone.serial().await;
    zone.upsert(record, serial).await
}

/// Removes records at `name` for which `doomed` holds; returns whether any went.
pub(crate) async fn retain(
    zone: &InMemoryZoneHandler,
    name: &LowerName,
    doomed: impl Fn(&Record) -> bool,
) -> bool {
    let serial = zone.serial().await;
    let mut records = zone.records_mut().await;
    let keys: Vec<RrKey> = records
        .keys()
        .filter(|k| k.name == *name)
        .cloned()
        .collect();
    let mut changed = false;
    for key in keys {
        let Some(set) = records.get(&key) else {
            continue;
        };
        let all: Vec<Record> = set.records_without_rrsigs().cloned().collect();
        let kept: Vec<Record> = all.iter().filter(|r| !doomed(r)).cloned().collect();
        if kept.len() == all.len() {
            continue;
        }
        changed = true;
        if kept.is_empty() {
            records.remove(&key);
        } else {
            let mut fresh = RecordSet::new(set.name().clone(), set.record_type(), serial);
            for r in kept {
                fresh.insert(r, serial);
            }
            records.insert(key, Arc::new(fresh));
        }
    }
    changed
}

/// RFC 2136 §3.6 (and any runtime change): bump the SOA serial so secondaries and tests can see
/// that the zone changed.
pub(crate) async fn bump_serial(zone: &InMemoryZoneHandler) {
    let apex = zone.origin().clone();
    let key = RrKey::new(apex.clone(), RecordType::SOA);
    let mut records = zone.records_mut().await;
    let Some(set) = records.get(&key) else { return };
    let Some(old) = set.records_without_rrsigs().next().cloned() else {
        return;
    };
    let RData::SOA(mut soa) = old.data.clone() else {
        return;
    };
    // RFC 1982 serial arithmetic wraps.
    soa.serial = soa.serial.wrapping_add(1);
    let serial = soa.serial;
    let mut fresh = RecordSet::new(old.name.clone(), RecordType::SOA, serial);
    fresh.insert(
        Record::from_rdata(old.name.clone(), old.ttl, RData::SOA(soa)),
        serial,
    );
    records.insert(key, Arc::new(fresh));
}
