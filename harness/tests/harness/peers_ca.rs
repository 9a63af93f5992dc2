//! lego against the CA features that Pebble has and acmeproof lacked: tls-alpn-01 (RFC 8737),
//! revocation by an account holding authorizations for every name (RFC 8555 §7.6), and an
//! account key other than P-256 (lego: P-384 at most); certbot's `acme` library with a P-521
//! account key (ES512); certbot `renew` following the CA's renewal information (RFC 9773). Each run is against `acmeproof serve`; the world's DNS points
//! the names at 127.0.0.1 and the CA's `tls_alpn01_port` knob at the port lego listens on.
//! Skipped with "skipped: X not installed" unless ACMEPROOF_REQUIRE_TOOLS=1 (as in CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use acmeproof_protocol::pki::CertSummary;
use serde_json::{Value, json};

use crate::peers::{run, show};
use crate::serve::ServeProcess;
use crate::support::{fixed_port, pem_chain};

/// A bound for one lego run.
const LEGO_LIMIT: Duration = Duration::from_secs(120);

/// The management API, from a synchronous test.
fn management(serve: &ServeProcess, method: reqwest::Method, path: &str, body: &Value) -> Value {
    let url = format!("{}{path}", serve.get("management_url"));
    let body = body.to_string();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let http = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut request = http.request(method, &url);
            if body != "null" {
                request = request.body(body);
            }
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{url}: {response:?}");
            response.json().await.unwrap()
        })
}

/// Points the CA's tls-alpn-01 validation at `port` on the names' address.
fn tls_alpn_port(serve: &ServeProcess, port: u16) {
    let knobs = management(
        serve,
        reqwest::Method::PATCH,
        "/knobs",
        &json!({ "tls_alpn01_port": port }),
    );
    assert_eq!(knobs["tls_alpn01_port"], port);
}

/// One lego account (its own `--path`), solving tls-alpn-01 only.
struct Lego<'a> {
    program: &'a Path,
    serve: &'a ServeProcess,
    path: PathBuf,
    email: String,
    key_type: &'a str,
}

impl<'a> Lego<'a> {
    fn new(program: &'a Path, serve: &'a ServeProcess, who: &str) -> Lego<'a> {
        Lego {
            program,
            serve,
            path: serve.dir.join(format!("lego-{who}")),
            email: format!("{who}@example.test"),
            key_type: "ec256",
        }
    }

    /// `lego … -d domain <args>` with a fresh tls-alpn-01 port the CA is pointed at.
    fn run(&self, domain: &str, args: &[&str]) -> Output {
        let port = fixed_port();
        tls_alpn_port(self.serve, port);
        let mut command = Command::new(self.program);
        command
            .env("LEGO_CA_CERTIFICATES", self.serve.bundle())
            .args(["--accept-tos", "--email", &self.email, "--server"])
            .arg(self.serve.get("directory_url"))
            .arg("--path")
            .arg(&self.path)
            .args(["--tls", "--tls.port", &format!("127.0.0.1:{port}")])
            .args(["--key-type", self.key_type, "-d", domain])
            .args(args);
        run(command, LEGO_LIMIT)
    }

    fn certificate(&self, domain: &str) -> PathBuf {
        self.path.join(format!("certificates/{domain}.crt"))
    }
}

/// The leaf of a PEM file lego wrote.
fn leaf(path: &Path) -> CertSummary {
    let pem = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    CertSummary::from_der(&pem_chain(&pem)[0]).expect("a certificate")
}

/// `valid` or `revoked`, as the CA's store has it.
fn status(serve: &ServeProcess, cert: &CertSummary) -> String {
    let answer = management(
        serve,
        reqwest::Method::GET,
        &format!("/certs/{}", cert.serial_hex),
        &Value::Null,
    );
    answer["status"].as_str().expect("status").to_owned()
}

