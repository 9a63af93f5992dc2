//! Orders (RFC 8555 §7.4): newOrder, polling, finalize with a CSR, certificate download.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::email_tls;
use super::identifiers::{self, Requested};
use super::model::*;
use super::pki::{self, IdentifierKind, Profile, SmimeUsage};
use super::problem::{Problem, ProblemType};
use super::resources::Authenticated;
use super::server::{CaShared, Reply};
use super::state::not_found;

/// POST newOrder (RFC 8555 §7.4, ACME-18).
pub fn new_order(ca: &Arc<CaShared>, auth: &Authenticated) -> Result<Reply, Problem> {
    let account = auth.account()?.clone();
    let payload = auth.object("newOrder takes a JSON object, not POST-as-GET")?;
    let knobs = ca.knobs();
    // draft-ietf-acme-email-tls: `service`/`port` from the protected header or the payload.
    let identifiers = email_tls::expand_service_arrays(&knobs, payload.get("identifiers"))?;
    let targets = email_tls::targets(&knobs, auth.jws.protected(), identifiers.as_ref())?;
    let requested = identifiers::check_with_targets(identifiers.as_ref(), &targets)?;
    let mail_targets: Vec<(String, email_tls::MailTarget)> = requested
        .iter()
        .filter_map(|r| r.mail.map(|m| (r.authz_identifier.value.clone(), m)))
        .collect();
    email_tls::check_order(&knobs, &mail_targets)?;
    if knobs.refuse_eai {
        refuse_eai(&requested)?;
    }
    for field in ["notBefore", "notAfter"] {
        if payload.contains_key(field) {
            // RFC 8555 §7.4: a server that does not honour the requested validity refuses it
            // rather than issuing something else.
            return Err(Problem::malformed(format!(
                "this CA does not honour \"{field}\"; leave it out"
            )));
        }
    }
    // RFC 9773 §5: "replaces", a certificate identifier (ACME-41).
    let replaces = match payload.get("replaces") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => {
            return Err(Problem::malformed(
                "\"replaces\" must be a certificate identifier string (RFC 9773 §5)",
            ));
        }
    };
    let now = ca.clock.now();
    // Checked before anything is stored: a world clock near 9999-12-31 refuses the order.
    let order_expires = crate::clock::later(now, knobs.order_lifetime())?;
    let authz_expires = crate::clock::later(now, knobs.authz_lifetime())?;
    let mut store = ca.store();
    store.room_for_order(requested.len(), now)?;
    if let Some(replaces) = &replaces {
        let identifiers: Vec<_> = requested.iter().map(|r| r.identifier.clone()).collect();
        super::renewal_info::check_replaces(&store, &account.id, replaces, &identifiers)?;
    }
    let mut authz_ids = Vec::with_capacity(requested.len());
    for r in &requested {
        // A mail service's authorization is proved on its own port: never reused for another.
        let reused = (knobs.reuse_authorizations && r.mail.is_none())
            .then(|| store.reusable_authz(&account.id, &r.authz_identifier, r.wildcard, now))
            .flatten();
        let id = match reused {
            Some(id) => id,
            None => new_authz(ca, &knobs, &mut store, &account.id, r, authz_expires),
        };
        authz_ids.push(id);
    }
    let order = Order {
        id: ca.new_id(),
        account: account.id.clone(),
        status: OrderStatus::Pending,
        expires: order_expires,
        identifiers: requested.iter().map(|r| r.identifier.clone()).collect(),
        not_before: None,
        not_after: None,
        authzs: authz_ids,
        mail_targets,
        error: None,
        certificate: None,
        replaces,
    };
    let id = order.id.clone();
    store.orders.insert(id.clone(), order);
    if let Some(acc) = store.accounts.get_mut(&account.id) {
        Arc::make_mut(acc).orders.push(id.clone());
    }
    // Reused authorizations may make the order ready at once.
    let body = store
        .order_now(&id, now)
        .map(|o| o.to_json(&ca.urls))
        .unwrap_or(Value::Null);
    Ok(Reply::json(StatusCode::CREATED, &body).location(ca.urls.order(&id)))
}

