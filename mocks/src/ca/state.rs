//! Everything the CA remembers, and the state transitions of RFC 8555 §7.1.6, in one place.
//!
//! The store is a plain struct behind one mutex: every operation is short and never awaits
//! while holding it. Expiry is applied lazily whenever an object is read, against the world
//! clock, so advancing the clock expires orders without any timer.

use std::collections::{HashMap, HashSet};

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
    pub accounts: HashMap<String, std::sync::Arc<Account>>,
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
    /// How much the store may hold.
    pub limits: StoreLimits,
}

/// How much the CA remembers. A client that would pass a limit is refused with `rateLimited`
/// (RFC 8555 §6.6) and a Retry-After, after the store has forgotten every order that can no
/// longer change (invalid ones, expired ones included); so a hostile client cannot grow the
/// process without bound, and a well-behaved one is never refused for the leftovers of others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Accounts.
    pub accounts: usize,
    /// Orders, of every status.
    pub orders: usize,
    /// Authorizations (each has at most seven challenges, and an order at most 100).
    pub authzs: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            accounts: 10_000,
            orders: 50_000,
            authzs: 100_000,
        }
    }
}

/// The Retry-After of a `rateLimited` refusal for a full store, in seconds.
pub const FULL_RETRY_AFTER_SECS: u64 = 60;

fn store_full(what: &str, limit: usize) -> Problem {
    let mut problem = Problem::new(
        ProblemType::RateLimited,
        format!("this CA holds at most {limit} {what}; try again later"),
    );
    problem.retry_after = Some(FULL_RETRY_AFTER_SECS);
    problem
}

impl Store {
    /// Room for one more account, or `rateLimited`.
    pub fn room_for_account(&self) -> Result<(), Problem> {
        if self.accounts.len() >= self.limits.accounts {
            return Err(store_full("accounts", self.limits.accounts));
        }
        Ok(())
    }

    /// Room for one more order with up to `authzs` new authorizations: when the store is full,
    /// the orders that can no longer change are forgotten first; `rateLimited` if it is still
    /// full. The scan runs only at the limit, and is bounded by it.
    pub fn room_for_order(&mut self, authzs: usize, now: OffsetDateTime) -> Result<(), Problem> {
        let full = |s: &Store| {
            s.orders.len() >= s.limits.orders || s.authzs.len() + authzs > s.limits.authzs
        };
        if full(self) {
            self.forget_invalid_orders(now);
        }
        if self.orders.len() >= self.limits.orders {
            return Err(store_full("orders", self.limits.orders));
        }
        if self.authzs.len() + authzs > self.limits.authzs {
            return Err(store_full("authorizations", self.limits.authzs));
        }
        Ok(())
    }

    /// Forgets every invalid order (RFC 8555 §7.1.6: a final state), with the authorizations,
    /// challenges and RFC 8823 exchanges no remaining order refers to.
    fn forget_invalid_orders(&mut self, now: OffsetDateTime) {
        let ids: Vec<String> = self.orders.keys().cloned().collect();
        let ended: HashSet<String> = ids
            .into_iter()
            .filter(|id| {
                self.order_now(id, now)
                    .is_some_and(|o| o.status == OrderStatus::Invalid)
            })
            .collect();
        if ended.is_empty() {
            return;
        }
        let mut orphans: HashSet<String> = HashSet::new();
        for id in &ended {
            if let Some(order) = self.orders.remove(id) {
                orphans.extend(order.authzs);
            }
        }
        for order in self.orders.values() {
            for authz in &order.authzs {
                orphans.remove(authz);
            }
        }
        let mut challenges: HashSet<String> = HashSet::new();
        for authz in &orphans {
            if let Some(a) = self.authzs.remove(authz) {
                challenges.extend(a.challenges);
            }
            self.twins.remove(authz);
        }
        for challenge in &challenges {
            self.challenges.remove(challenge);
            self.email.remove(challenge);
        }
        self.email_by_token_part1
            .retain(|_, challenge| !challenges.contains(challenge));
        for account in self.accounts.values_mut() {
            std::sync::Arc::make_mut(account)
                .orders
                .retain(|o| !ended.contains(o));
        }
    }

