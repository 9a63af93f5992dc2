//! The open-issue variants: named choices the texts leave
//! open, each with the values a client can take and the values a CA can take. `acmeproof
//! matrix` runs a scenario once per client value × CA value; a scenario lists the variants it
//! is meant for in `variants = [...]`.

use serde_json::json;

use super::LoadedScenario;
use super::model::{Step, TlsField};

/// One open issue.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// The name used in scenario files and on the command line.
    pub name: &'static str,
    /// The question it answers.
    pub question: &'static str,
    /// Where the texts leave it open.
    pub source: &'static str,
    /// The values a client (MUA, mail-server operator) can take; one value `as-written` when
    /// only the CA varies.
    pub client: &'static [&'static str],
    /// The values a CA can take (the CA knob of the same meaning).
    pub ca: &'static [&'static str],
    /// The text the question comes from, quoted.
    pub draft_text: &'static str,
    /// What the matrix shows.
    pub shows: &'static str,
    /// What the matrix cannot show.
    pub cannot_show: &'static str,
}

/// Every variant, in documentation order.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "token_join",
        question: "Is token-part1 ∥ token-part2 a join of the base64url texts or of the decoded octets?",
        source: "RFC 8823 §3 step 6 (\"concatenates\"); acme4j issue #123",
        client: &["string", "binary"],
        // The CA's join / its token-part1 octets (knob token_part1_octets).
        ca: &[
            "string/15",
            "binary/15",
            "either/15",
            "string/16",
            "binary/16",
            "either/16",
            "string/18",
            "binary/18",
            "either/18",
            "string/24",
            "binary/24",
            "either/24",
            "string/32",
            "binary/32",
            "either/32",
        ],
        draft_text: "RFC 8823 §3 step 6: \"The ACME client concatenates \"token-part1\" (received over email) and \"token-part2\" (received over HTTPS [RFC2818]) to create the ACME \"token\" and calculates keyAuthorization (as per Section 8.1 of [RFC8555]).\" Step 4: \"[...] and token-part1 MUST contain at least 128 bits of entropy.\"",
        shows: "Columns cross the CA's join with its token-part1 length (knob token_part1_octets: 15, 16, 18, 24, 32 octets). Base64url (RFC 4648 §5) encodes each 3 octets as 4 characters, so joining the texts equals encoding the joined octets exactly when token-part1 is a multiple of 3 octets: at 18 and 24 a string client and a binary CA (or the reverse) interoperate, at 16 and 32 they do not. At 15 the joins coincide too, but 120 bits are under step 4's 128, so the MUA answers no CA (SMIME-6).",
        cannot_show: "A real implementation's join where its token-part1 is a multiple of 3 octets (acme2certifier's is 32 characters, 24 octets): there both joins give the same digest, so no cell can tell them apart.",
    },
    Variant {
        name: "service_port_in_hash",
        question: "Are service and port under the digest, binding the proof to one service?",
        source: "draft-ietf-acme-email-tls-00…-04 open issue; no formula was ever given (see docs/open-issues.md)",
        client: &["no", "yes"],
        ca: &["no", "yes"],
        draft_text: "draft-ietf-acme-email-tls-00…-02 §3.3 item 2: \"[[OPEN ISSUE: Should service name and port number be incorporated into the hash?]]\"; -03/-04: \"[[TODO: Make sure that both service name and port number are incorporated into the hash]]\"; gone in -05.",
        shows: "That a client and a CA that disagree on whether service and port are hashed never interoperate.",
        cannot_show: "Whether any formula is right: no draft gave one. The hash with service and port, base64url(SHA-256(keyAuthorization || \".\" || service || \".\" || port)), is acmeproof's proposal until a draft fixes one; both sides here use that proposal.",
    },
    Variant {
        name: "one_cert_tls_and_starttls",
        question: "May one certificate cover a service on its STARTTLS and its implicit-TLS port (imap/143 and imaps/993)?",
        source: "draft-ietf-acme-email-tls open issue; RFC 8314 §3 (implicit TLS ports)",
        client: &["one-service", "tls-and-starttls"],
        ca: &["refuse", "allow"],
        draft_text: "draft-ietf-acme-email-tls-01…-05 §4 open issue 1: \"Should the same certificate be allowed to be used on both IMAP (143) and IMAPS (993) ports?\"; IETF 100 slides: \"Probably not\".",
        shows: "A client ordering both ports of a service in one order against a CA that allows or refuses it; a client ordering one service per certificate works with both.",
        cannot_show: "Whether sharing the certificate is safe: a policy question. Ordering several services in one order uses acmeproof's newOrder placement, which no draft has.",
    },
    Variant {
        name: "service_field",
        question: "Do service and port travel in the challenge POST, as every draft's Figure 1 has them, or in the newOrder (acmeproof's proposal for RFC 8555)?",
        source: "draft-ietf-acme-email-tls-00…-05 §3 and Figure 1 (the challenge response); the newOrder placement is acmeproof's",
        client: &["challenge-payload", "challenge-header", "new-order"],
        ca: &["challenge", "new-order", "both"],
        draft_text: "draft-ietf-acme-email-tls-00…-04 §3: \"\"service\" JWS header parameter MUST be included\"; -05 §3.1: '\"service\" field in JSON payload'; every version's Figure 1 is the challenge response.",
        shows: "Which placements of service/port meet which CA placements.",
        cannot_show: "Whether the newOrder placement is right: it is acmeproof's proposal for RFC 8555, not draft text.",
    },
    Variant {
        name: "draft",
        question: "In the challenge POST, are service and port protected header parameters (-00…-04) or payload members (-05)?",
        source: "draft-ietf-acme-email-tls-04 §3 Figure 1 vs -05 §3.1/§3.2 and Figure 1",
        client: &["challenge-header", "challenge-payload"],
        ca: &["02", "05", "any"],
        draft_text: "-00…-04 §3 \"JWS header parameter\" (Figure 1: protected header) against -05 §3.1/§3.2 \"field in JSON payload\" (Figure 1: payload).",
        shows: "That a -04 client and a -05 CA (and the reverse) do not meet; a CA reading both meets both.",
        cannot_show: "Which version deployed software follows: the draft expired unpublished.",
    },
    Variant {
        name: "tls_profile",
        question: "Does the certificate carry the dNSName with the SRV-IDs, or only the validated SRV-IDs?",
        source: "RFC 7817 §4 (what a CA MUST be able to issue, not what each certificate carries)",
        client: &["as-written"],
        ca: &["acmeproof", "srv-only"],
        draft_text: "RFC 7817 §4: \"CAs MUST support issuance of certificates with DNS-IDs, SRV-IDs and CN-IDs\" (what a CA can issue, not what each certificate carries).",
        shows: "That the reference MUA's certificate check accepts both profiles.",
        cannot_show: "Which profile mail clients verifying the server accept: no TLS client of a mail user is run here.",
    },
    Variant {
        name: "twin_srv_id",
        question: "Does the CA add the SRV-ID of the other port's service (imap ↔ imaps) when both run?",
        source: "draft-ietf-acme-email-tls-03…-05 §4 open issue 1",
        client: &["as-written"],
        ca: &["false", "true"],
        draft_text: "draft-ietf-acme-email-tls-03…-05 §4 open issue 1: \"Maybe if the ACME server sees a request for port 143 (or 993), it can include SRV-ID for the other port, if it can verify that both are running?\"",
        shows: "Whether the client copes with a certificate carrying the twin service's SRV-ID.",
        cannot_show: "Whether \"verify that both are running\" is a proof: acmeproof reads it as a greeting on the twin's IANA port, its own reading.",
    },
    Variant {
        name: "service_arrays",
        question: "May one identifier name several services as -05's proposed `services`/`ports` arrays?",
        source: "draft-ietf-acme-email-tls-05 §4 open issue 1 (\"make both of them arrays\")",
        client: &["new-order", "new-order-arrays"],
        ca: &["false", "true"],
        draft_text: "draft-ietf-acme-email-tls-05 §4 open issue 1: \"The cleanest way is to change \"service\" to \"services\", change \"port\" to \"ports\" and make both of them arrays.\"",
        shows: "That an arrays client needs an arrays CA, and a one-service client meets both.",
        cannot_show: "The arrays' exact shape: -05 sketches them; acmeproof's shape (one authorization per service) is its own.",
    },
    Variant {
        name: "service_identifier",
        question: "Is the service named by an identifier of its own type, service@domain, instead of a dns identifier?",
        source: "draft-melnikov-acme-email-tls-00 §4, draft-ietf-acme-email-tls-00…-02 §4 open issue",
        client: &["new-order", "service-identifier"],
        ca: &["false", "true"],
        draft_text: "draft-melnikov-acme-email-tls-00 §4, draft-ietf-acme-email-tls-00…-02 §4: \"define a new Identifier Type that specifies service@domain. The current version of the document just reuses \"dns\".\"",
        shows: "That a service-identifier client needs a CA that knows the type.",
        cannot_show: "The type's name: the drafts never gave one; `service` is acmeproof's.",
    },
    Variant {
        name: "lmtp",
        question: "Can an LMTP server get a certificate, with service `lmtp` and an explicit port?",
        source: "IETF 100 minutes on -02 (LMTP has no IANA port)",
        client: &["as-written"],
        ca: &["off", "on"],
        draft_text: "draft-ietf-acme-email-tls-00…-05 §4: \"Add support for LMTP (RFC 2033)?\"; RFC 2033 §4: LMTP \"MUST NOT be used on TCP port 25\".",
        shows: "Whether a CA with the knob on issues for service `lmtp` with an explicit port, and refuses it with the knob off.",
        cannot_show: "Which port is right: LMTP has no IANA port or service name (IETF 100 minutes on -02), so the port is always explicit and any default would be acmeproof's invention. The knob alone decides the cells; the question stays open.",
    },
    Variant {
        name: "challenge_body",
        question: "Which body types of the challenge mail do MUAs cope with?",
        source: "RFC 8823 §3.1 (the body is not specified)",
        client: &["as-written"],
        ca: &["text-plain", "multipart-alternative", "text-html"],
        draft_text: "RFC 8823 §3.1: the challenge mail's body is not specified (items 1–7 constrain only header fields).",
        shows: "Which challenge bodies the reference MUA answers.",
        cannot_show: "What other MUAs cope with: only the reference MUA is a row here.",
    },
    Variant {
        name: "proof",
        question: "Is reading the challenge mail enough (token-part1 POSTed back), or must the user reply?",
        source: "draft-ietf-acme-smime-01 open issue; RFC 8823 §3 (reply)",
        client: &["reply", "read-only"],
        ca: &["reply", "read-only"],
        draft_text: "draft-ietf-acme-email-smime-01 open issue (IETF 100 slides): \"The document assumes that we need to prove ability to send messages as an email address, not just read email\"; \"Is being able to just read email a sufficient proof of control?\". RFC 8823 §3 settled on the reply.",
        shows: "The read-only row POSTs {\"tokenPart1\": …} (acmeproof's definition of reading only): a read-only CA issues; a reply-only CA refuses it (malformed, naming the rule the reply comes from). The reply row meets both.",
        cannot_show: "Whether reading only is a sufficient proof of control: a security judgement, not interop. The tokenPart1 member is acmeproof's; no draft defined it.",
    },
];

