//! Real mail readers against `acmeproof serve`'s IMAP and POP3: Python's imaplib (STARTTLS,
//! SEARCH, FETCH, IDLE woken by a delivery, ENABLE UTF8=ACCEPT with the EAI user), Python's
//! poplib (STLS, UIDL, RETR, TOP, DELE, then POP3S), fetchmail and s-nail (IMAP with STARTTLS).
//! Every TLS client checks the certificate against the served `ca.pem`, and each test also shows
//! that the same client without that root refuses the server, so the check is real. Skipped
//! with "skipped: X not installed" when a tool is missing, unless ACMEPROOF_REQUIRE_TOOLS=1.

use std::process::Command;

use crate::peers::{run, show};
use crate::peers_mail::{ALICE, EAI, MailWorld, TOOL_LIMIT};

/// Runs one of the scripts below: it must print that the unverified handshake was refused,
/// then end with `ok` (every assertion in it held).
fn run_python_script(command: Command) {
    let out = run(command, TOOL_LIMIT);
    let text = show(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("unverified refused: unable to get local issuer certificate"),
        "{text}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.trim_end().ends_with("\nok"), "{text}");
}

/// Python's imaplib over the plain IMAP port with STARTTLS. It delivers with smtplib's LMTP
/// client itself, so the delivery that wakes IDLE happens while the IMAP session is idling.
const PY_IMAP: &str = r#"
import imaplib, smtplib, ssl, sys
host, imap_port, lmtp_port, bundle, alice, alice_pw, eai, eai_pw = sys.argv[1:9]
ctx = ssl.create_default_context(cafile=bundle)

def lmtp(rcpt, raw):
    with smtplib.LMTP(host, int(lmtp_port), local_hostname="client.test", timeout=20) as s:
        options = [] if rcpt.isascii() else ["SMTPUTF8"]
        refused = s.sendmail("sender@example.test", [rcpt], raw.encode(), mail_options=options)
        assert refused == {}, refused

def connect():
    M = imaplib.IMAP4(host, int(imap_port), timeout=20)
    assert "STARTTLS" in M.capabilities, M.capabilities
    M.starttls(ssl_context=ctx)
    # imaplib asks again after the handshake (RFC 9051 §6.2.1: capabilities may change).
    assert "STARTTLS" not in M.capabilities and "AUTH=PLAIN" in M.capabilities, M.capabilities
    return M

# Without the served root, the handshake fails: the verification below is real.
M = imaplib.IMAP4(host, int(imap_port), timeout=20)
try:
    M.starttls(ssl_context=ssl.create_default_context())
    raise SystemExit("STARTTLS verified without the served root")
except ssl.SSLCertVerificationError as e:
    print("unverified refused:", e.verify_message)

lmtp(alice, "From: Sender <sender@example.test>\r\nSubject: imaplib first\r\n\r\none\r\n")
lmtp(alice, "From: sender@example.test\r\nSubject: something else\r\n\r\nother\r\n")
M = connect()
typ, data = M.login(alice, alice_pw)
assert typ == "OK", (typ, data)
typ, data = M.select("INBOX")
assert typ == "OK" and data == [b"2"], (typ, data)
typ, data = M.search(None, "SUBJECT", '"imaplib first"')
assert data == [b"1"], data
typ, data = M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert typ == "OK" and data[0][1] == b"Subject: imaplib first\r\n\r\n", data
typ, data = M.search(None, "UNSEEN")
assert data == [b"1 2"], ("PEEK must not set \\Seen", data)

# IDLE by hand: imaplib has idle() only from Python 3.14.
tag = M._new_tag()
M.send(tag + b" IDLE\r\n")
line = M.readline()
assert line.startswith(b"+ "), line
lmtp(alice, "From: sender@example.test\r\nSubject: imaplib while idling\r\n\r\nthree\r\n")
line = M.readline()
assert line == b"* 3 EXISTS\r\n", line
M.send(b"DONE\r\n")
while True:
    line = M.readline()
    if line.startswith(tag):
        assert line.startswith(tag + b" OK "), line
        break
typ, data = M.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert data[0][1] == b"Subject: imaplib while idling\r\n\r\n", data
M.logout()

# The EAI user. imaplib sends commands as ASCII until ENABLE UTF8=ACCEPT, which is only valid
# once authenticated (RFC 9051 §6.3.1), so it logs in with AUTHENTICATE PLAIN: the UTF-8 name
# inside base64 (RFC 4616 §2).
lmtp(eai, "From: θέμα <θέμα@example.test>\r\nTo: " + eai + "\r\nSubject: γεια imaplib\r\n\r\nσώμα\r\n")
M = connect()
typ, data = M.authenticate("PLAIN", lambda _: b"\0" + eai.encode() + b"\0" + eai_pw.encode())
assert typ == "OK", (typ, data)
typ, data = M.select("INBOX")
assert data == [b"1"], data
typ, data = M.fetch("1", "(ENVELOPE)")
assert '"γεια imaplib"'.encode() not in data[0], ("8-bit string quoted before ENABLE", data)
# ENABLE is for the authenticated state (RFC 5161 §3.1), and imaplib holds to it: UNSELECT.
typ, data = M.unselect()
assert typ == "OK", (typ, data)
typ, data = M.enable("UTF8=ACCEPT")
assert typ == "OK", (typ, data)
typ, data = M.select("INBOX")
assert data == [b"1"], data
# Now imaplib sends UTF-8, and SEARCH matches case-insensitively beyond ASCII.
typ, data = M.search(None, "SUBJECT", '"ΓΕΙΑ"')
assert data == [b"1"], data
typ, data = M.fetch("1", "(ENVELOPE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])")
envelope, header = data[0][0].decode("utf-8"), data[0][1].decode("utf-8")
# RFC 6855 §3: after ENABLE UTF8=ACCEPT the server sends UTF-8 as quoted strings.
assert '"γεια imaplib" (("θέμα" NIL "θέμα" "example.test"))' in envelope, envelope
assert header == "From: θέμα <θέμα@example.test>\r\nSubject: γεια imaplib\r\n\r\n", header
M.logout()
print("ok")
"#;

#[tokio::test]
async fn python_imaplib_starttls_search_fetch_idle_and_utf8_against_serve() {
    let Some(python) = acmeproof_testkit::require_tool("python3") else {
        return;
    };
    let world = MailWorld::start("imaplib");
    let script = world.write("imap.py", PY_IMAP);
    let mut command = Command::new(python);
    command
        .env("PYTHONUTF8", "1")
        .arg(&script)
        .args(["127.0.0.1", &world.port("imap"), &world.port("lmtp")])
        .args([&world.bundle(), ALICE, &world.password(ALICE)])
        .args([EAI, &world.password(EAI)]);
    run_python_script(command);
    // The server side agrees: three messages for alice, the PEEKed one still unseen.
    let inbox = world.inbox(ALICE).await;
    assert_eq!(inbox.len(), 3, "{inbox:?}");
    assert_eq!(inbox[2]["subject"], "imaplib while idling", "{inbox:?}");
}

/// Python's poplib: STLS, then POP3S, against the same maildrop.
const PY_POP3: &str = r#"
import poplib, ssl, sys
host, pop3_port, pop3s_port, bundle, user, password = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=bundle)

