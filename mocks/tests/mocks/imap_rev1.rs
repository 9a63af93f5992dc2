//! `mocks::imap`: the rest of IMAP4rev1 (RFC 3501) and what MUAs use with it — APPEND with
//! LITERAL+ and APPENDLIMIT, CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE/LSUB, COPY and UID
//! COPY, MOVE (RFC 6851), UIDPLUS (RFC 4315), NAMESPACE, body part sections, date searches,
//! BADCHARSET and the tagged BAD for an overlong line — over raw sockets, each refusal shown
//! next to the success it guards; then Python's imaplib through every base command and s-nail
//! saving a sent mail to an IMAP folder (curl is in `imap`).

use crate::imap::{ALICE, Client, config, has, start, still_serves, store, tagged};
use acmeproof_mocks::imap::ImapServer;

fn untagged(r: &[String]) -> Vec<&str> {
    r[..r.len() - 1].iter().map(String::as_str).collect()
}

#[tokio::test]
async fn append_with_flags_date_literal_plus_and_uidplus() {
    let (server, store) = start().await;
    let (mut c, greeting) = Client::connect(server.addr()).await;
    for cap in [
        "UIDPLUS",
        "MOVE",
        "NAMESPACE",
        "APPENDLIMIT=10485760",
        "CHILDREN",
    ] {
        assert!(greeting.contains(cap), "{cap}: {greeting}");
    }
    c.login().await;
    let msg = "From: alice@example.test\r\nSubject: sent by me\r\n\r\nhello\r\n";
    // A synchronising literal: "+" first, then the message.
    c.send(
        format!(
            "p1 APPEND Archive (\\Seen $Work) \" 7-Feb-2025 10:11:12 +0100\" {{{}}}\r\n",
            msg.len()
        )
        .as_bytes(),
    )
    .await;
    assert!(c.response().await.unwrap().starts_with("+ "));
    c.send(format!("{msg}\r\n").as_bytes()).await;
    let r = c.until_tagged("p1").await;
    let validity = store.mailbox_status(ALICE, "Archive").unwrap().uidvalidity;
    assert_eq!(
        tagged(&r),
        format!("p1 OK [APPENDUID {validity} 1] APPEND completed")
    );
    let m = store.message(ALICE, "Archive", 1).unwrap();
    assert_eq!(&m.raw[..], msg.as_bytes());
    assert!(m.has_flag("\\Seen") && m.has_flag("$Work"), "{:?}", m.flags);
    assert_eq!(
        m.internal_date,
        time::macros::datetime!(2025-02-07 10:11:12 +1)
    );
    // LITERAL+: no "+", the answer follows the message at once.
    c.send(format!("p2 APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes())
        .await;
    let r = c.until_tagged("p2").await;
    assert!(tagged(&r).starts_with("p2 OK [APPENDUID "), "{r:?}");
    // Into the selected mailbox: the new message is reported at once.
    c.cmd("SELECT INBOX").await;
    c.send(format!("p3 APPEND inbox {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes())
        .await;
    let r = c.until_tagged("p3").await;
    assert!(has(&r, "* 5 EXISTS"), "{r:?}");
    // A mailbox that does not exist: TRYCREATE before the literal is sent, never created.
    let r = c.cmd("APPEND Nowhere {5}").await;
    assert!(tagged(&r).contains(" NO [TRYCREATE] "), "{r:?}");
    assert!(store.mailbox_status(ALICE, "Nowhere").is_err());
    // ... and after a non-synchronising one (the message is read and the answer is the same).
    c.send(b"p4 APPEND Nowhere {5+}\r\nhello\r\n").await;
    let r = c.until_tagged("p4").await;
    assert!(tagged(&r).starts_with("p4 NO [TRYCREATE] "), "{r:?}");
    // Bad flags and dates are the command's syntax: BAD.
    for bad in [
        "APPEND INBOX (\\Recent) {1+}\r\nx",
        "APPEND INBOX \"31-Feb-2025 10:00:00 +0000\" {1+}\r\nx",
        "APPEND INBOX (\\Seen",
        "APPEND INBOX",
    ] {
        let r = c.cmd(bad).await;
        assert!(tagged(&r).contains(" BAD "), "{bad}: {r:?}");
    }
    // Over APPENDLIMIT (RFC 7889): NO [TOOBIG] without reading the message.
    let r = c.cmd("APPEND INBOX {10485761}").await;
    assert!(tagged(&r).contains(" NO [TOOBIG] "), "{r:?}");
    still_serves(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn create_delete_rename_list_lsub_and_namespace() {
    let (server, store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    let r = c.cmd("NAMESPACE").await;
    assert_eq!(untagged(&r), ["* NAMESPACE ((\"\" \"/\")) NIL NIL"]);
    for ok in ["CREATE Projects/2025/", "CREATE \"Sent Items\""] {
        assert!(tagged(&c.cmd(ok).await).contains(" OK "), "{ok}");
    }
    for (bad, want) in [
        ("CREATE INBOX", "NO [ALREADYEXISTS]"),
        ("CREATE Projects", "NO [ALREADYEXISTS]"),
        ("CREATE a//b", "NO [CANNOT]"),
        ("DELETE INBOX", "NO [CANNOT]"),
        ("DELETE Nowhere", "NO [NONEXISTENT]"),
        ("RENAME Nowhere Else", "NO [NONEXISTENT]"),
        ("RENAME Archive Projects", "NO [ALREADYEXISTS]"),
        ("RENAME Projects Projects/x", "NO [CANNOT]"),
        ("UNSUBSCRIBE Archive", "NO [CANNOT]"),
        ("SELECT Nowhere", "NO [NONEXISTENT]"),
    ] {
        let r = c.cmd(bad).await;
        assert!(tagged(&r).contains(want), "{bad}: {r:?}");
    }
    let r = c.cmd("LIST \"\" *").await;
    assert_eq!(
        untagged(&r),
        [
            "* LIST (\\HasNoChildren) \"/\" Archive",
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\HasChildren) \"/\" Projects",
            "* LIST (\\HasNoChildren) \"/\" Projects/2025",
            "* LIST (\\HasNoChildren) \"/\" \"Sent Items\"",
        ]
    );
    let r = c.cmd("LIST Projects/ %").await;
    assert_eq!(
        untagged(&r),
        ["* LIST (\\HasNoChildren) \"/\" Projects/2025"]
    );
    // DELETE of a name with inferiors keeps it as \Noselect (RFC 3501 §6.3.4).
    store
        .deliver_to(
            ALICE,
            "Projects",
            b"Subject: p\r\n\r\n",
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
    assert!(tagged(&c.cmd("DELETE Projects").await).contains(" OK "));
    let r = c.cmd("LIST \"\" Projects").await;
    assert_eq!(
        untagged(&r),
        ["* LIST (\\Noselect \\HasChildren) \"/\" Projects"]
    );
    let r = c.cmd("SELECT Projects").await;
    assert!(tagged(&r).contains("NO [NONEXISTENT]"), "{r:?}");
    let r = c.cmd("DELETE Projects").await;
    assert!(tagged(&r).contains("NO [CANNOT]"), "{r:?}");
    // RENAME moves the inferiors along.
    assert!(tagged(&c.cmd("RENAME Projects Work").await).contains(" OK "));
    let r = c.cmd("LIST \"\" Work*").await;
    assert_eq!(
        untagged(&r),
        [
            "* LIST (\\Noselect \\HasChildren) \"/\" Work",
            "* LIST (\\HasNoChildren) \"/\" Work/2025",
        ]
    );
    // Subscriptions are names: LSUB shows them, existing or not.
    for name in ["Archive", "Later/Maybe", "\"Sent Items\""] {
        assert!(tagged(&c.cmd(&format!("SUBSCRIBE {name}")).await).contains(" OK "));
    }
    assert!(tagged(&c.cmd("UNSUBSCRIBE Archive").await).contains(" OK "));
    let r = c.cmd("LSUB \"\" *").await;
    assert_eq!(
        untagged(&r),
        [
            "* LSUB (\\HasNoChildren) \"/\" \"Sent Items\"",
            "* LSUB (\\Noselect) \"/\" Later/Maybe",
        ]
    );
    // RENAME INBOX moves its messages and leaves it empty (RFC 3501 §6.3.5).
    assert!(tagged(&c.cmd("RENAME INBOX Old").await).contains(" OK "));
    let r = c.cmd("STATUS Old (MESSAGES)").await;
    assert_eq!(untagged(&r), ["* STATUS Old (MESSAGES 3)"]);
    let r = c.cmd("STATUS INBOX (MESSAGES)").await;
    assert_eq!(untagged(&r), ["* STATUS INBOX (MESSAGES 0)"]);
    server.shutdown().await;
}

#[tokio::test]
async fn copy_move_and_uid_expunge_answer_with_uidplus() {
    let (server, store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    let archive = store.mailbox_status(ALICE, "Archive").unwrap().uidvalidity;
    c.cmd("STORE 2 +FLAGS (\\Flagged)").await;
    let r = c.cmd("COPY 1:2 Archive").await;
    assert_eq!(
        tagged(&r),
        format!("a4 OK [COPYUID {archive} 1:2 1:2] COPY completed")
    );
    assert!(
        store
            .message(ALICE, "Archive", 2)
            .unwrap()
            .has_flag("\\Flagged")
    );
    let r = c.cmd("UID COPY 3,1 Archive").await;
    assert_eq!(
        tagged(&r),
        format!("a5 OK [COPYUID {archive} 1,3 3:4] UID COPY completed")
    );
    let r = c.cmd("COPY 1 Nowhere").await;
    assert!(tagged(&r).contains(" NO [TRYCREATE] "), "{r:?}");
    let r = c.cmd("COPY 9 Archive").await;
    assert!(tagged(&r).contains(" BAD "), "no message 9: {r:?}");
    // MOVE: COPYUID first, then the expunges, then OK (RFC 6851 §4.3).
    let r = c.cmd("MOVE 2 Archive").await;
    assert_eq!(
        r,
        [
            format!("* OK [COPYUID {archive} 2 5] moved"),
            "* 2 EXPUNGE".into(),
            "a8 OK MOVE completed".into(),
        ]
    );
    let r = c.cmd("UID MOVE 3 Archive").await;
    assert_eq!(r[1], "* 2 EXPUNGE", "UID 3 is now message 2: {r:?}");
    assert_eq!(store.messages(ALICE, "INBOX").unwrap().len(), 1);
    assert_eq!(store.messages(ALICE, "Archive").unwrap().len(), 6);
    // UID EXPUNGE removes only the deleted messages of its set.
    c.cmd("SELECT Archive").await;
    c.cmd("STORE 1:3 +FLAGS.SILENT (\\Deleted)").await;
    let r = c.cmd("UID EXPUNGE 2:3").await;
    assert_eq!(untagged(&r), ["* 3 EXPUNGE", "* 2 EXPUNGE"]);
    assert!(
        store
            .message(ALICE, "Archive", 1)
            .unwrap()
            .has_flag("\\Deleted")
    );
    // Read-only: COPY is fine, MOVE is not.
    c.cmd("EXAMINE Archive").await;
    assert!(tagged(&c.cmd("COPY 1 INBOX").await).contains(" OK "));
    assert!(tagged(&c.cmd("MOVE 1 INBOX").await).contains("NO [READ-ONLY]"));
    server.shutdown().await;
}

#[tokio::test]
async fn body_part_sections_date_searches_and_badcharset() {
    let s = store();
    let multi = "From: a@example.test\r\nSubject: parts\r\nDate: Tue, 4 Mar 2025 09:00:00 +0000\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n";
    let at = time::macros::datetime!(2025-03-05 12:00 UTC);
    s.deliver(ALICE, multi.as_bytes(), at).unwrap();
    let server = ImapServer::start(config(&s)).await.unwrap();
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    let r = c
        .cmd("FETCH 4 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[2] BODY.PEEK[3])")
        .await;
    assert_eq!(
        r[0],
        "* 4 FETCH (BODY[1] {10}\r\nfirst part BODY[2.MIME] {77}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n BODY[2] {8}\r\naGVsbG8= BODY[3] {0}\r\n)"
    );
    let r = c.cmd("SEARCH SENTON 4-Mar-2025").await;
    assert_eq!(r[0], "* SEARCH 4");
    let r = c
        .cmd("SEARCH SINCE 5-Mar-2025 NOT BEFORE \"5-Mar-2025\"")
        .await;
    assert_eq!(r[0], "* SEARCH 4");
    // RFC 3501 §6.4.4: an unknown charset is a tagged NO with BADCHARSET, not a BAD.
    let r = c.cmd("SEARCH CHARSET KOI8-R SUBJECT x").await;
    assert_eq!(
        tagged(&r),
        "a6 NO [BADCHARSET (US-ASCII UTF-8)] charset not supported"
    );
    let r = c.cmd("SEARCH CHARSET utf-8 SUBJECT parts").await;
    assert_eq!(r[0], "* SEARCH 4");
    server.shutdown().await;
}

/// An overlong command line gets a tagged BAD whenever its tag can be read, so the client is
/// not left waiting; without a readable tag, an untagged BAD. The session goes on.
#[tokio::test]
async fn an_overlong_line_is_answered_with_its_tag() {
    let (server, _store) = start().await;
    let (mut c, _) = Client::connect(server.addr()).await;
    c.login().await;
    c.cmd("SELECT INBOX").await;
    let mut long = b"o1 SEARCH SUBJECT ".to_vec();
    long.extend(std::iter::repeat_n(b'y', 70 * 1024));
    long.extend_from_slice(b"\r\n");
    c.send(&long).await;
    assert_eq!(c.response().await.unwrap(), "o1 BAD command line too long");
    // The overlong part after a literal: the tag is in the first line.
    c.send(b"o2 SEARCH SUBJECT {3}\r\n").await;
    assert!(c.response().await.unwrap().starts_with("+ "));
    let mut rest = b"abc ".to_vec();
    rest.extend(std::iter::repeat_n(b'z', 70 * 1024));
    rest.extend_from_slice(b"\r\n");
    c.send(&rest).await;
    assert_eq!(c.response().await.unwrap(), "o2 BAD command line too long");
    // A line that is one huge tag has no readable tag.
    let mut tagless = vec![b't'; 70 * 1024];
    tagless.extend_from_slice(b"\r\n");
    c.send(&tagless).await;
    assert_eq!(c.response().await.unwrap(), "* BAD command line too long");
    let r = c.cmd("NOOP").await;
    assert!(tagged(&r).contains(" OK "), "{r:?}");
    server.shutdown().await;
}

const PY_IMAP: &str = r#"
import imaplib, sys, time
port = int(sys.argv[1])
M = imaplib.IMAP4("127.0.0.1", port, timeout=20)
def ok(r, what):
    typ, data = r
    assert typ == "OK", (what, typ, data)
    return data
ok(M.login("alice@example.test", "pw"), "LOGIN")
ok(M.capability(), "CAPABILITY")
ok(M.noop(), "NOOP")
print(ok(M.namespace(), "NAMESPACE"))
ok(M.create("Projects"), "CREATE")
msg = b"From: alice@example.test\r\nSubject: from imaplib\r\n\r\nhello\r\n"
data = ok(M.append("Projects", r"(\Seen)", imaplib.Time2Internaldate(time.time()), msg), "APPEND")
assert b"APPENDUID" in data[0], data
ok(M.subscribe("Projects"), "SUBSCRIBE")
assert any(b"Projects" in l for l in ok(M.lsub(), "LSUB")), "LSUB"
assert any(b"Projects" in l for l in ok(M.list(), "LIST"))
print(ok(M.status("Projects", "(MESSAGES UIDNEXT)"), "STATUS"))
ok(M.select("Projects"), "SELECT")
ok(M.check(), "CHECK")
assert ok(M.search(None, "SUBJECT", "imaplib"), "SEARCH") == [b"1"]
assert b"hello" in ok(M.fetch("1", "(BODY.PEEK[TEXT])"), "FETCH")[0][1]
ok(M.copy("1", "INBOX"), "COPY")
ok(M.uid("COPY", "1", "Archive"), "UID COPY")
ok(M.uid("MOVE", "1", "INBOX"), "UID MOVE")
ok(M.select("INBOX"), "SELECT INBOX")
n = int(ok(M.select("INBOX"), "SELECT")[0])
ok(M.store("1", "+FLAGS", r"(\Deleted)"), "STORE")
expunged = ok(M.expunge(), "EXPUNGE")
assert expunged == [b"1"], expunged
assert int(ok(M.select("INBOX"), "SELECT")[0]) == n - 1
ok(M.close(), "CLOSE")
ok(M.unsubscribe("Projects"), "UNSUBSCRIBE")
ok(M.rename("Projects", "Done"), "RENAME")
ok(M.delete("Done"), "DELETE")
assert not any(b"Done" in l for l in ok(M.list(), "LIST"))
typ, _ = M.select("Done")
assert typ == "NO", typ
M.logout()
print("ok")
"#;

/// Python's imaplib drives every base command against the server (issue 17's acceptance).
#[tokio::test]
async fn python_imaplib_every_base_command() {
    let Some(python) = acmeproof_testkit::require_tool("python3") else {
        return;
    };
    let (server, store) = start().await;
    let dir = crate::tools::temp_dir("imaplib");
    let script = dir.join("imap.py");
    std::fs::write(&script, PY_IMAP).unwrap();
    let port = server.addr().port().to_string();
    let (ok, out) = crate::tools::run(&python, &[&script.display().to_string(), &port]).await;
    assert!(ok && out.trim_end().ends_with("ok"), "{out}");
    // What the script did is in the store: the APPENDed message was copied to Archive and moved
    // to INBOX (and one INBOX message expunged); the renamed folder is gone.
    assert_eq!(store.messages(ALICE, "INBOX").unwrap().len(), 4);
    assert_eq!(store.messages(ALICE, "Archive").unwrap().len(), 1);
    assert!(store.mailbox_status(ALICE, "Done").is_err());
    assert!(store.mailbox_status(ALICE, "Projects").is_err());
    let _ = std::fs::remove_dir_all(dir);
    server.shutdown().await;
}

/// s-nail sends a mail and saves it (`record`) to an IMAP folder: an APPEND by a real MUA.
#[tokio::test]
async fn s_nail_records_a_sent_mail_over_imap() {
    let Some(snail) = acmeproof_testkit::require_tool("s-nail") else {
        return;
    };
    let (server, store) = start().await;
    store.create_mailbox(ALICE, "Sent").unwrap();
    let dir = crate::tools::temp_dir("snail");
    // The MTA s-nail hands the message to: a sendmail stand-in that swallows it.
    let mta = dir.join("mta.sh");
    std::fs::write(&mta, "#!/bin/sh\ncat >/dev/null\n").unwrap();
    std::fs::set_permissions(&mta, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let body = dir.join("body.txt");
    std::fs::write(&body, "saved over IMAP\n").unwrap();
    let host = format!("127.0.0.1:{}", server.addr().port());
    let record = format!("record=imap://alice%40example.test@{host}/Sent");
    let dead = format!("DEAD={}", dir.join("dead.letter").display());
    let mta_var = format!("mta={}", mta.display());
    let script = format!(
        "{} -:/ -S v15-compat -S {record} -S password=pw -S '{dead}' -S '{mta_var}' -S from=alice@example.test -s 'recorded by s-nail' bob@example.test < {}",
        snail.display(),
        body.display()
    );
    let (ok, out) = crate::tools::run(std::path::Path::new("/bin/sh"), &["-c", &script]).await;
    let saved = store.messages(ALICE, "Sent").unwrap();
    assert!(ok && saved.len() == 1, "{out}");
    let raw = String::from_utf8_lossy(&saved[0].raw);
    assert!(raw.contains("Subject: recorded by s-nail"), "{raw}");
    assert!(raw.contains("saved over IMAP"), "{raw}");
    let _ = std::fs::remove_dir_all(dir);
    server.shutdown().await;
}
