//! What an `issue` scenario asks of an external RFC 8823 client beyond "get a certificate", and
//! how the client is told: a placeholder each. A scenario whose ask the template cannot carry
//! is `skipped` (the client was never told, so nothing was exercised); a client that was told
//! and did otherwise is `unimplemented` for it (RFC 8823 lets a client choose).

use acmeproof_mocks::ca::Knobs;
use acmeproof_mocks::ca::knobs::EmailSendOn;

use crate::scenario::model::{ImapTls, IssueStep, PostWhen, ReplyBody, Step, Usage};

/// One thing a scenario asks of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The placeholder that carries it.
    pub placeholder: &'static str,
    /// Its value in this scenario.
    pub value: String,
    /// Whether the value is what a client does when not told (then a template without the
    /// placeholder still runs the scenario).
    pub default: bool,
    /// What it asks, in words.
    pub what: String,
}

/// The reference MUA's own variants: a scenario setting one is about that variant, not about
/// an external client, which has its own (`acmeproof matrix` crosses them).
pub fn reference_variant(s: &IssueStep) -> Option<&'static str> {
    let m = &s.mua;
    if m.join.is_some() {
        Some(
            "join (token join: an open issue, crossed by `acmeproof matrix --variants token_join`)",
        )
    } else if m.wrap.is_some() {
        Some("wrap (how it wraps the digest)")
    } else if m.wait.is_some() {
        Some("wait (how it watches the mailbox)")
    } else {
        None
    }
}

/// What the issue step `s` asks of the client, in a world whose CA runs with `knobs`.
pub fn asks(s: &IssueStep, knobs: &Knobs) -> Vec<Ask> {
    let m = &s.mua;
    let usage = m.usage.unwrap_or(Usage::Both);
    let body = m.body.unwrap_or(ReplyBody::TextPlain);
    let post = m.post.unwrap_or(PostWhen::AfterReply);
    let implicit = m.imap_tls == Some(ImapTls::Implicit);
    let mail_on = match knobs.email_send_on {
        EmailSendOn::AuthzFetch => "authorization",
        EmailSendOn::ChallengePost => "challenge-post",
    };
    vec![
        Ask {
            placeholder: "usage",
            default: usage == Usage::Both,
            what: format!("ask for a certificate for {usage} (RFC 8823 §3.3)"),
            value: usage.as_str().into(),
        },
        Ask {
            placeholder: "reply_body",
            default: body == ReplyBody::TextPlain,
            what: format!("reply with a {body} body"),
            value: body.as_str().into(),
        },
        Ask {
            placeholder: "imap_tls",
            default: !implicit,
            what: "read the mailbox over implicit TLS (IMAPS, {imaps_url})".into(),
            value: if implicit { "implicit" } else { "starttls" }.into(),
        },
        Ask {
            placeholder: "post",
            default: post == PostWhen::AfterReply,
            what: format!("POST the challenge {post}"),
            value: post.as_str().into(),
        },
        Ask {
            placeholder: "mail_on",
            default: mail_on == "authorization",
            what: "wait for a challenge mail this CA sends only once the challenge is POSTed \
                   (RFC 8823 §3 step 4 has it sent after the authorization is fetched)"
                .into(),
            value: mail_on.into(),
        },
    ]
}

/// The CA knobs the issue step at `index` of `steps` runs under: the world's, changed by any
/// `set-knobs` step before it.
pub fn knobs_at(world: &Knobs, steps: &[Step], index: usize) -> Knobs {
    let mut knobs = world.clone();
    for step in steps.iter().take(index) {
        if let Step::SetKnobs(s) = step
            && let Ok(patch) = serde_json::to_value(&s.knobs)
            && let Ok(merged) = knobs.merged(&patch)
        {
            knobs = merged;
        }
    }
    knobs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::MuaVariant;

    fn step(mua: MuaVariant) -> IssueStep {
        IssueStep {
            user: "alice".into(),
            mua,
            expect: crate::scenario::model::IssueExpect::Issued,
            error: None,
            inject: Vec::new(),
            ignored: None,
            req: None,
        }
    }

    #[test]
    fn defaults_ask_nothing_and_each_variant_asks_its_placeholder() {
        let knobs = Knobs::default();
        assert!(
            asks(&step(MuaVariant::default()), &knobs)
                .iter()
                .all(|a| a.default)
        );
        let signing = step(MuaVariant {
            usage: Some(Usage::Signing),
            ..Default::default()
        });
        let asked: Vec<_> = asks(&signing, &knobs)
            .into_iter()
            .filter(|a| !a.default)
            .collect();
        assert_eq!(asked.len(), 1);
        assert_eq!(
            (asked[0].placeholder, asked[0].value.as_str()),
            ("usage", "signing")
        );
        let mail_on_post = Knobs {
            email_send_on: EmailSendOn::ChallengePost,
            ..Knobs::default()
        };
        let asked: Vec<_> = asks(&step(MuaVariant::default()), &mail_on_post)
            .into_iter()
            .filter(|a| !a.default)
            .map(|a| a.placeholder)
            .collect();
        assert_eq!(asked, ["mail_on"]);
        assert!(
            reference_variant(&step(MuaVariant {
                join: Some(acmeproof_protocol::token::Join::Binary),
                ..Default::default()
            }))
            .is_some()
        );
    }
}
