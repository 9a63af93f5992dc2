//! Validation of http-01 and dns-01 (RFC 8555 §8.3, §8.4; tls-alpn-01 is in `validate_alpn`),
//! then CAA (RFC 8659, RFC 9495).
//!
//! Every lookup goes to the world's DNS through [`crate::dns::WorldResolver`], never to the
//! system resolver, and http-01 connects to the address the world's DNS gives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::model::{ChallengeKind, ChallengeStatus};
use super::pki::{Identifier, IdentifierKind};
use super::problem::{Problem, ProblemType};
use super::server::CaShared;
use crate::dns::WorldResolver;
use crate::protocol::keyauth;

/// The most octets of an http-01 answer that are read.
pub const MAX_HTTP01_BODY: usize = 8 * 1024;
/// How long one http-01 fetch may take.
pub const HTTP01_TIMEOUT: Duration = Duration::from_secs(5);

/// What one validation needs, copied out of the store.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) kind: ChallengeKind,
    pub(crate) token: String,
    pub(crate) identifier: Identifier,
    pub(crate) wildcard: bool,
    pub(crate) thumbprint: String,
    /// draft-ietf-acme-email-tls: the service and port being proved.
    pub(crate) mail: Option<super::email_tls::MailTarget>,
    /// The challenge id.
    pub(crate) challenge: String,
}

/// Validates challenge `id` (already `processing`) and records the outcome.
pub async fn run(ca: Arc<CaShared>, id: String) {
    let knobs = ca.knobs();
    if knobs.validation_delay_ms > 0 {
        // The knob models a CA that validates late; this is the CA's behaviour, not a wait for
        // an event, so it passes in the world's time.
        ca.clock
            .sleep(Duration::from_millis(knobs.validation_delay_ms))
            .await;
    }
    let outcome = match job(&ca, &id) {
        Some(job) => {
            validate(
                &ca,
                &job,
                knobs.validation_attempts,
                knobs.validation_retry_delay_ms,
            )
            .await
        }
        None => return,
    };
    let now = ca.clock.now();
    let mut store = ca.store();
    store.finish_validation(&id, outcome, now, &knobs);
    // Sent under the store lock: whoever reads the outcome can already receive this event.
    let _ = ca.validations.send(id);
}

fn job(ca: &CaShared, id: &str) -> Option<Job> {
    let store = ca.store();
    let challenge = store.challenges.get(id)?;
    if challenge.status != ChallengeStatus::Processing {
        return None;
    }
    let authz = store.authzs.get(&challenge.authz)?;
    let account = store.accounts.get(&authz.account)?;
    Some(Job {
        kind: challenge.kind,
        token: challenge.token.clone(),
        identifier: authz.identifier.clone(),
        wildcard: authz.wildcard,
        thumbprint: account.thumbprint.clone(),
        mail: challenge.mail,
        challenge: id.to_owned(),
    })
}

async fn validate(ca: &CaShared, job: &Job, attempts: u32, retry_ms: u64) -> Result<(), Problem> {
    if ca.knobs().always_valid {
        return Ok(());
    }
    let mut last = Err(Problem::internal("no validation attempt was made"));
    for attempt in 1..=attempts.max(1) {
        last = attempt_once(ca, job).await;
        if last.is_ok() {
            break;
        }
        if attempt < attempts {
            tracing::debug!(attempt, token = %job.token, "validation failed, retrying");
            ca.clock.sleep(Duration::from_millis(retry_ms)).await;
        }
    }
    last?;
    check_caa(
        &ca.resolver,
        &ca.config.caa_identities,
        &job.identifier,
        job.wildcard,
    )
    .await
}

async fn attempt_once(ca: &CaShared, job: &Job) -> Result<(), Problem> {
    match job.kind {
        ChallengeKind::Dns01 => {
            dns01(&ca.resolver, job, ca.knobs().key_authorization_without_dot).await
        }
        ChallengeKind::Http01 => http01(ca, job).await,
        ChallengeKind::TlsAlpn01 => super::validate_alpn::tls_alpn01(ca, job).await,
        ChallengeKind::EmailReply00 => Err(Problem::internal(
            "email-reply-00 is validated by the reply mail, not here",
        )),
        ChallengeKind::DnsEmail00
        | ChallengeKind::CapabilitySmtp00
        | ChallengeKind::CapabilityImap00
        | ChallengeKind::CapabilityPop00 => super::validate_tls::validate(ca, job).await,
    }
}

