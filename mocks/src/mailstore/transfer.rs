//! Messages into and between mailboxes: append with flags and a date (IMAP APPEND, RFC 3501
//! §6.3.11), copy (§6.4.7) and move (RFC 6851), each returning the UIDs UIDPLUS reports (RFC
//! 4315), expunge of all `\Deleted` messages or of a UID set (UID EXPUNGE), and what changed
//! in a mailbox since a session last looked (without a scan when nothing was removed).

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use time::OffsetDateTime;

use super::{
    HeaderCache, MAX_FLAGS_PER_MESSAGE, MAX_MESSAGE_OCTETS, MAX_MESSAGES_PER_MAILBOX, MailStore,
    StoreError, StoreEvent, StoredMessage, canonical_address, check_flag, mailbox_key,
};

/// Where an appended message went (RFC 4315 `APPENDUID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The message's UID.
    pub uid: u32,
}

/// Where copied or moved messages went (RFC 4315 `COPYUID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The destination's UIDVALIDITY.
    pub uidvalidity: u32,
    /// (source UID, destination UID) for each message, in source UID order.
    pub uids: Vec<(u32, u32)>,
}

/// What changed in a mailbox since a session's last look ([`MailStore::changes_since`]).
pub(crate) struct Changes {
    /// Messages with a UID above the session's last one, ascending.
    pub(crate) new: Vec<Arc<StoredMessage>>,
    /// The UIDs present now, only when something left the mailbox since `removals` (the
    /// session then finds its expunged messages); `None` means none of its messages left.
    pub(crate) present: Option<BTreeSet<u32>>,
    /// The mailbox's removal count now, for the next look.
    pub(crate) removals: u64,
}

fn checked_flags(flags: &[&str]) -> Result<BTreeSet<String>, StoreError> {
    let mut set = BTreeSet::new();
    for f in flags {
        check_flag(f)?;
        if !set.iter().any(|s: &String| s.eq_ignore_ascii_case(f)) {
            set.insert((*f).to_owned());
        }
    }
    if set.len() > MAX_FLAGS_PER_MESSAGE {
        return Err(StoreError::TooManyFlags(MAX_FLAGS_PER_MESSAGE));
    }
    Ok(set)
}

impl MailStore {
    /// Appends a message with `flags` and internal date `at` (IMAP APPEND; delivery passes no
    /// flags). The message is `\Recent`. Refused when the mailbox is full, the message too large
    /// or the store at its quota.
    pub fn append(
        &self,
        address: &str,
        mailbox: &str,
        raw: Bytes,
        flags: &[&str],
        at: OffsetDateTime,
    ) -> Result<Appended, StoreError> {
        let size = raw.len();
        if size > MAX_MESSAGE_OCTETS {
            return Err(StoreError::MessageTooLarge {
                size,
                limit: MAX_MESSAGE_OCTETS,
            });
        }
        let flags = checked_flags(flags)?;
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let appended = {
            let mut inner = self.lock();
            let (octets, max) = (inner.octets, inner.max_octets);
            if octets.saturating_add(size as u64) > max {
                return Err(StoreError::StoreFull { limit: max });
            }
            let mb = inner.mailbox_mut(&key, &name)?;
            if mb.messages.len() >= MAX_MESSAGES_PER_MAILBOX {
                return Err(StoreError::MailboxFull {
                    mailbox: name,
                    limit: MAX_MESSAGES_PER_MAILBOX,
                });
            }
            let uid = mb.uidnext;
            let next = uid.checked_add(1).ok_or(StoreError::UidsExhausted)?;
            mb.messages.insert(
                uid,
                Arc::new(StoredMessage {
                    uid,
                    flags,
                    recent: true,
                    internal_date: at,
                    size,
                    raw,
                    headers: HeaderCache::default(),
                }),
            );
            mb.uidnext = next;
            let uidvalidity = mb.uidvalidity;
            inner.octets += size as u64;
            Appended { uidvalidity, uid }
        };
        tracing::debug!(user = %key, mailbox = %name, uid = appended.uid, size, "mailstore: delivered");
        self.emit(StoreEvent::Delivered {
            user: key,
            mailbox: name,
            uid: appended.uid,
        });
        Ok(appended)
    }

