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
}

/// Every variant, in documentation order.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "token_join",
        question: "Is token-part1 ∥ token-part2 a join of the base64url texts or of the decoded octets?",
        source: "RFC 8823 §3 step 6 (\"concatenates\"); acme4j issue #123",
        client: &["string", "binary"],
        ca: &["string", "binary", "either"],
    },
    Variant {
        name: "service_port_in_hash",
        question: "Are service and port under the digest, binding the proof to one service?",
        source: "draft-ietf-acme-email-tls-00…-04 open issue; no formula was ever given (see docs/open-issues.md)",
        client: &["no", "yes"],
        ca: &["no", "yes"],
    },
    Variant {
        name: "one_cert_tls_and_starttls",
        question: "May one certificate cover a service on its STARTTLS and its implicit-TLS port (imap/143 and imaps/993)?",
        source: "draft-ietf-acme-email-tls open issue; RFC 8314 §3 (implicit TLS ports)",
        client: &["one-service", "tls-and-starttls"],
        ca: &["refuse", "allow"],
    },
    Variant {
        name: "service_field",
        question: "Do service and port travel in the challenge POST, as every draft's Figure 1 has them, or in the newOrder (acmeproof's proposal for RFC 8555)?",
        source: "draft-ietf-acme-email-tls-00…-05 §3 and Figure 1 (the challenge response); the newOrder placement is acmeproof's",
        client: &["challenge-payload", "challenge-header", "new-order"],
        ca: &["challenge", "new-order", "both"],
    },
    Variant {
        name: "draft",
        question: "In the challenge POST, are service and port protected header parameters (-00…-04) or payload members (-05)?",
        source: "draft-ietf-acme-email-tls-04 §3 Figure 1 vs -05 §3.1/§3.2 and Figure 1",
        client: &["challenge-header", "challenge-payload"],
        ca: &["02", "05", "any"],
    },
    Variant {
        name: "tls_profile",
        question: "Does the certificate carry the dNSName with the SRV-IDs, or only the validated SRV-IDs?",
        source: "RFC 7817 §4 (what a CA MUST be able to issue, not what each certificate carries)",
        client: &["as-written"],
        ca: &["acmeproof", "srv-only"],
    },
    Variant {
        name: "twin_srv_id",
        question: "Does the CA add the SRV-ID of the other port's service (imap ↔ imaps) when both run?",
        source: "draft-ietf-acme-email-tls-03…-05 §4 open issue 1",
        client: &["as-written"],
        ca: &["false", "true"],
    },
    Variant {
        name: "service_arrays",
        question: "May one identifier name several services as -05's proposed `services`/`ports` arrays?",
        source: "draft-ietf-acme-email-tls-05 §4 open issue 1 (\"make both of them arrays\")",
        client: &["new-order", "new-order-arrays"],
        ca: &["false", "true"],
    },
    Variant {
        name: "service_identifier",
        question: "Is the service named by an identifier of its own type, service@domain, instead of a dns identifier?",
        source: "draft-melnikov-acme-email-tls-00 §4, draft-ietf-acme-email-tls-00…-02 §4 open issue",
        client: &["new-order", "service-identifier"],
        ca: &["false", "true"],
    },
    Variant {
        name: "lmtp",
        question: "Can an LMTP server get a certificate, with service `lmtp` and an explicit port?",
        source: "IETF 100 minutes on -02 (LMTP has no IANA port)",
        client: &["as-written"],
        ca: &["off", "on"],
    },
    Variant {
        name: "challenge_body",
        question: "Which body types of the challenge mail do MUAs cope with?",
        source: "RFC 8823 §3.1 (the body is not specified)",
        client: &["as-written"],
        ca: &["text-plain", "multipart-alternative", "text-html"],
    },
    Variant {
        name: "proof",
        question: "Is reading the challenge mail enough (token-part1 POSTed back), or must the user reply?",
        source: "draft-ietf-acme-smime-01 open issue; RFC 8823 §3 (reply)",
        client: &["reply"],
        ca: &["reply", "read-only"],
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

/// `scenario` with `variant` set to `client` on the client side and `ca` on the CA side.
pub fn apply(
    scenario: &LoadedScenario,
    variant: &Variant,
    client: &str,
    ca: &str,
) -> Result<LoadedScenario, String> {
    let mut out = scenario.clone();
    let knob = match variant.name {
        "token_join" => json!({ "email_join": ca }),
        "challenge_body" => json!({ "email_challenge_body": ca }),
        "twin_srv_id" | "service_arrays" | "service_identifier" => {
            json!({ variant.name: ca == "true" })
        }
        other => json!({ other: ca }),
    };
    out.world.ca.knobs = out
        .world
        .ca
        .knobs
        .merged(&knob)
        .map_err(|e| format!("{} = {ca}: {e}", variant.name))?;
    for step in &mut out.file.steps {
        match (variant.name, step) {
            ("token_join", Step::Issue(s)) => {
                s.mua.join = Some(
                    client
                        .parse()
                        .map_err(|_| format!("token_join: no client value {client:?}"))?,
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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use acmeproof_mocks::ca::Knobs;

    #[test]
    fn every_ca_value_is_a_knob_value_the_ca_takes() {
        for v in VARIANTS {
            for ca in v.ca {
                let knob = match v.name {
                    "token_join" => json!({ "email_join": ca }),
                    "challenge_body" => json!({ "email_challenge_body": ca }),
                    "twin_srv_id" | "service_arrays" | "service_identifier" => {
                        json!({ v.name: *ca == "true" })
                    }
                    other => json!({ other: ca }),
                };
                Knobs::default()
                    .merged(&knob)
                    .unwrap_or_else(|e| panic!("{} = {ca}: {e}", v.name));
            }
        }
        assert!(lookup("token_join").is_some());
        assert!(lookup("token-join").is_none());
    }
}