# Without the served root, STLS fails: the verification below is real.
p = poplib.POP3(host, int(pop3_port), timeout=20)
try:
    p.stls(context=ssl.create_default_context())
    raise SystemExit("STLS verified without the served root")
except ssl.SSLCertVerificationError as e:
    print("unverified refused:", e.verify_message)

p = poplib.POP3(host, int(pop3_port), timeout=20)
assert "STLS" in p.capa(), p.capa()
p.stls(context=ctx)
assert "STLS" not in p.capa(), p.capa()
p.user(user)
p.pass_(password)
resp, listings, _ = p.uidl()
assert len(listings) == 2, listings
uids = [line.split()[1] for line in listings]
assert len(set(uids)) == 2, listings
resp, lines, octets = p.retr(1)
assert b"Subject: poplib dots" in lines, lines
body = lines[lines.index(b"") + 1:]
# poplib undoes the dot-stuffing the server did (RFC 1939 §3).
assert body == [b"hello", b".leading dot", b"..two dots", b".", b"end"], lines
resp, lines, _ = p.top(2, 1)
assert lines[-3:] == [b"Subject: poplib second", b"", b"line1"], lines
p.dele(2)
p.quit()

# POP3S: the QUIT above expunged message 2; message 1 keeps its unique id (RFC 1939 §7).
p = poplib.POP3_SSL(host, int(pop3s_port), context=ctx, timeout=20)
p.user(user)
p.pass_(password)
resp, listings, _ = p.uidl()
assert listings == [b"1 " + uids[0]], (listings, uids)
p.quit()
print("ok")
"#;

