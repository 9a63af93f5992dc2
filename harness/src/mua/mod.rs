//! The reference RFC 8823 client and MUA: what a real mail user agent with ACME support does.
//!
//! 1. orders an `email` identifier and fetches the authorization (which makes the CA send the
//!    challenge mail);
//! 2. waits for the challenge in its INBOX over IMAP (IDLE, or a bounded poll);
//! 3. checks it with the `protocol/` rules, DKIM included, and ignores anything unexpected
//!    (another sender, a `Re:` subject, a token-part1 already answered);
//! 4. replies once through Submission and marks the mail `\Answered`;
//! 5. POSTs the challenge (after the reply as RFC 8823 §3 step 7 says, or before: a variant);
//! 6. finalizes with a CSR for the chosen key usage, downloads the chain and checks it.
//!
//! - [`account`]: where the mailbox owner reads and sends;
//! - [`mailbox`]: the INBOX over IMAP;
//! - [`judge`]: which mail is answered;
//! - [`certificate`]: what the issued certificate must carry;
//! - [`trace`]: the path a mail took, from its trace fields.

// `FlowError::Acme` carries the whole problem document (see `acme`).
#![allow(clippy::result_large_err)]

pub mod account;
pub mod certificate;
pub mod judge;
pub mod mailbox;
pub mod trace;

use std::time::Duration;

use acmeproof_mocks::ca::pki::TrustAnchors;
use acmeproof_mocks::dkim::DkimVerifier;
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::seed::Seed;
use acmeproof_protocol::smime::ResponseBody;
use acmeproof_protocol::token::Join;
use serde_json::Value;
use tokio::time::Instant;

pub use account::{ImapTls, MailAccount};
pub use mailbox::MailboxWait;

use crate::acme::AcmeClient;
use crate::acme::email::{self, ReplyStyle};
use crate::acme::flow::{FlowError, Issued};
use acmeproof_protocol::pki::SmimeUsage;

/// When the MUA POSTs the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PostTiming {
    /// After the reply is sent (RFC 8823 §3 step 7).
    #[default]
    AfterReply,
    /// Right after fetching the authorization, before the mail arrives (needed by a CA that
    /// sends the challenge mail only on the POST).
    BeforeReply,
}

/// How the reference MUA behaves: the variants a scenario can switch.
#[derive(Debug, Clone)]
pub struct MuaOptions {
    /// How token-part1 and token-part2 are joined before hashing (the open issue of §3.2).
    pub join: Join,
    /// The reply's media type.
    pub body: ResponseBody,
    /// Wrap the digest after this many characters.
    pub wrap: Option<usize>,
    /// When the challenge is POSTed.
    pub post: PostTiming,
    /// The key usage the CSR asks for (RFC 8823 §3.3).
    pub usage: SmimeUsage,
    /// How new mail is awaited.
    pub wait: MailboxWait,
    /// Whether the challenge must carry a verifying DKIM signature of its sender's domain.
    pub require_dkim: bool,
    /// Answer the CA's challenge mail even when it breaks a MUST (see
    /// [`judge::Expected::lenient`]).
    pub lenient: bool,
    /// The bound on each wait: for the mail, for the authorization, for the order.
    pub timeout: Duration,
    /// Where the certificate keys come from (one stream per order).
    pub seed: Seed,
    /// The least UID the order's challenge mail can have. When a mail from the challenge's
    /// From with at least this UID fails validation, the MUA stops waiting with
    /// [`FlowError::Ignored`]: RFC 8823 §3 has the CA send one challenge mail per challenge, so
    /// no better one is coming. `None`: wait out the timeout (lookalikes put in the mailbox
    /// before the order have lower UIDs either way).
    pub challenge_from_uid: Option<u32>,
    /// With [`PostTiming::AfterReply`]: when no challenge mail has come this long after the
    /// order, POST the challenge anyway and wait on. RFC 8823 §3 leaves it to the CA when the
    /// challenge mail is sent; a CA that sends it only on the challenge POST would otherwise
    /// never be answered. `None`: never (the reference CA's own scenarios say when).
    pub post_without_mail: Option<Duration>,
    /// Prove by reading only: POST `{"tokenPart1": …}` (token-part1 from the challenge mail's
    /// Subject) to the challenge instead of replying. RFC 8823 §3 wants the reply; this is the
    /// alternative of the draft-ietf-acme-email-smime-01 open issue "Is being able to just
    /// read email a sufficient proof of control?", as acmeproof defines it (CA knob `proof =
    /// read-only`).
    pub read_only: bool,
}

