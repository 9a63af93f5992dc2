//! Parsing a request body into a flattened JWS and its ACME protected header
//! (RFC 8555 §6.2, §6.4, §6.5; RFC 7515 §7.2.2).

use acmeproof_protocol::b64url;
use serde_json::{Map, Value};

use super::algorithms::check_request_alg;
use crate::ca::problem::{Problem, ProblemType};
use crate::protocol::requirements as req;

/// The media type of ACME request bodies (RFC 8555 §6.2).
pub const JOSE_JSON: &str = "application/jose+json";

/// The largest request body accepted; larger bodies get 413 `malformed`. The biggest honest
/// ACME request (a finalize with an RSA-8192 CSR, or a keyChange) is far below this.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// RFC 8555 §6.2: "... MUST have the Content-Type header field set to "application/jose+json".
/// If a request does not meet this requirement, then the server MUST return a response with
/// status code 415 (Unsupported Media Type)." (ACME-6). Media type parameters are allowed and
/// the type is compared case-insensitively (RFC 9110 §8.3.1).
pub fn check_content_type(content_type: Option<&str>) -> Result<(), Problem> {
    let essence = content_type
        .map(|ct| ct.split(';').next().unwrap_or("").trim())
        .unwrap_or("");
    if essence.eq_ignore_ascii_case(JOSE_JSON) {
        Ok(())
    } else {
        Err(Problem::malformed(format!(
            "Content-Type must be {JOSE_JSON}, got {:?} (RFC 8555 §6.2)",
            content_type.unwrap_or("(none)")
        ))
        .with_status(415)
        .violates(req::ACME_6))
    }
}

/// A JWS in flattened JSON serialization, structurally checked, with every part decoded.
///
/// Checks (all `malformed`): a JSON object; no `signatures` (general serialization) and no
/// unprotected `header` (RFC 8555 §6.2); `protected`, `payload` and `signature` present and
/// strings (no detached payload); each strict base64url (RFC 8555 §6.1, ACME-13); `protected`
/// a JSON object with a string `alg` (RFC 7515 §4.1.1); no `crit` (RFC 7515 §4.1.11); no
/// `b64: false` (RFC 8555 §6.2 forbids RFC 7797).
///
/// No ACME header rules (nonce, url, jwk/kid, which alg) are applied here: see [`ParsedJws`].
#[derive(Debug, Clone, PartialEq)]
pub struct FlattenedJws {
    protected_b64: String,
    payload_b64: String,
    signature_b64: String,
    protected: Map<String, Value>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    alg: String,
}

