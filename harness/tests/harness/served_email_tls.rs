//! A CA that issues only the validated SRV-ID — `acmeproof serve` with knob
//! `tls_profile = "srv-only"`: no dNSName, no CN-ID, keyUsage digitalSignature + keyAgreement —
//! driven as a server under test (`--server-url`) through every email-tls scenario. RFC 7817
//! §4 says which identifier types a CA MUST be able to issue, not what each certificate
//! carries, so every scenario that does not test one of acmeproof's own choices (`policy`)
//! must succeed against it: the differences from acmeproof's profile are policy notes.

use std::path::Path;

use acmeproof::scenario::{self, outcome_of};
use acmeproof::sut::Sut;
use acmeproof::sut::server::ServerTarget;
use acmeproof_mocks::world::{World, WorldConfig};
use acmeproof_protocol::email_tls::Service;

use crate::serve::ServeProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_srv_only_ca_passes_every_non_policy_email_tls_scenario() {
    // The tester's world: DNS and mail servers the scenarios publish in.
    let world = World::start(WorldConfig {
        seed: 15,
        ..WorldConfig::example()
    })
    .await
    .expect("world");
    let mail = world.mail.as_ref().expect("mail plane");
    let mut config = format!(
        "[ca]\nresolver = \"{}\"\n[ca.knobs]\ntls_profile = \"srv-only\"\n[ca.connect_ports]\n",
        world.dns.addr()
    );
    for service in Service::ALL {
        if let Some(port) = service.default_port() {
            config.push_str(&format!(
                "\"{port}\" = {}\n",
                mail.service_addr(service).port()
            ));
        }
    }
    let served = ServeProcess::start("srv-only", Some(&config));
    let root_pem = std::fs::read_to_string(served.bundle()).expect("ca.pem");
    // The served CA's root, which it also issues under: every chain is validated up to it.
    let issuing_roots = acmeproof::mua::certificate::pem_chain(&root_pem).expect("root PEM");
    let target = ServerTarget {
        directory_url: served.get("directory_url"),
        root_pem,
        issuing_roots,
        contact: vec!["mailto:alice@example.test".into()],
        email: Err("not under test here".into()),
        ..crate::support::world_ca_under_test(world)
    };
    let sut = Sut::Server(std::sync::Arc::new(target));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/email-tls");
    let scenarios = scenario::load_dir(&dir).expect("scenarios load");
    let (mut ran, mut skipped, mut informational) = (0, 0, 0);
    let mut failures = Vec::new();
    for s in &scenarios {
        let run = scenario::run::run_with(s, s.seed(), &sut).await;
        let outcome = outcome_of(&run, false);
        match outcome.as_str() {
            "skipped" => {
                skipped += 1;
                continue;
            }
            "informational" => informational += 1,
            _ => {}
        }
        ran += 1;
        // A policy scenario is always skipped against a server under test.
        assert!(s.file.policy.is_none(), "{} ran", s.file.id);
        if !outcome.is_success() {
            failures.push(format!(
                "{}: {} {:?} {:?}",
                s.file.id,
                outcome.as_str(),
                run.error,
                run.findings
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Every issued certificate differs from acmeproof's profile: policy notes, not failures.
    assert!(
        ran >= 30 && informational >= 20,
        "{ran} ran, {informational} informational, {skipped} skipped"
    );
}
