//! `mocks::mailstore`: users, mailboxes, UIDs, flags, limits, change events, and the
//! `StoreSink` an LMTP server drives.

use std::net::SocketAddr;
use std::time::Duration;

use acmeproof_mocks::mail::{Authenticator, Envelope, Incoming, MailSink, Session};
use acmeproof_mocks::mailstore::{
    INBOX, MAX_MAILBOXES_PER_USER, MAX_MESSAGE_OCTETS, MAX_MESSAGES_PER_MAILBOX, MailStore,
    StoreError, StoreEvent, StoreSink,
};
use acmeproof_mocks::seed::Seed;
use time::OffsetDateTime;
use time::macros::datetime;

const AT: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);
const T: Duration = Duration::from_secs(5);
const MSG: &[u8] = b"From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n";

fn store() -> MailStore {
    let s = MailStore::new();
    s.add_user("Alice@Example.TEST", "pw-a").expect("alice");
    s.add_user("bob@example.test", "pw-b").expect("bob");
    s
}

#[test]
fn uids_ascend_uidvalidity_is_stable_and_nonzero() {
    let s = store();
    let before = s
        .mailbox_status("Alice@example.test", INBOX)
        .expect("status");
    assert_ne!(before.uidvalidity, 0);
    assert_eq!(before.uidnext, 1);
    let uids: Vec<u32> = (0..3)
        .map(|_| s.deliver("Alice@example.test", MSG, AT).expect("deliver"))
        .collect();
    assert_eq!(uids, vec![1, 2, 3]);
    let after = s
        .mailbox_status("Alice@example.test", "inbox")
        .expect("status");
    assert_eq!(after.uidvalidity, before.uidvalidity);
    assert_eq!(after.uidnext, 4);
    let m = s.message("Alice@example.test", INBOX, 2).expect("uid 2");
    assert_eq!(&m.raw[..], MSG);
    assert_eq!(m.size, MSG.len());
    assert_eq!(m.internal_date, AT);
    // Expunged UIDs are not reused (RFC 9051 §2.3.1.1).
    s.add_flags("Alice@example.test", INBOX, 3, &["\\Deleted"])
        .expect("flag");
    assert_eq!(
        s.expunge("Alice@example.test", INBOX).expect("expunge"),
        vec![3]
    );
    assert_eq!(s.deliver("Alice@example.test", MSG, AT).expect("again"), 4);
    // Mailboxes get distinct UIDVALIDITY values.
    let bob = s.mailbox_status("bob@example.test", INBOX).expect("bob");
    assert_ne!(bob.uidvalidity, before.uidvalidity);
    // Seeded stores replay their UIDVALIDITY.
    let a = MailStore::with_seed(&Seed(3).stream("store"));
    let b = MailStore::with_seed(&Seed(3).stream("store"));
    a.add_user("x@example.test", "p").expect("x");
    b.add_user("x@example.test", "p").expect("x");
    assert_eq!(
        a.mailbox_status("x@example.test", INBOX)
            .expect("a")
            .uidvalidity,
        b.mailbox_status("x@example.test", INBOX)
            .expect("b")
            .uidvalidity
    );
}

