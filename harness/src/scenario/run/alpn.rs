//! tls-alpn-01 (RFC 8737) for the `issue-dns` step: the harness's responder on loopback, and the
//! built-in CA told to connect to it instead of port 443.

use acmeproof_mocks::world::World;

use crate::acme::AcmeClient;
use crate::acme::alpn::AlpnResponder;
use crate::acme::flow::{self, FlowError, Issued, Proof};

/// An issuance of `names` proved by tls-alpn-01. RFC 8737 §3: the CA connects to the name's
/// address, port 443, with ALPN "acme-tls/1" and the name as SNI (ACME-38), and the
/// certificate it is shown holds one dNSName and the critical acmeIdentifier (ACME-39).
pub(super) async fn issue(
    world: &World,
    client: &AcmeClient,
    names: &[&str],
) -> Result<Issued, FlowError> {
    let responder = AlpnResponder::start()
        .await
        .map_err(|e| FlowError::Unexpected(e.to_string()))?;
    let shared = world.ca.shared();
    let mut knobs = shared.knobs();
    knobs.tls_alpn01_port = responder.port();
    shared.set_knobs(knobs);
    flow::issue(
        client,
        names,
        Proof::TlsAlpn01(&responder),
        &serde_json::Value::Null,
        super::WAIT,
    )
    .await
}
