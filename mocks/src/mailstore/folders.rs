//! Mailboxes as names in a hierarchy (RFC 3501 §5.1, §6.3.3–§6.3.9): create, delete, rename,
//! subscriptions, and the list IMAP's LIST and LSUB read. The delimiter is [`DELIMITER`].

use std::collections::BTreeMap;

use super::{
    DELIMITER, INBOX, MAX_MAILBOXES_PER_USER, MailStore, Mailbox, StoreError, StoreEvent,
    canonical_address, mailbox_key,
};

/// One name of a user's mailbox list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    /// The name (`INBOX` in upper case).
    pub name: String,
    /// `false` for a name kept only because inferior names exist (`\Noselect`).
    pub selectable: bool,
    /// Whether inferior names exist (`\HasChildren`, RFC 3348).
    pub children: bool,
    /// Whether the user subscribed to the name (RFC 3501 §6.3.6).
    pub subscribed: bool,
    /// Whether the name is in the mailbox list (a mailbox or a `\Noselect` name); `false` for a
    /// subscription to a name that does not exist.
    pub exists: bool,
}

/// A name as a hierarchy: no empty level. A trailing delimiter is dropped (RFC 3501 §6.3.3: it
/// only declares that inferior names will follow).
fn hierarchy_name(name: &str) -> Result<String, StoreError> {
    let trimmed = name.strip_suffix(DELIMITER).unwrap_or(name);
    let key = mailbox_key(trimmed)?;
    if key.split(DELIMITER).any(str::is_empty) {
        return Err(StoreError::BadMailboxName(name.to_owned()));
    }
    Ok(key)
}

/// The superior names of `name`, shortest first: `a/b/c` → `a`, `a/b`.
fn superiors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(DELIMITER).map(move |(i, _)| &name[..i])
}

/// Whether `name` lies under `parent` in the hierarchy.
fn is_inferior(name: &str, parent: &str) -> bool {
    name.len() > parent.len()
        && name.starts_with(parent)
        && name[parent.len()..].starts_with(DELIMITER)
}

/// Adds the missing superiors of `name` as mailboxes (RFC 3501 §6.3.3 and §6.3.5: the server
/// "SHOULD create any superior hierarchical names that are needed").
fn add_superiors(
    mailboxes: &mut BTreeMap<String, Mailbox>,
    name: &str,
    mut uidvalidity: impl FnMut() -> u32,
) {
    for sup in superiors(name) {
        if !mailboxes.contains_key(sup) {
            mailboxes.insert(sup.to_owned(), Mailbox::new(uidvalidity()));
        }
    }
}

impl MailStore {
    /// Creates a mailbox, and any missing superior names. A `\Noselect` name becomes a mailbox
    /// again (a new one: new UIDVALIDITY).
    pub fn create_mailbox(&self, address: &str, mailbox: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let name = hierarchy_name(mailbox)?;
        {
            let mut inner = self.lock();
            let first = inner.next_uidvalidity;
            let user = inner.user_mut(&key)?;
            if user.mailboxes.get(&name).is_some_and(|m| !m.noselect) {
                return Err(StoreError::MailboxExists(name));
            }
            let missing = superiors(&name)
                .chain(std::iter::once(name.as_str()))
                .filter(|n| !user.mailboxes.contains_key(*n))
                .count();
            if user.mailboxes.len() + missing > MAX_MAILBOXES_PER_USER {
                return Err(StoreError::TooManyMailboxes(MAX_MAILBOXES_PER_USER));
            }
            // UIDVALIDITY values are handed out after the checks, so a refusal spends none.
            let mut next = first;
            let mut take = || super::take_uidvalidity(&mut next);
            add_superiors(&mut user.mailboxes, &name, &mut take);
            user.mailboxes.insert(name.clone(), Mailbox::new(take()));
            inner.next_uidvalidity = next;
        }
        self.emit(StoreEvent::MailboxCreated {
            user: key,
            mailbox: name,
        });
        Ok(())
    }

