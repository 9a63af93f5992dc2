//! The mailboxes of a world: users, their mailboxes and messages, shared by the mail plane
//! (LMTP final delivery through [`StoreSink`]) and the access protocols (IMAP, POP3).
//!
//! ```text
//!   LMTP ─► StoreSink ─► MailStore::deliver ─► user ─► INBOX ─► messages (uid, flags, raw,
//!                                                                  header parsed once)
//!                                       │
//!                                       └─► broadcast StoreEvent ─► IMAP IDLE, wait_for_message
//! ```
//!
//! Users are keyed by a canonical address: the local part exactly as written (RFC 5321 §2.4:
//! "the local-part of a mailbox MUST BE treated as case sensitive") and the domain in lowercase
//! A-labels (RFC 5890 §2.3.2.1), so an EAI user is found by its U-label and its A-label domain.
//!
//! Mailbox semantics follow IMAP (RFC 9051): UIDs are strictly ascending and never reused within
//! one UIDVALIDITY (§2.3.1.1), UIDVALIDITY is non-zero, `INBOX` is case-insensitive (§5.1).
//! The lock is a std `Mutex`, never held across an await.
//!
//! Bounds (a hostile peer can only fill what these allow; each refusal is a [`StoreError`]):
//! - [`MAX_MESSAGES_PER_MAILBOX`] messages per mailbox (10,000), [`MAX_MESSAGE_OCTETS`] per
//!   message, [`MAX_MAILBOXES_PER_USER`] mailboxes per user;
//! - the world quota: [`DEFAULT_MAX_STORE_OCTETS`] octets in the whole store (changeable with
//!   [`MailStore::set_max_octets`]); a copy counts its octets again, though its octets are
//!   shared. [`MailStore::check_room`] tells a server before it accepts a message whether there
//!   is room at all, so SMTP/LMTP can refuse at RCPT time instead of after the data.
//!
//! ```text
//!   mod.rs        users, delivery, snapshots, flags, status, events
//!   folders.rs    create / delete / rename mailboxes, subscriptions, the mailbox list
//!   transfer.rs   append with flags, copy, move, expunge of a UID set (IMAP, RFC 4315/6851)
//!   headers.rs    the header of a stored message, parsed once
//!   sink.rs       StoreSink: LMTP final delivery into INBOX
//! ```

mod folders;
mod headers;
mod sink;
mod transfer;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use acmeproof_protocol::address::{self, AddressError};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::broadcast;

pub use folders::MailboxInfo;
pub(crate) use headers::{HeaderCache, ParsedHeaders, value_text};
pub use sink::StoreSink;
pub use transfer::{Appended, Copied};

use crate::mail::Authenticator;
use crate::seed::SeededRng;

/// Most messages one mailbox holds.
pub const MAX_MESSAGES_PER_MAILBOX: usize = 10_000;
/// Default world quota: octets of all messages in the store together (512 MiB).
pub const DEFAULT_MAX_STORE_OCTETS: u64 = 512 * 1024 * 1024;
/// The hierarchy delimiter of mailbox names (IMAP LIST).
pub const DELIMITER: char = '/';
/// Largest message the store accepts (50 MiB).
pub const MAX_MESSAGE_OCTETS: usize = 50 * 1024 * 1024;
/// Most mailboxes one user has.
pub const MAX_MAILBOXES_PER_USER: usize = 100;
/// Longest mailbox name, in octets.
pub const MAX_MAILBOX_NAME_OCTETS: usize = 255;
/// Most flags and keywords on one message.
pub const MAX_FLAGS_PER_MESSAGE: usize = 64;
/// Longest flag or keyword, in octets.
pub const MAX_FLAG_OCTETS: usize = 64;
/// The mailbox every user has (RFC 9051 §5.1: the name is case-insensitive).
pub const INBOX: &str = "INBOX";
/// Events buffered for slow subscribers; a subscriber that falls further behind sees `Lagged`.
const EVENT_CAPACITY: usize = 1024;

