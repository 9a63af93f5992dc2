//! Accounts (RFC 8555 §7.3): newAccount, account update and deactivation, the order list, and
//! key rollover.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::jws;
use super::model::{Account, AccountStatus, OrderStatus};
use super::problem::{Problem, ProblemType};
use super::resources::Authenticated;
use super::server::{CaShared, Reply};
use super::urls::paths;
use crate::protocol::address::parse_address;

/// POST newAccount (RFC 8555 §7.3, ACME-15/16).
pub fn new_account(ca: &Arc<CaShared>, auth: &Authenticated) -> Result<Reply, Problem> {
    let payload = auth.object("newAccount takes a JSON object, not POST-as-GET")?;
    if let Some(existing) = &auth.account {
        // RFC 8555 §7.3.1: an existing key gets 200 and the account URL; fields are ignored.
        return Ok(Reply::json(StatusCode::OK, &existing.to_json(&ca.urls))
            .location(ca.urls.account(&existing.id)));
    }
    if payload.get("onlyReturnExisting") == Some(&Value::Bool(true)) {
        return Err(Problem::new(
            ProblemType::AccountDoesNotExist,
            "no account exists for this key (onlyReturnExisting)",
        ));
    }
    let agreed = payload.get("termsOfServiceAgreed") == Some(&Value::Bool(true));
    // Knob ignore_terms_of_service breaks that on purpose.
    if ca.config.terms_of_service && !agreed && !ca.knobs().ignore_terms_of_service {
        // RFC 8555 §7.3 (ACME-16): with terms in the directory, agreement is required.
        let mut p = Problem::malformed(format!(
            "the terms of service at {} must be agreed to (\"termsOfServiceAgreed\": true)",
            ca.urls.at(paths::TERMS)
        ))
        .violates(crate::protocol::requirements::ACME_16);
        p.links.push(format!(
            "<{}>;rel=\"terms-of-service\"",
            ca.urls.at(paths::TERMS)
        ));
        return Err(p);
    }
    let contact = contacts(payload.get("contact"))?;
    let eab_kid = external_binding(ca, auth, payload.get("externalAccountBinding"))?;
    let thumbprint = acmeproof_protocol::jwk::thumbprint(&auth.jwk)
        .map_err(|e| Problem::new(ProblemType::BadPublicKey, e.to_string()))?;
    let account = Account {
        id: ca.new_id(),
        jwk: auth.jwk.clone(),
        thumbprint: thumbprint.clone(),
        status: AccountStatus::Valid,
        contact,
        terms_agreed: agreed,
        eab_kid,
        orders: Vec::new(),
    };
    let body = account.to_json(&ca.urls);
    let url = ca.urls.account(&account.id);
    let mut store = ca.store();
    if let Some(existing) = store.by_thumbprint.get(&thumbprint).cloned() {
        // Two newAccount requests with one key raced; the first one won.
        if let Some(acc) = store.account(&existing) {
            return Ok(Reply::json(StatusCode::OK, &acc.to_json(&ca.urls))
                .location(ca.urls.account(&existing)));
        }
    }
    store.room_for_account()?;
    store.by_thumbprint.insert(thumbprint, account.id.clone());
    store.accounts.insert(account.id.clone(), Arc::new(account));
    Ok(Reply::json(StatusCode::CREATED, &body).location(url))
}

/// RFC 8555 §7.3.4: checks the binding, or requires one when configured.
fn external_binding(
    ca: &CaShared,
    auth: &Authenticated,
    eab: Option<&Value>,
) -> Result<Option<String>, Problem> {
    let config = ca.config.eab.as_ref();
    match eab {
        None if config.is_some_and(|c| c.required) => Err(Problem::new(
            ProblemType::ExternalAccountRequired,
            "this CA requires an external account binding (RFC 8555 §7.3.4)",
        )),
        None => Ok(None),
        Some(binding) => {
            let Some(config) = config else {
                return Err(Problem::malformed(
                    "this CA has no external accounts: externalAccountBinding is not accepted",
                ));
            };
            let kid = jws::verify_external_account_binding(
                binding,
                auth.jws.url(),
                &auth.jwk,
                |kid: &str| {
                    config
                        .keys
                        .get(kid)
                        .and_then(|k| acmeproof_protocol::b64url::decode_lenient(k).ok())
                },
            )?;
            Ok(Some(kid))
        }
    }
}

/// RFC 8555 §7.3: contact URLs. Only `mailto:` with one address and no header fields.
fn contacts(value: Option<&Value>) -> Result<Vec<String>, Problem> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(list) = value.as_array() else {
        return Err(Problem::malformed("\"contact\" must be an array of URLs"));
    };
    if list.len() > 10 {
        return Err(Problem::new(
            ProblemType::InvalidContact,
            "at most 10 contact URLs",
        ));
    }
    list.iter()
        .map(|c| {
            let s = c
                .as_str()
                .ok_or_else(|| Problem::malformed("each contact must be a string"))?;
            let Some(addr) = s.strip_prefix("mailto:") else {
                return Err(Problem::new(
                    ProblemType::UnsupportedContact,
                    format!("{s}: only mailto: contacts are supported (RFC 8555 §7.3)"),
                ));
            };
            // RFC 8555 §7.3: hfields and more than one addr-spec SHOULD be rejected.
            if addr.contains('?') || addr.contains(',') {
                return Err(Problem::new(
                    ProblemType::InvalidContact,
                    format!("{s}: a mailto contact must be one address without header fields"),
                ));
            }
            parse_address(addr)
                .map_err(|e| Problem::new(ProblemType::InvalidContact, format!("{s}: {e}")))?;
            Ok(s.to_owned())
        })
        .collect()
}

