//! The account lifecycle steps (RFC 8555 §7.3, §7.6, §7.1.2.1): newAccount, onlyReturnExisting,
//! terms of service, contact update, key rollover, revocation by each party RFC 8555 §7.6
//! names, and the orders list. Each compares the server's answers with what the RFC says and
//! files a mismatch under the step's `req`.

use acmeproof_mocks::account_key::{AccountKey, KeyAlg, SignWith};
use acmeproof_protocol::b64url;
use acmeproof_protocol::objects;
use serde_json::{Map, json};

use super::{Context, StepError, WAIT, expectation, one_of, refused_own_nonce};
use crate::acme::client::{AcmeClient, AcmeError, Response};
use crate::scenario::model::{
    KeyChangeFault, KeyChangeStep, NewAccountCase, NewAccountStep, ReqStep, RevokeBy, RevokeStep,
};
use crate::sut::Sut;

/// A newAccount answer, owned: a success's status and Location, or a refusal's problem type.
#[derive(Debug)]
enum OwnedAnswer {
    Success(u16, Option<String>),
    Refused(String),
}

impl OwnedAnswer {
    fn view(&self) -> objects::AccountAnswer<'_> {
        match self {
            OwnedAnswer::Success(status, location) => objects::AccountAnswer::Success {
                status: *status,
                location: location.as_deref(),
            },
            OwnedAnswer::Refused(kind) => objects::AccountAnswer::Refused(kind),
        }
    }
}

/// The certificate a `revoke` step revokes: the last `issue-dns` issuance and its names.
#[derive(Debug, Clone)]
pub(super) struct IssuedCert {
    pub(super) issued: crate::acme::flow::Issued,
    pub(super) names: Vec<String>,
}

/// An `issue-dns` that got no certificate. A proof the server found incorrect is ACME-27's
/// (the harness made it as RFC 8555 §8.1 says); any other failure is the step's `req`. Later
/// steps need the certificate: they are not run.
pub(super) fn issuance_failed(
    ctx: &mut Context<'_>,
    req: &str,
    e: crate::acme::flow::FlowError,
) -> Result<(), StepError> {
    if let Some(stop) = ctx.broken_flow(&e) {
        return Err(stop);
    }
    let found = match &e {
        crate::acme::flow::FlowError::Invalid(authz) => {
            acmeproof_protocol::keyauth::check_refused_proof(authz)
        }
        _ => Default::default(),
    };
    if found.is_empty() {
        let _ = ctx.fail(expectation(req, "a certificate", e.to_string()));
    } else {
        ctx.findings.extend(found);
    }
    Err(StepError::Halt(format!("no certificate: {e}")))
}

