//! The mailbox commands: SELECT/EXAMINE (RFC 3501 §6.3.1–2), CREATE, DELETE, RENAME (§6.3.3–5),
//! SUBSCRIBE/UNSUBSCRIBE (§6.3.6–7), LIST/LSUB (§6.3.8–9), STATUS (§6.3.10) and NAMESPACE (RFC
//! 2342). Names are the store's; the hierarchy delimiter is `/`.
//!
//! Mailbox names travel as UTF-8 (what UTF8=ACCEPT clients send, RFC 6855 §3) or as the ASCII a
//! legacy client sends (modified UTF-7 included, kept as written: the server does not convert
//! between the two).

use std::collections::BTreeSet;

use super::super::parse::StatusItem;
use super::super::response::Resp;
use super::{Selected, Session, store_refusal};
use crate::mailstore::DELIMITER;

/// The system flags (RFC 3501 §2.3.2).
const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

impl Session {
    pub(super) fn select(&mut self, tag: &str, mailbox: &str, read_only: bool) {
        // RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected.
        self.selected = None;
        let store = self.shared.config.store.clone();
        let user = self.user();
        let opened = store.removals(&user, mailbox).and_then(|removals| {
            Ok((
                removals,
                store.mailbox_status(&user, mailbox)?,
                store.snapshot(&user, mailbox)?,
            ))
        });
        let (removals, status, msgs) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                self.line(&store_refusal(tag, &e, false));
                return;
            }
        };
        let recent: BTreeSet<u32> = msgs.iter().filter(|m| m.recent).map(|m| m.uid).collect();
        if !read_only {
            // RFC 3501 §2.3.2: \Recent belongs to the first session that sees the message.
            let _ = store.clear_recent(&user, mailbox);
        }
        self.line(&format!("* FLAGS ({SYSTEM_FLAGS})"));
        if read_only {
            self.line("* OK [PERMANENTFLAGS ()] read-only");
        } else {
            self.line(&format!(
                "* OK [PERMANENTFLAGS ({SYSTEM_FLAGS} \\*)] flags permitted"
            ));
        }
        self.line(&format!("* {} EXISTS", msgs.len()));
        self.line(&format!("* {} RECENT", recent.len()));
        if let Some(i) = msgs.iter().position(|m| !m.has_flag("\\Seen")) {
            self.line(&format!("* OK [UNSEEN {}] first unseen", i + 1));
        }
        self.line(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid",
            status.uidvalidity
        ));
        self.line(&format!(
            "* OK [UIDNEXT {}] predicted next UID",
            status.uidnext
        ));
        let name = if mailbox.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_owned()
        } else {
            mailbox.to_owned()
        };
        self.selected = Some(Selected {
            name,
            read_only,
            uids: msgs.iter().map(|m| m.uid).collect(),
            recent,
            removals,
        });
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        self.ok(tag, &format!("[{code}] {verb} completed"));
    }

    /// LIST (RFC 3501 §6.3.8) or LSUB (§6.3.9): the names matching `reference` + `pattern`, with
    /// `\Noselect` for names that only hold the hierarchy and the RFC 3348 children
    /// attributes. LSUB lists subscribed names, existing or not.
    pub(super) fn list(&mut self, tag: &str, reference: &str, pattern: &str, lsub: bool) {
        let verb = if lsub { "LSUB" } else { "LIST" };
        if pattern.is_empty() {
            // RFC 3501 §6.3.8: an empty pattern asks for the hierarchy delimiter.
            self.line(&format!("* {verb} (\\Noselect) \"{DELIMITER}\" \"\""));
            self.ok(tag, &format!("{verb} completed"));
            return;
        }
        let full = format!("{reference}{pattern}");
        let names = self
            .shared
            .config
            .store
            .mailboxes(&self.user())
            .unwrap_or_default();
        let cs = self.charset();
        for info in &names {
            if (lsub && !info.subscribed) || (!lsub && !info.exists) {
                continue;
            }
            let matched = if info.name == "INBOX" {
                wildcard(&full.to_ascii_uppercase(), &info.name)
            } else {
                wildcard(&full, &info.name)
            };
            if !matched {
                continue;
            }
            let mut attrs = Vec::new();
            if !info.selectable {
                attrs.push("\\Noselect");
            }
            if info.exists {
                attrs.push(if info.children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
            }
            let mut r = Resp::new(&format!("* {verb} ({}) \"{DELIMITER}\" ", attrs.join(" ")));
            r.mailbox(&info.name, cs);
            self.send(r);
        }
        self.ok(tag, &format!("{verb} completed"));
    }

    pub(super) fn status(&mut self, tag: &str, mailbox: &str, items: &[StatusItem]) {
        let s = match self
            .shared
            .config
            .store
            .mailbox_status(&self.user(), mailbox)
        {
            Ok(s) => s,
            Err(e) => {
                self.line(&store_refusal(tag, &e, false));
                return;
            }
        };
        let parts: Vec<String> = items
            .iter()
            .map(|i| match i {
                StatusItem::Messages => format!("MESSAGES {}", s.exists),
                StatusItem::Recent => format!("RECENT {}", s.recent),
                StatusItem::UidNext => format!("UIDNEXT {}", s.uidnext),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", s.uidvalidity),
                StatusItem::Unseen => format!("UNSEEN {}", s.unseen),
            })
            .collect();
        let mut r = Resp::new("* STATUS ");
        r.mailbox(mailbox, self.charset())
            .raw(&format!(" ({})", parts.join(" ")));
        self.send(r);
        self.ok(tag, "STATUS completed");
    }

    /// RFC 3501 §6.3.3.
    pub(super) fn create(&mut self, tag: &str, mailbox: &str) {
        match self
            .shared
            .config
            .store
            .create_mailbox(&self.user(), mailbox)
        {
            Ok(()) => self.ok(tag, "CREATE completed"),
            Err(e) => self.line(&store_refusal(tag, &e, false)),
        }
    }

    /// RFC 3501 §6.3.4. Deleting the selected mailbox leaves none selected.
    pub(super) fn delete(&mut self, tag: &str, mailbox: &str) {
        match self
            .shared
            .config
            .store
            .delete_mailbox(&self.user(), mailbox)
        {
            Ok(()) => {
                if self.is_selected(mailbox) {
                    self.selected = None;
                }
                self.ok(tag, "DELETE completed");
            }
            Err(e) => self.line(&store_refusal(tag, &e, false)),
        }
    }

    /// RFC 3501 §6.3.5. A selected mailbox that is renamed (or lies under the renamed name)
    /// stays selected under its new name; renaming INBOX moves its messages away, which the
    /// next sync reports as expunges.
    pub(super) fn rename(&mut self, tag: &str, from: &str, to: &str) {
        let store = self.shared.config.store.clone();
        match store.rename_mailbox(&self.user(), from, to) {
            Ok(()) => {
                if let Some(sel) = self.selected.as_mut()
                    && !sel.name.eq_ignore_ascii_case("INBOX")
                {
                    let from = from.strip_suffix(DELIMITER).unwrap_or(from);
                    let to = to.strip_suffix(DELIMITER).unwrap_or(to);
                    if sel.name == from {
                        sel.name = to.to_owned();
                    } else if let Some(rest) = sel.name.strip_prefix(&format!("{from}{DELIMITER}"))
                    {
                        sel.name = format!("{to}{DELIMITER}{rest}");
                    }
                }
                self.ok(tag, "RENAME completed");
            }
            Err(e) => self.line(&store_refusal(tag, &e, false)),
        }
    }

    /// SUBSCRIBE (RFC 3501 §6.3.6) or UNSUBSCRIBE (§6.3.7).
    pub(super) fn subscribe(&mut self, tag: &str, mailbox: &str, on: bool) {
        let store = &self.shared.config.store;
        let (result, verb) = if on {
            (store.subscribe_mailbox(&self.user(), mailbox), "SUBSCRIBE")
        } else {
            (
                store.unsubscribe_mailbox(&self.user(), mailbox),
                "UNSUBSCRIBE",
            )
        };
        match result {
            Ok(()) => self.ok(tag, &format!("{verb} completed")),
            Err(e) => self.line(&store_refusal(tag, &e, false)),
        }
    }

    /// RFC 2342: one personal namespace, the whole hierarchy, delimiter `/`; no other users'
    /// and no shared namespaces.
    pub(super) fn namespace(&mut self, tag: &str) {
        self.line(&format!("* NAMESPACE ((\"\" \"{DELIMITER}\")) NIL NIL"));
        self.ok(tag, "NAMESPACE completed");
    }

    /// Whether `mailbox` names the selected mailbox (`INBOX` in any case).
    fn is_selected(&self, mailbox: &str) -> bool {
        self.selected.as_ref().is_some_and(|s| {
            s.name == mailbox
                || (s.name == "INBOX" && mailbox.eq_ignore_ascii_case("INBOX"))
                || mailbox.strip_suffix(DELIMITER) == Some(s.name.as_str())
        })
    }
}

