//! TSIG (RFC 8945) keys, request verification and response signing, on hickory-proto's
//! `TSigner` and `TSigResponseContext`.

use base64::Engine as _;
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::{Name, TSigResponseContext, TSigner};
use hickory_server::zone_handler::MessageRequest;
use serde::{Deserialize, Serialize};

/// RFC 8945 §10: 300 seconds is the recommended fudge.
const FUDGE: u16 = 300;

/// HMAC algorithms the mock accepts. hickory-proto 0.26 computes only these three; HMAC-MD5 and
/// HMAC-SHA1 (RFC 8945 §6 "MUST"/"deprecated") are unknown to it, so a client using them gets
/// NOTAUTH/BADKEY. certbot's rfc2136 plugin must be configured with one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TsigAlgorithmSpec {
    /// `hmac-sha256` (RFC 8945 §6 "MUST").
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// `hmac-sha384`.
    #[serde(rename = "hmac-sha384")]
    HmacSha384,
    /// `hmac-sha512`.
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl TsigAlgorithmSpec {
    fn hickory(self) -> TsigAlgorithm {
        match self {
            TsigAlgorithmSpec::HmacSha256 => TsigAlgorithm::HmacSha256,
            TsigAlgorithmSpec::HmacSha384 => TsigAlgorithm::HmacSha384,
            TsigAlgorithmSpec::HmacSha512 => TsigAlgorithm::HmacSha512,
        }
    }

    /// The algorithm name as nsupdate `-y` and BIND key files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithmSpec::HmacSha256 => "hmac-sha256",
            TsigAlgorithmSpec::HmacSha384 => "hmac-sha384",
            TsigAlgorithmSpec::HmacSha512 => "hmac-sha512",
        }
    }
}

/// A TSIG key as configuration writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TsigKeySpec {
    /// Key name (a domain name, e.g. `acme-update.`).
    pub name: String,
    /// HMAC algorithm.
    pub algorithm: TsigAlgorithmSpec,
    /// The shared secret, standard base64.
    pub secret: String,
}

/// Why a [`TsigKeySpec`] is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsigConfigError {
    /// The key name is not a domain name.
    #[error("tsig key name {0:?}: {1}")]
    Name(String, String),
    /// The secret is not base64, or empty.
    #[error("tsig key {0:?}: secret: {1}")]
    Secret(String, String),
}

impl TsigKeySpec {
    /// The `-y` argument for nsupdate/dig: `hmac-sha256:NAME:SECRET`.
    pub fn nsupdate_arg(&self) -> String {
        format!("{}:{}:{}", self.algorithm.as_str(), self.name, self.secret)
    }

    /// A hickory signer for this key (clients and tests use it to sign requests).
    pub fn signer(&self) -> Result<TSigner, TsigConfigError> {
        let name = super::records::parse_name(&self.name)
            .map_err(|e| TsigConfigError::Name(self.name.clone(), e))?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(self.secret.trim())
            .map_err(|e| TsigConfigError::Secret(self.name.clone(), e.to_string()))?;
        if secret.is_empty() {
            return Err(TsigConfigError::Secret(self.name.clone(), "empty".into()));
        }
        TSigner::new(secret, self.algorithm.hickory(), name, FUDGE)
            .map_err(|e| TsigConfigError::Secret(self.name.clone(), e.to_string()))
    }
}

/// What checking a request's TSIG gave.
pub(crate) enum TsigCheck {
    /// No TSIG record in the request.
    Unsigned,
    /// Verified: sign the response(s) with this.
    Valid {
        key_name: String,
        response: ResponseSigner,
    },
    /// Present but failed: answer NOTAUTH with this (unsigned, RFC 8945 §5.3.2) TSIG.
    Invalid {
        key_name: String,
        error: TsigError,
        context: TSigResponseContext,
    },
}

impl TsigCheck {
    /// The signer for the response, when the request was verified.
    pub(crate) fn into_signer(self) -> Option<ResponseSigner> {
        match self {
            TsigCheck::Valid { response, .. } => Some(response),
            TsigCheck::Unsigned | TsigCheck::Invalid { .. } => None,
        }
    }
}

/// How to sign the response to a verified request (RFC 8945 §5.3: with the same key, the
/// request MAC folded in). hickory's `TSigResponseContext` is single-use and not `Clone`, so
/// this keeps its inputs and makes a fresh one per signature.
#[derive(Clone)]
pub(crate) struct ResponseSigner {
    id: u16,
    time: u64,
    signer: TSigner,
    request_mac: Vec<u8>,
}

impl ResponseSigner {
    /// A context that signs one response (`TSigResponseContext::sign`).
    pub(crate) fn context(&self) -> TSigResponseContext {
        TSigResponseContext::new(
            self.id,
            self.time,
            self.signer.clone(),
            self.request_mac.clone(),
            None,
        )
    }
}

/// RFC 8945 §5.2: check the key (BADKEY), then the MAC (BADSIG), then the time (BADTIME).
pub(crate) fn check_request(
    signer: Option<&TSigner>,
    request: &MessageRequest,
    raw: &[u8],
    now: u64,
) -> TsigCheck {
    let Some(sig) = request.signature.as_deref() else {
        return TsigCheck::Unsigned;
    };
    let id = request.metadata.id;
    let key_name = sig.name.to_ascii();
    let unknown = |error| TsigCheck::Invalid {
        key_name: key_name.clone(),
        error,
        context: TSigResponseContext::unknown_key(id, now, sig.name.clone()),
    };
    let Some(signer) = signer else {
        return unknown(TsigError::BadKey);
    };
    if !same_name(&sig.name, signer.signer_name()) || sig.data.algorithm != *signer.algorithm() {
        return unknown(TsigError::BadKey);
    }
    // hickory computes `time - fudge` without checking; a hostile time below the fudge would
    // overflow, so such a request is rejected here as BADTIME before hickory sees it.
    let (time, fudge) = (sig.data.time, u64::from(sig.data.fudge));
    if time < fudge || now + fudge < time || time + fudge < now {
        // RFC 8945 §5.2.3: a bad time is reported in a *signed* response.
        return TsigCheck::Invalid {
            key_name,
            error: TsigError::BadTime,
            context: TSigResponseContext::new(
                id,
                now,
                signer.clone(),
                sig.data.mac.clone(),
                Some(TsigError::BadTime),
            ),
        };
    }
    match signer.verify_message_byte(raw, None, true) {
        Ok((request_mac, _, _)) => TsigCheck::Valid {
            key_name,
            response: ResponseSigner {
                id,
                time: now,
                signer: signer.clone(),
                request_mac,
            },
        },
        Err(e) => {
            tracing::info!(error = %e, key = %key_name, "TSIG verification failed");
            TsigCheck::Invalid {
                key_name,
                error: TsigError::BadSig,
                context: TSigResponseContext::bad_signature(id, now, signer.clone()),
            }
        }
    }
}

fn same_name(a: &Name, b: &Name) -> bool {
    a.to_ascii()
        .trim_end_matches('.')
        .eq_ignore_ascii_case(b.to_ascii().trim_end_matches('.'))
}
