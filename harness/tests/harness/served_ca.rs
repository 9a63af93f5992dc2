//! The reference CA as an external server: `acmeproof serve` judged by `acmeproof run
//! --server-url`, two processes wired by configuration files only, as an operator wires any CA.
//! The served CA resolves through the run's DNS, hands its challenge mail to the run's MX, and
//! gets the replies through an MX record of the run's world that names the CA's own MX; the
//! run's DNS publishes the CA's DKIM key. The unbroken CA passes every server scenario; a CA
//! with one rule broken on purpose gets that rule's finding and nothing else.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve::ServeProcess;
use crate::support::fixed_ports;

/// The CA's challenge domain: outside the run's world, reached through its MX record.
const CA_DOMAIN: &str = "served.test";

/// What one judged run gave.
struct Judged {
    /// `scenarios[].id` → `scenarios[].outcome` of report.json.
    outcomes: Vec<(String, String)>,
    /// Every finding's requirement id, with its scenario.
    findings: Vec<(String, String)>,
    /// The run's exit code.
    exit: Option<i32>,
    /// The run's wall time.
    took: Duration,
    /// What it said on stderr.
    said: String,
}

impl Judged {
    fn count(&self, outcome: &str) -> usize {
        self.outcomes.iter().filter(|(_, o)| o == outcome).count()
    }
}

/// Serves the reference CA with `knobs` (TOML lines of `[ca.knobs]`) and judges it with the
/// scenarios matching `filters` (all server scenarios when empty). The fixed ports are picked
/// free but another test may take one before it is bound: then, and only then, the two
/// processes are started again on other ports.
fn judge(name: &str, knobs: &str, filters: &[&str]) -> Judged {
    let mut taken = Vec::new();
    for _ in 0..3 {
        match try_judge(name, knobs, filters) {
            Ok(judged) => return judged,
            Err(why) => taken.push(why),
        }
    }
    panic!("a fixed port was taken three times: {taken:#?}")
}

/// One attempt of [`judge`]; `Err` when a fixed port was taken meanwhile.
fn try_judge(name: &str, knobs: &str, filters: &[&str]) -> Result<Judged, String> {
    let ports = fixed_ports(10);
    let (dns, ca_mx) = (ports[0], ports[1]);
    // The run's mail servers, each on a fixed port: the capability challenges of
    // draft-ietf-acme-email-tls reach them there ([ca.connect_ports], service port → port).
    let services: Vec<(&str, u16, u16)> = [
        ("mx", 25),
        ("submission", 587),
        ("submissions", 465),
        ("imap", 143),
        ("imaps", 993),
        ("pop3", 110),
        ("pop3s", 995),
        ("lmtp", 24),
    ]
    .into_iter()
    .zip(&ports[2..])
    .map(|((server, port), at)| (server, port, *at))
    .collect();
    let mx = services[0].2;
    let connect_ports: String = services
        .iter()
        .map(|(_, port, at)| format!("\"{port}\" = {at}\n"))
        .collect();
    let served = ServeProcess::try_start(
        name,
        Some(&format!(
            "seed = 8823\n\
             [ca]\nchallenge_from = \"acme-challenge@{CA_DOMAIN}\"\n\
             resolver = \"127.0.0.1:{dns}\"\nsmarthost = \"127.0.0.1:{mx}\"\n\
             [ca.connect_ports]\n{connect_ports}\
             [ca.knobs]\n{knobs}\n\
             [mail.listen]\nca_mx = \"127.0.0.1:{ca_mx}\"\n"
        )),
    )?;
    let dkim = served.endpoints["mail"]["dkim"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["domain"] == CA_DOMAIN))
        .cloned()
        .expect("the served CA's DKIM key");
    // The run's world: the example world, its DNS and MX on the fixed ports, the CA's domain
    // with an MX record naming the CA's MX and the CA's DKIM key.
    let mut world: toml::Table =
        toml::from_str(acmeproof_mocks::world::EXAMPLE_WORLD).expect("example world");
    let table = |t: &mut toml::Table, key: &str| -> toml::Table {
        t.remove(key)
            .and_then(|v| v.as_table().cloned())
            .unwrap_or_default()
    };
    let mut dns_table = table(&mut world, "dns");
    dns_table.insert("listen".into(), format!("127.0.0.1:{dns}").into());
    let zones = dns_table
        .entry("zones")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    zones.as_array_mut().expect("zones").push(CA_DOMAIN.into());
    let record = |name: &str, kind: &str, value: &str| {
        let mut r = toml::Table::new();
        r.insert("name".into(), name.into());
        r.insert("type".into(), kind.into());
        r.insert("value".into(), value.into());
        toml::Value::Table(r)
    };
    let records = dns_table
        .entry("records")
        .or_insert_with(|| toml::Value::Array(Vec::new()))
        .as_array_mut()
        .expect("records");
    records.push(record(CA_DOMAIN, "MX", &format!("10 mx.{CA_DOMAIN}.")));
    records.push(record(&format!("mx.{CA_DOMAIN}"), "A", "127.0.0.1"));
    records.push(record(
        dkim["txt_name"].as_str().expect("txt_name"),
        "TXT",
        dkim["txt"].as_str().expect("txt"),
    ));
    world.insert("dns".into(), toml::Value::Table(dns_table));
    let mut mail = table(&mut world, "mail");
    let mut routes = toml::Table::new();
    routes.insert(
        format!("mx.{CA_DOMAIN}"),
        format!("127.0.0.1:{ca_mx}").into(),
    );
    mail.insert("routes".into(), toml::Value::Table(routes));
    let mut listen = toml::Table::new();
    for (server, _, at) in &services {
        listen.insert((*server).into(), format!("127.0.0.1:{at}").into());
    }
    mail.insert("listen".into(), toml::Value::Table(listen));
    world.insert("mail".into(), toml::Value::Table(mail));
    let world_file = served.dir.join("run-world.toml");
    std::fs::write(&world_file, toml::to_string(&world).expect("toml")).expect("write");

    let out = served.dir.join("report");
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_acmeproof"))
        .args(["run", "--quiet", "--format", "json", "--server-url"])
        .arg(served.get("directory_url"))
        .arg("--server-ca")
        .arg(served.bundle())
        .arg("--server-root")
        .arg(served.bundle())
        .arg("--server-world")
        .arg(&world_file)
        .arg("--out")
        .arg(&out)
        .arg("--scenarios")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
        .args(filters)
        .output()
        .expect("acmeproof run");
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&o.stderr).into_owned();
    if said.contains("Address already in use") {
        return Err(said);
    }
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json"))
            .unwrap_or_else(|e| panic!("report.json: {e}; stderr: {said}")),
    )
    .expect("report JSON");
    let mut outcomes = Vec::new();
    let mut findings = Vec::new();
    for s in report["scenarios"].as_array().expect("scenarios") {
        let id = s["id"].as_str().unwrap_or_default().to_owned();
        outcomes.push((id.clone(), s["outcome"].as_str().unwrap_or_default().into()));
        for f in s["findings"].as_array().into_iter().flatten() {
            findings.push((id.clone(), f["req"].as_str().unwrap_or_default().into()));
        }
    }
    Ok(Judged {
        outcomes,
        findings,
        exit: o.status.code(),
        took,
        said,
    })
}

