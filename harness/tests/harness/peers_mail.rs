//! Real mail tools against `acmeproof serve`'s mail plane: swaks (Submission with STARTTLS and
//! AUTH, LMTP), curl (SMTPUTF8 to the MX, implicit-TLS Submission) and Python's smtplib
//! (STARTTLS, AUTH, an EAI recipient; LMTP). Each message must arrive in the recipient's INBOX,
//! seen through the management API. Skipped with "skipped: X not installed" when a tool is
//! missing, unless ACMEPROOF_REQUIRE_TOOLS=1 (as in CI).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::relay::send::send_once;
use serde_json::Value;

use crate::peers::{run, show};
use crate::serve::ServeProcess;
use crate::support::WAIT;

pub(crate) const ALICE: &str = "alice@example.test";
/// The example world's EAI user, U-labels.
pub(crate) const EAI: &str = "δοκιμή@παράδειγμα.δοκιμή";
/// The same address with the domain as A-labels, as curl sends it.
const EAI_A_LABELS: &str = "δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp";
/// A bound for one tool run.
pub(crate) const TOOL_LIMIT: Duration = Duration::from_secs(30);

/// A `serve` with a mail plane, and a client for its management API. Shared with
/// `peers_mailbox`.
pub(crate) struct MailWorld {
    pub(crate) serve: ServeProcess,
    http: reqwest::Client,
}

impl MailWorld {
    pub(crate) fn start(name: &str) -> MailWorld {
        Self::start_with(name, None)
    }

    /// A `serve` of the world `config` (TOML), or of the example world.
    pub(crate) fn start_with(name: &str, config: Option<&str>) -> MailWorld {
        let serve = ServeProcess::start(name, config);
        assert!(
            serve.endpoints["mail"].is_object(),
            "the example world has a mail plane: {}",
            serve.endpoints
        );
        // reqwest is built without a default provider; the API is plain HTTP but the client
        // still needs one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        MailWorld { serve, http }
    }

    /// A mail endpoint (`mx`, `submission`, `submissions`, `lmtp`): `127.0.0.1:PORT`.
    pub(crate) fn mail(&self, field: &str) -> String {
        self.serve.endpoints["mail"][field]
            .as_str()
            .unwrap_or_else(|| panic!("mail.{field} in {}", self.serve.endpoints))
            .to_owned()
    }

    /// The port of a mail endpoint.
    pub(crate) fn port(&self, field: &str) -> String {
        let addr = self.mail(field);
        addr.rsplit_once(':').expect("host:port").1.to_owned()
    }

    /// A user's password as `serve` printed it (which also checks the user is there).
    pub(crate) fn password(&self, address: &str) -> String {
        self.serve.endpoints["mail"]["users"]
            .as_array()
            .expect("mail.users")
            .iter()
            .find(|u| u["address"] == address)
            .and_then(|u| u["password"].as_str())
            .unwrap_or_else(|| panic!("{address} in {}", self.serve.endpoints["mail"]["users"]))
            .to_owned()
    }

    pub(crate) fn bundle(&self) -> String {
        self.serve.bundle().display().to_string()
    }