/// Why a store operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The address does not parse or its domain is not IDNA-valid.
    #[error("mailstore: bad address {0:?}: {1}")]
    BadAddress(String, AddressError),
    /// [`MailStore::add_user`] for an address that already exists.
    #[error("mailstore: user {0} exists")]
    UserExists(String),
    /// No such user.
    #[error("mailstore: no such user {0}")]
    NoSuchUser(String),
    /// The user has no mailbox of that name.
    #[error("mailstore: {user} has no mailbox {mailbox:?}")]
    NoSuchMailbox {
        /// The canonical user.
        user: String,
        /// The mailbox asked for.
        mailbox: String,
    },
    /// [`MailStore::create_mailbox`] for a name that exists.
    #[error("mailstore: mailbox {0:?} exists")]
    MailboxExists(String),
    /// The mailbox name is empty, too long or holds control characters.
    #[error("mailstore: bad mailbox name {0:?}")]
    BadMailboxName(String),
    /// `INBOX` cannot be deleted (RFC 3501 §6.3.4).
    #[error("mailstore: INBOX cannot be deleted")]
    InboxNotDeletable,
    /// The name only holds the hierarchy of other mailboxes (`\Noselect`, RFC 3501 §6.3.4):
    /// it has no messages and cannot be selected or receive any.
    #[error("mailstore: {0:?} is not a selectable mailbox")]
    NotSelectable(String),
    /// Deleting a `\Noselect` name that still has inferior names (RFC 3501 §6.3.4).
    #[error("mailstore: {0:?} has inferior mailboxes")]
    HasInferiors(String),
    /// UNSUBSCRIBE of a name that is not subscribed.
    #[error("mailstore: {0:?} is not subscribed")]
    NotSubscribed(String),
    /// The whole store holds its quota of octets (the world quota).
    #[error("mailstore: the mail store is full ({limit} octets)")]
    StoreFull {
        /// The world quota in octets.
        limit: u64,
    },
    /// The user already has [`MAX_MAILBOXES_PER_USER`] mailboxes.
    #[error("mailstore: too many mailboxes (limit {0})")]
    TooManyMailboxes(usize),
    /// The mailbox holds [`MAX_MESSAGES_PER_MAILBOX`] messages.
    #[error("mailstore: mailbox {mailbox:?} is full ({limit} messages)")]
    MailboxFull {
        /// The mailbox.
        mailbox: String,
        /// The limit reached.
        limit: usize,
    },
    /// The message is larger than [`MAX_MESSAGE_OCTETS`].
    #[error("mailstore: message of {size} octets is over the {limit}-octet limit")]
    MessageTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No message with that UID.
    #[error("mailstore: no message with UID {0}")]
    NoSuchMessage(u32),
    /// A flag is empty, too long, holds atom-specials, or is `\Recent` (RFC 9051 §2.3.2: not
    /// settable by a client).
    #[error("mailstore: bad flag {0:?}")]
    BadFlag(String),
    /// More than [`MAX_FLAGS_PER_MESSAGE`] flags on one message.
    #[error("mailstore: too many flags (limit {0})")]
    TooManyFlags(usize),
    /// UIDs of this mailbox are exhausted (RFC 9051 §2.3.1.1: a new UIDVALIDITY would be needed).
    #[error("mailstore: UID space exhausted")]
    UidsExhausted,
}

/// One stored message (a snapshot: later flag changes do not show in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its UID in the mailbox (RFC 9051 §2.3.1.1).
    pub uid: u32,
    /// System flags (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`) and keywords.
    pub flags: BTreeSet<String>,
    /// Whether the message is `\Recent` (RFC 3501 §2.3.2; dropped in IMAP4rev2 but POP3/IMAP4rev1
    /// clients still ask).
    pub recent: bool,
    /// The world clock at delivery (RFC 9051 §2.3.3).
    pub internal_date: OffsetDateTime,
    /// Octets in `raw` (RFC 9051 §2.3.4 RFC822.SIZE).
    pub size: usize,
    /// The message as delivered (reference-counted: copies of it in other mailboxes and every
    /// snapshot share these octets).
    pub raw: Bytes,
    /// Its header, parsed on first need and shared by every clone (the octets never change).
    pub(crate) headers: HeaderCache,
}

