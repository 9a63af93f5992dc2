//! What a scenario file says (TOML; `scenarios/README.md` documents every field).

use std::collections::BTreeMap;

use serde::Deserialize;

pub use acmeproof_protocol::token::Join;
pub use acmeproof_reports::{Outcome, Role};

use crate::acme::probe::Fault;

/// Defines a closed set of values a scenario field takes: a serde enum (so a typo fails when
/// the file loads, with its file and line, listing the values), its spelling in the file, and
/// `FromStr` for the variants that set it from a matrix value.
macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("`", $text, "` in a scenario file.")]
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in the order the file format lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as a scenario file spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text).ok_or_else(|| {
                    let all: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("{text:?} is not one of {}", all.join(", "))
                })
            }
        }
    };
}

closed_set! {
    /// The reference MUA's response body.
    ReplyBody {
        TextPlain = "text-plain",
        MultipartAlternative = "multipart-alternative",
    }
}

closed_set! {
    /// When the reference MUA POSTs the challenge.
    PostWhen {
        AfterReply = "after-reply",
        BeforeReply = "before-reply",
    }
}

closed_set! {
    /// The key usage the CSR asks for (RFC 8823 §3.3).
    Usage {
        /// No keyUsage extension: the CA decides (signing and encryption).
        Both = "both",
        Signing = "signing",
        Encryption = "encryption",
    }
}

closed_set! {
    /// How the reference MUA waits for the challenge mail.
    MailWait {
        Idle = "idle",
        Poll = "poll",
    }
}

closed_set! {
    /// How the reference MUA reaches IMAP.
    ImapTls {
        Starttls = "starttls",
        Implicit = "implicit",
    }
}

closed_set! {
    /// How a reply leaves (see [`ReplyChanges::send`]).
    SendVia {
        Submission = "submission",
        Direct = "direct",
        Unsigned = "unsigned",
        OtherDomain = "other-domain",
        SenderDomain = "sender-domain",
    }
}

closed_set! {
    /// A DKIM key made for the moment (RFC 8301).
    DkimKey {
        RsaSha1 = "rsa-sha1",
        Rsa512 = "rsa-512",
    }
}

closed_set! {
    /// What is changed after signing.
    Tamper {
        Body = "body",
        Header = "header",
    }
}

closed_set! {
    /// How the digest lines are rewritten.
    DigestStyle {
        Padded = "padded",
        Spaced = "spaced",
        Indented = "indented",
        Altered = "altered",
    }
}

closed_set! {
    /// The transfer encoding of the reply's text/plain body (RFC 2045 §6).
    BodyEncoding {
        QuotedPrintable = "quoted-printable",
        Base64 = "base64",
    }
}

closed_set! {
    /// How the reply's Subject is rewritten.
    SubjectForm {
        Encoded = "encoded",
        Folded = "folded",
        NoRe = "no-re",
    }
}

closed_set! {
    /// What an issuance must end in.
    Expect {
        Issued = "issued",
        Refused = "refused",
    }
}

closed_set! {
    /// What the reference MUA's issuance must end in.
    IssueExpect {
        Issued = "issued",
        Refused = "refused",
        /// A challenge mail broken on purpose (a CA knob): the MUA must not answer it.
        Ignored = "ignored",
        /// A challenge mail that breaks only a SHOULD: the MUA goes on and flags it.
        Flagged = "flagged",
    }
}

closed_set! {
    /// A lookalike challenge put in the mailbox before the MUA orders.
    Lookalike {
        OtherSender = "other-sender",
        ReSubject = "re-subject",
        ForgedDkim = "forged-dkim",
    }
}

closed_set! {
    /// The status an authorization must reach.
    AuthzStatus {
        Valid = "valid",
        Invalid = "invalid",
    }
}

closed_set! {
    /// The level a mismatch is lowered to, where the texts leave the choice open.
    Lowered {
        Should = "should",
        May = "may",
        Info = "info",
    }
}

closed_set! {
    /// How the reference mail-server operator proves control (draft-ietf-acme-email-tls).
    TlsProof {
        Capability = "capability",
        DnsEmail = "dns-email",
    }
}

closed_set! {
    /// Where `service`/`port` travel.
    TlsField {
        ChallengePayload = "challenge-payload",
        ChallengeHeader = "challenge-header",
        NewOrder = "new-order",
        NewOrderHeader = "new-order-header",
        NewOrderArrays = "new-order-arrays",
        ServiceIdentifier = "service-identifier",
    }
}

