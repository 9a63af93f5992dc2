//! The `issue` step with an external client (`--client-cmd`): the world is ready, lookalikes
//! are in the mailbox, the client runs once, and the harness judges what reached the CA.

use acmeproof_reports::{Channel, Direction, TranscriptEntry};

use super::{Context, IssueStep, IssueTlsStep, StepError, expectation};
use crate::scenario::model::{Advert, TlsField};
use acmeproof_protocol::requirements as req;

use crate::sut::client_cmd::{EXIT_UNIMPLEMENTED, Exit, Values};
use crate::sut::client_judge;
use crate::sut::{ClientCommand, asks};

impl Context<'_> {
    pub(super) async fn issue_external(
        &mut self,
        s: &IssueStep,
        cmd: &ClientCommand,
    ) -> Result<(), StepError> {
        let (address, password) = self.user(&s.user)?;
        let (workdir, bundle) = self.fresh_workdir(cmd)?;
        let mut values = self.placeholder_values(&address, &password, &bundle, &workdir)?;
        let asks = asks::asks(s, &self.world.ca.shared().knobs());
        for ask in &asks {
            values.insert(ask.placeholder, ask.value.clone());
        }
        if let Some(mail) = &self.world.mail {
            values.insert("imaps_url", format!("imaps://{}", mail.imaps.addr()));
        }
        // Lookalikes go in once the CA has sent its challenge mail: newer than the order, so
        // a client cannot pass by ignoring what was there before, and older than the real
        // challenge, which still has the relays to cross.
        let run = {
            let client = cmd.run(&values, &workdir);
            let lookalikes = async {
                if s.inject.is_empty() {
                    return Ok(());
                }
                let sent = self
                    .world
                    .ca
                    .wait_until(
                        |store| {
                            store.email.iter().any(|(id, state)| {
                                state.sent_at.is_some()
                                    && store
                                        .challenges
                                        .get(id)
                                        .and_then(|c| store.authzs.get(&c.authz))
                                        .is_some_and(|a| a.identifier.value == address)
                            })
                        },
                        cmd.timeout,
                    )
                    .await;
                if sent {
                    for kind in &s.inject {
                        self.inject(*kind, &address)?;
                    }
                }
                Ok::<(), StepError>(())
            };
            tokio::pin!(client);
            let run = tokio::select! {
                run = &mut client => run,
                injected = lookalikes => {
                    injected?;
                    client.await
                }
            };
            run.map_err(|e| StepError::Harness(e.to_string()))?
        };
        self.after_client(&run)?;
        let ca = self.world.ca.shared();
        if s.expect == crate::scenario::model::IssueExpect::Ignored {
            // The CA's challenge mail broke `req` on purpose: an RFC 8823 client must not
            // answer it (§3.1, SMIME-35), whatever it then reports.
            let req = s.req.as_deref().unwrap_or(req::SMIME_35);
            return match client_judge::posted_before_reply(ca, &address) {
                None => Ok(()),
                Some(_) => self.fail(expectation(
                    req,
                    format!("no reply to a challenge mail that breaks {req} (SMIME-35)"),
                    format!(
                        "a reply reached the CA ({})",
                        client_judge::exchange_summary(ca, &address)
                    ),
                )),
            };
        }
        for f in client_judge::judge_csrs(&ca.history(), &address) {
            self.findings.push(f);
        }
        for f in client_judge::judge_replies(ca, &address).await {
            self.findings.push(f);
        }
        let issued = client_judge::issued(ca, &address);
        let said = client_said(&run, cmd);
        match (issued, said) {
            (true, None) => self.asked_and_done(&asks, &address),
            (true, Some(why)) => Err(StepError::Sut(format!(
                "the CA issued a certificate for {address}, but {why}"
            ))),
            (false, Some(why)) => Err(StepError::Sut(format!(
                "no certificate for {address} ({}); {why}",
                client_judge::exchange_summary(ca, &address)
            ))),
            (false, None) => self.fail(expectation(
                req::SMIME_12,
                format!("a certificate for {address} when the client reports success"),
                format!(
                    "it exited 0, and no order is valid ({})",
                    client_judge::exchange_summary(ca, &address)
                ),
            )),
        }
    }

    /// Whether the client did what the scenario asked of it (`sut::asks`). RFC 8823 leaves
    /// these choices to the client, so one not made is `unimplemented`, not a violation; but
    /// never a pass, since the scenario was not exercised. A client that already broke a MUST
    /// keeps its failure.
    fn asked_and_done(&mut self, asks: &[asks::Ask], address: &str) -> Result<(), StepError> {
        if self.findings.has_must() {
            return Ok(());
        }
        let ca = self.world.ca.shared();
        for ask in asks.iter().filter(|a| !a.default) {
            let done = match ask.placeholder {
                "usage" => client_judge::csr_usage(&ca.history())
                    .map(|u| (u == ask.value, format!("its CSR asks for {u}"))),
                "reply_body" => client_judge::reply_media_type(ca, address).map(|t| {
                    let want = ask.value.replace('-', "/");
                    (t == want, format!("its reply is {t}"))
                }),
                "post" => client_judge::posted_before_reply(ca, address).map(|before| {
                    let order = if before {
                        "before-reply"
                    } else {
                        "after-reply"
                    };
                    (order == ask.value, format!("it POSTed {order}"))
                }),
                "imap_tls" => {
                    let used = self
                        .world
                        .mail
                        .as_ref()
                        .is_some_and(|m| client_judge::logged_in(&m.imaps.transcript()));
                    Some((used, "it never logged in over IMAPS".to_owned()))
                }
                // The CA's choice, told to the client: nothing for the client to show.
                _ => Some((true, String::new())),
            };
            match done {
                Some((true, _)) => {}
                Some((false, what)) => {
                    return Err(StepError::Unimplemented(format!(
                        "the scenario asked the client to {} ({{{}}} = {}); {what}",
                        ask.what, ask.placeholder, ask.value
                    )));
                }
                None => {
                    return Err(StepError::Unimplemented(format!(
                        "the scenario asked the client to {}; nothing shows it did",
                        ask.what
                    )));
                }
            }
        }
        Ok(())
    }

    /// `issue-tls` with an external mail-server operator client: it orders, publishes through
    /// the management API (TXT or the server's ACME capability), POSTs and finalizes; the
    /// harness judges its requests, its CSR and the certificate.
    pub(super) async fn issue_tls_external(
        &mut self,
        s: &IssueTlsStep,
        cmd: &ClientCommand,
    ) -> Result<(), StepError> {
        let (workdir, bundle) = self.fresh_workdir(cmd)?;
        let (address, password) = self.user("alice")?;
        let mut values = self.placeholder_values(&address, &password, &bundle, &workdir)?;
        values.insert("domain", s.domain.clone());
        let closed = self.world.closed_port().to_string();
        let services: Vec<String> = s
            .services
            .iter()
            .map(|t| t.replace(":closed", &format!(":{closed}")))
            .collect();
        values.insert("services", services.join(","));
        values.insert("proof", s.proof.as_str().to_owned());
        values.insert("management_url", self.world.management_url());
        let run = cmd
            .run(&values, &workdir)
            .await
            .map_err(|e| StepError::Harness(e.to_string()))?;
        self.after_client(&run)?;
        let ca = self.world.ca.shared();
        // Every draft version's Figure 1 puts service/port in the challenge POST, -05 in its
        // payload: that payload is the draft's, not an ACME-24 deviation from RFC 8555's `{}`.
        self.findings.0.retain(|f| {
            f.req != acmeproof_protocol::requirements::ACME_24
                || !client_judge::draft_challenge_payload(&f.observed)
        });
        for f in client_judge::judge_service_fields(ca, &s.domain) {
            self.findings.push(f);
        }
        for f in client_judge::judge_failed_challenges(ca, &s.domain) {
            self.findings.push(f);
        }
        let said = client_said(&run, cmd);
        match (client_judge::issued_chain(ca, &s.domain), said) {
            (Some(chain), said) => {
                let validated = client_judge::validated_services(ca, &s.domain);
                let findings = crate::acme::email_tls::check_server_certificate(
                    &chain,
                    &s.domain,
                    &validated,
                    Some(self.world.pki.root_der()),
                );
                self.certificate_findings(findings)?;
                match said {
                    None => Ok(()),
                    Some(why) => Err(StepError::Sut(format!(
                        "the CA issued a certificate for {}, but {why}",
                        s.domain
                    ))),
                }
            }
            (None, Some(why)) => Err(StepError::Sut(format!(
                "no certificate for {}; {why}",
                s.domain
            ))),
            (None, None) => self.fail(expectation(
                &s.req,
                format!(
                    "a certificate for {} when the client reports success",
                    s.domain
                ),
                "it exited 0, and no order is valid",
            )),
        }
    }

    /// A new, empty work folder for this scenario, with the world's root in `ca.pem`.
    fn fresh_workdir(
        &self,
        cmd: &ClientCommand,
    ) -> Result<(std::path::PathBuf, std::path::PathBuf), StepError> {
        let workdir = cmd.work_root.join(folder_name(self.scenario_id));
        let _ = std::fs::remove_dir_all(&workdir);
        std::fs::create_dir_all(&workdir)
            .map_err(|e| StepError::Harness(format!("cannot make {}: {e}", workdir.display())))?;
        let bundle = workdir.join("ca.pem");
        self.world
            .write_bundle(&bundle)
            .map_err(|e| StepError::Harness(e.to_string()))?;
        Ok((workdir, bundle))
    }

    /// Records what the client printed; exit 89 ends the scenario as unimplemented; then
    /// every request the CA refused is a finding.
    fn after_client(&mut self, run: &crate::sut::client_cmd::ClientRun) -> Result<(), StepError> {
        self.record_process(run);
        if run.exit == Exit::Code(EXIT_UNIMPLEMENTED) {
            return Err(StepError::Unimplemented(format!(
                "the client exited {EXIT_UNIMPLEMENTED} (unimplemented): {}",
                run.last_words()
            )));
        }
        for f in client_judge::judge_requests(&self.world.ca.shared().history()) {
            self.findings.push(f);
        }
        Ok(())
    }

    fn placeholder_values(
        &self,
        address: &str,
        password: &str,
        bundle: &std::path::Path,
        workdir: &std::path::Path,
    ) -> Result<Values, StepError> {
        let mail = self
            .world
            .mail
            .as_ref()
            .ok_or_else(|| StepError::Harness("the world has no mail plane".into()))?;
        let relay = mail
            .relays
            .first()
            .map(|(_, server, _)| server.addr())
            .unwrap_or_else(|| mail.mx.addr());
        let mut v = Values::new();
        v.insert("directory_url", self.world.ca.directory_url());
        v.insert("ca_bundle", bundle.display().to_string());
        v.insert("email", address.to_owned());
        v.insert(
            "domain",
            acmeproof_protocol::address::domain_of(address)
                .unwrap_or("")
                .into(),
        );
        v.insert("imap_url", format!("imap://{}", mail.imap.addr()));
        v.insert("smtp_url", format!("smtp://{relay}"));
        v.insert(
            "submission_url",
            format!("smtp://{}", mail.submission.addr()),
        );
        v.insert("lmtp_url", format!("lmtp://{}", mail.lmtp.addr()));
        v.insert("dns_addr", self.world.dns.addr().to_string());
        v.insert("user", address.to_owned());
        v.insert("password", password.to_owned());
        v.insert("workdir", workdir.display().to_string());
        Ok(v)
    }

    /// The command line and what the client printed, as transcript entries.
    fn record_process(&mut self, run: &crate::sut::client_cmd::ClientRun) {
        // seq and at_ms are set when the world's transcript is gathered: these go last.
        let mut push = |endpoint: &str, direction: Direction, text: String| {
            if text.trim().is_empty() {
                return;
            }
            self.process.push(TranscriptEntry {
                seq: 0,
                at_ms: 0,
                channel: Channel::Process,
                direction,
                conn: None,
                endpoint: endpoint.to_owned(),
                text,
            });
        };
        push(
            "argv",
            Direction::ServerToClient,
            shlex::try_join(run.argv.iter().map(String::as_str))
                .unwrap_or_else(|_| run.argv.join(" ")),
        );
        push("stdout", Direction::ClientToServer, run.stdout.clone());
        push("stderr", Direction::ClientToServer, run.stderr.clone());
        push("exit", Direction::ClientToServer, format!("{:?}", run.exit));
    }
}

