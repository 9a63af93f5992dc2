//! Runs one scenario against the reference implementations: a fresh world, the steps in order,
//! findings from the protocol checkers (on the CA's challenge mail) and from every expectation
//! that does not hold.

use std::time::{Duration, Instant};

use acmeproof_mocks::account_key::{AccountKey, KeyAlg};
use acmeproof_mocks::ca::pki::TrustAnchors;
use acmeproof_mocks::dkim::DkimVerifier;
use acmeproof_mocks::dns::WorldResolver;
use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::{World, WorldConfig};
use acmeproof_protocol::objects as objects_rules;
use acmeproof_protocol::problem::short_type;
use acmeproof_protocol::requirements;
use acmeproof_protocol::smime::dkim::SignatureResult;
use acmeproof_protocol::smime::{
    ChallengeContext, ExpectedDigest, ResponseBody, ResponseContext, check_challenge,
    check_response,
};
use acmeproof_protocol::{Finding, Findings, Level};
use serde_json::Value;

use super::model::*;
use super::{LoadedScenario, StepLog, StepStatus};
use crate::acme::AcmeClient;
use crate::acme::client::NO_PROBLEM_DOCUMENT;
use crate::acme::email::{self, Exchange, Ordered, ReplyStyle};
use crate::acme::flow::FlowError;
use crate::acme::probe::{Fault, probe};
use crate::mua::{self, MailAccount, MailboxWait, MuaOptions, PostTiming, mailbox::Mailbox};
use crate::sut::Sut;
use acmeproof_protocol::pki::SmimeUsage;

mod account;
mod alpn;
mod external;
mod objects;
mod renewal;
mod server_wire;
mod tls;

/// The bound on anything a step awaits.
const WAIT: Duration = Duration::from_secs(20);

/// How long a server under test has to send the challenge mail after the order before the
/// harness POSTs the challenge anyway: RFC 8823 §3 leaves it to the CA when the mail goes out,
/// and a CA that sends it only on the challenge POST is waiting for that POST. (Never against
/// the reference CA, whose scenarios say when it mails.)
const MAIL_BEFORE_POST: Duration = Duration::from_secs(10);

/// What one run of a scenario produced.
#[derive(Debug, Default)]
pub struct ScenarioRun {
    /// Every finding, in order.
    pub findings: Findings,
    /// For each finding of [`ScenarioRun::findings`] at the same index, the step during which
    /// it was made (`None` for a judgement made after the steps, such as the client judge's).
    pub finding_steps: Vec<Option<usize>>,
    /// What each step did.
    pub steps: Vec<StepLog>,
    /// Set when the harness itself broke (the world did not start, a step could not run).
    pub error: Option<String>,
    /// The wire, in order.
    pub transcript: Vec<acmeproof_reports::TranscriptEntry>,
    /// How long it took.
    pub duration: Duration,
    /// An outcome decided without judging, with its reason: `skipped` (the scenario cannot run
    /// against this system) or `unimplemented` (the system says it lacks the feature).
    pub verdict: Option<(acmeproof_reports::Outcome, String)>,
    /// Set when the system under test broke without breaking a rule (a client's crash,
    /// timeout, non-zero exit): the scenario fails, under no requirement id.
    pub sut_error: Option<String>,
}

/// Runs `scenario` with `seed` against the reference implementations.
pub async fn run(scenario: &LoadedScenario, seed: u64) -> ScenarioRun {
    run_with(scenario, seed, &Sut::Reference).await
}

/// Why `scenario` cannot run against `sut`, if it cannot.
pub fn unsuitable(scenario: &LoadedScenario, sut: &Sut) -> Option<String> {
    match sut {
        Sut::Reference => None,
        Sut::Client(cmd) => {
            if scenario.file.role == Role::Server {
                return Some("it judges the CA only".into());
            }
            let steps = &scenario.file.steps;
            steps.iter().enumerate().find_map(|(index, step)| {
                match step {
                    // The template says what kind of client it runs.
                    Step::Issue(_) if !cmd.uses("email") => {
                        Some("it needs an RFC 8823 client, and the command takes no {email}".into())
                    }
                    Step::Issue(s) if s.expect == IssueExpect::Flagged => Some(
                        "it checks that the MUA flags a challenge mail breaking a SHOULD, which \
                         an external client has no way to report"
                            .into(),
                    ),
                    // A challenge mail broken on purpose is judged by whether a reply reaches
                    // the CA; whether a client flags a SHOULD it cannot tell us (above).
                    Step::Issue(s)
                        if matches!(s.expect, IssueExpect::Issued | IssueExpect::Ignored) =>
                    {
                        if let Some(variant) = crate::sut::asks::reference_variant(s) {
                            return Some(format!(
                                "it sets the reference MUA's {variant}: an external client has \
                             its own"
                            ));
                        }
                        // What the scenario needs of the client must reach it, or nothing of it
                        // would be exercised.
                        let knobs =
                            crate::sut::asks::knobs_at(&scenario.world.ca.knobs, steps, index);
                        crate::sut::asks::asks(s, &knobs)
                            .into_iter()
                            .find(|a| !a.default && !cmd.uses(a.placeholder))
                            .map(|a| {
                                format!(
                                    "it needs the client to {}, and the command takes no \
                                 {{{}}}",
                                    a.what, a.placeholder
                                )
                            })
                    }
                    Step::IssueTls(_) if !cmd.uses("services") => Some(
                        "it needs a draft-ietf-acme-email-tls client, and the command takes no \
                     {services}"
                            .into(),
                    ),
                    Step::IssueTls(s) if s.expect == Expect::Issued => {
                        external::tls_variant_fields(s).map(|f| {
                            format!(
                                "it sets the reference operator's {f}: its own client is the \
                             variant"
                            )
                        })
                    }
                    Step::SetKnobs(_) | Step::AdvanceClock(_) => None,
                    other => Some(format!(
                        "its step {:?} drives the reference client by hand",
                        other.action()
                    )),
                }
            })
        }
        Sut::Server(_) => {
            if scenario.file.role == Role::Client {
                return Some("it judges the client only".into());
            }
            if let Some(why) = &scenario.file.policy {
                return Some(format!("it checks a choice of the built-in CA: {why}"));
            }
            if !scenario.file.world.is_empty() {
                let keys: Vec<&str> = scenario.file.world.keys().map(String::as_str).collect();
                return Some(format!(
                    "it needs its own world ([world] sets {}), and the server under test uses \
                     one shared world",
                    keys.join(", ")
                ));
            }
            scenario.file.steps.iter().find_map(|step| match step {
                Step::SetKnobs(_) => Some("it sets the built-in CA's knobs".into()),
                Step::IssueDns(s) if s.proof == NameProof::TlsAlpn01 => Some(
                    "it points the built-in CA's tls-alpn-01 port at the harness's responder"
                        .into(),
                ),
                Step::AdvanceClock(_) => Some("it moves the built-in CA's clock".into()),
                _ => None,
            })
        }
    }
}

/// Whether `scenario` needs draft-ietf-acme-email-tls from the server.
fn uses_email_tls(scenario: &LoadedScenario) -> bool {
    scenario
        .file
        .steps
        .iter()
        .any(|step| matches!(step, Step::IssueTls(_)))
}

/// Whether `scenario` needs RFC 8823 from the server.
fn uses_email(scenario: &LoadedScenario) -> bool {
    scenario.file.steps.iter().any(|step| match step {
        Step::Issue(_) | Step::Order(_) | Step::ReadChallenge(_) | Step::Reply(_) => true,
        Step::NewOrder(s) => s.kind == "email",
        _ => false,
    })
}

