//! The CA's behaviour knobs. Every knob is deterministic (drawn from the world's seed) and off
//! by default, so an unconfigured CA is a plain, strict-enough RFC 8555 server. They can be set
//! in the world's config, and read and changed at runtime through the management API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The endpoints a [`Chaos`] entry can name.
pub const ENDPOINTS: &[&str] = &[
    "directory",
    "new-nonce",
    "new-account",
    "account",
    "orders",
    "key-change",
    "new-order",
    "order",
    "finalize",
    "authz",
    "challenge",
    "certificate",
    "revoke-cert",
];

/// The names knob `refuse_csr_keys` takes.
pub const CSR_KEY_TYPES: &[&str] = &["rsa", "p256", "p384", "ed25519"];

/// All CA knobs. Unknown keys are refused, so a typo in a config cannot silently do nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Percentage (0–100) of otherwise valid nonces answered with `badNonce` (RFC 8555 §6.5:
    /// clients must retry with the fresh nonce of the error response, ACME-5).
    pub nonce_reject_percent: u8,
    /// Reuse an account's valid authorization for the same identifier in a new order.
    pub reuse_authorizations: bool,
    /// Milliseconds between a challenge POST and the first validation attempt.
    pub validation_delay_ms: u64,
    /// Validation attempts before a challenge becomes invalid (at least 1).
    pub validation_attempts: u32,
    /// Milliseconds between two validation attempts.
    pub validation_retry_delay_ms: u64,
    /// Validate inside the challenge POST and answer with the final state, instead of answering
    /// `processing` and validating in the background (both are RFC 8555 §7.5.1 behaviours).
    pub validation_inline: bool,
    /// Skip validation: every challenge POST makes the challenge valid, as Pebble's
    /// `PEBBLE_VA_ALWAYS_VALID` does, for a client test that is not about proving control.
    pub always_valid: bool,
    /// A `Retry-After` (seconds) on answers for objects still `processing` or `pending`.
    pub retry_after_secs: Option<u64>,
    /// Strict mode: also refuse what RFC 8555 only says clients MUST or SHOULD do (a missing
    /// User-Agent, ACME-34; a challenge response other than `{}`, ACME-24).
    pub strict: bool,
    /// Refuse `email` identifiers that need SMTPUTF8 (RFC 6531 addresses; RFC 8398 §3
    /// SmtpUTF8Mailbox) with `rejectedIdentifier`: a policy RFC 8555 §7.4 allows a CA, and one a
    /// judge of an external CA must not report as a violation.
    pub refuse_eai: bool,
    /// The CSR key types this CA will not certify (`rsa`, `p256`, `p384`, `ed25519`): a
    /// finalize with such a key is refused with `badCSR`. RFC 8555 §6.7: "badCSR: The CSR is
    /// unacceptable (e.g., due to a short key)": which keys a CA takes is its policy, and a
    /// judge of an external CA must not report a refusal as a violation.
    pub refuse_csr_keys: Vec<String>,
    /// Broken on purpose: leave `Auto-Submitted: auto-generated` out of the challenge mail
    /// (RFC 8823 §3.1 item 4 MUST), so a judge of the MUA side can be watched firing.
    pub challenge_without_auto_submitted: bool,
    /// Broken on purpose: send the challenge mail without a DKIM signature (RFC 8823 §3.1
    /// item 5, §6).
    pub challenge_unsigned: bool,
    /// Broken on purpose: leave the Date field out of the challenge mail (RFC 5322 §3.6: "The
    /// only required header fields are the origination date field and the originator address
    /// field(s)"; MAIL-1).
    pub challenge_without_date: bool,
    /// Broken on purpose: every email-reply-00 challenge gets the same token-part2. RFC 8823
    /// §3 step 4: "A new token is generated for each issuance request" (SMIME-5).
    pub challenge_token_reused: bool,
    /// Broken on purpose: a token-part1 of 64 bits. RFC 8823 §3 step 4 has token-part1 carry
    /// at least 128 bits of entropy (SMIME-6).
    pub challenge_short_token_part1: bool,
    /// Broken on purpose: the challenge Subject as one ISO-8859-1 encoded-word. RFC 8823 §3.1
    /// item 1 allows the UTF-8 and US-ASCII charsets only (SMIME-20).
    pub challenge_subject_latin1: bool,
    /// Broken on purpose: the challenge Subject as one UTF-8 encoded-word. RFC 8823 §3.1 item
    /// 1: "The US-ASCII charset SHOULD be used" (SMIME-21, a SHOULD: an MUA goes on).
    pub challenge_subject_utf8: bool,
    /// Broken on purpose: the challenge Subject as one US-ASCII encoded-word longer than 75
    /// characters. RFC 2047 §2: "An 'encoded-word' may not be more than 75 characters long"
    /// (MAIL-6).
    pub challenge_subject_long_encoded_word: bool,
    /// Broken on purpose: the challenge To names `postmaster@` the address's domain, the
    /// envelope still the address. RFC 8823 §3.1 item 3: To is the address of whoever asked for
    /// the certificate (SMIME-23).
    pub challenge_to_other: bool,
    /// Broken on purpose: `Auto-Submitted: auto-generated` without `type=acme`. RFC 8823 §3.1
    /// item 5 has the field carry the `type=acme` parameter at SHOULD level (SMIME-26: an MUA
    /// goes on).
    pub challenge_without_type_acme: bool,
    /// Broken on purpose: the challenge's DKIM `h=` leaves out Auto-Submitted, which RFC 8823
    /// §3.1 item 6 lists among the fields the signature must cover (SMIME-29).
    pub challenge_dkim_h_short: bool,
    /// Broken on purpose: the challenge's DKIM `h=` leaves out the Resent-* and List-* fields
    /// RFC 8823 §3.1 item 6 asks for at SHOULD level (SMIME-30: an MUA goes on).
    pub challenge_dkim_h_without_list: bool,
    /// Broken on purpose: the challenge's DKIM signature says `d=` another domain. RFC 8823
    /// §3.1 item 6 has `d=` be the domain of the From field (SMIME-31).
    pub challenge_dkim_other_domain: bool,
    /// Broken on purpose: the Message-ID field twice (same value). RFC 5322 §3.6: Message-ID
    /// occurs at most once (MAIL-2).
    pub challenge_two_message_ids: bool,
    /// Broken on purpose: the Auto-Submitted field twice (same value). RFC 3834 §5 allows at
    /// most one Auto-Submitted field in a message (MAIL-3).
    pub challenge_two_auto_submitted: bool,
    /// Broken on purpose: accept a reply that carries no DKIM-Signature at all (RFC 8823 §3.2
    /// item 9 makes the response's DKIM signature a MUST; SMIME-51). A signature that does not
    /// verify is still refused.
    pub accept_unsigned_replies: bool,
    /// Broken on purpose: let an `a=rsa-sha1` signature count (RFC 8301 §3.1: "rsa-sha1 MUST
    /// NOT be used for signing or verifying"; MAIL-7).
    pub accept_rsa_sha1: bool,
    /// Broken on purpose: accept a reply signature whose `h=` leaves out fields RFC 8823 §3.2
    /// item 9 requires signed (SMIME-52).
    pub loose_dkim_h: bool,
    /// Broken on purpose: refuse a digest spread over several lines (RFC 8823 §3.2 item 7:
    /// "line endings (CRLFs) can be freely inserted in the middle of the encoded digest, so
    /// they MUST be ignored when processing it"; SMIME-48).
    pub refuse_wrapped_digest: bool,
    /// Broken on purpose: refuse a reply whose Subject is RFC 2047 encoded (RFC 8823 §3.2
    /// item 1 has the server decode an encoded Subject before it reads the token; SMIME-39).
    pub refuse_encoded_subject: bool,
    /// Broken on purpose: issue a certificate for signing and encryption whatever key usage
    /// the CSR asks for. RFC 8823 §3.3: "In order to request signing-only S/MIME certificates,
    /// the CSR MUST include the key usage extension with digitalSignature and/or
    /// nonRepudiation bits set and no other bits set" (likewise encryption-only), so a
    /// signing-only or encryption-only request gets what it did not ask for (SMIME-57).
    pub ignore_csr_key_usage: bool,
    /// Broken on purpose: a valid challenge without `validated`. RFC 8555 §7.1.5: "validated
    /// (optional, string): The time at which the server validated this challenge ... This
    /// field is REQUIRED if the "status" field is "valid"." (ACME-25)
    pub omit_validated: bool,
    /// Broken on purpose: an invalid challenge without `error`. RFC 8555 §8.2: "The server
    /// MUST add an entry to the "error" field in the challenge after each failed validation
    /// query." (ACME-25)
    pub omit_error: bool,
    /// Policy: a keyChange whose inner JWS carries a `nonce` is accepted. RFC 8555 §7.3.5: "The
    /// inner JWS MUST omit the "nonce" header parameter" binds the client, and the server's
    /// list of checks there does not include it, so accepting breaks no rule (ACME-33's
    /// scenario for it is a policy scenario).
    pub accept_keychange_inner_nonce: bool,
    /// Broken on purpose: revoking a certificate already revoked answers 200. RFC 8555 §6.7:
    /// "alreadyRevoked: The request specified a certificate to be revoked that has already
    /// been revoked" (ACME-32).
    pub revoke_twice_ok: bool,
    /// Broken on purpose: newAccount without `"termsOfServiceAgreed": true` is accepted though
    /// the directory names terms of service (RFC 8555 §7.3, ACME-16).
    pub ignore_terms_of_service: bool,
    /// Broken on purpose: dns-01 validation expects the digest of `token || thumbprint`,
    /// without the `.` RFC 8555 §8.1 puts between them ("keyAuthorization = token || '.' ||
    /// base64url(Thumbprint(accountKey))", ACME-27), so the correct TXT value is refused.
    pub key_authorization_without_dot: bool,
    /// Injected failures per endpoint name (see [`ENDPOINTS`]).
    pub chaos: BTreeMap<String, Chaos>,
    /// Lifetime of a pending order, in seconds of the world clock.
    pub order_lifetime_secs: u64,
    /// Lifetime of an authorization, in seconds of the world clock.
    pub authz_lifetime_secs: u64,
    /// Validity of issued certificates, in seconds.
    pub cert_validity_secs: u64,
    /// The TCP port http-01 validation connects to (RFC 8555 §8.3 says 80; tests move it).
    pub http01_port: u16,
    /// The TCP port tls-alpn-01 validation connects to (RFC 8737 §3 says 443; tests move it).
    pub tls_alpn01_port: u16,
    /// When the email-reply-00 challenge mail is sent (RFC 8823 §3 leaves it to the CA).
    pub email_send_on: EmailSendOn,
    /// Which token joins make a correct RFC 8823 digest (RFC 8823 §3 says only "concatenates").
    pub email_join: JoinPolicy,
    /// Octets of token-part1 (default 16, 128 bits; 1–64). RFC 8823 §3 step 4: "token-part1
    /// MUST contain at least 128 bits of entropy", so under 16 breaks SMIME-6. Base64url
    /// (RFC 4648 §5) turns each 3 octets into 4 characters, so the string and binary joins
    /// (RFC 8823 §3 step 6 "concatenates") give the same token exactly when this is a
    /// multiple of 3: the `token_join` variant crosses it to show where the joins coincide.
    pub token_part1_octets: u8,
    /// How long after the challenge mail a reply is accepted (RFC 8823 §3: the CA decides;
    /// 24 hours by default), on the world clock.
    pub email_reply_window_secs: u64,
    /// The media type of the challenge mail body (RFC 8823 §3.1 allows any).
    pub email_challenge_body: acmeproof_protocol::smime::ChallengeBody,
    /// draft-ietf-acme-email-tls: where the CA reads `service` and `port` (see [`ServiceField`]).
    pub service_field: ServiceField,
    /// draft-ietf-acme-email-tls: which version's challenge POST the CA follows (see [`Draft`]).
    pub draft: Draft,
    /// draft-ietf-acme-email-tls / RFC 7817 §4: what a validated service's certificate carries
    /// (see [`TlsProfile`]).
    pub tls_profile: TlsProfile,
    /// RFC 2033 §4: LMTP "MUST NOT be used on TCP port 25". Off (default): `lmtp` on port 25 is
    /// refused (`rejectedIdentifier`) even with knob `lmtp = on`; on: accepted.
    pub lmtp_port_25: bool,
    /// -05 §4 open issue 1: "change \"service\" to \"services\", change \"port\" to \"ports\"
    /// and make both of them arrays". On: a `dns` identifier object of newOrder may carry
    /// `services` (and `ports`, same length, or absent for the IANA ports) instead of
    /// `service`/`port`; each service gets its own authorization. Off (default): refused.
    pub service_arrays: bool,
    /// -03…-05 §4 open issue 1: "Maybe if the ACME server sees a request for port 143 (or 993),
    /// it can include SRV-ID for the other port, if it can verify that both are running?" On:
    /// after a validated capability challenge the CA connects to the twin service's IANA port
    /// (imap ↔ imaps, pop3 ↔ pop3s, submission ↔ submissions) and, if a server greets there,
    /// adds the twin's SRV-ID. Off (default): never.
    pub twin_srv_id: bool,
    /// draft-melnikov-acme-email-tls-00 §4 and draft-ietf-acme-email-tls-00…-02 §4 open issue:
    /// "define a new Identifier Type that specifies service@domain". On: newOrder takes
    /// `{"type": "service", "value": "imaps@mail.example.test", "port": 993}` (acmeproof's
    /// name for the type; the drafts never gave one) as the `dns` identifier with that
    /// service. Off (default): `unsupportedIdentifier`.
    pub service_identifier: bool,
    /// draft-ietf-acme-email-tls: whether capability-smtp/imap/pop-00 look for the capability
    /// before or after STARTTLS/STLS on the STARTTLS ports (see [`CapabilityPhase`]).
    pub capability_phase: CapabilityPhase,
    /// draft-ietf-acme-email-tls-03…-05 §3.2 (TLS-5): "ACME server MAY check that the TCP port
    /// corresponds to the requested "service", for example that the port is the assigned
    /// default IANA port for the service." On: a port other than the service's IANA default is
    /// refused at newOrder (`rejectedIdentifier`). Off by default (the draft says MAY).
    pub require_default_port: bool,
    /// Open issue of draft-ietf-acme-email-tls-00…-04 (see [`ServicePortInHash`]).
    pub service_port_in_hash: ServicePortInHash,
    /// Open issue 1 of draft-ietf-acme-email-tls-01…-05 (see [`OneCertTlsAndStarttls`]).
    pub one_cert_tls_and_starttls: OneCertTlsAndStarttls,
    /// Open issue of draft-ietf-acme-email-tls-00…-05 "Add support for LMTP (RFC 2033)?"
    /// (see [`Lmtp`]).
    pub lmtp: Lmtp,
    /// RFC 8823 / draft-ietf-acme-email-smime-01 open issue: is reading the challenge mail
    /// enough, or must the user reply (see [`Proof`])?
    pub proof: Proof,
}