closed_set! {
    /// When the world's mail server shows the ACME capability.
    Advert {
        Always = "always",
        BeforeTls = "before-tls",
        AfterTls = "after-tls",
    }
}

closed_set! {
    /// The mail server certificate's key.
    TlsKey {
        Es256 = "es256",
        Es384 = "es384",
        Ed25519 = "ed25519",
        Rs256 = "rs256",
    }
}

/// A field whose type already has a `FromStr` (a probe's fault), read from its name.
fn from_name<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Spec-clause id: `rfc8823/3.2/digest-split-lines`.
    pub id: String,
    /// One line for humans.
    pub title: String,
    /// What the scenario checks and why, for `acmeproof explain`.
    #[serde(default)]
    pub description: String,
    /// The requirement ids it exercises (each must exist in the catalogue).
    pub requirements: Vec<String>,
    /// The side judged.
    pub role: Role,
    /// The outcome the reference implementations get.
    #[serde(default = "default_expect")]
    pub expect: Outcome,
    /// The seed; by default one derived from the id.
    pub seed: Option<u64>,
    /// Overrides merged into the example world (same keys as `acmeproof serve --config`).
    #[serde(default)]
    pub world: toml::Table,
    /// The open-issue variants `acmeproof matrix` runs this scenario over (see
    /// [`super::variants::VARIANTS`]).
    #[serde(default)]
    pub variants: Vec<String>,
    /// Set when the scenario checks a choice the built-in CA made where the RFCs leave one
    /// (the reason): a server under test is not judged on it, and the scenario is skipped.
    pub policy: Option<String>,
    /// The steps, in order.
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

fn default_expect() -> Outcome {
    Outcome::Pass
}

/// The reference MUA's variants a step can set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuaVariant {
    /// `string` or `binary`.
    pub join: Option<Join>,
    /// `text-plain` or `multipart-alternative`.
    pub body: Option<ReplyBody>,
    /// Wrap the digest after this many characters.
    pub wrap: Option<usize>,
    /// `after-reply` (default) or `before-reply`.
    pub post: Option<PostWhen>,
    /// `both` (default), `signing` or `encryption`.
    pub usage: Option<Usage>,
    /// `idle` (default) or `poll`.
    pub wait: Option<MailWait>,
    /// `starttls` (default) or `implicit`.
    pub imap_tls: Option<ImapTls>,
    /// `reply` (default, RFC 8823 §3) or `read-only` (POST `tokenPart1` instead of replying;
    /// the `proof` variant).
    pub proof: Option<acmeproof_mocks::ca::knobs::Proof>,
}

/// What happens to a reply before it is sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyChanges {
    /// Send it as this address (Submission authenticates as this user).
    pub from: Option<String>,
    /// Put this From header in, whoever sends it.
    pub from_header: Option<String>,
    /// Header fields added at the top (`"Name: value"`).
    #[serde(default)]
    pub add_headers: Vec<String>,
    /// Replace the digest with this text.
    pub digest: Option<String>,
    /// Replace the Subject with this text.
    pub subject: Option<String>,
    /// How it leaves: `submission` (signed by the MSA, default); or signed by the harness
    /// and handed straight to the MX the world's DNS names for the recipient's domain, so the
    /// CA reads exactly these bytes: `direct` (the From domain's world key), `unsigned` (no
    /// DKIM), `other-domain` (a key of another domain than the sender's), `sender-domain`
    /// (the envelope sender's domain, whatever From says: a permissive MSA elsewhere).
    pub send: Option<SendVia>,
    /// With a signing `send`: sign with a key made for the moment and published under the
    /// signing domain: `rsa-sha1` (RFC 8301 §3.1) or `rsa-512` (a 512-bit RSA key, RFC 8301
    /// §3.2).
    pub dkim_key: Option<DkimKey>,
    /// With a signing `send`: the header fields `h=` names (default: RFC 8823 §3.2 item 9's).
    pub dkim_signed: Option<Vec<String>>,
    /// With a signing `send`: change the mail after signing: `body` (a line added) or `header`
    /// (the signed Date rewritten).
    pub tamper: Option<Tamper>,
    /// Quote the digest block as a reply would (`> ` before each line).
    #[serde(default)]
    pub quote: bool,
    /// Rewrite the digest lines: `padded` (a `=` added), `spaced` (a space every 8
    /// characters), `indented` (leading spaces), `altered` (its first character changed: the
    /// right length and alphabet, the wrong digest).
    pub digest_style: Option<DigestStyle>,
    /// Leave out the BEGIN and END lines, keeping the digest line.
    #[serde(default)]
    pub no_block: bool,
    /// Put a line of text before and after the block, as a person writing the reply would.
    #[serde(default)]
    pub text_around: bool,
    /// Re-encode the text/plain body: `quoted-printable` or `base64` (RFC 2045 §6).
    pub encoding: Option<BodyEncoding>,
    /// Rewrite the Subject: `encoded` (one RFC 2047 UTF-8 `B` encoded-word), `folded` (folded
    /// inside token-part1, RFC 5322 §2.2.3), `no-re` (`ACME: <token-part1>` without `Re:`).
    pub subject_form: Option<SubjectForm>,
    /// Leave out In-Reply-To and References.
    #[serde(default)]
    pub no_in_reply_to: bool,
}