/// Creates an authorization with the challenges its identifier allows.
fn new_authz(
    ca: &CaShared,
    knobs: &super::knobs::Knobs,
    store: &mut super::state::Store,
    account: &str,
    r: &Requested,
    expires: time::OffsetDateTime,
) -> String {
    let authz_id = ca.new_id();
    let kinds: Vec<ChallengeKind> = match (r.identifier.kind, r.wildcard, r.mail) {
        // draft-ietf-acme-email-tls-05 §3.3, §3.4, §5: a `dns` identifier with a mail service.
        (IdentifierKind::Dns, wildcard, Some(target)) => target.challenge_kinds(wildcard),
        // RFC 8555 http-01/dns-01, RFC 8737 tls-alpn-01 (not for a wildcard: RFC 8555 §7.1.3 leaves
        // those to DNS), and the draft's challenges whose POST names the service.
        (IdentifierKind::Dns, wildcard, None) => email_tls::plain_dns_kinds(knobs, wildcard),
        (IdentifierKind::Email, _, _) => vec![ChallengeKind::EmailReply00],
        // `identifiers::check` refuses IP identifiers (RFC 8738 is not offered).
        (IdentifierKind::Ip, _, _) => Vec::new(),
    };
    let mut challenges = Vec::with_capacity(kinds.len());
    for kind in &kinds {
        let id = ca.new_id();
        // RFC 8555 §8.1 (ACME-28): ≥128 bits; RFC 8823 §3 asks the same of token-part2.
        let mut token = ca.tokens.token(32);
        if *kind == ChallengeKind::EmailReply00 && ca.knobs().challenge_token_reused {
            // Knob `challenge_token_reused`: one token-part2 for every challenge, breaking
            // SMIME-5 on purpose (256 bits, so SMIME-4 holds).
            token = crate::protocol::b64url::encode([0x5a; 32]);
        }
        let from = (*kind == ChallengeKind::EmailReply00).then(|| ca.config.challenge_from.clone());
        store.challenges.insert(
            id.clone(),
            Challenge {
                id: id.clone(),
                authz: authz_id.clone(),
                kind: *kind,
                token,
                status: ChallengeStatus::Pending,
                validated: None,
                error: None,
                from,
                mail: r.mail,
            },
        );
        if *kind == ChallengeKind::EmailReply00 {
            super::email::register(ca, store, &id);
        }
        challenges.push(id);
    }
    store.authzs.insert(
        authz_id.clone(),
        Authz {
            id: authz_id.clone(),
            account: account.to_owned(),
            identifier: r.authz_identifier.clone(),
            status: AuthzStatus::Pending,
            expires,
            wildcard: r.wildcard,
            challenges,
            mail: r.mail,
        },
    );
    authz_id
}

fn owned_order(ca: &CaShared, auth: &Authenticated, id: &str) -> Result<(), Problem> {
    let account = auth.account()?;
    let store = ca.store();
    let order = store.orders.get(id).ok_or_else(|| not_found("order"))?;
    if order.account != account.id {
        return Err(Problem::unauthorized(
            "the order belongs to another account",
        ));
    }
    Ok(())
}

/// The order with expiry and authorization states applied.
fn current_order(ca: &CaShared, id: &str, now: time::OffsetDateTime) -> Result<Order, Problem> {
    ca.store()
        .order_now(id, now)
        .cloned()
        .ok_or_else(|| not_found("order"))
}

/// POST-as-GET an order (RFC 8555 §7.4).
pub fn order(ca: &Arc<CaShared>, auth: &Authenticated, id: &str) -> Result<Reply, Problem> {
    owned_order(ca, auth, id)?;
    if !auth.is_post_as_get() {
        return Err(Problem::malformed("an order is read with POST-as-GET"));
    }
    let now = ca.clock.now();
    let order = current_order(ca, id, now)?;
    let mut reply = Reply::json(StatusCode::OK, &order.to_json(&ca.urls));
    if let Some(secs) = ca.knobs().retry_after_secs
        && matches!(order.status, OrderStatus::Pending | OrderStatus::Processing)
    {
        reply = reply.with(header::RETRY_AFTER, secs.to_string());
    }
    Ok(reply)
}