    /// A file in the scratch folder, written with `contents`.
    pub(crate) fn write(&self, name: &str, contents: &str) -> String {
        let path = self.serve.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    fn url(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Url {
        let base = format!("{}{path}", self.serve.get("management_url"));
        reqwest::Url::parse_with_params(&base, params).unwrap()
    }

    /// `address`'s INBOX summary (uid, size, from, subject, flags).
    pub(crate) async fn inbox(&self, address: &str) -> Vec<Value> {
        let response = self
            .http
            .get(self.url("/mail/messages", &[("address", address)]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "INBOX of {address}");
        match response.json().await.unwrap() {
            Value::Array(list) => list,
            other => panic!("a list of messages: {other}"),
        }
    }

    /// One message, raw.
    pub(crate) async fn raw(&self, address: &str, uid: u64) -> String {
        let uid = uid.to_string();
        let response = self
            .http
            .get(self.url("/mail/message", &[("address", address), ("uid", &uid)]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{address} uid {uid}");
        response.text().await.unwrap()
    }

    /// Waits for a message with `subject` in `address`'s INBOX; returns its summary and raw text.
    ///
    /// Delivery through Submission is store-and-forward (relay, then MX, then LMTP), so arrival
    /// is asynchronous. The store lives in another process and the management API is the only
    /// window onto it, so polling with a bounded deadline is the observer we have here.
    pub(crate) async fn wait_for(&self, address: &str, subject: &str) -> (Value, String) {
        let deadline = Instant::now() + WAIT;
        let mut pause = Duration::from_millis(20);
        loop {
            let inbox = self.inbox(address).await;
            if let Some(found) = inbox.iter().find(|m| m["subject"] == subject) {
                let uid = found["uid"].as_u64().expect("uid");
                let raw = self.raw(address, uid).await;
                return (found.clone(), raw);
            }
            assert!(
                Instant::now() < deadline,
                "no message {subject:?} for {address} within {WAIT:?}; INBOX: {inbox:?}\n{}",
                self.relays().await
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Delivers `raw` to `rcpt` over the world's LMTP from `sender@example.test`. LMTP puts it
    /// in the store before it answers (RFC 2033 §4.2), so it is there when this returns.
    pub(crate) async fn lmtp(&self, rcpt: &str, raw: &str) {
        let addr = self.mail("lmtp").parse().expect("LMTP address");
        let envelope = Envelope {
            mail_from: "sender@example.test".into(),
            rcpt_to: vec![rcpt.into()],
            smtputf8: false,
            body_8bit: false,
        };
        let replies = send_once("lmtp", addr, "client.test", true, &envelope, raw.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("LMTP to {rcpt}: {e}"));
        assert!(
            replies.iter().all(|r| r.is_positive()),
            "LMTP to {rcpt}: {replies:?}"
        );
    }

    /// What the relays passed on, for a failure message.
    async fn relays(&self) -> String {
        match self.http.get(self.url("/mail/relays", &[])).send().await {
            Ok(response) => format!("relays: {}", response.text().await.unwrap_or_default()),
            Err(e) => format!("relays: {e}"),
        }
    }
}

/// swaks to Submission: STARTTLS verified against the bundle, AUTH PLAIN as alice, to alice.
fn swaks_submission(
    swaks: &Path,
    world: &MailWorld,
    from: &str,
    password: &str,
    subject: &str,
) -> Output {
    let mut command = Command::new(swaks);
    command
        .args([
            "--server",
            &world.mail("submission"),
            "--ehlo",
            "client.test",
        ])
        .args(["--from", from, "--to", ALICE])
        .args(["--header", &format!("Subject: {subject}")])
        .args(["--tls", "--tls-verify", "--tls-ca-path", &world.bundle()])
        .args(["--auth", "PLAIN", "--auth-user", ALICE])
        .args(["--auth-password", password]);
    run(command, TOOL_LIMIT)
}

#[tokio::test]
async fn swaks_submission_starttls_auth_arrives_and_refuses_bad_password_and_send_as() {
    let Some(swaks) = acmeproof_testkit::require_tool("swaks") else {
        return;
    };
    let world = MailWorld::start("swaks-submission");
    let password = world.password(ALICE);

    // A wrong password: 535, and swaks gives up.
    let out = swaks_submission(
        &swaks,
        &world,
        ALICE,
        "not-the-password",
        "swaks wrong password",
    );
    let text = show(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("535 "), "{text}");

    // Authenticated as alice, sending as bob: 553 at MAIL FROM.
    let out = swaks_submission(
        &swaks,
        &world,
        "bob@example.test",
        &password,
        "swaks send-as bob",
    );
    let text = show(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("235 "), "AUTH succeeds first: {text}");
    assert!(text.contains("553 "), "{text}");

    // STARTTLS verified against the bundle, AUTH PLAIN, alice to alice.
    let subject = "swaks submission starttls";
    let out = swaks_submission(&swaks, &world, ALICE, &password, subject);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("TLS started"), "{text}");
    assert!(
        !text.contains(&password),
        "swaks shows the password only base64: {text}"
    );
    let (summary, raw) = world.wait_for(ALICE, subject).await;
    assert_eq!(summary["from"], ALICE, "{summary}");
    assert!(
        raw.contains("by submission.acmeproof.test with ESMTPSA"),
        "{raw}"
    );
    assert!(raw.contains("This is a test mailing"), "{raw}");

    // The refused attempts never reached a queue: only the good message is there.
    let inbox = world.inbox(ALICE).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
}

#[tokio::test]
async fn swaks_lmtp_delivers_to_alice_and_refuses_an_unknown_user() {
    let Some(swaks) = acmeproof_testkit::require_tool("swaks") else {
        return;
    };
    let world = MailWorld::start("swaks-lmtp");
    let lmtp = |to: &str, subject: &str| {
        let mut command = Command::new(&swaks);
        command
            .args(["--server", &world.mail("lmtp"), "--protocol", "LMTP"])
            .args(["--ehlo", "client.test", "--from", "sender@example.test"])
            .args(["--to", to, "--header", &format!("Subject: {subject}")]);
        run(command, TOOL_LIMIT)
    };

    let out = lmtp("nobody@example.test", "swaks lmtp nobody");
    let text = show(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("550 "), "{text}");

    let subject = "swaks lmtp alice";
    let out = lmtp(ALICE, subject);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("LHLO client.test"), "{text}");
    let (summary, raw) = world.wait_for(ALICE, subject).await;
    assert_eq!(summary["from"], "sender@example.test", "{summary}");
    assert!(raw.contains("This is a test mailing"), "{raw}");
    assert_eq!(world.inbox(ALICE).await.len(), 1);
}

#[tokio::test]
async fn curl_smtputf8_to_the_mx_arrives_for_the_eai_user() {
    let Some(curl) = acmeproof_testkit::require_tool("curl") else {
        return;
    };
    let world = MailWorld::start("curl-smtputf8");
    world.password(EAI);
    let subject = "curl smtputf8 γεια";
    let message = world.write(
        "eai.eml",
        &format!("From: {ALICE}\r\nTo: {EAI}\r\nSubject: {subject}\r\n\r\nγεια σου, κόσμε\r\n"),
    );
    let mut command = Command::new(curl);
    command
        .args(["-sS", "-v", "--max-time", "20"])
        .arg(format!("smtp://{}/client.test", world.mail("mx")))
        .args(["--mail-from", ALICE, "--mail-rcpt", EAI])
        .args(["--upload-file", &message]);
    let out = run(command, TOOL_LIMIT);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    // curl 7.88 declares SMTPUTF8 and sends the domain as A-labels (its -v transcript).
    assert!(
        text.lines()
            .any(|l| l.starts_with("> MAIL FROM:") && l.ends_with("SMTPUTF8")),
        "{text}"
    );
    assert!(
        text.contains(&format!("> RCPT TO:<{EAI_A_LABELS}>")),
        "{text}"
    );

    let (summary, raw) = world.wait_for(EAI, subject).await;
    assert_eq!(summary["from"], ALICE, "{summary}");
    assert!(raw.contains("γεια σου, κόσμε"), "{raw}");
    // The store knows the mailbox by its A-label form too.
    let by_a_labels = world.inbox(EAI_A_LABELS).await;
    assert!(
        by_a_labels.iter().any(|m| m["uid"] == summary["uid"]),
        "{by_a_labels:?}"
    );
}

const PY_SEND: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
host, submission, lmtp, bundle, user, password, eai, subject = sys.argv[1:9]
m = EmailMessage()
m["From"] = user
m["To"] = eai
m["Subject"] = subject + " submission"
m.set_content("γεια σου\n.leading dot\n")
with smtplib.SMTP(host, int(submission), local_hostname="client.test", timeout=20) as s:
    s.starttls(context=ssl.create_default_context(cafile=bundle))
    s.login(user, password)
    refused = s.send_message(m)
    assert refused == {}, refused
with smtplib.LMTP(host, int(lmtp), local_hostname="client.test", timeout=20) as s:
    refused = s.sendmail(user, [user],
                         "From: " + user + "\r\nSubject: " + subject + " lmtp\r\n\r\nhi\r\n")
    assert refused == {}, refused
print("sent")
"#;

#[tokio::test]
async fn python_smtplib_submission_to_the_eai_user_and_lmtp_to_alice() {
    let Some(python) = acmeproof_testkit::require_tool("python3") else {
        return;
    };
    let world = MailWorld::start("smtplib");
    let script = world.write("send.py", PY_SEND);
    let subject = "smtplib";
    let mut command = Command::new(python);
    command
        .env("PYTHONUTF8", "1")
        .arg(&script)
        .args(["127.0.0.1", &world.port("submission"), &world.port("lmtp")])
        .args([&world.bundle(), ALICE, &world.password(ALICE), EAI, subject]);
    let out = run(command, TOOL_LIMIT);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("sent"), "{text}");

    // send_message saw a UTF-8 address and declared SMTPUTF8 itself.
    let (summary, raw) = world.wait_for(EAI, &format!("{subject} submission")).await;
    assert_eq!(summary["from"], ALICE, "{summary}");
    assert!(raw.contains(&format!("To: {EAI}\r\n")), "{raw}");
    assert!(
        raw.contains("by submission.acmeproof.test with UTF8SMTPSA"),
        "{raw}"
    );
    assert!(raw.contains("\r\n.leading dot\r\n"), "dot-unstuffed: {raw}");
    assert!(raw.contains("γεια σου"), "{raw}");

    let (summary, raw) = world.wait_for(ALICE, &format!("{subject} lmtp")).await;
    assert_eq!(summary["from"], ALICE, "{summary}");
    assert!(raw.ends_with("hi\r\n"), "{raw}");
}

#[tokio::test]
async fn curl_implicit_tls_submission_arrives() {
    let Some(curl) = acmeproof_testkit::require_tool("curl") else {
        return;
    };
    let world = MailWorld::start("curl-smtps");
    let subject = "curl smtps implicit tls";
    let message = world.write(
        "smtps.eml",
        &format!("From: {ALICE}\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nover implicit TLS\r\n"),
    );
    let mut command = Command::new(curl);
    command
        .args(["-sS", "--max-time", "20", "--ssl-reqd"])
        .arg(format!("smtps://{}/client.test", world.mail("submissions")))
        .args(["--cacert", &world.bundle()])
        .arg("--user")
        .arg(format!("{ALICE}:{}", world.password(ALICE)))
        .args(["--mail-from", ALICE, "--mail-rcpt", ALICE])
        .args(["--upload-file", &message]);
    let out = run(command, TOOL_LIMIT);
    assert!(out.status.success(), "{}", show(&out));

    let (summary, raw) = world.wait_for(ALICE, subject).await;
    assert_eq!(summary["from"], ALICE, "{summary}");
    assert!(
        raw.contains("by submission.acmeproof.test with ESMTPSA"),
        "{raw}"
    );
    assert!(raw.contains("over implicit TLS"), "{raw}");
}

#[tokio::test]
async fn curl_reads_the_delivered_mail_over_imaps_and_pop3s() {
    let Some(curl) = acmeproof_testkit::require_tool("curl") else {
        return;
    };
    let world = MailWorld::start("curl-imaps");
    let subject = "read back over imaps";
    let message = world.write(
        "imaps.eml",
        &format!("From: {ALICE}\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nread me back\r\n"),
    );
    let mut send = Command::new(&curl);
    send.args(["-sS", "--max-time", "20", "--ssl-reqd"])
        .arg(format!("smtps://{}/client.test", world.mail("submissions")))
        .args(["--cacert", &world.bundle()])
        .arg("--user")
        .arg(format!("{ALICE}:{}", world.password(ALICE)))
        .args(["--mail-from", ALICE, "--mail-rcpt", ALICE])
        .args(["--upload-file", &message]);
    let out = run(send, TOOL_LIMIT);
    assert!(out.status.success(), "{}", show(&out));
    world.wait_for(ALICE, subject).await;
    let user = format!("{ALICE}:{}", world.password(ALICE));
    // IMAPS: SEARCH finds it, FETCH by UID returns it (certificate checked against the bundle;
    // `--resolve` makes the name `localhost`, which the certificate carries).
    let imaps_port = world.mail("imaps").rsplit(':').next().unwrap().to_owned();
    let resolve = format!("localhost:{imaps_port}:127.0.0.1");
    let mut search = Command::new(&curl);
    search
        .args(["-sS", "--max-time", "20", "--resolve", &resolve])
        .arg(format!("imaps://localhost:{imaps_port}/INBOX"))
        .args(["--cacert", &world.bundle(), "--user", &user])
        .args(["-X", "SEARCH SUBJECT \"read back\""]);
    let out = run(search, TOOL_LIMIT);
    assert!(out.status.success(), "{}", show(&out));
    let found = String::from_utf8_lossy(&out.stdout);
    assert!(found.contains("SEARCH 1"), "{found}");
    let mut fetch = Command::new(&curl);
    fetch
        .args(["-sS", "--max-time", "20", "--resolve", &resolve])
        .arg(format!("imaps://localhost:{imaps_port}/INBOX;UID=1"))
        .args(["--cacert", &world.bundle(), "--user", &user]);
    let out = run(fetch, TOOL_LIMIT);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("read me back"));
    // POP3S: the same message by number.
    let pop3s_port = world.mail("pop3s").rsplit(':').next().unwrap().to_owned();
    let resolve = format!("localhost:{pop3s_port}:127.0.0.1");
    let mut retr = Command::new(&curl);
    retr.args(["-sS", "--max-time", "20", "--resolve", &resolve])
        .arg(format!("pop3s://localhost:{pop3s_port}/1"))
        .args(["--cacert", &world.bundle(), "--user", &user]);
    let out = run(retr, TOOL_LIMIT);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("read me back"));
}