/// What proves control of an `email` identifier (email-reply-00).
///
/// draft-ietf-acme-email-smime-01 open issues (IETF 100 slides): "The document assumes that we
/// need to prove ability to send messages as an email address, not just read email"; "Is being
/// able to just read email a sufficient proof of control?". RFC 8823 §3 settled on a reply.
/// `read-only` is acmeproof's definition of the alternative: the client POSTs
/// `{"tokenPart1": "<token-part1 from the challenge mail's Subject>"}` to the challenge URL
/// over HTTPS (the JWS binds the account key, as the reply's digest does) instead of replying;
/// the CA compares it in constant time with the token-part1 it sent, within
/// `email_reply_window_secs`, then checks CAA `issuemail`. The first proof counts (a reply
/// mail still counts as one: it too shows the mail was read). With `reply` (default) a
/// `tokenPart1` in the challenge POST is refused (`malformed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// RFC 8823 §3: the reply mail.
    #[default]
    Reply,
    /// token-part1 POSTed back over HTTPS.
    ReadOnly,
}

/// Where `service` and `port` are read from.
///
/// Every version of draft-ietf-acme-email-tls shows them in Figure 1, which is the *challenge
/// response*: `POST /acme/authz/asdf/0` with `"type"` and `"keyAuthorization"`. There they are
/// JWS protected header parameters in -00…-04 ("\"service\" JWS header parameter MUST be
/// included") and members of the payload in -05 (§3.1 '"service" field in JSON payload'; its
/// §3 list still says "JWS header parameter"). Knob [`Knobs::draft`] says which of the two the
/// CA reads. The order itself is a plain `dns` order: no version puts a service in newOrder.
///
/// - [`ServiceField::Challenge`]: the draft as written. A plain `dns` order's authorization
///   offers http-01, dns-01, dns-email-00 and the three capability challenges; the challenge
///   POST names the service and port it proves, and the authorization is bound to them. A
///   newOrder that names a service is refused (`malformed`, naming this knob).
/// - [`ServiceField::NewOrder`]: acmeproof's proposal for RFC 8555, where the order is created
///   before any challenge: `service`/`port` are members of each `dns` identifier object of the
///   newOrder payload (`{"type": "dns", "value": …, "service": "imaps", "port": 993}`), or
///   protected header parameters of the newOrder request (one service for every `dns`
///   identifier). One order can then name several services (the -01…-05 §4 open issue 1), and a
///   plain `dns` order gets only http-01 and dns-01. A challenge POST may repeat them; a repeat
///   must name the authorization's service and port.
/// - [`ServiceField::Both`] (default): both of the above.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceField {
    /// In the challenge POST only (every draft version's Figure 1).
    Challenge,
    /// In the newOrder only (acmeproof's proposal).
    NewOrder,
    /// Either.
    #[default]
    Both,
}

