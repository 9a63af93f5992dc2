//! The RFC 8555 objects a server shows the harness's client, each held to its rules as it comes
//! in (an order also against itself as first seen, ACME-19; a challenge's token, ACME-28): every
//! order, authorization and challenge the client fetched or was answered with, in any
//! step, and every certificate against the CSR it answers (protocol::objects,
//! protocol::pki::smime_profile).
//!
//! The client keeps its answers ([`crate::acme::AcmeClient::record`]); after each step the
//! runner hands them to an [`ObjectJudge`], which knows from the earlier ones what each URL
//! is (an order from newOrder's Location, its authorizations and finalize from the order, the
//! challenges from the authorizations, the certificate from the valid order).

use std::collections::{HashMap, HashSet};

use acmeproof_protocol::objects::{self, Kind};
use acmeproof_protocol::pki::smime_profile::check_issued_certificate;
use acmeproof_protocol::{Finding, Findings, Level};
use serde_json::Value;

use crate::acme::Observed;

/// What one scenario's client has been shown so far.
#[derive(Debug, Default)]
pub(super) struct ObjectJudge {
    /// Order URL → its identifiers (type, lower-cased value).
    orders: HashMap<String, Vec<(String, String)>>,
    /// Order URL → the newOrder answer, until a POST-as-GET of the URL is seen.
    created: HashMap<String, Value>,
    /// finalize URL → order URL.
    finalize: HashMap<String, String>,
    /// finalize URL → the CSR (DER) POSTed to it.
    csr: HashMap<String, Vec<u8>>,
    /// Authorization URL → the order URL that listed it.
    authz: HashMap<String, String>,
    /// Challenge URLs.
    challenges: HashSet<String>,
    /// Every email-reply-00 token seen, to tell a reused one (SMIME-5).
    tokens: objects::TokenLedger,
    /// Order URL → the order as first seen, for ACME-19 (its arrays never change).
    first_seen: HashMap<String, Value>,
    /// Certificate URL → order URL.
    certificates: HashMap<String, String>,
    /// URL → the kind and status it was last seen in.
    status: HashMap<String, (Kind, String)>,
    /// Findings already made (polling shows the same object many times: one finding each).
    made: HashSet<(&'static str, String, String)>,
}

impl ObjectJudge {
    /// Judges `observed` (in the order the client got them) from a server whose newOrder URL is
    /// `new_order`; `dropped` answers did not fit the client's log.
    pub(super) fn judge(
        &mut self,
        new_order: &str,
        observed: Vec<Observed>,
        dropped: usize,
    ) -> Findings {
        let mut out = Findings::new();
        for o in observed {
            self.one(new_order, &o, &mut out);
        }
        if dropped > 0 {
            tracing::warn!("{dropped} ACME answers were not judged: more than the log holds");
        }
        let mut kept = Findings::new();
        for f in out.as_slice() {
            if self
                .made
                .insert((f.req, f.expected.clone(), f.observed.clone()))
            {
                kept.push(lifted(f.clone()));
            }
        }
        kept
    }

    fn one(&mut self, new_order: &str, o: &Observed, out: &mut Findings) {
        let json = || serde_json::from_slice::<Value>(&o.body).ok();
        if o.url == new_order {
            let (Some(order), Some(location)) = (json(), o.location.clone()) else {
                return;
            };
            self.created.insert(location.clone(), order.clone());
            self.order(&location, &order, out);
        } else if let Some(order_url) = self.finalize.get(&o.url).cloned() {
            if let Some(csr) = o.payload.as_ref().and_then(|p| p["csr"].as_str())
                && let Ok(der) = acmeproof_protocol::b64url::decode_strict(csr)
            {
                self.csr.insert(o.url.clone(), der);
            }
            if let Some(order) = json() {
                self.order(&order_url, &order, out);
            }
        } else if self.orders.contains_key(&o.url) {
            let Some(order) = json() else { return };
            if o.payload.is_none()
                && let Some(created) = self.created.remove(&o.url)
            {
                out.extend(objects::check_new_order_location(&o.url, &created, &order));
            }
            self.order(&o.url, &order, out);
        } else if let Some(order_url) = self.authz.get(&o.url).cloned() {
            let Some(authz) = json() else { return };
            let ids = self.orders.get(&order_url).map(Vec::as_slice);
            out.extend(objects::check_authorization_object(&authz, ids));
            self.moved(Kind::Authorization, &o.url, &authz, out);
            for challenge in authz["challenges"].as_array().into_iter().flatten() {
                self.challenge(challenge, out);
            }
        } else if self.challenges.contains(&o.url) {
            if let Some(challenge) = json() {
                self.challenge(&challenge, out);
            }
        } else if let Some(order_url) = self.certificates.get(&o.url).cloned() {
            self.certificate(&order_url, o, out);
        }
    }