    /// Deletes a mailbox and its messages (RFC 3501 §6.3.4). `INBOX` cannot be deleted. A name
    /// with inferior names stays as a `\Noselect` name; deleting such a name again is refused.
    pub fn delete_mailbox(&self, address: &str, mailbox: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let name = hierarchy_name(mailbox)?;
        if name == INBOX {
            return Err(StoreError::InboxNotDeletable);
        }
        {
            let mut inner = self.lock();
            let user = inner.user_mut(&key)?;
            let has_inferiors = user.mailboxes.keys().any(|n| is_inferior(n, &name));
            let mb = user
                .mailboxes
                .get_mut(&name)
                .ok_or_else(|| super::no_such_mailbox(&key, &name))?;
            let freed = mb.octets();
            if has_inferiors {
                if mb.noselect {
                    return Err(StoreError::HasInferiors(name));
                }
                mb.removals += mb.messages.len() as u64;
                mb.messages.clear();
                mb.noselect = true;
            } else {
                user.mailboxes.remove(&name);
            }
            inner.octets = inner.octets.saturating_sub(freed);
        }
        self.emit(StoreEvent::MailboxDeleted {
            user: key,
            mailbox: name,
        });
        Ok(())
    }

    /// Renames a mailbox and its inferior names (RFC 3501 §6.3.5), creating missing superiors
    /// of the new name. Renaming `INBOX` moves its messages to a new mailbox of that name and
    /// leaves `INBOX` empty; its inferiors stay.
    pub fn rename_mailbox(&self, address: &str, from: &str, to: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let from = hierarchy_name(from)?;
        let to = hierarchy_name(to)?;
        if to == INBOX {
            return Err(StoreError::MailboxExists(to));
        }
        if to == from || is_inferior(&to, &from) {
            return Err(StoreError::BadMailboxName(to));
        }
        {
            let mut inner = self.lock();
            let first = inner.next_uidvalidity;
            let user = inner.user_mut(&key)?;
            if !user.mailboxes.contains_key(&from) {
                return Err(super::no_such_mailbox(&key, &from));
            }
            if user.mailboxes.contains_key(&to) {
                return Err(StoreError::MailboxExists(to));
            }
            let missing = superiors(&to)
                .filter(|n| !user.mailboxes.contains_key(*n))
                .count();
            let added = missing + usize::from(from == INBOX);
            if user.mailboxes.len() + added > MAX_MAILBOXES_PER_USER {
                return Err(StoreError::TooManyMailboxes(MAX_MAILBOXES_PER_USER));
            }
            let mut next = first;
            let mut take = || super::take_uidvalidity(&mut next);
            if from == INBOX {
                let mut moved = Mailbox::new(take());
                if let Some(inbox) = user.mailboxes.get_mut(INBOX) {
                    moved.uidnext = inbox.uidnext;
                    moved.messages = std::mem::take(&mut inbox.messages);
                    inbox.removals += moved.messages.len() as u64;
                }
                add_superiors(&mut user.mailboxes, &to, &mut take);
                user.mailboxes.insert(to.clone(), moved);
            } else {
                let names: Vec<String> = user
                    .mailboxes
                    .keys()
                    .filter(|n| **n == from || is_inferior(n, &from))
                    .cloned()
                    .collect();
                let mut renamed = Vec::with_capacity(names.len());
                for old in names {
                    if let Some(mb) = user.mailboxes.remove(&old) {
                        renamed.push((format!("{to}{}", &old[from.len()..]), mb));
                    }
                }
                add_superiors(&mut user.mailboxes, &to, &mut take);
                user.mailboxes.extend(renamed);
            }
            inner.next_uidvalidity = next;
        }
        self.emit(StoreEvent::MailboxRenamed {
            user: key,
            from,
            to,
        });
        Ok(())
    }

    /// Adds a name to the user's subscriptions (RFC 3501 §6.3.6; the name need not exist).
    pub fn subscribe_mailbox(&self, address: &str, mailbox: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let name = hierarchy_name(mailbox)?;
        let mut inner = self.lock();
        let user = inner.user_mut(&key)?;
        if !user.subscriptions.contains(&name) && user.subscriptions.len() >= MAX_MAILBOXES_PER_USER
        {
            return Err(StoreError::TooManyMailboxes(MAX_MAILBOXES_PER_USER));
        }
        user.subscriptions.insert(name);
        Ok(())
    }

