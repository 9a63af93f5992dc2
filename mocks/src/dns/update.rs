//! RFC 2136 UPDATE on top of the in-memory zones: zone section, prerequisites, update section.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, RData, Record, RecordType};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::MessageRequest;

use super::zones::{self, Zones};

/// Record types that cannot be stored (RFC 2136 §3.4.1.3 "meta-types").
fn is_meta(t: RecordType) -> bool {
    matches!(
        t,
        RecordType::ANY
            | RecordType::AXFR
            | RecordType::IXFR
            // MAILA (254) and MAILB (253): hickory has no variants for them.
            | RecordType::Unknown(253 | 254)
            | RecordType::OPT
            | RecordType::TSIG
    )
}

fn is_empty_rdata(r: &Record) -> bool {
    matches!(r.data, RData::Update0(_))
}

/// Applies one UPDATE and returns the RCODE to send.
pub(crate) async fn apply(zones: &Zones, request: &MessageRequest) -> ResponseCode {
    // RFC 2136 §3.1.1: exactly one zone, of type SOA.
    let [zone_q] = request.queries.queries() else {
        return ResponseCode::FormErr;
    };
    if zone_q.query_type() != RecordType::SOA || zone_q.query_class() != DNSClass::IN {
        return ResponseCode::FormErr;
    }
    let zname = zone_q.name().clone();
    let zone = {
        let inner = zones.read().await;
        match inner.apex(&zname) {
            Some(z) => z,
            // §3.1.1: "not authoritative for the zone" → NOTAUTH when the name is inside one of
            // our zones but is not an apex; a name outside all of them is not ours to serve →
            // REFUSED (the project rule for names outside our zones).
            None if inner.zone_for(&zname).is_some() => return ResponseCode::NotAuth,
            None => return ResponseCode::Refused,
        }
    };
    let _edit = zones.edit().await;
    if let Err(code) = check_prerequisites(&zone, &zname, &request.answers).await {
        return code;
    }
    if let Err(code) = prescan(&zname, &request.authorities) {
        return code;
    }
    if apply_updates(&zone, &zname, &request.authorities).await {
        zones::bump_serial(&zone).await;
    }
    ResponseCode::NoError
}

/// RFC 2136 §3.2.
async fn check_prerequisites(
    zone: &InMemoryZoneHandler,
    zname: &LowerName,
    prereqs: &[Record],
) -> Result<(), ResponseCode> {
    // §3.2.5: value-dependent prerequisites are compared as whole RRsets at the end.
    let mut wanted: BTreeMap<(LowerName, RecordType), BTreeSet<Vec<u8>>> = BTreeMap::new();
    for rr in prereqs {
        // §3.2.1: TTL must be zero.
        if rr.ttl != 0 {
            return Err(ResponseCode::FormErr);
        }
        let name = LowerName::new(&rr.name);
        // §3.2.1: names outside the zone → NOTZONE.
        if !zname.zone_of(&name) {
            return Err(ResponseCode::NotZone);
        }
        let rtype = rr.record_type();
        match rr.dns_class {
            DNSClass::ANY => {
                if !is_empty_rdata(rr) {
                    return Err(ResponseCode::FormErr);
                }
                if rtype == RecordType::ANY {
                    // §2.4.4 "Name is in use".
                    if !zones::name_in_use(zone, &name).await {
                        return Err(ResponseCode::NXDomain);
                    }
                } else if zones::rrset(zone, &name, rtype).await.is_empty() {
                    // §2.4.1 "RRset exists (value independent)".
                    return Err(ResponseCode::NXRRSet);
                }
            }
            DNSClass::NONE => {
                if !is_empty_rdata(rr) {
                    return Err(ResponseCode::FormErr);
                }
                if rtype == RecordType::ANY {
                    // §2.4.5 "Name is not in use".
                    if zones::name_in_use(zone, &name).await {
                        return Err(ResponseCode::YXDomain);
                    }
                } else if !zones::rrset(zone, &name, rtype).await.is_empty() {
                    // §2.4.3 "RRset does not exist".
                    return Err(ResponseCode::YXRRSet);
                }
            }
            DNSClass::IN => {
                if is_meta(rtype) || is_empty_rdata(rr) {
                    return Err(ResponseCode::FormErr);
                }
                wanted
                    .entry((name, rtype))
                    .or_default()
                    .insert(rdata_key(&rr.data));
            }
            _ => return Err(ResponseCode::FormErr),
        }
    }
    // §2.4.2 "RRset exists (value dependent)": the zone's RRset must equal the given one.
    for ((name, rtype), want) in wanted {
        let have: BTreeSet<Vec<u8>> = zones::rrset(zone, &name, rtype)
            .await
            .iter()
            .map(|r| rdata_key(&r.data))
            .collect();
        if have != want {
            return Err(ResponseCode::NXRRSet);
        }
    }
    Ok(())
}