impl StoredMessage {
    /// Whether `flag` is set (system flags compared case-insensitively, RFC 9051 §2.3.2).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }

    /// Its header fields (parsed once, on the first call on this message or any clone of it).
    pub(crate) fn headers(&self) -> &ParsedHeaders {
        self.headers.get(&self.raw)
    }
}

/// What `STATUS` / `SELECT` report about a mailbox (RFC 9051 §6.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxStatus {
    /// Messages in the mailbox.
    pub exists: u32,
    /// Messages with the `\Recent` property.
    pub recent: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// The UIDVALIDITY (non-zero).
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
}

/// A change in the store, broadcast to [`MailStore::subscribe`]rs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreEvent {
    /// A message arrived.
    Delivered {
        /// Canonical user.
        user: String,
        /// Mailbox name.
        mailbox: String,
        /// Its UID.
        uid: u32,
    },
    /// Flags of a message changed.
    FlagsChanged {
        /// Canonical user.
        user: String,
        /// Mailbox name.
        mailbox: String,
        /// The UID.
        uid: u32,
    },
    /// Messages were expunged.
    Expunged {
        /// Canonical user.
        user: String,
        /// Mailbox name.
        mailbox: String,
        /// The UIDs removed, ascending.
        uids: Vec<u32>,
    },
    /// A mailbox was created.
    MailboxCreated {
        /// Canonical user.
        user: String,
        /// Mailbox name.
        mailbox: String,
    },
    /// A mailbox was deleted (or kept only as a `\Noselect` name).
    MailboxDeleted {
        /// Canonical user.
        user: String,
        /// Mailbox name.
        mailbox: String,
    },
    /// A mailbox was renamed (its inferiors too).
    MailboxRenamed {
        /// Canonical user.
        user: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
}

#[derive(Debug)]
struct Mailbox {
    uidvalidity: u32,
    uidnext: u32,
    /// Shared with [`MailStore::snapshot`]s; a flag change copies the record (not its octets)
    /// when a snapshot still holds it.
    messages: BTreeMap<u32, Arc<StoredMessage>>,
    /// How many messages ever left this mailbox (expunged, moved away). A session that saw the
    /// same count knows none of its messages can be gone, without comparing UID lists.
    removals: u64,
    /// RFC 3501 §6.3.4: a deleted mailbox that still has inferior names stays as a name only.
    noselect: bool,
}

#[derive(Debug)]
struct User {
    password_hash: [u8; 32],
    /// Mailboxes by name; `INBOX` is stored under its canonical upper-case spelling.
    mailboxes: BTreeMap<String, Mailbox>,
    /// Further canonical addresses the user may send as.
    send_as: BTreeSet<String>,
    /// IMAP subscriptions (RFC 3501 §6.3.6): names, which need not exist.
    subscriptions: BTreeSet<String>,
}

#[derive(Debug)]
struct Inner {
    users: HashMap<String, User>,
    next_uidvalidity: u32,
    /// Octets of every stored message (each copy counted).
    octets: u64,
    /// The world quota on `octets`.
    max_octets: u64,
}

/// The world's mailboxes. Cloning is cheap: clones share the same store.
#[derive(Debug, Clone)]
pub struct MailStore {
    inner: Arc<Mutex<Inner>>,
    events: broadcast::Sender<StoreEvent>,
}

impl Default for MailStore {
    fn default() -> Self {
        Self::new()
    }
}

/// The canonical form of an address: local part as written, domain as lowercase A-labels.
pub fn canonical_address(addr: &str) -> Result<String, StoreError> {
    let bad = |e| StoreError::BadAddress(addr.to_owned(), e);
    let parsed = address::parse_address(addr).map_err(bad)?;
    let a = parsed.with_a_label_domain().map_err(bad)?;
    Ok(format!("{}@{}", a.local(), a.domain()))
}

