//! Third-party ACME clients against `acmeproof serve`: certbot (rfc2136 plugin, TSIG-signed
//! RFC 2136 UPDATE) and lego (`--dns rfc2136`). Each certificate must chain to the served root.
//! Skipped with "skipped: X not installed" when the tool is missing, unless
//! ACMEPROOF_REQUIRE_TOOLS=1 (as in CI).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use acmeproof_mocks::ca::pki::verify_chain;
use acmeproof_protocol::pki::CertSummary;

use crate::serve::{ServeProcess, root_der};
use crate::support::pem_chain;

pub(crate) const TSIG_NAME: &str = "acmeproof-update.";
/// 32 octets, base64 (a test key: the world is loopback-only).
pub(crate) const TSIG_SECRET: &str = "YWNtZXByb29mLXRlc3QtdHNpZy1zZWNyZXQtMzJiIQ==";

pub(crate) fn world_with_tsig(algorithm: &str) -> String {
    format!(
        r#"{}
[dns.tsig]
name = "{TSIG_NAME}"
algorithm = "{algorithm}"
secret = "{TSIG_SECRET}"
"#,
        acmeproof_mocks::world::EXAMPLE_WORLD
    )
}

/// Runs a tool with a deadline; the output is returned whatever the exit code.
pub(crate) fn run(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tool");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("tool output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{command:?} did not finish within {limit:?}");
        }
    }
}

/// A tool's exit code, stdout and stderr, for an assertion message.
pub(crate) fn show(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The chain in `fullchain` verifies up to the root `serve` wrote, and names `domain`.
fn assert_chains_to_served_root(fullchain: &Path, bundle: &Path, domain: &str) {
    let pem = std::fs::read_to_string(fullchain)
        .unwrap_or_else(|e| panic!("{}: {e}", fullchain.display()));
    let chain = pem_chain(&pem);
    assert!(
        chain.len() >= 2,
        "leaf and intermediate in {}",
        fullchain.display()
    );
    verify_chain(&chain[0], &chain[1], &root_der(bundle)).expect("chains to the served root");
    let leaf = CertSummary::from_der(&chain[0]).unwrap();
    assert!(leaf.has_san(&format!("dns:{domain}")), "{leaf:?}");
}

#[test]
fn certbot_gets_a_certificate_by_dns01_through_rfc2136() {
    let Some(certbot) = acmeproof_testkit::require_tool("certbot") else {
        return;
    };
    let serve = ServeProcess::start("certbot", Some(&world_with_tsig("hmac-sha512")));
    let dir = &serve.dir;
    let ini = dir.join("rfc2136.ini");
    std::fs::write(
        &ini,
        format!(
            "dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = {}\ndns_rfc2136_name = {TSIG_NAME}\n\
             dns_rfc2136_secret = {TSIG_SECRET}\ndns_rfc2136_algorithm = HMAC-SHA512\n",
            serve.dns_port()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let domain = "certbot.example.test";
    let mut command = Command::new(certbot);
    command
        .env("REQUESTS_CA_BUNDLE", serve.bundle())
        .args([
            "certonly",
            "--non-interactive",
            "--agree-tos",
            "--no-eff-email",
        ])
        .args(["--email", "admin@example.test", "--server"])
        .arg(serve.get("directory_url"))
        .arg("--config-dir")
        .arg(dir.join("config"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--logs-dir")
        .arg(dir.join("logs"))
        .args([
            "--authenticator",
            "dns-rfc2136",
            "--dns-rfc2136-credentials",
        ])
        .arg(&ini)
        .args([
            "--dns-rfc2136-propagation-seconds",
            "1",
            "--key-type",
            "ecdsa",
            "-d",
            domain,
        ]);
    let output = run(command, Duration::from_secs(180));
    assert!(
        output.status.success(),
        "certbot failed:\n{}",
        show(&output)
    );
    assert_chains_to_served_root(
        &dir.join(format!("config/live/{domain}/fullchain.pem")),
        &serve.bundle(),
        domain,
    );
}

#[test]
fn lego_gets_a_certificate_by_dns01_through_rfc2136() {
    let Some(lego) = acmeproof_testkit::require_tool("lego") else {
        return;
    };
    let serve = ServeProcess::start("lego", Some(&world_with_tsig("hmac-sha256")));
    let dir = &serve.dir;
    let dns = format!("127.0.0.1:{}", serve.dns_port());
    let domain = "lego.example.test";
    let mut command = Command::new(lego);
    command
        .env("LEGO_CA_CERTIFICATES", serve.bundle())
        .env("RFC2136_NAMESERVER", &dns)
        .env("RFC2136_TSIG_KEY", TSIG_NAME)
        .env("RFC2136_TSIG_SECRET", TSIG_SECRET)
        .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.")
        .env("RFC2136_PROPAGATION_TIMEOUT", "10")
        .env("RFC2136_POLLING_INTERVAL", "1")
        .args(["--accept-tos", "--email", "admin@example.test", "--server"])
        .arg(serve.get("directory_url"))
        .arg("--path")
        .arg(dir.join("lego"))
        .args([
            "--dns",
            "rfc2136",
            "--dns.resolvers",
            &dns,
            "--dns.disable-cp",
        ])
        .args(["--key-type", "ec256", "-d", domain, "run"]);
    let output = run(command, Duration::from_secs(180));
    assert!(output.status.success(), "lego failed:\n{}", show(&output));
    assert_chains_to_served_root(
        &dir.join(format!("lego/certificates/{domain}.crt")),
        &serve.bundle(),
        domain,
    );
}
