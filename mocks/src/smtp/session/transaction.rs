//! The mail transaction: MAIL (parameters, SMTPUTF8, send-as), RCPT (sink check, limit) and
//! DATA (the content reader, the policies, delivery, SMTP vs LMTP replies).

use std::sync::Arc;

use super::super::command::Param;
use super::super::data::{DataParser, Fed, TEXT_LINE_MAX};
use super::super::{Role, reply};
use super::{Flow, Session, Txn};
use crate::line::End;
use crate::line::Line;
use crate::mail::{Envelope, Incoming, Reply};

impl Session {
    pub(super) fn mail(&mut self, path: String, params: Vec<Param>) {
        let Some((_, esmtp)) = self.helo.clone() else {
            return self.reply(Reply::new(503, (5, 5, 1), "send EHLO/HELO first"));
        };
        if self.txn.is_some() {
            return self.reply(Reply::new(503, (5, 5, 1), "nested MAIL command"));
        }
        let cfg = &self.shared.config;
        if cfg.role == Role::Submission && self.auth_user.is_none() {
            // RFC 4954 §6.
            return self.reply(Reply::new(530, (5, 7, 0), "Authentication required"));
        }
        let (mut smtputf8, mut body_8bit) = (false, false);
        for p in &params {
            if !esmtp {
                return self.reply(Reply::new(555, (5, 5, 4), "parameters need EHLO"));
            }
            let bad_value = Reply::new(501, (5, 5, 4), format!("bad value for {}", p.key));
            match (p.key.as_str(), p.value.as_deref()) {
                ("SIZE", Some(v)) => {
                    let size = (v.len() <= 20).then(|| v.parse::<u64>().ok()).flatten();
                    let Some(size) = size else {
                        return self.reply(bad_value);
                    };
                    // RFC 1870 §6.1: a declared size over the limit fails MAIL with 552.
                    if size > cfg.max_message_octets as u64 {
                        return self.reply(Reply::new(
                            552,
                            (5, 3, 4),
                            "message size exceeds fixed maximum message size",
                        ));
                    }
                }
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => body_8bit = true,
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => body_8bit = false,
                ("BODY", _) | ("SIZE", None) => return self.reply(bad_value),
                // RFC 6531 §3.4: SMTPUTF8 takes no value.
                ("SMTPUTF8", None) if cfg.smtputf8 => smtputf8 = true,
                ("SMTPUTF8", Some(_)) if cfg.smtputf8 => return self.reply(bad_value),
                // RFC 4954 §5: AUTH=<mailbox> is accepted (and not trusted) where AUTH is.
                ("AUTH", Some(_)) if cfg.role == Role::Submission => {}
                _ => {
                    // RFC 5321 §4.1.1.11 / §4.3.2: 555 for an unrecognized parameter (this is
                    // also what a hop without SMTPUTF8 says to `SMTPUTF8`, RFC 6531 §3.5).
                    return self.reply(Reply::new(
                        555,
                        (5, 5, 4),
                        format!("{} parameter not recognized", p.key),
                    ));
                }
            }
        }
        if !path.is_ascii() && !smtputf8 {
            return self.reply(non_ascii());
        }
        if let (Some(user), Some(auth)) = (&self.auth_user, &cfg.auth)
            && !auth.may_send_as(user, &path)
        {
            let text = format!("{user} may not send as <{path}>");
            return self.reply(Reply::new(553, (5, 7, 1), text));
        }
        self.txn = Some(Txn {
            from: path,
            smtputf8,
            body_8bit,
            rcpts: Vec::new(),
            keys: Vec::new(),
            accepted: Vec::new(),
        });
        self.reply(Reply::new(250, (2, 1, 0), "Ok"));
    }

    /// On Submission, the first From address the authenticated user may not send as. The MSA
    /// DKIM-signs for the author's domain, so letting a user write another user's address in
    /// From would have it vouch for a forgery (RFC 6409 §4.3: the MSA enforces its policy on
    /// submitted messages; RFC 8823 §3.2 relies on the signature meaning the From is genuine).
    fn foreign_author(&self, data: &[u8]) -> Option<String> {
        let (Some(user), Some(auth)) = (&self.auth_user, &self.shared.config.auth) else {
            return None;
        };
        let message = mail_parser::MessageParser::default().parse_headers(data)?;
        let from = message.from()?;
        from.iter()
            .filter_map(|a| a.address())
            .find(|a| !auth.may_send_as(user, a))
            .map(str::to_owned)
    }

    pub(super) async fn rcpt(&mut self, path: String, params: Vec<Param>) {
        let Some(txn) = &self.txn else {
            return self.reply(Reply::new(503, (5, 5, 1), "need MAIL before RCPT"));
        };
        if let Some(p) = params.first() {
            return self.reply(Reply::new(
                555,
                (5, 5, 4),
                format!("{} parameter not recognized", p.key),
            ));
        }
        if path.is_empty() {
            return self.reply(Reply::new(501, (5, 1, 3), "null recipient not allowed"));
        }
        if !path.is_ascii() && !txn.smtputf8 {
            return self.reply(non_ascii());
        }
        let cfg = &self.shared.config;
        if txn.accepted.len() >= cfg.max_recipients {
            // RFC 5321 §4.5.3.1.10.
            return self.reply(Reply::new(452, (4, 5, 3), "too many recipients"));
        }
        let key = mailbox_key(&path);
        if let Some(i) = txn.keys.iter().position(|k| *k == key) {
            // The same mailbox again: the same answer, one delivery (what Postfix and Exim do
            // with duplicate recipients; RFC 5321 leaves it to the server).
            if let Some(txn) = &mut self.txn {
                txn.accepted.push(i);
            }
            return self.reply(Reply::new(250, (2, 1, 5), "Ok"));
        }
        let info = self.info(txn.smtputf8);
        let sink = Arc::clone(&cfg.sink);
        match sink.check_recipient(&path, &info).await {
            Ok(()) => {
                if let Some(txn) = &mut self.txn {
                    txn.accepted.push(txn.rcpts.len());
                    txn.rcpts.push(path);
                    txn.keys.push(key);
                }
                self.reply(Reply::new(250, (2, 1, 5), "Ok"));
            }
            Err(r) => self.reply(r),
        }
    }