/// A fault of the scenario's own world (a server under test shares one world, and is never
/// given a scenario with a world of its own) that its steps never set off, so that the scenario
/// exercised nothing of it: a relay that reorders, where no message overtook a held one, or
/// one that mangles, where no message took every mangle.
async fn unexercised_faults(world: &World) -> Option<String> {
    let relays = world.mail.as_ref().map(|mail| mail.relays.as_slice())?;
    for (_, _, sink) in relays
        .iter()
        .filter(|(_, _, sink)| sink.behaviour().reorder && sink.overtaken() == 0)
    {
        // A held message is counted as overtaken when it leaves the hold, which can be after
        // the next hop (and the CA) took the message that overtook it. Every hold ends by
        // itself within reorder_hold_ms. A relay already seen overtaking needs no wait (a last
        // message held with nothing behind it would keep the scenario for the whole bound).
        let bound = Duration::from_millis(sink.behaviour().reorder_hold_ms) + WAIT;
        sink.wait_until_nothing_held(bound).await;
    }
    relays.iter().find_map(|(host, _, sink)| {
        let behaviour = sink.behaviour();
        if behaviour.reorder && sink.overtaken() == 0 {
            Some(format!(
                "the relay {host} reorders, but no message overtook one it held: the steps never \
                 put two messages through it at once, so nothing of reordering was exercised"
            ))
        } else if !behaviour.mangle.is_empty() && sink.mangled() == 0 {
            Some(format!(
                "the relay {host} mangles mail, but no message it passed on took every mangle \
                 (see the log's \"mangle skipped\"), so the scenario tested unmangled mail"
            ))
        } else {
            None
        }
    })
}

/// Runs `scenario` with `seed` against `sut`.
pub async fn run_with(scenario: &LoadedScenario, seed: u64, sut: &Sut) -> ScenarioRun {
    let started = Instant::now();
    let mut out = ScenarioRun::default();
    if let Some(why) = unsuitable(scenario, sut) {
        out.verdict = Some((acmeproof_reports::Outcome::Skipped, why));
        return out;
    }
    if let Sut::Server(target) = sut {
        let missing = if let (Err(why), true) = (&target.email, uses_email(scenario)) {
            Some(format!("the server does not do RFC 8823: {why}"))
        } else if let (Err(why), true) = (&target.email_tls, uses_email_tls(scenario)) {
            Some(format!(
                "the server does not do draft-ietf-acme-email-tls: {why}"
            ))
        } else {
            None
        };
        if let Some(why) = missing {
            out.verdict = Some((acmeproof_reports::Outcome::Unimplemented, why));
            return out;
        }
    }
    let mut owned = None;
    let world: &World = match sut {
        Sut::Server(target) => &target.world,
        _ => {
            let mut config: WorldConfig = scenario.world.clone();
            config.seed = seed;
            match World::start(config).await {
                Ok(world) => &*owned.insert(world),
                Err(e) => {
                    out.error = Some(format!("the world did not start: {e}"));
                    out.duration = started.elapsed();
                    return out;
                }
            }
        }
    };
    // A shared world: the scenario gets mailboxes of its own, named in its steps in place of
    // the world's users.
    let mut mailboxes = super::mailboxes::ScenarioMailboxes::default();
    let prepared;
    let scenario = match sut {
        Sut::Server(_) => match super::mailboxes::prepare(world, scenario, Seed(seed)) {
            Ok((own, boxes)) => {
                mailboxes = boxes;
                prepared = own;
                &prepared
            }
            Err(e) => {
                out.error = Some(e);
                out.duration = started.elapsed();
                return out;
            }
        },
        _ => scenario,
    };
    let mut ctx = Context {
        world,
        mailboxes,
        seed: Seed(seed),
        client: None,
        ordered: None,
        exchange: None,
        user: None,
        findings: Findings::new(),
        sut,
        scenario_id: &scenario.file.id,
        process: Vec::new(),
        mail_notes: Vec::new(),
        objects: objects::ObjectJudge::default(),
        posted_without_mail: false,
        issued: None,
    };
    let mut halted = false;
    for (index, step) in scenario.file.steps.iter().enumerate() {
        let step_started = Instant::now();
        let result = ctx.step(step).await;
        ctx.judge_objects();
        let made = (ctx.findings.as_slice().len()).saturating_sub(out.finding_steps.len());
        out.finding_steps
            .extend(std::iter::repeat_n(Some(index), made));
        let (status, detail) = match result {
            Ok(()) => (StepStatus::Ok, None),
            Err(StepError::Expectation(detail)) => (StepStatus::Failed, Some(detail)),
            Err(StepError::Halt(detail)) => {
                halted = true;
                (StepStatus::Failed, Some(detail))
            }
            Err(StepError::Unimplemented(detail)) => {
                out.verdict = Some((acmeproof_reports::Outcome::Unimplemented, detail.clone()));
                (StepStatus::Failed, Some(detail))
            }
            Err(StepError::Harness(detail)) => {
                out.error = Some(format!("step {} ({}): {detail}", index + 1, step.action()));
                (StepStatus::Failed, Some(detail))
            }
            Err(StepError::Sut(detail)) => {
                out.sut_error = Some(detail.clone());
                (StepStatus::Failed, Some(detail))
            }
            Err(StepError::Broke(finding)) => {
                let detail = format!(
                    "{}: expected {}; observed {}",
                    finding.req, finding.expected, finding.observed
                );
                ctx.findings.push(finding);
                out.finding_steps.push(Some(index));
                halted = true;
                (StepStatus::Failed, Some(detail))
            }
        };
        out.steps.push(StepLog {
            index,
            action: step.action().to_owned(),
            status,
            detail,
            duration: step_started.elapsed(),
        });
        if halted || out.error.is_some() || out.verdict.is_some() || out.sut_error.is_some() {
            for (later, step) in scenario.file.steps.iter().enumerate().skip(index + 1) {
                out.steps.push(StepLog {
                    index: later,
                    action: step.action().to_owned(),
                    status: StepStatus::NotRun,
                    detail: None,
                    duration: Duration::ZERO,
                });
            }
            break;
        }
    }
    // A scenario that stands as anything but a failure must have set off the faults its world
    // was built for; a failure already names what the implementation did instead (an external
    // client that never ordered left the relays idle, and that is its failure, not ours).
    let completed = !halted && out.error.is_none() && out.verdict.is_none();
    let fails = out.sut_error.is_some()
        || ctx
            .findings
            .as_slice()
            .iter()
            .any(|f| f.level == Level::Must);
    if completed
        && !fails
        && !matches!(sut, Sut::Server(_))
        && let Some(why) = unexercised_faults(world).await
    {
        out.error = Some(why);
    }
    out.findings = std::mem::take(&mut ctx.findings);
    // A shared world's transcript mixes every scenario's traffic: the scenario's own is what
    // its client and mailbox saw.
    out.transcript = match sut {
        Sut::Server(_) => ctx.server_transcript(),
        _ => super::transcript::collect(world),
    };
    let last_ms = out.transcript.last().map(|e| e.at_ms).unwrap_or_default();
    for mut entry in std::mem::take(&mut ctx.process) {
        entry.seq = out.transcript.len() as u64;
        entry.at_ms = last_ms;
        out.transcript.push(entry);
    }
    if let Some(world) = owned {
        world.shutdown().await;
    }
    out.duration = started.elapsed();
    out
}

/// Why a step stopped.
enum StepError {
    /// The system under test did not do what the scenario expects (already a finding).
    Expectation(String),
    /// As [`StepError::Expectation`], and the later steps need what this one did not get (a
    /// challenge mail to answer): they are not run, so the verdict rests on the findings, not
    /// on a harness error of a step that had nothing to work on.
    Halt(String),
    /// The harness could not go on.
    Harness(String),
    /// The system under test says it does not implement what the step needs.
    Unimplemented(String),
    /// The system under test broke without breaking a rule: a client that crashed, timed out,
    /// exited non-zero or could not log in. No requirement id: its own words say what.
    Sut(String),
    /// The server broke a rule that stops the step whatever it was for: this finding, and the
    /// later steps are not run.
    Broke(Finding),
}