/// Which draft version's Figure 1 the CA follows for the challenge POST (see
/// [`ServiceField::Challenge`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Draft {
    /// -00…-04: `service`/`port` in the JWS protected header of the challenge POST.
    #[serde(rename = "02")]
    V02,
    /// -05: `service`/`port` in the payload of the challenge POST (§3.1, Figure 1); the same
    /// values may also be in the protected header, as -05 §3 item 1 still says, never there
    /// alone.
    #[serde(rename = "05")]
    V05,
    /// Either place (both, if both are given, must agree).
    #[default]
    #[serde(rename = "any")]
    Any,
}

/// The certificate a validated mail service gets.
///
/// RFC 7817 §4 says which identifier types a CA MUST be able to issue (DNS-ID, SRV-ID, CN-ID);
/// what one certificate carries is the CA's choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsProfile {
    /// acmeproof's profile: the dNSName (also the CN-ID), an SRV-ID per validated service,
    /// keyUsage digitalSignature (+ keyEncipherment for RSA), extKeyUsage serverAuth.
    #[default]
    Acmeproof,
    /// Only the SRV-IDs of the validated services: no dNSName, no CN-ID; keyUsage
    /// digitalSignature and keyAgreement, extKeyUsage serverAuth and clientAuth. A plain
    /// dns-01/http-01 order still gets its dNSName.
    SrvOnly,
}

