//! The requirement catalogue: every numbered rule a checker can report against.
//!
//! Each [`Requirement`] has an id, a BCP 14 level, the actor it binds, the clause it comes from,
//! a one-line summary in our own words, and [`Requirement::text`]: the sentence(s) of that clause
//! that carry the keyword, quoted verbatim ("[...]" marks an elided part).
//!
//! The ids are stable: a finding, a scenario file and a report name a rule the same way, and a
//! retired id is never reused. The families:
//!
//! | family    | rules of                                                               |
//! |-----------|------------------------------------------------------------------------|
//! | `SMIME-n` | RFC 8823: the `email` identifier, `email-reply-00`                     |
//! | `TLS-n`   | draft-ietf-acme-email-tls, versions in `source`; the exact texts in [`TLS_TEXTS`] |
//! | `ACME-n`  | the RFC 8555 core a mock CA or a client checker needs                  |
//! | `MAIL-n`  | RFC 5322, RFC 3834, RFC 2047, RFC 6376/8301 around them (acmeproof's own) |
//!
//! Levels: MUST and MUST NOT are [`Level::Must`], SHOULD and the texts' lower-case "should" are
//! [`Level::Should`], MAY is [`Level::May`], and "—" (descriptive text without a keyword) is
//! [`Level::Info`]. A prohibition (MUST NOT, SHOULD NOT) sets [`Requirement::negative`], and its
//! summary then names the forbidden act, so `"{keyword}: {summary}"` reads as a sentence. For
//! an `ACME-n` row the level is the strongest keyword RFC 8555 states for the listed actor in
//! the cited clause, and [`Level::Info`] where that clause only describes (ACME-22, -24, -29,
//! -31).
//!
//! Code names ids through the constants ([`SMIME_28`] rather than `"SMIME-28"`); the tests in
//! this module and `tests/catalogue.rs` keep the constants, the catalogue and every id mentioned
//! in the workspace in step.

use serde::Serialize;

use crate::finding::Level;

/// One numbered requirement of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The id, e.g. `SMIME-28`: family, dash, number without leading zeros.
    pub id: &'static str,
    /// The normative strength; [`Level::Info`] for descriptive rules without a keyword.
    pub level: Level,
    /// Whether the keyword is a prohibition (MUST NOT, SHOULD NOT); the summary then describes
    /// what must not happen.
    pub negative: bool,
    /// Who the requirement binds.
    pub actor: Actor,
    /// The clause it comes from, e.g. `RFC 8823 §3.1 item 1`.
    pub source: &'static str,
    /// One line in our own words; not a quote of the source.
    pub summary: &'static str,
    /// The normative sentence(s) of the clause `source` names, quoted verbatim on one line:
    /// line breaks and runs of spaces of the published text become one space, and "[...]"
    /// marks an elided part. For a `TLS-n` row it is the quote of [`TLS_TEXTS`].
    pub text: &'static str,
}

impl Requirement {
    /// The keyword as printed in reports: `MUST`, `MUST NOT`, `SHOULD`, `SHOULD NOT`, `MAY`, or
    /// `—` for descriptive rules.
    pub fn keyword(&self) -> &'static str {
        match (self.level, self.negative) {
            (Level::Must, false) => "MUST",
            (Level::Must, true) => "MUST NOT",
            (Level::Should, false) => "SHOULD",
            (Level::Should, true) => "SHOULD NOT",
            (Level::May, _) => "MAY",
            (Level::Info, _) => "—",
        }
    }
}

/// Who a requirement binds.
///
/// In draft-ietf-acme-email-tls the ACME client is the mail server itself (SMTP, IMAP or POP3)
/// whose DNS records or capability lines the CA checks, so those rules are [`Actor::Client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Actor {
    /// The ACME server / CA, including the challenge e-mails it sends.
    Server,
    /// The ACME client.
    Client,
    /// The ACME-email-aware mail user agent and the response e-mails it sends.
    Mua,
    /// Both ends of the ACME exchange: one produces, the other checks.
    ServerAndClient,
    /// The MUA producing a response e-mail and the server checking it.
    MuaAndServer,
    /// Whoever writes the message or value: general mail syntax and registry facts.
    Any,
}

/// The id families, in catalogue order.
pub const FAMILIES: [&str; 4] = ["SMIME", "TLS", "ACME", "MAIL"];

/// Maps a keyword literal of the table below to `(level, negative)`.
macro_rules! keyword {
    ("MUST") => {
        (Level::Must, false)
    };
    ("MUST NOT") => {
        (Level::Must, true)
    };
    ("SHOULD") => {
        (Level::Should, false)
    };
    ("SHOULD NOT") => {
        (Level::Should, true)
    };
    ("MAY") => {
        (Level::May, false)
    };
    ("—") => {
        (Level::Info, false)
    };
}

/// Defines one constant per row and [`CATALOGUE`] from the same rows, so the two cannot drift.
///
/// Row: `CONST = "ID", "KEYWORD", Actor, "source", "summary", text;` where `text` is a string
/// literal, or for a `TLS-n` row the quote in [`TLS_TEXTS`], so that text has one home.
macro_rules! catalogue {
    ($($name:ident = $id:literal, $kw:tt, $actor:ident, $source:literal, $summary:literal, $text:expr;)*) => {
        $(
            #[doc = concat!("`", $id, "` (", $kw, ", ", $source, "): ", $summary)]
            pub const $name: &str = $id;
        )*

        /// Every requirement: SMIME-n, TLS-n, ACME-n, MAIL-n, each family in numeric order.
        pub static CATALOGUE: &[Requirement] = &[
            $(
                Requirement {
                    id: $name,
                    level: keyword!($kw).0,
                    negative: keyword!($kw).1,
                    actor: Actor::$actor,
                    source: $source,
                    summary: $summary,
                    text: $text,
                },
            )*
        ];

        /// `(constant name, id)` for every row, so the tests can check the names.
        #[cfg(test)]
        const CONSTANT_NAMES: &[(&str, &str)] = &[$((stringify!($name), $name),)*];
    };
}