impl ReplyChanges {
    /// The changes in words (`nothing` when there are none).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(from) = &self.from {
            parts.push(format!("sent as {from}"));
        }
        if let Some(from) = &self.from_header {
            parts.push(format!("From: {from}"));
        }
        for header in &self.add_headers {
            parts.push(format!("with {header}"));
        }
        if let Some(digest) = &self.digest {
            parts.push(format!("digest {digest}"));
        }
        if let Some(subject) = &self.subject {
            parts.push(format!("Subject: {subject}"));
        }
        if let Some(send) = &self.send {
            parts.push(format!("sent {send}"));
        }
        if self.quote {
            parts.push("quoted".into());
        }
        if let Some(style) = &self.digest_style {
            parts.push(format!("digest {style}"));
        }
        if let Some(key) = &self.dkim_key {
            parts.push(format!("DKIM key {key}"));
        }
        if let Some(h) = &self.dkim_signed {
            parts.push(format!("DKIM h={}", h.join(":")));
        }
        if let Some(t) = &self.tamper {
            parts.push(format!("{t} changed after signing"));
        }
        if self.no_block {
            parts.push("no BEGIN/END lines".into());
        }
        if self.text_around {
            parts.push("text around the block".into());
        }
        if let Some(e) = &self.encoding {
            parts.push(format!("body {e}"));
        }
        if let Some(f) = &self.subject_form {
            parts.push(format!("Subject {f}"));
        }
        if self.no_in_reply_to {
            parts.push("no In-Reply-To".into());
        }
        if parts.is_empty() {
            "as the reference MUA writes it".into()
        } else {
            parts.join(", ")
        }
    }
}

/// One step: an action, or an expectation that turns into findings when it does not hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Step {
    /// The reference MUA's whole issuance for `user`.
    Issue(IssueStep),
    /// Order an `email` identifier and fetch the authorization (the CA sends its mail).
    Order(UserStep),
    /// Read the challenge mail from the user's mailbox and check it.
    ReadChallenge(UserStep),
    /// Build and send the reply to the challenge read.
    Reply(ReplyStep),
    /// POST the challenge.
    Post(EmptyStep),
    /// Wait until the authorization leaves `pending` and compare.
    ExpectAuthorization(ExpectAuthorizationStep),
    /// Finalize the order with a CSR and check the certificate.
    Finalize(FinalizeStep),
    /// Move the world clock.
    AdvanceClock(AdvanceClockStep),
    /// Change CA knobs (same keys as `[world.ca.knobs]`).
    SetKnobs(SetKnobsStep),
    /// Send a deliberately broken request and compare the answer (RFC 8555 §6).
    Probe(ProbeStep),
    /// newOrder for any identifier, expecting it accepted or refused with an error.
    NewOrder(NewOrderStep),
    /// A whole dns-01 issuance by the built-in client.
    IssueDns(IssueDnsStep),
    /// Deactivate the account (RFC 8555 §7.3.6).
    DeactivateAccount(EmptyStep),
    /// The directory and newNonce as RFC 8555 §7.1.1 and §7.2 say.
    Directory(ReqStep),
    /// A draft-ietf-acme-email-tls issuance by the reference mail-server operator.
    IssueTls(IssueTlsStep),
    /// newAccount as RFC 8555 §7.3 and §7.3.1 say (see [`NewAccountCase`]).
    NewAccount(NewAccountStep),
    /// The account's contact changed by a POST to the account URL (RFC 8555 §7.3.2).
    UpdateContact(ReqStep),
    /// An account key rollover (RFC 8555 §7.3.5), good or with one fault.
    KeyChange(KeyChangeStep),
    /// revokeCert of the last `issue-dns` certificate (RFC 8555 §7.6).
    Revoke(RevokeStep),
    /// The account's orders list (RFC 8555 §7.1.2.1) against the order of the scenario.
    OrdersList(ReqStep),
    /// ARI: the renewalInfo of the last `issue-dns` certificate (RFC 9773 §4.2).
    RenewalInfo(ReqStep),
    /// Two newOrders that `replaces` the last `issue-dns` certificate (RFC 9773 §5).
    Replace(ReqStep),
}