#[tokio::test]
async fn python_poplib_stls_uidl_retr_dele_then_pop3s_against_serve() {
    let Some(python) = acmeproof_testkit::require_tool("python3") else {
        return;
    };
    let world = MailWorld::start("poplib");
    world
        .lmtp(
            ALICE,
            "From: bob@example.test\r\nSubject: poplib dots\r\n\r\nhello\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n",
        )
        .await;
    world
        .lmtp(
            ALICE,
            "From: bob@example.test\r\nSubject: poplib second\r\n\r\nline1\r\nline2\r\n",
        )
        .await;
    let script = world.write("pop.py", PY_POP3);
    let mut command = Command::new(python);
    command
        .arg(&script)
        .args(["127.0.0.1", &world.port("pop3"), &world.port("pop3s")])
        .args([&world.bundle(), ALICE, &world.password(ALICE)]);
    run_python_script(command);
    let inbox = world.inbox(ALICE).await;
    assert_eq!(inbox.len(), 1, "DELE 2 then QUIT: {inbox:?}");
    assert_eq!(inbox[0]["subject"], "poplib dots", "{inbox:?}");
}

/// A message for alice over LMTP, for the readers below.
async fn deliver_for_readers(world: &MailWorld, subject: &str, body: &str) {
    world
        .lmtp(
            ALICE,
            &format!(
                "From: sender@example.test\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\n{body}\r\n"
            ),
        )
        .await;
}

/// fetchmail's rc file for one IMAP poll of alice's INBOX with STARTTLS and `sslcertck`;
/// `bundle` is the file of trusted roots, or `None` for the system's. fetchmail checks the name
/// against DNS names only, so `sslcommonname` says which one the certificate must carry.
fn fetchmail_rc(world: &MailWorld, bundle: Option<&str>, mbox: &str) -> String {
    let certfile = bundle
        .map(|b| format!(" sslcertfile \"{b}\""))
        .unwrap_or_default();
    format!(
        "set no syslog\n\
         poll 127.0.0.1 service {port} protocol IMAP\n\
         \x20 user \"{ALICE}\" there with password \"{password}\" is \"local\" here\n\
         \x20 sslcertck{certfile} sslcommonname \"localhost\"\n\
         \x20 mda \"cat >> {mbox}\"\n\
         \x20 keep\n",
        port = world.port("imap"),
        password = world.password(ALICE),
    )
}