catalogue! {
    // ── RFC 8823 ─────────────────────────────────────────────────────────────────────────────────
    SMIME_1 = "SMIME-1", "MUST NOT", ServerAndClient, "RFC 8823 §3",
        "put a `*` wildcard in an `email` identifier of newOrder (the server should refuse it)",
        r#"Any identifier of type "email" in a newOrder request MUST NOT have a wildcard ("*") character in its value."#;
    SMIME_2 = "SMIME-2", "—", Server, "RFC 8823 §3",
        "`email` identifier is an ASCII (RFC 5321) or EAI (RFC 6531) address; domain may mix U-/A-labels",
        r#"This document defines a new identifier type, "email", which corresponds to an email address. The address can be all ASCII [RFC5321] or internationalized [RFC6531]; when an internationalized email address is used, the domain part can contain both U-labels and A-labels [RFC5890]."#;
    SMIME_3 = "SMIME-3", "—", Server, "RFC 8823 §3 step 3",
        "challenge object: type `email-reply-00`, `token` = token-part2, `from` = challenge e-mail From",
        r#"The "token" field of the corresponding challenge object (from the "challenges" array) contains token-part2. [...] The "type" field of the challenge object is "email-reply-00". The challenge object also contains the "from" field, with the email address that would be used in the From header field of the "challenge" email message (see the next step)."#;
    SMIME_4 = "SMIME-4", "SHOULD", Server, "RFC 8823 §3 step 3",
        "token-part2 has at least 128 bits of entropy (lower-case should)",
        r#"token-part2 should contain at least 128 bits of entropy."#;
    SMIME_5 = "SMIME-5", "MUST", Server, "RFC 8823 §3 step 4",
        "a fresh token is made for every issuance (authorization) request",
        r#"The ACME server MUST generate a fresh token for each S/MIME issuance request (authorization request), [...]"#;
    SMIME_6 = "SMIME-6", "MUST", Server, "RFC 8823 §3 step 4",
        "token-part1 has at least 128 bits of entropy once decoded",
        r#"[...] and token-part1 MUST contain at least 128 bits of entropy."#;
    SMIME_7 = "SMIME-7", "—", Server, "RFC 8823 §3 step 4",
        "the challenge e-mail is made after the server has answered the authorization request",
        r#"After responding to the authorization request, the ACME server generates another token and a "challenge" email message with the subject "ACME: <token-part1>", where <token-part1> is the base64url-encoded [RFC4648] form of the token."#;
    SMIME_8 = "SMIME-8", "—", Mua, "RFC 8823 §3 step 5",
        "an ACME-aware MUA ignores a challenge e-mail it does not expect (no issuance pending)",
        r#"If the MUA is ACME-email-aware, it ignores any "challenge" email that is not expected, e.g., if there is no ACME certificate issuance pending."#;
    SMIME_9 = "SMIME-9", "—", Mua, "RFC 8823 §3 step 5",
        "an ACME-aware MUA ignores a challenge e-mail whose Subject marks a reply (e.g. `Re:`)",
        r#"The ACME-email-aware MUA also ignores any "challenge" email that has the Subject header field that indicates that it is an email reply, e.g., a subject starting with the reply prefix "Re:"."#;
    SMIME_10 = "SMIME-10", "—", Client, "RFC 8823 §3 step 6",
        "token = token-part1 joined with token-part2; the reply carries base64url(SHA-256(keyAuthorization))",
        r#"The ACME client concatenates "token-part1" (received over email) and "token-part2" (received over HTTPS [RFC2818]) to create the ACME "token" and calculates keyAuthorization (as per Section 8.1 of [RFC8555]). Then, it returns the base64url-encoded SHA-256 digest [RFC6234] of the key authorization."#;
    SMIME_11 = "SMIME-11", "MUST NOT", Mua, "RFC 8823 §3 step 6",
        "answer the same challenge e-mail more than once (ACME-aware MUA)",
        r#"If the MUA is ACME-email-aware, it MUST NOT respond to the same "challenge" email more than once."#;
    SMIME_12 = "SMIME-12", "—", Client, "RFC 8823 §3 steps 7-8",
        "after the response e-mail, POST `{}` to the challenge URL, then poll the authz by POST-as-GET",
        r#"Once the MUA sends the "response" email, the ACME client notifies the ACME server by POST to the challenge URL ("url" field). [...] The ACME client can start polling the authorization URL (using POST-as-GET requests) to see if the ACME server received and validated the "response" email message."#;
    SMIME_13 = "SMIME-13", "MUST", Client, "RFC 8823 §3 step 8",
        "the CSR asks for exactly the identifiers of the newOrder request",
        r#"The Certificate Signing Request (CSR) MUST indicate the exact same set of requested identifiers as the initial newOrder request."#;
    SMIME_14 = "SMIME-14", "MUST", Client, "RFC 8823 §3 step 8",
        "the CSR carries the address as a subjectAltName in an extensionRequest attribute",
        r#"For an identifier of type "email", the PKCS#10 [RFC2986] CSR MUST contain the requested email address in an extensionRequest attribute [RFC2985] requesting a subjectAltName extension."#;
    SMIME_15 = "SMIME-15", "MUST", ServerAndClient, "RFC 8823 §3 step 8",
        "the CSR address matches the From of the response e-mail",
        r#"The email address MUST also match the From header field value of the "response" email message."#;
    SMIME_16 = "SMIME-16", "MUST", Server, "RFC 8823 §3.1",
        "the challenge e-mail has the §3.1 structure (SMIME-17 to SMIME-34)",
        r#"A "challenge" email message MUST have the following structure:"#;
    SMIME_17 = "SMIME-17", "MUST", Server, "RFC 8823 §3.1 item 1",
        "challenge Subject is `ACME:`, folding white space, then the base64url token-part1",
        r#"The Subject header field has the following syntax: "ACME: <token-part1>", where the prefix "ACME:" is followed by folding white space (FWS; see [RFC5322]) and then by <token-part1>, which is the base64url-encoded first part of the ACME token that MUST be at least 128 bits long after decoding."#;
    SMIME_18 = "SMIME-18", "MUST", ServerAndClient, "RFC 8823 §3.1 item 1",
        "white space inside a folded token-part1 is dropped when the Subject is parsed",
        r#"Due to the recommended 78-octet line-length limit in [RFC5322], the subject line can be folded, so white spaces (if any) within the <token-part1> MUST be ignored."#;
    SMIME_19 = "SMIME-19", "MUST", Client, "RFC 8823 §3.1 item 1",
        "a Subject in RFC 2231 encoding (RFC 2047 encoded-words in practice) is understood",
        r#"[RFC2231] encoding of the Subject header field MUST be supported, [...]"#;
    SMIME_20 = "SMIME-20", "MUST NOT", Server, "RFC 8823 §3.1 item 1",
        "encode the Subject in a charset other than UTF-8 or US-ASCII",
        r#"[...] and, when used, only the "UTF-8" and "US-ASCII" charsets are allowed; other charsets MUST NOT be used."#;
    SMIME_21 = "SMIME-21", "SHOULD", Server, "RFC 8823 §3.1 item 1",
        "the Subject uses the US-ASCII charset",
        r#"The US-ASCII charset SHOULD be used."#;
    SMIME_22 = "SMIME-22", "MUST", Server, "RFC 8823 §3.1 item 2",
        "challenge From is the address announced in the challenge object's `from`",
        r#"The From header field MUST be the same email address as specified in the "from" field of the challenge object."#;
    SMIME_23 = "SMIME-23", "MUST", Server, "RFC 8823 §3.1 item 3",
        "challenge To is the address of whoever asked for the certificate",
        r#"The To header field MUST be the email address of the entity that requested the S/MIME certificate to be generated."#;
    SMIME_24 = "SMIME-24", "MAY", Server, "RFC 8823 §3.1 item 4",
        "the challenge e-mail carries Reply-To and/or CC",
        r#"The message MAY contain a Reply-To and/or CC header field."#;
    SMIME_25 = "SMIME-25", "MUST", Server, "RFC 8823 §3.1 item 5",
        "the challenge e-mail carries `Auto-Submitted: auto-generated` (RFC 3834)",
        r#"The message MUST include the Auto-Submitted header field with the value "auto-generated" [RFC3834]."#;
    SMIME_26 = "SMIME-26", "SHOULD", Server, "RFC 8823 §3.1 item 5",
        "the Auto-Submitted field carries the `type=acme` parameter",
        r#"To aid in debugging (and, for some implementations, to make automated processing easier), the Auto-Submitted header field SHOULD include the "type=acme" parameter."#;
    SMIME_27 = "SMIME-27", "MAY", Server, "RFC 8823 §3.1 item 5",
        "the Auto-Submitted field carries further optional parameters",
        r#"It MAY include other optional parameters, as allowed by the syntax of the Auto-Submitted header field."#;
    SMIME_28 = "SMIME-28", "MUST", Server, "RFC 8823 §3.1 item 6",
        "the challenge e-mail is signed with DKIM or with S/MIME",
        r#"In order to prove authenticity of a challenge message, it MUST be signed using either DomainKeys Identified Mail (DKIM) [RFC6376] or S/MIME [RFC8551]."#;
    SMIME_29 = "SMIME-29", "MUST", Server, "RFC 8823 §3.1 item 6",
        "challenge DKIM `h=` names the 13 required fields (From, Sender, ... Auto-Submitted, Content-*)",
        r#"If DKIM signing is used, the resulting DKIM-Signature header field MUST contain the "h=" tag that includes at least the From, Sender, Reply-To, To, CC, Subject, Date, In-Reply-To, References, Message-ID, Auto-Submitted, Content-Type, and Content-Transfer-Encoding header fields."#;
    SMIME_30 = "SMIME-30", "SHOULD", Server, "RFC 8823 §3.1 item 6",
        "challenge DKIM `h=` also names the Resent-* and List-* fields listed in §3.1",
        r#"The DKIM-Signature header field's "h=" tag SHOULD also include the Resent-Date, Resent-From, Resent-To, Resent-Cc, List-Id, List-Help, List-Unsubscribe, List-Subscribe, List-Post, List-Owner, List-Archive, and List-Unsubscribe-Post header fields."#;
    SMIME_31 = "SMIME-31", "MUST", Server, "RFC 8823 §3.1 item 6",
        "challenge DKIM `d=` is the domain of the challenge From",
        r#"The domain from the "d=" tag of the DKIM-Signature header field MUST be the same as the domain from the From header field of the "challenge" email."#;
    SMIME_32 = "SMIME-32", "MUST", Server, "RFC 8823 §3.1 item 6",
        "the S/MIME signer certificate has an rfc822Name SAN equal to the challenge From address",
        r#"If S/MIME signing is used, the certificate corresponding to the signer MUST have an rfc822Name subjectAltName extension with the value equal to the From header field email address of the "challenge" email."#;
    SMIME_33 = "SMIME-33", "SHOULD", Server, "RFC 8823 §3.1 item 7",
        "an S/MIME-signed challenge is multipart/signed or pkcs7-mime signed-data (lower-case should)",
        r#"If S/MIME signing is used to prove authenticity of the challenge message, then the multipart/signed or "application/pkcs7-mime; smime-type=signed-data;" media type should be used."#;
    SMIME_34 = "SMIME-34", "MUST", Server, "RFC 8823 §3.1 item 7",
        "an S/MIME-signed challenge uses S/MIME header protection",
        r#"Either way, it MUST use S/MIME header protection."#;
    SMIME_35 = "SMIME-35", "MUST", Mua, "RFC 8823 §3.1",
        "a challenge e-mail that fails validation is ignored: no response e-mail is sent",
        r#"An email client compliant with this specification that detects that a particular "challenge" email fails the validation described above MUST ignore the challenge and thus will not generate a "response" email."#;
    SMIME_36 = "SMIME-36", "SHOULD", Mua, "RFC 8823 §3.1",
        "failed challenge validations are logged",
        r#"To aid in debugging, such failed validations SHOULD be logged."#;
    SMIME_37 = "SMIME-37", "MUST", Mua, "RFC 8823 §3.2",
        "the response e-mail has the §3.2 structure (SMIME-38 to SMIME-54)",
        r#"A valid "response" email message MUST have the following structure:"#;
    SMIME_38 = "SMIME-38", "—", Mua, "RFC 8823 §3.2 item 1",
        "response Subject has the challenge Subject syntax, optionally after a US-ASCII reply prefix",
        r#"The Subject header field is formed as a reply to the ACME "challenge" email (see Section 3.1). Its syntax is the same as that of the challenge message except that it may be prefixed by a US-ASCII reply prefix (typically "Re:") and FWS (see [RFC5322]), as is normal in reply messages."#;
    SMIME_39 = "SMIME-39", "MUST", Server, "RFC 8823 §3.2 item 1",
        "the server decodes an encoded response Subject; text before `ACME:` may be skipped",
        r#"When parsing the subject, ACME servers MUST decode [RFC2231] encoding (if any), and then they can ignore any prefix before the "ACME:" label."#;
    SMIME_40 = "SMIME-40", "—", Mua, "RFC 8823 §3.2 item 2",
        "response From is the address of the user asking for the certificate",
        r#"The From header field contains the email address of the user that is requesting S/MIME certificate issuance."#;
    SMIME_41 = "SMIME-41", "—", Mua, "RFC 8823 §3.2 item 3",
        "response To is the challenge Reply-To when set, otherwise the challenge From",
        r#"The To header field of the response contains the value from the Reply-To header field from the challenge message (if set). Otherwise, it contains the value from the From header field of the challenge message."#;
    SMIME_42 = "SMIME-42", "—", Server, "RFC 8823 §3.2 item 4",
        "a Cc field in the response e-mail is ignored",
        r#"The Cc header field is ignored if present in the "response" email message."#;
    SMIME_43 = "SMIME-43", "SHOULD", Mua, "RFC 8823 §3.2 item 5",
        "response In-Reply-To holds the challenge Message-ID",
        r#"The In-Reply-To header field SHOULD be set to the Message-ID header field of the challenge message according to rules in Section 3.6.4 of [RFC5322]."#;
    SMIME_44 = "SMIME-44", "MUST", MuaAndServer, "RFC 8823 §3.2 item 6",
        "the response has no List-* header fields (it cannot come through a mailing list)",
        r#"List-* header fields [RFC4021][RFC8058] MUST be absent (i.e., the reply can't come from a mailing list)."#;
    SMIME_45 = "SMIME-45", "—", Mua, "RFC 8823 §3.2 item 7",
        "the response is text/plain, or multipart/alternative with a text/plain alternative",
        r#"The media type of the "response" email message is either text/plain or multipart/alternative [RFC2046], containing text/plain as one of the alternatives."#;
    SMIME_46 = "SMIME-46", "MUST", Mua, "RFC 8823 §3.2 item 7",
        "the text/plain part has a BEGIN ACME RESPONSE line, digest line(s), an END ACME RESPONSE line",
        r#"The text/plain body part (whether or not it is inside multipart/alternative) MUST contain a block of lines starting with the line "-----BEGIN ACME RESPONSE-----", followed by one or more lines containing the base64url-encoded SHA-256 digest [RFC6234] of the key authorization, calculated from concatenated token-part1 (received over email) and token-part2 (received over HTTPS), as outlined in the 5th bullet in Section 3. [...] The final line of the encoded digest is followed by a line containing: -----END ACME RESPONSE-----"#;
    SMIME_47 = "SMIME-47", "—", Mua, "RFC 8823 §3.2 item 7",
        "text/plain lines end in CRLF; bare CR and bare LF are not allowed",
        r#"(Note that each line of text/plain is terminated by CRLF. Bare LFs or bare CRs are not allowed.)"#;
    SMIME_48 = "SMIME-48", "MUST", Server, "RFC 8823 §3.2 item 7",
        "line breaks inside the encoded digest are ignored",
        r#"Due to historical line-length limitations in email, line endings (CRLFs) can be freely inserted in the middle of the encoded digest, so they MUST be ignored when processing it."#;
    SMIME_49 = "SMIME-49", "—", Server, "RFC 8823 §3.2 item 7",
        "text before and after the BEGIN/END block is ignored",
        r#"Any text before and after this block is ignored."#;
    SMIME_50 = "SMIME-50", "SHOULD", Mua, "RFC 8823 §3.2 item 8",
        "the text/plain part avoids quoted-printable and base64 though both are allowed (lower-case should)",
        r#"There is no need to use any Content-Transfer-Encoding other than 7bit for the text/plain body part. Use of quoted-printable or base64 in a "response" email message is not necessary and should be avoided, though it is permitted."#;
    SMIME_51 = "SMIME-51", "MUST", Mua, "RFC 8823 §3.2 item 9",
        "the response e-mail is DKIM-signed",
        r#"In order to prove authenticity of a response message, it MUST be DKIM [RFC6376] signed."#;
    SMIME_52 = "SMIME-52", "MUST", Mua, "RFC 8823 §3.2 item 9",
        "response DKIM `h=` names the 12 required fields (From, Sender, ... Message-ID, Content-*)",
        r#"The resulting DKIM-Signature header field MUST contain the "h=" tag that includes at least the From, Sender, Reply-To, To, CC, Subject, Date, In-Reply-To, References, Message-ID, Content-Type, and Content-Transfer-Encoding header fields."#;
    SMIME_53 = "SMIME-53", "SHOULD", Mua, "RFC 8823 §3.2 item 9",
        "response DKIM `h=` also names the Resent-* and List-* fields (same set as SMIME-30)",
        r#"The DKIM-Signature header field's "h=" tag SHOULD also include the Resent-Date, Resent-From, Resent-To, Resent-Cc, List-Id, List-Help, List-Unsubscribe, List-Subscribe, List-Post, List-Owner, List-Archive, and List-Unsubscribe-Post header fields."#;
    SMIME_54 = "SMIME-54", "MUST", MuaAndServer, "RFC 8823 §3.2 item 9",
        "response DKIM `d=` is the domain of the response From",
        r#"The domain from the "d=" tag of DKIM-Signature header field MUST be the same as the domain from the From header field of the "response" email."#;
    SMIME_55 = "SMIME-55", "MUST", Client, "RFC 8823 §3.3",
        "a signing-only CSR has key usage with digitalSignature and/or nonRepudiation and nothing else",
        r#"In order to request signing-only S/MIME certificates, the CSR MUST include the key usage extension with digitalSignature and/or nonRepudiation bits set and no other bits set."#;
    SMIME_56 = "SMIME-56", "MUST", Client, "RFC 8823 §3.3",
        "an encryption-only CSR has key usage with keyEncipherment or keyAgreement and nothing else",
        r#"In order to request encryption-only S/MIME certificates, the CSR MUST include the key usage extension with keyEncipherment or keyAgreement bits set and no other bits set."#;
    SMIME_57 = "SMIME-57", "—", Server, "RFC 8823 §3.3",
        "both key-usage sets, or no key usage at all, in the CSR ask for a sign-and-encrypt certificate",
        r#"Presence of both of the above sets of key usage bits in the CSR, as well as absence of the key usage extension in the CSR, signals to the ACME server to issue an S/MIME certificate suitable for both signing and encryption."#;
    SMIME_58 = "SMIME-58", "—", ServerAndClient, "RFC 8823 §4",
        "non-ASCII local part needs SmtpUTF8Mailbox (RFC 8398/9598); DKIM with EAI follows RFC 8616",
        r#"[RFC8616] updated/clarified use of DKIM with internationalized email addresses [RFC6531]. Please consult [RFC8616] in regards to any changes that need to be implemented. Use of non-ASCII characters in left-hand sides of internationalized email addresses requires putting internationalized email addresses in X.509 certificates [RFC8398]."#;

    // ── draft-ietf-acme-email-tls ────────────────────────────────────────────────────────────────
    TLS_1 = "TLS-1", "MUST", Client, "draft-ietf-acme-email-tls-00…-05 §3",
        "the challenge POST names `service` (-00…-04: JWS protected header; -05: payload; Figure 1)",
        TLS_TEXTS[0].quote;
    TLS_2 = "TLS-2", "SHOULD", Client, "draft-ietf-acme-email-tls-02…-05 §3",
        "the client sends `port`; without it the IANA default port of `service` is assumed",
        TLS_TEXTS[1].quote;
    TLS_3 = "TLS-3", "—", Client, "draft-ietf-acme-email-tls-00…-05 §3.1",
        "`service` is a name from the IANA service name and port number registry",
        TLS_TEXTS[2].quote;
    TLS_4 = "TLS-4", "MUST", Server, "draft-ietf-acme-email-tls-02…-05 §3.1",
        "the CA can issue RFC 7817 §4 DNS-IDs, SRV-IDs, CN-IDs, and includes none it did not validate",
        TLS_TEXTS[3].quote;
    TLS_5 = "TLS-5", "MAY", Server, "draft-ietf-acme-email-tls-03…-05 §3.2",
        "the server checks that `port` fits `service`, e.g. that it is the IANA default port",
        TLS_TEXTS[4].quote;
    TLS_6 = "TLS-6", "—", ServerAndClient, "draft-ietf-acme-email-tls-00…-05 §3, §5",
        "the e-mail TLS challenges validate identifiers of type `dns`",
        TLS_TEXTS[5].quote;
    TLS_7 = "TLS-7", "—", ServerAndClient, "draft-ietf-acme-email-tls-02…-05 §3.3",
        "the dns-email-00 TXT record sits at `_<port>._<service>._acme-challenge.<domain>`",
        TLS_TEXTS[6].quote;
    TLS_8 = "TLS-8", "—", ServerAndClient, "draft-ietf-acme-email-tls-00…-05 §3.3",
        "dns-email-00 TXT value and check as for dns-01: base64url(SHA-256(keyAuthorization))",
        TLS_TEXTS[7].quote;
    TLS_9 = "TLS-9", "—", Client, "draft-ietf-acme-email-tls-00…-05 §3.4",
        "capability-smtp-00: EHLO keyword `ACME` with base64url(SHA-256(keyAuthorization))",
        TLS_TEXTS[8].quote;
    TLS_10 = "TLS-10", "—", Client, "draft-ietf-acme-email-tls-00…-05 §3.4",
        "capability-imap-00: capability `ACME=<digest>` in the greeting code or a CAPABILITY response",
        TLS_TEXTS[9].quote;
    TLS_11 = "TLS-11", "—", Client, "draft-ietf-acme-email-tls-04, -05 §3.4",
        "capability-pop-00: a CAPA response line `ACME <digest>`",
        TLS_TEXTS[10].quote;
    TLS_12 = "TLS-12", "—", Client, "draft-ietf-acme-email-tls-05 §3.4.1",
        "SMTP `ACME` extension: one parameter (\"44 octets\": an erratum), no verbs, on 587/465",
        TLS_TEXTS[11].quote;
    TLS_13 = "TLS-13", "—", Any, "draft-ietf-acme-email-tls-04, -05 §5",
        "IANA: dns-email, capability-smtp, capability-imap, capability-pop for identifier type `dns`",
        TLS_TEXTS[12].quote;
    TLS_14 = "TLS-14", "—", Any, "draft-ietf-acme-email-tls-05 §6",
        "the dns-01 security considerations apply to dns-email as well",
        TLS_TEXTS[13].quote;
    TLS_15 = "TLS-15", "MAY", Server, "draft-ietf-acme-email-tls-00, -01 §3.1",
        "the server puts SRV-ID subjectAltNames in issued certificates (-00 and -01 text only)",
        TLS_TEXTS[14].quote;
    TLS_16 = "TLS-16", "—", Server, "draft-ietf-acme-email-tls-00 §3.3",
        "tls-sni-email-00 (-00 only): STARTTLS on 25/143/587, TLS at once on 465/993, SNI = SAN A",
        TLS_TEXTS[15].quote;

    // ── RFC 8555 core ────────────────────────────────────────────────────────────────────────────
    ACME_1 = "ACME-1", "MUST", Server, "RFC 8555 §7.1, §7.1.1",
        "directory (plain GET allowed) and newNonce exist; `newAuthz` is left out without pre-authz",
        r#"The server MUST provide "directory" and "newNonce" resources. [...] If the ACME server does not implement pre-authorization (Section 7.4.1), it MUST omit the "newAuthz" field of the directory."#;
    ACME_2 = "ACME-2", "MUST", Server, "RFC 8555 §7.2",
        "HEAD newNonce gives Replay-Nonce (200 SHOULD), GET gives 204; both `Cache-Control: no-store`",
        r#"The server's response MUST include a Replay-Nonce header field containing a fresh nonce and SHOULD have status code 200 (OK). The server MUST also respond to GET requests for this resource, returning an empty body (while still providing a Replay-Nonce header) with a status code of 204 (No Content). [...] The server MUST include a Cache-Control header field with the "no-store" directive in responses for the newNonce resource, in order to prevent caching of this resource."#;
    ACME_3 = "ACME-3", "MUST", Server, "RFC 8555 §6.5",
        "every successful response to a POST carries Replay-Nonce (error responses SHOULD)",
        r#"The server MUST include a Replay-Nonce header field in every successful response to a POST request and SHOULD provide it in error responses as well."#;
    ACME_4 = "ACME-4", "MUST", Server, "RFC 8555 §6.5",
        "an unknown, reused or missing nonce gets 400 badNonce with a fresh Replay-Nonce",
        r#"As part of JWS verification, the ACME server MUST verify that the value of the "nonce" header is a value that the server previously provided in a Replay-Nonce header field. Once a nonce value has appeared in an ACME request, the server MUST consider it invalid, in the same way as a value it had never issued. When a server rejects a request because its nonce value was unacceptable (or not present), it MUST provide HTTP status code 400 (Bad Request), and indicate the ACME error type "urn:ietf:params:acme:error:badNonce". An error response with the "badNonce" error type MUST include a Replay-Nonce header field with a fresh nonce that the server will accept in a retry of the original query (and possibly in other requests, according to the server's nonce scoping policy)."#;
    ACME_5 = "ACME-5", "MUST", Client, "RFC 8555 §6.5",
        "after badNonce the client retries (SHOULD) with the nonce from that error response (MUST)",
        r#"On receiving such a response, a client SHOULD retry the request using the new nonce. [...] However, when retrying in response to a "badNonce" error, the client MUST use the nonce provided in the error response."#;
    ACME_6 = "ACME-6", "MUST", Server, "RFC 8555 §6.2",
        "a request whose Content-Type is not application/jose+json gets 415",
        r#"Because client requests in ACME carry JWS objects in the Flattened JSON Serialization, they must have the Content-Type header field set to "application/jose+json". If a request does not meet this requirement, then the server MUST return a response with status code 415 (Unsupported Media Type)."#;
    ACME_7 = "ACME-7", "MUST", Server, "RFC 8555 §6.2",
        "the JWS is flattened JSON with one signature, protected header only, no b64=false, not detached",
        r#"A JWS object sent as the body of an ACME request MUST meet the following additional criteria: [...] The JWS MUST be in the Flattened JSON Serialization [RFC7515] [...] The JWS MUST NOT have multiple signatures [...] The JWS Unencoded Payload Option [RFC7797] MUST NOT be used [...] The JWS Unprotected Header [RFC7515] MUST NOT be used [...] The JWS Payload MUST NOT be detached"#;
    ACME_8 = "ACME-8", "MUST", Server, "RFC 8555 §6.2",
        "protected header has alg (not none, not a MAC), nonce, url and exactly one of jwk/kid",
        r#"The JWS Protected Header MUST include the following fields: [...] "alg" (Algorithm) [...] This field MUST NOT contain "none" or a Message Authentication Code (MAC) algorithm (e.g. one in which the algorithm registry description mentions MAC/HMAC). [...] "nonce" (defined in Section 6.5) [...] "url" (defined in Section 6.4) [...] Either "jwk" (JSON Web Key) or "kid" (Key ID) as specified below [...] The "jwk" and "kid" fields are mutually exclusive. Servers MUST reject requests that contain both."#;
    ACME_9 = "ACME-9", "MUST", Server, "RFC 8555 §6.2",
        "`jwk` only for newAccount and certificate-key revokeCert; `kid` = account URL otherwise",
        r#"For newAccount requests, and for revokeCert requests authenticated by a certificate key, there MUST be a "jwk" field. This field MUST contain the public key corresponding to the private key used to sign the JWS. For all other requests, the request is signed using an existing account, and there MUST be a "kid" field. This field MUST contain the account URL received by POSTing to the newAccount resource."#;
    ACME_10 = "ACME-10", "MUST", Server, "RFC 8555 §6.2",
        "ES256 implemented (EdDSA SHOULD); unknown alg gets 400 badSignatureAlgorithm with `algorithms`",
        r#"An ACME server MUST implement the "ES256" signature algorithm [RFC7518] and SHOULD implement the "EdDSA" signature algorithm using the "Ed25519" variant (indicated by "crv") [RFC8037]. [...] If the client sends a JWS signed with an algorithm that the server does not support, then the server MUST return an error with status code 400 (Bad Request) and type "urn:ietf:params:acme:error:badSignatureAlgorithm". The problem document returned with the error MUST include an "algorithms" field with an array of supported "alg" values."#;
    ACME_11 = "ACME-11", "MUST", Server, "RFC 8555 §6.2",
        "a public key the server will not accept gets 400 badPublicKey",
        r#"If the server supports the signature algorithm "alg" but either does not support or chooses to reject the public key "jwk", then the server MUST return an error with status code 400 (Bad Request) and type "urn:ietf:params:acme:error:badPublicKey"."#;
    ACME_12 = "ACME-12", "MUST", Server, "RFC 8555 §6.4",
        "the protected `url` equals the request URL string, else the request is refused as unauthorized",
        r#"On receiving such an object in an HTTP request, the server MUST compare the "url" header parameter to the request URL. If the two do not match, then the server MUST reject the request as unauthorized."#;
    ACME_13 = "ACME-13", "MUST", Server, "RFC 8555 §6.1",
        "base64url values carrying trailing `=` padding are refused as malformed",
        r#"Trailing '=' characters MUST be stripped. Encoded values that include trailing '=' characters MUST be rejected as improperly encoded."#;
    ACME_14 = "ACME-14", "MUST", Server, "RFC 8555 §6.3",
        "GET other than on directory/newNonce gets 405 malformed; POST-as-GET has an empty payload",
        r#"Except for the cases described in this section, if the server receives a GET request, it MUST return an error with status code 405 (Method Not Allowed) and type "malformed". If a client wishes to fetch a resource from the server (which would otherwise be done with a GET), then it MUST send a POST request with a JWS body as described above, where the payload of the JWS is a zero-length octet string. In other words, the "payload" field of the JWS object MUST be present and set to the empty string ("")."#;
    ACME_15 = "ACME-15", "MUST", Server, "RFC 8555 §7.3, §7.3.1",
        "newAccount: 201 + Location; known key: 200 + Location; onlyReturnExisting miss: accountDoesNotExist",
        r#"The server returns this account object in a 201 (Created) response, with the account URL in a Location header field. [...] If the server receives a newAccount request signed with a key for which it already has an account registered with the provided account key, then it MUST return a response with status code 200 (OK) and provide the URL of that account in the Location header field. [...] If a client sends such a request and an account does not exist, then the server MUST return an error response with status code 400 (Bad Request) and type "urn:ietf:params:acme:error:accountDoesNotExist"."#;
    ACME_16 = "ACME-16", "MUST", Server, "RFC 8555 §7.3",
        "with `meta.termsOfService` set, newAccount without `termsOfServiceAgreed: true` is refused",
        r#"If the server wishes to require the client to agree to terms under which the ACME service is to be used, it MUST indicate the URL where such terms can be accessed in the "termsOfService" subfield of the "meta" field in the directory object, and the server MUST reject newAccount requests that do not have the "termsOfServiceAgreed" field set to "true"."#;
    ACME_17 = "ACME-17", "MUST", Server, "RFC 8555 §7.3.6",
        "any request from a deactivated account gets 401 unauthorized",
        r#"If a server receives a POST or POST-as-GET from a deactivated account, it MUST return an error response with status code 401 (Unauthorized) and type "urn:ietf:params:acme:error:unauthorized"."#;
    ACME_18 = "ACME-18", "MUST", Server, "RFC 8555 §7.4",
        "newOrder gets 201 + Location and a pending order with expires, authorizations and finalize",
        r#"The server MUST return an error if it cannot fulfill the request as specified, [...] If the server is willing to issue the requested certificate, it responds with a 201 (Created) response. The body of this response is an order object reflecting the client's request and any authorizations the client must complete before the certificate will be issued."#;
    ACME_19 = "ACME-19", "MUST NOT", Server, "RFC 8555 §7.1.3",
        "change an order's `identifiers` or `authorizations` array once it is set",
        r#"The elements of the "authorizations" and "identifiers" arrays are immutable once set. The server MUST NOT change the contents of either array after they are created."#;
    ACME_20 = "ACME-20", "MUST", Server, "RFC 8555 §7.4",
        "finalize on an order that is not ready gets 403 orderNotReady",
        r#"A request to finalize an order will result in error if the order is not in the "ready" state. In such cases, the server MUST return a 403 (Forbidden) error with a problem document of type "orderNotReady"."#;
    ACME_21 = "ACME-21", "SHOULD", Server, "RFC 8555 §7.4",
        "a CSR whose identifiers differ from the order's gets badCSR, and the order stays ready",
        r#"A request to finalize an order will result in an error if the CA is unwilling to issue a certificate corresponding to the submitted CSR. For example: [...] If the CSR and order identifiers differ [...] In such cases, the problem document returned by the server SHOULD use error code "badCSR" and describe specific reasons the CSR was rejected in its "detail" field. After returning such an error, the server SHOULD leave the order in the "ready" state, to allow the client to submit a new finalize request with an amended CSR."#;
    ACME_22 = "ACME-22", "—", Server, "RFC 8555 §7.4",
        "a successful finalize returns 200 with the order (processing or valid, certificate URL if valid)",
        r#"If a request to finalize an order is successful, the server will return a 200 (OK) with an updated order object. The status of the order will indicate what action the client should take: [...] "processing": The certificate is being issued. Send a POST-as-GET request after the time given in the Retry-After header field of the response, if any. [...] "valid": The server has issued the certificate and provisioned its URL to the "certificate" field of the order. Download the certificate."#;
    ACME_23 = "ACME-23", "MUST", Server, "RFC 8555 §7.4.2, §9.1",
        "the certificate comes by POST-as-GET as application/pem-certificate-chain, end-entity first",
        r#"To download the issued certificate, the client simply sends a POST-as-GET request to the certificate URL. The default format of the certificate is application/pem-certificate-chain (see Section 9). [...] In order to provide easy interoperation with TLS, the first certificate MUST be an end-entity certificate."#;
    ACME_24 = "ACME-24", "—", Client, "RFC 8555 §7.5.1",
        "the client answers a challenge by POSTing `{}` to the challenge URL, not the authz URL",
        r#"The client indicates to the server that it is ready for the challenge validation by sending an empty JSON body ("{}") carried in a POST request to the challenge URL (not the authorization URL)."#;
    ACME_25 = "ACME-25", "MUST", Server, "RFC 8555 §7.1.6, §8",
        "challenge goes pending, processing, valid|invalid; `validated` when valid; `error` only if invalid",
        r#"Challenge objects are created in the "pending" state. They transition to the "processing" state when the client responds to the challenge (see Section 7.5.1) and the server begins attempting to validate that the client has completed the challenge. [...] If validation is successful, the challenge moves to the "valid" state; if there is an error, the challenge moves to the "invalid" state. [...] validated (optional, string): The time at which the server validated this challenge, encoded in the format specified in [RFC3339]. This field is REQUIRED if the "status" field is "valid". [...] A challenge object with an error MUST have status equal to "invalid"."#;
    ACME_26 = "ACME-26", "MUST", Server, "RFC 8555 §7.1.6, §7.5.1",
        "a valid authz has `expires`; order is ready once all authz are valid, invalid if one fails",
        r#"Order objects are created in the "pending" state. Once all of the authorizations listed in the order object are in the "valid" state, the order transitions to the "ready" state. [...] If an error occurs at any of these stages, the order moves to the "invalid" state. The order also moves to the "invalid" state if it expires or one of its authorizations enters a final state other than "valid" ("expired", "revoked", or "deactivated"). [...] If the final state is "valid", then the server MUST include an "expires" field."#;
    ACME_27 = "ACME-27", "MUST", Server, "RFC 8555 §8.1",
        "keyAuthorization = token, `.`, base64url of the SHA-256 JWK thumbprint (RFC 7638)",
        r#"A key authorization is a string that concatenates the token for the challenge with a key fingerprint, separated by a "." character: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)) The "Thumbprint" step indicates the computation specified in [RFC7638], using the SHA-256 digest [FIPS180-4]. As noted in [RFC7518] any prepended zero octets in the fields of a JWK object MUST be stripped before doing the computation."#;
    ACME_28 = "ACME-28", "MUST", Server, "RFC 8555 §8.3, §8.4",
        "http-01/dns-01 tokens: at least 128 bits of entropy, base64url alphabet, no `=` padding",
        r#"token (required, string): A random value that uniquely identifies the challenge. This value MUST have at least 128 bits of entropy. It MUST NOT contain any characters outside the base64url alphabet and MUST NOT include base64 padding characters ("=")."#;
    ACME_29 = "ACME-29", "—", Server, "RFC 8555 §8.4",
        "dns-01: TXT at `_acme-challenge.<domain>` holds base64url(SHA-256(keyAuthorization))",
        r#"A client fulfills this challenge by constructing a key authorization from the "token" value provided in the challenge and the client's account key. The client then computes the SHA-256 digest [FIPS180-4] of the key authorization. The record provisioned to the DNS contains the base64url encoding of this digest. The client constructs the validation domain name by prepending the label "_acme-challenge" to the domain name being validated, then provisions a TXT record with the digest value under that name."#;
    ACME_30 = "ACME-30", "MUST", Server, "RFC 8555 §6.7",
        "errors are application/problem+json; ACME URN error types only from the IANA registry",
        r#"When the server responds with an error status, it SHOULD provide additional information using a problem document [RFC7807]. [...] Servers MUST NOT use the ACME URN namespace for errors not listed in the appropriate IANA registry (see Section 9.6)."#;
    ACME_31 = "ACME-31", "—", Server, "RFC 8555 §7.1",
        "every response but the directory's carries a Link to the directory with rel=\"index\"",
        r#"The "index" link relation is present on all resources other than the directory and indicates the URL of the directory."#;
    ACME_32 = "ACME-32", "MUST", Server, "RFC 8555 §7.6",
        "revokeCert accepts the account key or the certificate key; alreadyRevoked, badRevocationReason",
        r#"If a request contains a disallowed reasonCode, then the server MUST reject it with the error type "urn:ietf:params:acme:error:badRevocationReason". [...] Revocation requests are different from other ACME requests in that they can be signed with either an account key pair or the key pair in the certificate. [...] The server MUST also consider a revocation request valid if it is signed with the private key corresponding to the public key in the certificate. If the revocation succeeds, the server responds with status code 200 (OK). If the revocation fails, the server returns an error. For example, if the certificate has already been revoked, the server returns an error response with status code 400 (Bad Request) and type "urn:ietf:params:acme:error:alreadyRevoked"."#;
    ACME_33 = "ACME-33", "MUST", Server, "RFC 8555 §7.3.5",
        "keyChange checks the nested JWS: inner jwk, same url, matching oldKey (the inner nonce binds the client)",
        r#"The inner JWS MUST have a "jwk" header parameter, containing the public key of the new key pair. [...] The inner JWS MUST have the same "url" header parameter as the outer JWS. [...] The inner JWS MUST omit the "nonce" header parameter. [...] On receiving a keyChange request, the server MUST perform the following steps in addition to the typical JWS validation: [...] Check that the "oldKey" field of the keyChange object is the same as the account key for the account in question."#;
    ACME_34 = "ACME-34", "MUST", Client, "RFC 8555 §6.1",
        "the client sends a User-Agent header field",
        r#"ACME clients MUST send a User-Agent header field, in accordance with [RFC7231]."#;
    ACME_35 = "ACME-35", "MUST", Server, "RFC 8555 §7.6",
        "revokeCert is accepted from an account that \"holds authorizations for all of the identifiers\"",
        r#"Before revoking a certificate, the server MUST verify that the key used to sign the request is authorized to revoke the certificate. The server MUST consider at least the following accounts authorized for a given certificate: [...] an account that holds authorizations for all of the identifiers in the certificate."#;
    ACME_36 = "ACME-36", "SHOULD NOT", Server, "RFC 8555 §7.1.2.1",
        "list an invalid order in the account's `orders` array (pending ones SHOULD be listed)",
        r#"The server SHOULD include pending orders and SHOULD NOT include orders that are invalid in the array of URLs."#;
    ACME_37 = "ACME-37", "—", Server, "RFC 8555 §6.7, §7.4",
        "badCSR: \"The CSR is unacceptable (e.g., due to a short key)\"; a refused CSR key is badCSR",
        r#"The CSR is unacceptable (e.g., due to a short key) [...] A request to finalize an order will result in an error if the CA is unwilling to issue a certificate corresponding to the submitted CSR."#;
    ACME_38 = "ACME-38", "MUST", Server, "RFC 8737 §3",
        "tls-alpn-01: TLS to the name's address, port 443, ALPN only \"acme-tls/1\", SNI the name",
        r#"The ACME server resolves the domain name being validated and chooses one of the IP addresses returned for validation (the server MAY validate against multiple addresses if more than one is returned). The ACME server initiates a TLS connection to the chosen IP address. This connection MUST use TCP port 443. The ACME server MUST provide an ALPN extension with the single protocol name "acme-tls/1" and an SNI extension containing only the domain name being validated during the TLS handshake."#;
    ACME_39 = "ACME-39", "MUST", ServerAndClient, "RFC 8737 §3",
        "the tls-alpn-01 certificate has one dNSName, the name, and a critical acmeIdentifier = SHA-256(keyAuth)",
        r#"The client prepares for validation by constructing a self-signed certificate that MUST contain an acmeIdentifier extension and a subjectAlternativeName extension [RFC5280]. The subjectAlternativeName extension MUST contain a single dNSName entry where the value is the domain name being validated. The acmeIdentifier extension MUST contain the SHA-256 digest [FIPS180-4] of the key authorization [RFC8555] for the challenge. The acmeIdentifier extension MUST be critical so that the certificate isn't inadvertently used by non-ACME software."#;
    ACME_40 = "ACME-40", "MUST", Server, "RFC 9773 §3, §4.2",
        "ARI: `renewalInfo` in the directory; GET renewalInfo/<AKI>.<serial> gives a window that ends after it starts",
        r#"An ACME server that wishes to provide renewal information MUST include a new field, "renewalInfo", in its directory object. [...] suggestedWindow (object, required): A JSON object with two keys, "start" and "end", whose values are timestamps, encoded in the format specified in [RFC3339], which bound the window of time in which the CA recommends renewing the certificate. [...] A RenewalInfo object in which the end timestamp equals or precedes the start timestamp is invalid. Servers MUST NOT serve such a response, [...]"#;
    ACME_41 = "ACME-41", "MUST", Server, "RFC 9773 §5",
        "newOrder `replaces` is reflected in the order; a certificate already replaced gets 409 alreadyReplaced",
        r#"If the server rejects the request because the identified certificate has already been marked as replaced, it MUST return an HTTP 409 (Conflict) with a problem document of type "alreadyReplaced" (see Section 7.4). If the server accepts a newOrder request with a "replaces" field, it MUST reflect that field in the response and in subsequent requests for the corresponding Order object."#;
    ACME_42 = "ACME-42", "MUST", Server, "RFC 8555 §7.1.3, §7.4",
        "order object: `expires` (RFC 3339) when pending or valid; identifiers; authorizations, finalize, certificate URLs",
        r#"expires (optional, string): The timestamp after which the server will consider this order invalid, encoded in the format specified in [RFC3339]. This field is REQUIRED for objects with "pending" or "valid" in the status field. identifiers (required, array of object): An array of identifier objects that the order pertains to. [...] authorizations (required, array of string): [...] finalize (required, string): A URL that a CSR must be POSTed to once all of the order's authorizations are satisfied to finalize the order. [...] certificate (optional, string): A URL for the certificate that has been issued in response to this order."#;
    ACME_43 = "ACME-43", "—", Server, "RFC 8555 §7.1.3, §7.1.4",
        "authorization object: a §7.1.6 status, identifier, challenges; an order's authz is for one of its identifiers",
        r#"authorizations (required, array of string): For pending orders, the authorizations that the client needs to complete before the requested certificate can be issued (see Section 7.5), including unexpired authorizations that the client has completed in the past for identifiers specified in the order. [...] An ACME authorization object represents a server's authorization for an account to represent an identifier. [...] status (required, string): The status of this authorization. Possible values are "pending", "valid", "invalid", "deactivated", "expired", and "revoked". See Section 7.1.6."#;
    ACME_44 = "ACME-44", "—", Server, "RFC 8555 §7.1.6",
        "orders and authorizations move only forward along the §7.1.6 state diagrams (an order never goes back)",
        r#"Each ACME object type goes through a simple state machine over its lifetime. The "status" field of the object indicates which state the object is currently in."#;
    ACME_45 = "ACME-45", "—", Server, "RFC 8555 §7.4",
        "the certificate issued on finalize corresponds to the CSR: exactly its subjectAltNames, its public key",
        r#"[...] it MUST NOT issue a certificate with contents other than those requested. [...] The CSR encodes the client's requests with regard to the content of the certificate to be issued."#;
    ACME_46 = "ACME-46", "SHOULD", Server, "RFC 8555 §8.2",
        "a failed validation is retried after some time (email-reply-00: a reply after the POST)",
        r#"If a server's initial validation query fails, the server SHOULD retry the query after some time, in order to account for delay in setting up responses such as DNS records or HTTP resources."#;

    // ── Surrounding mail rules: acmeproof's own family ───────────────────────────────────────────
    MAIL_1 = "MAIL-1", "MUST", Any, "RFC 5322 §3.6",
        "a message has exactly one Date and exactly one From header field",
        r#"The only required header fields are the origination date field and the originator address field(s). [...] The following table indicates limits on the number of times each field may occur in the header section of a message as well as any special limitations on the use of those fields. [...] | orig-date | 1 | 1 | | | from | 1 | 1 | See sender and 3.6.2 |"#;
    MAIL_2 = "MAIL-2", "MUST", Any, "RFC 5322 §3.6",
        "a message has at most one each of Subject, To, Message-ID and In-Reply-To",
        r#"The following table indicates limits on the number of times each field may occur in the header section of a message as well as any special limitations on the use of those fields. [...] | to | 0 | 1 | | [...] | message-id | 0* | 1 | SHOULD be present - see 3.6.4 | | in-reply-to | 0* | 1 | SHOULD occur in some replies - see 3.6.4 | [...] | subject | 0 | 1 | |"#;
    MAIL_3 = "MAIL-3", "MUST", Any, "RFC 3834 §5",
        "a message has at most one Auto-Submitted header field",
        r#"The maximum number of Auto-Submitted fields that may appear in a message header is 1."#;
    MAIL_4 = "MAIL-4", "MUST NOT", Mua, "RFC 3834 §5.2",
        "mark a message sent in direct response to another one `Auto-Submitted: auto-generated`",
        r#"The auto-generated keyword: [...] MUST NOT be used on a message issued in direct response to another message,"#;
    MAIL_5 = "MAIL-5", "MUST", Any, "RFC 5322 §2.1.1",
        "no line of a message is longer than 998 characters, CRLF not counted",
        r#"Each line of characters MUST be no more than 998 characters, and SHOULD be no more than 78 characters, excluding the CRLF."#;
    MAIL_6 = "MAIL-6", "MUST", Any, "RFC 2047 §2, §5",
        "an encoded-word is well formed: `=?charset?encoding?encoded-text?=`",
        r#"An 'encoded-word' is defined by the following ABNF grammar. The notation of RFC 822 is used, with the exception that white space characters MUST NOT appear between components of an 'encoded-word'. encoded-word = "=?" charset "?" encoding "?" encoded-text "?=" [...] The 'encoded-text' in an 'encoded-word' must be self-contained; 'encoded-text' MUST NOT be continued from one 'encoded-word' to another."#;
    MAIL_7 = "MAIL-7", "MUST NOT", Any, "RFC 8301 §3.1",
        "sign or verify DKIM with rsa-sha1 (\"MUST NOT be used for signing or verifying\")",
        r#"rsa-sha1 MUST NOT be used for signing or verifying."#;
    MAIL_8 = "MAIL-8", "MUST", Any, "RFC 8301 §3.2",
        "a DKIM signer uses RSA keys of at least 1024 bits",
        r#"Since short RSA keys more easily succumb to off-line attacks, Signers MUST use RSA keys of at least 1024 bits for all keys."#;
    MAIL_9 = "MAIL-9", "MUST", Any, "RFC 8550 §4.4.4",
        "an S/MIME certificate's extKeyUsage, if present, has emailProtection or anyExtendedKeyUsage",
        r#"If the extended key usage extension is present in the certificate, then interpersonal-message S/MIME receiving agents MUST check that it contains either the id-kp-emailProtection OID or the anyExtendedKeyUsage OID as defined in [RFC5280]."#;
}