    /// Removes a name from the subscriptions (RFC 3501 §6.3.7); one not subscribed is an error.
    pub fn unsubscribe_mailbox(&self, address: &str, mailbox: &str) -> Result<(), StoreError> {
        let key = canonical_address(address)?;
        let name = hierarchy_name(mailbox)?;
        let mut inner = self.lock();
        if inner.user_mut(&key)?.subscriptions.remove(&name) {
            Ok(())
        } else {
            Err(StoreError::NotSubscribed(name))
        }
    }

    /// The user's subscribed names, sorted.
    pub fn subscriptions(&self, address: &str) -> Result<Vec<String>, StoreError> {
        let key = canonical_address(address)?;
        let inner = self.lock();
        Ok(inner.user(&key)?.subscriptions.iter().cloned().collect())
    }

    /// The user's mailbox names, sorted (`INBOX` among them; `\Noselect` names too).
    pub fn list_mailboxes(&self, address: &str) -> Result<Vec<String>, StoreError> {
        let key = canonical_address(address)?;
        let inner = self.lock();
        Ok(inner.user(&key)?.mailboxes.keys().cloned().collect())
    }

    /// The user's names with their attributes, sorted: every mailbox and `\Noselect` name, then
    /// subscribed names that are neither (LSUB lists those too).
    pub fn mailboxes(&self, address: &str) -> Result<Vec<MailboxInfo>, StoreError> {
        let key = canonical_address(address)?;
        let inner = self.lock();
        let user = inner.user(&key)?;
        let children = |name: &str| {
            // The first key after `name/` in order is an inferior if any is.
            let prefix = format!("{name}{DELIMITER}");
            user.mailboxes
                .range(prefix.clone()..)
                .next()
                .is_some_and(|(n, _)| n.starts_with(&prefix))
        };
        let mut list: Vec<MailboxInfo> = user
            .mailboxes
            .iter()
            .map(|(name, mb)| MailboxInfo {
                name: name.clone(),
                selectable: !mb.noselect,
                children: children(name),
                subscribed: user.subscriptions.contains(name),
                exists: true,
            })
            .collect();
        list.extend(
            user.subscriptions
                .iter()
                .filter(|n| !user.mailboxes.contains_key(*n))
                .map(|name| MailboxInfo {
                    name: name.clone(),
                    selectable: false,
                    children: false,
                    subscribed: true,
                    exists: false,
                }),
        );
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    const A: &str = "a@example.test";

    fn store() -> MailStore {
        let s = MailStore::new();
        s.add_user(A, "pw").unwrap();
        s
    }

    fn names(s: &MailStore) -> Vec<(String, bool, bool)> {
        s.mailboxes(A)
            .unwrap()
            .into_iter()
            .filter(|m| s.list_mailboxes(A).unwrap().contains(&m.name))
            .map(|m| (m.name, m.selectable, m.children))
            .collect()
    }

    #[test]
    fn create_makes_superiors_and_refuses_what_exists() {
        let s = store();
        s.create_mailbox(A, "Archive/2024/").unwrap();
        assert_eq!(
            names(&s),
            vec![
                ("Archive".into(), true, true),
                ("Archive/2024".into(), true, false),
                ("INBOX".into(), true, false),
            ]
        );
        assert_eq!(
            s.create_mailbox(A, "Archive"),
            Err(StoreError::MailboxExists("Archive".into()))
        );
        assert!(matches!(
            s.create_mailbox(A, "inbox"),
            Err(StoreError::MailboxExists(_))
        ));
        for bad in ["", "/", "a//b", "/a", "a\u{7}"] {
            assert!(
                matches!(s.create_mailbox(A, bad), Err(StoreError::BadMailboxName(_))),
                "{bad:?}"
            );
        }
        let (mut a, mut b) = (
            s.mailbox_status(A, "Archive").unwrap().uidvalidity,
            s.mailbox_status(A, "Archive/2024").unwrap().uidvalidity,
        );
        (a, b) = (a.min(b), a.max(b));
        assert!(a != b && a > 0, "each mailbox has its own UIDVALIDITY");
    }

    #[test]
    fn delete_keeps_a_noselect_parent_and_frees_octets() {
        let s = store();
        s.create_mailbox(A, "P/C").unwrap();
        let at = OffsetDateTime::UNIX_EPOCH;
        s.deliver_to(A, "P", b"Subject: x\r\n\r\nbody\r\n", at)
            .unwrap();
        let before = s.usage().0;
        assert!(before > 0);
        assert_eq!(
            s.delete_mailbox(A, "INBOX"),
            Err(StoreError::InboxNotDeletable)
        );
        s.delete_mailbox(A, "P").unwrap();
        assert_eq!(s.usage().0, 0, "its messages are gone");
        assert!(names(&s).contains(&("P".into(), false, true)));
        assert!(matches!(
            s.messages(A, "P"),
            Err(StoreError::NotSelectable(_))
        ));
        assert_eq!(
            s.delete_mailbox(A, "P"),
            Err(StoreError::HasInferiors("P".into()))
        );
        s.delete_mailbox(A, "P/C").unwrap();
        s.delete_mailbox(A, "P").unwrap();
        assert_eq!(names(&s), vec![("INBOX".into(), true, false)]);
        // A \Noselect name can be created again as a mailbox.
        s.create_mailbox(A, "Q/R").unwrap();
        s.delete_mailbox(A, "Q").unwrap();
        s.create_mailbox(A, "Q").unwrap();
        assert!(s.messages(A, "Q").unwrap().is_empty());
        assert!(matches!(
            s.delete_mailbox(A, "nothing"),
            Err(StoreError::NoSuchMailbox { .. })
        ));
    }

    #[test]
    fn rename_moves_inferiors_and_inbox_moves_its_messages() {
        let s = store();
        let at = OffsetDateTime::UNIX_EPOCH;
        s.create_mailbox(A, "Old/Sub").unwrap();
        s.deliver_to(A, "Old/Sub", b"Subject: sub\r\n\r\n", at)
            .unwrap();
        let validity = s.mailbox_status(A, "Old/Sub").unwrap().uidvalidity;
        s.rename_mailbox(A, "Old", "New/Place").unwrap();
        let list: Vec<String> = names(&s).into_iter().map(|n| n.0).collect();
        assert_eq!(list, vec!["INBOX", "New", "New/Place", "New/Place/Sub"]);
        assert_eq!(s.messages(A, "New/Place/Sub").unwrap().len(), 1);
        assert_eq!(
            s.mailbox_status(A, "New/Place/Sub").unwrap().uidvalidity,
            validity,
            "the same mailbox under a new name"
        );
        assert!(matches!(
            s.rename_mailbox(A, "New", "New/Place/x"),
            Err(StoreError::BadMailboxName(_))
        ));
        assert!(matches!(
            s.rename_mailbox(A, "New", "INBOX"),
            Err(StoreError::MailboxExists(_))
        ));
        assert!(matches!(
            s.rename_mailbox(A, "missing", "x"),
            Err(StoreError::NoSuchMailbox { .. })
        ));
        let u1 = s.deliver(A, b"Subject: one\r\n\r\n", at).unwrap();
        let u2 = s.deliver(A, b"Subject: two\r\n\r\n", at).unwrap();
        s.rename_mailbox(A, "INBOX", "Saved").unwrap();
        assert!(s.messages(A, INBOX).unwrap().is_empty());
        let saved: Vec<u32> = s
            .messages(A, "Saved")
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(saved, vec![u1, u2]);
        let next = s.deliver(A, b"Subject: three\r\n\r\n", at).unwrap();
        assert!(next > u2, "INBOX never reuses a UID");
    }

    #[test]
    fn subscriptions_are_names() {
        let s = store();
        s.subscribe_mailbox(A, "Later/").unwrap();
        s.subscribe_mailbox(A, "INBOX").unwrap();
        assert_eq!(s.subscriptions(A).unwrap(), vec!["INBOX", "Later"]);
        let all = s.mailboxes(A).unwrap();
        assert!(
            all.iter()
                .any(|m| m.name == "Later" && m.subscribed && !m.selectable)
        );
        s.unsubscribe_mailbox(A, "Later").unwrap();
        assert_eq!(
            s.unsubscribe_mailbox(A, "Later"),
            Err(StoreError::NotSubscribed("Later".into()))
        );
    }
}