/// RFC 8555 §8.4 (ACME-29): a TXT at `_acme-challenge.<domain>` equal to the digest.
/// Knob `key_authorization_without_dot` breaks RFC 8555 §8.1 on purpose (ACME-27): the
/// expected digest is of `token || thumbprint`, without the `.`.
async fn dns01(resolver: &WorldResolver, job: &Job, without_dot: bool) -> Result<(), Problem> {
    let name = format!("_acme-challenge.{}", job.identifier.value);
    let expected = if without_dot {
        keyauth::digest(&format!("{}{}", job.token, job.thumbprint))
    } else {
        keyauth::dns01_txt_value(&job.token, &job.thumbprint)
    };
    let values = resolver.txt(&name).await.map_err(|e| {
        Problem::new(
            ProblemType::Dns,
            format!("DNS problem looking up TXT for {name}: {e}"),
        )
    })?;
    if values.iter().any(|v| v == &expected) {
        return Ok(());
    }
    Err(Problem::new(
        ProblemType::IncorrectResponse,
        format!(
            "no TXT record at {name} holds the expected digest {expected}; found {} record(s): {:?}",
            values.len(),
            values
        ),
    )
    .with_status(403))
}

/// The first A/AAAA address of `domain` in the world's DNS; a lookup failure or no address is a
/// `dns` problem (RFC 8555 §8.3, draft-ietf-acme-email-tls-05 §3.4: the CA connects to it).
pub(super) async fn first_address(
    ca: &CaShared,
    domain: &str,
) -> Result<std::net::IpAddr, Problem> {
    let ips = ca.resolver.ips(domain).await.map_err(|e| {
        Problem::new(
            ProblemType::Dns,
            format!("DNS problem looking up A/AAAA for {domain}: {e}"),
        )
    })?;
    ips.first().copied().ok_or_else(|| {
        Problem::new(
            ProblemType::Dns,
            format!("no A or AAAA record for {domain}"),
        )
    })
}

/// RFC 8555 §8.3: GET `http://<domain>/.well-known/acme-challenge/<token>` must answer the key
/// authorization (trailing whitespace ignored). The port is a knob (80 by default).
async fn http01(ca: &CaShared, job: &Job) -> Result<(), Problem> {
    let domain = &job.identifier.value;
    let ip = first_address(ca, domain).await?;
    let port = ca.knobs().http01_port;
    let url = format!(
        "http://{domain}:{port}/.well-known/acme-challenge/{}",
        job.token
    );
    // RFC 8555 §8.3: the server SHOULD follow redirects. Only redirects to the same name are
    // followed: its address comes from the world's DNS, and any other name would need a
    // resolver outside the world.
    let same_host = domain.clone();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 {
            attempt.error("more than 10 redirects")
        } else if attempt.url().host_str() == Some(same_host.as_str()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(HTTP01_TIMEOUT)
        .resolve_to_addrs(domain, &[SocketAddr::new(ip, port)])
        .redirect(policy)
        // A redirect may lead to https: the world's root, ring named here, so no process-wide
        // crypto provider is needed (an embedding test may use another one).
        .tls_backend_preconfigured(ca.pki.client_config().as_ref().clone())
        .build()
        .map_err(|e| Problem::internal(format!("http-01 client: {e}")))?;
    let connection = |e: reqwest::Error| {
        Problem::new(
            ProblemType::Connection,
            format!("fetching {url} from {ip}: {e}"),
        )
    };
    let mut response = client.get(&url).send().await.map_err(connection)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(connection)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_HTTP01_BODY {
            return Err(Problem::new(
                ProblemType::IncorrectResponse,
                format!("{url} answered more than {MAX_HTTP01_BODY} octets"),
            )
            .with_status(403));
        }
    }
    if !status.is_success() {
        return Err(Problem::new(
            ProblemType::IncorrectResponse,
            format!("{url} answered HTTP {status}"),
        )
        .with_status(403));
    }
    let expected = keyauth::key_authorization(&job.token, &job.thumbprint);
    let text = String::from_utf8_lossy(&body);
    if text.trim_end() == expected {
        return Ok(());
    }
    Err(Problem::new(
        ProblemType::IncorrectResponse,
        format!(
            "{url} answered {:?}, expected the key authorization {expected:?}",
            text.chars().take(200).collect::<String>()
        ),
    )
    .with_status(403))
}