/// When the capability is looked for on ports that upgrade with STARTTLS/STLS (25, 587, 143,
/// 110, and LMTP). On the implicit-TLS ports (465, 993, 995) TLS always comes first.
///
/// No version of the draft says. The default is [`CapabilityPhase::BeforeStarttls`]
/// because every example of -05 §3.4 shows the capability in the same listing as `STARTTLS`
/// (`250-STARTTLS` / `250-ACME …`; `* OK [CAPABILITY … STARTTLS ACME=…]`), which a server sends
/// only before TLS, and because a server asking for its first certificate may not be able to
/// offer STARTTLS yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapabilityPhase {
    /// In the cleartext greeting/EHLO/CAPABILITY/CAPA.
    #[default]
    BeforeStarttls,
    /// After STARTTLS/STLS, in the listing repeated under TLS.
    AfterStarttls,
}

/// Whether the digest binds service and port.
///
/// draft-ietf-acme-email-tls-00…-02: "[[OPEN ISSUE: Should service name and port number be
/// incorporated into the hash?]]"; -03/-04: "[[TODO: Make sure that both service name and port
/// number are incorporated into the hash]]"; -05 removed the item. No formula was ever given;
/// `yes` uses acmeproof's proposal, `acmeproof_protocol::email_tls::service_bound_digest`:
/// base64url(SHA-256(keyAuthorization || "." || service || "." || port)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServicePortInHash {
    /// -05: base64url(SHA-256(keyAuthorization)), as dns-01.
    #[default]
    No,
    /// The -03/-04 intent with the proposed formula.
    Yes,
}

