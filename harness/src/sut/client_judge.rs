//! Judging an external ACME client by what it did on the wire: the requests the CA saw (their
//! JWS, as the CA's history keeps them), the CSRs it finalized with, and the replies that reached
//! the CA's MX, whatever way they came. The client's own account of itself (its exit code, its
//! output) only says whether it thinks it succeeded.

use acmeproof_mocks::ca::CaShared;
use acmeproof_mocks::ca::email::ReplyExpectation;
use acmeproof_mocks::ca::email_tls;
use acmeproof_mocks::ca::model::{ChallengeKind, OrderStatus};
use acmeproof_mocks::ca::server::RequestRecord;
use acmeproof_protocol::pki::server_profile;
use acmeproof_protocol::pki::{
    Identifier, SmimeUsage, identifiers_of, parse_csr, same_identifier_set,
};
use acmeproof_protocol::requirements as req;
use acmeproof_protocol::smime::{ResponseContext, check_response};
use acmeproof_protocol::{Finding, Level};
use base64::Engine as _;
use serde_json::Value;

/// A finding of this judge.
fn finding(
    id: &'static str,
    level: Level,
    expected: impl Into<String>,
    observed: impl Into<String>,
) -> Finding {
    Finding {
        req: id,
        level,
        expected: expected.into(),
        observed: observed.into(),
    }
}

/// The rule a refused request broke, as the CA decided it when it refused (the history keeps
/// the id). A refusal the CA did not tie to a rule is no finding: a `badNonce` is the CA's right
/// (RFC 8555 §6.5; the client's duty is the retry, ACME-5, which the next request shows), and
/// nothing else is guessed from a problem type.
fn rule_broken(record: &RequestRecord) -> Option<(&'static str, Level)> {
    let rule = req::lookup(record.violates.as_deref()?)?;
    // A descriptive rule the CA enforces is what the client must meet to be served.
    let level = match rule.level {
        Level::Info => Level::Must,
        level => level,
    };
    Some((rule.id, level))
}

/// The key a request was signed with, as its protected header names it (`kid`, else `jwk`).
fn signer(record: &RequestRecord) -> Option<&Value> {
    let protected = record.protected.as_ref()?;
    protected.get("kid").or_else(|| protected.get("jwk"))
}

/// RFC 8555 §6.5 (ACME-5): after a badNonce answer, "the client SHOULD retry the request"
/// and "MUST use the new nonce" from that answer's Replay-Nonce. The retry is the same
/// signer's next POST to the same URL path; one that carries another nonce is the finding. No
/// retry at all is the SHOULD, not judged here: the client may have given up for good reason.
fn judge_nonce_retries(history: &[RequestRecord]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (index, refused) in history.iter().enumerate() {
        let (Some("badNonce"), Some(fresh), Some(who)) = (
            refused.problem.as_deref(),
            refused.replay_nonce.as_deref(),
            signer(refused),
        ) else {
            continue;
        };
        let retry = history[index + 1..]
            .iter()
            .find(|r| r.method == "POST" && r.path == refused.path && signer(r) == Some(who));
        let Some(retry) = retry else { continue };
        let sent = retry
            .protected
            .as_ref()
            .and_then(|p| p.get("nonce"))
            .and_then(Value::as_str);
        if sent != Some(fresh) {
            out.push(finding(
                req::ACME_5,
                Level::Must,
                format!(
                    "the retry of {} with the badNonce answer's nonce {fresh}",
                    refused.path
                ),
                format!("it carried {}", sent.unwrap_or("no nonce")),
            ));
        }
    }
    out
}