/// A comparable form of record data (RFC 2136 §1.1.1: RRs compare by RDATA, not TTL).
fn rdata_key(data: &RData) -> Vec<u8> {
    use hickory_proto::serialize::binary::BinEncodable;
    data.to_bytes().unwrap_or_default()
}

/// RFC 2136 §3.4.1: check the whole update section before changing anything.
fn prescan(zname: &LowerName, updates: &[Record]) -> Result<(), ResponseCode> {
    for rr in updates {
        let name = LowerName::new(&rr.name);
        if !zname.zone_of(&name) {
            return Err(ResponseCode::NotZone);
        }
        let rtype = rr.record_type();
        let ok = match rr.dns_class {
            DNSClass::IN => !is_meta(rtype) && !is_empty_rdata(rr),
            DNSClass::ANY => {
                rr.ttl == 0 && is_empty_rdata(rr) && (rtype == RecordType::ANY || !is_meta(rtype))
            }
            DNSClass::NONE => rr.ttl == 0 && !is_meta(rtype) && !is_empty_rdata(rr),
            _ => false,
        };
        if !ok {
            return Err(ResponseCode::FormErr);
        }
    }
    Ok(())
}

/// RFC 2136 §3.4.2; returns whether the zone changed.
async fn apply_updates(zone: &InMemoryZoneHandler, zname: &LowerName, updates: &[Record]) -> bool {
    let mut changed = false;
    for rr in updates {
        let name = LowerName::new(&rr.name);
        let at_apex = name == *zname;
        let rtype = rr.record_type();
        match rr.dns_class {
            DNSClass::IN => {
                // §3.4.2.2: SOA changes are ignored here; the serial is ours to manage.
                if rtype == RecordType::SOA {
                    continue;
                }
                let mut record = rr.clone();
                record.dns_class = DNSClass::IN;
                changed |= zones::add(zone, record).await;
            }
            DNSClass::ANY => {
                // §3.4.2.3: never delete the apex SOA or NS RRsets this way.
                let apex_protected =
                    |t: RecordType| at_apex && matches!(t, RecordType::SOA | RecordType::NS);
                changed |= zones::retain(zone, &name, |r| {
                    let t = r.record_type();
                    (rtype == RecordType::ANY || t == rtype) && !apex_protected(t)
                })
                .await;
            }
            DNSClass::NONE => {
                // §3.4.2.4: never delete the SOA, nor the last apex NS.
                if rtype == RecordType::SOA {
                    continue;
                }
                if at_apex && rtype == RecordType::NS {
                    let ns = zones::rrset(zone, &name, RecordType::NS).await;
                    if ns.len() <= 1 {
                        continue;
                    }
                }
                let target = rdata_key(&rr.data);
                changed |= zones::retain(zone, &name, |r| {
                    r.record_type() == rtype && rdata_key(&r.data) == target
                })
                .await;
            }
            _ => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_net::xfer::Protocol;
    use hickory_proto::op::{Message, MessageType, OpCode, Query, update_message};
    use hickory_proto::rr::rdata::{A, TXT};
    use hickory_proto::rr::{Name, RecordSet};
    use hickory_server::server::Request;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    async fn zones() -> Zones {
        let z = Zones::new();
        z.add_zone(n("example.test.")).await.unwrap();
        let inner = z.read().await;
        let zone = inner.apex(&LowerName::new(&n("example.test."))).unwrap();
        assert!(zones::add(&zone, txt("old.example.test.", "v1")).await);
        assert!(zones::add(&zone, txt("old.example.test.", "v2")).await);
        assert!(
            zones::add(
                &zone,
                Record::from_rdata(n("www.example.test."), 60, RData::A(A::new(127, 0, 0, 1)))
            )
            .await
        );
        drop(inner);
        z
    }

    fn txt(name: &str, v: &str) -> Record {
        Record::from_rdata(n(name), 60, RData::TXT(TXT::new(vec![v.into()])))
    }

    /// Encodes and re-reads the message as the server would receive it.
    pub(crate) fn as_request(msg: &Message) -> Request {
        let bytes = msg.to_vec().unwrap();
        Request::from_bytes(bytes, "127.0.0.1:1".parse().unwrap(), Protocol::Udp).unwrap()
    }

    fn update(zone: &str) -> Message {
        let mut m = Message::new(7, MessageType::Query, OpCode::Update);
        let mut q = Query::new();
        q.set_name(n(zone)).set_query_type(RecordType::SOA);
        m.add_query(q);
        m
    }

    async fn txts(z: &Zones, name: &str) -> Vec<String> {
        let inner = z.read().await;
        let zone = inner.apex(&LowerName::new(&n("example.test."))).unwrap();
        let mut v: Vec<String> = zones::rrset(&zone, &LowerName::new(&n(name)), RecordType::TXT)
            .await
            .iter()
            .map(|r| r.data.to_string())
            .collect();
        v.sort();
        v
    }

    async fn serial(z: &Zones) -> u32 {
        let inner = z.read().await;
        inner
            .apex(&LowerName::new(&n("example.test.")))
            .unwrap()
            .serial()
            .await
    }

    #[tokio::test]
    async fn add_and_delete_shapes_of_nsupdate_lego_and_certbot() {
        let z = zones().await;
        let s0 = serial(&z).await;
        // dnspython / miekg/dns / nsupdate "add": class IN with TTL.
        let mut rrset = RecordSet::new(n("_acme-challenge.example.test."), RecordType::TXT, 0);
        rrset.insert(txt("_acme-challenge.example.test.", "tok"), 0);
        let m = update_message::append(rrset.clone(), n("example.test."), false, false);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NoError);
        assert_eq!(txts(&z, "_acme-challenge.example.test.").await, vec!["tok"]);
        assert!(serial(&z).await > s0, "serial must increase");

        // lego/certbot cleanup: delete the specific RR, class NONE.
        let m = update_message::delete_by_rdata(rrset, n("example.test."), false);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NoError);
        assert!(txts(&z, "_acme-challenge.example.test.").await.is_empty());

        // Delete one RR of two: the other stays.
        let mut one = RecordSet::new(n("old.example.test."), RecordType::TXT, 0);
        one.insert(txt("old.example.test.", "v1"), 0);
        let m = update_message::delete_by_rdata(one, n("example.test."), false);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NoError);
        assert_eq!(txts(&z, "old.example.test.").await, vec!["v2"]);

        // Delete an RRset: class ANY, type TXT.
        let m =
            update_message::delete_rrset(txt("old.example.test.", ""), n("example.test."), false);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NoError);
        assert!(txts(&z, "old.example.test.").await.is_empty());

        // Delete all RRsets at a name: class ANY, type ANY; the apex keeps SOA and NS.
        let m = update_message::delete_all(
            n("www.example.test."),
            n("example.test."),
            DNSClass::IN,
            false,
        );
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NoError);
        let inner = z.read().await;
        let zone = inner.apex(&LowerName::new(&n("example.test."))).unwrap();
        assert!(!zones::name_in_use(&zone, &LowerName::new(&n("www.example.test."))).await);
        drop(inner);
        let m =
            update_message::delete_all(n("example.test."), n("example.test."), DNSClass::IN, false);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NoError);
        let inner = z.read().await;
        let zone = inner.apex(&LowerName::new(&n("example.test."))).unwrap();
        let apex = LowerName::new(&n("example.test."));
        assert_eq!(zones::rrset(&zone, &apex, RecordType::SOA).await.len(), 1);
        assert_eq!(zones::rrset(&zone, &apex, RecordType::NS).await.len(), 1);
    }

    #[tokio::test]
    async fn prerequisites_pass_and_fail() {
        let z = zones().await;
        let check = |pr: Record| {
            let mut m = update("example.test.");
            m.add_answer(pr);
            m.add_authority(txt("new.example.test.", "x"));
            m
        };
        let mut exists = Record::update0(n("old.example.test."), 0, RecordType::TXT);
        exists.dns_class = DNSClass::ANY;
        assert_eq!(
            apply(&z, &as_request(&check(exists))).await,
            ResponseCode::NoError
        );
        let mut missing = Record::update0(n("nope.example.test."), 0, RecordType::TXT);
        missing.dns_class = DNSClass::ANY;
        assert_eq!(
            apply(&z, &as_request(&check(missing))).await,
            ResponseCode::NXRRSet
        );

        let mut not_exists = Record::update0(n("old.example.test."), 0, RecordType::TXT);
        not_exists.dns_class = DNSClass::NONE;
        assert_eq!(
            apply(&z, &as_request(&check(not_exists))).await,
            ResponseCode::YXRRSet
        );
        let mut not_exists = Record::update0(n("old.example.test."), 0, RecordType::MX);
        not_exists.dns_class = DNSClass::NONE;
        assert_eq!(
            apply(&z, &as_request(&check(not_exists))).await,
            ResponseCode::NoError
        );

        let mut in_use = Record::update0(n("www.example.test."), 0, RecordType::ANY);
        in_use.dns_class = DNSClass::ANY;
        assert_eq!(
            apply(&z, &as_request(&check(in_use))).await,
            ResponseCode::NoError
        );
        let mut in_use = Record::update0(n("nope.example.test."), 0, RecordType::ANY);
        in_use.dns_class = DNSClass::ANY;
        assert_eq!(
            apply(&z, &as_request(&check(in_use))).await,
            ResponseCode::NXDomain
        );

        let mut not_in_use = Record::update0(n("www.example.test."), 0, RecordType::ANY);
        not_in_use.dns_class = DNSClass::NONE;
        assert_eq!(
            apply(&z, &as_request(&check(not_in_use))).await,
            ResponseCode::YXDomain
        );
        let mut not_in_use = Record::update0(n("nope.example.test."), 0, RecordType::ANY);
        not_in_use.dns_class = DNSClass::NONE;
        assert_eq!(
            apply(&z, &as_request(&check(not_in_use))).await,
            ResponseCode::NoError
        );

        // Value dependent: the whole RRset must match.
        let mut both = update("example.test.");
        both.add_answer(txt("old.example.test.", "v1"));
        both.add_answer(txt("old.example.test.", "v2"));
        for a in both.answers.iter_mut() {
            a.ttl = 0;
        }
        assert_eq!(apply(&z, &as_request(&both)).await, ResponseCode::NoError);
        let mut partial = update("example.test.");
        let mut only = txt("old.example.test.", "v1");
        only.ttl = 0;
        partial.add_answer(only);
        assert_eq!(
            apply(&z, &as_request(&partial)).await,
            ResponseCode::NXRRSet
        );

        // A failed prerequisite changes nothing.
        let mut missing = Record::update0(n("nope.example.test."), 0, RecordType::TXT);
        missing.dns_class = DNSClass::ANY;
        let mut m = check(missing);
        m.add_authority(txt("guarded.example.test.", "x"));
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NXRRSet);
        assert!(txts(&z, "guarded.example.test.").await.is_empty());

        // Non-zero TTL on a prerequisite is a format error.
        let mut bad = Record::update0(n("old.example.test."), 5, RecordType::TXT);
        bad.dns_class = DNSClass::ANY;
        assert_eq!(
            apply(&z, &as_request(&check(bad))).await,
            ResponseCode::FormErr
        );
    }

    #[tokio::test]
    async fn zone_checks() {
        let z = zones().await;
        // Update for a name outside the zone section's zone.
        let mut m = update("example.test.");
        m.add_authority(txt("x.other.test.", "x"));
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NotZone);
        // Prerequisite outside the zone.
        let mut m = update("example.test.");
        let mut pr = Record::update0(n("x.other.test."), 0, RecordType::TXT);
        pr.dns_class = DNSClass::ANY;
        m.add_answer(pr);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NotZone);
        // A zone we do not have at all.
        let mut m = update("other.test.");
        m.add_authority(txt("x.other.test.", "x"));
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::Refused);
        // A name inside our zone that is not an apex.
        let mut m = update("sub.example.test.");
        m.add_authority(txt("x.sub.example.test.", "x"));
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NotAuth);
        // The good shape passes.
        let mut m = update("example.test.");
        m.add_authority(txt("x.example.test.", "x"));
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::NoError);
        // Zone section of the wrong type or count.
        let mut m = Message::new(7, MessageType::Query, OpCode::Update);
        let mut q = Query::new();
        q.set_name(n("example.test.")).set_query_type(RecordType::A);
        m.add_query(q);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::FormErr);
        let m = Message::new(7, MessageType::Query, OpCode::Update);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::FormErr);
        // Class ANY delete carrying data is malformed.
        let mut m = update("example.test.");
        let mut rr = txt("old.example.test.", "v1");
        rr.dns_class = DNSClass::ANY;
        rr.ttl = 0;
        m.add_authority(rr);
        assert_eq!(apply(&z, &as_request(&m)).await, ResponseCode::FormErr);
    }
}
