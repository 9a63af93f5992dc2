//! `mocks::dns` against real clients: the hickory resolver, raw sockets, dig, kdig, nsupdate.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use acmeproof_mocks::dns::{
    DnsConfig, DnsServer, Fault, LookupError, RecordSpec, TsigAlgorithmSpec, TsigKeySpec,
    WorldResolver,
};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode, update_message};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{Name, RData, Record, RecordSet, RecordType, TSigner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

fn rec(name: &str, t: &str, v: &str) -> RecordSpec {
    RecordSpec::new(name, t, v)
}

fn config() -> DnsConfig {
    DnsConfig {
        zones: vec!["example.test".into(), "bücher.example".into()],
        records: vec![
            rec("www.example.test", "A", "127.0.0.1"),
            rec("www.example.test", "AAAA", "::1"),
            rec("example.test", "MX", "10 mx.example.test."),
            rec("example.test", "MX", "20 mx2.example.test"),
            rec("example.test", "TXT", "v=spf1 -all"),
            rec("long.example.test", "TXT", &"k".repeat(700)),
            rec("alias.example.test", "CNAME", "www.example.test."),
            rec(
                "_imaps._tcp.example.test",
                "SRV",
                "0 1 993 imap.example.test.",
            ),
            rec("_25._tcp.mx.example.test", "TLSA", "3 1 1 0123456789abcdef"),
            rec("example.test", "CAA", r#"0 issue "acmeproof.test""#),
            rec("example.test", "CAA", r#"0 issuemail "acmeproof.test""#),
            rec("example.test", "CAA", r#"0 issuewild ";""#),
            rec("www.bücher.example", "A", "127.0.0.2"),
        ],
        ..DnsConfig::default()
    }
}

async fn server() -> DnsServer {
    DnsServer::start(config()).await.expect("server starts")
}

fn resolver(s: &DnsServer) -> WorldResolver {
    WorldResolver::with_timeout(s.addr(), Duration::from_millis(700), 1).expect("resolver")
}

fn query(name: &str, t: RecordType) -> Vec<u8> {
    query_message(name, t).to_vec().unwrap()
}

fn query_message(name: &str, t: RecordType) -> Message {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    let mut q = Query::new();
    q.set_name(Name::from_ascii(name).unwrap())
        .set_query_type(t);
    m.add_query(q);
    m
}

async fn udp_exchange(addr: SocketAddr, bytes: &[u8]) -> Option<Message> {
    Message::from_vec(&udp_raw(addr, bytes).await?).ok()
}

async fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let n = timeout(Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

async fn tcp_exchange(addr: SocketAddr, bytes: &[u8]) -> Option<Message> {
    Message::from_vec(&tcp_raw(addr, bytes).await?).ok()
}

async fn tcp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let len = u16::try_from(bytes.len()).unwrap();
    s.write_all(&len.to_be_bytes()).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut l = [0u8; 2];
    timeout(Duration::from_secs(2), s.read_exact(&mut l))
        .await
        .ok()?
        .ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(l))];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

/// A world resolver answers from the world's DNS alone: the names of the machine's hosts file
/// (its host name, usually) are in no world zone, so it finds none of them. Otherwise a hosts
/// entry for a world name would silently win over the world's records. `localhost` is left
/// out: hickory answers it itself, as RFC 6761 §6.3 asks of resolver libraries.
#[tokio::test]
async fn the_resolver_never_reads_the_hosts_file() {
    let s = server().await;
    let r = resolver(&s);
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let names: Vec<&str> = hosts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split_whitespace().skip(1))
        .filter(|n| !n.eq_ignore_ascii_case("localhost") && !n.ends_with(".localhost"))
        .collect();
    for name in &names {
        let answer = r.ips(name).await;
        assert!(
            answer.is_err(),
            "{name} came from the hosts file: {answer:?}"
        );
    }
    // The same resolver still answers world names.
    assert!(r.ips("www.example.test").await.is_ok());
}

#[tokio::test]
async fn resolver_reads_every_record_type() {
    let s = server().await;
    let r = resolver(&s);
    let ips = r.ips("www.example.test").await.unwrap();
    assert_eq!(ips.len(), 2, "{ips:?}");
    assert!(ips.contains(&"127.0.0.1".parse().unwrap()));
    assert!(ips.contains(&"::1".parse().unwrap()));
    assert_eq!(
        r.mx("example.test").await.unwrap(),
        vec![
            (10, "mx.example.test.".to_string()),
            (20, "mx2.example.test.".to_string())
        ]
    );
    assert_eq!(r.txt("example.test").await.unwrap(), vec!["v=spf1 -all"]);
    // >255 octets: split into character-strings by the server, joined again by the resolver.
    assert_eq!(
        r.txt("long.example.test").await.unwrap(),
        vec!["k".repeat(700)]
    );
    // CNAME: the resolver follows it to the A record.
    assert_eq!(
        r.ips("alias.example.test").await.unwrap()[0],
        "127.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );
    let srv = r
        .tokio_resolver()
        .lookup("_imaps._tcp.example.test.", RecordType::SRV)
        .await
        .unwrap();
    assert_eq!(
        srv.answers()[0].data.to_string(),
        "0 1 993 imap.example.test."
    );
    let tlsa = r
        .tokio_resolver()
        .lookup("_25._tcp.mx.example.test.", RecordType::TLSA)
        .await
        .unwrap();
    let RData::TLSA(t) = &tlsa.answers()[0].data else {
        panic!("not TLSA")
    };
    assert_eq!(t.cert_data.len(), 8);
    let mut caa = r.caa("example.test").await.unwrap();
    caa.sort_by(|a, b| a.tag.cmp(&b.tag));
    let tags: Vec<(&str, &str)> = caa
        .iter()
        .map(|c| (c.tag.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        tags,
        vec![
            ("issue", "acmeproof.test"),
            ("issuemail", "acmeproof.test"),
            ("issuewild", ";")
        ]
    );
    // Negative answers are told apart.
    assert_eq!(
        r.txt("nothing.example.test").await,
        Err(LookupError::NxDomain)
    );
    assert_eq!(r.mx("www.example.test").await, Err(LookupError::NoRecords));
    s.shutdown().await;
}

#[tokio::test]
async fn caa_climbs_the_tree_and_idn_zone_answers() {
    let s = server().await;
    let r = resolver(&s);
    // RFC 8659 §3: nothing at a.b.example.test, so the apex's set is relevant.
    let caa = r.caa("a.b.example.test").await.unwrap();
    assert_eq!(caa.len(), 3);
    // A closer set wins over the apex.
    s.add(rec("b.example.test", "CAA", r#"0 issue "other.test""#))
        .await
        .unwrap();
    let caa = r.caa("a.b.example.test").await.unwrap();
    assert_eq!(caa.len(), 1);
    assert_eq!(caa[0].value, "other.test");
    // No CAA anywhere up the tree → empty (issuance permitted), not an error.
    assert_eq!(r.caa("www.bücher.example").await.unwrap(), vec![]);
    // The IDN zone was configured as a U-label and answers for its A-label.
    assert_eq!(
        r.ips("www.xn--bcher-kva.example").await.unwrap(),
        vec!["127.0.0.2".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(
        s.zones()
            .await
            .contains(&"xn--bcher-kva.example.".to_string())
    );
    // A failing lookup on the way up is an error, never "no CAA" (RFC 8659 §5.4).
    s.set_fault("b.example.test", Fault::ServFail).unwrap();
    assert_eq!(r.caa("a.b.example.test").await, Err(LookupError::ServFail));
}

#[tokio::test]
async fn faults_servfail_noanswer_truncate() {
    let s = server().await;
    let r = resolver(&s);
    s.set_fault("www.example.test", Fault::ServFail).unwrap();
    assert_eq!(r.ips("www.example.test").await, Err(LookupError::ServFail));
    s.set_fault("www.example.test", Fault::NoAnswer).unwrap();
    assert_eq!(
        r.txt("www.example.test").await,
        Err(LookupError::Timeout),
        "no-answer must surface as a timeout"
    );
    s.clear_fault("www.example.test").unwrap();
    assert!(r.ips("www.example.test").await.is_ok(), "cleared fault");

    s.set_fault("example.test", Fault::Truncate).unwrap();
    let q = query("example.test.", RecordType::MX);
    let udp = udp_exchange(s.addr(), &q).await.expect("udp answer");
    assert!(udp.metadata.truncation, "UDP answer has TC=1");
    assert!(udp.answers.is_empty());
    let tcp = tcp_exchange(s.addr(), &q).await.expect("tcp answer");
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 2);
    // The resolver retries over TCP by itself.
    assert_eq!(r.mx("example.test").await.unwrap().len(), 2);

    let h = s.history();
    let faults: Vec<_> = h.iter().filter_map(|q| q.fault).collect();
    assert!(faults.contains(&Fault::ServFail));
    assert!(faults.contains(&Fault::NoAnswer));
    assert!(faults.contains(&Fault::Truncate));
    let noanswer = h.iter().find(|q| q.fault == Some(Fault::NoAnswer)).unwrap();
    assert_eq!(noanswer.rcode, None);
}

#[tokio::test]
async fn history_and_runtime_changes() {
    let s = server().await;
    let r = resolver(&s);
    assert_eq!(
        r.txt("_acme-challenge.example.test").await,
        Err(LookupError::NxDomain)
    );
    s.add(rec("_acme-challenge.example.test", "TXT", "tok1"))
        .await
        .unwrap();
    assert_eq!(
        r.txt("_acme-challenge.example.test").await.unwrap(),
        vec!["tok1"]
    );
    s.set_txt(
        "_acme-challenge.example.test",
        vec!["tok2".into(), "tok3".into()],
    )
    .await
    .unwrap();
    let mut got = r.txt("_acme-challenge.example.test").await.unwrap();
    got.sort();
    assert_eq!(got, vec!["tok2", "tok3"]);
    assert_eq!(
        s.records("_acme-challenge.example.test")
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        s.remove("_acme-challenge.example.test", None)
            .await
            .unwrap()
    );
    assert!(
        !s.remove("_acme-challenge.example.test", None)
            .await
            .unwrap()
    );
    assert_eq!(
        r.txt("_acme-challenge.example.test").await,
        Err(LookupError::NxDomain)
    );
    s.add_zone("new.test").await.unwrap();
    s.add(rec("new.test", "A", "127.0.0.9")).await.unwrap();
    assert_eq!(r.ips("new.test").await.unwrap().len(), 1);
    assert!(
        s.add(rec("x.unknown.test", "A", "127.0.0.1"))
            .await
            .is_err()
    );

    let h = s.history();
    let txt = h
        .iter()
        .find(|q| q.qtype == "TXT" && q.name == "_acme-challenge.example.test.")
        .expect("TXT query recorded");
    assert_eq!(txt.opcode, "query");
    assert_eq!(txt.rcode.as_deref(), Some("NXDomain"));
    assert!(h.iter().any(|q| q.answers == 2 && q.qtype == "TXT"));
    let found = s
        .wait_for_query(|q| q.name == "new.test." && q.qtype == "A", T)
        .await;
    assert_eq!(found.and_then(|q| q.rcode), Some("NoError".into()));
    // Still quiet for something that never comes.
    assert!(
        s.wait_for_query(|q| q.name == "never.test.", Duration::from_millis(50))
            .await
            .is_none()
    );
    s.clear_history();
    assert!(s.history().is_empty());
}

#[tokio::test]
async fn garbage_is_answered_or_dropped_and_server_survives() {
    let s = server().await;
    let good = query("www.example.test.", RecordType::A);
    // Too short for a header: dropped.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(b"\x01\x02\x03", s.addr()).await.unwrap();
    // A valid header claiming one question, followed by junk: FORMERR.
    let mut junk = good[..12].to_vec();
    junk.extend_from_slice(&[0xff; 40]);
    let resp = udp_exchange(s.addr(), &junk).await.expect("FORMERR answer");
    assert_eq!(resp.metadata.response_code, ResponseCode::FormErr);
    // TCP: junk frame, then the connection still serves or closes; a new query works.
    let mut t = TcpStream::connect(s.addr()).await.unwrap();
    t.write_all(&[0, 5, 1, 2, 3, 4, 5]).await.unwrap();
    t.write_all(&[0xff, 0xff]).await.unwrap();
    drop(t);
    let ok = udp_exchange(s.addr(), &good)
        .await
        .expect("udp still answers");
    assert_eq!(ok.answers.len(), 1);
    let ok = tcp_exchange(s.addr(), &good)
        .await
        .expect("tcp still answers");
    assert_eq!(ok.answers.len(), 1);
}

fn key(alg: TsigAlgorithmSpec, secret: &str) -> TsigKeySpec {
    TsigKeySpec {
        name: "acme-key.".into(),
        algorithm: alg,
        secret: secret.into(),
    }
}

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
const WRONG: &str = "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmct";

fn txt_add(name: &str, v: &str) -> Message {
    let mut set = RecordSet::new(Name::from_ascii(name).unwrap(), RecordType::TXT, 0);
    set.insert(
        Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            120,
            RData::TXT(TXT::new(vec![v.into()])),
        ),
        0,
    );
    update_message::append(
        set,
        Name::from_ascii("example.test.").unwrap(),
        false,
        false,
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn tsig_signed_update_accepted_bad_ones_rejected() {
    let mut c = config();
    c.tsig = Some(key(TsigAlgorithmSpec::HmacSha512, SECRET));
    let s = DnsServer::start(c).await.unwrap();
    let r = resolver(&s);
    let good = key(TsigAlgorithmSpec::HmacSha512, SECRET).signer().unwrap();

    // Signed (hmac-sha512, certbot/lego shape): accepted, response signed.
    let mut m = txt_add("_acme-challenge.example.test.", "signed");
    m.finalize(&good, now()).unwrap();
    let resp = udp_exchange(s.addr(), &m.to_vec().unwrap()).await.unwrap();
    assert_eq!(resp.metadata.response_code, ResponseCode::NoError);
    let sig = resp.signature().expect("response carries TSIG");
    assert!(!sig.data.mac.is_empty());
    assert_eq!(
        r.txt("_acme-challenge.example.test").await.unwrap(),
        vec!["signed"]
    );
    let rec = s.wait_for_query(|q| q.opcode == "update", T).await.unwrap();
    assert_eq!(rec.tsig_key.as_deref(), Some("acme-key."));

    // Unsigned: REFUSED, nothing changes.
    let m = txt_add("_acme-challenge.example.test.", "unsigned");
    let resp = udp_exchange(s.addr(), &m.to_vec().unwrap()).await.unwrap();
    assert_eq!(resp.metadata.response_code, ResponseCode::Refused);

    // Wrong secret: NOTAUTH + BADSIG.
    let bad = key(TsigAlgorithmSpec::HmacSha512, WRONG).signer().unwrap();
    let mut m = txt_add("_acme-challenge.example.test.", "badsig");
    m.finalize(&bad, now()).unwrap();
    let resp = udp_exchange(s.addr(), &m.to_vec().unwrap()).await.unwrap();
    assert_eq!(resp.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(
        resp.signature().unwrap().data.error,
        Some(TsigError::BadSig)
    );

    // Right secret, other algorithm: NOTAUTH + BADKEY.
    let other = key(TsigAlgorithmSpec::HmacSha256, SECRET).signer().unwrap();
    let mut m = txt_add("_acme-challenge.example.test.", "badkey");
    m.finalize(&other, now()).unwrap();
    let resp = udp_exchange(s.addr(), &m.to_vec().unwrap()).await.unwrap();
    assert_eq!(resp.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(
        resp.signature().unwrap().data.error,
        Some(TsigError::BadKey)
    );

    // Time far off (and a hostile time of 0): BADTIME, no panic.
    for t in [0, now() - 10_000] {
        let mut m = txt_add("_acme-challenge.example.test.", "badtime");
        m.finalize(&good, t).unwrap();
        let resp = udp_exchange(s.addr(), &m.to_vec().unwrap()).await.unwrap();
        assert_eq!(resp.metadata.response_code, ResponseCode::NotAuth);
        assert_eq!(
            resp.signature().unwrap().data.error,
            Some(TsigError::BadTime)
        );
    }
    assert_eq!(
        r.txt("_acme-challenge.example.test").await.unwrap(),
        vec!["signed"],
        "rejected updates changed nothing"
    );
}

// ---- TSIG-signed queries (RFC 8945 §5.3: the answer is signed too) -----------------------------

fn signed_server_config(alg: TsigAlgorithmSpec) -> DnsConfig {
    let mut c = config();
    c.tsig = Some(key(alg, SECRET));
    c
}

/// Signs `m` with `signer` the way hickory's client does (`Message::finalize`), exchanges it over
/// TCP or UDP, and checks the answer's TSIG with the verifier hickory's client streams use.
async fn signed_exchange(
    addr: SocketAddr,
    mut m: Message,
    signer: &TSigner,
    tcp: bool,
) -> Result<Message, String> {
    let mut verifier = m
        .finalize(signer, now())
        .unwrap()
        .expect("a TSIG signer hands back a verifier");
    let bytes = m.to_vec().unwrap();
    let raw = if tcp {
        tcp_raw(addr, &bytes).await
    } else {
        udp_raw(addr, &bytes).await
    }
    .expect("an answer");
    let answer = Message::from_vec(&raw).expect("answer parses");
    if answer.signature().is_none() {
        return Err(format!("unsigned answer: {answer}"));
    }
    verifier
        .verify(&raw)
        .map_err(|e| format!("TSIG does not verify: {e}: {answer}"))?;
    Ok(answer)
}

#[tokio::test]
async fn tsig_signed_queries_get_signed_answers_over_udp_and_tcp() {
    for alg in [TsigAlgorithmSpec::HmacSha256, TsigAlgorithmSpec::HmacSha512] {
        let s = DnsServer::start(signed_server_config(alg)).await.unwrap();
        let signer = key(alg, SECRET).signer().unwrap();
        for tcp in [false, true] {
            let ctx = format!("{alg:?} tcp={tcp}");
            // SOA, as certbot's rfc2136 plugin asks before its UPDATE.
            let soa = query_message("example.test.", RecordType::SOA);
            let a = signed_exchange(s.addr(), soa, &signer, tcp).await;
            let a = a.unwrap_or_else(|e| panic!("{ctx}: SOA: {e}"));
            assert_eq!(a.metadata.response_code, ResponseCode::NoError, "{ctx}");
            assert!(a.metadata.authoritative, "{ctx}");
            assert_eq!(a.answers.len(), 1, "{ctx}");
            assert_eq!(a.answers[0].record_type(), RecordType::SOA, "{ctx}");

            let txt = query_message("example.test.", RecordType::TXT);
            let a = signed_exchange(s.addr(), txt, &signer, tcp).await;
            let a = a.unwrap_or_else(|e| panic!("{ctx}: TXT: {e}"));
            assert_eq!(a.answers.len(), 1, "{ctx}");
            let RData::TXT(t) = &a.answers[0].data else {
                panic!("{ctx}: not TXT: {a}");
            };
            assert_eq!(t.to_string(), "v=spf1 -all", "{ctx}");

            // A negative answer (with the SOA in the authority section) is signed as well.
            let nx = query_message("nothing.example.test.", RecordType::TXT);
            let a = signed_exchange(s.addr(), nx, &signer, tcp).await;
            let a = a.unwrap_or_else(|e| panic!("{ctx}: NXDOMAIN: {e}"));
            assert_eq!(a.metadata.response_code, ResponseCode::NXDomain, "{ctx}");
            assert!(!a.authorities.is_empty(), "{ctx}");

            // 700 octets of TXT: over UDP without EDNS the signed answer must stay within 512
            // octets (TC=1, the TSIG still there); TCP carries all of it.
            let long = query_message("long.example.test.", RecordType::TXT);
            let a = signed_exchange(s.addr(), long, &signer, tcp).await;
            let a = a.unwrap_or_else(|e| panic!("{ctx}: long TXT: {e}"));
            if tcp {
                assert!(!a.metadata.truncation, "{ctx}");
                assert_eq!(a.answers.len(), 1, "{ctx}");
            } else {
                assert!(a.metadata.truncation, "{ctx}: 700 octets need TCP");
                assert!(a.to_vec().unwrap().len() <= 512, "{ctx}");
            }
        }
        let h = s.history();
        assert!(
            h.iter()
                .filter(|q| q.opcode == "query")
                .all(|q| q.tsig_key.as_deref() == Some("acme-key.")),
            "{h:?}"
        );
        s.shutdown().await;
    }
}

/// An unsigned UDP answer is cut to 512 octets without EDNS (RFC 1035 §4.2.1: TC=1, so the
/// client asks again over TCP) and to the EDNS payload size with it (RFC 6891 §6.2.5).
/// One client socket asking the same question again (so the same UDP receiver answers, and
/// may replay its earlier answer): every change to the records, the zones or the faults shows
/// in the very next answer, each answer carries its own query's ID, and every query is
/// recorded.
#[tokio::test]
async fn repeated_udp_queries_see_every_change_at_once() {
    let s = server().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(s.addr()).await.unwrap();
    let mut id = 0u16;
    let mut ask = async |name: &str| {
        id += 1;
        let mut m = query_message(name, RecordType::TXT);
        m.metadata.id = id;
        sock.send(&m.to_vec().unwrap()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = timeout(T, sock.recv(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        let answer = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(answer.metadata.id, id, "the answer carries its query's ID");
        let texts: Vec<String> = answer.answers.iter().map(|r| r.data.to_string()).collect();
        (answer.metadata.response_code, texts)
    };
    let name = "_acme-challenge.cache.example.test.";
    let nx = (ResponseCode::NXDomain, vec![]);
    assert_eq!(ask(name).await, nx);
    assert_eq!(ask(name).await, nx);

    s.set_txt(name, vec!["first".into()]).await.unwrap();
    assert_eq!(
        ask(name).await,
        (ResponseCode::NoError, vec!["first".into()])
    );
    assert_eq!(
        ask(name).await,
        (ResponseCode::NoError, vec!["first".into()])
    );
    s.set_txt(name, vec!["second".into()]).await.unwrap();
    assert_eq!(
        ask(name).await,
        (ResponseCode::NoError, vec!["second".into()])
    );

    s.set_fault(name, Fault::ServFail).unwrap();
    assert_eq!(ask(name).await, (ResponseCode::ServFail, vec![]));
    assert_eq!(ask(name).await, (ResponseCode::ServFail, vec![]));
    s.clear_fault(name).unwrap();
    assert_eq!(
        ask(name).await,
        (ResponseCode::NoError, vec!["second".into()])
    );

    assert!(s.remove(name, None).await.unwrap());
    assert_eq!(ask(name).await, nx);

    let outside = "_acme-challenge.later.test.";
    assert_eq!(ask(outside).await, (ResponseCode::Refused, vec![]));
    s.add_zone("later.test").await.unwrap();
    assert_eq!(ask(outside).await, nx);

    let history = s.history();
    assert_eq!(history.len(), usize::from(id), "every query recorded");
    let local = sock.local_addr().unwrap();
    assert!(history.iter().all(|q| q.peer == local));
    let faults = history.iter().filter(|q| q.fault == Some(Fault::ServFail));
    assert_eq!(faults.count(), 2);
    s.shutdown().await;
}

#[tokio::test]
async fn udp_answers_are_cut_to_the_payload_the_query_offers() {
    let s = server().await;
    let plain = query("long.example.test.", RecordType::TXT);
    let raw = udp_raw(s.addr(), &plain).await.expect("an answer");
    let a = Message::from_vec(&raw).unwrap();
    assert!(
        a.metadata.truncation,
        "700 octets of TXT do not fit in 512: {a}"
    );
    assert!(raw.len() <= 512, "{} octets", raw.len());

    let mut m = query_message("long.example.test.", RecordType::TXT);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    m.edns = Some(edns);
    let raw = udp_raw(s.addr(), &m.to_vec().unwrap())
        .await
        .expect("an answer");
    let a = Message::from_vec(&raw).unwrap();
    assert!(!a.metadata.truncation, "EDNS offered 4096 octets: {a}");
    assert_eq!(a.answers.len(), 1);
    assert!(raw.len() > 512, "{} octets", raw.len());
    s.shutdown().await;
}

#[tokio::test]
async fn tsig_signed_query_with_edns_and_a_fault_is_signed() {
    let s = DnsServer::start(signed_server_config(TsigAlgorithmSpec::HmacSha256))
        .await
        .unwrap();
    let signer = key(TsigAlgorithmSpec::HmacSha256, SECRET).signer().unwrap();
    // EDNS (4096): the 700-octet TXT fits in one signed UDP answer with its OPT record.
    let mut m = query_message("long.example.test.", RecordType::TXT);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    m.edns = Some(edns);
    let a = signed_exchange(s.addr(), m, &signer, false).await.unwrap();
    assert!(!a.metadata.truncation);
    assert_eq!(a.answers.len(), 1);
    assert!(a.edns.is_some());

    // A SERVFAIL fault answers a signed query with a signed SERVFAIL.
    s.set_fault("www.example.test", Fault::ServFail).unwrap();
    for tcp in [false, true] {
        let m = query_message("www.example.test.", RecordType::A);
        let a = signed_exchange(s.addr(), m, &signer, tcp).await.unwrap();
        assert_eq!(a.metadata.response_code, ResponseCode::ServFail);
    }
}

#[tokio::test]
async fn unsigned_query_gets_unsigned_answer_and_bad_tsig_gets_notauth() {
    let s = DnsServer::start(signed_server_config(TsigAlgorithmSpec::HmacSha256))
        .await
        .unwrap();
    for tcp in [false, true] {
        // Unsigned: answered as before, no TSIG RR, even though the server has a key.
        let bytes = query("example.test.", RecordType::SOA);
        let a = if tcp {
            tcp_exchange(s.addr(), &bytes).await
        } else {
            udp_exchange(s.addr(), &bytes).await
        }
        .unwrap();
        assert_eq!(a.metadata.response_code, ResponseCode::NoError);
        assert_eq!(a.answers.len(), 1);
        assert!(a.signature().is_none(), "tcp={tcp}: {a}");
        assert!(a.additionals.is_empty());

        // Wrong secret: NOTAUTH with an unsigned BADSIG TSIG (RFC 8945 §5.3.2), no data.
        let wrong = key(TsigAlgorithmSpec::HmacSha256, WRONG).signer().unwrap();
        let mut m = query_message("example.test.", RecordType::SOA);
        m.finalize(&wrong, now()).unwrap();
        let bytes = m.to_vec().unwrap();
        let a = if tcp {
            tcp_exchange(s.addr(), &bytes).await
        } else {
            udp_exchange(s.addr(), &bytes).await
        }
        .unwrap();
        assert_eq!(a.metadata.response_code, ResponseCode::NotAuth, "tcp={tcp}");
        assert!(a.answers.is_empty());
        let sig = a.signature().expect("error TSIG");
        assert_eq!(sig.data.error, Some(TsigError::BadSig));
        assert!(sig.data.mac.is_empty(), "BADSIG answers carry no MAC");

        // Unknown key name: NOTAUTH + BADKEY.
        let mut other = key(TsigAlgorithmSpec::HmacSha256, SECRET);
        other.name = "someone-else.".into();
        let mut m = query_message("example.test.", RecordType::SOA);
        m.finalize(&other.signer().unwrap(), now()).unwrap();
        let a = udp_exchange(s.addr(), &m.to_vec().unwrap()).await.unwrap();
        assert_eq!(a.metadata.response_code, ResponseCode::NotAuth);
        assert_eq!(a.signature().unwrap().data.error, Some(TsigError::BadKey));
    }

    // A server without a key answers unsigned queries unsigned too.
    let plain = server().await;
    let a = udp_exchange(plain.addr(), &query("example.test.", RecordType::SOA))
        .await
        .unwrap();
    assert!(a.signature().is_none() && a.answers.len() == 1);
}

// ---- real tools -------------------------------------------------------------------------------

async fn run(cmd: std::path::PathBuf, args: Vec<String>, stdin: Option<String>) -> (bool, String) {
    let job = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut c = Command::new(cmd);
        c.args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().expect("spawn");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        } else {
            drop(child.stdin.take());
        }
        let out = child.wait_with_output().expect("wait");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    });
    timeout(Duration::from_secs(30), job)
        .await
        .expect("tool finished in time")
        .expect("join")
}

fn dig_args(s: &DnsServer, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "@127.0.0.1".to_string(),
        "-p".into(),
        s.addr().port().to_string(),
        "+short".into(),
        "+time=2".into(),
        "+tries=1".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[tokio::test]
async fn dig_and_kdig_read_records() {
    let s = server().await;
    if let Some(dig) = acmeproof_testkit::require_tool("dig") {
        let (ok, out) = run(dig.clone(), dig_args(&s, &["A", "www.example.test"]), None).await;
        assert!(ok && out.trim() == "127.0.0.1", "{out}");
        let (_, out) = run(dig.clone(), dig_args(&s, &["MX", "example.test"]), None).await;
        assert!(
            out.contains("10 mx.example.test.") && out.contains("20 mx2.example.test."),
            "{out}"
        );
        let (_, out) = run(dig.clone(), dig_args(&s, &["TXT", "example.test"]), None).await;
        assert_eq!(out.trim(), "\"v=spf1 -all\"");
        let (_, out) = run(dig.clone(), dig_args(&s, &["CAA", "example.test"]), None).await;
        assert!(out.contains("0 issuemail \"acmeproof.test\""), "{out}");
        // Bad input stays bad: a missing name gives no answer lines.
        let (_, out) = run(dig, dig_args(&s, &["A", "nothing.example.test"]), None).await;
        assert_eq!(out.trim(), "");
    }
    if let Some(kdig) = acmeproof_testkit::require_tool("kdig") {
        for transport in [None, Some("+tcp")] {
            let mut extra = vec!["A", "www.example.test"];
            extra.extend(transport);
            let (ok, out) = run(kdig.clone(), kdig_args(&s, &extra), None).await;
            assert!(ok && out.trim() == "127.0.0.1", "{transport:?}: {out}");
            let mut extra = vec!["CAA", "example.test"];
            extra.extend(transport);
            let (_, out) = run(kdig.clone(), kdig_args(&s, &extra), None).await;
            assert!(out.contains("issuemail"), "{out}");
            let mut extra = vec!["TXT", "long.example.test"];
            extra.extend(transport);
            let (_, out) = run(kdig.clone(), kdig_args(&s, &extra), None).await;
            assert_eq!(out.matches('"').count(), 6, "700 octets = 3 strings: {out}");
        }
        let h = s.history();
        assert!(
            h.iter()
                .any(|q| q.transport == acmeproof_mocks::dns::Transport::Tcp)
        );
    }
}

fn kdig_args(s: &DnsServer, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "@127.0.0.1".to_string(),
        "-p".into(),
        s.addr().port().to_string(),
        "+short".into(),
        "+time=2".into(),
        "+retry=0".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn nsupdate_script(s: &DnsServer, body: &str) -> String {
    format!(
        "server 127.0.0.1 {}\nzone example.test\n{body}\nsend\n",
        s.addr().port()
    )
}

async fn dig_txt(s: &DnsServer, name: &str) -> String {
    let dig = acmeproof_testkit::require_tool("dig").expect("dig");
    run(dig, dig_args(s, &["TXT", name]), None).await.1
}

#[tokio::test]
async fn nsupdate_adds_and_deletes_unsigned() {
    let Some(tools) = acmeproof_testkit::require_tools(&["nsupdate", "dig"]) else {
        return;
    };
    let s = server().await;
    let name = "_acme-challenge.www.example.test";
    let add = nsupdate_script(&s, &format!("update add {name}. 60 IN TXT \"tok-123\""));
    let (ok, out) = run(tools[0].clone(), vec!["-v".into()], Some(add)).await;
    assert!(ok, "{out}");
    assert_eq!(dig_txt(&s, name).await.trim(), "\"tok-123\"");
    let del = nsupdate_script(&s, &format!("update delete {name}. IN TXT \"tok-123\""));
    let (ok, out) = run(tools[0].clone(), vec!["-v".into()], Some(del)).await;
    assert!(ok, "{out}");
    assert_eq!(dig_txt(&s, name).await.trim(), "");
    // Outside our zones: nsupdate reports the refusal.
    let bad = format!(
        "server 127.0.0.1 {}\nzone other.test\nupdate add x.other.test. 60 IN TXT \"x\"\nsend\n",
        s.addr().port()
    );
    let (ok, out) = run(tools[0].clone(), vec!["-v".into()], Some(bad)).await;
    assert!(!ok && out.contains("REFUSED"), "{out}");
}

#[tokio::test]
async fn nsupdate_with_tsig_key_and_wrong_secret() {
    let Some(tools) = acmeproof_testkit::require_tools(&["nsupdate", "dig"]) else {
        return;
    };
    let mut c = config();
    c.tsig = Some(key(TsigAlgorithmSpec::HmacSha256, SECRET));
    let s = DnsServer::start(c).await.unwrap();
    let name = "_acme-challenge.signed.example.test";
    let add = nsupdate_script(&s, &format!("update add {name}. 60 IN TXT \"sig\""));
    let y = s.tsig_key().unwrap().nsupdate_arg();
    let (ok, out) = run(
        tools[0].clone(),
        vec!["-v".into(), "-y".into(), y.clone()],
        Some(add.clone()),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(dig_txt(&s, name).await.trim(), "\"sig\"");

    let wrong = key(TsigAlgorithmSpec::HmacSha256, WRONG).nsupdate_arg();
    let add2 = nsupdate_script(&s, &format!("update add {name}. 60 IN TXT \"wrong\""));
    let (ok, out) = run(
        tools[0].clone(),
        vec!["-v".into(), "-y".into(), wrong],
        Some(add2),
    )
    .await;
    assert!(!ok, "wrong secret must fail: {out}");
    // Unsigned is refused when a key is configured.
    let add3 = nsupdate_script(&s, &format!("update add {name}. 60 IN TXT \"unsigned\""));
    let (ok, out) = run(tools[0].clone(), vec!["-v".into()], Some(add3)).await;
    assert!(!ok && out.contains("REFUSED"), "{out}");
    assert_eq!(dig_txt(&s, name).await.trim(), "\"sig\"");

    let del = nsupdate_script(&s, &format!("update delete {name}. TXT"));
    let (ok, out) = run(
        tools[0].clone(),
        vec!["-v".into(), "-y".into(), y],
        Some(del),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(dig_txt(&s, name).await.trim(), "");
}

/// `dig -y` signs its query and rejects an answer whose TSIG is missing or does not verify
/// ("tsig verify failure", "Expected a TSIG or SIG(0)").
#[tokio::test]
async fn dig_with_tsig_key_verifies_the_signed_answer() {
    let Some(dig) = acmeproof_testkit::require_tool("dig") else {
        return;
    };
    let s = DnsServer::start(signed_server_config(TsigAlgorithmSpec::HmacSha256))
        .await
        .unwrap();
    let y = s.tsig_key().unwrap().nsupdate_arg();
    let port = s.addr().port().to_string();
    for (qtype, name) in [("SOA", "example.test"), ("TXT", "example.test")] {
        for transport in ["+notcp", "+tcp"] {
            let args = [
                "-y",
                &y,
                "@127.0.0.1",
                "-p",
                &port,
                "+time=2",
                "+tries=1",
                transport,
                qtype,
                name,
            ];
            let args = args.iter().map(|a| a.to_string()).collect();
            let (ok, out) = run(dig.clone(), args, None).await;
            let ctx = format!("{qtype} {transport}:\n{out}");
            assert!(ok, "{ctx}");
            assert!(out.contains("status: NOERROR"), "{ctx}");
            assert!(out.contains("ANSWER: 1,"), "{ctx}");
            let lower = out.to_ascii_lowercase();
            assert!(!lower.contains("tsig verify failure"), "{ctx}");
            assert!(!lower.contains("expected a tsig"), "{ctx}");
            assert!(!lower.contains("couldn't verify"), "{ctx}");
            assert!(out.contains("TSIG PSEUDOSECTION"), "{ctx}");
        }
    }
    // The wrong secret: the server says NOTAUTH (dig reports the BADSIG).
    let wrong = key(TsigAlgorithmSpec::HmacSha256, WRONG).nsupdate_arg();
    let args = [
        "-y",
        &wrong,
        "@127.0.0.1",
        "-p",
        &port,
        "+time=2",
        "+tries=1",
        "SOA",
    ];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push("example.test".into());
    let (_, out) = run(dig, args, None).await;
    assert!(!out.contains("status: NOERROR"), "{out}");
}

/// A Python with dnspython: `python3` on PATH, or the interpreter certbot runs on. None (a skip,
/// even in CI) when there is none: dnspython is certbot's, not a tool this project installs.
fn python_with_dnspython() -> Option<std::path::PathBuf> {
    let mut candidates = vec![acmeproof_testkit::find_tool("python3")];
    if let Some(certbot) = acmeproof_testkit::find_tool("certbot") {
        let dir = std::fs::canonicalize(&certbot)
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("python3")));
        candidates.push(dir);
    }
    candidates.push(acmeproof_testkit::find_tool(
        "/opt/acmeproof-venv/bin/python",
    ));
    candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args(["-c", "import dns.tsigkeyring, dns.query, dns.message"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// What certbot's rfc2136 plugin does before its UPDATE: a TSIG-signed SOA query with
/// dnspython, which raises on an unsigned or badly signed answer.
const DNSPYTHON_SOA: &str = r#"
import sys
import dns.flags, dns.message, dns.query, dns.rcode, dns.rdataclass, dns.rdatatype, dns.tsigkeyring
port, name, alg, secret, zone, transport = sys.argv[1:]
keyring = dns.tsigkeyring.from_text({name: secret})
q = dns.message.make_query(zone, dns.rdatatype.SOA, dns.rdataclass.IN)
q.flags ^= dns.flags.RD
q.use_tsig(keyring, algorithm=alg)
send = dns.query.tcp if transport == "tcp" else dns.query.udp
r = send(q, "127.0.0.1", port=int(port), timeout=3)
print(dns.rcode.to_text(r.rcode()), "signed" if r.had_tsig else "unsigned", len(r.answer))
"#;

#[tokio::test]
#[allow(
    clippy::print_stderr,
    reason = "the skip notice, as acmeproof_testkit::require_tool prints it"
)]
async fn dnspython_signed_soa_query_like_certbot() {
    let Some(python) = python_with_dnspython() else {
        eprintln!("skipped: no python3 with dnspython");
        return;
    };
    let s = DnsServer::start(signed_server_config(TsigAlgorithmSpec::HmacSha512))
        .await
        .unwrap();
    let k = s.tsig_key().unwrap().clone();
    for transport in ["udp", "tcp"] {
        let args = vec![
            "-c".to_string(),
            DNSPYTHON_SOA.into(),
            s.addr().port().to_string(),
            k.name.clone(),
            k.algorithm.as_str().into(),
            k.secret.clone(),
            "example.test.".into(),
            transport.into(),
        ];
        let (ok, out) = run(python.clone(), args, None).await;
        assert!(ok, "{transport}: {out}");
        assert_eq!(out.trim(), "NOERROR signed 1", "{transport}: {out}");
    }
}

/// The driver behind `acmeproof bench dns` checks every answer and closes both windows: a small
/// run, no timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_driver_checks_every_answer_and_measures_both_windows() {
    use acmeproof_mocks::dns::bench::{DnsBenchError, bench_queries};
    let r = bench_queries(2_000, 3, 500).await.unwrap();
    assert_eq!((r.queries, r.clients, r.window), (2_000, 3, 500));
    assert_eq!(r.history_len, 2_000, "every query recorded");
    assert!(r.first_rate > 0.0 && r.last_rate > 0.0, "{r:?}");
    assert!(matches!(
        bench_queries(999, 1, 500).await,
        Err(DnsBenchError::Params(_))
    ));
}