fn password_hash(password: &str) -> [u8; 32] {
    Sha256::digest(password.as_bytes()).into()
}

/// RFC 9051 §5.1: `INBOX` in any case is the inbox; other names are kept as given.
fn mailbox_key(name: &str) -> Result<String, StoreError> {
    if name.is_empty() || name.len() > MAX_MAILBOX_NAME_OCTETS || name.chars().any(char::is_control)
    {
        return Err(StoreError::BadMailboxName(name.to_owned()));
    }
    Ok(if name.eq_ignore_ascii_case(INBOX) {
        INBOX.to_owned()
    } else {
        name.to_owned()
    })
}

/// RFC 9051 §9 `flag`: `\` atom (system flag) or atom (keyword); atom-specials excluded.
fn check_flag(flag: &str) -> Result<(), StoreError> {
    let body = flag.strip_prefix('\\').unwrap_or(flag);
    let special = |c: char| {
        c.is_control()
            || !c.is_ascii()
            || matches!(c, '(' | ')' | '{' | ' ' | '%' | '*' | '"' | '\\' | ']')
    };
    if body.is_empty()
        || flag.len() > MAX_FLAG_OCTETS
        || body.chars().any(special)
        || flag.eq_ignore_ascii_case("\\Recent")
    {
        return Err(StoreError::BadFlag(flag.to_owned()));
    }
    Ok(())
}

impl MailStore {
    /// An empty store; UIDVALIDITY values count up from 1.
    pub fn new() -> Self {
        Self::with_first_uidvalidity(1)
    }

    /// An empty store whose first UIDVALIDITY is drawn from `rng` (so two worlds with different
    /// seeds do not share UIDVALIDITY values; the same seed replays them).
    pub fn with_seed(rng: &SeededRng) -> Self {
        // Keep well below u32::MAX so the counter does not wrap in any realistic world.
        let first = (rng.below(1 << 30) as u32).max(1);
        Self::with_first_uidvalidity(first)
    }