impl FlattenedJws {
    /// Checks and decodes a JWS given as a JSON value (a request body, or the inner JWS of
    /// keyChange or an `externalAccountBinding`).
    pub fn from_value(value: &Value) -> Result<Self, Problem> {
        let obj = value
            .as_object()
            .ok_or_else(|| Problem::malformed("JWS is not a JSON object").violates(req::ACME_7))?;
        // RFC 8555 §6.2: "The JWS MUST be in the Flattened JSON Serialization" with a single
        // signature; a "signatures" array is the general serialization.
        if obj.contains_key("signatures") {
            return Err(Problem::malformed(
                "JWS uses the general JSON serialization (\"signatures\"); RFC 8555 §6.2 requires the flattened one",
            ).violates(req::ACME_7));
        }
        // RFC 8555 §6.2: "The JWS Unprotected Header [RFC7515] MUST NOT be used".
        if obj.contains_key("header") {
            return Err(Problem::malformed(
                "JWS has an unprotected \"header\", which RFC 8555 §6.2 forbids",
            )
            .violates(req::ACME_7));
        }
        let field = |name: &str| -> Result<&str, Problem> {
            match obj.get(name) {
                Some(Value::String(s)) => Ok(s),
                Some(_) => Err(
                    Problem::malformed(format!("JWS member {name:?} is not a string"))
                        .violates(req::ACME_7),
                ),
                // RFC 8555 §6.2: "The JWS Payload MUST NOT be detached".
                None => Err(
                    Problem::malformed(format!("JWS member {name:?} is missing"))
                        .violates(req::ACME_7),
                ),
            }
        };
        let protected_b64 = field("protected")?;
        let payload_b64 = field("payload")?;
        let signature_b64 = field("signature")?;
        // RFC 8555 §6.1 (RFC 7515 §2): padded or non-alphabet base64url is rejected (ACME-13).
        let decode = |name: &str, text: &str| {
            b64url::decode_strict(text).map_err(|e| {
                Problem::malformed(format!("JWS member {name:?} is not strict base64url: {e}"))
                    .violates(req::ACME_13)
            })
        };
        let protected_bytes = decode("protected", protected_b64)?;
        let payload = decode("payload", payload_b64)?;
        let signature = decode("signature", signature_b64)?;
        let protected = match serde_json::from_slice::<Value>(&protected_bytes) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(Problem::malformed(
                    "JWS protected header is not a JSON object (RFC 7515 §5.2 step 4)",
                )
                .violates(req::ACME_7));
            }
        };
        let alg = match protected.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            Some(_) => {
                return Err(
                    Problem::malformed("protected \"alg\" is not a string").violates(req::ACME_8)
                );
            }
            None => {
                return Err(Problem::malformed(
                    "protected header has no \"alg\" (RFC 7515 §4.1.1, RFC 8555 §6.2)",
                )
                .violates(req::ACME_8));
            }
        };
        // RFC 7515 §4.1.11: recipients MUST reject a JWS whose "crit" lists a parameter they do
        // not understand, and "[]" is itself invalid. ACME defines no critical extension, so any
        // "crit" is rejected. josekit 0.10.3 does not check "crit" on the JSON path.
        if let Some(crit) = protected.get("crit") {
            return Err(Problem::malformed(format!(
                "protected \"crit\" {crit} lists parameters this server does not understand (RFC 7515 §4.1.11)"
            )).violates(req::ACME_7));
        }
        // RFC 8555 §6.2: "The JWS MUST NOT have the value "false" in the "b64" header parameter".
        match protected.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err(Problem::malformed(
                    "\"b64\": false (RFC 7797 unencoded payload) is forbidden by RFC 8555 §6.2",
                )
                .violates(req::ACME_7));
            }
            Some(_) => {
                return Err(
                    Problem::malformed("protected \"b64\" is not a boolean").violates(req::ACME_7)
                );
            }
        }
        Ok(FlattenedJws {
            protected_b64: protected_b64.to_owned(),
            payload_b64: payload_b64.to_owned(),
            signature_b64: signature_b64.to_owned(),
            protected,
            payload,
            signature,
            alg,
        })
    }

    /// The protected header's `alg`.
    pub fn alg(&self) -> &str {
        &self.alg
    }

    /// The decoded protected header.
    pub fn protected(&self) -> &Map<String, Value> {
        &self.protected
    }

    /// The `protected` member as sent (base64url).
    pub fn protected_b64(&self) -> &str {
        &self.protected_b64
    }

    /// The `payload` member as sent (base64url; empty for POST-as-GET).
    pub fn payload_b64(&self) -> &str {
        &self.payload_b64
    }

    /// The `signature` member as sent (base64url).
    pub fn signature_b64(&self) -> &str {
        &self.signature_b64
    }

    /// The decoded payload octets.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// The decoded signature octets.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// RFC 7515 §5.1 step 5: the JWS Signing Input, `ASCII(protected "." payload)`.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut input = Vec::with_capacity(self.protected_b64.len() + 1 + self.payload_b64.len());
        input.extend_from_slice(self.protected_b64.as_bytes());
        input.push(b'.');
        input.extend_from_slice(self.payload_b64.as_bytes());
        input
    }

    /// The flattened JWS as JSON, the three members as sent (for the transcript).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "protected": self.protected_b64,
            "payload": self.payload_b64,
            "signature": self.signature_b64,
        })
    }

    /// The `jwk`/`kid` of the protected header: exactly one (RFC 8555 §6.2: "The "jwk" and
    /// "kid" fields are mutually exclusive. Servers MUST reject requests that contain both.").
    pub(crate) fn key_ref(&self) -> Result<KeyRef, Problem> {
        match (self.protected.get("jwk"), self.protected.get("kid")) {
            (Some(_), Some(_)) => Err(Problem::malformed(
                "protected header has both \"jwk\" and \"kid\" (RFC 8555 §6.2)",
            )
            .violates(req::ACME_8)),
            (None, None) => Err(Problem::malformed(
                "protected header has neither \"jwk\" nor \"kid\" (RFC 8555 §6.2)",
            )
            .violates(req::ACME_8)),
            (Some(jwk @ Value::Object(_)), None) => Ok(KeyRef::Jwk(jwk.clone())),
            (Some(_), None) => {
                Err(Problem::malformed("protected \"jwk\" is not a JSON object")
                    .violates(req::ACME_8))
            }
            (None, Some(Value::String(kid))) => Ok(KeyRef::Kid(kid.clone())),
            (None, Some(_)) => {
                Err(Problem::malformed("protected \"kid\" is not a string").violates(req::ACME_8))
            }
        }
    }

    /// The protected `url` (RFC 8555 §6.4: "MUST" be present, a string).
    pub(crate) fn url_member(&self) -> Result<String, Problem> {
        match self.protected.get("url") {
            Some(Value::String(url)) => Ok(url.clone()),
            Some(_) => {
                Err(Problem::malformed("protected \"url\" is not a string").violates(req::ACME_8))
            }
            None => Err(
                Problem::malformed("protected header has no \"url\" (RFC 8555 §6.4)")
                    .violates(req::ACME_8),
            ),
        }
    }
}

