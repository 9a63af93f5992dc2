//! Authorizations and challenges (RFC 8555 §7.5): polling, deactivation, and the challenge
//! POST that starts validation.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use serde_json::Value;

use super::model::*;
use super::problem::Problem;
use super::resources::Authenticated;
use super::server::{CaShared, Reply};
use super::state::not_found;

/// POST to an authorization: read it (POST-as-GET) or deactivate it (§7.5.2).
pub fn authz(ca: &Arc<CaShared>, auth: &Authenticated, id: &str) -> Result<Reply, Problem> {
    let account = auth.account()?;
    let now = ca.clock.now();
    let mut store = ca.store();
    let authz = store
        .authz_now(id, now)
        .ok_or_else(|| not_found("authorization"))?;
    if authz.account != account.id {
        return Err(Problem::unauthorized(
            "the authorization belongs to another account",
        ));
    }
    if !auth.is_post_as_get() {
        let payload = auth.object("")?;
        match payload.get("status") {
            Some(Value::String(s)) if s == "deactivated" => {
                if let Some(a) = store.authzs.get_mut(id)
                    && matches!(a.status, AuthzStatus::Pending | AuthzStatus::Valid)
                {
                    a.status = AuthzStatus::Deactivated;
                }
            }
            Some(other) => {
                return Err(Problem::malformed(format!(
                    "an authorization can only be set to \"deactivated\", not {other}"
                )));
            }
            None => {
                return Err(Problem::malformed(
                    "POST to an authorization is POST-as-GET or {\"status\": \"deactivated\"}",
                ));
            }
        }
    }
    let body = store
        .authz_json(id, &ca.urls, now)
        .ok_or_else(|| not_found("authorization"))?;
    let email_challenges: Vec<String> = store
        .authzs
        .get(id)
        .map(|a| {
            a.challenges
                .iter()
                .filter(|c| {
                    store
                        .challenges
                        .get(*c)
                        .is_some_and(|c| c.kind == ChallengeKind::EmailReply00)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    drop(store);
    // RFC 8823 §3 step 4: the CA sends the challenge mail; by default when the client first
    // looks at the authorization (knob email_send_on).
    if ca.knobs().email_send_on == super::knobs::EmailSendOn::AuthzFetch
        && body.get("status").and_then(|s| s.as_str()) == Some("pending")
    {
        for challenge in &email_challenges {
            super::email::send_once(ca, challenge);
        }
    }
    let pending = body.get("status").and_then(|s| s.as_str()) == Some("pending");
    let mut reply = Reply::json(StatusCode::OK, &body);
    if let (true, Some(secs)) = (pending, ca.knobs().retry_after_secs) {
        reply = reply.with(header::RETRY_AFTER, secs.to_string());
    }
    Ok(reply)
}

/// POST to a challenge: `{}` asks the CA to validate (§7.5.1, ACME-24/25); POST-as-GET polls.
pub async fn challenge(
    ca: &Arc<CaShared>,
    auth: &Authenticated,
    id: &str,
) -> Result<Reply, Problem> {
    let account = auth.account()?;
    let now = ca.clock.now();
    let knobs = ca.knobs();
    let mut email_posted = false;
    let mut read_only_proof: Option<String> = None;
    let start = {
        let mut store = ca.store();
        let challenge = store
            .challenges
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("challenge"))?;
        let authz = store
            .authz_now(&challenge.authz, now)
            .cloned()
            .ok_or_else(|| not_found("authorization"))?;
        if authz.account != account.id {
            return Err(Problem::unauthorized(
                "the challenge belongs to another account",
            ));
        }
        if auth.is_post_as_get() {
            false
        } else {
            let payload = auth.object("")?;
            // draft-ietf-acme-email-tls-00…-05 Figure 1: `service`/`port` travel in the
            // challenge POST (-00…-04: its protected header; -05: its payload). A plain `dns`
            // authorization is bound to them by its first startable POST; one whose service
            // was named at newOrder (acmeproof's proposal) accepts only a matching repeat.
            let email_tls_target = match (challenge.kind.is_email_tls(), challenge.mail) {
                (false, _) => None,
                (true, Some(target)) => {
                    super::email_tls::check_challenge_post(
                        &knobs,
                        auth.jws.protected(),
                        payload,
                        target,
                    )?;
                    Some(target)
                }
                (true, None) => {
                    let target = super::email_tls::challenge_target(
                        &knobs,
                        auth.jws.protected(),
                        payload,
                        challenge.kind,
                    )?;
                    if challenge.status == ChallengeStatus::Pending
                        && authz.status == AuthzStatus::Pending
                    {
                        if let Some(c) = store.challenges.get_mut(id) {
                            c.mail = Some(target);
                        }
                        if let Some(a) = store.authzs.get_mut(&challenge.authz) {
                            a.mail = Some(target);
                        }
                    }
                    Some(target)
                }
            };
            // The read-only proof variant (knob proof): token-part1 POSTed back.
            let read_only = challenge.kind == ChallengeKind::EmailReply00
                && knobs.proof == super::knobs::Proof::ReadOnly;
            if let Some(value) = payload.get("tokenPart1")
                && challenge.kind == ChallengeKind::EmailReply00
            {
                if !read_only {
                    // RFC 8823 §3 steps 7-8: the proof is the "response" email; the POST
                    // only notifies the CA that it was sent (SMIME-12).
                    return Err(Problem::malformed(
                        "this CA wants the reply mail (RFC 8823 §3; knob proof = reply), not \"tokenPart1\" in the challenge POST",
                    )
                    .violates(crate::protocol::requirements::SMIME_12));
                }
                read_only_proof = Some(
                    value
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| Problem::malformed("\"tokenPart1\" must be a string"))?,
                );
            }
            let unexpected = payload.keys().any(|k| match k.as_str() {
                "service" | "port" => email_tls_target.is_none(),
                "tokenPart1" => !read_only,
                _ => true,
            });
            if knobs.strict && unexpected {
                // RFC 8555 §7.5.1 (ACME-24): the response to http-01/dns-01 is the empty object.
                return Err(Problem::malformed(
                    "strict mode: the challenge response must be {}",
                ));
            }
            // RFC 8823 §3: email-reply-00 completes through the reply mail; the POST says the
            // client is ready, and the verdict on the reply (now or later) decides.
            email_posted = challenge.kind == ChallengeKind::EmailReply00
                && challenge.status == ChallengeStatus::Pending
                && authz.status == AuthzStatus::Pending;
            let startable = challenge.status == ChallengeStatus::Pending
                && authz.status == AuthzStatus::Pending
                && challenge.kind != ChallengeKind::EmailReply00;
            if startable && let Some(c) = store.challenges.get_mut(id) {
                c.status = ChallengeStatus::Processing;
            }
            startable
        }
    };
    if email_posted {
        if let Some(token_part1) = read_only_proof {
            super::email::read_only_proof(ca, id, &token_part1).await;
        }
        super::email::posted(ca, id);
    }
    if start {
        if knobs.validation_inline {
            super::validate::run(Arc::clone(ca), id.to_owned()).await;
        } else {
            tokio::spawn(super::validate::run(Arc::clone(ca), id.to_owned()));
        }
    }
    let store = ca.store();
    let challenge = store
        .challenges
        .get(id)
        .ok_or_else(|| not_found("challenge"))?;
    let mut reply = Reply::json(StatusCode::OK, &challenge.to_json(&ca.urls))
        .link(&ca.urls.authz(&challenge.authz), "up");
    if let (ChallengeStatus::Processing, Some(secs)) = (challenge.status, knobs.retry_after_secs) {
        reply = reply.with(header::RETRY_AFTER, secs.to_string());
    }
    Ok(reply)
}