    fn with_first_uidvalidity(first: u32) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        MailStore {
            inner: Arc::new(Mutex::new(Inner {
                users: HashMap::new(),
                next_uidvalidity: first.max(1),
                octets: 0,
                max_octets: DEFAULT_MAX_STORE_OCTETS,
            })),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below completes or returns before touching shared state, so a
        // poisoned lock holds consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: StoreEvent) {
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    /// Adds a user with an `INBOX`.
    pub fn add_user(&self, address: &str, password: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let mut inner = self.lock();
        if inner.users.contains_key(&key) {
            return Err(StoreError::UserExists(key));
        }
        let uidvalidity = inner.take_uidvalidity();
        let mut mailboxes = BTreeMap::new();
        mailboxes.insert(INBOX.to_owned(), Mailbox::new(uidvalidity));
        inner.users.insert(
            key,
            User {
                password_hash: password_hash(password),
                mailboxes,
                send_as: BTreeSet::new(),
                subscriptions: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// Lets `address`'s user also send as `alias` (Submission's MAIL FROM and header From).
    pub fn allow_send_as(&self, address: &str, alias: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let alias = canonical_address(alias)?;
        let mut inner = self.lock();
        let user = inner
            .users
            .get_mut(&key)
            .ok_or_else(|| StoreError::NoSuchUser(key.clone()))?;
        user.send_as.insert(alias);
        Ok(())
    }

    /// Checks a password; returns the canonical user on success. Unknown users, bad addresses
    /// and wrong passwords all give `None`.
    pub fn authenticate(&self, user_or_address: &str, password: &str) -> Option<String> {
        let key = canonical_address(user_or_address).ok()?;
        let given = password_hash(password);
        let inner = self.lock();
        let user = inner.users.get(&key)?;
        // Equal-length digests compared in constant time.
        openssl::memcmp::eq(&user.password_hash, &given).then_some(key)
    }

    /// Whether the address is a user of this store.
    pub fn user_exists(&self, address: &str) -> bool {
        canonical_address(address).is_ok_and(|k| self.lock().users.contains_key(&k))
    }

    /// The canonical users, sorted.
    pub fn users(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lock().users.keys().cloned().collect();
        v.sort();
        v
    }

    /// Delivers into the user's `INBOX`; returns the new UID.
    pub fn deliver(
        &self,
        address: &str,
        raw: &[u8],
        at: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        self.deliver_to(address, INBOX, raw, at)
    }

    /// Delivers into a mailbox of the user; returns the new UID. The message is `\Recent` and
    /// has no flags.
    pub fn deliver_to(
        &self,
        address: &str,
        mailbox: &str,
        raw: &[u8],
        at: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        self.deliver_bytes(address, mailbox, Bytes::copy_from_slice(raw), at)
    }

    /// [`MailStore::deliver_to`] taking the octets by value: the store keeps them without a copy.
    pub fn deliver_bytes(
        &self,
        address: &str,
        mailbox: &str,
        raw: Bytes,
        at: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        self.append(address, mailbox, raw, &[], at).map(|a| a.uid)
    }

    /// Whether `address`'s INBOX can take one more message now: the user exists, the INBOX is
    /// below [`MAX_MESSAGES_PER_MAILBOX`] and the store below its quota. A server asks at RCPT
    /// time, before the client sends the data (the delivery itself checks again).
    pub fn check_room(&self, address: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let inner = self.lock();
        let mb = inner.mailbox(&key, INBOX)?;
        if mb.messages.len() >= MAX_MESSAGES_PER_MAILBOX {
            return Err(StoreError::MailboxFull {
                mailbox: INBOX.to_owned(),
                limit: MAX_MESSAGES_PER_MAILBOX,
            });
        }
        if inner.octets >= inner.max_octets {
            return Err(StoreError::StoreFull {
                limit: inner.max_octets,
            });
        }
        Ok(())
    }

    /// Sets the world quota: octets of all stored messages together.
    pub fn set_max_octets(&self, max: u64) {
        self.lock().max_octets = max;
    }

    /// Octets stored now, and the world quota.
    pub fn usage(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.octets, inner.max_octets)
    }

    /// A snapshot of the mailbox's messages, by ascending UID.
    pub fn messages(&self, address: &str, mailbox: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let inner = self.lock();
        Ok(inner
            .mailbox(&key, &name)?
            .messages
            .values()
            .map(|m| StoredMessage::clone(m))
            .collect())
    }

    /// [`MailStore::messages`] without copying the records: each is shared with the store until
    /// its flags change (the store then copies it), so later changes do not show in it either.
    pub(crate) fn snapshot(
        &self,
        address: &str,
        mailbox: &str,
    ) -> Result<Vec<Arc<StoredMessage>>, StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let inner = self.lock();
        Ok(inner
            .mailbox(&key, &name)?
            .messages
            .values()
            .cloned()
            .collect())
    }

    /// One message, if user, mailbox and UID exist.
    pub fn message(&self, address: &str, mailbox: &str, uid: u32) -> Option<StoredMessage> {
        let key = canonical_address(address).ok()?;
        let name = mailbox_key(mailbox).ok()?;
        let inner = self.lock();
        inner
            .mailbox(&key, &name)
            .ok()?
            .messages
            .get(&uid)
            .map(|m| StoredMessage::clone(m))
    }

    /// Replaces a message's flags (IMAP `STORE FLAGS`); returns the new set.
    pub fn set_flags(
        &self,
        address: &str,
        mailbox: &str,
        uid: u32,
        flags: &[&str],
    ) -> Result<BTreeSet<String>, StoreError> {
        self.edit_flags(address, mailbox, uid, flags, |set, flags| {
            set.clear();
            set.extend(flags.iter().map(|f| (*f).to_owned()));
        })
    }

    /// Adds flags (IMAP `STORE +FLAGS`); returns the new set.
    pub fn add_flags(
        &self,
        address: &str,
        mailbox: &str,
        uid: u32,
        flags: &[&str],
    ) -> Result<BTreeSet<String>, StoreError> {
        self.edit_flags(address, mailbox, uid, flags, |set, flags| {
            for f in flags {
                if !set.iter().any(|s| s.eq_ignore_ascii_case(f)) {
                    set.insert((*f).to_owned());
                }
            }
        })
    }

    /// Removes flags (IMAP `STORE -FLAGS`; case-insensitive); returns the new set.
    pub fn remove_flags(
        &self,
        address: &str,
        mailbox: &str,
        uid: u32,
        flags: &[&str],
    ) -> Result<BTreeSet<String>, StoreError> {
        self.edit_flags(address, mailbox, uid, flags, |set, flags| {
            set.retain(|s| !flags.iter().any(|f| s.eq_ignore_ascii_case(f)));
        })
    }

    fn edit_flags(
        &self,
        address: &str,
        mailbox: &str,
        uid: u32,
        flags: &[&str],
        edit: impl FnOnce(&mut BTreeSet<String>, &[&str]),
    ) -> Result<BTreeSet<String>, StoreError> {
        for f in flags {
            check_flag(f)?;
        }
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let result = {
            let mut inner = self.lock();
            let mb = inner.mailbox_mut(&key, &name)?;
            let msg = Arc::make_mut(
                mb.messages
                    .get_mut(&uid)
                    .ok_or(StoreError::NoSuchMessage(uid))?,
            );
            let mut next = msg.flags.clone();
            edit(&mut next, flags);
            if next.len() > MAX_FLAGS_PER_MESSAGE {
                return Err(StoreError::TooManyFlags(MAX_FLAGS_PER_MESSAGE));
            }
            msg.flags = next.clone();
            next
        };
        self.emit(StoreEvent::FlagsChanged {
            user: key,
            mailbox: name,
            uid,
        });
        Ok(result)
    }

    /// Clears `\Recent` on every message of the mailbox (the first session to see them).
    pub fn clear_recent(&self, address: &str, mailbox: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let mut inner = self.lock();
        for m in inner.mailbox_mut(&key, &name)?.messages.values_mut() {
            if m.recent {
                Arc::make_mut(m).recent = false;
            }
        }
        Ok(())
    }

    /// Clears `\Recent` on these messages only (the session that saw them arrive): no scan of
    /// the mailbox.
    pub(crate) fn clear_recent_uids(
        &self,
        address: &str,
        mailbox: &str,
        uids: &[u32],
    ) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let mut inner = self.lock();
        let mb = inner.mailbox_mut(&key, &name)?;
        for uid in uids {
            if let Some(m) = mb.messages.get_mut(uid)
                && m.recent
            {
                Arc::make_mut(m).recent = false;
            }
        }
        Ok(())
    }

    /// Removes every message flagged `\Deleted` (RFC 9051 §6.4.3); returns their UIDs, ascending.
    pub fn expunge(&self, address: &str, mailbox: &str) -> Result<Vec<u32>, StoreError> {
        self.expunge_uids(address, mailbox, None)
    }

    /// The mailbox's counts, UIDVALIDITY and UIDNEXT.
    pub fn mailbox_status(
        &self,
        address: &str,
        mailbox: &str,
    ) -> Result<MailboxStatus, StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let inner = self.lock();
        let mb = inner.mailbox(&key, &name)?;
        let count = |f: &dyn Fn(&StoredMessage) -> bool| {
            u32::try_from(mb.messages.values().filter(|m| f(m)).count()).unwrap_or(u32::MAX)
        };
        Ok(MailboxStatus {
            exists: count(&|_| true),
            recent: count(&|m| m.recent),
            unseen: count(&|m| !m.has_flag("\\Seen")),
            uidvalidity: mb.uidvalidity,
            uidnext: mb.uidnext,
        })
    }