/// A folder name for a scenario id (`rfc8823/3.2/x` → `rfc8823_3.2_x`).
fn folder_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The reference operator's variant fields a step sets, if any: such a step is about that
/// variant of the reference client, not about an external one.
pub(super) fn tls_variant_fields(s: &IssueTlsStep) -> Option<&'static str> {
    if s.field != TlsField::ChallengePayload {
        Some("field")
    } else if s.service_port_in_hash {
        Some("service_port_in_hash")
    } else if s.repeat_in_challenge {
        Some("repeat_in_challenge")
    } else if s.advert != Advert::Always {
        Some("advert")
    } else {
        None
    }
}

/// The client's own account of its run: a crash, a timeout or a non-zero exit is the client's
/// error, with its last words, not a rule of the RFCs (`None`: it exited 0).
fn client_said(run: &crate::sut::client_cmd::ClientRun, cmd: &ClientCommand) -> Option<String> {
    match &run.exit {
        Exit::Code(0) => None,
        Exit::Code(n) => Some(format!("it exited {n}: {}", run.last_words())),
        Exit::Signal => Some(format!("a signal ended it: {}", run.last_words())),
        Exit::TimedOut => Some(format!(
            "it was still running after {} s and was killed: {}",
            cmd.timeout.as_secs(),
            run.last_words()
        )),
    }
}
