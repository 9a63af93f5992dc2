//! Real mail clients against the smarthost and the CA mailbox that a server under test uses
//! (`run --server-url`; here in `acmeproof serve` with `[mail] ca_mailbox` and
//! `[mail.smarthost]`): swaks and Python's smtplib send through the smarthost with STARTTLS
//! and AUTH as acme2certifier does, and Python's imaplib and poplib read the CA mailbox where
//! a reply lands. Skipped with "skipped: X not installed" when a tool is missing, unless
//! ACMEPROOF_REQUIRE_TOOLS=1.

use std::process::Command;

use crate::peers::{run, show};
use crate::peers_mail::{ALICE, MailWorld, TOOL_LIMIT};

const CA: &str = "acme-ca@ca.example.test";

/// The example world's alice, a CA mailbox with a given password, and a smarthost that takes
/// any credentials and adds no signature.
const WORLD: &str = r#"
[dns]
zones = ["example.test"]

[mail]
users = [{ address = "alice@example.test", password = "alice-password" }]
ca_mailbox = { address = "acme-ca@ca.example.test", password = "ca-password" }

[mail.smarthost]
"#;

fn smarthost(world: &MailWorld, field: &str) -> String {
    world.serve.endpoints["mail"]["smarthost"][field]
        .as_str()
        .unwrap_or_else(|| panic!("mail.smarthost.{field} in {}", world.serve.endpoints))
        .to_owned()
}

#[tokio::test]
async fn swaks_sends_through_the_smarthost_with_starttls_and_any_auth_and_nothing_is_signed() {
    let Some(swaks) = acmeproof_testkit::require_tool("swaks") else {
        return;
    };
    let world = MailWorld::start_with("swaks-smarthost", Some(WORLD));
    let subject = "ACME: swaks through the smarthost";
    let mut command = Command::new(swaks);
    command
        .args(["--server", &smarthost(&world, "starttls")])
        .args(["--ehlo", "ca.example.test", "--from", CA, "--to", ALICE])
        .args(["--header", &format!("Subject: {subject}")])
        .args(["--tls", "--tls-verify", "--tls-ca-path", &world.bundle()])
        .args(["--auth", "LOGIN", "--auth-user", "whoever"])
        .args(["--auth-password", "whatever"]);
    let out = run(command, TOOL_LIMIT);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("235 2.7.0 Authentication successful"),
        "{text}"
    );

    let (summary, raw) = world.wait_for(ALICE, subject).await;
    assert_eq!(summary["from"], CA, "{summary}");
    assert!(raw.contains("by smarthost.acmeproof.test"), "{raw}");
    // The smarthost adds no signature by default: the mail is what the sender wrote.
    assert!(!raw.contains("DKIM-Signature:"), "{raw}");
}

/// smtplib through the smarthost (STARTTLS, login) as the CA; smtplib through Submission as
/// alice, replying to the CA; then imaplib (STARTTLS, and implicit TLS) and poplib (POP3S)
/// log in as the CA mailbox and find the reply.
const PY_CA: &str = r#"
import imaplib, poplib, smtplib, ssl, sys, time
from email.message import EmailMessage
(host, smarthost, submission, imap, imaps, pop3s, bundle,
 alice, alice_pw, ca, ca_pw) = sys.argv[1:12]
ctx = ssl.create_default_context(cafile=bundle)

m = EmailMessage()
m["From"] = ca
m["To"] = alice
m["Subject"] = "ACME: smtplib through the smarthost"
m.set_content("challenge\n")
with smtplib.SMTP(host, int(smarthost), local_hostname="ca.example.test", timeout=20) as s:
    s.starttls(context=ctx)
    s.login("any user", "any password")
    assert s.send_message(m) == {}
print("sent through the smarthost")

r = EmailMessage()
r["From"] = alice
r["To"] = ca
r["Subject"] = "Re: ACME: smtplib reply"
r.set_content("-----BEGIN ACME RESPONSE-----\nabc\n-----END ACME RESPONSE-----\n")
with smtplib.SMTP(host, int(submission), local_hostname="client.test", timeout=20) as s:
    s.starttls(context=ctx)
    s.login(alice, alice_pw)
    assert s.send_message(r) == {}
print("replied")

def find(M):
    # Delivery is store-and-forward: wait for it, bounded.
    for _ in range(100):
        M.select("INBOX")
        typ, data = M.search(None, "SUBJECT", '"smtplib reply"')
        if typ == "OK" and data[0]:
            return data[0].split()
        time.sleep(0.1)
    raise SystemExit("the reply did not reach the CA mailbox")

M = imaplib.IMAP4(host, int(imap), timeout=20)
M.starttls(ssl_context=ctx)
M.login(ca, ca_pw)
ids = find(M)
typ, data = M.fetch(ids[0], "(RFC822)")
assert b"BEGIN ACME RESPONSE" in data[0][1], data
M.logout()
print("imap starttls")

M = imaplib.IMAP4_SSL(host, int(imaps), ssl_context=ctx, timeout=20)
M.login(ca, ca_pw)
find(M)
M.logout()
print("imaps")

P = poplib.POP3_SSL(host, int(pop3s), context=ctx, timeout=20)
P.user(ca)
P.pass_(ca_pw)
count, _ = P.stat()
assert count >= 1, count
P.quit()
print("pop3s")
print("ok")
"#;

#[tokio::test]
async fn python_sends_through_the_smarthost_and_reads_the_reply_in_the_ca_mailbox() {
    let Some(python) = acmeproof_testkit::require_tool("python3") else {
        return;
    };
    let world = MailWorld::start_with("py-ca-mailbox", Some(WORLD));
    let ca = &world.serve.endpoints["mail"]["ca_mailbox"];
    assert_eq!(ca["address"], CA, "{ca}");
    let script = world.write("ca.py", PY_CA);
    let port = |addr: String| addr.rsplit_once(':').expect("host:port").1.to_owned();
    let mut command = Command::new(python);
    command
        .arg(&script)
        .arg("127.0.0.1")
        .arg(port(smarthost(&world, "starttls")))
        .args([
            world.port("submission"),
            world.port("imap"),
            world.port("imaps"),
            world.port("pop3s"),
        ])
        .args([world.bundle(), ALICE.into(), world.password(ALICE)])
        .args([CA, ca["password"].as_str().expect("password")]);
    let out = run(command, TOOL_LIMIT);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .ends_with("ok"),
        "{text}"
    );
    let (summary, _) = world
        .wait_for(ALICE, "ACME: smtplib through the smarthost")
        .await;
    assert_eq!(summary["from"], CA, "{summary}");
}