    /// Store events from now on (deliveries, flag changes, expunges, new mailboxes).
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    /// The first message in the user's `INBOX` that satisfies `predicate`: one already there,
    /// or the next to arrive within `timeout`. `None` on timeout or an unknown user.
    pub async fn wait_for_message(
        &self,
        address: &str,
        predicate: impl Fn(&StoredMessage) -> bool,
        timeout: Duration,
    ) -> Option<StoredMessage> {
        let key = canonical_address(address).ok()?;
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before looking, so a delivery between the look and the wait is not lost.
        let mut events = self.subscribe();
        let scan = |store: &MailStore| {
            store
                .messages(&key, INBOX)
                .ok()?
                .into_iter()
                .find(|m| predicate(m))
        };
        if let Some(m) = scan(self) {
            return Some(m);
        }
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_elapsed) => return None,
                Ok(Ok(StoreEvent::Delivered { user, mailbox, uid }))
                    if user == key && mailbox == INBOX =>
                {
                    if let Some(m) = self.message(&key, INBOX, uid).filter(|m| predicate(m)) {
                        return Some(m);
                    }
                }
                Ok(Ok(_)) => {}
                // Missed events: look at the whole mailbox again.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    if let Some(m) = scan(self) {
                        return Some(m);
                    }
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            }
        }
    }
}