impl Context<'_> {
    /// A key of its own for `label`, from the world seed.
    fn fresh_key(&self, label: &str) -> Result<AccountKey, StepError> {
        AccountKey::generate(KeyAlg::Es256, &self.seed.stream(label))
            .map_err(|e| StepError::Harness(format!("key: {e}")))
    }

    /// A client of the server under test (or the reference CA) holding `key`, no account yet.
    async fn connect(&self, key: AccountKey) -> Result<AcmeClient, StepError> {
        let (directory_url, root_pem) = self.acme_server();
        let timeout = match self.sut {
            Sut::Server(target) => target.request_timeout,
            _ => crate::acme::client::REQUEST_TIMEOUT,
        };
        let client = AcmeClient::connect_bounded(&directory_url, &root_pem, key, timeout).await?;
        if !matches!(self.sut, Sut::Server(_)) {
            // The reference CA lives in this world: its Retry-After passes in world time.
            client.wait_in_world_time(self.world.clock.clone());
        }
        Ok(client)
    }

    /// The contact a new account gets: a server under test's configured one (RFC 8555 §7.3:
    /// many CAs require one), none for the reference CA.
    fn contact(&self) -> Vec<String> {
        match self.sut {
            Sut::Server(target) => target.contact.clone(),
            _ => Vec::new(),
        }
    }

    /// An error answer a step cannot judge under its own rule: a broken transport or body
    /// ([`Context::broken_answer`]), or a badNonce for the nonce the server had just given.
    pub(super) fn unusable(&mut self, e: &AcmeError) -> Option<StepError> {
        self.broken_answer(e).or_else(|| refused_own_nonce(e))
    }

    /// Ok when `problems` is empty, else one finding under `req`.
    fn verdict(
        &mut self,
        req: &str,
        expected: &str,
        problems: Vec<String>,
    ) -> Result<(), StepError> {
        if problems.is_empty() {
            Ok(())
        } else {
            self.fail(expectation(req, expected, problems.join("; ")))
        }
    }

    pub(super) async fn new_account(&mut self, s: &NewAccountStep) -> Result<(), StepError> {
        match s.case {
            NewAccountCase::Created => self.account_created(s).await,
            NewAccountCase::OnlyReturnExisting => self.only_return_existing(s).await,
            NewAccountCase::TermsNotAgreed => self.terms_not_agreed(s).await,
            NewAccountCase::BadPublicKey => self.bad_public_key(s).await,
        }
    }

    /// RFC 8555 §7.3 and §7.3.1, decided by [`objects::check_new_account`] (ACME-15): a new
    /// key's newAccount, then the same request again.
    async fn account_created(&mut self, _s: &NewAccountStep) -> Result<(), StepError> {
        let client = self.connect(self.fresh_key("new-account")?).await?;
        let url = client.directory().new_account.clone();
        let payload = json!({ "termsOfServiceAgreed": true, "contact": self.contact() });
        let first = client.post_with(&url, Some(&payload), SignWith::Jwk).await;
        let again = client.post_with(&url, Some(&payload), SignWith::Jwk).await;
        let (first, again) = (self.account_answer(first)?, self.account_answer(again)?);
        self.judged(objects::check_new_account(first.view(), again.view()))
    }

    /// A newAccount answer as the protocol's checks take it, or why the step stops.
    fn account_answer(
        &mut self,
        answer: Result<Response, AcmeError>,
    ) -> Result<OwnedAnswer, StepError> {
        match answer {
            Ok(r) => Ok(OwnedAnswer::Success(r.status, r.location())),
            Err(e) => match self.unusable(&e) {
                Some(stop) => Err(stop),
                None => Ok(OwnedAnswer::Refused(
                    e.problem_kind().unwrap_or_default().to_owned(),
                )),
            },
        }
    }

    /// Ok without findings; else the findings, and the step failed.
    fn judged(&mut self, found: acmeproof_protocol::Findings) -> Result<(), StepError> {
        if found.is_empty() {
            return Ok(());
        }
        let detail = found
            .as_slice()
            .iter()
            .map(|f| {
                format!(
                    "{}: expected {}; observed {}",
                    f.req, f.expected, f.observed
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        self.findings.extend(found);
        Err(StepError::Expectation(detail))
    }

    /// One answer held to `status`: the response, or a problem noted in `problems`.
    fn answered(
        &mut self,
        answer: Result<Response, AcmeError>,
        what: &str,
        status: u16,
        problems: &mut Vec<String>,
    ) -> Result<Option<Response>, StepError> {
        match answer {
            Ok(r) if r.status == status => Ok(Some(r)),
            Ok(r) => {
                problems.push(format!("{what} answered {} ({status} expected)", r.status));
                Ok(Some(r))
            }
            Err(e) => match self.unusable(&e) {
                Some(stop) => Err(stop),
                None => {
                    problems.push(format!("{what} was refused: {e}"));
                    Ok(None)
                }
            },
        }
    }

    /// RFC 8555 §7.3.1, decided by [`objects::check_only_return_existing`] (ACME-15): the
    /// scenario's key and a key the server never saw, each with `onlyReturnExisting`.
    async fn only_return_existing(&mut self, _s: &NewAccountStep) -> Result<(), StepError> {
        let payload = json!({ "onlyReturnExisting": true });
        let stranger = self.connect(self.fresh_key("stranger")?).await?;
        let (known, account_url) = {
            let client = self.account("account").await?;
            let url = client.directory().new_account.clone();
            let known = client.post_with(&url, Some(&payload), SignWith::Jwk).await;
            (known, client.account_url().unwrap_or_default())
        };
        let url = stranger.directory().new_account.clone();
        let unknown = stranger
            .post_with(&url, Some(&payload), SignWith::Jwk)
            .await;
        let (known, unknown) = (self.account_answer(known)?, self.account_answer(unknown)?);
        self.judged(objects::check_only_return_existing(
            known.view(),
            &account_url,
            unknown.view(),
        ))
    }

    /// RFC 8555 §7.3: with `meta.termsOfService` in the directory, a newAccount without
    /// `"termsOfServiceAgreed": true` is refused. The RFC names `userActionRequired` where
    /// terms need agreeing (§7.3.3); CAs answer `malformed` too: both pass.
    async fn terms_not_agreed(&mut self, s: &NewAccountStep) -> Result<(), StepError> {
        let client = self.connect(self.fresh_key("no-terms")?).await?;
        if !client.directory().meta["termsOfService"].is_string() {
            return Err(StepError::Unimplemented(
                "the directory's meta names no termsOfService: there are no terms to agree to"
                    .into(),
            ));
        }
        let url = client.directory().new_account.clone();
        let payload = json!({ "contact": self.contact() });
        let answer = client.post_with(&url, Some(&payload), SignWith::Jwk).await;
        // RFC 8555 §7.3 says "MUST reject" and names no error type (userActionRequired,
        // §7.3.3, is for terms that change later): any refusal passes.
        let problems = match answer {
            Ok(r) => vec![format!("an account was made ({})", r.status)],
            Err(e) => match self.unusable(&e) {
                Some(stop) => return Err(stop),
                None => Vec::new(),
            },
        };
        self.verdict(
            &s.req,
            "newAccount without termsOfServiceAgreed refused (any error type)",
            problems,
        )
    }

    /// RFC 8555 §6.2: "If the client sends a JWS signed with an algorithm that the server does
    /// not support ...", and §6.7 "badPublicKey: The JWS was signed by a public key the server
    /// does not support". The `jwk` is the account key with its `y` changed: no point of
    /// P-256, a key no server can accept.
    async fn bad_public_key(&mut self, s: &NewAccountStep) -> Result<(), StepError> {
        let key = self.fresh_key("bad public key")?;
        let client = self.connect(key).await?;
        let mut jwk = client.key().public_jwk();
        let y = jwk["y"].as_str().unwrap_or_default();
        let mut octets = b64url::decode_strict(y).unwrap_or_default();
        if let Some(last) = octets.last_mut() {
            *last ^= 1;
        }
        jwk["y"] = json!(b64url::encode(&octets));
        let url = client.directory().new_account.clone();
        let nonce = client.nonce().await?;
        let mut protected = Map::new();
        protected.insert("alg".into(), json!(client.key().alg()));
        protected.insert("jwk".into(), jwk);
        protected.insert("nonce".into(), json!(nonce));
        protected.insert("url".into(), json!(url));
        let payload = json!({ "termsOfServiceAgreed": true, "contact": self.contact() });
        let body = client
            .key()
            .sign_raw(&protected, &b64url::encode(payload.to_string()))
            .map_err(|e| StepError::Harness(format!("JWS: {e}")))?;
        let answer = client
            .send_raw(&url, body.to_string().into_bytes())
            .await
            .and_then(|a| a);
        let problems = match answer {
            Ok(r) => vec![format!("an account was made ({})", r.status)],
            Err(e) => match self.unusable(&e) {
                Some(stop) => return Err(stop),
                None if e.problem_kind() == Some("badPublicKey") => Vec::new(),
                None => vec![format!("refused as {e}")],
            },
        };
        self.verdict(&s.req, "400 badPublicKey for a key off the curve", problems)
    }

    /// RFC 8555 §7.3.2: "the client sends a POST request to the account URL ... the server
    /// updates the account and returns it"; the account read back shows the new contact.
    pub(super) async fn update_contact(&mut self, s: &ReqStep) -> Result<(), StepError> {
        let domain = self
            .contact()
            .first()
            .and_then(|c| c.rsplit_once('@').map(|(_, d)| d.to_owned()))
            .unwrap_or_else(|| "example.test".into());
        let wanted = format!("mailto:acmeproof-contact@{domain}");
        let (updated, read) = {
            let client = self.account("account").await?;
            let url = client
                .account_url()
                .ok_or_else(|| StepError::Harness("no account URL".into()))?;
            let updated = client
                .post(&url, Some(&json!({ "contact": [wanted.clone()] })))
                .await;
            (updated, client.post(&url, None).await)
        };
        let mut problems = Vec::new();
        for (what, answer) in [("the update", updated), ("the account read back", read)] {
            if let Some(r) = self.answered(answer, what, 200, &mut problems)? {
                let contact = r.json().map(|a| a["contact"].clone()).unwrap_or_default();
                if contact != json!([wanted]) {
                    problems.push(format!("{what} shows contact {contact}"));
                }
            }
        }
        self.verdict(
            &s.req,
            &format!("the account's contact [{wanted:?}]"),
            problems,
        )
    }

    /// RFC 8555 §7.3.5: a keyChange whose inner JWS is signed by the new key over
    /// `{account, oldKey}`. A good one is accepted and the old key is no longer the account's;
    /// one that fails a check is refused (the RFC names no error type: any 4xx) and changes
    /// nothing.
    pub(super) async fn key_change(&mut self, s: &KeyChangeStep) -> Result<(), StepError> {
        let new_key = self.fresh_key("key-change new key")?;
        let stranger = self.fresh_key("key-change other key")?;
        let (answer, old_after, account_url) = {
            let client = self.account("account").await?;
            let url = client.directory().key_change.clone();
            let account_url = client
                .account_url()
                .ok_or_else(|| StepError::Harness("no account URL".into()))?;
            let old_key = match s.fault {
                KeyChangeFault::OldKeyMismatch => stranger.public_jwk(),
                _ => client.key().public_jwk(),
            };
            let inner_payload = json!({ "account": account_url, "oldKey": old_key });
            let mut protected = Map::new();
            protected.insert("jwk".into(), new_key.public_jwk());
            protected.insert(
                "url".into(),
                json!(match s.fault {
                    KeyChangeFault::UrlMismatch => client.directory().new_account.clone(),
                    _ => url.clone(),
                }),
            );
            if s.fault == KeyChangeFault::InnerNonce {
                protected.insert("nonce".into(), json!(client.nonce().await?));
            }
            let inner = new_key
                .sign(protected, Some(&inner_payload))
                .map_err(|e| StepError::Harness(format!("inner JWS: {e}")))?;
            let answer = client.post(&url, Some(&inner)).await;
            let old_after = client.post(&account_url, None).await;
            (answer, old_after, account_url)
        };
        let mut problems = Vec::new();
        if s.fault == KeyChangeFault::None {
            self.answered(answer, "the keyChange", 200, &mut problems)?;
            if let Ok(r) = old_after {
                problems.push(format!(
                    "the old key still reads the account ({} after the rollover)",
                    r.status
                ));
            }
            let renewed = self.connect(new_key).await?;
            renewed.set_account_url(account_url.clone());
            renewed.record();
            match renewed.post(&account_url, None).await {
                Ok(_) => {}
                Err(e) => match self.unusable(&e) {
                    Some(stop) => return Err(stop),
                    None => problems.push(format!("the new key cannot read the account: {e}")),
                },
            }
            // The scenario goes on with the new key.
            self.judge_objects();
            self.client = Some(renewed);
            return self.verdict(
                &s.req,
                "the rollover accepted, the old key refused after it, the new key accepted",
                problems,
            );
        }
        match answer {
            Ok(r) => problems.push(format!("the faulty keyChange was accepted ({})", r.status)),
            Err(e) => {
                if let Some(stop) = self.unusable(&e) {
                    return Err(stop);
                }
                if !matches!(&e, AcmeError::Problem { status, .. } if (400..500).contains(status)) {
                    problems.push(format!("refused with {e} (a 4xx expected)"));
                }
            }
        }
        if let Err(e) = old_after {
            problems.push(format!("the old key no longer reads the account: {e}"));
        }
        self.verdict(
            &s.req,
            "the faulty keyChange refused, the account key unchanged",
            problems,
        )
    }

    /// RFC 8555 §7.6: revokeCert of the last `issue-dns` certificate, signed by `s.by`.
    /// "The server MUST consider at least the following accounts authorized for a given
    /// certificate: the account that issued the certificate; an account that holds
    /// authorizations for all of the identifiers in the certificate", and "MUST also consider a
    /// revocation request valid if it is signed with the private key corresponding to the
    /// public key in the certificate". A second revocation is `alreadyRevoked`, a reason the
    /// server does not allow `badRevocationReason`.
    /// The last `issue-dns` certificate and its end-entity certificate (DER), for the steps
    /// that revoke it or name it by its RFC 9773 identifier.
    pub(super) fn issued_leaf(&self) -> Result<(IssuedCert, Vec<u8>), StepError> {
        let cert = self
            .issued
            .clone()
            .ok_or_else(|| StepError::Harness("no certificate yet: issue-dns first".into()))?;
        let leaf = crate::mua::certificate::pem_chain(&cert.issued.chain_pem)
            .ok()
            .and_then(|c| c.into_iter().next())
            .ok_or_else(|| StepError::Harness("the issued chain has no certificate".into()))?;
        Ok((cert, leaf))
    }

    pub(super) async fn revoke(&mut self, s: &RevokeStep) -> Result<(), StepError> {
        let (cert, leaf) = self.issued_leaf()?;
        let mut payload = json!({ "certificate": b64url::encode(&leaf) });
        if let Some(reason) = s.reason {
            payload["reason"] = json!(reason);
        }
        let answer = match s.by {
            RevokeBy::Account => {
                let client = self.account("account").await?;
                let url = client.directory().revoke_cert.clone();
                client.post(&url, Some(&payload)).await
            }
            RevokeBy::CertificateKey => {
                let key = AccountKey::from_pem(&cert.issued.key_pem)
                    .map_err(|e| StepError::Harness(format!("the certificate key: {e}")))?;
                let client = self.account("account").await?;
                let url = client.directory().revoke_cert.clone();
                let nonce = client.nonce().await?;
                let body = key
                    .sign_request(SignWith::Jwk, &nonce, &url, Some(&payload))
                    .map_err(|e| StepError::Harness(format!("JWS: {e}")))?;
                client
                    .send_raw(&url, body.to_string().into_bytes())
                    .await
                    .and_then(|a| a)
            }
            RevokeBy::AuthorizedAccount => {
                // Another account proves every name of the certificate first (a whole dns-01
                // issuance of its own leaves it holding valid authorizations for them).
                let other = self.connect(self.fresh_key("revoking account")?).await?;
                other.new_account(&self.contact()).await?;
                let names: Vec<&str> = cert.names.iter().map(String::as_str).collect();
                if let Err(e) =
                    crate::acme::flow::issue_dns01(&other, &self.world.dns, &names, WAIT).await
                {
                    return Err(self.broken_flow(&e).unwrap_or_else(|| {
                        StepError::Harness(format!("the other account's issuance: {e}"))
                    }));
                }
                let url = other.directory().revoke_cert.clone();
                other.post(&url, Some(&payload)).await
            }
        };
        let by = match s.by {
            RevokeBy::Account => "the account holding the certificate",
            RevokeBy::CertificateKey => "the certificate's key",
            RevokeBy::AuthorizedAccount => "an account holding authorizations for every name",
        };
        let problems = match (&s.error, answer) {
            (None, Ok(_)) => Vec::new(),
            (Some(want), Ok(r)) => vec![format!("revoked ({}), {want} expected", r.status)],
            (want, Err(e)) => match self.unusable(&e) {
                Some(stop) => return Err(stop),
                None => match want {
                    Some(want) if one_of(want, e.problem_kind().unwrap_or_default()) => Vec::new(),
                    Some(want) => vec![format!("{e} ({want} expected)")],
                    None => vec![format!("refused: {e}")],
                },
            },
        };
        let expected = match &s.error {
            None => format!("revokeCert signed by {by} accepted"),
            Some(want) => format!("revokeCert signed by {by} refused with {want}"),
        };
        self.verdict(&s.req, &expected, problems)
    }

    /// RFC 8555 §7.1.2.1, decided by [`objects::check_orders_list`] (ACME-36): the scenario's
    /// order (of `order` or `issue-dns`) looked for in the account's `orders` list.
    pub(super) async fn orders_list(&mut self, s: &ReqStep) -> Result<(), StepError> {
        let order_url = match (&self.ordered, &self.issued) {
            (Some(o), _) => o.order_url.clone(),
            (None, Some(i)) => i.issued.order_url.clone(),
            _ => return Err(StepError::Harness("no order yet: order first".into())),
        };
        let (account, order) = {
            let client = self.account("account").await?;
            let url = client
                .account_url()
                .ok_or_else(|| StepError::Harness("no account URL".into()))?;
            (client.get(&url).await?, client.get(&order_url).await?)
        };
        let Some(orders_url) = account["orders"].as_str() else {
            // RFC 8555 §7.1.2: "orders (required, string): A URL from which a list of orders
            // submitted by this account can be fetched".
            return self.fail(expectation(
                &s.req,
                "an `orders` URL in the account object (RFC 8555 §7.1.2)",
                format!("orders {}", account["orders"]),
            ));
        };
        let list = self.client()?.get(orders_url).await?;
        let listed = list["orders"]
            .as_array()
            .is_some_and(|l| l.iter().any(|u| u.as_str() == Some(order_url.as_str())));
        let status = order["status"].as_str().unwrap_or_default().to_owned();
        self.judged(objects::check_orders_list(&order_url, &status, listed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_values_are_closed_sets() {
        for (text, ok) in [
            (r#"case = "created""#, true),
            (r#"case = "only-return-existing""#, true),
            (r#"case = "terms-not-agreed""#, true),
            (r#"case = "create""#, false),
        ] {
            let parsed: Result<NewAccountStep, _> =
                toml::from_str(&format!("{text}\nreq = \"ACME-15\""));
            assert_eq!(parsed.is_ok(), ok, "{text}");
        }
        let parsed: Result<RevokeStep, _> = toml::from_str("by = \"key\"\nreq = \"ACME-32\"");
        assert!(parsed.is_err());
        let parsed: KeyChangeStep = toml::from_str("req = \"ACME-33\"").expect("default fault");
        assert_eq!(parsed.fault, KeyChangeFault::None);
    }
}
