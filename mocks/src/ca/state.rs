//! Everything the CA remembers, and the state transitions of RFC 8555 §7.1.6, in one place.
//!
//! The store is a plain struct behind one mutex: every operation is short and never awaits
//! while holding it. Expiry is applied lazily whenever an object is read, against the world
//! clock, so advancing the clock expires orders without any timer.

use std::collections::HashMap;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::model::*;
use super::pki::Identifier;
use super::problem::{Problem, ProblemType};
use super::urls::Urls;
use crate::clock::rfc3339;

/// The CA's objects.
#[derive(Debug, Default)]
pub struct Store {
    /// Accounts by id.
    pub accounts: HashMap<String, Account>,
    /// Account id by JWK thumbprint.
    pub by_thumbprint: HashMap<String, String>,
    /// Orders by id.
    pub orders: HashMap<String, Order>,
    /// Authorizations by id.
    pub authzs: HashMap<String, Authz>,
    /// Challenges by id.
    pub challenges: HashMap<String, Challenge>,
    /// Certificates by id.
    pub certs: HashMap<String, CertRecord>,
    /// Certificate id by serial (lower-case hex).
    pub certs_by_serial: HashMap<String, String>,
    /// RFC 8823 exchanges by challenge id.
    pub email: HashMap<String, super::email::EmailState>,
    /// Challenge id by token-part1 (how a reply finds its challenge).
    pub email_by_token_part1: HashMap<String, String>,
    /// draft-ietf-acme-email-tls knob twin_srv_id: per authorization id, the twin services
    /// (name, service) found running after its capability proof.
    pub twins: HashMap<String, Vec<(String, super::email_tls::MailTarget)>>,
}

impl Store {
    /// The account `id`, if it exists.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Applies expiry to an authorization and returns it.
    pub fn authz_now(&mut self, id: &str, now: OffsetDateTime) -> Option<&Authz> {
        let authz = self.authzs.get_mut(id)?;
        if authz.expires <= now && matches!(authz.status, AuthzStatus::Pending | AuthzStatus::Valid)
        {
            authz.status = AuthzStatus::Expired;
        }
        self.authzs.get(id)
    }

    /// Recomputes an order's status from its authorizations and the clock, then returns it.
    ///
    /// RFC 8555 §7.1.6: pending → ready when every authorization is valid; → invalid when one
    /// fails or the order expires.
    pub fn order_now(&mut self, id: &str, now: OffsetDateTime) -> Option<&Order> {
        let authz_ids = self.orders.get(id)?.authzs.clone();
        let mut statuses = Vec::with_capacity(authz_ids.len());
        for authz_id in &authz_ids {
            if let Some(authz) = self.authz_now(authz_id, now) {
                statuses.push((authz.status, authz.identifier.clone()));
            }
        }
        let order = self.orders.get_mut(id)?;
        let open = matches!(order.status, OrderStatus::Pending | OrderStatus::Ready);
        if open && order.expires <= now {
            order.status = OrderStatus::Invalid;
            order.error = Some(problem_json(&Problem::malformed(format!(
                "the order expired at {}",
                rfc3339(order.expires)
            ))));
        } else if order.status == OrderStatus::Pending {
            if let Some((status, identifier)) = statuses
                .iter()
                .find(|(s, _)| !matches!(s, AuthzStatus::Pending | AuthzStatus::Valid))
            {
                order.status = OrderStatus::Invalid;
                order.error = Some(problem_json(&Problem::unauthorized(format!(
                    "the authorization for {identifier} is {}",
                    json!(status).as_str().unwrap_or("not valid")
                ))));
            } else if statuses.iter().all(|(s, _)| *s == AuthzStatus::Valid) {
                order.status = OrderStatus::Ready;
            }
        }
        self.orders.get(id)
    }

    /// RFC 8555 §7.1.4 JSON of an authorization, with its challenges.
    pub fn authz_json(&mut self, id: &str, urls: &Urls, now: OffsetDateTime) -> Option<Value> {
        let authz = self.authz_now(id, now)?.clone();
        let challenges: Vec<Value> = authz
            .challenges
            .iter()
            .filter_map(|c| self.challenges.get(c))
            .map(|c| c.to_json(urls))
            .collect();
        let mut v = json!({
            "identifier": authz.identifier,
            "status": authz.status,
            "expires": rfc3339(authz.expires),
            "challenges": challenges,
        });
        if authz.wildcard
            && let Some(map) = v.as_object_mut()
        {
            map.insert("wildcard".into(), json!(true));
        }
        Some(v)
    }

    /// A valid, unexpired authorization of `account` for `identifier`, for reuse.
    pub fn reusable_authz(
        &mut self,
        account: &str,
        identifier: &Identifier,
        wildcard: bool,
        now: OffsetDateTime,
    ) -> Option<String> {
        let candidates: Vec<String> = self
            .authzs
            .values()
            .filter(|a| {
                a.account == account
                    && a.mail.is_none()
                    && a.identifier == *identifier
                    && a.wildcard == wildcard
                    && a.status == AuthzStatus::Valid
            })
            .map(|a| a.id.clone())
            .collect();
        let mut candidates: Vec<String> = candidates
            .into_iter()
            .filter(|id| {
                self.authz_now(id, now)
                    .is_some_and(|a| a.status == AuthzStatus::Valid)
            })
            .collect();
        candidates.sort();
        candidates.into_iter().next()
    }

    /// Records a validation result on a challenge, its authorization and (lazily) its orders.
    pub fn finish_validation(
        &mut self,
        challenge_id: &str,
        outcome: Result<(), Problem>,
        now: OffsetDateTime,
        authz_lifetime: time::Duration,
    ) {
        let Some(challenge) = self.challenges.get_mut(challenge_id) else {
            return;
        };
        let authz_id = challenge.authz.clone();
        // RFC 8555 §7.1.4: a valid authorization carries the expiry of the validation; one the
        // CA cannot write (past 9999-12-31) fails the validation instead.
        let outcome = outcome.and_then(|()| Ok(crate::clock::later(now, authz_lifetime)?));
        match outcome {
            Ok(expires) => {
                challenge.status = ChallengeStatus::Valid;
                challenge.validated = Some(now);
                challenge.error = None;
                if let Some(authz) = self.authzs.get_mut(&authz_id)
                    && authz.status == AuthzStatus::Pending
                {
                    authz.status = AuthzStatus::Valid;
                    authz.expires = expires;
                }
            }
            Err(problem) => {
                challenge.status = ChallengeStatus::Invalid;
                challenge.error = Some(problem_json(&problem));
                if let Some(authz) = self.authzs.get_mut(&authz_id)
                    && authz.status == AuthzStatus::Pending
                {
                    authz.status = AuthzStatus::Invalid;
                }
            }
        }
    }
}

/// A problem as the `error` member of an order or challenge: the whole problem document,
/// `status` included. RFC 8555 §7.1.3/§8 make `error` a problem document (RFC 7807), whose
/// §3.1 `status` is "the HTTP status code ... generated by the origin server for this
/// occurrence of the problem": the status the problem would have been answered with.
pub fn problem_json(problem: &Problem) -> Value {
    problem.body()
}

/// The problem for a missing object of kind `what`.
pub fn not_found(what: &str) -> Problem {
    Problem::new(ProblemType::Malformed, format!("no such {what}")).with_status(404)
}
