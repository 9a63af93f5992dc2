//! `acmeproof run --server-url` against Pebble (Debian `pebble`), the ACME test server of
//! Let's Encrypt: the harness is its client and mailbox owner. Pebble does RFC 8555 and not
//! RFC 8823, so the RFC 8555 scenarios pass or name its deviations, and the email scenarios
//! are `unimplemented`, not crashes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Running, fixed_ports, lines};

/// A root and a leaf for 127.0.0.1 (Pebble's HTTPS; Debian's package ships none).
pub(crate) fn pebble_tls(dir: &Path) {
    let root_key = rcgen::KeyPair::generate().expect("key");
    let mut root = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    root.distinguished_name
        .push(rcgen::DnType::CommonName, "acmeproof test root for Pebble");
    let root_cert = root.self_signed(&root_key).expect("root");
    let issuer = rcgen::Issuer::new(root, root_key);
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    std::fs::write(dir.join("root.pem"), root_cert.pem()).expect("write");
    std::fs::write(dir.join("cert.pem"), leaf.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).expect("write");
}

/// Starts Pebble on `port` (its management API on `management`) with its TLS files in `dir`
/// (see [`pebble_tls`]), resolving names at `dns`: no sleeps, no nonce rejections, no
/// authorization reuse, so every run exercises a whole validation. Returns once Pebble listens;
/// panics with its log when it exits first.
pub(crate) fn start(pebble: &Path, dir: &Path, port: u16, management: u16, dns: &str) -> Running {
    // The ports Pebble's VA connects to for http-01 and tls-alpn-01.
    let validation_ports = fixed_ports(2);
    std::fs::write(
        dir.join("pebble.json"),
        serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("cert.pem"),
            "privateKey": dir.join("key.pem"),
            "httpPort": validation_ports[0],
            "tlsPort": validation_ports[1],
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }})
        .to_string(),
    )
    .expect("config");
    // Pebble's log (stdout) and its last words (stderr) go to one file, read when it fails.
    let log_path = dir.join("pebble.log");
    let log = std::fs::File::create(&log_path).expect("pebble.log");
    let mut pebble = Running(
        Command::new(pebble)
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", dns])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log.try_clone().expect("pebble.log"))
            .stderr(log)
            .spawn()
            .expect("pebble starts"),
    );
    // Started means listening on both ports: a port taken meanwhile is then Pebble's own
    // "address already in use" here, not a minute of "connection refused" in the run.
    let deadline = Instant::now() + START_LIMIT;
    let listening = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    loop {
        let said = || std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(status) = pebble.0.try_wait().expect("wait") {
            panic!(
                "Pebble exited ({status}) before it listened on 127.0.0.1:{port}:\n{}",
                said()
            );
        }
        if listening(port) && listening(management) {
            return pebble;
        }
        assert!(
            Instant::now() < deadline,
            "Pebble is not listening on 127.0.0.1:{port} after {START_LIMIT:?}:\n{}",
            said()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How long Pebble may take to generate its keys and listen.
const START_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn pebble_passes_or_names_its_deviations_and_email_is_unimplemented() {
    let Some(pebble) = acmeproof_testkit::require_tool("pebble") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("acmeproof-pebble-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    pebble_tls(&dir);
    let ports = fixed_ports(2);
    let (port, management) = (ports[0], ports[1]);
    let directory = format!("https://127.0.0.1:{port}/dir");

    // acmeproof first: it prints the DNS address Pebble must use, then waits for Pebble.
    let out = dir.join("report");
    let mut run = Command::new(env!("CARGO_BIN_EXE_acmeproof"));
    run.args([
        "run",
        "--quiet",
        "--format",
        "human,json",
        "--server-url",
        &directory,
    ])
    .arg("--server-ca")
    .arg(dir.join("root.pem"))
    .arg("--out")
    .arg(&out)
    .arg("--scenarios")
    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut harness = Running(run.spawn().expect("acmeproof runs"));
    let lines = lines(harness.0.stderr.take().expect("stderr"));
    let mut said = Vec::new();
    let dns = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no DNS address printed: {said:#?}"));
        said.push(line.clone());
        if let Some(rest) = line.split("DNS resolver ").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    let _pebble = start(&pebble, &dir, port, management, &dns);
    // Wait for acmeproof to finish (bounded), collecting what it says meanwhile.
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = harness.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "acmeproof run did not finish: {said:#?}"
        );
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            said.push(line);
        }
    };
    said.extend(lines.try_iter());
    let said = said.join("\n");
    assert!(said.contains("SMTP smarthost"), "{said}");
    assert!(said.contains("no RFC 8823 support"), "{said}");
    assert!(said.contains("unknown identifier type email"), "{said}");
    // Pebble deviates from RFC 8555 in places, so the run is not green.
    assert_eq!(status.code(), Some(1), "{said}");

    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("json");
    assert_eq!(report["sut"], "server");
    let results = report["scenarios"].as_array().expect("scenarios");
    let outcome = |id: &str| {
        results
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing"))["outcome"]
            .as_str()
            .expect("outcome")
            .to_owned()
    };
    // Real issuance through the world's DNS works: Pebble's VA queried acmeproof's server.
    for id in [
        "rfc8555/8.4/dns-01-issuance",
        "rfc8555/8.4/dns-01-wildcard-and-apex",
        "rfc8555/6.5/reused-nonce",
        "rfc8555/6.2/bad-signature",
    ] {
        assert_eq!(outcome(id), "pass", "{id}");
    }
    // Every email scenario that ran is unimplemented, with Pebble's own words.
    let email: Vec<&Value> = results
        .iter()
        .filter(|s| s["spec"] == "rfc8823" && s["outcome"] != "skipped")
        .collect();
    assert!(email.len() >= 10, "{}", email.len());
    for s in &email {
        assert_eq!(s["outcome"], "unimplemented", "{s:#}");
        assert!(
            s["error"]
                .as_str()
                .unwrap_or_default()
                .contains("malformed")
        );
    }
    // So is every draft-ietf-acme-email-tls issuance: Pebble offers only its RFC 8555
    // challenges for a dns identifier that names a mail service (a plain dns order passes).
    assert!(
        said.contains("no draft-ietf-acme-email-tls support"),
        "{said}"
    );
    let tls: Vec<&Value> = results
        .iter()
        .filter(|s| {
            s["spec"] == "email-tls"
                && !["skipped", "pass"].contains(&s["outcome"].as_str().unwrap_or_default())
        })
        .collect();
    assert!(tls.len() >= 20, "{}", tls.len());
    for s in &tls {
        assert_eq!(s["outcome"], "unimplemented", "{s:#}");
        assert!(
            s["error"].as_str().unwrap_or_default().contains("dns-01"),
            "{s:#}"
        );
    }
    // Failures are RFC 8555 findings (Pebble's deviations), never harness errors.
    for s in results {
        assert_ne!(s["outcome"], "error", "{s:#}");
        if s["outcome"] == "fail" {
            assert_eq!(s["spec"], "rfc8555", "{s:#}");
            let findings = s["findings"].as_array().expect("findings");
            assert!(!findings.is_empty(), "{s:#}");
        }
    }
    // One known deviation, named: newNonce answers carry no Cache-Control: no-store (§7.2).
    let nonce = results
        .iter()
        .find(|s| s["id"] == "rfc8555/7.1.1/directory-and-new-nonce")
        .expect("present");
    assert_eq!(nonce["outcome"], "fail");
    assert!(nonce.to_string().contains("no-store"), "{nonce:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
