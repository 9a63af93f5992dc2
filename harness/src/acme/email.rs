//! RFC 8823 from the client side, over the world's mail plane, without IMAP: the challenge is
//! read from the mail store, checked with the protocol rules (DKIM included), answered through
//! Submission. The reference MUA of the next issue reads the same mail over IMAP instead.
//!
//! The exchange is split into steps so tests can tamper with any of them.

use std::time::Duration;

use acmeproof_mocks::dkim::{DkimVerifier, passes_for_domain};
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::smtp::client::{ClientTls, SmtpClient};
use acmeproof_mocks::world::World;
use acmeproof_protocol::smime::{ChallengeContext, ChallengeInfo, ResponseEmail, check_challenge};
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

/// Orders `address`, fetches the authorization (which makes the CA send the challenge mail),
/// and waits for the mail in the address's INBOX.
pub async fn start(
    client: &AcmeClient,
    world: &World,
    address: &str,
    timeout: Duration,
) -> Result<Exchange, FlowError> {
    let mail = world
        .mail
        .as_ref()
        .ok_or_else(|| unexpected("the world has no mail plane"))?;
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
    let from = challenge["from"].as_str().unwrap_or_default().to_owned();
    let stored = mail
        .store
        .wait_for_message(
            address,
            |m| String::from_utf8_lossy(&m.raw).contains(&from),
            timeout,
        )
        .await
        .ok_or_else(|| {
            unexpected(format!(
                "no challenge mail reached {address} in {timeout:?}"
            ))
        })?;
    let raw = stored.raw.to_vec();
    let report = check_challenge(
        &raw,
        &ChallengeContext {
            expected_from: Some(from.clone()),
            expected_to: Some(address.to_owned()),
            case: Default::default(),
        },
    )
    .map_err(|e| unexpected(format!("the challenge mail does not parse: {e}")))?;
    if report.ignored {
        return Err(unexpected(format!(
            "an RFC 8823 MUA ignores this challenge: {:?}",
            report.findings
        )));
    }
    let resolver =
        WorldResolver::new(world.dns.addr()).map_err(|e| FlowError::Dns(e.to_string()))?;
    let outcomes = DkimVerifier::new(&resolver).verify(&raw).await;
    let from_domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    Ok(Exchange {
        order_url,
        order,
        authz_url,
        challenge,
        challenge_mail: raw,
        info: report.info,
        challenge_dkim_pass: passes_for_domain(&outcomes, from_domain),
    })
}

/// The response mail for `exchange`, as `address` with `join`, unsigned (the MSA signs).
pub fn response(
    client: &AcmeClient,
    exchange: &Exchange,
    address: &str,
    join: Join,
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
        join,
    )
    .map_err(|e| unexpected(e.to_string()))?;
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("example.test");
    let message_id = format!("reply-{}@{domain}", &digest.digest[..12]);
    let email = ResponseEmail::reply_to(&exchange.info, address, digest.digest, message_id, now)
        .ok_or_else(|| unexpected("the challenge has nothing to reply to"))?;
    Ok(email.build())
}

/// Sends `data` from `address` through the world's Submission server (STARTTLS, AUTH PLAIN).
pub async fn submit(
    world: &World,
    user: &str,
    password: &str,
    envelope: &Envelope,
    data: &[u8],
) -> Result<(), FlowError> {
    let mail = world
        .mail
        .as_ref()
        .ok_or_else(|| unexpected("the world has no mail plane"))?;
    let name = rustls::pki_types::ServerName::try_from("localhost")
        .map_err(|e| unexpected(e.to_string()))?;
    let tls = ClientTls::StartTls(world.pki.client_config(), name);
    let smtp = |e: &dyn std::fmt::Display| unexpected(format!("Submission: {e}"));
    let mut client = SmtpClient::connect(mail.submission.addr(), "client.example.test", tls, false)
        .await
        .map_err(|e| smtp(&e))?;
    client
        .auth_plain(user, password)
        .await
        .map_err(|e| smtp(&e))?;
    let result = client.send(envelope, data).await;
    let _ = client.quit().await;
    result.map(|_| ()).map_err(|e| smtp(&e))
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

/// The S/MIME key usage a CSR asks for (RFC 8823 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrKeyUsage {
    /// No key usage extension: signing and encryption.
    Absent,
    /// digitalSignature only.
    Signing,
    /// keyEncipherment only.
    Encryption,
}