fn fetchmail(tool: &std::path::Path, world: &MailWorld, rc: &str, name: &str) -> (bool, String) {
    let rc = world.write(name, rc);
    {
        use std::os::unix::fs::PermissionsExt;
        // fetchmail refuses an rc file that others can read (it holds a password).
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let home = world.serve.dir.join(format!("{name}-home"));
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(tool);
    command
        .env("HOME", &home)
        .env("FETCHMAILHOME", &home)
        .args(["--nodetach", "--verbose", "--fetchmailrc", &rc])
        .arg("--idfile")
        .arg(home.join("ids"));
    let out = run(command, TOOL_LIMIT);
    (out.status.success(), show(&out))
}

#[tokio::test]
async fn fetchmail_reads_the_inbox_over_imap_starttls_only_with_the_served_root() {
    let Some(tool) = acmeproof_testkit::require_tool("fetchmail") else {
        return;
    };
    let world = MailWorld::start("fetchmail");
    let subject = "fetchmail reads this";
    deliver_for_readers(&world, subject, "fetched over STARTTLS").await;
    let mbox = world.serve.dir.join("fetched.mbox").display().to_string();

    // The system's roots do not include the served one: the handshake fails, nothing is
    // fetched, and the password is never sent.
    let rc = fetchmail_rc(&world, None, &mbox);
    let (ok, text) = fetchmail(&tool, &world, &rc, "unverified.rc");
    assert!(!ok, "{text}");
    assert!(text.contains("IMAP> A0001 STARTTLS"), "{text}");
    assert!(text.contains("certificate verify failed"), "{text}");
    assert!(!text.contains("LOGIN"), "{text}");
    assert!(!std::path::Path::new(&mbox).exists(), "{text}");

    let rc = fetchmail_rc(&world, Some(&world.bundle()), &mbox);
    let (ok, text) = fetchmail(&tool, &world, &rc, "verified.rc");
    assert!(ok, "{text}");
    assert!(text.contains("IMAP> A0001 STARTTLS"), "{text}");
    assert!(text.contains("1 message for alice@example.test"), "{text}");
    let fetched = std::fs::read_to_string(&mbox).unwrap();
    assert!(
        fetched.contains(&format!("\nSubject: {subject}\n")),
        "{fetched}"
    );
    assert!(fetched.contains("\nfetched over STARTTLS\n"), "{fetched}");
    // `keep`: still on the server, now \Seen.
    let inbox = world.inbox(ALICE).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(
        inbox[0]["flags"].to_string().contains("\\\\Seen"),
        "{inbox:?}"
    );
}

/// s-nail in batch mode on alice's INBOX over IMAP with STARTTLS: `extra` are its `-S`
/// settings for trust, `commands` its `-Y` commands. No resource file is read (`-:/`) and HOME
/// is a scratch folder, so no user configuration interferes.
fn s_nail(
    tool: &std::path::Path,
    world: &MailWorld,
    extra: &[&str],
    commands: &[&str],
) -> (bool, String) {
    let home = world.serve.dir.join("s-nail-home");
    std::fs::create_dir_all(&home).unwrap();
    // s-nail matches the certificate against DNS names only: connect as `localhost`, which
    // the served certificate carries. The password goes in the URL (v15-compat).
    let password = world.password(ALICE);
    let url = format!(
        "imap://alice%40example.test:{password}@localhost:{}/INBOX",
        world.port("imap")
    );
    let mut command = Command::new(tool);
    command
        .env("HOME", &home)
        .env_remove("MAILRC")
        .args(["-:/", "-#"])
        .args([
            "-S",
            "v15-compat",
            "-S",
            "imap-use-starttls",
            "-S",
            "verbose",
        ]);
    for setting in extra {
        command.args(["-S", setting]);
    }
    for c in commands {
        command.args(["-Y", c]);
    }
    command
        .arg("-f")
        .arg(url)
        .stdin(std::process::Stdio::null());
    let out = run(command, TOOL_LIMIT);
    (out.status.success(), show(&out))
}

#[tokio::test]
async fn s_nail_reads_the_inbox_over_imap_starttls_only_with_the_served_root() {
    let Some(tool) = acmeproof_testkit::require_tool("s-nail") else {
        return;
    };
    let world = MailWorld::start("s-nail");
    let subject = "s-nail reads this";
    deliver_for_readers(&world, subject, "read over STARTTLS").await;
    let commands = ["headers", "type 1", "xit"];

    // The system's roots only: the handshake fails and no header is shown.
    let (ok, text) = s_nail(&tool, &world, &[], &commands);
    assert!(!ok, "{text}");
    assert!(text.contains("certificate verify failed"), "{text}");
    assert!(!text.contains(subject), "{text}");

    // The served root, and only it.
    let ca_file = format!("tls-ca-file={}", world.bundle());
    let (ok, text) = s_nail(&tool, &world, &[&ca_file, "tls-ca-no-defaults"], &commands);
    assert!(ok, "{text}");
    assert!(text.contains("TLS certificate ok"), "{text}");
    let summary = text
        .lines()
        .find(|l| l.contains(subject))
        .unwrap_or_else(|| panic!("a header line for {subject:?}: {text}"));
    assert!(summary.contains("sender@example.tes"), "{summary}");
    assert!(text.contains(&format!("\nSubject: {subject}\n")), "{text}");
    assert!(text.contains("\nread over STARTTLS\n"), "{text}");
}