/// What the CA's request history says of the client: each refused request under the rule the
/// CA named (ACME-6…20, SMIME-1…), a missing User-Agent (ACME-34), a challenge POST whose
/// payload is not `{}` (ACME-24).
pub fn judge_requests(history: &[RequestRecord]) -> Vec<Finding> {
    let mut out = judge_nonce_retries(history);
    let mut without_agent = 0;
    for r in history {
        if r.user_agent.as_deref().unwrap_or_default().is_empty() {
            without_agent += 1;
        }
        if let Some((rule, level)) = rule_broken(r) {
            out.push(finding(
                rule,
                level,
                "requests the CA accepts",
                format!(
                    "{} {} was answered {} {}",
                    r.method,
                    r.path,
                    r.status,
                    r.problem.as_deref().unwrap_or_default()
                ),
            ));
        }
        let is_challenge = r.path.contains("/chall/") || r.path.contains("/challenge/");
        if is_challenge
            && r.method == "POST"
            && let Some(payload) = &r.payload
            && *payload != serde_json::json!({})
            && *payload != serde_json::json!("")
        {
            out.push(finding(
                req::ACME_24,
                Level::Must,
                "the challenge POSTed with the payload {}",
                format!("{} with {payload}", r.path),
            ));
        }
    }
    if without_agent > 0 {
        out.push(finding(
            req::ACME_34,
            Level::Must,
            "a User-Agent on every request (RFC 8555 §6.1)",
            format!("{without_agent} of {} requests had none", history.len()),
        ));
    }
    out
}

/// The CSRs the client finalized with: they name exactly the address (SMIME-13/14) and ask
/// for a key usage RFC 8823 §3.3 allows (SMIME-55/56).
pub fn judge_csrs(history: &[RequestRecord], address: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in history {
        let Some(csr) = r.payload.as_ref().and_then(|p| p["csr"].as_str()) else {
            continue;
        };
        let Ok(der) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(csr) else {
            continue; // the CA refused it as malformed: judged with the requests
        };
        let info = match parse_csr(&der) {
            Ok(info) => info,
            Err(e) => {
                out.push(finding(
                    req::SMIME_14,
                    Level::Must,
                    "a CSR that parses",
                    e.to_string(),
                ));
                continue;
            }
        };
        let wanted = vec![Identifier::email(address)];
        if let Err(why) = same_identifier_set(&wanted, &identifiers_of(&info)) {
            out.push(finding(
                req::SMIME_13,
                Level::Must,
                format!("a CSR for exactly {address}"),
                why,
            ));
        }
        if let Err(e) = SmimeUsage::from_csr_key_usage(info.key_usage) {
            out.push(finding(
                e.key_usage_rule().unwrap_or(req::SMIME_55),
                Level::Must,
                "keyUsage for signing, encryption or both (RFC 8823 §3.3)",
                e.to_string(),
            ));
        }
    }
    out
}