#[test]
fn the_served_reference_ca_passes_every_server_scenario_within_a_minute() {
    let judged = judge("served-ca-clean", "", &[]);
    let not_passed: Vec<&(String, String)> = judged
        .outcomes
        .iter()
        .filter(|(_, o)| {
            !["pass", "pass-non-strict", "informational", "skipped"].contains(&o.as_str())
        })
        .collect();
    assert!(
        not_passed.is_empty(),
        "{} not passed: {not_passed:?}\nfindings: {:?}\n{}",
        not_passed.len(),
        judged.findings,
        judged.said
    );
    assert_eq!(judged.exit, Some(0), "{}", judged.said);
    // Email scenarios ran end to end through both processes, not only RFC 8555 ones.
    assert!(
        judged
            .outcomes
            .iter()
            .any(|(id, o)| id == "rfc8823/3/issuance-ascii-address" && o == "pass"),
        "{:#?}",
        judged.outcomes
    );
    assert!(
        judged.count("pass") > 100,
        "{} passed",
        judged.count("pass")
    );
    // No fixed waits: the whole run awaits mail and states.
    assert!(
        judged.took < Duration::from_secs(60),
        "a full server run took {:?}",
        judged.took
    );
}

#[test]
fn a_served_ca_accepting_unsigned_replies_gets_that_finding_and_nothing_else() {
    let judged = judge(
        "served-ca-unsigned",
        "accept_unsigned_replies = true",
        &["rfc8823/*"],
    );
    let failed: Vec<&String> = judged
        .outcomes
        .iter()
        .filter(|(_, o)| o == "fail")
        .map(|(id, _)| id)
        .collect();
    assert!(!failed.is_empty(), "{}", judged.said);
    let ids: std::collections::BTreeSet<&str> = judged
        .findings
        .iter()
        .filter(|(id, _)| failed.contains(&id))
        .map(|(_, req)| req.as_str())
        .collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        vec!["SMIME-51"],
        "{failed:#?}\n{:#?}",
        judged.findings
    );
    assert_eq!(judged.exit, Some(1), "{}", judged.said);
}
