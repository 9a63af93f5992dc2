//! One test per third-party tool the suites drive: it can do what the suites use it for.
//!
//! The suites' own tests (DNS against dig, kdig and nsupdate; the mail plane against swaks,
//! curl, s-nail and fetchmail; the CA against certbot, lego and Pebble; the HTML report in
//! Chromium) fail deep inside an exchange when a tool lacks a feature. These checks fail first,
//! with the missing feature and the Debian or PyPI package that brings it (all installed by
//! `.ci/install-tools`). Like every tool test, each skips with "skipped: X not installed" on a
//! bare machine, and fails when `ACMEPROOF_REQUIRE_TOOLS=1`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use acmeproof_testkit::{output_within, require_python, require_tool};

/// A bound for one capability check (Chromium's first start is the slowest).
const LIMIT: Duration = Duration::from_secs(90);

/// Runs `program args` within [`LIMIT`]; returns (exit success, stdout and stderr together).
fn run(program: &Path, args: &[&str]) -> (bool, String) {
    let out = output_within(Command::new(program).args(args), LIMIT)
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Asserts that `output` has every one of `needles`, naming `what` is missing and `fix`.
fn assert_has(tool: &str, output: &str, needles: &[&str], what: &str, fix: &str) {
    let missing: Vec<&&str> = needles.iter().filter(|n| !output.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "{tool} cannot {what}: {missing:?} not in its output; {fix}\n--- {tool} said:\n{output}"
    );
}

/// A fresh scratch folder for one check.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("acmeproof-tools-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn swaks_can_do_starttls_and_auth() {
    let Some(swaks) = require_tool("swaks") else {
        return;
    };
    // `--support` lists each optional feature as "=== X supported" or "*** X not available:
    // requires Module". TLS (for --tls and --tls-on-connect) needs Net::SSLeay and
    // IO::Socket::SSL, which Debian's swaks only recommends.
    let (_, said) = run(&swaks, &["--support"]);
    assert_has(
        "swaks",
        &said,
        &["=== TLS supported"],
        "do STARTTLS or implicit TLS",
        "install Debian libnet-ssleay-perl and libio-socket-ssl-perl",
    );
    assert_has(
        "swaks",
        &said,
        &["=== Basic AUTH supported"],
        "do AUTH PLAIN",
        "install Debian swaks with perl",
    );
}

#[test]
fn curl_speaks_smtp_imap_and_pop3_with_tls() {
    let Some(curl) = require_tool("curl") else {
        return;
    };
    let (ok, said) = run(&curl, &["-V"]);
    assert!(ok, "{said}");
    let protocols = said
        .lines()
        .find_map(|l| l.strip_prefix("Protocols: "))
        .unwrap_or_default();
    let features = said
        .lines()
        .find_map(|l| l.strip_prefix("Features: "))
        .unwrap_or_default();
    let mut have: Vec<&str> = protocols.split_whitespace().collect();
    have.extend(features.split_whitespace());
    for need in ["smtp", "smtps", "imap", "imaps", "pop3", "pop3s", "SSL"] {
        assert!(
            have.contains(&need),
            "curl lacks {need:?} (it speaks SMTP, IMAP and POP3 over TLS in the tests); install \
             Debian curl (libcurl4 with OpenSSL)\n--- curl -V said:\n{said}"
        );
    }
}

#[test]
fn s_nail_has_imap_and_tls() {
    let Some(s_nail) = require_tool("s-nail") else {
        return;
    };
    // `-Xversion -Xx` prints the compiled-in features as +name / -name.
    let (_, said) = run(&s_nail, &["-:/", "-Xversion", "-Xx"]);
    let features: Vec<&str> = said.split_whitespace().collect();
    for need in ["+imap", "+tls", "+net"] {
        assert!(
            features.contains(&need),
            "s-nail lacks {need} (the tests read a mailbox over IMAP with STARTTLS); install \
             Debian s-nail 14.9 (IMAP left s-nail in 14.10)\n--- s-nail said:\n{said}"
        );
    }
}

#[test]
fn fetchmail_has_ssl() {
    let Some(fetchmail) = require_tool("fetchmail") else {
        return;
    };
    // `-V` prints the release with its compile options, e.g. "6.4.37+GSS+…+SSL-SSLv2…".
    let (_, said) = run(&fetchmail, &["-V", "--nosyslog"]);
    assert_has(
        "fetchmail",
        &said,
        &["+SSL"],
        "do STARTTLS/STLS (the tests fetch over IMAP and POP3 with TLS)",
        "install Debian fetchmail",
    );
}

#[test]
fn dig_does_tsig_and_tcp() {
    let Some(dig) = require_tool("dig") else {
        return;
    };
    let (_, said) = run(&dig, &["-v"]);
    assert_has(
        "dig",
        &said,
        &["DiG 9."],
        "run",
        "install Debian bind9-dnsutils",
    );
    // The tests sign queries with -y and switch transports with +tcp/+notcp; BIND's dig takes
    // both in every 9.x, and rejects an option it does not know.
    let (_, said) = run(&dig, &["-h"]);
    assert_has(
        "dig",
        &said,
        &["-y [hmac:]name:key", "+[no]tcp"],
        "sign with TSIG or query over TCP",
        "install Debian bind9-dnsutils",
    );
}