/// The RFC 8823 exchanges for `address`: the replies that reached the CA's MX, checked like the
/// CA checks them, plus the MUA's duties the CA cannot see one by one: one reply per challenge
/// (SMIME-11), none to a mail that is not a challenge (SMIME-35), a DKIM signature that
/// verifies (SMIME-51).
pub async fn judge_replies(ca: &CaShared, address: &str) -> Vec<Finding> {
    let (exchanges, known_tokens) = {
        let store = ca.store();
        let mut exchanges: Vec<ReplyExpectation> = store
            .challenges
            .values()
            .filter(|c| c.kind == ChallengeKind::EmailReply00)
            .filter_map(|c| ReplyExpectation::of(&store, &c.id))
            .filter(|e| e.identifier.value == address && e.sent_at.is_some())
            .collect();
        // The store is a hash map: a fixed order keeps the findings' order reproducible.
        exchanges.sort_by(|a, b| a.message_id.cmp(&b.message_id));
        let known: Vec<String> = store.email_by_token_part1.keys().cloned().collect();
        (exchanges, known)
    };
    let from_user = |raw: &[u8]| {
        check_response(raw, &ResponseContext::default())
            .ok()
            .filter(|r| r.from.as_deref() == Some(address) || r.token_part1.is_some())
    };
    let inbox = ca.inbox();
    let mut out = Vec::new();
    for raw in &inbox {
        let Some(first_look) = from_user(raw) else {
            continue;
        };
        if let Some(tp1) = &first_look.token_part1
            && !known_tokens.contains(tp1)
        {
            out.push(finding(
                req::SMIME_35,
                Level::Must,
                "no reply to a mail that is not a valid challenge",
                format!("a reply for token-part1 {tp1}, which the CA never sent"),
            ));
        }
    }
    for ex in &exchanges {
        // One reply a relay delivered twice is still one reply: count Message-IDs.
        let mut replies: Vec<&[u8]> = Vec::new();
        let mut ids: Vec<Option<String>> = Vec::new();
        for raw in inbox.iter().map(|r| &r[..]) {
            if from_user(raw).and_then(|r| r.token_part1).as_deref()
                != Some(ex.token_part1.as_str())
            {
                continue;
            }
            let id = message_id(raw);
            if id.is_none() || !ids.contains(&id) {
                ids.push(id);
                replies.push(raw);
            }
        }
        let Some(first) = replies.first() else {
            out.push(finding(
                req::SMIME_37,
                Level::Must,
                "a reply reaching the CA's MX",
                format!("none for the challenge mail <{}>", ex.message_id),
            ));
            continue;
        };
        if replies.len() > 1 {
            out.push(finding(
                req::SMIME_11,
                Level::Must,
                "one reply per challenge",
                format!(
                    "{} replies to the challenge mail <{}>",
                    replies.len(),
                    ex.message_id
                ),
            ));
        }
        let context = ex.verified_context(ca, first).await;
        let report = match check_response(first, &context) {
            Ok(report) => report,
            Err(e) => {
                out.push(finding(
                    req::SMIME_37,
                    Level::Must,
                    "a reply that parses",
                    e.to_string(),
                ));
                continue;
            }
        };
        // Every §3.2 rule, DKIM's included (one signature that verifies, with d= the From
        // domain, the required h= and an algorithm and key RFC 8301 allows).
        out.extend(report.findings.as_slice().iter().cloned());
    }
    out
}

/// A mail's Message-ID, as mail-parser reads it.
fn message_id(raw: &[u8]) -> Option<String> {
    mail_parser::MessageParser::default()
        .parse_headers(raw)
        .and_then(|m| m.message_id().map(str::to_owned))
}

/// The key usage the client's last finalize CSR asks for: `both`, `signing` or `encryption`
/// (RFC 8823 §3.3), or `None` without a readable CSR.
pub fn csr_usage(history: &[RequestRecord]) -> Option<&'static str> {
    history.iter().rev().find_map(|r| {
        let csr = r.payload.as_ref()?["csr"].as_str()?;
        let der = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(csr)
            .ok()?;
        let info = parse_csr(&der).ok()?;
        Some(match SmimeUsage::from_csr_key_usage(info.key_usage).ok()? {
            SmimeUsage::Both { .. } => "both",
            SmimeUsage::SigningOnly { .. } => "signing",
            SmimeUsage::EncryptionOnly => "encryption",
        })
    })
}

/// The top-level media type (`text/plain`, `multipart/alternative`) of the first reply from
/// `address` that reached the CA.
pub fn reply_media_type(ca: &CaShared, address: &str) -> Option<String> {
    ca.inbox().iter().find_map(|raw| {
        let msg = mail_parser::MessageParser::default().parse(raw)?;
        let from = msg.from()?.first()?.address()?.to_owned();
        if from != address {
            return None;
        }
        use mail_parser::MimeHeaders as _;
        let ct = msg.root_part().content_type()?;
        Some(format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase())
    })
}

/// Whether the client had POSTed the challenge for `address` when its first reply reached the
/// CA (`None`: no reply reached it).
pub fn posted_before_reply(ca: &CaShared, address: &str) -> Option<bool> {
    let store = ca.store();
    store.email.iter().find_map(|(id, state)| {
        let authz = store.authzs.get(&store.challenges.get(id)?.authz)?;
        (authz.identifier.value == address)
            .then_some(state.posted_before_reply)
            .flatten()
    })
}