    /// The account `id`, if it exists.
    pub fn account(&self, id: &str) -> Option<&std::sync::Arc<Account>> {
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
        // Expiry applied first (it needs the store mutably); then read in place, not cloned.
        self.authz_now(id, now)?;
        let authz = self.authzs.get(id)?;
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
        knobs: &super::knobs::Knobs,
    ) {
        let authz_lifetime = knobs.authz_lifetime();
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
                // Knob omit_validated breaks RFC 8555 §7.1.5 on purpose.
                challenge.validated = (!knobs.omit_validated).then_some(now);
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
                // Knob omit_error breaks RFC 8555 §8.2 on purpose.
                challenge.error = (!knobs.omit_error).then(|| problem_json(&problem));
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

#[cfg(test)]
mod limit_tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600 + seconds).unwrap()
    }

    /// An order of `account` with one authorization and one challenge, expiring at `expires`.
    fn add_order(store: &mut Store, n: usize, expires: OffsetDateTime) -> String {
        let (order, authz, challenge) = (format!("o{n}"), format!("a{n}"), format!("c{n}"));
        store.challenges.insert(
            challenge.clone(),
            Challenge {
                id: challenge.clone(),
                authz: authz.clone(),
                kind: ChallengeKind::Dns01,
                token: format!("t{n}"),
                status: ChallengeStatus::Pending,
                validated: None,
                error: None,
                from: None,
                mail: None,
            },
        );
        store.authzs.insert(
            authz.clone(),
            Authz {
                id: authz.clone(),
                account: "acct".into(),
                identifier: Identifier::dns(format!("n{n}.example.test")),
                status: AuthzStatus::Pending,
                expires,
                wildcard: false,
                challenges: vec![challenge],
                mail: None,
            },
        );
        store.orders.insert(
            order.clone(),
            Order {
                id: order.clone(),
                account: "acct".into(),
                status: OrderStatus::Pending,
                expires,
                identifiers: vec![Identifier::dns(format!("n{n}.example.test"))],
                not_before: None,
                not_after: None,
                authzs: vec![authz],
                mail_targets: Vec::new(),
                error: None,
                certificate: None,
                replaces: None,
            },
        );
        order
    }

    #[test]
    fn a_full_store_forgets_ended_orders_then_refuses_with_rate_limited() {
        let mut store = Store {
            limits: StoreLimits {
                accounts: 1,
                orders: 4,
                authzs: 10,
            },
            ..Store::default()
        };
        // Two orders that expire at t=10, two that live on.
        for n in 0..2 {
            add_order(&mut store, n, at(10));
        }
        for n in 2..4 {
            add_order(&mut store, n, at(1_000));
        }
        // Full, and nothing has ended yet: refused, nothing forgotten.
        let refused = store.room_for_order(1, at(5)).unwrap_err();
        assert_eq!(refused.kind, ProblemType::RateLimited);
        assert_eq!(refused.retry_after, Some(FULL_RETRY_AFTER_SECS));
        assert_eq!(store.orders.len(), 4);
        // After t=10 the first two are invalid: they and their objects go, room is made.
        store
            .room_for_order(1, at(20))
            .expect("room after forgetting");
        assert_eq!(store.orders.len(), 2);
        assert!(!store.orders.contains_key("o0") && store.orders.contains_key("o2"));
        assert_eq!(store.authzs.len(), 2);
        assert_eq!(store.challenges.len(), 2);
        // Too many new authorizations for what is left.
        assert!(store.room_for_order(9, at(20)).is_err());
        store.room_for_order(8, at(20)).expect("8 more fit");
    }

    #[test]
    fn an_authorization_another_order_uses_is_kept() {
        let mut store = Store {
            limits: StoreLimits {
                accounts: 1,
                orders: 2,
                authzs: 10,
            },
            ..Store::default()
        };
        add_order(&mut store, 0, at(10));
        let live = add_order(&mut store, 1, at(1_000));
        // The live order reuses the ended order's authorization, which lives on.
        store
            .orders
            .get_mut(&live)
            .unwrap()
            .authzs
            .push("a0".into());
        store.authzs.get_mut("a0").unwrap().expires = at(1_000);
        store.room_for_order(1, at(20)).expect("room");
        assert!(!store.orders.contains_key("o0"));
        assert!(store.authzs.contains_key("a0"), "still used by o1");
        assert!(store.challenges.contains_key("c0"));
    }

    #[test]
    fn accounts_have_a_limit() {
        let store = Store {
            limits: StoreLimits {
                accounts: 0,
                orders: 1,
                authzs: 1,
            },
            ..Store::default()
        };
        assert_eq!(
            store.room_for_account().unwrap_err().kind,
            ProblemType::RateLimited
        );
        assert!(Store::default().room_for_account().is_ok());
    }
}