/// May one order (one certificate) cover a STARTTLS service and its implicit-TLS twin (imap/143
/// with imaps/993, pop3/110 with pop3s/995, submission/587 with submissions/465) on one name?
///
/// draft-ietf-acme-email-tls-01…-05 §4: "Should the same certificate be allowed to be used on
/// both IMAP (143) and IMAPS (993) ports? ... The cleanest way is to change "service" to
/// "services" ... and make both of them arrays." IETF 100 slides: "Probably not, as a single
/// challenge can only include 1 service name". With `allow` (default: each service is proved on
/// its own port, so nothing is weaker) every service gets its own authorization and the
/// certificate an SRV-ID for each; `refuse` answers such an order with `rejectedIdentifier`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OneCertTlsAndStarttls {
    /// Refuse the order.
    Refuse,
    /// One authorization per service; one certificate with all SRV-IDs.
    #[default]
    Allow,
}

/// Service `lmtp` (RFC 2033). draft-ietf-acme-email-tls-00…-05 §4: "Add support for LMTP (RFC
/// 2033)?"; IETF 100 minutes: LMTP "doesn't have registered port number, and neither is the
/// lmtp name registered", so with `on` a `port` is required; LHLO is validated as EHLO
/// (capability-smtp-00, RFC 2033 §4.1). `off` (default) refuses `lmtp` with
/// `unsupportedIdentifier`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lmtp {
    /// Refuse service `lmtp`.
    #[default]
    Off,
    /// Accept it (with an explicit port).
    On,
}