/// The exact text behind a TLS-n requirement, the draft versions that carry it, how the
/// versions differ, and where acmeproof checks it. The draft was never published; its versions
/// are draft-melnikov-acme-email-tls-00 ("m-00") and draft-ietf-acme-email-tls-00 to -05.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DraftText {
    /// The TLS-n id.
    pub id: &'static str,
    /// The versions that carry the quoted sentence, e.g. `-02…-05`.
    pub versions: &'static str,
    /// The sentence, quoted exactly (the drafts' "than" for "then" and "example.next" kept).
    pub quote: &'static str,
    /// How the versions differ, or that they do not.
    pub differences: &'static str,
    /// Where acmeproof checks or implements it (workspace paths and items).
    pub checker: &'static str,
}

/// The texts of TLS-1 … TLS-16, in id order.
pub static TLS_TEXTS: &[DraftText] = &[
    DraftText {
        id: TLS_1,
        versions: "m-00, -00…-05 §3 item 1",
        quote: "\"service\" JWS header parameter MUST be included.",
        differences: "Every version's Figure 1 is the challenge response (POST /acme/authz/asdf/0 with \"type\" and \"keyAuthorization\"). m-00…-04 §3.1 is titled '\"service\" JWS header parameter' and Figure 1 has \"service\" in the protected header; -05 §3.1 is titled '\"service\" field in JSON payload' and Figure 1 has it in the payload, while its §3 item 1 still says \"JWS header parameter\". No version puts it in newOrder: that is acmeproof's proposal (CA knob service_field).",
        checker: "harness/src/sut/client_judge.rs judge_service_fields; mocks/src/ca/email_tls.rs challenge_target, targets",
    },
    DraftText {
        id: TLS_2,
        versions: "-05 §3 item 2 (the SHOULD: -02…-05)",
        quote: "\"port\" JWS header parameter SHOULD be included. See Section 3.2 for more details. If this JWS header parameter is not included, the default assigned IANA port for the corresponding \"service\" is assumed.",
        differences: "m-00, -00, -01: \"\\\"port\\\" JWS header parameter MUST (SHOULD?) be included.\" -02…-04: SHOULD, without the default-port sentence, which only -05 has. Placement as for TLS-1.",
        checker: "harness/src/sut/client_judge.rs judge_service_fields; protocol/src/email_tls.rs resolve_port",
    },
    DraftText {
        id: TLS_3,
        versions: "m-00, -00…-05 §3.1",
        quote: "Valid values come from \"Service Names and Transport Protocol Port Numbers\" IANA registry",
        differences: "The same in every version. LMTP has no name there (open issue \"Add support for LMTP (RFC 2033)?\", -00…-05 §4).",
        checker: "protocol/src/email_tls.rs Service::from_str; mocks/src/ca/email_tls.rs parse_target",
    },
    DraftText {
        id: TLS_4,
        versions: "-02…-05 §3.1; RFC 7817 §4, §4.1",
        quote: "ACME servers compliant with this specification MUST support [RFC7817] (in particular see Section 4 of that document). — RFC 7817 §4: \"CAs MUST support issuance of server certificates with DNS-ID identifier type\" … \"CAs MUST support issuance of server certificates with SRV-ID identifier type for each type of email service\" … \"For backward compatibility with a deployed client base, CAs MUST support issuance of server certificates with CN-ID identifier type\"; §4.1: \"MUST NOT include such email SRV-IDs/DNS-IDs\" (a CA that cannot verify the authorization).",
        differences: "m-00, -00, -01 have TLS-15's MAY instead. RFC 7817 §4 says what a CA MUST be able to issue, not what each certificate carries, and nothing of keyUsage or extKeyUsage: acmeproof checks at MUST that a validated DNS-ID or SRV-ID is issued and nothing unvalidated; the SAN set, usages and the dNSName after a proof on another port are policy notes.",
        checker: "protocol/src/pki/server_profile.rs check_server_certificate (called by harness/src/acme/email_tls.rs check_server_certificate, harness/src/scenario/run/tls.rs and run/external.rs)",
    },
    DraftText {
        id: TLS_5,
        versions: "-05 §3.2 (the MAY: -03…-05)",
        quote: "ACME server MAY check that the TCP port corresponds to the requested \"service\", for example that the port is the assigned default IANA port for the service.",
        differences: "-03, -04: \"… the assigned default port for the service.\" (no \"IANA\"). m-00…-02: no such sentence.",
        checker: "mocks/src/ca/email_tls.rs parse_target (knob require_default_port; lmtp on port 25, knob lmtp_port_25)",
    },
    DraftText {
        id: TLS_6,
        versions: "m-00, -00…-05 §5; m-00, -00…-02 §4 open issue",
        quote: "IANA is requested to register the following ACME challenge types that are used with Identifier Type \"dns\"",
        differences: "m-00, -00…-02 §4: \"One possible alternative for issuing TLS certificates for email services is to define a new Identifier Type that specifies service@domain. The current version of the document just reuses \\\"dns\\\".\" -03 dropped it (CA knob service_identifier models it).",
        checker: "mocks/src/ca/email_tls.rs targets, plain_dns_kinds, expand_service_arrays",
    },
    DraftText {
        id: TLS_7,
        versions: "-02…-05 §3.3 item 1 (§3.4 in m-00, -00)",
        quote: "The TXT record used to validate this challenge is _<port>._<service>._acme-challenge.<domain>.",
        differences: "m-00, -00, -01: \"_<port>._<service>_acme-challenge.<domain>\" (no dot before _acme-challenge). Every version's second example ends \"example.next\" (for example.net).",
        checker: "protocol/src/email_tls.rs txt_name; mocks/src/ca/validate_tls.rs dns_email",
    },
    DraftText {
        id: TLS_8,
        versions: "m-00, -00…-05 §3.3",
        quote: "\"dns-email-00\" is very similar to \"dns-01\" defined in Section 8.4 of [I-D.ietf-acme-acme].",
        differences: "m-00…-02 item 2: \"[[OPEN ISSUE: Should service name and port number be incorporated into the hash?]]\"; -03, -04: \"[[TODO: Make sure that both service name and port number are incorporated into the hash]]\" (a decision without a formula); -05: gone. Only dns-email-00 ever carried the item; acmeproof's knob service_port_in_hash extends its proposed formula to the capability challenges too.",
        checker: "protocol/src/email_tls.rs challenge_digest, digest_matches; mocks/src/ca/validate_tls.rs dns_email",
    },
    DraftText {
        id: TLS_9,
        versions: "m-00, -00…-05 §3.4 (§3.5 in m-00, -00)",
        quote: "For \"capability-smtp-00\" challenge, ACME client (== SMTP server) constructs a key authorization from the \"token\" value provided in the challenge and the client's account key. The client then computes the SHA-256 digest [FIPS180-4] of the key authorization. SMTP server than returns the base64url encoding of this digest as a value of the \"ACME\" EHLO capability.",
        differences: "The same in every version (m-00 ends \"capability:\" instead of \"capability.  For example:\"). No version says whether the CA looks before or after STARTTLS (CA knob capability_phase).",
        checker: "protocol/src/email_tls.rs find_acme_in_ehlo; mocks/src/ca/validate_tls.rs capability",
    },
    DraftText {
        id: TLS_10,
        versions: "-02…-05 §3.4",
        quote: "IMAP server than returns the base64url encoding of this digest as a value of the \"ACME\" capability",
        differences: "m-00, -00, -01 say \"SMTP server than returns …\" in the IMAP paragraph (a copy slip); the examples (greeting code and CAPABILITY response) are the same in every version.",
        checker: "protocol/src/email_tls.rs imap_capabilities_from_line, find_acme_in_imap_capabilities; mocks/src/ca/validate_tls.rs capability",
    },
    DraftText {
        id: TLS_11,
        versions: "-04, -05 §3.4",
        quote: "POP3 server than returns the base64url encoding of this digest as a value of the \"ACME\" capability in response to CAPA command [RFC2449]",
        differences: "-03: \"[[TODO: Add support for POP3 as per John Levine]]\"; m-00…-02: no POP3.",
        checker: "protocol/src/email_tls.rs find_acme_in_capa; mocks/src/ca/validate_tls.rs capability",
    },
    DraftText {
        id: TLS_12,
        versions: "-05 §3.4.1 only",
        quote: "The EHLO keyword has a single required parameter which is a base64url encoded SHA-256 hash, which is 44 octets in length.",
        differences: "Only -05 registers the SMTP extension. Erratum recorded by acmeproof: SHA-256 is 32 octets, 43 characters of base64url without padding (RFC 8555 §6.1), 44 only with \"=\"; the sentence asks for the padded form the rest of the text never uses. The CA takes both; under knob strict it refuses the padded form at SHOULD level. Item 6: \"The ACME extension is valid for the submission service [RFC6409] (default port number 587) or its version running directly over TLS [RFC8314] (\\\"submissions\\\" service, default port number 465) .\"",
        checker: "protocol/src/email_tls.rs AcmeCapability::Padded, PADDING_ERRATUM; mocks/src/ca/validate_tls.rs capability",
    },
    DraftText {
        id: TLS_13,
        versions: "-04, -05 §5",
        quote: "IANA is requested to register the following ACME challenge types that are used with Identifier Type \"dns\": \"dns-email\", \"capability-smtp\", \"capability-imap\" and \"capability-pop\".",
        differences: "-01…-03 lack capability-pop; m-00 and -00 also list \"tls-sni-email\".",
        checker: "mocks/src/ca/model.rs ChallengeKind",
    },
    DraftText {
        id: TLS_14,
        versions: "-05 §6",
        quote: "Security Considerations from [I-D.ietf-acme-acme] relevant to the DNS challenge type are also relevant to \"dns-email\".",
        differences: "m-00…-04: \"TBD.\"",
        checker: "descriptive: none",
    },
    DraftText {
        id: TLS_15,
        versions: "m-00, -00, -01 §3.1",
        quote: "ACME server MAY include SRV-ID [RFC6125] subjectAltNames in issued certificates.",
        differences: "-02…-05 replace it with TLS-4 (\"MUST support [RFC7817]\").",
        checker: "protocol/src/pki/server_profile.rs (a missing SRV-ID is a policy note)",
    },
    DraftText {
        id: TLS_16,
        versions: "m-00, -00 §3.3",
        quote: "When connecting to ports 25, 143 and 587, ACME server needs to use STARTTLS command. When connecting to ports 465 or 993, ACME server initiate TLS negotiation immediately upon connection to the corresponding ports. In all cases ACME server presents SAN A in the SNI field, constructed as specified above.",
        differences: "tls-sni-email-00 was removed in -01 (tls-sni-01, which it followed, is reserved as insecure by RFC 8555).",
        checker: "not implemented (removed mechanism)",
    },
];

