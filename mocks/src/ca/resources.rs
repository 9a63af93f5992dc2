//! POST handling shared by every ACME resource: authentication of the JWS (RFC 8555 §6.2–§6.5)
//! and the hand-off to the resource.

use std::sync::Arc;

use axum::http::header;
use serde_json::Value;

use super::jws::{self, KeyRef, ParsedJws, Payload};
use super::model::{Account, AccountStatus};
use super::problem::{Problem, ProblemType};
use super::server::{CaShared, Incoming, Observed, Reply, Route};
use crate::protocol::requirements as req;

/// Which key reference a resource takes (RFC 8555 §6.2, ACME-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// newAccount: a `jwk`.
    Jwk,
    /// Everything tied to an account: a `kid`.
    Kid,
    /// revokeCert: either the account (`kid`) or the certificate's key (`jwk`).
    Either,
}

/// A request whose JWS verified.
#[derive(Debug)]
pub struct Authenticated {
    /// The parsed JWS.
    pub jws: ParsedJws,
    /// The account, when the request was signed with `kid`, or with a `jwk` that belongs to one.
    pub account: Option<Arc<Account>>,
    /// The key that verified the signature.
    pub jwk: Value,
}

impl Authenticated {
    /// The account of a `kid` request (KeyPolicy::Kid guarantees one).
    pub fn account(&self) -> Result<&Account, Problem> {
        self.account
            .as_deref()
            .ok_or_else(|| Problem::new(ProblemType::AccountDoesNotExist, "no account"))
    }

    /// The payload as a JSON object; POST-as-GET is refused with `detail`.
    pub fn object(&self, detail: &str) -> Result<&serde_json::Map<String, Value>, Problem> {
        match self.jws.payload() {
            Payload::Json(Value::Object(map)) => Ok(map),
            Payload::Json(_) => Err(Problem::malformed("the JWS payload must be a JSON object")),
            Payload::PostAsGet => Err(Problem::malformed(detail)),
        }
    }

    /// Whether this is a POST-as-GET (RFC 8555 §6.3).
    pub fn is_post_as_get(&self) -> bool {
        matches!(self.jws.payload(), Payload::PostAsGet)
    }
}

/// Authenticates a POST: Content-Type (ACME-6), JWS shape (ACME-7/8/13), nonce (ACME-4),
/// `url` (ACME-12), key reference (ACME-9), account state (ACME-17), key (ACME-11), signature.
pub fn authenticate(
    ca: &CaShared,
    req: &Incoming,
    policy: KeyPolicy,
    observed: &mut Observed,
) -> Result<Authenticated, Problem> {
    jws::check_content_type(
        req.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let parsed = jws::parse(&req.body)?;
    observed.protected = Some(Value::Object(parsed.protected().clone()));
    observed.payload = Some(match parsed.payload() {
        Payload::PostAsGet => Value::String(String::new()),
        Payload::Json(v) => v.clone(),
    });
    // RFC 8555 §6.5: a nonce is burnt the moment it appears, whatever else is wrong.
    let reject = ca.dice.chance(ca.knobs().nonce_reject_percent);
    if let Err(why) = ca.nonces.consume(parsed.nonce(), reject) {
        return Err(Problem::new(ProblemType::BadNonce, why.detail()));
    }
    parsed.check_url(&req.url)?;
    let (jwk, account) = match (parsed.key(), policy) {
        (KeyRef::Kid(_), KeyPolicy::Jwk) => {
            return Err(Problem::malformed(
                "this resource takes a \"jwk\" in the protected header, not a \"kid\" (RFC 8555 §6.2)",
            )
            .violates(req::ACME_9));
        }
        (KeyRef::Jwk(_), KeyPolicy::Kid) => {
            return Err(Problem::malformed(
                "this resource takes the account URL as \"kid\", not a \"jwk\" (RFC 8555 §6.2)",
            )
            .violates(req::ACME_9));
        }
        (KeyRef::Kid(kid), _) => {
            let id = ca.urls.account_id_of(kid).ok_or_else(|| {
                Problem::new(
                    ProblemType::AccountDoesNotExist,
                    format!("\"kid\" {kid} is not an account URL of this server"),
                )
            })?;
            let account = ca.store().account(id).cloned().ok_or_else(|| {
                Problem::new(
                    ProblemType::AccountDoesNotExist,
                    format!("no account at {kid}"),
                )
            })?;
            (account.jwk.clone(), Some(account))
        }
        (KeyRef::Jwk(jwk), _) => {
            let thumbprint = acmeproof_protocol::jwk::thumbprint(jwk)
                .map_err(|e| Problem::new(ProblemType::BadPublicKey, e.to_string()))?;
            let store = ca.store();
            let account = store
                .by_thumbprint
                .get(&thumbprint)
                .and_then(|id| store.account(id))
                .cloned();
            (jwk.clone(), account)
        }
    };
    if let Some(account) = &account
        && account.status != AccountStatus::Valid
    {
        // RFC 8555 §7.3.6 (ACME-17): a deactivated account gets 401 on every request.
        return Err(Problem::unauthorized(format!(
            "the account is {}",
            serde_json::json!(account.status)
                .as_str()
                .unwrap_or("not valid")
        ))
        .with_status(401)
        .enforcing(crate::protocol::requirements::ACME_17));
    }
    let verifier = match parsed.key() {
        KeyRef::Jwk(_) => jws::checked_verifier(&jwk, parsed.alg())?,
        // The account key was accepted when it was registered: an `alg` that does not fit it
        // means the request was not signed by it (e.g. the old key after a keyChange).
        KeyRef::Kid(_) => jws::checked_verifier(&jwk, parsed.alg()).map_err(|_| {
            Problem::malformed(format!(
                "the JWS \"alg\" {} does not fit the account key: the signature cannot be the account's",
                parsed.alg()
            ))
            .violates(req::ACME_8)
        })?,
    };
    parsed.verify_with(&*verifier)?;
    Ok(Authenticated {
        jws: parsed,
        account,
        jwk,
    })
}

/// Routes an authenticated POST to its resource.
pub async fn post(
    ca: &Arc<CaShared>,
    route: &Route,
    req: &Incoming,
    observed: &mut Observed,
) -> Result<Reply, Problem> {
    let policy = match route {
        Route::NewAccount => KeyPolicy::Jwk,
        Route::RevokeCert => KeyPolicy::Either,
        _ => KeyPolicy::Kid,
    };
    let auth = authenticate(ca, req, policy, observed)?;
    match route {
        Route::NewAccount => super::accounts::new_account(ca, &auth),
        Route::Account(id) => super::accounts::account(ca, &auth, id),
        Route::AccountOrders(id) => super::accounts::orders(ca, &auth, id),
        Route::KeyChange => super::accounts::key_change(ca, &auth, &req.url),
        Route::NewOrder => super::orders::new_order(ca, &auth),
        Route::Order(id) => super::orders::order(ca, &auth, id),
        Route::Finalize(id) => super::orders::finalize(ca, &auth, id),
        Route::Cert(id) => super::orders::certificate(ca, &auth, id, &req.headers),
        Route::Authz(id) => super::authz::authz(ca, &auth, id),
        Route::Challenge(id) => super::authz::challenge(ca, &auth, id).await,
        Route::RevokeCert => super::revoke::revoke(ca, &auth),
        Route::Directory | Route::Terms | Route::NewNonce | Route::RenewalInfo(_) | Route::Crl => {
            Err(Problem::malformed("this resource is read with GET")
                .with_status(405)
                .violates(req::ACME_14))
        }
    }
}