impl Step {
    /// The `action` name.
    pub fn action(&self) -> &'static str {
        match self {
            Step::Issue(_) => "issue",
            Step::Order(_) => "order",
            Step::ReadChallenge(_) => "read-challenge",
            Step::Reply(_) => "reply",
            Step::Post(_) => "post",
            Step::ExpectAuthorization(_) => "expect-authorization",
            Step::Finalize(_) => "finalize",
            Step::AdvanceClock(_) => "advance-clock",
            Step::SetKnobs(_) => "set-knobs",
            Step::Probe(_) => "probe",
            Step::NewOrder(_) => "new-order",
            Step::IssueDns(_) => "issue-dns",
            Step::DeactivateAccount(_) => "deactivate-account",
            Step::Directory(_) => "directory",
            Step::IssueTls(_) => "issue-tls",
            Step::NewAccount(_) => "new-account",
            Step::UpdateContact(_) => "update-contact",
            Step::KeyChange(_) => "key-change",
            Step::Revoke(_) => "revoke",
            Step::OrdersList(_) => "orders-list",
            Step::RenewalInfo(_) => "renewal-info",
            Step::Replace(_) => "replace",
        }
    }

    /// The requirement ids the step names.
    pub fn requirements(&self) -> Vec<&str> {
        match self {
            Step::Issue(s) => s.req.as_deref().into_iter().collect(),
            Step::Order(s) | Step::ReadChallenge(s) => s.req.as_deref().into_iter().collect(),
            Step::ExpectAuthorization(s) => vec![s.req.as_str()],
            Step::Probe(s) => vec![s.req.as_str()],
            Step::NewOrder(s) => vec![s.req.as_str()],
            Step::IssueDns(s) => vec![s.req.as_str()],
            Step::Directory(s) => vec![s.req.as_str()],
            Step::Finalize(s) => vec![s.req.as_str()],
            Step::IssueTls(s) => vec![s.req.as_str()],
            Step::NewAccount(s) => vec![s.req.as_str()],
            Step::UpdateContact(s)
            | Step::OrdersList(s)
            | Step::RenewalInfo(s)
            | Step::Replace(s) => vec![s.req.as_str()],
            Step::KeyChange(s) => vec![s.req.as_str()],
            Step::Revoke(s) => vec![s.req.as_str()],
            _ => Vec::new(),
        }
    }
}

/// Fields every step may carry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyStep {}

/// A step about one user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserStep {
    /// `alice` or `eai`, or a full address of a world user.
    #[serde(default = "default_user")]
    pub user: String,
    /// The requirement a failure of this step is filed under.
    pub req: Option<String>,
}

fn default_user() -> String {
    "alice".into()
}

/// [`Step::Issue`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueStep {
    /// Whose certificate.
    #[serde(default = "default_user")]
    pub user: String,
    /// The MUA's variant.
    #[serde(default)]
    pub mua: MuaVariant,
    /// `issued` (default) or `refused`; or, where a CA knob breaks `req` in the challenge mail
    /// on purpose, `ignored` (the MUA must not answer it) or `flagged` (a SHOULD: the MUA goes
    /// on, and its checker names `req`).
    #[serde(default = "default_issue_expect")]
    pub expect: IssueExpect,
    /// For `refused`: the ACME error type (`unauthorized`, `incorrectResponse`, …).
    pub error: Option<String>,
    /// Lookalike challenges put in the mailbox once the MUA has it open and before it
    /// orders: `other-sender`, `re-subject`, `forged-dkim`.
    #[serde(default)]
    pub inject: Vec<Lookalike>,
    /// How many mails the MUA must have ignored.
    pub ignored: Option<usize>,
    /// The requirement a mismatch is filed under.
    pub req: Option<String>,
}

