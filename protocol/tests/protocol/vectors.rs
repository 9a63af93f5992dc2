//! The published and computed test vectors, loaded from `fixtures/vectors/*.json`.

use acmeproof_protocol::email_tls::{self, Service};
use acmeproof_protocol::token::{self, Join};
use acmeproof_protocol::{jwk, keyauth};

use crate::support::{json, s};

#[test]
fn jwk_thumbprints() {
    let doc = json("vectors/thumbprints.json");
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 4);
    for v in vectors {
        assert_eq!(
            jwk::canonical_form(&v["jwk"]).unwrap(),
            s(v, "canonical"),
            "{}",
            s(v, "name")
        );
        assert_eq!(
            jwk::thumbprint(&v["jwk"]).unwrap(),
            s(v, "thumbprint"),
            "{}",
            s(v, "name")
        );
    }
}

#[test]
fn dns01_values() {
    let doc = json("vectors/dns01.json");
    for v in doc["vectors"].as_array().unwrap() {
        let ka = keyauth::key_authorization(s(v, "token"), s(v, "thumbprint"));
        assert_eq!(ka, s(v, "key_authorization"));
        assert_eq!(
            keyauth::dns01_txt_value(s(v, "token"), s(v, "thumbprint")),
            s(v, "txt")
        );
    }
}

#[test]
fn email_reply_digests_for_both_joins() {
    let doc = json("vectors/email-reply.json");
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 4);
    for v in vectors {
        let name = s(v, "name");
        for join in Join::ALL {
            let expected = &v[join.as_str()];
            let got = token::reply_digest(
                s(v, "token_part1"),
                s(v, "token_part2"),
                s(v, "thumbprint"),
                join,
            )
            .unwrap();
            assert_eq!(got.digest, s(expected, "digest"), "{name} {join}");
            if let Some(t) = expected["token"].as_str() {
                assert_eq!(got.token, t, "{name} {join}");
            }
            if let Some(ka) = expected["key_authorization"].as_str() {
                assert_eq!(got.key_authorization, ka, "{name} {join}");
            }
            // identify_join names exactly this join: the RFC tokens make the joins differ.
            assert_eq!(
                token::identify_join(
                    s(v, "token_part1"),
                    s(v, "token_part2"),
                    s(v, "thumbprint"),
                    s(expected, "digest")
                )
                .unwrap(),
                vec![join],
                "{name}"
            );
        }
    }
}

#[test]
fn email_tls_values() {
    let doc = json("vectors/email-tls.json");
    for v in doc["txt_names"].as_array().unwrap() {
        let service: Service = s(v, "service").parse().unwrap();
        let port = u16::try_from(v["port"].as_u64().unwrap()).unwrap();
        assert_eq!(
            email_tls::txt_name(port, service, s(v, "domain")).unwrap(),
            s(v, "name")
        );
    }
    for v in doc["digests"].as_array().unwrap() {
        let digest = keyauth::dns01_txt_value(s(v, "token"), s(v, "thumbprint"));
        assert_eq!(digest, s(v, "digest"));
        assert_eq!(email_tls::ehlo_capability(&digest), s(v, "ehlo_line"));
        assert_eq!(email_tls::imap_capability(&digest), s(v, "imap_capability"));
        assert_eq!(email_tls::pop3_capability(&digest), s(v, "pop3_capability"));
    }
}
