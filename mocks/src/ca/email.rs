//! RFC 8823 `email-reply-00` on the CA side: the challenge mail out, the reply in.
//!
//! ```text
//!  authz fetch (or challenge POST) ─► send_challenge: token-part1, ChallengeEmail, DKIM
//!                                       └─► smarthost relay ─► … ─► the identifier's MX
//!  reply ─► CA's inbound MX ─► CaInbox::deliver ─► judge: DKIM (d= From domain), From,
//!           List-*, digest under the join policy, send-once, validity window ─► challenge
//! ```
//!
//! Every mail rule is `acmeproof_protocol::smime`'s; this module only wires it to the CA.

use std::net::SocketAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use super::model::ChallengeStatus;
use super::pki::{Identifier, IdentifierKind};
use super::problem::{Problem, ProblemType};
use super::server::CaShared;
use crate::dkim::{DkimKey, DkimVerifier};
use crate::dns::WorldResolver;
use crate::mail::{Envelope, Incoming, MailSink, Reply, Session};
use crate::protocol::finding::Level;
use crate::protocol::smime::{self, ChallengeEmail, ExpectedDigest, ResponseContext};
use crate::relay::{MailRoutes, RetryPolicy, Target, send};

/// The CA's mail plumbing, set once the world's mail plane is up.
#[derive(Debug, Clone)]
pub struct CaMail {
    /// The From of challenge mails (the challenge object's `from`).
    pub from: String,
    /// Where challenge mails are handed: the world's first relay, or `None` to use the
    /// identifier's MX directly.
    pub smarthost: Option<(String, SocketAddr)>,
    /// The CA domain's DKIM key (d= equals the From domain, RFC 8823 §3.1).
    pub key: Arc<DkimKey>,
    /// Host names to ports.
    pub routes: MailRoutes,
    /// The world's DNS (MX, DKIM keys).
    pub resolver: WorldResolver,
    /// Retries when sending.
    pub retry: RetryPolicy,
    /// The EHLO name.
    pub hostname: String,
}

/// One exchange, as the CA remembers it.
#[derive(Debug, Clone)]
pub struct EmailState {
    /// token-part1 (RFC 8823 §3: sent only in the mail's Subject).
    pub token_part1: String,
    /// The challenge mail's Message-ID.
    pub message_id: String,
    /// When the challenge mail was handed to the relay.
    pub sent_at: Option<OffsetDateTime>,
    /// Why sending failed, if it did.
    pub send_error: Option<String>,
    /// The verdict on the first reply (send-once: later replies are ignored).
    pub verdict: Option<Result<(), String>>,
    /// The problem document of a failed verdict.
    pub problem: Option<Problem>,
    /// Replies that came after the first, ignored.
    pub ignored_replies: u32,
    /// Whether the client has POSTed the challenge.
    pub posted: bool,
    /// The challenge mail as the CA sent it (signed), once sent: what a judge of the CA reads,
    /// whatever relays do to it later.
    pub sent_mail: Option<Arc<[u8]>>,
    /// Whether the challenge had been POSTed when the first reply arrived (`None`: no reply
    /// yet): the order a client took.
    pub posted_before_reply: Option<bool>,
}

/// Registers the exchange of a new email-reply-00 challenge (token-part1 drawn from the seed,
/// ≥128 bits: RFC 8823 §3 step 3).
pub fn register(ca: &CaShared, store: &mut super::state::Store, challenge_id: &str) {
    // Knob `token_part1_octets`, 16 (128 bits) by default. 16 is not a multiple of three, so
    // the string and binary joins (RFC 8823 §3 leaves the join open) give different digests:
    // a client's join choice is visible. Knob `challenge_short_token_part1`: 8 octets (64
    // bits), breaking SMIME-6 on purpose.
    let octets = if ca.knobs().challenge_short_token_part1 {
        8
    } else {
        usize::from(ca.knobs().token_part1_octets)
    };
    let token_part1 = ca.tokens.token(octets);
    let message_id = format!(
        "{}@{}",
        ca.ids.token(12),
        domain_of(&ca.config.challenge_from)
    );
    store
        .email_by_token_part1
        .insert(token_part1.clone(), challenge_id.to_owned());
    store.email.insert(
        challenge_id.to_owned(),
        EmailState {
            token_part1,
            message_id,
            sent_at: None,
            send_error: None,
            verdict: None,
            problem: None,
            ignored_replies: 0,
            posted: false,
            sent_mail: None,
            posted_before_reply: None,
        },
    );
}

