//! A reply of the corpus on its way to the CA: DKIM-signed by the harness with a key of the
//! world (through mail-auth, `acmeproof_mocks::dkim`), then handed straight to the MX that the
//! world's DNS names for the recipient's domain. No Submission server or relay touches it, so
//! the server under test reads exactly the bytes the scenario built: the reference CA's own MX
//! for its address, or the users' MX for an external CA whose address is a world mailbox.
//!
//! ```text
//!  reply bytes ─► sign (From domain's key | another domain's | rsa-sha1 | 512-bit RSA; h=)
//!              ─► tamper (body or header changed after signing) ─► MX of To's domain
//! ```

use std::sync::Arc;

use acmeproof_mocks::dkim::{DkimAlgorithm, DkimKey};
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::mail::Envelope;
use acmeproof_mocks::relay::send::{self, RetryPolicy, Target};
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::World;

use super::model::{ReplyChanges, SendVia, Tamper};

/// The header fields a corpus signature covers by default: RFC 8823 §3.2 item 9's list.
const MUST_SIGN: &[&str] = acmeproof_protocol::smime::RESPONSE_DKIM_MUST_SIGN;

/// How a reply is signed before it leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// No DKIM-Signature at all.
    None,
    /// The world's key of this domain (the From's, or another one).
    Domain(String),
    /// A key made for the moment under `domain` and published in the world's DNS with its
    /// own selector: `rsa-sha1` (RFC 8301 §3.1) or a 512-bit RSA key (RFC 8301 §3.2).
    Hostile {
        /// The `d=` domain.
        domain: String,
        /// `rsa-sha1` or `rsa-512`.
        kind: String,
    },
}

/// Which signer `changes` ask for, the reply being from `from`.
pub fn signer(changes: &ReplyChanges, from: &str) -> Result<Signer, String> {
    let from_domain = acmeproof_protocol::address::domain_of(from)
        .map(str::to_owned)
        .ok_or_else(|| format!("no domain in {from:?}"))?;
    let signer = match changes.send.unwrap_or(SendVia::Submission) {
        SendVia::Unsigned => Signer::None,
        SendVia::Direct | SendVia::SenderDomain => Signer::Domain(from_domain),
        // A key of the world that is not the sender's domain.
        SendVia::OtherDomain => {
            let other = ["παράδειγμα.δοκιμή", "example.test"]
                .into_iter()
                .find(|d| *d != from_domain)
                .unwrap_or("example.test");
            Signer::Domain(other.to_owned())
        }
        SendVia::Submission => {
            return Err("change.send = \"submission\": the MSA signs, not the harness".into());
        }
    };
    Ok(match (changes.dkim_key, signer) {
        (None, signer) => signer,
        (Some(kind), Signer::Domain(domain)) => Signer::Hostile {
            domain,
            kind: kind.as_str().to_owned(),
        },
        (Some(kind), _) => {
            return Err(format!(
                "change.dkim_key = {kind:?} needs a send that signs with a domain's key \
                 (direct, other-domain, sender-domain)"
            ));
        }
    })
}

/// Signs `reply` as `signer` says, covering `changes.dkim_signed` (default: RFC 8823's list).
pub async fn sign(
    world: &World,
    seed: Seed,
    signer: &Signer,
    changes: &ReplyChanges,
    reply: &[u8],
) -> Result<Vec<u8>, String> {
    let names: Vec<&str> = match &changes.dkim_signed {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => MUST_SIGN.to_vec(),
    };
    let key: Arc<DkimKey> = match signer {
        Signer::None => return Ok(reply.to_vec()),
        Signer::Domain(domain) => world
            .mail
            .as_ref()
            .ok_or("the world has no mail plane")?
            .keys
            .get(domain)
            .ok_or_else(|| format!("the world holds no DKIM key of {domain}"))?,
        Signer::Hostile { domain, kind } => {
            let (algorithm, bits, selector) = match kind.as_str() {
                "rsa-sha1" => (DkimAlgorithm::RsaSha1, 2048, "corpus-sha1"),
                _ => (DkimAlgorithm::RsaSha256, 512, "corpus-rsa512"),
            };
            let key = DkimKey::generate_sized(
                domain,
                selector,
                algorithm,
                bits,
                &seed.stream("corpus.dkim"),
            )
            .map_err(|e| e.to_string())?;
            key.publish(&world.dns).await.map_err(|e| e.to_string())?;
            Arc::new(key)
        }
    };
    key.sign(reply, &names).map_err(|e| e.to_string())
}