    fn order(&mut self, url: &str, order: &Value, out: &mut Findings) {
        out.extend(objects::check_order_object(order));
        match self.first_seen.get(url) {
            Some(first) => out.extend(objects::check_order_unchanged(url, first, order)),
            None => {
                self.first_seen.insert(url.to_owned(), order.clone());
            }
        }
        self.moved(Kind::Order, url, order, out);
        let ids = objects::order::identifier_set(order);
        if !ids.is_empty() {
            self.orders.insert(url.to_owned(), ids);
        }
        for a in order["authorizations"].as_array().into_iter().flatten() {
            if let Some(a) = a.as_str() {
                self.authz.insert(a.to_owned(), url.to_owned());
            }
        }
        if let Some(f) = order["finalize"].as_str() {
            self.finalize.insert(f.to_owned(), url.to_owned());
        }
        if let Some(c) = order["certificate"].as_str() {
            self.certificates.insert(c.to_owned(), url.to_owned());
        }
    }

    fn challenge(&mut self, challenge: &Value, out: &mut Findings) {
        out.extend(objects::check_challenge_object(challenge));
        out.extend(objects::check_challenge_token(challenge));
        out.extend(self.tokens.record(challenge));
        if let Some(url) = challenge["url"].as_str() {
            self.challenges.insert(url.to_owned());
            self.moved(Kind::Challenge, url, challenge, out);
        }
    }

    /// The §7.1.6 state machine: `object` at `url` after what it was last seen as.
    fn moved(&mut self, kind: Kind, url: &str, object: &Value, out: &mut Findings) {
        let Some(to) = object["status"].as_str() else {
            return;
        };
        if let Some((_, from)) = self.status.get(url) {
            out.extend(objects::check_transition(kind, url, from, to));
        }
        self.status.insert(url.to_owned(), (kind, to.to_owned()));
    }

    /// Any order's certificate download is a PEM chain (ACME-23); an S/MIME order's
    /// certificate is held against the CSR its finalize got. Other orders
    /// (draft-ietf-acme-email-tls, dns-01) have their own profile, checked by their steps: an
    /// RFC 7817 certificate rightly carries SRV-IDs its CSR did not ask for.
    fn certificate(&self, order_url: &str, o: &Observed, out: &mut Findings) {
        let pem = String::from_utf8_lossy(&o.body);
        let chain = crate::mua::certificate::pem_chain(&pem).unwrap_or_default();
        let kind = o.content_type.as_deref().unwrap_or_default();
        let media = kind.split(';').next().unwrap_or_default().trim();
        if chain.is_empty() || !media.eq_ignore_ascii_case("application/pem-certificate-chain") {
            let start: String = pem
                .chars()
                .take(40)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            out.add(
                acmeproof_protocol::requirements::ACME_23,
                "the certificate as application/pem-certificate-chain (RFC 8555 §7.4.2, §9.1)",
                format!(
                    "{} certificate(s) in a {:?} answer beginning {start:?}",
                    chain.len(),
                    kind
                ),
            );
            return;
        }
        let smime = self
            .orders
            .get(order_url)
            .is_some_and(|ids| !ids.is_empty() && ids.iter().all(|(t, _)| t == "email"));
        let csr = self
            .finalize
            .iter()
            .find(|(_, order)| order.as_str() == order_url)
            .and_then(|(f, _)| self.csr.get(f));
        let (true, Some(csr)) = (smime, csr) else {
            return;
        };
        if let Some(leaf) = chain.first() {
            out.extend(check_issued_certificate(leaf, csr));
        }
    }
}

/// A rule the catalogue calls descriptive is what the judge derives a MUST from (an
/// authorization outside its order, an order going back, a certificate other than the CSR's),
/// as the runner's expectations do.
fn lifted(f: Finding) -> Finding {
    if f.level == Level::Info {
        f.at(Level::Must)
    } else {
        f
    }
}