/// RFC 3501 §6.3.8 wildcards: `*` matches anything, `%` anything but the delimiter `/`.
pub(super) fn wildcard(pattern: &str, name: &str) -> bool {
    // Dynamic programming over (pattern, name) prefixes: O(p·n), no backtracking blow-up.
    let p: Vec<char> = pattern.chars().take(512).collect();
    let n: Vec<char> = name.chars().collect();
    // row[j]: pattern[..i] matches name[..j].
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' => {
                let mut any = false;
                for j in 0..=n.len() {
                    any |= row[j];
                    next[j] = any;
                }
            }
            '%' => {
                let mut any = false;
                for j in 0..=n.len() {
                    if j > 0 && n[j - 1] == '/' {
                        any = false;
                    }
                    any |= row[j];
                    next[j] = any;
                }
            }
            c => {
                for j in 1..=n.len() {
                    next[j] = row[j - 1] && n[j - 1] == c;
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards() {
        assert!(wildcard("*", "INBOX"));
        assert!(wildcard("%", "Archive"));
        assert!(!wildcard("%", "Archive/2024"));
        assert!(wildcard("Archive/%", "Archive/2024"));
        assert!(wildcard("IN*", "INBOX"));
        assert!(!wildcard("Sent", "INBOX"));
    }
}