/// How a request names its key (RFC 8555 §6.2): exactly one of these.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRef {
    /// `jwk`: the public key itself (newAccount, revokeCert with the certificate key).
    Jwk(Value),
    /// `kid`: the account URL (every other request).
    Kid(String),
}

/// A request payload (RFC 8555 §6.3).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `"payload": ""`: POST-as-GET (ACME-14).
    PostAsGet,
    /// A JSON object.
    Json(Value),
}

/// An ACME request JWS: a [`FlattenedJws`] whose protected header passed the RFC 8555 §6.2
/// rules. The signature is not yet checked: see [`ParsedJws::verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedJws {
    jws: FlattenedJws,
    nonce: String,
    url: String,
    key: KeyRef,
    payload: Payload,
}

/// Parses an ACME request body (the second step; see the module documentation).
///
/// Besides the [`FlattenedJws`] checks: size ≤ [`MAX_BODY_BYTES`] (else 413 `malformed`);
/// `alg` supported (else `badSignatureAlgorithm` with `algorithms`); exactly one of `jwk` and
/// `kid`; `nonce` present and base64url (else `badNonce`); `url` a string; payload empty
/// (POST-as-GET) or a base64url JSON object.
pub fn parse(body: &[u8]) -> Result<ParsedJws, Problem> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Problem::malformed(format!(
            "request body is {} octets, more than the {MAX_BODY_BYTES} this server accepts",
            body.len()
        ))
        .with_status(413));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::malformed(format!("request body is not JSON: {e}")).violates(req::ACME_7)
    })?;
    ParsedJws::from_value(&value)
}

impl ParsedJws {
    /// Applies the ACME request rules to a JWS given as JSON (see [`parse`]).
    pub fn from_value(value: &Value) -> Result<Self, Problem> {
        let jws = FlattenedJws::from_value(value)?;
        // RFC 8555 §6.2 (ACME-8, ACME-10).
        check_request_alg(jws.alg())?;
        let key = jws.key_ref()?;
        // RFC 8555 §6.5.2: the nonce MUST be in the protected header and base64url, else the
        // JWS is malformed; §6.5: a nonce that is "unacceptable (or not present)" is answered
        // with badNonce (ACME-4) — see the module documentation. josekit cannot even parse
        // such a header (it fails on a non-string nonce), so the raw header is checked here.
        let nonce = match jws.protected().get("nonce") {
            Some(Value::String(n)) if !n.is_empty() && b64url::decode_strict(n).is_ok() => {
                n.clone()
            }
            Some(Value::String(n)) => {
                return Err(Problem::new(
                    ProblemType::BadNonce,
                    format!("nonce {n:?} is not base64url (RFC 8555 §6.5.1)"),
                ));
            }
            Some(_) => {
                return Err(Problem::new(
                    ProblemType::BadNonce,
                    "nonce is not a string (RFC 8555 §6.5.1)",
                ));
            }
            None => {
                return Err(Problem::new(
                    ProblemType::BadNonce,
                    "protected header has no \"nonce\" (RFC 8555 §6.5)",
                ));
            }
        };
        let url = jws.url_member()?;
        let payload = if jws.payload_b64().is_empty() {
            // RFC 8555 §6.3: POST-as-GET has a zero-length payload.
            Payload::PostAsGet
        } else {
            match serde_json::from_slice::<Value>(jws.payload_bytes()) {
                Ok(v @ Value::Object(_)) => Payload::Json(v),
                Ok(_) => {
                    return Err(Problem::malformed(
                        "JWS payload is JSON but not an object (RFC 8555 §7)",
                    )
                    .violates(req::ACME_7));
                }
                Err(e) => {
                    return Err(Problem::malformed(format!("JWS payload is not JSON: {e}"))
                        .violates(req::ACME_7));
                }
            }
        };
        Ok(ParsedJws {
            jws,
            nonce,
            url,
            key,
            payload,
        })
    }

    /// The structural JWS underneath (raw parts, signing input, transcript form).
    pub fn jws(&self) -> &FlattenedJws {
        &self.jws
    }