/// Whether a mail server's transcript shows a login (IMAP LOGIN or AUTHENTICATE).
pub fn logged_in(transcript: &[acmeproof_mocks::imap::TranscriptLine]) -> bool {
    transcript.iter().any(|l| {
        l.direction == acmeproof_mocks::imap::Direction::ClientToServer
            && l.line.split_whitespace().nth(1).is_some_and(|verb| {
                verb.eq_ignore_ascii_case("LOGIN") || verb.eq_ignore_ascii_case("AUTHENTICATE")
            })
    })
}

/// Whether an order for exactly `address` is valid, with a certificate.
pub fn issued(ca: &CaShared, address: &str) -> bool {
    ca.store().orders.values().any(|o| {
        o.status == OrderStatus::Valid
            && o.certificate.is_some()
            && o.identifiers.iter().any(|i| i.value == address)
    })
}

/// What the CA knows of the exchanges for `address`, in one line: for the finding that says
/// no certificate came of them.
pub fn exchange_summary(ca: &CaShared, address: &str) -> String {
    let store = ca.store();
    let mut parts = Vec::new();
    for c in store.challenges.values() {
        let Some(authz) = store.authzs.get(&c.authz) else {
            continue;
        };
        if authz.identifier.value != address {
            continue;
        }
        let mut part = format!("challenge {:?} {:?}", c.kind, c.status);
        if let Some(state) = store.email.get(&c.id) {
            part.push_str(&format!(
                ", mail {}, POSTed {}, reply {}",
                if state.sent_at.is_some() {
                    "sent"
                } else {
                    "not sent"
                },
                state.posted,
                match &state.verdict {
                    None => "none yet".to_owned(),
                    Some(Ok(())) => "accepted".to_owned(),
                    Some(Err(why)) => format!("refused ({why})"),
                }
            ));
        }
        parts.push(part);
    }
    parts.sort();
    if parts.is_empty() {
        "the CA has no authorization for it".into()
    } else {
        parts.join("; ")
    }
}

/// draft-ietf-acme-email-tls §3 (TLS-1 MUST, TLS-2 SHOULD): the client names the service,
/// and should name the port, of what it proves for `domain`.
///
/// Every draft version's Figure 1 carries them in the challenge POST (-00…-04: its protected
/// header; -05: its payload), so a challenge POST to a dns-email-00 / capability-*-00 challenge
/// of a plain `dns` order must name them. An order that named them at newOrder (identifier
/// object or protected header) follows acmeproof's proposal: that satisfies TLS-1 with the CA
/// here, and is noted at [`Level::Info`] as not the draft's placement.
pub fn judge_service_fields(ca: &CaShared, domain: &str) -> Vec<Finding> {
    let history = ca.history();
    let store = ca.store();
    let mut out = Vec::new();
    let mut named_anywhere = false;
    for r in history
        .iter()
        .filter(|r| r.path.ends_with("/new-order") && r.method == "POST")
    {
        let Some(ids) = r.payload.as_ref().and_then(|p| p["identifiers"].as_array()) else {
            continue;
        };
        let header = r.protected.clone().unwrap_or_default();
        for id in ids.iter().filter(|i| i["value"] == domain) {
            let service = id
                .get("service")
                .or_else(|| id.get("services"))
                .or_else(|| header.get("service"));
            let Some(service) = service else { continue };
            named_anywhere = true;
            out.push(finding(
                req::TLS_1,
                Level::Info,
                "policy: service/port in the challenge POST, as every draft version's Figure 1 has them",
                format!("newOrder for {domain} names {service} (acmeproof's newOrder proposal)"),
            ));
            let port = id
                .get("port")
                .or_else(|| id.get("ports"))
                .or_else(|| header.get("port"));
            if port.is_none() {
                out.push(finding(
                    req::TLS_2,
                    Level::Should,
                    "the port next to the service",
                    format!("newOrder for {domain} names {service} without a port"),
                ));
            }
        }
    }
    // The draft's placement: the POSTs to the email-tls challenges of `domain`'s authorizations.
    let challenge_ids: Vec<&str> = store
        .challenges
        .values()
        .filter(|c| c.kind.is_email_tls())
        .filter(|c| {
            store
                .authzs
                .get(&c.authz)
                .is_some_and(|a| a.identifier.value == domain)
        })
        .map(|c| c.id.as_str())
        .collect();
    for r in history.iter().filter(|r| r.method == "POST") {
        let Some(id) = r.path.rsplit('/').next() else {
            continue;
        };
        let posted = r.payload.as_ref().is_some_and(|p| p.is_object());
        if !posted || !challenge_ids.contains(&id) || !r.path.contains("/chall") {
            continue;
        }
        let header = r.protected.clone().unwrap_or_default();
        let payload = r.payload.clone().unwrap_or_default();
        let service = header.get("service").or_else(|| payload.get("service"));
        let port = header.get("port").or_else(|| payload.get("port"));
        match (service, port) {
            (Some(_), Some(_)) => named_anywhere = true,
            (Some(service), None) => {
                named_anywhere = true;
                out.push(finding(
                    req::TLS_2,
                    Level::Should,
                    "the port next to the service",
                    format!("{} names {service} without a port", r.path),
                ));
            }
            (None, _) if named_anywhere => {}
            (None, _) => out.push(finding(
                req::TLS_1,
                Level::Must,
                "\"service\" in the challenge POST (-00…-04: protected header; -05: payload)",
                format!("{} POSTed {payload} with no service", r.path),
            )),
        }
    }
    if !named_anywhere && !out.iter().any(|f| f.req == req::TLS_1) {
        out.push(finding(
            req::TLS_1,
            Level::Must,
            "a service for the dns identifier (challenge POST, or newOrder under the proposal)",
            format!("no request for {domain} names one"),
        ));
    }
    out
}