/// The JWS `alg` of every newAccount lego sent.
fn new_account_algs(serve: &ServeProcess) -> Vec<String> {
    let history = management(serve, reqwest::Method::GET, "/history", &Value::Null);
    history
        .as_array()
        .expect("history")
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/new-account"))
        })
        .filter_map(|r| r["protected"]["alg"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn lego_gets_a_certificate_by_tls_alpn_01_and_fails_where_no_responder_is() {
    let Some(lego) = acmeproof_testkit::require_tool("lego") else {
        return;
    };
    let serve = ServeProcess::start("lego-tls", None);
    let domain = "www.example.test";
    let account = Lego::new(&lego, &serve, "alpn");
    let output = account.run(domain, &["run"]);
    assert!(
        output.status.success(),
        "lego --tls failed:\n{}",
        show(&output)
    );
    let cert = leaf(&account.certificate(domain));
    assert!(cert.has_san(&format!("dns:{domain}")), "{cert:?}");
    assert_eq!(status(&serve, &cert), "valid");
    // The CA really checks: pointed at a port where nothing answers acme-tls/1 (the
    // management API speaks plain HTTP), the validation fails and lego gets no certificate.
    let other = Lego::new(&lego, &serve, "alpn-elsewhere");
    let mgmt_port: u16 = serve
        .get("management_url")
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("management port");
    let mut command = Command::new(&lego);
    let port = fixed_port();
    tls_alpn_port(&serve, mgmt_port);
    command
        .env("LEGO_CA_CERTIFICATES", serve.bundle())
        .args(["--accept-tos", "--email", &other.email, "--server"])
        .arg(serve.get("directory_url"))
        .arg("--path")
        .arg(&other.path)
        .args(["--tls", "--tls.port", &format!("127.0.0.1:{port}")])
        .args(["-d", domain, "run"]);
    let output = run(command, LEGO_LIMIT);
    assert!(!output.status.success(), "{}", show(&output));
    assert!(
        show(&output).contains("urn:ietf:params:acme:error:tls"),
        "lego reports the CA's tls problem:\n{}",
        show(&output)
    );
    assert!(!other.certificate(domain).exists());
}

#[test]
fn lego_revokes_another_accounts_certificate_only_with_authorizations_for_its_names() {
    let Some(lego) = acmeproof_testkit::require_tool("lego") else {
        return;
    };
    let serve = ServeProcess::start("lego-revoke", None);
    let domain = "www.example.test";
    let owner = Lego::new(&lego, &serve, "owner");
    let output = owner.run(domain, &["run"]);
    assert!(output.status.success(), "owner:\n{}", show(&output));
    let owned = std::fs::read(owner.certificate(domain)).unwrap();
    let owned_leaf = leaf(&owner.certificate(domain));

    // An account with authorizations for another name only (example.test) is refused.
    let stranger = Lego::new(&lego, &serve, "stranger");
    let output = stranger.run("example.test", &["run"]);
    assert!(output.status.success(), "stranger:\n{}", show(&output));
    std::fs::write(stranger.certificate(domain), &owned).unwrap();
    let output = stranger.run(domain, &["revoke", "--keep"]);
    assert!(!output.status.success(), "{}", show(&output));
    assert!(
        show(&output).contains("urn:ietf:params:acme:error:unauthorized"),
        "{}",
        show(&output)
    );
    assert_eq!(status(&serve, &owned_leaf), "valid");

    // An account that proved control of www.example.test itself may revoke the owner's
    // certificate (RFC 8555 §7.6, ACME-35); its own certificate stays valid.
    let other = Lego::new(&lego, &serve, "other");
    let output = other.run(domain, &["run"]);
    assert!(output.status.success(), "other:\n{}", show(&output));
    let others_leaf = leaf(&other.certificate(domain));
    assert_ne!(others_leaf.serial_hex, owned_leaf.serial_hex);
    std::fs::write(other.certificate(domain), &owned).unwrap();
    let output = other.run(domain, &["revoke", "--keep", "--reason", "4"]);
    assert!(output.status.success(), "revoke:\n{}", show(&output));
    assert_eq!(status(&serve, &owned_leaf), "revoked");
    assert_eq!(status(&serve, &others_leaf), "valid");
}

#[test]
fn lego_registers_and_is_issued_with_a_p384_account_key() {
    let Some(lego) = acmeproof_testkit::require_tool("lego") else {
        return;
    };
    let serve = ServeProcess::start("lego-ec384", None);
    let domain = "www.example.test";
    // lego's `--key-type` makes the account key too; its largest curve is P-384 (no P-521).
    let mut account = Lego::new(&lego, &serve, "ec384");
    account.key_type = "ec384";
    let output = account.run(domain, &["run"]);
    assert!(output.status.success(), "lego ec384:\n{}", show(&output));
    assert_eq!(new_account_algs(&serve), ["ES384"]);
    let cert = leaf(&account.certificate(domain));
    assert!(cert.has_san(&format!("dns:{domain}")), "{cert:?}");
}

#[test]
fn certbots_acme_library_registers_and_is_issued_with_a_p521_account_key() {
    // certbot makes RSA account keys only; its `acme` library signs with any JWK, so the
    // script drives certbot's code path with a P-521 key (ES512).
    let Some(python) = acmeproof_testkit::require_python(&["acme", "josepy", "requests"]) else {
        return;
    };
    let serve = ServeProcess::start("certbot-p521", None);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/acme_p521_client.py"
    );
    let domain = "www.example.test";
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg(serve.get("directory_url"))
        .arg(serve.bundle())
        .arg(serve.get("management_url"))
        .arg(domain);
    let output = run(command, LEGO_LIMIT);
    assert!(output.status.success(), "acme (P-521):\n{}", show(&output));
    let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(answer["crv"], "P-521");
    assert_eq!(new_account_algs(&serve), ["ES512"]);
    let chain = pem_chain(answer["fullchain"].as_str().expect("fullchain"));
    let cert = CertSummary::from_der(&chain[0]).unwrap();
    assert!(cert.has_san(&format!("dns:{domain}")), "{cert:?}");
}

/// certbot with its folders under `serve`'s scratch folder and dns-01 through TSIG-signed
/// RFC 2136 UPDATEs to the world's DNS.
fn certbot(program: &Path, serve: &ServeProcess, args: &[&str]) -> Output {
    let dir = &serve.dir;
    let ini = dir.join("rfc2136.ini");
    if !ini.exists() {
        std::fs::write(
            &ini,
            format!(
                "dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = {}\ndns_rfc2136_name = {}\n\
                 dns_rfc2136_secret = {}\ndns_rfc2136_algorithm = HMAC-SHA512\n",
                serve.dns_port(),
                crate::peers::TSIG_NAME,
                crate::peers::TSIG_SECRET,
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut command = Command::new(program);
    command
        .env("REQUESTS_CA_BUNDLE", serve.bundle())
        .args(args)
        .args(["--non-interactive", "--server"])
        .arg(serve.get("directory_url"))
        .arg("--config-dir")
        .arg(dir.join("config"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--logs-dir")
        .arg(dir.join("logs"));
    run(command, LEGO_LIMIT)
}

fn certbot_issue(program: &Path, serve: &ServeProcess, domain: &str) -> CertSummary {
    let output = certbot(
        program,
        serve,
        &[
            "certonly",
            "--agree-tos",
            "--no-eff-email",
            "--email",
            "admin@example.test",
            "--authenticator",
            "dns-rfc2136",
            "--dns-rfc2136-credentials",
            &serve.dir.join("rfc2136.ini").display().to_string(),
            "--dns-rfc2136-propagation-seconds",
            "1",
            "--key-type",
            "ecdsa",
            "--cert-name",
            domain,
            "-d",
            domain,
        ],
    );
    assert!(
        output.status.success(),
        "certbot certonly:\n{}",
        show(&output)
    );
    leaf(&serve.dir.join(format!("config/live/{domain}/cert.pem")))
}

#[test]
fn certbot_renew_follows_renewal_info() {
    let Some(program) = acmeproof_testkit::require_tool("certbot") else {
        return;
    };
    let serve = ServeProcess::start(
        "certbot-ari",
        Some(&crate::peers::world_with_tsig("hmac-sha512")),
    );
    let kept = "kept.example.test";
    let revoked = "revoked.example.test";
    let kept_before = certbot_issue(&program, &serve, kept);
    let revoked_before = certbot_issue(&program, &serve, revoked);
    let output = certbot(
        &program,
        &serve,
        &["revoke", "--cert-name", revoked, "--no-delete-after-revoke"],
    );
    assert!(
        output.status.success(),
        "certbot revoke:\n{}",
        show(&output)
    );
    assert_eq!(status(&serve, &revoked_before), "revoked");
    // Both certificates are 90 days from their end, far from certbot's own 30-day threshold:
    // only the suggested window (RFC 9773) can make it renew one.
    let output = certbot(&program, &serve, &["renew", "--no-random-sleep-on-renew"]);
    assert!(output.status.success(), "certbot renew:\n{}", show(&output));
    let kept_after = leaf(&serve.dir.join(format!("config/live/{kept}/cert.pem")));
    let revoked_after = leaf(&serve.dir.join(format!("config/live/{revoked}/cert.pem")));
    assert_eq!(
        kept_after.serial_hex,
        kept_before.serial_hex,
        "{}",
        show(&output)
    );
    assert_ne!(
        revoked_after.serial_hex,
        revoked_before.serial_hex,
        "{}",
        show(&output)
    );
    // Not through OCSP (the CA runs none): certbot logs that reason at debug level.
    let log = std::fs::read_to_string(serve.dir.join("logs/letsencrypt.log")).unwrap_or_default();
    assert!(!log.contains("certificate is revoked"), "renewed by OCSP?");
    // certbot asked the CA's renewalInfo for both.
    let history = management(&serve, reqwest::Method::GET, "/history", &Value::Null);
    let asked = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/acme/renewal-info/"))
        })
        .count();
    assert!(asked >= 2, "renewalInfo requests: {asked}");
}
