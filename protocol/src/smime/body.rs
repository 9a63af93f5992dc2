//! The media type of a challenge body: a choice the CA's knobs name, so it is here, apart from
//! the mail builder (feature `mail`) that uses it.

use serde::{Deserialize, Serialize};

/// The media type of a challenge body. RFC 8823 §3.1 item 7: the body "is not used for
/// automated processing, so it can be any media type"; these are the variants acmeproof
/// sends to see whether an MUA cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ChallengeBody {
    /// `text/plain`, as in RFC 8823 Figure 1.
    #[default]
    TextPlain,
    /// `multipart/alternative` with `text/plain` and `text/html`.
    MultipartAlternative,
    /// `text/html` only.
    TextHtml,
}