impl Default for MuaOptions {
    fn default() -> Self {
        MuaOptions {
            join: Join::String,
            body: ResponseBody::TextPlain,
            wrap: None,
            post: PostTiming::AfterReply,
            usage: SmimeUsage::BOTH,
            wait: MailboxWait::Idle,
            require_dkim: true,
            lenient: false,
            timeout: Duration::from_secs(30),
            seed: Seed(1),
            challenge_from_uid: None,
            post_without_mail: None,
            read_only: false,
        }
    }
}

/// A message the MUA saw and did not answer.
#[derive(Debug, Clone)]
pub struct IgnoredMail {
    /// Its IMAP UID.
    pub uid: u32,
    /// Why it was not answered.
    pub reason: String,
}

/// What a whole issuance did.
#[derive(Debug, Clone)]
pub struct MuaOutcome {
    /// The exchange: order, authorization, challenge, the challenge mail as fetched over IMAP.
    pub exchange: email::Exchange,
    /// The challenge mail's UID.
    pub challenge_uid: u32,
    /// Messages seen and not answered.
    pub ignored: Vec<IgnoredMail>,
    /// The reply as submitted.
    pub reply: Vec<u8>,
    /// The authorization when it left `pending`.
    pub authorization: Value,
    /// The certificate and its key.
    pub issued: Issued,
    /// What the leaf certificate carries.
    pub certificate: acmeproof_protocol::pki::CertSummary,
    /// Whether the challenge was POSTed before any challenge mail had come, because none came
    /// within [`MuaOptions::post_without_mail`].
    pub posted_without_mail: bool,
}

/// The whole RFC 8823 issuance for `account`, as the reference MUA does it. `anchors` are what
/// the certificate chain is checked against (a root's DER will do).
pub async fn issue<'a>(
    client: &AcmeClient,
    account: &MailAccount,
    options: &MuaOptions,
    anchors: impl Into<TrustAnchors<'a>>,
) -> Result<MuaOutcome, FlowError> {
    // The mailbox is opened first, so a challenge is always a message newer than the order.
    let mut mailbox = mailbox::Mailbox::open(account, options.timeout).await?;
    let result = issue_in(&mut mailbox, client, account, options, anchors).await;
    mailbox.close().await;
    result
}

