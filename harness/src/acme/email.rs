//! RFC 8823 from the client side, step by step, so tests can tamper with any step: the order,
//! the challenge mail read straight from the mail store ([`start`]), the response, Submission,
//! the challenge POST, finalize. The reference MUA ([`crate::mua`]) composes the same steps but
//! reads the mail over IMAP.

use std::time::Duration;

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::dkim::DkimVerifier;
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::seed::{Seed, SeededRng};
use acmeproof_mocks::world::World;
use acmeproof_protocol::address::SanForm;
use acmeproof_protocol::pki::SmimeUsage;
use acmeproof_protocol::smime::{ChallengeInfo, ResponseBody, ResponseEmail};
use acmeproof_protocol::token::{Join, reply_digest};
use serde_json::{Value, json};

use super::client::AcmeClient;
use super::flow::FlowError;

/// An exchange in progress: the order and the challenge mail, read from the mailbox.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The order URL.
    pub order_url: String,
    /// The order as created.
    pub order: Value,
    /// The authorization URL.
    pub authz_url: String,
    /// The challenge object.
    pub challenge: Value,
    /// The challenge mail as delivered.
    pub challenge_mail: Vec<u8>,
    /// What the mail says.
    pub info: ChallengeInfo,
    /// Whether a DKIM signature of the From domain verified on the challenge mail.
    pub challenge_dkim_pass: bool,
}

impl Exchange {
    /// The challenge URL.
    pub fn challenge_url(&self) -> &str {
        self.challenge["url"].as_str().unwrap_or_default()
    }

    /// token-part2 from the challenge object.
    pub fn token_part2(&self) -> &str {
        self.challenge["token"].as_str().unwrap_or_default()
    }
}

fn unexpected(what: impl Into<String>) -> FlowError {
    FlowError::Unexpected(what.into())
}

/// An `email` order whose authorization has been fetched (which is what makes a CA send the
/// challenge mail, RFC 8823 §3 step 3), before any mail is read.
#[derive(Debug, Clone)]
pub struct Ordered {
    /// The order URL.
    pub order_url: String,
    /// The order as created.
    pub order: Value,
    /// The authorization URL.
    pub authz_url: String,
    /// The email-reply-00 challenge object.
    pub challenge: Value,
    /// The first INBOX UID its challenge mail can have: the mailbox's next UID when the order
    /// was placed (0: any). In a world shared by many scenarios (a server under test), older
    /// challenge mail of other orders is still there, and is never this order's.
    pub inbox_from_uid: u32,
}

impl Ordered {
    /// The challenge URL.
    pub fn challenge_url(&self) -> &str {
        self.challenge["url"].as_str().unwrap_or_default()
    }

    /// The challenge object's `from`: who the challenge mail comes from (RFC 8823 §3.1).
    pub fn challenge_from(&self) -> &str {
        self.challenge["from"].as_str().unwrap_or_default()
    }

    /// The exchange once the challenge mail is read.
    pub fn with_mail(self, mail: Vec<u8>, info: ChallengeInfo, dkim_pass: bool) -> Exchange {
        Exchange {
            order_url: self.order_url,
            order: self.order,
            authz_url: self.authz_url,
            challenge: self.challenge,
            challenge_mail: mail,
            info,
            challenge_dkim_pass: dkim_pass,
        }
    }
}

/// Orders `address` and fetches the authorization and its email-reply-00 challenge.
pub async fn order(client: &AcmeClient, address: &str) -> Result<Ordered, FlowError> {
    let (order_url, order) = client
        .new_order(&[json!({ "type": "email", "value": address })])
        .await?;
    let authz_url = order["authorizations"][0]
        .as_str()
        .ok_or_else(|| unexpected(format!("order without authorizations: {order}")))?
        .to_owned();
    let authz = client.get(&authz_url).await?;
    let challenge = authz["challenges"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "email-reply-00"))
        .cloned()
        .ok_or_else(|| unexpected(format!("no email-reply-00 challenge: {authz}")))?;
    Ok(Ordered {
        order_url,
        order,
        authz_url,
        challenge,
        inbox_from_uid: 0,
    })
}

/// The UID the next message delivered to `address`'s INBOX gets: taken before an order, it is
/// the least UID that order's challenge mail can have.
pub fn inbox_mark(world: &World, address: &str) -> u32 {
    world
        .mail
        .as_ref()
        .and_then(|m| m.store.mailbox_status(address, "INBOX").ok())
        .map_or(0, |status| status.uidnext)
}

