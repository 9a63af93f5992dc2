//! The message commands: SEARCH (RFC 3501 §6.4.4), FETCH (§6.4.5), STORE (§6.4.6), COPY
//! (§6.4.7) and MOVE (RFC 6851) with UIDPLUS answers (RFC 4315), EXPUNGE and UID EXPUNGE
//! (§6.4.3, RFC 4315 §2.1), CLOSE (§6.4.2), APPEND (§6.3.11) and IDLE (RFC 2177).

use bytes::Bytes;
use tokio::sync::broadcast;

use super::super::downgrade;
use super::super::fetch::{self, View};
use super::super::parse::{self, FetchAtt, SeqSet, StoreMode};
use super::super::response::flag_list;
use super::super::search::{self, Candidate};
use super::{Session, by_uid, store_refusal};
use crate::line::{End, Flow, Line};
use crate::mailstore::{StoreError, StoreEvent};

/// A UID set in RFC 4315 `uid-set` form: ascending ranges, `a:b` for runs.
fn uid_set(uids: impl IntoIterator<Item = u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    for u in uids {
        run = match run {
            Some((a, b)) if b.checked_add(1) == Some(u) => Some((a, u)),
            Some((a, b)) => {
                out.push(if a == b {
                    a.to_string()
                } else {
                    format!("{a}:{b}")
                });
                Some((u, u))
            }
            None => Some((u, u)),
        };
    }
    if let Some((a, b)) = run {
        out.push(if a == b {
            a.to_string()
        } else {
            format!("{a}:{b}")
        });
    }
    out.join(",")
}

impl Session {
    pub(super) fn search(&mut self, tag: &str, uid: bool, key: &parse::SearchKey) {
        self.sync(false);
        let msgs = self.snapshot();
        let Some(sel) = &self.selected else {
            return;
        };
        let max_seq = u32::try_from(sel.uids.len()).unwrap_or(u32::MAX);
        let max_uid = sel.uids.last().copied().unwrap_or(0);
        let mut hits = Vec::new();
        for (i, u) in sel.uids.iter().enumerate() {
            let Some(msg) = by_uid(&msgs, *u) else {
                continue;
            };
            let c = Candidate {
                seq: i as u32 + 1,
                msg,
                recent: sel.recent.contains(u),
                max_seq,
                max_uid,
            };
            if search::matches(key, &c) {
                hits.push(if uid { *u } else { c.seq }.to_string());
            }
        }
        let mut line = "* SEARCH".to_owned();
        for h in hits {
            line.push(' ');
            line.push_str(&h);
        }
        self.line(&line);
        self.ok(tag, "SEARCH completed");
    }

