//! RFC 8823 token joining and the reply digest.
//!
//! RFC 8823 §3 step 6: "The ACME client concatenates "token-part1" (received over email) and
//! "token-part2" (received over HTTPS) to create the ACME "token"". The text does not say whether
//! the base64url *strings* or the decoded *octets* are joined, and both readings ship in the field:
//!
//! - [`Join::String`]: `tp1 ‖ tp2` as text (acme4j, acme2certifier, akamu, RapidMX);
//! - [`Join::Binary`]: `base64url(dec(tp1) ‖ dec(tp2))` (acmez, the CASTLE certbot plugin).
//!
//! They agree only when token-part1 decodes to a multiple of three octets and carries no
//! padding. acmeproof makes the join a variant knob and reports which one a peer used.

use serde::{Deserialize, Serialize};

use crate::{b64url, keyauth};

/// How token-part1 and token-part2 are joined into the ACME token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Join {
    /// The two base64url texts, one after the other.
    String,
    /// The decoded octets, one after the other, encoded again as base64url without padding.
    Binary,
}

impl Join {
    /// Both joins, in a fixed order.
    pub const ALL: [Join; 2] = [Join::String, Join::Binary];

    /// The knob value as written in scenarios and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Join::String => "string",
            Join::Binary => "binary",
        }
    }
}

impl std::fmt::Display for Join {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Join {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "string" => Ok(Join::String),
            "binary" => Ok(Join::Binary),
            other => Err(TokenError::UnknownJoin(other.into())),
        }
    }
}

/// Why two token parts cannot be joined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A token part is not base64url (a trailing `=` is tolerated, as in RFC 8823 Figure 1).
    #[error("{part} is not base64url: {source}")]
    Encoding {
        /// `token-part1` or `token-part2`.
        part: &'static str,
        /// The decoding error.
        source: b64url::DecodeError,
    },
    /// A join name other than `string` or `binary`.
    #[error("unknown token join {0:?} (expected \"string\" or \"binary\")")]
    UnknownJoin(String),
}

/// RFC 8823 §3.1 item 1: "white spaces (if any) within the <token-part1> MUST be ignored".
pub fn strip_whitespace(token: &str) -> String {
    token.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The entropy a token part carries, in bits: 8 × its decoded length (RFC 8823 §3: token-part1
/// "MUST contain at least 128 bits of entropy"; only the length is observable).
pub fn token_bits(token: &str) -> Result<usize, b64url::DecodeError> {
    b64url::decode_lenient(&strip_whitespace(token)).map(|octets| octets.len() * 8)
}

/// The ACME token for a join of token-part1 and token-part2.
pub fn join_tokens(part1: &str, part2: &str, join: Join) -> Result<String, TokenError> {
    let part1 = strip_whitespace(part1);
    let part2 = strip_whitespace(part2);
    let dec1 = b64url::decode_lenient(&part1).map_err(|source| TokenError::Encoding {
        part: "token-part1",
        source,
    })?;
    let dec2 = b64url::decode_lenient(&part2).map_err(|source| TokenError::Encoding {
        part: "token-part2",
        source,
    })?;
    Ok(match join {
        Join::String => format!("{part1}{part2}"),
        Join::Binary => b64url::encode([dec1, dec2].concat()),
    })
}

/// The key authorization and reply digest for one join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyDigest {
    /// Which join produced it.
    pub join: Join,
    /// The joined ACME token.
    pub token: String,
    /// RFC 8555 §8.1 key authorization.
    pub key_authorization: String,
    /// RFC 8823 §3 step 6: base64url(SHA-256(key authorization)).
    pub digest: String,
}

/// RFC 8823 §3 step 6: the digest the response e-mail carries, for one join.
pub fn reply_digest(
    part1: &str,
    part2: &str,
    thumbprint: &str,
    join: Join,
) -> Result<ReplyDigest, TokenError> {
    let token = join_tokens(part1, part2, join)?;
    let key_authorization = keyauth::key_authorization(&token, thumbprint);
    let digest = keyauth::digest(&key_authorization);
    Ok(ReplyDigest {
        join,
        token,
        key_authorization,
        digest,
    })
}

/// Which joins produce `digest` (both, when they coincide; none, when neither does).
///
/// A trailing `=` on `digest` is tolerated; the comparison runs in constant time.
pub fn identify_join(
    part1: &str,
    part2: &str,
    thumbprint: &str,
    digest: &str,
) -> Result<Vec<Join>, TokenError> {
    let mut joins = Vec::new();
    for join in Join::ALL {
        let expected = reply_digest(part1, part2, thumbprint, join)?;
        if keyauth::digests_match(digest, &expected.digest) {
            joins.push(join);
        }
    }
    Ok(joins)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP1: &str = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=";
    const TP2: &str = "DGyRejmCefe7v4NfDGDKfA";

    #[test]
    fn joins_differ_for_the_rfc_tokens() {
        assert_eq!(
            join_tokens(TP1, TP2, Join::String).unwrap(),
            format!("{TP1}{TP2}")
        );
        assert_eq!(
            join_tokens(TP1, TP2, Join::Binary).unwrap(),
            "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sMEMbJF6OYJ597u_g18MYMp8"
        );
    }

    #[test]
    fn joins_agree_on_multiples_of_three_octets() {
        let tp1 = b64url::encode([7u8; 24]);
        let tp2 = b64url::encode([9u8; 24]);
        assert_eq!(
            join_tokens(&tp1, &tp2, Join::String).unwrap(),
            join_tokens(&tp1, &tp2, Join::Binary).unwrap()
        );
        let both = identify_join(
            &tp1,
            &tp2,
            "t",
            &reply_digest(&tp1, &tp2, "t", Join::String).unwrap().digest,
        );
        assert_eq!(both.unwrap(), vec![Join::String, Join::Binary]);
    }

    #[test]
    fn identify_join_finds_each_and_none() {
        let thumb = "1_nKJnlH9boVxdoO63T8zP7O2w42qZL4d6xj35Hy5aI";
        for join in Join::ALL {
            let d = reply_digest(TP1, TP2, thumb, join).unwrap().digest;
            assert_eq!(identify_join(TP1, TP2, thumb, &d).unwrap(), vec![join]);
        }
        let other = reply_digest(TP1, TP2, "other", Join::String)
            .unwrap()
            .digest;
        assert!(identify_join(TP1, TP2, thumb, &other).unwrap().is_empty());
    }

    #[test]
    fn bad_parts_are_errors() {
        assert!(matches!(
            join_tokens("a+b", TP2, Join::String),
            Err(TokenError::Encoding {
                part: "token-part1",
                ..
            })
        ));
        assert!(matches!(
            join_tokens(TP1, "A", Join::Binary),
            Err(TokenError::Encoding {
                part: "token-part2",
                ..
            })
        ));
        assert_eq!(
            "both".parse::<Join>(),
            Err(TokenError::UnknownJoin("both".into()))
        );
        assert_eq!(token_bits(TP1), Ok(256));
        assert_eq!(token_bits("LgYe mJLy"), Ok(48));
    }
}