/// Whether an ACME-24 finding's observed text (`<path> with <payload>`) shows a challenge
/// payload that holds nothing but `service`/`port`: every draft version's Figure 1, -05
/// placing them in the payload, not a deviation from RFC 8555 §7.5.1's `{}`.
pub fn draft_challenge_payload(observed: &str) -> bool {
    observed
        .split_once(" with ")
        .and_then(|(_, p)| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| p.as_object().cloned())
        .is_some_and(|m| !m.is_empty() && m.keys().all(|k| k == "service" || k == "port"))
}

/// The services a valid order for `domain` proved, with their port and challenge.
pub fn validated_services(ca: &CaShared, domain: &str) -> Vec<server_profile::Validated> {
    let store = ca.store();
    let Some(order) = store.orders.values().find(|o| {
        o.status == OrderStatus::Valid && o.identifiers.iter().any(|i| i.value == domain)
    }) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, target) in email_tls::order_targets(&store, order) {
        if name != domain {
            continue;
        }
        let proof = order
            .authzs
            .iter()
            .filter_map(|a| store.authzs.get(a))
            .filter(|a| a.mail == Some(target))
            .flat_map(|a| a.challenges.iter().filter_map(|c| store.challenges.get(c)))
            .find(|c| c.status == acmeproof_mocks::ca::model::ChallengeStatus::Valid)
            .map_or(server_profile::Proof::Capability, |c| {
                if c.kind == ChallengeKind::DnsEmail00 {
                    server_profile::Proof::DnsEmail
                } else {
                    server_profile::Proof::Capability
                }
            });
        out.push(server_profile::Validated {
            service: target.service,
            port: target.port,
            proof,
        });
    }
    out
}