/// A badNonce that reached a step: the client already retried once with the nonce of the
/// badNonce answer (RFC 8555 §6.5, ACME-5), so the server refused the fresh nonce it had just
/// handed out, or handed out none. RFC 8555 §6.5: the badNonce answer "MUST include a
/// Replay-Nonce header field with a fresh nonce that the server will accept in a retry of the
/// original query".
fn refused_own_nonce(e: &crate::acme::AcmeError) -> Option<StepError> {
    (e.problem_kind() == Some("badNonce")).then(|| {
        StepError::Broke(expectation(
            requirements::ACME_4,
            "the retry with the badNonce answer's fresh Replay-Nonce accepted",
            format!("refused again: {e}"),
        ))
    })
}

impl From<FlowError> for StepError {
    fn from(e: FlowError) -> Self {
        match &e {
            FlowError::Acme(acme) => {
                refused_own_nonce(acme).unwrap_or_else(|| StepError::Harness(e.to_string()))
            }
            _ => StepError::Harness(e.to_string()),
        }
    }
}

impl From<crate::acme::AcmeError> for StepError {
    fn from(e: crate::acme::AcmeError) -> Self {
        refused_own_nonce(&e).unwrap_or_else(|| StepError::Harness(e.to_string()))
    }
}

struct Context<'w> {
    world: &'w World,
    /// In a shared world, the scenario's own mailbox for each world user.
    mailboxes: super::mailboxes::ScenarioMailboxes,
    seed: Seed,
    client: Option<AcmeClient>,
    ordered: Option<Ordered>,
    exchange: Option<Exchange>,
    user: Option<(String, String)>,
    findings: Findings,
    sut: &'w Sut,
    scenario_id: &'w str,
    /// What external programs printed, for the transcript.
    process: Vec<acmeproof_reports::TranscriptEntry>,
    /// In a server run, the mail this scenario saw and sent, for its transcript.
    mail_notes: Vec<server_wire::MailNote>,
    /// The RFC 8555 objects the client was shown, judged after every step.
    objects: objects::ObjectJudge,
    /// The challenge was POSTed before its mail came (the server mails on the POST): a later
    /// `post` step has nothing left to do.
    posted_without_mail: bool,
    /// The last `issue-dns` certificate, for a `revoke` step.
    issued: Option<account::IssuedCert>,
}

/// A finding for an expectation of the scenario. A requirement the catalogue calls descriptive
/// (no keyword) is what the scenario derives a MUST from, so it counts as one.
fn expectation(req: &str, expected: impl Into<String>, observed: impl Into<String>) -> Finding {
    let (id, level) = match requirements::lookup(req) {
        Some(r) if r.level == Level::Info => (r.id, Level::Must),
        Some(r) => (r.id, r.level),
        None => (requirements::SMIME_16, Level::Must),
    };
    Finding {
        req: id,
        level,
        expected: expected.into(),
        observed: observed.into(),
    }
}