fn domain_of(address: &str) -> &str {
    crate::protocol::address::domain_of(address).unwrap_or(address)
}

/// Sends the challenge mail of `challenge_id` unless it was sent already (RFC 8823 §3: one
/// challenge mail per challenge). Returns at once; the mail goes out in the background.
pub fn send_once(ca: &Arc<CaShared>, challenge_id: &str) {
    let Some(mail) = ca.mail.get().cloned() else {
        // No mail plane in this world: the authorization stays pending.
        return;
    };
    let now = ca.clock.now();
    let job = {
        let mut store = ca.store();
        let Some(challenge) = store.challenges.get(challenge_id).cloned() else {
            return;
        };
        let Some(authz) = store.authzs.get(&challenge.authz).cloned() else {
            return;
        };
        let Some(state) = store.email.get_mut(challenge_id) else {
            return;
        };
        if state.sent_at.is_some() || state.send_error.is_some() {
            return;
        }
        state.sent_at = Some(now);
        (
            authz.identifier.value.clone(),
            state.token_part1.clone(),
            state.message_id.clone(),
        )
    };
    // Waiters on the store (`Ca::wait_until`) learn that the challenge mail is on its way.
    let _ = ca.validations.send(challenge_id.to_owned());
    let ca = Arc::clone(ca);
    let challenge_id = challenge_id.to_owned();
    tokio::spawn(async move {
        let (to, token_part1, message_id) = job;
        if let Err(error) = send_challenge(&ca, &mail, &to, &token_part1, &message_id, now).await {
            tracing::warn!(%error, %to, "challenge mail not delivered");
            let mut store = ca.store();
            if let Some(state) = store.email.get_mut(&challenge_id) {
                state.send_error = Some(error.clone());
            }
            drop(store);
            finish(
                &ca,
                &challenge_id,
                Err(Problem::new(
                    ProblemType::Connection,
                    format!("the challenge mail to {to} could not be delivered: {error}"),
                )),
            );
        }
    });
}