fn own_account<'a>(
    ca: &CaShared,
    auth: &'a Authenticated,
    id: &str,
) -> Result<&'a Account, Problem> {
    let account = auth.account()?;
    if account.id != id {
        return Err(Problem::unauthorized(format!(
            "the request is signed for {}, not for {}",
            ca.urls.account(&account.id),
            ca.urls.account(id)
        )));
    }
    Ok(account)
}

/// POST to an account URL: read (POST-as-GET), update contacts, or deactivate (§7.3.2, §7.3.6).
pub fn account(ca: &Arc<CaShared>, auth: &Authenticated, id: &str) -> Result<Reply, Problem> {
    own_account(ca, auth, id)?;
    let mut store = ca.store();
    if !auth.is_post_as_get() {
        let payload = auth.object("")?;
        let status = payload.get("status");
        let contact = match payload.get("contact") {
            Some(c) => Some(contacts(Some(c))?),
            None => None,
        };
        let Some(account) = store.accounts.get_mut(id).map(Arc::make_mut) else {
            return Err(super::state::not_found("account"));
        };
        match status {
            None => {}
            Some(Value::String(s)) if s == "deactivated" => {
                account.status = AccountStatus::Deactivated
            }
            // RFC 8555 §7.3.2: other status changes are not the client's to make.
            Some(other) => {
                return Err(Problem::malformed(format!(
                    "a client may only set \"status\" to \"deactivated\", not {other}"
                )));
            }
        }
        if let Some(contact) = contact {
            account.contact = contact;
        }
    }
    let account = store
        .account(id)
        .ok_or_else(|| super::state::not_found("account"))?;
    Ok(Reply::json(StatusCode::OK, &account.to_json(&ca.urls)))
}

/// POST-as-GET an account's order list (RFC 8555 §7.1.2.1).
pub fn orders(ca: &Arc<CaShared>, auth: &Authenticated, id: &str) -> Result<Reply, Problem> {
    let account = own_account(ca, auth, id)?;
    if !auth.is_post_as_get() {
        return Err(Problem::malformed(
            "the order list is read with POST-as-GET",
        ));
    }
    let now = ca.clock.now();
    let mut store = ca.store();
    let ids = store
        .account(&account.id)
        .map(|a| a.orders.clone())
        .unwrap_or_default();
    // RFC 8555 §7.1.2.1: "The server SHOULD include pending orders and SHOULD NOT include
    // orders that are invalid in the array of URLs" (ACME-36); expiry is applied first, so an
    // order that expired is left out too.
    let list: Vec<String> = ids
        .iter()
        .filter(|id| {
            store
                .order_now(id, now)
                .is_some_and(|o| o.status != OrderStatus::Invalid)
        })
        .map(|id| ca.urls.order(id))
        .collect();
    Ok(Reply::json(StatusCode::OK, &json!({ "orders": list })))
}

/// POST keyChange (RFC 8555 §7.3.5, ACME-33).
pub fn key_change(ca: &Arc<CaShared>, auth: &Authenticated, url: &str) -> Result<Reply, Problem> {
    let account = auth.account()?.clone();
    let inner = match auth.jws.payload() {
        jws::Payload::Json(v) => v,
        jws::Payload::PostAsGet => {
            return Err(Problem::malformed(
                "keyChange carries the inner JWS as its payload",
            ));
        }
    };
    let account_url = ca.urls.account(&account.id);
    let accept_inner_nonce = ca.knobs().accept_keychange_inner_nonce;
    let new_jwk =
        jws::verify_key_change_with(inner, url, &account_url, &account.jwk, accept_inner_nonce)
            .map_err(|p| p.violates(crate::protocol::requirements::ACME_33))?;
    let thumbprint = acmeproof_protocol::jwk::thumbprint(&new_jwk)
        .map_err(|e| Problem::new(ProblemType::BadPublicKey, e.to_string()))?;
    let mut store = ca.store();
    if let Some(other) = store.by_thumbprint.get(&thumbprint) {
        // RFC 8555 §7.3.5: the new key already belongs to an account → 409 with its URL.
        let other_url = ca.urls.account(other);
        let mut p = Problem::malformed(format!("the new key is already in use by {other_url}"))
            .with_status(409);
        p.location = Some(other_url);
        return Err(p);
    }
    store.by_thumbprint.remove(&account.thumbprint);
    store
        .by_thumbprint
        .insert(thumbprint.clone(), account.id.clone());
    let Some(stored) = store.accounts.get_mut(&account.id).map(Arc::make_mut) else {
        return Err(super::state::not_found("account"));
    };
    stored.jwk = new_jwk;
    stored.thumbprint = thumbprint;
    Ok(Reply::json(StatusCode::OK, &stored.to_json(&ca.urls)).location(account_url))
}