#[test]
fn flags_are_set_added_removed_and_validated() {
    let s = store();
    let uid = s.deliver("bob@example.test", MSG, AT).expect("deliver");
    let set = s
        .add_flags("bob@example.test", INBOX, uid, &["\\Seen", "$Label1"])
        .expect("add");
    assert!(set.contains("\\Seen") && set.contains("$Label1"));
    let set = s
        .add_flags("bob@example.test", INBOX, uid, &["\\seen"])
        .expect("add again");
    assert_eq!(set.len(), 2, "system flags are case-insensitive: {set:?}");
    let set = s
        .remove_flags("bob@example.test", INBOX, uid, &["\\SEEN"])
        .expect("remove");
    assert_eq!(set.into_iter().collect::<Vec<_>>(), vec!["$Label1"]);
    let set = s
        .set_flags(
            "bob@example.test",
            INBOX,
            uid,
            &["\\Flagged", "\\Answered", "\\Draft"],
        )
        .expect("set");
    assert_eq!(set.len(), 3);
    assert!(
        s.message("bob@example.test", INBOX, uid)
            .expect("m")
            .has_flag("\\flagged")
    );
    for bad in ["", "\\", "two words", "\\Recent", "a(b", &"x".repeat(65)] {
        assert!(
            matches!(
                s.add_flags("bob@example.test", INBOX, uid, &[bad]),
                Err(StoreError::BadFlag(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        s.add_flags("bob@example.test", INBOX, 99, &["\\Seen"]),
        Err(StoreError::NoSuchMessage(99))
    );
    let many: Vec<String> = (0..65).map(|i| format!("k{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        s.set_flags("bob@example.test", INBOX, uid, &many),
        Err(StoreError::TooManyFlags(_))
    ));
}

#[test]
fn status_counts_and_expunge() {
    let s = store();
    for _ in 0..4 {
        s.deliver("bob@example.test", MSG, AT).expect("deliver");
    }
    s.add_flags("bob@example.test", INBOX, 1, &["\\Seen"])
        .expect("seen");
    s.add_flags("bob@example.test", INBOX, 2, &["\\Seen", "\\Deleted"])
        .expect("del");
    s.add_flags("bob@example.test", INBOX, 4, &["\\Deleted"])
        .expect("del");
    let st = s.mailbox_status("bob@example.test", INBOX).expect("status");
    assert_eq!((st.exists, st.recent, st.unseen, st.uidnext), (4, 4, 2, 5));
    s.clear_recent("bob@example.test", INBOX).expect("clear");
    assert_eq!(
        s.mailbox_status("bob@example.test", INBOX)
            .expect("s")
            .recent,
        0
    );
    assert_eq!(
        s.expunge("bob@example.test", INBOX).expect("expunge"),
        vec![2, 4]
    );
    let uids: Vec<u32> = s
        .messages("bob@example.test", INBOX)
        .expect("messages")
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(uids, vec![1, 3]);
    let st = s.mailbox_status("bob@example.test", INBOX).expect("status");
    assert_eq!((st.exists, st.unseen), (2, 1));
    assert_eq!(
        s.expunge("bob@example.test", INBOX).expect("none"),
        Vec::<u32>::new()
    );
}

#[test]
fn mailboxes_are_created_listed_and_delivered_to() {
    let s = store();
    s.create_mailbox("bob@example.test", "Archive")
        .expect("create");
    assert_eq!(
        s.create_mailbox("bob@example.test", "Archive"),
        Err(StoreError::MailboxExists("Archive".into()))
    );
    assert!(matches!(
        s.create_mailbox("bob@example.test", "inbox"),
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        s.create_mailbox("bob@example.test", "bad\nname"),
        Err(StoreError::BadMailboxName(_))
    ));
    assert_eq!(
        s.list_mailboxes("bob@example.test").expect("list"),
        vec!["Archive".to_owned(), "INBOX".to_owned()]
    );
    assert_eq!(s.deliver_to("bob@example.test", "Archive", MSG, AT), Ok(1));
    assert!(matches!(
        s.deliver_to("bob@example.test", "Nope", MSG, AT),
        Err(StoreError::NoSuchMailbox { .. })
    ));
    assert!(matches!(
        s.deliver("nobody@example.test", MSG, AT),
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(matches!(
        s.deliver("not an address", MSG, AT),
        Err(StoreError::BadAddress(..))
    ));
    assert!(matches!(
        s.add_user("BOB@example.test", "x"),
        Ok(()) // local parts are case-sensitive (RFC 5321 §2.4): a different user
    ));
    assert!(matches!(
        s.add_user("bob@EXAMPLE.test", "x"),
        Err(StoreError::UserExists(_))
    ));
}

#[test]
fn eai_user_is_found_by_u_label_and_a_label() {
    let s = MailStore::new();
    s.add_user("δοκιμή@παράδειγμα.δοκιμή", "pw").expect("eai");
    let a_label = "δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp";
    assert!(s.user_exists("δοκιμή@παράδειγμα.δοκιμή"));
    assert!(s.user_exists(a_label));
    assert!(s.user_exists("δοκιμή@XN--HXAJBHEG2AZ3AL.xn--jxalpdlp"));
    assert!(!s.user_exists("Δοκιμή@παράδειγμα.δοκιμή"));
    assert_eq!(s.users(), vec![a_label.to_owned()]);
    let uid = s
        .deliver("δοκιμή@παράδειγμα.δοκιμή", MSG, AT)
        .expect("deliver");
    assert!(s.message(a_label, INBOX, uid).is_some());
    assert_eq!(s.authenticate(a_label, "pw").as_deref(), Some(a_label));
    assert_eq!(
        s.authenticate("δοκιμή@παράδειγμα.δοκιμή", "pw").as_deref(),
        Some(a_label)
    );
}

#[test]
fn limits_refuse_with_errors() {
    let s = store();
    let big = vec![b'x'; MAX_MESSAGE_OCTETS + 1];
    assert_eq!(
        s.deliver("bob@example.test", &big, AT),
        Err(StoreError::MessageTooLarge {
            size: MAX_MESSAGE_OCTETS + 1,
            limit: MAX_MESSAGE_OCTETS
        })
    );
    for _ in 0..MAX_MESSAGES_PER_MAILBOX {
        s.deliver("bob@example.test", b"x", AT).expect("fits");
    }
    assert_eq!(
        s.deliver("bob@example.test", b"x", AT),
        Err(StoreError::MailboxFull {
            mailbox: INBOX.into(),
            limit: MAX_MESSAGES_PER_MAILBOX
        })
    );
    // Other mailboxes are unaffected.
    assert!(s.deliver("Alice@example.test", b"x", AT).is_ok());
    // Mailboxes per user are bounded too (INBOX counts).
    for i in 1..MAX_MAILBOXES_PER_USER {
        s.create_mailbox("Alice@example.test", &format!("box{i}"))
            .expect("fits");
    }
    assert_eq!(
        s.create_mailbox("Alice@example.test", "one-more"),
        Err(StoreError::TooManyMailboxes(MAX_MAILBOXES_PER_USER))
    );
    assert!(matches!(
        s.create_mailbox("Alice@example.test", &"n".repeat(256)),
        Err(StoreError::BadMailboxName(_))
    ));
}

#[tokio::test]
async fn wait_for_message_wakes_on_delivery_and_times_out() {
    let s = store();
    s.deliver("bob@example.test", b"Subject: old\r\n\r\n", AT)
        .expect("old");
    // Already there.
    let m = s
        .wait_for_message(
            "bob@example.test",
            |m| m.raw.starts_with(b"Subject: old"),
            T,
        )
        .await
        .expect("existing");
    assert_eq!(m.uid, 1);
    // Arrives later: the waiter starts first, the delivery follows.
    let waiter = {
        let s = s.clone();
        tokio::spawn(async move {
            s.wait_for_message(
                "BOB@example.test".replace("BOB", "bob").as_str(),
                |m| m.raw.starts_with(b"Subject: new"),
                T,
            )
            .await
        })
    };
    let mut events = s.subscribe();
    // Deliveries to other users and non-matching messages do not wake it with a wrong answer.
    s.deliver("Alice@example.test", b"Subject: new\r\n\r\n", AT)
        .expect("alice");
    s.deliver("bob@example.test", b"Subject: other\r\n\r\n", AT)
        .expect("other");
    s.deliver("bob@example.test", b"Subject: new\r\n\r\n", AT)
        .expect("new");
    let got = tokio::time::timeout(T, waiter)
        .await
        .expect("bounded")
        .expect("joined")
        .expect("found");
    assert_eq!(got.uid, 3);
    assert_eq!(
        tokio::time::timeout(T, events.recv())
            .await
            .expect("event")
            .expect("recv"),
        StoreEvent::Delivered {
            user: "Alice@example.test".into(),
            mailbox: INBOX.into(),
            uid: 1
        }
    );
    // Nothing matching comes: None once the (short) bound passes.
    let short = Duration::from_millis(50);
    let none = s
        .wait_for_message("bob@example.test", |m| m.raw.starts_with(b"never"), short)
        .await;
    assert!(none.is_none());
    assert!(
        s.wait_for_message("ghost@example.test", |_| true, short)
            .await
            .is_none()
    );
}

fn incoming(rcpts: &[&str], from: &str) -> Incoming {
    Incoming {
        envelope: Envelope {
            mail_from: from.into(),
            rcpt_to: rcpts.iter().map(|r| (*r).to_owned()).collect(),
            smtputf8: false,
            body_8bit: false,
        },
        data: bytes::Bytes::from_static(MSG),
        session: session(),
        received_at: AT,
    }
}

fn session() -> Session {
    Session {
        peer: SocketAddr::from(([127, 0, 0, 1], 2525)),
        helo: "mx.example.test".into(),
        authenticated_as: None,
        tls: false,
        server_name: "lmtp.example.test".into(),
        protocol: "LMTP".into(),
    }
}

/// Item 2 of the performance issue: a message for several recipients is written once and
/// every mailbox keeps the same octets (one allocation, not one copy per recipient).
#[tokio::test]
async fn a_message_for_two_recipients_is_stored_once_and_shared() {
    let s = store();
    let sink = StoreSink::new(s.clone());
    let results = sink
        .deliver(incoming(
            &["bob@example.test", "Alice@example.test"],
            "sender@example.net",
        ))
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let bob = s.message("bob@example.test", INBOX, 1).expect("bob's copy");
    let alice = s
        .message("Alice@example.test", INBOX, 1)
        .expect("alice's copy");
    assert_eq!(bob.raw, alice.raw);
    assert_eq!(
        bob.raw.as_ptr(),
        alice.raw.as_ptr(),
        "the two mailboxes hold one allocation"
    );
    // Each mailbox still counts its copy against the world quota.
    assert_eq!(s.usage().0, 2 * bob.raw.len() as u64);
}

#[tokio::test]
async fn store_sink_answers_per_recipient_and_prepends_return_path() {
    let s = store();
    let sink = StoreSink::new(s.clone());
    assert!(
        sink.check_recipient("bob@example.test", &session())
            .await
            .is_ok()
    );
    let err = sink
        .check_recipient("ghost@example.test", &session())
        .await
        .expect_err("unknown");
    assert_eq!((err.code, err.enhanced), (550, Some((5, 1, 1))));

    let results = sink
        .deliver(incoming(
            &[
                "bob@example.test",
                "ghost@example.test",
                "Alice@example.test",
            ],
            "sender@example.net",
        ))
        .await;
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok());
    let ghost = results[1].as_ref().expect_err("ghost");
    assert_eq!(ghost.code, 550);
    assert!(results[2].is_ok());
    let m = s.message("bob@example.test", INBOX, 1).expect("delivered");
    // RFC 5321 §4.4: final delivery adds Return-Path above the LMTP server's trace field,
    // whose FOR clause names one recipient or none ("it MUST contain exactly one <path>
    // entry, even when multiple RCPT commands have been given"): none for three.
    let text = String::from_utf8_lossy(&m.raw);
    assert!(
        text.starts_with(
            "Return-Path: <sender@example.net>\r\nReceived: from mx.example.test ([127.0.0.1])\r\n\tby lmtp.example.test with LMTP;\r\n\t"
        ),
        "{text}"
    );
    assert!(text.contains("\r\nFrom: a@example.test"), "{text}");
    assert!(s.message("Alice@example.test", INBOX, 1).is_some());

    // Null reverse-path, and CR/LF in the envelope cannot inject fields.
    sink.deliver(incoming(&["bob@example.test"], "")).await;
    let m = s.message("bob@example.test", INBOX, 2).expect("bounce");
    assert!(m.raw.starts_with(b"Return-Path: <>\r\n"));
    let text = String::from_utf8_lossy(&m.raw);
    assert!(
        text.contains("with LMTP\r\n\tfor <bob@example.test>;\r\n\t"),
        "one recipient is named: {text}"
    );
    sink.deliver(incoming(&["bob@example.test"], "x@y\r\nBcc: evil"))
        .await;
    let m = s.message("bob@example.test", INBOX, 3).expect("cleaned");
    assert!(
        m.raw
            .starts_with(b"Return-Path: <x@yBcc: evil>\r\nReceived: ")
    );

    // A full mailbox is a transient 452 for that recipient only.
    for _ in 3..MAX_MESSAGES_PER_MAILBOX {
        s.deliver("bob@example.test", b"x", AT).expect("fill");
    }
    let results = sink
        .deliver(incoming(
            &["bob@example.test", "Alice@example.test"],
            "s@example.net",
        ))
        .await;
    let full = results[0].as_ref().expect_err("full");
    assert_eq!((full.code, full.enhanced), (452, Some((4, 2, 2))));
    assert!(results[1].is_ok());
    // ... and it is refused at RCPT time already, before any data is sent.
    let full = sink
        .check_recipient("bob@example.test", &session())
        .await
        .expect_err("full at RCPT");
    assert_eq!((full.code, full.enhanced), (452, Some((4, 2, 2))));
    assert!(
        sink.check_recipient("Alice@example.test", &session())
            .await
            .is_ok()
    );
    // The world quota: when the whole store holds its octets, every recipient is refused at
    // RCPT with "mail system full" (RFC 3463 X.3.1), and a delivery under way too.
    let (used, _) = s.usage();
    s.set_max_octets(used);
    let system = sink
        .check_recipient("Alice@example.test", &session())
        .await
        .expect_err("store full");
    assert_eq!((system.code, system.enhanced), (452, Some((4, 3, 1))));
    let results = sink
        .deliver(incoming(&["Alice@example.test"], "s@example.net"))
        .await;
    let system = results[0].as_ref().expect_err("store full");
    assert_eq!((system.code, system.enhanced), (452, Some((4, 3, 1))));
    s.set_max_octets(used + 10_000);
    assert!(
        sink.check_recipient("Alice@example.test", &session())
            .await
            .is_ok()
    );
}

/// Over LMTP, a recipient whose mailbox is full is refused at RCPT (452 4.2.2), so the client
/// never sends the data for it; the session goes on.
#[tokio::test]
async fn lmtp_refuses_a_full_mailbox_at_rcpt_time() {
    use acmeproof_mocks::clock::Clock;
    use acmeproof_mocks::smtp::client::{ClientError, ClientTls, SmtpClient};
    use acmeproof_mocks::smtp::{Role, SmtpConfig, SmtpServer};
    let s = store();
    for _ in 0..MAX_MESSAGES_PER_MAILBOX {
        s.deliver("bob@example.test", b"x", AT).expect("fill");
    }
    let config = SmtpConfig::new(
        Role::Lmtp,
        "lmtp.example.test",
        std::sync::Arc::new(StoreSink::new(s.clone())),
        Clock::system(),
    );
    let server = SmtpServer::start(config).await.expect("LMTP");
    let mut c = SmtpClient::connect(server.addr(), "mx.example.test", ClientTls::None, true)
        .await
        .expect("connect");
    let envelope = Envelope {
        mail_from: "s@example.net".into(),
        rcpt_to: vec!["bob@example.test".into()],
        ..Envelope::default()
    };
    match c.send(&envelope, MSG).await {
        Err(ClientError::NoRecipients(replies)) => {
            assert_eq!(replies.len(), 1);
            assert_eq!(
                (replies[0].code, replies[0].enhanced),
                (452, Some((4, 2, 2)))
            );
        }
        other => panic!("refused at RCPT: {other:?}"),
    }
    assert!(
        !server
            .transcript()
            .iter()
            .any(|l| l.line.contains("octets of DATA")),
        "no data was accepted"
    );
    let envelope = Envelope {
        rcpt_to: vec!["Alice@example.test".into()],
        ..envelope
    };
    let replies = c.send(&envelope, MSG).await.expect("alice has room");
    assert!(replies[0].is_positive(), "{replies:?}");
    server.shutdown().await;
}

#[test]
fn authenticator_accepts_rejects_and_limits_send_as() {
    let s = store();
    let auth: &dyn Authenticator = &s;
    assert_eq!(
        auth.authenticate("alice@example.test", "pw-a"),
        None,
        "local part is case-sensitive"
    );
    assert_eq!(
        auth.authenticate("Alice@EXAMPLE.test", "pw-a").as_deref(),
        Some("Alice@example.test")
    );
    assert_eq!(auth.authenticate("Alice@example.test", "pw-b"), None);
    assert_eq!(auth.authenticate("Alice@example.test", ""), None);
    assert_eq!(auth.authenticate("ghost@example.test", "pw-a"), None);
    assert_eq!(auth.authenticate("", ""), None);

    assert!(auth.may_send_as("Alice@example.test", "Alice@EXAMPLE.TEST"));
    assert!(!auth.may_send_as("Alice@example.test", "bob@example.test"));
    assert!(!auth.may_send_as("Alice@example.test", "alice@example.test"));
    assert!(!auth.may_send_as("ghost@example.test", "ghost@example.test"));
    assert!(!auth.may_send_as("Alice@example.test", "garbage"));
    s.allow_send_as("Alice@example.test", "team@example.test")
        .expect("alias");
    assert!(auth.may_send_as("Alice@example.test", "team@Example.Test"));
    assert!(!auth.may_send_as("bob@example.test", "team@example.test"));
}