    pub(super) async fn data(&mut self) -> Flow {
        let Some(txn) = &self.txn else {
            self.reply(Reply::new(503, (5, 5, 1), "need MAIL before DATA"));
            return Flow::Continue;
        };
        if txn.rcpts.is_empty() {
            // RFC 2033 §4.2 (LMTP MUST 503), RFC 5321 §3.3 (503 or 554).
            self.reply(Reply::new(503, (5, 5, 1), "no valid recipients"));
            return Flow::Continue;
        }
        self.reply(reply::plain(
            354,
            "Start mail input; end with <CRLF>.<CRLF>",
        ));
        let mut parser = DataParser::new(self.shared.config.max_message_octets);
        loop {
            // The lines already here, without a copy each; then one read (which waits).
            if self
                .link
                .each_ready_line(TEXT_LINE_MAX, |line| parser.feed(line) == Fed::End)
            {
                break;
            }
            match self.read_line(TEXT_LINE_MAX).await {
                Ok(Line::Full(line)) => {
                    if parser.feed(&line) == Fed::End {
                        break;
                    }
                }
                Ok(Line::TooLong { crlf, .. }) => parser.feed_too_long(crlf),
                // The transaction is abandoned: the sink gets nothing.
                Err(End::Gone) => return Flow::Close,
                Err(End::Timeout) => return self.idle_timeout(),
                Err(End::Shutdown) => return self.shutting_down(),
            }
        }
        let octets = parser.octets();
        let finished = parser.finish();
        self.record_in(super::super::data::data_shown(
            finished.as_deref().ok(),
            octets,
        ));
        let Some(txn) = self.txn.take() else {
            return Flow::Continue;
        };
        let n = txn.rcpts.len();
        let accepted = txn.accepted.clone();
        let forged = finished
            .as_ref()
            .ok()
            .and_then(|data| self.foreign_author(data));
        let replies: Vec<Reply> = match (finished, forged) {
            (Err(r), _) => vec![r; n],
            (Ok(_), Some(author)) => {
                let user = self.auth_user.clone().unwrap_or_default();
                let text = format!("{user} may not send as From: <{author}>");
                vec![Reply::new(550, (5, 7, 1), text); n]
            }
            (Ok(data), None) => {
                let session = self.info(txn.smtputf8);
                let rcpts = txn.rcpts.clone();
                let incoming = Incoming {
                    envelope: Envelope {
                        mail_from: txn.from,
                        rcpt_to: txn.rcpts,
                        smtputf8: txn.smtputf8,
                        body_8bit: txn.body_8bit,
                    },
                    data: data.into(),
                    session,
                    received_at: self.shared.config.clock.now(),
                };
                let sink = Arc::clone(&self.shared.config.sink);
                let results = sink.deliver(incoming).await;
                rcpts
                    .iter()
                    .enumerate()
                    .map(|(i, rcpt)| match results.get(i) {
                        Some(Ok(())) if self.lmtp() => {
                            Reply::new(250, (2, 1, 5), format!("<{rcpt}> delivered"))
                        }
                        Some(Ok(())) => Reply::new(250, (2, 0, 0), "Ok: queued"),
                        Some(Err(r)) => r.clone(),
                        None => Reply::try_later("no delivery result for this recipient"),
                    })
                    .collect()
            }
        };
        if self.lmtp() {
            // RFC 2033 §4.2: one reply per successful RCPT, in RCPT order (a repeated RCPT
            // gets its mailbox's reply again).
            for i in accepted {
                let r = replies
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| Reply::try_later("no delivery result for this recipient"));
                self.reply(r);
            }
        } else {
            let first_failure = replies.iter().position(|r| !r.is_positive());
            for (i, r) in replies.iter().enumerate() {
                if !r.is_positive() && Some(i) != first_failure {
                    tracing::info!(conn = self.link.conn_id(), reply = %r, "further recipient failure");
                }
            }
            let answer = match first_failure {
                Some(i) => replies[i].clone(),
                None => replies
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Reply::ok("Ok: queued")),
            };
            self.reply(answer);
        }
        Flow::Continue
    }
}

/// What makes two recipients the same mailbox: the local part exactly as written (RFC 5321
/// §2.4: case-sensitive), the domain as lowercase A-labels; `Postmaster` in any case (§4.1.1.3).
fn mailbox_key(path: &str) -> String {
    if path.eq_ignore_ascii_case("postmaster") {
        return "postmaster".into();
    }
    crate::mailstore::canonical_address(path).unwrap_or_else(|_| path.to_owned())
}

/// RFC 6531 §3.5 / RFC 5248: `553 5.6.7` for a non-ASCII address without SMTPUTF8.
fn non_ascii() -> Reply {
    Reply::new(
        553,
        (5, 6, 7),
        "non-ASCII addresses need SMTPUTF8 (RFC 6531)",
    )
}