fn default_issued() -> Expect {
    Expect::Issued
}

fn default_issue_expect() -> IssueExpect {
    IssueExpect::Issued
}

/// [`Step::Reply`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyStep {
    /// Whose reply.
    #[serde(default = "default_user")]
    pub user: String,
    /// The MUA's variant (join, body, wrap).
    #[serde(default)]
    pub mua: MuaVariant,
    /// What is changed on the way.
    #[serde(default)]
    pub change: ReplyChanges,
}

/// [`Step::ExpectAuthorization`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectAuthorizationStep {
    /// `valid` or `invalid`.
    pub status: AuthzStatus,
    /// For `invalid`: the error type (without the `urn:ietf:params:acme:error:` prefix).
    pub error: Option<String>,
    /// Text the error detail must contain.
    pub detail: Option<String>,
    /// The requirement a mismatch is filed under.
    pub req: String,
    /// Lower the finding a mismatch gives: `should`, `may` or `info`. For what the texts leave
    /// open: the reference CA's reading is one choice, and another CA's is not a MUST failure.
    pub level: Option<Lowered>,
}

/// [`Step::Finalize`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalizeStep {
    /// `both`, `signing` or `encryption`.
    #[serde(default = "default_usage")]
    pub usage: Usage,
    /// The requirement a bad certificate is filed under.
    pub req: String,
    /// Ask for this address in the CSR instead of the order's.
    pub csr_for: Option<String>,
    /// Finalize at once, without waiting for the order to be ready.
    #[serde(default)]
    pub early: bool,
    /// The error the CA must answer instead of a certificate (`badCSR`, `orderNotReady`).
    pub error: Option<String>,
}

fn default_usage() -> Usage {
    Usage::Both
}

/// [`Step::AdvanceClock`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClockStep {
    /// Seconds forward.
    pub seconds: i64,
}

/// [`Step::SetKnobs`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetKnobsStep {
    /// Knob names and values.
    pub knobs: BTreeMap<String, toml::Value>,
}

/// [`Step::Probe`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeStep {
    /// The fault (`alg-none`, `reused-nonce`, …; see `acme::probe::Fault`).
    #[serde(deserialize_with = "from_name")]
    pub fault: Fault,
    /// The HTTP status the server must answer.
    pub status: u16,
    /// The problem type it must answer (without the URN prefix); none for a success.
    pub error: Option<String>,
    /// The requirement a wrong answer is filed under.
    pub req: String,
    /// The RFC requires a refusal but names no status or error type for it: any 4xx answer
    /// passes (`status` and `error` are then what the reference CA answers).
    #[serde(default)]
    pub any_refusal: bool,
}

/// A step that only names its requirement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReqStep {
    /// The requirement a failure is filed under.
    pub req: String,
}

/// [`Step::NewOrder`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrderStep {
    /// The identifier type (`email`, `dns`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its value.
    pub value: String,
    /// The problem type the CA must answer; none when the order must be created.
    pub error: Option<String>,
    /// The requirement a wrong answer is filed under.
    pub req: String,
}

/// [`Step::IssueDns`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueDnsStep {
    /// The names.
    pub names: Vec<String>,
    /// How the names are proved (default dns-01).
    #[serde(default)]
    pub proof: NameProof,
    /// The requirement a failure is filed under.
    pub req: String,
}

/// The challenge an [`IssueDnsStep`] answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameProof {
    /// dns-01 (RFC 8555 §8.4): TXT records in the world's DNS.
    #[default]
    #[serde(rename = "dns-01")]
    Dns01,
    /// tls-alpn-01 (RFC 8737 §3): the harness's responder, the built-in CA's
    /// `tls_alpn01_port` pointed at it (so never against a server under test, which connects
    /// to port 443).
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