/// Each email-tls challenge for `domain` that the CA found invalid, as a finding under the rule
/// that challenge type tests: what the operator published (a TXT record, a capability) did not
/// carry the digest. The CA's error detail is what was observed.
pub fn judge_failed_challenges(ca: &CaShared, domain: &str) -> Vec<Finding> {
    let store = ca.store();
    let mut out = Vec::new();
    for authz in store
        .authzs
        .values()
        .filter(|a| a.identifier.value == domain)
    {
        for c in authz
            .challenges
            .iter()
            .filter_map(|c| store.challenges.get(c))
        {
            if c.status != acmeproof_mocks::ca::model::ChallengeStatus::Invalid {
                continue;
            }
            let Some(rule) = c.kind.email_tls_requirement() else {
                continue;
            };
            let published = match c.kind {
                ChallengeKind::DnsEmail00 => "a TXT record",
                ChallengeKind::CapabilitySmtp00 => "the EHLO keyword ACME",
                ChallengeKind::CapabilityImap00 => "the IMAP capability ACME=",
                _ => "the CAPA line ACME",
            };
            let detail = c
                .error
                .as_ref()
                .and_then(|e| e.get("detail"))
                .and_then(|d| d.as_str())
                .unwrap_or("no detail");
            // The sentence describes what the operator publishes: not doing it fails the
            // challenge, so the finding is at MUST strength, like any failed expectation.
            out.push(
                Finding::new(
                    rule,
                    format!("{published} with the challenge's digest"),
                    format!("the CA found {} invalid: {detail}", c.kind.name()),
                )
                .at(Level::Must),
            );
        }
    }
    out
}