impl Inner {
    fn take_uidvalidity(&mut self) -> u32 {
        take_uidvalidity(&mut self.next_uidvalidity)
    }

    fn user(&self, key: &str) -> Result<&User, StoreError> {
        self.users
            .get(key)
            .ok_or_else(|| StoreError::NoSuchUser(key.to_owned()))
    }

    fn user_mut(&mut self, key: &str) -> Result<&mut User, StoreError> {
        self.users
            .get_mut(key)
            .ok_or_else(|| StoreError::NoSuchUser(key.to_owned()))
    }

    /// A selectable mailbox (a `\\Noselect` name is [`StoreError::NotSelectable`]).
    fn mailbox(&self, key: &str, name: &str) -> Result<&Mailbox, StoreError> {
        let mb = self
            .user(key)?
            .mailboxes
            .get(name)
            .ok_or_else(|| no_such_mailbox(key, name))?;
        if mb.noselect {
            return Err(StoreError::NotSelectable(name.to_owned()));
        }
        Ok(mb)
    }

    fn mailbox_mut(&mut self, key: &str, name: &str) -> Result<&mut Mailbox, StoreError> {
        let mb = self
            .user_mut(key)?
            .mailboxes
            .get_mut(name)
            .ok_or_else(|| no_such_mailbox(key, name))?;
        if mb.noselect {
            return Err(StoreError::NotSelectable(name.to_owned()));
        }
        Ok(mb)
    }
}

/// The next UIDVALIDITY from the counter `next`.
fn take_uidvalidity(next: &mut u32) -> u32 {
    let v = (*next).max(1);
    // RFC 9051 §2.3.1.1: UIDVALIDITY is a non-zero 32-bit value; wrap past zero.
    *next = v.checked_add(1).unwrap_or(1);
    v
}

fn no_such_mailbox(key: &str, name: &str) -> StoreError {
    StoreError::NoSuchMailbox {
        user: key.to_owned(),
        mailbox: name.to_owned(),
    }
}

impl Mailbox {
    fn new(uidvalidity: u32) -> Self {
        Mailbox {
            uidvalidity,
            uidnext: 1,
            messages: BTreeMap::new(),
            removals: 0,
            noselect: false,
        }
    }

    /// Octets of its messages.
    fn octets(&self) -> u64 {
        self.messages.values().map(|m| m.size as u64).sum()
    }
}

impl Authenticator for MailStore {
    fn authenticate(&self, user: &str, password: &str) -> Option<String> {
        MailStore::authenticate(self, user, password)
    }

    /// The user's own address (domain compared as lowercase A-labels, local part exactly) or an
    /// alias given with [`MailStore::allow_send_as`].
    fn may_send_as(&self, user: &str, address: &str) -> bool {
        let (Ok(user), Ok(address)) = (canonical_address(user), canonical_address(address)) else {
            return false;
        };
        let inner = self.lock();
        inner
            .users
            .get(&user)
            .is_some_and(|u| user == address || u.send_as.contains(&address))
    }
}