/// [`Step::IssueTls`]: the reference mail-server operator gets (or is refused) a certificate
/// for a mail server (draft-ietf-acme-email-tls-05).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTlsStep {
    /// The `dns` identifier.
    #[serde(default = "default_mail_domain")]
    pub domain: String,
    /// The services, `name` or `name:port` (`imaps`, `smtp:25`, `lmtp:2424`); the port is
    /// left out of the request when not given (-05 §3 item 2: the IANA default is assumed).
    /// `name:closed` is the world's certainly-closed port (nothing listens there).
    pub services: Vec<String>,
    /// `capability` (capability-*-00, the default) or `dns-email` (dns-email-00).
    #[serde(default = "default_tls_proof")]
    pub proof: TlsProof,
    /// Where `service`/`port` go: the draft's challenge POST, `challenge-payload` (-05, the
    /// default) or `challenge-header` (-00…-04); or acmeproof's newOrder proposal, `new-order`
    /// (identifier objects, several services) or `new-order-header`.
    #[serde(default = "default_service_field")]
    pub field: TlsField,
    /// Publish the service-bound digest (the `service_port_in_hash` proposal).
    #[serde(default)]
    pub service_port_in_hash: bool,
    /// Repeat `service`/`port` in the challenge POST (-05 Figure 1).
    #[serde(default)]
    pub repeat_in_challenge: bool,
    /// When the world's server shows the capability: `always`, `before-tls`, `after-tls`.
    #[serde(default = "default_advert")]
    pub advert: Advert,
    /// Put the SRV-IDs in the CSR (RFC 7817 §5).
    #[serde(default)]
    pub csr_srv_ids: bool,
    /// The certificate key: `es256` (default), `ed25519`, `rs256`.
    #[serde(default = "default_tls_key")]
    pub key: TlsKey,
    /// `issued` (default) or `refused`.
    #[serde(default = "default_issued")]
    pub expect: Expect,
    /// For `refused`: the error type(s), `|`-separated.
    pub error: Option<String>,
    /// For `refused`: text the error detail must contain (e.g. a requirement id).
    pub detail: Option<String>,
    /// The requirement a mismatch is filed under.
    pub req: String,
}

fn default_mail_domain() -> String {
    "mail.example.test".into()
}

fn default_tls_proof() -> TlsProof {
    TlsProof::Capability
}

fn default_service_field() -> TlsField {
    TlsField::ChallengePayload
}

fn default_advert() -> Advert {
    Advert::Always
}

fn default_tls_key() -> TlsKey {
    TlsKey::Es256
}

/// [`Step::NewAccount`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccountStep {
    /// What is asked of the server.
    pub case: NewAccountCase,
    /// The requirement a wrong answer is filed under.
    pub req: String,
}

/// What a [`Step::NewAccount`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NewAccountCase {
    /// A new key: 201 and a Location; the same key again: 200 and the same Location (RFC 8555
    /// §7.3, §7.3.1).
    Created,
    /// `onlyReturnExisting`: the scenario's account key gets 200 and its Location, a key the
    /// server never saw gets `accountDoesNotExist` (RFC 8555 §7.3.1).
    OnlyReturnExisting,
    /// With `meta.termsOfService` in the directory, a newAccount without
    /// `termsOfServiceAgreed: true` is refused (RFC 8555 §7.3, §7.3.3).
    TermsNotAgreed,
    /// A `jwk` that is no P-256 point (its `y` changed), the request signed by the real key:
    /// `badPublicKey` (RFC 8555 §6.2, §6.7).
    BadPublicKey,
}

/// [`Step::KeyChange`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyChangeStep {
    /// The one thing wrong with the request (`none`: a good rollover).
    #[serde(default)]
    pub fault: KeyChangeFault,
    /// The requirement a wrong answer is filed under.
    pub req: String,
}

/// The fault of a [`Step::KeyChange`] request (RFC 8555 §7.3.5's checks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyChangeFault {
    /// A good rollover: it works, the old key no longer does, the new one does.
    #[default]
    None,
    /// "The inner JWS MUST omit the "nonce" header parameter": the inner JWS carries one.
    InnerNonce,
    /// "Check that the "url" parameters of the inner and outer JWSs are the same": they differ.
    UrlMismatch,
    /// "Check that the "oldKey" field of the keyChange object is the same as the account key":
    /// another key.
    OldKeyMismatch,
}

/// [`Step::Revoke`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeStep {
    /// Who signs the request.
    pub by: RevokeBy,
    /// The `reason` member (RFC 5280 §5.3.1 code); none leaves it out.
    pub reason: Option<u8>,
    /// The problem type(s) the server must answer, `|`-separated; none when it must revoke.
    pub error: Option<String>,
    /// The requirement a wrong answer is filed under.
    pub req: String,
}

/// The signer of a [`Step::Revoke`] request (RFC 8555 §7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevokeBy {
    /// The account that holds the certificate (`kid`).
    Account,
    /// The certificate's own key (`jwk`).
    CertificateKey,
    /// Another account that first proves every identifier of the certificate (`kid`).
    AuthorizedAccount,
}