async fn send_challenge(
    ca: &CaShared,
    mail: &CaMail,
    to: &str,
    token_part1: &str,
    message_id: &str,
    now: OffsetDateTime,
) -> Result<(), String> {
    let mut email = ChallengeEmail::new(
        &mail.from,
        to,
        token_part1,
        message_id,
        now.unix_timestamp(),
    );
    let knobs = ca.knobs();
    email.body = knobs.email_challenge_body;
    if knobs.challenge_without_auto_submitted {
        email.auto_submitted = None;
    }
    if knobs.challenge_without_type_acme {
        email.auto_submitted = Some("auto-generated".into());
    }
    if knobs.challenge_to_other {
        email.to = format!("postmaster@{}", domain_of(to));
    }
    let raw = broken_on_purpose(&knobs, email.build(), &email.subject());
    // RFC 8823 §3.1 item 5 / §6: DKIM with d= the From domain, covering the listed fields.
    let mut fields = crate::relay::signed_fields();
    if knobs.challenge_dkim_h_short {
        fields.retain(|f| *f != "Auto-Submitted");
    }
    if knobs.challenge_dkim_h_without_list {
        fields.retain(|f| !smime::DKIM_SHOULD_SIGN.contains(f));
    }
    let other_key;
    let key = if knobs.challenge_dkim_other_domain {
        other_key = mail
            .key
            .with_domain(&format!("not-{}", domain_of(&mail.from)))
            .map_err(|e| format!("DKIM key: {e}"))?;
        &other_key
    } else {
        &*mail.key
    };
    let signed = if knobs.challenge_unsigned {
        raw
    } else {
        key.sign(&raw, &fields)
            .map_err(|e| format!("DKIM signing failed: {e}"))?
    };
    {
        let mut store = ca.store();
        if let Some(id) = store.email_by_token_part1.get(token_part1).cloned()
            && let Some(state) = store.email.get_mut(&id)
        {
            state.sent_mail = Some(Arc::from(signed.as_slice()));
        }
    }
    let envelope = Envelope {
        mail_from: mail.from.clone(),
        rcpt_to: vec![to.to_owned()],
        smtputf8: !to.is_ascii(),
        body_8bit: false,
    };
    let target = match &mail.smarthost {
        Some((host, addr)) => Target::Host(host.clone(), *addr),
        None => Target::Mx(domain_of(to).to_owned()),
    };
    send::send(
        &mail.routes,
        &mail.resolver,
        &target,
        &mail.hostname,
        &envelope,
        &signed,
        mail.retry.on(&ca.clock),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// The client POSTed the challenge: RFC 8555 §7.5.1 asks the CA to start validating. For
/// email-reply-00 that means waiting for the reply; a verdict already reached applies now.
pub fn posted(ca: &Arc<CaShared>, challenge_id: &str) {
    let verdict = {
        let mut store = ca.store();
        let Some(state) = store.email.get_mut(challenge_id) else {
            return;
        };
        state.posted = true;
        let verdict = state
            .verdict
            .clone()
            .map(|v| v.map_err(|_| state.problem.clone()));
        if verdict.is_none()
            && let Some(c) = store.challenges.get_mut(challenge_id)
            && c.status == ChallengeStatus::Pending
        {
            c.status = ChallengeStatus::Processing;
        }
        verdict
    };
    if ca.knobs().email_send_on == super::knobs::EmailSendOn::ChallengePost {
        send_once(ca, challenge_id);
    }
    if let Some(verdict) = verdict {
        finish(
            ca,
            challenge_id,
            verdict.map_err(|p| p.unwrap_or_else(|| Problem::unauthorized("the reply failed"))),
        );
    }
}

/// The read-only proof (knob `proof = read-only`, see [`super::knobs::Proof`]): the client
/// POSTed the token-part1 of the challenge mail. Records the verdict as a reply would (the
/// first proof counts); [`posted`] then applies it.
pub async fn read_only_proof(ca: &Arc<CaShared>, challenge_id: &str, token_part1: &str) {
    let lookup = {
        let store = ca.store();
        let Some(state) = store.email.get(challenge_id) else {
            return;
        };
        if state.verdict.is_some() {
            return;
        }
        let identifier = store
            .challenges
            .get(challenge_id)
            .and_then(|c| store.authzs.get(&c.authz))
            .map(|a| a.identifier.clone());
        (state.token_part1.clone(), state.sent_at, identifier)
    };
    let (expected, sent_at, Some(identifier)) = lookup else {
        return;
    };
    let now = ca.clock.now();
    let window = time::Duration::seconds(
        i64::try_from(ca.knobs().email_reply_window_secs).unwrap_or(i64::MAX / 4),
    );
    // RFC 8823 §6: an attacker "has only one chance to guess": compared without a timing
    // side channel; no base64 padding is tolerated here.
    let matches = !token_part1.ends_with('=')
        && crate::protocol::keyauth::digests_match(token_part1, &expected);
    let outcome = match sent_at {
        None => Err(Problem::new(
            ProblemType::IncorrectResponse,
            "no challenge mail has been sent for this challenge, so no token-part1 can match",
        )),
        Some(sent) if now - sent > window => Err(Problem::unauthorized(format!(
            "token-part1 came {} s after the challenge mail; it is valid for {} s",
            (now - sent).whole_seconds(),
            window.whole_seconds()
        ))),
        Some(_) if matches => Ok(()),
        Some(_) => Err(Problem::new(
            ProblemType::IncorrectResponse,
            format!(
                "\"tokenPart1\" {token_part1:?} is not the token-part1 of the challenge mail (knob proof = read-only)"
            ),
        )
        .with_status(403)),
    };
    let outcome = match outcome {
        Ok(()) => {
            super::validate::check_caa(&ca.resolver, &ca.config.caa_identities, &identifier, false)
                .await
        }
        Err(p) => Err(p),
    };
    let mut store = ca.store();
    if let Some(state) = store.email.get_mut(challenge_id)
        && state.verdict.is_none()
    {
        state.verdict = Some(outcome.as_ref().map(|_| ()).map_err(|p| p.detail.clone()));
        state.problem = outcome.err();
    }
}

fn finish(ca: &CaShared, challenge_id: &str, outcome: Result<(), Problem>) {
    let knobs = ca.knobs();
    let now = ca.clock.now();
    ca.store()
        .finish_validation(challenge_id, outcome, now, &knobs);
    let _ = ca.validations.send(challenge_id.to_owned());
}

/// The CA's inbound mailbox: the [`MailSink`] of the CA's MX.
#[derive(Debug, Clone)]
pub struct CaInbox(pub Arc<CaShared>);

#[async_trait::async_trait]
impl MailSink for CaInbox {
    async fn check_recipient(&self, rcpt: &str, _session: &Session) -> Result<(), Reply> {
        if rcpt.eq_ignore_ascii_case(&self.0.config.challenge_from) {
            Ok(())
        } else {
            Err(Reply::no_such_user(rcpt))
        }
    }

    async fn deliver(&self, message: Incoming) -> Vec<Result<(), Reply>> {
        let n = message.envelope.rcpt_to.len();
        self.0.keep_mail(&message.data);
        if message.envelope.mail_from.is_empty() {
            bounced(&self.0, &message.data);
        } else {
            judge_reply(&self.0, &message.data).await;
        }
        vec![Ok(()); n]
    }
}

/// A non-delivery report for a challenge mail: the challenge cannot succeed.
fn bounced(ca: &Arc<CaShared>, raw: &[u8]) {
    let text = crate::relay::bounce::readable_text(raw);
    let found = {
        let store = ca.store();
        store
            .email_by_token_part1
            .iter()
            .find(|(token, _)| text.contains(token.as_str()))
            .map(|(_, id)| id.clone())
    };
    if let Some(id) = found {
        let diagnostic = text
            .lines()
            .find(|l| l.trim_start().starts_with("Diagnostic-Code:"))
            .unwrap_or("Diagnostic-Code: (none)")
            .to_owned();
        finish(
            ca,
            &id,
            Err(Problem::new(
                ProblemType::Connection,
                format!("the challenge mail bounced: {diagnostic}"),
            )),
        );
    }
}

/// Judges a reply (RFC 8823 §3.2) and records the verdict.
async fn judge_reply(ca: &Arc<CaShared>, raw: &[u8]) {
    // Which challenge? The reply's Subject repeats token-part1 (§3.2 item 1).
    let Ok(first_look) = smime::check_response(raw, &ResponseContext::default()) else {
        tracing::info!("the CA inbox got something that is not a mail");
        return;
    };
    let Some(token_part1) = first_look.token_part1.clone() else {
        tracing::info!("the CA inbox got a mail without an ACME subject");
        return;
    };
    let lookup = {
        let mut store = ca.store();
        let Some(id) = store.email_by_token_part1.get(&token_part1).cloned() else {
            return;
        };
        let Some(state) = store.email.get_mut(&id) else {
            return;
        };
        if state.verdict.is_some() {
            // Send-once (SMIME-11): only the first reply counts.
            state.ignored_replies += 1;
            tracing::info!(challenge = %id, "a second reply was ignored");
            drop(store);
            let _ = ca.validations.send(id);
            return;
        }
        state.posted_before_reply = Some(state.posted);
        let Some(expect) = ReplyExpectation::of(&store, &id) else {
            return;
        };
        (id, expect)
    };
    let (id, expect) = lookup;
    let outcome = verdict(ca, raw, &expect).await;
    let outcome = match outcome {
        Ok(()) => {
            // RFC 9495: issuemail CAA at the address's domain.
            super::validate::check_caa(
                &ca.resolver,
                &ca.config.caa_identities,
                &expect.identifier,
                false,
            )
            .await
        }
        Err(p) => Err(p),
    };
    let posted = {
        let mut store = ca.store();
        let Some(state) = store.email.get_mut(&id) else {
            return;
        };
        state.verdict = Some(outcome.as_ref().map(|_| ()).map_err(|p| p.detail.clone()));
        state.problem = outcome.as_ref().err().cloned();
        state.posted
    };
    if posted {
        finish(ca, &id, outcome);
    }
}

/// What a reply to one email-reply-00 challenge must match (RFC 8823 §3.2): the
/// CA judges replies with it, and so does a judge of an external client.
#[derive(Debug, Clone)]
pub struct ReplyExpectation {
    /// The `email` identifier.
    pub identifier: Identifier,
    /// The challenge mail's Message-ID (In-Reply-To, SMIME-43).
    pub message_id: String,
    /// token-part1, from the challenge mail's Subject.
    pub token_part1: String,
    /// token-part2, from the challenge object.
    pub token_part2: String,
    /// The account key's RFC 7638 thumbprint.
    pub thumbprint: String,
    /// When the challenge mail went out (`None`: not yet).
    pub sent_at: Option<OffsetDateTime>,
}

impl ReplyExpectation {
    /// The expectation for the email-reply-00 challenge `challenge_id`, from the store.
    pub fn of(store: &super::state::Store, challenge_id: &str) -> Option<ReplyExpectation> {
        let state = store.email.get(challenge_id)?;
        let challenge = store.challenges.get(challenge_id)?;
        let authz = store.authzs.get(&challenge.authz)?;
        let account = store.accounts.get(&authz.account)?;
        Some(ReplyExpectation {
            identifier: authz.identifier.clone(),
            message_id: state.message_id.clone(),
            token_part1: state.token_part1.clone(),
            token_part2: challenge.token.clone(),
            thumbprint: account.thumbprint.clone(),
            sent_at: state.sent_at,
        })
    }

    /// The context to check a reply with: the challenge mail this CA sent, and the digest of
    /// the token parts under the joins the CA accepts (knob `email_join`).
    pub fn context(&self, ca: &CaShared) -> ResponseContext {
        ResponseContext {
            identifier: Some(self.identifier.value.clone()),
            challenge: Some(smime::ChallengeInfo {
                from: Some(ca.config.challenge_from.clone()),
                to: Some(self.identifier.value.clone()),
                reply_to: None,
                message_id: Some(self.message_id.clone()),
                subject: None,
                token_part1: Some(self.token_part1.clone()),
            }),
            expected: ExpectedDigest::Tokens {
                part1: Some(self.token_part1.clone()),
                part2: self.token_part2.clone(),
                thumbprint: self.thumbprint.clone(),
                accept: ca.knobs().email_join.accepted(),
            },
            case: Default::default(),
            dkim: None,
        }
    }

    /// [`ReplyExpectation::context`] with what the world's DNS says of the reply's DKIM
    /// signatures, so the checker's one DKIM rule judges them.
    pub async fn verified_context(&self, ca: &CaShared, raw: &[u8]) -> ResponseContext {
        ResponseContext {
            dkim: Some(DkimVerifier::new(&ca.resolver).check(raw).await),
            ..self.context(ca)
        }
    }
}

async fn verdict(ca: &CaShared, raw: &[u8], v: &ReplyExpectation) -> Result<(), Problem> {
    let now = ca.clock.now();
    let window = time::Duration::seconds(
        i64::try_from(ca.knobs().email_reply_window_secs).unwrap_or(i64::MAX / 4),
    );
    if let Some(sent) = v.sent_at
        && now - sent > window
    {
        return Err(Problem::unauthorized(format!(
            "the reply came {} s after the challenge mail; the token is valid for {} s",
            (now - sent).whole_seconds(),
            window.whole_seconds()
        )));
    }
    debug_assert_eq!(v.identifier.kind, IdentifierKind::Email);
    // RFC 8823 §3.2 item 9 and §6: the reply carries a DKIM signature of the From domain that
    // verifies with the key from the world's DNS, under the protocol's one DKIM rule.
    let context = v.verified_context(ca, raw).await;
    let report = smime::check_response(raw, &context)
        .map_err(|e| Problem::new(ProblemType::IncorrectResponse, format!("the reply: {e}")))?;
    let knobs = ca.knobs();
    let unsigned = context.dkim.as_ref().is_some_and(Vec::is_empty);
    let waived = waived_by_knobs(&knobs, unsigned);
    let mut reasons = refused_by_knobs(&knobs, raw, &report);
    // MUST-level findings of the protocol checker: From (SMIME-40), To (SMIME-41), List-*
    // (SMIME-44), the block (SMIME-46/48), DKIM (SMIME-51/52/54, RFC 8301's MAIL-7/8)…
    use crate::protocol::requirements as req;
    for finding in report
        .findings
        .as_slice()
        .iter()
        .filter(|f| f.level == Level::Must)
    {
        // SMIME-10 (the digest) is judged below with its own error type.
        if finding.req == req::SMIME_10 || waived.contains(&finding.req) {
            continue;
        }
        reasons.push(format!(
            "{}: expected {}; observed {}",
            finding.req, finding.expected, finding.observed
        ));
    }
    let digest_ok = report.digest_matches == Some(true);
    if reasons.is_empty() && digest_ok {
        return Ok(());
    }
    let kind = if reasons.is_empty() {
        ProblemType::IncorrectResponse
    } else {
        ProblemType::Unauthorized
    };
    if !digest_ok {
        reasons.push(format!(
            "the digest {} is not base64url(SHA-256(key authorization)) under the {:?} join policy",
            report
                .block
                .as_ref()
                .map(|b| b.digest.as_str())
                .unwrap_or("(no ACME RESPONSE block)"),
            ca.knobs().email_join
        ));
    }
    Err(Problem::new(kind, reasons.join("; ")).with_status(403))
}

/// The rules the broken-on-purpose knobs let pass: the protocol checker still reports them,
/// and this CA looks away. `unsigned`: the reply has no DKIM-Signature field at all.
fn waived_by_knobs(knobs: &super::knobs::Knobs, unsigned: bool) -> Vec<&'static str> {
    use crate::protocol::requirements as req;
    let mut waived = Vec::new();
    if knobs.accept_unsigned_replies && unsigned {
        waived.push(req::SMIME_51);
    }
    if knobs.accept_rsa_sha1 {
        waived.push(req::MAIL_7);
    }
    if knobs.loose_dkim_h {
        waived.push(req::SMIME_52);
    }
    waived
}

/// What the broken-on-purpose knobs refuse that RFC 8823 has a CA accept, as reasons in the
/// form of the checker's.
fn refused_by_knobs(
    knobs: &super::knobs::Knobs,
    raw: &[u8],
    report: &smime::ResponseReport,
) -> Vec<String> {
    use crate::protocol::requirements as req;
    let mut reasons = Vec::new();
    if knobs.refuse_wrapped_digest
        && let Some(block) = report.block.as_ref().filter(|b| b.lines > 1)
    {
        reasons.push(format!(
            "{}: expected the digest on one line (knob refuse_wrapped_digest); observed {} lines",
            req::SMIME_48,
            block.lines
        ));
    }
    if knobs.refuse_encoded_subject {
        let parsed = mail_parser::MessageParser::default().parse(raw);
        let encoded = parsed
            .as_ref()
            .and_then(|m| m.header_raw("Subject"))
            .is_some_and(|s| !smime::subject::encoded_words(s).is_empty());
        if encoded {
            reasons.push(format!(
                "{}: expected a Subject without encoded-words (knob refuse_encoded_subject); \
                 observed RFC 2047 encoded-words",
                req::SMIME_39
            ));
        }
    }
    reasons
}

/// The header changes of the broken-on-purpose knobs, each breaking one rule; `subject` is the
/// conformant Subject value.
fn broken_on_purpose(knobs: &super::knobs::Knobs, mut raw: Vec<u8>, subject: &str) -> Vec<u8> {
    use base64::Engine as _;
    if knobs.challenge_without_date {
        raw = without_field(&raw, "Date");
    }
    // The Subject as one RFC 2047 encoded-word (§4.1 "B" encoding) in a given charset; the
    // decoded text is the conformant Subject, so only the charset (or length) rule breaks.
    let encoded = |charset: &str, text: &str| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(text);
        format!("=?{charset}?B?{b64}?=")
    };
    let broken_subject = if knobs.challenge_subject_latin1 {
        Some(encoded("ISO-8859-1", subject))
    } else if knobs.challenge_subject_utf8 {
        Some(encoded("UTF-8", subject))
    } else if knobs.challenge_subject_long_encoded_word {
        // Folding white space after the label is free (RFC 8823 §3.1 item 1 drops it with the
        // token's), and makes the word longer than RFC 2047 §2's 75 characters.
        let padded = subject.replacen(' ', &" ".repeat(40), 1);
        Some(encoded("US-ASCII", &padded))
    } else {
        None
    };
    if let Some(value) = broken_subject {
        raw = [
            format!("Subject: {value}\r\n").into_bytes(),
            without_field(&raw, "Subject"),
        ]
        .concat();
    }
    for (on, name) in [
        (knobs.challenge_two_message_ids, "Message-ID"),
        (knobs.challenge_two_auto_submitted, "Auto-Submitted"),
    ] {
        if on {
            raw = with_field_twice(&raw, name);
        }
    }
    raw
}

