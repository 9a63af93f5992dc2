//! ARI (RFC 9773): the renewalInfo of a certificate the scenario got, and newOrder's
//! `replaces`. ARI is an optional extension: a server whose directory names no `renewalInfo`
//! is `unimplemented` here, not failed.

use acmeproof_protocol::ari;
use serde_json::{Map, Value, json};

use super::{Context, StepError, expectation, one_of};
use crate::scenario::model::ReqStep;

impl Context<'_> {
    /// The directory's `renewalInfo` URL, or why the step cannot run.
    async fn renewal_info_url(&mut self) -> Result<String, StepError> {
        let http = self.account("account").await?.http().clone();
        let answer = http
            .get(self.acme_server().0)
            .send()
            .await
            .map_err(|e| StepError::Harness(e.to_string()))?;
        let body = crate::acme::client::read_bounded(answer).await?;
        let directory: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match directory["renewalInfo"].as_str() {
            Some(url) => Ok(url.to_owned()),
            None => Err(StepError::Unimplemented(
                "the directory names no renewalInfo: the server does not do ARI (RFC 9773)".into(),
            )),
        }
    }

    /// The RFC 9773 §4.1 identifier of the last `issue-dns` certificate, and its names.
    fn issued_cert_id(&self) -> Result<(String, Vec<String>), StepError> {
        let (cert, leaf) = self.issued_leaf()?;
        let id = ari::cert_id_of(&leaf).ok_or_else(|| {
            StepError::Harness(
                "the certificate has no Authority Key Identifier to name it by (RFC 9773 §4.1)"
                    .into(),
            )
        })?;
        Ok((id.encode(), cert.names.clone()))
    }

    /// RFC 9773 §4.2: "the client sends an unauthenticated GET request to a path under the
    /// server's renewalInfo URL"; the answer is judged by [`ari::check_renewal_info`].
    pub(super) async fn renewal_info(&mut self, s: &ReqStep) -> Result<(), StepError> {
        let base = self.renewal_info_url().await?;
        let (id, _) = self.issued_cert_id()?;
        let url = format!("{}/{id}", base.trim_end_matches('/'));
        let http = self.client()?.http().clone();
        let answer = http
            .get(&url)
            .send()
            .await
            .map_err(|e| StepError::Harness(e.to_string()))?;
        let status = answer.status().as_u16();
        let body = crate::acme::client::read_bounded(answer).await?;
        if status != 200 {
            return self.fail(expectation(
                &s.req,
                format!("200 and a renewal window for GET {url}"),
                format!("{status} {}", String::from_utf8_lossy(&body)),
            ));
        }
        let info: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let found = ari::check_renewal_info(&info);
        if found.is_empty() {
            return Ok(());
        }
        let detail = format!("{found:?}");
        self.findings.extend(found);
        Err(StepError::Expectation(detail))
    }

    /// RFC 9773 §5: a newOrder naming the certificate in `replaces` makes an order that says
    /// so ([`ari::check_replaces_reflected`]); a second one while the first is not invalid is
    /// refused, "the server MUST return an error of type "alreadyReplaced"" (409).
    pub(super) async fn replace(&mut self, s: &ReqStep) -> Result<(), StepError> {
        self.renewal_info_url().await?;
        let (id, names) = self.issued_cert_id()?;
        let identifiers: Vec<Value> = names
            .iter()
            .map(|n| json!({ "type": "dns", "value": n }))
            .collect();
        let payload = json!({ "identifiers": identifiers, "replaces": id });
        let (first, second) = {
            let client = self.client()?;
            let first = client.new_order_with(&payload, &Map::new()).await;
            (first, client.new_order_with(&payload, &Map::new()).await)
        };
        match first {
            Ok((_, order)) => {
                let found = ari::check_replaces_reflected(&order, &id);
                if !found.is_empty() {
                    let detail = format!("{found:?}");
                    self.findings.extend(found);
                    return Err(StepError::Expectation(detail));
                }
            }
            Err(e) => {
                if let Some(stop) = self.unusable(&e) {
                    return Err(stop);
                }
                return self.fail(expectation(
                    &s.req,
                    format!("an order replacing {id}"),
                    e.to_string(),
                ));
            }
        }
        match second {
            Err(crate::acme::AcmeError::Problem {
                status: 409, kind, ..
            }) if one_of("alreadyReplaced", &kind) => Ok(()),
            Err(e) => {
                if let Some(stop) = self.unusable(&e) {
                    return Err(stop);
                }
                self.fail(expectation(
                    &s.req,
                    "409 alreadyReplaced for a second order replacing the same certificate",
                    e.to_string(),
                ))
            }
            Ok((url, _)) => self.fail(expectation(
                &s.req,
                "409 alreadyReplaced for a second order replacing the same certificate",
                format!("a second order {url}"),
            )),
        }
    }
}