#[test]
fn kdig_runs() {
    let Some(kdig) = require_tool("kdig") else {
        return;
    };
    let (ok, said) = run(&kdig, &["-V"]);
    assert!(ok, "{said}");
    assert_has(
        "kdig",
        &said,
        &["kdig (Knot DNS)"],
        "run",
        "install Debian knot-dnsutils",
    );
}

#[test]
fn nsupdate_runs() {
    let Some(nsupdate) = require_tool("nsupdate") else {
        return;
    };
    let (ok, said) = run(&nsupdate, &["-V"]);
    assert!(ok, "{said}");
    assert_has(
        "nsupdate",
        &said,
        &["nsupdate 9."],
        "send RFC 2136 UPDATEs",
        "install Debian bind9-dnsutils",
    );
}

#[test]
fn lego_has_the_rfc2136_provider() {
    let Some(lego) = require_tool("lego") else {
        return;
    };
    let (ok, said) = run(&lego, &["dnshelp", "--code", "rfc2136"]);
    assert!(ok, "{said}");
    assert_has(
        "lego",
        &said,
        &["'rfc2136'", "RFC2136_NAMESERVER"],
        "solve dns-01 with RFC 2136 UPDATE (--dns rfc2136)",
        "install Debian lego",
    );
}

#[test]
fn pebble_takes_a_dns_server() {
    let Some(pebble) = require_tool("pebble") else {
        return;
    };
    // Pebble has no version flag; its usage lists the flags the tests pass.
    let (_, said) = run(&pebble, &["-h"]);
    assert_has(
        "pebble",
        &said,
        &["-config", "-dnsserver"],
        "be started with a config and the world's DNS",
        "install Debian pebble",
    );
}

#[test]
fn chromium_renders_headless_with_javascript() {
    let Some(chromium) = require_tool("chromium") else {
        return;
    };
    let dir = scratch("chromium");
    let page = dir.join("page.html");
    std::fs::write(
        &page,
        "<!doctype html><title>t</title><h1 id=\"x\">static</h1>\
         <script>document.getElementById('x').textContent = 'script ran';</script>",
    )
    .unwrap();
    let url = format!("file://{}", page.display());
    let profile = format!("--user-data-dir={}", dir.join("profile").display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        profile.as_str(),
    ];
    let mut args = flags.to_vec();
    args.extend(["--dump-dom", url.as_str()]);
    let (_, dom) = run(&chromium, &args);
    assert_has(
        "chromium",
        &dom,
        &["script ran"],
        "run a page's script headless (--dump-dom)",
        "install Debian chromium",
    );
    let shot = dir.join("shot.png");
    let screenshot = format!("--screenshot={}", shot.display());
    let mut args = flags.to_vec();
    args.extend(["--window-size=400,300", screenshot.as_str(), url.as_str()]);
    let (_, said) = run(&chromium, &args);
    let png = std::fs::read(&shot).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "chromium cannot take a headless screenshot; install Debian chromium\n{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn certbot_has_the_rfc2136_plugin() {
    let Some(certbot) = require_tool("certbot") else {
        return;
    };
    let dir = scratch("certbot");
    let path = |sub: &str| dir.join(sub).display().to_string();
    let (config, work, logs) = (path("config"), path("work"), path("logs"));
    let (ok, said) = run(
        &certbot,
        &[
            "plugins",
            "--config-dir",
            &config,
            "--work-dir",
            &work,
            "--logs-dir",
            &logs,
        ],
    );
    assert!(ok, "{said}");
    assert_has(
        "certbot",
        &said,
        &["* dns-rfc2136"],
        "solve dns-01 with RFC 2136 UPDATE",
        "pip install certbot certbot-dns-rfc2136 (in the venv .ci/install-tools makes)",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python3_has_what_the_python_peers_and_clients_import() {
    // The standard library's mail clients, and what the Python clients under test import
    // (certbot's acme and josepy, dkimpy, PyNaCl, dnspython, cryptography, requests).
    let modules = [
        "smtplib",
        "imaplib",
        "poplib",
        "ssl",
        "acme.client",
        "josepy",
        "dkim",
        "nacl",
        "dns.resolver",
        "cryptography",
        "requests",
    ];
    let Some(python) = require_python(&modules) else {
        return;
    };
    let (ok, said) = run(&python, &["-c", "import ssl; print(ssl.OPENSSL_VERSION)"]);
    assert!(
        ok && said.contains("OpenSSL"),
        "python3 without TLS: {said}"
    );
}

#[test]
fn xmllint_validates_against_xml_schemas() {
    let Some(xmllint) = require_tool("xmllint") else {
        return;
    };
    let (_, said) = run(&xmllint, &["--version"]);
    assert_has(
        "xmllint",
        &said,
        &["Schemas"],
        "validate against an XSD (--schema)",
        "install Debian libxml2-utils",
    );
}

#[test]
fn kill_is_installed() {
    // The tests stop `acmeproof serve` children with `kill -TERM PID`.
    let Some(kill) = require_tool("kill") else {
        return;
    };
    let (ok, said) = run(&kill, &["-l"]);
    assert!(
        ok && said.contains("TERM"),
        "kill -l: {said}; install Debian procps"
    );
}