/// RFC 8659 §3–§4 (and RFC 9495 for email): may this CA issue for `identifier`?
pub async fn check_caa(
    resolver: &WorldResolver,
    identities: &[String],
    identifier: &Identifier,
    wildcard: bool,
) -> Result<(), Problem> {
    let domain = match identifier.kind {
        IdentifierKind::Dns => identifier.value.clone(),
        IdentifierKind::Email => match crate::protocol::address::domain_of(&identifier.value) {
            Some(d) => crate::protocol::address::domain_key(d),
            None => return Err(Problem::malformed("an email identifier without a domain")),
        },
        // RFC 8659 §3 defines CAA for domain names only.
        IdentifierKind::Ip => return Ok(()),
    };
    let records = resolver.caa(&domain).await.map_err(|e| {
        // RFC 8659 §3: a failed lookup is not permission.
        Problem::new(
            ProblemType::Caa,
            format!("CAA lookup for {domain} failed: {e}"),
        )
        .with_status(403)
    })?;
    let verdict = caa_permits(
        &records
            .iter()
            .map(|r| (r.flags, r.tag.as_str(), r.value.as_str()))
            .collect::<Vec<_>>(),
        identities,
        identifier.kind,
        wildcard,
    );
    verdict.map_err(|why| {
        Problem::new(ProblemType::Caa, format!("CAA at {domain}: {why}")).with_status(403)
    })
}

/// The CAA decision on the relevant RRset, as `(flags, tag, value)` triples.
pub fn caa_permits(
    records: &[(u8, &str, &str)],
    identities: &[String],
    kind: IdentifierKind,
    wildcard: bool,
) -> Result<(), String> {
    const KNOWN: &[&str] = &["issue", "issuewild", "iodef", "issuemail", "contactemail"];
    // RFC 8659 §4.1: an unknown property with the critical flag forbids issuance.
    if let Some((_, tag, _)) = records.iter().find(|(flags, tag, _)| {
        flags & 0x80 != 0 && !KNOWN.contains(&tag.to_ascii_lowercase().as_str())
    }) {
        return Err(format!("unknown critical property {tag:?}"));
    }
    let with_tag = |wanted: &str| -> Vec<&str> {
        records
            .iter()
            .filter(|(_, tag, _)| tag.eq_ignore_ascii_case(wanted))
            .map(|(_, _, value)| *value)
            .collect()
    };
    let relevant = match kind {
        // RFC 9495 §3: only issuemail governs S/MIME; issue/issuewild do not.
        IdentifierKind::Email => with_tag("issuemail"),
        // RFC 8659 §4.3: issuewild, when present, replaces issue for wildcard names.
        IdentifierKind::Dns if wildcard && !with_tag("issuewild").is_empty() => {
            with_tag("issuewild")
        }
        IdentifierKind::Dns => with_tag("issue"),
        IdentifierKind::Ip => Vec::new(),
    };
    if relevant.is_empty() {
        return Ok(());
    }
    let named = |value: &str| {
        let issuer = value.split(';').next().unwrap_or("").trim();
        identities.iter().any(|id| id.eq_ignore_ascii_case(issuer))
    };
    if relevant.iter().any(|v| named(v)) {
        Ok(())
    } else {
        Err(format!(
            "no property names this CA ({}); found {:?}",
            identities.join(", "),
            relevant
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["acmeproof.test".into()]
    }

    #[test]
    fn caa_decisions() {
        let dns = IdentifierKind::Dns;
        let email = IdentifierKind::Email;
        assert!(caa_permits(&[], &ids(), dns, false).is_ok());
        assert!(caa_permits(&[(0, "issue", "acmeproof.test")], &ids(), dns, false).is_ok());
        assert!(
            caa_permits(
                &[(0, "issue", "acmeproof.test; account=1")],
                &ids(),
                dns,
                false
            )
            .is_ok()
        );
        assert!(caa_permits(&[(0, "issue", "other.ca")], &ids(), dns, false).is_err());
        assert!(caa_permits(&[(0, "issue", ";")], &ids(), dns, false).is_err());
        assert!(caa_permits(&[(0, "iodef", "mailto:x@y")], &ids(), dns, false).is_ok());
        // issuewild replaces issue for wildcards only.
        let both = [(0, "issue", "acmeproof.test"), (0, "issuewild", ";")];
        assert!(caa_permits(&both, &ids(), dns, false).is_ok());
        assert!(caa_permits(&both, &ids(), dns, true).is_err());
        assert!(caa_permits(&[(0, "issue", "acmeproof.test")], &ids(), dns, true).is_ok());
        // RFC 9495: issuemail governs email, issue does not.
        assert!(caa_permits(&[(0, "issue", ";")], &ids(), email, false).is_ok());
        assert!(caa_permits(&[(0, "issuemail", "other.ca")], &ids(), email, false).is_err());
        assert!(caa_permits(&[(0, "issuemail", "acmeproof.test")], &ids(), email, false).is_ok());
        // Critical unknown property.
        assert!(caa_permits(&[(128, "tbs", "x")], &ids(), dns, false).is_err());
        assert!(caa_permits(&[(0, "tbs", "x")], &ids(), dns, false).is_ok());
    }
}