/// When the CA sends the challenge mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmailSendOn {
    /// When the client first fetches the authorization.
    #[default]
    AuthzFetch,
    /// When the client POSTs the challenge.
    ChallengePost,
}

/// Which ways of joining token-part1 and token-part2 the CA accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JoinPolicy {
    /// The base64url strings are concatenated.
    String,
    /// The decoded octets are concatenated.
    Binary,
    /// Either join is accepted.
    #[default]
    Either,
}

impl JoinPolicy {
    /// The joins that count.
    pub fn accepted(self) -> Vec<acmeproof_protocol::token::Join> {
        use acmeproof_protocol::token::Join;
        match self {
            JoinPolicy::String => vec![Join::String],
            JoinPolicy::Binary => vec![Join::Binary],
            JoinPolicy::Either => vec![Join::String, Join::Binary],
        }
    }
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            nonce_reject_percent: 0,
            reuse_authorizations: false,
            validation_delay_ms: 0,
            validation_attempts: 1,
            validation_retry_delay_ms: 1000,
            validation_inline: false,
            always_valid: false,
            retry_after_secs: None,
            strict: false,
            refuse_eai: false,
            refuse_csr_keys: Vec::new(),
            challenge_without_auto_submitted: false,
            challenge_unsigned: false,
            challenge_without_date: false,
            challenge_short_token_part1: false,
            challenge_token_reused: false,
            challenge_subject_latin1: false,
            challenge_subject_utf8: false,
            challenge_subject_long_encoded_word: false,
            challenge_to_other: false,
            challenge_without_type_acme: false,
            challenge_dkim_h_short: false,
            challenge_dkim_h_without_list: false,
            challenge_dkim_other_domain: false,
            challenge_two_message_ids: false,
            challenge_two_auto_submitted: false,
            accept_unsigned_replies: false,
            accept_rsa_sha1: false,
            loose_dkim_h: false,
            refuse_wrapped_digest: false,
            refuse_encoded_subject: false,
            ignore_csr_key_usage: false,
            omit_validated: false,
            omit_error: false,
            accept_keychange_inner_nonce: false,
            revoke_twice_ok: false,
            ignore_terms_of_service: false,
            key_authorization_without_dot: false,
            chaos: BTreeMap::new(),
            order_lifetime_secs: 7 * 24 * 3600,
            authz_lifetime_secs: 7 * 24 * 3600,
            cert_validity_secs: 90 * 24 * 3600,
            http01_port: 80,
            tls_alpn01_port: 443,
            email_send_on: EmailSendOn::AuthzFetch,
            email_join: JoinPolicy::Either,
            token_part1_octets: 16,
            email_reply_window_secs: 24 * 3600,
            email_challenge_body: Default::default(),
            service_field: ServiceField::Both,
            draft: Draft::Any,
            tls_profile: TlsProfile::Acmeproof,
            lmtp_port_25: false,
            service_arrays: false,
            twin_srv_id: false,
            service_identifier: false,
            capability_phase: CapabilityPhase::BeforeStarttls,
            require_default_port: false,
            service_port_in_hash: ServicePortInHash::No,
            one_cert_tls_and_starttls: OneCertTlsAndStarttls::Allow,
            lmtp: Lmtp::Off,
            proof: Proof::Reply,
        }
    }
}