/// A CSR for an S/MIME certificate of `address` (rfc822Name, or SmtpUTF8Mailbox for a
/// non-ASCII local part, RFC 8398), with its key in PKCS#8 PEM.
pub fn smime_csr(address: &str, usage: CsrKeyUsage) -> Result<(Vec<u8>, String), FlowError> {
    let csr_error = |e: rcgen::Error| FlowError::Csr(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(csr_error)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let local = address.rsplit_once('@').map(|(l, _)| l).unwrap_or(address);
    params.subject_alt_names = vec![if local.is_ascii() {
        let addr = acmeproof_protocol::address::parse_address(address)
            .and_then(|a| a.with_a_label_domain())
            .map(|a| format!("{}@{}", a.local(), a.domain()))
            .unwrap_or_else(|_| address.to_owned());
        rcgen::SanType::Rfc822Name(addr.try_into().map_err(csr_error)?)
    } else {
        rcgen::SanType::OtherName((
            vec![1, 3, 6, 1, 5, 5, 7, 8, 9],
            rcgen::OtherNameValue::Utf8String(address.to_owned()),
        ))
    }];
    params.key_usages = match usage {
        CsrKeyUsage::Absent => Vec::new(),
        CsrKeyUsage::Signing => vec![rcgen::KeyUsagePurpose::DigitalSignature],
        CsrKeyUsage::Encryption => vec![rcgen::KeyUsagePurpose::KeyEncipherment],
    };
    let csr = params.serialize_request(&key).map_err(csr_error)?;
    Ok((csr.der().to_vec(), key.serialize_pem()))
}

/// The whole RFC 8823 issuance for `address`: order, challenge mail from the store, reply
/// through Submission with `join`, challenge POST, finalize with `usage`, download.
pub async fn issue_email(
    client: &AcmeClient,
    world: &World,
    address: &str,
    password: &str,
    join: Join,
    usage: CsrKeyUsage,
    timeout: Duration,
) -> Result<(Exchange, super::flow::Issued), FlowError> {
    let exchange = start(client, world, address, timeout).await?;
    if !exchange.challenge_dkim_pass {
        return Err(unexpected(
            "the challenge mail carries no verifying DKIM signature of its From domain",
        ));
    }
    let now = world.clock.now().unix_timestamp();
    let reply = response(client, &exchange, address, join, now)?;
    let to = exchange.info.reply_address().unwrap_or_default().to_owned();
    submit(world, address, password, &envelope(address, &to), &reply).await?;
    let authz = answer_and_wait(client, &exchange, timeout).await?;
    if authz["status"] != "valid" {
        return Err(unexpected(format!("the authorization ended {authz}")));
    }
    let order = client
        .poll(&exchange.order_url, &["pending"], timeout)
        .await?;
    let (csr, key_pem) = smime_csr(address, usage)?;
    let finalize = order["finalize"]
        .as_str()
        .ok_or_else(|| unexpected(format!("order without finalize: {order}")))?;
    let order = client.finalize(finalize, &csr).await?;
    let cert = order["certificate"]
        .as_str()
        .ok_or_else(|| unexpected(format!("finalized order without certificate: {order}")))?;
    let chain_pem = client.download(cert).await?;
    Ok((
        exchange.clone(),
        super::flow::Issued {
            order_url: exchange.order_url,
            chain_pem,
            key_pem,
        },
    ))
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