/// `raw` with the first field `name` repeated at the top of the header section.
fn with_field_twice(raw: &[u8], name: &str) -> Vec<u8> {
    let value = mail_parser::MessageParser::default()
        .parse_headers(raw)
        .and_then(|m| m.header_raw(name).map(|v| v.trim().to_owned()));
    match value {
        Some(value) => [format!("{name}: {value}\r\n").into_bytes(), raw.to_vec()].concat(),
        None => raw.to_vec(),
    }
}

/// `raw` without the header field `name` (and its continuation lines).
fn without_field(raw: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return raw.to_vec();
    };
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut dropping = false;
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|line| {
            if line.starts_with([' ', '\t']) {
                return !dropping;
            }
            dropping = line.to_ascii_lowercase().starts_with(&prefix);
            !dropping
        })
        .collect();
    format!("{}\r\n\r\n{body}", kept.join("\r\n")).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::smime::{ChallengeContext, check_challenge};

    /// The ids the protocol's challenge checker gives the mail with `knob` set (DKIM left out:
    /// these knobs change header fields only).
    fn broken_ids(knob: &str) -> Vec<&'static str> {
        let knobs = super::super::knobs::Knobs::default()
            .merged(&serde_json::json!({ knob: true }))
            .expect("a knob");
        let email = ChallengeEmail::new(
            "acme@ca.test",
            "alice@example.test",
            "LgYemJLy3F1LDkiJrdIGbA",
            "m1@ca.test",
            1_700_000_000,
        );
        let raw = broken_on_purpose(&knobs, email.build(), &email.subject());
        let context = ChallengeContext {
            expected_to: Some("alice@example.test".into()),
            ..ChallengeContext::default()
        };
        let report = check_challenge(&raw, &context).expect("a message");
        assert_eq!(
            report.info.token_part1.as_deref(),
            Some("LgYemJLy3F1LDkiJrdIGbA"),
            "{knob}: the token still reads"
        );
        report
            .findings
            .as_slice()
            .iter()
            .filter(|f| f.level != Level::Info && f.req != "SMIME-28")
            .map(|f| f.req)
            .collect()
    }

    #[test]
    fn each_header_knob_breaks_its_one_rule() {
        assert!(broken_ids("strict").is_empty(), "an unbroken mail");
        for (knob, id) in [
            ("challenge_without_date", "MAIL-1"),
            ("challenge_subject_latin1", "SMIME-20"),
            ("challenge_subject_utf8", "SMIME-21"),
            ("challenge_subject_long_encoded_word", "MAIL-6"),
            ("challenge_two_message_ids", "MAIL-2"),
            ("challenge_two_auto_submitted", "MAIL-3"),
        ] {
            assert_eq!(broken_ids(knob), [id], "{knob}");
        }
    }

    #[test]
    fn a_field_and_its_continuation_lines_are_left_out_and_nothing_else() {
        let raw =
            b"Date: Mon,\r\n 1 Dec 2026\r\nFrom: a@b.test\r\nX-Date: kept\r\n\r\nDate: body\r\n";
        assert_eq!(
            without_field(raw, "Date"),
            b"From: a@b.test\r\nX-Date: kept\r\n\r\nDate: body\r\n"
        );
        assert_eq!(without_field(b"no body", "Date"), b"no body");
    }
}