/// The catalogue entry for `id`, or `None` for an id the catalogue does not know.
pub fn lookup(id: &str) -> Option<&'static Requirement> {
    CATALOGUE.iter().find(|r| r.id == id)
}

/// The MUST and SHOULD rows no scenario can make fire, each with the one-line reason.
///
/// The reverse-coverage test (`harness/tests/harness/coverage.rs`) asks every other MUST and
/// SHOULD row for a place in the code that names it and a scenario that exercises it.
pub static UNTESTABLE: &[(&str, &str)] = &[
    (
        SMIME_15,
        "follows from SMIME-40 (the reply's From is the identifier) and SMIME-13 (the CSR asks for the identifiers): no request breaks it alone, and their scenarios exercise it",
    ),
    (
        SMIME_32,
        "an S/MIME-signed challenge: the reference CA signs its challenge mail with DKIM (the other branch of §3.1 item 6), so no challenge mail of the world carries an S/MIME signer certificate",
    ),
    (
        SMIME_33,
        "an S/MIME-signed challenge: the reference CA signs its challenge mail with DKIM (the other branch of §3.1 item 6), so no challenge mail of the world is multipart/signed",
    ),
    (
        SMIME_34,
        "an S/MIME-signed challenge: the reference CA signs its challenge mail with DKIM (the other branch of §3.1 item 6), so no challenge mail of the world uses S/MIME header protection",
    ),
    (
        ACME_5,
        "a client's retry after badNonce needs a CA that refuses exactly one nonce and then the retry's never: the client judge's unit tests hold it, a scenario would be flaky",
    ),
    (
        MAIL_5,
        "a line over 998 characters also breaks SMTP's 1000-octet line limit (RFC 5321 §4.5.3.1.6), so every hop of the world refuses such a mail before an MUA or CA could judge it",
    ),
];