/// Failures injected on one endpoint, each a percentage of requests (0–100), drawn in order:
/// `rate_limited`, `unavailable`, `internal`, then the answers no ACME server may give
/// (`garbage`, `html`, `wrong_status`, `hang`), so a client's judge can be watched meeting a
/// broken server in the middle of a flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Chaos {
    /// 429 `rateLimited` with a Retry-After.
    pub rate_limited: u8,
    /// 503 `serverInternal` with a Retry-After.
    pub unavailable: u8,
    /// 500 `serverInternal`.
    pub internal: u8,
    /// 200 with `Content-Type: application/json` and a body that is not JSON (RFC 8555 §6:
    /// "ACME messages ... are JSON").
    pub garbage: u8,
    /// 200 with an HTML page, as a proxy or a misrouted web server gives.
    pub html: u8,
    /// 418 with a text body: an error status without a problem document (RFC 8555 §6.7: error
    /// answers are `application/problem+json`, ACME-30).
    pub wrong_status: u8,
    /// The request is read and never answered (until the CA shuts down): a client must give
    /// up on its own bound.
    pub hang: u8,
    /// The Retry-After value in seconds (default 1).
    pub retry_after_secs: Option<u64>,
}

/// A knob value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KnobError {
    /// A percentage above 100.
    #[error("knob {0}: a percentage must be 0..=100, got {1}")]
    Percentage(String, u8),
    /// A key type name that does not exist.
    #[error("knob refuse_csr_keys: {0:?} is not rsa, p256, p384 or ed25519")]
    KeyType(String),
    /// A chaos entry for an endpoint that does not exist.
    #[error("knob chaos.{0}: no such endpoint (known: {known})", known = ENDPOINTS.join(", "))]
    Endpoint(String),
    /// Zero attempts would never validate.
    #[error("knob validation_attempts: must be at least 1")]
    Attempts,
    /// A zero lifetime or validity.
    #[error("knob {0}: must be greater than 0")]
    Zero(&'static str),
    /// A token-part1 length out of 1..=64 octets.
    #[error("knob token_part1_octets: must be 1..=64, got {0}")]
    TokenOctets(u8),
}

/// The longest lifetime or validity a knob gives (100 years): larger values are clamped, so
/// no knob value can overflow the CA's date arithmetic.
pub const MAX_LIFETIME_SECS: u64 = 100 * 365 * 24 * 3600;

fn lifetime(secs: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(secs.min(MAX_LIFETIME_SECS)).unwrap_or(i64::MAX))
}

impl Knobs {
    /// `order_lifetime_secs`, at most [`MAX_LIFETIME_SECS`].
    pub fn order_lifetime(&self) -> time::Duration {
        lifetime(self.order_lifetime_secs)
    }

    /// `authz_lifetime_secs`, at most [`MAX_LIFETIME_SECS`].
    pub fn authz_lifetime(&self) -> time::Duration {
        lifetime(self.authz_lifetime_secs)
    }

    /// `cert_validity_secs`, at most [`MAX_LIFETIME_SECS`].
    pub fn cert_validity(&self) -> time::Duration {
        lifetime(self.cert_validity_secs)
    }

    /// Checks ranges and names.
    pub fn validate(&self) -> Result<(), KnobError> {
        if self.nonce_reject_percent > 100 {
            return Err(KnobError::Percentage(
                "nonce_reject_percent".into(),
                self.nonce_reject_percent,
            ));
        }
        if self.validation_attempts == 0 {
            return Err(KnobError::Attempts);
        }
        if !(1..=64).contains(&self.token_part1_octets) {
            return Err(KnobError::TokenOctets(self.token_part1_octets));
        }
        for (name, value) in [
            ("order_lifetime_secs", self.order_lifetime_secs),
            ("authz_lifetime_secs", self.authz_lifetime_secs),
            ("cert_validity_secs", self.cert_validity_secs),
            ("email_reply_window_secs", self.email_reply_window_secs),
        ] {
            if value == 0 {
                return Err(KnobError::Zero(name));
            }
        }
        if let Some(bad) = self
            .refuse_csr_keys
            .iter()
            .find(|k| !CSR_KEY_TYPES.contains(&k.as_str()))
        {
            return Err(KnobError::KeyType(bad.clone()));
        }
        for (endpoint, chaos) in &self.chaos {
            if !ENDPOINTS.contains(&endpoint.as_str()) {
                return Err(KnobError::Endpoint(endpoint.clone()));
            }
            for (what, pct) in [
                ("rate_limited", chaos.rate_limited),
                ("unavailable", chaos.unavailable),
                ("internal", chaos.internal),
                ("garbage", chaos.garbage),
                ("html", chaos.html),
                ("wrong_status", chaos.wrong_status),
                ("hang", chaos.hang),
            ] {
                if pct > 100 {
                    return Err(KnobError::Percentage(
                        format!("chaos.{endpoint}.{what}"),
                        pct,
                    ));
                }
            }
        }
        Ok(())
    }