/// The variant named `name`.
pub fn lookup(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

/// The names, for error messages.
pub fn names() -> String {
    VARIANTS
        .iter()
        .map(|v| v.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The twin of a service on the other kind of TLS (RFC 8314): imap ↔ imaps, pop3 ↔ pop3s,
/// submission ↔ submissions.
fn twin(service: &str) -> Option<&'static str> {
    Some(match service {
        "imap" => "imaps",
        "imaps" => "imap",
        "pop3" => "pop3s",
        "pop3s" => "pop3",
        "submission" => "submissions",
        "submissions" => "submission",
        _ => return None,
    })
}

/// The CA knobs of `variant`'s CA value `ca`.
pub fn ca_knob(variant: &Variant, ca: &str) -> Result<serde_json::Value, String> {
    Ok(match variant.name {
        // "JOIN/OCTETS": the join the CA accepts and its token-part1 length.
        "token_join" => {
            let (join, octets) = ca
                .split_once('/')
                .ok_or_else(|| format!("token_join: CA value {ca:?} is not JOIN/OCTETS"))?;
            let octets: u8 = octets
                .parse()
                .map_err(|_| format!("token_join: {octets:?} is not a number of octets"))?;
            json!({ "email_join": join, "token_part1_octets": octets })
        }
        "challenge_body" => json!({ "email_challenge_body": ca }),
        "twin_srv_id" | "service_arrays" | "service_identifier" => {
            json!({ variant.name: ca == "true" })
        }
        other => json!({ other: ca }),
    })
}

/// `scenario` with `variant` set to `ca` on the CA side only (an external client does what
/// it does).
pub fn apply_ca(
    scenario: &LoadedScenario,
    variant: &Variant,
    ca: &str,
) -> Result<LoadedScenario, String> {
    let mut out = scenario.clone();
    let knob = ca_knob(variant, ca)?;
    out.world.ca.knobs = out
        .world
        .ca
        .knobs
        .merged(&knob)
        .map_err(|e| format!("{} = {ca}: {e}", variant.name))?;
    Ok(out)
}

/// `scenario` with `variant` set to `client` on the client side and `ca` on the CA side.
pub fn apply(
    scenario: &LoadedScenario,
    variant: &Variant,
    client: &str,
    ca: &str,
) -> Result<LoadedScenario, String> {
    let mut out = apply_ca(scenario, variant, ca)?;
    apply_client(&mut out, variant, client)?;
    out.client_values.push((variant.name, client.to_owned()));
    Ok(out)
}

/// Sets `variant` to `client` in `scenario`'s steps (the client side only).
pub fn apply_client(
    scenario: &mut LoadedScenario,
    variant: &Variant,
    client: &str,
) -> Result<(), String> {
    let out = scenario;
    for step in &mut out.file.steps {
        match (variant.name, step) {
            ("token_join", Step::Issue(s)) => {
                s.mua.join = Some(
                    client
                        .parse()
                        .map_err(|_| format!("token_join: no client value {client:?}"))?,
                )
            }
            ("proof", Step::Issue(s)) => {
                s.mua.proof = Some(
                    serde_json::from_value(json!(client))
                        .map_err(|_| format!("proof: no client value {client:?}"))?,
                )
            }
            ("service_port_in_hash", Step::IssueTls(s)) => {
                s.service_port_in_hash = client == "yes";
            }
            (
                "service_field" | "draft" | "service_arrays" | "service_identifier",
                Step::IssueTls(s),
            ) => {
                s.field = client
                    .parse()
                    .map_err(|e| format!("{}: {e}", variant.name))?
            }
            ("one_cert_tls_and_starttls", Step::IssueTls(s)) if client == "tls-and-starttls" => {
                let mut all = s.services.clone();
                for service in &s.services {
                    let name = service.split(':').next().unwrap_or_default();
                    if let Some(t) = twin(name)
                        && !all.iter().any(|x| x.split(':').next() == Some(t))
                    {
                        all.push(t.to_owned());
                    }
                }
                s.services = all;
                // Several services in one order: acmeproof's newOrder proposal (the draft
                // names one service per challenge POST).
                s.field = TlsField::NewOrder;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use acmeproof_mocks::ca::Knobs;

    #[test]
    fn every_ca_value_is_a_knob_value_the_ca_takes() {
        for v in VARIANTS {
            for ca in v.ca {
                let knob = ca_knob(v, ca).unwrap_or_else(|e| panic!("{e}"));
                Knobs::default()
                    .merged(&knob)
                    .unwrap_or_else(|e| panic!("{} = {ca}: {e}", v.name));
            }
        }
        assert!(lookup("token_join").is_some());
        assert!(lookup("token-join").is_none());
    }
}