    /// The protected `alg` (one of [`supported_algorithms`](super::supported_algorithms)).
    pub fn alg(&self) -> &str {
        self.jws.alg()
    }

    /// The protected `nonce`, syntactically valid; the nonce store decides if it is usable.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The protected `url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key reference (`jwk` or `kid`).
    pub fn key(&self) -> &KeyRef {
        &self.key
    }

    /// The decoded protected header.
    pub fn protected(&self) -> &Map<String, Value> {
        self.jws.protected()
    }

    /// The payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// RFC 8555 §6.4: "the server MUST ... check that the value of the "url" header parameter
    /// matches the URL to which the request is directed. If the two do not match, then the
    /// server MUST reject the request as unauthorized." Exact string comparison (ACME-12).
    pub fn check_url(&self, request_url: &str) -> Result<(), Problem> {
        if self.url == request_url {
            Ok(())
        } else {
            Err(Problem::unauthorized(format!(
                "protected url {:?} is not the request URL {request_url:?} (RFC 8555 §6.4)",
                self.url
            ))
            .violates(req::ACME_12))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(v: &Value) -> String {
        b64url::encode(serde_json::to_vec(v).unwrap())
    }

    fn body(protected: &Value, payload: &str) -> Value {
        json!({"protected": b64(protected), "payload": payload, "signature": "AAAA"})
    }

    fn good_header() -> Value {
        json!({"alg":"ES256","kid":"https://ca/acct/1","nonce":"abcd","url":"https://ca/x"})
    }

    #[test]
    fn content_type() {
        assert_eq!(check_content_type(Some("application/jose+json")), Ok(()));
        assert_eq!(
            check_content_type(Some("Application/JOSE+JSON; charset=utf-8")),
            Ok(())
        );
        for bad in [
            None,
            Some("application/json"),
            Some(""),
            Some("application/jose"),
        ] {
            let p = check_content_type(bad).unwrap_err();
            assert_eq!((p.kind, p.status), (ProblemType::Malformed, 415));
        }
    }

    #[test]
    fn good_header_parses_both_payload_kinds() {
        let p = ParsedJws::from_value(&body(&good_header(), "")).unwrap();
        assert_eq!(p.payload(), &Payload::PostAsGet);
        assert_eq!(p.key(), &KeyRef::Kid("https://ca/acct/1".into()));
        assert_eq!(
            (p.nonce(), p.url(), p.alg()),
            ("abcd", "https://ca/x", "ES256")
        );
        let p = ParsedJws::from_value(&body(&good_header(), &b64(&json!({"a":1})))).unwrap();
        assert_eq!(p.payload(), &Payload::Json(json!({"a":1})));
        assert_eq!(p.check_url("https://ca/x"), Ok(()));
        let e = p.check_url("https://ca/x/").unwrap_err();
        assert_eq!((e.kind, e.status), (ProblemType::Unauthorized, 403));
    }

    #[test]
    fn payload_must_be_a_json_object() {
        for payload in [b64url::encode(b"[1]"), b64url::encode(b"not json")] {
            let e = ParsedJws::from_value(&body(&good_header(), &payload)).unwrap_err();
            assert_eq!(e.kind, ProblemType::Malformed);
        }
    }

    #[test]
    fn url_must_be_a_string() {
        let mut h = good_header();
        h["url"] = json!(5);
        let e = ParsedJws::from_value(&body(&h, "")).unwrap_err();
        assert_eq!(e.kind, ProblemType::Malformed);
        h.as_object_mut().unwrap().remove("url");
        let e = ParsedJws::from_value(&body(&h, "")).unwrap_err();
        assert_eq!(e.kind, ProblemType::Malformed);
    }

    #[test]
    fn nonce_must_be_a_nonempty_base64url_string() {
        for bad in [json!(""), json!(7), json!("a=="), json!("a+b/"), json!("A")] {
            let mut h = good_header();
            h["nonce"] = bad.clone();
            let e = ParsedJws::from_value(&body(&h, "")).unwrap_err();
            assert_eq!((e.kind, e.status), (ProblemType::BadNonce, 400), "{bad}");
        }
    }

    #[test]
    fn size_bound() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let e = parse(&big).unwrap_err();
        assert_eq!((e.kind, e.status), (ProblemType::Malformed, 413));
        let e = parse(&vec![b' '; MAX_BODY_BYTES]).unwrap_err();
        assert_eq!((e.kind, e.status), (ProblemType::Malformed, 400));
    }

    #[test]
    fn crit_empty_list_and_b64_true() {
        let mut h = good_header();
        h["crit"] = json!([]);
        assert_eq!(
            ParsedJws::from_value(&body(&h, "")).unwrap_err().kind,
            ProblemType::Malformed
        );
        let mut h = good_header();
        h["b64"] = json!(true);
        assert!(ParsedJws::from_value(&body(&h, "")).is_ok());
        h["b64"] = json!("false");
        assert!(ParsedJws::from_value(&body(&h, "")).is_err());
    }

    #[test]
    fn signing_input_is_protected_dot_payload() {
        let v = body(&good_header(), "e30");
        let jws = FlattenedJws::from_value(&v).unwrap();
        let want = format!("{}.e30", v["protected"].as_str().unwrap());
        assert_eq!(jws.signing_input(), want.as_bytes());
        assert_eq!(jws.to_json(), v);
    }

    // Property tests of the parser (`cargo test -p acmeproof-mocks --lib jws::parse`; set
    // PROPTEST_CASES for a longer run): whatever arrives, `parse` returns a JWS or a problem
    // document that the parser may give (malformed 400/413, badNonce, badSignatureAlgorithm),
    // never a panic.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn is_parser_problem(p: &Problem) -> bool {
            matches!(
                (p.kind, p.status),
                (ProblemType::Malformed, 400 | 413)
                    | (ProblemType::BadNonce, 400)
                    | (ProblemType::BadSignatureAlgorithm, 400)
            )
        }