    /// These knobs with the members of `patch` (a JSON object) replaced, validated.
    pub fn merged(&self, patch: &serde_json::Value) -> Result<Knobs, String> {
        let mut current = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let (Some(target), Some(changes)) = (current.as_object_mut(), patch.as_object()) else {
            return Err("knobs must be a JSON object".into());
        };
        for (key, value) in changes {
            target.insert(key.clone(), value.clone());
        }
        let knobs: Knobs = serde_json::from_value(current).map_err(|e| e.to_string())?;
        knobs.validate().map_err(|e| e.to_string())?;
        Ok(knobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_off() {
        let k = Knobs::default();
        assert_eq!(k.validate(), Ok(()));
        assert_eq!(k.nonce_reject_percent, 0);
        assert!(k.chaos.is_empty() && !k.strict && !k.reuse_authorizations);
    }

    #[test]
    fn token_part1_octets_defaults_to_16_and_is_bounded() {
        assert_eq!(Knobs::default().token_part1_octets, 16);
        let k = Knobs::default()
            .merged(&serde_json::json!({ "token_part1_octets": 24 }))
            .expect("24 octets");
        assert_eq!(k.token_part1_octets, 24);
        for bad in [0, 65] {
            let e = Knobs::default()
                .merged(&serde_json::json!({ "token_part1_octets": bad }))
                .expect_err("out of range");
            assert!(e.contains("token_part1_octets"), "{e}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let k = Knobs {
            nonce_reject_percent: 101,
            ..Knobs::default()
        };
        assert!(
            k.validate()
                .unwrap_err()
                .to_string()
                .contains("nonce_reject_percent")
        );
        let mut k = Knobs::default();
        k.chaos.insert("new-ordr".into(), Chaos::default());
        assert!(k.validate().unwrap_err().to_string().contains("new-ordr"));
        let k = Knobs {
            validation_attempts: 0,
            ..Knobs::default()
        };
        assert_eq!(k.validate(), Err(KnobError::Attempts));
    }

    #[test]
    fn email_tls_knobs_read_from_toml_and_json() {
        let k: Knobs = toml::from_str(
            "service_field = \"challenge\"\ndraft = \"02\"\ntls_profile = \"srv-only\"\ncapability_phase = \"after-starttls\"\nrequire_default_port = true\nservice_port_in_hash = \"yes\"\none_cert_tls_and_starttls = \"refuse\"\nlmtp = \"on\"\nproof = \"read-only\"\n",
        )
        .unwrap();
        assert_eq!(k.service_field, ServiceField::Challenge);
        assert_eq!((k.draft, k.tls_profile), (Draft::V02, TlsProfile::SrvOnly));
        assert_eq!(k.capability_phase, CapabilityPhase::AfterStarttls);
        assert!(k.require_default_port);
        assert_eq!(k.service_port_in_hash, ServicePortInHash::Yes);
        assert_eq!(k.one_cert_tls_and_starttls, OneCertTlsAndStarttls::Refuse);
        assert_eq!(k.lmtp, Lmtp::On);
        assert_eq!(k.proof, Proof::ReadOnly);
        // Defaults: the lenient/-05 choices.
        let d = Knobs::default();
        assert_eq!(
            (d.service_field, d.capability_phase, d.lmtp, d.proof),
            (
                ServiceField::Both,
                CapabilityPhase::BeforeStarttls,
                Lmtp::Off,
                Proof::Reply
            )
        );
        let err = d
            .merged(&serde_json::json!({"service_field": "header"}))
            .unwrap_err();
        assert!(err.contains("header"), "{err}");
        assert!(toml::from_str::<Knobs>("lmtp = true").is_err());
    }

    #[test]
    fn merge_patches_and_refuses_unknown_keys() {
        let k = Knobs::default()
            .merged(&serde_json::json!({"strict": true, "chaos": {"new-order": {"internal": 5}}}))
            .unwrap();
        assert!(k.strict);
        assert_eq!(k.chaos["new-order"].internal, 5);
        let err = Knobs::default()
            .merged(&serde_json::json!({"stirct": true}))
            .unwrap_err();
        assert!(err.contains("stirct"), "{err}");
    }
}