/// Orders `address`, fetches the authorization (which makes the CA send the challenge mail),
/// and waits for the mail in the address's INBOX, read straight from the store.
pub async fn start(
    client: &AcmeClient,
    world: &World,
    address: &str,
    timeout: Duration,
) -> Result<Exchange, FlowError> {
    let mark = inbox_mark(world, address);
    let mut ordered = order(client, address).await?;
    ordered.inbox_from_uid = mark;
    read_challenge(world, ordered, address, timeout).await
}

/// Waits for `ordered`'s challenge mail in `address`'s INBOX (read straight from the store),
/// and checks it: one an MUA would ignore (a MUST broken) is an error; DKIM is verified.
pub async fn read_challenge(
    world: &World,
    ordered: Ordered,
    address: &str,
    timeout: Duration,
) -> Result<Exchange, FlowError> {
    read_challenge_as(world, ordered, address, timeout, false).await
}

/// [`read_challenge`], by a lenient MUA when `lenient` (see
/// [`crate::mua::judge::Expected::lenient`]): a challenge mail that breaks a MUST is still
/// read, so the exchange goes on.
pub async fn read_challenge_as(
    world: &World,
    ordered: Ordered,
    address: &str,
    timeout: Duration,
    lenient: bool,
) -> Result<Exchange, FlowError> {
    let mail = world
        .mail
        .as_ref()
        .ok_or_else(|| unexpected("the world has no mail plane"))?;
    let from = ordered.challenge_from().to_owned();
    let first_uid = ordered.inbox_from_uid;
    let stored = mail
        .store
        .wait_for_message(
            address,
            |m| m.uid >= first_uid && String::from_utf8_lossy(&m.raw).contains(&from),
            timeout,
        )
        .await
        .ok_or_else(|| {
            unexpected(format!(
                "no challenge mail reached {address} in {timeout:?}"
            ))
        })?;
    let raw = stored.raw.to_vec();
    // The MUA's own judgement, without requiring DKIM: callers here tamper on purpose and
    // read `challenge_dkim_pass` themselves.
    let expected = crate::mua::judge::Expected {
        from,
        to: address.to_owned(),
        require_dkim: false,
        lenient,
    };
    let resolver =
        WorldResolver::new(world.dns.addr()).map_err(|e| FlowError::Dns(e.to_string()))?;
    let verifier = DkimVerifier::new(&resolver);
    match crate::mua::judge::judge(&raw, &expected, &Default::default(), &verifier).await {
        crate::mua::judge::Judgement::Answer { info, dkim_pass } => {
            Ok(ordered.with_mail(raw, info, dkim_pass))
        }
        crate::mua::judge::Judgement::Ignore(reason) => Err(FlowError::Ignored { raw, reason }),
    }
}

/// How a response is written: the open-issue join, the media type, the digest's wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyStyle {
    /// How the token parts are joined before hashing.
    pub join: Join,
    /// The body's media type.
    pub body: ResponseBody,
    /// Wrap the digest after this many characters.
    pub wrap: Option<usize>,
}

impl ReplyStyle {
    /// One line of text/plain with `join`.
    pub fn plain(join: Join) -> Self {
        ReplyStyle {
            join,
            body: ResponseBody::TextPlain,
            wrap: None,
        }
    }
}

/// The response mail for `exchange`, as `address` in `style`, unsigned (the MSA signs).
pub fn response(
    client: &AcmeClient,
    exchange: &Exchange,
    address: &str,
    style: &ReplyStyle,
    now: i64,
) -> Result<Vec<u8>, FlowError> {
    let part1 = exchange
        .info
        .token_part1
        .as_deref()
        .ok_or_else(|| unexpected("the challenge has no token-part1"))?;
    let digest = reply_digest(
        part1,
        exchange.token_part2(),
        &client.key().thumbprint(),
        style.join,
    )
    .map_err(|e| unexpected(e.to_string()))?;
    let domain = acmeproof_protocol::address::domain_of(address).unwrap_or("example.test");
    let message_id = format!("reply-{}@{domain}", &digest.digest[..12]);
    let mut email =
        ResponseEmail::reply_to(&exchange.info, address, digest.digest, message_id, now)
            .ok_or_else(|| unexpected("the challenge has nothing to reply to"))?;
    email.body = style.body;
    email.wrap = style.wrap;
    Ok(email.build())
}

/// Sends `data` as `user` through the world's Submission server (STARTTLS, AUTH PLAIN).
pub async fn submit(
    world: &World,
    user: &str,
    password: &str,
    envelope: &Envelope,
    data: &[u8],
) -> Result<(), FlowError> {
    crate::mua::MailAccount::in_world(world, user, password)?
        .submit(envelope, data)
        .await
}