/// Why `id` cannot be exercised by a scenario, if the catalogue says it cannot.
pub fn untestable(id: &str) -> Option<&'static str> {
    UNTESTABLE
        .iter()
        .find(|(row, _)| *row == id)
        .map(|(_, reason)| *reason)
}

/// Every token in `text` shaped like a requirement id, `(SMIME|TLS|ACME|MAIL)-[0-9]+`, in order
/// of appearance (repeats kept).
///
/// A token counts only at a word boundary: the character before it, if any, is neither
/// alphanumeric nor `_`, so `XTLS-1` or `a_ACME-2` yield nothing. The id need not exist; use
/// [`lookup`] to tell known ids from unknown ones.
pub fn ids_in(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = id_len_at(text, i) {
            found.push(&text[i..i + len]);
            i += len;
        } else {
            i += 1;
        }
    }
    found
}

/// The byte length of an id starting at byte `i` of `text`, if one starts there.
fn id_len_at(text: &str, i: usize) -> Option<usize> {
    // Every family starts with an ASCII letter, so a match begins on a char boundary.
    let rest = text.get(i..)?;
    let family = FAMILIES
        .iter()
        .find(|f| rest.starts_with(*f) && rest.as_bytes().get(f.len()) == Some(&b'-'))?;
    let boundary_before = text[..i]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    if !boundary_before {
        return None;
    }
    let digits = rest[family.len() + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    (digits > 0).then_some(family.len() + 1 + digits)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn family_and_number(id: &str) -> (&str, u32) {
        let (family, number) = id.split_once('-').expect("id has a dash");
        (family, number.parse().expect("id number is decimal"))
    }

    #[test]
    fn untestable_rows_are_must_or_should_rows_with_a_one_line_reason() {
        let mut seen = HashSet::new();
        for (id, reason) in UNTESTABLE {
            let row = lookup(id).unwrap_or_else(|| panic!("{id} is not in the catalogue"));
            assert!(
                matches!(row.level, Level::Must | Level::Should),
                "{id} is {}, and only MUST and SHOULD rows need a scenario",
                row.keyword()
            );
            assert!(seen.insert(*id), "{id} listed twice");
            assert!(
                !reason.trim().is_empty() && !reason.contains('\n'),
                "{id}: {reason:?}"
            );
            assert_eq!(untestable(id), Some(*reason));
        }
        assert_eq!(untestable(SMIME_28), None);
    }

    #[test]
    fn ids_are_unique() {
        let mut seen = HashSet::new();
        for r in CATALOGUE {
            assert!(seen.insert(r.id), "{} appears twice", r.id);
        }
    }

    #[test]
    fn families_are_contiguous_and_in_order() {
        let expected = [("SMIME", 58), ("TLS", 16), ("ACME", 46), ("MAIL", 9)];
        let mut rows = CATALOGUE.iter();
        for (family, count) in expected {
            for n in 1..=count {
                let r = rows
                    .next()
                    .unwrap_or_else(|| panic!("catalogue ends before {family}-{n}"));
                assert_eq!(
                    family_and_number(r.id),
                    (family, n),
                    "expected {family}-{n} next"
                );
            }
        }
        assert!(rows.next().is_none(), "rows after MAIL-9");
        assert_eq!(CATALOGUE.len(), 58 + 16 + 46 + 9);
    }

    #[test]
    fn every_constant_is_named_after_its_id_and_resolves() {
        assert_eq!(CONSTANT_NAMES.len(), CATALOGUE.len());
        for (name, id) in CONSTANT_NAMES {
            assert_eq!(name.replace('_', "-"), *id, "constant {name}");
            let r = lookup(id).unwrap_or_else(|| panic!("{id} not in the catalogue"));
            assert_eq!(r.id, *id);
        }
        assert_eq!(lookup(SMIME_28).map(|r| r.level), Some(Level::Must));
        assert_eq!(lookup(MAIL_6).map(|r| r.id), Some("MAIL-6"));
    }

    #[test]
    fn summaries_are_short_single_lines() {
        for r in CATALOGUE {
            assert!(!r.summary.trim().is_empty(), "{}: empty summary", r.id);
            assert!(
                !r.summary.contains(['\n', '\r']),
                "{}: summary spans lines",
                r.id
            );
            assert_eq!(r.summary, r.summary.trim(), "{}: stray white space", r.id);
            assert!(
                r.summary.chars().count() < 120,
                "{}: summary too long",
                r.id
            );
        }
    }

    #[test]
    fn sources_name_a_document_and_clause() {
        for r in CATALOGUE {
            let known = ["RFC ", "draft-ietf-acme-email-tls-"];
            assert!(
                known.iter().any(|p| r.source.starts_with(p)),
                "{}: {}",
                r.id,
                r.source
            );
            assert!(
                r.source.contains('§'),
                "{}: no clause in {}",
                r.id,
                r.source
            );
        }
    }

    #[test]
    fn only_must_and_should_are_negative() {
        for r in CATALOGUE.iter().filter(|r| r.negative) {
            assert!(matches!(r.level, Level::Must | Level::Should), "{}", r.id);
        }
    }

    #[test]
    fn keywords_follow_the_digest() {
        let kw = |id| lookup(id).map(Requirement::keyword);
        assert_eq!(kw(SMIME_1), Some("MUST NOT"));
        assert_eq!(kw(SMIME_2), Some("—"));
        assert_eq!(kw(SMIME_4), Some("SHOULD"));
        assert_eq!(kw(SMIME_11), Some("MUST NOT"));
        assert_eq!(kw(SMIME_20), Some("MUST NOT"));
        assert_eq!(kw(SMIME_24), Some("MAY"));
        assert_eq!(kw(SMIME_28), Some("MUST"));
        assert_eq!(kw(TLS_2), Some("SHOULD"));
        assert_eq!(kw(TLS_16), Some("—"));
        assert_eq!(kw(ACME_5), Some("MUST"));
        assert_eq!(kw(ACME_34), Some("MUST"));
        assert_eq!(kw(MAIL_4), Some("MUST NOT"));
        let should_not = Requirement {
            negative: true,
            level: Level::Should,
            ..CATALOGUE[0]
        };
        assert_eq!(should_not.keyword(), "SHOULD NOT");
    }

    #[test]
    fn actors_follow_the_digest() {
        let actor = |id| lookup(id).map(|r| r.actor);
        assert_eq!(actor(SMIME_1), Some(Actor::ServerAndClient));
        assert_eq!(actor(SMIME_11), Some(Actor::Mua));
        assert_eq!(actor(SMIME_44), Some(Actor::MuaAndServer));
        assert_eq!(actor(SMIME_58), Some(Actor::ServerAndClient));
        assert_eq!(actor(ACME_5), Some(Actor::Client));
        assert_eq!(actor(MAIL_4), Some(Actor::Mua));
        assert_eq!(actor(MAIL_1), Some(Actor::Any));
    }

    #[test]
    fn sources_follow_the_digest() {
        let source = |id| lookup(id).map(|r| r.source);
        assert_eq!(source(SMIME_17), Some("RFC 8823 §3.1 item 1"));
        assert_eq!(source(ACME_4), Some("RFC 8555 §6.5"));
        assert_eq!(source(TLS_7), Some("draft-ietf-acme-email-tls-02…-05 §3.3"));
    }

    #[test]
    fn ids_in_finds_ids() {
        let text = "see SMIME-28, (TLS-7) and ACME-34.\nMAIL-1: x; SMIME-28 again";
        assert_eq!(
            ids_in(text),
            ["SMIME-28", "TLS-7", "ACME-34", "MAIL-1", "SMIME-28"]
        );
        assert_eq!(ids_in("SMIME-1"), ["SMIME-1"]);
        assert_eq!(ids_in("`ACME-12`"), ["ACME-12"]);
        assert_eq!(ids_in("SMIME-1-2"), ["SMIME-1"]);
        assert_eq!(ids_in("é ACME-2 ü"), ["ACME-2"]);
    }

    #[test]
    fn ids_in_ignores_look_alikes() {
        for text in [
            "XSMIME-1", "XTLS-1", "a_ACME-2", "3MAIL-4", "éTLS-1", "SMIME-", "SMIME-x", "SMIME_28",
            "smime-1", "TLS 1.3", "SMIME -1", "",
        ] {
            assert!(ids_in(text).is_empty(), "{text:?} gave {:?}", ids_in(text));
        }
    }

    #[test]
    fn every_tls_requirement_has_its_text() {
        let tls: Vec<&str> = CATALOGUE
            .iter()
            .filter(|r| r.id.starts_with("TLS-"))
            .map(|r| r.id)
            .collect();
        let texts: Vec<&str> = TLS_TEXTS.iter().map(|t| t.id).collect();
        assert_eq!(tls, texts);
        for t in TLS_TEXTS {
            for (what, v) in [
                ("versions", t.versions),
                ("quote", t.quote),
                ("differences", t.differences),
                ("checker", t.checker),
            ] {
                assert!(!v.trim().is_empty(), "{}: empty {what}", t.id);
            }
            assert!(t.versions.contains('§'), "{}: no clause", t.id);
        }
    }

    /// Rows whose clause states its rule as a count ("1", "0 ... 1") rather than with a keyword;
    /// the catalogue's MUST comes from the grammar the clause belongs to (RFC 5322 §3.1,
    /// RFC 3834 §5.1's syntax).
    const COUNT_RULES: [&str; 3] = [MAIL_1, MAIL_2, MAIL_3];

    /// Pairs of rows with the same text: RFC 8823 repeats the sentence word for word in §3.1
    /// item 6 (challenge) and §3.2 item 9 (response).
    const REPEATED_SENTENCES: [(&str, &str); 1] = [(SMIME_30, SMIME_53)];

    /// The BCP 14 words that state `level` (RFC 2119: REQUIRED and SHALL mean MUST,
    /// RECOMMENDED means SHOULD, OPTIONAL means MAY).
    fn keyword_forms(r: &Requirement) -> &'static [&'static str] {
        match (r.level, r.negative) {
            (Level::Must, false) => &["MUST", "REQUIRED", "SHALL"],
            (Level::Must, true) => &["MUST NOT", "SHALL NOT"],
            (Level::Should, false) => &["SHOULD", "RECOMMENDED"],
            (Level::Should, true) => &["SHOULD NOT", "NOT RECOMMENDED"],
            (Level::May, _) => &["MAY", "OPTIONAL"],
            (Level::Info, _) => &[],
        }
    }

    /// Whether the row's text states its level: a BCP 14 keyword, or the lower-case "should"
    /// that the summary owns up to.
    fn states_its_keyword(r: &Requirement) -> bool {
        let forms = keyword_forms(r);
        forms.is_empty()
            || forms.iter().any(|k| r.text.contains(k))
            || (r.summary.contains("(lower-case should)") && r.text.contains("should"))
    }

    #[test]
    fn every_row_quotes_its_clause() {
        for r in CATALOGUE {
            assert!(!r.text.trim().is_empty(), "{}: no text", r.id);
            assert_eq!(r.text, r.text.trim(), "{}: stray white space", r.id);
            assert!(
                !r.text.contains(['\n', '\r', '\t']),
                "{}: text spans lines",
                r.id
            );
            assert!(!r.text.contains("  "), "{}: double space in text", r.id);
        }
    }

    #[test]
    fn every_text_states_the_keyword_of_its_row() {
        for r in CATALOGUE.iter().filter(|r| !COUNT_RULES.contains(&r.id)) {
            assert!(
                states_its_keyword(r),
                "{} {}: text lacks {:?}: {}",
                r.id,
                r.keyword(),
                keyword_forms(r),
                r.text
            );
        }
        // The exceptions are real: drop a row from the list once its text names the keyword.
        for id in COUNT_RULES {
            let r = lookup(id).expect("listed row exists");
            assert!(!states_its_keyword(r), "{id} states its keyword; unlist it");
        }
    }

    #[test]
    fn keyword_check_fires_on_a_text_without_the_keyword() {
        let must = *lookup(SMIME_25).expect("SMIME-25");
        assert!(states_its_keyword(&must));
        let bare = Requirement {
            text: "The message includes the Auto-Submitted header field.",
            ..must
        };
        assert!(!states_its_keyword(&bare));
        let lower = Requirement {
            text: "The message must include the Auto-Submitted header field.",
            ..must
        };
        assert!(!states_its_keyword(&lower), "lower-case must is not MUST");
        let should_not = *lookup(ACME_36).expect("ACME-36");
        let only_should = Requirement {
            text: "The server SHOULD include pending orders.",
            ..should_not
        };
        assert!(
            !states_its_keyword(&only_should),
            "SHOULD is not SHOULD NOT"
        );
        let lower_should = *lookup(SMIME_4).expect("SMIME-4");
        assert!(states_its_keyword(&lower_should));
        assert!(!states_its_keyword(&Requirement {
            text: "token-part2 has at least 128 bits of entropy.",
            ..lower_should
        }));
    }

    #[test]
    fn no_two_rows_share_a_text_by_accident() {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for r in CATALOGUE {
            if let Some(first) = seen.insert(r.text, r.id) {
                assert!(
                    REPEATED_SENTENCES.contains(&(first, r.id)),
                    "{first} and {} have the same text",
                    r.id
                );
            }
        }
        for (a, b) in REPEATED_SENTENCES {
            let text = |id| lookup(id).map(|r| r.text);
            assert_eq!(
                text(a),
                text(b),
                "{a} and {b} no longer share a text; unlist them"
            );
        }
    }

    #[test]
    fn tls_rows_quote_the_drafts_text() {
        for r in CATALOGUE.iter().filter(|r| r.id.starts_with("TLS-")) {
            let draft = TLS_TEXTS.iter().find(|t| t.id == r.id).expect("TLS text");
            assert_eq!(r.text, draft.quote, "{}", r.id);
        }
    }

    #[test]
    fn made_up_ids_are_not_found() {
        assert_eq!(ids_in("SMIME-999"), ["SMIME-999"]);
        assert!(lookup("SMIME-999").is_none());
        assert!(lookup("SMIME-0").is_none());
        assert!(lookup("SMIME-028").is_none());
        assert!(lookup("smime-28").is_none());
        assert!(lookup("").is_none());
    }
}