impl Context<'_> {
    /// Holds every order, authorization, challenge and certificate the client was shown during
    /// the last step to RFC 8555's rules (see [`objects`]).
    fn judge_objects(&mut self) {
        let Some(client) = self.client.as_ref() else {
            return;
        };
        let (observed, dropped) = client.take_observed();
        let new_order = client.directory().new_order.clone();
        let findings = self.objects.judge(&new_order, observed, dropped);
        self.findings.extend(findings);
    }

    /// Judges the objects of the step so far and says whether that found the certificate
    /// broken at MUST level: a step whose own check refused the certificate leaves the defect
    /// to the judge's finding under its own rule when there is one, instead of a second
    /// finding under the scenario's id (one finding per defect).
    fn judged_now(&mut self) -> bool {
        const CERTIFICATE_RULES: [&str; 4] = [
            requirements::ACME_23,
            requirements::ACME_45,
            requirements::SMIME_57,
            requirements::MAIL_9,
        ];
        let before = self.findings.as_slice().len();
        self.judge_objects();
        self.findings.as_slice()[before..]
            .iter()
            .any(|f| f.level == Level::Must && CERTIFICATE_RULES.contains(&f.req))
    }

    /// An authorization the scenario expects refused with an error type or detail, whose
    /// invalid challenge has no `error`: the defect is ACME-25's (RFC 8555 §8.2), found by the
    /// object judge (here, should the judge not have seen the object).
    fn invalid_without_error(&mut self) -> StepError {
        self.judge_objects();
        if !self
            .findings
            .as_slice()
            .iter()
            .any(|f| f.req == requirements::ACME_25)
        {
            self.findings.push(expectation(
                requirements::ACME_25,
                "an invalid challenge has an `error` (§8.2)",
                "no error",
            ));
        }
        StepError::Expectation("the invalid challenge carries no error to compare (ACME-25)".into())
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepError> {
        match step {
            Step::Issue(s) => self.issue(s).await,
            Step::Order(s) => self.order(s).await,
            Step::ReadChallenge(s) => self.read_challenge(s).await,
            Step::Reply(s) => self.reply(s).await,
            Step::Post(_) if self.posted_without_mail => Ok(()),
            Step::Post(_) => {
                let url = self.challenge_url()?;
                self.client()?.respond(&url).await?;
                Ok(())
            }
            Step::NewOrder(s) => self.new_order(s).await,
            Step::IssueDns(s) => {
                let world = self.world;
                let client = self.account("account").await?;
                let names: Vec<&str> = s.names.iter().map(String::as_str).collect();
                let issued = match s.proof {
                    NameProof::Dns01 => {
                        crate::acme::flow::issue_dns01(client, &world.dns, &names, WAIT).await
                    }
                    NameProof::TlsAlpn01 => alpn::issue(world, client, &names).await,
                };
                match issued {
                    Ok(issued) => {
                        self.issued = Some(account::IssuedCert {
                            issued,
                            names: s.names.clone(),
                        });
                        Ok(())
                    }
                    Err(e) => account::issuance_failed(self, &s.req, e),
                }
            }
            Step::DeactivateAccount(_) => {
                let client = self.account("account").await?;
                let url = client
                    .account_url()
                    .ok_or_else(|| StepError::Harness("no account URL".into()))?;
                client
                    .post(&url, Some(&serde_json::json!({"status": "deactivated"})))
                    .await?;
                Ok(())
            }
            Step::Directory(s) => self.directory(s).await,
            Step::NewAccount(s) => self.new_account(s).await,
            Step::UpdateContact(s) => self.update_contact(s).await,
            Step::KeyChange(s) => self.key_change(s).await,
            Step::Revoke(s) => self.revoke(s).await,
            Step::OrdersList(s) => self.orders_list(s).await,
            Step::RenewalInfo(s) => self.renewal_info(s).await,
            Step::Replace(s) => self.replace(s).await,
            Step::IssueTls(s) => self.issue_tls(s).await,
            Step::ExpectAuthorization(s) => self.expect_authorization(s).await,
            Step::Finalize(s) => self.finalize(s).await,
            Step::AdvanceClock(s) => {
                self.world.clock.advance(time::Duration::seconds(s.seconds));
                Ok(())
            }
            Step::Probe(s) => self.probe(s).await,
            Step::SetKnobs(s) => {
                let patch = serde_json::to_value(&s.knobs)
                    .map_err(|e| StepError::Harness(format!("knobs: {e}")))?;
                let shared = self.world.ca.shared();
                let knobs = shared
                    .knobs()
                    .merged(&patch)
                    .map_err(|e| StepError::Harness(format!("knobs: {e}")))?;
                shared.set_knobs(knobs);
                Ok(())
            }
        }
    }

    /// The ACME server the steps talk to: its directory URL and the roots of its HTTPS.
    fn acme_server(&self) -> (String, String) {
        match self.sut {
            Sut::Server(target) => (target.directory_url.clone(), target.root_pem.clone()),
            _ => (
                self.world.ca.directory_url(),
                self.world.pki.root_pem().to_owned(),
            ),
        }
    }

    /// What an issued chain is checked up to: the world's root for the reference CA; for a
    /// server under test its `--server-root` roots, else the chain's own top.
    fn trust_anchors(&self) -> TrustAnchors<'_> {
        match self.sut {
            Sut::Server(target) if target.issuing_roots.is_empty() => TrustAnchors::OwnTop,
            Sut::Server(target) => TrustAnchors::Roots(&target.issuing_roots),
            _ => TrustAnchors::Root(self.world.pki.root_der()),
        }
    }

    /// A refusal a server under test may make by policy, as `unimplemented` with its own
    /// words: RFC 8555 §7.4 lets a CA decline an identifier ("rejectedIdentifier: The server
    /// will not issue certificates for the identifier"), or a type of identifier
    /// (unsupportedIdentifier), so declining, say, EAI addresses is its choice, not a MUST
    /// broken. `None` for the reference CA, whose refusals the scenarios expect or not.
    fn policy_refusal(&self, e: &FlowError) -> Option<StepError> {
        let Sut::Server(_) = self.sut else {
            return None;
        };
        match e {
            FlowError::Acme(crate::acme::AcmeError::Problem { kind, detail, .. })
                if kind == "rejectedIdentifier" || kind == "unsupportedIdentifier" =>
            {
                Some(StepError::Unimplemented(format!(
                    "the server will not issue for this identifier ({kind}: {detail}), a policy \
                     RFC 8555 §7.4 allows"
                )))
            }
            _ => None,
        }
    }

    /// Whether the MUA answers a challenge mail that breaks a MUST (recording each defect):
    /// a server under test, unless the run asked for a strict MUA.
    fn lenient_mua(&self) -> bool {
        matches!(self.sut, Sut::Server(target) if !target.strict_mua)
    }

    /// A finalize a server under test refused for the CSR's key type, when the scenario asked
    /// for a key other than the default ES256 (P-256): as `unimplemented` with its own words.
    /// RFC 8555 §6.7: "badCSR: The CSR is unacceptable (e.g., due to a short key)"; which keys
    /// a CA certifies is its policy, not a MUST. (A refused P-256 key, which every CA of the
    /// WebPKI takes, is judged as the scenario says.)
    fn key_refusal(&self, e: &FlowError, key: &str) -> Option<StepError> {
        let Sut::Server(_) = self.sut else {
            return None;
        };
        match e {
            FlowError::Acme(crate::acme::AcmeError::Problem { kind, detail, .. })
                if key != "es256" && (kind == "badCSR" || kind == "badPublicKey") =>
            {
                Some(StepError::Unimplemented(format!(
                    "the server will not certify a {key} key ({kind}: {detail}), a policy RFC \
                     8555 §6.7 allows"
                )))
            }
            _ => None,
        }
    }

    fn client(&self) -> Result<&AcmeClient, StepError> {
        self.client
            .as_ref()
            .ok_or_else(|| StepError::Harness("no account yet: order first".into()))
    }

    /// The authorization URL: of the challenge read, else of the order.
    fn authz_url(&self) -> Result<String, StepError> {
        match (&self.exchange, &self.ordered) {
            (Some(e), _) => Ok(e.authz_url.clone()),
            (None, Some(o)) => Ok(o.authz_url.clone()),
            _ => Err(StepError::Harness("no order yet: order first".into())),
        }
    }

    /// The challenge URL: of the challenge read, else of the order.
    fn challenge_url(&self) -> Result<String, StepError> {
        match (&self.exchange, &self.ordered) {
            (Some(e), _) => Ok(e.challenge_url().to_owned()),
            (None, Some(o)) => Ok(o.challenge_url().to_owned()),
            _ => Err(StepError::Harness("no order yet: order first".into())),
        }
    }

    fn exchange(&self) -> Result<&Exchange, StepError> {
        self.exchange
            .as_ref()
            .ok_or_else(|| StepError::Harness("no challenge read yet: read-challenge first".into()))
    }

    /// `alice`, `eai`, or a full address: the world user and their password.
    fn user(&self, name: &str) -> Result<(String, String), StepError> {
        let users = &self
            .world
            .mail
            .as_ref()
            .ok_or_else(|| StepError::Harness("the world has no mail plane".into()))?
            .users;
        let found = users.iter().find(|u| match name {
            "alice" => u.address.starts_with("alice@"),
            "eai" => !u.address.is_ascii(),
            other => {
                u.address == other || self.mailboxes.get(&u.address).is_some_and(|b| b.0 == other)
            }
        });
        let found =
            found.ok_or_else(|| StepError::Harness(format!("no user {name} in the world")))?;
        Ok(match self.mailboxes.get(&found.address) {
            Some(own) => own.clone(),
            None => (found.address.clone(), found.password.clone()),
        })
    }

    async fn account(&mut self, label: &str) -> Result<&AcmeClient, StepError> {
        if self.client.is_none() {
            let key = AccountKey::generate(KeyAlg::Es256, &self.seed.stream(label))
                .map_err(|e| StepError::Harness(format!("key: {e}")))?;
            let (directory_url, root_pem) = self.acme_server();
            let timeout = match self.sut {
                Sut::Server(target) => target.request_timeout,
                _ => crate::acme::client::REQUEST_TIMEOUT,
            };
            let client =
                AcmeClient::connect_bounded(&directory_url, &root_pem, key, timeout).await?;
            if !matches!(self.sut, Sut::Server(_)) {
                client.wait_in_world_time(self.world.clock.clone());
            }
            client.record();
            // A server under test gets the contact it was configured with (RFC 8555 §7.3:
            // many CAs require one); the reference CA's scenarios set theirs in their steps.
            let contact = match self.sut {
                Sut::Server(target) => target.contact.clone(),
                _ => Vec::new(),
            };
            client.new_account(&contact).await?;
            self.client = Some(client);
        }
        self.client()
    }

    fn mua_options(&self, v: &MuaVariant) -> Result<MuaOptions, StepError> {
        let mut o = MuaOptions {
            timeout: WAIT,
            seed: self.seed,
            ..MuaOptions::default()
        };
        if let Some(join) = v.join {
            o.join = join;
        }
        if let Some(body) = v.body {
            o.body = match body {
                ReplyBody::TextPlain => ResponseBody::TextPlain,
                ReplyBody::MultipartAlternative => ResponseBody::MultipartAlternative,
            };
        }
        o.wrap = v.wrap;
        match v.post {
            Some(PostWhen::AfterReply) => o.post = PostTiming::AfterReply,
            Some(PostWhen::BeforeReply) => o.post = PostTiming::BeforeReply,
            None => {
                if let Sut::Server(_) = self.sut {
                    o.post_without_mail = Some(MAIL_BEFORE_POST);
                }
            }
        }
        if let Some(usage) = v.usage {
            o.usage = usage_of(usage);
        }
        o.read_only = v.proof == Some(acmeproof_mocks::ca::knobs::Proof::ReadOnly);
        if let Some(wait) = v.wait {
            o.wait = match wait {
                MailWait::Idle => MailboxWait::Idle,
                MailWait::Poll => MailboxWait::Poll(Duration::from_millis(50)),
            };
        }
        Ok(o)
    }

    async fn issue(&mut self, s: &IssueStep) -> Result<(), StepError> {
        if let Sut::Client(cmd) = self.sut {
            return self.issue_external(s, cmd).await;
        }
        let (address, password) = self.user(&s.user)?;
        let mut options = self.mua_options(&s.mua)?;
        // Lookalike mail in the mailbox is there to be ignored: only a strict MUA tells; and so
        // is a challenge mail broken on purpose.
        options.lenient =
            self.lenient_mua() && s.inject.is_empty() && s.expect != IssueExpect::Ignored;
        let mut account = MailAccount::in_world(self.world, &address, &password)?;
        match (s.mua.imap_tls, &self.world.mail) {
            (None | Some(ImapTls::Starttls), _) => {}
            (Some(ImapTls::Implicit), Some(mail)) => {
                account = account.with_imaps(mail.imaps.addr())
            }
            (Some(ImapTls::Implicit), None) => {
                return Err(StepError::Harness(
                    "mua.imap_tls: the world has no mail plane".into(),
                ));
            }
        }
        self.account("account").await?;
        let mut mailbox = Mailbox::open(&account, WAIT).await?;
        for kind in &s.inject {
            self.inject(*kind, &address)?;
        }
        // The CA's challenge mail comes after this mark: one the MUA must ignore is the
        // verdict, not a reason to wait out the timeout (RFC 8823 §3: one mail per challenge).
        options.challenge_from_uid = Some(email::inbox_mark(self.world, &address));
        let client = self.client()?;
        let result = mua::issue_in(
            &mut mailbox,
            client,
            &account,
            &options,
            self.trust_anchors(),
        )
        .await;
        mailbox.close().await;
        if let Err(e) = &result
            && let Some(stop) = self.broken_flow(e)
        {
            return Err(stop);
        }
        let req = s.req.as_deref().unwrap_or(requirements::SMIME_10);
        match (s.expect, result) {
            // A challenge mail broken on purpose (a CA knob) under `req`: the MUA must not
            // answer it (RFC 8823 §3.1, SMIME-35).
            (IssueExpect::Ignored, Err(FlowError::Ignored { raw, reason })) => {
                self.broken_on_purpose(&raw, &reason, &address, req, Level::Must)
                    .await
            }
            (IssueExpect::Ignored, Ok(outcome)) => {
                self.note_challenge_mail(&address, &outcome.exchange.challenge_mail);
                self.fail(expectation(
                    req,
                    format!("the MUA ignores a challenge mail that breaks {req} (SMIME-35)"),
                    "it answered it, and a certificate was issued",
                ))
            }
            (IssueExpect::Ignored, Err(e)) => self.fail(expectation(
                req,
                format!("the CA's challenge mail, which breaks {req}, seen and ignored"),
                e.to_string(),
            )),
            // A challenge mail that breaks only a SHOULD (a CA knob): the MUA goes on, and the
            // checker it calls flags the mail under `req`.
            (IssueExpect::Flagged, Ok(outcome)) => {
                self.note_challenge_mail(&address, &outcome.exchange.challenge_mail);
                let raw = self.challenge_as_sent(&outcome.exchange);
                self.observe_reply(&outcome.exchange, &address).await;
                self.broken_on_purpose(&raw, "answered", &address, req, Level::Should)
                    .await
            }
            (IssueExpect::Flagged, Err(e)) => self.fail(expectation(
                req,
                format!("the MUA goes on with a challenge mail that breaks only the SHOULD {req}"),
                format!("no certificate: {e}"),
            )),
            (IssueExpect::Issued, Ok(outcome)) => {
                self.note_challenge_mail(&address, &outcome.exchange.challenge_mail);
                self.note_mail(
                    "the reply as submitted",
                    acmeproof_reports::Direction::ClientToServer,
                    &address,
                    &outcome.reply,
                );
                if outcome.posted_without_mail {
                    self.mailed_on_post();
                }
                self.observe_challenge(&outcome.exchange, &address).await;
                // A read-only proof sends no reply to observe.
                if !options.read_only {
                    self.observe_reply(&outcome.exchange, &address).await;
                }
                if let Some(want) = s.ignored
                    && outcome.ignored.len() != want
                {
                    let seen: Vec<&str> =
                        outcome.ignored.iter().map(|i| i.reason.as_str()).collect();
                    return self.fail(expectation(
                        req,
                        format!("{want} lookalike mail(s) ignored"),
                        format!("{} ignored: {seen:?}", outcome.ignored.len()),
                    ));
                }
                Ok(())
            }
            // The challenge mail came and an RFC 8823 MUA ignores it: its defects are the
            // finding, not the missing certificate.
            (_, Err(FlowError::Ignored { raw, reason })) => Err(self
                .ignored_challenge(&raw, &reason, None, address.clone(), req)
                .await),
            (IssueExpect::Issued, Err(FlowError::Certificate(e))) if self.judged_now() => Err(
                StepError::Expectation(format!("the certificate (judged as an object): {e}")),
            ),
            (IssueExpect::Issued, Err(e)) => match self.policy_refusal(&e) {
                Some(policy) => Err(policy),
                None => self.fail(expectation(
                    req,
                    "a certificate",
                    format!("no certificate: {e}"),
                )),
            },
            (IssueExpect::Refused, Ok(_)) => self.fail(expectation(
                req,
                format!(
                    "the CA refuses ({})",
                    s.error.as_deref().unwrap_or("any error")
                ),
                "a certificate was issued",
            )),
            (IssueExpect::Refused, Err(FlowError::Invalid(authz)))
                if s.error.is_some() && without_error(&authz) =>
            {
                Err(self.invalid_without_error())
            }
            (IssueExpect::Refused, Err(FlowError::Invalid(authz))) => {
                let got = error_type(&authz);
                match &s.error {
                    Some(want) if !one_of(want, &got) => self.fail(expectation(
                        req,
                        format!("error {want}"),
                        format!("error {got}: {}", authz["challenges"][0]["error"]),
                    )),
                    _ => Ok(()),
                }
            }
            (IssueExpect::Refused, Err(e)) => Err(StepError::Harness(e.to_string())),
        }
    }

    /// A challenge mail a scenario's CA knob broke under `req` on purpose: the protocol's
    /// checker (which the MUA calls) must name `req` at `level`. The mail's defects are the CA's,
    /// and the side judged is the MUA, so they are kept as INFO notes under their own ids.
    async fn broken_on_purpose(
        &mut self,
        raw: &[u8],
        reason: &str,
        address: &str,
        req: &str,
        level: Level,
    ) -> Result<(), StepError> {
        let defects = self
            .challenge_findings(raw, None, Some(address.to_owned()))
            .await;
        let named = defects
            .as_slice()
            .iter()
            .any(|f| f.req == req && f.level == level);
        for mut f in defects.as_slice().iter().cloned() {
            if f.level != Level::Info {
                f.observed = format!("{} (the CA broken on purpose)", f.observed);
                f.level = Level::Info;
            }
            self.findings.push(f);
        }
        if named {
            return Ok(());
        }
        let seen: Vec<String> = defects
            .as_slice()
            .iter()
            .map(|f| format!("{} {:?}", f.req, f.level))
            .collect();
        self.fail(expectation(
            req,
            format!("the challenge mail flagged under {req} at {level:?} level"),
            format!("the MUA {reason}; the checker names {seen:?}"),
        ))
    }

    /// An answer no ACME server may give, met in the middle of a flow, whatever the scenario
    /// tests: one clear line, never a finding under the scenario's id (it did not get to test
    /// its rule). A connection that failed or hung past the request bound, or a body that is
    /// not what RFC 8555 says (not JSON, no Location), ends the scenario as `error`; an error
    /// status without a problem document is ACME-30's (RFC 8555 §6.7: "the server MUST
    /// return an HTTP error response with a problem document" in Content-Type
    /// application/problem+json).
    fn broken_answer(&mut self, e: &crate::acme::AcmeError) -> Option<StepError> {
        use crate::acme::AcmeError;
        match e {
            AcmeError::Http(_) | AcmeError::Protocol(_) => Some(StepError::Harness(format!(
                "the server's answer cannot be used: {e}"
            ))),
            AcmeError::Problem { status, kind, .. } if kind == NO_PROBLEM_DOCUMENT => {
                self.findings.push(expectation(
                    requirements::ACME_30,
                    "an error answer with a problem document (application/problem+json)",
                    format!("{status} without one"),
                ));
                Some(StepError::Halt(format!(
                    "the server answered {status} without a problem document"
                )))
            }
            _ => None,
        }
    }

    /// [`Context::broken_answer`] for a flow's error; and a failure on the harness's own side
    /// (its IMAP reading, its Submission, its DNS changes, its CSR) is a harness error, under
    /// no requirement id: the server under test did nothing wrong there.
    fn broken_flow(&mut self, e: &FlowError) -> Option<StepError> {
        match e {
            FlowError::Acme(acme) => self.broken_answer(acme),
            FlowError::Imap(_) | FlowError::Smtp(_) | FlowError::Dns(_) | FlowError::Csr(_) => {
                Some(StepError::Harness(format!(
                    "the harness's own side failed: {e}"
                )))
            }
            _ => None,
        }
    }

    /// The policy note of a server that sent the challenge mail only after the challenge POST:
    /// RFC 8823 §3 leaves when to the CA, so it is no failure.
    fn mailed_on_post(&mut self) {
        self.findings.push(
            Finding::new(
                requirements::SMIME_7,
                "policy: when the challenge mail is sent is the CA's choice (RFC 8823 §3)",
                format!(
                    "none came within {MAIL_BEFORE_POST:?} of the order; it came after the \
                     challenge POST"
                ),
            )
            .at(Level::Info),
        );
    }

    fn fail(&mut self, finding: Finding) -> Result<(), StepError> {
        let detail = format!(
            "{}: expected {}; observed {}",
            finding.req, finding.expected, finding.observed
        );
        self.findings.push(finding);
        Err(StepError::Expectation(detail))
    }

    /// What the world's DNS says of `raw`'s DKIM signatures, for the protocol's DKIM rule.
    async fn dkim_results(&self, raw: &[u8]) -> Option<Vec<SignatureResult>> {
        let resolver = WorldResolver::new(self.world.dns.addr()).ok()?;
        Some(DkimVerifier::new(&resolver).check(raw).await)
    }

    /// The challenge mail as the CA sent it, before any relay: what the CA is judged on. The
    /// built-in CA keeps its copy; otherwise the copy delivered to the mailbox.
    fn challenge_as_sent(&self, exchange: &Exchange) -> Vec<u8> {
        let sent = match (self.sut, &exchange.info.token_part1) {
            (Sut::Server(_), _) | (_, None) => None,
            (_, Some(part1)) => {
                let ca = self.world.ca.shared();
                let store = ca.store();
                store
                    .email_by_token_part1
                    .get(part1)
                    .and_then(|id| store.email.get(id))
                    .and_then(|state| state.sent_mail.clone())
            }
        };
        sent.map(|m| m.to_vec())
            .unwrap_or_else(|| exchange.challenge_mail.clone())
    }

    /// The CA's challenge mail to `address`, checked by the protocol rules: its findings are
    /// the CA's. The To expected is the address ordered, not the mail's own (SMIME-23).
    async fn observe_challenge(&mut self, exchange: &Exchange, address: &str) {
        let raw = self.challenge_as_sent(exchange);
        let findings = self
            .challenge_findings(
                &raw,
                exchange.challenge["from"].as_str().map(str::to_owned),
                Some(address.to_owned()),
            )
            .await;
        self.findings.extend(findings);
    }

    /// A challenge mail an RFC 8823 MUA ignores: one finding per defect the protocol's checker
    /// names, each under its own id; the MUA's one-line reason under `req` only when the
    /// checker names no MUST (nothing else would say why the mail was ignored). The scenario
    /// stops there.
    async fn ignored_challenge(
        &mut self,
        raw: &[u8],
        reason: &str,
        from: Option<String>,
        address: String,
        req: &str,
    ) -> StepError {
        let defects = self.challenge_findings(raw, from, Some(address)).await;
        let named = defects.has_must();
        self.findings.extend(defects);
        if !named {
            self.findings.push(expectation(
                req,
                "a challenge mail an RFC 8823 MUA answers",
                format!("it ignores it: {reason}"),
            ));
        }
        StepError::Halt(format!(
            "an RFC 8823 MUA ignores the challenge mail: {reason}"
        ))
    }

    /// The protocol's challenge rules on `raw`, with the world's DKIM results: one finding per
    /// defect (a mail that does not parse is SMIME-16).
    async fn challenge_findings(
        &self,
        raw: &[u8],
        expected_from: Option<String>,
        expected_to: Option<String>,
    ) -> Findings {
        let context = ChallengeContext {
            expected_from,
            expected_to,
            case: Default::default(),
            dkim: self.dkim_results(raw).await,
        };
        match check_challenge(raw, &context) {
            Ok(report) => report.findings,
            Err(e) => {
                let mut out = Findings::new();
                out.push(expectation(
                    requirements::SMIME_16,
                    "a challenge mail that parses",
                    e.to_string(),
                ));
                out
            }
        }
    }

    /// The reply as the CA's MX got it (the last relay's copy: DKIM-signed by the MSA,
    /// changed by any relay on the way), checked by the protocol rules: its findings are the
    /// client's.
    async fn observe_reply(&mut self, exchange: &Exchange, address: &str) {
        let Some(mail) = &self.world.mail else {
            return;
        };
        let part1 = exchange.info.token_part1.clone().unwrap_or_default();
        let Some(last) = mail.relays.last() else {
            return;
        };
        let Some(copy) = last
            .2
            .wait_for_forwarded(
                |f| {
                    // This exchange's reply: from the address, carrying its token-part1.
                    f.envelope.mail_from == address
                        && String::from_utf8_lossy(&f.data).contains(part1.as_str())
                },
                WAIT,
            )
            .await
        else {
            self.findings.push(expectation(
                requirements::SMIME_37,
                "a reply reaching the CA's MX",
                "none passed the last relay",
            ));
            return;
        };
        let context = ResponseContext {
            identifier: Some(address.to_owned()),
            challenge: Some(exchange.info.clone()),
            expected: ExpectedDigest::Unknown,
            case: Default::default(),
            dkim: self.dkim_results(&copy.data).await,
        };
        match check_response(&copy.data, &context) {
            Ok(report) => self.findings.extend(report.findings),
            Err(e) => self.findings.push(expectation(
                requirements::SMIME_37,
                "a reply that parses",
                e.to_string(),
            )),
        }
    }

    fn inject(&self, kind: Lookalike, to: &str) -> Result<(), StepError> {
        let mail = self
            .world
            .mail
            .as_ref()
            .ok_or_else(|| StepError::Harness("no mail plane".into()))?;
        let ca_from = &self.world.ca.shared().config.challenge_from;
        let raw = super::lookalike::build(kind, ca_from, to, &self.seed.stream("forger"))
            .map_err(StepError::Harness)?;
        mail.store
            .deliver(to, &raw, self.world.clock.now())
            .map(|_| ())
            .map_err(|e| StepError::Harness(format!("inject: {e}")))
    }

    async fn order(&mut self, s: &UserStep) -> Result<(), StepError> {
        let (address, password) = self.user(&s.user)?;
        let mark = email::inbox_mark(self.world, &address);
        let client = self.account("account").await?;
        let ordered = email::order(client, &address).await;
        let mut ordered = match ordered {
            Ok(ordered) => ordered,
            Err(e) => {
                return Err(self
                    .policy_refusal(&e)
                    .or_else(|| self.broken_flow(&e))
                    .unwrap_or_else(|| e.into()));
            }
        };
        ordered.inbox_from_uid = mark;
        self.ordered = Some(ordered);
        self.user = Some((address, password));
        Ok(())
    }

    async fn read_challenge(&mut self, s: &UserStep) -> Result<(), StepError> {
        let (address, _) = self.user(&s.user)?;
        let ordered = self
            .ordered
            .clone()
            .ok_or_else(|| StepError::Harness("no order yet: order first".into()))?;
        let from = ordered.challenge_from().to_owned();
        let exchange = match self.sut {
            // A server under test may send the mail only on the challenge POST (RFC 8823 §3
            // leaves when to it): without a mail for a while, POST, then wait on.
            Sut::Server(_) => {
                let first = email::read_challenge_as(
                    self.world,
                    ordered.clone(),
                    &address,
                    MAIL_BEFORE_POST,
                    self.lenient_mua(),
                )
                .await;
                match first {
                    Err(FlowError::Unexpected(_)) => {
                        self.client()?.respond(ordered.challenge_url()).await?;
                        self.posted_without_mail = true;
                        let exchange = email::read_challenge_as(
                            self.world,
                            ordered,
                            &address,
                            WAIT,
                            self.lenient_mua(),
                        )
                        .await;
                        if exchange.is_ok() {
                            self.mailed_on_post();
                        }
                        exchange
                    }
                    other => other,
                }
            }
            _ => email::read_challenge(self.world, ordered, &address, WAIT).await,
        };
        match exchange {
            Ok(exchange) => {
                self.note_challenge_mail(&address, &exchange.challenge_mail);
                self.observe_challenge(&exchange, &address).await;
                self.exchange = Some(exchange);
                Ok(())
            }
            // One finding per defect the protocol's checker names, each under its own id; the
            // MUA's one-line reason only when the checker names no MUST (nothing else would
            // say why the mail was ignored).
            Err(FlowError::Ignored { raw, reason }) => {
                self.note_challenge_mail(&address, &raw);
                Err(self
                    .ignored_challenge(
                        &raw,
                        &reason,
                        Some(from),
                        address.clone(),
                        s.req.as_deref().unwrap_or(requirements::SMIME_7),
                    )
                    .await)
            }
            Err(e) => {
                let _ = self.fail(expectation(
                    s.req.as_deref().unwrap_or(requirements::SMIME_7),
                    "a challenge mail in the mailbox",
                    e.to_string(),
                ));
                Err(StepError::Halt(format!("no challenge mail to answer: {e}")))
            }
        }
    }

    async fn reply(&mut self, s: &ReplyStep) -> Result<(), StepError> {
        let (address, password) = self.user(&s.user)?;
        let options = self.mua_options(&s.mua)?;
        let exchange = self.exchange()?.clone();
        let client = self.client()?;
        let style = ReplyStyle {
            join: options.join,
            body: options.body,
            wrap: options.wrap,
        };
        let now = self.world.clock.now().unix_timestamp();
        let c = &s.change;
        let from = c.from.clone().unwrap_or(address.clone());
        let mut reply = email::response(client, &exchange, &from, &style, now)?;
        reply = super::rewrite::change_reply(reply, c).map_err(StepError::Harness)?;
        let to = exchange.info.reply_address().unwrap_or_default().to_owned();
        let envelope = email::envelope(&from, &to);
        if c.send.unwrap_or(SendVia::Submission) == SendVia::Submission {
            if c.dkim_key.is_some() || c.dkim_signed.is_some() || c.tamper.is_some() {
                return Err(StepError::Harness(
                    "change.dkim_key, dkim_signed and tamper need a send that signs here \
                     (direct, other-domain, sender-domain)"
                        .into(),
                ));
            }
            let password = if from == address {
                password
            } else {
                self.user(&from)?.1
            };
            self.note_mail(
                "the reply as submitted (the world's MSA signs it on its way)",
                acmeproof_reports::Direction::ClientToServer,
                &from,
                &reply,
            );
            let msa = self
                .world
                .mail
                .as_ref()
                .map(|mail| std::sync::Arc::clone(&mail.msa));
            let handed_on = msa.as_ref().map(|msa| msa.logged_count());
            MailAccount::in_world(self.world, &from, &password)?
                .submit(&envelope, &reply)
                .await?;
            // The step ends once the MSA has handed the reply to the next hop: replies sent in
            // two steps then meet the relays in the order the steps sent them (a relay that
            // reorders must see the first before the second to let the second overtake it).
            if let (Some(msa), Some(before)) = (msa, handed_on)
                && !msa.wait_for_logged_beyond(before, WAIT).await
            {
                return Err(StepError::Harness(format!(
                    "the world's MSA did not hand the reply on within {} s",
                    WAIT.as_secs()
                )));
            }
            return Ok(());
        }
        // Signed here and handed straight to the recipient domain's MX: the server under test
        // reads exactly these bytes (no MSA or relay re-signs or re-encodes them).
        let signer = super::deliver::signer(c, &from).map_err(StepError::Harness)?;
        let signed = super::deliver::sign(self.world, self.seed, &signer, c, &reply)
            .await
            .map_err(StepError::Harness)?;
        let sent = super::deliver::tamper(signed, c).map_err(StepError::Harness)?;
        self.note_mail(
            "the reply as sent straight to the recipient domain's MX",
            acmeproof_reports::Direction::ClientToServer,
            &from,
            &sent,
        );
        super::deliver::to_mx(self.world, &envelope, &sent)
            .await
            .map_err(StepError::Harness)
    }

    async fn expect_authorization(&mut self, s: &ExpectAuthorizationStep) -> Result<(), StepError> {
        let lowered = s.level.map(|level| match level {
            Lowered::Should => Level::Should,
            Lowered::May => Level::May,
            Lowered::Info => Level::Info,
        });
        let result = self.expect_authorization_at(s).await;
        if let (Some(level), Err(StepError::Expectation(_))) = (lowered, &result)
            && let Some(last) = self.findings.last_mut()
        {
            *last = last.clone().at(level);
        }
        result
    }

    async fn expect_authorization_at(
        &mut self,
        s: &ExpectAuthorizationStep,
    ) -> Result<(), StepError> {
        let url = self.authz_url()?;
        let authz = self
            .client()?
            .poll(&url, &["pending", "processing"], WAIT)
            .await?;
        // The challenge objects it shows are judged with every other object after the step
        // (judge_objects).
        let status = authz["status"].as_str().unwrap_or_default().to_owned();
        // An invalid challenge without `error` is ACME-25's defect (the object judge's
        // finding): there is no error type or detail to hold against the scenario's.
        if status == s.status.as_str()
            && (s.error.is_some() || s.detail.is_some())
            && without_error(&authz)
        {
            return Err(self.invalid_without_error());
        }
        if status != s.status.as_str() {
            return self.fail(expectation(
                &s.req,
                format!("authorization {}", s.status),
                format!("authorization {status} {}", authz["challenges"][0]["error"]),
            ));
        }
        let got = error_type(&authz);
        if let Some(want) = &s.error
            && *want != got
        {
            return self.fail(expectation(
                &s.req,
                format!("error {want}"),
                format!("error {got}"),
            ));
        }
        if let Some(want) = &s.detail {
            let detail = authz["challenges"][0]["error"]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !detail.contains(want.as_str()) {
                return self.fail(expectation(
                    &s.req,
                    format!("an error detail mentioning {want:?}"),
                    detail,
                ));
            }
        }
        Ok(())
    }

    async fn probe(&mut self, s: &ProbeStep) -> Result<(), StepError> {
        let fault: Fault = s.fault;
        let client = self.account("account").await?;
        let answer = probe(client, fault).await?;
        let want_error = s.error.clone().unwrap_or_default();
        let mut failed = None;
        let refused = (400..500).contains(&answer.status);
        if s.any_refusal && !refused {
            failed = Some(expectation(
                &s.req,
                "a refusal (any 4xx)",
                format!("{} {}", answer.status, answer.problem),
            ));
        } else if !s.any_refusal
            && (answer.status != s.status || !one_of(&want_error, &answer.problem))
        {
            failed = Some(expectation(
                &s.req,
                format!("{} {want_error}", s.status),
                format!("{} {}", answer.status, answer.problem),
            ));
        }
        // RFC 8555 §6.5: a fresh nonce on every successful answer to a POST (MUST), on a
        // badNonce error (MUST, §6.5), on other errors (SHOULD).
        if !answer.nonce {
            let mut finding = expectation(
                if answer.problem == "badNonce" {
                    requirements::ACME_4
                } else {
                    requirements::ACME_3
                },
                "a Replay-Nonce header",
                format!("none on the {} answer", answer.status),
            );
            if answer.status >= 400 && answer.problem != "badNonce" {
                finding.level = Level::Should;
            }
            self.findings.push(finding);
        }
        // RFC 8555 §6.7: errors are problem documents. The media type is compared without its
        // parameters (RFC 9110 §8.3.1): `; charset=utf-8` is the same type.
        let media_type = answer
            .content_type
            .as_deref()
            .and_then(|t| t.split(';').next())
            .map(str::trim);
        if answer.status >= 400
            && !media_type.is_some_and(|t| t.eq_ignore_ascii_case("application/problem+json"))
        {
            self.findings.push(expectation(
                requirements::ACME_30,
                "Content-Type application/problem+json",
                format!("{:?}", answer.content_type),
            ));
        }
        match failed {
            Some(finding) => self.fail(finding),
            None => Ok(()),
        }
    }

    async fn finalize(&mut self, s: &FinalizeStep) -> Result<(), StepError> {
        let usage = usage_of(s.usage);
        let (address, _) = self
            .user
            .clone()
            .ok_or_else(|| StepError::Harness("no order yet".into()))?;
        let ordered = self
            .ordered
            .clone()
            .ok_or_else(|| StepError::Harness("no order yet".into()))?;
        let client = self.client()?;
        let order = if s.early {
            ordered.order.clone()
        } else {
            client.poll(&ordered.order_url, &["pending"], WAIT).await?
        };
        let csr_address = s.csr_for.clone().unwrap_or(address.clone());
        let rng = self.seed.stream("scenario csr");
        let (csr, _) = email::smime_csr(&csr_address, usage, &rng)?;
        let finalize = order["finalize"].as_str().unwrap_or_default().to_owned();
        let answer = client.finalize(&finalize, &csr).await;
        if let Err(e) = &answer
            && let Some(stop) = self.broken_answer(e)
        {
            return Err(stop);
        }
        let client = self.client()?;
        match (&s.error, answer) {
            (Some(want), Err(e)) => {
                let got = e.problem_kind().unwrap_or_default().to_owned();
                if one_of(want, &got) {
                    Ok(())
                } else {
                    self.fail(expectation(&s.req, format!("error {want}"), e.to_string()))
                }
            }
            (Some(want), Ok(order)) => self.fail(expectation(
                &s.req,
                format!("error {want}"),
                format!("order {}", order["status"]),
            )),
            (None, Err(e)) => self.fail(expectation(&s.req, "a certificate", e.to_string())),
            (None, Ok(_)) => {
                let order = client
                    .poll(&ordered.order_url, &["processing"], WAIT)
                    .await?;
                let cert = order["certificate"].as_str().unwrap_or_default().to_owned();
                let chain = client.download(&cert).await?;
                match mua::certificate::check_smime(&chain, &address, usage, self.trust_anchors()) {
                    Ok(_) => Ok(()),
                    Err(e) if self.judged_now() => Err(StepError::Expectation(format!(
                        "the certificate (judged as an object): {e}"
                    ))),
                    Err(e) => self.fail(expectation(&s.req, "a conformant certificate", e)),
                }
            }
        }
    }

    async fn new_order(&mut self, s: &NewOrderStep) -> Result<(), StepError> {
        let client = self.account("account").await?;
        let answer = client
            .new_order(&[serde_json::json!({"type": s.kind, "value": s.value})])
            .await;
        if let Err(e) = &answer
            && let Some(stop) = self.broken_answer(e)
        {
            return Err(stop);
        }
        match (&s.error, answer) {
            (None, Ok(_)) => Ok(()),
            (Some(want), Err(e)) if one_of(want, e.problem_kind().unwrap_or_default()) => Ok(()),
            // RFC 8555 §7.4: a server may decline an identifier; against a server under test
            // that is a policy, not a broken rule.
            (None, Err(e)) => {
                let e = FlowError::Acme(e);
                match self.policy_refusal(&e) {
                    Some(policy) => Err(policy),
                    None => self.fail(expectation(&s.req, "an order", e.to_string())),
                }
            }
            (want, answer) => self.fail(expectation(
                &s.req,
                match want {
                    Some(want) => format!("error {want}"),
                    None => "an order".into(),
                },
                match answer {
                    Ok((url, _)) => format!("order {url}"),
                    Err(e) => e.to_string(),
                },
            )),
        }
    }

    async fn directory(&mut self, s: &ReqStep) -> Result<(), StepError> {
        let client = self.account("account").await?;
        let http = client.http().clone();
        let dir_url = self.acme_server().0;
        let answer = http
            .get(&dir_url)
            .send()
            .await
            .map_err(|e| StepError::Harness(e.to_string()))?;
        let body = crate::acme::client::read_bounded(answer).await?;
        let dir: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        // RFC 8555 §7.1.1 and §7.2: each rule decided by its checker, under its own id.
        let mut found = objects_rules::check_directory_object(&dir);
        let nonce_url = dir["newNonce"].as_str().unwrap_or_default().to_owned();
        if !nonce_url.is_empty() {
            for method in [reqwest::Method::HEAD, reqwest::Method::GET] {
                let answer = http
                    .request(method.clone(), &nonce_url)
                    .send()
                    .await
                    .map_err(|e| StepError::Harness(e.to_string()))?;
                let header = |name: &str| {
                    answer
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (nonce, cache) = (header("replay-nonce"), header("cache-control"));
                found.extend(objects_rules::check_new_nonce_answer(
                    &objects_rules::NonceAnswer {
                        method: method.as_str(),
                        status: answer.status().as_u16(),
                        replay_nonce: nonce.as_deref(),
                        cache_control: cache.as_deref(),
                    },
                ));
            }
        }
        let must = found.has_must();
        let summary: Vec<String> = found
            .as_slice()
            .iter()
            .map(|f| format!("{}: {}", f.req, f.observed))
            .collect();
        self.findings.extend(found);
        if must {
            Err(StepError::Expectation(format!(
                "{}: the directory and newNonce as RFC 8555 §7.1.1 and §7.2 say: {}",
                s.req,
                summary.join("; ")
            )))
        } else {
            Ok(())
        }
    }
}

/// The problem type of the authorization's failed challenge, without the URN prefix.
/// Whether `got` is one of the `|`-separated error types of `want` (a scenario may accept
/// several where the RFC allows several, e.g. `rejectedIdentifier|malformed`).
fn one_of(want: &str, got: &str) -> bool {
    let got = short_type(got);
    want.split('|').any(|w| short_type(w) == got)
}

/// Whether the authorization has an invalid challenge that says nothing of why (no `error`).
fn without_error(authz: &Value) -> bool {
    authz["challenges"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["status"] == "invalid" && c.get("error").is_none_or(Value::is_null))
}

fn error_type(authz: &Value) -> String {
    short_type(
        authz["challenges"][0]["error"]["type"]
            .as_str()
            .unwrap_or_default(),
    )
    .to_owned()
}

fn usage_of(usage: Usage) -> SmimeUsage {
    match usage {
        Usage::Both => SmimeUsage::BOTH,
        Usage::Signing => SmimeUsage::SIGNING,
        Usage::Encryption => SmimeUsage::EncryptionOnly,
    }
}