/// The chain of a valid order for `domain`, if the CA issued one.
pub fn issued_chain(ca: &CaShared, domain: &str) -> Option<String> {
    let store = ca.store();
    let cert_id = store
        .orders
        .values()
        .filter(|o| {
            o.status == OrderStatus::Valid && o.identifiers.iter().any(|i| i.value == domain)
        })
        .find_map(|o| o.certificate.clone())?;
    store.certs.get(&cert_id).map(|c| c.chain_pem.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(method: &str, path: &str, status: u16, problem: Option<&str>) -> RequestRecord {
        RequestRecord {
            seq: 0,
            at: String::new(),
            method: method.into(),
            path: path.into(),
            status,
            problem: problem.map(str::to_owned),
            detail: None,
            violates: None,
            protected: None,
            payload: None,
            user_agent: Some("client/1".into()),
            replay_nonce: None,
        }
    }

    /// A POST signed by `kid` with `nonce`.
    fn signed(path: &str, status: u16, problem: Option<&str>, nonce: &str) -> RequestRecord {
        let mut r = record("POST", path, status, problem);
        r.protected = Some(json!({"alg": "ES256", "kid": "https://ca/acct/1", "nonce": nonce}));
        r
    }

    #[test]
    fn a_retry_after_bad_nonce_must_carry_the_answers_nonce() {
        let mut refused = signed("/acme/new-order", 400, Some("badNonce"), "n1");
        refused.replay_nonce = Some("n2".into());
        // Another account's request in between is not the retry.
        let mut other = signed("/acme/new-order", 201, None, "n9");
        other.protected = Some(json!({"alg": "ES256", "kid": "https://ca/acct/2", "nonce": "n9"}));
        let good = vec![
            refused.clone(),
            other.clone(),
            signed("/acme/new-order", 201, None, "n2"),
        ];
        assert!(
            judge_requests(&good).is_empty(),
            "{:?}",
            judge_requests(&good)
        );
        let stale = vec![
            refused.clone(),
            other,
            signed("/acme/new-order", 201, None, "n7"),
        ];
        assert_eq!(ids(&judge_requests(&stale)), vec!["ACME-5"]);
        // No retry at all is not this MUST.
        assert!(judge_requests(&[refused]).is_empty());
    }

    fn ids(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.req).collect()
    }

    #[test]
    fn requests_the_ca_accepted_are_no_finding_and_refusals_name_their_rule() {
        let mut good = vec![
            record("GET", "/directory", 200, None),
            record("POST", "/acme/new-account", 201, None),
            // A badNonce is the CA's right; the client's duty is the retry.
            record("POST", "/acme/new-order", 400, Some("badNonce")),
            record("POST", "/acme/new-order", 201, None),
        ];
        let mut challenge = record("POST", "/acme/chall/x", 200, None);
        challenge.payload = Some(json!({}));
        good.push(challenge);
        assert!(judge_requests(&good).is_empty());

        let refused = |status: u16, problem: &str, rule: Option<&str>| {
            let mut r = record("POST", "/acme/new-order", status, Some(problem));
            r.violates = rule.map(str::to_owned);
            r
        };
        let mut bad = good.clone();
        bad.push(refused(415, "malformed", Some("ACME-6")));
        bad.push(refused(400, "badSignatureAlgorithm", Some("ACME-10")));
        bad.push(refused(403, "unauthorized", Some("ACME-12")));
        bad.push(refused(400, "rejectedIdentifier", Some("SMIME-1")));
        // A refusal the CA tied to no rule is not guessed at.
        bad.push(refused(400, "malformed", None));
        let mut answered_wrong = record("POST", "/acme/chall/x", 200, None);
        answered_wrong.payload = Some(json!({ "keyAuthorization": "x" }));
        bad.push(answered_wrong);
        bad[0].user_agent = None;
        let found = judge_requests(&bad);
        assert_eq!(
            ids(&found),
            [
                "ACME-6", "ACME-10", "ACME-12", "SMIME-1", "ACME-24", "ACME-34"
            ]
        );
        assert!(
            found[3].observed.contains("rejectedIdentifier"),
            "{found:?}"
        );
    }

    fn csr_request(
        sans: Vec<rcgen::SanType>,
        usages: Vec<rcgen::KeyUsagePurpose>,
    ) -> RequestRecord {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = sans;
        params.key_usages = usages;
        let csr = params.serialize_request(&key).expect("csr");
        let mut r = record("POST", "/acme/order/x/finalize", 200, None);
        r.payload = Some(json!({
            "csr": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(csr.der())
        }));
        r
    }

    #[test]
    fn csrs_name_exactly_the_address_with_an_rfc_8823_key_usage() {
        let email = |a: &str| rcgen::SanType::Rfc822Name(a.try_into().expect("ia5"));
        let sign = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let good = csr_request(vec![email("alice@example.test")], sign.clone());
        assert!(judge_csrs(&[good], "alice@example.test").is_empty());

        let other = csr_request(vec![email("bob@example.test")], sign);
        assert_eq!(
            ids(&judge_csrs(&[other], "alice@example.test")),
            ["SMIME-13"]
        );
        let ca_bits = csr_request(
            vec![email("alice@example.test")],
            vec![rcgen::KeyUsagePurpose::KeyCertSign],
        );
        assert_eq!(
            ids(&judge_csrs(&[ca_bits], "alice@example.test")),
            ["SMIME-55"]
        );
        // Encryption-only with a bit RFC 8823 §3.3 does not allow: SMIME-56.
        let encrypt_extra = csr_request(
            vec![email("alice@example.test")],
            vec![
                rcgen::KeyUsagePurpose::KeyEncipherment,
                rcgen::KeyUsagePurpose::DataEncipherment,
            ],
        );
        assert_eq!(
            ids(&judge_csrs(&[encrypt_extra], "alice@example.test")),
            ["SMIME-56"]
        );
        let encrypt_only = csr_request(
            vec![email("alice@example.test")],
            vec![rcgen::KeyUsagePurpose::KeyEncipherment],
        );
        assert!(judge_csrs(&[encrypt_only], "alice@example.test").is_empty());
    }

    #[test]
    fn draft_payloads_are_recognised() {
        assert!(draft_challenge_payload(
            r#"/acme/chall/x with {"service":"imap","port":143}"#
        ));
        assert!(draft_challenge_payload(
            r#"/acme/chall/x with {"service":"imap"}"#
        ));
        assert!(!draft_challenge_payload(
            r#"/acme/chall/x with {"service":"imap","keyAuthorization":"k"}"#
        ));
        assert!(!draft_challenge_payload("/acme/chall/x with {}"));
        assert!(!draft_challenge_payload("garbage"));
    }
}