    /// Copies the messages with these UIDs (those that still exist) to `to`, keeping flags and
    /// internal dates (RFC 3501 §6.4.7 SHOULD) and sharing their octets; each copy is
    /// `\Recent`. All or nothing: a full destination or store copies none.
    pub fn copy(
        &self,
        address: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<Copied, StoreError> {
        self.transfer(address, from, uids, to, false)
    }

    /// [`MailStore::copy`], then removes the originals (RFC 6851 MOVE): an `Expunged` event for
    /// the source, octets not counted twice.
    pub fn move_messages(
        &self,
        address: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<Copied, StoreError> {
        self.transfer(address, from, uids, to, true)
    }

    fn transfer(
        &self,
        address: &str,
        from: &str,
        uids: &[u32],
        to: &str,
        remove: bool,
    ) -> Result<Copied, StoreError> {
        let key = canonical_address(address)?;
        let (from, to) = (mailbox_key(from)?, mailbox_key(to)?);
        let copied = {
            let mut inner = self.lock();
            let source = inner.mailbox(&key, &from)?;
            let picked: Vec<Arc<StoredMessage>> = uids
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter_map(|u| source.messages.get(u).cloned())
                .collect();
            let octets: u64 = picked.iter().map(|m| m.size as u64).sum();
            let (used, max) = (inner.octets, inner.max_octets);
            let same = from == to;
            let dest = inner.mailbox_mut(&key, &to)?;
            let after = dest.messages.len() + picked.len();
            if !(remove && same) && after > MAX_MESSAGES_PER_MAILBOX {
                return Err(StoreError::MailboxFull {
                    mailbox: to,
                    limit: MAX_MESSAGES_PER_MAILBOX,
                });
            }
            if !remove && used.saturating_add(octets) > max {
                return Err(StoreError::StoreFull { limit: max });
            }
            let last = u64::from(dest.uidnext) + picked.len() as u64;
            if last > u64::from(u32::MAX) {
                return Err(StoreError::UidsExhausted);
            }
            let uidvalidity = dest.uidvalidity;
            let mut pairs = Vec::with_capacity(picked.len());
            for m in &picked {
                let uid = dest.uidnext;
                dest.uidnext += 1;
                let mut copy = StoredMessage::clone(m);
                copy.uid = uid;
                copy.recent = true;
                dest.messages.insert(uid, Arc::new(copy));
                pairs.push((m.uid, uid));
            }
            if remove {
                let source = inner.mailbox_mut(&key, &from)?;
                for (old, _) in &pairs {
                    source.messages.remove(old);
                }
                source.removals += pairs.len() as u64;
            } else {
                inner.octets += octets;
            }
            Copied {
                uidvalidity,
                uids: pairs,
            }
        };
        for (_, uid) in &copied.uids {
            self.emit(StoreEvent::Delivered {
                user: key.clone(),
                mailbox: to.clone(),
                uid: *uid,
            });
        }
        if remove && !copied.uids.is_empty() {
            self.emit(StoreEvent::Expunged {
                user: key,
                mailbox: from,
                uids: copied.uids.iter().map(|(old, _)| *old).collect(),
            });
        }
        Ok(copied)
    }

    /// Removes the `\Deleted` messages (RFC 9051 §6.4.3), all of them or only those whose UID
    /// is in `only` (RFC 4315 UID EXPUNGE); returns their UIDs, ascending.
    pub fn expunge_uids(
        &self,
        address: &str,
        mailbox: &str,
        only: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let uids = {
            let mut inner = self.lock();
            let mb = inner.mailbox_mut(&key, &name)?;
            let wanted: Option<BTreeSet<u32>> = only.map(|u| u.iter().copied().collect());
            let uids: Vec<u32> = mb
                .messages
                .values()
                .filter(|m| m.has_flag("\\Deleted"))
                .filter(|m| wanted.as_ref().is_none_or(|w| w.contains(&m.uid)))
                .map(|m| m.uid)
                .collect();
            let mut freed = 0u64;
            for uid in &uids {
                if let Some(m) = mb.messages.remove(uid) {
                    freed += m.size as u64;
                }
            }
            mb.removals += uids.len() as u64;
            inner.octets = inner.octets.saturating_sub(freed);
            uids
        };
        if !uids.is_empty() {
            self.emit(StoreEvent::Expunged {
                user: key,
                mailbox: name,
                uids: uids.clone(),
            });
        }
        Ok(uids)
    }

    /// What changed since a look that saw UIDs up to `last_uid` and the removal count
    /// `removals`: the new messages (a range of the UID map, no scan), and the present UIDs only
    /// when messages were removed meanwhile.
    pub(crate) fn changes_since(
        &self,
        address: &str,
        mailbox: &str,
        last_uid: u32,
        removals: u64,
    ) -> Result<Changes, StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        let inner = self.lock();
        let mb = inner.mailbox(&key, &name)?;
        let new = mb
            .messages
            .range(last_uid.saturating_add(1)..)
            .map(|(_, m)| Arc::clone(m))
            .collect();
        let present = (mb.removals != removals).then(|| mb.messages.keys().copied().collect());
        Ok(Changes {
            new,
            present,
            removals: mb.removals,
        })
    }

    /// The removal count of a mailbox (see [`MailStore::changes_since`]).
    pub(crate) fn removals(&self, address: &str, mailbox: &str) -> Result<u64, StoreError> {
        let key = canonical_address(address)?;
        let name = mailbox_key(mailbox)?;
        Ok(self.lock().mailbox(&key, &name)?.removals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailstore::INBOX;

    const A: &str = "a@example.test";

    fn store() -> MailStore {
        let s = MailStore::new();
        s.add_user(A, "pw").unwrap();
        s.create_mailbox(A, "Sent").unwrap();
        s
    }

    fn at() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    #[test]
    fn append_with_flags_and_the_quota() {
        let s = store();
        let a = s
            .append(
                A,
                "Sent",
                Bytes::from_static(b"Subject: s\r\n\r\n"),
                &["\\Seen", "\\seen", "work"],
                at(),
            )
            .unwrap();
        assert_eq!(a.uid, 1);
        assert_eq!(
            a.uidvalidity,
            s.mailbox_status(A, "Sent").unwrap().uidvalidity
        );
        let m = s.message(A, "Sent", 1).unwrap();
        assert_eq!(m.flags.len(), 2, "{:?}", m.flags);
        assert!(m.recent && m.has_flag("\\Seen") && m.has_flag("WORK"));
        assert!(matches!(
            s.append(A, "Sent", Bytes::new(), &["\\Recent"], at()),
            Err(StoreError::BadFlag(_))
        ));
        assert!(matches!(
            s.append(A, "Nope", Bytes::new(), &[], at()),
            Err(StoreError::NoSuchMailbox { .. })
        ));
        // The world quota: the octets of every message together.
        let used = s.usage().0;
        s.set_max_octets(used + 10);
        assert!(s.check_room(A).is_ok());
        assert!(matches!(
            s.append(A, INBOX, Bytes::from(vec![b'x'; 11]), &[], at()),
            Err(StoreError::StoreFull { .. })
        ));
        s.append(A, INBOX, Bytes::from(vec![b'x'; 10]), &[], at())
            .unwrap();
        assert!(matches!(s.check_room(A), Err(StoreError::StoreFull { .. })));
        assert!(matches!(
            s.check_room("nobody@example.test"),
            Err(StoreError::NoSuchUser(_))
        ));
    }

    #[test]
    fn copy_shares_octets_and_move_removes_the_originals() {
        let s = store();
        let body = Bytes::from_static(b"Subject: m\r\n\r\nbody\r\n");
        let u1 = s.deliver_bytes(A, INBOX, body.clone(), at()).unwrap();
        let u2 = s.deliver_bytes(A, INBOX, body.clone(), at()).unwrap();
        s.add_flags(A, INBOX, u1, &["\\Flagged"]).unwrap();
        let c = s.copy(A, INBOX, &[u2, u1, u1, 99], "Sent").unwrap();
        assert_eq!(
            c.uids,
            vec![(u1, 1), (u2, 2)],
            "source UID order, missing ones skipped"
        );
        let copy = s.message(A, "Sent", 1).unwrap();
        assert!(copy.has_flag("\\Flagged") && copy.recent);
        assert_eq!(copy.raw.as_ptr(), body.as_ptr(), "the octets are shared");
        assert_eq!(s.usage().0, 4 * body.len() as u64, "a copy counts");
        let removals = s.removals(A, INBOX).unwrap();
        let m = s.move_messages(A, INBOX, &[u1], "Sent").unwrap();
        assert_eq!(m.uids, vec![(u1, 3)]);
        assert_eq!(s.messages(A, INBOX).unwrap().len(), 1);
        assert_eq!(s.usage().0, 4 * body.len() as u64, "a move does not");
        let changes = s.changes_since(A, INBOX, u2, removals).unwrap();
        assert!(changes.new.is_empty());
        assert_eq!(changes.present, Some([u2].into_iter().collect()));
        let quiet = s.changes_since(A, INBOX, 0, changes.removals).unwrap();
        assert!(
            quiet.present.is_none(),
            "nothing removed since: no UID list"
        );
        assert_eq!(quiet.new.len(), 1);
    }

    #[test]
    fn uid_expunge_removes_only_the_set() {
        let s = store();
        let uids: Vec<u32> = (0..3)
            .map(|_| s.deliver(A, b"Subject: e\r\n\r\n", at()).unwrap())
            .collect();
        for u in &uids {
            s.add_flags(A, INBOX, *u, &["\\Deleted"]).unwrap();
        }
        assert_eq!(
            s.expunge_uids(A, INBOX, Some(&[uids[1]])).unwrap(),
            vec![uids[1]]
        );
        assert_eq!(s.expunge(A, INBOX).unwrap(), vec![uids[0], uids[2]]);
        assert_eq!(s.usage().0, 0);
    }
}