/// POST finalize (RFC 8555 §7.4, ACME-20/21/22).
pub fn finalize(ca: &Arc<CaShared>, auth: &Authenticated, id: &str) -> Result<Reply, Problem> {
    owned_order(ca, auth, id)?;
    let payload = auth.object("finalize takes {\"csr\": ...}, not POST-as-GET")?;
    let now = ca.clock.now();
    let order = current_order(ca, id, now)?;
    if order.status != OrderStatus::Ready {
        return Err(Problem::new(
            ProblemType::OrderNotReady,
            format!(
                "the order is {}, not ready",
                serde_json::json!(order.status).as_str().unwrap_or("?")
            ),
        )
        .violates(crate::protocol::requirements::ACME_20));
    }
    let csr_b64 = payload
        .get("csr")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Problem::malformed("finalize needs a \"csr\" string"))?;
    // A bad CSR leaves the order ready (RFC 8555 §7.4, ACME-21): nothing below touches it.
    let bad_csr = |detail: String| Problem::new(ProblemType::BadCsr, detail);
    let der = acmeproof_protocol::b64url::decode_strict(csr_b64)
        .map_err(|e| bad_csr(format!("\"csr\" is not base64url: {e}")))?;
    let csr =
        pki::parse_csr(&der).map_err(|e| Problem::new(pki::csr_problem_type(&e), e.to_string()))?;
    // Knob refuse_csr_keys: a key type this CA does not certify (its policy, RFC 8555 §6.7).
    let key_type = csr.key.knob_name();
    if ca.knobs().refuse_csr_keys.iter().any(|k| k == key_type) {
        return Err(bad_csr(format!(
            "this CA does not certify {key_type} keys (knob refuse_csr_keys)"
        )));
    }
    // RFC 7817 §5: a CSR tool "MUST include" the SRV-IDs; those the order validated are not
    // ACME identifiers but are accepted, any other SRVName is still refused.
    let targets = email_tls::order_targets(&ca.store(), &order);
    let checked = email_tls::without_validated_srv_ids(&csr, &targets);
    pki::check_csr_identifiers(&order.identifiers, &checked)
        .map_err(|e| bad_csr(e).violates(crate::protocol::requirements::ACME_21))?;
    let profile = match order.identifiers.as_slice() {
        [only] if only.kind == IdentifierKind::Email => Profile::Smime {
            email: only.value.clone(),
            // RFC 8823 §3.3: the CSR's key usage picks signing, encryption or both. Knob
            // ignore_csr_key_usage breaks that on purpose: always both.
            usage: match SmimeUsage::from_csr_key_usage(csr.key_usage)
                .map_err(|e| bad_csr(e.to_string()))?
            {
                _ if ca.knobs().ignore_csr_key_usage => SmimeUsage::Both {
                    non_repudiation: false,
                },
                usage => usage,
            },
        },
        ids => email_tls::certificate_profile(&ca.knobs(), ids, &targets),
    };
    let validity = ca.knobs().cert_validity();
    let issued = ca
        .pki
        .issue_with_crl(&csr, &profile, validity, Some(&ca.urls.crl()))
        .map_err(|e| Problem::internal(format!("issuance failed: {e}")))?;
    let mut store = ca.store();
    let Some(stored) = store.orders.get_mut(id) else {
        return Err(not_found("order"));
    };
    if stored.status != OrderStatus::Ready {
        // Another finalize won the race.
        return Err(Problem::new(
            ProblemType::OrderNotReady,
            "the order was finalized concurrently",
        ));
    }
    let cert_id = ca.new_id();
    stored.status = OrderStatus::Valid;
    stored.certificate = Some(cert_id.clone());
    let body = stored.to_json(&ca.urls);
    store
        .certs_by_serial
        .insert(issued.serial_hex.clone(), cert_id.clone());
    store.certs.insert(
        cert_id.clone(),
        CertRecord {
            id: cert_id,
            serial_hex: issued.serial_hex,
            account: order.account.clone(),
            order: order.id.clone(),
            der: issued.der,
            chain_pem: issued.chain_pem,
            identifiers: order.identifiers.clone(),
            not_after: issued.not_after,
            revoked: None,
            revoked_at: None,
        },
    );
    Ok(Reply::json(StatusCode::OK, &body).location(ca.urls.order(id)))
}

/// POST-as-GET a certificate (RFC 8555 §7.4.2, ACME-23).
pub fn certificate(
    ca: &Arc<CaShared>,
    auth: &Authenticated,
    id: &str,
    headers: &HeaderMap,
) -> Result<Reply, Problem> {
    let account = auth.account()?;
    if !auth.is_post_as_get() {
        return Err(Problem::malformed("a certificate is read with POST-as-GET"));
    }
    let store = ca.store();
    let cert = store
        .certs
        .get(id)
        .ok_or_else(|| not_found("certificate"))?;
    if cert.account != account.id {
        return Err(Problem::unauthorized(
            "the certificate belongs to another account",
        ));
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // RFC 8555 §7.4.2: the PEM chain is the default; DER is an optional alternative format.
    let (content_type, body) = if accept.contains("application/pkix-cert") {
        ("application/pkix-cert", cert.der.clone())
    } else {
        (
            "application/pem-certificate-chain",
            cert.chain_pem.clone().into_bytes(),
        )
    };
    Ok(Reply {
        status: StatusCode::OK,
        headers: Vec::new(),
        body: Some((content_type, body)),
    })
}

/// Knob `refuse_eai`: an `email` identifier whose certificate would need an SmtpUTF8Mailbox
/// (RFC 8398 §3) is declined, as RFC 8555 §7.4 lets a CA decline identifiers it will not issue
/// for.
fn refuse_eai(requested: &[Requested]) -> Result<(), Problem> {
    use acmeproof_protocol::address::{SanForm, parse_address, san_form};
    for r in requested {
        if r.identifier.kind != IdentifierKind::Email {
            continue;
        }
        let eai = parse_address(&r.identifier.value)
            .and_then(|a| san_form(&a))
            .is_ok_and(|form| matches!(form, SanForm::SmtpUtf8Mailbox(_)));
        if eai {
            return Err(Problem::new(
                ProblemType::RejectedIdentifier,
                format!(
                    "{}: this CA does not issue for internationalized addresses (knob refuse_eai)",
                    r.identifier.value
                ),
            ));
        }
    }
    Ok(())
}