/// [`issue`] with a mailbox the caller opened (for tests that put mail in it first).
pub async fn issue_in<'a>(
    mailbox: &mut mailbox::Mailbox,
    client: &AcmeClient,
    account: &MailAccount,
    options: &MuaOptions,
    anchors: impl Into<TrustAnchors<'a>>,
) -> Result<MuaOutcome, FlowError> {
    let anchors = anchors.into();
    let ordered = email::order(client, &account.address).await?;
    if options.post == PostTiming::BeforeReply {
        client.respond(ordered.challenge_url()).await?;
    }
    let expected = judge::Expected {
        from: ordered.challenge_from().to_owned(),
        to: account.address.clone(),
        require_dkim: options.require_dkim,
        lenient: options.lenient,
    };
    let resolver = WorldResolver::new(account.dns).map_err(|e| FlowError::Dns(e.to_string()))?;
    let verifier = DkimVerifier::new(&resolver);
    let deadline = Instant::now() + options.timeout;
    // The moment to POST without a mail, if the CA may be waiting for the POST to send it.
    let mut post_at = match (options.post, options.post_without_mail) {
        (PostTiming::AfterReply, Some(after)) => Some((Instant::now() + after).min(deadline)),
        _ => None,
    };
    let mut posted_without_mail = false;
    let mut ignored = Vec::new();
    let (uid, raw, info, dkim_pass) = 'found: loop {
        let mut batch = mailbox.new_messages().await?.into_iter();
        while let Some(fetched) = batch.next() {
            match judge::judge(&fetched.raw, &expected, mailbox.answered(), &verifier).await {
                judge::Judgement::Answer { info, dkim_pass } => {
                    mailbox.put_back(batch.collect());
                    break 'found (fetched.uid, fetched.raw, info, dkim_pass);
                }
                judge::Judgement::Ignore(reason) => {
                    // RFC 8823 §3.1: failed validations SHOULD be logged (SMIME-36): here, and
                    // in the outcome's `ignored` list a caller reads.
                    tracing::info!(
                        uid = fetched.uid,
                        %reason,
                        rule = acmeproof_protocol::requirements::SMIME_36,
                        "mail not answered"
                    );
                    if options
                        .challenge_from_uid
                        .is_some_and(|first| fetched.uid >= first)
                        && sent_by(&fetched.raw, &expected.from)
                    {
                        return Err(FlowError::Ignored {
                            raw: fetched.raw,
                            reason,
                        });
                    }
                    ignored.push(IgnoredMail {
                        uid: fetched.uid,
                        reason,
                    });
                }
            }
        }
        if let Some(at) = post_at {
            if mailbox.wait(options.wait, at).await? {
                continue;
            }
            post_at = None;
            if Instant::now() < deadline {
                tracing::info!("no challenge mail yet: the challenge is POSTed first");
                client.respond(ordered.challenge_url()).await?;
                posted_without_mail = true;
                continue;
            }
        }
        if !mailbox.wait(options.wait, deadline).await? {
            let seen = ignored
                .iter()
                .map(|i| format!("UID {}: {}", i.uid, i.reason))
                .collect::<Vec<_>>();
            return Err(FlowError::Timeout(format!(
                "no challenge mail from {} reached {} over IMAP in {:?}{}",
                expected.from,
                account.address,
                options.timeout,
                if seen.is_empty() {
                    String::new()
                } else {
                    format!(" (not answered: {})", seen.join("; "))
                }
            )));
        }
    };
    let exchange = ordered.with_mail(raw, info, dkim_pass);
    let style = ReplyStyle {
        join: options.join,
        body: options.body,
        wrap: options.wrap,
    };
    let part1 = exchange.info.token_part1.clone().unwrap_or_default();
    let reply = if options.read_only {
        // The read-only proof: token-part1 back over HTTPS, no mail sent.
        client
            .post(
                exchange.challenge_url(),
                Some(&serde_json::json!({ "tokenPart1": part1 })),
            )
            .await?
            .json()?;
        mailbox.mark_answered(uid, &part1).await?;
        Vec::new()
    } else {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let reply = email::response(client, &exchange, &account.address, &style, now)?;
        let to = exchange.info.reply_address().unwrap_or_default().to_owned();
        account
            .submit(&email::envelope(&account.address, &to), &reply)
            .await?;
        mailbox.mark_answered(uid, &part1).await?;
        if options.post == PostTiming::AfterReply && !posted_without_mail {
            client.respond(exchange.challenge_url()).await?;
        }
        reply
    };
    let authorization = client
        .poll(
            &exchange.authz_url,
            &["pending", "processing"],
            options.timeout,
        )
        .await?;
    if authorization["status"] == "invalid" {
        return Err(FlowError::Invalid(authorization));
    }
    if authorization["status"] != "valid" {
        return Err(FlowError::Unexpected(format!(
            "the authorization ended {}",
            authorization["status"]
        )));
    }
    let issued = email::finalize_smime(
        client,
        &exchange,
        &account.address,
        options.usage,
        options.seed,
        options.timeout,
    )
    .await?;
    let certificate =
        certificate::check_smime(&issued.chain_pem, &account.address, options.usage, anchors)
            .map_err(FlowError::Certificate)?;
    Ok(MuaOutcome {
        exchange,
        challenge_uid: uid,
        ignored,
        reply,
        authorization,
        issued,
        certificate,
        posted_without_mail,
    })
}

/// Whether `raw`'s From is `address` (case-insensitively).
fn sent_by(raw: &[u8], address: &str) -> bool {
    mail_parser::MessageParser::default()
        .parse_headers(raw)
        .and_then(|m| {
            m.from()
                .and_then(|f| f.first())
                .and_then(|a| a.address())
                .map(|a| a.eq_ignore_ascii_case(address))
        })
        .unwrap_or(false)
}