/// `signed` changed after signing, as `changes.tamper` says: `body` (a line added to the
/// body, so the body hash no longer matches, RFC 6376 §3.7) or `header` (the signed Date
/// rewritten, so the header hash no longer matches).
pub fn tamper(signed: Vec<u8>, changes: &ReplyChanges) -> Result<Vec<u8>, String> {
    let Some(how) = changes.tamper else {
        return Ok(signed);
    };
    let text = String::from_utf8(signed).map_err(|_| "the reply is not UTF-8".to_owned())?;
    match how {
        Tamper::Body => Ok(format!("{text}Sent from my phone\r\n").into_bytes()),
        Tamper::Header => {
            let (head, body) = text.split_once("\r\n\r\n").ok_or("the reply has no body")?;
            let head: Vec<String> = head
                .split("\r\n")
                .map(|line| {
                    if line.to_ascii_lowercase().starts_with("date:") {
                        "Date: Thu, 01 Jan 2026 00:00:00 +0000".to_owned()
                    } else {
                        line.to_owned()
                    }
                })
                .collect();
            Ok(format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes())
        }
    }
}

/// Hands `data` to the MX of the first recipient's domain, as the world's DNS names it (RFC
/// 5321 §5.1), over SMTP.
pub async fn to_mx(world: &World, envelope: &Envelope, data: &[u8]) -> Result<(), String> {
    let mail = world.mail.as_ref().ok_or("the world has no mail plane")?;
    let to = envelope.rcpt_to.first().ok_or("no recipient")?;
    let domain = acmeproof_protocol::address::domain_of(to)
        .map(str::to_owned)
        .ok_or_else(|| format!("no domain in {to:?}"))?;
    let resolver = WorldResolver::new(world.dns.addr()).map_err(|e| e.to_string())?;
    let replies = send::send(
        &mail.routes,
        &resolver,
        &Target::Mx(domain.clone()),
        "corpus.acmeproof.test",
        envelope,
        data,
        RetryPolicy::default().on(&world.clock),
    )
    .await
    .map_err(|e| format!("the MX of {domain}: {e}"))?;
    match replies.iter().find(|r| !r.is_positive()) {
        Some(refused) => Err(format!("the MX of {domain} refused the reply: {refused}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = "DKIM-Signature: v=1\r\nDate: Mon, 1 Dec 2026 10:00:00 +0000\r\nSubject: Re: ACME: x\r\n\r\nbody\r\n";

    #[test]
    fn tampering_changes_the_body_or_the_signed_date_only() {
        let c = |t: &str| ReplyChanges {
            tamper: Some(t.parse().unwrap()),
            ..ReplyChanges::default()
        };
        let body = String::from_utf8(tamper(SIGNED.into(), &c("body")).unwrap()).unwrap();
        assert!(
            body.starts_with(SIGNED) && body.len() > SIGNED.len(),
            "{body}"
        );
        let head = String::from_utf8(tamper(SIGNED.into(), &c("header")).unwrap()).unwrap();
        assert!(head.contains("\r\nDate: Thu, 01 Jan 2026"), "{head}");
        assert!(
            head.ends_with("Subject: Re: ACME: x\r\n\r\nbody\r\n"),
            "{head}"
        );
        assert!("both".parse::<Tamper>().is_err());
        let none = tamper(SIGNED.into(), &ReplyChanges::default()).unwrap();
        assert_eq!(none, SIGNED.as_bytes());
    }

    #[test]
    fn the_signer_follows_send_and_dkim_key() {
        let c = |send: &str, key: Option<&str>| ReplyChanges {
            send: Some(send.parse().unwrap()),
            dkim_key: key.map(|k| k.parse().unwrap()),
            ..ReplyChanges::default()
        };
        let alice = "alice@example.test";
        assert_eq!(signer(&c("unsigned", None), alice), Ok(Signer::None));
        assert_eq!(
            signer(&c("direct", None), alice),
            Ok(Signer::Domain("example.test".into()))
        );
        assert_eq!(
            signer(&c("other-domain", None), alice),
            Ok(Signer::Domain("παράδειγμα.δοκιμή".into()))
        );
        assert_eq!(
            signer(&c("direct", Some("rsa-sha1")), alice),
            Ok(Signer::Hostile {
                domain: "example.test".into(),
                kind: "rsa-sha1".into()
            })
        );
        assert!(signer(&c("unsigned", Some("rsa-512")), alice).is_err());
        assert!(signer(&c("submission", None), alice).is_err());
        // An unknown key kind is a load error now: the file does not parse.
        assert!("dsa".parse::<super::super::model::DkimKey>().is_err());
    }
}