/// POSTs the challenge and waits until the authorization leaves `pending`.
pub async fn answer_and_wait(
    client: &AcmeClient,
    exchange: &Exchange,
    timeout: Duration,
) -> Result<Value, FlowError> {
    client.respond(exchange.challenge_url()).await?;
    Ok(client
        .poll(&exchange.authz_url, &["pending"], timeout)
        .await?)
}

/// A CSR for an S/MIME certificate of `address` (rfc822Name, or SmtpUTF8Mailbox for a
/// non-ASCII local part, RFC 8398), with its key in PKCS#8 PEM. The P-256 key comes from `rng`,
/// so a seeded run asks for the same key every time.
pub fn smime_csr(
    address: &str,
    usage: SmimeUsage,
    rng: &SeededRng,
) -> Result<(Vec<u8>, String), FlowError> {
    let csr_error = |e: rcgen::Error| FlowError::Csr(e.to_string());
    let seeded = AccountKey::generate(KeyAlg::Es256, rng)
        .map_err(|e| FlowError::Csr(format!("key: {e}")))?;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(seeded.pkcs8_der());
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(csr_error)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    // RFC 8398 §3: the SAN form the CA will issue (rfc822Name or SmtpUTF8Mailbox).
    let san = acmeproof_protocol::address::parse_address(address)
        .and_then(|a| acmeproof_protocol::address::san_form(&a))
        .map_err(|e| FlowError::Csr(format!("{address}: {e}")))?;
    params.subject_alt_names = vec![match san {
        SanForm::Rfc822Name(addr) => {
            rcgen::SanType::Rfc822Name(addr.try_into().map_err(csr_error)?)
        }
        SanForm::SmtpUtf8Mailbox(addr) => rcgen::SanType::OtherName((
            vec![1, 3, 6, 1, 5, 5, 7, 8, 9],
            rcgen::OtherNameValue::Utf8String(addr),
        )),
    }];
    // RFC 8823 §3.3: the KeyUsage request (none for signing and encryption) picks the usage.
    params.key_usages = usage
        .csr_request()
        .map(acmeproof_mocks::ca::pki::rcgen_key_usages)
        .unwrap_or_default();
    let csr = params.serialize_request(&key).map_err(csr_error)?;
    Ok((csr.der().to_vec(), key.serialize_pem()))
}

/// Waits for the order to be ready, finalizes it with an S/MIME CSR for `address` asking for
/// `usage` (its key drawn from `seed` and the order URL), and downloads the chain.
pub async fn finalize_smime(
    client: &AcmeClient,
    exchange: &Exchange,
    address: &str,
    usage: SmimeUsage,
    seed: Seed,
    timeout: Duration,
) -> Result<super::flow::Issued, FlowError> {
    let order = client
        .poll(&exchange.order_url, &["pending"], timeout)
        .await?;
    // The order's own id (the URL's last segment), not its host:port, which changes per run.
    let order_id = exchange.order_url.rsplit('/').next().unwrap_or_default();
    let rng = seed.stream(&format!("csr-key {order_id}"));
    let (csr, key_pem) = smime_csr(address, usage, &rng)?;
    let finalize = order["finalize"]
        .as_str()
        .ok_or_else(|| unexpected(format!("order without finalize: {order}")))?;
    let order = client.finalize(finalize, &csr).await?;
    let cert = order["certificate"]
        .as_str()
        .ok_or_else(|| unexpected(format!("finalized order without certificate: {order}")))?;
    let chain_pem = client.download(cert).await?;
    Ok(super::flow::Issued {
        order_url: exchange.order_url.clone(),
        chain_pem,
        key_pem,
    })
}

/// Sends `data` straight to the world's CA MX, bypassing Submission and so its DKIM signing
/// (the way a forger, or a mis-configured MTA, would).
pub async fn inject_to_ca(
    world: &World,
    envelope: &Envelope,
    data: &[u8],
) -> Result<(), FlowError> {
    let mail = world
        .mail
        .as_ref()
        .ok_or_else(|| unexpected("the world has no mail plane"))?;
    acmeproof_mocks::relay::send::send_once(
        "ca-mx",
        mail.ca_mx.addr(),
        "intruder.example.test",
        false,
        envelope,
        data,
    )
    .await
    .map(|_| ())
    .map_err(|e| FlowError::Smtp(format!("the CA's MX: {e}")))
}

/// The envelope of a message from `from` to `to`.
pub fn envelope(from: &str, to: &str) -> Envelope {
    Envelope {
        mail_from: from.to_owned(),
        rcpt_to: vec![to.to_owned()],
        smtputf8: !from.is_ascii() || !to.is_ascii(),
        body_8bit: false,
    }
}