        /// Any JSON value, a few levels deep.
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                "[ -~]{0,12}".prop_map(Value::from),
                Just(Value::from("ES256")),
                Just(Value::from("abcd")),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// A protected header: the ACME members, each present or not, with a right or an
        /// arbitrary value.
        fn header() -> impl Strategy<Value = Map<String, Value>> {
            let member = |name: &'static str, good: Value| {
                prop_oneof![
                    Just(None),
                    Just(Some((name, good))),
                    json_value().prop_map(move |v| Some((name, v))),
                ]
            };
            (
                member("alg", json!("ES256")),
                member("kid", json!("https://ca/acct/1")),
                member(
                    "jwk",
                    json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
                ),
                member("nonce", json!("abcd")),
                member("url", json!("https://ca/x")),
                member("crit", json!(["b64"])),
                member("b64", json!(true)),
            )
                .prop_map(|(a, b, c, d, e, f, g)| {
                    [a, b, c, d, e, f, g]
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                })
        }

        proptest! {
            #[test]
            fn any_bytes_give_a_jws_or_a_parser_problem(body in prop::collection::vec(any::<u8>(), 0..400)) {
                if let Err(p) = parse(&body) {
                    prop_assert!(is_parser_problem(&p), "{p:?}");
                }
            }

            #[test]
            fn any_json_gives_a_jws_or_a_parser_problem(value in json_value()) {
                let text = serde_json::to_vec(&value).unwrap();
                if let Err(p) = parse(&text) {
                    prop_assert!(is_parser_problem(&p), "{p:?}");
                }
            }

            #[test]
            fn any_header_and_payload_give_a_checked_jws_or_a_parser_problem(
                protected in header(),
                payload in prop_oneof![
                    Just(String::new()),
                    json_value().prop_map(|v| b64url::encode(serde_json::to_vec(&v).unwrap())),
                    "[A-Za-z0-9_=+/-]{0,16}",
                ],
                signature in "[A-Za-z0-9_=+/-]{0,12}",
            ) {
                let v = json!({
                    "protected": b64url::encode(serde_json::to_vec(&protected).unwrap()),
                    "payload": payload,
                    "signature": signature,
                });
                match parse(v.to_string().as_bytes()) {
                    // What passed holds every rule the parser is for.
                    Ok(jws) => {
                        prop_assert!(crate::ca::jws::SUPPORTED_ALGORITHMS
                            .contains(&jws.alg()));
                        prop_assert!(protected.contains_key("jwk") != protected.contains_key("kid"));
                        prop_assert!(!protected.contains_key("crit"));
                        prop_assert!(b64url::decode_strict(jws.nonce()).is_ok());
                        prop_assert_eq!(Some(&json!(jws.url())), protected.get("url"));
                    }
                    Err(p) => prop_assert!(is_parser_problem(&p), "{p:?}"),
                }
            }

            #[test]
            fn a_good_request_with_one_octet_changed_gives_a_jws_or_a_parser_problem(
                at in any::<prop::sample::Index>(),
                octet in any::<u8>(),
            ) {
                let mut raw = body(&good_header(), "e30").to_string().into_bytes();
                let i = at.index(raw.len());
                raw[i] = octet;
                if let Err(p) = parse(&raw) {
                    prop_assert!(is_parser_problem(&p), "{p:?}");
                }
            }
        }
    }
}