    /// FETCH: one response per message, each written out before the next is built once the
    /// unsent output passes the high water mark, so `FETCH 1:* BODY[]` of a full mailbox holds
    /// about one message in memory, not the mailbox; `Flow::Close` when the client stops
    /// reading. A client that did not `ENABLE UTF8=ACCEPT` gets a message whose header holds
    /// raw UTF-8 as its ASCII surrogate ([`downgrade`]).
    pub(super) async fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SeqSet,
        items: &[FetchAtt],
    ) -> Flow {
        let targets = match self.resolve(uid, set) {
            Ok(t) => t,
            Err(e) => {
                self.bad_line(&format!("{tag} BAD {e}"));
                return Flow::Continue;
            }
        };
        let msgs = self.snapshot();
        let store = self.shared.config.store.clone();
        let user = self.user();
        let cs = self.charset();
        let utf8 = self.utf8;
        let Some(sel) = &self.selected else {
            return Flow::Continue;
        };
        let (name, read_only) = (sel.name.clone(), sel.read_only);
        let recent = sel.recent.clone();
        for (seq, u) in targets {
            let Some(msg) = by_uid(&msgs, u) else {
                continue;
            };
            let mut flags = msg.flags.clone();
            let mut changed = false;
            if fetch::sets_seen(items)
                && !read_only
                && !msg.has_flag("\\Seen")
                && let Ok(f) = store.add_flags(&user, &name, u, &["\\Seen"])
            {
                flags = f;
                changed = true;
            }
            let surrogate = if utf8 {
                None
            } else {
                downgrade::surrogate(msg)
            };
            let view = View {
                seq,
                msg: surrogate.as_ref().unwrap_or(msg),
                flags: &flags,
                recent: recent.contains(&u),
                charset: cs,
            };
            let r = fetch::render(&view, items, uid, changed);
            self.send(r);
            if !self.drain().await {
                return Flow::Close;
            }
        }
        self.sync(false);
        self.ok(
            tag,
            &format!("{}FETCH completed", if uid { "UID " } else { "" }),
        );
        Flow::Continue
    }

    pub(super) fn store(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SeqSet,
        mode: StoreMode,
        silent: bool,
        flags: &[String],
    ) {
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.line(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
            return;
        }
        let targets = match self.resolve(uid, set) {
            Ok(t) => t,
            Err(e) => {
                self.bad_line(&format!("{tag} BAD {e}"));
                return;
            }
        };
        let store = self.shared.config.store.clone();
        let user = self.user();
        let Some(sel) = &self.selected else { return };
        let name = sel.name.clone();
        let recent = sel.recent.clone();
        let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for (seq, u) in targets {
            let result = match mode {
                StoreMode::Replace => store.set_flags(&user, &name, u, &refs),
                StoreMode::Add => store.add_flags(&user, &name, u, &refs),
                StoreMode::Remove => store.remove_flags(&user, &name, u, &refs),
            };
            match result {
                Ok(now) => {
                    if !silent {
                        let is_recent = recent.contains(&u).then_some("\\Recent");
                        let list = flag_list(now.iter().map(String::as_str).chain(is_recent));
                        let uid_part = if uid {
                            format!("UID {u} ")
                        } else {
                            String::new()
                        };
                        out.push(format!("* {seq} FETCH ({uid_part}FLAGS {list})"));
                    }
                }
                // Expunged meanwhile: skip it (RFC 3501 §6.4.6 leaves this to the server).
                Err(crate::mailstore::StoreError::NoSuchMessage(_)) => {}
                Err(e) => {
                    for l in out {
                        self.line(&l);
                    }
                    self.line(&format!("{tag} NO {e}"));
                    return;
                }
            }
        }
        for l in out {
            self.line(&l);
        }
        self.ok(tag, "STORE completed");
    }

    /// COPY / MOVE (and their UID forms): the messages of the set to `mailbox`, answered with
    /// `COPYUID` (RFC 4315 §3). MOVE sends `* OK [COPYUID …]`, then the source's `* n EXPUNGE`
    /// responses, then the tagged OK (RFC 6851 §4.3); a read-only mailbox cannot be moved from.
    pub(super) fn copy(&mut self, tag: &str, uid: bool, set: &SeqSet, mailbox: &str, moving: bool) {
        let verb = match (uid, moving) {
            (false, false) => "COPY",
            (true, false) => "UID COPY",
            (false, true) => "MOVE",
            (true, true) => "UID MOVE",
        };
        if moving && self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.line(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
            return;
        }
        let targets = match self.resolve(uid, set) {
            Ok(t) => t,
            Err(e) => {
                self.bad_line(&format!("{tag} BAD {e}"));
                return;
            }
        };
        let Some(from) = self.selected.as_ref().map(|s| s.name.clone()) else {
            return;
        };
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let store = self.shared.config.store.clone();
        let result = if moving {
            store.move_messages(&self.user(), &from, &uids, mailbox)
        } else {
            store.copy(&self.user(), &from, &uids, mailbox)
        };
        let copied = match result {
            Ok(c) => c,
            Err(e) => {
                self.line(&store_refusal(tag, &e, true));
                return;
            }
        };
        let code = (!copied.uids.is_empty()).then(|| {
            format!(
                "[COPYUID {} {} {}] ",
                copied.uidvalidity,
                uid_set(copied.uids.iter().map(|(s, _)| *s)),
                uid_set(copied.uids.iter().map(|(_, d)| *d))
            )
        });
        let code = code.unwrap_or_default();
        if moving {
            if !code.is_empty() {
                self.line(&format!("* OK {}moved", code));
            }
            self.sync(true);
            self.ok(tag, &format!("{verb} completed"));
        } else {
            self.sync(false);
            self.ok(tag, &format!("{code}{verb} completed"));
        }
    }

    /// EXPUNGE (RFC 3501 §6.4.3), or UID EXPUNGE of a set (RFC 4315 §2.1).
    pub(super) fn expunge(&mut self, tag: &str, only: Option<&SeqSet>) {
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            self.line(&format!("{tag} NO [READ-ONLY] mailbox is read-only"));
            return;
        }
        let store = self.shared.config.store.clone();
        let user = self.user();
        let name = self
            .selected
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let set: Option<Vec<u32>> = match only {
            Some(set) => match self.resolve(true, set) {
                Ok(t) => Some(t.into_iter().map(|(_, u)| u).collect()),
                Err(e) => {
                    self.bad_line(&format!("{tag} BAD {e}"));
                    return;
                }
            },
            None => None,
        };
        if let Err(e) = store.expunge_uids(&user, &name, set.as_deref()) {
            self.line(&store_refusal(tag, &e, false));
            return;
        }
        // Sends `* n EXPUNGE` highest first, so each number is valid as sent.
        self.sync(true);
        let verb = if only.is_some() {
            "UID EXPUNGE"
        } else {
            "EXPUNGE"
        };
        self.ok(tag, &format!("{verb} completed"));
    }

    /// RFC 3501 §6.4.2: CLOSE expunges silently (no untagged EXPUNGE) unless read-only, and
    /// leaves no mailbox selected.
    pub(super) fn close(&mut self, tag: &str) {
        if let Some(sel) = self.selected.take()
            && !sel.read_only
        {
            let _ = self.shared.config.store.expunge(&self.user(), &sel.name);
        }
        self.ok(tag, "CLOSE completed");
    }

    /// RFC 3501 §6.3.11 APPEND, answered with `APPENDUID` (RFC 4315 §3); the internal date is
    /// the client's or the world clock's. A mailbox that does not exist is `NO [TRYCREATE]`
    /// (never created on the fly). When it is the selected one, the new message is reported at
    /// once (`* n EXISTS`).
    pub(super) fn append(
        &mut self,
        tag: &str,
        mailbox: &str,
        flags: &[String],
        date: Option<time::OffsetDateTime>,
        message: Vec<u8>,
    ) {
        let at = date.unwrap_or_else(|| self.shared.config.clock.now());
        let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
        let store = self.shared.config.store.clone();
        match store.append(&self.user(), mailbox, Bytes::from(message), &refs, at) {
            Ok(a) => {
                self.sync(true);
                self.ok(
                    tag,
                    &format!("[APPENDUID {} {}] APPEND completed", a.uidvalidity, a.uid),
                );
            }
            Err(StoreError::BadFlag(f)) => {
                self.bad_line(&format!("{tag} BAD flag {f} cannot be set"));
            }
            Err(e) => self.line(&store_refusal(tag, &e, true)),
        }
    }

    /// RFC 2177 IDLE: `+ idling`, then untagged updates as the store's events arrive (no
    /// polling), until `DONE`.
    pub(super) async fn idle(&mut self, tag: &str) -> Flow {
        let mut events = self.shared.config.store.subscribe();
        self.line("+ idling");
        self.sync(true);
        let deadline = tokio::time::Instant::now() + self.shared.config.idle_timeout;
        let max = self.shared.config.max_command_octets;
        let user = self.user();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !self.link.flush(left).await {
                return Flow::Close;
            }
            let mailbox = self.selected.as_ref().map(|s| s.name.clone());
            enum Wake {
                Read(Result<Line, End>),
                Event(bool),
            }
            let wake = tokio::select! {
                read = self.link.read_line_by(max, deadline) => Wake::Read(read),
                ev = events.recv() => Wake::Event(match ev {
                    Ok(StoreEvent::Delivered { user: u, mailbox: m, .. })
                    | Ok(StoreEvent::Expunged { user: u, mailbox: m, .. }) => {
                        u == user && Some(m) == mailbox
                    }
                    Ok(_) => false,
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => false,
                }),
            };
            match wake {
                Wake::Event(true) => self.sync(true),
                Wake::Event(false) => {}
                Wake::Read(Ok(Line::Full(l))) => {
                    let text = String::from_utf8_lossy(&l);
                    let text = text.trim_end();
                    self.record_in(text);
                    if text.eq_ignore_ascii_case("DONE") {
                        self.ok(tag, "IDLE terminated");
                    } else {
                        self.bad_line(&format!("{tag} BAD expected DONE"));
                    }
                    return Flow::Continue;
                }
                Wake::Read(Ok(Line::TooLong { .. })) => {
                    self.bad_line(&format!("{tag} BAD expected DONE"));
                    return Flow::Continue;
                }
                Wake::Read(Err(End::Timeout)) => {
                    self.line("* BYE Autologout; idle for too long");
                    return Flow::Close;
                }
                Wake::Read(Err(End::Shutdown)) => {
                    self.line("* BYE server shutting down");
                    return Flow::Close;
                }
                Wake::Read(Err(End::Gone)) => return Flow::Close,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set([1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set([9]), "9");
        assert_eq!(
            uid_set([u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
        assert_eq!(uid_set([]), "");
    }
}
